/*
 * config_keys: the walker every section of the configuration is loaded with, and the readers
 * of values it uses. A section is a table of keys (name, type, where it goes, default, which
 * kinds it applies to, and the key's own function when it has a syntax or a rule of its own);
 * the walker applies a table to a group, so unknown keys, wrong types, missing required keys
 * and keys that do not apply to a kind are all caught in one place and reported as
 * "FILE:LINE: message". Strings may name environment variables (${NAME}).
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_loader.h"
#include "util.h"
#include "value.h"

static const char *setting_file(struct loader *ld, const config_setting_t *s) {
  const char *f = s ? config_setting_source_file(s) : NULL;

  return f ? f : ld->conf->path;
}

/* The file of setting S as a string the configuration owns: libconfig frees its own copy in
 * config_destroy, but sources and indicators keep naming their file for later messages. */
const char *pw_config_keep_file(struct loader *ld, const config_setting_t *s) {
  const char *f = setting_file(ld, s);

  if (strcmp(f, ld->conf->path) == 0)
    return ld->conf->path;
  return pw_config_strdup(ld, f);
}

/* Records the first error as "FILE:LINE: message"; later errors are dropped so the user
 * sees the one that stopped the load. Always returns -EINVAL. */
int pw_config_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...) {
  char msg[768];
  va_list ap;

  if (ld->failed)
    return -EINVAL;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(ld->err, ld->errlen, "%s:%d: %s", setting_file(ld, s),
           s ? (int)config_setting_source_line(s) : 0, msg);
  ld->failed = 1;
  return -EINVAL;
}

const char *pw_config_shown(const char *key, const char *value, char *buf, size_t len) {
  if (pw_config_key_is_secret(key))
    return "***";
  if (strcmp(key, "url") == 0 || strcmp(key, "proxy") == 0 || strcmp(key, "public_url") == 0 ||
      strstr(value, "://") != NULL) {
    pw_redact_url(value, buf, len);
    return buf;
  }
  return value;
}

/* The keys a lazy load may leave unresolved: those that carry a secret or an endpoint, which
 * only fetching, sending and serving use (docs/configuration.md#environment-variables). */
static int lazy_key(struct loader *ld, const char *key) {
  static const char *const keys[] = {
      "url",        "secret",      "password",      "username",        "proxy", "headers",
      "http_token", "secret_file", "password_file", "http_token_file", NULL};
  int i;

  if (!(ld->flags & PW_CONFIG_LAZY_SECRETS))
    return 0;
  for (i = 0; keys[i]; i++)
    if (strcmp(key, keys[i]) == 0)
      return 1;
  return 0;
}

