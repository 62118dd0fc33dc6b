//! Bad input gets a clear error and loses nothing: broken targets go down with their reason
//! while healthy ones keep flowing; a bad config is refused naming the file, line and key.

use std::process::Command;

use crate::harness::*;

#[test]
fn broken_targets_are_down_with_reasons_and_healthy_ones_flow() {
    let exporter = Exporter::start(|path| match path {
        "/good" => Reply::Text("good_metric 1\n".into()),
        "/malformed" => Reply::Text("ok_line 1\nbad_line{a=\"b\" 2\n".into()),
        "/hang" => Reply::Hang,
        "/huge" => Reply::Huge(100 * 1024 * 1024),
        "/error" => Reply::Status(500),
        _ => Reply::Status(404),
    });
    let job = |name: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    metrics_path: /{name}\n{extra}    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}{}{}",
        job("good", ""),
        job("malformed", ""),
        job("hang", ""),
        job("huge", "    body_size_limit: 10MB\n"),
        job("error", ""),
    );
    let node = Wasmfed::start(&config);
    let expected = [
        ("good", ""),
        ("malformed", "line 2"),
        ("hang", "timed out"),
        ("huge", "body size limit exceeded"),
        (
            "error",
            "server returned HTTP status 500 Internal Server Error",
        ),
    ];
    wait_for_health(&node, &expected);
    // The healthy target's data and every target's `up` are federated.
    let up = samples_of(&node.federate(&["up"]).text());
    let up_by_job: Vec<(String, f64)> = up
        .iter()
        .map(|(labels, v, _)| {
            let job = labels.iter().find(|(k, _)| k == "job").unwrap().1.clone();
            (job, f64::from_bits(*v))
        })
        .collect();
    for (job, error) in expected {
        let want = if error.is_empty() { 1.0 } else { 0.0 };
        assert!(
            up_by_job.contains(&(job.to_owned(), want)),
            "{job}: {up_by_job:?}"
        );
    }
    assert_eq!(samples_of(&node.federate(&["good_metric"]).text()).len(), 1);
    // The malformed scrape stored nothing, not even its valid first line.
    assert!(samples_of(&node.federate(&["ok_line"]).text()).is_empty());
}

#[test]
fn a_config_with_an_unknown_key_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    scrape_intervl: 5s\n",
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .args(["check", "config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!check.status.success());
    let out = String::from_utf8_lossy(&check.stdout);
    for part in ["bad.yml", "scrape_intervl", "line 5"] {
        assert!(
            out.contains(part),
            "check config output lacks {part:?}: {out}"
        );
    }
    let err = refused_start(&path, dir.path());
    assert!(
        err.contains("scrape_intervl") && err.contains("bad.yml"),
        "{err}"
    );
}
