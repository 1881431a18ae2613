/*
 * csv plugin: reads figures out of CSV exports (RFC 4180, read by the reader it shares with
 * `pacewatch import`, rfc4180.h). The first non-empty row is the header; a path
 * `COLUMN[KEYCOLUMN=KEY]` selects the cell in COLUMN of the one row whose KEYCOLUMN is KEY, and
 * `COLUMN` alone the cell of the last row. Fields may be quoted (with "" for a quote) and then
 * hold the delimiter, CR and LF; lines end in LF or CRLF; a UTF-8 byte-order mark is skipped;
 * empty lines are skipped. Cells are returned as text: the host reads numbers, 万, % and dates.
 * A body with broken quoting or a row whose number of fields differs from the header's is
 * unparseable, since any figure read from it could be misplaced.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_plugin.h"
#include "rfc4180.h"

/* Room for error messages that list columns or lines; longer lists are cut with "...". */
#define CSV_MSG_MAX 1024

static const struct pw_plugin_host *csv_host;

struct csv_cell {
  const char *text; /* in the reader's buffer */
  size_t len;
};

struct csv_row {
  size_t first; /* index of its first cell */
  size_t line;  /* the line it starts on, for messages */
};

/* The whole body, decoded by the shared reader (which owns every cell's bytes). Row 0 is the
 * header; every row has NCOLS cells. */
struct csv_table {
  struct pw_rfc4180 reader;
  struct csv_cell *cells;
  size_t ncells, capcells;
  struct csv_row *rows;
  size_t nrows, caprows;
  size_t ncols;
};

/* A compiled path; strings are owned. KEYCOL is NULL for `COLUMN` alone. */
struct csv_query {
  char *column;
  char *keycol;
  char *key;
};

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

static void csv_table_free(struct csv_table *t) {
  pw_rfc4180_free(&t->reader);
  free(t->cells);
  free(t->rows);
  memset(t, 0, sizeof *t);
}

static int csv_add_cell(struct csv_table *t, const struct pw_rfc4180_field *f) {
  if (t->ncells == t->capcells) {
    size_t ncap = t->capcells ? t->capcells * 2 : 64;
    if (ncap > SIZE_MAX / sizeof *t->cells)
      return -ENOMEM;
    struct csv_cell *nc = realloc(t->cells, ncap * sizeof *nc);
    if (!nc)
      return -ENOMEM;
    t->cells = nc;
    t->capcells = ncap;
  }
  t->cells[t->ncells].text = f->text;
  t->cells[t->ncells].len = f->len;
  t->ncells++;
  return 0;
}

static int csv_add_row(struct csv_table *t, size_t first, size_t line) {
  if (t->nrows == t->caprows) {
    size_t ncap = t->caprows ? t->caprows * 2 : 16;
    if (ncap > SIZE_MAX / sizeof *t->rows)
      return -ENOMEM;
    struct csv_row *nr = realloc(t->rows, ncap * sizeof *nr);
    if (!nr)
      return -ENOMEM;
    t->rows = nr;
    t->caprows = ncap;
  }
  t->rows[t->nrows].first = first;
  t->rows[t->nrows].line = line;
  t->nrows++;
  return 0;
}

/* Reads BODY into the table: empty lines skipped, every row as wide as the header. Returns 0,
 * -EINVAL with ERR naming the line, or -ENOMEM. */
