/*
 * import: loads a CSV file of samples (indicator,as_of,value and an optional fourth column,
 * note: docs/cli.md), read by the RFC 4180 reader the csv plugin uses, or an Excel workbook
 * (.xlsx, recognised by its content) read by the xlsx reader the xlsx plugin uses, its rows by
 * xlsxrows.h as the reporting page's upload reads them: the same columns found by name in a
 * header row, or a mapping given on the command line (docs/spreadsheets.md). Every row is read and
 * validated first (by the admission rules of admit.h), then the rows are checked for two samples of
 * one indicator on one date; nothing is written unless all of them are good.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admit.h"
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "rfc4180.h"
#include "util.h"
#include "value.h"
#include "xlsxread.h"
#include "xlsxrows.h"

/* The columns of an import, in the order parse_row takes them (a workbook's row's order). */
enum {
  COL_INDICATOR = PW_XLSX_F_INDICATOR,
  COL_AS_OF = PW_XLSX_F_AS_OF,
  COL_VALUE = PW_XLSX_F_VALUE,
  COL_NOTE = PW_XLSX_F_NOTE,
  NCOLS = PW_XLSX_NF
};

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
  /* A workbook: the sheet read and the column of each field (0: none). */
  const char *sheet;
  uint32_t colmap[NCOLS];
};

/* Writes where field K (-1: the whole row) of row LINE is into BUF: "FILE:LINE" for a CSV file,
 * "FILE: SHEET!CELL" (or "FILE: SHEET row N") for a workbook. */
static void where(const struct import *im, int line, int k, char *buf, size_t len) {
  char ref[16];

  if (im->sheet == NULL) {
    snprintf(buf, len, "%s:%d", im->path, line);
  } else if (k < 0 || im->colmap[k] == 0) {
    snprintf(buf, len, "%s: %s row %d", im->path, im->sheet, line);
  } else {
    pw_xlsx_ref_format((uint32_t)line, im->colmap[k], ref, sizeof(ref));
    snprintf(buf, len, "%s: %s!%s", im->path, im->sheet, ref);
  }
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
  if (f == NULL || strcmp(pw_xlsx_trim(f[0].text), "indicator") != 0 ||
      strcmp(pw_xlsx_trim(f[1].text), "as_of") != 0 ||
      strcmp(pw_xlsx_trim(f[2].text), "value") != 0 ||
      (im->csv.nfields == 4 && strcmp(pw_xlsx_trim(f[3].text), "note") != 0)) {
    fprintf(stderr,
            "%s:1: the header must be exactly: indicator,as_of,value (or "
            "indicator,as_of,value,note)\n",
            im->path);
    return -EINVAL;
  }
  im->has_note = im->csv.nfields == 4;
  return 0;
}

/* Validates one row (line or row LINE): F holds its fields, indicator, as_of and value trimmed,
 * and the note (F[COL_NOTE], or NULL without the column). Returns 1 for a sample to store in
 * *R, 0 for a row to skip, or -EINVAL after printing why. */
