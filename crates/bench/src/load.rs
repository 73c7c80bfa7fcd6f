//! Loads the demo tables the workload reads into PostgreSQL, with the
//! restricted account's ACLs expressed as PostgreSQL would: row-level
//! security for the row condition, security-barrier views for the masked
//! and absent fields.

use std::path::Path;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::SinkExt;
use tokio_postgres::Client;

use crate::Error;

/// The tables the workload reads.
pub const TABLES: [&str; 2] = ["incident", "sys_user"];

/// Who the restricted account is, from the demo policy.
pub struct Restricted {
    pub user: String,
    pub sys_id: String,
    pub group_ids: Vec<String>,
}

impl Restricted {
    /// The demo's service-desk account: incidents of its groups or assigned
    /// to it, work notes only on its own, no e-mail addresses.
    pub fn from_policy(policy: &toml::Table, user: &str) -> Result<Restricted, Error> {
        let accounts = policy
            .get("account")
            .and_then(|a| a.as_array())
            .ok_or("policy has no accounts")?;
        let account = accounts
            .iter()
            .find(|a| a.get("user_name").and_then(|n| n.as_str()) == Some(user))
            .ok_or_else(|| format!("policy has no account {user}"))?;
        let sys_id = account
            .get("sys_id")
            .and_then(|s| s.as_str())
            .ok_or("account without sys_id")?
            .to_owned();
        let groups: Vec<&str> = account
            .get("groups")
            .and_then(|g| g.as_array())
            .map(|g| g.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let group_ids = policy
            .get("group")
            .and_then(|g| g.as_array())
            .map(|all| {
                all.iter()
                    .filter(|g| {
                        g.get("name")
                            .and_then(|n| n.as_str())
                            .is_some_and(|n| groups.contains(&n))
                    })
                    .filter_map(|g| g.get("sys_id").and_then(|s| s.as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Restricted {
            user: user.to_owned(),
            sys_id,
            group_ids,
        })
    }
}

fn pg_type(t: &DataType) -> &'static str {
    match t {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Boolean => "boolean",
        DataType::Date32 => "date",
        DataType::Timestamp(_, None) => "timestamp",
        DataType::Timestamp(_, Some(_)) => "timestamptz",
        _ => "text",
    }
}

/// One CSV field: NULL is an unquoted empty field, every value is quoted.
fn csv_field(out: &mut String, value: Option<&str>) {
    if let Some(v) = value {
        out.push('"');
        for c in v.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    }
}

fn batches(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    Ok(files)
}

/// Creates and fills one table from its Parquet folder; returns its rows.
async fn load_table(pg: &Client, data: &Path, table: &str) -> Result<u64, Error> {
    let files = batches(&data.join(table))?;
    let first = files
        .first()
        .ok_or_else(|| format!("no files for {table}"))?;
    let schema: Schema = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(first)?)?
        .schema()
        .as_ref()
        .clone();
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), pg_type(f.data_type())))
        .collect();
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table} CASCADE; CREATE TABLE {table} ({})",
        columns.join(", ")
    ))
    .await?;
    let sink = pg
        .copy_in(&format!("COPY {table} FROM STDIN (FORMAT csv)"))
        .await?;
    futures::pin_mut!(sink);
    let options = FormatOptions::default().with_null("\u{0}");
    let mut rows = 0u64;
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file)?)?
            .with_batch_size(8192)
            .build()?;
        for batch in reader {
            let batch: RecordBatch = batch?;
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            let mut text = String::with_capacity(batch.num_rows() * 512);
            for row in 0..batch.num_rows() {
                for (i, (f, column)) in formatters.iter().zip(batch.columns()).enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    let value = (!column.is_null(row)).then(|| f.value(row).to_string());
                    csv_field(&mut text, value.as_deref());
                }
                text.push('\n');
            }
            rows += batch.num_rows() as u64;
            sink.send(bytes::Bytes::from(text)).await?;
        }
    }
    sink.finish().await?;
    Ok(rows)
}

/// Loads the tables, indexes the looked-up columns, sets up the
/// privileged and restricted roles with the restricted account's ACLs,
/// and vacuums and checkpoints so that no maintenance runs while timed.
pub async fn load(pg: &Client, data: &Path, restricted: &Restricted) -> Result<(), Error> {
    for table in TABLES {
        let started = std::time::Instant::now();
        let rows = load_table(pg, data, table).await?;
        eprintln!(
            "  PostgreSQL: {table}: {rows} rows loaded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let groups = restricted
        .group_ids
        .iter()
        .map(|g| format!("'{g}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let me = &restricted.sys_id;
    let user = &restricted.user;
    let incident_columns: Vec<String> = pg
        .query(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'incident' ORDER BY ordinal_position",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .map(|c| {
            if c == "work_notes" {
                format!("CASE WHEN assigned_to = '{me}' THEN work_notes END AS work_notes")
            } else {
                c
            }
        })
        .collect();
    let user_columns: Vec<String> = pg
        .query(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'sys_user' AND column_name <> 'email' ORDER BY ordinal_position",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    pg.batch_execute(&format!(
        "CREATE UNIQUE INDEX ON incident (number);
         CREATE UNIQUE INDEX ON incident (sys_id);
         CREATE UNIQUE INDEX ON sys_user (sys_id);
         DROP ROLE IF EXISTS bench_privileged;
         CREATE ROLE bench_privileged LOGIN;
         GRANT SELECT ON incident, sys_user TO bench_privileged;
         DROP ROLE IF EXISTS {user};
         CREATE ROLE {user} LOGIN;
         ALTER TABLE incident ENABLE ROW LEVEL SECURITY;
         CREATE POLICY agents_see_their_groups ON incident FOR SELECT TO {user}
           USING (assignment_group IN ({groups}) OR assigned_to = '{me}');
         CREATE POLICY everyone_else ON incident FOR SELECT TO bench_privileged USING (true);
         GRANT SELECT ON incident, sys_user TO {user};
         CREATE SCHEMA restricted;
         CREATE VIEW restricted.incident WITH (security_barrier, security_invoker) AS
           SELECT {} FROM public.incident;
         CREATE VIEW restricted.sys_user WITH (security_barrier, security_invoker) AS
           SELECT {} FROM public.sys_user;
         GRANT USAGE ON SCHEMA restricted TO {user};
         GRANT SELECT ON ALL TABLES IN SCHEMA restricted TO {user};
         ALTER ROLE {user} SET search_path = restricted;",
        incident_columns.join(", "),
        user_columns.join(", "),
    ))
    .await?;
    // Settle the fresh tables before anything is timed: left to itself,
    // autovacuum (and the first reads setting hint bits) ran during the
    // first queries of the run, slowing both servers on the shared cores.
    // Frozen and analysed, the tables also get index-only scans.
    pg.batch_execute("VACUUM (FREEZE, ANALYZE)").await?;
    pg.batch_execute("CHECKPOINT").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_quote_everything_but_null() {
        let mut s = String::new();
        csv_field(&mut s, Some("a \"b\", c"));
        s.push(',');
        csv_field(&mut s, None);
        s.push(',');
        csv_field(&mut s, Some(""));
        assert_eq!(s, "\"a \"\"b\"\", c\",,\"\"");
    }
}
