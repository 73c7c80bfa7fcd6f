//! The SQL cursors of one connection (`DECLARE`, `FETCH`, `MOVE`,
//! `CLOSE`).
//!
//! A cursor keeps the query's open batch stream and the part of a batch it
//! has not returned yet; `FETCH n` pulls batches only until it has `n`
//! rows, so a cursor over a large result never holds more than one batch.
//! The query is planned and executed by the same session code as a plain
//! query, so the ACL checks and the secure scans apply unchanged.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{RecordBatchStream, SendableRecordBatchStream};
use futures::{Stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use sqlgate_engine::error::classify;
use sqlgate_engine::gate::{Declare, Fetch};
use sqlgate_engine::{EngineError, Session};
use tokio::sync::OwnedMutexGuard;

use crate::exec::{self, Outcome};
use crate::observe::StatementRecord;
use crate::rows::{RowStream, Stopper};
use crate::sink::ResultRows;

/// Open cursors per connection; each holds a running query.
pub(crate) const MAX_CURSORS: usize = 64;

/// Where a cursor's rows stand.
struct Position {
    batches: SendableRecordBatchStream,
    /// A batch partly returned, and how many of its rows were.
    pending: Option<(RecordBatch, usize)>,
    /// The stream ended (or failed): nothing more to return.
    done: bool,
}

struct Cursor {
    /// The result columns, named as the plain query would name them.
    schema: Arc<Schema>,
    binary: bool,
    hold: bool,
    /// Declared in the transaction still open: its rollback drops the
    /// cursor even `WITH HOLD`.
    uncommitted: bool,
    /// The session generation the query was planned under.
    generation: u64,
    /// Locked while a FETCH streams, which may outlast the statement when
    /// an Execute row limit suspends the portal.
    position: Arc<tokio::sync::Mutex<Position>>,
}

/// How the statement arrived.
#[derive(Clone, Copy)]
pub(crate) struct Origin {
    /// Inside a transaction block (explicit, or the implicit one of a
    /// simple-protocol request with several statements).
    pub in_block: bool,
    /// Simple protocol: a `BINARY` cursor answers in binary.
    pub simple: bool,
}

/// The cursors of one connection.
#[derive(Default)]
pub(crate) struct Cursors {
    open: Mutex<HashMap<String, Cursor>>,
}

fn not_found(name: &str) -> EngineError {
    EngineError::new("34000", format!("cursor \"{name}\" does not exist"))
}

impl Cursors {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        self.open.lock().expect("cursors")
    }

    /// A cursor's result columns in `format`, for Describe; `None` when no
    /// such cursor is open.
    pub fn fields(&self, name: &str, format: &Format) -> Option<Vec<FieldInfo>> {
        let schema = Arc::clone(&self.open().get(name)?.schema);
        exec::fields_for(&schema, format)
            .ok()
            .map(|f| f.as_ref().clone())
    }

    /// Whether a cursor of that name is open, and declared `BINARY`.
    pub fn binary(&self, name: &str) -> Option<bool> {
        self.open().get(name).map(|c| c.binary)
    }

    /// The end of a transaction: cursors without hold close, and so do
    /// those declared in a transaction that rolls back.
    pub fn end_transaction(&self, commit: bool) {
        self.open()
            .retain(|_, c| c.hold && (commit || !c.uncommitted));
        for c in self.open().values_mut() {
            c.uncommitted = false;
        }
    }

    pub fn close_all(&self) {
        self.open().clear();
    }

    /// Runs a cursor command.
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &self,
        session: &Session,
        command: &sqlgate_engine::Command,
        plan: Option<LogicalPlan>,
        params: Option<ParamValues>,
        format: &Format,
        cx: Origin,
        stopper: Stopper,
        record: &mut Option<StatementRecord>,
    ) -> Result<Outcome, EngineError> {
        use sqlgate_engine::Command as C;
        match command {
            C::Declare(d) => {
                self.declare(session, d, plan, params, cx, stopper, record)
                    .await
            }
            C::Fetch(f) if f.skip => self.skip(session, f, stopper).await,
            C::Fetch(f) => self.fetch(session, f, format, cx, stopper, record),
            C::Close(Some(name)) => {
                self.open().remove(name).ok_or_else(|| not_found(name))?;
                Ok(Outcome::Tag("CLOSE CURSOR"))
            }
            C::Close(None) => {
                self.close_all();
                Ok(Outcome::Tag("CLOSE CURSOR ALL"))
            }
            _ => Err(EngineError::new(
                sqlgate_engine::sqlstate::INTERNAL_ERROR,
                "not a cursor command",
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn declare(
        &self,
        session: &Session,
        d: &Declare,
        plan: Option<LogicalPlan>,
        params: Option<ParamValues>,
        cx: Origin,
        mut stopper: Stopper,
        record: &mut Option<StatementRecord>,
    ) -> Result<Outcome, EngineError> {
        if !d.hold && !cx.in_block {
            return Err(EngineError::new(
                "25P01",
                "DECLARE CURSOR can only be used in transaction blocks",
            ));
        }
        // Checked before the query starts, and again when it is stored:
        // nothing else runs on the connection meanwhile.
        self.check_room(&d.name)?;
        let plan = match plan {
            Some(p) => p,
            None => stopper.run(session.plan(&d.statement)).await?,
        };
        let plan = match params {
            Some(p) => plan.with_param_values(p).map_err(EngineError::from)?,
            None => plan,
        };
        let schema = Arc::new(sqlgate_engine::naming::query_schema(
            &d.statement,
            plan.schema().as_arrow(),
        ));
        // Refuse a result the wire cannot encode now, not at the first FETCH.
        exec::fields_for(&schema, &Format::UnifiedText)?;
        if let Some(r) = record.as_mut() {
            r.read(sqlgate_engine::facts::facts(&plan));
        }
        let batches = stopper.run(session.execute(plan)).await?;
        self.check_room(&d.name)?;
        self.open().insert(
            d.name.clone(),
            Cursor {
                schema,
                binary: d.binary,
                hold: d.hold,
                uncommitted: cx.in_block,
                generation: session.generation(),
                position: Arc::new(tokio::sync::Mutex::new(Position {
                    batches,
                    pending: None,
                    done: false,
                })),
            },
        );
        Ok(Outcome::Tag("DECLARE CURSOR"))
    }

    fn check_room(&self, name: &str) -> Result<(), EngineError> {
        let open = self.open();
        if open.contains_key(name) {
            return Err(EngineError::new(
                "42P03",
                format!("cursor \"{name}\" already exists"),
            ));
        }
        if open.len() >= MAX_CURSORS {
            return Err(EngineError::new(
                sqlgate_engine::sqlstate::PROGRAM_LIMIT_EXCEEDED,
                format!("too many open cursors: at most {MAX_CURSORS} per connection"),
            ));
        }
        Ok(())
    }

    /// Takes a cursor's position for one FETCH or MOVE.
    fn position(
        &self,
        session: &Session,
        name: &str,
    ) -> Result<(OwnedMutexGuard<Position>, Arc<Schema>, bool), EngineError> {
        let mut open = self.open();
        let cursor = open.get(name).ok_or_else(|| not_found(name))?;
        if cursor.generation != session.generation() {
            // Planned under an access policy no longer in force: its rows
            // may be ones the account may not read any more.
            open.remove(name);
            return Err(EngineError::new(
                "34000",
                format!("cursor \"{name}\" was closed because the access policy changed"),
            ));
        }
        let position = Arc::clone(&cursor.position).try_lock_owned().map_err(|_| {
            EngineError::new(
                "55006",
                format!("cursor \"{name}\" is in use by a suspended portal"),
            )
        })?;
        Ok((position, Arc::clone(&cursor.schema), cursor.binary))
    }

    fn fetch(
        &self,
        session: &Session,
        f: &Fetch,
        format: &Format,
        cx: Origin,
        stopper: Stopper,
        record: &mut Option<StatementRecord>,
    ) -> Result<Outcome, EngineError> {
        let (position, schema, binary) = self.position(session, &f.name)?;
        let format = if cx.simple && binary {
            &Format::UnifiedBinary
        } else {
            format
        };
        let fields = exec::fields_for(&schema, format)?;
        let batches = Box::pin(FetchBatches {
            position,
            schema: Arc::clone(&schema),
            remaining: f.count,
        });
        // The same encoding as a plain query's rows.
        let rows = RowStream::new(batches, Arc::clone(&fields), stopper, record.take())
            .with_time_zone(&session.vars().time_zone());
        Ok(Outcome::Rows(Box::new(ResultRows {
            fields,
            tag: "FETCH",
            rows,
        })))
    }

    /// MOVE: advances without encoding a row.
    async fn skip(
        &self,
        session: &Session,
        f: &Fetch,
        mut stopper: Stopper,
    ) -> Result<Outcome, EngineError> {
        let (mut position, _, _) = self.position(session, &f.name)?;
        let moved = stopper
            .run(async {
                let mut moved = 0usize;
                loop {
                    let want = f
                        .count
                        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
                        - moved;
                    if want == 0 {
                        return Ok(moved);
                    }
                    if let Some((batch, used)) = &mut position.pending {
                        let k = want.min(batch.num_rows() - *used);
                        if k > 0 {
                            *used += k;
                            moved += k;
                            continue;
                        }
                    }
                    position.pending = None;
                    if position.done {
                        return Ok(moved);
                    }
                    match position.batches.next().await {
                        Some(Ok(batch)) => position.pending = Some((batch, 0)),
                        Some(Err(e)) => {
                            position.done = true;
                            return Err(classify(e));
                        }
                        None => position.done = true,
                    }
                }
            })
            .await?;
        Ok(Outcome::Count("MOVE", moved))
    }
}

/// The batches of one FETCH: slices of the cursor's batches, pulled as
/// the client reads rows, up to the count asked for. The cursor moves by a
/// whole slice when it is pulled, as PostgreSQL moves a cursor by the whole
/// FETCH even when an Execute row limit sends fewer rows.
struct FetchBatches {
    position: OwnedMutexGuard<Position>,
    schema: SchemaRef,
    /// Rows still to take; `None` for all.
    remaining: Option<u64>,
}

impl Stream for FetchBatches {
    type Item = datafusion::error::Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some((batch, used)) = &mut this.position.pending {
                let left = batch.num_rows() - *used;
                if left > 0 {
                    let take = this
                        .remaining
                        .map_or(left, |n| left.min(usize::try_from(n).unwrap_or(left)));
                    let slice = batch.slice(*used, take);
                    *used += take;
                    if let Some(n) = &mut this.remaining {
                        *n -= take as u64;
                    }
                    return Poll::Ready(Some(Ok(slice)));
                }
            }
            this.position.pending = None;
            if this.position.done {
                return Poll::Ready(None);
            }
            match this.position.batches.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.position.done = true,
                Poll::Ready(Some(Err(e))) => {
                    this.position.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(batch))) => this.position.pending = Some((batch, 0)),
            }
        }
    }
}

impl RecordBatchStream for FetchBatches {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
