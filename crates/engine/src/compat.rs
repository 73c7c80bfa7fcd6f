//! Rewrites that make the catalog queries of real drivers plannable, applied
//! after `datafusion-pg-catalog`'s own rewrites and before the gate judges
//! the statement (so the gate judges what will run).
//!
//! Each rewrite keeps PostgreSQL's meaning for the queries it touches:
//! - `(expr).field` becomes `get_field(expr, 'field')`: DataFusion only
//!   plans dot access on plain column names.
//! - `_pg_expandarray(a)` (pgjdbc's primary and index keys) and
//!   `generate_subscripts(a, d)` (SQLAlchemy's indexes) are set-returning
//!   in PostgreSQL; they become `unnest` of a list holding the same rows.
//! - `LIKE p ESCAPE 'c'` with a literal pattern is re-escaped to the
//!   backslash, the only escape DataFusion knows.
//! - A scalar subquery over catalog tables that returns one non-aggregate
//!   value (`(SELECT c.relkind = 'c' FROM pg_class c WHERE c.oid =
//!   t.typrelid)`) is wrapped in `first_value`, because DataFusion
//!   decorrelates only aggregated subqueries. Over the catalog these
//!   subqueries look up at most one row by key, where the two agree; user
//!   tables are never rewritten, so a query over records keeps DataFusion's
//!   answer.
//! - `'pg_catalog.name'::regproc` / `::regtype` look the bare name up.
//! - A relation name computed at run time and cast to `regclass`
//!   (Metabase's `format('%I.%I', schema, table)::regclass`) is looked up in
//!   `pg_class` by a correlated subquery; the library resolves only literal
//!   and parameter names, and casts anything else to an integer.

use std::ops::ControlFlow;
use std::sync::OnceLock;

use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr,
    Statement, Subscript, TableFactor, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut,
};

/// Grafana's "on the search path" test, `IN (subquery)` with a scalar function in
/// FROM, which DataFusion cannot plan (and which `datafusion-pg-catalog`
/// replaces by `''`, matching nothing).
const SEARCH_PATH_SCHEMAS: &str = "IN (SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END \
    FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), \
    array_upper(string_to_array(current_setting('search_path'),','),1)) as i, \
    string_to_array(current_setting('search_path'),',') s)";

/// What it means, as an expression (it also appears in ORDER BY, where
/// DataFusion plans no subqueries).
const SEARCH_PATH_SCHEMAS_AS: &str = "= ANY(current_schemas(false))";

/// Replaces whole client query fragments that cannot be rewritten on the
/// syntax tree; `None` when there is nothing to replace. Tokens are
/// compared, so spacing and case do not matter.
pub fn substitute(sql: &str) -> Option<String> {
    let dialect = PostgreSqlDialect {};
    let key = |t: &Token| t.to_string().to_lowercase();
    let pattern: Vec<String> = Tokenizer::new(&dialect, SEARCH_PATH_SCHEMAS)
        .tokenize()
        .ok()?
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .map(key)
        .collect();
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    // Positions of the significant tokens in `tokens`.
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let keys: Vec<String> = significant.iter().map(|&i| key(&tokens[i])).collect();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut k = 0;
    let mut replaced = false;
    while k + pattern.len() <= keys.len() {
        if keys[k..k + pattern.len()] == pattern[..] {
            let (first, last) = (significant[k], significant[k + pattern.len() - 1]);
            out.extend(tokens[copied..first].iter().map(|t| t.to_string()));
            out.push_str(SEARCH_PATH_SCHEMAS_AS);
            copied = last + 1;
            k += pattern.len();
            replaced = true;
        } else {
            k += 1;
        }
    }
    if !replaced {
        return None;
    }
    out.extend(tokens[copied..].iter().map(|t| t.to_string()));
    Some(out)
}

/// The PostgreSQL-compatibility parser, built once.
fn library() -> &'static PostgresCompatibilityParser {
    static PARSER: OnceLock<PostgresCompatibilityParser> = OnceLock::new();
    PARSER.get_or_init(PostgresCompatibilityParser::new)
}

