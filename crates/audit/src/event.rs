//! What can be audited: one closed enum of events, each with typed fields.
//!
//! This module owns the vocabulary of the log. Every field is a plain string,
//! number, list of strings or small enum, chosen by the variant: there is no
//! free-form payload (`serde_json::Value`, maps, "details" blobs), so a
//! password, SCRAM verifier, client proof or bearer token cannot reach the log
//! unless someone adds a field for it here, in review.

use serde::{Deserialize, Serialize};

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// How a client tried to authenticate. Only the method's name is recorded,
/// never the material it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// SCRAM-SHA-256 or SCRAM-SHA-256-PLUS.
    Scram,
    /// A TLS client certificate.
    Certificate,
    /// A bearer token.
    Token,
}

/// One audit event. On disk it is flattened into the record, with
/// `"event": "<snake_case variant name>"` followed by the variant's fields in
/// declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A login attempt, successful or not. `account` is the name the client
    /// presented (it may not exist); `reason` says why a login failed.
    Login {
        account: String,
        peer: String,
        method: LoginMethod,
        outcome: Outcome,
        reason: Option<String>,
    },
    /// A connection refused by an access policy, before or after the account
    /// was known; `reason` names the policy (or the absence of one).
    AccessBlocked {
        account: Option<String>,
        peer: String,
        reason: String,
    },
    /// A statement refused because the account exceeded its rate limit.
    RateLimited {
        account: String,
        peer: String,
        limit: u64,
        /// RFC 3339.
        reset_at: String,
    },
    /// A statement that named a table the account may not see.
    TableDenied {
        account: String,
        peer: String,
        table: String,
    },
    /// Fields of a table that were absent or masked for the account.
    FieldsMasked {
        account: String,
        peer: String,
        table: String,
        fields: Vec<String>,
    },
    /// One executed (or failed) statement. The text itself is never
    /// recorded, only [`statement_digest`](crate::statement_digest) of it.
    Query {
        account: String,
        peer: String,
        digest: String,
        tables: Vec<String>,
        rows: u64,
        bytes: u64,
        duration_ms: u64,
        outcome: Outcome,
        sqlstate: Option<String>,
    },
    /// The policy file was reloaded, or a reload was refused.
    PolicyReload {
        outcome: Outcome,
        detail: String,
    },
    ServerStart {
        version: String,
    },
    ServerStop {
        reason: String,
    },
}

impl Event {
    /// The value of the record's `event` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Login { .. } => "login",
            Event::AccessBlocked { .. } => "access_blocked",
            Event::RateLimited { .. } => "rate_limited",
            Event::TableDenied { .. } => "table_denied",
            Event::FieldsMasked { .. } => "fields_masked",
            Event::Query { .. } => "query",
            Event::PolicyReload { .. } => "policy_reload",
            Event::ServerStart { .. } => "server_start",
            Event::ServerStop { .. } => "server_stop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_the_serialised_tag() {
        let events = [
            Event::PolicyReload {
                outcome: Outcome::Failure,
                detail: "line 3: unknown role".into(),
            },
            Event::AccessBlocked {
                account: None,
                peer: "10.0.0.1:5000".into(),
                reason: "no access policy allows 10.0.0.1".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["event"], event.kind());
            let back: Event = serde_json::from_value(json).unwrap();
            assert_eq!(back, event);
        }
    }
}
