//! The workload: what each query is, and how one run of it is timed.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::Error;
use crate::raw::{Login, RawConn};

/// How a query's result is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Simple protocol, text rows.
    Text,
    /// A large result through the raw protocol client: the simple
    /// protocol (text rows) or the extended one (binary rows), over the
    /// target's TLS or over plain TCP (PostgreSQL runs without TLS either
    /// way, so `tls: false` compares the same transport).
    Stream { binary: bool, tls: bool },
    /// The small queries, each once, from many clients at once.
    Concurrent(usize),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub name: &'static str,
    pub sql: String,
    pub mode: Mode,
}

/// Twenty incident columns: a `SELECT *` of the width the targets name.
pub const STREAM_COLUMNS: &str = "sys_id, number, short_description, description, state, \
    priority, impact, urgency, active, assignment_group, assigned_to, opened_by, opened_at, \
    closed_at, reassignment_count, category, subcategory, caller_id, work_notes, sys_updated_on";

/// The small queries: aggregates, a top-N, buckets, a LIKE count, a point
/// lookup and a join.
pub fn small(lookup: &str) -> Vec<Query> {
    let q = |name, sql: &str| Query {
        name,
        sql: sql.to_owned(),
        mode: Mode::Text,
    };
    vec![
        q(
            "grouped aggregate",
            "SELECT priority, state, count(*), avg(reassignment_count) FROM incident \
             GROUP BY priority, state ORDER BY priority, state",
        ),
        q(
            "filtered top-N",
            "SELECT number, short_description, opened_at FROM incident \
             WHERE active AND priority <= 2 ORDER BY opened_at DESC LIMIT 100",
        ),
        q(
            "monthly buckets",
            "SELECT date_trunc('month', opened_at) AS month, count(*) FROM incident \
             GROUP BY 1 ORDER BY 1",
        ),
        q(
            "LIKE count",
            "SELECT count(*) FROM incident WHERE short_description LIKE '%network%'",
        ),
        q(
            "point lookup by number",
            &format!("SELECT * FROM incident WHERE number = '{lookup}'"),
        ),
        q(
            "join incident-sys_user",
            "SELECT u.department, count(*) FROM incident i JOIN sys_user u \
             ON u.sys_id = i.caller_id GROUP BY u.department ORDER BY 2 DESC LIMIT 10",
        ),
    ]
}

/// Every query of the workload.
pub fn all(lookup: &str, clients: usize) -> Vec<Query> {
    let mut queries = small(lookup);
    let stream = format!("SELECT {STREAM_COLUMNS} FROM incident");
    for (name, binary, tls) in [
        ("SELECT * (20 columns), text", false, true),
        ("SELECT * (20 columns), binary", true, true),
        ("SELECT * (20 columns), text, without TLS", false, false),
        ("SELECT * (20 columns), binary, without TLS", true, false),
    ] {
        queries.push(Query {
            name,
            sql: stream.clone(),
            mode: Mode::Stream { binary, tls },
        });
    }
    queries.push(Query {
        name: "concurrent mix",
        sql: String::new(),
        mode: Mode::Concurrent(clients),
    });
    queries
}

/// One timed run: the elapsed time and the rows received.
pub async fn run_once(
    connect: &(dyn Fn() -> futures::future::BoxFuture<'static, Result<Client, Error>> + Sync),
    client: &Client,
    raw: &Login,
    query: &Query,
    lookup: &str,
) -> Result<(Duration, u64), Error> {
    match query.mode {
        Mode::Text => {
            let started = Instant::now();
            let rows = text_rows(client, &query.sql).await?;
            Ok((started.elapsed(), rows))
        }
        Mode::Stream { binary, tls } => {
            let plain;
            let login = if tls {
                raw
            } else {
                plain = Login {
                    tls: None,
                    ..raw.clone()
                };
                &plain
            };
            // Logged in before the clock starts, like a pooled connection.
            let mut conn = RawConn::connect(login).await?;
            let started = Instant::now();
            let rows = conn.stream(&query.sql, binary).await?;
            Ok((started.elapsed(), rows))
        }
        Mode::Concurrent(clients) => {
            // Connections are opened before the clock starts.
            let mut sessions = Vec::with_capacity(clients);
            for _ in 0..clients {
                sessions.push(connect().await?);
            }
            let mix = small(lookup);
            let started = Instant::now();
            let results = futures::stream::iter(sessions.into_iter().enumerate())
                .map(|(i, c)| {
                    let mix = mix.clone();
                    async move {
                        let mut rows = 0;
                        // Each client starts at a different query.
                        for k in 0..mix.len() {
                            let q = &mix[(i + k) % mix.len()];
                            rows += text_rows(&c, &q.sql).await?;
                        }
                        Ok::<u64, Error>(rows)
                    }
                })
                .buffer_unordered(clients)
                .collect::<Vec<_>>()
                .await;
            let elapsed = started.elapsed();
            let mut rows = 0;
            for r in results {
                rows += r?;
            }
            Ok((elapsed, rows))
        }
    }
}

async fn text_rows(client: &Client, sql: &str) -> Result<u64, Error> {
    let stream = client
        .simple_query_raw(sql)
        .await
        .map_err(crate::targets::described)?;
    futures::pin_mut!(stream);
    let mut rows = 0;
    while let Some(m) = stream.next().await {
        if let SimpleQueryMessage::Row(_) = m.map_err(crate::targets::described)? {
            rows += 1;
        }
    }
    Ok(rows)
}
