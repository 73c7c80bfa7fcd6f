//! RecordBatch to DataRow messages, one typed writer per column.
//!
//! arrow-pg encodes one cell at a time: for every cell it matches the Arrow
//! type, downcasts the array, builds a value and hands it to a generic
//! `ToSql`/`ToSqlText` path that formats through `fmt` machinery. That
//! dispatch dominates the cost of sending wide results. Here the type is
//! matched once per column and a batch is written column by column into one
//! buffer: each column adds its cells' sizes to the rows' sizes, the rows
//! are laid out, and each column then writes all its cells into place in
//! one typed loop (`columns`). Each row is split off that buffer when sent
//! message by message (the DataRows share one allocation).
//!
//! The text forms are PostgreSQL 15's own (DateStyle ISO, IntervalStyle
//! postgres, extra_float_digits 1): clients and BI tools parse these strings
//! and tests compare them against a real server. The wire type announced in
//! RowDescription (the `FieldInfo` list) decides the binary layout, so an
//! Int32 announced as `oid` is sent as a 4-byte unsigned value and an Int8
//! announced as `int2` as 2 bytes. Any column whose Arrow type and announced
//! type are not a pair handled here goes through arrow-pg's encoder, cell by
//! cell, exactly as before.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Field, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, IntervalDayTimeType,
    IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

mod columns;

use columns::{ColumnWriter, Digits, Fixed, Flags, Raw, Staged, TimestampText};

/// Writes one cell of a column (its length, -1 for NULL, then its bytes).
type Cell<'a> = Box<dyn FnMut(usize, &mut BytesMut) + 'a>;

const USECS_PER_DAY: i64 = 86_400_000_000;
/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's binary epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_USECS: i64 = PG_EPOCH_DAYS * USECS_PER_DAY;

/// Encodes batches for one result: its announced fields and the session's
/// time zone (for `timestamptz` text).
pub struct BatchEncoder {
    fields: Arc<Vec<FieldInfo>>,
    /// Session UTC offset in seconds, east positive.
    offset: i32,
    /// One buffer per column for the columns that are staged, kept from
    /// batch to batch.
    staged: Vec<Staged>,
    /// A sent batch's buffer, given back to hold the next batch.
    spare: Option<BytesMut>,
}

impl BatchEncoder {
    pub fn new(fields: Arc<Vec<FieldInfo>>) -> BatchEncoder {
        BatchEncoder {
            fields,
            offset: 0,
            staged: Vec::new(),
            spare: None,
        }
    }

    /// Gives back the buffer of a batch that went out whole, so that the
    /// next batch is written over it instead of into fresh memory: a new
    /// buffer of a few megabytes is page-faulted in and zeroed every time,
    /// which was about 5% of a text stream's CPU.
    pub fn reuse(&mut self, sent: Encoded) {
        self.spare = Some(sent.bytes);
    }

    /// Sets the session time zone (`TimeZone`), as the engine accepts it:
    /// UTC and its aliases or a fixed offset such as `+05:30`. Unknown names
    /// keep UTC, which is also what DataFusion falls back to.
    pub fn with_time_zone(mut self, time_zone: &str) -> BatchEncoder {
        self.offset = utc_offset(time_zone).unwrap_or(0);
        self
    }

    /// The DataRow messages of a batch, in order, in one buffer: every
    /// row's size is summed column by column, then each column writes its
    /// cells into their rows (see `columns`).
    pub fn encode(&mut self, batch: &RecordBatch) -> PgWireResult<Encoded> {
        let rows = batch.num_rows();
        let field_count = i16::try_from(batch.num_columns())
            .map_err(|_| crate::errors::error("54011", "too many result columns"))?;
        let BatchEncoder {
            fields,
            offset,
            staged,
            spare,
        } = self;
        staged.resize_with(batch.num_columns(), Staged::default);

        // Columns without a direct writer are staged first: their writers
        // borrow the staging buffers, which must be complete by then.
        let mut direct = Vec::with_capacity(batch.num_columns());
        for (i, array) in batch.columns().iter().enumerate() {
            let field = &fields[i];
            let binary = field.format() == FieldFormat::Binary;
            let writer = direct_writer(array.as_ref(), field.datatype(), binary, *offset);
            if writer.is_none() {
                let stage = &mut staged[i];
                stage.clear();
                match cell_encoder(array.as_ref(), field.datatype(), binary, *offset) {
                    Some(mut cell) => {
                        stage.ends.reserve(rows);
                        for row in 0..rows {
                            cell(row, &mut stage.bytes);
                            stage.ends.push(stage.bytes.len());
                        }
                    }
                    None => fallback(array, batch.schema_ref().field(i), field, stage)?,
                }
            }
            direct.push(writer);
        }
        let writers: Vec<Box<dyn ColumnWriter + '_>> = direct
            .into_iter()
            .zip(staged.iter())
            .map(|(writer, stage)| writer.unwrap_or_else(|| Box::new(stage)))
            .collect();

        let mut sizes = vec![DATA_ROW_HEADER; rows];
        for writer in &writers {
            writer.add_sizes(&mut sizes);
        }
        let mut at = Vec::with_capacity(rows);
        let mut total = 0usize;
        for &size in &sizes {
            // The length counts itself, not the type byte.
            if i32::try_from(size - 1).is_err() {
                return Err(crate::errors::error(
                    "54000",
                    "a result row exceeds the maximum message length",
                ));
            }
            at.push(total);
            total += size;
        }
        // Initialised, never uninitialised: a writer that fell short would
        // send zeros or rows this result already sent to this client (a
        // reused buffer), never other heap memory; and the check below
        // refuses the batch anyway. Writing the rows a chunk at a time,
        // each chunk zeroed just before, was measured: no less CPU.
        let mut buf = match spare.take() {
            Some(mut buf) if buf.capacity() >= total => {
                if buf.len() >= total {
                    buf.truncate(total);
                } else {
                    buf.resize(total, 0);
                }
                buf
            }
            _ => BytesMut::zeroed(total),
        };
        for (at, &size) in at.iter_mut().zip(&sizes) {
            let start = *at;
            buf[start] = b'D';
            buf[start + 1..start + 5].copy_from_slice(&((size - 1) as i32).to_be_bytes());
            buf[start + 5..start + 7].copy_from_slice(&field_count.to_be_bytes());
            *at = start + DATA_ROW_HEADER;
        }
        for writer in &writers {
            writer.write(&mut buf, &mut at);
        }
        let mut end = 0;
        for (&at, &size) in at.iter().zip(&sizes) {
            end += size;
            if at != end {
                return Err(crate::errors::error(
                    "XX000",
                    "internal error: a result row was not encoded to its announced size",
                ));
            }
        }
        Ok(Encoded { bytes: buf, rows })
    }
}

/// The type byte, length and field count before a DataRow's cells.
pub(crate) const DATA_ROW_HEADER: usize = 7;

/// Whole DataRow messages, back to back: what goes to the socket as is.
#[derive(Debug, Default)]
pub struct Encoded {
    bytes: BytesMut,
    rows: usize,
}

impl Encoded {
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The messages, ready to write.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Takes the first row as a DataRow (its cells without the header),
    /// for senders that go message by message.
    pub fn next_row(&mut self) -> Option<DataRow> {
        if self.rows == 0 {
            return None;
        }
        self.rows -= 1;
        let len = message_length(&self.bytes);
        let field_count = i16::from_be_bytes([self.bytes[5], self.bytes[6]]);
        let mut cells = self.bytes.split_to(1 + len);
        cells.advance(DATA_ROW_HEADER);
        Some(DataRow::new(cells, field_count))
    }
}

/// The length field of the message starting at `bytes[0]`.
fn message_length(bytes: &[u8]) -> usize {
    i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize
}

