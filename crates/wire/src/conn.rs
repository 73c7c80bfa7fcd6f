//! One connection: its authentication state, its session once logged in,
//! and the handler objects pgwire calls. Everything here lives and dies
//! with the socket; nothing is shared with other connections except through
//! [`Shared`].

use std::net::SocketAddr;
use std::sync::Arc;

use pgwire::api::PgWireServerHandlers;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use sqlgate_engine::Session;
use tokio::sync::Mutex;

use crate::Shared;
use crate::cancel::{CancelSlot, Canceller, Registration};
use crate::query::QueryHandler;
use crate::scram::ServerFirst;
use crate::startup::Startup;

/// Where the login exchange stands.
pub(crate) enum Auth {
    /// Waiting for the startup packet.
    Start,
    /// SASL mechanisms offered; waiting for the client-first message.
    Offered {
        user: String,
    },
    /// Server-first sent; waiting for the client-final message.
    Challenged {
        user: String,
        state: Box<ServerFirst>,
    },
    /// A whole password (or a bearer token as the password) was asked for.
    PasswordAsked {
        user: String,
    },
    /// OAUTHBEARER: the error challenge was sent (RFC 7628 §3.2.2); the
    /// client must answer with a lone %x01, then the login fails. `reason`
    /// is why the token was refused and the metrics label for it, `None`
    /// for a discovery request.
    TokenRefused {
        user: String,
        reason: Option<(String, &'static str)>,
    },
    Done,
}

/// The state of one connection.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub peer: SocketAddr,
    pub auth: Mutex<Auth>,
    /// Present once the account has logged in.
    pub session: Mutex<Option<Session>>,
    pub cancel: Arc<CancelSlot>,
    pub registration: std::sync::Mutex<Option<Registration>>,
}

impl Conn {
    pub fn new(shared: Arc<Shared>, peer: SocketAddr) -> Arc<Conn> {
        Arc::new(Conn {
            shared,
            peer,
            auth: Mutex::new(Auth::Start),
            session: Mutex::new(None),
            cancel: Arc::default(),
            registration: std::sync::Mutex::new(None),
        })
    }
}

/// The handler set pgwire asks for, made per connection.
pub(crate) struct Handlers {
    startup: Arc<Startup>,
    query: Arc<QueryHandler>,
    cancel: Arc<Canceller>,
}

impl Handlers {
    pub fn new(conn: Arc<Conn>) -> Handlers {
        Handlers {
            cancel: Arc::new(Canceller(Arc::clone(&conn.shared.cancels))),
            startup: Arc::new(Startup::new(Arc::clone(&conn))),
            query: Arc::new(QueryHandler::new(conn)),
        }
    }

    /// The query handler itself, for the messages the connection loop
    /// hands it directly.
    pub fn queries(&self) -> Arc<QueryHandler> {
        Arc::clone(&self.query)
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.query)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.query)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}
