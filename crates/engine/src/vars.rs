//! Session parameters a PostgreSQL client expects to SET and SHOW.
//!
//! They live in the session, never in shared state, so one client's `SET`
//! cannot reach another. Only known parameters are accepted; DataFusion's own
//! settings (`datafusion.*`) are not reachable from SQL at all, since they
//! would let a client change memory or parallelism limits.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{EngineError, sqlstate};

/// How a parameter's value is checked.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// Any value is accepted but only this one is in effect (reported).
    Fixed(&'static str),
    OneOf(&'static [&'static str]),
    Integer(i64, i64),
    Duration,
    Bool,
}

/// (canonical name, default, kind). Names are matched case-insensitively.
const PARAMETERS: &[(&str, &str, Kind)] = &[
    ("application_name", "", Kind::Text),
    (
        "client_encoding",
        "UTF8",
        Kind::OneOf(&["UTF8", "UTF-8", "UNICODE"]),
    ),
    ("server_encoding", "UTF8", Kind::Fixed("UTF8")),
    ("DateStyle", "ISO, MDY", Kind::Text),
    ("IntervalStyle", "postgres", Kind::OneOf(&["postgres"])),
    ("TimeZone", "UTC", Kind::Text),
    ("extra_float_digits", "1", Kind::Integer(-15, 3)),
    ("search_path", "public", Kind::Text),
    ("statement_timeout", "0", Kind::Duration),
    ("idle_in_transaction_session_timeout", "0", Kind::Duration),
    ("lock_timeout", "0", Kind::Duration),
    ("standard_conforming_strings", "on", Kind::OneOf(&["on"])),
    ("integer_datetimes", "on", Kind::Fixed("on")),
    ("bytea_output", "hex", Kind::OneOf(&["hex"])),
    ("transaction_isolation", "read committed", Kind::Text),
    (
        "default_transaction_isolation",
        "read committed",
        Kind::Text,
    ),
    ("transaction_read_only", "on", Kind::Fixed("on")),
    (
        "default_transaction_read_only",
        "on",
        Kind::OneOf(&["on", "true"]),
    ),
    ("max_identifier_length", "63", Kind::Fixed("63")),
    ("server_version", "", Kind::Fixed("")),
    ("server_version_num", "150000", Kind::Fixed("150000")),
    ("is_superuser", "off", Kind::Fixed("off")),
    ("row_security", "on", Kind::OneOf(&["on"])),
    ("geqo", "on", Kind::Bool),
    ("jit", "off", Kind::Bool),
    ("client_min_messages", "notice", Kind::Text),
    // Read-only in PostgreSQL (chosen at initdb); BI tools read them when
    // they connect, and a missing one fails the connection.
    ("lc_collate", "en_US.UTF-8", Kind::Fixed("en_US.UTF-8")),
    ("lc_ctype", "en_US.UTF-8", Kind::Fixed("en_US.UTF-8")),
    ("lc_messages", "C", Kind::Text),
    ("lc_monetary", "C", Kind::Text),
    ("lc_numeric", "C", Kind::Text),
    ("lc_time", "C", Kind::Text),
];

/// The parameters of one session.
#[derive(Debug, Clone)]
pub struct SessionVars {
    values: BTreeMap<&'static str, String>,
    /// Defaults set by the server's configuration (RESET returns to them).
    defaults: BTreeMap<&'static str, String>,
    server_version: String,
}

impl SessionVars {
    pub fn new(server_version: &str) -> SessionVars {
        let mut vars = SessionVars {
            values: BTreeMap::new(),
            defaults: BTreeMap::new(),
            server_version: server_version.to_owned(),
        };
        vars.reset_all();
        vars
    }

    fn lookup(name: &str) -> Option<(&'static str, &'static str, Kind)> {
        PARAMETERS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .copied()
            .or_else(|| match name.to_ascii_lowercase().as_str() {
                "time zone" | "time_zone" => SessionVars::lookup("TimeZone"),
                "transaction isolation level" => SessionVars::lookup("transaction_isolation"),
                "names" => SessionVars::lookup("client_encoding"),
                _ => None,
            })
    }

    fn unknown(name: &str) -> EngineError {
        EngineError::new(
            sqlstate::UNDEFINED_OBJECT,
            format!("unrecognized configuration parameter \"{name}\""),
        )
    }

    /// The value of a parameter, as SHOW prints it.
    pub fn get(&self, name: &str) -> Result<(String, String), EngineError> {
        let (canonical, _, kind) =
            SessionVars::lookup(name).ok_or_else(|| SessionVars::unknown(name))?;
        let value = match (canonical, kind) {
            ("server_version", _) => self.server_version.clone(),
            (_, Kind::Fixed(v)) => v.to_owned(),
            _ => self.values.get(canonical).cloned().unwrap_or_default(),
        };
        Ok((canonical.to_lowercase(), value))
    }

    /// Every parameter, for `SHOW ALL`.
    pub fn all(&self) -> Vec<(String, String)> {
        PARAMETERS
            .iter()
            .filter_map(|(n, _, _)| self.get(n).ok())
            .collect()
    }

