//! Re-opening a log continues its chain, and a broken log is never extended.

mod common;

use common::{every_kind, json, lines, write_lines, write_log};
use sqlgate_audit::{AuditError, AuditLog, Breach, VerifyError, verify};

#[tokio::test]
async fn reopening_continues_seq_and_prev() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 7).await;
    // An open with nothing recorded changes nothing.
    AuditLog::open(&path)
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let log = AuditLog::open(&path).await.unwrap();
    for event in every_kind(99).into_iter().take(5) {
        log.record(event);
    }
    log.shutdown().await.unwrap();

    let report = verify(&path).unwrap();
    assert_eq!(report.records, 12);
    assert_eq!(report.last_seq, Some(12));
    let lines = lines(&path);
    let (seventh, eighth) = (json(&lines[6]), json(&lines[7]));
    assert_eq!(eighth["seq"], 8);
    assert_eq!(eighth["prev"], seventh["hash"]);
}

#[tokio::test]
async fn a_broken_log_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 10).await;
    let mut lines = lines(&path);
    lines[2] = String::from_utf8(lines[2].clone())
        .unwrap()
        .replacen("unknown certificate", "known certificate", 1)
        .into_bytes();
    write_lines(&path, &lines);
    let before = std::fs::read(&path).unwrap();

    let err = AuditLog::open(&path).await.unwrap_err();
    match &err {
        AuditError::Broken {
            source:
                VerifyError::Broken {
                    line: 3,
                    seq: Some(3),
                    breach: Breach::Edited,
                },
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("refusing to append"), "{message}");
    assert!(message.contains("line 3 (seq 3)"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the log was not touched"
    );
}

#[tokio::test]
async fn a_torn_last_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 3).await;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&path, &bytes).unwrap();
    let message = AuditLog::open(&path).await.unwrap_err().to_string();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("incomplete"), "{message}");
}

#[tokio::test]
async fn a_file_that_is_not_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:5433\"\n").unwrap();
    let message = AuditLog::open(&path).await.unwrap_err().to_string();
    assert!(message.contains("line 1"), "{message}");
}

#[tokio::test]
async fn one_log_has_one_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let first = AuditLog::open(&path).await.unwrap();
    assert!(matches!(
        AuditLog::open(&path).await,
        Err(AuditError::InUse { .. })
    ));
    first.shutdown().await.unwrap();
    // The lock goes with the writer.
    AuditLog::open(&path)
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_directory_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent").join("audit.jsonl");
    let err = AuditLog::open(&path).await.unwrap_err();
    assert!(matches!(err, AuditError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("audit.jsonl"));
}
