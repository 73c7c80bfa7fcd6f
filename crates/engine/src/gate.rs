//! The statement gate: the SQL text is parsed once (with the parser
//! DataFusion re-exports) and every statement is classified against an
//! allow-list before anything is planned. Reads pass; writes answer 25006 as
//! on a read-only server; everything else that could reach files, settings
//! or server state answers 42501. A request is checked as a whole, so
//! `SELECT 1; DROP TABLE t` runs nothing.

use std::ops::ControlFlow;

use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    self, Expr, ObjectName, SetExpr, Statement, TransactionAccessMode, TransactionMode, Value,
    visit_relations,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::ParserError;

use crate::error::{EngineError, sqlstate};

mod cursor;

pub use cursor::Fetch;

/// How deep the parser may recurse: deeper input is refused (54001) rather
/// than risking the stack.
const RECURSION_LIMIT: usize = 64;

/// The deepest expression tree a statement may hold.
const MAX_EXPR_DEPTH: usize = 1000;

/// Table functions a query may call; anything else could read files.
const TABLE_FUNCTIONS: [&str; 3] = ["generate_series", "range", "pg_get_keywords"];

/// A statement that passed the gate.
#[derive(Debug, Clone)]
pub enum Command {
    /// A read: SELECT, WITH, VALUES, TABLE, SHOW TABLES/COLUMNS.
    Query(Box<DFStatement>),
    /// EXPLAIN of a read.
    Explain {
        analyze: bool,
        statement: Box<DFStatement>,
    },
    /// `SHOW name` / `SHOW ALL` (name lowercased).
    Show(String),
    /// `SET name = value`, `SET TIME ZONE`, `SET NAMES`.
    Set {
        name: String,
        value: String,
    },
    /// `RESET name`; `None` for `RESET ALL`.
    Reset(Option<String>),
    /// `SET [SESSION CHARACTERISTICS AS] TRANSACTION ...` (read-only modes).
    SetTransaction,
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT / RELEASE / ROLLBACK TO: accepted, nothing to undo.
    Savepoint(&'static str),
    /// `DISCARD ALL` and friends.
    Discard,
    /// `DEALLOCATE name`; `None` for `DEALLOCATE ALL`.
    Deallocate(Option<String>),
    /// `DECLARE name CURSOR FOR query`.
    Declare(Box<Declare>),
    /// `FETCH` or `MOVE`.
    Fetch(Fetch),
    /// `CLOSE name`; `None` for `CLOSE ALL`.
    Close(Option<String>),
}

/// A cursor declaration whose query passed the gate.
#[derive(Debug, Clone)]
pub struct Declare {
    /// Folded to lower case unless quoted, as PostgreSQL does.
    pub name: String,
    /// `BINARY`: rows in binary format over the simple protocol.
    pub binary: bool,
    /// `WITH HOLD`: the cursor outlives the transaction that made it.
    pub hold: bool,
    /// The query, as [`Command::Query`] would hold it.
    pub statement: Box<DFStatement>,
}

/// Parses and gates a request. Empty requests give no commands.
pub fn check(sql: &str) -> Result<Vec<Command>, EngineError> {
    let Some(pieces) = cursor::split(sql)? else {
        return check_statements(sql);
    };
    let mut commands = Vec::new();
    for piece in pieces {
        match piece {
            cursor::Piece::Sql(text) => commands.extend(check_statements(text)?),
            cursor::Piece::Declare {
                name,
                binary,
                hold,
                query,
            } => commands.push(declare(name, binary, hold, query)?),
            cursor::Piece::Fetch(f) => commands.push(Command::Fetch(f)),
            cursor::Piece::Close(name) => commands.push(Command::Close(name)),
        }
    }
    Ok(commands)
}

/// A cursor's query goes through the same checks as the query sent alone;
/// PostgreSQL accepts only SELECT and VALUES there.
fn declare(name: String, binary: bool, hold: bool, query: &str) -> Result<Command, EngineError> {
    let mut commands = check_statements(query)?;
    match commands.pop() {
        Some(Command::Query(statement))
            if commands.is_empty()
                && matches!(&*statement, DFStatement::Statement(s) if matches!(**s, Statement::Query(_))) =>
        {
            Ok(Command::Declare(Box::new(Declare {
                name,
                binary,
                hold,
                statement,
            })))
        }
        None => Err(EngineError::new(
            sqlstate::SYNTAX_ERROR,
            "syntax error at end of input",
        )),
        Some(_) => Err(EngineError::new(
            sqlstate::SYNTAX_ERROR,
            "DECLARE CURSOR needs a SELECT or VALUES query",
        )),
    }
}

/// Parses and gates statements other than the cursor ones.
fn check_statements(sql: &str) -> Result<Vec<Command>, EngineError> {
    // PostgreSQL's grammar first, with the rewrites that make common client
    // introspection queries plannable (`::regclass`, `= ANY(array)`, ...).
    // They change the AST before the gate judges it, so the gate judges
    // what will run.
    match crate::compat::parse(sql, RECURSION_LIMIT) {
        Ok(statements) => statements.into_iter().map(gate_sql).collect(),
        Err(first) => {
            // DataFusion's own statements (CREATE EXTERNAL TABLE, COPY TO
            // a file) are only known to its parser: parse them to refuse
            // them for what they are.
            let parsed = DFParserBuilder::new(sql)
                .with_dialect(&PostgreSqlDialect {})
                .with_recursion_limit(RECURSION_LIMIT)
                .build()
                .and_then(|mut p| p.parse_statements());
            match parsed {
                Ok(statements) => statements.into_iter().map(gate).collect(),
                Err(_) if matches!(first, ParserError::RecursionLimitExceeded) => {
                    Err(EngineError::new("54001", "statement is too deeply nested"))
                }
                Err(DataFusionError::SQL(ref p, _))
                    if matches!(**p, ParserError::RecursionLimitExceeded) =>
                {
                    Err(EngineError::new("54001", "statement is too deeply nested"))
                }
                Err(e) => Err(crate::error::classify(e)),
            }
        }
    }
}

fn refused(what: &str) -> EngineError {
    EngineError::new(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        format!("{what} is not permitted: the SQL API accepts read-only queries"),
    )
}

fn read_only(what: &str) -> EngineError {
    EngineError::new(
        sqlstate::READ_ONLY_TRANSACTION,
        format!("cannot execute {what} in a read-only transaction"),
    )
}

fn gate(statement: DFStatement) -> Result<Command, EngineError> {
    match statement {
        DFStatement::Statement(s) => gate_sql(*s),
        DFStatement::CreateExternalTable(_) => Err(refused("CREATE EXTERNAL TABLE")),
        DFStatement::CopyTo(_) => Err(refused("COPY")),
        DFStatement::Explain(e) => match *e.statement {
            DFStatement::Statement(s) if matches!(*s, Statement::Query(_)) => {
                check_query(&s)?;
                Ok(Command::Explain {
                    analyze: e.options.analyze,
                    statement: Box::new(DFStatement::Statement(s)),
                })
            }
            _ => Err(refused("EXPLAIN of this statement")),
        },
        DFStatement::Reset(r) => Ok(Command::Reset(match r {
            datafusion::sql::parser::ResetStatement::Variable(name) => Some(object_name(&name)),
        })),
    }
}

fn gate_sql(s: Statement) -> Result<Command, EngineError> {
    use Statement as S;
    match s {
        S::Query(ref q) => {
            if let SetExpr::Select(sel) = q.body.as_ref()
                && sel.into.is_some()
            {
                return Err(read_only("SELECT INTO"));
            }
            if !q.locks.is_empty() {
                return Err(read_only("SELECT FOR UPDATE/SHARE"));
            }
            check_query(&s)?;
            Ok(Command::Query(Box::new(DFStatement::Statement(Box::new(
                s,
            )))))
        }
        S::ShowTables { .. } | S::ShowColumns { .. } => Ok(Command::Query(Box::new(
            DFStatement::Statement(Box::new(s)),
        ))),
        S::Explain {
            statement, analyze, ..
        } => match *statement {
            S::Query(_) => {
                check_query(&statement)?;
                Ok(Command::Explain {
                    analyze,
                    statement: Box::new(DFStatement::Statement(statement)),
                })
            }
            _ => Err(refused("EXPLAIN of this statement")),
        },
        S::ShowVariable { variable } => Ok(Command::Show(
            variable
                .iter()
                .map(|i| i.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        )),
        S::Set(set) => gate_set(set),
        S::Reset(r) => Ok(Command::Reset(match r.reset {
            ast::Reset::ALL => None,
            ast::Reset::ConfigurationParameter(name) => Some(object_name(&name)),
        })),
        S::StartTransaction { modes, .. } => {
            check_modes(&modes)?;
            Ok(Command::Begin)
        }
        S::Commit { .. } => Ok(Command::Commit),
        S::Rollback {
            savepoint: None, ..
        } => Ok(Command::Rollback),
        S::Rollback {
            savepoint: Some(_), ..
        } => Ok(Command::Savepoint("ROLLBACK")),
        S::Savepoint { .. } => Ok(Command::Savepoint("SAVEPOINT")),
        S::ReleaseSavepoint { .. } => Ok(Command::Savepoint("RELEASE")),
        S::Discard { .. } => Ok(Command::Discard),
        S::Deallocate { name, .. } => Ok(Command::Deallocate(
            (!name.value.eq_ignore_ascii_case("all")).then(|| name.value.clone()),
        )),
        S::Insert(_) => Err(read_only("INSERT")),
        S::Update(_) => Err(read_only("UPDATE")),
        S::Delete(_) => Err(read_only("DELETE")),
        S::Merge(_) => Err(read_only("MERGE")),
        S::Truncate(_) => Err(read_only("TRUNCATE")),
        S::CreateTable(ref t) if t.external => Err(refused("CREATE EXTERNAL TABLE")),
        S::CreateTable(_) => Err(read_only("CREATE TABLE")),
        S::CreateView(_) => Err(read_only("CREATE VIEW")),
        S::CreateIndex(_) => Err(read_only("CREATE INDEX")),
        S::CreateSchema { .. } => Err(read_only("CREATE SCHEMA")),
        S::CreateDatabase { .. } => Err(read_only("CREATE DATABASE")),
        S::CreateFunction(_) => Err(read_only("CREATE FUNCTION")),
        S::CreateSequence { .. } => Err(read_only("CREATE SEQUENCE")),
        S::CreateType { .. } => Err(read_only("CREATE TYPE")),
        S::AlterTable(_) => Err(read_only("ALTER TABLE")),
        S::AlterView { .. } => Err(read_only("ALTER VIEW")),
        S::AlterIndex { .. } => Err(read_only("ALTER INDEX")),
        S::AlterSchema(_) => Err(read_only("ALTER SCHEMA")),
        S::Drop { .. } => Err(read_only("DROP")),
        S::DropFunction(_) => Err(read_only("DROP FUNCTION")),
        S::Comment { .. } => Err(read_only("COMMENT")),
        S::RenameTable(_) => Err(read_only("RENAME")),
        S::Copy { .. } => Err(refused("COPY")),
        S::Grant(_) | S::Revoke(_) | S::Deny(_) => Err(refused("GRANT/REVOKE")),
        S::CreateRole(_) | S::AlterRole { .. } | S::CreateUser(_) | S::AlterUser(_) => {
            Err(refused("role management"))
        }
        S::Prepare { .. } | S::Execute { .. } => Err(EngineError::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "SQL-level PREPARE/EXECUTE is not supported; use the extended query protocol",
        )),
        // Cursor statements are taken apart before parsing; these forms
        // reach the parser only nested where PostgreSQL has no cursors.
        S::Declare { .. } | S::Fetch { .. } | S::Close { .. } => Err(EngineError::new(
            sqlstate::SYNTAX_ERROR,
            "cursor statements must stand on their own",
        )),
        other => Err(refused(statement_kind(&other))),
    }
}

fn statement_kind(s: &Statement) -> &'static str {
    match s {
        Statement::Install { .. }
        | Statement::Load { .. }
        | Statement::LoadData { .. }
        | Statement::AttachDatabase { .. }
        | Statement::AttachDuckDBDatabase { .. } => "loading extensions or files",
        Statement::Unload { .. } | Statement::ExportData(_) => "exporting to files",
        _ => "this statement",
    }
}

