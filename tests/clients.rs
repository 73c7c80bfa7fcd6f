//! The clients people point at sqlgate, end to end over verified TLS with
//! SCRAM: psql's meta-commands, pgjdbc, psqlODBC, psycopg 3, node-postgres,
//! SQLAlchemy, and replays of what DBeaver, Metabase, Power BI, Tableau and
//! Grafana send when they connect and describe a table
//! (`tests/clients/replays/`).
//!
//! Every client runs as `svc_all`, which may read the business tables but
//! not `sn_hr_core_case` (and `sys_user_grmember` has web service access
//! off): neither may show up in any metadata call. The privileged HR
//! account `svc_bi` must see `sn_hr_core_case` through the same calls, so
//! an empty answer cannot pass for an invisible one.
//!
//! The programs under `tests/clients/` print one `key<TAB>value` line per
//! fact; a step that fails prints `error<TAB>step<TAB>sqlstate<TAB>message`
//! and the program goes on, so one run reports every failure. Tools are set
//! up once and cached under the target directory (a virtual environment
//! from `requirements.txt`, `npm ci` from the lock file, the compiled Java
//! class); a missing tool fails the test and names the package that
//! provides it (`scripts/test-all` installs them all).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Display};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use common::policy::{account, password, standard};
use common::{Options, Server, column_strings, data_set, read_parquet, row_count};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage};

const SCALE: u64 = 2_000;
/// The account every client runs as.
const USER: &str = "svc_all";
/// Privileged, and holds the HR role: sees `sn_hr_core_case` too.
const PRIV: &str = "svc_bi";
/// What `USER` may read, exactly.
const PERMITTED: [&str; 8] = [
    "change_request",
    "cmdb_ci",
    "incident",
    "kb_knowledge",
    "problem",
    "sys_user",
    "sys_user_group",
    "task",
];
/// Not granted to `USER`; granted to `PRIV`.
const FORBIDDEN: &str = "sn_hr_core_case";
/// Granted, but its web service access flag is off: nobody sees it.
const HIDDEN: &str = "sys_user_grmember";
/// How long one client program may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(240);

fn policy() -> String {
    standard()
        + &account(
            PRIV,
            "0000000000000000000000000000a010",
            &[
                "sn_odbc_rest_access",
                "reader",
                "hr_reader",
                "sn_sql_api_privileged_mode",
            ],
            "web_service_access_only = true",
        )
}

fn server() -> Server {
    Server::start(Options::new(data_set(SCALE), policy()))
}

fn cert(s: &Server) -> PathBuf {
    s.dir.path().join("server.crt")
}

fn repo(path: &str) -> PathBuf {
    // Read at run time: a test binary reused from a clone elsewhere still
    // finds this clone's files.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    root.join(path)
}

fn permitted() -> BTreeSet<String> {
    PERMITTED.iter().map(|t| t.to_string()).collect()
}

fn permitted_and_forbidden() -> BTreeSet<String> {
    let mut all = permitted();
    all.insert(FORBIDDEN.to_owned());
    all
}

fn list(s: &str) -> BTreeSet<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

// --- what the answers must be, from the Parquet files ----------------------

/// One column of `incident` as the clients should describe it.
struct Col {
    name: String,
    /// psql's `\d` type, e.g. `timestamp without time zone`.
    pg: &'static str,
    /// `pg_type.typname`, e.g. `timestamp` (pgjdbc's and psqlODBC's TYPE_NAME).
    typname: &'static str,
    /// SQLAlchemy's type class name.
    sqlalchemy: &'static str,
}

fn incident_columns() -> Vec<Col> {
    use datafusion::arrow::datatypes::DataType;
    let batches = read_parquet(&data_set(SCALE), "incident");
    let schema = batches[0].schema();
    schema
        .fields()
        .iter()
        .map(|f| {
            let (pg, typname, sqlalchemy) = match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    ("text", "text", "TEXT")
                }
                DataType::Int16 => ("smallint", "int2", "SMALLINT"),
                DataType::Int32 => ("integer", "int4", "INTEGER"),
                DataType::Int64 => ("bigint", "int8", "BIGINT"),
                DataType::Boolean => ("boolean", "bool", "BOOLEAN"),
                DataType::Float32 => ("real", "float4", "REAL"),
                DataType::Float64 => ("double precision", "float8", "DOUBLE_PRECISION"),
                DataType::Date32 => ("date", "date", "DATE"),
                DataType::Timestamp(_, None) => {
                    ("timestamp without time zone", "timestamp", "TIMESTAMP")
                }
                DataType::Timestamp(_, Some(_)) => {
                    ("timestamp with time zone", "timestamptz", "TIMESTAMP")
                }
                other => panic!("incident.{}: no expectation for {other}", f.name()),
            };
            Col {
                name: f.name().clone(),
                pg,
                typname,
                sqlalchemy,
            }
        })
        .collect()
}

fn parse_ts(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().replace('T', " ");
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f").ok()
}

fn same_bool(got: &str, want: bool) -> bool {
    matches!(
        (got.to_ascii_lowercase().as_str(), want),
        ("true" | "t" | "1", true) | ("false" | "f" | "0", false)
    )
}

/// Answers computed from the Parquet files, independently of sqlgate.
struct Expected {
    incidents: i64,
    /// A sample incident with every field filled.
    number: String,
    priority: i64,
    active: bool,
    opened_at: NaiveDateTime,
    business_duration: i64,
    /// The median `opened_at`, as `yyyy-mm-dd hh:mm:ss`.
    opened_before: String,
    numbers: Vec<String>,
    priorities: Vec<Option<i64>>,
    actives: Vec<bool>,
    opened: Vec<Option<NaiveDateTime>>,
}

impl Expected {
    fn matching(&self, priority: i64, active: bool, before: &str) -> Vec<String> {
        let before = parse_ts(before).unwrap();
        let mut out: Vec<String> = (0..self.numbers.len())
            .filter(|&i| {
                self.priorities[i] == Some(priority)
                    && self.actives[i] == active
                    && self.opened[i].is_some_and(|o| o < before)
            })
            .map(|i| self.numbers[i].clone())
            .collect();
        out.sort();
        out
    }

