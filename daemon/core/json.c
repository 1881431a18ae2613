/*
 * json: jansson's serialiser again, with one difference: reals are printed with the fewest
 * digits that read back exactly (docs/status-json.md "Numbers and times"). Everything else
 * follows what json_dumps of jansson 2.14 writes (docs/libraries.md), so that the documents keep
 * the shape they had: the separators ", " and ": " (":" and "," under JSON_COMPACT), a newline
 * and depth * n spaces under JSON_INDENT(n), "\uXXXX" in upper case for control characters, and
 * the same short escapes.
 */
#include "json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define INDENT_OF(flags) ((flags)&0x1F)

/* The fewest significant digits (1 to 17) that read back as V, a finite double. Each precision
 * need not be tried: when V's 15-digit rounding reads back, the shortest is that rounding
 * without its trailing zeros (any shorter decimal that reads back as V lies far closer to V than
 * half a unit of the 15th digit, so the 15-digit rounding is it, padded with zeros); otherwise it
 * is 16 or 17. A subnormal V has fewer bits than that argument needs: its shortest is searched. */
static int shortest_precision(double v) {
  char tmp[40], *m;
  int prec = 0;

  if (v != 0 && fabs(v) < DBL_MIN) {
    for (prec = 1; prec < 17; prec++) {
      snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
      if (strtod(tmp, NULL) == v)
        break;
    }
    return prec;
  }
  snprintf(tmp, sizeof(tmp), "%.14e", v);
  if (strtod(tmp, NULL) == v) {
    m = strchr(tmp, 'e');
    while (m > tmp && m[-1] == '0')
      m--;
    for (char *c = tmp; c < m; c++)
      prec += *c >= '0' && *c <= '9';
    return prec;
  }
  snprintf(tmp, sizeof(tmp), "%.16g", v);
  return strtod(tmp, NULL) == v ? 16 : 17;
}

int pw_json_real(double v, char *buf, size_t size) {
  char tmp[40];
  int n = 0;
  char *e;

  if (!isfinite(v) || buf == NULL)
    return -1;
  n = snprintf(tmp, sizeof(tmp), "%.*g", shortest_precision(v), v);
  /* As jansson: no '+' and no leading zeros in the exponent ("1e21", "1e-5"). */
  e = strchr(tmp, 'e');
  if (e != NULL) {
    char *start = e + 1, *end = e + 2;

    if (*start == '-')
      start++;
    while (*end == '0')
      end++;
    if (end != start) {
      memmove(start, end, strlen(end) + 1);
      n = (int)strlen(tmp);
    }
  } else if (strchr(tmp, '.') == NULL) {
    /* A whole number keeps a decimal point, so that it reads back as a real. */
    if ((size_t)n + 2 >= sizeof(tmp))
      return -1;
    memcpy(tmp + n, ".0", 3);
    n += 2;
  }
  if ((size_t)n >= size)
    return -1;
  memcpy(buf, tmp, (size_t)n + 1);
  return n;
}

/* Decodes one UTF-8 sequence at S (jansson's strings are valid UTF-8). Returns its length and
 * the code point in *CP. */
static size_t utf8_next(const unsigned char *s, size_t left, uint32_t *cp) {
  size_t n = s[0] < 0x80 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
  size_t i;

  if (n > left)
    n = left;
  *cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1Fu : n == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
  for (i = 1; i < n; i++)
    *cp = (*cp << 6) | (s[i] & 0x3Fu);
  return n;
}

static int put_string(struct pw_buf *out, const char *str, size_t len, size_t flags) {
  const unsigned char *p = (const unsigned char *)str, *run = p, *lim = p + len;
  int rc = pw_buf_append(out, "\"", 1);

  while (rc == 0 && p < lim) {
    uint32_t cp;
    size_t n = utf8_next(p, (size_t)(lim - p), &cp);
    char seq[16];
    const char *text = NULL;

    if (!(cp == '\\' || cp == '"' || cp < 0x20 || ((flags & JSON_ESCAPE_SLASH) && cp == '/') ||
          ((flags & JSON_ENSURE_ASCII) && cp > 0x7F))) {
      p += n;
      continue;
    }
    rc = pw_buf_append(out, run, (size_t)(p - run));
    switch (cp) {
    case '\\':
      text = "\\\\";
      break;
    case '"':
      text = "\\\"";
      break;
    case '\b':
      text = "\\b";
      break;
    case '\f':
      text = "\\f";
      break;
    case '\n':
      text = "\\n";
      break;
    case '\r':
      text = "\\r";
      break;
    case '\t':
      text = "\\t";
      break;
    case '/':
      text = "\\/";
      break;
    default:
      if (cp < 0x10000) {
        snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)cp);
      } else {
        uint32_t c = cp - 0x10000;
        snprintf(seq, sizeof(seq), "\\u%04X\\u%04X", (unsigned)(0xD800 | (c >> 10)),
                 (unsigned)(0xDC00 | (c & 0x3FF)));
      }
      text = seq;
      break;
    }
    rc = rc < 0 ? rc : pw_buf_append(out, text, strlen(text));
    p += n;
    run = p;
  }
  rc = rc < 0 ? rc : pw_buf_append(out, run, (size_t)(p - run));
  return rc < 0 ? rc : pw_buf_append(out, "\"", 1);
}