/* Records VALUE (a string of the configuration) as unresolved, with why, at setting S. */
static int record_unresolved(struct loader *ld, const config_setting_t *s, const char *value,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int record_unresolved(struct loader *ld, const config_setting_t *s, const char *value,
                             const char *fmt, ...) {
  struct pw_config *c = ld->conf;
  struct pw_config_unresolved *u;
  char msg[768], why[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(why, sizeof(why), "%s:%d: %s", setting_file(ld, s),
           s ? (int)config_setting_source_line(s) : 0, msg);
  /* Few keys are ever unresolved: the array is copied whole into the arena on each one. */
  u = pw_config_alloc(ld, sizeof(*u) * (size_t)(c->n_unresolved + 1));
  if (u == NULL)
    return pw_config_fail(ld, s, "out of memory");
  if (c->n_unresolved > 0)
    memcpy(u, c->unresolved, sizeof(*u) * (size_t)c->n_unresolved);
  u[c->n_unresolved].value = value;
  u[c->n_unresolved].why = pw_config_strdup(ld, why);
  if (u[c->n_unresolved].why == NULL)
    return pw_config_fail(ld, s, "out of memory");
  c->unresolved = u;
  c->n_unresolved++;
  return 0;
}

/* Replaces ${NAME} by the environment variable NAME; "$${" writes a literal "${". The value of
 * key WHAT appears in messages only as pw_config_shown shows it. An unset variable fails the
 * load, or, in a lazy load, leaves a key of lazy_key as written and recorded as unresolved. */
static int substitute_env(struct loader *ld, const config_setting_t *s, const char *what,
                          const char *in, char **out) {
  char shown[512];

  struct pw_buf b = {NULL, 0, 0, 0};
  const char *p = in;
  int rc = 0;

  while (*p && rc == 0) {
    if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
      rc = pw_buf_append(&b, "${", 2);
      p += 3;
    } else if (p[0] == '$' && p[1] == '{') {
      const char *end = strchr(p + 2, '}');
      char name[256];
      const char *val;
      size_t n;
      if (end == NULL) {
        pw_buf_free(&b);
        return pw_config_fail(ld, s, "unterminated ${ in \"%s\" (write $${ for a literal ${)",
                              pw_config_shown(what, in, shown, sizeof(shown)));
      }
      n = (size_t)(end - p - 2);
      if (n == 0 || n >= sizeof(name)) {
        pw_buf_free(&b);
        return pw_config_fail(ld, s, "bad environment variable name in \"%s\"",
                              pw_config_shown(what, in, shown, sizeof(shown)));
      }
      memcpy(name, p + 2, n);
      name[n] = '\0';
      val = getenv(name);
      if (val == NULL && lazy_key(ld, what)) {
        pw_buf_free(&b);
        *out = pw_config_strdup(ld, in);
        if (*out == NULL)
          return pw_config_fail(ld, s, "out of memory");
        return record_unresolved(ld, s, *out, "environment variable %s is not set (%s)", name,
                                 what);
      }
      if (val == NULL) {
        pw_buf_free(&b);
        return pw_config_fail(ld, s, "environment variable %s is not set", name);
      }
      rc = pw_buf_append(&b, val, strlen(val));
      p = end + 1;
    } else {
      rc = pw_buf_append(&b, p, 1);
      p++;
    }
  }
  if (rc == 0 && b.data == NULL)
    rc = pw_buf_append(&b, "", 0);
  if (rc < 0) {
    pw_buf_free(&b);
    return pw_config_fail(ld, s, "out of memory");
  }
  *out = pw_config_strdup(ld, b.data);
  pw_buf_free(&b);
  return *out ? 0 : pw_config_fail(ld, s, "out of memory");
}

int pw_config_read_string(struct loader *ld, const config_setting_t *s, const char *what,
                          char **out) {
  const char *v;

  if (config_setting_type(s) != CONFIG_TYPE_STRING)
    return pw_config_fail(ld, s, "%s must be a string", what);
  v = config_setting_get_string(s);
  if (!pw_utf8_valid(v, strlen(v)))
    return pw_config_fail(ld, s, "%s is not valid UTF-8", what);
  return substitute_env(ld, s, what, v, out);
}

/* A secret is at most this long: a token, a password, a signing secret. */
#define SECRET_FILE_MAX 65536

int pw_config_key_secret_file(struct loader *ld, const struct item *it, const struct key_spec *k,
                              const config_setting_t *s) {
  char plain[32], *path, *abs, *data = NULL;
  size_t len = 0, n = strlen(k->name);
  int rc;

  if (s == NULL)
    return 0;
  snprintf(plain, sizeof(plain), "%.*s", (int)(n > 5 ? n - 5 : 0), k->name);
  if (pw_config_member(it, plain) != NULL)
    return pw_config_fail(ld, s, "%s: write either %s or %s, not both", it->what, plain, k->name);
  if (pw_config_read_string(ld, s, k->name, &path) < 0)
    return -EINVAL;
  if (pw_config_is_unresolved(ld->conf, path)) {
    /* Its ${NAME} is unset (lazy load): the secret is as unresolved as its path. */
    *FIELD(it, k, char *) = path;
    return 0;
  }
  abs = pw_path_join(ld->conf->dir, path);
  if (abs == NULL)
    return pw_config_fail(ld, s, "out of memory");
  rc = pw_read_file(abs, SECRET_FILE_MAX, &data, &len);
  if (rc == 0 && len > 0 && data[len - 1] == '\n')
    data[--len] = '\0';
  if (rc == 0 && len > 0 && data[len - 1] == '\r')
    data[--len] = '\0';
  if (rc == 0 && (len == 0 || strlen(data) != len || !pw_utf8_valid(data, len) ||
                  strpbrk(data, "\r\n") != NULL))
    rc = -EBADMSG;
  if (rc < 0) {
    const char *why = rc == -EBADMSG ? "must hold one line of UTF-8 text (the secret)"
                      : rc == -E2BIG ? "is larger than 64 KiB"
                                     : strerror(-rc);
    char *shown = pw_config_strdup(ld, "");
    if (data != NULL) {
      explicit_bzero(data, len);
      free(data);
    }
    if (shown == NULL) {
      free(abs);
      return pw_config_fail(ld, s, "out of memory");
    }
    if (lazy_key(ld, k->name)) {
      *FIELD(it, k, char *) = shown;
      rc = record_unresolved(ld, s, shown, "%s: %s '%s': %s", it->what, k->name, abs, why);
    } else {
      rc = pw_config_fail(ld, s, "%s: %s '%s': %s", it->what, k->name, abs, why);
    }
    free(abs);
    return rc;
  }
  free(abs);
  *FIELD(it, k, char *) = pw_config_strdup(ld, data);
  /* The secret's only other copy is the configuration's own. */
  explicit_bzero(data, len);
  free(data);
  return *FIELD(it, k, char *) != NULL ? 0 : pw_config_fail(ld, s, "out of memory");
}

/* Reads a number written as an integer, a float or a string in the value grammar. */
static int read_number(struct loader *ld, const config_setting_t *s, const char *what,
                       double *out) {
  char *text;
  int rc;

  switch (config_setting_type(s)) {
  case CONFIG_TYPE_INT:
    *out = (double)config_setting_get_int(s);
    return 0;
  case CONFIG_TYPE_INT64:
    *out = (double)config_setting_get_int64(s);
    return 0;
  case CONFIG_TYPE_FLOAT:
    *out = config_setting_get_float(s);
    if (!isfinite(*out))
      return pw_config_fail(ld, s, "%s must be a finite number", what);
    return 0;
  case CONFIG_TYPE_STRING:
    if (pw_config_read_string(ld, s, what, &text) < 0)
      return -EINVAL;
    rc = pw_value_parse(text, out);
    if (rc != 0)
      return pw_config_fail(
          ld, s, "%s: \"%s\" is not a number (examples: 15600, 7800.5, \"5.95亿\", \"85%%\")", what,
          text);
    return 0;
  default:
    return pw_config_fail(ld, s, "%s must be a number", what);
  }
}

int pw_config_read_int(struct loader *ld, const config_setting_t *s, const char *what,
                       int64_t *out) {
  double d;

  if (read_number(ld, s, what, &d) < 0)
    return -EINVAL;
  if (d != floor(d) || d < 0 || d > 9007199254740992.0)
    return pw_config_fail(ld, s, "%s must be a whole number of at least 0", what);
  *out = (int64_t)d;
  return 0;
}

static int read_duration(struct loader *ld, const config_setting_t *s, const char *what,
                         int64_t *out) {
  char *text;

  if (pw_config_read_string(ld, s, what, &text) < 0)
    return -EINVAL;
  if (pw_duration_parse(text, out) < 0)
    return pw_config_fail(
        ld, s, "%s: \"%s\" is not a duration (write e.g. \"90s\", \"5m\", \"1h\", \"7d\")", what,
        text);
  return 0;
}

/* A calendar date "YYYY-MM-DD" turned into the end of that day. */
int pw_config_parse_date(const char *text, int64_t *out) {
  int y, m, d, n = 0;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
    return -EINVAL;
  if (y < PW_CAL_FIRST_YEAR + 1 || y > PW_CAL_LAST_YEAR || m < 1 || m > 12 || d < 1 ||
      d > mdays[m - 1])
    return -EINVAL;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return -EINVAL;
  *out = pw_calendar_day_end(y, m, d);
  return 0;
}

static int read_bool(struct loader *ld, const config_setting_t *s, const char *what, int *out) {
  if (config_setting_type(s) != CONFIG_TYPE_BOOL)
    return pw_config_fail(ld, s, "%s must be true or false", what);
  *out = config_setting_get_bool(s);
  return 0;
}

int pw_config_is_list(const config_setting_t *s) {
  return config_setting_type(s) == CONFIG_TYPE_ARRAY || config_setting_type(s) == CONFIG_TYPE_LIST;
}

static int read_strlist(struct loader *ld, const config_setting_t *s, const char *what,
                        struct pw_strlist *out) {
  int i, n;

  if (!pw_config_is_list(s))
    return pw_config_fail(ld, s, "%s must be a list of strings [ \"a\", \"b\" ]", what);
  n = config_setting_length(s);
  out->items = pw_config_alloc(ld, sizeof(char *) * (size_t)(n + 1));
  if (out->items == NULL)
    return pw_config_fail(ld, s, "out of memory");
  out->n = n;
  for (i = 0; i < n; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (pw_config_read_string(ld, e, what, &out->items[i]) < 0)
      return -EINVAL;
  }
  return 0;
}

static int read_char(struct loader *ld, const config_setting_t *s, const char *what, char *out) {
  char *text;

  if (pw_config_read_string(ld, s, what, &text) < 0)
    return -EINVAL;
  if (strcmp(text, "\\t") == 0 || strcmp(text, "\t") == 0) {
    *out = '\t';
    return 0;
  }
  if (strlen(text) != 1 || text[0] == '"' || text[0] == '\n' || text[0] == '\r')
    return pw_config_fail(ld, s, "%s must be a single character such as \",\", \";\" or \"\\t\"",
                          what);
  *out = text[0];
  return 0;
}

/* Stores the value of setting S (or the default text DEF when S is NULL) at OBJ + spec. */
static int read_key(struct loader *ld, const config_setting_t *s, const struct key_spec *k,
                    void *obj) {
  char *field = (char *)obj + k->offset;
  double nums[4];
  int i;

  if (s == NULL) {
    /* Defaults are written as text in the tables and converted here. */
    switch (k->type) {
    case K_STRING:
      *(char **)field = k->def ? pw_config_strdup(ld, k->def) : NULL;
      return 0;
    case K_BOOL:
      *(int *)field = k->def && strcmp(k->def, "true") == 0;
      return 0;
    case K_INT:
      *(int64_t *)field = k->def ? strtoll(k->def, NULL, 10) : 0;
      return 0;
    case K_NUMBER:
      *(double *)field = k->def ? strtod(k->def, NULL) : 0.0;
      return 0;
    case K_DURATION:
      *(int64_t *)field = 0;
      if (k->def)
        pw_duration_parse(k->def, (int64_t *)field);
      return 0;
    case K_CHAR:
      *field = k->def ? k->def[0] : ',';
      return 0;
    default:
      return 0;
    }
  }
  switch (k->type) {
  case K_STRING:
    return pw_config_read_string(ld, s, k->name, (char **)field);
  case K_BOOL:
    return read_bool(ld, s, k->name, (int *)field);
  case K_INT:
    return pw_config_read_int(ld, s, k->name, (int64_t *)field);
  case K_NUMBER:
    return read_number(ld, s, k->name, (double *)field);
  case K_DURATION:
    return read_duration(ld, s, k->name, (int64_t *)field);
  case K_STRLIST:
    return read_strlist(ld, s, k->name, (struct pw_strlist *)field);
  case K_CHAR:
    return read_char(ld, s, k->name, field);
  case K_FN:
  case K_MANUAL:
    return 0;
  case K_NUMLIST4:
    if (!pw_config_is_list(s))
      return pw_config_fail(ld, s, "%s must be a list of four numbers [ q1, q2, q3, q4 ]", k->name);
    if (config_setting_length(s) != 4)
      return pw_config_fail(ld, s, "%s must have exactly four values (one per quarter), not %d",
                            k->name, config_setting_length(s));
    for (i = 0; i < 4; i++)
      if (read_number(ld, config_setting_get_elem(s, (unsigned)i), k->name, &nums[i]) < 0)
        return -EINVAL;
    memcpy(field, nums, sizeof(nums));
    return 0;
  }
  return pw_config_fail(ld, s, "internal: unknown key type");
}

int pw_config_key_line(const config_setting_t *g, const char *name, int def) {
  const config_setting_t *m = g ? config_setting_get_member(g, name) : NULL;

  return m ? (int)config_setting_source_line(m) : def;
}

const config_setting_t *pw_config_member(const struct item *it, const char *name) {
  return it->g ? config_setting_get_member(it->g, name) : NULL;
}

static int applies(const struct key_spec *k, const struct item *it) {
  return !k->only || (k->only & it->mask);
}

/* Applies TABLE to item IT: every member of its group must be a key of the table that applies
 * to the item's kind, required keys must be present, others get defaults; then the keys' own
 * functions run, in table order. */
int pw_config_walk(struct loader *ld, const struct item *it, const struct key_spec *table) {
  const struct key_spec *k;
  int i, n;

  if (it->g != NULL) {
    if (config_setting_type(it->g) != CONFIG_TYPE_GROUP)
      return pw_config_fail(ld, it->g, "%s must be a group { ... }", it->what);
    n = config_setting_length(it->g);
    for (i = 0; i < n; i++) {
      const config_setting_t *m = config_setting_get_elem(it->g, (unsigned)i);
      const char *name = config_setting_name(m);
      for (k = table; k->name; k++)
        if (strcmp(k->name, name) == 0)
          break;
      if (k->name == NULL)
        return pw_config_fail(ld, m, "unknown key '%s' in %s", name, it->what);
      if (!applies(k, it))
        return pw_config_fail(ld, m, "key '%s' does not apply to %s (%s)", name, it->what,
                              it->kind);
    }
  }
  for (k = table; k->name; k++) {
    const config_setting_t *m = pw_config_member(it, k->name);
    if (m == NULL && k->required && applies(k, it))
      return pw_config_fail(ld, it->g, "%s lacks the required key '%s'", it->what, k->name);
    if (read_key(ld, m, k, it->obj) < 0)
      return -EINVAL;
    if (k->has != NO_HAS)
      *(int *)((char *)it->obj + k->has) = m != NULL;
  }
  for (k = table; k->name; k++)
    if (k->fn != NULL && applies(k, it) && k->fn(ld, it, k, pw_config_member(it, k->name)) < 0)
      return -EINVAL;
  return 0;
}

static int check_id(struct loader *ld, const config_setting_t *s, const char *id,
                    const char *what) {
  size_t i, n = strlen(id);

  if (n == 0 || n > 64)
    return pw_config_fail(ld, s, "%s id '%s' must be 1 to 64 characters of a-z, 0-9 and _", what,
                          id);
  for (i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
      return pw_config_fail(ld, s, "%s id '%s' must use only a-z, 0-9 and _", what, id);
  return 0;
}

/* Returns the list of groups named NAME at the top level (NULL when absent). */
const config_setting_t *pw_config_top_list(struct loader *ld, config_t *cfg, const char *name,
                                           int required, int *count) {
  const config_setting_t *s = config_lookup(cfg, name);

  *count = 0;
  if (s == NULL) {
    if (required)
      pw_config_fail(ld, config_root_setting(cfg), "the configuration lacks the required list '%s'",
                     name);
    return NULL;
  }
  if (config_setting_type(s) != CONFIG_TYPE_LIST) {
    pw_config_fail(ld, s, "'%s' must be a list of groups: %s = ( { id = \"...\"; ... } );", name,
                   name);
    return NULL;
  }
  *count = config_setting_length(s);
  return s;
}

struct id_ref {
  const char *id;
  int index;
};

static int id_ref_cmp(const void *a, const void *b) {
  const struct id_ref *x = a, *y = b;
  int c = strcmp(x->id, y->id);

  return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* Checks that the ids of N items (stride bytes apart, id first) are unique. Sorted, so that a
 * province's ten thousand indicators cost n log n comparisons, not n squared; the item reported
 * is the first in the file that repeats an earlier id. */
int pw_config_check_unique(struct loader *ld, const config_setting_t *list, const void *items,
                           size_t stride, int n, const char *what) {
  struct id_ref *refs;
  int i, first = -1;

  if (n < 2)
    return 0;
  refs = malloc((size_t)n * sizeof(*refs));
  if (refs == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < n; i++) {
    refs[i].id = *(char *const *)((const char *)items + stride * (size_t)i);
    refs[i].index = i;
  }
  qsort(refs, (size_t)n, sizeof(*refs), id_ref_cmp);
  for (i = 1; i < n; i++)
    if (strcmp(refs[i - 1].id, refs[i].id) == 0 && (first < 0 || refs[i].index < first))
      first = refs[i].index;
  free(refs);
  if (first >= 0)
    return pw_config_fail(ld, config_setting_get_elem(list, (unsigned)first),
                          "duplicate %s id '%s' (ids must be unique)", what,
                          *(char *const *)((const char *)items + stride * (size_t)first));
  return 0;
}

int pw_config_key_text(struct loader *ld, const struct item *it, const struct key_spec *k,
                       const config_setting_t *s) {
  const unsigned char *p;
  size_t chars = 0, max = strcmp(k->name, "basis") == 0 ? 200 : 60;

  if (s == NULL || *FIELD(it, k, char *) == NULL)
    return 0;
  p = (const unsigned char *)*FIELD(it, k, char *);
  if (*p == '\0')
    return pw_config_fail(ld, s, "%s: %s must not be empty (leave the key out instead)", it->what,
                          k->name);
  for (; *p; p++) {
    if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
      return pw_config_fail(ld, s, "%s: %s must be one line without control characters", it->what,
                            k->name);
    if ((*p & 0xC0) != 0x80)
      chars++;
  }
  if (chars > max)
    return pw_config_fail(ld, s, "%s: %s has %zu characters, at most %zu are allowed", it->what,
                          k->name, chars, max);
  return 0;
}

/* The id of an item: the key_fn of every table's "id". */
int pw_config_key_id(struct loader *ld, const struct item *it, const struct key_spec *k,
                     const config_setting_t *s) {
  return check_id(ld, s, *FIELD(it, k, char *), it->noun);
}

static int find_receiver(const struct pw_config *c, const char *id) {
  int i;

  for (i = 0; i < c->n_receivers; i++)
    if (strcmp(c->receivers[i].id, id) == 0)
      return i;
  return -1;
}

int pw_config_resolve_receivers(struct loader *ld, const config_setting_t *s,
                                const struct pw_strlist *ids, int **out, const char *what) {
  int i;

  *out = pw_config_alloc(ld, sizeof(int) * (size_t)(ids->n + 1));
  if (*out == NULL)
    return pw_config_fail(ld, s, "out of memory");
  for (i = 0; i < ids->n; i++) {
    (*out)[i] = find_receiver(ld->conf, ids->items[i]);
    if ((*out)[i] < 0)
      return pw_config_fail(ld, s, "%s names unknown receiver '%s'", what, ids->items[i]);
  }
  return 0;
}

int pw_config_find_by_id(const void *items, size_t stride, int n, const char *id) {
  int i;

  for (i = 0; i < n; i++)
    if (strcmp(*(char *const *)((const char *)items + stride * (size_t)i), id) == 0)
      return i;
  return -1;
}
