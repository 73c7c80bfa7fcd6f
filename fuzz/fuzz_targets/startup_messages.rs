//! Arbitrary bytes decoded as frontend messages the way the server reads
//! them (`sqlgate_wire::frame::decode`: the SSL/GSS negotiation by pgwire's
//! decoder, everything after it cut at its declared length and checked
//! before pgwire decodes it), starting in every connection state and
//! moving through the states as the decoded messages would move a
//! connection: awaiting the SSLRequest, awaiting the startup packet,
//! authentication and queries. Password-family messages are also read in
//! the three forms the login reads (password, SASLInitialResponse,
//! SASLResponse) with the login's own decoders.
//!
//! Never panics, never loops without consuming input, consumes exactly
//! the length each message declares, and never decodes
//! more elements than the bytes consumed can hold (nothing is allocated
//! from a count the input merely claims). Run with `-malloc_limit_mb` to
//! catch single oversized allocations as well.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{
    DecodeContext, PgWireFrontendMessage, ProtocolVersion, SslNegotiationMetaMessage,
};

/// The connection states the server's codec distinguishes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    AwaitingSslRequest,
    AwaitingStartup,
    /// Authentication in progress or ready for queries: typed messages.
    Typed,
}

fn context(state: State, version: ProtocolVersion) -> DecodeContext {
    let mut ctx = DecodeContext::new(version);
    match state {
        State::AwaitingSslRequest => {
            ctx.awaiting_frontend_ssl = true;
            ctx.awaiting_frontend_startup = true;
        }
        State::AwaitingStartup => {
            ctx.awaiting_frontend_ssl = false;
            ctx.awaiting_frontend_startup = true;
        }
        State::Typed => {
            ctx.awaiting_frontend_ssl = false;
            ctx.awaiting_frontend_startup = false;
        }
    }
    ctx
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let mut state = match selector % 3 {
        0 => State::AwaitingSslRequest,
        1 => State::AwaitingStartup,
        _ => State::Typed,
    };
    let mut version = match (selector / 3) % 2 {
        0 => ProtocolVersion::PROTOCOL3_0,
        _ => ProtocolVersion::PROTOCOL3_2,
    };
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.len();
        // The length the message claims (after its type byte, if typed).
        let offset = usize::from(state == State::Typed);
        let declared = buf
            .get(offset..offset + 4)
            .map(|b| i32::from_be_bytes(b.try_into().unwrap()));
        let ctx = context(state, version);
        let message = match sqlgate_wire::frame::decode(&mut buf, &ctx) {
            Ok(Some(m)) => m,
            // Incomplete (the server waits for more) or refused (the server
            // answers 08P01 and hangs up): either way this input is done.
            Ok(None) | Err(_) => return,
        };
        let consumed = before - buf.len();
        check_bounded(&message, consumed);
        // A message ends where its length says: never short of it (bytes of
        // this message read as the next one) nor past it (bytes of the next
        // message read as part of this one). The exception is pgwire's TLS
        // negotiation, which the server does not frame itself: it reads an
        // SSLRequest or GSSENCRequest as its fixed 8 bytes whatever length
        // it declares (PostgreSQL skips the extra bytes instead); what
        // follows is then read as the TLS handshake or the startup packet.
        if let PgWireFrontendMessage::SslNegotiation(
            SslNegotiationMetaMessage::PostgresSsl(_) | SslNegotiationMetaMessage::PostgresGss(_),
        ) = message
        {
            assert_eq!(consumed, 8, "an SSL/GSS request consumed {consumed} bytes");
        } else if !matches!(
            message,
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None)
        ) {
            let declared = declared.expect("decoded without a length");
            assert_eq!(
                Ok(consumed),
                usize::try_from(declared).map(|d| d + offset),
                "{state:?}: a message of declared length {declared} consumed {consumed} bytes"
            );
        }
        let next = match &message {
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None) => {
                // Not an SSL/GSS request: nothing consumed, the server
                // moves on to reading the startup packet.
                assert_eq!(consumed, 0, "the SSL probe consumed input");
                assert_eq!(state, State::AwaitingSslRequest);
                State::AwaitingStartup
            }
            PgWireFrontendMessage::SslNegotiation(_) => State::AwaitingStartup,
            PgWireFrontendMessage::Startup(startup) => {
                version = ProtocolVersion::from_version_number(
                    startup.protocol_number_major,
                    startup.protocol_number_minor,
                )
                .unwrap_or(ProtocolVersion::PROTOCOL3_2);
                State::Typed
            }
            // The server answers a cancel request and hangs up.
            PgWireFrontendMessage::CancelRequest(_) => return,
            PgWireFrontendMessage::Terminate(_) => return,
            _ => State::Typed,
        };
        if let PgWireFrontendMessage::PasswordMessageFamily(PasswordMessageFamily::Raw(body)) =
            message
        {
            // The login decodes these with its own length-checking decoders
            // (pgwire's panic on a lying data length).
            let _ = sqlgate_wire::sasl::password(PasswordMessageFamily::Raw(body.clone()));
            let _ = sqlgate_wire::sasl::response(PasswordMessageFamily::Raw(body.clone()));
            if let Ok(initial) = sqlgate_wire::sasl::initial_response(PasswordMessageFamily::Raw(body)) {
                let data = initial.data.map_or(0, |d| d.len());
                assert!(data <= consumed);
            }
        }
        // Progress: every round consumes input or changes the state.
        assert!(
            consumed > 0 || next != state,
            "decoder made no progress in {state:?}"
        );
        state = next;
    }
});

/// Text is decoded lossily: one invalid byte becomes U+FFFD, three bytes.
const LOSSY: usize = 3;

/// The decoded message holds no more elements than `consumed` bytes can.
fn check_bounded(message: &PgWireFrontendMessage, consumed: usize) {
    match message {
        PgWireFrontendMessage::Parse(p) => {
            assert!(p.type_oids.len() * 4 <= consumed, "Parse: {} types", p.type_oids.len());
            assert!(p.query.len() <= LOSSY * consumed);
        }
        PgWireFrontendMessage::Bind(b) => {
            assert!(b.parameter_format_codes.len() * 2 <= consumed);
            assert!(b.parameters.len() * 4 <= consumed, "Bind: {} parameters", b.parameters.len());
            assert!(b.result_column_format_codes.len() * 2 <= consumed);
            let bytes: usize = b.parameters.iter().flatten().map(|p| p.len()).sum();
            assert!(bytes <= consumed);
        }
        PgWireFrontendMessage::Query(q) => assert!(q.query.len() <= LOSSY * consumed),
        PgWireFrontendMessage::Startup(s) => {
            let text: usize = s.parameters.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(text <= LOSSY * consumed);
        }
        PgWireFrontendMessage::CopyData(c) => assert!(c.data.len() <= consumed),
        _ => {}
    }
}
