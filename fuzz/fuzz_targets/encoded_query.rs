//! Arbitrary text through the encoded-query parser and, when it parses,
//! the condition compiler against a fixed schema with a column of every
//! type conditions handle (one-letter names, so the fuzzer finds them).
//!
//! Never panics; error positions lie within the input; the reference
//! evaluator fails exactly where the compiler fails, with the same error.

#![no_main]

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use libfuzzer_sys::fuzz_target;
use sqlgate_acl::condition::{DynamicContext, RecordValues, Value, compile, matches_row};
use sqlgate_acl::encoded_query::parse;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let utc: Option<Arc<str>> = Some("UTC".into());
        let columns = [
            ("s", DataType::Utf8),
            ("v", DataType::Utf8View),
            ("l", DataType::LargeUtf8),
            ("a", DataType::Int8),
            ("b", DataType::Int16),
            ("c", DataType::Int32),
            ("i", DataType::Int64),
            ("e", DataType::UInt8),
            ("g", DataType::UInt16),
            ("h", DataType::UInt32),
            ("u", DataType::UInt64),
            ("f", DataType::Float32),
            ("d", DataType::Float64),
            ("m", DataType::Decimal128(10, 2)),
            ("n", DataType::Decimal128(38, 10)),
            ("o", DataType::Decimal128(38, 0)),
            ("q", DataType::Boolean),
            ("r", DataType::Date32),
            ("t", DataType::Timestamp(TimeUnit::Second, None)),
            ("w", DataType::Timestamp(TimeUnit::Millisecond, None)),
            ("x", DataType::Timestamp(TimeUnit::Microsecond, utc.clone())),
            ("y", DataType::Timestamp(TimeUnit::Nanosecond, utc)),
            ("z", DataType::Binary),
            ("k", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))),
            ("sys_id", DataType::Utf8),
        ];
        Schema::new(
            columns
                .into_iter()
                .map(|(n, t)| Field::new(n, t, true))
                .collect::<Vec<_>>(),
        )
    })
}

fn context() -> &'static DynamicContext {
    static CTX: OnceLock<DynamicContext> = OnceLock::new();
    CTX.get_or_init(|| DynamicContext {
        user_sys_id: "0123456789abcdef0123456789abcdef".into(),
        group_sys_ids: vec!["g1".into(), "g2".into()],
        roles: BTreeSet::from(["itil".to_owned(), "reader".to_owned()]),
    })
}

/// A record of the schema with every field NULL.
fn nulls() -> &'static RecordValues {
    static RECORD: OnceLock<RecordValues> = OnceLock::new();
    RECORD.get_or_init(|| {
        RecordValues::from_row(schema(), schema().fields().iter().map(|_| Value::Null))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = match parse(text) {
        Ok(q) => q,
        Err(e) => {
            assert!(e.position <= text.len(), "{e} beyond the input {text:?}");
            return;
        }
    };
    for c in query.conditions() {
        assert!(c.position < text.len(), "condition at {} of {text:?}", c.position);
    }
    let compiled = compile(&query, schema(), context());
    let reference = matches_row(&query, nulls(), context());
    match (&compiled, &reference) {
        (Ok(_), Ok(matched)) => {
            // NULL fields fail every test but ISEMPTY; the empty query
            // matches everything.
            let _ = matched;
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "compiler and reference disagree on {text:?}");
            assert!(a.position <= text.len(), "{a} beyond the input {text:?}");
        }
        _ => panic!(
            "compiler and reference disagree on {text:?}: {:?} vs {:?}",
            compiled.as_ref().map(|_| "compiled"),
            reference
        ),
    }
});
