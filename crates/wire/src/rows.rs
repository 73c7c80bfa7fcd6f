//! Arrow batches to DataRow messages, one batch at a time.
//!
//! The stream pulls the next batch from DataFusion only when pgwire asks for
//! the next row, and pgwire asks only when the socket's write buffer has
//! room: a slow client slows the query down instead of filling memory.
//! The stream also watches the statement's cancel token and deadline, so a
//! CancelRequest or `statement_timeout` stops a query that is already
//! sending rows.
//!
//! Each batch is encoded whole by [`BatchEncoder`] (one typed encoder per
//! column, all rows in one buffer). For a query's result this happens in a
//! task of its own, which also drives the DataFusion stream: while the
//! connection's task writes one batch's rows to the socket (framing, TLS,
//! system calls), the next batch is decoded and encoded on the other core. The hand-over channel holds one
//! batch, so at most three encoded batches exist at a time (one being
//! written, one waiting, one being encoded); dropping the stream (end,
//! error, cancel, client gone) aborts the task and the query under it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use pgwire::api::results::FieldInfo;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use sqlgate_engine::{EngineError, error::classify};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::encode::{BatchEncoder, Encoded};
use crate::errors;
use crate::observe::StatementRecord;

/// Why a statement stops early.
pub struct Stopper {
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Stopper {
    pub fn new(token: CancellationToken, deadline: Option<Instant>) -> Stopper {
        Stopper {
            cancelled: Box::pin(token.cancelled_owned()),
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        }
    }

    /// `Some(error)` once the statement must stop.
    pub fn poll_stop(&mut self, cx: &mut Context<'_>) -> Option<EngineError> {
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Some(EngineError::canceled());
        }
        let expired = self
            .deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready());
        expired.then(EngineError::timed_out)
    }

    /// Runs a future (planning, opening the stream) unless stopped first.
    pub async fn run<T>(
        &mut self,
        fut: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Some(e) = self.poll_stop(cx) {
                return Poll::Ready(Err(e));
            }
            fut.as_mut().poll(cx)
        })
        .await
    }
}

/// What the encoding task hands over.
enum Piece {
    Rows(Encoded),
    /// The query failed while producing batches.
    Failed(EngineError),
    /// A value could not be encoded.
    Unencodable(pgwire::error::PgWireError),
    /// Every batch was handed over. The channel closing without it means
    /// the task died: the result is incomplete and must not look whole.
    End,
}

/// Where rows come from.
enum Source {
    /// Batches pulled and encoded on the connection's task, when rows are
    /// asked for: a cursor's FETCH takes exactly the rows it sends.
    Inline {
        batches: SendableRecordBatchStream,
        encoder: BatchEncoder,
    },
    /// Handed to an encoding task when the first row is asked for.
    Ready {
        batches: SendableRecordBatchStream,
        encoder: BatchEncoder,
    },
    Running {
        pieces: mpsc::Receiver<Piece>,
        /// Sent batches' buffers, back to the encoding task for reuse.
        returns: std::sync::mpsc::Sender<Encoded>,
        task: JoinHandle<()>,
    },
    Finished,
}

/// A stream of DataRows from a stream of batches.
pub struct RowStream {
    source: Source,
    /// Encoded rows not yet taken.
    rows: Encoded,
    stopper: Stopper,
    done: bool,
    record: Option<StatementRecord>,
}

impl RowStream {
    pub(crate) fn new(
        batches: SendableRecordBatchStream,
        fields: Arc<Vec<FieldInfo>>,
        stopper: Stopper,
        record: Option<StatementRecord>,
    ) -> RowStream {
        RowStream {
            source: Source::Inline {
                batches,
                encoder: BatchEncoder::new(fields),
            },
            rows: Encoded::default(),
            stopper,
            done: false,
            record,
        }
    }

    /// The session time zone, for `timestamptz` values sent as text.
    pub(crate) fn with_time_zone(mut self, time_zone: &str) -> RowStream {
        self.source = match std::mem::replace(&mut self.source, Source::Finished) {
            Source::Inline { batches, encoder } => Source::Inline {
                batches,
                encoder: encoder.with_time_zone(time_zone),
            },
            other => other,
        };
        self
    }

    /// Decodes and encodes the next batch on another task while this one
    /// writes rows: for a query's whole result, not for a cursor, whose
    /// position must move only by the rows a FETCH takes.
    pub(crate) fn pipelined(mut self) -> RowStream {
        self.source = match std::mem::replace(&mut self.source, Source::Finished) {
            Source::Inline { batches, encoder } => Source::Ready { batches, encoder },
            other => other,
        };
        self
    }
}

/// Pulls batches, encodes them and hands them over, one waiting at most.
async fn encode_batches(
    mut batches: SendableRecordBatchStream,
    mut encoder: BatchEncoder,
    pieces: mpsc::Sender<Piece>,
    returned: std::sync::mpsc::Receiver<Encoded>,
) {
    while let Some(next) = batches.next().await {
        // Batches come back one per batch handed over, so at most one or
        // two wait here; the newest is taken.
        if let Some(sent) = returned.try_iter().last() {
            encoder.reuse(sent);
        }
        let (piece, last) = match next {
            Ok(batch) => match encoder.encode(&batch) {
                Ok(rows) => (Piece::Rows(rows), false),
                Err(e) => (Piece::Unencodable(e), true),
            },
            Err(e) => (Piece::Failed(classify(e)), true),
        };
        if pieces.send(piece).await.is_err() || last {
            return;
        }
    }
    let _ = pieces.send(Piece::End).await;
}

