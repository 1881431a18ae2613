/*
 * config_loader.h: what the files of the configuration loader share (config.c,
 * config_keys.c, config_sections.c, config_indicators.c, config_prescan.c); private to them:
 * every other module reads the configuration through config.h. All of it runs on the thread
 * that calls pw_config_load.
 */
#ifndef PW_CONFIG_LOADER_H
#define PW_CONFIG_LOADER_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

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
  unsigned flags; /* of pw_config_load_flags */
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
  K_FN,     /* read by the key's own function */
  K_MANUAL, /* read before the walk: it says which keys apply (kind, type) or names the item */
};

/* The item a walk fills: a group of the file and the struct it becomes. */
struct item {
  const config_setting_t *g; /* NULL for an absent optional group: every key takes its default */
  void *obj;
  unsigned mask;      /* the bit of the item's kind or type (0 when the section has none) */
  const char *what;   /* names the item in messages: "indicator 'x'", "source #2" */
  const char *kind;   /* names its kind for keys that do not apply to it ("" when none) */
  const char *noun;   /* what its id is the id of: "indicator", "source", ... */
  const void *parent; /* the item it belongs to (a target's indicator), else NULL */
};

struct key_spec;

/* A key's own function, called once every typed key of the item is read, in table order, when
 * the key applies to the item's kind: it reads a key of its own syntax (K_FN) or checks a typed
 * value against the rest of the item, and may set defaults that depend on other keys. S is the
 * key's setting, NULL when the key is absent. Returns 0 or -EINVAL (after fail()). */
typedef int (*key_fn)(struct loader *ld, const struct item *it, const struct key_spec *k,
                      const config_setting_t *s);

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
  key_fn fn;
};

/* The key_fn of a short text written for people (a label, an office, a basis): when present it
 * must be non-empty, one line without control characters, and at most 60 characters (200 for
 * `basis`). */
int pw_config_key_text(struct loader *ld, const struct item *it, const struct key_spec *k,
                       const config_setting_t *s);

#define NO_HAS ((size_t)-1)
#define BIT(x) (1u << (x))

/* Where key K of item IT is stored. */
#define FIELD(it, k, type) ((type *)((char *)(it)->obj + (k)->offset))

/* The reporting deadline keys of item IT (a department or an indicator), as read: report_day
 * DAY (written when HAS_DAY), report_after_quarter AFTER, report_remind REMIND. Checks the
 * bounds of docs/configuration.md and that not both deadlines are written. 0 or -EINVAL. */
int pw_config_check_report(struct loader *ld, const struct item *it, int64_t day, int has_day,
                           int64_t after, int has_after, int64_t remind, int has_remind);

/* ---- config.c ---- */

/* Allocates SIZE zeroed bytes (or copies S) owned by the configuration being loaded: freed
 * with it by pw_config_free. NULL when out of memory. */
void *pw_config_alloc(struct loader *ld, size_t size);
char *pw_config_strdup(struct loader *ld, const char *s);

/* ---- config_keys.c ---- */

/* Records the first error as "FILE:LINE: message" (the file and line of setting S, the main
 * file and line 0 when S is NULL); later errors are dropped so the user sees the one that
 * stopped the load. Always returns -EINVAL. */
int pw_config_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The file of setting S as a string the configuration owns (libconfig frees its own copy). */
const char *pw_config_keep_file(struct loader *ld, const config_setting_t *s);

/* Readers of one value of setting S, named WHAT in messages: a UTF-8 string with ${NAME}
 * substituted (owned by the configuration), and a whole number of at least 0 (written as a
 * number or in the value grammar). Return 0 or -EINVAL. */
int pw_config_read_string(struct loader *ld, const config_setting_t *s, const char *what,
                          char **out);
int pw_config_read_int(struct loader *ld, const config_setting_t *s, const char *what,
                       int64_t *out);

/* VALUE of key KEY as a message may show it (docs/configuration.md, "Secrets in messages"):
 * "***" for a secret key (pw_config_key_is_secret), the redacted URL (pw_redact_url) for a URL
 * key or a value holding "://", VALUE itself otherwise. Returns VALUE or BUF (LEN bytes). */