    /// Incidents of `priority`, `active`, opened before `before`.
    fn count(&self, priority: i64, active: bool, before: &str) -> String {
        let n = self.matching(priority, active, before).len();
        assert!(
            n > 0,
            "the data set has no incident with priority {priority}, active {active}"
        );
        n.to_string()
    }

    fn count_priority(&self, priority: i64) -> usize {
        self.priorities
            .iter()
            .filter(|p| **p == Some(priority))
            .count()
    }
}

const Y2030: &str = "2030-01-01 00:00:00";

fn expected() -> Expected {
    let data = data_set(SCALE);
    let col = |c: &str| column_strings(&data, "incident", c);
    let (number, priority, active, opened, duration) = (
        col("number"),
        col("priority"),
        col("active"),
        col("opened_at"),
        col("business_duration"),
    );
    let opened: Vec<Option<NaiveDateTime>> = opened
        .iter()
        .map(|o| o.as_deref().and_then(parse_ts))
        .collect();
    let priorities: Vec<Option<i64>> = priority
        .iter()
        .map(|p| p.as_deref().map(|p| p.parse().unwrap()))
        .collect();
    let actives: Vec<bool> = active
        .iter()
        .map(|a| a.as_deref() == Some("true"))
        .collect();
    let sample = (0..number.len())
        .find(|&i| {
            number[i].is_some()
                && priorities[i].is_some()
                && opened[i].is_some()
                && duration[i].is_some()
        })
        .expect("an incident with every sampled field");
    let mut sorted: Vec<NaiveDateTime> = opened.iter().flatten().copied().collect();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    Expected {
        incidents: row_count(&data, "incident"),
        number: number[sample].clone().unwrap(),
        priority: priorities[sample].unwrap(),
        active: actives[sample],
        opened_at: opened[sample].unwrap(),
        business_duration: duration[sample].as_deref().unwrap().parse().unwrap(),
        opened_before: median.format("%Y-%m-%d %H:%M:%S").to_string(),
        numbers: number.into_iter().map(|n| n.unwrap()).collect(),
        priorities,
        actives,
        opened,
    }
}

// --- tools, set up once and cached -----------------------------------------

fn cache_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clients");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// A stable digest of some inputs (FNV-1a), naming a cache entry.
fn digest(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Runs `f` holding an exclusive lock shared by every test process.
fn locked<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let file = std::fs::File::create(cache_root().join(format!("{name}.lock"))).unwrap();
    file.lock().expect("lock the client tool cache");
    let out = f();
    drop(file);
    out
}

/// Runs a setup command; a failure names what to install.
fn setup(cmd: &mut Command, what: &str, package: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run {cmd:?} ({e}); install {package} (scripts/test-all does)")
    });
    assert!(
        out.status.success(),
        "{what} failed ({}); install {package} (scripts/test-all does)\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The virtual environment's interpreter, with `requirements.txt` installed.
fn python() -> PathBuf {
    let requirements = repo("tests/clients/python/requirements.txt");
    let version = setup(
        Command::new("python3").args(["-c", "import sys, venv, ensurepip; print(sys.version)"]),
        "python3 with venv",
        "python3 and python3-venv",
    );
    let key = digest(&[&std::fs::read(&requirements).unwrap(), version.as_bytes()]);
    let dir = cache_root().join(format!("venv-{key}"));
    let py = dir.join("bin").join("python");
    locked("venv", || {
        if dir.join("ready").exists() {
            return;
        }
        let _ = std::fs::remove_dir_all(&dir);
        setup(
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
            "python3 -m venv",
            "python3-venv",
        );
        setup(
            Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "-r",
                ])
                .arg(&requirements),
            "pip install -r tests/clients/python/requirements.txt",
            "network access to PyPI (and unixodbc for pyodbc)",
        );
        std::fs::write(dir.join("ready"), "").unwrap();
    });
    py
}

/// `node_modules` from `npm ci` of the committed lock file.
fn node_modules() -> PathBuf {
    let dir = repo("tests/clients/node");
    let manifest = std::fs::read(dir.join("package.json")).unwrap();
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap();
    setup(Command::new("node").arg("--version"), "node", "nodejs");
    let cache = cache_root().join(format!("node-{}", digest(&[&manifest, &lock])));
    locked("node", || {
        if cache.join("ready").exists() {
            return;
        }
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("package.json"), &manifest).unwrap();
        std::fs::write(cache.join("package-lock.json"), &lock).unwrap();
        setup(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                .current_dir(&cache),
            "npm ci (tests/clients/node)",
            "npm and network access to the npm registry",
        );
        std::fs::write(cache.join("ready"), "").unwrap();
    });
    cache.join("node_modules")
}

/// pgjdbc as Debian ships it.
fn pgjdbc_jar() -> PathBuf {
    let jar = PathBuf::from("/usr/share/java/postgresql.jar");
    assert!(
        jar.exists(),
        "{} is missing: install libpostgresql-jdbc-java (scripts/test-all does)",
        jar.display()
    );
    jar
}

/// The Java client, compiled against pgjdbc.
fn jdbc_classes() -> PathBuf {
    let src = repo("tests/clients/jdbc/JdbcClient.java");
    let jar = pgjdbc_jar();
    let jar_real = std::fs::canonicalize(&jar).unwrap();
    let key = digest(&[
        &std::fs::read(&src).unwrap(),
        jar_real.to_string_lossy().as_bytes(),
    ]);
    let dir = cache_root().join(format!("jdbc-{key}"));
    locked("jdbc", || {
        if dir.join("ready").exists() {
            return;
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        setup(
            Command::new("javac")
                .arg("-d")
                .arg(&dir)
                .arg("-cp")
                .arg(&jar)
                .arg(&src),
            "javac JdbcClient.java",
            "default-jdk-headless",
        );
        std::fs::write(dir.join("ready"), "").unwrap();
    });
    dir
}

/// psqlODBC's Unicode driver library.
fn psqlodbc_driver() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("odbc").join("psqlodbcw.so"))
        .find(|p| p.exists())
        .expect("psqlodbcw.so not found under /usr/lib/*/odbc/: install odbc-postgresql and unixodbc (scripts/test-all does)")
}

