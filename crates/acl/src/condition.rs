//! Encoded queries compiled to DataFusion expressions over a record's
//! columns, once per session, evaluated vectorised below the barrier.
//!
//! Semantics (sqlgate, fail closed):
//! - a comparison or string test on a NULL field never matches, including
//!   the negative operators (`!=`, `NOT IN`, `NOT LIKE`, `NSAMEAS`);
//! - `ISEMPTY` matches NULL, and `''` for string fields; `ISNOTEMPTY` is its
//!   negation;
//! - `LIKE` is "contains", case-sensitive, with `%`, `_` and `\` in the
//!   value taken literally; `LIKE`-family operators need a string field;
//! - every compiled condition is wrapped in `IS TRUE`, so the result is
//!   never NULL.
//!
//! [`matches_row`] is an independent row-at-a-time evaluator of the same
//! semantics; property tests hold the two together.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{Expr, and, col, lit, not, or};

use crate::encoded_query::{Condition, EncodedQuery, Op, Value};

/// What dynamic values stand for, for one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicContext {
    pub user_sys_id: String,
    pub group_sys_ids: Vec<String>,
    pub roles: BTreeSet<String>,
}

/// A condition that cannot be compiled against a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {message}")]
pub struct CompileError {
    pub position: usize,
    pub message: String,
}

