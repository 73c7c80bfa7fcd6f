//! Checking a log's hash chain, for `sqlgate audit verify` and for resuming a
//! log at start-up.
//!
//! This module owns the rules a log must satisfy: lines are records, seqs
//! count up from 1 without gaps, each record's `prev` is the previous
//! record's hash (64 zeros for the first), and each record's hash matches its
//! bytes. It reports the *first* line that breaks a rule, and why, so an
//! operator knows where to look.
//!
//! What a hash chain cannot show on its own: that records were cut off the
//! end of the log, or that the whole log was rewritten with a new chain. The
//! [`Report`]'s last seq and hash are what to keep elsewhere to detect both.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::line::{self, GENESIS};

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    /// `None` for an empty log.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The last record's hash: the anchor to keep to detect truncation.
    pub last_hash: Option<String>,
}

/// Why a record breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// The line is not a record.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The record's bytes no longer match its hash.
    #[error("edited: its hash does not match its contents")]
    Edited,
    /// A record is missing before this one: the seq jumps, and the expected
    /// record appears nowhere later in the log.
    #[error("removed: expected seq {expected}, found {found}")]
    Removed { expected: u64, found: u64 },
    /// The record's `prev` is not the previous record's hash although its
    /// seq follows on: a record before it was removed or replaced.
    #[error("removed or replaced: its prev is not the previous record's hash")]
    PrevMismatch,
    /// Records are out of order: the seq goes backwards, or the expected
    /// record appears later in the log.
    #[error("reordered: expected seq {expected}, found {found}")]
    Reordered { expected: u64, found: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read audit log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `line` is 1-based; `seq` is the record's own seq where it has one.
    #[error("audit log broken at line {line}{}: {breach}", seq.map(|s| format!(" (seq {s})")).unwrap_or_default())]
    Broken {
        line: u64,
        seq: Option<u64>,
        breach: Breach,
    },
}

/// Verifies the log at `path` from its first line to its last.
pub fn verify(path: &Path) -> Result<Report, VerifyError> {
    let io_error = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    Ok(verify_reader(BufReader::new(file))
        .map_err(|e| e.with_path(path))?
        .report())
}

/// The state of a chain after its last good record: what the next record
/// must continue from.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub records: u64,
    /// 0 before the first record.
    pub last_seq: u64,
    pub last_hash: String,
}

impl Chain {
    pub(crate) fn new() -> Self {
        Chain {
            records: 0,
            last_seq: 0,
            last_hash: GENESIS.to_owned(),
        }
    }

    fn report(self) -> Report {
        let any = self.records > 0;
        Report {
            records: self.records,
            first_seq: any.then_some(1),
            last_seq: any.then_some(self.last_seq),
            last_hash: any.then_some(self.last_hash),
        }
    }

    /// Checks one line (without its newline) and moves the chain past it.
    /// A seq that jumps ahead is reported as `Removed`; the caller decides
    /// whether it was really a reordering.
    fn push(&mut self, line: &[u8]) -> Result<(), (Option<u64>, Breach)> {
        let parsed =
            line::parse(line).map_err(|why| (line::seq_of(line), Breach::Malformed(why)))?;
        let seq = Some(parsed.seq);
        if line::chain_hash(&parsed.prev, parsed.body) != parsed.hash {
            return Err((seq, Breach::Edited));
        }
        let expected = self.last_seq + 1;
        if parsed.seq < expected {
            let found = parsed.seq;
            return Err((seq, Breach::Reordered { expected, found }));
        }
        if parsed.seq > expected {
            let found = parsed.seq;
            return Err((seq, Breach::Removed { expected, found }));
        }
        if parsed.prev != self.last_hash {
            return Err((seq, Breach::PrevMismatch));
        }
        self.records += 1;
        self.last_seq = parsed.seq;
        self.last_hash = parsed.hash;
        Ok(())
    }
}

/// A break found while reading, before the path is known to the message.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Broken {
        line: u64,
        seq: Option<u64>,
        breach: Breach,
    },
}

