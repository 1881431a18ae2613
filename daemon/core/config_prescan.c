/*
 * config_prescan: scans the raw text of a configuration file before libconfig 1.5 reads it,
 * for what that version accepts silently or reports badly: integer literals that silently
 * wrap, a UTF-8 byte-order mark that it reports only as a syntax error, and @include targets
 * that are not regular files. libconfig 1.5 opens an included file itself with fopen and has
 * no hook to do it for us (config_set_include_func came with 1.7): a FIFO would block the
 * load for ever, and a directory makes its scanner exit the process. So every include target
 * is resolved here exactly as libconfig will resolve it and opened without blocking before
 * libconfig sees the file (docs/configuration.md, "The file").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_loader.h"
#include "util.h"

/* ---- the pre-scan of raw text ---- */

/* One pass over the raw text of one file. */
struct scan {
  struct loader *ld;
  const char *path; /* the file, as messages name it */
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

/* What a file that is not a regular one is, for messages. */
static const char *file_kind(const char *path) {
  struct stat st;

  if (stat(path, &st) != 0)
    return "not a regular file";
  if (S_ISFIFO(st.st_mode))
    return "a FIFO";
  if (S_ISDIR(st.st_mode))
    return "a directory";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
    return "a device";
  if (S_ISSOCK(st.st_mode))
    return "a socket";
  return "not a regular file";
}

/* An @include directive at SC->p. libconfig 1.5 takes one only as `@include` followed by
 * blanks and a quoted name at the start of a line; the name runs to the next quote, its
 * backslashes are dropped, and it is opened as the include directory (the main file's) + "/" +
 * name, an absolute name included. The same file is checked here: it must be a regular file
 * (pw_read_file never blocks on a FIFO) and is scanned in turn. A missing file is left to
 * libconfig, which names the line. */
static void scan_include(struct scan *sc) {
  const char *q = sc->p + 8, *qe, *c;
  struct pw_buf name = {NULL, 0, 0, 4096};
  struct pw_buf full = {NULL, 0, 0, 8192};
  int line = sc->line, rc = 0;

  while (q < sc->end && (*q == ' ' || *q == '\t'))
    q++;
  if (q == sc->p + 8 || q >= sc->end || *q != '"') {
    sc->p += 8; /* libconfig reports it as a syntax error */
    return;
  }
  qe = memchr(q + 1, '"', (size_t)(sc->end - q - 1));
  if (qe == NULL) {
    sc->p = sc->end;
    return;
  }
  for (c = q + 1; c < qe && rc == 0; c++) {
    if (*c == '\n')
      sc->line++;
    if (*c != '\\')
      rc = pw_buf_append(&name, c, 1);
  }
  sc->p = qe + 1;
  if (rc == 0)
    rc = pw_buf_printf(&full, "%s/%s", sc->ld->conf->dir, name.data ? name.data : "");
  if (rc < 0) {
    snprintf(sc->ld->err, sc->ld->errlen, "%s:%d: @include: %s", sc->path, line,
             rc == -E2BIG ? "the file name is too long" : strerror(-rc));
    sc->ld->failed = 1;
  } else {
    pw_config_prescan(sc->ld, full.data, sc->depth + 1, sc->path, line);
  }
  pw_buf_free(&name);
  pw_buf_free(&full);
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

/* Scans the raw text of one file for what libconfig 1.5 would accept silently, report badly
 * or block on: a byte-order mark, integer literals above 2147483647 written without the L
 * suffix (libconfig wraps them), and @include targets that are not regular files. Follows
 * @include directives. */
int pw_config_prescan(struct loader *ld, const char *path, int depth, const char *from,
                      int from_line) {
  struct scan sc = {ld, path, NULL, NULL, NULL, 1, depth};
  char *text = NULL;
  size_t len;
  int rc;

  /* Read before the depth is checked: the file is opened without blocking whatever its depth,
   * and only a regular file is read. */
  rc = pw_read_file(path, 64u << 20, &text, &len);
  if (rc == -EINVAL || rc == -EISDIR) {
    if (from == NULL)
      snprintf(ld->err, ld->errlen,
               "%s:0: cannot read the configuration: it is %s, not a regular file", path,
               file_kind(path));
    else
      snprintf(ld->err, ld->errlen, "%s:%d: cannot @include %s: it is %s, not a regular file", from,
               from_line, path, file_kind(path));
    ld->failed = 1;
    return -EINVAL;
  }
  if (rc < 0) {
    if (from == NULL) {
      snprintf(ld->err, ld->errlen, "%s:0: cannot read the configuration: %s", path, strerror(-rc));
      ld->failed = 1;
      return rc;
    }
    return 0; /* libconfig reports a missing include with its line */
  }
  if (depth > 10) {
    /* libconfig allows ten levels. Failing here, rather than skipping what is deeper, stops
     * the scan at once: a file including itself K times would otherwise be read K^11 times. */
    free(text);
    snprintf(ld->err, ld->errlen,
             "%s:%d: @include nested more than 10 deep (does a file include itself?)", from,
             from_line);
    ld->failed = 1;
    return -EINVAL;
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
  sc.text = sc.p = text;
  sc.end = text + len;
  scan_text(&sc);
  free(text);
  return ld->failed ? -EINVAL : 0;
}
