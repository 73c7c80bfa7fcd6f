//! The simple and extended query protocols on top of a logged-in session.
//!
//! Simple protocol: the whole request passes the gate first (all or
//! nothing), then each statement runs and streams its result before the next
//! starts. Extended protocol: Parse gates and plans one statement, Bind
//! decodes parameters with the client's declared types first, Execute
//! streams with row limits (pgwire keeps suspended portals).

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_describe_response, send_execution_response,
    send_ready_for_query,
};
use pgwire::api::results::{DescribePortalResponse, FieldInfo, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, MemPortalStore, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, Parse, ParseComplete, PortalSuspended,
    TARGET_TYPE_BYTE_PORTAL,
};
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use sqlgate_engine::{Command, EngineError, Session, gate};
use tokio::sync::MutexGuard;

use crate::conn::Conn;
use crate::errors::{self, error};
use crate::exec::{self, Outcome};
use crate::observe::StatementRecord;
use crate::rows::Stopper;
use crate::sink::{ResultRows, RowSink};

mod cursor;

use cursor::{Cursors, Origin};

/// A statement prepared by Parse: gated, and planned when it is a query.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The statement text, for the audit digest.
    sql: String,
    command: Command,
    plan: Option<LogicalPlan>,
    /// The session generation the plan was made under; a policy change
    /// since then means planning again.
    generation: u64,
}

pub(crate) struct QueryHandler {
    conn: Arc<Conn>,
    parser: Arc<Parser>,
    /// The connection's SQL cursors; they close with it.
    cursors: Arc<Cursors>,
    /// Names of the statements prepared on this connection, for
    /// `DEALLOCATE ALL` / `DISCARD ALL`.
    statement_names: std::sync::Mutex<HashSet<String>>,
}

impl QueryHandler {
    pub fn new(conn: Arc<Conn>) -> QueryHandler {
        let cursors = Arc::new(Cursors::default());
        QueryHandler {
            parser: Arc::new(Parser {
                conn: Arc::clone(&conn),
                cursors: Arc::clone(&cursors),
            }),
            cursors,
            conn,
            statement_names: std::sync::Mutex::default(),
        }
    }
}

/// Locks the logged-in session of a connection.
async fn session(conn: &Conn) -> PgWireResult<MutexGuard<'_, Option<Session>>> {
    let guard = conn.session.lock().await;
    if guard.is_none() {
        return Err(errors::fatal("08P01", "not logged in"));
    }
    Ok(guard)
}

/// Counts a query against the account's hourly limit (53400 beyond it).
fn charge(conn: &Conn, session: &Session, command: &Command) -> Result<(), EngineError> {
    if !matches!(
        command,
        Command::Query(_) | Command::Explain { .. } | Command::Declare(_)
    ) {
        return Ok(());
    }
    let user = &session.principal().user_name;
    conn.shared
        .limits
        .query(user, session.query_rate())
        .map_err(|over| {
            let retry = crate::startup::rfc3339(over.retry_at);
            tracing::warn!(user = %user, limit = over.queries_per_hour, "query rate limit reached");
            conn.shared.metrics.deny("rate_limit");
            conn.shared.audit(sqlgate_audit::Event::RateLimited {
                account: user.clone(),
                peer: conn.peer.to_string(),
                limit: over.queries_per_hour,
                reset_at: retry.clone(),
            });
            EngineError::new(
                "53400",
                format!(
                    "rate limit exceeded: {} queries per hour for \"{user}\"; try again after {retry}",
                    over.queries_per_hour
                ),
            )
        })
}

/// Refuses statement text over the configured length (54000).
fn check_length(conn: &Conn, sql: &str) -> Result<(), EngineError> {
    let max = conn.shared.config.max_statement_length;
    if sql.len() > max {
        return Err(EngineError::new(
            "54000",
            format!(
                "statement is too long: {} bytes, the limit is {max}",
                sql.len()
            ),
        ));
    }
    Ok(())
}

/// In a failed transaction only its end is accepted (25P02).
fn check_transaction(status: TransactionStatus, command: &Command) -> Result<(), EngineError> {
    let ends = matches!(
        command,
        Command::Commit | Command::Rollback | Command::Savepoint("ROLLBACK")
    );
    if matches!(status, TransactionStatus::Error) && !ends {
        return Err(EngineError::new(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        ));
    }
    Ok(())
}