impl ReadError {
    pub(crate) fn with_path(self, path: &Path) -> VerifyError {
        match self {
            ReadError::Io(source) => VerifyError::Io {
                path: path.to_path_buf(),
                source,
            },
            ReadError::Broken { line, seq, breach } => VerifyError::Broken { line, seq, breach },
        }
    }
}

/// Reads lines to the end, checking each. Returns the chain after the last
/// record, from which a writer can continue.
pub(crate) fn verify_reader(mut reader: impl BufRead) -> Result<Chain, ReadError> {
    let mut chain = Chain::new();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(ReadError::Io)? == 0 {
            return Ok(chain);
        }
        line_no += 1;
        let Some(line) = buf.strip_suffix(b"\n") else {
            let seq = line::seq_of(&buf);
            let why = "the last line is incomplete (no newline): a write was cut short";
            return Err(broken(line_no, seq, Breach::Malformed(why.into())));
        };
        if let Err((seq, breach)) = chain.push(line) {
            let breach = match breach {
                Breach::Removed { expected, found } if appears_later(&mut reader, expected)? => {
                    Breach::Reordered { expected, found }
                }
                other => other,
            };
            return Err(broken(line_no, seq, breach));
        }
    }
}

fn broken(line: u64, seq: Option<u64>, breach: Breach) -> ReadError {
    ReadError::Broken { line, seq, breach }
}

/// Whether a record with `seq` appears in the rest of the log.
fn appears_later(reader: &mut impl BufRead, seq: u64) -> Result<bool, ReadError> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(ReadError::Io)? == 0 {
            return Ok(false);
        }
        if line::seq_of(buf.strip_suffix(b"\n").unwrap_or(&buf)) == Some(seq) {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use chrono::Utc;

    fn log(n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut out = Vec::new();
                let event = Event::ServerStop {
                    reason: format!("stop {seq}"),
                };
                prev = line::encode(seq, Utc::now(), &prev, &event, &mut out);
                out
            })
            .collect()
    }

    fn check(lines: &[Vec<u8>]) -> Result<Chain, ReadError> {
        verify_reader(&lines.concat()[..])
    }

    fn breach_at(lines: &[Vec<u8>]) -> (u64, Option<u64>, Breach) {
        match check(lines) {
            Err(ReadError::Broken { line, seq, breach }) => (line, seq, breach),
            other => panic!("expected a break, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_log_verifies() {
        let report = check(&[]).unwrap().report();
        assert_eq!(report.records, 0);
        assert_eq!(report.first_seq, None);
    }

    #[test]
    fn a_seq_going_backwards_is_a_reordering() {
        let mut lines = log(4);
        lines[3] = lines[1].clone();
        let (line, seq, breach) = breach_at(&lines);
        assert_eq!((line, seq), (4, Some(2)));
        assert_eq!(
            breach,
            Breach::Reordered {
                expected: 4,
                found: 2
            }
        );
    }

    #[test]
    fn a_replaced_record_breaks_the_link() {
        // Seq 2 replaced by a well-formed record with the same seq but a
        // different chain: it verifies alone, the link to it does not.
        let mut lines = log(3);
        let mut other = Vec::new();
        let event = Event::ServerStart {
            version: "forged".into(),
        };
        line::encode(2, Utc::now(), GENESIS, &event, &mut other);
        lines[1] = other;
        let (line, _, breach) = breach_at(&lines);
        assert_eq!((line, breach), (2, Breach::PrevMismatch));
    }

    #[test]
    fn a_missing_first_record_is_noticed() {
        let lines = log(3);
        let (line, seq, breach) = breach_at(&lines[1..]);
        assert_eq!((line, seq), (1, Some(2)));
        assert_eq!(
            breach,
            Breach::Removed {
                expected: 1,
                found: 2
            }
        );
    }

    #[test]
    fn a_torn_last_line_is_malformed() {
        let mut lines = log(3);
        let last = lines.last_mut().unwrap();
        last.truncate(last.len() - 10);
        let (line, seq, breach) = breach_at(&lines);
        assert_eq!((line, seq), (3, None));
        assert!(matches!(breach, Breach::Malformed(why) if why.contains("incomplete")));
    }
}
