//! The policy as an operator handles it: explain-access, and reloads by
//! SIGHUP even when the file's modification time does not change.

mod common;

use std::process::Command;
use std::time::Duration;

use common::policy::{password, standard};
use common::{BIN, Options, Server, code, data_set};

const SCALE: u64 = 2_000;

fn config_for(dir: &std::path::Path, policy: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let config = dir.join("sqlgate.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndata_dir = {:?}\n[policy]\nfile = \"policy.toml\"\n",
            data_set(SCALE)
        ),
    )
    .unwrap();
    config
}

fn explain(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["explain-access", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn explain_access_shows_the_deciding_acls() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &standard());

    let (status, out) = explain(
        &config,
        &["--account", "svc_all", "--table", "sn_hr_core_case"],
    );
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("table sn_hr_core_case: DENIED"), "{out}");
    assert!(out.contains("requires one of roles [hr_reader]"), "{out}");

    let (status, out) = explain(&config, &["--account", "svc_all", "--table", "incident"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("table incident: ALLOWED"), "{out}");

    let (_, out) = explain(
        &config,
        &["--account", "svc_all", "--table", "sys_user_grmember"],
    );
    assert!(out.contains("allow web service access: off"), "{out}");

    let (_, out) = explain(&config, &["--account", "svc_locked", "--table", "incident"]);
    assert!(
        out.contains("may connect: NO (account is locked out"),
        "{out}"
    );

    // One record: an HR case is found through task, and its own class decides.
    let hr = common::column_strings(&data_set(SCALE), "sn_hr_core_case", "sys_id")[0]
        .clone()
        .unwrap();
    let (_, out) = explain(
        &config,
        &["--account", "svc_all", "--table", "task", "--sys-id", &hr],
    );
    assert!(out.contains("class sn_hr_core_case"), "{out}");
    assert!(out.contains("never appears in task"), "{out}");
    let inc = common::column_strings(&data_set(SCALE), "incident", "sys_id")[0]
        .clone()
        .unwrap();
    let (_, out) = explain(
        &config,
        &[
            "--account",
            "svc_all",
            "--table",
            "incident",
            "--sys-id",
            &inc,
        ],
    );
    assert!(out.contains("record READABLE"), "{out}");
}

#[tokio::test]
async fn sighup_reloads_the_policy_and_a_bad_policy_is_refused() {
    let s = Server::start(Options::new(data_set(SCALE), standard()));
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    c.simple_query("SELECT count(*) FROM cmdb_ci")
        .await
        .unwrap();

    // Revoke cmdb_ci without changing the file's modification time: only
    // SIGHUP can make the server notice.
    let before = std::fs::metadata(&s.policy_path)
        .unwrap()
        .modified()
        .unwrap();
    let revoked = standard().replace("name = \"cmdb_ci\"", "name = \"kb_knowledge\"");
    std::fs::write(&s.policy_path, revoked).unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(&s.policy_path)
        .unwrap();
    f.set_modified(before).unwrap();
    drop(f);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    c.simple_query("SELECT count(*) FROM cmdb_ci")
        .await
        .expect("no reload without a signal");

    let status = Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut gone = false;
    for _ in 0..50 {
        match c.simple_query("SELECT count(*) FROM cmdb_ci").await {
            Err(e) => {
                assert_eq!(code(&e), "42P01");
                gone = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(gone, "the same session must lose the revoked table");

    // An invalid policy is refused; the one in force stays.
    std::fs::write(
        &s.policy_path,
        "[[acl]]\noperation = \"read\"\nname = \"nope\"\n",
    )
    .unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    c.simple_query("SELECT count(*) FROM incident")
        .await
        .expect("previous policy still in force");
    assert!(
        s.log().iter().any(|l| l.contains("policy reload refused")),
        "the refusal is logged"
    );
}
