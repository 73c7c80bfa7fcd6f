//! The PostgreSQL wire front end: TLS, login (SCRAM against stored
//! verifiers, client certificates, bearer tokens), simple and extended
//! query protocol, cancellation, and the streaming of Arrow batches as
//! DataRows. It asks the engine for every decision and evaluates no ACL
//! itself.

use std::sync::Arc;
use std::sync::atomic::AtomicI32;
use std::time::Duration;

use sqlgate_engine::Engine;

pub mod cancel;
pub mod cert;
mod conn;
pub mod encode;
mod errors;
mod exec;
pub mod frame;
pub mod limits;
pub mod metrics;
mod observe;
mod params;
mod query;
pub mod rows;
pub mod sasl;
pub mod scram;
pub mod server;
mod sink;
mod startup;
pub mod tls;
pub mod token;

pub use server::serve;
pub use tls::Tls;

/// Settings of the wire front end.
#[derive(Debug, Clone)]
pub struct WireConfig {
    /// Accept sessions without TLS (refused with 28000 otherwise).
    pub allow_plaintext: bool,
    /// Sessions served at once; more are refused with 53300.
    pub max_connections: usize,
    /// Default `statement_timeout` of new sessions; `None` = no limit.
    pub statement_timeout: Option<Duration>,
    /// Time a client has to finish TLS and authentication.
    pub startup_timeout: Duration,
    /// A session idle this long is closed (57P05); `None` = never.
    pub idle_timeout: Option<Duration>,
    /// Longest statement text accepted, in bytes (54000 beyond).
    pub max_statement_length: usize,
    /// Time running queries get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Connection-attempt rate, lockout.
    pub limits: limits::LimitsConfig,
    /// Bearer-token login (OAUTHBEARER), when `[auth.token]` is configured.
    pub token: Option<Arc<token::TokenVerifier>>,
    /// Over TLS, ask for the password in clear (PostgreSQL's `password`
    /// method) instead of SCRAM, so that a bearer token can be sent as the
    /// password by clients that know no OAUTHBEARER.
    pub token_as_password: bool,
}

impl Default for WireConfig {
    fn default() -> WireConfig {
        WireConfig {
            allow_plaintext: false,
            max_connections: 200,
            statement_timeout: Some(Duration::from_secs(300)),
            startup_timeout: Duration::from_secs(30),
            idle_timeout: None,
            max_statement_length: 1 << 20,
            shutdown_grace: Duration::from_secs(30),
            limits: limits::LimitsConfig::default(),
            token: None,
            token_as_password: false,
        }
    }
}

/// State shared by every connection.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub tls: Option<Tls>,
    pub config: WireConfig,
    pub(crate) cancels: Arc<cancel::CancelRegistry>,
    /// Derives decoy SCRAM verifiers for unknown accounts; random per start.
    pub(crate) decoy_secret: [u8; 32],
    pub(crate) next_pid: AtomicI32,
    pub(crate) limits: limits::Limits,
    pub metrics: std::sync::Arc<metrics::Metrics>,
    audit: Option<sqlgate_audit::AuditLog>,
    /// Flips to true when the server stops: idle sessions end, running
    /// queries finish.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    pub fn new(
        engine: Arc<Engine>,
        tls: Option<Tls>,
        config: WireConfig,
        audit: Option<sqlgate_audit::AuditLog>,
    ) -> Arc<Shared> {
        use ring::rand::SecureRandom;
        let mut decoy_secret = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut decoy_secret)
            .expect("system random source");
        let (stop, stopping) = tokio::sync::watch::channel(false);
        Arc::new(Shared {
            engine,
            tls,
            limits: limits::Limits::new(config.limits.clone()),
            metrics: Arc::default(),
            audit,
            config,
            cancels: Arc::default(),
            decoy_secret,
            next_pid: AtomicI32::new(1000),
            stopping,
            stop,
        })
    }

    /// Writes an audit record, when the audit log is on.
    pub fn audit(&self, event: sqlgate_audit::Event) {
        if let Some(log) = &self.audit {
            log.record(event);
        }
    }

    /// Tells every connection the server is stopping.
    pub fn begin_shutdown(&self) {
        let _ = self.stop.send(true);
    }
}
