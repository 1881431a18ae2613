/*
 * plugin_host: loads the parser plugins and vets them before any body is handed to one. Like
 * nginx's module signature check, a plugin built against another ABI major version is refused
 * rather than called through a table whose layout may differ.
 */
#define PW_LOG_MODULE "plugin"
#include "plugin_host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_PLUGINS 32

struct pw_plugins {
  void *handles[MAX_PLUGINS];
  const struct pw_plugin *plugins[MAX_PLUGINS];
  int n;
  char failed[512]; /* the first plugin that could not be loaded and why, or "" */
};

/* Logs why the plugin at PATH is not loaded, and keeps the first such line for -t. */
static void refuse(struct pw_plugins *p, const char *path, const char *why) {
  pw_log_error("%s: %s", path, why);
  if (p->failed[0] == '\0')
    snprintf(p->failed, sizeof(p->failed), "plugin %s: %s", path, why);
}

static void host_log(int level, const char *plugin, const char *fmt, ...) {
  char line[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (level < PW_LOG_ERROR || level > PW_LOG_DEBUG)
    level = PW_LOG_INFO;
  pw_log_write((enum pw_log_level)level, plugin, "%s", line);
}

static const struct pw_plugin_host host_table = {
    PW_PLUGIN_ABI_MAJOR, PW_PLUGIN_ABI_MINOR, sizeof(struct pw_plugin_host), host_log, {NULL}};

int pw_plugins_accept(const struct pw_plugin *pl, char *err, size_t errlen) {
  if (pl == NULL) {
    snprintf(err, errlen, "the entry point returned no description");
    return -EINVAL;
  }
  if (pl->abi_major != PW_PLUGIN_ABI_MAJOR) {
    snprintf(err, errlen, "ABI %u.%u, but this pacewatch speaks %d.x", pl->abi_major, pl->abi_minor,
             PW_PLUGIN_ABI_MAJOR);
    return -EINVAL;
  }
  if (pl->struct_size < sizeof(struct pw_plugin)) {
    snprintf(err, errlen, "its description is %u bytes, shorter than the %zu this host needs",
             pl->struct_size, sizeof(struct pw_plugin));
    return -EINVAL;
  }
  if (pl->name == NULL || pl->parse == NULL || pl->check_path == NULL) {
    snprintf(err, errlen, "its description lacks a name, parse or check_path");
    return -EINVAL;
  }
  return 0;
}

static void load_one(struct pw_plugins *p, const char *path) {
  void *h;
  pw_plugin_entry_fn entry;
  const struct pw_plugin *pl;
  char err[256], why[512];
  int i;

  if (p->n >= MAX_PLUGINS)
    return;

  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(why, sizeof(why), "cannot load: %s", dlerror());
    refuse(p, path, why);
    return;
  }
  *(void **)&entry = dlsym(h, PW_PLUGIN_ENTRY);
  if (entry == NULL) {
    snprintf(why, sizeof(why), "refused: no %s symbol", PW_PLUGIN_ENTRY);
    refuse(p, path, why);
    dlclose(h);
    return;
  }
  pl = entry(&host_table);
  if (pw_plugins_accept(pl, err, sizeof(err)) < 0) {
    snprintf(why, sizeof(why), "refused: %s", err);
    refuse(p, path, why);
    dlclose(h);
    return;
  }
  for (i = 0; i < p->n; i++) {
    if (strcmp(p->plugins[i]->name, pl->name) == 0) {
      /* The build directory comes first; an installed copy of the same plugin is ignored. */
      pw_log_debug("%s: plugin '%s' already loaded; ignored", path, pl->name);
      dlclose(h);
      return;
    }
  }
  pw_log_debug("loaded plugin '%s' (ABI %u.%u) from %s", pl->name, pl->abi_major, pl->abi_minor,
               path);
  p->handles[p->n] = h;
  p->plugins[p->n] = pl;
  p->n++;
}

