//! Docker discovery (`docker_sd_configs`), as Prometheus 2.42's `discovery/moby` runs it:
//! every `refresh_interval` ([`PolledSource`]) the engine's containers are listed
//! (`GET /containers/json?limit=0`, with the configured `filters`) and then its networks
//! (`GET /networks`), and both are turned into one target group ([`targets`]). Reaching the
//! engine, over its Unix socket or TCP, is [`engine`]'s.
//!
//! The tests serve Prometheus' own recorded Docker Engine answers (its `dockerprom` test
//! data) on loopback and expect the targets its `docker_test.go` expects; no Docker daemon
//! runs here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wasmfed_config::{DockerFilter, DockerSdConfig, TargetGroup};

use self::engine::Engine;
use self::objects::{Container, Network};
use self::targets::{docker_group, TargetRules};
use super::polled::{Counters, PolledSource};
use crate::fetch::Fetcher;

mod engine;
mod objects;
mod targets;
#[cfg(test)]
mod tests;

/// Starts the source's task: a refresh at once, then every `refresh_interval`. A host the
/// Docker client cannot use fails every refresh, logged and counted.
pub(super) fn start(config: DockerSdConfig, fetcher: Fetcher, counters: Counters) -> PolledSource {
    let engine = Engine::new(&config).map(Arc::new);
    let refresh: Duration = config.refresh_interval.into();
    let config = Arc::new(config);
    PolledSource::start(
        format!("docker_sd {}", config.host),
        refresh,
        counters,
        move || {
            let (config, engine, fetcher) = (config.clone(), engine.clone(), fetcher.clone());
            async move {
                let engine = engine?;
                discover(&config, &engine, &fetcher).await
            }
        },
    )
}

/// The source refreshed once (for one-off tools).
pub(super) async fn once(
    config: &DockerSdConfig,
    fetcher: &Fetcher,
) -> Result<PolledSource, String> {
    let engine = Engine::new(config)?;
    Ok(PolledSource::fixed(
        discover(config, &engine, fetcher).await?,
    ))
}

/// One refresh: Prometheus' `DockerDiscovery.refresh`.
async fn discover(
    config: &DockerSdConfig,
    engine: &Engine,
    fetcher: &Fetcher,
) -> Result<Vec<TargetGroup>, String> {
    let containers: Vec<Container> = engine
        .get(
            fetcher,
            "/containers/json",
            &containers_query(&config.filters),
        )
        .await
        .map_err(|e| format!("error while listing containers: {e}"))?;
    let networks: Vec<Network> = engine
        .get(fetcher, "/networks", "")
        .await
        .map_err(|e| format!("error while computing network labels: {e}"))?;
    let rules = TargetRules {
        port: config.port,
        host_networking_host: &config.host_networking_host,
    };
    Ok(vec![docker_group(&containers, &networks, &rules)])
}

/// The container list's query as the Go client encodes `ContainerListOptions{Filters}`:
/// `limit=0` always, and `filters` (a JSON object of name → {value: true}, Go's
/// `filters.Args`) when a filter has a value; keys sorted, as Go's `url.Values` encodes them.
fn containers_query(filters: &[DockerFilter]) -> String {
    let mut args: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    for filter in filters {
        for value in &filter.values {
            args.entry(&filter.name).or_default().insert(value, true);
        }
    }
    if args.is_empty() {
        return "limit=0".into();
    }
    let json = serde_json::to_string(&args).expect("a map of strings serializes");
    format!("filters={}&limit=0", query_escape(&go_html_escape(&json)))
}

/// Go's `json.Marshal` escapes what could end an HTML script, where serde_json writes it as
/// is.
fn go_html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, every other byte `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
