/*
 * import: loads a CSV file of samples (indicator,as_of,value and an optional fourth column,
 * note: docs/cli.md), read by the RFC 4180 reader the
 * csv plugin uses. Every row is read and validated first (by the admission rules of admit.h),
 * then the rows are checked for two samples of one indicator on one date; nothing is written
 * unless all of them are good.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "cli.h"
#include "clock.h"
#include "rfc4180.h"
#include "util.h"
#include "value.h"

/* One import: the file, its reader, and the rows validated so far. */
struct import {
  struct cli *c;
  const char *path;
  struct pw_rfc4180 csv;
  struct cli_row *rows;
  size_t n, cap;
  unsigned long skipped; /* rows whose value says "not published" */
  int64_t now;
  int has_note; /* the header names a fourth column, note */
};

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

/* The first record must name the three columns, in this order, and may name a fourth, note. */
static int read_header(struct import *im) {
  struct pw_rfc4180_field *f;

  if (pw_rfc4180_next(&im->csv) != 1 || im->csv.nfields < 3 || im->csv.nfields > 4)
    f = NULL;
  else
    f = im->csv.fields;
  if (f == NULL || strcmp(trim(f[0].text), "indicator") != 0 ||
      strcmp(trim(f[1].text), "as_of") != 0 || strcmp(trim(f[2].text), "value") != 0 ||
      (im->csv.nfields == 4 && strcmp(trim(f[3].text), "note") != 0)) {
    fprintf(stderr,
            "%s:1: the header must be exactly: indicator,as_of,value (or "
            "indicator,as_of,value,note)\n",
            im->path);
    return -EINVAL;
  }
  im->has_note = im->csv.nfields == 4;
  return 0;
}

/* Validates the record just read (line ROW_LINE) into *R. Returns 1 for a sample to store, 0
 * for a row to skip, or -EINVAL after printing why. */
static int parse_row(struct import *im, int row_line, struct cli_row *r) {
  struct cli *c = im->c;
  const char *path = im->path;
  struct pw_rfc4180_field *f = im->csv.fields;
  char *id, *date, *val;
  const struct pw_indicator *ind;
  int nf = (int)im->csv.nfields, rc, want = im->has_note ? 4 : 3;
  char note[PW_NOTE_BUF];

  r->note = NULL;
  if (nf == 1 && trim(f[0].text)[0] == '\0')
    return 0; /* a blank line */
  if (nf != want) {
    fprintf(stderr, "%s:%d: expected %d fields (%s), found %d\n", path, row_line, want,
            im->has_note ? "indicator,as_of,value,note" : "indicator,as_of,value", nf);
    return -EINVAL;
  }
  id = trim(f[0].text);
  date = trim(f[1].text);
  val = trim(f[2].text);
  r->line = row_line;
  r->ind = pw_config_indicator_index(c->conf, id);
  if (r->ind < 0) {
    fprintf(stderr, "%s:%d: unknown indicator '%s'\n", path, row_line, id);
    return -EINVAL;
  }
  ind = &c->conf->indicators[r->ind];
  if (pw_date_parse(date, &r->as_of) < 0) {
    fprintf(stderr, "%s:%d: indicator '%s': bad date '%s'\n", path, row_line, id, date);
    return -EINVAL;
  }
  rc = pw_admit_text(ind, val, &r->value);
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    im->skipped++;
    return 0;
  }
  if (rc < 0) {
    if (ind->kind == PW_KIND_MILESTONE)
      fprintf(stderr,
              "%s:%d: indicator '%s': '%s' is neither a stage name nor a stage index "
              "0..%d\n",
              path, row_line, id, val, ind->stages.n - 1);
    else
      fprintf(stderr, "%s:%d: indicator '%s': bad value '%s'\n", path, row_line, id, val);
    return -EINVAL;
  }
  rc = pw_admit_as_of(r->as_of, im->now);
  if (rc < 0) {
    fprintf(stderr, "%s:%d: indicator '%s': as_of %s is %s\n", path, row_line, id, date,
            rc == -ERANGE ? "later than tomorrow" : "outside the years " PW_JOURNAL_YEARS);
    return -EINVAL;
  }
  if (im->has_note) {
    rc = pw_note_clean(f[3].text, strlen(f[3].text), note, sizeof(note));
    if (rc < 0) {
      fprintf(stderr, "%s:%d: indicator '%s': the note is longer than %d characters\n", path,
              row_line, id, PW_NOTE_MAX);
      return -EINVAL;
    }
    if (rc > 0 && (r->note = strdup(note)) == NULL)
      return -ENOMEM;
  }
  return 1;
}

