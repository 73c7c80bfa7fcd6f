//! `sqlgate serve --demo` as a newcomer runs it: data generated on first
//! start, then psql with one of the printed lines.

mod common;

use std::process::Command;

use common::{BIN, Server};

#[test]
fn serve_demo_answers_psql_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--demo",
        "--scale",
        "500",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(&demo);
    let server = Server::spawn(
        &mut cmd,
        tempfile::tempdir().unwrap(),
        String::new(),
        demo.join("policy.toml"),
    );

    // The demo folder holds what the banner points at.
    for f in [
        "data/tables.toml",
        "policy.toml",
        "server.crt",
        "server.key",
    ] {
        assert!(demo.join(f).exists(), "{f}");
    }
    let psql = |user: &str, password: &str, sql: &str| {
        Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={} dbname=sqlgate user={user} password={password} sslmode=verify-full sslrootcert={}",
                server.addr.port(),
                demo.join("server.crt").display()
            ))
            .args(["-X", "-tA", "-c", sql])
            .output()
            .unwrap()
    };
    let out = psql(
        "svc_powerbi",
        "demo-powerbi",
        "SELECT count(*) FROM incident",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "500");

    // The accounts show what the banner says they show.
    let out = psql(
        "svc_noegress",
        "demo-noegress",
        "SELECT count(*) FROM incident",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("relation \"incident\" does not exist"));
    for (user, password) in [
        ("jane.interactive", "demo-jane"),
        ("svc_locked", "demo-locked"),
    ] {
        let out = psql(user, password, "SELECT 1");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("may not connect"),
            "{user}"
        );
    }
    drop(server);

    // A second start reuses the generated data and policy.
    let policy_before = std::fs::read_to_string(demo.join("policy.toml")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--demo",
        "--scale",
        "500",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(&demo);
    let server = Server::spawn(
        &mut cmd,
        tempfile::tempdir().unwrap(),
        String::new(),
        demo.join("policy.toml"),
    );
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("generating demo data"))
    );
    assert_eq!(
        std::fs::read_to_string(demo.join("policy.toml")).unwrap(),
        policy_before
    );
}

#[test]
fn check_policy_reports_every_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::data_set(2_000);
    std::fs::write(
        dir.path().join("policy.toml"),
        "[[acl]]\noperation = \"read\"\nname = \"incident\"\nroles = [\"no_such_role\"]\n\n\
         [[acl]]\noperation = \"egress_sql\"\nname = \"no_such_table\"\n\n\
         [[acl]]\noperation = \"read\"\nname = \"incident.no_such_field\"\nroles = [\"admin\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sqlgate.toml"),
        format!(
            "[storage]\ndata_dir = {:?}\n[policy]\nfile = \"policy.toml\"\n",
            data
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-policy", "--config"])
        .arg(dir.path().join("sqlgate.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1:") && err.contains("unknown role \"no_such_role\""),
        "{err}"
    );
    assert!(
        err.contains("line 6:") && err.contains("unknown table \"no_such_table\""),
        "{err}"
    );
    assert!(
        err.contains("line 10:") && err.contains("unknown field \"no_such_field\""),
        "{err}"
    );

    std::fs::write(dir.path().join("policy.toml"), common::policy::standard()).unwrap();
    let out = Command::new(BIN)
        .args(["check-policy", "--config"])
        .arg(dir.path().join("sqlgate.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
