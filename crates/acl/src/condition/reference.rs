//! The reference evaluator: an encoded query on one record at a time,
//! written from the rules of the parent module and nothing else (no
//! DataFusion), so that property tests can hold the vectorised compiled
//! form to it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, Schema};

use super::literal::{self, Kind, Value};
use super::{Cmp, CompileError, DynamicContext, Resolved, Test, TextOp, resolve};
use crate::encoded_query::EncodedQuery;

/// One record: each field's Arrow type and value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordValues {
    fields: BTreeMap<String, (DataType, Value)>,
}

impl RecordValues {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record of one row of `schema`, values in column order.
    ///
    /// # Panics
    /// When the number of values differs from the number of columns, or a
    /// value is not of the kind its column's type holds.
    pub fn from_row(schema: &Schema, values: impl IntoIterator<Item = Value>) -> Self {
        let values: Vec<Value> = values.into_iter().collect();
        assert_eq!(values.len(), schema.fields().len(), "one value per column");
        let mut record = Self::new();
        for (field, value) in schema.fields().iter().zip(values) {
            record.insert(field.name(), field.data_type().clone(), value);
        }
        record
    }

    /// Sets a field's type and value.
    ///
    /// # Panics
    /// When the value is not of the kind the type holds (`Value::Null` fits
    /// every type).
    pub fn insert(&mut self, name: impl Into<String>, data_type: DataType, value: Value) {
        let fits = matches!(
            (&value, literal::kind(&data_type)),
            (Value::Null, _)
                | (Value::Text(_), Kind::Text)
                | (Value::Int(_), Kind::Int)
                | (Value::UInt(_), Kind::UInt)
                | (Value::Float(_), Kind::Float)
                | (Value::Decimal(_), Kind::Decimal { .. })
                | (Value::Bool(_), Kind::Bool)
                | (Value::Date(_), Kind::Date)
                | (Value::Timestamp(_), Kind::Timestamp(_))
        );
        assert!(fits, "{value:?} is not a value of type {data_type}");
        self.fields.insert(name.into(), (data_type, value));
    }

    /// [`Self::insert`], builder style.
    pub fn with(mut self, name: impl Into<String>, data_type: DataType, value: Value) -> Self {
        self.insert(name, data_type, value);
        self
    }

    fn value(&self, name: &str) -> &Value {
        self.fields.get(name).map_or(&Value::Null, |(_, v)| v)
    }
}

/// Whether `record` matches `query` for the principal `ctx`. Fails exactly
/// where [`super::compile`] would fail against a schema of the record's
/// fields, with the same error; the empty query matches every record.
pub fn matches_row(
    query: &EncodedQuery,
    record: &RecordValues,
    ctx: &DynamicContext,
) -> Result<bool, CompileError> {
    let lookup = |name: &str| record.fields.get(name).map(|(t, _)| t.clone());
    let mut groups = Vec::with_capacity(query.groups.len());
    for group in &query.groups {
        let mut terms = Vec::with_capacity(group.len());
        for term in group {
            let alternatives = term
                .iter()
                .map(|c| resolve(c, &lookup, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            terms.push(alternatives);
        }
        groups.push(terms);
    }
    Ok(groups.is_empty()
        || groups
            .iter()
            .any(|g| g.iter().all(|t| t.iter().any(|c| holds(c, record)))))
}

fn holds(c: &Resolved<'_>, record: &RecordValues) -> bool {
    let value = record.value(c.field);
    let is_empty = match value {
        Value::Null => true,
        Value::Text(s) => s.is_empty(),
        _ => false,
    };
    if let Test::Empty { negated } = c.test {
        return is_empty != negated;
    }
    if *value == Value::Null {
        return false;
    }
    let order = |v: &Value| literal::compare(value, v);
    match &c.test {
        Test::Empty { .. } => unreachable!("answered above"),
        Test::Compare(cmp, v) => order(v).is_some_and(|o| accepts(*cmp, o)),
        Test::In { items, negated } => {
            let member = items.iter().any(|v| order(v) == Some(Ordering::Equal));
            member != *negated
        }
        Test::Between(low, high) => {
            order(low).is_some_and(|o| o != Ordering::Less)
                && order(high).is_some_and(|o| o != Ordering::Greater)
        }
        Test::Text { op, needle } => {
            let Value::Text(s) = value else {
                return false;
            };
            match op {
                TextOp::Contains => s.contains(needle.as_str()),
                TextOp::NotContains => !s.contains(needle.as_str()),
                TextOp::StartsWith => s.starts_with(needle.as_str()),
                TextOp::EndsWith => s.ends_with(needle.as_str()),
            }
        }
        Test::Field { other, negated, .. } => literal::compare(value, record.value(other))
            .is_some_and(|o| (o == Ordering::Equal) != *negated),
    }
}

fn accepts(cmp: Cmp, o: Ordering) -> bool {
    match cmp {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    }
}
