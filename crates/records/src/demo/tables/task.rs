//! The `task` columns every task class starts with, and the plain tasks.
//!
//! A child class builds its rows with [`TaskCols`], so its first columns are
//! the task columns, in the same order with the same types, by construction.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{
    self, DAY, HOUR, Life, Pace, Phase, SysCols, SysRow, secs, sys_fields, timestamp, utf8,
};
use crate::demo::directory::Directory;
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::{Fill, w, write_datetime};
use crate::demo::vocab;
use crate::demo::world::{FIRST_NUMBER, Table, World};

/// `sys_*` columns, then the task columns.
pub(crate) fn task_fields() -> Vec<Field> {
    let int = |name: &str| Field::new(name, DataType::Int32, false);
    let ts = |name: &str, nullable: bool| Field::new(name, timestamp(), nullable);
    let mut f = sys_fields();
    f.extend([
        utf8("number", false),
        utf8("short_description", false),
        utf8("description", false),
        int("state"),
        int("priority"),
        int("impact"),
        int("urgency"),
        Field::new("active", DataType::Boolean, false),
        utf8("assignment_group", true),
        utf8("assigned_to", true),
        utf8("opened_by", false),
        ts("opened_at", false),
        ts("closed_at", true),
        ts("due_date", true),
        int("reassignment_count"),
        utf8("cmdb_ci", true),
        utf8("work_notes", true),
    ]);
    f
}

/// The task-level facts of one record.
pub(crate) struct TaskRow {
    pub index: u64,
    pub life: Life,
    pub state: i32,
    pub impact: i32,
    pub urgency: i32,
    pub group: Option<usize>,
    pub assigned_to: Option<u32>,
    pub opened_by: u32,
    pub due_date: Option<i64>,
    pub reassignment_count: i32,
    pub cmdb_ci: Option<u64>,
}

/// Builders of the task columns. The class fills `short_description` and
/// `description` itself (one value per row, written in place), then calls
/// [`TaskCols::append`].
pub(crate) struct TaskCols {
    sys: SysCols,
    prefix: &'static str,
    notes: &'static [&'static str],
    number: StringBuilder,
    pub short_description: StringBuilder,
    pub description: StringBuilder,
    state: Int32Builder,
    priority: Int32Builder,
    impact: Int32Builder,
    urgency: Int32Builder,
    active: BooleanBuilder,
    assignment_group: StringBuilder,
    assigned_to: StringBuilder,
    opened_by: StringBuilder,
    opened_at: TimestampMicrosecondBuilder,
    closed_at: TimestampMicrosecondBuilder,
    due_date: TimestampMicrosecondBuilder,
    reassignment_count: Int32Builder,
    cmdb_ci: StringBuilder,
    work_notes: StringBuilder,
}

impl TaskCols {
    pub(crate) fn new(table: Table, rows: usize) -> TaskCols {
        let s = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        TaskCols {
            sys: SysCols::new(table.name(), rows),
            prefix: table.number_prefix().expect("a task class has numbers"),
            notes: if table == Table::HrCase {
                &vocab::HR_NOTES
            } else {
                &vocab::WORK_NOTES
            },
            number: s(12),
            short_description: s(48),
            description: s(240),
            state: Int32Builder::with_capacity(rows),
            priority: Int32Builder::with_capacity(rows),
            impact: Int32Builder::with_capacity(rows),
            urgency: Int32Builder::with_capacity(rows),
            active: BooleanBuilder::with_capacity(rows),
            assignment_group: s(32),
            assigned_to: s(32),
            opened_by: s(32),
            opened_at: TimestampMicrosecondBuilder::with_capacity(rows),
            closed_at: TimestampMicrosecondBuilder::with_capacity(rows),
            due_date: TimestampMicrosecondBuilder::with_capacity(rows),
            reassignment_count: Int32Builder::with_capacity(rows),
            cmdb_ci: s(32),
            work_notes: s(160),
        }
    }

