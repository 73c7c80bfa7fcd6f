//! The demo: a generated data set, a policy whose accounts show the ACL
//! model at work, a self-signed certificate, and the psql lines to try it.
//! Everything lives in one folder (`.sqlgate-demo/` by default) and is
//! generated once (again when the scale asked for or the generator's file
//! layout changes); delete the folder to start over.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use sqlgate_records::demo::{self, DemoOptions, Progress};

use crate::config::{self, Config};
use crate::serve::BoxError;

/// The demo policy, with `@USER(name)@`, `@SCRAM(name)@` placeholders.
const POLICY_TEMPLATE: &str = include_str!("../fixtures/demo-policy.toml");

/// Demo accounts: (user name, password, what it shows). Passwords are for
/// the demo only; they are printed on purpose.
pub const DEMO_ACCOUNTS: &[(&str, &str, &str)] = &[
    (
        "svc_powerbi",
        "demo-powerbi",
        "privileged BI account: every granted table, no row or field checks",
    ),
    (
        "svc_tableau",
        "demo-tableau",
        "BI account under row and field checks",
    ),
    (
        "svc_desk",
        "demo-desk",
        "service desk: incidents of its groups only, some fields masked",
    ),
    ("svc_hr", "demo-hr", "HR cases, with the salary field"),
    (
        "svc_noegress",
        "demo-noegress",
        "read ACL on incident but no egress_sql: incident does not exist for it",
    ),
    (
        "jane.interactive",
        "demo-jane",
        "interactive account: refused (28000)",
    ),
    (
        "svc_locked",
        "demo-locked",
        "locked-out account: refused (28000)",
    ),
];

/// Group roles of the demo policy, by group name.
const GROUP_ROLES: &[(&str, &[&str])] = &[
    ("Service Desk", &["itil"]),
    ("Hardware", &["itil"]),
    ("Network", &["itil"]),
    ("HR Tier 1", &["hr_reader"]),
    ("Payroll", &["hr_reader", "hr_salary"]),
];

/// Writes the demo data set with a progress line on stderr.
pub fn generate_data(out: &Path, scale: u64) -> Result<(), BoxError> {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let last = Mutex::new(Instant::now());
    let progress = |p: Progress| {
        let mut last = last.lock().expect("progress");
        if p.rows_done == p.rows_total || last.elapsed().as_millis() >= 500 {
            *last = Instant::now();
            let line = format!(
                "  {:<20} {:>10} / {} rows",
                p.table, p.rows_done, p.rows_total
            );
            if tty {
                eprint!("\r{line}\x1b[K");
            } else if p.rows_done == p.rows_total {
                eprintln!("{line}");
            }
        }
    };
    eprintln!(
        "generating demo data (scale {scale}) into {}",
        out.display()
    );
    let summary = demo::generate(
        out,
        &DemoOptions {
            scale,
            ..DemoOptions::default()
        },
        &progress,
    )?;
    if tty {
        eprintln!();
    }
    let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    eprintln!(
        "wrote {} tables, {rows} rows in {:.1}s",
        summary.tables.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The demo policy text, with fresh verifiers for the demo passwords.
pub fn policy_text() -> Result<String, BoxError> {
    let users = demo::demo_service_accounts();
    let mut text = POLICY_TEMPLATE.to_owned();
    for (name, password, _) in DEMO_ACCOUNTS {
        let user = users
            .iter()
            .find(|u| u.user_name == *name)
            .ok_or_else(|| format!("demo data has no account {name}"))?;
        let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
        text = text
            .replace(&format!("@USER({name})@"), user.sys_id)
            .replace(
                &format!("@GROUPS({name})@"),
                &format!("[{}]", groups.join(", ")),
            )
            .replace(
                &format!("@SCRAM({name})@"),
                &sqlgate_wire::scram::hash_password(password),
            );
    }
    text.push_str("\n# Groups of the demo data set (sys_user_group), with their roles.\n");
    for g in demo::demo_groups() {
        let roles = GROUP_ROLES
            .iter()
            .find(|(n, _)| *n == g.name)
            .map(|(_, r)| {
                r.iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "\n[[group]]\nname = {:?}\nsys_id = {:?}\n{}roles = [{roles}]\n",
            g.name,
            g.sys_id,
            g.parent
                .as_ref()
                .map(|p| format!("parent = {p:?}\n"))
                .unwrap_or_default(),
        ));
    }
    Ok(text)
}

/// Makes sure the demo folder holds data, policy and certificate; returns
/// the config to serve it and the banner to print.
pub fn prepare(
    dir: &Path,
    scale: u64,
    listen: Option<SocketAddr>,
) -> Result<(Config, String), BoxError> {
    std::fs::create_dir_all(dir)?;
    let data_dir = dir.join("data");
    let marker = data_dir.join(".scale");
    let want = format!("{scale} layout {}", demo::LAYOUT);
    let have = std::fs::read_to_string(&marker).ok();
    if have.as_deref().map(str::trim) != Some(want.as_str()) {
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir)?;
        }
        generate_data(&data_dir, scale)?;
        std::fs::write(&marker, want)?;
    }
    let policy = dir.join("policy.toml");
    if !policy.exists() {
        std::fs::write(&policy, policy_text()?)?;
    }
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    if !cert.exists() || !key.exists() {
        let (cert_pem, key_pem) = sqlgate_wire::tls::self_signed_pem()?;
        std::fs::write(&cert, cert_pem)?;
        write_private(&key, key_pem.as_bytes())?;
    }
    let mut config = Config {
        server: config::Server {
            tls_cert: Some(cert.clone()),
            tls_key: Some(key),
            ..config::Server::default()
        },
        storage: config::Storage::new(data_dir),
        policy: config::PolicyFile {
            file: policy.clone(),
        },
        limits: config::Limits::default(),
        audit: Some(config::Audit {
            file: dir.join("audit.jsonl"),
        }),
        admin: Some(config::Admin {
            listen: "127.0.0.1:9187".parse().expect("valid address"),
        }),
        auth: config::Auth::default(),
    };
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    Ok((config.clone(), banner(&config, &cert, &policy)))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

fn banner(config: &Config, cert: &Path, policy: &Path) -> String {
    let cert = std::fs::canonicalize(cert).unwrap_or_else(|_| PathBuf::from(cert));
    let host = config.server.listen.ip();
    let port = config.server.listen.port();
    let mut out = format!("\nDemo accounts (policy: {}). Try:\n", policy.display());
    for (user, password, what) in DEMO_ACCOUNTS {
        out.push_str(&format!(
            "\n  # {user}: {what}\n  psql \"host={host} port={port} dbname=sqlgate user={user} password={password} sslmode=verify-full sslrootcert={}\"\n",
            cert.display()
        ));
    }
    out.push_str("\nThen: SELECT number, short_description, priority FROM incident LIMIT 5;\n");
    out
}
