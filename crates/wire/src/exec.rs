//! Running one gated command in a session, for either protocol. Queries
//! become streams of encoded rows; session commands answer at once with a tag or
//! a small result. Transaction commands only report: the server is
//! read-only, so a transaction has nothing to commit or undo.

use std::sync::Arc;

use arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use sqlgate_engine::{Command, EngineError, Session, sqlstate};
use tokio::time::Instant;

use crate::observe::StatementRecord;
use crate::rows::{RowStream, Stopper};
use crate::sink::ResultRows;

/// What a command produced.
pub(crate) enum Outcome {
    Rows(Box<ResultRows>),
    /// A command tag such as `SET`.
    Tag(&'static str),
    /// A tag with a row count, such as `MOVE 5`.
    Count(&'static str, usize),
    Begin,
    /// COMMIT or ROLLBACK, with the tag to report.
    End(&'static str),
    /// Prepared statements to drop (`None` = all), and the tag to report.
    Deallocate(Option<String>, &'static str),
}

/// The result schema of a command, for Describe.
pub(crate) fn result_schema(command: &Command, plan: Option<&LogicalPlan>) -> Option<Arc<Schema>> {
    match command {
        Command::Query(statement) => plan.map(|p| {
            Arc::new(sqlgate_engine::naming::query_schema(
                statement,
                p.schema().as_arrow(),
            ))
        }),
        Command::Explain { .. } => Some(sqlgate_engine::explain::schema()),
        Command::Show(name) if name == "all" => Some(show_all_schema()),
        Command::Show(name) => Some(Arc::new(Schema::new(vec![Field::new(
            show_column(name),
            DataType::Utf8,
            false,
        )]))),
        _ => None,
    }
}

fn show_column(name: &str) -> String {
    match name {
        "transaction isolation level" => "transaction_isolation".to_owned(),
        "time zone" => "timezone".to_owned(),
        other => other.to_owned(),
    }
}

fn show_all_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("setting", DataType::Utf8, false),
    ]))
}

/// Plans a query or EXPLAIN command.
pub(crate) async fn plan(
    session: &Session,
    command: &Command,
) -> Result<Option<LogicalPlan>, EngineError> {
    match command {
        Command::Query(statement) => Ok(Some(session.plan(statement).await?)),
        Command::Explain { statement, .. } => Ok(Some(session.plan(statement).await?)),
        Command::Declare(d) => Ok(Some(session.plan(&d.statement).await?)),
        _ => Ok(None),
    }
}

/// The plan made at Parse time, or one made now.
async fn plan_or_now(
    session: &Session,
    command: &Command,
    plan: Option<LogicalPlan>,
) -> Result<LogicalPlan, EngineError> {
    match plan {
        Some(p) => Ok(p),
        None => self::plan(session, command)
            .await?
            .ok_or_else(|| EngineError::new(sqlstate::INTERNAL_ERROR, "no plan for a query")),
    }
}

fn with_params(plan: LogicalPlan, params: Option<ParamValues>) -> Result<LogicalPlan, EngineError> {
    match params {
        Some(p) => plan.with_param_values(p).map_err(EngineError::from),
        None => Ok(plan),
    }
}

