//! Reading one record class: the class's Parquet files, shaped to the
//! columns a caller asks for, with `sys_class_name` filled in from the class
//! itself. The caller (the engine) wraps each class scan in its security
//! barrier and unions the classes of a parent table.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

use crate::registry::{CLASS_COLUMN, TableDef};

impl TableDef {
    /// Scans this class's files and returns exactly `columns`, in that
    /// order. Every name must be a column of this class (a parent's columns
    /// are always columns of its children). No filter is pushed into the
    /// files here: what may be pushed is the engine's decision.
    pub async fn scan_columns(
        &self,
        state: &dyn Session,
        columns: &[&str],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let file_schema = self.listing.schema();
        let mut file_indices: Vec<usize> = Vec::new();
        for name in columns {
            if *name == CLASS_COLUMN {
                continue;
            }
            let idx = file_schema.index_of(name).map_err(|_| {
                DataFusionError::Internal(format!("class {} has no column {name}", self.name))
            })?;
            if !file_indices.contains(&idx) {
                file_indices.push(idx);
            }
        }
        let scan = self
            .listing
            .scan(state, Some(&file_indices), &[], None)
            .await?;
        if columns.is_empty() {
            return Ok(scan);
        }
        let scan_schema = scan.schema();
        let exprs = columns
            .iter()
            .map(|name| {
                let expr: Arc<dyn PhysicalExpr> = if *name == CLASS_COLUMN {
                    Arc::new(Literal::new(ScalarValue::Utf8(Some(self.name.clone()))))
                } else {
                    Arc::new(Column::new(name, scan_schema.index_of(name)?))
                };
                Ok((expr, (*name).to_owned()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}
