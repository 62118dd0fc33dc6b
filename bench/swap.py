#!/usr/bin/env python3
"""Hot-swap latency of a series plugin through the admin API (issue #5).

A wasmfed node scrapes `wasmfed synth` targets with one series-stage plugin, `swapper`, and
this script replaces it again and again with `PUT /api/v1/plugins/swapper`, alternating two
components from the build's OUT_DIR:

- `relabel` (the stock relabel plugin, ~0.7 MB) padded to `--size` bytes (default 1 MiB) with
  a custom section, which wasmtime ignores: it only makes the upload that large;
- `identity` (the 31 KB test guest that passes every series through).

The plugin's config is one relabel rule that changes nothing here (drop `go_.*`), so both
versions store the same series and only the swap is measured. The node starts on identity;
the first `--fresh` relabel uploads each carry a different padding byte, hence a new sha256
and a compilation inside the request; every later upload hits the compile cache.

For each upload it records: the HTTP request end to end; the answer's `data.seconds` (the swap
step: first instance + install); and when the first batch on the new version is done (a swap
forgets the series stage's cached answers, so the next scrape calls the plugin:
`wasmfed_plugin_calls_total{plugin="swapper"}` grows; polled every `--poll` seconds). That
first batch waits for the target's next scheduled scrape, so the script also splits it into
the wait (answer to the scrape's start, from /api/v1/targets' `lastScrape`) and the batch's own
call time (`wasmfed_plugin_call_seconds_total`). Between uploads it sleeps a random part of
the scrape interval, so uploads land at every phase of it.

    bench/swap.py --targets 1 --series 1000 --interval 1s --swaps 30
"""

import argparse
import glob
import json
import os
import random
import sys
import time
from datetime import datetime

from common import ROOT, Bench, add_common_args, global_section, http, pick, samples, seconds, static_job, summary

TOKEN = "bench-admin-token"
PLUGIN = "swapper"


def out_dir():
    """The newest release OUT_DIR holding the built components."""
    found = glob.glob(os.path.join(ROOT, "target/release/build/wasmfed-*/out/relabel.wasm"))
    if not found:
        sys.exit("no target/release/build/wasmfed-*/out/relabel.wasm: cargo build --release -p wasmfed")
    return os.path.dirname(max(found, key=os.path.getmtime))


