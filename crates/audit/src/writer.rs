//! The writer: [`AuditLog`] handles in front of one task that owns the file.
//!
//! # Concurrency and the no-loss design
//!
//! [`AuditLog::record`] is synchronous and never waits: it stamps the event
//! with the time and sends it down an **unbounded** channel to a single
//! writer task, which alone owns the file and the chain (seq, prev). The
//! choice of an unbounded queue is deliberate. A bounded queue must, when
//! full, either drop the record (not allowed: the log must be complete) or
//! make the caller wait; waiting in a synchronous call would block a tokio
//! worker thread, and enough blocked workers starve the very writer they wait
//! for. So the queue absorbs bursts and disk stalls in memory (a record is a
//! few hundred bytes; a minute of stalled disk at 10,000 statements a second
//! is a few hundred MiB), and [`AuditLog::backlog`] exposes its depth so it
//! can be watched.
//!
//! The writer does group commit: it takes everything queued (up to
//! [`BATCH_BYTES`]), appends it with one write, `fdatasync`s, and only then
//! counts those records as written. A failed write is retried, with back-off,
//! from the same bytes: the chain was computed once, and a partial write left
//! by the failure is cut back to the last whole line first. Records are
//! therefore held in memory until they are on disk, never discarded while
//! the server runs. Only `shutdown` stops retrying: after a few failed
//! attempts it returns [`AuditError::Unwritten`] with the count, rather than
//! hang the server's exit on a dead disk.
//!
//! One channel carries both records and the shutdown request, so everything
//! recorded before [`AuditLog::shutdown`] is called is ahead of the request,
//! and records from one task keep their order in the log. A `record` made
//! after shutdown cannot be written; it is logged through `tracing` in full
//! (events carry no secrets) rather than silently lost.
//!
//! The file is opened with `O_APPEND` and an exclusive advisory lock, so two
//! servers cannot interleave lines in one log.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
use crate::line;
use crate::verify::{self, Chain, VerifyError};

/// The most bytes appended (and synced) at once; bounds the latency of one
/// batch, not what can be queued.
pub const BATCH_BYTES: usize = 1 << 20;

/// Write attempts during shutdown before giving up and reporting what is
/// unwritten. While running, the writer retries for as long as it takes.
const SHUTDOWN_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit log {path} is already open in another process")]
    InUse { path: PathBuf },
    #[error("refusing to append to audit log {path}: {source}")]
    Broken {
        path: PathBuf,
        #[source]
        source: VerifyError,
    },
    #[error("audit log {path}: {records} records could not be written: {source}")]
    Unwritten {
        path: PathBuf,
        records: u64,
        #[source]
        source: io::Error,
    },
    #[error("the audit log was already shut down")]
    Closed,
    #[error("the audit writer stopped unexpectedly")]
    WriterStopped,
}

enum Msg {
    Record(DateTime<Utc>, Event),
    Shutdown(oneshot::Sender<Result<(), AuditError>>),
}

/// A handle to the audit log; clone it freely (it is an `Arc`).
#[derive(Clone, Debug)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    /// Records accepted by `record` and not yet synced to disk.
    backlog: Arc<AtomicU64>,
}

impl AuditLog {
    /// Opens the log at `path`, creating it (mode 0600) if absent. An
    /// existing log is verified from its first line, and new records continue
    /// its chain; if it does not verify, this refuses with the line at fault.
    pub async fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let path = path.to_path_buf();
        let opened = tokio::task::spawn_blocking({
            let path = path.clone();
            move || open_and_resume(&path)
        })
        .await
        .map_err(|_| AuditError::WriterStopped)?;
        let (file, chain, len) = opened?;
        tracing::info!(path = %path.display(), records = chain.records, "audit log open");
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            path: path.clone(),
            file: Arc::new(file),
            next_seq: chain.last_seq + 1,
            prev: chain.last_hash,
            synced_len: len,
            torn: false,
            backlog: backlog.clone(),
        };
        tokio::spawn(writer.run(rx));
        Ok(AuditLog {
            shared: Arc::new(Shared { path, tx, backlog }),
        })
    }

    /// Queues `event` for the log. Never waits on I/O and never drops the
    /// event (see the module docs).
    pub fn record(&self, event: Event) {
        let shared = &self.shared;
        shared.backlog.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(msg)) = shared.tx.send(Msg::Record(Utc::now(), event)) {
            shared.backlog.fetch_sub(1, Ordering::Relaxed);
            if let Msg::Record(at, event) = msg {
                let json = serde_json::to_string(&event).unwrap_or_default();
                tracing::error!(
                    path = %shared.path.display(), %at, event = %json,
                    "audit event recorded after the audit log was shut down; not in the log"
                );
            }
        }
    }

    /// Records accepted by [`record`](Self::record) and not yet on disk.
    pub fn backlog(&self) -> u64 {
        self.shared.backlog.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Writes everything queued, syncs it and stops the writer. Every
    /// `record` made before this call is on disk when it returns `Ok`;
    /// `record` on any clone afterwards is refused (and traced). Fails if the
    /// disk still refuses the remaining records after a few attempts, or if
    /// another clone already shut the log down.
    pub async fn shutdown(self) -> Result<(), AuditError> {
        let (reply, done) = oneshot::channel();
        if self.shared.tx.send(Msg::Shutdown(reply)).is_err() {
            return Err(AuditError::Closed);
        }
        done.await.unwrap_or(Err(AuditError::WriterStopped))
    }
}

