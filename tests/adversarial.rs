//! The adversarial suite: an account held to row, field and query ACLs
//! tries, through real clients over TLS, every way we know to observe a
//! record it may not read, a value masked from it, a field absent from its
//! schema, or a table outside its catalog. Every probe asserts the
//! documented answer: exact rows (computed independently from the Parquet
//! files) or the exact SQLSTATE, with no hidden value in any error text.
//!
//! The account under attack, `svc_rows`, holds `agent`:
//! - incident: egress_sql + read for agent, read conditioned on
//!   `priority<=2` (it sees P1 and P2 incidents only);
//! - incident.work_notes: read conditioned on `priority=1` (NULL on P2);
//! - incident.caller_id: read for a role nobody has (absent);
//! - incident.short_description: query_range for admin only;
//!   incident.number: query_match for admin only;
//! - task granted (its children follow their own ACLs); task.description
//!   readable by no role (absent in task and, inherited, in incident);
//! - sys_user: its own record only (`sys_id=javascript:gs.getUserID()`);
//! - `*` read for agent, which opens no table without an egress ACL of
//!   its own (cmdb_ci, kb_knowledge); sn_hr_core_case granted to another
//!   role.
//!
//! Each test function starts one server and runs one or two families of
//! probes; a family runs all its probes and reports every failure at once.
//! Where the server contradicts the documented model, the probe asserts
//! the model.

#[path = "common/adversary.rs"]
mod adversary;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use adversary::{Incidents, Probes, Row, describe, error_text, query, scalar, table};
use common::policy::password;
use common::{Options, Server, code, column_strings, data_set, read_parquet, row_count};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

const SCALE: u64 = 2_000;

/// Records per class through the parent table.
const CLASS_COUNTS: &str = "SELECT sys_class_name, count(*) FROM task GROUP BY sys_class_name";

/// Tables `svc_rows` may query.
const VISIBLE_TABLES: [&str; 5] = ["change_request", "incident", "problem", "sys_user", "task"];

/// A server over the shared data set with the suite's policy, and the
/// incident table as stored.
fn start() -> (Server, Incidents) {
    let data = data_set(SCALE);
    let inc = Incidents::read(&data);
    let s = Server::start(Options::new(
        data.clone(),
        adversary::policy(&accounts(&inc)),
    ));
    (s, inc)
}

/// The suite's accounts; `svc_rows` is the sys_user assigned the most
/// visible incidents.
fn accounts(inc: &Incidents) -> String {
    adversary::accounts(&inc.busiest_assignee(&data_set(SCALE)))
}

async fn login(s: &Server, user: &str) -> Client {
    s.connect(user, &password(user))
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"))
}

fn n(v: usize) -> Vec<Row> {
    scalar(v)
}

fn text(rows: &[String]) -> Vec<Row> {
    rows.iter().map(|r| vec![Some(r.clone())]).collect()
}

/// Strings no error text may ever contain: identifiers of hidden
/// incidents and the first lines of work notes masked from the account.
fn forbidden(inc: &Incidents) -> Vec<String> {
    let mut f = inc.hidden_markers();
    f.extend(inc.hidden_note_heads());
    f
}

/// Fields absent for `svc_rows`: incident.caller_id (its own ACL) and
/// description (task.description's ACL, inherited).
const ABSENT: [&str; 2] = ["caller_id", "description"];

/// Incident column names the account must see.
fn incident_columns_seen(inc: &Incidents) -> Vec<String> {
    inc.columns
        .iter()
        .filter(|c| !ABSENT.contains(&c.as_str()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn hidden_rows_stay_hidden_through_every_clause() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let mut p = Probes::new(
        "rows: WHERE/ORDER/GROUP/HAVING/DISTINCT/LIMIT, statistics",
        forbidden(&inc),
    );
    let vis = inc.visible_rows().count();
    let hist = inc.visible_histogram();
    assert!(
        vis > 0 && vis < inc.len() && hist.len() == 2,
        "the data set must hold both kinds"
    );

    p.rows(&c, "SELECT count(*) FROM incident", n(vis)).await;
    p.rows(
        &c,
        "SELECT count(*), count(1), count(sys_id), count(priority) FROM incident WHERE true",
        vec![vec![Some(vis.to_string()); 4]],
    )
    .await;
    let (lo, hi) = (hist.keys().min().unwrap(), hist.keys().max().unwrap());
    p.rows(
        &c,
        "SELECT min(priority), max(priority) FROM incident",
        table(&[&[Some(&lo.to_string()), Some(&hi.to_string())]]),
    )
    .await;
    p.rows(&c, "SELECT count(*) FROM incident WHERE priority = 5", n(0))
        .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority > 2 OR priority IS NULL",
        n(0),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident WHERE NOT (priority <= 2)",
        n(0),
    )
    .await;
    let grouped: Vec<Row> = hist
        .iter()
        .map(|(k, v)| vec![Some(k.to_string()), Some(v.to_string())])
        .collect();
    p.rows(
        &c,
        "SELECT priority, count(*) FROM incident GROUP BY priority ORDER BY priority",
        grouped,
    )
    .await;
    let keys: Vec<Row> = hist.keys().map(|k| vec![Some(k.to_string())]).collect();
    p.rows(
        &c,
        "SELECT priority FROM incident GROUP BY priority HAVING count(*) > 0 ORDER BY priority",
        keys.clone(),
    )
    .await;
    p.rows(
        &c,
        "SELECT DISTINCT priority FROM incident ORDER BY 1",
        keys.clone(),
    )
    .await;
    p.rows(
        &c,
        "SELECT priority FROM incident ORDER BY priority DESC LIMIT 1",
        scalar(hi),
    )
    .await;
    let mut by_prio: Vec<usize> = inc.visible_rows().collect();
    by_prio.sort_by(|&a, &b| {
        (inc.priority[b], &inc.number[b]).cmp(&(inc.priority[a], &inc.number[a]))
    });
    let top3: Vec<String> = by_prio
        .iter()
        .take(3)
        .map(|&i| inc.number[i].clone())
        .collect();
    p.rows(
        &c,
        "SELECT number FROM incident ORDER BY priority DESC, number DESC LIMIT 3",
        text(&top3),
    )
    .await;
    p.rows(
        &c,
        &format!(
            "SELECT count(*) FROM (SELECT * FROM incident LIMIT 10 OFFSET {}) s",
            vis - 4
        ),
        n(4),
    )
    .await;
    p.rows(
        &c,
        &format!("SELECT count(*) FROM (SELECT sys_id FROM incident OFFSET {vis}) s"),
        n(0),
    )
    .await;
    let mut numbers: Vec<String> = inc.visible_rows().map(|i| inc.number[i].clone()).collect();
    numbers.sort();
    p.rows(
        &c,
        "SELECT number FROM incident ORDER BY number",
        text(&numbers),
    )
    .await;
    let guesses: Vec<String> = inc
        .hidden_rows()
        .take(3)
        .map(|i| format!("'{}'", inc.sys_id[i]))
        .collect();
    p.rows(
        &c,
        &format!(
            "SELECT count(*) FROM incident WHERE sys_id IN ({})",
            guesses.join(", ")
        ),
        n(0),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident WHERE number LIKE 'INC%'",
        n(vis),
    )
    .await;
    let sum = |v: &dyn Fn(usize) -> i64| inc.visible_rows().map(v).sum::<i64>();
    let max_mod = inc
        .visible_rows()
        .map(|i| inc.sys_mod_count[i])
        .max()
        .unwrap();
    p.rows(
        &c,
        "SELECT sum(priority), sum(reassignment_count), max(sys_mod_count) FROM incident",
        table(&[&[
            Some(&sum(&|i| inc.priority[i] as i64).to_string()),
            Some(&sum(&|i| inc.reassignment_count[i]).to_string()),
            Some(&max_mod.to_string()),
        ]]),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(DISTINCT priority), approx_distinct(priority) FROM incident",
        table(&[&[Some("2"), Some("2")]]),
    )
    .await;
    // Parquet statistics cover every record: min/max must not come from them.
    let min_id = inc.visible_rows().map(|i| &inc.sys_id[i]).min().unwrap();
    let max_number = inc.visible_rows().map(|i| &inc.number[i]).max().unwrap();
    p.rows(
        &c,
        "SELECT min(sys_id), max(number) FROM incident",
        table(&[&[Some(min_id), Some(max_number)]]),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident CROSS JOIN generate_series(1, 3)",
        n(3 * vis),
    )
    .await;
    // Limits are applied to visible records, never pushed below the filter.
    p.rows(
        &c,
        "SELECT count(*) FROM (SELECT * FROM incident LIMIT 50) s",
        n(50),
    )
    .await;
    p.rows(
        &c,
        "SELECT number FROM incident ORDER BY number LIMIT 5",
        text(&numbers[..5]),
    )
    .await;
    // Conditions on the account's own identity: sys_user shows its record only.
    let me = inc.busiest_assignee(&data_set(SCALE));
    p.rows(&c, "SELECT sys_id FROM sys_user", scalar(&me)).await;
    let mine = inc.count_visible(|i| inc.assigned_to[i].as_deref() == Some(me.as_str()));
    p.rows(
        &c,
        "SELECT count(*) FROM incident i JOIN sys_user u ON u.sys_id = i.assigned_to",
        n(mine),
    )
    .await;
    p.rows(
        &c,
        &format!("SELECT count(*) FROM sys_user WHERE sys_id <> '{me}'"),
        n(0),
    )
    .await;
    // No planner setting can move a user predicate below the row filter.
    for sql in [
        "SET datafusion.execution.parquet.pushdown_filters = true",
        "SET datafusion.optimizer.enable_dynamic_filter_pushdown TO false",
        "RESET datafusion.execution.parquet.pushdown_filters",
        "SELECT set_config('datafusion.execution.parquet.pushdown_filters', 'true', false)",
    ] {
        p.error(&c, sql, "42501").await;
    }

    // Control: the privileged account does see every record.
    let prv = login(&s, "svc_priv").await;
    p.rows(
        &prv,
        "SELECT count(*), max(priority) FROM incident",
        table(&[&[Some(&inc.len().to_string()), Some("5")]]),
    )
    .await;
    p.rows(
        &prv,
        "SELECT count(*) FROM sys_user",
        n(row_count(&data_set(SCALE), "sys_user") as usize),
    )
    .await;
    p.finish();
}

#[tokio::test]
async fn errors_never_reveal_hidden_rows_or_values() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let mut p = Probes::new("errors raised by expressions", forbidden(&inc));
    let vis = inc.visible_rows().count();
    let p1 = inc.count_visible(|i| inc.priority[i] == 1);
    let p2 = inc.count_visible(|i| inc.priority[i] == 2);

    // A P5 record would raise division by zero: none may be evaluated.
    p.rows(
        &c,
        "SELECT 1/(priority-5) FROM incident",
        vec![vec![Some("0".into())]; vis],
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident WHERE 1/(priority-3) < 0",
        n(p2),
    )
    .await;
    p.rows(&c, "SELECT max(1/(3-priority)) FROM incident", scalar(1))
        .await;
    p.rows(&c, "SELECT count(*) FROM incident a JOIN incident b ON a.sys_id = b.sys_id WHERE 1/(b.priority-4) = 0", n(vis)).await;
    p.rows(
        &c,
        "SELECT 1/(priority-5) FROM task WHERE sys_class_name = 'incident'",
        vec![vec![Some("0".into())]; vis],
    )
    .await;
    p.rows(
        &c,
        "SELECT sum(1/(priority-4)) OVER () FROM incident LIMIT 1",
        scalar(0),
    )
    .await;
    // The same errors on visible records do fire: the probes mean something.
    p.error(&c, "SELECT 1/(priority-1) FROM incident", "22012")
        .await;
    p.error(
        &c,
        "SELECT 1/(priority-2) FROM task WHERE sys_class_name = 'incident'",
        "22012",
    )
    .await;
    // A failing expression guarded by a hidden-only condition.
    let sql = "SELECT count(*) FROM incident WHERE priority = 5 AND 1/0 = 1";
    match query(&c, sql).await {
        Ok(rows) => p.check(sql, rows == n(0), || {
            format!("expected 0 rows, observed {rows:?}")
        }),
        Err(e) => p.check(sql, code(&e) == "22012", || {
            format!("observed {}", describe(&e))
        }),
    }
    // Casts that fail only on hidden records or masked values.
    p.rows(
        &c,
        "SELECT CAST(short_description AS INT) FROM incident WHERE priority = 5",
        vec![],
    )
    .await;
    p.rows(
        &c,
        "SELECT CAST(number AS INT) FROM incident WHERE priority >= 3",
        vec![],
    )
    .await;
    p.rows(
        &c,
        "SELECT sum(CAST(number AS INT)) FROM incident WHERE priority > 2",
        vec![vec![None]],
    )
    .await;
    p.rows(
        &c,
        "SELECT CAST(work_notes AS INT) FROM incident WHERE priority = 2",
        vec![vec![None]; p2],
    )
    .await;
    p.rows(&c, "SELECT CAST(work_notes AS INT) FROM task WHERE sys_class_name = 'incident' AND priority = 2", vec![vec![None]; p2]).await;
    // Casts that fail on a visible value: the value named is a visible one.
    let sql = "SELECT CAST(number AS INT) FROM incident";
    if let Some(e) = p.error(&c, sql, "22P02").await {
        let t = error_text(&e);
        let named = inc.visible_rows().any(|i| t.contains(&inc.number[i]));
        p.also(sql, named, || {
            format!("the error should name a visible number: {t}")
        });
    }
    let sql = "SELECT CAST(work_notes AS INT) FROM incident WHERE work_notes IS NOT NULL";
    if let Some(e) = p.error(&c, sql, "22P02").await {
        let t = error_text(&e);
        let named = (0..inc.len())
            .filter_map(|i| inc.readable_note(i))
            .any(|note| t.contains(note.lines().next().unwrap()));
        p.also(sql, named, || {
            format!("the error should quote a readable P1 note: {t}")
        });
    }
    p.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 1 AND CAST(reassignment_count AS INT) >= 0",
        n(p1),
    )
    .await;
    p.finish();
}

