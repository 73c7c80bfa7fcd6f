//! The vocabulary of the ACL model as types: operations, ACL names (with
//! their wildcards), decisions and the built-in roles. Strings from the policy
//! file become these types once, at load time, so evaluation never compares
//! loose strings.

use std::fmt;

/// Roles the platform defines; they need no `[[role]]` entry in a policy.
pub mod roles {
    /// Implies every role, and passes ACLs that allow an admin override.
    pub const ADMIN: &str = "admin";
    /// A role nobody holds: an ACL requiring it cannot be overridden by admin.
    pub const NOBODY: &str = "nobody";
    /// One of the two roles an account needs to use the SQL API at all.
    pub const ODBC_REST_ACCESS: &str = "sn_odbc_rest_access";
    /// One of the two roles an account needs to use the SQL API at all.
    pub const JDBC_REST_ACCESS: &str = "sn_jdbc_rest_access";
    /// Turns off row and field checks (the table gate stays).
    pub const PRIVILEGED_MODE: &str = "sn_sql_api_privileged_mode";

    /// Every built-in role.
    pub const BUILT_IN: [&str; 5] = [
        ADMIN,
        NOBODY,
        ODBC_REST_ACCESS,
        JDBC_REST_ACCESS,
        PRIVILEGED_MODE,
    ];
}

/// What an ACL protects. Only the read-side operations matter to a read-only
/// API; the platform's other operations are accepted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Export of data through the SQL API; never granted by `*`.
    EgressSql,
    /// Reading records and fields.
    Read,
    /// Equality-style use of a field in a query (`=`, `IN`, join keys ...).
    QueryMatch,
    /// Range-style use of a field in a query (`<`, `LIKE`, `ORDER BY` ...).
    QueryRange,
    /// Any other platform operation (`write`, `create`, ...): ignored here.
    Other,
}

impl Operation {
    /// Parses the policy-file spelling; unknown operations map to `Other`
    /// (they are accepted and ignored, as the API is read-only).
    pub fn parse(s: &str) -> Operation {
        match s {
            "egress_sql" => Operation::EgressSql,
            "read" => Operation::Read,
            "query_match" => Operation::QueryMatch,
            "query_range" => Operation::QueryRange,
            _ => Operation::Other,
        }
    }

    /// The policy-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::EgressSql => "egress_sql",
            Operation::Read => "read",
            Operation::QueryMatch => "query_match",
            Operation::QueryRange => "query_range",
            Operation::Other => "other",
        }
    }
}

impl serde::Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `allow_if` ACLs grant (the most specific level decides); `deny_unless`
/// ACLs are requirements that must all pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    AllowIf,
    DenyUnless,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::AllowIf => "allow_if",
            Decision::DenyUnless => "deny_unless",
        })
    }
}

/// The table part of an ACL name: a table or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TablePattern {
    Table(String),
    Any,
}

/// The field part of an ACL name, when it has one: a field or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldPattern {
    Field(String),
    Any,
}

/// A parsed ACL name: `table`, `table.field`, `table.*`, `*`, `*.field`, `*.*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclName {
    pub table: TablePattern,
    /// `None` for a table-level ACL.
    pub field: Option<FieldPattern>,
}

impl AclName {
    /// Parses an ACL name; `None` when it is not one of the six shapes.
    pub fn parse(s: &str) -> Option<AclName> {
        fn ident(s: &str) -> bool {
            let mut chars = s.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }
        let (table, field) = match s.split_once('.') {
            Some((t, f)) => (t, Some(f)),
            None => (s, None),
        };
        let table = match table {
            "*" => TablePattern::Any,
            t if ident(t) => TablePattern::Table(t.to_owned()),
            _ => return None,
        };
        let field = match field {
            None => None,
            Some("*") => Some(FieldPattern::Any),
            Some(f) if ident(f) => Some(FieldPattern::Field(f.to_owned())),
            Some(_) => return None,
        };
        Some(AclName { table, field })
    }

    /// The table this name is about, when it names one.
    pub fn table_name(&self) -> Option<&str> {
        match &self.table {
            TablePattern::Table(t) => Some(t),
            TablePattern::Any => None,
        }
    }
}

impl fmt::Display for AclName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.table {
            TablePattern::Table(t) => f.write_str(t)?,
            TablePattern::Any => f.write_str("*")?,
        }
        match &self.field {
            None => Ok(()),
            Some(FieldPattern::Field(x)) => write!(f, ".{x}"),
            Some(FieldPattern::Any) => f.write_str(".*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_name_shape() {
        for s in [
            "incident",
            "incident.salary",
            "incident.*",
            "*",
            "*.salary",
            "*.*",
        ] {
            let name = AclName::parse(s).unwrap_or_else(|| panic!("{s} should parse"));
            assert_eq!(name.to_string(), s);
        }
    }

    #[test]
    fn refuses_malformed_names() {
        for s in [
            "", ".", "a.", ".b", "Incident", "a.b.c", "a b", "*x", "a.*x", "1abc",
        ] {
            assert!(AclName::parse(s).is_none(), "{s:?} should not parse");
        }
    }

    #[test]
    fn unknown_operations_are_ignored_not_errors() {
        assert_eq!(Operation::parse("write"), Operation::Other);
        assert_eq!(Operation::parse("egress_sql"), Operation::EgressSql);
    }
}