fn open_and_resume(path: &Path) -> Result<(File, Chain, u64), AuditError> {
    let io_error = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(AuditError::InUse {
                path: path.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
    }
    // Reads start at offset 0; O_APPEND only moves writes to the end.
    let chain = verify::verify_reader(BufReader::new(&file)).map_err(|e| AuditError::Broken {
        path: path.to_path_buf(),
        source: e.with_path(path),
    })?;
    let len = file.metadata().map_err(io_error)?.len();
    if len == 0 {
        sync_parent(path).map_err(io_error)?;
    }
    Ok((file, chain, len))
}

/// Makes a newly created file's directory entry durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

struct Writer {
    path: PathBuf,
    file: Arc<File>,
    next_seq: u64,
    prev: String,
    /// File length after the last successful append.
    synced_len: u64,
    /// Whether a failed append may have left a partial batch after
    /// `synced_len`.
    torn: bool,
    backlog: Arc<AtomicU64>,
}

/// Encoded records waiting to be appended.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    records: u64,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut pending = Pending::default();
        let mut replies = Vec::new();
        let mut stopping = false;
        let mut failures = 0u32;
        // Failed attempts since shutdown began, which are limited.
        let mut failures_stopping = 0u32;
        loop {
            if pending.records == 0 && !stopping {
                match rx.recv().await {
                    Some(msg) => self.accept(msg, &mut pending, &mut replies, &mut rx),
                    // Every handle dropped without a shutdown: write the rest.
                    None => stopping = true,
                }
            }
            // While the disk fails, keep draining so a shutdown request is
            // seen; the records are held in memory either way.
            while failures > 0 || pending.bytes.len() < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(msg) => self.accept(msg, &mut pending, &mut replies, &mut rx),
                    Err(_) => break,
                }
            }
            if !replies.is_empty() {
                stopping = true;
            }
            if pending.records > 0 {
                let Some(appended) = self.append(&mut pending).await else {
                    // The runtime is going away under us; nothing can be
                    // written any more, and waiting shutdowns learn it.
                    tracing::error!(path = %self.path.display(), "audit writer stopped");
                    return;
                };
                match appended {
                    Ok(()) => {
                        if failures > 0 {
                            tracing::info!(path = %self.path.display(), "audit log writable again");
                        }
                        failures = 0;
                    }
                    Err(e) => {
                        failures += 1;
                        failures_stopping += u32::from(stopping);
                        let backlog = self.backlog.load(Ordering::Relaxed);
                        tracing::error!(
                            path = %self.path.display(), error = %e, backlog, attempt = failures,
                            "audit log append failed; records are kept and the write retried"
                        );
                        if failures_stopping >= SHUTDOWN_ATTEMPTS {
                            return self.give_up(replies, backlog, e);
                        }
                        tokio::time::sleep(backoff(failures)).await;
                        continue;
                    }
                }
            }
            if stopping && pending.records == 0 && rx.is_empty() {
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
                return;
            }
        }
    }

    fn accept(
        &mut self,
        msg: Msg,
        pending: &mut Pending,
        replies: &mut Vec<oneshot::Sender<Result<(), AuditError>>>,
        rx: &mut mpsc::UnboundedReceiver<Msg>,
    ) {
        match msg {
            Msg::Record(at, event) => {
                self.prev = line::encode(self.next_seq, at, &self.prev, &event, &mut pending.bytes);
                self.next_seq += 1;
                pending.records += 1;
            }
            Msg::Shutdown(reply) => {
                // Refuse new messages; those already queued are still
                // received and written.
                rx.close();
                replies.push(reply);
            }
        }
    }

    /// Appends and syncs the pending bytes; on success they are cleared.
    /// `None` when the blocking task could not run (the runtime is shutting
    /// down).
    async fn append(&mut self, pending: &mut Pending) -> Option<io::Result<()>> {
        let file = self.file.clone();
        let bytes = std::mem::take(&mut pending.bytes);
        let (synced_len, torn) = (self.synced_len, self.torn);
        let (bytes, result) = tokio::task::spawn_blocking(move || {
            let result = append_blocking(&file, synced_len, torn, &bytes);
            (bytes, result)
        })
        .await
        .ok()?;
        Some(match result {
            Ok(()) => {
                self.synced_len += bytes.len() as u64;
                self.torn = false;
                self.backlog.fetch_sub(pending.records, Ordering::Relaxed);
                pending.records = 0;
                pending.bytes = bytes;
                pending.bytes.clear();
                Ok(())
            }
            Err(e) => {
                self.torn = true;
                pending.bytes = bytes;
                Err(e)
            }
        })
    }

    fn give_up(
        self,
        replies: Vec<oneshot::Sender<Result<(), AuditError>>>,
        records: u64,
        error: io::Error,
    ) {
        for reply in replies {
            let _ = reply.send(Err(AuditError::Unwritten {
                path: self.path.clone(),
                records,
                source: io::Error::new(error.kind(), error.to_string()),
            }));
        }
    }
}

fn append_blocking(mut file: &File, synced_len: u64, torn: bool, bytes: &[u8]) -> io::Result<()> {
    if torn && file.metadata()?.len() != synced_len {
        // Only after our own failed attempt: cut its partial lines off so the
        // retry starts on a line boundary.
        file.set_len(synced_len)?;
    }
    file.write_all(bytes)?;
    file.sync_data()
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64 << failures.min(6)).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_a_partial_write_starts_on_a_line_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        append_blocking(&file, 0, false, b"one\n").unwrap();
        // What a failed attempt left behind.
        (&file).write_all(b"tw").unwrap();
        append_blocking(&file, 4, true, b"two\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
        // Bytes that are not from a failed attempt of ours are never cut.
        (&file).write_all(b"x\n").unwrap();
        append_blocking(&file, 8, false, b"three\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\nx\nthree\n");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert!(backoff(2) > backoff(1));
        assert_eq!(backoff(30), Duration::from_secs(5));
    }
}
