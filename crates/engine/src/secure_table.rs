//! The per-session table: what one principal may see of one table.
//!
//! A query on a table reads every record class in its subtree (a query on
//! `task` reads `task`, `incident`, `problem`...). Each class becomes one
//! branch, built inside `scan()`:
//!
//! ```text
//! SecureScanExec( Projection[masks]( Filter[row predicate]( class files ) ) )
//! SecureScanExec( Projection[masks]( Filter[kept bit]( class files + kept bit ) ) )
//! ```
//!
//! (the second where the row predicate's answers are kept per file, see
//! `row_masks.rs`: the reader then looks up each record's bit instead of
//! decoding the condition's columns and testing it), and the branches are
//! unioned. User predicates stay above the barrier:
//! the provider takes filters only as `Inexact`, so the optimizer keeps
//! them above the scan, and uses the few whose shape allows it (see
//! `pruning.rs`) only to let the Parquet reader skip row groups and pages.
//! The class's own row predicate and masks are the only expressions that
//! ever see an unfiltered record.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, case, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::scalar::ScalarValue;
use sqlgate_records::{CLASS_COLUMN, TableDef};

use crate::barrier::SecureScanExec;
use crate::pruning;
use crate::row_masks;

/// What one principal may read of one record class.
#[derive(Debug, Clone)]
pub struct Branch {
    pub class: Arc<TableDef>,
    /// Records of the class the principal may read; `None` = all.
    pub row_filter: Option<Expr>,
    /// Columns shown only where their condition holds (NULL elsewhere).
    pub masks: Vec<(String, Expr)>,
}

/// A table as one session sees it.
#[derive(Debug)]
pub struct SecureTable {
    name: String,
    schema: SchemaRef,
    branches: Vec<Branch>,
}

impl SecureTable {
    /// `schema` holds only the columns the principal may see (absent fields
    /// are simply not there); masked columns must be nullable in it.
    pub fn new(name: &str, schema: SchemaRef, branches: Vec<Branch>) -> SecureTable {
        SecureTable {
            name: name.to_owned(),
            schema,
            branches,
        }
    }

