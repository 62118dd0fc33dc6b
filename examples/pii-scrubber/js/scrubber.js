// PII scrubber: a wasmfed series plugin that replaces chosen label values with a salted hash.
//
// Configuration (JSON): {"labels": ["email", "user_id"], "salt": "any text"}. Each listed
// label's value becomes the first 16 hex digits of SHA-256(salt + value); other labels and
// series without those labels pass unchanged. The same value always maps to the same digest,
// so series stay distinct and joinable while the raw value never reaches storage.
import { sha256Hex } from "./sha256.js";

let scrubbed = new Set();
let salt = "";

// A `plugin-error` is thrown as the variant's JS shape; componentize-js turns it into `err`.
function refuse(why) {
  throw { tag: "invalid-config", val: why };
}

export const lifecycle = {
  init(config) {
    let parsed;
    try {
      parsed = JSON.parse(config);
    } catch (e) {
      refuse(`config is not JSON: ${e.message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      refuse('config must be an object: {"labels": [...], "salt": "..."}');
    }
    const unknown = Object.keys(parsed).filter((k) => k !== "labels" && k !== "salt").sort();
    if (unknown.length > 0) {
      refuse(`unknown key '${unknown[0]}' (known: labels, salt)`);
    }
    const labels = parsed.labels;
    if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === "string")) {
      refuse('"labels" must be a non-empty list of label names');
    }
    if (labels.includes("__name__")) {
      refuse("__name__ cannot be scrubbed: the series would lose its metric name");
    }
    const newSalt = parsed.salt ?? "";
    if (typeof newSalt !== "string") {
      refuse('"salt" must be a string');
    }
    scrubbed = new Set(labels);
    salt = newSalt;
  },
};

export const series = {
  process(batch) {
    return batch.map((set) =>
      set.map((l) => (scrubbed.has(l.name) ? { name: l.name, value: sha256Hex(salt + l.value).slice(0, 16) } : l)),
    );
  },
};