static int load_dir(struct pw_plugins *p, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[PATH_MAX];
  char *names[MAX_PLUGINS];
  int n = 0, i, j;

  if (d == NULL)
    return -errno;
  while ((e = readdir(d)) != NULL && n < MAX_PLUGINS) {
    size_t len = strlen(e->d_name);
    if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0)
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  /* Load in name order so that logs and precedence do not depend on readdir's order. */
  for (i = 1; i < n; i++)
    for (j = i; j > 0 && names[j] && names[j - 1] && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (i = 0; i < n; i++) {
    if (names[i] != NULL &&
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path))
      load_one(p, path);
    free(names[i]);
  }
  return 0;
}

int pw_plugins_load(struct pw_plugins **out, char *err, size_t errlen) {
  struct pw_plugins *p = calloc(1, sizeof(*p));
  char exe[PATH_MAX], dir[PATH_MAX + 64] = "../lib/pacewatch/plugins beside the executable";
  ssize_t n;
  int found = 0;
  const char *env = getenv("PACEWATCH_PLUGIN_DIR");

  if (p == NULL)
    return -ENOMEM;
  if (env != NULL && env[0] != '\0')
    found += load_dir(p, env) == 0;
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    char *slash;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      snprintf(dir, sizeof(dir), "%s/../lib/pacewatch/plugins", exe);
      found += load_dir(p, dir) == 0;
    }
  }
  /* No directory fixed at build time: an installation under any prefix, or moved, finds its
   * plugins in PREFIX/lib/pacewatch/plugins beside PREFIX/bin (docs/install.md). */
  if (!found) {
    snprintf(err, errlen,
             "no plugin directory found (looked in %s; PACEWATCH_PLUGIN_DIR overrides)", dir);
    free(p);
    return -ENOENT;
  }
  *out = p;
  return 0;
}

const struct pw_plugin *pw_plugins_find(const struct pw_plugins *p, const char *name) {
  int i;

  for (i = 0; p != NULL && i < p->n; i++)
    if (strcmp(p->plugins[i]->name, name) == 0)
      return p->plugins[i];
  return NULL;
}

int pw_plugins_check_config(const struct pw_plugins *p, const struct pw_config *conf, char *err,
                            size_t errlen) {
  char msg[512];
  int i;

  for (i = 0; i < conf->n_sources; i++) {
    const struct pw_source *s = &conf->sources[i];
    const struct pw_plugin *pl = pw_plugins_find(p, s->format);
    if (pl == NULL) {
      snprintf(err, errlen, "%s:%d: source '%s': no parser plugin '%s' is installed", s->cfg_file,
               s->line, s->id, s->format);
      return -EINVAL;
    }
    if (s->as_of != NULL && s->as_of[0] != '\0' && pl->check_path(s->as_of, msg, sizeof(msg)) < 0) {
      snprintf(err, errlen, "%s:%d: source '%s': as_of: %s", s->cfg_file, s->line, s->id, msg);
      return -EINVAL;
    }
  }
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct pw_plugin *pl;
    if (ind->source < 0)
      continue;
    pl = pw_plugins_find(p, conf->sources[ind->source].format);
    if (pl->check_path(ind->path, msg, sizeof(msg)) < 0) {
      snprintf(err, errlen, "%s:%d: indicator '%s': path: %s", ind->cfg_file, ind->line, ind->id,
               msg);
      return -EINVAL;
    }
    if (ind->as_of != NULL && ind->as_of[0] != '\0' &&
        pl->check_path(ind->as_of, msg, sizeof(msg)) < 0) {
      snprintf(err, errlen, "%s:%d: indicator '%s': as_of: %s", ind->cfg_file, ind->line, ind->id,
               msg);
      return -EINVAL;
    }
    if (ind->note_path != NULL && pl->check_path(ind->note_path, msg, sizeof(msg)) < 0) {
      snprintf(err, errlen, "%s:%d: indicator '%s': note: %s", ind->cfg_file, ind->line, ind->id,
               msg);
      return -EINVAL;
    }
  }
  return 0;
}

int pw_plugins_failed(const struct pw_plugins *p, char *err, size_t errlen) {
  if (p == NULL || p->failed[0] == '\0')
    return 0;
  snprintf(err, errlen, "%s", p->failed);
  return -ENOEXEC;
}

void pw_plugins_free(struct pw_plugins *p) {
  int i;

  if (p == NULL)
    return;
  for (i = 0; i < p->n; i++)
    dlclose(p->handles[i]);
  free(p);
}
