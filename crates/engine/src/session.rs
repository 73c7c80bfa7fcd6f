//! One DataFusion `SessionContext` per connection, built for one principal.
//!
//! The context's only catalog holds the tables that passed the principal's
//! table gate, each as a [`SecureTable`]: a table the principal may not query
//! is absent, so planning fails exactly as for a missing table and
//! `information_schema` lists only what the principal may see. Contexts
//! share the server's `RuntimeEnv` (memory pool, caches) and nothing else:
//! settings, plans and prepared statements never cross sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::common::config::Dialect;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use sqlgate_acl::{Policy, Principal};

use crate::Engine;
use crate::error::{EngineError, sqlstate};
use crate::vars::SessionVars;

/// The catalog (database) name the tables live in.
pub const CATALOG: &str = "sqlgate";
/// The schema holding the tables.
pub const SCHEMA: &str = "public";

/// A principal's view of the server.
pub struct Session {
    engine: Arc<Engine>,
    policy: Arc<Policy>,
    principal: Principal,
    ctx: SessionContext,
    /// Bumped whenever the catalog is rebuilt under a new policy, so plans
    /// made earlier (prepared statements) are planned again.
    generation: u64,
    /// Shared with the session's `current_setting`/`set_config` functions.
    vars: Arc<Mutex<SessionVars>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.principal.user_name)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn open(
        engine: Arc<Engine>,
        policy: Arc<Policy>,
        principal: Principal,
    ) -> Result<Session, EngineError> {
        let vars = Arc::new(Mutex::new(SessionVars::new(&engine.options.server_version)));
        let ctx = build_context(&engine, &policy, &principal, &vars)?;
        Ok(Session {
            engine,
            policy,
            principal,
            ctx,
            generation: 0,
            vars,
        })
    }

    /// The stored table a 42P01 error is about, when the table exists but
    /// the principal may not see it (for the audit log; the client gets the
    /// same answer as for a missing table).
    pub fn hidden_table(&self, e: &EngineError) -> Option<String> {
        if e.code != crate::sqlstate::UNDEFINED_TABLE {
            return None;
        }
        let name = e.message.split('"').nth(1)?;
        (self.engine.registry.get(name).is_some() && !self.table_names().iter().any(|t| t == name))
            .then(|| name.to_owned())
    }

    /// Queries per hour the principal may run under the policy in force.
    pub fn query_rate(&self) -> Option<u64> {
        self.policy.query_rate(&self.principal)
    }

    /// The session's parameters (SET / SHOW).
    pub fn vars(&self) -> MutexGuard<'_, SessionVars> {
        self.vars.lock().expect("session vars")
    }

    /// Changes whenever the session's catalog is rebuilt.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The names of the tables in this session's catalog.
    pub fn table_names(&self) -> Vec<String> {
        self.ctx
            .catalog(CATALOG)
            .and_then(|c| c.schema(SCHEMA))
            .map(|s| {
                let mut names = s.table_names();
                names.sort();
                names
            })
            .unwrap_or_default()
    }

    /// Brings the session under the policy in force: called before every
    /// statement, so a revoked table disappears at the next statement. An
    /// account that was removed or may no longer connect ends the session.
    pub fn refresh(&mut self) -> Result<(), EngineError> {
        let current = self.engine.policy();
        if Arc::ptr_eq(&current, &self.policy) {
            return Ok(());
        }
        let revoked = || EngineError::new("28000", "the account may no longer use the SQL API");
        let account = current
            .account(&self.principal.user_name)
            .ok_or_else(revoked)?;
        let principal = current.principal(&account.user_name).ok_or_else(revoked)?;
        current
            .connect_check(account, &principal)
            .map_err(|_| revoked())?;
        self.ctx = build_context(&self.engine, &current, &principal, &self.vars)?;
        self.principal = principal;
        self.policy = current;
        self.generation += 1;
        Ok(())
    }

    /// Plans a statement that passed the gate. The plan is checked once more
    /// against DataFusion's own read-only options, as a second line behind
    /// the gate.
    pub async fn plan(&self, statement: &DFStatement) -> Result<LogicalPlan, EngineError> {
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement.clone()).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|_| {
                EngineError::new(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "this statement is not permitted: the SQL API accepts read-only queries",
                )
            })?;
        if !self.principal.privileged() {
            // On the plan as written: the optimizer rewrites uses into
            // others (`x LIKE 'abc'` becomes `x = 'abc'`).
            crate::query_acl::check(&plan, &self.policy, &self.engine.tables, &self.principal)?;
        }
        // Type coercion settles the result types (`CASE WHEN … THEN int4
        // ELSE 0 END` is int8): the row description must announce the
        // types the rows will have.
        let plan = state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})?;
        Ok(plan)
    }

    /// Starts executing a plan; batches arrive as the client reads them.
    pub async fn execute(
        &self,
        plan: LogicalPlan,
    ) -> Result<SendableRecordBatchStream, EngineError> {
        let df = self.ctx.execute_logical_plan(plan).await?;
        Ok(df.execute_stream().await?)
    }

    /// Renders EXPLAIN [ANALYZE] of a planned query. The ACL filters and
    /// masks below each secure scan are shown to admins only.
    pub async fn explain(
        &self,
        plan: LogicalPlan,
        analyze: bool,
    ) -> Result<RecordBatch, EngineError> {
        crate::explain::explain(&self.ctx, plan, analyze, self.principal.is_admin()).await
    }

    /// Applies session parameters that DataFusion itself must know.
    pub fn apply_vars(&mut self) {
        let tz = self.vars().time_zone();
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().execution.time_zone = Some(tz);
    }
}

