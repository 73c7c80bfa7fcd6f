//! Membership of a text column in a small set of constants, evaluated on the
//! string views themselves.
//!
//! Row conditions are mostly `assignment_group IN (my groups)` and
//! `assigned_to = me`: a reference column of 32-character ids against a
//! handful of constants, on every record a restricted account scans.
//! DataFusion evaluates `IN` by hashing every value and probing a table,
//! and `=` through a generic comparator; both touch every value's bytes.
//! A string view already holds the length and the first four bytes inline,
//! so comparing that one word against each constant rejects nearly every
//! record without reading its bytes; only a record whose length and prefix
//! match is compared in full. Results, NULLs included, are exactly those of
//! the expressions replaced (unit-tested against them).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    AnyDictionaryArray, Array, ArrayRef, AsArray, BooleanArray, GenericStringArray,
    OffsetSizeTrait, StringViewArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, MutableBuffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, Int32Type, Schema};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, InListExpr, Literal};
use datafusion::scalar::ScalarValue;
use sqlgate_records::dictionary::Memo;

/// Longest list worth a linear scan per record; longer ones keep
/// DataFusion's hash set.
const MAX_CONSTANTS: usize = 16;

/// `expr` with every `column IN ('a', 'b')` and `column = 'a'` over a text
/// column (constants only, no NULL among them, not negated) replaced by a
/// [`StringSetExpr`], and such a test's `IS TRUE` folded into it. Anything
/// else is left as it is.
pub fn specialise(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    expr.transform_up(|e| {
        let set = match definite_set(&e) {
            Some(set) => Some(set),
            None => matching_set(&e, schema)?,
        };
        Ok(match set {
            Some(set) => Transformed::yes(Arc::new(set) as Arc<dyn PhysicalExpr>),
            None => Transformed::no(e),
        })
    })
    .map(|t| t.data)
}

/// `set IS TRUE` (planned as `set IS NOT DISTINCT FROM true`), which ACL
/// conditions wrap around every test: the set with NULL read as false.
fn definite_set(e: &Arc<dyn PhysicalExpr>) -> Option<StringSetExpr> {
    let bin = e.downcast_ref::<BinaryExpr>()?;
    let set = bin.left().downcast_ref::<StringSetExpr>()?;
    let is_true = *bin.op() == Operator::IsNotDistinctFrom
        && matches!(
            bin.right().downcast_ref::<Literal>().map(Literal::value),
            Some(ScalarValue::Boolean(Some(true)))
        );
    is_true.then(|| StringSetExpr {
        definite: true,
        ..set.clone()
    })
}

