use std::path::Path;

use super::super::{
    Auth, Config, Duration, HttpClientConfig, Loaded, PluginRef, PluginSource, RelabelAction,
    RelabelConfig, Secret, TlsConfig,
};
use super::{MetadataConfig, QueueConfig, RemoteWriteConfig};
use wasmfed_model::compat::Compat;

fn load_as(yaml: &str, compat: Compat) -> Result<Loaded, String> {
    Config::from_yaml(yaml, Path::new("/etc/prometheus"), compat).map_err(|e| e.to_string())
}

fn load(yaml: &str) -> Result<Loaded, String> {
    load_as(yaml, Compat::V3)
}

/// The one entry of a top-level `remote_write` list.
fn entry(yaml: &str) -> RemoteWriteConfig {
    let loaded = load(yaml).unwrap_or_else(|e| panic!("{yaml}\n{e}"));
    let [entry] = &loaded.config.remote_write[..] else {
        panic!("{:?}", loaded.config.remote_write)
    };
    entry.clone()
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn defaults_are_the_generations() {
    let yaml = "remote_write:\n  - url: http://vm:8428/api/v1/write\n";
    for (compat, queue, metadata_batch, http2) in [
        (
            Compat::V2,
            QueueConfig {
                capacity: 2500,
                max_shards: 200,
                min_shards: 1,
                max_samples_per_send: 500,
                batch_send_deadline: s(5),
                min_backoff: ms(30),
                max_backoff: s(5),
                retry_on_http_429: false,
            },
            500,
            true,
        ),
        (
            Compat::V3,
            QueueConfig {
                capacity: 10_000,
                max_shards: 50,
                min_shards: 1,
                max_samples_per_send: 2000,
                batch_send_deadline: s(5),
                min_backoff: ms(30),
                max_backoff: s(5),
                retry_on_http_429: false,
            },
            2000,
            false,
        ),
    ] {
        let loaded = load_as(yaml, compat).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(
            loaded.config.remote_write,
            [RemoteWriteConfig {
                url: "http://vm:8428/api/v1/write".into(),
                name: String::new(),
                remote_timeout: s(30),
                headers: vec![],
                write_relabel_configs: vec![],
                series_plugins: vec![],
                send_exemplars: false,
                send_native_histograms: false,
                queue_config: queue,
                metadata_config: MetadataConfig {
                    send: true,
                    send_interval: s(60),
                    max_samples_per_send: metadata_batch,
                },
                http_client: HttpClientConfig {
                    enable_http2: http2,
                    ..HttpClientConfig::default()
                },
            }],
            "{compat:?}"
        );
        assert_eq!(QueueConfig::defaults(compat), queue);
    }
    assert_eq!(QueueConfig::default(), QueueConfig::defaults(Compat::V3));
    assert_eq!(
        MetadataConfig::default(),
        MetadataConfig::defaults(Compat::V3)
    );
}

#[test]
fn no_remote_write_sends_nowhere() {
    for yaml in ["", "remote_write:\n", "remote_write: []\n"] {
        let loaded = load(yaml).unwrap();
        assert!(loaded.config.remote_write.is_empty(), "{yaml}");
        assert!(loaded.warnings.is_empty(), "{yaml}: {:?}", loaded.warnings);
    }
}

#[test]
fn every_key() {
    let loaded = load(
        r#"
remote_write:
  - url: https://receiver.example/api/v1/push
    name: central
    remote_timeout: 10s
    headers: {X-Scope-OrgID: team-a, A-Header: ~, x-api-key: k3y}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
    series_plugins:
      - {stock: relabel, config: {rules: []}}
      - {file: plugins/redact.wasm, name: redact}
    send_exemplars: yes
    send_native_histograms: true
    protobuf_message: prometheus.WriteRequest
    sigv4: ~
    azuread:
    google_iam: ~
    round_robin_dns: true
    basic_auth: {username: u, password_file: secrets/rw.pass}
    tls_config: {ca_file: ca.pem, server_name: receiver}
    follow_redirects: false
    enable_http2: true
    queue_config:
      capacity: 100
      max_shards: 4
      min_shards: 2
      max_samples_per_send: 50
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 10s
      retry_on_http_429: true
      sample_age_limit: 0s
    metadata_config: {send: false, send_interval: 2m, max_samples_per_send: 0}
"#,
    )
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [
            "remote_write[0].round_robin_dns: ignored (wasmfed connects to the URL's host as its HTTP client resolves it)",
            "remote_write[0].queue_config.sample_age_limit: ignored (wasmfed sends samples of any age)",
        ]
    );
    assert_eq!(
        loaded.config.remote_write,
        [RemoteWriteConfig {
            url: "https://receiver.example/api/v1/push".into(),
            name: "central".into(),
            remote_timeout: s(10),
            headers: vec![
                ("A-Header".into(), String::new()),
                ("X-Scope-OrgID".into(), "team-a".into()),
                ("x-api-key".into(), "k3y".into()),
            ],
            write_relabel_configs: vec![RelabelConfig {
                source_labels: vec!["__name__".into()],
                regex: promregex::Pattern::new("go_.*").unwrap(),
                action: RelabelAction::Drop,
                ..RelabelConfig::default()
            }],
            series_plugins: vec![
                PluginRef {
                    name: "relabel".into(),
                    source: PluginSource::Stock("relabel".into()),
                    sha256: None,
                    config_json: r#"{"rules":[]}"#.into(),
                },
                PluginRef {
                    name: "redact".into(),
                    source: PluginSource::File("/etc/prometheus/plugins/redact.wasm".into()),
                    sha256: None,
                    config_json: "null".into(),
                },
            ],
            send_exemplars: true,
            send_native_histograms: true,
            queue_config: QueueConfig {
                capacity: 100,
                max_shards: 4,
                min_shards: 2,
                max_samples_per_send: 50,
                batch_send_deadline: s(1),
                min_backoff: ms(100),
                max_backoff: s(10),
                retry_on_http_429: true,
            },
            metadata_config: MetadataConfig {
                send: false,
                send_interval: s(120),
                max_samples_per_send: 0,
            },
            http_client: HttpClientConfig {
                auth: Some(Auth::Basic {
                    username: Some(Secret::Inline("u".into())),
                    password: Some(Secret::File("/etc/prometheus/secrets/rw.pass".into())),
                }),
                tls: TlsConfig {
                    ca: Some(Secret::File("/etc/prometheus/ca.pem".into())),
                    server_name: Some("receiver".into()),
                    ..TlsConfig::default()
                },
                follow_redirects: false,
                enable_http2: true,
                ..HttpClientConfig::default()
            },
        }]
    );
}

