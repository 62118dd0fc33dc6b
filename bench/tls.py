#!/usr/bin/env python3
"""What https costs a scrape: wasmfed's CPU per million samples over plain http and over TLS,
on two unlike workloads, with the real Prometheus beside it doing the same.

Workloads:
  synth  `wasmfed synth` targets (T targets x S gauges, every value changing each scrape),
         served plain and, by a second synth process, over TLS (its --web.config.file);
  node   Debian's node_exporter with its default collectors (real output, mostly static),
         N processes plain and N behind a --web.config.file with TLS.

For each workload and scheme, one phase: a wasmfed node and Prometheus scrape the same targets
at the same interval; after the warm-up, each one's CPU seconds per million samples appended
to its head (wasmfed_head_samples_appended_total, prometheus_tsdb_head_samples_appended_total)
over the window. Connections are kept alive on both sides, so TLS costs record encryption,
not handshakes. Prints per workload: http and https figures, https/http for each server, and
wasmfed/Prometheus for each scheme.

Certificates: a throwaway CA and a server certificate for 127.0.0.1 made with openssl.
Everything listens on 127.0.0.1; temp dirs are removed at the end.

    bench/tls.py --targets 50 --series 1000 --exporters 5 --interval 1s --warmup 20 --measure 40
"""

import argparse
import os
import subprocess
import sys
import time

from common import Bench, add_common_args, cpu_window, print_ratio_header, print_ratio_row, static_job, wait_ready



def make_certificates(bench):
    """A CA and a server certificate for 127.0.0.1 signed by it, as PEM files; their paths."""
    path = lambda name: os.path.join(bench.tmp, name)
    run = lambda *argv: subprocess.run(argv, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=bench CA", "-days", "2", "-keyout", path("ca-key.pem"), "-out", path("ca.pem"))
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=127.0.0.1", "-keyout", path("key.pem"), "-out", path("req.pem"))
    bench.write("san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", path("req.pem"), "-CA", path("ca.pem"), "-CAkey", path("ca-key.pem"),
        "-CAcreateserial", "-days", "2", "-extfile", path("san.ext"), "-out", path("cert.pem"))
    web = bench.write("web.yml", f"tls_server_config:\n  cert_file: {path('cert.pem')}\n  key_file: {path('key.pem')}\n")
    return path("ca.pem"), web


def wait_listening(addrs, limit=30):
    """Waits until each address accepts TCP connections."""
    import socket
    deadline = time.time() + limit
    for addr in addrs:
        host, port = addr.rsplit(":", 1)
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit(f"nothing listens on {addr}")
                time.sleep(0.2)


def phase(bench, args, name, targets, extra, port_offset):
    """Runs wasmfed and Prometheus on `targets`; {server: CPU seconds per million samples}."""
    config = ("global:\n  scrape_interval: {0}\n  scrape_timeout: {0}\nscrape_configs:\n".format(args.interval)
              + static_job(name, targets, extra))
    path = bench.write(f"{name}.yml", config)
    wf, wf_addr = bench.wasmfed(path, storage=f"wasmfed-{name}", port_offset=port_offset)
    prom, prom_addr = bench.prometheus(path, port_offset=port_offset + 1)
    print(f"{name}: {len(targets)} targets at {args.interval}; warm-up {args.warmup:.0f}s ...", file=sys.stderr)
    time.sleep(args.warmup)
    window = cpu_window({
        "wasmfed": (wf.pid, f"http://{wf_addr}/metrics", "wasmfed_head_samples_appended_total"),
        "prometheus": (prom.pid, f"http://{prom_addr}/metrics", "prometheus_tsdb_head_samples_appended_total"),
    }, args.measure)
    for proc in (wf, prom):
        bench.stop(proc)
    return {k: cpu / samples * 1e6 if samples else float("nan") for k, (cpu, samples) in window.items()}


def report(workload, http, https):
    print(f"\n{workload}: CPU seconds per million samples")
    print_ratio_header()
    print_ratio_row("http", http["prometheus"], http["wasmfed"])
    print_ratio_row("https", https["prometheus"], https["wasmfed"])
    for server in ("wasmfed", "prometheus"):
        print(f"  {server} https/http: {https[server] / http[server]:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, targets=50)
    ap.add_argument("--exporters", type=int, default=5, help="node_exporters per scheme")
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--measure", type=float, default=40)
    ap.add_argument("--workloads", default="synth,node", help="comma-separated: synth, node")
    args = ap.parse_args()
    workloads = args.workloads.split(",")

    with Bench(args) as bench:
        ca, web = make_certificates(bench)
        tls_job = f"    scheme: https\n    tls_config:\n      ca_file: {ca}\n"
        base = args.base_port
        if "synth" in workloads:
            plain = bench.synth()
            tls_first = base + args.targets
            bench.spawn([args.wasmfed, f"--web.config.file={web}", "synth", f"--listen=127.0.0.1:{tls_first}",
                         f"--targets={args.targets}", f"--series={args.series}"])
            tls_targets = [f"127.0.0.1:{tls_first + i}" for i in range(args.targets)]
            wait_listening(tls_targets)
            http = phase(bench, args, "synth_http", plain, "", 1)
            https = phase(bench, args, "synth_https", tls_targets, tls_job, 3)
            report(f"synth ({args.targets} targets x {args.series} changing gauges)", http, https)
        if "node" in workloads:
            first = base + 2 * args.targets
            plain = bench.node_exporters(args.exporters, first)
            tls_targets = bench.node_exporters(args.exporters, first + args.exporters, web)
            wait_listening(plain + tls_targets)
            wait_ready(f"http://{plain[-1]}/metrics", "node_exporter")
            http = phase(bench, args, "node_http", plain, "", 5)
            https = phase(bench, args, "node_https", tls_targets, tls_job, 7)
            report(f"node_exporter ({args.exporters} processes, default collectors)", http, https)


if __name__ == "__main__":
    main()
