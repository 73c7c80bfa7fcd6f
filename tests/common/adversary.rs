//! Tools of the adversarial suite: the policy under attack, the ground truth
//! read straight from the Parquet files, a probe recorder that runs every
//! probe of a family and reports all failures at once, and a copy of the
//! data set whose hidden rows and values are removed (for
//! non-interference: what an account sees must not depend on them).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int32Array, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch, nullif};
use datafusion::arrow::record_batch::RecordBatch;
use tokio_postgres::error::DbError;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::policy::{account, grant};
use crate::common::{column_strings, read_parquet};

/// The highest incident priority the row-level account may read.
pub const VISIBLE_MAX_PRIORITY: i32 = 2;

/// Roles, a loopback access policy, and the four accounts:
/// - `svc_rows`: agent, row-filtered incident (P1/P2), masked and absent
///   fields, query ACLs; its sys_id is `rows_sys_id` (a real sys_user
///   record, so that conditions on the account's own id select rows);
/// - `svc_priv`: the same grants, privileged;
/// - `svc_hr`: HR cases only;
/// - `svc_admin`: admin.
pub fn accounts(rows_sys_id: &str) -> String {
    let web = "web_service_access_only = true";
    let mut p = String::from(
        "[[role]]\nname = \"agent\"\n\n[[role]]\nname = \"hr_reader\"\n\n\
         [[role]]\nname = \"nobody_has_this_role\"\n\n",
    );
    // Connections come from this machine only; every policy the suite
    // writes (including the live rewrites) carries this access policy.
    p += "[[access_policy]]\nname = \"loopback\"\naction = \"allow\"\n\
          cidrs = [\"127.0.0.0/8\", \"::1/128\"]\n\n";
    p += &account(
        "svc_rows",
        rows_sys_id,
        &["sn_odbc_rest_access", "agent"],
        web,
    );
    p += &account(
        "svc_priv",
        "0000000000000000000000000000b002",
        &["sn_odbc_rest_access", "agent", "sn_sql_api_privileged_mode"],
        web,
    );
    p += &account(
        "svc_hr",
        "0000000000000000000000000000b003",
        &["sn_odbc_rest_access", "hr_reader"],
        web,
    );
    p += &account(
        "svc_admin",
        "0000000000000000000000000000b004",
        &["sn_odbc_rest_access", "admin"],
        web,
    );
    p
}

/// The same accounts with `svc_rows` locked out.
pub fn lock_rows_account(accounts: &str) -> String {
    accounts.replacen(
        "user_name = \"svc_rows\"\n",
        "user_name = \"svc_rows\"\nlocked_out = true\n",
        1,
    )
}

/// The ACLs under attack. `incident_read` is the encoded-query condition
/// of the incident read ACL; `incident_egress` the roles of its egress ACL.
/// Besides incident: `task.description` is readable by no role (absent in
/// task and, inherited, in its children); sys_user shows an account its
/// own record only (`sys_id=javascript:gs.getUserID()`); `*` grants agent
/// read, which opens no table without its own egress ACL.
pub fn acls(incident_read: &str, incident_egress: &str) -> String {
    let mut p = format!(
        "[[acl]]\noperation = \"egress_sql\"\nname = \"incident\"\nroles = [\"{incident_egress}\"]\n\n\
         [[acl]]\noperation = \"read\"\nname = \"incident\"\nroles = [\"agent\"]\ncondition = \"{incident_read}\"\n\n\
         [[acl]]\noperation = \"read\"\nname = \"incident.work_notes\"\nroles = [\"agent\"]\ncondition = \"priority=1\"\n\n\
         [[acl]]\noperation = \"read\"\nname = \"incident.caller_id\"\nroles = [\"nobody_has_this_role\"]\n\n\
         [[acl]]\noperation = \"query_range\"\nname = \"incident.short_description\"\nroles = [\"admin\"]\n\n\
         [[acl]]\noperation = \"query_match\"\nname = \"incident.number\"\nroles = [\"admin\"]\n\n"
    );
    p += &grant("task", &["agent"]);
    p += "[[acl]]\noperation = \"read\"\nname = \"task.description\"\nroles = [\"nobody_has_this_role\"]\n\n\
          [[acl]]\noperation = \"egress_sql\"\nname = \"sys_user\"\nroles = [\"agent\"]\n\n\
          [[acl]]\noperation = \"read\"\nname = \"sys_user\"\nroles = [\"agent\"]\ncondition = \"sys_id=javascript:gs.getUserID()\"\n\n";
    p += &grant("sn_hr_core_case", &["hr_reader"]);
    // `*` grants read everywhere; without an egress_sql ACL of their own
    // (egress is never granted by `*`), other tables stay absent.
    p += "[[acl]]\noperation = \"read\"\nname = \"*\"\nroles = [\"agent\"]\n\n";
    p
}