fn matching_set(e: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Option<StringSetExpr>> {
    let (column, constants) = if let Some(list) = e.downcast_ref::<InListExpr>() {
        if list.negated() || list.len() > MAX_CONSTANTS {
            return Ok(None);
        }
        (list.expr(), list.list().iter().collect::<Vec<_>>())
    } else if let Some(bin) = e.downcast_ref::<BinaryExpr>() {
        if *bin.op() != Operator::Eq {
            return Ok(None);
        }
        if bin.left().downcast_ref::<Column>().is_some() {
            (bin.left(), vec![bin.right()])
        } else {
            (bin.right(), vec![bin.left()])
        }
    } else {
        return Ok(None);
    };
    if column.downcast_ref::<Column>().is_none() || !is_text(&column.data_type(schema)?) {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(constants.len());
    for c in constants {
        let value = constant(c)?;
        match value.as_ref().and_then(text_value) {
            Some(Some(s)) => values.push(s.to_owned()),
            _ => return Ok(None),
        }
    }
    Ok(Some(StringSetExpr::new(Arc::clone(column), values)))
}

/// The text of a string scalar, a dictionary's included: `Some(None)` for a
/// NULL string, `None` for a scalar that is not text.
fn text_value(s: &ScalarValue) -> Option<Option<&str>> {
    match s {
        ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => {
            Some(v.as_deref())
        }
        ScalarValue::Dictionary(_, inner) => text_value(inner),
        _ => None,
    }
}

/// The value of a literal, or of a cast of one (planning leaves
/// `CAST('x' AS Utf8View)` where the column is a view).
fn constant(e: &Arc<dyn PhysicalExpr>) -> Result<Option<ScalarValue>> {
    if let Some(l) = e.downcast_ref::<Literal>() {
        return Ok(Some(l.value().clone()));
    }
    let Some(cast) = e.downcast_ref::<CastExpr>() else {
        return Ok(None);
    };
    if constant(cast.expr())?.is_none() {
        return Ok(None);
    }
    let no_columns = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    Ok(match e.evaluate(&no_columns)? {
        ColumnarValue::Scalar(s) => Some(s),
        ColumnarValue::Array(_) => None,
    })
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

/// `input IN (values)`: whether `input` is one of `values`; where `input`
/// is NULL, NULL, or false when `definite` (`(input IN (values)) IS TRUE`).
#[derive(Debug, Clone)]
pub struct StringSetExpr {
    input: Arc<dyn PhysicalExpr>,
    values: Vec<String>,
    definite: bool,
    /// Per value, the first 8 bytes of its string view (length, then up
    /// to four bytes of the string) and the mask of those that are its own.
    heads: Vec<(u64, u64)>,
    /// Answers per dictionary value, for dictionary-encoded input.
    per_dictionary: Arc<Memo<Arc<PerValue>>>,
}

/// The answers for a dictionary's values, as tables indexed by key.
#[derive(Debug)]
struct PerValue {
    holds: Vec<bool>,
    /// Where the answer is NULL; `None` when it never is (a Parquet
    /// dictionary holds no NULL).
    null: Option<Vec<bool>>,
}

impl PerValue {
    fn new(answers: &BooleanArray) -> PerValue {
        PerValue {
            holds: answers.iter().map(|a| a == Some(true)).collect(),
            null: answers
                .nulls()
                .filter(|n| n.null_count() > 0)
                .map(|n| (0..answers.len()).map(|i| n.is_null(i)).collect()),
        }
    }

    /// The answer of each record: its key's, NULL where the key is.
    fn spread(&self, dict: &dyn AnyDictionaryArray) -> BooleanArray {
        let keys = match dict.keys().as_primitive_opt::<Int32Type>() {
            Some(keys) => Keys::Int32(keys.values()),
            // Other key types are rare: widen them.
            None => Keys::Other(dict.normalized_keys()),
        };
        let at = |table: &[bool]| match &keys {
            // A negative key reads outside the table, as NULL slots may.
            Keys::Int32(k) => gather(table, k, |k| k as usize),
            Keys::Other(k) => gather(table, k, |k| k),
        };
        let holds = at(&self.holds);
        let key_nulls = dict.keys().logical_nulls();
        let nulls = match &self.null {
            None => key_nulls,
            Some(null) => {
                let valid = !&at(null);
                NullBuffer::union(key_nulls.as_ref(), Some(&NullBuffer::new(valid)))
            }
        };
        BooleanArray::new(holds, nulls)
    }
}

enum Keys<'a> {
    Int32(&'a [i32]),
    Other(Vec<usize>),
}

/// `table[key]` for each key; a key outside the table (what a NULL slot
/// may hold) reads false, its slot is NULL anyway.
fn gather<K: Copy>(table: &[bool], keys: &[K], index: impl Fn(K) -> usize) -> BooleanBuffer {
    BooleanBuffer::collect_bool(keys.len(), |i| *table.get(index(keys[i])).unwrap_or(&false))
}

impl StringSetExpr {
    pub fn new(input: Arc<dyn PhysicalExpr>, values: Vec<String>) -> StringSetExpr {
        let heads = values.iter().map(|v| view_head(v.as_bytes())).collect();
        StringSetExpr {
            input,
            values,
            definite: false,
            heads,
            per_dictionary: Arc::default(),
        }
    }

    fn contains(&self, s: &[u8]) -> bool {
        self.values.iter().any(|v| v.as_bytes() == s)
    }

    fn evaluate_array(&self, array: &dyn Array) -> Result<BooleanArray> {
        let answer = self.nullable_answer(array)?;
        Ok(match (self.definite, answer.nulls()) {
            (true, Some(nulls)) => BooleanArray::new(answer.values() & nulls.inner(), None),
            _ => answer,
        })
    }

    fn nullable_answer(&self, array: &dyn Array) -> Result<BooleanArray> {
        let values = match array.data_type() {
            DataType::Utf8View => self.on_views(array.as_string_view()),
            DataType::Utf8 => self.on_strings(array.as_string::<i32>()),
            DataType::LargeUtf8 => self.on_strings(array.as_string::<i64>()),
            DataType::Dictionary(_, _) => {
                let dict = array.as_any_dictionary();
                // Once per distinct value (and once per row group's
                // dictionary, however many batches share it), then spread
                // over the keys.
                let per_value = self.per_dictionary.get_or_compute(dict.values(), |v| {
                    Ok(Arc::new(PerValue::new(&self.nullable_answer(v)?)))
                })?;
                return Ok(per_value.spread(dict));
            }
            other => {
                return Err(DataFusionError::Internal(format!(
                    "string set over {other}"
                )));
            }
        };
        Ok(BooleanArray::new(values, array.logical_nulls()))
    }

    fn on_views(&self, array: &StringViewArray) -> BooleanBuffer {
        let views = array.views();
        let mut words = MutableBuffer::new(views.len().div_ceil(64) * 8);
        let mut checked = Checked::default();
        for (c, chunk) in views.chunks(64).enumerate() {
            // One constant at a time over 64 views: a branch-free loop the
            // compiler vectorises.
            let mut bits = 0u64;
            for (head, mask) in &self.heads {
                for (j, view) in chunk.iter().enumerate() {
                    bits |= u64::from(*view as u64 & mask == *head) << j;
                }
            }
            // The few whose length and prefix match are checked in full.
            let mut candidates = bits;
            while candidates != 0 {
                let j = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if !self.holds_at(array, c * 64 + j, chunk[j], &mut checked) {
                    bits &= !(1u64 << j);
                }
            }
            words.push(bits);
        }
        BooleanBuffer::new(words.into(), 0, views.len())
    }

    /// Whether the value at `i`, whose view is `view`, is one of the set.
    fn holds_at(
        &self,
        array: &StringViewArray,
        i: usize,
        view: u128,
        checked: &mut Checked,
    ) -> bool {
        // A NULL slot's view is not guaranteed to point anywhere.
        if !array.is_valid(i) {
            return false;
        }
        let long = view as u32 > 12;
        if long && let Some(answer) = checked.get(view) {
            return answer;
        }
        // SAFETY: `i` is within the array (a position of one of its views)
        // and the value is not NULL.
        let s = unsafe { array.value_unchecked(i) };
        let answer = self.contains(s.as_bytes());
        if long {
            checked.put(view, answer);
        }
        answer
    }

    fn on_strings<O: OffsetSizeTrait>(&self, array: &GenericStringArray<O>) -> BooleanBuffer {
        BooleanBuffer::collect_bool(array.len(), |i| {
            array.is_valid(i) && self.contains(array.value(i).as_bytes())
        })
    }
}

/// Answers of full comparisons, by view, within one array.
///
/// A view of a string longer than 12 bytes names its bytes by buffer and
/// offset, so within one array two equal views hold the same string. The
/// Parquet reader decodes a dictionary page into views of the dictionary's
/// own buffer: every record of a group or a user carries the same view, and
/// a record whose length and prefix match a constant (in a row condition,
/// most of those the condition lets through) would otherwise compare its 32
/// bytes again. A handful of slots, replaced in turn, covers the few values
/// that match a constant's length and prefix.
#[derive(Default)]
struct Checked {
    slots: [(u128, bool); 8],
    next: usize,
}

impl Checked {
    fn get(&self, view: u128) -> Option<bool> {
        // An empty slot's view (length 0) equals no long string's view.
        self.slots
            .iter()
            .find(|(v, _)| *v == view)
            .map(|&(_, answer)| answer)
    }

    fn put(&mut self, view: u128, answer: bool) {
        self.slots[self.next % self.slots.len()] = (view, answer);
        self.next += 1;
    }
}

/// The first 8 bytes of a string view of `s` (the length, then up to four
/// bytes of the string), and a mask over the bytes that belong to `s`: a
/// string of at most four bytes is wholly described by its masked head,
/// whatever a writer left in the padding.
fn view_head(s: &[u8]) -> (u64, u64) {
    let mut prefix = [0u8; 4];
    let n = s.len().min(4);
    prefix[..n].copy_from_slice(&s[..n]);
    let mask = u64::MAX >> (8 * (4 - n));
    let head = (s.len() as u32 as u64) | ((u32::from_le_bytes(prefix) as u64) << 32);
    (head & mask, mask)
}

impl PartialEq for StringSetExpr {
    fn eq(&self, other: &Self) -> bool {
        self.input.eq(&other.input)
            && self.values == other.values
            && self.definite == other.definite
    }
}

impl Eq for StringSetExpr {}

impl Hash for StringSetExpr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        self.values.hash(state);
        self.definite.hash(state);
    }
}

impl StringSetExpr {
    /// What follows the input in both renderings: ` IN ('a', 'b') [IS TRUE]`.
    fn fmt_test(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self
            .values
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "''")))
            .collect();
        write!(f, " IN ({})", quoted.join(", "))?;
        if self.definite {
            write!(f, " IS TRUE")?;
        }
        Ok(())
    }
}

