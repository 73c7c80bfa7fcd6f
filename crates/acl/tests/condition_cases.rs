//! Every operator, NULL rule, literal type, dynamic value and compile
//! error, each checked on both evaluators: the compiled expression,
//! vectorised through DataFusion (as compiled and simplified), and the
//! row-at-a-time reference.

mod common;

use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use sqlgate_acl::condition::{
    CompileError, CompileErrorKind as K, DynamicContext, Value, compile, matches_row,
};
use sqlgate_acl::encoded_query::{Dynamic, Op, parse};

use Value::{Null, Text};

fn ctx() -> DynamicContext {
    DynamicContext {
        user_sys_id: "u1".into(),
        group_sys_ids: vec!["g1".into(), "g_2".into()],
        roles: ["itil".to_owned()].into(),
    }
}

/// The result of `query` on every row, after checking that both
/// evaluators agree.
fn run_with(query: &str, schema: &Schema, rows: &[Vec<Value>], ctx: &DynamicContext) -> Vec<bool> {
    let parsed = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let expr = compile(&parsed, schema, ctx).unwrap_or_else(|e| panic!("{query}: {e}"));
    let vectorised =
        common::evaluate(&expr, schema, rows).unwrap_or_else(|e| panic!("{query}: {e}"));
    let reference: Vec<bool> = common::records(schema, rows)
        .iter()
        .map(|r| matches_row(&parsed, r, ctx).unwrap())
        .collect();
    assert_eq!(
        vectorised, reference,
        "{query}: vectorised vs reference on {rows:?}"
    );
    vectorised
}

/// `query` on a one-column table `f` holding `values`.
fn on(ty: DataType, values: &[Value], query: &str) -> Vec<bool> {
    let schema = common::schema(&[("f", ty)]);
    let rows: Vec<_> = values.iter().map(|v| vec![v.clone()]).collect();
    run_with(query, &schema, &rows, &ctx())
}

/// The compile error, after checking the reference evaluator gives the
/// same one.
fn error(schema: &Schema, query: &str) -> CompileError {
    let parsed = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let e = compile(&parsed, schema, &ctx()).expect_err(query);
    let record = common::records(schema, &[schema.fields().iter().map(|_| Null).collect()]);
    assert_eq!(
        matches_row(&parsed, &record[0], &ctx()),
        Err(e.clone()),
        "{query}"
    );
    e
}

fn texts(values: &[&str]) -> Vec<Value> {
    std::iter::once(Null)
        .chain(values.iter().map(|s| Text((*s).into())))
        .collect()
}

const T: bool = true;
const F: bool = false;

#[test]
fn equality_on_strings_is_exact_and_null_never_matches() {
    let v = texts(&["", "a", "A", "ab"]);
    assert_eq!(on(DataType::Utf8, &v, "f=a"), [F, F, T, F, F]);
    assert_eq!(on(DataType::Utf8, &v, "f!=a"), [F, T, F, T, T]);
    assert_eq!(on(DataType::Utf8, &v, "f="), [F, T, F, F, F]);
    assert_eq!(on(DataType::Utf8View, &v, "f!="), [F, F, T, T, T]);
    assert_eq!(on(DataType::LargeUtf8, &v, "f=A"), [F, F, F, T, F]);
}

#[test]
fn ordering_on_strings_is_by_bytes() {
    let v = texts(&["", "B", "a", "ab", "é"]);
    assert_eq!(on(DataType::Utf8, &v, "f<a"), [F, T, T, F, F, F]);
    assert_eq!(on(DataType::Utf8View, &v, "f<=a"), [F, T, T, T, F, F]);
    assert_eq!(on(DataType::LargeUtf8, &v, "f>a"), [F, F, F, F, T, T]);
    assert_eq!(on(DataType::Utf8, &v, "f>=a"), [F, F, F, T, T, T]);
}

