#!/usr/bin/env python3
"""Federating every sample against Prometheus' /federate, on the same leaf, in one run.

A wasmfed leaf scrapes the workload every second. Two globals federate it every 15 s at the
same time: Debian's Prometheus 2.42 through plain `/federate` (the newest sample of each
series), and a wasmfed global in every-sample mode (`federation.every_sample`: every sample
since its cursor). Figures, over the measurement window:

- per global: samples stored, CPU seconds per million samples stored (the same counter kind on
  both sides: prometheus_tsdb_head_samples_appended_total, wasmfed_head_samples_appended_total,
  each including the global's own `up`/`scrape_*` series), and the delay from a sample's
  timestamp at the leaf to its storage at the global (`time() - max(timestamp(up))`, polled
  each second);
- at the leaf, from requests this script makes itself (gzip, as scrapers ask): bytes on the wire
  and leaf CPU per federated sample, for a plain `/federate` of every series and for an
  every-sample answer covering 15 s. The leaf's own scraping goes on meanwhile; its CPU rate,
  measured just before, is subtracted.

Two unlike workloads: `synth` (`wasmfed synth`, values changing every scrape) and `node`
(Debian's node_exporter: real output, mostly static values).

    bench/federation.py --workload synth --targets 100 --series 1000
    bench/federation.py --workload node --targets 20
"""

import argparse
import gzip
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

from common import Bench, add_common_args, cpu_seconds, global_section, http, metric, static_job

INTERVAL = 15


def query(addr, expr):
    q = urllib.parse.urlencode({"query": expr})
    answer = json.loads(http(f"http://{addr}/api/v1/query?{q}"))
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def federate(addr, params):
    """One gzip'd request; (bytes on the wire, text, seconds)."""
    url = f"http://{addr}/federate?{urllib.parse.urlencode(params, doseq=True)}"
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as r:
        raw = r.read()
        zipped = r.headers.get("Content-Encoding") == "gzip"
    took = time.perf_counter() - start
    return len(raw), (gzip.decompress(raw) if zipped else raw).decode(), took


def samples_in(text):
    return sum(1 for line in text.splitlines() if line and (not line.startswith("#") or line.startswith("# STALE")))


def leaf_cost(leaf_pid, addr, params, baseline_rate):
    """Bytes and leaf CPU seconds per sample of one answer, the leaf's scraping subtracted."""
    before = cpu_seconds(leaf_pid)
    wire, text, took = federate(addr, params)
    cpu = cpu_seconds(leaf_pid) - before - baseline_rate * took
    n = samples_in(text)
    return wire / n, max(cpu, 0.0) / n, n, text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, targets=100, series=1000)
    ap.add_argument("--workload", choices=["synth", "node"], default="synth")
    ap.add_argument("--warmup", type=float, default=45)
    ap.add_argument("--measure", type=float, default=60)
    args = ap.parse_args()

    with Bench(args) as bench:
        if args.workload == "synth":
            targets = bench.synth()
        else:
            targets = bench.node_exporters(args.targets, args.base_port)
        job = args.workload
        leaf_config = bench.write("leaf.yml", global_section("1s") + "scrape_configs:\n" + static_job(job, targets))
        leaf, leaf_addr = bench.wasmfed(leaf_config, storage="leaf", port_offset=1)
        selector = f'{{job="{job}"}}'
        federation = (f"    metrics_path: /federate\n    honor_labels: true\n"
                      f"    params: {{'match[]': ['{selector}']}}\n")
        plain = global_section(f"{INTERVAL}s") + "scrape_configs:\n" + static_job("leaf", [leaf_addr], federation)
        every = global_section(f"{INTERVAL}s") + "scrape_configs:\n" + static_job(
            "leaf", [leaf_addr], federation + "    federation: {every_sample: true, max_samples_per_request: 5000000}\n")
        prom, prom_addr = bench.prometheus(bench.write("plain.yml", plain), port_offset=2)
        wf, wf_addr = bench.wasmfed(bench.write("every.yml", every), storage="global", port_offset=3)
        print(f"{job}: {len(targets)} targets scraped every 1s by the leaf; globals every {INTERVAL}s; "
              f"warm-up {args.warmup:.0f}s, measuring {args.measure:.0f}s", file=sys.stderr)
        time.sleep(args.warmup)

        counters = {"prometheus": (prom.pid, prom_addr, "prometheus_tsdb_head_samples_appended_total"),
                    "wasmfed": (wf.pid, wf_addr, "wasmfed_head_samples_appended_total")}
        before = {k: (cpu_seconds(pid), metric(f"http://{a}/metrics", c)) for k, (pid, a, c) in counters.items()}
        delays = {"prometheus": [], "wasmfed": []}
        end = time.time() + args.measure
        while time.time() < end:
            for k, addr in (("prometheus", prom_addr), ("wasmfed", wf_addr)):
                delays[k].append(query(addr, f'time() - max(timestamp(up{{job="{job}"}}))'))
            time.sleep(1)
        after = {k: (cpu_seconds(pid), metric(f"http://{a}/metrics", c)) for k, (pid, a, c) in counters.items()}

        print(f"\n## {job}: globals over {args.measure:.0f}s\n")
        print("| global | samples stored | CPU s / million stored | delay mean (s) | delay p90 (s) |")
        print("|---|---:|---:|---:|---:|")
        for k in counters:
            cpu = after[k][0] - before[k][0]
            stored = after[k][1] - before[k][1]
            d = sorted(x for x in delays[k] if x == x)
            p90 = d[int(0.9 * (len(d) - 1))] if d else float("nan")
            print(f"| {k} ({'plain' if k == 'prometheus' else 'every-sample'}) | {stored:.0f} | "
                  f"{cpu / stored * 1e6:.3f} | {statistics.mean(d):.2f} | {p90:.2f} |")

        # The leaf: its scraping rate first, then one answer of each kind.
        start_cpu, start = cpu_seconds(leaf.pid), time.perf_counter()
        time.sleep(5)
        baseline = (cpu_seconds(leaf.pid) - start_cpu) / (time.perf_counter() - start)
        wire_p, cpu_p, n_p, _ = leaf_cost(leaf.pid, leaf_addr, {"match[]": selector}, baseline)
        _, first, _ = federate(leaf_addr, {"match[]": selector, "cursor": ""})
        cursor = first.rstrip("\n").rsplit("\n", 1)[-1].split(" ")[2]
        time.sleep(INTERVAL)
        params = {"match[]": selector, "cursor": cursor, "max_samples": 10_000_000}
        wire_e, cpu_e, n_e, _ = leaf_cost(leaf.pid, leaf_addr, params, baseline)
        print(f"\n## {job}: the leaf, one answer each (gzip)\n")
        print("| answer | samples | bytes / sample | leaf CPU µs / sample |")
        print("|---|---:|---:|---:|")
        print(f"| plain /federate | {n_p} | {wire_p:.2f} | {cpu_p * 1e6:.3f} |")
        print(f"| every-sample, {INTERVAL}s | {n_e} | {wire_e:.2f} | {cpu_e * 1e6:.3f} |")


if __name__ == "__main__":
    main()
