//! The evaluation rules of the model, one by one, on plain values: the
//! table gate, the hierarchy, the ordering of levels, admin override and
//! `nobody`, empty ACLs, applies_to, row predicates and field masks.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use sqlgate_acl::access::{Compiler, FieldAccess, dynamic_context};
use sqlgate_acl::{Policy, Principal, TableMeta, Tables};

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("sys_id", DataType::Utf8, false),
        Field::new("sys_class_name", DataType::Utf8, false),
        Field::new("priority", DataType::Int32, true),
        Field::new("assigned_to", DataType::Utf8, true),
        Field::new("notes", DataType::Utf8, true),
    ]))
}

/// task <- incident <- major_incident; kb (flag off); other.
fn tables() -> Tables {
    let t = |name: &str, parent: Option<&str>, web: bool| TableMeta {
        name: name.into(),
        parent: parent.map(Into::into),
        web_service_access: web,
        schema: schema(),
    };
    Tables::new([
        t("task", None, true),
        t("incident", Some("task"), true),
        t("major_incident", Some("incident"), true),
        t("kb", None, false),
        t("other", None, true),
    ])
}

const ME: &str = "0000000000000000000000000000000a";

/// A policy with `accounts` roles and the given ACL entries.
fn policy(roles: &[&str], acls: &str) -> (Policy, Principal) {
    let text = format!(
        "[[role]]\nname = \"r1\"\ncontains = [\"r2\"]\n[[role]]\nname = \"r2\"\n[[role]]\nname = \"r3\"\n[[role]]\nname = \"r4\"\n\
         [[group]]\nname = \"parent\"\nsys_id = \"{g1}\"\nroles = [\"r4\"]\n\
         [[group]]\nname = \"child\"\nsys_id = \"{g2}\"\nparent = \"parent\"\n\
         [[account]]\nuser_name = \"u\"\nsys_id = \"{ME}\"\nweb_service_access_only = true\ngroups = [\"child\"]\nroles = [{}]\n\n{acls}",
        roles
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        g1 = "1".repeat(32),
        g2 = "2".repeat(32),
    );
    let p = Policy::from_toml(&text, &tables()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let u = p.principal("u").unwrap();
    (p, u)
}

fn acl(op: &str, name: &str, extra: &str) -> String {
    format!("[[acl]]\noperation = \"{op}\"\nname = \"{name}\"\n{extra}\n\n")
}

fn gate(roles: &[&str], acls: &str, table: &str) -> bool {
    let (p, u) = policy(roles, acls);
    p.table_gate(&tables(), &u, table).allowed
}

fn both(name: &str, extra: &str) -> String {
    acl("egress_sql", name, extra) + &acl("read", name, extra)
}

#[test]
fn a_table_needs_both_egress_and_read() {
    assert!(gate(&["r2"], &both("other", "roles = [\"r2\"]"), "other"));
    assert!(!gate(
        &["r2"],
        &acl("read", "other", "roles = [\"r2\"]"),
        "other"
    ));
    assert!(!gate(
        &["r2"],
        &acl("egress_sql", "other", "roles = [\"r2\"]"),
        "other"
    ));
    assert!(!gate(&["r3"], &both("other", "roles = [\"r2\"]"), "other"));
}

#[test]
fn the_web_service_flag_wins_over_any_acl() {
    assert!(!gate(&["admin"], &both("kb", "roles = [\"r2\"]"), "kb"));
}

#[test]
fn egress_is_never_granted_by_star() {
    let text = acl("egress_sql", "*", "roles = [\"r2\"]");
    let e = Policy::from_toml(&text, &tables()).unwrap_err();
    assert!(e.to_string().contains("never granted by `*`"), "{e}");
    // read on * is fine, but egress must still name the table.
    let acls =
        acl("read", "*", "roles = [\"r2\"]") + &acl("egress_sql", "other", "roles = [\"r2\"]");
    assert!(gate(&["r2"], &acls, "other"));
    assert!(!gate(&["r2"], &acls, "task"));
}

#[test]
fn the_most_specific_level_with_allow_if_decides() {
    // incident's own ACL fails; task's would pass but is not consulted.
    let acls = acl("egress_sql", "incident", "roles = [\"r2\"]")
        + &acl("read", "incident", "roles = [\"r3\"]")
        + &acl("read", "task", "roles = [\"r2\"]");
    let (p, u) = policy(&["r2"], &acls);
    let decision = p.table_gate(&tables(), &u, "incident");
    assert!(!decision.allowed);
    let levels: Vec<_> = decision
        .read
        .levels
        .iter()
        .map(|l| (l.name.clone(), l.decided))
        .collect();
    assert_eq!(
        levels,
        [("incident".to_owned(), true), ("task".to_owned(), false)]
    );
    // Without an incident-level read ACL, task's decides through the hierarchy.
    let acls = acl("egress_sql", "major_incident", "roles = [\"r2\"]")
        + &acl("read", "task", "roles = [\"r2\"]");
    assert!(gate(&["r2"], &acls, "major_incident"));
}

#[test]
fn every_deny_unless_at_every_level_must_pass() {
    let grant = both("incident", "roles = [\"r2\"]");
    assert!(gate(&["r2"], &grant, "incident"));
    let deny = acl("read", "*", "decision = \"deny_unless\"\nroles = [\"r3\"]");
    assert!(!gate(&["r2"], &(grant.clone() + &deny), "incident"));
    assert!(gate(&["r2", "r3"], &(grant + &deny), "incident"));
}

#[test]
fn no_allow_if_means_deny_and_an_empty_acl_denies() {
    assert!(!gate(&["r2"], "", "other"));
    assert!(!gate(&["r2"], &both("other", ""), "other"));
}

#[test]
fn roles_are_transitive_and_groups_inherit_from_parents() {
    // r1 contains r2; the child group inherits r3 from its parent.
    assert!(gate(&["r1"], &both("other", "roles = [\"r2\"]"), "other"));
    assert!(gate(&[], &both("other", "roles = [\"r4\"]"), "other"));
    let (_, u) = policy(&[], "");
    assert_eq!(
        u.groups.len(),
        1,
        "members of the child are not members of the parent"
    );
}

#[test]
fn admin_overrides_unless_told_not_to_or_nobody_is_required() {
    // admin implies every role...
    assert!(gate(
        &["admin"],
        &both("other", "roles = [\"r2\"]"),
        "other"
    ));
    // ...except nobody, which no one holds.
    assert!(!gate(
        &["admin"],
        &both("other", "roles = [\"nobody\"]"),
        "other"
    ));
    let t = tables();
    // With the override an admin passes the condition outright; without
    // it, the condition applies to the admin like to anyone.
    let cond = "roles = [\"r2\"]\ncondition = \"priority<=2\"";
    let (p, u) = policy(&["admin"], &both("incident", cond));
    assert!(
        compiler(&p, &u, &t, "incident")
            .row_filter()
            .unwrap()
            .is_none()
    );
    let (p, u) = policy(
        &["admin"],
        &both("incident", &format!("{cond}\nadmin_overrides = false")),
    );
    let filter = compiler(&p, &u, &t, "incident")
        .row_filter()
        .unwrap()
        .unwrap();
    assert_eq!(
        evaluate(&filter, &PRIOS, &ASSIGNED),
        [true, true, false, false, false]
    );
}

#[test]
fn inactive_acls_do_not_exist() {
    let acls = both("other", "roles = [\"r2\"]")
        + &acl(
            "read",
            "other",
            "decision = \"deny_unless\"\nroles = [\"r3\"]\nactive = false",
        );
    assert!(gate(&["r2"], &acls, "other"));
}

/// Which of the rows pass `expr`.
fn evaluate(expr: &Expr, priorities: &[Option<i32>], assigned: &[Option<&str>]) -> Vec<bool> {
    let n = priorities.len();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["x"; n])),
        Arc::new(StringArray::from(vec!["incident"; n])),
        Arc::new(Int32Array::from(priorities.to_vec())),
        Arc::new(StringArray::from(assigned.to_vec())),
        Arc::new(StringArray::from(vec![Some("n"); n])),
    ];
    let batch = RecordBatch::try_new(schema(), cols).unwrap();
    let df = DFSchema::try_from(schema().as_ref().clone()).unwrap();
    let physical = SessionContext::new()
        .create_physical_expr(expr.clone(), &df)
        .unwrap();
    let out = physical.evaluate(&batch).unwrap().into_array(n).unwrap();
    let out = out.as_any().downcast_ref::<BooleanArray>().unwrap();
    (0..n).map(|i| !out.is_null(i) && out.value(i)).collect()
}

