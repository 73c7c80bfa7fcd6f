//! Top-N queries read the row groups most likely to win first.
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
//! the reader, and [`SortBelowFilters`] applies it to a top-N over a filter.
//! The barrier itself lets an order through only where
//! [`passes_unchanged`] says the column reaches the user as stored: never a
//! masked column, whose stored values must not steer anything.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
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
            SortOrderPushdownResult::Exact { inner }
            | SortOrderPushdownResult::Inexact { inner } => Some(inner),
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

/// Carries a top-N's order through the filter under it (see the module
/// docs). Runs right after DataFusion's `PushdownSort`, before the dynamic
/// filters are pushed, so the top-N's threshold reaches the reordered scan.
#[derive(Debug, Default)]
pub struct SortBelowFilters;

impl PhysicalOptimizerRule for SortBelowFilters {
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
            // A full sort reads everything whatever the order; and a sort
            // straight over a scan is `PushdownSort`'s own case.
            let (Some(fetch), true) = (sort.fetch(), sort.input().is::<FilterExec>()) else {
                return Ok(Transformed::no(plan));
            };
            let Some(input) = push_sort(sort.input(), sort.expr())? else {
                return Ok(Transformed::no(plan));
            };
            Ok(Transformed::yes(replace_children_if_necessary(
                Arc::clone(&plan),
                vec![hand_on_early(input, fetch.max(1))?],
            )?))
        })
        .data()
    }

    fn name(&self) -> &str {
        "SortBelowFilters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The filters on the way down from a top-N of `fetch` rows hand rows on
/// as soon as they hold `fetch` of them. Each gathers its output into
/// batches of the session's size: over a selective WHERE (or a row
/// condition tested with it) the top-N would see nothing, and set no
/// threshold, until most of the table was read.
fn hand_on_early(plan: Arc<dyn ExecutionPlan>, fetch: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let on_the_way = source_of(&plan, 0).is_some() || plan.is::<SecureScanExec>();
    let [input] = plan.children()[..] else {
        return Ok(plan);
    };
    if !on_the_way {
        return Ok(plan);
    }
    let input = hand_on_early(Arc::clone(input), fetch)?;
    let plan = replace_children_if_necessary(plan, vec![input])?;
    Ok(match plan.downcast_ref::<FilterExec>() {
        Some(filter) if filter.batch_size() > fetch => Arc::new(filter.with_batch_size(fetch)?),
        _ => plan,
    })
}

/// DataFusion's physical optimizer rules with [`SortBelowFilters`] right
/// after `PushdownSort`.
pub fn optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    if let Some(at) = rules.iter().position(|r| r.name() == "PushdownSort") {
        rules.insert(at + 1, Arc::new(SortBelowFilters));
    }
    rules
}
