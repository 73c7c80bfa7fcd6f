//! Frontend messages cut at the length they declare, checked against the
//! layout PostgreSQL reads, and only then decoded by pgwire.
//!
//! pgwire's decoders use a message's length only to know when it has
//! arrived, then read the body from the whole read buffer: a message whose
//! fields run past its length takes bytes of the next message, one that
//! ends early leaves its rest to be read as the next message, a length under
//! 4 makes the password decoder underflow, and a body without the fields its
//! type needs (a Bind cut short) makes them panic. Here each message is
//! split off at its declared length and its body checked field by field, as
//! PostgreSQL does (every field present, nothing left over), so pgwire only
//! ever decodes the bytes one well-formed message declared. Anything else is
//! a protocol violation, 08P01, after which the connection closes.
//!
//! The SSLRequest / GSSENCRequest exchange before the startup packet stays
//! with pgwire's TLS negotiation; this covers the startup packet (or
//! CancelRequest) and every typed message after it.

use bytes::{Buf, BytesMut};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{DecodeContext, PgWireFrontendMessage};

use crate::errors::fatal;

/// The longest startup packet or CancelRequest, as in PostgreSQL (and
/// pgwire).
pub const MAX_STARTUP_PACKET: usize = 10_000;

/// The longest Query, Parse, Bind or CopyData message (pgwire's limit).
pub const MAX_LARGE_MESSAGE: usize = 0x3fff_fffe;

/// The longest message of any other type (pgwire's limit).
pub const MAX_SMALL_MESSAGE: usize = 10_000;

/// The CancelRequest code in place of a protocol version.
const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// The longest cancel key of protocol 3.2, in bytes.
const MAX_CANCEL_KEY: usize = 256;

fn violation(what: impl Into<String>) -> PgWireError {
    fatal("08P01", what.into())
}

fn invalid(kind: &str) -> PgWireError {
    violation(format!("invalid {kind} message format"))
}

/// The longest message of type `tag`; `None` for a type no frontend sends.
fn max_length(tag: u8) -> Option<usize> {
    match tag {
        b'Q' | b'P' | b'B' | b'd' => Some(MAX_LARGE_MESSAGE),
        b'E' | b'D' | b'C' | b'S' | b'H' | b'X' | b'c' | b'f' | b'p' => Some(MAX_SMALL_MESSAGE),
        _ => None,
    }
}

/// Decodes the next frontend message of `buf` in the connection state
/// `ctx` describes (as pgwire's server codec builds it): `Ok(None)` until
/// the whole message has arrived. A message that does not keep to its
/// declared length or its type's layout is an 08P01 error.
pub fn decode(
    buf: &mut BytesMut,
    ctx: &DecodeContext,
) -> PgWireResult<Option<PgWireFrontendMessage>> {
    if ctx.awaiting_frontend_ssl {
        // The SSL/GSS negotiation belongs to pgwire's TLS handshake.
        return PgWireFrontendMessage::decode(buf, ctx);
    }
    let typed = !ctx.awaiting_frontend_startup;
    let Some(mut frame) = split(buf, typed)? else {
        return Ok(None);
    };
    match PgWireFrontendMessage::decode(&mut frame, ctx)? {
        Some(message) if frame.is_empty() => Ok(Some(message)),
        // Unreachable for a message whose layout was checked.
        _ => Err(violation("invalid message format")),
    }
}

/// Splits the next whole message off `buf` (type byte, length and body),
/// once it has arrived and its layout is checked.
fn split(buf: &mut BytesMut, typed: bool) -> PgWireResult<Option<BytesMut>> {
    let offset = usize::from(typed);
    let Some(header) = buf.get(..offset + 4) else {
        return Ok(None);
    };
    let declared = i32::from_be_bytes([
        header[offset],
        header[offset + 1],
        header[offset + 2],
        header[offset + 3],
    ]);
    let (min, max, kind) = if typed {
        let tag = header[0];
        let max = max_length(tag)
            .ok_or_else(|| violation(format!("invalid frontend message type {tag}")))?;
        (4, max, "message")
    } else {
        (8, MAX_STARTUP_PACKET, "startup packet")
    };
    let len = usize::try_from(declared)
        .ok()
        .filter(|len| (min..=max).contains(len))
        .ok_or_else(|| violation(format!("invalid {kind} length {declared}")))?;
    if buf.len() < offset + len {
        return Ok(None);
    }
    let frame = buf.split_to(offset + len);
    let body = &frame[offset + 4..];
    if typed {
        check_typed(frame[0], body)?;
    } else {
        check_startup(body)?;
    }
    Ok(Some(frame))
}

/// A message body being read field by field.
struct Body<'a>(&'a [u8]);

