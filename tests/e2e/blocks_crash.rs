//! kill -9 in the middle of writing blocks, for real: the test watches the data directory and
//! wasmfed's log while wasmfed scrapes 2000 series into 4 s blocks, and SIGKILLs it the moment
//! a block directory under creation (`<ulid>.tmp-for-creation`) appears — once while the head
//! is being cut into a block, once while blocks are being compacted. After each restart: the
//! half-written directory is removed, never read; every sample made durable before the kill is
//! answered once (queries before and after agree); no two blocks cover the same time, so no
//! sample is kept twice; and promtool reads every block.

use std::path::Path;
use std::time::{Duration, Instant};

use wasmfed_block::testing::{copy_dir, promtool};

use crate::differential::compare::{ask, compare, Answer, Verdict};
use crate::federate::now_ms;
use crate::harness::*;

const SERIES: usize = 2000;
const ARGS: &[&str] = &["--storage.tsdb.min-block-duration=4s"];

/// Where a kill landed, as the directory and the log tell afterwards.
#[derive(Debug, PartialEq)]
enum Landed {
    /// A block directory was left half written and no compaction was under way: the head's cut.
    CutWrite,
    /// Between "compacting blocks" and "compacted blocks".
    Compaction { half_written: bool },
    /// After a write finished (the attempt is repeated).
    Missed,
}

fn unfinished_block(data: &Path) -> bool {
    std::fs::read_dir(data).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".tmp-for-creation")
        })
    })
}

/// Polls `ready` as fast as it can for up to `limit`; true once it holds.
fn spin_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

fn compaction_under_way(log: &str) -> bool {
    match (
        log.rfind("compacting blocks"),
        log.rfind("compacted blocks"),
    ) {
        (Some(start), Some(end)) => start > end,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The [minTime, maxTime) of every block in `data`, sorted.
fn block_ranges(data: &Path) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = std::fs::read_dir(data)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("meta.json")).ok())
        .map(|m| {
            let meta: serde_json::Value = serde_json::from_str(&m).unwrap();
            (
                meta["minTime"].as_i64().unwrap(),
                meta["maxTime"].as_i64().unwrap(),
            )
        })
        .collect();
    ranges.sort_unstable();
    ranges
}

/// What was made durable before a kill: the answers to `queries` at `at_ms`.
fn durable_answers(node: &Wasmfed, queries: &[&str]) -> (i64, Vec<Answer>) {
    let at_ms = now_ms() - 2_000;
    let answers = queries
        .iter()
        .map(|q| ask(node.addr, q, at_ms).unwrap())
        .collect();
    node.wait_durable();
    (at_ms, answers)
}

#[test]
fn kill_9_while_a_block_is_written_or_compacted_loses_and_doubles_nothing() {
    let body: String = (0..SERIES)
        .map(|i| format!("load{{i=\"{i}\"}} {}\n", i % 7))
        .collect();
    let exporter = Exporter::start(move |_| Reply::Text(body.clone()));
    let config = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n{}",
        static_job("crash", &[exporter.addr], "")
    );
    let mut node = Wasmfed::start_args(&config, ARGS);
    let queries = ["up[10m]", "sum(count_over_time(load[10m]))"];
    let (mut cuts, mut compactions) = (0, 0);
    let mut outcomes = Vec::new();
    for _attempt in 0..12 {
        if cuts > 0 && compactions > 0 {
            break;
        }
        let (at_ms, before) = durable_answers(&node, &queries);
        let data = node.data_dir();
        let log = node.log.clone();
        if cuts == 0 {
            spin_until(Duration::from_secs(30), || unfinished_block(&data));
        } else {
            spin_until(Duration::from_secs(60), || {
                compaction_under_way(&std::fs::read_to_string(&log).unwrap_or_default())
            });
            spin_until(Duration::from_millis(500), || unfinished_block(&data));
        }
        let dir = node.kill_keeping_dir();
        let half_written = unfinished_block(&dir.path().join("data"));
        let landed = if compaction_under_way(&std::fs::read_to_string(&log).unwrap()) {
            compactions += 1;
            Landed::Compaction { half_written }
        } else if half_written {
            cuts += 1;
            Landed::CutWrite
        } else {
            Landed::Missed
        };
        let config_path = dir.path().join("wasmfed.yml");
        node = Wasmfed::start_with(dir, &config_path, ARGS);
        if half_written {
            assert!(
                node.log_text()
                    .contains("removed an unfinished block directory"),
                "{landed:?}: {}",
                node.log_text()
            );
        }
        for (q, want) in queries.iter().zip(&before) {
            let got = ask(node.addr, q, at_ms).unwrap();
            match compare(want, &got, false) {
                Verdict::Same => {}
                _ => panic!("{landed:?}: {q} before the kill {want:?}\nafter {got:?}"),
            }
        }
        let ranges = block_ranges(&node.data_dir());
        assert!(
            ranges.windows(2).all(|w| w[0].1 <= w[1].0),
            "{landed:?}: blocks overlap: {ranges:?}"
        );
        outcomes.push(landed);
    }
    assert!(
        cuts > 0 && compactions > 0,
        "no kill landed in a block write and one in a compaction: {outcomes:?}"
    );

    eprintln!("kills: {outcomes:?}");
    // The history holds every successful scrape since the first start, each once.
    let at_ms = now_ms() - 1_000;
    let ups = match ask(node.addr, "up[10m]", at_ms).unwrap() {
        Answer::Matrix(series) => series[0].1.iter().filter(|p| p.1 == 1.0).count(),
        other => panic!("{other:?}"),
    };
    let loads = match ask(node.addr, "sum(count_over_time(load[10m]))", at_ms).unwrap() {
        Answer::Vector(v) => v[0].2,
        other => panic!("{other:?}"),
    };
    if loads != (SERIES * ups) as f64 {
        panic!(
            "{loads} samples for {ups} scrapes of {SERIES} series; scrapes not whole: {:?}",
            scrapes_not_whole(&node, at_ms)
        );
    }
    let copy = tempfile::tempdir().unwrap();
    let mut blocks = 0;
    for entry in std::fs::read_dir(node.data_dir())
        .unwrap()
        .filter_map(Result::ok)
    {
        if entry.path().join("meta.json").exists() {
            copy_dir(&entry.path(), &copy.path().join(entry.file_name()));
            blocks += 1;
        }
    }
    std::fs::create_dir_all(copy.path().join("wal")).unwrap();
    let listed = promtool(&["tsdb", "list", copy.path().to_str().unwrap()]);
    assert_eq!(listed.lines().count(), blocks + 1, "{listed}");
}

/// The timestamps at which `up` is not 1 or `load` does not have one sample per series:
/// (timestamp, up, load samples).
fn scrapes_not_whole(node: &Wasmfed, at_ms: i64) -> Vec<(i64, Option<f64>, usize)> {
    let mut at: std::collections::BTreeMap<i64, (Option<f64>, usize)> = Default::default();
    if let Ok(Answer::Matrix(series)) = ask(node.addr, "up[10m]", at_ms) {
        for (t, v) in &series[0].1 {
            at.entry(*t).or_default().0 = Some(*v);
        }
    }
    if let Ok(Answer::Matrix(series)) = ask(node.addr, "load[10m]", at_ms) {
        for (t, _) in series.iter().flat_map(|s| &s.1) {
            at.entry(*t).or_default().1 += 1;
        }
    }
    at.into_iter()
        .filter(|(_, (up, n))| *up != Some(1.0) || *n != SERIES)
        .map(|(t, (up, n))| (t, up, n))
        .collect()
}
