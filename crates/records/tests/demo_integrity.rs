//! The demo data set read back record by record: references, the fixed
//! identities, the Parquet layout and plausible values.

mod demo_common;

use std::collections::{HashMap, HashSet};
use std::fs::File;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::basic::Encoding;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use demo_common::*;
use sqlgate_records::demo;

#[test]
fn references_point_at_existing_records() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), SCALE, 900);
    let all = [
        "sys_user",
        "sys_user_group",
        "sys_user_grmember",
        "task",
        "incident",
        "problem",
        "change_request",
        "sn_hr_core_case",
        "cmdb_ci",
        "kb_knowledge",
    ];
    let data: HashMap<&str, Vec<RecordBatch>> =
        all.iter().map(|t| (*t, read(dir.path(), t).1)).collect();

    // sys_ids: 32 lowercase hex, unique across the whole data set.
    let mut ids: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut everywhere = HashSet::new();
    for t in all {
        let column = strings(&data[t], "sys_id");
        assert_eq!(
            column.len() as u64,
            rows(&data[t]),
            "{t}: sys_id is never null"
        );
        for id in &column {
            assert!(
                id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{t}: {id}"
            );
            assert!(everywhere.insert(id.clone()), "{t}: duplicate {id}");
        }
        ids.insert(t, column.into_iter().collect());
    }
    let user_names: HashSet<String> = strings(&data["sys_user"], "user_name")
        .into_iter()
        .collect();
    assert_eq!(
        user_names.len() as u64,
        rows(&data["sys_user"]),
        "user names are unique"
    );

    let mut refs = vec![
        ("sys_user", "manager", "sys_user"),
        ("sys_user_group", "manager", "sys_user"),
        ("sys_user_group", "parent", "sys_user_group"),
        ("sys_user_grmember", "user", "sys_user"),
        ("sys_user_grmember", "group", "sys_user_group"),
        ("incident", "caller_id", "sys_user"),
        ("sn_hr_core_case", "subject_person", "sys_user"),
        ("cmdb_ci", "owned_by", "sys_user"),
        ("cmdb_ci", "support_group", "sys_user_group"),
        ("kb_knowledge", "author", "sys_user"),
    ];
    for class in ["task"].into_iter().chain(TASK_CLASSES) {
        refs.extend([
            (class, "assignment_group", "sys_user_group"),
            (class, "assigned_to", "sys_user"),
            (class, "opened_by", "sys_user"),
            (class, "cmdb_ci", "cmdb_ci"),
        ]);
    }
    for (table, column, target) in refs {
        let values = strings(&data[table], column);
        // HR cases concern people, not configuration items.
        let may_be_empty = (table, column) == ("sn_hr_core_case", "cmdb_ci");
        assert!(
            may_be_empty || !values.is_empty(),
            "{table}.{column} has values"
        );
        for v in values {
            assert!(
                ids[target].contains(&v),
                "{table}.{column} = {v} is not a {target}"
            );
        }
    }
    for t in all {
        for column in ["sys_created_by", "sys_updated_by"] {
            for v in strings(&data[t], column) {
                assert!(user_names.contains(&v), "{t}.{column} = {v}");
            }
        }
    }
}

