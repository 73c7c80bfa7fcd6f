//! Result rows onto the connection, a batch of DataRow messages at a time.
//!
//! pgwire sends a result message by message: each DataRow goes through the
//! sink's readiness check and the codec, which copies it into the write
//! buffer. The encoder already lays out whole messages, so here a batch's
//! bytes are queued in one copy, or, when the batch alone fills the write
//! buffer, written straight to the stream (after what was queued before
//! it) without being copied at all.

use std::future::Future;
use std::io;
use std::sync::Arc;

use futures::{Sink, SinkExt};
use pgwire::api::results::{FieldInfo, QueryResponse, Tag};
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::RowDescription;
use pgwire::tokio::server::PgWireMessageServerCodec;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Framed;

use crate::rows::RowStream;

/// A connection that takes encoded DataRow messages as they are: pgwire's
/// client (the bounds its handlers ask for) with batch writes.
pub(crate) trait RowSink:
    ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync
{
    /// Queues whole DataRow messages after everything sent before, writing
    /// out once enough is buffered.
    fn put_rows(&mut self, rows: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
}

impl<T, S> RowSink for Framed<T, PgWireMessageServerCodec<S>>
where
    T: AsyncWrite + Unpin + Send + Sync + 'static,
    S: Send + Sync,
{
    async fn put_rows(&mut self, rows: &[u8]) -> io::Result<()> {
        let boundary = self.backpressure_boundary();
        if rows.len() >= boundary {
            SinkExt::<PgWireBackendMessage>::flush(self).await?;
            let stream = self.get_mut();
            stream.write_all(rows).await?;
            return stream.flush().await;
        }
        self.write_buffer_mut().extend_from_slice(rows);
        if self.write_buffer().len() >= boundary {
            SinkExt::<PgWireBackendMessage>::flush(self).await?;
        }
        Ok(())
    }
}

/// A query's result on its way: what the rows are, and the rows.
pub(crate) struct ResultRows {
    pub fields: Arc<Vec<FieldInfo>>,
    /// The command tag (`SELECT`, `FETCH`), completed with the row count.
    pub tag: &'static str,
    pub rows: RowStream,
}

impl ResultRows {
    pub fn new(fields: Arc<Vec<FieldInfo>>, rows: RowStream) -> ResultRows {
        ResultRows {
            fields,
            tag: "SELECT",
            rows,
        }
    }

    /// For pgwire's message-by-message senders (suspended portals).
    pub fn into_response(self) -> QueryResponse {
        let mut response = QueryResponse::new(self.fields, self.rows);
        response.set_command_tag(self.tag);
        response
    }

    /// Sends the whole result: the row description when `describe` (the
    /// simple protocol; Describe did it in the extended one), every row,
    /// then CommandComplete. Nothing is flushed at the end: the request's
    /// ReadyForQuery (or the client's Sync) does that.
    pub async fn send<C>(mut self, client: &mut C, describe: bool) -> PgWireResult<()>
    where
        C: RowSink,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if describe {
            let description = RowDescription::new(self.fields.iter().map(Into::into).collect());
            client
                .feed(PgWireBackendMessage::RowDescription(description))
                .await?;
        }
        let mut sent = 0;
        while let Some(rows) = self.rows.next_rows().await {
            let rows = rows?;
            client.put_rows(rows.bytes()).await?;
            sent += rows.rows();
            self.rows.reuse(rows);
        }
        let tag = Tag::new(self.tag).with_rows(sent);
        client
            .feed(PgWireBackendMessage::CommandComplete(tag.into()))
            .await?;
        Ok(())
    }
}