fn build_context(
    engine: &Engine,
    policy: &Policy,
    principal: &Principal,
    vars: &Arc<Mutex<SessionVars>>,
) -> Result<SessionContext, EngineError> {
    let time_zone = vars.lock().expect("session vars").time_zone();
    let mut config = SessionConfig::new()
        // DataFusion's own information_schema would shadow the session's
        // PostgreSQL-shaped one (see `info_schema`).
        .with_information_schema(false)
        .with_default_catalog_and_schema(CATALOG, SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_target_partitions(engine.options.target_partitions)
        .with_batch_size(engine.options.batch_size);
    let options = config.options_mut();
    options.sql_parser.dialect = Dialect::PostgreSQL;
    options.execution.time_zone = Some(time_zone);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(session_runtime(
            &engine.runtime,
            engine.options.query_memory_limit,
        ))
        .with_default_features()
        .with_physical_optimizer_rules(crate::sort_pushdown::optimizer_rules())
        .build();
    let ctx = SessionContext::new_with_state(state);

    let schema = MemorySchemaProvider::new();
    let mut visible = HashMap::new();
    let mut described = Vec::new();
    for name in policy.visible_tables(&engine.tables, principal) {
        let Some(table) = crate::catalog::secure_table(
            &engine.registry,
            &engine.tables,
            policy,
            principal,
            &name,
        ) else {
            continue;
        };
        let columns = table
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        visible.insert(name.clone(), columns);
        described.push((name.clone(), table.schema()));
        schema
            .register_table(name, Arc::new(table))
            .map_err(EngineError::from)?;
    }
    let catalog = MemoryCatalogProvider::new();
    catalog
        .register_schema(SCHEMA, Arc::new(schema))
        .map_err(EngineError::from)?;
    ctx.register_catalog(CATALOG, Arc::new(catalog));
    crate::pg_functions::install(
        &ctx,
        &principal.user_name,
        Arc::new(visible),
        Arc::clone(vars),
        &engine.options.server_version,
    )?;
    crate::info_schema::register(&ctx, &principal.user_name, described)?;
    ctx.register_udf(crate::pg_format::udf());
    Ok(ctx)
}

/// Builds the shared runtime: one disk manager and one set of caches for
/// every session. The list-files cache is off so that Parquet files dropped
/// into a table's folder are seen by the very next query.
pub fn runtime() -> Result<Arc<RuntimeEnv>, EngineError> {
    use datafusion::execution::cache::cache_manager::CacheManagerConfig;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let cache = CacheManagerConfig {
        list_files_cache_limit: 0,
        ..Default::default()
    };
    Ok(RuntimeEnvBuilder::new()
        .with_cache_manager(cache)
        .build_arc()?)
}

/// A session's runtime: the shared caches and disk manager, with its own
/// memory pool so one session's query cannot take another's memory.
fn session_runtime(shared: &RuntimeEnv, limit: Option<usize>) -> Arc<RuntimeEnv> {
    use datafusion::execution::memory_pool::{
        FairSpillPool, MemoryPool, TrackConsumersPool, UnboundedMemoryPool,
    };
    let memory_pool: Arc<dyn MemoryPool> = match limit {
        Some(limit) => Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            std::num::NonZeroUsize::new(3).expect("nonzero"),
        )),
        None => Arc::new(UnboundedMemoryPool::default()),
    };
    Arc::new(RuntimeEnv {
        memory_pool,
        disk_manager: Arc::clone(&shared.disk_manager),
        cache_manager: Arc::clone(&shared.cache_manager),
        object_store_registry: Arc::clone(&shared.object_store_registry),
    })
}