#[test]
fn the_demo_identities_are_rows() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), SCALE, 262_144);
    let (_, users) = read(dir.path(), "sys_user");
    let (_, groups) = read(dir.path(), "sys_user_group");
    let (_, members) = read(dir.path(), "sys_user_grmember");
    let (_, incidents) = read(dir.path(), "incident");

    let user_ids = strings(&users, "sys_id");
    let user_names = strings(&users, "user_name");
    let by_name: HashMap<&str, &str> = user_names
        .iter()
        .map(String::as_str)
        .zip(user_ids.iter().map(String::as_str))
        .collect();
    let group_ids = strings(&groups, "sys_id");
    let group_names = strings(&groups, "name");
    let group_by_name: HashMap<&str, &str> = group_names
        .iter()
        .map(String::as_str)
        .zip(group_ids.iter().map(String::as_str))
        .collect();
    let pairs: HashSet<(String, String)> = strings(&members, "user")
        .into_iter()
        .zip(strings(&members, "group"))
        .collect();

    let demo_groups = demo::demo_groups();
    assert!(demo_groups.len() >= 15);
    assert_eq!(group_names.len(), demo_groups.len());
    for g in &demo_groups {
        assert_eq!(group_by_name.get(g.name), Some(&g.sys_id), "{}", g.name);
        if let Some(p) = g.parent {
            assert!(group_by_name.contains_key(p));
        }
    }
    let flags = |column: &str| -> HashMap<String, bool> {
        let mut out = HashMap::new();
        for b in &users {
            let names = b.column_by_name("user_name").unwrap().as_string::<i32>();
            let values = b.column_by_name(column).unwrap().as_boolean();
            for i in 0..b.num_rows() {
                out.insert(names.value(i).to_owned(), values.value(i));
            }
        }
        out
    };
    let (locked, ws_only) = (flags("locked_out"), flags("web_service_access_only"));
    let accounts = demo::demo_service_accounts();
    for name in [
        "svc_powerbi",
        "svc_tableau",
        "svc_desk",
        "svc_hr",
        "svc_noegress",
        "jane.interactive",
        "svc_locked",
    ] {
        let a = accounts
            .iter()
            .find(|a| a.user_name == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(by_name.get(name), Some(&a.sys_id), "{name}");
        assert_eq!(locked[name], a.locked_out);
        assert_eq!(ws_only[name], a.web_service_access_only);
        for g in a.groups {
            assert!(
                pairs.contains(&(a.sys_id.to_owned(), group_by_name[g].to_owned())),
                "{name} in {g}"
            );
        }
    }
    assert!(locked["svc_locked"] && !ws_only["jane.interactive"] && ws_only["svc_desk"]);

    // Conditions on svc_desk's groups and on svc_desk itself select a real,
    // proper subset of the incidents.
    let desk = accounts.iter().find(|a| a.user_name == "svc_desk").unwrap();
    let desk_groups: HashSet<&str> = desk.groups.iter().map(|g| group_by_name[g]).collect();
    let total = rows(&incidents) as usize;
    let in_groups = strings(&incidents, "assignment_group")
        .iter()
        .filter(|g| desk_groups.contains(g.as_str()))
        .count();
    let assigned = strings(&incidents, "assigned_to")
        .iter()
        .filter(|u| *u == desk.sys_id)
        .count();
    assert!(
        in_groups > total / 5 && in_groups < total,
        "{in_groups} of {total}"
    );
    assert!(
        assigned >= 10 && assigned < total / 5,
        "{assigned} of {total}"
    );
}

