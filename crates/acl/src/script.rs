//! The ACL `script` field: the platform's scripted condition, written here
//! as a SQL boolean expression over the record, e.g.
//! `priority <= 2 AND assigned_to = user_sys_id()`, compiled once per
//! session and principal to a DataFusion expression.
//!
//! The text is parsed with the parser DataFusion re-exports (PostgreSQL
//! dialect), checked on the syntax tree, where positions are known, then
//! planned against the table's schema with DataFusion's built-in scalar
//! functions and checked again on the planned expression (an allow-list of
//! expression kinds, so anything new in DataFusion is refused until
//! reviewed).
//!
//! Three session functions become literals at compile time:
//! `user_sys_id()` (text), `user_has_role('role')` and
//! `user_in_group('group sys_id')` (booleans; the argument must be a string
//! literal). Refused, with the line and column where known: scripts longer
//! than [`MAX_LEN`] bytes or nested deeper than [`MAX_DEPTH`] (so a hostile
//! policy cannot exhaust the stack), unknown or qualified columns,
//! subqueries, aggregate and window functions, volatile functions
//! (`random()`, …), functions not on the [`SCRIPT_FUNCTIONS`] allow-list
//! (`repeat`, `lpad`, `range`, … whose result can grow without bound and
//! exhaust memory at policy load or on every record), unknown functions,
//! parameters, and results that are not boolean. A NULL result counts as false: the expression is wrapped
//! in `IS TRUE`.

use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::simplify::ExprSimplifyResult;
use datafusion::logical_expr::{Expr, ExprSchemable, Volatility};
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::prelude::SessionConfig;
use datafusion::sql::sqlparser::ast::{
    self as sql, ExprWithAlias, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart,
    Spanned, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Span, Token};

use crate::condition::DynamicContext;

/// The deepest a script's expression may nest (operators, function calls,
/// parentheses).
pub const MAX_DEPTH: usize = 64;

/// The longest script, in bytes. Together with [`MAX_DEPTH`] it bounds the
/// work and stack that parsing and planning a script can take.
pub const MAX_LEN: usize = 8 * 1024;

/// The scalar functions a script may call, by DataFusion's canonical name
/// (aliases such as `char_length` or `substring` resolve to these). Each
/// returns a value no larger than its inputs plus the script's own text,
/// in time close to linear: nothing that repeats, pads, generates series
/// or substitutes one value into another many times (`replace(x, 'a', x)`
/// is quadratic in the record). A function DataFusion adds is refused
/// until it is reviewed and listed here.
pub const SCRIPT_FUNCTIONS: &[&str] = &[
    // text
    "lower",
    "upper",
    "initcap",
    "btrim",
    "ltrim",
    "rtrim",
    "character_length",
    "octet_length",
    "bit_length",
    "ascii",
    "chr",
    "left",
    "right",
    "substr",
    "substr_index",
    "split_part",
    "strpos",
    "starts_with",
    "ends_with",
    "contains",
    "find_in_set",
    "concat",
    "concat_ws",
    "translate",
    "reverse",
    "regexp_like",
    "regexp_match",
    "regexp_count",
    "md5",
    "to_hex",
    // conditional
    "coalesce",
    "nullif",
    "nvl",
    "nvl2",
    "greatest",
    "least",
    // numbers
    "abs",
    "ceil",
    "floor",
    "round",
    "trunc",
    "signum",
    "isnan",
    "iszero",
    // dates and times
    "date_part",
    "date_trunc",
    "date_bin",
    "make_date",
    "to_date",
    "to_timestamp",
    "to_timestamp_seconds",
    "to_timestamp_millis",
    "to_timestamp_micros",
    "to_timestamp_nanos",
    "to_unixtime",
    "from_unixtime",
    "to_char",
    // lists (`x = ANY(...)`, `IN` over arrays)
    "make_array",
    "array_has",
    "array_has_all",
    "array_has_any",
    "array_length",
    "cardinality",
];

/// Where in the script a problem is: 1-based line and column (characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

/// Why a script cannot be used, and where when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    pub location: Option<Location>,
    pub kind: ScriptErrorKind,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.location {
            Some(Location { line, column }) => {
                write!(f, "line {line}, column {column}: {}", self.kind)
            }
            None => write!(f, "{}", self.kind),
        }
    }
}

