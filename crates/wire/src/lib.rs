//! The PostgreSQL wire front end: TLS, SCRAM login against stored
//! verifiers, simple and extended query protocol, cancellation, and the
//! streaming of Arrow batches as DataRows. It asks the engine for every
//! decision and evaluates no ACL itself.

use std::sync::Arc;
use std::sync::atomic::AtomicI32;
use std::time::Duration;

use sqlgate_engine::Engine;

pub mod cancel;
mod conn;
mod errors;
mod exec;
mod params;
mod query;
pub mod rows;
pub mod scram;
pub mod server;
mod startup;
pub mod tls;

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
}

impl Default for WireConfig {
    fn default() -> WireConfig {
        WireConfig {
            allow_plaintext: false,
            max_connections: 200,
            statement_timeout: Some(Duration::from_secs(300)),
            startup_timeout: Duration::from_secs(30),
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
}

impl Shared {
    pub fn new(engine: Arc<Engine>, tls: Option<Tls>, config: WireConfig) -> Arc<Shared> {
        use ring::rand::SecureRandom;
        let mut decoy_secret = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut decoy_secret)
            .expect("system random source");
        Arc::new(Shared {
            engine,
            tls,
            config,
            cancels: Arc::default(),
            decoy_secret,
            next_pid: AtomicI32::new(1000),
        })
    }
}
