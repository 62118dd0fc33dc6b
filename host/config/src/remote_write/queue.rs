//! A remote write entry's `queue_config` (how samples are batched, sent concurrently and
//! retried) and `metadata_config` (how often metric metadata is sent).
//!
//! Both are read as written, each key `None` until it is, and completed by `resolve` with the
//! defaults of the `--query.compat` generation: Prometheus 2.44 changed three of the queue's and
//! the metadata batch size, so no single default can be put in place while reading. A null
//! mapping is Go's zero value for every key, as yaml.v2 decodes it over Prometheus' defaults.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::compat::{ignore_known, next_key, Ignored, Section};
use crate::duration::Duration;
use crate::yaml::{zero_if_null, Bool, KeySet};
use wasmfed_model::compat::Compat;

/// `queue_config`: how samples wait, are batched, sent concurrently and retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Samples each shard buffers before appending to it blocks.
    pub capacity: usize,
    /// Most concurrent senders.
    pub max_shards: usize,
    /// Fewest concurrent senders, and how many there are at start.
    pub min_shards: usize,
    /// Most samples in one request.
    pub max_samples_per_send: usize,
    /// Longest a sample waits for its request to fill.
    pub batch_send_deadline: Duration,
    /// After a recoverable error a request is retried, waiting twice as long each time from
    /// `min_backoff` up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Whether a 429 answer is retried as a 5xx is (otherwise the request is dropped).
    pub retry_on_http_429: bool,
}

impl QueueConfig {
    /// Prometheus' `DefaultQueueConfig` of `compat`'s generation: 2.42's for 2; from 2.44 on
    /// (so for 3) fewer shards sending larger requests.
    pub const fn defaults(compat: Compat) -> QueueConfig {
        let (capacity, max_shards, max_samples_per_send) = match compat {
            Compat::V2 => (2500, 200, 500),
            Compat::V3 => (10_000, 50, 2000),
        };
        QueueConfig {
            capacity,
            max_shards,
            min_shards: 1,
            max_samples_per_send,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: false,
        }
    }
}

/// The default generation's ([`Compat::default`]).
impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::defaults(Compat::default())
    }
}

/// `metadata_config`: whether and how often metric metadata (type, help, unit) is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataConfig {
    pub send: bool,
    pub send_interval: Duration,
    /// Most metadata entries in one request.
    pub max_samples_per_send: usize,
}

impl MetadataConfig {
    /// Prometheus' `DefaultMetadataConfig` of `compat`'s generation (2.44 raised the batch).
    pub const fn defaults(compat: Compat) -> MetadataConfig {
        MetadataConfig {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: match compat {
                Compat::V2 => 500,
                Compat::V3 => 2000,
            },
        }
    }
}

/// The default generation's ([`Compat::default`]).
impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig::defaults(Compat::default())
    }
}

/// `queue_config` as written.
#[derive(Default)]
pub(super) struct RawQueue {
    capacity: Option<usize>,
    max_shards: Option<usize>,
    min_shards: Option<usize>,
    max_samples_per_send: Option<usize>,
    batch_send_deadline: Option<Duration>,
    min_backoff: Option<Duration>,
    max_backoff: Option<Duration>,
    retry_on_http_429: Option<bool>,
    pub(super) ignored: Vec<Ignored>,
}

impl RawQueue {
    /// `queue_config:` written as null: every key Go's zero value.
    fn zero() -> RawQueue {
        RawQueue {
            capacity: Some(0),
            max_shards: Some(0),
            min_shards: Some(0),
            max_samples_per_send: Some(0),
            batch_send_deadline: Some(Duration::ZERO),
            min_backoff: Some(Duration::ZERO),
            max_backoff: Some(Duration::ZERO),
            retry_on_http_429: Some(false),
            ignored: Vec::new(),
        }
    }

    /// Fills in `compat`'s defaults and runs Prometheus 3.12's `QueueConfig.Validate` (2.42
    /// checks nothing, and panics or stalls on a zero size), in its words.
    pub(super) fn resolve(self, compat: Compat) -> Result<QueueConfig, String> {
        let d = QueueConfig::defaults(compat);
        let q = QueueConfig {
            capacity: self.capacity.unwrap_or(d.capacity),
            max_shards: self.max_shards.unwrap_or(d.max_shards),
            min_shards: self.min_shards.unwrap_or(d.min_shards),
            max_samples_per_send: self.max_samples_per_send.unwrap_or(d.max_samples_per_send),
            batch_send_deadline: self.batch_send_deadline.unwrap_or(d.batch_send_deadline),
            min_backoff: self.min_backoff.unwrap_or(d.min_backoff),
            max_backoff: self.max_backoff.unwrap_or(d.max_backoff),
            retry_on_http_429: self.retry_on_http_429.unwrap_or(d.retry_on_http_429),
        };
        if q.max_shards == 0 {
            return Err("remote write queue max_shards must be positive".into());
        }
        if q.min_shards == 0 {
            return Err("remote write queue min_shards must be positive".into());
        }
        if q.min_shards > q.max_shards {
            return Err(format!(
                "remote write queue min_shards must not be greater than max_shards \
                 (min_shards {}, max_shards {})",
                q.min_shards, q.max_shards
            ));
        }
        if q.max_samples_per_send == 0 {
            return Err("remote write queue max_samples_per_send must be positive".into());
        }
        if q.capacity == 0 {
            return Err("remote write queue capacity must be positive".into());
        }
        if q.max_backoff < q.min_backoff {
            return Err(format!(
                "remote write queue max_backoff must not be less than min_backoff \
                 (min_backoff {}, max_backoff {})",
                q.min_backoff, q.max_backoff
            ));
        }
        Ok(q)
    }
}

