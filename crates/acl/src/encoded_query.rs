//! ServiceNow encoded queries, parsed into a typed form.
//!
//! `^` is AND, `^OR` binds to the previous term (`A^B^ORC` = A AND (B OR C)),
//! `^NQ` starts a new top-level OR group, `^^` is a literal `^` inside a
//! value. A condition is `<field><operator><value>`: field names are
//! lowercase identifiers, the operator is the longest known one right after
//! the name. Everything is case-sensitive. Errors carry the byte position.

use std::fmt;

/// An encoded query: OR of groups (`^NQ`), each an AND of terms (`^`),
/// each an OR of conditions (`^OR`). The empty query matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedQuery {
    pub groups: Vec<Vec<Vec<Condition>>>,
}

impl EncodedQuery {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every condition, in order.
    pub fn conditions(&self) -> impl Iterator<Item = &Condition> {
        self.groups.iter().flatten().flatten()
    }
}

/// One `<field><op><value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub value: Value,
    /// Byte offset of the condition in the encoded query.
    pub position: usize,
}

/// The operators of the condition language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    NotLike,
    StartsWith,
    EndsWith,
    IsEmpty,
    IsNotEmpty,
    Between,
    SameAs,
    NSameAs,
}

/// Spellings, longest first so a prefix never shadows a longer operator.
const OPERATORS: [(&str, Op); 17] = [
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("NOT LIKE", Op::NotLike),
    ("ISEMPTY", Op::IsEmpty),
    ("NSAMEAS", Op::NSameAs),
    ("BETWEEN", Op::Between),
    ("NOT IN", Op::NotIn),
    ("SAMEAS", Op::SameAs),
    ("LIKE", Op::Like),
    ("IN", Op::In),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = OPERATORS
            .iter()
            .find(|(_, op)| op == self)
            .map_or("?", |(s, _)| s);
        f.write_str(s)
    }
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// ISEMPTY / ISNOTEMPTY.
    None,
    Text(String),
    /// IN / NOT IN.
    List(Vec<String>),
    /// BETWEEN low@high.
    Range(String, String),
    /// SAMEAS / NSAMEAS: another field.
    Field(String),
    /// `javascript:gs.getUserID()`.
    UserId,
    /// `javascript:gs.getUser().getMyGroups()`.
    MyGroups,
    /// `javascript:gs.hasRole('x')`: the text `true` or `false`.
    HasRole(String),
}

/// A syntax error, with its byte position in the encoded query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {message}")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

fn err(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

/// How a piece of the query attaches to what came before.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Join {
    Start,
    And,
    Or,
    NewQuery,
}

/// Splits at unescaped `^`, classifying each piece; `^^` becomes `^`.
fn pieces(input: &str) -> Vec<(Join, usize, String)> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let (mut join, mut start, mut text) = (Join::Start, 0usize, String::new());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'^' {
            if bytes.get(i + 1) == Some(&b'^') {
                text.push('^');
                i += 2;
                continue;
            }
            out.push((join, start, std::mem::take(&mut text)));
            let rest = &input[i + 1..];
            (join, i) = if rest.starts_with("NQ") {
                (Join::NewQuery, i + 3)
            } else if rest.starts_with("OR") && !rest.starts_with("ORDERBY") {
                (Join::Or, i + 3)
            } else {
                (Join::And, i + 1)
            };
            start = i;
            continue;
        }
        let ch = input[i..].chars().next().expect("char boundary");
        text.push(ch);
        i += ch.len_utf8();
    }
    out.push((join, start, text));
    out
}

