//! The audit log: an append-only, hash-chained record of logins, refusals,
//! masked fields, queries, policy reloads and server starts and stops.
//!
//! - [`event`] owns what can be recorded ([`Event`]);
//! - `line` owns the on-disk line and the hash-chain arithmetic;
//! - [`verify`](mod@verify) owns the chain's rules and reports the first
//!   broken record;
//! - `writer` owns the file: [`AuditLog`] handles feed one writer task.
//!
//! # On disk
//!
//! JSON lines, appended (`O_APPEND`), one record per line:
//!
//! ```text
//! {"seq":12,"ts":"2026-11-22T13:00:00.123Z","prev":"<hex>","event":"query",…,"hash":"<hex>"}
//! ```
//!
//! `seq` counts from 1. `prev` is the previous record's `hash` (64 zeros for
//! the first record). `hash` is the hex SHA-256 of `prev` (its 64 hex
//! digits) followed by `body`, the exact bytes of the line before
//! `,"hash":`. Verification hashes the bytes as written, so editing any byte,
//! removing, reordering or inserting records breaks the chain at that line.
//!
//! # No secrets, by construction
//!
//! An [`Event`] is a closed enum whose variants carry named, typed fields:
//! account names, peer addresses, table and field names, counts, outcomes,
//! SQLSTATEs and a digest of the statement. None of them is a password,
//! SCRAM verifier or proof, certificate key or bearer token, and there is no
//! free-form payload (no `serde_json::Value`, no map) through which one could
//! be passed. Statement text is never written: [`statement_digest`] is.

pub mod event;
mod line;
pub mod verify;
mod writer;

pub use event::{Event, LoginMethod, Outcome};
pub use verify::{Breach, Report, VerifyError, verify};
pub use writer::{AuditError, AuditLog, BATCH_BYTES};

/// Hex SHA-256 of the statement text, as sent by the client: what the log
/// records in place of the text, so equal statements can be correlated
/// without exposing literals in them.
pub fn statement_digest(sql: &str) -> String {
    use sha2::{Digest, Sha256};
    line::hex(&Sha256::digest(sql.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            super::statement_digest("SELECT 1"),
            "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5"
        );
    }
}
