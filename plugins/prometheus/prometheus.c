/*
 * prometheus plugin: reads figures out of the Prometheus text exposition format 0.0.4 (what
 * /metrics endpoints serve). A path is a series selector, `name` or `name{label="value",...}`,
 * that must match exactly one sample: one whose name is NAME and which has every given label
 * with exactly the given value (other labels may be present). The sample's value is returned as
 * a number (NaN and infinities included: the host rejects them as bad samples), with the
 * sample's own timestamp in milliseconds when it has one. Comments, # HELP and # TYPE lines are
 * ignored; any other line that is not a well-formed sample makes the body unparseable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_plugin.h"

/* Series named in "matches several samples" messages are cut to this length. */
#define PROM_SERIES_MAX 200
#define PROM_MAX_FOUND 3

static const struct pw_plugin_host *prom_host;

struct prom_label {
  const char *name;
  size_t name_len;
  const char *value; /* unescaped, in a scratch buffer */
  size_t value_len;
};

/* A sample's series or a selector: a metric name and labels. */
struct prom_series {
  const char *name;
  size_t name_len;
  struct prom_label *labels;
  size_t nlabels, cap;
};

struct prom_query {
  int ok;
  struct prom_series sel;
  char *scratch; /* the selector's unescaped label values */
  char msg[PROM_SERIES_MAX * PROM_MAX_FOUND + 300];
  size_t count;
  double value;
  const char *vtext; /* into the body */
  size_t vlen;
  int has_ts;
  int64_t ts;
  char found[PROM_MAX_FOUND][PROM_SERIES_MAX + 4];
};

