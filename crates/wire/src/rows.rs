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
//! column, all rows in one buffer) when its first row is asked for, so at
//! most one encoded batch is held at a time.

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
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::encode::BatchEncoder;
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

/// A stream of DataRows from a stream of batches.
pub struct RowStream {
    batches: SendableRecordBatchStream,
    encoder: BatchEncoder,
    rows: std::vec::IntoIter<DataRow>,
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
            batches,
            encoder: BatchEncoder::new(fields),
            rows: Vec::new().into_iter(),
            stopper,
            done: false,
            record,
        }
    }

    /// The session time zone, for `timestamptz` values sent as text.
    pub(crate) fn with_time_zone(mut self, time_zone: &str) -> RowStream {
        self.encoder = self.encoder.with_time_zone(time_zone);
        self
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

impl Stream for RowStream {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(e) = this.stopper.poll_stop(cx) {
                return Poll::Ready(Some(Err(this.fail(e))));
            }
            if let Some(row) = this.rows.next() {
                if let Some(r) = &mut this.record {
                    r.row(row.data.len());
                }
                return Poll::Ready(Some(Ok(row)));
            }
            match this.batches.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    if let Some(mut r) = this.record.take() {
                        r.finish(None);
                    }
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(this.fail(classify(e)))));
                }
                Poll::Ready(Some(Ok(batch))) => match this.encoder.encode(&batch) {
                    Ok(rows) => this.rows = rows.into_iter(),
                    Err(e) => {
                        this.done = true;
                        if let Some(mut r) = this.record.take() {
                            r.finish(Some("22000"));
                        }
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
        }
    }
}
