//! Shared fixtures: one event of every kind, and line-level file surgery.

#![allow(dead_code)] // each test file uses a different part

use std::path::Path;

use sqlgate_audit::{AuditLog, Event, LoginMethod, Outcome, statement_digest};

/// One event of every kind, numbered by `i` so records differ.
pub fn every_kind(i: u64) -> Vec<Event> {
    let account = format!("svc_{i}");
    let peer = format!("10.0.0.{}:5{:04}", i % 250, i % 10_000);
    vec![
        Event::ServerStart {
            version: "0.1.0".into(),
        },
        Event::Login {
            account: account.clone(),
            peer: peer.clone(),
            method: LoginMethod::Scram,
            outcome: Outcome::Success,
            reason: None,
        },
        Event::Login {
            account: "nobody".into(),
            peer: peer.clone(),
            method: LoginMethod::Certificate,
            outcome: Outcome::Failure,
            reason: Some("unknown certificate subject".into()),
        },
        Event::AccessBlocked {
            account: None,
            peer: peer.clone(),
            reason: "no access policy allows this address".into(),
        },
        Event::RateLimited {
            account: account.clone(),
            peer: peer.clone(),
            limit: 500,
            reset_at: "2026-11-22T14:00:00Z".into(),
        },
        Event::TableDenied {
            account: account.clone(),
            peer: peer.clone(),
            table: "sys_user".into(),
        },
        Event::FieldsMasked {
            account: account.clone(),
            peer: peer.clone(),
            table: "incident".into(),
            fields: vec!["caller_id".into(), "work_notes".into()],
        },
        Event::Query {
            account: account.clone(),
            peer,
            digest: statement_digest(&format!("SELECT * FROM incident LIMIT {i}")),
            tables: vec!["incident".into(), "task".into()],
            rows: i,
            bytes: i * 100,
            duration_ms: 12,
            outcome: Outcome::Failure,
            sqlstate: Some("57014".into()),
        },
        Event::PolicyReload {
            outcome: Outcome::Success,
            detail: "policy \"quoted\" \u{e9}\n reloaded".into(),
        },
        Event::ServerStop {
            reason: "SIGTERM".into(),
        },
    ]
}

/// Writes `n` records (cycling through every kind) to a new log at `path`.
pub async fn write_log(path: &Path, n: u64) -> Vec<Event> {
    let log = AuditLog::open(path).await.unwrap();
    let events: Vec<Event> = (0..)
        .flat_map(every_kind)
        .take(usize::try_from(n).unwrap())
        .collect();
    for event in &events {
        log.record(event.clone());
    }
    log.shutdown().await.unwrap();
    events
}

/// The file's lines, each with its newline.
pub fn lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

pub fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

pub fn json(line: &[u8]) -> serde_json::Value {
    serde_json::from_slice(line).unwrap()
}
