//! History in blocks, through the real binary and the real Prometheus tools:
//! - a directory Prometheus' `promtool` backfilled (hours of OpenMetrics samples) and that
//!   Prometheus 2.42 itself serves: wasmfed, started on a copy, answers the same queries over
//!   the blocks' range; a Prometheus write-ahead log in it is set aside, not damaged;
//! - wasmfed cutting its head into blocks while it scrapes (with 10 s blocks) and compacting
//!   them (into 30 s): `promtool tsdb dump` and `list` read them, Prometheus 2.42 started on a
//!   copy answers over their range as wasmfed does (`/federate` too, byte for byte, when its
//!   lookback reaches into the blocks), and after a kill -9 and a restart the whole
//!   range still answers, every sample once and without a gap.

use std::time::Duration;

use wasmfed_block::testing::{backfill, copy_dir, promtool, promtool_dump};

use crate::differential::compare::{ask, compare, Answer, Verdict};
use crate::harness::*;
use crate::prometheus::Prometheus;

/// 2023-11-14T22:13:20Z: the backfill's first sample.
const START_S: i64 = 1_700_000_000;
const HOURS: i64 = 6;

/// 6 hours of a gauge for 400 series and a counter for 30, every 30 s.
fn openmetrics() -> String {
    let mut s = String::from("# TYPE temp gauge\n");
    for step in 0..HOURS * 120 {
        let t = START_S + step * 30;
        for host in 0..400 {
            let v = ((step + host) % 97) as f64 * 0.25 - 3.0;
            s += &format!(
                "temp{{host=\"h{host:03}\",dc=\"dc{}\"}} {v} {t}\n",
                host % 3
            );
        }
    }
    s += "# TYPE req counter\n";
    for code in 0..30 {
        for step in 0..HOURS * 120 {
            let t = START_S + step * 30;
            s += &format!("req_total{{code=\"{code}\"}} {} {t}\n", step * (code + 1));
        }
    }
    s + "# EOF\n"
}

#[test]
fn a_backfilled_prometheus_directory_answers_as_prometheus_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("prometheus-data");
    backfill(&openmetrics(), &theirs);
    // wasmfed's copy is taken before Prometheus runs (Prometheus may compact its blocks);
    // Prometheus' write-ahead log is added to it once Prometheus has written one.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&theirs, &dir.path().join("data"));
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    \
         static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let prometheus = Prometheus::start_on(&config, &theirs, port, &[]);
    wait_for("prometheus' WAL", Duration::from_secs(30), || {
        let has_record = std::fs::read_dir(theirs.join("wal"))
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .any(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() > 0));
        has_record.then_some(()).ok_or("no record yet".to_string())
    });
    copy_dir(&theirs.join("wal"), &dir.path().join("data/wal"));
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, "global:\n  scrape_interval: 1h\n").unwrap();
    let node = Wasmfed::start_with(dir, &config_path, &[]);
    assert!(
        node.data_dir().join("wal.prometheus").is_dir(),
        "{}",
        node.log_text()
    );
    assert!(
        node.log_text()
            .contains("this is Prometheus' write-ahead log"),
        "{}",
        node.log_text()
    );
    let blocks = promtool(&["tsdb", "list", theirs.to_str().unwrap()])
        .lines()
        .count()
        - 1;
    assert_eq!(node.metric("wasmfed_blocks_loaded"), Some(blocks as f64));

    let queries = [
        "temp",
        "temp{dc=\"dc1\"}",
        "sum by (dc) (temp)",
        "count(temp > 5)",
        "rate(req_total[5m])",
        "max_over_time(temp{host=~\"h00.\"}[1h])",
        "increase(req_total{code=\"7\"}[2h])",
        "avg_over_time(temp{host!~\"h1.*\"}[30m])",
        "temp offset 1h",
        "count_over_time(req_total[6h])",
    ];
    let mut compared = 0;
    for minutes in [1, 59, 61, 120, 121, 180, 240, 300, 359, 365] {
        let at_ms = (START_S + minutes * 60) * 1000;
        for q in queries {
            let (a, b) = (
                ask(prometheus.addr, q, at_ms).unwrap(),
                ask(node.addr, q, at_ms).unwrap(),
            );
            match compare(&a, &b, false) {
                Verdict::Same => compared += 1,
                Verdict::SameErrorOtherMessage => panic!("{q} at {at_ms}: both refused: {a:?}"),
                Verdict::Different(why) => panic!("{q} at {at_ms}: {why}"),
            }
        }
    }
    assert_eq!(compared, 100);
}