static int parse_row(struct import *im, int line, char *const *f, struct cli_row *r) {
  struct cli *c = im->c;
  const char *id = f[COL_INDICATOR], *date = f[COL_AS_OF], *val = f[COL_VALUE];
  const struct pw_indicator *ind;
  char note[PW_NOTE_BUF], at[600];
  int rc;

  r->note = NULL;
  r->line = line;
  r->ind = pw_config_indicator_find(c->conf, id);
  if (r->ind < 0) {
    where(im, line, COL_INDICATOR, at, sizeof(at));
    fprintf(stderr, "%s: unknown indicator '%s'\n", at, id);
    return -EINVAL;
  }
  ind = &c->conf->indicators[r->ind];
  if (pw_date_parse(date, &r->as_of) < 0) {
    where(im, line, COL_AS_OF, at, sizeof(at));
    fprintf(stderr, "%s: indicator '%s': bad date '%s'\n", at, id, date);
    return -EINVAL;
  }
  rc = pw_admit_text(ind, val, &r->value);
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    im->skipped++;
    return 0;
  }
  where(im, line, COL_VALUE, at, sizeof(at));
  if (rc < 0) {
    if (ind->kind == PW_KIND_MILESTONE)
      fprintf(stderr, "%s: indicator '%s': '%s' is neither a stage name nor a stage index 0..%d\n",
              at, id, val, ind->stages.n - 1);
    else
      fprintf(stderr, "%s: indicator '%s': bad value '%s'\n", at, id, val);
    return -EINVAL;
  }
  rc = pw_admit_as_of(r->as_of, im->now);
  if (rc < 0) {
    where(im, line, COL_AS_OF, at, sizeof(at));
    fprintf(stderr, "%s: indicator '%s': as_of %s is %s\n", at, id, date,
            rc == -ERANGE ? "later than tomorrow" : "outside the years " PW_JOURNAL_YEARS);
    return -EINVAL;
  }
  if (f[COL_NOTE] != NULL) {
    rc = pw_note_clean(f[COL_NOTE], strlen(f[COL_NOTE]), note, sizeof(note));
    if (rc < 0) {
      where(im, line, COL_NOTE, at, sizeof(at));
      fprintf(stderr, "%s: indicator '%s': the note is longer than %d characters\n", at, id,
              PW_NOTE_MAX);
      return -EINVAL;
    }
    if (rc > 0 && (r->note = strdup(note)) == NULL)
      return -ENOMEM;
  }
  return 1;
}

/* Validates the CSV record just read (line ROW_LINE) into *R, as parse_row. */
static int parse_csv_row(struct import *im, int row_line, struct cli_row *r) {
  struct pw_rfc4180_field *f = im->csv.fields;
  int nf = (int)im->csv.nfields, want = im->has_note ? 4 : 3;
  char *fields[NCOLS];

  r->note = NULL;
  if (nf == 1 && pw_xlsx_trim(f[0].text)[0] == '\0')
    return 0; /* a blank line */
  if (nf != want) {
    fprintf(stderr, "%s:%d: expected %d fields (%s), found %d\n", im->path, row_line, want,
            im->has_note ? "indicator,as_of,value,note" : "indicator,as_of,value", nf);
    return -EINVAL;
  }
  fields[COL_INDICATOR] = pw_xlsx_trim(f[0].text);
  fields[COL_AS_OF] = pw_xlsx_trim(f[1].text);
  fields[COL_VALUE] = pw_xlsx_trim(f[2].text);
  fields[COL_NOTE] = im->has_note ? f[3].text : NULL;
  return parse_row(im, row_line, fields, r);
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
    rc = parse_csv_row(im, (int)im->csv.record_line, &r);
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
      char at[600];
      where(im, b, -1, at, sizeof(at));
      fprintf(stderr, "%s: indicator '%s' has the same as_of as %s %d\n", at,
              im->c->conf->indicators[rows[i].ind].id, im->sheet != NULL ? "row" : "line", a);
      return -EINVAL;
    }
  }
  return 0;
}

/* ---- workbooks (docs/spreadsheets.md): the rows are read by xlsxrows.h ---- */

/* Reads and validates every row of the workbook in the LEN bytes at DATA. Returns 0 or a
 * negative errno (reported). */
