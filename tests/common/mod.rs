//! Test harness: a real `sqlgate` process on an ephemeral port, over a
//! generated data set and a policy written by the test, reached through real
//! clients (tokio-postgres over TLS, psql).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

pub const BIN: &str = env!("CARGO_BIN_EXE_sqlgate");

/// An access policy admitting the local machine.
pub const LOOPBACK: &str = "[[access_policy]]\nname = \"loopback\"\naction = \"allow\"\ncidrs = [\"127.0.0.0/8\", \"::1/128\"]\n";

/// The demo data set at `scale`, generated once and shared by every test
/// thread and every test process (test binaries run side by side).
pub fn data_set(scale: u64) -> PathBuf {
    // Threads of one test binary share a process id, so they must not share
    // a staging folder: one generates at a time, the others find it done.
    static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // Keyed by the generator's build: a changed layout is never tested on
    // files an older build wrote into a reused target directory.
    let built = std::fs::metadata(BIN)
        .and_then(|m| m.modified())
        .expect("the server binary")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a modification time after 1970")
        .as_secs();
    let tmp_root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let root = tmp_root.join(format!("demo-data-{scale}-{built}"));
    if root.join("tables.toml").exists() {
        return root;
    }
    let _one_at_a_time = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    if root.join("tables.toml").exists() {
        return root;
    }
    let tmp = tmp_root.join(format!("demo-data-{scale}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let generated = Command::new(BIN)
        .args(["demo-data", "--out"])
        .arg(&tmp)
        .args(["--scale", &scale.to_string()])
        .output()
        .expect("run sqlgate demo-data");
    assert!(
        generated.status.success(),
        "demo-data failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    // Another process may have won the race; either copy is identical.
    if std::fs::rename(&tmp, &root).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(root.join("tables.toml").exists());
    // Data sets of earlier builds are of no further use.
    let stale = format!("demo-data-{scale}-");
    for entry in std::fs::read_dir(&tmp_root).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&stale) && entry.path() != root {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    root
}

/// Copies a data set so a test may change it (drop files in).
pub fn private_copy(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            private_copy(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

/// A SCRAM verifier for `password`, made by `sqlgate hash-password`.
pub fn verifier(password: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Options of a test server.
#[derive(Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    pub policy: String,
    pub allow_plaintext: bool,
    pub max_connections: usize,
    pub statement_timeout: &'static str,
    /// More `key = value` lines for the `[server]` table.
    pub server_extra: String,
    /// More `key = value` lines for the `[storage]` table.
    pub storage_extra: String,
    /// More tables (`[limits]`, `[audit]`, `[admin]`), appended verbatim.
    pub extra: String,
}

impl Options {
    pub fn new(data_dir: PathBuf, policy: String) -> Options {
        Options {
            data_dir,
            policy,
            allow_plaintext: false,
            max_connections: 50,
            statement_timeout: "5m",
            server_extra: String::new(),
            storage_extra: String::new(),
            extra: String::new(),
        }
    }
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub cert_pem: String,
    pub policy_path: PathBuf,
    /// The admin listener's address, when the config has `[admin]`.
    pub admin: Option<SocketAddr>,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(opts: Options) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem) = sqlgate_wire::tls::self_signed_pem().unwrap();
        std::fs::write(dir.path().join("server.crt"), &cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &key_pem).unwrap();
        let policy_path = dir.path().join("policy.toml");
        // Nothing allowed means blocked: tests that do not exercise access
        // policies admit loopback.
        let policy = if opts.policy.contains("[[access_policy]]") {
            opts.policy.clone()
        } else {
            format!("{}\n{LOOPBACK}", opts.policy)
        };
        std::fs::write(&policy_path, policy).unwrap();
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"server.crt\"\ntls_key = \"server.key\"\n\
             allow_plaintext = {}\nmax_connections = {}\nstatement_timeout = \"{}\"\n{}\n\
             [storage]\ndata_dir = {:?}\n{}\n[policy]\nfile = \"policy.toml\"\n{}\n",
            opts.allow_plaintext,
            opts.max_connections,
            opts.statement_timeout,
            opts.server_extra,
            opts.data_dir,
            opts.storage_extra,
            opts.extra
        );
        let config_path = dir.path().join("sqlgate.toml");
        std::fs::write(&config_path, config).unwrap();
        Server::spawn(
            Command::new(BIN)
                .args(["serve", "--config"])
                .arg(&config_path),
            dir,
            cert_pem,
            policy_path,
        )
    }

    /// Runs a prepared command line (`serve ...`) and waits for readiness.
    pub fn spawn(
        cmd: &mut Command,
        dir: tempfile::TempDir,
        cert_pem: String,
        policy_path: PathBuf,
    ) -> Server {
        let mut child = cmd
            .env("SQLGATE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sqlgate");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut admin = None;
        let addr = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                panic!(
                    "sqlgate exited before listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
            if let Some(a) = line.trim().strip_prefix("sqlgate admin on ") {
                admin = Some(a.parse().unwrap());
            }
            if let Some(addr) = line.trim().strip_prefix("sqlgate listening on ") {
                break addr.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "sqlgate did not start");
        };
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Server {
            child,
            addr,
            dir,
            cert_pem,
            policy_path,
            admin,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        self.signal("TERM");
        self.wait_exit(within)
    }

    /// Sends a signal (`"TERM"`, `"HUP"`) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// The exit status, once the process has exited within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn tls(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        tls_trusting(&self.cert_pem)
    }

    pub fn conn_string(&self, user: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=sqlgate sslmode=require",
            self.addr.port()
        )
    }

    /// Connects over TLS as `user`.
    pub async fn connect(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) =
            tokio_postgres::connect(&self.conn_string(user, password), self.tls()).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Connects without TLS.
    pub async fn connect_plain(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        let s = format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=sqlgate sslmode=disable",
            self.addr.port()
        );
        let (client, connection) = tokio_postgres::connect(&s, NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Runs psql with `sslmode=verify-full` against our certificate.
    pub fn psql(&self, user: &str, password: &str, args: &[&str]) -> Output {
        let cert = self.dir.path().join("server.crt");
        Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={} dbname=sqlgate user={user} sslmode=verify-full sslrootcert={}",
                self.addr.port(),
                cert.display()
            ))
            .args(["-X", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "20")
            .output()
            .expect("psql is installed (the test command installs postgresql-client)")
    }

    /// The server's resident set size now, and its peak, in KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// The records of an audit log, each line parsed.
pub fn audit_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `sqlgate audit verify FILE`: whether it passed, and what it printed.
pub fn audit_verify(path: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["audit", "verify"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A rustls client config that trusts exactly this certificate.
pub fn tls_trusting(cert_pem: &str) -> tokio_postgres_rustls::MakeRustlsConnect {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// The SQLSTATE of a failed call.
pub fn code(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_owned())
        .unwrap_or_else(|| format!("no db error: {e}"))
}

pub mod policy;

/// Every record batch of a table's Parquet files, read directly (not
/// through sqlgate), for computing expected answers independently.
pub fn read_parquet(
    data_dir: &Path,
    table: &str,
) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir.join(table))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            out.push(as_text(batch.unwrap()));
        }
    }
    out
}

