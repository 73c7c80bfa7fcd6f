//! Decoding of the SASL messages a client sends during login.
//!
//! pgwire's own decoders trust the lengths inside the message body and panic
//! on a short or lying one (a SASLInitialResponse whose data length runs past
//! the message). A login exchange is the one place an anonymous peer controls
//! every byte, so these decoders check every length and answer 08P01.

use bytes::Buf;
#[cfg(test)]
use bytes::BytesMut;
use pgwire::error::PgWireError;
use pgwire::messages::startup::{PasswordMessageFamily, SASLInitialResponse, SASLResponse};

use crate::errors::fatal;

fn malformed(what: &str) -> PgWireError {
    fatal("08P01", format!("malformed SASL message: {what}"))
}

/// A SASLInitialResponse: mechanism name (C string), data length (Int32,
/// -1 for none), data.
pub fn initial_response(msg: PasswordMessageFamily) -> Result<SASLInitialResponse, PgWireError> {
    let mut body = match msg {
        PasswordMessageFamily::Raw(body) => body,
        PasswordMessageFamily::SASLInitialResponse(m) => return Ok(m),
        _ => return Err(malformed("expected a SASLInitialResponse")),
    };
    let nul = body
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| malformed("mechanism name is not terminated"))?;
    let name = body.split_to(nul);
    body.advance(1);
    let auth_method =
        String::from_utf8(name.to_vec()).map_err(|_| malformed("mechanism name is not UTF-8"))?;
    if body.len() < 4 {
        return Err(malformed("data length missing"));
    }
    let len = body.get_i32();
    let data = match len {
        -1 => None,
        n if n >= 0 && n as usize == body.len() => Some(body.freeze()),
        _ => return Err(malformed("data length does not match the message")),
    };
    Ok(SASLInitialResponse::new(auth_method, data))
}

/// A SASLResponse: the rest of the message is the data.
pub fn response(msg: PasswordMessageFamily) -> Result<SASLResponse, PgWireError> {
    match msg {
        PasswordMessageFamily::Raw(body) => Ok(SASLResponse::new(body.freeze())),
        PasswordMessageFamily::SASLResponse(m) => Ok(m),
        _ => Err(malformed("expected a SASLResponse")),
    }
}

/// Longest password (or bearer token sent as one) accepted, in bytes.
/// Tokens of real identity providers stay well under this.
pub const MAX_PASSWORD: usize = 16 * 1024;

/// A PasswordMessage: one NUL-terminated UTF-8 string and nothing after.
pub fn password(msg: PasswordMessageFamily) -> Result<String, PgWireError> {
    let malformed = |what: &str| fatal("08P01", format!("malformed password message: {what}"));
    let body = match msg {
        PasswordMessageFamily::Raw(body) => body,
        PasswordMessageFamily::Password(p) => return Ok(p.password),
        _ => return Err(malformed("expected a password")),
    };
    let Some((&0, text)) = body.split_last() else {
        return Err(malformed("not terminated"));
    };
    if text.contains(&0) {
        return Err(malformed("data after the password"));
    }
    if text.len() > MAX_PASSWORD {
        return Err(malformed("too long"));
    }
    String::from_utf8(text.to_vec()).map_err(|_| malformed("not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: &[u8]) -> PasswordMessageFamily {
        PasswordMessageFamily::Raw(BytesMut::from(bytes))
    }

    #[test]
    fn well_formed_initial_response() {
        let m = initial_response(raw(b"SCRAM-SHA-256\0\0\0\0\x03abc")).unwrap();
        assert_eq!(m.auth_method, "SCRAM-SHA-256");
        assert_eq!(m.data.as_deref(), Some(&b"abc"[..]));
        let m = initial_response(raw(b"SCRAM-SHA-256\0\xff\xff\xff\xff")).unwrap();
        assert_eq!(m.data, None);
    }

    #[test]
    fn lying_lengths_are_refused_not_panics() {
        for bytes in [
            &b""[..],
            b"SCRAM-SHA-256",
            b"SCRAM-SHA-256\0",
            b"SCRAM-SHA-256\0\0\0",
            b"SCRAM-SHA-256\0\0\0\0\x09abc",
            b"SCRAM-SHA-256\0\0\0\0\x01abc",
            b"SCRAM-SHA-256\0\xff\xff\xff\xfeabc",
            b"SCRAM-SHA-256\0\x80\0\0\0",
        ] {
            assert!(initial_response(raw(bytes)).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn password_messages_are_checked() {
        assert_eq!(password(raw(b"secret\0")).unwrap(), "secret");
        assert_eq!(password(raw(b"\0")).unwrap(), "");
        for bad in [&b""[..], b"secret", b"sec\0ret\0", b"\xff\xfe\0"] {
            let e = password(raw(bad)).unwrap_err();
            assert!(format!("{e:?}").contains("08P01"), "{bad:?}: {e:?}");
        }
        let mut long = vec![b'a'; MAX_PASSWORD + 1];
        long.push(0);
        assert!(password(raw(&long)).is_err());
    }
}
