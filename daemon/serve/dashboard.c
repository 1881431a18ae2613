/*
 * dashboard: the HTML page of the status server. Every text that comes from the configuration
 * (names, units, error messages) is HTML-escaped; the page carries data-status attributes so
 * scripts and tests can read the lights without parsing colours.
 */
#include "dashboard.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "schedule.h"
#include "status.h"
#include "value.h"

static const enum pw_status all_status[] = {PW_STATUS_OK, PW_STATUS_LAGGING, PW_STATUS_SEVERE,
                                            PW_STATUS_NO_DATA, PW_STATUS_NO_TARGET};

static const char *const area_numbers[] = {"一", "二", "三", "四", "五",   "六",
                                           "七", "八", "九", "十", "十一", "十二"};

/* The page's look (docs/http.md "Dashboard"): cards in a grid that falls to one column under
 * 600 px, so a phone never scrolls sideways; graphs take the card's width. The status filter
 * is CSS only: a chip links to an empty target element at the top of the body ("#f-lagging"),
 * and rules written per status (filter_css) hide the other cards while it is the target. */
static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"Noto Sans SC\",\"Microsoft YaHei\","
    "sans-serif;background:#f4f5f7;color:#222;overflow-wrap:anywhere;line-height:1.45}"
    "a{color:#1f3b63}.ft{display:block;height:0}"
    "header{background:#1f3b63;color:#fff;padding:16px 24px}"
    "header h1{margin:0 0 4px;font-size:22px;line-height:1.3}"
    "header p{margin:0;opacity:.9;font-size:13px}header a{color:#fff}"
    ".summary{display:flex;flex-wrap:wrap;gap:8px;margin-top:10px}"
    ".chip{background:#fff;color:#222;border-radius:14px;padding:4px 12px;font-size:14px;"
    "text-decoration:none;white-space:nowrap}a.chip{box-shadow:0 1px 2px rgba(0,0,0,.3)}"
    "span.chip{opacity:.6}"
    ".brief{display:inline-block;margin-top:10px;font-size:14px;font-weight:bold}"
    "nav{padding:8px 24px;background:#e8ecf2;font-size:14px;display:flex;flex-wrap:wrap;"
    "gap:4px 14px}"
    "main{padding:8px 24px 24px}section{margin-top:18px}"
    "h2{font-size:18px;border-left:4px solid #1f3b63;padding-left:8px}"
    "h2 small{font-weight:normal;color:#555;font-size:13px;margin-left:8px;display:inline-block}"
    "#attention{background:#fff;border-radius:6px;padding:4px 14px 10px;"
    "box-shadow:0 1px 2px rgba(0,0,0,.12)}"
    "#attention h3{font-size:14px;margin:10px 0 4px;color:#444}"
    "#attention ul{margin:0;padding:0;list-style:none}#attention li{margin:4px 0;font-size:14px}"
    "#attention .why{display:block;margin:2px 0 0 18px;color:#555;font-size:13px}"
    "#attention .why.overdue{color:#b71c1c}"
    "#attention .none{font-size:14px;color:#2e7d32}"
    ".fnote{display:none;font-size:14px;background:#fff8e1;padding:6px 10px;border-radius:4px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}"
    ".card{background:#fff;border-radius:6px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.12);"
    "min-width:0;scroll-margin-top:8px}"
    ".card:target{outline:3px solid #1f3b63}"
    ".card h3{display:inline;font-size:15px;margin:0}"
    ".dept{float:right;color:#666;font-size:12px;margin-left:8px}"
    ".light{display:inline-block;width:14px;height:14px;border-radius:50%;margin-right:6px;"
    "vertical-align:-2px;border:1px solid rgba(0,0,0,.2)}"
    ".s-ok{background:#2e7d32}.s-lagging{background:#f0a500}.s-severe{background:#c62828}"
    ".s-no_data{background:#9e9e9e}.s-no_target{background:#607d8b}"
    ".fig{font-size:20px;margin:8px 0 4px}.fig small{font-size:13px;color:#555;margin-left:6px}"
    ".bar{position:relative;height:8px;background:#e3e6ea;border-radius:4px;margin:6px 0}"
    ".bar .fill{position:absolute;left:0;top:0;bottom:0;border-radius:4px}"
    ".bar .pace{position:absolute;top:-3px;bottom:-3px;width:2px;background:#222}"
    ".note{font-size:13px;color:#333;margin:4px 0}.stale{color:#b71c1c}"
    ".explanation{background:#fff8e1;padding:4px 8px;border-radius:4px}"
    ".explanation.overdue{color:#b71c1c}"
    ".card img{display:block;width:100%;height:auto;margin-top:6px}"
    "table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}"
    "th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#e8ecf2}td small{display:block;color:#666}"
    ".bad{color:#b71c1c;font-weight:bold}.wait{color:#555}"
    ".err{color:#b71c1c}footer{padding:12px 24px;font-size:12px;color:#666}"
    "@media (max-width:600px){header{padding:12px 14px}header h1{font-size:19px}"
    "nav{padding:8px 14px}main{padding:4px 10px 16px}"
    ".cards{grid-template-columns:1fr}"
    "#sources table,#sources tbody,#sources tr,#sources td{display:block;width:100%}"
    "#sources tr:first-child{display:none}#sources tr{margin-bottom:8px;border:1px solid #d5d9e0}"
    "#sources td{border:0;border-bottom:1px solid #eef0f3}"
    "#sources td::before{content:attr(data-label);color:#666;margin-right:8px}"
    "footer{padding:12px 14px}}";

