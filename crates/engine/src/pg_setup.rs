//! pg_catalog for a session, over static tables shared by every session.
//!
//! `datafusion_pg_catalog::setup_pg_catalog` decodes its embedded copies of
//! PostgreSQL's static catalog tables (pg_proc, pg_type, pg_cast, …) on
//! every call: about 5 MB per session, which made 200 idle sessions cost a
//! gigabyte. The tables never change, so they are decoded once per process
//! and shared; everything else here is what `setup_pg_catalog` registers,
//! in the same order.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{SchemaProvider, TableProvider, view::ViewTable};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col, lit};

use crate::pg_static::TypeNames;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::PgCatalogContextProvider;
use datafusion_pg_catalog::pg_catalog::generate_series_arg_coercion::CoerceIntArgsToBigInt;
use datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner;
use datafusion_pg_catalog::pg_catalog::{
    self as pg, PgCatalogSchemaProvider, PgCatalogStaticTables, array_bounds_udf, format_type,
    has_privilege_udf, pg_get_expr_udf, quote_ident_udf,
};

type Statics = (Arc<PgCatalogStaticTables>, Arc<TypeNames>);

static STATIC_TABLES: OnceLock<std::result::Result<Statics, String>> = OnceLock::new();

fn static_tables() -> Result<Statics> {
    STATIC_TABLES
        .get_or_init(|| {
            PgCatalogStaticTables::try_new()
                .and_then(crate::pg_static::corrected)
                .map(|(tables, names)| (Arc::new(tables), Arc::new(names)))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(DataFusionError::Internal)
}

/// pg_catalog with the columns the library leaves out and clients select:
/// `pg_class.relacl` and `reloptions` (SQLAlchemy's index reflection). No
/// relation here has an ACL list or storage options, so both are NULL.
#[derive(Debug)]
struct CompletedPgCatalog(Arc<dyn SchemaProvider>);

#[async_trait::async_trait]
impl SchemaProvider for CompletedPgCatalog {
    fn table_names(&self) -> Vec<String> {
        self.0.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(table) = self.0.table(name).await? else {
            return Ok(None);
        };
        if !name.eq_ignore_ascii_case("pg_class") {
            return Ok(Some(table));
        }
        let text_array = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        let null_list = ScalarValue::try_from(&text_array)?;
        let mut columns: Vec<Expr> = table
            .schema()
            .fields()
            .iter()
            .map(|f| col(Column::new(Some("pg_class"), f.name())))
            .collect();
        for missing in ["relacl", "reloptions"] {
            if table.schema().field_with_name(missing).is_err() {
                columns.push(lit(null_list.clone()).alias(missing));
            }
        }
        let plan = LogicalPlanBuilder::scan("pg_class", provider_as_source(table), None)?
            .project(columns)?
            .build()?;
        Ok(Some(Arc::new(ViewTable::new(plan, None))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.0.table_exist(name)
    }
}

/// Registers the `pg_catalog` schema in `catalog_name` and the catalog
/// functions clients call.
pub fn setup_pg_catalog<P>(ctx: &SessionContext, catalog_name: &str, provider: P) -> Result<()>
where
    P: PgCatalogContextProvider,
{
    let (tables, type_names) = static_tables()?;
    let schema = Arc::new(CompletedPgCatalog(Arc::new(
        PgCatalogSchemaProvider::try_new(
            ctx.state().catalog_list().clone(),
            Arc::clone(&tables),
            provider,
        )?,
    )));
    ctx.catalog(catalog_name)
        .ok_or_else(|| DataFusionError::Configuration(format!("catalog {catalog_name} not found")))?
        .register_schema("pg_catalog", schema)?;

    ctx.register_udf(pg::create_current_database_udf(catalog_name));
    ctx.register_udf(pg::create_current_schema_udf());
    ctx.register_udf(pg::create_current_schemas_udf());
    ctx.register_udf(pg::create_pg_get_userbyid_udf());
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_any_column_privilege",
    ] {
        ctx.register_udf(has_privilege_udf::create_has_privilege_udf(name));
    }
    ctx.register_udf(pg::create_pg_table_is_visible());
    ctx.register_udf(format_type::create_format_type_udf());
    ctx.register_udf(pg::create_session_user_udf());
    ctx.register_udtf("pg_get_keywords", tables.pg_get_keywords.clone());
    ctx.register_udf(pg_get_expr_udf::create_pg_get_expr_udf());
    ctx.register_udf(pg::create_pg_get_partkeydef_udf());
    ctx.register_udf(pg::create_pg_relation_is_publishable_udf());
    ctx.register_udf(pg::create_pg_get_statisticsobjdef_columns_udf());
    ctx.register_udf(pg::create_pg_encoding_to_char_udf());
    ctx.register_udf(pg::create_pg_backend_pid_udf());
    ctx.register_udf(pg::create_pg_relation_size_udf());
    ctx.register_udf(pg::create_pg_total_relation_size_udf());
    ctx.register_udf(pg::create_pg_stat_get_numscans());
    ctx.register_udf(pg::create_pg_get_constraintdef());
    ctx.register_udf(pg::create_pg_get_partition_ancestors_udf());
    ctx.register_udf(quote_ident_udf::create_quote_ident_udf());
    ctx.register_udf(quote_ident_udf::create_parse_ident_udf());
    ctx.register_udf(array_bounds_udf::create_array_upper_udf());
    ctx.register_udf(array_bounds_udf::create_array_lower_udf());
    ctx.register_udf(crate::pg_static::to_regtype(type_names));
    ctx.register_udf(crate::pg_static::pg_expandarray());

    // regclass, regproc, … parse as type names.
    let state = ctx.state_ref();
    let existing = state.read().clone();
    *state.write() = SessionStateBuilder::new_from_existing(existing)
        .with_type_planner(Arc::new(PgOidTypePlanner))
        .build();
    CoerceIntArgsToBigInt::widen(ctx);
    ctx.state_ref()
        .write()
        .register_function_rewrite(Arc::new(crate::pg_literals::BooleanLiterals))?;
    Ok(())
}