// --- running a client and checking what it printed --------------------------

struct Report {
    client: String,
    lines: Vec<(String, String)>,
    stderr: String,
    status: String,
}

impl Report {
    fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Runs a client program to its end (or kills it at the time limit).
fn run_client(client: &str, cmd: &mut Command) -> Report {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{client}: cannot start {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.to_string();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break format!("killed after {CLIENT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap();
    let lines = stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Report {
        client: client.to_owned(),
        lines,
        stderr: err.join().unwrap(),
        status,
    }
}

/// Collects every mismatch, then fails once with all of them.
struct Checks {
    client: String,
    failures: Vec<String>,
}

impl Checks {
    fn new(client: &str) -> Checks {
        Checks {
            client: client.to_owned(),
            failures: Vec::new(),
        }
    }

    fn that(&mut self, ok: bool, what: impl Display) {
        if !ok {
            self.failures.push(what.to_string());
        }
    }

    fn eq<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.failures
                .push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }

    /// A value the client must have printed.
    fn key<'a>(&mut self, r: &'a Report, key: &str) -> Option<&'a str> {
        let v = r.get(key);
        if v.is_none() {
            self.failures
                .push(format!("no `{key}` (its step failed or never ran)"));
        }
        v
    }

    /// No listed value may name a table the account must not see.
    fn invisible(&mut self, what: &str, value: &str) {
        for t in [FORBIDDEN, HIDDEN] {
            self.that(
                !value.contains(t),
                format!("{what} shows the table `{t}` the account may not see: {value}"),
            );
        }
    }

    fn tables(&mut self, what: &str, got: Option<&str>, want: &BTreeSet<String>) {
        if let Some(got) = got {
            self.eq(what, &list(got), want);
        }
    }

