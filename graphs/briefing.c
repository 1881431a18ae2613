/*
 * briefing: writes the weekly briefing of CONTRACT section 8 the way county staff write their
 * quarterly report by hand (../shared/seed): a title and as-of line, a summary of how many
 * indicators are on track, an overview of each area, then area by area the report's own kind of
 * sentences ("（二）幼有善育方面。涉及3个重点指标。1.……以上指标均达季度目标要求。"), each
 * indicator with its figures, status light and trend graph; then lagging indicators by
 * department, data gaps, revisions and the change since the previous week. Two renderings of
 * the same content: self-contained HTML (graphs as data URIs, A4 print CSS) and Markdown with
 * its PNG graphs beside it.
 */
#define PW_LOG_MODULE "briefing"
#include "briefing.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
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

static const char *const numerals[] = {"一",   "二",   "三",   "四",   "五",   "六",   "七",
                                       "八",   "九",   "十",   "十一", "十二", "十三", "十四",
                                       "十五", "十六", "十七", "十八", "十九", "二十"};

char *pw_briefing_week_name(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)(t - 1);
  struct tm tm;

  localtime_r(&tt, &tm);
  /* %G and %V are the ISO 8601 week-year and week (Monday to Sunday). */
  strftime(buf, size, "%G-W%V", &tm);
  return buf;
}

/* "4月25日" for the day an as_of instant stands for (as_of is the end of that day). */
static void day_zh(int64_t as_of, int with_year, char *buf, size_t size) {
  time_t tt = (time_t)(as_of - 1);
  struct tm tm;

  localtime_r(&tt, &tm);
  if (with_year)
    snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  else
    snprintf(buf, size, "%d月%d日", tm.tm_mon + 1, tm.tm_mday);
}

/* Appends S with HTML's special characters escaped. */
static void put_esc(struct pw_buf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&':
      pw_buf_append(b, "&amp;", 5);
      break;
    case '<':
      pw_buf_append(b, "&lt;", 4);
      break;
    case '>':
      pw_buf_append(b, "&gt;", 4);
      break;
    case '"':
      pw_buf_append(b, "&quot;", 6);
      break;
    case '\'':
      pw_buf_append(b, "&#39;", 5);
      break;
    default:
      pw_buf_append(b, s, 1);
    }
  }
}

