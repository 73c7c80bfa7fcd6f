//! Every way a statement can fail, and its SQLSTATE — decided here and
//! nowhere else. DataFusion's errors are classified once into PostgreSQL's
//! codes and messages; a forbidden table and a missing one produce the very
//! same error, because the planner never sees the forbidden one.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;

/// A failed statement, with the SQLSTATE the client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for EngineError {}

/// SQLSTATE codes the engine uses.
pub mod sqlstate {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const GROUPING_ERROR: &str = "42803";
    pub const READ_ONLY_TRANSACTION: &str = "25006";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const QUERY_CANCELED: &str = "57014";
    pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
    pub const SYNTAX_OR_ACCESS_RULE: &str = "42000";
    pub const INTERNAL_ERROR: &str = "XX000";
}

impl EngineError {
    pub fn new(code: &'static str, message: impl Into<String>) -> EngineError {
        EngineError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> EngineError {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> EngineError {
        self.detail = Some(detail.into());
        self
    }

    /// The answer for a table that is missing or that the account may not
    /// query: identical in both cases, by construction.
    pub fn undefined_table(name: &str) -> EngineError {
        EngineError::new(
            sqlstate::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )
    }

    pub fn undefined_column(name: &str) -> EngineError {
        EngineError::new(
            sqlstate::UNDEFINED_COLUMN,
            format!("column \"{name}\" does not exist"),
        )
    }

    pub fn canceled() -> EngineError {
        EngineError::new(
            sqlstate::QUERY_CANCELED,
            "canceling statement due to user request",
        )
    }

    pub fn timed_out() -> EngineError {
        EngineError::new(
            sqlstate::QUERY_CANCELED,
            "canceling statement due to statement timeout",
        )
    }
}

impl From<DataFusionError> for EngineError {
    fn from(e: DataFusionError) -> EngineError {
        classify(e)
    }
}

/// Maps a DataFusion error to a PostgreSQL-style error.
pub fn classify(e: DataFusionError) -> EngineError {
    use sqlstate::*;
    match e {
        DataFusionError::Context(_, inner) => classify(*inner),
        DataFusionError::Diagnostic(_, inner) => classify(*inner),
        DataFusionError::Shared(inner) => classify(DataFusionError::External(Box::new(
            SharedError(inner.to_string()),
        ))),
        DataFusionError::Collection(mut errs) if !errs.is_empty() => classify(errs.remove(0)),
        DataFusionError::SQL(e, _) => {
            EngineError::new(SYNTAX_ERROR, strip_sql_prefix(&e.to_string()))
        }
        DataFusionError::SchemaError(e, _) => match *e {
            SchemaError::FieldNotFound { field, .. } => EngineError::undefined_column(&field.name),
            SchemaError::AmbiguousReference { field } => EngineError::new(
                AMBIGUOUS_COLUMN,
                format!("column reference \"{}\" is ambiguous", field.name),
            ),
            other => EngineError::new(SYNTAX_OR_ACCESS_RULE, other.to_string()),
        },
        DataFusionError::ArrowError(e, _) => classify_arrow(&e),
        DataFusionError::ResourcesExhausted(m) => {
            EngineError::new(OUT_OF_MEMORY, "out of memory for this query").with_detail(m)
        }
        DataFusionError::NotImplemented(m) => {
            EngineError::new(FEATURE_NOT_SUPPORTED, format!("not supported: {m}"))
        }
        DataFusionError::Plan(m) => classify_plan(&m),
        DataFusionError::Execution(m) => classify_execution(&m),
        DataFusionError::External(e) => match e.downcast::<EngineError>() {
            Ok(engine) => *engine,
            Err(e) => match e.downcast::<ArrowError>() {
                Ok(arrow) => classify_arrow(&arrow),
                Err(e) => classify_execution(&e.to_string()),
            },
        },
        other => EngineError::new(INTERNAL_ERROR, other.to_string()),
    }
}

#[derive(Debug)]
struct SharedError(String);
impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SharedError {}

fn strip_sql_prefix(m: &str) -> String {
    m.trim_start_matches("sql parser error: ")
        .trim_start_matches("ParserError(\"")
        .trim_end_matches("\")")
        .to_owned()
}

fn classify_arrow(e: &ArrowError) -> EngineError {
    use sqlstate::*;
    match e {
        ArrowError::DivideByZero => EngineError::new(DIVISION_BY_ZERO, "division by zero"),
        ArrowError::CastError(m) | ArrowError::ParseError(m) => {
            EngineError::new(INVALID_TEXT_REPRESENTATION, m.clone())
        }
        ArrowError::ArithmeticOverflow(m) => {
            EngineError::new(NUMERIC_VALUE_OUT_OF_RANGE, m.clone())
        }
        ArrowError::ComputeError(m) if m.contains("Overflow") || m.contains("overflow") => {
            EngineError::new(NUMERIC_VALUE_OUT_OF_RANGE, m.clone())
        }
        ArrowError::ExternalError(inner) => classify_execution(&inner.to_string()),
        other => EngineError::new(DATA_EXCEPTION, other.to_string()),
    }
}

/// Planning errors arrive as text; these patterns are DataFusion 55's.
fn classify_plan(m: &str) -> EngineError {
    use sqlstate::*;
    if let Some(name) = between(m, "table '", "' not found") {
        // `datafusion.public.x` -> `x`: only the name the user wrote.
        let short = name.rsplit('.').next().unwrap_or(name);
        return EngineError::undefined_table(short);
    }
    if let Some(name) = between(m, "Invalid function '", "'") {
        return EngineError::new(
            UNDEFINED_FUNCTION,
            format!("function {name} does not exist"),
        );
    }
    if m.contains("No function matches the given name and argument types")
        || m.contains("does not support")
        || m.contains("Failed to coerce")
        || m.contains("Cannot infer common argument type")
        || m.contains("Cannot coerce")
    {
        return EngineError::new(UNDEFINED_FUNCTION, first_line(m));
    }
    if m.contains("must appear in the GROUP BY clause")
        || m.contains("Projection references non-aggregate values")
    {
        return EngineError::new(GROUPING_ERROR, first_line(m));
    }
    if m.contains("Unsupported") || m.contains("not supported") {
        return EngineError::new(FEATURE_NOT_SUPPORTED, first_line(m));
    }
    if m.contains("Correlated scalar subquery must be aggregated") {
        return EngineError::new(
            FEATURE_NOT_SUPPORTED,
            "a correlated scalar subquery must be aggregated",
        )
        .with_hint("wrap the selected value in an aggregate such as max() or min()");
    }
    EngineError::new(SYNTAX_OR_ACCESS_RULE, first_line(m))
}

fn classify_execution(m: &str) -> EngineError {
    use sqlstate::*;
    if m.contains("Divide by zero") || m.contains("division by zero") {
        EngineError::new(DIVISION_BY_ZERO, "division by zero")
    } else if m.contains("Cannot cast") || m.contains("Cast error") || m.contains("Parser error") {
        EngineError::new(INVALID_TEXT_REPRESENTATION, first_line(m))
    } else if m.contains("Overflow") || m.contains("overflow") {
        EngineError::new(NUMERIC_VALUE_OUT_OF_RANGE, first_line(m))
    } else if m.contains("Scalar subquery returned more than one row") {
        EngineError::new(
            CARDINALITY_VIOLATION,
            "more than one row returned by a subquery used as an expression",
        )
    } else {
        EngineError::new(DATA_EXCEPTION, first_line(m))
    }
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or(m).to_owned()
}

fn between<'a>(m: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = m.find(start)? + start.len();
    let len = m[from..].find(end)?;
    Some(&m[from..from + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_names_only_what_the_user_wrote() {
        let e = classify(DataFusionError::Plan(
            "table 'sqlgate.public.secret' not found".into(),
        ));
        assert_eq!(e.code, sqlstate::UNDEFINED_TABLE);
        assert_eq!(e.message, "relation \"secret\" does not exist");
    }

    #[test]
    fn arrow_division_by_zero_is_22012() {
        let e = classify(DataFusionError::ArrowError(
            Box::new(ArrowError::DivideByZero),
            None,
        ));
        assert_eq!(e.code, sqlstate::DIVISION_BY_ZERO);
    }

    #[test]
    fn nothing_is_blanket_internal() {
        let e = classify(DataFusionError::Execution("something odd".into()));
        assert_ne!(e.code, sqlstate::INTERNAL_ERROR);
    }
}
