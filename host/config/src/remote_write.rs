//! `remote_write`: the receivers a node sends a copy of its series to, as Prometheus' `config.
//! RemoteWriteConfig` reads them (2.42's keys and checks, and 3.x's where they differ).
//!
//! Each entry is one receiver: a `url`, `headers`, the HTTP client keys a scrape config has
//! (TLS, `basic_auth`, `authorization`, `oauth2`, proxy), `write_relabel_configs` that rewrite
//! or drop series before they leave, and wasmfed's own `series_plugins` (series-stage WASM
//! transforms run on each series after the relabeling, exactly as a scrape config's are
//! written). `queue_config` and `metadata_config` tune the sender.
//!
//! Why the queue's defaults are filled in late: Prometheus 2.44 changed them (50 shards of 2000
//! samples per send and a capacity of 10000, where 2.42 had 200, 500 and 2500) and 3.0 stopped
//! negotiating HTTP/2 for remote write, so which apply depends on `--query.compat`. The raw
//! entry keeps what was written and [`RawRemoteWrites::resolve`] fills in the rest for the
//! generation; a key written as null is Go's zero value either way, as yaml.v2 decodes it over
//! the defaults.
//!
//! Checks beyond Prometheus 2.42's, for a sender that cannot work without them (2.42 panics or
//! never delivers): the URL is http or https with a host; `remote_timeout` is positive; the
//! queue's sizes are positive and `min_shards`/`max_shards`, `min_backoff`/`max_backoff` are
//! ordered (3.12's checks, in its words); metadata that is sent has a positive interval and
//! batch size; header names are valid, written once regardless of case, and values hold no
//! line break. `sigv4`, `azuread` and `google_iam` are refused unless null, since wasmfed
//! cannot sign requests so; remote write 2.0 (`protobuf_message`) likewise.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::compat::{ignore_known, next_key, Ignored, Section};
use super::duration::Duration;
use super::http_client::{self, HttpClientConfig, RawHttpClient, RESERVED_HEADERS};
use super::http_sd::check_url;
use super::plugins::{PluginRef, RawPluginRef};
use super::scrape::{concat_keys, non_null, resolve_plugins};
use super::yaml::{zero_if_null, Bool, KeySet, UniqueMap};
use relabel_config::RelabelConfig;
use wasmfed_model::compat::Compat;

mod queue;

pub use queue::{MetadataConfig, QueueConfig};
use queue::{RawMetadata, RawQueue};

/// One receiver of remote writes.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteWriteConfig {
    /// An http or https URL with a host.
    pub url: String,
    /// As written; empty when absent (the sender names it by a hash then).
    pub name: String,
    /// How long one request may take (30s).
    pub remote_timeout: Duration,
    /// Sent with every request, names as written; sorted by name.
    pub headers: Vec<(String, String)>,
    /// Applied to each series before it is queued, after external labels are attached.
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// wasmfed's own: series-stage plugins run after `write_relabel_configs`, in order.
    pub series_plugins: Vec<PluginRef>,
    pub send_exemplars: bool,
    pub send_native_histograms: bool,
    pub queue_config: QueueConfig,
    pub metadata_config: MetadataConfig,
    /// TLS, authentication, proxy and redirects of the requests.
    pub http_client: HttpClientConfig,
}

/// Header values often are API keys: they stay out of logs, as other secrets do.
impl fmt::Debug for RemoteWriteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<secret>"))
            .collect();
        f.debug_struct("RemoteWriteConfig")
            .field("url", &self.url)
            .field("name", &self.name)
            .field("remote_timeout", &self.remote_timeout)
            .field("headers", &headers)
            .field("write_relabel_configs", &self.write_relabel_configs)
            .field("series_plugins", &self.series_plugins)
            .field("send_exemplars", &self.send_exemplars)
            .field("send_native_histograms", &self.send_native_histograms)
            .field("queue_config", &self.queue_config)
            .field("metadata_config", &self.metadata_config)
            .field("http_client", &self.http_client)
            .finish()
    }
}

/// A `remote_write` list as written (at the top level or a tenant's).
#[derive(Default)]
pub(super) struct RawRemoteWrites(Vec<RawRemoteWrite>);

