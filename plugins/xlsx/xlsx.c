/*
 * xlsx plugin: reads figures out of Excel workbooks (.xlsx) with the reader `pacewatch import`
 * shares (xlsxread.h). A path is `[SHEET!]CELL` (`Sheet1!C5`: one cell) or
 * `[SHEET!]COLUMN[KEYCOLUMN=KEY]` (`指标表!数值[指标代码=TJ01]`: the cell of COLUMN in the one row
 * whose KEYCOLUMN is KEY), or `[SHEET!]COLUMN` (that column's cell in the last row); without
 * `SHEET!` the first sheet. The header row is the first row holding a cell named COLUMN (and
 * KEYCOLUMN), merged header cells naming every column they span, so a title row above the header
 * is passed over. Numbers come as numbers, dates stored as serial numbers as "YYYY-MM-DD", text
 * as text (the host reads 万, %, separators and dates): docs/spreadsheets.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_plugin.h"
#include "xlsxread.h"

#define XLSX_MSG_MAX 1024

static const struct pw_plugin_host *xlsx_host;

/* A compiled path; strings owned. SHEET is NULL for the first sheet; REF_ROW > 0 for a cell;
 * else COLUMN and, keyed, KEYCOL and KEY. */
struct xlsx_query {
  char *sheet;
  uint32_t ref_row, ref_col;
  char *column, *keycol, *key;
};

