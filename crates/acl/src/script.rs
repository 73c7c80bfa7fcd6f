//! The ACL `script` field: the platform's scripted condition, written as a
//! SQL boolean expression over the record, e.g.
//! `priority <= 2 AND assigned_to = user_sys_id()`.
//!
//! It is parsed with DataFusion's parser and planned against the table's
//! schema, once per session. Three session functions become literals at
//! compile time: `user_sys_id()`, `user_has_role('role')`,
//! `user_in_group('group sys_id')`. Refused: unknown columns or functions,
//! subqueries, aggregates, window functions, volatile functions,
//! non-boolean results, and trees deeper than [`MAX_DEPTH`]. A NULL result
//! counts as false.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::logical_expr::{ColumnarValue, Expr, ExprSchemable, Volatility, create_udf, lit};
use datafusion::prelude::SessionConfig;

use crate::condition::DynamicContext;

/// The deepest expression a script may be.
pub const MAX_DEPTH: usize = 64;

/// Why a script cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScriptError(pub String);

/// A planning-only session: built-in functions plus the session functions.
fn planner() -> &'static SessionState {
    static STATE: OnceLock<SessionState> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut config = SessionConfig::new();
        config.options_mut().sql_parser.dialect = datafusion::common::config::Dialect::PostgreSQL;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let never = Arc::new(
            |_: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
                datafusion::common::exec_err!("session functions are replaced before execution")
            },
        );
        for (name, args, ret) in [
            ("user_sys_id", vec![], DataType::Utf8),
            ("user_has_role", vec![DataType::Utf8], DataType::Boolean),
            ("user_in_group", vec![DataType::Utf8], DataType::Boolean),
        ] {
            let udf = create_udf(name, args, ret, Volatility::Stable, never.clone());
            state
                .register_udf(Arc::new(udf))
                .expect("registering a session function");
        }
        state
    })
}

fn depth(e: &Expr) -> usize {
    let mut max = 0;
    let _ = e.apply_children(|c| {
        max = max.max(depth(c));
        Ok(TreeNodeRecursion::Continue)
    });
    max + 1
}

/// Compiles a script against a table schema for one principal.
pub fn compile_script(
    sql: &str,
    schema: &Schema,
    ctx: &DynamicContext,
) -> Result<Expr, ScriptError> {
    let df_schema = DFSchema::try_from(schema.clone()).map_err(|e| ScriptError(e.to_string()))?;
    let expr = planner()
        .create_logical_expr(sql, &df_schema)
        .map_err(|e| ScriptError(first_line(&e.to_string())))?;
    if depth(&expr) > MAX_DEPTH {
        return Err(ScriptError(format!(
            "expression nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut refused: Option<String> = None;
    expr.apply(|e| {
        let why = match e {
            Expr::ScalarSubquery(_)
            | Expr::Exists(_)
            | Expr::InSubquery(_)
            | Expr::SetComparison(_) => Some("subqueries are not allowed".to_owned()),
            Expr::OuterReferenceColumn(..) => Some("outer references are not allowed".to_owned()),
            Expr::AggregateFunction(_) => Some("aggregate functions are not allowed".to_owned()),
            Expr::WindowFunction(_) => Some("window functions are not allowed".to_owned()),
            Expr::Placeholder(_) => Some("parameters are not allowed".to_owned()),
            Expr::ScalarFunction(f) if f.func.signature().volatility == Volatility::Volatile => {
                Some(format!("volatile function {}() is not allowed", f.name()))
            }
            _ => None,
        };
        Ok(match why {
            Some(w) => {
                refused = Some(w);
                TreeNodeRecursion::Stop
            }
            None => TreeNodeRecursion::Continue,
        })
    })
    .map_err(|e| ScriptError(e.to_string()))?;
    if let Some(why) = refused {
        return Err(ScriptError(why));
    }
    let expr = substitute(expr, ctx)?;
    match expr.get_type(&df_schema) {
        Ok(DataType::Boolean) => Ok(expr.is_true()),
        Ok(other) => Err(ScriptError(format!(
            "a script must be a boolean expression, not {other}"
        ))),
        Err(e) => Err(ScriptError(first_line(&e.to_string()))),
    }
}

/// Replaces the session functions by the principal's values.
fn substitute(expr: Expr, ctx: &DynamicContext) -> Result<Expr, ScriptError> {
    let text_arg =
        |f: &datafusion::logical_expr::expr::ScalarFunction| -> Result<String, ScriptError> {
            match f.args.as_slice() {
                [Expr::Literal(ScalarValue::Utf8(Some(s)), _)] => Ok(s.clone()),
                _ => Err(ScriptError(format!(
                    "{}() takes one string literal",
                    f.name()
                ))),
            }
        };
    expr.transform_up(|e| {
        let Expr::ScalarFunction(f) = &e else {
            return Ok(Transformed::no(e));
        };
        let value = match f.name() {
            "user_sys_id" => lit(ctx.user_sys_id.clone()),
            "user_has_role" => match text_arg(f) {
                Ok(r) => lit(ctx.roles.contains(&r)),
                Err(err) => return datafusion::common::plan_err!("{err}"),
            },
            "user_in_group" => match text_arg(f) {
                Ok(g) => lit(ctx.group_sys_ids.contains(&g)),
                Err(err) => return datafusion::common::plan_err!("{err}"),
            },
            _ => return Ok(Transformed::no(e)),
        };
        Ok(Transformed::yes(value))
    })
    .map(|t| t.data)
    .map_err(|e| ScriptError(first_line(&e.to_string())))
}

fn first_line(m: &str) -> String {
    m.lines()
        .next()
        .unwrap_or(m)
        .trim_start_matches("Error during planning: ")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Field;

    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("priority", DataType::Int32, true),
            Field::new("assigned_to", DataType::Utf8, true),
        ])
    }

    fn ctx() -> DynamicContext {
        DynamicContext {
            user_sys_id: "u1".into(),
            group_sys_ids: vec!["g1".into()],
            roles: ["itil".to_owned()].into(),
        }
    }

    #[test]
    fn session_functions_become_literals() {
        let e = compile_script(
            "priority <= 2 AND assigned_to = user_sys_id() AND user_has_role('itil') AND user_in_group('g1')",
            &schema(),
            &ctx(),
        )
        .unwrap();
        let text = e.to_string();
        assert!(
            text.contains("Utf8(\"u1\")") && !text.contains("user_"),
            "{text}"
        );
    }

    #[test]
    fn refuses_what_a_condition_must_not_do() {
        for (sql, why) in [
            ("nope = 1", "nope"),
            ("priority + 1", "boolean"),
            ("priority > (SELECT 1)", "subquer"),
            ("random() > 0.5", "volatile"),
            ("count(priority) > 1", "aggregate"),
            ("no_such_function(priority)", "no_such_function"),
            ("user_has_role(assigned_to)", "string literal"),
        ] {
            let e = compile_script(sql, &schema(), &ctx()).expect_err(sql);
            assert!(e.0.to_lowercase().contains(why), "{sql}: {e}");
        }
        let deep = format!("{}priority > 1{}", "(".repeat(40), ")".repeat(40));
        assert!(compile_script(&deep, &schema(), &ctx()).is_ok());
        let chain = vec!["priority = 1"; 100].join(" OR ");
        assert!(
            compile_script(&chain, &schema(), &ctx())
                .unwrap_err()
                .0
                .contains("deeper")
        );
    }
}
