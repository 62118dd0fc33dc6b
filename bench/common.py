"""What the side-by-side benchmarks share: reading /proc and /metrics, and running a bench's
processes (synthetic targets, wasmfed, Prometheus) in a temp dir that goes away afterwards.

Each benchmark script builds its own configuration and measurement on top of `Bench`; nothing
here knows what is measured. Everything listens on 127.0.0.1.
"""

import contextlib
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    """User + system CPU of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def http(url, data=None, method=None, headers=None, timeout=120):
    """The body of a request; raises on an HTTP error status."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(url):
    """Every sample of a text exposition as (name, labels, value)."""
    out = []
    for line in http(url).decode().splitlines():
        m = _SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def pick(exposition, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`; None when there is none."""
    values = [v for n, ls, v in exposition
              if n == name and all(ls.get(k) == want for k, want in labels.items())]
    return sum(values) if values else None


def metric(url, name, **labels):
    """Sum of every sample of `name` (with at least `labels`) at `url`; it must exist."""
    value = pick(samples(url), name, **labels)
    if value is None:
        raise RuntimeError(f"{name}{labels or ''} not found at {url}")
    return value


def metrics_or_zero(url, names):
    """Sums of several metrics from one fetch of `url`; 0 for a metric not exposed."""
    exposition = samples(url)
    return {name: pick(exposition, name) or 0.0 for name in names}


def cpu_window(servers, window):
    """CPU seconds used and growth of a sample counter, per server, over `window` seconds from now.

    `servers` maps a name to (pid, metrics URL, counter name); the answer maps it to
    (CPU seconds, samples), read at both ends of the window as close together as possible.
    """
    def read():
        return {k: (cpu_seconds(pid), metric(url, counter)) for k, (pid, url, counter) in servers.items()}
    before = read()
    time.sleep(window)
    after = read()
    return {k: (after[k][0] - before[k][0], after[k][1] - before[k][1]) for k in servers}


def print_ratio_header(width=28):
    """The header of a figures table: figure, Prometheus, wasmfed, wasmfed/Prometheus."""
    print(f"{'figure':<{width}}{'prometheus':>14}{'wasmfed':>14}{'ratio':>10}")


def print_ratio_row(label, prometheus, wasmfed, width=28, digits=4):
    """One row of a figures table, with the ratio wasmfed/Prometheus (nan when Prometheus is 0)."""
    ratio = wasmfed / prometheus if prometheus else float("nan")
    print(f"{label:<{width}}{prometheus:>14.{digits}g}{wasmfed:>14.{digits}g}{ratio:>10.3f}")


def wait_ready(url, what, limit=60, poll=0.2):
    """Polls `url` every `poll` seconds until it answers 200; exits the script after `limit`."""
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            http(url, timeout=2)
            return
        except Exception:
            time.sleep(poll)
    sys.exit(f"{what} did not become ready at {url}")


@contextlib.contextmanager
def alone(argv, addr, log_path):
    """Runs a server (`argv`, listening at `addr`, its output in `log_path`) for the block,
    started and waited for (up to 10 minutes) before it, stopped after it: for benches that
    measure one server at a time. Yields (process, seconds until ready)."""
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=log)
        try:
            wait_ready(f"http://{addr}/-/ready", argv[0], limit=600, poll=0.05)
            yield proc, time.perf_counter() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def dir_bytes(path):
    """Bytes of the files under `path` (0 when it does not exist)."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def seconds(duration):
    """Seconds in a Prometheus duration with one unit: 500ms, 5s, 1m, 1h."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(values):
    """mean, median, p90, min, max of a non-empty list."""
    return {"n": len(values), "mean": statistics.fmean(values), "median": statistics.median(values),
            "p90": percentile(values, 90), "min": min(values), "max": max(values)}


def add_common_args(ap, targets=100, series=1000):
    ap.add_argument("--targets", type=int, default=targets)
    ap.add_argument("--series", type=int, default=series, help="series per target")
    ap.add_argument("--wasmfed", default=os.path.join(ROOT, "target/release/wasmfed"))
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--base-port", type=int, default=21000,
                    help="first synthetic target; the servers listen just below it")


# Typical rules: drop a family, copy a label, rewrite a label's value. Nothing is dropped from
# the synthetic targets, so both sides store the same number of samples.
METRIC_RELABEL = """    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
      - source_labels: [shard]
        target_label: partition
      - source_labels: [series]
        regex: '(\\d+)'
        target_label: series
        replacement: s$1
"""


def global_section(interval):
    """The `global:` section every bench config starts with: scrapes at `interval`, each
    allowed the whole interval."""
    return f"global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n"


def synth_config(interval, targets, extra=""):
    """A config with one job, `synth`, scraping `targets` at `interval` (`extra` as in
    `static_job`)."""
    return global_section(interval) + "scrape_configs:\n" + static_job("synth", targets, extra)


def static_job(name, targets, extra=""):
    """A scrape config (YAML, indented for `scrape_configs:`) for `targets`, with `extra` keys
    (already indented by four spaces) appended."""
    listed = ", ".join(f"'{t}'" for t in targets)
    return f"  - job_name: {name}\n    static_configs:\n      - targets: [{listed}]\n{extra}"


class Bench:
    """The processes of one benchmark run and their temp dir; a context manager that stops
    them (SIGTERM, then SIGKILL) and removes the dir on exit."""

    def __init__(self, args):
        self.args = args
        if not os.path.exists(args.wasmfed):
            print("building wasmfed (release)...", file=sys.stderr)
            subprocess.run(["cargo", "build", "--release", "-p", "wasmfed"], cwd=ROOT, check=True)
        self.tmp = tempfile.mkdtemp(prefix="wasmfed-bench-")
        self.log = open(os.path.join(self.tmp, "log.txt"), "w")
        self.procs = []
        self.synth_proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            self.stop(p)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def write(self, name, content):
        """A file in the temp dir (text or bytes); its path."""
        path = os.path.join(self.tmp, name)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        return path

    def spawn(self, argv, log=None):
        """Starts `argv`, its output going to the shared log or to the temp dir's file `log`."""
        out = open(os.path.join(self.tmp, log), "w") if log else self.log
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
        if log:
            out.close()
        self.procs.append(proc)
        return proc

    def synth(self, targets=None, series=None):
        """Starts `targets` synthetic targets of `series` gauges each; their addresses."""
        targets = targets or self.args.targets
        series = series or self.args.series
        port = self.args.base_port
        self.synth_proc = self.spawn([self.args.wasmfed, "synth", f"--listen=127.0.0.1:{port}",
                                      f"--targets={targets}", f"--series={series}"])
        wait_ready(f"http://127.0.0.1:{port + targets - 1}/metrics", "synthetic targets")
        return [f"127.0.0.1:{port + i}" for i in range(targets)]

    def node_exporters(self, count, first_port, web_config=None):
        """`count` of Debian's node_exporters (default collectors: real output, mostly static
        values) from `first_port` on; their addresses."""
        if not os.path.exists(NODE_EXPORTER):
            sys.exit(f"{NODE_EXPORTER} missing: apt-get install prometheus-node-exporter (./test.sh does it)")
        addrs = [f"127.0.0.1:{first_port + i}" for i in range(count)]
        for addr in addrs:
            argv = [NODE_EXPORTER, f"--web.listen-address={addr}"]
            if web_config:
                argv.append(f"--web.config.file={web_config}")
            self.spawn(argv)
        return addrs

    def wasmfed(self, config_path, storage="wasmfed", port_offset=1, log_level="warn", log=None,
                ready_limit=60, poll=0.2, binary=None, extra_args=()):
        """Starts a wasmfed node (`binary`, by default --wasmfed); (process, address) once it is
        ready. `log` names a file of its own in the temp dir; `ready_limit` and `poll` are passed
        to `wait_ready`; `extra_args` go last on the command line."""
        addr = f"127.0.0.1:{self.args.base_port - port_offset}"
        proc = self.spawn([binary or self.args.wasmfed, f"--config.file={config_path}", f"--web.listen-address={addr}",
                           f"--storage.path={os.path.join(self.tmp, storage)}", f"--log.level={log_level}",
                           *extra_args], log)
        wait_ready(f"http://{addr}/-/ready", "wasmfed", ready_limit, poll)
        return proc, addr

    def prometheus(self, config_path, port_offset=2, log_level="warn", log=None, ready_limit=60, poll=0.2,
                   storage="prom", extra_args=()):
        """Starts Prometheus (storage in the temp dir's `storage`); (process, address) once it is
        ready. The other arguments are those of `wasmfed`."""
        if not os.path.exists(self.args.prometheus):
            sys.exit(f"{self.args.prometheus} missing: apt-get install prometheus (./test.sh does it)")
        addr = f"127.0.0.1:{self.args.base_port - port_offset}"
        proc = self.spawn([self.args.prometheus, f"--config.file={config_path}", f"--web.listen-address={addr}",
                           f"--storage.tsdb.path={os.path.join(self.tmp, storage)}", f"--log.level={log_level}",
                           *extra_args], log)
        wait_ready(f"http://{addr}/-/ready", "prometheus", ready_limit, poll)
        return proc, addr

    def remove(self, name):
        """Deletes a file or dir of the temp dir (a stopped server's storage)."""
        path = os.path.join(self.tmp, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)