fn compiler<'a>(p: &'a Policy, u: &'a Principal, t: &'a Tables, class: &str) -> Compiler<'a> {
    Compiler {
        policy: p,
        tables: t,
        principal: u,
        class: class.to_owned(),
        schema: schema().as_ref().clone(),
        dynamic: dynamic_context(u),
    }
}

const PRIOS: [Option<i32>; 5] = [Some(1), Some(2), Some(3), None, Some(5)];
const ASSIGNED: [Option<&str>; 5] = [None, Some(ME), Some(ME), Some(ME), Some("someone")];

#[test]
fn row_conditions_become_one_vectorised_predicate() {
    // Either ACL at the incident level may grant a record.
    let acls = both("incident", "roles = [\"r2\"]\ncondition = \"priority<=2\"")
        + &acl(
            "read",
            "incident",
            "roles = [\"r2\"]\ncondition = \"assigned_to=javascript:gs.getUserID()\"",
        );
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    let filter = compiler(&p, &u, &t, "incident")
        .row_filter()
        .unwrap()
        .unwrap();
    assert_eq!(
        evaluate(&filter, &PRIOS, &ASSIGNED),
        [true, true, true, true, false]
    );
}

#[test]
fn applies_to_makes_the_deciding_level_depend_on_the_record() {
    // incident-level ACL only concerns P1 records; for the others, the task
    // level decides (which grants only records assigned to me).
    let acls = acl("egress_sql", "incident", "roles = [\"r2\"]")
        + &acl(
            "read",
            "incident",
            "roles = [\"r3\"]\napplies_to = \"priority=1\"",
        )
        + &acl(
            "read",
            "task",
            "roles = [\"r2\"]\ncondition = \"assigned_to=javascript:gs.getUserID()\"",
        );
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    let filter = compiler(&p, &u, &t, "incident")
        .row_filter()
        .unwrap()
        .unwrap();
    // P1 (not mine): the incident level decides and r3 is missing -> no.
    assert_eq!(
        evaluate(&filter, &PRIOS, &ASSIGNED),
        [false, true, true, true, false]
    );
}

