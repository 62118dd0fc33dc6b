//! `/api/v1/status/*`: what Prometheus' status pages read, in its JSON shapes, so Grafana's
//! data source check and an operator's scripts get their answers from a node.
//!
//! - `buildinfo`: the Prometheus version whose API the node answers as (`--query.compat`:
//!   2.42.0 or 3.0.0; Grafana gates features on it) and wasmfed's own version as `revision`;
//! - `config`: the configuration as last loaded, scoped to the tenant (the node's own tenant
//!   sees the file without `tenants:`, a tenant its own entry), every secret shown as
//!   `<secret>` as Prometheus shows them; it is the file's text, not Prometheus' re-marshalled
//!   form with every default spelled out;
//! - `flags`: every command-line flag with its value;
//! - `runtimeinfo`: start time, working directory, reload state, WAL corruptions, threads
//!   (as `goroutineCount`), cores (as `GOMAXPROCS`), retention;
//! - `tsdb`: the tenant's head: series, label pairs, chunks, time range and the ten largest of
//!   Prometheus' four cardinality lists.

use std::time::{Duration, UNIX_EPOCH};

use http::{Response, StatusCode};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

use super::body::ResponseBody;
use super::query::{error, success_data as success};
use super::targets::rfc3339_nano;
use wasmfed_config::DEFAULT_TENANT;
use wasmfed_model::compat::Compat;
use wasmfed_node::tenant::Tenant;
use wasmfed_node::NodeState;
use wasmfed_storage::Stat;

/// Keys whose values Prometheus hides (its `config.Secret` fields), and wasmfed's tokens.
const SECRET_KEYS: &[&str] = &[
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "key",
    "token",
    "secret_key",
];

pub fn buildinfo(tenant: &Tenant) -> Response<ResponseBody> {
    let version = match tenant.compat() {
        Compat::V2 => "2.42.0",
        Compat::V3 => "3.0.0",
    };
    success(json!({
        "version": version,
        "revision": format!("wasmfed {}", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

pub fn flags(state: &NodeState) -> Response<ResponseBody> {
    success(json!(state.status.flags))
}

pub fn runtimeinfo(state: &NodeState) -> Response<ResponseBody> {
    let telemetry = &state.telemetry;
    let last_config =
        UNIX_EPOCH + Duration::from_secs(telemetry.reload_success_time.get().max(0) as u64);
    success(json!({
        "startTime": rfc3339_nano(Some(state.status.started)),
        "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "reloadConfigSuccess": telemetry.reload_successful.get() == 1,
        "lastConfigTime": rfc3339_nano(Some(last_config)),
        "corruptionCount": telemetry.wal.corruptions.get(),
        "goroutineCount": threads(),
        "GOMAXPROCS": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": state.status.storage_retention,
    }))
}

pub fn config(state: &NodeState, tenant: &Tenant) -> Response<ResponseBody> {
    let source = state
        .config_source
        .read()
        .expect("config source lock")
        .clone();
    let parsed: Yaml = match serde_yaml::from_str(&source) {
        Ok(parsed) => parsed,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("reading the loaded configuration: {e}"),
            )
        }
    };
    let mut scoped = scope(parsed, &tenant.name);
    hide_secrets(&mut scoped);
    let yaml = match &scoped {
        Yaml::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default(),
    };
    success(json!({ "yaml": yaml }))
}

pub fn tsdb(tenant: &Tenant) -> Response<ResponseBody> {
    let stats = tenant.head.stats();
    let list = |stats: &[Stat]| -> Value {
        stats
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    };
    // An empty head reports Prometheus' sentinels: its minimum is the largest time, its
    // maximum the smallest.
    let (min_time, max_time) = stats.time_range.unwrap_or((i64::MAX, i64::MIN));
    success(json!({
        "headStats": {
            "numSeries": stats.num_series,
            "numLabelPairs": stats.num_label_pairs,
            "chunkCount": stats.chunk_count,
            "minTime": min_time,
            "maxTime": max_time,
        },
        "seriesCountByMetricName": list(&stats.series_count_by_metric_name),
        "labelValueCountByLabelName": list(&stats.label_value_count_by_label_name),
        "memoryInBytesByLabelName": list(&stats.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": list(&stats.series_count_by_label_value_pair),
    }))
}

/// The part of the configuration `tenant` may see: the top level without `tenants:` for the
/// node's own tenant, its own entry of `tenants:` for another.
fn scope(config: Yaml, tenant: &str) -> Yaml {
    let Yaml::Mapping(mut top) = config else {
        return Yaml::Null;
    };
    let tenants = top.remove("tenants");
    if tenant == DEFAULT_TENANT {
        return Yaml::Mapping(top);
    }
    let Some(Yaml::Sequence(entries)) = tenants else {
        return Yaml::Null;
    };
    entries
        .into_iter()
        .find(|e| e.get("name").and_then(Yaml::as_str) == Some(tenant))
        .unwrap_or(Yaml::Null)
}

/// Replaces the value of every secret key, at any depth, with `<secret>`.
fn hide_secrets(value: &mut Yaml) {
    match value {
        Yaml::Mapping(map) => {
            for (key, value) in map.iter_mut() {
                let secret = key.as_str().is_some_and(|k| SECRET_KEYS.contains(&k));
                if secret && !matches!(value, Yaml::Null) {
                    *value = Yaml::String("<secret>".into());
                } else {
                    hide_secrets(value);
                }
            }
        }
        Yaml::Sequence(items) => items.iter_mut().for_each(hide_secrets),
        Yaml::Tagged(tagged) => hide_secrets(&mut tagged.value),
        _ => {}
    }
}

/// The process's threads, from `/proc/self/status` (0 where there is none).
fn threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
global:
  scrape_interval: 15s
admin:
  bearer_token: hunter2
scrape_configs:
  - job_name: a
    basic_auth: {username: u, password: p4ss}
    authorization: {credentials: c}
    tls_config: {key: inline-key, key_file: /k.pem}
    oauth2: {client_id: id, client_secret: s}
tenants:
  - name: team-a
    bearer_token: team-a-token
    scrape_configs: [{job_name: b, bearer_token_file: /t}]
  - name: team-b
    bearer_token: team-b-token
"#;

    fn shown(tenant: &str) -> String {
        let mut scoped = scope(serde_yaml::from_str(CONFIG).unwrap(), tenant);
        hide_secrets(&mut scoped);
        serde_yaml::to_string(&scoped).unwrap()
    }

    #[test]
    fn each_tenant_sees_its_own_configuration_without_secrets() {
        let own = shown(DEFAULT_TENANT);
        for secret in ["hunter2", "p4ss", "inline-key", "team-a-token"] {
            assert!(!own.contains(secret), "{secret} in {own}");
        }
        for kept in [
            "username: u",
            "key_file: /k.pem",
            "client_id: id",
            "job_name: a",
            "client_secret: <secret>",
            "credentials: <secret>",
        ] {
            assert!(own.contains(kept), "{kept} missing from {own}");
        }
        assert!(!own.contains("tenants"), "{own}");
        let a = shown("team-a");
        assert!(
            a.contains("name: team-a") && a.contains("job_name: b"),
            "{a}"
        );
        assert!(a.contains("bearer_token: <secret>") && a.contains("bearer_token_file: /t"));
        assert!(!a.contains("team-b") && !a.contains("job_name: a"), "{a}");
        assert_eq!(shown("nobody"), "null\n");
    }
}
