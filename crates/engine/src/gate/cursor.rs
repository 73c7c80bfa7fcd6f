//! The cursor statements: `DECLARE`, `FETCH`, `MOVE` and `CLOSE`.
//!
//! They are recognised on tokens, before the parser sees the request,
//! because the parser knows no `MOVE`, accepts only some of PostgreSQL's
//! `FETCH` forms, and would hand a `DECLARE`'s query to the compatibility
//! rewrites wrapped in a statement they do not expect. Cutting the header
//! off a `DECLARE` leaves its query to be judged exactly as the same query
//! sent on its own.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::{EngineError, sqlstate};

/// `FETCH` / `MOVE`: how far to go forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The cursor's name (folded to lower case unless quoted).
    pub name: String,
    /// Rows to return or skip; `None` for `ALL`.
    pub count: Option<u64>,
    /// `MOVE`: advance without returning rows.
    pub skip: bool,
}

/// One part of a request that holds cursor statements.
#[derive(Debug)]
pub(super) enum Piece<'a> {
    /// Other statements, gated as usual.
    Sql(&'a str),
    Declare {
        name: String,
        binary: bool,
        hold: bool,
        /// The text after `FOR`.
        query: &'a str,
    },
    Fetch(Fetch),
    /// `CLOSE name`; `None` for `CLOSE ALL`.
    Close(Option<String>),
}

fn syntax_error(near: Option<&Token>) -> EngineError {
    let message = match near {
        Some(t) => format!("syntax error at or near \"{t}\""),
        None => "syntax error at end of input".to_owned(),
    };
    EngineError::new(sqlstate::SYNTAX_ERROR, message)
}

fn forward_only() -> EngineError {
    EngineError::new(
        "55000",
        "cursor can only scan forward: the SQL API's cursors are NO SCROLL",
    )
}

/// Splits a request into cursor statements and the rest; `None` when it
/// holds no cursor statement (or does not tokenize: the parser then
/// reports the error as for any other request).
pub(super) fn split(sql: &str) -> Result<Option<Vec<Piece<'_>>>, EngineError> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location() else {
        return Ok(None);
    };
    // Each statement: the range of its tokens, without the semicolon.
    let mut statements = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.token == Token::SemiColon {
            statements.push(start..i);
            start = i + 1;
        }
    }
    statements.push(start..tokens.len());
    let kind = |range: &std::ops::Range<usize>| {
        significant(&tokens[range.clone()])
            .first()
            .and_then(|t| keyword(t))
            .filter(|k| ["DECLARE", "FETCH", "MOVE", "CLOSE"].contains(&k.as_str()))
    };
    if !statements.iter().any(|r| kind(r).is_some()) {
        return Ok(None);
    }
    let mut locator = Locator::new(sql);
    let mut pieces = Vec::new();
    // Where the pending run of other statements starts, as a byte offset.
    let mut run: Option<usize> = None;
    for range in &statements {
        let begin = tokens
            .get(range.start)
            .map_or(sql.len(), |t| locator.offset(t.span.start));
        let Some(k) = kind(range) else {
            run.get_or_insert(begin);
            continue;
        };
        if let Some(from) = run.take() {
            pieces.push(Piece::Sql(&sql[from..begin]));
        }
        let words = &tokens[range.clone()];
        let header = match k.as_str() {
            "DECLARE" => Some(declare(words, &mut locator)?),
            _ => None,
        };
        let end = tokens
            .get(range.end)
            .map_or(sql.len(), |t| locator.offset(t.span.start));
        pieces.push(match (k.as_str(), header) {
            (_, Some(h)) => Piece::Declare {
                name: h.name,
                binary: h.binary,
                hold: h.hold,
                query: &sql[h.query_start.unwrap_or(end).min(end)..end],
            },
            ("CLOSE", _) => close(&significant(words)[1..])?,
            _ => Piece::Fetch(fetch(&significant(words)[1..], k == "MOVE")?),
        });
    }
    if let Some(from) = run {
        pieces.push(Piece::Sql(&sql[from..]));
    }
    Ok(Some(pieces))
}

/// The tokens that are not whitespace or comments.
fn significant(tokens: &[TokenWithSpan]) -> Vec<&Token> {
    tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
}