#[test]
fn written_keys_override_defaults_and_null_is_zero() {
    let rw = |body: &str| format!("remote_write:\n  - url: http://r/w\n{body}");
    // Each written key replaces its default only; null is Go's zero value, as yaml.v2 decodes
    // it over Prometheus' defaults.
    for (body, queue, metadata) in [
        (
            "    queue_config: {max_shards: 10}\n",
            QueueConfig {
                max_shards: 10,
                ..QueueConfig::default()
            },
            MetadataConfig::default(),
        ),
        (
            "    queue_config: {}\n    metadata_config: {}\n",
            QueueConfig::default(),
            MetadataConfig::default(),
        ),
        (
            "    queue_config: {min_backoff: ~, retry_on_http_429: on}\n",
            QueueConfig {
                min_backoff: Duration::ZERO,
                retry_on_http_429: true,
                ..QueueConfig::default()
            },
            MetadataConfig::default(),
        ),
        (
            "    metadata_config:\n",
            QueueConfig::default(),
            MetadataConfig {
                send: false,
                send_interval: Duration::ZERO,
                max_samples_per_send: 0,
            },
        ),
        (
            "    metadata_config: {send: false, send_interval: ~}\n",
            QueueConfig::default(),
            MetadataConfig {
                send: false,
                send_interval: Duration::ZERO,
                ..MetadataConfig::default()
            },
        ),
    ] {
        let e = entry(&rw(body));
        assert_eq!(
            (e.queue_config, e.metadata_config),
            (queue, metadata),
            "{body}"
        );
    }
}

#[test]
fn queue_checks_follow_the_generations_defaults() {
    // 2.42's 200 shards admit 100 at least; 3's 50 do not.
    let yaml = "remote_write:\n  - url: http://r/w\n    queue_config: {min_shards: 100}\n";
    let v2 = load_as(yaml, Compat::V2).unwrap().config.remote_write;
    assert_eq!(v2[0].queue_config.min_shards, 100);
    let err = load_as(yaml, Compat::V3).unwrap_err();
    assert!(
        err.ends_with("remote_write[0].queue_config: remote write queue min_shards must not be greater than max_shards (min_shards 100, max_shards 50)"),
        "{err}"
    );
}

