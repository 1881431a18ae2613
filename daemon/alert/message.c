/*
 * message: the words of an indicator's alert (docs/alerts.md "What an alert says"), built from
 * the briefing's wording functions so that an alert and the weekly briefing never round or date
 * one figure two ways.
 */
#include "message.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "status.h"

#define DAY 86400

const char *pw_alert_programme(const struct pw_config *conf) {
  if (conf->briefing.title_set && conf->briefing.title != NULL && conf->briefing.title[0])
    return conf->briefing.title;
  return "公共服务指标";
}

/* An amount people owe, said with "约": whole when it is not small, three significant digits
 * from a thousand up (13380 -> 13400, 152300 -> 15.2万), then worded as the briefing words it. */
static char *about(const struct pw_indicator *ind, double x, char *buf, size_t size) {
  double a = fabs(x);

  if (a >= 1000) {
    double scale = pow(10, floor(log10(a)) - 2);
    a = round(a / scale) * scale;
  } else if (a >= 10) {
    a = round(a);
  }
  return pw_report_figure(ind, a, buf, size);
}

/* The gap of a lag in its own unit, for "较上次提醒扩大…". */
static char *gap_words(const struct pw_indicator *ind, const struct pw_verdict *v, double d,
                       char *buf, size_t size) {
  char num[48];

  if (v->lag_unit == PW_LAG_UNIT_PP)
    snprintf(buf, size, "%s个百分点", pw_report_pct(fabs(d), num, sizeof(num)));
  else if (v->lag_unit == PW_LAG_UNIT_DAYS)
    snprintf(buf, size, "%.0f天", fabs(d));
  else
    pw_report_distance(ind, d, buf, size);
  return buf;
}

/* Whether a change of the gap is too small to mention (it rounds to nothing as worded). */
static int same_gap(const struct pw_verdict *v, double d) {
  return v->lag_unit == PW_LAG_UNIT_PP ? fabs(d) < 0.05 : fabs(d) < 0.005;
}

static int lag_summary(const struct pw_config *conf, const struct pw_indicator *ind,
                       const struct pw_verdict *v, struct pw_buf *out) {
  const struct pw_target *tg = pw_config_target(ind, v->year);
  const char *label = ind->standard_label && ind->standard_label[0] ? ind->standard_label : "标准";
  char day[48], fig[160], t[160], p1[32], p2[32], d[160];
  int rc = 0;

  (void)conf;
  if (!v->has_value || !v->has_judgement)
    return pw_buf_printf(out, "尚无数据") < 0 ? -ENOMEM : 0;
  pw_report_day(v->as_of, v->year, day, sizeof(day));
  pw_report_figure(ind, v->value, fig, sizeof(fig));
  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    if (ind->kind == PW_KIND_CUMULATIVE && v->has_pct)
      rc = pw_buf_printf(out, "截至%s累计%s，完成年度目标（%s）的%s%%，序时进度%s%%", day, fig,
                         pw_report_figure(ind, v->target, t, sizeof(t)),
                         pw_report_pct(v->completion_pct, p1, sizeof(p1)),
                         pw_report_pct(v->pace_pct, p2, sizeof(p2)));
    else
      rc = pw_buf_printf(out, "截至%s为%s，序时应达%s（年度目标%s）", day, fig,
                         pw_report_figure(ind, v->expected, t, sizeof(t)),
                         pw_report_figure(ind, v->target, d, sizeof(d)));
    if (rc < 0)
      return -ENOMEM;
    if (v->lag_unit == PW_LAG_UNIT_PP && v->lag >= 0.05)
      rc = pw_buf_printf(out, "，落后序时进度%s个百分点，约差%s",
                         pw_report_pct(v->lag, p1, sizeof(p1)),
                         about(ind, v->expected - v->value, d, sizeof(d)));
    else
      rc = pw_buf_printf(out, "，已达到序时进度");
    break;
  case PW_KIND_STANDARD:
    rc = pw_buf_printf(out, "截至%s为%s，%s%s", day, fig, label,
                       pw_report_figure(ind, v->target, t, sizeof(t)));
    if (rc == 0 && v->lag > 0)
      rc = pw_buf_printf(out, "，%s%s%s", ind->direction_down ? "高于" : "低于", label,
                         pw_report_distance(ind, v->lag, d, sizeof(d)));
    else if (rc == 0)
      rc = pw_buf_printf(out, "，已达到%s", label);
    break;
  case PW_KIND_MILESTONE: {
    int e = (int)v->expected;
    rc = pw_buf_printf(out, "截至%s已%s", day, fig);
    if (rc == 0 && v->lag > 0 && tg != NULL && tg->due != NULL && e >= 0 && e < ind->stages.n) {
      pw_report_day(tg->due[e], v->year, t, sizeof(t));
      rc = pw_buf_printf(out, "，按计划应于%s前%s，已逾期%.0f天", t, ind->stages.items[e],
                         ceil(v->lag));
    } else if (rc == 0) {
      rc = pw_buf_printf(out, "，已无逾期环节");
    }
    break;
  }
  }
  return rc < 0 ? -ENOMEM : 0;
}

