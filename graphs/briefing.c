/*
 * briefing: writes the weekly briefing of docs/briefing.md the way county staff write their
 * quarterly report by hand (the seed report the demo is built from): a title and as-of line, a
 * summary of how many indicators are on track, an overview of each area, then area by area the
 * report's own kind of sentences
 * ("（二）幼有善育方面。涉及3个重点指标。1.……以上指标均达季度目标要求。"), each indicator with its
 * figures, status light and trend graph; then lagging indicators by department, data gaps,
 * revisions and the change since the previous week. Two renderings of the same content, built side
 * by side so that they cannot drift apart: self-contained HTML (graphs as data URIs, A4 print CSS,
 * stable ids and classes for machines) and Markdown with its PNG graphs beside it. Everything shown
 * is judged here through pw_status_judge, so the briefing says exactly what `pacewatch status`
 * says.
 */
#define PW_LOG_MODULE "briefing"
#include "briefing.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "judge.h"
#include "log.h"
#include "status.h"
#include "util.h"
#include "value.h"

#define WEEK (7 * 86400)
#define DAY 86400

/* A PNG larger than this is not a trend graph; refusing it keeps one bad file from blowing up
 * the HTML. */
#define PNG_LIMIT (16u << 20)

struct ctx {
  const struct pw_briefing_request *req;
  const struct pw_config *conf;
  struct pw_verdict *now, *before;
  /* Per indicator: the effective sample with the latest as_of known at AT, any year (what
   * "stale" is measured from, and the figure quoted for an indicator without a target). */
  const struct pw_sample **latest;
  char **png_b64; /* per indicator: the graph as base64, or NULL */
  char week[16];
  int counts[5], stale;
  struct pw_buf h, m;
  int rc; /* the first error met while building the text; later output is skipped */
};

/* ---- output helpers: every append goes through these so one failure is remembered ---- */

static void emit_v(struct ctx *c, struct pw_buf *b, const char *fmt, va_list ap) {
  char small[1024], *big;
  va_list again;
  int n, rc;

  if (c->rc < 0)
    return;
  va_copy(again, ap);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  if (n < 0) {
    rc = -EINVAL;
  } else if ((size_t)n < sizeof(small)) {
    rc = pw_buf_append(b, small, (size_t)n);
  } else if ((big = malloc((size_t)n + 1)) == NULL) {
    rc = -ENOMEM;
  } else {
    vsnprintf(big, (size_t)n + 1, fmt, again);
    rc = pw_buf_append(b, big, (size_t)n);
    free(big);
  }
  va_end(again);
  if (rc < 0)
    c->rc = rc;
}

