//! Every way of changing a log after the fact is reported at the line where
//! it was done.

mod common;

use std::path::Path;

use common::{lines, write_lines, write_log};
use sqlgate_audit::{Breach, VerifyError, verify};

const RECORDS: u64 = 20;

async fn fresh_log(dir: &Path) -> (std::path::PathBuf, Vec<Vec<u8>>) {
    let path = dir.join("audit.jsonl");
    write_log(&path, RECORDS).await;
    let lines = lines(&path);
    (path, lines)
}

#[track_caller]
fn broken_at(path: &Path) -> (u64, Option<u64>, Breach) {
    match verify(path) {
        Err(VerifyError::Broken { line, seq, breach }) => (line, seq, breach),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

/// A different byte of the same kind, so JSON stays valid where it can.
fn flip(b: u8) -> u8 {
    match b {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        _ => b'x',
    }
}

#[tokio::test]
async fn changing_any_byte_of_any_record_is_caught_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;
    for (i, line) in lines.iter().enumerate() {
        for pos in 0..line.len() - 1 {
            let mut edited = lines.clone();
            edited[i][pos] = flip(line[pos]);
            write_lines(&path, &edited);
            let (at, _, breach) = broken_at(&path);
            assert_eq!(at, i as u64 + 1, "byte {pos} of line {}", i + 1);
            assert!(
                matches!(breach, Breach::Edited | Breach::Malformed(_)),
                "{breach:?}"
            );
        }
    }
}

#[tokio::test]
async fn editing_a_field_value_is_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut lines) = fresh_log(dir.path()).await;
    // Line 8 is a query (see `every_kind`): report more rows than were sent.
    let text = String::from_utf8(lines[7].clone()).unwrap();
    assert!(text.contains("\"rows\":0,"), "{text}");
    lines[7] = text.replace("\"rows\":0,", "\"rows\":1,").into_bytes();
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path), (8, Some(8), Breach::Edited));
}

#[tokio::test]
async fn deleting_a_line_is_a_removal_at_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;
    for k in 1..RECORDS {
        let mut cut = lines.clone();
        cut.remove(k as usize - 1);
        write_lines(&path, &cut);
        let expected = Breach::Removed {
            expected: k,
            found: k + 1,
        };
        assert_eq!(broken_at(&path), (k, Some(k + 1), expected));
    }
}

#[tokio::test]
async fn swapping_two_lines_is_a_reordering() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;
    for k in 1..RECORDS {
        let mut swapped = lines.clone();
        swapped.swap(k as usize - 1, k as usize);
        write_lines(&path, &swapped);
        let expected = Breach::Reordered {
            expected: k,
            found: k + 1,
        };
        assert_eq!(broken_at(&path), (k, Some(k + 1), expected));
    }
    // Distant lines, too.
    let mut swapped = lines.clone();
    swapped.swap(3, 15);
    write_lines(&path, &swapped);
    let expected = Breach::Reordered {
        expected: 4,
        found: 16,
    };
    assert_eq!(broken_at(&path), (4, Some(16), expected));
}

#[tokio::test]
async fn a_duplicated_line_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut lines) = fresh_log(dir.path()).await;
    let copy = lines[4].clone();
    lines.insert(5, copy);
    write_lines(&path, &lines);
    let expected = Breach::Reordered {
        expected: 6,
        found: 5,
    };
    assert_eq!(broken_at(&path), (6, Some(5), expected));
}

#[tokio::test]
async fn cutting_out_the_middle_is_caught_where_the_cut_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;

    // Whole lines 5 to 9 gone.
    let mut cut = lines[..4].to_vec();
    cut.extend_from_slice(&lines[9..]);
    write_lines(&path, &cut);
    let expected = Breach::Removed {
        expected: 5,
        found: 10,
    };
    assert_eq!(broken_at(&path), (5, Some(10), expected));

    // From the middle of line 5 to the middle of line 9: one spliced line.
    let bytes = lines.concat();
    let start: usize = lines[..4].iter().map(Vec::len).sum::<usize>() + lines[4].len() / 2;
    let end: usize = lines[..8].iter().map(Vec::len).sum::<usize>() + lines[8].len() / 2;
    std::fs::write(&path, [&bytes[..start], &bytes[end..]].concat()).unwrap();
    let (at, _, breach) = broken_at(&path);
    assert_eq!(at, 5);
    assert!(
        matches!(breach, Breach::Edited | Breach::Malformed(_)),
        "{breach:?}"
    );
}

#[tokio::test]
async fn foreign_lines_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;
    for junk in [&b"\n"[..], b"not json\n", b"{\"seq\":21}\n"] {
        let mut added = lines.clone();
        added.push(junk.to_vec());
        write_lines(&path, &added);
        let (at, _, breach) = broken_at(&path);
        assert_eq!(at, RECORDS + 1);
        assert!(matches!(breach, Breach::Malformed(_)), "{breach:?}");
    }
    // A final line without its newline was cut short.
    let mut torn = lines.clone();
    torn.last_mut().unwrap().pop();
    write_lines(&path, &torn);
    let (at, _, breach) = broken_at(&path);
    assert_eq!(at, RECORDS);
    assert!(matches!(breach, Breach::Malformed(why) if why.contains("incomplete")));
}

#[tokio::test]
async fn cutting_off_the_tail_shows_only_against_the_last_hash() {
    // The limit of any hash chain: the shorter log is a valid log. What
    // exposes it is the last seq and hash kept from an earlier report.
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = fresh_log(dir.path()).await;
    let anchor = verify(&path).unwrap();
    write_lines(&path, &lines[..lines.len() - 1]);
    let report = verify(&path).unwrap();
    assert_eq!(report.last_seq, Some(RECORDS - 1));
    assert_ne!(report.last_hash, anchor.last_hash);
}

#[tokio::test]
async fn the_message_names_the_line_the_seq_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut lines) = fresh_log(dir.path()).await;
    lines.remove(2);
    write_lines(&path, &lines);
    let message = verify(&path).unwrap_err().to_string();
    assert_eq!(
        message,
        "audit log broken at line 3 (seq 4): removed: expected seq 3, found 4"
    );
}
