//! Values of a record as plain Rust data, and the literals of a condition
//! parsed into them, strictly, for the Arrow type of the field they are
//! compared with.
//!
//! Formats (sqlgate): integers `-?[0-9]+`, within the field's range;
//! floats in decimal or exponent notation, finite; decimals `-?[0-9]+(.[0-9]+)?`
//! with no more significant decimal places than the field's scale and
//! within its precision (never rounded); booleans `true` / `false`; dates
//! `YYYY-MM-DD`; timestamps `YYYY-MM-DD HH:MM:SS`, read as UTC whatever the
//! field's time zone (Arrow stores instants since the epoch in UTC).

use std::cmp::Ordering;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;

/// One value of a record, for the reference evaluator; the Arrow type of
/// its field says how to read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// Utf8, Utf8View, LargeUtf8.
    Text(String),
    /// Int8 to Int64.
    Int(i64),
    /// UInt8 to UInt64.
    UInt(u64),
    /// Float32 (widened exactly) and Float64.
    Float(f64),
    /// Decimal128: the unscaled integer; precision and scale are the field's.
    Decimal(i128),
    Bool(bool),
    /// Date32: days since 1970-01-01.
    Date(i32),
    /// Timestamp: units of the field's `TimeUnit` since the epoch, UTC.
    Timestamp(i64),
}

/// What conditions may do with a field of a given Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Int,
    UInt,
    Float,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Bool,
    Date,
    Timestamp(TimeUnit),
    /// Only ISEMPTY / ISNOTEMPTY (a NULL test) apply.
    Other,
}

pub(crate) fn kind(ty: &DataType) -> Kind {
    match ty {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Kind::Text,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Kind::UInt,
        DataType::Float32 | DataType::Float64 => Kind::Float,
        DataType::Decimal128(precision, scale) => Kind::Decimal {
            precision: *precision,
            scale: *scale,
        },
        DataType::Boolean => Kind::Bool,
        DataType::Date32 => Kind::Date,
        DataType::Timestamp(unit, _) => Kind::Timestamp(*unit),
        _ => Kind::Other,
    }
}