/// The standard policy of the suite.
pub fn policy(accounts: &str) -> String {
    format!("{accounts}{}", acls("priority<=2", "agent"))
}

/// The incident table as stored, one entry per record.
pub struct Incidents {
    pub columns: Vec<String>,
    pub sys_id: Vec<String>,
    pub number: Vec<String>,
    pub priority: Vec<i32>,
    pub short_description: Vec<String>,
    pub work_notes: Vec<Option<String>>,
    pub assigned_to: Vec<Option<String>>,
    pub reassignment_count: Vec<i64>,
    pub sys_mod_count: Vec<i64>,
}

impl Incidents {
    pub fn read(data: &Path) -> Incidents {
        let col = |c: &str| column_strings(data, "incident", c);
        let req = |c: &str| -> Vec<String> { col(c).into_iter().map(|v| v.unwrap()).collect() };
        let int = |c: &str| -> Vec<i64> {
            col(c)
                .into_iter()
                .map(|v| v.unwrap().parse().unwrap())
                .collect()
        };
        let columns = read_parquet(data, "incident")[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Incidents {
            columns,
            sys_id: req("sys_id"),
            number: req("number"),
            priority: int("priority").into_iter().map(|p| p as i32).collect(),
            short_description: req("short_description"),
            work_notes: col("work_notes"),
            assigned_to: col("assigned_to"),
            reassignment_count: int("reassignment_count"),
            sys_mod_count: int("sys_mod_count"),
        }
    }

    pub fn len(&self) -> usize {
        self.priority.len()
    }

    /// Whether the row-level account may read record `i`.
    pub fn visible(&self, i: usize) -> bool {
        self.priority[i] <= VISIBLE_MAX_PRIORITY
    }

    pub fn visible_rows(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.visible(i))
    }

    pub fn hidden_rows(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| !self.visible(i))
    }

    /// Records (visible or not) matching `f`.
    pub fn count(&self, f: impl Fn(usize) -> bool) -> usize {
        (0..self.len()).filter(|&i| f(i)).count()
    }

    /// Visible records matching `f`.
    pub fn count_visible(&self, f: impl Fn(usize) -> bool) -> usize {
        self.visible_rows().filter(|&i| f(i)).count()
    }

    /// Work notes the row-level account reads: P1 only, NULL elsewhere.
    pub fn readable_note(&self, i: usize) -> Option<&str> {
        if self.visible(i) && self.priority[i] == 1 {
            self.work_notes[i].as_deref()
        } else {
            None
        }
    }

    /// Values that identify hidden records, which no answer or error text
    /// may ever contain: their numbers and sys_ids.
    pub fn hidden_markers(&self) -> Vec<String> {
        self.hidden_rows()
            .flat_map(|i| [self.number[i].clone(), self.sys_id[i].clone()])
            .collect()
    }

    /// The first line of every work note the account must not read (P2 to
    /// P5), minus those that also start a readable note. Each starts with a
    /// timestamp and an author, so they are near-unique.
    pub fn hidden_note_heads(&self) -> Vec<String> {
        let readable: std::collections::HashSet<&str> = (0..self.len())
            .filter_map(|i| self.readable_note(i))
            .map(|n| n.lines().next().unwrap_or(n))
            .collect();
        (0..self.len())
            .filter(|&i| self.readable_note(i).is_none())
            .filter_map(|i| self.work_notes[i].as_deref())
            .map(|n| n.lines().next().unwrap_or(n).to_owned())
            .filter(|h| !readable.contains(h.as_str()))
            .collect()
    }

    /// The sys_user record assigned the most visible incidents: the
    /// identity given to `svc_rows`.
    pub fn busiest_assignee(&self, data: &Path) -> String {
        let users: std::collections::HashSet<String> = column_strings(data, "sys_user", "sys_id")
            .into_iter()
            .flatten()
            .collect();
        let mut load: BTreeMap<&str, usize> = BTreeMap::new();
        for i in self.visible_rows() {
            if let Some(a) = self.assigned_to[i]
                .as_deref()
                .filter(|a| users.contains(*a))
            {
                *load.entry(a).or_default() += 1;
            }
        }
        let (who, _) = load
            .into_iter()
            .max_by_key(|(a, n)| (*n, std::cmp::Reverse(*a)))
            .expect("visible incidents are assigned");
        who.to_owned()
    }

    /// Visible record count per priority.
    pub fn visible_histogram(&self) -> BTreeMap<i32, usize> {
        let mut h = BTreeMap::new();
        for i in self.visible_rows() {
            *h.entry(self.priority[i]).or_default() += 1;
        }
        h
    }
}

