//! Turning failures into PostgreSQL error responses. Engine errors carry
//! their SQLSTATE already; this module only adds severity and wire fields.

use pgwire::error::{ErrorInfo, PgWireError};
use sqlgate_engine::EngineError;

/// An `ERROR`-severity response: the session goes on.
pub fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        code.to_owned(),
        message.into(),
    )))
}

/// A `FATAL` response: the connection closes after it.
pub fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        code.to_owned(),
        message.into(),
    )))
}

/// An engine error on the wire. Class 28 (authorization) ends the session.
pub fn engine(e: EngineError) -> PgWireError {
    let severity = if e.code.starts_with("28") {
        "FATAL"
    } else {
        "ERROR"
    };
    let mut info = ErrorInfo::new(severity.to_owned(), e.code.to_owned(), e.message);
    info.detail = e.detail;
    info.hint = e.hint;
    PgWireError::UserError(Box::new(info))
}