static void html(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void html(struct ctx *c, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  emit_v(c, &c->h, fmt, ap);
  va_end(ap);
}

static void md(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void md(struct ctx *c, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  emit_v(c, &c->m, fmt, ap);
  va_end(ap);
}

static void raw(struct ctx *c, struct pw_buf *b, const char *s, size_t len) {
  int rc;

  if (c->rc < 0)
    return;
  rc = pw_buf_append(b, s, len);
  if (rc < 0)
    c->rc = rc;
}

/* Text from the configuration or the data, into HTML: the five characters that could open
 * markup or close an attribute are escaped, so a name such as "<script>" stays text. */
static void html_esc(struct ctx *c, const char *s) {
  const char *run = s;

  for (; *s; s++) {
    const char *rep = NULL;
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
    raw(c, &c->h, run, (size_t)(s - run));
    raw(c, &c->h, rep, strlen(rep));
    run = s + 1;
  }
  raw(c, &c->h, run, (size_t)(s - run));
}

/* Text into Markdown: characters that would start markup (or end a table cell) are
 * backslash-escaped, and line breaks, which would end a paragraph or a table row, become
 * spaces. */
static void md_esc(struct ctx *c, const char *s) {
  for (; *s; s++) {
    if (*s == '\n' || *s == '\r')
      raw(c, &c->m, " ", 1);
    else {
      if (strchr("\\`*_[]<>|#!", *s) != NULL)
        raw(c, &c->m, "\\", 1);
      raw(c, &c->m, s, 1);
    }
  }
}

/* The same text into both renderings. */
static void both_esc(struct ctx *c, const char *s) {
  html_esc(c, s);
  md_esc(c, s);
}

/* ---- words and figures ---- */

char *pw_briefing_week_name(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)(t - 1);
  struct tm tm;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  /* %G and %V are the ISO 8601 week-year and week (Monday to Sunday): the days of a week that
   * straddles New Year belong to the year holding its Thursday. */
  if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%G-W%V", &tm) == 0)
    buf[0] = '\0';
  return buf;
}

/* "4月25日" (or "2023年12月31日") for the day an instant closes: an as_of of a date alone is
 * the end of that day, i.e. the next midnight, so the day is that of T - 1 s. */
static char *day_zh(int64_t t, int with_year, char *buf, size_t size) {
  time_t tt = (time_t)(t - 1);
  struct tm tm;

  if (localtime_r(&tt, &tm) == NULL)
    snprintf(buf, size, "?");
  else if (with_year)
    snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  else
    snprintf(buf, size, "%d月%d日", tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

/* A Chinese numeral for section numbers (1 to 99; the report never has more areas). */
static char *numeral(int n, char *buf, size_t size) {
  static const char *const digit[] = {"", "一", "二", "三", "四", "五", "六", "七", "八", "九"};

  if (n <= 0 || n >= 100)
    snprintf(buf, size, "%d", n);
  else if (n < 10)
    snprintf(buf, size, "%s", digit[n]);
  else
    snprintf(buf, size, "%s十%s", n >= 20 ? digit[n / 10] : "", digit[n % 10]);
  return buf;
}

static const char *light_class(enum pw_status s) {
  switch (s) {
  case PW_STATUS_OK:
    return "green";
  case PW_STATUS_LAGGING:
    return "yellow";
  case PW_STATUS_SEVERE:
    return "red";
  default:
    return "grey";
  }
}

static const char *light_md(enum pw_status s) {
  switch (s) {
  case PW_STATUS_OK:
    return "🟢";
  case PW_STATUS_LAGGING:
    return "🟡";
  case PW_STATUS_SEVERE:
    return "🔴";
  default:
    return "⚪";
  }
}

/* A figure of IND for people: a milestone's stage name, or the number in 万/亿 with its unit. */
static char *figure(const struct pw_indicator *ind, double value, char *buf, size_t size) {
  char num[48];

  if (ind->kind == PW_KIND_MILESTONE && value >= 0 && value < ind->stages.n &&
      value == floor(value))
    snprintf(buf, size, "%s", ind->stages.items[(int)value]);
  else
    snprintf(buf, size, "%s%s", pw_value_format_zh(value, num, sizeof(num)), ind->unit);
  return buf;
}

static char *verdict_figure(const struct pw_indicator *ind, const struct pw_verdict *v, char *buf,
                            size_t size) {
  if (!v->has_value)
    snprintf(buf, size, "—");
  else
    figure(ind, v->value, buf, size);
  return buf;
}

/* The figure shown for indicator I in tables: its verdict's, or for an indicator without a
 * target the latest one known in any year, which the sentence quotes too. */
static char *shown_figure(const struct ctx *c, int i, char *buf, size_t size) {
  const struct pw_indicator *ind = &c->conf->indicators[i];
  const struct pw_verdict *v = &c->now[i];

  if (!v->has_value && v->status == PW_STATUS_NO_TARGET && c->latest[i] != NULL)
    return figure(ind, c->latest[i]->value, buf, size);
  return verdict_figure(ind, v, buf, size);
}

/* A distance from a standard in the indicator's unit: a difference of percentages is in
 * percentage points, which is how the report and its readers say it. */
static char *units_apart(const struct pw_indicator *ind, double d, char *buf, size_t size) {
  char num[48];

  pw_value_format_zh(fabs(d), num, sizeof(num));
  if (strcmp(ind->unit, "%") == 0)
    snprintf(buf, size, "%s个百分点", num);
  else
    snprintf(buf, size, "%s%s", num, ind->unit);
  return buf;
}

/* The lag for the table and the lagging list, in words, so that a negative number (ahead of
 * the pace) cannot be misread as behind. */
static char *lag_words(const struct pw_indicator *ind, const struct pw_verdict *v, char *buf,
                       size_t size) {
  char d[64];
  double lag = round(v->lag * 10) / 10;

  if (!v->has_judgement)
    snprintf(buf, size, "—");
  else if (v->lag_unit == PW_LAG_UNIT_PP)
    snprintf(buf, size,
             lag > 0   ? "落后%.1f个百分点"
             : lag < 0 ? "超前%.1f个百分点"
                       : "持平",
             fabs(lag));
  else if (v->lag_unit == PW_LAG_UNIT_DAYS)
    snprintf(buf, size, v->lag > 0 ? "逾期%.0f天" : "按期", ceil(v->lag));
  else if (v->lag > 0)
    snprintf(buf, size, "%s标准%s", ind->direction_down ? "高于" : "低于",
             units_apart(ind, v->lag, d, sizeof(d)));
  else
    snprintf(buf, size, "达标");
  return buf;
}

/* Whole days since the latest figure, or since the start of the year when there is none: the
 * same reference judge uses for the stale flag. */
static long stale_days(const struct ctx *c, int i) {
  const struct pw_verdict *v = &c->now[i];
  int64_t T[5] = {0};
  int64_t ref;

  if (c->latest[i] != NULL)
    ref = c->latest[i]->as_of;
  else if (pw_calendar_bounds(&c->conf->cal, v->year, T) == 0)
    ref = T[0];
  else
    return 0;
  return (long)((c->req->at - ref) / DAY);
}

/* The report's sentence for indicator I, after "N.名称。": what the figure is, against what,
 * and the verdict. Plain text; the caller escapes it for each rendering. */
static void sentence(const struct ctx *c, int i, struct pw_buf *s) {
  const struct pw_config *conf = c->conf;
  const struct pw_indicator *ind = &conf->indicators[i];
  const struct pw_verdict *v = &c->now[i];
  const char *label = pw_status_label_zh(v->status);
  char day[40] = "", val[160] = "", num[48], d[64];

  if (v->has_value) {
    /* The year is said only when the figure is from another year than the one judged (a
     * value carried over, like the report's "截至2023年底"). */
    day_zh(v->as_of, pw_calendar_year_of(&conf->cal, v->as_of) != v->year, day, sizeof(day));
    verdict_figure(ind, v, val, sizeof(val));
  }
  switch (v->status) {
  case PW_STATUS_NO_DATA:
    pw_buf_printf(s, "数据未公布");
    break;
  case PW_STATUS_NO_TARGET:
    /* The report still quotes the last figure it has ("截至2023年底为3.56，…任务还未下达"). */
    if (!v->has_value && c->latest[i] != NULL) {
      day_zh(c->latest[i]->as_of, pw_calendar_year_of(&conf->cal, c->latest[i]->as_of) != v->year,
             day, sizeof(day));
      figure(ind, c->latest[i]->value, val, sizeof(val));
    }
    if (v->has_value || c->latest[i] != NULL)
      pw_buf_printf(s, "截至%s为%s，任务未下达", day, val);
    else
      pw_buf_printf(s, "任务未下达");
    break;
  default:
    if (ind->kind == PW_KIND_MILESTONE) {
      int e = (int)v->expected;
      const char *plan = e >= 0 && e < ind->stages.n ? ind->stages.items[e] : "—";
      pw_buf_printf(s, "当前阶段：%s（计划阶段：%s）", val, plan);
      if (v->lag > 0)
        pw_buf_printf(s, "，已逾期%.0f天，%s", ceil(v->lag), label);
      else
        pw_buf_printf(s, "，%s", label);
    } else if (ind->kind == PW_KIND_STANDARD) {
      pw_buf_printf(s, "截至%s，达%s，标准%s%s%s，", day, val, ind->direction_down ? "不高于" : "",
                    pw_value_format_zh(v->target, num, sizeof(num)), ind->unit);
      /* Within lag_warn of the standard is still ok, but it is not "达标". */
      if (v->lag <= 0)
        pw_buf_printf(s, "达标");
      else
        pw_buf_printf(s, "%s标准%s（%s）", ind->direction_down ? "高于" : "低于",
                      units_apart(ind, v->lag, d, sizeof(d)), label);
    } else {
      pw_buf_printf(s, "截至%s，达%s，完成年度目标%.1f%%（序时进度%.1f%%），%s", day, val,
                    v->completion_pct, v->pace_pct, label);
    }
  }
  if (v->stale)
    pw_buf_printf(s, "（数据超过%ld天未更新）", stale_days(c, i));
  pw_buf_printf(s, "。");
}

/* ---- the parts of the briefing, in order ---- */

static void head(struct ctx *c) {
  char day[40];

  day_zh(c->req->at, 1, day, sizeof(day));
  html(c, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  html_esc(c, c->conf->briefing.title);
  html(c, "（%s）</title>\n", c->week);
  /* Everything inline: the file is mailed and archived, and must look the same offline. */
  html(c, "<style>\n"
          "body{font-family:\"Noto Sans CJK SC\",sans-serif;color:#222;max-width:1000px;"
          "margin:24px auto;padding:0 16px;line-height:1.7}\n"
          "h1{font-size:24px;text-align:center;margin:0 0 4px}\n"
          "p.asof{text-align:center;color:#555;margin-top:0}\n"
          "h2{font-size:19px;border-bottom:2px solid #c0392b;padding-bottom:4px;margin-top:28px}\n"
          "h3{font-size:16px;margin:20px 0 6px}\n"
          ".summary .count{font-size:20px;font-weight:bold;margin:0 2px}\n"
          ".light{display:inline-block;width:12px;height:12px;border-radius:50%%;margin-right:5px;"
          "vertical-align:-1px}\n"
          ".green{background:#2ca02c}.yellow{background:#f1c40f}.red{background:#d62728}"
          ".grey{background:#9e9e9e}\n"
          "table{border-collapse:collapse;width:100%%;margin:8px 0}\n"
          "th,td{border:1px solid #ccc;padding:3px 6px;font-size:14px;text-align:left}\n"
          "th{background:#f4f4f4}td.n{text-align:right;white-space:nowrap}\n"
          ".bar{position:relative;height:14px;background:#eee;border-radius:3px;min-width:180px}\n"
          ".bar .done{position:absolute;left:0;top:0;bottom:0;background:#1f77b4;"
          "border-radius:3px}\n"
          ".bar .pace{position:absolute;top:-3px;bottom:-3px;width:2px;background:#c0392b}\n"
          ".legend{font-size:13px;color:#555}\n"
          ".legend i{display:inline-block;width:14px;height:10px;margin:0 4px 0 10px}\n"
          ".indicator{margin:10px 0 16px;page-break-inside:avoid;break-inside:avoid}\n"
          ".indicator p{margin:4px 0}\n"
          "img{max-width:100%%;height:auto;display:block;margin-top:4px}\n"
          ".nograph{color:#c0392b;font-size:13px}\n"
          ".stale{color:#b35900;font-size:13px}\n"
          "p.close{font-weight:bold}\n"
          "@page{size:A4;margin:15mm}\n"
          "@media print{body{margin:0;max-width:none;padding:0}h2,h3{page-break-after:avoid;"
          "break-after:avoid}tr{page-break-inside:avoid;break-inside:avoid}}\n"
          "</style>\n</head>\n<body>\n<h1>");
  html_esc(c, c->conf->briefing.title);
  html(c, "（%s）</h1>\n<p class=\"asof\">数据截至%s</p>\n", c->week, day);
  md(c, "# ");
  md_esc(c, c->conf->briefing.title);
  md(c, "（%s）\n\n数据截至%s\n\n", c->week, day);
}

static void summary(struct ctx *c) {
  static const enum pw_status order[] = {PW_STATUS_OK, PW_STATUS_LAGGING, PW_STATUS_SEVERE,
                                         PW_STATUS_NO_DATA, PW_STATUS_NO_TARGET};
  size_t k;

  html(c, "<h2>一、总体情况</h2>\n<p class=\"summary\" id=\"summary\">共监测%d个指标：",
       c->conf->n_indicators);
  md(c, "## 一、总体情况\n\n共监测%d个指标：", c->conf->n_indicators);
  for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
    enum pw_status s = order[k];
    html(c,
         "%s<span class=\"light %s\"></span>%s<span class=\"count\" data-status=\"%s\">%d</span>"
         "个",
         k ? "，" : "", light_class(s), pw_status_label_zh(s), pw_status_name(s), c->counts[s]);
    md(c, "%s%s%s **%d** 个", k ? "，" : "", light_md(s), pw_status_label_zh(s), c->counts[s]);
  }
  /* Stale is a flag beside the status, so it is counted apart rather than added in. */
  html(c, "；另有数据陈旧<span class=\"count\" data-status=\"stale\">%d</span>个。</p>\n",
       c->stale);
  md(c, "；另有数据陈旧 **%d** 个。\n\n", c->stale);
}

/* Per area: how many indicators are on track, and the mean completion against the mean pace
 * of those that have both (cumulative and level), as a bar with the pace marked on it. */
static void overview(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int d, i;

  html(c, "<h2>二、分领域进度</h2>\n<table class=\"overview\" id=\"overview\"><tr><th>领域</th>"
          "<th>指标数</th><th>正常</th><th>平均完成率与序时进度</th><th>完成率</th>"
          "<th>序时进度</th></tr>\n");
  md(c, "## 二、分领域进度\n\n| 领域 | 指标数 | 正常 | 平均完成率 | 序时进度 |\n"
        "|---|---:|---:|---:|---:|\n");
  for (d = 0; d < conf->n_domains; d++) {
    int n = 0, ok = 0, np = 0;
    double done = 0, pace = 0;
    for (i = 0; i < conf->n_indicators; i++) {
      if (conf->indicators[i].domain != d)
        continue;
      n++;
      ok += c->now[i].status == PW_STATUS_OK;
      if (c->now[i].has_pct) {
        np++;
        done += c->now[i].completion_pct;
        pace += c->now[i].pace_pct;
      }
    }
    if (n == 0)
      continue;
    html(c, "<tr data-domain=\"%s\"><td>", conf->domains[d].id);
    html_esc(c, conf->domains[d].name);
    html(c, "</td><td class=\"n\">%d</td><td class=\"n\">%d</td>", n, ok);
    md(c, "| ");
    md_esc(c, conf->domains[d].name);
    if (np > 0) {
      double a = done / np, p = pace / np;
      /* Completion can pass 100 % (the report has 183.9 %); the bar stops at its end and the
       * figure beside it tells the rest. */
      html(c,
           "<td><div class=\"bar\"><div class=\"done\" style=\"width:%.1f%%\"></div>"
           "<div class=\"pace\" style=\"left:%.1f%%\"></div></div></td>"
           "<td class=\"n\">%.1f%%</td><td class=\"n\">%.1f%%</td>",
           fmin(fmax(a, 0), 100), fmin(fmax(p, 0), 100), a, p);
      md(c, " | %d | %d | %.1f%% | %.1f%% |\n", n, ok, a, p);
    } else {
      html(c, "<td>—</td><td class=\"n\">—</td><td class=\"n\">—</td>");
      md(c, " | %d | %d | — | — |\n", n, ok);
    }
    html(c, "</tr>\n");
  }
  html(c, "</table>\n<p class=\"legend\"><i style=\"background:#1f77b4\"></i>平均完成率"
          "<i style=\"background:#c0392b;width:3px\"></i>平均序时进度"
          "（仅计累计类和水平类指标）</p>\n");
  md(c, "\n（平均值仅计累计类和水平类指标。）\n\n");
}

/* One table row per indicator of an area: the figures at a glance. */
static void domain_table(struct ctx *c, int d) {
  const struct pw_config *conf = c->conf;
  int i, k = 0;

  html(c, "<table class=\"indicators\"><tr><th>序号</th><th>指标</th><th>状态</th><th>数值</th>"
          "<th>完成率</th><th>序时进度</th><th>滞后</th></tr>\n");
  md(c, "| 序号 | 指标 | 状态 | 数值 | 完成率 | 序时进度 | 滞后 |\n"
        "|---:|---|---|---:|---:|---:|---|\n");
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct pw_verdict *v = &c->now[i];
    char val[160], lag[96], done[32] = "—", pace[32] = "—";
    if (ind->domain != d)
      continue;
    k++;
    shown_figure(c, i, val, sizeof(val));
    lag_words(ind, v, lag, sizeof(lag));
    if (v->has_pct) {
      snprintf(done, sizeof(done), "%.1f%%", v->completion_pct);
      snprintf(pace, sizeof(pace), "%.1f%%", v->pace_pct);
    }
    html(c, "<tr><td class=\"n\">%d</td><td>", k);
    html_esc(c, ind->name);
    html(c, "</td><td><span class=\"light %s\"></span>%s%s</td><td class=\"n\">",
         light_class(v->status), pw_status_label_zh(v->status),
         v->stale ? "<span class=\"stale\">（陈旧）</span>" : "");
    html_esc(c, val);
    html(c, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>", done, pace);
    html_esc(c, lag);
    html(c, "</td></tr>\n");
    md(c, "| %d | ", k);
    md_esc(c, ind->name);
    md(c, " | %s %s%s | ", light_md(v->status), pw_status_label_zh(v->status),
       v->stale ? "（陈旧）" : "");
    md_esc(c, val);
    md(c, " | %s | %s | ", done, pace);
    md_esc(c, lag);
    md(c, " |\n");
  }
  html(c, "</table>\n");
  md(c, "\n");
}

/* "其中，X、Y滞后于序时进度；Z数据未公布。" or the report's "以上指标均达季度目标要求。" */
static void domain_close(struct ctx *c, int d) {
  static const struct {
    enum pw_status a, b;
    const char *tail;
  } groups[] = {{PW_STATUS_LAGGING, PW_STATUS_SEVERE, "滞后于序时进度"},
                {PW_STATUS_NO_DATA, PW_STATUS_NO_DATA, "数据未公布"},
                {PW_STATUS_NO_TARGET, PW_STATUS_NO_TARGET, "任务未下达"}};
  const struct pw_config *conf = c->conf;
  int i, all_ok = 1, first_group = 1;
  size_t g;

  for (i = 0; i < conf->n_indicators; i++)
    if (conf->indicators[i].domain == d && c->now[i].status != PW_STATUS_OK)
      all_ok = 0;
  if (all_ok) {
    html(c, "<p class=\"close\">以上指标均达季度目标要求。</p>\n");
    md(c, "以上指标均达季度目标要求。\n\n");
    return;
  }
  html(c, "<p class=\"close\">其中，");
  md(c, "其中，");
  for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
    int n = 0;
    for (i = 0; i < conf->n_indicators; i++) {
      enum pw_status s = c->now[i].status;
      if (conf->indicators[i].domain != d || (s != groups[g].a && s != groups[g].b))
        continue;
      if (n == 0 && !first_group) {
        html(c, "；");
        md(c, "；");
      }
      if (n++ > 0) {
        html(c, "、");
        md(c, "、");
      }
      both_esc(c, conf->indicators[i].name);
    }
    if (n > 0) {
      html(c, "%s", groups[g].tail);
      md(c, "%s", groups[g].tail);
      first_group = 0;
    }
  }
  html(c, "。</p>\n");
  md(c, "。\n\n");
}

/* One indicator: its sentence (with its number in the area) and its graph. */
static void indicator_block(struct ctx *c, int i, int k) {
  const struct pw_indicator *ind = &c->conf->indicators[i];
  const struct pw_verdict *v = &c->now[i];
  struct pw_buf s = {NULL, 0, 0, 0};

  sentence(c, i, &s);
  if (s.data == NULL && c->rc == 0)
    c->rc = -ENOMEM;
  html(c, "<div class=\"indicator\" data-id=\"%s\" data-status=\"%s\" data-stale=\"%d\">\n",
       ind->id, pw_status_name(v->status), v->stale);
  html(c, "<p class=\"sentence\"><span class=\"light %s\" title=\"%s\"></span>%d.",
       light_class(v->status), pw_status_label_zh(v->status), k);
  html_esc(c, ind->name);
  html(c, "。");
  html_esc(c, s.data ? s.data : "");
  html(c, "</p>\n");
  md(c, "%s %d.", light_md(v->status), k);
  md_esc(c, ind->name);
  md(c, "。");
  md_esc(c, s.data ? s.data : "");
  md(c, "\n\n");
  pw_buf_free(&s);
  if (!c->req->graphs) {
    html(c, "</div>\n");
    return;
  }
  if (c->png_b64[i] != NULL) {
    html(c, "<img alt=\"");
    html_esc(c, ind->name);
    html(c, "\" src=\"data:image/png;base64,");
    raw(c, &c->h, c->png_b64[i], strlen(c->png_b64[i]));
    html(c, "\">\n");
    md(c, "![](%s-%s.png)\n\n", c->week, ind->id);
  } else {
    /* The briefing is still worth sending without a graph; the log has the reason. */
    html(c, "<p class=\"nograph\">图表生成失败</p>\n");
    md(c, "（图表生成失败）\n\n");
  }
  html(c, "</div>\n");
}

static void domains(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int d, i, shown = 0;

  html(c, "<h2>三、分领域情况</h2>\n");
  md(c, "## 三、分领域情况\n\n");
  for (d = 0; d < conf->n_domains; d++) {
    const struct pw_domain *dom = &conf->domains[d];
    char no[16];
    int n = 0, k = 0;
    for (i = 0; i < conf->n_indicators; i++)
      n += conf->indicators[i].domain == d;
    /* An area with nothing to report is left out, as the report would; the numbering counts
     * only the areas shown. */
    if (n == 0)
      continue;
    numeral(++shown, no, sizeof(no));
    html(c, "<section class=\"domain\" id=\"domain-%s\">\n<h3>（%s）", dom->id, no);
    html_esc(c, dom->name);
    html(c, "方面。涉及%d个重点指标。</h3>\n", n);
    md(c, "### （%s）", no);
    md_esc(c, dom->name);
    md(c, "方面。涉及%d个重点指标。\n\n", n);
    domain_table(c, d);
    for (i = 0; i < conf->n_indicators; i++)
      if (conf->indicators[i].domain == d)
        indicator_block(c, i, ++k);
    domain_close(c, d);
    html(c, "</section>\n");
  }
}

static void lagging(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int dep, i, any = 0;

  html(c, "<h2>四、滞后指标（按责任部门）</h2>\n<ul id=\"lagging\">\n");
  md(c, "## 四、滞后指标（按责任部门）\n\n");
  /* Departments in configuration order, then the indicators nobody is named for. */
  for (dep = 0; dep <= conf->n_departments; dep++) {
    int shown = 0;
    const char *name = dep < conf->n_departments ? conf->departments[dep].name : "未指定部门";
    for (i = 0; i < conf->n_indicators; i++) {
      const struct pw_indicator *ind = &conf->indicators[i];
      const struct pw_verdict *v = &c->now[i];
      char lag[96], val[160];
      int mine = dep < conf->n_departments ? ind->department == dep : ind->department < 0;
      if (!mine || (v->status != PW_STATUS_LAGGING && v->status != PW_STATUS_SEVERE))
        continue;
      if (!shown) {
        html(c, "<li class=\"department\" data-department=\"%s\"><b>",
             dep < conf->n_departments ? conf->departments[dep].id : "");
        html_esc(c, name);
        html(c, "</b>\n<ul>\n");
        md(c, "- **");
        md_esc(c, name);
        md(c, "**\n");
        shown = any = 1;
      }
      lag_words(ind, v, lag, sizeof(lag));
      verdict_figure(ind, v, val, sizeof(val));
      html(c, "<li data-id=\"%s\" data-status=\"%s\"><span class=\"light %s\"></span>", ind->id,
           pw_status_name(v->status), light_class(v->status));
      html_esc(c, ind->name);
      html(c, "：%s，", pw_status_label_zh(v->status));
      html_esc(c, val);
      html(c, "，");
      html_esc(c, lag);
      html(c, "</li>\n");
      md(c, "  - %s ", light_md(v->status));
      md_esc(c, ind->name);
      md(c, "：%s，", pw_status_label_zh(v->status));
      md_esc(c, val);
      md(c, "，");
      md_esc(c, lag);
      md(c, "\n");
    }
    if (shown)
      html(c, "</ul>\n</li>\n");
  }
  if (!any) {
    html(c, "<li>无滞后指标。</li>\n");
    md(c, "无滞后指标。\n");
  }
  html(c, "</ul>\n");
  md(c, "\n");
}

static void gaps(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int i, any = 0;

  html(c, "<h2>五、数据缺口</h2>\n<ul id=\"gaps\">\n");
  md(c, "## 五、数据缺口\n\n");
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct pw_verdict *v = &c->now[i];
    char what[160] = "", day[40];
    size_t len;
    if (v->status != PW_STATUS_NO_DATA && v->status != PW_STATUS_NO_TARGET && !v->stale)
      continue;
    if (v->status == PW_STATUS_NO_DATA)
      snprintf(what, sizeof(what), "数据未公布");
    else if (v->status == PW_STATUS_NO_TARGET)
      snprintf(what, sizeof(what), "任务未下达");
    len = strlen(what);
    if (v->stale) {
      snprintf(what + len, sizeof(what) - len, "%s数据超过%ld天未更新", len ? "；" : "",
               stale_days(c, i));
      len = strlen(what);
      if (c->latest[i] != NULL)
        snprintf(what + len, sizeof(what) - len, "（最新数据截至%s）",
                 day_zh(c->latest[i]->as_of, 1, day, sizeof(day)));
    }
    html(c, "<li data-id=\"%s\" data-status=\"%s\" data-stale=\"%d\">", ind->id,
         pw_status_name(v->status), v->stale);
    html_esc(c, ind->name);
    html(c, "：%s</li>\n", what);
    md(c, "- ");
    md_esc(c, ind->name);
    md(c, "：%s\n", what);
    any = 1;
  }
  if (!any) {
    html(c, "<li>无。</li>\n");
    md(c, "无。\n");
  }
  html(c, "</ul>\n");
  md(c, "\n");
}

/* Revisions journaled during the week, (AT - 7 d, AT]: figures changed after the fact are
 * easy to miss, and the report's readers compare with what they were told last week. */
static void revisions(struct ctx *c) {
  const struct pw_journal *j = c->req->journal;
  int i, any = 0;

  html(c, "<h2>六、本周数据修订</h2>\n<ul id=\"revisions\">\n");
  md(c, "## 六、本周数据修订\n\n");
  for (i = 0; i < c->conf->n_indicators && i < j->n_series; i++) {
    const struct pw_series *s = &j->series[i];
    const struct pw_indicator *ind = &c->conf->indicators[i];
    size_t k, p;
    for (k = 0; k < s->n; k++) {
      const struct pw_sample *x = &s->samples[k];
      char day[40], when[40], now_v[160], old_v[160] = "—", text[400];
      if (x->rev == 0 || x->fetched_at <= c->req->at - WEEK || x->fetched_at > c->req->at)
        continue;
      /* The value it replaced is the revision of the same as_of journaled just before it. */
      for (p = k; p-- > 0;)
        if (s->samples[p].as_of == x->as_of) {
          figure(ind, s->samples[p].value, old_v, sizeof(old_v));
          break;
        }
      day_zh(x->as_of, 1, day, sizeof(day));
      /* fetched_at is an instant, not the end of a day: + 1 s names the day it falls on. */
      day_zh(x->fetched_at + 1, 0, when, sizeof(when));
      figure(ind, x->value, now_v, sizeof(now_v));
      snprintf(text, sizeof(text), "%s的数据由%s修订为%s（%s修订）", day, old_v, now_v, when);
      html(c, "<li data-id=\"%s\">", ind->id);
      html_esc(c, ind->name);
      html(c, "：");
      html_esc(c, text);
      html(c, "</li>\n");
      md(c, "- ");
      md_esc(c, ind->name);
      md(c, "：");
      md_esc(c, text);
      md(c, "\n");
      any = 1;
    }
  }
  if (!any) {
    html(c, "<li>本周无数据修订。</li>\n");
    md(c, "本周无数据修订。\n");
  }
  html(c, "</ul>\n");
  md(c, "\n");
}

/* What changed for indicator I between the two judgements, in words. */
static void change_words(const struct ctx *c, int i, char *buf, size_t size) {
  const struct pw_indicator *ind = &c->conf->indicators[i];
  const struct pw_verdict *a = &c->before[i], *b = &c->now[i];
  char va[160], vb[160], day[40];
  size_t len;

  buf[0] = '\0';
  if (a->status != b->status)
    snprintf(buf, size, "状态%s → %s", pw_status_label_zh(a->status),
             pw_status_label_zh(b->status));
  len = strlen(buf);
  if (a->has_value != b->has_value || (a->has_value && a->value != b->value))
    snprintf(buf + len, size - len, "%s数值%s → %s", len ? "；" : "",
             verdict_figure(ind, a, va, sizeof(va)), verdict_figure(ind, b, vb, sizeof(vb)));
  else if (a->has_value && a->as_of != b->as_of)
    snprintf(buf + len, size - len, "%s数据更新至%s，数值不变", len ? "；" : "",
             day_zh(b->as_of, 0, day, sizeof(day)));
  len = strlen(buf);
  if (a->stale != b->stale)
    snprintf(buf + len, size - len, "%s%s", len ? "；" : "",
             b->stale ? "数据转为陈旧" : "数据已更新");
  if (buf[0] == '\0')
    snprintf(buf, size, "无变化");
}

static void changes(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int i;

  html(c, "<h2>七、与上周相比</h2>\n<table id=\"changes\"><tr><th>指标</th><th>上周</th>"
          "<th>本周</th><th>变化</th></tr>\n");
  md(c, "## 七、与上周相比\n\n| 指标 | 上周 | 本周 | 变化 |\n|---|---|---|---|\n");
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct pw_verdict *a = &c->before[i], *b = &c->now[i];
    char va[160], vb[160], delta[600];
    verdict_figure(ind, a, va, sizeof(va));
    verdict_figure(ind, b, vb, sizeof(vb));
    change_words(c, i, delta, sizeof(delta));
    html(c, "<tr data-id=\"%s\" data-changed=\"%d\"><td>", ind->id, strcmp(delta, "无变化") != 0);
    html_esc(c, ind->name);
    html(c, "</td><td><span class=\"light %s\"></span>", light_class(a->status));
    html_esc(c, va);
    html(c, "（%s）</td><td><span class=\"light %s\"></span>", pw_status_label_zh(a->status),
         light_class(b->status));
    html_esc(c, vb);
    html(c, "（%s）</td><td>", pw_status_label_zh(b->status));
    html_esc(c, delta);
    html(c, "</td></tr>\n");
    md(c, "| ");
    md_esc(c, ind->name);
    md(c, " | ");
    md_esc(c, va);
    md(c, "（%s） | ", pw_status_label_zh(a->status));
    md_esc(c, vb);
    md(c, "（%s） | ", pw_status_label_zh(b->status));
    md_esc(c, delta);
    md(c, " |\n");
  }
  html(c, "</table>\n");
  md(c, "\n");
}

