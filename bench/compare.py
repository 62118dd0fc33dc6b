#!/usr/bin/env python3
"""wasmfed vs the real Prometheus, side by side on the same synthetic targets, in one run.

Starts `wasmfed synth` (T targets x S series, one port each), then a wasmfed node and Debian's
Prometheus scraping exactly those targets at the same interval. After a warm-up it measures,
for each: CPU seconds per million ingested samples (from /proc and each server's own sample
counter), resident memory per active series, and the time and size of `/federate` of every
series. It prints the figures and the ratio wasmfed/Prometheus for each (lower is better,
except bytes, which should be equal), then wasmfed's plugin-call and series-cache counters
over the same window: with `--relabel`, a steady scrape should make no plugin call at all.

Everything listens on 127.0.0.1; temp dirs are removed at the end.

    bench/compare.py --targets 100 --series 1000 --interval 1s --warmup 30 --measure 60
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def http_get(url, timeout=120):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def metric(url, name):
    """Sum of every sample of `name` (any labels) in a text or OpenMetrics exposition."""
    pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+(\S+)")
    values = [float(m.group(2)) for m in map(pattern.match, http_get(url).decode().splitlines()) if m]
    if not values:
        raise RuntimeError(f"{name} not found at {url}")
    return sum(values)


def metrics_or_zero(url, names):
    """Sums of several metrics from one fetch of `url`; 0 for a metric not exposed."""
    lines = http_get(url).decode().splitlines()
    sums = {}
    for name in names:
        pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+(\S+)")
        sums[name] = sum(float(m.group(2)) for m in map(pattern.match, lines) if m)
    return sums


# wasmfed's own view of its relabel stage: plugin calls and series-cache lookups. In a steady
# scrape the cache answers every series, so plugin calls stop growing after the warm-up.
WASMFED_CACHE_METRICS = ["wasmfed_plugin_calls_total", "wasmfed_plugin_call_seconds_total",
                         "wasmfed_plugin_instantiations_total", "wasmfed_series_cache_hits_total",
                         "wasmfed_series_cache_misses_total"]


def wait_ready(url, what, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            http_get(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{what} did not become ready at {url}")


def timed_federate(addr):
    query = urllib.parse.urlencode({"match[]": '{__name__=~".+"}'})
    start = time.perf_counter()
    body = http_get(f"http://{addr}/federate?{query}", timeout=600)
    return time.perf_counter() - start, len(body)


# Typical rules: drop a family, copy a label, rewrite a label's value. Nothing is dropped from
# the synthetic targets, so both sides store the same number of samples.
METRIC_RELABEL = """    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
      - source_labels: [shard]
        target_label: partition
      - source_labels: [series]
        regex: '(\\d+)'
        target_label: series
        replacement: s$1
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--warmup", type=float, default=30, help="seconds before measuring")
    ap.add_argument("--measure", type=float, default=60, help="seconds of CPU measurement")
    ap.add_argument("--wasmfed", default=os.path.join(ROOT, "target/release/wasmfed"))
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--relabel", action="store_true",
                    help="give both the same typical metric_relabel_configs (wasmfed runs them as WASM)")
    args = ap.parse_args()

    if not os.path.exists(args.wasmfed):
        print("building wasmfed (release)...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-p", "wasmfed"], cwd=ROOT, check=True)
    if not os.path.exists(args.prometheus):
        sys.exit(f"{args.prometheus} missing: apt-get install prometheus (./test.sh does it)")

    tmp = tempfile.mkdtemp(prefix="wasmfed-bench-")
    procs = []
    try:
        synth_port, prom_port, wf_port = args.base_port, args.base_port - 2, args.base_port - 1
        targets = ", ".join(f"'127.0.0.1:{synth_port + i}'" for i in range(args.targets))
        config = (
            f"global:\n  scrape_interval: {args.interval}\n  scrape_timeout: {args.interval}\n"
            f"scrape_configs:\n  - job_name: synth\n    static_configs:\n      - targets: [{targets}]\n"
        )
        if args.relabel:
            config += METRIC_RELABEL
        config_path = os.path.join(tmp, "bench.yml")
        with open(config_path, "w") as f:
            f.write(config)
        log = open(os.path.join(tmp, "log.txt"), "w")
        procs.append(subprocess.Popen(
            [args.wasmfed, "synth", f"--listen=127.0.0.1:{synth_port}",
             f"--targets={args.targets}", f"--series={args.series}"], stdout=log, stderr=log))
        wait_ready(f"http://127.0.0.1:{synth_port + args.targets - 1}/metrics", "synthetic targets")
        prom = subprocess.Popen(
            [args.prometheus, f"--config.file={config_path}", f"--web.listen-address=127.0.0.1:{prom_port}",
             f"--storage.tsdb.path={tmp}/prom", "--log.level=warn"], stdout=log, stderr=log)
        wf = subprocess.Popen(
            [args.wasmfed, f"--config.file={config_path}", f"--web.listen-address=127.0.0.1:{wf_port}",
             f"--storage.path={tmp}/wasmfed", "--log.level=warn"], stdout=log, stderr=log)
        procs += [prom, wf]
        wait_ready(f"http://127.0.0.1:{prom_port}/-/ready", "prometheus")
        wait_ready(f"http://127.0.0.1:{wf_port}/-/ready", "wasmfed")
        print(f"{args.targets} targets x {args.series} series at {args.interval}; warm-up {args.warmup:.0f}s ...",
              file=sys.stderr)
        time.sleep(args.warmup)

        servers = {
            "prometheus": (prom, f"127.0.0.1:{prom_port}", "prometheus_tsdb_head_samples_appended_total",
                           "prometheus_tsdb_head_series"),
            "wasmfed": (wf, f"127.0.0.1:{wf_port}", "wasmfed_samples_scraped_total", "wasmfed_head_series"),
        }
        wf_metrics_url = f"http://127.0.0.1:{wf_port}/metrics"
        cache_before = metrics_or_zero(wf_metrics_url, WASMFED_CACHE_METRICS)
        before = {k: (cpu_seconds(p.pid), metric(f"http://{a}/metrics", s)) for k, (p, a, s, _) in servers.items()}
        time.sleep(args.measure)
        after = {k: (cpu_seconds(p.pid), metric(f"http://{a}/metrics", s)) for k, (p, a, s, _) in servers.items()}
        cache_after = metrics_or_zero(wf_metrics_url, WASMFED_CACHE_METRICS)

        results = {}
        for k, (p, addr, _, series_metric) in servers.items():
            cpu = after[k][0] - before[k][0]
            samples = after[k][1] - before[k][1]
            series = metric(f"http://{addr}/metrics", series_metric)
            rss = rss_bytes(p.pid)
            fed_time, fed_bytes = timed_federate(addr)
            results[k] = {
                "cpu_s_per_million": cpu / samples * 1e6 if samples else float("nan"),
                "rss_bytes_per_series": rss / series if series else float("nan"),
                "federate_s": fed_time,
                "federate_bytes": fed_bytes,
                "series": series,
                "samples": samples,
            }

        print(f"\nwasmfed vs Prometheus: {args.targets} targets x {args.series} series, interval {args.interval}, "
              f"metric relabeling {'on' if args.relabel else 'off'}, "
              f"measured {args.measure:.0f}s after {args.warmup:.0f}s warm-up")
        print(f"{'figure':<28}{'prometheus':>14}{'wasmfed':>14}{'ratio':>10}")
        for key, label in [("cpu_s_per_million", "CPU s / million samples"),
                           ("rss_bytes_per_series", "RSS bytes / series"),
                           ("federate_s", "/federate all (s)"),
                           ("federate_bytes", "/federate bytes"),
                           ("series", "active series"),
                           ("samples", "samples in window")]:
            p, w = results["prometheus"][key], results["wasmfed"][key]
            ratio = w / p if p else float("nan")
            print(f"{label:<28}{p:>14.4g}{w:>14.4g}{ratio:>10.3f}")
        print(f"\nwasmfed relabel stage and series cache{'':<10}{'at start':>14}{'growth in window':>18}")
        for name in WASMFED_CACHE_METRICS:
            print(f"{name:<48}{cache_before[name]:>14.6g}{cache_after[name] - cache_before[name]:>18.6g}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
