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

#include "schedule.h"
#include "status.h"
#include "value.h"

static const enum pw_status all_status[] = {PW_STATUS_OK, PW_STATUS_LAGGING, PW_STATUS_SEVERE,
                                            PW_STATUS_NO_DATA, PW_STATUS_NO_TARGET};

static const char *const area_numbers[] = {"一", "二", "三", "四", "五",   "六",
                                           "七", "八", "九", "十", "十一", "十二"};

static const char css[] =
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"Noto Sans SC\",\"Microsoft YaHei\","
    "sans-serif;background:#f4f5f7;color:#222}"
    "header{background:#1f3b63;color:#fff;padding:16px 24px}"
    "header h1{margin:0 0 4px;font-size:22px}header p{margin:0;opacity:.85;font-size:13px}"
    ".summary{display:flex;flex-wrap:wrap;gap:8px;margin-top:10px}"
    ".chip{background:#fff;color:#222;border-radius:14px;padding:3px 12px;font-size:14px}"
    "nav{padding:8px 24px;background:#e8ecf2;font-size:14px}nav a{margin-right:14px;"
    "color:#1f3b63}"
    "main{padding:8px 24px 24px}section{margin-top:18px}"
    "h2{font-size:18px;border-left:4px solid #1f3b63;padding-left:8px}"
    "h2 small{font-weight:normal;color:#555;font-size:13px;margin-left:8px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}"
    ".card{background:#fff;border-radius:6px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.12)}"
    ".card h3{display:inline;font-size:15px;margin:0}"
    ".dept{float:right;color:#666;font-size:12px}"
    ".light{display:inline-block;width:14px;height:14px;border-radius:50%;margin-right:6px;"
    "vertical-align:-2px;border:1px solid rgba(0,0,0,.2)}"
    ".s-ok{background:#2e7d32}.s-lagging{background:#f0a500}.s-severe{background:#c62828}"
    ".s-no_data{background:#9e9e9e}.s-no_target{background:#607d8b}"
    ".fig{font-size:20px;margin:8px 0 4px}.fig small{font-size:13px;color:#555;margin-left:4px}"
    ".bar{position:relative;height:8px;background:#e3e6ea;border-radius:4px;margin:6px 0}"
    ".bar .fill{position:absolute;left:0;top:0;bottom:0;border-radius:4px}"
    ".bar .pace{position:absolute;top:-3px;bottom:-3px;width:2px;background:#222}"
    ".note{font-size:13px;color:#333;margin:4px 0}.stale{color:#b71c1c}"
    ".card img{display:block;width:100%;max-width:400px;height:auto;margin-top:6px}"
    "table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}"
    "th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left}th{background:#e8ecf2}"
    ".err{color:#b71c1c}footer{padding:12px 24px;font-size:12px;color:#666}";

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