#[test]
fn files_are_laid_out_for_point_lookups() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 20_000, 150_000);
    for table in ["incident", "task", "kb_knowledge", "sys_user"] {
        let mut last_number: Option<String> = None;
        for path in parts(dir.path(), table) {
            let options =
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
            let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
                File::open(&path).unwrap(),
                options,
            )
            .unwrap();
            let meta = builder.metadata().clone();
            let schema = builder.parquet_schema().clone();
            let col =
                |name: &str| (0..schema.num_columns()).find(|&i| schema.column(i).name() == name);
            let sys_id = col("sys_id").unwrap();
            let number = col("number");
            assert!(
                meta.column_index().is_some() && meta.offset_index().is_some(),
                "{table}: page index"
            );
            // Reference columns are stored as dictionaries, and every data
            // page of theirs holds keys (a page spilled to plain values
            // would be re-encoded by the reader, value by value).
            let arrow_schema = builder.schema().clone();
            let encoded = [
                "assignment_group",
                "assigned_to",
                "opened_by",
                "caller_id",
                "workflow_state",
                "department",
            ]
            .into_iter()
            .filter_map(|name| Some((name, col(name)?)))
            .collect::<Vec<_>>();
            assert!(!encoded.is_empty(), "{table}: reference columns");
            for (name, _) in &encoded {
                assert!(
                    matches!(
                        arrow_schema.field_with_name(name).unwrap().data_type(),
                        DataType::Dictionary(..)
                    ),
                    "{table}.{name}: stored as a dictionary"
                );
            }
            for (rg_idx, rg) in meta.row_groups().iter().enumerate() {
                assert!(rg.num_rows() <= 131_072);
                for (name, i) in &encoded {
                    let chunk = rg.column(*i);
                    let data_pages = chunk.page_encoding_stats_mask().expect("page encodings");
                    assert!(
                        chunk.dictionary_page_offset().is_some()
                            && data_pages.is_only(Encoding::RLE_DICTIONARY),
                        "{table}.{name}: data pages in {:?}",
                        data_pages.encodings().collect::<Vec<_>>()
                    );
                }
                assert!(
                    rg.column(sys_id).bloom_filter_offset().is_some(),
                    "{table}: sys_id bloom filter"
                );
                assert!(
                    rg.column(sys_id).statistics().is_some(),
                    "{table}: statistics"
                );
                let pages = &meta.offset_index().unwrap()[rg_idx][sys_id].page_locations;
                assert!(
                    pages.len() as i64 >= rg.num_rows() / 8_192,
                    "{table}: small pages"
                );
                if let Some(n) = number {
                    assert!(
                        rg.column(n).bloom_filter_offset().is_some(),
                        "{table}: number bloom filter"
                    );
                    let sorting = rg.sorting_columns().expect("sort order declared");
                    assert_eq!(sorting[0].column_idx as usize, n);
                    assert!(!sorting[0].descending);
                }
            }
            // The bloom filter answers for a value that is there.
            let first_id = {
                let b =
                    ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
                let batch = b
                    .with_batch_size(1)
                    .build()
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap();
                batch
                    .column_by_name("sys_id")
                    .unwrap()
                    .as_string::<i32>()
                    .value(0)
                    .to_owned()
            };
            let sbbf = builder
                .get_row_group_column_bloom_filter(0, sys_id)
                .unwrap()
                .unwrap();
            assert!(sbbf.check(first_id.as_str()));
            if number.is_some() {
                for n in strings(&[read_file(&path)], "number") {
                    if let Some(prev) = &last_number {
                        assert!(*prev < n, "{table}: {prev} then {n}");
                    }
                    last_number = Some(n);
                }
            }
        }
        if table != "sys_user" {
            assert!(last_number.is_some());
        }
    }
    assert_eq!(parts(dir.path(), "incident").len(), 1);
    let inc = read_file(&parts(dir.path(), "incident")[0]);
    assert_eq!(strings(&[inc], "number")[0], "INC0001001");
}

#[test]
fn values_look_plausible() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), SCALE, 262_144);
    let inc = read_file(&parts(dir.path(), "incident")[0]);
    let col = |name: &str| inc.column_by_name(name).unwrap().clone();
    let state = col("state");
    let state = state.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
    let closed = state.iter().filter(|s| *s == Some(7)).count();
    assert!(
        closed > inc.num_rows() / 2,
        "most incidents are closed: {closed}"
    );
    let priority = col("priority");
    let priority = priority.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
    let p1 = priority.iter().filter(|p| *p == Some(1)).count();
    let p5 = priority.iter().filter(|p| *p == Some(5)).count();
    assert!(p1 < p5, "P1 {p1} rarer than P5 {p5}");
    let active = col("active");
    let closed_at = col("closed_at");
    for i in 0..inc.num_rows() {
        let s = state.value(i);
        assert_eq!(active.as_boolean().value(i), !matches!(s, 7 | 8), "row {i}");
        assert_eq!(closed_at.is_null(i), !matches!(s, 7 | 8), "row {i}");
    }
    assert!(matches!(
        col("closed_at").data_type(),
        DataType::Timestamp(_, None)
    ));
    let assigned_null = col("assigned_to").null_count();
    assert!(assigned_null > 0 && assigned_null < inc.num_rows() / 4);
    let descriptions = strings(std::slice::from_ref(&inc), "short_description");
    assert!(descriptions.iter().collect::<HashSet<_>>().len() > 40);
    assert!(!descriptions.iter().any(|d| d.contains('{')));

    let hr = read_file(&parts(dir.path(), "sn_hr_core_case")[0]);
    assert_eq!(
        hr.schema().field_with_name("salary").unwrap().data_type(),
        &DataType::Decimal128(12, 2)
    );
    let kb = read_file(&parts(dir.path(), "kb_knowledge")[0]);
    let text = strings(&[kb], "text");
    assert!(
        text.iter().map(String::len).sum::<usize>() / text.len() > 500,
        "articles are long"
    );
}
