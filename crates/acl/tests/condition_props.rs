//! The compiled condition, evaluated vectorised through DataFusion (as
//! compiled and after the expression simplifier), and the row-at-a-time
//! reference evaluator agree on random tables, random records and random
//! encoded queries; and where one refuses a query, the other refuses it
//! with the same error. Queries are generated as text, so the parser is
//! exercised too.

mod common;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use proptest::prelude::*;
use proptest::sample::select;
use sqlgate_acl::condition::{DynamicContext, Value, compile, matches_row};
use sqlgate_acl::encoded_query::parse;

/// The column types tables are drawn from.
fn types() -> Vec<DataType> {
    vec![
        DataType::Utf8,
        DataType::Utf8View,
        DataType::LargeUtf8,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Decimal128(5, 2),
        DataType::Decimal128(12, 2),
        DataType::Decimal128(38, 0),
        DataType::Boolean,
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        DataType::Timestamp(TimeUnit::Nanosecond, None),
    ]
}

/// Strings with LIKE metacharacters, the escape and separators of the
/// encoded-query syntax, the empty string, case and non-ASCII variants.
const STRINGS: [&str; 18] = [
    "", "a", "ab", "A", "b%", "_a", "a\\b", "%", "_", "\\", "a^b", "a,b", "sys_1", "é", " a",
    "true", "false", "1",
];

/// Literals that fit some types and not others.
const NEAR_MISSES: [&str; 10] = [
    "x",
    "",
    "1.5",
    "-1",
    "300",
    "1e3",
    "2024-01-01",
    "2024-01-01 00:00:00",
    "TRUE",
    "0.001",
];

