//! Starting the server from a config: load the tables and the policy (both
//! refused whole when invalid), set up TLS, listen, reload the policy when
//! its file changes or on SIGHUP, stop on SIGTERM / Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlgate_acl::{Policy, Tables};
use sqlgate_audit::{AuditLog, Event, Outcome};
use sqlgate_engine::{Engine, EngineOptions};
use sqlgate_wire::token::{TokenSettings, TokenVerifier};
use sqlgate_wire::{Shared, Tls, WireConfig};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::config::Config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads and validates a policy file against the stored tables.
pub fn load_policy(path: &Path, tables: &Tables) -> Result<Policy, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Policy::from_toml(&text, tables).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect();
        format!("invalid policy:\n{}", lines.join("\n")).into()
    })
}

/// The TLS setup (server certificate, client CA) and the token verifier
/// (JWKS), as configured.
pub fn load_credentials(config: &Config) -> Result<(Tls, Option<Arc<TokenVerifier>>), BoxError> {
    let client_ca = config.server.client_ca.as_deref();
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Tls::from_files(cert, key, client_ca)?,
        _ => Tls::self_signed(client_ca)?,
    };
    let token = match &config.auth.token {
        Some(t) => {
            let settings = TokenSettings {
                issuer: t.issuer.clone(),
                audience: t.audience.clone(),
                leeway_seconds: t.leeway_seconds,
            };
            let verifier = TokenVerifier::load(settings, &t.jwks)
                .map_err(|e| format!("auth.token.jwks: {e}"))?;
            Some(Arc::new(verifier))
        }
        None => None,
    };
    Ok((tls, token))
}

/// Runs the server until a shutdown signal. `banner` is printed once the
/// listener is bound (the demo's connection instructions).
pub async fn run(config: Config, banner: Option<String>) -> Result<(), BoxError> {
    let registry = config.storage.registry().await?;
    let tables = sqlgate_engine::acl_tables(&registry);
    let policy = load_policy(&config.policy.file, &tables)?;
    let options = EngineOptions {
        query_memory_limit: Some(config.server.query_memory_limit).filter(|&n| n > 0),
        ..EngineOptions::default()
    };
    let engine = Engine::new(Arc::new(registry), policy, options)?;

    let (tls, token) = load_credentials(&config)?;
    let nonzero = |d: std::time::Duration| Some(d).filter(|d| !d.is_zero());
    let wire = WireConfig {
        allow_plaintext: config.server.allow_plaintext,
        max_connections: config.server.max_connections,
        statement_timeout: nonzero(config.server.statement_timeout),
        startup_timeout: config.server.startup_timeout,
        idle_timeout: nonzero(config.server.idle_timeout),
        max_statement_length: config.server.max_statement_length,
        shutdown_grace: config.server.shutdown_grace,
        limits: sqlgate_wire::limits::LimitsConfig {
            attempts_per_minute: config.limits.connection_attempts_per_minute,
            lockout_threshold: config.limits.lockout_threshold,
            lockout_duration: config.limits.lockout_duration,
        },
        token,
        token_as_password: config.auth.token.as_ref().is_some_and(|t| t.as_password),
    };
    let audit = match &config.audit {
        Some(a) => Some(
            AuditLog::open(&a.file)
                .await
                .map_err(|e| format!("audit log: {e}"))?,
        ),
        None => None,
    };
    let shared = Shared::new(Arc::clone(&engine), Some(tls), wire, audit.clone());

    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let addr = listener.local_addr()?;
    if let Some(admin) = &config.admin {
        let admin = crate::admin::bind(admin.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (admin): {e}", admin.listen))?;
        // Scripts and tests read this line to find the admin port.
        println!("sqlgate admin on {}", admin.local_addr()?);
        tokio::spawn(crate::admin::serve(admin, Arc::clone(&shared.metrics)));
    }
    shared.audit(Event::ServerStart {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    });
    info!(%addr, tables = engine.tables().iter().count(), "sqlgate ready");
    // Scripts and tests wait for this exact line.
    println!("sqlgate listening on {addr}");
    if let Some(banner) = banner {
        println!("{banner}");
    }

    tokio::spawn(watch_policy(
        Arc::clone(&engine),
        config.policy.file.clone(),
        Arc::clone(&shared),
    ));
    sqlgate_wire::serve(listener, Arc::clone(&shared), shutdown_signal()).await;
    info!("shutting down");
    shared.audit(Event::ServerStop {
        reason: "shutdown signal".to_owned(),
    });
    if let Some(audit) = audit {
        // Every record written before exit: an audit trail that loses its
        // tail on a clean shutdown would look like tampering.
        audit
            .shutdown()
            .await
            .map_err(|e| format!("audit log: {e}"))?;
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Reloads the policy when its file changes (checked every second) or on
/// SIGHUP. A file that does not validate is logged and ignored: the policy
/// in force stays.
async fn watch_policy(engine: Arc<Engine>, path: PathBuf, shared: Arc<Shared>) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut last: Option<SystemTime> = modified(&path);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        #[cfg(unix)]
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        #[cfg(not(unix))]
        let forced = {
            tick.tick().await;
            false
        };
        let now = modified(&path);
        if !forced && now == last {
            continue;
        }
        last = now;
        match load_policy(&path, engine.tables()) {
            Ok(policy) => {
                engine.replace_policy(policy);
                info!(file = %path.display(), "policy reloaded");
                shared.audit(Event::PolicyReload {
                    outcome: Outcome::Success,
                    detail: path.display().to_string(),
                });
            }
            Err(e) => {
                error!(file = %path.display(), error = %e, "policy reload refused; the previous policy stays in force");
                shared.audit(Event::PolicyReload {
                    outcome: Outcome::Failure,
                    detail: e.to_string(),
                });
            }
        }
        if now.is_none() {
            warn!(file = %path.display(), "policy file is missing; the previous policy stays in force");
        }
    }
}
