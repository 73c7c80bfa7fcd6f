//! ServiceNow encoded queries (the ACL `condition` and `applies_to` fields),
//! parsed into a typed form before anything is compiled from them.
//!
//! Grammar, as the platform writes it:
//! - `^` is AND, `^OR` binds to the previous term (`A^B^ORC` = A AND (B OR
//!   C)), `^NQ` starts a new top-level OR group;
//! - a condition is `<field><operator><value>`: the field is a lowercase
//!   identifier `[a-z_][a-z0-9_]*`, the operator is the longest known one
//!   right after it, the value is the rest;
//! - three dynamic values: `javascript:gs.getUserID()`,
//!   `javascript:gs.getUser().getMyGroups()`, `javascript:gs.hasRole('x')`.
//!
//! Decisions of sqlgate, all failing closed:
//! - everything is case-sensitive, but a value spelled like a dynamic value
//!   in another case (`JavaScript:…`), or any other script, is an error
//!   rather than a literal that `!=` would silently match everywhere;
//! - operators of the platform that sqlgate does not implement
//!   (`INSTANCEOF`, `ANYTHING`, `ON`, `RELATIVEGT`, …), ordering and
//!   grouping terms (`ORDERBY…`, `GROUPBY…`), `^EQ` and dot-walking
//!   (`caller_id.department`) are errors, never reinterpreted (`INSTANCEOF`
//!   is not `IN` + `STANCEOF…`);
//! - `^^` stands for a literal `^` inside a value;
//! - `BETWEEN` needs exactly one `@`; `IN` items are split at every `,`.
//!
//! Every error carries the byte position in the input where it was found.

use std::fmt;

/// An encoded query: an OR of groups (`^NQ`), each an AND of terms (`^`),
/// each an OR of conditions (`^OR`). The empty query (from the empty
/// string) has no groups and matches every record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedQuery {
    /// `groups[g][t][c]`: condition `c` of term `t` of group `g`; no level
    /// is ever empty in a parsed query.
    pub groups: Vec<Vec<Vec<Condition>>>,
}

impl EncodedQuery {
    /// True for the query of the empty string, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every condition, in the order of the text.
    pub fn conditions(&self) -> impl Iterator<Item = &Condition> {
        self.groups.iter().flatten().flatten()
    }
}

/// One `<field><operator><value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field name, a lowercase identifier.
    pub field: String,
    pub op: Op,
    pub operand: Operand,
    /// Byte offset of the condition (its field name) in the input.
    pub position: usize,
}

/// The operators sqlgate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    /// Contains.
    Like,
    /// Does not contain.
    NotLike,
    StartsWith,
    EndsWith,
    IsEmpty,
    IsNotEmpty,
    Between,
    /// Equal to another field of the same record.
    SameAs,
    /// Not equal to another field of the same record.
    NSameAs,
}

impl Op {
    /// The operator as written in an encoded query.
    pub fn spelling(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::Like => "LIKE",
            Op::NotLike => "NOT LIKE",
            Op::StartsWith => "STARTSWITH",
            Op::EndsWith => "ENDSWITH",
            Op::IsEmpty => "ISEMPTY",
            Op::IsNotEmpty => "ISNOTEMPTY",
            Op::Between => "BETWEEN",
            Op::SameAs => "SAMEAS",
            Op::NSameAs => "NSAMEAS",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spelling())
    }
}

const SUPPORTED: [Op; 17] = [
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Le,
    Op::Gt,
    Op::Ge,
    Op::In,
    Op::NotIn,
    Op::Like,
    Op::NotLike,
    Op::StartsWith,
    Op::EndsWith,
    Op::IsEmpty,
    Op::IsNotEmpty,
    Op::Between,
    Op::SameAs,
    Op::NSameAs,
];

/// Platform operators sqlgate refuses by name. They take part in the
/// longest match, so that `INSTANCEOF` is never read as `IN`.
const UNSUPPORTED: [&str; 22] = [
    "INSTANCEOF",
    "ANYTHING",
    "EMPTYSTRING",
    "DYNAMIC",
    "DATEPART",
    "ON",
    "NOTON",
    "NOTLIKE",
    "RELATIVEGT",
    "RELATIVEGE",
    "RELATIVELT",
    "RELATIVELE",
    "RELATIVEEE",
    "MORETHAN",
    "LESSTHAN",
    "VALCHANGES",
    "CHANGESFROM",
    "CHANGESTO",
    "GT_FIELD",
    "LT_FIELD",
    "GT_OR_EQUALS_FIELD",
    "LT_OR_EQUALS_FIELD",
];

/// Terms of the platform's query language that are not conditions.
const KEYWORDS: [&str; 6] = [
    "ORDERBYDESC",
    "ORDERBY",
    "GROUPBY",
    "EQ",
    "RLQUERY",
    "SUBQUERY",
];

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// `ISEMPTY` / `ISNOTEMPTY` take none.
    None,
    /// Comparison and string operators.
    Literal(Literal),
    /// `IN` / `NOT IN`: the comma-separated items.
    List(Vec<Literal>),
    /// `BETWEEN low@high`, both inclusive.
    Range(Literal, Literal),
    /// `SAMEAS` / `NSAMEAS`: another field of the record.
    Field { name: String, position: usize },
    /// A `javascript:` value, resolved per principal at compile time.
    Dynamic { value: Dynamic, position: usize },
}