impl Body<'_> {
    fn bytes(&mut self, n: usize) -> Option<()> {
        (self.0.len() >= n).then(|| self.0.advance(n))
    }

    fn cstring(&mut self) -> Option<()> {
        let nul = self.0.iter().position(|b| *b == 0)?;
        self.0.advance(nul + 1);
        Some(())
    }

    fn int16(&mut self) -> Option<u16> {
        (self.0.len() >= 2).then(|| self.0.get_u16())
    }

    fn int32(&mut self) -> Option<i32> {
        (self.0.len() >= 4).then(|| self.0.get_i32())
    }

    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

/// The body of a typed message holds exactly the fields of its type.
fn check_typed(tag: u8, body: &[u8]) -> PgWireResult<()> {
    let mut b = Body(body);
    let (ok, kind) = match tag {
        b'Q' => (b.cstring().and_then(|()| b.end()), "Query"),
        b'P' => (
            (|| {
                b.cstring()?;
                b.cstring()?;
                let types = b.int16()?;
                b.bytes(usize::from(types) * 4)?;
                b.end()
            })(),
            "Parse",
        ),
        b'B' => (
            (|| {
                b.cstring()?;
                b.cstring()?;
                let formats = b.int16()?;
                b.bytes(usize::from(formats) * 2)?;
                for _ in 0..b.int16()? {
                    // -1 is NULL; any other negative length is malformed.
                    match b.int32()? {
                        -1 => {}
                        n => b.bytes(usize::try_from(n).ok()?)?,
                    }
                }
                let formats = b.int16()?;
                b.bytes(usize::from(formats) * 2)?;
                b.end()
            })(),
            "Bind",
        ),
        b'E' => (
            (|| {
                b.cstring()?;
                b.int32()?;
                b.end()
            })(),
            "Execute",
        ),
        b'D' | b'C' => (
            (|| {
                b.bytes(1)?;
                b.cstring()?;
                b.end()
            })(),
            if tag == b'D' { "Describe" } else { "Close" },
        ),
        b'f' => (b.cstring().and_then(|()| b.end()), "CopyFail"),
        b'S' | b'H' | b'X' | b'c' => (b.end(), "message"),
        // CopyData and the password family (whose content the login checks)
        // are bytes of any length.
        _ => (Some(()), "message"),
    };
    ok.ok_or_else(|| invalid(kind))
}

/// A startup packet: protocol version, then name/value pairs of C strings
/// ended by an empty name; or a CancelRequest: code, process id, key.
fn check_startup(body: &[u8]) -> PgWireResult<()> {
    let mut b = Body(body);
    let code = b.int32().ok_or_else(|| invalid("startup packet"))?;
    if code == CANCEL_REQUEST_CODE {
        let key = body.len().saturating_sub(8);
        if body.len() < 8 || !(4..=MAX_CANCEL_KEY).contains(&key) {
            return Err(invalid("CancelRequest"));
        }
        return Ok(());
    }
    let pairs = (|| {
        while b.0.first()? != &0 {
            b.cstring()?;
            b.cstring()?;
        }
        b.bytes(1)?;
        b.end()
    })();
    pairs
        .ok_or_else(|| violation("invalid startup packet layout: expected terminator as last byte"))
}

#[cfg(test)]
mod tests {
    use pgwire::messages::ProtocolVersion;

    use super::*;