fn gate_set(set: ast::Set) -> Result<Command, EngineError> {
    use ast::Set as T;
    let value_of = |values: &[Expr]| -> String {
        values.iter().map(expr_value).collect::<Vec<_>>().join(", ")
    };
    match set {
        T::SingleAssignment {
            variable, values, ..
        } => Ok(Command::Set {
            name: object_name(&variable),
            value: value_of(&values),
        }),
        T::SetTimeZone { value, .. } => Ok(Command::Set {
            name: "timezone".into(),
            value: expr_value(&value),
        }),
        T::SetNames { charset_name, .. } => Ok(Command::Set {
            name: "client_encoding".into(),
            value: charset_name.value,
        }),
        T::SetNamesDefault {} => Ok(Command::Reset(Some("client_encoding".into()))),
        T::SetTransaction { modes, .. } => {
            check_modes(&modes)?;
            Ok(Command::SetTransaction)
        }
        T::SetRole { .. } | T::SetSessionAuthorization(_) => {
            Err(refused("changing the session role"))
        }
        _ => Err(refused("this form of SET")),
    }
}

fn check_modes(modes: &[TransactionMode]) -> Result<(), EngineError> {
    if modes.iter().any(|m| {
        matches!(
            m,
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite)
        )
    }) {
        return Err(read_only("a read-write transaction"));
    }
    Ok(())
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|p| p.to_string().trim_matches('"').to_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

