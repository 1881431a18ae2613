/*
 * config_prescan: scans the raw text of a configuration file before libconfig 1.5 reads it,
 * for what that version accepts silently or reports badly: integer literals that silently
 * wrap, and a UTF-8 byte-order mark that it reports only as a syntax error.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_loader.h"
#include "util.h"

/* ---- the pre-scan of raw text ---- */

/* One pass over the raw text of one file. */
struct scan {
  struct loader *ld;
  const char *path, *dir; /* the file, and the directory its @include paths are relative to */
  const char *text, *p, *end;
  int line, depth;
};

/* Skips a quoted string, which may hold escaped quotes and line ends. */
static void skip_string(struct scan *sc) {
  const char *p;

  for (p = sc->p + 1; p < sc->end && *p != '"'; p++) {
    if (*p == '\\' && p + 1 < sc->end)
      p++;
    if (*p == '\n')
      sc->line++;
  }
  sc->p = p + 1;
}

static int at_line_comment(const struct scan *sc) {
  return *sc->p == '#' || (*sc->p == '/' && sc->p + 1 < sc->end && sc->p[1] == '/');
}

static int at_block_comment(const struct scan *sc) {
  return *sc->p == '/' && sc->p + 1 < sc->end && sc->p[1] == '*';
}

static void skip_block_comment(struct scan *sc) {
  const char *p;

  for (p = sc->p + 2; p + 1 < sc->end && !(p[0] == '*' && p[1] == '/'); p++)
    if (*p == '\n')
      sc->line++;
  sc->p = p + 2;
}

/* Scans the file an @include directive names, when it can be found. */
static void scan_include(struct scan *sc) {
  const char *q = strchr(sc->p, '"'), *qe = q ? strchr(q + 1, '"') : NULL;
  char inc[4096];
  char *full;

  if (!(q && qe && qe < sc->end)) {
    sc->p++;
    return;
  }
  snprintf(inc, sizeof(inc), "%.*s", (int)(qe - q - 1), q + 1);
  full = pw_path_join(sc->dir, inc);
  if (full) {
    pw_config_prescan(sc->ld, full, sc->depth + 1);
    free(full);
  }
  sc->p = qe + 1;
}

/* A number starts here, not inside a name such as "q1" or after a decimal point. */
static int at_number(const struct scan *sc) {
  const char *p = sc->p;

  return *p >= '0' && *p <= '9' &&
         (p == sc->text || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                             p[-1] == '_' || p[-1] == '.'));
}

/* Skips a number; a decimal integer literal without the L suffix must fit in 32 bits, since
 * libconfig 1.5 silently wraps a larger one. */
static void check_number(struct scan *sc) {
  const char *p = sc->p, *s = p, *end = sc->end;
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
      snprintf(sc->ld->err, sc->ld->errlen,
               "%s:%d: integer %.*s is too large for a plain integer (libconfig would "
               "silently wrap it): write %.*sL, %.*s.0 or a string \"%.*s\"",
               sc->path, sc->line, (int)n, s, (int)n, s, (int)n, s, (int)n, s);
      sc->ld->failed = 1;
    }
  }
  sc->p = p;
}

static void scan_text(struct scan *sc) {
  while (sc->p < sc->end && !sc->ld->failed) {
    if (*sc->p == '\n') {
      sc->line++;
      sc->p++;
    } else if (*sc->p == '"') {
      skip_string(sc);
    } else if (at_line_comment(sc)) {
      while (sc->p < sc->end && *sc->p != '\n')
        sc->p++;
    } else if (at_block_comment(sc)) {
      skip_block_comment(sc);
    } else if (*sc->p == '@' && strncmp(sc->p, "@include", 8) == 0) {
      scan_include(sc);
    } else if (at_number(sc)) {
      check_number(sc);
    } else {
      sc->p++;
    }
  }
}

/* Scans the raw text of one file for what libconfig 1.5 would accept silently or report
 * badly: a byte-order mark, and integer literals above 2147483647 written without the L
 * suffix (libconfig wraps them). Follows @include directives. */
int pw_config_prescan(struct loader *ld, const char *path, int depth) {
  struct scan sc = {ld, path, ".", NULL, NULL, NULL, 1, depth};
  char *text = NULL, *dirbuf;
  size_t len;
  int rc;

  if (depth > 10)
    return 0;
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
  if (dirbuf != NULL)
    sc.dir = dirname(dirbuf);
  sc.text = sc.p = text;
  sc.end = text + len;
  scan_text(&sc);
  free(dirbuf);
  free(text);
  return ld->failed ? -EINVAL : 0;
}
