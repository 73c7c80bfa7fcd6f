//! `sqlgate.toml`: what an operator configures. Relative paths are taken
//! from the directory of the config file, so a config works wherever the
//! server is started from. Unknown keys are errors: a misspelt setting must
//! not silently fall back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    pub storage: Storage,
    pub policy: PolicyFile,
    #[serde(default)]
    pub limits: Limits,
    pub audit: Option<Audit>,
    pub admin: Option<Admin>,
    #[serde(default)]
    pub auth: Auth,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    /// PEM certificate chain; absent = a self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates; present = client-certificate login.
    pub client_ca: Option<PathBuf>,
    pub allow_plaintext: bool,
    pub max_connections: usize,
    /// Default for new sessions: `"5m"`, `"30s"`, `"0"` = none.
    #[serde(deserialize_with = "duration")]
    pub statement_timeout: Duration,
    /// Time to finish TLS and login.
    #[serde(deserialize_with = "duration")]
    pub startup_timeout: Duration,
    /// Sessions idle this long are closed; `"0"` = never.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Longest statement text, in bytes.
    pub max_statement_length: usize,
    /// Memory one query may use (`"512MiB"`, bytes, `"0"` = unlimited);
    /// beyond it, sorts and aggregates spill or the query fails with 53200.
    #[serde(deserialize_with = "bytes")]
    pub query_memory_limit: usize,
    /// Time running statements get after SIGTERM.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            allow_plaintext: false,
            max_connections: 200,
            statement_timeout: Duration::from_secs(300),
            startup_timeout: Duration::from_secs(30),
            idle_timeout: Duration::ZERO,
            max_statement_length: 1 << 20,
            query_memory_limit: 512 << 20,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Throttles against brute force and floods.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connection attempts per client address per minute (53400 beyond).
    pub connection_attempts_per_minute: u32,
    /// Failed logins before an account name is locked.
    pub lockout_threshold: u32,
    /// How long a locked account stays locked.
    #[serde(deserialize_with = "duration")]
    pub lockout_duration: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connection_attempts_per_minute: 600,
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub data_dir: PathBuf,
    /// Memory for row conditions' kept answers, one bit per record per
    /// file and condition (64 MiB by default); 0 tests every condition on
    /// every query.
    #[serde(default = "default_row_mask_cache_mb")]
    pub row_mask_cache_mb: u64,
}

fn default_row_mask_cache_mb() -> u64 {
    sqlgate_records::row_masks::DEFAULT_CAPACITY_MB
}

impl Storage {
    pub fn new(data_dir: PathBuf) -> Storage {
        Storage {
            data_dir,
            row_mask_cache_mb: default_row_mask_cache_mb(),
        }
    }

    /// The registry of `data_dir`, with this configuration's caches.
    pub async fn registry(
        &self,
    ) -> Result<sqlgate_records::Registry, sqlgate_records::RecordsError> {
        sqlgate_records::Registry::load_with(&self.data_dir, self.row_mask_cache_mb).await
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    pub file: PathBuf,
}

/// Login methods beyond SCRAM passwords and client certificates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub token: Option<TokenAuth>,
}

/// `[auth.token]`: bearer-token (JWT) login over OAUTHBEARER.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAuth {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry (one of, when it is a list).
    pub audience: String,
    /// The issuer's signing keys (RS256 / ES256), a JWKS file read at start.
    pub jwks: PathBuf,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Ask TLS clients for their password in clear instead of SCRAM, so a
    /// token can be sent as the password (clients without OAUTHBEARER:
    /// pgjdbc, Npgsql, psqlODBC). Passwords are then checked against the
    /// same stored verifiers, but channel binding is gone.
    #[serde(default)]
    pub as_password: bool,
}

fn default_leeway() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// `GET /metrics` and `GET /healthz`; keep it on loopback.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
}

pub fn default_listen() -> SocketAddr {
    "127.0.0.1:5433".parse().expect("valid address")
}

fn default_admin_listen() -> SocketAddr {
    "127.0.0.1:9187".parse().expect("valid address")
}

/// Durations written the human way (`"5m"`, `"250ms"`), or `"0"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(&s).map_err(serde::de::Error::custom)
}