#[test]
fn deny_unless_conditions_restrict_every_record() {
    let acls = both("incident", "roles = [\"r2\"]")
        + &acl(
            "read",
            "task",
            "decision = \"deny_unless\"\ncondition = \"priority!=5\"",
        );
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    let filter = compiler(&p, &u, &t, "incident")
        .row_filter()
        .unwrap()
        .unwrap();
    // NULL priority fails a negative condition (fail closed).
    assert_eq!(
        evaluate(&filter, &PRIOS, &ASSIGNED),
        [true, true, true, false, false]
    );
}

#[test]
fn privileged_mode_skips_rows_and_fields_but_not_the_gate() {
    let acls = both("incident", "roles = [\"r2\"]\ncondition = \"priority<=2\"")
        + &acl("read", "incident.notes", "roles = [\"r3\"]");
    let (p, u) = policy(&["r2", "sn_sql_api_privileged_mode"], &acls);
    let t = tables();
    let c = compiler(&p, &u, &t, "incident");
    assert!(c.row_filter().unwrap().is_none());
    assert_eq!(c.field("notes").unwrap(), FieldAccess::Visible);
    assert!(!p.table_gate(&t, &u, "other").allowed);
}

#[test]
fn fields_are_visible_masked_or_absent() {
    let acls = both("incident", "roles = [\"r2\"]")
        + &acl(
            "read",
            "incident.notes",
            "roles = [\"r2\"]\ncondition = \"priority=1\"",
        )
        + &acl("read", "incident.assigned_to", "roles = [\"r3\"]")
        + &acl("read", "*.priority", "roles = [\"r3\"]")
        + &acl("read", "incident.priority", "roles = [\"r2\"]");
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    let c = compiler(&p, &u, &t, "incident");
    // No field ACL at all: readable.
    assert_eq!(c.field("sys_id").unwrap(), FieldAccess::Visible);
    // Roles fail: absent.
    assert_eq!(c.field("assigned_to").unwrap(), FieldAccess::Hidden);
    // The specific name decides over *.priority.
    assert_eq!(c.field("priority").unwrap(), FieldAccess::Visible);
    // A condition: masked per record.
    let FieldAccess::Masked(visible) = c.field("notes").unwrap() else {
        panic!("notes should be masked");
    };
    assert_eq!(
        evaluate(&visible, &PRIOS, &ASSIGNED),
        [true, false, false, false, false]
    );
}

