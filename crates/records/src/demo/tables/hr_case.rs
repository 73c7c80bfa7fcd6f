//! `sn_hr_core_case`: the task columns, then the employee the case is about,
//! including the sensitive `salary`.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, HOUR, Pace, Phase, utf8};
use super::task::{self, TaskCols, TaskRow};
use crate::demo::identities::group_index;
use crate::demo::rng::{self, Rng};
use crate::demo::text::{Fill, w};
use crate::demo::vocab;
use crate::demo::world::{Table, World};

pub(crate) const SALARY_PRECISION: u8 = 12;
pub(crate) const SALARY_SCALE: i8 = 2;

pub(crate) fn fields() -> Vec<Field> {
    let mut f = task::task_fields();
    f.extend([
        utf8("subject_person", false),
        utf8("hr_service", false),
        Field::new(
            "salary",
            DataType::Decimal128(SALARY_PRECISION, SALARY_SCALE),
            true,
        ),
        utf8("employee_number", false),
    ]);
    f
}

const PACE: Pace = Pace {
    median: 3 * DAY,
    sigma: 1.0,
    close_after: (0, 0),
    cancel: 0.04,
    stale: 0.005,
};

/// A person's yearly salary in cents: the same on all their cases.
fn salary_cents(person: u32) -> i128 {
    let r = &mut Rng::for_record(rng::seed("salary"), u64::from(person));
    let dollars = r.log_normal(72_000.0, 0.35).clamp(28_000.0, 450_000.0) as i128;
    dollars / 50 * 50 * 100
}

/// Rows `start..start+len` of `sn_hr_core_case`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::HrCase;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let tier1 = group_index("HR Tier 1");

    let mut cols = TaskCols::new(table, len);
    let mut subject_person = StringBuilder::with_capacity(len, len * 32);
    let mut hr_service = StringBuilder::with_capacity(len, len * 16);
    let mut salary = Decimal128Builder::with_capacity(len);
    let mut employee_number = StringBuilder::with_capacity(len, len * 9);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (service, owner, shorts) = r.pick(&vocab::HR_SERVICES);
        let group = group_index(owner);
        let fill = Fill::draw(r, owner);
        let opened = common::opened_at(r, index, rows);
        let life = common::live(r, opened, &PACE);
        // Ready 10, Work in Progress 18, Awaiting Approval 20, Suspended 24,
        // Closed Complete 3, Closed Incomplete 4, Cancelled 7.
        let state = match life.phase {
            Phase::Open { fresh: true } => 10,
            Phase::Open { fresh: false } => r.weighted(&[(18, 70), (20, 20), (24, 10)]),
            Phase::Resolved | Phase::Closed => r.weighted(&[(3, 92), (4, 8)]),
            Phase::Canceled => 7,
        };
        let subject = world.dir.person(r);
        let row = TaskRow {
            index,
            state,
            impact: 3,
            urgency: r.weighted(&[(2, 25), (3, 75)]),
            group: Some(group),
            assigned_to: task::assignee(world, r, Some(group), &life),
            opened_by: if r.chance(0.6) {
                subject
            } else {
                world.dir.member(r, tier1)
            },
            due_date: Some(life.opened_at + r.range(2 * DAY, 10 * DAY) + r.range(0, 8 * HOUR)),
            reassignment_count: task::reassignments(r),
            cmdb_ci: None,
            life,
        };

        fill.render(&mut cols.short_description, r.pick(shorts));
        cols.short_description.append_value("");
        let more = 1 + r.below(3) as usize;
        fill.sentences(
            &mut cols.description,
            r,
            &vocab::HR_SENTENCES,
            more,
            " ",
            true,
        );
        cols.description.append_value("");
        cols.append(world, table, r, &fill, &row);

        subject_person.append_value(world.user_id(subject).as_str());
        hr_service.append_value(service);
        salary.append_value(salary_cents(subject));
        w(write!(employee_number, "E{:07}", 1_000_000 + subject));
        employee_number.append_value("");
    }

    let mut out = Vec::new();
    cols.finish(&mut out);
    out.push(Arc::new(subject_person.finish()));
    out.push(Arc::new(hr_service.finish()));
    out.push(Arc::new(
        salary
            .finish()
            .with_precision_and_scale(SALARY_PRECISION, SALARY_SCALE)
            .expect("valid decimal type"),
    ));
    out.push(Arc::new(employee_number.finish()));
    out
}