fn record(conn: &Conn, session: &Session, sql: &str) -> StatementRecord {
    StatementRecord::begin(
        &conn.shared,
        &session.principal().user_name,
        &conn.peer.to_string(),
        sql,
    )
}

/// Counts and audits a refusal; a forbidden table is audited by name (the
/// client gets the same answer as for a missing one).
fn note(conn: &Conn, session: &Session, e: &EngineError) {
    let shared = &conn.shared;
    match e.code {
        "42P01" => {
            if let Some(table) = session.hidden_table(e) {
                shared.metrics.deny("table");
                shared.audit(sqlgate_audit::Event::TableDenied {
                    account: session.principal().user_name.clone(),
                    peer: conn.peer.to_string(),
                    table,
                });
            }
        }
        "42501" if e.message.contains(" on field ") => shared.metrics.deny("query_acl"),
        "42501" | "25006" => shared.metrics.deny("statement"),
        _ => {}
    }
}

/// A statement refused before it ran: counted, audited, reported.
fn refuse(conn: &Conn, session: &Session, sql: &str, e: EngineError) -> PgWireError {
    note(conn, session, &e);
    record(conn, session, sql).finish(Some(e.code));
    errors::engine(e)
}

impl QueryHandler {
    /// Runs one command under its statement record.
    #[allow(clippy::too_many_arguments)]
    async fn run_recorded(
        &self,
        session: &mut Session,
        sql: &str,
        command: &Command,
        plan: Option<LogicalPlan>,
        params: Option<datafusion::common::ParamValues>,
        format: &Format,
        origin: Origin,
    ) -> PgWireResult<Outcome> {
        let mut record = Some(record(&self.conn, session, sql));
        let stopper = Stopper::new(self.conn.cancel.start(), exec::deadline(session));
        let outcome = match command {
            Command::Declare(_) | Command::Fetch(_) | Command::Close(_) => {
                self.cursors
                    .run(
                        session,
                        command,
                        plan,
                        params,
                        format,
                        origin,
                        stopper,
                        &mut record,
                    )
                    .await
            }
            _ => exec::run(session, command, plan, params, format, stopper, &mut record).await,
        };
        match outcome {
            Ok(outcome) => {
                if let Some(mut r) = record.take() {
                    r.finish(None);
                }
                Ok(outcome)
            }
            Err(e) => {
                note(&self.conn, session, &e);
                if let Some(mut r) = record.take() {
                    r.finish(Some(e.code));
                }
                Err(errors::engine(e))
            }
        }
    }
}

impl QueryHandler {
    /// Drops prepared statements. The store is the connection's
    /// `MemPortalStore<Prepared>`; pgwire hands it out type-erased to the
    /// simple-query path.
    fn forget_statements(&self, store: &dyn std::any::Any, name: Option<&str>) {
        let Some(store) = store.downcast_ref::<MemPortalStore<Prepared>>() else {
            return;
        };
        let mut names = self.statement_names.lock().expect("statement names");
        match name {
            Some(n) => {
                store.rm_statement(n);
                names.remove(n);
            }
            None => {
                for n in names.drain() {
                    store.rm_statement(&n);
                }
                store.rm_statement(DEFAULT_NAME);
                store.clear_portals();
            }
        }
    }

