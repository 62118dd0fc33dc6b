//! A federation job's every-sample mode, on the global: asking a wasmfed leaf's `/federate`
//! with a cursor (the contract is `wasmfed_model::every_sample`'s), and keeping each target's
//! cursor across restarts.
//!
//! A cursor moves only past samples that are durable: the scrape loop advances it in the
//! [`CursorBook`] after the scrape's samples were handed to the write-ahead log, and the book
//! writes it to disk only after a WAL fsync that began later ([`CursorBook::persist`]). A
//! crash therefore loses at most cursors, never samples behind a cursor: after a restart the
//! global asks again from an older cursor, and drops what it holds already (counted as
//! resent). A target with no cursor (new, or its cursor lost) starts with the leaf's lookback
//! window.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use wasmfed_model::clock::unix_millis;
use wasmfed_model::every_sample::{Reset, Trailer, CURSOR_PARAM, MAX_SAMPLES_PARAM};

/// Cursors not advanced for this long belong to targets gone (a leaf remembers a day).
const FORGET_AFTER_MS: i64 = 2 * 24 * 3600 * 1000;

/// The file a tenant's cursors are kept in, beside its write-ahead log.
pub const CURSORS_FILE: &str = "every_sample_cursors.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    cursor: String,
    /// When it was last advanced (Unix ms).
    updated_ms: i64,
}

/// Every target's cursor, by job and URL.
#[derive(Default)]
pub struct CursorBook {
    path: Mutex<Option<PathBuf>>,
    inner: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    entries: BTreeMap<String, Entry>,
    /// Advanced since the last write.
    dirty: bool,
}

impl CursorBook {
    /// Keeps the cursors in `path` from now on, starting from those written there before.
    /// A file that cannot be read is an error (an unreadable file must not silently restart
    /// every target from its lookback window).
    pub fn attach(&self, path: PathBuf) -> io::Result<usize> {
        let entries: BTreeMap<String, Entry> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let n = entries.len();
        self.inner.lock().entries = entries;
        *self.path.lock() = Some(path);
        Ok(n)
    }

    /// The cursor a target stopped at, if any.
    pub fn get(&self, key: &str) -> Option<String> {
        let inner = self.inner.lock();
        inner.entries.get(key).map(|e| e.cursor.clone())
    }

    /// Moves a target's cursor; call only once the samples before it were handed to the log.
    pub fn advance(&self, key: &str, cursor: String) {
        let mut inner = self.inner.lock();
        let entry = Entry {
            cursor,
            updated_ms: unix_millis(SystemTime::now()),
        };
        inner.entries.insert(key.to_string(), entry);
        inner.dirty = true;
    }

    /// Writes the cursors advanced so far, once `durable` (an fsync of the log) has returned:
    /// the file never names a cursor whose samples could still be lost. Answers whether
    /// anything was written. Blocking.
    pub fn persist(&self, durable: impl FnOnce() -> io::Result<()>) -> io::Result<bool> {
        let Some(path) = self.path.lock().clone() else {
            return Ok(false);
        };
        let snapshot = {
            let mut inner = self.inner.lock();
            if !inner.dirty {
                return Ok(false);
            }
            inner.dirty = false;
            let now = unix_millis(SystemTime::now());
            inner
                .entries
                .retain(|_, e| now - e.updated_ms < FORGET_AFTER_MS);
            inner.entries.clone()
        };
        let written = durable().and_then(|()| write_atomically(&path, &snapshot));
        if written.is_err() {
            self.inner.lock().dirty = true; // try again next time
        }
        written.map(|()| true)
    }
}

fn write_atomically(path: &Path, entries: &BTreeMap<String, Entry>) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(entries).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// One target's place in its leaf's stream.
pub(crate) struct EveryTarget {
    /// The book's key: job and URL.
    pub key: String,
    pub cursor: Option<String>,
    pub max_samples: u64,
    /// HA: the cursors of the last while, oldest first, to go back to when this replica takes
    /// over from a silent one (empty unless asked for with [`EveryTarget::keep_history`]).
    history: VecDeque<(Instant, Option<String>)>,
    keep: Duration,
}

