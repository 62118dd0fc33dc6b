//! Durability through the real binary: kill -9 and restart on the same storage, damaged WAL
//! files, and retention removing data from `/federate` and from disk.
//!
//! "Acknowledged" is read from the node itself: anything stored before the test reads
//! `wasmfed_wal_fsyncs_total` is durable once that counter has grown by two, so no test
//! guesses how long an fsync takes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use wasmfed_block::testing::copy_dir;

/// An exporter whose series change on every scrape (explicit, increasing timestamps) until it
/// is frozen; frozen, it answers its last exposition again and again.
#[derive(Clone)]
struct SteadyExporter {
    state: Arc<Mutex<Steady>>,
}

struct Steady {
    series: usize,
    frozen: bool,
    scrapes: i64,
    base_ms: i64,
    last: String,
}

impl SteadyExporter {
    fn new(series: usize) -> SteadyExporter {
        SteadyExporter {
            state: Arc::new(Mutex::new(Steady {
                series,
                frozen: false,
                scrapes: 0,
                base_ms: now_ms() - 60_000,
                last: String::new(),
            })),
        }
    }

    fn serve(&self) -> Exporter {
        let this = self.clone();
        Exporter::start(move |_| Reply::Text(this.next()))
    }

    fn next(&self) -> String {
        let mut s = self.state.lock().unwrap();
        if s.frozen {
            return s.last.clone();
        }
        s.scrapes += 1;
        let (n, ts) = (s.scrapes, s.base_ms + s.scrapes * 10);
        let mut body = format!(
            "d_fixed{{k=\"a\"}} 42 {}\nd_fixed{{k=\"nan\"}} NaN {}\n",
            s.base_ms, s.base_ms
        );
        for i in 0..s.series {
            body.push_str(&format!(
                "d_steady{{i=\"{i}\"}} {} {ts}\n",
                n * 1000 + i as i64
            ));
        }
        s.last = body.clone();
        body
    }

    fn freeze(&self) -> i64 {
        let mut s = self.state.lock().unwrap();
        s.frozen = true;
        s.scrapes
    }
}

fn config(exporter: std::net::SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n\
         scrape_configs:\n  - job_name: steady\n    static_configs:\n      - targets: ['{exporter}']\n"
    )
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The federated samples of `selector`, keyed by series.
fn federated(node: &Wasmfed, selector: &str) -> BTreeMap<Vec<(String, String)>, (u64, i64)> {
    let r = node.federate(&[selector]);
    assert_eq!(r.status, 200, "{}", r.text());
    samples_of(&r.text())
        .into_iter()
        .map(|(labels, value, ts)| (labels, (value, ts)))
        .collect()
}