#[test]
fn ordering_on_integers() {
    let v = [
        Null,
        Value::Int(-1),
        Value::Int(0),
        Value::Int(1),
        Value::Int(2),
    ];
    assert_eq!(on(DataType::Int32, &v, "f<1"), [F, T, T, F, F]);
    assert_eq!(on(DataType::Int32, &v, "f<=1"), [F, T, T, T, F]);
    assert_eq!(on(DataType::Int64, &v, "f>1"), [F, F, F, F, T]);
    assert_eq!(on(DataType::Int16, &v, "f>=-1"), [F, T, T, T, T]);
    assert_eq!(on(DataType::Int8, &v, "f!=0"), [F, T, F, T, T]);
    let u = [Null, Value::UInt(0), Value::UInt(u64::MAX)];
    assert_eq!(
        on(DataType::UInt64, &u, "f=18446744073709551615"),
        [F, F, T]
    );
    assert_eq!(on(DataType::UInt64, &u, "f<1"), [F, T, F]);
}

#[test]
fn in_and_not_in() {
    let v = [Null, Value::Int(0), Value::Int(1), Value::Int(2)];
    assert_eq!(on(DataType::Int32, &v, "fIN0,2"), [F, T, F, T]);
    assert_eq!(on(DataType::Int32, &v, "fNOT IN0,2"), [F, F, T, F]);
    assert_eq!(on(DataType::Int32, &v, "fIN1"), [F, F, T, F]);
    let s = texts(&["", "a", "b"]);
    assert_eq!(on(DataType::Utf8, &s, "fINa,"), [F, T, T, F]);
    assert_eq!(on(DataType::Utf8View, &s, "fNOT INa,"), [F, F, F, T]);
}

#[test]
fn like_family_takes_metacharacters_literally() {
    let v = texts(&["", "50%", "5_0", "a\\b", "x%y_z", "abc", "ABC"]);
    let ty = DataType::Utf8;
    assert_eq!(on(ty.clone(), &v, "fLIKE%"), [F, F, T, F, F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "fLIKE_"), [F, F, F, T, F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "fLIKE\\"), [F, F, F, F, T, F, F, F]);
    assert_eq!(on(ty.clone(), &v, "fLIKE%y_"), [F, F, F, F, F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "fLIKEb"), [F, F, F, F, T, F, T, F]);
    assert_eq!(on(ty.clone(), &v, "fNOT LIKE%"), [F, T, F, T, T, F, T, T]);
    assert_eq!(
        on(ty.clone(), &v, "fSTARTSWITH5_"),
        [F, F, F, T, F, F, F, F]
    );
    assert_eq!(on(ty.clone(), &v, "fSTARTSWITHa"), [F, F, F, F, T, F, T, F]);
    assert_eq!(on(ty.clone(), &v, "fENDSWITH%"), [F, F, T, F, F, F, F, F]);
    assert_eq!(on(ty.clone(), &v, "fENDSWITH\\b"), [F, F, F, F, T, F, F, F]);
    // Case-sensitive.
    assert_eq!(on(ty.clone(), &v, "fLIKEABC"), [F, F, F, F, F, F, F, T]);
    // The empty value: every non-NULL string contains it.
    assert_eq!(on(ty.clone(), &v, "fLIKE"), [F, T, T, T, T, T, T, T]);
    assert_eq!(on(ty.clone(), &v, "fNOT LIKE"), [F, F, F, F, F, F, F, F]);
    assert_eq!(on(ty, &v, "fSTARTSWITH"), [F, T, T, T, T, T, T, T]);
    for ty in [DataType::Utf8View, DataType::LargeUtf8] {
        assert_eq!(on(ty.clone(), &v, "fLIKE%y_"), [F, F, F, F, F, T, F, F]);
        assert_eq!(on(ty, &v, "fENDSWITH_0"), [F, F, F, T, F, F, F, F]);
    }
}

