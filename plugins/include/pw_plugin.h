/*
 * pw_plugin.h: the ABI between pacewatchd and its parser plugins. A plugin is a shared object
 * exporting one function, pw_plugin_entry, which receives the host's function table and returns
 * the plugin's description. The host refuses a plugin whose abi_major differs from its own or
 * whose struct_size is smaller than the struct it knows.
 *
 * A parser is pure: parse() takes the bytes of one response and the list of queries (the paths
 * of every indicator of the source, and as_of paths), parses the body once, and reports exactly
 * one result per query through the emit callback. It does no I/O and keeps no state between
 * calls, so every plugin can be tested (and fuzzed) on its own.
 */
#ifndef PW_PLUGIN_H
#define PW_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define PW_PLUGIN_ABI_MAJOR 1
#define PW_PLUGIN_ABI_MINOR 0

/* Log levels given to host->log (the same order as the daemon's). */
enum pw_plugin_log {
  PW_PLUGIN_LOG_ERROR = 0,
  PW_PLUGIN_LOG_WARN,
  PW_PLUGIN_LOG_INFO,
  PW_PLUGIN_LOG_DEBUG
};

/* What one query selected. */
enum pw_plugin_result {
  PW_PLUGIN_NOT_FOUND = 0, /* the path selects nothing: not published */
  PW_PLUGIN_NULL,          /* a JSON null (also not published) */
  PW_PLUGIN_NUMBER,        /* a number: NUMBER is set (TEXT too, as written, when available) */
  PW_PLUGIN_TEXT,          /* text: TEXT/TEXT_LEN (not NUL-terminated necessarily) */
  PW_PLUGIN_ERROR          /* e.g. the path selects several nodes: ERROR says which */
};

struct pw_plugin_value {
  enum pw_plugin_result result;
  double number;
  const char *text; /* borrowed: valid only during the emit call */
  size_t text_len;
  int has_timestamp; /* prometheus: the sample's own timestamp */
  int64_t timestamp_ms;
  const char *error; /* PW_PLUGIN_ERROR: a message naming the problem (borrowed) */
};

/* Options a source gives its parser. */
struct pw_plugin_options {
  char csv_delimiter; /* ',' by default */
};

/* Functions the host gives a plugin. */
struct pw_plugin_host {
  uint32_t abi_major, abi_minor;
  uint32_t struct_size; /* sizeof(struct pw_plugin_host) of the host */
  /* Writes a log line attributed to the plugin. */
  void (*log)(int level, const char *plugin, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));
  void *reserved[8];
};

/* Receives the result of query INDEX (called exactly once per query when parse succeeds). */
typedef void (*pw_plugin_emit_cb)(void *ctx, size_t index, const struct pw_plugin_value *value);

struct pw_plugin {
  uint32_t abi_major, abi_minor;
  uint32_t struct_size; /* sizeof(struct pw_plugin) of the plugin */
  const char *name;     /* "json", "csv", "prometheus", "regex" */

  /* Checks that PATH is valid syntax for this parser. Returns 0, or -EINVAL with a message in
   * ERR. Called for every path at configuration time. */
  int (*check_path)(const char *path, char *err, size_t errlen);

  /* Parses BODY (LEN bytes, not NUL-terminated necessarily) once and evaluates the N queries
   * PATHS against it, calling EMIT(CTX, i, value) once for each i in 0..N-1. Returns 0, or
   * -EINVAL when the body cannot be parsed at all (ERR says why; nothing is emitted). */
  int (*parse)(const struct pw_plugin_options *opts, const char *body, size_t len,
               const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx, char *err,
               size_t errlen);

  void *reserved[8];
};

/* The one symbol a plugin exports. HOST is valid for the life of the process. Returns the
 * plugin's static description. */
typedef const struct pw_plugin *(*pw_plugin_entry_fn)(const struct pw_plugin_host *host);
#define PW_PLUGIN_ENTRY "pw_plugin_entry"

#endif
