//! Query ACLs: explicit `query_match` / `query_range` ACLs decide whether a
//! field may be *used* to select or order records, not only read.
//!
//! After planning, every column an expression uses is traced back to the
//! stored fields it derives from (column lineage through projections,
//! aliases, joins, unions, aggregates, subqueries). A use is:
//! - match: `=`, `<>`, `IS [NOT] DISTINCT FROM`, `IN`, `IS [NOT] NULL`,
//!   equi-join keys;
//! - range: `<`, `<=`, `>`, `>=`, `BETWEEN`, `LIKE`/`ILIKE`/regex,
//!   `ORDER BY` (also in windows), `min`/`max`.
//!
//! Comparisons are found in every expression of the plan, projections
//! included, so a `CASE WHEN salary > x` counts like a `WHERE salary > x`.
//! Without an explicit query ACL a field's use is allowed (reading it is
//! already governed by masks). A failing one rejects the statement with
//! 42501 naming the field and the operation.

use std::collections::BTreeSet;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchemaRef};
use datafusion::logical_expr::expr::{AggregateFunction, InList, InSubquery, Like};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, LogicalPlan, Operator};
use sqlgate_acl::{Operation, Policy, Principal, Tables};

use crate::error::{EngineError, sqlstate};

type Field = (String, String);
type Lineage = Vec<BTreeSet<Field>>;

/// Rejects the plan when it uses a field against an explicit query ACL.
pub fn check(
    plan: &LogicalPlan,
    policy: &Policy,
    tables: &Tables,
    principal: &Principal,
) -> Result<(), EngineError> {
    let mut uses: BTreeSet<(Field, Operation)> = BTreeSet::new();
    collect(plan, &mut uses)?;
    for ((table, field), op) in uses {
        // A scan of `task` reads incidents too: using `task.number` selects
        // incidents by their number, so each class's own query ACLs apply.
        for class in tables.subtree(&table) {
            let trace = policy.query_acl(tables, principal, class, &field, op);
            if trace.verdict.possible() {
                continue;
            }
            let subject = if class == table {
                format!("table \"{table}\"")
            } else {
                format!("table \"{class}\" (records of \"{table}\")")
            };
            return Err(EngineError::new(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                format!("{op} on field \"{field}\" of {subject} is not permitted"),
            )
            .with_hint(match op {
                Operation::QueryRange => {
                    "the field may be read but not ranged, sorted or used in min/max"
                }
                _ => "the field may be read but not matched or joined on",
            }));
        }
    }
    Ok(())
}