/// The session offset (seconds east of UTC) of a `TimeZone` setting.
fn utc_offset(tz: &str) -> Option<i32> {
    let t = tz.trim();
    if ["utc", "gmt", "z", "etc/utc", "zulu", "universal"]
        .contains(&t.to_ascii_lowercase().as_str())
    {
        return Some(0);
    }
    let sign = match t.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = t[1..].chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

/// arrow-pg's encoder for a column this module has no fast path for,
/// cell by cell into the column's staging buffer. The whole column is
/// encoded before any row is laid out, so errors surface before any row of
/// the batch is sent.
fn fallback(
    array: &ArrayRef,
    arrow: &Field,
    pg: &FieldInfo,
    stage: &mut Staged,
) -> PgWireResult<()> {
    let mut encoder = DataRowEncoder::new(Arc::new(vec![pg.clone()]));
    stage.ends.reserve(array.len());
    for row in 0..array.len() {
        arrow_pg::encoder::encode_value(&mut encoder, array, row, arrow, pg)?;
        stage.bytes.extend_from_slice(&encoder.take_row().data);
        stage.ends.push(stage.bytes.len());
    }
    Ok(())
}

/// A writer that puts a column's cells straight from its array into the
/// rows: text and binary values sent as they are, integers, booleans and
/// values of a fixed binary width. `None` for every other pair of array
/// and announced type; those are staged by [`cell_encoder`], which also
/// encodes the elements of arrays for every type. Each pair here must write exactly the bytes
/// `cell_encoder` writes for it (a test compares the two).
fn direct_writer<'a>(
    array: &'a dyn Array,
    ty: &Type,
    binary: bool,
    offset: i32,
) -> Option<Box<dyn ColumnWriter + 'a>> {
    let oid = ty.oid();
    let is = |t: &Type| oid == t.oid();
    Some(match array.data_type() {
        DataType::Boolean if is(&Type::BOOL) => Box::new(Flags::new(array.as_boolean(), binary)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            if is(&Type::TEXT)
                || is(&Type::VARCHAR)
                || is(&Type::NAME)
                || is(&Type::BPCHAR)
                || (is(&Type::CHAR) && !binary) =>
        {
            match array.data_type() {
                DataType::Utf8 => Box::new(Raw::new(array.as_string::<i32>())),
                DataType::LargeUtf8 => Box::new(Raw::new(array.as_string::<i64>())),
                _ => Box::new(Raw::new(array.as_string_view())),
            }
        }
        DataType::Binary if binary && is(&Type::BYTEA) => {
            Box::new(Raw::new(array.as_binary::<i32>()))
        }
        DataType::LargeBinary if binary && is(&Type::BYTEA) => {
            Box::new(Raw::new(array.as_binary::<i64>()))
        }
        DataType::BinaryView if binary && is(&Type::BYTEA) => {
            Box::new(Raw::new(array.as_binary_view()))
        }
        DataType::Int8 => int_writer::<Int8Type>(array, int_wire(ty)?, binary)?,
        DataType::Int16 => int_writer::<Int16Type>(array, int_wire(ty)?, binary)?,
        DataType::Int32 => int_writer::<Int32Type>(array, int_wire(ty)?, binary)?,
        DataType::Int64 => int_writer::<Int64Type>(array, int_wire(ty)?, binary)?,
        DataType::UInt8 => int_writer::<UInt8Type>(array, int_wire(ty)?, binary)?,
        DataType::UInt16 => int_writer::<UInt16Type>(array, int_wire(ty)?, binary)?,
        DataType::UInt32 => int_writer::<UInt32Type>(array, int_wire(ty)?, binary)?,
        DataType::UInt64 => int_writer::<UInt64Type>(array, int_wire(ty)?, binary)?,
        DataType::Timestamp(unit, zone) if !binary && timestamp_announced(zone.is_some(), ty) => {
            let zone = zone.is_some().then_some(offset);
            let to_usecs = usecs_from(unit);
            match unit {
                TimeUnit::Second => Box::new(TimestampText::<TimestampSecondType>::new(
                    array, to_usecs, zone,
                )),
                TimeUnit::Millisecond => Box::new(TimestampText::<TimestampMillisecondType>::new(
                    array, to_usecs, zone,
                )),
                TimeUnit::Microsecond => Box::new(TimestampText::<TimestampMicrosecondType>::new(
                    array, to_usecs, zone,
                )),
                TimeUnit::Nanosecond => Box::new(TimestampText::<TimestampNanosecondType>::new(
                    array, to_usecs, zone,
                )),
            }
        }
        _ if !binary => return None,
        DataType::Float32 if is(&Type::FLOAT4) => {
            Box::new(Fixed::<Float32Type, _, 4>::new(array, f32::to_be_bytes))
        }
        DataType::Float64 if is(&Type::FLOAT8) => {
            Box::new(Fixed::<Float64Type, _, 8>::new(array, f64::to_be_bytes))
        }
        DataType::Date32 if is(&Type::DATE) => {
            Box::new(Fixed::<Date32Type, _, 4>::new(array, |d| {
                ((d as i64 - PG_EPOCH_DAYS) as i32).to_be_bytes()
            }))
        }
        DataType::Timestamp(unit, zone) if timestamp_announced(zone.is_some(), ty) => {
            let to_usecs = usecs_from(unit);
            let pg = move |v: i64| to_usecs(v).saturating_sub(PG_EPOCH_USECS).to_be_bytes();
            match unit {
                TimeUnit::Second => Box::new(Fixed::<TimestampSecondType, _, 8>::new(array, pg)),
                TimeUnit::Millisecond => {
                    Box::new(Fixed::<TimestampMillisecondType, _, 8>::new(array, pg))
                }
                TimeUnit::Microsecond => {
                    Box::new(Fixed::<TimestampMicrosecondType, _, 8>::new(array, pg))
                }
                TimeUnit::Nanosecond => {
                    Box::new(Fixed::<TimestampNanosecondType, _, 8>::new(array, pg))
                }
            }
        }
        _ => return None,
    })
}

/// Whether a timestamp column, with a zone or without, is announced as its
/// PostgreSQL counterpart (`timestamptz` or `timestamp`).
fn timestamp_announced(with_zone: bool, ty: &Type) -> bool {
    let counterpart = if with_zone {
        Type::TIMESTAMPTZ
    } else {
        Type::TIMESTAMP
    };
    ty.oid() == counterpart.oid()
}

/// Microseconds from a timestamp stored in `unit` (nanoseconds are
/// floored: PostgreSQL has no finer unit).
fn usecs_from(unit: &TimeUnit) -> fn(i64) -> i64 {
    match unit {
        TimeUnit::Second => |v| v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => |v| v.saturating_mul(1_000),
        TimeUnit::Microsecond => |v| v,
        TimeUnit::Nanosecond => |v| v.div_euclid(1_000),
    }
}

/// An integer column: its digits in text, a fixed width in binary; `None`
/// for binary `numeric`.
fn int_writer<'a, T>(
    array: &'a dyn Array,
    wire: IntWire,
    binary: bool,
) -> Option<Box<dyn ColumnWriter + 'a>>
where
    T: ArrowPrimitiveType,
    T::Native: itoa::Integer + Into<i128>,
{
    let wide = |v: T::Native| -> i128 { v.into() };
    Some(match (wire, binary) {
        (IntWire::Oid, false) => Box::new(Digits::<T, _>::new(array, move |v| wide(v) as u32)),
        (_, false) => Box::new(Digits::<T, _>::new(array, |v| v)),
        (IntWire::I2, true) => Box::new(Fixed::<T, _, 2>::new(array, move |v| {
            (wide(v) as i16).to_be_bytes()
        })),
        (IntWire::I4, true) => Box::new(Fixed::<T, _, 4>::new(array, move |v| {
            (wide(v) as i32).to_be_bytes()
        })),
        (IntWire::I8, true) => Box::new(Fixed::<T, _, 8>::new(array, move |v| {
            (wide(v) as i64).to_be_bytes()
        })),
        (IntWire::Oid, true) => Box::new(Fixed::<T, _, 4>::new(array, move |v| {
            (wide(v) as u32).to_be_bytes()
        })),
        (IntWire::Numeric, true) => return None,
    })
}

/// The integer type a column announced as `ty` is sent as.
fn int_wire(ty: &Type) -> Option<IntWire> {
    let oid = ty.oid();
    Some(match oid {
        o if o == Type::INT2.oid() => IntWire::I2,
        o if o == Type::INT4.oid() => IntWire::I4,
        o if o == Type::INT8.oid() => IntWire::I8,
        o if o == Type::OID.oid() => IntWire::Oid,
        o if o == Type::NUMERIC.oid() => IntWire::Numeric,
        _ => return None,
    })
}

