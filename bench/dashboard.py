#!/usr/bin/env python3
"""A Grafana-like dashboard load, wasmfed vs the real Prometheus (issue #20): 20 range queries
over one hour of `--series` series at a 15 s step, the panels of a service dashboard (rates by
shard and status code, ratios, top-k, quantiles, *_over_time, single-series panels).

promtool (Debian's prometheus package) backfills the hour, ending three hours ago, into 2 h
blocks: `--series` / 4 instances, each with three counters `bench_requests_total{code}` and one
gauge `bench_value`, one sample every `--interval` seconds; `--values static` keeps every
series at one value (a quiet fleet), `changing` (default) moves them every sample. Each server
is started alone on a copy (both would share the two cores otherwise), answers every panel once
to warm up, then `--runs` times; the figure per panel is the median wall time of its
`/api/v1/query_range` request, as a dashboard's browser waits for it.

Prints, per panel, both medians and the ratio wasmfed/Prometheus (lower is better), then the
whole dashboard's total, and whether the two answered the same (series and every point, to
1e-9 relative or 1e-12 absolute; for top-k panels the same values at every step, since
Prometheus keeps whichever of equal series its map order gives; wasmfed runs with
--query.compat=2, the peer's semantics).

    bench/dashboard.py                                   # 100k series, 30 s samples
    bench/dashboard.py --series 8000 --runs 1            # smoke
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse

from common import ROOT, alone, http, rss_bytes

PROMTOOL = "/usr/bin/promtool"
CODES = ("200", "404", "500")
SHARDS = 16

PANELS = [
    "sum by (shard) (rate(bench_requests_total[5m]))",
    "sum by (code) (rate(bench_requests_total[5m]))",
    "sum(rate(bench_requests_total[1m]))",
    "topk(5, sum by (instance) (rate(bench_requests_total[5m])))",
    "sum by (shard) (increase(bench_requests_total[15m]))",
    'sum(rate(bench_requests_total{code="500"}[5m])) / sum(rate(bench_requests_total[5m]))',
    'sum by (shard) (rate(bench_requests_total{code=~"5.."}[5m])) '
    "/ on (shard) sum by (shard) (rate(bench_requests_total[5m]))",
    "sum without (instance, code) (irate(bench_requests_total[2m]))",
    'rate(bench_requests_total{instance="host-00007"}[5m])',
    "avg by (shard) (bench_value)",
    "max by (shard) (bench_value)",
    "quantile by (shard) (0.9, bench_value)",
    "count by (shard) (bench_value > 500)",
    "stddev by (shard) (bench_value)",
    "sum by (shard) (avg_over_time(bench_value[5m]))",
    "max(max_over_time(bench_value[10m]))",
    "sum by (shard) (deriv(bench_value[10m]))",
    "avg by (shard) (delta(bench_value[5m]))",
    'bench_value{instance="host-00042"}',
    "count(count by (instance) (bench_value))",
]


def backfill(tmp, series, interval, start_s, end_s, changing):
    """A directory of promtool-made blocks holding the dashboard's data."""
    text = os.path.join(tmp, "in.om")
    times = range(start_s, end_s + 1, interval)
    with open(text, "w") as f:
        f.write("# TYPE bench_requests counter\n")
        for i in range(series // 4):
            labels = f'instance="host-{i:05}",job="svc",shard="s{i % SHARDS}"'
            for c, code in enumerate(CODES):
                name = f'bench_requests_total{{code="{code}",{labels}}}'
                step = (i * 7 + c) % 10 + 1
                f.write("".join(f"{name} {step * n if changing else step} {t}\n" for n, t in enumerate(times)))
        f.write("# TYPE bench_value gauge\n")
        for i in range(series // 4):
            name = f'bench_value{{instance="host-{i:05}",job="svc",shard="s{i % SHARDS}"}}'
            f.write("".join(f"{name} {(i * 13 + (n * 7 if changing else 0)) % 1000} {t}\n"
                            for n, t in enumerate(times)))
        f.write("# EOF\n")
    out = os.path.join(tmp, "blocks")
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", text, out],
                   check=True, capture_output=True)
    os.remove(text)
    return out


def ask(addr, expr, start_s, end_s, step):
    """Seconds until the answer, and the answer (an error answer too)."""
    url = f"http://{addr}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": start_s, "end": end_s, "step": step})
    t0 = time.perf_counter()
    try:
        body = http(url, timeout=600)
    except urllib.error.HTTPError as e:
        body = e.read()
    return time.perf_counter() - t0, json.loads(body)


def run_dashboard(argv, addr, log_path, window, runs):
    """Starts a server; per panel the median seconds over `runs` and the first answer; RSS."""
    with alone(argv, addr, log_path) as (proc, _):
        answers = [ask(addr, expr, *window)[1] for expr in PANELS]  # warm-up
        times = [[] for _ in PANELS]
        for _ in range(runs):
            for i, expr in enumerate(PANELS):
                times[i].append(ask(addr, expr, *window)[0])
        rss = rss_bytes(proc.pid)
    return [statistics.median(t) for t in times], answers, rss


