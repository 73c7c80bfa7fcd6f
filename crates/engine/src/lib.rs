//! The query engine: the statement gate, one DataFusion session per
//! principal whose catalog holds only the tables it may query, and the
//! secure scan that puts the ACL row filter and field masks below a barrier
//! no user expression can cross. Knows nothing of sockets.

use std::sync::Arc;

use arc_swap::ArcSwap;
use sqlgate_acl::{Policy, TableMeta, Tables};
use sqlgate_records::Registry;

pub mod barrier;
pub mod catalog;
mod compat;
pub mod error;
pub mod explain;
pub mod facts;
pub mod gate;
pub mod info_schema;
pub mod naming;
mod pg_format;
pub mod pg_functions;
mod pg_literals;
mod pg_setup;
mod pg_static;
pub mod pruning;
pub mod query_acl;
pub mod row_masks;
pub mod secure_table;
pub mod session;
pub mod sort_pushdown;
pub mod string_set;
pub mod vars;

pub use error::{EngineError, sqlstate};
pub use gate::Command;
pub use session::Session;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Parallelism of one query (partitions).
    pub target_partitions: usize,
    /// Rows per Arrow batch.
    pub batch_size: usize,
    /// What `server_version` reports, e.g. `15.0 (sqlgate 0.1.0)`.
    pub server_version: String,
    /// Memory one query may use (each session runs one query at a time, so
    /// this is the session's pool); `None` = unlimited. Beyond it, sorts and
    /// aggregates spill to disk or the query fails with 53200.
    pub query_memory_limit: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            target_partitions: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 8192,
            server_version: format!("15.0 (sqlgate {})", env!("CARGO_PKG_VERSION")),
            query_memory_limit: Some(512 << 20),
        }
    }
}

/// The server-wide engine: stored tables, the policy in force, the shared
/// runtime. Sessions are opened from it.
pub struct Engine {
    pub(crate) registry: Arc<Registry>,
    pub(crate) tables: Tables,
    policy: ArcSwap<Policy>,
    pub(crate) runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    pub(crate) options: EngineOptions,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// What the ACL model needs to know about the stored tables.
pub fn acl_tables(registry: &Registry) -> Tables {
    Tables::new(registry.tables().map(|t| TableMeta {
        name: t.name.clone(),
        parent: t.parent.clone(),
        web_service_access: t.web_service_access,
        schema: Arc::clone(&t.schema),
    }))
}

impl Engine {
    pub fn new(
        registry: Arc<Registry>,
        policy: Policy,
        options: EngineOptions,
    ) -> Result<Arc<Engine>, EngineError> {
        Ok(Arc::new(Engine {
            tables: acl_tables(&registry),
            registry,
            policy: ArcSwap::from_pointee(policy),
            runtime: session::runtime()?,
            options,
        }))
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Puts a new (already validated) policy in force; every session picks
    /// it up before its next statement.
    pub fn replace_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Opens a session for an account that has already authenticated and
    /// passed the connect check.
    pub fn open_session(self: &Arc<Self>, user_name: &str) -> Result<Session, EngineError> {
        let policy = self.policy();
        let principal = policy.principal(user_name).ok_or_else(|| {
            EngineError::new("28000", "the account may no longer use the SQL API")
        })?;
        Session::open(Arc::clone(self), policy, principal)
    }
}
