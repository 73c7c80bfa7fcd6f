//! Column writers: how one column's cells reach a batch's DataRows.
//!
//! A batch is encoded column by column. Each writer first adds the size of
//! every row's cell (the 4-byte length word included) to the row sizes;
//! once every row's place in the output is known, each writer puts its
//! cells at their rows' positions in one loop over the rows. The loop is
//! typed: the column's type is matched once, not once per cell, and a
//! string's bytes are read from one array at a time rather than from
//! twenty arrays in turn.
//!
//! Strings and binary values sent as they are, integers, booleans and
//! values of a fixed binary width are written straight from the array.
//! Everything else (text floats, dates and timestamps, numerics,
//! intervals, arrays, arrow-pg's fallback) is staged: its cells are encoded
//! into a buffer of its own, column by column, then copied into place.

use bytes::BytesMut;
use datafusion::arrow::array::{
    Array, ArrowPrimitiveType, BooleanArray, GenericByteArray, GenericByteViewArray, PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{ArrowNativeType, ByteArrayType, ByteViewType};

/// Puts one column's cells into a batch's rows.
pub(super) trait ColumnWriter {
    /// Adds each row's cell size, length word included, to `sizes[row]`.
    fn add_sizes(&self, sizes: &mut [usize]);
    /// Writes each row's cell at `at[row]` in `out` and moves `at[row]`
    /// past it.
    fn write(&self, out: &mut [u8], at: &mut [usize]);
}

/// The length word of a NULL cell.
const NULL: [u8; 4] = (-1i32).to_be_bytes();

/// The nulls of an array, when it has any: asking the array per cell is a
/// virtual call.
fn nulls_of(array: &dyn Array) -> Option<&NullBuffer> {
    array.nulls().filter(|n| n.null_count() > 0)
}

/// The values and nulls of a primitive column whose type the caller has
/// matched.
fn primitive<T: ArrowPrimitiveType>(array: &dyn Array) -> (&[T::Native], Option<&NullBuffer>) {
    let a = array
        .as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .expect("the column's type was matched before");
    (a.values(), nulls_of(a))
}

fn put(out: &mut [u8], at: &mut usize, bytes: &[u8]) {
    out[*at..*at + bytes.len()].copy_from_slice(bytes);
    *at += bytes.len();
}

/// Bytes of a value, sent as they are (text in either format, `bytea` in
/// binary).
pub(super) trait RawValues {
    fn value_len(&self, row: usize) -> usize;
    fn value_bytes(&self, row: usize) -> &[u8];
}

impl<T: ByteArrayType> RawValues for GenericByteArray<T>
where
    T::Native: AsRef<[u8]>,
{
    fn value_len(&self, row: usize) -> usize {
        self.value_length(row).as_usize()
    }

    fn value_bytes(&self, row: usize) -> &[u8] {
        self.value(row).as_ref()
    }
}

impl<T: ByteViewType + ?Sized> RawValues for GenericByteViewArray<T>
where
    T::Native: AsRef<[u8]>,
{
    fn value_len(&self, row: usize) -> usize {
        // The low 32 bits of a view are the value's length.
        self.views()[row] as u32 as usize
    }

    fn value_bytes(&self, row: usize) -> &[u8] {
        self.value(row).as_ref()
    }
}

/// A string or binary column whose cells are its values' bytes.
pub(super) struct Raw<'a, A> {
    values: &'a A,
    nulls: Option<&'a NullBuffer>,
}

impl<'a, A: RawValues + Array> Raw<'a, A> {
    pub(super) fn new(values: &'a A) -> Raw<'a, A> {
        Raw {
            values,
            nulls: nulls_of(values),
        }
    }
}

impl<A: RawValues> ColumnWriter for Raw<'_, A> {
    fn add_sizes(&self, sizes: &mut [usize]) {
        for (row, size) in sizes.iter_mut().enumerate() {
            let len = match self.nulls {
                Some(n) if n.is_null(row) => 0,
                _ => self.values.value_len(row),
            };
            *size += 4 + len;
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        for (row, at) in at.iter_mut().enumerate() {
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                put(out, at, &NULL);
                continue;
            }
            let v = self.values.value_bytes(row);
            put(out, at, &(v.len() as i32).to_be_bytes());
            put(out, at, v);
        }
    }
}

