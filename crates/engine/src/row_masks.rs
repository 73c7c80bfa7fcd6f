//! Which row conditions the reader may apply from kept answers (see
//! `sqlgate_records::row_masks`), and their planning.
//!
//! Only a condition that answers the same on the same record every time
//! may be kept: column references to stored columns, literals (a
//! principal's dynamic values are literals by now), operators, and
//! functions DataFusion declares immutable. Anything else (`now()`, a
//! random or session-dependent function, a subquery, a placeholder, the
//! class name, which no file stores) runs as a filter on every query.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::TreeNode;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, Volatility};
use datafusion::physical_expr::PhysicalExpr;
use sqlgate_acl::script::is_operator;
use sqlgate_records::{CLASS_COLUMN, RowCondition, TableDef, dictionary};

use crate::string_set;

/// Whether `condition`'s answer for a record of `class` may be kept.
pub fn applies(condition: &Expr, class: &TableDef) -> bool {
    if !class.row_masks().is_enabled() {
        return false;
    }
    let columns_stored = condition
        .column_refs()
        .iter()
        .all(|c| c.name != CLASS_COLUMN && class.stored_schema_of(&[c.name.as_str()]).is_ok());
    let fixed = !condition
        .exists(|e| {
            Ok(match e {
                e if is_operator(e) => false,
                Expr::ScalarFunction(f) => f.func.signature().volatility != Volatility::Immutable,
                _ => true,
            })
        })
        .unwrap_or(true);
    columns_stored && fixed
}

/// `condition` planned over the stored columns it reads, named by its
/// logical form (dynamic values included) and what of the session can
/// change its answers.
pub fn condition(state: &dyn Session, class: &TableDef, condition: &Expr) -> Result<RowCondition> {
    let mut columns: Vec<String> = condition
        .column_refs()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    columns.sort();
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let stored = class.stored_schema_of(&names)?;
    Ok(RowCondition {
        predicate: over_stored(state, condition.clone(), &stored)?,
        columns,
        // The session's time zone may enter casts to and from zoned
        // timestamps: a mask is shared only between equal settings.
        fingerprint: format!(
            "{condition:?} time_zone={:?}",
            state.config_options().execution.time_zone
        ),
    })
}

/// An ACL expression for columns as `stored`: planned over them as text,
/// then made to read the stored dictionaries (string sets take them as
/// they are, anything else reads them decoded).
pub fn over_stored(
    state: &dyn Session,
    expr: Expr,
    stored: &SchemaRef,
) -> Result<Arc<dyn PhysicalExpr>> {
    let df_schema = DFSchema::try_from(dictionary::as_text(stored))?;
    let e = state.create_physical_expr(expr, &df_schema)?;
    let e = string_set::specialise(e, df_schema.as_arrow())?;
    dictionary::over_stored(e, stored, |e| e.is::<string_set::StringSetExpr>())
}
