//! The `sqlgate` command: a PostgreSQL-wire SQL API over record tables,
//! held to ServiceNow-style access control lists.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod admin;
mod config;
mod demo;
mod explain;
mod serve;

use config::Config;
use serve::BoxError;

/// sqlgate: query record tables over the PostgreSQL wire protocol, with
/// every query held to the account's access control lists.
///
/// Start with the demo:
///
///   sqlgate serve --demo
///
/// then paste one of the psql lines it prints. For your own data:
/// `sqlgate demo-data --out data` shows the expected layout (tables.toml +
/// one folder of Parquet files per table), `sqlgate hash-password` makes
/// account verifiers, `sqlgate check-policy` validates a setup before you
/// serve it.
#[derive(Debug, Parser)]
#[command(name = "sqlgate", version, about, long_about, max_term_width = 100)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SQLGATE_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log filter, e.g. `info`, `sqlgate_wire=debug` (also RUST_LOG).
    #[arg(long, global = true, default_value = "info", env = "SQLGATE_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check an audit log's hash chain; names the first broken record
    /// (edited, removed, reordered or malformed). Exit 0 when intact.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// With --demo: generates the demo data set (cached in --data-dir),
    /// writes the demo policy and a self-signed certificate there, listens
    /// on 127.0.0.1:5433 and prints ready-to-paste psql lines. With
    /// --config: runs from a sqlgate.toml.
    Serve {
        /// Serve the embedded demo data set and demo policy.
        #[arg(long, conflicts_with = "config", required_unless_present = "config")]
        demo: bool,
        /// The sqlgate.toml to run from.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen here instead of the configured address (port 0 = any free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve /metrics and /healthz here instead of the configured admin
        /// address (the demo's default is 127.0.0.1:9187).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Demo only: where the demo files live.
        #[arg(long, default_value = ".sqlgate-demo", requires = "demo")]
        data_dir: PathBuf,
        /// Demo only: number of incidents (other tables in proportion).
        #[arg(long, default_value_t = 10_000, requires = "demo")]
        scale: u64,
    },
    /// Write the deterministic ServiceNow-like demo data set: tables.toml
    /// and one folder of Parquet files per table.
    DemoData {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of incidents; the other tables are sized in proportion.
        #[arg(long, default_value_t = 10_000)]
        scale: u64,
    },
    /// Read a password on stdin and print its SCRAM-SHA-256 verifier, in
    /// PostgreSQL's format, for an account's `scram` field.
    HashPassword,
    /// Validate a config, its tables and its policy; print every error with
    /// its position and exit non-zero if there is any.
    CheckPolicy {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Explain an account's access: to a table (the gate), a field, or one
    /// record (by sys_id) — every candidate ACL, level by level, what
    /// matched, what passed and why.
    ///
    /// Exit status: 0 when the table is in the account's catalog, 2 when it
    /// is not, 1 on error.
    ExplainAccess {
        #[arg(long, short)]
        config: PathBuf,
        /// The account (user_name).
        #[arg(long)]
        account: String,
        /// The table queried.
        #[arg(long)]
        table: String,
        /// A field of the table.
        #[arg(long)]
        field: Option<String>,
        /// A record of the table or of a child table, by sys_id.
        #[arg(long)]
        sys_id: Option<String>,
    },
}

fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// glibc gives each thread that allocates an arena of its own (up to 8 per
/// core), and a freed block goes back to the arena it came from: batches
/// decoded and encoded on one worker thread and written and freed on
/// another leave every arena at its high-water mark. Measured streaming 10M
/// rows to a slow client: 589 MiB peak with glibc's default, 311 MiB with
/// one arena per core. An explicit `MALLOC_ARENA_MAX` still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets an allocator parameter; it runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(&cli);
    // Deep query plans recurse; a generous stack keeps them off the edge.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 * 1024 * 1024)
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sqlgate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, BoxError> {
    match command {
        Command::Serve {
            demo,
            config,
            listen,
            admin_listen,
            data_dir,
            scale,
        } => {
            let (mut config, banner) = if demo {
                let (config, banner) = demo::prepare(&data_dir, scale, listen)?;
                (config, Some(banner))
            } else {
                let path = config.expect("clap requires --config without --demo");
                (Config::load(&path)?, None)
            };
            if let Some(addr) = listen {
                config.server.listen = addr;
            }
            if let Some(addr) = admin_listen {
                config.admin = Some(config::Admin { listen: addr });
            }
            serve::run(config, banner).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoData { out, scale } => {
            demo::generate_data(&out, scale)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::HashPassword => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            if password.is_empty() {
                return Err("no password on stdin".into());
            }
            println!("{}", sqlgate_wire::scram::hash_password(password));
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckPolicy { config } => check_policy(&config).await,
        Command::Audit(AuditCommand::Verify { file }) => match sqlgate_audit::verify(&file) {
            Ok(report) => {
                println!(
                    "ok: {} records (seq {}..{}), last hash {}",
                    report.records,
                    report.first_seq.map_or("-".into(), |s| s.to_string()),
                    report.last_seq.map_or("-".into(), |s| s.to_string()),
                    report.last_hash.as_deref().unwrap_or("-")
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::ExplainAccess {
            config,
            account,
            table,
            field,
            sys_id,
        } => {
            explain::run(
                &config,
                explain::Request {
                    account: &account,
                    table: &table,
                    field: field.as_deref(),
                    sys_id: sys_id.as_deref(),
                },
            )
            .await
        }
    }
}

async fn check_policy(path: &std::path::Path) -> Result<ExitCode, BoxError> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let registry = match config.storage.registry().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", config.storage.data_dir.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    // The credential files the server reads at start: a bad one would
    // stop it, so say so now.
    if let Err(e) = serve::load_credentials(&config) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    let tables = sqlgate_engine::acl_tables(&registry);
    match serve::load_policy(&config.policy.file, &tables) {
        Ok(policy) => {
            println!(
                "ok: {} tables, {} accounts, {} active ACLs",
                tables.iter().count(),
                policy.accounts().count(),
                policy.acls().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
