//! A PostgreSQL-shaped `information_schema` for one session.
//!
//! DataFusion's own information_schema names Arrow types (`Utf8View`,
//! `Timestamp(µs)`) and lacks most of the views BI tools read. This one has
//! PostgreSQL's views, column names and types, and describes exactly what
//! the session's catalog holds: the tables that passed the principal's table
//! gate, with the columns their secure providers expose (hidden fields are
//! absent, masked ones nullable), never the stored tables. Types are named
//! after the PostgreSQL type the wire sends for the column, so
//! `data_type`/`udt_name` agree with the row description. No table has
//! constraints, keys, routines, domains or sequences, so those views are
//! empty, as pg_constraint and pg_index are.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::session::{CATALOG, SCHEMA};

/// The schema's name.
pub const NAME: &str = "information_schema";

/// Each view and its columns, as in PostgreSQL 15. A column is text unless
/// marked `:i` (integer: PostgreSQL's `cardinal_number`) or `:ts`
/// (`timestamp with time zone`).
const VIEWS: [(&str, &str); 18] = [
    ("applicable_roles", "grantee, role_name, is_grantable"),
    (
        "character_sets",
        "character_set_catalog, character_set_schema, character_set_name, \
         character_repertoire, form_of_use, default_collate_catalog, \
         default_collate_schema, default_collate_name",
    ),
    (
        "check_constraints",
        "constraint_catalog, constraint_schema, constraint_name, check_clause",
    ),
    (
        "column_privileges",
        "grantor, grantee, table_catalog, table_schema, table_name, column_name, \
         privilege_type, is_grantable",
    ),
    (
        "columns",
        "table_catalog, table_schema, table_name, column_name, ordinal_position:i, \
         column_default, is_nullable, data_type, character_maximum_length:i, \
         character_octet_length:i, numeric_precision:i, numeric_precision_radix:i, \
         numeric_scale:i, datetime_precision:i, interval_type, interval_precision:i, \
         character_set_catalog, character_set_schema, character_set_name, \
         collation_catalog, collation_schema, collation_name, domain_catalog, \
         domain_schema, domain_name, udt_catalog, udt_schema, udt_name, scope_catalog, \
         scope_schema, scope_name, maximum_cardinality:i, dtd_identifier, \
         is_self_referencing, is_identity, identity_generation, identity_start, \
         identity_increment, identity_maximum, identity_minimum, identity_cycle, \
         is_generated, generation_expression, is_updatable",
    ),
    (
        "constraint_column_usage",
        "table_catalog, table_schema, table_name, column_name, constraint_catalog, \
         constraint_schema, constraint_name",
    ),
    (
        "domains",
        "domain_catalog, domain_schema, domain_name, data_type, \
         character_maximum_length:i, character_octet_length:i, character_set_catalog, \
         character_set_schema, character_set_name, collation_catalog, \
         collation_schema, collation_name, numeric_precision:i, \
         numeric_precision_radix:i, numeric_scale:i, datetime_precision:i, \
         interval_type, interval_precision:i, domain_default, udt_catalog, udt_schema, \
         udt_name, scope_catalog, scope_schema, scope_name, maximum_cardinality:i, \
         dtd_identifier",
    ),
    ("enabled_roles", "role_name"),
    (
        "key_column_usage",
        "constraint_catalog, constraint_schema, constraint_name, table_catalog, \
         table_schema, table_name, column_name, ordinal_position:i, \
         position_in_unique_constraint:i",
    ),
    (
        "parameters",
        "specific_catalog, specific_schema, specific_name, ordinal_position:i, \
         parameter_mode, is_result, as_locator, parameter_name, data_type, \
         character_maximum_length:i, character_octet_length:i, character_set_catalog, \
         character_set_schema, character_set_name, collation_catalog, \
         collation_schema, collation_name, numeric_precision:i, \
         numeric_precision_radix:i, numeric_scale:i, datetime_precision:i, \
         interval_type, interval_precision:i, udt_catalog, udt_schema, udt_name, \
         scope_catalog, scope_schema, scope_name, maximum_cardinality:i, \
         dtd_identifier, parameter_default",
    ),
    (
        "referential_constraints",
        "constraint_catalog, constraint_schema, constraint_name, \
         unique_constraint_catalog, unique_constraint_schema, unique_constraint_name, \
         match_option, update_rule, delete_rule",
    ),
    (
        "routines",
        "specific_catalog, specific_schema, specific_name, routine_catalog, \
         routine_schema, routine_name, routine_type, module_catalog, module_schema, \
         module_name, udt_catalog, udt_schema, udt_name, data_type, \
         character_maximum_length:i, character_octet_length:i, character_set_catalog, \
         character_set_schema, character_set_name, collation_catalog, \
         collation_schema, collation_name, numeric_precision:i, \
         numeric_precision_radix:i, numeric_scale:i, datetime_precision:i, \
         interval_type, interval_precision:i, type_udt_catalog, type_udt_schema, \
         type_udt_name, scope_catalog, scope_schema, scope_name, \
         maximum_cardinality:i, dtd_identifier, routine_body, routine_definition, \
         external_name, external_language, parameter_style, is_deterministic, \
         sql_data_access, is_null_call, sql_path, schema_level_routine, \
         max_dynamic_result_sets:i, is_user_defined_cast, is_implicitly_invocable, \
         security_type, to_sql_specific_catalog, to_sql_specific_schema, \
         to_sql_specific_name, as_locator, created:ts, last_altered:ts, \
         new_savepoint_level, is_udt_dependent, result_cast_from_data_type, \
         result_cast_as_locator, result_cast_char_max_length:i, \
         result_cast_char_octet_length:i, result_cast_char_set_catalog, \
         result_cast_char_set_schema, result_cast_char_set_name, \
         result_cast_collation_catalog, result_cast_collation_schema, \
         result_cast_collation_name, result_cast_numeric_precision:i, \
         result_cast_numeric_precision_radix:i, result_cast_numeric_scale:i, \
         result_cast_datetime_precision:i, result_cast_interval_type, \
         result_cast_interval_precision:i, result_cast_type_udt_catalog, \
         result_cast_type_udt_schema, result_cast_type_udt_name, \
         result_cast_scope_catalog, result_cast_scope_schema, result_cast_scope_name, \
         result_cast_maximum_cardinality:i, result_cast_dtd_identifier",
    ),
    (
        "schemata",
        "catalog_name, schema_name, schema_owner, default_character_set_catalog, \
         default_character_set_schema, default_character_set_name, sql_path",
    ),
    (
        "sequences",
        "sequence_catalog, sequence_schema, sequence_name, data_type, \
         numeric_precision:i, numeric_precision_radix:i, numeric_scale:i, start_value, \
         minimum_value, maximum_value, increment, cycle_option",
    ),
    (
        "table_constraints",
        "constraint_catalog, constraint_schema, constraint_name, table_catalog, \
         table_schema, table_name, constraint_type, is_deferrable, initially_deferred, \
         enforced, nulls_distinct",
    ),
    (
        "table_privileges",
        "grantor, grantee, table_catalog, table_schema, table_name, privilege_type, \
         is_grantable, with_hierarchy",
    ),
    (
        "tables",
        "table_catalog, table_schema, table_name, table_type, \
         self_referencing_column_name, reference_generation, \
         user_defined_type_catalog, user_defined_type_schema, user_defined_type_name, \
         is_insertable_into, is_typed, commit_action",
    ),
    (
        "views",
        "table_catalog, table_schema, table_name, view_definition, check_option, \
         is_updatable, is_insertable_into, is_trigger_updatable, is_trigger_deletable, \
         is_trigger_insertable_into",
    ),
];

