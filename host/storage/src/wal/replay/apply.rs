//! The sample half of a replay, on worker threads.
//!
//! Series records must be applied in log order under the head's catalog lock, so one thread
//! (the reader, see `replay`) creates every series. Samples of different series are
//! independent, and a series' samples stay in log order as long as one thread applies them
//! all: so each worker owns the series whose ref falls in its partition and applies, in log
//! order, the samples and chunks logged for them. Prometheus 2.x shards its WAL replay the
//! same way (`processWALSamples`, one worker per core, sharded by series ref).
//!
//! Every worker is handed every sample and chunk record (one shared copy) and decodes it,
//! skipping the others' samples: decoding a record is cheap next to appending its samples, and
//! it spares the reader splitting records. A logged ref that resolved to another series (a
//! label set logged under two refs, see `Head::restore_series`) is announced to every worker,
//! so all of them route that ref's samples to the worker owning the series.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

use super::super::record::{decode, Record};
use super::refs::RefTable;
use crate::chunk::ChunkIter;
use crate::index::IdHash;
use crate::{AppendError, Head, SeriesHandle, SeriesRef};

/// Jobs handed to a worker in one message; the channel holds a few messages per worker.
const JOBS_PER_BATCH: usize = 1024;
/// Record bytes that also close a batch early, so a queue of big records stays bounded.
const BYTES_PER_BATCH: usize = 1 << 20;
const BATCHES_QUEUED: usize = 4;

/// Where a record was read: reported with the damage if it does not decode.
#[derive(Clone, Copy, Debug)]
pub(super) struct RecordAt {
    /// Index into the replay's list of files read.
    pub file: usize,
    pub offset: u64,
    /// Read from the checkpoint: its chunks mark what later segments may repeat.
    pub in_checkpoint: bool,
}

enum Job {
    /// A logged ref and the series it now is (sent to the worker owning the series).
    Series(u64, SeriesHandle),
    /// A logged ref whose label set lives under another ref (sent to every worker).
    Alias(u64, u64),
    /// A samples or chunks record (sent to every worker).
    Record(Arc<[u8]>, RecordAt),
}

/// What the workers did, summed; `undecodable` holds each undecodable record once.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub samples: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub unknown_series: u64,
    /// The highest ref any sample or chunk named.
    pub max_ref: u64,
    pub undecodable: Vec<RecordAt>,
}

impl Applied {
    fn add(&mut self, other: Applied) {
        self.samples += other.samples;
        self.out_of_order += other.out_of_order;
        self.duplicates += other.duplicates;
        self.unknown_series += other.unknown_series;
        self.max_ref = self.max_ref.max(other.max_ref);
        self.undecodable.extend(other.undecodable);
    }
}

/// The reader's end: hands series and records to `n` workers running in `scope`.
pub(super) struct Workers<'scope> {
    queues: Vec<Queue>,
    threads: Vec<ScopedJoinHandle<'scope, Applied>>,
}

struct Queue {
    sender: SyncSender<Vec<Job>>,
    batch: Vec<Job>,
    bytes: usize,
}

impl Queue {
    fn push(&mut self, job: Job, bytes: usize) {
        self.batch.push(job);
        self.bytes += bytes;
        if self.batch.len() >= JOBS_PER_BATCH || self.bytes >= BYTES_PER_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(JOBS_PER_BATCH));
        self.bytes = 0;
        // A worker stops receiving only by panicking, which `finish` reports.
        let _ = self.sender.send(batch);
    }
}