/// The range of an integer type, for messages and checks.
fn int_range(ty: &DataType) -> (i128, i128) {
    match ty {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        _ => (0, u64::MAX.into()),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a condition literal for a field of type `ty`. The error says
/// what was expected.
pub(crate) fn parse(text: &str, ty: &DataType) -> Result<Value, String> {
    let kind = kind(ty);
    let parsed =
        match kind {
            Kind::Text => Some(Value::Text(text.to_owned())),
            Kind::Int | Kind::UInt => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                let (low, high) = int_range(ty);
                let n = is_digits(digits)
                    .then(|| text.parse::<i128>().ok())
                    .flatten()
                    .filter(|n| (low..=high).contains(n));
                return match (n, kind) {
                    (Some(n), Kind::Int) => Ok(Value::Int(n as i64)),
                    (Some(n), _) => Ok(Value::UInt(n as u64)),
                    (None, _) => Err(format!("an integer from {low} to {high}")),
                };
            }
            Kind::Float => float(text, ty).map(Value::Float),
            Kind::Decimal { precision, scale } => {
                return decimal(text, precision, scale).map(Value::Decimal).ok_or_else(|| {
                format!("a decimal number with at most {precision} digits, {scale} after the point")
            });
            }
            Kind::Bool => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Kind::Date => date(text).map(Value::Date),
            Kind::Timestamp(unit) => timestamp(text, unit).map(Value::Timestamp),
            Kind::Other => return Err(format!("a type conditions can compare, not {ty}")),
        };
    parsed.ok_or_else(|| {
        match kind {
            Kind::Float => "a finite number",
            Kind::Bool => "true or false",
            Kind::Date => "a date YYYY-MM-DD",
            _ => "a date and time YYYY-MM-DD HH:MM:SS (UTC)",
        }
        .to_owned()
    })
}

fn float(text: &str, ty: &DataType) -> Option<f64> {
    let plain = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !plain {
        return None;
    }
    let value = if *ty == DataType::Float32 {
        f64::from(text.parse::<f32>().ok()?)
    } else {
        text.parse::<f64>().ok()?
    };
    value.is_finite().then_some(value)
}

/// The unscaled value of `text` at `scale`, exactly, within `precision`.
fn decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if !is_digits(whole) || (unsigned.contains('.') && !is_digits(fraction)) {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    // Leading zeros carry no precision; a value beyond 39 digits cannot fit.
    let digits = digits.trim_start_matches('0');
    if digits.len() > 39 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let shift = i32::from(scale) - fraction.len() as i32;
    let unscaled = if shift >= 0 {
        mantissa.checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        let divisor = 10i128
            .checked_pow(shift.unsigned_abs())
            .unwrap_or(i128::MAX);
        (mantissa % divisor == 0).then_some(mantissa / divisor)?
    };
    let limit = 10i128.checked_pow(u32::from(precision))?;
    (unscaled < limit).then_some(if negative { -unscaled } else { unscaled })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` as days since the epoch.
fn date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        is_digits(&text[r.clone()]).then(|| text[r].parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month)
        .contains(&day)
        .then(|| days_from_civil(year, month, day) as i32)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) in `unit` since the epoch.
fn timestamp(text: &str, unit: TimeUnit) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = i64::from(date(&text[..10])?);
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        is_digits(&text[r.clone()]).then(|| text[r].parse().ok())?
    };
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let seconds = days * 86_400 + h * 3_600 + m * 60 + s;
    let per_second = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    seconds.checked_mul(per_second)
}

/// The literal as a DataFusion scalar of exactly the field's type, so the
/// compiled comparison needs no coercion.
pub(crate) fn to_scalar(value: &Value, ty: &DataType) -> ScalarValue {
    use DataType as T;
    use ScalarValue as S;
    match (value, ty) {
        (Value::Text(s), T::Utf8) => S::Utf8(Some(s.clone())),
        (Value::Text(s), T::Utf8View) => S::Utf8View(Some(s.clone())),
        (Value::Text(s), T::LargeUtf8) => S::LargeUtf8(Some(s.clone())),
        // Ranges were checked when parsing.
        (Value::Int(i), T::Int8) => S::Int8(Some(*i as i8)),
        (Value::Int(i), T::Int16) => S::Int16(Some(*i as i16)),
        (Value::Int(i), T::Int32) => S::Int32(Some(*i as i32)),
        (Value::Int(i), T::Int64) => S::Int64(Some(*i)),
        (Value::UInt(u), T::UInt8) => S::UInt8(Some(*u as u8)),
        (Value::UInt(u), T::UInt16) => S::UInt16(Some(*u as u16)),
        (Value::UInt(u), T::UInt32) => S::UInt32(Some(*u as u32)),
        (Value::UInt(u), T::UInt64) => S::UInt64(Some(*u)),
        (Value::Float(f), T::Float32) => S::Float32(Some(*f as f32)),
        (Value::Float(f), T::Float64) => S::Float64(Some(*f)),
        (Value::Decimal(d), T::Decimal128(p, s)) => S::Decimal128(Some(*d), *p, *s),
        (Value::Bool(b), T::Boolean) => S::Boolean(Some(*b)),
        (Value::Date(d), T::Date32) => S::Date32(Some(*d)),
        (Value::Timestamp(t), T::Timestamp(unit, tz)) => {
            let (t, tz) = (Some(*t), tz.clone());
            match unit {
                TimeUnit::Second => S::TimestampSecond(t, tz),
                TimeUnit::Millisecond => S::TimestampMillisecond(t, tz),
                TimeUnit::Microsecond => S::TimestampMicrosecond(t, tz),
                TimeUnit::Nanosecond => S::TimestampNanosecond(t, tz),
            }
        }
        // Unreachable for a literal parsed for `ty`; a NULL never matches.
        _ => S::try_from(ty).unwrap_or(S::Null),
    }
}

/// The type two fields are compared in (`SAMEAS`), when they can be
/// compared exactly: strings with strings, integers with integers, floats
/// with floats, decimals of the same scale, and booleans, dates, or
/// timestamps of the same unit with their own kind.
pub(crate) fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return (kind(a) != Kind::Other).then(|| a.clone());
    }
    Some(match (kind(a), kind(b)) {
        (Kind::Text, Kind::Text) if [a, b].contains(&&DataType::LargeUtf8) => DataType::LargeUtf8,
        (Kind::Text, Kind::Text) => DataType::Utf8,
        (Kind::Int, Kind::Int) => DataType::Int64,
        (Kind::UInt, Kind::UInt) => DataType::UInt64,
        (Kind::Int, Kind::UInt) | (Kind::UInt, Kind::Int) => {
            if [a, b].contains(&&DataType::UInt64) {
                DataType::Decimal128(20, 0)
            } else {
                DataType::Int64
            }
        }
        (Kind::Float, Kind::Float) => DataType::Float64,
        (
            Kind::Decimal {
                precision: p,
                scale: s,
            },
            Kind::Decimal {
                precision: q,
                scale: t,
            },
        ) if s == t => DataType::Decimal128(p.max(q), s),
        (Kind::Timestamp(u), Kind::Timestamp(v)) if u == v => a.clone(),
        _ => return None,
    })
}

/// The order of two values of comparable fields, as DataFusion compares
/// them: strings by bytes, numbers exactly, floats in IEEE 754 total order
/// once `-0.0` is read as `0.0` (so NaN equals NaN and is above every
/// number). `None` for a NULL or values of different kinds.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value as V;
    Some(match (a, b) {
        (V::Text(x), V::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::UInt(x), V::UInt(y)) => x.cmp(y),
        (V::Int(x), V::UInt(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (V::UInt(x), V::Int(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (V::Float(x), V::Float(y)) => plus_zero(*x).total_cmp(&plus_zero(*y)),
        (V::Decimal(x), V::Decimal(y)) => x.cmp(y),
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Date(x), V::Date(y)) => x.cmp(y),
        (V::Timestamp(x), V::Timestamp(y)) => x.cmp(y),
        _ => return None,
    })
}

/// `-0.0` as `0.0`, other values unchanged.
fn plus_zero(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x }
}
