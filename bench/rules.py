#!/usr/bin/env python3
"""Rule evaluation time, wasmfed vs the real Prometheus, on the same data (issue #4).

Both scrape the same `wasmfed synth` targets (T targets x S gauges `synth_value{series,shard}`)
and load the same rule file: one group of 20 typical recording rules (aggregations by shard
and instance, rate/irate/delta/deriv and *_over_time over [1m], binary operations between
aggregates, count_values, label_replace, a rule reading earlier rules). After a warm-up long
enough for the [1m] ranges to fill, it records every evaluation of the group on each side
(`*_rule_group_last_duration_seconds` and `*_rule_group_last_evaluation_samples`, read from
/metrics each second, one entry per new `last_evaluation_timestamp`) and prints their
summaries and the ratio wasmfed/Prometheus of the mean durations (lower is better).

It then checks that both recorded the same thing: per recorded metric, the number of series
on each side, and values that do not depend on which scrape a side saw (each target's sum of
all its series and each shard's series count are the same at every scrape).

With `--alerts` the group also holds 5 alerting rules after the recording rules (per-shard and
per-instance thresholds with `for`, a per-series threshold that raises ~4% of the series as
alerts, one that never fires, one that always does), each with templated labels and
annotations, so the figures include alert state, `ALERTS`/`ALERTS_FOR_STATE` and template
expansion (no Alertmanager is configured: sending is not measured); the spot checks then also
compare the alert series.

Both sides evaluate at the same instants when they read the rule file by the same path
(wasmfed places groups as Prometheus does), so the two evaluations compete for the CPU;
`--apart` gives wasmfed a copy under another name, which moves its phase.

    bench/rules.py --targets 100 --series 1000 --warmup 100 --measure 200 [--alerts]
"""

import argparse
import json
import sys
import time
import urllib.parse

from common import (Bench, add_common_args, cpu_seconds, http, print_ratio_header, print_ratio_row, samples, seconds,
                    static_job, summary)

GROUP = "bench"

# (record, expr): typical recording rules over synth_value. Every one reads all series.
RULES = [
    ("shard:synth_value:sum", "sum by (shard) (synth_value)"),
    ("shard:synth_value:avg", "avg by (shard) (synth_value)"),
    ("shard:synth_value:max", "max by (shard) (synth_value)"),
    ("shard:synth_value:min", "min by (shard) (synth_value)"),
    ("shard:synth_value:count", "count by (shard) (synth_value)"),
    ("shard:synth_value:stddev", "stddev by (shard) (synth_value)"),
    ("shard:synth_value:p90", "quantile by (shard) (0.9, synth_value)"),
    ("shard:synth_value:top3", "topk by (shard) (3, synth_value)"),
    ("instance:synth_value:rate1m", "sum by (instance) (rate(synth_value[1m]))"),
    ("shard:synth_value:irate1m", "sum by (shard) (irate(synth_value[1m]))"),
    ("shard:synth_value:delta1m", "avg by (shard) (delta(synth_value[1m]))"),
    ("shard:synth_value:deriv1m", "avg by (shard) (deriv(synth_value[1m]))"),
    ("instance:synth_value:avg_over_time1m", "avg by (instance) (avg_over_time(synth_value[1m]))"),
    ("shard:synth_value:max_over_time1m", "max by (shard) (max_over_time(synth_value[1m]))"),
    ("shard:synth_value:mean", "sum by (shard) (synth_value) / on (shard) count by (shard) (synth_value)"),
    ("shard:synth_value:spread", "max by (shard) (synth_value) - min by (shard) (synth_value)"),
    ("shard:synth_value:buckets", 'count_values by (shard) ("bucket", floor(synth_value / 25))'),
    ("host:synth_value:sum",
     'label_replace(sum by (instance) (synth_value), "host", "$1", "instance", "([^:]+):.*")'),
    ("instance_shard:synth_value:sum", "sum without (series) (synth_value)"),
    ("shard:synth_value:mean_of_records", "shard:synth_value:sum / shard:synth_value:count"),
]

# (alert, expr, for, summary annotation): alerting rules of the group with --alerts.
ALERT_RULES = [
    ("ShardHigh", "avg by (shard) (synth_value) > 50", "1m",
     "shard {{ $labels.shard }} averages {{ $value | humanize }}"),
    ("InstanceMoving", "sum by (instance) (rate(synth_value[1m])) > 0", "2m",
     "{{ $labels.instance }} moves at {{ printf \"%.2f\" $value }}/s"),
    ("SeriesHigh", "synth_value > 120", "30s",
     "{{ $labels.instance }} series {{ $labels.series }} is at {{ $value | humanize }}"),
    ("NeverFires", "synth_value > 1e9", "0s", "{{ $value }}"),
    ("AlwaysFires", "vector(1)", "0s", "always ({{ $externalLabels.dc }})"),
]

