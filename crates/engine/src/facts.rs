//! Facts about a planned query for the audit log: which tables it reads,
//! and which masked fields it touches.

use std::any::Any;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::LogicalPlan;

use crate::secure_table::SecureTable;

/// What a query reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFacts {
    /// The record tables it scans, in plan order, without repeats.
    pub tables: Vec<String>,
    /// Per table, the masked fields among the columns it reads.
    pub masked: Vec<(String, Vec<String>)>,
}

/// Walks the plan (and its subqueries) for the record tables it scans.
pub fn facts(plan: &LogicalPlan) -> QueryFacts {
    let mut out = QueryFacts::default();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(table) = (provider.as_ref() as &dyn Any).downcast_ref::<SecureTable>()
        {
            let name = scan.table_name.table().to_owned();
            if !out.tables.contains(&name) {
                out.tables.push(name.clone());
            }
            let masked = table.masked_columns();
            let read: Vec<String> = scan
                .projected_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|f| masked.contains(f))
                .collect();
            if !read.is_empty() && !out.masked.iter().any(|(t, _)| *t == name) {
                out.masked.push((name, read));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}