/// What is wrong with a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptErrorKind {
    #[error("the script is {0} bytes long; the limit is {MAX_LEN}")]
    TooLong(usize),
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("expression nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unknown column \"{0}\"")]
    UnknownColumn(String),
    #[error("qualified name {0} is not supported: name a column of the table")]
    QualifiedName(String),
    #[error("subqueries are not allowed")]
    Subquery,
    #[error("aggregate function {0}() is not allowed")]
    Aggregate(String),
    #[error("window function {0}() is not allowed")]
    Window(String),
    #[error(
        "volatile function {0}() is not allowed: a condition must give the same answer for the same record"
    )]
    Volatile(String),
    #[error("unknown function {0}()")]
    UnknownFunction(String),
    #[error(
        "function {0}() is not allowed in a script: its result or cost can grow without bound (see SCRIPT_FUNCTIONS)"
    )]
    FunctionNotAllowed(String),
    #[error("{0}")]
    SessionFunction(&'static str),
    #[error("parameters are not allowed")]
    Parameter,
    #[error("{0} expressions are not allowed")]
    Unsupported(String),
    #[error("a script must be a boolean expression, not {0}")]
    NotBoolean(DataType),
    #[error("the script cannot be evaluated per record: {0}")]
    NotEvaluable(String),
    #[error("{0}")]
    Planning(String),
}

fn at(span: Span, kind: ScriptErrorKind) -> ScriptError {
    let start = span.start;
    let location = (start.line > 0).then_some(Location {
        line: start.line,
        column: start.column,
    });
    ScriptError { location, kind }
}

fn nowhere(kind: ScriptErrorKind) -> ScriptError {
    ScriptError {
        location: None,
        kind,
    }
}

/// A planning-only session: DataFusion's built-in functions, no tables.
fn planner() -> &'static SessionState {
    static STATE: OnceLock<SessionState> = OnceLock::new();
    STATE.get_or_init(|| {
        SessionStateBuilder::new()
            .with_config(SessionConfig::new())
            .with_default_features()
            .build()
    })
}

/// Compiles a script against a table schema for one principal. The result
/// is a boolean expression that is never NULL.
pub fn compile_script(
    sql: &str,
    schema: &Schema,
    ctx: &DynamicContext,
) -> Result<Expr, ScriptError> {
    if sql.len() > MAX_LEN {
        return Err(nowhere(ScriptErrorKind::TooLong(sql.len())));
    }
    let mut ast = parse(sql)?;
    // Depth first, so that nothing below walks a deep tree recursively.
    let mut depth = Depth(0);
    if let ControlFlow::Break(span) = Visit::visit(&ast, &mut depth) {
        return Err(at(span, ScriptErrorKind::TooDeep));
    }
    let mut checker = Checker { schema, ctx };
    if let ControlFlow::Break(e) = VisitMut::visit(&mut ast, &mut checker) {
        return Err(e);
    }
    let df_schema = DFSchema::try_from(schema.clone()).map_err(planning)?;
    let state = planner();
    let expr = state
        .create_logical_expr_from_sql_expr(
            ExprWithAlias {
                expr: ast,
                alias: None,
            },
            &df_schema,
        )
        .map_err(planning)?;
    let simplifier = ExprSimplifier::new(SimplifyContext::default());
    let expr = simplifier.coerce(expr, &df_schema).map_err(planning)?;
    allowed(&expr, 0)?;
    let expr = simplifier
        .coerce(executable(expr, &df_schema)?, &df_schema)
        .map_err(planning)?;
    allowed(&expr, 0)?;
    match expr.get_type(&df_schema).map_err(planning)? {
        DataType::Boolean => {}
        other => return Err(nowhere(ScriptErrorKind::NotBoolean(other))),
    }
    let expr = expr.is_true();
    dry_run(&expr, schema)?;
    Ok(expr)
}

/// The expression in the form the secure scan executes directly, with no
/// optimizer pass: functions that DataFusion rewrites before execution
/// (`coalesce`, `nvl`, …) rewritten, and casts that cannot fail (a value
/// that does not convert is NULL, so the record does not match, instead of
/// an error that would print a hidden value).
fn executable(expr: Expr, schema: &DFSchema) -> Result<Expr, ScriptError> {
    let context = SimplifyContext::builder()
        .with_schema(Arc::new(schema.clone()))
        .build();
    expr.transform_up(|e| {
        Ok(match e {
            Expr::ScalarFunction(ScalarFunction { func, args }) => {
                match func.simplify(args, &context)? {
                    ExprSimplifyResult::Simplified(e) => Transformed::yes(e),
                    ExprSimplifyResult::Original(args) => {
                        Transformed::no(Expr::ScalarFunction(ScalarFunction { func, args }))
                    }
                }
            }
            Expr::Cast(Cast { expr, field }) => {
                Transformed::yes(Expr::TryCast(TryCast::new_from_field(expr, field)))
            }
            e => Transformed::no(e),
        })
    })
    .map(|t| t.data)
    .map_err(planning)
}

