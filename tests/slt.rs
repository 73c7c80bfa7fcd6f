//! Scripted SQL tests: every `tests/slt/*.slt` file (sqllogictest format)
//! runs over the wire, through TLS and SCRAM, against a real sqlgate
//! server holding the demo data set at scale 2,000 and the policy of
//! `tests/slt/policy.toml`. `tests/slt/README.md` tells how to write one.
//!
//! - Accounts: a `connection <user_name>` line runs the next record as that
//!   account of the policy (each account keeps one session per file); a
//!   record without one runs as the file's `# account: <user_name>`.
//! - Errors read `[SQLSTATE] message`, so `query error \[42P01\] ...`
//!   asserts a code and a text; `query error (42P01)` asserts the code.
//! - Values are PostgreSQL's text forms (`t`/`f` for booleans), NULL as
//!   `NULL`, an empty string as `(empty)`; column types are not checked,
//!   their count is.
//! - Every record of every file runs; each failure is reported with its
//!   file and line, and the test fails if any record failed.
//!
//! `SLT_FILTER=<text>` runs only the files whose name contains the text.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::policy::password;
use common::{Options, Server, data_set, verifier};
use sqllogictest::{
    AsyncDB, Connection, DBOutput, DefaultColumnType, Record, Runner, parse_with_name,
};
use tokio_postgres::{Client, SimpleQueryMessage};

/// The data set every file's expected values are computed from.
const SCALE: u64 = 2_000;

/// The folder of the scripts and their policy, relative to the package.
const DIR: &str = "tests/slt";

/// A failed statement as a script sees it: `[SQLSTATE] message`.
#[derive(Debug)]
struct SltError {
    code: Option<String>,
    message: String,
}

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "[{code}] {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SltError {}

impl From<tokio_postgres::Error> for SltError {
    fn from(e: tokio_postgres::Error) -> SltError {
        match e.as_db_error() {
            Some(db) => SltError {
                code: Some(db.code().code().to_owned()),
                message: db.message().to_owned(),
            },
            None => SltError {
                code: None,
                message: e.to_string(),
            },
        }
    }
}

/// One logged-in session of one account.
struct Session {
    client: Client,
}

