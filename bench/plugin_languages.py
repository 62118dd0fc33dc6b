#!/usr/bin/env python3
"""One plugin in four languages, measured: the PII scrubber of examples/pii-scrubber built in
Rust, C, Python and JavaScript (each with its own toolchain, as the example's README says) and
run by `wasmfed plugin test` under a node's default limits.

Per language: the component's size; its first load (compiling it with cranelift, as a node
does once per content) and a load from the plugin cache (what every later start pays); and
per-batch cost on two unlike batches at two sizes, each asked several times (the median is
printed, the first call of a fresh instance included in none):
- `mixed`: series of 8 labels, one in ten carrying an `email` to hash;
- `hashed`: series each with `email` and `user_id` to hash;
100 and 1,000 series a batch. Fuel is wasmtime's count of WebAssembly instructions, the same
meter a node limits calls by (default 350M a call): a batch over it fails, as it would in a
node (which then splits nothing: the series are dropped and counted), and is printed as such.

    bench/plugin_languages.py            # builds what is missing; needs ./test.sh's toolchains
    bench/plugin_languages.py --lang rust  # one language's row
"""

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
EXAMPLE = os.path.join(ROOT, "examples/pii-scrubber")
SALT = "pepper"
REPEAT = 5
SIZES = [100, 1000]
LANGUAGES = ["rust", "c", "python", "js"]


def digest(value):
    return hashlib.sha256((SALT + value).encode()).hexdigest()[:16]


def series(i, hashed):
    labels = {f"l{k}": f"value-{i}-{k}" for k in range(5)}
    labels["instance"] = f"host-{i % 50}:9100"
    labels["job"] = "app"
    if hashed or i % 10 == 0:
        labels["email"] = f"user{i}@example.com"
    if hashed:
        labels["user_id"] = str(100000 + i)
    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    scrubbed = {k: digest(v) if k in ("email", "user_id") else v for k, v in labels.items()}
    out = ",".join(f'{k}="{v}"' for k, v in sorted(scrubbed.items()))
    return f"'requests_total{{{text}}}'", f"'requests_total{{{out}}}'"


def fixture(path):
    with open(path, "w") as f:
        f.write(f"world: series\nconfig: {{labels: [email, user_id], salt: {SALT}}}\ncases:\n")
        # A warm-up call first: a fresh instance's first call pays for its first allocations.
        for workload in ["warmup"] + [f"{w}{n}" for w in ["mixed", "hashed"] for n in SIZES] * REPEAT:
            n = 10 if workload == "warmup" else int(workload.lstrip("mixedhas"))
            pairs = [series(i, workload.startswith("hashed")) for i in range(n)]
            f.write(f"  - name: {workload}\n    input: [{', '.join(p[0] for p in pairs)}]\n")
            f.write(f"    expect: [{', '.join(p[1] for p in pairs)}]\n")


def build(lang, wasmfed):
    """The language's component, built as the example's README says."""
    d = os.path.join(EXAMPLE, lang)
    env = dict(os.environ, WASMFED=wasmfed)
    run = lambda *cmd: subprocess.run(cmd, cwd=d, env=env, check=True, stdout=subprocess.DEVNULL)
    if lang == "rust":
        run("cargo", "build", "--release", "--target", "wasm32-wasip2")
        return os.path.join(d, "target/wasm32-wasip2/release/pii_scrubber.wasm")
    if lang == "c":
        run("make", f"WASMFED={wasmfed}")
    elif lang == "python":
        run("componentize-py", "-d", "../../../wit", "-w", "series-plugin", "componentize", "app",
            "-o", "pii-scrubber.wasm")
    else:
        run("npm", "run", "build")
    return os.path.join(d, "pii-scrubber.wasm")


def plugin_test(wasmfed, component, fixture_path, cache_home):
    """(compile ms, load ms, {workload: [(fuel, ms)]}) of one `wasmfed plugin test` run."""
    env = dict(os.environ, XDG_CACHE_HOME=cache_home, RUST_LOG="info")
    p = subprocess.run([wasmfed, "plugin", "test", component, "--fixture", fixture_path],
                       env=env, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"{component}: plugin test could not run\n{p.stdout}\n{p.stderr}")
    for m in re.finditer(r"^FAIL (\w+)", p.stdout, re.M):
        if "(budget)" not in p.stdout.split(m.group(0), 1)[1].split("\n", 1)[0]:
            sys.exit(f"{component}: wrong answer in {m.group(1)}\n{p.stdout}")
    loaded = re.search(r"compile_ms=([\d.]+) load_ms=([\d.]+)", p.stderr)
    calls = {}
    for m in re.finditer(r"^ok   (\w+) \(\d+ series, (\d+) fuel, ([\d.]+) ms\)", p.stdout, re.M):
        calls.setdefault(m.group(1), []).append((int(m.group(2)), float(m.group(3))))
    return float(loaded.group(1)), float(loaded.group(2)), calls


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wasmfed", default=os.path.join(ROOT, "target/release/wasmfed"))
    ap.add_argument("--lang", action="append", choices=LANGUAGES,
                    help="measure only this language (repeatable; default: all four)")
    args = ap.parse_args()
    if not os.path.exists(args.wasmfed):
        subprocess.run(["cargo", "build", "--release", "-p", "wasmfed"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        fixture_path = os.path.join(tmp, "fixture.yml")
        fixture(fixture_path)
        batches = [f"{w}{n}" for n in SIZES for w in ["mixed", "hashed"]]
        print("| language | size | first load (compile) | load from cache | "
              + " | ".join(f"{b[:-len(str(n))]} ×{n}" for b in batches for n in [int(b.lstrip('mixedhas'))]) + " |")
        print("|---|---|---|---|" + "---|" * len(batches))
        for lang in args.lang or LANGUAGES:
            component = build(lang, args.wasmfed)
            cache = os.path.join(tmp, f"cache-{lang}")
            compile_ms, _, calls = plugin_test(args.wasmfed, component, fixture_path, cache)
            _, cached_ms, _ = plugin_test(args.wasmfed, component, fixture_path, cache)
            cost = {}
            for workload in batches:
                runs = calls.get(workload)
                if not runs:
                    cost[workload] = "over budget"
                    continue
                fuel = statistics.median(f for f, _ in runs)
                ms = statistics.median(t for _, t in runs)
                cost[workload] = f"{fuel / 1e6:.1f}M fuel, {ms:.2f} ms"
            size = os.path.getsize(component)
            size_text = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"
            print(f"| {lang} | {size_text} | {compile_ms / 1e3:.2f} s | {cached_ms:.0f} ms | "
                  + " | ".join(cost[b] for b in batches) + " |", flush=True)


if __name__ == "__main__":
    main()