/// A primitive column whose present values take `N` bytes each.
pub(super) struct Fixed<'a, T: ArrowPrimitiveType, F, const N: usize> {
    values: &'a [T::Native],
    nulls: Option<&'a NullBuffer>,
    bytes_of: F,
}

impl<'a, T, F, const N: usize> Fixed<'a, T, F, N>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> [u8; N],
{
    pub(super) fn new(array: &'a dyn Array, bytes_of: F) -> Fixed<'a, T, F, N> {
        let (values, nulls) = primitive::<T>(array);
        Fixed {
            values,
            nulls,
            bytes_of,
        }
    }
}

impl<T, F, const N: usize> ColumnWriter for Fixed<'_, T, F, N>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> [u8; N],
{
    fn add_sizes(&self, sizes: &mut [usize]) {
        match self.nulls {
            None => sizes.iter_mut().for_each(|s| *s += 4 + N),
            Some(n) => {
                for (row, size) in sizes.iter_mut().enumerate() {
                    *size += if n.is_null(row) { 4 } else { 4 + N };
                }
            }
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        let len = (N as i32).to_be_bytes();
        for (row, at) in at.iter_mut().enumerate() {
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                put(out, at, &NULL);
                continue;
            }
            put(out, at, &len);
            put(out, at, &(self.bytes_of)(self.values[row]));
        }
    }
}

/// An integer column in text: each present value's decimal digits. The
/// digits are counted before they are written, so the cell goes straight
/// into place; `as_sent` converts a stored value to the value sent (an
/// `oid` is sent unsigned).
pub(super) struct Digits<'a, T: ArrowPrimitiveType, F> {
    values: &'a [T::Native],
    nulls: Option<&'a NullBuffer>,
    as_sent: F,
}

impl<'a, T, F, I> Digits<'a, T, F>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> I,
    I: itoa::Integer + Into<i128>,
{
    pub(super) fn new(array: &'a dyn Array, as_sent: F) -> Digits<'a, T, F> {
        let (values, nulls) = primitive::<T>(array);
        Digits {
            values,
            nulls,
            as_sent,
        }
    }
}

/// Characters of `v` in decimal, its sign included.
fn decimal_len(v: i128) -> usize {
    let digits = v
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(v < 0)
}

impl<T, F, I> ColumnWriter for Digits<'_, T, F>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> I,
    I: itoa::Integer + Into<i128>,
{
    fn add_sizes(&self, sizes: &mut [usize]) {
        for (row, size) in sizes.iter_mut().enumerate() {
            *size += 4;
            if !self.nulls.is_some_and(|n| n.is_null(row)) {
                *size += decimal_len((self.as_sent)(self.values[row]).into());
            }
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        let mut digits = itoa::Buffer::new();
        for (row, at) in at.iter_mut().enumerate() {
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                put(out, at, &NULL);
                continue;
            }
            let text = digits.format((self.as_sent)(self.values[row])).as_bytes();
            put(out, at, &(text.len() as i32).to_be_bytes());
            put(out, at, text);
        }
    }
}

/// A timestamp column in text, as PostgreSQL's ISO style writes it, put
/// straight into place: staged, their cells took an eighth of the server's
/// CPU streaming the incident table, which has three. The text of a
/// date between years 1 and 9999 has a fixed length, and neighbouring
/// records mostly fall within a few weeks of each other, so a small cache
/// keeps the text of recent days; other dates take the staged path's
/// formatter.
pub(super) struct TimestampText<'a, T: ArrowPrimitiveType> {
    values: &'a [T::Native],
    nulls: Option<&'a NullBuffer>,
    to_usecs: fn(i64) -> i64,
    /// The session offset, for `timestamptz`.
    zone: Option<i32>,
    /// `zone` as text (`+HH[:MM[:SS]]`), empty for `timestamp`.
    offset: BytesMut,
}

impl<'a, T: ArrowPrimitiveType<Native = i64>> TimestampText<'a, T> {
    pub(super) fn new(
        array: &'a dyn Array,
        to_usecs: fn(i64) -> i64,
        zone: Option<i32>,
    ) -> TimestampText<'a, T> {
        let (values, nulls) = primitive::<T>(array);
        let mut offset = BytesMut::new();
        if let Some(z) = zone {
            super::write_offset(&mut offset, z);
        }
        TimestampText {
            values,
            nulls,
            to_usecs,
            zone,
            offset,
        }
    }

    fn shown(&self, row: usize) -> i64 {
        super::shifted((self.to_usecs)(self.values[row]), self.zone)
    }

    /// The text of a value outside years 1 to 9999.
    fn formatted(&self, usecs: i64, scratch: &mut BytesMut) {
        scratch.clear();
        super::write_timestamp(scratch, usecs, self.zone);
    }
}