/// Parses a request with PostgreSQL's grammar and applies every rewrite.
///
/// Statements over records do not go through the library's whole-query
/// substitutions (they only match client introspection queries), and a
/// scalar subquery in their select list is kept from the library's rule
/// that replaces correlated ones by NULL: DataFusion either answers it or
/// refuses it, never a silent NULL.
pub fn parse(sql: &str, recursion_limit: usize) -> Result<Vec<Statement>, ParserError> {
    let substituted = substitute(sql);
    let sql = substituted.as_deref().unwrap_or(sql);
    let own = Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(recursion_limit)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let statements = match own {
        Ok(statements) if statements.iter().any(reads_records) => statements
            .into_iter()
            .map(|mut s| {
                let _ = VisitMut::visit(&mut s, &mut ProtectSelectSubqueries);
                library().rewrite(s)
            })
            .collect(),
        _ => library().parse(sql)?,
    };
    Ok(statements.into_iter().map(rewrite).collect())
}

/// Whether a statement reads any relation outside the catalogs.
fn reads_records(s: &Statement) -> bool {
    struct Find(bool);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
            if !is_catalog_relation(name) {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(false);
    let _ = s.visit(&mut f);
    f.0
}

/// Wraps each select-list subquery in parentheses, which the library's
/// `RemoveSubqueryFromProjection` does not look into.
struct ProtectSelectSubqueries;

impl VisitorMut for ProtectSelectSubqueries {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = q.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                    && matches!(e, Expr::Subquery(_))
                {
                    *e = Expr::Nested(Box::new(e.clone()));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Applies every rewrite to a parsed statement.
pub fn rewrite(mut statement: Statement) -> Statement {
    let _ = VisitMut::visit(&mut statement, &mut Rewriter);
    statement
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(new) = field_access(expr)
            .or_else(|| vector_subscript(expr))
            .or_else(|| set_returning(expr))
            .or_else(|| like_escape(expr))
            .or_else(|| catalog_scalar_subquery(expr))
            .or_else(|| qualified_catalog_name(expr))
            .or_else(|| computed_regclass(expr))
        {
            *expr = new;
        }
        ControlFlow::Continue(())
    }
}

/// A function call expression.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_owned()).into())
}

/// The function's last name part, lowercased, and its plain arguments.
fn function_parts(f: &Function) -> Option<(String, Vec<Expr>)> {
    let name = match f.name.0.last()? {
        ObjectNamePart::Identifier(i) => i.value.to_lowercase(),
        _ => return None,
    };
    let FunctionArguments::List(list) = &f.args else {
        return Some((name, vec![]));
    };
    let mut args = Vec::new();
    for a in &list.args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e.clone()),
            _ => return None,
        }
    }
    Some((name, args))
}

fn strip_nested(e: &Expr) -> Expr {
    match e {
        Expr::Nested(inner) => strip_nested(inner),
        other => other.clone(),
    }
}

/// `(expr).a.b` -> `get_field(get_field(expr, 'a'), 'b')`.
fn field_access(expr: &Expr) -> Option<Expr> {
    let Expr::CompoundFieldAccess { root, access_chain } = expr else {
        return None;
    };
    // `t.col.field` on names is DataFusion's own to resolve.
    if matches!(
        root.as_ref(),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_)
    ) {
        return None;
    }
    let mut fields = Vec::new();
    for access in access_chain {
        match access {
            AccessExpr::Dot(Expr::Identifier(i)) => fields.push(i.value.to_lowercase()),
            _ => return None,
        }
    }
    let mut out = strip_nested(root);
    for f in fields {
        out = call("get_field", vec![out, string(&f)]);
    }
    Some(out)
}

/// Columns PostgreSQL stores as `int2vector`/`oidvector`, whose subscripts
/// start at 0; here they are lists, whose subscripts start at 1.
const ZERO_BASED_VECTORS: [&str; 4] = ["indkey", "indclass", "indcollation", "indoption"];

/// `i.indkey[k]` -> `i.indkey[k + 1]`.
fn vector_subscript(expr: &Expr) -> Option<Expr> {
    let Expr::CompoundFieldAccess { root, access_chain } = expr else {
        return None;
    };
    // `i.indkey[k]` parses as `i` with the chain `.indkey`, `[k]`.
    let (Some(AccessExpr::Subscript(Subscript::Index { index })), path) =
        (access_chain.last(), &access_chain[..access_chain.len() - 1])
    else {
        return None;
    };
    let column = match (path.last(), root.as_ref()) {
        (Some(AccessExpr::Dot(Expr::Identifier(i))), _) => i,
        (None, Expr::Identifier(i)) => i,
        (None, Expr::CompoundIdentifier(parts)) => parts.last()?,
        _ => return None,
    };
    if !ZERO_BASED_VECTORS.contains(&column.value.to_lowercase().as_str()) {
        return None;
    }
    let one = Expr::Value(Value::Number("1".to_owned(), false).into());
    let mut access_chain = path.to_vec();
    access_chain.push(AccessExpr::Subscript(Subscript::Index {
        index: Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(index.clone()))),
            op: BinaryOperator::Plus,
            right: Box::new(one),
        },
    }));
    Some(Expr::CompoundFieldAccess {
        root: root.clone(),
        access_chain,
    })
}