/// pg_catalog relations PostgreSQL defines as views; the rest are tables.
const PG_CATALOG_VIEWS: &[&str] = &[
    "pg_available_extension_versions",
    "pg_available_extensions",
    "pg_backend_memory_contexts",
    "pg_config",
    "pg_cursors",
    "pg_file_settings",
    "pg_group",
    "pg_hba_file_rules",
    "pg_ident_file_mappings",
    "pg_indexes",
    "pg_locks",
    "pg_matviews",
    "pg_policies",
    "pg_prepared_statements",
    "pg_prepared_xacts",
    "pg_publication_tables",
    "pg_replication_origin_status",
    "pg_replication_slots",
    "pg_roles",
    "pg_rules",
    "pg_seclabels",
    "pg_sequences",
    "pg_settings",
    "pg_shadow",
    "pg_shmem_allocations",
    "pg_stat_activity",
    "pg_stat_all_indexes",
    "pg_stat_all_tables",
    "pg_stat_archiver",
    "pg_stat_bgwriter",
    "pg_stat_database",
    "pg_stat_database_conflicts",
    "pg_stat_gssapi",
    "pg_stat_progress_analyze",
    "pg_stat_progress_basebackup",
    "pg_stat_progress_cluster",
    "pg_stat_progress_copy",
    "pg_stat_progress_create_index",
    "pg_stat_progress_vacuum",
    "pg_stat_recovery_prefetch",
    "pg_stat_replication",
    "pg_stat_replication_slots",
    "pg_stat_slru",
    "pg_stat_ssl",
    "pg_stat_subscription",
    "pg_stat_subscription_stats",
    "pg_stat_sys_indexes",
    "pg_stat_sys_tables",
    "pg_stat_user_functions",
    "pg_stat_user_indexes",
    "pg_stat_user_tables",
    "pg_stat_wal",
    "pg_stat_wal_receiver",
    "pg_stat_xact_all_tables",
    "pg_stat_xact_sys_tables",
    "pg_stat_xact_user_functions",
    "pg_stat_xact_user_tables",
    "pg_statio_all_indexes",
    "pg_statio_all_sequences",
    "pg_statio_all_tables",
    "pg_statio_sys_indexes",
    "pg_statio_sys_sequences",
    "pg_statio_sys_tables",
    "pg_statio_user_indexes",
    "pg_statio_user_sequences",
    "pg_statio_user_tables",
    "pg_stats",
    "pg_stats_ext",
    "pg_stats_ext_exprs",
    "pg_tables",
    "pg_timezone_abbrevs",
    "pg_timezone_names",
    "pg_user",
    "pg_user_mappings",
    "pg_views",
    "pg_stat_io",
    "pg_stat_checkpointer",
    "pg_wait_events",
];

