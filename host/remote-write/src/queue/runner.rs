//! A queue at work: read a step of the log, hand its samples to the shards (waiting for room),
//! keep positions every second, resize the shards when the rates say so, and poll when caught
//! up — until the queue stops.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use wasmfed_storage::wal::WalHold;
use wasmfed_telemetry::{QueueLabels, Telemetry};

use super::{QueueSetup, Shards, KEEP_EVERY, POLL, STOP_WAIT};
use crate::reader::{LogReader, Routed, Step};
use crate::scaling::{desired_shards, Ewma, Rates};
use crate::shard::{Chunk, Pending, Sender};
use crate::state::{Cursor, Slot, StateFile};

/// How long a reshard waits for the shards to empty before giving up for this round.
const DRAIN_WAIT: Duration = Duration::from_secs(60);

/// What the reader has read, for the rates.
#[derive(Default)]
pub(super) struct Totals {
    samples: u64,
    bytes: u64,
    dropped: u64,
}

pub(super) struct Runner {
    pub setup: QueueSetup,
    pub labels: QueueLabels,
    pub telemetry: Arc<Telemetry>,
    pub stopped: watch::Receiver<bool>,
    pub shards: Shards,
    pub hold: WalHold,
    pub sender: Arc<Sender>,
    /// Away on a blocking thread during a step.
    pub reader: Option<LogReader>,
    /// Every record up to this one is in the shards.
    pub distributed: Option<Cursor>,
    pub totals: Totals,
    /// Samples logged, out, dropped, and seconds spent sending.
    pub rates: [Ewma; 4],
    pub newest_read_ms: i64,
    /// In a run of read failures (only the first is logged).
    pub failing: bool,
    pub last_keep: Instant,
    pub last_scale: Instant,
}

/// Whether the loop goes on.
enum Flow {
    Go,
    Stop,
}

impl Runner {
    pub async fn run(&mut self) {
        while !*self.stopped.borrow() {
            let step = self.step().await;
            self.account(&step);
            let caught_up = step.caught_up;
            if let Flow::Stop = self.distribute(step.records).await {
                return;
            }
            self.keep_if_due();
            if let Flow::Stop = self.scale_if_due().await {
                return;
            }
            if caught_up {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = self.stopped.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// One step of the reader, on a blocking thread.
    async fn step(&mut self) -> Step {
        let mut reader = self
            .reader
            .take()
            .expect("the reader is back after each step");
        let (reader, stepped) = tokio::task::spawn_blocking(move || {
            let out = reader.step();
            (reader, out)
        })
        .await
        .expect("the reader does not panic");
        self.reader = Some(reader);
        match stepped {
            Ok(step) => {
                self.failing = false;
                step
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::error!(url = %self.labels.url, error = %e, "remote write cannot go on reading; retrying");
                }
                Step {
                    caught_up: true,
                    ..Step::default()
                }
            }
        }
    }

    /// Counts what a step read and could not send.
    fn account(&mut self, step: &Step) {
        let (m, url) = (&self.telemetry.remote_storage, &self.labels.url);
        self.totals.samples += step.read;
        self.totals.bytes += step.bytes;
        self.totals.dropped += step.dropped + step.unknown;
        m.samples_in.inc_by(step.read);
        m.samples_dropped
            .get_or_create(&self.labels)
            .inc_by(step.dropped + step.unknown);
        if step.unknown > 0 {
            tracing::warn!(%url, samples = step.unknown, "remote write: samples of series the log never named; dropped");
        }
        for (from, to) in &step.lost {
            m.log_lost.get_or_create(&self.labels).inc();
            tracing::error!(%url, from_segment = from.segment, to_segment = to.segment, "remote write: WAL segments were deleted before they were sent (retention overrode the queue's hold); their samples are lost");
        }
        if let Some(t) = step.newest_ms {
            self.newest_read_ms = self.newest_read_ms.max(t);
            let secs = self.newest_read_ms as f64 / 1000.0;
            if secs > m.highest_timestamp.get() {
                m.highest_timestamp.set(secs);
            }
        }
    }

    /// Hands each record's samples to their shards, a record at a time, waiting for room.
    async fn distribute(&mut self, records: Vec<Routed>) -> Flow {
        for record in records {
            let mut by_shard: Vec<Vec<Pending>> =
                (0..self.shards.states.len()).map(|_| Vec::new()).collect();
            for (i, p) in record.samples {
                by_shard[i].push(p);
            }
            for (i, samples) in by_shard.into_iter().enumerate() {
                if samples.is_empty() {
                    continue;
                }
                // A record bigger than a shard's room takes all of it.
                let permits = samples.len().min(self.shards.capacity) as u32;
                let room = self.shards.room[i].clone();
                let taken = match room.try_acquire_many(permits) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        let m = &self.telemetry.remote_storage;
                        m.enqueue_retries.get_or_create(&self.labels).inc();
                        tokio::select! {
                            p = room.acquire_many(permits) => p.ok(),
                            _ = self.stopped.wait_for(|s| *s) => return Flow::Stop,
                        }
                    }
                };
                if let Some(p) = taken {
                    p.forget();
                }
                let shard = &self.shards.states[i];
                shard.queued.fetch_add(samples.len(), Ordering::AcqRel);
                let _ = self.shards.senders[i].send(Chunk { samples, permits });
                self.keep_if_due();
            }
            self.distributed = Some(Cursor::after(record.at));
        }
        Flow::Go
    }

