#!/usr/bin/env python3
"""Disk bytes per sample in blocks, wasmfed vs the real Prometheus, scraping the same targets.

Both servers scrape the same targets at the same interval, side by side, with blocks of
`--block` (Prometheus' hidden `--storage.tsdb.min-block-duration`, which wasmfed spells the
same) and no compaction (`--storage.tsdb.max-block-duration` equal to it), for `--minutes`.
Then both are stopped and every block each wrote is read from disk: bytes of its `chunks/`
segments and of its `index` (plus `meta.json` and `tombstones`), and the samples and series
its `meta.json` counts. Only blocks whose time range both servers wrote are compared, so the
same minutes are on both sides.

Two unlike workloads, one after the other:
  synth  `wasmfed synth` targets: gauges whose values change on every scrape (floats that
         compress badly: XOR of unrelated values);
  node   Debian's node_exporter with its default collectors (real output, mostly constant or
         slowly moving values, many counters).

Prints, per workload, bytes per sample (all files, chunks alone), index bytes per series per
block and the ratio wasmfed/Prometheus (lower is better).

    bench/block_bytes.py                         # 6 min each, 1 m blocks
    bench/block_bytes.py --minutes 3 --workloads node                                 # smoke
"""

import argparse
import json
import os
import sys
import time

from common import Bench, add_common_args, global_section, print_ratio_header, print_ratio_row, static_job


def blocks(data_dir):
    """maxTime -> (chunk bytes, other bytes, samples, series) of every block under `data_dir`."""
    out = {}
    for name in os.listdir(data_dir):
        meta_path = os.path.join(data_dir, name, "meta.json")
        if not os.path.exists(meta_path):
            continue
        with open(meta_path) as f:
            meta = json.load(f)
        chunk_bytes = other_bytes = 0
        for d, _, files in os.walk(os.path.join(data_dir, name)):
            for file in files:
                size = os.path.getsize(os.path.join(d, file))
                if os.path.basename(d) == "chunks":
                    chunk_bytes += size
                else:
                    other_bytes += size
        stats = meta["stats"]
        out[meta["maxTime"]] = (chunk_bytes, other_bytes, stats["numSamples"], stats["numSeries"])
    return out


def run(bench, args, name, targets, port_offset):
    """Both servers scraping `targets` for the set minutes; their blocks, by minTime."""
    config = global_section(args.interval) + "scrape_configs:\n" + static_job(name, targets)
    path = bench.write(f"{name}.yml", config)
    flags = [f"--storage.tsdb.min-block-duration={args.block}", f"--storage.tsdb.max-block-duration={args.block}"]
    prom_proc, _ = bench.prometheus(path, port_offset=port_offset, extra_args=flags, storage=f"prom-{name}")
    wasm_proc, _ = bench.wasmfed(path, storage=f"wasmfed-{name}", port_offset=port_offset + 1, extra_args=flags)
    print(f"{name}: scraping {len(targets)} targets every {args.interval} for {args.minutes} min", file=sys.stderr)
    time.sleep(args.minutes * 60)
    bench.stop(prom_proc)
    bench.stop(wasm_proc)
    return blocks(os.path.join(bench.tmp, f"prom-{name}")), blocks(os.path.join(bench.tmp, f"wasmfed-{name}"))


def report(title, prom, wasm):
    common = sorted(set(prom) & set(wasm))
    if not common:
        sys.exit(f"{title}: no block range written by both (Prometheus {sorted(prom)}, wasmfed {sorted(wasm)})")
    total = lambda blocks, i: sum(blocks[t][i] for t in common)
    print(f"\n{title}: {len(common)} blocks of the same ranges on both sides")
    print_ratio_header(32)
    print_ratio_row("samples", total(prom, 2), total(wasm, 2), 32, 8)
    print_ratio_row("series (summed over blocks)", total(prom, 3), total(wasm, 3), 32, 8)
    for label, pick in [("bytes/sample (all files)", lambda b: (total(b, 0) + total(b, 1)) / total(b, 2)),
                        ("bytes/sample (chunks)", lambda b: total(b, 0) / total(b, 2)),
                        ("index+meta bytes/series", lambda b: total(b, 1) / total(b, 3))]:
        print_ratio_row(label, pick(prom), pick(wasm), 32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, targets=10, series=1000)
    ap.add_argument("--exporters", type=int, default=5, help="node_exporters")
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--block", default="1m")
    ap.add_argument("--minutes", type=float, default=6)
    ap.add_argument("--workloads", default="synth,node")
    args = ap.parse_args()
    workloads = args.workloads.split(",")
    with Bench(args) as bench:
        if "synth" in workloads:
            prom, wasm = run(bench, args, "synth", bench.synth(), 2)
            report(f"synth ({args.targets} targets x {args.series} changing gauges)", prom, wasm)
        if "node" in workloads:
            targets = bench.node_exporters(args.exporters, args.base_port + args.targets + 10)
            time.sleep(2)
            prom, wasm = run(bench, args, "node", targets, 4)
            report(f"node_exporter ({args.exporters} processes, default collectors)", prom, wasm)


if __name__ == "__main__":
    main()