/// One relation the session can read, as information_schema describes it.
#[derive(Debug, Clone)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    pub view: bool,
    /// The columns as the session's provider exposes them.
    pub columns: SchemaRef,
}

/// Everything a session's information_schema describes.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The session's account: owner, grantor and grantee of everything.
    pub user: String,
    pub relations: Vec<Relation>,
}

/// The names of the views.
pub fn view_names() -> impl Iterator<Item = &'static str> {
    VIEWS.iter().map(|(name, _)| *name)
}

/// The Arrow schema of a view; `None` for a name that is not one.
pub fn view_schema(view: &str) -> Option<SchemaRef> {
    let (_, spec) = VIEWS.iter().find(|(name, _)| *name == view)?;
    let fields: Vec<Field> = spec
        .split(',')
        .map(str::trim)
        .map(|column| match column.split_once(':') {
            Some((name, "i")) => Field::new(name, DataType::Int32, true),
            Some((name, "ts")) => Field::new(
                name,
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
                true,
            ),
            _ => Field::new(column, DataType::Utf8, true),
        })
        .collect();
    Some(Arc::new(Schema::new(fields)))
}

/// A column's type as PostgreSQL's information_schema describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgColumnType {
    /// `integer`, `timestamp without time zone`, `ARRAY`, ...
    pub data_type: String,
    /// The type's `pg_type.typname`: `int4`, `timestamp`, `_text`, ...
    pub udt_name: String,
    pub character_octet_length: Option<i32>,
    pub numeric_precision: Option<i32>,
    pub numeric_precision_radix: Option<i32>,
    pub numeric_scale: Option<i32>,
    pub datetime_precision: Option<i32>,
}