    /// Runs a simple-protocol request, keeping the client's transaction
    /// status current as statements complete.
    async fn simple<C>(&self, client: &mut C, sql: &str) -> PgWireResult<()>
    where
        C: RowSink,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = session(&self.conn).await?;
        let session = guard.as_mut().expect("checked");
        session.refresh().map_err(errors::engine)?;
        let commands = match check_length(&self.conn, sql).and_then(|()| gate::check(sql)) {
            Ok(c) => c,
            Err(e) => return Err(refuse(&self.conn, session, sql, e)),
        };
        if commands.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
            return Ok(());
        }
        // Several statements in one request run as one implicit transaction
        // block, as in PostgreSQL: a cursor without hold may be declared in
        // it, and closes when the request ends.
        let implicit_block = commands.len() > 1;
        for command in commands {
            let origin = Origin {
                in_block: implicit_block
                    || !matches!(client.transaction_status(), TransactionStatus::Idle),
                simple: true,
            };
            if let Err(e) = check_transaction(client.transaction_status(), &command)
                .and_then(|()| charge(&self.conn, session, &command))
            {
                return Err(refuse(&self.conn, session, sql, e));
            }
            let outcome = self
                .run_recorded(
                    session,
                    sql,
                    &command,
                    None,
                    None,
                    &Format::UnifiedText,
                    origin,
                )
                .await?;
            match outcome {
                Outcome::Rows(rows) => (*rows).send(client, true).await?,
                Outcome::Tag(tag) => send_execution_response(client, Tag::new(tag)).await?,
                Outcome::Count(tag, n) => {
                    send_execution_response(client, Tag::new(tag).with_rows(n)).await?;
                }
                Outcome::Begin => {
                    send_execution_response(client, Tag::new("BEGIN")).await?;
                    let status = client.transaction_status().to_in_transaction_state();
                    client.set_transaction_status(status);
                }
                Outcome::End(tag) => {
                    let tag = if matches!(client.transaction_status(), TransactionStatus::Error) {
                        "ROLLBACK"
                    } else {
                        tag
                    };
                    self.cursors.end_transaction(tag == "COMMIT");
                    send_execution_response(client, Tag::new(tag)).await?;
                    client.set_transaction_status(TransactionStatus::Idle);
                }
                Outcome::Deallocate(name, tag) => {
                    self.forget_statements(client.portal_store().as_any(), name.as_deref());
                    if tag == "DISCARD ALL" {
                        self.cursors.close_all();
                    }
                    send_execution_response(client, Tag::new(tag)).await?;
                }
            }
        }
        Ok(())
    }
}

impl QueryHandler {
    /// Runs (first Execute) or resumes (later ones) a portal, sending at
    /// most `max_rows` rows (0 = all) and then PortalSuspended or
    /// CommandComplete.
    async fn execute_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        max_rows: usize,
    ) -> PgWireResult<()>
    where
        C: RowSink,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = portal.state();
        let mut state = state.lock().await;
        if matches!(*state, PortalExecutionState::Initial) {
            let response = match self.start_portal(client, portal).await? {
                // All rows at once: straight to the socket, batch by batch.
                Started::Rows(rows) if max_rows == 0 => {
                    *state = PortalExecutionState::Finished;
                    return (*rows).send(client, false).await;
                }
                Started::Rows(rows) => Response::Query((*rows).into_response()),
                Started::Other(response) => response,
            };
            match response {
                Response::Query(rows) => *state = PortalExecutionState::Suspended(rows),
                Response::Execution(tag) => {
                    *state = PortalExecutionState::Finished;
                    return send_execution_response(client, tag).await;
                }
                Response::TransactionStart(tag) => {
                    *state = PortalExecutionState::Finished;
                    send_execution_response(client, tag).await?;
                    let status = client.transaction_status().to_in_transaction_state();
                    client.set_transaction_status(status);
                    return Ok(());
                }
                Response::TransactionEnd(tag) => {
                    *state = PortalExecutionState::Finished;
                    send_execution_response(client, tag).await?;
                    client.set_transaction_status(TransactionStatus::Idle);
                    return Ok(());
                }
                _ => return Err(errors::error("0A000", "unsupported response")),
            }
        }
        let PortalExecutionState::Suspended(response) = &mut *state else {
            // Already finished: nothing more to send.
            let tag = Tag::new("SELECT").with_rows(0);
            return send_execution_response(client, tag).await;
        };
        let command_tag = response.command_tag().to_owned();
        let mut sent = 0usize;
        loop {
            if max_rows > 0 && sent >= max_rows {
                client
                    .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                    .await?;
                return Ok(());
            }
            match response.data_rows().next().await {
                Some(Ok(row)) => {
                    client.feed(PgWireBackendMessage::DataRow(row)).await?;
                    sent += 1;
                }
                Some(Err(e)) => {
                    *state = PortalExecutionState::Finished;
                    return Err(e);
                }
                None => {
                    *state = PortalExecutionState::Finished;
                    return send_execution_response(client, Tag::new(&command_tag).with_rows(sent))
                        .await;
                }
            }
        }
    }
}