/* Appends S HTML-escaped. */
static int esc(struct pw_buf *out, const char *s) {
  const char *p;
  int rc = 0;

  for (p = s; p != NULL && *p != '\0' && rc == 0; p++) {
    switch (*p) {
    case '&':
      rc = pw_buf_append(out, "&amp;", 5);
      break;
    case '<':
      rc = pw_buf_append(out, "&lt;", 4);
      break;
    case '>':
      rc = pw_buf_append(out, "&gt;", 4);
      break;
    case '"':
      rc = pw_buf_append(out, "&quot;", 6);
      break;
    case '\'':
      rc = pw_buf_append(out, "&#39;", 5);
      break;
    default:
      rc = pw_buf_append(out, p, 1);
    }
  }
  return rc;
}

/* "2024年4月1日" for an as_of: an as_of is the end of the day it reports, so one second earlier. */
static void day_text(int64_t as_of, char *buf, size_t size) {
  time_t t = (time_t)(as_of - 1);
  struct tm tm;

  localtime_r(&t, &tm);
  snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* An instant in words, as a notice dates itself: "2024年4月30日9时", "2024年4月30日9时05分". */
static void time_words(int64_t at, char *buf, size_t size) {
  time_t t = (time_t)at;
  struct tm tm;

  localtime_r(&t, &tm);
  if (tm.tm_min == 0)
    snprintf(buf, size, "%d年%d月%d日%d时", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour);
  else
    snprintf(buf, size, "%d年%d月%d日%d时%02d分", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
}

static const char *department_name(const struct pw_config *conf, const struct pw_indicator *ind) {
  return ind->department >= 0 ? conf->departments[ind->department].name : "";
}

/* The sentence under the figure: completion against the pace, or the distance to a standard.
 * Figures are written as the briefing writes them (pw_report_figure: "1.98亿元"). */
static int judgement_note(struct pw_buf *out, const struct pw_indicator *ind,
                          const struct pw_verdict *v) {
  char a[96], b[96];
  int rc;

  if (v->status == PW_STATUS_NO_DATA)
    return pw_buf_printf(out, "<p class=\"note\">数据未公布</p>");
  if (v->status == PW_STATUS_NO_TARGET)
    return pw_buf_printf(out, "<p class=\"note\">%d年目标任务未下达</p>", v->year);
  if (!v->has_judgement)
    return 0;
  if (v->has_pct) {
    rc = pw_buf_printf(out, "<p class=\"note\">完成率%.1f%%，序时进度%.1f%%", v->completion_pct,
                       v->pace_pct);
    if (rc == 0 && v->lag > 0.05)
      rc = pw_buf_printf(out, "，滞后%.1f个百分点", v->lag);
    else if (rc == 0 && v->lag < -0.05)
      rc = pw_buf_printf(out, "，超前%.1f个百分点", -v->lag);
    return rc < 0 ? rc : pw_buf_append(out, "</p>", 4);
  }
  if (v->lag_unit == PW_LAG_UNIT_DAYS)
    return v->lag > 0 ? pw_buf_printf(out, "<p class=\"note\">逾期%.0f天</p>", ceil(v->lag))
                      : pw_buf_printf(out, "<p class=\"note\">各环节按期推进</p>");
  pw_report_figure(ind, v->expected, a, sizeof(a));
  rc = pw_buf_printf(out, "<p class=\"note\">");
  rc = rc < 0 ? rc : esc(out, ind->kind == PW_KIND_STANDARD ? ind->standard_label : "应达");
  rc = rc < 0 ? rc : esc(out, a);
  if (rc == 0 && v->lag > 0) {
    rc = pw_buf_printf(out, "，差");
    rc = rc < 0 ? rc : esc(out, pw_report_distance(ind, v->lag, b, sizeof(b)));
  }
  return rc < 0 ? rc : pw_buf_append(out, "</p>", 4);
}

/* Days since the figure of a stale indicator. */
static long long stale_days(const struct pw_view *view, const struct pw_verdict *v) {
  return (long long)((view->now - v->as_of) / 86400);
}

/* An overdue figure (docs/judgement.md "Reporting deadlines"), as the briefing says it:
 * "2024年3月数据逾期未报（应于4月5日前报送）". */
static int overdue_text(struct pw_buf *out, const struct pw_view *view,
                        const struct pw_verdict *v) {
  char period[64], day[48];

  return pw_buf_printf(
      out, "%s数据逾期未报（应于%s前报送）", pw_status_due_period(v, period, sizeof(period)),
      pw_report_day(v->due_by, pw_calendar_year_of(&view->conf->cal, view->now), day, sizeof(day)));
}

/* Indicator I's current explanation in the shared wording (pw_report_explanation) into TEXT:
 * "县人力社保局说明：…；措施：…；预计5月底前追平", or "原定5月31日前追平，目前仍滞后" once that day
 * passed while it still lags (*OVERDUE 1). Returns 1 when I has one, 0 when not, or -ENOMEM. */
static int explanation_text(const struct pw_view *view, int i, const struct pw_verdict *v,
                            struct pw_buf *text, int *overdue) {
  const struct pw_explanation *e =
      view->series != NULL ? pw_status_explanation(&view->series[i]) : NULL;
  int rc;

  if (e == NULL)
    return 0;
  rc = pw_report_explanation_at(view->conf, i, e, v, view->now, overdue, text);
  return rc < 0 ? rc : 1;
}

/* Indicator I's current explanation as the card's paragraph (outside text: escaped), or
 * nothing. */
static int explanation(struct pw_buf *out, const struct pw_view *view, int i,
                       const struct pw_verdict *v) {
  struct pw_buf text = {0};
  int overdue = 0, rc = explanation_text(view, i, v, &text, &overdue);

  if (rc > 0) {
    rc = pw_buf_printf(out, "<p class=\"note explanation%s\">", overdue ? " overdue" : "");
    rc = rc < 0 ? rc : esc(out, text.data);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
  }
  pw_buf_free(&text);
  return rc < 0 ? rc : 0;
}

static int card(struct pw_buf *out, const struct pw_view *view, int i) {
  const struct pw_indicator *ind = &view->conf->indicators[i];
  const struct pw_verdict *v = &view->verdicts[i];
  const char *st = pw_status_name(v->status);
  char fig[160], day[48];
  int rc;

  /* The anchor alerts link to: public_url + "/#ind-<id>" (docs/http.md). */
  rc = pw_buf_printf(out,
                     "<article class=\"card\" id=\"ind-%s\" data-indicator=\"%s\" "
                     "data-status=\"%s\">",
                     ind->id, ind->id, st);
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "<i class=\"light s-%s\" title=\"%s\"></i><h3>", st,
                              pw_status_label_zh(v->status));
  rc = rc < 0 ? rc : esc(out, ind->name);
  rc = rc < 0 ? rc : pw_buf_append(out, "</h3><span class=\"dept\">", 24);
  rc = rc < 0 ? rc : esc(out, department_name(view->conf, ind));
  rc = rc < 0 ? rc : pw_buf_append(out, "</span>", 7);
  if (rc == 0 && v->has_value) {
    day_text(v->as_of, day, sizeof(day));
    if (ind->kind == PW_KIND_MILESTONE && v->stage >= 0 && v->stage < ind->stages.n)
      pw_report_figure(ind, (double)v->stage, fig, sizeof(fig));
    else
      pw_report_figure(ind, v->value, fig, sizeof(fig));
    rc = pw_buf_printf(out, "<div class=\"fig\">");
    rc = rc < 0 ? rc : esc(out, fig);
    rc = rc < 0 ? rc : pw_buf_printf(out, "<small>截至%s</small></div>", day);
  }
  if (rc == 0 && v->has_pct) {
    double fill = v->completion_pct < 0 ? 0 : v->completion_pct > 100 ? 100 : v->completion_pct;
    double pace = v->pace_pct < 0 ? 0 : v->pace_pct > 100 ? 100 : v->pace_pct;
    rc = pw_buf_printf(out,
                       "<div class=\"bar\" title=\"完成率与序时进度\"><div class=\"fill s-%s\" "
                       "style=\"width:%.1f%%\"></div><div class=\"pace\" "
                       "style=\"left:%.1f%%\"></div></div>",
                       st, fill, pace);
  }
  rc = rc < 0 ? rc : judgement_note(out, ind, v);
  if (rc == 0 && view->series != NULL) {
    /* The note is outside text (a source's, a spreadsheet's): escaped like every name. */
    const char *note = pw_status_note(&view->series[i], v, view->now);
    if (note != NULL) {
      rc = pw_buf_printf(out, "<p class=\"note sample-note\">");
      rc = rc < 0 ? rc : esc(out, note);
      rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
    }
  }
  if (rc == 0 && view->series != NULL)
    rc = explanation(out, view, i, v);
  if (rc == 0 && (ind->published_by != NULL || ind->target_from != NULL)) {
    rc = pw_buf_printf(out, "<p class=\"note origin\">");
    if (rc == 0 && ind->published_by != NULL) {
      rc = pw_buf_printf(out, "数据发布：");
      rc = rc < 0 ? rc : esc(out, ind->published_by);
    }
    if (rc == 0 && ind->target_from != NULL) {
      rc = pw_buf_printf(out, "%s目标下达：", ind->published_by != NULL ? "；" : "");
      rc = rc < 0 ? rc : esc(out, ind->target_from);
    }
    rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
  }
  if (rc == 0 && v->stale && v->has_value)
    rc = pw_buf_printf(out, "<p class=\"note stale\">数据已%lld天未更新</p>", stale_days(view, v));
  if (rc == 0 && v->overdue) {
    rc = pw_buf_printf(out, "<p class=\"note stale overdue\">");
    rc = rc < 0 ? rc : overdue_text(out, view, v);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
  }
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "<a href=\"graphs/%s.png\"><img src=\"graphs/%s.png?size=small\" "
                              "width=\"400\" height=\"150\" loading=\"lazy\" alt=\"",
                              ind->id, ind->id);
  rc = rc < 0 ? rc : esc(out, ind->name);
  return rc < 0 ? rc : pw_buf_printf(out, "趋势图\"></a></article>\n");
}