/// Describes a column by the PostgreSQL type the wire sends it as.
pub fn column_type(field: &FieldRef) -> PgColumnType {
    let udt_name = match arrow_pg::datatypes::field_into_pg_type(field) {
        // Composite types are named after their fields; PostgreSQL reports
        // an anonymous row as `record`.
        Ok(t) if t.name().starts_with('(') => "record".to_owned(),
        Ok(t) => t.name().to_owned(),
        // The wire cannot send it either; a query of it fails.
        Err(_) => "unknown".to_owned(),
    };
    let data_type = match udt_name.as_str() {
        "bool" => "boolean",
        "int2" => "smallint",
        "int4" => "integer",
        "int8" => "bigint",
        "float4" => "real",
        "float8" => "double precision",
        "varchar" => "character varying",
        "bpchar" => "character",
        "char" => "\"char\"",
        "time" => "time without time zone",
        "timetz" => "time with time zone",
        "timestamp" => "timestamp without time zone",
        "timestamptz" => "timestamp with time zone",
        array if array.starts_with('_') => "ARRAY",
        other => other,
    }
    .to_owned();
    let mut t = PgColumnType {
        data_type,
        udt_name,
        character_octet_length: None,
        numeric_precision: None,
        numeric_precision_radix: None,
        numeric_scale: None,
        datetime_precision: None,
    };
    let binary = |t: &mut PgColumnType, bits: i32, scale: Option<i32>| {
        t.numeric_precision = Some(bits);
        t.numeric_precision_radix = Some(2);
        t.numeric_scale = scale;
    };
    match t.udt_name.as_str() {
        "int2" => binary(&mut t, 16, Some(0)),
        "int4" => binary(&mut t, 32, Some(0)),
        "int8" => binary(&mut t, 64, Some(0)),
        "float4" => binary(&mut t, 24, None),
        "float8" => binary(&mut t, 53, None),
        "numeric" => {
            t.numeric_precision_radix = Some(10);
            if let DataType::Decimal128(p, s) = field.data_type() {
                t.numeric_precision = Some(i32::from(*p));
                t.numeric_scale = Some(i32::from(*s));
            }
        }
        // PostgreSQL's limit on a text value, which it reports here.
        "text" | "varchar" | "bpchar" => t.character_octet_length = Some(1 << 30),
        "date" => t.datetime_precision = Some(0),
        "time" | "timetz" | "timestamp" | "timestamptz" | "interval" => {
            t.datetime_precision = Some(fractional_digits(field.data_type()));
        }
        _ => {}
    }
    t
}

/// Digits after the second that a time value carries; the wire sends at
/// most microseconds.
fn fractional_digits(t: &DataType) -> i32 {
    match t {
        DataType::Timestamp(TimeUnit::Second, _) | DataType::Time32(TimeUnit::Second) => 0,
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Time32(TimeUnit::Millisecond) => {
            3
        }
        _ => 6,
    }
}

