//! Arbitrary text through the script compiler (parse, syntax checks,
//! planning, the expression allow-list, the dry run) against a fixed
//! schema with a column of most types.
//!
//! Never panics and never overflows the stack: the compiler runs on the
//! fuzzer's main thread (8 MiB, half a server worker's stack); inputs up
//! to the script length limit need `-max_len=8192` or more.

#![no_main]

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use libfuzzer_sys::fuzz_target;
use sqlgate_acl::condition::DynamicContext;
use sqlgate_acl::script::{MAX_LEN, ScriptErrorKind, compile_script};

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let columns = [
            ("s", DataType::Utf8),
            ("v", DataType::Utf8View),
            ("i", DataType::Int64),
            ("c", DataType::Int32),
            ("u", DataType::UInt64),
            ("d", DataType::Float64),
            ("m", DataType::Decimal128(10, 2)),
            ("q", DataType::Boolean),
            ("r", DataType::Date32),
            ("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            ("z", DataType::Binary),
            ("k", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))),
            ("priority", DataType::Int32),
            ("assigned_to", DataType::Utf8),
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
        group_sys_ids: vec!["g1".into()],
        roles: BTreeSet::from(["itil".to_owned()]),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match compile_script(text, schema(), context()) {
        Ok(expr) => {
            assert!(text.len() <= MAX_LEN);
            // Compiled to `(…) IS TRUE`: never NULL.
            assert!(
                matches!(expr, datafusion::logical_expr::Expr::IsTrue(_)),
                "{text:?} compiled to {expr}"
            );
        }
        Err(e) => {
            if text.len() > MAX_LEN {
                assert_eq!(e.kind, ScriptErrorKind::TooLong(text.len()));
            }
        }
    }
});