/* Appends S for Markdown: characters that would start markup are backslash-escaped. */
static void put_md(struct pw_buf *b, const char *s) {
  for (; *s; s++) {
    if (strchr("\\`*_[]<>|#", *s) != NULL)
      pw_buf_append(b, "\\", 1);
    pw_buf_append(b, s, 1);
  }
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

/* The value of a verdict for people: a stage name, or the figure in 万/亿 with its unit. */
static void value_text(const struct pw_indicator *ind, const struct pw_verdict *v, char *buf,
                       size_t size) {
  char num[48];

  if (!v->has_value)
    snprintf(buf, size, "—");
  else if (ind->kind == PW_KIND_MILESTONE && v->stage >= 0 && v->stage < ind->stages.n)
    snprintf(buf, size, "%s", ind->stages.items[v->stage]);
  else
    snprintf(buf, size, "%s%s", pw_value_format_zh(v->value, num, sizeof(num)), ind->unit);
}

static void lag_text(const struct pw_indicator *ind, const struct pw_verdict *v, char *buf,
                     size_t size) {
  if (!v->has_judgement)
    snprintf(buf, size, "—");
  else if (v->lag_unit == PW_LAG_UNIT_PP)
    snprintf(buf, size, "%.1f个百分点", v->lag);
  else if (v->lag_unit == PW_LAG_UNIT_DAYS)
    snprintf(buf, size, "%.1f天", v->lag);
  else
    snprintf(buf, size, "%.2f%s", v->lag, ind->unit);
}

/* Whole days since the figure's date, for "数据超过N天未更新". */
static long stale_days(const struct pw_verdict *v, int64_t at, int64_t year_start) {
  int64_t ref = v->has_value ? v->as_of : year_start;

  return (long)((at - ref) / 86400);
}

/* The report's sentence for one indicator, without its number. */
static void sentence(const struct pw_config *conf, int i, const struct pw_verdict *v, int64_t at,
                     struct pw_buf *b) {
  const struct pw_indicator *ind = &conf->indicators[i];
  char day[32], val[96], num[48];
  int64_t T[5] = {0};

  pw_calendar_bounds(&conf->cal, v->year, T);
  value_text(ind, v, val, sizeof(val));
  if (v->has_value)
    day_zh(v->as_of, pw_calendar_year_of(&conf->cal, v->as_of) != v->year, day, sizeof(day));
  switch (v->status) {
  case PW_STATUS_NO_DATA:
    pw_buf_printf(b, "数据未公布。");
    break;
  case PW_STATUS_NO_TARGET:
    if (v->has_value)
      pw_buf_printf(b, "截至%s为%s，任务未下达。", day, val);
    else
      pw_buf_printf(b, "任务未下达。");
    break;
  default:
    if (ind->kind == PW_KIND_MILESTONE) {
      const char *plan = v->expected >= 0 && v->expected < ind->stages.n
                             ? ind->stages.items[(int)v->expected]
                             : "";
      pw_buf_printf(b, "当前阶段：%s（计划阶段：%s）", val, plan);
      if (v->lag > 0)
        pw_buf_printf(b, "，逾期%.0f天，%s。", ceil(v->lag), pw_status_label_zh(v->status));
      else
        pw_buf_printf(b, "，按计划推进。");
    } else if (ind->kind == PW_KIND_STANDARD) {
      pw_buf_printf(b, "截至%s，达%s，标准%s%s%s，", day, val,
                    ind->direction_down ? "不高于" : "不低于",
                    pw_value_format_zh(v->target, num, sizeof(num)), ind->unit);
      if (v->status == PW_STATUS_OK)
        pw_buf_printf(b, "达标。");
      else
        pw_buf_printf(b, "%s标准%.2f%s（%s）。", ind->direction_down ? "高于" : "低于", v->lag,
                      ind->unit, pw_status_label_zh(v->status));
    } else {
      pw_buf_printf(b, "截至%s，达%s，完成年度目标%.1f%%（序时进度%.1f%%），%s。", day, val,
                    v->completion_pct, v->pace_pct,
                    v->status == PW_STATUS_OK        ? "达到序时进度"
                    : v->status == PW_STATUS_LAGGING ? "滞后于序时进度"
                                                     : "严重滞后于序时进度");
    }
  }
  if (v->stale)
    pw_buf_printf(b, "（数据超过%ld天未更新）", stale_days(v, at, T[0]));
}

struct ctx {
  const struct pw_briefing_request *req;
  const struct pw_config *conf;
  struct pw_verdict *now, *before;
  char week[16];
  char **graphs_b64; /* per indicator: base64 PNG or NULL */
  int counts[5], stale;
};

static int read_b64(const char *path, char **out) {
  char *data;
  size_t len;
  int rc = pw_read_file(path, 16u << 20, &data, &len);

  *out = NULL;
  if (rc < 0)
    return rc;
  *out = malloc(4 * ((len + 2) / 3) + 1);
  if (*out != NULL)
    EVP_EncodeBlock((unsigned char *)*out, (const unsigned char *)data, (int)len);
  free(data);
  return *out ? 0 : -ENOMEM;
}

static void html_head(struct ctx *c, struct pw_buf *b) {
  char day[32];

  day_zh(c->req->at, 1, day, sizeof(day));
  pw_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
                   "<title>");
  put_esc(b, c->conf->briefing.title);
  pw_buf_printf(b, "（%s）</title>\n", c->week);
  pw_buf_printf(
      b,
      "<style>\n"
      "body{font-family:\"Noto Sans CJK SC\",\"Noto Sans SC\",sans-serif;color:#222;"
      "max-width:1000px;margin:24px auto;padding:0 16px;line-height:1.7}\n"
      "h1{font-size:24px;text-align:center;margin-bottom:4px}\n"
      ".asof{text-align:center;color:#555}\n"
      "h2{font-size:19px;border-bottom:2px solid #c0392b;padding-bottom:4px;margin-top:28px}\n"
      ".summary span.count{font-size:20px;font-weight:bold;margin:0 4px}\n"
      ".light{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px;"
      "vertical-align:middle}\n"
      ".green{background:#2ca02c}.yellow{background:#f1c40f}.red{background:#d62728}"
      ".grey{background:#999}\n"
      "table{border-collapse:collapse;width:100%%;margin:8px 0}th,td{border:1px solid #ccc;"
      "padding:4px 6px;font-size:14px}th{background:#f4f4f4}td.n{text-align:right}\n"
      ".bar{position:relative;height:14px;background:#eee;border-radius:3px;min-width:200px}\n"
      ".bar .done{position:absolute;left:0;top:0;bottom:0;background:#1f77b4;border-radius:3px}\n"
      ".bar .pace{position:absolute;top:-3px;bottom:-3px;width:2px;background:#c0392b}\n"
      ".indicator{margin:10px 0 18px;page-break-inside:avoid;break-inside:avoid}\n"
      ".indicator img{max-width:100%%;height:auto;display:block;margin-top:4px}\n"
      "p.sentence{margin:4px 0}\n"
      "@page{size:A4;margin:15mm}\n"
      "@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}\n"
      "</style></head><body>\n");
  pw_buf_printf(b, "<h1>");
  put_esc(b, c->conf->briefing.title);
  pw_buf_printf(b, "</h1>\n<p class=\"asof\">%s ・ 数据截至%s</p>\n", c->week, day);
}

