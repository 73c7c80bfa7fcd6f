//! The working server end to end: login and every refusal, query results
//! checked against the Parquet files, the parent/child union, live files,
//! the extended protocol, the statement gate, session isolation.

mod common;

use std::collections::BTreeMap;

use common::policy::{password, standard};
use common::{Options, Server, code, column_strings, data_set, row_count};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

const SCALE: u64 = 2_000;

fn server() -> Server {
    Server::start(Options::new(data_set(SCALE), standard()))
}

async fn login(s: &Server, user: &str) -> tokio_postgres::Client {
    s.connect(user, &password(user))
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"))
}

/// Rows of a simple query as strings.
async fn rows(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn login_over_tls_with_channel_binding() {
    let s = server();
    let conn = format!(
        "{} channel_binding=require",
        s.conn_string("svc_all", &password("svc_all"))
    );
    let (client, connection) = tokio_postgres::connect(&conn, s.tls())
        .await
        .expect("SCRAM-SHA-256-PLUS login");
    tokio::spawn(connection);
    assert_eq!(
        rows(&client, "SELECT 1 + 1").await,
        vec![vec![Some("2".into())]]
    );
    let version = rows(&client, "SHOW server_version").await;
    assert!(
        version[0][0].as_deref().unwrap().starts_with("15."),
        "{version:?}"
    );
}

#[tokio::test]
async fn every_login_refusal_has_its_sqlstate() {
    let s = server();
    let wrong = s.connect("svc_all", "not-the-password").await.unwrap_err();
    assert_eq!(code(&wrong), "28P01");
    let unknown = s.connect("ghost", "whatever").await.unwrap_err();
    assert_eq!(code(&unknown), "28P01");
    // Same message shape: nothing tells an unknown account from a wrong password.
    let msg = |e: &tokio_postgres::Error, u: &str| {
        e.as_db_error().unwrap().message().replace(u, "<user>")
    };
    assert_eq!(msg(&wrong, "svc_all"), msg(&unknown, "ghost"));

    for user in [
        "svc_interactive",
        "svc_locked",
        "svc_inactive",
        "svc_norole",
    ] {
        let e = s.connect(user, &password(user)).await.unwrap_err();
        assert_eq!(code(&e), "28000", "{user}: {e}");
    }
    // Refusals need the password: with a wrong one they look like any other failure.
    let e = s.connect("svc_locked", "wrong").await.unwrap_err();
    assert_eq!(code(&e), "28P01");

    let plain = s
        .connect_plain("svc_all", &password("svc_all"))
        .await
        .unwrap_err();
    assert_eq!(code(&plain), "28000");
    // No password or verifier ever reaches the log.
    let log = s.log().join("\n");
    assert!(
        !log.contains(&password("svc_all")) && !log.contains("SCRAM-SHA-256$"),
        "{log}"
    );
}

#[tokio::test]
async fn results_match_the_parquet_files() {
    let s = server();
    let c = login(&s, "svc_all").await;
    let data = data_set(SCALE);

    // Count per priority, computed from the files.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for p in column_strings(&data, "incident", "priority") {
        *expected
            .entry(p.unwrap_or_else(|| "NULL".into()))
            .or_default() += 1;
    }
    let got: BTreeMap<String, i64> = rows(
        &c,
        "SELECT priority, count(*) FROM incident GROUP BY priority",
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_else(|| "NULL".into()),
            r[1].as_ref().unwrap().parse().unwrap(),
        )
    })
    .collect();
    assert_eq!(got, expected);

    // A sum and a string filter.
    let sum: i64 = column_strings(&data, "incident", "reassignment_count")
        .into_iter()
        .flatten()
        .map(|v| v.parse::<i64>().unwrap())
        .sum();
    let got = rows(&c, "SELECT sum(reassignment_count) FROM incident").await;
    assert_eq!(got[0][0].as_deref(), Some(sum.to_string().as_str()));

    let numbers = column_strings(&data, "incident", "number");
    let first = numbers[0].clone().unwrap();
    let got = rows(
        &c,
        &format!("SELECT number, sys_class_name FROM incident WHERE number = '{first}'"),
    )
    .await;
    assert_eq!(got, vec![vec![Some(first), Some("incident".into())]]);
}

