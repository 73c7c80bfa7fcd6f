//! Row-condition evaluation: the demo's incident condition
//! (`assignment_group IN (3 groups) OR assigned_to = me`, each test wrapped
//! in `IS TRUE` as the condition compiler does) over 1,000,000 records in
//! 8,192-row batches of 32-character ids, as DataFusion plans it and as the
//! secure scan evaluates it (`string_set`), side by side.
//!
//! `cargo bench --workspace --bench row_condition` (a plain main: no harness).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch, StringViewBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::{SessionContext, col, lit};
use sqlgate_engine::string_set;

const ROWS: usize = 1_000_000;
const BATCH: usize = 8_192;

/// A sys_id: 32 hex digits spread over the whole width, like the demo's.
fn id(n: u64) -> String {
    let mixed = u128::from(n + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    format!("{mixed:032x}")
}

/// 40 groups and 20,000 users, as in the demo; one value in ten is NULL.
/// As the Parquet reader hands them over: each distinct id stored once per
/// batch, and a batch evaluated while it is still in cache (16 distinct
/// batches, taken in turn up to 1,000,000 records).
fn batches(schema: &Arc<Schema>) -> Vec<RecordBatch> {
    let column = |values: &mut dyn Iterator<Item = Option<String>>| {
        let mut b = StringViewBuilder::new().with_deduplicate_strings();
        for v in values {
            b.append_option(v);
        }
        Arc::new(b.finish())
    };
    let distinct: Vec<RecordBatch> = (0..16)
        .map(|k| {
            let r = k * BATCH..(k + 1) * BATCH;
            let group = column(
                &mut r
                    .clone()
                    .map(|i| (i % 10 != 0).then(|| id((i * 7 % 40) as u64))),
            );
            let user =
                column(&mut r.map(|i| (i % 10 != 3).then(|| id(1_000 + (i * 13 % 20_000) as u64))));
            RecordBatch::try_new(Arc::clone(schema), vec![group, user]).unwrap()
        })
        .collect();
    let mut out = Vec::new();
    let mut rows = 0;
    while rows < ROWS {
        let b = &distinct[out.len() % distinct.len()];
        let b = b.slice(0, BATCH.min(ROWS - rows));
        rows += b.num_rows();
        out.push(b);
    }
    out
}

fn rate(condition: &Arc<dyn PhysicalExpr>, batches: &[RecordBatch]) -> (f64, usize) {
    let mut best = Duration::MAX;
    let mut passed = 0;
    for _ in 0..7 {
        let t = Instant::now();
        passed = 0;
        for b in batches {
            let out = condition
                .evaluate(b)
                .unwrap()
                .into_array(b.num_rows())
                .unwrap();
            let out = out.as_boolean();
            passed += out.true_count();
            black_box(out);
        }
        best = best.min(t.elapsed());
    }
    (ROWS as f64 / best.as_secs_f64(), passed)
}

fn main() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("assignment_group", DataType::Utf8View, true),
        Field::new("assigned_to", DataType::Utf8View, true),
    ]));
    let batches = batches(&schema);
    let condition = col("assignment_group")
        .in_list(vec![lit(id(3)), lit(id(11)), lit(id(27))], false)
        .is_true()
        .or(col("assigned_to").eq(lit(id(1_000 + 4_321))).is_true());
    let df_schema = DFSchema::try_from(Arc::clone(&schema)).unwrap();
    let planned = SessionContext::new()
        .create_physical_expr(condition, &df_schema)
        .unwrap();
    let specialised = string_set::specialise(Arc::clone(&planned), &schema).unwrap();
    let (theirs, want) = rate(&planned, &batches);
    let (ours, got) = rate(&specialised, &batches);
    assert_eq!(got, want, "both must pass the same records");
    println!(
        "row condition over {ROWS} records ({want} pass): string set {ours:>12.0} rows/s, \
         DataFusion {theirs:>12.0} rows/s, ratio {:.2}x",
        ours / theirs
    );
}
