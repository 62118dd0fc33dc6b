//! `wasmfed demo` (a synthetic exporter, a leaf and a global node on loopback, all in one
//! process) and `wasmfed synth` (synthetic targets for benchmarks).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::synth::{self, Profile};
use crate::{Node, NodeOptions};
use wasmfed_config::Config;
use wasmfed_model::compat::Compat;
use wasmfed_node::StatusInfo;
use wasmfed_storage::wal;

const DEMO_LEAF: &str = include_str!("../../../examples/demo/leaf.yml");
const DEMO_GLOBAL: &str = include_str!("../../../examples/demo/global.yml");
const DEMO_RULES: [(&str, &str); 2] = [
    (
        "leaf.rules",
        include_str!("../../../examples/demo/leaf.rules"),
    ),
    (
        "global.rules",
        include_str!("../../../examples/demo/global.rules"),
    ),
];
const DEMO_EXPORTERS: [&str; 2] = ["127.0.0.1:9101", "127.0.0.1:9102"];

pub async fn demo() -> anyhow::Result<()> {
    let mut listeners = Vec::new();
    for addr in DEMO_EXPORTERS {
        listeners.push(TcpListener::bind(addr).await.with_context(|| {
            format!("binding demo exporter {addr} (is a demo already running?)")
        })?);
    }
    synth::serve(listeners, Profile::Demo, None).await?;
    // The embedded configs name their rule files relative to their own directory.
    let dir = std::env::temp_dir().join(format!("wasmfed-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, text) in DEMO_RULES {
        std::fs::write(dir.join(file), text)
            .with_context(|| format!("writing {}", dir.join(file).display()))?;
    }
    let mut nodes = Vec::new();
    for (name, yaml, listen) in [
        ("leaf", DEMO_LEAF, "127.0.0.1:9091"),
        ("global", DEMO_GLOBAL, "127.0.0.1:9090"),
    ] {
        let loaded = Config::from_yaml(yaml, &dir, Compat::default())
            .with_context(|| format!("loading the embedded {name} config"))?;
        let config = loaded.config;
        let options = NodeOptions {
            config_path: None,
            listen: listen.parse()?,
            storage_path: None,
            retention: Duration::from_secs(3600),
            retention_size: None,
            block_range: Duration::from_secs(2 * 3600),
            max_block: Duration::from_secs(31 * 24 * 3600),
            wal: wal::WalOptions::default(),
            enable_lifecycle: false,
            compat: Compat::default(),
            query_timeout: wasmfed_node::DEFAULT_QUERY_TIMEOUT,
            web_config: None,
            lookback: wasmfed_node::DEFAULT_LOOKBACK,
            max_samples: wasmfed_rules::DEFAULT_MAX_SAMPLES,
            remote_write_receiver: false,
            plugin_cache: plugin_cache_dir(None),
            page_title: "wasmfed".to_owned(),
            route_prefix: "/".into(),
            alert_restore: Default::default(),
            alert_sending: Default::default(),
            notification_queue_capacity: wasmfed_notify::DEFAULT_QUEUE_CAPACITY,
            config_source: loaded.source,
            status: StatusInfo::default(),
        };
        let node = Node::start(config, options)
            .await
            .with_context(|| format!("starting the {name} node"))?;
        nodes.push(node);
    }
    println!(
        "\nwasmfed demo running:\n  \
         demo exporters   http://{}/metrics, http://{}/metrics\n  \
         leaf node        http://127.0.0.1:9091  (scrapes the exporters and itself; external label datacenter=\"demo-dc\")\n  \
         global node      http://127.0.0.1:9090  (federates the leaf's demo series and its job: aggregates)\n\n\
         Try (after ~10 s):\n  \
         curl -sG http://127.0.0.1:9090/federate --data-urlencode 'match[]={{job=\"demo\"}}'\n  \
         curl -sG http://127.0.0.1:9090/api/v1/query --data-urlencode 'query=global:demo_http_requests:rate1m'\n  \
         curl -s 'http://127.0.0.1:9091/api/v1/targets'\n\nCtrl-C stops it.",
        DEMO_EXPORTERS[0], DEMO_EXPORTERS[1]
    );
    tokio::signal::ctrl_c().await?;
    for node in nodes {
        node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Serves the synthetic targets; over TLS when a `--web.config.file` enables it (only its
/// certificate and key are used).
pub async fn run_synth(
    first: SocketAddr,
    targets: usize,
    series: usize,
    web_config: Option<PathBuf>,
) -> anyhow::Result<()> {
    if targets == 0 {
        bail!("--targets must be at least 1");
    }
    let tls = wasmfed_web::WebGate::new(web_config)
        .map_err(anyhow::Error::msg)?
        .current()
        .map_err(anyhow::Error::msg)?
        .tls;
    let mut listeners = Vec::new();
    for i in 0..targets {
        let addr = SocketAddr::new(first.ip(), first.port() + i as u16);
        listeners.push(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?,
        );
    }
    let addrs = synth::serve(listeners, Profile::Bench { series }, tls).await?;
    println!(
        "serving {} synthetic targets with {series} series each, {} .. {}",
        addrs.len(),
        addrs[0],
        addrs[addrs.len() - 1]
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// `--plugin.cache-dir`: as given (empty: none), else the user's cache directory.
pub fn plugin_cache_dir(given: Option<&str>) -> Option<PathBuf> {
    match given {
        Some("") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("wasmfed")),
    }
}
