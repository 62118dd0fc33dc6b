//! One shard: takes its series' samples in log order, cuts them into requests of up to
//! `max_samples_per_send` (or whatever arrived within `batch_send_deadline`), sends each until
//! the receiver takes it, and records how far it got (see `state`).
//!
//! As in Prometheus, a 5xx, a transport error or a timeout is retried, after a backoff doubling
//! from `min_backoff` to `max_backoff`, for as long as it takes; so is a 429 when
//! `retry_on_http_429` says so. Any other answer outside 2xx is final: the request's samples
//! are dropped and counted as failed, and the receiver's message is logged. While one request
//! is retried the shard sends nothing else, so its series stay in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch, Semaphore};

use wasmfed_scrape::fetch::{Fetcher, HttpClient};
use wasmfed_storage::wal::Position;
use wasmfed_telemetry::{QueueLabels, Telemetry};

use crate::encode::{self, Outgoing};
use crate::series::SendSeries;
use crate::state::{Cursor, Slot, StateFile};

/// A sample on its way to the receiver.
#[derive(Debug)]
pub(crate) struct Pending {
    pub series: Arc<SendSeries>,
    pub t: i64,
    pub v: f64,
    /// The record it was read from, and its number among this shard's samples there.
    pub at: Position,
    pub idx: u32,
    /// The receiver may have it already (in flight when the node last stopped).
    pub resent: bool,
}

impl Pending {
    fn done(&self) -> Cursor {
        Cursor {
            at: self.at,
            skip: self.idx + 1,
        }
    }
}

/// What a queue and one of its shards share.
pub(crate) struct ShardState {
    pub index: usize,
    pub slot: Mutex<Slot>,
    /// Samples handed to the shard and not yet done with (sent or given up).
    pub queued: AtomicUsize,
}

impl ShardState {
    /// Moves the slot forward (never back) and writes it.
    pub fn advance(&self, state: &StateFile, acked: Option<Cursor>, sent: Option<Cursor>) {
        let mut slot = self.slot.lock();
        if let Some(a) = acked {
            slot.acked = slot.acked.max(a);
        }
        slot.sent = slot.sent.max(sent.unwrap_or_default()).max(slot.acked);
        if let Err(e) = state.write_slot(self.index, &slot) {
            tracing::error!(error = %e, file = %state.path().display(), "writing a remote-write position");
        }
    }
}

/// Where and how every shard of a queue sends.
pub(crate) struct Sender {
    pub fetcher: Fetcher,
    pub client: HttpClient,
    pub url: String,
    /// Header lines: the destination's `headers`, `X-Scope-OrgID` for a tenant.
    pub headers: String,
    pub timeout: Duration,
    pub max_samples: usize,
    pub batch_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub retry_on_429: bool,
    pub telemetry: Arc<Telemetry>,
    pub labels: QueueLabels,
    /// Set when the queue stops: a request being retried is abandoned (it is read again
    /// after the restart), nothing new is sent.
    pub stopping: watch::Receiver<bool>,
    /// For shard scaling: samples sent and nanoseconds spent sending, over all shards.
    pub sent_samples: AtomicU64,
    pub send_nanos: AtomicU64,
    pub highest_sent_ms: AtomicI64,
}

/// How a request ended.
pub(crate) enum Sent {
    Accepted,
    /// Refused for good (the receiver's status and message).
    Refused(u16, String),
    /// The queue is stopping.
    Abandoned,
}

/// Samples of one record for one shard, and the room they took in it.
pub(crate) struct Chunk {
    pub samples: Vec<Pending>,
    pub permits: u32,
}

/// What a shard holds: samples not yet in a request, and the room each received chunk took
/// (given back when its last sample is done).
#[derive(Default)]
struct Held {
    samples: VecDeque<Pending>,
    chunks: VecDeque<(usize, u32)>,
}

impl Held {
    fn take(&mut self, chunk: Chunk) {
        self.chunks.push_back((chunk.samples.len(), chunk.permits));
        self.samples.extend(chunk.samples);
    }

    /// Up to `max` samples from the front, stopping where the `resent` flag changes.
    fn batch(&mut self, max: usize) -> Vec<Pending> {
        let resent = self.samples.front().is_some_and(|p| p.resent);
        let n = self
            .samples
            .iter()
            .take(max)
            .take_while(|p| p.resent == resent)
            .count();
        self.samples.drain(..n).collect()
    }

    /// `n` samples from the front are done: the room of the chunks they finish.
    fn done(&mut self, mut n: usize) -> usize {
        let mut room = 0;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let used = front.0.min(n);
            front.0 -= used;
            n -= used;
            if front.0 == 0 {
                room += front.1 as usize;
                self.chunks.pop_front();
            }
        }
        room
    }
}