    /// Adds the client's own failed steps, then fails if anything failed.
    fn finish(mut self, report: Option<&Report>) {
        let mut context = String::new();
        if let Some(r) = report {
            let steps: Vec<String> = r
                .all("error")
                .into_iter()
                .map(|e| {
                    let mut parts = e.splitn(3, '\t');
                    let step = parts.next().unwrap_or("");
                    let state = parts.next().unwrap_or("");
                    let message = parts.next().unwrap_or("");
                    format!("step `{step}` failed: [{state}] {message}")
                })
                .collect();
            self.failures.splice(0..0, steps);
            if r.get("done").is_none() {
                self.failures
                    .push(format!("the client did not run to its end ({})", r.status));
            }
            let tail: Vec<&str> = r.stderr.lines().rev().take(30).collect();
            context = format!(
                "\n--- {} exit: {}\n--- last stderr lines:\n{}",
                r.client,
                r.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if !self.failures.is_empty() {
            panic!(
                "{}: {} failure(s):\n  - {}{context}",
                self.client,
                self.failures.len(),
                self.failures.join("\n  - ")
            );
        }
    }
}

// --- psql ---------------------------------------------------------------------

fn psql_major() -> u32 {
    let out = Command::new("psql")
        .arg("--version")
        .output()
        .expect("psql is installed (postgresql-client; scripts/test-all installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.split('.').next()?.parse().ok())
        .unwrap_or_else(|| panic!("psql --version: {text}"))
}

/// psql reading a script (meta-commands and queries mixed, as people type them).
fn psql_script(s: &Server, user: &str, script: &str) -> (bool, String, String) {
    let file = s.dir.path().join(format!(
        "script-{user}-{}.sql",
        digest(&[script.as_bytes()])
    ));
    std::fs::write(&file, script).unwrap();
    let out = s.psql(user, &password(user), &["-f", file.to_str().unwrap()]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The cells of psql's aligned table rows.
fn psql_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.contains('|') && !l.contains("-+-"))
        .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

#[test]
fn psql_meta_commands() {
    let s = server();
    let want = expected();
    let cols = incident_columns();
    let mut c = Checks::new("psql");

    // \l: the database list, with psql 15's column titles.
    let (ok, out, err) = psql_script(&s, USER, "\\l\n");
    c.that(ok, format!("\\l failed: {err}"));
    let header = out.lines().find(|l| l.contains("Name")).unwrap_or("");
    for title in [
        "Name",
        "Owner",
        "Encoding",
        "Collate",
        "Ctype",
        "Access privileges",
    ] {
        c.that(
            header.contains(title),
            format!("\\l: no column titled {title:?} in {header:?}"),
        );
    }
    let dbs = psql_rows(&out);
    c.that(
        dbs.iter()
            .any(|r| r[0] == "sqlgate" && r.get(2).is_some_and(|e| e == "UTF8")),
        format!("\\l: no row for database sqlgate with encoding UTF8:\n{out}"),
    );

    // \dn: schema public, and psql's filter keeps pg_* out.
    let (ok, out, err) = psql_script(&s, USER, "\\dn\n");
    c.that(ok, format!("\\dn failed: {err}"));
    let schemas: BTreeSet<String> = psql_rows(&out)
        .into_iter()
        .map(|r| r[0].clone())
        .filter(|n| n != "Name")
        .collect();
    c.eq("\\dn schemas", schemas, ["public".to_owned()].into());

    // \dt: exactly the permitted tables; the privileged HR account sees one more.
    for (user, want_tables) in [(USER, permitted()), (PRIV, permitted_and_forbidden())] {
        let (ok, out, err) = psql_script(&s, user, "\\dt\n");
        c.that(ok, format!("\\dt as {user} failed: {err}"));
        let tables: BTreeSet<String> = psql_rows(&out)
            .into_iter()
            .filter(|r| r[0] == "public")
            .map(|r| r[1].clone())
            .collect();
        c.eq(&format!("\\dt as {user}"), tables, want_tables);
        for r in psql_rows(&out).iter().filter(|r| r[0] == "public") {
            c.eq(
                &format!("\\dt as {user}: type of {}", r[1]),
                r[2].as_str(),
                "table",
            );
        }
    }
    let (_, out, err) = psql_script(&s, USER, "\\dt sn_hr*\n\\d sn_hr_core_case\n");
    c.that(
        err.contains("Did not find any relation named \"sn_hr*\"") && !out.contains(FORBIDDEN),
        format!("\\dt sn_hr* must find nothing: {out}{err}"),
    );
    c.that(
        err.contains("Did not find any relation named \"sn_hr_core_case\""),
        format!("\\d sn_hr_core_case must find nothing: {out}{err}"),
    );

    // \d incident: every column with its type, in order.
    let (ok, out, err) = psql_script(&s, USER, "\\d incident\n");
    c.that(ok, format!("\\d incident failed: {err}"));
    c.that(
        out.contains("Table \"public.incident\""),
        format!("\\d incident: no title Table \"public.incident\":\n{out}"),
    );
    let described: Vec<(String, String)> = psql_rows(&out)
        .into_iter()
        .filter(|r| r.len() >= 2 && r[0] != "Column")
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let want_cols: Vec<(String, String)> = cols
        .iter()
        .map(|c| (c.name.clone(), c.pg.to_owned()))
        .collect();
    c.eq("\\d incident columns", described, want_cols);

    // \x: expanded output.
    let (ok, out, err) = psql_script(
        &s,
        USER,
        &format!(
            "\\x on\nSELECT number, priority FROM incident WHERE number = '{}';\n",
            want.number
        ),
    );
    c.that(ok, format!("\\x failed: {err}"));
    c.that(
        out.contains("Expanded display is on.") && out.contains("-[ RECORD 1 ]"),
        format!("\\x: not expanded:\n{out}"),
    );
    let record = psql_rows(&out);
    c.that(
        record.contains(&vec!["number".to_owned(), want.number.clone()])
            && record.contains(&vec!["priority".to_owned(), want.priority.to_string()]),
        format!("\\x: record lines for {}:\n{out}", want.number),
    );

    // A parameterised statement: \gdesc prepares it (Parse with $1 untyped,
    // Describe); psql 16 and later also bind and execute it with \bind.
    let (ok, out, err) = psql_script(
        &s,
        USER,
        "SELECT number, priority, opened_at FROM incident WHERE priority = $1 AND number = $2 \\gdesc\n",
    );
    c.that(ok, format!("\\gdesc failed: {err}"));
    let desc: Vec<Vec<String>> = psql_rows(&out)
        .into_iter()
        .filter(|r| r[0] != "Column")
        .collect();
    c.eq(
        "\\gdesc of a parameterised query",
        desc,
        vec![
            vec!["number".into(), "text".into()],
            vec!["priority".into(), "integer".into()],
            vec!["opened_at".into(), "timestamp without time zone".into()],
        ],
    );
    if psql_major() >= 16 {
        let (ok, out, err) = psql_script(
            &s,
            USER,
            &format!(
                "SELECT number, priority FROM incident WHERE priority = $1 AND number = $2 \\bind {} {} \\g\n",
                want.priority, want.number
            ),
        );
        c.that(ok, format!("\\bind failed: {err}"));
        c.that(
            psql_rows(&out).contains(&vec![want.number.clone(), want.priority.to_string()]),
            format!("\\bind: row {}:\n{out}", want.number),
        );
    } else {
        eprintln!(
            "psql {} has no \\bind (psql 16+); \\gdesc covers Parse/Describe",
            psql_major()
        );
    }
    c.finish(None);
}

// --- pgjdbc -------------------------------------------------------------------

#[test]
fn pgjdbc_metadata_typed_parameters_and_streaming() {
    let classes = jdbc_classes();
    let s = server();
    let want = expected();
    let cols = incident_columns();
    let r = run_client(
        "pgjdbc",
        Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{}", pgjdbc_jar().display(), classes.display()))
            .arg("JdbcClient")
            .arg(s.addr.port().to_string())
            .arg(cert(&s))
            .args([USER, &password(USER), PRIV, &password(PRIV)])
            .args([&want.number, &want.opened_before]),
    );
    let mut c = Checks::new("pgjdbc");
    if let Some(v) = c.key(&r, "schemas") {
        c.that(
            list(v).contains("public"),
            format!("getSchemas: no public in {v}"),
        );
        c.invisible("getSchemas", v);
    }
    let typed: BTreeSet<String> = PERMITTED
        .iter()
        .map(|t| format!("public.{t}:TABLE"))
        .collect();
    let tables = c.key(&r, "tables");
    c.tables("getTables(public, TABLE/VIEW)", tables, &typed);
    if let Some(all) = c.key(&r, "tables-all") {
        c.invisible("getTables(all types)", all);
        let public: BTreeSet<String> = list(all)
            .into_iter()
            .filter(|t| t.starts_with("public."))
            .collect();
        c.eq("getTables(all types) in public", public, typed.clone());
    }
    c.eq(
        "getTables(sn_hr_core_case)",
        r.get("tables-forbidden"),
        Some(""),
    );
    if let Some(v) = c.key(&r, "columns") {
        let got: Vec<String> = list_ordered(v);
        let want_cols: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, col)| format!("{}:{}:{}", col.name, col.typname, i + 1))
            .collect();
        let got_short: Vec<String> = got
            .iter()
            .map(|g| {
                let p: Vec<&str> = g.split(':').collect();
                format!(
                    "{}:{}:{}",
                    p[0],
                    p.get(1).unwrap_or(&""),
                    p.last().unwrap_or(&"")
                )
            })
            .collect();
        c.eq(
            "getColumns(incident) name:type:position",
            got_short,
            want_cols,
        );
    }
    c.eq(
        "getColumns(sn_hr_core_case)",
        r.get("columns-forbidden"),
        Some("0"),
    );
    c.key(&r, "primary-keys");
    if let Some(v) = c.key(&r, "type-info") {
        c.that(
            v.parse::<i64>().unwrap_or(0) > 0,
            "getTypeInfo returned no types",
        );
    }
    if let Some(v) = c.key(&r, "prepared-counts") {
        // priority 3, not active, opened before the median.
        let want_counts = vec![want.count(3, false, &want.opened_before); 7].join(",");
        c.eq(
            "PreparedStatement(int, string, boolean, timestamp) counts, 7 runs",
            v.to_owned(),
            want_counts,
        );
    }
    let rows = r.all("row");
    c.eq("typed row runs", rows.len(), 6);
    for row in rows {
        let p: Vec<&str> = row.split('|').collect();
        c.that(
            p.len() == 5
                && p[0] == want.number
                && p[1] == want.priority.to_string()
                && same_bool(p[2], want.active)
                && parse_ts(p[3]) == Some(want.opened_at)
                && p[4] == want.business_duration.to_string(),
            format!(
                "typed getters: got {row}, want {}|{}|{}|{}|{}",
                want.number, want.priority, want.active, want.opened_at, want.business_duration
            ),
        );
    }
    c.eq(
        "setFetchSize(100) rows streamed",
        r.get("streamed-rows"),
        Some(want.incidents.to_string().as_str()),
    );
    c.eq(
        "streamed rows in order",
        r.get("streamed-ordered"),
        Some("true"),
    );
    c.eq(
        "SELECT from sn_hr_core_case",
        r.get("forbidden-query"),
        Some("42P01"),
    );
    let priv_typed: BTreeSet<String> = permitted_and_forbidden()
        .iter()
        .map(|t| format!("public.{t}:TABLE"))
        .collect();
    let priv_tables = c.key(&r, "priv-tables");
    c.tables(
        "getTables as the privileged HR account",
        priv_tables,
        &priv_typed,
    );
    c.finish(Some(&r));
}

fn list_ordered(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

// --- psqlODBC -----------------------------------------------------------------

#[test]
fn psqlodbc_catalog_functions_and_parameters() {
    let driver = psqlodbc_driver();
    let py = python();
    let s = server();
    let want = expected();
    let cols = incident_columns();
    let r = run_client(
        "psqlODBC",
        Command::new(&py)
            .arg(repo("tests/clients/odbc/odbc_client.py"))
            .arg(&driver)
            .arg(s.addr.port().to_string())
            .arg(cert(&s))
            .args([USER, &password(USER), PRIV, &password(PRIV), &want.number]),
    );
    let mut c = Checks::new("psqlODBC");
    let public = |set: &BTreeSet<String>| -> BTreeSet<String> {
        set.iter().map(|t| format!("public.{t}")).collect()
    };
    let tables = c.key(&r, "tables");
    c.tables("SQLTables(TABLE)", tables, &public(&permitted()));
    if let Some(all) = c.key(&r, "tables-all") {
        c.invisible("SQLTables(all types)", all);
    }
    c.eq(
        "SQLTables(sn_hr_core_case)",
        r.get("tables-forbidden"),
        Some(""),
    );
    if let Some(v) = c.key(&r, "columns") {
        let got: Vec<String> = list_ordered(v)
            .iter()
            .map(|g| {
                let p: Vec<&str> = g.split(':').collect();
                format!("{}:{}", p[0], p.get(1).unwrap_or(&""))
            })
            .collect();
        let want_cols: Vec<String> = cols
            .iter()
            .map(|col| format!("{}:{}", col.name, col.typname))
            .collect();
        c.eq("SQLColumns(incident) name:type", got, want_cols);
    }
    c.eq(
        "SQLColumns(sn_hr_core_case)",
        r.get("columns-forbidden"),
        Some("0"),
    );
    c.key(&r, "primary-keys");
    if let Some(v) = c.key(&r, "type-info") {
        c.that(
            v.parse::<i64>().unwrap_or(0) > 0,
            "SQLGetTypeInfo returned no types",
        );
    }
    c.eq(
        "parameterised count (priority 3, not active)",
        r.get("param-count").map(str::to_owned),
        Some(want.count(3, false, Y2030)),
    );
    if let Some(row) = c.key(&r, "param-row") {
        let p: Vec<&str> = row.split('|').collect();
        c.that(
            p.len() == 4
                && p[0] == want.number
                && p[1] == want.priority.to_string()
                && same_bool(p[2], want.active)
                && parse_ts(p[3]) == Some(want.opened_at),
            format!("parameterised row: got {row}"),
        );
    }
    c.eq(
        "SELECT from sn_hr_core_case",
        r.get("forbidden-query"),
        Some("42P01"),
    );
    let priv_tables = c.key(&r, "priv-tables");
    c.tables(
        "SQLTables as the privileged HR account",
        priv_tables,
        &public(&permitted_and_forbidden()),
    );
    c.finish(Some(&r));
}

// --- psycopg 3 ----------------------------------------------------------------

#[test]
fn psycopg_text_and_binary() {
    let py = python();
    let s = server();
    let want = expected();
    let r = run_client(
        "psycopg",
        Command::new(&py)
            .arg(repo("tests/clients/python/psycopg_client.py"))
            .arg(s.addr.port().to_string())
            .arg(cert(&s))
            .args([USER, &password(USER), &want.number]),
    );
    let mut c = Checks::new("psycopg");
    let row = format!(
        "{}|int:{}|bool:{}|datetime:{}|{}",
        want.number,
        want.priority,
        if want.active { "True" } else { "False" },
        want.opened_at.format("%Y-%m-%dT%H:%M:%S"),
        want.business_duration
    );
    c.eq("text-mode row", r.get("text-row"), Some(row.as_str()));
    c.eq("binary-mode row", r.get("binary-row"), Some(row.as_str()));
    // text, int4, bool, timestamp, int8 OIDs in the row description.
    c.eq(
        "result types",
        r.get("text-formats"),
        Some("25,23,16,1114,20"),
    );
    for mode in ["text", "binary"] {
        c.eq(
            &format!("typed parameters (4, True, datetime, str), {mode}"),
            r.get(&format!("typed-count-{mode}")).map(str::to_owned),
            Some(want.count(4, true, Y2030)),
        );
    }
    if let Some(v) = c.key(&r, "columns-info") {
        let want_cols: Vec<String> = incident_columns()
            .iter()
            .map(|col| format!("{}:{}", col.name, col.pg))
            .collect();
        c.eq(
            "information_schema.columns (column_name:data_type) of incident",
            list_ordered(v),
            want_cols,
        );
    }
    let tables = c.key(&r, "tables");
    c.tables("information_schema.tables", tables, &permitted());
    c.eq(
        "TypeInfo.fetch(int4)",
        r.get("typeinfo-int4"),
        Some("23:1007"),
    );
    let n = want.incidents.to_string();
    c.eq("cursor.stream rows", r.get("stream-rows"), Some(n.as_str()));
    c.eq(
        "named (server-side) cursor rows",
        r.get("server-cursor-rows"),
        Some(n.as_str()),
    );
    c.eq(
        "SELECT from sn_hr_core_case",
        r.get("forbidden-query"),
        Some("42P01"),
    );
    c.finish(Some(&r));
}

// --- SQLAlchemy -----------------------------------------------------------------

#[test]
fn sqlalchemy_inspector_and_orm() {
    let py = python();
    let s = server();
    let want = expected();
    let cols = incident_columns();
    let r = run_client(
        "SQLAlchemy",
        Command::new(&py)
            .arg(repo("tests/clients/python/sqlalchemy_client.py"))
            .arg(s.addr.port().to_string())
            .arg(cert(&s))
            .args([USER, &password(USER), PRIV, &password(PRIV)]),
    );
    let mut c = Checks::new("SQLAlchemy (postgresql+psycopg)");
    if let Some(v) = c.key(&r, "schemas") {
        c.that(list(v).contains("public"), format!("get_schema_names: {v}"));
        c.invisible("get_schema_names", v);
    }
    let tables = c.key(&r, "tables");
    c.tables("get_table_names(schema='public')", tables, &permitted());
    let tables = c.key(&r, "tables-default");
    c.tables("get_table_names()", tables, &permitted());
    c.eq("has_table(incident)", r.get("has-incident"), Some("True"));
    c.eq(
        "has_table(sn_hr_core_case)",
        r.get("has-forbidden"),
        Some("False"),
    );
    if let Some(v) = c.key(&r, "columns") {
        let got: Vec<(String, String)> = list_ordered(v)
            .iter()
            .map(|g| {
                let p: Vec<&str> = g.split(':').collect();
                (p[0].to_owned(), p.get(1).unwrap_or(&"").to_string())
            })
            .collect();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let want_names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        c.eq("get_columns(incident) names", names, want_names);
        for ((name, ty), col) in got.iter().zip(&cols) {
            c.that(
                ty.starts_with(col.sqlalchemy),
                format!("get_columns: {name} has type {ty}, want {}", col.sqlalchemy),
            );
        }
    }
    c.eq(
        "get_columns(sn_hr_core_case)",
        r.get("forbidden-columns"),
        Some("NoSuchTableError"),
    );
    c.key(&r, "pk");
    c.eq("get_foreign_keys(incident)", r.get("fks"), Some("0"));
    c.eq("get_indexes(incident)", r.get("indexes"), Some("0"));
    c.eq("get_view_names", r.get("views"), Some(""));
    let matching = want.matching(3, false, Y2030);
    c.eq(
        "ORM select(Incident).where(priority == 3, active is false).order_by(number).limit(5)",
        r.get("orm-numbers").map(list_ordered),
        Some(matching.iter().take(5).cloned().collect()),
    );
    c.eq("ORM opened_at type", r.get("orm-types"), Some("datetime"));
    c.eq(
        "ORM count",
        r.get("orm-count").map(str::to_owned),
        Some(matching.len().to_string()),
    );
    let priv_tables = c.key(&r, "priv-tables");
    c.tables(
        "get_table_names as the privileged HR account",
        priv_tables,
        &permitted_and_forbidden(),
    );
    c.finish(Some(&r));
}

// --- node-postgres ----------------------------------------------------------------

#[test]
fn node_postgres_queries_and_cursor() {
    let modules = node_modules();
    let s = server();
    let want = expected();
    let r = run_client(
        "node-postgres",
        Command::new("node")
            .arg(repo("tests/clients/node/pg_client.js"))
            .arg(s.addr.port().to_string())
            .arg(cert(&s))
            .args([USER, &password(USER), PRIV, &password(PRIV), &want.number])
            .env("NODE_PATH", &modules)
            .env("TZ", "UTC"),
    );
    let mut c = Checks::new("node-postgres");
    let n = want.incidents.to_string();
    c.eq("count(*)", r.get("simple-count"), Some(n.as_str()));
    let row = format!(
        "{}|number:{}|boolean:{}|true|string:{}",
        want.number, want.priority, want.active, want.business_duration
    );
    c.eq("row through $1", r.get("param-row"), Some(row.as_str()));
    c.eq(
        "result types",
        r.get("param-types"),
        Some("number:25,priority:23,active:16,opened_at:1114,business_duration:20"),
    );
    c.eq(
        "untyped parameters (4, true, Date)",
        r.get("typed-count").map(str::to_owned),
        Some(want.count(4, true, Y2030)),
    );
    c.eq(
        "named prepared statement, two runs",
        r.get("named-counts").map(str::to_owned),
        Some(format!(
            "{},{}",
            want.count_priority(1),
            want.count_priority(2)
        )),
    );
    let tables = c.key(&r, "tables");
    c.tables("information_schema.tables", tables, &permitted());
    c.eq("pg-cursor rows", r.get("cursor-rows"), Some(n.as_str()));
    c.eq(
        "pg-cursor reads of 100",
        r.get("cursor-batches").map(str::to_owned),
        Some(((want.incidents + 99) / 100).to_string()),
    );
    c.eq(
        "SELECT from sn_hr_core_case",
        r.get("forbidden-query"),
        Some("42P01"),
    );
    let priv_tables = c.key(&r, "priv-tables");
    c.tables(
        "information_schema.tables as the privileged HR account",
        priv_tables,
        &permitted_and_forbidden(),
    );
    c.finish(Some(&r));
}

// --- replays of BI tools' own queries ----------------------------------------------

/// One statement of a replay file (format: `tests/clients/replays/README.md`).
struct Statement {
    name: String,
    sql: String,
    simple: bool,
    extended: bool,
    params: Vec<(String, String)>,
    expect: Vec<String>,
}

fn parse_replay(text: &str) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-- @statement ") {
            let mut words = rest.split_whitespace();
            let mut st = Statement {
                name: words.next().expect("statement name").to_owned(),
                sql: String::new(),
                simple: false,
                extended: false,
                params: Vec::new(),
                expect: Vec::new(),
            };
            for w in words {
                match w {
                    "simple" => st.simple = true,
                    "extended" => st.extended = true,
                    _ if w.starts_with("params=") => {
                        st.params = w["params=".len()..]
                            .split(',')
                            .map(|p| {
                                let (t, v) = p.split_once(':').expect("TYPE:VALUE");
                                (t.to_owned(), v.to_owned())
                            })
                            .collect();
                    }
                    _ if w.starts_with("expect=") => {
                        st.expect.push(w["expect=".len()..].to_owned());
                    }
                    other => panic!("unknown statement option {other}"),
                }
            }
            assert!(
                st.params.is_empty() || (st.extended && !st.simple),
                "{}: parameters need `extended` only",
                st.name
            );
            out.push(st);
        } else if let Some(st) = out.last_mut() {
            st.sql.push_str(line);
            st.sql.push('\n');
        }
    }
    for st in &mut out {
        st.sql = st.sql.trim().to_owned();
        assert!(st.simple || st.extended, "{}: no protocol", st.name);
    }
    out
}