#[tokio::test]
async fn joins_sets_subqueries_windows_and_aggregates_see_only_permitted_data() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let mut p = Probes::new(
        "joins, set operations, CTEs, subqueries, windows, aggregates",
        forbidden(&inc),
    );
    let vis = inc.visible_rows().count();
    let hist = inc.visible_histogram();
    let p2 = hist[&2];
    let readable: Vec<&str> = (0..inc.len())
        .filter_map(|i| inc.readable_note(i))
        .collect();

    p.rows(&c, "SELECT count(*) FROM incident a JOIN incident b ON a.assignment_group = b.assignment_group WHERE b.priority = 5", n(0)).await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident a JOIN incident b ON a.sys_id = b.sys_id",
        n(vis),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident i JOIN task t ON t.sys_id = i.sys_id",
        n(vis),
    )
    .await;
    p.rows(
        &c,
        "SELECT count(*) FROM incident i JOIN (VALUES (3), (4), (5)) v(p) ON i.priority = v.p",
        n(0),
    )
    .await;
    let left: Vec<Row> = (1..=5)
        .map(|k| {
            vec![
                Some(k.to_string()),
                Some(hist.get(&k).copied().unwrap_or(0).to_string()),
            ]
        })
        .collect();
    p.rows(&c, "SELECT v.p, count(i.sys_id) FROM (VALUES (1), (2), (3), (4), (5)) v(p) LEFT JOIN incident i ON i.priority = v.p GROUP BY v.p ORDER BY v.p", left.clone()).await;
    p.rows(&c, "SELECT g.p, x.c FROM generate_series(1, 5) g(p), LATERAL (SELECT count(*) c FROM incident i WHERE i.priority = g.p) x ORDER BY 1", left).await;
    p.rows(&c, "SELECT priority FROM incident UNION SELECT priority FROM task WHERE sys_class_name = 'incident' ORDER BY 1", table(&[&[Some("1")], &[Some("2")]])).await;
    p.rows(
        &c,
        "SELECT priority FROM incident INTERSECT SELECT 5",
        vec![],
    )
    .await;
    p.rows(&c, "SELECT p FROM (VALUES (1), (2), (3), (4), (5)) v(p) EXCEPT SELECT priority FROM incident ORDER BY 1", table(&[&[Some("3")], &[Some("4")], &[Some("5")]])).await;
    p.rows(&c, "SELECT count(*) FROM (SELECT sys_id FROM incident UNION ALL SELECT sys_id FROM task WHERE sys_class_name = 'incident') u", n(2 * vis)).await;
    p.rows(
        &c,
        "WITH h AS (SELECT * FROM incident WHERE priority > 2) SELECT count(*) FROM h",
        n(0),
    )
    .await;
    p.rows(
        &c,
        "WITH v AS (SELECT * FROM incident) SELECT max(priority), count(*) FROM v",
        table(&[&[Some("2"), Some(&vis.to_string())]]),
    )
    .await;
    p.rows(&c, "WITH RECURSIVE r(k) AS (SELECT max(priority) FROM incident UNION ALL SELECT k + 1 FROM r WHERE k < 4) SELECT min(k), count(*) FROM r", table(&[&[Some("2"), Some("3")]])).await;
    p.rows(&c, "SELECT count(*) FROM task WHERE sys_id IN (SELECT sys_id FROM incident WHERE priority >= 3)", n(0)).await;
    p.rows(&c, "SELECT count(*) FROM task WHERE sys_class_name = 'incident' AND sys_id NOT IN (SELECT sys_id FROM incident)", n(0)).await;
    p.rows(&c, "SELECT count(*) FROM (VALUES (1)) v(x) WHERE EXISTS (SELECT 1 FROM incident WHERE priority = 5)", n(0)).await;
    p.rows(&c, "SELECT (SELECT max(priority) FROM incident)", scalar(2))
        .await;
    // Windows: only visible rows are numbered, lagged, counted.
    p.rows(&c, "SELECT max(rn) FROM (SELECT row_number() OVER (ORDER BY sys_created_on) rn FROM incident) s", n(vis)).await;
    p.rows(&c, "SELECT max(lp) FROM (SELECT lag(priority) OVER (ORDER BY priority DESC) lp FROM incident) s", scalar(2)).await;
    p.rows(&c, "SELECT count(*) OVER () FROM incident LIMIT 1", n(vis))
        .await;
    p.rows(&c, "SELECT count(*) FROM (SELECT lag(work_notes) OVER (ORDER BY sys_id) w, lag(priority) OVER (ORDER BY sys_id) lp FROM incident) x WHERE lp = 2 AND w IS NOT NULL", n(0)).await;
    p.rows(&c, "SELECT count(*) FROM (SELECT lead(work_notes, 1) OVER (PARTITION BY priority ORDER BY sys_id) w, priority FROM incident) x WHERE priority = 2 AND w IS NOT NULL", n(0)).await;
    // Aggregates of the masked field count only readable values.
    p.rows(
        &c,
        "SELECT count(work_notes) FROM incident",
        n(readable.len()),
    )
    .await;
    let (min, max) = (
        readable.iter().min().unwrap(),
        readable.iter().max().unwrap(),
    );
    p.rows(
        &c,
        "SELECT min(work_notes), max(work_notes) FROM incident",
        table(&[&[Some(min), Some(max)]]),
    )
    .await;
    let chars: usize = readable.iter().map(|t| t.chars().count()).sum();
    p.rows(
        &c,
        "SELECT length(string_agg(work_notes, '')) FROM incident",
        n(chars),
    )
    .await;
    p.rows(
        &c,
        "SELECT string_agg(work_notes, '|') FROM incident WHERE priority = 2",
        vec![vec![None]],
    )
    .await;
    p.rows(&c, "SELECT cardinality(array_agg(work_notes)), count(*) FILTER (WHERE work_notes IS NOT NULL) FROM incident WHERE priority = 2", table(&[&[Some(&p2.to_string()), Some("0")]])).await;
    p.rows(&c, "SELECT count(*) FROM (SELECT unnest(array_agg(work_notes)) w FROM incident WHERE priority = 2) s WHERE w IS NOT NULL", n(0)).await;
    p.rows(
        &c,
        "SELECT sum(length(work_notes)) FROM incident WHERE priority = 2",
        vec![vec![None]],
    )
    .await;
    p.finish();
}

