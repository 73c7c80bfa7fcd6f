//! The table registry: `tables.toml` plus one folder of Parquet files per
//! table. Column names and types come from the Parquet files themselves; the
//! registry checks that the hierarchy is sound (parents exist, no cycle, a
//! child carries every column of its parent with the same type) and refuses
//! the whole data directory otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use crate::RecordsError;
use crate::dictionary;
use crate::row_masks::{self, RowMaskCache};

/// The column naming a record's class; a query on a parent table returns
/// child records with their own class here.
pub const CLASS_COLUMN: &str = "sys_class_name";
/// The record identifier every table must have.
pub const ID_COLUMN: &str = "sys_id";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TablesFile {
    #[serde(default)]
    table: Vec<TableEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    name: String,
    extends: Option<String>,
    /// Off unless said otherwise: a table is invisible to the SQL API until
    /// an operator opts it in.
    #[serde(default)]
    web_service_access: bool,
    #[serde(default)]
    description: String,
}

/// One stored table (one record class).
#[derive(Debug)]
pub struct TableDef {
    pub name: String,
    pub parent: Option<String>,
    pub web_service_access: bool,
    pub description: String,
    pub dir: PathBuf,
    /// The record schema: the files' columns, with `sys_class_name` always
    /// present (it is filled from the table's name, not trusted from files).
    pub schema: SchemaRef,
    /// Reads the folder; it lists the files again at every scan, so files
    /// dropped into the folder are seen by the next query.
    pub(crate) listing: Arc<ListingTable>,
    /// Row conditions' answers for this table's files; one cache serves
    /// every table of the registry.
    pub(crate) row_masks: Arc<RowMaskCache>,
}

/// Every stored table, by name.
#[derive(Debug)]
pub struct Registry {
    data_dir: PathBuf,
    tables: BTreeMap<String, Arc<TableDef>>,
}

impl Registry {
    /// Loads `tables.toml` from `data_dir` and reads each table's schema
    /// from its Parquet files.
    pub async fn load(data_dir: &Path) -> Result<Registry, RecordsError> {
        Registry::load_with(data_dir, row_masks::DEFAULT_CAPACITY_MB).await
    }

    /// As [`Registry::load`], keeping at most `row_mask_mib` MiB of row
    /// conditions' answers (0: row conditions run as filters).
    pub async fn load_with(data_dir: &Path, row_mask_mib: u64) -> Result<Registry, RecordsError> {
        let toml_path = data_dir.join("tables.toml");
        let text = std::fs::read_to_string(&toml_path)
            .map_err(|e| RecordsError::Io(toml_path.clone(), e))?;
        let file: TablesFile = toml::from_str(&text)
            .map_err(|e| RecordsError::TablesToml(toml_path.clone(), e.to_string()))?;
        check_hierarchy(&file.table)?;

        let ctx = SessionContext::new();
        let row_mask_bytes = usize::try_from(row_mask_mib.saturating_mul(1 << 20));
        let row_masks = Arc::new(RowMaskCache::new(row_mask_bytes.unwrap_or(usize::MAX)));
        let mut tables = BTreeMap::new();
        for entry in &file.table {
            let dir = data_dir.join(&entry.name);
            let (schema, listing) = open_folder(&ctx, &entry.name, &dir).await?;
            let def = TableDef {
                name: entry.name.clone(),
                parent: entry.extends.clone(),
                web_service_access: entry.web_service_access,
                description: entry.description.clone(),
                dir,
                schema,
                listing,
                row_masks: Arc::clone(&row_masks),
            };
            tables.insert(entry.name.clone(), Arc::new(def));
        }
        let registry = Registry {
            data_dir: data_dir.to_owned(),
            tables,
        };
        registry.check_inherited_columns()?;
        Ok(registry)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn get(&self, name: &str) -> Option<&Arc<TableDef>> {
        self.tables.get(name)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Arc<TableDef>> {
        self.tables.values()
    }

    /// `name` and every table that extends it, directly or not: the classes
    /// whose records a query on `name` returns. Parents come before children.
    pub fn classes(&self, name: &str) -> Vec<&Arc<TableDef>> {
        let mut out: Vec<&Arc<TableDef>> = self.tables.get(name).into_iter().collect();
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].name.clone();
            out.extend(
                self.tables
                    .values()
                    .filter(|t| t.parent.as_deref() == Some(parent.as_str())),
            );
            i += 1;
        }
        out
    }

