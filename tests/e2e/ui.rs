//! The node's web page in a real browser (issue #20): `tests/ui/page_test.py` drives Debian's
//! Chromium through Playwright (PyPI), both installed by `test.sh`, against a node with a
//! relabeled job, a dropped target, rules, a firing alert, secrets, the admin API and a
//! tenant, and clicks through every tab (see the script for what it checks).

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

const RULES: &str = "groups:
  - name: ui
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
";

#[test]
fn the_web_page_shows_the_node_in_a_real_browser() {
    let exporter = Exporter::start(|_| Reply::Text("kept_metric 1\nsecret_metric 2\n".into()));
    let web = format!(
        "  - job_name: web
    basic_auth: {{username: u, password: s3cr3t}}
    relabel_configs:
      - {{source_labels: [__address__], regex: '127.0.0.1:1', action: drop}}
      - {{target_label: team, replacement: ui}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: secret_metric, action: drop}}
    static_configs:
      - targets: ['{}', '127.0.0.1:1']
",
        exporter.addr
    );
    let config = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n\
         admin: {{bearer_token: admintok}}\nrule_files: [ui.rules]\nscrape_configs:\n{web}\
         tenants:\n  - name: team-a\n    bearer_token: tok-a\n    scrape_configs:\n{}",
        static_job("a-job", &[exporter.addr], "")
            .replace("\n  ", "\n      ")
            .replacen("  -", "      -", 1)
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ui.rules"), RULES).unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, &config).unwrap();
    let node = Wasmfed::start_with(dir, &config_path, &[]);
    wait_for("the alert to fire", Duration::from_secs(30), || {
        let alerts = get(node.addr, "/api/v1/alerts")?.text();
        if alerts.contains("firing") {
            Ok(())
        } else {
            Err(alerts)
        }
    });
    let shots = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/ui/page_test.py"
        ))
        .arg(format!("http://{}", node.addr))
        .arg(shots.path())
        .output()
        .expect("running python3 (./test.sh installs Playwright and Chromium)");
    assert!(
        out.status.success(),
        "the page test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