#[tokio::test]
async fn a_parent_table_returns_its_children_records_with_their_class() {
    let s = server();
    let data = data_set(SCALE);
    let c = login(&s, "svc_all").await;
    let got: BTreeMap<String, i64> = rows(
        &c,
        "SELECT sys_class_name, count(*) FROM task GROUP BY sys_class_name",
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].as_ref().unwrap().parse().unwrap(),
        )
    })
    .collect();
    let mut expected = BTreeMap::new();
    for class in ["task", "incident", "problem", "change_request"] {
        expected.insert(class.to_owned(), row_count(&data, class));
    }
    // HR cases extend task, but svc_all may not read that class.
    assert_eq!(got, expected);

    // The HR account sees HR cases, and no task table at all.
    let hr = login(&s, "svc_hr").await;
    let n = rows(&hr, "SELECT count(*) FROM sn_hr_core_case").await;
    assert_eq!(
        n[0][0].as_deref().unwrap(),
        row_count(&data, "sn_hr_core_case").to_string()
    );
    let e = hr
        .simple_query("SELECT count(*) FROM task")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42P01");

    // Parent columns only, with the class filled in.
    let cols = rows(
        &c,
        "SELECT * FROM task WHERE sys_class_name = 'incident' LIMIT 1",
    )
    .await;
    assert_eq!(
        cols[0].len(),
        common::read_parquet(&data, "task")[0].num_columns()
    );
}

#[tokio::test]
async fn new_parquet_files_are_seen_by_the_next_query() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::private_copy(&data_set(SCALE), &data);
    let s = Server::start(Options::new(data.clone(), standard()));
    let c = login(&s, "svc_all").await;
    let before: i64 = rows(&c, "SELECT count(*) FROM incident").await[0][0]
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(before, row_count(&data, "incident"));
    let first = std::fs::read_dir(data.join("incident"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::copy(&first, data.join("incident/zz-dropped-in.parquet")).unwrap();
    let after: i64 = rows(&c, "SELECT count(*) FROM incident").await[0][0]
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(after, row_count(&data, "incident"));
    assert!(after > before);
}

#[tokio::test]
async fn extended_protocol_binds_typed_parameters_and_limits_portals() {
    let s = server();
    let data = data_set(SCALE);
    let mut c = login(&s, "svc_all").await;
    let prio = column_strings(&data, "incident", "priority");
    let active = column_strings(&data, "incident", "active");
    let expected = prio
        .iter()
        .zip(&active)
        .filter(|(p, a)| p.as_deref() == Some("2") && a.as_deref() == Some("true"))
        .count() as i64;

    let stmt = c
        .prepare_typed(
            "SELECT count(*) FROM incident WHERE priority = $1 AND active = $2",
            &[Type::INT4, Type::BOOL],
        )
        .await
        .unwrap();
    let row = c.query_one(&stmt, &[&2i32, &true]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), expected);
    // Types inferred by the server when the client declares none.
    let stmt = c
        .prepare("SELECT number FROM incident WHERE priority = $1 ORDER BY number")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT4]);
    let all: Vec<String> = c
        .query(&stmt, &[&2i32])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    // The same rows, fetched 7 at a time from a portal.
    let tx = c.transaction().await.unwrap();
    let portal = tx.bind(&stmt, &[&2i32]).await.unwrap();
    let mut chunked = Vec::new();
    loop {
        let chunk = tx.query_portal(&portal, 7).await.unwrap();
        assert!(chunk.len() <= 7);
        if chunk.is_empty() {
            break;
        }
        chunked.extend(chunk.iter().map(|r| r.get::<_, String>(0)));
    }
    tx.commit().await.unwrap();
    assert_eq!(chunked, all);
    assert!(!all.is_empty());
}