    fn keep_if_due(&mut self) {
        if self.last_keep.elapsed() < KEEP_EVERY {
            return;
        }
        self.last_keep = Instant::now();
        self.keep();
    }

    /// Idle shards move up to what the reader has handed out; then the file is synced and
    /// the hold moved to the oldest position any shard still needs.
    fn keep(&self) {
        let state = &self.shards.state;
        let mut oldest = None;
        for s in &self.shards.states {
            let idle = s.queued.load(Ordering::Acquire) == 0;
            if let Some(d) = self.distributed.filter(|_| idle) {
                if s.slot.lock().acked < d {
                    s.advance(state, Some(d), None);
                }
            }
            let acked = s.slot.lock().acked.at.segment;
            oldest = Some(oldest.map_or(acked, |o: u64| o.min(acked)));
        }
        if let Err(e) = state.sync() {
            tracing::error!(error = %e, "syncing the remote-write position");
            return;
        }
        if let Some(o) = oldest {
            self.hold.set(o);
        }
        let pending = self.shards.queued() as i64;
        let m = &self.telemetry.remote_storage;
        m.samples_pending.get_or_create(&self.labels).set(pending);
    }

    /// Every `scale_every`: the rates, the shards wanted, and a reshard if it is worth one.
    async fn scale_if_due(&mut self) -> Flow {
        if self.last_scale.elapsed() < self.setup.scale_every {
            return Flow::Go;
        }
        let elapsed = self.last_scale.elapsed().as_secs_f64();
        self.last_scale = Instant::now();
        let sender = &self.sender;
        let [logged, out, dropped, busy] = &mut self.rates;
        logged.tick(self.setup.wal.samples_logged() as f64, elapsed);
        dropped.tick(self.totals.dropped as f64, elapsed);
        out.tick(sender.sent_samples.load(Ordering::Relaxed) as f64, elapsed);
        busy.tick(
            sender.send_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            elapsed,
        );
        let position = self
            .reader
            .as_ref()
            .expect("back after each step")
            .tail
            .position();
        let per_sample = match self.totals.samples {
            0 => 16.0,
            n => self.totals.bytes as f64 / n as f64,
        };
        let unread = self.setup.wal.bytes_after(position) as f64 / per_sample;
        let rates = Rates {
            samples_in: logged.rate(),
            samples_out: out.rate(),
            samples_dropped: dropped.rate(),
            send_seconds: busy.rate(),
            pending: unread + self.shards.queued() as f64,
        };
        let current = self.shards.states.len();
        let (min, max) = (self.setup.min_shards, self.setup.max_shards);
        let (desired, change) = desired_shards(&rates, current, min, max);
        let m = &self.telemetry.remote_storage;
        m.shards_desired.get_or_create(&self.labels).set(desired);
        match (change, self.distributed) {
            (Some(n), Some(at)) => self.reshard(n, at).await,
            _ => Flow::Go,
        }
    }

    /// Waits for every shard to empty, then starts `n` shards from `at`.
    async fn reshard(&mut self, n: usize, at: Cursor) -> Flow {
        let until = Instant::now() + DRAIN_WAIT;
        while self.shards.queued() > 0 {
            if Instant::now() >= until {
                // The receiver is too slow to empty the shards: not now.
                return Flow::Go;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = self.stopped.wait_for(|s| *s) => return Flow::Stop,
            }
        }
        let url = &self.labels.url;
        let current = self.shards.states.len();
        tracing::info!(%url, from = current, to = n, "remote write: resharding");
        let slots = vec![
            Slot {
                acked: at,
                sent: at
            };
            n
        ];
        let state = match StateFile::create(&self.setup.state_path, url, &slots) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(error = %e, "rewriting the remote-write position for new shards; keeping the shards");
                return Flow::Go;
            }
        };
        let fresh = Shards::start(&slots, self.setup.capacity, self.sender.clone(), state);
        let old = std::mem::replace(&mut self.shards, fresh);
        old.finish(STOP_WAIT).await;
        self.reader.as_mut().expect("present").shards = n;
        let m = &self.telemetry.remote_storage;
        m.shards.get_or_create(&self.labels).set(n as i64);
        Flow::Go
    }
}