# Each side's metric names for the group's last evaluation and its missed slots.
NAMES = {
    "prometheus": ("prometheus_rule_group_last_evaluation_timestamp_seconds",
                   "prometheus_rule_group_last_duration_seconds",
                   "prometheus_rule_group_last_evaluation_samples",
                   "prometheus_rule_group_iterations_missed_total"),
    "wasmfed": ("wasmfed_rule_group_last_evaluation_timestamp_seconds",
                "wasmfed_rule_group_last_duration_seconds",
                "wasmfed_rule_group_last_evaluation_samples",
                "wasmfed_rule_group_iterations_missed_total"),
}


def rule_file(alerts=False):
    lines = [f"groups:\n  - name: {GROUP}\n    rules:\n"]
    for record, expr in RULES:
        lines.append(f"      - record: {record}\n        expr: {json.dumps(expr)}\n")
    for alert, expr, hold, summary_text in (ALERT_RULES if alerts else []):
        lines.append(f"      - alert: {alert}\n        expr: {json.dumps(expr)}\n        for: {hold}\n"
                     f"        labels: {{severity: {json.dumps('{{ if gt $value 100.0 }}page{{ else }}ticket{{ end }}')}}}\n"
                     f"        annotations: {{summary: {json.dumps(summary_text)}}}\n")
    return "".join(lines)


def group_state(addr, names):
    """(last evaluation's timestamp, duration, samples; iterations missed) of the bench group."""
    found = {}
    for name, labels, value in samples(f"http://{addr}/metrics"):
        if name in names and labels.get("rule_group", "").endswith(f";{GROUP}"):
            found[name] = value
    return tuple(found.get(n) for n in names)


def record_evaluations(servers, window):
    """What each server did over `window` seconds: {name: (every evaluation as (ts, duration, samples),
    iterations missed, CPU seconds of the whole process)}. `servers` maps names to (pid, addr)."""
    seen = {k: {} for k in servers}
    missed = {}
    cpu = {k: cpu_seconds(pid) for k, (pid, _) in servers.items()}
    deadline = time.time() + window
    while time.time() < deadline:
        for k, (_, addr) in servers.items():
            ts, duration, count, misses = group_state(addr, NAMES[k])
            missed.setdefault(k, misses or 0)
            if ts:
                seen[k][ts] = (ts, duration, count)
        time.sleep(1)
    return {k: (sorted(seen[k].values()), (group_state(addr, NAMES[k])[3] or 0) - missed[k],
                cpu_seconds(pid) - cpu[k])
            for k, (pid, addr) in servers.items()}


def prometheus_rule_times(addr):
    """Prometheus' own time for each rule of its last evaluation, slowest first (wasmfed has
    no per-rule figure)."""
    groups = json.loads(http(f"http://{addr}/api/v1/rules"))["data"]["groups"]
    rules = next(g["rules"] for g in groups if g["name"] == GROUP)
    return sorted(((r["evaluationTime"], r["name"]) for r in rules), reverse=True)


def query(addr, expr, at):
    """An instant query's result as {label set without __name__: value}."""
    url = f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    body = json.loads(http(url))
    if body.get("status") != "success":
        raise RuntimeError(f"{addr}: {expr}: {body}")
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
            for r in body["data"]["result"]}


# Values that do not depend on which scrapes a side saw: each target's 1000 values are a
# permutation of 0..999 / 8 at every scrape, and each shard has a fixed number of series.
INVARIANT = ['host:synth_value:sum{instance="%s"}', "instance:synth_value:avg_over_time1m{instance=\"%s\"}",
             'shard:synth_value:count{shard="s3"}', 'shard:synth_value:count{shard="s12"}']


def close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1) for x, y in zip(a, b))


