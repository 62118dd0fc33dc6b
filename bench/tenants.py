#!/usr/bin/env python3
"""What many tenants cost: wasmfed's CPU per million samples with the same targets split over
N tenants, each with its own relabel and shard plugins, against one tenant (issue #5).

Starts `wasmfed synth` once (T targets x S series), then, one after the other, fresh wasmfed
nodes scraping all of them at the same interval, alternating two layouts:

- 1 tenant with one job of all T targets;
- N tenants, each with one job of T/N targets.

Every job has the same typical `metric_relabel_configs` (the stock relabel plugin) and a
`target_plugins` entry `hashmod-shard` with modulus 1 (keeps every target), so each tenant
runs its own instances of both plugins. Each node is measured over a window after its
warm-up (CPU from /proc, samples from `wasmfed_samples_scraped_total`), then stopped and its
storage removed. The overhead is (mean N-tenant figure / mean 1-tenant figure) - 1.

    bench/tenants.py --targets 100 --series 1000 --tenants 10 --interval 1s --rounds 2
"""

import argparse
import statistics
import sys
import textwrap
import time

from common import (METRIC_RELABEL, Bench, add_common_args, cpu_window, global_section, metric, metrics_or_zero, rss_bytes,
                    static_job)

TARGET_PLUGINS = """    target_plugins:
      - stock: hashmod-shard
        config: {modulus: 1, shard: 0}
"""

PLUGIN_METRICS = ["wasmfed_plugin_calls_total", "wasmfed_plugin_instantiations_total"]


def config(targets, tenants, interval):
    """A configuration splitting `targets` evenly over `tenants` tenants."""
    out = [global_section(interval) + "tenants:\n"]
    per = len(targets) // tenants
    for t in range(tenants):
        job = static_job("synth", targets[t * per:(t + 1) * per], METRIC_RELABEL + TARGET_PLUGINS)
        out.append(f"  - name: team-{t}\n    bearer_token: token-{t}\n    scrape_configs:\n")
        out.append(textwrap.indent(job, "    "))
    return "".join(out)


def run(bench, targets, tenants, args):
    """One fresh node with `tenants` tenants: its figures over the measurement window."""
    path = bench.write(f"tenants-{tenants}.yml", config(targets, tenants, args.interval))
    proc, addr = bench.wasmfed(path, storage=f"wasmfed-{tenants}")
    try:
        url = f"http://{addr}/metrics"
        time.sleep(args.warmup)
        plugins_before = metrics_or_zero(url, PLUGIN_METRICS)
        cpu, samples = cpu_window({"wasmfed": (proc.pid, url, "wasmfed_samples_scraped_total")},
                                  args.measure)["wasmfed"]
        plugins_after = metrics_or_zero(url, PLUGIN_METRICS)
        series = metric(url, "wasmfed_head_series")
        return {
            "cpu_s_per_million": cpu / samples * 1e6,
            "samples_per_s": samples / args.measure,
            "series": series,
            "rss_bytes_per_series": rss_bytes(proc.pid) / series,
            "instantiations": plugins_after["wasmfed_plugin_instantiations_total"],
            "plugin_calls_in_window": (plugins_after["wasmfed_plugin_calls_total"]
                                       - plugins_before["wasmfed_plugin_calls_total"]),
        }
    finally:
        bench.stop(proc)
        bench.remove(f"wasmfed-{tenants}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--tenants", type=int, default=10, help="tenants of the many-tenant layout")
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--warmup", type=float, default=30, help="seconds before measuring each node")
    ap.add_argument("--measure", type=float, default=60, help="seconds of CPU measurement per node")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each layout, alternating")
    args = ap.parse_args()
    if args.targets % args.tenants:
        sys.exit("--targets must split evenly over --tenants")

    layouts = [1, args.tenants]
    results = {n: [] for n in layouts}
    with Bench(args) as bench:
        targets = bench.synth()
        for r in range(args.rounds):
            for n in layouts:
                print(f"round {r + 1}: {n} tenant(s), warm-up {args.warmup:.0f}s ...", file=sys.stderr)
                results[n].append(run(bench, targets, n, args))

    print(f"\n{args.targets} targets x {args.series} series at {args.interval}, relabel + hashmod-shard "
          f"plugins per job; {args.measure:.0f}s windows after {args.warmup:.0f}s warm-up, alternating")
    print(f"{'figure':<28}" + "".join(f"{f'{n} tenant(s)':>40}" for n in layouts))
    for key, label in [("cpu_s_per_million", "CPU s / million samples"),
                       ("samples_per_s", "samples / s"),
                       ("series", "active series"),
                       ("rss_bytes_per_series", "RSS bytes / series"),
                       ("instantiations", "plugin instantiations"),
                       ("plugin_calls_in_window", "plugin calls in window")]:
        cells = [", ".join(f"{run[key]:.4g}" for run in results[n]) for n in layouts]
        print(f"{label:<28}" + "".join(f"{c:>40}" for c in cells))
    one, many = (statistics.fmean(r["cpu_s_per_million"] for r in results[n]) for n in layouts)
    print(f"\nmean CPU s / million samples: 1 tenant {one:.4g}, {args.tenants} tenants {many:.4g}; "
          f"overhead {(many / one - 1) * 100:+.1f}%")


if __name__ == "__main__":
    main()