type Rows = Vec<Vec<Option<String>>>;
/// Parameter values of one statement, to bind.
type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("[{}] {}", db.code().code(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                s = format!("{s}: {cause}");
                source = cause.source();
            }
            s
        }
    }
}

async fn simple_rows(c: &Client, sql: &str) -> Result<Rows, String> {
    let msgs = c.simple_query(sql).await.map_err(|e| describe(&e))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// One value of a binary-format row as text, whatever its type.
fn cell(row: &tokio_postgres::Row, i: usize) -> Result<Option<String>, String> {
    fn get<'a, T: FromSql<'a> + ToString>(
        row: &'a tokio_postgres::Row,
        i: usize,
    ) -> Option<Result<Option<String>, String>> {
        let ty = row.columns()[i].type_();
        if !T::accepts(ty) {
            return None;
        }
        Some(
            row.try_get::<_, Option<T>>(i)
                .map(|v| v.map(|v| v.to_string()))
                .map_err(|e| describe(&e)),
        )
    }
    let ty = row.columns()[i].type_().clone();
    let got = get::<String>(row, i)
        .or_else(|| get::<i64>(row, i))
        .or_else(|| get::<i32>(row, i))
        .or_else(|| get::<i16>(row, i))
        .or_else(|| get::<i8>(row, i))
        .or_else(|| get::<u32>(row, i))
        .or_else(|| get::<bool>(row, i))
        .or_else(|| get::<f64>(row, i))
        .or_else(|| get::<f32>(row, i))
        .or_else(|| get::<NaiveDateTime>(row, i))
        .or_else(|| {
            if <Vec<Option<String>> as FromSql>::accepts(&ty) {
                Some(
                    row.try_get::<_, Option<Vec<Option<String>>>>(i)
                        .map(|v| v.map(|v| format!("{v:?}")))
                        .map_err(|e| describe(&e)),
                )
            } else {
                None
            }
        });
    match got {
        Some(r) => r.map_err(|e| format!("column {} ({ty}): {e}", row.columns()[i].name())),
        None => Ok(Some(format!("<{ty}>"))),
    }
}

fn bind(
    params: &[(String, String)],
    oids: &BTreeMap<&'static str, u32>,
) -> Result<(Vec<Type>, Values), String> {
    let mut types = Vec::new();
    let mut values: Values = Vec::new();
    for (t, v) in params {
        let v = match v.strip_prefix('$') {
            Some(name) => oids
                .get(name)
                .map(|o| o.to_string())
                .ok_or_else(|| format!("parameter ${name} unknown: the catalog lookup failed"))?,
            None => v.clone(),
        };
        let bad = |e: &dyn Display| format!("parameter {t}:{v}: {e}");
        match t.as_str() {
            "int2" => {
                types.push(Type::INT2);
                values.push(Box::new(v.parse::<i16>().map_err(|e| bad(&e))?));
            }
            "int4" => {
                types.push(Type::INT4);
                values.push(Box::new(v.parse::<i32>().map_err(|e| bad(&e))?));
            }
            "int8" => {
                types.push(Type::INT8);
                values.push(Box::new(v.parse::<i64>().map_err(|e| bad(&e))?));
            }
            "oid" => {
                types.push(Type::OID);
                values.push(Box::new(v.parse::<u32>().map_err(|e| bad(&e))?));
            }
            "bool" => {
                types.push(Type::BOOL);
                values.push(Box::new(v == "true"));
            }
            "text" => {
                types.push(Type::TEXT);
                values.push(Box::new(v));
            }
            "varchar" => {
                types.push(Type::VARCHAR);
                values.push(Box::new(v));
            }
            other => panic!("unknown parameter type {other}"),
        }
    }
    Ok((types, values))
}

async fn extended_rows(
    c: &Client,
    sql: &str,
    params: &[(String, String)],
    oids: &BTreeMap<&'static str, u32>,
) -> Result<Rows, String> {
    let (types, values) = bind(params, oids)?;
    let stmt = c
        .prepare_typed(sql, &types)
        .await
        .map_err(|e| format!("Parse/Describe: {}", describe(&e)))?;
    let refs: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c
        .query(&stmt, &refs)
        .await
        .map_err(|e| format!("Bind/Execute: {}", describe(&e)))?;
    rows.iter()
        .map(|r| (0..r.len()).map(|i| cell(r, i)).collect())
        .collect()
}

/// The oids a tool reads from the catalog before describing a table.
async fn catalog_oids(c: &Client) -> Result<BTreeMap<&'static str, u32>, String> {
    let one = |rows: Rows, what: &str| -> Result<u32, String> {
        rows.first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{what}: no oid in {rows:?}"))
    };
    let public = one(
        simple_rows(
            c,
            "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'",
        )
        .await?,
        "pg_namespace public",
    )?;
    let incident = one(
        simple_rows(
            c,
            "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 'incident'",
        )
        .await?,
        "pg_class incident",
    )?;
    Ok([("public_oid", public), ("incident_oid", incident)].into())
}

