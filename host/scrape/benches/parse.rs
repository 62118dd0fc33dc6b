//! Throughput of the exposition parser on a realistic scrape: 10k series in node_exporter-like
//! families with 2–5 labels each, HELP and TYPE lines included.
//!
//! Run: `cargo bench -p wasmfed-scrape --bench parse`. Criterion reports each case; a summary in MB/s,
//! ns/sample and allocations per parse is printed once at the end.
//!
//! Measured 2026-11-21 on the shared 2-core dev machine with
//! `cargo bench -p wasmfed-scrape --bench parse -- --warm-up-time 1 --measurement-time 3`
//! (1.1 MB, 10k samples; criterion's median, then the summary line):
//! - prometheus_text/10k_series: 1.25 ms, 842 MiB/s; summary 921 MB/s, 120 ns/sample,
//!   2 allocations per parse
//! - openmetrics/10k_series: 1.31 ms, 801 MiB/s; summary 857 MB/s, 128 ns/sample
//! - prometheus_text/10k_series_with_parse_series (every series decoded, as on a cold cache):
//!   4.48 ms, 234 MiB/s

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, Throughput};
use wasmfed_scrape::parse::{parse_series, Entry, Format, Parser};

/// Counts heap allocations, to show a parse allocates per scrape, not per sample.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A deterministic pseudo-random sequence (no `rand` needed for a fixed payload).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A metric family: name, type, and each label with the values it takes.
type Family = (String, &'static str, Vec<(&'static str, Vec<String>)>);

/// Families as node_exporter and a typical instrumented server expose them. Each family contributes the cartesian product of its label values.
fn families() -> Vec<Family> {
    let cpus = values("", 64);
    let modes = list(&[
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ]);
    let disks = values("nvme0n", 32);
    let nics = values("eth", 32);
    let fs = (
        values("/dev/mapper/vg0-lv", 8),
        list(&["ext4", "xfs", "tmpfs", "overlay"]),
        list(&[
            "/",
            "/boot",
            "/var/lib/docker",
            "/run",
            "/home",
            "/srv/data",
        ]),
    );
    let mut out = vec![
        (
            "node_cpu_seconds_total".to_string(),
            "counter",
            vec![("cpu", cpus.clone()), ("mode", modes)],
        ),
        (
            "node_cpu_guest_seconds_total".to_string(),
            "counter",
            vec![("cpu", cpus.clone()), ("mode", list(&["nice", "user"]))],
        ),
    ];
    out.push((
        "node_interrupts_total".to_string(),
        "counter",
        vec![
            ("cpu", cpus.clone()),
            ("devices", values("nvme0q", 40)),
            ("type", list(&["PCI-MSI"])),
        ],
    ));
    for metric in [
        "read_bytes",
        "written_bytes",
        "io_time_seconds",
        "reads_completed",
        "writes_completed",
    ] {
        out.push((
            format!("node_disk_{metric}_total"),
            "counter",
            vec![("device", disks.clone()), ("job", list(&["node"]))],
        ));
    }
    for metric in [
        "avail_bytes",
        "free_bytes",
        "size_bytes",
        "files",
        "files_free",
        "readonly",
    ] {
        out.push((
            format!("node_filesystem_{metric}"),
            "gauge",
            vec![
                ("device", fs.0.clone()),
                ("fstype", fs.1.clone()),
                ("mountpoint", fs.2.clone()),
            ],
        ));
    }
    for dir in ["receive", "transmit"] {
        for metric in ["bytes", "packets", "errs", "drop"] {
            out.push((
                format!("node_network_{dir}_{metric}_total"),
                "counter",
                vec![("device", nics.clone()), ("job", list(&["node"]))],
            ));
        }
    }
    out.push((
        "http_request_duration_seconds_bucket".to_string(),
        "histogram",
        vec![
            ("instance", list(&["10.1.2.3:9090"])),
            ("handler", values("/api/v1/endpoint", 40)),
            ("method", list(&["GET", "POST"])),
            ("code", list(&["200", "204", "400", "404", "500"])),
            (
                "le",
                list(&[
                    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                    "+Inf",
                ]),
            ),
        ],
    ));
    out.push((
        "container_memory_working_set_bytes".to_string(),
        "gauge",
        vec![
            ("namespace", values("team-", 5)),
            ("pod", values("web-7d9f8b6c5-x", 100)),
            ("container", list(&["app", "sidecar", "init"])),
        ],
    ));
    out
}

