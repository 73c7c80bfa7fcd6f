//! Helpers shared by the demo data tests: generate, then read back.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sqlgate_records::demo::{self, DemoOptions};

pub const SCALE: u64 = 2_000;
pub const TASK_CLASSES: [&str; 4] = ["incident", "problem", "change_request", "sn_hr_core_case"];

pub fn generate(dir: &Path, scale: u64, rows_per_file: usize) -> demo::DemoSummary {
    let opts = DemoOptions {
        scale,
        rows_per_file,
    };
    demo::generate(dir, &opts, &|_| {}).expect("generate")
}

pub fn parts(dir: &Path, table: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(table))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Every row of `table`, as one batch per file.
pub fn read(dir: &Path, table: &str) -> (SchemaRef, Vec<RecordBatch>) {
    let mut schema = None;
    let mut batches = Vec::new();
    for path in parts(dir, table) {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        schema = Some(builder.schema().clone());
        for b in builder.with_batch_size(1 << 20).build().unwrap() {
            batches.push(b.unwrap());
        }
    }
    (schema.expect("at least one part file"), batches)
}

/// The non-null values of a string column.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let a = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"));
        // Reference and choice columns are stored as dictionaries.
        let a = datafusion::arrow::compute::cast(a, &datafusion::arrow::datatypes::DataType::Utf8)
            .unwrap();
        out.extend(a.as_string::<i32>().iter().flatten().map(str::to_owned));
    }
    out
}

pub fn rows(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

pub fn read_file(path: &Path) -> RecordBatch {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = b.schema().clone();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
    datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap()
}
