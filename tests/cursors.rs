//! SQL cursors end to end: DECLARE / FETCH / MOVE / CLOSE over both
//! protocols, their transaction rules, and the ACLs applied through them
//! exactly as to the plain query.
//!
//! The server runs the adversarial suite's policy: `svc_rows` reads P1 and
//! P2 incidents only, and work notes of P1 only.

#[path = "common/adversary.rs"]
mod adversary;
mod common;

use std::time::{Duration, Instant};

use adversary::Incidents;
use common::policy::password;
use common::{Options, Server, code, data_set};
use tokio_postgres::{Client, SimpleQueryMessage};

const SCALE: u64 = 2_000;

/// What the row-level account sees of incident, in the order asked.
const QUERY: &str = "SELECT number, priority, work_notes FROM incident ORDER BY number";

fn start() -> (Server, Incidents) {
    let data = data_set(SCALE);
    let inc = Incidents::read(&data);
    let accounts = adversary::accounts(&inc.busiest_assignee(&data));
    let s = Server::start(Options::new(data, adversary::policy(&accounts)));
    (s, inc)
}

async fn login(s: &Server, user: &str) -> Client {
    s.connect(user, &password(user))
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"))
}

type Row = Vec<Option<String>>;

/// The rows of a simple-protocol request, and its command tags' counts.
async fn simple(c: &Client, sql: &str) -> (Vec<Row>, Vec<u64>) {
    let messages = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => {
                rows.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            SimpleQueryMessage::CommandComplete(n) => counts.push(n),
            _ => {}
        }
    }
    (rows, counts)
}

async fn rows(c: &Client, sql: &str) -> Vec<Row> {
    simple(c, sql).await.0
}

async fn error(c: &Client, sql: &str) -> String {
    match c.simple_query(sql).await {
        Ok(_) => panic!("{sql}: answered"),
        Err(e) => code(&e),
    }
}

/// A cursor's rows, fetched `chunk` at a time until one comes back short.
async fn drain(c: &Client, cursor: &str, chunk: usize) -> Vec<Row> {
    let mut all = Vec::new();
    loop {
        let (got, counts) = simple(c, &format!("FETCH {chunk} FROM {cursor}")).await;
        assert_eq!(counts, vec![got.len() as u64], "FETCH n reports its rows");
        let short = got.len() < chunk;
        all.extend(got);
        if short {
            return all;
        }
    }
}

