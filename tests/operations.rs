//! Hardening and operations, each rule over the wire with a real client:
//! access policies, query rate limits, connection-attempt limits, lockout,
//! idle sessions, statement length, query memory, the login deadline,
//! fairness under an expensive query, graceful shutdown, the admin port's
//! metrics and health, and the audit log with its verifier.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::policy::{password, standard};
use common::{LOOPBACK, Options, Server, audit_records, audit_verify, code, data_set};
use tokio_postgres::SimpleQueryMessage;

/// The standard policy without its access policy admitting loopback.
fn accounts_only() -> String {
    let p = standard();
    assert!(p.contains(LOOPBACK));
    p.replace(LOOPBACK, "")
}

fn options() -> Options {
    Options::new(data_set(2_000), standard())
}

/// The first column of the first row of a simple query.
async fn one(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default()
}

/// The SQLSTATE and message of a refused login.
async fn refused(s: &Server, user: &str, pw: &str) -> (String, String) {
    match s.connect(user, pw).await {
        Ok(_) => panic!("{user} logged in"),
        Err(e) => (code(&e), message(&e)),
    }
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

// ---------------------------------------------------------------------------
// Access policies

#[tokio::test]
async fn access_policies_admit_by_address_and_role_and_block_otherwise() {
    // Only another network is allowed: loopback is blocked before any
    // credential work, so a wrong password answers the same 28000.
    let mut opts = options();
    opts.policy = format!(
        "{}\n[[access_policy]]\nname = \"vpn\"\naction = \"allow\"\ncidrs = [\"10.0.0.0/8\", \"fd00::/8\"]\n",
        accounts_only()
    );
    let s = Server::start(opts);
    let (c, m) = refused(&s, "svc_all", &password("svc_all")).await;
    assert_eq!(c, "28000", "{m}");
    assert!(m.contains("access polic"), "{m}");
    let (c2, m2) = refused(&s, "svc_all", "wrong").await;
    assert_eq!((c2, m2), (c, m), "blocked before the password is looked at");
    drop(s);

    // Loopback allowed, then denied again by a narrower deny rule.
    let mut opts = options();
    opts.policy = format!(
        "{}\n{LOOPBACK}\n[[access_policy]]\nname = \"no local\"\naction = \"deny\"\ncidrs = [\"127.0.0.1/32\"]\n",
        accounts_only()
    );
    let s = Server::start(opts);
    assert_eq!(
        refused(&s, "svc_all", &password("svc_all")).await.0,
        "28000"
    );
    drop(s);

    // Loopback allowed only to holders of a role: checked right after
    // authentication.
    let mut opts = options();
    opts.policy = format!(
        "{}\n[[access_policy]]\nname = \"hr desk\"\naction = \"allow\"\ncidrs = [\"127.0.0.0/8\"]\nroles = [\"hr_reader\"]\n",
        accounts_only()
    );
    let s = Server::start(opts);
    let hr = s.connect("svc_hr", &password("svc_hr")).await.unwrap();
    assert_eq!(one(&hr, "SELECT 1").await, "1");
    let (c, m) = refused(&s, "svc_all", &password("svc_all")).await;
    assert_eq!(c, "28000", "{m}");
    // A wrong password still answers as a wrong password (28P01): the role
    // rule is only looked at once the account is authenticated.
    assert_eq!(refused(&s, "svc_all", "wrong").await.0, "28P01");
}

// ---------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn query_rate_limits_answer_53400_with_limit_and_reset_and_most_specific_rule_wins() {
    let mut opts = options();
    let rules = "[[rate_limit]]\napplies_to = \"all\"\nqueries_per_hour = 1000\n\n\
                 [[rate_limit]]\napplies_to = \"role\"\nrole = \"reader\"\nqueries_per_hour = 6\n\n\
                 [[rate_limit]]\napplies_to = \"role\"\nrole = \"sn_odbc_rest_access\"\nqueries_per_hour = 4\n\n\
                 [[rate_limit]]\napplies_to = \"user\"\nuser = \"svc_priv\"\nqueries_per_hour = 2\n";
    opts.policy = format!("{}\n{rules}", standard());
    let s = Server::start(opts);

    // svc_all holds reader (6) and sn_odbc_rest_access (4): the lowest role
    // rule applies.
    let all = s.connect("svc_all", &password("svc_all")).await.unwrap();
    for i in 0..4 {
        assert_eq!(one(&all, &format!("SELECT {i}")).await, i.to_string());
    }
    let e = all.simple_query("SELECT 99").await.unwrap_err();
    assert_eq!(code(&e), "53400");
    let m = message(&e);
    assert!(m.contains("4 queries per hour"), "{m}");
    assert!(
        m.contains("try again after 20"),
        "names the reset time: {m}"
    );
    // The session stays open: commands that are not queries still answer.
    all.simple_query("SET application_name = 'still here'")
        .await
        .unwrap();

    // A user rule beats every role rule.
    let privileged = s.connect("svc_priv", &password("svc_priv")).await.unwrap();
    for _ in 0..2 {
        one(&privileged, "SELECT 1").await;
    }
    assert_eq!(
        code(&privileged.simple_query("SELECT 1").await.unwrap_err()),
        "53400"
    );
    // Budgets are per account: svc_hr (sn_odbc_rest_access, 4) is untouched.
    let hr = s.connect("svc_hr", &password("svc_hr")).await.unwrap();
    assert_eq!(one(&hr, "SELECT 7").await, "7");

    // Raising the limit takes effect on the open session once the policy
    // reloads: the window allows again.
    std::fs::write(
        &s.policy_path,
        format!(
            "{}\n{LOOPBACK}\n[[rate_limit]]\napplies_to = \"all\"\nqueries_per_hour = 1000\n",
            standard()
        ),
    )
    .unwrap();
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match all.simple_query("SELECT 42").await {
            Ok(_) => break,
            Err(e) => assert_eq!(code(&e), "53400"),
        }
        assert!(
            Instant::now() < deadline,
            "the reloaded limit never applied"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(one(&all, "SELECT 43").await, "43");
}

#[tokio::test]
async fn connection_attempts_per_address_are_limited_before_any_credential_work() {
    let mut opts = options();
    opts.extra = "[limits]\nconnection_attempts_per_minute = 4\n".into();
    let s = Server::start(opts);
    for _ in 0..4 {
        s.connect("svc_all", &password("svc_all")).await.unwrap();
    }
    let (c, m) = refused(&s, "svc_all", &password("svc_all")).await;
    assert_eq!(c, "53400", "{m}");
    assert!(m.contains("try again after"), "{m}");
    assert_eq!(refused(&s, "nobody", "x").await.0, "53400");
}

// ---------------------------------------------------------------------------
// Lockout

#[tokio::test]
async fn repeated_failures_lock_a_name_without_revealing_whether_it_exists() {
    let mut opts = options();
    opts.extra = "[limits]\nlockout_threshold = 3\nlockout_duration = \"3s\"\n".into();
    let s = Server::start(opts);
    let right = password("svc_all");

    let (wrong_code, wrong_msg) = refused(&s, "svc_all", "wrong").await;
    assert_eq!(wrong_code, "28P01");
    for _ in 0..2 {
        assert_eq!(refused(&s, "svc_all", "wrong").await.0, "28P01");
    }
    // Locked: the right password answers exactly like a wrong one.
    let locked = refused(&s, "svc_all", &right).await;
    assert_eq!(locked, (wrong_code.clone(), wrong_msg.clone()));
    // An unknown name fails, and then is "locked", the same way (the
    // message names the user, as PostgreSQL's does, and nothing else).
    for _ in 0..4 {
        let (c, m) = refused(&s, "svc_ghost", "anything").await;
        assert_eq!(
            (c, m.replace("svc_ghost", "svc_all")),
            (wrong_code.clone(), wrong_msg.clone())
        );
    }
    // Other accounts are unaffected.
    s.connect("svc_hr", &password("svc_hr")).await.unwrap();

    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let c = s.connect("svc_all", &right).await.unwrap();
    assert_eq!(one(&c, "SELECT 1").await, "1");
}

// ---------------------------------------------------------------------------
// Session and statement limits

#[tokio::test]
async fn idle_sessions_are_closed_with_57p05() {
    let mut opts = options();
    opts.server_extra = "idle_timeout = \"1s\"".into();
    let s = Server::start(opts);
    let (client, conn) = {
        let cfg: tokio_postgres::Config = s
            .conn_string("svc_all", &password("svc_all"))
            .parse()
            .unwrap();
        cfg.connect(s.tls()).await.unwrap()
    };
    let driver = tokio::spawn(conn);
    // Activity keeps the session alive past the timeout.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(one(&client, "SELECT 1").await, "1");
    }
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the idle session was not closed")
        .unwrap();
    let e = ended.expect_err("the server ends the session with an error");
    assert_eq!(code(&e), "57P05", "{e}");
    assert!(client.is_closed());
}