static int stale_summary(const struct pw_config *conf, const struct pw_indicator *ind,
                         const struct pw_alert_facts *f, struct pw_buf *out) {
  const struct pw_sample *s = f->latest;
  int year = pw_calendar_year_of(&conf->cal, f->now);
  char day[48], fig[160];
  int rc;

  if (!f->firing) {
    if (f->v->has_value)
      rc = pw_buf_printf(out, "数据已更新，截至%s为%s",
                         pw_report_day(f->v->as_of, year, day, sizeof(day)),
                         pw_report_figure(ind, f->v->value, fig, sizeof(fig)));
    else if (s != NULL)
      rc = pw_buf_printf(out, "数据已更新，截至%s为%s",
                         pw_report_day(s->as_of, year, day, sizeof(day)),
                         pw_report_figure(ind, s->value, fig, sizeof(fig)));
    else
      rc = pw_buf_printf(out, "数据已更新");
  } else if (s != NULL) {
    rc = pw_buf_printf(out, "最新数据截至%s（%s），已超过%lld天未更新",
                       pw_report_day(s->as_of, year, day, sizeof(day)),
                       pw_report_figure(ind, s->value, fig, sizeof(fig)),
                       (long long)((f->now - s->as_of) / DAY));
  } else {
    rc = pw_buf_printf(out, "本年度尚无数据");
  }
  if (rc == 0 && f->firing && ind->published_by != NULL && ind->published_by[0])
    rc = pw_buf_printf(out, "（待%s公布）", ind->published_by);
  return rc < 0 ? -ENOMEM : 0;
}

/* A reporting deadline (docs/alerts.md): the reminder "县卫健局：请于4月5日前报送2024年3月的
 * 「健康体检人数」数据", the overdue "2024年3月数据逾期未报，应于4月5日前报送，已逾期3天", and its
 * resolution "数据已报送，截至3月底为…". */
static int due_summary(const struct pw_config *conf, const struct pw_indicator *ind,
                       const struct pw_alert_facts *f, struct pw_buf *out) {
  const struct pw_verdict *v = f->v;
  const struct pw_sample *s = f->latest;
  int year = pw_calendar_year_of(&conf->cal, f->now);
  char day[48], period[64], fig[160];
  int rc;

  if (!f->firing) {
    if (v->has_value)
      rc = pw_buf_printf(out, "数据已报送，截至%s为%s",
                         pw_report_day(v->as_of, year, day, sizeof(day)),
                         pw_report_figure(ind, v->value, fig, sizeof(fig)));
    else if (s != NULL)
      rc = pw_buf_printf(out, "数据已报送，截至%s为%s",
                         pw_report_day(s->as_of, year, day, sizeof(day)),
                         pw_report_figure(ind, s->value, fig, sizeof(fig)));
    else
      rc = pw_buf_printf(out, "数据已报送");
    return rc < 0 ? -ENOMEM : 0;
  }
  if (!v->has_due)
    return 0;
  pw_report_day(v->due_by, year, day, sizeof(day));
  pw_status_due_period(v, period, sizeof(period));
  if (f->cond == PW_COND_REMIND) {
    const struct pw_department *dep =
        ind->department >= 0 ? &conf->departments[ind->department] : NULL;
    rc = pw_buf_printf(out, "%s%s请于%s前报送%s的「%s」数据", dep ? dep->name : "", dep ? "：" : "",
                       day, period, ind->name);
  } else {
    rc = pw_buf_printf(out, "%s数据逾期未报，应于%s前报送", period, day);
    if (rc == 0 && f->now - v->due_by >= DAY)
      rc = pw_buf_printf(out, "，已逾期%lld天", (long long)((f->now - v->due_by) / DAY));
  }
  return rc < 0 ? -ENOMEM : 0;
}

