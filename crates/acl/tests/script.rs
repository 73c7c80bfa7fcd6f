//! ACL scripts: SQL boolean expressions over the record, with the session
//! functions replaced per principal, NULL read as false, and everything a
//! condition must not do refused with its location.

mod common;

use datafusion::arrow::datatypes::{DataType, Schema};
use sqlgate_acl::condition::{DynamicContext, Value};
use sqlgate_acl::script::{
    Location, MAX_DEPTH, MAX_LEN, SCRIPT_FUNCTIONS, ScriptError, ScriptErrorKind as K,
    compile_script,
};

use Value::{Int, Null, Text};

fn table() -> Schema {
    common::schema(&[
        ("priority", DataType::Int32),
        ("assigned_to", DataType::Utf8),
        ("assignment_group", DataType::Utf8View),
        ("short_description", DataType::LargeUtf8),
        ("active", DataType::Boolean),
        ("Mixed", DataType::Int64),
    ])
}

fn ctx() -> DynamicContext {
    DynamicContext {
        user_sys_id: "u1".into(),
        group_sys_ids: vec!["g1".into()],
        roles: ["itil".to_owned()].into(),
    }
}

fn rows() -> Vec<Vec<Value>> {
    vec![
        vec![
            Int(1),
            Text("u1".into()),
            Text("g1".into()),
            Text("VPN down".into()),
            Value::Bool(true),
            Int(7),
        ],
        vec![
            Int(3),
            Text("u1".into()),
            Text("g2".into()),
            Text("printer".into()),
            Value::Bool(false),
            Null,
        ],
        vec![Int(2), Text("u2".into()), Null, Null, Null, Int(-1)],
        vec![Null, Null, Null, Null, Null, Null],
    ]
}

