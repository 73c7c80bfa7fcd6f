//! The demo data set as a whole: determinism, sizes, `tables.toml`, the
//! task hierarchy and progress reports.

mod demo_common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use demo_common::*;
use sqlgate_records::demo::{self, DemoOptions, Progress};

#[test]
fn same_scale_gives_identical_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(a.path(), SCALE, 700);
    generate(b.path(), SCALE, 700);
    let mut compared = 0;
    for entry in walk(a.path()) {
        let rel = entry.strip_prefix(a.path()).unwrap();
        let other = b.path().join(rel);
        assert!(
            std::fs::read(&entry).unwrap() == std::fs::read(&other).unwrap(),
            "{} differs",
            rel.display()
        );
        compared += 1;
    }
    assert_eq!(compared, walk(b.path()).len());
    assert!(
        parts(a.path(), "incident").len() >= 3,
        "several incident files"
    );
}

#[test]
fn row_counts_follow_the_scale() {
    for (scale, expect) in [(SCALE, [60, 20, 2_000, 200, 100, 200, 40, 200, 40])] {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(dir.path(), scale, 262_144);
        let names = [
            "sys_user",
            "sys_user_group",
            "incident",
            "task",
            "problem",
            "change_request",
            "sn_hr_core_case",
            "cmdb_ci",
            "kb_knowledge",
        ];
        for (name, n) in names.iter().zip(expect) {
            assert_eq!(summary.rows(name), Some(n), "{name}");
            assert_eq!(rows(&read(dir.path(), name).1), n, "{name} on disk");
        }
        let members = summary.rows("sys_user_grmember").unwrap();
        assert!((60..=180).contains(&members), "{members}");
        assert_eq!(summary.tables.len(), 10);
    }
}

#[test]
fn tiny_scales_keep_every_table_usable() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), 0, 262_144);
    assert_eq!(summary.rows("incident"), Some(0));
    assert_eq!(summary.rows("task"), Some(10));
    assert_eq!(summary.rows("kb_knowledge"), Some(10));
    // An empty table still has a file: its schema.
    let (schema, batches) = read(dir.path(), "incident");
    assert!(schema.field_with_name("caller_id").is_ok());
    assert_eq!(rows(&batches), 0);
}

#[test]
fn tables_toml_lists_every_table() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 50, 262_144);
    let text = std::fs::read_to_string(dir.path().join("tables.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let tables = doc["table"].as_array().unwrap();
    let mut seen = BTreeMap::new();
    for t in tables {
        let t = t.as_table().unwrap();
        let keys: HashSet<&str> = t.keys().map(String::as_str).collect();
        assert!(keys.is_subset(&HashSet::from(["name", "extends", "web_service_access"])));
        let name = t["name"].as_str().unwrap().to_owned();
        seen.insert(
            name,
            (
                t.get("extends").and_then(|e| e.as_str()).map(str::to_owned),
                t["web_service_access"].as_bool().unwrap(),
            ),
        );
    }
    assert_eq!(seen.len(), 10);
    for class in TASK_CLASSES {
        assert_eq!(seen[class].0.as_deref(), Some("task"), "{class}");
    }
    assert!(!seen["sys_user_grmember"].1);
    assert!(
        seen.iter()
            .filter(|(n, _)| *n != "sys_user_grmember")
            .all(|(_, v)| v.1)
    );
    let task_pos = tables
        .iter()
        .position(|t| t["name"].as_str() == Some("task"))
        .unwrap();
    let incident_pos = tables
        .iter()
        .position(|t| t["name"].as_str() == Some("incident"))
        .unwrap();
    assert!(task_pos < incident_pos, "parents first");
}

#[test]
fn every_task_class_starts_with_the_task_columns() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 200, 262_144);
    let (task, _) = read(dir.path(), "task");
    assert_eq!(task.field(0).name(), "sys_id");
    assert!(task.field_with_name("work_notes").is_ok());
    for class in TASK_CLASSES {
        let (child, batches) = read(dir.path(), class);
        assert!(child.fields().len() > task.fields().len(), "{class}");
        for (i, f) in task.fields().iter().enumerate() {
            let c = child.field(i);
            assert_eq!(
                (c.name(), c.data_type(), c.is_nullable()),
                (f.name(), f.data_type(), f.is_nullable()),
                "{class}"
            );
        }
        assert!(
            strings(&batches, "sys_class_name")
                .iter()
                .all(|c| c == class)
        );
    }
}

#[test]
fn progress_reaches_every_total() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Mutex<HashMap<&'static str, (u64, u64)>> = Mutex::new(HashMap::new());
    let opts = DemoOptions {
        scale: 300,
        rows_per_file: 100,
    };
    let summary = demo::generate(dir.path(), &opts, &|p: Progress| {
        let mut seen = seen.lock().unwrap();
        let e = seen.entry(p.table).or_insert((0, p.rows_total));
        assert!(p.rows_done >= e.0, "reports only grow");
        *e = (p.rows_done, p.rows_total);
    })
    .unwrap();
    let seen = seen.into_inner().unwrap();
    for (table, rows) in &summary.tables {
        assert_eq!(seen[table.as_str()], (*rows, *rows), "{table}");
    }
    assert_eq!(parts(dir.path(), "incident").len(), 3);
    // A second run with bigger files replaces the old parts.
    let opts = DemoOptions {
        scale: 300,
        rows_per_file: 1_000,
    };
    demo::generate(dir.path(), &opts, &|_| {}).unwrap();
    assert_eq!(parts(dir.path(), "incident").len(), 1);
}
