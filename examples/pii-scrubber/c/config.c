// A JSON reader for exactly the scrubber's configuration: one object whose keys are "labels"
// (a non-empty array of strings) and "salt" (a string). Anything else is refused with a reason,
// as the other languages' versions refuse it.
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *at, *end;
} reader_t;

static void skip_space(reader_t *r) {
  while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) {
    r->at++;
  }
}

static int hex4(reader_t *r, uint32_t *out) {
  if (r->end - r->at < 4) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = *r->at++;
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char *to, uint32_t cp) {
  if (cp < 0x80) { to[0] = (char)cp; return 1; }
  if (cp < 0x800) { to[0] = (char)(0xc0 | cp >> 6); to[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    to[0] = (char)(0xe0 | cp >> 12);
    to[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    to[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  to[0] = (char)(0xf0 | cp >> 18);
  to[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  to[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  to[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

// A JSON string at the reader into `out` (malloc'd); 0 if it is not one.
static int read_string(reader_t *r, text_t *out) {
  if (r->at >= r->end || *r->at != '"') return 0;
  r->at++;
  // Unescaped text is never longer than its escaped form.
  char *text = malloc((size_t)(r->end - r->at) + 1);
  size_t len = 0;
  while (r->at < r->end && *r->at != '"') {
    char c = *r->at++;
    if ((unsigned char)c < 0x20) goto bad;
    if (c != '\\') { text[len++] = c; continue; }
    if (r->at >= r->end) goto bad;
    char e = *r->at++;
    uint32_t cp;
    switch (e) {
      case '"': case '\\': case '/': text[len++] = e; break;
      case 'b': text[len++] = '\b'; break;
      case 'f': text[len++] = '\f'; break;
      case 'n': text[len++] = '\n'; break;
      case 'r': text[len++] = '\r'; break;
      case 't': text[len++] = '\t'; break;
      case 'u':
        if (!hex4(r, &cp)) goto bad;
        if (cp >= 0xd800 && cp < 0xdc00) {
          uint32_t low;
          if (r->end - r->at < 6 || r->at[0] != '\\' || r->at[1] != 'u') goto bad;
          r->at += 2;
          if (!hex4(r, &low) || low < 0xdc00 || low >= 0xe000) goto bad;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          goto bad;
        }
        len += put_utf8(text + len, cp);
        break;
      default: goto bad;
    }
  }
  if (r->at >= r->end) goto bad;
  r->at++;
  out->ptr = text;
  out->len = len;
  return 1;
bad:
  free(text);
  return 0;
}

static int is_key(const text_t *key, const char *name) {
  return key->len == strlen(name) && memcmp(key->ptr, name, key->len) == 0;
}

void config_free(config_t *config) {
  for (size_t i = 0; i < config->n_labels; i++) free(config->labels[i].ptr);
  free(config->labels);
  free(config->salt.ptr);
  memset(config, 0, sizeof *config);
}

static const char *read_labels(reader_t *r, config_t *out) {
  static const char *const bad = "\"labels\" must be a non-empty list of label names";
  if (r->at >= r->end || *r->at != '[') return bad;
  r->at++;
  skip_space(r);
  size_t cap = 0;
  while (r->at < r->end && *r->at != ']') {
    if (out->n_labels == cap) {
      cap = cap ? cap * 2 : 4;
      out->labels = realloc(out->labels, cap * sizeof *out->labels);
    }
    if (!read_string(r, &out->labels[out->n_labels])) return bad;
    out->n_labels++;
    skip_space(r);
    if (r->at < r->end && *r->at == ',') { r->at++; skip_space(r); continue; }
    if (r->at >= r->end || *r->at != ']') return bad;
  }
  if (r->at >= r->end || out->n_labels == 0) return bad;
  r->at++;
  for (size_t i = 0; i < out->n_labels; i++) {
    if (is_key(&out->labels[i], "__name__")) {
      return "__name__ cannot be scrubbed: the series would lose its metric name";
    }
  }
  return NULL;
}

const char *config_parse(const char *json, size_t len, config_t *out) {
  static const char *const not_object = "config must be an object: {\"labels\": [...], \"salt\": \"...\"}";
  reader_t r = {json, json + len};
  memset(out, 0, sizeof *out);
  const char *why = NULL;
  int seen_labels = 0;
  skip_space(&r);
  if (r.at >= r.end || *r.at != '{') return not_object;
  r.at++;
  skip_space(&r);
  while (why == NULL && r.at < r.end && *r.at != '}') {
    text_t key;
    if (!read_string(&r, &key)) { why = "config is not JSON: expected a key"; break; }
    skip_space(&r);
    if (r.at >= r.end || *r.at != ':') { free(key.ptr); why = "config is not JSON: expected ':'"; break; }
    r.at++;
    skip_space(&r);
    if (is_key(&key, "labels") && !seen_labels) {
      seen_labels = 1;
      why = read_labels(&r, out);
    } else if (is_key(&key, "salt") && out->salt.ptr == NULL) {
      if (!read_string(&r, &out->salt)) why = "\"salt\" must be a string";
    } else {
      why = "unknown or repeated key (known: labels, salt)";
    }
    free(key.ptr);
    skip_space(&r);
    if (why == NULL && r.at < r.end && *r.at == ',') {
      r.at++;
      skip_space(&r);
      if (r.at < r.end && *r.at == '}') why = "config is not JSON: expected a key";
    }
  }
  if (why == NULL && (r.at >= r.end || *r.at != '}')) why = "config is not JSON: expected '}'";
  if (why == NULL) {
    r.at++;
    skip_space(&r);
    if (r.at != r.end) why = "config is not JSON: text after the object";
  }
  if (why == NULL && !seen_labels) why = "\"labels\" must be a non-empty list of label names";
  if (why != NULL) config_free(out);
  return why;
}
