//! Load, on loopback and bounded in time: 200 concurrent well-behaved
//! sessions running a mix of queries, while a stream of failed logins and
//! clients over their rate limit hammer the same server. Well-behaved
//! sessions see no error and correct answers; every login, refusal and
//! query is in the audit log and the chain verifies; the server's memory
//! stays bounded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::policy::{password, standard};
use common::{Options, Server, audit_records, audit_verify, code, data_set};
use tokio_postgres::SimpleQueryMessage;

const SESSIONS: usize = 200;
const QUERIES_PER_SESSION: usize = 6;
const FAILED_LOGINS: usize = 60;
const OVER_LIMIT_CLIENTS: usize = 10;
/// svc_hr's hourly budget in this test.
const HR_LIMIT: u64 = 5;

fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_with_failed_logins_and_over_limit_clients() {
    let mut opts = Options::new(data_set(2_000), standard());
    opts.max_connections = SESSIONS + OVER_LIMIT_CLIENTS + FAILED_LOGINS + 10;
    opts.policy = format!(
        "{}\n[[rate_limit]]\napplies_to = \"user\"\nuser = \"svc_hr\"\nqueries_per_hour = {HR_LIMIT}\n",
        standard()
    );
    opts.extra = "[audit]\nfile = \"audit.jsonl\"\n[limits]\nconnection_attempts_per_minute = 100000\nlockout_threshold = 1000000\n".into();
    let mut s = Server::start(opts);
    let s_ref = &s;
    let started = Instant::now();

    // The reference answers, from one session before the load.
    let reference = s.connect("svc_priv", &password("svc_priv")).await.unwrap();
    let count = rows(
        &reference
            .simple_query("SELECT count(*) FROM incident")
            .await
            .unwrap(),
    )[0][0]
        .clone()
        .unwrap();
    let by_priority = rows(
        &reference
            .simple_query(
                "SELECT priority, count(*) FROM incident GROUP BY priority ORDER BY priority",
            )
            .await
            .unwrap(),
    );
    drop(reference);

    let ok_queries = Arc::new(AtomicU64::new(0));
    let rate_limited = Arc::new(AtomicU64::new(0));

    let good = (0..SESSIONS).map(|i| {
        let ok_queries = Arc::clone(&ok_queries);
        let count = count.clone();
        let by_priority = by_priority.clone();
        async move {
            let user = if i % 2 == 0 { "svc_all" } else { "svc_priv" };
            let c = s_ref
                .connect(user, &password(user))
                .await
                .unwrap_or_else(|e| panic!("session {i}: login failed: {e}"));
            for q in 0..QUERIES_PER_SESSION {
                match (i + q) % 4 {
                    0 => {
                        let r = rows(&c.simple_query("SELECT count(*) FROM incident").await.unwrap());
                        assert_eq!(r[0][0].as_deref(), Some(count.as_str()), "session {i}");
                    }
                    1 => {
                        let r = rows(
                            &c.simple_query(
                                "SELECT priority, count(*) FROM incident GROUP BY priority ORDER BY priority",
                            )
                            .await
                            .unwrap(),
                        );
                        assert_eq!(r, by_priority, "session {i}");
                    }
                    2 => {
                        let r = c
                            .query(
                                "SELECT number, short_description FROM incident WHERE priority = $1 ORDER BY number LIMIT 20",
                                &[&((i % 4) as i32 + 1)],
                            )
                            .await
                            .unwrap_or_else(|e| panic!("session {i}: {e}"));
                        assert!(r.len() <= 20);
                    }
                    _ => {
                        let r = rows(
                            &c.simple_query(
                                "SELECT count(*) FROM incident i JOIN sys_user u ON i.caller_id = u.sys_id",
                            )
                            .await
                            .unwrap_or_else(|e| panic!("session {i}: {e}")),
                        );
                        assert_eq!(r.len(), 1);
                    }
                }
                ok_queries.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let failed = (0..FAILED_LOGINS).map(|i| async move {
        // Unknown names and wrong passwords of real accounts alike.
        let user = if i % 2 == 0 {
            format!("intruder_{i}")
        } else {
            "svc_locked".to_owned()
        };
        let Err(e) = s_ref.connect(&user, "guess").await else {
            panic!("{user} logged in with a guessed password");
        };
        assert!(matches!(code(&e).as_str(), "28P01" | "28000"), "{e}");
    });

    let over = (0..OVER_LIMIT_CLIENTS).map(|i| {
        let rate_limited = Arc::clone(&rate_limited);
        let ok_queries = Arc::clone(&ok_queries);
        async move {
            let c = s_ref.connect("svc_hr", &password("svc_hr")).await.unwrap();
            for _ in 0..3 {
                match c.simple_query("SELECT count(*) FROM sn_hr_core_case").await {
                    Ok(_) => {
                        ok_queries.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        assert_eq!(code(&e), "53400", "over-limit client {i}: {e}");
                        rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    });

    let sampler = async {
        let mut peak = 0;
        while started.elapsed() < Duration::from_secs(600) {
            peak = peak.max(s_ref.rss_kib().0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    };
    let work = async {
        tokio::join!(
            futures::future::join_all(good),
            futures::future::join_all(failed),
            futures::future::join_all(over),
        )
    };
    let sampled = tokio::select! {
        _ = work => s.rss_kib().1,
        _ = sampler => panic!("the load did not finish in 10 minutes"),
    };
    let elapsed = started.elapsed();
    let ok = ok_queries.load(Ordering::Relaxed);
    let limited = rate_limited.load(Ordering::Relaxed);
    println!(
        "{SESSIONS} sessions, {ok} queries, {limited} rate-limited, {FAILED_LOGINS} failed logins in {elapsed:?}; server peak RSS {} MiB",
        sampled / 1024
    );
    assert_eq!(
        ok,
        (SESSIONS * QUERIES_PER_SESSION) as u64 + (HR_LIMIT.min((OVER_LIMIT_CLIENTS * 3) as u64))
    );
    assert_eq!(limited, (OVER_LIMIT_CLIENTS * 3) as u64 - HR_LIMIT);
    assert!(
        sampled < 512 * 1024,
        "server peak RSS {} MiB",
        sampled / 1024
    );

    // Everything in the audit log, and the chain intact after a clean stop.
    let status = s
        .terminate(Duration::from_secs(60))
        .expect("exits on SIGTERM");
    assert!(status.success());
    let log = s.dir.path().join("audit.jsonl");
    let records = audit_records(&log);
    let count_of =
        |pred: &dyn Fn(&serde_json::Value) -> bool| records.iter().filter(|r| pred(r)).count();
    // +1: the reference session.
    assert_eq!(
        count_of(&|r| r["event"] == "login" && r["outcome"] == "success"),
        SESSIONS + OVER_LIMIT_CLIENTS + 1
    );
    assert_eq!(
        count_of(&|r| r["event"] == "login" && r["outcome"] == "failure"),
        FAILED_LOGINS
    );
    assert_eq!(
        count_of(&|r| r["event"] == "query" && r["outcome"] == "success") as u64,
        ok + 2
    );
    assert_eq!(count_of(&|r| r["event"] == "rate_limited") as u64, limited);
    let (ok, out) = audit_verify(&log);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{} records", records.len())), "{out}");
}
