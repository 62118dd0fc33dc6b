// {{name}}: a wasmfed rule plugin in C.
//
// At each evaluation it records `up:series`, how many series of `up` have a sample in the
// last five minutes, read through the `store` import. It takes no configuration (`init`
// refuses anything but none). Replace the body of `evaluate` with your own rules;
// wit/rules.wit documents the contract.
//
// Memory, as the canonical ABI has it: what we pass to an import stays ours, what an import
// returns is ours to free, and everything we return is freed by the generated post-return
// function, so it must be allocated on its own.
#include <stdlib.h>
#include <string.h>

#include "bindings/rule_plugin.h"

#define METRIC "up"
#define RECORD METRIC ":series"
// How far back a series counts as present: Prometheus' default lookback.
#define LOOKBACK_MS (5 * 60 * 1000)

bool exports_wasmfed_plugin_lifecycle_init(rule_plugin_string_t *config,
                                           exports_wasmfed_plugin_lifecycle_plugin_error_t *err) {
  bool none = config->len == 4 && memcmp(config->ptr, "null", 4) == 0;
  rule_plugin_string_free(config);
  if (!none) {
    err->tag = WASMFED_PLUGIN_TYPES_PLUGIN_ERROR_INVALID_CONFIG;
    rule_plugin_string_dup(&err->val.invalid_config, "this plugin takes no configuration");
    return false;
  }
  return true;
}

bool exports_wasmfed_plugin_rules_evaluate(int64_t at_ms, exports_wasmfed_plugin_rules_list_rule_result_t *ret,
                                           exports_wasmfed_plugin_rules_plugin_error_t *err) {
  (void)err;
  wasmfed_plugin_store_matcher_t matcher = {.op = WASMFED_PLUGIN_STORE_MATCH_OP_EQUAL};
  rule_plugin_string_set(&matcher.name, "__name__");
  rule_plugin_string_set(&matcher.value, METRIC);
  wasmfed_plugin_store_list_matcher_t matchers = {&matcher, 1};
  wasmfed_plugin_store_list_labels_t found;
  rule_plugin_string_t failed;
  bool ok = wasmfed_plugin_store_series(&matchers, at_ms - LOOKBACK_MS, at_ms, &found, &failed);

  exports_wasmfed_plugin_rules_rule_result_t *result = malloc(sizeof *result);
  rule_plugin_string_dup(&result->name, RECORD);
  result->outcome.is_err = !ok;
  if (ok) {
    exports_wasmfed_plugin_rules_sample_t *sample = malloc(sizeof *sample);
    sample->labels.len = 1;
    sample->labels.ptr = malloc(sizeof *sample->labels.ptr);
    rule_plugin_string_dup(&sample->labels.ptr[0].name, "__name__");
    rule_plugin_string_dup(&sample->labels.ptr[0].value, RECORD);
    sample->timestamp_ms = at_ms;
    sample->value = (double)found.len;
    result->outcome.val.ok.ptr = sample;
    result->outcome.val.ok.len = 1;
    wasmfed_plugin_store_list_labels_free(&found);
  } else {
    result->outcome.val.err = failed;  // moved into the answer
  }
  ret->ptr = result;
  ret->len = 1;
  return true;
}
