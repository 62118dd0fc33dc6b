//! The remote-write sender: every sample a tenant stores, handed to a remote-write receiver
//! (VictoriaMetrics, Mimir, Thanos Receive, Cortex, a Prometheus with its receiver on), as
//! Prometheus' `remote_write` does, and without its losses.
//!
//! ```text
//! head ──▶ WAL ──▶ reader ──▶ shards ──▶ POST /api/v1/write (protobuf + snappy)
//!           ▲        │ series: external labels, write_relabel_configs, series_plugins
//!           └─ hold ─┴─ positions on disk (remote_write/<queue>.state)
//! ```
//!
//! Each destination is a queue (`queue`) that reads the tenant's own write-ahead log, so a
//! tenant's `remote_write` sends its data and no one else's. What a receiver has not taken
//! stays in the log: the queue's hold keeps the segments from deletion (within retention), and
//! positions kept per shard on disk (`state`) make a restart resume where the receiver last
//! acknowledged, neither losing nor repeating samples (those in flight at a crash are sent
//! again, in requests of their own, and counted).
//!
//! A tenant other than the node's own sends `X-Scope-OrgID: <tenant>` (the Mimir and Cortex
//! convention) unless its `headers` name that header themselves.

mod encode;
mod metadata;
mod queue;
mod reader;
mod scaling;
mod series;
mod shard;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;

use wasmfed_config::{PluginRef, PluginSource, RemoteWriteConfig, DEFAULT_TENANT};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;
use wasmfed_plugin::{sha256_hex, stock, Plugin, PluginLimits, PluginRuntime, Stage, World};
use wasmfed_scrape::fetch::{Fetcher, HttpClient};
use wasmfed_scrape::stages::GuardedStage;
use wasmfed_storage::wal::{Wal, WalHold};
use wasmfed_telemetry::{QueueLabels, Telemetry};

pub use metadata::MetadataSource;
use queue::{Queue, QueueSetup};
use series::Transform;
use shard::Sender;

/// What a tenant's queues share.
#[derive(Clone)]
pub struct WriterContext {
    pub tenant: String,
    pub wal: Arc<Wal>,
    /// Where the queues keep their positions (`<dir>/<queue>.state`).
    pub state_dir: PathBuf,
    pub fetcher: Fetcher,
    pub telemetry: Arc<Telemetry>,
    pub runtime: Arc<PluginRuntime>,
    pub plugin_limits: PluginLimits,
    pub compat: Compat,
    /// The tenant's targets' metric metadata (`metadata_config`).
    pub metadata: Option<MetadataSource>,
}

/// A configuration ready to apply: its plugins loaded.
pub struct Prepared {
    queues: Vec<(RemoteWriteConfig, Labels, Arc<Transform>)>,
}

struct Running {
    config: RemoteWriteConfig,
    external_labels: Labels,
    queue: Queue,
    labels: QueueLabels,
}

/// One tenant's remote-write queues.
pub struct RemoteWriter {
    ctx: WriterContext,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// Holds on the log taken at start-up for kept positions, until their queues start.
    early_holds: parking_lot::Mutex<Vec<WalHold>>,
}

impl RemoteWriter {
    pub fn new(ctx: WriterContext) -> RemoteWriter {
        RemoteWriter {
            ctx,
            running: tokio::sync::Mutex::new(HashMap::new()),
            early_holds: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Holds the log from every position `configs`' queues kept on disk. Called before the
    /// start-up checkpoint (which would delete what a queue has yet to send); the holds last
    /// until [`RemoteWriter::apply`] has started the queues.
    pub fn hold_kept(&self, configs: &[RemoteWriteConfig]) {
        let mut holds = self.early_holds.lock();
        for (c, (key, _)) in configs.iter().zip(queue_keys(configs.iter())) {
            let path = self.state_path(&key);
            if let Ok(Some(slots)) = state::StateFile::load(&path, &c.url) {
                let from = slots.iter().map(|s| s.acked.at.segment).min().unwrap_or(0);
                holds.push(self.ctx.wal.hold(from));
            }
        }
    }

    fn state_path(&self, key: &str) -> PathBuf {
        self.ctx.state_dir.join(format!("{key}.state"))
    }

    /// Loads what `configs` need (the relabel plugin, series plugins). Blocking (compiles
    /// components); refuses the whole set, with the reason, if any part fails.
    pub fn prepare(
        &self,
        configs: &[RemoteWriteConfig],
        external_labels: &Labels,
    ) -> Result<Prepared, String> {
        let queues = configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let stage = self
                    .stage(c)
                    .map_err(|e| format!("remote_write[{i}] ({}): {e}", c.url))?;
                let transform = Transform {
                    external_labels: external_labels.clone(),
                    stage,
                };
                Ok((c.clone(), external_labels.clone(), Arc::new(transform)))
            })
            .collect::<Result<_, String>>()?;
        Ok(Prepared { queues })
    }

