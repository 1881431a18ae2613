/*
 * report_render: the briefing's model (report.h) as HTML and as Markdown (docs/briefing.md
 * "Files"). A renderer decides only how the model looks: every word comes from the model, and
 * every piece of text is escaped for the format it goes into.
 */
#define PW_LOG_MODULE "briefing"
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "log.h"
#include "report.h"
#include "util.h"

/* A PNG larger than this is not a trend graph; refusing it keeps one bad file from blowing up
 * the HTML. */
#define PNG_LIMIT (16u << 20)

struct out {
  struct pw_buf *b;
  int rc;
};

static void put(struct out *o, const char *s, size_t n) {
  int rc;

  if (o->rc < 0 || n == 0)
    return;
  rc = pw_buf_append(o->b, s, n);
  if (rc < 0)
    o->rc = rc;
}

static void puts_(struct out *o, const char *s) {
  put(o, s, strlen(s));
}

static void printf_(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct out *o, const char *fmt, ...) {
  va_list ap;
  char small[512];
  int n;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(small)) {
    if (o->rc == 0)
      o->rc = -EINVAL; /* only short fixed texts go through here */
    return;
  }
  put(o, small, (size_t)n);
}

/* Text into HTML: the five characters that could open markup or close an attribute. */
static void esc_html(struct out *o, const char *s) {
  const char *run = s;

  for (; *s; s++) {
    const char *rep;
    switch (*s) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    default:
      continue;
    }
    put(o, run, (size_t)(s - run));
    puts_(o, rep);
    run = s + 1;
  }
  put(o, run, (size_t)(s - run));
}

/* Text into Markdown: characters that would start markup (or end a table cell) are
 * backslash-escaped; line breaks become spaces. */
static void esc_md(struct out *o, const char *s) {
  for (; *s; s++) {
    if (*s == '\n' || *s == '\r') {
      put(o, " ", 1);
      continue;
    }
    if (strchr("\\`*_[]<>|#!", *s) != NULL)
      put(o, "\\", 1);
    put(o, s, 1);
  }
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');

  return slash ? slash + 1 : path;
}

/* ---- HTML ---- */

static const char css[] =
    "body{font-family:\"Noto Serif CJK SC\",\"FangSong\",\"仿宋\",serif;color:#111;"
    "max-width:820px;margin:24px auto;padding:0 24px;font-size:16px;line-height:1.75}\n"
    "h1{font-family:\"Noto Serif CJK SC\",\"SimSun\",serif;font-size:24px;font-weight:bold;"
    "text-align:center;margin:8px 0 4px}\n"
    "p.byline{text-align:center;margin:0 0 2px}\n"
    "p.period{text-align:center;margin:0 0 14px;color:#333}\n"
    "h2,h3{font-family:\"Noto Sans CJK SC\",\"SimHei\",\"黑体\",sans-serif;font-size:16px;"
    "margin:12px 0 4px}\n"
    "h3{font-weight:bold;text-indent:2em}\n"
    "p{margin:0 0 4px;text-indent:2em;text-align:justify}\n"
    "p.slot{color:#666}\n"
    "figure{margin:6px 0 10px;text-align:center;break-inside:avoid;page-break-inside:avoid}\n"
    "figure img{max-width:100%;height:auto}\n"
    "figcaption{font-size:13px;color:#333}\n"
    "p.nograph{color:#a00;text-indent:0;text-align:center;font-size:13px}\n"
    "table{border-collapse:collapse;width:100%;margin:6px 0}\n"
    "th,td{border:1px solid #444;padding:2px 4px;font-size:12px;line-height:1.4;"
    "text-align:left;vertical-align:top}\n"
    "th{background:#eee}\n"
    "tr{break-inside:avoid;page-break-inside:avoid}\n"
    "section.appendix.first{break-before:page;page-break-before:always}\n"
    "p.foot{font-size:12px;color:#666;text-indent:0;margin-top:16px}\n"
    "@page{size:A4;margin:22mm 20mm 20mm 20mm}\n"
    "@media print{body{margin:0;max-width:none;padding:0;font-size:11pt;line-height:1.5}"
    "h1{font-size:17pt}h2,h3{font-size:11pt;break-after:avoid;page-break-after:avoid}"
    "figure img{max-width:50%}}\n";

static void runs_html(struct out *o, const struct pw_report_block *k) {
  int r;

  for (r = 0; r < k->n_runs; r++) {
    const struct pw_report_run *x = &k->runs[r];
    if (x->kind == PW_RUN_BOLD)
      puts_(o, "<b>");
    else if (x->kind == PW_RUN_FIGURE)
      puts_(o, "<span class=\"fig\">");
    esc_html(o, x->text);
    if (x->kind == PW_RUN_BOLD)
      puts_(o, "</b>");
    else if (x->kind == PW_RUN_FIGURE)
      puts_(o, "</span>");
  }
}