static int add_row(struct import *im, const struct cli_row *r) {
  if (im->n == im->cap) {
    size_t cap = im->cap ? im->cap * 2 : 256;
    struct cli_row *nr = realloc(im->rows, cap * sizeof(*nr));
    if (nr == NULL)
      return -ENOMEM;
    im->rows = nr;
    im->cap = cap;
  }
  im->rows[im->n++] = *r;
  return 0;
}

/* Reads and validates every row after the header. Returns 0 or a negative errno (reported). */
static int read_rows(struct import *im) {
  struct cli_row r;
  int rc;

  while ((rc = pw_rfc4180_next(&im->csv)) > 0) {
    rc = parse_row(im, (int)im->csv.record_line, &r);
    if (rc > 0 && (rc = add_row(im, &r)) < 0)
      free(r.note);
    if (rc == -ENOMEM)
      fprintf(stderr, "pacewatch: out of memory\n");
    if (rc < 0)
      return rc;
  }
  if (rc == -EINVAL)
    fprintf(stderr, "%s:%zu: malformed quoting: %s\n", im->path, im->csv.error_line, im->csv.error);
  else if (rc < 0)
    fprintf(stderr, "pacewatch: out of memory\n");
  return rc;
}

/* Sorts the rows by indicator and as_of, and refuses two samples of one indicator on one
 * date (the file would contradict itself). */
static int check_unique(struct import *im) {
  struct cli_row *rows = im->rows;
  size_t i;

  qsort(rows, im->n, sizeof(*rows), row_cmp);
  for (i = 1; i < im->n; i++) {
    if (rows[i].ind == rows[i - 1].ind && rows[i].as_of == rows[i - 1].as_of) {
      int a = rows[i].line < rows[i - 1].line ? rows[i].line : rows[i - 1].line;
      int b = rows[i].line < rows[i - 1].line ? rows[i - 1].line : rows[i].line;
      fprintf(stderr, "%s:%d: indicator '%s' has the same as_of as line %d\n", im->path, b,
              im->c->conf->indicators[rows[i].ind].id, a);
      return -EINVAL;
    }
  }
  return 0;
}

int cmd_import(struct cli *c) {
  struct import im;
  struct cli_counts cnt;
  char *text = NULL;
  size_t len;
  int rc, ret = EXIT_FAIL;

  if (c->argc != 1) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  memset(&im, 0, sizeof(im));
  im.c = c;
  im.path = c->argv[0];
  im.now = pw_clock_now();
  rc = pw_read_file(im.path, 256u << 20, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "%s: cannot read: %s\n", im.path, strerror(-rc));
    return EXIT_FAIL;
  }
  if (!pw_utf8_valid(text, len)) {
    fprintf(stderr, "%s:1: the file is not UTF-8 (save the spreadsheet as CSV UTF-8)\n", im.path);
    goto out;
  }
  if (pw_rfc4180_init(&im.csv, text, len, ',') < 0) {
    fprintf(stderr, "pacewatch: out of memory\n");
    goto out;
  }
  if (read_header(&im) < 0 || read_rows(&im) < 0 || check_unique(&im) < 0)
    goto out;
  if (cli_apply_rows(c, im.rows, im.n, "import", im.now, &cnt) < 0)
    goto out;
  printf("%s: %lu new samples, %lu duplicates, %lu revisions, %lu not published (skipped)\n",
         im.path, cnt.fresh, cnt.dups, cnt.revs, im.skipped);
  if (cnt.notes > 0)
    printf("%s: %lu notes updated (same values)\n", im.path, cnt.notes);
  ret = EXIT_OK;
out:
  for (size_t i = 0; i < im.n; i++)
    free(im.rows[i].note);
  free(im.rows);
  pw_rfc4180_free(&im.csv);
  free(text);
  return ret;
}
