//! PostgreSQL's reading of quoted literals where DataFusion has no
//! coercion: `indisprimary = 't'` compares a boolean with a literal of
//! unknown type, which PostgreSQL reads as a boolean (psqlODBC's catalog
//! queries are written this way). A text literal compared with a boolean
//! expression becomes the boolean it spells; anything else is left for
//! DataFusion to judge.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};

#[derive(Debug)]
pub struct BooleanLiterals;

/// The boolean a PostgreSQL boolean literal spells.
fn pg_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn text_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s),
        _ => None,
    }
}

impl FunctionRewrite for BooleanLiterals {
    fn name(&self) -> &str {
        "pg_boolean_literals"
    }

    fn rewrite(
        &self,
        expr: Expr,
        schema: &DFSchema,
        _: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        if !matches!(
            op,
            Operator::Eq | Operator::NotEq | Operator::IsDistinctFrom | Operator::IsNotDistinctFrom
        ) {
            return Ok(Transformed::no(expr));
        }
        let is_bool = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Boolean));
        let literal = |e: &Expr| text_literal(e).and_then(pg_bool);
        let rewritten = match (literal(left), literal(right)) {
            (None, Some(b)) if is_bool(left) => Some((
                left.as_ref().clone(),
                Expr::Literal(ScalarValue::Boolean(Some(b)), None),
            )),
            (Some(b), None) if is_bool(right) => Some((
                Expr::Literal(ScalarValue::Boolean(Some(b)), None),
                right.as_ref().clone(),
            )),
            _ => None,
        };
        Ok(match rewritten {
            Some((l, r)) => Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(l),
                *op,
                Box::new(r),
            ))),
            None => Transformed::no(expr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_boolean_spellings() {
        assert_eq!(pg_bool("t"), Some(true));
        assert_eq!(pg_bool(" TRUE "), Some(true));
        assert_eq!(pg_bool("off"), Some(false));
        assert_eq!(pg_bool("maybe"), None);
    }
}
