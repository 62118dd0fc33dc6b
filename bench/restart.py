#!/usr/bin/env python3
"""Start-up after a crash: wasmfed vs the real Prometheus replaying the same write-ahead log load.

Starts `wasmfed synth` (T targets x S series, one port each), then a wasmfed node and Debian's
Prometheus, both durable (storage dirs in the temp dir) and scraping exactly those targets at
the same interval. Once both heads hold every series it lets them ingest for `--ingest` more
seconds, then SIGKILLs both at the same moment (no shutdown of any kind) and stops the
targets, so a restart replays its log without competing with scrapes. Each server is then
restarted alone, one after the other (they would otherwise share the two cores), and timed
from spawn to its `/-/ready` answering 200; its head series count (from its own /metrics),
the CPU it used to get there, its RSS, its own report of the replay (log lines) and the size
of its WAL on disk are read before it is killed again. Prints the figures and the ratio
wasmfed/Prometheus for each (lower is better for times, equal is right for series).

wasmfed's ready time includes more than the replay: before it reports ready it also cuts the
head to retention (its first checkpoint is written after it is ready, `node/storage.rs`); the
last line splits its start-up into the replay's own report and the rest. Both WALs were just
written, so both are read from the page cache.

Everything listens on 127.0.0.1 (the servers just below `--base-port`, targets from it up);
temp dirs are removed at the end. 1,000 targets need ~3 file descriptors each in `synth` (a
listener, a connection from each server): the script raises its soft limit to the hard one,
which the children inherit.

    bench/restart.py --targets 20 --series 1000 --interval 5s --ingest 30      # smoke
    bench/restart.py --targets 1000 --series 1000 --interval 15s --ingest 120 --ready-limit 1800   # 1M series

(`--wasmfed` names the release binary when it is not `target/release/wasmfed`, e.g. under a
`CARGO_TARGET_DIR`.) At 1M series every series gets ~8 samples before the crash; Prometheus
then needs ~3.5 GB of memory, wasmfed ~1.3 GB.
"""

import argparse
import os
import re
import resource
import sys
import time

from common import (Bench, add_common_args, cpu_seconds, dir_bytes, metric, print_ratio_header, print_ratio_row,
                    rss_bytes, synth_config)

# What `synth` exposes per target on top of its series: Prometheus' five synthetic series.
SYNTHETIC_SERIES = 5
ANSI = re.compile(r"\x1b\[[0-9;]*m")
GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|µs|us|ns|m|s)")
GO_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def go_duration(text):
    """Seconds in a Go duration string such as 1m2.5s or 523.1ms."""
    return sum(float(n) * GO_UNITS[unit] for n, unit in GO_DURATION_PART.findall(text))


def log_lines(bench, name):
    with open(os.path.join(bench.tmp, name)) as f:
        return [ANSI.sub("", line) for line in f]


def wasmfed_startup(lines):
    """(replay s, samples replayed) from a wasmfed log: the replay's own report."""
    replayed = next((line for line in lines if "write-ahead log replayed" in line), None)
    if replayed is None:
        return float("nan"), float("nan")
    fields = dict(re.findall(r"(\w+)=(\S+)", replayed))
    return int(fields["duration_ms"]) / 1000, int(fields["samples"])


def prometheus_replay(lines):
    """Prometheus' own `total_replay_duration` in seconds, from its "WAL replay completed"."""
    for line in lines:
        m = re.search(r'msg="WAL replay completed".*total_replay_duration=(\S+)', line)
        if m:
            return go_duration(m.group(1))
    return float("nan")


def raise_file_limit(targets):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = 3 * targets + 256
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"{targets} targets need ~{need} open files; the hard limit is {hard}")


def wait_for_series(servers, want, limit):
    """Waits until every server's head holds `want` series."""
    deadline = time.time() + limit
    seen = {}
    while time.time() < deadline:
        seen = {k: metric(f"http://{addr}/metrics", name) for k, (_, addr, name) in servers.items()}
        if all(v >= want for v in seen.values()):
            return
        time.sleep(1)
    sys.exit(f"heads did not reach {want} series in {limit}s: {seen}")