impl QueryHandler {
    /// A Query message (the simple protocol). The connection loop calls
    /// this itself, with its socket, so that rows are written in whole
    /// batches (see [`RowSink`]).
    pub(crate) async fn on_query_message<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: RowSink,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let outcome = self.simple(client, &query.query).await;
        if matches!(client.transaction_status(), TransactionStatus::Idle) {
            // The request's implicit transaction ends with it.
            self.cursors.end_transaction(outcome.is_ok());
        }
        // Errors go back through pgwire, which reports them and sends
        // ReadyForQuery with the failed-transaction status.
        client.set_state(PgWireConnectionState::ReadyForQuery);
        outcome?;
        let status = client.transaction_status();
        send_ready_for_query(client, status).await
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn on_query<C>(&self, _client: &mut C, _query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(not_routed())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(not_routed())
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        Arc::clone(&self.parser)
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        if name != DEFAULT_NAME {
            self.statement_names
                .lock()
                .expect("statement names")
                .insert(name);
        }
        client
            .send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// A cursor declared in SQL is also a portal of that name, as in
    /// PostgreSQL: psycopg describes its named cursors that way.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type == TARGET_TYPE_BYTE_PORTAL {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if client.portal_store().get_portal(name).is_none()
                && let Some(binary) = self.cursors.binary(name)
            {
                let format = if binary {
                    Format::UnifiedBinary
                } else {
                    Format::UnifiedText
                };
                let fields = self.cursors.fields(name, &format).unwrap_or_default();
                return send_describe_response(client, &DescribePortalResponse::new(fields)).await;
            }
        }
        self._on_describe(client, message).await
    }

    /// pgwire binds whatever count of values arrives; PostgreSQL refuses a
    /// Bind whose parameter count differs from the statement's (08P01), and
    /// so must we, or a missing value would silently become NULL.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        let expected = match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let count = match &statement.statement.plan {
                    Some(plan) => parameter_types(plan).map_err(errors::engine)?.len(),
                    None => 0,
                };
                Some((statement, count))
            }
            Some(Entry::Empty) => None,
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        };
        let required = expected.as_ref().map_or(0, |(_, n)| *n);
        if message.parameters.len() != required {
            return Err(error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires {required}",
                    message.parameters.len()
                ),
            ));
        }
        match expected {
            Some((statement, _)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            None => client.portal_store().put_empty_portal(portal_name),
        }
        client
            .send(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_execute<C>(&self, _client: &mut C, _message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(not_routed())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Ok(match self.start_portal(client, portal).await? {
            Started::Rows(rows) => Response::Query((*rows).into_response()),
            Started::Other(response) => response,
        })
    }
}

/// What the first Execute of a portal started.
enum Started {
    Rows(Box<ResultRows>),
    Other(Response),
}

/// The connection loop routes Query and Execute messages to
/// [`QueryHandler::on_query_message`] and [`QueryHandler::on_execute_message`];
/// pgwire's own entry points are never reached.
fn not_routed() -> PgWireError {
    error("XX000", "query messages are handled by the connection loop")
}

impl QueryHandler {
    /// An Execute message. The connection loop calls this itself, with its
    /// socket, so that an unlimited Execute writes rows in whole batches.
    /// pgwire's default would also gather every row of an unlimited
    /// Execute into memory first, defeating streaming, backpressure and
    /// cancellation.
    pub(crate) async fn on_execute_message<C>(
        &self,
        client: &mut C,
        message: Execute,
    ) -> PgWireResult<()>
    where
        C: RowSink,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let max_rows = usize::try_from(message.max_rows).unwrap_or(0);
        let portal = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) => portal,
            Some(Entry::Empty) => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                return Ok(());
            }
            None => return Err(PgWireError::PortalNotFound(name.to_owned())),
        };
        client.set_state(PgWireConnectionState::QueryInProgress);
        let outcome = self.execute_portal(client, &portal, max_rows).await;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        outcome
    }

    /// Runs a portal's statement (its first Execute).
    async fn start_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<Started>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = session(&self.conn).await?;
        let session = guard.as_mut().expect("checked");
        session.refresh().map_err(errors::engine)?;
        let prepared = &portal.statement.statement;
        if let Err(e) = check_transaction(client.transaction_status(), &prepared.command)
            .and_then(|()| charge(&self.conn, session, &prepared.command))
        {
            return Err(refuse(&self.conn, session, &prepared.sql, e));
        }
        let plan = match &prepared.plan {
            Some(p) if prepared.generation == session.generation() => Some(p.clone()),
            _ => match exec::plan(session, &prepared.command).await {
                Ok(p) => p,
                Err(e) => return Err(refuse(&self.conn, session, &prepared.sql, e)),
            },
        };
        let params = match &plan {
            Some(plan) if portal.parameter_len() > 0 => {
                let types = parameter_types(plan).map_err(errors::engine)?;
                let refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
                Some(deserialize_parameters(portal, &refs)?)
            }
            _ => None,
        };
        let origin = Origin {
            in_block: !matches!(client.transaction_status(), TransactionStatus::Idle),
            simple: false,
        };
        let outcome = self
            .run_recorded(
                session,
                &prepared.sql,
                &prepared.command,
                plan,
                params,
                &portal.result_column_format,
                origin,
            )
            .await?;
        Ok(Started::Other(match outcome {
            Outcome::Rows(rows) => return Ok(Started::Rows(rows)),
            Outcome::Tag(tag) => Response::Execution(Tag::new(tag)),
            Outcome::Count(tag, n) => Response::Execution(Tag::new(tag).with_rows(n)),
            Outcome::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            Outcome::End(tag) => {
                let failed = matches!(client.transaction_status(), TransactionStatus::Error);
                self.cursors.end_transaction(tag == "COMMIT" && !failed);
                Response::TransactionEnd(Tag::new(tag))
            }
            Outcome::Deallocate(name, tag) => {
                self.forget_statements(client.portal_store().as_any(), name.as_deref());
                if tag == "DISCARD ALL" {
                    self.cursors.close_all();
                }
                Response::Execution(Tag::new(tag))
            }
        }))
    }
}

