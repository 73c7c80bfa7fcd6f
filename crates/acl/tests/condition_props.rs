//! The compiled, vectorised condition and the row-at-a-time reference
//! evaluator agree on random records and random encoded queries. Queries are
//! generated as text, so the parser is exercised too.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use sqlgate_acl::condition::{DynamicContext, RecordValue, RecordValues, compile, matches_row};
use sqlgate_acl::encoded_query::parse;

/// (name, type) of the test table.
const COLUMNS: [(&str, DataType); 7] = [
    ("s1", DataType::Utf8),
    ("s2", DataType::Utf8),
    ("v1", DataType::Utf8View),
    ("i1", DataType::Int64),
    ("i2", DataType::Int64),
    ("f1", DataType::Float64),
    ("b1", DataType::Boolean),
];

/// Small domains, so that conditions match often; strings carry the LIKE
/// metacharacters and the empty string.
const STRINGS: [&str; 8] = ["", "a", "ab", "b%", "_a", "a\\b", "Ab", "sys_1"];
const INTS: [i64; 5] = [-2, 0, 1, 2, 10];
const FLOATS: [f64; 4] = [-1.5, 0.0, 2.25, 10.0];

fn schema() -> Schema {
    Schema::new(
        COLUMNS
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    )
}

fn value_strategy(ty: &DataType) -> BoxedStrategy<RecordValue> {
    let null = Just(RecordValue::Null);
    match ty {
        DataType::Utf8 | DataType::Utf8View => prop_oneof![
            1 => null,
            4 => proptest::sample::select(&STRINGS[..]).prop_map(|s| RecordValue::Str(s.to_owned())),
        ]
        .boxed(),
        DataType::Int64 => prop_oneof![1 => null, 4 => proptest::sample::select(&INTS[..]).prop_map(RecordValue::Int)].boxed(),
        DataType::Float64 => prop_oneof![1 => null, 4 => proptest::sample::select(&FLOATS[..]).prop_map(RecordValue::Float)].boxed(),
        _ => prop_oneof![1 => null, 4 => any::<bool>().prop_map(RecordValue::Bool)].boxed(),
    }
}

fn record_strategy() -> impl Strategy<Value = Vec<RecordValue>> {
    COLUMNS
        .iter()
        .map(|(_, t)| value_strategy(t))
        .collect::<Vec<_>>()
}

/// A literal of the column's type, as encoded-query text.
fn literal_strategy(ty: &DataType) -> BoxedStrategy<String> {
    match ty {
        DataType::Utf8 | DataType::Utf8View => proptest::sample::select(&STRINGS[..])
            .prop_map(|s| s.to_owned())
            .boxed(),
        DataType::Int64 => proptest::sample::select(&INTS[..])
            .prop_map(|i| i.to_string())
            .boxed(),
        DataType::Float64 => proptest::sample::select(&FLOATS[..])
            .prop_map(|f| f.to_string())
            .boxed(),
        _ => any::<bool>().prop_map(|b| b.to_string()).boxed(),
    }
}

fn condition_strategy() -> impl Strategy<Value = String> {
    (0..COLUMNS.len()).prop_flat_map(|i| {
        let (name, ty) = &COLUMNS[i];
        let is_string = matches!(ty, DataType::Utf8 | DataType::Utf8View);
        let mut ops: Vec<&'static str> = vec![
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "IN",
            "NOT IN",
            "ISEMPTY",
            "ISNOTEMPTY",
            "BETWEEN",
            "SAMEAS",
            "NSAMEAS",
        ];
        if is_string {
            ops.extend(["LIKE", "NOT LIKE", "STARTSWITH", "ENDSWITH"]);
        }
        // SAMEAS partners of the same type.
        let partners: Vec<&'static str> = COLUMNS
            .iter()
            .filter(|(_, t)| t == ty)
            .map(|(n, _)| *n)
            .collect();
        let name = *name;
        (
            proptest::sample::select(ops),
            literal_strategy(ty),
            literal_strategy(ty),
            proptest::collection::vec(literal_strategy(ty), 1..4),
            proptest::sample::select(partners),
            any::<u8>(),
        )
            .prop_map(move |(op, a, b, list, partner, dynamic)| {
                let value = match op {
                    "ISEMPTY" | "ISNOTEMPTY" => String::new(),
                    "IN" | "NOT IN" if is_string && dynamic % 4 == 0 => {
                        "javascript:gs.getUser().getMyGroups()".into()
                    }
                    "IN" | "NOT IN" => list.join(","),
                    "BETWEEN" => format!("{a}@{b}"),
                    "SAMEAS" | "NSAMEAS" => partner.to_owned(),
                    "=" | "!=" if is_string && dynamic % 5 == 0 => {
                        "javascript:gs.getUserID()".into()
                    }
                    _ => a,
                };
                format!("{name}{op}{}", value.replace('^', "^^"))
            })
    })
}