impl fmt::Display for StringSetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.input)?;
        self.fmt_test(f)
    }
}

impl PhysicalExpr for StringSetExpr {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(!self.definite && self.input.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(match self.input.evaluate(batch)? {
            ColumnarValue::Array(array) => {
                ColumnarValue::Array(Arc::new(self.evaluate_array(array.as_ref())?) as ArrayRef)
            }
            ColumnarValue::Scalar(s) => {
                let Some(text) = text_value(&s) else {
                    return Err(DataFusionError::Internal(format!(
                        "string set over {}",
                        s.data_type()
                    )));
                };
                let found = text.map(|v| self.contains(v.as_bytes()));
                let found = if self.definite {
                    Some(found.unwrap_or(false))
                } else {
                    found
                };
                ColumnarValue::Scalar(ScalarValue::Boolean(found))
            }
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("string set takes one input, got {}", c.len()))
        })?;
        Ok(Arc::new(StringSetExpr {
            input,
            ..self.as_ref().clone()
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.input.fmt_sql(f)?;
        self.fmt_test(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        DictionaryArray, Int32Array, LargeStringArray, StringArray, StringViewBuilder,
    };
    use datafusion::arrow::datatypes::{Field, Int16Type};
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::{Expr, col, lit};
    use datafusion::prelude::SessionContext;

    /// Ids of the demo's shape (32 hex characters) sharing prefixes, short
    /// values (inline in the view), the empty string, values that differ
    /// only after the prefix or only in length, and NULLs.
    fn values() -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = vec![
            Some(String::new()),
            Some("a".into()),
            Some("abcd".into()),
            Some("abcde".into()),
            Some("abce".into()),
            Some("twelve_chars".into()),
            Some("thirteen_char".into()),
            Some("it's".into()),
            None,
        ];
        for i in 0..300u32 {
            let id = format!("{:08x}{:024x}", i % 7, u128::from(i) * 0x9e37_79b9);
            out.push((i % 11 != 0).then_some(id));
        }
        out
    }

    fn inputs() -> Vec<(&'static str, ArrayRef)> {
        let v = values();
        let plain = StringArray::from(v.clone());
        let dict: DictionaryArray<Int32Type> = v.iter().map(|s| s.as_deref()).collect();
        vec![
            (
                "utf8view",
                Arc::new(StringViewArray::from(v.clone())) as ArrayRef,
            ),
            ("utf8", Arc::new(plain.clone())),
            ("largeutf8", Arc::new(LargeStringArray::from(v.clone()))),
            ("dictionary", Arc::new(dict)),
            // A slice: views and NULLs then start inside their buffers.
            (
                "sliced utf8view",
                Arc::new(StringViewArray::from(v.clone()).slice(5, 200)),
            ),
            // As the Parquet reader decodes dictionary pages: each distinct
            // value stored once, every occurrence the same view, and more
            // distinct values sharing a length and prefix than answers kept.
            ("deduplicated utf8view", deduplicated(&v)),
            ("null over a matching view", null_over_matching_view()),
            (
                "sliced dictionary",
                Arc::new(
                    v.iter()
                        .map(|s| s.as_deref())
                        .collect::<DictionaryArray<Int32Type>>()
                        .slice(5, 200),
                ),
            ),
            (
                "int16 dictionary",
                Arc::new(
                    v.iter()
                        .map(|s| s.as_deref())
                        .collect::<DictionaryArray<Int16Type>>(),
                ),
            ),
            (
                "dictionary with NULL values",
                dictionary_with_null_values(&v),
            ),
        ]
    }

    /// NULL as a dictionary value (keys pointing at it), and a NULL key
    /// slot holding a key outside the dictionary.
    fn dictionary_with_null_values(v: &[Option<String>]) -> ArrayRef {
        let mut values: Vec<Option<&str>> = vec![None];
        values.extend(v.iter().flatten().map(|s| Some(s.as_str())));
        let values = StringArray::from(values);
        let len = values.len() as i32;
        let keys: Vec<i32> = (0..2 * len)
            .map(|i| (i * 7) % len)
            .chain([len + 5])
            .collect();
        let mut valid = vec![true; keys.len()];
        valid[keys.len() - 1] = false;
        valid[3] = false;
        let keys = Int32Array::new(keys.into(), Some(NullBuffer::from(valid)));
        Arc::new(DictionaryArray::try_new(keys, Arc::new(values)).unwrap())
    }

    /// One expression over batches that share a dictionary and batches that
    /// do not: answers are kept per dictionary, never across them.
    #[test]
    fn one_expression_over_many_dictionaries() {
        let ctx = SessionContext::new();
        let t = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![Field::new("c", t, true)]));
        let df_schema = DFSchema::try_from(Arc::clone(&schema)).unwrap();
        let e = col("c").in_list(vec![lit("a"), lit("b")], false).is_true();
        let plain = ctx.create_physical_expr(e, &df_schema).unwrap();
        let fast = specialise(Arc::clone(&plain), &schema).unwrap();
        let first: ArrayRef = Arc::new(StringArray::from(vec!["a", "x", "b"]));
        let second: ArrayRef = Arc::new(StringArray::from(vec!["x", "a", "b"]));
        let batch = |values: &ArrayRef, keys: Vec<i32>| {
            let keys = Int32Array::from(keys);
            let dict = DictionaryArray::try_new(keys, Arc::clone(values)).unwrap();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(dict)]).unwrap()
        };
        for b in [
            batch(&first, vec![0, 1, 2, 1]),
            batch(&first, vec![2, 2, 0]),
            batch(&second, vec![0, 1, 2, 1]),
            batch(&first, vec![1, 0]),
            batch(&second, vec![0, 0, 2]),
        ] {
            let want = plain
                .evaluate(&b)
                .unwrap()
                .into_array(b.num_rows())
                .unwrap();
            let got = fast.evaluate(&b).unwrap().into_array(b.num_rows()).unwrap();
            assert_eq!(want.as_boolean(), got.as_boolean());
        }
    }

    /// `v` three times over, interleaved, each distinct value stored once.
    fn deduplicated(v: &[Option<String>]) -> ArrayRef {
        let mut b = StringViewBuilder::new().with_deduplicate_strings();
        for i in 0..v.len() * 3 {
            b.append_option(v[(i * 7) % v.len()].as_deref());
        }
        Arc::new(b.finish())
    }

    /// Every value of `values()` twice, the second time NULL but keeping
    /// the view of the value: a NULL must stay NULL whatever its view says.
    fn null_over_matching_view() -> ArrayRef {
        let twice: Vec<Option<String>> =
            values().into_iter().flat_map(|s| [s.clone(), s]).collect();
        let full = StringViewArray::from(twice);
        let valid: Vec<bool> = (0..full.len())
            .map(|i| i % 2 == 0 && full.is_valid(i))
            .collect();
        Arc::new(
            StringViewArray::try_new(
                full.views().clone(),
                full.data_buffers().to_vec(),
                Some(NullBuffer::from(valid)),
            )
            .unwrap(),
        )
    }

    /// Conditions to compare, each wrapped in NOT as well: a NULL that
    /// became `false` would show there as `true`.
    fn conditions() -> Vec<Expr> {
        let v = values();
        let id = |k: usize| v[k].clone().unwrap();
        vec![
            col("c").in_list(vec![lit(id(10)), lit(id(40)), lit("abcd")], false),
            col("c").eq(lit(id(12))),
            lit(id(12)).eq(col("c")),
            col("c").eq(lit("")),
            col("c").eq(lit("a")),
            col("c").eq(lit("abcd")),
            col("c").eq(lit("abcde")),
            col("c").eq(lit("twelve_chars")),
            col("c").eq(lit("thirteen_char")),
            col("c").in_list(vec![lit("it's"), lit("abce"), lit("nope-not-there")], false),
            // Same length and prefix as stored ids, different tail.
            col("c").eq(lit(format!("{:08x}{:024x}", 1, 0))),
            col("c")
                .in_list(vec![lit(id(10))], false)
                .or(col("c").eq(lit(id(21)))),
        ]
    }

    #[test]
    fn answers_like_the_expressions_it_replaces_nulls_included() {
        let ctx = SessionContext::new();
        for (name, array) in inputs() {
            let schema = Arc::new(Schema::new(vec![Field::new(
                "c",
                array.data_type().clone(),
                true,
            )]));
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array]).unwrap();
            let df_schema = DFSchema::try_from(Arc::clone(&schema)).unwrap();
            for cond in conditions() {
                let definite = cond.clone().is_true();
                for e in [
                    cond.clone(),
                    Expr::Not(Box::new(cond.clone())),
                    definite.clone(),
                    Expr::Not(Box::new(definite)),
                ] {
                    let plain = ctx.create_physical_expr(e.clone(), &df_schema).unwrap();
                    let fast = specialise(Arc::clone(&plain), &schema).unwrap();
                    assert!(
                        fast.to_string().contains("IN ("),
                        "{name}: {e} not specialised: {fast}"
                    );
                    if matches!(e, Expr::IsTrue(_)) && !cond.to_string().contains(" OR ") {
                        assert!(
                            fast.to_string().ends_with("IS TRUE"),
                            "{name}: {e} kept its IS TRUE: {fast}"
                        );
                    }
                    let want = plain.evaluate(&batch).unwrap().into_array(batch.num_rows());
                    let got = fast.evaluate(&batch).unwrap().into_array(batch.num_rows());
                    assert_eq!(
                        want.unwrap().as_boolean(),
                        got.unwrap().as_boolean(),
                        "{name}: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn leaves_other_shapes_alone() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("c", DataType::Utf8View, true),
            Field::new("d", DataType::Utf8View, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let df_schema = DFSchema::try_from(Arc::clone(&schema)).unwrap();
        let many: Vec<Expr> = (0..=MAX_CONSTANTS).map(|i| lit(i.to_string())).collect();
        for e in [
            col("c").in_list(vec![lit("a")], true),
            col("c").in_list(many, false),
            col("c").in_list(vec![lit("a"), lit(ScalarValue::Utf8(None))], false),
            col("c").eq(col("d")),
            col("c").not_eq(lit("a")),
            col("n").eq(lit(3i64)),
            col("n").in_list(vec![lit(1i64), lit(2i64)], false),
        ] {
            let plain = ctx.create_physical_expr(e.clone(), &df_schema).unwrap();
            let after = specialise(Arc::clone(&plain), &schema).unwrap();
            assert_eq!(after.to_string(), plain.to_string(), "{e}");
        }
    }

    #[test]
    fn scalar_inputs_keep_null() {
        let set = StringSetExpr::new(
            Arc::new(Literal::new(ScalarValue::Utf8(None))),
            vec!["a".into()],
        );
        let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
        let out = set.evaluate(&batch).unwrap();
        assert!(matches!(
            out,
            ColumnarValue::Scalar(ScalarValue::Boolean(None))
        ));
    }
}
