/*
 * config: loads the libconfig file of CONTRACT section 2 into validated structures. Each
 * section is described by a table of keys (name, type, where it goes, default, which kinds it
 * applies to); one walker applies a table to a group, so unknown keys, wrong types, missing
 * required keys and keys that do not apply to a kind are all caught in one place and reported
 * as "FILE:LINE: message". Cross-references (domains, departments, sources, receivers) are
 * resolved after every section is read. libconfig 1.5 has pitfalls that are checked here
 * before it ever sees the text: integer literals that silently wrap, and a UTF-8 byte-order
 * mark that it reports only as a syntax error.
 */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "value.h"

/* Every allocation of one configuration, freed together. */
struct pw_config_arena {
  void **ptrs;
  size_t n, cap;
};

struct loader {
  struct pw_config *conf;
  char *err;
  size_t errlen;
  int failed;
};

enum key_type {
  K_STRING,
  K_BOOL,
  K_INT,
  K_NUMBER,
  K_DURATION,
  K_STRLIST,
  K_NUMLIST4,
  K_CHAR,
  K_MANUAL, /* checked by the walker, read by the section's own code */
};

/* One key of a section. OFFSET places the value in the section's struct; HAS (when not
 * NO_HAS) is the offset of an int set to 1 when the key was written. ONLY restricts the key to
 * some kinds or types (a bit mask over the enum of the group; 0 = every one). */
struct key_spec {
  const char *name;
  enum key_type type;
  size_t offset;
  size_t has;
  int required;
  const char *def;
  unsigned only;
};

#define NO_HAS ((size_t)-1)
#define BIT(x) (1u << (x))

static void *arena_alloc(struct loader *ld, size_t size) {
  struct pw_config_arena *a = ld->conf->arena;
  void *p;

  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    void **np = realloc(a->ptrs, cap * sizeof(*np));
    if (np == NULL)
      return NULL;
    a->ptrs = np;
    a->cap = cap;
  }
  p = calloc(1, size ? size : 1);
  if (p != NULL)
    a->ptrs[a->n++] = p;
  return p;
}

static char *arena_strdup(struct loader *ld, const char *s) {
  size_t n = strlen(s);
  char *p = arena_alloc(ld, n + 1);

  if (p != NULL)
    memcpy(p, s, n + 1);
  return p;
}

static const char *setting_file(struct loader *ld, const config_setting_t *s) {
  const char *f = s ? config_setting_source_file(s) : NULL;

  return f ? f : ld->conf->path;
}

/* The file of setting S as a string the configuration owns: libconfig frees its own copy in
 * config_destroy, but sources and indicators keep naming their file for later messages. */
static const char *keep_file(struct loader *ld, const config_setting_t *s) {
  const char *f = setting_file(ld, s);

  if (strcmp(f, ld->conf->path) == 0)
    return ld->conf->path;
  return arena_strdup(ld, f);
}

/* Records the first error as "FILE:LINE: message"; later errors are dropped so the user
 * sees the one that stopped the load. Always returns -EINVAL. */
static int fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...) {
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

/* Replaces ${NAME} by the environment variable NAME; "$${" writes a literal "${". */
static int substitute_env(struct loader *ld, const config_setting_t *s, const char *in,
                          char **out) {
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
        return fail(ld, s, "unterminated ${ in \"%s\" (write $${ for a literal ${)", in);
      }
      n = (size_t)(end - p - 2);
      if (n == 0 || n >= sizeof(name)) {
        pw_buf_free(&b);
        return fail(ld, s, "bad environment variable name in \"%s\"", in);
      }
      memcpy(name, p + 2, n);
      name[n] = '\0';
      val = getenv(name);
      if (val == NULL) {
        pw_buf_free(&b);
        return fail(ld, s, "environment variable %s is not set", name);
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
    return fail(ld, s, "out of memory");
  }
  *out = arena_strdup(ld, b.data);
  pw_buf_free(&b);
  return *out ? 0 : fail(ld, s, "out of memory");
}

static int read_string(struct loader *ld, const config_setting_t *s, const char *what, char **out) {
  const char *v;

  if (config_setting_type(s) != CONFIG_TYPE_STRING)
    return fail(ld, s, "%s must be a string", what);
  v = config_setting_get_string(s);
  if (!pw_utf8_valid(v, strlen(v)))
    return fail(ld, s, "%s is not valid UTF-8", what);
  return substitute_env(ld, s, v, out);
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
      return fail(ld, s, "%s must be a finite number", what);
    return 0;
  case CONFIG_TYPE_STRING:
    if (read_string(ld, s, what, &text) < 0)
      return -EINVAL;
    rc = pw_value_parse(text, out);
    if (rc != 0)
      return fail(ld, s,
                  "%s: \"%s\" is not a number (examples: 15600, 7800.5, \"5.95亿\", \"85%%\")",
                  what, text);
    return 0;
  default:
    return fail(ld, s, "%s must be a number", what);
  }
}

static int read_int(struct loader *ld, const config_setting_t *s, const char *what, int64_t *out) {
  double d;

  if (read_number(ld, s, what, &d) < 0)
    return -EINVAL;
  if (d != floor(d) || d < 0 || d > 9007199254740992.0)
    return fail(ld, s, "%s must be a whole number of at least 0", what);
  *out = (int64_t)d;
  return 0;
}

static int read_duration(struct loader *ld, const config_setting_t *s, const char *what,
                         int64_t *out) {
  char *text;

  if (read_string(ld, s, what, &text) < 0)
    return -EINVAL;
  if (pw_duration_parse(text, out) < 0)
    return fail(ld, s, "%s: \"%s\" is not a duration (write e.g. \"90s\", \"5m\", \"1h\", \"7d\")",
                what, text);
  return 0;
}

/* A calendar date "YYYY-MM-DD" turned into the end of that day. */
static int parse_date_text(const char *text, int64_t *out) {
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
    return fail(ld, s, "%s must be true or false", what);
  *out = config_setting_get_bool(s);
  return 0;
}

static int is_collection(const config_setting_t *s) {
  return config_setting_type(s) == CONFIG_TYPE_ARRAY || config_setting_type(s) == CONFIG_TYPE_LIST;
}

static int read_strlist(struct loader *ld, const config_setting_t *s, const char *what,
                        struct pw_strlist *out) {
  int i, n;

  if (!is_collection(s))
    return fail(ld, s, "%s must be a list of strings [ \"a\", \"b\" ]", what);
  n = config_setting_length(s);
  out->items = arena_alloc(ld, sizeof(char *) * (size_t)(n + 1));
  if (out->items == NULL)
    return fail(ld, s, "out of memory");
  out->n = n;
  for (i = 0; i < n; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (read_string(ld, e, what, &out->items[i]) < 0)
      return -EINVAL;
  }
  return 0;
}

