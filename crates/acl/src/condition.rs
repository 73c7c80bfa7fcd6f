//! Encoded queries compiled to DataFusion expressions over a record's
//! columns, once per session and principal, evaluated vectorised below the
//! security barrier; and [`matches_row`], an independent row-at-a-time
//! evaluator of the same semantics that property tests hold the compiled
//! form to.
//!
//! Semantics (sqlgate; every rule fails closed):
//! - **NULL**: a comparison or string test on a NULL field never matches,
//!   the negative ones included (`!=`, `NOT IN`, `NOT LIKE`, `NSAMEAS`, and
//!   `SAMEAS` when either field is NULL). `ISEMPTY` matches NULL, and `''`
//!   for string fields (for other types only NULL); `ISNOTEMPTY` is its
//!   exact negation. Every condition is compiled to `(test) IS TRUE`, so
//!   the whole expression is never NULL: it can be negated or used in a
//!   `CASE` safely. Wrapping each condition, not only the whole, also keeps
//!   DataFusion's simplifier from merging sibling conditions with rules
//!   that hold only for non-NULL values (it rewrites `x NOT IN (1) OR
//!   x NOT IN (2)` to `true`, which a NULL `x` would then pass).
//! - **Literals** are parsed strictly into the field's Arrow type (see
//!   [`Value`] and the formats in the `literal` submodule); one that does
//!   not parse is a compile error at its position, never a silent mismatch.
//! - **Strings** compare by bytes, case-sensitively. `LIKE` is "contains",
//!   `STARTSWITH` / `ENDSWITH` what they say; `%`, `_` and `\` in their
//!   value are literal characters (escaped in the compiled `LIKE`). These
//!   operators need a string field.
//! - **Floats** compare as DataFusion's `=` and `<` do: `-0.0` equals
//!   `0.0`, NaN equals NaN and is above every number. Float literals must
//!   be finite. (DataFusion's `IN` compares floats bit for bit, so float
//!   `IN` / `NOT IN` are compiled as `=` / `!=` tests.)
//! - **Dynamic values** are replaced by the principal's values at compile
//!   time: `gs.getUserID()` and `gs.getUser().getMyGroups()` need a string
//!   field (`=` / `!=` with the groups mean `IN` / `NOT IN`; no groups means
//!   `IN` matches nothing and `NOT IN` every non-NULL value);
//!   `gs.hasRole('x')` is the text `true` / `false` and needs a string or
//!   boolean field, with `admin` implying every role except `nobody`.
//! - **SAMEAS / NSAMEAS** compare two fields exactly: strings with strings,
//!   integers with integers, floats with floats, decimals of equal scale,
//!   booleans, dates, timestamps of the same unit. Anything else is an
//!   error.
//! - An unknown field, or an operator the field's type cannot take, is an
//!   error at the condition's position.

mod literal;
mod reference;

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::Column;
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{Expr, and, cast, col, lit, not, or};

use crate::encoded_query::{Condition, Dynamic, EncodedQuery, Literal, Op, Operand};
use crate::model::roles;
use literal::Kind;
pub use literal::Value;
pub use reference::{RecordValues, matches_row};

/// What the dynamic values of conditions and the session functions of
/// scripts stand for, for one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicContext {
    /// `gs.getUserID()` / `user_sys_id()`.
    pub user_sys_id: String,
    /// `gs.getUser().getMyGroups()` / `user_in_group(…)`: direct groups.
    pub group_sys_ids: Vec<String>,
    /// Effective roles, closed under containment.
    pub roles: BTreeSet<String>,
}

impl DynamicContext {
    /// `gs.hasRole` / `user_has_role`: `admin` implies every role except
    /// `nobody`, which no one holds, as for ACL role checks.
    pub fn has_role(&self, role: &str) -> bool {
        role != roles::NOBODY && (self.roles.contains(roles::ADMIN) || self.roles.contains(role))
    }
}

/// A condition that cannot be compiled against a table, at the byte
/// position of the encoded query where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {kind}")]
pub struct CompileError {
    pub position: usize,
    pub kind: CompileErrorKind,
}