/// The exposition and its sample count. OpenMetrics gets its `# EOF` and nothing else changes
/// (the families use no `untyped`).
fn exposition(series: usize, format: Format) -> (String, usize) {
    let mut rng = Lcg(42);
    let mut out = String::new();
    let mut written = 0;
    for (name, kind, labels) in families() {
        out += &format!("# HELP {name} Some help text for {name}.\n# TYPE {name} {kind}\n");
        // An odometer over the label values.
        let mut digits = vec![0; labels.len()];
        'family: loop {
            if written == series {
                break;
            }
            let pairs: Vec<String> = labels
                .iter()
                .zip(&digits)
                .map(|((label, values), &i)| format!("{label}=\"{}\"", values[i]))
                .collect();
            let value = match rng.next() % 3 {
                0 => (rng.next() % 100_000).to_string(),
                1 => format!("{:.2}", rng.next() as f64 / 1000.0),
                _ => format!("{:e}", rng.next() as f64 * 1234.5678),
            };
            out += &format!("{name}{{{}}} {value}\n", pairs.join(","));
            written += 1;
            for (digit, (_, values)) in digits.iter_mut().zip(&labels).rev() {
                *digit += 1;
                if *digit < values.len() {
                    continue 'family;
                }
                *digit = 0;
            }
            break;
        }
    }
    assert_eq!(written, series, "families too small");
    if format == Format::OpenMetrics {
        out += "# EOF\n";
    }
    (out, series)
}

fn parse_all(input: &str, format: Format) -> usize {
    let mut samples = 0;
    for entry in Parser::new(input, format) {
        if let Entry::Sample(s) = entry.expect("valid exposition") {
            black_box(s);
            samples += 1;
        }
    }
    samples
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let cases = [
        ("prometheus_text", Format::PrometheusText),
        ("openmetrics", Format::OpenMetrics),
    ];
    let mut summary = Vec::new();
    for (name, format) in cases {
        let (input, samples) = exposition(10_000, format);
        assert_eq!(parse_all(&input, format), samples);
        let mut group = criterion.benchmark_group(name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("10k_series", |b| {
            b.iter(|| parse_all(black_box(&input), format))
        });
        if format == Format::PrometheusText {
            group.bench_function("10k_series_with_parse_series", |b| {
                b.iter(|| {
                    for entry in Parser::new(black_box(&input), format) {
                        if let Ok(Entry::Sample(s)) = entry {
                            black_box(parse_series(s.series).expect("valid series"));
                        }
                    }
                })
            });
        }
        group.finish();
        summary.push((name, input, samples, format));
    }
    criterion.final_summary();

    // A plain measurement for the one-line figures criterion doesn't print.
    for (name, input, samples, format) in summary {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        parse_all(&input, format);
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        // Only the parser's label scratch grows, a few times per parse.
        assert!(
            allocations < 8,
            "{name}: {allocations} allocations in one parse"
        );
        let rounds = 200;
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(parse_all(black_box(&input), format));
        }
        let secs = start.elapsed().as_secs_f64() / rounds as f64;
        println!(
            "{name}: {} bytes, {samples} samples: {:.0} MB/s, {:.1} ns/sample, {allocations} allocations per parse",
            input.len(),
            input.len() as f64 / secs / 1e6,
            secs * 1e9 / samples as f64
        );
    }
}