#[tokio::test]
async fn masked_fields_are_null_and_absent_fields_do_not_exist() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let data = data_set(SCALE);
    let mut m = Probes::new("masked field (work_notes on P2)", forbidden(&inc));
    let hist = inc.visible_histogram();
    let p2 = hist[&2];
    let readable = (0..inc.len())
        .filter(|&i| inc.readable_note(i).is_some())
        .count();
    let p1_null = inc.count_visible(|i| inc.priority[i] == 1 && inc.work_notes[i].is_none());
    let hidden_p2_notes =
        inc.count_visible(|i| inc.priority[i] == 2 && inc.work_notes[i].is_some());
    assert!(hidden_p2_notes > 0, "P2 records must carry notes to hide");

    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE work_notes IS NULL",
        n(p2 + p1_null),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 1 AND work_notes IS NOT NULL",
        n(readable),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 2 AND coalesce(work_notes, 'x') = 'x'",
        n(p2),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(length(work_notes)) FROM incident WHERE priority = 2",
        n(0),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 2 AND work_notes LIKE '%a%'",
        n(0),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE work_notes LIKE '%'",
        n(readable),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 2 AND strpos(work_notes, ' - ') > 0",
        n(0),
    )
    .await;
    m.rows(&c, "SELECT count(*) FROM incident WHERE priority = 2 AND md5(coalesce(work_notes, '')) <> md5('')", n(0)).await;
    m.rows(&c, "SELECT sum(CASE WHEN work_notes IS NULL THEN 0 ELSE 1 END) FROM incident WHERE priority = 2", n(0)).await;
    let mut p2_numbers: Vec<String> = inc
        .visible_rows()
        .filter(|&i| inc.priority[i] == 2)
        .map(|i| inc.number[i].clone())
        .collect();
    p2_numbers.sort();
    m.rows(
        &c,
        "SELECT number FROM incident WHERE priority = 2 ORDER BY work_notes, number",
        text(&p2_numbers),
    )
    .await;
    m.rows(&c, "SELECT number FROM incident WHERE priority = 2 ORDER BY work_notes DESC NULLS LAST, number LIMIT 5", text(&p2_numbers[..5])).await;
    m.rows(
        &c,
        "SELECT count(DISTINCT work_notes), max(work_notes) FROM incident WHERE priority = 2",
        table(&[&[Some("0"), None]]),
    )
    .await;
    m.rows(
        &c,
        "SELECT work_notes, count(*) FROM incident WHERE priority = 2 GROUP BY work_notes",
        table(&[&[None, Some(&p2.to_string())]]),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(work_notes) FROM task WHERE sys_class_name = 'incident' AND priority = 2",
        n(0),
    )
    .await;
    m.rows(
        &c,
        "SELECT count(*) FROM incident WHERE priority = 2 AND work_notes = work_notes",
        n(0),
    )
    .await;
    m.rows(
        &c,
        "SELECT DISTINCT count(*) OVER (PARTITION BY work_notes) FROM incident WHERE priority = 2",
        n(p2),
    )
    .await;
    m.rows(&c, "SELECT count(*) FROM incident a JOIN incident b ON a.work_notes = b.work_notes WHERE a.priority = 2 OR b.priority = 2", n(0)).await;
    m.rows(&c, "SELECT count(*) FROM task t WHERE t.sys_class_name <> 'incident' AND t.work_notes IN (SELECT work_notes FROM incident WHERE priority = 2)", n(0)).await;
    let masked = m.done();

    let mut a = Probes::new(
        "absent fields (caller_id; description, inherited)",
        forbidden(&inc),
    );
    let seen = incident_columns_seen(&inc);
    for sql in [
        "SELECT caller_id FROM incident",
        "SELECT \"caller_id\" FROM incident",
        "SELECT incident.caller_id FROM incident",
        "SELECT i.caller_id FROM incident i",
        "SELECT public.incident.caller_id FROM incident",
        "SELECT x FROM (SELECT caller_id AS x FROM incident) s",
        "WITH w AS (SELECT caller_id FROM incident) SELECT * FROM w",
        "SELECT number FROM incident ORDER BY caller_id",
        "SELECT count(*) FROM incident WHERE caller_id IS NULL",
        "SELECT count(*) FROM incident GROUP BY caller_id",
        "SELECT count(*) FROM incident i JOIN sys_user u ON u.sys_id = i.caller_id",
        "SELECT count(*) FROM incident i JOIN sys_user u USING (caller_id)",
        "SELECT count(*) FROM sys_user u WHERE EXISTS (SELECT 1 FROM incident i WHERE i.caller_id = u.sys_id)",
    ] {
        if let Some(e) = a.error(&c, sql, "42703").await {
            let t = error_text(&e).to_lowercase();
            let suggests = t.contains("valid fields") || t.contains("did you mean");
            if suggests {
                a.fail(sql, format!("the error suggests fields: {t}"));
            }
        }
    }
    // A field ACL on the parent holds in the children (task.description).
    for sql in [
        "SELECT description FROM incident",
        "SELECT description FROM task",
        "SELECT description FROM problem",
        "SELECT count(*) FROM task WHERE description LIKE '%a%'",
    ] {
        a.error(&c, sql, "42703").await;
    }
    // Near misses get no suggestion of the hidden name.
    for sql in [
        "SELECT caller_i FROM incident",
        "SELECT calle_id FROM incident",
        "SELECT caller FROM incident",
    ] {
        if let Some(e) = a.error(&c, sql, "42703").await {
            let t = error_text(&e);
            if t.contains("caller_id") || t.to_lowercase().contains("did you mean") {
                a.fail(sql, format!("the error suggests the hidden field: {t}"));
            }
        }
    }
    let sql = "SELECT * FROM incident";
    match c.prepare(sql).await {
        Ok(stmt) => {
            let cols: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
            a.check(sql, cols == seen, || {
                format!("columns {cols:?}, expected {seen:?}")
            });
        }
        Err(e) => a.check(sql, false, || describe(&e)),
    }
    let wanted = text(&seen);
    a.rows(&c, "SELECT column_name FROM information_schema.columns WHERE table_name = 'incident' ORDER BY ordinal_position", wanted).await;
    let sql = "SHOW COLUMNS FROM incident";
    if let Some(rows) = a.ok(&c, sql).await {
        let names: Vec<String> = rows.iter().filter_map(|r| r[3].clone()).collect();
        a.check(sql, names == seen, || format!("columns {names:?}"));
    }
    a.rows(&c, "SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid WHERE c.relname = 'incident' AND a.attname = 'caller_id'", vec![]).await;
    a.rows(
        &c,
        "SELECT has_column_privilege('incident', 'caller_id', 'SELECT') = has_column_privilege('incident', 'caller_idx', 'SELECT'), has_column_privilege('incident', 'work_notes', 'SELECT')",
        table(&[&[Some("t"), Some("t")]]),
    )
    .await;
    let out = s.psql("svc_rows", &password("svc_rows"), &["-c", "\\d incident"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    a.check(
        "psql \\d incident",
        out.status.success() && shown.contains("work_notes") && !shown.contains("caller_id"),
        || format!("{shown}{}", String::from_utf8_lossy(&out.stderr)),
    );
    // Control: the column is real, and the privileged account reads it.
    let prv = login(&s, "svc_priv").await;
    let callers = column_strings(&data, "incident", "caller_id")
        .into_iter()
        .filter(Option::is_some)
        .count();
    a.rows(
        &prv,
        "SELECT count(caller_id), count(description) FROM incident",
        table(&[&[Some(&callers.to_string()), Some(&inc.len().to_string())]]),
    )
    .await;
    adversary::verdict([masked, a.done()]);
}

#[tokio::test]
async fn forbidden_tables_do_not_exist_and_children_follow_their_own_acls() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let data = data_set(SCALE);
    let mut f = Probes::new("forbidden table", forbidden(&inc));

    // Each way of naming a forbidden table answers exactly as the same
    // statement naming a table that does not exist.
    let pairs: [(&str, &str, &str); 17] = [
        ("SELECT * FROM {}", "sn_hr_core_case", "sn_hr_core_cas"),
        ("SELECT * FROM \"{}\"", "sn_hr_core_case", "sn_hr_core_cas"),
        (
            "SELECT * FROM public.{}",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT * FROM sqlgate.public.{}",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT * FROM datafusion.public.{}",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT count(*) FROM (SELECT * FROM {}) s",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "WITH x AS (SELECT * FROM {}) SELECT count(*) FROM x",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT count(*) FROM incident WHERE sys_id IN (SELECT sys_id FROM {})",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT count(*) FROM task t JOIN {} h ON h.sys_id = t.sys_id",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        (
            "SELECT count(*) FROM task t WHERE EXISTS (SELECT 1 FROM {} h WHERE h.sys_id = t.sys_id)",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        ("SELECT salary FROM {}", "sn_hr_core_case", "sn_hr_core_cas"),
        (
            "EXPLAIN SELECT * FROM {}",
            "sn_hr_core_case",
            "sn_hr_core_cas",
        ),
        ("SHOW COLUMNS FROM {}", "sn_hr_core_case", "sn_hr_core_cas"),
        // Readable through the `*` read ACL, but egress is never granted by `*`.
        ("SELECT * FROM {}", "cmdb_ci", "cmdb_cj"),
        ("SELECT * FROM public.{}", "kb_knowledge", "kb_knowledgf"),
        (
            "SELECT * FROM {}",
            "sys_user_grmember",
            "sys_user_grmembers",
        ),
        (
            "SELECT count(*) FROM {}",
            "SN_HR_CORE_CASE",
            "SN_HR_CORE_CAS",
        ),
    ];
    for (shape, hidden, missing) in pairs {
        let (hs, ms) = (shape.replace("{}", hidden), shape.replace("{}", missing));
        let (he, me) = (query(&c, &hs).await, query(&c, &ms).await);
        let ok = match (&he, &me) {
            (Err(h), Err(m)) => {
                let (h, m) = (h.as_db_error(), m.as_db_error());
                h.zip(m).is_some_and(|(h, m)| {
                    h.code().code() == "42P01"
                        && m.code().code() == "42P01"
                        && error_text(h).replace(&hidden.to_lowercase(), "T")
                            == error_text(m).replace(&missing.to_lowercase(), "T")
                })
            }
            _ => false,
        };
        let show = |r: &Result<Vec<Row>, tokio_postgres::Error>| match r {
            Ok(rows) => format!("{} rows", rows.len()),
            Err(e) => describe(e),
        };
        f.check(&hs, ok, || {
            format!("forbidden: {}\n      missing:   {}", show(&he), show(&me))
        });
    }
    let listed: Vec<Row> = VISIBLE_TABLES
        .iter()
        .map(|t| vec![Some(t.to_string())])
        .collect();
    f.rows(
        &c,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        listed.clone(),
    )
    .await;
    f.rows(&c, "SELECT count(*) FROM information_schema.columns WHERE table_name IN ('sn_hr_core_case', 'cmdb_ci', 'kb_knowledge', 'sys_user_grmember')", n(0)).await;
    let sql = "SHOW TABLES";
    if let Some(rows) = f.ok(&c, sql).await {
        let mut names: Vec<String> = rows
            .iter()
            .filter(|r| r[1].as_deref() == Some("public"))
            .filter_map(|r| r[2].clone())
            .collect();
        names.sort();
        f.check(sql, names == VISIBLE_TABLES, || {
            format!("public tables {names:?}")
        });
    }
    f.rows(&c, "SELECT relname FROM pg_catalog.pg_class WHERE relname IN ('sn_hr_core_case', 'cmdb_ci', 'kb_knowledge', 'sys_user_grmember')", vec![]).await;
    f.rows(
        &c,
        "SELECT has_table_privilege('sn_hr_core_case', 'SELECT') = has_table_privilege('sn_hr_core_cas', 'SELECT'), has_table_privilege('incident', 'SELECT')",
        table(&[&[Some("t"), Some("t")]]),
    )
    .await;
    let (hd, md) = (
        s.psql(
            "svc_rows",
            &password("svc_rows"),
            &["-c", "\\d sn_hr_core_case"],
        ),
        s.psql(
            "svc_rows",
            &password("svc_rows"),
            &["-c", "\\d sn_hr_core_cas"],
        ),
    );
    let say = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    f.check(
        "psql \\d sn_hr_core_case",
        say(&hd).replace("sn_hr_core_case", "T") == say(&md).replace("sn_hr_core_cas", "T"),
        || format!("forbidden: {}\n      missing: {}", say(&hd), say(&md)),
    );
    // Privileged mode lifts row and field checks, never the table gate.
    let prv = login(&s, "svc_priv").await;
    f.error(&prv, "SELECT count(*) FROM sn_hr_core_case", "42P01")
        .await;
    f.error(&prv, "SELECT count(*) FROM cmdb_ci", "42P01").await;
    // Other accounts are not listed as roles (on a connection of its own:
    // this probe has been seen to end the connection).
    let own = login(&s, "svc_rows").await;
    f.rows(
        &own,
        "SELECT rolname FROM pg_catalog.pg_roles",
        scalar("svc_rows"),
    )
    .await;
    let tables = f.done();

    let mut h = Probes::new("parent/child (task)", forbidden(&inc));
    let vis = inc.visible_rows().count();
    let classes = |rows: Vec<Row>| -> BTreeMap<String, String> {
        rows.into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    };
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for class in ["task", "problem", "change_request"] {
        expected.insert(class.into(), row_count(&data, class).to_string());
    }
    expected.insert("incident".into(), vis.to_string());
    let sql = CLASS_COUNTS;
    if let Some(rows) = h.ok(&c, sql).await {
        let got = classes(rows);
        h.check(sql, got == expected, || {
            format!("expected {expected:?}\n      observed {got:?}")
        });
    }
    h.rows(
        &c,
        "SELECT count(*) FROM task WHERE sys_class_name = 'incident' AND priority > 2",
        n(0),
    )
    .await;
    h.rows(
        &c,
        "SELECT max(priority) FROM task WHERE sys_class_name = 'incident'",
        scalar(2),
    )
    .await;
    let readable = (0..inc.len())
        .filter(|&i| inc.readable_note(i).is_some())
        .count();
    h.rows(
        &c,
        "SELECT count(work_notes) FROM task WHERE sys_class_name = 'incident'",
        n(readable),
    )
    .await;
    h.rows(
        &c,
        "SELECT count(*) FROM task WHERE sys_class_name = 'sn_hr_core_case' OR number LIKE 'HRC%'",
        n(0),
    )
    .await;
    let guesses: Vec<String> = inc
        .hidden_rows()
        .take(5)
        .map(|i| format!("'{}'", inc.sys_id[i]))
        .collect();
    h.rows(
        &c,
        &format!(
            "SELECT count(*) FROM task WHERE sys_id IN ({})",
            guesses.join(", ")
        ),
        n(0),
    )
    .await;
    h.rows(&c, "SELECT count(*) FROM task t JOIN incident i ON i.sys_id = t.sys_id WHERE t.priority <> i.priority OR t.work_notes IS DISTINCT FROM i.work_notes", n(0)).await;
    h.error(&c, "SELECT salary FROM task", "42703").await;
    h.rows(&c, "SELECT count(*) FROM task t JOIN (VALUES ('sn_hr_core_case'), ('incident')) v(k) ON t.sys_class_name = v.k WHERE t.priority > 2 OR v.k = 'sn_hr_core_case'", n(0)).await;
    let task_columns: Vec<String> = read_parquet(&data, "task")[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|c| !ABSENT.contains(&c.as_str()))
        .collect();
    let sql = "SELECT * FROM task";
    match c.prepare(sql).await {
        Ok(stmt) => {
            let cols: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
            h.check(sql, cols == task_columns, || format!("columns {cols:?}"));
        }
        Err(e) => h.check(sql, false, || describe(&e)),
    }
    // Privileged: every incident, still no HR case (its class is not readable).
    expected.insert("incident".into(), inc.len().to_string());
    if let Some(rows) = h.ok(&prv, CLASS_COUNTS).await {
        let got = classes(rows);
        h.check(
            "svc_priv: SELECT sys_class_name, count(*) FROM task GROUP BY 1",
            got == expected,
            || format!("observed {got:?}"),
        );
    }
    // The HR account reads HR cases, and task does not exist for it.
    let hr = login(&s, "svc_hr").await;
    h.rows(
        &hr,
        "SELECT count(*) FROM sn_hr_core_case",
        n(row_count(&data, "sn_hr_core_case") as usize),
    )
    .await;
    h.error(&hr, "SELECT count(*) FROM task", "42P01").await;
    h.error(&hr, "SELECT count(*) FROM incident", "42P01").await;
    adversary::verdict([tables, h.done()]);
}

/// Every `output_rows=N` and selectivity denominator of an EXPLAIN
/// ANALYZE text, as numbers (`2.00 K` counts as 2000).
fn metric_row_counts(plan: &str) -> Vec<f64> {
    let parse = |s: &str| -> Option<f64> {
        let s = s.trim();
        let (num, mul) = match s.strip_suffix(" K") {
            Some(x) => (x, 1e3),
            None => match s.strip_suffix(" M") {
                Some(x) => (x, 1e6),
                None => (s, 1.0),
            },
        };
        num.parse::<f64>().ok().map(|v| v * mul)
    };
    let mut out = Vec::new();
    for part in plan.split("output_rows=").skip(1) {
        let end = part.find([',', ']']).unwrap_or(part.len());
        out.extend(parse(&part[..end]));
    }
    for part in plan.split("selectivity=").skip(1) {
        if let (Some(slash), Some(close)) = (part.find('/'), part.find(')')) {
            out.extend(parse(&part[slash + 1..close]));
        }
    }
    out
}

async fn explain_text(p: &mut Probes, c: &Client, sql: &str) -> Option<String> {
    p.ok(c, sql).await.map(|rows| {
        rows.into_iter()
            .map(|r| r.into_iter().flatten().collect::<Vec<_>>().join(" | "))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[tokio::test]
async fn explain_hides_the_policy_and_query_acls_hold() {
    let (s, inc) = start();
    let c = login(&s, "svc_rows").await;
    let prv = login(&s, "svc_priv").await;
    let vis = inc.visible_rows().count() as f64;
    let mut e = Probes::new("EXPLAIN", forbidden(&inc));
    // What the policy would look like in a plan: the row predicate on
    // priority, the work_notes mask, the scan below the barrier.
    let policy_marks = [
        "priority",
        "CASE",
        "DataSourceExec",
        "ParquetExec",
        ".parquet",
        "Int32(2)",
        "<= 2",
    ];
    let clean = |t: &str| {
        policy_marks
            .iter()
            .find(|m| t.contains(*m))
            .map(|m| m.to_string())
    };
    for sql in [
        "EXPLAIN SELECT work_notes FROM incident WHERE reassignment_count = 3",
        "EXPLAIN VERBOSE SELECT work_notes FROM incident WHERE reassignment_count = 3",
        "EXPLAIN ANALYZE SELECT work_notes FROM incident WHERE reassignment_count = 3",
        "EXPLAIN ANALYZE VERBOSE SELECT work_notes, count(*) FROM incident WHERE reassignment_count = 3 GROUP BY work_notes",
        "EXPLAIN FORMAT TREE SELECT work_notes FROM incident WHERE reassignment_count = 3",
    ] {
        if let Some(t) = explain_text(&mut e, &c, sql).await {
            let leak = clean(&t);
            let own = t.contains("reassignment_count") && t.contains("SecureScanExec");
            let counts = metric_row_counts(&t);
            let too_many = counts.iter().find(|&&r| r > vis);
            e.check(sql, leak.is_none() && own && too_many.is_none(), || {
                format!("policy mark {leak:?}, own predicate shown {own}, row count above the visible {too_many:?}:\n{t}")
            });
        }
    }
    let sql = "EXPLAIN ANALYZE SELECT count(*) FROM incident";
    if let Some(t) = explain_text(&mut e, &c, sql).await {
        let counts = metric_row_counts(&t);
        e.check(
            sql,
            counts.iter().all(|&r| r <= vis) && clean(&t).is_none(),
            || t.clone(),
        );
    }
    // The account's own predicate on priority may appear; the policy's may not.
    let sql = "EXPLAIN SELECT number FROM incident WHERE priority = 1";
    if let Some(t) = explain_text(&mut e, &c, sql).await {
        let ok = t.contains("priority")
            && !t.contains("<= 2")
            && !t.contains("Int32(2)")
            && !t.contains("CASE");
        e.check(sql, ok, || t.clone());
    }
    let sql = "EXPLAIN SELECT number FROM task";
    if let Some(t) = explain_text(&mut e, &c, sql).await {
        let ok =
            !t.contains("sn_hr_core_case") && t.contains("class=incident") && clean(&t).is_none();
        e.check(sql, ok, || t.clone());
    }
    let sql = "EXPLAIN ANALYZE SELECT * FROM task WHERE sys_class_name = 'incident'";
    if let Some(t) = explain_text(&mut e, &c, sql).await {
        let total = (row_count(&data_set(SCALE), "task")
            + row_count(&data_set(SCALE), "problem")
            + row_count(&data_set(SCALE), "change_request")) as f64
            + vis;
        let ok = !t.contains("sn_hr_core_case")
            && metric_row_counts(&t).iter().all(|&r| r <= total)
            && clean(&t).is_none();
        e.check(sql, ok, || t.clone());
    }
    // Control: an admin sees the tree below the barrier.
    let adm = login(&s, "svc_admin").await;
    let sql = "EXPLAIN SELECT work_notes FROM incident";
    if let Some(t) = explain_text(&mut e, &adm, sql).await {
        e.check(
            "svc_admin: EXPLAIN SELECT work_notes FROM incident",
            t.contains("DataSourceExec"),
            || t.clone(),
        );
    }
    let explain = e.done();

    let mut q = Probes::new("query ACLs", forbidden(&inc));
    let visible_number = inc
        .visible_rows()
        .map(|i| inc.number[i].clone())
        .min()
        .unwrap();
    let hidden_number = inc
        .hidden_rows()
        .map(|i| inc.number[i].clone())
        .min()
        .unwrap();
    let range = [
        "SELECT number FROM incident ORDER BY short_description LIMIT 1",
        "SELECT number, short_description FROM incident ORDER BY 2 LIMIT 1",
        "SELECT count(*) FROM incident WHERE short_description LIKE '%VPN%'",
        "SELECT count(*) FROM incident WHERE short_description ILIKE '%vpn%'",
        "SELECT count(*) FROM incident WHERE short_description ~ '^VPN'",
        "SELECT count(*) FROM incident WHERE short_description BETWEEN 'A' AND 'M'",
        "SELECT count(*) FROM incident WHERE short_description > 'M'",
        "SELECT min(short_description) FROM incident",
        "SELECT max(short_description) OVER () FROM incident LIMIT 1",
        "SELECT row_number() OVER (ORDER BY short_description) FROM incident LIMIT 1",
        "SELECT s FROM (SELECT short_description AS s FROM incident) t ORDER BY s LIMIT 1",
        "WITH t AS (SELECT upper(short_description) AS s FROM incident) SELECT s FROM t ORDER BY s LIMIT 1",
        "SELECT x FROM (SELECT short_description AS x FROM incident UNION ALL SELECT 'a') u ORDER BY x LIMIT 1",
        "SELECT string_agg(number, ',' ORDER BY short_description) FROM incident",
        "EXPLAIN SELECT number FROM incident ORDER BY short_description",
        // Equivalent forms of a range use (the model covers the operator, whatever its spelling).
        "SELECT count(*) FROM incident i WHERE EXISTS (SELECT 1 FROM (VALUES ('M')) v(m) WHERE v.m > i.short_description)",
    ];
    for sql in range {
        if let Some(err) = q.error(&c, sql, "42501").await {
            let t = error_text(&err);
            if !(t.contains("short_description") && t.contains("query_range")) {
                q.fail(
                    sql,
                    format!("the refusal should name the field and operation: {t}"),
                );
            }
        }
    }
    let matching = [
        format!("SELECT count(*) FROM incident WHERE number = '{visible_number}'"),
        format!("SELECT count(*) FROM incident WHERE number <> '{visible_number}'"),
        format!(
            "SELECT count(*) FROM incident WHERE number IN ('{visible_number}', '{hidden_number}')"
        ),
        "SELECT count(*) FROM incident WHERE number IS NULL".to_owned(),
        "SELECT count(*) FROM incident i JOIN task t ON t.number = i.number".to_owned(),
        "SELECT count(*) FROM incident i JOIN task t USING (number)".to_owned(),
        "SELECT count(*) FROM incident WHERE number IN (SELECT number FROM task)".to_owned(),
        format!("SELECT number FROM incident INTERSECT SELECT '{visible_number}'"),
        // Equivalent forms of `=` / `IN` (the model covers the operator, whatever its spelling).
        format!("SELECT count(*) FROM incident WHERE number = ANY(ARRAY['{visible_number}'])"),
        format!("SELECT count(*) FROM incident WHERE number <> ALL(ARRAY['{visible_number}'])"),
        format!(
            "SELECT count(*) FROM incident WHERE CASE number WHEN '{visible_number}' THEN true ELSE false END"
        ),
        format!(
            "SELECT count(*) FROM incident i WHERE EXISTS (SELECT 1 FROM (VALUES ('{visible_number}')) v(k) WHERE v.k = i.number)"
        ),
    ];
    for sql in &matching {
        if let Some(err) = q.error(&c, sql, "42501").await {
            let t = error_text(&err);
            if !(t.contains("\"number\"") && t.contains("query_match")) {
                q.fail(
                    sql,
                    format!("the refusal should name the field and operation: {t}"),
                );
            }
        }
    }
    // Reading stays allowed, and so do operations no query ACL covers.
    let mut sds: Vec<String> = inc
        .visible_rows()
        .filter(|&i| inc.priority[i] == 1)
        .map(|i| inc.number[i].clone() + "|" + &inc.short_description[i])
        .collect();
    sds.sort();
    let sql = "SELECT number, short_description FROM incident WHERE priority = 1 ORDER BY number";
    if let Some(rows) = q.ok(&c, sql).await {
        let got: Vec<String> = rows
            .into_iter()
            .map(|r| format!("{}|{}", r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect();
        q.check(sql, got == sds, || format!("observed {got:?}"));
    }
    q.rows(
        &c,
        &format!("SELECT count(*) FROM incident WHERE number LIKE '{visible_number}'"),
        n(1),
    )
    .await;
    // Ordering by number is a range use, which no ACL restricts; testing
    // the window's result for NULL matches work_notes, not number.
    let readable_after_p1 = {
        let mut p1: Vec<usize> = inc
            .visible_rows()
            .filter(|&i| inc.priority[i] == 1)
            .collect();
        p1.sort_by(|&a, &b| inc.number[a].cmp(&inc.number[b]));
        p1.iter()
            .skip(1)
            .filter(|&&i| inc.readable_note(i).is_some())
            .count()
    };
    q.rows(&c, "SELECT count(*) FROM (SELECT lead(work_notes) OVER (ORDER BY number) w FROM incident WHERE priority = 1) x WHERE w IS NOT NULL", n(readable_after_p1)).await;
    // Privileged mode skips field-level query ACLs: the same uses answer.
    let all_sd_min = inc.short_description.iter().min().unwrap();
    let all_sd_max = inc.short_description.iter().max().unwrap();
    q.rows(
        &prv,
        "SELECT short_description FROM incident ORDER BY short_description LIMIT 1",
        scalar(all_sd_min),
    )
    .await;
    q.rows(
        &prv,
        "SELECT min(short_description), max(short_description) FROM incident",
        table(&[&[Some(all_sd_min), Some(all_sd_max)]]),
    )
    .await;
    let vpn = inc.count(|i| inc.short_description[i].contains("VPN"));
    q.rows(
        &prv,
        "SELECT count(*) FROM incident WHERE short_description LIKE '%VPN%'",
        n(vpn),
    )
    .await;
    q.rows(
        &prv,
        &format!("SELECT count(*) FROM incident WHERE number = '{hidden_number}'"),
        n(1),
    )
    .await;
    q.rows(
        &prv,
        &format!(
            "SELECT count(*) FROM incident WHERE number IN ('{visible_number}', '{hidden_number}')"
        ),
        n(2),
    )
    .await;
    q.rows(
        &prv,
        "SELECT count(*) FROM incident i JOIN task t ON t.number = i.number",
        n(inc.len()),
    )
    .await;
    adversary::verdict([explain, q.done()]);
}

#[tokio::test]
async fn the_extended_protocol_binds_no_way_around_the_acls() {
    let (s, inc) = start();
    let mut c = login(&s, "svc_rows").await;
    let mut p = Probes::new("prepared statements and portals", forbidden(&inc));
    let hist = inc.visible_histogram();
    let vis = inc.visible_rows().count();

    let sql = "SELECT count(*) FROM incident WHERE priority = $1";
    let stmt = c.prepare_typed(sql, &[Type::INT4]).await.unwrap();
    for prio in [5i32, 3, 1, 2] {
        let want = hist.get(&prio).copied().unwrap_or(0) as i64;
        let got = c
            .query_one(&stmt, &[&prio])
            .await
            .map(|r| r.get::<_, i64>(0));
        p.check(
            &format!("{sql} [$1 = {prio}]"),
            matches!(got, Ok(v) if v == want),
            || format!("expected {want}, observed {got:?}"),
        );
    }
    let sql = "SELECT count(*) FROM incident WHERE sys_id = $1";
    let hidden_id = inc
        .hidden_rows()
        .map(|i| inc.sys_id[i].clone())
        .next()
        .unwrap();
    let got = c
        .query_one(sql, &[&hidden_id])
        .await
        .map(|r| r.get::<_, i64>(0));
    p.check(
        &format!("{sql} [hidden sys_id]"),
        matches!(got, Ok(0)),
        || format!("observed {got:?}"),
    );
    let sql = "SELECT count(*) FROM incident WHERE priority = 2 AND work_notes LIKE $1";
    let got = c.query_one(sql, &[&"%"]).await.map(|r| r.get::<_, i64>(0));
    p.check(&format!("{sql} [$1 = '%']"), matches!(got, Ok(0)), || {
        format!("observed {got:?}")
    });
    // Binary results: the masked value is NULL there too.
    let sql = "SELECT work_notes FROM incident WHERE priority = $1";
    let got = c.query(sql, &[&2i32]).await.map(|rows| {
        rows.iter()
            .map(|r| r.get::<_, Option<String>>(0))
            .filter(Option::is_some)
            .count()
    });
    p.check(&format!("{sql} [$1 = 2]"), matches!(got, Ok(0)), || {
        format!("observed {got:?}")
    });
    // An error only a hidden record could raise stays silent; a visible one raises it.
    let sql = "SELECT 1 / ($1 - priority) FROM incident";
    let got = c.query(sql, &[&5i32]).await.map(|r| r.len());
    p.check(
        &format!("{sql} [$1 = 5]"),
        matches!(got, Ok(v) if v == vis),
        || format!("observed {got:?}"),
    );
    let got = c.query(sql, &[&2i32]).await.map(|r| r.len());
    p.check(
        &format!("{sql} [$1 = 2]"),
        matches!(&got, Err(e) if code(e) == "22012"),
        || format!("observed {got:?}"),
    );
    // Portals with a row limit page through the visible records only.
    let sql = "SELECT number, priority FROM incident ORDER BY number";
    let stmt = c.prepare(sql).await.unwrap();
    let tx = c.transaction().await.unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let (mut seen, mut max_chunk, mut max_prio) = (Vec::new(), 0, 0);
    loop {
        let chunk = tx.query_portal(&portal, 10).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        max_chunk = max_chunk.max(chunk.len());
        for r in &chunk {
            seen.push(r.get::<_, String>(0));
            max_prio = max_prio.max(r.get::<_, i32>(1));
        }
    }
    tx.commit().await.unwrap();
    let mut numbers: Vec<String> = inc.visible_rows().map(|i| inc.number[i].clone()).collect();
    numbers.sort();
    p.check(
        &format!("{sql} [portal, 10 rows at a time]"),
        seen == numbers && max_chunk <= 10 && max_prio <= 2,
        || {
            format!(
                "{} rows, chunks up to {max_chunk}, max priority {max_prio}",
                seen.len()
            )
        },
    );
    // Parse refuses what the simple protocol refuses, with the same codes.
    for (sql, want) in [
        ("SELECT caller_id FROM incident", "42703"),
        ("SELECT * FROM sn_hr_core_case WHERE sys_id = $1", "42P01"),
        ("SELECT count(*) FROM incident WHERE number = $1", "42501"),
        (
            "SELECT count(*) FROM incident WHERE short_description > $1",
            "42501",
        ),
    ] {
        let got = c.prepare(sql).await;
        p.check(
            sql,
            matches!(&got, Err(e) if code(e) == want),
            || match &got {
                Ok(_) => "prepared".into(),
                Err(e) => describe(e),
            },
        );
    }
    let sql = "SELECT * FROM incident";
    let got = c.prepare(sql).await.map(|s| {
        s.columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect::<Vec<_>>()
    });
    let seen_cols = incident_columns_seen(&inc);
    p.check(
        &format!("{sql} [Describe]"),
        matches!(&got, Ok(cols) if *cols == seen_cols),
        || format!("{got:?}"),
    );
    p.finish();
}

/// Waits (up to 6 s) until `sql` answers as `done` says.
async fn until(
    c: &Client,
    sql: &str,
    done: impl Fn(&Result<Vec<Row>, tokio_postgres::Error>) -> bool,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let r = query(c, sql).await;
        if done(&r) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn policy_changes_reach_open_sessions_and_bad_policies_are_refused() {
    let data = data_set(SCALE);
    let inc = Incidents::read(&data);
    let accounts = accounts(&inc);
    let s = Server::start(Options::new(data.clone(), adversary::policy(&accounts)));
    let mut c = login(&s, "svc_rows").await;
    let watcher = login(&s, "svc_rows").await;
    let mut p = Probes::new("live policy", forbidden(&inc));
    let vis = inc.visible_rows().count();
    let p1 = inc.visible_histogram()[&1];
    let count = "SELECT count(*) FROM incident";
    p.rows(&c, count, n(vis)).await;
    let prepared = c.prepare(count).await.unwrap();
    let priorities = c.prepare("SELECT priority FROM incident").await.unwrap();

    // Tighter rows. A portal bound before the change and first executed
    // after it runs under the new policy.
    let tx = c.transaction().await.unwrap();
    let portal = tx.bind(&priorities, &[]).await.unwrap();
    std::fs::write(
        &s.policy_path,
        format!("{accounts}{}", adversary::acls("priority=1", "agent")),
    )
    .unwrap();
    let got = until(&watcher, count, |r| matches!(r, Ok(rows) if *rows == n(p1))).await;
    p.check(
        "tighten to priority=1, another open session",
        matches!(&got, Ok(rows) if *rows == n(p1)),
        || format!("{got:?}"),
    );
    let got = tx
        .query_portal(&portal, 0)
        .await
        .map(|rows| rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>());
    p.check(
        "a portal bound before the change",
        matches!(&got, Ok(v) if v.len() == p1 && v.iter().all(|&x| x == 1)),
        || match &got {
            Ok(v) => format!(
                "{} rows, priorities {:?}",
                v.len(),
                v.iter().collect::<BTreeSet<_>>()
            ),
            Err(e) => describe(e),
        },
    );
    tx.commit().await.unwrap();
    // The session that held the portal.
    let got = until(&c, count, |r| matches!(r, Ok(rows) if *rows == n(p1))).await;
    p.check(
        "tighten to priority=1, same session",
        matches!(&got, Ok(rows) if *rows == n(p1)),
        || format!("{got:?}"),
    );
    let got = c
        .query_one(&prepared, &[])
        .await
        .map(|r| r.get::<_, i64>(0));
    p.check(
        "a statement prepared before the change",
        matches!(got, Ok(v) if v == p1 as i64),
        || format!("{got:?}"),
    );
    p.rows(
        &c,
        "SELECT count(*) FROM task WHERE sys_class_name = 'incident' AND priority <> 1",
        n(0),
    )
    .await;

    // Revoked egress: the table is gone for the open session.
    std::fs::write(
        &s.policy_path,
        format!(
            "{accounts}{}",
            adversary::acls("priority=1", "nobody_has_this_role")
        ),
    )
    .unwrap();
    let got = until(&c, count, |r| r.is_err()).await;
    p.check(
        "revoke incident, same session",
        matches!(&got, Err(e) if code(e) == "42P01"),
        || format!("{got:?}"),
    );
    let got = c.query_one(&prepared, &[]).await;
    p.check(
        "a statement prepared before the revocation",
        matches!(&got, Err(e) if code(e) == "42P01"),
        || format!("{got:?}"),
    );
    p.rows(
        &c,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'incident'",
        n(0),
    )
    .await;

    // Invalid policies are refused; the one in force stays.
    for (what, bad) in [
        (
            "unknown field",
            format!("{accounts}{}", adversary::acls("no_such_field=1", "agent")),
        ),
        ("not TOML", "[[acl]\nthis is not a policy".to_owned()),
        (
            "unknown role",
            format!(
                "{accounts}{}",
                adversary::acls("priority<=5", "no_such_role")
            ),
        ),
        (
            "egress_sql on *",
            format!(
                "{accounts}{}[[acl]]\noperation = \"egress_sql\"\nname = \"*\"\nroles = [\"agent\"]\n",
                adversary::acls("priority<=5", "agent")
            ),
        ),
    ] {
        std::fs::write(&s.policy_path, bad).unwrap();
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let got = query(&c, count).await;
        p.check(
            &format!("policy with {what} refused"),
            matches!(&got, Err(e) if code(e) == "42P01"),
            || format!("{got:?}"),
        );
    }
    p.rows(
        &c,
        "SELECT count(*) FROM task WHERE sys_class_name = 'incident'",
        n(p1),
    )
    .await;

    // Restored: back in the same session.
    std::fs::write(&s.policy_path, adversary::policy(&accounts)).unwrap();
    let got = until(&c, count, |r| matches!(r, Ok(rows) if *rows == n(vis))).await;
    p.check(
        "restore, same session",
        matches!(&got, Ok(rows) if *rows == n(vis)),
        || format!("{got:?}"),
    );

    // A missing policy file keeps the policy in force.
    std::fs::remove_file(&s.policy_path).unwrap();
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    p.rows(&c, count, n(vis)).await;

    // An account locked out by the policy loses its open session.
    std::fs::write(
        &s.policy_path,
        adversary::policy(&adversary::lock_rows_account(&accounts)),
    )
    .unwrap();
    let got = until(&c, count, |r| r.is_err()).await;
    p.check(
        "lock the account, same session",
        matches!(&got, Err(e) if code(e) == "28000"),
        || match &got {
            Ok(rows) => format!("{rows:?}"),
            Err(e) => describe(e),
        },
    );
    p.finish();
}

/// Plan text with timings removed: what remains is a function of the
/// data the account may see, or it leaks.
fn without_timings(plan: &str) -> String {
    let mut out = String::new();
    for line in plan.lines() {
        let Some(start) = line.find("metrics=[") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let body_start = start + "metrics=[".len();
        let end = line[body_start..]
            .find(']')
            .map_or(line.len(), |e| body_start + e);
        let kept: Vec<&str> = line[body_start..end]
            .split(", ")
            .filter(|m| {
                let key = m.split('=').next().unwrap_or("");
                !(key.contains("time") || key.contains("elapsed"))
            })
            .collect();
        out.push_str(&line[..body_start]);
        out.push_str(&kept.join(", "));
        out.push_str(&line[end..]);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn answers_do_not_depend_on_hidden_data() {
    // Two servers, same policy: one over the real data, one over a copy
    // where every record hidden from svc_rows is gone, its masked notes are
    // erased and its absent column is constant. Every answer must match.
    let full = data_set(SCALE);
    let dir = tempfile::tempdir().unwrap();
    let reduced = dir.path().join("data");
    adversary::without_hidden_data(&full, &reduced);
    let inc = Incidents::read(&full);
    let accounts = accounts(&inc);
    let a = Server::start(Options::new(full.clone(), adversary::policy(&accounts)));
    let b = Server::start(Options::new(reduced.clone(), adversary::policy(&accounts)));
    assert_eq!(
        row_count(&reduced, "incident") as usize,
        inc.visible_rows().count()
    );
    let (ca, cb) = (login(&a, "svc_rows").await, login(&b, "svc_rows").await);
    let mut p = Probes::new("non-interference (hidden data removed)", forbidden(&inc));
    let queries = [
        "SELECT * FROM incident ORDER BY number",
        "SELECT * FROM task ORDER BY sys_id",
        "SELECT count(*), min(priority), max(priority), sum(reassignment_count) FROM incident",
        "SELECT priority, count(*), count(work_notes), max(length(work_notes)) FROM incident GROUP BY priority ORDER BY 1",
        "SELECT sys_class_name, count(*), count(work_notes) FROM task GROUP BY 1 ORDER BY 1",
        "SELECT CAST(number AS INT) FROM incident",
        "SELECT CAST(work_notes AS INT) FROM incident",
        "SELECT 1/(priority-5) FROM incident",
        "SELECT number, row_number() OVER (ORDER BY sys_created_on), lag(work_notes) OVER (ORDER BY number) FROM incident ORDER BY number",
        "SELECT a.number, b.number FROM incident a JOIN incident b ON a.assigned_to = b.assigned_to AND a.sys_id < b.sys_id ORDER BY 1, 2",
        "SELECT number FROM incident WHERE priority = 2 ORDER BY work_notes, number",
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns WHERE table_name = 'incident' ORDER BY ordinal_position",
        "SELECT caller_id FROM incident",
        "SELECT count(*) FROM incident WHERE number = 'INC0001001'",
        // TopKs over shown columns and over a masked one, and a join of
        // the table with itself.
        "SELECT number, opened_at FROM incident ORDER BY opened_at DESC LIMIT 7",
        "SELECT number FROM incident ORDER BY number LIMIT 7",
        "SELECT number, work_notes FROM incident ORDER BY work_notes DESC NULLS LAST, number LIMIT 7",
        "SELECT i.number FROM incident i JOIN incident j ON j.number = i.number WHERE j.priority = 1 ORDER BY 1",
        "EXPLAIN SELECT work_notes FROM incident WHERE reassignment_count = 3",
        "EXPLAIN SELECT * FROM task WHERE priority = 5",
    ];
    for sql in queries {
        let (ra, rb) = (query(&ca, sql).await, query(&cb, sql).await);
        let show = |r: &Result<Vec<Row>, tokio_postgres::Error>| match r {
            Ok(rows) => format!(
                "{} rows: {:?}",
                rows.len(),
                rows.iter().take(3).collect::<Vec<_>>()
            ),
            Err(e) => describe(e),
        };
        let same = match (&ra, &rb) {
            (Ok(x), Ok(y)) => x == y,
            (Err(x), Err(y)) => describe(x) == describe(y),
            _ => false,
        };
        p.check(sql, same, || {
            format!(
                "real data: {}\n      without hidden data: {}",
                show(&ra),
                show(&rb)
            )
        });
    }
    // EXPLAIN ANALYZE reports metrics: apart from timings, they must be the
    // same whatever the hidden records hold.
    for sql in [
        "EXPLAIN ANALYZE SELECT work_notes FROM incident WHERE reassignment_count = 3",
        "EXPLAIN ANALYZE SELECT count(*) FROM incident",
        "EXPLAIN ANALYZE SELECT close_notes FROM incident WHERE priority = 1",
    ] {
        let (ta, tb) = (
            explain_text(&mut p, &ca, sql).await,
            explain_text(&mut p, &cb, sql).await,
        );
        if let (Some(ta), Some(tb)) = (ta, tb) {
            let (na, nb) = (without_timings(&ta), without_timings(&tb));
            p.check(sql, na == nb, || {
                format!("real data:\n{na}      without hidden data:\n{nb}")
            });
        }
    }
    p.finish();
}

/// The psql client agrees with the driver on the probes where its own
/// protocol handling matters (simple protocol, text results, \-commands).
#[tokio::test]
async fn psql_sees_the_same_restricted_world() {
    let (s, inc) = start();
    let mut p = Probes::new("psql", forbidden(&inc));
    let vis = inc.visible_rows().count();
    let run = |sql: &str| s.psql("svc_rows", &password("svc_rows"), &["-tA", "-c", sql]);
    let out = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).trim().to_owned();

    let o = run("SELECT count(*), max(priority) FROM incident");
    p.check(
        "psql: SELECT count(*), max(priority) FROM incident",
        out(&o) == format!("{vis}|2"),
        || format!("{}{}", out(&o), err(&o)),
    );
    let o = run("SELECT 1/(priority-5) FROM incident");
    p.check(
        "psql: SELECT 1/(priority-5) FROM incident",
        o.status.success() && out(&o).lines().count() == vis,
        || err(&o),
    );
    let o = run("SELECT caller_id FROM incident");
    p.check(
        "psql: SELECT caller_id FROM incident",
        !o.status.success()
            && err(&o).contains("column \"caller_id\" does not exist")
            && !err(&o).contains("HINT"),
        || err(&o),
    );
    let (h, m) = (
        run("SELECT * FROM sn_hr_core_case"),
        run("SELECT * FROM sn_hr_core_cas"),
    );
    p.check(
        "psql: SELECT * FROM sn_hr_core_case",
        !h.status.success()
            && err(&h).replace("sn_hr_core_case", "T") == err(&m).replace("sn_hr_core_cas", "T"),
        || format!("{} / {}", err(&h), err(&m)),
    );
    let o = run("SELECT count(*) FROM incident WHERE work_notes IS NOT NULL AND priority = 2");
    p.check("psql: masked notes on P2", out(&o) == "0", || {
        format!("{}{}", out(&o), err(&o))
    });
    let o = run("EXPLAIN ANALYZE SELECT number FROM incident WHERE priority = 1");
    let t = out(&o);
    p.check(
        "psql: EXPLAIN ANALYZE",
        o.status.success()
            && !t.contains("<= 2")
            && !t.contains("DataSourceExec")
            && metric_row_counts(&t).iter().all(|&r| r <= vis as f64),
        || t.clone(),
    );
    // The set of visible tables through psql's own catalog queries.
    let o = s.psql("svc_rows", &password("svc_rows"), &["-tA", "-c", "\\dt"]);
    let names: BTreeSet<String> = out(&o)
        .lines()
        .filter_map(|l| l.split('|').nth(1).map(str::to_owned))
        .collect();
    let want: BTreeSet<String> = VISIBLE_TABLES.iter().map(|t| t.to_string()).collect();
    p.check("psql: \\dt", names == want, || format!("{names:?}"));
    p.finish();
}

/// The EXPLAIN ANALYZE text of `sql`.
async fn analyzed(c: &Client, sql: &str) -> String {
    c.simple_query(&format!("EXPLAIN ANALYZE {sql}"))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1).map(str::to_owned),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lookups by value skip the Parquet row groups that cannot hold the value
/// (statistics, bloom filters), below the barrier, without changing an
/// answer: the admin's full plan shows the skipping, the restricted
/// account's answers stay those of the visible records.
#[tokio::test]
async fn lookups_skip_row_groups_without_changing_answers() {
    let (s, inc) = start();
    let admin = login(&s, "svc_admin").await;
    let rows = login(&s, "svc_rows").await;

    // A number past the last one: the file's statistics rule it out and
    // nothing is read.
    let sql = "SELECT number FROM incident WHERE number = 'INC9999999'";
    let p = analyzed(&admin, sql).await;
    assert!(p.contains("pruning_predicate="), "{p}");
    assert!(p.contains("bytes_scanned=0,"), "{p}");
    // A sys_id inside the min/max range that no record has: the bloom
    // filter rules the row group out.
    let mut ids = inc.sys_id.clone();
    ids.sort();
    let absent = format!("{}0", &ids[ids.len() / 2][..31]);
    assert!(!inc.sys_id.contains(&absent));
    let p = analyzed(
        &admin,
        &format!("SELECT number FROM incident WHERE sys_id = '{absent}'"),
    )
    .await;
    assert!(
        p.contains("row_groups_pruned_bloom_filter=1 total → 0 matched"),
        "{p}"
    );
    // A number that exists is read.
    let p = analyzed(
        &admin,
        &format!(
            "SELECT number FROM incident WHERE number = '{}'",
            inc.number[0]
        ),
    )
    .await;
    assert!(!p.contains("bytes_scanned=0,"), "{p}");

    // The restricted account: the same lookups give the visible records'
    // answers, whatever the files hold below the barrier.
    let mut probes = Probes::new("lookups below the barrier", forbidden(&inc));
    let hidden = inc.hidden_rows().next().unwrap();
    let visible_p2 = inc
        .visible_rows()
        .find(|&i| inc.priority[i] == 2 && inc.work_notes[i].is_some())
        .unwrap();
    let visible = inc.visible_rows().next().unwrap();
    // (The account may not match on `number`: its query ACL says so.)
    probes
        .rows(
            &rows,
            &format!(
                "SELECT number FROM incident WHERE sys_id IN ('{}', '{}')",
                inc.sys_id[hidden], inc.sys_id[visible]
            ),
            text(&[inc.number[visible].clone()]),
        )
        .await;
    probes
        .rows(
            &rows,
            &format!(
                "SELECT count(*) FROM incident WHERE sys_id = '{}'",
                inc.sys_id[hidden]
            ),
            n(0),
        )
        .await;
    // work_notes is masked on P2 records: NULL above the barrier, whatever
    // is stored.
    let stored_note = inc.work_notes[visible_p2].clone().unwrap();
    probes
        .rows(
            &rows,
            &format!(
                "SELECT count(*) FROM incident WHERE work_notes = '{}'",
                stored_note.replace('\'', "''")
            ),
            n(inc.count_visible(|i| inc.readable_note(i) == Some(stored_note.as_str()))),
        )
        .await;
    probes
        .rows(
            &rows,
            "SELECT count(*) FROM incident WHERE work_notes IS NULL",
            n(inc.count_visible(|i| inc.readable_note(i).is_none())),
        )
        .await;
    probes
        .rows(
            &rows,
            "SELECT count(*) FROM incident WHERE priority BETWEEN 3 AND 5",
            n(0),
        )
        .await;
    probes
        .rows(
            &rows,
            "SELECT count(*) FROM incident WHERE priority IN (1, 2) AND reassignment_count >= 0",
            n(inc.visible_rows().count()),
        )
        .await;
    probes.finish();
}
