//! What one statement did, for the metrics and the audit log: who ran it,
//! from where, its digest, the tables it read, the rows and bytes sent, how
//! long it took and how it ended. A statement's record is written exactly
//! once — when it completes, fails, or is dropped (client gone).

use std::sync::Arc;
use std::time::Instant;

use crate::Shared;
use crate::metrics::Outcome;

/// One statement in flight.
pub(crate) struct StatementRecord {
    shared: Arc<Shared>,
    pub account: String,
    pub peer: String,
    pub digest: String,
    pub tables: Vec<String>,
    started: Instant,
    rows: u64,
    bytes: u64,
    done: bool,
}

impl StatementRecord {
    pub fn begin(shared: &Arc<Shared>, account: &str, peer: &str, sql: &str) -> StatementRecord {
        StatementRecord {
            shared: Arc::clone(shared),
            account: account.to_owned(),
            peer: peer.to_owned(),
            digest: sqlgate_audit::statement_digest(sql),
            tables: Vec::new(),
            started: Instant::now(),
            rows: 0,
            bytes: 0,
            done: false,
        }
    }

    /// Notes the tables the statement reads and the masked fields it
    /// touches (audited now: a masked field is reported even if the
    /// statement later fails).
    pub fn read(&mut self, facts: sqlgate_engine::facts::QueryFacts) {
        for (table, fields) in facts.masked {
            self.shared.audit(sqlgate_audit::Event::FieldsMasked {
                account: self.account.clone(),
                peer: self.peer.clone(),
                table,
                fields,
            });
        }
        self.tables = facts.tables;
    }

    /// Counts rows sent and the bytes of their DataRow messages.
    pub fn rows(&mut self, rows: usize, bytes: usize) {
        self.rows += rows as u64;
        self.bytes += bytes as u64;
    }

    /// Records the end: `None` for success, else the SQLSTATE.
    pub fn finish(&mut self, sqlstate: Option<&str>) {
        if self.done {
            return;
        }
        self.done = true;
        let m = &self.shared.metrics;
        let elapsed = self.started.elapsed();
        m.statement_seconds.observe(elapsed.as_secs_f64());
        m.rows.inc_by(self.rows);
        m.bytes.inc_by(self.bytes);
        let outcome = if sqlstate.is_none() { "ok" } else { "error" };
        m.statements.get_or_create(&Outcome { outcome }).inc();
        self.shared.audit(sqlgate_audit::Event::Query {
            account: self.account.clone(),
            peer: self.peer.clone(),
            digest: self.digest.clone(),
            tables: std::mem::take(&mut self.tables),
            rows: self.rows,
            bytes: self.bytes,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            outcome: if sqlstate.is_none() {
                sqlgate_audit::Outcome::Success
            } else {
                sqlgate_audit::Outcome::Failure
            },
            sqlstate: sqlstate.map(str::to_owned),
        });
    }
}

impl Drop for StatementRecord {
    fn drop(&mut self) {
        // Dropped unfinished: the client went away or the stream was cut.
        self.finish(Some("08006"));
    }
}
