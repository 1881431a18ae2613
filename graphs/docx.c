/*
 * docx: the briefing's model (report.h) as a WordprocessingML package (docs/briefing.md
 * "Files"), zipped in memory with libzip and written atomically. The package holds
 * [Content_Types].xml, _rels/.rels, docProps/core.xml, word/document.xml, word/styles.xml,
 * word/fontTable.xml, word/footer1.xml, word/_rels/document.xml.rels and word/media/imageN.png.
 * Every piece of text goes through pw_xml_escape; nothing else writes model text into XML.
 */
#define PW_LOG_MODULE "briefing"
#include "docx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "log.h"

/* A PNG larger than this is not a trend graph (the same bound as the HTML's). */
#define PNG_LIMIT (16u << 20)

/* The page (twentieths of a point): A4 with the margins of a Chinese official document
 * (37 mm top, 35 mm bottom, 28 mm left, 26 mm right), leaving 8844 twips of text width. */
#define PAGE_W 11906
#define PAGE_H 16838
#define MARGIN_TOP 2098
#define MARGIN_BOTTOM 1984
#define MARGIN_LEFT 1588
#define MARGIN_RIGHT 1474
#define TEXT_W (PAGE_W - MARGIN_LEFT - MARGIN_RIGHT)
#define TWIP_EMU 635 /* 914400 EMU per inch / 1440 twips per inch */

/* ---- XML ---- */

/* The length of the UTF-8 sequence at S and its code point, or 0 when it is malformed. */
static int utf8_char(const unsigned char *s, uint32_t *cp) {
  int n, i;
  uint32_t c;

  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xE0) == 0xC0) {
    n = 2;
    c = s[0] & 0x1F;
  } else if ((s[0] & 0xF0) == 0xE0) {
    n = 3;
    c = s[0] & 0x0F;
  } else if ((s[0] & 0xF8) == 0xF0) {
    n = 4;
    c = s[0] & 0x07;
  } else {
    return 0;
  }
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
      return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
      (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return n;
}

int pw_xml_escape(struct pw_buf *out, const char *s) {
  const unsigned char *p = (const unsigned char *)s, *run = p;
  int rc = 0;

  while (*p && rc == 0) {
    const char *rep = NULL;
    uint32_t cp;
    int n = utf8_char(p, &cp);
    if (n == 0)
      rep = "\xEF\xBF\xBD"; /* U+FFFD for a malformed byte */
    else if (cp == '&')
      rep = "&amp;";
    else if (cp == '<')
      rep = "&lt;";
    else if (cp == '>')
      rep = "&gt;";
    else if (cp == '"')
      rep = "&quot;";
    else if (cp == '\'')
      rep = "&apos;";
    else if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF)
      rep = ""; /* not a character of XML 1.0 */
    if (rep == NULL) {
      p += n;
      continue;
    }
    rc = pw_buf_append(out, run, (size_t)(p - run));
    if (rc == 0)
      rc = pw_buf_append(out, rep, strlen(rep));
    p += n == 0 ? 1 : n;
    run = p;
  }
  if (rc == 0)
    rc = pw_buf_append(out, run, (size_t)(p - run));
  return rc;
}

int pw_png_size(const unsigned char *d, size_t len, uint32_t *w, uint32_t *h) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  uint32_t a, b;

  if (len < 24 || memcmp(d, sig, 8) != 0 || memcmp(d + 12, "IHDR", 4) != 0)
    return -EINVAL;
  a = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
  b = (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
  if (a == 0 || b == 0 || a > 0x7FFFFFFFu || b > 0x7FFFFFFFu)
    return -EINVAL;
  *w = a;
  *h = b;
  return 0;
}

int pw_docx_extent(uint32_t w, uint32_t h, uint32_t dpi, int64_t max_cx, int64_t *cx, int64_t *cy) {
  int64_t x, y;

  if (w == 0 || h == 0 || dpi == 0)
    return -EINVAL;
  /* w < 2^31 and 914400 < 2^20: the products stay far below 2^63. */
  x = ((int64_t)w * PW_EMU_PER_INCH + dpi / 2) / dpi;
  y = ((int64_t)h * PW_EMU_PER_INCH + dpi / 2) / dpi;
  if (max_cx > 0 && x > max_cx) {
    /* y * max_cx / x, rounded: y and max_cx both below 2^52 in any real use; the division
     * first keeps a pathological size from overflowing. */
    if (y > INT64_MAX / max_cx)
      y = y / x * max_cx;
    else
      y = (y * max_cx + x / 2) / x;
    x = max_cx;
  }
  *cx = x > 0 ? x : 1;
  *cy = y > 0 ? y : 1;
  return 0;
}

