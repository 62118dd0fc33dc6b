#!/usr/bin/env bash
# Runs wasmfed's whole test suite on this machine, installing what it needs first (idempotent):
# Debian's prometheus, prometheus-node-exporter, prometheus-alertmanager, victoria-metrics
# (vmagent), dnsmasq-base and tinyproxy-bin packages for the interoperability, alerting, remote
# write, discovery and proxy tests, and Debian's chromium with Playwright from PyPI for the web
# page's browser test.
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
[ -x /usr/bin/chromium ] || missing+=(chromium)
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
for plugin in plugin-sdk relabel hashmod-shard promql-rules; do
  cargo test --manifest-path plugins/Cargo.toml -p "$plugin"
done
# The example plugins' native unit tests (each its own workspace, as a user's would be).
for example in rendezvous-shard cardinality-report; do
  cargo test --manifest-path "examples/$example/Cargo.toml"
done
