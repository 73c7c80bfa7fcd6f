//! Which user predicates may reach the Parquet reader, and only to skip
//! row groups and pages.
//!
//! A user predicate never runs on a record before its row filter; that is
//! the barrier. Pruning is not running it: the reader compares the
//! predicate with a row group's min/max statistics, its page index and its
//! bloom filters, and skips data where the predicate cannot hold. Skipping
//! changes no answer when the predicate would also be false above the
//! barrier for every visible record it skips, which holds when
//! - every column it names is shown unmasked by the branch (a masked
//!   column is NULL above the barrier, its stored value is not), and is a
//!   stored column (`sys_class_name` is filled in from the class);
//! - it is made only of comparisons of a bare column with constants
//!   (`=`, `<>`, `<`, `<=`, `>`, `>=`, `IN`, `BETWEEN`, `IS [NOT] NULL`)
//!   and bare boolean columns (`WHERE active`, `WHERE NOT active`) joined by
//!   AND / OR: no function, cast of a column or other expression that could
//!   fail or behave differently on hidden values.
//!
//! The same reasoning lets the reader drop the rows such a predicate
//! rejects, before the row filter: such a comparison cannot fail or have
//! any other effect on any value, hidden or not, and the user's filter
//! still runs above the barrier, so every answer is unchanged. The engine
//! asks for it only for lookups ([`is_lookup`]: some conjunct is
//! `column = constant` or `column IN (constants)`), where decoding the wide
//! columns of one matching row instead of a whole page is the difference
//! between milliseconds and tens of them; for a range that keeps half the
//! rows, decoding through a row selection costs more than it saves
//! (measured on 1M incidents: `active AND priority <= 2` fell from 22.5 to
//! 16.0 ms, `state <> 7` rose from 51 to 83 ms). For
//! the same reason the row filter of a restricted branch tests such
//! predicates before its row condition (`secure_table.rs`).
//!
//! What remains is timing: a lookup of a value only hidden records hold
//! skips less than one of a value nobody holds. PostgreSQL's row-level
//! security makes the same trade (leakproof operators may use an index
//! before the policy's filter).

use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// Whether `e` has the shape that may be used for pruning.
pub fn prunable_shape(e: &Expr) -> bool {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => prunable_shape(left) && prunable_shape(right),
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq => {
                (is_column(left) && is_constant(right)) || (is_constant(left) && is_column(right))
            }
            _ => false,
        },
        Expr::InList(l) => !l.negated && is_column(&l.expr) && l.list.iter().all(is_constant),
        Expr::Between(b) => {
            !b.negated && is_column(&b.expr) && is_constant(&b.low) && is_constant(&b.high)
        }
        Expr::IsNull(c) | Expr::IsNotNull(c) => is_column(c),
        // A filter is boolean (the planner refuses any other type), so a
        // bare column here is a boolean one: the reader skips row groups
        // whose statistics hold only the other value.
        Expr::Column(_) => true,
        Expr::Not(c) => is_column(c),
        _ => false,
    }
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Column(_))
}

/// A literal, possibly cast (type coercion casts literals, not columns,
/// where it can).
fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(..) => true,
        Expr::Cast(c) => is_constant(&c.expr),
        Expr::TryCast(c) => is_constant(&c.expr),
        _ => false,
    }
}

/// Whether the pruning predicates select a few records by value: some
/// conjunct compares a column for equality with constants.
pub fn is_lookup(prune: &[Expr]) -> bool {
    prune.iter().any(|p| match p {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => is_column(left) || is_column(right),
        Expr::InList(l) => !l.negated && is_column(&l.expr),
        _ => false,
    })
}

/// The predicates among `filters` one branch may prune with, unqualified
/// (the files know no table names). `usable(column)` says whether a column
/// is stored and shown unmasked by the branch.
pub fn for_branch(filters: &[Expr], usable: impl Fn(&str) -> bool) -> Vec<Expr> {
    filters
        .iter()
        .filter(|f| prunable_shape(f) && f.column_refs().iter().all(|c| usable(&c.name)))
        .filter_map(|f| {
            f.clone()
                .transform(|e| {
                    Ok(match e {
                        Expr::Column(c) if c.relation.is_some() => {
                            Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
                        }
                        other => Transformed::no(other),
                    })
                })
                .ok()
                .map(|t| t.data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};
    use datafusion::prelude::Expr;

    fn f(name: &str) -> Expr {
        Expr::Column(Column::new(Some("incident"), name))
    }

    #[test]
    fn only_column_constant_comparisons_prune() {
        let yes = [
            f("number").eq(lit("INC0000001")),
            lit(3).lt(f("priority")),
            f("priority").in_list(vec![lit(1), lit(2)], false),
            f("priority").between(lit(1), lit(2)),
            f("closed_at").is_null(),
            f("number")
                .eq(lit("a"))
                .or(f("priority").eq(lit(1)).and(f("state").gt_eq(lit(2)))),
            f("priority").eq(Expr::Cast(datafusion::logical_expr::Cast::new(
                Box::new(lit(1i64)),
                datafusion::arrow::datatypes::DataType::Int32,
            ))),
            f("active"),
            !f("active"),
            f("active").and(f("priority").lt_eq(lit(2))),
        ];
        for e in &yes {
            assert!(prunable_shape(e), "{e}");
        }
        let no = [
            f("number").like(lit("INC%")),
            f("priority").in_list(vec![lit(1)], true),
            f("priority").eq(f("impact")),
            (f("priority") + lit(1)).eq(lit(2)),
            Expr::Cast(datafusion::logical_expr::Cast::new(
                Box::new(f("number")),
                datafusion::arrow::datatypes::DataType::Int32,
            ))
            .eq(lit(5)),
            f("priority").eq(lit(1)).and(f("number").like(lit("x"))),
            f("active").is_true(),
            !f("priority").eq(lit(1)),
            f("number").not_eq(lit("a")).is_true(),
        ];
        for e in &no {
            assert!(!prunable_shape(e), "{e}");
        }
    }

    #[test]
    fn only_equality_with_constants_is_a_lookup() {
        let number = || col("number");
        assert!(is_lookup(&[number().eq(lit("INC1"))]));
        assert!(is_lookup(&[
            col("priority").lt(lit(3)),
            number().in_list(vec![lit("a"), lit("b")], false),
        ]));
        assert!(!is_lookup(&[col("priority").lt_eq(lit(2))]));
        assert!(!is_lookup(&[col("priority").between(lit(1), lit(2))]));
        // An OR of equalities may keep most rows: not a lookup.
        assert!(!is_lookup(&[number()
            .eq(lit("a"))
            .or(col("priority").gt(lit(0)))]));
        assert!(!is_lookup(&[number().not_eq(lit("a"))]));
        assert!(!is_lookup(&[col("active")]));
        assert!(!is_lookup(&[]));
    }

    #[test]
    fn masked_and_unstored_columns_never_prune() {
        let filters = [
            f("number").eq(lit("INC1")),
            f("work_notes").is_null(),
            f("priority").eq(lit(1)).and(f("work_notes").eq(lit("x"))),
            f("sys_class_name").eq(lit("incident")),
        ];
        let usable = |c: &str| c != "work_notes" && c != "sys_class_name";
        let got = for_branch(&filters, usable);
        assert_eq!(got, vec![col("number").eq(lit("INC1"))]);
    }
}
