//! One destination's queue: a reader following the log, shards sending, and a keeper that
//! every second writes where each shard stands, moves the hold on the log, and every ten
//! seconds sizes the shards (see `scaling`).
//!
//! The log is the queue's buffer: when the shards are full (the receiver slow or down), the
//! reader waits and the log keeps the rest, held from deletion. Resizing waits for every
//! shard to drain, then starts the new shards from where the reader is, so a series never has
//! samples in two shards at once and the positions on disk stay exact.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use wasmfed_model::clock::unix_millis;
use wasmfed_storage::wal::{TailStart, Wal, WalHold};
use wasmfed_telemetry::{QueueLabels, Telemetry};

use crate::metadata::{self, MetadataSource};
use crate::reader::{LogReader, Step};
use crate::scaling::{desired_shards, Ewma, Rates};
use crate::shard::{self, Chunk, Pending, Sender, ShardState};
use crate::state::{Cursor, Slot, StateFile};

/// How often a caught-up reader looks at the log again.
const POLL: Duration = Duration::from_millis(100);
/// How often positions are synced and the hold moved.
const KEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a reshard waits for the shards to empty before giving up for this round.
const DRAIN_WAIT: Duration = Duration::from_secs(60);
/// How long a stopping queue waits for its shards' requests under way.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// What a queue is given to run.
pub(crate) struct QueueSetup {
    pub wal: Arc<Wal>,
    pub state_path: PathBuf,
    pub sender: SenderSetup,
    pub min_shards: usize,
    pub max_shards: usize,
    pub capacity: usize,
    pub transform: Arc<crate::series::Transform>,
    /// Metadata to send: where from, how often, how many entries per request.
    pub metadata: Option<(MetadataSource, Duration, usize)>,
    /// How often the shard count is reconsidered (Prometheus: 10 s).
    pub scale_every: Duration,
}

/// The parts of a [`Sender`] fixed by the configuration.
pub(crate) type SenderSetup = Box<dyn FnOnce(watch::Receiver<bool>) -> Sender + Send>;

pub(crate) struct Queue {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Queue {
    /// Starts the queue. Its hold on the log is in place when this returns (from its kept
    /// position, or on everything until it knows where it starts), so a checkpoint taken
    /// right after deletes nothing it needs.
    pub fn start(setup: QueueSetup, labels: QueueLabels, telemetry: Arc<Telemetry>) -> Queue {
        let kept = match StateFile::load(&setup.state_path, &labels.url) {
            Ok(kept) => kept,
            Err(e) => {
                tracing::error!(error = %e, file = %setup.state_path.display(), "reading the remote-write position; starting from now");
                None
            }
        };
        let from = kept.as_ref().map_or(0, |slots| {
            slots.iter().map(|s| s.acked.at.segment).min().unwrap_or(0)
        });
        let hold = setup.wal.hold(from);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(setup, kept, hold, labels, telemetry, stopped));
        Queue { stop, task }
    }

    /// Stops reading and sending; returns once every shard has stopped and its position is
    /// written.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct Shards {
    states: Vec<Arc<ShardState>>,
    senders: Vec<mpsc::UnboundedSender<Chunk>>,
    /// Each shard's room, in samples (`capacity`).
    room: Vec<Arc<Semaphore>>,
    capacity: usize,
    tasks: Vec<JoinHandle<()>>,
    sender: Arc<Sender>,
    /// Where the shards write their positions.
    state: Arc<StateFile>,
}

impl Shards {
    fn start(
        slots: &[Slot],
        capacity: usize,
        sender: Arc<Sender>,
        state: Arc<StateFile>,
    ) -> Shards {
        let mut shards = Shards {
            states: Vec::new(),
            senders: Vec::new(),
            room: Vec::new(),
            capacity: capacity.max(1),
            tasks: Vec::new(),
            sender: sender.clone(),
            state: state.clone(),
        };
        for (index, slot) in slots.iter().enumerate() {
            let state = Arc::new(ShardState {
                index,
                slot: Mutex::new(*slot),
                queued: Default::default(),
            });
            let (tx, rx) = mpsc::unbounded_channel();
            let room = Arc::new(Semaphore::new(shards.capacity));
            let task = shard::run(
                state.clone(),
                rx,
                room.clone(),
                sender.clone(),
                shards.state.clone(),
            );
            shards.tasks.push(tokio::spawn(task));
            shards.states.push(state);
            shards.senders.push(tx);
            shards.room.push(room);
        }
        shards
    }