static int csv_split(const char *body, size_t len, char delim, struct csv_table *t, char *err,
                     size_t errlen) {
  struct pw_rfc4180 *r = &t->reader;
  int rc;
  memset(t, 0, sizeof *t);
  rc = pw_rfc4180_init(r, body, len, delim);
  if (rc < 0)
    return rc;
  while ((rc = pw_rfc4180_next(r)) > 0) {
    size_t rec_first = t->ncells;
    if (r->nfields == 1 && !r->fields[0].quoted && r->fields[0].len == 0)
      continue; /* an empty line */
    if (t->nrows == 0) {
      t->ncols = r->nfields;
    } else if (r->nfields != t->ncols) {
      set_err(err, errlen, "CSV: line %zu: %zu fields, but the header has %zu", r->record_line,
              r->nfields, t->ncols);
      return -EINVAL;
    }
    for (size_t i = 0; i < r->nfields; i++) {
      rc = csv_add_cell(t, &r->fields[i]);
      if (rc < 0)
        return rc;
    }
    rc = csv_add_row(t, rec_first, r->record_line);
    if (rc < 0)
      return rc;
  }
  if (rc == -EINVAL) {
    set_err(err, errlen, "CSV: line %zu: %s", r->error_line, r->error);
    return rc;
  }
  if (rc < 0)
    return rc;
  if (t->nrows == 0) {
    set_err(err, errlen, "CSV: no header row (the body is empty)");
    return -EINVAL;
  }
  return 0;
}

static const struct csv_cell *csv_cell(const struct csv_table *t, size_t row, size_t col) {
  return &t->cells[t->rows[row].first + col];
}

static int cell_is(const struct csv_table *t, const struct csv_cell *c, const char *s) {
  size_t n = strlen(s);
  return c->len == n && memcmp(c->text, s, n) == 0;
}

/* Appends to a message, cutting it (with "...") when it would not fit. */
static void msg_add(char *msg, size_t cap, size_t *len, const char *s, size_t n) {
  if (*len + 4 >= cap)
    return;
  if (*len + n + 4 >= cap) {
    n = cap - *len - 4;
    memcpy(msg + *len, s, n);
    memcpy(msg + *len + n, "...", 4);
    *len = cap - 1;
    return;
  }
  memcpy(msg + *len, s, n);
  *len += n;
  msg[*len] = 0;
}

/* The length of the UTF-8 sequence at S (N bytes left), or 0 when it is not one (overlong
 * forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  size_t need;
  unsigned cp;

  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xE0) == 0xC0) {
    need = 1;
    cp = s[0] & 0x1Fu;
  } else if ((s[0] & 0xF0) == 0xE0) {
    need = 2;
    cp = s[0] & 0x0Fu;
  } else if ((s[0] & 0xF8) == 0xF0) {
    need = 3;
    cp = s[0] & 0x07u;
  } else {
    return 0;
  }
  if (n < need + 1)
    return 0;
  for (size_t k = 1; k <= need; k++) {
    if ((s[k] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[k] & 0x3Fu);
  }
  if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return need + 1;
}

static int utf8_text(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;

  for (size_t i = 0, k; i < n; i += k) {
    k = utf8_seq(p + i, n - i);
    if (k == 0)
      return 0;
  }
  return 1;
}

/* Appends text from the body, its bytes that are not UTF-8 written as \xHH: the message is
 * logged, and a log line must stay text. */
static void msg_add_text(char *msg, size_t cap, size_t *len, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;

  for (size_t i = 0, k; i < n; i += k) {
    k = utf8_seq(p + i, n - i);
    if (k == 0) {
      char hex[5];
      snprintf(hex, sizeof(hex), "\\x%02X", p[i]);
      msg_add(msg, cap, len, hex, 4);
      k = 1;
    } else {
      msg_add(msg, cap, len, s + i, k);
    }
  }
}

/* Finds the one header cell equal to NAME. An unknown name is most likely a typo, so the error
 * lists the columns there are; a header that is not UTF-8 is most likely a body in another
 * charset read without `charset`, so the error says that first. */
