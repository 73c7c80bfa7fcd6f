//! PostgreSQL's `format(formatstr, args...)`: Metabase builds type names
//! and `regclass` literals of the columns it describes with it
//! (`format('%I.%I', table_schema, table_name)`).
//!
//! Conversions: `%s` (the value as text, NULL as nothing), `%I` (an
//! identifier, quoted when needed), `%L` (a literal, NULL unquoted) and
//! `%%`, each with an optional argument position (`%2$s`), `-` flag and
//! width, as in PostgreSQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The `format` function.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Format {
        signature: Signature::variadic_any(Volatility::Stable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { args.number_rows };
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let values = args
                .args
                .iter()
                .map(|a| match a {
                    ColumnarValue::Scalar(v) => Ok(v.clone()),
                    ColumnarValue::Array(a) => ScalarValue::try_from_array(a, row),
                })
                .collect::<Result<Vec<_>>>()?;
            let Some((template, rest)) = values.split_first() else {
                return exec_err!("format needs a format string");
            };
            out.push(match text(template) {
                None => None,
                Some(t) => Some(format(&t, rest)?),
            });
        }
        let array: ArrayRef = Arc::new(StringArray::from(out));
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}

/// A value as PostgreSQL's text output would show it; `None` for NULL.
fn text(v: &ScalarValue) -> Option<String> {
    if v.is_null() {
        return None;
    }
    Some(match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        ScalarValue::Boolean(Some(b)) => if *b { "t" } else { "f" }.to_owned(),
        other => other.to_string(),
    })
}

fn format(template: &str, args: &[ScalarValue]) -> Result<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // %[position$][flags][width]type
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let mut position = None;
        if !digits.is_empty() && chars.peek() == Some(&'$') {
            chars.next();
            position = Some(digits.parse::<usize>().unwrap_or(0));
            digits.clear();
        }
        let mut left = false;
        if digits.is_empty() && chars.peek() == Some(&'-') {
            chars.next();
            left = true;
        }
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let width = digits.parse::<usize>().unwrap_or(0);
        let index = match position {
            Some(0) => {
                return exec_err!("format specifies argument 0, but arguments are numbered from 1");
            }
            Some(p) => p - 1,
            None => next_arg,
        };
        next_arg = index + 1;
        let Some(kind) = chars.next() else {
            return exec_err!("unterminated format() type specifier");
        };
        let Some(arg) = args.get(index) else {
            return exec_err!("too few arguments for format()");
        };
        let value = text(arg);
        let piece = match kind {
            's' => value.unwrap_or_default(),
            'I' => match value {
                Some(v) => quote_ident(&v),
                None => return exec_err!("null values cannot be formatted as an SQL identifier"),
            },
            'L' => value.map_or_else(|| "NULL".to_owned(), |v| quote_literal(&v)),
            other => return exec_err!("unrecognized format() type specifier \"{other}\""),
        };
        let pad = width.saturating_sub(piece.chars().count());
        if left {
            out.push_str(&piece);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&piece);
        }
    }
    Ok(out)
}

/// Quoted unless it is a plain lower-case identifier.
fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

fn quote_literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(template: &str, args: &[&str]) -> String {
        let args: Vec<ScalarValue> = args
            .iter()
            .map(|a| ScalarValue::Utf8(Some((*a).to_owned())))
            .collect();
        format(template, &args).unwrap()
    }

    #[test]
    fn formats_as_postgres_does() {
        assert_eq!(f("%I.%I", &["public", "incident"]), "public.incident");
        assert_eq!(f("%I", &["Mixed Case"]), "\"Mixed Case\"");
        assert_eq!(f("\"%s\".\"%s\"", &["a", "b"]), "\"a\".\"b\"");
        assert_eq!(f("%L and %%", &["it's"]), "'it''s' and %");
        assert_eq!(f("%2$s %1$s", &["a", "b"]), "b a");
        assert_eq!(f("[%5s|%-5s]", &["ab", "cd"]), "[   ab|cd   ]");
        assert_eq!(
            format("%s|%L", &[ScalarValue::Utf8(None), ScalarValue::Utf8(None)]).unwrap(),
            "|NULL"
        );
        assert_eq!(
            format(
                "%s %s",
                &[
                    ScalarValue::Int32(Some(3)),
                    ScalarValue::Boolean(Some(true))
                ]
            )
            .unwrap(),
            "3 t"
        );
        assert!(format("%s %s", &[ScalarValue::Int32(Some(3))]).is_err());
        assert!(format("%I", &[ScalarValue::Utf8(None)]).is_err());
    }
}
