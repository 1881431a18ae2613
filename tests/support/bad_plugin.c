/*
 * bad_plugin: a parser plugin built against a future ABI (major 99), so that tests can check
 * that the host refuses it with a log line instead of calling into it.
 */
#include <stddef.h>

#include "pw_plugin.h"

static int check_path(const char *path, char *err, size_t errlen) {
  (void)path;
  (void)err;
  (void)errlen;
  return 0;
}

static const struct pw_plugin bad = {99,   0,     sizeof(struct pw_plugin), "json", check_path,
                                     NULL, {NULL}};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  (void)host;
  return &bad;
}