/// One result row as text; NULL as `None`.
pub type Row = Vec<Option<String>>;

/// Runs a simple-protocol query and returns its rows as text.
pub async fn query(c: &Client, sql: &str) -> Result<Vec<Row>, tokio_postgres::Error> {
    Ok(c.simple_query(sql)
        .await?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Builds an expected result from string slices.
pub fn table(rows: &[&[Option<&str>]]) -> Vec<Row> {
    rows.iter()
        .map(|r| r.iter().map(|v| v.map(str::to_owned)).collect())
        .collect()
}

/// A one-value result.
pub fn scalar(v: impl ToString) -> Vec<Row> {
    vec![vec![Some(v.to_string())]]
}

/// Every text a server error carries to the client.
pub fn error_text(e: &DbError) -> String {
    format!(
        "{}\n{}\n{}",
        e.message(),
        e.detail().unwrap_or(""),
        e.hint().unwrap_or("")
    )
}

/// Records the probes of one family. Each probe is one query with one
/// assertion-bearing expectation; a failure is recorded, not raised, so
/// that every probe of the family runs and all failures are reported
/// together by [`Probes::finish`].
pub struct Probes {
    family: &'static str,
    count: usize,
    failures: Vec<String>,
    /// Strings no error text may contain.
    forbidden: Vec<String>,
}

impl Probes {
    pub fn new(family: &'static str, forbidden: Vec<String>) -> Probes {
        Probes {
            family,
            count: 0,
            failures: Vec::new(),
            forbidden,
        }
    }

    /// Records a failed probe.
    pub fn fail(&mut self, sql: &str, what: String) {
        self.failures.push(format!("{sql}\n      {what}"));
    }

    /// A probe whose outcome the caller judged.
    pub fn check(&mut self, sql: &str, ok: bool, what: impl FnOnce() -> String) {
        self.count += 1;
        if !ok {
            self.fail(sql, what());
        }
    }

    /// A further assertion on the answer of the probe just run (not a
    /// probe of its own).
    pub fn also(&mut self, sql: &str, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fail(sql, what());
        }
    }

    /// Checks an error's text against the forbidden strings.
    fn leaks(&self, e: &DbError) -> Option<String> {
        let text = error_text(e);
        self.forbidden
            .iter()
            .find(|h| text.contains(h.as_str()))
            .map(|h| format!("error text reveals hidden value {h:?}: {text}"))
    }

    /// The query must answer exactly `expected`, in order.
    pub async fn rows(&mut self, c: &Client, sql: &str, expected: Vec<Row>) {
        self.count += 1;
        match query(c, sql).await {
            Ok(got) if got == expected => {}
            Ok(got) => self.fail(
                sql,
                format!("expected {expected:?}\n      observed {got:?}"),
            ),
            Err(e) => self.fail(
                sql,
                format!(
                    "expected {expected:?}\n      observed error {}",
                    describe(&e)
                ),
            ),
        }
    }

    /// The query must answer exactly `expected`, in any order.
    pub async fn rows_unordered(&mut self, c: &Client, sql: &str, mut expected: Vec<Row>) {
        self.count += 1;
        expected.sort();
        match query(c, sql).await {
            Ok(mut got) => {
                got.sort();
                if got != expected {
                    self.fail(
                        sql,
                        format!("expected {expected:?}\n      observed {got:?}"),
                    );
                }
            }
            Err(e) => self.fail(
                sql,
                format!(
                    "expected {expected:?}\n      observed error {}",
                    describe(&e)
                ),
            ),
        }
    }

    /// The query must fail with `code`, its text revealing nothing hidden.
    /// Returns the error for further checks.
    pub async fn error(&mut self, c: &Client, sql: &str, code: &str) -> Option<DbError> {
        self.count += 1;
        match query(c, sql).await {
            Ok(got) => {
                self.fail(
                    sql,
                    format!("expected SQLSTATE {code}\n      observed rows {got:?}"),
                );
                None
            }
            Err(e) => match e.as_db_error() {
                Some(db) => {
                    if db.code().code() != code {
                        self.fail(
                            sql,
                            format!("expected SQLSTATE {code}\n      observed {}", describe(&e)),
                        );
                    } else if let Some(leak) = self.leaks(db) {
                        self.fail(sql, leak);
                    }
                    Some(db.clone())
                }
                None => {
                    self.fail(sql, format!("expected SQLSTATE {code}\n      observed {e}"));
                    None
                }
            },
        }
    }

    /// The query must succeed (rows returned for the caller to judge, as
    /// part of this same probe).
    pub async fn ok(&mut self, c: &Client, sql: &str) -> Option<Vec<Row>> {
        match query(c, sql).await {
            Ok(rows) => Some(rows),
            Err(e) => {
                self.count += 1;
                self.fail(
                    sql,
                    format!("expected success\n      observed {}", describe(&e)),
                );
                None
            }
        }
    }

    /// Ends the family: prints its probe count; returns the report of its
    /// failed probes, if any.
    pub fn done(self) -> Option<String> {
        eprintln!(
            "[{}] {} probes, {} failed",
            self.family,
            self.count,
            self.failures.len()
        );
        (!self.failures.is_empty()).then(|| {
            format!(
                "{} of {} probes of family `{}` failed:\n  - {}",
                self.failures.len(),
                self.count,
                self.family,
                self.failures.join("\n  - ")
            )
        })
    }

    /// Ends the family and fails the test with every failed probe.
    pub fn finish(self) {
        verdict([self.done()]);
    }
}

/// Fails the test with the reports of every family that failed.
pub fn verdict(reports: impl IntoIterator<Item = Option<String>>) {
    let failed: Vec<String> = reports.into_iter().flatten().collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// An error as `SQLSTATE: message`.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), error_text(db).trim_end()),
        None => e.to_string(),
    }
}