#[test]
fn isempty_is_null_or_empty_string_and_isnotempty_its_negation() {
    let s = texts(&["", " ", "a"]);
    assert_eq!(on(DataType::Utf8, &s, "fISEMPTY"), [T, T, F, F]);
    assert_eq!(on(DataType::Utf8View, &s, "fISNOTEMPTY"), [F, F, T, T]);
    let i = [Null, Value::Int(0)];
    assert_eq!(on(DataType::Int32, &i, "fISEMPTY"), [T, F]);
    assert_eq!(on(DataType::Int32, &i, "fISNOTEMPTY"), [F, T]);
    // Types conditions cannot compare still take the NULL test.
    let schema = common::schema(&[("f", DataType::Binary)]);
    let parsed = parse("fISEMPTY").unwrap();
    assert!(compile(&parsed, &schema, &ctx()).is_ok());
}

#[test]
fn between_is_inclusive_and_empty_when_reversed() {
    let v = [
        Null,
        Value::Int(0),
        Value::Int(1),
        Value::Int(2),
        Value::Int(3),
    ];
    assert_eq!(on(DataType::Int64, &v, "fBETWEEN1@2"), [F, F, T, T, F]);
    assert_eq!(on(DataType::Int64, &v, "fBETWEEN2@1"), [F, F, F, F, F]);
    let s = texts(&["a", "b", "c"]);
    assert_eq!(on(DataType::Utf8, &s, "fBETWEENa@b"), [F, T, T, F]);
    let d = [
        Null,
        Value::Date(19_722),
        Value::Date(19_723),
        Value::Date(19_724),
    ];
    assert_eq!(
        on(DataType::Date32, &d, "fBETWEEN2023-12-31@2024-01-01"),
        [F, T, T, F]
    );
}

#[test]
fn sameas_compares_two_fields_and_null_never_matches() {
    let schema = common::schema(&[("f", DataType::Int32), ("g", DataType::Int64)]);
    let rows = vec![
        vec![Null, Null],
        vec![Null, Value::Int(1)],
        vec![Value::Int(1), Null],
        vec![Value::Int(1), Value::Int(1)],
        vec![Value::Int(1), Value::Int(2)],
    ];
    assert_eq!(
        run_with("fSAMEASg", &schema, &rows, &ctx()),
        [F, F, F, T, F]
    );
    assert_eq!(
        run_with("fNSAMEASg", &schema, &rows, &ctx()),
        [F, F, F, F, T]
    );
    assert_eq!(
        run_with("fSAMEASf", &schema, &rows, &ctx()),
        [F, F, T, T, T]
    );

    // Signed against UInt64 compares exactly (no wrap-around).
    let schema = common::schema(&[("f", DataType::Int64), ("g", DataType::UInt64)]);
    let rows = vec![
        vec![Value::Int(-1), Value::UInt(u64::MAX)],
        vec![Value::Int(7), Value::UInt(7)],
    ];
    assert_eq!(run_with("fSAMEASg", &schema, &rows, &ctx()), [F, T]);
    assert_eq!(run_with("fNSAMEASg", &schema, &rows, &ctx()), [T, F]);

    let schema = common::schema(&[("f", DataType::Utf8), ("g", DataType::Utf8View)]);
    let rows = vec![
        vec![Text("a".into()), Text("a".into())],
        vec![Text("a".into()), Text("A".into())],
    ];
    assert_eq!(run_with("fSAMEASg", &schema, &rows, &ctx()), [T, F]);

    let schema = common::schema(&[
        ("f", DataType::Decimal128(5, 2)),
        ("g", DataType::Decimal128(12, 2)),
    ]);
    let rows = vec![vec![Value::Decimal(150), Value::Decimal(150)]];
    assert_eq!(run_with("fSAMEASg", &schema, &rows, &ctx()), [T]);
}