/// An unquoted word, upper-cased.
fn keyword(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// A cursor name: quoted names are kept, others folded to lower case.
fn name(t: Option<&&Token>) -> Result<String, EngineError> {
    match t {
        Some(Token::Word(w)) if w.quote_style == Some('"') => Ok(w.value.clone()),
        Some(Token::Word(w)) if w.quote_style.is_none() => Ok(w.value.to_lowercase()),
        other => Err(syntax_error(other.copied())),
    }
}

/// What precedes a `DECLARE`'s query.
struct Header {
    name: String,
    binary: bool,
    hold: bool,
    /// Where the query starts (a byte offset); `None` when nothing follows
    /// `FOR`.
    query_start: Option<usize>,
}

/// `DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [NO SCROLL] CURSOR
/// [{WITH | WITHOUT} HOLD] FOR query`.
fn declare(tokens: &[TokenWithSpan], locator: &mut Locator<'_>) -> Result<Header, EngineError> {
    let positions: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let at = |k: usize| positions.get(k).map(|&i| &tokens[i].token);
    let word = |k: usize| at(k).and_then(keyword);
    let name = name(at(1).as_ref())?;
    let (mut binary, mut hold) = (false, false);
    let mut k = 2;
    loop {
        match word(k).as_deref() {
            Some("BINARY") => binary = true,
            Some("ASENSITIVE" | "INSENSITIVE") => {}
            Some("NO") if word(k + 1).as_deref() == Some("SCROLL") => k += 1,
            Some("SCROLL") => {
                return Err(EngineError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "scrollable cursors are not supported: declare the cursor NO SCROLL",
                ));
            }
            Some("CURSOR") => break,
            _ => return Err(syntax_error(at(k))),
        }
        k += 1;
    }
    k += 1;
    match (word(k).as_deref(), word(k + 1).as_deref()) {
        (Some("WITH"), Some("HOLD")) => {
            hold = true;
            k += 2;
        }
        (Some("WITHOUT"), Some("HOLD")) => k += 2,
        _ => {}
    }
    if word(k).as_deref() != Some("FOR") {
        return Err(syntax_error(at(k)));
    }
    Ok(Header {
        name,
        binary,
        hold,
        query_start: tokens
            .get(positions[k] + 1)
            .map(|t| locator.offset(t.span.start)),
    })
}

/// `FETCH` / `MOVE` after the keyword: `[direction] [FROM | IN] name`.
fn fetch(words: &[&Token], skip: bool) -> Result<Fetch, EngineError> {
    let count = |t: Option<&&Token>| match t {
        Some(Token::Number(n, _)) => n.parse::<u64>().map_err(|_| syntax_error(t.copied())),
        other => Err(syntax_error(other.copied())),
    };
    let is_number = |k: usize| matches!(words.get(k), Some(Token::Number(..)));
    let is_minus = |k: usize| matches!(words.get(k), Some(Token::Minus));
    let word = |k: usize| words.get(k).and_then(|t| keyword(t));
    let (rows, used) = match word(0).as_deref() {
        Some("NEXT") => (Some(1), 1),
        Some("ALL") => (None, 1),
        Some("FORWARD") if word(1).as_deref() == Some("ALL") => (None, 2),
        Some("FORWARD") if is_number(1) => (Some(count(words.get(1))?), 2),
        Some("FORWARD") if is_minus(1) => return Err(forward_only()),
        Some("FORWARD") => (Some(1), 1),
        Some("RELATIVE") if is_number(1) => (Some(count(words.get(1))?), 2),
        Some("PRIOR" | "FIRST" | "LAST" | "ABSOLUTE" | "RELATIVE" | "BACKWARD") => {
            return Err(forward_only());
        }
        _ if is_number(0) => (Some(count(words.first())?), 1),
        _ if is_minus(0) => return Err(forward_only()),
        _ => (Some(1), 0),
    };
    if rows == Some(0) {
        // PostgreSQL reads `FETCH 0` as "the current row again", which a
        // forward-only stream no longer holds.
        return Err(forward_only());
    }
    let mut k = used;
    if matches!(word(k).as_deref(), Some("FROM" | "IN")) {
        k += 1;
    }
    let name = name(words.get(k))?;
    if let Some(extra) = words.get(k + 1) {
        return Err(syntax_error(Some(extra)));
    }
    Ok(Fetch {
        name,
        count: rows,
        skip,
    })
}

/// `CLOSE` after the keyword: `name` or `ALL`.
fn close<'a>(words: &[&Token]) -> Result<Piece<'a>, EngineError> {
    if let Some(extra) = words.get(1) {
        return Err(syntax_error(Some(extra)));
    }
    if words.first().and_then(|t| keyword(t)).as_deref() == Some("ALL") {
        return Ok(Piece::Close(None));
    }
    Ok(Piece::Close(Some(name(words.first())?)))
}

