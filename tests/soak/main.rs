//! Soak test (issue #6): the real binary holding 100k series for a few minutes keeps its
//! resident memory flat once retention cuts the head as fast as scrapes fill it.
//!
//! Its own test binary, ignored by a plain `cargo test` (it takes ~5 minutes): `./test.sh` runs
//! it alone after the other tests (`cargo test -p wasmfed --test soak -- --ignored`), so nothing
//! else in the process or on the machine's two cores skews the figures.
//!
//! The head's size is a sawtooth with the chunk span as its period, not a flat line: a series'
//! chunk is cut after `SAMPLES_PER_CHUNK` samples (120 s at a 1 s scrape), and retention drops
//! a sealed chunk only once its newest sample is older than the retention period, checking every
//! quarter of it. So the head first reaches its full size just before the first chunks are
//! dropped (`first_cut`, ~139 s in) and then repeats the same cycle. The test compares the
//! same phase of two consecutive cycles — the highest RSS around the first cut and around the
//! second — so a node that keeps anything per sample or per scrape beyond retention (chunks,
//! WAL buffers, caches, checkpoint scratch) shows as a higher second peak. Sealed chunks live in
//! pages of `chunks_head/` files, out of resident memory, and a page is punched out once
//! retention has dropped every chunk in it; the test checks that the pages really go. It also
//! checks that the comparison means something: all ~100k series stay in the head, samples keep
//! arriving, every target is up, and the head really holds no more than one chunk span plus
//! retention.

#[path = "../e2e/harness.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "the end-to-end harness serves many tests; this one uses a few of its parts"
)]
mod harness;
#[path = "../e2e/query_api.rs"]
#[allow(
    dead_code,
    reason = "the end-to-end query client serves many tests; this one reads one matrix"
)]
mod query_api;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use harness::{get, samples_of, static_job, wait_for, Wasmfed};
use wasmfed::synth::{self, Profile};
use wasmfed_storage::chunk::SAMPLES_PER_CHUNK;

const TARGETS: usize = 100;
const SERIES_PER_TARGET: usize = 1000;
const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
/// Short, so the head cycles within the test; long enough that the checkpoint retention takes
/// each time it drops data (~4 CPU s in a debug build at this size) stays a small share.
const RETENTION: Duration = Duration::from_secs(15);
/// How often the node checks retention for this `RETENTION` (`node/storage.rs`: a quarter).
const RETENTION_CHECK: Duration = Duration::from_millis(3750);
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Each compared window spans this much either side of a cut, so it holds the cut's peak
/// whatever the scrape offsets and the retention tick's phase.
const AROUND_CUT: Duration = Duration::from_secs(20);
/// Allowed growth from the first peak to the second. Measured on the 2-core dev machine
/// (debug build): with sealed chunks in `chunks_head/` files the peaks were 164.0 and 170.4 MB
/// (+3.9%), in memory pages 199.7 and 203.7 MB (+2.0%; 206.4 and 208.7 at the next two cuts);
/// with chunks on the heap +1–4% here but +10.1% once in CI, and with chunk truncation disabled
/// +26.2%. What still grows is bounded: a series' reused open-chunk buffer grows whenever a
/// chunk needs more than any before, and the synth values repeat only every 1000 scrapes.
const TOLERANCE: f64 = 0.10;

/// One reading of the node.
struct Reading {
    at: Duration,
    rss: u64,
    head_series: f64,
    samples_scraped: f64,
    scrape_failures: f64,
    checkpoints: f64,
    wal_bytes: f64,
    page_bytes: f64,
}

#[test]
#[ignore = "takes ~5 minutes: ./test.sh runs it alone, after the other tests"]
fn rss_is_stable_at_100k_series() {
    let targets = SynthTargets::start();
    let chunk_span = SCRAPE_INTERVAL * u32::from(SAMPLES_PER_CHUNK);
    let first_cut = chunk_span + RETENTION + RETENTION_CHECK;
    let second_cut = first_cut + chunk_span;
    let end = second_cut + AROUND_CUT;

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, config(&targets.addrs)).unwrap();
    let retention = format!("--storage.retention={}s", RETENTION.as_secs());
    let node = Wasmfed::start_with(dir, &config_path, &[&retention]);

    let started = Instant::now();
    let mut readings = Vec::new();
    println!("   t  RSS MB    series  samples/s  failures  checkpoints  WAL MB  pages MB");
    while started.elapsed() < end {
        let reading = read(&node, started.elapsed());
        print_reading(&reading, readings.last());
        readings.push(reading);
        let next = SAMPLE_EVERY * readings.len() as u32;
        std::thread::sleep(next.saturating_sub(started.elapsed()));
    }

    let (first_peak, second_peak) = (
        peak_around(&readings, first_cut),
        peak_around(&readings, second_cut),
    );
    let growth = second_peak as f64 / first_peak as f64 - 1.0;
    println!(
        "peak RSS around the first cut ({first_cut:?}): {:.1} MB; around the second ({second_cut:?}): {:.1} MB ({:+.1}%)",
        mb(first_peak),
        mb(second_peak),
        growth * 100.0
    );
    assert!(
        growth <= TOLERANCE,
        "RSS grew by {:.1}% from one head cycle to the next (allowed {:.0}%): see the readings above",
        growth * 100.0,
        TOLERANCE * 100.0
    );

    let steady: Vec<&Reading> = readings
        .iter()
        .filter(|r| r.at >= first_cut.saturating_sub(AROUND_CUT))
        .collect();
    check_ingest(&steady);
    for r in &steady {
        let want = (TARGETS * SERIES_PER_TARGET) as f64;
        assert!(
            r.head_series >= want && r.head_series <= want * 1.01,
            "the head held {} series at {:?}, not ~{want}",
            r.head_series,
            r.at
        );
    }
    check_pages_unmapped(&readings, second_cut);
    check_every_target_up(node.addr);
    check_head_depth(node.addr, chunk_span);
}