/// The planner's parameter types, `$1` first.
fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>, EngineError> {
    let map = plan.get_parameter_types().map_err(EngineError::from)?;
    let mut out = vec![None; map.len()];
    for (name, ty) in map {
        let idx: usize = name
            .trim_start_matches('$')
            .parse()
            .map_err(|_| EngineError::new("42P02", format!("unsupported parameter {name}")))?;
        if idx == 0 {
            return Err(EngineError::new("42P02", "there is no parameter $0"));
        }
        if idx > out.len() {
            out.resize(idx, None);
        }
        out[idx - 1] = ty;
    }
    Ok(out)
}

/// Parse-time work of the extended protocol.
pub(crate) struct Parser {
    conn: Arc<Conn>,
    /// A FETCH is described with its cursor's columns.
    cursors: Arc<Cursors>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut guard = session(&self.conn).await?;
        let session = guard.as_mut().expect("checked");
        session.refresh().map_err(errors::engine)?;
        let mut commands = match check_length(&self.conn, sql).and_then(|()| gate::check(sql)) {
            Ok(c) => c,
            Err(e) => return Err(refuse(&self.conn, session, sql, e)),
        };
        let command = match commands.len() {
            0 => return Ok(None),
            1 => commands.remove(0),
            _ => {
                return Err(error(
                    "42601",
                    "cannot insert multiple commands into a prepared statement",
                ));
            }
        };
        let plan = exec::plan(session, &command)
            .await
            .map_err(errors::engine)?;
        Ok(Some(Prepared {
            sql: sql.to_owned(),
            command,
            plan,
            generation: session.generation(),
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        let Some(plan) = &stmt.plan else {
            return Ok(Vec::new());
        };
        parameter_types(plan)
            .map_err(errors::engine)?
            .into_iter()
            .map(|t| match t {
                Some(t) => into_pg_type(&t),
                None => Ok(Type::UNKNOWN),
            })
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        if let Command::Fetch(f) = &stmt.command {
            let fields = (!f.skip)
                .then(|| {
                    self.cursors
                        .fields(&f.name, format.unwrap_or(&Format::UnifiedText))
                })
                .flatten();
            return Ok(fields.unwrap_or_default());
        }
        match exec::result_schema(&stmt.command, stmt.plan.as_ref()) {
            None => Ok(Vec::new()),
            Some(schema) => exec::fields_for(&schema, format.unwrap_or(&Format::UnifiedText))
                .map(|f| f.as_ref().clone())
                .map_err(errors::engine),
        }
    }
}