#[test]
fn bad_entries_are_refused_with_the_reason() {
    let rw = |body: &str| format!("remote_write:\n  - url: http://r/w\n{body}");
    for (yaml, message) in [
        ("remote_write: [null]\n".to_string(), "\"<inline>\": empty or null remote write config section"),
        ("remote_write:\n  -\n".into(), "empty or null remote write config section"),
        ("remote_write:\n  - name: a\n".into(), "remote_write[0]: url for remote_write is empty at line 2 column 5"),
        ("remote_write:\n  - url:\n".into(), "url for remote_write is empty"),
        ("remote_write:\n  - url: ftp://r/w\n".into(), r#"invalid url "ftp://r/w" for remote_write: URL scheme must be 'http' or 'https'"#),
        ("remote_write:\n  - url: r:8428/api/v1/write\n".into(), "URL scheme must be 'http' or 'https'"),
        ("remote_write:\n  - url: http:///w\n".into(), "host is missing in URL"),
        ("remote_write: {url: http://r/w}\n".into(), "remote_write: invalid type: map, expected a sequence"),
        (rw("    urls: [http://s/w]\n"), "remote_write[0]: unknown field `urls`, expected one of `url`, `name`, `remote_timeout`"),
        (rw("    url: http://s/w\n"), "duplicate field `url`"),
        (rw("    remote_timeout: 0s\n"), "remote_timeout must be greater than 0"),
        (rw("    remote_timeout: 1x\n"), "remote_write[0].remote_timeout: unknown unit"),
        (
            rw("    headers: {Authorization: Bearer x}\n"),
            "authorization header must be changed via the basic_auth, authorization, oauth2, or sigv4 parameter",
        ),
        (rw("    headers: {User-Agent: me}\n"), "User-Agent is a reserved header. It must not be changed"),
        (rw("    headers: {x-amz-date: now}\n"), "x-amz-date is a reserved header. It must not be changed"),
        (rw("    headers: {'X Org': a}\n"), r#"invalid header name "X Org""#),
        (rw("    headers: {X-Org: a, x-org: b}\n"), r#"header "x-org" is written twice (also as "X-Org")"#),
        (rw("    headers: {X-Org: a, X-Org: b}\n"), r#"key "X-Org" already set in map"#),
        (rw("    headers: {X-Org: \"a\\r\\nHost: evil\"}\n"), "a value may not contain a line break"),
        (rw("    write_relabel_configs: [null]\n"), "empty or null relabeling rule in remote write config"),
        (
            rw("    write_relabel_configs: [{action: hashmod, target_label: t}]\n"),
            "remote_write[0].write_relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus",
        ),
        (rw("    sigv4: {region: eu-west-1}\n"), "remote_write[0]: sigv4: not supported by wasmfed yet"),
        (rw("    sigv4: {}\n"), "sigv4: not supported by wasmfed yet"),
        (rw("    azuread: {cloud: AzurePublic}\n"), "azuread: not supported by wasmfed yet"),
        (rw("    google_iam: {credentials_file: k.json}\n"), "google_iam: not supported by wasmfed yet"),
        (
            rw("    protobuf_message: io.prometheus.write.v2.Request\n"),
            "protobuf_message io.prometheus.write.v2.Request: not supported by wasmfed yet",
        ),
        (
            rw("    protobuf_message: v2\n"),
            "invalid protobuf_message value: unknown remote write protobuf message v2, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request",
        ),
        (
            rw("    basic_auth: {username: u}\n    authorization: {credentials: c}\n"),
            "remote_write[0]: at most one of basic_auth, oauth2 & authorization must be configured",
        ),
        (rw("    tls_config: {cert_file: c.pem}\n"), "remote_write[0]: exactly one of key or key_file must be configured"),
        (rw("    series_plugins: [{config: {}}]\n"), "remote_write[0].series_plugins[0]: a plugin needs `stock: <name>` or `file: <path>`"),
        (rw("    queue_config: {max_shard: 1}\n"), "remote_write[0].queue_config: unknown field `max_shard`, expected one of `capacity`"),
        (rw("    queue_config: {capacity: -1}\n"), "remote_write[0].queue_config.capacity: invalid type: integer `-1`, expected usize"),
        (rw("    queue_config:\n"), "remote_write[0].queue_config: remote write queue max_shards must be positive"),
        (rw("    queue_config: {max_shards: 0}\n"), "remote write queue max_shards must be positive"),
        (rw("    queue_config: {min_shards: 0}\n"), "remote write queue min_shards must be positive"),
        (
            rw("    queue_config: {min_shards: 2, max_shards: 1}\n"),
            "remote_write[0].queue_config: remote write queue min_shards must not be greater than max_shards (min_shards 2, max_shards 1)",
        ),
        (rw("    queue_config: {max_samples_per_send: 0}\n"), "remote write queue max_samples_per_send must be positive"),
        (rw("    queue_config: {capacity: ~}\n"), "remote write queue capacity must be positive"),
        (
            rw("    queue_config: {min_backoff: 10s}\n"),
            "remote write queue max_backoff must not be less than min_backoff (min_backoff 10s, max_backoff 5s)",
        ),
        (rw("    queue_config: {sample_age_limit: 1h}\n"), "sample_age_limit: not supported by wasmfed yet (wasmfed sends samples of any age)"),
        (
            rw("    metadata_config: {send_interval: 0s}\n"),
            "remote_write[0].metadata_config: send_interval must be greater than 0 when metadata is sent",
        ),
        (rw("    metadata_config: {max_samples_per_send: 0}\n"), "max_samples_per_send must be positive when metadata is sent"),
        (rw("    metadata_config: {sent: false}\n"), "remote_write[0].metadata_config: unknown field `sent`, expected one of `send`"),
        (
            "remote_write:\n  - {url: http://a/w, name: x}\n  - {url: http://b/w, name: x}\n".into(),
            "found multiple remote write configs with job name \"x\"",
        ),
    ] {
        let err = load(&yaml).err().unwrap_or_else(|| panic!("accepted:\n{yaml}"));
        assert!(err.contains(message), "{yaml}\n  got: {err}\n  want: {message}");
    }
}

#[test]
fn unnamed_entries_may_repeat() {
    let loaded = load(
        "remote_write:\n  - url: http://a/w\n  - url: http://a/w\n  - {url: http://b/w, name: b}\n",
    )
    .unwrap();
    let names: Vec<_> = loaded
        .config
        .remote_write
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["", "", "b"]);
}

#[test]
fn files_are_resolved_against_the_config_files_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("org.txt"), "team-a").unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(
        &path,
        r#"
remote_write:
  - url: https://r/w
    authorization: {credentials_file: tokens/rw.token}
    tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: ./k.pem}
    http_headers: {X-Org: {files: [org.txt]}}
    series_plugins: [{file: p.wasm}]
"#,
    )
    .unwrap();
    let config = Config::load(&path, Compat::V3).unwrap().config;
    let rw = &config.remote_write[0];
    let d = dir.path().display();
    let file = |rel: &str| Some(Secret::File(format!("{d}/{rel}").into()));
    assert_eq!(
        rw.http_client.auth,
        Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials: file("tokens/rw.token"),
        })
    );
    assert_eq!(rw.http_client.tls.ca, file("ca.pem"));
    assert_eq!(
        rw.http_client.tls.cert,
        Some(Secret::File("/abs/c.pem".into()))
    );
    assert_eq!(rw.http_client.tls.key, file("./k.pem"));
    assert_eq!(
        rw.http_client.headers,
        [("X-Org".to_string(), vec![file("org.txt").unwrap()])]
    );
    assert_eq!(
        rw.series_plugins[0].source,
        PluginSource::File(format!("{d}/p.wasm").into())
    );
}

