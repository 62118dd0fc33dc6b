#!/usr/bin/env python3
"""Retention that scales: start-up time, memory and a query over blocks, wasmfed vs the real
Prometheus, for 1, 7 and 15 days of history.

For each number of days, promtool (Debian's prometheus package) backfills `--series` gauges
sampled every `--step` seconds over that many days, ending three hours ago, into a directory of
2 h blocks. Each server is then started on a copy of that directory, alone (they would share
the two cores otherwise), with a 30 d retention so nothing is deleted:
  - ready:   seconds from spawn until /-/ready answers 200 (blocks opened, head replayed);
  - rss:     resident memory once ready, and after the queries;
  - query:   median seconds of `sum(rate(bench_gauge[24h]))` at the end of the data (every
             series' last 24 h read from blocks), over 5 runs after one warm-up.
Prometheus starts on a data directory without a WAL of its own; so does wasmfed. Neither has
compacted the backfilled blocks when it is measured (Prometheus plans its first compaction a
minute after start; wasmfed's first pass comes after the same quarter retention tick).

Prints one table per day count with the ratio wasmfed/Prometheus (lower is better), then how
ready time and memory grow from the smallest to the largest history for each server.

    bench/blocks.py                               # 1000 series, one sample a minute, 1/7/15 d
    bench/blocks.py --series 200 --days 1,3 --step 120                               # smoke
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse

from common import ROOT, alone, http, rss_bytes

PROMTOOL = "/usr/bin/promtool"


def backfill(tmp, series, step, days, end_s):
    """A directory of promtool-made blocks: `series` gauges every `step` s for `days` days."""
    text = os.path.join(tmp, f"in-{days}d.om")
    start_s = end_s - days * 86400
    with open(text, "w") as f:
        f.write("# TYPE bench_gauge gauge\n")
        for s in range(series):
            name = f'bench_gauge{{instance="host-{s:05}:9100",job="node",dc="dc{s % 4}"}}'
            lines = []
            for i, t in enumerate(range(start_s, end_s, step)):
                lines.append(f"{name} {(s * 7 + i) % 1000 / 4} {t}\n")
            f.write("".join(lines))
        f.write("# EOF\n")
    out = os.path.join(tmp, f"blocks-{days}d")
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", text, out],
                   check=True, capture_output=True)
    os.remove(text)
    return out


def query_seconds(addr, expr, at_s, runs=5):
    """Median seconds of `expr` at `at_s` over `runs` runs, after a warm-up; and the answer."""
    url = f"http://{addr}/api/v1/query?query={urllib.parse.quote(expr)}&time={at_s}"
    answer = json.loads(http(url))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        http(url)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), answer


def same_value(a, b):
    """Whether two one-sample answers agree to 1e-9 relative (sums may add in another order)."""
    try:
        x = float(a["data"]["result"][0]["value"][1])
        y = float(b["data"]["result"][0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300)


def measure(argv, addr, data, end_s, log_path):
    """Starts a server on `data`; its ready time, RSS when ready and after the queries, query
    time, and the query's answer."""
    with alone(argv, addr, log_path) as (proc, ready):
        rss_ready = rss_bytes(proc.pid)
        q, answer = query_seconds(addr, "sum(rate(bench_gauge[24h]))", end_s)
        rss_after = rss_bytes(proc.pid)
    return {"ready": ready, "rss_ready": rss_ready, "rss_query": rss_after, "query": q, "answer": answer}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--step", type=int, default=60, help="seconds between samples")
    ap.add_argument("--days", default="1,7,15")
    ap.add_argument("--wasmfed", default=os.path.join(ROOT, "target/release/wasmfed"))
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--port", type=int, default=20990)
    args = ap.parse_args()
    for tool in (args.wasmfed, args.prometheus, PROMTOOL):
        if not os.path.exists(tool):
            sys.exit(f"{tool} is missing (cargo build --release -p wasmfed; ./test.sh installs prometheus)")
    days_list = [int(d) for d in args.days.split(",")]
    end_s = (int(time.time()) - 3 * 3600) // 60 * 60
    tmp = os.path.join(ROOT, "target", "bench-blocks")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    config = os.path.join(tmp, "config.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    results = {}
    try:
        for days in days_list:
            t0 = time.perf_counter()
            blocks = backfill(tmp, args.series, args.step, days, end_s)
            samples = args.series * days * 86400 // args.step
            print(f"\n{days} d: {samples:,} samples in {len(os.listdir(blocks))} blocks "
                  f"({time.perf_counter() - t0:.0f} s to backfill)", flush=True)
            row = {}
            for server in ("prometheus", "wasmfed"):
                data = os.path.join(tmp, f"{server}-{days}d")
                shutil.copytree(blocks, data)
                addr = f"127.0.0.1:{args.port}"
                if server == "prometheus":
                    argv = [args.prometheus, f"--config.file={config}", f"--web.listen-address={addr}",
                            f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=30d", "--log.level=warn"]
                else:
                    # As the peer answers: Prometheus 2.42's windows include the sample at t - 24h.
                    argv = [args.wasmfed, f"--config.file={config}", f"--web.listen-address={addr}",
                            f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=30d", "--log.level=warn",
                            "--query.compat=2"]
                row[server] = measure(argv, addr, data, end_s, os.path.join(tmp, f"{server}-{days}d.log"))
                shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(blocks, ignore_errors=True)
            a, b = row["prometheus"]["answer"], row["wasmfed"]["answer"]
            same = same_value(a, b)
            print(f"{'':<22}{'prometheus':>14}{'wasmfed':>14}{'ratio':>10}")
            for key, unit, scale in (("ready", "s", 1), ("rss_ready", "MB", 1e6), ("rss_query", "MB", 1e6),
                                     ("query", "ms", 1e-3)):
                p, w = row["prometheus"][key] / scale, row["wasmfed"][key] / scale
                print(f"{key + ' (' + unit + ')':<22}{p:>14.3f}{w:>14.3f}{w / p if p else float('nan'):>10.3f}")
            print(f"answers equal: {same}" + ("" if same else f"\n  prometheus {a}\n  wasmfed    {b}"))
            results[days] = row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(days_list) > 1:
        lo, hi = days_list[0], days_list[-1]
        print(f"\ngrowth from {lo} d to {hi} d of history (x):")
        for server in ("prometheus", "wasmfed"):
            r0, r1 = results[lo][server], results[hi][server]
            print(f"  {server:<12} ready {r1['ready'] / r0['ready']:.2f}   rss when ready "
                  f"{r1['rss_ready'] / r0['rss_ready']:.2f}   query {r1['query'] / r0['query']:.2f}")


if __name__ == "__main__":
    main()