/// A typed encoder for a column of `array` announced as `ty`, or `None`
/// when the pair is not one handled here.
fn cell_encoder<'a>(array: &'a dyn Array, ty: &Type, binary: bool, tz: i32) -> Option<Cell<'a>> {
    let oid = ty.oid();
    let is = |t: &Type| oid == t.oid();
    Some(match array.data_type() {
        DataType::Null => Box::new(|_, out: &mut BytesMut| out.put_i32(-1)),
        DataType::Boolean if is(&Type::BOOL) => {
            let a = array.as_boolean();
            Box::new(move |i, out: &mut BytesMut| {
                if a.is_null(i) {
                    out.put_i32(-1);
                } else if binary {
                    out.put_i32(1);
                    out.put_u8(a.value(i) as u8);
                } else {
                    out.put_i32(1);
                    out.put_u8(if a.value(i) { b't' } else { b'f' });
                }
            })
        }
        DataType::Int8 => int_cell::<Int8Type>(array, int_wire(ty)?, binary),
        DataType::Int16 => int_cell::<Int16Type>(array, int_wire(ty)?, binary),
        DataType::Int32 => int_cell::<Int32Type>(array, int_wire(ty)?, binary),
        DataType::Int64 => int_cell::<Int64Type>(array, int_wire(ty)?, binary),
        DataType::UInt8 => int_cell::<UInt8Type>(array, int_wire(ty)?, binary),
        DataType::UInt16 => int_cell::<UInt16Type>(array, int_wire(ty)?, binary),
        DataType::UInt32 => int_cell::<UInt32Type>(array, int_wire(ty)?, binary),
        DataType::UInt64 => int_cell::<UInt64Type>(array, int_wire(ty)?, binary),
        DataType::Float32 if is(&Type::FLOAT4) => {
            if binary {
                prim::<Float32Type>(array, |v, out| {
                    out.put_i32(4);
                    out.put_f32(v);
                })
            } else {
                prim::<Float32Type>(array, |v, out| with_len(out, |o| float4_text(o, v)))
            }
        }
        DataType::Float64 if is(&Type::FLOAT8) => {
            if binary {
                prim::<Float64Type>(array, |v, out| {
                    out.put_i32(8);
                    out.put_f64(v);
                })
            } else {
                prim::<Float64Type>(array, |v, out| with_len(out, |o| float8_text(o, v)))
            }
        }
        DataType::Decimal128(_, scale) if is(&Type::NUMERIC) && *scale >= 0 => {
            let scale = *scale as u16;
            prim::<Decimal128Type>(array, move |v, out| {
                with_len(out, |o| {
                    if binary {
                        numeric_binary(o, v < 0, v.unsigned_abs(), scale)
                    } else {
                        numeric_text(o, v < 0, v.unsigned_abs(), scale)
                    }
                })
            })
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let kind = if is(&Type::CHAR) {
                if binary { Bytes::FirstByte } else { Bytes::Raw }
            } else if is(&Type::TEXT) || is(&Type::VARCHAR) || is(&Type::NAME) || is(&Type::BPCHAR)
            {
                Bytes::Raw
            } else {
                return None;
            };
            match array.data_type() {
                DataType::Utf8 => {
                    let a = array.as_string::<i32>();
                    bytes_cell(a, move |i| a.value(i).as_bytes(), kind)
                }
                DataType::LargeUtf8 => {
                    let a = array.as_string::<i64>();
                    bytes_cell(a, move |i| a.value(i).as_bytes(), kind)
                }
                _ => {
                    let a = array.as_string_view();
                    bytes_cell(a, move |i| a.value(i).as_bytes(), kind)
                }
            }
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView if is(&Type::BYTEA) => {
            let kind = if binary { Bytes::Raw } else { Bytes::Hex };
            match array.data_type() {
                DataType::Binary => {
                    let a = array.as_binary::<i32>();
                    bytes_cell(a, move |i| a.value(i), kind)
                }
                DataType::LargeBinary => {
                    let a = array.as_binary::<i64>();
                    bytes_cell(a, move |i| a.value(i), kind)
                }
                _ => {
                    let a = array.as_binary_view();
                    bytes_cell(a, move |i| a.value(i), kind)
                }
            }
        }
        DataType::Date32 if is(&Type::DATE) => {
            if binary {
                prim::<Date32Type>(array, |d, out| {
                    out.put_i32(4);
                    out.put_i32((d as i64 - PG_EPOCH_DAYS) as i32);
                })
            } else {
                prim::<Date32Type>(array, |d, out| {
                    with_len(out, |o| {
                        let bc = write_date(o, d as i64);
                        if bc {
                            o.put_slice(b" BC");
                        }
                    })
                })
            }
        }
        DataType::Timestamp(unit, zone) if timestamp_announced(zone.is_some(), ty) => {
            let shown = zone.is_some().then_some(tz);
            let to_usecs = usecs_from(unit);
            match unit {
                TimeUnit::Second => {
                    timestamp_cell::<TimestampSecondType>(array, to_usecs, binary, shown)
                }
                TimeUnit::Millisecond => {
                    timestamp_cell::<TimestampMillisecondType>(array, to_usecs, binary, shown)
                }
                TimeUnit::Microsecond => {
                    timestamp_cell::<TimestampMicrosecondType>(array, to_usecs, binary, shown)
                }
                TimeUnit::Nanosecond => {
                    timestamp_cell::<TimestampNanosecondType>(array, to_usecs, binary, shown)
                }
            }
        }
        DataType::Time32(unit) if is(&Type::TIME) => match unit {
            TimeUnit::Second => {
                time_cell::<Time32SecondType>(array, |v| v as i64 * 1_000_000, binary)
            }
            TimeUnit::Millisecond => {
                time_cell::<Time32MillisecondType>(array, |v| v as i64 * 1_000, binary)
            }
            _ => return None,
        },
        DataType::Time64(unit) if is(&Type::TIME) => match unit {
            TimeUnit::Microsecond => time_cell::<Time64MicrosecondType>(array, |v| v, binary),
            TimeUnit::Nanosecond => {
                time_cell::<Time64NanosecondType>(array, |v| v.div_euclid(1_000), binary)
            }
            _ => return None,
        },
        DataType::Interval(unit) if is(&Type::INTERVAL) => match unit {
            IntervalUnit::YearMonth => {
                interval_cell::<IntervalYearMonthType>(array, |v| (v, 0, 0), binary)
            }
            IntervalUnit::DayTime => interval_cell::<IntervalDayTimeType>(
                array,
                |v| (0, v.days, v.milliseconds as i64 * 1_000),
                binary,
            ),
            IntervalUnit::MonthDayNano => interval_cell::<IntervalMonthDayNanoType>(
                array,
                |v| (v.months, v.days, v.nanoseconds / 1_000),
                binary,
            ),
        },
        DataType::Duration(unit) if is(&Type::INTERVAL) => match unit {
            TimeUnit::Second => interval_cell::<DurationSecondType>(
                array,
                |v| (0, 0, v.saturating_mul(1_000_000)),
                binary,
            ),
            TimeUnit::Millisecond => interval_cell::<DurationMillisecondType>(
                array,
                |v| (0, 0, v.saturating_mul(1_000)),
                binary,
            ),
            TimeUnit::Microsecond => {
                interval_cell::<DurationMicrosecondType>(array, |v| (0, 0, v), binary)
            }
            TimeUnit::Nanosecond => {
                interval_cell::<DurationNanosecondType>(array, |v| (0, 0, v / 1_000), binary)
            }
        },
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            // The element type arrow-pg derives for this list, kept only
            // when the array type it implies is the one announced.
            let values = match array.data_type() {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    f.data_type()
                }
                _ => return None,
            };
            let element = match values {
                DataType::Null => Type::TEXT,
                other => arrow_pg::datatypes::into_pg_type(other).ok()?,
            };
            if arrow_pg::datatypes::into_pg_type(array.data_type()).ok()? != *ty {
                return None;
            }
            list_cell(array, &element, binary, tz)?
        }
        _ => return None,
    })
}

/// Writes a length placeholder, the value, then the real length.
#[inline]
fn with_len(out: &mut BytesMut, f: impl FnOnce(&mut BytesMut)) {
    let at = out.len();
    out.put_i32(0);
    f(out);
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// A cell writer over a primitive array: NULL handling around `f`, which
/// writes the length and bytes of a present value.
fn prim<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    f: impl Fn(T::Native, &mut BytesMut) + 'a,
) -> Cell<'a> {
    let a = array.as_primitive::<T>();
    if a.null_count() == 0 {
        Box::new(move |i, out| f(a.value(i), out))
    } else {
        Box::new(move |i, out| {
            if a.is_null(i) {
                out.put_i32(-1);
            } else {
                f(a.value(i), out)
            }
        })
    }
}

/// The integer type an integer column is announced as.
#[derive(Clone, Copy)]
enum IntWire {
    I2,
    I4,
    I8,
    /// `oid` and its binary form, an unsigned 4-byte value.
    Oid,
    /// Unsigned 64-bit values do not fit `int8`.
    Numeric,
}

fn int_cell<'a, T>(array: &'a dyn Array, wire: IntWire, binary: bool) -> Cell<'a>
where
    T: ArrowPrimitiveType,
    T::Native: itoa::Integer + Into<i128>,
{
    match (wire, binary) {
        (IntWire::Oid, false) => prim::<T>(array, |v, out| {
            let v: i128 = v.into();
            int_text(out, v as u32)
        }),
        (_, false) => prim::<T>(array, |v, out| int_text(out, v)),
        (IntWire::I2, true) => prim::<T>(array, |v, out| {
            out.put_i32(2);
            out.put_i16(Into::<i128>::into(v) as i16);
        }),
        (IntWire::I4, true) => prim::<T>(array, |v, out| {
            out.put_i32(4);
            out.put_i32(Into::<i128>::into(v) as i32);
        }),
        (IntWire::I8, true) => prim::<T>(array, |v, out| {
            out.put_i32(8);
            out.put_i64(Into::<i128>::into(v) as i64);
        }),
        (IntWire::Oid, true) => prim::<T>(array, |v, out| {
            out.put_i32(4);
            out.put_u32(Into::<i128>::into(v) as u32);
        }),
        (IntWire::Numeric, true) => prim::<T>(array, |v, out| {
            let v: i128 = v.into();
            with_len(out, |o| numeric_binary(o, v < 0, v.unsigned_abs(), 0))
        }),
    }
}

#[inline]
fn int_text<I: itoa::Integer>(out: &mut BytesMut, v: I) {
    let mut b = itoa::Buffer::new();
    let s = b.format(v).as_bytes();
    out.put_i32(s.len() as i32);
    out.put_slice(s);
}

/// How the bytes of a string or binary value go on the wire.
#[derive(Clone, Copy)]
enum Bytes {
    Raw,
    /// bytea text: `\x` and lowercase hex.
    Hex,
    /// `"char"` binary: the single byte (0 for an empty string).
    FirstByte,
}

fn bytes_cell<'a>(
    array: &'a dyn Array,
    get: impl Fn(usize) -> &'a [u8] + 'a,
    kind: Bytes,
) -> Cell<'a> {
    // The validity bitmap itself: asking the `dyn Array` per cell is a
    // virtual call.
    let nulls = array.nulls().filter(|n| n.null_count() > 0).cloned();
    Box::new(move |i, out| {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            out.put_i32(-1);
            return;
        }
        let v = get(i);
        match kind {
            Bytes::Raw => {
                out.put_i32(v.len() as i32);
                out.put_slice(v);
            }
            Bytes::Hex => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put_i32(2 + 2 * v.len() as i32);
                out.reserve(2 + 2 * v.len());
                out.put_slice(b"\\x");
                for b in v {
                    out.put_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
                }
            }
            Bytes::FirstByte => {
                out.put_i32(1);
                out.put_u8(v.first().copied().unwrap_or(0));
            }
        }
    })
}

// --- floats ----------------------------------------------------------------

/// float8out: shortest round-trip digits, fixed notation for decimal
/// exponents in [-4, 15), otherwise `d.ddde+XX`.
fn float8_text(out: &mut BytesMut, v: f64) {
    if v.is_nan() {
        return out.put_slice(b"NaN");
    }
    if v.is_infinite() {
        return out.put_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    }
    let mut b = ryu::Buffer::new();
    float_text(out, b.format_finite(v).as_bytes(), 15);
}

/// float4out: as float8out with the shortest float4 digits and fixed
/// notation for decimal exponents in [-4, 6).
fn float4_text(out: &mut BytesMut, v: f32) {
    if v.is_nan() {
        return out.put_slice(b"NaN");
    }
    if v.is_infinite() {
        return out.put_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    }
    let mut b = ryu::Buffer::new();
    float_text(out, b.format_finite(v).as_bytes(), 6);
}