static int read_workbook(struct import *im, const char *data, size_t len) {
  struct cli *c = im->c;
  struct pw_xlsx *wb = NULL;
  struct pw_xlsx_rows rows = {0};
  uint32_t col[PW_XLSX_NF];
  char err[1024];
  int rc;
  long fr = 2;

  rc = pw_xlsx_open_memory(data, len, &wb, err, sizeof(err));
  if (rc == -ENOTSUP) {
    fprintf(stderr, "%s: %s\n", im->path, PW_XLSX_OLD_XLS_WORDS);
    pw_log_error("%s: %s", im->path, err);
    return rc;
  }
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", im->path, err);
    return rc;
  }
  if (c->first_row != NULL && c->columns == NULL) {
    fprintf(stderr, "pacewatch: --first-row goes with --columns\n");
    rc = -EINVAL;
    goto out;
  }
  if (c->columns != NULL) {
    if (c->first_row != NULL) {
      char *end;
      fr = strtol(c->first_row, &end, 10);
      if (*end != '\0' || fr < 1 || fr > (long)PW_XLSX_MAX_ROW) {
        fprintf(stderr, "pacewatch: --first-row '%s' is not a row number\n", c->first_row);
        rc = -EINVAL;
        goto out;
      }
    }
    rc = pw_xlsx_columns_parse(c->columns, col);
    if (rc == -EDOM) {
      fprintf(stderr, "pacewatch: --columns '%s' must name indicator, as_of and value\n",
              c->columns);
    } else if (rc < 0) {
      fprintf(stderr,
              "pacewatch: --columns '%s': expected indicator=A,as_of=C,value=D[,note=E] (each "
              "once, a column's letters)\n",
              c->columns);
    }
    if (rc < 0) {
      rc = -EINVAL;
      goto out;
    }
  }
  rc = pw_xlsx_rows_read(wb, c->sheet, c->columns != NULL ? col : NULL, (uint32_t)fr, SIZE_MAX,
                         &rows, err, sizeof(err));
  if (rc < 0) {
    if (rows.why == PW_XLSX_ROWS_NO_HEADER)
      fprintf(stderr, "%s: %s; give them with --columns indicator=A,as_of=B,value=C\n", im->path,
              err);
    else if (rows.why == PW_XLSX_ROWS_NOMEM)
      fprintf(stderr, "pacewatch: out of memory\n");
    else
      fprintf(stderr, "%s: %s\n", im->path, err);
    goto out;
  }
  /* The sheet's name and columns, for the messages (check_unique's too). */
  if ((im->sheet = strdup(rows.sheet)) == NULL) {
    fprintf(stderr, "pacewatch: out of memory\n");
    rc = -ENOMEM;
    goto out;
  }
  memcpy(im->colmap, rows.col, sizeof(im->colmap));
  for (size_t i = 0; i < rows.n && rc == 0; i++) {
    struct pw_xlsx_row *xr = &rows.rows[i];
    struct cli_row r;
    char at[600];
    if (xr->error >= 0) {
      where(im, (int)xr->row, xr->error, at, sizeof(at));
      fprintf(stderr, "%s: the cell holds the error %s\n", at, xr->field[xr->error]);
      rc = -EINVAL;
      break;
    }
    rc = parse_row(im, (int)xr->row, xr->field, &r);
    if (rc > 0 && (rc = add_row(im, &r)) < 0)
      free(r.note);
    if (rc > 0)
      rc = 0;
    if (rc == -ENOMEM)
      fprintf(stderr, "pacewatch: out of memory\n");
  }
out:
  pw_xlsx_rows_free(&rows);
  pw_xlsx_free(wb);
  return rc;
}

/* A workbook, by its first bytes (a zip archive, or an old binary .xls: OLE2) or its name. */
static int is_workbook(const char *path, const char *text, size_t len) {
  size_t pl = strlen(path);

  return (len >= 4 && memcmp(text, "PK\003\004", 4) == 0) ||
         (len >= 4 && memcmp(text, "\xD0\xCF\x11\xE0", 4) == 0) ||
         (pl > 5 && strcasecmp(path + pl - 5, ".xlsx") == 0) ||
         (pl > 4 && strcasecmp(path + pl - 4, ".xls") == 0);
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
  if (is_workbook(im.path, text, len)) {
    if (read_workbook(&im, text, len) < 0 || check_unique(&im) < 0)
      goto out;
  } else if (c->sheet != NULL || c->columns != NULL || c->first_row != NULL) {
    fprintf(stderr, "%s: --sheet, --columns and --first-row are for .xlsx files\n", im.path);
    ret = EXIT_USAGE;
    goto out;
  } else if (!pw_utf8_valid(text, len)) {
    fprintf(stderr, "%s:1: the file is not UTF-8 (save the spreadsheet as CSV UTF-8)\n", im.path);
    goto out;
  } else if (pw_rfc4180_init(&im.csv, text, len, ',') < 0) {
    fprintf(stderr, "pacewatch: out of memory\n");
    goto out;
  } else if (read_header(&im) < 0 || read_rows(&im) < 0 || check_unique(&im) < 0) {
    goto out;
  }
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
  free((char *)im.sheet);
  free(text);
  return ret;
}