static void summary(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  static const enum pw_status order[] = {PW_STATUS_OK, PW_STATUS_LAGGING, PW_STATUS_SEVERE,
                                         PW_STATUS_NO_DATA, PW_STATUS_NO_TARGET};
  int k;

  pw_buf_printf(h, "<h2>一、总体情况</h2>\n<p class=\"summary\">共监测%d个指标：",
                c->conf->n_indicators);
  pw_buf_printf(m, "## 一、总体情况\n\n共监测%d个指标：", c->conf->n_indicators);
  for (k = 0; k < 5; k++) {
    pw_buf_printf(h,
                  "%s<span class=\"light %s\"></span>%s<span class=\"count\" "
                  "data-status=\"%s\">%d</span>个",
                  k ? "，" : "", light_class(order[k]), pw_status_label_zh(order[k]),
                  pw_status_name(order[k]), c->counts[order[k]]);
    pw_buf_printf(m, "%s%s %d个", k ? "，" : "", pw_status_label_zh(order[k]), c->counts[order[k]]);
  }
  pw_buf_printf(h, "；其中数据陈旧<span class=\"count\" data-status=\"stale\">%d</span>个。</p>\n",
                c->stale);
  pw_buf_printf(m, "；其中数据陈旧 %d个。\n\n", c->stale);
}

/* Per area: the mean completion and pace of its cumulative and level indicators, as bars. */
static void overview(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  int d, i;

  pw_buf_printf(h, "<h2>二、分领域进度</h2>\n<table class=\"overview\"><tr><th>领域</th>"
                   "<th>指标数</th><th>正常</th><th>平均完成率 / 序时进度</th></tr>\n");
  pw_buf_printf(m, "## 二、分领域进度\n\n| 领域 | 指标数 | 正常 | 平均完成率 | 序时进度 |\n"
                   "|---|---:|---:|---:|---:|\n");
  for (d = 0; d < c->conf->n_domains; d++) {
    int n = 0, ok = 0, np = 0;
    double done = 0, pace = 0;
    for (i = 0; i < c->conf->n_indicators; i++) {
      if (c->conf->indicators[i].domain != d)
        continue;
      n++;
      ok += c->now[i].status == PW_STATUS_OK;
      if (c->now[i].has_pct) {
        np++;
        done += c->now[i].completion_pct;
        pace += c->now[i].pace_pct;
      }
    }
    pw_buf_printf(h, "<tr><td>");
    put_esc(h, c->conf->domains[d].name);
    pw_buf_printf(h, "</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td>", n, ok);
    pw_buf_printf(m, "| ");
    put_md(m, c->conf->domains[d].name);
    if (np > 0) {
      double a = done / np, p = pace / np;
      pw_buf_printf(h,
                    "<div class=\"bar\" title=\"完成%.1f%% / 序时%.1f%%\"><div class=\"done\" "
                    "style=\"width:%.1f%%\"></div><div class=\"pace\" style=\"left:%.1f%%\">"
                    "</div></div>%.1f%% / %.1f%%",
                    a, p, fmin(fmax(a, 0), 100), fmin(fmax(p, 0), 100), a, p);
      pw_buf_printf(m, " | %d | %d | %.1f%% | %.1f%% |\n", n, ok, a, p);
    } else {
      pw_buf_printf(h, "—");
      pw_buf_printf(m, " | %d | %d | — | — |\n", n, ok);
    }
    pw_buf_printf(h, "</td></tr>\n");
  }
  pw_buf_printf(h, "</table>\n");
  pw_buf_printf(m, "\n");
}