#[test]
fn field_candidates_run_field_names_before_wildcards() {
    // incident.* would hide every field, but task.notes is more specific.
    let acls = both("incident", "roles = [\"r2\"]")
        + &acl("read", "incident.*", "roles = [\"r3\"]")
        + &acl("read", "task.notes", "roles = [\"r2\"]");
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    let c = compiler(&p, &u, &t, "incident");
    assert_eq!(c.field("notes").unwrap(), FieldAccess::Visible);
    assert_eq!(c.field("priority").unwrap(), FieldAccess::Hidden);
}

#[test]
fn query_acls_default_to_allowed_and_deny_explicitly() {
    let acls = both("incident", "roles = [\"r2\"]")
        + &acl("query_range", "incident.notes", "roles = [\"r3\"]");
    let (p, u) = policy(&["r2"], &acls);
    let t = tables();
    use sqlgate_acl::Operation::{QueryMatch, QueryRange};
    assert!(
        !p.query_acl(&t, &u, "incident", "notes", QueryRange)
            .verdict
            .possible()
    );
    assert!(
        p.query_acl(&t, &u, "incident", "notes", QueryMatch)
            .verdict
            .possible()
    );
    assert!(
        p.query_acl(&t, &u, "incident", "priority", QueryRange)
            .verdict
            .possible()
    );
    let bad = acl(
        "query_match",
        "incident.notes",
        "condition = \"priority=1\"",
    );
    assert!(Policy::from_toml(&bad, &t).is_err());
}

#[test]
fn invalid_policies_report_every_error_with_its_line() {
    let text = "[[acl]]\noperation = \"read\"\nname = \"incident\"\nroles = [\"ghost\"]\n\n\
                [[acl]]\noperation = \"read\"\nname = \"incident\"\ncondition = \"priority~1\"\n\n\
                [[acl]]\noperation = \"read\"\nname = \"incident\"\nscript = \"nope > 1\"\n\n\
                [[account]]\nuser_name = \"x\"\nsys_id = \"short\"\n";
    let errors = Policy::from_toml(text, &tables()).unwrap_err().0;
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(1), Some(6), Some(11), Some(16)], "{errors:?}");
    assert!(
        errors[1].message.contains("condition: position 8"),
        "{}",
        errors[1]
    );
    // Unknown keys are errors too: a typo must not weaken a rule silently.
    let typo = "[[acl]]\noperation = \"read\"\nname = \"incident\"\nadmin_overides = false\n";
    assert!(Policy::from_toml(typo, &tables()).is_err());
}

#[test]
fn certificate_and_token_subjects_name_one_account_each() {
    let account = |name: &str, id: &str, extra: &str| {
        format!("[[account]]\nuser_name = {name:?}\nsys_id = {id:?}\n{extra}\n\n")
    };
    let ok = account(
        "a",
        "0000000000000000000000000000000a",
        "cert_subject = \"CN=a\"\ntoken_subject = \"sub-a\"",
    ) + &account(
        "b",
        "0000000000000000000000000000000b",
        "cert_subject = \"CN=b\"\ntoken_subject = \"sub-b\"",
    );
    let p = Policy::from_toml(&ok, &tables()).unwrap();
    assert_eq!(
        p.account("a").unwrap().cert_subject.as_deref(),
        Some("CN=a")
    );
    assert_eq!(
        p.account("b").unwrap().token_subject.as_deref(),
        Some("sub-b")
    );
    for (extra_a, extra_b) in [
        ("cert_subject = \"CN=x\"", "cert_subject = \"CN=x\""),
        ("token_subject = \"x\"", "token_subject = \"x\""),
        ("cert_subject = \"\"", ""),
        ("token_subject = \"\"", ""),
    ] {
        let text = account("a", "0000000000000000000000000000000a", extra_a)
            + &account("b", "0000000000000000000000000000000b", extra_b);
        assert!(Policy::from_toml(&text, &tables()).is_err(), "{text}");
    }
}
