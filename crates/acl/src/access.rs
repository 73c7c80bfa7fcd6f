//! Row and field access of one principal to one record class, compiled once
//! per session into DataFusion expressions that the engine runs below its
//! security barrier, vectorised.
//!
//! Row predicate (table-level `read` ACLs of the class, through its
//! hierarchy to `*`): every applicable `deny_unless` must pass, and the first
//! level holding an `allow_if` ACL that applies to the record decides. With
//! `applies_to`, "applies" is itself per record, so the level choice becomes
//! a `CASE` over the levels. Field masks follow the same rules over the field
//! candidates, with "readable" as the default.

use datafusion::arrow::datatypes::Schema;
use datafusion::logical_expr::{Expr, and, lit, not, or, when};

use crate::condition::{self, DynamicContext};
use crate::encoded_query;
use crate::eval::{admin_override, field_candidates, role_check, table_candidates};
use crate::model::{AclName, Decision, Operation, TablePattern};
use crate::policy::{Acl, Policy};
use crate::principal::Principal;
use crate::script;
use crate::tables::Tables;

/// How a field of a class reaches the principal.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldAccess {
    /// Readable in every record.
    Visible,
    /// Readable where the expression is true, NULL elsewhere.
    Masked(Expr),
    /// Never readable: absent from the schema (or NULL in a child branch).
    Hidden,
}

/// A compiled row predicate: `None` means every record.
pub type RowFilter = Option<Expr>;

/// Why a policy's conditions could not be compiled for a session.
#[derive(Debug, Clone, thiserror::Error)]
#[error("acl #{acl} (line {line}): {message}")]
pub struct AccessError {
    pub acl: usize,
    pub line: usize,
    pub message: String,
}

/// Compiles the parts of ACLs for one principal and one class.
pub struct Compiler<'a> {
    pub policy: &'a Policy,
    pub tables: &'a Tables,
    pub principal: &'a Principal,
    pub class: String,
    pub schema: Schema,
    pub dynamic: DynamicContext,
}