/// Re-lays ryu's shortest digits (`1.5e-5`, `123.0`, `1e20`) out the way
/// PostgreSQL's own copy of ryu prints them.
fn float_text(out: &mut BytesMut, s: &[u8], fixed_below: i32) {
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(p) => {
            let e = std::str::from_utf8(&s[p + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .unwrap_or(0);
            (&s[..p], e)
        }
        None => (s, 0),
    };
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut point = mantissa.len() as i32;
    for (i, &c) in mantissa.iter().enumerate() {
        if c == b'.' {
            point = i as i32;
        } else if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    // value = 0.DIGITS x 10^(point + exp)
    let mut first = 0;
    while first < n && digits[first] == b'0' {
        first += 1;
        point -= 1;
    }
    while n > first && digits[n - 1] == b'0' {
        n -= 1;
    }
    if neg {
        out.put_u8(b'-');
    }
    if first == n {
        return out.put_u8(b'0');
    }
    let d = &digits[first..n];
    let sci = point + exp - 1;
    if (-4..fixed_below).contains(&sci) {
        if sci < 0 {
            out.put_slice(b"0.");
            for _ in 0..(-sci - 1) {
                out.put_u8(b'0');
            }
            out.put_slice(d);
        } else if d.len() as i32 <= sci + 1 {
            out.put_slice(d);
            for _ in 0..(sci + 1 - d.len() as i32) {
                out.put_u8(b'0');
            }
        } else {
            let int = (sci + 1) as usize;
            out.put_slice(&d[..int]);
            out.put_u8(b'.');
            out.put_slice(&d[int..]);
        }
    } else {
        out.put_u8(d[0]);
        if d.len() > 1 {
            out.put_u8(b'.');
            out.put_slice(&d[1..]);
        }
        out.put_u8(b'e');
        out.put_u8(if sci < 0 { b'-' } else { b'+' });
        let e = sci.unsigned_abs();
        if e >= 100 {
            out.put_u8(b'0' + (e / 100) as u8);
        }
        put2(out, e % 100);
    }
}

// --- numeric -----------------------------------------------------------------

/// numeric_out: all `scale` fraction digits, as the column's type has them.
fn numeric_text(out: &mut BytesMut, neg: bool, abs: u128, scale: u16) {
    let mut b = itoa::Buffer::new();
    let digits = b.format(abs).as_bytes();
    if neg && abs != 0 {
        out.put_u8(b'-');
    }
    let scale = scale as usize;
    if scale == 0 {
        return out.put_slice(digits);
    }
    if digits.len() <= scale {
        out.put_slice(b"0.");
        for _ in digits.len()..scale {
            out.put_u8(b'0');
        }
        out.put_slice(digits);
    } else {
        let int = digits.len() - scale;
        out.put_slice(&digits[..int]);
        out.put_u8(b'.');
        out.put_slice(&digits[int..]);
    }
}

/// numeric_send: base-10000 digits aligned on the decimal point, with
/// leading and trailing zero groups dropped, the weight of the first group,
/// the sign and the display scale.
fn numeric_binary(out: &mut BytesMut, neg: bool, abs: u128, scale: u16) {
    let mut b = itoa::Buffer::new();
    let digits = b.format(abs).as_bytes();
    let scale_us = scale as usize;
    // Integer digits left-padded and fraction digits right-padded to whole
    // groups of four.
    let int_len = digits.len().saturating_sub(scale_us);
    let int_pad = (4 - int_len % 4) % 4;
    let frac_len = scale_us;
    let frac_pad = (4 - frac_len % 4) % 4;
    let total = int_pad + int_len + frac_len + frac_pad;
    let mut all = [b'0'; 4 + 48 + 4];
    let mut k = int_pad;
    if digits.len() >= scale_us {
        all[k..k + digits.len()].copy_from_slice(digits);
    } else {
        let lead = scale_us - digits.len();
        all[k + lead..k + lead + digits.len()].copy_from_slice(digits);
    }
    k = total;
    let mut groups = [0i16; 16];
    let mut ng = 0;
    for chunk in all[..k].chunks(4) {
        groups[ng] = chunk
            .iter()
            .fold(0i16, |acc, c| acc * 10 + (c - b'0') as i16);
        ng += 1;
    }
    let mut weight = ((int_pad + int_len) / 4) as i16 - 1;
    let mut first = 0;
    while first < ng && groups[first] == 0 {
        first += 1;
        weight -= 1;
    }
    while ng > first && groups[ng - 1] == 0 {
        ng -= 1;
    }
    let groups = &groups[first..ng];
    out.put_i16(groups.len() as i16);
    if groups.is_empty() {
        out.put_i16(0);
        out.put_u16(0);
    } else {
        out.put_i16(weight);
        out.put_u16(if neg { 0x4000 } else { 0 });
    }
    out.put_u16(scale);
    for g in groups {
        out.put_i16(*g);
    }
}

// --- dates and times -----------------------------------------------------------

#[inline]
fn put2(out: &mut BytesMut, v: u32) {
    out.put_slice(&digit_pair(v));
}

/// (year, month, day) of a day count from 1970-01-01, proleptic Gregorian
/// with astronomical years (year 0 is 1 BC).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD`; returns whether the date is BC (the caller appends ` BC`
/// after whatever follows the date, as PostgreSQL does).
fn write_date(out: &mut BytesMut, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    let bc = y <= 0;
    let year = if bc { 1 - y } else { y } as u64;
    if year < 10_000 {
        let y = year as u32;
        put2(out, y / 100);
        put2(out, y % 100);
    } else {
        let mut b = itoa::Buffer::new();
        out.put_slice(b.format(year).as_bytes());
    }
    out.put_u8(b'-');
    put2(out, m);
    out.put_u8(b'-');
    put2(out, d);
    bc
}

/// `HH:MM:SS` and, when not zero, `.ffffff` without trailing zeros.
fn write_time(out: &mut BytesMut, usecs: i64) {
    let secs = usecs / 1_000_000;
    let frac = (usecs % 1_000_000) as u32;
    let h = secs / 3600;
    if h < 100 {
        put2(out, h as u32);
    } else {
        let mut b = itoa::Buffer::new();
        out.put_slice(b.format(h).as_bytes());
    }
    out.put_u8(b':');
    put2(out, ((secs / 60) % 60) as u32);
    out.put_u8(b':');
    put2(out, (secs % 60) as u32);
    write_fraction(out, frac);
}

fn write_fraction(out: &mut BytesMut, frac: u32) {
    if frac == 0 {
        return;
    }
    let mut digits = [0u8; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let mut n = 6;
    while digits[n - 1] == b'0' {
        n -= 1;
    }
    out.put_u8(b'.');
    out.put_slice(&digits[..n]);
}

/// `+HH`, `+HH:MM` or `+HH:MM:SS` for an offset east of UTC.
fn write_offset(out: &mut BytesMut, offset: i32) {
    out.put_u8(if offset < 0 { b'-' } else { b'+' });
    let a = offset.unsigned_abs();
    put2(out, a / 3600);
    let (m, s) = ((a / 60) % 60, a % 60);
    if m != 0 || s != 0 {
        out.put_u8(b':');
        put2(out, m);
    }
    if s != 0 {
        out.put_u8(b':');
        put2(out, s);
    }
}

/// A timestamp column. `zone` is the session offset for `timestamptz`
/// (`None` for `timestamp`); `to_usecs` converts the stored unit to
/// microseconds (nanoseconds are floored: PostgreSQL has no finer unit).
fn timestamp_cell<'a, T>(
    array: &'a dyn Array,
    to_usecs: fn(i64) -> i64,
    binary: bool,
    zone: Option<i32>,
) -> Cell<'a>
where
    T: ArrowPrimitiveType<Native = i64>,
{
    if binary {
        return prim::<T>(array, move |v, out| {
            out.put_i32(8);
            out.put_i64(to_usecs(v).saturating_sub(PG_EPOCH_USECS));
        });
    }
    prim::<T>(array, move |v, out| {
        with_len(out, |o| {
            write_timestamp(o, shifted(to_usecs(v), zone), zone)
        })
    })
}

/// Microseconds as shown in `zone` (the session offset of a `timestamptz`;
/// `None`: a `timestamp`, shown as stored).
fn shifted(usecs: i64, zone: Option<i32>) -> i64 {
    usecs.saturating_add(i64::from(zone.unwrap_or(0)) * 1_000_000)
}

/// A timestamp's text, `usecs` already [`shifted`] into `zone`: the
/// reference the text timestamp writer (`columns::TimestampText`) keeps to.
fn write_timestamp(out: &mut BytesMut, usecs: i64, zone: Option<i32>) {
    let bc = write_date(out, usecs.div_euclid(USECS_PER_DAY));
    out.put_u8(b' ');
    write_time(out, usecs.rem_euclid(USECS_PER_DAY));
    if let Some(offset) = zone {
        write_offset(out, offset);
    }
    if bc {
        out.put_slice(b" BC");
    }
}

/// Days from 1970-01-01 of the dates from 0001-01-01 to 9999-12-31: their
/// text is always `YYYY-MM-DD`, ten bytes.
const FOUR_DIGIT_YEARS: std::ops::Range<i64> = -719_162..2_932_897;

/// `YYYY-MM-DD` of a day in [`FOUR_DIGIT_YEARS`].
fn iso_date(days: i64) -> [u8; 10] {
    let (y, m, d) = civil_from_days(days);
    let y = y as u32;
    let mut b = *b"0000-00-00";
    b[0..2].copy_from_slice(&digit_pair(y / 100));
    b[2..4].copy_from_slice(&digit_pair(y % 100));
    b[5..7].copy_from_slice(&digit_pair(m));
    b[8..10].copy_from_slice(&digit_pair(d));
    b
}

/// `HH:MM:SS.ffffff` of a time of day under 24 hours, in microseconds, and
/// how many of its bytes are the text: the fraction is left out when zero
/// and loses its trailing zeros otherwise.
fn iso_time_of_day(usecs: i64) -> ([u8; 15], usize) {
    let secs = (usecs / 1_000_000) as u32;
    let mut b = *b"00:00:00.000000";
    b[0..2].copy_from_slice(&digit_pair(secs / 3600));
    b[3..5].copy_from_slice(&digit_pair((secs / 60) % 60));
    b[6..8].copy_from_slice(&digit_pair(secs % 60));
    let len = time_of_day_len(usecs);
    let mut frac = (usecs % 1_000_000) as u32;
    if frac != 0 {
        for d in b[9..].iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
    }
    (b, len)
}

/// Length of a time of day's text ([`iso_time_of_day`]), without writing
/// it: a cell is sized before it is written.
fn time_of_day_len(usecs: i64) -> usize {
    let mut frac = (usecs % 1_000_000) as u32;
    if frac == 0 {
        return 8;
    }
    let mut len = 15;
    while frac.is_multiple_of(10) {
        frac /= 10;
        len -= 1;
    }
    len
}

fn digit_pair(v: u32) -> [u8; 2] {
    [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]
}

fn time_cell<'a, T>(array: &'a dyn Array, to_usecs: fn(T::Native) -> i64, binary: bool) -> Cell<'a>
where
    T: ArrowPrimitiveType,
{
    if binary {
        prim::<T>(array, move |v, out| {
            out.put_i32(8);
            out.put_i64(to_usecs(v));
        })
    } else {
        prim::<T>(array, move |v, out| {
            with_len(out, |o| write_time(o, to_usecs(v)))
        })
    }
}

/// An interval column; `parts` gives (months, days, microseconds).
fn interval_cell<'a, T>(
    array: &'a dyn Array,
    parts: fn(T::Native) -> (i32, i32, i64),
    binary: bool,
) -> Cell<'a>
where
    T: ArrowPrimitiveType,
{
    if binary {
        prim::<T>(array, move |v, out| {
            let (months, days, us) = parts(v);
            out.put_i32(16);
            out.put_i64(us);
            out.put_i32(days);
            out.put_i32(months);
        })
    } else {
        prim::<T>(array, move |v, out| {
            let (months, days, us) = parts(v);
            with_len(out, |o| interval_text(o, months, days, us))
        })
    }
}

