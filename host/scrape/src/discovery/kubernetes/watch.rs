//! Following the API server: each [`Feed`] LISTed, then WATCHed from the LIST's
//! `resourceVersion` (`?watch=1&allowWatchBookmarks=true`), as client-go's reflector behind
//! Prometheus' informers does, so a change reaches the targets as soon as the API server
//! sends it instead of at the next poll.
//!
//! A WATCH is a chunked stream of JSON events: ADDED and MODIFIED objects are stored, DELETED
//! ones removed, BOOKMARKs only move the version on. A watch the server ends (its
//! `timeoutSeconds` ran out) is opened again from the last version seen; a version the server
//! no longer has (410 Gone, as the answer or as an ERROR event) makes the feed LIST again.
//! Failures are logged and counted and retried with a growing backoff; the objects already
//! found stay meanwhile, as Prometheus keeps its targets.
//!
//! Every change wakes one builder that rebuilds the role's groups from all objects once every
//! feed has LISTed, at most every second; the job takes them at most every 5 s (the scrape
//! manager's coalescing, as Prometheus' discovery manager sends its updates), so a burst of
//! events is one update.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Notify;
use wasmfed_config::KubernetesSdConfig;

use super::store::{self, Feed, Kind, Objects};
use super::Api;
use crate::discovery::polled::{Counters, Publisher};
use crate::fetch::Fetcher;

/// How long the API server keeps a watch open (client-go picks 5 to 10 minutes).
pub(super) const WATCH_SECONDS: u64 = 300;
/// A watch that sends nothing (not even a bookmark) this long is taken as dead.
const WATCH_IDLE: Duration = Duration::from_secs(WATCH_SECONDS + 60);
/// The first and the longest wait before retrying a failed LIST or WATCH (client-go's
/// reflector backs off from 800 ms to 30 s).
const BACKOFF_FIRST: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Groups are rebuilt at most this often (the job takes them at most every 5 s anyway).
const REBUILD_EVERY: Duration = Duration::from_secs(1);

/// What the feeds of one role share.
struct Shared {
    state: Mutex<State>,
    /// Woken on every change; one permit stands for any number of changes.
    changed: Notify,
}

struct State {
    objects: Objects,
    /// Which feeds have LISTed at least once.
    listed: Vec<bool>,
}

/// Follows every feed of `config`'s role and publishes its groups as they change, until
/// dropped.
pub(super) async fn run(
    config: Arc<KubernetesSdConfig>,
    api: Arc<Api>,
    fetcher: Fetcher,
    counters: Counters,
    publisher: Publisher,
) {
    let feeds = store::feeds(&config, &api.namespaces);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            objects: Objects::default(),
            listed: vec![false; feeds.len()],
        }),
        changed: Notify::new(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (index, feed) in feeds.into_iter().enumerate() {
        let follower = Follower {
            index,
            feed,
            api: api.clone(),
            fetcher: fetcher.clone(),
            counters: counters.clone(),
            shared: shared.clone(),
        };
        tasks.spawn(follower.run());
    }
    loop {
        shared.changed.notified().await;
        let groups = {
            let state = shared.state.lock();
            if !state.listed.iter().all(|&listed| listed) {
                continue;
            }
            store::build(&config, &state.objects)
        };
        publisher.publish(groups);
        // The changes of the next moment make one rebuild: a busy cluster sends many.
        tokio::time::sleep(REBUILD_EVERY).await;
    }
}

/// How a watch ended without failing.
enum Ended {
    /// The server closed it; `events` arrived before.
    Closed { events: usize },
    /// The version watched from is gone: LIST again.
    Gone,
}

/// A watch event (`metav1.WatchEvent`).
#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: Value,
}

/// The `Status` an ERROR event carries.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    code: u16,
    message: String,
}

/// One feed's LIST and WATCH loop.
struct Follower {
    index: usize,
    feed: Feed,
    api: Arc<Api>,
    fetcher: Fetcher,
    counters: Counters,
    shared: Arc<Shared>,
}