#[test]
fn blocks_cut_while_scraping_are_prometheus_blocks_and_survive_a_restart() {
    let exporter =
        Exporter::start(|_| Reply::Text("cut_me{k=\"a\"} 1\ncut_me{k=\"b\"} 2\n".into()));
    let config = format!(
        "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n{}",
        static_job("cut", &[exporter.addr], "")
    );
    let node = Wasmfed::start_args(&config, &["--storage.tsdb.min-block-duration=10s"]);
    // The head is cut once it spans 15 s: [start, next multiple of 10 s) goes to a block.
    // Once four are written, the three oldest are compacted into one of 30 s.
    wait_for("a compaction", Duration::from_secs(90), || {
        let n = node
            .metric("wasmfed_block_compactions_total")
            .unwrap_or(0.0);
        (n >= 1.0).then_some(()).ok_or(format!("{n} compactions"))
    });
    assert!(node.metric("wasmfed_blocks_written_total").unwrap() >= 4.0);
    let data = node.data_dir();
    let block_dirs: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.path())
        .collect();
    assert!(block_dirs.len() >= 2);

    // promtool reads the blocks (in a directory of their own: wasmfed's log is its own format).
    let copy = tempfile::tempdir().unwrap();
    for dir in &block_dirs {
        copy_dir(dir, &copy.path().join(dir.file_name().unwrap()));
    }
    let dumped = promtool_dump(copy.path());
    let ups = dumped
        .iter()
        .filter(|l| l.starts_with("{__name__=\"up\""))
        .count();
    let cut_me = dumped
        .iter()
        .filter(|l| l.starts_with("{__name__=\"cut_me\""))
        .count();
    // Some 30 s of scrapes at a few a second (a loaded machine scrapes late), in blocks.
    assert!(
        ups >= 60 && cut_me == 2 * ups,
        "{ups} up and {cut_me} cut_me samples"
    );
    let metas: Vec<String> = block_dirs
        .iter()
        .map(|d| std::fs::read_to_string(d.join("meta.json")).unwrap())
        .collect();
    // A compacted block (level 2, or 3 once a compacted block was compacted again).
    let level = |m: &String| {
        let meta: serde_json::Value = serde_json::from_str(m).unwrap();
        meta["compaction"]["level"].as_u64().unwrap()
    };
    assert!(metas.iter().any(|m| level(m) >= 2), "{metas:?}");
    let listed = promtool(&["tsdb", "list", copy.path().to_str().unwrap()]);
    assert_eq!(listed.lines().count(), block_dirs.len() + 1, "{listed}");

    // Prometheus 2.42 started on the copy answers over the blocks' range as wasmfed does.
    let ranges: Vec<(i64, i64)> = metas
        .iter()
        .map(|m| {
            let meta: serde_json::Value = serde_json::from_str(m).unwrap();
            (
                meta["minTime"].as_i64().unwrap(),
                meta["maxTime"].as_i64().unwrap(),
            )
        })
        .collect();
    let (first, end) = (
        ranges.iter().map(|r| r.0).min().unwrap(),
        ranges.iter().map(|r| r.1).max().unwrap(),
    );
    // Both with an hour's lookback, so `/federate` reaches into the blocks: wasmfed on a copy
    // of its own blocks (no head) answers byte for byte as Prometheus does.
    let quiet = "global:\n  scrape_interval: 1h\n";
    let long_lookback = "--query.lookback-delta=1h";
    let blocks_only = tempfile::tempdir().unwrap();
    copy_dir(copy.path(), &blocks_only.path().join("data"));
    let prometheus = Prometheus::start_on(quiet, copy.path(), free_port(), &[long_lookback]);
    let config_path = blocks_only.path().join("wasmfed.yml");
    std::fs::write(&config_path, quiet).unwrap();
    let from_blocks = Wasmfed::start_with(blocks_only, &config_path, &[long_lookback]);
    for selectors in [&["{__name__=~\".+\"}"][..], &["up", "cut_me{k=\"b\"}"]] {
        let (a, b) = (
            federate(prometheus.addr, selectors),
            from_blocks.federate(selectors),
        );
        assert_eq!((a.status, b.status), (200, 200));
        assert!(a.text().contains(",k=\"b\"} 2 "), "{}", a.text());
        assert_eq!(a.text(), b.text(), "/federate of {selectors:?}");
    }
    drop(from_blocks);
    let mut compared = 0;
    for at_ms in (first + 3_000..end).step_by(2_500) {
        for q in ["up[3s]", "sum(cut_me)", "count_over_time(cut_me[10s])"] {
            let (a, b) = (
                ask(prometheus.addr, q, at_ms).unwrap(),
                ask(node.addr, q, at_ms).unwrap(),
            );
            match compare(&a, &b, false) {
                Verdict::Same => compared += 1,
                _ => panic!("{q} at {at_ms}: Prometheus {a:?}, wasmfed {b:?}"),
            }
        }
    }
    assert!(compared >= 30, "{compared} answers compared");
    drop(prometheus);

    // Every sample of the last minute, blocks and head, before and after a kill -9 and a
    // restart: nothing lost, nothing doubled. The answer is read, then made durable (the
    // fsync counter grows by two) before the kill.
    let at_ms = crate::federate::now_ms() - 2_000;
    let before = ask(node.addr, "up[1m]", at_ms).unwrap();
    node.wait_durable();
    let Answer::Matrix(series) = &before else {
        panic!("{before:?}");
    };
    // Four scrapes a second since the start, two block cuts in between: no gap anywhere.
    let points = &series[0].1;
    assert!(points.len() >= 120, "{} samples", points.len());
    let widest = points.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
    assert!(widest <= 1_000, "a gap of {widest} ms in {points:?}");
    let dir = node.kill_keeping_dir();
    let config_path = dir.path().join("wasmfed.yml");
    let node = Wasmfed::start_with(
        dir,
        &config_path,
        &["--storage.tsdb.min-block-duration=10s"],
    );
    assert!(node.metric("wasmfed_blocks_loaded").unwrap() >= 2.0);
    let after = ask(node.addr, "up[1m]", at_ms).unwrap();
    match compare(&before, &after, false) {
        Verdict::Same => {}
        _ => panic!("before the restart {before:?}\nafter {after:?}"),
    }
    assert_eq!(node.metric("wasmfed_block_write_failures_total"), Some(0.0));
}
