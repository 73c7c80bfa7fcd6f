//! Record storage: the table registry (`tables.toml`), table inheritance,
//! Parquet-backed scans per record class, and the demo data generator.

pub mod demo;
