//! The evaluation rules of the model, with their explanation.
//!
//! For one operation on one object, ACLs are looked up by candidate names,
//! most specific first (`incident`, `task`, `*`; for fields `incident.f`,
//! `task.f`, `*.f`, `incident.*`, `task.*`, `*.*`):
//! 1. every matching `deny_unless` ACL, at every level, must pass;
//! 2. of the `allow_if` ACLs, the first level that has any decides: access if
//!    any one of them passes;
//! 3. no `allow_if` at all: tables deny, fields stay readable.
//!
//! `egress_sql` is never matched on `*`. Each step is recorded so the same
//! object answers `explain-access` and feeds the audit log.

use std::fmt;

use serde::Serialize;

use crate::model::{AclName, Decision, FieldPattern, Operation, TablePattern, roles};
use crate::policy::{Acl, Policy};
use crate::principal::Principal;
use crate::tables::Tables;

/// How one ACL (or one decision) turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Passes on roles; its condition/script decides record by record.
    PerRecord,
}

impl Verdict {
    fn and(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Fail, _) | (_, Fail) => Fail,
            (PerRecord, _) | (_, PerRecord) => PerRecord,
            _ => Pass,
        }
    }

    fn or(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Pass, _) | (_, Pass) => Pass,
            (PerRecord, _) | (_, PerRecord) => PerRecord,
            _ => Fail,
        }
    }

    /// Whether anything can pass (a per-record verdict may).
    pub fn possible(self) -> bool {
        self != Verdict::Fail
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::PerRecord => "per record",
        })
    }
}

/// One ACL as it was judged.
#[derive(Debug, Clone, Serialize)]
pub struct AclTrace {
    pub acl: usize,
    pub line: usize,
    pub decision: String,
    pub verdict: Verdict,
    pub reason: String,
}

/// One candidate name and the ACLs found under it.
#[derive(Debug, Clone, Serialize)]
pub struct LevelTrace {
    pub name: String,
    pub acls: Vec<AclTrace>,
    /// This level's `allow_if` ACLs decided the outcome.
    pub decided: bool,
}

/// The evaluation of one operation on one object.
#[derive(Debug, Clone, Serialize)]
pub struct OperationTrace {
    pub operation: Operation,
    pub object: String,
    pub verdict: Verdict,
    pub levels: Vec<LevelTrace>,
    pub summary: String,
}

/// Judges one ACL; evaluation is generic over it so the same rules serve
/// the table gate (roles only) and a single record (roles and conditions).
pub trait Judge {
    fn judge(&self, acl: &Acl) -> (Verdict, String);

    /// Whether the ACL concerns the record at hand (`applies_to`); with no
    /// record at hand every ACL counts.
    fn applies(&self, _acl: &Acl) -> bool {
        true
    }
}

/// Judges on roles alone; a condition or script defers to the record.
pub struct RolesOnly<'a>(pub &'a Principal);

impl Judge for RolesOnly<'_> {
    fn judge(&self, acl: &Acl) -> (Verdict, String) {
        if let Some(v) = admin_override(self.0, acl) {
            return v;
        }
        if let Some(v) = role_check(self.0, acl) {
            return v;
        }
        if acl.has_record_part() {
            (
                Verdict::PerRecord,
                "roles pass; condition/script decide per record".into(),
            )
        } else {
            (Verdict::Pass, "roles pass".into())
        }
    }
}

/// An admin passes outright unless the ACL opts out or requires `nobody`.
pub fn admin_override(p: &Principal, acl: &Acl) -> Option<(Verdict, String)> {
    (acl.admin_overrides && p.is_admin() && !acl.roles.iter().any(|r| r == roles::NOBODY))
        .then(|| (Verdict::Pass, "admin override".into()))
}

/// `Some(Fail)` when the ACL is empty or its roles are not held.
pub fn role_check(p: &Principal, acl: &Acl) -> Option<(Verdict, String)> {
    if acl.is_empty() {
        return Some((
            Verdict::Fail,
            "empty ACL (no roles, condition or script) denies".into(),
        ));
    }
    if !acl.roles.is_empty() && !acl.roles.iter().any(|r| p.has_role(r)) {
        return Some((
            Verdict::Fail,
            format!("requires one of roles [{}]", acl.roles.join(", ")),
        ));
    }
    None
}