    fn queued(&self) -> usize {
        self.states
            .iter()
            .map(|s| s.queued.load(Ordering::Acquire))
            .sum()
    }

    /// Closes the shards' inputs and waits for their tasks (at most `wait`).
    async fn finish(self, wait: Duration) {
        drop(self.senders);
        let all = futures_join(self.tasks);
        if tokio::time::timeout(wait, all).await.is_err() {
            tracing::warn!(url = %self.sender.url, "remote-write shards still sending at stop; their samples are sent again after the restart");
        }
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn run(
    setup: QueueSetup,
    kept: Option<Vec<Slot>>,
    hold: WalHold,
    labels: QueueLabels,
    telemetry: Arc<Telemetry>,
    mut stopped: watch::Receiver<bool>,
) {
    let m = &telemetry.remote_storage;
    let url = labels.url.clone();
    // A new queue sends what is stored from its start on. The reader skips older samples
    // itself (the tail delivers them all), so a record's samples are numbered the same way
    // whether a queue starts anew or resumes (see `state`).
    let (start, slots, resume, since) = match kept {
        Some(slots) => {
            let from = slots.iter().map(|s| s.acked.at).min().unwrap_or_default();
            tracing::info!(%url, segment = from.segment, offset = from.offset, shards = slots.len(), "remote write resumes where the receiver last acknowledged");
            (TailStart::At(from), slots.clone(), Some(slots), i64::MIN)
        }
        None => {
            let now = unix_millis(SystemTime::now());
            let n = setup.min_shards.max(1);
            let slots = vec![Slot::default(); n];
            (TailStart::Since(i64::MIN), slots, None, now)
        }
    };
    // Find where the tail begins before holding: a new queue holds from there.
    let mut tail = setup.wal.tail(start);
    let (tail, begin) = tokio::task::spawn_blocking(move || {
        let begin = tail.read(0).map(|r| r.items);
        (tail, begin)
    })
    .await
    .expect("opening a tail does not panic");
    let first = tail.position();
    let slots: Vec<Slot> = match resume {
        Some(_) => slots,
        None => vec![
            Slot {
                acked: Cursor { at: first, skip: 0 },
                sent: Cursor { at: first, skip: 0 }
            };
            slots.len()
        ],
    };
    hold.set(
        slots
            .iter()
            .map(|s| s.acked.at.segment)
            .min()
            .unwrap_or(first.segment),
    );
    let state = match StateFile::create(&setup.state_path, &url, &slots) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, file = %setup.state_path.display(), "remote write cannot keep its position; not sending");
            return;
        }
    };
    let mut reader = LogReader::new(tail, setup.transform.clone(), slots.len(), resume, since);
    match begin {
        Ok(items) => reader.prime(items),
        Err(e) => {
            tracing::error!(%url, error = %e, "reading the WAL's checkpoint for remote write")
        }
    }
    let sender = Arc::new((setup.sender)(stopped.clone()));
    let metadata = setup.metadata.clone().map(|(source, every, per)| {
        tokio::spawn(metadata::run(
            sender.clone(),
            source,
            every,
            per,
            stopped.clone(),
        ))
    });
    let mut shards = Shards::start(&slots, setup.capacity, sender.clone(), state);
    m.shards
        .get_or_create(&labels)
        .set(shards.states.len() as i64);
    m.shards_min
        .get_or_create(&labels)
        .set(setup.min_shards as i64);
    m.shards_max
        .get_or_create(&labels)
        .set(setup.max_shards as i64);
    m.shard_capacity
        .get_or_create(&labels)
        .set(setup.capacity as i64);
    m.max_samples_per_send
        .get_or_create(&labels)
        .set(sender.max_samples as i64);

    let mut distributed: Option<Cursor> = None;
    let mut last_keep = Instant::now();
    let mut last_scale = Instant::now();
    let (mut rate_in, mut rate_out, mut rate_dropped, mut rate_busy) = (
        Ewma::default(),
        Ewma::default(),
        Ewma::default(),
        Ewma::default(),
    );
    let (mut total_in, mut total_bytes, mut total_dropped) = (0u64, 0u64, 0u64);
    let mut newest_read_ms = i64::MIN;
    let mut failing_since: Option<Instant> = None;
    let mut reader = Some(reader);
    loop {
        if *stopped.borrow() {
            break;
        }
        let mut r = reader.take().expect("reader is back after each step");
        let (r, stepped) = tokio::task::spawn_blocking(move || {
            let out = r.step();
            (r, out)
        })
        .await
        .expect("the reader does not panic");
        reader = Some(r);
        let step = match stepped {
            Ok(step) => {
                failing_since = None;
                step
            }
            Err(e) => {
                if failing_since.is_none() {
                    tracing::error!(%url, error = %e, "remote write cannot go on reading; retrying");
                    failing_since = Some(Instant::now());
                }
                Step {
                    caught_up: true,
                    ..Step::default()
                }
            }
        };
        total_in += step.read;
        total_bytes += step.bytes;
        total_dropped += step.dropped + step.unknown;
        m.samples_in.inc_by(step.read);
        m.samples_dropped
            .get_or_create(&labels)
            .inc_by(step.dropped + step.unknown);
        if step.unknown > 0 {
            tracing::warn!(%url, samples = step.unknown, "remote write: samples of series the log never named; dropped");
        }
        for (from, to) in &step.lost {
            m.log_lost.get_or_create(&labels).inc();
            tracing::error!(%url, from_segment = from.segment, to_segment = to.segment, "remote write: WAL segments were deleted before they were sent (retention overrode the queue's hold); their samples are lost");
        }
        if let Some(t) = step.newest_ms {
            newest_read_ms = newest_read_ms.max(t);
            let secs = newest_read_ms as f64 / 1000.0;
            if secs > m.highest_timestamp.get() {
                m.highest_timestamp.set(secs);
            }
        }
        let caught_up = step.caught_up;
        'records: for record in step.records {
            let mut by_shard: Vec<Vec<Pending>> =
                (0..shards.states.len()).map(|_| Vec::new()).collect();
            for (i, p) in record.samples {
                by_shard[i].push(p);
            }
            for (i, samples) in by_shard
                .into_iter()
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
            {
                // A record bigger than a shard's room takes all of it.
                let permits = samples.len().min(shards.capacity) as u32;
                let room = &shards.room[i];
                let taken = match room.try_acquire_many(permits) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        m.enqueue_retries.get_or_create(&labels).inc();
                        tokio::select! {
                            p = room.acquire_many(permits) => p.ok(),
                            _ = stopped.wait_for(|s| *s) => break 'records,
                        }
                    }
                };
                if let Some(p) = taken {
                    p.forget();
                }
                shards.states[i]
                    .queued
                    .fetch_add(samples.len(), Ordering::AcqRel);
                let _ = shards.senders[i].send(Chunk { samples, permits });
                if last_keep.elapsed() >= KEEP_EVERY {
                    keep(&shards, distributed, &hold, &labels, &telemetry);
                    last_keep = Instant::now();
                }
            }
            distributed = Some(Cursor::after(record.at));
        }
        if last_keep.elapsed() >= KEEP_EVERY {
            keep(&shards, distributed, &hold, &labels, &telemetry);
            last_keep = Instant::now();
        }
        if last_scale.elapsed() >= setup.scale_every {
            let elapsed = last_scale.elapsed().as_secs_f64();
            last_scale = Instant::now();
            rate_in.tick(setup.wal.samples_logged() as f64, elapsed);
            rate_dropped.tick(total_dropped as f64, elapsed);
            rate_out.tick(sender.sent_samples.load(Ordering::Relaxed) as f64, elapsed);
            rate_busy.tick(
                sender.send_nanos.load(Ordering::Relaxed) as f64 / 1e9,
                elapsed,
            );
            let position = reader
                .as_ref()
                .expect("back after each step")
                .tail
                .position();
            let per_sample = match total_in {
                0 => 16.0,
                n => total_bytes as f64 / n as f64,
            };
            let unread = setup.wal.bytes_after(position) as f64 / per_sample;
            let rates = Rates {
                samples_in: rate_in.rate(),
                samples_out: rate_out.rate(),
                samples_dropped: rate_dropped.rate(),
                send_seconds: rate_busy.rate(),
                pending: unread + shards.queued() as f64,
            };
            let current = shards.states.len();
            let (desired, change) =
                desired_shards(&rates, current, setup.min_shards, setup.max_shards);
            m.shards_desired.get_or_create(&labels).set(desired);
            if let Some(n) = change {
                let Some(at) = distributed else { continue };
                match drain(&shards, &mut stopped).await {
                    Drained::Empty => {}
                    Drained::Stopped => break,
                    // The receiver is too slow to empty the shards: not now.
                    Drained::TimedOut => continue,
                }
                tracing::info!(%url, from = current, to = n, "remote write: resharding");
                let slots = vec![
                    Slot {
                        acked: at,
                        sent: at
                    };
                    n
                ];
                let state = match StateFile::create(&setup.state_path, &url, &slots) {
                    Ok(s) => Arc::new(s),
                    Err(e) => {
                        tracing::error!(error = %e, "rewriting the remote-write position for new shards; keeping the shards");
                        continue;
                    }
                };
                let old = std::mem::replace(
                    &mut shards,
                    Shards::start(&slots, setup.capacity, sender.clone(), state),
                );
                old.finish(STOP_WAIT).await;
                reader.as_mut().expect("present").shards = n;
                m.shards.get_or_create(&labels).set(n as i64);
            }
        }
        if caught_up {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
        }
    }
    let state = shards.state.clone();
    shards.finish(STOP_WAIT).await;
    if let Some(task) = metadata {
        let _ = tokio::time::timeout(STOP_WAIT, task).await;
    }
    if let Err(e) = state.sync() {
        tracing::error!(error = %e, "syncing the remote-write position at stop");
    }
    drop(hold);
}