static int csv_column(const struct csv_table *t, const char *name, size_t *col, char *msg,
                      size_t cap) {
  size_t found = 0;
  for (size_t c = 0; c < t->ncols; c++) {
    if (cell_is(t, csv_cell(t, 0, c), name)) {
      if (found == 0)
        *col = c;
      found++;
    }
  }
  if (found == 1)
    return 0;
  if (found > 1) {
    snprintf(msg, cap, "column '%s' appears %zu times in the header", name, found);
    return -EINVAL;
  }
  int utf8 = 1;
  for (size_t c = 0; c < t->ncols && utf8; c++)
    utf8 = utf8_text(csv_cell(t, 0, c)->text, csv_cell(t, 0, c)->len);
  size_t len =
      (size_t)snprintf(msg, cap, "unknown column '%s'; the header %s: ", name,
                       utf8 ? "has" : "is not UTF-8 (is the source's charset set?) and has");
  if (len >= cap)
    return -EINVAL;
  for (size_t c = 0; c < t->ncols; c++) {
    const struct csv_cell *h = csv_cell(t, 0, c);
    if (c > 0)
      msg_add(msg, cap, &len, ", ", 2);
    msg_add(msg, cap, &len, "'", 1);
    msg_add_text(msg, cap, &len, h->text, h->len);
    msg_add(msg, cap, &len, "'", 1);
  }
  return -EINVAL;
}