static void domains(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  int d, i;

  pw_buf_printf(h, "<h2>三、分领域情况</h2>\n");
  pw_buf_printf(m, "## 三、分领域情况\n\n");
  for (d = 0; d < c->conf->n_domains; d++) {
    const struct pw_domain *dom = &c->conf->domains[d];
    struct pw_buf behind = {NULL, 0, 0, 0};
    int n = 0, k = 0, all_ok = 1;
    for (i = 0; i < c->conf->n_indicators; i++)
      n += c->conf->indicators[i].domain == d;
    if (n == 0)
      continue;
    pw_buf_printf(h, "<section class=\"domain\" id=\"domain-%s\">\n<h3>（%s）", dom->id,
                  numerals[d < 20 ? d : 19]);
    put_esc(h, dom->name);
    pw_buf_printf(h, "方面。涉及%d个重点指标。</h3>\n", n);
    pw_buf_printf(m, "### （%s）", numerals[d < 20 ? d : 19]);
    put_md(m, dom->name);
    pw_buf_printf(m, "方面。涉及%d个重点指标。\n\n", n);
    for (i = 0; i < c->conf->n_indicators; i++) {
      const struct pw_indicator *ind = &c->conf->indicators[i];
      const struct pw_verdict *v = &c->now[i];
      struct pw_buf s = {NULL, 0, 0, 0};
      char val[96], lag[48];
      if (ind->domain != d)
        continue;
      k++;
      if (v->status != PW_STATUS_OK) {
        all_ok = 0;
        if (v->status == PW_STATUS_LAGGING || v->status == PW_STATUS_SEVERE) {
          if (behind.len > 0)
            pw_buf_append(&behind, "、", strlen("、"));
          pw_buf_append(&behind, ind->name, strlen(ind->name));
        }
      }
      sentence(c->conf, i, v, c->req->at, &s);
      value_text(ind, v, val, sizeof(val));
      lag_text(ind, v, lag, sizeof(lag));
      pw_buf_printf(h, "<div class=\"indicator\" data-id=\"%s\" data-status=\"%s\">\n", ind->id,
                    pw_status_name(v->status));
      pw_buf_printf(h, "<p class=\"sentence\"><span class=\"light %s\"></span>%d.",
                    light_class(v->status), k);
      put_esc(h, ind->name);
      pw_buf_printf(h, "。");
      put_esc(h, s.data ? s.data : "");
      pw_buf_printf(h,
                    "</p>\n<table><tr><th>状态</th><th>数值</th><th>完成率</th>"
                    "<th>序时进度</th><th>滞后</th></tr><tr><td>%s%s</td><td class=\"n\">",
                    pw_status_label_zh(v->status), v->stale ? "（陈旧）" : "");
      put_esc(h, val);
      if (v->has_pct)
        pw_buf_printf(h, "</td><td class=\"n\">%.1f%%</td><td class=\"n\">%.1f%%</td>",
                      v->completion_pct, v->pace_pct);
      else
        pw_buf_printf(h, "</td><td class=\"n\">—</td><td class=\"n\">—</td>");
      pw_buf_printf(h, "<td class=\"n\">");
      put_esc(h, lag);
      pw_buf_printf(h, "</td></tr></table>\n");
      if (c->graphs_b64 != NULL && c->graphs_b64[i] != NULL)
        pw_buf_printf(h, "<img alt=\"%s\" src=\"data:image/png;base64,%s\">\n", ind->id,
                      c->graphs_b64[i]);
      else if (c->req->graphs)
        pw_buf_printf(h, "<p class=\"nograph\">图表生成失败</p>\n");
      pw_buf_printf(h, "</div>\n");

      pw_buf_printf(m, "%s %d.", light_md(v->status), k);
      put_md(m, ind->name);
      pw_buf_printf(m, "。");
      put_md(m, s.data ? s.data : "");
      pw_buf_printf(m, "\n\n");
      if (c->req->graphs && c->graphs_b64 != NULL && c->graphs_b64[i] != NULL)
        pw_buf_printf(m, "![%s](%s-%s.png)\n\n", ind->id, c->week, ind->id);
      pw_buf_free(&s);
    }
    if (all_ok) {
      pw_buf_printf(h, "<p class=\"close\">以上指标均达季度目标要求。</p>\n");
      pw_buf_printf(m, "以上指标均达季度目标要求。\n\n");
    } else if (behind.len > 0) {
      pw_buf_printf(h, "<p class=\"close\">其中，");
      put_esc(h, behind.data);
      pw_buf_printf(h, "滞后于序时进度。</p>\n");
      pw_buf_printf(m, "其中，");
      put_md(m, behind.data);
      pw_buf_printf(m, "滞后于序时进度。\n\n");
    }
    pw_buf_free(&behind);
    pw_buf_printf(h, "</section>\n");
  }
}

