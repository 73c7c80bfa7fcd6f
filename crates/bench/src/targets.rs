//! The servers under test, started as child processes: sqlgate on the demo
//! data set, a throwaway PostgreSQL 15 cluster loaded with the same rows,
//! and, when installed, datafusion-postgres on the same Parquet files.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use crate::Error;

/// Which server a target is: each logs the accounts in differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Sqlgate,
    Postgres,
    DatafusionPostgres,
}

/// A server a workload runs against.
pub struct Target {
    pub server: Server,
    pub name: String,
    pub conn: String,
    pub tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// For the raw protocol client.
    pub addr: SocketAddr,
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    pub database: String,
    _process: Process,
}

impl Target {
    /// A server on a loopback port without TLS, started as `process`,
    /// once it accepts connections.
    fn local(
        server: Server,
        name: &str,
        port: u16,
        database: &str,
        process: Process,
    ) -> Result<Target, Error> {
        listening(port, name)?;
        Ok(Target {
            server,
            name: name.into(),
            conn: format!("host=127.0.0.1 port={port} dbname={database}"),
            tls: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_config: None,
            database: database.into(),
            _process: process,
        })
    }

    /// The server's peak resident set size so far, in MiB (Linux).
    pub fn peak_rss_mib(&self) -> Option<u64> {
        status_mib(&self.status_path(), "VmHWM:")
    }

    /// The server's resident set size now, in MiB (Linux).
    pub fn rss_mib(&self) -> Option<u64> {
        rss_mib_of(&self.status_path())
    }

    /// The server process's /proc status file.
    pub fn status_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/status", self._process.child.id()))
    }

    /// Connects as `user` (no password: PostgreSQL's trust login), waiting
    /// up to 30 s for a server that accepts connections but not yet logins
    /// ("the database system is starting up").
    pub async fn connect_as(&self, user: &str) -> Result<Client, Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.connect_with(&format!("user={user}")).await {
                Ok(client) => return Ok(client),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Connects with `extra` (`key=value` pairs) appended to the target's
    /// connection string.
    pub async fn connect_with(&self, extra: &str) -> Result<Client, Error> {
        let conn = format!("{} {extra}", self.conn);
        let client = match &self.tls {
            Some(tls) => {
                let (c, conn) = tokio_postgres::connect(&conn, tls.clone())
                    .await
                    .map_err(described)?;
                tokio::spawn(conn);
                c
            }
            None => {
                let (c, conn) = tokio_postgres::connect(&conn, NoTls)
                    .await
                    .map_err(described)?;
                tokio::spawn(conn);
                c
            }
        };
        Ok(client)
    }
}

/// tokio-postgres says only "db error" for an error the server sent; its
/// message is what a reader needs.
pub fn described(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()).into(),
        None => e.into(),
    }
}

