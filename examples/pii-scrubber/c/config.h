// The scrubber's configuration, read from the JSON text wasmfed passes to `init`:
// {"labels": ["email", "user_id"], "salt": "any text"}.
#ifndef PII_SCRUBBER_CONFIG_H
#define PII_SCRUBBER_CONFIG_H

#include <stddef.h>

typedef struct {
  char *ptr;  // not NUL-terminated: a JSON string may hold \u0000
  size_t len;
} text_t;

typedef struct {
  text_t *labels;
  size_t n_labels;
  text_t salt;
} config_t;

// Parses `json` into `out`; on failure returns a static message saying why (and `out` holds
// nothing to free). A successful result is released with config_free.
const char *config_parse(const char *json, size_t len, config_t *out);
void config_free(config_t *config);

#endif
