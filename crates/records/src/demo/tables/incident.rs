//! `incident`: the task columns, then what the Service Desk records about an
//! interruption.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, HOUR, MICROS_PER_SEC, Pace, Phase, timestamp, utf8};
use super::task::{self, TaskCols, TaskRow};
use crate::demo::directory::Directory;
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::Fill;
use crate::demo::vocab::{self, TOPICS};
use crate::demo::world::{Table, World};

pub(crate) fn fields() -> Vec<Field> {
    let mut f = task::task_fields();
    f.extend([
        utf8("category", false),
        utf8("subcategory", false),
        utf8("caller_id", false),
        Field::new("severity", DataType::Int32, false),
        Field::new("resolved_at", timestamp(), true),
        utf8("close_code", true),
        utf8("close_notes", true),
        Field::new("business_duration", DataType::Int64, true),
    ]);
    f
}

const PACE: Pace = Pace {
    median: 20 * HOUR,
    sigma: 1.3,
    close_after: (3 * DAY, 7 * DAY),
    cancel: 0.03,
    stale: 0.008,
};

/// Rows `start..start+len` of `incident`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::Incident;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let desk = group_index("Service Desk");
    let topic_weights: Vec<(usize, u32)> = TOPICS
        .iter()
        .enumerate()
        .map(|(i, t)| (i, t.weight))
        .collect();

    let mut cols = TaskCols::new(table, len);
    let s = |per_row: usize| StringBuilder::with_capacity(len, len * per_row);
    let mut category = s(8);
    let mut subcategory = s(10);
    let mut caller_id = s(32);
    let mut severity = Int32Builder::with_capacity(len);
    let mut resolved_at = TimestampMicrosecondBuilder::with_capacity(len);
    let mut close_code = s(20);
    let mut close_notes = s(80);
    let mut business_duration = Int64Builder::with_capacity(len);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let topic = &TOPICS[r.weighted(&topic_weights)];
        let fixer = group_index(topic.group);
        // Most incidents stay with the Service Desk; the rest go to the
        // team that owns the topic; a few new ones are not routed yet.
        let group = match r.below(100) {
            0..=2 => None,
            3..=47 => Some(desk),
            _ => Some(fixer),
        };
        let fill = Fill::draw(r, topic.group);
        let opened = common::opened_at(r, index, rows);
        let impact = common::level(r);
        let urgency = common::level(r);
        let priority = common::priority(impact, urgency);
        let mut pace = PACE;
        if priority <= 2 {
            pace.median = 4 * HOUR;
        }
        let life = common::live(r, opened, &pace);
        let state = match life.phase {
            Phase::Open { fresh: true } => 1,
            Phase::Open { fresh: false } => r.weighted(&[(2, 80), (3, 20)]),
            Phase::Resolved => 6,
            Phase::Closed => 7,
            Phase::Canceled => 8,
        };
        let caller = world.dir.person(r);
        let opened_by = match r.below(100) {
            0..=59 => caller,
            60..=94 => world.dir.member(r, desk),
            _ => Directory::account("svc_desk"),
        };
        let row = TaskRow {
            index,
            state,
            impact,
            urgency,
            group,
            assigned_to: task::assignee(world, r, group, &life),
            opened_by,
            due_date: r.chance(0.5).then(|| opened + task::sla(priority)),
            reassignment_count: task::reassignments(r),
            cmdb_ci: task::some_ci(world, r, 0.6),
            life,
        };

        fill.render(&mut cols.short_description, r.pick(topic.short));
        cols.short_description.append_value("");
        fill.render(&mut cols.description, r.pick(topic.detail));
        let more = r.below(3) as usize;
        fill.sentences(
            &mut cols.description,
            r,
            &vocab::CALLER_SENTENCES,
            more,
            " ",
            false,
        );
        cols.description.append_value("");
        cols.append(world, table, r, &fill, &row);

        category.append_value(topic.category);
        subcategory.append_value(topic.subcategory);
        caller_id.append_value(world.user_id(caller).as_str());
        severity.append_value(match priority {
            1 => 1,
            2 => 2,
            _ => r.weighted(&[(2, 10), (3, 90)]),
        });
        resolved_at.append_option(life.resolved_at.map(common::secs));
        if life.is_done() {
            close_code.append_value(r.weighted(&vocab::CLOSE_CODES));
            fill.render(&mut close_notes, r.pick(topic.fix));
            close_notes.append_value("");
        } else {
            close_code.append_null();
            close_notes.append_null();
        }
        // Business hours are about a quarter of the calendar.
        business_duration.append_option(
            life.resolved_at
                .map(|at| (at - opened) / MICROS_PER_SEC * (20 + r.below(10) as i64) / 100),
        );
    }

    let mut out = Vec::with_capacity(fields().len());
    cols.finish(&mut out);
    out.push(Arc::new(category.finish()));
    out.push(Arc::new(subcategory.finish()));
    out.push(Arc::new(caller_id.finish()));
    out.push(Arc::new(severity.finish()));
    out.push(Arc::new(resolved_at.finish()));
    out.push(Arc::new(close_code.finish()));
    out.push(Arc::new(close_notes.finish()));
    out.push(Arc::new(business_duration.finish()));
    out
}
