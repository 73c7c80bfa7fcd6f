//! Result column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression by its text (`count(*)`,
//! `sum(incident.priority)`, `Int64(1) + Int64(1)`); PostgreSQL names it by
//! its outermost function (`count`, `sum`), by the column a cast wraps, by
//! `case`, or `?column?`. Drivers and BI tools show these names and some
//! look columns up by them, so the wire uses PostgreSQL's.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr, Statement};

/// Field metadata holding a name the query gave explicitly (`AS "Access
/// privileges"`), which is sent as written.
const ALIAS_KEY: &str = "sqlgate.alias";

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

/// The output aliases a query's select list gives, by position (`None`
/// where a column is unnamed); `None` when positions cannot be matched
/// (more than one `*`).
fn select_aliases(statement: &DFStatement, columns: usize) -> Option<Vec<Option<String>>> {
    let DFStatement::Statement(s) = statement else {
        return None;
    };
    let Statement::Query(q) = s.as_ref() else {
        return None;
    };
    let mut body = q.body.as_ref();
    // A set operation takes its names from its first branch.
    let select = loop {
        match body {
            SetExpr::Select(select) => break select,
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = q.body.as_ref(),
            _ => return None,
        }
    };
    let wildcards = select
        .projection
        .iter()
        .filter(|i| {
            matches!(
                i,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        })
        .count();
    let named = select.projection.len() - wildcards;
    let expanded = match wildcards {
        0 if named == columns => 0,
        1 if columns >= named => columns - named,
        _ => return None,
    };
    let mut out = Vec::with_capacity(columns);
    for item in &select.projection {
        match item {
            SelectItem::ExprWithAlias { alias, .. } => {
                out.push(Some(if alias.quote_style.is_some() {
                    alias.value.clone()
                } else {
                    alias.value.to_lowercase()
                }))
            }
            SelectItem::UnnamedExpr(_) => out.push(None),
            _ => out.extend(std::iter::repeat_n(None, expanded)),
        }
    }
    Some(out)
}

/// The schema of a query's result, marking the columns its select list
/// names explicitly so that [`pg_schema`] sends those names as written.
pub fn query_schema(statement: &DFStatement, schema: &Schema) -> Schema {
    let Some(aliases) = select_aliases(statement, schema.fields().len()) else {
        return schema.clone();
    };
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .zip(aliases)
        .map(|(f, alias)| match alias {
            Some(a) => {
                let mut metadata = f.metadata().clone();
                metadata.insert(ALIAS_KEY.to_owned(), a);
                Arc::new(f.as_ref().clone().with_metadata(metadata))
            }
            None => Arc::clone(f),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// A field without catalog type markers its Arrow type no longer fits.
///
/// `datafusion-pg-catalog` marks oid columns (Int32) and `"char"` columns
/// (text) in field metadata, which the wire reads to choose the PostgreSQL
/// type. An expression over such a column can keep the marker while
/// changing the type (`CASE WHEN … THEN typelem ELSE 0 END` is Int64): the
/// wire would then announce int4 and send eight bytes.
fn consistent_type_markers(f: &Arc<Field>) -> Arc<Field> {
    use datafusion::arrow::datatypes::DataType;
    let stale = |key: &str| match key {
        "pg.oid_alias" => f.data_type() != &DataType::Int32,
        "pg.char" => !matches!(
            f.data_type(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ),
        _ => false,
    };
    if !f.metadata().keys().any(|k| stale(k)) {
        return Arc::clone(f);
    }
    let metadata = f
        .metadata()
        .iter()
        .filter(|(k, _)| !stale(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Arc::new(f.as_ref().clone().with_metadata(metadata))
}

/// A schema with PostgreSQL's column names.
pub fn pg_schema(schema: &Schema) -> Schema {
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|f| {
            let f = &consistent_type_markers(f);
            if let Some(alias) = f.metadata().get(ALIAS_KEY) {
                let mut metadata: HashMap<String, String> = f.metadata().clone();
                metadata.remove(ALIAS_KEY);
                return Arc::new(f.as_ref().clone().with_name(alias).with_metadata(metadata));
            }
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
    use super::*;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn explicit_aliases_are_sent_as_written() {
        let parse = |sql: &str| {
            let mut p = datafusion::sql::parser::DFParser::parse_sql(sql).unwrap();
            p.pop_front().unwrap()
        };
        let schema = |names: &[&str]| {
            Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(*n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            )
        };
        let names = |s: Schema| -> Vec<String> {
            pg_schema(&s)
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        };
        let st = parse(
            r#"SELECT d.datname AS "Name", a || b AS "Access privileges", 1 + 1, x AS Low FROM d"#,
        );
        let df = schema(&["Name", "Access privileges", "Int64(1) + Int64(1)", "low"]);
        assert_eq!(
            names(query_schema(&st, &df)),
            ["Name", "Access privileges", "?column?", "low"]
        );
        // A star expands between named columns.
        let st = parse(r#"SELECT 1 AS "One Two", *, 2 AS "x y" FROM t"#);
        let df = schema(&["One Two", "a", "b", "x y"]);
        assert_eq!(names(query_schema(&st, &df)), ["One Two", "a", "b", "x y"]);
        // A marker that no longer fits the type is dropped.
        let marked = Schema::new(vec![
            Field::new("elemoid", DataType::Int64, true).with_metadata(HashMap::from([(
                "pg.oid_alias".to_owned(),
                "oid".to_owned(),
            )])),
            Field::new("oid", DataType::Int32, true).with_metadata(HashMap::from([(
                "pg.oid_alias".to_owned(),
                "oid".to_owned(),
            )])),
        ]);
        let out = pg_schema(&marked);
        assert!(out.field(0).metadata().is_empty());
        assert_eq!(out.field(1).metadata().len(), 1);
        // Without a statement, names are derived as before.
        assert_eq!(names(df), ["?column?", "a", "b", "?column?"]);
    }

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