static void image_html(struct out *o, const struct pw_report_image *im, const char *prefix) {
  char *data = NULL, *b64;
  size_t len;
  int rc;

  printf_(o, "<figure data-id=\"%s\">", im->id);
  if (im->path == NULL) {
    /* The briefing is still worth sending without a graph; the log has the reason. */
    puts_(o, "<p class=\"nograph\">图表生成失败</p>");
  } else if (prefix != NULL) {
    puts_(o, "<img alt=\"");
    esc_html(o, im->caption);
    puts_(o, "\" src=\"");
    esc_html(o, prefix);
    esc_html(o, base_name(im->path));
    puts_(o, "\">");
  } else if ((rc = pw_read_file(im->path, PNG_LIMIT, &data, &len)) < 0) {
    pw_log_error("briefing: cannot read the graph %s: %s", im->path, strerror(-rc));
    puts_(o, "<p class=\"nograph\">图表生成失败</p>");
  } else if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
    free(data);
    o->rc = -ENOMEM;
  } else {
    /* EVP_EncodeBlock writes 4 characters per 3 bytes (padded) and a terminating NUL. */
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)len);
    free(data);
    puts_(o, "<img alt=\"");
    esc_html(o, im->caption);
    puts_(o, "\" src=\"data:image/png;base64,");
    puts_(o, b64);
    puts_(o, "\">");
    free(b64);
  }
  puts_(o, "<figcaption>");
  esc_html(o, im->caption);
  puts_(o, "</figcaption></figure>\n");
}

static void table_html(struct out *o, const struct pw_report_table *t) {
  int r, c;

  puts_(o, "<table><tr>");
  for (c = 0; c < t->n_cols; c++) {
    puts_(o, "<th>");
    esc_html(o, t->header[c]);
    puts_(o, "</th>");
  }
  puts_(o, "</tr>\n");
  for (r = 0; r < t->n_rows; r++) {
    if (t->row_indicator[r] >= 0)
      printf_(o, "<tr data-row=\"%d\">", t->row_indicator[r]);
    else
      puts_(o, "<tr>");
    for (c = 0; c < t->n_cols; c++) {
      puts_(o, "<td>");
      esc_html(o, t->cells[r * t->n_cols + c]);
      puts_(o, "</td>");
    }
    puts_(o, "</tr>\n");
  }
  puts_(o, "</table>\n");
}