static int read_char(struct loader *ld, const config_setting_t *s, const char *what, char *out) {
  char *text;

  if (read_string(ld, s, what, &text) < 0)
    return -EINVAL;
  if (strcmp(text, "\\t") == 0 || strcmp(text, "\t") == 0) {
    *out = '\t';
    return 0;
  }
  if (strlen(text) != 1 || text[0] == '"' || text[0] == '\n' || text[0] == '\r')
    return fail(ld, s, "%s must be a single character such as \",\", \";\" or \"\\t\"", what);
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
      *(char **)field = k->def ? arena_strdup(ld, k->def) : NULL;
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
    return read_string(ld, s, k->name, (char **)field);
  case K_BOOL:
    return read_bool(ld, s, k->name, (int *)field);
  case K_INT:
    return read_int(ld, s, k->name, (int64_t *)field);
  case K_NUMBER:
    return read_number(ld, s, k->name, (double *)field);
  case K_DURATION:
    return read_duration(ld, s, k->name, (int64_t *)field);
  case K_STRLIST:
    return read_strlist(ld, s, k->name, (struct pw_strlist *)field);
  case K_CHAR:
    return read_char(ld, s, k->name, field);
  case K_MANUAL:
    return 0;
  case K_NUMLIST4:
    if (!is_collection(s))
      return fail(ld, s, "%s must be a list of four numbers [ q1, q2, q3, q4 ]", k->name);
    if (config_setting_length(s) != 4)
      return fail(ld, s, "%s must have exactly four values (one per quarter), not %d", k->name,
                  config_setting_length(s));
    for (i = 0; i < 4; i++)
      if (read_number(ld, config_setting_get_elem(s, (unsigned)i), k->name, &nums[i]) < 0)
        return -EINVAL;
    memcpy(field, nums, sizeof(nums));
    return 0;
  }
  return fail(ld, s, "internal: unknown key type");
}

/* Applies TABLE to GROUP: every member must be a key of the table that applies to MASK (the
 * bit of the group's kind or type), required keys must be present, others get defaults.
 * WHAT names the group in messages ("indicator 'x'"); KIND_NAME names the kind for keys that
 * do not apply to it. */
static int walk(struct loader *ld, const config_setting_t *group, const struct key_spec *table,
                void *obj, unsigned mask, const char *what, const char *kind_name) {
  int i, n;
  const struct key_spec *k;

  if (config_setting_type(group) != CONFIG_TYPE_GROUP)
    return fail(ld, group, "%s must be a group { ... }", what);
  n = config_setting_length(group);
  for (i = 0; i < n; i++) {
    const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
    const char *name = config_setting_name(m);
    for (k = table; k->name; k++)
      if (strcmp(k->name, name) == 0)
        break;
    if (k->name == NULL)
      return fail(ld, m, "unknown key '%s' in %s", name, what);
    if (k->only && !(k->only & mask))
      return fail(ld, m, "key '%s' does not apply to %s (%s)", name, what, kind_name);
  }
  for (k = table; k->name; k++) {
    const config_setting_t *m = config_setting_get_member(group, k->name);
    if (m == NULL && k->required && (!k->only || (k->only & mask)))
      return fail(ld, group, "%s lacks the required key '%s'", what, k->name);
    if (read_key(ld, m, k, obj) < 0)
      return -EINVAL;
    if (k->has != NO_HAS)
      *(int *)((char *)obj + k->has) = m != NULL;
  }
  return 0;
}