def matrix(answer):
    """{label set: [(t, v)]} of a range answer, or its error."""
    if answer.get("status") != "success":
        return ("error", answer.get("errorType"), answer.get("error"))
    return {tuple(sorted(s["metric"].items())): [(float(t), float(v)) for t, v in s["values"]]
            for s in answer["data"]["result"]}


def difference(a, b):
    """The first difference between two range answers (None when they agree: the same series
    with the same points, values to 1e-9 relative)."""
    a, b = matrix(a), matrix(b)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return None if a == b else f"{a} vs {b}"

    def close(x, y):
        # As the e2e differential: 1e-9 relative, or 1e-12 absolute where values cancel out
        # (sums in another order).
        if x != x or y != y:
            return x != x and y != y
        return abs(x - y) <= 1e-9 * max(abs(x), abs(y)) or abs(x - y) <= 1e-12

    if a.keys() != b.keys():
        # topk/bottomk keep, of equal values, whichever series Go's map order gave first.
        def by_step(m):
            steps = {}
            for points in m.values():
                for t, v in points:
                    steps.setdefault(t, []).append(v)
            return {t: sorted(vs) for t, vs in steps.items()}
        sa, sb = by_step(a), by_step(b)
        if sa.keys() == sb.keys() and all(len(sa[t]) == len(sb[t]) and all(map(close, sa[t], sb[t])) for t in sa):
            return None
        return f"series only in prometheus {sorted(a.keys() - b.keys())[:2]}, only in wasmfed {sorted(b.keys() - a.keys())[:2]}"
    for k in sorted(a):
        if len(a[k]) != len(b[k]):
            ta, tb = {t for t, _ in a[k]}, {t for t, _ in b[k]}
            return f"{dict(k)}: {len(a[k])} points vs {len(b[k])}; only in prometheus {sorted(ta - tb)[:3]}, only in wasmfed {sorted(tb - ta)[:3]}"
        for p, q in zip(a[k], b[k]):
            if p[0] != q[0] or not close(p[1], q[1]):
                return f"{dict(k)} at {p[0]}: {p[1]!r} vs {q[0]} {q[1]!r}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--interval", type=int, default=30, help="seconds between samples")
    ap.add_argument("--step", default="15s", help="the range queries' step")
    ap.add_argument("--values", choices=("changing", "static"), default="changing")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wasmfed", default=os.path.join(ROOT, "target/release/wasmfed"))
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--port", type=int, default=20980)
    args = ap.parse_args()
    for tool in (args.wasmfed, args.prometheus, PROMTOOL):
        if not os.path.exists(tool):
            sys.exit(f"{tool} is missing (cargo build --release -p wasmfed; ./test.sh installs prometheus)")
    end_s = (int(time.time()) - 3 * 3600) // 60 * 60
    start_s = end_s - 3600
    tmp = os.path.join(ROOT, "target", "bench-dashboard")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    config = os.path.join(tmp, "config.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    try:
        t0 = time.perf_counter()
        blocks = backfill(tmp, args.series, args.interval, start_s, end_s, args.values == "changing")
        samples = args.series * (3600 // args.interval + 1)
        print(f"{args.series:,} series ({args.values} values), {samples:,} samples over 1 h, "
              f"backfilled in {time.perf_counter() - t0:.0f} s; {len(PANELS)} panels at step {args.step}, "
              f"median of {args.runs} after a warm-up", flush=True)
        window = (start_s, end_s, args.step)
        result = {}
        for server in ("prometheus", "wasmfed"):
            data = os.path.join(tmp, server)
            shutil.copytree(blocks, data)
            addr = f"127.0.0.1:{args.port}"
            argv = [args.prometheus if server == "prometheus" else args.wasmfed, f"--config.file={config}",
                    f"--web.listen-address={addr}", f"--storage.tsdb.path={data}",
                    "--storage.tsdb.retention.time=30d", "--log.level=warn"]
            if server == "wasmfed":
                argv.append("--query.compat=2")
            result[server] = run_dashboard(argv, addr, os.path.join(tmp, f"{server}.log"), window, args.runs)
            shutil.rmtree(data, ignore_errors=True)
        (pt, pa, prss), (wt, wa, wrss) = result["prometheus"], result["wasmfed"]
        print(f"\n{'panel':<72}{'prom ms':>10}{'wasmfed ms':>12}{'ratio':>8}  same")
        for expr, p, w, a, b in zip(PANELS, pt, wt, pa, wa):
            agree = difference(a, b) is None
            print(f"{expr[:71]:<72}{p * 1e3:>10.1f}{w * 1e3:>12.1f}{w / p:>8.2f}  {'yes' if agree else 'NO'}")
        print(f"{'whole dashboard':<72}{sum(pt) * 1e3:>10.1f}{sum(wt) * 1e3:>12.1f}{sum(wt) / sum(pt):>8.2f}")
        print(f"{'RSS after the panels (MB)':<72}{prss / 1e6:>10.1f}{wrss / 1e6:>12.1f}{wrss / prss:>8.2f}")
        for expr, a, b in zip(PANELS, pa, wa):
            if difference(a, b):
                print(f"differs: {expr}\n  {difference(a, b)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
