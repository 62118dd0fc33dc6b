//! HTTP discovery (`http_sd_configs`): the URL fetched at once and then every
//! `refresh_interval` ([`PolledSource`]), as Prometheus' `discovery/http` fetches it: the same
//! headers, the same Content-Type check, the refresh interval as the request's timeout.

use std::sync::Arc;
use std::time::Duration;

use wasmfed_config::{parse_http_sd, HttpSdConfig, TargetGroup};

use super::polled::{Counters, PolledSource};
use crate::fetch::{Fetcher, HttpClient};

/// Starts the source's task: a fetch at once, then every `refresh_interval`.
pub(super) fn start(config: HttpSdConfig, fetcher: Fetcher, counters: Counters) -> PolledSource {
    let client = Arc::new(HttpClient::new(&config.http_client));
    let refresh: Duration = config.refresh_interval.into();
    let config = Arc::new(config);
    PolledSource::start(
        format!("http_sd {}", config.url),
        refresh,
        counters,
        move || {
            let (config, fetcher, client) = (config.clone(), fetcher.clone(), client.clone());
            async move { fetch(&config, &fetcher, &client).await }
        },
    )
}

/// The source fetched once (for one-off tools).
pub(super) async fn once(config: &HttpSdConfig, fetcher: &Fetcher) -> Result<PolledSource, String> {
    let client = HttpClient::new(&config.http_client);
    Ok(PolledSource::fixed(fetch(config, fetcher, &client).await?))
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
