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