static char *dup_trim(const char *s, size_t n) {
  while (n > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static void csv_query_free(struct csv_query *q) {
  free(q->column);
  free(q->keycol);
  free(q->key);
  memset(q, 0, sizeof *q);
}

/* Splits PATH into COLUMN[KEYCOLUMN=KEY]. A column name may itself end in brackets without '='
 * ("金额[万元]"), so the selector is the last bracket that holds no ']' and contains '='. KEY
 * may be quoted ('...' or "...") to keep its spaces; spaces elsewhere are trimmed, as they are
 * around unquoted cells. */
static int csv_compile(const char *path, struct csv_query *q, char *err, size_t errlen) {
  memset(q, 0, sizeof *q);
  if (!path) {
    set_err(err, errlen, "no path");
    return -EINVAL;
  }
  size_t n = strlen(path);
  while (n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t'))
    n--;
  size_t open = n; /* no selector */
  if (n > 0 && path[n - 1] == ']') {
    size_t close = n - 1, i = close;
    while (i > 0 && path[i - 1] != ']')
      i--;
    /* path[i .. close) holds no ']'; the selector opens at its first '['. */
    const char *br = memchr(path + i, '[', close - i);
    if (br && memchr(br, '=', (size_t)(path + close - br)))
      open = (size_t)(br - path);
  } else {
    const char *br = strrchr(path, '[');
    if (br && strchr(br, '=') && !strchr(br, ']')) {
      set_err(err, errlen, "bad path '%s': the selector [KEYCOLUMN=KEY] misses its closing ']'",
              path);
      return -EINVAL;
    }
  }
  q->column = dup_trim(path, open);
  if (!q->column)
    goto nomem;
  if (q->column[0] == 0) {
    set_err(err, errlen, "bad path '%s': no column name (expected COLUMN or COLUMN[KEYCOLUMN=KEY])",
            path);
    csv_query_free(q);
    return -EINVAL;
  }
  if (open == n)
    return 0;
  const char *inner = path + open + 1, *end = path + n - 1;
  const char *eq = memchr(inner, '=', (size_t)(end - inner));
  q->keycol = dup_trim(inner, (size_t)(eq - inner));
  q->key = dup_trim(eq + 1, (size_t)(end - eq - 1));
  if (!q->keycol || !q->key)
    goto nomem;
  if (q->keycol[0] == 0) {
    set_err(err, errlen, "bad path '%s': no key column before '='", path);
    csv_query_free(q);
    return -EINVAL;
  }
  size_t kl = strlen(q->key);
  if (kl >= 2 && (q->key[0] == '\'' || q->key[0] == '"') && q->key[kl - 1] == q->key[0]) {
    memmove(q->key, q->key + 1, kl - 2);
    q->key[kl - 2] = 0;
  }
  return 0;
nomem:
  csv_query_free(q);
  set_err(err, errlen, "out of memory");
  return -ENOMEM;
}

static void csv_emit_one(const struct csv_table *t, const char *path, size_t index,
                         pw_plugin_emit_cb emit, void *ctx) {
  struct pw_plugin_value v = {0};
  char msg[CSV_MSG_MAX];
  struct csv_query q;
  size_t col, keycol, row = 0;
  v.result = PW_PLUGIN_ERROR;
  v.error = msg;
  if (csv_compile(path, &q, msg, sizeof msg) < 0) {
    emit(ctx, index, &v);
    return;
  }
  if (csv_column(t, q.column, &col, msg, sizeof msg) < 0 ||
      (q.keycol && csv_column(t, q.keycol, &keycol, msg, sizeof msg) < 0)) {
    emit(ctx, index, &v);
    csv_query_free(&q);
    return;
  }
  if (!q.keycol) {
    row = t->nrows - 1; /* empty lines are already gone */
  } else {
    size_t found = 0, len = 0;
    size_t lines[3];
    for (size_t r = 1; r < t->nrows; r++) {
      if (cell_is(t, csv_cell(t, r, keycol), q.key)) {
        if (found < 3)
          lines[found] = t->rows[r].line;
        if (found == 0)
          row = r;
        found++;
      }
    }
    if (found > 1) {
      len = (size_t)snprintf(msg, sizeof msg, "%zu rows have %s = '%s' (lines ", found, q.keycol,
                             q.key);
      for (size_t i = 0; i < found && i < 3 && len < sizeof msg; i++)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%zu", i ? ", " : "", lines[i]);
      if (len < sizeof msg)
        snprintf(msg + len, sizeof msg - len, "%s)", found > 3 ? ", ..." : "");
      emit(ctx, index, &v);
      csv_query_free(&q);
      return;
    }
  }
  if (row == 0) {
    v.result = PW_PLUGIN_NOT_FOUND; /* no data rows, or no row with that key */
    v.error = NULL;
  } else {
    const struct csv_cell *c = csv_cell(t, row, col);
    v.result = PW_PLUGIN_TEXT;
    v.error = NULL;
    v.text = c->text;
    v.text_len = c->len;
  }
  emit(ctx, index, &v);
  csv_query_free(&q);
}

static int csv_check_path(const char *path, char *err, size_t errlen) {
  struct csv_query q;
  int rc = csv_compile(path, &q, err, errlen);
  if (rc == 0)
    csv_query_free(&q);
  return rc;
}

static int csv_parse(const struct pw_plugin_options *opts, const char *body, size_t len,
                     const char *const *paths, size_t n, pw_plugin_emit_cb emit, void *ctx,
                     char *err, size_t errlen) {
  char delim = opts && opts->csv_delimiter ? opts->csv_delimiter : ',';
  struct csv_table t;
  if ((!body && len) || (!paths && n) || !emit) {
    set_err(err, errlen, "CSV: bad arguments");
    return -EINVAL;
  }
  /* A quote or a line end cannot delimit, and a non-ASCII byte would cut UTF-8 characters. */
  if (delim == '"' || delim == '\r' || delim == '\n' || (unsigned char)delim >= 0x80) {
    set_err(err, errlen, "CSV: unusable delimiter (byte 0x%02x)", (unsigned char)delim);
    return -EINVAL;
  }
  int rc = csv_split(body, len, delim, &t, err, errlen);
  if (rc < 0) {
    if (rc == -ENOMEM)
      set_err(err, errlen, "CSV: out of memory");
    csv_table_free(&t);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    csv_emit_one(&t, paths[i], i, emit, ctx);
  csv_table_free(&t);
  return 0;
}

static const struct pw_plugin csv_plugin = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin),
    .name = "csv",
    .check_path = csv_check_path,
    .parse = csv_parse,
};

__attribute__((visibility("default"))) const struct pw_plugin *
pw_plugin_entry(const struct pw_plugin_host *host) {
  /* Kept only for logging; the parser itself needs nothing from the host. */
  csv_host = host;
  return &csv_plugin;
}