impl RawRemoteWrites {
    /// Resolves every entry for `compat`'s generation, files against `dir`; checks that names
    /// are unique. Returns the warnings of ignored keys, named by their path after
    /// `warn_prefix` (a tenant's name).
    pub(super) fn resolve(
        self,
        dir: &Path,
        compat: Compat,
        warn_prefix: &str,
    ) -> Result<(Vec<RemoteWriteConfig>, Vec<String>), String> {
        let mut names = HashSet::new();
        let mut configs = Vec::with_capacity(self.0.len());
        let mut warnings = Vec::new();
        for (i, raw) in self.0.into_iter().enumerate() {
            // Empty names are left to the sender, which names an entry by its hash.
            if !raw.name.is_empty() && !names.insert(raw.name.clone()) {
                return Err(format!(
                    "found multiple remote write configs with job name {:?}",
                    raw.name
                ));
            }
            let path = format!("remote_write[{i}]");
            let prefix = format!("{warn_prefix}{path}.");
            warnings.extend(raw.ignored.iter().map(|w| w.warning(&prefix)));
            let prefix = format!("{prefix}queue_config.");
            warnings.extend(raw.queue_config.ignored.iter().map(|w| w.warning(&prefix)));
            configs.push(raw.resolve(dir, compat, &path)?);
        }
        Ok((configs, warnings))
    }
}

impl<'de> Deserialize<'de> for RawRemoteWrites {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries: Option<Vec<Option<RawRemoteWrite>>> = Deserialize::deserialize(d)?;
        non_null(entries, "empty or null remote write config section")
            .map(RawRemoteWrites)
            .map_err(de::Error::custom)
    }
}

/// One entry as written, checked on its own.
struct RawRemoteWrite {
    url: String,
    name: String,
    remote_timeout: Duration,
    headers: Vec<(String, String)>,
    write_relabel_configs: Vec<RelabelConfig>,
    series_plugins: Vec<RawPluginRef>,
    send_exemplars: bool,
    send_native_histograms: bool,
    queue_config: RawQueue,
    metadata_config: RawMetadata,
    http_client: RawHttpClient,
    ignored: Vec<Ignored>,
}

impl RawRemoteWrite {
    /// `path` (`remote_write[i]`) names the entry in errors.
    fn resolve(
        mut self,
        dir: &Path,
        compat: Compat,
        path: &str,
    ) -> Result<RemoteWriteConfig, String> {
        let queue_config = self
            .queue_config
            .resolve(compat)
            .map_err(|e| format!("{path}.queue_config: {e}"))?;
        let metadata_config = self
            .metadata_config
            .resolve(compat)
            .map_err(|e| format!("{path}.metadata_config: {e}"))?;
        // Prometheus 3's DefaultRemoteWriteHTTPClientConfig.
        self.http_client.default_enable_http2(compat == Compat::V2);
        let http_client = self
            .http_client
            .resolve(dir)
            .map_err(|e| format!("{path}: {e}"))?;
        let series_plugins = resolve_plugins(self.series_plugins, dir, "series_plugins")
            .map_err(|e| format!("{path}.{e}"))?;
        Ok(RemoteWriteConfig {
            url: self.url,
            name: self.name,
            remote_timeout: self.remote_timeout,
            headers: self.headers,
            write_relabel_configs: self.write_relabel_configs,
            series_plugins,
            send_exemplars: self.send_exemplars,
            send_native_histograms: self.send_native_histograms,
            queue_config,
            metadata_config,
            http_client,
        })
    }
}

/// The keys of an entry that are its own (its HTTP client's follow).
const OWN_KEYS: [&str; 14] = [
    "url",
    "name",
    "remote_timeout",
    "headers",
    "write_relabel_configs",
    "send_exemplars",
    "send_native_histograms",
    "protobuf_message",
    "queue_config",
    "metadata_config",
    "sigv4",
    "azuread",
    "google_iam",
    "series_plugins",
];

const KEYS: &[&str] = &concat_keys::<14, 13, 27>(OWN_KEYS, http_client::KEYS);

/// Remote write 1.0's message and 2.0's, as `protobuf_message` names them (Prometheus 2.54+).
const MESSAGE_V1: &str = "prometheus.WriteRequest";
const MESSAGE_V2: &str = "io.prometheus.write.v2.Request";

impl<'de> Deserialize<'de> for RawRemoteWrite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RemoteWriteVisitor)
    }
}

struct RemoteWriteVisitor;

