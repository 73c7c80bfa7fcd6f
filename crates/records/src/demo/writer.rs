//! Parquet layout for point lookups, and the writing of one part file.
//!
//! Row groups of at most [`ROW_GROUP_ROWS`] rows, data pages of at most
//! [`PAGE_ROWS`] rows and [`PAGE_BYTES`] bytes with page-level statistics (so
//! the page index narrows a lookup by `number` to a page or two, and a
//! lookup decompresses a small page of each wide text column, not a
//! megabyte), references stored uncompressed (see [`UNCOMPRESSED`]),
//! bloom filters on `sys_id` and
//! `number` (so a lookup by `sys_id` skips the row groups that cannot hold
//! it), and files sorted by `number`, declared in the row group metadata.
//! Reference and choice columns ([`ENCODED`]) carry an Arrow dictionary type,
//! so readers get them as keys into the row group's dictionary page.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use super::DemoError;
use super::tables;
use super::world::{Table, World};

pub(crate) const ROW_GROUP_ROWS: usize = 131_072;
pub(crate) const PAGE_ROWS: usize = 8_192;
/// Page size in bytes: an 8,192-row page of descriptions is over a
/// megabyte, which a lookup of one row had to decompress whole (3 ms of a
/// 13 ms `SELECT *` lookup went to the three text columns).
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
/// Rows built and handed to the writer at a time.
pub(crate) const BATCH_ROWS: usize = 65_536;
/// Columns looked up by value.
const BLOOM_COLUMNS: [&str; 2] = ["sys_id", "number"];
const BLOOM_FPP: f64 = 0.01;
/// Columns where nearly every value differs: a dictionary only costs time.
/// A row group of incidents points at some 50,000 of the 100,000
/// configuration items: their dictionary filled its megabyte and fell back
/// to plain pages anyway, and every lookup decoded that megabyte.
const NO_DICTIONARY: [&str; 9] = [
    "sys_id",
    "cmdb_ci",
    "number",
    "description",
    "text",
    "work_notes",
    "close_notes",
    "serial_number",
    "ip_address",
];

/// Columns drawn from small sets (references to groups and people, and
/// choices): stored with an Arrow dictionary type, so the reader hands them
/// out as keys into the row group's dictionary page, and a row condition on
/// them is tested once per distinct value (see `crate::dictionary`).
const ENCODED: [&str; 14] = [
    "assignment_group",
    "assigned_to",
    "opened_by",
    "caller_id",
    "category",
    "subcategory",
    "close_code",
    "workflow_state",
    "kb_category",
    "department",
    "location",
    "approval",
    "type",
    "hr_service",
];
/// Columns of `sys_id`s: 32 random hex digits, which LZ4 shrinks by 3-4%.
/// Stored uncompressed, a lookup copies their pages (and the dictionary
/// pages of the references, 0.5-0.7 MB a row group each) instead of
/// decompressing them: a `SELECT *` lookup by `number` took 10.6-11.6 ms
/// instead of 13.5-14.2, for files 2% larger.
const UNCOMPRESSED: [&str; 11] = [
    "sys_id",
    "assignment_group",
    "assigned_to",
    "opened_by",
    "caller_id",
    "cmdb_ci",
    "owned_by",
    "support_group",
    "author",
    "subject_person",
    "user",
];
/// Room for a dictionary of a row group's every value (32-character
/// references with their length prefix), so a dictionary column never
/// spills to plain pages, which the reader would re-encode value by value.
const ENCODED_DICTIONARY_BYTES: usize = ROW_GROUP_ROWS * 40;

/// The schema the files carry: `schema` with the [`ENCODED`] text columns
/// as dictionaries.
fn stored_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if ENCODED.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                f.as_ref().clone().with_data_type(encoded_type())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn encoded_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