const char *pw_config_shown(const char *key, const char *value, char *buf, size_t len);

/* The key_fn of secret_file, password_file and http_token_file (K_FN keys whose offset is the
 * plain key's field): reads the named file (relative to the configuration's directory; whole
 * content, one trailing newline stripped) into the plain key, which must then not be written.
 * Returns 0 or -EINVAL. */
int pw_config_key_secret_file(struct loader *ld, const struct item *it, const struct key_spec *k,
                              const config_setting_t *s);

/* Whether VALUE was left unresolved by a lazy load (pw_config_require). */
int pw_config_is_unresolved(const struct pw_config *conf, const char *value);

/* A calendar date "YYYY-MM-DD" into the end of that day; 0 or -EINVAL. */
int pw_config_parse_date(const char *text, int64_t *out);

/* Whether S is an array [ ] or a list ( ). */
int pw_config_is_list(const config_setting_t *s);

/* The line of setting NAME of group G, or DEF when G has none. */
int pw_config_key_line(const config_setting_t *g, const char *name, int def);

/* Setting NAME of item IT's group, or NULL (also when the group is absent). */
const config_setting_t *pw_config_member(const struct item *it, const char *name);

/* Applies TABLE to item IT: every member of its group must be a key of the table that applies
 * to the item's kind, required keys must be present, others get defaults; then the keys' own
 * functions run, in table order. Returns 0 or -EINVAL. */
int pw_config_walk(struct loader *ld, const struct item *it, const struct key_spec *table);

/* The top-level list of groups NAME of CFG with its length in *COUNT; NULL when absent (an
 * error when REQUIRED) or not a list (an error). */
const config_setting_t *pw_config_top_list(struct loader *ld, config_t *cfg, const char *name,
                                           int required, int *count);

/* Checks that the ids of N items (STRIDE bytes apart, id first) of LIST are unique; WHAT
 * names an item. Returns 0 or -EINVAL. */
int pw_config_check_unique(struct loader *ld, const config_setting_t *list, const void *items,
                           size_t stride, int n, const char *what);

/* The key_fn of every table's "id": 1 to 64 characters of a-z, 0-9 and _. */
int pw_config_key_id(struct loader *ld, const struct item *it, const struct key_spec *k,
                     const config_setting_t *s);

/* Resolves the receiver ids IDS (named by WHAT, at setting S) into indices in *OUT (owned by
 * the configuration), failing on an unknown one. Receivers must be loaded. */
int pw_config_resolve_receivers(struct loader *ld, const config_setting_t *s,
                                const struct pw_strlist *ids, int **out, const char *what);

/* The index of the item with id ID among N items STRIDE bytes apart (id first), or -1. */
int pw_config_find_by_id(const void *items, size_t stride, int n, const char *id);

/* ---- config_prescan.c ---- */

/* Scans the raw text of file PATH (and the files it includes, DEPTH deep so far) for what
 * libconfig 1.5 would accept silently, report badly or block on; PATH is the main file when
 * FROM is NULL, else the target of the @include at FROM:FROM_LINE. Every file is opened
 * without blocking and must be a regular file. Returns 0, or a negative errno with the error
 * recorded. */
int pw_config_prescan(struct loader *ld, const char *path, int depth, const char *from,
                      int from_line);

/* ---- config_sections.c, config_indicators.c ---- */

/* Each loads one top-level section of CFG into LD->conf; 0 or -EINVAL. Called in the order of
 * config.c's table of sections. */
int pw_config_load_daemon(struct loader *ld, config_t *cfg);
int pw_config_load_domains(struct loader *ld, config_t *cfg);
int pw_config_load_receivers(struct loader *ld, config_t *cfg);
int pw_config_load_departments(struct loader *ld, config_t *cfg);
int pw_config_load_sources(struct loader *ld, config_t *cfg);
int pw_config_load_indicators(struct loader *ld, config_t *cfg);
int pw_config_load_alerting(struct loader *ld, config_t *cfg);
int pw_config_load_silences(struct loader *ld, config_t *cfg);
int pw_config_load_briefing(struct loader *ld, config_t *cfg);

#endif