#[tokio::test]
async fn the_statement_gate_refuses_everything_but_reads() {
    let s = server();
    let c = login(&s, "svc_all").await;
    let cases = [
        ("INSERT INTO incident (number) VALUES ('x')", "25006"),
        ("UPDATE incident SET state = 7", "25006"),
        ("DELETE FROM incident", "25006"),
        ("CREATE TABLE t (a int)", "25006"),
        ("DROP TABLE incident", "25006"),
        ("CREATE VIEW v AS SELECT 1", "25006"),
        ("SELECT 1; DROP TABLE incident", "25006"),
        ("COPY incident TO STDOUT", "42501"),
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc/'",
            "42501",
        ),
        ("SELECT * FROM '/etc/passwd'", "42501"),
        ("SELECT * FROM 'data/incident/part-00000.parquet'", "42501"),
        ("SET datafusion.execution.batch_size = 1", "42501"),
        ("SET ROLE admin", "42501"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM incident", "42703"),
        ("SELEC 1", "42601"),
        ("SELECT 1/0", "22012"),
        ("PREPARE p AS SELECT 1", "0A000"),
    ];
    for (sql, want) in cases {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(code(&e), want, "{sql}: {e}");
    }
    // The session survives every refusal.
    assert_eq!(rows(&c, "SELECT 42").await, vec![vec![Some("42".into())]]);

    // A forbidden table answers exactly like a missing one.
    let forbidden = c
        .simple_query("SELECT * FROM sn_hr_core_case")
        .await
        .unwrap_err();
    let missing = c
        .simple_query("SELECT * FROM sn_hr_core_cas")
        .await
        .unwrap_err();
    assert_eq!(code(&forbidden), "42P01");
    assert_eq!(
        forbidden
            .as_db_error()
            .unwrap()
            .message()
            .replace("sn_hr_core_case", "T"),
        missing
            .as_db_error()
            .unwrap()
            .message()
            .replace("sn_hr_core_cas", "T")
    );
    // A table whose web-service flag is off is invisible even when granted.
    let e = c
        .simple_query("SELECT * FROM sys_user_grmember")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42P01");
}

#[tokio::test]
async fn settings_stay_in_their_session() {
    let s = server();
    let a = login(&s, "svc_all").await;
    let b = login(&s, "svc_all").await;
    a.simple_query("SET extra_float_digits = 0").await.unwrap();
    a.simple_query("SET application_name = 'report-a'")
        .await
        .unwrap();
    assert_eq!(
        rows(&a, "SHOW extra_float_digits").await[0][0].as_deref(),
        Some("0")
    );
    assert_eq!(
        rows(&b, "SHOW extra_float_digits").await[0][0].as_deref(),
        Some("1")
    );
    assert_eq!(
        rows(&b, "SHOW application_name").await[0][0].as_deref(),
        Some("")
    );
    let e = a
        .simple_query("SET no_such_parameter = 1")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42704");
    // Transactions are accepted as read-only blocks; a failed one must end.
    a.simple_query("BEGIN").await.unwrap();
    a.simple_query("SELECT * FROM nope").await.unwrap_err();
    let e = a.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(code(&e), "25P02");
    a.simple_query("ROLLBACK").await.unwrap();
    assert_eq!(rows(&a, "SELECT 1").await.len(), 1);
}

#[tokio::test]
async fn psql_queries_over_verified_tls() {
    let s = server();
    let out = s.psql(
        "svc_all",
        &password("svc_all"),
        &["-tA", "-c", "SELECT count(*) FROM incident"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        row_count(&data_set(SCALE), "incident").to_string()
    );
    let out = s.psql("svc_all", "wrong", &["-c", "SELECT 1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password authentication failed"));
}

#[tokio::test]
async fn subqueries_in_the_select_list_answer_or_refuse_never_null() {
    let s = server();
    let c = login(&s, "svc_all").await;
    let data = data_set(SCALE);

    // Incidents per caller, from the files.
    let callers = column_strings(&data, "incident", "caller_id");
    let numbers = column_strings(&data, "incident", "number");
    let mut per_caller: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for caller in &callers {
        *per_caller.entry(caller.clone()).or_default() += 1;
    }
    let got = rows(
        &c,
        "SELECT number, (SELECT count(*) FROM incident i2 WHERE i2.caller_id = i.caller_id) AS n \
         FROM incident i",
    )
    .await;
    assert_eq!(got.len(), numbers.len());
    let caller_of: BTreeMap<String, Option<String>> = numbers
        .iter()
        .zip(&callers)
        .map(|(n, c)| (n.clone().unwrap(), c.clone()))
        .collect();
    for r in &got {
        let number = r[0].as_deref().unwrap();
        let caller = &caller_of[number];
        // A NULL caller matches no row, as in PostgreSQL.
        let want = if caller.is_some() {
            per_caller[caller]
        } else {
            0
        };
        assert_eq!(r[1].as_deref(), Some(want.to_string().as_str()), "{number}");
    }

    // Not aggregated: refused with a hint, not answered with NULLs.
    let e = c
        .simple_query(
            "SELECT number, (SELECT i2.priority FROM incident i2 WHERE i2.caller_id = i.caller_id) \
             FROM incident i",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "0A000", "{e:?}");
    // More than one row where one value is expected: PostgreSQL's 21000.
    let e = c
        .simple_query("SELECT (SELECT number FROM incident) AS n")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "21000", "{e:?}");
}