#[test]
fn floats_treat_zeros_as_equal_and_nan_as_the_greatest() {
    let v = [
        Null,
        Value::Float(-0.0),
        Value::Float(0.0),
        Value::Float(1.5),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
    ];
    assert_eq!(on(DataType::Float64, &v, "f=0"), [F, T, T, F, F, F]);
    assert_eq!(on(DataType::Float64, &v, "f=-0"), [F, T, T, F, F, F]);
    assert_eq!(on(DataType::Float64, &v, "f<0"), [F, F, F, F, F, F]);
    assert_eq!(on(DataType::Float64, &v, "f>1"), [F, F, F, T, T, T]);
    assert_eq!(on(DataType::Float64, &v, "f!=1.5"), [F, T, T, F, T, T]);
    // IN and NOT IN agree with `=`, also after the simplifier has merged
    // alternatives of a term.
    assert_eq!(on(DataType::Float32, &v, "fIN0,1.5"), [F, T, T, T, F, F]);
    assert_eq!(on(DataType::Float32, &v, "f=0^ORf=1.5"), [F, T, T, T, F, F]);
    assert_eq!(
        on(DataType::Float64, &v, "fNOT IN0,1.5"),
        [F, F, F, F, T, T]
    );
    assert_eq!(on(DataType::Float64, &v, "f!=0^f!=1.5"), [F, F, F, F, T, T]);
    assert_eq!(
        on(DataType::Float32, &v, "fBETWEEN-1@1e1"),
        [F, T, T, T, F, F]
    );
    // 0.1 is read as the Float32 nearest to it, like the stored value.
    let w = [Value::Float(f64::from(0.1f32))];
    assert_eq!(on(DataType::Float32, &w, "f=0.1"), [T]);
}

#[test]
fn decimals_compare_exactly_at_the_fields_scale() {
    let v = [
        Null,
        Value::Decimal(150),
        Value::Decimal(-1),
        Value::Decimal(99_999),
    ];
    let ty = DataType::Decimal128(5, 2);
    assert_eq!(on(ty.clone(), &v, "f=1.5"), [F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "f=1.50"), [F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "f=1.500"), [F, T, F, F]);
    assert_eq!(on(ty.clone(), &v, "f<0"), [F, F, T, F]);
    assert_eq!(on(ty.clone(), &v, "f>=999.99"), [F, F, F, T]);
    assert_eq!(on(ty, &v, "f=-0.01"), [F, F, T, F]);
    let hundreds = [Value::Decimal(12)];
    assert_eq!(on(DataType::Decimal128(5, -2), &hundreds, "f=1200"), [T]);
}

#[test]
fn booleans_dates_and_timestamps() {
    let b = [Null, Value::Bool(false), Value::Bool(true)];
    assert_eq!(on(DataType::Boolean, &b, "f=true"), [F, F, T]);
    assert_eq!(on(DataType::Boolean, &b, "f!=true"), [F, T, F]);
    let d = [Null, Value::Date(0), Value::Date(-1), Value::Date(19_782)];
    assert_eq!(on(DataType::Date32, &d, "f=1970-01-01"), [F, T, F, F]);
    assert_eq!(on(DataType::Date32, &d, "f<1970-01-01"), [F, F, T, F]);
    assert_eq!(on(DataType::Date32, &d, "f=2024-02-29"), [F, F, F, T]);
    // Timestamps are read as UTC, in the field's unit, whatever its zone.
    let noon = 1_704_110_400; // 2024-01-01 12:00:00 UTC
    for (unit, per_second) in [
        (TimeUnit::Second, 1),
        (TimeUnit::Millisecond, 1_000),
        (TimeUnit::Microsecond, 1_000_000),
        (TimeUnit::Nanosecond, 1_000_000_000),
    ] {
        let t = [
            Null,
            Value::Timestamp(noon * per_second),
            Value::Timestamp(noon * per_second + 1),
        ];
        for tz in [None, Some("+02:00".into()), Some("UTC".into())] {
            let ty = DataType::Timestamp(unit, tz);
            assert_eq!(
                on(ty.clone(), &t, "f=2024-01-01 12:00:00"),
                [F, T, F],
                "{ty}"
            );
            assert_eq!(on(ty, &t, "f>2024-01-01 12:00:00"), [F, F, T]);
        }
    }
}