/// A child process, stopped when dropped.
pub struct Process {
    child: Child,
    /// PostgreSQL's data directory: the postmaster runs under `runuser`,
    /// which does not pass a kill on, so it is asked to stop by its own
    /// pid (SIGINT: fast shutdown).
    postgres_data: Option<PathBuf>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let postmaster = self
            .postgres_data
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("postmaster.pid")).ok())
            .and_then(|t| t.lines().next().map(str::to_owned));
        match postmaster {
            Some(pid) => {
                let _ = Command::new("kill").args(["-INT", &pid]).status();
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// Waits up to a minute for a server to accept TCP connections on `port`.
fn listening(port: u16, server: &str) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{server} did not start").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs a command to completion, failing with its output.
pub fn run(cmd: &mut Command, what: &str) -> Result<String, Error> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Prepares the demo data set, policy and certificate in `dir` by starting
/// `sqlgate serve --demo` once: it generates the data set unless `dir`
/// already holds one of this scale in the generator's current layout.
pub fn prepare_demo(sqlgate: &Path, dir: &Path, scale: u64) -> Result<(), Error> {
    eprintln!(
        "preparing the demo data set (scale {scale}) in {}",
        dir.display()
    );
    let mut child = Command::new(sqlgate)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--scale"])
        .arg(scale.to_string())
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("start {}: {e}", sqlgate.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("sqlgate listening on "));
    let _ = child.kill();
    let _ = child.wait();
    if !ready {
        return Err("sqlgate serve --demo did not start".into());
    }
    Ok(())
}

/// Starts sqlgate on the prepared demo directory with the demo policy minus
/// its rate limits (the benchmark runs more queries than the demo allows).
pub fn start_sqlgate(sqlgate: &Path, demo: &Path, work: &Path) -> Result<Target, Error> {
    let policy_text = std::fs::read_to_string(demo.join("policy.toml"))?;
    let mut policy: toml::Table = policy_text.parse()?;
    policy.remove("rate_limit");
    std::fs::write(work.join("policy.toml"), toml::to_string(&policy)?)?;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n\
         allow_plaintext = true\nmax_connections = 200\n[storage]\ndata_dir = {:?}\n[policy]\nfile = \"policy.toml\"\n",
        demo.join("server.crt"),
        demo.join("server.key"),
        demo.join("data"),
    );
    let config_path = work.join("sqlgate.toml");
    std::fs::write(&config_path, config)?;
    let mut child = Command::new(sqlgate)
        .args(["serve", "--log", "warn", "--config"])
        .arg(&config_path)
        .current_dir(work)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("start {}: {e}", sqlgate.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr: SocketAddr = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.strip_prefix("sqlgate listening on ") {
                    break a.trim().parse()?;
                }
            }
            _ => return Err("sqlgate exited before listening".into()),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let cert = std::fs::read_to_string(demo.join("server.crt"))?;
    let tls_config = trusting(&cert)?;
    Ok(Target {
        server: Server::Sqlgate,
        name: "sqlgate".into(),
        conn: format!(
            "host=127.0.0.1 port={} dbname=sqlgate sslmode=require",
            addr.port()
        ),
        tls: Some(tokio_postgres_rustls::MakeRustlsConnect::new(
            tls_config.as_ref().clone(),
        )),
        addr,
        tls_config: Some(tls_config),
        database: "sqlgate".into(),
        _process: Process {
            child,
            postgres_data: None,
        },
    })
}

fn trusting(cert_pem: &str) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The datafusion-postgres command line server (`cargo install --locked
/// datafusion-postgres-cli`): `explicit`, or the one on PATH, or none.
pub fn datafusion_postgres_bin(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    let out = Command::new("sh")
        .args(["-c", "command -v datafusion-postgres-cli"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Starts datafusion-postgres on the demo's Parquet files of the tables
/// the workload reads. It has no access control and no login: any user
/// name is let in without a password, over plain TCP.
pub fn start_datafusion_postgres(bin: &Path, data: &Path) -> Result<Target, Error> {
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    for table in ["incident", "sys_user"] {
        // A trailing slash makes the path a directory of files.
        cmd.arg("--parquet")
            .arg(format!("{table}:{}/", data.join(table).display()));
    }
    let child = cmd
        .args(["--host", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let process = Process {
        child,
        postgres_data: None,
    };
    Target::local(
        Server::DatafusionPostgres,
        "datafusion-postgres",
        port,
        "datafusion",
        process,
    )
}

/// The directory holding PostgreSQL's server programs.
pub fn pg_bin(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("initdb").exists() {
        return Ok(debian);
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        && out.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(dir) = path.parent() {
            return Ok(dir.to_owned());
        }
    }
    Err(
        "PostgreSQL 15's server programs were not found: install postgresql-15 (bench/run does)"
            .into(),
    )
}

/// Starts a fresh PostgreSQL cluster in `dir` on a free loopback port.
/// PostgreSQL refuses to run as root: then the cluster belongs to the
/// `postgres` account, and the programs run as it.
pub fn start_postgres(bin: &Path, dir: &Path) -> Result<Target, Error> {
    let data = dir.join("pgdata");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(dir)?;
    let as_root = run(Command::new("id").arg("-u"), "id -u")?.trim() == "0";
    let wrap = |program: &str| -> Command {
        if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        }
    };
    if as_root {
        run(
            Command::new("chown").args(["-R", "postgres"]).arg(dir),
            "chown the cluster directory",
        )?;
    }
    run(
        wrap("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&data),
        "initdb",
    )?;
    let port = free_port()?;
    let child = wrap("postgres")
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "shared_buffers=1GB", "-c", "work_mem=64MB"])
        .args(["-c", "max_connections=200", "-c", "fsync=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let process = Process {
        child,
        postgres_data: Some(data),
    };
    Target::local(Server::Postgres, "PostgreSQL 15", port, "postgres", process)
}

/// The resident set size in a /proc status file, in MiB.
pub fn rss_mib_of(status: &Path) -> Option<u64> {
    status_mib(status, "VmRSS:")
}

fn status_mib(status: &Path, field: &str) -> Option<u64> {
    let kib: u64 = std::fs::read_to_string(status)
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024)
}