    /// Appends everything but the two descriptions; writes the work notes.
    pub(crate) fn append(
        &mut self,
        world: &World,
        table: Table,
        r: &mut Rng,
        fill: &Fill,
        t: &TaskRow,
    ) {
        let dir = &world.dir;
        let notes = self.work_notes(dir, r, fill, t);
        let worker = t.assigned_to.unwrap_or(t.opened_by);
        let mod_count =
            1 + notes + t.reassignment_count + 2 * i32::from(!t.life.active()) + r.below(3) as i32;
        self.sys.append(SysRow {
            id: world.id(table, t.index),
            created_on: t.life.opened_at,
            updated_on: t.life.updated_at,
            created_by: dir.user_name(t.opened_by),
            updated_by: dir.user_name(worker),
            mod_count,
        });
        w(write!(
            self.number,
            "{}{:07}",
            self.prefix,
            FIRST_NUMBER + t.index
        ));
        self.number.append_value("");
        self.state.append_value(t.state);
        self.priority
            .append_value(common::priority(t.impact, t.urgency));
        self.impact.append_value(t.impact);
        self.urgency.append_value(t.urgency);
        self.active.append_value(t.life.active());
        self.assignment_group.append_option(
            t.group
                .map(|g| world.group_id(g))
                .as_ref()
                .map(|id| id.as_str()),
        );
        self.assigned_to.append_option(
            t.assigned_to
                .map(|u| world.user_id(u))
                .as_ref()
                .map(|id| id.as_str()),
        );
        self.opened_by
            .append_value(world.user_id(t.opened_by).as_str());
        self.opened_at.append_value(secs(t.life.opened_at));
        self.closed_at.append_option(t.life.closed_at.map(secs));
        self.due_date.append_option(t.due_date.map(secs));
        self.reassignment_count.append_value(t.reassignment_count);
        self.cmdb_ci.append_option(
            t.cmdb_ci
                .map(|c| world.id(Table::CmdbCi, c))
                .as_ref()
                .map(|id| id.as_str()),
        );
    }

    /// Journal entries between opening and the last update, newest first as
    /// the platform shows them; none on records nobody picked up. Returns
    /// how many.
    fn work_notes(&mut self, dir: &Directory, r: &mut Rng, fill: &Fill, t: &TaskRow) -> i32 {
        let count = match t.life.phase {
            Phase::Open { fresh: true } => 0,
            Phase::Canceled => r.below(2) as i32,
            _ => r.weighted(&[(0, 20), (1, 40), (2, 28), (3, 12)]),
        };
        if count == 0 {
            self.work_notes.append_null();
            return 0;
        }
        let author = t.assigned_to.unwrap_or(t.opened_by);
        let span = (t.life.updated_at - t.life.opened_at).max(1) as u64;
        let mut at = t.life.updated_at;
        for k in 0..count {
            if k > 0 {
                w(self.work_notes.write_str("\n\n"));
                at -= r.below(span / 4 + 1) as i64;
            }
            write_datetime(&mut self.work_notes, at.max(t.life.opened_at));
            w(writeln!(
                self.work_notes,
                " - {} (Work notes)",
                dir.user_name(author)
            ));
            fill.render(&mut self.work_notes, r.pick(self.notes));
        }
        self.work_notes.append_value("");
        count
    }

    pub(crate) fn finish(mut self, out: &mut Vec<ArrayRef>) {
        self.sys.finish(out);
        out.push(Arc::new(self.number.finish()));
        out.push(Arc::new(self.short_description.finish()));
        out.push(Arc::new(self.description.finish()));
        out.push(Arc::new(self.state.finish()));
        out.push(Arc::new(self.priority.finish()));
        out.push(Arc::new(self.impact.finish()));
        out.push(Arc::new(self.urgency.finish()));
        out.push(Arc::new(self.active.finish()));
        out.push(Arc::new(self.assignment_group.finish()));
        out.push(Arc::new(self.assigned_to.finish()));
        out.push(Arc::new(self.opened_by.finish()));
        out.push(Arc::new(self.opened_at.finish()));
        out.push(Arc::new(self.closed_at.finish()));
        out.push(Arc::new(self.due_date.finish()));
        out.push(Arc::new(self.reassignment_count.finish()));
        out.push(Arc::new(self.cmdb_ci.finish()));
        out.push(Arc::new(self.work_notes.finish()));
    }
}

