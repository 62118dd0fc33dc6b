// {{name}}: a wasmfed rule plugin in JavaScript.
//
// At each evaluation it records `<metric>:series`, how many series of a metric (`up` unless
// the configuration says {"metric": "..."}) have a sample in the last five minutes, read
// through the `store` import. Replace `rules.evaluate` with your own rules; wit/rules.wit
// documents the contract.
import { series } from "wasmfed:plugin/store@0.1.0";

// How far back a series counts as present: Prometheus' default lookback (s64 is a BigInt).
const LOOKBACK_MS = 5n * 60n * 1000n;

let metric = null;

// A `plugin-error` is thrown as the variant's JS shape; componentize-js makes it the `err`.
function refuse(why) {
  throw { tag: "invalid-config", val: why };
}

export const lifecycle = {
  init(config) {
    const parsed = JSON.parse(config) ?? {};
    if (typeof parsed !== "object" || Array.isArray(parsed) || Object.keys(parsed).some((k) => k !== "metric")) {
      refuse('the configuration is {"metric": "..."}');
    }
    const name = parsed.metric ?? "up";
    if (typeof name !== "string") {
      refuse('"metric" must be a string');
    }
    metric = name;
  },
};

export const rules = {
  evaluate(atMs) {
    if (metric === null) {
      throw { tag: "failed", val: "not initialised" };
    }
    const record = `${metric}:series`;
    let outcome;
    try {
      // Not before 0: componentize-js 0.23 traps on a negative s64 argument (only a fixture's
      // first minutes are that early).
      const start = atMs > LOOKBACK_MS ? atMs - LOOKBACK_MS : 0n;
      const found = series([{ name: "__name__", op: "equal", value: metric }], start, atMs);
      const sample = { labels: [{ name: "__name__", value: record }], timestampMs: atMs, value: found.length };
      outcome = { tag: "ok", val: [sample] };
    } catch (e) {
      // A failed import call throws its `err` as the payload.
      outcome = { tag: "err", val: String(e.payload ?? e) };
    }
    return [{ name: record, outcome }];
  },
};
