/*
 * json plugin: reads figures out of JSON responses with a subset of JSONPath (RFC 9535). A path
 * is `$` followed by segments: `.name`, `['name']` (or `["name"]`, any UTF-8 key, with JSON
 * escapes), `[n]` (negative n counts from the end), and filters `[?@.key=='text']` /
 * `[?@.key==number]` that keep the elements of an array (or the member values of an object)
 * whose member equals the literal; paths go on after a filter, and several filters may follow
 * each other. The body is parsed once with jansson (strict: NaN, trailing garbage and truncated
 * input are errors), then every path is evaluated against it and must select at most one node:
 * a number, a string or null.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pw_plugin.h"

/* Paths come from the configuration, but parse() must hold for arbitrary paths too: a bound on
 * the number of segments bounds the recursion of the evaluator. */
#define JP_MAX_STEPS 128
/* Locations only appear in error messages, so a long one is cut short rather than grown. */
#define JP_LOC_MAX 256
/* RFC 9535 limits indices to the exact integers of I-JSON, +/-(2^53 - 1). */
#define JP_MAX_INDEX 9007199254740991LL

static const struct pw_plugin_host *json_host;

enum jp_kind { JP_NAME, JP_INDEX, JP_FILTER };

struct jp_step {
  enum jp_kind kind;
  char *name;    /* JP_NAME: the member name (owned) */
  int64_t index; /* JP_INDEX: a negative index counts from the end */
  /* JP_FILTER: `@` followed by REL (names and indices only), compared with a literal. */
  struct jp_step *rel;
  size_t nrel;
  int lit_is_string;
  char *lit_str; /* owned */
  size_t lit_len;
  double lit_num;
  int lit_is_int; /* the literal is written as an integer that fits json_int_t */
  json_int_t lit_int;
};

struct jp_path {
  struct jp_step *steps;
  size_t n;
};

