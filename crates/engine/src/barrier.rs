//! The security barrier in the physical plan.
//!
//! `SecureScanExec` sits on top of one record class's scan, its row filter
//! and its field masks. It passes batches through unchanged; what matters is
//! what it refuses to the optimizer:
//! - parent filters (user predicates, dynamic join/TopK filters) are never
//!   pushed below it (`gather_filters_for_pushdown` keeps the default
//!   "all unsupported"), so no user expression runs on a hidden row;
//! - projections, sorts and limits are not swapped below it (defaults);
//! - it reports unknown statistics, so `count(*)`, `min`, `max` are never
//!   answered from file metadata that covers hidden rows.
//!
//! Its display names only the table and class: the ACL predicate and masks
//! below it are hidden from EXPLAIN for non-admin accounts by the explain
//! renderer, which cuts the tree at this node.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

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

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}
