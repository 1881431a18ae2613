/*
 * xlsxread: reads .xlsx workbooks (xlsxread.h, docs/spreadsheets.md). The package's parts are
 * found the way Office finds them: _rels/.rels names the workbook, the workbook's relationships
 * name its sheets, shared strings and styles. Each part is read whole (within the limits) and
 * parsed by expat in one call, with a handler table per part; every handler returns at once
 * after a failure, since expat may call a few more after XML_StopParser.
 */
#include "xlsxread.h"

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* What a cell style's number format makes of a number. */
enum fmt_kind { FMT_PLAIN = 0, FMT_DATE, FMT_PERCENT };

struct merge {
  uint32_t r1, c1, r2, c2;
};

/* One row of a merged range: the index built when a sheet is read, sorted by row then first
 * column, so a cell's range is found by binary search, not by a scan of every range. */
struct merge_row {
  uint32_t row, c1, c2;
  uint32_t m; /* the range's index in merges */
};

struct pw_xlsx_sheet {
  char *name;
  char *part; /* the sheet's part in the package, NULL when its relationship is missing */
  int loaded;
  struct pw_xlsx_cell *cells;
  size_t ncells, capcells;
  char *pool; /* every cell's text, NUL-terminated one after another */
  size_t poollen, poolcap;
  struct merge *merges;
  size_t nmerges, capmerges;
  struct merge_row *mrows;
  size_t nmrows;
  uint32_t max_col;
};

struct pw_xlsx {
  zip_t *zip;
  void *owned;      /* the file's bytes (pw_xlsx_open_file) */
  size_t total;     /* uncompressed bytes read so far */
  size_t max_total; /* the most it may read (PW_XLSX_MAX_TOTAL, or the opener's lower bound) */
  int date1904;
  struct pw_xlsx_sheet *sheets;
  size_t nsheets;
  char **sheet_rids; /* while opening: each sheet's relationship id */
  char *sst_pool;    /* shared strings, NUL-terminated one after another */
  size_t *sst_off, *sst_len, nsst;
  unsigned char *xf_kind; /* enum fmt_kind of each cell style (cellXfs) */
  size_t nxf;
};

void pw_xlsx_set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---- growing buffers ----------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  size_t ncap;
  void *np;

  if (need <= *cap)
    return 0;
  ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2 / size)
      return -ENOMEM;
    ncap *= 2;
  }
  np = realloc(*p, ncap * size);
  if (np == NULL)
    return -ENOMEM;
  *p = np;
  *cap = ncap;
  return 0;
}

/* Appends the N bytes at S and a NUL to the pool *P; *OFF receives where they start. */
static int pool_add(char **p, size_t *len, size_t *cap, const char *s, size_t n, size_t *off) {
  if (grow((void **)p, cap, *len + n + 1, 1) < 0)
    return -ENOMEM;
  *off = *len;
  if (n > 0)
    memcpy(*p + *len, s, n);
  (*p)[*len + n] = '\0';
  *len += n + 1;
  return 0;
}

/* ---- references ---------------------------------------------------------------------------- */

int pw_xlsx_col_parse(const char *s, size_t n, uint32_t *col) {
  uint32_t c = 0;
  size_t i;

  if (n == 0 || n > 3)
    return -EINVAL;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'a' && ch <= 'z')
      ch = (char)(ch - 'a' + 'A');
    if (ch < 'A' || ch > 'Z')
      return -EINVAL;
    c = c * 26 + (uint32_t)(ch - 'A' + 1);
  }
  if (c > PW_XLSX_MAX_COL)
    return -EINVAL;
  *col = c;
  return 0;
}

int pw_xlsx_ref_parse(const char *s, size_t n, uint32_t *row, uint32_t *col) {
  size_t i = 0, l0, d0;
  uint32_t r = 0;

  if (i < n && s[i] == '$')
    i++;
  l0 = i;
  while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
    i++;
  if (pw_xlsx_col_parse(s + l0, i - l0, col) < 0)
    return -EINVAL;
  if (i < n && s[i] == '$')
    i++;
  d0 = i;
  if (i >= n || s[i] < '1' || s[i] > '9')
    return -EINVAL;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (i - d0 >= 7)
      return -EINVAL;
    r = r * 10 + (uint32_t)(s[i] - '0');
  }
  if (i != n || r > PW_XLSX_MAX_ROW)
    return -EINVAL;
  *row = r;
  return 0;
}

void pw_xlsx_ref_format(uint32_t row, uint32_t col, char *buf, size_t len) {
  char letters[8];
  int n = 0, k;
  size_t j = 0;

  while (col > 0 && n < 7) {
    letters[n++] = (char)('A' + (col - 1) % 26);
    col = (col - 1) / 26;
  }
  if (len == 0)
    return;
  for (k = n - 1; k >= 0 && j + 1 < len; k--)
    buf[j++] = letters[k];
  buf[j] = '\0';
  snprintf(buf + j, len - j, "%u", (unsigned)row);
}

/* ---- XML ----------------------------------------------------------------------------------- */

struct xml;
typedef void (*xml_start_fn)(struct xml *x, const char *name, const char **atts);
typedef void (*xml_end_fn)(struct xml *x, const char *name);

/* One part being parsed: the parser, the depth reached, the text collected for the element of
 * interest, and the part's own handlers (given element names without their prefix). */
struct xml {
  XML_Parser p;
  const char *part;
  int depth;
  int failed;
  char *err;
  size_t errlen;
  int collect;
  char *text;
  size_t textlen, textcap;
  xml_start_fn start;
  xml_end_fn end;
  void *ctx;
};