#[test]
fn tenants_send_their_own_lists() {
    let pin = "c".repeat(64);
    let loaded = load(&format!(
        r#"
remote_write:
  - {{url: http://central/w, name: main}}
tenants:
  - name: team-a
    bearer_token: t
    remote_write:
      - url: http://mimir/api/v1/push
        name: main
        headers: {{X-Scope-OrgID: a-in-mimir}}
        round_robin_dns: false
  - name: team-b
    bearer_token: u
    allowed_plugins: ['{pin}']
    remote_write:
      - url: http://mimir/api/v1/push
        series_plugins: [{{file: scrub.wasm, sha256: '{pin}'}}]
  - name: team-c
    bearer_token: v
"#
    ))
    .unwrap();
    let config = &loaded.config;
    assert_eq!(config.remote_write[0].url, "http://central/w");
    let [a, b, c] = &config.tenants[..] else {
        panic!("{:?}", config.tenants)
    };
    assert_eq!(a.remote_write[0].name, "main", "names are unique per list");
    assert_eq!(
        a.remote_write[0].headers,
        [("X-Scope-OrgID".to_string(), "a-in-mimir".to_string())]
    );
    assert_eq!(
        b.remote_write[0].series_plugins[0].sha256.as_deref(),
        Some(pin.as_str())
    );
    assert!(
        c.remote_write.is_empty(),
        "no tenant inherits the top level's"
    );
    assert_eq!(
        loaded.warnings,
        [
            r#"tenant "team-a": remote_write[0].round_robin_dns: ignored (wasmfed connects to the URL's host as its HTTP client resolves it)"#
        ]
    );

    let tenant = |entries: &str| {
        format!("tenants:\n  - name: a\n    bearer_token: t\n    allowed_plugins: ['{pin}']\n    remote_write: {entries}\n")
    };
    for (entries, message) in [
        (
            "[{url: 'http://r/w', series_plugins: [{file: p.wasm}]}]",
            r#"tenant "a": plugin "p" (/etc/prometheus/p.wasm) has no sha256 pin"#,
        ),
        (
            "[{url: 'http://r/w', queue_config: {max_shards: 0}}]",
            r#"tenant "a": remote_write[0].queue_config: remote write queue max_shards must be positive"#,
        ),
        (
            "[{url: 'http://r/w', name: x}, {url: 'http://s/w', name: x}]",
            r#"tenant "a": found multiple remote write configs with job name "x""#,
        ),
        ("[null]", "empty or null remote write config section"),
        ("[{name: x}]", "url for remote_write is empty"),
    ] {
        let err = load(&tenant(entries)).unwrap_err();
        assert!(
            err.contains(message),
            "{entries}\n  got: {err}\n  want: {message}"
        );
    }
}

#[test]
fn real_world_examples() {
    // Grafana Cloud: basic auth with an API key from a file, only the series that are paid for.
    let grafana = entry(
        r#"
remote_write:
  - url: https://prometheus-prod-24-prod-eu-west-2.grafana.net/api/prom/push
    basic_auth:
      username: "1234567"
      password_file: /run/secrets/grafana-cloud-key
    write_relabel_configs:
      - source_labels: [__name__]
        regex: "up|node_cpu_seconds_total|node_memory_.*|job:.*"
        action: keep
"#,
    );
    assert_eq!(
        grafana.http_client.auth,
        Some(Auth::Basic {
            username: Some(Secret::Inline("1234567".into())),
            password: Some(Secret::File("/run/secrets/grafana-cloud-key".into())),
        })
    );
    let keep = &grafana.write_relabel_configs[0];
    assert_eq!(keep.action, RelabelAction::Keep);
    assert_eq!(keep.source_labels, ["__name__"]);
    assert_eq!(
        keep.regex,
        promregex::Pattern::new("up|node_cpu_seconds_total|node_memory_.*|job:.*").unwrap()
    );
    assert_eq!(grafana.queue_config, QueueConfig::default());

    // VictoriaMetrics, tuned for a high-volume node.
    let vm = entry(
        r#"
remote_write:
  - url: http://victoriametrics:8428/api/v1/write
    name: vm
    remote_timeout: 1m
    queue_config:
      max_samples_per_send: 10000
      capacity: 20000
      max_shards: 30
    metadata_config:
      send: false
"#,
    );
    assert_eq!(vm.name, "vm");
    assert_eq!(vm.remote_timeout, s(60));
    assert_eq!(
        vm.queue_config,
        QueueConfig {
            max_samples_per_send: 10_000,
            capacity: 20_000,
            max_shards: 30,
            ..QueueConfig::default()
        }
    );
    assert!(!vm.metadata_config.send);
    assert_eq!(vm.http_client.auth, None);
}

#[test]
fn header_values_stay_out_of_logs() {
    let rw = entry("remote_write:\n  - url: http://r/w\n    headers: {X-Api-Key: s3cret}\n");
    let debug = format!("{rw:?}");
    assert!(debug.contains("X-Api-Key"), "{debug}");
    assert!(!debug.contains("s3cret"), "{debug}");
}