/// What one answer said besides its samples.
pub(crate) struct Answer {
    pub trailer: Trailer,
    pub reset: Option<Reset>,
}

impl EveryTarget {
    pub fn new(job: &str, url: &str, max_samples: u64, book: &CursorBook) -> EveryTarget {
        let key = format!("{job} {url}");
        let cursor = book.get(&key);
        EveryTarget {
            key,
            cursor,
            max_samples,
            history: VecDeque::new(),
            keep: Duration::ZERO,
        }
    }

    /// Keeps the cursors of the last `keep` for [`EveryTarget::rewind`].
    pub fn keep_history(&mut self, keep: Duration) {
        self.keep = keep;
    }

    /// Moves to the cursor an answer ended with.
    pub fn advance(&mut self, cursor: String) {
        if !self.keep.is_zero() {
            let now = Instant::now();
            self.history.push_back((now, self.cursor.take()));
            while self
                .history
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.keep)
            {
                self.history.pop_front();
            }
        }
        self.cursor = Some(cursor);
    }

    /// Goes back to the oldest cursor kept (none kept: the leaf's lookback window).
    pub fn rewind(&mut self) {
        if let Some((_, cursor)) = self.history.pop_front() {
            self.cursor = cursor;
        } else {
            self.cursor = None;
        }
        self.history.clear();
    }

    /// The target's URL with the cursor and the budget.
    pub fn url(&self, base: &str) -> String {
        let cursor = self.cursor.as_deref().unwrap_or("");
        let separator = if base.contains('?') { '&' } else { '?' };
        let cursor: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        format!(
            "{base}{separator}{CURSOR_PARAM}={cursor}&{MAX_SAMPLES_PARAM}={}",
            self.max_samples
        )
    }

    /// Reads the trailer (and any reset line) of an answer; an answer without one was cut
    /// short, or does not come from a wasmfed leaf.
    pub fn answer(body: &[u8]) -> Result<Answer, String> {
        let trailer = Trailer::find(body).ok_or(
            "every-sample answer has no \"# CURSOR\" line: cut short, or the target is not a \
             wasmfed /federate",
        )?;
        Ok(Answer {
            trailer,
            reset: Reset::find(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_written_only_after_the_log_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CURSORS_FILE);
        let book = CursorBook::default();
        assert_eq!(book.attach(path.clone()).unwrap(), 0);
        book.advance("leaves http://a/federate", "c1".into());
        // The fsync failed: nothing written, tried again next time.
        let failed = book.persist(|| Err(io::Error::other("disk full")));
        assert!(failed.is_err());
        assert!(!path.exists());
        assert!(book.persist(|| Ok(())).unwrap());
        assert!(!book.persist(|| Ok(())).unwrap(), "nothing new");
        let reopened = CursorBook::default();
        assert_eq!(reopened.attach(path.clone()).unwrap(), 1);
        assert_eq!(
            reopened.get("leaves http://a/federate").as_deref(),
            Some("c1")
        );
        std::fs::write(&path, "{not json").unwrap();
        let err = CursorBook::default().attach(path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn urls_carry_the_cursor_and_the_budget() {
        let book = CursorBook::default();
        let mut target = EveryTarget::new("j", "http://l/federate?match%5B%5D=up", 100, &book);
        assert_eq!(
            target.url("http://l/federate?match%5B%5D=up"),
            "http://l/federate?match%5B%5D=up&cursor=&max_samples=100"
        );
        target.cursor = Some("1.ab.2.3.4.5.".into());
        assert_eq!(
            target.url("http://l/federate"),
            "http://l/federate?cursor=1.ab.2.3.4.5.&max_samples=100"
        );
        assert!(EveryTarget::answer(b"up 1 1\n").is_err());
        let answer = EveryTarget::answer(b"up 1 1\n# CURSOR x complete\n").unwrap();
        assert_eq!((answer.trailer.cursor.as_str(), answer.reset), ("x", None));
    }
}