/// `_pg_expandarray(a)` -> `unnest(_pg_expandarray(a))`, and
/// `generate_subscripts(a, d)` -> `unnest(generate_series(array_lower(a,
/// d), array_upper(a, d)))`.
fn set_returning(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let (name, args) = function_parts(f)?;
    match (name.as_str(), args.as_slice()) {
        ("_pg_expandarray", [a]) => Some(call(
            "unnest",
            vec![call("_pg_expandarray", vec![a.clone()])],
        )),
        ("generate_subscripts", [a, d]) => Some(call(
            "unnest",
            vec![call(
                "generate_series",
                vec![
                    call("array_lower", vec![a.clone(), d.clone()]),
                    call("array_upper", vec![a.clone(), d.clone()]),
                ],
            )],
        )),
        _ => None,
    }
}

/// A LIKE pattern with escape character `esc`, re-escaped with the
/// backslash.
pub fn reescape(pattern: &str, esc: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == esc {
            match chars.next() {
                Some(next @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(next);
                }
                Some('\\') => out.push_str("\\\\"),
                Some(next) => out.push(next),
                None => {}
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

fn like_escape(expr: &Expr) -> Option<Expr> {
    let (Expr::Like {
        negated,
        any,
        expr: e,
        pattern,
        escape_char: Some(esc),
    }
    | Expr::ILike {
        negated,
        any,
        expr: e,
        pattern,
        escape_char: Some(esc),
    }) = expr
    else {
        return None;
    };
    let Value::SingleQuotedString(esc_text) = &esc.value else {
        return None;
    };
    let mut esc_chars = esc_text.chars();
    let (Some(esc_char), None) = (esc_chars.next(), esc_chars.next()) else {
        return None;
    };
    if esc_char == '\\' {
        return None;
    }
    // A literal pattern is re-escaped here; any other (a parameter) when
    // the query runs.
    let pattern = Box::new(match pattern.as_ref() {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(p),
            ..
        }) => string(&reescape(p, esc_char)),
        other => call("pg_like_escape", vec![other.clone(), string(esc_text)]),
    });
    let (negated, any, e) = (*negated, *any, e.clone());
    Some(match expr {
        Expr::Like { .. } => Expr::Like {
            negated,
            any,
            expr: e,
            pattern,
            escape_char: None,
        },
        _ => Expr::ILike {
            negated,
            any,
            expr: e,
            pattern,
            escape_char: None,
        },
    })
}

/// Aggregate functions: a subquery already returning one of these needs no
/// wrapping.
const AGGREGATES: [&str; 14] = [
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "first_value",
    "last_value",
];

fn has_aggregate(e: &Expr) -> bool {
    struct Find(bool);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e
                && let Some(ObjectNamePart::Identifier(name)) = f.name.0.last()
                && AGGREGATES.contains(&name.value.to_lowercase().as_str())
            {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(false);
    let _ = e.visit(&mut f);
    f.0
}

/// Whether a relation name is a catalog table (pg_catalog or
/// information_schema); user tables never are.
fn is_catalog_relation(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [schema, _] => schema == "pg_catalog" || schema == "information_schema",
        [_, schema, _] => schema == "pg_catalog" || schema == "information_schema",
        [table] => table.starts_with("pg_"),
        _ => false,
    }
}

/// Whether every relation the query reads is a catalog table.
fn reads_only_catalog(q: &Query) -> bool {
    struct Check {
        catalog_only: bool,
        any: bool,
    }
    impl Visitor for Check {
        type Break = ();
        fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
            match t {
                TableFactor::Table { name, args, .. } if args.is_none() => {
                    self.any = true;
                    if !is_catalog_relation(name) {
                        self.catalog_only = false;
                        return ControlFlow::Break(());
                    }
                }
                TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => {}
                _ => {
                    self.catalog_only = false;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = Check {
        catalog_only: true,
        any: false,
    };
    let _ = q.visit(&mut c);
    c.catalog_only && c.any
}

fn catalog_scalar_subquery(expr: &Expr) -> Option<Expr> {
    let Expr::Subquery(q) = expr else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let no_grouping =
        matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if select.projection.len() != 1
        || select.distinct.is_some()
        || select.having.is_some()
        || !no_grouping
        || q.order_by.is_some()
        || !reads_only_catalog(q)
    {
        return None;
    }
    let item = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) if !has_aggregate(e) => {
            SelectItem::UnnamedExpr(call("first_value", vec![e.clone()]))
        }
        SelectItem::ExprWithAlias { expr: e, alias } if !has_aggregate(e) => {
            SelectItem::ExprWithAlias {
                expr: call("first_value", vec![e.clone()]),
                alias: alias.clone(),
            }
        }
        _ => return None,
    };
    let mut q = q.clone();
    if let SetExpr::Select(s) = q.body.as_mut() {
        s.projection = vec![item];
    }
    Some(Expr::Subquery(q))
}

/// `proname = 'pg_catalog.array_in'` (what a `'pg_catalog.array_in'::regproc`
/// cast became) -> `proname = 'array_in'`: catalog names are unqualified.
fn qualified_catalog_name(expr: &Expr) -> Option<Expr> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = expr
    else {
        return None;
    };
    let Expr::Identifier(column) = left.as_ref() else {
        return None;
    };
    if !matches!(column.value.as_str(), "proname" | "typname") {
        return None;
    }
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(s),
        ..
    }) = right.as_ref()
    else {
        return None;
    };
    let bare = s.strip_prefix("pg_catalog.")?;
    Some(Expr::BinaryOp {
        left: left.clone(),
        op: BinaryOperator::Eq,
        right: Box::new(string(bare)),
    })
}

