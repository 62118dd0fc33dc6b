//! The in-memory head: series identity, index and samples, shared by every scrape loop and
//! reader at once.
//!
//! Two kinds of state, two kinds of lock:
//! - the *catalog* (symbols, postings, label-set hash → ref) changes only when a series is
//!   created or removed, so it sits behind one `RwLock`, taken shared by lookups and `select`
//!   and exclusively for a moment per new series;
//! - the *series* (label symbols + samples) live in [`SHARDS`] maps keyed by ref, each behind
//!   its own `RwLock` that is taken exclusively only to insert or remove; a sample append takes
//!   its shard shared and then the series' own `Mutex`. Steady-state scraping therefore never
//!   touches a global lock: concurrent appends meet only when they hit the same series.
//!
//! Lock order, everywhere: catalog, then shards in ascending index, then a series' mutex.
//!
//! The write path is [`Head::get_or_create`] (which creates a series) and [`Head::append`] /
//! [`Head::append_to`] (which validate then commit one sample), or an [`Appender`] for a
//! scrape's worth of samples. With a write-ahead log attached ([`Head::attach_wal`]) a new
//! series' record is handed to the log's [`WalSink`] under the catalog lock that ordered it, a
//! lone sample's under its series' lock, and an appender's samples together when it finishes
//! (see the sink for the ordering this gives). Replay goes around the log:
//! [`Head::restore_series`] recreates a series under the ref it was logged with.
//!
//! Memory per series: a boxed [`MemSeries`] (~100 B: label symbols, open-chunk encoder state),
//! its label symbols (8 B a label), a slot in its shard map and in the hash map (~20 B each),
//! one postings entry per label (~10 B with slack), and the chunk bytes: the open chunk's
//! buffer, reused from chunk to chunk, and sealed chunks packed into shared pages. Measured by
//! `benches/storage.rs` at 100k series of 5 labels: 272 B a series with one sample.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use foldhash::quality::RandomState;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use super::chunk::ChunkPages;
use super::index::{IdHash, Postings};
use super::lookup::HashLookup;
use super::matcher::Matcher;
use super::series::{AppendError, SeriesSamples};
use super::symbols::{Symbol, Symbols};
use super::wal::WalSink;
use wasmfed_model::{Label, Labels, Sample};

mod appender;
pub(super) mod batch;
mod persist;
mod stats;
pub mod stored;

pub use appender::{Appender, ChunkTail};
pub use stats::{HeadStats, Stat};
pub use stored::{Floor, Mark, StoreClock};

/// Number of series shards: enough that appenders on many cores rarely meet on one shard lock,
/// few enough that `select`, which reads every shard, stays cheap.
pub const SHARDS: usize = 64;

/// Identifies a series for as long as it exists; refs are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// One series: its label set as (name, value) symbol pairs, and its samples.
struct MemSeries {
    labels: Box<[Symbol]>,
    samples: Mutex<SeriesSamples>,
}

type Shard = HashMap<u64, Arc<MemSeries>, IdHash>;

/// Direct access to one series for a writer that appends to it again and again (a scrape
/// loop's cache): appending through a handle skips the shard lock and lookup, which on a
/// steady scrape is most of the cost of an append. A handle outliving its series (removed by
/// retention) gets [`AppendError::UnknownSeries`], exactly like a stale [`SeriesRef`].
#[derive(Clone)]
pub struct SeriesHandle {
    series_ref: SeriesRef,
    series: Arc<MemSeries>,
}

impl SeriesHandle {
    pub fn series_ref(&self) -> SeriesRef {
        self.series_ref
    }

    /// The timestamp of the series' newest sample, stale markers included.
    pub fn newest_timestamp(&self) -> Option<i64> {
        let newest = self.series.samples.lock().latest(i64::MIN, i64::MAX);
        newest.map(|s| s.timestamp_ms)
    }
}

