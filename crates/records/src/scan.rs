//! Reading one record class: the class's Parquet files, shaped to the
//! columns a caller asks for, with `sys_class_name` filled in from the class
//! itself. The caller (the engine) wraps each class scan in its security
//! barrier and unions the classes of a parent table.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableProvider;
use datafusion::datasource::physical_plan::{FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::projection::{ProjectionExpr, ProjectionExprs};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::physical_plan::projection::ProjectionExec;

use crate::dictionary::{self, ViewsOfDictionary};
use crate::registry::{CLASS_COLUMN, TableDef};
use crate::row_masks::{RowCondition, RowMaskCache};

/// The column a restricted scan's reader adds: whether the row condition
/// keeps the record.
const KEPT: &str = "__sqlgate_kept";

/// `predicate` planned over the columns of `stored` as text, then made to
/// run over them as stored (dictionaries decoded where read).
fn over_stored(
    state: &dyn Session,
    predicate: Expr,
    stored: &SchemaRef,
) -> Result<Arc<dyn PhysicalExpr>> {
    let as_text = DFSchema::try_from(dictionary::as_text(stored))?;
    let predicate = state.create_physical_expr(predicate, &as_text)?;
    dictionary::over_stored(predicate, stored, |_| false)
}

impl TableDef {
    /// Scans this class's files and returns exactly `columns`, in that
    /// order. Every name must be a column of this class (a parent's columns
    /// are always columns of its children). Each comes in the record
    /// schema's type, except that those named in `encoded` may come as
    /// stored: text the files keep as a dictionary stays one (see
    /// [`crate::dictionary`]).
    ///
    /// `prune` predicates (over stored columns, unqualified) are given to
    /// the Parquet reader to skip row groups and pages by statistics, page
    /// index and bloom filters; with `filter_rows` the reader also drops
    /// the rows they reject before decoding the other columns (late
    /// materialisation: a lookup decodes one row of the wide columns, not
    /// a page of them). Which predicates may go there, and when rows may
    /// be filtered, is the engine's decision.
    ///
    /// With `rows`, only the records that condition keeps are read (see
    /// [`crate::row_masks`]); its columns need not be among `columns`.
    pub async fn scan_columns(
        &self,
        state: &dyn Session,
        columns: &[&str],
        encoded: &[&str],
        prune: &[Expr],
        filter_rows: bool,
        rows: Option<&RowCondition>,
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
        let scan = match conjunction(prune.iter().cloned()) {
            Some(predicate) => self.with_pruning(state, scan, predicate, filter_rows)?,
            None => scan,
        };
        let scan = match rows {
            Some(condition) => self.with_row_masks(state, scan, condition, prune).await?,
            None => scan,
        };
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
                    let index = scan_schema.index_of(name)?;
                    let column = Arc::new(Column::new(name, index));
                    let stored = scan_schema.field(index).data_type();
                    if dictionary::is_text_dictionary(stored) && !encoded.contains(name) {
                        Arc::new(ViewsOfDictionary::new(column))
                    } else {
                        column
                    }
                };
                Ok((expr, (*name).to_owned()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}

impl TableDef {
    /// The kept answers of row conditions over this class's files.
    pub fn row_masks(&self) -> &RowMaskCache {
        &self.row_masks
    }

    /// The stored types of `columns` (dictionaries where the files keep
    /// them), in that order: the schema a [`RowCondition`] is planned over.
    pub fn stored_schema_of(&self, columns: &[&str]) -> Result<SchemaRef> {
        let stored = self.listing.schema();
        let fields = columns
            .iter()
            .map(|name| Ok(stored.field_with_name(name)?.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    /// `scan` reading, of each file, only the records `condition` keeps.
    /// The `prune` predicates (which may run on any record) are tested in
    /// the same filter, so the records passing both are copied once.
    async fn with_row_masks(
        &self,
        state: &dyn Session,
        scan: Arc<dyn ExecutionPlan>,
        condition: &RowCondition,
        prune: &[Expr],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if scan.is::<EmptyExec>() {
            return Ok(scan);
        }
        // Fail closed: a condition is never dropped for want of a reader.
        let Some((config, _)) = scan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.downcast_to_file_source::<ParquetSource>())
        else {
            return Err(DataFusionError::Internal(format!(
                "class {}: its scan cannot take a row condition",
                self.name
            )));
        };
        let url = self.listing.table_paths().first().ok_or_else(|| {
            DataFusionError::Internal(format!("class {} has no folder", self.name))
        })?;
        let store = state.runtime_env().object_store(url)?;
        let schema = self.stored_schema_of(
            &condition
                .columns
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )?;
        let (groups, kept) = self
            .row_masks
            .restrict(&store, &config.file_groups, &schema, condition)
            .await?;
        // The reader adds, after the scan's columns, whether each record is
        // kept; the filter drops the others, and that column with them.
        let columns = scan.schema();
        let mut exprs: Vec<ProjectionExpr> = columns
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| ProjectionExpr::new(Arc::new(Column::new(f.name(), i)), f.name().clone()))
            .collect();
        exprs.push(ProjectionExpr::new(Arc::new(kept), KEPT.to_owned()));
        let source = config
            .file_source()
            .try_pushdown_projection(&ProjectionExprs::new(exprs))?
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "class {}: its reader cannot apply row masks",
                    self.name
                ))
            })?;
        let config = FileScanConfigBuilder::from(config.clone())
            .with_source(source)
            .with_file_groups(groups)
            .build();
        let reader = DataSourceExec::from_data_source(config);
        let n = columns.fields().len();
        let kept = Expr::Column(KEPT.into());
        let predicate = match conjunction(prune.iter().cloned()) {
            Some(user) => user.and(kept),
            None => kept,
        };
        let predicate = over_stored(state, predicate, &reader.schema())?;
        let filter = FilterExecBuilder::new(predicate, reader)
            .apply_projection(Some((0..n).collect()))?
            .with_batch_size(state.config().batch_size())
            .build()?;
        Ok(Arc::new(filter))
    }

    /// `scan` with `predicate` set on its Parquet source: for pruning, and
    /// for filtering rows in the reader when `filter_rows`.
    fn with_pruning(
        &self,
        state: &dyn Session,
        scan: Arc<dyn ExecutionPlan>,
        predicate: Expr,
        filter_rows: bool,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(exec) = scan.downcast_ref::<DataSourceExec>() else {
            // An empty folder plans as an empty scan: nothing to skip.
            return Ok(scan);
        };
        let Some((config, source)) = exec.downcast_to_file_source::<ParquetSource>() else {
            return Ok(scan);
        };
        let predicate = over_stored(state, predicate, &self.listing.schema())?;
        let source = source
            .with_predicate(predicate)
            .with_pushdown_filters(filter_rows);
        let config = FileScanConfigBuilder::from(config.clone())
            .with_source(Arc::new(source))
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}