/// EncodeInterval with IntervalStyle `postgres`: `1 year 2 mons -3 days
/// +04:05:06.5`; a part after a negative one carries an explicit `+`.
fn interval_text(out: &mut BytesMut, months: i32, days: i32, us: i64) {
    let mut zero = true;
    let mut before = false;
    let mut part = |out: &mut BytesMut, v: i64, unit: &[u8]| {
        if v == 0 {
            return;
        }
        if !zero {
            out.put_u8(b' ');
        }
        if before && v > 0 {
            out.put_u8(b'+');
        }
        let mut b = itoa::Buffer::new();
        out.put_slice(b.format(v).as_bytes());
        out.put_u8(b' ');
        out.put_slice(unit);
        if v != 1 {
            out.put_u8(b's');
        }
        before = v < 0;
        zero = false;
    };
    part(out, (months / 12) as i64, b"year");
    part(out, (months % 12) as i64, b"mon");
    part(out, days as i64, b"day");
    if zero || us != 0 {
        if !zero {
            out.put_u8(b' ');
        }
        if us < 0 {
            out.put_u8(b'-');
        } else if before {
            out.put_u8(b'+');
        }
        write_time(out, us.unsigned_abs() as i64);
    }
}

// --- arrays --------------------------------------------------------------------

/// A one-dimensional array column: `{a,b,NULL}` with PostgreSQL's quoting in
/// text; in binary the array header (dimensions, NULL flag, element type)
/// followed by the elements, each as a cell of the element type.
fn list_cell<'a>(array: &'a dyn Array, element: &Type, binary: bool, tz: i32) -> Option<Cell<'a>> {
    type Ranges<'a> = Box<dyn Fn(usize) -> Range<usize> + 'a>;
    let (values, ranges): (&'a ArrayRef, Ranges<'a>) = match array.data_type() {
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let o = l.value_offsets();
            (
                l.values(),
                Box::new(move |i| o[i] as usize..o[i + 1] as usize),
            )
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let o = l.value_offsets();
            (
                l.values(),
                Box::new(move |i| o[i] as usize..o[i + 1] as usize),
            )
        }
        DataType::FixedSizeList(_, _) => {
            let l = array.as_fixed_size_list();
            let n = l.value_length() as usize;
            (
                l.values(),
                Box::new(move |i| {
                    let s = l.value_offset(i) as usize;
                    s..s + n
                }),
            )
        }
        _ => return None,
    };
    if values.data_type().is_nested() {
        return None;
    }
    let mut elem = cell_encoder(values.as_ref(), element, binary, tz)?;
    let elem_oid = element.oid();
    let mut scratch = BytesMut::new();
    let nulls = array.nulls().filter(|n| n.null_count() > 0).cloned();
    let value_nulls = values.logical_nulls().filter(|n| n.null_count() > 0);
    let value_null = move |j: usize| value_nulls.as_ref().is_some_and(|n| n.is_null(j));
    Some(Box::new(move |i, out| {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            out.put_i32(-1);
            return;
        }
        let r = ranges(i);
        with_len(out, |o| {
            if binary {
                let has_null = r.clone().any(&value_null);
                o.put_i32(if r.is_empty() { 0 } else { 1 });
                o.put_i32(has_null as i32);
                o.put_u32(elem_oid);
                if !r.is_empty() {
                    o.put_i32(r.len() as i32);
                    o.put_i32(1);
                }
                for j in r {
                    elem(j, o);
                }
                return;
            }
            o.put_u8(b'{');
            for (k, j) in r.enumerate() {
                if k > 0 {
                    o.put_u8(b',');
                }
                if value_null(j) {
                    o.put_slice(b"NULL");
                    continue;
                }
                scratch.clear();
                elem(j, &mut scratch);
                array_element(o, &scratch[4..]);
            }
            o.put_u8(b'}');
        })
    }))
}