impl<'de> Visitor<'de> for RemoteWriteVisitor {
    type Value = RawRemoteWrite;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a remote write config")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRemoteWrite, A::Error> {
        // Prometheus' DefaultRemoteWriteConfig; the queue's and metadata's come at resolve.
        let mut raw = RawRemoteWrite {
            url: String::new(),
            name: String::new(),
            remote_timeout: Duration::from_secs(30),
            headers: Vec::new(),
            write_relabel_configs: Vec::new(),
            series_plugins: Vec::new(),
            send_exemplars: false,
            send_native_histograms: false,
            queue_config: RawQueue::default(),
            metadata_config: RawMetadata::default(),
            http_client: RawHttpClient::default(),
            ignored: Vec::new(),
        };
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::RemoteWrite, KEYS, &mut seen)? {
            match key.as_str() {
                "url" => raw.url = zero_if_null(map.next_value()?),
                "name" => raw.name = zero_if_null(map.next_value()?),
                "remote_timeout" => raw.remote_timeout = zero_if_null(map.next_value()?),
                "headers" => {
                    raw.headers = headers(map.next_value()?).map_err(de::Error::custom)?;
                }
                "write_relabel_configs" => {
                    raw.write_relabel_configs = non_null(
                        map.next_value()?,
                        "empty or null relabeling rule in remote write config",
                    )
                    .map_err(de::Error::custom)?;
                }
                "send_exemplars" => raw.send_exemplars = map.next_value::<Bool>()?.0,
                "send_native_histograms" => {
                    raw.send_native_histograms = map.next_value::<Bool>()?.0;
                }
                "protobuf_message" => {
                    protobuf_message(&zero_if_null::<String>(map.next_value()?))
                        .map_err(de::Error::custom)?;
                }
                "queue_config" => raw.queue_config = map.next_value()?,
                "metadata_config" => raw.metadata_config = map.next_value()?,
                "sigv4" | "azuread" | "google_iam" => {
                    let value: serde_yaml::Value = map.next_value()?;
                    // A mapping, even `{}`, turns the signer on in Prometheus; null leaves it off.
                    if !value.is_null() {
                        return Err(de::Error::custom(format!(
                            "{key}: not supported by wasmfed yet (wasmfed cannot sign requests \
                             this way; use basic_auth, authorization or oauth2)"
                        )));
                    }
                }
                "series_plugins" => raw.series_plugins = zero_if_null(map.next_value()?),
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                _ => raw
                    .ignored
                    .push(ignore_known(Section::RemoteWrite, &key, &mut map)?),
            }
        }
        if raw.url.is_empty() {
            return Err(de::Error::custom("url for remote_write is empty"));
        }
        check_url(&raw.url).map_err(|e| {
            de::Error::custom(format!("invalid url {:?} for remote_write: {e}", raw.url))
        })?;
        if raw.remote_timeout.is_zero() {
            return Err(de::Error::custom(
                "remote_timeout must be greater than 0 (every request would time out at once)",
            ));
        }
        Ok(raw)
    }
}

/// `validateHeaders`, in 2.42's words, and what a request head needs. Sorted by name.
fn headers(raw: UniqueMap<String, Option<String>>) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(raw.0.len());
    for (name, value) in raw.0 {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            return Err("authorization header must be changed via the basic_auth, \
                        authorization, oauth2, or sigv4 parameter"
                .into());
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(format!(
                "{name} is a reserved header. It must not be changed"
            ));
        }
        if !http_client::valid_header_name(&name) {
            return Err(format!("invalid header name {name:?}"));
        }
        // Header names are case-insensitive: two spellings would race for one header.
        if let Some((other, _)) = out.iter().find(|(o, _)| o.eq_ignore_ascii_case(&name)) {
            return Err(format!(
                "header {name:?} is written twice (also as {other:?}): header names are \
                 case-insensitive"
            ));
        }
        let value = value.unwrap_or_default();
        if value.contains(['\r', '\n']) {
            return Err(format!(
                "header {name:?}: a value may not contain a line break"
            ));
        }
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

/// `RemoteWriteProtoMsg.Validate`; remote write 2.0 is not spoken.
fn protobuf_message(message: &str) -> Result<(), String> {
    match message {
        MESSAGE_V1 => Ok(()),
        MESSAGE_V2 => Err(format!(
            "protobuf_message {MESSAGE_V2}: not supported by wasmfed yet (wasmfed sends remote \
             write 1.0's {MESSAGE_V1})"
        )),
        other => Err(format!(
            "invalid protobuf_message value: unknown remote write protobuf message {other}, \
             supported: {MESSAGE_V1}, {MESSAGE_V2}"
        )),
    }
}

#[cfg(test)]
#[path = "remote_write/tests.rs"]
mod tests;
