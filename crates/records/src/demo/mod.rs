//! Deterministic ServiceNow-like demo data.
//!
//! [`generate`] writes `tables.toml` and one folder of Parquet files per
//! table: users, groups and memberships, tasks with their four child
//! classes (incidents, problems, changes, HR cases), configuration items and
//! knowledge articles, all cross-referenced by `sys_id`.
//!
//! Every value is a pure function of the scale, the table and the row
//! index: each record draws from its own SplitMix64 stream seeded from its
//! table's name and index, and a reference computes the target's `sys_id`
//! from the target's index. Nothing reads the clock. So the same scale gives
//! byte-identical files however the work is scheduled, and no table has to be
//! held in memory to reference it; only the user directory (max(60, N/50)
//! people and their groups) is computed up front.
//!
//! Work is split into part files. One worker per core (at most
//! `MAX_WORKERS`) takes parts, biggest first, and streams each as batches of
//! 64K rows built column-wise into an `ArrowWriter`, so memory stays at a
//! batch and a row group per worker whatever the scale.

mod directory;
mod identities;
mod rng;
mod tables;
mod text;
mod vocab;
mod world;
mod writer;

use std::cmp::Reverse;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::errors::ParquetError;

pub use identities::{DemoGroup, DemoUser, demo_groups, demo_service_accounts};

/// The files' layout, raised whenever the generator writes other files
/// for the same scale (types, encodings, page sizes): a data set made by an
/// earlier layout is generated again rather than served as it is.
/// 2: reference and choice columns stored as dictionaries.
/// 3: references stored uncompressed, `cmdb_ci` without a dictionary.
pub const LAYOUT: u32 = 3;
use world::{Table, World};
use writer::Part;

/// Each worker holds a batch and a row group (~100 MB for incidents).
const MAX_WORKERS: usize = 8;

/// How much to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Number of incidents; the other tables are sized in proportion.
    pub scale: u64,
    /// Most rows in one Parquet file.
    pub rows_per_file: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            scale: 10_000,
            rows_per_file: 262_144,
        }
    }
}

/// Reported about once per written batch; `rows_done` grows to
/// `rows_total` for each table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub table: &'static str,
    pub rows_done: u64,
    pub rows_total: u64,
}

/// What was written: each table with its row count, in `tables.toml` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub tables: Vec<(String, u64)>,
}

impl DemoSummary {
    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|&(_, n)| n)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo options: {0}")]
    InvalidOptions(String),
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Parquet(PathBuf, #[source] ParquetError),
    #[error("table {0}: {1}")]
    Arrow(&'static str, #[source] ArrowError),
}

/// Writes the demo data set into `out` (created if missing): `tables.toml`
/// and `out/<table>/part-NNNNN.parquet`. Part files already in the table
/// folders are replaced; `tables.toml` is removed first and written last,
/// so its presence means the set is complete.
pub fn generate(
    out: &Path,
    opts: &DemoOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<DemoSummary, DemoError> {
    if opts.rows_per_file == 0 {
        return Err(DemoError::InvalidOptions(
            "rows_per_file must be at least 1".into(),
        ));
    }
    let world = World::new(opts.scale);
    let toml_path = out.join("tables.toml");
    prepare(out, &toml_path)?;

    let per_file = opts.rows_per_file as u64;
    let mut parts = Vec::new();
    for table in Table::ALL {
        let rows = world.rows(table);
        for index in 0..rows.div_ceil(per_file).max(1) {
            let start = index * per_file;
            parts.push(Part {
                table,
                index: index as usize,
                start,
                rows: per_file.min(rows - start),
            });
        }
    }
    parts.sort_by_key(|p| Reverse(p.rows * p.table.row_cost()));
    let schemas: Vec<SchemaRef> = Table::ALL.iter().map(|&t| tables::schema(t)).collect();

    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<DemoError>> = Mutex::new(None);
    let done: Mutex<[u64; Table::ALL.len()]> = Mutex::new([0; Table::ALL.len()]);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(MAX_WORKERS)
        .min(parts.len());
    let work = || {
        loop {
            if lock(&failure).is_some() {
                return;
            }
            let Some(&part) = parts.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let t = part.table.index();
            // Counting and reporting under one lock keeps each table's
            // reports increasing even when two workers share a table.
            let report = |rows: u64| {
                let mut done = lock(&done);
                done[t] += rows;
                progress(Progress {
                    table: part.table.name(),
                    rows_done: done[t],
                    rows_total: world.rows(part.table),
                });
            };
            let dir = out.join(part.table.name());
            match writer::write_part(&dir, &world, &schemas[t], part, &report) {
                Ok(()) if part.rows == 0 => report(0),
                Ok(()) => {}
                Err(e) => {
                    lock(&failure).get_or_insert(e);
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(work);
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }

    std::fs::write(&toml_path, tables_toml()).map_err(|e| DemoError::Io(toml_path.clone(), e))?;
    Ok(DemoSummary {
        tables: Table::ALL
            .iter()
            .map(|&t| (t.name().to_owned(), world.rows(t)))
            .collect(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates the folders and clears what a previous run left in them.
fn prepare(out: &Path, toml_path: &Path) -> Result<(), DemoError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |e| DemoError::Io(path, e)
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    match std::fs::remove_file(toml_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(toml_path)(e)),
        _ => {}
    }
    for table in Table::ALL {
        let dir = out.join(table.name());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("part-") && name.ends_with(".parquet") {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
    }
    Ok(())
}

/// The table registry of the demo set.
fn tables_toml() -> String {
    let mut s = String::new();
    for t in Table::ALL {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str("[[table]]\n");
        s.push_str(&format!("name = \"{}\"\n", t.name()));
        if let Some(parent) = t.extends() {
            s.push_str(&format!("extends = \"{parent}\"\n"));
        }
        s.push_str(&format!(
            "web_service_access = {}\n",
            t.web_service_access()
        ));
    }
    s
}