/// array_out's quoting: an element that is empty, spells NULL, or holds a
/// delimiter, brace, quote, backslash or white space is double-quoted, with
/// quotes and backslashes escaped.
fn array_element(out: &mut BytesMut, v: &[u8]) {
    let quote = v.is_empty()
        || v.eq_ignore_ascii_case(b"NULL")
        || v.iter().any(|c| {
            matches!(
                c,
                b'{' | b'}' | b',' | b'"' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
            )
        });
    if !quote {
        return out.put_slice(v);
    }
    out.put_u8(b'"');
    for &c in v {
        if c == b'"' || c == b'\\' {
            out.put_u8(b'\\');
        }
        out.put_u8(c);
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_pg::datatypes::arrow_schema_to_pg_fields;
    use datafusion::arrow::array::*;
    use datafusion::arrow::datatypes::{IntervalDayTime, IntervalMonthDayNano, Schema};
    use pgwire::api::portal::Format;

    /// The cells of a DataRow: `None` for NULL.
    fn cells(row: &DataRow) -> Vec<Option<Vec<u8>>> {
        let mut d = &row.data[..];
        let mut out = Vec::new();
        for _ in 0..row.field_count {
            let len = i32::from_be_bytes(d[..4].try_into().unwrap());
            d = &d[4..];
            if len < 0 {
                out.push(None);
            } else {
                out.push(Some(d[..len as usize].to_vec()));
                d = &d[len as usize..];
            }
        }
        assert!(d.is_empty(), "trailing bytes in a DataRow");
        out
    }

    fn encode_with(columns: Vec<(Field, ArrayRef)>, binary: bool, tz: &str) -> Vec<DataRow> {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap();
        let format = if binary {
            Format::UnifiedBinary
        } else {
            Format::UnifiedText
        };
        let fields = Arc::new(arrow_schema_to_pg_fields(&schema, &format, None).unwrap());
        let mut encoded = BatchEncoder::new(fields)
            .with_time_zone(tz)
            .encode(&batch)
            .unwrap();
        let rows = encoded.rows();
        let out: Vec<DataRow> = std::iter::from_fn(|| encoded.next_row()).collect();
        assert_eq!(out.len(), rows);
        assert!(encoded.bytes().is_empty(), "bytes left after the last row");
        out
    }

    /// Text of each row of a one-column result.
    fn text(array: ArrayRef) -> Vec<Option<String>> {
        text_tz(array, "UTC")
    }

    fn text_tz(array: ArrayRef, tz: &str) -> Vec<Option<String>> {
        let f = Field::new("c", array.data_type().clone(), true);
        encode_with(vec![(f, array)], false, tz)
            .iter()
            .map(|r| cells(r)[0].clone().map(|b| String::from_utf8(b).unwrap()))
            .collect()
    }

    fn bin(array: ArrayRef) -> Vec<Option<Vec<u8>>> {
        let f = Field::new("c", array.data_type().clone(), true);
        encode_with(vec![(f, array)], true, "UTC")
            .iter()
            .map(|r| cells(r)[0].clone())
            .collect()
    }

    /// What arrow-pg's encoder sends for the same column.
    fn arrow_pg(array: ArrayRef, binary: bool) -> Vec<Option<Vec<u8>>> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "c",
            array.data_type().clone(),
            true,
        )]));
        let format = if binary {
            Format::UnifiedBinary
        } else {
            Format::UnifiedText
        };
        let fields = Arc::new(arrow_schema_to_pg_fields(&schema, &format, None).unwrap());
        let batch = RecordBatch::try_new(schema, vec![array]).unwrap();
        arrow_pg::datatypes::encode_recordbatch(fields, batch)
            .map(|r| cells(&r.unwrap())[0].clone())
            .collect()
    }

    fn s(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|x| x.map(str::to_owned)).collect()
    }

    /// Every column a direct writer takes is written byte for byte as its
    /// per-cell encoder writes it, NULLs included, in both formats.
    #[test]
    fn direct_writers_match_the_cell_encoders() {
        let us = 1_700_000_000_123_456i64;
        let columns: Vec<(ArrayRef, Vec<Type>)> = vec![
            (
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                vec![Type::BOOL],
            ),
            (
                Arc::new(StringArray::from(vec![
                    Some("abc"),
                    None,
                    Some(""),
                    Some("é"),
                ])),
                vec![
                    Type::TEXT,
                    Type::VARCHAR,
                    Type::NAME,
                    Type::BPCHAR,
                    Type::CHAR,
                ],
            ),
            (
                Arc::new(LargeStringArray::from(vec![Some("x"), None])),
                vec![Type::TEXT],
            ),
            (
                Arc::new(StringViewArray::from(vec![
                    Some("short"),
                    None,
                    Some("a value longer than twelve bytes"),
                ])),
                vec![Type::TEXT, Type::VARCHAR],
            ),
            (
                Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None])),
                vec![Type::BYTEA],
            ),
            (
                Arc::new(LargeBinaryArray::from(vec![Some(&b"ab"[..]), None])),
                vec![Type::BYTEA],
            ),
            (
                Arc::new(BinaryViewArray::from(vec![
                    Some(&b"0123456789abcdef"[..]),
                    None,
                ])),
                vec![Type::BYTEA],
            ),
            (
                Arc::new(Int8Array::from(vec![Some(-3), None])),
                vec![Type::INT2, Type::CHAR],
            ),
            (
                Arc::new(Int16Array::from(vec![Some(i16::MIN), None])),
                vec![Type::INT2],
            ),
            (
                Arc::new(Int32Array::from(vec![Some(-7), None, Some(i32::MAX)])),
                vec![Type::INT4, Type::OID],
            ),
            (
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    None,
                    Some(0),
                    Some(9),
                    Some(10),
                    Some(-10),
                    Some(999_999),
                    Some(i64::MAX),
                ])),
                vec![Type::INT8],
            ),
            (
                Arc::new(UInt8Array::from(vec![Some(255), None])),
                vec![Type::INT2],
            ),
            (
                Arc::new(UInt16Array::from(vec![Some(65_535), None])),
                vec![Type::INT4],
            ),
            (
                Arc::new(UInt32Array::from(vec![Some(u32::MAX), None])),
                vec![Type::INT8, Type::OID],
            ),
            (
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
                vec![Type::NUMERIC],
            ),
            (
                Arc::new(Float32Array::from(vec![Some(1.5), None, Some(f32::NAN)])),
                vec![Type::FLOAT4],
            ),
            (
                Arc::new(Float64Array::from(vec![
                    Some(-0.1),
                    None,
                    Some(f64::INFINITY),
                ])),
                vec![Type::FLOAT8],
            ),
            (
                Arc::new(Date32Array::from(vec![Some(-800_000), None, Some(19_000)])),
                vec![Type::DATE],
            ),
            (
                Arc::new(TimestampSecondArray::from(vec![Some(us / 1_000_000), None])),
                vec![Type::TIMESTAMP],
            ),
            (
                Arc::new(TimestampMillisecondArray::from(vec![
                    Some(us / 1_000),
                    None,
                ])),
                vec![Type::TIMESTAMP],
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(us),
                    None,
                    Some(i64::MIN),
                ])),
                vec![Type::TIMESTAMP],
            ),
            (
                Arc::new(
                    TimestampNanosecondArray::from(vec![Some(-us * 1_000 - 1), None])
                        .with_timezone("UTC"),
                ),
                vec![Type::TIMESTAMPTZ],
            ),
        ];
        let mut checked = 0;
        for (array, types) in &columns {
            for ty in types {
                for binary in [false, true] {
                    let Some(writer) = direct_writer(array.as_ref(), ty, binary, 0) else {
                        continue;
                    };
                    let mut want = BytesMut::new();
                    let mut cell = cell_encoder(array.as_ref(), ty, binary, 0)
                        .expect("a pair written directly has a cell encoder");
                    for row in 0..array.len() {
                        cell(row, &mut want);
                    }
                    let got = written(writer.as_ref(), array.len());
                    assert_eq!(
                        got,
                        want.to_vec(),
                        "{:?} as {ty} ({})",
                        array.data_type(),
                        if binary { "binary" } else { "text" }
                    );
                    checked += 1;
                }
            }
        }
        // Text strings and integers, booleans and every binary fixed width
        // are covered.
        assert!(checked >= 45, "only {checked} pairs had a direct writer");
    }

    /// The cells a direct writer puts into `rows` rows of their own, each
    /// row ending where the writer's sizes said.
    fn written(writer: &dyn ColumnWriter, rows: usize) -> Vec<u8> {
        let mut sizes = vec![0; rows];
        writer.add_sizes(&mut sizes);
        let mut at = Vec::new();
        let mut total = 0;
        for size in &sizes {
            at.push(total);
            total += size;
        }
        let ends: Vec<usize> = at.iter().zip(&sizes).map(|(a, s)| a + s).collect();
        let mut out = vec![0u8; total];
        writer.write(&mut out, &mut at);
        assert_eq!(at, ends, "a cell's size differs from what was written");
        out
    }

    /// The text timestamp writer formats years 1 to 9999 its own way; every
    /// value, at every session offset, must read as the staged formatter
    /// writes it: around the ends of that range, across days (the writer
    /// keeps recent days' text), with fractions of every length, BC and
    /// five- and six-digit years, and the extremes.
    #[test]
    fn text_timestamps_written_directly_match_the_formatter() {
        const DAY: i64 = USECS_PER_DAY;
        let mut values: Vec<Option<i64>> = vec![None, Some(i64::MIN), Some(i64::MAX), Some(0)];
        for edge in [FOUR_DIGIT_YEARS.start, FOUR_DIGIT_YEARS.end, 0, 20_000] {
            for us in [-1, 0, 1, DAY - 1, DAY, 43_200_000_000 + 120_000] {
                values.push(Some((edge - 1) * DAY + us));
                values.push(Some(edge * DAY + us));
            }
        }
        // Consecutive values on the same day and the next, with fractions
        // of 0 to 6 digits.
        let mut us = 1_700_000_000_000_000i64;
        for step in [1, 10, 100_000, 1_000_000, 59_999_999, 3_600_000_000] {
            for _ in 0..40 {
                us += step;
                values.push(Some(us));
            }
        }
        // Anywhere in the range microseconds can hold.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(Some(x as i64));
            values.push(Some((x as i64) % (400 * 366 * DAY)));
        }
        let seconds: Vec<Option<i64>> = values
            .iter()
            .map(|v| v.map(|v| v / 1_000_000_000))
            .collect();
        let mut checked = 0;
        for (zone, ty) in [(None, Type::TIMESTAMP), (Some("UTC"), Type::TIMESTAMPTZ)] {
            let arrays: [ArrayRef; 2] = [
                Arc::new(TimestampMicrosecondArray::from(values.clone()).with_timezone_opt(zone)),
                Arc::new(TimestampSecondArray::from(seconds.clone()).with_timezone_opt(zone)),
            ];
            for array in arrays {
                for offset in [
                    0,
                    19_800,
                    -12_600,
                    3_600 * 14 + 15,
                    -(3_600 * 9 + 30 * 60 + 7),
                ] {
                    let writer = direct_writer(array.as_ref(), &ty, false, offset)
                        .expect("text timestamps are written directly");
                    let mut want = BytesMut::new();
                    let mut cell = cell_encoder(array.as_ref(), &ty, false, offset)
                        .expect("timestamps have a cell encoder");
                    for row in 0..array.len() {
                        cell(row, &mut want);
                    }
                    let got = written(writer.as_ref(), array.len());
                    if got != want.as_ref() {
                        let at = got
                            .iter()
                            .zip(want.iter())
                            .position(|(a, b)| a != b)
                            .unwrap_or(got.len().min(want.len()));
                        let around = |b: &[u8]| {
                            let start = at.saturating_sub(30).min(b.len());
                            String::from_utf8_lossy(&b[start..(start + 60).min(b.len())])
                                .into_owned()
                        };
                        panic!(
                            "{:?} at offset {offset}: differs at byte {at}: {:?} vs {:?}",
                            array.data_type(),
                            around(&got),
                            around(&want),
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 20);
        // The fixed-length range is what its bounds say.
        assert_eq!(civil_from_days(FOUR_DIGIT_YEARS.start), (1, 1, 1));
        assert_eq!(civil_from_days(FOUR_DIGIT_YEARS.end - 1), (9999, 12, 31));
    }

    /// A slice of a batch (a cursor's FETCH, a LIMIT) encodes as the rows
    /// it shows: the writers honour the arrays' offsets, values and nulls
    /// alike.
    #[test]
    fn sliced_batches_encode_their_own_rows() {
        let n = 50;
        let columns: Vec<(Field, ArrayRef)> = vec![
            (
                Field::new("i", DataType::Int64, true),
                Arc::new(Int64Array::from_iter(
                    (0..n).map(|i| (i % 3 != 0).then_some(i * 7)),
                )),
            ),
            (
                Field::new("s", DataType::Utf8View, true),
                Arc::new(StringViewArray::from_iter((0..n).map(|i| {
                    (i % 4 != 0).then(|| format!("value number {i} of the column"))
                }))),
            ),
            (
                Field::new("u", DataType::Utf8, true),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then(|| format!("u{i}"))),
                )),
            ),
            (
                Field::new("b", DataType::Boolean, true),
                Arc::new(BooleanArray::from_iter(
                    (0..n).map(|i| (i % 2 != 0).then_some(i % 3 == 0)),
                )),
            ),
            (
                Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
                Arc::new(TimestampMicrosecondArray::from_iter((0..n).map(|i| {
                    (i % 6 != 0).then_some(1_700_000_000_000_000 + i * 1_000_001)
                }))),
            ),
        ];
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap();
        for format in [Format::UnifiedText, Format::UnifiedBinary] {
            let fields = Arc::new(arrow_schema_to_pg_fields(&schema, &format, None).unwrap());
            let mut encoder = BatchEncoder::new(fields);
            let mut whole = encoder.encode(&batch).unwrap();
            let all: Vec<_> = std::iter::from_fn(|| whole.next_row())
                .map(|r| cells(&r))
                .collect();
            let mut part = encoder.encode(&batch.slice(13, 20)).unwrap();
            let some: Vec<_> = std::iter::from_fn(|| part.next_row())
                .map(|r| cells(&r))
                .collect();
            assert_eq!(some, all[13..33]);
        }
    }

    /// A batch is whole DataRow messages back to back, and taking them off
    /// one by one gives each row's cells.
    #[test]
    fn encoded_rows_split_at_message_boundaries() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            Some("ccc"),
            Some(""),
            Some("eeeee"),
        ]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Int32, false),
        ]));
        let fields =
            Arc::new(arrow_schema_to_pg_fields(&schema, &Format::UnifiedText, None).unwrap());
        let batch = RecordBatch::try_new(schema, vec![a, b]).unwrap();
        let mut encoder = BatchEncoder::new(fields);
        let whole = encoder.encode(&batch).unwrap();
        assert_eq!(whole.rows(), 5);
        // Walk the messages by their declared lengths.
        let mut at = 0;
        let mut count = 0;
        while at < whole.bytes().len() {
            assert_eq!(whole.bytes()[at], b'D');
            at += 1 + message_length(&whole.bytes()[at..]);
            count += 1;
        }
        assert_eq!((at, count), (whole.bytes().len(), 5));

        let mut one_by_one = encoder.encode(&batch).unwrap();
        let rows: Vec<_> = std::iter::from_fn(|| one_by_one.next_row())
            .map(|r| cells(&r))
            .collect();
        assert_eq!(rows[1], vec![None, Some(b"2".to_vec())]);
        assert_eq!(rows[3], vec![Some(Vec::new()), Some(b"4".to_vec())]);
    }

    #[test]
    fn a_sent_buffer_holds_the_next_batch() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Int64, true),
        ]));
        let fields =
            Arc::new(arrow_schema_to_pg_fields(&schema, &Format::UnifiedText, None).unwrap());
        let batch = |texts: Vec<Option<&str>>| {
            let n = texts.len() as i64;
            let a: ArrayRef = Arc::new(StringArray::from(texts));
            let b: ArrayRef = Arc::new(Int64Array::from_iter((0..n).map(|i| Some(i * 1000))));
            RecordBatch::try_new(Arc::clone(&schema), vec![a, b]).unwrap()
        };
        let long = batch(vec![Some("a long first value"), None, Some("x"), Some("y")]);
        let short = batch(vec![Some("z"), Some("")]);
        let longer = batch(vec![Some(&"w".repeat(4096)), Some("v")]);
        // What a fresh encoder makes of each batch.
        let fresh = |b: &RecordBatch| {
            let mut e = BatchEncoder::new(Arc::clone(&fields));
            e.encode(b).unwrap().bytes().to_vec()
        };

        let mut encoder = BatchEncoder::new(Arc::clone(&fields));
        let first = encoder.encode(&long).unwrap();
        let memory = first.bytes().as_ptr();
        encoder.reuse(first);
        // A smaller batch is written over the old rows, in the same memory,
        // and none of the old rows' bytes come after it.
        let second = encoder.encode(&short).unwrap();
        assert_eq!(second.bytes().as_ptr(), memory);
        assert_eq!(second.bytes(), fresh(&short).as_slice());
        encoder.reuse(second);
        // One that does not fit gets a buffer of its own, and is whole.
        let third = encoder.encode(&longer).unwrap();
        assert_eq!(third.bytes(), fresh(&longer).as_slice());
        encoder.reuse(third);
        // Back to a smaller batch after the larger one.
        assert_eq!(
            encoder.encode(&long).unwrap().bytes(),
            fresh(&long).as_slice()
        );
    }

    #[test]
    fn integers_text_and_binary() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(-42), None, Some(i64::MAX)]));
        assert_eq!(
            text(a.clone()),
            s(&[Some("-42"), None, Some("9223372036854775807")])
        );
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
        // (Int8 is left out: arrow-pg sends one byte for a column it
        // announces as int2; checked on its own below.)
        for a in [
            Arc::new(Int16Array::from(vec![Some(-300), None])) as ArrayRef,
            Arc::new(Int32Array::from(vec![Some(70000), None])),
            Arc::new(UInt8Array::from(vec![Some(200), None])),
            Arc::new(UInt16Array::from(vec![Some(60000), None])),
            Arc::new(UInt32Array::from(vec![Some(4_000_000_000), None])),
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None])),
        ] {
            assert_eq!(
                bin(a.clone()),
                arrow_pg(a.clone(), true),
                "{}",
                a.data_type()
            );
            assert_eq!(
                text(a.clone()),
                arrow_pg(a.clone(), false)
                    .into_iter()
                    .map(|c| c.map(|b| String::from_utf8(b).unwrap()))
                    .collect::<Vec<_>>(),
                "{}",
                a.data_type()
            );
        }
        assert_eq!(
            bin(Arc::new(Int8Array::from(vec![-1]))),
            vec![Some(vec![0xff, 0xff])]
        );
    }

    #[test]
    fn oid_alias_is_four_unsigned_bytes() {
        let meta = [(
            arrow_pg::datatypes::PG_OID_ALIAS_KEY.to_owned(),
            "oid".to_owned(),
        )];
        let f = Field::new("c", DataType::Int32, true).with_metadata(meta.into());
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1259), None]));
        let rows = encode_with(vec![(f.clone(), a.clone())], true, "UTC");
        assert_eq!(cells(&rows[0])[0], Some(1259u32.to_be_bytes().to_vec()));
        assert_eq!(cells(&rows[1])[0], None);
        let rows = encode_with(vec![(f, a)], false, "UTC");
        assert_eq!(cells(&rows[0])[0], Some(b"1259".to_vec()));
    }

    #[test]
    fn pg_char_is_one_raw_byte_in_binary() {
        let meta = [(arrow_pg::datatypes::PG_CHAR_KEY.to_owned(), "1".to_owned())];
        let f = Field::new("c", DataType::Utf8, true).with_metadata(meta.into());
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("r"), None, Some("")]));
        let rows = encode_with(vec![(f.clone(), a.clone())], true, "UTC");
        let got: Vec<_> = rows.iter().map(|r| cells(r)[0].clone()).collect();
        assert_eq!(got, vec![Some(vec![b'r']), None, Some(vec![0])]);
        let rows = encode_with(vec![(f, a)], false, "UTC");
        assert_eq!(cells(&rows[0])[0], Some(b"r".to_vec()));
    }

    #[test]
    fn floats_like_float8out() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (1e20, "1e+20"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1e+15"),
            (1.2345678901234567e16, "1.2345678901234568e+16"),
            (1e100, "1e+100"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (0.30000000000000004, "0.30000000000000004"),
            (1234.5678, "1234.5678"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        let a: ArrayRef = Arc::new(Float64Array::from(
            cases.iter().map(|c| c.0).collect::<Vec<_>>(),
        ));
        let want: Vec<Option<String>> = cases.iter().map(|c| Some(c.1.to_owned())).collect();
        assert_eq!(text(a.clone()), want);
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
    }

    #[test]
    fn float4_like_float4out() {
        let cases: &[(f32, &str)] = &[
            (1.1, "1.1"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (3.4028235e38, "3.4028235e+38"),
            (-2.5, "-2.5"),
        ];
        let a: ArrayRef = Arc::new(Float32Array::from(
            cases.iter().map(|c| c.0).collect::<Vec<_>>(),
        ));
        let want: Vec<Option<String>> = cases.iter().map(|c| Some(c.1.to_owned())).collect();
        assert_eq!(text(a.clone()), want);
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
    }

    #[test]
    fn booleans_and_nulls() {
        let a: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        assert_eq!(text(a.clone()), s(&[Some("t"), Some("f"), None]));
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
        let n: ArrayRef = Arc::new(NullArray::new(2));
        assert_eq!(text(n.clone()), vec![None, None]);
        assert_eq!(bin(n), vec![None, None]);
    }

    #[test]
    fn numeric_keeps_its_scale() {
        let a: ArrayRef = Arc::new(
            Decimal128Array::from(vec![
                Some(1230),
                Some(-5),
                Some(0),
                None,
                Some(123_456_789),
                Some(100_000_000),
                Some(i128::MAX / 10),
            ])
            .with_precision_and_scale(38, 2)
            .unwrap(),
        );
        assert_eq!(
            text(a.clone()),
            s(&[
                Some("12.30"),
                Some("-0.05"),
                Some("0.00"),
                None,
                Some("1234567.89"),
                Some("1000000.00"),
                Some("170141183460469231731687303715884105.72"),
            ])
        );
        // numeric_send of 12.30: 2 groups (12, 3000), weight 0, dscale 2.
        let b = bin(a.clone());
        assert_eq!(b[0], Some(vec![0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x0b, 0xb8]));
        // -0.05: one group 500 at weight -1, negative.
        assert_eq!(
            b[1],
            Some(vec![0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4])
        );
        // Zero: no groups.
        assert_eq!(b[2], Some(vec![0, 0, 0, 0, 0, 0, 0, 2]));
        // 1000000.00: groups (100, 0) trimmed to (100) at weight 1.
        assert_eq!(b[5], Some(vec![0, 1, 0, 1, 0, 0, 0, 2, 0, 100]));
        let s5: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(123_456), Some(1)])
                .with_precision_and_scale(10, 5)
                .unwrap(),
        );
        assert_eq!(text(s5), s(&[Some("1.23456"), Some("0.00001")]));
    }

    #[test]
    fn strings_and_bytea() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("héllo"), None, Some("")]));
        assert_eq!(text(a.clone()), s(&[Some("héllo"), None, Some("")]));
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
        let v: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("a long string view"),
            None,
        ]));
        assert_eq!(text(v), s(&[Some("a long string view"), None]));
        let l: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("x")]));
        assert_eq!(text(l), s(&[Some("x")]));
        let b: ArrayRef = Arc::new(BinaryArray::from(vec![
            Some(&[1u8, 2, 0xab][..]),
            None,
            Some(&[][..]),
        ]));
        assert_eq!(text(b.clone()), s(&[Some("\\x0102ab"), None, Some("\\x")]));
        assert_eq!(bin(b.clone()), arrow_pg(b, true));
    }

    #[test]
    fn dates_like_postgres() {
        let a: ArrayRef = Arc::new(Date32Array::from(vec![
            Some(19724),
            Some(0),
            Some(-719_528),
            Some(-719_163),
            Some(2_932_897),
            None,
        ]));
        assert_eq!(
            text(a.clone()),
            s(&[
                Some("2024-01-02"),
                Some("1970-01-01"),
                Some("0001-01-01 BC"),
                Some("0001-12-31 BC"),
                Some("10000-01-01"),
                None,
            ])
        );
        assert_eq!(
            bin(a)[0],
            Some(((19724 - PG_EPOCH_DAYS) as i32).to_be_bytes().to_vec())
        );
    }

    #[test]
    fn timestamps_trim_the_fraction() {
        let us: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_609_534_445_000_000),
            Some(1_609_534_445_500_000),
            Some(1_609_534_445_123_456),
            Some(-1),
            None,
            Some(-62_135_683_200_000_000),
        ]));
        assert_eq!(
            text(us.clone()),
            s(&[
                Some("2021-01-01 20:54:05"),
                Some("2021-01-01 20:54:05.5"),
                Some("2021-01-01 20:54:05.123456"),
                Some("1969-12-31 23:59:59.999999"),
                None,
                Some("0001-12-31 00:00:00 BC"),
            ])
        );
        assert_eq!(
            bin(us)[0],
            Some(
                (1_609_534_445_000_000i64 - PG_EPOCH_USECS)
                    .to_be_bytes()
                    .to_vec()
            )
        );
        let s_: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_609_534_445]));
        assert_eq!(text(s_), s(&[Some("2021-01-01 20:54:05")]));
        let ms: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![1_609_534_445_120]));
        assert_eq!(text(ms), s(&[Some("2021-01-01 20:54:05.12")]));
        let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            1_609_534_445_000_001_999,
        ]));
        assert_eq!(text(ns.clone()), s(&[Some("2021-01-01 20:54:05.000001")]));
        assert_eq!(
            bin(ns)[0],
            Some(
                (1_609_534_445_000_001i64 - PG_EPOCH_USECS)
                    .to_be_bytes()
                    .to_vec()
            )
        );
    }

    #[test]
    fn timestamptz_in_the_session_zone() {
        let a: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_609_534_445_000_000), None])
                .with_timezone("+00:00"),
        );
        assert_eq!(text(a.clone()), s(&[Some("2021-01-01 20:54:05+00"), None]));
        assert_eq!(
            text_tz(a.clone(), "+05:30"),
            s(&[Some("2021-01-02 02:24:05+05:30"), None])
        );
        assert_eq!(
            text_tz(a.clone(), "-08"),
            s(&[Some("2021-01-01 12:54:05-08"), None])
        );
        // Binary is the instant itself, whatever the session zone.
        assert_eq!(
            bin(a)[0],
            Some(
                (1_609_534_445_000_000i64 - PG_EPOCH_USECS)
                    .to_be_bytes()
                    .to_vec()
            )
        );
    }

    #[test]
    fn times() {
        let a: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![
            Some(0),
            Some(3_723_500_000),
            Some(86_399_999_999),
            None,
        ]));
        assert_eq!(
            text(a.clone()),
            s(&[
                Some("00:00:00"),
                Some("01:02:03.5"),
                Some("23:59:59.999999"),
                None
            ])
        );
        assert_eq!(bin(a.clone()), arrow_pg(a, true));
        let n: ArrayRef = Arc::new(Time64NanosecondArray::from(vec![3_723_000_001_000]));
        assert_eq!(text(n), s(&[Some("01:02:03.000001")]));
    }

    #[test]
    fn intervals_postgres_style() {
        let mdn = |m, d, ns| IntervalMonthDayNano::new(m, d, ns);
        let a: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(mdn(0, 1, 7_200_000_000_000)),
            Some(mdn(0, 0, 0)),
            Some(mdn(14, 3, 0)),
            Some(mdn(1, 1, 1_000_000_000)),
            Some(mdn(-1, 0, 0)),
            Some(mdn(0, -1, 3_600_000_000_000)),
            Some(mdn(0, 0, -5_500_000_000)),
            Some(mdn(-13, -2, -3_600_000_000_000)),
            Some(mdn(0, 0, 360_000_000_000_000)),
            None,
        ]));
        assert_eq!(
            text(a.clone()),
            s(&[
                Some("1 day 02:00:00"),
                Some("00:00:00"),
                Some("1 year 2 mons 3 days"),
                Some("1 mon 1 day 00:00:01"),
                Some("-1 mons"),
                Some("-1 days +01:00:00"),
                Some("-00:00:05.5"),
                Some("-1 years -1 mons -2 days -01:00:00"),
                Some("100:00:00"),
                None,
            ])
        );
        // arrow-pg sends a NULL interval as a zero one; compare the rest.
        let (mut ours, mut theirs) = (bin(a.clone()), arrow_pg(a, true));
        assert_eq!(ours.pop(), Some(None));
        theirs.pop();
        assert_eq!(ours, theirs);
        let dt: ArrayRef = Arc::new(IntervalDayTimeArray::from(vec![IntervalDayTime::new(
            2, 1_500,
        )]));
        assert_eq!(text(dt), s(&[Some("2 days 00:00:01.5")]));
        let ym: ArrayRef = Arc::new(IntervalYearMonthArray::from(vec![25]));
        assert_eq!(text(ym), s(&[Some("2 years 1 mon")]));
    }

    #[test]
    fn lists_text_and_binary() {
        let ints: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
        ]));
        assert_eq!(
            text(ints.clone()),
            s(&[Some("{1,NULL,3}"), Some("{}"), None])
        );
        let (ours, theirs) = (bin(ints.clone()), arrow_pg(ints, true));
        assert_eq!((&ours[0], &ours[2]), (&theirs[0], &theirs[2]));
        // An empty array has no dimensions in PostgreSQL (arrow-pg sends
        // one of length 0): ndim 0, no NULLs, element type int4.
        assert_eq!(ours[1], Some(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]));

        let mut b = ListBuilder::new(StringBuilder::new());
        for v in ["a", "", "NULL", "x y", "q\"b\\"] {
            b.values().append_value(v);
        }
        b.append(true);
        let strs: ArrayRef = Arc::new(b.finish());
        assert_eq!(
            text(strs.clone()),
            s(&[Some(r#"{a,"","NULL","x y","q\"b\\"}"#)])
        );
        assert_eq!(bin(strs.clone()), arrow_pg(strs, true));

        let mut b = ListBuilder::new(TimestampMicrosecondBuilder::new());
        b.values().append_value(1_609_534_445_000_000);
        b.append(true);
        let ts: ArrayRef = Arc::new(b.finish());
        assert_eq!(text(ts), s(&[Some("{\"2021-01-01 20:54:05\"}")]));
    }

    #[test]
    fn unsupported_columns_fall_back_to_arrow_pg() {
        let a: ArrayRef = Arc::new(Date64Array::from(vec![Some(86_400_000), None]));
        assert_eq!(bin(a.clone()), arrow_pg(a.clone(), true));
        let t: Vec<_> = text(a.clone())
            .into_iter()
            .map(|c| c.map(String::into_bytes))
            .collect();
        assert_eq!(t, arrow_pg(a, false));
    }

    #[test]
    fn many_columns_many_rows() {
        let n = 1000;
        let ints: ArrayRef = Arc::new(Int32Array::from_iter(
            (0..n).map(|i| (i % 7 != 0).then_some(i)),
        ));
        let strs: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("s{i}")),
        ));
        let rows = encode_with(
            vec![
                (Field::new("a", DataType::Int32, true), ints),
                (Field::new("b", DataType::Utf8, false), strs),
            ],
            false,
            "UTC",
        );
        assert_eq!(rows.len(), n as usize);
        assert_eq!(
            cells(&rows[8]),
            vec![Some(b"8".to_vec()), Some(b"s8".to_vec())]
        );
        assert_eq!(cells(&rows[7]), vec![None, Some(b"s7".to_vec())]);
    }
}
