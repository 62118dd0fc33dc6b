use super::*;

fn read(yaml: &str) -> Result<RawScrapeConfig, String> {
    serde_yaml::from_str(yaml).map_err(|e| e.to_string())
}

fn resolve(yaml: &str, global: &GlobalConfig) -> Result<ScrapeConfig, String> {
    read(yaml)?.resolve(global, Path::new("/etc/prometheus"))
}

#[test]
fn defaults() {
    let c = resolve("job_name: node", &GlobalConfig::default()).unwrap();
    assert_eq!(
        c,
        ScrapeConfig {
            job_name: "node".into(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            static_configs: vec![],
            file_sd_configs: vec![],
            http_sd_configs: vec![],
            dns_sd_configs: vec![],
            kubernetes_sd_configs: vec![],
            docker_sd_configs: vec![],
            relabel_configs: vec![],
            metric_relabel_configs: vec![],
            sample_limit: 0,
            body_size_limit: 0,
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
}

#[test]
fn interval_and_timeout_follow_global() {
    let s = Duration::from_secs;
    let global = GlobalConfig {
        scrape_interval: s(30),
        scrape_timeout: s(20),
        ..GlobalConfig::default()
    };
    for (yaml, interval, timeout) in [
        ("job_name: a", s(30), s(20)),
        // Only an interval smaller than the global timeout: the timeout becomes the interval.
        ("job_name: a\nscrape_interval: 5s", s(5), s(5)),
        ("job_name: a\nscrape_interval: 1m", s(60), s(20)),
        ("job_name: a\nscrape_timeout: 25s", s(30), s(25)),
        (
            "job_name: a\nscrape_interval: 0s\nscrape_timeout: 0",
            s(30),
            s(20),
        ),
    ] {
        let c = resolve(yaml, &global).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert_eq!(
            (c.scrape_interval, c.scrape_timeout),
            (interval, timeout),
            "{yaml}"
        );
    }
    assert_eq!(
        resolve("job_name: x\nscrape_timeout: 31s", &global).unwrap_err(),
        r#"scrape timeout greater than scrape interval for scrape config with job name "x""#
    );
    assert!(resolve(
        "job_name: x\nscrape_interval: 5s\nscrape_timeout: 6s",
        &global
    )
    .is_err());
}

#[test]
fn limits_follow_global() {
    let global = GlobalConfig {
        sample_limit: 100,
        body_size_limit: 1 << 20,
        ..GlobalConfig::default()
    };
    let c = resolve("job_name: a", &global).unwrap();
    assert_eq!((c.sample_limit, c.body_size_limit), (100, 1 << 20));
    let c = resolve(
        "job_name: a\nsample_limit: 7\nbody_size_limit: 2KiB",
        &global,
    )
    .unwrap();
    assert_eq!((c.sample_limit, c.body_size_limit), (7, 2048));
    // Negative is "no limit" in Prometheus, and does not fall back to the global one.
    let c = resolve("job_name: a\nbody_size_limit: -1B", &global).unwrap();
    assert_eq!(c.body_size_limit, 0);
}

#[test]
fn fields() {
    let yaml = r#"
job_name: federate
honor_labels: yes
honor_timestamps: false
metrics_path: /federate
params:
  'match[]': ['{job="prometheus"}', '{__name__=~"job:.*"}']
  empty:
static_configs:
  - targets: ['a:9090', 'b:9090']
    labels: {dc: eu1}
  - targets: ['c:9090']
file_sd_configs:
  - files: ['targets/*.json']
"#;
    let c = resolve(yaml, &GlobalConfig::default()).unwrap();
    assert!(c.honor_labels);
    assert!(!c.honor_timestamps);
    assert_eq!(c.metrics_path, "/federate");
    assert_eq!(
        c.params.get("match[]").unwrap(),
        &["{job=\"prometheus\"}", "{__name__=~\"job:.*\"}"]
    );
    assert_eq!(c.params.get("empty").unwrap(), &Vec::<String>::new());
    let sources: Vec<_> = c.static_configs.iter().map(|g| g.source.as_str()).collect();
    assert_eq!(sources, ["0", "1"]);
    assert_eq!(c.static_configs[0].labels.get("dc"), Some("eu1"));
    assert_eq!(
        c.file_sd_configs[0].files,
        ["/etc/prometheus/targets/*.json"]
    );
}

#[test]
fn errors() {
    for (yaml, message) in [
        ("scrape_interval: 1m", "job_name is empty"),
        ("job_name: ''", "job_name is empty"),
        (
            "job_name: a\nscheme: ftp",
            "invalid scheme \"ftp\" for scrape config with job name \"a\"",
        ),
        (
            "job_name: a\nscrape_intervl: 1m",
            "unknown field `scrape_intervl`, expected one of `job_name`",
        ),
        ("job_name: a\njob_name: b", "duplicate field `job_name`"),
        (
            "job_name: a\nstatic_configs: [~]",
            "empty or null section in static_configs",
        ),
        (
            "job_name: a\nfile_sd_configs:\n  -",
            "empty or null section in file_sd_configs",
        ),
        (
            "job_name: a\nrelabel_configs: [~]",
            "empty or null target relabeling rule in scrape config",
        ),
        (
            "job_name: a\nmetric_relabel_configs: [~]",
            "empty or null metric relabeling rule in scrape config",
        ),
        (
            "job_name: a\nstatic_configs: [{targets: ['http://h:80/metrics']}]",
            r#""http://h:80/metrics" is not a valid hostname"#,
        ),
        (
            "job_name: a\nstatic_configs: [{targets: [h], labels: {0: x}}]",
            r#""0" is not a valid label name"#,
        ),
        (
            "job_name: a\noauth2: {client_id: c, token: t}",
            "unknown field `token`",
        ),
        (
            "job_name: a\nproxy_connect_header: [a]",
            "proxy_connect_header: invalid type: sequence",
        ),
        (
            "job_name: a\ntls_config: {ca_flie: ca.pem}",
            "tls_config: unknown field `ca_flie`",
        ),
        (
            "job_name: a\nconsul_sd_configs: [{server: c}]",
            "consul_sd_configs: not supported by wasmfed yet",
        ),
        (
            "job_name: a\nsample_limit: -1",
            "invalid type: integer `-1`, expected u64",
        ),
        (
            "job_name: a\nscrape_interval: 1",
            r#"scrape_interval: not a valid duration string: "1""#,
        ),
    ] {
        let err = read(yaml)
            .err()
            .unwrap_or_else(|| panic!("{yaml}: accepted"));
        assert!(
            err.contains(message),
            "{yaml}\n  got: {err}\n  want: {message}"
        );
    }
    // A URL is fine when relabeling can still rewrite it.
    assert!(read(
        "job_name: a\nstatic_configs: [{targets: ['h/x']}]\nrelabel_configs: [{action: keep}]"
    )
    .is_ok());
}

#[test]
fn fallback_protocol_and_newer_keys_follow_the_generation() {
    let v2 = GlobalConfig {
        compat: Compat::V2,
        ..GlobalConfig::default()
    };
    let v3 = GlobalConfig::default();
    let job = |key: &str| format!("job_name: a\n{key}");
    for (yaml, global, want) in [
        ("", &v2, Ok(None)),
        ("", &v3, Ok(None)),
        ("fallback_scrape_protocol:", &v3, Ok(None)),
        (
            "fallback_scrape_protocol: PrometheusText0.0.4",
            &v3,
            Ok(Some(ScrapeProtocol::PrometheusText0_0_4)),
        ),
        (
            "fallback_scrape_protocol: OpenMetricsText1.0.0",
            &v3,
            Ok(Some(ScrapeProtocol::OpenMetricsText1_0_0)),
        ),
        (
            "fallback_scrape_protocol: PrometheusText0.0.4",
            &v2,
            Err("field fallback_scrape_protocol not found in type config.ScrapeConfig"),
        ),
        (
            "fallback_scrape_protocol: text",
            &v3,
            Err(
                "invalid fallback_scrape_protocol for scrape config with job name \"a\": \
                     unknown scrape protocol text, supported: [OpenMetricsText0.0.1",
            ),
        ),
        (
            "fallback_scrape_protocol: PrometheusProto",
            &v3,
            Err("PrometheusProto: not supported by wasmfed yet"),
        ),
        ("metric_name_validation_scheme: legacy", &v3, Ok(None)),
        // Prometheus 3 lets rules write UTF-8 names unless the job asks for legacy ones.
        ("relabel_configs: [{target_label: a.b}]", &v3, Ok(None)),
        (
            "metric_name_validation_scheme: legacy\nmetric_relabel_configs: [{target_label: a.b}]",
            &v3,
            Err("\"a.b\" is invalid 'target_label' for replace action"),
        ),
        (
            "relabel_configs: [{target_label: a.b}]",
            &v2,
            Err("\"a.b\" is invalid 'target_label' for replace action"),
        ),
        (
            "metric_name_validation_scheme: legacy",
            &v2,
            Err("field metric_name_validation_scheme not found in type config.ScrapeConfig"),
        ),
        (
            "http_headers: {X-Scope-OrgID: {values: [a]}}",
            &v2,
            Err("field http_headers not found in type config.ScrapeConfig"),
        ),
        (
            "http_headers: {X-Scope-OrgID: {values: [a]}}",
            &v3,
            Ok(None),
        ),
        // Added during 2.x, not a difference of 3: accepted (and ignored) in both.
        ("scrape_protocols: [PrometheusText0.0.4]", &v2, Ok(None)),
    ] {
        let yaml = job(yaml);
        let release = global.compat.regex_release();
        let got = relabel_config::with_release(release, || read(&yaml))
            .and_then(|raw| raw.resolve(global, Path::new("/")));
        match (got, want) {
            (Ok(c), Ok(fallback)) => {
                assert_eq!(c.fallback_scrape_protocol, fallback, "{yaml}");
                assert_eq!(c.compat, global.compat, "{yaml}");
            }
            (Err(e), Err(message)) => assert!(e.contains(message), "{yaml}: {e}"),
            (got, want) => panic!("{yaml}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn harmless_known_keys_are_kept_for_warnings() {
    let raw = read(
        "job_name: a\nfollow_redirects: true\nenable_compression: true\nconsul_sd_configs: []",
    )
    .unwrap();
    let keys: Vec<_> = raw.ignored.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["enable_compression", "consul_sd_configs"]);
}

#[test]
fn federation_every_sample_is_read_and_checked() {
    let read = |extra: &str| {
        resolve(
            &format!("job_name: leaves\n{extra}"),
            &GlobalConfig::default(),
        )
        .map(|c| c.federation)
    };
    let on = read("federation:\n  every_sample: true\n").unwrap();
    assert!(on.every_sample);
    assert_eq!(on.max_samples_per_request, 250_000);
    assert_eq!(read("").unwrap(), Default::default());
    let ha = read("federation: {replica_label: replica, failover_timeout: 10s}\n").unwrap();
    assert_eq!(
        (ha.replica_label.as_str(), ha.cluster_label.as_str()),
        ("replica", "cluster")
    );
    assert_eq!(
        ha.failover_timeout.as_std(),
        std::time::Duration::from_secs(10)
    );
    let refused = [
        (
            "honor_timestamps: false\nfederation: {every_sample: true}\n",
            "cannot be used with honor_timestamps: false",
        ),
        (
            "federation: {max_samples_per_request: 0}\n",
            "must be from 1 to 10000000",
        ),
        ("federation: {every: true}\n", "unknown field `every`"),
        (
            "federation: {replica_label: 'a-b'}\n",
            "\"a-b\" is not a valid label name",
        ),
        (
            "federation: {replica_label: cluster}\n",
            "replica_label and cluster_label of scrape config with job name \"leaves\" must differ",
        ),
        ("federation: {failover_timeout: 0s}\n", "must be positive"),
        (
            "federation: {remote_read: true}\n",
            "reads the series of its 'match[]' params: there are none",
        ),
    ];
    for (extra, reason) in refused {
        let err = read(extra).unwrap_err();
        assert!(err.contains(reason), "{extra}: {err}");
    }
}

#[test]
fn shard_handover_is_read_and_checked() {
    let read = |extra: &str| {
        resolve(
            &format!("job_name: node\n{extra}"),
            &GlobalConfig::default(),
        )
        .map(|c| c.shard_handover)
    };
    assert_eq!(read("").unwrap(), None);
    let on = read("shard_handover: {peers: ['a:9090', 'http://b:9090/prom']}\n")
        .unwrap()
        .unwrap();
    assert_eq!(on.peers, ["a:9090", "http://b:9090/prom"]);
    assert_eq!(on.max_wait.as_std(), std::time::Duration::from_secs(300));
    for (extra, reason) in [
        ("shard_handover: {max_wait: 0s}\n", "must be positive"),
        (
            "shard_handover: {peers: ['a b']}\n",
            "\"a b\" is not an address",
        ),
        ("shard_handover: {peer: []}\n", "unknown field `peer`"),
    ] {
        let err = read(extra).unwrap_err();
        assert!(err.contains(reason), "{extra}: {err}");
    }
}
