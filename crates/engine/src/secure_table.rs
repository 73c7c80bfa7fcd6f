//! The per-session table: what one principal may see of one table.
//!
//! A query on a table reads every record class in its subtree (a query on
//! `task` reads `task`, `incident`, `problem`...). Each class becomes one
//! branch, built inside `scan()`:
//!
//! ```text
//! SecureScanExec( Projection[masks]( Filter[row predicate]( class files ) ) )
//! ```
//!
//! and the branches are unioned. The provider refuses every filter pushdown,
//! so user predicates stay above the barrier; the class's own row predicate
//! and masks are the only expressions that ever see an unfiltered record.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, case, lit};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::scalar::ScalarValue;
use sqlgate_records::TableDef;

use crate::barrier::SecureScanExec;

/// What one principal may read of one record class.
#[derive(Debug, Clone)]
pub struct Branch {
    pub class: Arc<TableDef>,
    /// Records of the class the principal may read; `None` = all.
    pub row_filter: Option<Expr>,
    /// Columns shown only where their condition holds (NULL elsewhere).
    pub masks: Vec<(String, Expr)>,
}

/// A table as one session sees it.
#[derive(Debug)]
pub struct SecureTable {
    name: String,
    schema: SchemaRef,
    branches: Vec<Branch>,
}

impl SecureTable {
    /// `schema` holds only the columns the principal may see (absent fields
    /// are simply not there); masked columns must be nullable in it.
    pub fn new(name: &str, schema: SchemaRef, branches: Vec<Branch>) -> SecureTable {
        SecureTable {
            name: name.to_owned(),
            schema,
            branches,
        }
    }

    /// Columns some record class shows only conditionally (or never).
    pub fn masked_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .branches
            .iter()
            .flat_map(|b| b.masks.iter().map(|(c, _)| c.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    async fn branch_plan(
        &self,
        state: &dyn Session,
        branch: &Branch,
        output: &Schema,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Columns to read: the output, plus what the ACL expressions use.
        let mut needed: Vec<String> = output.fields().iter().map(|f| f.name().clone()).collect();
        let mut add_refs = |e: &Expr| {
            for c in e.column_refs() {
                if !needed.contains(&c.name) {
                    needed.push(c.name.clone());
                }
            }
        };
        if let Some(f) = &branch.row_filter {
            add_refs(f);
        }
        for (col, cond) in &branch.masks {
            if output.field_with_name(col).is_ok() {
                add_refs(cond);
            }
        }
        let names: Vec<&str> = needed.iter().map(String::as_str).collect();
        let mut plan = branch.class.scan_columns(state, &names).await?;

        let df_schema = DFSchema::try_from(plan.schema())?;
        if let Some(filter) = &branch.row_filter {
            let predicate = state.create_physical_expr(filter.clone(), &df_schema)?;
            plan = Arc::new(FilterExec::try_new(predicate, plan)?);
        }
        let masked = branch
            .masks
            .iter()
            .any(|(c, _)| output.field_with_name(c).is_ok());
        if masked || needed.len() != output.fields().len() {
            let exprs = output
                .fields()
                .iter()
                .map(|f| {
                    let column = Expr::Column(f.name().as_str().into());
                    let expr = match branch.masks.iter().find(|(c, _)| c == f.name()) {
                        Some((_, visible)) => case(visible.clone())
                            .when(lit(true), column)
                            .otherwise(lit(ScalarValue::try_from(f.data_type())?))?,
                        None => column,
                    };
                    let physical: Arc<dyn PhysicalExpr> =
                        state.create_physical_expr(expr, &df_schema)?;
                    Ok((physical, f.name().clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            plan = Arc::new(ProjectionExec::try_new(exprs, plan)?);
        }
        Ok(Arc::new(SecureScanExec::new(
            &self.name,
            &branch.class.name,
            plan,
        )))
    }
}

#[async_trait]
impl TableProvider for SecureTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Nothing is pushed into the scan: a user predicate must never run
    /// before the row filter.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let output = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let mut branches = Vec::with_capacity(self.branches.len());
        for b in &self.branches {
            branches.push(self.branch_plan(state, b, &output).await?);
        }
        Ok(match branches.len() {
            0 => Arc::new(EmptyExec::new(output)),
            1 => branches.pop().expect("one branch"),
            _ => UnionExec::try_new(branches)?,
        })
    }
}
