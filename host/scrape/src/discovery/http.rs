//! HTTP discovery (`http_sd_configs`): a task per source fetches the URL at once and then
//! every `refresh_interval`, as Prometheus' `discovery/http` does (same headers, the same
//! Content-Type check, the refresh interval as the request's timeout), and hands the groups
//! over when they changed. A failed fetch keeps the previous groups and is logged and counted.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use wasmfed_config::{parse_http_sd, HttpSdConfig, TargetGroup};

use crate::fetch::{Fetcher, HttpClient};

/// One source: its latest groups as the job last took them.
pub(super) struct HttpSource {
    latest: Arc<Mutex<Latest>>,
    /// The version of `latest` the job last took.
    taken: u64,
    pub(super) groups: Vec<TargetGroup>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Latest {
    version: u64,
    groups: Vec<TargetGroup>,
}

impl HttpSource {
    /// Starts the source's task (inside a Tokio runtime).
    pub(super) fn start(config: HttpSdConfig, fetcher: Fetcher) -> HttpSource {
        let latest = Arc::new(Mutex::new(Latest::default()));
        let task = tokio::spawn(run(config, fetcher, latest.clone()));
        HttpSource {
            latest,
            taken: 0,
            groups: Vec::new(),
            task: Some(task),
        }
    }

    /// A source fetched once and not kept up to date (for one-off tools).
    pub(super) async fn once(
        config: &HttpSdConfig,
        fetcher: &Fetcher,
    ) -> Result<HttpSource, String> {
        let client = HttpClient::new(&config.http_client);
        let groups = fetch(config, fetcher, &client).await?;
        Ok(HttpSource {
            latest: Arc::new(Mutex::new(Latest::default())),
            taken: 0,
            groups,
            task: None,
        })
    }

    /// Takes the groups the task found since the last call; true if they changed.
    pub(super) fn refresh(&mut self) -> bool {
        let latest = self.latest.lock();
        if latest.version == self.taken {
            return false;
        }
        self.taken = latest.version;
        self.groups = latest.groups.clone();
        true
    }
}

impl Drop for HttpSource {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(config: HttpSdConfig, fetcher: Fetcher, latest: Arc<Mutex<Latest>>) {
    let client = HttpClient::new(&config.http_client);
    let refresh: Duration = config.refresh_interval.into();
    let mut ticker = tokio::time::interval(refresh);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match fetch(&config, &fetcher, &client).await {
            Ok(groups) => {
                let mut latest = latest.lock();
                if latest.version == 0 || latest.groups != groups {
                    latest.groups = groups;
                    latest.version += 1;
                }
            }
            Err(e) => {
                tracing::error!(url = %config.url, error = %e, "HTTP discovery failed; keeping the previous targets");
            }
        }
    }
}

/// Prometheus' accepted Content-Types: `application/json`, optionally with a UTF-8 charset.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let lower = value.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("application/json") else {
        return false;
    };
    let Some(params) = rest.strip_prefix(';') else {
        return rest.is_empty();
    };
    matches!(params.trim_start(), "charset=utf-8" | "charset=\"utf-8\"")
}

async fn fetch(
    config: &HttpSdConfig,
    fetcher: &Fetcher,
    client: &HttpClient,
) -> Result<Vec<TargetGroup>, String> {
    let refresh: Duration = config.refresh_interval.into();
    let answer = fetcher
        .fetch_discovery(client, &config.url, refresh, refresh, 0)
        .await
        .map_err(|e| e.to_string())?;
    let groups = if is_json(answer.content_type.as_deref()) {
        parse_http_sd(&answer.body, &config.url)
    } else {
        Err(format!(
            "unsupported content type {:?}",
            answer.content_type.as_deref().unwrap_or_default()
        ))
    };
    fetcher.recycle(answer.body);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_as_prometheus_accepts_them() {
        for (value, want) in [
            (Some("application/json"), true),
            (Some("Application/JSON"), true),
            (Some("application/json; charset=utf-8"), true),
            (Some("application/json;charset=\"utf-8\""), true),
            (Some("application/json; charset=latin1"), false),
            (Some("application/jsonx"), false),
            (Some("text/plain"), false),
            (None, false),
        ] {
            assert_eq!(is_json(value), want, "{value:?}");
        }
    }
}
