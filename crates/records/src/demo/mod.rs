//! Deterministic ServiceNow-like demo data.