impl Drop for RowStream {
    fn drop(&mut self) {
        if let Source::Running { task, .. } = &self.source {
            task.abort();
        }
    }
}

impl RowStream {
    /// Ends the stream with an error, recording it.
    fn fail(&mut self, e: EngineError) -> pgwire::error::PgWireError {
        self.done = true;
        if let Some(mut r) = self.record.take() {
            r.finish(Some(e.code));
        }
        errors::engine(e)
    }
}

impl RowStream {
    /// Waits until encoded rows are at hand: `Some(Ok(()))` when they are,
    /// `None` at the end of the result.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Option<PgWireResult<()>>> {
        loop {
            if !self.rows.is_empty() {
                return Poll::Ready(Some(Ok(())));
            }
            if self.done {
                return Poll::Ready(None);
            }
            // Checked once a batch, before the next is asked for: a cancel
            // or timeout stops the result within one batch of rows, and
            // the rows in between cost no timer polls.
            if let Some(e) = self.stopper.poll_stop(cx) {
                return Poll::Ready(Some(Err(self.fail(e))));
            }
            if let Source::Inline { batches, encoder } = &mut self.source {
                match batches.poll_next_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => {
                        self.end();
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Some(Err(self.fail(classify(e)))));
                    }
                    Poll::Ready(Some(Ok(batch))) => match encoder.encode(&batch) {
                        Ok(rows) => {
                            self.rows = rows;
                            continue;
                        }
                        Err(e) => return Poll::Ready(Some(Err(self.unencodable(e)))),
                    },
                }
            }
            if matches!(self.source, Source::Ready { .. }) {
                let Source::Ready { batches, encoder } =
                    std::mem::replace(&mut self.source, Source::Finished)
                else {
                    unreachable!("matched above")
                };
                let (tx, rx) = mpsc::channel(1);
                let (returns, returned) = std::sync::mpsc::channel();
                self.source = Source::Running {
                    pieces: rx,
                    returns,
                    task: tokio::spawn(encode_batches(batches, encoder, tx, returned)),
                };
            }
            let Source::Running { pieces, .. } = &mut self.source else {
                self.done = true;
                return Poll::Ready(None);
            };
            match pieces.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    let e = EngineError::new(
                        sqlgate_engine::error::sqlstate::INTERNAL_ERROR,
                        "the result stream ended unexpectedly",
                    );
                    return Poll::Ready(Some(Err(self.fail(e))));
                }
                Poll::Ready(Some(Piece::End)) => {
                    self.end();
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Piece::Rows(rows))) => self.rows = rows,
                Poll::Ready(Some(Piece::Failed(e))) => {
                    return Poll::Ready(Some(Err(self.fail(e))));
                }
                Poll::Ready(Some(Piece::Unencodable(e))) => {
                    return Poll::Ready(Some(Err(self.unencodable(e))));
                }
            }
        }
    }

    /// The next batch of encoded rows, as whole DataRow messages: `None`
    /// at the end of the result.
    pub(crate) async fn next_rows(&mut self) -> Option<PgWireResult<Encoded>> {
        match std::future::poll_fn(|cx| self.poll_fill(cx)).await? {
            Ok(()) => {}
            Err(e) => return Some(Err(e)),
        }
        let rows = std::mem::take(&mut self.rows);
        if let Some(r) = &mut self.record {
            r.rows(rows.rows(), rows.bytes().len());
        }
        Some(Ok(rows))
    }

    /// Gives back rows taken with [`RowStream::next_rows`] once they are
    /// written out whole: their buffer holds a later batch.
    pub(crate) fn reuse(&mut self, sent: Encoded) {
        match &mut self.source {
            Source::Inline { encoder, .. } | Source::Ready { encoder, .. } => encoder.reuse(sent),
            // The task may have ended: the buffer is then simply dropped.
            Source::Running { returns, .. } => {
                let _ = returns.send(sent);
            }
            Source::Finished => {}
        }
    }

    /// The result ended whole.
    fn end(&mut self) {
        self.done = true;
        if let Some(mut r) = self.record.take() {
            r.finish(None);
        }
    }

    /// A value could not be encoded: the result ends with that error.
    fn unencodable(&mut self, e: pgwire::error::PgWireError) -> pgwire::error::PgWireError {
        self.done = true;
        if let Some(mut r) = self.record.take() {
            r.finish(Some("22000"));
        }
        e
    }
}

/// Row by row, for pgwire's portal and cursor machinery.
impl Stream for RowStream {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.poll_fill(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Some(Ok(()))) => {
                let row = this.rows.next_row().expect("rows are at hand");
                if let Some(r) = &mut this.record {
                    // The whole message, header included, as for a chunk.
                    r.rows(1, row.data.len() + crate::encode::DATA_ROW_HEADER);
                }
                Poll::Ready(Some(Ok(row)))
            }
        }
    }
}
