// PII scrubber: a wasmfed series plugin that replaces chosen label values with a salted hash.
//
// Configuration (JSON): {"labels": ["email", "user_id"], "salt": "any text"}. Each listed
// label's value becomes the first 16 hex digits of SHA-256(salt + value); other labels and
// series without those labels pass unchanged. The same value always maps to the same digest,
// so series stay distinct and joinable while the raw value never reaches storage.
//
// Memory, as the canonical ABI has it: the input list is ours to free, and everything we
// return is freed by the generated post-return function. So each input label set is moved
// into the answer as it is, a scrubbed value replaced by a new string.
#include <stdlib.h>
#include <string.h>

#include "series_plugin.h"
#include "config.h"
#include "sha256.h"

#define DIGEST_HEX 16

static config_t config;

static void error_text(wasmfed_plugin_types_plugin_error_t *err, uint8_t tag, const char *why) {
  err->tag = tag;
  series_plugin_string_dup(&err->val.invalid_config, why);
}

bool exports_wasmfed_plugin_lifecycle_init(series_plugin_string_t *text,
                                           exports_wasmfed_plugin_lifecycle_plugin_error_t *err) {
  config_t parsed;
  const char *why = config_parse((const char *)text->ptr, text->len, &parsed);
  series_plugin_string_free(text);
  if (why != NULL) {
    error_text(err, WASMFED_PLUGIN_TYPES_PLUGIN_ERROR_INVALID_CONFIG, why);
    return false;
  }
  config_free(&config);
  config = parsed;
  return true;
}

static bool scrubbed(const series_plugin_string_t *name) {
  for (size_t i = 0; i < config.n_labels; i++) {
    if (config.labels[i].len == name->len && memcmp(config.labels[i].ptr, name->ptr, name->len) == 0) {
      return true;
    }
  }
  return false;
}

// Replaces `value` by the first DIGEST_HEX hex digits of SHA-256(salt + value).
static void scrub(series_plugin_string_t *value) {
  size_t len = config.salt.len + value->len;
  uint8_t *salted = malloc(len ? len : 1);
  memcpy(salted, config.salt.ptr, config.salt.len);
  memcpy(salted + config.salt.len, value->ptr, value->len);
  uint8_t digest[32];
  sha256(salted, len, digest);
  free(salted);
  static const char hex[] = "0123456789abcdef";
  uint8_t *text = malloc(DIGEST_HEX);
  for (int i = 0; i < DIGEST_HEX / 2; i++) {
    text[2 * i] = (uint8_t)hex[digest[i] >> 4];
    text[2 * i + 1] = (uint8_t)hex[digest[i] & 0xf];
  }
  series_plugin_string_free(value);
  value->ptr = text;
  value->len = DIGEST_HEX;
}

bool exports_wasmfed_plugin_series_process(exports_wasmfed_plugin_series_list_labels_t *series,
                                           exports_wasmfed_plugin_series_list_option_labels_t *ret,
                                           exports_wasmfed_plugin_series_plugin_error_t *err) {
  (void)err;
  ret->len = series->len;
  ret->ptr = malloc(series->len * sizeof *ret->ptr + 1);
  for (size_t i = 0; i < series->len; i++) {
    exports_wasmfed_plugin_series_labels_t *labels = &series->ptr[i];
    for (size_t j = 0; j < labels->len; j++) {
      if (scrubbed(&labels->ptr[j].name)) scrub(&labels->ptr[j].value);
    }
    ret->ptr[i].is_some = true;
    ret->ptr[i].val = *labels;
  }
  // The sets now belong to the answer; only the outer array is left to free.
  free(series->ptr);
  return true;
}