static void lagging(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  int dep, i, any = 0;

  pw_buf_printf(h, "<h2>四、滞后指标（按责任部门）</h2>\n<ul id=\"lagging\">\n");
  pw_buf_printf(m, "## 四、滞后指标（按责任部门）\n\n");
  /* Departments in configuration order, then indicators without one. */
  for (dep = 0; dep <= c->conf->n_departments; dep++) {
    int shown = 0;
    const char *name = dep < c->conf->n_departments ? c->conf->departments[dep].name : "未指定部门";
    for (i = 0; i < c->conf->n_indicators; i++) {
      const struct pw_indicator *ind = &c->conf->indicators[i];
      const struct pw_verdict *v = &c->now[i];
      char lag[48];
      int mine = dep < c->conf->n_departments ? ind->department == dep : ind->department < 0;
      if (!mine || (v->status != PW_STATUS_LAGGING && v->status != PW_STATUS_SEVERE))
        continue;
      if (!shown) {
        pw_buf_printf(h, "<li><b>");
        put_esc(h, name);
        pw_buf_printf(h, "</b><ul>\n");
        pw_buf_printf(m, "- **");
        put_md(m, name);
        pw_buf_printf(m, "**\n");
        shown = any = 1;
      }
      lag_text(ind, v, lag, sizeof(lag));
      pw_buf_printf(h, "<li data-id=\"%s\"><span class=\"light %s\"></span>", ind->id,
                    light_class(v->status));
      put_esc(h, ind->name);
      pw_buf_printf(h, "：%s，滞后", pw_status_label_zh(v->status));
      put_esc(h, lag);
      pw_buf_printf(h, "</li>\n");
      pw_buf_printf(m, "  - ");
      put_md(m, ind->name);
      pw_buf_printf(m, "：%s，滞后", pw_status_label_zh(v->status));
      put_md(m, lag);
      pw_buf_printf(m, "\n");
    }
    if (shown)
      pw_buf_printf(h, "</ul></li>\n");
  }
  if (!any) {
    pw_buf_printf(h, "<li>无滞后指标。</li>\n");
    pw_buf_printf(m, "无滞后指标。\n");
  }
  pw_buf_printf(h, "</ul>\n");
  pw_buf_printf(m, "\n");
}

static void gaps(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  int i, any = 0;

  pw_buf_printf(h, "<h2>五、数据缺口</h2>\n<ul id=\"gaps\">\n");
  pw_buf_printf(m, "## 五、数据缺口\n\n");
  for (i = 0; i < c->conf->n_indicators; i++) {
    const struct pw_indicator *ind = &c->conf->indicators[i];
    const struct pw_verdict *v = &c->now[i];
    char what[96];
    int64_t T[5] = {0};
    if (v->status != PW_STATUS_NO_DATA && v->status != PW_STATUS_NO_TARGET && !v->stale)
      continue;
    pw_calendar_bounds(&c->conf->cal, v->year, T);
    if (v->status == PW_STATUS_NO_DATA)
      snprintf(what, sizeof(what), "数据未公布");
    else if (v->status == PW_STATUS_NO_TARGET)
      snprintf(what, sizeof(what), "任务未下达");
    else
      what[0] = '\0';
    if (v->stale)
      snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s数据超过%ld天未更新",
               what[0] ? "；" : "", stale_days(v, c->req->at, T[0]));
    pw_buf_printf(h, "<li data-id=\"%s\">", ind->id);
    put_esc(h, ind->name);
    pw_buf_printf(h, "：%s</li>\n", what);
    pw_buf_printf(m, "- ");
    put_md(m, ind->name);
    pw_buf_printf(m, "：%s\n", what);
    any = 1;
  }
  if (!any) {
    pw_buf_printf(h, "<li>无。</li>\n");
    pw_buf_printf(m, "无。\n");
  }
  pw_buf_printf(h, "</ul>\n");
  pw_buf_printf(m, "\n");
}

