//! `wasmfed plugin test`: a plugin run offline on a fixture, as a plugin author's CI runs it.
//! Target and series fixtures with the rendezvous example; rule fixtures with the stock PromQL
//! plugin on series in promtool's notation, including an alert's `for` across cases.

use std::path::Path;

/// `wasmfed plugin test PLUGIN --fixture F` with `fixture` written to `dir`: exit status,
/// stdout, stderr.
fn plugin_test(dir: &Path, plugin: &str, fixture: &str) -> (Option<i32>, String, String) {
    let path = dir.join("fixture.yml");
    std::fs::write(&path, fixture).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .args(["plugin", "test", plugin, "--fixture"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plugin_test_runs_a_fixture_and_names_the_differences() {
    let dir = tempfile::tempdir().unwrap();
    let shard = dir.path().join("rendezvous.wasm");
    std::fs::write(&shard, wasmfed_artifacts::RENDEZVOUS_SHARD).unwrap();
    let run = |fixture: &str| plugin_test(dir.path(), shard.to_str().unwrap(), fixture);
    let fixture = |expect: &str| {
        format!(
            "world: target\nconfig: {{nodes: [a], self: a}}\ncases:\n  - name: one node keeps all\n    \
             input: ['{{__address__=\"h:1\",job=\"j\"}}']\n    expect: [{expect}]\n"
        )
    };
    let (code, text, _) = run(&fixture("'{__address__=\"h:1\",job=\"j\"}'"));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("ok   one node keeps all (1 targets, "),
        "{text}"
    );
    assert!(text.contains(" fuel, "), "{text}");
    let (code, text, _) = run(&fixture("null"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL one node keeps all"), "{text}");
    assert!(text.contains("want dropped"), "{text}");
    let (code, _, err) = run("world: shard\ncases: []\n");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("runs target, series and rule plugins"),
        "{err}"
    );
}

/// Recording and alerting rules of the stock PromQL plugin over promtool-style input: rates
/// over a counter, an aggregation, an alert pending then firing as its `for` passes across
/// cases, a failing rule's error, and a wrong expectation shown as want/got.
#[test]
fn rule_fixtures_evaluate_stored_series_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = |expect_sum: &str| {
        format!(
            r#"world: rule
config:
  groups:
    - name: g
      rules:
        - record: job:requests:rate1m
          expr: sum by (job) (rate(requests_total[1m]))
        - record: job:up:sum
          expr: sum by (job) (up)
        - record: bad
          expr: 'label_replace(up, "x", "$1", "job", "(")'
        - alert: Down
          expr: up == 0
          for: 1m
interval: 30s
input_series:
  - series: 'requests_total{{job="api",instance="a"}}'
    values: '0+60x10'
  - series: 'requests_total{{job="api",instance="b"}}'
    values: '0+30x10'
  - series: 'up{{job="api",instance="a"}}'
    values: '1x10'
  - series: 'up{{job="api",instance="b"}}'
    values: '1 1 0x8'
cases:
  - name: all up
    at: 30s
    expect:
      job:up:sum: ['job:up:sum{{job="api"}} {expect_sum}']
      bad: {{error: 'invalid regular expression in label_replace(): ('}}
  - name: b down, the alert pending
    at: 90s
    expect:
      job:requests:rate1m: ['job:requests:rate1m{{job="api"}} 3']
      job:up:sum: ['job:up:sum{{job="api"}} 1']
      Down: ['ALERTS{{alertname="Down",alertstate="pending",instance="b",job="api"}} 1', 'ALERTS_FOR_STATE{{alertname="Down",instance="b",job="api"}} 90']
  - name: a minute later it fires
    at: 150s
    expect:
      Down: ['ALERTS{{alertname="Down",alertstate="firing",instance="b",job="api"}} 1', 'ALERTS_FOR_STATE{{alertname="Down",instance="b",job="api"}} 90']
"#
        )
    };
    let (code, out, err) = plugin_test(dir.path(), "stock:promql-rules", &fixture("2"));
    assert_eq!(code, Some(0), "{out}{err}");
    for case in [
        "ok   all up (4 rules, 2 checked, ",
        "ok   b down, the alert pending (4 rules, 3 checked, ",
        "ok   a minute later it fires (",
    ] {
        assert!(out.contains(case), "{case}: {out}");
    }
    let (code, out, _) = plugin_test(dir.path(), "stock:promql-rules", &fixture("3"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL all up") && out.contains("{__name__=\"job:up:sum\", job=\"api\"} 2"),
        "{out}"
    );
    let (code, _, err) = plugin_test(
        dir.path(),
        "stock:promql-rules",
        "world: rule\ninput_series: [{series: 'up', values: '1 x'}]\ncases: []\n",
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("\"x\" in values \"1 x\""), "{err}");
}

/// `wasmfed relabel test --record DIR` writes one fixture per plugin step of a real
/// configuration (relabel rules as the stock plugin, a shard plugin, metric relabeling), each
/// naming its plugin; `plugin test` replays each as recorded, and fails once the plugin's
/// configuration no longer answers the same.
#[test]
fn relabel_test_records_fixtures_that_plugin_test_replays() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmfed.yml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: app\n    static_configs:\n      \
         - targets: ['a:9100', 'b:9100', 'c:9100', 'd:9100', 'debug:9100']\n    \
         relabel_configs:\n      - {source_labels: [__address__], regex: 'debug.*', action: drop}\n    \
         target_plugins:\n      - {stock: hashmod-shard, config: {modulus: 2, shard: 0}}\n    \
         metric_relabel_configs:\n      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n",
    )
    .unwrap();
    let fixtures = dir.path().join("fixtures");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .args([
            "relabel",
            "test",
            "--job",
            "app",
            "--series",
            "go_goroutines",
        ])
        .args(["--series", "up_time{a=\"b\"}", "--config"])
        .arg(&config)
        .arg("--record")
        .arg(&fixtures)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("recorded 3 fixtures"), "{said}");
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "app-series-2-metric_relabel_configs.yml",
            "app-target-0-relabel_configs.yml",
            "app-target-1-hashmod-shard.yml"
        ]
    );
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // The fixture says which plugin it replays.
        let plugin = text
            .lines()
            .find_map(|l| l.strip_prefix("# Run: wasmfed plugin test "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no plugin named in {text}"));
        let (code, out, err) = plugin_test(dir.path(), plugin, &text);
        assert_eq!(code, Some(0), "{}: {out}{err}\n{text}", file.display());
        assert!(out.starts_with("ok   as recorded ("), "{out}");
    }
    // Four targets pass the relabel rules to the shard plugin, which keeps one of them here;
    // the other shard answers differently.
    let shard = std::fs::read_to_string(&files[2]).unwrap();
    assert_eq!(shard.matches("__address__=").count(), 4 + 1, "{shard}");
    let other_shard = shard.replace("shard: 0", "shard: 1");
    assert_ne!(other_shard, shard);
    let (code, out, _) = plugin_test(dir.path(), "stock:hashmod-shard", &other_shard);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL as recorded"), "{out}");
}

