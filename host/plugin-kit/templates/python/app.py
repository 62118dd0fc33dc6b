"""{{name}}: a wasmfed {{kind}} plugin in Python.

It drops every {{item}} whose `{{label}}` starts with a prefix (`debug_` unless the
configuration says {"drop_prefix": "..."}) and keeps the others as they are. Replace
`decide` with your own logic; wit/plugin.wit documents the contract.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import PluginError_Failed, PluginError_InvalidConfig

_drop_prefix = None


def decide(labels):
    """The labels to keep the {{item}} with, or None to drop it."""
    for label in labels:
        if label.name == "{{label}}" and label.value.startswith(_drop_prefix):
            return None
    return labels


class Lifecycle(exports.Lifecycle):
    def init(self, config: str) -> None:
        global _drop_prefix
        parsed = json.loads(config)
        if parsed is None:
            parsed = {}
        if not isinstance(parsed, dict) or set(parsed) - {"drop_prefix"}:
            raise Err(PluginError_InvalidConfig('the configuration is {"drop_prefix": "..."}'))
        prefix = parsed.get("drop_prefix", "debug_")
        if not isinstance(prefix, str):
            raise Err(PluginError_InvalidConfig('"drop_prefix" must be a string'))
        _drop_prefix = prefix


class {{Interface}}(exports.{{Interface}}):
    def process(self, batch):
        if _drop_prefix is None:
            raise Err(PluginError_Failed("not initialised"))
        return [decide(labels) for labels in batch]
