/*
 * xlsxrows: the rows of samples in a sheet (xlsxrows.h, docs/spreadsheets.md). The header row is
 * found by walking the sheet's rows in order and reading each row's spans (so a merged header
 * cell names every column it covers); the rows below are read cell by cell through the reader's
 * lookup, which resolves merged ranges the same way.
 */
#include "xlsxrows.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The names a header cell may give each field: the CSV's, and the words a department writes. */
static const char *const field_names[PW_XLSX_NF][3] = {
    {"indicator", "指标", NULL},
    {"as_of", "日期", NULL},
    {"value", "数值", NULL},
    {"note", "备注", NULL},
};

const char *pw_xlsx_field_name(int k) {
  return k >= 0 && k < PW_XLSX_NF ? field_names[k][0] : "?";
}

char *pw_xlsx_trim(char *s) {
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

int pw_xlsx_columns_parse(const char *spec, uint32_t col[PW_XLSX_NF]) {
  const char *p = spec;

  memset(col, 0, PW_XLSX_NF * sizeof(col[0]));
  while (*p != '\0') {
    const char *comma = strchr(p, ','), *eq;
    size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
    uint32_t c;
    int k;
    eq = memchr(p, '=', len);
    for (k = 0; eq != NULL && k < PW_XLSX_NF; k++)
      if (strlen(field_names[k][0]) == (size_t)(eq - p) &&
          memcmp(field_names[k][0], p, (size_t)(eq - p)) == 0)
        break;
    if (eq == NULL || k == PW_XLSX_NF ||
        pw_xlsx_col_parse(eq + 1, len - (size_t)(eq + 1 - p), &c) < 0 || col[k] != 0)
      return -EINVAL;
    col[k] = c;
    p += len;
    if (*p == ',')
      p++;
  }
  if (col[PW_XLSX_F_INDICATOR] == 0 || col[PW_XLSX_F_AS_OF] == 0 || col[PW_XLSX_F_VALUE] == 0)
    return -EDOM;
  return 0;
}

/* Which field header cell C names, or -1. */
static int header_field(const struct pw_xlsx_cell *c) {
  char buf[64];
  char *t;

  if (c == NULL || c->type != PW_XLSX_TEXT || c->text_len >= sizeof(buf))
    return -1;
  memcpy(buf, c->text, c->text_len + 1);
  t = pw_xlsx_trim(buf);
  for (int k = 0; k < PW_XLSX_NF; k++)
    for (int a = 0; field_names[k][a] != NULL; a++)
      if (strcmp(t, field_names[k][a]) == 0)
        return k;
  return -1;
}

/* The header fields found in one row: each field's column, and the first field named twice. */
struct header_scan {
  uint32_t map[PW_XLSX_NF];
  int twice;          /* a field named twice (its index), or -1 */
  uint32_t at, again; /* its columns */
};

static void header_span(void *ctx, uint32_t c1, uint32_t c2, const struct pw_xlsx_cell *cell) {
  struct header_scan *h = ctx;
  int k = header_field(cell);

  if (k < 0 || h->twice >= 0)
    return;
  if (h->map[k] != 0 || c2 > c1) {
    h->twice = k;
    h->at = h->map[k] != 0 ? h->map[k] : c1;
    h->again = h->map[k] != 0 ? c1 : c2;
    return;
  }
  h->map[k] = c1;
}

/* Finds the header row of S into R (its columns and row). Returns 0 or -EINVAL with R->why. */
static int find_header(struct pw_xlsx_rows *r, const struct pw_xlsx_sheet *s, char *err,
                       size_t errlen) {
  size_t n;
  const struct pw_xlsx_cell *cells = pw_xlsx_cells(s, &n);
  uint32_t last = 0;

  for (size_t i = 0; i < n; i++) {
    struct header_scan h = {.twice = -1};
    uint32_t row = cells[i].row;
    if (row == last)
      continue;
    last = row;
    pw_xlsx_row_spans(s, row, header_span, &h);
    if (h.twice >= 0) {
      char a[16], b[16];
      pw_xlsx_ref_format(row, h.at, a, sizeof(a));
      pw_xlsx_ref_format(row, h.again, b, sizeof(b));
      pw_xlsx_set_err(err, errlen, "%s!%s: the header names %s twice (also %s)", r->sheet, b,
                      field_names[h.twice][0], a);
      r->why = PW_XLSX_ROWS_HEADER_TWICE;
      r->header = row;
      return -EINVAL;
    }
    if (h.map[PW_XLSX_F_INDICATOR] != 0 && h.map[PW_XLSX_F_AS_OF] != 0 &&
        h.map[PW_XLSX_F_VALUE] != 0) {
      memcpy(r->col, h.map, sizeof(h.map));
      r->header = row;
      return 0;
    }
  }
  pw_xlsx_set_err(
      err, errlen,
      "%s: no header row naming the columns indicator, as_of and value (or 指标, 日期, 数值)",
      r->sheet);
  r->why = PW_XLSX_ROWS_NO_HEADER;
  return -EINVAL;
}

/* Reads row ROW of S into *OUT. Returns 1 for a row, 0 for an empty one (nothing kept),
 * -ENOMEM. */
static int read_row(const struct pw_xlsx_rows *r, const struct pw_xlsx_sheet *s, uint32_t row,
                    struct pw_xlsx_row *out) {
  int any = 0;

  memset(out, 0, sizeof(*out));
  out->row = row;
  out->error = -1;
  for (int k = 0; k < PW_XLSX_NF; k++) {
    const struct pw_xlsx_cell *c = r->col[k] != 0 ? pw_xlsx_cell_at(s, row, r->col[k]) : NULL;
    if (c == NULL)
      continue;
    if (c->type == PW_XLSX_ERROR && out->error < 0)
      out->error = k;
    if (k != PW_XLSX_F_NOTE || c->type == PW_XLSX_ERROR)
      any = 1;
    if ((out->field[k] = strdup(c->text)) == NULL)
      goto nomem;
  }
  if (!any) {
    /* Nothing in the row's indicator, as_of and value cells: an empty row, or a footer. */
    free(out->field[PW_XLSX_F_NOTE]);
    out->field[PW_XLSX_F_NOTE] = NULL;
    return 0;
  }
  for (int k = 0; k < PW_XLSX_NF; k++) {
    if (out->field[k] == NULL && (k != PW_XLSX_F_NOTE || r->col[k] != 0) &&
        (out->field[k] = strdup("")) == NULL)
      goto nomem;
    if (k != PW_XLSX_F_NOTE) {
      char *t = pw_xlsx_trim(out->field[k]);
      memmove(out->field[k], t, strlen(t) + 1);
    }
  }
  return 1;
nomem:
  for (int k = 0; k < PW_XLSX_NF; k++)
    free(out->field[k]);
  return -ENOMEM;
}

int pw_xlsx_rows_read(struct pw_xlsx *wb, const char *sheet, const uint32_t *col,
                      uint32_t first_row, size_t max_rows, struct pw_xlsx_rows *out, char *err,
                      size_t errlen) {
  const struct pw_xlsx_sheet *s;
  const struct pw_xlsx_cell *cells;
  size_t n;
  uint32_t last = 0;
  int si = 0, rc;

  memset(out, 0, sizeof(*out));
  if (sheet != NULL && (si = pw_xlsx_sheet_find(wb, sheet)) < 0) {
    size_t k, ns = pw_xlsx_sheet_count(wb), at;
    pw_xlsx_set_err(err, errlen, "no sheet '%s'; the workbook has:", sheet);
    for (k = 0; err != NULL && k < ns && (at = strlen(err)) < errlen; k++)
      pw_xlsx_set_err(err + at, errlen - at, "%s '%s'", k ? "," : "", pw_xlsx_sheet_name(wb, k));
    out->why = PW_XLSX_ROWS_NO_SHEET;
    return -ENOENT;
  }
  if (pw_xlsx_sheet_count(wb) == 0) {
    pw_xlsx_set_err(err, errlen, "the workbook has no sheet");
    out->why = PW_XLSX_ROWS_NO_SHEET;
    return -ENOENT;
  }
  out->sheet = strdup(pw_xlsx_sheet_name(wb, (size_t)si));
  if (out->sheet == NULL) {
    pw_xlsx_set_err(err, errlen, "out of memory");
    out->why = PW_XLSX_ROWS_NOMEM;
    return -ENOMEM;
  }
  rc = pw_xlsx_sheet_load(wb, (size_t)si, &s, err, errlen);
  if (rc < 0) {
    out->why = rc == -ENOMEM ? PW_XLSX_ROWS_NOMEM : PW_XLSX_ROWS_BAD_SHEET;
    return rc;
  }
  if (col != NULL) {
    memcpy(out->col, col, sizeof(out->col));
  } else {
    if ((rc = find_header(out, s, err, errlen)) < 0)
      return rc;
    first_row = out->header + 1;
  }
  cells = pw_xlsx_cells(s, &n);
  for (size_t i = 0; i < n; i++) {
    uint32_t row = cells[i].row;
    struct pw_xlsx_row r;
    if (row < first_row || row == last)
      continue;
    last = row;
    rc = read_row(out, s, row, &r);
    if (rc == 0)
      continue;
    if (rc > 0 && out->n == max_rows) {
      for (int k = 0; k < PW_XLSX_NF; k++)
        free(r.field[k]);
      pw_xlsx_set_err(err, errlen, "%s: more than %zu rows", out->sheet, max_rows);
      out->why = PW_XLSX_ROWS_TOO_MANY;
      return -EINVAL;
    }
    if (rc > 0 && out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 64;
      struct pw_xlsx_row *nr = realloc(out->rows, cap * sizeof(*nr));
      if (nr == NULL) {
        for (int k = 0; k < PW_XLSX_NF; k++)
          free(r.field[k]);
        rc = -ENOMEM;
      } else {
        out->rows = nr;
        out->cap = cap;
      }
    }
    if (rc < 0) {
      pw_xlsx_set_err(err, errlen, "out of memory");
      out->why = PW_XLSX_ROWS_NOMEM;
      return -ENOMEM;
    }
    out->rows[out->n++] = r;
  }
  return 0;
}

void pw_xlsx_rows_where(const struct pw_xlsx_rows *r, uint32_t row, int k, char *buf, size_t len) {
  char ref[16];
  const char *sheet = r->sheet != NULL ? r->sheet : "";

  if (k < 0 || k >= PW_XLSX_NF || r->col[k] == 0) {
    snprintf(buf, len, "%s row %u", sheet, row);
  } else {
    pw_xlsx_ref_format(row, r->col[k], ref, sizeof(ref));
    snprintf(buf, len, "%s!%s", sheet, ref);
  }
}

void pw_xlsx_rows_free(struct pw_xlsx_rows *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n; i++)
    for (int k = 0; k < PW_XLSX_NF; k++)
      free(r->rows[i].field[k]);
  free(r->rows);
  free(r->sheet);
  memset(r, 0, sizeof(*r));
}
