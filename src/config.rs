//! `sqlgate.toml`: what an operator configures. Relative paths are taken
//! from the directory of the config file, so a config works wherever the
//! server is started from. Unknown keys are errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    pub storage: Storage,
    pub policy: PolicyFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain; absent = a self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default)]
    pub allow_plaintext: bool,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `"5m"`, `"30s"`, `"0"` for no limit.
    #[serde(default = "default_statement_timeout", with = "humantime_serde_compat")]
    pub statement_timeout: Duration,
    #[serde(default = "default_startup_timeout", with = "humantime_serde_compat")]
    pub startup_timeout: Duration,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            allow_plaintext: false,
            max_connections: default_max_connections(),
            statement_timeout: default_statement_timeout(),
            startup_timeout: default_startup_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub file: PathBuf,
}

pub fn default_listen() -> SocketAddr {
    "127.0.0.1:5433".parse().expect("valid address")
}

fn default_max_connections() -> usize {
    200
}

fn default_statement_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_startup_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Durations written the human way (`"5m"`, `"250ms"`), or `"0"`.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim() == "0" {
            return Ok(Duration::ZERO);
        }
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
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
        if let Some(p) = &mut self.server.tls_cert {
            fix(p);
        }
        if let Some(p) = &mut self.server.tls_key {
            fix(p);
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_gets_safe_defaults_and_resolved_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlgate.toml");
        std::fs::write(
            &path,
            "[storage]\ndata_dir = \"data\"\n[policy]\nfile = \"policy.toml\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert!(!c.server.allow_plaintext);
        assert_eq!(c.server.statement_timeout, Duration::from_secs(300));
        assert_eq!(c.server.listen, default_listen());
        assert_eq!(c.storage.data_dir, dir.path().join("data"));
    }

    #[test]
    fn unknown_keys_and_half_tls_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlgate.toml");
        std::fs::write(&path, "[server]\nallow_plaintxt = true\n[storage]\ndata_dir = \"d\"\n[policy]\nfile = \"p\"\n").unwrap();
        assert!(matches!(Config::load(&path), Err(ConfigError::Parse(..))));
        std::fs::write(
            &path,
            "[server]\ntls_cert = \"c\"\n[storage]\ndata_dir = \"d\"\n[policy]\nfile = \"p\"\n",
        )
        .unwrap();
        assert!(matches!(Config::load(&path), Err(ConfigError::Invalid(_))));
    }
}
