//! The table gate: which tables exist at all for a principal. Decided once
//! per session on roles only: the web-service flag must be on and both
//! `egress_sql` and `read` must be able to pass at table level. A table that
//! fails is absent from the principal's catalog, exactly like a missing one.

use std::fmt;

use serde::Serialize;

use crate::eval::{OperationTrace, RolesOnly, Verdict, field_candidates, table_candidates};
use crate::model::Operation;
use crate::policy::Policy;
use crate::principal::Principal;
use crate::tables::Tables;

/// The gate's decision on one table, with its reasons.
#[derive(Debug, Clone, Serialize)]
pub struct TableAccess {
    pub table: String,
    pub allowed: bool,
    pub web_service_access: bool,
    pub egress_sql: OperationTrace,
    pub read: OperationTrace,
}

impl Policy {
    /// Decides whether `table` belongs in the principal's catalog. An
    /// unknown table is simply not allowed.
    pub fn table_gate(&self, tables: &Tables, principal: &Principal, table: &str) -> TableAccess {
        let judge = RolesOnly(principal);
        let trace = |op| {
            self.evaluate(
                op,
                table,
                &table_candidates(tables, op, table),
                Verdict::Fail,
                &judge,
            )
        };
        let egress_sql = trace(Operation::EgressSql);
        let read = trace(Operation::Read);
        let web_service_access = tables.get(table).is_some_and(|t| t.web_service_access);
        TableAccess {
            table: table.to_owned(),
            allowed: web_service_access && egress_sql.verdict.possible() && read.verdict.possible(),
            web_service_access,
            egress_sql,
            read,
        }
    }

    /// Whether `read` on `class` can pass on roles: a child class's records
    /// appear in a parent table's query only then.
    pub fn read_possible(&self, tables: &Tables, principal: &Principal, class: &str) -> bool {
        self.evaluate(
            Operation::Read,
            class,
            &table_candidates(tables, Operation::Read, class),
            Verdict::Fail,
            &RolesOnly(principal),
        )
        .verdict
        .possible()
    }

    /// Whether the principal may use `field` of `table` in a query in the
    /// way `op` (query_match / query_range) says. Without an explicit query
    /// ACL the use is allowed: reading the field is governed elsewhere.
    pub fn query_acl(
        &self,
        tables: &Tables,
        principal: &Principal,
        table: &str,
        field: &str,
        op: Operation,
    ) -> OperationTrace {
        self.evaluate(
            op,
            &format!("{table}.{field}"),
            &field_candidates(tables, table, field),
            Verdict::Pass,
            &RolesOnly(principal),
        )
    }

    /// The names of every table the principal may query.
    pub fn visible_tables(&self, tables: &Tables, principal: &Principal) -> Vec<String> {
        tables
            .iter()
            .filter(|t| self.table_gate(tables, principal, &t.name).allowed)
            .map(|t| t.name.clone())
            .collect()
    }
}

impl fmt::Display for TableAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "ALLOWED" } else { "DENIED" };
        writeln!(f, "table {}: {verdict}", self.table)?;
        writeln!(
            f,
            "allow web service access: {}",
            if self.web_service_access {
                "on"
            } else {
                "off (the table is invisible to the SQL API)"
            }
        )?;
        writeln!(f, "{}", self.egress_sql)?;
        write!(f, "{}", self.read)
    }
}