def restart(bench, name, start, series_metric, limit):
    """Restarts one server from its storage alone; its figures, then kills it again."""
    started = time.perf_counter()
    proc, addr = start(log_level="info", log=f"{name}-restart.log", ready_limit=limit, poll=0.02)
    ready_s = time.perf_counter() - started
    figures = {
        "ready_s": ready_s,
        "cpu_s": cpu_seconds(proc.pid),
        "rss_mb": rss_bytes(proc.pid) / 1e6,
        "series_after": metric(f"http://{addr}/metrics", series_metric),
    }
    proc.kill()
    proc.wait()
    print(f"{name}: ready {ready_s:.2f}s after spawn", file=sys.stderr)
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--interval", default="5s")
    ap.add_argument("--ingest", type=float, default=30,
                    help="seconds of scraping after both heads hold every series, before the crash")
    ap.add_argument("--ready-limit", type=float, default=600,
                    help="seconds a server may take to become ready (at start-up and after the crash)")
    ap.add_argument("--first", choices=["prometheus", "wasmfed"], default="prometheus",
                    help="which server restarts first")
    args = ap.parse_args()
    raise_file_limit(args.targets)
    want = args.targets * (args.series + SYNTHETIC_SERIES)

    with Bench(args) as bench:
        targets = bench.synth()
        config_path = bench.write("bench.yml", synth_config(args.interval, targets))
        start = {
            "prometheus": lambda **kw: bench.prometheus(config_path, **kw),
            "wasmfed": lambda **kw: bench.wasmfed(config_path, **kw),
        }
        series_metric = {"prometheus": "prometheus_tsdb_head_series", "wasmfed": "wasmfed_head_series"}
        wal_dir = {"prometheus": os.path.join(bench.tmp, "prom", "wal"),
                   "wasmfed": os.path.join(bench.tmp, "wasmfed", "wal")}
        storage_dir = {"prometheus": os.path.join(bench.tmp, "prom"),
                       "wasmfed": os.path.join(bench.tmp, "wasmfed")}

        running = {k: start[k](ready_limit=args.ready_limit) for k in start}
        print(f"{args.targets} targets x {args.series} series at {args.interval}: waiting for {want} series ...",
              file=sys.stderr)
        wait_for_series({k: (p, a, series_metric[k]) for k, (p, a) in running.items()}, want, args.ready_limit)
        print(f"both heads full; ingesting {args.ingest:.0f}s more ...", file=sys.stderr)
        time.sleep(args.ingest)
        before = {k: metric(f"http://{a}/metrics", series_metric[k]) for k, (_, a) in running.items()}
        for proc, _ in running.values():
            proc.kill()
        for proc, _ in running.values():
            proc.wait()
        bench.stop(bench.synth_proc)
        results = {k: {"series_before": before[k], "wal_bytes": dir_bytes(wal_dir[k]),
                       "storage_bytes": dir_bytes(storage_dir[k])} for k in start}
        order = [args.first] + [k for k in start if k != args.first]
        for name in order:
            results[name].update(restart(bench, name, start[name], series_metric[name], args.ready_limit))
        replay_s, replayed_samples = wasmfed_startup(log_lines(bench, "wasmfed-restart.log"))
        results["wasmfed"]["replay_s"] = replay_s
        results["prometheus"]["replay_s"] = prometheus_replay(log_lines(bench, "prometheus-restart.log"))

        print(f"\nrestart after kill -9: {args.targets} targets x {args.series} series at {args.interval}, "
              f"{args.ingest:.0f}s of ingest after the heads filled; targets stopped; "
              f"restarted one at a time, {args.first} first")
        print_ratio_header(30)
        for key, label in [("ready_s", "spawn -> /-/ready (s)"),
                           ("replay_s", "replay, own report (s)"),
                           ("cpu_s", "CPU s until ready"),
                           ("rss_mb", "RSS when ready (MB)"),
                           ("series_before", "head series before kill"),
                           ("series_after", "head series after restart"),
                           ("wal_bytes", "WAL bytes on disk"),
                           ("storage_bytes", "storage dir bytes")]:
            print_ratio_row(label, results["prometheus"][key], results["wasmfed"][key], 30)
        rest = results["wasmfed"]["ready_s"] - replay_s
        print(f"\nwasmfed start-up: replay {replay_s:.3f}s ({replayed_samples} samples), "
              f"the rest (process start, config, retention cut, polling) {rest:.3f}s")


if __name__ == "__main__":
    main()