fn error(c: &Condition, message: impl Into<String>) -> CompileError {
    CompileError {
        position: c.position,
        message: message.into(),
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// Compiles an encoded query; the empty query is `true`.
pub fn compile(
    query: &EncodedQuery,
    schema: &Schema,
    ctx: &DynamicContext,
) -> Result<Expr, CompileError> {
    if query.is_empty() {
        return Ok(lit(true));
    }
    let mut groups = Vec::new();
    for group in &query.groups {
        let mut terms = Vec::new();
        for term in group {
            let alternatives = term
                .iter()
                .map(|c| compile_condition(c, schema, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            terms.push(
                alternatives
                    .into_iter()
                    .reduce(or)
                    .expect("a term has a condition"),
            );
        }
        groups.push(terms.into_iter().reduce(and).expect("a group has a term"));
    }
    Ok(groups.into_iter().reduce(or).expect("a query has a group"))
}

/// The literal text(s) a condition compares with, dynamic values resolved.
fn texts(c: &Condition, ctx: &DynamicContext) -> Vec<String> {
    match &c.value {
        Value::Text(t) => vec![t.clone()],
        Value::List(l) => l.clone(),
        Value::Range(a, b) => vec![a.clone(), b.clone()],
        Value::UserId => vec![ctx.user_sys_id.clone()],
        Value::MyGroups => ctx.group_sys_ids.clone(),
        Value::HasRole(r) => vec![ctx.roles.contains(r).to_string()],
        Value::None | Value::Field(_) => Vec::new(),
    }
}

fn literal(c: &Condition, text: &str, ty: &DataType) -> Result<Expr, CompileError> {
    let bad = || {
        error(
            c,
            format!("{text:?} is not a valid {ty} for field \"{}\"", c.field),
        )
    };
    let value = match ty {
        DataType::Boolean => match text {
            "true" => ScalarValue::Boolean(Some(true)),
            "false" => ScalarValue::Boolean(Some(false)),
            _ => return Err(bad()),
        },
        t if is_string(t) => ScalarValue::try_from_string(text.to_owned(), t).map_err(|_| bad())?,
        t if t.is_numeric() || t.is_temporal() => {
            if text.trim() != text || text.is_empty() {
                return Err(bad());
            }
            ScalarValue::try_from_string(text.to_owned(), t).map_err(|_| bad())?
        }
        _ => {
            return Err(error(
                c,
                format!(
                    "field \"{}\" has type {ty}, which conditions cannot use",
                    c.field
                ),
            ));
        }
    };
    if value.is_null() {
        return Err(bad());
    }
    Ok(lit(value))
}

/// `%`, `_` and `\` taken literally in a LIKE pattern escaped with `\`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn like(column: Expr, pattern: String, ty: &DataType, negated: bool) -> Expr {
    let pattern = ScalarValue::try_from_string(pattern, ty).expect("string types take any text");
    Expr::Like(Like::new(
        negated,
        Box::new(column),
        Box::new(lit(pattern)),
        Some('\\'),
        false,
    ))
}

/// `Some(negated)` when the condition is a membership test: IN / NOT IN,
/// or `=` / `!=` against the list of the principal's groups.
fn membership(c: &Condition) -> Option<bool> {
    match (c.op, &c.value) {
        (Op::In, _) | (Op::Eq, Value::MyGroups) => Some(false),
        (Op::NotIn, _) | (Op::Ne, Value::MyGroups) => Some(true),
        _ => None,
    }
}

fn compile_condition(
    c: &Condition,
    schema: &Schema,
    ctx: &DynamicContext,
) -> Result<Expr, CompileError> {
    let field = schema
        .field_with_name(&c.field)
        .map_err(|_| error(c, format!("unknown field \"{}\"", c.field)))?;
    let ty = field.data_type();
    let column = col(datafusion::common::Column::from_name(c.field.as_str()));
    let text = texts(c, ctx);
    let one = |i: usize| literal(c, &text[i], ty);
    let list = || {
        text.iter()
            .map(|t| literal(c, t, ty))
            .collect::<Result<Vec<_>, _>>()
    };
    let needs_string = || {
        if is_string(ty) {
            Ok(())
        } else {
            Err(error(
                c,
                format!("{} needs a string field; \"{}\" is {ty}", c.op, c.field),
            ))
        }
    };
    if let Some(negated) = membership(c) {
        return Ok(column.in_list(list()?, negated).is_true());
    }
    let expr = match c.op {
        Op::In | Op::NotIn => unreachable!("membership tests are handled above"),
        Op::Eq => column.eq(one(0)?),
        Op::Ne => column.not_eq(one(0)?),
        Op::Lt => column.lt(one(0)?),
        Op::Le => column.lt_eq(one(0)?),
        Op::Gt => column.gt(one(0)?),
        Op::Ge => column.gt_eq(one(0)?),
        Op::Between => and(column.clone().gt_eq(one(0)?), column.lt_eq(one(1)?)),
        Op::Like | Op::NotLike | Op::StartsWith | Op::EndsWith => {
            needs_string()?;
            let v = escape_like(&text[0]);
            let (pattern, negated) = match c.op {
                Op::Like => (format!("%{v}%"), false),
                Op::NotLike => (format!("%{v}%"), true),
                Op::StartsWith => (format!("{v}%"), false),
                _ => (format!("%{v}"), false),
            };
            like(column, pattern, ty, negated)
        }
        Op::IsEmpty | Op::IsNotEmpty => {
            let empty = if is_string(ty) {
                or(
                    column.clone().is_null(),
                    column.eq(lit(
                        ScalarValue::try_from_string(String::new(), ty).expect("string")
                    )),
                )
            } else {
                column.is_null()
            };
            // The emptiness test is itself never NULL.
            if c.op == Op::IsEmpty {
                empty
            } else {
                not(empty)
            }
        }
        Op::SameAs | Op::NSameAs => {
            let Value::Field(other) = &c.value else {
                return Err(error(c, "SAMEAS needs a field"));
            };
            let other_field = schema
                .field_with_name(other)
                .map_err(|_| error(c, format!("unknown field \"{other}\"")))?;
            if other_field.data_type() != ty {
                return Err(error(
                    c,
                    format!(
                        "cannot compare \"{}\" ({ty}) with \"{other}\" ({})",
                        c.field,
                        other_field.data_type()
                    ),
                ));
            }
            let other = col(datafusion::common::Column::from_name(other.as_str()));
            if c.op == Op::SameAs {
                column.eq(other)
            } else {
                column.not_eq(other)
            }
        }
    };
    Ok(expr.is_true())
}

/// A value of a record, for the reference evaluator.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordValue {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A record for the reference evaluator: field name to value.
pub type RecordValues = HashMap<String, RecordValue>;

/// Row-at-a-time evaluation of an encoded query, written from the rules
/// above and nothing else. Fields must exist; values of the condition are
/// read as the record's value type (strings, integers, floats, booleans).
pub fn matches_row(query: &EncodedQuery, record: &RecordValues, ctx: &DynamicContext) -> bool {
    query.groups.is_empty()
        || query.groups.iter().any(|g| {
            g.iter()
                .all(|t| t.iter().any(|c| matches_condition(c, record, ctx)))
        })
}

fn parse_like(template: &RecordValue, text: &str) -> Option<RecordValue> {
    Some(match template {
        RecordValue::Str(_) => RecordValue::Str(text.to_owned()),
        RecordValue::Int(_) => RecordValue::Int(text.parse().ok()?),
        RecordValue::Float(_) => RecordValue::Float(text.parse().ok()?),
        RecordValue::Bool(_) => RecordValue::Bool(match text {
            "true" => true,
            "false" => false,
            _ => return None,
        }),
        RecordValue::Null => return None,
    })
}

fn compare(a: &RecordValue, b: &RecordValue) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (RecordValue::Str(x), RecordValue::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (RecordValue::Int(x), RecordValue::Int(y)) => Some(x.cmp(y)),
        (RecordValue::Float(x), RecordValue::Float(y)) => x.partial_cmp(y),
        (RecordValue::Bool(x), RecordValue::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn matches_condition(c: &Condition, record: &RecordValues, ctx: &DynamicContext) -> bool {
    use std::cmp::Ordering::*;
    let value = record.get(&c.field).unwrap_or(&RecordValue::Null);
    match c.op {
        Op::IsEmpty => {
            return matches!(value, RecordValue::Null) || value == &RecordValue::Str(String::new());
        }
        Op::IsNotEmpty => {
            return !(matches!(value, RecordValue::Null)
                || value == &RecordValue::Str(String::new()));
        }
        _ => {}
    }
    if matches!(value, RecordValue::Null) {
        return false;
    }
    if let Value::Field(other) = &c.value {
        let other = record.get(other).unwrap_or(&RecordValue::Null);
        return match compare(value, other) {
            None => false,
            Some(o) => (o == Equal) == (c.op == Op::SameAs),
        };
    }
    let texts = texts(c, ctx);
    let Some(operands) = texts
        .iter()
        .map(|t| parse_like(value, t))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let cmp = |i: usize| compare(value, &operands[i]);
    let member = || operands.iter().any(|o| compare(value, o) == Some(Equal));
    if let Some(negated) = membership(c) {
        return member() != negated;
    }
    let s = || match value {
        RecordValue::Str(s) => s.as_str(),
        _ => "",
    };
    match c.op {
        Op::In | Op::NotIn => unreachable!("membership tests are handled above"),
        Op::Eq => cmp(0) == Some(Equal),
        Op::Ne => cmp(0).is_some_and(|o| o != Equal),
        Op::Lt => cmp(0) == Some(Less),
        Op::Le => matches!(cmp(0), Some(Less | Equal)),
        Op::Gt => cmp(0) == Some(Greater),
        Op::Ge => matches!(cmp(0), Some(Greater | Equal)),
        Op::Between => {
            matches!(cmp(0), Some(Greater | Equal)) && matches!(cmp(1), Some(Less | Equal))
        }
        Op::Like => s().contains(texts[0].as_str()),
        Op::NotLike => !s().contains(texts[0].as_str()),
        Op::StartsWith => s().starts_with(texts[0].as_str()),
        Op::EndsWith => s().ends_with(texts[0].as_str()),
        Op::IsEmpty | Op::IsNotEmpty | Op::SameAs | Op::NSameAs => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    use super::*;
    use crate::encoded_query::parse;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("priority", DataType::Int32, true),
            Field::new("active", DataType::Boolean, true),
            Field::new(
                "opened_at",
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("caller", DataType::Utf8View, true),
        ])
    }

    fn compile_err(q: &str) -> CompileError {
        compile(&parse(q).unwrap(), &schema(), &DynamicContext::default()).unwrap_err()
    }

    #[test]
    fn unknown_fields_and_bad_literals_name_their_position() {
        let e = compile_err("active=true^nope=1");
        assert_eq!(e.position, 12);
        assert!(e.message.contains("unknown field \"nope\""));
        assert_eq!(compile_err("priority=high").position, 0);
        assert_eq!(compile_err("active=yes").position, 0);
        assert!(
            compile_err("priorityLIKE1")
                .message
                .contains("needs a string field")
        );
        assert!(
            compile_err("nameSAMEASpriority")
                .message
                .contains("cannot compare")
        );
        assert!(
            compile_err("opened_at>tomorrow")
                .message
                .contains("not a valid")
        );
    }

    #[test]
    fn timestamps_and_views_compile() {
        let ctx = DynamicContext {
            user_sys_id: "u1".into(),
            ..Default::default()
        };
        for q in [
            "opened_at>2024-01-01 00:00:00",
            "opened_atBETWEEN2024-01-01 00:00:00@2024-12-31 23:59:59",
            "caller=javascript:gs.getUserID()",
            "callerINjavascript:gs.getUser().getMyGroups()",
        ] {
            compile(&parse(q).unwrap(), &schema(), &ctx).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
        let _ = Arc::new(schema());
    }

    #[test]
    fn reference_evaluator_follows_the_null_rules() {
        let ctx = DynamicContext::default();
        let mut r = RecordValues::new();
        r.insert("name".into(), RecordValue::Null);
        for (q, want) in [
            ("name=x", false),
            ("name!=x", false),
            ("nameNOT LIKEx", false),
            ("nameNOT INx,y", false),
            ("nameISEMPTY", true),
            ("nameISNOTEMPTY", false),
        ] {
            assert_eq!(matches_row(&parse(q).unwrap(), &r, &ctx), want, "{q}");
        }
        r.insert("name".into(), RecordValue::Str(String::new()));
        assert!(matches_row(&parse("nameISEMPTY").unwrap(), &r, &ctx));
        assert!(matches_row(&parse("name!=x").unwrap(), &r, &ctx));
    }
}