/// Everything that identifies series, changed only on creation and removal.
#[derive(Default)]
struct Catalog {
    symbols: Symbols,
    postings: Postings,
    by_hash: HashLookup,
    next_ref: u64,
    len: usize,
}

/// The in-memory store. `Send + Sync`; share it as `Arc<Head>`.
pub struct Head {
    catalog: RwLock<Catalog>,
    shards: Box<[RwLock<Shard>]>,
    label_hasher: RandomState,
    wal: OnceLock<Arc<WalSink>>,
    /// Most series [`Head::create_within_limit`] lets exist, 0 for no limit.
    max_series: AtomicUsize,
    /// The bytes of every sealed chunk of this head's series.
    pages: ChunkPages,
    /// Samples older than this are refused: their range is persisted in a block already.
    min_valid_ms: AtomicI64,
    /// When samples were stored, for readers asking what is new since they last asked.
    stored: StoreClock,
}

impl Default for Head {
    fn default() -> Self {
        Head::new()
    }
}

impl Head {
    pub fn new() -> Head {
        Head {
            catalog: RwLock::new(Catalog {
                next_ref: 1,
                ..Catalog::default()
            }),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            label_hasher: RandomState::default(),
            wal: OnceLock::new(),
            max_series: AtomicUsize::new(0),
            pages: ChunkPages::new(),
            min_valid_ms: AtomicI64::new(i64::MIN),
            stored: StoreClock::default(),
        }
    }

    /// Caps the series [`Head::create_within_limit`] creates (a tenant's limit); 0 for none.
    /// Series that exist already are not touched.
    pub fn set_max_series(&self, max: usize) {
        self.max_series.store(max, Relaxed);
    }

    /// [`Head::get_or_create`], except that a new series beyond the limit is refused (`None`);
    /// an existing series is always found.
    pub fn create_within_limit(&self, labels: &Labels) -> Option<(SeriesRef, bool)> {
        match self.max_series.load(Relaxed) {
            0 => Some(self.get_or_create(labels)),
            max => self.find_or_create(labels, max),
        }
    }

    /// From now on, every new series and stored sample is also handed to `sink`. A head has at
    /// most one log; false if one was attached already.
    pub fn attach_wal(&self, sink: Arc<WalSink>) -> bool {
        self.wal.set(sink).is_ok()
    }

    /// Finds or creates the series with exactly these labels (sorted, no empty values).
    ///
    /// The ref stays valid until retention removes the series; `append` then answers
    /// [`AppendError::UnknownSeries`] and the caller should look the labels up again.
    pub fn get_or_create(&self, labels: &Labels) -> (SeriesRef, bool) {
        self.find_or_create(labels, usize::MAX)
            .expect("no limit to refuse a series")
    }

    /// Finds the series, or creates it if fewer than `max` exist (checked under the catalog's
    /// write lock, so concurrent creators never pass the limit together).
    fn find_or_create(&self, labels: &Labels, max: usize) -> Option<(SeriesRef, bool)> {
        debug_assert!(labels.iter().all(|l| !l.value.is_empty()), "{labels}");
        let pairs = || labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
        let hash = self.hash_labels(pairs());
        if let Some(r) = self.find(&self.catalog.read(), hash, pairs()) {
            return Some((r, false));
        }
        let mut catalog = self.catalog.write();
        if let Some(r) = self.find(&catalog, hash, pairs()) {
            return Some((r, false));
        }
        if catalog.len >= max {
            return None;
        }
        let r = SeriesRef(catalog.next_ref);
        catalog.next_ref += 1;
        self.insert(&mut catalog, r, hash, pairs());
        if let Some(wal) = self.wal.get() {
            wal.log_series(r, labels);
        }
        Some((r, true))
    }