/// Parses an encoded query. The empty string is the empty query.
pub fn parse(input: &str) -> Result<EncodedQuery, ParseError> {
    if input.is_empty() {
        return Ok(EncodedQuery::default());
    }
    let mut query = EncodedQuery::default();
    for (join, position, text) in pieces(input) {
        let condition = condition(&text, position)?;
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

fn is_field(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_lowercase() || x == '_')
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
}

fn condition(text: &str, position: usize) -> Result<Condition, ParseError> {
    if text.is_empty() {
        return Err(err(position, "empty condition (a stray `^`?)"));
    }
    if text.starts_with("ORDERBY") || text.starts_with("GROUPBY") {
        return Err(err(
            position,
            "ordering and grouping terms have no meaning in an ACL condition",
        ));
    }
    let name_len = text
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let field = &text[..name_len];
    if !is_field(field) {
        return Err(err(position, format!("expected a field name at {text:?}")));
    }
    let rest = &text[name_len..];
    if rest.starts_with('.') {
        return Err(err(
            position,
            format!("dot-walking (\"{field}.…\") is not supported"),
        ));
    }
    let op_at = position + name_len;
    let (spelling, op) = OPERATORS
        .iter()
        .find(|(s, _)| rest.starts_with(s))
        .ok_or_else(|| err(op_at, format!("unknown operator after field \"{field}\"")))?;
    let raw = &rest[spelling.len()..];
    let value_at = op_at + spelling.len();
    let value = value(*op, raw, value_at)?;
    Ok(Condition {
        field: field.to_owned(),
        op: *op,
        value,
        position,
    })
}

fn value(op: Op, raw: &str, at: usize) -> Result<Value, ParseError> {
    if let Some(script) = raw.strip_prefix("javascript:") {
        let dynamic = match script.trim() {
            "gs.getUserID()" => Value::UserId,
            "gs.getUser().getMyGroups()" => Value::MyGroups,
            s => match s
                .strip_prefix("gs.hasRole(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|q| {
                    q.strip_prefix('\'')
                        .and_then(|q| q.strip_suffix('\''))
                        .or_else(|| q.strip_prefix('"').and_then(|q| q.strip_suffix('"')))
                }) {
                Some(role) if !role.is_empty() => Value::HasRole(role.to_owned()),
                _ => {
                    return Err(err(
                        at,
                        format!(
                            "unsupported dynamic value \"javascript:{script}\" (supported: gs.getUserID(), gs.getUser().getMyGroups(), gs.hasRole('role'))"
                        ),
                    ));
                }
            },
        };
        return match (op, &dynamic) {
            (Op::IsEmpty | Op::IsNotEmpty | Op::SameAs | Op::NSameAs | Op::Between, _) => {
                Err(err(at, format!("{op} does not take a dynamic value")))
            }
            (Op::Eq | Op::Ne | Op::In | Op::NotIn, Value::MyGroups) => Ok(dynamic),
            (_, Value::MyGroups) => Err(err(
                at,
                format!("{op} cannot compare with a list of groups"),
            )),
            _ => Ok(dynamic),
        };
    }
    match op {
        Op::IsEmpty | Op::IsNotEmpty if raw.is_empty() => Ok(Value::None),
        Op::IsEmpty | Op::IsNotEmpty => Err(err(at, format!("{op} takes no value"))),
        Op::In | Op::NotIn => Ok(Value::List(raw.split(',').map(str::to_owned).collect())),
        Op::Between => raw
            .split_once('@')
            .map(|(a, b)| Value::Range(a.to_owned(), b.to_owned()))
            .ok_or_else(|| err(at, "BETWEEN needs low@high")),
        Op::SameAs | Op::NSameAs if is_field(raw) => Ok(Value::Field(raw.to_owned())),
        Op::SameAs | Op::NSameAs => Err(err(at, format!("{op} needs a field name, not {raw:?}"))),
        _ => Ok(Value::Text(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(q: &str) -> Vec<Vec<Vec<String>>> {
        parse(q)
            .unwrap()
            .groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|t| t.iter().map(|c| c.field.clone()).collect())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn precedence_of_and_or_and_new_query() {
        assert_eq!(
            shape("a=1^b=2^ORc=3"),
            vec![vec![vec!["a"], vec!["b", "c"]]]
        );
        assert_eq!(
            shape("a=1^ORb=2^c=3"),
            vec![vec![vec!["a", "b"], vec!["c"]]]
        );
        assert_eq!(
            shape("a=1^NQb=2^ORc=3^d=4"),
            vec![vec![vec!["a"]], vec![vec!["b", "c"], vec!["d"]]]
        );
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn every_operator_parses() {
        let cases = [
            ("state=1", Op::Eq, Value::Text("1".into())),
            ("state!=1", Op::Ne, Value::Text("1".into())),
            ("state<1", Op::Lt, Value::Text("1".into())),
            ("state<=1", Op::Le, Value::Text("1".into())),
            ("state>1", Op::Gt, Value::Text("1".into())),
            ("state>=1", Op::Ge, Value::Text("1".into())),
            (
                "stateIN1,2",
                Op::In,
                Value::List(vec!["1".into(), "2".into()]),
            ),
            (
                "stateNOT IN1,2",
                Op::NotIn,
                Value::List(vec!["1".into(), "2".into()]),
            ),
            ("nameLIKEvpn", Op::Like, Value::Text("vpn".into())),
            ("nameNOT LIKEvpn", Op::NotLike, Value::Text("vpn".into())),
            ("nameSTARTSWITHv", Op::StartsWith, Value::Text("v".into())),
            ("nameENDSWITHn", Op::EndsWith, Value::Text("n".into())),
            ("nameISEMPTY", Op::IsEmpty, Value::None),
            ("nameISNOTEMPTY", Op::IsNotEmpty, Value::None),
            (
                "stateBETWEEN1@3",
                Op::Between,
                Value::Range("1".into(), "3".into()),
            ),
            (
                "opened_bySAMEAScaller_id",
                Op::SameAs,
                Value::Field("caller_id".into()),
            ),
            (
                "opened_byNSAMEAScaller_id",
                Op::NSameAs,
                Value::Field("caller_id".into()),
            ),
        ];
        for (text, op, value) in cases {
            let q = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let c = q.conditions().next().unwrap();
            assert_eq!((c.op, &c.value), (op, &value), "{text}");
        }
    }

    #[test]
    fn dynamic_values() {
        let c = |q: &str| parse(q).unwrap().conditions().next().unwrap().value.clone();
        assert_eq!(c("assigned_to=javascript:gs.getUserID()"), Value::UserId);
        assert_eq!(
            c("assignment_group=javascript:gs.getUser().getMyGroups()"),
            Value::MyGroups
        );
        assert_eq!(
            c("assignment_groupINjavascript:gs.getUser().getMyGroups()"),
            Value::MyGroups
        );
        assert_eq!(
            c("active=javascript:gs.hasRole('itil')"),
            Value::HasRole("itil".into())
        );
        assert!(parse("assigned_to=javascript:gs.getUser().getName()").is_err());
        assert!(parse("priority<javascript:gs.getUser().getMyGroups()").is_err());
    }

    #[test]
    fn caret_escapes_and_values_keep_their_text() {
        let q = parse("short_description=a^^b=c").unwrap();
        assert_eq!(
            q.conditions().next().unwrap().value,
            Value::Text("a^b=c".into())
        );
        let q = parse("nameLIKE50%_off\\").unwrap();
        assert_eq!(
            q.conditions().next().unwrap().value,
            Value::Text("50%_off\\".into())
        );
    }

    #[test]
    fn errors_carry_their_position() {
        let e = parse("active=true^state~3").unwrap_err();
        assert_eq!(e.position, 17);
        assert!(
            e.message.contains("unknown operator after field \"state\""),
            "{e}"
        );
        let q = parse("active=true^^").unwrap();
        assert_eq!(
            q.conditions().next().unwrap().value,
            Value::Text("true^".into())
        );
    }

    #[test]
    fn malformed_queries_are_refused() {
        for (q, pos) in [
            ("Active=true", 0),
            ("caller_id.department=x", 0),
            ("active=true^", 12),
            ("a=1^ORDERBYnumber", 4),
            ("nameISEMPTYx", 11),
            ("stateBETWEEN1", 12),
            ("aSAMEASNot a field", 7),
        ] {
            let e = parse(q).expect_err(q);
            assert_eq!(e.position, pos, "{q}: {e}");
        }
    }
}
