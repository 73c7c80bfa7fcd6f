//! The security barrier in the physical plan.
//!
//! `SecureScanExec` sits on top of one record class's scan, its row filter
//! and its field masks. It passes batches through unchanged; what matters is
//! what it refuses to the optimizer:
//! - parent filters (user predicates, dynamic join filters) are never
//!   pushed below it, so no user expression runs on a hidden row. The one
//!   exception is a top-N's threshold on a column that passes the barrier
//!   unchanged: the reader may skip what can no longer make the top-N, and
//!   the filter above still applies it (see [`crate::sort_pushdown`]);
//! - projections and limits are not swapped below it; a top-N's order may
//!   only steer the reader's order over such unchanged columns, and the
//!   sort stays above;
//! - it reports no column statistics and no exact count, so `count(*)`,
//!   `min`, `max` are never answered from file metadata that covers hidden
//!   rows. Only the sizes of its input go up, inexact and rounded up to a
//!   power of two: enough for the planner to build a join's hash table on
//!   the smaller side (without them it built it on a million incidents
//!   rather than 20,000 users, 5x slower), too coarse to count records by.
//!
//! Its display names only the table and class: the ACL predicate and masks
//! below it are hidden from EXPLAIN for non-admin accounts by the explain
//! renderer, which cuts the tree at this node.

use std::fmt;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::PhysicalSortExpr;
use datafusion::physical_expr::expressions::{Column, DynamicFilterPhysicalExpr};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter_pushdown::{
    ChildFilterDescription, FilterDescription, FilterPushdownPhase,
};
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    SendableRecordBatchStream, SortOrderPushdownResult, Statistics, StatisticsArgs,
};

use crate::sort_pushdown::{passes_unchanged, push_sort};

/// The name EXPLAIN shows; the explain renderer cuts the tree below it.
pub const SECURE_SCAN: &str = "SecureScanExec";

#[derive(Debug, Clone)]
pub struct SecureScanExec {
    table: String,
    class: String,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl SecureScanExec {
    pub fn new(table: &str, class: &str, input: Arc<dyn ExecutionPlan>) -> SecureScanExec {
        let properties = Arc::clone(input.properties());
        SecureScanExec {
            table: table.to_owned(),
            class: class.to_owned(),
            input,
            properties,
        }
    }

    /// Whether every column `filter` reads passes the barrier unchanged.
    fn over_unchanged(&self, filter: &Arc<dyn PhysicalExpr>) -> bool {
        let mut unchanged = true;
        let _ = filter.apply(|e| {
            if let Some(c) = e.downcast_ref::<Column>() {
                unchanged &= passes_unchanged(&self.input, c.index());
            }
            Ok(TreeNodeRecursion::Continue)
        });
        unchanged
    }
}

impl DisplayAs for SecureScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "{SECURE_SCAN}: table={}, class={}",
                    self.table, self.class
                )
            }
            DisplayFormatType::TreeRender => {
                write!(f, "table={}\nclass={}", self.table, self.class)
            }
        }
    }
}

impl ExecutionPlan for SecureScanExec {
    fn name(&self) -> &str {
        SECURE_SCAN
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children.swap_remove(0);
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => SecureScanExec {
                input,
                ..SecureScanExec::clone(&self)
            },
            ChildrenPropertiesMode::Recompute => {
                SecureScanExec::new(&self.table, &self.class, input)
            }
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    /// Only over columns that pass unchanged, and never exact: the scan
    /// order is a hint to the reader, the sort above decides.
    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
    ) -> Result<SortOrderPushdownResult<Arc<dyn ExecutionPlan>>> {
        let unchanged = order.iter().all(|key| {
            key.expr
                .downcast_ref::<Column>()
                .is_some_and(|c| passes_unchanged(&self.input, c.index()))
        });
        if !unchanged {
            return Ok(SortOrderPushdownResult::Unsupported);
        }
        Ok(match push_sort(&self.input, order)? {
            Some(input) => SortOrderPushdownResult::Inexact {
                inner: Arc::new(SecureScanExec::new(&self.table, &self.class, input)),
            },
            None => SortOrderPushdownResult::Unsupported,
        })
    }

    /// Every parent filter stays above. A top-N's dynamic threshold over
    /// unchanged columns also goes down, as this node's own filter: it only
    /// drops records the top-N would drop, and cannot fail on any record.
    fn gather_filters_for_pushdown(
        &self,
        phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        let mut child = ChildFilterDescription::all_unsupported(&parent_filters);
        if phase == FilterPushdownPhase::Post {
            let thresholds = parent_filters
                .iter()
                .filter(|f| f.is::<DynamicFilterPhysicalExpr>() && self.over_unchanged(f))
                .cloned()
                .collect();
            child = child.with_self_filters(thresholds);
        }
        Ok(FilterDescription::new().with_child(child))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema());
        if let Some(input) = input_stats.first() {
            stats.num_rows = coarse(&input.num_rows);
            stats.total_byte_size = coarse(&input.total_byte_size);
        }
        Ok(Arc::new(stats))
    }
}

/// A size the planner may weigh but not count by: inexact, and rounded up
/// to a power of two.
fn coarse(size: &Precision<usize>) -> Precision<usize> {
    match size.get_value() {
        Some(&n) => Precision::Inexact(n.checked_next_power_of_two().unwrap_or(usize::MAX)),
        None => Precision::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_plan::StatisticsContext;

    #[test]
    fn only_coarse_inexact_sizes_pass_the_barrier() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from_iter_values(0..1000))],
        )
        .unwrap();
        let input = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap();
        let ctx = StatisticsContext::new();
        let below = ctx.compute(input.as_ref(), &StatisticsArgs::new()).unwrap();
        assert_eq!(below.num_rows, Precision::Exact(1000));
        assert_eq!(below.column_statistics[0].null_count, Precision::Exact(0));

        let barrier = SecureScanExec::new("t", "t", input);
        let above = ctx.compute(&barrier, &StatisticsArgs::new()).unwrap();
        assert_eq!(above.num_rows, Precision::Inexact(1024));
        assert!(matches!(above.total_byte_size, Precision::Inexact(b) if b.is_power_of_two()));
        let column = &above.column_statistics[0];
        assert_eq!(column.min_value, Precision::Absent);
        assert_eq!(column.max_value, Precision::Absent);
        assert_eq!(column.null_count, Precision::Absent);
        assert_eq!(column.distinct_count, Precision::Absent);
    }
}