/* A newline and DEPTH levels of indentation, or SPACE's blank between items when not indented. */
static int put_indent(struct pw_buf *out, size_t flags, int depth, int space) {
  unsigned n = INDENT_OF(flags) * (unsigned)depth;
  int rc = 0;

  if (INDENT_OF(flags) > 0) {
    rc = pw_buf_append(out, "\n", 1);
    while (rc == 0 && n-- > 0)
      rc = pw_buf_append(out, " ", 1);
  } else if (space && !(flags & JSON_COMPACT)) {
    rc = pw_buf_append(out, " ", 1);
  }
  return rc;
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int put_value(struct pw_buf *out, const json_t *v, size_t flags, int depth);

/* Member KEY: V of an object at DEPTH, with what comes before it: the opening brace before the
 * FIRST, a comma before any other, each on its own indented line. */
static int put_member(struct pw_buf *out, size_t flags, int depth, int first, const char *key,
                      const json_t *v) {
  int rc = pw_buf_append(out, first ? "{" : ",", 1);

  rc = rc < 0 ? rc : put_indent(out, flags, depth + 1, !first);
  rc = rc < 0 ? rc : put_string(out, key, strlen(key), flags);
  rc = rc < 0 ? rc : pw_buf_append(out, ": ", flags & JSON_COMPACT ? 1 : 2);
  return rc < 0 ? rc : put_value(out, v, flags, depth + 1);
}

static int put_object(struct pw_buf *out, const json_t *o, size_t flags, int depth) {
  json_t *obj = (json_t *)o; /* jansson's iterators take a non-const object */
  size_t n = json_object_size(obj), i = 0;
  const char **keys;
  const char *key;
  json_t *value;
  int rc;

  if (n == 0)
    return pw_buf_append(out, "{}", 2);
  keys = malloc(n * sizeof(*keys));
  if (keys == NULL)
    return -ENOMEM;
  json_object_foreach(obj, key, value) {
    if (i < n)
      keys[i++] = key;
  }
  if (flags & JSON_SORT_KEYS)
    qsort(keys, i, sizeof(*keys), cmp_keys);
  rc = 0;
  for (n = 0; rc == 0 && n < i; n++)
    rc = put_member(out, flags, depth, n == 0, keys[n], json_object_get(obj, keys[n]));
  free(keys);
  rc = rc < 0 ? rc : put_indent(out, flags, depth, 0);
  return rc < 0 ? rc : pw_buf_append(out, "}", 1);
}

static int put_array(struct pw_buf *out, const json_t *a, size_t flags, int depth) {
  size_t n = json_array_size(a), i;
  int rc;

  if (n == 0)
    return pw_buf_append(out, "[]", 2);
  rc = pw_buf_append(out, "[", 1);
  rc = rc < 0 ? rc : put_indent(out, flags, depth + 1, 0);
  for (i = 0; rc == 0 && i < n; i++) {
    rc = put_value(out, json_array_get(a, i), flags, depth + 1);
    if (rc == 0 && i + 1 < n) {
      rc = pw_buf_append(out, ",", 1);
      rc = rc < 0 ? rc : put_indent(out, flags, depth + 1, 1);
    } else if (rc == 0) {
      rc = put_indent(out, flags, depth, 0);
    }
  }
  return rc < 0 ? rc : pw_buf_append(out, "]", 1);
}

static int put_value(struct pw_buf *out, const json_t *v, size_t flags, int depth) {
  char num[40];

  /* jansson's own limit on nesting, so that a document it made cannot exhaust the stack. */
  if (depth > 2048)
    return -E2BIG;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return put_object(out, v, flags, depth);
  case JSON_ARRAY:
    return put_array(out, v, flags, depth);
  case JSON_STRING:
    return put_string(out, json_string_value(v), json_string_length(v), flags);
  case JSON_INTEGER:
    return pw_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  case JSON_REAL:
    if (pw_json_real(json_real_value(v), num, sizeof(num)) < 0)
      return -EINVAL;
    return pw_buf_append(out, num, strlen(num));
  case JSON_TRUE:
    return pw_buf_append(out, "true", 4);
  case JSON_FALSE:
    return pw_buf_append(out, "false", 5);
  case JSON_NULL:
    return pw_buf_append(out, "null", 4);
  }
  return -EINVAL;
}

char *pw_json_dumps(const json_t *doc, size_t flags) {
  struct pw_buf out = {0};

  if (doc == NULL || (!(flags & JSON_ENCODE_ANY) && !json_is_object(doc) && !json_is_array(doc)))
    return NULL;
  if (put_value(&out, doc, flags, 0) < 0) {
    pw_buf_free(&out);
    return NULL;
  }
  if (out.data == NULL)
    return strdup("");
  return out.data;
}

void pw_json_object_begin(struct pw_json_writer *w, struct pw_buf *out, size_t flags) {
  w->out = out;
  w->flags = flags;
  w->n = 0;
}

int pw_json_object_add(struct pw_json_writer *w, const char *key, const json_t *value) {
  int rc = put_member(w->out, w->flags, 0, w->n == 0, key, value);

  if (rc == 0)
    w->n++;
  return rc;
}

int pw_json_object_end(struct pw_json_writer *w) {
  int rc;

  if (w->n == 0)
    return pw_buf_append(w->out, "{}", 2);
  rc = put_indent(w->out, w->flags, 0, 0);
  return rc < 0 ? rc : pw_buf_append(w->out, "}", 1);
}

int pw_json_dumpf(const json_t *doc, FILE *out, size_t flags) {
  char *text = pw_json_dumps(doc, flags);
  size_t len;
  int rc = 0;

  if (text == NULL)
    return -1;
  len = strlen(text);
  if (len > 0 && fwrite(text, 1, len, out) != len)
    rc = -1;
  free(text);
  return rc;
}