impl<'scope> Workers<'scope> {
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        head: &'env Head,
        n: usize,
    ) -> Self {
        let n = n.max(1);
        let mut queues = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for index in 0..n {
            let (sender, jobs) = sync_channel(BATCHES_QUEUED);
            let worker = Worker {
                head,
                routes: Routes {
                    index,
                    of: n,
                    series: RefTable::new(n),
                    aliased: HashMap::default(),
                    aliases: HashMap::default(),
                },
                covered: RefTable::new(n),
                done: Applied::default(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("wal-replay-{index}"))
                .spawn_scoped(scope, move || worker.run(jobs))
                .expect("spawning a WAL replay thread");
            queues.push(Queue {
                sender,
                batch: Vec::with_capacity(JOBS_PER_BATCH),
                bytes: 0,
            });
            threads.push(thread);
        }
        Workers { queues, threads }
    }

    /// `logged` (a ref as the log names it) is the series `handle` from now on.
    pub(super) fn series(&mut self, logged: SeriesRef, handle: SeriesHandle) {
        let owner = partition(handle.series_ref().0, self.queues.len());
        if handle.series_ref() != logged {
            for q in &mut self.queues {
                q.push(Job::Alias(logged.0, handle.series_ref().0), 0);
            }
        }
        self.queues[owner].push(Job::Series(logged.0, handle), 0);
    }

    /// A samples or chunks record, applied by every worker to its own series.
    pub(super) fn record(&mut self, rec: &[u8], at: RecordAt) {
        let shared: Arc<[u8]> = rec.into();
        for q in &mut self.queues {
            q.push(Job::Record(shared.clone(), at), rec.len());
        }
    }

    /// Waits for every job handed over so far and sums what the workers did.
    pub(super) fn finish(mut self) -> Applied {
        for q in &mut self.queues {
            q.flush();
        }
        drop(self.queues);
        let mut all = Applied::default();
        for thread in self.threads {
            match thread.join() {
                Ok(done) => all.add(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    }
}

fn partition(series_ref: u64, of: usize) -> usize {
    (series_ref % of as u64) as usize
}

struct Worker<'h> {
    head: &'h Head,
    routes: Routes,
    /// Series ref → the newest timestamp the checkpoint restored for it.
    covered: RefTable<i64>,
    done: Applied,
}

/// Which series a logged ref is, and whether it is this worker's.
struct Routes {
    index: usize,
    of: usize,
    /// Logged ref → series, for the series this worker owns logged under a ref of its
    /// partition (all but aliases)...
    series: RefTable<SeriesHandle>,
    /// ... and under another worker's (aliases of this worker's series).
    aliased: HashMap<u64, SeriesHandle, IdHash>,
    /// Logged ref → the ref of the series it resolved to, when they differ (every alias).
    aliases: HashMap<u64, u64, IdHash>,
}

impl Routes {
    fn in_partition(&self, r: u64) -> bool {
        partition(r, self.of) == self.index
    }

    /// Whether samples logged under `logged` are this worker's to apply.
    fn owns(&self, logged: u64) -> bool {
        let r = match self.aliases.is_empty() {
            true => logged,
            false => self.aliases.get(&logged).copied().unwrap_or(logged),
        };
        self.in_partition(r)
    }

    /// The series logged under `logged`, which this worker owns.
    fn handle(&self, logged: u64) -> Option<&SeriesHandle> {
        match self.in_partition(logged) {
            true => self.series.get(logged),
            false => self.aliased.get(&logged),
        }
    }

    fn insert(&mut self, logged: u64, handle: SeriesHandle) {
        match self.in_partition(logged) {
            true => self.series.insert(logged, handle),
            false => {
                self.aliased.insert(logged, handle);
            }
        }
    }
}

impl Worker<'_> {
    fn run(mut self, jobs: Receiver<Vec<Job>>) -> Applied {
        for batch in jobs {
            for job in batch {
                match job {
                    Job::Series(logged, handle) => self.routes.insert(logged, handle),
                    Job::Alias(logged, to) => {
                        self.routes.aliases.insert(logged, to);
                    }
                    Job::Record(rec, at) => self.record(&rec, at),
                }
            }
        }
        self.done
    }

    fn record(&mut self, rec: &[u8], at: RecordAt) {
        let (routes, done) = (&self.routes, &mut self.done);
        match decode(rec) {
            Ok(Record::Samples(samples)) => {
                for s in samples {
                    if !routes.owns(s.series.0) {
                        continue;
                    }
                    done.max_ref = done.max_ref.max(s.series.0);
                    let Some(handle) = routes.handle(s.series.0) else {
                        done.unknown_series += 1;
                        continue;
                    };
                    let key = handle.series_ref().0;
                    if self.covered.get(key).is_some_and(|&until| s.t <= until) {
                        continue;
                    }
                    append(self.head, handle, s.t, s.v, done);
                }
            }
            Ok(Record::Chunks(chunks)) => {
                for (r, chunks) in chunks {
                    if !routes.owns(r.0) {
                        continue;
                    }
                    done.max_ref = done.max_ref.max(r.0);
                    let Some(handle) = routes.handle(r.0) else {
                        done.unknown_series += chunks
                            .iter()
                            .map(|c| ChunkIter::new(c).count() as u64)
                            .sum::<u64>();
                        continue;
                    };
                    let mut newest = None;
                    for chunk in chunks {
                        for (t, v) in ChunkIter::new(chunk) {
                            if append(self.head, handle, t, v, done) {
                                newest = Some(t);
                            }
                        }
                    }
                    if let (true, Some(t)) = (at.in_checkpoint, newest) {
                        self.covered.insert(handle.series_ref().0, t);
                    }
                }
            }
            // The reader applies series records itself and never sends one.
            Ok(Record::Series(_)) => {}
            Err(_) => {
                if routes.index == 0 {
                    done.undecodable.push(at);
                }
            }
        }
    }
}

/// Appends one replayed sample, counting it by outcome. True if it was stored.
fn append(head: &Head, handle: &SeriesHandle, t: i64, v: f64, done: &mut Applied) -> bool {
    match head.restore_sample(handle, t, v) {
        Ok(()) => {
            done.samples += 1;
            return true;
        }
        Err(AppendError::OutOfOrder { .. }) => done.out_of_order += 1,
        Err(AppendError::DuplicateTimestamp { .. }) => done.duplicates += 1,
        Err(AppendError::UnknownSeries) => done.unknown_series += 1,
        // Logged before its range was persisted: the block holds it, the head starts after.
        Err(AppendError::OutOfBounds { .. }) => {}
    }
    false
}