def spot_checks(servers, target, at, alerts=False):
    """Rows (what, prometheus, wasmfed, same?) comparing the recorded series at time `at`:
    series per recorded metric, then the invariant values for one `target`, then (with
    `alerts`) the alert series by name and state."""
    rows = []
    if alerts:
        expr = "count by (alertname, alertstate) (ALERTS)"
        counts = {k: query(addr, expr, at) for k, addr in servers.items()}
        for key in sorted(set(counts["prometheus"]) | set(counts["wasmfed"])):
            p, w = counts["prometheus"].get(key), counts["wasmfed"].get(key)
            rows.append((f"ALERTS {dict(key)}", p, w, p == w))
    for record, _ in RULES:
        counts = {k: len(query(addr, record, at)) for k, addr in servers.items()}
        rows.append((f"series of {record}", counts["prometheus"], counts["wasmfed"],
                     counts["prometheus"] == counts["wasmfed"]))
    for expr in INVARIANT:
        expr = expr.replace("%s", target)
        values = {k: sorted(query(addr, expr, at).values()) for k, addr in servers.items()}
        rows.append((expr, values["prometheus"], values["wasmfed"], close(values["prometheus"], values["wasmfed"])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--scrape-interval", default="5s")
    ap.add_argument("--eval-interval", default="10s")
    ap.add_argument("--warmup", type=float, default=100, help="seconds before measuring (>= 90: [1m] ranges fill)")
    ap.add_argument("--measure", type=float, default=200, help="seconds of recording evaluations")
    ap.add_argument("--alerts", action="store_true", help="add alerting rules to the group (see above)")
    ap.add_argument("--apart", action="store_true",
                    help="wasmfed reads a copy of the rule file under another name, so that the two "
                         "sides' groups evaluate at different instants")
    args = ap.parse_args()

    with Bench(args) as bench:
        targets = bench.synth()
        rules_path = bench.write("rules.yml", rule_file(args.alerts))
        wf_rules_path = rules_path
        if args.apart:
            wf_rules_path = bench.write("rules-wasmfed.yml", rule_file(args.alerts))

        def config(rules):
            return (f"global:\n  scrape_interval: {args.scrape_interval}\n"
                    f"  scrape_timeout: {args.scrape_interval}\n"
                    f"  evaluation_interval: {args.eval_interval}\n"
                    f"  external_labels: {{dc: bench}}\n"
                    f"rule_files: ['{rules}']\n"
                    f"scrape_configs:\n" + static_job("synth", targets))
        prom, prom_addr = bench.prometheus(bench.write("prometheus.yml", config(rules_path)))
        wf, wf_addr = bench.wasmfed(bench.write("wasmfed.yml", config(wf_rules_path)))
        servers = {"prometheus": prom_addr, "wasmfed": wf_addr}
        eval_interval = seconds(args.eval_interval)
        n_rules = len(RULES) + (len(ALERT_RULES) if args.alerts else 0)
        print(f"{args.targets} targets x {args.series} series, scrape {args.scrape_interval}, "
              f"{n_rules} rules every {args.eval_interval}; warm-up {args.warmup:.0f}s ...", file=sys.stderr)
        time.sleep(args.warmup)
        recorded = record_evaluations({"prometheus": (prom.pid, prom_addr), "wasmfed": (wf.pid, wf_addr)},
                                      args.measure)
        evaluations = {k: evals for k, (evals, _, _) in recorded.items()}

        print(f"\nrule group of {n_rules} rules ({len(ALERT_RULES) if args.alerts else 0} alerting) over {args.targets * args.series} series, "
              f"evaluated every {args.eval_interval}, scrape {args.scrape_interval}, "
              f"{'apart' if args.apart else 'same instants'}; {args.measure:.0f}s after {args.warmup:.0f}s warm-up")
        stats = {}
        for k, evals in evaluations.items():
            if not evals:
                sys.exit(f"{k} reported no evaluation of group {GROUP}")
            stats[k] = (summary([d for _, d, _ in evals]), summary([s for _, _, s in evals]))
        print_ratio_header()
        for key in ["n", "mean", "median", "p90", "min", "max"]:
            p, w = stats["prometheus"][0][key], stats["wasmfed"][0][key]
            label = "evaluations" if key == "n" else f"duration {key} (s)"
            print_ratio_row(label, p, w)
        for key in ["min", "max"]:
            p, w = stats["prometheus"][1][key], stats["wasmfed"][1][key]
            print_ratio_row(f"samples {key}", p, w, digits=6)
        for i, label in [(1, "iterations missed"), (2, "process CPU s (all work)")]:
            p, w = recorded["prometheus"][i], recorded["wasmfed"][i]
            print_ratio_row(label, p, w)
        phase = (evaluations["wasmfed"][-1][0] - evaluations["prometheus"][-1][0]) % eval_interval
        phase = phase - eval_interval if phase > eval_interval / 2 else phase
        # Prometheus reports when an evaluation started, which leaves its slot when the one
        # before overran (the ticker's queued tick fires at once); wasmfed reports the slot.
        print(f"last evaluation started, wasmfed - Prometheus, mod interval: {phase:+.3f}s")

        times = prometheus_rule_times(prom_addr)
        print(f"\nPrometheus' slowest rules in its last evaluation (of {sum(t for t, _ in times):.3g}s):")
        for took, record in times[:6]:
            print(f"  {took:8.3f}s  {record}")

        # Both have written the group's output at this (past) time.
        at = min(evaluations["prometheus"][-1][0], evaluations["wasmfed"][-1][0])
        print(f"\nrecorded series at {at:.3f}{'':<40}{'prometheus':>14}{'wasmfed':>14}  same")
        for what, p, w, same in spot_checks(servers, targets[0], at, args.alerts):
            print(f"{what:<70}{str(p):>14}{str(w):>14}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