static char *dup_trim(const char *s, size_t n) {
  char *d;

  while (n > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static void query_free(struct xlsx_query *q) {
  free(q->sheet);
  free(q->column);
  free(q->keycol);
  free(q->key);
  memset(q, 0, sizeof(*q));
}

/* Splits PATH. A sheet name holding '!' is written in single quotes, as Excel writes it
 * ('年度 数据'!C5, with '' for a quote); otherwise the sheet name ends at the first '!'. */
static int query_compile(const char *path, struct xlsx_query *q, char *err, size_t errlen) {
  const char *rest = path, *bang, *end, *br;
  size_t n;

  memset(q, 0, sizeof(*q));
  if (path == NULL) {
    pw_xlsx_set_err(err, errlen, "no path");
    return -EINVAL;
  }
  if (path[0] == '\'') {
    size_t k = 0, i;
    char *s = malloc(strlen(path));
    if (s == NULL)
      goto nomem;
    for (i = 1; path[i] != '\0'; i++) {
      if (path[i] == '\'' && path[i + 1] == '\'') {
        s[k++] = '\'';
        i++;
      } else if (path[i] == '\'') {
        break;
      } else {
        s[k++] = path[i];
      }
    }
    s[k] = '\0';
    q->sheet = s;
    if (path[i] != '\'' || path[i + 1] != '!') {
      pw_xlsx_set_err(err, errlen, "bad path '%s': a quoted sheet name must be followed by '!'",
                      path);
      query_free(q);
      return -EINVAL;
    }
    rest = path + i + 2;
  } else if ((bang = strchr(path, '!')) != NULL) {
    q->sheet = dup_trim(path, (size_t)(bang - path));
    if (q->sheet == NULL)
      goto nomem;
    rest = bang + 1;
  }
  if (q->sheet != NULL && q->sheet[0] == '\0') {
    pw_xlsx_set_err(err, errlen, "bad path '%s': no sheet name before '!'", path);
    query_free(q);
    return -EINVAL;
  }
  n = strlen(rest);
  while (n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
    n--;
  while (n > 0 && (*rest == ' ' || *rest == '\t')) {
    rest++;
    n--;
  }
  if (pw_xlsx_ref_parse(rest, n, &q->ref_row, &q->ref_col) == 0)
    return 0;
  q->ref_row = q->ref_col = 0;
  /* COLUMN[KEYCOLUMN=KEY]: the selector is the last bracket holding '=', as for csv. */
  end = rest + n;
  br = NULL;
  if (n > 0 && end[-1] == ']') {
    const char *i = end - 1;
    while (i > rest && i[-1] != ']')
      i--;
    br = memchr(i, '[', (size_t)(end - 1 - i));
    if (br != NULL && memchr(br, '=', (size_t)(end - 1 - br)) == NULL)
      br = NULL;
  }
  q->column = dup_trim(rest, br != NULL ? (size_t)(br - rest) : n);
  if (q->column == NULL)
    goto nomem;
  if (q->column[0] == '\0') {
    pw_xlsx_set_err(err, errlen,
                    "bad path '%s': expected [SHEET!]CELL, [SHEET!]COLUMN or "
                    "[SHEET!]COLUMN[KEYCOLUMN=KEY]",
                    path);
    query_free(q);
    return -EINVAL;
  }
  if (br != NULL) {
    const char *eq = memchr(br, '=', (size_t)(end - br));
    size_t kl;
    q->keycol = dup_trim(br + 1, (size_t)(eq - br - 1));
    q->key = dup_trim(eq + 1, (size_t)(end - 1 - eq - 1));
    if (q->keycol == NULL || q->key == NULL)
      goto nomem;
    if (q->keycol[0] == '\0') {
      pw_xlsx_set_err(err, errlen, "bad path '%s': no key column before '='", path);
      query_free(q);
      return -EINVAL;
    }
    kl = strlen(q->key);
    if (kl >= 2 && (q->key[0] == '\'' || q->key[0] == '"') && q->key[kl - 1] == q->key[0]) {
      memmove(q->key, q->key + 1, kl - 2);
      q->key[kl - 2] = '\0';
    }
  }
  return 0;
nomem:
  query_free(q);
  pw_xlsx_set_err(err, errlen, "out of memory");
  return -ENOMEM;
}

static int text_is(const struct pw_xlsx_cell *c, const char *s) {
  const char *t;
  size_t n, sl = strlen(s);

  if (c == NULL)
    return sl == 0;
  t = c->text;
  n = c->text_len;
  while (n > 0 && (*t == ' ' || *t == '\t')) {
    t++;
    n--;
  }
  while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
    n--;
  return n == sl && memcmp(t, s, n) == 0;
}

struct header_scan {
  const char *name;
  uint32_t col; /* the first column found */
  int count;    /* how many columns the name covers */
};

static void header_span(void *ctx, uint32_t c1, uint32_t c2, const struct pw_xlsx_cell *cell) {
  struct header_scan *h = ctx;

  if (h->name[0] == '\0' || cell == NULL || !text_is(cell, h->name))
    return;
  if (h->count == 0 || c1 < h->col)
    h->col = c1;
  h->count += (int)(c2 - c1 + 1);
}

/* The column of row ROW named NAME (merged header cells name each column they span): 0 when
 * none, and *COUNT how many. */
static uint32_t header_col(const struct pw_xlsx_sheet *s, uint32_t row, const char *name,
                           int *count) {
  struct header_scan h = {.name = name};

  pw_xlsx_row_spans(s, row, header_span, &h);
  *count = h.count;
  return h.count > 0 ? h.col : 0;
}

/* Finds the header row: the first row naming Q's column (and its key column). */
static int find_header(const struct pw_xlsx_sheet *s, const struct xlsx_query *q, uint32_t *hrow,
                       uint32_t *col, uint32_t *keycol, char *msg, size_t cap) {
  size_t n;
  const struct pw_xlsx_cell *cells = pw_xlsx_cells(s, &n);
  uint32_t last = 0;

  for (size_t i = 0; i < n; i++) {
    int k1, k2 = 1;
    uint32_t r = cells[i].row;
    if (r == last)
      continue;
    last = r;
    *col = header_col(s, r, q->column, &k1);
    if (q->keycol != NULL)
      *keycol = header_col(s, r, q->keycol, &k2);
    if (k1 == 0 || k2 == 0)
      continue;
    if (k1 > 1 || k2 > 1) {
      snprintf(msg, cap, "row %u names column '%s' %d times", r, k1 > 1 ? q->column : q->keycol,
               k1 > 1 ? k1 : k2);
      return -EINVAL;
    }
    *hrow = r;
    return 0;
  }
  if (q->keycol != NULL)
    snprintf(msg, cap, "no row has both a column '%s' and a column '%s'", q->column, q->keycol);
  else
    snprintf(msg, cap, "no row has a column '%s'", q->column);
  return -EINVAL;
}

/* Emits the cell C (NULL: empty) of sheet SHEET. */
static void emit_cell(const char *sheet, const struct pw_xlsx_cell *c, size_t index,
                      pw_plugin_emit_cb emit, void *ctx) {
  struct pw_plugin_value v = {0};
  char msg[XLSX_MSG_MAX], ref[16];

  if (c == NULL) {
    v.result = PW_PLUGIN_NOT_FOUND;
  } else if (c->type == PW_XLSX_ERROR) {
    pw_xlsx_ref_format(c->row, c->col, ref, sizeof(ref));
    snprintf(msg, sizeof(msg), "%s!%s holds the error %s", sheet, ref, c->text);
    v.result = PW_PLUGIN_ERROR;
    v.error = msg;
  } else {
    v.result = c->type == PW_XLSX_NUMBER && c->text[c->text_len - 1] != '%' ? PW_PLUGIN_NUMBER
                                                                            : PW_PLUGIN_TEXT;
    v.number = c->number;
    v.text = c->text;
    v.text_len = c->text_len;
  }
  emit(ctx, index, &v);
}

static void emit_error(size_t index, const char *msg, pw_plugin_emit_cb emit, void *ctx) {
  struct pw_plugin_value v = {0};

  v.result = PW_PLUGIN_ERROR;
  v.error = msg;
  emit(ctx, index, &v);
}

/* The sheet a query names: its index, or -ENOENT with MSG listing the sheets there are. */
static int query_sheet(const struct pw_xlsx *wb, const struct xlsx_query *q, char *msg,
                       size_t cap) {
  size_t len, ns = pw_xlsx_sheet_count(wb);
  int i;

  if (q->sheet == NULL)
    return 0;
  i = pw_xlsx_sheet_find(wb, q->sheet);
  if (i >= 0)
    return i;
  len = (size_t)snprintf(msg, cap, "no sheet '%s'; the workbook has:", q->sheet);
  for (size_t k = 0; k < ns && len < cap; k++)
    len +=
        (size_t)snprintf(msg + len, cap - len, "%s '%s'", k ? "," : "", pw_xlsx_sheet_name(wb, k));
  return -ENOENT;
}

static void emit_one(struct pw_xlsx *wb, const struct xlsx_query *q, const char *path, size_t index,
                     pw_plugin_emit_cb emit, void *ctx) {
  const struct pw_xlsx_sheet *s;
  const struct pw_xlsx_cell *cells, *found = NULL;
  char msg[XLSX_MSG_MAX], err[XLSX_MSG_MAX];
  uint32_t hrow = 0, col = 0, keycol = 0, last = 0, rows[3];
  size_t n, nfound = 0;
  int si = query_sheet(wb, q, msg, sizeof(msg));
  const char *sname;

  (void)path;
  if (si < 0) {
    emit_error(index, msg, emit, ctx);
    return;
  }
  /* Every sheet a query names was read before the first emit (xlsx_parse). */
  if (pw_xlsx_sheet_load(wb, (size_t)si, &s, err, sizeof(err)) < 0) {
    emit_error(index, err, emit, ctx);
    return;
  }
  sname = pw_xlsx_sheet_name(wb, (size_t)si);
  if (q->ref_row > 0) {
    emit_cell(sname, pw_xlsx_cell_at(s, q->ref_row, q->ref_col), index, emit, ctx);
    return;
  }
  if (find_header(s, q, &hrow, &col, &keycol, msg, sizeof(msg)) < 0) {
    char full[XLSX_MSG_MAX + 64];
    snprintf(full, sizeof(full), "sheet '%s': %s", sname, msg);
    emit_error(index, full, emit, ctx);
    return;
  }
  cells = pw_xlsx_cells(s, &n);
  for (size_t i = 0; i < n; i++) {
    uint32_t r = cells[i].row;
    if (r <= hrow || r == last)
      continue;
    last = r;
    if (q->keycol == NULL) {
      found = pw_xlsx_cell_at(s, r, col); /* the last row wins */
      nfound = 1;
    } else if (text_is(pw_xlsx_cell_at(s, r, keycol), q->key)) {
      if (nfound < 3)
        rows[nfound] = r;
      if (nfound == 0)
        found = pw_xlsx_cell_at(s, r, col);
      nfound++;
    }
  }
  if (nfound > 1 && q->keycol != NULL) {
    size_t len = (size_t)snprintf(msg, sizeof(msg), "sheet '%s': %zu rows have %s = '%s' (rows ",
                                  sname, nfound, q->keycol, q->key);
    for (size_t i = 0; i < nfound && i < 3 && len < sizeof(msg); i++)
      len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%u", i ? ", " : "", rows[i]);
    if (len < sizeof(msg))
      snprintf(msg + len, sizeof(msg) - len, "%s)", nfound > 3 ? ", ..." : "");
    emit_error(index, msg, emit, ctx);
    return;
  }
  emit_cell(sname, found, index, emit, ctx);
}

static int xlsx_check_path(const char *path, char *err, size_t errlen) {
  struct xlsx_query q;
  int rc = query_compile(path, &q, err, errlen);

  if (rc == 0)
    query_free(&q);
  return rc;
}

static int xlsx_parse(const struct pw_plugin_options *opts, const char *body, size_t len,
                      const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx,
                      char *err, size_t errlen) {
  struct xlsx_query *qs = NULL;
  struct pw_xlsx *wb = NULL;
  char qerr[XLSX_MSG_MAX];
  int *qok = NULL, rc;

  (void)opts;
  if ((body == NULL && len) || (paths == NULL && n) || emit == NULL) {
    pw_xlsx_set_err(err, errlen, "xlsx: bad arguments");
    return -EINVAL;
  }
  rc = pw_xlsx_open_memory(body, len, &wb, err, errlen);
  if (rc < 0)
    return rc == -ENOMEM ? -ENOMEM : -EINVAL;
  qs = calloc(n + 1, sizeof(*qs));
  qok = calloc(n + 1, sizeof(*qok));
  if (qs == NULL || qok == NULL) {
    pw_xlsx_set_err(err, errlen, "xlsx: out of memory");
    rc = -ENOMEM;
    goto out;
  }
  /* Read every sheet the queries name first: a sheet that cannot be read makes the body
   * unparseable, and nothing may be emitted then. */
  for (size_t i = 0; i < n; i++) {
    const struct pw_xlsx_sheet *s;
    int si;
    rc = query_compile(paths[i], &qs[i], qerr, sizeof(qerr));
    if (rc == -ENOMEM) {
      pw_xlsx_set_err(err, errlen, "xlsx: out of memory");
      goto out;
    }
    qok[i] = rc == 0;
    if (!qok[i])
      continue;
    si = query_sheet(wb, &qs[i], qerr, sizeof(qerr));
    if (si < 0)
      continue;
    rc = pw_xlsx_sheet_load(wb, (size_t)si, &s, err, errlen);
    if (rc < 0) {
      rc = rc == -ENOMEM ? -ENOMEM : -EINVAL;
      goto out;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!qok[i]) {
      query_compile(paths[i], &qs[i], qerr, sizeof(qerr));
      emit_error(i, qerr, emit, ctx);
      continue;
    }
    emit_one(wb, &qs[i], paths[i], i, emit, ctx);
  }
  rc = 0;
out:
  if (qs != NULL)
    for (size_t i = 0; i < n; i++)
      query_free(&qs[i]);
  free(qs);
  free(qok);
  pw_xlsx_free(wb);
  return rc;
}

static const struct pw_plugin xlsx_plugin = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin),
    .name = "xlsx",
    .check_path = xlsx_check_path,
    .parse = xlsx_parse,
};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  xlsx_host = host;
  return &xlsx_plugin;
}
