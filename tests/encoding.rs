//! Values on the wire are PostgreSQL's own: the same literal expressions
//! evaluated by a throwaway PostgreSQL 15 cluster and by sqlgate give the
//! same text (simple query protocol) and the same binary bytes and types
//! (extended protocol, binary results); incident columns read through
//! sqlgate match the Parquet files.
//!
//! PostgreSQL is required, never skipped: without `initdb` the test fails
//! and says to install `postgresql-15`.

mod common;

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime};
use common::policy::{password, standard};
use common::{Options, Server, data_set};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Literal expressions whose type and value both systems agree on. Each is
/// written so PostgreSQL and DataFusion infer the same type (casts where a
/// bare literal would be `int4` in one and `int8` in the other).
const EXPRESSIONS: &[&str] = &[
    // integers
    "CAST(-32768 AS SMALLINT)",
    "CAST(2147483647 AS INTEGER)",
    "CAST(-9223372036854775807 AS BIGINT)",
    "CAST(0 AS BIGINT)",
    "CAST(NULL AS INTEGER)",
    // floats, shortest round-trip digits and PostgreSQL's exponent form
    "CAST('0.1' AS DOUBLE PRECISION)",
    "CAST('-1.5' AS DOUBLE PRECISION)",
    "CAST('100' AS DOUBLE PRECISION)",
    "CAST('1e20' AS DOUBLE PRECISION)",
    "CAST('1.5e-05' AS DOUBLE PRECISION)",
    "CAST('0.0001' AS DOUBLE PRECISION)",
    "CAST('123456789012345' AS DOUBLE PRECISION)",
    "CAST('1e15' AS DOUBLE PRECISION)",
    "CAST('0.30000000000000004' AS DOUBLE PRECISION)",
    "CAST('1.7976931348623157e308' AS DOUBLE PRECISION)",
    "CAST('5e-324' AS DOUBLE PRECISION)",
    "CAST('-0' AS DOUBLE PRECISION)",
    "CAST('Infinity' AS DOUBLE PRECISION)",
    "CAST('-Infinity' AS DOUBLE PRECISION)",
    "CAST('NaN' AS DOUBLE PRECISION)",
    "CAST('1.1' AS REAL)",
    "CAST('123456' AS REAL)",
    "CAST('1e6' AS REAL)",
    "CAST('1e-5' AS REAL)",
    "CAST('3.4028235e38' AS REAL)",
    // numeric keeps its scale
    "CAST(12.3 AS NUMERIC(10,2))",
    "CAST(-0.05 AS NUMERIC(5,2))",
    "CAST(0 AS NUMERIC(5,2))",
    "CAST(1000000 AS NUMERIC(12,2))",
    "CAST(123456789.123456 AS NUMERIC(20,6))",
    "CAST(42 AS NUMERIC(10,0))",
    // booleans, strings, bytea
    "true",
    "false",
    "CAST('héllo, world' AS TEXT)",
    "CAST('' AS TEXT)",
    "CAST('ab' AS BYTEA)",
    // dates and times
    "DATE '2024-01-02'",
    "DATE '0001-01-01'",
    "DATE '1969-12-31'",
    "TIMESTAMP '2021-01-01 20:54:05'",
    "TIMESTAMP '2021-01-01 20:54:05.5'",
    "TIMESTAMP '2021-01-01 20:54:05.123456'",
    "TIMESTAMP '1900-02-28 00:00:00.000001'",
    "CAST('2021-01-01 20:54:05+00' AS TIMESTAMPTZ)",
    "CAST('2021-06-30 23:59:59.25+00' AS TIMESTAMPTZ)",
    "TIME '01:02:03'",
    "TIME '23:59:59.5'",
    // intervals, IntervalStyle postgres
    "INTERVAL '1 day 2 hours'",
    "INTERVAL '1 year 2 months 3 days'",
    "INTERVAL '0 seconds'",
    "INTERVAL '1.5 seconds'",
    "INTERVAL '100 hours'",
    "INTERVAL '1 month'",
    // arrays
    "ARRAY[CAST(1 AS BIGINT), 2, 3]",
    "ARRAY[CAST('a' AS TEXT), 'b c', '', 'x\"y']",
    "ARRAY[CAST(1.5 AS DOUBLE PRECISION), NULL]",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_encode_exactly_as_postgresql_does() {
    let pg = Postgres::start();
    let pg_client = pg.connect().await;
    let s = Server::start(Options::new(data_set(2000), standard()));
    let gate = s.connect("svc_all", &password("svc_all")).await.unwrap();

    let mut failures = Vec::new();
    let mut postgres_text = HashMap::new();
    for expr in EXPRESSIONS {
        let sql = format!("SELECT {expr}");
        let want = simple_text(&pg_client, &sql).await;
        postgres_text.insert(*expr, want.clone());
        match try_simple_text(&gate, &sql).await {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!("text {expr}: postgres {want:?}, sqlgate {got:?}")),
            Err(e) => failures.push(format!("text {expr}: sqlgate error {e}")),
        }
        let want = binary(&pg_client, &sql).await.unwrap();
        match binary(&gate, &sql).await {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!(
                "binary {expr}: postgres {} {:02x?}, sqlgate {} {:02x?}",
                want.0, want.1, got.0, got.1
            )),
            Err(e) => failures.push(format!("binary {expr}: sqlgate error {e}")),
        }
    }
    // The reference is the real server with the settings above: a few
    // values as PostgreSQL 15 prints them.
    for (expr, text) in [
        ("CAST('1e20' AS DOUBLE PRECISION)", "1e+20"),
        ("CAST('1e6' AS REAL)", "1e+06"),
        ("CAST(12.3 AS NUMERIC(10,2))", "12.30"),
        ("TIMESTAMP '2021-01-01 20:54:05'", "2021-01-01 20:54:05"),
        (
            "CAST('2021-01-01 20:54:05+00' AS TIMESTAMPTZ)",
            "2021-01-01 20:54:05+00",
        ),
        ("INTERVAL '1 day 2 hours'", "1 day 02:00:00"),
    ] {
        assert_eq!(postgres_text[expr], vec![Some(text.to_owned())], "{expr}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} expressions differ:\n{}",
        failures.len(),
        EXPRESSIONS.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn incident_columns_match_the_parquet_files() {
    let data = data_set(2000);
    let s = Server::start(Options::new(data.clone(), standard()));
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();

    // The expected values, straight from the files, by incident number.
    let mut expected: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut typed: HashMap<String, Typed> = HashMap::new();
    for batch in common::read_parquet(&data, "incident") {
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        let (number, priority, active) = (col("number"), col("priority"), col("active"));
        let (opened, resolved, duration) = (
            col("opened_at"),
            col("resolved_at"),
            col("business_duration"),
        );
        let number = number.as_string::<i32>();
        let priority = priority.as_primitive::<Int32Type>();
        let active = active.as_boolean();
        let opened = opened.as_primitive::<TimestampMicrosecondType>();
        let resolved = resolved.as_primitive::<TimestampMicrosecondType>();
        let duration = duration.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let ts = |a: &datafusion::arrow::array::TimestampMicrosecondArray| {
                (!a.is_null(i)).then(|| micros_to_naive(a.value(i)))
            };
            let n = number.value(i).to_owned();
            expected.insert(
                n.clone(),
                vec![
                    Some(n.clone()),
                    Some(priority.value(i).to_string()),
                    Some(if active.value(i) { "t" } else { "f" }.to_owned()),
                    ts(opened).map(|t| pg_timestamp(&t)),
                    ts(resolved).map(|t| pg_timestamp(&t)),
                    (!duration.is_null(i)).then(|| duration.value(i).to_string()),
                ],
            );
            typed.insert(
                n,
                (
                    priority.value(i),
                    active.value(i),
                    ts(opened).unwrap(),
                    ts(resolved),
                    (!duration.is_null(i)).then(|| duration.value(i)),
                ),
            );
        }
    }
    let sql = "SELECT number, priority, active, opened_at, resolved_at, business_duration \
               FROM incident ORDER BY number";

    // Text.
    let mut rows = 0;
    for m in c.simple_query(sql).await.unwrap() {
        if let SimpleQueryMessage::Row(r) = m {
            let got: Vec<Option<String>> =
                (0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect();
            let number = got[0].clone().unwrap();
            assert_eq!(Some(&got), expected.get(&number), "incident {number}");
            rows += 1;
        }
    }
    assert!(rows > 100, "svc_all reads incidents ({rows} rows)");

    // Binary, decoded by the client's own types.
    let got = c.query(sql, &[]).await.unwrap();
    assert_eq!(got.len(), rows);
    for r in &got {
        let number: String = r.get(0);
        let row: Typed = (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
        assert_eq!(Some(&row), typed.get(&number), "incident {number}");
    }
    // Some resolved_at are NULL and some are not, so both paths ran.
    assert!(
        got.iter()
            .any(|r| r.get::<_, Option<NaiveDateTime>>(4).is_none())
    );
    assert!(
        got.iter()
            .any(|r| r.get::<_, Option<NaiveDateTime>>(4).is_some())
    );
}

type Typed = (i32, bool, NaiveDateTime, Option<NaiveDateTime>, Option<i64>);

fn micros_to_naive(us: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(us).unwrap().naive_utc()
}

/// PostgreSQL's ISO text of a timestamp, computed with chrono (the
/// encoder under test does not use chrono).
fn pg_timestamp(t: &NaiveDateTime) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let us = t.and_utc().timestamp_subsec_micros();
    if us == 0 {
        base
    } else {
        format!("{base}.{}", format!("{us:06}").trim_end_matches('0'))
    }
}

async fn simple_text(c: &Client, sql: &str) -> Vec<Option<String>> {
    try_simple_text(c, sql)
        .await
        .unwrap_or_else(|e| panic!("postgres: {sql}: {e}"))
}

async fn try_simple_text(
    c: &Client,
    sql: &str,
) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    let mut out = Vec::new();
    for m in c.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(r) = m {
            out.extend((0..r.len()).map(|i| r.get(i).map(str::to_owned)));
        }
    }
    Ok(out)
}

