//! Whole-file tests: the example deployments, a config using every key, and the errors and
//! warnings an operator sees.

use std::path::{Path, PathBuf};

use super::*;
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn inline(yaml: &str) -> Result<Loaded, String> {
    Config::from_yaml(yaml, Path::new("/etc/prometheus"), Compat::V3).map_err(|e| e.to_string())
}

#[test]
fn federation_global_node() {
    let loaded = Config::load(&example("federation/global.yml"), Compat::V3).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let job = &loaded.config.scrape_configs[0];
    assert_eq!(job.job_name, "federate");
    assert_eq!(job.scrape_interval, Duration::from_secs(15));
    assert_eq!(job.scrape_timeout, Duration::from_secs(10));
    assert!(job.honor_labels);
    assert_eq!(job.metrics_path, "/federate");
    assert_eq!(
        job.params["match[]"],
        [r#"{job="prometheus"}"#, r#"{__name__=~"job:.*"}"#]
    );
    assert_eq!(
        job.static_configs[0].targets,
        [
            "source-prometheus-1:9090",
            "source-prometheus-2:9090",
            "source-prometheus-3:9090"
        ]
    );
}

#[test]
fn shard_node() {
    let loaded = Config::load(&example("sharding/shard-1.yml"), Compat::V3).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    // `slave: 1` is an integer in YAML and a label value to Prometheus.
    assert_eq!(
        config.global.external_labels,
        Labels::from_pairs([("slave", "1")])
    );
    let relabel = &config.scrape_configs[0].relabel_configs;
    assert_eq!(
        relabel[0],
        RelabelConfig {
            source_labels: vec!["__address__".into()],
            modulus: 4,
            target_label: "__tmp_hash".into(),
            action: RelabelAction::HashMod,
            ..RelabelConfig::default()
        }
    );
    assert_eq!(
        relabel[1],
        RelabelConfig {
            source_labels: vec!["__tmp_hash".into()],
            regex: promregex::Pattern::new("^1$").unwrap(),
            action: RelabelAction::Keep,
            ..RelabelConfig::default()
        }
    );
}

#[test]
fn shard_master() {
    let config = Config::load(&example("sharding/master.yml"), Compat::V3)
        .unwrap()
        .config;
    let job = &config.scrape_configs[0];
    assert!(job.honor_labels);
    assert_eq!(job.params["match[]"], [r#"{__name__=~"^slave:.*"}"#]);
    assert_eq!(job.static_configs[0].targets.len(), 4);
}

#[test]
fn prometheus_default_config() {
    let loaded = Config::load(&example("prometheus-default.yml"), Compat::V3).unwrap();
    assert_eq!(
        loaded.warnings,
        [
            "scrape_configs[0].scrape_native_histograms: ignored (wasmfed scrapes text formats, whose histograms are classic)",
        ]
    );
    let config = loaded.config;
    assert!(config.rule_files.is_empty());
    assert_eq!(config.global.evaluation_interval, Duration::from_secs(15));
    assert_eq!(
        config.scrape_configs[0].static_configs[0].labels.get("app"),
        Some("prometheus")
    );
}

#[test]
fn every_supported_key() {
    let yaml = r#"
global:
  scrape_interval: 30s
  scrape_timeout: 20s
  evaluation_interval: 1m30s
  external_labels: {dc: eu1, replica: 0}
  body_size_limit: 100MB
  sample_limit: 50000
rule_files: [rules/*.yml, /abs/more.yml]
scrape_configs:
  - job_name: node
    scrape_interval: 10s
    scrape_timeout: 5s
    metrics_path: /probe
    scheme: http
    params: {module: [http_2xx]}
    honor_labels: false
    honor_timestamps: false
    static_configs:
      - targets: [a:9100]
        labels: {env: prod}
    file_sd_configs:
      - files: [targets/*.json]
        refresh_interval: 1m
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
    metric_relabel_configs:
      - action: labeldrop
        regex: tmp_.*
    sample_limit: 1000
    body_size_limit: 1MB
  - job_name: defaults
"#;
    let loaded = inline(yaml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let s = Duration::from_secs;
    let config = loaded.config;
    assert_eq!(
        config.global,
        GlobalConfig {
            scrape_interval: s(30),
            scrape_timeout: s(20),
            evaluation_interval: s(90),
            external_labels: Labels::from_pairs([("dc", "eu1"), ("replica", "0")]),
            body_size_limit: 100 << 20,
            sample_limit: 50000,
            compat: Compat::V3,
            names: Default::default(),
        }
    );
    assert_eq!(
        config.rule_files,
        ["/etc/prometheus/rules/*.yml", "/abs/more.yml"]
    );
    assert_eq!(
        config.scrape_configs[0],
        ScrapeConfig {
            job_name: "node".into(),
            scrape_interval: s(10),
            scrape_timeout: s(5),
            metrics_path: "/probe".into(),
            scheme: "http".into(),
            params: [("module".to_string(), vec!["http_2xx".to_string()])].into(),
            honor_labels: false,
            honor_timestamps: false,
            static_configs: vec![TargetGroup {
                targets: vec!["a:9100".into()],
                target_labels: vec![],
                labels: Labels::from_pairs([("env", "prod")]),
                source: "0".into(),
            }],
            file_sd_configs: vec![FileSdConfig {
                files: vec!["/etc/prometheus/targets/*.json".into()],
                refresh_interval: s(60),
            }],
            http_sd_configs: vec![],
            dns_sd_configs: vec![],
            kubernetes_sd_configs: vec![],
            docker_sd_configs: vec![],
            relabel_configs: vec![RelabelConfig {
                source_labels: vec!["__address__".into()],
                target_label: "__param_target".into(),
                ..RelabelConfig::default()
            }],
            metric_relabel_configs: vec![RelabelConfig {
                regex: promregex::Pattern::new("tmp_.*").unwrap(),
                action: RelabelAction::LabelDrop,
                ..RelabelConfig::default()
            }],
            sample_limit: 1000,
            body_size_limit: 1 << 20,
            fallback_scrape_protocol: None,
            compat: Compat::V3,
            names: Default::default(),
            target_plugins: vec![],
            series_plugins: vec![],
            http_client: HttpClientConfig::default(),
            federation: Default::default(),
            shard_handover: None,
        }
    );
    let defaults = &config.scrape_configs[1];
    assert_eq!(
        (defaults.scrape_interval, defaults.scrape_timeout),
        (s(30), s(20))
    );
    assert_eq!(
        (defaults.sample_limit, defaults.body_size_limit),
        (50000, 100 << 20)
    );
}

#[test]
fn empty_files_are_the_default_config() {
    for yaml in [
        "",
        "~",
        "# nothing\n",
        "global:\nscrape_configs:\nrule_files:\n",
    ] {
        let config = inline(yaml).unwrap().config;
        assert_eq!(config.global, GlobalConfig::default(), "{yaml:?}");
        assert!(config.scrape_configs.is_empty());
    }
}

#[test]
fn errors() {
    let job = |body: &str| format!("scrape_configs:\n  - job_name: x\n{body}");
    for (yaml, message) in [
        (
            "scrape_configs:\n  - job_name: x\n    scrape_interval: 1m\n\n    scrape_intervl: 5s\n".to_string(),
            "loading config file \"<inline>\": scrape_configs[0]: unknown field `scrape_intervl`, expected one of `job_name`, `scrape_interval`",
        ),
        (job("    scrape_intervl: 5s\n"), "at line 3 column 5"),
        (
            job("    scrape_interval: 5s\n    scrape_timeout: 10s\n"),
            "loading config file \"<inline>\": scrape timeout greater than scrape interval for scrape config with job name \"x\"",
        ),
        (
            "scrape_configs:\n  - job_name: x\n  - job_name: x\n".into(),
            "found multiple scrape configs with job name \"x\"",
        ),
        ("scrape_configs:\n  - scheme: http\n".into(), "scrape_configs[0]: job_name is empty at line 2 column 5"),
        ("scrape_configs:\n  -\n".into(), "empty or null scrape config section"),
        (job("    scheme: ftp\n"), "invalid scheme \"ftp\""),
        (
            job("    basic_auth:\n      username: u\n    bearer_token: t\n"),
            "loading config file \"<inline>\": at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (job("    no_proxy: localhost\n"), "if no_proxy is configured, proxy_url must also be configured"),
        ("remote_write:\n  - url: vm:8428/api/v1/write\n".into(), "remote_write[0]: invalid url \"vm:8428/api/v1/write\" for remote_write: URL scheme must be 'http' or 'https' at line 2 column 5"),
        ("remote_write:\n  - url: http://vm:8428/api/v1/write\n    sigv4: {region: eu-west-1}\n".into(), "sigv4: not supported by wasmfed yet"),
        (
            "storage:\n  tsdb:\n    out_of_order_time_window: 30m\n".into(),
            "storage: not supported by wasmfed yet (wasmfed stores neither out-of-order samples nor exemplars)",
        ),
        ("storage:\n  exemplars:\n    max_exemplars: 100000\n".into(), "storage: not supported by wasmfed yet"),
        ("alertmanager: {}\n".into(), "unknown field `alertmanager`, expected one of `global`, `scrape_configs`, `rule_files`"),
        ("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n".into(), "global scrape timeout greater than scrape interval"),
        ("global:\n  external_labels:\n    1dc: eu\n".into(), "global.external_labels: \"1dc\" is not a valid label name at line 3 column 5"),
        ("global:\n  scrape_interval: 1.5m\n".into(), "global.scrape_interval: unknown unit \".\" in duration \"1.5m\" at line 2 column 20"),
        ("rule_files: ['rules/*/x.yml']\n".into(), "rule_files[0]: invalid rule file path \"rules/*/x.yml\""),
        (
            job("    relabel_configs:\n      - action: hashmod\n        target_label: t\n"),
            "scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus at line 4 column 9",
        ),
        (job("    file_sd_configs:\n      - files: [t.txt]\n"), "path name \"t.txt\" is not valid for file discovery"),
        ("scrape_configs: {job_name: x}\n".into(), "scrape_configs: invalid type: map, expected a sequence"),
        ("global: [1]\n".into(), "global: invalid type: sequence, expected the global section"),
    ] {
        let err = inline(&yaml).err().unwrap_or_else(|| panic!("accepted:\n{yaml}"));
        assert!(err.contains(message), "{yaml}\n  got: {err}\n  want: {message}");
    }
}

#[test]
fn warnings_name_each_ignored_key_once() {
    let yaml = r#"
global:
  query_log_file: /tmp/q.log
  label_limit: 0
alerting:
  alertmanagers: []
remote_read:
  - url: http://remote/read
storage:
  tsdb: {out_of_order_time_window: 0s}
  exemplars: {max_exemplars: 0}
scrape_configs:
  - job_name: a
    follow_redirects: true
    enable_http2: false
    tls_config: {insecure_skip_verify: false}
    scrape_classic_histograms: true
    consul_sd_configs: []
"#;
    assert_eq!(
        inline(yaml).unwrap().warnings,
        [
            "remote_read: ignored (wasmfed answers queries from its own storage only)",
            "storage: ignored (wasmfed stores neither out-of-order samples nor exemplars)",
            "global.query_log_file: ignored (wasmfed logs to stderr)",
            "global.label_limit: ignored (wasmfed does not enforce this limit)",
            "scrape_configs[0].scrape_classic_histograms: ignored (classic histograms are always scraped)",
            "scrape_configs[0].consul_sd_configs: ignored (wasmfed discovers targets with static_configs, file_sd_configs, http_sd_configs, dns_sd_configs, kubernetes_sd_configs and docker_sd_configs; file_sd or http_sd can feed it any other source's targets)",
        ]
    );
}

#[test]
fn load_resolves_paths_against_the_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yml");
    std::fs::write(
        &path,
        "rule_files: [rules.yml]\nscrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['./sd/*.json']\n",
    )
    .unwrap();
    let config = Config::load(&path, Compat::V3).unwrap().config;
    let d = dir.path().display();
    assert_eq!(config.rule_files, [format!("{d}/rules.yml")]);
    assert_eq!(
        config.scrape_configs[0].file_sd_configs[0].files,
        [format!("{d}/sd/*.json")]
    );

    std::fs::write(
        &path,
        "scrape_configs:\n  - job_name: x\n    scrape_intervl: 5s\n",
    )
    .unwrap();
    let err = Config::load(&path, Compat::V3).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("loading config file {path:?}: scrape_configs[0]: unknown field `scrape_intervl`, expected one of `job_name`, `scrape_interval`, `scrape_timeout`, `metrics_path`, `scheme`, `params`, `honor_labels`, `honor_timestamps`, `static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs`, `kubernetes_sd_configs`, `docker_sd_configs`, `relabel_configs`, `metric_relabel_configs`, `sample_limit`, `body_size_limit`, `fallback_scrape_protocol`, `target_plugins`, `series_plugins`, `federation`, `shard_handover`, `metric_name_validation_scheme`, `metric_name_escaping_scheme`, `basic_auth`, `authorization`, `bearer_token`, `bearer_token_file`, `tls_config`, `follow_redirects`, `enable_http2`, `http_headers`, `oauth2`, `proxy_url`, `no_proxy`, `proxy_from_environment`, `proxy_connect_header` at line 3 column 5")
    );

    let missing = dir.path().join("missing.yml");
    let err = Config::load(&missing, Compat::V3).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("reading config file {missing:?}: ")),
        "{err}"
    );
}