/* The rules of the status filter, one set per status: while "#f-<status>" is the target, cards
 * of other statuses and areas without such a card are hidden and the chip is marked. */
static int filter_css(struct pw_buf *out) {
  size_t k;
  int rc = pw_buf_printf(out, ".ft:target~main #attention,.ft:target~main #sources{display:none}");

  for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++) {
    const char *s = pw_status_name(all_status[k]);
    rc = pw_buf_printf(out,
                       "#f-%s:target~main .card:not([data-status=%s]),"
                       "#f-%s:target~main .area:not(:has(.card[data-status=%s])){display:none}"
                       "#f-%s:target~main .fnote[data-for=%s]{display:block}"
                       "#f-%s:target~header .chip[data-status=%s]{outline:3px solid #ffd54f}",
                       s, s, s, s, s, s, s, s);
  }
  return rc;
}

/* One chip per status with its count: a link that filters the cards (none for a count of 0). */
static int summary(struct pw_buf *out, const struct pw_view *view) {
  size_t k;
  int i, rc = pw_buf_printf(out, "<div class=\"summary\">");

  for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++) {
    const char *s = pw_status_name(all_status[k]);
    int n = 0;
    for (i = 0; i < view->conf->n_indicators; i++)
      n += view->verdicts[i].status == all_status[k];
    if (n > 0)
      rc = pw_buf_printf(out, "<a class=\"chip\" href=\"#f-%s\" ", s);
    else
      rc = pw_buf_printf(out, "<span class=\"chip\" ");
    rc = rc < 0
             ? rc
             : pw_buf_printf(out,
                             "data-status=\"%s\" data-count=\"%d\"><i class=\"light s-%s\"></i>"
                             "%s %d</%s>",
                             s, n, s, pw_status_label_zh(all_status[k]), n, n > 0 ? "a" : "span");
  }
  return rc < 0 ? rc : pw_buf_append(out, "</div>", 6);
}