/// What is wrong, in words a policy author understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileErrorKind {
    #[error("unknown field \"{0}\"")]
    UnknownField(String),
    #[error(
        "field \"{field}\" has type {data_type}, which conditions can only test with ISEMPTY / ISNOTEMPTY"
    )]
    UnsupportedType { field: String, data_type: DataType },
    #[error(
        "{text:?} is not a valid value for field \"{field}\" ({data_type}): expected {expected}"
    )]
    InvalidLiteral {
        text: String,
        field: String,
        data_type: DataType,
        expected: String,
    },
    #[error("{op} needs a string field; \"{field}\" is {data_type}")]
    NeedsString {
        op: Op,
        field: String,
        data_type: DataType,
    },
    #[error("{dynamic} cannot be compared with field \"{field}\" ({data_type})")]
    DynamicType {
        dynamic: Dynamic,
        field: String,
        data_type: DataType,
    },
    #[error("cannot compare \"{field}\" ({data_type}) with \"{other}\" ({other_type})")]
    Incomparable {
        field: String,
        data_type: DataType,
        other: String,
        other_type: DataType,
    },
}

/// A condition checked against the field types, its operands typed: what
/// both the compiler and the reference evaluator start from.
pub(crate) struct Resolved<'q> {
    pub field: &'q str,
    pub data_type: DataType,
    pub test: Test<'q>,
}

/// The test a resolved condition makes on a non-NULL value (`Empty` on
/// any value).
pub(crate) enum Test<'q> {
    Compare(Cmp, Value),
    In {
        items: Vec<Value>,
        negated: bool,
    },
    Between(Value, Value),
    Text {
        op: TextOp,
        needle: String,
    },
    Empty {
        negated: bool,
    },
    Field {
        other: &'q str,
        other_type: DataType,
        common: DataType,
        negated: bool,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy)]
pub(crate) enum TextOp {
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
}

