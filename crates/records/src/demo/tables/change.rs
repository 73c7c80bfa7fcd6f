//! `change_request`: the task columns, then planning and approval.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, HOUR, Life, NOW, Phase, timestamp, utf8};
use super::task::{self, TaskCols, TaskRow};
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::Fill;
use crate::demo::vocab;
use crate::demo::world::{Table, World};

pub(crate) fn fields() -> Vec<Field> {
    let mut f = task::task_fields();
    f.extend([
        utf8("type", false),
        Field::new("risk", DataType::Int32, false),
        Field::new("start_date", timestamp(), false),
        Field::new("end_date", timestamp(), false),
        Field::new("cab_required", DataType::Boolean, false),
        utf8("approval", false),
    ]);
    f
}

/// Rows `start..start+len` of `change_request`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::ChangeRequest;
    let rows = world.rows(table);
    let seed = world.row_seed(table);

    let mut cols = TaskCols::new(table, len);
    let mut kind = StringBuilder::with_capacity(len, len * 8);
    let mut risk = Int32Builder::with_capacity(len);
    let mut start_date = TimestampMicrosecondBuilder::with_capacity(len);
    let mut end_date = TimestampMicrosecondBuilder::with_capacity(len);
    let mut cab_required = BooleanBuilder::with_capacity(len);
    let mut approval = StringBuilder::with_capacity(len, len * 10);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (short, owner, usual) = r.pick(&vocab::CHANGES);
        let group = group_index(owner);
        let fill = Fill::draw(r, owner);
        let this_kind = if r.chance(0.85) {
            usual
        } else {
            r.pick(&["normal", "standard"])
        };
        let opened = common::opened_at(r, index, rows);
        let lead = match this_kind {
            "emergency" => r.range(HOUR, 12 * HOUR),
            "standard" => r.range(DAY, 5 * DAY),
            _ => r.range(3 * DAY, 21 * DAY),
        };
        let planned_start = opened + lead;
        let planned_end = planned_start + r.range(HOUR, 8 * HOUR);
        let this_risk = match this_kind {
            "emergency" => r.weighted(&[(2, 60), (3, 40)]),
            "standard" => 4,
            _ => r.weighted(&[(2, 15), (3, 45), (4, 40)]),
        };
        let cab = this_kind == "emergency" || (this_kind == "normal" && this_risk <= 3);
        let (life, state) = plan(r, opened, planned_start, planned_end);
        let approval_state = match state {
            -5 | -4 => "not requested",
            -3 => "requested",
            4 if cab && r.chance(0.5) => "rejected",
            4 => "not requested",
            _ => "approved",
        };
        let impact = r.weighted(&[(1, 10), (2, 40), (3, 50)]);
        let row = TaskRow {
            index,
            state,
            impact,
            urgency: if this_kind == "emergency" {
                1
            } else {
                common::level(r)
            },
            group: Some(group),
            assigned_to: task::assignee(world, r, Some(group), &life),
            opened_by: world.dir.member(r, group),
            due_date: Some(planned_end),
            reassignment_count: task::reassignments(r),
            cmdb_ci: task::some_ci(world, r, 0.8),
            life,
        };

        fill.render(&mut cols.short_description, short);
        cols.short_description.append_value("");
        let more = 2 + r.below(3) as usize;
        fill.sentences(
            &mut cols.description,
            r,
            &vocab::CHANGE_SENTENCES,
            more,
            " ",
            true,
        );
        cols.description.append_value("");
        cols.append(world, table, r, &fill, &row);

        kind.append_value(this_kind);
        risk.append_value(this_risk);
        start_date.append_value(common::secs(planned_start));
        end_date.append_value(common::secs(planned_end));
        cab_required.append_value(cab);
        approval.append_value(approval_state);
    }

    let mut out = Vec::new();
    cols.finish(&mut out);
    out.push(Arc::new(kind.finish()));
    out.push(Arc::new(risk.finish()));
    out.push(Arc::new(start_date.finish()));
    out.push(Arc::new(end_date.finish()));
    out.push(Arc::new(cab_required.finish()));
    out.push(Arc::new(approval.finish()));
    out
}

/// A change's life around its window, and its state code: New -5, Assess
/// -4, Authorize -3, Scheduled -2, Implement -1, Review 0, Closed 3,
/// Canceled 4.
fn plan(r: &mut Rng, opened: i64, start: i64, end: i64) -> (Life, i32) {
    if r.chance(0.05) {
        let at = (opened + (start - opened) / 2).min(NOW - 1);
        let life = Life {
            phase: Phase::Canceled,
            opened_at: opened,
            resolved_at: None,
            closed_at: Some(at),
            updated_at: at,
        };
        return (life, 4);
    }
    let reviewed = end + r.range(HOUR, 2 * DAY);
    let closed = reviewed + r.range(DAY, 5 * DAY);
    let open = |fresh, updated_at| Life {
        phase: Phase::Open { fresh },
        opened_at: opened,
        resolved_at: None,
        closed_at: None,
        updated_at,
    };
    if NOW < start {
        let fresh = NOW - opened < (start - opened) / 4;
        let state = if fresh {
            -5
        } else {
            r.weighted(&[(-4, 30), (-3, 30), (-2, 40)])
        };
        return (
            open(fresh, if fresh { opened } else { (opened + NOW) / 2 }),
            state,
        );
    }
    if NOW < reviewed {
        return (open(false, start), -1);
    }
    if NOW < closed {
        let life = Life {
            phase: Phase::Resolved,
            opened_at: opened,
            resolved_at: Some(reviewed),
            closed_at: None,
            updated_at: reviewed,
        };
        return (life, 0);
    }
    let life = Life {
        phase: Phase::Closed,
        opened_at: opened,
        resolved_at: Some(reviewed),
        closed_at: Some(closed),
        updated_at: closed,
    };
    (life, 3)
}