#[tokio::test]
async fn statements_over_the_length_limit_are_refused_with_54000() {
    let mut opts = options();
    opts.server_extra = "max_statement_length = 200".into();
    let s = Server::start(opts);
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let long = format!("SELECT '{}'", "x".repeat(300));
    assert_eq!(code(&c.simple_query(&long).await.unwrap_err()), "54000");
    assert_eq!(code(&c.prepare(&long).await.unwrap_err()), "54000");
    // The session goes on.
    assert_eq!(one(&c, "SELECT 'short'").await, "short");
}

#[tokio::test]
async fn a_query_over_its_memory_limit_fails_with_53200_and_the_session_goes_on() {
    let mut opts = options();
    opts.server_extra = "query_memory_limit = \"4MiB\"".into();
    let s = Server::start(opts);
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    // One aggregate state holding 4M 64-byte strings: an accumulator cannot
    // spill, so it must fail rather than grow past 4 MiB.
    let e = c
        .simple_query(
            "SELECT array_length(array_agg(a.sys_id || b.sys_id), 1) FROM incident a CROSS JOIN incident b",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "53200", "{e}");
    assert_eq!(one(&c, "SELECT count(*) FROM incident").await, "2000");
}

#[tokio::test]
async fn a_client_that_never_logs_in_is_dropped_at_the_startup_deadline() {
    let mut opts = options();
    opts.server_extra = "startup_timeout = \"1s\"".into();
    let s = Server::start(opts);
    let addr = s.addr;
    let held = tokio::task::spawn_blocking(move || {
        let mut silent = TcpStream::connect(addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 64];
        let n = silent.read(&mut buf).unwrap_or(0);
        (n, start.elapsed())
    });
    // Meanwhile other clients log in normally.
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    assert_eq!(one(&c, "SELECT 1").await, "1");
    let (n, waited) = held.await.unwrap();
    assert_eq!(n, 0, "closed without a word");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn an_expensive_query_does_not_starve_other_sessions() {
    let mut opts = options();
    opts.statement_timeout = "30s";
    let s = Server::start(opts);
    let heavy = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let cancel = heavy.cancel_token();
    let running = tokio::spawn(async move {
        heavy
            .simple_query(
                "SELECT count(*) FROM incident a, incident b, incident c WHERE a.priority + b.priority + c.priority = 7",
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let light = s.connect("svc_hr", &password("svc_hr")).await.unwrap();
    let cases: i64 = one(&light, "SELECT count(*) FROM sn_hr_core_case")
        .await
        .parse()
        .unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let start = Instant::now();
        let answer = one(
            &light,
            &format!("SELECT count(*) + {i} FROM sn_hr_core_case"),
        )
        .await;
        assert_eq!(answer, (cases + i).to_string());
        slowest = slowest.max(start.elapsed());
    }
    assert!(!running.is_finished(), "the heavy query should still run");
    assert!(
        slowest < Duration::from_secs(3),
        "a small query took {slowest:?}"
    );
    cancel.cancel_query(s.tls()).await.unwrap();
    let e = running.await.unwrap().unwrap_err();
    assert_eq!(code(&e), "57014");
}

// ---------------------------------------------------------------------------
// Admin port

fn http(addr: SocketAddr, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn get(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of a metric sample line `name{labels} value`.
fn sample(body: &str, line_start: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_and_health_on_the_admin_port_with_security_headers() {
    let mut opts = options();
    opts.extra = "[admin]\nlisten = \"127.0.0.1:0\"\n".into();
    let s = Server::start(opts);
    let admin = s.admin.expect("the admin listener");
    assert!(admin.ip().is_loopback());

    let (status, headers, body) = get(admin, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "ok");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(header(&headers, name), Some(value), "{name}");
    }
    let csp = header(&headers, "content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let (_, _, before) = get(admin, "/metrics");
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let rows = c
        .simple_query("SELECT number FROM incident LIMIT 25")
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
            .count(),
        25
    );
    assert_eq!(
        code(
            &c.simple_query("SELECT * FROM sn_hr_core_case")
                .await
                .unwrap_err()
        ),
        "42P01"
    );
    let _ = refused(&s, "svc_all", "wrong").await;

    let (status, headers, after) = get(admin, "/metrics");
    assert_eq!(status, 200);
    let ct = header(&headers, "content-type").unwrap();
    assert!(
        ct.contains("openmetrics") || ct.contains("text/plain"),
        "{ct}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert!(
        after.trim_end().ends_with("# EOF"),
        "OpenMetrics exposition"
    );
    let grew = |name: &str, by: f64| {
        let (b, a) = (sample(&before, name), sample(&after, name));
        assert!(a - b >= by, "{name}: {b} -> {a}\n{after}");
    };
    grew("sqlgate_rows_sent_total", 25.0);
    grew("sqlgate_bytes_sent_total", 25.0 * 10.0);
    grew("sqlgate_denials_total{kind=\"table\"}", 1.0);
    grew("sqlgate_connections_total", 2.0);
    assert!(sample(&after, "sqlgate_connections_open") >= 1.0, "{after}");
    assert!(
        after.contains("sqlgate_statement_duration_seconds_bucket"),
        "{after}"
    );
    assert!(after.contains("sqlgate_logins_total{"), "{after}");

    let (status, _, _) = get(admin, "/nothing-here");
    assert_eq!(status, 404);
    let (status, headers, _) = http(
        admin,
        "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
}

// ---------------------------------------------------------------------------
// Audit log, graceful shutdown

#[tokio::test]
async fn the_audit_log_records_everything_and_its_verifier_catches_every_edit() {
    let mut opts = options();
    opts.extra = "[audit]\nfile = \"audit.jsonl\"\n".into();
    opts.policy = format!(
        "{}\n[[rate_limit]]\napplies_to = \"user\"\nuser = \"svc_hr\"\nqueries_per_hour = 1\n",
        standard()
    );
    let mut s = Server::start(opts);
    let log = s.dir.path().join("audit.jsonl");

    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    let n = c
        .simple_query("SELECT number FROM incident WHERE priority = 1")
        .await
        .unwrap()
        .iter()
        .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
        .count() as u64;
    assert!(n > 0);
    assert_eq!(
        code(
            &c.simple_query("SELECT salary FROM sn_hr_core_case")
                .await
                .unwrap_err()
        ),
        "42P01"
    );
    let _ = refused(&s, "svc_all", "the-wrong-password").await;
    let _ = refused(&s, "svc_interactive", &password("svc_interactive")).await;
    let hr = s.connect("svc_hr", &password("svc_hr")).await.unwrap();
    one(&hr, "SELECT 1").await;
    assert_eq!(
        code(&hr.simple_query("SELECT 2").await.unwrap_err()),
        "53400"
    );
    drop((c, hr));

    let status = s
        .terminate(Duration::from_secs(30))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");

    let all = audit_records(&log);
    let kinds: Vec<&str> = all.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"server_start"));
    assert_eq!(
        kinds.last(),
        Some(&"server_stop"),
        "flushed to the end on shutdown"
    );
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| all.iter().any(pred);
    assert!(find(&|r| r["event"] == "login"
        && r["account"] == "svc_all"
        && r["outcome"] == "success"
        && r["method"] == "scram"));
    assert!(find(&|r| r["event"] == "login"
        && r["account"] == "svc_all"
        && r["outcome"] == "failure"
        && r["reason"].is_string()));
    assert!(find(&|r| r["event"] == "login"
        && r["account"] == "svc_interactive"
        && r["outcome"] == "failure"));
    assert!(find(&|r| r["event"] == "query"
        && r["account"] == "svc_all"
        && r["rows"] == n
        && r["outcome"] == "success"
        && r["tables"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "incident"))
        && r["digest"].as_str().is_some_and(|d| d.len() >= 16)));
    assert!(find(&|r| r["event"] == "table_denied"
        && r["account"] == "svc_all"
        && r["table"] == "sn_hr_core_case"));
    assert!(find(&|r| r["event"] == "rate_limited"
        && r["account"] == "svc_hr"
        && r["limit"] == 1));
    let seqs: Vec<u64> = all.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // No secret ever appears: not the passwords, not the statement text.
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        "the-wrong-password",
        &password("svc_all"),
        &password("svc_hr"),
        "WHERE priority = 1",
        "SCRAM-SHA-256$",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    let (ok, out) = audit_verify(&log);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{} records", all.len())), "{out}");

    // Every kind of tampering is caught, and the first broken record named.
    let lines: Vec<&str> = text.lines().collect();
    let tampered = s.dir.path().join("tampered.jsonl");
    let write = |ls: &[String]| std::fs::write(&tampered, ls.join("\n") + "\n").unwrap();
    let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let target = lines
        .iter()
        .position(|l| l.contains("\"event\":\"query\""))
        .unwrap();

    let mut edited = owned.clone();
    edited[target] =
        edited[target].replacen(&format!("\"rows\":{n}"), &format!("\"rows\":{}", n + 1), 1);
    assert_ne!(edited[target], owned[target]);
    write(&edited);
    let (ok, out) = audit_verify(&tampered);
    assert!(!ok, "an edited record passed");
    assert!(
        out.contains(&seqs[target].to_string()),
        "names the record: {out}"
    );

    let mut removed = owned.clone();
    removed.remove(target);
    write(&removed);
    assert!(!audit_verify(&tampered).0, "a removed record passed");

    let mut swapped = owned.clone();
    swapped.swap(target, target + 1);
    write(&swapped);
    assert!(!audit_verify(&tampered).0, "reordered records passed");

    let mut truncated_head = owned.clone();
    truncated_head.remove(0);
    write(&truncated_head);
    assert!(
        !audit_verify(&tampered).0,
        "a log missing its first record passed"
    );
}

#[tokio::test]
async fn sigterm_stops_accepting_and_lets_running_queries_finish() {
    let mut opts = options();
    opts.server_extra = "shutdown_grace = \"20s\"".into();
    let mut s = Server::start(opts);
    let (slow, _) = s
        .connect_slow("svc_all", &password("svc_all"), 256 * 1024)
        .await;
    // About 1 MB of rows at 256 KiB/s: a few seconds of streaming.
    let running = tokio::spawn(async move {
        slow.simple_query("SELECT * FROM incident").await.map(|m| {
            m.iter()
                .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
                .count()
        })
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.connect("svc_all", &password("svc_all")).await.is_err(),
        "no new sessions after SIGTERM"
    );
    let rows = running.await.unwrap().expect("the running query finished");
    assert_eq!(rows, 2000, "every row arrived");
    let status = s.wait_exit(Duration::from_secs(20)).expect("exited");
    assert!(status.success(), "{status:?}");
}