    fn stage(&self, c: &RemoteWriteConfig) -> Result<GuardedStage, String> {
        let mut plugins = Vec::new();
        if !c.write_relabel_configs.is_empty() {
            let config = serde_json::json!({"compat": self.ctx.compat.major(), "rules": c.write_relabel_configs});
            plugins.push(self.load(&PluginRef {
                name: "write_relabel_configs".into(),
                source: PluginSource::Stock("relabel".into()),
                sha256: None,
                config_json: config.to_string(),
            })?);
        }
        for p in &c.series_plugins {
            plugins.push(self.load(p)?);
        }
        let stage = Stage::new(World::Series, plugins).map_err(|e| e.to_string())?;
        Ok(GuardedStage::new(stage))
    }

    fn load(&self, p: &PluginRef) -> Result<Arc<Plugin>, String> {
        let bytes = stock::read(&p.source, p.sha256.as_deref())?;
        let plugin = self
            .ctx
            .runtime
            .load(
                &p.name,
                &bytes,
                World::Series,
                &p.config_json,
                self.ctx.plugin_limits,
            )
            .map_err(|e| format!("plugin {}: {e}", p.name))?;
        Ok(Arc::new(match &p.source {
            PluginSource::File(path) => plugin.with_file(path.clone()),
            PluginSource::Stock(_) => plugin,
        }))
    }

    /// Starts the queues of `prepared`: one whose configuration is unchanged goes on; one that
    /// changed stops (its position written) and starts again from there; one no longer
    /// configured stops.
    pub async fn apply(&self, prepared: Prepared) {
        let mut running = self.running.lock().await;
        let mut next = HashMap::new();
        let keys = queue_keys(prepared.queues.iter().map(|q| &q.0));
        for ((config, external_labels, transform), (key, copy)) in
            prepared.queues.into_iter().zip(keys)
        {
            if let Some(r) = running.remove(&key) {
                if r.config == config && r.external_labels == external_labels {
                    next.insert(key, r);
                    continue;
                }
                r.queue.stop().await;
            }
            let labels = QueueLabels {
                tenant: self.ctx.tenant.clone(),
                remote_name: suffixed(&remote_name(&config), copy),
                url: config.url.clone(),
            };
            let queue = self.start(&config, &key, labels.clone(), transform);
            next.insert(
                key,
                Running {
                    config,
                    external_labels,
                    queue,
                    labels,
                },
            );
        }
        for (_, r) in running.drain() {
            r.queue.stop().await;
            self.ctx.telemetry.remote_storage.forget(&r.labels);
        }
        *running = next;
        self.early_holds.lock().clear();
    }

    /// Stops every queue, each position written.
    pub async fn stop(&self) {
        let mut running = self.running.lock().await;
        for (_, r) in running.drain() {
            r.queue.stop().await;
        }
    }

    fn start(
        &self,
        c: &RemoteWriteConfig,
        key: &str,
        labels: QueueLabels,
        transform: Arc<Transform>,
    ) -> Queue {
        let q = &c.queue_config;
        let headers = header_lines(c, &self.ctx.tenant);
        let (fetcher, client, telemetry) = (
            self.ctx.fetcher.clone(),
            HttpClient::new(&c.http_client),
            self.ctx.telemetry.clone(),
        );
        let (url, timeout, sender_labels) =
            (c.url.clone(), c.remote_timeout.as_std(), labels.clone());
        let (max_samples, batch_deadline) = (
            q.max_samples_per_send.max(1),
            q.batch_send_deadline.as_std(),
        );
        let (min_backoff, max_backoff, retry_on_429) = (
            q.min_backoff.as_std(),
            q.max_backoff.as_std(),
            q.retry_on_http_429,
        );
        let sender = Box::new(move |stopping| Sender {
            fetcher,
            client,
            url,
            headers,
            timeout,
            max_samples,
            batch_deadline,
            min_backoff,
            max_backoff,
            retry_on_429,
            telemetry,
            labels: sender_labels,
            stopping,
            sent_samples: AtomicU64::new(0),
            send_nanos: AtomicU64::new(0),
            highest_sent_ms: AtomicI64::new(0),
        });
        let setup = QueueSetup {
            wal: self.ctx.wal.clone(),
            state_path: self.state_path(key),
            sender,
            min_shards: q.min_shards.max(1),
            max_shards: q.max_shards.max(q.min_shards).max(1),
            capacity: q.capacity.max(q.max_samples_per_send).max(1),
            transform,
            metadata: self
                .ctx
                .metadata
                .clone()
                .filter(|_| c.metadata_config.send)
                .map(|source| {
                    let m = &c.metadata_config;
                    (source, m.send_interval.as_std(), m.max_samples_per_send)
                }),
            scale_every: scaling::UPDATE_EVERY,
        };
        Queue::start(setup, labels, self.ctx.telemetry.clone())
    }
}