/* ---- the package ---- */

struct media {
  const char *path; /* the PNG file (borrowed from the model) */
  char *data;
  size_t len;
  uint32_t w, h;
};

struct docx {
  const struct pw_report *r;
  struct pw_buf doc, rels;
  struct media *media;
  int n_media;
  int pictures; /* docPr ids */
  int rc;
};

static void put(struct docx *d, const char *s) {
  if (d->rc == 0)
    d->rc = pw_buf_append(&d->doc, s, strlen(s));
}

static void text(struct docx *d, const char *s) {
  if (d->rc == 0)
    d->rc = pw_xml_escape(&d->doc, s);
}

static void fmt(struct docx *d, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fmt(struct docx *d, const char *f, ...) {
  va_list ap;
  char small[512];
  int n;

  va_start(ap, f);
  n = vsnprintf(small, sizeof(small), f, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(small)) {
    if (d->rc == 0)
      d->rc = -EINVAL; /* only short fixed markup goes through here */
    return;
  }
  put(d, small);
}

/* One run of text; BOLD emphasises it. */
static void run(struct docx *d, const char *s, int bold) {
  if (s == NULL || s[0] == '\0')
    return;
  put(d, bold ? "<w:r><w:rPr><w:b/><w:bCs/></w:rPr><w:t xml:space=\"preserve\">"
              : "<w:r><w:t xml:space=\"preserve\">");
  text(d, s);
  put(d, "</w:t></w:r>");
}

/* A paragraph of style STYLE (NULL: Normal) holding the one run S. */
static void para(struct docx *d, const char *style, const char *s, int bold) {
  if (style != NULL)
    fmt(d, "<w:p><w:pPr><w:pStyle w:val=\"%s\"/></w:pPr>", style);
  else
    put(d, "<w:p>");
  run(d, s, bold);
  put(d, "</w:p>");
}

static void runs(struct docx *d, const struct pw_report_block *b) {
  int k;

  for (k = 0; k < b->n_runs; k++)
    run(d, b->runs[k].text, b->runs[k].kind == PW_RUN_BOLD);
}

/* The media entry of PATH, read on first use; NULL when it cannot be read or is no PNG. */
static struct media *media_for(struct docx *d, const char *path) {
  struct media *m, *grown;
  int i, rc;

  for (i = 0; i < d->n_media; i++)
    if (strcmp(d->media[i].path, path) == 0)
      return d->media[i].data != NULL ? &d->media[i] : NULL;
  grown = realloc(d->media, (size_t)(d->n_media + 1) * sizeof(*d->media));
  if (grown == NULL) {
    d->rc = -ENOMEM;
    return NULL;
  }
  d->media = grown;
  m = &d->media[d->n_media++];
  memset(m, 0, sizeof(*m));
  m->path = path;
  rc = pw_read_file(path, PNG_LIMIT, &m->data, &m->len);
  if (rc == 0 && pw_png_size((const unsigned char *)m->data, m->len, &m->w, &m->h) < 0)
    rc = -EINVAL;
  if (rc < 0) {
    pw_log_error("briefing: cannot use the graph %s in the Word document: %s", path, strerror(-rc));
    free(m->data);
    m->data = NULL;
    return NULL;
  }
  return m;
}

/* One inline picture (wp:inline) at most MAX_CX EMU wide, as a run; the words 图表生成失败
 * when its PNG cannot be used. */
static void picture(struct docx *d, const struct pw_report_image *im, int64_t max_cx) {
  struct media *m = im->path != NULL ? media_for(d, im->path) : NULL;
  int64_t cx, cy;
  int id, rid;

  if (m == NULL || pw_docx_extent(m->w, m->h, 96, max_cx, &cx, &cy) < 0) {
    run(d, "图表生成失败", 0);
    return;
  }
  rid = (int)(m - d->media) + 1;
  id = ++d->pictures;
  fmt(d,
      "<w:r><w:drawing><wp:inline distT=\"0\" distB=\"0\" distL=\"0\" distR=\"0\">"
      "<wp:extent cx=\"%lld\" cy=\"%lld\"/><wp:effectExtent l=\"0\" t=\"0\" r=\"0\" b=\"0\"/>"
      "<wp:docPr id=\"%d\" name=\"图%d\" descr=\"",
      (long long)cx, (long long)cy, id, id);
  text(d, im->caption);
  fmt(d,
      "\"/><wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect=\"1\"/>"
      "</wp:cNvGraphicFramePr><a:graphic><a:graphicData "
      "uri=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"><pic:pic>"
      "<pic:nvPicPr><pic:cNvPr id=\"%d\" name=\"image%d.png\"/><pic:cNvPicPr/></pic:nvPicPr>",
      id, rid);
  fmt(d,
      "<pic:blipFill><a:blip r:embed=\"rIdImg%d\"/><a:stretch><a:fillRect/></a:stretch>"
      "</pic:blipFill><pic:spPr><a:xfrm><a:off x=\"0\" y=\"0\"/>"
      "<a:ext cx=\"%lld\" cy=\"%lld\"/></a:xfrm>",
      rid, (long long)cx, (long long)cy);
  put(d, "<a:prstGeom prst=\"rect\"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData>"
         "</a:graphic></wp:inline></w:drawing></w:r>");
}

/* N pictures side by side in one paragraph, each at most MAX_CX EMU wide, then their
 * captions in one line. */
static void figures(struct docx *d, const struct pw_report_image *const *ims, int n,
                    int64_t max_cx) {
  int i;

  put(d, "<w:p><w:pPr><w:pStyle w:val=\"Figure\"/><w:keepNext/></w:pPr>");
  for (i = 0; i < n; i++) {
    if (i > 0)
      run(d, "  ", 0);
    picture(d, ims[i], max_cx);
  }
  put(d, "</w:p><w:p><w:pPr><w:pStyle w:val=\"Caption\"/></w:pPr>");
  for (i = 0; i < n; i++) {
    if (i > 0)
      run(d, "　　", 0);
    run(d, ims[i]->caption, 0);
  }
  put(d, "</w:p>");
}

/* Display width of S in half-characters (a CJK character counts two), for column widths. */
static int width_of(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  int w = 0;

  for (; *p; p++)
    if (*p < 0x80)
      w += 1;
    else if ((*p & 0xC0) != 0x80)
      w += 2;
  return w;
}

/* Column widths in twips: each wants its typical text on one line of the table's 五号 text
 * (105 twips a half-character, plus the cell's margins), between 2 and 12 characters; when
 * they do not fit the text width, the wide columns give way (their text wraps), the narrow
 * ones (序号, 状态) keep theirs; what is left over is shared out. */
static void column_widths(const struct pw_report_table *t, int *w) {
  int c, r, sum = 0, wide = 0, narrow = 0, total = 0;

  for (c = 0; c < t->n_cols; c++) {
    int h = width_of(t->header[c]), m = h, sum_len = 0, want;
    for (r = 0; r < t->n_rows; r++) {
      int x = width_of(t->cells[r * t->n_cols + c]);
      m = x > m ? x : m;
      sum_len += x;
    }
    /* A column wants its typical text on one line, not its one longest: half again its
     * average, at most its longest, at least its header. */
    want = t->n_rows > 0 ? sum_len * 3 / (2 * t->n_rows) : m;
    want = want > m ? m : want < h ? h : want;
    w[c] = (want < 4 ? 4 : want > 24 ? 24 : want) * 105 + 130;
    sum += w[c];
    if (w[c] > 1200)
      wide += w[c];
  }
  narrow = sum - wide;
  for (c = 0; c < t->n_cols; c++) {
    if (sum > TEXT_W && wide > 0 && TEXT_W > narrow && w[c] > 1200)
      w[c] = (int)((int64_t)w[c] * (TEXT_W - narrow) / wide);
    else if (sum < TEXT_W)
      w[c] = (int)((int64_t)w[c] * TEXT_W / sum);
  }
  for (c = 0; c + 1 < t->n_cols; c++)
    total += w[c];
  w[t->n_cols - 1] = TEXT_W - total > 300 ? TEXT_W - total : w[t->n_cols - 1];
}

static void cell(struct docx *d, int width, const char *s, int bold) {
  fmt(d, "<w:tc><w:tcPr><w:tcW w:w=\"%d\" w:type=\"dxa\"/></w:tcPr>", width);
  fmt(d, "<w:p><w:pPr><w:pStyle w:val=\"TableText\"/></w:pPr>");
  run(d, s, bold);
  put(d, "</w:p></w:tc>");
}

/* A real table: one grid column per model column, widths after the longest text of each
 * (bounded, so a long note wraps instead of starving the others), the header row repeated on
 * every page. */
static void table(struct docx *d, const struct pw_report_table *t) {
  int *w, c, r;

  if (t->n_cols <= 0)
    return;
  w = calloc((size_t)t->n_cols, sizeof(*w));
  if (w == NULL) {
    d->rc = -ENOMEM;
    return;
  }
  column_widths(t, w);
  put(d, "<w:tbl><w:tblPr><w:tblW w:w=\"5000\" w:type=\"pct\"/><w:jc w:val=\"center\"/>"
         "<w:tblBorders><w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "<w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "<w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "<w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "<w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "<w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/>"
         "</w:tblBorders><w:tblLayout w:type=\"fixed\"/><w:tblCellMar>"
         "<w:left w:w=\"57\" w:type=\"dxa\"/><w:right w:w=\"57\" w:type=\"dxa\"/>"
         "</w:tblCellMar><w:tblLook w:val=\"04A0\" w:firstRow=\"1\" w:lastRow=\"0\" "
         "w:firstColumn=\"0\" w:lastColumn=\"0\" w:noHBand=\"0\" w:noVBand=\"1\"/></w:tblPr>"
         "<w:tblGrid>");
  for (c = 0; c < t->n_cols; c++)
    fmt(d, "<w:gridCol w:w=\"%d\"/>", w[c]);
  put(d, "</w:tblGrid><w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>");
  for (c = 0; c < t->n_cols; c++)
    cell(d, w[c], t->header[c], 1);
  put(d, "</w:tr>");
  for (r = 0; r < t->n_rows; r++) {
    put(d, "<w:tr><w:trPr><w:cantSplit/></w:trPr>");
    for (c = 0; c < t->n_cols; c++)
      cell(d, w[c], t->cells[r * t->n_cols + c], 0);
    put(d, "</w:tr>");
  }
  put(d, "</w:tbl>");
  free(w);
}

static void heading(struct docx *d, const struct pw_report_section *sec, int page_break) {
  fmt(d, "<w:p><w:pPr><w:pStyle w:val=\"Heading%d\"/>%s</w:pPr>", sec->level == 1 ? 1 : 2,
      page_break ? "<w:pageBreakBefore/>" : "");
  put(d, "<w:r><w:t xml:space=\"preserve\">");
  text(d, sec->number);
  if (sec->appendix)
    text(d, "　");
  text(d, sec->heading);
  put(d, "</w:t></w:r></w:p>");
}

/* Fonts: Latin text in Times New Roman, Chinese per GB/T 9704 usage; fontTable names the
 * common substitutes (宋体 for 方正小标宋简体, 仿宋 for 仿宋_GB2312) for a machine without them. */
#define RFONTS(ea)                                                                                 \
  "<w:rFonts w:ascii=\"Times New Roman\" w:hAnsi=\"Times New Roman\" w:cs=\"Times New Roman\" "    \
  "w:eastAsia=\"" ea "\" w:hint=\"eastAsia\"/>"

static const char ns[] =
    "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
    "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
    "xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" "
    "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
    "xmlns:pic=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"";

static void document(struct docx *d) {
  const struct pw_report *r = d->r;
  const struct pw_report_image *pair[2];
  int s, k, first_appendix = 1, in_p = 0;
  /* Graphs in the body at just under half the text width, two to a line (the body stays about
   * three pages); the appendix's at the full width. */
  int64_t body_cx = (int64_t)TEXT_W * TWIP_EMU * 40 / 100, full_cx = (int64_t)TEXT_W * TWIP_EMU;

  put(d, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document ");
  put(d, ns);
  put(d, "><w:body>");
  para(d, "Title", r->title, 0);
  put(d, "<w:p><w:pPr><w:pStyle w:val=\"Byline\"/></w:pPr>");
  if (r->issuer != NULL && r->issuer[0]) {
    run(d, r->issuer, 0);
    run(d, "　", 0);
  }
  run(d, r->date, 0);
  put(d, "</w:p><w:p><w:pPr><w:pStyle w:val=\"Byline\"/></w:pPr>");
  run(d, "（", 0);
  run(d, r->period, 0);
  run(d, "）", 0);
  put(d, "</w:p>");
  for (s = 0; s < r->n_sections && d->rc == 0; s++) {
    const struct pw_report_section *sec = &r->sections[s];
    /* An area's heading opens its paragraph as the report writes it ("（二）幼有善育方面。涉及3
     * 个重点指标。1.……"), in the heading's font; level-1 headings stand alone. */
    if (sec->level == 2 && sec->n_blocks > 0 && sec->blocks[0].kind == PW_BLOCK_PARAGRAPH) {
      put(d, "<w:p><w:r><w:rPr>" RFONTS(
                 "楷体_GB2312") "<w:b/><w:bCs/></w:rPr><w:t xml:space=\"preserve\">");
      text(d, sec->number);
      text(d, sec->heading);
      text(d, "。");
      put(d, "</w:t></w:r>");
      in_p = 1;
    } else {
      heading(d, sec, sec->appendix && first_appendix);
    }
    if (sec->appendix)
      first_appendix = 0;
    for (k = 0; k < sec->n_blocks; k++) {
      const struct pw_report_block *b = &sec->blocks[k];
      /* An area runs as one paragraph, as the report writes it ("涉及3个重点指标。1.……2.……
       * 以上指标均达季度目标要求。"); a picture breaks it. */
      int merge = sec->level == 2 && b->kind == PW_BLOCK_PARAGRAPH;
      if (in_p && !merge) {
        put(d, "</w:p>");
        in_p = 0;
      }
      switch (b->kind) {
      case PW_BLOCK_PARAGRAPH:
        if (!in_p)
          put(d, "<w:p>");
        runs(d, b);
        if (merge)
          in_p = 1;
        else
          put(d, "</w:p>");
        break;
      case PW_BLOCK_SLOT:
        put(d, "<w:p><w:pPr><w:pStyle w:val=\"Slot\"/></w:pPr>");
        runs(d, b);
        put(d, "</w:p>");
        break;
      case PW_BLOCK_TABLE:
        table(d, &b->table);
        break;
      case PW_BLOCK_IMAGE:
        /* In the body two graphs share a line; the appendix shows each at full width. */
        pair[0] = &b->image;
        if (!sec->appendix && k + 1 < sec->n_blocks && sec->blocks[k + 1].kind == PW_BLOCK_IMAGE) {
          pair[1] = &sec->blocks[++k].image;
          figures(d, pair, 2, body_cx);
        } else {
          figures(d, pair, 1, sec->appendix ? full_cx : body_cx);
        }
        break;
      }
    }
    if (in_p)
      put(d, "</w:p>");
    in_p = 0;
  }
  para(d, "Note", "本简报由 pacewatch 根据各部门报送数据自动生成，供审核修改。", 0);
  fmt(d,
      "<w:sectPr><w:footerReference w:type=\"default\" r:id=\"rIdFooter\"/>"
      "<w:pgSz w:w=\"%d\" w:h=\"%d\"/><w:pgMar w:top=\"%d\" w:right=\"%d\" w:bottom=\"%d\" "
      "w:left=\"%d\" w:header=\"851\" w:footer=\"1247\" w:gutter=\"0\"/></w:sectPr>",
      PAGE_W, PAGE_H, MARGIN_TOP, MARGIN_RIGHT, MARGIN_BOTTOM, MARGIN_LEFT);
  put(d, "</w:body></w:document>\n");
}

static const char styles_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:styles xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
    "<w:docDefaults><w:rPrDefault><w:rPr>" RFONTS(
        "仿宋_GB2312") "<w:sz w:val=\"32\"/><w:szCs w:val=\"32\"/>"
                       "<w:lang w:val=\"en-US\" w:eastAsia=\"zh-CN\"/></w:rPr></w:rPrDefault>"
                       "<w:pPrDefault><w:pPr><w:spacing w:before=\"0\" w:after=\"0\" "
                       "w:line=\"420\" w:lineRule=\"exact\"/><w:jc w:val=\"both\"/></w:pPr>"
                       "</w:pPrDefault></w:docDefaults>"
                       /* 正文: 仿宋 三号, first line indented two characters. */
                       "<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name "
                       "w:val=\"Normal\"/>"
                       "<w:qFormat/><w:pPr><w:ind w:firstLineChars=\"200\" "
                       "w:firstLine=\"640\"/></w:pPr></w:style>"
                       /* 标题: 方正小标宋 二号, bold, centred. */
                       "<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/>"
                       "<w:basedOn w:val=\"Normal\"/><w:next "
                       "w:val=\"Normal\"/><w:qFormat/><w:pPr><w:jc "
                       "w:val=\"center\"/><w:spacing w:before=\"0\" w:after=\"120\" w:line=\"700\" "
                       "w:lineRule=\"exact\"/><w:ind w:firstLineChars=\"0\" "
                       "w:firstLine=\"0\"/></w:pPr><w:rPr>" RFONTS(
                           "方正小标宋简体") "<w:b/><w:bCs/><w:sz w:val=\"44\"/><w:szCs "
                                             "w:val=\"44\"/></w:rPr></w:style>"
                                             "<w:style w:type=\"paragraph\" "
                                             "w:styleId=\"Byline\"><w:name w:val=\"Byline\"/>"
                                             "<w:basedOn w:val=\"Normal\"/><w:pPr><w:jc "
                                             "w:val=\"center\"/><w:ind w:firstLineChars=\"0\" "
                                             "w:firstLine=\"0\"/></w:pPr></w:style>"
                                             /* 一级、二级标题: 黑体 三号. */
                                             "<w:style w:type=\"paragraph\" "
                                             "w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/>"
                                             "<w:basedOn w:val=\"Normal\"/><w:next "
                                             "w:val=\"Normal\"/><w:qFormat/><w:pPr><w:keepNext/>"
                                             "<w:outlineLvl w:val=\"0\"/></w:pPr><w:rPr>" RFONTS(
                                                 "黑体") "</w:rPr></w:style>"
                                                         "<w:style w:type=\"paragraph\" "
                                                         "w:styleId=\"Heading2\"><w:name "
                                                         "w:val=\"heading 2\"/>"
                                                         "<w:basedOn w:val=\"Normal\"/><w:next "
                                                         "w:val=\"Normal\"/><w:qFormat/"
                                                         "><w:pPr><w:keepNext/>"
                                                         "<w:outlineLvl "
                                                         "w:val=\"1\"/></w:pPr><w:rPr>" RFONTS(
                                                             "黑体") "</w:rPr></w:style>"
                                                                     /* A picture's paragraph:
                                                                        single line spacing (an
                                                                        exact one would clip the
                                                                        picture). */
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"Figure\"><w:name "
                                                                     "w:val=\"Figure\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/"
                                                                     "><w:pPr><w:spacing "
                                                                     "w:before=\"120\" "
                                                                     "w:line=\"240\" "
                                                                     "w:lineRule=\"auto\"/><w:jc "
                                                                     "w:val=\"center\"/><w:ind "
                                                                     "w:firstLineChars=\"0\" "
                                                                     "w:firstLine=\"0\"/></w:pPr></"
                                                                     "w:style>"
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"Caption\"><w:"
                                                                     "name w:val=\"caption\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/><w:qFormat/"
                                                                     "><w:pPr><w:spacing "
                                                                     "w:after=\"120\" "
                                                                     "w:line=\"360\" "
                                                                     "w:lineRule=\"exact\"/><w:jc "
                                                                     "w:val=\"center\"/><w:ind "
                                                                     "w:firstLineChars=\"0\" "
                                                                     "w:firstLine=\"0\"/></"
                                                                     "w:pPr><w:rPr><w:sz "
                                                                     "w:val=\"24\"/><w:szCs "
                                                                     "w:val=\"24\"/></w:rPr></"
                                                                     "w:style>"
                                                                     /* The table's text: 五号,
                                                                        single spacing, no indent.
                                                                      */
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"TableText\"><w:"
                                                                     "name w:val=\"Table Text\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/"
                                                                     "><w:pPr><w:spacing "
                                                                     "w:line=\"260\" "
                                                                     "w:lineRule=\"auto\"/>"
                                                                     "<w:jc w:val=\"left\"/><w:ind "
                                                                     "w:firstLineChars=\"0\" "
                                                                     "w:firstLine=\"0\"/></"
                                                                     "w:pPr><w:rPr>"
                                                                     "<w:sz w:val=\"21\"/><w:szCs "
                                                                     "w:val=\"21\"/></w:rPr></"
                                                                     "w:style>"
                                                                     /* The marked empty slot people
                                                                        fill in. */
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"Slot\"><w:name "
                                                                     "w:val=\"Slot\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/"
                                                                     "><w:rPr><w:color "
                                                                     "w:val=\"808080\"/></w:rPr></"
                                                                     "w:style>"
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"Note\"><w:name "
                                                                     "w:val=\"Note\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/"
                                                                     "><w:pPr><w:spacing "
                                                                     "w:before=\"240\" "
                                                                     "w:line=\"360\" "
                                                                     "w:lineRule=\"exact\"/><w:ind "
                                                                     "w:firstLineChars=\"0\" "
                                                                     "w:firstLine=\"0\"/></"
                                                                     "w:pPr><w:rPr>"
                                                                     "<w:color "
                                                                     "w:val=\"666666\"/><w:sz "
                                                                     "w:val=\"21\"/><w:szCs "
                                                                     "w:val=\"21\"/></w:rPr></"
                                                                     "w:style>"
                                                                     "<w:style "
                                                                     "w:type=\"paragraph\" "
                                                                     "w:styleId=\"Footer\"><w:name "
                                                                     "w:val=\"footer\"/>"
                                                                     "<w:basedOn "
                                                                     "w:val=\"Normal\"/"
                                                                     "><w:pPr><w:spacing "
                                                                     "w:line=\"240\" "
                                                                     "w:lineRule=\"auto\"/>"
                                                                     "<w:jc "
                                                                     "w:val=\"center\"/><w:ind "
                                                                     "w:firstLineChars=\"0\" "
                                                                     "w:firstLine=\"0\"/></"
                                                                     "w:pPr><w:rPr>" RFONTS(
                                                                         "宋体") "<w:sz "
                                                                                 "w:val=\"28\"/"
                                                                                 "><w:szCs "
                                                                                 "w:val=\"28\"/></"
                                                                                 "w:rPr></w:style>"
                                                                                 "</w:styles>\n";

static const char font_table_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:fonts xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
    "<w:font w:name=\"Times New Roman\"><w:charset w:val=\"00\"/><w:family w:val=\"roman\"/>"
    "</w:font>"
    "<w:font w:name=\"方正小标宋简体\"><w:altName w:val=\"宋体\"/><w:charset w:val=\"86\"/>"
    "<w:family w:val=\"script\"/></w:font>"
    "<w:font w:name=\"仿宋_GB2312\"><w:altName w:val=\"仿宋\"/><w:charset w:val=\"86\"/>"
    "<w:family w:val=\"modern\"/></w:font>"
    "<w:font w:name=\"楷体_GB2312\"><w:altName w:val=\"楷体\"/><w:charset w:val=\"86\"/>"
    "<w:family w:val=\"modern\"/></w:font>"
    "<w:font w:name=\"黑体\"><w:altName w:val=\"SimHei\"/><w:charset w:val=\"86\"/>"
    "<w:family w:val=\"modern\"/></w:font>"
    "<w:font w:name=\"宋体\"><w:altName w:val=\"SimSun\"/><w:charset w:val=\"86\"/>"
    "<w:family w:val=\"auto\"/></w:font></w:fonts>\n";

/* 页码: "— 1 —" centred, the PAGE field. */
static const char footer_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:ftr xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
    "<w:p><w:pPr><w:pStyle w:val=\"Footer\"/></w:pPr>"
    "<w:r><w:t xml:space=\"preserve\">— </w:t></w:r>"
    "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r>"
    "<w:r><w:instrText xml:space=\"preserve\"> PAGE </w:instrText></w:r>"
    "<w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>1</w:t></w:r>"
    "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>"
    "<w:r><w:t xml:space=\"preserve\"> —</w:t></w:r></w:p></w:ftr>\n";

#define CT_MAIN "application/vnd.openxmlformats-officedocument.wordprocessingml"
static const char content_types_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"rels\" "
    "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
    "<Default Extension=\"png\" ContentType=\"image/png\"/>"
    "<Override PartName=\"/word/document.xml\" ContentType=\"" CT_MAIN ".document.main+xml\"/>"
    "<Override PartName=\"/word/styles.xml\" ContentType=\"" CT_MAIN ".styles+xml\"/>"
    "<Override PartName=\"/word/fontTable.xml\" ContentType=\"" CT_MAIN ".fontTable+xml\"/>"
    "<Override PartName=\"/word/footer1.xml\" ContentType=\"" CT_MAIN ".footer+xml\"/>"
    "<Override PartName=\"/docProps/core.xml\" "
    "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/></Types>\n";

#define REL "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
static const char root_rels_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" REL "officeDocument\" Target=\"word/document.xml\"/>"
    "<Relationship Id=\"rId2\" "
    "Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
    "core-properties\" Target=\"docProps/core.xml\"/></Relationships>\n";

static int document_rels(struct docx *d) {
  struct pw_buf *b = &d->rels;
  int i, rc;

  rc = pw_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                        "<Relationships "
                        "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
                        "<Relationship Id=\"rIdStyles\" Type=\"" REL "styles\" "
                        "Target=\"styles.xml\"/><Relationship Id=\"rIdFonts\" "
                        "Type=\"" REL "fontTable\" Target=\"fontTable.xml\"/>"
                        "<Relationship Id=\"rIdFooter\" Type=\"" REL "footer\" "
                        "Target=\"footer1.xml\"/>");
  for (i = 0; rc == 0 && i < d->n_media; i++)
    if (d->media[i].data != NULL)
      rc = pw_buf_printf(b,
                         "<Relationship Id=\"rIdImg%d\" Type=\"" REL "image\" "
                         "Target=\"media/image%d.png\"/>",
                         i + 1, i + 1);
  if (rc == 0)
    rc = pw_buf_printf(b, "</Relationships>\n");
  return rc;
}

static int core_xml(const struct pw_report *r, struct pw_buf *b) {
  int rc = pw_buf_printf(
      b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
         "<cp:coreProperties "
         "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
         "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>");

  if (rc == 0)
    rc = pw_xml_escape(b, r->title);
  if (rc == 0)
    rc = pw_buf_printf(b, "</dc:title><dc:creator>");
  if (rc == 0)
    rc = pw_xml_escape(b, r->issuer != NULL && r->issuer[0] ? r->issuer : "pacewatch");
  if (rc == 0)
    rc = pw_buf_printf(b, "</dc:creator></cp:coreProperties>\n");
  return rc;
}

/* Adds NAME holding LEN bytes at DATA; with OWN the archive takes DATA (freed by libzip). */
static int add(zip_t *z, const char *name, const void *data, size_t len, int own) {
  zip_source_t *s = zip_source_buffer(z, data, len, own);

  if (s == NULL)
    return -ENOMEM;
  if (zip_file_add(z, name, s, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
    zip_source_free(s);
    return -EIO;
  }
  return 0;
}

/* Zips the parts into memory: *OUT (owned) of *LEN bytes. */
static int package(struct docx *d, struct pw_buf *core, char **out, size_t *len, char *err,
                   size_t errlen) {
  zip_error_t ze;
  zip_source_t *src;
  zip_stat_t st;
  zip_t *z;
  char name[64];
  int i, rc = 0;

  zip_error_init(&ze);
  src = zip_source_buffer_create(NULL, 0, 0, &ze);
  if (src == NULL || (z = zip_open_from_source(src, ZIP_CREATE | ZIP_TRUNCATE, &ze)) == NULL) {
    snprintf(err, errlen, "cannot start the archive: %s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    zip_source_free(src);
    return -ENOMEM;
  }
  zip_source_keep(src); /* the archive's close writes into it; we read it afterwards */
  rc = add(z, "[Content_Types].xml", content_types_xml, sizeof(content_types_xml) - 1, 0);
  if (rc == 0)
    rc = add(z, "_rels/.rels", root_rels_xml, sizeof(root_rels_xml) - 1, 0);
  if (rc == 0)
    rc = add(z, "docProps/core.xml", core->data, core->len, 0);
  if (rc == 0)
    rc = add(z, "word/document.xml", d->doc.data, d->doc.len, 0);
  if (rc == 0)
    rc = add(z, "word/_rels/document.xml.rels", d->rels.data, d->rels.len, 0);
  if (rc == 0)
    rc = add(z, "word/styles.xml", styles_xml, sizeof(styles_xml) - 1, 0);
  if (rc == 0)
    rc = add(z, "word/fontTable.xml", font_table_xml, sizeof(font_table_xml) - 1, 0);
  if (rc == 0)
    rc = add(z, "word/footer1.xml", footer_xml, sizeof(footer_xml) - 1, 0);
  for (i = 0; rc == 0 && i < d->n_media; i++) {
    if (d->media[i].data == NULL)
      continue;
    snprintf(name, sizeof(name), "word/media/image%d.png", i + 1);
    rc = add(z, name, d->media[i].data, d->media[i].len, 0);
    /* PNGs are compressed already: stored, not deflated again. */
    if (rc == 0)
      zip_set_file_compression(z, (zip_uint64_t)zip_name_locate(z, name, 0), ZIP_CM_STORE, 0);
  }
  if (rc < 0) {
    snprintf(err, errlen, "cannot add to the archive: %s", zip_strerror(z));
    zip_discard(z);
    zip_source_free(src);
    return rc;
  }
  if (zip_close(z) < 0) {
    snprintf(err, errlen, "cannot write the archive: %s", zip_strerror(z));
    zip_discard(z);
    zip_source_free(src);
    return -EIO;
  }
  *out = NULL;
  if (zip_source_stat(src, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(src) < 0) {
    snprintf(err, errlen, "cannot read the archive back");
    zip_source_free(src);
    return -EIO;
  }
  *out = malloc(st.size > 0 ? (size_t)st.size : 1);
  if (*out == NULL || zip_source_read(src, *out, st.size) != (zip_int64_t)st.size) {
    snprintf(err, errlen, *out == NULL ? "out of memory" : "cannot read the archive back");
    rc = *out == NULL ? -ENOMEM : -EIO;
    free(*out);
    *out = NULL;
  }
  *len = (size_t)st.size;
  zip_source_close(src);
  zip_source_free(src);
  return rc;
}

int pw_report_docx(const struct pw_report *r, const char *path, char *err, size_t errlen) {
  struct docx d;
  struct pw_buf core = {NULL, 0, 0, 0};
  char *zipped = NULL, why[256];
  size_t len = 0;
  int i, rc;

  memset(&d, 0, sizeof(d));
  d.r = r;
  document(&d);
  rc = d.rc;
  if (rc == 0)
    rc = document_rels(&d);
  if (rc == 0)
    rc = core_xml(r, &core);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot build the document: %s", path, strerror(-rc));
  } else if ((rc = package(&d, &core, &zipped, &len, why, sizeof(why))) < 0) {
    snprintf(err, errlen, "%s: %s", path, why);
  } else if ((rc = pw_write_file_atomic(path, zipped, len)) < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
  }
  free(zipped);
  pw_buf_free(&core);
  pw_buf_free(&d.doc);
  pw_buf_free(&d.rels);
  for (i = 0; i < d.n_media; i++)
    free(d.media[i].data);
  free(d.media);
  return rc;
}