/* The filter's notice above the cards, one per status, shown while its filter is on. */
static int filter_notes(struct pw_buf *out) {
  size_t k;
  int rc = 0;

  for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++)
    rc = pw_buf_printf(out,
                       "<p class=\"fnote\" data-for=\"%s\">只显示“%s”的指标 · <a href=\"#\">"
                       "显示全部</a></p>",
                       pw_status_name(all_status[k]), pw_status_label_zh(all_status[k]));
  return rc;
}

static int area(struct pw_buf *out, const struct pw_view *view, int dom) {
  const struct pw_domain *d = &view->conf->domains[dom];
  int i, n = 0, ok = 0, behind = 0, rc;

  for (i = 0; i < view->conf->n_indicators; i++) {
    if (view->conf->indicators[i].domain != dom)
      continue;
    n++;
    ok += view->verdicts[i].status == PW_STATUS_OK;
    behind += view->verdicts[i].status == PW_STATUS_LAGGING ||
              view->verdicts[i].status == PW_STATUS_SEVERE;
  }
  rc = pw_buf_printf(out, "<section class=\"area\" id=\"area-%s\"><h2>%s、", d->id,
                     dom < 12 ? area_numbers[dom] : "");
  rc = rc < 0 ? rc : esc(out, d->name);
  rc = rc < 0
           ? rc
           : pw_buf_printf(out, "<small>%d个指标，正常%d个，滞后%d个</small></h2>", n, ok, behind);
  rc = rc < 0 ? rc : pw_buf_printf(out, "<div class=\"cards\">\n");
  for (i = 0; rc == 0 && i < view->conf->n_indicators; i++)
    if (view->conf->indicators[i].domain == dom)
      rc = card(out, view, i);
  return rc < 0 ? rc : pw_buf_printf(out, "</div></section>\n");
}

