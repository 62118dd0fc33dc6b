//! One Alertmanager's queue and sender: alerts wait here, bounded, until its task posts them
//! in batches.
//!
//! Each Alertmanager has its own queue, so one that hangs until its timeout, or is down,
//! delays and drops only its own alerts; the others of an HA pair go on receiving every alert
//! at once. A full queue drops its oldest alerts; a batch the Alertmanager does not accept
//! is dropped too (the next evaluation re-sends what still fires); both are counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

use wasmfed_rules::Notification;
use wasmfed_scrape::fetch::Fetcher;
use wasmfed_telemetry::NotificationMetrics;

use super::alertmanagers::AlertmanagerSet;
use super::payload;

/// Alerts per post, as Prometheus' `maxBatchSize`.
const MAX_BATCH: usize = 64;

pub(crate) struct AlertmanagerQueue {
    url: String,
    /// The set it belongs to now (its client and timeout), replaced by a reload.
    set: Mutex<Arc<AlertmanagerSet>>,
    queue: Mutex<VecDeque<Notification>>,
    capacity: usize,
    more: Notify,
    stopped: AtomicBool,
    metrics: NotificationMetrics,
}

impl AlertmanagerQueue {
    /// A queue for `url`, and its sender task (spawned on the current Tokio runtime).
    pub(crate) fn start(
        url: String,
        set: Arc<AlertmanagerSet>,
        capacity: usize,
        fetcher: Fetcher,
        metrics: NotificationMetrics,
    ) -> Arc<AlertmanagerQueue> {
        let queue = Arc::new(AlertmanagerQueue {
            url,
            set: Mutex::new(set),
            queue: Mutex::new(VecDeque::new()),
            capacity,
            more: Notify::new(),
            stopped: AtomicBool::new(false),
            metrics,
        });
        tokio::spawn(queue.clone().run(fetcher));
        queue
    }

    pub(crate) fn set_set(&self, set: Arc<AlertmanagerSet>) {
        *self.set.lock() = set;
    }

    /// Queues copies of `alerts`, dropping the oldest beyond the capacity; returns how many
    /// were dropped.
    pub(crate) fn push(&self, alerts: &[Notification]) -> usize {
        let skip = alerts.len().saturating_sub(self.capacity);
        let mut queue = self.queue.lock();
        let over = (queue.len() + alerts.len() - skip).saturating_sub(self.capacity);
        queue.drain(..over);
        queue.extend(alerts[skip..].iter().cloned());
        drop(queue);
        let added = alerts.len() - skip;
        self.metrics.queue_length.inc_by(added as i64 - over as i64);
        self.more.notify_one();
        skip + over
    }

    /// Ends the sender; what is still queued is dropped (and counted).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        let left = std::mem::take(&mut *self.queue.lock()).len();
        self.metrics.queue_length.dec_by(left as i64);
        self.metrics.dropped.inc_by(left as u64);
        self.more.notify_one();
    }

    fn next_batch(&self) -> Vec<Notification> {
        let mut queue = self.queue.lock();
        let n = queue.len().min(MAX_BATCH);
        let batch: Vec<Notification> = queue.drain(..n).collect();
        self.metrics.queue_length.dec_by(n as i64);
        batch
    }

    async fn run(self: Arc<Self>, fetcher: Fetcher) {
        let label = NotificationMetrics::alertmanager(&self.url);
        while !self.stopped.load(Ordering::Relaxed) {
            let batch = self.next_batch();
            if batch.is_empty() {
                self.more.notified().await;
                continue;
            }
            let set = self.set.lock().clone();
            let began = Instant::now();
            let posted = fetcher
                .post_json(
                    &set.client,
                    &self.url,
                    payload::encode(&batch),
                    set.config.timeout.as_std(),
                )
                .await;
            self.metrics
                .latency
                .get_or_create(&label)
                .observe(began.elapsed().as_secs_f64());
            self.metrics
                .sent
                .get_or_create(&label)
                .inc_by(batch.len() as u64);
            if let Err(e) = posted {
                tracing::error!(alertmanager = %self.url, count = batch.len(), "error sending alerts: {e}");
                self.metrics.errors.get_or_create(&label).inc();
                self.metrics.dropped.inc_by(batch.len() as u64);
            }
        }
    }
}
