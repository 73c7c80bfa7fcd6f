//! Policies written by tests: a handful of accounts covering every login
//! outcome, and table ACLs granted per role.

#![allow(dead_code)]

use super::verifier;

/// Every test account's password is `pw-<user_name>`.
pub fn password(user: &str) -> String {
    format!("pw-{user}")
}

/// An account entry.
pub fn account(user: &str, sys_id: &str, roles: &[&str], extra: &str) -> String {
    format!(
        "[[account]]\nuser_name = {user:?}\nsys_id = {sys_id:?}\nroles = [{}]\nscram = {:?}\n{extra}\n",
        roles
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        verifier(&password(user)),
    )
}

/// egress_sql + read ACLs on `table` for `roles`.
pub fn grant(table: &str, roles: &[&str]) -> String {
    let roles = roles
        .iter()
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[acl]]\noperation = \"egress_sql\"\nname = {table:?}\nroles = [{roles}]\n\n\
         [[acl]]\noperation = \"read\"\nname = {table:?}\nroles = [{roles}]\n\n"
    )
}

/// The standard test policy:
/// - `svc_all`: reader of every business table (not HR);
/// - `svc_priv`: the same, privileged;
/// - `svc_hr`: HR cases only;
/// - refused accounts: `svc_interactive`, `svc_locked`, `svc_inactive`,
///   `svc_norole` (no SQL API role).
pub fn standard() -> String {
    let mut p = String::from("[[role]]\nname = \"reader\"\n\n[[role]]\nname = \"hr_reader\"\n\n");
    let web = "web_service_access_only = true";
    p += &account(
        "svc_all",
        "0000000000000000000000000000a001",
        &["sn_odbc_rest_access", "reader"],
        web,
    );
    p += &account(
        "svc_priv",
        "0000000000000000000000000000a002",
        &[
            "sn_jdbc_rest_access",
            "reader",
            "sn_sql_api_privileged_mode",
        ],
        web,
    );
    p += &account(
        "svc_hr",
        "0000000000000000000000000000a003",
        &["sn_odbc_rest_access", "hr_reader"],
        web,
    );
    p += &account(
        "svc_interactive",
        "0000000000000000000000000000a004",
        &["sn_odbc_rest_access", "reader"],
        "web_service_access_only = false",
    );
    p += &account(
        "svc_locked",
        "0000000000000000000000000000a005",
        &["sn_odbc_rest_access", "reader"],
        "web_service_access_only = true\nlocked_out = true",
    );
    p += &account(
        "svc_inactive",
        "0000000000000000000000000000a006",
        &["sn_odbc_rest_access", "reader"],
        "web_service_access_only = true\nactive = false",
    );
    p += &account(
        "svc_norole",
        "0000000000000000000000000000a007",
        &["reader"],
        web,
    );
    for t in [
        "task",
        "incident",
        "problem",
        "change_request",
        "cmdb_ci",
        "kb_knowledge",
        "sys_user",
        "sys_user_group",
        "sys_user_grmember",
    ] {
        p += &grant(t, &["reader"]);
    }
    p += &grant("sn_hr_core_case", &["hr_reader"]);
    p += super::LOOPBACK;
    p
}