def leb128(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def padded(component, size, fill):
    """`component` with a custom section appended so that it is `size` bytes long; `fill` is
    the padding byte (a different one gives a different sha256)."""
    name = b"bench-padding"
    head = leb128(len(name)) + name
    for payload in range(size - len(component), -1, -1):
        content = len(head) + payload
        section = b"\x00" + leb128(content) + head
        if len(component) + len(section) + payload == size:
            return component + section + bytes([fill]) * payload
    sys.exit(f"cannot pad a {len(component)}-byte component to {size} bytes")


def plugin_counters(addr):
    """(calls, call seconds) of the swapper plugin."""
    exposition = samples(f"http://{addr}/metrics")
    return (pick(exposition, "wasmfed_plugin_calls_total", plugin=PLUGIN) or 0.0,
            pick(exposition, "wasmfed_plugin_call_seconds_total", plugin=PLUGIN) or 0.0)


def last_scrape(addr):
    """Wall time (s) the target's last scrape started."""
    target = json.loads(http(f"http://{addr}/api/v1/targets"))["data"]["activeTargets"][0]
    return datetime.fromisoformat(target["lastScrape"]).timestamp()


def swap_once(addr, body, poll, limit):
    """Uploads `body` and waits for the first batch on it; the timings (seconds)."""
    calls_before, call_s_before = plugin_counters(addr)
    start, wall_start = time.perf_counter(), time.time()
    answer = json.loads(http(f"http://{addr}/api/v1/plugins/{PLUGIN}", data=body, method="PUT",
                             headers={"Authorization": f"Bearer {TOKEN}"}))
    answered = time.perf_counter()
    wall_answered = wall_start + (answered - start)
    while True:
        calls, call_s = plugin_counters(addr)
        if calls > calls_before:
            break
        if time.perf_counter() - answered > limit:
            sys.exit(f"no batch on the new version within {limit}s of the swap")
        time.sleep(poll)
    batch_done = time.perf_counter()
    time.sleep(0.05)  # the scrape records its start just after its stage returns
    return {
        "http": answered - start,
        "swap": answer["data"]["seconds"],
        "first_batch": batch_done - start,
        "wait": last_scrape(addr) - wall_answered,
        "call": call_s - call_s_before,
        "best": answered - start + call_s - call_s_before,
    }


FIGURES = [
    ("http", "PUT end to end (ms)"),
    ("swap", "data.seconds: swap step (ms)"),
    ("first_batch", "upload -> first batch done (ms)"),
    ("wait", "  answer -> next scrape start (ms)"),
    ("call", "  first batch's plugin call (ms)"),
    ("best", "PUT + first batch call (ms)"),
]


def report(title, runs):
    print(f"\n{title}: {len(runs)} uploads")
    print(f"{'figure':<36}{'median':>10}{'p90':>10}{'min':>10}{'max':>10}")
    for key, label in FIGURES:
        s = summary([r[key] * 1000 for r in runs])
        print(f"{label:<36}{s['median']:>10.1f}{s['p90']:>10.1f}{s['min']:>10.1f}{s['max']:>10.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, targets=1, series=1000)
    ap.add_argument("--interval", default="1s", help="scrape interval")
    ap.add_argument("--swaps", type=int, default=30, help="uploads after the fresh ones (alternating)")
    ap.add_argument("--fresh", type=int, default=3, help="uploads of never-seen bytes (compiled in the request)")
    ap.add_argument("--size", type=int, default=1 << 20, help="bytes of the padded relabel component")
    ap.add_argument("--poll", type=float, default=0.01, help="seconds between /metrics polls")
    args = ap.parse_args()
    interval = seconds(args.interval)

    components = out_dir()
    with open(os.path.join(components, "relabel.wasm"), "rb") as f:
        relabel = f.read()
    with open(os.path.join(components, "identity.wasm"), "rb") as f:
        identity = f.read()
    if args.fresh < 1:
        sys.exit("--fresh must be at least 1: the repeated relabel uploads are the first fresh bytes")
    big = padded(relabel, args.size, 1)
    with Bench(args) as bench:
        targets = bench.synth()
        identity_path = bench.write("identity.wasm", identity)
        config = (
            global_section(args.interval)
            + f"admin:\n  bearer_token: {TOKEN}\n"
            f"scrape_configs:\n" + static_job("synth", targets, (
                f"    series_plugins:\n      - file: {identity_path}\n        name: {PLUGIN}\n"
                f"        config: [{{source_labels: [__name__], regex: 'go_.*', action: drop}}]\n"))
        )
        _, addr = bench.wasmfed(bench.write("wasmfed.yml", config))
        while plugin_counters(addr)[0] == 0:
            time.sleep(0.1)
        print(f"relabel {len(relabel)} B padded to {len(big)} B, identity {len(identity)} B; "
              f"{args.targets} target(s) x {args.series} series scraped every {args.interval}", file=sys.stderr)

        limit = 3 * interval + 10
        runs = {"fresh": [], "relabel": [], "identity": []}

        def pause():
            time.sleep(random.uniform(0.1, interval + 0.1))

        for fill in range(1, args.fresh + 1):
            pause()
            runs["fresh"].append(swap_once(addr, padded(relabel, args.size, fill), args.poll, limit))
            pause()
            runs["identity"].append(swap_once(addr, identity, args.poll, limit))
        for i in range(args.swaps):
            pause()
            body, kind = (big, "relabel") if i % 2 == 0 else (identity, "identity")
            runs[kind].append(swap_once(addr, body, args.poll, limit))

        print(f"\nhot swap of series plugin {PLUGIN!r}, scrape interval {args.interval}, "
              f"{args.targets} target(s) x {args.series} series, /metrics polled every {args.poll * 1000:.0f} ms")
        report(f"relabel padded to {len(big)} B, first upload of its bytes (compiled in the request)", runs["fresh"])
        report(f"relabel padded to {len(big)} B, compiled before", runs["relabel"])
        report(f"identity, {len(identity)} B, compiled before", runs["identity"])


if __name__ == "__main__":
    main()
