/*
 * preflight: what `pacewatchd -t` and `pacewatch check` check beyond the configuration's own
 * syntax, on the machine they run on (docs/cli.md#pacewatchd): that the state directory can be
 * created and written by the user the daemon runs as, that every ca_file and every file source
 * can be read, and that every file of the plugin directories loads. Both programs call it after
 * loading the configuration and the plugins; the daemon does not call it when it starts (a file
 * source that is missing then is a failing source, not a refusal to run).
 */
#ifndef PW_PREFLIGHT_H
#define PW_PREFLIGHT_H

#include <stddef.h>

#include "config.h"
#include "plugin_host.h"

/* Checks CONF (borrowed) and PLUGINS (borrowed) on this machine. The user the checks are made
 * for is the one running the program, or daemon.user when it runs as root and that is set.
 * Returns 0, or a negative errno with the first problem in ERR: "FILE:LINE: message" naming
 * the key, the item and the path. Blocking (stat, open): programs' start only. */
int pw_preflight(const struct pw_config *conf, const struct pw_plugins *plugins, char *err,
                 size_t errlen);

#endif