fn query_strategy() -> impl Strategy<Value = String> {
    let term = proptest::collection::vec(condition_strategy(), 1..3).prop_map(|c| c.join("^OR"));
    let group = proptest::collection::vec(term, 1..3).prop_map(|t| t.join("^"));
    proptest::collection::vec(group, 1..3).prop_map(|g| g.join("^NQ"))
}

fn batch(records: &[Vec<RecordValue>]) -> RecordBatch {
    let columns: Vec<ArrayRef> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| -> ArrayRef {
            let cells = records.iter().map(|r| &r[i]);
            match ty {
                DataType::Utf8 => Arc::new(
                    cells
                        .map(|v| match v {
                            RecordValue::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect::<StringArray>(),
                ),
                DataType::Utf8View => Arc::new(
                    cells
                        .map(|v| match v {
                            RecordValue::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect::<StringViewArray>(),
                ),
                DataType::Int64 => Arc::new(
                    cells
                        .map(|v| match v {
                            RecordValue::Int(x) => Some(*x),
                            _ => None,
                        })
                        .collect::<Int64Array>(),
                ),
                DataType::Float64 => Arc::new(
                    cells
                        .map(|v| match v {
                            RecordValue::Float(x) => Some(*x),
                            _ => None,
                        })
                        .collect::<Float64Array>(),
                ),
                _ => Arc::new(
                    cells
                        .map(|v| match v {
                            RecordValue::Bool(x) => Some(*x),
                            _ => None,
                        })
                        .collect::<BooleanArray>(),
                ),
            }
        })
        .collect();
    RecordBatch::try_new(Arc::new(schema()), columns).unwrap()
}

fn context() -> DynamicContext {
    DynamicContext {
        user_sys_id: "sys_1".into(),
        group_sys_ids: vec!["a".into(), "_a".into()],
        roles: ["itil".to_owned()].into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn vectorised_and_row_at_a_time_agree(
        query in query_strategy(),
        records in proptest::collection::vec(record_strategy(), 1..40),
    ) {
        let parsed = parse(&query).map_err(|e| TestCaseError::fail(format!("{query}: {e}")))?;
        let ctx = context();
        let expr = compile(&parsed, &schema(), &ctx).map_err(|e| TestCaseError::fail(format!("{query}: {e}")))?;
        let batch = batch(&records);
        let df_schema = DFSchema::try_from(schema()).unwrap();
        let physical = SessionContext::new().create_physical_expr(expr, &df_schema).unwrap();
        let result = physical.evaluate(&batch).unwrap().into_array(batch.num_rows()).unwrap();
        let result = result.as_any().downcast_ref::<BooleanArray>().unwrap();
        for (i, record) in records.iter().enumerate() {
            prop_assert!(!result.is_null(i), "{query}: NULL result on row {i}");
            let values: RecordValues = COLUMNS.iter().map(|(n, _)| n.to_string()).zip(record.iter().cloned()).collect();
            let expected = matches_row(&parsed, &values, &ctx);
            prop_assert_eq!(result.value(i), expected, "{} on {:?}", query, record);
        }
    }
}