/// Evaluates the expression on one record of NULLs: what DataFusion can
/// only evaluate inside a statement (`now()`, `current_date`, … need the
/// statement's start time, while a script is compiled once per session)
/// is refused here rather than failing every later query.
fn dry_run(expr: &Expr, schema: &Schema) -> Result<(), ScriptError> {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let columns = schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), 1))
        .collect();
    let fail = |e: DataFusionError| {
        let message = e.strip_backtrace();
        let first = message.lines().next().unwrap_or_default().to_owned();
        nowhere(ScriptErrorKind::NotEvaluable(first))
    };
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| fail(DataFusionError::ArrowError(Box::new(e), None)))?;
    let df_schema = DFSchema::try_from(schema).map_err(planning)?;
    let physical = planner()
        .create_physical_expr(expr.clone(), &df_schema)
        .map_err(fail)?;
    physical.evaluate(&batch).map(|_| ()).map_err(fail)
}

fn parse(sql: &str) -> Result<sql::Expr, ScriptError> {
    let syntax = |e: ParserError| match e {
        ParserError::RecursionLimitExceeded => nowhere(ScriptErrorKind::TooDeep),
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
            nowhere(ScriptErrorKind::Syntax(m))
        }
    };
    let dialect = PostgreSqlDialect {};
    // The parser's own bound counts more than one level per nesting; the
    // depth check below is the one that holds scripts to MAX_DEPTH.
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(4 * MAX_DEPTH)
        .try_with_sql(sql)
        .map_err(syntax)?;
    let expr = parser.parse_expr().map_err(syntax)?;
    parser.expect_token(&Token::EOF).map_err(syntax)?;
    Ok(expr)
}

fn planning(e: DataFusionError) -> ScriptError {
    let message = e.strip_backtrace();
    let first = message.lines().next().unwrap_or_default();
    let first = first.trim_start_matches("Error during planning: ");
    nowhere(ScriptErrorKind::Planning(first.to_owned()))
}

/// Stops at the first expression nested deeper than [`MAX_DEPTH`].
struct Depth(usize);

impl Visitor for Depth {
    type Break = Span;

    fn pre_visit_expr(&mut self, expr: &sql::Expr) -> ControlFlow<Span> {
        self.0 += 1;
        if self.0 > MAX_DEPTH {
            // The span of a leaf-ward node; computing it walks no deeper
            // than the rest of the tree, which is cut off here.
            return ControlFlow::Break(match expr {
                sql::Expr::Identifier(i) => i.span,
                _ => Span::empty(),
            });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &sql::Expr) -> ControlFlow<Span> {
        self.0 -= 1;
        ControlFlow::Continue(())
    }
}

/// Checks the syntax tree and replaces the session functions.
struct Checker<'a> {
    schema: &'a Schema,
    ctx: &'a DynamicContext,
}

/// As DataFusion reads identifiers: unquoted ones in lowercase.
fn normalize(ident: &sql::Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

impl VisitorMut for Checker<'_> {
    type Break = ScriptError;

    fn pre_visit_query(&mut self, query: &mut sql::Query) -> ControlFlow<ScriptError> {
        ControlFlow::Break(at(query.span(), ScriptErrorKind::Subquery))
    }

    fn pre_visit_expr(&mut self, expr: &mut sql::Expr) -> ControlFlow<ScriptError> {
        use ScriptErrorKind as K;
        let refused = match expr {
            sql::Expr::Identifier(ident) => {
                let name = normalize(ident);
                self.schema
                    .field_with_name(&name)
                    .is_err()
                    .then(|| at(ident.span, K::UnknownColumn(name)))
            }
            sql::Expr::CompoundIdentifier(parts) => {
                let name = parts.iter().map(normalize).collect::<Vec<_>>().join(".");
                Some(at(expr.span(), K::QualifiedName(name)))
            }
            sql::Expr::Subquery(_) | sql::Expr::Exists { .. } | sql::Expr::InSubquery { .. } => {
                Some(at(expr.span(), K::Subquery))
            }
            sql::Expr::Value(v) if matches!(v.value, sql::Value::Placeholder(_)) => {
                Some(at(v.span, K::Parameter))
            }
            sql::Expr::Function(f) => match self.function(f) {
                Ok(Some(replacement)) => {
                    *expr = replacement;
                    None
                }
                Ok(None) => None,
                Err(e) => Some(e),
            },
            _ => None,
        };
        match refused {
            Some(e) => ControlFlow::Break(e),
            None => ControlFlow::Continue(()),
        }
    }
}