pub(crate) async fn run(
    shard: Arc<ShardState>,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    room: Arc<Semaphore>,
    sender: Arc<Sender>,
    state: Arc<StateFile>,
) {
    let mut held = Held::default();
    loop {
        if held.samples.is_empty() {
            match rx.recv().await {
                Some(chunk) => held.take(chunk),
                None => return,
            }
        }
        // Wait for a full request up to the deadline, taking what arrives meanwhile.
        let deadline = tokio::time::Instant::now() + sender.batch_deadline;
        while held.samples.len() < sender.max_samples {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(chunk)) => held.take(chunk),
                Ok(None) | Err(_) => break,
            }
        }
        if *sender.stopping.borrow() {
            return;
        }
        let batch = held.batch(sender.max_samples);
        let resent = batch.first().is_some_and(|p| p.resent);
        let last = batch.last().expect("never empty").done();
        shard.advance(&state, None, Some(last));
        match send(&sender, &batch).await {
            Sent::Abandoned => return,
            Sent::Accepted => sender.accepted(&batch, resent),
            Sent::Refused(status, message) => sender.refused(&batch, resent, status, &message),
        }
        shard.advance(&state, Some(last), None);
        shard.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        room.add_permits(held.done(batch.len()));
    }
}

impl Sender {
    fn accepted(&self, batch: &[Pending], resent: bool) {
        let m = &self.telemetry.remote_storage;
        m.samples
            .get_or_create(&self.labels)
            .inc_by(batch.len() as u64);
        if resent {
            m.samples_resent
                .get_or_create(&self.labels)
                .inc_by(batch.len() as u64);
        }
        let newest = batch.iter().map(|p| p.t).max().unwrap_or(i64::MIN);
        let before = self.highest_sent_ms.fetch_max(newest, Ordering::Relaxed);
        if newest > before {
            m.highest_sent_timestamp
                .get_or_create(&self.labels)
                .set(newest as f64 / 1000.0);
        }
        self.sent_samples
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    fn refused(&self, batch: &[Pending], resent: bool, status: u16, message: &str) {
        let m = &self.telemetry.remote_storage;
        if resent {
            // Most likely samples the receiver has: it refuses them as out of order.
            m.samples_resent
                .get_or_create(&self.labels)
                .inc_by(batch.len() as u64);
            tracing::info!(url = %self.url, status, samples = batch.len(), %message, "remote write: samples sent again after a restart were refused (the receiver most likely has them)");
        } else {
            m.samples_failed
                .get_or_create(&self.labels)
                .inc_by(batch.len() as u64);
            tracing::error!(url = %self.url, status, samples = batch.len(), %message, "remote write: the receiver refused samples; they are dropped (not retried)");
        }
    }
}

/// What a request carries, for the counters its sending moves.
#[derive(Clone, Copy)]
pub(crate) enum Carrying {
    Samples(usize),
    Metadata(usize),
}

/// Sends one request until it is accepted or refused for good.
async fn send(sender: &Sender, batch: &[Pending]) -> Sent {
    let outgoing: Vec<Outgoing<'_>> = batch
        .iter()
        .map(|p| Outgoing {
            series: &p.series,
            t: p.t,
            v: p.v,
        })
        .collect();
    let body = encode::write_request(&outgoing);
    post(sender, body.into(), Carrying::Samples(batch.len())).await
}

/// POSTs `body` until the receiver takes it or refuses it for good, or the queue stops.
pub(crate) async fn post(sender: &Sender, body: Bytes, carrying: Carrying) -> Sent {
    let m = &sender.telemetry.remote_storage;
    let (retried, bytes, n) = match carrying {
        Carrying::Samples(n) => (&m.samples_retried, &m.bytes, n),
        Carrying::Metadata(n) => (&m.metadata_retried, &m.metadata_bytes, n),
    };
    let mut backoff = sender.min_backoff;
    let mut stopping = sender.stopping.clone();
    loop {
        let started = Instant::now();
        let answer = sender
            .fetcher
            .remote_write(
                &sender.client,
                &sender.url,
                body.clone(),
                sender.headers.clone(),
                sender.timeout,
            )
            .await;
        let took = started.elapsed();
        if let Carrying::Samples(_) = carrying {
            sender
                .send_nanos
                .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
            m.sent_batch_duration
                .get_or_create(&sender.labels)
                .observe(took.as_secs_f64());
        }
        bytes
            .get_or_create(&sender.labels)
            .inc_by(body.len() as u64);
        let error = match answer {
            Ok(a) if (200..300).contains(&a.status) => return Sent::Accepted,
            Ok(a) if a.status >= 500 || (a.status == 429 && sender.retry_on_429) => {
                format!("HTTP {}: {}", a.status, message(&a.body))
            }
            Ok(a) => return Sent::Refused(a.status, message(&a.body)),
            Err(e) => e.to_string(),
        };
        retried.get_or_create(&sender.labels).inc_by(n as u64);
        tracing::warn!(url = %sender.url, %error, retry_in = ?backoff, "remote write failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopping.wait_for(|s| *s) => return Sent::Abandoned,
        }
        backoff = (backoff * 2).min(sender.max_backoff.max(sender.min_backoff));
    }
}

/// The start of a receiver's answer, as text.
fn message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    text.trim().to_owned()
}