/* Which group of 需关注 an indicator is in: 0 severe, 1 lagging, 2 a data gap, -1 none. */
static int attention_group(const struct pw_verdict *v) {
  if (v->status == PW_STATUS_SEVERE)
    return 0;
  if (v->status == PW_STATUS_LAGGING)
    return 1;
  if (v->status == PW_STATUS_NO_DATA || v->status == PW_STATUS_NO_TARGET || v->stale || v->overdue)
    return 2;
  return -1;
}

/* One line of 需关注: the name linking to the card, the department, what is wrong. */
static int attention_item(struct pw_buf *out, const struct pw_view *view, int i) {
  const struct pw_indicator *ind = &view->conf->indicators[i];
  const struct pw_verdict *v = &view->verdicts[i];
  const char *st = pw_status_name(v->status);
  char d[96];
  int rc;

  rc = pw_buf_printf(out,
                     "<li data-indicator=\"%s\" data-status=\"%s\"><a href=\"#ind-%s\"><i "
                     "class=\"light s-%s\"></i>",
                     ind->id, st, ind->id, st);
  rc = rc < 0 ? rc : esc(out, ind->name);
  rc = rc < 0 ? rc : pw_buf_printf(out, "</a>");
  if (rc == 0 && ind->department >= 0) {
    rc = pw_buf_append(out, "（", strlen("（"));
    rc = rc < 0 ? rc : esc(out, department_name(view->conf, ind));
    rc = rc < 0 ? rc : pw_buf_append(out, "）", strlen("）"));
  }
  rc = rc < 0 ? rc : pw_buf_append(out, "：", strlen("："));
  if (rc < 0)
    return rc;
  if (v->status == PW_STATUS_NO_DATA && v->overdue)
    rc = overdue_text(out, view, v);
  else if (v->status == PW_STATUS_NO_DATA)
    rc = pw_buf_printf(out, "数据未公布");
  else if (v->status == PW_STATUS_NO_TARGET)
    rc = pw_buf_printf(out, "目标任务未下达");
  else if (v->status == PW_STATUS_LAGGING || v->status == PW_STATUS_SEVERE) {
    rc = pw_buf_printf(out, "%s", pw_status_label_zh(v->status));
    if (rc == 0 && v->has_judgement && v->lag > 0) {
      if (v->has_pct)
        rc = pw_buf_printf(out, "，落后序时进度%.1f个百分点", v->lag);
      else if (v->lag_unit == PW_LAG_UNIT_DAYS)
        rc = pw_buf_printf(out, "，逾期%.0f天", ceil(v->lag));
      else {
        /* A standard says on which side of it the figure is ("低于全省平均分3.7分"). */
        rc = ind->kind != PW_KIND_STANDARD
                 ? pw_buf_printf(out, "，差")
                 : pw_buf_printf(out, "，%s", ind->direction_down ? "高于" : "低于");
        rc = rc < 0 || ind->kind != PW_KIND_STANDARD ? rc : esc(out, ind->standard_label);
        rc = rc < 0 ? rc : esc(out, pw_report_distance(ind, v->lag, d, sizeof(d)));
      }
    }
  }
  if (rc == 0 && v->stale && v->has_value)
    rc = pw_buf_printf(out, "%s数据已%lld天未更新", v->status == PW_STATUS_OK ? "" : "，",
                       stale_days(view, v));
  if (rc == 0 && v->overdue && v->status != PW_STATUS_NO_DATA) {
    rc = v->status == PW_STATUS_OK ? 0 : pw_buf_append(out, "，", strlen("，"));
    rc = rc < 0 ? rc : overdue_text(out, view, v);
  }
  if (rc == 0 && (v->status == PW_STATUS_LAGGING || v->status == PW_STATUS_SEVERE)) {
    /* What the department said of it, under the line (docs/http.md "Dashboard"). */
    struct pw_buf text = {0};
    int overdue = 0;

    rc = explanation_text(view, i, v, &text, &overdue);
    if (rc > 0) {
      rc = pw_buf_printf(out, "<span class=\"why%s\">", overdue ? " overdue" : "");
      rc = rc < 0 ? rc : esc(out, text.data);
      rc = rc < 0 ? rc : pw_buf_printf(out, "</span>");
    }
    pw_buf_free(&text);
    rc = rc < 0 ? rc : 0;
  }
  return rc < 0 ? rc : pw_buf_printf(out, "</li>");
}