/// The type and binary bytes of the single column of a one-row result.
async fn binary(c: &Client, sql: &str) -> Result<(Type, Option<Vec<u8>>), tokio_postgres::Error> {
    let rows = c.query(sql, &[]).await?;
    assert_eq!(rows.len(), 1, "{sql}");
    let ty = rows[0].columns()[0].type_().clone();
    let raw: Option<Raw> = rows[0].get(0);
    Ok((ty, raw.map(|r| r.0)))
}

/// A value's bytes as sent, whatever its type.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A private PostgreSQL 15 cluster on a Unix socket in a temporary
/// directory, stopped and removed on drop.
struct Postgres {
    dir: tempfile::TempDir,
    child: Child,
}

/// The directory holding `initdb` and `postgres`.
fn postgres_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("initdb"))
            .find(|p| p.is_file())
    });
    let initdb = on_path
        .or_else(|| {
            let p = PathBuf::from("/usr/lib/postgresql/15/bin/initdb");
            p.is_file().then_some(p)
        })
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL 15 server binaries (initdb, postgres) not found on PATH or in \
                 /usr/lib/postgresql/15/bin: install the postgresql-15 package \
                 (apt-get install postgresql-15); this test compares against a real server"
            )
        });
    // Debian links /usr/local/bin/initdb and friends to the versioned
    // directory; `postgres` sits next to the real `initdb`.
    let initdb = std::fs::canonicalize(&initdb).unwrap_or(initdb);
    initdb.parent().unwrap().to_owned()
}