/// Types `c` against the field types `lookup` knows and resolves its
/// dynamic values for `ctx`.
pub(crate) fn resolve<'q>(
    c: &'q Condition,
    lookup: &dyn Fn(&str) -> Option<DataType>,
    ctx: &DynamicContext,
) -> Result<Resolved<'q>, CompileError> {
    use CompileErrorKind as K;
    fn fail<T>(position: usize, kind: CompileErrorKind) -> Result<T, CompileError> {
        Err(CompileError { position, kind })
    }
    let Some(ty) = lookup(&c.field) else {
        return fail(c.position, K::UnknownField(c.field.clone()));
    };
    let kind = literal::kind(&ty);
    if kind == Kind::Other && !matches!(c.op, Op::IsEmpty | Op::IsNotEmpty) {
        return fail(
            c.position,
            K::UnsupportedType {
                field: c.field.clone(),
                data_type: ty,
            },
        );
    }
    // The operand's texts with their positions, dynamic values resolved.
    let texts: Vec<(String, usize)> = match &c.operand {
        Operand::None | Operand::Field { .. } => Vec::new(),
        Operand::Literal(l) => vec![(l.text.clone(), l.position)],
        Operand::List(items) => items
            .iter()
            .map(|Literal { text, position }| (text.clone(), *position))
            .collect(),
        Operand::Range(a, b) => vec![(a.text.clone(), a.position), (b.text.clone(), b.position)],
        Operand::Dynamic { value, position } => {
            let fits = match value {
                Dynamic::HasRole(_) => matches!(kind, Kind::Text | Kind::Bool),
                Dynamic::UserId | Dynamic::MyGroups => kind == Kind::Text,
            };
            if !fits {
                let kind = K::DynamicType {
                    dynamic: value.clone(),
                    field: c.field.clone(),
                    data_type: ty,
                };
                return fail(*position, kind);
            }
            match value {
                Dynamic::UserId => vec![(ctx.user_sys_id.clone(), *position)],
                Dynamic::MyGroups => ctx
                    .group_sys_ids
                    .iter()
                    .map(|g| (g.clone(), *position))
                    .collect(),
                Dynamic::HasRole(r) => vec![(ctx.has_role(r).to_string(), *position)],
            }
        }
    };
    let values = texts
        .iter()
        .map(|(text, position)| {
            literal::parse(text, &ty).or_else(|expected| {
                let kind = K::InvalidLiteral {
                    text: text.clone(),
                    field: c.field.clone(),
                    data_type: ty.clone(),
                    expected,
                };
                fail(*position, kind)
            })
        })
        .collect::<Result<Vec<_>, _>>();
    let first = |values: Vec<Value>| values.into_iter().next().unwrap_or(Value::Null);
    let groups = matches!(
        c.operand,
        Operand::Dynamic {
            value: Dynamic::MyGroups,
            ..
        }
    );
    let compare = |cmp| -> Result<Test<'q>, CompileError> {
        Ok(if groups {
            Test::In {
                items: values.clone()?,
                negated: matches!(cmp, Cmp::Ne),
            }
        } else {
            Test::Compare(cmp, first(values.clone()?))
        })
    };
    let text = |op| -> Result<Test<'q>, CompileError> {
        if kind != Kind::Text {
            let kind = K::NeedsString {
                op: c.op,
                field: c.field.clone(),
                data_type: ty.clone(),
            };
            return fail(c.position, kind);
        }
        let needle = texts.first().map(|(t, _)| t.clone()).unwrap_or_default();
        Ok(Test::Text { op, needle })
    };
    let test = match c.op {
        Op::Eq => compare(Cmp::Eq)?,
        Op::Ne => compare(Cmp::Ne)?,
        Op::Lt => compare(Cmp::Lt)?,
        Op::Le => compare(Cmp::Le)?,
        Op::Gt => compare(Cmp::Gt)?,
        Op::Ge => compare(Cmp::Ge)?,
        Op::In | Op::NotIn => Test::In {
            items: values?,
            negated: c.op == Op::NotIn,
        },
        Op::Between => {
            let mut v = values?.into_iter();
            let low = v.next().unwrap_or(Value::Null);
            Test::Between(low, v.next().unwrap_or(Value::Null))
        }
        Op::Like => text(TextOp::Contains)?,
        Op::NotLike => text(TextOp::NotContains)?,
        Op::StartsWith => text(TextOp::StartsWith)?,
        Op::EndsWith => text(TextOp::EndsWith)?,
        Op::IsEmpty => Test::Empty { negated: false },
        Op::IsNotEmpty => Test::Empty { negated: true },
        Op::SameAs | Op::NSameAs => {
            let Operand::Field { name, position } = &c.operand else {
                return fail(c.position, K::UnknownField(String::new()));
            };
            let Some(other_type) = lookup(name) else {
                return fail(*position, K::UnknownField(name.clone()));
            };
            let Some(common) = literal::common_type(&ty, &other_type) else {
                let kind = K::Incomparable {
                    field: c.field.clone(),
                    data_type: ty,
                    other: name.clone(),
                    other_type,
                };
                return fail(c.position, kind);
            };
            Test::Field {
                other: name,
                other_type,
                common,
                negated: c.op == Op::NSameAs,
            }
        }
    };
    Ok(Resolved {
        field: &c.field,
        data_type: ty,
        test,
    })
}

/// Compiles an encoded query against a table schema for one principal.
/// The result is a boolean expression that is never NULL; the empty query
/// is `true`. Errors name the position in the encoded query.
pub fn compile(
    query: &EncodedQuery,
    schema: &Schema,
    ctx: &DynamicContext,
) -> Result<Expr, CompileError> {
    if query.is_empty() {
        return Ok(lit(true));
    }
    let lookup = |name: &str| {
        schema
            .field_with_name(name)
            .ok()
            .map(|f| f.data_type().clone())
    };
    let mut groups = Vec::with_capacity(query.groups.len());
    for group in &query.groups {
        let mut terms = Vec::with_capacity(group.len());
        for term in group {
            let alternatives = term
                .iter()
                .map(|c| resolve(c, &lookup, ctx).map(|r| leaf(&r)))
                .collect::<Result<Vec<_>, _>>()?;
            terms.push(balanced(alternatives, or));
        }
        groups.push(balanced(terms, and));
    }
    Ok(balanced(groups, or))
}