static void xml_fail(struct xml *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void xml_fail(struct xml *x, const char *fmt, ...) {
  va_list ap;

  if (x->failed)
    return;
  x->failed = 1;
  if (x->err != NULL && x->errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
  }
  XML_StopParser(x->p, XML_FALSE);
}

/* The name without its namespace prefix: parts are read without namespace processing, and
 * writers differ in the prefixes they use. */
static const char *local_name(const char *n) {
  const char *c = strrchr(n, ':');
  return c != NULL ? c + 1 : n;
}

static const char *attr(const char **atts, const char *name) {
  for (size_t i = 0; atts[i] != NULL; i += 2)
    if (strncmp(atts[i], "xmlns", 5) != 0 && strcmp(local_name(atts[i]), name) == 0)
      return atts[i + 1];
  return NULL;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  struct xml *x = ud;

  if (x->failed)
    return;
  if (++x->depth > PW_XLSX_MAX_DEPTH) {
    xml_fail(x, "%s: elements nested deeper than %d", x->part, PW_XLSX_MAX_DEPTH);
    return;
  }
  x->start(x, local_name(name), atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  struct xml *x = ud;

  if (x->failed)
    return;
  x->depth--;
  x->end(x, local_name(name));
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  struct xml *x = ud;

  if (x->failed || !x->collect || len <= 0)
    return;
  if (x->textlen + (size_t)len > PW_XLSX_MAX_TEXT) {
    xml_fail(x, "%s: a text longer than %d bytes", x->part, PW_XLSX_MAX_TEXT);
    return;
  }
  if (grow((void **)&x->text, &x->textcap, x->textlen + (size_t)len + 1, 1) < 0) {
    xml_fail(x, "out of memory");
    return;
  }
  memcpy(x->text + x->textlen, s, (size_t)len);
  x->textlen += (size_t)len;
  x->text[x->textlen] = '\0';
}

/* A document type declaration is where entities are declared: refused, so no entity, external
 * or internal (the "billion laughs"), is ever expanded (docs/spreadsheets.md). */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal) {
  struct xml *x = ud;

  (void)name;
  (void)sysid;
  (void)pubid;
  (void)has_internal;
  xml_fail(x, "%s: a document type declaration (DTD) is not allowed", x->part);
}

static void xml_text_reset(struct xml *x) {
  x->textlen = 0;
  if (x->text != NULL)
    x->text[0] = '\0';
}

/* Parses the LEN bytes at DATA with the handlers of X. Returns 0, or -EINVAL / -ENOMEM with
 * X->err set. */
static int xml_run(struct xml *x, const char *data, size_t len) {
  enum XML_Status st;
  int rc = 0;

  if (len > (size_t)INT32_MAX) {
    pw_xlsx_set_err(x->err, x->errlen, "%s: part too large", x->part);
    return -EINVAL;
  }
  x->p = XML_ParserCreate(NULL);
  if (x->p == NULL) {
    pw_xlsx_set_err(x->err, x->errlen, "out of memory");
    return -ENOMEM;
  }
  XML_SetUserData(x->p, x);
  XML_SetElementHandler(x->p, on_start, on_end);
  XML_SetCharacterDataHandler(x->p, on_text);
  XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
  XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
  st = XML_Parse(x->p, data, (int)len, 1);
  if (x->failed) {
    rc = x->err != NULL && strcmp(x->err, "out of memory") == 0 ? -ENOMEM : -EINVAL;
  } else if (st != XML_STATUS_OK) {
    pw_xlsx_set_err(x->err, x->errlen, "%s: bad XML at line %lu: %s", x->part,
                    (unsigned long)XML_GetCurrentLineNumber(x->p),
                    XML_ErrorString(XML_GetErrorCode(x->p)));
    rc = -EINVAL;
  }
  XML_ParserFree(x->p);
  x->p = NULL;
  free(x->text);
  x->text = NULL;
  x->textlen = x->textcap = 0;
  return rc;
}

/* ---- the package --------------------------------------------------------------------------- */

/* Reads the part NAME (found regardless of case, as OPC names are) into *OUT (owned, with a NUL
 * after its *LEN bytes). Returns 0, -ENOENT when there is no such part, -EINVAL past a limit or
 * for a broken entry, -ENOMEM. */
static int read_part(struct pw_xlsx *x, const char *name, char **out, size_t *len, char *err,
                     size_t errlen) {
  zip_int64_t idx = zip_name_locate(x->zip, name, ZIP_FL_NOCASE);
  zip_stat_t st;
  zip_file_t *f;
  zip_int64_t got;
  size_t size, at = 0;
  char *buf;

  if (idx < 0)
    return -ENOENT;
  if (zip_stat_index(x->zip, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE)) {
    pw_xlsx_set_err(err, errlen, "%s: cannot read the zip entry", name);
    return -EINVAL;
  }
  if (st.size > PW_XLSX_MAX_PART) {
    pw_xlsx_set_err(err, errlen, "%s: %llu bytes uncompressed, more than the limit of %u", name,
                    (unsigned long long)st.size, PW_XLSX_MAX_PART);
    return -EINVAL;
  }
  size = (size_t)st.size;
  if (size > x->max_total || x->total + size > x->max_total) {
    pw_xlsx_set_err(err, errlen, "%s: the workbook holds more than %zu bytes uncompressed", name,
                    x->max_total);
    return -EINVAL;
  }
  if (size > (1u << 20) && (st.valid & ZIP_STAT_COMP_SIZE) &&
      size / (st.comp_size > 0 ? st.comp_size : 1) > PW_XLSX_MAX_RATIO) {
    pw_xlsx_set_err(err, errlen, "%s: compressed %llu times (a zip bomb?), more than %d", name,
                    (unsigned long long)(size / (st.comp_size > 0 ? st.comp_size : 1)),
                    PW_XLSX_MAX_RATIO);
    return -EINVAL;
  }
  buf = malloc(size + 1);
  if (buf == NULL) {
    pw_xlsx_set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  f = zip_fopen_index(x->zip, (zip_uint64_t)idx, 0);
  if (f == NULL) {
    pw_xlsx_set_err(err, errlen, "%s: cannot open the zip entry: %s", name, zip_strerror(x->zip));
    free(buf);
    return -EINVAL;
  }
  /* Reading one byte more than the entry claims catches an entry that inflates beyond it. */
  while ((got = zip_fread(f, buf + at, size + 1 - at)) > 0) {
    at += (size_t)got;
    if (at > size)
      break;
  }
  if (got < 0 || at != size) {
    pw_xlsx_set_err(err, errlen, "%s: broken zip entry (%s)", name,
                    got < 0 ? zip_file_strerror(f) : "its size is not what the directory says");
    zip_fclose(f);
    free(buf);
    return -EINVAL;
  }
  zip_fclose(f);
  x->total += size;
  buf[size] = '\0';
  *out = buf;
  *len = size;
  return 0;
}

/* Reads and parses part NAME with X's handlers. A missing part is -ENOENT (no message). */
static int parse_part(struct pw_xlsx *wb, const char *name, struct xml *x, char *err,
                      size_t errlen) {
  char *data;
  size_t len;
  int rc = read_part(wb, name, &data, &len, err, errlen);

  if (rc < 0)
    return rc;
  x->part = name;
  x->err = err;
  x->errlen = errlen;
  rc = xml_run(x, data, len);
  free(data);
  return rc;
}

/* The part TARGET names, relative to the folder of part BASE (or absolute from the package's
 * root with a leading '/'), with "." and ".." segments resolved. Returns owned or NULL. */
static char *resolve(const char *base, const char *target) {
  size_t bl = 0, tl = strlen(target), n = 0, i = 0;
  char *out, *p;
  const char *slash;

  if (target[0] == '/') {
    target++;
    tl--;
  } else if ((slash = strrchr(base, '/')) != NULL) {
    bl = (size_t)(slash - base) + 1;
  }
  p = malloc(bl + tl + 1);
  out = malloc(bl + tl + 1);
  if (p == NULL || out == NULL) {
    free(p);
    free(out);
    return NULL;
  }
  memcpy(p, base, bl);
  memcpy(p + bl, target, tl);
  p[bl + tl] = '\0';
  /* Copy segment by segment into OUT. */
  while (p[i] != '\0') {
    size_t j = i;
    while (p[j] != '\0' && p[j] != '/')
      j++;
    if ((j - i == 1 && p[i] == '.') || j == i) {
      /* nothing */
    } else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
      while (n > 0 && out[n - 1] != '/')
        n--;
      if (n > 0)
        n--;
      while (n > 0 && out[n - 1] != '/')
        n--;
    } else {
      memcpy(out + n, p + i, j - i);
      n += j - i;
      if (p[j] == '/')
        out[n++] = '/';
    }
    i = p[j] == '/' ? j + 1 : j;
  }
  out[n] = '\0';
  free(p);
  return out;
}

/* ---- relationships ------------------------------------------------------------------------- */

struct rel {
  char *id, *type, *target;
};

struct rels {
  struct rel *v;
  size_t n, cap;
  int oom;
};

static void rels_start(struct xml *x, const char *name, const char **atts) {
  struct rels *r = x->ctx;
  const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
  const char *mode = attr(atts, "TargetMode");

  if (strcmp(name, "Relationship") != 0 || id == NULL || type == NULL || target == NULL ||
      (mode != NULL && strcmp(mode, "External") == 0))
    return;
  if (r->n >= PW_XLSX_MAX_ENTRIES) {
    xml_fail(x, "%s: more than %d relationships", x->part, PW_XLSX_MAX_ENTRIES);
    return;
  }
  if (grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v)) < 0) {
    xml_fail(x, "out of memory");
    return;
  }
  r->v[r->n].id = strdup(id);
  r->v[r->n].type = strdup(type);
  r->v[r->n].target = strdup(target);
  r->n++;
  if (r->v[r->n - 1].id == NULL || r->v[r->n - 1].type == NULL || r->v[r->n - 1].target == NULL)
    xml_fail(x, "out of memory");
}

