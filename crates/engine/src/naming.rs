//! Result column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression by its text (`count(*)`,
//! `sum(incident.priority)`, `Int64(1) + Int64(1)`); PostgreSQL names it by
//! its outermost function (`count`, `sum`), by the column a cast wraps, by
//! `case`, or `?column?`. Drivers and BI tools show these names and some
//! look columns up by them, so the wire uses PostgreSQL's.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};

/// The PostgreSQL name for a DataFusion output column name.
pub fn pg_column_name(name: &str) -> String {
    let is_ident = |s: &str| {
        let mut c = s.chars();
        matches!(c.next(), Some(x) if x.is_ascii_lowercase() || x == '_')
            && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
    };
    // A plain or qualified column, or an alias.
    if !name.contains(['(', ' ', '"']) {
        return name.rsplit('.').next().unwrap_or(name).to_owned();
    }
    if name.starts_with("CASE ") {
        return "case".to_owned();
    }
    if let Some(inner) = name.strip_prefix("CAST(").and_then(|r| r.strip_suffix(')'))
        && let Some((arg, _)) = inner.rsplit_once(" AS ")
    {
        let arg = pg_column_name(arg);
        return arg.rsplit('.').next().unwrap_or(&arg).to_owned();
    }
    // An outermost function call: `name(...)` whose parenthesis closes last.
    if let Some(open) = name.find('(')
        && name.ends_with(')')
        && is_ident(&name[..open])
        && closes_at_end(&name[open..])
    {
        return name[..open].to_owned();
    }
    if is_ident(name) {
        return name.to_owned();
    }
    "?column?".to_owned()
}

/// Whether the parenthesis opening `s` is closed by its last character.
fn closes_at_end(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return i == s.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

/// A schema with PostgreSQL's column names.
pub fn pg_schema(schema: &Schema) -> Schema {
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|f| {
            let name = pg_column_name(f.name());
            if &name == f.name() {
                Arc::clone(f)
            } else {
                Arc::new(f.as_ref().clone().with_name(name))
            }
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

#[cfg(test)]
mod tests {
    use super::pg_column_name as n;

    #[test]
    fn names_follow_postgresql() {
        assert_eq!(n("priority"), "priority");
        assert_eq!(n("incident.priority"), "priority");
        assert_eq!(n("my_alias"), "my_alias");
        assert_eq!(n("count(*)"), "count");
        assert_eq!(n("count(DISTINCT incident.priority)"), "count");
        assert_eq!(n("sum(incident.reassignment_count)"), "sum");
        assert_eq!(n("version()"), "version");
        assert_eq!(
            n("has_table_privilege(Utf8(\"incident\"),Utf8(\"SELECT\"))"),
            "has_table_privilege"
        );
        assert_eq!(n("Int64(1) + Int64(1)"), "?column?");
        assert_eq!(n("Int64(1)"), "?column?");
        assert_eq!(n("Utf8(\"a\")"), "?column?");
        assert_eq!(n("sum(a) + sum(b)"), "?column?");
        assert_eq!(n("CAST(incident.priority AS Utf8)"), "priority");
        assert_eq!(
            n("CASE WHEN incident.priority = Int32(1) THEN Utf8(\"x\") END"),
            "case"
        );
    }
}