#[test]
#[expect(
    clippy::nonminimal_bool,
    reason = "each closure spells out its query's grouping term by term"
)]
fn precedence_of_and_or_and_new_query() {
    let schema = common::schema(&[
        ("a", DataType::Int32),
        ("b", DataType::Int32),
        ("c", DataType::Int32),
    ]);
    let rows: Vec<Vec<Value>> = (0..8)
        .map(|i| (0..3).map(|bit| Value::Int((i >> bit) & 1)).collect())
        .collect();
    let truth = |f: fn(bool, bool, bool) -> bool| -> Vec<bool> {
        (0..8)
            .map(|i| f(i & 1 == 1, i & 2 == 2, i & 4 == 4))
            .collect()
    };
    for (q, want) in [
        ("a=1^b=1^ORc=1", truth(|a, b, c| a && (b || c))),
        ("a=1^ORb=1^c=1", truth(|a, b, c| (a || b) && c)),
        ("a=1^NQb=1^c=1", truth(|a, b, c| a || (b && c))),
        ("a=1^ORb=1^NQc=1", truth(|a, b, c| a || b || c)),
        ("a=1^b=1^NQc=1^ORa=0", truth(|a, b, c| (a && b) || c || !a)),
        ("a=1^b=1^c=1", truth(|a, b, c| a && b && c)),
    ] {
        assert_eq!(run_with(q, &schema, &rows, &ctx()), want, "{q}");
    }
}

#[test]
fn the_empty_query_matches_every_record_even_all_null() {
    let schema = common::schema(&[("f", DataType::Utf8)]);
    let rows = vec![vec![Null], vec![Text("x".into())]];
    assert_eq!(run_with("", &schema, &rows, &ctx()), [T, T]);
}

#[test]
fn dynamic_user_id_and_groups() {
    let v = texts(&["u1", "u2", "g1", "g_2", "gx2"]);
    assert_eq!(
        on(DataType::Utf8, &v, "f=javascript:gs.getUserID()"),
        [F, T, F, F, F, F]
    );
    assert_eq!(
        on(DataType::Utf8View, &v, "f!=javascript:gs.getUserID()"),
        [F, F, T, T, T, T]
    );
    assert_eq!(
        on(DataType::Utf8, &v, "fINjavascript:gs.getUserID()"),
        [F, T, F, F, F, F]
    );
    assert_eq!(
        on(DataType::Utf8, &v, "fSTARTSWITHjavascript:gs.getUserID()"),
        [F, T, F, F, F, F]
    );
    let groups = [F, F, F, T, T, F];
    let not_groups = [F, T, T, F, F, T];
    for q in [
        "f=javascript:gs.getUser().getMyGroups()",
        "fINjavascript:gs.getUser().getMyGroups()",
    ] {
        assert_eq!(on(DataType::Utf8, &v, q), groups, "{q}");
    }
    for q in [
        "f!=javascript:gs.getUser().getMyGroups()",
        "fNOT INjavascript:gs.getUser().getMyGroups()",
    ] {
        assert_eq!(on(DataType::LargeUtf8, &v, q), not_groups, "{q}");
    }
}

#[test]
fn a_principal_without_groups_is_in_none_and_not_in_all_but_null() {
    let schema = common::schema(&[("f", DataType::Utf8)]);
    let rows: Vec<_> = texts(&["", "g1"]).into_iter().map(|v| vec![v]).collect();
    let alone = DynamicContext {
        group_sys_ids: Vec::new(),
        ..ctx()
    };
    let run = |q| run_with(q, &schema, &rows, &alone);
    assert_eq!(run("fINjavascript:gs.getUser().getMyGroups()"), [F, F, F]);
    assert_eq!(run("f=javascript:gs.getUser().getMyGroups()"), [F, F, F]);
    assert_eq!(
        run("fNOT INjavascript:gs.getUser().getMyGroups()"),
        [F, T, T]
    );
    assert_eq!(run("f!=javascript:gs.getUser().getMyGroups()"), [F, T, T]);
}

