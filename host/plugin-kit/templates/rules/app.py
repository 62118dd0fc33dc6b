"""{{name}}: a wasmfed rule plugin in Python.

At each evaluation it records `<metric>:series`, how many series of a metric (`up` unless the
configuration says {"metric": "..."}) have a sample in the last five minutes, read through
the `store` import. Replace `Rules.evaluate` with your own rules; wit/rules.wit documents the
contract.
"""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports.rules import RuleResult
from wit_world.imports import store
from wit_world.imports.types import Label, PluginError_Failed, PluginError_InvalidConfig, Sample

# How far back a series counts as present: Prometheus' default lookback.
LOOKBACK_MS = 5 * 60 * 1000

_metric = None


class Lifecycle(exports.Lifecycle):
    def init(self, config: str) -> None:
        global _metric
        parsed = json.loads(config)
        if parsed is None:
            parsed = {}
        if not isinstance(parsed, dict) or set(parsed) - {"metric"}:
            raise Err(PluginError_InvalidConfig('the configuration is {"metric": "..."}'))
        metric = parsed.get("metric", "up")
        if not isinstance(metric, str):
            raise Err(PluginError_InvalidConfig('"metric" must be a string'))
        _metric = metric


class Rules(exports.Rules):
    def evaluate(self, at_ms: int):
        if _metric is None:
            raise Err(PluginError_Failed("not initialised"))
        record = f"{_metric}:series"
        matchers = [store.Matcher("__name__", store.MatchOp.EQUAL, _metric)]
        try:
            found = store.series(matchers, at_ms - LOOKBACK_MS, at_ms)
        except Err as e:
            return [RuleResult(record, Err(e.value))]
        sample = Sample([Label("__name__", record)], at_ms, float(len(found)))
        return [RuleResult(record, Ok([sample]))]