/// A copy of the data set in which the row-level account's view is the
/// same but everything hidden from it is different: incident records it may
/// not read are removed, its masked work notes are erased, its absent
/// caller_id holds one constant. Any answer that differs between the two
/// data sets depends on hidden data.
pub fn without_hidden_data(src: &Path, dst: &Path) {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::metadata::SortingColumn;
    use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

    crate::common::private_copy(src, dst);
    let dir = dst.join("incident");
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let batches = read_parquet(src, "incident");
    let schema = batches[0].schema();
    let props = WriterProperties::builder()
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: schema.index_of("number").unwrap() as i32,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    let file = std::fs::File::create(dir.join("part-00000.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    for batch in batches {
        let priority = cast(
            batch.column_by_name("priority").unwrap(),
            &datafusion::arrow::datatypes::DataType::Int32,
        )
        .unwrap();
        let priority = priority.as_any().downcast_ref::<Int32Array>().unwrap();
        let keep: BooleanArray = priority
            .iter()
            .map(|p| Some(p.unwrap() <= VISIBLE_MAX_PRIORITY))
            .collect();
        let kept = filter_record_batch(&batch, &keep).unwrap();
        let priority = cast(
            kept.column_by_name("priority").unwrap(),
            &datafusion::arrow::datatypes::DataType::Int32,
        )
        .unwrap();
        let priority = priority.as_any().downcast_ref::<Int32Array>().unwrap();
        let masked: BooleanArray = priority.iter().map(|p| Some(p.unwrap() != 1)).collect();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (field, array) in kept.schema().fields().iter().zip(kept.columns()) {
            columns.push(match field.name().as_str() {
                "work_notes" => nullif(array.as_ref(), &masked).unwrap(),
                "caller_id" => {
                    let constant: StringArray =
                        std::iter::repeat_n(Some("00000000000000000000000000000000"), array.len())
                            .collect();
                    cast(&constant, field.data_type()).unwrap()
                }
                _ => Arc::clone(array),
            });
        }
        writer
            .write(&RecordBatch::try_new(kept.schema(), columns).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
}
