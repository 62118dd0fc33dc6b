#!/usr/bin/env python3
"""wasmfed vs the real Prometheus, side by side on the same synthetic targets, in one run.

Starts `wasmfed synth` (T targets x S series, one port each), then a wasmfed node and Debian's
Prometheus scraping exactly those targets at the same interval. After a warm-up it measures,
for each: CPU seconds per million samples appended to the head (from /proc and the same count
on both sides: Prometheus' prometheus_tsdb_head_samples_appended_total, wasmfed's
wasmfed_head_samples_appended_total), resident memory per active series, and the time and size of `/federate` of every
series. It prints the figures and the ratio wasmfed/Prometheus for each (lower is better,
except bytes, which should be equal), then wasmfed's plugin-call and series-cache counters
over the same window: with `--relabel`, a steady scrape should make no plugin call at all.

Not like for like in one respect: Prometheus snappy-compresses its WAL records and wasmfed
does not yet, so wasmfed writes 2.2-2.6x the WAL bytes (bench/RESULTS.md), a cost that is in
its CPU and I/O figures here.

Everything listens on 127.0.0.1; temp dirs are removed at the end.

    bench/compare.py --targets 100 --series 1000 --interval 1s --warmup 30 --measure 60
"""

import argparse
import sys
import time
import urllib.parse

from common import (METRIC_RELABEL, Bench, add_common_args, cpu_window, http, metric, metrics_or_zero, print_ratio_header,
                    print_ratio_row, rss_bytes, synth_config)


# wasmfed's own view of its relabel stage: plugin calls and series-cache lookups. In a steady
# scrape the cache answers every series, so plugin calls stop growing after the warm-up.
WASMFED_CACHE_METRICS = ["wasmfed_plugin_calls_total", "wasmfed_plugin_call_seconds_total",
                         "wasmfed_plugin_instantiations_total", "wasmfed_series_cache_hits_total",
                         "wasmfed_series_cache_misses_total"]


def timed_federate(addr):
    query = urllib.parse.urlencode({"match[]": '{__name__=~".+"}'})
    start = time.perf_counter()
    body = http(f"http://{addr}/federate?{query}", timeout=600)
    return time.perf_counter() - start, len(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--warmup", type=float, default=30, help="seconds before measuring")
    ap.add_argument("--measure", type=float, default=60, help="seconds of CPU measurement")
    ap.add_argument("--relabel", action="store_true",
                    help="give both the same typical metric_relabel_configs (wasmfed runs them as WASM)")
    args = ap.parse_args()

    with Bench(args) as bench:
        targets = bench.synth()
        config = synth_config(args.interval, targets, METRIC_RELABEL if args.relabel else "")
        config_path = bench.write("bench.yml", config)
        prom, prom_addr = bench.prometheus(config_path)
        wf, wf_addr = bench.wasmfed(config_path)
        print(f"{args.targets} targets x {args.series} series at {args.interval}; warm-up {args.warmup:.0f}s ...",
              file=sys.stderr)
        time.sleep(args.warmup)

        servers = {
            "prometheus": (prom, prom_addr, "prometheus_tsdb_head_samples_appended_total",
                           "prometheus_tsdb_head_series"),
            # The same count on both sides: samples a scrape appended to the head (scraped
            # series after relabeling, the synthetic up/scrape_* series, stale markers).
            "wasmfed": (wf, wf_addr, "wasmfed_head_samples_appended_total", "wasmfed_head_series"),
        }
        wf_metrics_url = f"http://{wf_addr}/metrics"
        cache_before = metrics_or_zero(wf_metrics_url, WASMFED_CACHE_METRICS)
        window = cpu_window({k: (p.pid, f"http://{a}/metrics", s) for k, (p, a, s, _) in servers.items()},
                            args.measure)
        cache_after = metrics_or_zero(wf_metrics_url, WASMFED_CACHE_METRICS)

        results = {}
        for k, (p, addr, _, series_metric) in servers.items():
            cpu, samples = window[k]
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
        print_ratio_header()
        for key, label in [("cpu_s_per_million", "CPU s / million samples"),
                           ("rss_bytes_per_series", "RSS bytes / series"),
                           ("federate_s", "/federate all (s)"),
                           ("federate_bytes", "/federate bytes"),
                           ("series", "active series"),
                           ("samples", "samples in window")]:
            print_ratio_row(label, results["prometheus"][key], results["wasmfed"][key])
        print(f"\nwasmfed relabel stage and series cache{'':<10}{'at start':>14}{'growth in window':>18}")
        for name in WASMFED_CACHE_METRICS:
            print(f"{name:<48}{cache_before[name]:>14.6g}{cache_after[name] - cache_before[name]:>18.6g}")


if __name__ == "__main__":
    main()