/// `batch` with its dictionary columns (the stored form of reference and
/// choice columns) decoded to their values, as clients see them.
fn as_text(
    batch: datafusion::arrow::record_batch::RecordBatch,
) -> datafusion::arrow::record_batch::RecordBatch {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let (field, column) = match f.data_type() {
            DataType::Dictionary(_, value) => (
                Field::new(f.name(), value.as_ref().clone(), f.is_nullable()),
                datafusion::arrow::compute::cast(c, value).unwrap(),
            ),
            _ => (f.as_ref().clone(), std::sync::Arc::clone(c)),
        };
        fields.push(field);
        columns.push(column);
    }
    datafusion::arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )
    .unwrap()
}

/// The number of rows of a table, from its files.
pub fn row_count(data_dir: &Path, table: &str) -> i64 {
    read_parquet(data_dir, table)
        .iter()
        .map(|b| b.num_rows() as i64)
        .sum()
}

/// One column of a table as strings (NULL as None), from its files.
pub fn column_strings(data_dir: &Path, table: &str, column: &str) -> Vec<Option<String>> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut out = Vec::new();
    for batch in read_parquet(data_dir, table) {
        let array = batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("{table}.{column}"));
        let fmt = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).unwrap();
        for i in 0..array.len() {
            out.push((!array.is_null(i)).then(|| fmt.value(i).to_string()));
        }
    }
    out
}

/// A socket that reads at most `bytes_per_sec`: a genuinely slow client,
/// so the server's send buffer fills and backpressure must hold.
pub struct SlowStream {
    inner: tokio::net::TcpStream,
    bytes_per_sec: usize,
    budget: usize,
    pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    pub read: Arc<std::sync::atomic::AtomicU64>,
}

impl SlowStream {
    pub async fn connect(addr: SocketAddr, bytes_per_sec: usize) -> SlowStream {
        SlowStream {
            inner: tokio::net::TcpStream::connect(addr).await.unwrap(),
            bytes_per_sec,
            budget: bytes_per_sec / 10,
            pause: None,
            read: Arc::default(),
        }
    }
}

impl tokio::io::AsyncRead for SlowStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Some(p) = &mut this.pause {
            if p.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
            this.budget = this.bytes_per_sec / 10;
        }
        if this.budget == 0 {
            this.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let limit = buf.remaining().min(this.budget);
        let mut limited = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(limit));
        let r = std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut limited);
        if let Poll::Ready(Ok(())) = r {
            let n = limited.filled().len();
            buf.advance(n);
            this.budget -= n;
            this.read
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

impl tokio::io::AsyncWrite for SlowStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Server {
    /// Connects over TLS through a socket that reads `bytes_per_sec`.
    pub async fn connect_slow(
        &self,
        user: &str,
        password: &str,
        bytes_per_sec: usize,
    ) -> (Client, Arc<std::sync::atomic::AtomicU64>) {
        use tokio_postgres::tls::MakeTlsConnect;
        let stream = SlowStream::connect(self.addr, bytes_per_sec).await;
        let counter = Arc::clone(&stream.read);
        let config: tokio_postgres::Config = self.conn_string(user, password).parse().unwrap();
        let mut make = self.tls();
        let tls = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<SlowStream>>::make_tls_connect(&mut make, "localhost").unwrap();
        let (client, connection) = config.connect_raw(stream, tls).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        (client, counter)
    }
}
