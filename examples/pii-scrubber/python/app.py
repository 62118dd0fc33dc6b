"""PII scrubber: a wasmfed series plugin that replaces chosen label values with a salted hash.

Configuration (JSON): {"labels": ["email", "user_id"], "salt": "any text"}. Each listed
label's value becomes the first 16 hex digits of SHA-256(salt + value); other labels and
series without those labels pass unchanged. The same value always maps to the same digest,
so series stay distinct and joinable while the raw value never reaches storage.
"""

import hashlib
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import Label, PluginError_InvalidConfig

_labels: frozenset = frozenset()
_salt: bytes = b""


def _refuse(why: str):
    raise Err(PluginError_InvalidConfig(why))


class Lifecycle(exports.Lifecycle):
    def init(self, config: str) -> None:
        global _labels, _salt
        try:
            parsed = json.loads(config)
        except ValueError as e:
            _refuse(f"config is not JSON: {e}")
        if not isinstance(parsed, dict):
            _refuse('config must be an object: {"labels": [...], "salt": "..."}')
        unknown = sorted(set(parsed) - {"labels", "salt"})
        if unknown:
            _refuse(f"unknown key {unknown[0]!r} (known: labels, salt)")
        labels = parsed.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(l, str) for l in labels):
            _refuse('"labels" must be a non-empty list of label names')
        if "__name__" in labels:
            _refuse("__name__ cannot be scrubbed: the series would lose its metric name")
        salt = parsed.get("salt", "")
        if not isinstance(salt, str):
            _refuse('"salt" must be a string')
        _labels = frozenset(labels)
        _salt = salt.encode()


def _digest(value: str) -> str:
    return hashlib.sha256(_salt + value.encode()).hexdigest()[:16]


class Series(exports.Series):
    def process(self, series):
        return [
            [Label(l.name, _digest(l.value)) if l.name in _labels else l for l in labels]
            for labels in series
        ]