/// Folds `exprs` (never empty) into a balanced tree, so that a long query
/// yields a shallow expression.
fn balanced(mut exprs: Vec<Expr>, f: fn(Expr, Expr) -> Expr) -> Expr {
    while exprs.len() > 1 {
        let mut next = Vec::with_capacity(exprs.len().div_ceil(2));
        let mut it = exprs.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => f(a, b),
                None => a,
            });
        }
        exprs = next;
    }
    exprs.pop().unwrap_or_else(|| lit(false))
}

/// `%`, `_` and `\` taken literally in a `LIKE` pattern escaped with `\`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// One condition as an expression that is never NULL: true or false.
fn leaf(r: &Resolved<'_>) -> Expr {
    match &r.test {
        // DataFusion's IN compares floats bit for bit, its `=` reads -0.0
        // as 0.0: float membership is compiled as `=` / `!=` tests.
        Test::In { items, negated }
            if !items.is_empty() && literal::kind(&r.data_type) == Kind::Float =>
        {
            let column = col(Column::from_name(r.field));
            let tests = items.iter().map(|v| {
                let v = lit(literal::to_scalar(v, &r.data_type));
                let test = if *negated {
                    column.clone().not_eq(v)
                } else {
                    column.clone().eq(v)
                };
                test.is_true()
            });
            balanced(tests.collect(), if *negated { and } else { or })
        }
        _ => plain_leaf(r).is_true(),
    }
}

/// One condition as an expression that is NULL only when the field is
/// NULL, and otherwise true or false.
fn plain_leaf(r: &Resolved<'_>) -> Expr {
    let column = col(Column::from_name(r.field));
    let ty = &r.data_type;
    let scalar = |v: &Value| lit(literal::to_scalar(v, ty));
    let text = |s: String| lit(literal::to_scalar(&Value::Text(s), ty));
    match &r.test {
        Test::Compare(cmp, v) => {
            let v = scalar(v);
            match cmp {
                Cmp::Eq => column.eq(v),
                Cmp::Ne => column.not_eq(v),
                Cmp::Lt => column.lt(v),
                Cmp::Le => column.lt_eq(v),
                Cmp::Gt => column.gt(v),
                Cmp::Ge => column.gt_eq(v),
            }
        }
        // `x NOT IN ()` would be simplified to `true`, NULL included.
        Test::In { items, negated } if items.is_empty() => {
            if *negated {
                column.is_not_null()
            } else {
                lit(false)
            }
        }
        Test::In { items, negated } => column.in_list(items.iter().map(scalar).collect(), *negated),
        Test::Between(low, high) => and(
            column.clone().gt_eq(scalar(low)),
            column.lt_eq(scalar(high)),
        ),
        Test::Text { op, needle } => {
            let v = escape_like(needle);
            let (pattern, negated) = match op {
                TextOp::Contains => (format!("%{v}%"), false),
                TextOp::NotContains => (format!("%{v}%"), true),
                TextOp::StartsWith => (format!("{v}%"), false),
                TextOp::EndsWith => (format!("%{v}"), false),
            };
            Expr::Like(Like::new(
                negated,
                Box::new(column),
                Box::new(text(pattern)),
                Some('\\'),
                false,
            ))
        }
        Test::Empty { negated } => {
            let null = column.clone().is_null();
            let empty = if literal::kind(ty) == Kind::Text {
                or(null, column.eq(text(String::new())))
            } else {
                null
            };
            if *negated { not(empty) } else { empty }
        }
        Test::Field {
            other,
            other_type,
            common,
            negated,
        } => {
            let as_common = |e: Expr, t: &DataType| {
                if t == common {
                    e
                } else {
                    cast(e, common.clone())
                }
            };
            let column = as_common(column, ty);
            let other = as_common(col(Column::from_name(*other)), other_type);
            if *negated {
                column.not_eq(other)
            } else {
                column.eq(other)
            }
        }
    }
}