/// A literal value as written (with `^^` already turned into `^`); its
/// type is decided by the field it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub text: String,
    /// Byte offset of the literal in the input.
    pub position: usize,
}

/// The dynamic values sqlgate knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dynamic {
    /// `javascript:gs.getUserID()`: the principal's sys_id.
    UserId,
    /// `javascript:gs.getUser().getMyGroups()`: the sys_ids of the
    /// principal's groups; `=` means IN and `!=` means NOT IN.
    MyGroups,
    /// `javascript:gs.hasRole('x')`: the text `true` or `false`.
    HasRole(String),
}

impl fmt::Display for Dynamic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dynamic::UserId => f.write_str("javascript:gs.getUserID()"),
            Dynamic::MyGroups => f.write_str("javascript:gs.getUser().getMyGroups()"),
            Dynamic::HasRole(r) => write!(f, "javascript:gs.hasRole('{r}')"),
        }
    }
}

/// Why an encoded query does not parse, at which byte of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {kind}")]
pub struct ParseError {
    pub position: usize,
    pub kind: ParseErrorKind,
}

/// What is wrong, in words a policy author understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("empty condition (a stray `^`?)")]
    EmptyCondition,
    #[error("expected a field name (lowercase letters, digits and `_`)")]
    ExpectedField,
    #[error("\"{0}\" terms have no meaning in an ACL condition")]
    Keyword(&'static str),
    #[error("dot-walking (\"{0}.…\") is not supported: name a field of the table itself")]
    DotWalking(String),
    #[error("unknown operator after field \"{0}\"")]
    UnknownOperator(String),
    #[error("operator {0} is not supported")]
    UnsupportedOperator(&'static str),
    #[error("{0} takes no value")]
    UnexpectedValue(Op),
    #[error("BETWEEN needs exactly one `@` between the low and high values")]
    BetweenNeedsOneAt,
    #[error("{0} needs the name of another field")]
    ExpectedOtherField(Op),
    #[error(
        "unsupported dynamic value (supported: javascript:gs.getUserID(), \
         javascript:gs.getUser().getMyGroups(), javascript:gs.hasRole('role'))"
    )]
    UnsupportedDynamic,
    #[error("a dynamic value must be the whole value of {0}")]
    DynamicInsideValue(Op),
    #[error("{op} cannot be used with {dynamic}")]
    DynamicNotAllowed { op: Op, dynamic: Dynamic },
}

fn error(position: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { position, kind }
}

/// How a piece of the query attaches to what came before.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Join {
    Start,
    And,
    Or,
    NewQuery,
}

/// The pieces between unescaped `^` separators, as byte ranges of the
/// input (escapes still in), each with how it attaches.
fn pieces(input: &str) -> Vec<(Join, usize, usize)> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let (mut join, mut start, mut i) = (Join::Start, 0, 0);
    while i < bytes.len() {
        if bytes[i] != b'^' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'^') {
            i += 2;
            continue;
        }
        out.push((join, start, i));
        let rest = &input[i + 1..];
        (join, i) = if rest.starts_with("NQ") {
            (Join::NewQuery, i + 3)
        } else if rest.starts_with("OR") && !rest.starts_with("ORDERBY") {
            (Join::Or, i + 3)
        } else {
            (Join::And, i + 1)
        };
        start = i;
    }
    out.push((join, start, bytes.len()));
    out
}

