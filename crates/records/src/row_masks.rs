//! Row conditions answered once per file.
//!
//! A restricted scan used to decode the columns its row condition reads for
//! every record of every query, and test the condition on each. Files do
//! not change under a name, size and modification time, and a condition
//! whose dynamic values are already literals answers the same on the same
//! record every time: so the answer is kept, one bit per record, per file
//! and condition ([`RowMaskCache`]). A scan then skips the row groups where
//! the condition holds nowhere (a [`ParquetAccessPlan`] per file), reads the
//! others whole, and drops the hidden records by looking up each record's
//! bit ([`KeptRows`]: the file's name and the record's position in it, both
//! supplied by the reader). The condition's columns are not read at all,
//! unless the query asks for them.
//!
//! Handing the reader the mask itself as a row selection was the first
//! design: DataFusion 55 turns it into a list of runs and walks that list
//! per column and page, which cost more than the filter wherever visible
//! and hidden records alternate every few records. A lookup of one bit per
//! record costs the same whatever the runs.
//!
//! The mask is computed from the file itself, by the same expression the
//! row filter would run, and kept only if the file still has the size and
//! modification time the scan listed it with. Anything unexpected (a file
//! whose row groups do not match its mask, a record beyond its mask, a
//! column missing) fails the query: the condition is never dropped
//! silently.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, BooleanBufferBuilder, Int64Array, RecordBatch,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::FileGroup;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, RowGroupAccess};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::core;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
use datafusion::object_store::{ObjectStore, ObjectStoreExt};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, TryStreamExt};

/// Default room for masks, in MiB: about 500 conditions over a million
/// records. On the demo's million incidents the service-desk agent's
/// grouped aggregate went from 23.5 to 16.5 ms with masks (the privileged
/// account's takes 15.8), and the first query over a file pays for its
/// mask about what one query through the filter costs. 0 turns masks off.
pub const DEFAULT_CAPACITY_MB: u64 = 64;

/// Records read per batch while computing a mask.
const BATCH_ROWS: usize = 65_536;

/// A row condition as a scan applies it through masks.
#[derive(Debug, Clone)]
pub struct RowCondition {
    /// The stored columns it reads, in the order of [`crate::TableDef::stored_schema_of`].
    pub columns: Vec<String>,
    /// Planned over `stored_schema_of(columns)`; true keeps a record, false
    /// and NULL drop it.
    pub predicate: Arc<dyn PhysicalExpr>,
    /// Names the condition exactly: two conditions with one fingerprint
    /// must keep the same records of any file.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    location: String,
    size: u64,
    modified_nanos: i64,
    e_tag: Option<String>,
    condition: String,
}

impl Key {
    fn of(file: &PartitionedFile, condition: &RowCondition) -> Key {
        let meta = &file.object_meta;
        Key {
            location: meta.location.to_string(),
            size: meta.size,
            modified_nanos: meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or(meta.last_modified.timestamp()),
            e_tag: meta.e_tag.clone(),
            condition: condition.fingerprint.clone(),
        }
    }

    fn bytes(&self, masks: &FileMasks) -> usize {
        self.location.len()
            + self.condition.len()
            + masks.records.len() / 8
            + masks.row_groups.len() * 8
            + 64
    }
}

/// One file's answer: a bit per record, in file order.
#[derive(Debug)]
pub(crate) struct FileMasks {
    records: BooleanBuffer,
    /// Records per row group, in file order.
    row_groups: Vec<usize>,
}

impl FileMasks {
    /// Row groups where no record is kept are skipped; the others are read
    /// whole, and [`KeptRows`] drops their hidden records.
    fn access_plan(&self) -> ParquetAccessPlan {
        let mut start = 0;
        ParquetAccessPlan::new(
            self.row_groups
                .iter()
                .map(|&n| {
                    let kept = self.records.slice(start, n).count_set_bits();
                    start += n;
                    if kept == 0 {
                        RowGroupAccess::Skip
                    } else {
                        RowGroupAccess::Scan
                    }
                })
                .collect(),
        )
    }

    /// The bits of the records at `rows` (positions in the file).
    fn kept(&self, rows: &Int64Array, file: &str) -> Result<BooleanBuffer> {
        let n = rows.len();
        if n == 0 {
            return Ok(BooleanBuffer::new_unset(0));
        }
        if rows.null_count() > 0 {
            return Err(DataFusionError::Internal(format!(
                "{file}: the reader gave records without a position"
            )));
        }
        let positions = rows.values();
        let total = self.records.len() as i64;
        let (first, last) = (positions[0], positions[n - 1]);
        // A row group read whole (or a page of it) comes in order: its bits
        // are a slice of the mask, copied by words, not looked up one by one.
        if first >= 0 && last < total && last - first == n as i64 - 1 {
            let run = positions.windows(2).all(|w| w[1] == w[0] + 1);
            if run {
                return Ok(self.records.slice(first as usize, n));
            }
        }
        if positions.iter().any(|&p| p < 0 || p >= total) {
            return Err(DataFusionError::Execution(format!(
                "{file}: a record beyond the {total} its row condition was computed for; \
                 run the query again"
            )));
        }
        Ok(BooleanBuffer::collect_bool(n, |i| {
            self.records.value(positions[i] as usize)
        }))
    }
}

