//! Evaluating compiled conditions and scripts the way the engine does:
//! vectorised over a RecordBatch, both as compiled and after DataFusion's
//! expression simplifier (which the logical optimizer applies to every
//! filter), refusing any NULL result.

#![allow(dead_code)]

use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::prelude::SessionContext;
use sqlgate_acl::condition::{RecordValues, Value};

/// A nullable column per (name, type).
pub fn schema(columns: &[(&str, DataType)]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    )
}

/// A value as a scalar of the column's type (a typed NULL for `Null`).
pub fn scalar(value: &Value, ty: &DataType) -> ScalarValue {
    use DataType as T;
    use ScalarValue as S;
    match (value, ty) {
        (Value::Null, t) => S::try_from(t).unwrap(),
        (Value::Text(s), T::Utf8) => S::Utf8(Some(s.clone())),
        (Value::Text(s), T::Utf8View) => S::Utf8View(Some(s.clone())),
        (Value::Text(s), T::LargeUtf8) => S::LargeUtf8(Some(s.clone())),
        (Value::Int(i), T::Int8) => S::Int8(Some(i8::try_from(*i).unwrap())),
        (Value::Int(i), T::Int16) => S::Int16(Some(i16::try_from(*i).unwrap())),
        (Value::Int(i), T::Int32) => S::Int32(Some(i32::try_from(*i).unwrap())),
        (Value::Int(i), T::Int64) => S::Int64(Some(*i)),
        (Value::UInt(u), T::UInt8) => S::UInt8(Some(u8::try_from(*u).unwrap())),
        (Value::UInt(u), T::UInt16) => S::UInt16(Some(u16::try_from(*u).unwrap())),
        (Value::UInt(u), T::UInt32) => S::UInt32(Some(u32::try_from(*u).unwrap())),
        (Value::UInt(u), T::UInt64) => S::UInt64(Some(*u)),
        (Value::Float(f), T::Float32) => S::Float32(Some(*f as f32)),
        (Value::Float(f), T::Float64) => S::Float64(Some(*f)),
        (Value::Decimal(d), T::Decimal128(p, s)) => S::Decimal128(Some(*d), *p, *s),
        (Value::Bool(b), T::Boolean) => S::Boolean(Some(*b)),
        (Value::Date(d), T::Date32) => S::Date32(Some(*d)),
        (Value::Timestamp(t), T::Timestamp(unit, tz)) => {
            let (t, tz) = (Some(*t), tz.clone());
            match unit {
                TimeUnit::Second => S::TimestampSecond(t, tz),
                TimeUnit::Millisecond => S::TimestampMillisecond(t, tz),
                TimeUnit::Microsecond => S::TimestampMicrosecond(t, tz),
                TimeUnit::Nanosecond => S::TimestampNanosecond(t, tz),
            }
        }
        (v, t) => panic!("{v:?} is not a value of {t}"),
    }
}

/// The rows as a RecordBatch of `schema`.
pub fn batch(schema: &Schema, rows: &[Vec<Value>]) -> RecordBatch {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let cells = rows.iter().map(|r| scalar(&r[i], f.data_type()));
            if rows.is_empty() {
                datafusion::arrow::array::new_empty_array(f.data_type())
            } else {
                ScalarValue::iter_to_array(cells).unwrap()
            }
        })
        .collect();
    RecordBatch::try_new(Arc::new(schema.clone()), columns).unwrap()
}

/// The rows as records for the reference evaluator.
pub fn records(schema: &Schema, rows: &[Vec<Value>]) -> Vec<RecordValues> {
    rows.iter()
        .map(|r| RecordValues::from_row(schema, r.iter().cloned()))
        .collect()
}

fn run(expr: Expr, df_schema: &DFSchema, batch: &RecordBatch) -> Result<Vec<bool>, String> {
    let physical = SessionContext::new()
        .create_physical_expr(expr, df_schema)
        .map_err(|e| e.to_string())?;
    let result = physical
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(|e| e.to_string())?;
    let result = result
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| format!("not boolean: {}", result.data_type()))?;
    (0..result.len())
        .map(|i| {
            if result.is_null(i) {
                Err(format!("NULL on row {i}"))
            } else {
                Ok(result.value(i))
            }
        })
        .collect()
}

/// The expression evaluated on every row, as compiled and simplified; the
/// two must agree and never be NULL.
pub fn evaluate(expr: &Expr, schema: &Schema, rows: &[Vec<Value>]) -> Result<Vec<bool>, String> {
    let df_schema = DFSchema::try_from(schema.clone()).unwrap();
    let batch = batch(schema, rows);
    let plain = run(expr.clone(), &df_schema, &batch)?;
    let context = SimplifyContext::builder()
        .with_schema(Arc::new(df_schema.clone()))
        .build();
    let simplified = ExprSimplifier::new(context)
        .simplify(expr.clone())
        .map_err(|e| e.to_string())?;
    let after = run(simplified.clone(), &df_schema, &batch)?;
    if plain != after {
        return Err(format!(
            "simplification changed the result: {expr} gave {plain:?}, {simplified} gave {after:?}"
        ));
    }
    Ok(plain)
}
