//! Arbitrary text through the statement gate every query goes through
//! (parse + allow-list).
//!
//! Never panics and never overflows the stack; everything it accepts is a
//! read or a session command. A read is a query with no statement of
//! another kind anywhere inside it (`WITH … INSERT`, a data-modifying CTE,
//! `EXPLAIN` of a write), no `SELECT … INTO` and no row locks, at any
//! depth.

#![no_main]

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use libfuzzer_sys::fuzz_target;
use sqlgate_engine::gate::{Command, check};

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(commands) = check(sql) else {
        return;
    };
    for command in &commands {
        match command {
            Command::Query(statement) => read_only(sql, statement, true),
            Command::Explain { statement, .. } => read_only(sql, statement, false),
            // A cursor's query: PostgreSQL takes only SELECT or VALUES there.
            Command::Declare(declare) => read_only(sql, &declare.statement, false),
            Command::Show(_)
            | Command::Set { .. }
            | Command::Reset(_)
            | Command::SetTransaction
            | Command::Begin
            | Command::Commit
            | Command::Rollback
            | Command::Savepoint(_)
            | Command::Discard
            | Command::Deallocate(_)
            | Command::Fetch(_)
            | Command::Close(_) => {}
        }
    }
});

/// Panics unless `statement` is a read through and through.
fn read_only(sql: &str, statement: &DFStatement, show_allowed: bool) {
    let DFStatement::Statement(s) = statement else {
        panic!("the gate let a DataFusion statement through: {statement:?}\ninput: {sql:?}");
    };
    match s.as_ref() {
        Statement::Query(_) => {}
        Statement::ShowTables { .. } | Statement::ShowColumns { .. } if show_allowed => {}
        other => panic!(
            "the gate let a {} statement through as a read\ninput: {sql:?}",
            kind(other)
        ),
    }
    let mut walk = Walk { depth: 0 };
    if let ControlFlow::Break(what) = s.visit(&mut walk) {
        panic!("the gate let a read with {what} through\ninput: {sql:?}");
    }
}

/// Finds what a read must not hold, anywhere in it.
struct Walk {
    depth: usize,
}

impl Visitor for Walk {
    type Break = String;

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<String> {
        self.depth += 1;
        match s {
            // The outer statement, and SHOW TABLES/COLUMNS at the top.
            Statement::Query(_) => ControlFlow::Continue(()),
            Statement::ShowTables { .. } | Statement::ShowColumns { .. } if self.depth == 1 => {
                ControlFlow::Continue(())
            }
            other => ControlFlow::Break(format!("a nested {} statement", kind(other))),
        }
    }

    fn post_visit_statement(&mut self, _: &Statement) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<String> {
        if !q.locks.is_empty() {
            return ControlFlow::Break("a row lock (FOR UPDATE/SHARE)".into());
        }
        let mut bodies = vec![q.body.as_ref()];
        while let Some(body) = bodies.pop() {
            match body {
                SetExpr::Select(s) if s.into.is_some() => {
                    return ControlFlow::Break("SELECT … INTO".into());
                }
                SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                    return ControlFlow::Break(format!("a data-modifying query body: {body}"));
                }
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

fn kind(s: &Statement) -> String {
    let text = s.to_string();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