static void revisions(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  const struct pw_journal *j = c->req->journal;
  int i, any = 0;

  pw_buf_printf(h, "<h2>六、本周数据修订</h2>\n<ul id=\"revisions\">\n");
  pw_buf_printf(m, "## 六、本周数据修订\n\n");
  for (i = 0; i < c->conf->n_indicators; i++) {
    const struct pw_series *s = &j->series[i];
    const struct pw_indicator *ind = &c->conf->indicators[i];
    size_t k, p;
    for (k = 0; k < s->n; k++) {
      const struct pw_sample *x = &s->samples[k];
      char day[32], now_v[48], old_v[48] = "—";
      if (x->rev == 0 || x->fetched_at <= c->req->at - WEEK || x->fetched_at > c->req->at)
        continue;
      for (p = k; p-- > 0;)
        if (s->samples[p].as_of == x->as_of) {
          pw_value_format_zh(s->samples[p].value, old_v, sizeof(old_v));
          break;
        }
      day_zh(x->as_of, 1, day, sizeof(day));
      pw_value_format_zh(x->value, now_v, sizeof(now_v));
      pw_buf_printf(h, "<li data-id=\"%s\">", ind->id);
      put_esc(h, ind->name);
      pw_buf_printf(h, "：%s的数据由%s修订为%s", day, old_v, now_v);
      put_esc(h, ind->unit);
      pw_buf_printf(h, "</li>\n");
      pw_buf_printf(m, "- ");
      put_md(m, ind->name);
      pw_buf_printf(m, "：%s的数据由%s修订为%s", day, old_v, now_v);
      put_md(m, ind->unit);
      pw_buf_printf(m, "\n");
      any = 1;
    }
  }
  if (!any) {
    pw_buf_printf(h, "<li>本周无数据修订。</li>\n");
    pw_buf_printf(m, "本周无数据修订。\n");
  }
  pw_buf_printf(h, "</ul>\n");
  pw_buf_printf(m, "\n");
}

static void changes(struct ctx *c, struct pw_buf *h, struct pw_buf *m) {
  int i;

  pw_buf_printf(h, "<h2>七、与上周相比</h2>\n<table id=\"changes\"><tr><th>指标</th><th>上周</th>"
                   "<th>本周</th><th>变化</th></tr>\n");
  pw_buf_printf(m, "## 七、与上周相比\n\n| 指标 | 上周 | 本周 | 变化 |\n|---|---|---|---|\n");
  for (i = 0; i < c->conf->n_indicators; i++) {
    const struct pw_indicator *ind = &c->conf->indicators[i];
    const struct pw_verdict *a = &c->before[i], *b = &c->now[i];
    char va[96], vb[96], delta[160];
    value_text(ind, a, va, sizeof(va));
    value_text(ind, b, vb, sizeof(vb));
    if (a->status == b->status && a->has_value == b->has_value &&
        (!a->has_value || (a->value == b->value && a->as_of == b->as_of)))
      snprintf(delta, sizeof(delta), "无变化");
    else if (a->status != b->status)
      snprintf(delta, sizeof(delta), "%s → %s", pw_status_label_zh(a->status),
               pw_status_label_zh(b->status));
    else
      snprintf(delta, sizeof(delta), "数值更新");
    pw_buf_printf(h, "<tr data-id=\"%s\"><td>", ind->id);
    put_esc(h, ind->name);
    pw_buf_printf(h, "</td><td>");
    put_esc(h, va);
    pw_buf_printf(h, "（%s）</td><td>", pw_status_label_zh(a->status));
    put_esc(h, vb);
    pw_buf_printf(h, "（%s）</td><td>%s</td></tr>\n", pw_status_label_zh(b->status), delta);
    pw_buf_printf(m, "| ");
    put_md(m, ind->name);
    pw_buf_printf(m, " | ");
    put_md(m, va);
    pw_buf_printf(m, "（%s） | ", pw_status_label_zh(a->status));
    put_md(m, vb);
    pw_buf_printf(m, "（%s） | %s |\n", pw_status_label_zh(b->status), delta);
  }
  pw_buf_printf(h, "</table>\n");
  pw_buf_printf(m, "\n");
}

