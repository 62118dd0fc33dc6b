// {{name}}: a wasmfed {{kind}} plugin in JavaScript.
//
// It drops every {{item}} whose `{{label}}` starts with a prefix (`debug_` unless the
// configuration says {"drop_prefix": "..."}) and keeps the others as they are. Replace
// `decide` with your own logic; wit/plugin.wit documents the contract.

let dropPrefix = null;

// A `plugin-error` is thrown as the variant's JS shape; componentize-js makes it the `err`.
function refuse(why) {
  throw { tag: "invalid-config", val: why };
}

// The labels to keep the {{item}} with, or undefined to drop it.
function decide(labels) {
  const dropped = labels.some((l) => l.name === "{{label}}" && l.value.startsWith(dropPrefix));
  return dropped ? undefined : labels;
}

export const lifecycle = {
  init(config) {
    const parsed = JSON.parse(config) ?? {};
    if (typeof parsed !== "object" || Array.isArray(parsed) || Object.keys(parsed).some((k) => k !== "drop_prefix")) {
      refuse('the configuration is {"drop_prefix": "..."}');
    }
    const prefix = parsed.drop_prefix ?? "debug_";
    if (typeof prefix !== "string") {
      refuse('"drop_prefix" must be a string');
    }
    dropPrefix = prefix;
  },
};

export const {{interface}} = {
  process(batch) {
    if (dropPrefix === null) {
      throw { tag: "failed", val: "not initialised" };
    }
    return batch.map(decide);
  },
};
