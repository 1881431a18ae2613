/*
 * plugin_host: finds, loads and checks the parser plugins (plugins/include/pw_plugin.h). They
 * are looked for beside the executable (../lib/pacewatch/plugins, so a build runs without
 * installing) and in the installed plugin directory. A plugin of another ABI major version, or
 * with a struct shorter than the host's, is refused with a log line naming the file.
 */
#ifndef PW_PLUGIN_HOST_H
#define PW_PLUGIN_HOST_H

#include <stddef.h>

#include "config.h"
#include "pw_plugin.h"

struct pw_plugins;

/* Loads every plugin found. Returns 0 and *OUT (owned; free with pw_plugins_free), or a
 * negative errno with ERR set when no plugin directory could be read at all. */
int pw_plugins_load(struct pw_plugins **out, char *err, size_t errlen);

/* The plugin named NAME ("json"...), or NULL. */
const struct pw_plugin *pw_plugins_find(const struct pw_plugins *p, const char *name);

/* Checks that every source of CONF has a plugin and every path of every indicator (and as_of
 * path) is valid for it. Returns 0, or -EINVAL with "FILE:LINE: message" in ERR. */
int pw_plugins_check_config(const struct pw_plugins *p, const struct pw_config *conf, char *err,
                            size_t errlen);

/* Whether a file of a plugin directory could not be loaded (dlopen, its entry symbol, its ABI):
 * 0, or -ENOEXEC with the first such file and why in ERR. pw_plugins_load only logs them, so
 * that the daemon runs with the plugins it has; `pacewatchd -t` and `pacewatch check` refuse. */
int pw_plugins_failed(const struct pw_plugins *p, char *err, size_t errlen);

/* Unloads the plugins. Accepts NULL. */
void pw_plugins_free(struct pw_plugins *p);

/* Validates a plugin description against the host's ABI. Returns 0 or -EINVAL with ERR set.
 * (Exposed for tests.) */
int pw_plugins_accept(const struct pw_plugin *pl, char *err, size_t errlen);

#endif
