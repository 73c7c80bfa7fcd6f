//! Columns stored as dictionaries, read as dictionaries.
//!
//! A column whose files carry an Arrow dictionary type (the demo writes its
//! reference and choice columns so) comes out of the Parquet reader as keys
//! into the row group's dictionary page: no string is copied per record.
//! The records schema still shows it as text (`Utf8View`); a scan decodes it
//! with [`ViewsOfDictionary`] where a caller reads the column, and may leave
//! it encoded where only a test of its values reads it (a row condition:
//! tested once per distinct value, then spread over the keys).
//!
//! Both rest on [`Memo`]: every batch the reader cuts from one row group's
//! column shares that row group's dictionary buffers, so work per distinct
//! value is done once per row group rather than once per batch (a batch of
//! 8,192 records can point into a dictionary of 20,000 people).

use std::collections::VecDeque;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayData, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;

/// Dictionaries remembered at once: a few per partition reading in parallel.
const SLOTS: usize = 8;
/// A batch with fewer records than its dictionary's values over this is
/// decoded record by record instead of through views of every value.
const FEW_RECORDS: usize = 8;

/// Results computed over a dictionary's values, remembered by identity.
///
/// An entry holds its dictionary's buffers, so no other dictionary can be
/// allocated where they are while the entry lives: matching by buffer
/// address is matching by content.
pub struct Memo<T> {
    slots: Mutex<VecDeque<(ArrayData, T)>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            slots: Mutex::new(VecDeque::with_capacity(SLOTS)),
        }
    }
}

impl<T: Clone> Memo<T> {
    /// What `compute` gave for these very values before, if anything.
    pub fn get(&self, values: &ArrayRef) -> Option<T> {
        let data = values.to_data();
        let slots = self.lock();
        slots
            .iter()
            .find(|(d, _)| d.ptr_eq(&data))
            .map(|(_, t)| t.clone())
    }