/// The user to run PostgreSQL as: ourselves, or `nobody` when we are root
/// (PostgreSQL refuses to run as root).
fn run_as() -> Option<(u32, u32)> {
    let id = |args: &[&str]| -> u32 {
        let out = Command::new("id").args(args).output().expect("run id");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id(&["-u"]) == 0).then(|| (id(&["-u", "nobody"]), id(&["-g", "nobody"])))
}

impl Postgres {
    fn start() -> Postgres {
        use std::os::unix::process::CommandExt;
        let bin = postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("sqlgate-pg")
            .tempdir()
            .unwrap();
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let command = |name: &str| {
            let mut c = Command::new(bin.join(name));
            if let Some((uid, gid)) = user {
                c.uid(uid).gid(gid);
            }
            // The cluster's files go under the private directory; HOME may
            // not be readable for `nobody`.
            c.current_dir(dir.path()).env("HOME", dir.path());
            c
        };
        let data = dir.path().join("data");
        let out = command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .unwrap();
        }
        let child = command("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args([
                "-p",
                "5432",
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "TimeZone=UTC",
                "-c",
                "DateStyle=ISO, MDY",
                "-c",
                "IntervalStyle=postgres",
                "-c",
                "extra_float_digits=1",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let pg = Postgres { dir, child };
        pg.wait_ready();
        pg
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join(".s.PGSQL.5432")
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while !self.socket().exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "postgres did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    async fn connect(&self) -> Client {
        let conf = format!(
            "host={} port=5432 user=postgres dbname=postgres",
            self.dir.path().display()
        );
        let start = Instant::now();
        loop {
            match tokio_postgres::connect(&conf, NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    return client;
                }
                // Still starting up (57P03) for a moment after the socket
                // appears.
                Err(_) if start.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("connect to postgres: {e}\n{}", self.log()),
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; the cluster is thrown away.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