    /// Sets a parameter after checking its value; `DEFAULT` resets it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        if name.to_ascii_lowercase().starts_with("datafusion.") {
            return Err(EngineError::new(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                format!("parameter \"{name}\" cannot be changed"),
            ));
        }
        let (canonical, default, kind) =
            SessionVars::lookup(name).ok_or_else(|| SessionVars::unknown(name))?;
        if value.eq_ignore_ascii_case("default") {
            let default = self.defaults.get(canonical).map_or(default, String::as_str);
            self.values.insert(canonical, default.to_owned());
            return Ok(());
        }
        let invalid = || {
            EngineError::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("invalid value for parameter \"{canonical}\": \"{value}\""),
            )
        };
        let stored = match kind {
            Kind::Text => value.to_owned(),
            Kind::Fixed(_) => return Ok(()),
            Kind::OneOf(allowed) => allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(value))
                .map(|_| value.to_owned())
                .ok_or_else(invalid)?,
            Kind::Integer(lo, hi) => {
                let n: i64 = value.trim().parse().map_err(|_| invalid())?;
                if !(lo..=hi).contains(&n) {
                    return Err(invalid());
                }
                n.to_string()
            }
            Kind::Duration => {
                parse_duration(value).ok_or_else(invalid)?;
                value.to_owned()
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => "on".to_owned(),
                "off" | "false" | "0" | "no" => "off".to_owned(),
                _ => return Err(invalid()),
            },
        };
        if canonical == "TimeZone" && chrono_tz_offset(&stored).is_none() {
            return Err(invalid());
        }
        self.values.insert(canonical, stored);
        Ok(())
    }

    /// Sets a parameter and makes that value its default for this session
    /// (for server-configured defaults such as `statement_timeout`).
    pub fn set_default(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        self.set(name, value)?;
        let (canonical, _, _) =
            SessionVars::lookup(name).ok_or_else(|| SessionVars::unknown(name))?;
        let value = self.values[canonical].clone();
        self.defaults.insert(canonical, value);
        Ok(())
    }

    pub fn reset(&mut self, name: &str) -> Result<(), EngineError> {
        self.set(name, "DEFAULT")
    }

    pub fn reset_all(&mut self) {
        for (name, default, _) in PARAMETERS {
            let value = self.defaults.get(name).map_or(*default, String::as_str);
            self.values.insert(name, value.to_owned());
        }
    }

    /// The statement timeout in force, if any.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.values
            .get("statement_timeout")
            .and_then(|v| parse_duration(v))
            .filter(|d| !d.is_zero())
    }

    pub fn time_zone(&self) -> String {
        self.values
            .get("TimeZone")
            .cloned()
            .unwrap_or_else(|| "UTC".into())
    }
}

/// PostgreSQL duration syntax: a bare number is milliseconds; units
/// `ms`, `s`, `min`, `h`, `d`.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1e3,
        "min" => n * 60e3,
        "h" => n * 3600e3,
        "d" => n * 86400e3,
        _ => return None,
    };
    (ms >= 0.0 && ms.is_finite()).then(|| Duration::from_micros((ms * 1000.0) as u64))
}

/// Accepts UTC and fixed offsets, the zones DataFusion can apply without a
/// time-zone database: `UTC`, `GMT`, `Z`, `+02:00`, `-0530`.
fn chrono_tz_offset(tz: &str) -> Option<i32> {
    let t = tz.trim();
    if ["utc", "gmt", "z", "etc/utc", "zulu", "universal"]
        .contains(&t.to_ascii_lowercase().as_str())
    {
        return Some(0);
    }
    let sign = match t.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = t[1..].chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_show_round_trip_case_insensitively() {
        let mut v = SessionVars::new("15.0");
        v.set("EXTRA_FLOAT_DIGITS", "3").unwrap();
        assert_eq!(v.get("extra_float_digits").unwrap().1, "3");
        v.set("datestyle", "ISO, YMD").unwrap();
        assert_eq!(v.get("DateStyle").unwrap().1, "ISO, YMD");
        v.reset("datestyle").unwrap();
        assert_eq!(v.get("DateStyle").unwrap().1, "ISO, MDY");
    }

    #[test]
    fn unknown_and_engine_parameters_are_refused() {
        let mut v = SessionVars::new("15.0");
        assert_eq!(v.set("no_such_thing", "1").unwrap_err().code, "42704");
        assert_eq!(
            v.set("datafusion.execution.batch_size", "1")
                .unwrap_err()
                .code,
            "42501"
        );
        assert_eq!(v.set("extra_float_digits", "99").unwrap_err().code, "22023");
    }

    #[test]
    fn statement_timeout_units() {
        let mut v = SessionVars::new("15.0");
        assert_eq!(v.statement_timeout(), None);
        v.set("statement_timeout", "1500").unwrap();
        assert_eq!(v.statement_timeout(), Some(Duration::from_millis(1500)));
        v.set("statement_timeout", "2s").unwrap();
        assert_eq!(v.statement_timeout(), Some(Duration::from_secs(2)));
        assert!(v.set("statement_timeout", "soon").is_err());
        // The server's default survives RESET.
        v.set_default("statement_timeout", "5min").unwrap();
        v.set("statement_timeout", "0").unwrap();
        v.reset("statement_timeout").unwrap();
        assert_eq!(v.statement_timeout(), Some(Duration::from_secs(300)));
        v.set("statement_timeout", "0").unwrap();
        v.reset_all();
        assert_eq!(v.statement_timeout(), Some(Duration::from_secs(300)));
    }

    #[test]
    fn locale_parameters_answer_like_postgresql() {
        let mut v = SessionVars::new("15.0");
        for name in ["lc_collate", "LC_CTYPE"] {
            let (canonical, value) = v.get(name).unwrap();
            assert_eq!(canonical, name.to_lowercase());
            assert_eq!(value, "en_US.UTF-8");
        }
        // Read-only in PostgreSQL: a SET changes nothing.
        v.set("lc_collate", "C").unwrap();
        assert_eq!(v.get("lc_collate").unwrap().1, "en_US.UTF-8");
        assert!(v.all().iter().any(|(n, _)| n == "lc_ctype"));
    }
}
