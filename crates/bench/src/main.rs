//! `sqlgate-bench`: the same workload against sqlgate, PostgreSQL 15 (with
//! row-level security for the restricted account) and, when installed,
//! datafusion-postgres (no access control at all), side by side in one run,
//! as medians and ratios. `bench/run` builds and runs it.

mod load;
mod raw;
mod targets;
mod workload;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio_postgres::Client;

use targets::{Server, Target};
use workload::{Mode, Query};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs the benchmark workload against sqlgate, a local PostgreSQL 15
/// loaded with the same rows and, when installed, datafusion-postgres on the
/// same Parquet files, taking turns (A B C A B C …), and writes the medians
/// and ratios to BENCHMARKS.md.
///
/// The restricted account is the demo's service-desk agent: on sqlgate its
/// ACLs filter incidents to its groups and mask work notes; on PostgreSQL
/// the same rules are a row-level-security policy and security-barrier
/// views. The privileged account sees everything on both.
/// datafusion-postgres has no access control: it answers every query over
/// all rows, the baseline for what sqlgate's ACLs cost.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The sqlgate binary to benchmark (build it with --release).
    #[arg(long, default_value = "target/release/sqlgate")]
    sqlgate: PathBuf,
    /// Incidents in the data set (other tables in proportion).
    #[arg(long, default_value_t = 1_000_000)]
    scale: u64,
    /// Timed runs of each query on each target; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Clients of the concurrent mix.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Where the data set and the PostgreSQL cluster live (kept between
    /// runs: the data set is generated again only when the scale or the
    /// generator's file layout changes).
    #[arg(long, default_value = ".sqlgate-bench")]
    work_dir: PathBuf,
    /// PostgreSQL 15's server programs (initdb, postgres); found in
    /// /usr/lib/postgresql/15/bin or on PATH when not given.
    #[arg(long)]
    pg_bin: Option<PathBuf>,
    /// The datafusion-postgres server to compare with (`cargo install
    /// --locked datafusion-postgres-cli --version 0.19.0`); found on PATH
    /// when not given, and left out of the run when not installed.
    #[arg(long)]
    datafusion_postgres: Option<PathBuf>,
    /// Run only the queries whose name contains this text (e.g. `SELECT *`,
    /// `lookup`); all of them when not given.
    #[arg(long)]
    only: Option<String>,
    /// Rows streamed (binary) to a slow reader at the end of the run while
    /// sqlgate's memory is sampled; the incident table is repeated by a
    /// cross join to reach them at any scale. 0 leaves this out.
    #[arg(long, default_value_t = 10_000_000)]
    slow_stream_rows: u64,
    /// The report to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

struct Account {
    label: &'static str,
    sqlgate: (&'static str, &'static str),
    postgres: &'static str,
}

impl Account {
    /// The user and password this account logs in with on `server`.
    fn login(&self, server: Server) -> (&'static str, &'static str) {
        match server {
            Server::Sqlgate => self.sqlgate,
            Server::Postgres => (self.postgres, ""),
            // It lets any user name in without a password.
            Server::DatafusionPostgres => ("postgres", ""),
        }
    }
}

const RESTRICTED: &str = "svc_desk";

const ACCOUNTS: [Account; 2] = [
    Account {
        label: "privileged",
        sqlgate: ("svc_powerbi", "demo-powerbi"),
        postgres: "bench_privileged",
    },
    Account {
        label: "restricted",
        sqlgate: (RESTRICTED, "demo-desk"),
        postgres: RESTRICTED,
    },
];

type Connect = dyn Fn() -> BoxFuture<'static, Result<Client, Error>> + Sync + Send;

fn connector(target: &Arc<Target>, user: &str, password: &str) -> Box<Connect> {
    let target = Arc::clone(target);
    // PostgreSQL's accounts log in by trust, with no password at all.
    let credentials = if password.is_empty() {
        format!("user={user}")
    } else {
        format!("user={user} password={password}")
    };
    Box::new(move || {
        let target = Arc::clone(&target);
        let credentials = credentials.clone();
        async move { target.connect_with(&credentials).await }.boxed()
    })
}