static int check_id(struct loader *ld, const config_setting_t *s, const char *id,
                    const char *what) {
  size_t i, n = strlen(id);

  if (n == 0 || n > 64)
    return fail(ld, s, "%s id '%s' must be 1 to 64 characters of a-z, 0-9 and _", what, id);
  for (i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
      return fail(ld, s, "%s id '%s' must use only a-z, 0-9 and _", what, id);
  return 0;
}

/* Returns the list of groups named NAME at the top level (NULL when absent). */
static const config_setting_t *top_list(struct loader *ld, config_t *cfg, const char *name,
                                        int required, int *count) {
  const config_setting_t *s = config_lookup(cfg, name);

  *count = 0;
  if (s == NULL) {
    if (required)
      fail(ld, config_root_setting(cfg), "the configuration lacks the required list '%s'", name);
    return NULL;
  }
  if (config_setting_type(s) != CONFIG_TYPE_LIST) {
    fail(ld, s, "'%s' must be a list of groups: %s = ( { id = \"...\"; ... } );", name, name);
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
static int check_unique(struct loader *ld, const config_setting_t *list, const void *items,
                        size_t stride, int n, const char *what) {
  struct id_ref *refs;
  int i, first = -1;

  if (n < 2)
    return 0;
  refs = malloc((size_t)n * sizeof(*refs));
  if (refs == NULL)
    return fail(ld, list, "out of memory");
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
    return fail(ld, config_setting_get_elem(list, (unsigned)first),
                "duplicate %s id '%s' (ids must be unique)", what,
                *(char *const *)((const char *)items + stride * (size_t)first));
  return 0;
}

/* ---- daemon ---- */

#define D(f) offsetof(struct pw_daemon_conf, f)
static const struct key_spec daemon_keys[] = {
    {"state_dir", K_STRING, D(state_dir), NO_HAS, 1, NULL, 0},
    {"timezone", K_STRING, D(timezone), NO_HAS, 0, "Asia/Shanghai", 0},
    {"log_level", K_MANUAL, 0, NO_HAS, 0, NULL, 0}, /* read by hand */
    {"http_listen", K_STRING, D(http_listen), NO_HAS, 0, "127.0.0.1:9464", 0},
    {"http_token", K_STRING, D(http_token), NO_HAS, 0, "", 0},
    {"rrdcached", K_STRING, D(rrdcached), NO_HAS, 0, "", 0},
    {"public_url", K_STRING, D(public_url), NO_HAS, 0, "", 0},
    {"max_transfers", K_INT, D(max_transfers), NO_HAS, 0, "64", 0},
    {"http_max_connections", K_INT, D(http_max_connections), NO_HAS, 0, "256", 0},
    {"http_timeout", K_DURATION, D(http_timeout), NO_HAS, 0, "10s", 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef D

static int check_hostport(const char *text) {
  const char *colon = strrchr(text, ':');
  char *end;
  long port;

  if (colon == NULL || colon == text)
    return -EINVAL;
  if (text[0] == '[' && colon[-1] != ']')
    return -EINVAL;
  port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
    return -EINVAL;
  return 0;
}

static int load_daemon(struct loader *ld, config_t *cfg) {
  const config_setting_t *s = config_lookup(cfg, "daemon");
  struct pw_daemon_conf *d = &ld->conf->daemon;
  const config_setting_t *m;
  enum pw_log_level level = PW_LOG_INFO;
  char *text;

  if (s == NULL)
    return fail(ld, config_root_setting(cfg),
                "the configuration lacks the required group 'daemon' (with state_dir)");
  if (walk(ld, s, daemon_keys, d, 0, "the daemon group", "") < 0)
    return -EINVAL;
  m = config_setting_get_member(s, "log_level");
  if (m != NULL) {
    if (read_string(ld, m, "log_level", &text) < 0)
      return -EINVAL;
    if (pw_log_level_parse(text, &level) < 0)
      return fail(ld, m, "log_level '%s' must be error, warn, info or debug", text);
  }
  d->log_level = (int)level;
  m = config_setting_get_member(s, "timezone");
  if (pw_calendar_init(&ld->conf->cal, d->timezone) < 0)
    return fail(ld, m ? m : s, "time zone '%s' is not in the system's zone database", d->timezone);
  if (d->state_dir[0] == '\0')
    return fail(ld, config_setting_get_member(s, "state_dir"), "state_dir must not be empty");
  text = pw_path_join(ld->conf->dir, d->state_dir);
  if (text == NULL)
    return fail(ld, s, "out of memory");
  d->state_dir = arena_strdup(ld, text);
  free(text);
  if (d->http_listen[0] != '\0' && check_hostport(d->http_listen) < 0)
    return fail(ld, config_setting_get_member(s, "http_listen"),
                "http_listen '%s' must be HOST:PORT (e.g. \"127.0.0.1:9464\") or \"\"",
                d->http_listen);
  if (d->rrdcached[0] != '\0' && strncmp(d->rrdcached, "unix:", 5) != 0 &&
      check_hostport(d->rrdcached) < 0)
    return fail(ld, config_setting_get_member(s, "rrdcached"),
                "rrdcached '%s' must be \"unix:/path\", HOST:PORT or \"\"", d->rrdcached);
  if (d->max_transfers < 1)
    return fail(ld, config_setting_get_member(s, "max_transfers"), "max_transfers must be >= 1");
  if (d->http_max_connections < 1)
    return fail(ld, config_setting_get_member(s, "http_max_connections"),
                "http_max_connections must be >= 1");
  return 0;
}

/* ---- domains and departments ---- */

static const struct key_spec domain_keys[] = {
    {"id", K_STRING, offsetof(struct pw_domain, id), NO_HAS, 1, NULL, 0},
    {"name", K_STRING, offsetof(struct pw_domain, name), NO_HAS, 1, NULL, 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};

static const struct key_spec department_keys[] = {
    {"id", K_STRING, offsetof(struct pw_department, id), NO_HAS, 1, NULL, 0},
    {"name", K_STRING, offsetof(struct pw_department, name), NO_HAS, 1, NULL, 0},
    {"receivers", K_STRLIST, offsetof(struct pw_department, receivers), NO_HAS, 0, NULL, 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};

static int load_domains(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "domains", 1, &c->n_domains);
  int i;

  if (list == NULL)
    return -EINVAL;
  if (c->n_domains == 0)
    return fail(ld, list, "domains must list at least one domain");
  c->domains = arena_alloc(ld, sizeof(*c->domains) * (size_t)c->n_domains);
  if (c->domains == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_domains; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    char what[64];
    snprintf(what, sizeof(what), "domain #%d", i + 1);
    if (walk(ld, g, domain_keys, &c->domains[i], 0, what, "") < 0 ||
        check_id(ld, config_setting_get_member(g, "id"), c->domains[i].id, "domain") < 0)
      return -EINVAL;
    c->domains[i].line = (int)config_setting_source_line(g);
  }
  return check_unique(ld, list, c->domains, sizeof(*c->domains), c->n_domains, "domain");
}

static int load_departments(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "departments", 0, &c->n_departments);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->departments = arena_alloc(ld, sizeof(*c->departments) * (size_t)(c->n_departments + 1));
  if (c->departments == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_departments; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    char what[64];
    snprintf(what, sizeof(what), "department #%d", i + 1);
    if (walk(ld, g, department_keys, &c->departments[i], 0, what, "") < 0 ||
        check_id(ld, config_setting_get_member(g, "id"), c->departments[i].id, "department") < 0)
      return -EINVAL;
    c->departments[i].line = (int)config_setting_source_line(g);
  }
  return check_unique(ld, list, c->departments, sizeof(*c->departments), c->n_departments,
                      "department");
}

/* ---- sources ---- */

enum { FMT_JSON = 0, FMT_CSV, FMT_PROMETHEUS, FMT_REGEX };
static const char *const formats[] = {"json", "csv", "prometheus", "regex", NULL};

#define S(f) offsetof(struct pw_source, f)
static const struct key_spec source_keys[] = {
    {"id", K_STRING, S(id), NO_HAS, 1, NULL, 0},
    {"url", K_STRING, S(url), NO_HAS, 1, NULL, 0},
    {"format", K_STRING, S(format), NO_HAS, 1, NULL, 0},
    {"interval", K_DURATION, S(interval), NO_HAS, 0, "1h", 0},
    {"timeout", K_DURATION, S(timeout), NO_HAS, 0, "20s", 0},
    {"max_bytes", K_INT, S(max_bytes), NO_HAS, 0, "10485760", 0},
    {"headers", K_STRLIST, S(headers), NO_HAS, 0, NULL, 0},
    {"as_of", K_STRING, S(as_of), NO_HAS, 0, NULL, 0},
    {"tls_verify", K_BOOL, S(tls_verify), NO_HAS, 0, "true", 0},
    {"ca_file", K_STRING, S(ca_file), NO_HAS, 0, NULL, 0},
    {"stale_after", K_DURATION, S(stale_after), NO_HAS, 0, NULL, 0},
    {"charset", K_STRING, S(charset), NO_HAS, 0, "UTF-8", 0},
    {"csv_delimiter", K_CHAR, S(csv_delimiter), NO_HAS, 0, ",", BIT(FMT_CSV)},
    {"proxy", K_STRING, S(proxy), NO_HAS, 0, NULL, 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef S

static int load_sources(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "sources", 0, &c->n_sources);
  int i, f;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->sources = arena_alloc(ld, sizeof(*c->sources) * (size_t)(c->n_sources + 1));
  if (c->sources == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_sources; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    const config_setting_t *fm = config_setting_get_member(g, "format");
    struct pw_source *src = &c->sources[i];
    char what[96];
    const char *fmt = NULL;

    snprintf(what, sizeof(what), "source #%d", i + 1);
    if (fm != NULL && config_setting_type(fm) == CONFIG_TYPE_STRING)
      fmt = config_setting_get_string(fm);
    for (f = 0; formats[f]; f++)
      if (fmt && strcmp(fmt, formats[f]) == 0)
        break;
    if (fm != NULL && formats[f] == NULL)
      return fail(ld, fm, "format '%s' must be json, csv, prometheus or regex", fmt ? fmt : "?");
    if (walk(ld, g, source_keys, src, BIT(f), what, fmt ? fmt : "") < 0 ||
        check_id(ld, config_setting_get_member(g, "id"), src->id, "source") < 0)
      return -EINVAL;
    src->cfg_file = keep_file(ld, g);
    src->line = (int)config_setting_source_line(g);
    if (strncmp(src->url, "http://", 7) == 0 || strncmp(src->url, "https://", 8) == 0) {
      src->file = NULL;
    } else if (strncmp(src->url, "file://", 7) == 0 || strstr(src->url, "://") == NULL) {
      const char *p = strncmp(src->url, "file://", 7) == 0 ? src->url + 7 : src->url;
      char *abs;
      if (*p == '\0')
        return fail(ld, config_setting_get_member(g, "url"), "source '%s': empty file path",
                    src->id);
      abs = pw_path_join(c->dir, p);
      if (abs == NULL)
        return fail(ld, g, "out of memory");
      src->file = arena_strdup(ld, abs);
      free(abs);
    } else {
      return fail(ld, config_setting_get_member(g, "url"),
                  "source '%s': url '%s' must be http://, https://, file:// or a file path",
                  src->id, src->url);
    }
    if (src->interval < 1)
      return fail(ld, config_setting_get_member(g, "interval"),
                  "source '%s': interval must be at least 1s", src->id);
    if (src->timeout < 1)
      return fail(ld, config_setting_get_member(g, "timeout"),
                  "source '%s': timeout must be at least 1s", src->id);
    if (src->max_bytes < 1)
      return fail(ld, config_setting_get_member(g, "max_bytes"),
                  "source '%s': max_bytes must be at least 1", src->id);
    for (f = 0; f < src->headers.n; f++)
      if (strchr(src->headers.items[f], ':') == NULL || strpbrk(src->headers.items[f], "\r\n"))
        return fail(ld, config_setting_get_member(g, "headers"),
                    "source '%s': header '%s' must be \"Name: value\" on one line", src->id,
                    src->headers.items[f]);
  }
  return check_unique(ld, list, c->sources, sizeof(*c->sources), c->n_sources, "source");
}

/* ---- receivers ---- */

static const char *const receiver_types[] = {"webhook", "dingtalk", "wecom", "feishu",
                                             "email",   "log",      NULL};

#define R(f) offsetof(struct pw_receiver, f)
#define NOT_LOG                                                                                    \
  (BIT(PW_RECV_WEBHOOK) | BIT(PW_RECV_DINGTALK) | BIT(PW_RECV_WECOM) | BIT(PW_RECV_FEISHU) |       \
   BIT(PW_RECV_EMAIL))
static const struct key_spec receiver_keys[] = {
    {"id", K_STRING, R(id), NO_HAS, 1, NULL, 0},
    {"type", K_MANUAL, 0, NO_HAS, 1, NULL, 0}, /* read by hand */
    {"url", K_STRING, R(url), NO_HAS, 1, NULL, NOT_LOG},
    {"secret", K_STRING, R(secret), NO_HAS, 0, NULL, BIT(PW_RECV_DINGTALK) | BIT(PW_RECV_FEISHU)},
    {"from", K_STRING, R(from), NO_HAS, 1, NULL, BIT(PW_RECV_EMAIL)},
    {"to", K_STRLIST, R(to), NO_HAS, 1, NULL, BIT(PW_RECV_EMAIL)},
    {"username", K_STRING, R(username), NO_HAS, 0, "", BIT(PW_RECV_EMAIL)},
    {"password", K_STRING, R(password), NO_HAS, 0, "", BIT(PW_RECV_EMAIL)},
    {"proxy", K_STRING, R(proxy), NO_HAS, 0, NULL, NOT_LOG},
    {"tls_verify", K_BOOL, R(tls_verify), NO_HAS, 0, "true", NOT_LOG},
    {"ca_file", K_STRING, R(ca_file), NO_HAS, 0, NULL, NOT_LOG},
    {"timeout", K_DURATION, R(timeout), NO_HAS, 0, "20s", NOT_LOG},
    {"rate_per_minute", K_INT, R(rate_per_minute), NO_HAS, 0, NULL, NOT_LOG},
    {"at_mobiles", K_STRLIST, R(at_mobiles), NO_HAS, 0, NULL, BIT(PW_RECV_DINGTALK)},
    {"at_all", K_BOOL, R(at_all), NO_HAS, 0, "false", BIT(PW_RECV_DINGTALK)},
    {"keyword", K_STRING, R(keyword), NO_HAS, 0, NULL, BIT(PW_RECV_DINGTALK)},
    {"mentioned_mobiles", K_STRLIST, R(mentioned_mobiles), NO_HAS, 0, NULL, BIT(PW_RECV_WECOM)},
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef R

static int load_receivers(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "receivers", 0, &c->n_receivers);
  int i, t;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->receivers = arena_alloc(ld, sizeof(*c->receivers) * (size_t)(c->n_receivers + 1));
  if (c->receivers == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_receivers; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    const config_setting_t *tm = config_setting_get_member(g, "type");
    struct pw_receiver *r = &c->receivers[i];
    const char *type = NULL;
    char what[96];

    snprintf(what, sizeof(what), "receiver #%d", i + 1);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
      return fail(ld, g, "%s must be a group { ... }", what);
    if (tm == NULL)
      return fail(ld, g, "%s lacks the required key 'type'", what);
    if (config_setting_type(tm) == CONFIG_TYPE_STRING)
      type = config_setting_get_string(tm);
    for (t = 0; receiver_types[t]; t++)
      if (type && strcmp(type, receiver_types[t]) == 0)
        break;
    if (receiver_types[t] == NULL)
      return fail(ld, tm,
                  "receiver type '%s' must be webhook, dingtalk, wecom, feishu, email or log",
                  type ? type : "?");
    r->type = (enum pw_receiver_type)t;
    if (walk(ld, g, receiver_keys, r, BIT(t), what, type) < 0 ||
        check_id(ld, config_setting_get_member(g, "id"), r->id, "receiver") < 0)
      return -EINVAL;
    r->line = (int)config_setting_source_line(g);
    if (config_setting_get_member(g, "rate_per_minute") == NULL)
      r->rate_per_minute = (r->type == PW_RECV_DINGTALK || r->type == PW_RECV_WECOM) ? 20
                           : r->type == PW_RECV_FEISHU                               ? 100
                                                                                     : 0;
    if (r->type == PW_RECV_EMAIL) {
      if (strncmp(r->url, "smtp://", 7) != 0 && strncmp(r->url, "smtps://", 8) != 0)
        return fail(ld, config_setting_get_member(g, "url"),
                    "receiver '%s': an email url must be smtp://HOST:PORT or smtps://HOST:PORT",
                    r->id);
      if (r->to.n == 0)
        return fail(ld, config_setting_get_member(g, "to"),
                    "receiver '%s': 'to' must name at least one address", r->id);
    } else if (r->type != PW_RECV_LOG && strncmp(r->url, "http://", 7) != 0 &&
               strncmp(r->url, "https://", 8) != 0) {
      return fail(ld, config_setting_get_member(g, "url"),
                  "receiver '%s': url '%s' must be http:// or https://", r->id, r->url);
    }
  }
  return check_unique(ld, list, c->receivers, sizeof(*c->receivers), c->n_receivers, "receiver");
}

static int find_receiver(const struct pw_config *c, const char *id) {
  int i;

  for (i = 0; i < c->n_receivers; i++)
    if (strcmp(c->receivers[i].id, id) == 0)
      return i;
  return -1;
}

/* Resolves a list of receiver ids into indices, failing on an unknown one. */
static int resolve_receivers(struct loader *ld, const config_setting_t *s,
                             const struct pw_strlist *ids, int **out, const char *what) {
  int i;

  *out = arena_alloc(ld, sizeof(int) * (size_t)(ids->n + 1));
  if (*out == NULL)
    return fail(ld, s, "out of memory");
  for (i = 0; i < ids->n; i++) {
    (*out)[i] = find_receiver(ld->conf, ids->items[i]);
    if ((*out)[i] < 0)
      return fail(ld, s, "%s names unknown receiver '%s'", what, ids->items[i]);
  }
  return 0;
}

/* ---- indicators and targets ---- */

static const char *const kinds[] = {"cumulative", "level", "standard", "milestone", NULL};
#define CL (BIT(PW_KIND_CUMULATIVE) | BIT(PW_KIND_LEVEL))

#define I(f) offsetof(struct pw_indicator, f)
static const struct key_spec indicator_keys[] = {
    {"id", K_STRING, I(id), NO_HAS, 1, NULL, 0},
    {"name", K_STRING, I(name), NO_HAS, 1, NULL, 0},
    {"domain", K_STRING, I(domain_id), NO_HAS, 1, NULL, 0},
    {"department", K_STRING, I(department_id), NO_HAS, 0, NULL, 0},
    {"unit", K_STRING, I(unit), NO_HAS, 0, "", 0},
    {"source", K_STRING, I(source_id), NO_HAS, 0, NULL, 0},
    {"path", K_STRING, I(path), NO_HAS, 0, NULL, 0},
    {"as_of", K_STRING, I(as_of), NO_HAS, 0, NULL, 0},
    {"kind", K_MANUAL, 0, NO_HAS, 1, NULL, 0},
    {"direction", K_MANUAL, 0, NO_HAS, 0, NULL, BIT(PW_KIND_STANDARD)},
    {"pace", K_MANUAL, 0, NO_HAS, 0, NULL, CL},
    {"lag_warn", K_NUMBER, I(lag_warn), NO_HAS, 0, NULL, 0},
    {"lag_crit", K_NUMBER, I(lag_crit), NO_HAS, 0, NULL, 0},
    {"stale_after", K_DURATION, I(stale_after), NO_HAS, 0, NULL, 0},
    {"stages", K_STRLIST, I(stages), NO_HAS, 1, NULL, BIT(PW_KIND_MILESTONE)},
    {"carry", K_BOOL, I(carry), NO_HAS, 0, "false", BIT(PW_KIND_LEVEL) | BIT(PW_KIND_STANDARD)},
    {"targets", K_MANUAL, 0, NO_HAS, 1, NULL, 0}, /* read by hand */
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef I

#define T(f) offsetof(struct pw_target, f)
static const struct key_spec target_keys[] = {
    {"year", K_MANUAL, 0, NO_HAS, 1, NULL, 0}, /* read by hand */
    {"annual", K_NUMBER, T(annual), T(has_annual), 1, NULL, CL},
    {"baseline", K_NUMBER, T(baseline), T(has_baseline), 0, NULL, CL},
    {"quarters", K_NUMLIST4, T(quarters), T(has_quarters), 0, NULL, CL | BIT(PW_KIND_STANDARD)},
    {"standard", K_NUMBER, T(standard), T(has_standard), 0, NULL, BIT(PW_KIND_STANDARD)},
    {"due", K_MANUAL, 0, NO_HAS, 1, NULL, BIT(PW_KIND_MILESTONE)},
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef T

static int near_equal(double a, double b) {
  return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static int load_target(struct loader *ld, const config_setting_t *g, struct pw_indicator *ind,
                       struct pw_target *tg, int index) {
  const config_setting_t *ys = config_setting_get_member(g, "year");
  const config_setting_t *ds;
  char what[160];
  int64_t year = 0;
  int i;
  double prev;
  int rising;

  snprintf(what, sizeof(what), "target #%d of indicator '%s'", index + 1, ind->id);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(ld, g, "%s must be a group { year = ...; ... }", what);
  if (ys == NULL)
    return fail(ld, g, "%s lacks the required key 'year'", what);
  if (read_int(ld, ys, "year", &year) < 0)
    return -EINVAL;
  if (year <= PW_CAL_FIRST_YEAR || year > PW_CAL_LAST_YEAR - 1)
    return fail(ld, ys, "%s: year %lld is out of range", what, (long long)year);
  tg->year = (int)year;
  tg->line = (int)config_setting_source_line(g);
  snprintf(what, sizeof(what), "the %d target of indicator '%s'", tg->year, ind->id);
  if (walk(ld, g, target_keys, tg, BIT(ind->kind), what, kinds[ind->kind]) < 0)
    return -EINVAL;
  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    if (ind->kind == PW_KIND_LEVEL && !tg->has_baseline)
      return fail(ld, g, "%s lacks the required key 'baseline' (level targets need one)", what);
    if (!tg->has_baseline)
      tg->baseline = 0;
    if (near_equal(tg->annual, tg->baseline))
      return fail(ld, config_setting_get_member(g, "annual"),
                  "%s: annual (%g) must differ from baseline (%g)", what, tg->annual, tg->baseline);
    if (!tg->has_quarters) {
      if (ind->pace == PW_PACE_QUARTERLY || ind->pace == PW_PACE_STEP)
        return fail(ld, g, "%s: pace '%s' needs quarters = [ q1, q2, q3, q4 ]", what,
                    pw_pace_name(ind->pace));
      break;
    }
    if (!near_equal(tg->quarters[3], tg->annual))
      return fail(ld, config_setting_get_member(g, "quarters"),
                  "%s: the fourth quarter (%g) must equal annual (%g)", what, tg->quarters[3],
                  tg->annual);
    rising = tg->annual > tg->baseline;
    prev = tg->baseline;
    for (i = 0; i < 4; i++) {
      if (rising ? tg->quarters[i] < prev : tg->quarters[i] > prev)
        return fail(ld, config_setting_get_member(g, "quarters"),
                    "%s: quarters must move %s from baseline %g towards annual %g (q%d = %g)", what,
                    rising ? "upwards (non-decreasing)" : "downwards (non-increasing)",
                    tg->baseline, tg->annual, i + 1, tg->quarters[i]);
      prev = tg->quarters[i];
    }
    tg->quarters[3] = tg->annual;
    break;
  case PW_KIND_STANDARD:
    if (tg->has_standard == tg->has_quarters)
      return fail(ld, g, "%s needs exactly one of 'standard' or 'quarters'", what);
    break;
  case PW_KIND_MILESTONE:
    ds = config_setting_get_member(g, "due");
    if (!is_collection(ds))
      return fail(ld, ds, "%s: due must be a list of dates [ \"YYYY-MM-DD\", \"\", ... ]", what);
    if (config_setting_length(ds) != ind->stages.n)
      return fail(ld, ds, "%s: due has %d dates but the indicator has %d stages", what,
                  config_setting_length(ds), ind->stages.n);
    tg->due = arena_alloc(ld, sizeof(int64_t) * (size_t)(ind->stages.n + 1));
    if (tg->due == NULL)
      return fail(ld, ds, "out of memory");
    for (i = 0; i < ind->stages.n; i++) {
      const config_setting_t *e = config_setting_get_elem(ds, (unsigned)i);
      char *text;
      int j;
      if (read_string(ld, e, "due", &text) < 0)
        return -EINVAL;
      if (text[0] == '\0')
        continue;
      if (parse_date_text(text, &tg->due[i]) < 0)
        return fail(ld, e, "%s: due date '%s' must be \"YYYY-MM-DD\" or \"\"", what, text);
      for (j = 0; j < i; j++)
        if (tg->due[j] != 0 && tg->due[j] > tg->due[i])
          return fail(ld, e,
                      "%s: due dates must be ascending (stage %d '%s' is due before "
                      "stage %d '%s')",
                      what, i, ind->stages.items[i], j, ind->stages.items[j]);
    }
    break;
  }
  return 0;
}

static int find_by_id(const void *items, size_t stride, int n, const char *id) {
  int i;

  for (i = 0; i < n; i++)
    if (strcmp(*(char *const *)((const char *)items + stride * (size_t)i), id) == 0)
      return i;
  return -1;
}

static int load_indicator(struct loader *ld, const config_setting_t *g, struct pw_indicator *ind,
                          int index) {
  struct pw_config *c = ld->conf;
  const config_setting_t *km = config_setting_get_member(g, "kind");
  const config_setting_t *m, *targets;
  const char *kind = NULL;
  char what[128];
  int k, i, j;

  snprintf(what, sizeof(what), "indicator #%d", index + 1);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(ld, g, "%s must be a group { ... }", what);
  m = config_setting_get_member(g, "id");
  if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING)
    snprintf(what, sizeof(what), "indicator '%s'", config_setting_get_string(m));
  if (km == NULL)
    return fail(ld, g, "%s lacks the required key 'kind'", what);
  if (config_setting_type(km) == CONFIG_TYPE_STRING)
    kind = config_setting_get_string(km);
  for (k = 0; kinds[k]; k++)
    if (kind && strcmp(kind, kinds[k]) == 0)
      break;
  if (kinds[k] == NULL)
    return fail(ld, km, "%s: kind '%s' must be cumulative, level, standard or milestone", what,
                kind ? kind : "?");
  ind->kind = (enum pw_kind)k;
  if (walk(ld, g, indicator_keys, ind, BIT(k), what, kind) < 0 ||
      check_id(ld, config_setting_get_member(g, "id"), ind->id, "indicator") < 0)
    return -EINVAL;
  ind->cfg_file = keep_file(ld, g);
  ind->line = (int)config_setting_source_line(g);

  m = config_setting_get_member(g, "direction");
  ind->direction_down = 0;
  if (m != NULL) {
    char *text;
    if (read_string(ld, m, "direction", &text) < 0)
      return -EINVAL;
    if (strcmp(text, "down") == 0)
      ind->direction_down = 1;
    else if (strcmp(text, "up") != 0)
      return fail(ld, m, "%s: direction '%s' must be up or down", what, text);
  }
  m = config_setting_get_member(g, "pace");
  ind->pace = PW_PACE_DEFAULT;
  if (m != NULL) {
    char *text;
    if (read_string(ld, m, "pace", &text) < 0)
      return -EINVAL;
    if (strcmp(text, "linear") == 0)
      ind->pace = PW_PACE_LINEAR;
    else if (strcmp(text, "quarterly") == 0)
      ind->pace = PW_PACE_QUARTERLY;
    else if (strcmp(text, "step") == 0)
      ind->pace = PW_PACE_STEP;
    else
      return fail(ld, m, "%s: pace '%s' must be linear, quarterly or step", what, text);
  }

  /* Defaults that depend on the kind. */
  if (config_setting_get_member(g, "lag_warn") == NULL)
    ind->lag_warn = ind->kind <= PW_KIND_LEVEL ? 5.0 : 0.0;
  if (config_setting_get_member(g, "lag_crit") == NULL)
    ind->lag_crit = ind->kind <= PW_KIND_LEVEL ? 15.0 : ind->kind == PW_KIND_STANDARD ? 5.0 : 30.0;
  if (ind->lag_crit < ind->lag_warn)
    return fail(ld, g, "%s: lag_crit (%g) must not be below lag_warn (%g)", what, ind->lag_crit,
                ind->lag_warn);

  /* References. */
  ind->domain = find_by_id(c->domains, sizeof(*c->domains), c->n_domains, ind->domain_id);
  if (ind->domain < 0)
    return fail(ld, config_setting_get_member(g, "domain"), "%s names unknown domain '%s'", what,
                ind->domain_id);
  ind->department = -1;
  if (ind->department_id != NULL) {
    ind->department =
        find_by_id(c->departments, sizeof(*c->departments), c->n_departments, ind->department_id);
    if (ind->department < 0)
      return fail(ld, config_setting_get_member(g, "department"),
                  "%s names unknown department '%s'", what, ind->department_id);
  }
  ind->source = -1;
  if (ind->source_id != NULL) {
    ind->source = find_by_id(c->sources, sizeof(*c->sources), c->n_sources, ind->source_id);
    if (ind->source < 0)
      return fail(ld, config_setting_get_member(g, "source"), "%s names unknown source '%s'", what,
                  ind->source_id);
    if (ind->path == NULL || ind->path[0] == '\0')
      return fail(ld, g, "%s has a source but no path saying where its value is", what);
  } else if (ind->path != NULL || ind->as_of != NULL) {
    return fail(ld, config_setting_get_member(g, ind->path ? "path" : "as_of"),
                "%s: '%s' needs a source", what, ind->path ? "path" : "as_of");
  }
  if (config_setting_get_member(g, "stale_after") == NULL)
    ind->stale_after = (ind->source >= 0 && c->sources[ind->source].stale_after > 0)
                           ? c->sources[ind->source].stale_after
                           : 40 * 86400;
  if (ind->stale_after < 1)
    return fail(ld, config_setting_get_member(g, "stale_after"), "%s: stale_after must be > 0",
                what);

  if (ind->kind == PW_KIND_MILESTONE) {
    if (ind->stages.n < 2)
      return fail(ld, config_setting_get_member(g, "stages"),
                  "%s: stages must name at least two stages, in order", what);
    for (i = 0; i < ind->stages.n; i++)
      for (j = 0; j < i; j++)
        if (strcmp(ind->stages.items[i], ind->stages.items[j]) == 0)
          return fail(ld, config_setting_get_member(g, "stages"), "%s: stage '%s' appears twice",
                      what, ind->stages.items[i]);
  }

  targets = config_setting_get_member(g, "targets");
  if (config_setting_type(targets) != CONFIG_TYPE_LIST)
    return fail(ld, targets, "%s: targets must be a list ( { year = ...; ... } ) (may be empty)",
                what);
  ind->n_targets = config_setting_length(targets);
  ind->targets = arena_alloc(ld, sizeof(*ind->targets) * (size_t)(ind->n_targets + 1));
  if (ind->targets == NULL)
    return fail(ld, targets, "out of memory");
  for (i = 0; i < ind->n_targets; i++) {
    const config_setting_t *tg = config_setting_get_elem(targets, (unsigned)i);
    if (load_target(ld, tg, ind, &ind->targets[i], i) < 0)
      return -EINVAL;
    for (j = 0; j < i; j++)
      if (ind->targets[j].year == ind->targets[i].year)
        return fail(ld, tg, "%s: year %d has two targets", what, ind->targets[i].year);
  }
  return 0;
}

static int load_indicators(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "indicators", 1, &c->n_indicators);
  int i;

  if (list == NULL)
    return -EINVAL;
  c->indicators = arena_alloc(ld, sizeof(*c->indicators) * (size_t)(c->n_indicators + 1));
  if (c->indicators == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_indicators; i++)
    if (load_indicator(ld, config_setting_get_elem(list, (unsigned)i), &c->indicators[i], i) < 0)
      return -EINVAL;
  /* Each source's indicators, so that a poll walks its own ten, not a province's thousands. */
  for (i = 0; i < c->n_indicators; i++)
    if (c->indicators[i].source >= 0)
      c->sources[c->indicators[i].source].n_indicators++;
  for (i = 0; i < c->n_sources; i++) {
    c->sources[i].indicators =
        arena_alloc(ld, sizeof(int) * (size_t)(c->sources[i].n_indicators + 1));
    if (c->sources[i].indicators == NULL)
      return fail(ld, list, "out of memory");
    c->sources[i].n_indicators = 0;
  }
  for (i = 0; i < c->n_indicators; i++)
    if (c->indicators[i].source >= 0) {
      struct pw_source *src = &c->sources[c->indicators[i].source];
      src->indicators[src->n_indicators++] = i;
    }
  return check_unique(ld, list, c->indicators, sizeof(*c->indicators), c->n_indicators,
                      "indicator");
}

/* ---- alerting, silences, briefing ---- */

#define A(f) offsetof(struct pw_alerting, f)
static const struct key_spec alerting_keys[] = {
    {"for", K_DURATION, A(for_s), NO_HAS, 0, "0s", 0},
    {"repeat", K_DURATION, A(repeat), NO_HAS, 0, "24h", 0},
    {"group_wait", K_DURATION, A(group_wait), NO_HAS, 0, "30s", 0},
    {"send_resolved", K_BOOL, A(send_resolved), NO_HAS, 0, "true", 0},
    {"receivers", K_STRLIST, A(receivers), NO_HAS, 0, NULL, 0},
    {"escalate", K_STRLIST, A(escalate), NO_HAS, 0, NULL, 0},
    {"quiet_hours", K_MANUAL, 0, NO_HAS, 0, NULL, 0}, /* read by hand */
    {"give_up", K_DURATION, A(give_up), NO_HAS, 0, "48h", 0},
    {"source_down_after", K_DURATION, A(source_down_after), NO_HAS, 0, "6h", 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};
#undef A

/* "HH:MM" into minutes after midnight. */
static int parse_hhmm(const char *p, int *out) {
  if (!(p[0] >= '0' && p[0] <= '2' && p[1] >= '0' && p[1] <= '9' && p[2] == ':' && p[3] >= '0' &&
        p[3] <= '5' && p[4] >= '0' && p[4] <= '9'))
    return -EINVAL;
  *out = ((p[0] - '0') * 10 + (p[1] - '0')) * 60 + (p[3] - '0') * 10 + (p[4] - '0');
  return *out < 24 * 60 ? 0 : -EINVAL;
}

static int load_alerting(struct loader *ld, config_t *cfg) {
  struct pw_alerting *a = &ld->conf->alerting;
  const config_setting_t *s = config_lookup(cfg, "alerting");
  const config_setting_t *m;

  if (s == NULL) {
    /* No alerting group: every key takes its default. */
    const struct key_spec *k;
    for (k = alerting_keys; k->name; k++)
      if (read_key(ld, NULL, k, a) < 0)
        return -EINVAL;
    a->receiver_idx = arena_alloc(ld, sizeof(int));
    a->escalate_idx = arena_alloc(ld, sizeof(int));
    return 0;
  }
  if (walk(ld, s, alerting_keys, a, 0, "the alerting group", "") < 0)
    return -EINVAL;
  if (a->repeat < 1)
    return fail(ld, config_setting_get_member(s, "repeat"), "alerting.repeat must be > 0");
  if (a->give_up < 1)
    return fail(ld, config_setting_get_member(s, "give_up"), "alerting.give_up must be > 0");
  if (a->source_down_after < 1)
    return fail(ld, config_setting_get_member(s, "source_down_after"),
                "alerting.source_down_after must be > 0");
  m = config_setting_get_member(s, "quiet_hours");
  if (m != NULL) {
    char *text;
    if (read_string(ld, m, "quiet_hours", &text) < 0)
      return -EINVAL;
    if (text[0] != '\0') {
      if (strlen(text) != 11 || text[5] != '-' || parse_hhmm(text, &a->quiet_start) < 0 ||
          parse_hhmm(text + 6, &a->quiet_end) < 0 || a->quiet_start == a->quiet_end)
        return fail(ld, m, "quiet_hours '%s' must be \"HH:MM-HH:MM\" (e.g. \"22:00-07:30\")", text);
      a->has_quiet_hours = 1;
    }
  }
  if (resolve_receivers(ld, config_setting_get_member(s, "receivers"), &a->receivers,
                        &a->receiver_idx, "alerting.receivers") < 0 ||
      resolve_receivers(ld, config_setting_get_member(s, "escalate"), &a->escalate,
                        &a->escalate_idx, "alerting.escalate") < 0)
    return -EINVAL;
  return 0;
}

static const struct key_spec silence_keys[] = {
    {"indicator", K_STRING, offsetof(struct pw_silence, indicator), NO_HAS, 1, NULL, 0},
    {"until", K_MANUAL, 0, NO_HAS, 1, NULL, 0}, /* read by hand */
    {"reason", K_STRING, offsetof(struct pw_silence, reason), NO_HAS, 0, "", 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};

static int load_silences(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = top_list(ld, cfg, "silences", 0, &c->n_silences);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->silences = arena_alloc(ld, sizeof(*c->silences) * (size_t)(c->n_silences + 1));
  if (c->silences == NULL)
    return fail(ld, list, "out of memory");
  for (i = 0; i < c->n_silences; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    struct pw_silence *sl = &c->silences[i];
    const config_setting_t *u;
    char what[64], *text;

    snprintf(what, sizeof(what), "silence #%d", i + 1);
    if (walk(ld, g, silence_keys, sl, 0, what, "") < 0)
      return -EINVAL;
    sl->line = (int)config_setting_source_line(g);
    sl->indicator_idx = pw_config_indicator_index(c, sl->indicator);
    if (sl->indicator_idx < 0)
      return fail(ld, config_setting_get_member(g, "indicator"), "%s names unknown indicator '%s'",
                  what, sl->indicator);
    u = config_setting_get_member(g, "until");
    if (read_string(ld, u, "until", &text) < 0)
      return -EINVAL;
    if (parse_date_text(text, &sl->until) < 0 && pw_date_parse(text, &sl->until) < 0)
      return fail(ld, u, "%s: until '%s' must be a date \"YYYY-MM-DD\" or an ISO 8601 time", what,
                  text);
  }
  return 0;
}

static const struct key_spec briefing_keys[] = {
    {"schedule", K_MANUAL, 0, NO_HAS, 0, NULL, 0}, /* read by hand */
    {"title", K_STRING, offsetof(struct pw_briefing, title), NO_HAS, 0, "公共服务指标周报", 0},
    {"receivers", K_STRLIST, offsetof(struct pw_briefing, receivers), NO_HAS, 0, NULL, 0},
    {NULL, 0, 0, 0, 0, NULL, 0}};

static int load_briefing(struct loader *ld, config_t *cfg) {
  static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  struct pw_briefing *b = &ld->conf->briefing;
  const config_setting_t *s = config_lookup(cfg, "briefing");
  const config_setting_t *m;
  char *text;
  int d;

  b->weekday = 1;
  b->minute = 8 * 60;
  if (s == NULL) {
    b->title = arena_strdup(ld, briefing_keys[1].def);
    b->receiver_idx = arena_alloc(ld, sizeof(int));
    return 0;
  }
  if (walk(ld, s, briefing_keys, b, 0, "the briefing group", "") < 0)
    return -EINVAL;
  m = config_setting_get_member(s, "schedule");
  if (m != NULL) {
    if (read_string(ld, m, "schedule", &text) < 0)
      return -EINVAL;
    for (d = 0; d < 7; d++)
      if (strncasecmp(text, days[d], 3) == 0)
        break;
    if (d == 7 || strlen(text) != 9 || text[3] != ' ' || parse_hhmm(text + 4, &b->minute) < 0)
      return fail(ld, m,
                  "briefing.schedule '%s' must be a weekday and a local time, e.g. "
                  "\"Mon 08:00\"",
                  text);
    b->weekday = d + 1;
  }
  return resolve_receivers(ld, config_setting_get_member(s, "receivers"), &b->receivers,
                           &b->receiver_idx, "briefing.receivers");
}

/* ---- the pre-scan of raw text ---- */

/* Scans the raw text of one file for what libconfig 1.5 would accept silently or report
 * badly: a byte-order mark, and integer literals above 2147483647 written without the L
 * suffix (libconfig wraps them). Follows @include directives. */
static int prescan(struct loader *ld, const char *path, int depth) {
  char *text = NULL;
  size_t len;
  const char *p, *end;
  int line = 1, rc;
  char *dirbuf, *dir;

  rc = pw_read_file(path, 64u << 20, &text, &len);
  if (rc < 0) {
    if (depth == 0) {
      snprintf(ld->err, ld->errlen, "%s:0: cannot read the configuration: %s", path, strerror(-rc));
      ld->failed = 1;
      return rc;
    }
    return 0; /* libconfig reports a missing include with its line */
  }
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    snprintf(ld->err, ld->errlen,
             "%s:1: the file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 "
             "without BOM",
             path);
    ld->failed = 1;
    free(text);
    return -EINVAL;
  }
  dirbuf = strdup(path);
  dir = dirbuf ? dirname(dirbuf) : ".";
  p = text;
  end = text + len;
  while (p < end && !ld->failed) {
    if (*p == '\n') {
      line++;
      p++;
    } else if (*p == '"') {
      for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < end)
          p++;
        if (*p == '\n')
          line++;
      }
      p++;
    } else if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
      while (p < end && *p != '\n')
        p++;
    } else if (*p == '/' && p + 1 < end && p[1] == '*') {
      for (p += 2; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++)
        if (*p == '\n')
          line++;
      p += 2;
    } else if (*p == '@' && strncmp(p, "@include", 8) == 0) {
      const char *q = strchr(p, '"'), *qe = q ? strchr(q + 1, '"') : NULL;
      if (q && qe && qe < end) {
        char inc[4096];
        char *full;
        snprintf(inc, sizeof(inc), "%.*s", (int)(qe - q - 1), q + 1);
        full = pw_path_join(dir, inc);
        /* libconfig allows ten levels. Failing here, rather than skipping what is deeper, stops
         * the scan at once: a file including itself K times would otherwise be read K^11 times. */
        if (depth >= 10) {
          snprintf(ld->err, ld->errlen,
                   "%s:%d: @include nested more than 10 deep (does a file include itself?)", path,
                   line);
          ld->failed = 1;
        } else if (full) {
          prescan(ld, full, depth + 1);
        }
        free(full);
        p = qe + 1;
      } else {
        p++;
      }
    } else if (*p >= '0' && *p <= '9' &&
               (p == text || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                               p[-1] == '_' || p[-1] == '.'))) {
      const char *s = p;
      int hex = p[0] == '0' && p + 1 < end && (p[1] == 'x' || p[1] == 'X');
      if (hex) {
        for (p += 2; p < end && strchr("0123456789abcdefABCDEF", *p) && *p; p++)
          ;
      } else {
        while (p < end && *p >= '0' && *p <= '9')
          p++;
      }
      if (p < end && (*p == '.' || *p == 'e' || *p == 'E') && !hex) {
        while (p < end && strchr("0123456789.eE+-", *p) && *p)
          p++;
      } else if (p < end && *p == 'L') {
        p++;
      } else if (!hex) {
        size_t n = (size_t)(p - s);
        while (n > 1 && *s == '0')
          s++, n--;
        if (n > 10 || (n == 10 && strncmp(s, "2147483647", 10) > 0)) {
          snprintf(ld->err, ld->errlen,
                   "%s:%d: integer %.*s is too large for a plain integer (libconfig would "
                   "silently wrap it): write %.*sL, %.*s.0 or a string \"%.*s\"",
                   path, line, (int)n, s, (int)n, s, (int)n, s, (int)n, s);
          ld->failed = 1;
        }
      }
    } else {
      p++;
    }
  }
  free(dirbuf);
  free(text);
  return ld->failed ? -EINVAL : 0;
}

/* ---- entry points ---- */

static const char *const sections[] = {"daemon",     "domains",   "departments", "sources",
                                       "indicators", "receivers", "alerting",    "silences",
                                       "briefing",   NULL};

int pw_config_load(const char *path, struct pw_config **out, char *err, size_t errlen) {
  struct loader ld;
  struct pw_config *c;
  config_t cfg;
  char *real, *dirbuf;
  int i, j, rc = 0;
  const config_setting_t *root;

  *out = NULL;
  memset(&ld, 0, sizeof(ld));
  ld.err = err;
  ld.errlen = errlen;
  err[0] = '\0';
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return -ENOMEM;
  c->refs = 1;
  c->arena = calloc(1, sizeof(*c->arena));
  if (c->arena == NULL) {
    free(c);
    return -ENOMEM;
  }
  ld.conf = c;
  real = realpath(path, NULL);
  if (real == NULL) {
    rc = -errno;
    snprintf(err, errlen, "%s:0: cannot read the configuration: %s", path, strerror(errno));
    pw_config_free(c);
    return rc;
  }
  c->path = arena_strdup(&ld, real);
  dirbuf = strdup(real);
  c->dir = arena_strdup(&ld, dirbuf ? dirname(dirbuf) : ".");
  free(dirbuf);
  free(real);
  if (c->path == NULL || c->dir == NULL) {
    pw_config_free(c);
    return -ENOMEM;
  }
  /* Messages name the file as the user wrote it. */
  c->path = arena_strdup(&ld, path);
  if (prescan(&ld, path, 0) < 0) {
    pw_config_free(c);
    return -EINVAL;
  }

  config_init(&cfg);
  config_set_include_dir(&cfg, c->dir);
  config_set_auto_convert(&cfg, 0);
  if (config_read_file(&cfg, path) != CONFIG_TRUE) {
    const char *f = config_error_file(&cfg);
    const char *t = config_error_text(&cfg);
    const char *hint = "";
    if (t && strstr(t, "mismatched element type"))
      hint = " (an array [ ] holds one type: write 7800.0 instead of 7800 beside floats, or use "
             "a list ( ))";
    else if (t && strstr(t, "include"))
      hint = " (@include paths are relative to the configuration file's directory)";
    snprintf(err, errlen, "%s:%d: %s%s", f ? f : path, config_error_line(&cfg),
             t ? t : "parse error", hint);
    config_destroy(&cfg);
    pw_config_free(c);
    return -EINVAL;
  }

  root = config_root_setting(&cfg);
  for (i = 0; i < config_setting_length(root); i++) {
    const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
    for (j = 0; sections[j]; j++)
      if (strcmp(config_setting_name(m), sections[j]) == 0)
        break;
    if (sections[j] == NULL) {
      fail(&ld, m,
           "unknown top-level setting '%s' (expected daemon, domains, departments, sources, "
           "indicators, receivers, alerting, silences, briefing)",
           config_setting_name(m));
      break;
    }
  }
  if (!ld.failed)
    rc = load_daemon(&ld, &cfg);
  if (!ld.failed)
    rc = load_domains(&ld, &cfg);
  if (!ld.failed)
    rc = load_receivers(&ld, &cfg);
  if (!ld.failed)
    rc = load_departments(&ld, &cfg);
  for (i = 0; !ld.failed && i < c->n_departments; i++) {
    const config_setting_t *g =
        config_setting_get_elem(config_lookup(&cfg, "departments"), (unsigned)i);
    char what[96];
    snprintf(what, sizeof(what), "department '%s'", c->departments[i].id);
    rc = resolve_receivers(&ld, g, &c->departments[i].receivers, &c->departments[i].receiver_idx,
                           what);
  }
  if (!ld.failed)
    rc = load_sources(&ld, &cfg);
  if (!ld.failed)
    rc = load_indicators(&ld, &cfg);
  if (!ld.failed)
    rc = load_alerting(&ld, &cfg);
  if (!ld.failed)
    rc = load_silences(&ld, &cfg);
  if (!ld.failed)
    rc = load_briefing(&ld, &cfg);
  config_destroy(&cfg);
  if (ld.failed || rc < 0) {
    pw_config_free(c);
    return rc < 0 ? rc : -EINVAL;
  }
  *out = c;
  return 0;
}

struct pw_config *pw_config_ref(struct pw_config *conf) {
  if (conf != NULL)
    conf->refs++;
  return conf;
}

void pw_config_free(struct pw_config *conf) {
  size_t i;

  if (conf == NULL || --conf->refs > 0)
    return;
  if (conf->arena != NULL) {
    for (i = 0; i < conf->arena->n; i++)
      free(conf->arena->ptrs[i]);
    free(conf->arena->ptrs);
    free(conf->arena);
  }
  free(conf);
}

int pw_config_indicator_index(const struct pw_config *conf, const char *id) {
  return find_by_id(conf->indicators, sizeof(*conf->indicators), conf->n_indicators, id);
}

const struct pw_target *pw_config_target(const struct pw_indicator *ind, int year) {
  int i;

  for (i = 0; i < ind->n_targets; i++)
    if (ind->targets[i].year == year)
      return &ind->targets[i];
  return NULL;
}

enum pw_pace pw_config_pace(const struct pw_indicator *ind, const struct pw_target *tg) {
  if (ind->pace != PW_PACE_DEFAULT)
    return ind->pace;
  return tg != NULL && tg->has_quarters ? PW_PACE_QUARTERLY : PW_PACE_LINEAR;
}

const char *pw_kind_name(enum pw_kind kind) {
  return (unsigned)kind < 4 ? kinds[kind] : "?";
}

const char *pw_pace_name(enum pw_pace pace) {
  static const char *const names[] = {"default", "linear", "quarterly", "step"};
  return (unsigned)pace < 4 ? names[pace] : "?";
}

const char *pw_receiver_type_name(enum pw_receiver_type type) {
  return (unsigned)type < 6 ? receiver_types[type] : "?";
}