#[test]
fn every_example_config_loads() {
    let pattern = example("**/*.yml");
    let mut loaded = 0;
    for path in glob::glob(pattern.to_str().unwrap()).unwrap() {
        let path = path.unwrap();
        // `wasmfed plugin test` fixtures and a JS example's installed packages
        // (examples/pii-scrubber) are not configurations.
        let not_config = path.file_name().is_some_and(|n| n == "fixture.yml")
            || path.components().any(|c| c.as_os_str() == "node_modules");
        if not_config {
            continue;
        }
        Config::load(&path, Compat::V3).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        loaded += 1;
    }
    assert!(loaded >= 6, "only {loaded} example configs found");
    let rules = example("**/*.rules");
    let mut groups = 0;
    for path in glob::glob(rules.to_str().unwrap()).unwrap() {
        let path = path.unwrap();
        let file = RuleFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        groups += file.groups.len();
    }
    assert!(groups >= 4, "only {groups} example rule groups found");
}

#[test]
fn merge_keys_are_applied_as_yaml_v2_applies_them() {
    let yaml = r#"
x-job-defaults: &defaults
  scrape_interval: 30s
  scrape_timeout: 10s
  metrics_path: /probe
scrape_configs:
  - <<: *defaults
    job_name: a
    static_configs: [{targets: ['a:1']}]
  - <<: *defaults
    job_name: b
    metrics_path: /metrics
    static_configs: [{targets: ['b:1']}]
"#;
    // yaml.v2 refuses an unknown top-level key even when it only holds an anchor.
    let err = inline(yaml).unwrap_err();
    assert!(err.contains("unknown field `x-job-defaults`"), "{err}");
    let yaml = r#"
scrape_configs:
  - &defaults
    job_name: a
    scrape_interval: 30s
    metrics_path: /probe
    static_configs: [{targets: ['a:1']}]
  - <<: *defaults
    job_name: b
    metrics_path: /metrics
"#;
    let config = inline(yaml).unwrap().config;
    let b = &config.scrape_configs[1];
    assert_eq!(b.job_name, "b");
    assert_eq!(b.scrape_interval, Duration::from_secs(30));
    assert_eq!(b.metrics_path, "/metrics", "the mapping's own key wins");
    assert_eq!(b.static_configs[0].targets, ["a:1"]);
}

#[test]
fn kubernetes_sd_configs_are_read_for_jobs_and_alertmanagers() {
    let yaml = r#"
alerting:
  alertmanagers:
    - kubernetes_sd_configs: [{role: pod, namespaces: {names: [monitoring]}}]
scrape_configs:
  - job_name: a
    kubernetes_sd_configs:
      - role: node
        api_server: https://k8s:6443
        bearer_token_file: token
"#;
    let loaded = inline(yaml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let job = &loaded.config.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(job.role, crate::KubernetesRole::Node);
    assert_eq!(job.api_server.as_deref(), Some("https://k8s:6443"));
    let am = &loaded.config.alerting.alertmanagers[0].kubernetes_sd_configs[0];
    assert_eq!(am.namespaces, ["monitoring"]);

    let err = inline(
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: [{role: service, bearer_token: t}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("to use custom HTTP client configuration please provide the 'api_server' URL explicitly"),
        "{err}"
    );
}