    /// `compute(values)`, or what it gave for these very values before.
    pub fn get_or_compute(
        &self,
        values: &ArrayRef,
        compute: impl FnOnce(&dyn Array) -> Result<T>,
    ) -> Result<T> {
        if let Some(t) = self.get(values) {
            return Ok(t);
        }
        let data = values.to_data();
        let t = compute(values.as_ref())?;
        let mut slots = self.lock();
        if slots.len() == SLOTS {
            slots.pop_front();
        }
        slots.push_back((data, t.clone()));
        Ok(t)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(ArrayData, T)>> {
        // A panic elsewhere cannot leave an entry half-written (an entry is
        // pushed whole), so a poisoned memo is still sound.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Memo")
    }
}

/// Whether `t` is a dictionary of text.
pub fn is_text_dictionary(t: &DataType) -> bool {
    matches!(t, DataType::Dictionary(_, v)
        if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
}

/// `stored` as records show it: text dictionaries as `Utf8View`.
pub fn as_text(stored: &Schema) -> Schema {
    let fields: Vec<Field> = stored
        .fields()
        .iter()
        .map(|f| {
            if is_text_dictionary(f.data_type()) {
                f.as_ref().clone().with_data_type(DataType::Utf8View)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Schema::new_with_metadata(fields, stored.metadata().clone())
}

/// `expr`, planned over [`as_text`]`(stored)`, made to run over `stored`:
/// each column stored as a text dictionary is decoded where it is read,
/// except inside the subtrees `takes_encoded` accepts (expressions that
/// take dictionaries as they are).
pub fn over_stored(
    expr: Arc<dyn PhysicalExpr>,
    stored: &Schema,
    takes_encoded: impl Fn(&Arc<dyn PhysicalExpr>) -> bool,
) -> Result<Arc<dyn PhysicalExpr>> {
    expr.transform_down(|e| {
        if takes_encoded(&e) {
            return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
        }
        let encoded = e.downcast_ref::<Column>().is_some_and(|c| {
            stored
                .fields()
                .get(c.index())
                .is_some_and(|f| is_text_dictionary(f.data_type()))
        });
        Ok(if encoded {
            let decoded: Arc<dyn PhysicalExpr> = Arc::new(ViewsOfDictionary::new(e));
            // Its child is the column just wrapped: not to be wrapped again.
            Transformed::new(decoded, true, TreeNodeRecursion::Jump)
        } else {
            Transformed::no(e)
        })
    })
    .map(|t| t.data)
}

/// A text dictionary column decoded to `Utf8View`: the values' views are
/// built once per dictionary, then each record's view is copied by key (as
/// the reader itself does when it decodes to views). A batch of a few
/// records from a large dictionary (a lookup: one record, 20,000 people)
/// decodes only its own records: views of every value would cost more
/// than the records, and no later batch would use them.
#[derive(Debug, Clone)]
pub struct ViewsOfDictionary {
    input: Arc<dyn PhysicalExpr>,
    views: Arc<Memo<ArrayRef>>,
}

impl ViewsOfDictionary {
    pub fn new(input: Arc<dyn PhysicalExpr>) -> ViewsOfDictionary {
        ViewsOfDictionary {
            input,
            views: Arc::default(),
        }
    }

    fn decode(&self, array: &dyn Array) -> Result<ArrayRef> {
        let Some(dict) = array.as_any_dictionary_opt() else {
            return Ok(cast(array, &DataType::Utf8View)?);
        };
        if dict.keys().len().saturating_mul(FEW_RECORDS) < dict.values().len() {
            let picked = take(dict.values().as_ref(), dict.keys(), None)?;
            return Ok(cast(&picked, &DataType::Utf8View)?);
        }
        let views = self
            .views
            .get_or_compute(dict.values(), |v| Ok(cast(v, &DataType::Utf8View)?))?;
        Ok(take(views.as_ref(), dict.keys(), None)?)
    }
}

impl PartialEq for ViewsOfDictionary {
    fn eq(&self, other: &Self) -> bool {
        self.input.eq(&other.input)
    }
}

impl Eq for ViewsOfDictionary {}

impl Hash for ViewsOfDictionary {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.input.hash(state);
    }
}

impl fmt::Display for ViewsOfDictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.input)
    }
}

impl PhysicalExpr for ViewsOfDictionary {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.input.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.input.evaluate(batch)? {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(self.decode(a.as_ref())?)),
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(s.cast_to(&DataType::Utf8View)?)),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        match children.pop() {
            Some(input) if children.is_empty() => Ok(Arc::new(ViewsOfDictionary::new(input))),
            _ => Err(DataFusionError::Internal(
                "a dictionary decoder takes one input".into(),
            )),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.input.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Int32Array, StringArray, StringViewArray};
    use arrow::datatypes::Int32Type;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn dictionary(values: &ArrayRef, keys: Vec<Option<i32>>) -> ArrayRef {
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::clone(values))
                .unwrap(),
        )
    }

    /// Batches cut from one dictionary are decoded from one computation;
    /// another dictionary, even with equal values at the same length, is
    /// computed afresh.
    #[test]
    fn computed_once_per_dictionary() {
        let memo = Memo::<usize>::default();
        let calls = AtomicUsize::new(0);
        let count = |v: &dyn Array| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(v.len())
        };
        let a: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        // What the reader does per batch: the same buffers, a new array.
        let a_again = arrow::array::make_array(a.to_data());
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        assert_eq!(memo.get_or_compute(&a, count).unwrap(), 2);
        assert_eq!(memo.get_or_compute(&a_again, count).unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        memo.get_or_compute(&b, count).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A slice shares the buffers but is other values.
        memo.get_or_compute(&a.slice(1, 1), count).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// A lookup's batch (one record of a large dictionary) is decoded on
    /// its own, leaving nothing remembered; a batch of many records builds
    /// the views once. Both decode every key and NULL alike, before and
    /// after the views exist.
    #[test]
    fn few_records_decode_without_views_of_every_value() {
        let values: ArrayRef = Arc::new(StringArray::from(
            (0..100)
                .map(|i| format!("person number {i} of a large dictionary"))
                .collect::<Vec<_>>(),
        ));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "c",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        )]));
        let expr = ViewsOfDictionary::new(Arc::new(Column::new("c", 0)));
        let decoded = |keys: Vec<Option<i32>>| {
            let column = dictionary(&values, keys.clone());
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column]).unwrap();
            let out = expr
                .evaluate(&batch)
                .unwrap()
                .into_array(keys.len())
                .unwrap();
            let want: StringViewArray = keys
                .iter()
                .map(|k| k.map(|k| values.as_string::<i32>().value(k as usize)))
                .collect();
            assert_eq!(out.as_string_view(), &want);
        };
        decoded(vec![Some(97), None]);
        assert!(expr.views.get(&values).is_none());
        decoded((0..60).map(|k| (k % 7 != 0).then_some(k)).collect());
        assert!(expr.views.get(&values).is_some());
        decoded(vec![Some(3)]);
    }

    #[test]
    fn decodes_each_key_and_null() {
        let values: ArrayRef = Arc::new(StringArray::from(vec![
            "a",
            "a much longer value than twelve bytes",
        ]));
        let schema = Schema::new(vec![Field::new(
            "c",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        )]);
        let expr = ViewsOfDictionary::new(Arc::new(Column::new("c", 0)));
        for keys in [
            vec![Some(1), None, Some(0)],
            vec![Some(0), Some(1), Some(1)],
        ] {
            let column = dictionary(&values, keys.clone());
            let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![column]).unwrap();
            let out = expr.evaluate(&batch).unwrap().into_array(3).unwrap();
            let out = out.as_string_view();
            let want: StringViewArray = keys
                .iter()
                .map(|k| k.map(|k| values.as_string::<i32>().value(k as usize)))
                .collect();
            assert_eq!(out, &want);
        }
    }
}