fn run(sql: &str, ctx: &DynamicContext) -> Vec<bool> {
    let schema = table();
    let expr = compile_script(sql, &schema, ctx).unwrap_or_else(|e| panic!("{sql}: {e}"));
    common::evaluate(&expr, &schema, &rows()).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn refused(sql: &str) -> ScriptError {
    compile_script(sql, &table(), &ctx()).expect_err(sql)
}

fn at(line: u64, column: u64) -> Option<Location> {
    Some(Location { line, column })
}

const T: bool = true;
const F: bool = false;

#[test]
fn a_script_filters_records_and_null_counts_as_false() {
    assert_eq!(run("priority <= 2", &ctx()), [T, F, T, F]);
    assert_eq!(
        run("priority <= 2 AND assigned_to = user_sys_id()", &ctx()),
        [T, F, F, F]
    );
    assert_eq!(run("NOT (priority <= 2)", &ctx()), [F, T, F, F]);
    assert_eq!(run("priority <> 3", &ctx()), [T, F, T, F]);
    assert_eq!(run("active", &ctx()), [T, F, F, F]);
    assert_eq!(run("active IS NOT TRUE", &ctx()), [F, T, T, T]);
    assert_eq!(run("coalesce(active, true)", &ctx()), [T, F, T, T]);
    assert_eq!(run("priority > NULL", &ctx()), [F, F, F, F]);
    assert_eq!(run("short_description LIKE '%VPN%'", &ctx()), [T, F, F, F]);
    assert_eq!(
        run(
            "lower(short_description) LIKE '%vpn%' OR priority IN (2, 3)",
            &ctx()
        ),
        [T, T, T, F]
    );
    assert_eq!(run("\"Mixed\" > 0", &ctx()), [T, F, F, F]);
    assert_eq!(
        run("CASE WHEN priority = 1 THEN true END", &ctx()),
        [T, F, F, F]
    );
    assert_eq!(run("TRUE", &ctx()), [T, T, T, T]);
}

#[test]
fn identifiers_are_read_like_datafusion_reads_them() {
    // Unquoted names fold to lowercase; quoted ones are exact.
    assert_eq!(run("PRIORITY = 1", &ctx()), [T, F, F, F]);
    assert_eq!(run("\"priority\" = 1", &ctx()), [T, F, F, F]);
    let e = refused("\"Priority\" = 1");
    assert_eq!(
        (e.location, e.kind),
        (at(1, 1), K::UnknownColumn("Priority".into()))
    );
    let e = refused("Mixed > 0");
    assert_eq!(e.kind, K::UnknownColumn("mixed".into()));
}

#[test]
fn session_functions_are_the_principals_values() {
    assert_eq!(run("assigned_to = user_sys_id()", &ctx()), [T, T, F, F]);
    assert_eq!(run("user_has_role('itil')", &ctx()), [T, T, T, T]);
    assert_eq!(run("user_has_role('other')", &ctx()), [F, F, F, F]);
    assert_eq!(run("user_in_group('g1')", &ctx()), [T, T, T, T]);
    assert_eq!(
        run("user_in_group('g2') OR priority = 3", &ctx()),
        [F, T, F, F]
    );
    let admin = DynamicContext {
        roles: ["admin".to_owned()].into(),
        ..ctx()
    };
    assert_eq!(run("user_has_role('other')", &admin), [T, T, T, T]);
    assert_eq!(run("user_has_role('nobody')", &admin), [F, F, F, F]);
    // Upper case is the same function, as for every SQL function.
    assert_eq!(
        run(
            "USER_HAS_ROLE('itil') AND assigned_to = User_Sys_Id()",
            &ctx()
        ),
        [T, T, F, F]
    );
    // The replacement is a literal: nothing of the function is left.
    let expr = compile_script("assigned_to = user_sys_id()", &table(), &ctx()).unwrap();
    let text = expr.to_string();
    assert!(
        text.contains("u1") && !text.contains("user_sys_id"),
        "{text}"
    );
}

#[test]
fn session_functions_take_exactly_their_arguments() {
    for (sql, column) in [
        ("user_has_role(assigned_to)", 1),
        ("user_has_role('a', 'b')", 1),
        ("user_has_role()", 1),
        ("user_has_role(\"itil\")", 1),
        ("priority = 1 AND user_in_group(1)", 18),
        ("user_in_group(DISTINCT 'g1')", 1),
    ] {
        let e = refused(sql);
        assert_eq!(e.location, at(1, column), "{sql}: {e}");
        assert!(matches!(e.kind, K::SessionFunction(_)), "{sql}: {e}");
    }
    let e = refused("assigned_to = user_sys_id('x')");
    assert_eq!(
        (e.location, e.to_string()),
        (
            at(1, 15),
            "line 1, column 15: user_sys_id() takes no arguments".into()
        )
    );
}

#[test]
fn what_a_condition_must_not_do_is_refused_where_it_is() {
    for (sql, location, kind) in [
        ("nope = 1", at(1, 1), K::UnknownColumn("nope".into())),
        (
            "priority = 1 AND\n  nope > 2",
            at(2, 3),
            K::UnknownColumn("nope".into()),
        ),
        (
            "incident.priority = 1",
            at(1, 1),
            K::QualifiedName("incident.priority".into()),
        ),
        ("random() > 0.5", at(1, 1), K::Volatile("random".into())),
        ("uuid() = assigned_to", at(1, 1), K::Volatile("uuid".into())),
        (
            "count(priority) > 1",
            at(1, 1),
            K::Aggregate("count".into()),
        ),
        ("max(priority) > 1", at(1, 1), K::Aggregate("max".into())),
        (
            "lower(assigned_to) FILTER (WHERE true) = 'x'",
            at(1, 1),
            K::Aggregate("lower".into()),
        ),
        (
            "row_number() OVER () = 1",
            at(1, 1),
            K::Window("row_number".into()),
        ),
        (
            "lower(assigned_to) OVER () = 'x'",
            at(1, 1),
            K::Window("lower".into()),
        ),
        (
            "no_such_function(priority)",
            at(1, 1),
            K::UnknownFunction("no_such_function".into()),
        ),
        (
            "pg_catalog.lower(assigned_to) = 'x'",
            at(1, 1),
            K::QualifiedName("pg_catalog.lower".into()),
        ),
        ("priority = $1", at(1, 12), K::Parameter),
    ] {
        let e = refused(sql);
        assert_eq!((e.location, &e.kind), (location, &kind), "{sql}: {e}");
    }
}

/// A policy author's typo or a hostile policy must not take the server
/// down: functions whose result grows with a number argument would
/// allocate gigabytes when the script is checked at load, and on every
/// record afterwards. They are refused by name, aliases and SQL syntax
/// forms included.
#[test]
fn functions_that_can_grow_without_bound_are_refused() {
    for (sql, location, name) in [
        ("repeat('x', 2147483647) = assigned_to", at(1, 1), "repeat"),
        (
            "priority = 1 OR lpad(assigned_to, 2000000000) = 'x'",
            at(1, 17),
            "lpad",
        ),
        ("rpad('', 2000000000, 'y') = ''", at(1, 1), "rpad"),
        ("cardinality(range(1, 2000000000)) > 0", at(1, 13), "range"),
        (
            "cardinality(array_repeat(1, 2000000000)) > 0",
            at(1, 13),
            "array_repeat",
        ),
        (
            "replace(assigned_to, 'u', assigned_to) = 'x'",
            at(1, 1),
            "replace",
        ),
        (
            "levenshtein(assigned_to, short_description) < 3",
            at(1, 1),
            "levenshtein",
        ),
    ] {
        let e = refused(sql);
        assert_eq!(
            (e.location, &e.kind),
            (location, &K::FunctionNotAllowed(name.into())),
            "{sql}: {e}"
        );
    }
    // OVERLAY is syntax, planned to a function the allow-list leaves out.
    let e = refused("overlay(assigned_to placing 'x' from 1) = 'x'");
    assert_eq!(e.kind, K::FunctionNotAllowed("overlay".into()), "{e}");
}

#[test]
fn listed_functions_work_through_their_aliases_and_syntax() {
    assert_eq!(run("char_length(assigned_to) = 2", &ctx()), [T, T, T, F]);
    assert_eq!(
        run("substring(assigned_to from 2 for 1) = '1'", &ctx()),
        [T, T, F, F]
    );
    assert_eq!(
        run("trim(both ' ' from assigned_to) = 'u2'", &ctx()),
        [F, F, T, F]
    );
    assert_eq!(
        run("position('1' in assigned_to) = 2", &ctx()),
        [T, T, F, F]
    );
    assert_eq!(run("priority = ANY(ARRAY[1, 2])", &ctx()), [T, F, T, F]);
    assert_eq!(run("coalesce(priority, 0) >= 2", &ctx()), [F, T, T, F]);
}

/// Every listed name is one DataFusion knows: a function renamed or
/// dropped by an upgrade shows up here, not as a policy that stops loading.
#[test]
fn every_listed_function_exists() {
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .build();
    let known: std::collections::BTreeSet<&str> = state
        .scalar_functions()
        .values()
        .map(|f| f.name())
        .collect();
    for name in SCRIPT_FUNCTIONS {
        assert!(known.contains(name), "{name} is not a DataFusion function");
    }
}

#[test]
fn subqueries_of_every_form_are_refused() {
    for sql in [
        "priority > (SELECT 1)",
        "EXISTS (SELECT 1)",
        "priority IN (SELECT 1)",
        "priority = ANY (SELECT 1)",
        "priority > (SELECT max(priority) FROM incident)",
    ] {
        assert_eq!(refused(sql).kind, K::Subquery, "{sql}");
    }
}

#[test]
fn the_result_must_be_boolean() {
    for (sql, ty) in [
        ("priority + 1", DataType::Int64),
        ("assigned_to", DataType::Utf8),
        ("user_sys_id()", DataType::Utf8),
        ("NULL", DataType::Null),
    ] {
        assert_eq!(refused(sql).kind, K::NotBoolean(ty), "{sql}");
    }
}

#[test]
fn syntax_errors_and_extra_text_are_refused() {
    for sql in [
        "",
        "priority >",
        "priority = 1; DROP TABLE incident",
        "priority = 1 AS x",
        "(priority = 1",
    ] {
        let e = refused(sql);
        assert!(matches!(e.kind, K::Syntax(_)), "{sql}: {e}");
        assert!(e.to_string().starts_with("syntax error: "), "{e}");
    }
}

#[test]
fn depth_and_length_are_bounded() {
    let nested = |n: usize| format!("{}priority > 1{}", "(".repeat(n), ")".repeat(n));
    assert!(compile_script(&nested(MAX_DEPTH - 3), &table(), &ctx()).is_ok());
    assert_eq!(refused(&nested(MAX_DEPTH)).kind, K::TooDeep);
    assert_eq!(refused(&nested(2_000)).kind, K::TooDeep);
    let chain = vec!["priority = 1"; MAX_DEPTH].join(" OR ");
    assert_eq!(refused(&chain).kind, K::TooDeep);
    let not = format!("{}true", "NOT ".repeat(MAX_DEPTH + 1));
    assert_eq!(refused(&not).kind, K::TooDeep);
    let long = format!("priority = 1{}", " ".repeat(MAX_LEN));
    assert_eq!(refused(&long).kind, K::TooLong(MAX_LEN + 12));
}

#[test]
fn a_hostile_script_cannot_exhaust_a_small_stack() {
    // The longest left-deep chain that fits the length limit, compiled on
    // a thread with a quarter of a tokio worker's stack.
    let chain = format!("1{} = 2", "+1".repeat((MAX_LEN - 8) / 2));
    assert!(chain.len() <= MAX_LEN);
    let nested = format!(
        "{}1{}",
        "(".repeat(MAX_LEN / 2 - 1),
        ")".repeat(MAX_LEN / 2 - 1)
    );
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let schema = table();
            [chain, nested].map(|sql| compile_script(&sql, &schema, &ctx()).map_err(|e| e.kind))
        })
        .unwrap();
    let [chain, nested] = handle.join().expect("no stack overflow");
    assert_eq!(chain, Err(K::TooDeep));
    assert_eq!(nested, Err(K::TooDeep));
}

#[test]
fn what_only_a_statement_can_evaluate_is_refused_at_compile_time() {
    // now() and current_date need the statement's start time; a script is
    // compiled once per session. The allow-list leaves them out; the dry
    // run behind it would refuse them too.
    for sql in [
        "now() > TIMESTAMP '2000-01-01 00:00:00'",
        "current_date() > DATE '2000-01-01'",
    ] {
        assert!(
            matches!(
                refused(sql).kind,
                K::FunctionNotAllowed(_) | K::NotEvaluable(_)
            ),
            "{sql}"
        );
    }
    assert_eq!(run("starts_with(assigned_to, 'u')", &ctx()), [T, T, T, F]);
}

#[test]
fn a_cast_that_fails_does_not_match_instead_of_failing_the_query() {
    // An error would print the hidden value; NULL just does not match.
    assert_eq!(
        run("CAST(short_description AS INT) > 0", &ctx()),
        [F, F, F, F]
    );
    assert_eq!(
        run("CAST(assigned_to AS VARCHAR) = 'u1'", &ctx()),
        [T, T, F, F]
    );
    assert_eq!(run("priority::SMALLINT = 1", &ctx()), [T, F, F, F]);
}