/* 需关注, at the top: the severe, the lagging, then the data gaps (no data, no target, stale),
 * each a link to its card. */
static int attention(struct pw_buf *out, const struct pw_view *view) {
  static const char *const heads[] = {"严重滞后", "滞后", "数据缺口"};
  static const char *const ids[] = {"att-severe", "att-lagging", "gaps"};
  int g, i, total = 0, rc = pw_buf_printf(out, "<section id=\"attention\"><h2>需关注</h2>");

  for (g = 0; rc == 0 && g < 3; g++) {
    int n = 0;
    for (i = 0; i < view->conf->n_indicators; i++)
      n += attention_group(&view->verdicts[i]) == g;
    if (n == 0)
      continue;
    total += n;
    rc = pw_buf_printf(out, "<h3 id=\"%s\">%s（%d个）</h3><ul>", ids[g], heads[g], n);
    for (i = 0; rc == 0 && i < view->conf->n_indicators; i++)
      if (attention_group(&view->verdicts[i]) == g)
        rc = attention_item(out, view, i);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</ul>");
  }
  if (rc == 0 && total == 0)
    rc = pw_buf_printf(out, "<p class=\"none\">各项指标均正常，数据齐全</p>");
  return rc < 0 ? rc : pw_buf_printf(out, "</section>\n");
}

