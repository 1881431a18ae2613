/*
 * report_words: the pure wording of the briefing (docs/briefing.md "Wording"): dates and periods
 * in words, figures in 万/亿 with their unit, percentages as people round them, and the report's
 * sentence for one indicator's verdict. No I/O; the only state read is the process time zone.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "report.h"
#include "status.h"
#include "value.h"

#define DAY 86400

char *pw_report_pct(double v, char *buf, size_t size) {
  double r = round(v * 10) / 10;

  if (r == 0)
    r = 0; /* no "-0" */
  if (r == floor(r))
    snprintf(buf, size, "%.0f", r);
  else
    snprintf(buf, size, "%.1f", r);
  return buf;
}

/* The local day holding T - 1 s (an as_of of a date alone is the end of that day). */
static int day_of(int64_t t, struct tm *tm) {
  time_t tt = (time_t)(t - 1);

  return localtime_r(&tt, tm) != NULL ? 0 : -1;
}

char *pw_report_day(int64_t t, int year, char *buf, size_t size) {
  struct tm tm, next;
  char y[16] = "";

  if (day_of(t, &tm) < 0 || day_of(t + DAY, &next) < 0) {
    snprintf(buf, size, "?");
    return buf;
  }
  if (tm.tm_year + 1900 != year)
    snprintf(y, sizeof(y), "%d年", tm.tm_year + 1900);
  if (next.tm_mday == 1 && tm.tm_mon == 11 && y[0])
    snprintf(buf, size, "%d年底", tm.tm_year + 1900);
  else if (next.tm_mday == 1)
    snprintf(buf, size, "%s%d月底", y, tm.tm_mon + 1);
  else
    snprintf(buf, size, "%s%d月%d日", y, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

char *pw_report_week(int64_t at, char *buf, size_t size) {
  time_t tt = (time_t)(at - 1);
  struct tm tm;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  /* %G and %V: the ISO 8601 week-year and week, Monday to Sunday. */
  if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%G-W%V", &tm) == 0)
    buf[0] = '\0';
  return buf;
}

char *pw_report_date(int64_t t, char *buf, size_t size) {
  struct tm tm;

  if (day_of(t, &tm) < 0)
    snprintf(buf, size, "?");
  else
    snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

char *pw_report_period(int64_t at, char *buf, size_t size) {
  time_t tt = (time_t)at;
  struct tm t, a, b;
  int64_t monday;

  /* The last whole week (Monday to Sunday) that has ended by AT: the daemon's Monday briefing
   * reports the week just past, and so does one asked for on any later day. */
  if (localtime_r(&tt, &t) == NULL) {
    snprintf(buf, size, "?");
    return buf;
  }
  monday = pw_calendar_local(t.tm_year + 1900, t.tm_mon + 1,
                             t.tm_mday - (t.tm_wday == 0 ? 6 : t.tm_wday - 1), 0, 0, 0);
  if (day_of(monday - 6 * DAY, &a) < 0 || day_of(monday, &b) < 0) {
    snprintf(buf, size, "?");
    return buf;
  }
  if (a.tm_year != b.tm_year)
    snprintf(buf, size, "%d年%d月%d日—%d年%d月%d日", a.tm_year + 1900, a.tm_mon + 1, a.tm_mday,
             b.tm_year + 1900, b.tm_mon + 1, b.tm_mday);
  else if (a.tm_mon != b.tm_mon)
    snprintf(buf, size, "%d年%d月%d日—%d月%d日", a.tm_year + 1900, a.tm_mon + 1, a.tm_mday,
             b.tm_mon + 1, b.tm_mday);
  else
    snprintf(buf, size, "%d年%d月%d日—%d日", a.tm_year + 1900, a.tm_mon + 1, a.tm_mday, b.tm_mday);
  return buf;
}

char *pw_report_figure(const struct pw_indicator *ind, double value, char *buf, size_t size) {
  char num[48];

  if (ind->kind == PW_KIND_MILESTONE && value >= 0 && value < ind->stages.n &&
      value == floor(value))
    snprintf(buf, size, "%s", ind->stages.items[(int)value]);
  else
    snprintf(buf, size, "%s%s", pw_value_format_zh(value, num, sizeof(num)), ind->unit);
  return buf;
}

const char *pw_report_quarter(int q) {
  static const char *const names[] = {"", "一季度", "二季度", "三季度", "四季度"};

  return q >= 1 && q <= 4 ? names[q] : "";
}

char *pw_report_distance(const struct pw_indicator *ind, double d, char *buf, size_t size) {
  char num[48];

  if (strcmp(ind->unit, "%") == 0)
    snprintf(buf, size, "%s个百分点", pw_report_pct(fabs(d), num, sizeof(num)));
  else if (ind->kind == PW_KIND_MILESTONE)
    snprintf(buf, size, "%s%s", pw_value_format_zh(fabs(d), num, sizeof(num)), ind->unit);
  else
    pw_report_figure(ind, fabs(d), buf, size);
  return buf;
}

/* "（暂定）", "（测算）" or "（暂定、测算）" for a target that is not an issued one. */
static const char *target_tag(const struct pw_target *tg) {
  if (tg == NULL)
    return "";
  if (tg->provisional && tg->basis != NULL)
    return "，暂定、测算";
  if (tg->provisional)
    return "，暂定";
  if (tg->basis != NULL)
    return "，测算";
  return "";
}

/* The end of the quarter that holds AT (T[q]), and q; 0 when the calendar has no such year. */
static int quarter_end(const struct pw_config *conf, int year, int64_t at, int64_t *end) {
  int64_t T[5];
  int q;

  if (pw_calendar_bounds(&conf->cal, year, T) < 0)
    return 0;
  for (q = 1; q <= 4; q++)
    if (at <= T[q]) {
      *end = T[q];
      return q;
    }
  return 0;
}

int pw_report_need(const struct pw_config *conf, const struct pw_indicator *ind,
                   const struct pw_verdict *v, int64_t at, struct pw_buf *out) {
  struct pw_judge_path p;
  int64_t end = 0;
  int q = quarter_end(conf, v->year, at, &end);
  char day[40], fig[160];
  double due;

  if (q == 0 || !v->has_value || pw_judge_path(ind, &conf->cal, v->year, &p) < 0)
    return 0;
  due = pw_judge_path_at(&p, end);
  /* "约" a whole number when the figure is not small: people do not owe 44.73 fields. */
  if (ind->kind == PW_KIND_CUMULATIVE && due - v->value >= 10)
    due = v->value + ceil(due - v->value);
  pw_report_day(end, v->year, day, sizeof(day));
  if (ind->kind == PW_KIND_CUMULATIVE && due > v->value)
    return pw_buf_printf(out, "需在%s前再完成约%s方可达到%s目标", day,
                         pw_report_figure(ind, due - v->value, fig, sizeof(fig)),
                         pw_report_quarter(q)) < 0
               ? -ENOMEM
               : 1;
  if (ind->kind == PW_KIND_LEVEL)
    return pw_buf_printf(out, "需在%s前%s至%s方可达到%s目标", day,
                         ind->direction_down ? "降低" : "提升",
                         pw_report_figure(ind, due, fig, sizeof(fig)), pw_report_quarter(q)) < 0
               ? -ENOMEM
               : 1;
  return 0;
}

/* What a lagging cumulative or level indicator needs by the end of the current quarter. */
static void need(const struct pw_config *conf, const struct pw_indicator *ind,
                 const struct pw_verdict *v, int64_t at, struct pw_buf *out) {
  struct pw_buf tmp = {NULL, 0, 0, 0};

  if (pw_report_need(conf, ind, v, at, &tmp) > 0)
    pw_buf_printf(out, "，%s", tmp.data);
  pw_buf_free(&tmp);
}

static void judged(const struct pw_config *conf, const struct pw_indicator *ind,
                   const struct pw_verdict *v, int64_t at, struct pw_buf *out) {
  const struct pw_target *tg = pw_config_target(ind, v->year);
  const char *label = ind->standard_label && ind->standard_label[0] ? ind->standard_label : "标准";
  const char *verb = v->status == PW_STATUS_OK ? "达" : "为";
  int behind = v->status == PW_STATUS_LAGGING || v->status == PW_STATUS_SEVERE;
  char day[40], fig[160], t[160], d[64], p1[32], p2[32];

  pw_report_day(v->as_of, v->year, day, sizeof(day));
  pw_report_figure(ind, v->value, fig, sizeof(fig));
  /* A value set once and holding (carry) is dated by when it took effect: "2023年10月起". */
  if (ind->carry && pw_calendar_year_of(&conf->cal, v->as_of) != v->year) {
    struct tm tm;
    if (day_of(v->as_of, &tm) == 0 && tm.tm_mday == 1)
      snprintf(day, sizeof(day), "%d年%d月", tm.tm_year + 1900, tm.tm_mon + 1);
    else
      pw_report_day(v->as_of, v->year, day, sizeof(day));
    pw_buf_printf(out, "%s起%s%s", day, verb, fig);
  } else if (ind->kind == PW_KIND_CUMULATIVE) {
    pw_buf_printf(out, "截至%s，累计%s", day, fig);
  } else if (ind->kind == PW_KIND_MILESTONE) {
    size_t n = strlen(fig);
    /* "已成立创建领导小组", but "目前建设中" for a stage that is a state, not a step. */
    int ongoing = n >= 3 && strcmp(fig + n - 3, "中") == 0;
    pw_buf_printf(out, "截至%s，%s%s", day, ongoing ? "目前" : "已", fig);
  } else {
    pw_buf_printf(out, "截至%s，%s%s", day, verb, fig);
  }

  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL: {
    int64_t end = 0;
    int q = quarter_end(conf, v->year, v->as_of, &end);
    int at_quarter_end =
        q > 0 && end == v->as_of && tg != NULL && tg->has_quarters && tg->quarters[q - 1] != 0;
    if (ind->kind == PW_KIND_CUMULATIVE && at_quarter_end) {
      /* The report's "完成第一季度目标（2600人次）的183.9%". */
      static const char *const nth[] = {"", "第一季度", "第二季度", "第三季度", "第四季度"};
      pw_buf_printf(out, "，完成%s目标（%s%s）的%s%%", nth[q],
                    pw_report_figure(ind, tg->quarters[q - 1], t, sizeof(t)), target_tag(tg),
                    pw_report_pct(v->value / tg->quarters[q - 1] * 100, p1, sizeof(p1)));
    } else if (ind->kind == PW_KIND_CUMULATIVE && v->has_pct) {
      double gap = round(v->completion_pct * 10) / 10 - round(v->pace_pct * 10) / 10;
      pw_buf_printf(out, "，完成年度目标（%s%s）的%s%%，",
                    pw_report_figure(ind, v->target, t, sizeof(t)), target_tag(tg),
                    pw_report_pct(v->completion_pct, p1, sizeof(p1)));
      if (fabs(gap) < 0.05)
        pw_buf_printf(out, "与序时进度（%s%%）持平", pw_report_pct(v->pace_pct, p2, sizeof(p2)));
      else
        pw_buf_printf(out, "%s序时进度（%s%%）%s个百分点", gap > 0 ? "高于" : "低于",
                      pw_report_pct(v->pace_pct, p2, sizeof(p2)),
                      pw_report_pct(fabs(gap), d, sizeof(d)));
    } else if (ind->kind == PW_KIND_LEVEL) {
      /* A level is compared with the value due now, never as a share of an assumed baseline. */
      double diff = v->value - v->expected;
      const char *what = at_quarter_end ? "季度目标值" : "序时目标值";
      pw_report_figure(ind, v->expected, t, sizeof(t));
      if (fabs(diff) < 1e-9)
        pw_buf_printf(out, "，达到%s（%s%s）", what, t, target_tag(tg));
      else
        pw_buf_printf(out, "，%s%s（%s%s）", diff > 0 ? "高于" : "低于", what, t, target_tag(tg));
    }
    if (behind)
      need(conf, ind, v, at, out);
    break;
  }
  case PW_KIND_STANDARD:
    pw_report_figure(ind, v->target, t, sizeof(t));
    if (v->lag <= 0)
      pw_buf_printf(out, "，%s%s（%s%s）", ind->direction_down ? "未超过" : "达到", label, t,
                    target_tag(tg));
    else
      pw_buf_printf(out, "，%s%s%s（%s%s）%s", behind ? "" : "略",
                    ind->direction_down ? "高于" : "低于", label, t, target_tag(tg),
                    pw_report_distance(ind, v->lag, d, sizeof(d)));
    if (behind)
      pw_buf_printf(out, "，需%s%s方可达到%s", ind->direction_down ? "降低" : "提高",
                    pw_report_distance(ind, v->lag, d, sizeof(d)), label);
    break;
  case PW_KIND_MILESTONE: {
    int s = (int)v->value, e = (int)v->expected;
    if (behind && tg != NULL && tg->due != NULL && e >= 0 && e < ind->stages.n) {
      pw_report_day(tg->due[e], v->year, day, sizeof(day));
      pw_buf_printf(out, "，按计划应于%s前%s，已逾期%.0f天", day, ind->stages.items[e],
                    ceil(v->lag));
    } else if (s + 1 < ind->stages.n && tg != NULL && tg->due != NULL && tg->due[s + 1] != 0) {
      pw_report_day(tg->due[s + 1], v->year, day, sizeof(day));
      pw_buf_printf(out, "；计划%s前%s", day, ind->stages.items[s + 1]);
    } else if (s + 1 < ind->stages.n) {
      pw_buf_printf(out, "；下一步：%s", ind->stages.items[s + 1]);
    }
    break;
  }
  }
}

int pw_report_sentence(const struct pw_config *conf, int i, const struct pw_verdict *v,
                       const struct pw_sample *latest, int64_t at, struct pw_buf *out) {
  const struct pw_indicator *ind = &conf->indicators[i];
  const char *note = NULL;
  char day[40], fig[160];
  size_t start = out->len;

  if (latest != NULL && (!v->has_value || latest->as_of == v->as_of))
    note = latest->note;
  switch (v->status) {
  case PW_STATUS_NO_DATA:
    if (latest == NULL) {
      /* Never had a figure: say who owes it, not how long it is missing. */
      int q = pw_calendar_quarter_of(&conf->cal, at) - 1;
      if (pw_calendar_year_of(&conf->cal, at) != v->year)
        q = 4;
      if (ind->published_by != NULL && ind->published_by[0])
        pw_buf_printf(out, "%s%s尚未对外公布", q >= 1 ? pw_report_quarter(q) : "本年度",
                      ind->published_by);
      else
        pw_buf_printf(out, "尚无数据");
    } else {
      pw_buf_printf(out, "最新数据为%s（截至%s），本年度数据尚未报送",
                    pw_report_figure(ind, latest->value, fig, sizeof(fig)),
                    pw_report_day(latest->as_of, v->year, day, sizeof(day)));
      if (ind->published_by != NULL && ind->published_by[0])
        pw_buf_printf(out, "（待%s公布）", ind->published_by);
    }
    break;
  case PW_STATUS_NO_TARGET: {
    const struct pw_sample *s = latest;
    if (v->has_value)
      pw_buf_printf(out, "截至%s为%s，", pw_report_day(v->as_of, v->year, day, sizeof(day)),
                    pw_report_figure(ind, v->value, fig, sizeof(fig)));
    else if (s != NULL)
      pw_buf_printf(out, "截至%s为%s，", pw_report_day(s->as_of, v->year, day, sizeof(day)),
                    pw_report_figure(ind, s->value, fig, sizeof(fig)));
    if (ind->target_from != NULL && ind->target_from[0])
      pw_buf_printf(out, "%s对县的任务分解指标尚未下达", ind->target_from);
    else
      pw_buf_printf(out, "未设目标");
    break;
  }
  default:
    if (v->has_value && v->has_judgement)
      judged(conf, ind, v, at, out);
    else
      pw_buf_printf(out, "尚无数据");
  }
  /* Only a judged figure is called out of date; a gap already says what is missing. */
  if (v->stale && latest != NULL && v->status != PW_STATUS_NO_DATA &&
      v->status != PW_STATUS_NO_TARGET)
    pw_buf_printf(out, "，数据已%lld天未更新", (long long)((at - latest->as_of) / DAY));
  pw_buf_printf(out, "。");
  if (note != NULL && note[0]) {
    size_t n = strlen(note);
    pw_buf_printf(out, "%s", note);
    /* A note is a sentence of its own. */
    if (!(n >= 3 && (strcmp(note + n - 3, "。") == 0 || strcmp(note + n - 3, "；") == 0)))
      pw_buf_printf(out, "。");
  }
  if (out->data == NULL || out->len == start)
    return -ENOMEM;
  return 0;
}

/* The name of whoever gave explanation E of IND: the department of a "report:<id>" source,
 * else IND's department, else "责任单位". */
static const char *explainer(const struct pw_config *conf, int ind,
                             const struct pw_explanation *e) {
  const struct pw_indicator *in = &conf->indicators[ind];
  int k;

  if (e->source != NULL && strncmp(e->source, "report:", 7) == 0)
    for (k = 0; k < conf->n_departments; k++)
      if (strcmp(conf->departments[k].id, e->source + 7) == 0)
        return conf->departments[k].name;
  if (in->department >= 0 && in->department < conf->n_departments)
    return conf->departments[in->department].name;
  return "责任单位";
}

/* The length of S without the punctuation and spaces that end it ("。", "；", "，", "！", ".",
 * ";", ","): the sentence around it brings its own. */
static size_t unpunctuated(const char *s) {
  static const char *const marks[] = {"。", "；", "，", "！", "、", ".", ";", ",", "!", " "};
  size_t n = strlen(s), k;
  int cut = 1;

  while (cut && n > 0) {
    cut = 0;
    for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
      size_t m = strlen(marks[k]);
      if (n >= m && memcmp(s + n - m, marks[k], m) == 0) {
        n -= m;
        cut = 1;
        break;
      }
    }
  }
  return n;
}

int pw_report_explanation(const struct pw_config *conf, int ind, const struct pw_explanation *e,
                          int overdue, int year, struct pw_buf *out) {
  const char *reason = e->reason != NULL ? e->reason : "";
  const char *measures = e->measures != NULL ? e->measures : "";
  size_t rn = unpunctuated(reason), mn = unpunctuated(measures);
  int y, m, d, rc;

  rc = pw_buf_printf(out, "%s说明：", explainer(conf, ind, e));
  if (rc == 0 && rn > 0)
    rc = pw_buf_printf(out, "%.*s", (int)rn, reason);
  if (rc == 0 && mn > 0)
    rc = pw_buf_printf(out, "%s措施：%.*s", rn > 0 ? "；" : "", (int)mn, measures);
  if (rc == 0 && sscanf(e->catch_up, "%4d-%2d-%2d", &y, &m, &d) == 3) {
    const char *sep = rn > 0 || mn > 0 ? "；" : "";
    char day[48];
    if (overdue) {
      /* The promised day in full: "原定5月31日前追平", not "5月底". */
      char yy[16] = "";
      if (y != year)
        snprintf(yy, sizeof(yy), "%d年", y);
      rc = pw_buf_printf(out, "%s原定%s%d月%d日前追平，目前仍滞后", sep, yy, m, d);
    } else {
      rc = pw_buf_printf(out, "%s预计%s前追平", sep,
                         pw_report_day(pw_calendar_day_end(y, m, d), year, day, sizeof(day)));
    }
  }
  return rc < 0 ? -ENOMEM : 0;
}

int pw_report_explanation_at(const struct pw_config *conf, int ind, const struct pw_explanation *e,
                             const struct pw_verdict *v, int64_t at, int *passed,
                             struct pw_buf *out) {
  int overdue = pw_status_catch_up_overdue(e, v, at);

  if (passed != NULL)
    *passed = overdue;
  return pw_report_explanation(conf, ind, e, overdue, pw_calendar_year_of(&conf->cal, at), out);
}
