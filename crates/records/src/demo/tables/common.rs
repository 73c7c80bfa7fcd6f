//! What every table shares: the `sys_*` columns, the calendar, and the life
//! of a record from opened to closed.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int32Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

use crate::demo::rng::{Rng, SysId};

pub(crate) const MICROS_PER_SEC: i64 = 1_000_000;
pub(crate) const HOUR: i64 = 3_600 * MICROS_PER_SEC;
pub(crate) const DAY: i64 = 24 * HOUR;
/// 2021-01-01T00:00:00Z: the first record is opened then.
pub(crate) const START: i64 = 1_609_459_200 * MICROS_PER_SEC;
/// 2026-07-01T00:00:00Z: "now" for the demo; nothing happens after it.
pub(crate) const NOW: i64 = 1_782_864_000 * MICROS_PER_SEC;
/// Days since the epoch of 2026-07-01.
pub(crate) const NOW_DAY: i32 = 20_635;

/// `t` truncated to whole seconds, the platform's precision.
#[inline]
pub(crate) fn secs(t: i64) -> i64 {
    t - t.rem_euclid(MICROS_PER_SEC)
}

/// Timestamps in microseconds since the epoch, UTC, written to the second.
pub(crate) fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

pub(crate) fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// The columns every table starts with.
pub(crate) fn sys_fields() -> Vec<Field> {
    vec![
        utf8("sys_id", false),
        utf8("sys_class_name", false),
        Field::new("sys_created_on", timestamp(), false),
        Field::new("sys_updated_on", timestamp(), false),
        utf8("sys_created_by", false),
        utf8("sys_updated_by", false),
        Field::new("sys_mod_count", DataType::Int32, false),
    ]
}

/// Builders of the `sys_*` columns.
pub(crate) struct SysCols {
    class: &'static str,
    sys_id: StringBuilder,
    class_name: StringBuilder,
    created_on: TimestampMicrosecondBuilder,
    updated_on: TimestampMicrosecondBuilder,
    created_by: StringBuilder,
    updated_by: StringBuilder,
    mod_count: Int32Builder,
}

/// One record's `sys_*` values.
pub(crate) struct SysRow<'a> {
    pub id: SysId,
    pub created_on: i64,
    pub updated_on: i64,
    pub created_by: &'a str,
    pub updated_by: &'a str,
    pub mod_count: i32,
}

impl SysCols {
    pub(crate) fn new(class: &'static str, rows: usize) -> SysCols {
        SysCols {
            class,
            sys_id: StringBuilder::with_capacity(rows, rows * 32),
            class_name: StringBuilder::with_capacity(rows, rows * class.len()),
            created_on: TimestampMicrosecondBuilder::with_capacity(rows),
            updated_on: TimestampMicrosecondBuilder::with_capacity(rows),
            created_by: StringBuilder::with_capacity(rows, rows * 16),
            updated_by: StringBuilder::with_capacity(rows, rows * 16),
            mod_count: Int32Builder::with_capacity(rows),
        }
    }

    pub(crate) fn append(&mut self, row: SysRow<'_>) {
        debug_assert!(row.updated_on >= row.created_on);
        self.sys_id.append_value(row.id.as_str());
        self.class_name.append_value(self.class);
        self.created_on.append_value(secs(row.created_on));
        self.updated_on.append_value(secs(row.updated_on));
        self.created_by.append_value(row.created_by);
        self.updated_by.append_value(row.updated_by);
        self.mod_count.append_value(row.mod_count);
    }

    pub(crate) fn finish(mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.sys_id.finish()));
        out.push(Arc::new(self.class_name.finish()));
        out.push(Arc::new(self.created_on.finish()));
        out.push(Arc::new(self.updated_on.finish()));
        out.push(Arc::new(self.created_by.finish()));
        out.push(Arc::new(self.updated_by.finish()));
        out.push(Arc::new(self.mod_count.finish()));
    }
}

