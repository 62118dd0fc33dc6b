//! Start-up on a big write-ahead log: the node serves while it replays, answering `/-/healthy`
//! with 200 and `/-/ready` and `/federate` with 503, as Prometheus does during its WAL replay,
//! instead of leaving requests unanswered until the replay is over.

use std::time::{Duration, Instant};

use crate::harness::*;

/// Enough series that a debug build replays them for a good fraction of a second.
const SERIES: usize = 40_000;

fn exposition() -> String {
    (0..SERIES)
        .map(|i| format!("startup_gauge{{i=\"{i}\"}} {i}\n"))
        .collect()
}

#[test]
fn a_replaying_node_answers_not_ready() {
    let body = exposition();
    let exporter = Exporter::start(move |_| Reply::Text(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmfed.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 500ms\n\
             scrape_configs:\n  - job_name: big\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ),
    )
    .unwrap();
    let node = Wasmfed::start_with(dir, &config, &[]);
    wait_for(
        "the head to hold every series",
        Duration::from_secs(60),
        || match node.metric("wasmfed_head_series") {
            Some(n) if n as usize > SERIES => Ok(()),
            other => Err(format!("{other:?} series")),
        },
    );
    // Past the batch writer's 100 ms: the series are in the log.
    std::thread::sleep(Duration::from_millis(500));
    drop(exporter);
    let dir = node.kill_keeping_dir();

    let started = Instant::now();
    let mut node = Wasmfed::spawn_with(dir, &config, &[]);
    let (status, replayed) = wait_for("a first answer", Duration::from_secs(20), || {
        let ready = get(node.addr, "/-/ready")?;
        Ok((
            ready.status,
            node.log_text().contains("write-ahead log replayed"),
        ))
    });
    assert!(
        !replayed,
        "the server first answered after the replay was over ({:?} after spawn): either it \
         does not serve while replaying, or the log is too small for this test to tell",
        started.elapsed()
    );
    assert_eq!(status, 503, "/-/ready while replaying");
    let healthy = get(node.addr, "/-/healthy").unwrap();
    let during = federate(node.addr, &["{__name__=\"startup_gauge\"}"]);
    let replayed = node.log_text().contains("write-ahead log replayed");
    if !replayed {
        assert_eq!(healthy.status, 200, "/-/healthy while replaying");
        assert_eq!(during.status, 503, "/federate while replaying");
    }
    node.wait_ready();
    let all = federate(node.addr, &["{__name__=\"startup_gauge\"}"]);
    assert_eq!(all.status, 200);
    assert_eq!(
        samples_of(&all.text()).len(),
        SERIES,
        "every series replayed"
    );
}

/// A command line written for Prometheus (as docker-compose stacks and systemd units carry
/// it) starts wasmfed: storage and retention flags by their Prometheus names, the route prefix
/// from `--web.external-url`, JSON logs, and a warning for each flag that changes nothing.
#[test]
fn prometheus_command_lines_start_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1s\n").unwrap();
    let mut node = Wasmfed::spawn_with(
        dir,
        &config,
        &[
            "--storage.tsdb.retention.time=200h",
            "--storage.tsdb.retention.size=1GB",
            "--web.console.libraries=/usr/share/prometheus/console_libraries",
            "--web.console.templates=/usr/share/prometheus/consoles",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            "--web.external-url=http://monitoring.example/prometheus/",
            "--query.lookback-delta=2m",
            "--log.format=json",
        ],
    );
    node.wait_ready_by(|addr| match get(addr, "/prometheus/-/ready") {
        Ok(r) if r.status == 200 => Ok(()),
        Ok(r) => Err(format!("status {}", r.status)),
        Err(e) => Err(e),
    });
    assert_eq!(
        get(node.addr, "/-/ready").unwrap().status,
        404,
        "outside the route prefix"
    );
    assert_eq!(get(node.addr, "/prometheus/metrics").unwrap().status, 200);
    let log = node.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let warned = |flag: &str| {
        lines.iter().any(|l| {
            l["level"] == "WARN"
                && l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("--{flag}: ignored (")))
        })
    };
    assert!(warned("web.enable-admin-api"), "{log}");
    assert!(warned("web.console.templates/libraries"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour escapes in a log file: {log}"
    );
}