fn days_to_civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn per_second(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// Values records hold: boundaries of every type included.
fn record_domain(ty: &DataType) -> Vec<Value> {
    let ints = |low: i64, high: i64| [low, -1, 0, 1, 2, high].map(Value::Int).to_vec();
    let uints = |high: u64| [0, 1, 2, high].map(Value::UInt).to_vec();
    match ty {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            STRINGS.iter().map(|s| Value::Text((*s).into())).collect()
        }
        DataType::Int8 => ints(i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => ints(i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => ints(i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => ints(i64::MIN, i64::MAX),
        DataType::UInt8 => uints(u8::MAX.into()),
        DataType::UInt32 => uints(u32::MAX.into()),
        DataType::UInt64 => uints(u64::MAX),
        DataType::Float32 => [
            -0.0,
            0.0,
            1.5,
            -2.25,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            0.1,
        ]
        .map(|f| Value::Float(f.into()))
        .to_vec(),
        DataType::Float64 => [
            -0.0,
            0.0,
            1.5,
            -2.25,
            f64::NAN,
            f64::INFINITY,
            f64::MIN,
            f64::MIN_POSITIVE,
            0.1,
        ]
        .map(Value::Float)
        .to_vec(),
        DataType::Decimal128(p, _) => {
            let max = 10i128.pow(u32::from(*p)) - 1;
            [0, 1, -1, 150, max, -max].map(Value::Decimal).to_vec()
        }
        DataType::Boolean => vec![Value::Bool(false), Value::Bool(true)],
        DataType::Date32 => [-719_528, -1, 0, 19_723, 2_932_896, i32::MIN, i32::MAX]
            .map(Value::Date)
            .to_vec(),
        DataType::Timestamp(unit, _) => {
            let p = per_second(unit);
            let mut seconds = vec![0, -1, 1_704_110_400];
            if *unit != TimeUnit::Nanosecond {
                seconds.extend([253_402_300_799, -62_167_219_200]);
            }
            let mut v: Vec<_> = seconds.iter().map(|s| Value::Timestamp(s * p)).collect();
            v.extend([
                Value::Timestamp(1),
                Value::Timestamp(i64::MAX),
                Value::Timestamp(i64::MIN),
            ]);
            v
        }
        other => panic!("no domain for {other}"),
    }
}

/// The value as the text of a condition, when one can express it.
fn literal_text(value: &Value, ty: &DataType) -> Option<String> {
    Some(match (value, ty) {
        (Value::Text(s), _) => s.clone(),
        (Value::Int(i), _) => i.to_string(),
        (Value::UInt(u), _) => u.to_string(),
        (Value::Float(f), _) if !f.is_finite() => return None,
        (Value::Float(f), DataType::Float32) => (*f as f32).to_string(),
        (Value::Float(f), _) => f.to_string(),
        (Value::Decimal(d), DataType::Decimal128(_, s)) => {
            let scale = *s as usize;
            let digits = format!("{:0>width$}", d.unsigned_abs(), width = scale + 1);
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            let sign = if *d < 0 { "-" } else { "" };
            if scale == 0 {
                format!("{sign}{whole}")
            } else {
                format!("{sign}{whole}.{fraction}")
            }
        }
        (Value::Bool(b), _) => b.to_string(),
        (Value::Date(d), _) => {
            let (y, m, d) = days_to_civil((*d).into());
            if !(0..=9999).contains(&y) {
                return None;
            }
            format!("{y:04}-{m:02}-{d:02}")
        }
        (Value::Timestamp(t), DataType::Timestamp(unit, _)) => {
            let p = per_second(unit);
            if t % p != 0 {
                return None;
            }
            let secs = t / p;
            let (y, m, d) = days_to_civil(secs.div_euclid(86_400));
            if !(0..=9999).contains(&y) {
                return None;
            }
            let r = secs.rem_euclid(86_400);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                r / 3_600,
                r / 60 % 60,
                r % 60
            )
        }
        _ => return None,
    })
}

fn literal(ty: &DataType) -> BoxedStrategy<String> {
    let fits: Vec<String> = record_domain(ty)
        .iter()
        .filter_map(|v| literal_text(v, ty))
        .collect();
    prop_oneof![9 => select(fits), 1 => select(&NEAR_MISSES[..]).prop_map(str::to_owned)].boxed()
}

fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

const OPS: [&str; 17] = [
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "IN",
    "NOT IN",
    "BETWEEN",
    "ISEMPTY",
    "ISNOTEMPTY",
    "SAMEAS",
    "NSAMEAS",
    "LIKE",
    "NOT LIKE",
    "STARTSWITH",
    "ENDSWITH",
];

/// One condition on a column of the table (rarely on an unknown field, or
/// with an operator the column's type cannot take).
fn condition(columns: Arc<Vec<(String, DataType)>>) -> BoxedStrategy<String> {
    (0..columns.len())
        .prop_flat_map(move |i| {
            let (name, ty) = columns[i].clone();
            let text = is_text(&ty);
            let fitting = if text { OPS.len() } else { 13 };
            let partners: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
            (
                0..OPS.len(),
                0..fitting,
                literal(&ty),
                literal(&ty),
                proptest::collection::vec(literal(&ty), 1..4),
                select(partners),
                0u8..100,
            )
                .prop_map(move |(any_op, op, a, b, list, partner, dice)| {
                    let op = OPS[if dice < 4 { any_op } else { op }];
                    let field = if dice == 99 { "zz" } else { name.as_str() };
                    let dynamic = match (dice % 10, op) {
                        (5, "=" | "!=" | "LIKE") if text => Some("javascript:gs.getUserID()"),
                        (6, "=" | "!=" | "IN" | "NOT IN") if text => {
                            Some("javascript:gs.getUser().getMyGroups()")
                        }
                        (7, "=" | "!=") if text || ty == DataType::Boolean => {
                            Some("javascript:gs.hasRole('itil')")
                        }
                        _ => None,
                    };
                    let value = match op {
                        _ if dynamic.is_some() => dynamic.unwrap_or_default().to_owned(),
                        "ISEMPTY" | "ISNOTEMPTY" => String::new(),
                        "IN" | "NOT IN" => list.join(","),
                        "BETWEEN" => format!("{a}@{b}"),
                        "SAMEAS" | "NSAMEAS" => partner.clone(),
                        _ => a,
                    };
                    format!("{field}{op}{}", value.replace('^', "^^"))
                })
        })
        .boxed()
}

fn query(columns: Arc<Vec<(String, DataType)>>) -> BoxedStrategy<String> {
    let term = proptest::collection::vec(condition(columns), 1..4).prop_map(|c| c.join("^OR"));
    let group = proptest::collection::vec(term, 1..4).prop_map(|t| t.join("^"));
    proptest::collection::vec(group, 1..3)
        .prop_map(|g| g.join("^NQ"))
        .boxed()
}

fn row(columns: &[(String, DataType)]) -> BoxedStrategy<Vec<Value>> {
    columns
        .iter()
        .map(|(_, ty)| prop_oneof![1 => Just(Value::Null), 4 => select(record_domain(ty))].boxed())
        .collect::<Vec<_>>()
        .boxed()
}

fn context() -> impl Strategy<Value = DynamicContext> {
    (
        select(&STRINGS[..]),
        proptest::sample::subsequence(STRINGS.to_vec(), 0..4),
        proptest::sample::subsequence(vec!["itil", "admin", "nobody"], 0..3),
    )
        .prop_map(|(user, groups, roles)| DynamicContext {
            user_sys_id: user.into(),
            group_sys_ids: groups.into_iter().map(str::to_owned).collect(),
            roles: roles.into_iter().map(str::to_owned).collect(),
        })
}

/// A table (column names and types), rows of it, a query on it and a
/// principal.
type Case = (
    Vec<(String, DataType)>,
    Vec<Vec<Value>>,
    String,
    DynamicContext,
);

/// A table, rows of it, a query on it and a principal.
fn case() -> impl Strategy<Value = Case> {
    proptest::collection::vec(select(types()), 1..6).prop_flat_map(|types| {
        let columns: Vec<(String, DataType)> = types
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("c{i}"), t))
            .collect();
        let shared = Arc::new(columns.clone());
        (
            Just(columns.clone()),
            proptest::collection::vec(row(&columns), 1..25),
            query(shared),
            context(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn vectorised_and_row_at_a_time_agree((columns, rows, query, ctx) in case()) {
        let named: Vec<(&str, DataType)> = columns.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let schema = common::schema(&named);
        let parsed = parse(&query).map_err(|e| TestCaseError::fail(format!("{query}: {e}")))?;
        let reference: Vec<_> = common::records(&schema, &rows)
            .iter()
            .map(|r| matches_row(&parsed, r, &ctx))
            .collect();
        match compile(&parsed, &schema, &ctx) {
            Err(e) => {
                for r in &reference {
                    prop_assert_eq!(r, &Err(e.clone()), "{}", query);
                }
            }
            Ok(expr) => {
                let expected: Vec<bool> = reference
                    .into_iter()
                    .collect::<Result<_, _>>()
                    .map_err(|e| TestCaseError::fail(format!("{query}: reference refused: {e}")))?;
                let got = common::evaluate(&expr, &schema, &rows)
                    .map_err(|e| TestCaseError::fail(format!("{query}: {e}")))?;
                prop_assert_eq!(got, expected, "{} on {:?} with {:?}", query, rows, ctx);
            }
        }
    }
}