impl Checker<'_> {
    /// Refuses what a condition must not call; `Some` replaces a session
    /// function by its value.
    fn function(&self, f: &sql::Function) -> Result<Option<sql::Expr>, ScriptError> {
        use ScriptErrorKind as K;
        let (name, span) = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => (normalize(ident), ident.span),
            _ => return Err(at(f.name.span(), K::QualifiedName(f.name.to_string()))),
        };
        let plain = f.over.is_none()
            && f.filter.is_none()
            && f.null_treatment.is_none()
            && f.within_group.is_empty()
            && matches!(f.parameters, FunctionArguments::None);
        let args = match &f.args {
            FunctionArguments::List(list)
                if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
            {
                Some(list.args.as_slice())
            }
            _ => None,
        };
        let string_arg = || match args {
            Some(
                [
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(sql::Expr::Value(
                        sql::ValueWithSpan {
                            value: sql::Value::SingleQuotedString(s),
                            ..
                        },
                    ))),
                ],
            ) if plain => Ok(s.clone()),
            _ => Err(at(
                span,
                K::SessionFunction("this session function takes one string literal"),
            )),
        };
        let value = match name.as_str() {
            "user_sys_id" => match args {
                Some([]) if plain => sql::Value::SingleQuotedString(self.ctx.user_sys_id.clone()),
                _ => {
                    let kind = K::SessionFunction("user_sys_id() takes no arguments");
                    return Err(at(span, kind));
                }
            },
            "user_has_role" => sql::Value::Boolean(self.ctx.has_role(&string_arg()?)),
            "user_in_group" => {
                let group = string_arg()?;
                sql::Value::Boolean(self.ctx.group_sys_ids.contains(&group))
            }
            _ => {
                let state = planner();
                if f.over.is_some() || state.window_functions().contains_key(&name) {
                    return Err(at(span, K::Window(name)));
                }
                match state.scalar_functions().get(&name) {
                    Some(udf) if udf.signature().volatility == Volatility::Volatile => {
                        return Err(at(span, K::Volatile(name)));
                    }
                    Some(udf) if !SCRIPT_FUNCTIONS.contains(&udf.name()) => {
                        return Err(at(span, K::FunctionNotAllowed(name)));
                    }
                    Some(_) if plain => return Ok(None),
                    _ => {}
                }
                if !plain || state.aggregate_functions().contains_key(&name) {
                    return Err(at(span, K::Aggregate(name)));
                }
                return Err(at(span, K::UnknownFunction(name)));
            }
        };
        Ok(Some(sql::Expr::Value(value.with_span(span))))
    }
}

/// Columns, literals and operators: the kinds of expression, besides
/// functions, that a planned script may hold. Their answer depends on
/// nothing but their inputs.
pub fn is_operator(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Column(_)
            | Expr::Literal(..)
            | Expr::Alias(_)
            | Expr::BinaryExpr(_)
            | Expr::Like(_)
            | Expr::SimilarTo(_)
            | Expr::Not(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsUnknown(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNotFalse(_)
            | Expr::IsNotUnknown(_)
            | Expr::Negative(_)
            | Expr::Between(_)
            | Expr::Case(_)
            | Expr::Cast(_)
            | Expr::TryCast(_)
            | Expr::InList(_)
    )
}

/// The planned expression holds only reviewed kinds of expression, no
/// volatile function, and stays shallow.
fn allowed(expr: &Expr, depth: usize) -> Result<(), ScriptError> {
    use ScriptErrorKind as K;
    // Planning adds casts and the like, a few levels per level of syntax.
    if depth > 4 * MAX_DEPTH {
        return Err(nowhere(K::TooDeep));
    }
    let refused = match expr {
        e if is_operator(e) => None,
        Expr::ScalarFunction(f) if f.func.signature().volatility == Volatility::Volatile => {
            Some(K::Volatile(f.name().to_owned()))
        }
        // Syntax such as SUBSTRING(x FROM 1) or OVERLAY plans to functions
        // the syntax check did not see by name.
        Expr::ScalarFunction(f) if !SCRIPT_FUNCTIONS.contains(&f.name()) => {
            Some(K::FunctionNotAllowed(f.name().to_owned()))
        }
        Expr::ScalarFunction(_) => None,
        Expr::AggregateFunction(f) => Some(K::Aggregate(f.func.name().to_owned())),
        Expr::WindowFunction(_) => Some(K::Window(expr.schema_name().to_string())),
        Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::ScalarSubquery(_)
        | Expr::SetComparison(_) => Some(K::Subquery),
        Expr::Placeholder(_) => Some(K::Parameter),
        other => Some(K::Unsupported(other.variant_name().to_owned())),
    };
    if let Some(kind) = refused {
        return Err(nowhere(kind));
    }
    let mut result = Ok(());
    expr.apply_children(|child| {
        result = allowed(child, depth + 1);
        Ok(if result.is_ok() {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })
    .map_err(planning)?;
    result
}