    fn check_inherited_columns(&self) -> Result<(), RecordsError> {
        for t in self.tables.values() {
            let Some(parent) = t.parent.as_deref().and_then(|p| self.tables.get(p)) else {
                continue;
            };
            for pf in parent.schema.fields() {
                match t.schema.field_with_name(pf.name()) {
                    Ok(cf) if cf.data_type() == pf.data_type() => {}
                    Ok(cf) => {
                        return Err(RecordsError::Invalid(format!(
                            "table {:?} extends {:?} but its column {:?} is {} where the parent's is {}",
                            t.name,
                            parent.name,
                            pf.name(),
                            cf.data_type(),
                            pf.data_type()
                        )));
                    }
                    Err(_) => {
                        return Err(RecordsError::Invalid(format!(
                            "table {:?} extends {:?} but has no column {:?}",
                            t.name,
                            parent.name,
                            pf.name()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_hierarchy(entries: &[TableEntry]) -> Result<(), RecordsError> {
    let mut parents: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for e in entries {
        if !is_identifier(&e.name) {
            return Err(RecordsError::Invalid(format!(
                "table name {:?} must be a lowercase identifier",
                e.name
            )));
        }
        if parents.insert(&e.name, e.extends.as_deref()).is_some() {
            return Err(RecordsError::Invalid(format!(
                "table {:?} is listed twice",
                e.name
            )));
        }
    }
    for e in entries {
        let mut seen = vec![e.name.as_str()];
        let mut cur = e.extends.as_deref();
        while let Some(p) = cur {
            if !parents.contains_key(p) {
                return Err(RecordsError::Invalid(format!(
                    "table {:?} extends unknown table {p:?}",
                    seen.last().unwrap()
                )));
            }
            if seen.contains(&p) {
                return Err(RecordsError::Invalid(format!(
                    "table {:?} is its own ancestor ({} -> {p})",
                    e.name,
                    seen.join(" -> ")
                )));
            }
            seen.push(p);
            cur = parents[p];
        }
    }
    Ok(())
}

/// Opens a table folder: infers the schema from its Parquet files and
/// builds the listing that scans read through.
async fn open_folder(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
) -> Result<(SchemaRef, Arc<ListingTable>), RecordsError> {
    let has_parquet = std::fs::read_dir(dir)
        .map_err(|e| RecordsError::Io(dir.to_owned(), e))?
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "parquet"));
    if !has_parquet {
        return Err(RecordsError::Invalid(format!(
            "table {name:?} has no Parquet files in {}",
            dir.display()
        )));
    }
    let url = ListingTableUrl::parse(format!(
        "{}/",
        dir.canonicalize()
            .map_err(|e| RecordsError::Io(dir.to_owned(), e))?
            .display()
    ))
    .map_err(|e| RecordsError::Engine(name.to_owned(), e))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let file_schema = options
        .infer_schema(&ctx.state(), &url)
        .await
        .map_err(|e| RecordsError::Engine(name.to_owned(), e))?;
    if file_schema.field_with_name(ID_COLUMN).is_err() {
        return Err(RecordsError::Invalid(format!(
            "table {name:?} has no {ID_COLUMN} column"
        )));
    }
    // Each scan plans with the files' statistics (row counts, min/max),
    // read from their footers: without a cache every query of the table
    // recomputed them (a tenth of a point lookup). Entries are keyed by
    // path and checked against size and modification time, so a replaced
    // or added file is read afresh.
    let listing = ListingTable::try_new(
        ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::clone(&file_schema)),
    )
    .map_err(|e| RecordsError::Engine(name.to_owned(), e))?
    .with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
    Ok((record_schema(&file_schema), Arc::new(listing)))
}

/// The record schema for a file schema: `sys_class_name` kept where the
/// files have it, appended otherwise; never nullable, since the scan fills
/// it from the table's name. Text stored as dictionaries is text.
fn record_schema(file_schema: &Schema) -> SchemaRef {
    let class = Field::new(CLASS_COLUMN, DataType::Utf8, false);
    let mut fields: Vec<Field> = dictionary::as_text(file_schema)
        .fields()
        .iter()
        .map(|f| {
            if f.name() == CLASS_COLUMN {
                class.clone()
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    if file_schema.field_with_name(CLASS_COLUMN).is_err() {
        fields.push(class);
    }
    Arc::new(Schema::new(fields))
}