/* ---- graphs ---- */

static int read_b64(const char *path, char **out) {
  char *data;
  size_t len;
  int rc = pw_read_file(path, PNG_LIMIT, &data, &len);

  *out = NULL;
  if (rc < 0)
    return rc;
  /* EVP_EncodeBlock writes 4 characters per 3 bytes (padded) and a terminating NUL. */
  *out = malloc(4 * ((len + 2) / 3) + 1);
  if (*out != NULL)
    EVP_EncodeBlock((unsigned char *)*out, (const unsigned char *)data, (int)len);
  free(data);
  return *out ? 0 : -ENOMEM;
}

/* Renders every indicator's graph to <out_dir>/<week>-<id>.png and keeps it as base64 for the
 * HTML. A graph that fails is logged and left out; the briefing goes on without it. */
static int render_graphs(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  char tmp_dir[4200];
  int i;

  c->png_b64 = calloc((size_t)conf->n_indicators + 1, sizeof(char *));
  if (c->png_b64 == NULL)
    return -ENOMEM;
  /* An indicator without an RRD file gets a placeholder one; it belongs in the state
   * directory's graphs/ (docs/storage.md), not beside the briefing, which may be the user's
   * current directory. When that cannot be made (a read-only state directory), the output
   * directory will do. */
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/graphs", conf->daemon.state_dir);
  if (pw_mkdir_p(tmp_dir) < 0)
    snprintf(tmp_dir, sizeof(tmp_dir), "%s", c->req->out_dir);
  for (i = 0; i < conf->n_indicators; i++) {
    const char *id = conf->indicators[i].id;
    struct pw_graph_request g;
    char path[4300], err[512];
    int rc;
    memset(&g, 0, sizeof(g));
    g.conf = conf;
    g.ind = i;
    g.store = c->req->store;
    g.verdict = &c->now[i];
    g.at = c->req->at;
    g.format = PW_GRAPH_PNG;
    g.small = 0;
    g.out_path = path;
    g.tmp_dir = tmp_dir;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s-%s.png", c->req->out_dir, c->week, id) >=
        sizeof(path)) {
      pw_log_error("briefing %s: indicator '%s': graph path too long", c->week, id);
      continue;
    }
    err[0] = '\0';
    rc = pw_graph_render(&g, NULL, err, sizeof(err));
    if (rc < 0) {
      /* ERR already names the indicator. */
      if (err[0])
        pw_log_error("briefing %s: graph failed: %s", c->week, err);
      else
        pw_log_error("briefing %s: graph of indicator '%s' failed: %s", c->week, id, strerror(-rc));
      continue;
    }
    rc = read_b64(path, &c->png_b64[i]);
    if (rc < 0)
      pw_log_error("briefing %s: indicator '%s': cannot read back %s: %s", c->week, id, path,
                   strerror(-rc));
  }
  return 0;
}

