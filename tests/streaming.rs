//! Results stream: a large result passes through a server whose memory stays
//! bounded, even for a slow reader; cancel and statement_timeout stop a
//! query whether it is computing or already sending rows; the connection
//! cap answers 53300.

mod common;

use std::time::{Duration, Instant};

use common::policy::{password, standard};
use common::{Options, Server, code, data_set};
use futures::{StreamExt, pin_mut};

const SCALE: u64 = 2_000;

/// Every incident 150 times: ~300k rows of ~30 columns, far larger than
/// any memory bound we assert, produced by a plan that streams.
const BIG: &str = "SELECT i.*, g.value FROM incident i CROSS JOIN generate_series(1, 150) g";

/// Ten million rows: minutes of streaming.
const ENDLESS: &str = "SELECT i.*, g.value FROM incident i CROSS JOIN generate_series(1, 5000) g";

/// A query that computes for a long time before its first row.
const SLOW: &str = "SELECT count(*) FROM incident a, incident b, incident c WHERE a.priority + b.priority > c.priority";

#[tokio::test]
async fn a_large_result_streams_to_a_slow_client_with_the_server_memory_bounded() {
    let s = Server::start(Options::new(data_set(SCALE), standard()));
    // 20 MB/s: the whole result takes seconds to read, so the server has to
    // wait on the socket rather than buffer what the client has not read.
    let (c, read) = s
        .connect_slow("svc_all", &password("svc_all"), 20 << 20)
        .await;
    c.simple_query("SELECT 1").await.unwrap();
    let (baseline, _) = s.rss_kib();

    let stream = c.query_raw(BIG, std::iter::empty::<i32>()).await.unwrap();
    pin_mut!(stream);
    let (mut rows, mut peak) = (0u64, 0u64);
    while let Some(row) = stream.next().await {
        row.unwrap();
        rows += 1;
        if rows % 10_000 == 0 {
            peak = peak.max(s.rss_kib().0);
        }
    }
    let expected = common::row_count(&data_set(SCALE), "incident") as u64 * 150;
    assert_eq!(rows, expected);
    let bytes = read.load(std::sync::atomic::Ordering::Relaxed);
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!(
        "streamed {rows} rows, {} MiB on the wire; server RSS {} -> {} MiB",
        bytes >> 20,
        baseline / 1024,
        peak / 1024
    );
    assert!(
        bytes > 200 << 20,
        "the result must dwarf the bound to mean anything"
    );
    assert!(
        growth_mib < 100,
        "server RSS grew {growth_mib} MiB while streaming"
    );
}

#[tokio::test]
async fn cancel_stops_a_computing_query_and_a_streaming_one() {
    let s = Server::start(Options::new(data_set(SCALE), standard()));
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();

    // Still computing.
    let token = c.cancel_token();
    let tls = s.tls();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(tls).await.unwrap();
    });
    let started = Instant::now();
    let e = c.simple_query(SLOW).await.unwrap_err();
    canceller.await.unwrap();
    assert_eq!(code(&e), "57014", "{e}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // Already streaming rows (a result that would take minutes).
    let stream = c
        .query_raw(ENDLESS, std::iter::empty::<i32>())
        .await
        .unwrap();
    pin_mut!(stream);
    for _ in 0..1_000 {
        stream.next().await.unwrap().unwrap();
    }
    c.cancel_token().cancel_query(s.tls()).await.unwrap();
    let mut outcome = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            outcome = Some(code(&e));
            break;
        }
    }
    assert_eq!(outcome.as_deref(), Some("57014"));

    // The session is still usable, and a cancel when idle does nothing.
    c.cancel_token().cancel_query(s.tls()).await.unwrap();
    // A CancelRequest is asynchronous (the client does not wait for the
    // server to act on it): give it time to land while the session idles.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = c.simple_query("SELECT 7").await.unwrap();
    assert_eq!(n.len(), 3);
}

#[tokio::test]
async fn statement_timeout_stops_long_queries() {
    let s = Server::start(Options::new(data_set(SCALE), standard()));
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    c.simple_query("SET statement_timeout = '300ms'")
        .await
        .unwrap();
    let started = Instant::now();
    let e = c.simple_query(SLOW).await.unwrap_err();
    assert_eq!(code(&e), "57014");
    assert!(
        e.as_db_error()
            .unwrap()
            .message()
            .contains("statement timeout")
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    c.simple_query("RESET statement_timeout").await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn the_connection_cap_answers_53300() {
    let mut opts = Options::new(data_set(SCALE), standard());
    opts.max_connections = 2;
    let s = Server::start(opts);
    let a = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let b = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let e = s
        .connect("svc_all", &password("svc_all"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "53300");
    drop(a);
    // The slot frees once the first connection is gone.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = s.connect("svc_all", &password("svc_all")).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some());
    drop(b);
}

/// Rows go out as whole encoded batches when all are asked for, and row by
/// row through a suspended portal when a limit is: both ways, and the
/// simple protocol, must give the same rows in the same order, also where
/// a limit cuts a batch (30,000 rows in 8,192-row batches, taken 3,001 at a
/// time).
#[tokio::test]
async fn limited_portals_and_whole_results_send_the_same_rows() {
    let s = Server::start(Options::new(data_set(SCALE), standard()));
    let mut c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let sql = "SELECT i.number, i.short_description, g.value::text AS copy \
               FROM incident i CROSS JOIN generate_series(1, 15) g ORDER BY g.value, i.number";
    let text = |r: &tokio_postgres::Row| -> Vec<Option<String>> {
        (0..r.len())
            .map(|i| r.get::<_, Option<String>>(i))
            .collect()
    };

    let whole: Vec<_> = c.query(sql, &[]).await.unwrap().iter().map(text).collect();
    let expected = common::row_count(&data_set(SCALE), "incident") as usize * 15;
    assert_eq!(whole.len(), expected);
    assert!(
        whole.len() > 3 * 8_192,
        "the result must span several batches"
    );

    let tx = c.transaction().await.unwrap();
    let portal = tx.bind(sql, &[]).await.unwrap();
    let mut pieces = Vec::new();
    let mut limited = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 3_001).await.unwrap();
        if rows.is_empty() {
            break;
        }
        pieces.push(rows.len());
        limited.extend(rows.iter().map(text));
    }
    tx.commit().await.unwrap();
    assert!(
        pieces[..pieces.len() - 1].iter().all(|&n| n == 3_001),
        "{pieces:?}"
    );
    assert_eq!(limited, whole);

    let simple: Vec<Vec<Option<String>>> = c
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect();
    assert_eq!(simple, whole);
}