/// Sizes as bytes or with a unit: `"512MiB"`, `"2GiB"`, `"64kB"`, `"0"`.
fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(usize),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(s) => parse_size(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a size such as \"512MiB\""))
        }),
    }
}

pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Why a config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Read(PathBuf, std::io::Error),
    #[error("{path}: {message}", path = .0.display(), message = .1)]
    Parse(PathBuf, String),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a config file, resolving its relative paths against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(path.to_owned(), e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve(base);
        config.check()?;
        Ok(config)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.storage.data_dir);
        fix(&mut self.policy.file);
        for p in [
            &mut self.server.tls_cert,
            &mut self.server.tls_key,
            &mut self.server.client_ca,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        if let Some(a) = &mut self.audit {
            fix(&mut a.file);
        }
        if let Some(t) = &mut self.auth.token {
            fix(&mut t.jwks);
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "server.tls_cert and server.tls_key go together: set both or neither".into(),
            ));
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "server.max_connections must be at least 1".into(),
            ));
        }
        if let Some(t) = &self.auth.token
            && (t.issuer.is_empty() || t.audience.is_empty())
        {
            return Err(ConfigError::Invalid(
                "auth.token.issuer and auth.token.audience must not be empty".into(),
            ));
        }
        if self.limits.lockout_threshold == 0 || self.limits.connection_attempts_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "limits.lockout_threshold and limits.connection_attempts_per_minute must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<(tempfile::TempDir, Config), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlgate.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).map(|c| (dir, c))
    }

    const MIN: &str = "[storage]\ndata_dir = \"data\"\n[policy]\nfile = \"policy.toml\"\n";

    #[test]
    fn minimal_config_gets_safe_defaults_and_resolved_paths() {
        let (dir, c) = load(MIN).unwrap();
        assert!(!c.server.allow_plaintext);
        assert_eq!(c.server.statement_timeout, Duration::from_secs(300));
        assert_eq!(c.server.listen, default_listen());
        assert_eq!(c.storage.data_dir, dir.path().join("data"));
        assert_eq!(c.limits.lockout_threshold, 5);
        assert!(c.audit.is_none() && c.admin.is_none());
        assert!(c.server.client_ca.is_none() && c.auth.token.is_none());
    }

    #[test]
    fn token_auth_and_client_ca_resolve_their_files() {
        let (dir, c) = load(&format!(
            "[server]\nclient_ca = \"ca.pem\"\n[auth.token]\nissuer = \"https://id.example\"\naudience = \"sqlgate\"\njwks = \"jwks.json\"\n{MIN}"
        ))
        .unwrap();
        assert_eq!(c.server.client_ca, Some(dir.path().join("ca.pem")));
        let t = c.auth.token.unwrap();
        assert_eq!(t.jwks, dir.path().join("jwks.json"));
        assert_eq!(t.leeway_seconds, 60);
        assert!(matches!(
            load(&format!(
                "[auth.token]\nissuer = \"\"\naudience = \"a\"\njwks = \"j\"\n{MIN}"
            )),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            load(&format!(
                "[auth.token]\nissuer = \"i\"\naudience = \"a\"\njwks = \"j\"\nleway_seconds = 5\n{MIN}"
            )),
            Err(ConfigError::Parse(..))
        ));
    }

    #[test]
    fn sizes_and_durations_read_the_human_way() {
        let (_, c) = load(&format!(
            "[server]\nquery_memory_limit = \"256MiB\"\nidle_timeout = \"10m\"\n[limits]\nlockout_duration = \"30s\"\n{MIN}"
        ))
        .unwrap();
        assert_eq!(c.server.query_memory_limit, 256 << 20);
        assert_eq!(c.server.idle_timeout, Duration::from_secs(600));
        assert_eq!(c.limits.lockout_duration, Duration::from_secs(30));
        assert!(load(&format!("[server]\nquery_memory_limit = \"lots\"\n{MIN}")).is_err());
    }

    #[test]
    fn unknown_keys_and_half_tls_are_refused() {
        assert!(matches!(
            load(&format!("[server]\nallow_plaintxt = true\n{MIN}")),
            Err(ConfigError::Parse(..))
        ));
        assert!(matches!(
            load(&format!("[server]\ntls_cert = \"c\"\n{MIN}")),
            Err(ConfigError::Invalid(_))
        ));
    }
}