impl Compiler<'_> {
    /// The row predicate of `read` on the class. `None` = all rows.
    pub fn row_filter(&self) -> Result<RowFilter, AccessError> {
        if self.principal.privileged() {
            return Ok(None);
        }
        let levels = table_candidates(self.tables, Operation::Read, &self.class);
        let expr = self.levels_expr(Operation::Read, &levels, false)?;
        Ok(simplify_true(expr))
    }

    /// How `field` of the class reaches the principal.
    pub fn field(&self, field: &str) -> Result<FieldAccess, AccessError> {
        if self.principal.privileged() {
            return Ok(FieldAccess::Visible);
        }
        let levels = field_candidates(self.tables, &self.class, field);
        let expr = self.levels_expr(Operation::Read, &levels, true)?;
        Ok(match simplify_true(expr) {
            None => FieldAccess::Visible,
            Some(e) if is_false(&e) => FieldAccess::Hidden,
            Some(e) => FieldAccess::Masked(e),
        })
    }

    /// The ordering rules over candidate levels, as one expression.
    fn levels_expr(
        &self,
        op: Operation,
        levels: &[AclName],
        default: bool,
    ) -> Result<Expr, AccessError> {
        let mut requirements: Vec<Expr> = Vec::new();
        // (applies, passes) per level that has allow_if ACLs.
        let mut allow_levels: Vec<(Expr, Expr)> = Vec::new();
        for name in levels {
            let mut applies_any: Vec<Expr> = Vec::new();
            let mut passes_any: Vec<Expr> = Vec::new();
            for acl in self.policy.acls_named(op, name) {
                // An applies_to that does not fit the class: the ACL
                // concerns every record and fails (the closed reading).
                let (applies, passes) = match self.applies(acl)? {
                    Some(applies) => (applies, self.passes(acl)?),
                    None => (lit(true), lit(false)),
                };
                match acl.decision {
                    Decision::DenyUnless => requirements.push(if is_true(&applies) {
                        passes
                    } else {
                        disjunction(vec![not(applies), passes])
                    }),
                    Decision::AllowIf => {
                        passes_any.push(conjunction(vec![applies.clone(), passes]));
                        applies_any.push(applies);
                    }
                }
            }
            if !applies_any.is_empty() {
                allow_levels.push((disjunction(applies_any), disjunction(passes_any)));
            }
        }
        // A level whose ACLs apply to every record always decides: the
        // levels after it are never consulted.
        if let Some(k) = allow_levels
            .iter()
            .position(|(applies, _)| is_true(applies))
        {
            allow_levels.truncate(k + 1);
        }
        let mut levels = allow_levels.into_iter();
        let allow = match levels.next() {
            None => lit(default),
            Some((applies, passes)) if is_true(&applies) => passes,
            Some((applies, passes)) => {
                let mut builder = when(applies, passes);
                for (applies, passes) in levels {
                    builder = builder.when(applies, passes);
                }
                builder.otherwise(lit(default)).map_err(|e| AccessError {
                    acl: 0,
                    line: 0,
                    message: e.to_string(),
                })?
            }
        };
        Ok(conjunction(
            requirements.into_iter().chain([allow]).collect(),
        ))
    }

    /// Whether the ACL concerns the record (`applies_to`); `None` when a
    /// `*` ACL's applies_to does not fit this class.
    fn applies(&self, acl: &Acl) -> Result<Option<Expr>, AccessError> {
        if acl.applies_to.is_empty() {
            return Ok(Some(lit(true)));
        }
        let compiled = encoded_query::parse(&acl.applies_to)
            .map_err(|e| e.to_string())
            .and_then(|q| {
                condition::compile(&q, &self.schema, &self.dynamic).map_err(|e| e.to_string())
            });
        match compiled {
            Ok(e) => Ok(Some(e)),
            Err(_) if acl.name.table == TablePattern::Any => Ok(None),
            Err(message) => Err(AccessError {
                acl: acl.number,
                line: acl.line,
                message,
            }),
        }
    }

    /// Whether the ACL passes for the record: roles (decided now), then the
    /// condition and script (per record).
    fn passes(&self, acl: &Acl) -> Result<Expr, AccessError> {
        if admin_override(self.principal, acl).is_some() {
            return Ok(lit(true));
        }
        if role_check(self.principal, acl).is_some() {
            return Ok(lit(false));
        }
        let mut parts = Vec::new();
        if !acl.condition.is_empty() {
            parts.push(self.encoded(acl, &acl.condition)?);
        }
        if !acl.script.is_empty() {
            let compiled = script::compile_script(&acl.script, &self.schema, &self.dynamic)
                .map_err(|e| format!("script: {e}"));
            parts.push(self.fits(acl, compiled)?);
        }
        Ok(conjunction(parts))
    }

    fn encoded(&self, acl: &Acl, text: &str) -> Result<Expr, AccessError> {
        let compiled = encoded_query::parse(text)
            .map_err(|e| e.to_string())
            .and_then(|q| {
                condition::compile(&q, &self.schema, &self.dynamic).map_err(|e| e.to_string())
            });
        self.fits(acl, compiled)
    }

    /// A condition of a `*` ACL that does not fit this class (a field it
    /// lacks) makes the ACL fail here. For a named table, loading checked
    /// that it fits, so a failure is an error.
    fn fits(&self, acl: &Acl, compiled: Result<Expr, String>) -> Result<Expr, AccessError> {
        match compiled {
            Ok(e) => Ok(e),
            Err(_) if acl.name.table == TablePattern::Any => Ok(lit(false)),
            Err(message) => Err(AccessError {
                acl: acl.number,
                line: acl.line,
                message,
            }),
        }
    }
}