    fn context(typed: bool) -> DecodeContext {
        let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        ctx.awaiting_frontend_ssl = false;
        ctx.awaiting_frontend_startup = !typed;
        ctx
    }

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn decode_all(bytes: &[u8], typed: bool) -> PgWireResult<Vec<PgWireFrontendMessage>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(m) = decode(&mut buf, &context(typed))? {
            out.push(m);
        }
        Ok(out)
    }

    fn code(e: PgWireError) -> String {
        match e {
            PgWireError::UserError(info) => info.code,
            other => panic!("not a user error: {other:?}"),
        }
    }

    fn refused(bytes: &[u8], typed: bool) -> String {
        code(decode_all(bytes, typed).expect_err("refused"))
    }

    #[test]
    fn well_formed_messages_decode_one_by_one() {
        let mut bytes = message(b'Q', b"SELECT 1\0");
        bytes.extend(message(b'P', b"s1\0SELECT $1\0\0\x01\0\0\0\x17"));
        bytes.extend(message(
            b'B',
            b"\0s1\0\0\x01\0\x01\0\x02\0\0\0\x011\xff\xff\xff\xff\0\0",
        ));
        bytes.extend(message(b'D', b"P\0"));
        bytes.extend(message(b'E', b"\0\0\0\0\0"));
        bytes.extend(message(b'C', b"Ss1\0"));
        bytes.extend(message(b'H', b""));
        bytes.extend(message(b'S', b""));
        bytes.extend(message(b'p', b"SCRAM-SHA-256\0\xff\xff\xff\xff"));
        bytes.extend(message(b'X', b""));
        let messages = decode_all(&bytes, true).unwrap();
        assert_eq!(messages.len(), 10, "{messages:?}");
        match &messages[2] {
            PgWireFrontendMessage::Bind(b) => {
                assert_eq!(b.parameters.len(), 2);
                assert_eq!(b.parameters[0].as_deref(), Some(&b"1"[..]));
                assert_eq!(b.parameters[1], None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incomplete_messages_wait_for_the_rest() {
        let bytes = message(b'Q', b"SELECT 1\0");
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert!(decode(&mut buf, &context(true)).unwrap().is_none());
            assert_eq!(buf.len(), cut, "nothing consumed");
        }
    }

    /// Found by fuzzing: a Query declaring length 0 was decoded from the
    /// five bytes of its header, its text read from whatever followed.
    #[test]
    fn lengths_under_four_are_refused() {
        for len in [0u8, 1, 2, 3] {
            for tag in [b'Q', b'p', b'd', b'S', b'B'] {
                let mut bytes = vec![tag, 0, 0, 0, len];
                bytes.extend_from_slice(b"SS\0");
                assert_eq!(refused(&bytes, true), "08P01", "{tag} of length {len}");
            }
        }
        assert_eq!(refused(&[b'Q', 0x80, 0, 0, 0], true), "08P01");
        assert_eq!(refused(&[b'S', 0, 0, 0x27, 0x11], true), "08P01");
    }

    #[test]
    fn fields_never_run_into_the_next_message() {
        // A Query without its terminating NUL, then a well-formed one: the
        // first is refused, not read up to the NUL of the second.
        let mut bytes = message(b'Q', b"SELECT 1");
        bytes.extend(message(b'Q', b"SELECT 2\0"));
        assert_eq!(refused(&bytes, true), "08P01");
        // A Sync with a body.
        let mut bytes = message(b'S', b"Q");
        bytes.extend(message(b'Q', b"SELECT 2\0"));
        assert_eq!(refused(&bytes, true), "08P01");
    }

    #[test]
    fn short_bodies_are_refused_not_panics() {
        for (tag, body) in [
            (b'B', &b""[..]),
            (b'B', b"\0\0"),
            (b'B', b"\0\0\0\x02\0"),
            (b'B', b"\0\0\0\0\0\x01\0\0\0\x09abc\0\0"),
            (b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"),
            (b'B', b"\0\0\0\0\0\0\0\x03\0\0"),
            (b'P', b""),
            (b'P', b"s\0q\0\0\x02\0\0\0\x17"),
            (b'E', b"\0\0\0"),
            (b'E', b""),
            (b'D', b""),
            (b'D', b"S"),
            (b'C', b""),
            (b'f', b"oops"),
            (b'Q', b""),
            (b'Q', b"SELECT 1\0\0"),
        ] {
            assert_eq!(
                refused(&message(tag, body), true),
                "08P01",
                "{tag} {body:?}"
            );
        }
    }

    #[test]
    fn unknown_types_are_refused_at_once() {
        for tag in [b'z', 0, 0xff, b'R', b'T', b'F'] {
            // Refused from the header alone, without waiting for the body.
            let mut buf = BytesMut::from(&[tag, 0, 0, 0, 100][..]);
            assert_eq!(code(decode(&mut buf, &context(true)).unwrap_err()), "08P01");
        }
    }

    fn packet(body: &[u8]) -> Vec<u8> {
        let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn startup_packets() {
        let ok = packet(b"\0\x03\0\0user\0alice\0database\0db\0\0");
        match decode_all(&ok, false).unwrap().as_slice() {
            [PgWireFrontendMessage::Startup(s)] => {
                assert_eq!(s.parameters.get("user").map(String::as_str), Some("alice"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            packet(b"\0\x03\0\0user\0alice\0"),
            packet(b"\0\x03\0\0user\0alice"),
            packet(b"\0\x03\0\0user\0\0"),
            packet(b"\0\x03\0\0\0\0"),
            packet(b"\0\x03"),
            packet(b""),
            vec![0, 0, 0, 0],
            vec![0, 0, 0, 3, 0, 3, 0, 0],
            vec![0, 0, 0x27, 0x11, 0, 3, 0, 0],
            vec![0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0],
        ] {
            assert_eq!(refused(&bad, false), "08P01", "{bad:?}");
        }
    }

    #[test]
    fn cancel_requests() {
        let code = CANCEL_REQUEST_CODE.to_be_bytes();
        let ok = packet(&[&code[..], &[0, 0, 0, 1, 0, 0, 0, 2]].concat());
        assert!(matches!(
            decode_all(&ok, false).unwrap().as_slice(),
            [PgWireFrontendMessage::CancelRequest(_)]
        ));
        for bad in [
            packet(&code),
            packet(&[&code[..], &[0, 0, 0, 1]].concat()),
            packet(&[&code[..], &[0, 0, 0, 1, 0, 0, 2]].concat()),
            packet(&[&code[..], &[0; 4 + MAX_CANCEL_KEY + 1]].concat()),
        ] {
            assert_eq!(refused(&bad, false), "08P01", "{bad:?}");
        }
    }
}