/// Parses an encoded query. The empty string is the empty query, which
/// matches everything; anything the grammar above does not describe is an
/// error with its byte position.
pub fn parse(input: &str) -> Result<EncodedQuery, ParseError> {
    let mut query = EncodedQuery::default();
    if input.is_empty() {
        return Ok(query);
    }
    for (join, start, end) in pieces(input) {
        let condition = condition(input, start, end)?;
        match join {
            Join::Start | Join::NewQuery => query.groups.push(vec![vec![condition]]),
            Join::And => query
                .groups
                .last_mut()
                .expect("a group exists after the first piece")
                .push(vec![condition]),
            Join::Or => query
                .groups
                .last_mut()
                .and_then(|g| g.last_mut())
                .expect("a term exists after the first piece")
                .push(condition),
        }
    }
    Ok(query)
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

/// The length of the field name at the start of `s`, if there is one.
fn field_len(s: &str) -> Option<usize> {
    let len = s.bytes().take_while(|b| is_name_char(*b)).count();
    (len > 0 && !s.as_bytes()[0].is_ascii_digit()).then_some(len)
}

/// Parses the condition in `input[start..end]`.
fn condition(input: &str, start: usize, end: usize) -> Result<Condition, ParseError> {
    let text = &input[start..end];
    if text.is_empty() {
        return Err(error(start, ParseErrorKind::EmptyCondition));
    }
    if let Some(k) = KEYWORDS.iter().find(|k| text.starts_with(*k)) {
        return Err(error(start, ParseErrorKind::Keyword(k)));
    }
    let name_len = field_len(text).ok_or_else(|| error(start, ParseErrorKind::ExpectedField))?;
    let field = &text[..name_len];
    let rest = &text[name_len..];
    let op_at = start + name_len;
    if rest.starts_with('.') {
        return Err(error(op_at, ParseErrorKind::DotWalking(field.to_owned())));
    }
    let supported = SUPPORTED
        .iter()
        .filter(|op| rest.starts_with(op.spelling()))
        .max_by_key(|op| op.spelling().len());
    let unsupported = UNSUPPORTED
        .iter()
        .filter(|s| rest.starts_with(**s))
        .max_by_key(|s| s.len());
    let op = match (supported, unsupported) {
        (_, Some(u)) if supported.is_none_or(|op| u.len() > op.spelling().len()) => {
            return Err(error(op_at, ParseErrorKind::UnsupportedOperator(u)));
        }
        (Some(op), _) => *op,
        _ => {
            return Err(error(
                op_at,
                ParseErrorKind::UnknownOperator(field.to_owned()),
            ));
        }
    };
    let value_at = op_at + op.spelling().len();
    Ok(Condition {
        field: field.to_owned(),
        op,
        operand: operand(op, &input[value_at..end], value_at)?,
        position: start,
    })
}

fn literal(raw: &str, position: usize) -> Literal {
    Literal {
        text: raw.replace("^^", "^"),
        position,
    }
}

/// The value as written, starting with `javascript:` in any case.
fn is_script(raw: &str) -> bool {
    raw.get(..11)
        .is_some_and(|p| p.eq_ignore_ascii_case("javascript:"))
}

/// A `javascript:` value: exactly one of the three spellings sqlgate knows.
fn dynamic(raw: &str) -> Option<Dynamic> {
    let script = raw.strip_prefix("javascript:")?;
    match script {
        "gs.getUserID()" => return Some(Dynamic::UserId),
        "gs.getUser().getMyGroups()" => return Some(Dynamic::MyGroups),
        _ => {}
    }
    let arg = script.strip_prefix("gs.hasRole(")?.strip_suffix(')')?;
    let role = ['\'', '"']
        .iter()
        .find_map(|q| arg.strip_prefix(*q)?.strip_suffix(*q))?;
    let valid = !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    valid.then(|| Dynamic::HasRole(role.to_owned()))
}

/// Parses the value `raw` of operator `op`; `at` is its byte offset.
fn operand(op: Op, raw: &str, at: usize) -> Result<Operand, ParseError> {
    use ParseErrorKind as K;
    if is_script(raw) {
        let value = dynamic(raw).ok_or_else(|| error(at, K::UnsupportedDynamic))?;
        let allowed = match (&value, op) {
            (_, Op::IsEmpty | Op::IsNotEmpty | Op::Between | Op::SameAs | Op::NSameAs) => false,
            (Dynamic::MyGroups, op) => matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn),
            _ => true,
        };
        if !allowed {
            return Err(error(at, K::DynamicNotAllowed { op, dynamic: value }));
        }
        return Ok(Operand::Dynamic {
            value,
            position: at,
        });
    }
    match op {
        Op::IsEmpty | Op::IsNotEmpty if raw.is_empty() => Ok(Operand::None),
        Op::IsEmpty | Op::IsNotEmpty => Err(error(at, K::UnexpectedValue(op))),
        Op::In | Op::NotIn => {
            let mut items = Vec::new();
            let mut offset = at;
            for item in raw.split(',') {
                if is_script(item) {
                    return Err(error(offset, K::DynamicInsideValue(op)));
                }
                items.push(literal(item, offset));
                offset += item.len() + 1;
            }
            Ok(Operand::List(items))
        }
        Op::Between => {
            let (low, high) = raw
                .split_once('@')
                .filter(|(_, high)| !high.contains('@'))
                .ok_or_else(|| error(at, K::BetweenNeedsOneAt))?;
            let high_at = at + low.len() + 1;
            if is_script(low) || is_script(high) {
                let bad = if is_script(low) { at } else { high_at };
                return Err(error(bad, K::DynamicInsideValue(op)));
            }
            Ok(Operand::Range(literal(low, at), literal(high, high_at)))
        }
        Op::SameAs | Op::NSameAs => match field_len(raw) {
            Some(len) if len == raw.len() => Ok(Operand::Field {
                name: raw.to_owned(),
                position: at,
            }),
            Some(len) if raw[len..].starts_with('.') => {
                Err(error(at + len, K::DotWalking(raw[..len].to_owned())))
            }
            _ => Err(error(at, K::ExpectedOtherField(op))),
        },
        _ => Ok(Operand::Literal(literal(raw, at))),
    }
}