#[test]
fn dynamic_has_role_with_admin_implying_all_but_nobody() {
    let b = [Null, Value::Bool(false), Value::Bool(true)];
    let s = texts(&["true", "false"]);
    let schema = common::schema(&[("f", DataType::Boolean)]);
    let rows: Vec<_> = b.iter().map(|v| vec![v.clone()]).collect();
    let admin = DynamicContext {
        roles: ["admin".to_owned()].into(),
        ..ctx()
    };
    let q = |role: &str| format!("f=javascript:gs.hasRole('{role}')");
    assert_eq!(run_with(&q("itil"), &schema, &rows, &ctx()), [F, F, T]);
    assert_eq!(run_with(&q("other"), &schema, &rows, &ctx()), [F, T, F]);
    assert_eq!(run_with(&q("other"), &schema, &rows, &admin), [F, F, T]);
    assert_eq!(run_with(&q("nobody"), &schema, &rows, &admin), [F, T, F]);
    assert_eq!(
        on(DataType::Utf8, &s, "f=javascript:gs.hasRole('itil')"),
        [F, T, F]
    );
    assert!(admin.has_role("itil") && !admin.has_role("nobody") && !ctx().has_role("x"));
}

fn table() -> Schema {
    common::schema(&[
        ("name", DataType::Utf8),
        ("priority", DataType::Int32),
        ("tiny", DataType::Int8),
        ("count", DataType::UInt32),
        ("score", DataType::Float64),
        ("amount", DataType::Decimal128(5, 2)),
        ("active", DataType::Boolean),
        ("due", DataType::Date32),
        ("opened", DataType::Timestamp(TimeUnit::Second, None)),
        ("closed", DataType::Timestamp(TimeUnit::Millisecond, None)),
        ("blob", DataType::Binary),
    ])
}

fn invalid(text: &str, field: &str, data_type: DataType) -> (String, String, DataType) {
    (text.into(), field.into(), data_type)
}

#[test]
fn literals_that_do_not_fit_the_field_are_errors_at_their_position() {
    let schema = table();
    for (q, position, (text, field, data_type)) in [
        (
            "priority=high",
            9,
            invalid("high", "priority", DataType::Int32),
        ),
        ("priority= 1", 9, invalid(" 1", "priority", DataType::Int32)),
        ("priority=+1", 9, invalid("+1", "priority", DataType::Int32)),
        (
            "priority=1.0",
            9,
            invalid("1.0", "priority", DataType::Int32),
        ),
        ("priority=", 9, invalid("", "priority", DataType::Int32)),
        (
            "name=a^priorityIN1,x,3",
            19,
            invalid("x", "priority", DataType::Int32),
        ),
        ("tiny=128", 5, invalid("128", "tiny", DataType::Int8)),
        ("count=-1", 6, invalid("-1", "count", DataType::UInt32)),
        ("score=NaN", 6, invalid("NaN", "score", DataType::Float64)),
        ("score=inf", 6, invalid("inf", "score", DataType::Float64)),
        (
            "score=1e999",
            6,
            invalid("1e999", "score", DataType::Float64),
        ),
        (
            "amount=1.005",
            7,
            invalid("1.005", "amount", DataType::Decimal128(5, 2)),
        ),
        (
            "amount=1000",
            7,
            invalid("1000", "amount", DataType::Decimal128(5, 2)),
        ),
        (
            "amount=1.",
            7,
            invalid("1.", "amount", DataType::Decimal128(5, 2)),
        ),
        (
            "active=TRUE",
            7,
            invalid("TRUE", "active", DataType::Boolean),
        ),
        ("active=1", 7, invalid("1", "active", DataType::Boolean)),
        (
            "due=2023-02-29",
            4,
            invalid("2023-02-29", "due", DataType::Date32),
        ),
        (
            "due=2024-1-01",
            4,
            invalid("2024-1-01", "due", DataType::Date32),
        ),
        (
            "dueBETWEEN2024-01-01@tomorrow",
            21,
            invalid("tomorrow", "due", DataType::Date32),
        ),
        (
            "opened>2024-01-01T00:00:00",
            7,
            invalid(
                "2024-01-01T00:00:00",
                "opened",
                DataType::Timestamp(TimeUnit::Second, None),
            ),
        ),
        (
            "opened>2024-01-01 24:00:00",
            7,
            invalid(
                "2024-01-01 24:00:00",
                "opened",
                DataType::Timestamp(TimeUnit::Second, None),
            ),
        ),
        (
            "opened>2024-01-01",
            7,
            invalid(
                "2024-01-01",
                "opened",
                DataType::Timestamp(TimeUnit::Second, None),
            ),
        ),
    ] {
        let e = error(&schema, q);
        match &e.kind {
            K::InvalidLiteral {
                text: t,
                field: f,
                data_type: d,
                ..
            } => {
                assert_eq!((t, f, d), (&text, &field, &data_type), "{q}")
            }
            other => panic!("{q}: {other:?}"),
        }
        assert_eq!(e.position, position, "{q}: {e}");
    }
    assert_eq!(
        error(&schema, "tiny=128").to_string(),
        "position 5: \"128\" is not a valid value for field \"tiny\" (Int8): expected an integer from -128 to 127"
    );
}