/* Where a series is read from: a line of the body, or a selector. */
struct prom_cursor {
  const char *s;
  size_t pos, end;
  char *scratch; /* at least END bytes */
  size_t scratch_len;
  char msg[160]; /* what went wrong, at POS */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int cur_fail(struct prom_cursor *c, const char *what) {
  snprintf(c->msg, sizeof c->msg, "%s", what);
  return -EINVAL;
}

static int is_name_start(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static void skip_blanks(struct prom_cursor *c) {
  while (c->pos < c->end && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t'))
    c->pos++;
}

static int add_label(struct prom_series *se, const char *name, size_t name_len, const char *value,
                     size_t value_len) {
  if (se->nlabels == se->cap) {
    size_t ncap = se->cap ? se->cap * 2 : 8;
    struct prom_label *nl = realloc(se->labels, ncap * sizeof *nl);
    if (!nl)
      return -ENOMEM;
    se->labels = nl;
    se->cap = ncap;
  }
  struct prom_label *l = &se->labels[se->nlabels++];
  l->name = name;
  l->name_len = name_len;
  l->value = value;
  l->value_len = value_len;
  return 0;
}

/* Reads `name` or `name{label="value",...}` (a trailing comma is allowed, as in the format's
 * grammar). Label values are unescaped (\\, \" and \n) into C->scratch. */
static int prom_read_series(struct prom_cursor *c, struct prom_series *se) {
  const char *s = c->s;
  se->nlabels = 0;
  size_t start = c->pos;
  if (c->pos >= c->end || (!is_name_start((unsigned char)s[c->pos]) && s[c->pos] != ':'))
    return cur_fail(c, "expected a metric name");
  while (c->pos < c->end && (is_name_start((unsigned char)s[c->pos]) ||
                             is_digit((unsigned char)s[c->pos]) || s[c->pos] == ':'))
    c->pos++;
  se->name = s + start;
  se->name_len = c->pos - start;
  skip_blanks(c);
  if (c->pos >= c->end || s[c->pos] != '{')
    return 0;
  c->pos++;
  for (;;) {
    skip_blanks(c);
    if (c->pos >= c->end)
      return cur_fail(c, "unterminated label set (expected '}')");
    if (s[c->pos] == '}') {
      c->pos++;
      return 0;
    }
    size_t lstart = c->pos;
    if (!is_name_start((unsigned char)s[c->pos]))
      return cur_fail(c, "expected a label name");
    while (c->pos < c->end &&
           (is_name_start((unsigned char)s[c->pos]) || is_digit((unsigned char)s[c->pos])))
      c->pos++;
    size_t lname_len = c->pos - lstart;
    skip_blanks(c);
    if (c->pos < c->end &&
        (s[c->pos] == '!' || (s[c->pos] == '=' && c->pos + 1 < c->end && s[c->pos + 1] == '~')))
      return cur_fail(c, "only '=' label matchers are supported");
    if (c->pos >= c->end || s[c->pos] != '=')
      return cur_fail(c, "expected '=' after the label name");
    c->pos++;
    skip_blanks(c);
    if (c->pos >= c->end || s[c->pos] != '"')
      return cur_fail(c, "expected '\"' to open the label value");
    c->pos++;
    char *v = c->scratch + c->scratch_len;
    size_t vlen = 0;
    for (;;) {
      if (c->pos >= c->end)
        return cur_fail(c, "unterminated label value");
      char ch = s[c->pos];
      if (ch == '"') {
        c->pos++;
        break;
      }
      if (ch == '\\') {
        if (c->pos + 1 >= c->end)
          return cur_fail(c, "unterminated label value");
        char e = s[c->pos + 1];
        if (e == 'n')
          v[vlen++] = '\n';
        else if (e == '\\' || e == '"')
          v[vlen++] = e;
        else
          return cur_fail(c, "unknown escape in label value (only \\\\, \\\" and \\n)");
        c->pos += 2;
        continue;
      }
      v[vlen++] = ch;
      c->pos++;
    }
    c->scratch_len += vlen;
    for (size_t i = 0; i < se->nlabels; i++)
      if (se->labels[i].name_len == lname_len &&
          memcmp(se->labels[i].name, s + lstart, lname_len) == 0)
        return cur_fail(c, "a label appears twice");
    if (add_label(se, s + lstart, lname_len, v, vlen) < 0)
      return -ENOMEM;
    skip_blanks(c);
    if (c->pos < c->end && s[c->pos] == ',') {
      c->pos++;
      continue;
    }
    if (c->pos < c->end && s[c->pos] == '}') {
      c->pos++;
      return 0;
    }
    if (c->pos >= c->end)
      return cur_fail(c, "unterminated label set (expected '}')");
    return cur_fail(c, "expected ',' or '}' after a label");
  }
}

/* Appends to a bounded text, ending it with "..." when it does not fit. */
static void text_add(char *out, size_t cap, size_t *len, const char *s, size_t n) {
  if (*len + 4 >= cap)
    return;
  if (*len + n + 4 >= cap) {
    n = cap - *len - 4;
    memcpy(out + *len, s, n);
    memcpy(out + *len + n, "...", 4);
    *len = cap - 1;
    return;
  }
  memcpy(out + *len, s, n);
  *len += n;
  out[*len] = 0;
}

/* Writes a series back in the exposition's syntax, for error messages. */
static void prom_format(const struct prom_series *se, char *out, size_t cap) {
  size_t len = 0;
  out[0] = 0;
  text_add(out, cap, &len, se->name, se->name_len);
  if (se->nlabels == 0)
    return;
  text_add(out, cap, &len, "{", 1);
  for (size_t i = 0; i < se->nlabels; i++) {
    const struct prom_label *l = &se->labels[i];
    if (i > 0)
      text_add(out, cap, &len, ",", 1);
    text_add(out, cap, &len, l->name, l->name_len);
    text_add(out, cap, &len, "=\"", 2);
    for (size_t k = 0; k < l->value_len; k++) {
      char ch = l->value[k];
      if (ch == '\n')
        text_add(out, cap, &len, "\\n", 2);
      else if (ch == '\\' || ch == '"')
        text_add(out, cap, &len, ch == '"' ? "\\\"" : "\\\\", 2);
      else
        text_add(out, cap, &len, &ch, 1);
    }
    text_add(out, cap, &len, "\"", 1);
  }
  text_add(out, cap, &len, "}", 1);
}

static int prom_matches(const struct prom_series *sel, const struct prom_series *se) {
  if (sel->name_len != se->name_len || memcmp(sel->name, se->name, se->name_len) != 0)
    return 0;
  for (size_t i = 0; i < sel->nlabels; i++) {
    const struct prom_label *want = &sel->labels[i];
    size_t k;
    for (k = 0; k < se->nlabels; k++) {
      const struct prom_label *l = &se->labels[k];
      if (l->name_len == want->name_len && memcmp(l->name, want->name, l->name_len) == 0)
        break;
    }
    if (k == se->nlabels || se->labels[k].value_len != want->value_len ||
        memcmp(se->labels[k].value, want->value, want->value_len) != 0)
      return 0;
  }
  return 1;
}

/* Compiles a selector into Q (which owns its scratch buffer and labels). */
static int prom_compile(const char *path, struct prom_query *q, char *err, size_t errlen) {
  if (!path) {
    set_err(err, errlen, "no path");
    return -EINVAL;
  }
  size_t n = strlen(path);
  struct prom_cursor c = {.s = path, .pos = 0, .end = n, .scratch = malloc(n + 1)};
  if (!c.scratch) {
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  q->scratch = c.scratch;
  skip_blanks(&c);
  int rc = prom_read_series(&c, &q->sel);
  if (rc == 0) {
    skip_blanks(&c);
    if (c.pos < c.end)
      rc = cur_fail(&c, "unexpected text after the selector");
  }
  if (rc == -ENOMEM)
    set_err(err, errlen, "out of memory");
  else if (rc < 0)
    set_err(err, errlen, "bad selector '%s': %s at character %zu", path, c.msg, c.pos + 1);
  return rc;
}

static void prom_query_free(struct prom_query *q) {
  free(q->sel.labels);
  free(q->scratch);
}

static int prom_check_path(const char *path, char *err, size_t errlen) {
  struct prom_query *q = calloc(1, sizeof *q);
  if (!q) {
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int rc = prom_compile(path, q, err, errlen);
  prom_query_free(q);
  free(q);
  return rc;
}

/* Reads a token (up to a blank) into BUF as a C string for strtod/strtoll. */
static int prom_token(struct prom_cursor *c, char *buf, size_t cap, const char **start, size_t *n) {
  *start = c->s + c->pos;
  while (c->pos < c->end && c->s[c->pos] != ' ' && c->s[c->pos] != '\t')
    c->pos++;
  *n = (size_t)(c->s + c->pos - *start);
  if (*n == 0 || *n >= cap || memchr(*start, 0, *n))
    return -1;
  memcpy(buf, *start, *n);
  buf[*n] = 0;
  return 0;
}

/* Parses one sample line [C->pos, C->end) and offers it to every query. strtod accepts the
 * format's NaN, +Inf and -Inf (and any case of them); it reads '.' as the decimal point because
 * pacewatch never changes LC_NUMERIC from "C". */
static int prom_sample(struct prom_cursor *c, struct prom_series *se, struct prom_query *qs,
                       size_t n) {
  char tok[128], *endp;
  const char *vtext, *ttext;
  size_t vlen, tlen;
  int rc = prom_read_series(c, se);
  if (rc < 0)
    return rc;
  skip_blanks(c);
  if (c->pos >= c->end)
    return cur_fail(c, "expected a value after the series");
  int bad = prom_token(c, tok, sizeof tok, &vtext, &vlen) < 0;
  double value = bad ? 0 : strtod(tok, &endp);
  if (bad || *endp != 0) {
    snprintf(c->msg, sizeof c->msg, "bad value '%.*s'", (int)(vlen < 40 ? vlen : 40), vtext);
    return -EINVAL;
  }
  int has_ts = 0;
  int64_t ts = 0;
  skip_blanks(c);
  if (c->pos < c->end) {
    if (prom_token(c, tok, sizeof tok, &ttext, &tlen) < 0 ||
        !(is_digit((unsigned char)tok[0]) || tok[0] == '-' || tok[0] == '+'))
      return cur_fail(c, "bad timestamp (expected integer milliseconds)");
    errno = 0;
    long long ll = strtoll(tok, &endp, 10);
    if (*endp != 0 || errno == ERANGE)
      return cur_fail(c, "bad timestamp (expected integer milliseconds)");
    has_ts = 1;
    ts = (int64_t)ll;
    skip_blanks(c);
    if (c->pos < c->end)
      return cur_fail(c, "unexpected text after the timestamp");
  }
  for (size_t i = 0; i < n; i++) {
    struct prom_query *q = &qs[i];
    if (!q->ok || !prom_matches(&q->sel, se))
      continue;
    if (q->count == 0) {
      q->value = value;
      q->vtext = vtext;
      q->vlen = vlen;
      q->has_ts = has_ts;
      q->ts = ts;
    }
    if (q->count < PROM_MAX_FOUND)
      prom_format(se, q->found[q->count], sizeof q->found[0]);
    q->count++;
  }
  return 0;
}

static int prom_scan(const char *body, size_t len, struct prom_query *qs, size_t n, char *err,
                     size_t errlen) {
  struct prom_series se = {0};
  /* Unescaped label values of one line are never longer than the line. */
  struct prom_cursor c = {.s = body, .scratch = malloc(len + 1)};
  size_t pos = 0, line = 0;
  int rc = 0;
  if (!c.scratch) {
    set_err(err, errlen, "prometheus: out of memory");
    return -ENOMEM;
  }
  if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
    pos = 3;
  while (pos < len) {
    const char *nl = memchr(body + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - body) : len, next = nl ? end + 1 : len;
    line++;
    if (end > pos && body[end - 1] == '\r')
      end--;
    c.pos = pos;
    c.end = end;
    c.scratch_len = 0;
    skip_blanks(&c);
    if (c.pos < c.end && body[c.pos] != '#') {
      rc = prom_sample(&c, &se, qs, n);
      if (rc == -ENOMEM) {
        set_err(err, errlen, "prometheus: out of memory");
        break;
      }
      if (rc < 0) {
        set_err(err, errlen, "prometheus: line %zu column %zu: %s", line, c.pos - pos + 1, c.msg);
        break;
      }
    }
    pos = next;
  }
  free(se.labels);
  free(c.scratch);
  return rc;
}

static int prom_parse(const struct pw_plugin_options *opts, const char *body, size_t len,
                      const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx,
                      char *err, size_t errlen) {
  if ((!body && len) || (!paths && n) || !emit) {
    set_err(err, errlen, "prometheus: bad arguments");
    return -EINVAL;
  }
  /* Selectors are compiled first, so the body is read once with all of them at hand. */
  struct prom_query *qs = calloc(n ? n : 1, sizeof *qs);
  if (!qs) {
    set_err(err, errlen, "prometheus: out of memory");
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    qs[i].ok = prom_compile(paths[i], &qs[i], qs[i].msg, sizeof qs[i].msg) == 0;
  int rc = prom_scan(body ? body : "", len, qs, n, err, errlen);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    struct prom_query *q = &qs[i];
    struct pw_plugin_value v = {0};
    if (!q->ok) {
      v.result = PW_PLUGIN_ERROR;
      v.error = q->msg;
    } else if (q->count == 0) {
      v.result = PW_PLUGIN_NOT_FOUND;
    } else if (q->count > 1) {
      size_t l =
          (size_t)snprintf(q->msg, sizeof q->msg, "selector matches %zu samples: ", q->count);
      for (size_t k = 0; k < q->count && k < PROM_MAX_FOUND && l < sizeof q->msg; k++)
        l += (size_t)snprintf(q->msg + l, sizeof q->msg - l, "%s%s", k ? ", " : "", q->found[k]);
      if (q->count > PROM_MAX_FOUND && l < sizeof q->msg)
        snprintf(q->msg + l, sizeof q->msg - l, ", ...");
      v.result = PW_PLUGIN_ERROR;
      v.error = q->msg;
    } else {
      v.result = PW_PLUGIN_NUMBER;
      v.number = q->value;
      v.text = q->vtext;
      v.text_len = q->vlen;
      v.has_timestamp = q->has_ts;
      v.timestamp_ms = q->ts;
    }
    emit(ctx, i, &v);
  }
  for (size_t i = 0; i < n; i++)
    prom_query_free(&qs[i]);
  free(qs);
  return rc;
}

static const struct pw_plugin prom_plugin = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin),
    .name = "prometheus",
    .check_path = prom_check_path,
    .parse = prom_parse,
};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  /* Kept only for logging; the parser itself needs nothing from the host. */
  prom_host = host;
  return &prom_plugin;
}
