//! Encoding throughput: the batch encoder against arrow-pg's per-cell one,
//! over a 20-column, 100,000-row result in 8,192-row batches (DataFusion's
//! default batch size), in text and in binary.
//!
//! `cargo bench --workspace --bench encode` (a plain main: no harness).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    ListArray, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use pgwire::api::portal::Format;
use sqlgate_wire::encode::BatchEncoder;

const ROWS: usize = 100_000;
const BATCH: usize = 8_192;

/// Twenty columns of the types a record table has: ids, counts, amounts,
/// names, states, timestamps, dates, flags, one numeric and one array; every
/// fifth value of the nullable ones is NULL.
fn batches() -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < ROWS {
        let n = BATCH.min(ROWS - start);
        let r = start..start + n;
        let null = |i: usize| i.is_multiple_of(5);
        let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
        columns.push((
            "id",
            Arc::new(Int64Array::from_iter_values(r.clone().map(|i| i as i64))),
        ));
        for k in 0..3 {
            let name: &'static str = ["priority", "impact", "urgency"][k];
            columns.push((
                name,
                Arc::new(Int32Array::from_iter(
                    r.clone().map(|i| (!null(i + k)).then_some((i % 5) as i32)),
                )),
            ));
        }
        for k in 0..2 {
            let name: &'static str = ["amount", "score"][k];
            columns.push((
                name,
                Arc::new(Float64Array::from_iter(
                    r.clone()
                        .map(|i| (!null(i + k)).then_some(i as f64 * 1.37 + k as f64)),
                )),
            ));
        }
        for k in 0..5 {
            let name: &'static str = [
                "number",
                "short_description",
                "state",
                "category",
                "assigned_to",
            ][k];
            columns.push((
                name,
                Arc::new(StringArray::from_iter(r.clone().map(|i| {
                    (!null(i + k)).then(|| format!("INC{:07} value {k} of row {i}", i))
                }))),
            ));
        }
        for k in 0..4 {
            let name: &'static str = ["opened_at", "updated_at", "resolved_at", "closed_at"][k];
            columns.push((
                name,
                Arc::new(TimestampMicrosecondArray::from_iter(r.clone().map(|i| {
                    (!null(i + k)).then_some(1_600_000_000_000_000 + i as i64 * 61_000_123)
                }))),
            ));
        }
        columns.push((
            "due_date",
            Arc::new(Date32Array::from_iter(
                r.clone()
                    .map(|i| (!null(i)).then_some(18_000 + (i % 2000) as i32)),
            )),
        ));
        columns.push((
            "active",
            Arc::new(BooleanArray::from_iter(
                r.clone().map(|i| (!null(i)).then_some(i % 2 == 0)),
            )),
        ));
        columns.push((
            "cost",
            Arc::new(
                Decimal128Array::from_iter(
                    r.clone()
                        .map(|i| (!null(i)).then_some(i as i128 * 1234 + 5)),
                )
                .with_precision_and_scale(18, 2)
                .unwrap(),
            ),
        ));
        columns.push((
            "reopen_count",
            Arc::new(Int64Array::from_iter(
                r.clone().map(|i| (!null(i)).then_some((i % 3) as i64)),
            )),
        ));
        columns.push((
            "tags",
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                r.clone().map(|i| Some(vec![Some(i as i32), None, Some(7)])),
            )),
        ));
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        out.push(
            RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).unwrap(),
        );
        start += n;
    }
    assert_eq!(out[0].num_columns(), 20);
    out
}

/// Rows per second of `f` over the whole batch set, best of a few runs.
fn rate(mut f: impl FnMut() -> usize) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let rows = f();
        assert_eq!(rows, ROWS);
        best = best.min(t.elapsed());
    }
    ROWS as f64 / best.as_secs_f64()
}

fn main() {
    let batches = batches();
    for (label, format) in [
        ("text", Format::UnifiedText),
        ("binary", Format::UnifiedBinary),
    ] {
        let fields =
            Arc::new(arrow_schema_to_pg_fields(&batches[0].schema(), &format, None).unwrap());
        let ours = rate(|| {
            let mut encoder = BatchEncoder::new(Arc::clone(&fields));
            let mut rows = 0;
            for b in &batches {
                let encoded = encoder.encode(b).unwrap();
                rows += encoded.rows();
                black_box(encoded);
            }
            rows
        });
        let theirs = rate(|| {
            let mut rows = 0;
            for b in &batches {
                for row in encode_recordbatch(Arc::clone(&fields), b.clone()) {
                    black_box(row.unwrap());
                    rows += 1;
                }
            }
            rows
        });
        println!(
            "{label:>6}: batch encoder {:>12.0} rows/s, arrow-pg {:>12.0} rows/s, ratio {:.2}x",
            ours,
            theirs,
            ours / theirs
        );
    }
}
