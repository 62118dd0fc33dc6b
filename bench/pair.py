#!/usr/bin/env python3
"""Two wasmfed builds side by side on the same synthetic targets: CPU per sample of B against A.

For judging a change to the scrape path. Run one after the other, the same build's CPU per
sample moves by 10-20% with the state of a shared machine; run side by side, both builds see the
same machine, and the ratio B/A of one run repeats within a few percent (A against a copy of
itself gives 1.00). Both nodes scrape the same `wasmfed synth` targets with the same config
(`--relabel` adds the typical metric_relabel_configs). After a warm-up, it prints each node's
CPU seconds per million samples and the ratio for every window, then over all windows, and
each node's resident memory per series at the end.

    python3 bench/pair.py --a /tmp/wasmfed.before --b target/release/wasmfed --relabel
"""

import argparse
import os
import sys
import time

from common import METRIC_RELABEL, ROOT, Bench, add_common_args, cpu_window, metric, rss_bytes, synth_config


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--a", required=True, help="the reference build")
    ap.add_argument("--b", default=os.path.join(ROOT, "target/release/wasmfed"), help="the build judged")
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--warmup", type=float, default=25, help="seconds before the first window")
    ap.add_argument("--window", type=float, default=15, help="seconds per window")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--relabel", action="store_true", help="metric_relabel_configs on (run as WASM)")
    args = ap.parse_args()

    with Bench(args) as bench:
        targets = bench.synth()
        config = synth_config(args.interval, targets, METRIC_RELABEL if args.relabel else "")
        config_path = bench.write("pair.yml", config)
        nodes = {}
        for offset, (name, binary) in enumerate([("A", args.a), ("B", args.b)], start=1):
            proc, addr = bench.wasmfed(config_path, storage=f"node{name}", port_offset=offset, binary=binary)
            nodes[name] = (proc, addr)
        print(f"A = {args.a}\nB = {args.b}\n{args.targets} targets x {args.series} series at {args.interval}; "
              f"warm-up {args.warmup:.0f}s", file=sys.stderr)
        time.sleep(args.warmup)
        servers = {k: (p.pid, f"http://{a}/metrics", "wasmfed_samples_scraped_total") for k, (p, a) in nodes.items()}
        totals = {k: [0.0, 0.0] for k in nodes}
        per_million = lambda cpu, samples: cpu / samples * 1e6 if samples else float("nan")
        for w in range(args.windows):
            window = cpu_window(servers, args.window)
            for k, (cpu, samples) in window.items():
                totals[k][0] += cpu
                totals[k][1] += samples
            a, b = (per_million(*window[k]) for k in ("A", "B"))
            print(f"window {w + 1}: A {a:.3f}  B {b:.3f} CPU s / million samples  B/A {b / a:.3f}")
        a, b = (per_million(*totals[k]) for k in ("A", "B"))
        print(f"all windows: A {a:.3f}  B {b:.3f} CPU s / million samples  B/A {b / a:.3f}")
        rss = {k: rss_bytes(p.pid) / metric(f"http://{addr}/metrics", "wasmfed_head_series")
               for k, (p, addr) in nodes.items()}
        print(f"RSS bytes / series: A {rss['A']:.0f}  B {rss['B']:.0f}  B/A {rss['B'] / rss['A']:.3f}")


if __name__ == "__main__":
    main()
