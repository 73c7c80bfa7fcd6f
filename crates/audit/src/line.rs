//! The on-disk line: how a record becomes bytes, and how a line's bytes are
//! taken apart again.
//!
//! This module owns the hash-chain arithmetic so that the writer and the
//! verifier share one definition of it. A line is
//!
//! ```text
//! {"seq":12,"ts":"…","prev":"<64 hex>","event":"query",…fields…,"hash":"<64 hex>"}\n
//! ```
//!
//! `body` is every byte of the line before `,"hash":`, and
//! `hash = SHA-256(prev || body)` with `prev` as its 64 ASCII hex digits.
//! The hash suffix has a fixed length, so the verifier finds `body` by
//! position and hashes the bytes exactly as written; nothing is
//! re-serialised, so no JSON formatting choice can make a good line fail or a
//! bad one pass.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// The `prev` of the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_OPEN: &[u8] = b",\"hash\":\"";
const HASH_CLOSE: &[u8] = b"\"}";
const HEX_LEN: usize = 64;
/// Length of `,"hash":"<64 hex>"}`.
const SUFFIX_LEN: usize = HASH_OPEN.len() + HEX_LEN + HASH_CLOSE.len();

/// The fields that precede the event's own, in this order.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    ts: &'a str,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// Appends the line for `event` (with its newline) to `out` and returns the
/// record's hash, which is the next record's `prev`.
pub(crate) fn encode(
    seq: u64,
    at: DateTime<Utc>,
    prev: &str,
    event: &Event,
    out: &mut Vec<u8>,
) -> String {
    let start = out.len();
    let ts = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let body = Body {
        seq,
        ts: &ts,
        prev,
        event,
    };
    // Serialising to memory fails only for maps with non-string keys or
    // failing `Serialize` impls; `Event` has neither (every variant is
    // covered by the tests).
    serde_json::to_writer(&mut *out, &body).expect("an audit event always serialises");
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    let hash = chain_hash(prev, &out[start..]);
    out.extend_from_slice(HASH_OPEN);
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(HASH_CLOSE);
    out.push(b'\n');
    hash
}

/// `hex(SHA-256(prev || body))`.
pub(crate) fn chain_hash(prev: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(body);
    hex(&hasher.finalize())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn is_hash(s: &[u8]) -> bool {
    s.len() == HEX_LEN && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The chain fields of one line, as written.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    /// The bytes the hash covers (with `prev`).
    pub body: &'a [u8],
}

/// The fields every record has. Event fields are not checked against the
/// current schema: integrity does not depend on them, and a log written by an
/// older or newer version must still verify.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    ts: String,
    prev: String,
    #[allow(dead_code)] // required to be present, not otherwise used
    event: String,
    hash: String,
}

/// Takes one line (without its newline) apart; `Err` says why it is not a
/// record.
pub(crate) fn parse(line: &[u8]) -> Result<Parsed<'_>, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    if !line.starts_with(b"{\"seq\":") {
        return Err("does not start with {\"seq\":".into());
    }
    if line.len() < SUFFIX_LEN + 1 {
        return Err("too short to hold a record".into());
    }
    let (body, suffix) = line.split_at(line.len() - SUFFIX_LEN);
    let (open, rest) = suffix.split_at(HASH_OPEN.len());
    let (hash, close) = rest.split_at(HEX_LEN);
    if open != HASH_OPEN || close != HASH_CLOSE || !is_hash(hash) {
        return Err("does not end with ,\"hash\":\"<64 lowercase hex digits>\"}".into());
    }
    let head: Head = serde_json::from_slice(line).map_err(|e| format!("not a JSON record: {e}"))?;
    if !is_hash(head.prev.as_bytes()) {
        return Err("prev is not 64 lowercase hex digits".into());
    }
    if DateTime::parse_from_rfc3339(&head.ts).is_err() {
        return Err(format!("ts {:?} is not an RFC 3339 time", head.ts));
    }
    // `Head` refuses duplicate keys, so the parsed hash is the suffix's.
    debug_assert_eq!(head.hash.as_bytes(), hash);
    Ok(Parsed {
        seq: head.seq,
        prev: head.prev,
        hash: head.hash,
        body,
    })
}

/// The `seq` of a line, if it has one; used only to explain a break.
pub(crate) fn seq_of(line: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(line).ok().map(|s| s.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{LoginMethod, Outcome};

    fn login() -> Event {
        Event::Login {
            account: "svc_powerbi".into(),
            peer: "10.1.2.3:51234".into(),
            method: LoginMethod::Scram,
            outcome: Outcome::Failure,
            reason: Some("bad credentials".into()),
        }
    }

    #[test]
    fn a_line_parses_back_and_its_hash_checks() {
        let mut out = Vec::new();
        let hash = encode(1, Utc::now(), GENESIS, &login(), &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let line = &out[..out.len() - 1];
        let text = std::str::from_utf8(line).unwrap();
        assert!(text.starts_with("{\"seq\":1,\"ts\":\""), "{text}");
        assert!(text.contains(&format!("\"prev\":\"{GENESIS}\",\"event\":\"login\",")));
        let parsed = parse(line).unwrap();
        assert_eq!(parsed.seq, 1);
        assert_eq!(parsed.prev, GENESIS);
        assert_eq!(parsed.hash, hash);
        assert_eq!(chain_hash(&parsed.prev, parsed.body), hash);
        assert!(!parsed.body.ends_with(b"}"));
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T13:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = Vec::new();
        encode(7, at, GENESIS, &login(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\"seq\":7,\"ts\":\"2026-11-22T13:00:00.123Z\","));
    }

    #[test]
    fn a_login_carries_no_secret_shaped_field() {
        let mut out = Vec::new();
        encode(1, Utc::now(), GENESIS, &login(), &mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account", "event", "hash", "method", "outcome", "peer", "prev", "reason", "seq",
                "ts"
            ]
        );
        for key in keys {
            for secret in [
                "pass",
                "secret",
                "verifier",
                "token",
                "proof",
                "credential",
                "key",
            ] {
                assert!(!key.contains(secret), "{key}");
            }
        }
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, why) in [
            (&b""[..], "empty"),
            (b"hello", "start"),
            (b"{\"seq\":1}", "short"),
            (
                b"{\"seq\":1,\"ts\":\"x\",\"prev\":\"0\",\"event\":\"login\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
                "prev",
            ),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
