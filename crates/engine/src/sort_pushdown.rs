//! Top-N queries read the row groups most likely to win first, and decode
//! only the rows that can still win.
//!
//! For `ORDER BY c DESC LIMIT n`, DataFusion 55 can have the Parquet reader
//! visit files and row groups in the order their statistics for `c` suggest
//! (`PushdownSort`, an inexact order that keeps the sort), and the top-N's
//! threshold, pushed into the reader as a dynamic filter, then skips the
//! row groups that can no longer make the cut. On records whose time columns
//! grow with their number that is most of the table.
//!
//! Two things stand in the way in a secure scan: `PushdownSort` stops at a
//! `FilterExec` (the user's WHERE above the barrier, the row condition
//! below it), and the barrier answers no pushdown at all. [`push_sort`]
//! carries an order through filters and column-for-column projections to
//! the reader, and [`TopNIntoReader`] applies it to every top-N.
//! The barrier itself lets an order through only where
//! [`passes_unchanged`] says the column reaches the user as stored: never a
//! masked column, whose stored values must not steer anything.
//!
//! Skipping row groups is not enough on its own: within a row group the
//! reader goes first to last, and the threshold tightens only after the
//! row group it starts in. So the reader of a top-N also filters rows (see
//! [`filter_rows_in_reader`]): it tests its predicate, the WHERE's
//! prunable part and the threshold as it stands, on the predicate's
//! columns first, and decodes the other columns only for the rows that
//! pass.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfig, FileScanConfigBuilder, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalSortExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, SortOrderPushdownResult};

use crate::barrier::SecureScanExec;

/// Where output column `index` of a node that passes values on as they
/// are (a filter, a projection, a repartition) comes from: its input, and
/// the column there, `None` if the node computes it. `None` for any other
/// node.
fn source_of(
    plan: &Arc<dyn ExecutionPlan>,
    index: usize,
) -> Option<(&Arc<dyn ExecutionPlan>, Option<usize>)> {
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        let column = match filter.projection() {
            Some(p) => p.get(index).copied(),
            None => Some(index),
        };
        return Some((filter.input(), column));
    }
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        let column = projection
            .expr()
            .get(index)
            .and_then(|e| e.expr.downcast_ref::<Column>())
            .map(Column::index);
        return Some((projection.input(), column));
    }
    if let Some(repartition) = plan.downcast_ref::<RepartitionExec>() {
        return Some((repartition.input(), Some(index)));
    }
    None
}

/// Asks the plan under a sort to produce `order` cheaply, looking through
/// the nodes [`source_of`] sees through. `None` when nothing below can
/// help. The result is never an exact order: the sort above stays.
pub fn push_sort(
    plan: &Arc<dyn ExecutionPlan>,
    order: &[PhysicalSortExpr],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some((input, _)) = source_of(plan, 0) else {
        return Ok(match plan.try_pushdown_sort(order)? {
            SortOrderPushdownResult::Exact { inner } => Some(inner),
            SortOrderPushdownResult::Inexact { inner } => Some(files_in_order(inner, order)?),
            SortOrderPushdownResult::Unsupported => None,
        });
    };
    let schema = input.schema();
    let below: Option<Vec<PhysicalSortExpr>> = order
        .iter()
        .map(|key| {
            let column = key.expr.downcast_ref::<Column>()?;
            let index = source_of(plan, column.index())?.1?;
            let name = schema.fields().get(index)?.name();
            Some(PhysicalSortExpr {
                expr: Arc::new(Column::new(name, index)),
                options: key.options,
            })
        })
        .collect();
    let Some(below) = below else {
        return Ok(None);
    };
    match push_sort(input, &below)? {
        Some(input) => Ok(Some(replace_children_if_necessary(
            Arc::clone(plan),
            vec![input],
        )?)),
        None => Ok(None),
    }
}