fn names_table(rows: &Rows, table: &str) -> bool {
    rows.iter().flatten().flatten().any(|v| {
        v == table || v.ends_with(&format!(".{table}")) || v.ends_with(&format!(".\"{table}\""))
    })
}

async fn run_one(
    c: &Client,
    protocol: &str,
    sql: &str,
    params: &[(String, String)],
    oids: &BTreeMap<&'static str, u32>,
) -> Result<Rows, String> {
    if protocol == "simple" {
        simple_rows(c, sql).await
    } else {
        extended_rows(c, sql, params, oids).await
    }
}

/// A replay connection and the oids its catalog gives.
struct Session {
    client: Client,
    oids: BTreeMap<&'static str, u32>,
}

impl Session {
    async fn open(s: &Server, user: &str, checks: &mut Checks) -> Session {
        let client = s
            .connect(user, &password(user))
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        // Each session has its own catalog: look the oids up in each, as a
        // tool would.
        let oids = catalog_oids(&client).await.unwrap_or_else(|e| {
            checks.that(false, format!("catalog oid lookup as {user}: {e}"));
            BTreeMap::new()
        });
        Session { client, oids }
    }

    async fn run(&self, st: &Statement, protocol: &str) -> Result<Rows, String> {
        let mut sql = st.sql.clone();
        for (name, oid) in &self.oids {
            sql = sql.replace(&format!("{{{name}}}"), &oid.to_string());
        }
        run_one(&self.client, protocol, &sql, &st.params, &self.oids).await
    }
}

