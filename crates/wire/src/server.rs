//! The listener: accepts connections, caps how many are served at once,
//! negotiates TLS, bounds the time a client has to log in, and runs each
//! connection's message loop until it ends or the server shuts down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::SinkExt;
use pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{
    PgWireMessageServerCodec, negotiate_tls, process_error, process_message,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::Framed;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::Shared;
use crate::conn::{Conn, Handlers};
use crate::errors::error;
use crate::frame;

/// How much output is buffered before it is written to the socket.
const WRITE_CHUNK_BYTES: usize = 128 * 1024;

/// Serves connections from `listener` until `shutdown` completes. Then it
/// stops accepting, ends idle sessions (57P01), lets running statements
/// finish within the configured grace period, and returns.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let tracker = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => {
                drop(listener);
                shared.begin_shutdown();
                tracker.close();
                let open = tracker.len();
                if open > 0 {
                    tracing::info!(connections = open, grace = ?shared.config.shutdown_grace, "waiting for running statements");
                }
                if tokio::time::timeout(shared.config.shutdown_grace, tracker.wait()).await.is_err() {
                    warn!(connections = tracker.len(), "grace period over: closing the remaining connections");
                }
                return;
            }
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(10);
                pair
            }
            Err(e) => {
                // Out of file descriptors and the like: wait, don't spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let permit = Arc::clone(&slots).try_acquire_owned().ok();
        let shared = Arc::clone(&shared);
        tracker.spawn(async move {
            if let Err(e) = connection(socket, peer, shared, permit).await {
                debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Keeps the open-connections gauge true however the connection ends.
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics.connections_open.dec();
    }
}

/// Ends a session between statements with a FATAL notice.
/// Ends a session the way PostgreSQL does: one FATAL ErrorResponse, no
/// ReadyForQuery, then the connection closes. A peer already gone is fine.
async fn goodbye<S>(socket: &mut S, info: ErrorInfo) -> std::io::Result<()>
where
    S: futures::Sink<PgWireBackendMessage, Error = std::io::Error> + Unpin,
{
    let _ = socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await;
    Ok(())
}

fn fatal(code: &str, message: impl Into<String>) -> ErrorInfo {
    ErrorInfo::new("FATAL".into(), code.into(), message.into())
}

async fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    permit: Option<OwnedSemaphorePermit>,
) -> std::io::Result<()> {
    let startup_deadline = tokio::time::sleep(shared.config.startup_timeout);
    tokio::pin!(startup_deadline);
    let acceptor = shared.tls.as_ref().map(|t| t.acceptor.clone());
    let negotiated = tokio::select! {
        _ = &mut startup_deadline => return Ok(()),
        n = negotiate_tls(socket, acceptor) => n?,
    };
    let Some(mut socket) = negotiated else {
        return Ok(());
    };
    // Rows are written out once this much is buffered, not every 8 KiB
    // (the codec's default): a large result goes to TLS and the socket in
    // a few big writes instead of one system call and one short TLS record
    // per twenty rows.
    socket.set_backpressure_boundary(WRITE_CHUNK_BYTES);

    shared.metrics.connections.inc();
    shared.metrics.connections_open.inc();
    let _open = OpenConnection(Arc::clone(&shared));
    let conn = Conn::new(Arc::clone(&shared), peer);
    let handlers = Handlers::new(conn);
    let startup = handlers.startup_handler();
    let copy = handlers.copy_handler();
    let cancel = handlers.cancel_handler();
    let queries = handlers.queries();

    // From here on messages are read and framed here (see `next_message`),
    // starting with what the TLS negotiation read past its own messages.
    let mut inbox = std::mem::take(socket.read_buffer_mut());
    let mut stopping = shared.stopping.clone();
    loop {
        let logging_in = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let idle = async {
            match shared.config.idle_timeout {
                Some(t) if !logging_in => tokio::time::sleep(t).await,
                _ => std::future::pending().await,
            }
        };
        let message = tokio::select! {
            _ = &mut startup_deadline, if logging_in => {
                warn!(%peer, "login not completed in time");
                return Ok(());
            }
            _ = idle => {
                return goodbye(&mut socket, fatal("57P05", "terminating connection due to idle-session timeout")).await;
            }
            _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                return goodbye(&mut socket, fatal("57P01", "terminating connection due to administrator command")).await;
            }
            m = next_message(&mut socket, &mut inbox) => m,
        };
        let message = match message {
            Some(Ok(PgWireFrontendMessage::Terminate(_))) | None => return Ok(()),
            Some(Ok(m)) => m,
            Some(Err(PgWireError::UserError(info))) => return goodbye(&mut socket, *info).await,
            Some(Err(e)) => {
                // Garbage or an oversized message: say so and hang up.
                return goodbye(&mut socket, fatal("08P01", format!("invalid message: {e}"))).await;
            }
        };
        if permit.is_none() && matches!(message, PgWireFrontendMessage::Startup(_)) {
            return goodbye(
                &mut socket,
                fatal("53300", "sorry, too many clients already"),
            )
            .await;
        }
        if !logging_in
            && matches!(
                message,
                PgWireFrontendMessage::PasswordMessageFamily(_)
                    | PgWireFrontendMessage::Startup(_)
                    | PgWireFrontendMessage::SslNegotiation(_)
                    | PgWireFrontendMessage::CancelRequest(_)
            )
        {
            // Login messages on a logged-in session: PostgreSQL treats them
            // as an unknown message type and hangs up.
            return goodbye(
                &mut socket,
                fatal("08P01", "invalid frontend message type during a session"),
            )
            .await;
        }
        let extended_protocol = message.is_extended_query();
        let serving = matches!(
            socket.state(),
            PgWireConnectionState::ReadyForQuery | PgWireConnectionState::QueryInProgress
        );
        // Query and Execute are handled here, with the socket itself, so
        // that results go out in whole encoded batches; everything else
        // (and both messages outside a session, or while an extended-query
        // error waits for Sync) takes pgwire's way.
        let outcome = match message {
            PgWireFrontendMessage::Query(query) if serving => {
                queries.on_query_message(&mut socket, query).await
            }
            PgWireFrontendMessage::Execute(execute) if serving => {
                queries.on_execute_message(&mut socket, execute).await
            }
            message => {
                process_message(
                    message,
                    &mut socket,
                    Arc::clone(&startup),
                    Arc::clone(&queries),
                    Arc::clone(&queries),
                    Arc::clone(&copy),
                    Arc::clone(&cancel),
                )
                .await
            }
        };
        if let Err(e) = outcome {
            let e = as_postgresql_reports(e);
            let info = ErrorInfo::from(e);
            if info.is_fatal() {
                // pgwire would follow a FATAL error with ReadyForQuery.
                return goodbye(&mut socket, info).await;
            }
            process_error(
                &mut socket,
                PgWireError::UserError(Box::new(info)),
                extended_protocol,
            )
            .await?;
        }
    }
}