/// The highest RSS read within `AROUND_CUT` of `cut`.
fn peak_around(readings: &[Reading], cut: Duration) -> u64 {
    let (from, to) = (cut.saturating_sub(AROUND_CUT), cut + AROUND_CUT);
    readings
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .map(|r| r.rss)
        .max()
        .expect("readings around the cut")
}

/// Samples flowed all along the compared windows, at least half of what the targets offer
/// (else a stalled node could pass as a stable one), and retention compacted the log.
fn check_ingest(steady: &[&Reading]) {
    let (first, last) = (steady[0], steady[steady.len() - 1]);
    let seconds = (last.at - first.at).as_secs_f64();
    let offered = (TARGETS * SERIES_PER_TARGET) as f64 * seconds / SCRAPE_INTERVAL.as_secs_f64();
    let scraped = last.samples_scraped - first.samples_scraped;
    assert!(
        scraped >= offered / 2.0,
        "only {scraped} samples scraped in {seconds:.0} s, of {offered} offered"
    );
    assert!(
        last.checkpoints > first.checkpoints,
        "no WAL checkpoint in {seconds:.0} s: retention never dropped anything from the log"
    );
}

/// Once retention has dropped the chunks sealed at the second cut, their pages are gone: what
/// is left mapped is at most a tenth of the most the run ever had (the page being filled and
/// any chunk sealed late by a series that started late).
fn check_pages_unmapped(readings: &[Reading], cut: Duration) {
    let most = readings.iter().map(|r| r.page_bytes).fold(0.0, f64::max);
    let after = readings
        .iter()
        .filter(|r| r.at > cut)
        .map(|r| r.page_bytes)
        .fold(f64::INFINITY, f64::min);
    assert!(most > 0.0, "no sealed chunk was ever paged");
    assert!(
        after <= most / 10.0,
        "{after} bytes of pages still mapped after the second cut, of {most} at most"
    );
}

fn check_every_target_up(addr: SocketAddr) {
    let up = samples_of(&harness::federate(addr, &["up"]).text());
    let healthy = up
        .iter()
        .filter(|(_, bits, _)| f64::from_bits(*bits) == 1.0)
        .count();
    assert_eq!(healthy, TARGETS, "targets up at the end: {up:?}");
}

/// Retention really cut the head: no series of a target holds more than one chunk span of
/// samples plus the retention period and a check interval (and a scrape of slack).
fn check_head_depth(addr: SocketAddr, chunk_span: Duration) {
    let deepest = chunk_span + RETENTION + RETENTION_CHECK + SCRAPE_INTERVAL;
    let most = (deepest.as_secs_f64() / SCRAPE_INTERVAL.as_secs_f64()).ceil() as usize;
    let series = query_api::matrix(addr, r#"synth_value{series="0"}[1h]"#, None).unwrap();
    assert_eq!(series.len(), TARGETS, "one series 0 per target");
    for (labels, samples) in &series {
        assert!(
            samples.len() <= most,
            "{labels:?} holds {} samples; retention should keep at most {most}",
            samples.len()
        );
    }
}

fn read(node: &Wasmfed, at: Duration) -> Reading {
    let text = wait_for("the node's /metrics", Duration::from_secs(30), || {
        get(node.addr, "/metrics").map(|r| r.text())
    });
    let value = |name: &str| harness::metric_with(&text, name, &[]).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    Reading {
        at,
        rss: rss_kb * 1024,
        head_series: value("wasmfed_head_series"),
        samples_scraped: value("wasmfed_samples_scraped_total"),
        scrape_failures: family_sum(&text, "wasmfed_scrape_failures_total"),
        checkpoints: value("wasmfed_wal_checkpoints_total"),
        wal_bytes: value("wasmfed_wal_storage_size_bytes"),
        page_bytes: value("wasmfed_head_chunk_page_bytes"),
    }
}

/// The sum of every labelled sample of `name` (0 when there is none yet).
fn family_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|rest| rest.rsplit_once("} ")?.1.trim().parse::<f64>().ok())
        .fold(0.0, |sum, v| sum + v)
}

fn print_reading(r: &Reading, previous: Option<&Reading>) {
    let rate = previous.map_or(0.0, |p| {
        (r.samples_scraped - p.samples_scraped) / (r.at - p.at).as_secs_f64()
    });
    println!(
        "{:4}  {:6.1}  {:8}  {:9.0}  {:8}  {:11}  {:6.1}  {:8.1}",
        r.at.as_secs(),
        mb(r.rss),
        r.head_series,
        rate,
        r.scrape_failures,
        r.checkpoints,
        r.wal_bytes / 1e6,
        r.page_bytes / 1e6
    );
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn config(targets: &[SocketAddr]) -> String {
    format!(
        "global:\n  scrape_interval: {0}s\n  scrape_timeout: {0}s\nscrape_configs:\n{1}",
        SCRAPE_INTERVAL.as_secs(),
        static_job("synth", targets, "")
    )
}

/// `wasmfed synth`'s benchmark targets, served from this process on ports the OS picks.
struct SynthTargets {
    addrs: Vec<SocketAddr>,
    _runtime: tokio::runtime::Runtime,
}

impl SynthTargets {
    fn start() -> SynthTargets {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let addrs = runtime.block_on(async {
            let mut listeners = Vec::new();
            for _ in 0..TARGETS {
                listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
            }
            let profile = Profile::Bench {
                series: SERIES_PER_TARGET,
            };
            synth::serve(listeners, profile, None).await.unwrap()
        });
        SynthTargets {
            addrs,
            _runtime: runtime,
        }
    }
}
