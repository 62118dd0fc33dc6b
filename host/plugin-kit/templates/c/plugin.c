// {{name}}: a wasmfed {{kind}} plugin in C.
//
// It drops every {{item}} whose `{{label}}` starts with `debug_` and keeps the others as they
// are. It takes no configuration (`init` refuses anything but none); the pii-scrubber example
// in wasmfed's repository shows a C plugin that reads its JSON configuration.
//
// Memory, as the canonical ABI has it: the input list is ours to free, and everything we
// return is freed by the generated post-return function. So a kept label set is moved into
// the answer as it is, and a dropped one is freed here.
#include <stdlib.h>
#include <string.h>

#include "bindings/{{world_c}}.h"

static const char DROP_PREFIX[] = "debug_";

bool exports_wasmfed_plugin_lifecycle_init({{world_c}}_string_t *config,
                                           exports_wasmfed_plugin_lifecycle_plugin_error_t *err) {
  bool none = config->len == 4 && memcmp(config->ptr, "null", 4) == 0;
  {{world_c}}_string_free(config);
  if (!none) {
    err->tag = WASMFED_PLUGIN_TYPES_PLUGIN_ERROR_INVALID_CONFIG;
    {{world_c}}_string_dup(&err->val.invalid_config, "this plugin takes no configuration");
    return false;
  }
  return true;
}

static bool dropped(const wasmfed_plugin_types_labels_t *labels) {
  for (size_t i = 0; i < labels->len; i++) {
    const wasmfed_plugin_types_label_t *l = &labels->ptr[i];
    if (l->name.len == sizeof "{{label}}" - 1 && memcmp(l->name.ptr, "{{label}}", l->name.len) == 0) {
      return l->value.len >= sizeof DROP_PREFIX - 1 &&
             memcmp(l->value.ptr, DROP_PREFIX, sizeof DROP_PREFIX - 1) == 0;
    }
  }
  return false;
}

bool exports_wasmfed_plugin_{{interface}}_process(exports_wasmfed_plugin_{{interface}}_list_labels_t *batch,
                                           exports_wasmfed_plugin_{{interface}}_list_option_labels_t *ret,
                                           exports_wasmfed_plugin_{{interface}}_plugin_error_t *err) {
  (void)err;
  ret->len = batch->len;
  ret->ptr = malloc(batch->len * sizeof *ret->ptr + 1);
  for (size_t i = 0; i < batch->len; i++) {
    if (dropped(&batch->ptr[i])) {
      wasmfed_plugin_types_labels_free(&batch->ptr[i]);
      ret->ptr[i].is_some = false;
    } else {
      ret->ptr[i].is_some = true;
      ret->ptr[i].val = batch->ptr[i];
    }
  }
  // The kept sets now belong to the answer; only the outer array is left to free.
  free(batch->ptr);
  return true;
}