fn raw_login(target: &Target, user: &str, password: &str) -> raw::Login {
    raw::Login {
        addr: target.addr,
        tls: target.tls_config.clone(),
        user: user.to_owned(),
        password: password.to_owned(),
        database: target.database.clone(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = bench(args).await {
        eprintln!("sqlgate-bench: {e}");
        std::process::exit(1);
    }
}

async fn bench(args: Args) -> Result<(), Error> {
    let work = std::path::absolute(&args.work_dir)?;
    std::fs::create_dir_all(&work)?;
    // The server runs from the work directory: a relative path (the
    // default among them) would no longer name the binary there.
    let sqlgate_bin = std::path::absolute(&args.sqlgate)?;
    let demo = work.join("demo");
    targets::prepare_demo(&sqlgate_bin, &demo, args.scale)?;
    let policy: toml::Table = std::fs::read_to_string(demo.join("policy.toml"))?.parse()?;
    let restricted = load::Restricted::from_policy(&policy, RESTRICTED)?;

    eprintln!("starting PostgreSQL 15 and loading the same rows");
    let pg_bin = targets::pg_bin(args.pg_bin.as_deref())?;
    let postgres = Arc::new(targets::start_postgres(&pg_bin, &work.join("postgres"))?);
    let admin = postgres.connect_as("postgres").await?;
    load::load(&admin, &demo.join("data"), &restricted).await?;
    let pg_version: String = admin.query_one("SHOW server_version", &[]).await?.get(0);

    eprintln!("starting sqlgate");
    let sqlgate = Arc::new(targets::start_sqlgate(&sqlgate_bin, &demo, &work)?);
    let sqlgate_version = targets::run(
        std::process::Command::new(&sqlgate_bin).arg("--version"),
        "sqlgate --version",
    )?;

    let mut targets = vec![Arc::clone(&sqlgate), Arc::clone(&postgres)];
    let mut datafusion_postgres_version = None;
    match targets::datafusion_postgres_bin(args.datafusion_postgres.as_deref()) {
        Some(bin) => {
            eprintln!("starting datafusion-postgres");
            targets.push(Arc::new(targets::start_datafusion_postgres(
                &bin,
                &demo.join("data"),
            )?));
            datafusion_postgres_version = Some(
                targets::run(
                    std::process::Command::new(&bin).arg("--version"),
                    "datafusion-postgres-cli --version",
                )?
                .trim()
                .to_owned(),
            );
        }
        None => {
            eprintln!("datafusion-postgres-cli is not installed: comparing with PostgreSQL only")
        }
    }
    // Both accounts are logged in to every target first. Each round of a
    // query then runs it for one account and the other, each on every
    // target in turn, so the restricted/privileged ratio (like the ratios
    // between servers) compares runs taken moments apart rather than
    // seconds or minutes (the machine's speed drifts over a run).
    let mut sessions = Vec::with_capacity(ACCOUNTS.len());
    for account in &ACCOUNTS {
        sessions.push(Session::open(account, &targets, &args).await?);
    }
    let mut results: Vec<Row> = Vec::new();
    // Every account's workload lists the same queries in the same order.
    for i in 0..sessions[0].queries.len() {
        eprintln!("  {}", sessions[0].queries[i].name);
        let mut times: Vec<Vec<Vec<Duration>>> =
            vec![vec![Vec::new(); targets.len()]; sessions.len()];
        let mut rows = vec![vec![0u64; targets.len()]; sessions.len()];
        // A warm-up round, then the timed ones.
        for round in 0..=args.runs {
            for (a, session) in sessions.iter().enumerate() {
                let query = &session.queries[i];
                for (t, connect) in session.connects.iter().enumerate() {
                    let (elapsed, n) = workload::run_once(
                        connect.as_ref(),
                        &session.clients[t],
                        &session.raw_logins[t],
                        query,
                        &session.lookup,
                    )
                    .await
                    .map_err(|e| {
                        format!(
                            "{} on {} ({}): {e}",
                            query.name, targets[t].name, session.account.label
                        )
                    })?;
                    if round > 0 {
                        times[a][t].push(elapsed);
                    }
                    rows[a][t] = n;
                }
            }
        }
        for ((session, times), rows) in sessions.iter().zip(times).zip(rows) {
            results.push(Row {
                account: session.account.label,
                query: session.queries[i].clone(),
                medians: times.into_iter().map(median).collect(),
                rows,
            });
        }
    }
    // The report lists one account's queries, then the other's.
    results.sort_by_key(|r| ACCOUNTS.iter().position(|a| a.label == r.account));
    let slow = if args.slow_stream_rows > 0
        && args.only.as_deref().is_none_or(|o| SLOW_STREAM.contains(o))
    {
        eprintln!("  privileged / {SLOW_STREAM}");
        let (user, password) = ACCOUNTS[0].login(Server::Sqlgate);
        let login = raw_login(&sqlgate, user, password);
        Some(slow_stream(&sqlgate, &login, args.slow_stream_rows, args.scale).await?)
    } else {
        None
    };
    let peak = sqlgate.peak_rss_mib();
    let versions = Versions {
        sqlgate: sqlgate_version.trim(),
        postgres: &pg_version,
        datafusion_postgres: datafusion_postgres_version.as_deref(),
    };
    let report = render(&args, &results, &versions, peak, slow.as_ref());
    print!("{report}");
    std::fs::write(&args.out, report)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// One account logged in to every target: a client for the small queries,
/// how to open more (the concurrent mix) and the raw login (the streams).
struct Session {
    account: &'static Account,
    connects: Vec<Box<Connect>>,
    clients: Vec<Client>,
    raw_logins: Vec<raw::Login>,
    /// A number the account can see, in the middle of its incidents.
    lookup: String,
    /// The workload's queries (those `--only` selects), with that number.
    queries: Vec<Query>,
}

impl Session {
    async fn open(
        account: &'static Account,
        targets: &[Arc<Target>],
        args: &Args,
    ) -> Result<Session, Error> {
        let mut connects: Vec<Box<Connect>> = Vec::new();
        let mut raw_logins: Vec<raw::Login> = Vec::new();
        for t in targets {
            let (user, password) = account.login(t.server);
            connects.push(connector(t, user, password));
            raw_logins.push(raw_login(t, user, password));
        }
        let mut clients = Vec::new();
        for c in &connects {
            clients.push(c().await?);
        }
        let lookup: String = clients[1]
            .query_one(
                "SELECT number FROM incident ORDER BY number \
                 OFFSET (SELECT count(*) / 2 FROM incident) LIMIT 1",
                &[],
            )
            .await?
            .get(0);
        let queries = workload::all(&lookup, args.clients)
            .into_iter()
            .filter(|q| args.only.as_deref().is_none_or(|o| q.name.contains(o)))
            .collect();
        Ok(Session {
            account,
            connects,
            clients,
            raw_logins,
            lookup,
            queries,
        })
    }
}

const SLOW_STREAM: &str = "slow stream";

/// How sqlgate's memory fared while a slow reader took a large result.
struct SlowStream {
    rows: u64,
    stall: raw::Stall,
    elapsed: Duration,
    before_mib: u64,
    peak_mib: u64,
}

/// Streams `rows` rows to a reader that keeps stopping, sampling sqlgate's
/// resident memory every 20 ms: a server that buffered what the client has
/// not read yet would grow with the result.
async fn slow_stream(
    sqlgate: &Target,
    login: &raw::Login,
    rows: u64,
    scale: u64,
) -> Result<SlowStream, Error> {
    let copies = rows.div_ceil(scale.max(1)).max(1);
    let values = (1..=copies)
        .map(|c| format!("({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {} FROM incident CROSS JOIN (VALUES {values}) AS copies(copy)",
        workload::STREAM_COLUMNS
    );
    let stall = raw::Stall {
        every: 1_000_000,
        pause: Duration::from_secs(1),
    };
    let mut conn = raw::RawConn::connect(login).await?;
    let before_mib = sqlgate.rss_mib().ok_or("sqlgate's memory cannot be read")?;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        let pid_status = sqlgate.status_path();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(mib) = targets::rss_mib_of(&pid_status) {
                    peak = peak.max(mib);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let started = std::time::Instant::now();
    let received = conn.stream_stalling(&sql, true, stall).await;
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_mib = sampler.await?;
    Ok(SlowStream {
        rows: received?,
        stall,
        elapsed,
        before_mib,
        peak_mib,
    })
}

struct Row {
    account: &'static str,
    query: Query,
    /// sqlgate, PostgreSQL, then datafusion-postgres when it ran.
    medians: Vec<Duration>,
    rows: Vec<u64>,
}

struct Versions<'a> {
    sqlgate: &'a str,
    postgres: &'a str,
    datafusion_postgres: Option<&'a str>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{} GiB", k / 1024 / 1024))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory}")
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn render(
    args: &Args,
    rows: &[Row],
    versions: &Versions,
    peak_rss_mib: Option<u64>,
    slow: Option<&SlowStream>,
) -> String {
    let pg = versions.postgres;
    let with_dfpg = versions.datafusion_postgres.is_some();
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let others = if with_dfpg {
        format!("PostgreSQL {pg} and datafusion-postgres")
    } else {
        format!("PostgreSQL {pg}")
    };
    let _ = writeln!(
        s,
        "sqlgate and {others} on the same {} incidents, side by side in one run \
         ({} timed rounds after a warm-up, each running the query for both accounts on every server in turn; medians). \
         Ratio = the other server's time / sqlgate's time (above 1: sqlgate is faster).\n",
        args.scale, args.runs
    );
    let _ = writeln!(s, "- Machine: {}", machine());
    let _ = writeln!(
        s,
        "- sqlgate: {}, over TLS (SCRAM login); the streams marked \"without TLS\" \
         log in to the same server over plain TCP (`allow_plaintext`), as PostgreSQL's do",
        versions.sqlgate
    );
    if let Some(mib) = peak_rss_mib {
        let _ = writeln!(
            s,
            "- sqlgate peak resident memory over the whole run: {mib} MiB"
        );
    }
    if let Some(slow) = slow {
        let _ = writeln!(
            s,
            "- sqlgate resident memory while streaming {} rows (20 columns, binary) to a \
             client that stops reading for {} s after every {} rows: {} MiB at the start, \
             {} MiB at the peak ({:.1} s, pauses included)",
            slow.rows,
            slow.stall.pause.as_secs(),
            slow.stall.every,
            slow.before_mib,
            slow.peak_mib,
            slow.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(
        s,
        "- PostgreSQL: {pg}, local cluster without TLS (trust login), B-tree indexes on \
         `number` and `sys_id`, row-level security and security-barrier views for the \
         restricted account"
    );
    match versions.datafusion_postgres {
        Some(v) => {
            let _ = writeln!(
                s,
                "- datafusion-postgres: {v}, without TLS or login, on the same Parquet files; \
                 it has no access control, so in the restricted rows it answers the same \
                 query over all rows: the comparison is sqlgate's ACLs against none at all"
            );
        }
        None => {
            let _ = writeln!(
                s,
                "- datafusion-postgres: not installed for this run (`cargo install --locked \
                 datafusion-postgres-cli --version 0.19.0` puts it on PATH)"
            );
        }
    }
    let _ = writeln!(
        s,
        "- Streams (`SELECT *`) are read by a raw protocol client that counts DataRow \
         messages off the socket (logged in before the clock starts); the other queries \
         by tokio-postgres"
    );
    let _ = writeln!(
        s,
        "- Command: `bench/run --scale {} --runs {} --clients {}{}`\n",
        args.scale,
        args.runs,
        args.clients,
        args.only
            .as_deref()
            .map(|o| format!(" --only '{o}'"))
            .unwrap_or_default()
    );
    if with_dfpg {
        let _ = writeln!(
            s,
            "| query | account | sqlgate ms | PostgreSQL ms | ratio | datafusion-postgres ms | ratio | rows (sqlgate / PostgreSQL / datafusion-postgres) | sqlgate rows/s | PostgreSQL rows/s | datafusion-postgres rows/s |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    } else {
        let _ = writeln!(
            s,
            "| query | account | sqlgate ms | PostgreSQL ms | ratio | rows (sqlgate / PostgreSQL) | sqlgate rows/s | PostgreSQL rows/s |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---|---:|---:|");
    }
    let mut overhead: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for r in rows {
        let ratio = |t: usize| r.medians[t].as_secs_f64() / r.medians[0].as_secs_f64().max(1e-9);
        let rate = |t: usize| match r.query.mode {
            Mode::Stream { .. } => format!(
                "{:.0}",
                r.rows[t] as f64 / r.medians[t].as_secs_f64().max(1e-9)
            ),
            _ => String::new(),
        };
        // Only PostgreSQL applies the same rules; datafusion-postgres
        // applies none.
        let same = if r.rows[0] == r.rows[1] { "" } else { " ≠" };
        let counts = r
            .rows
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" / ");
        let mut line = format!(
            "| {} | {} | {} | {} | {:.2}x |",
            r.query.name,
            r.account,
            ms(r.medians[0]),
            ms(r.medians[1]),
            ratio(1),
        );
        if with_dfpg {
            let _ = write!(line, " {} | {:.2}x |", ms(r.medians[2]), ratio(2));
        }
        let _ = write!(line, " {counts}{same} | {} | {} |", rate(0), rate(1));
        if with_dfpg {
            let _ = write!(line, " {} |", rate(2));
        }
        let _ = writeln!(s, "{line}");
        overhead.entry(r.query.name).or_default().push(r.medians[0]);
    }
    let _ = writeln!(
        s,
        "\n## sqlgate: restricted account against privileged\n\n| query | restricted / privileged |\n|---|---:|"
    );
    for (name, t) in &overhead {
        if let [privileged, restricted] = t.as_slice() {
            let _ = writeln!(
                s,
                "| {name} | {:.2}x |",
                restricted.as_secs_f64() / privileged.as_secs_f64().max(1e-9)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nRows marked ≠ differ between sqlgate and PostgreSQL: the two rule sets disagree \
         for that query, and its timing compares different work."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(account: &'static str, medians_ms: &[u64], rows: &[u64]) -> Row {
        Row {
            account,
            query: Query {
                name: "grouped aggregate",
                sql: String::new(),
                mode: Mode::Text,
            },
            medians: medians_ms
                .iter()
                .map(|&m| Duration::from_millis(m))
                .collect(),
            rows: rows.to_vec(),
        }
    }

    fn versions(datafusion_postgres: Option<&str>) -> Versions<'_> {
        Versions {
            sqlgate: "sqlgate 0.1.0",
            postgres: "15.18",
            datafusion_postgres,
        }
    }

    #[test]
    fn the_report_adds_datafusion_postgres_columns_only_when_it_ran() {
        let args = Args::parse_from(["sqlgate-bench"]);
        let two = [
            row("privileged", &[10, 200], &[25, 25]),
            row("restricted", &[20, 300], &[20, 20]),
        ];
        let report = render(&args, &two, &versions(None), None, None);
        assert!(report.contains(
            "| grouped aggregate | privileged | 10.0 | 200.0 | 20.00x | 25 / 25 |  |  |"
        ));
        assert!(report.contains("datafusion-postgres: not installed"));
        assert!(report.contains("| grouped aggregate | 2.00x |"), "{report}");

        let three = [
            row("privileged", &[10, 200, 40], &[25, 25, 25]),
            // datafusion-postgres sees every row: not flagged, as only
            // sqlgate and PostgreSQL apply the same rules.
            row("restricted", &[20, 300, 40], &[20, 20, 25]),
        ];
        let report = render(
            &args,
            &three,
            &versions(Some("datafusion-postgres 0.19.0")),
            None,
            None,
        );
        assert!(report.contains("| datafusion-postgres ms | ratio |"));
        assert!(report.contains(
            "| grouped aggregate | privileged | 10.0 | 200.0 | 20.00x | 40.0 | 4.00x | 25 / 25 / 25 |  |  |  |"
        ));
        assert!(report.contains(
            "| grouped aggregate | restricted | 20.0 | 300.0 | 15.00x | 40.0 | 2.00x | 20 / 20 / 25 |  |  |  |"
        ));
        assert!(report.contains("datafusion-postgres: datafusion-postgres 0.19.0"));

        let mismatch = [row("restricted", &[20, 300, 40], &[19, 20, 25])];
        let report = render(&args, &mismatch, &versions(Some("x")), None, None);
        assert!(report.contains("19 / 20 / 25 ≠"));
    }

    #[test]
    fn the_report_gives_memory_under_a_slow_reader_only_when_it_was_measured() {
        let args = Args::parse_from(["sqlgate-bench"]);
        let one = [row("privileged", &[10, 200], &[25, 25])];
        let slow = SlowStream {
            rows: 10_000_000,
            stall: raw::Stall {
                every: 1_000_000,
                pause: Duration::from_secs(1),
            },
            elapsed: Duration::from_millis(18_300),
            before_mib: 150,
            peak_mib: 210,
        };
        let report = render(&args, &one, &versions(None), Some(230), Some(&slow));
        assert!(report.contains("peak resident memory over the whole run: 230 MiB"));
        assert!(
            report.contains(
                "streaming 10000000 rows (20 columns, binary) to a client that stops reading \
                 for 1 s after every 1000000 rows: 150 MiB at the start, 210 MiB at the peak \
                 (18.3 s, pauses included)"
            ),
            "{report}"
        );
        let report = render(&args, &one, &versions(None), Some(230), None);
        assert!(!report.contains("slow"), "{report}");
        assert!(!report.contains("stops reading"), "{report}");
    }
}
