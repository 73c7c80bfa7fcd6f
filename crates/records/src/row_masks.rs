//! Row conditions answered once per file.
//!
//! A restricted scan used to decode the columns its row condition reads for
//! every record of every query, and test the condition on each. Files do
//! not change under a name, size and modification time, and a condition
//! whose dynamic values are already literals answers the same on the same
//! record every time: so the answer is kept, one bit per record, per file
//! and condition ([`RowMaskCache`]). A scan then hands the Parquet reader
//! the records to read (a [`ParquetAccessPlan`] per file): row groups where
//! the condition holds nowhere are skipped, those where it holds everywhere
//! read whole, the others read through the mask. The condition's columns
//! are not read at all, unless the query asks for them.
//!
//! The mask is computed from the file itself, by the same expression the
//! row filter would run, and kept only if the file still has the size and
//! modification time the scan listed it with. Anything unexpected (a file
//! whose row groups do not match its mask, a column missing) fails the
//! query: the condition is never dropped silently.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, BooleanBufferBuilder, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, RowGroupAccess};
use datafusion::error::{DataFusionError, Result};
use datafusion::object_store::{ObjectStore, ObjectStoreExt};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::RowSelection;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::TryStreamExt;

/// Default room for masks, in MiB: none, masks are the operator's choice.
/// They pay where visible records come in runs (a tenant's, a period's
/// records stored together); where they alternate every few records,
/// DataFusion 55 walks the mask run by run, several times per column, and
/// reading through it was 20–45% slower than the filter. Choosing per
/// file from the data itself would let hidden records decide the plan's
/// shape, which EXPLAIN shows. 64 MiB holds about 500 conditions over a
/// million records.
pub const DEFAULT_CAPACITY_MB: u64 = 0;

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
            + masks
                .row_groups
                .iter()
                .map(|m| m.len() / 8 + 64)
                .sum::<usize>()
    }
}

/// One file's answer: a bit per record, per row group.
#[derive(Debug)]
struct FileMasks {
    row_groups: Vec<BooleanBuffer>,
}

impl FileMasks {
    fn access_plan(&self) -> ParquetAccessPlan {
        ParquetAccessPlan::new(
            self.row_groups
                .iter()
                .map(|mask| match mask.count_set_bits() {
                    0 => RowGroupAccess::Skip,
                    n if n == mask.len() => RowGroupAccess::Scan,
                    _ => RowGroupAccess::Selection(RowSelection::from_boolean_buffer(mask.clone())),
                })
                .collect(),
        )
    }
}

/// Masks by file and condition, within a byte budget (oldest out first).
#[derive(Debug)]
pub struct RowMaskCache {
    capacity: usize,
    state: Mutex<CacheState>,
    computed: AtomicU64,
}

#[derive(Debug, Default)]
struct CacheState {
    masks: HashMap<Key, Arc<FileMasks>>,
    order: VecDeque<Key>,
    bytes: usize,
}

impl RowMaskCache {
    /// A cache keeping at most `capacity` bytes of masks; 0 turns masks
    /// off (row conditions run as filters, see [`Self::is_enabled`]).
    pub fn new(capacity: usize) -> RowMaskCache {
        RowMaskCache {
            capacity,
            state: Mutex::default(),
            computed: AtomicU64::new(0),
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

    /// `file` with the records `condition` keeps attached as its access
    /// plan.
    pub(crate) async fn restrict(
        &self,
        store: &Arc<dyn ObjectStore>,
        file: PartitionedFile,
        schema: &SchemaRef,
        condition: &RowCondition,
    ) -> Result<PartitionedFile> {
        let key = Key::of(&file, condition);
        let masks = match self.get(&key) {
            Some(masks) => masks,
            None => {
                let masks = Arc::new(compute(store, &file, schema, condition).await?);
                self.computed.fetch_add(1, Ordering::Relaxed);
                self.insert(key, Arc::clone(&masks));
                masks
            }
        };
        Ok(file.with_extension(masks.access_plan()))
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
    let all = bits.finish();
    let mut offset = 0;
    let row_groups = row_counts
        .iter()
        .map(|&n| {
            let mask = all.slice(offset, n);
            offset += n;
            mask
        })
        .collect();
    Ok(FileMasks { row_groups })
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
            row_groups: vec![BooleanBuffer::new_set(rows)],
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

    #[test]
    fn row_groups_become_skips_scans_and_selections() {
        let m = FileMasks {
            row_groups: vec![
                BooleanBuffer::new_unset(4),
                BooleanBuffer::new_set(4),
                BooleanBuffer::from(vec![true, false, false, true]),
            ],
        };
        let plan = m.access_plan();
        let access = plan.inner();
        assert!(matches!(access[0], RowGroupAccess::Skip));
        assert!(matches!(access[1], RowGroupAccess::Scan));
        match &access[2] {
            RowGroupAccess::Selection(s) => {
                assert_eq!(s.row_count(), 2);
                assert_eq!(s.skipped_row_count(), 2);
            }
            other => panic!("expected a selection, got {other:?}"),
        }
    }
}