static void nothing_end(struct xml *x, const char *name) {
  (void)x;
  (void)name;
}

static void rels_free(struct rels *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].id);
    free(r->v[i].type);
    free(r->v[i].target);
  }
  free(r->v);
  memset(r, 0, sizeof(*r));
}

/* The first relationship whose type ends in "/SUFFIX", or NULL. */
static const struct rel *rel_of_type(const struct rels *r, const char *suffix) {
  size_t sl = strlen(suffix);

  for (size_t i = 0; i < r->n; i++) {
    size_t tl = strlen(r->v[i].type);
    if (tl > sl && r->v[i].type[tl - sl - 1] == '/' && strcmp(r->v[i].type + tl - sl, suffix) == 0)
      return &r->v[i];
  }
  return NULL;
}

static int read_rels(struct pw_xlsx *wb, const char *part, struct rels *r, char *err,
                     size_t errlen) {
  struct xml x = {.start = rels_start, .end = nothing_end, .ctx = r};

  memset(r, 0, sizeof(*r));
  return parse_part(wb, part, &x, err, errlen);
}

/* ---- workbook.xml -------------------------------------------------------------------------- */

static void workbook_start(struct xml *x, const char *name, const char **atts) {
  struct pw_xlsx *wb = x->ctx;

  if (strcmp(name, "workbookPr") == 0) {
    const char *d = attr(atts, "date1904");
    wb->date1904 = d != NULL && (strcmp(d, "1") == 0 || strcmp(d, "true") == 0);
  } else if (strcmp(name, "sheet") == 0) {
    const char *sn = attr(atts, "name"), *rid = attr(atts, "id");
    size_t cap = wb->nsheets, rcap = wb->nsheets;
    if (sn == NULL || rid == NULL) {
      xml_fail(x, "%s: a sheet without a name or a relationship id", x->part);
      return;
    }
    if (wb->nsheets >= PW_XLSX_MAX_SHEETS) {
      xml_fail(x, "%s: more than %d sheets", x->part, PW_XLSX_MAX_SHEETS);
      return;
    }
    if (grow((void **)&wb->sheets, &cap, wb->nsheets + 1, sizeof(*wb->sheets)) < 0 ||
        grow((void **)&wb->sheet_rids, &rcap, wb->nsheets + 1, sizeof(*wb->sheet_rids)) < 0) {
      xml_fail(x, "out of memory");
      return;
    }
    /* The arrays grow one element at a time: simple, and a workbook has few sheets. */
    memset(&wb->sheets[wb->nsheets], 0, sizeof(*wb->sheets));
    wb->sheets[wb->nsheets].name = strdup(sn);
    wb->sheet_rids[wb->nsheets] = strdup(rid);
    wb->nsheets++;
    if (wb->sheets[wb->nsheets - 1].name == NULL || wb->sheet_rids[wb->nsheets - 1] == NULL)
      xml_fail(x, "out of memory");
  }
}

/* Decodes, in place, the escapes OOXML writes for characters XML cannot hold (ECMA-376 part 1,
 * 22.9.2.19 ST_Xstring): `_xHHHH_` is the UTF-16 code unit HHHH (`_x000D_` a carriage return,
 * `_x005F_` an underscore). A surrogate or NUL is left as written. Returns the new length. */
