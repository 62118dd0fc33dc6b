//! Multi-tenancy: two tenants on one node, each with its own exporter, storage, token and
//! limits. A tenant reads only its own series, with its own token; a tenant over its series
//! limit loses only its new series; a tenant whose plugins loop or bomb memory does not slow
//! the other's scrapes.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::harness::*;

const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;

/// A small deterministic generator, so a failing case can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Random series: a handful of metric names and label names shared by both tenants (so
/// their label sets overlap), random values.
fn random_exposition(rng: &mut Lcg, series: usize) -> (String, BTreeSet<String>) {
    let names = [
        "http_requests_total",
        "mem_bytes",
        "up_custom",
        "queue_depth",
    ];
    let labels = ["code", "path", "region", "pod"];
    let mut text = String::new();
    let mut seen = BTreeSet::new();
    while seen.len() < series {
        let name = names[rng.next(names.len() as u64) as usize];
        let mut pairs: Vec<(String, String)> = Vec::new();
        for l in labels {
            if rng.next(2) == 0 {
                pairs.push((l.to_string(), format!("v{}", rng.next(6))));
            }
        }
        pairs.sort();
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let series = format!("{name}{{{}}}", body.join(","));
        if seen.insert(series.clone()) {
            text.push_str(&format!("{series} {}\n", rng.next(1000)));
        }
    }
    (text, seen)
}

fn tenant_config(name: &str, token: &str, exporter: SocketAddr, extra: &str) -> String {
    format!(
        "  - name: {name}\n    bearer_token: {token}\n{extra}    scrape_configs:\n      - job_name: {name}-job\n        static_configs: [{{targets: ['{exporter}']}}]\n"
    )
}

fn as_tenant(node: &Wasmfed, path: &str, tenant: &str, token: Option<&str>) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("X-Scope-OrgID", tenant)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http(node.addr, "GET", path, &headers, b"").unwrap()
}