const QUEUE_KEYS: &[&str] = &[
    "capacity",
    "max_shards",
    "min_shards",
    "max_samples_per_send",
    "batch_send_deadline",
    "min_backoff",
    "max_backoff",
    "retry_on_http_429",
];

impl<'de> Deserialize<'de> for RawQueue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QueueVisitor)
    }
}

struct QueueVisitor;

impl<'de> Visitor<'de> for QueueVisitor {
    type Value = RawQueue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a queue config")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawQueue, E> {
        Ok(RawQueue::zero())
    }

    fn visit_none<E: de::Error>(self) -> Result<RawQueue, E> {
        Ok(RawQueue::zero())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawQueue, A::Error> {
        let mut raw = RawQueue::default();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::QueueConfig, QUEUE_KEYS, &mut seen)? {
            match key.as_str() {
                "capacity" => raw.capacity = Some(zero_if_null(map.next_value()?)),
                "max_shards" => raw.max_shards = Some(zero_if_null(map.next_value()?)),
                "min_shards" => raw.min_shards = Some(zero_if_null(map.next_value()?)),
                "max_samples_per_send" => {
                    raw.max_samples_per_send = Some(zero_if_null(map.next_value()?));
                }
                "batch_send_deadline" => {
                    raw.batch_send_deadline = Some(zero_if_null(map.next_value()?));
                }
                "min_backoff" => raw.min_backoff = Some(zero_if_null(map.next_value()?)),
                "max_backoff" => raw.max_backoff = Some(zero_if_null(map.next_value()?)),
                "retry_on_http_429" => {
                    raw.retry_on_http_429 = Some(map.next_value::<Bool>()?.0);
                }
                _ => raw
                    .ignored
                    .push(ignore_known(Section::QueueConfig, &key, &mut map)?),
            }
        }
        Ok(raw)
    }
}

/// `metadata_config` as written.
#[derive(Default)]
pub(super) struct RawMetadata {
    send: Option<bool>,
    send_interval: Option<Duration>,
    max_samples_per_send: Option<usize>,
}

impl RawMetadata {
    /// Fills in `compat`'s defaults. Metadata that is sent needs a positive interval (Go's
    /// ticker panics on zero) and batch size (Prometheus then never sends it).
    pub(super) fn resolve(self, compat: Compat) -> Result<MetadataConfig, String> {
        let d = MetadataConfig::defaults(compat);
        let m = MetadataConfig {
            send: self.send.unwrap_or(d.send),
            send_interval: self.send_interval.unwrap_or(d.send_interval),
            max_samples_per_send: self.max_samples_per_send.unwrap_or(d.max_samples_per_send),
        };
        if m.send && m.send_interval.is_zero() {
            return Err("send_interval must be greater than 0 when metadata is sent".into());
        }
        if m.send && m.max_samples_per_send == 0 {
            return Err("max_samples_per_send must be positive when metadata is sent".into());
        }
        Ok(m)
    }
}

const METADATA_KEYS: &[&str] = &["send", "send_interval", "max_samples_per_send"];

impl<'de> Deserialize<'de> for RawMetadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = RawMetadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metadata config")
    }

    /// Null: nothing is sent.
    fn visit_unit<E: de::Error>(self) -> Result<RawMetadata, E> {
        Ok(RawMetadata {
            send: Some(false),
            send_interval: Some(Duration::ZERO),
            max_samples_per_send: Some(0),
        })
    }

    fn visit_none<E: de::Error>(self) -> Result<RawMetadata, E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMetadata, A::Error> {
        let mut raw = RawMetadata::default();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::MetadataConfig, METADATA_KEYS, &mut seen)?
        {
            match key.as_str() {
                "send" => raw.send = Some(map.next_value::<Bool>()?.0),
                "send_interval" => raw.send_interval = Some(zero_if_null(map.next_value()?)),
                "max_samples_per_send" => {
                    raw.max_samples_per_send = Some(zero_if_null(map.next_value()?));
                }
                _ => unreachable!("MetadataConfig knows no keys but METADATA_KEYS"),
            }
        }
        Ok(raw)
    }
}