/// The rows of one view. Errors only if a view's layout and its rows
/// disagree, which the unit tests rule out.
pub fn build(view: &str, contents: &Contents) -> Result<RecordBatch> {
    let schema = view_schema(view)
        .ok_or_else(|| DataFusionError::Plan(format!("no view information_schema.{view}")))?;
    let mut rows = Rows::new(Arc::clone(&schema));
    let user = contents.user.as_str();
    let user_tables = || {
        contents
            .relations
            .iter()
            .filter(|r| r.schema == SCHEMA && !r.view)
    };
    match view {
        "schemata" => {
            for schema in [NAME, "pg_catalog", SCHEMA] {
                let mut r = rows.row();
                r.text("catalog_name", CATALOG);
                r.text("schema_name", schema);
                r.text("schema_owner", user);
            }
        }
        "tables" => {
            for rel in &contents.relations {
                let mut r = rows.row();
                r.relation("table_", rel);
                r.text("table_type", if rel.view { "VIEW" } else { "BASE TABLE" });
                r.text("is_insertable_into", "NO");
                r.text("is_typed", "NO");
            }
        }
        "views" => {
            for rel in contents.relations.iter().filter(|r| r.view) {
                let mut r = rows.row();
                r.relation("table_", rel);
                r.text("check_option", "NONE");
                for yes_no in [
                    "is_updatable",
                    "is_insertable_into",
                    "is_trigger_updatable",
                    "is_trigger_deletable",
                    "is_trigger_insertable_into",
                ] {
                    r.text(yes_no, "NO");
                }
            }
        }
        "columns" => {
            for rel in &contents.relations {
                for (i, field) in rel.columns.fields().iter().enumerate() {
                    let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                    let t = column_type(field);
                    let mut r = rows.row();
                    r.relation("table_", rel);
                    r.text("column_name", field.name());
                    r.int("ordinal_position", Some(position));
                    r.text(
                        "is_nullable",
                        if field.is_nullable() { "YES" } else { "NO" },
                    );
                    r.text("data_type", &t.data_type);
                    r.int("character_octet_length", t.character_octet_length);
                    r.int("numeric_precision", t.numeric_precision);
                    r.int("numeric_precision_radix", t.numeric_precision_radix);
                    r.int("numeric_scale", t.numeric_scale);
                    r.int("datetime_precision", t.datetime_precision);
                    r.text("udt_catalog", CATALOG);
                    r.text("udt_schema", "pg_catalog");
                    r.text("udt_name", &t.udt_name);
                    r.text("dtd_identifier", &position.to_string());
                    r.text("is_self_referencing", "NO");
                    r.text("is_identity", "NO");
                    r.text("identity_cycle", "NO");
                    r.text("is_generated", "NEVER");
                    r.text("is_updatable", "NO");
                }
            }
        }
        "character_sets" => {
            let mut r = rows.row();
            r.text("character_set_name", "UTF8");
            r.text("character_repertoire", "UCS");
            r.text("form_of_use", "UTF8");
            r.text("default_collate_catalog", CATALOG);
        }
        // Reads are the only privilege there is, on the tables the
        // principal may see.
        "table_privileges" => {
            for rel in user_tables() {
                let mut r = rows.row();
                r.text("grantor", user);
                r.text("grantee", user);
                r.relation("table_", rel);
                r.text("privilege_type", "SELECT");
                r.text("is_grantable", "NO");
                r.text("with_hierarchy", "YES");
            }
        }
        "column_privileges" => {
            for rel in user_tables() {
                for field in rel.columns.fields() {
                    let mut r = rows.row();
                    r.text("grantor", user);
                    r.text("grantee", user);
                    r.relation("table_", rel);
                    r.text("column_name", field.name());
                    r.text("privilege_type", "SELECT");
                    r.text("is_grantable", "NO");
                }
            }
        }
        "enabled_roles" => rows.row().text("role_name", user),
        _ => {}
    }
    rows.finish()
}

/// Column-wise accumulation of a view's rows, set by column name.
struct Rows {
    schema: SchemaRef,
    columns: Vec<Vec<Value>>,
}

#[derive(Clone)]
enum Value {
    Null,
    Text(String),
    Int(i32),
}

impl Rows {
    fn new(schema: SchemaRef) -> Rows {
        let columns = vec![Vec::new(); schema.fields().len()];
        Rows { schema, columns }
    }

    /// Starts a row of NULLs.
    fn row(&mut self) -> Row<'_> {
        for c in &mut self.columns {
            c.push(Value::Null);
        }
        Row(self)
    }

    fn finish(self) -> Result<RecordBatch> {
        let arrays = self
            .schema
            .fields()
            .iter()
            .zip(self.columns)
            .map(|(field, values)| -> Result<ArrayRef> {
                Ok(match field.data_type() {
                    DataType::Utf8 => Arc::new(
                        values
                            .into_iter()
                            .map(|v| match v {
                                Value::Text(s) => Ok(Some(s)),
                                Value::Null => Ok(None),
                                Value::Int(_) => Err(mismatch(field.name())),
                            })
                            .collect::<Result<StringArray>>()?,
                    ),
                    DataType::Int32 => Arc::new(
                        values
                            .into_iter()
                            .map(|v| match v {
                                Value::Int(i) => Ok(Some(i)),
                                Value::Null => Ok(None),
                                Value::Text(_) => Err(mismatch(field.name())),
                            })
                            .collect::<Result<Int32Array>>()?,
                    ),
                    // No row sets the timestamps.
                    other => datafusion::arrow::array::new_null_array(other, values.len()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema, arrays)?)
    }
}

fn mismatch(column: &str) -> DataFusionError {
    DataFusionError::Internal(format!("information_schema: wrong type for {column}"))
}

/// The row being filled.
struct Row<'a>(&'a mut Rows);

impl Row<'_> {
    fn set(&mut self, column: &str, value: Value) {
        // An unknown name is a bug in a view's rows; the unit tests build
        // every view and compare names.
        if let Some((i, _)) = self.0.schema.column_with_name(column) {
            *self.0.columns[i].last_mut().expect("a started row") = value;
        } else {
            debug_assert!(false, "no column {column}");
        }
    }

    fn text(&mut self, column: &str, value: &str) {
        self.set(column, Value::Text(value.to_owned()));
    }

    fn int(&mut self, column: &str, value: Option<i32>) {
        self.set(column, value.map_or(Value::Null, Value::Int));
    }

    /// `{prefix}catalog`, `{prefix}schema`, `{prefix}name`.
    fn relation(&mut self, prefix: &str, rel: &Relation) {
        self.text(&format!("{prefix}catalog"), CATALOG);
        self.text(&format!("{prefix}schema"), &rel.schema);
        self.text(&format!("{prefix}name"), &rel.name);
    }
}

