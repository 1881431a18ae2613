/*
 * regex plugin: reads a figure out of any text (typically an HTML page) with a POSIX extended
 * regular expression whose first capture group is the value: the first match's group 1 is
 * returned as text, and the host reads the number, 万, % or date in it. Expressions are compiled
 * with REG_NEWLINE, so '^' and '$' match at the start and end of every line and '.' and
 * bracket expressions never cross a line end (a figure and its label are almost always on one
 * line, and this keeps a greedy ".*" from running to the end of the page). Matching is byte-wise
 * in the process's "C" locale, so a Chinese literal in an expression matches its UTF-8 bytes.
 */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_plugin.h"

static const struct pw_plugin_host *regex_host;

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

/* Compiles PATH into RE; on failure nothing is left to free. */
static int regex_compile(const char *path, regex_t *re, char *err, size_t errlen) {
  if (!path) {
    set_err(err, errlen, "no path");
    return -EINVAL;
  }
  int rc = regcomp(re, path, REG_EXTENDED | REG_NEWLINE);
  if (rc != 0) {
    char why[160];
    regerror(rc, re, why, sizeof why);
    set_err(err, errlen, "bad regular expression '%s': %s", path, why);
    return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
  }
  if (re->re_nsub < 1) {
    regfree(re);
    set_err(err, errlen, "regular expression '%s' needs a capture group ( ) around the value",
            path);
    return -EINVAL;
  }
  return 0;
}

static int regex_check_path(const char *path, char *err, size_t errlen) {
  regex_t re;
  int rc = regex_compile(path, &re, err, errlen);
  if (rc == 0)
    regfree(&re);
  return rc;
}

static int regex_parse(const struct pw_plugin_options *opts, const char *body, size_t len,
                       const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx,
                       char *err, size_t errlen) {
  if ((!body && len) || (!paths && n) || !emit) {
    set_err(err, errlen, "regex: bad arguments");
    return -EINVAL;
  }
  /* regexec needs a C string and the body is not NUL-terminated, so it is copied. Only the part
   * before the first NUL byte is searched: a NUL does not occur in text, and regexec would stop
   * there anyway. */
  const char *nul = len ? memchr(body, 0, len) : NULL;
  size_t n_text = nul ? (size_t)(nul - body) : len;
  char *text = malloc(n_text + 1);
  if (!text) {
    set_err(err, errlen, "regex: out of memory");
    return -ENOMEM;
  }
  if (n_text)
    memcpy(text, body, n_text);
  text[n_text] = 0;

  for (size_t i = 0; i < n; i++) {
    struct pw_plugin_value v = {0};
    char msg[512];
    regex_t re;
    regmatch_t m[2];
    if (regex_compile(paths[i], &re, msg, sizeof msg) < 0) {
      v.result = PW_PLUGIN_ERROR;
      v.error = msg;
      emit(ctx, i, &v);
      continue;
    }
    /* A match whose group 1 took no part (as in "a(b)?") has selected nothing either. */
    if (regexec(&re, text, 2, m, 0) != 0 || m[1].rm_so < 0) {
      v.result = PW_PLUGIN_NOT_FOUND;
    } else {
      v.result = PW_PLUGIN_TEXT;
      v.text = text + m[1].rm_so;
      v.text_len = (size_t)(m[1].rm_eo - m[1].rm_so);
    }
    emit(ctx, i, &v);
    regfree(&re);
  }
  free(text);
  return 0;
}

static const struct pw_plugin regex_plugin = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin),
    .name = "regex",
    .check_path = regex_check_path,
    .parse = regex_parse,
};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  /* Kept only for logging; the parser itself needs nothing from the host. */
  regex_host = host;
  return &regex_plugin;
}