#[tokio::test]
async fn information_schema_shows_what_the_account_may_read_with_postgres_types() {
    use common::policy::{account, grant};
    // `svc_narrow` may read incident only, and not its caller_id (for
    // auditors only).
    let policy = format!(
        "{}[[role]]\nname = \"narrow\"\n\n[[role]]\nname = \"auditor\"\n\n{}{}\
         [[acl]]\noperation = \"read\"\nname = \"incident.caller_id\"\nroles = [\"auditor\"]\n\n",
        standard(),
        account(
            "svc_narrow",
            "0000000000000000000000000000a008",
            &["sn_odbc_rest_access", "narrow"],
            "web_service_access_only = true",
        ),
        grant("incident", &["narrow"]),
    );
    let s = Server::start(Options::new(data_set(SCALE), policy));
    let c = login(&s, "svc_narrow").await;
    let text = |v: &[&str]| v.iter().map(|x| Some((*x).to_owned())).collect::<Vec<_>>();

    assert_eq!(
        rows(
            &c,
            "SELECT table_catalog, table_name, table_type, is_insertable_into \
             FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await,
        vec![text(&["sqlgate", "incident", "BASE TABLE", "NO"])]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
        .await,
        vec![text(&["incident"])]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT table_name, privilege_type, grantee FROM information_schema.table_privileges"
        )
        .await,
        vec![text(&["incident", "SELECT", "svc_narrow"])]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT count(*) FROM information_schema.table_constraints"
        )
        .await,
        vec![text(&["0"])]
    );

    // Every column the wire sends, in order, under the name of the type it
    // is sent as; the hidden field is not there.
    let described: Vec<(String, Type)> = c
        .prepare("SELECT * FROM incident")
        .await
        .unwrap()
        .columns()
        .iter()
        .map(|col| (col.name().to_owned(), col.type_().clone()))
        .collect();
    assert!(!described.iter().any(|(name, _)| name == "caller_id"));
    let listed = rows(
        &c,
        "SELECT column_name, data_type, udt_name, udt_schema, ordinal_position \
         FROM information_schema.columns WHERE table_name = 'incident' ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(listed.len(), described.len(), "{listed:?}");
    for (i, (row, (name, ty))) in listed.iter().zip(&described).enumerate() {
        let data_type = match ty.name() {
            "text" => "text",
            "int2" => "smallint",
            "int4" => "integer",
            "int8" => "bigint",
            "bool" => "boolean",
            "float8" => "double precision",
            "timestamp" => "timestamp without time zone",
            "timestamptz" => "timestamp with time zone",
            other => panic!("{name}: no expectation for {other}"),
        };
        let position = (i + 1).to_string();
        assert_eq!(
            row,
            &text(&[name, data_type, ty.name(), "pg_catalog", &position]),
            "{name}"
        );
    }
    let by_name = |n: &str| {
        listed
            .iter()
            .find(|r| r[0].as_deref() == Some(n))
            .map(|r| (r[1].clone().unwrap(), r[2].clone().unwrap()))
    };
    assert_eq!(by_name("number"), Some(("text".into(), "text".into())));
    assert_eq!(by_name("priority"), Some(("integer".into(), "int4".into())));
    assert_eq!(
        by_name("opened_at"),
        Some(("timestamp without time zone".into(), "timestamp".into()))
    );

    // The catalogs are described too, as PostgreSQL describes them.
    assert_eq!(
        rows(
            &c,
            "SELECT table_schema, table_type FROM information_schema.tables \
             WHERE table_name IN ('columns', 'pg_class', 'pg_tables') ORDER BY table_name"
        )
        .await,
        vec![
            text(&["information_schema", "VIEW"]),
            text(&["pg_catalog", "BASE TABLE"]),
            text(&["pg_catalog", "VIEW"]),
        ]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT data_type, udt_name FROM information_schema.columns \
             WHERE table_name = 'pg_class' AND column_name IN ('oid', 'relname') ORDER BY 1"
        )
        .await,
        vec![text(&["oid", "oid"]), text(&["text", "text"])]
    );

    // SHOW TABLES / SHOW COLUMNS read the same views.
    let shown: Vec<_> = rows(&c, "SHOW TABLES")
        .await
        .into_iter()
        .filter(|r| r[1].as_deref() == Some("public"))
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(shown, text(&["incident"]));
    let columns: Vec<_> = rows(&c, "SHOW COLUMNS FROM incident")
        .await
        .into_iter()
        .map(|r| r[3].clone().unwrap())
        .collect();
    let names: Vec<String> = described.into_iter().map(|(n, _)| n).collect();
    assert_eq!(columns, names);
}