/* Renders every indicator's graph to <out_dir>/<week>-<id>.png and keeps its base64. */
static void render_graphs(struct ctx *c) {
  const struct pw_config *conf = c->conf;
  int i;

  char tmp_dir[4200];

  c->graphs_b64 = calloc((size_t)conf->n_indicators + 1, sizeof(char *));
  if (c->graphs_b64 == NULL)
    return;
  /* Placeholder RRDs for indicators without data live in the state directory, not beside the
   * briefing (which may be the user's current directory). */
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/graphs", conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  for (i = 0; i < conf->n_indicators; i++) {
    struct pw_graph_request g;
    char path[4300], err[512];
    memset(&g, 0, sizeof(g));
    g.conf = conf;
    g.ind = i;
    g.store = c->req->store;
    g.verdict = &c->now[i];
    g.at = c->req->at;
    g.format = PW_GRAPH_PNG;
    g.out_path = path;
    g.tmp_dir = tmp_dir;
    snprintf(path, sizeof(path), "%s/%s-%s.png", c->req->out_dir, c->week, conf->indicators[i].id);
    if (pw_graph_render(&g, NULL, err, sizeof(err)) < 0) {
      pw_log_warn("briefing %s: %s", c->week, err);
      continue;
    }
    if (read_b64(path, &c->graphs_b64[i]) < 0)
      pw_log_warn("briefing %s: cannot read back %s", c->week, path);
  }
}

int pw_briefing_write(const struct pw_briefing_request *req, struct pw_briefing_result *res,
                      char *err, size_t errlen) {
  const struct pw_config *conf = req->conf;
  struct ctx c;
  struct pw_buf h = {NULL, 0, 0, 0}, m = {NULL, 0, 0, 0};
  int i, rc;

  memset(&c, 0, sizeof(c));
  c.req = req;
  c.conf = conf;
  pw_briefing_week_name(req->at, c.week, sizeof(c.week));
  rc = pw_mkdir_p(req->out_dir);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot create the directory: %s", req->out_dir, strerror(-rc));
    return rc;
  }
  c.now = calloc((size_t)conf->n_indicators + 1, sizeof(*c.now));
  c.before = calloc((size_t)conf->n_indicators + 1, sizeof(*c.before));
  if (c.now == NULL || c.before == NULL) {
    free(c.now);
    free(c.before);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  for (i = 0; i < conf->n_indicators; i++) {
    pw_status_judge(conf, req->journal, i, req->at, &c.now[i]);
    pw_status_judge(conf, req->journal, i, req->at - WEEK, &c.before[i]);
    c.counts[c.now[i].status]++;
    c.stale += c.now[i].stale;
  }
  if (req->graphs)
    render_graphs(&c);

  html_head(&c, &h);
  pw_buf_printf(&m, "# ");
  put_md(&m, conf->briefing.title);
  {
    char day[32];
    day_zh(req->at, 1, day, sizeof(day));
    pw_buf_printf(&m, "\n\n%s ・ 数据截至%s\n\n", c.week, day);
  }
  summary(&c, &h, &m);
  overview(&c, &h, &m);
  domains(&c, &h, &m);
  lagging(&c, &h, &m);
  gaps(&c, &h, &m);
  revisions(&c, &h, &m);
  changes(&c, &h, &m);
  pw_buf_printf(&h, "<p class=\"asof\">本简报由 pacewatch 根据各部门报送数据自动生成。</p>\n"
                    "</body></html>\n");
  pw_buf_printf(&m, "---\n本简报由 pacewatch 根据各部门报送数据自动生成。\n");

  memcpy(res->name, c.week, sizeof(res->name));
  snprintf(res->html_path, sizeof(res->html_path), "%s/%s.html", req->out_dir, c.week);
  snprintf(res->md_path, sizeof(res->md_path), "%s/%s.md", req->out_dir, c.week);
  rc = h.data && m.data ? pw_write_file_atomic(res->html_path, h.data, h.len) : -ENOMEM;
  if (rc == 0)
    rc = pw_write_file_atomic(res->md_path, m.data, m.len);
  if (rc < 0)
    snprintf(err, errlen, "%s: cannot write the briefing: %s", req->out_dir, strerror(-rc));
  for (i = 0; c.graphs_b64 != NULL && i < conf->n_indicators; i++)
    free(c.graphs_b64[i]);
  free(c.graphs_b64);
  free(c.now);
  free(c.before);
  pw_buf_free(&h);
  pw_buf_free(&m);
  return rc;
}