/// The next frontend message, `None` at the end of the stream. Messages are
/// cut at their declared length and checked before pgwire decodes them (see
/// [`frame`]); pgwire's codec, which reads past a message's length, only
/// ever sees the TLS negotiation. Cancel-safe: bytes read stay in `inbox`.
async fn next_message<T, S>(
    socket: &mut Framed<T, PgWireMessageServerCodec<S>>,
    inbox: &mut BytesMut,
) -> Option<Result<PgWireFrontendMessage, PgWireError>>
where
    T: AsyncRead + Unpin + 'static,
{
    loop {
        // The context pgwire's codec would decode in.
        let mut ctx = DecodeContext::new(socket.protocol_version());
        (ctx.awaiting_frontend_ssl, ctx.awaiting_frontend_startup) = match socket.state() {
            PgWireConnectionState::AwaitingSslRequest => (true, true),
            PgWireConnectionState::AwaitingStartup => (false, true),
            _ => (false, false),
        };
        match frame::decode(inbox, &ctx) {
            Ok(Some(message)) => return Some(Ok(message)),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        if inbox.capacity() - inbox.len() < 4096 {
            inbox.reserve(8192);
        }
        match socket.get_mut().read_buf(inbox).await {
            Ok(0) if inbox.is_empty() => return None,
            Ok(0) => {
                return Some(Err(crate::errors::fatal(
                    "08P01",
                    "incomplete message at the end of the stream",
                )));
            }
            Ok(_) => {}
            Err(e) => return Some(Err(e.into())),
        }
    }
}

/// pgwire reports unknown portals and statements alike as 26000;
/// PostgreSQL says 34000 (invalid_cursor_name) for a portal.
fn as_postgresql_reports(e: PgWireError) -> PgWireError {
    match e {
        PgWireError::PortalNotFound(name) => {
            error("34000", format!("portal \"{name}\" does not exist"))
        }
        PgWireError::StatementNotFound(name) => error(
            "26000",
            format!("prepared statement \"{name}\" does not exist"),
        ),
        other => other,
    }
}
