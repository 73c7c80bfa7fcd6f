//! Prometheus metrics of the front end: connections, logins, statements,
//! rows and bytes sent, refusals by kind, and statement latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Denial {
    /// `credentials`, `login`, `access_policy`, `rate_limit`, `attempts`,
    /// `lockout`, `table`, `query_acl`, `statement`.
    pub kind: &'static str,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    pub connections_open: Gauge,
    pub connections: Counter,
    pub logins: Family<Outcome, Counter>,
    pub statements: Family<Outcome, Counter>,
    pub rows: Counter,
    pub bytes: Counter,
    pub denials: Family<Denial, Counter>,
    pub statement_seconds: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("sqlgate");
        let m = Metrics {
            connections_open: Gauge::default(),
            connections: Counter::default(),
            logins: Family::default(),
            statements: Family::default(),
            rows: Counter::default(),
            bytes: Counter::default(),
            denials: Family::default(),
            // 1 ms .. ~65 s.
            statement_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            registry: Registry::default(),
        };
        registry.register(
            "connections_open",
            "Sessions connected now",
            m.connections_open.clone(),
        );
        registry.register("connections", "Connections accepted", m.connections.clone());
        registry.register("logins", "Login attempts by outcome", m.logins.clone());
        registry.register(
            "statements",
            "Statements run by outcome",
            m.statements.clone(),
        );
        registry.register("rows_sent", "Result rows sent", m.rows.clone());
        registry.register(
            "bytes_sent",
            "Result bytes sent (DataRow messages)",
            m.bytes.clone(),
        );
        registry.register("denials", "Refusals by kind", m.denials.clone());
        registry.register(
            "statement_duration_seconds",
            "Statement time from start to last row sent",
            m.statement_seconds.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn deny(&self, kind: &'static str) {
        self.denials.get_or_create(&Denial { kind }).inc();
    }

    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_labels() {
        let m = Metrics::default();
        m.login("success");
        m.deny("rate_limit");
        m.statements.get_or_create(&Outcome { outcome: "ok" }).inc();
        m.statement_seconds.observe(0.02);
        let text = m.render();
        for needle in [
            "sqlgate_logins_total{outcome=\"success\"} 1",
            "sqlgate_denials_total{kind=\"rate_limit\"} 1",
            "sqlgate_statements_total{outcome=\"ok\"} 1",
            "sqlgate_statement_duration_seconds_count 1",
            "sqlgate_connections_open 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }
    }
}