/// Every column of every node of the plan (subqueries included) and the
/// stored fields it derives from: how a subquery's reference to a column of
/// the outer query is traced back.
fn everywhere(plan: &LogicalPlan) -> Vec<(Column, BTreeSet<Field>)> {
    let mut out = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        let lin = lineage(node);
        for ((qualifier, field), set) in node.schema().iter().zip(lin) {
            out.push((Column::new(qualifier.cloned(), field.name()), set));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// Every column an expression refers to, outer references included.
fn referenced(e: &Expr) -> Vec<Column> {
    let mut out: Vec<Column> = e.column_refs().into_iter().cloned().collect();
    let _ = e.apply(|x| {
        if let Expr::OuterReferenceColumn(_, c) = x {
            out.push(c.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// Walks every node (and the plans of subqueries) collecting field uses.
fn collect(plan: &LogicalPlan, uses: &mut BTreeSet<(Field, Operation)>) -> Result<(), EngineError> {
    let global = everywhere(plan);
    plan.apply_with_subqueries(|node| {
        let inputs = node.inputs();
        let lineage_in: Vec<Lineage> = inputs.iter().map(|i| lineage(i)).collect();
        let schemas: Vec<DFSchemaRef> = inputs.iter().map(|i| i.schema().clone()).collect();
        let resolve = |c: &Column| -> BTreeSet<Field> {
            for (schema, lin) in schemas.iter().zip(&lineage_in) {
                if let Ok(i) = schema.index_of_column(c) {
                    return lin.get(i).cloned().unwrap_or_default();
                }
            }
            // An outer reference: the column of an enclosing query.
            global
                .iter()
                .filter(|(g, _)| g == c || (c.relation.is_none() && g.name == c.name))
                .flat_map(|(_, set)| set.iter().cloned())
                .collect()
        };
        let mut add = |e: &Expr, op: Operation| {
            for c in referenced(e) {
                for f in resolve(&c) {
                    uses.insert((f, op));
                }
            }
        };
        for e in node.expressions() {
            comparisons(&e, &mut add);
        }
        match node {
            LogicalPlan::Sort(s) => {
                for s in &s.expr {
                    add(&s.expr, Operation::QueryRange);
                }
            }
            LogicalPlan::Join(j) => {
                for (l, r) in &j.on {
                    add(l, Operation::QueryMatch);
                    add(r, Operation::QueryMatch);
                }
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

/// Scalar functions that compare or search their arguments.
const TESTING_FUNCTIONS: [&str; 14] = [
    "array_has",
    "array_has_all",
    "array_has_any",
    "array_contains",
    "list_has",
    "starts_with",
    "ends_with",
    "strpos",
    "instr",
    "regexp_like",
    "regexp_match",
    "regexp_count",
    "contains",
    "find_in_set",
];

/// Finds comparison-like uses anywhere inside an expression.
fn comparisons(e: &Expr, add: &mut dyn FnMut(&Expr, Operation)) {
    let _ = e.apply(|e| {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let kind = match op {
                    Operator::Eq
                    | Operator::NotEq
                    | Operator::IsDistinctFrom
                    | Operator::IsNotDistinctFrom => Some(Operation::QueryMatch),
                    Operator::Lt
                    | Operator::LtEq
                    | Operator::Gt
                    | Operator::GtEq
                    | Operator::LikeMatch
                    | Operator::ILikeMatch
                    | Operator::NotLikeMatch
                    | Operator::NotILikeMatch
                    | Operator::RegexMatch
                    | Operator::RegexIMatch
                    | Operator::RegexNotMatch
                    | Operator::RegexNotIMatch => Some(Operation::QueryRange),
                    _ => None,
                };
                if let Some(kind) = kind {
                    add(left, kind);
                    add(right, kind);
                }
            }
            Expr::Like(Like { expr, pattern, .. })
            | Expr::SimilarTo(Like { expr, pattern, .. }) => {
                add(expr, Operation::QueryRange);
                add(pattern, Operation::QueryRange);
            }
            Expr::Between(Between { expr, .. }) => add(expr, Operation::QueryRange),
            Expr::InList(InList { expr, .. }) | Expr::InSubquery(InSubquery { expr, .. }) => {
                add(expr, Operation::QueryMatch)
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) => add(x, Operation::QueryMatch),
            // `CASE x WHEN v THEN ...` compares x with each v.
            Expr::Case(c) => {
                if let Some(base) = &c.expr {
                    add(base, Operation::QueryMatch);
                    for (when, _) in &c.when_then_expr {
                        add(when, Operation::QueryMatch);
                    }
                }
            }
            // Functions that test their arguments (`= ANY(array)` plans as
            // array_has): a match and a range use, to fail closed.
            Expr::ScalarFunction(f) if TESTING_FUNCTIONS.contains(&f.name()) => {
                for a in &f.args {
                    add(a, Operation::QueryMatch);
                    add(a, Operation::QueryRange);
                }
            }
            Expr::AggregateFunction(AggregateFunction { func, params }) => {
                if matches!(func.name(), "min" | "max") {
                    for a in &params.args {
                        add(a, Operation::QueryRange);
                    }
                }
                for o in &params.order_by {
                    add(&o.expr, Operation::QueryRange);
                }
            }
            Expr::WindowFunction(w) => {
                for o in &w.params.order_by {
                    add(&o.expr, Operation::QueryRange);
                }
                if matches!(w.fun.name(), "min" | "max") {
                    for a in &w.params.args {
                        add(a, Operation::QueryRange);
                    }
                }
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

/// For each output column of `plan`, the stored fields it derives from.
fn lineage(plan: &LogicalPlan) -> Lineage {
    let by_refs = |exprs: &[Expr], input: &LogicalPlan| -> Lineage {
        let lin = lineage(input);
        exprs
            .iter()
            .map(|e| {
                value_refs(e)
                    .iter()
                    .filter_map(|c| input.schema().index_of_column(c).ok())
                    .flat_map(|i| lin[i].clone())
                    .collect()
            })
            .collect()
    };
    match plan {
        LogicalPlan::TableScan(scan) => {
            let table = scan.table_name.table().to_owned();
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| BTreeSet::from([(table.clone(), f.name().clone())]))
                .collect()
        }
        LogicalPlan::Projection(p) => by_refs(&p.expr, &p.input),
        LogicalPlan::Aggregate(a) => {
            let exprs: Vec<Expr> = a.group_expr.iter().chain(&a.aggr_expr).cloned().collect();
            let mut out = by_refs(&exprs, &a.input);
            // Grouping sets add an internal id column.
            out.resize(plan.schema().fields().len(), BTreeSet::new());
            out
        }
        LogicalPlan::Window(w) => {
            let mut out = lineage(&w.input);
            out.extend(by_refs(&w.window_expr, &w.input));
            out
        }
        LogicalPlan::Union(u) => {
            let mut out: Lineage = vec![BTreeSet::new(); plan.schema().fields().len()];
            for input in &u.inputs {
                for (i, set) in lineage(input).into_iter().enumerate() {
                    if let Some(o) = out.get_mut(i) {
                        o.extend(set);
                    }
                }
            }
            out
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Subquery(_)
        | LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_)) => plan
            .inputs()
            .first()
            .map(|i| lineage(i))
            .unwrap_or_default(),
        _ => by_name(plan),
    }
}

/// The columns an expression's value is computed from: for aggregate and
/// window functions, their arguments, not their ORDER BY / PARTITION BY
/// (those are uses, checked where they appear, not sources of the value).
fn value_refs(e: &Expr) -> Vec<Column> {
    let mut out = Vec::new();
    let _ = e.apply(|x| {
        match x {
            Expr::Column(c) => out.push(c.clone()),
            Expr::AggregateFunction(AggregateFunction { params, .. }) => {
                for a in &params.args {
                    out.extend(value_refs(a));
                }
                return Ok(TreeNodeRecursion::Jump);
            }
            Expr::WindowFunction(w) => {
                for a in &w.params.args {
                    out.extend(value_refs(a));
                }
                return Ok(TreeNodeRecursion::Jump);
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// Lineage by column name through the node's inputs: joins, DISTINCT ON,
/// unnest, recursive queries, extensions.
fn by_name(plan: &LogicalPlan) -> Lineage {
    let inputs = plan.inputs();
    let lineages: Vec<Lineage> = inputs.iter().map(|i| lineage(i)).collect();
    plan.schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Column::new(qualifier.cloned(), field.name());
            let mut set = BTreeSet::new();
            for (input, lin) in inputs.iter().zip(&lineages) {
                let idx = input
                    .schema()
                    .index_of_column(&column)
                    .ok()
                    .or_else(|| input.schema().index_of_column_by_name(None, field.name()));
                if let Some(i) = idx {
                    set.extend(lin[i].clone());
                }
            }
            set
        })
        .collect()
}