    /// Recreates a series under the ref it was logged with (WAL replay; not logged again).
    ///
    /// If the label set exists already, that series is returned whatever its ref: a series
    /// removed by retention and created again is logged twice, under two refs, and both
    /// histories belong to it. `None` if `r` is taken by another label set.
    ///
    /// The labels come as (name, value) pairs, sorted, straight from the log record: replay
    /// interns them without building a [`Labels`] first.
    pub fn restore_series(&self, r: SeriesRef, labels: &[(&str, &str)]) -> Option<SeriesHandle> {
        let pairs = || labels.iter().copied();
        let hash = self.hash_labels(pairs());
        let mut catalog = self.catalog.write();
        if let Some(existing) = self.find(&catalog, hash, pairs()) {
            return self.handle(existing);
        }
        if self.shard(r).read().contains_key(&r.0) {
            return None;
        }
        catalog.next_ref = catalog.next_ref.max(r.0 + 1);
        let series = self.insert(&mut catalog, r, hash, pairs());
        Some(SeriesHandle {
            series_ref: r,
            series,
        })
    }

    /// Makes sure no new series gets a ref below `r` (refs seen in a log must not come back).
    pub(crate) fn reserve_refs_below(&self, r: u64) {
        let mut catalog = self.catalog.write();
        catalog.next_ref = catalog.next_ref.max(r);
    }

    /// Every live series' ref, ascending.
    pub(crate) fn series_refs(&self) -> Vec<SeriesRef> {
        let mut refs: Vec<SeriesRef> = self
            .shards
            .iter()
            .flat_map(|s| s.read().keys().map(|&r| SeriesRef(r)).collect::<Vec<_>>())
            .collect();
        refs.sort_unstable();
        refs
    }

    fn insert<'a>(
        &self,
        cat: &mut Catalog,
        r: SeriesRef,
        hash: u64,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Arc<MemSeries> {
        let symbols: Box<[Symbol]> = labels
            .flat_map(|(name, value)| [cat.symbols.acquire(name), cat.symbols.acquire(value)])
            .collect();
        for pair in symbols.chunks_exact(2) {
            cat.postings.add(pair[0], pair[1], r.0);
        }
        cat.by_hash.insert(hash, r);
        cat.len += 1;
        let series = Arc::new(MemSeries {
            labels: symbols,
            samples: Mutex::default(),
        });
        self.shard(r).write().insert(r.0, series.clone());
        series
    }

    /// Appends one sample under Prometheus' head rules (see [`AppendError`]).
    pub fn append(
        &self,
        series: SeriesRef,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let shard = self.shard(series).read();
        let s = shard.get(&series.0).ok_or(AppendError::UnknownSeries)?;
        let mut samples = s.samples.lock();
        self.store_and_log(series, &mut samples, timestamp_ms, value)
    }

    /// A handle for appending to `series` without looking it up each time.
    pub fn handle(&self, series: SeriesRef) -> Option<SeriesHandle> {
        let shard = self.shard(series).read();
        shard.get(&series.0).map(|s| SeriesHandle {
            series_ref: series,
            series: s.clone(),
        })
    }

    /// Appends one sample through a handle; the same rules as [`Head::append`].
    pub fn append_to(
        &self,
        handle: &SeriesHandle,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let mut samples = handle.series.samples.lock();
        self.store_and_log(handle.series_ref, &mut samples, timestamp_ms, value)
    }

    /// Stores a sample read back from the log (replay): under the same rules, but neither
    /// logged again nor noted to the store clock, since it was stored by an earlier
    /// incarnation and nothing reads the head before replay ends (a note per sample would be
    /// a lock per sample, shared by the replay threads).
    pub(crate) fn restore_sample(
        &self,
        handle: &SeriesHandle,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let mut samples = handle.series.samples.lock();
        self.store(&mut samples, timestamp_ms, value).map(|_| ())
    }

    /// Stores one sample in a locked series and, if it was stored, logs it while the lock
    /// still orders it.
    fn store_and_log(
        &self,
        r: SeriesRef,
        samples: &mut SeriesSamples,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        if self.store(samples, timestamp_ms, value)? {
            if let Some(wal) = self.wal.get() {
                wal.log_sample(r, timestamp_ms, value);
            }
        }
        self.stored.record(timestamp_ms);
        Ok(())
    }