impl Session {
    /// Runs `sql` with the simple query protocol (so a record may hold
    /// several statements, as psql sends them): the rows of every
    /// statement that returned rows, or the last command's row count.
    async fn simple(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let mut columns = None;
        let mut rows = Vec::new();
        let mut count = 0;
        for message in self.client.simple_query(sql).await? {
            match message {
                SimpleQueryMessage::RowDescription(c) => {
                    columns.get_or_insert(c.len());
                }
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            None => "NULL".to_owned(),
                            Some("") => "(empty)".to_owned(),
                            Some(v) => v.to_owned(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// The trait is declared with `async_trait`; these are the signatures it
// expands to, written out so the test needs no macro crate of its own.
impl AsyncDB for Session {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run<'a, 'b, 'c>(
        &'a mut self,
        sql: &'b str,
    ) -> BoxFuture<'c, Result<DBOutput<DefaultColumnType>, SltError>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(self.simple(sql))
    }

    fn shutdown<'a, 'c>(&'a mut self) -> BoxFuture<'c, ()>
    where
        'a: 'c,
        Self: 'c,
    {
        Box::pin(async {})
    }

    fn engine_name(&self) -> &str {
        "sqlgate"
    }

    fn error_sql_state(err: &SltError) -> Option<String> {
        err.code.clone()
    }
}

/// The policy file with a SCRAM verifier of `pw-<user_name>` added to
/// every account, and the account names.
fn policy() -> (String, BTreeSet<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(DIR)
        .join("policy.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{DIR}/policy.toml: {e}"));
    let mut doc: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{DIR}/policy.toml: {e}"));
    let mut users = BTreeSet::new();
    let accounts = doc
        .get_mut("account")
        .and_then(toml::Value::as_array_mut)
        .expect("policy.toml has [[account]] entries");
    for account in accounts {
        let account = account.as_table_mut().expect("[[account]] is a table");
        let user = account
            .get("user_name")
            .and_then(toml::Value::as_str)
            .expect("every account has a user_name")
            .to_owned();
        assert!(
            !account.contains_key("scram"),
            "{DIR}/policy.toml: account {user} has a scram key; the runner adds it (password pw-{user})"
        );
        account.insert("scram".into(), verifier(&password(&user)).into());
        users.insert(user);
    }
    (toml::to_string(&doc).unwrap(), users)
}

/// The `.slt` files, by name, that `SLT_FILTER` (if set) selects.
fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    files
}

/// The account named by a file's `# account: <user_name>` line.
fn default_account(script: &str) -> Option<String> {
    script.lines().find_map(|l| {
        l.trim()
            .strip_prefix('#')?
            .trim()
            .strip_prefix("account:")
            .map(|a| a.trim().to_owned())
    })
}

/// The connection a record runs on, if it runs SQL.
fn connection_of(record: &mut Record<DefaultColumnType>) -> Option<&mut Connection> {
    match record {
        Record::Statement { connection, .. }
        | Record::Query { connection, .. }
        | Record::Let { connection, .. } => Some(connection),
        _ => None,
    }
}

/// Runs one file; returns its record count and every failure's report.
async fn run_file(server: &Server, users: &BTreeSet<String>, path: &Path) -> (usize, Vec<String>) {
    let name = format!("{DIR}/{}", path.file_name().unwrap().to_string_lossy());
    let script = std::fs::read_to_string(path).unwrap();
    let records = match parse_with_name::<DefaultColumnType>(&script, name.as_str()) {
        Ok(r) => r,
        Err(e) => return (0, vec![format!("{e}")]),
    };
    let default = default_account(&script);
    // Connections are made lazily, on a record that names one not yet
    // open: `account` holds the user name of the record about to run.
    let account = Arc::new(Mutex::new(String::new()));
    let next = Arc::clone(&account);
    let mut runner = Runner::new(move || {
        let user = next.lock().unwrap().clone();
        async move {
            server
                .connect(&user, &password(&user))
                .await
                .map(|client| Session { client })
                .map_err(|e| {
                    let mut e = SltError::from(e);
                    e.message = format!("logging in as {user}: {}", e.message);
                    e
                })
        }
    });
    // Column types are not checked (the simple protocol reports none);
    // their number is.
    runner.with_column_validator(|actual, expected| actual.len() == expected.len());
    let (mut count, mut failures) = (0, Vec::new());
    for mut record in records {
        if let Record::Halt { .. } = record {
            break;
        }
        let loc = match &record {
            Record::Statement { loc, .. } | Record::Query { loc, .. } | Record::Let { loc, .. } => {
                Some(loc.clone())
            }
            _ => None,
        };
        if let Some(connection) = connection_of(&mut record) {
            count += 1;
            let user = match connection {
                Connection::Named(user) => Some(user.clone()),
                Connection::Default => default.clone(),
            };
            let user = match user {
                Some(user) if users.contains(&user) => user,
                other => {
                    failures.push(format!(
                        "{}: the accounts of {DIR}/policy.toml are {users:?}\nat {}",
                        match other {
                            Some(user) => format!("no account {user:?}"),
                            None => "no account to run as: add a `connection <user_name>` line \
                                     or the file's `# account: <user_name>` line"
                                .to_owned(),
                        },
                        loc.unwrap()
                    ));
                    continue;
                }
            };
            *connection = Connection::Named(user.clone());
            *account.lock().unwrap() = user;
        }
        if let Err(e) = runner.run_async(record).await {
            failures.push(e.display(false).to_string());
        }
    }
    runner.shutdown_async().await;
    (count, failures)
}

#[tokio::test]
async fn slt_scripts() {
    let started = Instant::now();
    let files = scripts();
    assert!(!files.is_empty(), "no {DIR}/*.slt file selected");
    let (policy, users) = policy();
    let server = Server::start(Options::new(data_set(SCALE), policy));
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for path in &files {
        let (count, failures) = run_file(&server, &users, path).await;
        report.push(format!(
            "{DIR}/{}: {count} records, {} failed",
            path.file_name().unwrap().to_string_lossy(),
            failures.len()
        ));
        failed.extend(failures);
    }
    eprintln!(
        "{}\n{} files in {:.1?}",
        report.join("\n"),
        files.len(),
        started.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{} failed records:\n\n{}",
        failed.len(),
        failed.join("\n")
    );
}