/// Candidate names for a table-level operation, most specific first.
pub fn table_candidates(tables: &Tables, op: Operation, table: &str) -> Vec<AclName> {
    let mut out: Vec<AclName> = tables
        .lineage(table)
        .into_iter()
        .map(Policy::table_name)
        .collect();
    if op != Operation::EgressSql {
        out.push(AclName {
            table: TablePattern::Any,
            field: None,
        });
    }
    out
}

/// Candidate names for a field, most specific first.
pub fn field_candidates(tables: &Tables, table: &str, field: &str) -> Vec<AclName> {
    let lineage = tables.lineage(table);
    let mut out = Vec::new();
    for pattern in [FieldPattern::Field(field.to_owned()), FieldPattern::Any] {
        for t in &lineage {
            out.push(Policy::field_name(
                TablePattern::Table((*t).to_owned()),
                pattern.clone(),
            ));
        }
        out.push(Policy::field_name(TablePattern::Any, pattern));
    }
    out
}

impl Policy {
    /// Applies the ordering rules to the candidate levels of one operation.
    /// `default` is the verdict when no `allow_if` ACL matches.
    pub fn evaluate(
        &self,
        op: Operation,
        object: &str,
        candidates: &[AclName],
        default: Verdict,
        judge: &dyn Judge,
    ) -> OperationTrace {
        let mut levels = Vec::new();
        let mut requirements = Verdict::Pass;
        let mut allow: Option<Verdict> = None;
        for name in candidates {
            let mut level = LevelTrace {
                name: name.to_string(),
                acls: Vec::new(),
                decided: false,
            };
            let mut level_allow: Option<Verdict> = None;
            for acl in self.acls_named(op, name) {
                if !judge.applies(acl) {
                    level.acls.push(AclTrace {
                        acl: acl.number,
                        line: acl.line,
                        decision: acl.decision.to_string(),
                        verdict: Verdict::Fail,
                        reason: "does not apply to this record (applies_to); not counted".into(),
                    });
                    continue;
                }
                let (verdict, reason) = judge.judge(acl);
                match acl.decision {
                    Decision::DenyUnless => requirements = requirements.and(verdict),
                    Decision::AllowIf if allow.is_none() => {
                        level_allow = Some(level_allow.map_or(verdict, |v| v.or(verdict)));
                    }
                    Decision::AllowIf => {}
                }
                let skipped = acl.decision == Decision::AllowIf && allow.is_some();
                level.acls.push(AclTrace {
                    acl: acl.number,
                    line: acl.line,
                    decision: acl.decision.to_string(),
                    verdict,
                    reason: if skipped {
                        format!("{reason} (not consulted: a more specific level decided)")
                    } else {
                        reason
                    },
                });
            }
            if allow.is_none() && level_allow.is_some() {
                allow = level_allow;
                level.decided = true;
            }
            if !level.acls.is_empty() {
                levels.push(level);
            }
        }
        let (granted, why) = match allow {
            Some(v) => (v, format!("allow_if ACLs at the first matching level: {v}")),
            None => (
                default,
                format!("no allow_if ACL matches: {default} by default"),
            ),
        };
        let verdict = requirements.and(granted);
        let summary = if requirements == Verdict::Fail {
            format!("a deny_unless ACL fails; {why}")
        } else {
            why
        };
        OperationTrace {
            operation: op,
            object: object.to_owned(),
            verdict,
            levels,
            summary,
        }
    }
}

impl fmt::Display for OperationTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} on {}: {}", self.operation, self.object, self.verdict)?;
        if self.levels.is_empty() {
            writeln!(f, "  no ACL matches any candidate name")?;
        }
        for level in &self.levels {
            let mark = if level.decided { "  <- decides" } else { "" };
            writeln!(f, "  {}{mark}", level.name)?;
            for a in &level.acls {
                writeln!(
                    f,
                    "    acl #{} (line {}, {}): {} - {}",
                    a.acl, a.line, a.decision, a.verdict, a.reason
                )?;
            }
        }
        write!(f, "  => {}", self.summary)
    }
}