/// `name` resolved the way `regclassin` does for quoted identifiers: either
/// `schema.table` or a table of the current schema. A name that is not
/// there gives NULL where PostgreSQL raises 42P01.
const REGCLASS_LOOKUP: &str = "SELECT max(r.oid) FROM (\
    SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name \
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
    UNION ALL \
    SELECT c.oid, quote_ident(c.relname) AS name \
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
    WHERE n.nspname = current_schema()) r WHERE r.name = $1";

/// `<text computed by a function>::regclass` -> the relation's oid.
fn computed_regclass(expr: &Expr) -> Option<Expr> {
    let Expr::Cast {
        expr: operand,
        data_type,
        ..
    } = expr
    else {
        return None;
    };
    let target = data_type.to_string().to_lowercase();
    if target.strip_prefix("pg_catalog.").unwrap_or(&target) != "regclass" {
        return None;
    }
    // Literals and parameters are the library's; a bare column is an oid
    // being displayed, which stays an identity cast.
    let computed = match strip_nested(operand) {
        Expr::Function(_) => true,
        Expr::BinaryOp {
            op: BinaryOperator::StringConcat,
            ..
        } => true,
        Expr::Cast { data_type, .. } => {
            matches!(
                data_type.to_string().to_lowercase().as_str(),
                "text" | "varchar"
            )
        }
        _ => false,
    };
    if !computed {
        return None;
    }
    static TEMPLATE: OnceLock<Query> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        match Parser::parse_sql(&PostgreSqlDialect {}, REGCLASS_LOOKUP)
            .expect("the lookup parses")
            .remove(0)
        {
            Statement::Query(q) => *q,
            _ => unreachable!("the lookup is a query"),
        }
    });
    struct Bind(Expr);
    impl VisitorMut for Bind {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(_),
                ..
            }) = e
            {
                *e = self.0.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let mut query = template.clone();
    let _ = VisitMut::visit(&mut query, &mut Bind(operand.as_ref().clone()));
    Some(Expr::Subquery(Box::new(query)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        let s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(s).to_string()
    }

    #[test]
    fn select_list_subqueries_over_records_are_kept() {
        let sql = "SELECT number, (SELECT count(*) FROM incident i2 WHERE i2.caller_id = i.caller_id) AS n FROM incident i";
        let out = parse(sql, 64).unwrap().remove(0).to_string();
        assert!(out.contains("((SELECT count(*)"), "{out}");
        // Catalog queries keep the library's treatment.
        let catalog = "SELECT c.relname, (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = c.relnamespace) FROM pg_catalog.pg_class c";
        let out = parse(catalog, 64).unwrap().remove(0).to_string();
        assert!(!out.contains("((SELECT"), "{out}");
    }

    #[test]
    fn grafana_search_path_subquery_is_substituted() {
        let sql = "SELECT c FROM information_schema.columns WHERE quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) ORDER BY 1";
        assert_eq!(
            substitute(sql).unwrap(),
            "SELECT c FROM information_schema.columns WHERE quote_ident(table_schema) = ANY(current_schemas(false)) ORDER BY 1"
        );
        assert_eq!(substitute("SELECT 1"), None);
    }

    #[test]
    fn field_access_on_expressions() {
        assert_eq!(
            rw("SELECT (f(x)).n, (r.keys).x FROM t"),
            "SELECT get_field(f(x), 'n'), get_field(r.keys, 'x') FROM t"
        );
    }

    #[test]
    fn set_returning_catalog_functions_unnest() {
        assert_eq!(
            rw("SELECT (information_schema._pg_expandarray(i.indkey)).n FROM pg_index i"),
            "SELECT get_field(unnest(_pg_expandarray(i.indkey)), 'n') FROM pg_index i"
        );
        assert_eq!(
            rw("SELECT generate_subscripts(indkey, 1) FROM pg_index"),
            "SELECT unnest(generate_series(array_lower(indkey, 1), array_upper(indkey, 1))) FROM pg_index"
        );
    }

    #[test]
    fn like_escape_becomes_backslash() {
        assert_eq!(reescape("a/_b/%c/\\d%", '/'), "a\\_b\\%c\\\\d%");
        assert_eq!(reescape("x\\y", '/'), "x\\\\y");
        assert_eq!(
            rw("SELECT 1 FROM t WHERE a LIKE 'pg/_%' ESCAPE '/'"),
            "SELECT 1 FROM t WHERE a LIKE 'pg\\_%'"
        );
        // A backslash escape, or a pattern that is not a literal, is left.
        assert_eq!(
            rw("SELECT 1 FROM t WHERE a LIKE 'x' ESCAPE '\\'"),
            "SELECT 1 FROM t WHERE a LIKE 'x' ESCAPE '\\'"
        );
        assert_eq!(
            rw("SELECT 1 FROM t WHERE a NOT LIKE $1 ESCAPE '/'"),
            "SELECT 1 FROM t WHERE a NOT LIKE pg_like_escape($1, '/')"
        );
    }

    #[test]
    fn only_catalog_scalar_subqueries_are_aggregated() {
        assert_eq!(
            rw(
                "SELECT 1 FROM pg_type t WHERE (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)"
            ),
            "SELECT 1 FROM pg_type t WHERE (SELECT first_value(c.relkind = 'c') FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)"
        );
        // Records are never rewritten: DataFusion's answer stands.
        let user = "SELECT 1 FROM incident i WHERE (SELECT u.name FROM sys_user u WHERE u.sys_id = i.caller_id) = 'x'";
        assert_eq!(rw(user), user);
        let mixed = "SELECT 1 FROM pg_class c WHERE (SELECT u.name FROM pg_catalog.pg_namespace n, sys_user u WHERE n.oid = c.relnamespace) = 'x'";
        assert_eq!(rw(mixed), mixed);
        // Already aggregated.
        let agg = "SELECT (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid) FROM pg_namespace n";
        assert_eq!(rw(agg), agg);
    }

    #[test]
    fn vector_subscripts_start_at_zero() {
        assert_eq!(
            rw("SELECT 1 FROM pg_index i, pg_attribute a WHERE a.attnum = i.indkey[a.attnum - 1]"),
            "SELECT 1 FROM pg_index i, pg_attribute a WHERE a.attnum = i.indkey[(a.attnum - 1) + 1]"
        );
        let other = "SELECT x[1] FROM t";
        assert_eq!(rw(other), other);
    }

    #[test]
    fn computed_regclass_names_are_looked_up() {
        let out = rw(
            "SELECT col_description(CAST(CAST(format('%I.%I', s, t) AS REGCLASS) AS OID), 1) FROM x",
        );
        assert!(out.contains("max(r.oid)"), "{out}");
        assert!(out.contains("r.name = format('%I.%I', s, t)"), "{out}");
        // An oid column displayed as regclass, and literals, are left alone.
        assert_eq!(
            rw("SELECT c.oid::regclass FROM pg_class c"),
            "SELECT c.oid::REGCLASS FROM pg_class c"
        );
    }

    #[test]
    fn qualified_regproc_names_are_bare() {
        assert_eq!(
            rw("SELECT oid FROM pg_catalog.pg_proc WHERE proname = 'pg_catalog.array_in'"),
            "SELECT oid FROM pg_catalog.pg_proc WHERE proname = 'array_in'"
        );
    }
}
