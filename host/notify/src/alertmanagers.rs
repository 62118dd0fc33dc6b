//! One `alertmanagers` entry at work: its Alertmanagers discovered as a scrape job discovers
//! targets, relabeled, turned into the URLs alerts are posted to (Prometheus'
//! `AlertmanagerFromGroup`).
//!
//! Each discovered target gets `__scheme__` (the set's `scheme`) and `__alerts_path__`
//! (`path_prefix` joined with `/api/v2/alerts`) before `relabel_configs` run, so relabeling can
//! change either; a target whose labels are emptied is dropped. The URL is
//! `__scheme__://__address____alerts_path__`; the same URL found twice is posted to once.

use std::sync::Arc;

use parking_lot::Mutex;

use wasmfed_config::AlertmanagerConfig;
use wasmfed_model::Labels;
use wasmfed_plugin::Stage;
use wasmfed_scrape::discovery::Discovery;
use wasmfed_scrape::fetch::{Fetcher, HttpClient};
use wasmfed_telemetry::Telemetry;

const ADDRESS: &str = "__address__";
const SCHEME: &str = "__scheme__";
const ALERTS_PATH: &str = "__alerts_path__";

/// A set of Alertmanagers sharing one configuration (TLS, credentials, timeout).
pub struct AlertmanagerSet {
    pub config: AlertmanagerConfig,
    pub client: Arc<HttpClient>,
    relabel: Stage,
    discovery: Mutex<Discovery>,
    urls: Mutex<Vec<String>>,
}

impl AlertmanagerSet {
    /// Starts the set's discovery (inside a Tokio runtime); `relabel` runs its
    /// `relabel_configs`.
    pub fn new(
        config: AlertmanagerConfig,
        relabel: Stage,
        fetcher: &Fetcher,
        telemetry: &Telemetry,
    ) -> AlertmanagerSet {
        let discovery = Discovery::new(&config, fetcher, telemetry);
        let set = AlertmanagerSet {
            client: Arc::new(HttpClient::new(&config.http_client)),
            config,
            relabel,
            discovery: Mutex::new(discovery),
            urls: Mutex::new(Vec::new()),
        };
        set.sync(true);
        set
    }

    /// Re-reads the discovery sources; recomputes the URLs when they changed (or `force`).
    pub fn sync(&self, force: bool) {
        let mut discovery = self.discovery.lock();
        if !discovery.refresh() && !force {
            return;
        }
        let mut candidates = Vec::new();
        for group in discovery.groups() {
            for (i, address) in group.targets.iter().enumerate() {
                let mut labels = group.labels.clone();
                if let Some(own) = group.target_labels.get(i) {
                    for l in own.iter() {
                        labels.set(l.name.clone(), l.value.clone());
                    }
                }
                labels.set(ADDRESS, address.clone());
                labels.set(SCHEME, self.config.scheme.clone());
                labels.set(ALERTS_PATH, alerts_path(&self.config.path_prefix));
                candidates.push(labels);
            }
        }
        drop(discovery);
        let relabeled = match self.relabel.process(&candidates) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("relabeling discovered Alertmanagers failed: {e}");
                return;
            }
        };
        let mut urls: Vec<String> = Vec::new();
        for labels in relabeled.into_iter().flatten() {
            match url(&labels) {
                Ok(u) if !urls.contains(&u) => urls.push(u),
                Ok(_) => {}
                Err(e) => tracing::error!("creating discovered Alertmanager failed: {e}"),
            }
        }
        *self.urls.lock() = urls;
    }

    /// Where alerts go now.
    pub fn urls(&self) -> Vec<String> {
        self.urls.lock().clone()
    }
}

/// Prometheus' `postPath`: `path.Join("/", prefix, "/api/v2/alerts")`.
fn alerts_path(prefix: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in prefix.split('/').chain(["api", "v2", "alerts"]) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn url(labels: &Labels) -> Result<String, String> {
    let address = labels.get(ADDRESS).unwrap_or_default();
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    Ok(format!(
        "{}://{}{}",
        labels.get(SCHEME).unwrap_or_default(),
        address,
        labels.get(ALERTS_PATH).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_paths_are_joined_as_go_s_path_join() {
        assert_eq!(alerts_path(""), "/api/v2/alerts");
        assert_eq!(alerts_path("/am"), "/am/api/v2/alerts");
        assert_eq!(alerts_path("am/"), "/am/api/v2/alerts");
        assert_eq!(alerts_path("/a//b/../c"), "/a/c/api/v2/alerts");
    }

    #[test]
    fn urls_come_from_the_relabeled_labels() {
        let labels = Labels::from_pairs([
            (ADDRESS, "am1:9093"),
            (SCHEME, "https"),
            (ALERTS_PATH, "/x/api/v2/alerts"),
        ]);
        assert_eq!(url(&labels).unwrap(), "https://am1:9093/x/api/v2/alerts");
        let bad = Labels::from_pairs([(ADDRESS, "http://am1:9093")]);
        assert_eq!(
            url(&bad).unwrap_err(),
            r#""http://am1:9093" is not a valid hostname"#
        );
    }
}