fn kill_and_restart(fsync: &str) {
    const SERIES: usize = 40;
    let steady = SteadyExporter::new(SERIES);
    let exporter = steady.serve();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &config(exporter.addr));
    let fsync_flag = format!("--storage.wal-fsync={fsync}");
    let node = Wasmfed::start_with(dir, &path, &[&fsync_flag]);

    // Under steady ingest: an answer, then the fsyncs that cover it.
    let under_ingest = wait_for("steady ingest", Duration::from_secs(20), || {
        let got = federated(&node, r#"{__name__=~"d_steady|up"}"#);
        let scrapes = got
            .values()
            .filter(|(v, _)| f64::from_bits(*v) >= 10_000.0)
            .count();
        if scrapes == SERIES {
            Ok(got)
        } else {
            Err(format!("{} series past 10 scrapes", scrapes))
        }
    });
    node.wait_durable();

    // Freeze the exporter's data; the node keeps ingesting its own synthetic series.
    let last_scrape = steady.freeze();
    let frozen = wait_for("the frozen data", Duration::from_secs(20), || {
        let got = federated(&node, r#"{__name__=~"d_.*"}"#);
        let newest = got
            .values()
            .map(|(v, _)| f64::from_bits(*v))
            .fold(0.0, f64::max);
        if got.len() == SERIES + 2 && newest == (last_scrape * 1000 + SERIES as i64 - 1) as f64 {
            Ok(got)
        } else {
            Err(format!("{} series, newest value {newest}", got.len()))
        }
    });
    let before_kill = federated(&node, r#"{__name__=~"d_.*|up"}"#);
    node.wait_durable();
    let dir = node.kill_keeping_dir();

    let node = Wasmfed::start_with(dir, &path, &[&fsync_flag]);
    let log = plain_log(&node);
    assert!(log.contains("write-ahead log replayed"), "{log}");
    let after = federated(&node, r#"{__name__=~"d_.*"}"#);
    assert_eq!(
        after, frozen,
        "the same window answers the same after the restart"
    );
    let after_all = federated(&node, r#"{__name__=~"d_.*|up"}"#);
    for (answer, what) in [
        (&under_ingest, "under ingest"),
        (&before_kill, "before the kill"),
    ] {
        for (series, (_, ts)) in answer {
            let (_, now) = after_all
                .get(series)
                .unwrap_or_else(|| panic!("{series:?} acknowledged {what} is gone"));
            assert!(
                now >= ts,
                "{series:?}: {what} at {ts}, after restart only {now}"
            );
        }
    }
}

// What these two prove: a kill -9 loses nothing the node had acknowledged (two fsyncs after
// it was stored), under either policy. They cannot tell the policies apart: a killed process
// leaves its written pages in the kernel's page cache, which an fsync only forces to the disk;
// telling `always` from `batch` would take a power cut (or a VM killed without flushing).
#[test]
fn kill_9_loses_nothing_acknowledged_batch() {
    kill_and_restart("batch");
}

#[test]
fn kill_9_loses_nothing_acknowledged_always() {
    kill_and_restart("always");
}

fn wal_segments(data: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .collect();
    out.sort();
    out
}

/// A node on a copy of `data` with nothing to scrape, so `/federate` shows only what it
/// replayed.
fn replay_only(data: &Path, damage: impl FnOnce(&Path)) -> Wasmfed {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(data, &dir.path().join("data"));
    damage(&dir.path().join("data"));
    let path = write_config(&dir, "global:\n  scrape_interval: 200ms\n");
    Wasmfed::start_with(dir, &path, &[])
}

/// The node's log without terminal colour codes.
fn plain_log(node: &Wasmfed) -> String {
    let mut out = String::new();
    let mut rest = node.log_text();
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('m').map_or(rest.len(), |m| at + m + 1);
        rest = rest[end..].to_owned();
    }
    out + &rest
}

/// The `samples=N` of the replay summary line.
fn replayed_samples(log: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("write-ahead log replayed"))
        .unwrap_or_else(|| panic!("no replay summary in {log}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("samples=")?.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in {line}"))
}

#[test]
fn damaged_segments_are_reported_skipped_and_the_rest_kept() {
    // Enough series that 32 KiB segments fill every second or two.
    let steady = SteadyExporter::new(400);
    let exporter = steady.serve();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &config(exporter.addr));
    let node = Wasmfed::start_with(dir, &path, &["--storage.wal-segment-size=32KB"]);
    let data = node.data_dir();
    wait_for("several WAL segments", Duration::from_secs(60), || {
        let n = wal_segments(&data).len();
        if n >= 6 {
            Ok(())
        } else {
            Err(format!("{n} segments"))
        }
    });
    steady.freeze();
    node.wait_durable();
    let dir = node.kill_keeping_dir();
    let data = dir.path().join("data");
    let segments = wal_segments(&data);
    let middle = segments[segments.len() / 2].file_name().unwrap().to_owned();
    let last = segments.last().unwrap().file_name().unwrap().to_owned();

    let pristine = replay_only(&data, |_| {});
    let want = federated(&pristine, "{__name__=~\".+\"}");
    let all_samples = replayed_samples(&plain_log(&pristine));
    drop(pristine);

    // A flipped bit in the middle of a middle segment: that record is skipped, the rest kept.
    let flip_at = 20_000;
    let flipped = replay_only(&data, |d| {
        let file = d.join("wal").join(&middle);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[flip_at] ^= 0x20;
        std::fs::write(&file, bytes).unwrap();
    });
    let log = plain_log(&flipped);
    let damage = log
        .lines()
        .find(|l| l.contains("WAL damage skipped"))
        .unwrap_or_else(|| panic!("the damage is logged: {log}"));
    assert!(
        damage.contains(&format!("{}", Path::new("wal").join(&middle).display())),
        "{damage}"
    );
    let offset: usize = damage
        .split_whitespace()
        .find_map(|w| w.strip_prefix("offset=")?.parse().ok())
        .unwrap_or_else(|| panic!("an offset in {damage}"));
    assert!(offset <= flip_at, "{damage}");
    let kept = replayed_samples(&log);
    assert!(
        kept < all_samples && kept > all_samples / 2,
        "{kept} of {all_samples}"
    );
    assert_eq!(
        federated(&flipped, "{__name__=~\".+\"}"),
        want,
        "the newest data lies after the damage and is kept"
    );
    drop(flipped);

    // The last segment cut in the middle of a record: the torn tail is cut off.
    let truncated = replay_only(&data, |d| {
        let file = d.join("wal").join(&last);
        // Inside the header of the record that covers the middle of the file.
        let bytes = std::fs::read(&file).unwrap();
        let starts = fragment_starts(&bytes);
        let cut = starts.iter().rev().find(|&&s| s < bytes.len() / 2).unwrap() + 3;
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(cut as u64).unwrap();
    });
    let log = plain_log(&truncated);
    assert!(
        log.lines()
            .any(|l| l.contains("truncated after its last intact record")
                && l.contains(&*last.to_string_lossy())),
        "the torn tail is reported: {log}"
    );
    let got = federated(&truncated, "{__name__=~\".+\"}");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "every series survives"
    );
    for (series, (_, ts)) in &got {
        assert!(*ts <= want[series].1, "{series:?}");
    }
}