/// Whether each record a restricted scan reads is one its row condition
/// keeps: `kept_rows(input_file_name(), file_row_index())`, which the
/// Parquet reader turns into the file's name (a literal per file) and each
/// record's position in it. A file without masks fails the query.
#[derive(Debug, Clone)]
pub struct KeptRows {
    masks: Arc<HashMap<String, Arc<FileMasks>>>,
    file: Arc<dyn PhysicalExpr>,
    row: Arc<dyn PhysicalExpr>,
}

impl KeptRows {
    /// `kept_rows(input_file_name(), file_row_index())` over `masks`.
    fn over(masks: HashMap<String, Arc<FileMasks>>) -> KeptRows {
        let function = |udf: Arc<ScalarUDF>, data_type: DataType| -> Arc<dyn PhysicalExpr> {
            let name = udf.name().to_owned();
            Arc::new(ScalarFunctionExpr::new(
                &name,
                udf,
                vec![],
                Arc::new(Field::new(&name, data_type, true)),
                Arc::new(ConfigOptions::default()),
            ))
        };
        KeptRows {
            masks: Arc::new(masks),
            file: function(core::input_file_name(), DataType::Utf8),
            row: function(core::file_row_index(), DataType::Int64),
        }
    }
}

impl PartialEq for KeptRows {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.masks, &other.masks)
            && self.file.eq(&other.file)
            && self.row.eq(&other.row)
    }
}

impl Eq for KeptRows {}

impl Hash for KeptRows {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.masks).hash(state);
        self.file.hash(state);
        self.row.hash(state);
    }
}

impl fmt::Display for KeptRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kept_rows({}, {})", self.file, self.row)
    }
}