/// A reader reordered for `order` (inexactly), with the files of each of
/// its groups in the order their statistics suggest for `order`'s first
/// key: the greatest maximum first for a descending key, the least minimum
/// first for an ascending one; files without statistics last.
///
/// DataFusion 55 orders them itself, but looks each file's statistics up by
/// the key's position among the columns read, which is the right column
/// only while the reader reads plain columns. A restricted scan's reader
/// also works out each record's kept bit (see `row_masks`), and its files
/// stayed in table order: a newest-first top-N began with the oldest. A
/// wrong order here costs time, never rows: the sort above stays.
fn files_in_order(
    plan: Arc<dyn ExecutionPlan>,
    order: &[PhysicalSortExpr],
) -> Result<Arc<dyn ExecutionPlan>> {
    let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    else {
        return Ok(plan);
    };
    let Some((key, options)) = order
        .first()
        .and_then(|k| Some((k.expr.downcast_ref::<Column>()?, k.options)))
    else {
        return Ok(plan);
    };
    let Ok(index) = config.file_schema().index_of(key.name()) else {
        return Ok(plan);
    };
    let bound = |file: &PartitionedFile| {
        let stats = file.statistics.as_ref()?.column_statistics.get(index)?;
        let bound = if options.descending {
            &stats.max_value
        } else {
            &stats.min_value
        };
        bound.get_value().cloned()
    };
    let groups = config
        .file_groups
        .iter()
        .map(|group| {
            let mut files: Vec<_> = group.iter().map(|f| (bound(f), f.clone())).collect();
            files.sort_by(|(a, _), (b, _)| match (a, b) {
                (Some(a), Some(b)) => {
                    let o = a.partial_cmp(b).unwrap_or(Ordering::Equal);
                    if options.descending { o.reverse() } else { o }
                }
                (a, b) => a.is_none().cmp(&b.is_none()),
            });
            FileGroup::new(files.into_iter().map(|(_, f)| f).collect())
        })
        .collect();
    let config = FileScanConfigBuilder::from(config.clone())
        .with_file_groups(groups)
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// Whether output column `index` of `plan` is a stored column carried up
/// unchanged, through the nodes [`source_of`] sees through, from the
/// reader. A masked column is a CASE over the stored one, a reference shown
/// as text a conversion: neither passes.
pub fn passes_unchanged(plan: &Arc<dyn ExecutionPlan>, index: usize) -> bool {
    match source_of(plan, index) {
        Some((input, Some(column))) => passes_unchanged(input, column),
        Some((_, None)) => false,
        // Only the reader itself is a source of stored values.
        None => plan.children().is_empty(),
    }
}

/// Carries a top-N's order down to its reader, through the filters under
/// it, and readies the path for it (see [`read_for_top_n`]). Runs right
/// after DataFusion's `PushdownSort`, before the dynamic filters are
/// pushed, so the top-N's threshold reaches the reordered scan.
#[derive(Debug, Default)]
pub struct TopNIntoReader;

impl PhysicalOptimizerRule for TopNIntoReader {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.enable_sort_pushdown {
            return Ok(plan);
        }
        plan.transform_down(|plan| {
            let Some(sort) = plan.downcast_ref::<SortExec>() else {
                return Ok(Transformed::no(plan));
            };
            // A full sort reads everything whatever the order. A top-N
            // straight over a scan was reordered by `PushdownSort` already;
            // asking again is harmless, and orders its files right.
            let Some(fetch) = sort.fetch() else {
                return Ok(Transformed::no(plan));
            };
            let Some(input) = push_sort(sort.input(), sort.expr())? else {
                return Ok(Transformed::no(plan));
            };
            Ok(Transformed::yes(replace_children_if_necessary(
                Arc::clone(&plan),
                vec![read_for_top_n(input, fetch.max(1))?],
            )?))
        })
        .data()
    }

    fn name(&self) -> &str {
        "TopNIntoReader"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Readies the path down from a top-N of `fetch` rows: the filters on the
/// way hand rows on as soon as they hold `fetch` of them, and the reader
/// at the end filters rows. A filter gathers its output into batches of the
/// session's size: over a selective WHERE (or a row condition tested with
/// it) the top-N would see nothing, and set no threshold, until most of
/// the table was read.
fn read_for_top_n(plan: Arc<dyn ExecutionPlan>, fetch: usize) -> Result<Arc<dyn ExecutionPlan>> {
    if plan.is::<DataSourceExec>() {
        return filter_rows_in_reader(plan);
    }
    let on_the_way = source_of(&plan, 0).is_some() || plan.is::<SecureScanExec>();
    if !on_the_way {
        return Ok(plan);
    }
    let [input] = plan.children()[..] else {
        return Ok(plan);
    };
    let input = read_for_top_n(Arc::clone(input), fetch)?;
    let plan = replace_children_if_necessary(plan, vec![input])?;
    Ok(match plan.downcast_ref::<FilterExec>() {
        Some(filter) if filter.batch_size() > fetch => Arc::new(filter.with_batch_size(fetch)?),
        _ => plan,
    })
}

/// A Parquet reader that tests its predicate on the predicate's columns
/// first and decodes the rest only for the rows that pass (DataFusion's
/// `pushdown_filters`, which sqlgate otherwise keeps for lookups).
///
/// This moves no user expression below the barrier: a secure scan's reader
/// only ever holds predicates that may run on any record (the user's
/// predicates `pruning` admits, the barrier's own row condition) and a
/// threshold over unchanged columns. They already chose the row groups and
/// pages it read; now they also choose which records of those it decodes.
fn filter_rows_in_reader(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let Some((config, source)) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.downcast_to_file_source::<ParquetSource>())
    else {
        return Ok(plan);
    };
    // A lookup's reader filters rows already, and keeps the page index,
    // which narrows a value of a sorted column to a page or two.
    if source.table_parquet_options().global.pushdown_filters {
        return Ok(plan);
    }
    // Not the page index: its row selection would stop the reader skipping
    // row groups as the threshold tightens (DataFusion 55 declines to prune
    // row groups under a live selection), and the row filter skips the
    // same pages of the other columns.
    let source = source
        .clone()
        .with_pushdown_filters(true)
        .with_enable_page_index(false);
    let config = FileScanConfigBuilder::from(config.clone())
        .with_source(Arc::new(source))
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// DataFusion's physical optimizer rules with [`TopNIntoReader`] right
/// after `PushdownSort`.
pub fn optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    if let Some(at) = rules.iter().position(|r| r.name() == "PushdownSort") {
        rules.insert(at + 1, Arc::new(TopNIntoReader));
    }
    rules
}