/// The principal's values for dynamic conditions.
pub fn dynamic_context(principal: &Principal) -> DynamicContext {
    DynamicContext {
        user_sys_id: principal.sys_id.clone(),
        group_sys_ids: principal.group_sys_ids(),
        roles: principal.roles.clone(),
    }
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Literal(v, _) if v == &datafusion::scalar::ScalarValue::Boolean(Some(true)))
}

fn is_false(e: &Expr) -> bool {
    matches!(e, Expr::Literal(v, _) if v == &datafusion::scalar::ScalarValue::Boolean(Some(false)))
}

/// AND with constant folding (true parts vanish, a false part wins).
fn conjunction(parts: Vec<Expr>) -> Expr {
    let mut out: Option<Expr> = None;
    for p in parts {
        if is_true(&p) {
            continue;
        }
        if is_false(&p) {
            return lit(false);
        }
        out = Some(match out {
            None => p,
            Some(acc) => and(acc, p),
        });
    }
    out.unwrap_or_else(|| lit(true))
}

/// OR with constant folding.
fn disjunction(parts: Vec<Expr>) -> Expr {
    let mut out: Option<Expr> = None;
    for p in parts {
        if is_false(&p) {
            continue;
        }
        if is_true(&p) {
            return lit(true);
        }
        out = Some(match out {
            None => p,
            Some(acc) => or(acc, p),
        });
    }
    out.unwrap_or_else(|| lit(false))
}

fn simplify_true(e: Expr) -> Option<Expr> {
    (!is_true(&e)).then_some(e)
}

/// Judges ACLs on one record, for explanations: roles as at the gate, then
/// the compiled condition and script evaluated on the record itself.
pub struct RecordJudge<'a> {
    pub compiler: &'a Compiler<'a>,
    /// The record: one row with the class's schema.
    pub record: datafusion::arrow::record_batch::RecordBatch,
}

impl RecordJudge<'_> {
    fn holds(&self, expr: &Expr) -> Result<bool, String> {
        use datafusion::arrow::array::{Array, BooleanArray};
        let schema = datafusion::common::DFSchema::try_from(self.record.schema().as_ref().clone())
            .map_err(|e| e.to_string())?;
        let physical = datafusion::prelude::SessionContext::new()
            .create_physical_expr(expr.clone(), &schema)
            .map_err(|e| e.to_string())?;
        let value = physical
            .evaluate(&self.record)
            .and_then(|v| v.into_array(1))
            .map_err(|e| e.to_string())?;
        let value = value
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or("not a boolean")?;
        Ok(!value.is_null(0) && value.value(0))
    }
}

impl crate::eval::Judge for RecordJudge<'_> {
    fn judge(&self, acl: &Acl) -> (crate::eval::Verdict, String) {
        use crate::eval::Verdict;
        if let Ok(None) = self.compiler.applies(acl) {
            return (
                Verdict::Fail,
                "applies_to does not fit this table: denies".into(),
            );
        }
        if let Some(v) = admin_override(self.compiler.principal, acl) {
            return v;
        }
        if let Some(v) = role_check(self.compiler.principal, acl) {
            return v;
        }
        if !acl.has_record_part() {
            return (Verdict::Pass, "roles pass".into());
        }
        match self.compiler.passes(acl).and_then(|e| {
            self.holds(&e).map_err(|m| AccessError {
                acl: acl.number,
                line: acl.line,
                message: m,
            })
        }) {
            Ok(true) => (
                Verdict::Pass,
                "roles pass; the record matches the condition/script".into(),
            ),
            Ok(false) => (
                Verdict::Fail,
                "roles pass; the record does not match the condition/script".into(),
            ),
            Err(e) => (Verdict::Fail, format!("cannot be evaluated ({e}): denies")),
        }
    }

    fn applies(&self, acl: &Acl) -> bool {
        match self.compiler.applies(acl) {
            Ok(Some(e)) => self.holds(&e).unwrap_or(true),
            // Not fitting or not compiling: counted (the closed reading).
            _ => true,
        }
    }
}