impl PhysicalExpr for KeptRows {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        // Anything but the reader's literal name means the expression was
        // evaluated outside the scan it was made for.
        let file = match self.file.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))) => name,
            _ => {
                return Err(DataFusionError::Internal(
                    "a row mask was applied outside its file scan".into(),
                ));
            }
        };
        let masks = self.masks.get(&file).ok_or_else(|| {
            DataFusionError::Internal(format!("{file}: no row mask for this file"))
        })?;
        let rows = self.row.evaluate(batch)?.into_array(batch.num_rows())?;
        let rows = rows.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            DataFusionError::Internal("record positions other than 64-bit integers".into())
        })?;
        let kept = masks.kept(rows, &file)?;
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            kept, None,
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.file, &self.row]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [file, row]: [Arc<dyn PhysicalExpr>; 2] = children
            .try_into()
            .map_err(|_| DataFusionError::Internal("a row mask lookup takes two inputs".into()))?;
        Ok(Arc::new(KeptRows {
            masks: Arc::clone(&self.masks),
            file,
            row,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kept_rows(")?;
        self.file.fmt_sql(f)?;
        write!(f, ", ")?;
        self.row.fmt_sql(f)?;
        write!(f, ")")
    }
}

/// Masks by file and condition, within a byte budget (oldest out first).
#[derive(Debug)]
pub struct RowMaskCache {
    capacity: usize,
    state: Mutex<CacheState>,
    computed: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct CacheState {
    masks: HashMap<Key, Arc<FileMasks>>,
    order: VecDeque<Key>,
    bytes: usize,
    /// Masks being computed: queries that need one of them at the same
    /// time wait for the one computation.
    pending: HashMap<Key, Computing>,
}

/// One computation of a file's masks, awaited by every query that needs
/// them meanwhile.
type Computing =
    Shared<BoxFuture<'static, std::result::Result<Arc<FileMasks>, Arc<DataFusionError>>>>;

impl RowMaskCache {
    /// A cache keeping at most `capacity` bytes of masks; 0 turns masks
    /// off (row conditions run as filters, see [`Self::is_enabled`]).
    pub fn new(capacity: usize) -> RowMaskCache {
        RowMaskCache {
            capacity,
            state: Mutex::default(),
            computed: Arc::default(),
        }
    }

    /// Whether scans may apply row conditions through masks.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Masks computed from files so far (a cache miss each).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn get(&self, key: &Key) -> Option<Arc<FileMasks>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.masks.get(key).cloned()
    }

    fn insert(&self, key: Key, masks: Arc<FileMasks>) {
        let bytes = key.bytes(&masks);
        if bytes > self.capacity {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.masks.contains_key(&key) {
            return;
        }
        while state.bytes + bytes > self.capacity {
            let Some(old) = state.order.pop_front() else {
                break;
            };
            if let Some(m) = state.masks.remove(&old) {
                state.bytes -= old.bytes(&m);
            }
        }
        state.bytes += bytes;
        state.order.push_back(key.clone());
        state.masks.insert(key, masks);
    }

    /// The records of `file` that `condition` keeps: computed from the
    /// file unless kept from an earlier scan, and once for all the queries
    /// that ask at the same time.
    async fn masks_of(
        &self,
        store: &Arc<dyn ObjectStore>,
        file: &PartitionedFile,
        schema: &SchemaRef,
        condition: &RowCondition,
    ) -> Result<Arc<FileMasks>> {
        let key = Key::of(file, condition);
        let computing = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(masks) = state.masks.get(&key) {
                return Ok(Arc::clone(masks));
            }
            match state.pending.get(&key) {
                Some(computing) => computing.clone(),
                None => {
                    let (store, file) = (Arc::clone(store), file.clone());
                    let (schema, condition) = (Arc::clone(schema), condition.clone());
                    let computed = Arc::clone(&self.computed);
                    let computing = async move {
                        let masks = compute(&store, &file, &schema, &condition).await;
                        computed.fetch_add(1, Ordering::Relaxed);
                        masks.map(Arc::new).map_err(Arc::new)
                    }
                    .boxed()
                    .shared();
                    state.pending.insert(key.clone(), computing.clone());
                    computing
                }
            }
        };
        let answer = computing.clone().await;
        // Kept before the computation is retired, so a query arriving in
        // between finds the masks rather than starting again.
        if let Ok(masks) = &answer {
            self.insert(key.clone(), Arc::clone(masks));
        }
        // Whichever waiter finishes first retires the computation (the one
        // that started it may have been cancelled), so a failure is not
        // remembered and the next query tries again.
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state
                .pending
                .get(&key)
                .is_some_and(|c| c.ptr_eq(&computing))
            {
                state.pending.remove(&key);
            }
        }
        answer.map_err(DataFusionError::Shared)
    }

    /// `files` (the scan's file groups) with the row groups where
    /// `condition` keeps nothing marked to be skipped, and the filter that
    /// drops the hidden records of the others. The filter reads the two
    /// columns the reader adds for it (see [`KeptRows`]).
    pub(crate) async fn restrict(
        &self,
        store: &Arc<dyn ObjectStore>,
        files: &[FileGroup],
        schema: &SchemaRef,
        condition: &RowCondition,
    ) -> Result<(Vec<FileGroup>, KeptRows)> {
        let mut by_name = HashMap::new();
        let mut groups = Vec::with_capacity(files.len());
        for group in files {
            let mut restricted = Vec::with_capacity(group.len());
            for file in group.iter() {
                let masks = self.masks_of(store, file, schema, condition).await?;
                restricted.push(file.clone().with_extension(masks.access_plan()));
                by_name.insert(file.object_meta.location.to_string(), masks);
            }
            groups.push(FileGroup::new(restricted));
        }
        Ok((groups, KeptRows::over(by_name)))
    }
}

/// Reads the condition's columns of `file` and tests every record.
/// `schema` is `stored_schema_of(condition.columns)`: columns a file stores
/// with another type are cast to it first, as the table scan does.
async fn compute(
    store: &Arc<dyn ObjectStore>,
    file: &PartitionedFile,
    schema: &SchemaRef,
    condition: &RowCondition,
) -> Result<FileMasks> {
    let meta = &file.object_meta;
    // The engine's own reader: the file read as the scan will read it.
    let reader: Box<dyn AsyncFileReader> = DefaultParquetFileReaderFactory::new(Arc::clone(store))
        .create_reader(0, file.clone(), None, &ExecutionPlanMetricsSet::new())?;
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    let row_counts: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows() as usize)
        .collect();
    let file_schema = Arc::clone(builder.schema());
    let mut roots = Vec::with_capacity(condition.columns.len());
    for name in &condition.columns {
        let index = file_schema.index_of(name).map_err(|_| {
            DataFusionError::Execution(format!(
                "{}: no column {name} for the row condition",
                meta.location
            ))
        })?;
        roots.push(index);
    }
    let projection = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut stream = builder
        .with_projection(projection)
        .with_batch_size(BATCH_ROWS)
        .build()?;

    let total: usize = row_counts.iter().sum();
    let mut bits = BooleanBufferBuilder::new(total);
    while let Some(batch) = stream.try_next().await? {
        let columns = condition
            .columns
            .iter()
            .zip(schema.fields())
            .map(|(name, field)| {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    DataFusionError::Internal(format!("the reader left out {name}"))
                })?;
                Ok(if column.data_type() == field.data_type() {
                    Arc::clone(column)
                } else {
                    cast(column, field.data_type())?
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(schema), columns)?;
        let answer = condition
            .predicate
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        let answer = answer.as_boolean_opt().ok_or_else(|| {
            DataFusionError::Internal("a row condition answered other than boolean".into())
        })?;
        match answer.nulls().filter(|n| n.null_count() > 0) {
            Some(nulls) => bits.append_buffer(&(answer.values() & nulls.inner())),
            None => bits.append_buffer(answer.values()),
        }
    }
    if bits.len() != total {
        return Err(DataFusionError::Execution(format!(
            "{}: read {} records for the row condition, the file holds {total}",
            meta.location,
            bits.len()
        )));
    }
    // The masks describe the file as it was listed, or are not kept.
    let now = store.head(&meta.location).await?;
    if now.size != meta.size || now.last_modified != meta.last_modified {
        return Err(DataFusionError::Execution(format!(
            "{} changed while it was read; run the query again",
            meta.location
        )));
    }
    Ok(FileMasks {
        records: bits.finish(),
        row_groups: row_counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        Key {
            location: format!("f{n}"),
            size: 1,
            modified_nanos: 0,
            e_tag: None,
            condition: "c".into(),
        }
    }

    fn masks(rows: usize) -> Arc<FileMasks> {
        Arc::new(FileMasks {
            records: BooleanBuffer::new_set(rows),
            row_groups: vec![rows],
        })
    }

    #[test]
    fn the_oldest_masks_leave_when_the_budget_is_spent() {
        let one = key(1).bytes(&masks(8_000));
        let cache = RowMaskCache::new(2 * one + one / 2);
        cache.insert(key(1), masks(8_000));
        cache.insert(key(2), masks(8_000));
        assert!(cache.get(&key(1)).is_some() && cache.get(&key(2)).is_some());
        cache.insert(key(3), masks(8_000));
        assert!(cache.get(&key(1)).is_none(), "the oldest went");
        assert!(cache.get(&key(2)).is_some() && cache.get(&key(3)).is_some());
        let state = cache.state.lock().unwrap();
        assert_eq!(state.bytes, 2 * one);
        assert_eq!(state.order.len(), 2);
    }

    #[test]
    fn masks_larger_than_the_budget_are_not_kept() {
        let cache = RowMaskCache::new(100);
        cache.insert(key(1), masks(8_000));
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(cache.state.lock().unwrap().bytes, 0);
    }

    fn mixed() -> FileMasks {
        let mut bits = vec![false; 4];
        bits.extend([true; 4]);
        bits.extend([true, false, false, true]);
        FileMasks {
            records: BooleanBuffer::from(bits),
            row_groups: vec![4, 4, 4],
        }
    }

    /// Only row groups with no kept record are skipped: the others are
    /// read whole and filtered by their bits.
    #[test]
    fn row_groups_without_kept_records_are_skipped() {
        let plan = mixed().access_plan();
        let access = plan.inner();
        assert!(matches!(access[0], RowGroupAccess::Skip));
        assert!(matches!(access[1], RowGroupAccess::Scan));
        assert!(matches!(access[2], RowGroupAccess::Scan));
    }

    fn bits(b: &BooleanBuffer) -> Vec<bool> {
        b.iter().collect()
    }

    /// Records in a run and records scattered (a pruned page between them)
    /// get their own bits; a position beyond the mask fails.
    #[test]
    fn each_record_gets_the_bit_of_its_position() {
        let m = mixed();
        let run = Int64Array::from(vec![7, 8, 9, 10, 11]);
        assert_eq!(
            bits(&m.kept(&run, "f").unwrap()),
            [true, true, false, false, true]
        );
        let scattered = Int64Array::from(vec![0, 4, 9, 11]);
        assert_eq!(
            bits(&m.kept(&scattered, "f").unwrap()),
            [false, true, false, true]
        );
        let beyond = Int64Array::from(vec![10, 11, 12]);
        assert!(m.kept(&beyond, "f").is_err());
        let negative = Int64Array::from(vec![-1]);
        assert!(m.kept(&negative, "f").is_err());
        let none = Int64Array::from(vec![Some(1), None]);
        assert!(m.kept(&none, "f").is_err());
    }

    /// Evaluated anywhere but in the scan that names its file, the lookup
    /// fails rather than keep or drop records.
    #[test]
    fn a_lookup_outside_its_scan_fails() {
        let kept = KeptRows::over(HashMap::from([("f".to_owned(), Arc::new(mixed()))]));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        assert!(kept.evaluate(&batch).is_err());
    }
}
