/*
 * import: loads a CSV file of samples (indicator,as_of,value). Every row is read and validated
 * first; nothing is written unless all of them are good.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "util.h"
#include "value.h"

/* Splits one CSV record (RFC 4180) starting at *P into up to MAXF fields, unquoting into BUF.
 * Advances *P past the record and counts physical lines in *LINES. Returns the number of
 * fields, or -EINVAL for a malformed quote. */
static int csv_record(const char **p, const char *end, char *buf, size_t bufsize, char **fields,
                      int maxf, int *lines) {
  const char *s = *p;
  size_t o = 0;
  int nf = 0;

  fields[nf++] = buf;
  while (s < end && *s != '\n') {
    if (*s == '"' && (o == 0 || buf[o - 1] == '\0')) {
      for (s++;; s++) {
        if (s >= end)
          return -EINVAL;
        if (*s == '"') {
          if (s + 1 < end && s[1] == '"') {
            s++;
          } else {
            s++;
            break;
          }
        }
        if (*s == '\n')
          (*lines)++;
        if (o + 1 >= bufsize)
          return -E2BIG;
        buf[o++] = *s;
      }
      if (s < end && *s != ',' && *s != '\n' && *s != '\r')
        return -EINVAL;
      continue;
    }
    if (*s == ',') {
      if (o + 1 >= bufsize)
        return -E2BIG;
      buf[o++] = '\0';
      if (nf < maxf)
        fields[nf] = buf + o;
      nf++;
      s++;
      continue;
    }
    if (*s == '\r' && (s + 1 == end || s[1] == '\n')) {
      s++;
      continue;
    }
    if (o + 1 >= bufsize)
      return -E2BIG;
    buf[o++] = *s++;
  }
  buf[o] = '\0';
  *p = s < end ? s + 1 : s;
  return nf;
}

static char *trim(char *s) {
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

static int row_cmp(const void *a, const void *b) {
  const struct cli_row *x = a, *y = b;

  if (x->ind != y->ind)
    return x->ind < y->ind ? -1 : 1;
  if (x->as_of != y->as_of)
    return x->as_of < y->as_of ? -1 : 1;
  return 0;
}

/* Reads and validates every row first; nothing is written unless all of them are good. */
int cmd_import(struct cli *c) {
  const char *path;
  char *text = NULL, *buf = NULL;
  size_t len;
  const char *p, *end;
  struct cli_row *rows = NULL;
  size_t n = 0, cap = 0, i;
  int line = 1, rc, nf, ret = EXIT_FAIL;
  char *f[8];
  int64_t now = pw_clock_now();
  unsigned long skipped = 0;
  struct cli_counts cnt;

  if (c->argc != 1) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  path = c->argv[0];
  rc = pw_read_file(path, 256u << 20, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-rc));
    return EXIT_FAIL;
  }
  if (!pw_utf8_valid(text, len)) {
    fprintf(stderr, "%s:1: the file is not UTF-8 (save the spreadsheet as CSV UTF-8)\n", path);
    goto out;
  }
  p = text;
  end = text + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  buf = malloc(len + 16);
  if (buf == NULL)
    goto out;
  nf = csv_record(&p, end, buf, len + 16, f, 8, &line);
  if (nf != 3 || strcmp(trim(f[0]), "indicator") != 0 || strcmp(trim(f[1]), "as_of") != 0 ||
      strcmp(trim(f[2]), "value") != 0) {
    fprintf(stderr, "%s:1: the header must be exactly: indicator,as_of,value\n", path);
    goto out;
  }
  while (p < end) {
    int row_line = ++line;
    struct cli_row r;
    char *id, *date, *val;
    const struct pw_indicator *ind;

    nf = csv_record(&p, end, buf, len + 16, f, 8, &line);
    if (nf < 0) {
      fprintf(stderr, "%s:%d: malformed quoting\n", path, row_line);
      goto out;
    }
    if (nf == 1 && trim(f[0])[0] == '\0')
      continue; /* a blank line */
    if (nf != 3) {
      fprintf(stderr, "%s:%d: expected 3 fields (indicator,as_of,value), found %d\n", path,
              row_line, nf);
      goto out;
    }
    id = trim(f[0]);
    date = trim(f[1]);
    val = trim(f[2]);
    r.line = row_line;
    r.ind = pw_config_indicator_index(c->conf, id);
    if (r.ind < 0) {
      fprintf(stderr, "%s:%d: unknown indicator '%s'\n", path, row_line, id);
      goto out;
    }
    ind = &c->conf->indicators[r.ind];
    if (pw_date_parse(date, &r.as_of) < 0) {
      fprintf(stderr, "%s:%d: indicator '%s': bad date '%s'\n", path, row_line, id, date);
      goto out;
    }
    rc = pw_sample_value_parse(ind, val, &r.value);
    if (rc == PW_VALUE_NOT_PUBLISHED) {
      skipped++;
      continue;
    }
    if (rc < 0) {
      if (ind->kind == PW_KIND_MILESTONE)
        fprintf(stderr,
                "%s:%d: indicator '%s': '%s' is neither a stage name nor a stage index "
                "0..%d\n",
                path, row_line, id, val, ind->stages.n - 1);
      else
        fprintf(stderr, "%s:%d: indicator '%s': bad value '%s'\n", path, row_line, id, val);
      goto out;
    }
    if (r.as_of > now + 86400) {
      fprintf(stderr, "%s:%d: indicator '%s': as_of %s is later than tomorrow\n", path, row_line,
              id, date);
      goto out;
    }
    if (n == cap) {
      struct cli_row *nr;
      cap = cap ? cap * 2 : 256;
      nr = realloc(rows, cap * sizeof(*nr));
      if (nr == NULL)
        goto out;
      rows = nr;
    }
    rows[n++] = r;
  }
  qsort(rows, n, sizeof(*rows), row_cmp);
  for (i = 1; i < n; i++) {
    if (rows[i].ind == rows[i - 1].ind && rows[i].as_of == rows[i - 1].as_of) {
      int a = rows[i].line < rows[i - 1].line ? rows[i].line : rows[i - 1].line;
      int b = rows[i].line < rows[i - 1].line ? rows[i - 1].line : rows[i].line;
      fprintf(stderr, "%s:%d: indicator '%s' has the same as_of as line %d\n", path, b,
              c->conf->indicators[rows[i].ind].id, a);
      goto out;
    }
  }

  if (cli_apply_rows(c, rows, n, "import", now, &cnt) < 0)
    goto out;
  printf("%s: %lu new samples, %lu duplicates, %lu revisions, %lu not published (skipped)\n", path,
         cnt.fresh, cnt.dups, cnt.revs, skipped);
  ret = EXIT_OK;
out:
  free(rows);
  free(buf);
  free(text);
  return ret;
}
