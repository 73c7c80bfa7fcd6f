//! What the ACL model needs to know about tables: their columns, their
//! parent (`incident extends task`) and the "allow web service access" flag.
//! The storage layer fills this in; the model never reads files itself.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::SchemaRef;

/// One table as the ACL model sees it.
#[derive(Debug, Clone)]
pub struct TableMeta {
    pub name: String,
    pub parent: Option<String>,
    pub web_service_access: bool,
    /// The table's full record schema (its own and inherited columns).
    pub schema: SchemaRef,
}

/// Every table the server stores, by name.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    tables: BTreeMap<String, TableMeta>,
}

impl Tables {
    /// Builds the set; the caller (storage) has already checked that parents
    /// exist and that the hierarchy has no cycle.
    pub fn new(tables: impl IntoIterator<Item = TableMeta>) -> Tables {
        Tables {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&TableMeta> {
        self.tables.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TableMeta> {
        self.tables.values()
    }

    /// `name` followed by its ancestors, nearest first. Bounded by the number
    /// of tables, so a cycle that slipped through cannot loop forever.
    pub fn lineage(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = self.tables.get(name);
        while let Some(t) = cur {
            if out.len() > self.tables.len() {
                break;
            }
            out.push(t.name.as_str());
            cur = t.parent.as_deref().and_then(|p| self.tables.get(p));
        }
        out
    }

    /// `name` followed by every table that extends it, at any depth: the
    /// record classes a query on `name` reads. Empty for an unknown table.
    pub fn subtree(&self, name: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(t) = self.tables.get(name) {
            out.push(t.name.as_str());
        }
        // Breadth first over the parent links; each table is added once, so
        // a cycle that slipped through cannot loop forever.
        let mut i = 0;
        while i < out.len() {
            let parent = out[i];
            for t in self.tables.values() {
                if t.parent.as_deref() == Some(parent) && !out.contains(&t.name.as_str()) {
                    out.push(t.name.as_str());
                }
            }
            i += 1;
        }
        out
    }

    /// Whether `table` has a column named `field`.
    pub fn has_field(&self, table: &str, field: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|t| t.schema.field_with_name(field).is_ok())
    }

    /// Whether any table has a column named `field` (for `*.field` ACLs).
    pub fn any_has_field(&self, field: &str) -> bool {
        self.tables
            .values()
            .any(|t| t.schema.field_with_name(field).is_ok())
    }
}
