//! The per-principal catalog: which tables exist for a principal, which of
//! their columns, and for each record class the row filter and field masks
//! compiled from the ACLs.
//!
//! A table passes the gate (web-service flag, egress_sql and read on
//! roles). Its schema keeps the fields that can be read on roles; a field
//! whose ACLs depend on a condition stays in the schema, nullable, and is
//! masked per record. A child class joins the table's scan only when `read`
//! can pass for it, and then under its own class's row filter and masks.
//! Anything that cannot be compiled denies: the table is left out.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::logical_expr::Expr;
use sqlgate_acl::access::{Compiler, FieldAccess, dynamic_context};
use sqlgate_acl::{Policy, Principal, Tables};
use sqlgate_records::Registry;
use tracing::warn;

use crate::secure_table::{Branch, SecureTable};

/// Builds the secure table `name` for a principal that passed its gate;
/// `None` when its ACLs cannot be compiled (the table is then absent).
pub fn secure_table(
    registry: &Registry,
    tables: &Tables,
    policy: &Policy,
    principal: &Principal,
    name: &str,
) -> Option<SecureTable> {
    match build(registry, tables, policy, principal, name) {
        Ok(t) => Some(t),
        Err(e) => {
            warn!(table = name, user = %principal.user_name, error = %e, "ACLs do not compile; table withheld");
            None
        }
    }
}

fn build(
    registry: &Registry,
    tables: &Tables,
    policy: &Policy,
    principal: &Principal,
    name: &str,
) -> Result<SecureTable, sqlgate_acl::access::AccessError> {
    let def = registry
        .get(name)
        .expect("the gate only passes stored tables");
    let compiler = |class: &str, schema: &Schema| Compiler {
        policy,
        tables,
        principal,
        class: class.to_owned(),
        schema: schema.clone(),
        dynamic: dynamic_context(principal),
    };

    // The table's own view decides the schema.
    let own = compiler(name, &def.schema);
    let mut fields: Vec<Field> = Vec::new();
    for f in def.schema.fields() {
        match own.field(f.name())? {
            FieldAccess::Visible => fields.push(f.as_ref().clone()),
            FieldAccess::Masked(_) => fields.push(f.as_ref().clone().with_nullable(true)),
            FieldAccess::Hidden => {}
        }
    }

    let mut branches = Vec::new();
    for class in registry.classes(name) {
        if class.name != name && !policy.read_possible(tables, principal, &class.name) {
            continue;
        }
        let c = compiler(&class.name, &class.schema);
        let row_filter = c.row_filter()?;
        if row_filter.as_ref().is_some_and(is_false) {
            continue;
        }
        let mut masks: Vec<(String, Expr)> = Vec::new();
        for f in &fields {
            match c.field(f.name())? {
                FieldAccess::Visible => {}
                FieldAccess::Masked(visible) => masks.push((f.name().clone(), visible)),
                FieldAccess::Hidden => {
                    masks.push((f.name().clone(), datafusion::logical_expr::lit(false)))
                }
            }
        }
        branches.push(Branch {
            class: Arc::clone(class),
            row_filter,
            masks,
        });
    }
    // The union's schema must hold every branch's rows: a column is
    // nullable when some branch masks it or some class's files declare it
    // nullable (a child's Parquet files need not agree with the parent's).
    for f in &mut fields {
        let nullable_somewhere = |b: &Branch| {
            b.masks.iter().any(|(c, _)| c == f.name())
                || b.class
                    .schema
                    .field_with_name(f.name())
                    .is_ok_and(|cf| cf.is_nullable())
        };
        if branches.iter().any(nullable_somewhere) {
            *f = f.clone().with_nullable(true);
        }
    }
    Ok(SecureTable::new(
        name,
        Arc::new(Schema::new(fields)),
        branches,
    ))
}

fn is_false(e: &Expr) -> bool {
    matches!(e, Expr::Literal(v, _) if v == &datafusion::scalar::ScalarValue::Boolean(Some(false)))
}