struct jp_parser {
  const char *s;
  size_t pos;
  char *err;
  size_t errlen;
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

static int jp_fail(struct jp_parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every syntax error names the path and the (1-based) character where it was found. */
static int jp_fail(struct jp_parser *p, size_t at, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  set_err(p->err, p->errlen, "bad path '%s': %s at character %zu", p->s, msg, at + 1);
  return -EINVAL;
}

static int jp_nomem(struct jp_parser *p) {
  set_err(p->err, p->errlen, "out of memory");
  return -ENOMEM;
}

static void jp_step_free(struct jp_step *st) {
  free(st->name);
  free(st->lit_str);
  for (size_t i = 0; i < st->nrel; i++)
    jp_step_free(&st->rel[i]);
  free(st->rel);
  memset(st, 0, sizeof *st);
}

static void jp_path_free(struct jp_path *path) {
  for (size_t i = 0; i < path->n; i++)
    jp_step_free(&path->steps[i]);
  free(path->steps);
  path->steps = NULL;
  path->n = 0;
}

static int is_alpha(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static void skip_blanks(struct jp_parser *p) {
  while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
         p->s[p->pos] == '\r')
    p->pos++;
}

/* Describes the character at AT for an error message without printing raw control bytes. */
static const char *jp_char_name(const char *s, size_t at, char *buf, size_t buflen) {
  unsigned char c = (unsigned char)s[at];
  if (c == 0)
    snprintf(buf, buflen, "end of path");
  else if (c >= 0x20 && c < 0x7f)
    snprintf(buf, buflen, "'%c'", c);
  else
    snprintf(buf, buflen, "byte 0x%02x", c);
  return buf;
}

static int hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static size_t utf8_put(char *out, unsigned cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Reads a quoted string ('...' or "...") with the escapes of RFC 9535 (those of JSON plus \'),
 * so that any key can be written. A NUL is refused: jansson refuses it in the body anyway. */
static int jp_string(struct jp_parser *p, char **out, size_t *out_len) {
  const char *s = p->s;
  size_t start = p->pos;
  char q = s[p->pos++];
  /* Escapes only shrink the text, so the rest of the path bounds the result. */
  char *buf = malloc(strlen(s + p->pos) + 1);
  size_t len = 0;
  if (!buf)
    return jp_nomem(p);
  for (;;) {
    char c = s[p->pos];
    if (c == 0) {
      free(buf);
      return jp_fail(p, start, "unterminated string");
    }
    if (c == q) {
      p->pos++;
      break;
    }
    if (c != '\\') {
      buf[len++] = c;
      p->pos++;
      continue;
    }
    char e = s[p->pos + 1];
    size_t esc = p->pos;
    p->pos += 2;
    switch (e) {
    case '\'':
    case '"':
    case '\\':
    case '/':
      buf[len++] = e;
      break;
    case 'b':
      buf[len++] = '\b';
      break;
    case 'f':
      buf[len++] = '\f';
      break;
    case 'n':
      buf[len++] = '\n';
      break;
    case 'r':
      buf[len++] = '\r';
      break;
    case 't':
      buf[len++] = '\t';
      break;
    case 'u': {
      unsigned cp, lo;
      if (hex4(s + p->pos, &cp) < 0) {
        free(buf);
        return jp_fail(p, esc, "\\u needs four hexadecimal digits");
      }
      p->pos += 4;
      if (cp >= 0xdc00 && cp <= 0xdfff) {
        free(buf);
        return jp_fail(p, esc, "lone low surrogate");
      }
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (s[p->pos] != '\\' || s[p->pos + 1] != 'u' || hex4(s + p->pos + 2, &lo) < 0 ||
            lo < 0xdc00 || lo > 0xdfff) {
          free(buf);
          return jp_fail(p, esc, "high surrogate without a low surrogate");
        }
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      if (cp == 0) {
        free(buf);
        return jp_fail(p, esc, "\\u0000 is not allowed");
      }
      len += utf8_put(buf + len, cp);
      break;
    }
    case 0:
      free(buf);
      return jp_fail(p, start, "unterminated string");
    default: {
      char cn[24];
      free(buf);
      return jp_fail(p, esc, "unknown escape '\\' followed by %s",
                     jp_char_name(s, esc + 1, cn, sizeof cn));
    }
    }
  }
  buf[len] = 0;
  *out = buf;
  *out_len = len;
  return 0;
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

/* `.name`: ASCII letters, digits and '_' (not first), and any non-ASCII byte, so that Chinese
 * keys need no brackets. Other keys are written `['name']`. */
static int jp_dot_name(struct jp_parser *p, struct jp_step *st) {
  const char *s = p->s;
  unsigned char c = (unsigned char)s[p->pos];
  char cn[24];
  if (c == '.')
    return jp_fail(p, p->pos - 1, "descendant segments '..' are not supported");
  if (c == '*')
    return jp_fail(p, p->pos, "wildcards '*' are not supported");
  if (!is_alpha(c) && c < 0x80)
    return jp_fail(p, p->pos, "expected a member name after '.', found %s",
                   jp_char_name(s, p->pos, cn, sizeof cn));
  size_t start = p->pos;
  while (is_alpha((unsigned char)s[p->pos]) || is_digit((unsigned char)s[p->pos]) ||
         (unsigned char)s[p->pos] >= 0x80)
    p->pos++;
  st->kind = JP_NAME;
  st->name = dup_n(s + start, p->pos - start);
  return st->name ? 0 : jp_nomem(p);
}

/* An index per RFC 9535: no leading zeros, no "-0", within the exact range of a double. */
static int jp_index(struct jp_parser *p, struct jp_step *st) {
  const char *s = p->s;
  size_t start = p->pos;
  int neg = 0;
  if (s[p->pos] == '-') {
    neg = 1;
    p->pos++;
  }
  if (!is_digit((unsigned char)s[p->pos]))
    return jp_fail(p, p->pos, "expected a digit");
  if (s[p->pos] == '0' && is_digit((unsigned char)s[p->pos + 1]))
    return jp_fail(p, start, "an index has no leading zeros");
  int64_t v = 0;
  while (is_digit((unsigned char)s[p->pos])) {
    v = v * 10 + (s[p->pos] - '0');
    if (v > JP_MAX_INDEX)
      return jp_fail(p, start, "index out of range");
    p->pos++;
  }
  if (neg && v == 0)
    return jp_fail(p, start, "-0 is not an index");
  st->kind = JP_INDEX;
  st->index = neg ? -v : v;
  return 0;
}

/* A number literal of a filter, in JSON's syntax (leading zeros tolerated). Integers are kept
 * exactly as well, so that large JSON integers compare exactly. */
static int jp_number(struct jp_parser *p, struct jp_step *st) {
  const char *s = p->s;
  size_t start = p->pos;
  int is_int = 1;
  if (s[p->pos] == '-')
    p->pos++;
  if (!is_digit((unsigned char)s[p->pos]))
    return jp_fail(p, p->pos, "expected a digit");
  while (is_digit((unsigned char)s[p->pos]))
    p->pos++;
  if (s[p->pos] == '.') {
    is_int = 0;
    p->pos++;
    if (!is_digit((unsigned char)s[p->pos]))
      return jp_fail(p, p->pos, "expected a digit after '.'");
    while (is_digit((unsigned char)s[p->pos]))
      p->pos++;
  }
  if (s[p->pos] == 'e' || s[p->pos] == 'E') {
    is_int = 0;
    p->pos++;
    if (s[p->pos] == '+' || s[p->pos] == '-')
      p->pos++;
    if (!is_digit((unsigned char)s[p->pos]))
      return jp_fail(p, p->pos, "expected a digit in the exponent");
    while (is_digit((unsigned char)s[p->pos]))
      p->pos++;
  }
  char tok[64];
  size_t n = p->pos - start;
  if (n >= sizeof tok)
    return jp_fail(p, start, "number too long");
  memcpy(tok, s + start, n);
  tok[n] = 0;
  char *end;
  errno = 0;
  double d = strtod(tok, &end);
  if (*end != 0 || !isfinite(d))
    return jp_fail(p, start, "number out of range");
  st->lit_num = d;
  st->lit_is_int = 0;
  if (is_int) {
    errno = 0;
    long long ll = strtoll(tok, &end, 10);
    if (errno == 0 && *end == 0) {
      st->lit_is_int = 1;
      st->lit_int = (json_int_t)ll;
    }
  }
  return 0;
}

static int jp_segment(struct jp_parser *p, struct jp_step *st, int in_filter);

static int jp_push(struct jp_parser *p, struct jp_step **steps, size_t *n, size_t *cap,
                   int in_filter) {
  if (*n >= JP_MAX_STEPS)
    return jp_fail(p, p->pos, "more than %d segments", JP_MAX_STEPS);
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    struct jp_step *ns = realloc(*steps, ncap * sizeof *ns);
    if (!ns)
      return jp_nomem(p);
    *steps = ns;
    *cap = ncap;
  }
  struct jp_step *st = &(*steps)[*n];
  memset(st, 0, sizeof *st);
  int rc = jp_segment(p, st, in_filter);
  if (rc < 0) {
    jp_step_free(st);
    return rc;
  }
  (*n)++;
  return 0;
}

/* `?@.key == literal` inside a bracket opened at OPEN. One optional pair of parentheses is
 * accepted because `[?(@.key=='x')]` is how many other JSONPath dialects write it. */
static int jp_filter(struct jp_parser *p, struct jp_step *st, size_t open) {
  const char *s = p->s;
  char cn[24];
  int rc;
  size_t cap = 0;
  int paren = 0;
  st->kind = JP_FILTER;
  p->pos++; /* '?' */
  skip_blanks(p);
  if (s[p->pos] == '(') {
    paren = 1;
    p->pos++;
    skip_blanks(p);
  }
  if (s[p->pos] == 0)
    return jp_fail(p, open, "unterminated bracket");
  if (s[p->pos] != '@')
    return jp_fail(p, p->pos,
                   "a filter compares a member of '@' (as in [?@.key=='text']), found %s",
                   jp_char_name(s, p->pos, cn, sizeof cn));
  p->pos++;
  while (s[p->pos] == '.' || s[p->pos] == '[') {
    rc = jp_push(p, &st->rel, &st->nrel, &cap, 1);
    if (rc < 0)
      return rc;
  }
  if (st->nrel == 0)
    return jp_fail(p, p->pos, "expected a member after '@' (as in [?@.key=='text'])");
  skip_blanks(p);
  if (s[p->pos] == 0)
    return jp_fail(p, open, "unterminated bracket");
  if (s[p->pos] == '=' && s[p->pos + 1] == '=') {
    p->pos += 2;
  } else if (strchr("!<>=", s[p->pos])) {
    return jp_fail(p, p->pos, "only '==' comparisons are supported");
  } else {
    return jp_fail(p, p->pos, "expected '==' in filter, found %s",
                   jp_char_name(s, p->pos, cn, sizeof cn));
  }
  skip_blanks(p);
  char c = s[p->pos];
  if (c == '\'' || c == '"') {
    st->lit_is_string = 1;
    rc = jp_string(p, &st->lit_str, &st->lit_len);
  } else if (c == '-' || is_digit((unsigned char)c)) {
    rc = jp_number(p, st);
  } else if (c == 0) {
    rc = jp_fail(p, open, "unterminated bracket");
  } else {
    rc = jp_fail(p, p->pos, "expected a string or number after '==', found %s",
                 jp_char_name(s, p->pos, cn, sizeof cn));
  }
  if (rc < 0)
    return rc;
  skip_blanks(p);
  if (s[p->pos] == '&' || s[p->pos] == '|')
    return jp_fail(p, p->pos, "only one comparison per filter is supported");
  if (paren) {
    if (s[p->pos] == 0)
      return jp_fail(p, open, "unterminated bracket");
    if (s[p->pos] != ')')
      return jp_fail(p, p->pos, "expected ')', found %s", jp_char_name(s, p->pos, cn, sizeof cn));
    p->pos++;
  }
  return 0;
}

/* One segment starting at '.' or '['. Inside a filter (IN_FILTER) only names and indices. */
static int jp_segment(struct jp_parser *p, struct jp_step *st, int in_filter) {
  const char *s = p->s;
  char cn[24];
  int rc;
  if (s[p->pos] == '.') {
    p->pos++;
    return jp_dot_name(p, st);
  }
  if (s[p->pos] != '[')
    return jp_fail(p, p->pos, "expected '.' or '[', found %s",
                   jp_char_name(s, p->pos, cn, sizeof cn));
  size_t open = p->pos++;
  skip_blanks(p);
  char c = s[p->pos];
  if (c == '\'' || c == '"') {
    size_t len;
    st->kind = JP_NAME;
    rc = jp_string(p, &st->name, &len);
  } else if (c == '-' || is_digit((unsigned char)c)) {
    rc = jp_index(p, st);
  } else if (c == '?') {
    if (in_filter)
      return jp_fail(p, p->pos, "a filter inside a filter is not supported");
    rc = jp_filter(p, st, open);
  } else if (c == 0) {
    return jp_fail(p, open, "unterminated bracket");
  } else if (c == '*') {
    return jp_fail(p, p->pos, "wildcards '*' are not supported");
  } else if (c == ':') {
    return jp_fail(p, p->pos, "slices are not supported");
  } else {
    return jp_fail(p, p->pos, "expected a quoted name, an index or a filter, found %s",
                   jp_char_name(s, p->pos, cn, sizeof cn));
  }
  if (rc < 0)
    return rc;
  skip_blanks(p);
  c = s[p->pos];
  if (c == 0)
    return jp_fail(p, open, "unterminated bracket");
  if (c == ',')
    return jp_fail(p, p->pos, "unions (',') are not supported");
  if (c == ':')
    return jp_fail(p, p->pos, "slices are not supported");
  if (c != ']')
    return jp_fail(p, p->pos, "expected ']', found %s", jp_char_name(s, p->pos, cn, sizeof cn));
  p->pos++;
  return 0;
}

static int jp_compile(const char *path, struct jp_path *out, char *err, size_t errlen) {
  struct jp_parser p = {.s = path, .pos = 0, .err = err, .errlen = errlen};
  size_t cap = 0;
  memset(out, 0, sizeof *out);
  if (!path) {
    set_err(err, errlen, "no path");
    return -EINVAL;
  }
  if (path[0] != '$')
    return jp_fail(&p, 0, "a path starts with '$'");
  p.pos = 1;
  while (path[p.pos]) {
    int rc = jp_push(&p, &out->steps, &out->n, &cap, 0);
    if (rc < 0) {
      jp_path_free(out);
      return rc;
    }
  }
  return 0;
}

/* Evaluation walks the tree along the steps, depth first, so that results come in document
 * order; the recursion depth is the number of steps (at most JP_MAX_STEPS). */
struct jp_eval {
  const struct jp_path *path;
  size_t count;
  json_t *first;
  char loc[JP_LOC_MAX];
  size_t loc_len;
  int loc_cut; /* the location did not fit in LOC */
  char found[2][JP_LOC_MAX + 4];
};

struct jp_mark {
  size_t len;
  int cut;
};

static void loc_add(struct jp_eval *ev, const char *s, size_t n) {
  if (ev->loc_cut || ev->loc_len + n >= sizeof ev->loc) {
    ev->loc_cut = 1;
    return;
  }
  memcpy(ev->loc + ev->loc_len, s, n);
  ev->loc_len += n;
  ev->loc[ev->loc_len] = 0;
}

/* Locations are written as RFC 9535 normalized paths: $['items'][0]['value']. */
static void loc_name(struct jp_eval *ev, const char *name) {
  loc_add(ev, "['", 2);
  for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
    char esc[8];
    if (*c == '\'' || *c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*c;
      loc_add(ev, esc, 2);
    } else if (*c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *c);
      loc_add(ev, esc, 6);
    } else {
      loc_add(ev, (const char *)c, 1);
    }
  }
  loc_add(ev, "']", 2);
}

static void loc_index(struct jp_eval *ev, size_t i) {
  char b[32];
  int n = snprintf(b, sizeof b, "[%zu]", i);
  loc_add(ev, b, (size_t)n);
}

static struct jp_mark loc_mark(const struct jp_eval *ev) {
  struct jp_mark m = {ev->loc_len, ev->loc_cut};
  return m;
}

static void loc_reset(struct jp_eval *ev, struct jp_mark m) {
  ev->loc_len = m.len;
  ev->loc_cut = m.cut;
  ev->loc[m.len] = 0;
}

static json_t *jp_child(const struct jp_step *st, json_t *node, size_t *index) {
  if (st->kind == JP_NAME)
    return json_is_object(node) ? json_object_get(node, st->name) : NULL;
  if (!json_is_array(node))
    return NULL;
  size_t size = json_array_size(node);
  int64_t i = st->index;
  if (i < 0) {
    if ((uint64_t)(-i) > size)
      return NULL;
    i += (int64_t)size;
  } else if ((uint64_t)i >= size) {
    return NULL;
  }
  *index = (size_t)i;
  return json_array_get(node, (size_t)i);
}

static int jp_match(const struct jp_step *st, json_t *node) {
  json_t *v = node;
  size_t ignored;
  for (size_t i = 0; i < st->nrel && v; i++)
    v = jp_child(&st->rel[i], v, &ignored);
  if (!v)
    return 0;
  if (st->lit_is_string)
    return json_is_string(v) && json_string_length(v) == st->lit_len &&
           memcmp(json_string_value(v), st->lit_str, st->lit_len) == 0;
  if (st->lit_is_int && json_is_integer(v))
    return json_integer_value(v) == st->lit_int;
  /* Numbers compare by value, so the integer 1 equals the literal 1.0. */
  return json_is_number(v) && json_number_value(v) == st->lit_num;
}

static void jp_walk(struct jp_eval *ev, json_t *node, size_t k) {
  if (k == ev->path->n) {
    ev->count++;
    if (ev->count == 1)
      ev->first = node;
    if (ev->count <= 2)
      snprintf(ev->found[ev->count - 1], sizeof ev->found[0], "%s%s", ev->loc,
               ev->loc_cut ? "..." : "");
    return;
  }
  const struct jp_step *st = &ev->path->steps[k];
  struct jp_mark m = loc_mark(ev);
  if (st->kind == JP_NAME || st->kind == JP_INDEX) {
    size_t index = 0;
    json_t *child = jp_child(st, node, &index);
    if (!child)
      return;
    if (st->kind == JP_NAME)
      loc_name(ev, st->name);
    else
      loc_index(ev, index);
    jp_walk(ev, child, k + 1);
    loc_reset(ev, m);
  } else if (json_is_array(node)) {
    size_t i;
    json_t *elem;
    json_array_foreach(node, i, elem) {
      if (jp_match(st, elem)) {
        loc_index(ev, i);
        jp_walk(ev, elem, k + 1);
        loc_reset(ev, m);
      }
    }
  } else if (json_is_object(node)) {
    const char *key;
    json_t *val;
    json_object_foreach(node, key, val) {
      if (jp_match(st, val)) {
        loc_name(ev, key);
        jp_walk(ev, val, k + 1);
        loc_reset(ev, m);
      }
    }
  }
}

/* Formats a double so that it reads back exactly, in as few digits as possible, and without an
 * exponent in the range figures live in (1e3 is written 1000), since the text is shown to
 * people and read by the host's figure parser. */
static void shortest_double(double d, char *buf, size_t buflen) {
  double a = fabs(d);
  if (a >= 1e-5 && a < 1e17) {
    for (int decimals = 0; decimals <= 22; decimals++) {
      snprintf(buf, buflen, "%.*f", decimals, d);
      if (strtod(buf, NULL) == d)
        return;
    }
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, buflen, "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      return;
  }
}

static void jp_emit_one(json_t *root, const char *path, size_t index, pw_plugin_emit_cb emit,
                        void *ctx) {
  struct pw_plugin_value v = {0};
  char msg[JP_LOC_MAX * 2 + 300];
  char num[64];
  struct jp_path jp;
  int rc = jp_compile(path, &jp, msg, sizeof msg);
  if (rc < 0) {
    v.result = PW_PLUGIN_ERROR;
    v.error = msg;
    emit(ctx, index, &v);
    return;
  }
  struct jp_eval *ev = calloc(1, sizeof *ev);
  if (!ev) {
    jp_path_free(&jp);
    v.result = PW_PLUGIN_ERROR;
    v.error = "out of memory";
    emit(ctx, index, &v);
    return;
  }
  ev->path = &jp;
  loc_add(ev, "$", 1);
  jp_walk(ev, root, 0);

  if (ev->count == 0) {
    v.result = PW_PLUGIN_NOT_FOUND;
  } else if (ev->count > 1) {
    snprintf(msg, sizeof msg, "path selects %zu nodes: %s, %s%s", ev->count, ev->found[0],
             ev->found[1], ev->count > 2 ? ", ..." : "");
    v.result = PW_PLUGIN_ERROR;
    v.error = msg;
  } else {
    json_t *n = ev->first;
    switch (json_typeof(n)) {
    case JSON_NULL:
      v.result = PW_PLUGIN_NULL;
      break;
    case JSON_INTEGER:
      /* Printed exactly: an as_of may be epoch seconds written as a JSON integer. */
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
      v.result = PW_PLUGIN_NUMBER;
      v.number = (double)json_integer_value(n);
      v.text = num;
      v.text_len = strlen(num);
      break;
    case JSON_REAL:
      shortest_double(json_real_value(n), num, sizeof num);
      v.result = PW_PLUGIN_NUMBER;
      v.number = json_real_value(n);
      v.text = num;
      v.text_len = strlen(num);
      break;
    case JSON_STRING:
      v.result = PW_PLUGIN_TEXT;
      v.text = json_string_value(n);
      v.text_len = json_string_length(n);
      break;
    case JSON_TRUE:
    case JSON_FALSE:
      snprintf(msg, sizeof msg, "path selects a boolean (%s), not a number or text at %s",
               json_is_true(n) ? "true" : "false", ev->found[0]);
      v.result = PW_PLUGIN_ERROR;
      v.error = msg;
      break;
    case JSON_OBJECT:
    case JSON_ARRAY:
      snprintf(msg, sizeof msg, "path selects %s, not a value, at %s",
               json_is_object(n) ? "an object" : "an array", ev->found[0]);
      v.result = PW_PLUGIN_ERROR;
      v.error = msg;
      break;
    }
  }
  emit(ctx, index, &v);
  free(ev);
  jp_path_free(&jp);
}

static int json_check_path(const char *path, char *err, size_t errlen) {
  struct jp_path jp;
  int rc = jp_compile(path, &jp, err, errlen);
  if (rc == 0)
    jp_path_free(&jp);
  return rc;
}

static int json_parse(const struct pw_plugin_options *opts, const char *body, size_t len,
                      const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx,
                      char *err, size_t errlen) {
  json_error_t jerr;
  if ((!body && len) || (!paths && n) || !emit) {
    set_err(err, errlen, "JSON: bad arguments");
    return -EINVAL;
  }
  /* json_loadb is bounded by LEN: the body needs no terminating NUL. JSON_DECODE_ANY lets a
   * bare scalar be a document. jansson limits nesting to 2048 levels, so a hostile body cannot
   * exhaust the stack. */
  json_t *root = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &jerr);
  if (!root) {
    set_err(err, errlen, "JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
  }
  for (size_t i = 0; i < n; i++)
    jp_emit_one(root, paths[i], i, emit, ctx);
  json_decref(root);
  return 0;
}

static const struct pw_plugin json_plugin = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin),
    .name = "json",
    .check_path = json_check_path,
    .parse = json_parse,
};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  /* Kept only for logging; the parser itself needs nothing from the host. */
  json_host = host;
  return &json_plugin;
}