/* ---- the whole ---- */

/* The effective sample with the latest as_of known at AT in any year, as judge finds it. */
static const struct pw_sample *latest_known(const struct pw_series *s, int64_t at) {
  const struct pw_sample *best = NULL;
  size_t k;

  for (k = 0; k < s->n; k++)
    if (pw_judge_effective(s->samples, s->n, k, at) &&
        (best == NULL || s->samples[k].as_of > best->as_of))
      best = &s->samples[k];
  return best;
}

static void ctx_free(struct ctx *c) {
  int i;

  for (i = 0; c->png_b64 != NULL && i < c->conf->n_indicators; i++)
    free(c->png_b64[i]);
  free(c->png_b64);
  free(c->now);
  free(c->before);
  free(c->latest);
  pw_buf_free(&c->h);
  pw_buf_free(&c->m);
}

int pw_briefing_write(const struct pw_briefing_request *req, struct pw_briefing_result *res,
                      char *err, size_t errlen) {
  const struct pw_config *conf = req->conf;
  size_t n = (size_t)conf->n_indicators + 1;
  struct ctx c;
  int i, rc;

  memset(&c, 0, sizeof(c));
  memset(res, 0, sizeof(*res));
  c.req = req;
  c.conf = conf;
  pw_briefing_week_name(req->at, c.week, sizeof(c.week));
  if (c.week[0] == '\0') {
    snprintf(err, errlen, "briefing: no week for instant %lld", (long long)req->at);
    return -EINVAL;
  }
  memcpy(res->name, c.week, sizeof(res->name));
  if ((size_t)snprintf(res->html_path, sizeof(res->html_path), "%s/%s.html", req->out_dir,
                       c.week) >= sizeof(res->html_path) ||
      (size_t)snprintf(res->md_path, sizeof(res->md_path), "%s/%s.md", req->out_dir, c.week) >=
          sizeof(res->md_path)) {
    snprintf(err, errlen, "%s: path too long", req->out_dir);
    return -ENAMETOOLONG;
  }
  rc = pw_mkdir_p(req->out_dir);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot create the directory: %s", req->out_dir, strerror(-rc));
    return rc;
  }
  c.now = calloc(n, sizeof(*c.now));
  c.before = calloc(n, sizeof(*c.before));
  c.latest = calloc(n, sizeof(*c.latest));
  if (c.now == NULL || c.before == NULL || c.latest == NULL) {
    ctx_free(&c);
    snprintf(err, errlen, "briefing %s: out of memory", c.week);
    return -ENOMEM;
  }
  for (i = 0; i < conf->n_indicators; i++) {
    pw_status_judge(conf, req->journal->series, i, req->at, &c.now[i]);
    pw_status_judge(conf, req->journal->series, i, req->at - WEEK, &c.before[i]);
    c.latest[i] = latest_known(&req->journal->series[i], req->at);
    c.counts[c.now[i].status]++;
    c.stale += c.now[i].stale != 0;
  }
  if (req->graphs && render_graphs(&c) < 0) {
    ctx_free(&c);
    snprintf(err, errlen, "briefing %s: out of memory", c.week);
    return -ENOMEM;
  }

  head(&c);
  summary(&c);
  overview(&c);
  domains(&c);
  lagging(&c);
  gaps(&c);
  revisions(&c);
  changes(&c);
  html(&c, "<p class=\"asof\">本简报由 pacewatch 根据各部门报送数据自动生成。</p>\n"
           "</body>\n</html>\n");
  md(&c, "---\n\n本简报由 pacewatch 根据各部门报送数据自动生成。\n");
  if (c.rc < 0) {
    rc = c.rc;
    snprintf(err, errlen, "%s: cannot build the briefing: %s", res->html_path, strerror(-rc));
  } else if ((rc = pw_write_file_atomic(res->html_path, c.h.data, c.h.len)) < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", res->html_path, strerror(-rc));
  } else if ((rc = pw_write_file_atomic(res->md_path, c.m.data, c.m.len)) < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", res->md_path, strerror(-rc));
  }
  ctx_free(&c);
  return rc;
}
