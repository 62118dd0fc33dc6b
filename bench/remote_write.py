#!/usr/bin/env python3
"""Remote write, side by side: wasmfed vs Prometheus 2.42 vs vmagent, on the same targets,
all writing to the same local VictoriaMetrics.

Each sender scrapes the workload every second and remote-writes everything it scrapes to one
VictoriaMetrics (Debian's `victoria-metrics`), each with an external label of its own
(`sender=...`), so the receiver holds three copies. Figures over the measurement window, per
sender: samples sent (its own counter: `prometheus_remote_storage_samples_total` for
Prometheus and wasmfed, `vmagent_remotewrite_global_rows_pushed_before_relabel_total` for
vmagent), CPU seconds per million samples sent (the whole process: scraping, storing where it
stores — Prometheus and wasmfed keep a TSDB, vmagent does not — and sending), RSS at the end,
and the receiver's view: samples of that sender VictoriaMetrics received in the window.

Two unlike workloads: `synth` (`wasmfed synth`, values changing every scrape) and `node`
(Debian's node_exporter: real output, mostly static values).

    bench/remote_write.py --workload synth --targets 20 --series 1000
    bench/remote_write.py --workload node --targets 20
"""

import argparse
import json
import os
import sys
import time
import urllib.parse

from common import Bench, add_common_args, cpu_seconds, global_section, http, metric, rss_bytes, static_job, wait_ready

VMAGENT = "/usr/bin/vmagent"
VICTORIA = "/usr/bin/victoria-metrics"


def sent(addr, name):
    """The sum of a counter over all its series on a sender's /metrics."""
    total = 0.0
    for line in http(f"http://{addr}/metrics").decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def received(vm_addr, sender, window_s, at_s):
    """Samples VictoriaMetrics holds from `sender` in the `window_s` before `at_s`."""
    q = urllib.parse.urlencode({"query": f'sum(count_over_time({{sender="{sender}"}}[{int(window_s)}s]))',
                                "time": f"{at_s:.3f}"})
    answer = json.loads(http(f"http://{vm_addr}/api/v1/query?{q}"))
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, targets=20, series=1000)
    ap.add_argument("--workload", choices=["synth", "node"], default="synth")
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--measure", type=float, default=60)
    args = ap.parse_args()
    for binary in (VMAGENT, VICTORIA):
        if not os.path.exists(binary):
            sys.exit(f"{binary} missing: apt-get install victoria-metrics (./test.sh does it)")

    with Bench(args) as bench:
        targets = bench.synth() if args.workload == "synth" else bench.node_exporters(args.targets, args.base_port)
        job = args.workload
        vm_addr = f"127.0.0.1:{args.base_port - 5}"
        bench.spawn([VICTORIA, f"-httpListenAddr={vm_addr}", f"-storageDataPath={os.path.join(bench.tmp, 'vm')}",
                     "-loggerLevel=ERROR", "-search.latencyOffset=0s"])
        wait_ready(f"http://{vm_addr}/health", "victoria-metrics")
        write = f"http://{vm_addr}/api/v1/write"

        def config(sender):
            return (global_section("1s") + f"  external_labels: {{sender: {sender}}}\n" + "scrape_configs:\n"
                    + static_job(job, targets) + f"remote_write:\n  - url: {write}\n")

        wf, wf_addr = bench.wasmfed(bench.write("wasmfed.yml", config("wasmfed")), port_offset=1)
        prom, prom_addr = bench.prometheus(bench.write("prometheus.yml", config("prometheus")), port_offset=2)
        agent_addr = f"127.0.0.1:{args.base_port - 3}"
        scrape = global_section("1s") + "scrape_configs:\n" + static_job(job, targets)
        agent = bench.spawn([VMAGENT, f"-promscrape.config={bench.write('vmagent.yml', scrape)}",
                             f"-httpListenAddr={agent_addr}", f"-remoteWrite.url={write}",
                             "-remoteWrite.label=sender=vmagent",
                             f"-remoteWrite.tmpDataPath={os.path.join(bench.tmp, 'vmagent')}", "-loggerLevel=ERROR"])
        wait_ready(f"http://{agent_addr}/metrics", "vmagent")
        print(f"{job}: {len(targets)} targets scraped every 1s by each sender; warm-up {args.warmup:.0f}s, "
              f"measuring {args.measure:.0f}s", file=sys.stderr)
        time.sleep(args.warmup)

        senders = {
            "prometheus 2.42": (prom.pid, prom_addr, "prometheus_remote_storage_samples_total", "prometheus"),
            "vmagent": (agent.pid, agent_addr, "vmagent_remotewrite_global_rows_pushed_before_relabel_total", "vmagent"),
            "wasmfed": (wf.pid, wf_addr, "prometheus_remote_storage_samples_total", "wasmfed"),
        }
        start = time.time()
        before = {k: (cpu_seconds(pid), sent(addr, c)) for k, (pid, addr, c, _) in senders.items()}
        time.sleep(args.measure)
        after = {k: (cpu_seconds(pid), sent(addr, c)) for k, (pid, addr, c, _) in senders.items()}
        end = time.time()
        time.sleep(10)  # what was sent in the window reaches the receiver

        print(f"\n## {job}: remote write over {args.measure:.0f}s ({len(targets)} targets)\n")
        print("| sender | samples sent | received by VM (window) | CPU s / million sent | RSS MiB |")
        print("|---|---:|---:|---:|---:|")
        cost = {}
        for k, (pid, addr, _, label) in senders.items():
            cpu = after[k][0] - before[k][0]
            n = after[k][1] - before[k][1]
            cost[k] = cpu / n * 1e6 if n else float("nan")
            got = received(vm_addr, label, end - start, end)
            print(f"| {k} | {n:.0f} | {got:.0f} | {cost[k]:.3f} | {rss_bytes(pid) / 2**20:.0f} |")
        print(f"\nwasmfed CPU per sample sent: {cost['wasmfed'] / cost['prometheus 2.42']:.2f}× Prometheus', "
              f"{cost['wasmfed'] / cost['vmagent']:.2f}× vmagent's")


if __name__ == "__main__":
    main()