/// Turns the tokenizer's line and column (counted in characters) into
/// byte offsets, walking forward only: locations must come in order.
struct Locator<'a> {
    sql: &'a str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Locator<'a> {
    fn new(sql: &'a str) -> Locator<'a> {
        Locator {
            sql,
            line: 1,
            column: 1,
            byte: 0,
        }
    }

    fn offset(&mut self, to: Location) -> usize {
        let mut chars = self.sql[self.byte..].chars();
        while (self.line, self.column) < (to.line, to.column) {
            let Some(c) = chars.next() else { break };
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.byte
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch_of(sql: &str) -> Fetch {
        match split(sql).unwrap().unwrap().pop() {
            Some(Piece::Fetch(f)) => f,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn fetch_forms() {
        let f = |sql| {
            let f = fetch_of(sql);
            (f.name, f.count, f.skip)
        };
        assert_eq!(
            f("FETCH 2048 IN \"SQL_CUR1\""),
            ("SQL_CUR1".into(), Some(2048), false)
        );
        assert_eq!(
            f("fetch forward 250 from c"),
            ("c".into(), Some(250), false)
        );
        assert_eq!(f("FETCH ALL FROM C"), ("c".into(), None, false));
        assert_eq!(f("FETCH FORWARD ALL IN c"), ("c".into(), None, false));
        assert_eq!(f("FETCH NEXT FROM c"), ("c".into(), Some(1), false));
        assert_eq!(f("FETCH FORWARD FROM c"), ("c".into(), Some(1), false));
        assert_eq!(f("FETCH c"), ("c".into(), Some(1), false));
        assert_eq!(f("FETCH 5 c"), ("c".into(), Some(5), false));
        assert_eq!(f("MOVE 10 FROM c"), ("c".into(), Some(10), true));
        assert_eq!(f("move all in c"), ("c".into(), None, true));
    }

    #[test]
    fn backward_fetches_are_refused() {
        for sql in [
            "FETCH PRIOR FROM c",
            "FETCH BACKWARD 2 FROM c",
            "FETCH -1 FROM c",
            "FETCH ABSOLUTE 3 FROM c",
            "FETCH 0 FROM c",
        ] {
            assert_eq!(split(sql).unwrap_err().code, "55000", "{sql}");
        }
        assert_eq!(split("FETCH 2 FROM c d").unwrap_err().code, "42601");
        assert_eq!(split("FETCH 2 FROM").unwrap_err().code, "42601");
    }

    #[test]
    fn declare_keeps_the_query_text_as_written() {
        let sql = "BEGIN; -- first\n declare \"Cur\" binary no scroll cursor with hold for\n  SELECT ';' AS x ;fetch 1 in \"Cur\"; COMMIT";
        let pieces = split(sql).unwrap().unwrap();
        assert_eq!(pieces.len(), 4, "{pieces:?}");
        assert!(matches!(pieces[0], Piece::Sql(s) if s.trim() == "BEGIN;"));
        match &pieces[1] {
            Piece::Declare {
                name,
                binary,
                hold,
                query,
            } => {
                assert_eq!(name, "Cur");
                assert!(*binary && *hold);
                assert_eq!(query.trim(), "SELECT ';' AS x");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&pieces[2], Piece::Fetch(f) if f.name == "Cur"));
        assert!(matches!(pieces[3], Piece::Sql(s) if s.trim() == "COMMIT"));
    }

    #[test]
    fn non_ascii_text_before_a_declare_keeps_offsets() {
        let sql = "SELECT 'é€'; DECLARE c CURSOR FOR SELECT 'ü'";
        let pieces = split(sql).unwrap().unwrap();
        match &pieces[1] {
            Piece::Declare { query, .. } => assert_eq!(query.trim(), "SELECT 'ü'"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_without_cursor_statements_are_left_alone() {
        assert!(split("SELECT 1; SELECT 'fetch'").unwrap().is_none());
        assert!(split("SELECT 'unterminated").unwrap().is_none());
    }

    #[test]
    fn close_forms() {
        assert!(matches!(
            split("CLOSE ALL").unwrap().unwrap()[0],
            Piece::Close(None)
        ));
        assert!(matches!(
            &split("close \"X\"").unwrap().unwrap()[0],
            Piece::Close(Some(n)) if n == "X"
        ));
        assert_eq!(split("CLOSE").unwrap_err().code, "42601");
    }
}