    /// When this head's samples were stored (see [`StoreClock`]).
    pub fn store_clock(&self) -> &StoreClock {
        &self.stored
    }

    /// Stores one sample in a locked series; true if the log needs a record of it.
    fn store(
        &self,
        samples: &mut SeriesSamples,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<bool, AppendError> {
        let min_valid_ms = self.min_valid_ms.load(Relaxed);
        if timestamp_ms < min_valid_ms {
            return Err(AppendError::OutOfBounds {
                min_valid_ms,
                got_ms: timestamp_ms,
            });
        }
        if self.wal.get().is_none() {
            return samples
                .append(timestamp_ms, value, &self.pages)
                .map(|()| false);
        }
        // An exact repeat of the newest sample is accepted but stores nothing (federating a
        // target that has not updated does this on every scrape): nothing to log either.
        let repeat = samples
            .latest(i64::MIN, i64::MAX)
            .is_some_and(|s| s.timestamp_ms == timestamp_ms);
        samples.append(timestamp_ms, value, &self.pages)?;
        Ok(!repeat)
    }

    pub fn labels(&self, series: SeriesRef) -> Option<Labels> {
        let catalog = self.catalog.read();
        let shard = self.shard(series).read();
        let s = shard.get(&series.0)?;
        let labels = s
            .labels
            .chunks_exact(2)
            .map(|p| Label::new(catalog.symbols.resolve(p[0]), catalog.symbols.resolve(p[1])))
            .collect();
        Some(Labels::from_sorted(labels))
    }

    /// Series matching all matchers, sorted by label set. No matchers select nothing.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let catalog = self.catalog.read();
        let shards: Vec<RwLockReadGuard<'_, Shard>> =
            self.shards.iter().map(|s| s.read()).collect();
        let refs = catalog.postings.select(&catalog.symbols, matchers, || {
            let mut all: Vec<u64> = shards.iter().flat_map(|s| s.keys().copied()).collect();
            all.sort_unstable();
            all
        });
        let mut keyed: Vec<(u64, &[Symbol])> = refs
            .into_iter()
            .filter_map(|r| Some((r, &*shards[shard_of(r)].get(&r)?.labels)))
            .collect();
        catalog.symbols.sort_by_label_sets(&mut keyed, |k| k.1);
        keyed.into_iter().map(|(r, _)| SeriesRef(r)).collect()
    }

    /// Newest sample with `mint_exclusive < t <= maxt`: the lookback window is open on the left.
    pub fn latest(&self, series: SeriesRef, mint_exclusive: i64, maxt: i64) -> Option<Sample> {
        let shard = self.shard(series).read();
        let s = shard.get(&series.0)?;
        let latest = s.samples.lock().latest(mint_exclusive, maxt);
        latest
    }

    /// All samples with `mint <= t <= maxt`, oldest first.
    pub fn samples(&self, series: SeriesRef, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        if let Some(s) = self.shard(series).read().get(&series.0) {
            s.samples.lock().samples_into(mint, maxt, &mut out);
        }
        out
    }