/// Idle shards move up to what the reader has handed out; then the file is synced and the
/// hold moved to the oldest position any shard still needs.
fn keep(
    shards: &Shards,
    distributed: Option<Cursor>,
    hold: &WalHold,
    labels: &QueueLabels,
    telemetry: &Telemetry,
) {
    let state = &shards.state;
    let mut oldest = None;
    for s in &shards.states {
        if let Some(d) = distributed.filter(|_| s.queued.load(Ordering::Acquire) == 0) {
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
        hold.set(o);
    }
    telemetry
        .remote_storage
        .samples_pending
        .get_or_create(labels)
        .set(shards.queued() as i64);
}

/// Waits until every shard has sent all it was given; false if the queue stops meanwhile.
enum Drained {
    Empty,
    Stopped,
    TimedOut,
}

/// Waits until every shard has sent all it was given, for at most [`DRAIN_WAIT`] (as
/// Prometheus gives a reshard its flush deadline).
async fn drain(shards: &Shards, stopped: &mut watch::Receiver<bool>) -> Drained {
    let until = Instant::now() + DRAIN_WAIT;
    while shards.queued() > 0 {
        if Instant::now() >= until {
            return Drained::TimedOut;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stopped.wait_for(|s| *s) => return Drained::Stopped,
        }
    }
    Drained::Empty
}

#[cfg(test)]
#[path = "queue/tests.rs"]
mod tests;