impl<T: ArrowPrimitiveType<Native = i64>> ColumnWriter for TimestampText<'_, T> {
    fn add_sizes(&self, sizes: &mut [usize]) {
        let mut scratch = BytesMut::new();
        for (row, size) in sizes.iter_mut().enumerate() {
            *size += 4;
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                continue;
            }
            let us = self.shown(row);
            let days = us.div_euclid(super::USECS_PER_DAY);
            *size += if super::FOUR_DIGIT_YEARS.contains(&days) {
                11 + super::time_of_day_len(us.rem_euclid(super::USECS_PER_DAY)) + self.offset.len()
            } else {
                self.formatted(us, &mut scratch);
                scratch.len()
            };
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        let mut scratch = BytesMut::new();
        // Direct-mapped by day: one slot per day of a 64-day window.
        let mut days_text = [(i64::MIN, [0u8; 10]); 64];
        for (row, at) in at.iter_mut().enumerate() {
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                put(out, at, &NULL);
                continue;
            }
            let us = self.shown(row);
            let days = us.div_euclid(super::USECS_PER_DAY);
            if !super::FOUR_DIGIT_YEARS.contains(&days) {
                self.formatted(us, &mut scratch);
                put(out, at, &(scratch.len() as i32).to_be_bytes());
                put(out, at, &scratch);
                continue;
            }
            let slot = &mut days_text[(days as usize) % 64];
            if slot.0 != days {
                *slot = (days, super::iso_date(days));
            }
            let (time, time_len) = super::iso_time_of_day(us.rem_euclid(super::USECS_PER_DAY));
            let len = 11 + time_len + self.offset.len();
            put(out, at, &(len as i32).to_be_bytes());
            put(out, at, &slot.1);
            put(out, at, b" ");
            put(out, at, &time[..time_len]);
            put(out, at, &self.offset);
        }
    }
}

/// A boolean column: one byte per present value, 1/0 in binary and `t`/`f`
/// in text.
pub(super) struct Flags<'a> {
    values: &'a BooleanArray,
    nulls: Option<&'a NullBuffer>,
    binary: bool,
}

impl<'a> Flags<'a> {
    pub(super) fn new(values: &'a BooleanArray, binary: bool) -> Flags<'a> {
        Flags {
            values,
            nulls: nulls_of(values),
            binary,
        }
    }
}

impl ColumnWriter for Flags<'_> {
    fn add_sizes(&self, sizes: &mut [usize]) {
        for (row, size) in sizes.iter_mut().enumerate() {
            *size += if self.nulls.is_some_and(|n| n.is_null(row)) {
                4
            } else {
                5
            };
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        let (yes, no) = if self.binary { (1, 0) } else { (b't', b'f') };
        for (row, at) in at.iter_mut().enumerate() {
            if self.nulls.is_some_and(|n| n.is_null(row)) {
                put(out, at, &NULL);
                continue;
            }
            let v = if self.values.value(row) { yes } else { no };
            put(out, at, &[0, 0, 0, 1, v]);
        }
    }
}

/// A column encoded cell by cell into a buffer of its own before the rows
/// are laid out: `ends[row]` is where the row's cell (length word included)
/// ends in `bytes`.
#[derive(Default)]
pub(super) struct Staged {
    pub(super) bytes: BytesMut,
    pub(super) ends: Vec<usize>,
}

impl Staged {
    /// Empties the buffer for the next batch, keeping its memory.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn cell(&self, row: usize) -> &[u8] {
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        &self.bytes[start..self.ends[row]]
    }
}

impl ColumnWriter for &Staged {
    fn add_sizes(&self, sizes: &mut [usize]) {
        let mut start = 0;
        for (size, &end) in sizes.iter_mut().zip(&self.ends) {
            *size += end - start;
            start = end;
        }
    }

    fn write(&self, out: &mut [u8], at: &mut [usize]) {
        for (row, at) in at.iter_mut().enumerate() {
            put(out, at, self.cell(row));
        }
    }
}
