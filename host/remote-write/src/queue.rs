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
use crate::reader::LogReader;
use crate::scaling::Ewma;
use crate::shard::{self, Chunk, Sender, ShardState};
use crate::state::{Cursor, Slot, StateFile};

/// How often a caught-up reader looks at the log again.
const POLL: Duration = Duration::from_millis(100);
/// How often positions are synced and the hold moved.
const KEEP_EVERY: Duration = Duration::from_secs(1);
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
    mut setup: QueueSetup,
    kept: Option<Vec<Slot>>,
    hold: WalHold,
    labels: QueueLabels,
    telemetry: Arc<Telemetry>,
    stopped: watch::Receiver<bool>,
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
    let make_sender = std::mem::replace(&mut setup.sender, Box::new(|_| unreachable!("made once")));
    let sender = Arc::new(make_sender(stopped.clone()));
    let metadata = setup.metadata.clone().map(|(source, every, per)| {
        tokio::spawn(metadata::run(
            sender.clone(),
            source,
            every,
            per,
            stopped.clone(),
        ))
    });
    let shards = Shards::start(&slots, setup.capacity, sender.clone(), state);
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

    let mut runner = Runner {
        setup,
        labels,
        telemetry,
        stopped,
        shards,
        hold,
        sender,
        reader: Some(reader),
        distributed: None,
        totals: Totals::default(),
        rates: [
            Ewma::default(),
            Ewma::default(),
            Ewma::default(),
            Ewma::default(),
        ],
        newest_read_ms: i64::MIN,
        failing: false,
        last_keep: Instant::now(),
        last_scale: Instant::now(),
    };
    runner.run().await;
    let state = runner.shards.state.clone();
    runner.shards.finish(STOP_WAIT).await;
    if let Some(task) = metadata {
        let _ = tokio::time::timeout(STOP_WAIT, task).await;
    }
    if let Err(e) = state.sync() {
        tracing::error!(error = %e, "syncing the remote-write position at stop");
    }
}

mod runner;
use runner::{Runner, Totals};

#[cfg(test)]
#[path = "queue/tests.rs"]
mod tests;