/// Runs a command. `plan` is the command's plan when it has one (planned at
/// Parse time in the extended protocol, just before in the simple one).
pub(crate) async fn run(
    session: &mut Session,
    command: &Command,
    plan: Option<LogicalPlan>,
    params: Option<ParamValues>,
    format: &Format,
    stopper: Stopper,
    record: &mut Option<StatementRecord>,
) -> Result<Outcome, EngineError> {
    match command {
        Command::Explain { analyze, .. } => {
            let plan = with_params(plan_or_now(session, command, plan).await?, params)?;
            let mut stopper = stopper;
            let batch = stopper.run(session.explain(plan, *analyze)).await?;
            Ok(Outcome::Rows(Box::new(batch_response(
                batch,
                format,
                stopper,
                record.take(),
            )?)))
        }
        Command::Query(statement) => {
            let plan = with_params(plan_or_now(session, command, plan).await?, params)?;
            let fields = fields_for(
                &sqlgate_engine::naming::query_schema(statement, plan.schema().as_arrow()),
                format,
            )?;
            if let Some(r) = record.as_mut() {
                r.read(sqlgate_engine::facts::facts(&plan));
            }
            let mut stopper = stopper;
            let batches = stopper.run(session.execute(plan)).await?;
            Ok(Outcome::Rows(Box::new(ResultRows::new(
                fields.clone(),
                RowStream::new(batches, fields, stopper, record.take())
                    .with_time_zone(&session.vars().time_zone())
                    .pipelined(),
            ))))
        }
        Command::Show(name) => {
            let (schema, columns): (Arc<Schema>, Vec<ArrayRef>) = if name == "all" {
                let all = session.vars().all();
                (
                    show_all_schema(),
                    vec![
                        Arc::new(StringArray::from_iter_values(all.iter().map(|(n, _)| n))),
                        Arc::new(StringArray::from_iter_values(all.iter().map(|(_, v)| v))),
                    ],
                )
            } else {
                let (_, value) = session.vars().get(name)?;
                (
                    result_schema(command, None).expect("SHOW has a schema"),
                    vec![Arc::new(StringArray::from(vec![value]))],
                )
            };
            let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
                .map_err(|e| EngineError::new(sqlstate::INTERNAL_ERROR, e.to_string()))?;
            Ok(Outcome::Rows(Box::new(batch_response(
                batch,
                format,
                stopper,
                record.take(),
            )?)))
        }
        Command::Set { name, value } => {
            session.vars().set(name, value)?;
            session.apply_vars();
            Ok(Outcome::Tag("SET"))
        }
        Command::Reset(name) => {
            match name {
                Some(n) => session.vars().reset(n)?,
                None => session.vars().reset_all(),
            }
            session.apply_vars();
            Ok(Outcome::Tag("RESET"))
        }
        Command::SetTransaction => Ok(Outcome::Tag("SET")),
        Command::Begin => Ok(Outcome::Begin),
        Command::Commit => Ok(Outcome::End("COMMIT")),
        Command::Rollback => Ok(Outcome::End("ROLLBACK")),
        Command::Savepoint(tag) => Ok(Outcome::Tag(tag)),
        Command::Discard => {
            session.vars().reset_all();
            session.apply_vars();
            Ok(Outcome::Deallocate(None, "DISCARD ALL"))
        }
        Command::Declare(_) | Command::Fetch(_) | Command::Close(_) => Err(EngineError::new(
            sqlstate::INTERNAL_ERROR,
            "cursor commands run with the connection's cursors",
        )),
        Command::Deallocate(name) => Ok(Outcome::Deallocate(
            name.clone(),
            if name.is_some() {
                "DEALLOCATE"
            } else {
                "DEALLOCATE ALL"
            },
        )),
    }
}

/// A response from one ready batch.
fn batch_response(
    batch: RecordBatch,
    format: &Format,
    stopper: Stopper,
    record: Option<StatementRecord>,
) -> Result<ResultRows, EngineError> {
    let schema = batch.schema();
    let fields = fields_for(&schema, format)?;
    let batches = Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter([Ok(batch)]),
    ));
    Ok(ResultRows::new(
        fields.clone(),
        RowStream::new(batches, fields, stopper, record),
    ))
}

pub(crate) fn fields_for(
    schema: &Schema,
    format: &Format,
) -> Result<Arc<Vec<FieldInfo>>, EngineError> {
    arrow_schema_to_pg_fields(&sqlgate_engine::naming::pg_schema(schema), format, None)
        .map(Arc::new)
        .map_err(|e| {
            EngineError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("result type not supported: {e}"),
            )
        })
}

/// The deadline of a statement starting now.
pub(crate) fn deadline(session: &Session) -> Option<Instant> {
    session
        .vars()
        .statement_timeout()
        .map(|t| Instant::now() + t)
}
