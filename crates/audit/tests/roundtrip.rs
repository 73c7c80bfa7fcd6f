//! Writing events of every kind and reading them back through verification.

mod common;

use common::{json, lines, write_log};
use sqlgate_audit::{AuditError, AuditLog, Event, Outcome, verify};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn every_kind_round_trips_and_chains() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let events = write_log(&path, 100).await;

    let report = verify(&path).unwrap();
    assert_eq!(report.records, 100);
    assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(100)));

    let lines = lines(&path);
    assert_eq!(lines.len(), 100);
    let mut prev = GENESIS.to_owned();
    for (i, (line, event)) in lines.iter().zip(&events).enumerate() {
        let value = json(line);
        assert_eq!(value["seq"], i as u64 + 1);
        assert_eq!(value["prev"], prev.as_str());
        assert_eq!(value["event"], event.kind());
        let back: Event = serde_json::from_slice(line).unwrap();
        assert_eq!(&back, event);
        prev = value["hash"].as_str().unwrap().to_owned();
    }
    assert_eq!(report.last_hash.as_deref(), Some(prev.as_str()));
}

#[tokio::test]
async fn the_fields_follow_the_chain_fields_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).await.unwrap();
    log.record(Event::PolicyReload {
        outcome: Outcome::Success,
        detail: "ok".into(),
    });
    log.shutdown().await.unwrap();
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let (head, tail) = text.split_at(text.find(",\"prev\"").unwrap());
    assert!(head.starts_with("{\"seq\":1,\"ts\":\""), "{text}");
    assert!(head.ends_with("Z\""), "{text}");
    let tail = tail.strip_suffix("\"}\n").unwrap();
    let (body, hash) = tail.split_at(tail.len() - 64);
    assert_eq!(
        body,
        format!(
            ",\"prev\":\"{GENESIS}\",\"event\":\"policy_reload\",\"outcome\":\"success\",\"detail\":\"ok\",\"hash\":\""
        )
    );
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn an_unused_log_is_empty_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    AuditLog::open(&path)
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let report = verify(&path).unwrap();
    assert_eq!(report.records, 0);
    assert_eq!(report.last_seq, None);
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_log_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 1).await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn after_shutdown_records_are_refused_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).await.unwrap();
    let other = log.clone();
    log.record(Event::ServerStop {
        reason: "test".into(),
    });
    log.shutdown().await.unwrap();
    other.record(Event::ServerStop {
        reason: "too late".into(),
    });
    assert_eq!(other.backlog(), 0);
    assert!(matches!(other.shutdown().await, Err(AuditError::Closed)));
    assert_eq!(verify(&path).unwrap().records, 1);
}

#[test]
fn a_handle_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<AuditLog>();
}