/// When record `index` of `rows` was opened: spread evenly from [`START`] to
/// [`NOW`] and never decreasing with the index, so numbers and dates agree.
pub(crate) fn opened_at(r: &mut Rng, index: u64, rows: u64) -> i64 {
    let span = (NOW - START) as i128;
    let rows = rows.max(1);
    let base = START + (span * i128::from(index) / i128::from(rows)) as i64;
    let step = (span / i128::from(rows)).max(1) as u64;
    base + r.below(step) as i64
}

/// A day in `from..to` (days since the epoch), uniformly.
pub(crate) fn day_between(r: &mut Rng, from: i32, to: i32) -> i32 {
    r.range(i64::from(from), i64::from(to) - 1) as i32
}

/// Where a record stands at [`NOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Still being worked; `fresh` when nobody has picked it up yet.
    Open {
        fresh: bool,
    },
    /// Fixed, waiting to be closed.
    Resolved,
    Closed,
    Canceled,
}

/// The dates of a record's life.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Life {
    pub phase: Phase,
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The last time anything happened to it.
    pub updated_at: i64,
}

impl Life {
    pub(crate) fn active(&self) -> bool {
        matches!(self.phase, Phase::Open { .. } | Phase::Resolved)
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Resolved | Phase::Closed)
    }
}

/// How long records of a class take.
pub(crate) struct Pace {
    /// Median time to resolve, and the spread of its log-normal.
    pub median: i64,
    pub sigma: f64,
    /// Time from resolved to closed (zero: closed when resolved).
    pub close_after: (i64, i64),
    pub cancel: f64,
    /// Share left open whatever their age: on hold, waiting, forgotten.
    pub stale: f64,
}

/// Plays a record's life out against [`NOW`]: the ones whose resolution
/// would lie in the future are still open, so old records are mostly closed
/// and recent ones mostly open.
pub(crate) fn live(r: &mut Rng, opened_at: i64, pace: &Pace) -> Life {
    let work = (r.log_normal(pace.median as f64, pace.sigma) as i64)
        .clamp(10 * 60 * MICROS_PER_SEC, 400 * DAY);
    if r.chance(pace.cancel) {
        let at = (opened_at + work / 4).min(NOW - 1);
        return Life {
            phase: Phase::Canceled,
            opened_at,
            resolved_at: None,
            closed_at: Some(at),
            updated_at: at,
        };
    }
    let resolved = opened_at + work;
    if resolved >= NOW || r.chance(pace.stale) {
        let fresh = NOW - opened_at < work / 5 || r.chance(0.1);
        let updated_at = if fresh {
            opened_at
        } else {
            opened_at + r.below((NOW - opened_at) as u64) as i64
        };
        return Life {
            phase: Phase::Open { fresh },
            opened_at,
            resolved_at: None,
            closed_at: None,
            updated_at,
        };
    }
    let (lo, hi) = pace.close_after;
    let closed = resolved + if hi > lo { r.range(lo, hi) } else { lo };
    if closed >= NOW {
        return Life {
            phase: Phase::Resolved,
            opened_at,
            resolved_at: Some(resolved),
            closed_at: None,
            updated_at: resolved,
        };
    }
    Life {
        phase: Phase::Closed,
        opened_at,
        resolved_at: Some(resolved),
        closed_at: Some(closed),
        updated_at: closed,
    }
}

/// ServiceNow's priority matrix from impact and urgency (1 high .. 3 low).
pub(crate) fn priority(impact: i32, urgency: i32) -> i32 {
    match impact + urgency {
        2 => 1,
        3 => 2,
        4 => 3,
        5 => 4,
        _ => 5,
    }
}

/// Impact or urgency, mostly low.
pub(crate) fn level(r: &mut Rng) -> i32 {
    r.weighted(&[(1, 8), (2, 27), (3, 65)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opened_never_decreases_and_stays_in_range() {
        let mut last = START;
        for i in 0..1_000 {
            let t = opened_at(&mut Rng::for_record(1, i), i, 1_000);
            assert!(t >= last && t < NOW);
            last = t;
        }
    }

    #[test]
    fn priority_matrix() {
        assert_eq!(priority(1, 1), 1);
        assert_eq!(priority(1, 3), 3);
        assert_eq!(priority(3, 3), 5);
    }
}