/// The session's information_schema: answers from the session's own
/// tables, and from its pg_catalog for the catalog's relations.
#[derive(Debug)]
pub struct InformationSchema {
    user: String,
    tables: Vec<(String, SchemaRef)>,
    /// Weak: pg_catalog reaches this schema through the catalog list, and
    /// a strong reference back would keep every closed session alive.
    pg_catalog: Weak<dyn SchemaProvider>,
}

impl InformationSchema {
    /// `tables`: each table in the session's catalog and its schema.
    pub fn new(
        user: &str,
        mut tables: Vec<(String, SchemaRef)>,
        pg_catalog: Weak<dyn SchemaProvider>,
    ) -> InformationSchema {
        tables.sort_by(|a, b| a.0.cmp(&b.0));
        InformationSchema {
            user: user.to_owned(),
            tables,
            pg_catalog,
        }
    }

    /// What a view describes. pg_catalog's columns are read only for the
    /// view that lists them.
    async fn contents(&self, view: &str) -> Result<Contents> {
        let mut relations: Vec<Relation> = self
            .tables
            .iter()
            .map(|(name, columns)| Relation {
                schema: SCHEMA.to_owned(),
                name: name.clone(),
                view: false,
                columns: Arc::clone(columns),
            })
            .collect();
        relations.extend(view_names().map(|name| Relation {
            schema: NAME.to_owned(),
            name: name.to_owned(),
            view: true,
            columns: view_schema(name).expect("a view"),
        }));
        if let Some(pg) = self.pg_catalog.upgrade() {
            let mut names = pg.table_names();
            names.sort();
            for name in names {
                let columns = if view == "columns" {
                    match pg.table(&name).await? {
                        Some(t) => t.schema(),
                        None => continue,
                    }
                } else {
                    Arc::new(Schema::empty())
                };
                relations.push(Relation {
                    schema: "pg_catalog".to_owned(),
                    view: PG_CATALOG_VIEWS.contains(&name.as_str()),
                    name,
                    columns,
                });
            }
        }
        Ok(Contents {
            user: self.user.clone(),
            relations,
        })
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        view_names().map(str::to_owned).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let name = name.to_ascii_lowercase();
        let Some((view, _)) = VIEWS.iter().find(|(v, _)| *v == name) else {
            return Ok(None);
        };
        let Some(schema) = view_schema(view) else {
            return Ok(None);
        };
        let source = InformationSchema {
            user: self.user.clone(),
            tables: self.tables.clone(),
            pg_catalog: Weak::clone(&self.pg_catalog),
        };
        Ok(Some(Arc::new(View {
            name: view,
            schema,
            source,
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        view_names().any(|v| v.eq_ignore_ascii_case(name))
    }
}

/// One view; its rows are built when it is scanned, so planning a query of
/// pg_class (which lists these views) builds nothing.
#[derive(Debug)]
struct View {
    name: &'static str,
    schema: SchemaRef,
    source: InformationSchema,
}

#[async_trait]
impl TableProvider for View {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let contents = self.source.contents(self.name).await?;
        let batch = build(self.name, &contents)?;
        MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Registers the session's information_schema in its catalog, next to the
/// pg_catalog it lists.
pub fn register(ctx: &SessionContext, user: &str, tables: Vec<(String, SchemaRef)>) -> Result<()> {
    let catalog = ctx
        .catalog(CATALOG)
        .ok_or_else(|| DataFusionError::Configuration(format!("catalog {CATALOG} not found")))?;
    let pg_catalog = match catalog.schema("pg_catalog") {
        Some(pg) => Arc::downgrade(&pg),
        None => {
            Weak::<datafusion::catalog::MemorySchemaProvider>::new() as Weak<dyn SchemaProvider>
        }
    };
    catalog.register_schema(
        NAME,
        Arc::new(InformationSchema::new(user, tables, pg_catalog)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::catalog::CatalogProvider;

    fn contents() -> Contents {
        let incident = Schema::new(vec![
            Field::new("sys_id", DataType::Utf8View, false),
            Field::new("number", DataType::LargeUtf8, true),
            Field::new("priority", DataType::Int32, true),
            Field::new("reassignment_count", DataType::Int64, true),
            Field::new("active", DataType::Boolean, true),
            Field::new(
                "opened_at",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new(
                "closed_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("score", DataType::Float64, true),
            Field::new("cost", DataType::Decimal128(12, 2), true),
            Field::new("due", DataType::Date32, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
            Field::new("small", DataType::Int16, true),
            Field::new("ratio", DataType::Float32, true),
            Field::new("blob", DataType::Binary, true),
        ]);
        Contents {
            user: "svc_all".into(),
            relations: vec![
                Relation {
                    schema: SCHEMA.into(),
                    name: "incident".into(),
                    view: false,
                    columns: Arc::new(incident),
                },
                Relation {
                    schema: NAME.into(),
                    name: "tables".into(),
                    view: true,
                    columns: view_schema("tables").unwrap(),
                },
            ],
        }
    }

    fn column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let array = batch.column_by_name(name).unwrap();
        (0..array.len())
            .map(|i| {
                datafusion::arrow::util::display::array_value_to_string(array, i)
                    .ok()
                    .filter(|_| !array.is_null(i))
            })
            .collect()
    }

    fn texts(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    }

    #[test]
    fn every_view_builds_with_postgres_column_types() {
        assert_eq!(view_names().count(), VIEWS.len());
        for view in view_names() {
            let batch = build(view, &contents()).unwrap();
            assert_eq!(batch.schema(), view_schema(view).unwrap(), "{view}");
            for f in batch.schema().fields() {
                // PostgreSQL's cardinal_number columns.
                let counts = [
                    "_position",
                    "_unique_constraint",
                    "_length",
                    "_precision",
                    "_radix",
                    "_scale",
                    "maximum_cardinality",
                    "max_dynamic_result_sets",
                ]
                .iter()
                .any(|end| f.name().ends_with(end));
                let want = if counts {
                    DataType::Int32
                } else if f.name() == "created" || f.name() == "last_altered" {
                    f.data_type().clone()
                } else {
                    DataType::Utf8
                };
                assert_eq!(f.data_type(), &want, "{view}.{}", f.name());
            }
        }
        // No constraints anywhere, as pg_constraint has none.
        for view in [
            "table_constraints",
            "key_column_usage",
            "referential_constraints",
            "constraint_column_usage",
            "check_constraints",
            "routines",
            "parameters",
            "domains",
            "sequences",
            "applicable_roles",
        ] {
            assert_eq!(build(view, &contents()).unwrap().num_rows(), 0, "{view}");
        }
    }

    #[test]
    fn columns_use_postgres_type_names() {
        let batch = build("columns", &contents()).unwrap();
        let incident: Vec<usize> = column(&batch, "table_name")
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_deref() == Some("incident"))
            .map(|(i, _)| i)
            .collect();
        let pick = |name: &str| -> Vec<Option<String>> {
            let all = column(&batch, name);
            incident.iter().map(|&i| all[i].clone()).collect()
        };
        assert_eq!(
            pick("data_type"),
            texts(&[
                "text",
                "text",
                "integer",
                "bigint",
                "boolean",
                "timestamp without time zone",
                "timestamp with time zone",
                "double precision",
                "numeric",
                "date",
                "ARRAY",
                "smallint",
                "real",
                "bytea",
            ])
        );
        assert_eq!(
            pick("udt_name"),
            texts(&[
                "text",
                "text",
                "int4",
                "int8",
                "bool",
                "timestamp",
                "timestamptz",
                "float8",
                "numeric",
                "date",
                "_text",
                "int2",
                "float4",
                "bytea",
            ])
        );
        let ints = |name: &str| pick(name);
        assert_eq!(ints("ordinal_position")[..3], texts(&["1", "2", "3"])[..]);
        assert_eq!(pick("is_nullable")[..2], texts(&["NO", "YES"])[..]);
        assert_eq!(ints("numeric_precision")[2], Some("32".into()));
        assert_eq!(ints("numeric_precision")[8], Some("12".into()));
        assert_eq!(ints("numeric_scale")[8], Some("2".into()));
        assert_eq!(ints("numeric_precision_radix")[8], Some("10".into()));
        assert_eq!(ints("datetime_precision")[5], Some("6".into()));
        assert_eq!(ints("numeric_precision")[0], None);
        assert!(
            pick("udt_schema")
                .iter()
                .all(|s| s.as_deref() == Some("pg_catalog"))
        );
        assert!(
            pick("is_updatable")
                .iter()
                .all(|s| s.as_deref() == Some("NO"))
        );
        assert!(
            pick("is_generated")
                .iter()
                .all(|s| s.as_deref() == Some("NEVER"))
        );
        assert!(pick("column_default").iter().all(Option::is_none));
        // The views' own columns are listed too, as in PostgreSQL.
        assert!(column(&batch, "table_schema").contains(&Some(NAME.into())));
    }

    #[test]
    fn tables_privileges_and_roles_follow_the_contents() {
        let c = contents();
        let tables = build("tables", &c).unwrap();
        assert_eq!(
            column(&tables, "table_name"),
            texts(&["incident", "tables"])
        );
        assert_eq!(
            column(&tables, "table_type"),
            texts(&["BASE TABLE", "VIEW"])
        );
        assert_eq!(column(&tables, "table_catalog"), texts(&[CATALOG, CATALOG]));
        assert_eq!(column(&tables, "is_insertable_into"), texts(&["NO", "NO"]));
        let privileges = build("table_privileges", &c).unwrap();
        assert_eq!(column(&privileges, "table_name"), texts(&["incident"]));
        assert_eq!(column(&privileges, "grantee"), texts(&["svc_all"]));
        assert_eq!(column(&privileges, "privilege_type"), texts(&["SELECT"]));
        assert_eq!(build("column_privileges", &c).unwrap().num_rows(), 14);
        let views = build("views", &c).unwrap();
        assert_eq!(column(&views, "table_name"), texts(&["tables"]));
        assert_eq!(
            column(&build("enabled_roles", &c).unwrap(), "role_name"),
            texts(&["svc_all"])
        );
        assert_eq!(
            column(&build("character_sets", &c).unwrap(), "character_set_name"),
            texts(&["UTF8"])
        );
        assert_eq!(
            column(&build("schemata", &c).unwrap(), "schema_name"),
            texts(&[NAME, "pg_catalog", SCHEMA])
        );
    }

    #[tokio::test]
    async fn the_schema_answers_queries_from_its_tables_only() {
        let ctx = SessionContext::new();
        let catalog = datafusion::catalog::MemoryCatalogProvider::new();
        catalog
            .register_schema(
                SCHEMA,
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .unwrap();
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        let incident = Arc::clone(&contents().relations[0].columns);
        register(&ctx, "svc_all", vec![("incident".into(), incident)]).unwrap();
        let batches = ctx
            .sql(
                "SELECT table_name, column_name, data_type FROM sqlgate.information_schema.columns \
                 WHERE table_schema = 'public' AND ordinal_position <= 3 ORDER BY ordinal_position",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(
            text.contains("| incident   | priority    | integer   |"),
            "{text}"
        );
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    }
}