/// What a queue's position file is named by: its `name`, else its URL.
fn queue_key(c: &RemoteWriteConfig) -> String {
    match c.name.is_empty() {
        false => format!(
            "name-{}",
            c.name
                .chars()
                .map(
                    |ch| if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                        ch
                    } else {
                        '_'
                    }
                )
                .collect::<String>()
        ),
        true => format!("url-{}", &sha256_hex(c.url.as_bytes())[..16]),
    }
}

/// Each destination's key and its copy number: two unnamed destinations with one URL are
/// `url-<hash>` and `url-<hash>-2`, in the configuration's order (names are unique: the
/// configuration says so).
fn queue_keys<'a>(configs: impl Iterator<Item = &'a RemoteWriteConfig>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in configs {
        let base = queue_key(c);
        let copy = (1..)
            .find(|&n| !out.iter().any(|(k, _)| *k == suffixed(&base, n)))
            .expect("a free suffix");
        out.push((suffixed(&base, copy), copy));
    }
    out
}

/// `name`, or `name-<n>` for the `n`th (from 2) destination of the same name.
fn suffixed(name: &str, n: usize) -> String {
    match n {
        1 => name.to_owned(),
        n => format!("{name}-{n}"),
    }
}

/// The `remote_name` label: the queue's `name`, else (as Prometheus names an unnamed queue by
/// a hash) the first six hex digits of its URL's sha256.
fn remote_name(c: &RemoteWriteConfig) -> String {
    match c.name.is_empty() {
        false => c.name.clone(),
        true => sha256_hex(c.url.as_bytes())[..6].to_owned(),
    }
}

/// The destination's headers as request lines, with `X-Scope-OrgID` for a tenant other than
/// the node's own unless the headers set it.
fn header_lines(c: &RemoteWriteConfig, tenant: &str) -> String {
    let mut lines = String::new();
    for (name, value) in &c.headers {
        lines.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_org = c
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-scope-orgid"));
    if tenant != DEFAULT_TENANT && !has_org {
        lines.push_str(&format!("X-Scope-OrgID: {tenant}\r\n"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use wasmfed_config::Config;

    fn configs(yaml: &str) -> Vec<RemoteWriteConfig> {
        Config::from_yaml(yaml, Path::new("."), Compat::default())
            .expect("valid")
            .config
            .remote_write
    }

    #[test]
    fn every_destination_keeps_its_position_under_a_key_of_its_own() {
        let c = configs(
            "remote_write:\n  - url: http://a/w\n  - url: http://a/w\n    headers: {X-A: b}\n  - url: http://a/w\n    name: named\n",
        );
        let keys = queue_keys(c.iter());
        let url = format!("url-{}", &sha256_hex(b"http://a/w")[..16]);
        assert_eq!(
            keys,
            [
                (url.clone(), 1),
                (format!("{url}-2"), 2),
                ("name-named".into(), 1)
            ]
        );
        assert_eq!(remote_name(&c[2]), "named");
    }

    #[test]
    fn a_tenant_names_itself_unless_its_headers_do() {
        let c = configs("remote_write:\n  - url: http://a/w\n    headers: {X-Team: a}\n  - url: http://a/w\n    headers: {x-scope-orgid: other}\n");
        assert_eq!(header_lines(&c[0], DEFAULT_TENANT), "X-Team: a\r\n");
        assert_eq!(
            header_lines(&c[0], "team-a"),
            "X-Team: a\r\nX-Scope-OrgID: team-a\r\n"
        );
        assert_eq!(header_lines(&c[1], "team-a"), "x-scope-orgid: other\r\n");
    }
}
