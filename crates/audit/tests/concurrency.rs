//! Many writers at once: nothing lost, nothing duplicated, each writer's
//! records in its own order, all on disk when `shutdown` returns.

mod common;

use std::collections::HashMap;

use common::lines;
use sqlgate_audit::{AuditLog, Event, Outcome, verify};

const TASKS: u64 = 50;
const PER_TASK: u64 = 200;

fn query(task: u64, n: u64) -> Event {
    Event::Query {
        account: format!("task{task}"),
        peer: "127.0.0.1:40000".into(),
        digest: sqlgate_audit::statement_digest("SELECT number FROM incident"),
        tables: vec!["incident".into()],
        rows: n,
        bytes: 0,
        duration_ms: 1,
        outcome: Outcome::Success,
        sqlstate: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_persists_everything_from_concurrent_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).await.unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                for n in 0..PER_TASK {
                    log.record(query(task, n));
                    if n % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Plain threads, outside the runtime, may record too.
    let threads: Vec<_> = (TASKS..TASKS + 2)
        .map(|task| {
            let log = log.clone();
            std::thread::spawn(move || (0..PER_TASK).for_each(|n| log.record(query(task, n))))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let watcher = log.clone();
    log.shutdown().await.unwrap();
    assert_eq!(watcher.backlog(), 0);

    let total = (TASKS + 2) * PER_TASK;
    let report = verify(&path).unwrap();
    assert_eq!(report.records, total);
    assert_eq!(report.last_seq, Some(total));

    // Each writer's records all present, once, in the order recorded.
    let mut next: HashMap<String, u64> = HashMap::new();
    for line in lines(&path) {
        let Event::Query { account, rows, .. } = serde_json::from_slice(&line).unwrap() else {
            panic!("unexpected event");
        };
        let expected = next.entry(account.clone()).or_default();
        assert_eq!(rows, *expected, "{account}");
        *expected += 1;
    }
    assert_eq!(next.len() as u64, TASKS + 2);
    assert!(next.values().all(|&n| n == PER_TASK));
}

#[tokio::test]
async fn a_burst_larger_than_a_batch_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).await.unwrap();
    // ~400 bytes a record: several batches' worth, queued before the writer
    // runs on this single-threaded runtime.
    for n in 0..20_000 {
        log.record(query(0, n));
    }
    assert!(log.backlog() > 0);
    log.shutdown().await.unwrap();
    assert_eq!(verify(&path).unwrap().records, 20_000);
}