    /// Columns some record class shows only conditionally (or never).
    pub fn masked_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .branches
            .iter()
            .flat_map(|b| b.masks.iter().map(|(c, _)| c.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    async fn branch_plan(
        &self,
        state: &dyn Session,
        branch: &Branch,
        output: &Schema,
        filters: &[Expr],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let prune = pruning::for_branch(filters, |c| {
            c != CLASS_COLUMN
                && branch.class.schema.field_with_name(c).is_ok()
                && !branch.masks.iter().any(|(m, _)| m == c)
        });
        let lookup = pruning::is_lookup(&prune);
        // A row condition answered by masks is applied by the reader and
        // reads nothing here; any other runs as a filter over its columns.
        // A lookup tests the condition on the one record the reader keeps:
        // cheaper than reading whole pages to look up their bits.
        let masked_rows = match &branch.row_filter {
            Some(f) if !lookup && row_masks::applies(f, &branch.class) => {
                Some(row_masks::condition(state, &branch.class, f)?)
            }
            _ => None,
        };
        // Columns to read: the output, plus what the ACL expressions use.
        let mut needed: Vec<String> = output.fields().iter().map(|f| f.name().clone()).collect();
        let mut add_refs = |e: &Expr| {
            for c in e.column_refs() {
                if !needed.contains(&c.name) {
                    needed.push(c.name.clone());
                }
            }
        };
        if let (Some(f), None) = (&branch.row_filter, &masked_rows) {
            add_refs(f);
        }
        for (col, cond) in &branch.masks {
            if output.field_with_name(col).is_ok() {
                add_refs(cond);
            }
        }
        let names: Vec<&str> = needed.iter().map(String::as_str).collect();
        // Columns only the ACL reads may come as stored: a row condition
        // tests a dictionary once per distinct value, not once per record.
        let encoded = &names[output.fields().len()..];
        let mut plan = branch
            .class
            .scan_columns(state, &names, encoded, &prune, lookup, masked_rows.as_ref())
            .await?;

        // ACL expressions are planned over the columns as text, then made
        // to read the stored dictionaries: string sets take them as they
        // are, anything else reads them decoded.
        let stored = plan.schema();
        let physical = |e: Expr| row_masks::over_stored(state, e, &stored);
        if let (Some(filter), None) = (&branch.row_filter, &masked_rows) {
            // The user's predicates that may prune may also run on any
            // record (see `pruning`): put before the row filter, a selective
            // WHERE spares the row condition most records, and the filter
            // copies only the records that pass both, not every visible
            // one. They still run above the barrier.
            let predicate = match conjunction(prune.iter().cloned()) {
                Some(user) => user.and(filter.clone()),
                None => filter.clone(),
            };
            plan = Arc::new(
                FilterExec::try_new(physical(predicate)?, plan)?
                    .with_batch_size(state.config().batch_size())?,
            );
        }
        let masked = branch
            .masks
            .iter()
            .any(|(c, _)| output.field_with_name(c).is_ok());
        if masked || needed.len() != output.fields().len() {
            let exprs = output
                .fields()
                .iter()
                .map(|f| {
                    let column = Expr::Column(f.name().as_str().into());
                    let expr = match branch.masks.iter().find(|(c, _)| c == f.name()) {
                        Some((_, visible)) => case(visible.clone())
                            .when(lit(true), column)
                            .otherwise(lit(ScalarValue::try_from(f.data_type())?))?,
                        None => column,
                    };
                    Ok((physical(expr)?, f.name().clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            plan = Arc::new(ProjectionExec::try_new(exprs, plan)?);
        }
        Ok(Arc::new(SecureScanExec::new(
            &self.name,
            &branch.class.name,
            plan,
        )))
    }
}

#[async_trait]
impl TableProvider for SecureTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// A user predicate never runs before the row filter: those of a
    /// prunable shape come to `scan` as `Inexact` (they stay above it too),
    /// for skipping row groups only; the rest stay above the scan alone.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if pruning::prunable_shape(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let output = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let mut branches = Vec::with_capacity(self.branches.len());
        for b in &self.branches {
            branches.push(self.branch_plan(state, b, &output, filters).await?);
        }
        Ok(match branches.len() {
            0 => Arc::new(EmptyExec::new(output)),
            1 => branches.pop().expect("one branch"),
            _ => UnionExec::try_new(branches)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::physical_plan::display::DisplayableExecutionPlan;
    use datafusion::physical_plan::displayable;
    use datafusion::physical_plan::metrics::MetricsSet;
    use datafusion::prelude::{SessionContext, col};
    use sqlgate_records::Registry;

    /// A table `t(sys_id, id, secret, recent, hush)` stored as 4 row groups
    /// of 100 rows; `recent` holds for ids from 300. `secret` and `hush` are
    /// never NULL in the file (`hush` is always true) and are masked
    /// everywhere, so above the barrier they are NULL on every row.
    async fn session() -> (SessionContext, tempfile::TempDir) {
        // Even ids only.
        session_with(even_ids(), Rows::Masks).await
    }

    fn even_ids() -> Expr {
        (col("id") % lit(2i64)).eq(lit(0i64))
    }

    /// How the row condition is applied: by kept masks in the reader (as
    /// `session()` does), or as a filter over its columns on every query.
    #[derive(Clone, Copy, PartialEq)]
    enum Rows {
        Masks,
        Filter,
    }

    async fn session_with(row_filter: Expr, rows: Rows) -> (SessionContext, tempfile::TempDir) {
        let masks = vec![("secret".into(), lit(false)), ("hush".into(), lit(false))];
        session_over(row_filter, masks, false, rows).await
    }

    /// With `dictionaries`, the files store `sys_id` and `secret` as
    /// dictionaries (as the demo stores its reference columns).
    async fn session_over(
        row_filter: Expr,
        masks: Vec<(String, Expr)>,
        dictionaries: bool,
        rows: Rows,
    ) -> (SessionContext, tempfile::TempDir) {
        let batch = if dictionaries {
            as_dictionaries(part(0..400), &["sys_id", "secret"])
        } else {
            part(0..400)
        };
        session_of_files(row_filter, masks, rows, &[batch]).await
    }

    /// A session over `t` stored as one file per batch, in table order.
    async fn session_of_files(
        row_filter: Expr,
        masks: Vec<(String, Expr)>,
        rows: Rows,
        files: &[RecordBatch],
    ) -> (SessionContext, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tables.toml"),
            "[[table]]\nname = \"t\"\nweb_service_access = true\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        for (i, batch) in files.iter().enumerate() {
            write_batch(&dir.path().join(format!("t/part-{i}.parquet")), batch);
        }

        let mask_mib = match rows {
            Rows::Masks => 1,
            Rows::Filter => 0,
        };
        let registry = Registry::load_with(dir.path(), mask_mib).await.unwrap();
        let class = Arc::clone(registry.get("t").unwrap());
        let fields: Vec<Field> = class
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let table = SecureTable::new(
            "t",
            Arc::new(Schema::new(fields)),
            vec![Branch {
                class,
                row_filter: Some(row_filter),
                masks,
            }],
        );
        // The server's runtime (its caches decide what a query sees of the
        // folder) and optimizer rules.
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_runtime_env(crate::session::runtime().unwrap())
            .with_default_features()
            .with_physical_optimizer_rules(crate::sort_pushdown::optimizer_rules())
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("t", Arc::new(table)).unwrap();
        (ctx, dir)
    }

    /// Writes `t(sys_id, id, secret, recent, hush)` rows for `ids` in row
    /// groups of 100.
    fn write_part(path: &std::path::Path, ids: std::ops::Range<i64>) {
        write_batch(path, &part(ids));
    }

    fn write_batch(path: &std::path::Path, batch: &RecordBatch) {
        let file = std::fs::File::create(path).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
    }

    /// `batch` with the text columns `names` as dictionaries.
    fn as_dictionaries(batch: RecordBatch, names: &[&str]) -> RecordBatch {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let (fields, columns): (Vec<Field>, Vec<_>) = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, c)| {
                if names.contains(&f.name().as_str()) {
                    let c = datafusion::arrow::compute::cast(c, &dictionary).unwrap();
                    (f.as_ref().clone().with_data_type(dictionary.clone()), c)
                } else {
                    (f.as_ref().clone(), Arc::clone(c))
                }
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// `t(sys_id, id, secret, recent, hush)` rows for `ids`.
    fn part(ids: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("sys_id", DataType::Utf8, false),
            Field::new("id", DataType::Int64, false),
            Field::new("secret", DataType::Utf8, false),
            Field::new("recent", DataType::Boolean, false),
            Field::new("hush", DataType::Boolean, false),
        ]));
        let ids: Vec<i64> = ids.collect();
        let secrets: Vec<String> = ids.iter().map(|i| format!("s{i}")).collect();
        let recent: BooleanArray = ids.iter().map(|i| Some(*i >= 300)).collect();
        let hush = BooleanArray::from(vec![true; ids.len()]);
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("{i:032x}")),
                )),
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(secrets)),
                Arc::new(recent),
                Arc::new(hush),
            ],
        )
        .unwrap()
    }

    async fn answer(ctx: &SessionContext, sql: &str) -> (i64, String) {
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.clone().create_physical_plan().await.unwrap();
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let batches = df.collect().await.unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        (n, text)
    }

    /// The table's files are listed at every scan and their statistics
    /// (cached between queries) are taken afresh when a file changes: a
    /// stale minimum or maximum would let the reader skip a file that now
    /// holds the value.
    #[tokio::test]
    async fn files_added_or_replaced_are_seen_by_the_next_query() {
        let (ctx, dir) = session().await;
        let ctx = &ctx;
        let count = |sql| async move { answer(ctx, sql).await.0 };
        assert_eq!(count("SELECT count(*) FROM t").await, 200);
        assert_eq!(count("SELECT count(*) FROM t WHERE id = 1000").await, 0);

        write_part(&dir.path().join("t/part-1.parquet"), 1000..1100);
        assert_eq!(count("SELECT count(*) FROM t WHERE id = 1000").await, 1);
        assert_eq!(count("SELECT count(*) FROM t").await, 250);

        // Same name, other rows, outside the old file's range.
        write_part(&dir.path().join("t/part-0.parquet"), 2000..2100);
        assert_eq!(count("SELECT count(*) FROM t WHERE id = 2000").await, 1);
        assert_eq!(count("SELECT count(*) FROM t WHERE id = 10").await, 0);
        assert_eq!(count("SELECT count(*) FROM t").await, 100);
    }

    /// The scan's predicate, if any (the row filter's own predicate is
    /// pushed there by DataFusion: it is the policy's, not the user's).
    fn scan_predicate(plan: &str) -> Option<String> {
        plan.lines()
            .find(|l| l.contains("DataSourceExec"))
            .and_then(|l| l.split("predicate=").nth(1))
            .map(str::to_owned)
    }

    /// Whether the scan's predicate holds anything beyond the row filter.
    fn user_predicate_reached_the_reader(plan: &str, needle: &str) -> bool {
        scan_predicate(plan).is_some_and(|p| p.contains(needle))
    }

    #[tokio::test]
    async fn unmasked_column_predicates_prune_and_still_filter_above() {
        let (ctx, _dir) = session().await;
        let (n, plan) = answer(&ctx, "SELECT count(*) FROM t WHERE id >= 300").await;
        assert_eq!(n, 50, "even ids from 300 to 398");
        assert!(
            scan_predicate(&plan).is_some_and(|p| p.contains("id@1 >= 300")),
            "{plan}"
        );
        // The user filter still runs above the barrier.
        let above = plan.find("FilterExec: id@").expect("user filter above");
        assert!(above < plan.find("SecureScanExec").unwrap(), "{plan}");
        // A hidden (odd) id is found by nobody.
        let (n, _) = answer(&ctx, "SELECT count(*) FROM t WHERE id = 301").await;
        assert_eq!(n, 0);
    }

    /// Rows the scan itself produced (after the reader's own filtering).
    fn scan_output_rows(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
        reader_metrics(plan, &|m| m.output_rows())
    }

    /// The `Int64` first column of `batches`, in order.
    fn first_column_ids(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    }

    /// A metric of the reader under `plan`.
    fn scan_metric(plan: &Arc<dyn ExecutionPlan>, name: &str) -> Option<usize> {
        reader_metrics(plan, &|m| Some(m.sum_by_name(name)?.as_usize()))
    }

    /// `read` of the metrics of the first reader under `plan`.
    fn reader_metrics(
        plan: &Arc<dyn ExecutionPlan>,
        read: &dyn Fn(MetricsSet) -> Option<usize>,
    ) -> Option<usize> {
        if plan.name() == "DataSourceExec" {
            return read(plan.metrics()?);
        }
        plan.children()
            .into_iter()
            .find_map(|c| reader_metrics(c, read))
    }

    /// Runs a query: its batches and the plan that ran it (with metrics).
    async fn run(ctx: &SessionContext, sql: &str) -> (Vec<RecordBatch>, Arc<dyn ExecutionPlan>) {
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let batches = datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx())
            .await
            .unwrap();
        (batches, plan)
    }

    /// Runs a `count(*)` query: its answer and the plan that ran it.
    async fn run_count(ctx: &SessionContext, sql: &str) -> (i64, Arc<dyn ExecutionPlan>) {
        let (batches, plan) = run(ctx, sql).await;
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        (n, plan)
    }

    async fn run_counting_scan(ctx: &SessionContext, sql: &str) -> (i64, usize, String) {
        let (n, plan) = run_count(ctx, sql).await;
        let text = displayable(plan.as_ref()).indent(true).to_string();
        (n, scan_output_rows(&plan).expect("scan metrics"), text)
    }

    #[tokio::test]
    async fn a_lookup_drops_rows_in_the_reader_and_still_filters_above() {
        let (ctx, _dir) = session().await;
        let (n, scanned, plan) =
            run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE id = 300").await;
        assert_eq!(n, 1);
        assert_eq!(scanned, 1, "only the matching row is decoded: {plan}");
        let above = plan.find("FilterExec: id@").expect("user filter above");
        assert!(above < plan.find("SecureScanExec").unwrap(), "{plan}");
        // A hidden (odd) id passes the reader and is stopped by the row
        // filter, as before.
        let (n, _, _) = run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE id = 301").await;
        assert_eq!(n, 0);
        let (n, scanned, plan) =
            run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE id IN (2, 3, 4, 399)").await;
        assert_eq!(n, 2, "{plan}");
        assert!(scanned <= 4, "{scanned} rows decoded: {plan}");
        // A range only skips row groups: its row group is decoded whole.
        let (n, scanned, plan) =
            run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE id >= 350").await;
        assert_eq!(n, 25);
        assert!(scanned >= 50, "{scanned} rows decoded: {plan}");
    }

    /// `WHERE recent` skips the row groups whose statistics hold only
    /// false; a masked boolean (stored true everywhere, NULL above the
    /// barrier) never reaches the reader.
    #[tokio::test]
    async fn boolean_columns_prune_unless_masked() {
        let (ctx, _dir) = session_with(even_ids(), Rows::Filter).await;
        let (n, scanned, plan) =
            run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE recent").await;
        assert_eq!(n, 50, "even ids from 300 to 398: {plan}");
        assert_eq!(scanned, 100, "only the last row group is read: {plan}");
        let above = plan.find("FilterExec: recent@").expect("user filter above");
        assert!(above < plan.find("SecureScanExec").unwrap(), "{plan}");
        let (n, scanned, plan) = run_counting_scan(
            &ctx,
            "SELECT count(*) FROM t WHERE NOT recent AND id < 1000",
        )
        .await;
        assert_eq!(n, 150, "{plan}");
        assert_eq!(scanned, 300, "the last row group is skipped: {plan}");

        let (n, plan) = answer(&ctx, "SELECT count(*) FROM t WHERE hush").await;
        assert_eq!(n, 0, "{plan}");
        assert!(!user_predicate_reached_the_reader(&plan, "hush"), "{plan}");
        let (n, plan) = answer(
            &ctx,
            "SELECT count(*) FROM t WHERE NOT hush OR hush IS NULL",
        )
        .await;
        assert_eq!(n, 200, "{plan}");
        assert!(!user_predicate_reached_the_reader(&plan, "hush"), "{plan}");
    }

    /// The ACL's own filter, below the barrier.
    fn row_filter_of(plan: &Arc<dyn ExecutionPlan>) -> Option<&FilterExec> {
        if plan.name() == crate::barrier::SECURE_SCAN {
            return plan.children()[0].downcast_ref::<FilterExec>();
        }
        plan.children().into_iter().find_map(row_filter_of)
    }

    /// Text stored as dictionaries: a string-set condition tests the stored
    /// keys, any other test and every column shown read the text.
    #[tokio::test]
    async fn dictionary_columns_are_tested_as_stored_and_shown_as_text() {
        let id = |i: i64| lit(format!("{i:032x}"));
        let row_filter = col("secret")
            .in_list(vec![lit("s2"), lit("s4"), lit("s7"), lit("s8")], false)
            .is_true()
            .or(col("sys_id").like(lit("%07")).is_true());
        let masks = vec![("secret".to_owned(), col("sys_id").eq(id(2)).is_true())];
        let (ctx, _dir) = session_over(row_filter, masks, true, Rows::Filter).await;

        let df = ctx.sql("SELECT count(*) FROM t").await.unwrap();
        let plan = df.clone().create_physical_plan().await.unwrap();
        let filter = row_filter_of(&plan).expect("the row filter");
        for stored in ["secret", "sys_id"] {
            let field = filter
                .input()
                .schema()
                .field_with_name(stored)
                .unwrap()
                .clone();
            assert!(
                matches!(field.data_type(), DataType::Dictionary(..)),
                "{stored} reaches the row filter as stored: {field:?}"
            );
        }
        let counted = df.collect().await.unwrap();
        let n = counted[0].column(0).as_primitive::<Int64Type>().value(0);
        assert_eq!(n, 5, "ids 2, 4, 7, 8 by secret; 7 and 263 by sys_id");

        let batches = ctx
            .sql("SELECT id, secret, sys_id FROM t ORDER BY id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let rows =
            datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        assert_eq!(rows.schema().field(1).data_type(), &DataType::Utf8View);
        let ids: Vec<i64> = rows.column(0).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(ids, vec![2, 4, 7, 8, 263]);
        let secrets: Vec<Option<&str>> = rows.column(1).as_string_view().iter().collect();
        assert_eq!(secrets, vec![Some("s2"), None, None, None, None]);
        let sys_ids: Vec<String> = rows
            .column(2)
            .as_string_view()
            .iter()
            .map(|s| s.unwrap().to_owned())
            .collect();
        let want: Vec<String> = ids.iter().map(|i| format!("{i:032x}")).collect();
        assert_eq!(sys_ids, want);
    }

    /// A user predicate that may prune also runs first in the row filter
    /// (and still above the barrier); other shapes and masked columns stay
    /// out of it.
    #[tokio::test]
    async fn prunable_user_predicates_run_before_the_row_condition() {
        let (ctx, _dir) = session_with(even_ids(), Rows::Filter).await;
        let plan_of = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let (n, plan) = run_count(&ctx, sql).await;
                let text = displayable(plan.as_ref()).indent(true).to_string();
                // A lookup's row filter runs in the reader, the user's
                // predicate with it (see the lookup test).
                let filter = row_filter_of(&plan)
                    .map(|f| f.predicate().to_string())
                    .unwrap_or_default();
                (n, filter, text)
            }
        };
        let (n, filter, plan) = plan_of("SELECT count(*) FROM t WHERE id >= 300 AND recent").await;
        assert_eq!(n, 50, "{plan}");
        assert!(
            filter.starts_with("id@") && filter.contains(">= 300") && filter.contains("recent@"),
            "{filter}"
        );
        let above = plan.find("FilterExec: id@").expect("user filter above");
        assert!(above < plan.find("SecureScanExec").unwrap(), "{plan}");

        // Odd ids are hidden: asking for them finds nothing.
        let (n, filter, _) = plan_of("SELECT count(*) FROM t WHERE id > 300 AND id < 302").await;
        assert_eq!(n, 0);
        assert!(filter.contains("301") || filter.contains("302"), "{filter}");

        for sql in [
            "SELECT count(*) FROM t WHERE id + 1 = 5",
            "SELECT count(*) FROM t WHERE secret IS NULL",
            "SELECT count(*) FROM t WHERE hush",
        ] {
            let (_, filter, _) = plan_of(sql).await;
            assert!(
                !filter.contains("+ 1") && !filter.contains("secret") && !filter.contains("hush"),
                "{sql}: {filter}"
            );
        }
        let (n, _, _) = plan_of("SELECT count(*) FROM t WHERE secret IS NULL").await;
        assert_eq!(n, 200);
    }

    #[tokio::test]
    async fn text_row_conditions_run_as_string_sets() {
        // The shape the condition compiler gives `secretINs2,s4^ORsys_id=<id>`.
        let (ctx, _dir) = session_with(
            col("secret")
                .in_list(vec![lit("s2"), lit("s4")], false)
                .is_true()
                .or(col("sys_id").eq(lit(format!("{:032x}", 7))).is_true()),
            Rows::Filter,
        )
        .await;
        let (n, plan) = answer(&ctx, "SELECT count(*) FROM t").await;
        assert_eq!(n, 3, "records 2, 4 and 7: {plan}");
        assert!(
            plan.contains("secret@2 IN ('s2', 's4') IS TRUE OR sys_id@0 IN ("),
            "{plan}"
        );
        // Above the barrier the masked column is NULL on every record.
        let (n, _) = answer(&ctx, "SELECT count(*) FROM t WHERE secret = 's2'").await;
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn masked_columns_and_other_shapes_never_reach_the_reader() {
        let (ctx, _dir) = session().await;
        // Stored `secret` is never NULL: pruning with this predicate would
        // skip every row group, while above the barrier it holds on every
        // visible record.
        let (n, plan) = answer(&ctx, "SELECT count(*) FROM t WHERE secret IS NULL").await;
        assert_eq!(n, 200, "{plan}");
        assert!(
            !user_predicate_reached_the_reader(&plan, "secret"),
            "{plan}"
        );
        let (n, plan) = answer(&ctx, "SELECT count(*) FROM t WHERE secret = 's2'").await;
        assert_eq!(n, 0, "{plan}");
        assert!(
            !user_predicate_reached_the_reader(&plan, "secret"),
            "{plan}"
        );
        // Mixed with an unmasked column, the whole predicate stays out.
        let (n, plan) = answer(
            &ctx,
            "SELECT count(*) FROM t WHERE id < 10 OR secret IS NULL",
        )
        .await;
        assert_eq!(n, 200, "{plan}");
        assert!(
            !user_predicate_reached_the_reader(&plan, "secret"),
            "{plan}"
        );
        assert!(!user_predicate_reached_the_reader(&plan, "< 10"), "{plan}");
        // A function of a column could fail on hidden values: not pushed.
        let (_, plan) = answer(&ctx, "SELECT count(*) FROM t WHERE id + 1 = 5").await;
        assert!(!user_predicate_reached_the_reader(&plan, "+ 1"), "{plan}");
    }

    /// The class behind the session's only branch.
    async fn class_of(ctx: &SessionContext) -> Arc<TableDef> {
        let provider = ctx.table_provider("t").await.unwrap();
        let table = provider.downcast_ref::<SecureTable>().unwrap();
        Arc::clone(&table.branches[0].class)
    }

    /// The reader applies the row condition from masks computed once per
    /// file: no test of the condition below the barrier, only a lookup of
    /// each record's kept bit; the condition's column unread unless asked
    /// for; row groups with no visible record skipped; only visible records
    /// pass the barrier; and the next query computes nothing.
    #[tokio::test]
    async fn row_conditions_are_applied_by_the_reader_from_kept_masks() {
        let (ctx, _dir) = session().await;
        let class = class_of(&ctx).await;
        assert_eq!(class.row_masks().computed(), 0);

        let (n, plan) = run_count(&ctx, "SELECT count(*) FROM t").await;
        assert_eq!(n, 200);
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let filter = row_filter_of(&plan).expect("the kept-bit filter");
        assert_eq!(
            filter.predicate().to_string(),
            "__sqlgate_kept@0",
            "the filter only reads the kept bit: {text}"
        );
        assert_eq!(filter.metrics().and_then(|m| m.output_rows()), Some(200));
        assert_eq!(scan_output_rows(&plan), Some(400), "{text}");
        let scan = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
        assert!(
            scan.contains("kept_rows(input_file_name(), ")
                && scan.contains("__datafusion_file_row_index"),
            "the reader names each record: {scan}"
        );
        assert!(
            !scan.contains("id@"),
            "the condition's column is not read: {scan}"
        );
        assert_eq!(class.row_masks().computed(), 1);

        let (n, scanned, plan) =
            run_counting_scan(&ctx, "SELECT count(*) FROM t WHERE recent").await;
        assert_eq!(n, 50, "{plan}");
        assert_eq!(scanned, 100, "three row groups pruned, one read: {plan}");
        let (n, _) = answer(&ctx, "SELECT count(*) FROM t WHERE id % 2 = 1").await;
        assert_eq!(n, 0, "odd ids stay hidden");
        let (n, _) = answer(&ctx, "SELECT max(id) FROM t WHERE id < 100").await;
        assert_eq!(n, 98);
        assert_eq!(class.row_masks().computed(), 1, "the file's mask was kept");
    }

    /// Queries that need a file's mask at the same time wait for one
    /// computation of it.
    #[tokio::test]
    async fn concurrent_first_queries_compute_a_mask_once() {
        let (ctx, _dir) = session().await;
        let class = class_of(&ctx).await;
        let queries = (0..4).map(|_| run_count(&ctx, "SELECT count(*) FROM t"));
        let answers = futures::future::join_all(queries).await;
        assert!(answers.iter().all(|(n, _)| *n == 200));
        assert_eq!(class.row_masks().computed(), 1);
    }

    /// Row groups where the condition keeps no record are not read at all.
    #[tokio::test]
    async fn row_groups_without_visible_records_are_skipped() {
        let (ctx, _dir) = session_with(col("id").gt_eq(lit(300i64)), Rows::Masks).await;
        let (n, scanned, plan) = run_counting_scan(&ctx, "SELECT count(*) FROM t").await;
        assert_eq!(n, 100, "{plan}");
        assert_eq!(scanned, 100, "one row group of four read: {plan}");
    }

    /// Every query answers the same whether the row condition runs as a
    /// filter or from masks, over dictionary-stored columns too.
    #[tokio::test]
    async fn masks_and_filters_answer_alike() {
        let row_filter = || {
            col("secret")
                .in_list(vec![lit("s2"), lit("s4"), lit("s7")], false)
                .is_true()
                .or(col("sys_id").like(lit("%07")).is_true())
                .or(col("id").gt_eq(lit(390i64)).and(col("recent")))
        };
        let masks = || vec![("secret".to_owned(), col("id").lt(lit(10i64)).is_true())];
        let (with_masks, _a) = session_over(row_filter(), masks(), true, Rows::Masks).await;
        let (with_filter, _b) = session_over(row_filter(), masks(), true, Rows::Filter).await;
        let show = |ctx: SessionContext, sql: &'static str| async move {
            let df = ctx.sql(sql).await.unwrap();
            let batches = df.collect().await.unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        };
        let queries = [
            "SELECT count(*) FROM t",
            "SELECT id, secret, sys_id, recent FROM t ORDER BY id",
            "SELECT secret, count(*) FROM t GROUP BY secret ORDER BY secret",
            "SELECT id FROM t WHERE sys_id = '00000000000000000000000000000107' ORDER BY id",
            "SELECT id FROM t WHERE secret IS NULL ORDER BY id LIMIT 3",
            "SELECT min(id), max(id) FROM t WHERE id BETWEEN 100 AND 395",
        ];
        for sql in queries {
            let a = show(with_masks.clone(), sql).await;
            let b = show(with_filter.clone(), sql).await;
            assert_eq!(a, b, "{sql}");
            assert!(a.lines().count() > 4, "{sql} answers something: {a}");
        }
        assert_eq!(class_of(&with_masks).await.row_masks().computed(), 1);
        // A file added later storing the text plainly: its mask tests the
        // same condition over the column cast to the folder's type.
        for dir in [&_a, &_b] {
            write_part(&dir.path().join("t/part-1.parquet"), 400..1400);
        }
        for sql in queries {
            let a = show(with_masks.clone(), sql).await;
            assert_eq!(a, show(with_filter.clone(), sql).await, "{sql}");
        }
        let (n, _) = answer(&with_masks, "SELECT count(*) FROM t").await;
        // 2, 4, 7 by secret; 263 (0x107) by sys_id; 390..=399; all of 400..1400.
        assert_eq!(n, 4 + 10 + 1000);
        assert_eq!(class_of(&with_masks).await.row_masks().computed(), 2);
        assert_eq!(class_of(&with_filter).await.row_masks().computed(), 0);
    }

    /// A top-N over a column that passes the barrier unchanged reads the
    /// row groups that can win first, and its threshold skips the rest; a
    /// masked column steers nothing. Masks and filters answer alike, and
    /// as a full sort would.
    #[tokio::test]
    async fn top_n_reads_the_row_groups_that_can_win_first() {
        use datafusion::arrow::compute::concat_batches;
        use datafusion::arrow::util::pretty::pretty_format_batches;
        let masks = || vec![("secret".to_owned(), col("id").lt(lit(10i64)).is_true())];
        let (with_masks, _a) = session_over(even_ids(), masks(), false, Rows::Masks).await;
        let (with_filter, _b) = session_over(even_ids(), masks(), false, Rows::Filter).await;
        // `id % 3 = 0` only runs above the barrier; `id <> ...` may prune,
        // and so also runs in the reader.
        let query = |order| {
            format!(
                "SELECT id, secret FROM t WHERE id % 3 = 0 AND id <> 390 AND id <> 6 ORDER BY id {order}"
            )
        };
        for ctx in [&with_filter, &with_masks] {
            // One partition, as a table of several files has per reader: a
            // repartition would read ahead of the top-N.
            ctx.sql("SET datafusion.execution.target_partitions = 1")
                .await
                .unwrap();
            for (order, expected) in [
                ("DESC", [396, 384, 378, 372, 366]),
                ("ASC", [0, 12, 18, 24, 30]),
            ] {
                let (batches, plan) = run(ctx, &format!("{} LIMIT 5", query(order))).await;
                let text = displayable(plan.as_ref()).indent(true).to_string();
                let ids = first_column_ids(&batches);
                assert_eq!(ids, expected, "{text}");
                let scan = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
                assert_eq!(
                    scan.contains("reverse_row_groups=true"),
                    order == "DESC",
                    "{text}"
                );
                assert!(scan.contains("DynamicFilter"), "{scan}");
                // Of 4 row groups of 100 rows, only the one that wins is
                // read, and the reader drops the rows its predicate rejects
                // (the `id <> ...`, and the row condition where it runs as a
                // filter) before it decodes `secret`.
                let read = scan_output_rows(&plan).unwrap();
                let dropped = scan_metric(&plan, "pushdown_rows_pruned").unwrap();
                assert!(
                    read + dropped <= 100,
                    "one row group is read ({read} read, {dropped} dropped): {text}"
                );
                assert!(dropped >= 1, "the reader filters rows: {text}");
                // The user's filter and the row condition still run above
                // the reader as before.
                let above = text.find("FilterExec: id@").expect("user filter above");
                assert!(above < text.find("SecureScanExec").unwrap(), "{text}");

                let all = ctx
                    .sql(&query(order))
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
                let all = concat_batches(&all[0].schema(), &all).unwrap();
                assert_eq!(
                    pretty_format_batches(&batches).unwrap().to_string(),
                    pretty_format_batches(&[all.slice(0, 5)])
                        .unwrap()
                        .to_string(),
                    "as the full sort"
                );
            }
        }
        // Over a masked column: the reader keeps its order and no threshold.
        let (_, text) = answer(
            &with_masks,
            "SELECT count(*) FROM (SELECT secret FROM t WHERE id % 3 = 0 \
             ORDER BY secret DESC LIMIT 5)",
        )
        .await;
        let scan = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
        assert!(!scan.contains("reverse_row_groups"), "{scan}");
        assert!(!scan.contains("DynamicFilter"), "{scan}");
    }

    /// A top-N over a restricted scan reads the file that can win first.
    /// DataFusion 55 orders the files by the statistics of the column that
    /// sits where the key sits among the columns read, and a reader that
    /// works out kept bits reads more than plain columns: here that column
    /// would be `sys_id`, which falls as `id` rises.
    #[tokio::test]
    async fn top_n_reads_the_file_that_can_win_first() {
        let files: Vec<RecordBatch> = (0..4)
            .map(|k| {
                let batch = part(k * 100..(k + 1) * 100);
                let falling = StringArray::from_iter_values(
                    (k * 100..(k + 1) * 100).map(|i| format!("{:032x}", 1000 - i)),
                );
                let mut columns = batch.columns().to_vec();
                columns[0] = Arc::new(falling);
                RecordBatch::try_new(batch.schema(), columns).unwrap()
            })
            .collect();
        let (ctx, _dir) = session_of_files(even_ids(), vec![], Rows::Masks, &files).await;
        ctx.sql("SET datafusion.execution.target_partitions = 1")
            .await
            .unwrap();
        let (batches, plan) = run(&ctx, "SELECT id FROM t ORDER BY id DESC LIMIT 3").await;
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let ids = first_column_ids(&batches);
        assert_eq!(ids, [398, 396, 394], "{text}");
        let scan = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
        assert!(scan.contains("kept_rows"), "a restricted reader: {scan}");
        let order: Vec<usize> = ["part-3", "part-2", "part-1", "part-0"]
            .iter()
            .map(|f| scan.find(f).expect(f))
            .collect();
        assert!(order.is_sorted(), "newest file first: {scan}");
        assert!(scan_output_rows(&plan).unwrap() < 400, "{text}");
    }

    /// A top-N over a lookup keeps the page index, which narrows a value of
    /// a sorted column to a page; any other top-N's reader does without it
    /// (its row selection would stop the threshold skipping row groups).
    #[tokio::test]
    async fn top_n_over_a_lookup_keeps_the_page_index() {
        let (ctx, _dir) = session_over(even_ids(), vec![], false, Rows::Masks).await;
        ctx.sql("SET datafusion.execution.target_partitions = 1")
            .await
            .unwrap();
        let lookup = format!("sys_id = '{:032x}'", 250);
        for (filter, expected, page_index) in [
            (lookup.as_str(), vec![250], true),
            ("id > 250", vec![398, 396, 394, 392, 390], false),
        ] {
            let sql = format!("SELECT id FROM t WHERE {filter} ORDER BY id DESC LIMIT 5");
            let (batches, plan) = run(&ctx, &sql).await;
            let ids = first_column_ids(&batches);
            assert_eq!(ids, expected, "{sql}");
            let text = DisplayableExecutionPlan::with_metrics(plan.as_ref())
                .indent(true)
                .to_string();
            let scan = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
            assert_eq!(
                !scan.contains("page_index_pages_pruned=0 total"),
                page_index,
                "{sql}: {scan}"
            );
        }
    }

    /// A condition whose answer may change between queries (a function
    /// DataFusion does not declare immutable, the class name no file
    /// stores) runs as a filter every time.
    #[tokio::test]
    async fn conditions_that_may_change_run_as_filters() {
        use datafusion::functions::expr_fn::random;
        for condition in [
            even_ids().and(random().lt(lit(2.0))),
            even_ids().and(col(CLASS_COLUMN).eq(lit("t"))),
        ] {
            let (ctx, _dir) = session_with(condition.clone(), Rows::Masks).await;
            let (n, plan) = run_count(&ctx, "SELECT count(*) FROM t").await;
            assert_eq!(n, 200, "{condition}");
            assert!(row_filter_of(&plan).is_some(), "{condition}");
            assert_eq!(
                class_of(&ctx).await.row_masks().computed(),
                0,
                "{condition}"
            );
        }
    }
}
