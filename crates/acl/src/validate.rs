//! Checks of single policy entries: ACL names against the stored tables,
//! identifiers, verifier formats, access policies and rate limits.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::condition::{self, DynamicContext};
use crate::encoded_query;
use crate::model::{AclName, Decision, FieldPattern, Operation, TablePattern};
use crate::policy::{
    AccessPolicy, Account, Acl, Errors, Group, PolicyAction, RateLimit, RateScope,
};
use crate::policy_file::{AclRaw, PolicyFile};
use crate::script;
use crate::tables::Tables;

/// A platform sys_id: 32 lowercase hexadecimal characters.
pub fn is_sys_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks the shape `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
pub fn scram_verifier(v: &str) -> Result<(), String> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let bad = || {
        "expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (from `sqlgate hash-password`)".to_owned()
    };
    let rest = v.strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
    let (iter_salt, keys) = rest.split_once('$').ok_or_else(bad)?;
    let (iter, salt) = iter_salt.split_once(':').ok_or_else(bad)?;
    let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
    let iterations: u32 = iter.parse().map_err(|_| bad())?;
    if iterations < 4096 {
        return Err(format!(
            "{iterations} iterations is too few (at least 4096)"
        ));
    }
    STANDARD.decode(salt).map_err(|_| bad())?;
    for key in [stored, server] {
        if STANDARD.decode(key).map_err(|_| bad())?.len() != 32 {
            return Err(bad());
        }
    }
    Ok(())
}

/// Builds an [`Acl`] from its raw entry, or every reason it is invalid.
pub(crate) fn acl(
    number: usize,
    line: usize,
    raw: &AclRaw,
    tables: &Tables,
) -> Result<Acl, Vec<String>> {
    let mut errors = Vec::new();
    let operation = Operation::parse(&raw.operation);
    let decision = match raw.decision.as_str() {
        "allow_if" => Some(Decision::AllowIf),
        "deny_unless" => Some(Decision::DenyUnless),
        other => {
            errors.push(format!(
                "decision must be allow_if or deny_unless, not {other:?}"
            ));
            None
        }
    };
    let name = AclName::parse(&raw.name);
    match &name {
        None => errors.push(format!(
            "name {:?} is not one of table, table.field, table.*, *, *.field, *.*",
            raw.name
        )),
        Some(name) => {
            if let TablePattern::Table(t) = &name.table
                && tables.get(t).is_none()
            {
                errors.push(format!("unknown table {t:?}"));
            }
            if let Some(FieldPattern::Field(f)) = &name.field {
                let known = match &name.table {
                    TablePattern::Table(t) => tables.get(t).is_none() || tables.has_field(t, f),
                    TablePattern::Any => tables.any_has_field(f),
                };
                if !known {
                    errors.push(format!("unknown field {f:?}"));
                }
            }
            if operation == Operation::EgressSql && name.table == TablePattern::Any {
                errors.push("egress_sql is never granted by `*`: name each table".to_owned());
            }
            if matches!(operation, Operation::QueryMatch | Operation::QueryRange) {
                if name.field.is_none() {
                    errors.push(
                        "query ACLs name a field: table.field, table.*, *.field or *.*".to_owned(),
                    );
                }
                if !raw.condition.is_empty() || !raw.script.is_empty() || !raw.applies_to.is_empty()
                {
                    errors.push(
                        "query ACLs are decided on roles: condition, script and applies_to are not supported"
                            .to_owned(),
                    );
                }
            }
            if operation == Operation::EgressSql && name.field.is_some() {
                errors.push(
                    "egress_sql is a table-level operation; it takes a table name".to_owned(),
                );
            }
        }
    }
    if let Some(name) = &name {
        errors.extend(check_conditions(raw, name, tables));
    }
    let (Some(name), Some(decision), true) = (name, decision, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(Acl {
        number,
        line,
        operation,
        name,
        decision,
        roles: raw.roles.clone(),
        condition: raw.condition.clone(),
        script: raw.script.clone(),
        applies_to: raw.applies_to.clone(),
        admin_overrides: raw.admin_overrides,
        description: raw.description.clone(),
    })
}

/// Compiles the condition, applies_to and script against the table the ACL
/// names (for `*`, against every table: it must fit at least one; where it
/// does not fit, the ACL denies). Problems are reported with their position.
fn check_conditions(raw: &AclRaw, name: &AclName, tables: &Tables) -> Vec<String> {
    let schemas: Vec<_> = match &name.table {
        TablePattern::Table(t) => tables
            .get(t)
            .map(|t| t.schema.clone())
            .into_iter()
            .collect(),
        TablePattern::Any => tables.iter().map(|t| t.schema.clone()).collect(),
    };
    if schemas.is_empty() {
        return Vec::new();
    }
    let ctx = DynamicContext::default();
    let mut errors = Vec::new();
    for (what, text) in [
        ("condition", &raw.condition),
        ("applies_to", &raw.applies_to),
    ] {
        if text.is_empty() {
            continue;
        }
        match encoded_query::parse(text) {
            Err(e) => errors.push(format!("{what}: {e}")),
            Ok(q) => {
                let results: Vec<_> = schemas
                    .iter()
                    .map(|s| condition::compile(&q, s, &ctx))
                    .collect();
                if results.iter().all(Result::is_err) {
                    let e = results
                        .into_iter()
                        .find_map(Result::err)
                        .expect("at least one schema");
                    errors.push(format!("{what}: {e}"));
                }
            }
        }
    }
    if !raw.script.is_empty() {
        let results: Vec<_> = schemas
            .iter()
            .map(|s| script::compile_script(&raw.script, s, &ctx))
            .collect();
        if results.iter().all(Result::is_err) {
            let e = results
                .into_iter()
                .find_map(Result::err)
                .expect("at least one schema");
            errors.push(format!("script: {e}"));
        }
    }
    errors
}

/// Parses `a.b.c.d/n` or an IPv6 prefix.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

pub(crate) fn access_policies(
    file: &PolicyFile,
    line_of: &dyn Fn(usize) -> usize,
    known_role: &dyn Fn(&str) -> bool,
    groups: &BTreeMap<String, Group>,
    errs: &mut Errors,
) -> Vec<AccessPolicy> {
    let mut out = Vec::new();
    for p in &file.access_policy {
        let line = line_of(p.span().start);
        let raw = p.get_ref();
        let what = format!("access_policy {:?}", raw.name);
        let action = match raw.action.as_str() {
            "allow" => PolicyAction::Allow,
            "deny" => PolicyAction::Deny,
            other => {
                errs.push(
                    line,
                    format!("{what}: action must be allow or deny, not {other:?}"),
                );
                continue;
            }
        };
        if raw.cidrs.is_empty() && raw.roles.is_empty() && raw.groups.is_empty() {
            errs.push(
                line,
                format!("{what}: name at least one of cidrs, roles, groups (use [\"0.0.0.0/0\", \"::/0\"] for every address)"),
            );
        }
        for c in &raw.cidrs {
            if parse_cidr(c).is_none() {
                errs.push(line, format!("{what}: {c:?} is not a CIDR range"));
            }
        }
        for r in &raw.roles {
            if !known_role(r) {
                errs.push(line, format!("{what}: unknown role {r:?}"));
            }
        }
        for g in &raw.groups {
            if !groups.contains_key(g) {
                errs.push(line, format!("{what}: unknown group {g:?}"));
            }
        }
        out.push(AccessPolicy {
            name: raw.name.clone(),
            action,
            cidrs: raw.cidrs.clone(),
            roles: raw.roles.clone(),
            groups: raw.groups.clone(),
        });
    }
    out
}

pub(crate) fn rate_limits(
    file: &PolicyFile,
    line_of: &dyn Fn(usize) -> usize,
    known_role: &dyn Fn(&str) -> bool,
    accounts: &BTreeMap<String, Account>,
    errs: &mut Errors,
) -> Vec<RateLimit> {
    let mut out = Vec::new();
    for r in &file.rate_limit {
        let line = line_of(r.span().start);
        let raw = r.get_ref();
        let scope = match (raw.applies_to.as_str(), &raw.role, &raw.user) {
            ("all", None, None) => RateScope::All,
            ("role", Some(role), None) => {
                if !known_role(role) {
                    errs.push(line, format!("rate_limit: unknown role {role:?}"));
                }
                RateScope::Role(role.clone())
            }
            ("user", None, Some(user)) => {
                if !accounts.contains_key(user) {
                    errs.push(line, format!("rate_limit: unknown account {user:?}"));
                }
                RateScope::User(user.clone())
            }
            (other, _, _) => {
                errs.push(
                    line,
                    format!(
                        "rate_limit: applies_to {other:?} needs: \"all\" alone, \"role\" with role, or \"user\" with user"
                    ),
                );
                continue;
            }
        };
        if raw.queries_per_hour == 0 {
            errs.push(
                line,
                "rate_limit: queries_per_hour must be at least 1".to_owned(),
            );
        }
        out.push(RateLimit {
            scope,
            queries_per_hour: raw.queries_per_hour,
        });
    }
    out
}