/// The series names and labels (without job and instance) a tenant's `/federate` shows.
fn federated(node: &Wasmfed, tenant: &str, token: &str) -> BTreeSet<String> {
    let r = as_tenant(
        node,
        &format!("/federate?match[]={}", enc(r#"{__name__=~".+"}"#)),
        tenant,
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    samples_of(&r.text())
        .into_iter()
        .map(|(labels, _, _)| {
            let name = labels
                .iter()
                .find(|(k, _)| k == "__name__")
                .unwrap()
                .1
                .clone();
            let rest: Vec<String> = labels
                .iter()
                .filter(|(k, _)| !["__name__", "job", "instance"].contains(&k.as_str()))
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            format!("{name}{{{}}}", rest.join(","))
        })
        .collect()
}

#[test]
fn tenants_see_only_their_own_series_with_their_own_token() {
    for seed in [1u64, 7, 42] {
        let mut rng = Lcg(seed);
        let (text_a, series_a) = random_exposition(&mut rng, 30);
        let (text_b, series_b) = random_exposition(&mut rng, 30);
        let exporter_a = Exporter::start(move |_| Reply::Text(text_a.clone()));
        let exporter_b = Exporter::start(move |_| Reply::Text(text_b.clone()));
        // Each tenant's rule counts every series its rule plugin can read through `store`.
        let rules = "    rule_files: [count.rules]\n";
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\ntenants:\n{}{}",
            tenant_config("a", "token-a", exporter_a.addr, rules),
            tenant_config("b", "token-b", exporter_b.addr, rules),
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("count.rules"),
            "groups:\n  - name: count\n    rules:\n      - record: tenant:series:count\n        expr: count({__name__=~\".+\",job!=\"\"})\n",
        )
        .unwrap();
        let path = dir.path().join("wasmfed.yml");
        std::fs::write(&path, config).unwrap();
        let node = Wasmfed::start_with(dir, &path, &[]);
        let synthetic: BTreeSet<&str> = [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        ]
        .into();
        for (tenant, token, own, other) in [
            ("a", "token-a", &series_a, &series_b),
            ("b", "token-b", &series_b, &series_a),
        ] {
            let got = wait_for("the tenant's series", Duration::from_secs(20), || {
                let got: BTreeSet<String> = federated(&node, tenant, token)
                    .into_iter()
                    .filter(|s| {
                        let name = s.split('{').next().unwrap();
                        !synthetic.contains(name) && name != "tenant:series:count"
                    })
                    .collect();
                (got == *own).then_some(got.clone()).ok_or(format!(
                    "{} of {}",
                    got.len(),
                    own.len()
                ))
            });
            let foreign: Vec<&String> =
                other.difference(own).filter(|s| got.contains(*s)).collect();
            assert!(
                foreign.is_empty(),
                "seed {seed}: tenant {tenant} sees {foreign:?}"
            );
            let count = as_tenant(
                &node,
                &format!(
                    "/api/v1/query?query={}",
                    enc(r#"count({__name__=~".+",job!=""})"#)
                ),
                tenant,
                Some(token),
            )
            .json();
            let counted: usize = count["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                counted,
                own.len() + synthetic.len(),
                "seed {seed}: tenant {tenant}'s query"
            );
            let recorded = wait_for("the tenant's rule", Duration::from_secs(20), || {
                let query = format!("/api/v1/query?query={}", enc("tenant:series:count"));
                let r = as_tenant(&node, &query, tenant, Some(token)).json();
                r["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| *n == counted)
                    .ok_or(r.to_string())
            });
            assert_eq!(
                recorded, counted,
                "seed {seed}: tenant {tenant}'s rule saw only its own"
            );
        }
        // The node's own tenant (no header) has none of theirs.
        assert!(node.federate(&[r#"{__name__=~".+"}"#]).body.is_empty());
        let refused = [
            ("a", Some("token-b"), 403),
            ("b", Some("token-a"), 403),
            ("a", None, 401),
            ("nobody", Some("token-a"), 403),
        ];
        for (tenant, token, status) in refused {
            for path in [
                "/federate?match[]=up",
                "/api/v1/query?query=up",
                "/api/v1/targets",
            ] {
                let r = as_tenant(&node, path, tenant, token);
                assert_eq!(r.status, status, "{tenant} {token:?} {path}");
            }
        }
    }
}

#[test]
fn a_tenant_over_its_series_limit_loses_only_new_series() {
    let body: String = (0..10).map(|i| format!("m{{i=\"{i}\"}} {i}\n")).collect();
    let exporter = Exporter::start(move |_| Reply::Text(body.clone()));
    // Five synthetic series per target plus three of the ten `m` series fit under 8.
    let config = format!(
        "global: {{scrape_interval: 500ms}}\ntenants:\n{}{}",
        tenant_config(
            "small",
            "t-s",
            exporter.addr,
            "    limits: {max_series: 8}\n"
        ),
        tenant_config("big", "t-b", exporter.addr, ""),
    );
    let node = Wasmfed::start(&config);
    let count = |tenant: &str, token: &str| -> usize {
        let r = as_tenant(
            &node,
            &format!("/api/v1/query?query={}", enc("count(m)")),
            tenant,
            Some(token),
        )
        .json();
        r["data"]["result"][0]["value"][1]
            .as_str()
            .map_or(0, |v| v.parse().unwrap())
    };
    wait_for("both tenants scraped", Duration::from_secs(20), || {
        let (s, b) = (count("small", "t-s"), count("big", "t-b"));
        (s == 3 && b == 10)
            .then_some(())
            .ok_or(format!("small {s}, big {b}"))
    });
    let refused = wait_for("refusals counted", Duration::from_secs(20), || {
        node.metric(r#"wasmfed_series_refused_total{tenant="small",job="small-job"}"#)
            .filter(|n| *n >= 7.0)
            .ok_or_else(|| "not yet".to_string())
    });
    assert!(refused >= 7.0);
    // The three stored series keep flowing.
    let up = as_tenant(
        &node,
        &format!("/api/v1/query?query={}", enc("count_over_time(m[3s])")),
        "small",
        Some("t-s"),
    )
    .json();
    assert_eq!(up["data"]["result"].as_array().unwrap().len(), 3, "{up}");
    assert_eq!(
        node.metric(r#"wasmfed_series_refused_total{tenant="big",job="big-job"}"#),
        None
    );
}

#[test]
fn a_tenants_hostile_plugins_do_not_delay_another_tenants_scrapes() {
    // The identity guest spins on a series named loop_me and allocates without bound on
    // grow_me; the series stays undecided, so it is asked (and fails) on every scrape.
    let hostile = Exporter::start(|_| Reply::Text("loop_me 1\ngrow_me 2\nfine 3\n".into()));
    let calm = sequenced_exporter("calm 1\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("identity.wasm"), IDENTITY).unwrap();
    let plugins = "        series_plugins: [{file: identity.wasm, name: identity}]\n";
    let config = format!(
        "global: {{scrape_interval: 200ms, scrape_timeout: 200ms}}\ntenants:\n{}{plugins}{}",
        tenant_config(
            "rogue",
            "t-r",
            hostile.addr,
            "    limits: {plugin_memory: 32MB}\n"
        ),
        tenant_config("calm", "t-c", calm.addr, ""),
    );
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config).unwrap();
    let node = Wasmfed::start_with(dir, &path, &[]);
    wait_for("the rogue plugin failing", Duration::from_secs(30), || {
        let budget = node.metric(r#"wasmfed_plugin_failures_total{tenant="rogue",job="rogue-job",stage="series",plugin="identity",kind="budget"}"#);
        (budget >= Some(5.0))
            .then_some(())
            .ok_or(format!("{budget:?}"))
    });
    std::thread::sleep(Duration::from_secs(3));
    // Calm's scrapes go on while rogue's plugin keeps failing: every one of them is stored,
    // once (the exporter numbers them), and none failed.
    let calm_values = |expr: &str| -> Vec<f64> {
        let r = as_tenant(
            &node,
            &format!("/api/v1/query?query={}", enc(expr)),
            "calm",
            Some("t-c"),
        )
        .json();
        r["data"]["result"][0]["values"]
            .as_array()
            .unwrap_or_else(|| panic!("{expr}: {r}"))
            .iter()
            .map(|p| p[1].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let up = calm_values("up[5s]");
    assert!(up.len() >= 5, "calm scraped {} times in 5 s", up.len());
    assert!(
        up.iter().all(|v| *v == 1.0),
        "calm's scrapes all succeed: {up:?}"
    );
    let seq = calm_values("scrape_seq[5s]");
    assert_eq!(seq.len(), up.len(), "one number per scrape");
    assert_each_once("calm's scrapes while rogue's plugin fails", seq);
}

/// Threads of the node writing a write-ahead log: one per tenant whose log is open.
fn wal_writers(node: &Wasmfed) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", node.pid())).unwrap();
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "wal-writer")
        .count()
}

#[test]
fn a_tenant_stopped_by_a_reload_closes_its_log_and_comes_back_whole() {
    let exporter_a = Exporter::start(|_| Reply::Text("a_series 1\n".into()));
    let exporter_b = Exporter::start(|_| Reply::Text("b_series 2\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let (root, path) = (dir.path().to_owned(), dir.path().join("wasmfed.yml"));
    let global = "global: {scrape_interval: 200ms}\ntenants:\n";
    let (a, b) = (
        tenant_config("a", "t-a", exporter_a.addr, ""),
        tenant_config("b", "t-b", exporter_b.addr, ""),
    );
    std::fs::write(&path, format!("{global}{a}{b}")).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--web.enable-lifecycle"]);
    let reload = |config: String| {
        std::fs::write(&path, config).unwrap();
        http(node.addr, "POST", "/-/reload", &[], b"").unwrap()
    };
    let query_b = || {
        let query = enc("count_over_time(b_series[10m])");
        as_tenant(
            &node,
            &format!("/api/v1/query?query={query}"),
            "b",
            Some("t-b"),
        )
    };
    let samples_of_b = || -> u64 {
        query_b().json()["data"]["result"][0]["value"][1]
            .as_str()
            .map_or(0, |v| v.parse().unwrap())
    };
    wait_for("b's samples", Duration::from_secs(20), || {
        let n = samples_of_b();
        (n >= 10).then_some(()).ok_or(format!("{n}"))
    });
    assert_eq!(wal_writers(&node), 3, "the node's own tenant, a and b");

    let removed = reload(format!("{global}{a}"));
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        wal_writers(&node),
        2,
        "b's log closed by the time the reload answers"
    );
    let gone = query_b();
    assert_ne!(
        gone.status,
        200,
        "b is not served while removed: {}",
        gone.text()
    );

    // A new tenant whose configuration fails is stopped again, its log with it.
    std::fs::write(root.join("broken.rules"), "groups: [").unwrap();
    let c = tenant_config(
        "c",
        "t-c",
        exporter_a.addr,
        "    rule_files: [broken.rules]\n",
    );
    let refused = reload(format!("{global}{a}{c}"));
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert!(
        refused.text().contains("broken.rules"),
        "{}",
        refused.text()
    );
    assert_eq!(wal_writers(&node), 2, "c's log closed with its refusal");

    let stored = {
        let back = reload(format!("{global}{a}{b}"));
        assert_eq!(back.status, 200, "{}", back.text());
        // The returning tenant's log writer thread starts as its log opens; it may show in
        // /proc a moment after the reload's answer.
        wait_for(
            "b's log writer",
            Duration::from_secs(10),
            || match wal_writers(&node) {
                3 => Ok(()),
                n => Err(format!("{n} writers")),
            },
        );
        let answer = query_b();
        let stored = samples_of_b();
        (stored, answer.status, answer.text())
    };
    let (stored, status, text) = stored;
    assert!(
        stored >= 10,
        "b's samples from before its removal replayed: {stored} ({status}: {text})"
    );
    wait_for("b scraped again", Duration::from_secs(20), || {
        let n = samples_of_b();
        (n > stored).then_some(()).ok_or(format!("{n}"))
    });
    let log = node.log_text();
    assert!(!log.contains("checkpoint failed"), "{log}");
}

#[test]
fn a_tenants_alerts_are_named_for_it_and_seen_only_by_it() {
    let exporter_a = Exporter::start(|_| Reply::Text("temp 30\n".into()));
    let exporter_b = Exporter::start(|_| Reply::Text("temp 31\n".into()));
    let alertmanager = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    // A tenant's rule may not claim another tenant's name: the node sets `tenant` itself.
    std::fs::write(
        dir.path().join("hot.rules"),
        "groups:\n  - name: hot\n    rules:\n      - alert: Hot\n        expr: temp > 20\n        labels: {tenant: someone-else}\n",
    )
    .unwrap();
    let rules = "    rule_files: [hot.rules]\n";
    let config = format!(
        "global: {{scrape_interval: 500ms, evaluation_interval: 1s, external_labels: {{dc: eu1}}}}\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['{}']}}]}}]\ntenants:\n{}{}",
        alertmanager.addr,
        tenant_config("a", "token-a", exporter_a.addr, rules),
        tenant_config("b", "token-b", exporter_b.addr, rules),
    );
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config).unwrap();
    let node = Wasmfed::start_with(dir, &path, &[]);
    let posted = wait_for("both tenants' alerts", Duration::from_secs(30), || {
        let mut by_job = std::collections::BTreeMap::new();
        for r in alertmanager.received() {
            for a in r.body.as_array().into_iter().flatten() {
                let labels = &a["labels"];
                by_job.insert(
                    labels["job"].as_str().unwrap_or_default().to_string(),
                    (labels["tenant"].clone(), labels["dc"].clone()),
                );
            }
        }
        (by_job.len() == 2)
            .then_some(by_job.clone())
            .ok_or(format!("{by_job:?}"))
    });
    assert_eq!(
        posted,
        [
            ("a-job".to_string(), ("a".into(), "eu1".into())),
            ("b-job".to_string(), ("b".into(), "eu1".into())),
        ]
        .into()
    );
    // Each tenant's API lists its own alert only; the node's own tenant has none.
    for (tenant, token, temp) in [("a", "token-a", "3e+01"), ("b", "token-b", "3.1e+01")] {
        let r = as_tenant(&node, "/api/v1/alerts", tenant, Some(token)).json();
        let alerts = r["data"]["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{r}");
        assert_eq!(alerts[0]["value"], temp, "{r}");
        let denied = as_tenant(&node, "/api/v1/rules", tenant, Some("token-x"));
        assert_eq!(denied.status, 403);
    }
    let own = get(node.addr, "/api/v1/alerts").unwrap().json();
    assert_eq!(own["data"]["alerts"], serde_json::json!([]), "{own}");
}

#[test]
fn a_tenants_query_past_its_plugin_fuel_is_refused_with_the_reason() {
    let exporter = Exporter::start(|_| Reply::Text("m{i=\"1\"} 1\nm{i=\"2\"} 2\n".into()));
    let config = format!(
        "global: {{scrape_interval: 500ms}}\ntenants:\n{}",
        tenant_config(
            "frugal",
            "t-f",
            exporter.addr,
            "    limits: {plugin_fuel: 100000000}\n"
        ),
    );
    let node = Wasmfed::start(&config);
    let ask = |expr: &str| {
        as_tenant(
            &node,
            &format!("/api/v1/query?query={}", enc(expr)),
            "frugal",
            Some("t-f"),
        )
    };
    wait_for("the tenant scraped", Duration::from_secs(20), || {
        let r = ask("count(m)").json();
        (r["data"]["result"][0]["value"][1] == "2")
            .then_some(())
            .ok_or(format!("{r}"))
    });
    // Millions of subquery steps: far past 100M fuel.
    let r = ask("count_over_time(m[1h:1ms])");
    assert_eq!(r.status, 422, "{}", r.text());
    let body = r.json();
    assert_eq!(body["errorType"], "execution", "{body}");
    assert_eq!(
        body["error"],
        "the query needs more work than the tenant's plugin_fuel allows (100000000 per call)"
    );
    // The tenant's next query is answered.
    assert_eq!(ask("count(m)").status, 200);
}
