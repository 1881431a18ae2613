/*
 * config: loads the libconfig file of docs/configuration.md into validated structures, one
 * generation of the daemon's configuration (refcounted). This file is the entry point: it
 * reads the file (after a pre-scan, config_prescan.c) and loads its sections in an order that
 * lets each resolve the ids it names; the sections are tables of keys walked by one walker
 * (config_keys.c): config_sections.c (daemon, domains, departments, sources, receivers,
 * alerting, silences, briefing) and config_indicators.c (indicators and their targets). Every
 * error is reported as "FILE:LINE: message".
 */
#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_loader.h"

void *pw_config_alloc(struct loader *ld, size_t size) {
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

char *pw_config_strdup(struct loader *ld, const char *s) {
  size_t n = strlen(s);
  char *p = pw_config_alloc(ld, n + 1);

  if (p != NULL)
    memcpy(p, s, n + 1);
  return p;
}

/* ---- entry points ---- */

/* A new, empty configuration for the file PATH into LD: the file's absolute directory (the
 * base of relative paths) and the path as the user wrote it (for messages). Returns 0 or a
 * negative errno; on failure the caller frees LD->conf. */
static int config_new(struct loader *ld, const char *path) {
  struct pw_config *c = calloc(1, sizeof(*c));
  char *real, *dirbuf;
  int rc;

  if (c == NULL)
    return -ENOMEM;
  c->refs = 1;
  c->arena = calloc(1, sizeof(*c->arena));
  if (c->arena == NULL) {
    free(c);
    return -ENOMEM;
  }
  ld->conf = c;
  real = realpath(path, NULL);
  if (real == NULL) {
    rc = -errno;
    snprintf(ld->err, ld->errlen, "%s:0: cannot read the configuration: %s", path, strerror(-rc));
    return rc;
  }
  dirbuf = strdup(real);
  c->dir = pw_config_strdup(ld, dirbuf ? dirname(dirbuf) : ".");
  free(dirbuf);
  free(real);
  c->path = pw_config_strdup(ld, path);
  return c->dir != NULL && c->path != NULL ? 0 : -ENOMEM;
}

/* Reads PATH into CFG, after the pre-scan; on a syntax error writes "FILE:LINE: message" with
 * a hint for libconfig's two most puzzling messages. Returns 0 or -EINVAL. */
static int parse_file(struct loader *ld, config_t *cfg, const char *path) {
  const char *f, *t, *hint = "";

  if (pw_config_prescan(ld, path, 0, NULL, 0) < 0)
    return -EINVAL;
  config_set_include_dir(cfg, ld->conf->dir);
  config_set_auto_convert(cfg, 0);
  if (config_read_file(cfg, path) == CONFIG_TRUE)
    return 0;
  f = config_error_file(cfg);
  t = config_error_text(cfg);
  if (t && strstr(t, "mismatched element type"))
    hint = " (an array [ ] holds one type: write 7800.0 instead of 7800 beside floats, or use "
           "a list ( ))";
  else if (t && strstr(t, "include"))
    hint = " (@include paths are relative to the configuration file's directory)";
  snprintf(ld->err, ld->errlen, "%s:%d: %s%s", f ? f : path, config_error_line(cfg),
           t ? t : "parse error", hint);
  return -EINVAL;
}

/* The top-level settings, in the order they are loaded: a section may name the ids of those
 * before it (departments name receivers; indicators name domains, departments and sources;
 * alerting and the briefing name receivers; silences name indicators). */
static const struct section {
  const char *name;
  int (*load)(struct loader *ld, config_t *cfg);
} sections[] = {
    {"daemon", pw_config_load_daemon},       {"domains", pw_config_load_domains},
    {"receivers", pw_config_load_receivers}, {"departments", pw_config_load_departments},
    {"sources", pw_config_load_sources},     {"indicators", pw_config_load_indicators},
    {"alerting", pw_config_load_alerting},   {"silences", pw_config_load_silences},
    {"briefing", pw_config_load_briefing},   {NULL, NULL}};

static int load_sections(struct loader *ld, config_t *cfg) {
  const config_setting_t *root = config_root_setting(cfg);
  const struct section *sec;
  int i;

  for (i = 0; i < config_setting_length(root); i++) {
    const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
    for (sec = sections; sec->name; sec++)
      if (strcmp(config_setting_name(m), sec->name) == 0)
        break;
    if (sec->name == NULL)
      return pw_config_fail(
          ld, m,
          "unknown top-level setting '%s' (expected daemon, domains, departments, "
          "sources, indicators, receivers, alerting, silences, briefing)",
          config_setting_name(m));
  }
  for (sec = sections; sec->name; sec++)
    if (sec->load(ld, cfg) < 0 || ld->failed)
      return -EINVAL;
  return 0;
}

int pw_config_load(const char *path, struct pw_config **out, char *err, size_t errlen) {
  return pw_config_load_flags(path, 0, out, err, errlen);
}

int pw_config_load_flags(const char *path, unsigned flags, struct pw_config **out, char *err,
                         size_t errlen) {
  struct loader ld = {NULL, err, errlen, 0, flags};
  config_t cfg;
  int rc;

  *out = NULL;
  err[0] = '\0';
  rc = config_new(&ld, path);
  if (rc < 0) {
    pw_config_free(ld.conf);
    return rc;
  }
  config_init(&cfg);
  rc = parse_file(&ld, &cfg, path);
  if (rc == 0)
    rc = load_sections(&ld, &cfg);
  config_destroy(&cfg);
  if (rc < 0) {
    pw_config_free(ld.conf);
    return rc;
  }
  *out = ld.conf;
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

int pw_config_is_unresolved(const struct pw_config *conf, const char *value) {
  int i;

  for (i = 0; value != NULL && i < conf->n_unresolved; i++)
    if (conf->unresolved[i].value == value)
      return 1;
  return 0;
}

int pw_config_require(const struct pw_config *conf, const char *value, char *err, size_t errlen) {
  int i;

  for (i = 0; value != NULL && i < conf->n_unresolved; i++)
    if (conf->unresolved[i].value == value) {
      snprintf(err, errlen, "%s", conf->unresolved[i].why);
      return -EINVAL;
    }
  return 0;
}

int pw_config_indicator_index(const struct pw_config *conf, const char *id) {
  return pw_config_find_by_id(conf->indicators, sizeof(*conf->indicators), conf->n_indicators, id);
}

int pw_config_department_index(const struct pw_config *conf, const char *id) {
  return pw_config_find_by_id(conf->departments, sizeof(*conf->departments), conf->n_departments,
                              id);
}

int pw_config_indicator_find(const struct pw_config *conf, const char *text) {
  int i = pw_config_indicator_index(conf, text), k, found = -1;

  if (i >= 0)
    return i;
  for (k = 0; k < conf->n_indicators; k++) {
    if (conf->indicators[k].name == NULL || strcmp(conf->indicators[k].name, text) != 0)
      continue;
    if (found >= 0)
      return -1; /* two indicators share the name: the row must give the id */
    found = k;
  }
  return found;
}

const struct pw_target *pw_config_target(const struct pw_indicator *ind, int year) {
  int i;

  for (i = 0; i < ind->n_targets; i++)
    if (ind->targets[i].year == year)
      return &ind->targets[i];
  return NULL;
}

int pw_config_key_is_secret(const char *key) {
  static const char *const secret_keys[] = {"secret", "password", "http_token", "headers", NULL};
  int i;

  for (i = 0; secret_keys[i]; i++)
    if (strcmp(key, secret_keys[i]) == 0)
      return 1;
  return 0;
}

enum pw_pace pw_config_pace(const struct pw_indicator *ind, const struct pw_target *tg) {
  if (ind->pace != PW_PACE_DEFAULT)
    return ind->pace;
  return tg != NULL && tg->has_quarters ? PW_PACE_QUARTERLY : PW_PACE_LINEAR;
}