impl Follower {
    async fn run(self) {
        let mut backoff = BACKOFF_FIRST;
        let mut version: Option<String> = None;
        loop {
            let mut at = match version.take() {
                Some(at) => at,
                None => match self.list().await {
                    Ok(at) => {
                        backoff = BACKOFF_FIRST;
                        at
                    }
                    Err(e) => {
                        self.failed(&e, &mut backoff).await;
                        continue;
                    }
                },
            };
            match self.watch(&mut at).await {
                Ok(Ended::Closed { events }) => {
                    if events > 0 {
                        backoff = BACKOFF_FIRST;
                    } else {
                        // A server that ends every watch at once must not be asked in a loop.
                        wait(&mut backoff).await;
                    }
                    version = Some(at);
                }
                Ok(Ended::Gone) => {
                    tracing::debug!(resource = self.feed.kind.resource(), namespace = %self.feed.namespace, "watched version gone; listing again");
                }
                Err(e) => {
                    self.failed(&e, &mut backoff).await;
                    version = Some(at);
                }
            }
        }
    }

    async fn failed(&self, error: &str, backoff: &mut Duration) {
        self.counters.failures.inc();
        tracing::error!(
            source = "kubernetes_sd",
            resource = self.feed.kind.resource(),
            namespace = %self.feed.namespace,
            error,
            "discovery failed; keeping the previous targets"
        );
        wait(backoff).await;
    }

    /// LISTs the feed's objects into the store; the version to watch from.
    async fn list(&self) -> Result<String, String> {
        self.counters.refreshes.inc();
        let listed = self.api.list(&self.fetcher, &self.feed).await?;
        let mut state = self.shared.state.lock();
        state.objects.replace(&self.feed, listed.items)?;
        state.listed[self.index] = true;
        drop(state);
        self.shared.changed.notify_one();
        Ok(listed.version)
    }

    /// Watches from `version`, moving it on with each event, until the watch ends.
    async fn watch(&self, version: &mut String) -> Result<Ended, String> {
        let url = self.api.watch_url(&self.feed, version);
        let mut body = match self.fetcher.stream(&self.api.client, &url).await {
            Ok(body) => body,
            Err(e) if e.status() == Some(410) => return Ok(Ended::Gone),
            Err(e) => return Err(format!("watching {url}: {e}")),
        };
        let mut buf = Vec::new();
        let mut events = 0;
        loop {
            match tokio::time::timeout(WATCH_IDLE, body.next(&mut buf)).await {
                Err(_) => return Err(format!("watching {url}: nothing for {WATCH_IDLE:?}")),
                Ok(Err(e)) => return Err(format!("watching {url}: {e}")),
                Ok(Ok(false)) => return Ok(Ended::Closed { events }),
                Ok(Ok(true)) => {}
            }
            let mut decoded = serde_json::Deserializer::from_slice(&buf).into_iter::<WatchEvent>();
            let mut consumed = 0;
            loop {
                match decoded.next() {
                    Some(Ok(event)) => {
                        consumed = decoded.byte_offset();
                        events += 1;
                        if let Some(ended) = self.apply(event, version, &url)? {
                            return Ok(ended);
                        }
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => return Err(format!("watching {url}: decoding an event: {e}")),
                    None => {
                        consumed = buf.len();
                        break;
                    }
                }
            }
            buf.drain(..consumed);
        }
    }

    /// Applies one event; `Some` if it ends the watch.
    fn apply(
        &self,
        event: WatchEvent,
        version: &mut String,
        url: &str,
    ) -> Result<Option<Ended>, String> {
        let object_version = |object: &Value| {
            object["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_owned)
        };
        let kind: Kind = self.feed.kind;
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let next = object_version(&event.object);
                let mut state = self.shared.state.lock();
                if event.kind == "DELETED" {
                    state.objects.delete(kind, &event.object);
                } else {
                    state
                        .objects
                        .put(kind, event.object)
                        .map_err(|e| format!("watching {url}: {e}"))?;
                }
                drop(state);
                *version = next.unwrap_or(std::mem::take(version));
                self.shared.changed.notify_one();
            }
            "BOOKMARK" => {
                if let Some(next) = object_version(&event.object) {
                    *version = next;
                }
            }
            "ERROR" => {
                let status: Status = serde_json::from_value(event.object).unwrap_or_default();
                if status.code == 410 {
                    return Ok(Some(Ended::Gone));
                }
                return Err(format!(
                    "watching {url}: {} (code {})",
                    status.message, status.code
                ));
            }
            other => return Err(format!("watching {url}: unknown event type {other:?}")),
        }
        Ok(None)
    }
}

/// Waits `backoff`, then doubles it up to [`BACKOFF_MAX`].
async fn wait(backoff: &mut Duration) {
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}