/// Checks one statement's answer against its `expect=` options.
async fn check_expectations(
    checks: &mut Checks,
    what: &str,
    st: &Statement,
    protocol: &str,
    rows: &Rows,
    privileged: &Session,
) {
    for expect in &st.expect {
        match expect.as_str() {
            "tables" => {
                let missing: Vec<&str> = PERMITTED
                    .iter()
                    .copied()
                    .filter(|t| !names_table(rows, t))
                    .collect();
                checks.that(
                    missing.is_empty(),
                    format!("{what}: does not list the tables {missing:?}"),
                );
                match privileged.run(st, protocol).await {
                    Ok(priv_rows) => checks.that(
                        names_table(&priv_rows, FORBIDDEN),
                        format!("{what}: the privileged HR account does not see {FORBIDDEN}"),
                    ),
                    Err(e) => checks.that(false, format!("{what}, as the privileged account: {e}")),
                }
            }
            "columns" => {
                let missing: Vec<String> = incident_columns()
                    .into_iter()
                    .map(|c| c.name)
                    .filter(|n| !names_table(rows, n))
                    .collect();
                checks.that(
                    missing.is_empty(),
                    format!("{what}: does not list incident's columns {missing:?}"),
                );
            }
            "rows" => checks.that(!rows.is_empty(), format!("{what}: no rows")),
            other => panic!("unknown expectation {other}"),
        }
    }
}