/* "4月1日" for an as_of: an as_of is the end of the day it reports, so one second earlier. */
static void day_text(int64_t as_of, char *buf, size_t size) {
  time_t t = (time_t)(as_of - 1);
  struct tm tm;

  localtime_r(&t, &tm);
  snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void time_text(int64_t at, char *buf, size_t size) {
  time_t t = (time_t)at;
  struct tm tm;

  localtime_r(&t, &tm);
  snprintf(buf, size, "%d年%d月%d日 %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min);
}

static const char *department_name(const struct pw_config *conf, const struct pw_indicator *ind) {
  return ind->department >= 0 ? conf->departments[ind->department].name : "";
}

/* The sentence under the figure: completion against the pace, or the distance to a standard. */
static int judgement_note(struct pw_buf *out, const struct pw_indicator *ind,
                          const struct pw_verdict *v) {
  char a[48], b[48];

  if (v->status == PW_STATUS_NO_DATA)
    return pw_buf_printf(out, "<p class=\"note\">数据未公布</p>");
  if (v->status == PW_STATUS_NO_TARGET)
    return pw_buf_printf(out, "<p class=\"note\">%d年目标任务未下达</p>", v->year);
  if (!v->has_judgement)
    return 0;
  if (v->has_pct) {
    int rc = pw_buf_printf(out, "<p class=\"note\">完成率%.1f%%，序时进度%.1f%%", v->completion_pct,
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
  pw_value_format_zh(v->expected, a, sizeof(a));
  pw_value_format_zh(fabs(v->lag), b, sizeof(b));
  {
    int rc =
        pw_buf_printf(out, "<p class=\"note\">%s", ind->kind == PW_KIND_STANDARD ? "标准" : "应达");
    rc = rc < 0 ? rc : pw_buf_append(out, a, strlen(a));
    rc = rc < 0 ? rc : esc(out, ind->unit);
    if (rc == 0 && v->lag > 0) {
      rc = pw_buf_printf(out, "，差%s", b);
      rc = rc < 0 ? rc : esc(out, ind->unit);
    }
    return rc < 0 ? rc : pw_buf_append(out, "</p>", 4);
  }
}

static int card(struct pw_buf *out, const struct pw_view *view, int i) {
  const struct pw_indicator *ind = &view->conf->indicators[i];
  const struct pw_verdict *v = &view->verdicts[i];
  const char *st = pw_status_name(v->status);
  char num[48], day[48];
  int rc;

  rc = pw_buf_printf(out, "<article class=\"card\" data-indicator=\"%s\" data-status=\"%s\">",
                     ind->id, st);
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "<i class=\"light s-%s\" title=\"%s\"></i><h3>", st,
                              pw_status_label_zh(v->status));
  rc = rc < 0 ? rc : esc(out, ind->name);
  rc = rc < 0 ? rc : pw_buf_append(out, "</h3><span class=\"dept\">", 24);
  rc = rc < 0 ? rc : esc(out, department_name(view->conf, ind));
  rc = rc < 0 ? rc : pw_buf_append(out, "</span>", 7);
  if (rc == 0 && v->has_value) {
    day_text(v->as_of, day, sizeof(day));
    if (ind->kind == PW_KIND_MILESTONE && v->stage >= 0 && v->stage < ind->stages.n) {
      rc = pw_buf_printf(out, "<div class=\"fig\">");
      rc = rc < 0 ? rc : esc(out, ind->stages.items[v->stage]);
      rc = rc < 0 ? rc : pw_buf_printf(out, "<small>");
    } else {
      rc = pw_buf_printf(out, "<div class=\"fig\">%s<small>",
                         pw_value_format_zh(v->value, num, sizeof(num)));
      rc = rc < 0 ? rc : esc(out, ind->unit);
    }
    rc = rc < 0 ? rc : pw_buf_printf(out, " 截至%s</small></div>", day);
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
    rc = pw_buf_printf(out, "<p class=\"note stale\">数据已%lld天未更新</p>",
                       (long long)((view->now - v->as_of) / 86400));
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "<a href=\"graphs/%s.png\"><img src=\"graphs/%s.png?size=small\" "
                              "width=\"400\" height=\"150\" loading=\"lazy\" alt=\"",
                              ind->id, ind->id);
  rc = rc < 0 ? rc : esc(out, ind->name);
  return rc < 0 ? rc : pw_buf_printf(out, "趋势图\"></a></article>\n");
}

static int summary(struct pw_buf *out, const struct pw_view *view) {
  size_t k;
  int i, rc = pw_buf_printf(out, "<div class=\"summary\">");

  for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++) {
    int n = 0;
    for (i = 0; i < view->conf->n_indicators; i++)
      n += view->verdicts[i].status == all_status[k];
    rc = pw_buf_printf(out,
                       "<span class=\"chip\" data-status=\"%s\" data-count=\"%d\"><i "
                       "class=\"light s-%s\"></i>%s %d</span>",
                       pw_status_name(all_status[k]), n, pw_status_name(all_status[k]),
                       pw_status_label_zh(all_status[k]), n);
  }
  return rc < 0 ? rc : pw_buf_append(out, "</div>", 6);
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

static int gaps(struct pw_buf *out, const struct pw_view *view) {
  int i, n = 0, rc = pw_buf_printf(out, "<section id=\"gaps\"><h2>数据缺口</h2><ul>");

  for (i = 0; rc == 0 && i < view->conf->n_indicators; i++) {
    const struct pw_indicator *ind = &view->conf->indicators[i];
    const struct pw_verdict *v = &view->verdicts[i];
    const char *what = v->status == PW_STATUS_NO_DATA     ? "数据未公布"
                       : v->status == PW_STATUS_NO_TARGET ? "目标任务未下达"
                       : v->stale                         ? "数据超期未更新"
                                                          : NULL;
    if (what == NULL)
      continue;
    n++;
    rc = pw_buf_printf(out, "<li data-indicator=\"%s\">", ind->id);
    rc = rc < 0 ? rc : esc(out, ind->name);
    if (rc == 0 && ind->department >= 0) {
      rc = pw_buf_append(out, "（", strlen("（"));
      rc = rc < 0 ? rc : esc(out, department_name(view->conf, ind));
      rc = rc < 0 ? rc : pw_buf_append(out, "）", strlen("）"));
    }
    rc = rc < 0 ? rc : pw_buf_printf(out, "：%s</li>", what);
  }
  if (rc == 0 && n == 0)
    rc = pw_buf_printf(out, "<li>无</li>");
  return rc < 0 ? rc : pw_buf_printf(out, "</ul></section>\n");
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
    const struct pw_source_health *h = view->health ? view->health[i] : NULL;
    const char *state = h == NULL || h->last_attempt == 0 ? "未采集"
                        : h->consecutive_failures == 0    ? "正常"
                                                          : "失败";
    rc = pw_buf_printf(out, "<tr data-source=\"%s\"><td>%s</td><td>%s", view->conf->sources[i].id,
                       view->conf->sources[i].id, state);
    if (rc == 0 && h != NULL && h->consecutive_failures > 0)
      rc = pw_buf_printf(out, "（连续%u次）", h->consecutive_failures);
    if (h != NULL && h->last_success != 0)
      time_text(h->last_success, when, sizeof(when));
    else
      pw_strlcpy(when, "—", sizeof(when));
    rc = rc < 0 ? rc : pw_buf_printf(out, "</td><td>%s</td>", when);
    if (h != NULL && h->last_attempt != 0)
      rc = rc < 0 ? rc : pw_buf_printf(out, "<td>%.0f毫秒</td>", h->last_duration_ms);
    else
      rc = rc < 0 ? rc : pw_buf_printf(out, "<td>—</td>");
    rc = rc < 0 ? rc
                : pw_buf_printf(out, "<td>%llu / %llu</td><td class=\"err\">",
                                (unsigned long long)(h ? h->polls : 0),
                                (unsigned long long)(h ? h->failures : 0));
    rc = rc < 0 ? rc : esc(out, h ? h->last_error : "");
    rc = rc < 0 ? rc : pw_buf_printf(out, "</td></tr>\n");
  }
  return rc < 0 ? rc : pw_buf_printf(out, "</table></section>\n");
}

int pw_dashboard_write(struct pw_buf *out, const struct pw_view *view) {
  char at[64];
  int i, rc;

  time_text(view->now, at, sizeof(at));
  rc = pw_buf_printf(out,
                     "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                     "<meta http-equiv=\"refresh\" content=\"60\">"
                     "<title>公共服务指标监测</title><style>%s</style></head><body>\n"
                     "<header><h1>公共服务指标监测</h1><p>截至%s（",
                     css, at);
  rc = rc < 0 ? rc : esc(out, view->conf->daemon.timezone);
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "），共%d个指标，每分钟自动刷新</p>", view->conf->n_indicators);
  rc = rc < 0 ? rc : summary(out, view);
  rc = rc < 0 ? rc : pw_buf_printf(out, "</header>\n<nav>");
  for (i = 0; rc == 0 && i < view->conf->n_domains; i++) {
    rc = pw_buf_printf(out, "<a href=\"#area-%s\">", view->conf->domains[i].id);
    rc = rc < 0 ? rc : esc(out, view->conf->domains[i].name);
    rc = rc < 0 ? rc : pw_buf_append(out, "</a>", 4);
  }
  rc = rc < 0
           ? rc
           : pw_buf_printf(out, "<a href=\"#gaps\">数据缺口</a>%s</nav>\n<main>\n",
                           view->conf->n_sources > 0 ? "<a href=\"#sources\">数据源状态</a>" : "");
  for (i = 0; rc == 0 && i < view->conf->n_domains; i++)
    rc = area(out, view, i);
  rc = rc < 0 ? rc : gaps(out, view);
  rc = rc < 0 ? rc : sources(out, view);
  return rc < 0 ? rc
                : pw_buf_printf(out,
                                "</main><footer>pacewatch %s · <a href=\"api/v1/status\">JSON</a> "
                                "· <a href=\"metrics\">Prometheus</a></footer></body></html>\n",
                                PW_VERSION);
}
