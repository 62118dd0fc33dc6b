#!/usr/bin/env bash
# Runs wasmfed's whole test suite on this machine, installing what it needs first (idempotent):
# Debian's prometheus, prometheus-node-exporter, prometheus-alertmanager, victoria-metrics
# (vmagent), dnsmasq-base, tinyproxy-bin, microsocks and stunnel4 packages for the
# interoperability, alerting, remote write, discovery and proxy tests; Debian's chromium with
# Playwright from PyPI for the web page's browser test; and the plugin toolchains the plugin kit's test drives (Debian's
# clang-16 with wasi-libc, componentize-py from PyPI, componentize-js from npm).
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
[ -x /usr/bin/vmagent ] || missing+=(victoria-metrics)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
[ -x /usr/bin/tinyproxy ] || missing+=(tinyproxy-bin)
[ -x /usr/bin/microsocks ] || missing+=(microsocks)
[ -x /usr/bin/stunnel4 ] || missing+=(stunnel4)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/clang-16 ] || missing+=(clang-16)
[ -x /usr/bin/wasm-ld-16 ] || missing+=(lld-16)
[ -e /usr/lib/wasm32-wasi/libc.a ] || missing+=(wasi-libc)
[ -e /usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a ] || missing+=(libclang-rt-16-dev-wasm32)
[ -x /usr/bin/make ] || missing+=(make)
[ -x /usr/bin/npm ] || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  # Keep apt from starting the packaged services: tests start their own on loopback.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    added_policy=1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$added_policy" = 1 ]; then as_root rm -f "$policy"; fi
fi

# Playwright drives the Chromium above (its own browser downloads are not used).
python3 -c 'import playwright' 2>/dev/null || python3 -m pip install -q "playwright==1.65.3"
# Plugin toolchains, at the versions the examples and `wasmfed plugin new` projects name.
command -v componentize-py >/dev/null || python3 -m pip install -q -r examples/pii-scrubber/python/requirements.txt
[ -d examples/pii-scrubber/js/node_modules ] || (cd examples/pii-scrubber/js && npm ci --no-audit --no-fund --silent)
# The plugin kit's test builds Rust plugins offline: the example's crates (its own and the
# wasmfed-guest SDK's, which every `plugin new --lang rust` project uses) are fetched here.
cargo fetch -q --manifest-path examples/pii-scrubber/rust/Cargo.toml

# Stock plugins and test guests are built to WebAssembly by host/plugin/build.rs and
# host/artifacts/build.rs (see host/guest-build).
rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null

cargo test --workspace --all-targets
# The soak test (~5 minutes at 100k series; tests/soak/main.rs) alone, after everything else
# that runs the real binary; --nocapture keeps its memory readings in the log.
# `--workspace` keeps the feature set of the build above, so nothing is rebuilt for it.
cargo test --workspace --test soak -- --ignored --nocapture
# The plugins' native unit tests (their own workspace; see plugins/Cargo.toml), one crate at a
# time so each is tested with exactly its own dependency features, as it is built for wasm.
for plugin in plugin-sdk wasmfed-guest relabel hashmod-shard promql-rules; do
  cargo test --manifest-path plugins/Cargo.toml -p "$plugin"
done
# The example plugins' native unit tests (each its own workspace, as a user's would be).
for example in rendezvous-shard cardinality-report pii-scrubber/rust; do
  cargo test --manifest-path "examples/$example/Cargo.toml"
done