/* The domains of the indicators SRC feeds, in configuration order, each once: "幼有善育、病有良医".
 */
static int source_domains(struct pw_buf *out, const struct pw_config *conf,
                          const struct pw_source *src) {
  int d, k, n = 0, rc = 0;

  for (d = 0; rc == 0 && d < conf->n_domains; d++) {
    int feeds = 0;
    for (k = 0; k < src->n_indicators; k++)
      feeds |= conf->indicators[src->indicators[k]].domain == d;
    if (!feeds)
      continue;
    rc = n++ > 0 ? pw_buf_append(out, "、", strlen("、")) : 0;
    rc = rc < 0 ? rc : esc(out, conf->domains[d].name);
  }
  return rc;
}

/* The state of a source in words. Before its first poll has answered: the time left of the
 * schedule's first-poll spread (docs/configuration.md "sources": within min(interval, 10 s) of
 * the start), not an alarm. */
static int source_state(struct pw_buf *out, const struct pw_view *view, const struct pw_source *src,
                        const struct pw_source_health *h) {
  if (h == NULL || h->last_attempt == 0) {
    int64_t spread = src->interval < 10 ? src->interval : 10;
    if (view->uptime >= 0 && view->uptime < spread)
      return pw_buf_printf(out,
                           "<span class=\"wait\" data-state=\"pending\">尚未采集（首次采集在%lld秒"
                           "内）</span>",
                           (long long)(spread - view->uptime));
    return pw_buf_printf(out, "<span class=\"wait\" data-state=\"pending\">首次采集进行中</span>");
  }
  if (h->consecutive_failures == 0)
    return pw_buf_printf(out, "<span data-state=\"up\">正常</span>");
  return pw_buf_printf(out, "<span class=\"bad\" data-state=\"down\">失败（连续%u次）</span>",
                       h->consecutive_failures);
}