const ADMIN_TOKEN: &str = "record-me";

/// `GET /api/v1/plugins/{name}/fixture` and `wasmfed plugin record`: a live node's plugin
/// step recorded as a fixture, at the target stage (the job's discovered targets through the
/// relabel rules before the plugin) and at the series stage (a target's next scrape through
/// the metric relabeling before the plugin); each passes against the component the node
/// runs. Clear 4xx answers for what cannot be recorded, 401 without the admin token.
#[test]
fn a_live_node_records_a_plugin_step_as_a_fixture_plugin_test_passes() {
    use crate::harness::{free_port, http, static_job, wait_for, Exporter, Reply, Wasmfed};
    use std::time::Duration;

    let exporter = Exporter::start(|_| {
        Reply::Text("go_goroutines 5\ndrop_me 1\nlogins_total{email=\"a\"} 3\n".into())
    });
    let silent = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let (shard, keeper) = (
        dir.path().join("shard.wasm"),
        dir.path().join("keeper.wasm"),
    );
    std::fs::write(&shard, wasmfed_artifacts::RENDEZVOUS_SHARD).unwrap();
    std::fs::write(&keeper, wasmfed_artifacts::IDENTITY).unwrap();
    let plugins = "    relabel_configs: [{target_label: team, replacement: x}]\n    \
         target_plugins: [{file: shard.wasm, name: shard, config: {nodes: [a], self: a}}]\n    \
         metric_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]\n    \
         series_plugins: [{file: keeper.wasm, name: keeper}]\n";
    let mut config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nadmin: {{bearer_token: {ADMIN_TOKEN}}}\n\
         scrape_configs:\n"
    );
    config.push_str(&static_job("app", &[exporter.addr], plugins).replace(
        &format!("'{}'", exporter.addr),
        &format!("'{}', '{silent}'", exporter.addr),
    ));
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, &config).unwrap();
    let node = Wasmfed::start_with(tempfile::tempdir().unwrap(), &path, &[]);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let ask = |path: &str, token: bool| {
        let headers: Vec<(&str, &str)> = match token {
            true => vec![("Authorization", auth.as_str())],
            false => Vec::new(),
        };
        http(node.addr, "GET", path, &headers, b"").unwrap()
    };
    wait_for("the job's targets", Duration::from_secs(60), || {
        let r = ask("/api/v1/plugins/shard/fixture?job=app", true);
        (r.status == 200).then_some(()).ok_or(r.text())
    });

    for (path, token, status, says) in [
        (
            "/api/v1/plugins/shard/fixture?job=app",
            false,
            401,
            "missing or wrong admin bearer token",
        ),
        (
            "/api/v1/plugins/shard/fixture?job=nope",
            true,
            404,
            "no running job \"nope\" (jobs: app)",
        ),
        (
            "/api/v1/plugins/shard/fixture",
            true,
            400,
            "missing parameter: job",
        ),
        (
            "/api/v1/plugins/shard/fixture?job=app&stage=series",
            true,
            404,
            "runs no plugin \"shard\" at its series stage",
        ),
        (
            "/api/v1/plugins/nope/fixture?job=app",
            true,
            404,
            "no live plugin named \"nope\"",
        ),
        (
            "/api/v1/plugins/keeper/fixture?job=app",
            true,
            400,
            "scrapes 2 targets: say which with target=INSTANCE",
        ),
        (
            "/api/v1/plugins/keeper/fixture?job=app&target=nowhere:1",
            true,
            404,
            "scrapes no target \"nowhere:1\"",
        ),
    ] {
        let r = ask(path, token);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(says), "{path}: {}", r.text());
    }

    let record = |plugin: &str, target: Option<&str>, token: &str, out: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmfed"));
        command
            .args([
                "plugin",
                "record",
                "--from",
                &format!("http://{}", node.addr),
            ])
            .args(["--plugin", plugin, "--job", "app", "-o"])
            .arg(dir.path().join(out))
            .env("WASMFED_ADMIN_TOKEN", token);
        if let Some(target) = target {
            command.args(["--target", target]);
        }
        command.output().unwrap()
    };
    // The command says what the node said.
    let refused = record("shard", None, "wrong", "refused.yml");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("HTTP 401: missing or wrong admin bearer token"),
        "{err}"
    );
    let unknown = record("nope", None, ADMIN_TOKEN, "unknown.yml");
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("HTTP 404: tenant"), "{err}");
    assert!(err.contains("no live plugin named \"nope\""), "{err}");

    let exporter_addr = exporter.addr.to_string();
    for (plugin, target, component, recorded, answered) in [
        // Both targets, as the relabel rules before the shard plugin left them.
        (
            "shard",
            None,
            &shard,
            format!("{{__address__=\"{silent}\""),
            "team=\"x\"",
        ),
        // The exporter's scrape after metric relabeling dropped go_goroutines: drop_me and
        // logins_total, and the identity plugin's answer that drops drop_me.
        (
            "keeper",
            Some(exporter_addr.as_str()),
            &keeper,
            "'drop_me{".to_owned(),
            "- null",
        ),
    ] {
        let out = format!("{plugin}.yml");
        let said = record(plugin, target, ADMIN_TOKEN, &out);
        assert!(
            said.status.success(),
            "{plugin}: {}",
            String::from_utf8_lossy(&said.stderr)
        );
        let fixture = std::fs::read_to_string(dir.path().join(&out)).unwrap();
        assert!(
            fixture.contains(&recorded) && fixture.contains(answered),
            "{fixture}"
        );
        assert!(!fixture.contains("go_goroutines"), "{fixture}");
        let run = format!(
            "# Run: wasmfed plugin test {} --fixture {}",
            component.display(),
            dir.path().join(&out).display()
        );
        assert!(fixture.contains(&run), "{run}\n{fixture}");
        let (code, text, err) = plugin_test(dir.path(), component.to_str().unwrap(), &fixture);
        assert_eq!(code, Some(0), "{plugin}: {text}{err}\n{fixture}");
        assert!(text.starts_with("ok   as recorded ("), "{text}");
    }
}