#[test]
fn fields_and_operators_that_do_not_fit_are_errors_at_their_position() {
    let schema = table();
    let cases = [
        ("name=a^nope=1", 7, K::UnknownField("nope".into())),
        ("nameSAMEASnope", 10, K::UnknownField("nope".into())),
        (
            "priorityLIKE1",
            0,
            K::NeedsString {
                op: Op::Like,
                field: "priority".into(),
                data_type: DataType::Int32,
            },
        ),
        (
            "activeSTARTSWITHt",
            0,
            K::NeedsString {
                op: Op::StartsWith,
                field: "active".into(),
                data_type: DataType::Boolean,
            },
        ),
        (
            "blob=a",
            0,
            K::UnsupportedType {
                field: "blob".into(),
                data_type: DataType::Binary,
            },
        ),
        (
            "nameSAMEASpriority",
            0,
            K::Incomparable {
                field: "name".into(),
                data_type: DataType::Utf8,
                other: "priority".into(),
                other_type: DataType::Int32,
            },
        ),
        (
            "priorityNSAMEASscore",
            0,
            K::Incomparable {
                field: "priority".into(),
                data_type: DataType::Int32,
                other: "score".into(),
                other_type: DataType::Float64,
            },
        ),
        (
            "openedSAMEASclosed",
            0,
            K::Incomparable {
                field: "opened".into(),
                data_type: DataType::Timestamp(TimeUnit::Second, None),
                other: "closed".into(),
                other_type: DataType::Timestamp(TimeUnit::Millisecond, None),
            },
        ),
        (
            "blobSAMEASblob",
            0,
            K::UnsupportedType {
                field: "blob".into(),
                data_type: DataType::Binary,
            },
        ),
        (
            "priority=javascript:gs.getUserID()",
            9,
            K::DynamicType {
                dynamic: Dynamic::UserId,
                field: "priority".into(),
                data_type: DataType::Int32,
            },
        ),
        (
            "activeINjavascript:gs.getUser().getMyGroups()",
            8,
            K::DynamicType {
                dynamic: Dynamic::MyGroups,
                field: "active".into(),
                data_type: DataType::Boolean,
            },
        ),
        (
            "priority=javascript:gs.hasRole('itil')",
            9,
            K::DynamicType {
                dynamic: Dynamic::HasRole("itil".into()),
                field: "priority".into(),
                data_type: DataType::Int32,
            },
        ),
    ];
    for (q, position, kind) in cases {
        assert_eq!(error(&schema, q), CompileError { position, kind }, "{q}");
    }
}

#[test]
fn a_long_query_compiles_to_a_shallow_expression() {
    let schema = common::schema(&[("f", DataType::Int64)]);
    let query = (0..3_000)
        .map(|i| format!("f={i}"))
        .collect::<Vec<_>>()
        .join("^OR");
    let rows = vec![vec![Value::Int(2_999)], vec![Value::Int(-1)], vec![Null]];
    assert_eq!(run_with(&query, &schema, &rows, &ctx()), [T, F, F]);
    let query = (0..3_000)
        .map(|i| format!("f!={i}"))
        .collect::<Vec<_>>()
        .join("^");
    assert_eq!(run_with(&query, &schema, &rows, &ctx()), [F, T, F]);
}
