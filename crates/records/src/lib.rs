//! Record storage: the table registry (`tables.toml`), table inheritance,
//! Parquet-backed scans per record class, and the demo data generator.
//! Knows nothing of accounts or ACLs.

use std::path::PathBuf;

pub mod demo;
pub mod dictionary;
mod registry;
pub mod row_masks;
mod scan;

pub use registry::{CLASS_COLUMN, ID_COLUMN, Registry, TableDef};
pub use row_masks::{RowCondition, RowMaskCache};

/// Why a data directory cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{path}: {message}", path = .0.display(), message = .1)]
    TablesToml(PathBuf, String),
    #[error("{0}")]
    Invalid(String),
    #[error("table {0:?}: {1}")]
    Engine(String, #[source] datafusion::error::DataFusionError),
}