#[tokio::test]
async fn cursor_rows_are_the_plain_query_rows_under_the_acls() {
    let (s, inc) = start();
    let mut c = login(&s, "svc_rows").await;
    let plain = rows(&c, QUERY).await;

    // What the ACLs let through, from the Parquet files.
    let mut expected: Vec<Row> = inc
        .visible_rows()
        .map(|i| {
            vec![
                Some(inc.number[i].clone()),
                Some(inc.priority[i].to_string()),
                inc.readable_note(i).map(str::to_owned),
            ]
        })
        .collect();
    expected.sort();
    assert!(inc.hidden_rows().count() > 0, "the data set hides rows");
    assert_eq!(plain, expected);

    for chunk in [1, 7, 100, 5000] {
        simple(&c, &format!("BEGIN; DECLARE c CURSOR FOR {QUERY}")).await;
        assert_eq!(drain(&c, "c", chunk).await, plain, "chunks of {chunk}");
        // Past the end: no rows, and still no error.
        assert_eq!(simple(&c, "FETCH 10 FROM c").await, (vec![], vec![0]));
        simple(&c, "COMMIT").await;
    }

    // Every column, masked ones included, reads the same through a cursor.
    let every = "SELECT * FROM incident ORDER BY number";
    let plain_every = rows(&c, every).await;
    simple(&c, &format!("BEGIN; DECLARE e CURSOR FOR {every}")).await;
    assert_eq!(drain(&c, "e", 333).await, plain_every);
    simple(&c, "COMMIT").await;

    // FETCH ALL, and the extended protocol.
    let tx = c.transaction().await.unwrap();
    tx.batch_execute(&format!("DECLARE \"All\" CURSOR FOR {QUERY}"))
        .await
        .unwrap();
    let first: Vec<String> = tx
        .query("FETCH 3 FROM \"All\"", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let firsts: Vec<String> = plain[..3].iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(first, firsts);
    let rest = tx.query("FETCH ALL IN \"All\"", &[]).await.unwrap();
    assert_eq!(rest.len(), plain.len() - 3);
    let priorities: Vec<i64> = rest
        .iter()
        .map(|r| match r.columns()[1].type_() {
            t if *t == tokio_postgres::types::Type::INT8 => r.get::<_, i64>(1),
            _ => i64::from(r.get::<_, i32>(1)),
        })
        .collect();
    assert!(
        priorities.iter().all(|&p| p <= 2),
        "hidden rows came through"
    );
    tx.commit().await.unwrap();

    // A privileged account sees more, through its cursor as through the
    // plain query.
    let p = login(&s, "svc_priv").await;
    let plain_priv = rows(&p, "SELECT count(*) FROM incident").await;
    simple(
        &p,
        "BEGIN; DECLARE n CURSOR FOR SELECT count(*) FROM incident",
    )
    .await;
    assert_eq!(rows(&p, "FETCH NEXT FROM n").await, plain_priv);
    simple(&p, "COMMIT").await;

    // A table outside the account's catalog is missing through a cursor too.
    simple(&c, "BEGIN").await;
    assert_eq!(
        error(&c, "DECLARE h CURSOR FOR SELECT * FROM sn_hr_core_case").await,
        "42P01"
    );
    simple(&c, "ROLLBACK").await;
}

#[tokio::test]
async fn move_skips_and_close_closes() {
    let (s, _) = start();
    let c = login(&s, "svc_rows").await;
    let plain = rows(&c, QUERY).await;
    let (_, counts) = simple(
        &c,
        &format!("BEGIN; DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR {QUERY}; MOVE 5 FROM c"),
    )
    .await;
    assert_eq!(counts.last(), Some(&5), "MOVE 5");
    assert_eq!(
        rows(&c, "FETCH FORWARD 2 FROM c").await,
        plain[5..7].to_vec()
    );
    assert_eq!(rows(&c, "FETCH c").await, plain[7..8].to_vec());
    let (_, counts) = simple(&c, "MOVE ALL IN c").await;
    assert_eq!(counts, vec![plain.len() as u64 - 8]);
    simple(&c, "CLOSE c").await;
    assert_eq!(error(&c, "FETCH 1 FROM c").await, "34000");
    simple(&c, "ROLLBACK").await;

    simple(
        &c,
        "BEGIN; DECLARE a CURSOR FOR SELECT 1; DECLARE b CURSOR FOR SELECT 2; CLOSE ALL",
    )
    .await;
    assert_eq!(error(&c, "FETCH 1 FROM b").await, "34000");
    simple(&c, "ROLLBACK").await;
}

#[tokio::test]
async fn transaction_rules_and_errors() {
    let (s, _) = start();
    let c = login(&s, "svc_rows").await;

    // Without hold, only in a transaction block.
    assert_eq!(error(&c, "DECLARE c CURSOR FOR SELECT 1").await, "25P01");
    // Several statements in one request are an implicit block: the cursor
    // works within the request and is gone after it.
    assert_eq!(
        rows(&c, "DECLARE c CURSOR FOR VALUES (1), (2); FETCH ALL FROM c").await,
        vec![vec![Some("1".to_owned())], vec![Some("2".to_owned())]]
    );
    assert_eq!(error(&c, "FETCH 1 FROM c").await, "34000");

    assert_eq!(error(&c, "FETCH 1 FROM nowhere").await, "34000");
    assert_eq!(error(&c, "CLOSE nowhere").await, "34000");

    // Closed at COMMIT and at ROLLBACK.
    simple(&c, "BEGIN; DECLARE c CURSOR FOR SELECT 1").await;
    assert_eq!(error(&c, "DECLARE c CURSOR FOR SELECT 2").await, "42P03");
    simple(&c, "ROLLBACK").await;
    assert_eq!(error(&c, "FETCH 1 FROM c").await, "34000");
    simple(&c, "BEGIN; DECLARE c CURSOR FOR SELECT 1; COMMIT").await;
    assert_eq!(error(&c, "FETCH 1 FROM c").await, "34000");

    // WITH HOLD survives COMMIT, and also works outside a block.
    simple(
        &c,
        "BEGIN; DECLARE h CURSOR WITH HOLD FOR VALUES (1), (2), (3); FETCH 1 FROM h; COMMIT",
    )
    .await;
    assert_eq!(
        rows(&c, "FETCH 1 FROM h").await,
        vec![vec![Some("2".into())]]
    );
    simple(&c, "DECLARE o CURSOR WITH HOLD FOR SELECT 'x'").await;
    assert_eq!(
        rows(&c, "FETCH ALL FROM o").await,
        vec![vec![Some("x".into())]]
    );
    simple(&c, "CLOSE o").await;
    assert_eq!(error(&c, "FETCH 1 FROM o").await, "34000");
    // A WITH HOLD cursor declared in a transaction that rolls back goes too.
    simple(
        &c,
        "BEGIN; DECLARE r CURSOR WITH HOLD FOR SELECT 1; ROLLBACK",
    )
    .await;
    assert_eq!(error(&c, "FETCH 1 FROM r").await, "34000");
    // The older one is still there.
    assert_eq!(
        rows(&c, "FETCH 1 FROM h").await,
        vec![vec![Some("3".into())]]
    );

    // A failed transaction refuses FETCH until it ends; its cursors close.
    simple(&c, "BEGIN; DECLARE f CURSOR FOR SELECT 1").await;
    assert_eq!(error(&c, "SELECT 1/0").await, "22012");
    assert_eq!(error(&c, "FETCH 1 FROM f").await, "25P02");
    simple(&c, "ROLLBACK").await;
    assert_eq!(error(&c, "FETCH 1 FROM f").await, "34000");

    // The gate and the limits apply.
    simple(&c, "BEGIN").await;
    assert_eq!(
        error(&c, "DECLARE w CURSOR FOR SELECT * FROM incident FOR UPDATE").await,
        "25006"
    );
    simple(&c, "ROLLBACK; BEGIN").await;
    assert_eq!(error(&c, "FETCH BACKWARD 1 FROM h").await, "55000");
    simple(&c, "ROLLBACK; BEGIN").await;
    // `h` is open: 63 more fit.
    for i in 0..63 {
        simple(&c, &format!("DECLARE c{i} CURSOR FOR SELECT {i}")).await;
    }
    assert_eq!(
        error(&c, "DECLARE one_too_many CURSOR FOR SELECT 1").await,
        "54000"
    );
    simple(&c, "ROLLBACK").await;
    simple(&c, "DECLARE again CURSOR WITH HOLD FOR SELECT 1").await;
    simple(&c, "DISCARD ALL").await;
    assert_eq!(error(&c, "FETCH 1 FROM again").await, "34000");
}

#[tokio::test]
async fn extended_protocol_cursors_take_parameters_and_stream() {
    let (s, inc) = start();
    let mut c = login(&s, "svc_rows").await;
    let visible_p1 = inc.count_visible(|i| inc.priority[i] == 1);
    let hidden = inc.hidden_rows().next().unwrap();

    // The query ACLs judge the cursor's query as the plain one.
    let tx = c.transaction().await.unwrap();
    let refused = tx
        .execute(
            "DECLARE q CURSOR FOR SELECT number FROM incident WHERE number = $1",
            &[&inc.number[hidden]],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "42501");
    tx.rollback().await.unwrap();

    let tx = c.transaction().await.unwrap();
    tx.execute(
        "DECLARE p CURSOR FOR SELECT number FROM incident WHERE sys_id <> $1 AND priority = 1",
        &[&inc.sys_id[hidden]],
    )
    .await
    .unwrap();
    let mut n = 0;
    loop {
        let got = tx.query("FETCH FORWARD 50 FROM p", &[]).await.unwrap();
        n += got.len();
        if got.len() < 50 {
            break;
        }
    }
    assert_eq!(n, visible_p1);
    // A cursor over far more rows than memory holds answers its first
    // rows at once: nothing is computed ahead of the FETCH.
    tx.batch_execute("DECLARE big CURSOR FOR SELECT value FROM generate_series(1, 4000000000)")
        .await
        .unwrap();
    let started = Instant::now();
    let got = tx.query("FETCH 5 FROM big", &[]).await.unwrap();
    let values: Vec<i64> = got.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, vec![1, 2, 3, 4, 5]);
    let got = tx.query("FETCH 2 FROM big", &[]).await.unwrap();
    let values: Vec<i64> = got.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, vec![6, 7]);
    assert!(started.elapsed() < Duration::from_secs(10));
    tx.commit().await.unwrap();
}