int pw_report_html(const struct pw_report *r, const char *img_prefix, struct pw_buf *buf) {
  struct out o = {buf, 0};
  int s, k, first_appendix = 1, open_l1 = 0, in_p = 0;

  puts_(&o, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  esc_html(&o, r->title);
  puts_(&o, "</title>\n<style>\n");
  puts_(&o, css);
  /* Machines read the week and the counts from attributes, never from the visible title. */
  printf_(&o,
          "</style>\n</head>\n<body data-week=\"%s\" data-ok=\"%d\" data-lagging=\"%d\" "
          "data-severe=\"%d\" data-no-data=\"%d\" data-no-target=\"%d\" data-stale=\"%d\">\n",
          r->week, r->counts[PW_STATUS_OK], r->counts[PW_STATUS_LAGGING],
          r->counts[PW_STATUS_SEVERE], r->counts[PW_STATUS_NO_DATA], r->counts[PW_STATUS_NO_TARGET],
          r->n_stale);
  puts_(&o, "<h1>");
  esc_html(&o, r->title);
  puts_(&o, "</h1>\n<p class=\"byline\">");
  if (r->issuer[0]) {
    esc_html(&o, r->issuer);
    puts_(&o, "　");
  }
  esc_html(&o, r->date);
  puts_(&o, "</p>\n<p class=\"period\">（");
  esc_html(&o, r->period);
  puts_(&o, "）</p>\n");
  for (s = 0; s < r->n_sections; s++) {
    const struct pw_report_section *sec = &r->sections[s];
    if (sec->level == 1 && open_l1) {
      puts_(&o, "</section>\n");
      open_l1 = 0;
    }
    if (sec->level == 1) {
      printf_(&o, "<section class=\"part%s%s\" id=\"%s\">\n", sec->appendix ? " appendix" : "",
              sec->appendix && first_appendix ? " first" : "", sec->id);
      if (sec->appendix)
        first_appendix = 0;
      open_l1 = 1;
      puts_(&o, "<h2>");
      esc_html(&o, sec->number);
      if (sec->appendix)
        puts_(&o, "　");
      esc_html(&o, sec->heading);
      puts_(&o, "</h2>\n");
    } else {
      printf_(&o, "<section class=\"domain\" id=\"%s\">\n<h3>", sec->id);
      esc_html(&o, sec->number);
      esc_html(&o, sec->heading);
      puts_(&o, "</h3>\n");
    }
    for (k = 0; k < sec->n_blocks; k++) {
      const struct pw_report_block *b = &sec->blocks[k];
      /* An area runs as one paragraph, as the report writes it ("（二）幼有善育方面。涉及3个
       * 重点指标。1.……2.……以上指标均达季度目标要求。"); a figure breaks it. */
      const char *tag = sec->level == 2 ? "span" : "p";
      if (b->kind == PW_BLOCK_PARAGRAPH && sec->level == 2 && !in_p) {
        puts_(&o, "<p class=\"area\">");
        in_p = 1;
      } else if (b->kind != PW_BLOCK_PARAGRAPH && in_p) {
        puts_(&o, "</p>\n");
        in_p = 0;
      }
      switch (b->kind) {
      case PW_BLOCK_PARAGRAPH:
        if (b->indicator >= 0 && b->indicator < r->n_items) {
          const struct pw_report_item *it = &r->items[b->indicator];
          printf_(&o,
                  "<%s class=\"indicator\" data-id=\"%s\" data-status=\"%s\" data-stale=\"%d\">",
                  tag, it->id, pw_status_name(it->status), it->stale);
        } else {
          printf_(&o, "<%s>", tag);
        }
        runs_html(&o, b);
        printf_(&o, "</%s>%s", tag, in_p ? "" : "\n");
        break;
      case PW_BLOCK_SLOT:
        puts_(&o, "<p class=\"slot\">");
        runs_html(&o, b);
        puts_(&o, "</p>\n");
        break;
      case PW_BLOCK_TABLE:
        table_html(&o, &b->table);
        break;
      case PW_BLOCK_IMAGE:
        image_html(&o, &b->image, img_prefix);
        break;
      }
    }
    if (in_p)
      puts_(&o, "</p>\n");
    in_p = 0;
    if (sec->level == 2)
      puts_(&o, "</section>\n");
  }
  if (open_l1)
    puts_(&o, "</section>\n");
  puts_(&o, "<p class=\"foot\">本简报由 pacewatch 根据各部门报送数据自动生成，供审核修改。</p>\n"
            "</body>\n</html>\n");
  return o.rc;
}

/* ---- Markdown ---- */

static void runs_md(struct out *o, const struct pw_report_block *k) {
  int r;

  for (r = 0; r < k->n_runs; r++) {
    const struct pw_report_run *x = &k->runs[r];
    if (x->kind == PW_RUN_BOLD)
      puts_(o, "**");
    esc_md(o, x->text);
    if (x->kind == PW_RUN_BOLD)
      puts_(o, "**");
  }
}

int pw_report_markdown(const struct pw_report *r, struct pw_buf *buf) {
  struct out o = {buf, 0};
  int s, k, row, c;

  puts_(&o, "# ");
  esc_md(&o, r->title);
  puts_(&o, "\n\n");
  if (r->issuer[0]) {
    esc_md(&o, r->issuer);
    puts_(&o, "　");
  }
  esc_md(&o, r->date);
  puts_(&o, "（");
  esc_md(&o, r->period);
  puts_(&o, "）\n\n");
  for (s = 0; s < r->n_sections; s++) {
    const struct pw_report_section *sec = &r->sections[s];
    puts_(&o, sec->level == 1 ? "## " : "### ");
    esc_md(&o, sec->number);
    if (sec->appendix)
      puts_(&o, " ");
    esc_md(&o, sec->heading);
    puts_(&o, "\n\n");
    for (k = 0; k < sec->n_blocks; k++) {
      const struct pw_report_block *b = &sec->blocks[k];
      const struct pw_report_table *t = &b->table;
      switch (b->kind) {
      case PW_BLOCK_PARAGRAPH:
      case PW_BLOCK_SLOT:
        runs_md(&o, b);
        puts_(&o, "\n\n");
        break;
      case PW_BLOCK_TABLE:
        for (c = 0; c < t->n_cols; c++) {
          puts_(&o, "| ");
          esc_md(&o, t->header[c]);
          puts_(&o, " ");
        }
        puts_(&o, "|\n");
        for (c = 0; c < t->n_cols; c++)
          puts_(&o, "|---");
        puts_(&o, "|\n");
        for (row = 0; row < t->n_rows; row++) {
          for (c = 0; c < t->n_cols; c++) {
            puts_(&o, "| ");
            esc_md(&o, t->cells[row * t->n_cols + c]);
            puts_(&o, " ");
          }
          puts_(&o, "|\n");
        }
        puts_(&o, "\n");
        break;
      case PW_BLOCK_IMAGE:
        if (b->image.path == NULL) {
          puts_(&o, "（图表生成失败：");
          esc_md(&o, b->image.caption);
          puts_(&o, "）\n\n");
        } else {
          puts_(&o, "![");
          esc_md(&o, b->image.caption);
          puts_(&o, "](");
          puts_(&o, base_name(b->image.path));
          puts_(&o, ")\n\n");
        }
        break;
      }
    }
  }
  puts_(&o, "---\n\n本简报由 pacewatch 根据各部门报送数据自动生成，供审核修改。\n");
  return o.rc;
}