    /// Drops whole chunks whose samples are all older than `before_ms`, then removes the series
    /// left without samples (and series created but never appended to since the previous
    /// call). Returns how many series were removed.
    pub fn truncate_before(&self, before_ms: i64) -> usize {
        // Pass 1, concurrent with appenders: trim chunks, note the series that became empty.
        let mut candidates: Vec<u64> = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.read();
            candidates.extend(
                shard
                    .iter()
                    .filter(|(_, s)| s.samples.lock().truncate_before(before_ms))
                    .map(|(&r, _)| r),
            );
        }
        if candidates.is_empty() {
            return 0;
        }
        // Pass 2: remove those still empty; an append in between keeps a series alive.
        candidates.sort_unstable_by_key(|&r| (shard_of(r), r));
        let mut catalog = self.catalog.write();
        let mut removed: Vec<(u64, Arc<MemSeries>)> = Vec::new();
        for group in candidates.chunk_by(|a, b| shard_of(*a) == shard_of(*b)) {
            let mut shard = self.shards[shard_of(group[0])].write();
            for r in group {
                if shard
                    .get(r)
                    .is_some_and(|s| s.samples.lock().mark_removed_if_empty())
                {
                    removed.extend(shard.remove(r).map(|s| (*r, s)));
                }
            }
        }
        removed.sort_unstable_by_key(|(r, _)| *r);
        let refs: Vec<u64> = removed.iter().map(|(r, _)| *r).collect();
        let cat = &mut *catalog;
        cat.postings.remove(
            removed
                .iter()
                .flat_map(|(_, s)| s.labels.chunks_exact(2).map(|p| (p[0], p[1]))),
            &refs,
        );
        for (r, s) in &removed {
            let hash = self.hash_labels(
                s.labels
                    .chunks_exact(2)
                    .map(|p| (cat.symbols.resolve(p[0]), cat.symbols.resolve(p[1]))),
            );
            cat.by_hash.remove(hash, SeriesRef(*r));
        }
        for (_, s) in &removed {
            for &sym in s.labels.iter() {
                cat.symbols.release(sym);
            }
        }
        cat.len -= removed.len();
        removed.len()
    }

    pub fn num_series(&self) -> usize {
        self.catalog.read().len
    }

    /// From now on, keeps sealed chunks in files under `dir` (emptied first), read back into
    /// memory only when read, as Prometheus keeps full head chunks in `chunks_head/`.
    pub fn keep_sealed_chunks_in(&self, dir: &std::path::Path) -> std::io::Result<()> {
        self.pages.keep_in(dir)
    }

    /// Drops sealed chunks kept in files from resident memory again after readers (a WAL
    /// checkpoint reads every chunk) have faulted them in; they stay in the page cache.
    pub fn evict_sealed_chunks(&self) {
        self.pages.evict();
    }

    /// Bytes in the pages that hold sealed chunks ([`ChunkPages`]), in memory or in files.
    pub fn chunk_page_bytes(&self) -> usize {
        self.pages.mapped_bytes()
    }

    fn shard(&self, r: SeriesRef) -> &RwLock<Shard> {
        &self.shards[shard_of(r.0)]
    }

    /// The series with exactly these labels (sorted, no empty values), if it exists.
    pub fn find_series(&self, labels: &Labels) -> Option<SeriesRef> {
        let pairs = || labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
        let hash = self.hash_labels(pairs());
        self.find(&self.catalog.read(), hash, pairs())
    }

    /// The series with exactly `labels` among those with label-set hash `hash`.
    fn find<'a, I>(&self, catalog: &Catalog, hash: u64, labels: I) -> Option<SeriesRef>
    where
        I: ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
    {
        catalog.by_hash.candidates(hash).find(|&r| {
            self.shard(r).read().get(&r.0).is_some_and(|s| {
                s.labels.len() == 2 * labels.len()
                    && s.labels.chunks_exact(2).zip(labels.clone()).all(|(p, l)| {
                        catalog.symbols.resolve(p[0]) == l.0 && catalog.symbols.resolve(p[1]) == l.1
                    })
            })
        })
    }

    fn hash_labels<'a>(&self, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        let mut h = self.label_hasher.build_hasher();
        for (name, value) in pairs {
            // Length prefixes keep ("ab","c") and ("a","bc") apart.
            h.write_usize(name.len());
            h.write(name.as_bytes());
            h.write_usize(value.len());
            h.write(value.as_bytes());
        }
        h.finish()
    }
}

fn shard_of(r: u64) -> usize {
    (r % SHARDS as u64) as usize
}

pub(super) mod federation;

#[cfg(test)]
pub(crate) mod tests;