/// Who works a record of `group`: nobody yet on most fresh records; now
/// and then `svc_desk` itself on its own groups' work, so that conditions on
/// `assigned_to` select something; otherwise a member of the group.
pub(crate) fn assignee(
    world: &World,
    r: &mut Rng,
    group: Option<usize>,
    life: &Life,
) -> Option<u32> {
    let group = group?;
    let unassigned = match life.phase {
        Phase::Open { fresh: true } => 0.7,
        _ => 0.04,
    };
    if r.chance(unassigned) {
        return None;
    }
    let desk = Directory::account("svc_desk");
    let desk_groups = &crate::demo::identities::SERVICE_ACCOUNTS[desk as usize].groups;
    if r.chance(0.05) && desk_groups.iter().any(|g| group_index(g) == group) {
        return Some(desk);
    }
    Some(world.dir.member(r, group))
}

pub(crate) fn reassignments(r: &mut Rng) -> i32 {
    r.weighted(&[(0, 70), (1, 20), (2, 7), (3, 2), (4, 1)])
}

/// A configuration item, for a share `p` of records.
pub(crate) fn some_ci(world: &World, r: &mut Rng, p: f64) -> Option<u64> {
    r.chance(p).then(|| r.below(world.rows(Table::CmdbCi)))
}

const TASK_PACE: Pace = Pace {
    median: 2 * DAY,
    sigma: 1.0,
    close_after: (0, 0),
    cancel: 0.05,
    stale: 0.01,
};

/// Rows `start..start+len` of `task` (the plain tasks).
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::Task;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let mut cols = TaskCols::new(table, len);
    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (short, group_name) = r.pick(&vocab::TASKS);
        let group = group_index(group_name);
        let fill = Fill::draw(r, group_name);
        let opened = common::opened_at(r, index, rows);
        let life = common::live(r, opened, &TASK_PACE);
        let state = match life.phase {
            Phase::Open { fresh: true } => 1,
            Phase::Open { fresh: false } => r.weighted(&[(2, 80), (-5, 20)]),
            Phase::Resolved | Phase::Closed => r.weighted(&[(3, 88), (4, 8), (7, 4)]),
            Phase::Canceled => 4,
        };
        let opened_by = if r.chance(0.7) {
            world.dir.person(r)
        } else {
            world.dir.member(r, group)
        };
        let row = TaskRow {
            index,
            state,
            impact: common::level(r),
            urgency: common::level(r),
            group: Some(group),
            assigned_to: assignee(world, r, Some(group), &life),
            opened_by,
            due_date: r
                .chance(0.7)
                .then(|| life.opened_at + r.range(5 * DAY, 30 * DAY)),
            reassignment_count: reassignments(r),
            cmdb_ci: some_ci(world, r, 0.3),
            life,
        };
        fill.render(&mut cols.short_description, short);
        cols.short_description.append_value("");
        let count = 1 + r.below(3) as usize;
        fill.sentences(
            &mut cols.description,
            r,
            &vocab::TASK_SENTENCES,
            count,
            " ",
            true,
        );
        cols.description.append_value("");
        cols.append(world, table, r, &fill, &row);
    }
    let mut out = Vec::new();
    cols.finish(&mut out);
    out
}

/// Due dates by priority, as service levels would set them.
pub(crate) fn sla(priority: i32) -> i64 {
    match priority {
        1 => 4 * HOUR,
        2 => 8 * HOUR,
        3 => 3 * DAY,
        4 => 5 * DAY,
        _ => 10 * DAY,
    }
}