static size_t unescape_x(char *t, size_t n) {
  size_t i = 0, o = 0;

  while (i < n) {
    unsigned cp = 0;
    int ok = i + 7 <= n && t[i] == '_' && t[i + 1] == 'x' && t[i + 6] == '_';
    for (size_t k = 2; ok && k < 6; k++) {
      char c = t[i + k];
      unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                          : 16;
      ok = d < 16;
      cp = cp * 16 + d;
    }
    if (!ok || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
      t[o++] = t[i++];
      continue;
    }
    if (cp < 0x80) {
      t[o++] = (char)cp;
    } else if (cp < 0x800) {
      t[o++] = (char)(0xC0 | (cp >> 6));
      t[o++] = (char)(0x80 | (cp & 0x3F));
    } else {
      t[o++] = (char)(0xE0 | (cp >> 12));
      t[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      t[o++] = (char)(0x80 | (cp & 0x3F));
    }
    i += 7;
  }
  if (o < n)
    t[o] = '\0';
  return o;
}

/* ---- sharedStrings.xml --------------------------------------------------------------------- */

struct sst_state {
  struct pw_xlsx *wb;
  size_t cap, poollen, poolcap, lencap;
  int in_si, in_rph;
};

static void sst_start(struct xml *x, const char *name, const char **atts) {
  struct sst_state *s = x->ctx;

  (void)atts;
  if (strcmp(name, "si") == 0) {
    s->in_si = 1;
    s->in_rph = 0;
    xml_text_reset(x);
  } else if (s->in_si && strcmp(name, "rPh") == 0) {
    s->in_rph++; /* a phonetic guide's runs are not part of the string */
  } else if (s->in_si && !s->in_rph && strcmp(name, "t") == 0) {
    x->collect = 1;
  }
}

static void sst_end(struct xml *x, const char *name) {
  struct sst_state *s = x->ctx;
  struct pw_xlsx *wb = s->wb;
  size_t off;

  if (strcmp(name, "t") == 0) {
    x->collect = 0;
  } else if (strcmp(name, "rPh") == 0 && s->in_rph > 0) {
    s->in_rph--;
  } else if (strcmp(name, "si") == 0 && s->in_si) {
    s->in_si = 0;
    if (wb->nsst >= PW_XLSX_MAX_CELLS) {
      xml_fail(x, "%s: more than %d strings", x->part, PW_XLSX_MAX_CELLS);
      return;
    }
    if (x->text != NULL)
      x->textlen = unescape_x(x->text, x->textlen);
    if (grow((void **)&wb->sst_off, &s->cap, wb->nsst + 1, sizeof(*wb->sst_off)) < 0 ||
        grow((void **)&wb->sst_len, &s->lencap, wb->nsst + 1, sizeof(*wb->sst_len)) < 0 ||
        pool_add(&wb->sst_pool, &s->poollen, &s->poolcap, x->text ? x->text : "", x->textlen,
                 &off) < 0) {
      xml_fail(x, "out of memory");
      return;
    }
    wb->sst_off[wb->nsst] = off;
    wb->sst_len[wb->nsst] = x->textlen;
    wb->nsst++;
  }
}

/* ---- styles.xml ---------------------------------------------------------------------------- */

struct numfmt {
  unsigned id;
  unsigned char kind;
};

struct styles_state {
  struct numfmt *fmts;
  size_t nfmts, capfmts;
  unsigned *xf_fmt;
  size_t nxf, capxf;
  int in_cellxfs;
};

/* What a custom format code makes of a number: a date when it has a year or day token, a
 * percentage when it has '%', outside quoted text, escapes and [brackets] (colours, locales,
 * [DBNum1]). Minutes alone ("mm:ss") are a time, not a date. */
static unsigned char code_kind(const char *code) {
  int date = 0, pct = 0;

  if (strcasecmp(code, "General") == 0)
    return FMT_PLAIN;
  for (const char *p = code; *p != '\0'; p++) {
    if (*p == '"') {
      p = strchr(p + 1, '"');
      if (p == NULL)
        break;
    } else if (*p == '\\' || *p == '_' || *p == '*') {
      if (p[1] == '\0')
        break;
      p++;
    } else if (*p == '[') {
      p = strchr(p + 1, ']');
      if (p == NULL)
        break;
    } else if (*p == ';') {
      break; /* the first section decides */
    } else if (*p == 'y' || *p == 'Y' || *p == 'd' || *p == 'D' || *p == 'e') {
      date = 1;
    } else if (*p == '%') {
      pct = 1;
    }
  }
  return date ? FMT_DATE : pct ? FMT_PERCENT : FMT_PLAIN;
}

/* The built-in formats (ECMA-376 part 1, 18.8.30, with the East Asian ids): dates 14-17, 22,
 * 27-36, 50-58; percentages 9 and 10; the times (18-21, 45-47) stay numbers. */
static unsigned char builtin_kind(unsigned id) {
  if ((id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 36) || (id >= 50 && id <= 58))
    return FMT_DATE;
  if (id == 9 || id == 10)
    return FMT_PERCENT;
  return FMT_PLAIN;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  unsigned long v = 0;

  if (s == NULL || *s < '0' || *s > '9')
    return -EINVAL;
  for (; *s >= '0' && *s <= '9'; s++) {
    v = v * 10 + (unsigned long)(*s - '0');
    if (v > max)
      return -EINVAL;
  }
  if (*s != '\0')
    return -EINVAL;
  *out = v;
  return 0;
}

static void styles_start(struct xml *x, const char *name, const char **atts) {
  struct styles_state *s = x->ctx;
  unsigned long id;

  if (strcmp(name, "numFmt") == 0) {
    const char *code = attr(atts, "formatCode");
    if (parse_uint(attr(atts, "numFmtId"), 100000, &id) < 0 || code == NULL)
      return;
    if (s->nfmts >= PW_XLSX_MAX_ENTRIES) {
      xml_fail(x, "%s: more than %d number formats", x->part, PW_XLSX_MAX_ENTRIES);
      return;
    }
    if (grow((void **)&s->fmts, &s->capfmts, s->nfmts + 1, sizeof(*s->fmts)) < 0) {
      xml_fail(x, "out of memory");
      return;
    }
    s->fmts[s->nfmts].id = (unsigned)id;
    s->fmts[s->nfmts].kind = code_kind(code);
    s->nfmts++;
  } else if (strcmp(name, "cellXfs") == 0) {
    s->in_cellxfs = 1;
  } else if (s->in_cellxfs && strcmp(name, "xf") == 0) {
    if (parse_uint(attr(atts, "numFmtId"), 100000, &id) < 0)
      id = 0;
    if (s->nxf >= 65536) {
      xml_fail(x, "%s: more than 65536 cell styles", x->part);
      return;
    }
    if (grow((void **)&s->xf_fmt, &s->capxf, s->nxf + 1, sizeof(*s->xf_fmt)) < 0) {
      xml_fail(x, "out of memory");
      return;
    }
    s->xf_fmt[s->nxf++] = (unsigned)id;
  }
}

static void styles_end(struct xml *x, const char *name) {
  struct styles_state *s = x->ctx;

  if (strcmp(name, "cellXfs") == 0)
    s->in_cellxfs = 0;
}

static int read_styles(struct pw_xlsx *wb, const char *part, char *err, size_t errlen) {
  struct styles_state s;
  struct xml x = {.start = styles_start, .end = styles_end, .ctx = &s};
  int rc;

  memset(&s, 0, sizeof(s));
  rc = parse_part(wb, part, &x, err, errlen);
  if (rc == 0 && s.nxf > 0) {
    wb->xf_kind = malloc(s.nxf);
    if (wb->xf_kind == NULL) {
      pw_xlsx_set_err(err, errlen, "out of memory");
      rc = -ENOMEM;
    } else {
      wb->nxf = s.nxf;
      for (size_t i = 0; i < s.nxf; i++) {
        unsigned char k = builtin_kind(s.xf_fmt[i]);
        /* A custom format may reuse a built-in id: the workbook's own code wins. */
        for (size_t j = 0; j < s.nfmts; j++)
          if (s.fmts[j].id == s.xf_fmt[i])
            k = s.fmts[j].kind;
        wb->xf_kind[i] = k;
      }
    }
  }
  free(s.fmts);
  free(s.xf_fmt);
  return rc;
}

/* ---- opening ------------------------------------------------------------------------------- */

void pw_xlsx_free(struct pw_xlsx *x) {
  if (x == NULL)
    return;
  for (size_t i = 0; i < x->nsheets; i++) {
    struct pw_xlsx_sheet *s = &x->sheets[i];
    free(s->name);
    free(s->part);
    free(s->cells);
    free(s->pool);
    free(s->merges);
    free(s->mrows);
    if (x->sheet_rids != NULL)
      free(x->sheet_rids[i]);
  }
  free(x->sheets);
  free(x->sheet_rids);
  free(x->sst_pool);
  free(x->sst_off);
  free(x->sst_len);
  free(x->xf_kind);
  if (x->zip != NULL)
    zip_discard(x->zip);
  free(x->owned);
  free(x);
}

/* Reads the package's relationships, the workbook, its relationships, the shared strings and
 * the styles. */
static int open_parts(struct pw_xlsx *wb, char *err, size_t errlen) {
  struct rels root, wrels;
  const struct rel *r;
  char *wbpart = NULL, *relpart = NULL, *part;
  const char *slash;
  struct xml x = {.start = workbook_start, .end = nothing_end, .ctx = wb};
  int rc;

  memset(&wrels, 0, sizeof(wrels));
  rc = read_rels(wb, "_rels/.rels", &root, err, errlen);
  if (rc < 0 && rc != -ENOENT) {
    rels_free(&root);
    return rc;
  }
  r = rc == 0 ? rel_of_type(&root, "officeDocument") : NULL;
  wbpart = resolve("", r != NULL ? r->target : "xl/workbook.xml");
  rels_free(&root);
  if (wbpart == NULL)
    goto nomem;
  rc = parse_part(wb, wbpart, &x, err, errlen);
  if (rc == -ENOENT) {
    pw_xlsx_set_err(err, errlen, "not an Excel workbook (no %s in the zip archive)", wbpart);
    rc = -EINVAL;
  }
  if (rc < 0)
    goto out;
  if (wb->nsheets == 0) {
    pw_xlsx_set_err(err, errlen, "the workbook has no sheets");
    rc = -EINVAL;
    goto out;
  }
  /* The workbook's relationships: _rels/NAME.rels beside it. */
  slash = strrchr(wbpart, '/');
  relpart = malloc(strlen(wbpart) + 12);
  if (relpart == NULL)
    goto nomem;
  snprintf(relpart, strlen(wbpart) + 12, "%.*s_rels/%s.rels",
           slash != NULL ? (int)(slash - wbpart + 1) : 0, wbpart,
           slash != NULL ? slash + 1 : wbpart);
  rc = read_rels(wb, relpart, &wrels, err, errlen);
  if (rc == -ENOENT) {
    pw_xlsx_set_err(err, errlen, "not an Excel workbook (no %s in the zip archive)", relpart);
    rc = -EINVAL;
  }
  if (rc < 0)
    goto out;
  for (size_t i = 0; i < wb->nsheets; i++) {
    for (size_t j = 0; j < wrels.n; j++) {
      if (strcmp(wrels.v[j].id, wb->sheet_rids[i]) == 0) {
        wb->sheets[i].part = resolve(wbpart, wrels.v[j].target);
        if (wb->sheets[i].part == NULL)
          goto nomem;
        break;
      }
    }
  }
  if ((r = rel_of_type(&wrels, "sharedStrings")) != NULL) {
    struct sst_state s = {.wb = wb};
    struct xml sx = {.start = sst_start, .end = sst_end, .ctx = &s};
    if ((part = resolve(wbpart, r->target)) == NULL)
      goto nomem;
    rc = parse_part(wb, part, &sx, err, errlen);
    free(part);
    if (rc == -ENOENT)
      rc = 0; /* named but missing: no strings, and a cell using one fails */
    if (rc < 0)
      goto out;
  }
  if ((r = rel_of_type(&wrels, "styles")) != NULL) {
    if ((part = resolve(wbpart, r->target)) == NULL)
      goto nomem;
    rc = read_styles(wb, part, err, errlen);
    free(part);
    if (rc == -ENOENT)
      rc = 0;
    if (rc < 0)
      goto out;
  }
  rc = 0;
  goto out;
nomem:
  pw_xlsx_set_err(err, errlen, "out of memory");
  rc = -ENOMEM;
out:
  rels_free(&wrels);
  free(wbpart);
  free(relpart);
  return rc;
}

int pw_xlsx_open_memory(const void *data, size_t len, struct pw_xlsx **out, char *err,
                        size_t errlen) {
  return pw_xlsx_open_memory_max(data, len, PW_XLSX_MAX_TOTAL, out, err, errlen);
}

int pw_xlsx_open_memory_max(const void *data, size_t len, size_t max_total, struct pw_xlsx **out,
                            char *err, size_t errlen) {
  static const unsigned char ole2[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
  const unsigned char *d = data;
  struct pw_xlsx *wb;
  zip_source_t *src;
  zip_error_t ze;
  zip_int64_t n;
  int rc;

  *out = NULL;
  if (len >= 8 && memcmp(d, ole2, 8) == 0) {
    pw_xlsx_set_err(
        err, errlen,
        "an old binary Excel file (.xls, or a password-protected workbook), not .xlsx: save "
        "it as .xlsx");
    return -ENOTSUP;
  }
  if (len < 4 || d[0] != 'P' || d[1] != 'K' ||
      !((d[2] == 3 && d[3] == 4) || (d[2] == 5 && d[3] == 6))) {
    pw_xlsx_set_err(err, errlen, "not an .xlsx file (not a zip archive)");
    return -EINVAL;
  }
  wb = calloc(1, sizeof(*wb));
  if (wb == NULL) {
    pw_xlsx_set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  wb->max_total = max_total < PW_XLSX_MAX_TOTAL ? max_total : PW_XLSX_MAX_TOTAL;
  zip_error_init(&ze);
  src = zip_source_buffer_create(data, len, 0, &ze);
  if (src == NULL) {
    pw_xlsx_set_err(err, errlen, "out of memory");
    zip_error_fini(&ze);
    free(wb);
    return -ENOMEM;
  }
  wb->zip = zip_open_from_source(src, ZIP_RDONLY, &ze);
  if (wb->zip == NULL) {
    pw_xlsx_set_err(err, errlen, "not a readable zip archive: %s", zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    free(wb);
    return -EINVAL;
  }
  zip_error_fini(&ze);
  n = zip_get_num_entries(wb->zip, 0);
  if (n < 0 || n > PW_XLSX_MAX_ENTRIES) {
    pw_xlsx_set_err(err, errlen, "the zip archive has %lld entries, more than %d", (long long)n,
                    PW_XLSX_MAX_ENTRIES);
    pw_xlsx_free(wb);
    return -EINVAL;
  }
  rc = open_parts(wb, err, errlen);
  if (rc < 0) {
    pw_xlsx_free(wb);
    return rc;
  }
  *out = wb;
  return 0;
}

int pw_xlsx_open_file(const char *path, size_t max_bytes, struct pw_xlsx **out, char *err,
                      size_t errlen) {
  struct stat st;
  char *buf;
  size_t at = 0;
  ssize_t got;
  int fd, rc;

  *out = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    rc = -errno;
    pw_xlsx_set_err(err, errlen, "cannot open: %s", strerror(errno));
    return rc;
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    pw_xlsx_set_err(err, errlen, "not a regular file");
    close(fd);
    return -EINVAL;
  }
  if ((uint64_t)st.st_size > max_bytes) {
    pw_xlsx_set_err(err, errlen, "larger than %zu bytes", max_bytes);
    close(fd);
    return -EFBIG;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) {
    close(fd);
    pw_xlsx_set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  while (at < (size_t)st.st_size && (got = read(fd, buf + at, (size_t)st.st_size - at)) != 0) {
    if (got < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      pw_xlsx_set_err(err, errlen, "cannot read: %s", strerror(errno));
      close(fd);
      free(buf);
      return rc;
    }
    at += (size_t)got;
  }
  close(fd);
  rc = pw_xlsx_open_memory(buf, at, out, err, errlen);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  (*out)->owned = buf;
  return 0;
}

size_t pw_xlsx_sheet_count(const struct pw_xlsx *x) {
  return x->nsheets;
}

const char *pw_xlsx_sheet_name(const struct pw_xlsx *x, size_t i) {
  return i < x->nsheets ? x->sheets[i].name : NULL;
}

int pw_xlsx_sheet_find(const struct pw_xlsx *x, const char *name) {
  for (size_t i = 0; i < x->nsheets; i++)
    if (strcmp(x->sheets[i].name, name) == 0)
      return (int)i;
  return -ENOENT;
}

/* ---- a sheet ------------------------------------------------------------------------------- */

/* Days from 1970-01-01 to a civil date (H. Hinnant's algorithm, proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  int64_t era, yoe, doe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* Writes the date of serial number V into BUF: the 1900 system counts 1900-01-01 as day 1 and
 * keeps Lotus's day 60, 1900-02-29, which never was (written as such, so the date grammar refuses
 * it); the 1904 system counts 1904-01-01 as day 0. Returns 0, or -ERANGE for a number that is no
 * date Excel shows (negative, past 9999-12-31). */
static int serial_date(double v, int date1904, char *buf, size_t len) {
  int64_t day, secs, y;
  unsigned m, d;

  if (!isfinite(v) || v < 0 || v >= 2958466.0)
    return -ERANGE;
  day = (int64_t)floor(v);
  secs = (int64_t)llround((v - (double)day) * 86400.0);
  if (secs >= 86400) {
    day++;
    secs -= 86400;
  }
  if (date1904) {
    civil_from_days(-24107 + day, &y, &m, &d);
  } else if (day == 60) {
    y = 1900;
    m = 2;
    d = 29;
  } else {
    civil_from_days((day < 60 ? -25568 : -25569) + day, &y, &m, &d);
  }
  if (secs == 0)
    snprintf(buf, len, "%04lld-%02u-%02u", (long long)y, m, d);
  else
    snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
  return 0;
}

struct sheet_state {
  struct pw_xlsx *wb;
  struct pw_xlsx_sheet *s;
  uint32_t row, col; /* the current row, the last cell's column */
  uint32_t crow, ccol;
  char type[12];
  long style;
  int in_c, in_is, in_rph, in_data;
};

static void sheet_start(struct xml *x, const char *name, const char **atts) {
  struct sheet_state *st = x->ctx;
  struct pw_xlsx_sheet *s = st->s;
  unsigned long v;
  const char *a;

  if (strcmp(name, "sheetData") == 0) {
    st->in_data = 1;
  } else if (st->in_data && strcmp(name, "row") == 0) {
    a = attr(atts, "r");
    if (a != NULL) {
      if (parse_uint(a, PW_XLSX_MAX_ROW, &v) < 0 || v == 0) {
        xml_fail(x, "%s!: bad row number '%.20s'", s->name, a);
        return;
      }
      st->row = (uint32_t)v;
    } else {
      st->row++;
    }
    if (st->row > PW_XLSX_MAX_ROW) {
      xml_fail(x, "%s!: more than %u rows", s->name, PW_XLSX_MAX_ROW);
      return;
    }
    st->col = 0;
  } else if (st->in_data && strcmp(name, "c") == 0) {
    a = attr(atts, "r");
    if (a != NULL) {
      if (pw_xlsx_ref_parse(a, strlen(a), &st->crow, &st->ccol) < 0) {
        xml_fail(x, "%s!: bad cell reference '%.20s'", s->name, a);
        return;
      }
    } else {
      st->crow = st->row > 0 ? st->row : 1;
      st->ccol = st->col + 1;
      if (st->ccol > PW_XLSX_MAX_COL) {
        xml_fail(x, "%s!: row %u has more than %u columns", s->name, st->crow, PW_XLSX_MAX_COL);
        return;
      }
    }
    st->col = st->ccol;
    a = attr(atts, "t");
    snprintf(st->type, sizeof(st->type), "%s", a != NULL ? a : "n");
    a = attr(atts, "s");
    st->style = a != NULL && parse_uint(a, 65535, &v) == 0 ? (long)v : -1;
    st->in_c = 1;
    st->in_is = 0;
    st->in_rph = 0;
    xml_text_reset(x);
  } else if (st->in_c && strcmp(name, "v") == 0) {
    xml_text_reset(x);
    x->collect = 1;
  } else if (st->in_c && strcmp(name, "is") == 0) {
    st->in_is = 1;
    xml_text_reset(x);
  } else if (st->in_is && strcmp(name, "rPh") == 0) {
    st->in_rph++;
  } else if (st->in_is && !st->in_rph && strcmp(name, "t") == 0) {
    x->collect = 1;
  } else if (strcmp(name, "mergeCell") == 0) {
    const char *ref = attr(atts, "ref"), *colon;
    struct merge m;
    if (ref == NULL)
      return;
    colon = strchr(ref, ':');
    if (colon == NULL || pw_xlsx_ref_parse(ref, (size_t)(colon - ref), &m.r1, &m.c1) < 0 ||
        pw_xlsx_ref_parse(colon + 1, strlen(colon + 1), &m.r2, &m.c2) < 0 || m.r2 < m.r1 ||
        m.c2 < m.c1) {
      xml_fail(x, "%s!: bad merged range '%.40s'", s->name, ref);
      return;
    }
    if (s->nmerges >= PW_XLSX_MAX_ENTRIES * 10) {
      xml_fail(x, "%s!: more than %d merged ranges", s->name, PW_XLSX_MAX_ENTRIES * 10);
      return;
    }
    if (grow((void **)&s->merges, &s->capmerges, s->nmerges + 1, sizeof(*s->merges)) < 0) {
      xml_fail(x, "out of memory");
      return;
    }
    s->merges[s->nmerges++] = m;
    if (m.c2 > s->max_col)
      s->max_col = m.c2;
  }
}

static const char *trim_text(const char *t, size_t *n) {
  while (*n > 0 && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) {
    t++;
    (*n)--;
  }
  while (*n > 0 &&
         (t[*n - 1] == ' ' || t[*n - 1] == '\t' || t[*n - 1] == '\r' || t[*n - 1] == '\n'))
    (*n)--;
  return t;
}

/* Turns the text collected for the cell just closed into a cell of the sheet. */
static void sheet_cell(struct xml *x, struct sheet_state *st) {
  struct pw_xlsx *wb = st->wb;
  struct pw_xlsx_sheet *s = st->s;
  struct pw_xlsx_cell c = {.row = st->crow, .col = st->ccol};
  const char *t = x->text != NULL ? x->text : "";
  size_t n = x->textlen, off;
  char buf[64], ref[16];
  unsigned long idx;

  if (strcmp(st->type, "s") == 0) {
    char tmp[16];
    const char *num = trim_text(t, &n);
    if (n == 0)
      return;
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 15 ? n : 15), num);
    if (parse_uint(tmp, PW_XLSX_MAX_CELLS, &idx) < 0 || idx >= wb->nsst) {
      pw_xlsx_ref_format(c.row, c.col, ref, sizeof(ref));
      xml_fail(x, "%s!%s: shared string '%s' does not exist (the workbook has %zu)", s->name, ref,
               tmp, wb->nsst);
      return;
    }
    c.type = PW_XLSX_TEXT;
    t = wb->sst_pool + wb->sst_off[idx];
    n = wb->sst_len[idx];
  } else if (strcmp(st->type, "str") == 0 || strcmp(st->type, "inlineStr") == 0) {
    c.type = PW_XLSX_TEXT;
    if (x->text != NULL)
      n = unescape_x(x->text, n);
  } else if (strcmp(st->type, "b") == 0) {
    t = trim_text(t, &n);
    if (n == 0)
      return;
    c.type = PW_XLSX_BOOL;
    t = n == 1 && t[0] == '1' ? "TRUE" : "FALSE";
    n = strlen(t);
  } else if (strcmp(st->type, "e") == 0) {
    c.type = PW_XLSX_ERROR;
    t = trim_text(t, &n);
  } else if (strcmp(st->type, "d") == 0) {
    c.type = PW_XLSX_DATE;
    t = trim_text(t, &n);
    if (n == 19 && memcmp(t + 10, "T00:00:00", 9) == 0)
      n = 10;
  } else {
    char *end;
    unsigned char kind;
    t = trim_text(t, &n);
    if (n == 0)
      return;
    c.type = PW_XLSX_TEXT; /* a number that does not read as one stays text */
    if (n < sizeof(buf)) {
      memcpy(buf, t, n);
      buf[n] = '\0';
      c.number = strtod(buf, &end);
      if (*end == '\0' && isfinite(c.number)) {
        c.type = PW_XLSX_NUMBER;
        kind = st->style >= 0 && (size_t)st->style < wb->nxf ? wb->xf_kind[st->style] : FMT_PLAIN;
        if (kind == FMT_DATE && serial_date(c.number, wb->date1904, buf, sizeof(buf)) == 0) {
          c.type = PW_XLSX_DATE;
          t = buf;
          n = strlen(buf);
        } else if (kind == FMT_PERCENT) {
          snprintf(buf, sizeof(buf), "%.15g%%", c.number * 100.0);
          t = buf;
          n = strlen(buf);
        }
      } else {
        c.number = 0;
      }
    }
  }
  if (n == 0)
    return; /* an empty string is an empty cell */
  if (s->ncells >= PW_XLSX_MAX_CELLS) {
    xml_fail(x, "%s!: more than %d cells", s->name, PW_XLSX_MAX_CELLS);
    return;
  }
  if (grow((void **)&s->cells, &s->capcells, s->ncells + 1, sizeof(*s->cells)) < 0 ||
      pool_add(&s->pool, &s->poollen, &s->poolcap, t, n, &off) < 0) {
    xml_fail(x, "out of memory");
    return;
  }
  /* The pool moves as it grows: the offset stands in TEXT until the sheet is read. */
  c.text = (const char *)(uintptr_t)off;
  c.text_len = n;
  s->cells[s->ncells++] = c;
  if (c.col > s->max_col)
    s->max_col = c.col;
}

static void sheet_end(struct xml *x, const char *name) {
  struct sheet_state *st = x->ctx;

  if (strcmp(name, "sheetData") == 0) {
    st->in_data = 0;
  } else if (st->in_c && strcmp(name, "c") == 0) {
    x->collect = 0;
    st->in_c = 0;
    sheet_cell(x, st);
  } else if (strcmp(name, "v") == 0) {
    x->collect = 0;
  } else if (st->in_is && strcmp(name, "rPh") == 0 && st->in_rph > 0) {
    st->in_rph--;
  } else if (strcmp(name, "t") == 0) {
    x->collect = 0;
  } else if (strcmp(name, "is") == 0) {
    st->in_is = 0;
  }
}

static int mrow_cmp(const void *a, const void *b) {
  const struct merge_row *x = a, *y = b;

  if (x->row != y->row)
    return x->row < y->row ? -1 : 1;
  if (x->c1 != y->c1)
    return x->c1 < y->c1 ? -1 : 1;
  return 0;
}

/* Builds the index of merged rows: one entry per row a range covers, at most
 * PW_XLSX_MAX_CELLS in all. */
static int index_merges(struct pw_xlsx_sheet *s, char *err, size_t errlen) {
  size_t total = 0, k = 0;

  for (size_t i = 0; i < s->nmerges; i++) {
    total += (size_t)(s->merges[i].r2 - s->merges[i].r1) + 1;
    if (total > PW_XLSX_MAX_CELLS) {
      pw_xlsx_set_err(err, errlen, "%s!: merged ranges cover more than %d rows in all", s->name,
                      PW_XLSX_MAX_CELLS);
      return -EINVAL;
    }
  }
  if (total == 0)
    return 0;
  s->mrows = malloc(total * sizeof(*s->mrows));
  if (s->mrows == NULL) {
    pw_xlsx_set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  for (size_t i = 0; i < s->nmerges; i++)
    for (uint32_t r = s->merges[i].r1; r <= s->merges[i].r2; r++)
      s->mrows[k++] = (struct merge_row){r, s->merges[i].c1, s->merges[i].c2, (uint32_t)i};
  qsort(s->mrows, total, sizeof(*s->mrows), mrow_cmp);
  s->nmrows = total;
  return 0;
}

/* The merged range covering ROW, COL, or NULL. Ranges do not overlap in a workbook Excel
 * wrote; where a hostile one makes them, the range starting last at or before COL is taken. */
static const struct merge *merge_at(const struct pw_xlsx_sheet *s, uint32_t row, uint32_t col) {
  size_t lo = 0, hi = s->nmrows;

  /* The first entry after (ROW, COL). */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct merge_row *e = &s->mrows[mid];
    if (e->row < row || (e->row == row && e->c1 <= col))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  if (s->mrows[lo - 1].row != row || s->mrows[lo - 1].c2 < col)
    return NULL;
  return &s->merges[s->mrows[lo - 1].m];
}

static int cell_cmp(const void *a, const void *b) {
  const struct pw_xlsx_cell *x = a, *y = b;

  if (x->row != y->row)
    return x->row < y->row ? -1 : 1;
  if (x->col != y->col)
    return x->col < y->col ? -1 : 1;
  return 0;
}

int pw_xlsx_sheet_load(struct pw_xlsx *x, size_t i, const struct pw_xlsx_sheet **out, char *err,
                       size_t errlen) {
  struct pw_xlsx_sheet *s;
  struct sheet_state st;
  struct xml xp = {.start = sheet_start, .end = sheet_end, .ctx = &st};
  char ref[16];
  int rc;

  *out = NULL;
  if (i >= x->nsheets) {
    pw_xlsx_set_err(err, errlen, "no sheet #%zu", i + 1);
    return -EINVAL;
  }
  s = &x->sheets[i];
  if (s->loaded) {
    *out = s;
    return 0;
  }
  if (s->part == NULL) {
    pw_xlsx_set_err(err, errlen, "%s!: the workbook does not say where the sheet is", s->name);
    return -EINVAL;
  }
  memset(&st, 0, sizeof(st));
  st.wb = x;
  st.s = s;
  rc = parse_part(x, s->part, &xp, err, errlen);
  if (rc == -ENOENT) {
    pw_xlsx_set_err(err, errlen, "%s!: the sheet's part %s is missing", s->name, s->part);
    rc = -EINVAL;
  }
  if (rc < 0)
    goto fail;
  for (size_t k = 0; k < s->ncells; k++)
    s->cells[k].text = s->pool + (uintptr_t)s->cells[k].text;
  if (s->ncells > 0)
    qsort(s->cells, s->ncells, sizeof(*s->cells), cell_cmp);
  if ((rc = index_merges(s, err, errlen)) < 0)
    goto fail;
  for (size_t k = 1; k < s->ncells; k++) {
    if (cell_cmp(&s->cells[k - 1], &s->cells[k]) == 0) {
      pw_xlsx_ref_format(s->cells[k].row, s->cells[k].col, ref, sizeof(ref));
      pw_xlsx_set_err(err, errlen, "%s!%s: the cell is written twice", s->name, ref);
      rc = -EINVAL;
      goto fail;
    }
  }
  s->loaded = 1;
  *out = s;
  return 0;
fail:
  free(s->cells);
  free(s->pool);
  free(s->merges);
  free(s->mrows);
  s->cells = NULL;
  s->pool = NULL;
  s->merges = NULL;
  s->mrows = NULL;
  s->ncells = s->capcells = s->poollen = s->poolcap = s->nmerges = s->capmerges = s->nmrows = 0;
  s->max_col = 0;
  return rc;
}

const struct pw_xlsx_cell *pw_xlsx_cell_at(const struct pw_xlsx_sheet *s, uint32_t row,
                                           uint32_t col) {
  struct pw_xlsx_cell key = {.row = row, .col = col};
  const struct merge *m = merge_at(s, row, col);

  if (m != NULL) {
    key.row = m->r1;
    key.col = m->c1;
  }
  if (s->ncells == 0)
    return NULL; /* bsearch wants an array */
  return bsearch(&key, s->cells, s->ncells, sizeof(*s->cells), cell_cmp);
}

void pw_xlsx_row_spans(const struct pw_xlsx_sheet *s, uint32_t row, pw_xlsx_span_cb cb, void *ctx) {
  size_t lo = 0, hi = s->ncells;

  /* The cells of the row that no range covers, each a span of one column. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->cells[mid].row < row)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < s->ncells && s->cells[lo].row == row; lo++)
    if (merge_at(s, row, s->cells[lo].col) == NULL)
      cb(ctx, s->cells[lo].col, s->cells[lo].col, &s->cells[lo]);
  /* The ranges covering the row, each read as its top-left cell. */
  lo = 0;
  hi = s->nmrows;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->mrows[mid].row < row)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < s->nmrows && s->mrows[lo].row == row; lo++) {
    const struct merge *m = &s->merges[s->mrows[lo].m];
    struct pw_xlsx_cell key = {.row = m->r1, .col = m->c1};
    cb(ctx, m->c1, m->c2,
       s->ncells > 0 ? bsearch(&key, s->cells, s->ncells, sizeof(*s->cells), cell_cmp) : NULL);
  }
}

const struct pw_xlsx_cell *pw_xlsx_cells(const struct pw_xlsx_sheet *s, size_t *n) {
  *n = s->ncells;
  return s->cells;
}

uint32_t pw_xlsx_max_col(const struct pw_xlsx_sheet *s) {
  return s->max_col;
}