pub(crate) fn properties(schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder()
        // LZ4 decompresses several times faster than zstd: zstd was a
        // tenth of the server's time streaming a table and a quarter of a
        // lookup's, for files about a third larger.
        .set_compression(Compression::LZ4_RAW)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Page);
    for c in present(schema, &BLOOM_COLUMNS) {
        b = b
            .set_column_bloom_filter_enabled(c.clone(), true)
            .set_column_bloom_filter_fpp(c, BLOOM_FPP);
    }
    for c in present(schema, &ENCODED) {
        b = b.set_column_dictionary_page_size_limit(c, ENCODED_DICTIONARY_BYTES);
    }
    for c in present(schema, &NO_DICTIONARY) {
        b = b.set_column_dictionary_enabled(c, false);
    }
    // Timestamps nearly all differ: a dictionary page of a row group's
    // timestamps is about a megabyte, decoded whole by every lookup that
    // reads the column (6 timestamp columns made a `SELECT *` lookup take
    // 20 ms instead of 10).
    for f in schema.fields() {
        if matches!(f.data_type(), DataType::Timestamp(..)) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false);
        }
    }
    for c in present(schema, &UNCOMPRESSED) {
        b = b.set_column_compression(c, Compression::UNCOMPRESSED);
    }
    if let Ok(idx) = schema.index_of("number") {
        b = b.set_sorting_columns(Some(vec![SortingColumn {
            column_idx: idx as i32,
            descending: false,
            nulls_first: false,
        }]));
    }
    b.build()
}

/// The columns among `names` that `schema` has (each list names the
/// columns of every table that takes the setting).
fn present<'a>(schema: &'a Schema, names: &'a [&str]) -> impl Iterator<Item = ColumnPath> + 'a {
    names
        .iter()
        .filter(|n| schema.field_with_name(n).is_ok())
        .map(|n| ColumnPath::from(*n))
}

/// One output file: rows `start..start+rows` of `table`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    pub table: Table,
    pub index: usize,
    pub start: u64,
    pub rows: u64,
}

impl Part {
    pub(crate) fn file_name(&self) -> String {
        format!("part-{:05}.parquet", self.index)
    }
}

/// Writes `part` into `dir`, batch by batch; `done(rows)` after each batch.
pub(crate) fn write_part(
    dir: &Path,
    world: &World,
    schema: &SchemaRef,
    part: Part,
    done: &dyn Fn(u64),
) -> Result<(), DemoError> {
    let path = dir.join(part.file_name());
    let file = File::create(&path).map_err(|e| DemoError::Io(path.clone(), e))?;
    let parquet = |e| DemoError::Parquet(path.clone(), e);
    let stored = stored_schema(schema);
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&stored), Some(properties(schema)))
        .map_err(parquet)?;
    let arrow = |e| DemoError::Arrow(part.table.name(), e);
    let end = part.start + part.rows;
    let mut at = part.start;
    while at < end {
        let len = (end - at).min(BATCH_ROWS as u64) as usize;
        let columns = tables::columns(part.table, world, at, len)
            .into_iter()
            .zip(stored.fields())
            .map(|(c, f)| cast(&c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow)?;
        let batch = RecordBatch::try_new(Arc::clone(&stored), columns).map_err(arrow)?;
        writer.write(&batch).map_err(parquet)?;
        drop(batch);
        at += len as u64;
        done(len as u64);
    }
    writer.into_inner().map_err(parquet)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// References are copied, not decompressed; text still compresses;
    /// `cmdb_ci` has no dictionary while the people references keep one
    /// (the restricted row filter tests it once per distinct value).
    #[test]
    fn references_are_stored_uncompressed_and_cmdb_ci_plain() {
        let props = properties(&tables::schema(Table::Incident));
        let path = |n: &str| ColumnPath::from(n);
        for name in ["sys_id", "assigned_to", "caller_id", "cmdb_ci"] {
            assert_eq!(
                props.compression(&path(name)),
                Compression::UNCOMPRESSED,
                "{name}"
            );
        }
        for name in ["description", "work_notes", "number", "opened_at"] {
            assert_eq!(
                props.compression(&path(name)),
                Compression::LZ4_RAW,
                "{name}"
            );
        }
        assert!(!props.dictionary_enabled(&path("cmdb_ci")));
        assert!(props.dictionary_enabled(&path("assigned_to")));
        assert!(props.bloom_filter_properties(&path("number")).is_some());
        // Every table whose files hold a listed column gets the setting.
        let cmdb = properties(&tables::schema(Table::CmdbCi));
        for name in ["owned_by", "support_group"] {
            assert_eq!(
                cmdb.compression(&path(name)),
                Compression::UNCOMPRESSED,
                "{name}"
            );
        }
    }
}
