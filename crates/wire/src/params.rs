//! The ParameterStatus values sent after login: what a PostgreSQL 15 server
//! would report, so drivers pick the right formats.

use std::collections::HashMap;

use pgwire::api::auth::ServerParameterProvider;
use pgwire::api::{ClientInfo, METADATA_APPLICATION_NAME, METADATA_USER};

pub struct ServerParameters {
    pub server_version: String,
}

impl ServerParameterProvider for ServerParameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let meta = client.metadata();
        let mut p: HashMap<String, String> = [
            ("server_version", self.server_version.as_str()),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("IntervalStyle", "postgres"),
            ("TimeZone", "UTC"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
            ("is_superuser", "off"),
            ("default_transaction_read_only", "on"),
            ("in_hot_standby", "off"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        p.insert(
            "application_name".into(),
            meta.get(METADATA_APPLICATION_NAME)
                .cloned()
                .unwrap_or_default(),
        );
        if let Some(user) = meta.get(METADATA_USER) {
            p.insert("session_authorization".into(), user.clone());
        }
        Some(p)
    }
}
