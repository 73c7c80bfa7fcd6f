//! EXPLAIN without leaking the policy.
//!
//! DataFusion's own EXPLAIN prints every node, including the ACL row filter
//! and field masks below each `SecureScanExec`, and EXPLAIN ANALYZE prints
//! row counts before filtering. Here the plan is rendered by hand: the tree
//! stops at each `SecureScanExec`, which shows only the table and class.
//! Accounts holding `admin` see the whole tree.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::SessionContext;

use crate::barrier::SECURE_SCAN;
use crate::error::{EngineError, sqlstate};

/// The (plan_type, plan) table EXPLAIN returns.
pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]))
}

/// Plans (and with `analyze`, runs) `plan` and renders it.
pub async fn explain(
    ctx: &SessionContext,
    plan: LogicalPlan,
    analyze: bool,
    full: bool,
) -> Result<RecordBatch, EngineError> {
    let state = ctx.state();
    let logical = state.optimize(&plan)?;
    let physical = state.create_physical_plan(&plan).await?;
    if analyze {
        // The results are discarded; only the metrics are wanted.
        collect(Arc::clone(&physical), ctx.task_ctx()).await?;
    }
    let mut physical_text = String::new();
    render(physical.as_ref(), 0, analyze, full, &mut physical_text);
    let kind = if analyze {
        "Plan with Metrics"
    } else {
        "physical_plan"
    };
    let (types, plans): (Vec<&str>, Vec<String>) = if analyze {
        (vec![kind], vec![physical_text])
    } else {
        (
            vec!["logical_plan", kind],
            vec![logical.display_indent().to_string(), physical_text],
        )
    };
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(types)),
            Arc::new(StringArray::from(plans)),
        ],
    )
    .map_err(|e| EngineError::new(sqlstate::INTERNAL_ERROR, e.to_string()))
}

fn render(node: &dyn ExecutionPlan, depth: usize, metrics: bool, full: bool, out: &mut String) {
    let line = if metrics {
        DisplayableExecutionPlan::with_metrics(node)
            .one_line()
            .to_string()
    } else {
        DisplayableExecutionPlan::new(node).one_line().to_string()
    };
    let _ = write!(out, "{:indent$}{line}", "", indent = depth * 2);
    if !line.ends_with('\n') {
        out.push('\n');
    }
    if node.name() == SECURE_SCAN && !full {
        return;
    }
    for child in node.children() {
        render(child.as_ref(), depth + 1, metrics, full, out);
    }
}
