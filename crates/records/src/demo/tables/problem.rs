//! `problem`: the task columns, then root cause and fix.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, Pace, Phase, utf8};
use super::task::{self, TaskCols, TaskRow};
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::Fill;
use crate::demo::vocab;
use crate::demo::world::{Table, World};

pub(crate) fn fields() -> Vec<Field> {
    let mut f = task::task_fields();
    f.extend([
        Field::new("known_error", DataType::Boolean, false),
        utf8("root_cause", true),
        utf8("fix_notes", true),
    ]);
    f
}

const PACE: Pace = Pace {
    median: 21 * DAY,
    sigma: 1.0,
    close_after: (2 * DAY, 20 * DAY),
    cancel: 0.06,
    stale: 0.04,
};

/// Rows `start..start+len` of `problem`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::Problem;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let problem_management = group_index("Problem Management");

    let mut cols = TaskCols::new(table, len);
    let mut known_error = BooleanBuilder::with_capacity(len);
    let mut root_cause = StringBuilder::with_capacity(len, len * 80);
    let mut fix_notes = StringBuilder::with_capacity(len, len * 60);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (short, owner, cause, fix) = r.pick(&vocab::PROBLEMS);
        let group = if r.chance(0.3) {
            problem_management
        } else {
            group_index(owner)
        };
        let fill = Fill::draw(r, owner);
        let opened = common::opened_at(r, index, rows);
        let life = common::live(r, opened, &PACE);
        // New, Assess, Root Cause Analysis, Fix in Progress, Resolved, Closed.
        let state = match life.phase {
            Phase::Open { fresh: true } => 101,
            Phase::Open { fresh: false } => r.weighted(&[(102, 30), (103, 40), (104, 30)]),
            Phase::Resolved => 106,
            Phase::Closed | Phase::Canceled => 107,
        };
        let analysed = state >= 103 && life.phase != Phase::Canceled;
        let row = TaskRow {
            index,
            state,
            impact: r.weighted(&[(1, 20), (2, 50), (3, 30)]),
            urgency: r.weighted(&[(1, 15), (2, 45), (3, 40)]),
            group: Some(group),
            assigned_to: task::assignee(world, r, Some(group), &life),
            opened_by: world.dir.member(r, problem_management),
            due_date: r
                .chance(0.4)
                .then(|| life.opened_at + r.range(30 * DAY, 90 * DAY)),
            reassignment_count: task::reassignments(r),
            cmdb_ci: task::some_ci(world, r, 0.7),
            life,
        };

        fill.render(&mut cols.short_description, short);
        cols.short_description.append_value("");
        let count = 1 + r.below(3) as usize;
        fill.sentences(
            &mut cols.description,
            r,
            &vocab::PROBLEM_SENTENCES,
            count,
            " ",
            true,
        );
        cols.description.append_value("");
        cols.append(world, table, r, &fill, &row);

        known_error.append_value(analysed && r.chance(0.4));
        if analysed {
            fill.render(&mut root_cause, cause);
            root_cause.append_value("");
        } else {
            root_cause.append_null();
        }
        if life.is_done() {
            fill.render(&mut fix_notes, fix);
            fix_notes.append_value("");
        } else {
            fix_notes.append_null();
        }
    }

    let mut out = Vec::new();
    cols.finish(&mut out);
    out.push(Arc::new(known_error.finish()));
    out.push(Arc::new(root_cause.finish()));
    out.push(Arc::new(fix_notes.finish()));
    out
}