static int sources(struct pw_buf *out, const struct pw_view *view) {
  char when[64];
  int i, rc;

  if (view->conf->n_sources == 0)
    return 0;
  rc = pw_buf_printf(out, "<section id=\"sources\"><h2>数据源状态</h2><table><tr><th>数据源</th>"
                          "<th>状态</th><th>最近成功采集</th><th>耗时</th><th>采集/失败次数"
                          "</th><th>最近错误</th></tr>\n");
  for (i = 0; rc == 0 && i < view->conf->n_sources; i++) {
    const struct pw_source *src = &view->conf->sources[i];
    const struct pw_source_health *h = view->health ? view->health[i] : NULL;

    /* By name; without one, by id. Under it, the areas whose figures it brings. */
    rc = pw_buf_printf(out, "<tr data-source=\"%s\"><td><b>", src->id);
    rc = rc < 0 ? rc : esc(out, src->name != NULL ? src->name : src->id);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</b><small>");
    rc = rc < 0 ? rc : source_domains(out, view->conf, src);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</small></td><td data-label=\"状态\">");
    rc = rc < 0 ? rc : source_state(out, view, src, h);
    if (h != NULL && h->last_success != 0)
      time_words(h->last_success, when, sizeof(when));
    else
      pw_strlcpy(when, "—", sizeof(when));
    rc = rc < 0 ? rc : pw_buf_printf(out, "</td><td data-label=\"最近成功采集\">%s</td>", when);
    if (h != NULL && h->last_attempt != 0)
      rc = rc < 0
               ? rc
               : pw_buf_printf(out, "<td data-label=\"耗时\">%.0f毫秒</td>", h->last_duration_ms);
    else
      rc = rc < 0 ? rc : pw_buf_printf(out, "<td data-label=\"耗时\">—</td>");
    rc = rc < 0 ? rc
                : pw_buf_printf(out,
                                "<td data-label=\"采集/失败次数\">%llu / %llu</td><td "
                                "data-label=\"最近错误\"%s>",
                                (unsigned long long)(h ? h->polls : 0),
                                (unsigned long long)(h ? h->failures : 0),
                                h && h->last_error[0] ? " class=\"err\"" : "");
    rc = rc < 0 ? rc : esc(out, h && h->last_error[0] ? h->last_error : "—");
    rc = rc < 0 ? rc : pw_buf_printf(out, "</td></tr>\n");
  }
  return rc < 0 ? rc : pw_buf_printf(out, "</table></section>\n");
}

int pw_dashboard_write(struct pw_buf *out, const struct pw_view *view) {
  const char *title = view->conf->briefing.title != NULL && view->conf->briefing.title[0] != '\0'
                          ? view->conf->briefing.title
                          : "公共服务指标监测";
  size_t k;
  char at[64];
  int i, rc;

  time_words(view->now, at, sizeof(at));
  rc = pw_buf_printf(out, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                          "<meta http-equiv=\"refresh\" content=\"60\">"
                          "<link rel=\"icon\" href=\"data:,\"><title>");
  rc = rc < 0 ? rc : esc(out, title);
  rc = rc < 0 ? rc : pw_buf_printf(out, "</title><style>%s", css);
  rc = rc < 0 ? rc : filter_css(out);
  rc = rc < 0 ? rc : pw_buf_printf(out, "</style></head><body>\n");
  /* The filter's targets come first: the rules reach header and main as later siblings. */
  for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++)
    rc = pw_buf_printf(out, "<i class=\"ft\" id=\"f-%s\"></i>", pw_status_name(all_status[k]));
  rc = rc < 0 ? rc : pw_buf_printf(out, "\n<header><h1>");
  rc = rc < 0 ? rc : esc(out, title);
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "</h1><p>截至%s，共%d个指标，每分钟自动刷新</p>", at,
                              view->conf->n_indicators);
  rc = rc < 0 ? rc : summary(out, view);
  /* Relative, like every link of the page (docs/http.md): the briefings' index. */
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "<a class=\"brief\" href=\"briefings/\">查看最新周报 ›</a>"
                                   "</header>\n<nav><a href=\"#attention\">需关注</a>");
  for (i = 0; rc == 0 && i < view->conf->n_domains; i++) {
    rc = pw_buf_printf(out, "<a href=\"#area-%s\">", view->conf->domains[i].id);
    rc = rc < 0 ? rc : esc(out, view->conf->domains[i].name);
    rc = rc < 0 ? rc : pw_buf_append(out, "</a>", 4);
  }
  rc = rc < 0
           ? rc
           : pw_buf_printf(out, "%s</nav>\n<main>\n",
                           view->conf->n_sources > 0 ? "<a href=\"#sources\">数据源状态</a>" : "");
  rc = rc < 0 ? rc : attention(out, view);
  rc = rc < 0 ? rc : filter_notes(out);
  for (i = 0; rc == 0 && i < view->conf->n_domains; i++)
    rc = area(out, view, i);
  rc = rc < 0 ? rc : sources(out, view);
  return rc < 0 ? rc
                : pw_buf_printf(out,
                                "</main><footer>pacewatch %s · <a href=\"api/v1/status\">JSON</a> "
                                "· <a href=\"metrics\">Prometheus</a></footer></body></html>\n",
                                PW_VERSION);
}
