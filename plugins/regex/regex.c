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

/* Limits on what glibc's regcomp is given. It expands repetitions into copies of their
 * operand, so stacked or nested quantifiers ("a+++", "((a+)+)+") grow exponentially and nested
 * intervals ("((a{100}){100}){100}") multiply: a handful of characters can take minutes and
 * gigabytes to compile. Real expressions for a figure stay far below these limits. */
#define RX_MAX_LEN 4096
#define RX_MAX_GROUP_DEPTH 64
#define RX_MAX_QUANT_DEPTH 6
#define RX_MAX_SIZE 20000.0

struct rx_frame {
  double size;    /* estimated size of the group so far, repetitions expanded */
  int quant;      /* deepest nesting of quantifiers inside the group */
  double last;    /* size of the last atom, which a quantifier would repeat */
  int last_quant; /* nesting of quantifiers already on the last atom */
};

/* Reads an interval "{m}", "{m,}" or "{m,n}" at S; returns its length (0 if it is not one) and
 * the number of copies regcomp makes in *COPIES. */
static size_t rx_interval(const char *s, double *copies) {
  size_t i = 1;
  double m = 0, n;
  if (s[i] < '0' || s[i] > '9')
    return 0;
  while (s[i] >= '0' && s[i] <= '9' && m < 1e6)
    m = m * 10 + (s[i++] - '0');
  n = m;
  if (s[i] == ',') {
    i++;
    n = m + 1;
    if (s[i] >= '0' && s[i] <= '9') {
      n = 0;
      while (s[i] >= '0' && s[i] <= '9' && n < 1e6)
        n = n * 10 + (s[i++] - '0');
    }
  }
  if (s[i] != '}')
    return 0;
  *copies = n > m ? n : m;
  return i + 1;
}

/* Skips a bracket expression starting at S ('['), with its "[:class:]"-style items and a
 * leading ']' or "^]" taken literally. Returns its length, or 0 if it is unterminated (regcomp
 * then reports the error). */
static size_t rx_bracket(const char *s) {
  size_t i = 1;
  if (s[i] == '^')
    i++;
  if (s[i] == ']')
    i++;
  while (s[i] && s[i] != ']') {
    if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
      char kind = s[i + 1];
      const char *end = s + i + 2;
      while (*end && !(end[0] == kind && end[1] == ']'))
        end++;
      if (!*end)
        return 0;
      i = (size_t)(end - s) + 2;
      continue;
    }
    i++;
  }
  return s[i] == ']' ? i + 1 : 0;
}

/* Refuses, before regcomp sees them, the expressions that would take it (or regexec) far too
 * long: see RX_MAX_*. Back-references are refused too: they make regexec backtrack, which a
 * hostile body can turn into hours. */
static int regex_lint(const char *path, char *err, size_t errlen) {
  struct rx_frame st[RX_MAX_GROUP_DEPTH + 1];
  int depth = 0, after_quant = 0;
  size_t n = strlen(path);
  if (n > RX_MAX_LEN) {
    set_err(err, errlen, "regular expression longer than %d bytes", RX_MAX_LEN);
    return -EINVAL;
  }
  memset(&st[0], 0, sizeof st[0]);
  for (size_t i = 0; i < n;) {
    struct rx_frame *f = &st[depth];
    char c = path[i];
    double copies = 1;
    size_t len = 0;
    if (c == '*' || c == '+' || c == '?' || (c == '{' && (len = rx_interval(path + i, &copies)))) {
      if (after_quant) {
        set_err(err, errlen,
                "regular expression '%s': repetition operators in a row (as in 'a+*') are "
                "undefined in POSIX at byte %zu",
                path, i + 1);
        return -EINVAL;
      }
      /* glibc copies the operand of '+' once (a+ is aa*) and that of {m,n} n times. */
      if (c == '+')
        copies = 2;
      else if (c != '{')
        copies = 1;
      f->size += f->last * (copies - 1);
      f->last *= copies;
      f->last_quant++;
      if (f->last_quant > f->quant)
        f->quant = f->last_quant;
      if (f->quant > RX_MAX_QUANT_DEPTH || f->size > RX_MAX_SIZE) {
        set_err(err, errlen,
                "regular expression '%s' is too complex (nested repetitions) at byte %zu", path,
                i + 1);
        return -EINVAL;
      }
      after_quant = 1;
      i += len ? len : 1;
      continue;
    }
    after_quant = 0;
    double atom = 1;
    int atom_quant = 0;
    if (c == '\\') {
      if (path[i + 1] >= '1' && path[i + 1] <= '9') {
        set_err(err, errlen, "regular expression '%s': back-references (\\%c) are not supported",
                path, path[i + 1]);
        return -EINVAL;
      }
      i += path[i + 1] ? 2 : 1;
    } else if (c == '[') {
      len = rx_bracket(path + i);
      if (len == 0)
        return 0; /* unterminated: regcomp says so */
      i += len;
    } else if (c == '(') {
      if (depth == RX_MAX_GROUP_DEPTH) {
        set_err(err, errlen, "regular expression '%s' nests groups more than %d deep", path,
                RX_MAX_GROUP_DEPTH);
        return -EINVAL;
      }
      memset(&st[++depth], 0, sizeof st[0]);
      i++;
      continue;
    } else if (c == ')' && depth > 0) {
      atom = st[depth].size;
      atom_quant = st[depth].quant;
      f = &st[--depth];
      i++;
    } else if (c == '^' || c == '$' || c == '|') {
      atom = 0;
      i++;
    } else {
      i++;
    }
    f->size += atom;
    f->last = atom;
    f->last_quant = atom_quant;
    if (atom_quant > f->quant)
      f->quant = atom_quant;
    if (f->size > RX_MAX_SIZE) {
      set_err(err, errlen, "regular expression '%s' is too large once repetitions are expanded",
              path);
      return -EINVAL;
    }
  }
  return 0;
}

/* Compiles PATH into RE; on failure nothing is left to free. */
static int regex_compile(const char *path, regex_t *re, char *err, size_t errlen) {
  if (!path) {
    set_err(err, errlen, "no path");
    return -EINVAL;
  }
  if (regex_lint(path, err, errlen) < 0)
    return -EINVAL;
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