/// Where the record fragments of a WAL segment start: 32 KiB pages, each fragment a 7-byte
/// header (type, 2-byte length, CRC) and its data; the tail of a page may be zero padding.
fn fragment_starts(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 32 * 1024;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 7 <= bytes.len() {
        if PAGE - pos % PAGE < 7 || bytes[pos] == 0 {
            pos = (pos / PAGE + 1) * PAGE;
            continue;
        }
        out.push(pos);
        pos += 7 + usize::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]]));
    }
    out
}

fn disk_contains(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.is_dir() {
            disk_contains(&path, needle)
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        }
    })
}

#[test]
fn retention_removes_old_series_from_federate_and_disk() {
    let phase = Arc::new(Mutex::new("r_old"));
    let exporter = Exporter::start({
        let phase = phase.clone();
        move |_| {
            let name = *phase.lock().unwrap();
            let ts = now_ms();
            Reply::Text(
                (0..5)
                    .map(|i| format!("{name}{{i=\"{i}\"}} {i} {ts}\n"))
                    .collect(),
            )
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &config(exporter.addr));
    let node = Wasmfed::start_with(dir, &path, &["--storage.retention=3s"]);
    let wal = node.data_dir().join("wal");
    wait_for("the old series", Duration::from_secs(20), || {
        let n = federated(&node, "{__name__=~\"r_.*\"}").len();
        if n == 5 {
            Ok(())
        } else {
            Err(format!("{n} series"))
        }
    });
    node.wait_durable();
    assert!(disk_contains(&wal, b"r_old"));

    *phase.lock().unwrap() = "r_new";
    wait_for(
        "retention to remove the old series",
        Duration::from_secs(60),
        || {
            let got = federated(&node, "{__name__=~\"r_.*\"}");
            let names: Vec<&str> = got
                .keys()
                .map(|l| l.iter().find(|p| p.0 == "__name__").unwrap().1.as_str())
                .collect();
            if names.len() != 5 || names.iter().any(|n| *n != "r_new") {
                return Err(format!("federated {names:?}"));
            }
            if disk_contains(&wal, b"r_old") {
                return Err("r_old is still in the WAL".into());
            }
            Ok(())
        },
    );
    assert!(disk_contains(&wal, b"r_new"), "live series stay on disk");
}

/// SIGTERM (systemd's and docker's stop) shuts the node down: scrapes stop with stale markers,
/// rule groups and the notifier stop, the log is closed, and the process exits 0 with nothing
/// lost. (Before, the notifier's discovery loop never ended and the node hung until SIGKILL.)
#[test]
fn sigterm_shuts_down_cleanly_and_keeps_every_sample() {
    let steady = SteadyExporter::new(5);
    let exporter = steady.serve();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: d:count\n        expr: count(d_steady)\n",
    )
    .unwrap();
    let text = format!(
        "{}rule_files: [{}]\n",
        config(exporter.addr),
        rules.display()
    );
    let path = write_config(&dir, &text);
    let node = Wasmfed::start_with(dir, &path, &[]);
    wait_for("scrapes and a rule result", Duration::from_secs(20), || {
        let got = federated(&node, r#"{__name__=~"d_steady|d:count"}"#);
        (got.len() == 6).then_some(()).ok_or("not yet".to_string())
    });
    // Every sample stored by `at`, before the SIGTERM and after the restart. The exporter's
    // explicit timestamps trail the clock, so samples stored later may carry earlier
    // timestamps: after the restart there may be more, never fewer.
    let at = crate::federate::now_ms();
    let samples = |node: &Wasmfed| {
        crate::query_api::raw_samples(node.addr, r#"{__name__=~"d_steady|d:count"}[10m]"#, at)
            .unwrap()
    };
    let before = samples(&node);
    assert_eq!(before.len(), 6, "{before:?}");
    let (status, dir) = node.terminate();
    assert!(status.success(), "exited with {status}");
    let node = Wasmfed::start_with(dir, &path, &[]);
    let log = plain_log(&node);
    assert!(log.contains("write-ahead log replayed"), "{log}");
    let after = samples(&node);
    for (series, points) in &before {
        let kept = after.get(series).map_or(&[][..], Vec::as_slice);
        let lost: Vec<_> = points.iter().filter(|p| !kept.contains(p)).collect();
        assert!(lost.is_empty(), "{series}: lost across a SIGTERM: {lost:?}");
    }
}