/* "自4月30日起滞后，已持续3天，差距较上次提醒扩大0.5个百分点"; a resolution: "此前滞后21天". */
static int lag_trend(const struct pw_config *conf, const struct pw_indicator *ind,
                     const struct pw_alert_facts *f, struct pw_buf *out) {
  const struct pw_verdict *v = f->v;
  int year = pw_calendar_year_of(&conf->cal, f->now);
  int64_t held = f->now - f->since;
  char day[48], g[160];
  int rc = 0;

  if (f->since <= 0)
    return 0;
  if (!f->firing) {
    if (held < DAY)
      return pw_buf_printf(out, "此前滞后不到1天") < 0 ? -ENOMEM : 0;
    return pw_buf_printf(out, "此前滞后%lld天", (long long)((held + DAY - 1) / DAY)) < 0 ? -ENOMEM
                                                                                         : 0;
  }
  /* pw_report_day names the day holding T - 1 s. */
  rc = pw_buf_printf(out, "自%s起滞后", pw_report_day(f->since + 1, year, day, sizeof(day)));
  if (rc == 0 && held >= DAY)
    rc = pw_buf_printf(out, "，已持续%lld天", (long long)(held / DAY));
  if (rc == 0 && f->has_last_gap && v->has_judgement && ind->kind != PW_KIND_MILESTONE) {
    double d = v->lag - f->last_gap;
    if (same_gap(v, d))
      rc = pw_buf_printf(out, "，差距与上次提醒持平");
    else
      rc = pw_buf_printf(out, "，差距较上次提醒%s%s", d > 0 ? "扩大" : "缩小",
                         gap_words(ind, v, d, g, sizeof(g)));
  }
  return rc < 0 ? -ENOMEM : 0;
}

int pw_alert_words(const struct pw_config *conf, const struct pw_alert_facts *f,
                   struct pw_buf *summary, struct pw_buf *trend, struct pw_buf *need) {
  const struct pw_indicator *ind = &conf->indicators[f->ind];
  const struct pw_verdict *v = f->v;
  const char *label = ind->standard_label && ind->standard_label[0] ? ind->standard_label : "标准";
  char d[160];
  int rc;

  if (f->cond == PW_COND_STALE)
    return stale_summary(conf, ind, f, summary);
  if (f->cond == PW_COND_OVERDUE || f->cond == PW_COND_REMIND)
    return due_summary(conf, ind, f, summary);
  rc = lag_summary(conf, ind, v, summary);
  if (rc == 0)
    rc = lag_trend(conf, ind, f, trend);
  if (rc < 0 || !f->firing || !v->has_value || !v->has_judgement || v->lag <= 0)
    return rc;
  if (ind->kind == PW_KIND_CUMULATIVE || ind->kind == PW_KIND_LEVEL)
    rc = pw_report_need(conf, ind, v, f->now, need) < 0 ? -ENOMEM : 0;
  else if (ind->kind == PW_KIND_STANDARD)
    rc = pw_buf_printf(need, "需%s%s方可达到%s", ind->direction_down ? "降低" : "提高",
                       pw_report_distance(ind, v->lag, d, sizeof(d)), label) < 0
             ? -ENOMEM
             : 0;
  return rc;
}