async fn replay(tool: &str) {
    let file = repo(&format!("tests/clients/replays/{tool}.sql"));
    let statements = parse_replay(&std::fs::read_to_string(&file).unwrap());
    assert!(!statements.is_empty(), "{}: no statements", file.display());
    let s = server();
    let mut checks = Checks::new(&format!("{tool} replay"));
    let session = Session::open(&s, USER, &mut checks).await;
    let privileged = Session::open(&s, PRIV, &mut checks).await;
    let mut ran = 0;
    for st in &statements {
        let protocols = [("simple", st.simple), ("extended", st.extended)];
        for (protocol, _) in protocols.into_iter().filter(|(_, on)| *on) {
            ran += 1;
            let what = format!("{} [{protocol}]", st.name);
            match session.run(st, protocol).await {
                Err(e) => {
                    checks.that(false, format!("{what}: {e}"));
                    // A failure may leave a transaction open; the tool would
                    // roll back before going on.
                    let _ = session.client.simple_query("ROLLBACK").await;
                }
                Ok(rows) => {
                    for v in rows.iter().flatten().flatten() {
                        checks.invisible(&what, v);
                    }
                    check_expectations(&mut checks, &what, st, protocol, &rows, &privileged).await;
                }
            }
        }
    }
    eprintln!(
        "{tool}: {ran} runs of {} statements, {} failure(s)",
        statements.len(),
        checks.failures.len()
    );
    checks.finish(None);
}

#[tokio::test]
async fn replay_dbeaver() {
    replay("dbeaver").await;
}

#[tokio::test]
async fn replay_metabase() {
    replay("metabase").await;
}

#[tokio::test]
async fn replay_powerbi() {
    replay("powerbi").await;
}

#[tokio::test]
async fn replay_tableau() {
    replay("tableau").await;
}

#[tokio::test]
async fn replay_grafana() {
    replay("grafana").await;
}