/// The text of a SET value: `'x'`, `x`, `1`, `DEFAULT`.
fn expr_value(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            Value::Boolean(b) => b.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        Expr::UnaryOp { op, expr } => format!("{op}{}", expr_value(expr)),
        other => other.to_string(),
    }
}

/// Refuses file paths used as tables and table functions outside the
/// allow-list, anywhere in the statement (subqueries, CTEs, joins).
fn check_query(s: &Statement) -> Result<(), EngineError> {
    let outcome = visit_relations(s, |name: &ObjectName| {
        if looks_like_path(name) {
            ControlFlow::Break(refused("reading a file path as a table"))
        } else {
            ControlFlow::Continue(())
        }
    });
    if let ControlFlow::Break(e) = outcome {
        return Err(e);
    }
    check_nested_writes(s)?;
    check_table_functions(s)
}

/// Refuses, at any depth of a read (subqueries, CTEs, set operations, the
/// query of an EXPLAIN or a cursor), what the checks on the outer query
/// refuse at the top: a data-modifying statement (`WITH x AS (INSERT …)`),
/// `SELECT … INTO` and row locks (`FOR UPDATE` / `FOR SHARE`), with the
/// same SQLSTATE.
fn check_nested_writes(s: &Statement) -> Result<(), EngineError> {
    use ast::{Query, Visit, Visitor};
    struct Walk;
    impl Visitor for Walk {
        type Break = EngineError;
        fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<EngineError> {
            ControlFlow::Break(match s {
                Statement::Query(_) => return ControlFlow::Continue(()),
                Statement::Insert(_) => read_only("INSERT"),
                Statement::Update(_) => read_only("UPDATE"),
                Statement::Delete(_) => read_only("DELETE"),
                Statement::Merge(_) => read_only("MERGE"),
                _ => refused("a statement inside a query"),
            })
        }
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<EngineError> {
            if !q.locks.is_empty() {
                return ControlFlow::Break(read_only("SELECT FOR UPDATE/SHARE"));
            }
            let mut bodies = vec![q.body.as_ref()];
            while let Some(body) = bodies.pop() {
                match body {
                    SetExpr::Select(s) if s.into.is_some() => {
                        return ControlFlow::Break(read_only("SELECT INTO"));
                    }
                    SetExpr::Insert(_) => return ControlFlow::Break(read_only("INSERT")),
                    SetExpr::Update(_) => return ControlFlow::Break(read_only("UPDATE")),
                    SetExpr::Delete(_) => return ControlFlow::Break(read_only("DELETE")),
                    SetExpr::Merge(_) => return ControlFlow::Break(read_only("MERGE")),
                    SetExpr::SetOperation { left, right, .. } => {
                        bodies.push(left);
                        bodies.push(right);
                    }
                    _ => {}
                }
            }
            ControlFlow::Continue(())
        }
    }
    match s.visit(&mut Walk) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// A relation name that DataFusion could read as a file: a quoted string,
/// a path separator, a URL, or a file extension.
fn looks_like_path(name: &ObjectName) -> bool {
    name.0.iter().filter_map(|p| p.as_ident()).any(|ident| {
        let v = ident.value.to_lowercase();
        ident.quote_style == Some('\'')
            || v.contains('/')
            || v.contains('\\')
            || v.contains("://")
            || [
                ".parquet", ".csv", ".json", ".avro", ".arrow", ".ndjson", ".gz", ".zst",
            ]
            .iter()
            .any(|ext| v.ends_with(ext))
    })
}

/// Refuses table functions outside the allow-list, and expression trees
/// deeper than [`MAX_EXPR_DEPTH`] (a 3,000-term `1 + 1 + ...` is a chain the
/// parser builds without recursing, but every later pass walks it
/// recursively).
fn check_table_functions(s: &Statement) -> Result<(), EngineError> {
    use ast::{Visit, Visitor};
    struct Walk {
        depth: usize,
        error: Option<EngineError>,
    }
    impl Visitor for Walk {
        type Break = ();
        fn pre_visit_table_factor(&mut self, t: &ast::TableFactor) -> ControlFlow<()> {
            if let ast::TableFactor::Table {
                name,
                args: Some(_),
                ..
            } = t
            {
                let f = name.to_string().to_lowercase();
                if !TABLE_FUNCTIONS.contains(&f.as_str()) {
                    self.error = Some(EngineError::new(
                        sqlstate::UNDEFINED_FUNCTION,
                        format!("function {f} does not exist"),
                    ));
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.depth += 1;
            if self.depth > MAX_EXPR_DEPTH {
                self.error = Some(EngineError::new(
                    "54001",
                    format!("expression is nested more than {MAX_EXPR_DEPTH} levels deep"),
                ));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut v = Walk {
        depth: 0,
        error: None,
    };
    let _ = s.visit(&mut v);
    v.error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(sql: &str) -> &'static str {
        check(sql).expect_err(sql).code
    }

    #[test]
    fn reads_pass() {
        for sql in [
            "SELECT 1",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "VALUES (1), (2)",
            "SELECT * FROM incident WHERE priority = $1",
            "EXPLAIN SELECT 1",
            "SHOW search_path",
            "SET extra_float_digits = 3",
            "BEGIN READ ONLY",
            "COMMIT",
            "SELECT * FROM generate_series(1, 3)",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn writes_are_read_only_errors() {
        for sql in [
            "INSERT INTO incident VALUES (1)",
            "UPDATE incident SET state = 7",
            "DELETE FROM incident",
            "CREATE TABLE t (a int)",
            "DROP TABLE incident",
            "ALTER TABLE incident ADD COLUMN x int",
            "TRUNCATE incident",
            "SELECT * INTO t2 FROM incident",
            "SELECT * FROM incident FOR UPDATE",
            "BEGIN READ WRITE",
        ] {
            assert_eq!(code(sql), "25006", "{sql}");
        }
    }

    /// Found by running the statement_gate fuzz target's read-only check
    /// on hand-written inputs: the gate checked `INTO`, row locks and
    /// data-modifying bodies only on the outermost query of a plain read.
    #[test]
    fn writes_nested_in_reads_are_read_only_errors() {
        for sql in [
            "SELECT * FROM (SELECT * FROM incident FOR UPDATE) s",
            "SELECT * FROM incident WHERE sys_id IN (SELECT sys_id FROM task FOR SHARE)",
            "WITH x AS (INSERT INTO incident VALUES (1) RETURNING *) SELECT * FROM x",
            "WITH x AS (DELETE FROM incident RETURNING *) SELECT * FROM x",
            "WITH x AS (UPDATE incident SET priority = 1 RETURNING *) SELECT 1",
            "SELECT * FROM (SELECT 1 INTO t3) s",
            "SELECT 1 UNION SELECT 2 INTO t3",
            "EXPLAIN SELECT * INTO t2 FROM incident",
            "EXPLAIN ANALYZE SELECT * FROM incident FOR UPDATE",
            "EXPLAIN WITH x AS (INSERT INTO incident VALUES (1) RETURNING *) SELECT 1",
            "DECLARE c CURSOR FOR SELECT * FROM (SELECT 1 FROM incident FOR UPDATE) s",
        ] {
            assert_eq!(code(sql), "25006", "{sql}");
        }
        // Reads that only look alike pass.
        for sql in [
            "SELECT 'INSERT INTO t VALUES (1)' AS x",
            "WITH x AS (SELECT 1 AS update) SELECT * FROM x",
            "SELECT * FROM (SELECT 1 UNION SELECT 2) s",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn file_access_and_server_statements_are_refused() {
        for sql in [
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
            "COPY incident TO '/tmp/x.csv'",
            "COPY (SELECT 1) TO STDOUT",
            "COPY incident TO STDOUT",
            "COPY incident FROM STDIN",
            "SELECT * FROM '/etc/passwd'",
            "SELECT * FROM \"data/incident/part-00000.parquet\"",
            "SELECT * FROM (SELECT * FROM 'x.csv') s",
            "GRANT SELECT ON incident TO bob",
            "SET ROLE admin",
        ] {
            assert_eq!(code(sql), "42501", "{sql}");
        }
    }

    #[test]
    fn unknown_table_functions_are_refused() {
        assert_eq!(
            code("SELECT * FROM read_parquet('/etc/x.parquet')"),
            "42883"
        );
        assert_eq!(code("SELECT * FROM read_csv('x')"), "42883");
    }

    #[test]
    fn a_forbidden_statement_refuses_the_whole_request() {
        assert_eq!(code("SELECT 1; DROP TABLE incident"), "25006");
    }

    #[test]
    fn long_operator_chains_are_refused_not_a_crash() {
        let sql = format!("SELECT {}1", "1 + ".repeat(3000));
        assert_eq!(code(&sql), "54001");
        let sql = format!("SELECT * FROM t WHERE {}", vec!["a = 1"; 2000].join(" OR "));
        assert_eq!(code(&sql), "54001");
    }

    #[test]
    fn syntax_errors_are_42601() {
        assert_eq!(code("SELEC 1"), "42601");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(code(&sql), "54001");
    }

    #[test]
    fn cursor_statements_are_classified() {
        let commands = check(
            "BEGIN; DECLARE \"C1\" NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM incident; \
             FETCH FORWARD 10 FROM \"C1\"; MOVE 5 IN \"C1\"; CLOSE \"C1\"; CLOSE ALL; COMMIT",
        )
        .unwrap();
        assert!(matches!(commands[0], Command::Begin));
        match &commands[1] {
            Command::Declare(d) => {
                assert_eq!(d.name, "C1");
                assert!(d.hold && !d.binary);
                assert!(
                    matches!(&*d.statement, DFStatement::Statement(s) if matches!(**s, Statement::Query(_)))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&commands[2], Command::Fetch(f) if f.name == "C1" && f.count == Some(10) && !f.skip)
        );
        assert!(matches!(&commands[3], Command::Fetch(f) if f.count == Some(5) && f.skip));
        assert!(matches!(&commands[4], Command::Close(Some(n)) if n == "C1"));
        assert!(matches!(commands[5], Command::Close(None)));
        assert!(matches!(commands[6], Command::Commit));
        match &check("declare c binary cursor for values (1)").unwrap()[0] {
            Command::Declare(d) => assert!(d.name == "c" && d.binary && !d.hold),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cursor_query_passes_the_same_gate() {
        assert_eq!(
            code("DECLARE c CURSOR FOR SELECT * FROM '/etc/passwd'"),
            "42501"
        );
        assert_eq!(
            code("DECLARE c CURSOR FOR SELECT * FROM read_csv('x')"),
            "42883"
        );
        assert_eq!(
            code("DECLARE c CURSOR FOR SELECT * FROM incident FOR UPDATE"),
            "25006"
        );
        assert_eq!(
            code("DECLARE c CURSOR FOR SELECT * INTO t2 FROM incident"),
            "25006"
        );
        assert_eq!(code("DECLARE c CURSOR FOR DELETE FROM incident"), "25006");
        assert_eq!(code("DECLARE c CURSOR FOR SHOW search_path"), "42601");
        assert_eq!(code("DECLARE c CURSOR FOR"), "42601");
        assert_eq!(code("DECLARE c SCROLL CURSOR FOR SELECT 1"), "0A000");
        assert_eq!(code("DECLARE c CURSOR SELECT 1"), "42601");
        // The whole request is refused, the cursor statements included.
        assert_eq!(
            code("DECLARE c CURSOR FOR SELECT 1; DROP TABLE incident"),
            "25006"
        );
        assert_eq!(code("FETCH BACKWARD 1 FROM c"), "55000");
    }
}
