use std::path::Path;

use super::super::{Config, Duration};
use wasmfed_model::compat::Compat;

fn load(yaml: &str) -> Result<super::super::Loaded, String> {
    Config::from_yaml(yaml, Path::new("/etc/prometheus"), Compat::V3).map_err(|e| e.to_string())
}

#[test]
fn alertmanager_sets_are_read_with_prometheus_defaults() {
    let loaded = load(
        r#"
alerting:
  alert_relabel_configs:
    - {action: labeldrop, regex: replica}
  alertmanagers:
    - static_configs: [{targets: ['am1:9093', 'am2:9093']}]
    - scheme: https
      path_prefix: /am
      timeout: 3s
      api_version: v2
      basic_auth: {username: u, password: p}
      file_sd_configs: [{files: [am/*.json]}]
      relabel_configs: [{target_label: __scheme__, replacement: http}]
      consul_sd_configs: []
"#,
    )
    .unwrap();
    let alerting = &loaded.config.alerting;
    assert_eq!(alerting.alert_relabel_configs.len(), 1);
    let [first, second] = &alerting.alertmanagers[..] else {
        panic!("{alerting:?}")
    };
    assert_eq!(first.scheme, "http");
    assert_eq!(first.path_prefix, "");
    assert_eq!(first.timeout, Duration::from_secs(10));
    assert_eq!(first.static_configs[0].targets.len(), 2);
    assert_eq!(second.scheme, "https");
    assert_eq!(second.path_prefix, "/am");
    assert_eq!(second.timeout, Duration::from_secs(3));
    assert!(second.http_client.auth.is_some());
    assert_eq!(
        second.file_sd_configs[0].files,
        ["/etc/prometheus/am/*.json"]
    );
    assert_eq!(second.relabel_configs.len(), 1);
    assert_eq!(
        loaded.warnings,
        ["alerting.alertmanagers[1].consul_sd_configs: ignored (wasmfed discovers targets with static_configs, file_sd_configs, http_sd_configs, dns_sd_configs, kubernetes_sd_configs and docker_sd_configs; file_sd or http_sd can feed it any other source's targets)"]
    );
}

#[test]
fn an_empty_alerting_section_sends_nowhere() {
    for yaml in [
        "alerting:\n",
        "alerting: {}\n",
        "alerting: {alertmanagers: []}\n",
        "",
    ] {
        let loaded = load(yaml).unwrap();
        assert!(loaded.config.alerting.alertmanagers.is_empty(), "{yaml}");
        assert!(loaded.warnings.is_empty(), "{yaml}: {:?}", loaded.warnings);
    }
}

#[test]
fn bad_alerting_sections_are_refused_with_the_reason() {
    for (yaml, message) in [
        (
            "alerting: {alertmanagers: [{api_version: v3}]}\n",
            "expected Alertmanager api version to be one of [v1 v2] but got v3",
        ),
        (
            "alerting: {alertmanagers: [{api_version: v1}]}\n",
            "api_version v1: not supported by wasmfed",
        ),
        (
            "alerting: {alertmanagers: [{scheme: ftp}]}\n",
            r#"invalid scheme "ftp" for Alertmanager config"#,
        ),
        (
            "alerting: {alertmanagers: [{static_configs: [{targets: ['http://am:9093']}]}]}\n",
            "is not a valid hostname",
        ),
        (
            "alerting: {alertmanagers: [null]}\n",
            "empty or null section in alertmanagers",
        ),
        (
            "alerting: {alert_relabel_configs: [null]}\n",
            "empty or null alert relabeling rule",
        ),
        (
            "alerting: {alertmanager: []}\n",
            "unknown field `alertmanager`",
        ),
        (
            "alerting: {alertmanagers: [{consul_sd_configs: [{server: 'c:8500'}]}]}\n",
            "consul_sd_configs: not supported by wasmfed yet",
        ),
    ] {
        let err = load(yaml)
            .err()
            .unwrap_or_else(|| panic!("accepted: {yaml}"));
        assert!(
            err.contains(message),
            "{yaml}\n  got: {err}\n  want: {message}"
        );
    }
}
