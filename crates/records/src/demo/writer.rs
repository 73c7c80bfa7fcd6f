//! Parquet layout for point lookups, and the writing of one part file.
//!
//! Row groups of at most [`ROW_GROUP_ROWS`] rows, data pages of at most
//! [`PAGE_ROWS`] rows and [`PAGE_BYTES`] bytes with page-level statistics (so
//! the page index narrows a lookup by `number` to a page or two, and a
//! lookup decompresses a small page of each wide text column, not a
//! megabyte), bloom filters on `sys_id` and
//! `number` (so a lookup by `sys_id` skips the row groups that cannot hold
//! it), and files sorted by `number`, declared in the row group metadata.

use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
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
const NO_DICTIONARY: [&str; 8] = [
    "sys_id",
    "number",
    "description",
    "text",
    "work_notes",
    "close_notes",
    "serial_number",
    "ip_address",
];

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
    for name in BLOOM_COLUMNS {
        if schema.field_with_name(name).is_ok() {
            b = b
                .set_column_bloom_filter_enabled(ColumnPath::from(name), true)
                .set_column_bloom_filter_fpp(ColumnPath::from(name), BLOOM_FPP);
        }
    }
    for name in NO_DICTIONARY {
        if schema.field_with_name(name).is_ok() {
            b = b.set_column_dictionary_enabled(ColumnPath::from(name), false);
        }
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
    if let Ok(idx) = schema.index_of("number") {
        b = b.set_sorting_columns(Some(vec![SortingColumn {
            column_idx: idx as i32,
            descending: false,
            nulls_first: false,
        }]));
    }
    b.build()
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
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), Some(properties(schema))).map_err(parquet)?;
    let end = part.start + part.rows;
    let mut at = part.start;
    while at < end {
        let len = (end - at).min(BATCH_ROWS as u64) as usize;
        let columns = tables::columns(part.table, world, at, len);
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| DemoError::Arrow(part.table.name(), e))?;
        writer.write(&batch).map_err(parquet)?;
        drop(batch);
        at += len as u64;
        done(len as u64);
    }
    writer.into_inner().map_err(parquet)?;
    Ok(())
}
