/*
 * status: turns verdicts into the section 5 JSON document and into the table people read in a
 * terminal. The same verdict code serves the CLI, the HTTP API and the briefing.
 */
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "value.h"

void pw_status_judge(const struct pw_config *conf, const struct pw_series *series, int ind,
                     int64_t at, struct pw_verdict *out) {
  const struct pw_series *s = &series[ind];

  pw_judge(&conf->indicators[ind], s->samples, s->n, &conf->cal, at, out);
}

const char *pw_status_note(const struct pw_series *s, const struct pw_verdict *v, int64_t at) {
  size_t i;

  if (!v->has_value || s->n == 0)
    return NULL;
  for (i = s->n; i-- > 0;)
    if (s->samples[i].as_of == v->as_of && pw_judge_effective(s->samples, s->n, i, at))
      return s->samples[i].note;
  return NULL;
}

json_t *pw_status_number(double v) {
  if (!isfinite(v))
    return json_null();
  if (v == floor(v) && fabs(v) < 9007199254740992.0)
    return json_integer((json_int_t)v);
  return json_real(v);
}

static json_t *opt_number(int has, double v) {
  return has ? pw_status_number(v) : json_null();
}

static json_t *time_json(int64_t t) {
  char buf[40];

  return json_string(pw_calendar_format(t, buf, sizeof(buf)));
}

static const char *lag_unit(const struct pw_indicator *ind, enum pw_lag_unit u) {
  switch (u) {
  case PW_LAG_UNIT_PP:
    return "pp";
  case PW_LAG_UNIT_UNIT:
    return ind->unit;
  case PW_LAG_UNIT_DAYS:
    return "days";
  default:
    return NULL;
  }
}

char *pw_status_due_period(const struct pw_verdict *v, char *buf, size_t size) {
  static const char *const q[] = {"一", "二", "三", "四"};

  if (v->due_months == 3)
    snprintf(buf, size, "%d年%s季度", v->due_year, q[((v->due_month - 1) / 3) & 3]);
  else
    snprintf(buf, size, "%d年%d月", v->due_year, v->due_month);
  return buf;
}

void pw_status_due_day(const struct pw_verdict *v, int *year, int *month, int *day) {
  time_t t = (time_t)(v->due_by - 1);
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  localtime_r(&t, &tm);
  *year = tm.tm_year + 1900;
  *month = tm.tm_mon + 1;
  *day = tm.tm_mday;
}

/* The `due` member (docs/status-json.md): null without a deadline. */
static json_t *due_json(const struct pw_verdict *v) {
  char period[64], by[16];
  int y, m, d;

  if (!v->has_due)
    return json_null();
  pw_status_due_day(v, &y, &m, &d);
  snprintf(by, sizeof(by), "%04d-%02d-%02d", y, m, d);
  return json_pack("{s:s,s:s,s:b}", "by", by, "period",
                   pw_status_due_period(v, period, sizeof(period)), "overdue", v->overdue);
}

json_t *pw_status_verdict_json(const struct pw_config *conf, int idx, const struct pw_verdict *v) {
  const struct pw_indicator *ind = &conf->indicators[idx];
  /* A lag that is no number (a figure near DBL_MAX makes it infinite) is null, and so is its
   * unit: the two are null together (docs/status-json.md). */
  int has_lag = v->has_judgement && isfinite(v->lag);
  const char *unit = has_lag ? lag_unit(ind, v->lag_unit) : NULL;
  json_t *o = json_object();

  if (o == NULL)
    return NULL;
  json_object_set_new(o, "id", json_string(ind->id));
  json_object_set_new(o, "name", json_string(ind->name));
  json_object_set_new(o, "domain", json_string(ind->domain_id));
  json_object_set_new(o, "department",
                      ind->department_id ? json_string(ind->department_id) : json_null());
  json_object_set_new(o, "kind", json_string(pw_kind_name(ind->kind)));
  json_object_set_new(o, "unit", json_string(ind->unit));
  if (ind->published_by != NULL)
    json_object_set_new(o, "published_by", json_string(ind->published_by));
  if (ind->target_from != NULL)
    json_object_set_new(o, "target_from", json_string(ind->target_from));
  json_object_set_new(o, "status", json_string(pw_status_name(v->status)));
  json_object_set_new(o, "stale", json_boolean(v->stale));
  json_object_set_new(o, "due", due_json(v));
  json_object_set_new(o, "value", opt_number(v->has_value, v->value));
  json_object_set_new(o, "as_of", v->has_value ? time_json(v->as_of) : json_null());
  json_object_set_new(o, "target", opt_number(v->has_judgement, v->target));
  json_object_set_new(o, "expected", opt_number(v->has_judgement, v->expected));
  json_object_set_new(o, "completion_pct", opt_number(v->has_pct, v->completion_pct));
  json_object_set_new(o, "pace_pct", opt_number(v->has_pct, v->pace_pct));
  json_object_set_new(o, "lag", opt_number(has_lag, v->lag));
  json_object_set_new(o, "lag_unit", unit ? json_string(unit) : json_null());
  json_object_set_new(o, "projection_pct", opt_number(v->has_projection, v->projection_pct));
  json_object_set_new(o, "stage",
                      v->stage >= 0 && v->stage < ind->stages.n
                          ? json_string(ind->stages.items[v->stage])
                          : json_null());
  return o;
}

const struct pw_explanation *pw_status_explanation(const struct pw_series *s) {
  return s->n_explanations > 0 ? &s->explanations[s->n_explanations - 1] : NULL;
}

int pw_status_catch_up_overdue(const struct pw_explanation *e, const struct pw_verdict *v,
                               int64_t at) {
  int y, m, d;

  if (e->catch_up[0] == '\0' || (v->status != PW_STATUS_LAGGING && v->status != PW_STATUS_SEVERE) ||
      sscanf(e->catch_up, "%4d-%2d-%2d", &y, &m, &d) != 3)
    return 0;
  return at >= pw_calendar_day_end(y, m, d);
}

json_t *pw_status_explanation_json(const struct pw_explanation *e, const struct pw_verdict *v,
                                   int64_t at) {
  if (e == NULL)
    return json_null();
  return json_pack("{s:s,s:s,s:s?,s:s,s:o,s:o,s:b}", "reason", e->reason, "measures", e->measures,
                   "catch_up", e->catch_up[0] ? e->catch_up : NULL, "source", e->source, "at",
                   time_json(e->at), "as_of", time_json(e->as_of), "overdue",
                   pw_status_catch_up_overdue(e, v, at));
}

json_t *pw_status_json(const struct pw_config *conf, const struct pw_series *series, int64_t at) {
  json_t *doc = json_object(), *list = json_array();
  int i;

  if (doc == NULL || list == NULL) {
    json_decref(doc);
    json_decref(list);
    return NULL;
  }
  json_object_set_new(doc, "at", time_json(at));
  for (i = 0; i < conf->n_indicators; i++) {
    struct pw_verdict v;
    const char *note;
    json_t *o;
    pw_status_judge(conf, series, i, at, &v);
    o = pw_status_verdict_json(conf, i, &v);
    note = pw_status_note(&series[i], &v, at);
    if (o != NULL) {
      json_object_set_new(o, "note", note ? json_string(note) : json_null());
      json_object_set_new(o, "explanation",
                          pw_status_explanation_json(pw_status_explanation(&series[i]), &v, at));
    }
    json_array_append_new(list, o);
  }
  json_object_set_new(doc, "indicators", list);
  return doc;
}

/* Pads S with spaces to display width W (East Asian wide characters count two). */
static void put_cell(FILE *out, const char *s, int w, int right) {
  int pad = w - pw_utf8_width(s);

  if (right)
    for (; pad > 0; pad--)
      fputc(' ', out);
  fputs(s, out);
  if (!right)
    for (; pad > 0; pad--)
      fputc(' ', out);
}

/* A judged figure for the table: "-" when absent, a stage name for milestones, else the
 * figure in 万/亿 as people read it. */
static char *cell_figure(const struct pw_indicator *ind, int has, double v, int stage) {
  char buf[64];

  if (!has)
    return strdup("-");
  if (stage && ind->kind == PW_KIND_MILESTONE && v >= 0 && v < ind->stages.n)
    return strdup(ind->stages.items[(int)v]);
  return strdup(pw_value_format_zh(v, buf, sizeof(buf)));
}

static char *cell_pct(int has, double v) {
  char buf[32];

  if (!has)
    return strdup("-");
  snprintf(buf, sizeof(buf), "%.1f", v);
  return strdup(buf);
}

enum { COLS = 9 };

void pw_status_table(FILE *out, const struct pw_config *conf, const struct pw_series *series,
                     int64_t at, int color) {
  static const char *const head[COLS] = {"指标",     "状态",  "数值",  "截至", "目标",
                                         "序时预期", "完成%", "序时%", "滞后"};
  static const int right[COLS] = {0, 0, 1, 0, 1, 1, 1, 1, 1};
  static const char *const colors[] = {"\033[32m", "\033[33m", "\033[31m", "\033[90m", "\033[90m"};
  int width[COLS];
  char ***cells;
  struct pw_verdict *vs;
  char buf[64];
  int i, k, d, n = conf->n_indicators;

  cells = calloc((size_t)n + 1, sizeof(*cells));
  vs = calloc((size_t)n + 1, sizeof(*vs));
  if (cells == NULL || vs == NULL) {
    free(cells);
    free(vs);
    return;
  }
  for (k = 0; k < COLS; k++)
    width[k] = pw_utf8_width(head[k]);
  for (i = 0; i < n; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    struct pw_verdict *v = &vs[i];
    char status[64];

    pw_status_judge(conf, series, i, at, v);
    cells[i] = calloc(COLS, sizeof(char *));
    if (cells[i] == NULL)
      continue;
    snprintf(status, sizeof(status), "%s%s", pw_status_label_zh(v->status),
             v->overdue ? "(逾期未报)"
             : v->stale ? "(陈旧)"
                        : "");
    cells[i][0] = strdup(ind->name);
    cells[i][1] = strdup(status);
    if (v->has_value && ind->kind == PW_KIND_MILESTONE) {
      cells[i][2] = cell_figure(ind, 1, v->value, 1);
    } else if (v->has_value) {
      char num[48];
      snprintf(buf, sizeof(buf), "%s%s", pw_value_format_zh(v->value, num, sizeof(num)), ind->unit);
      cells[i][2] = strdup(buf);
    } else {
      cells[i][2] = strdup("-");
    }
    if (v->has_value) {
      pw_calendar_format(v->as_of - 1, buf, sizeof(buf));
      buf[10] = '\0'; /* the day the figure is "as of": as_of is the end of that day */
    } else {
      snprintf(buf, sizeof(buf), "-");
    }
    cells[i][3] = strdup(buf);
    cells[i][4] = cell_figure(ind, v->has_judgement, v->target, 1);
    cells[i][5] = cell_figure(ind, v->has_judgement, v->expected, 1);
    cells[i][6] = cell_pct(v->has_pct, v->completion_pct);
    cells[i][7] = cell_pct(v->has_pct, v->pace_pct);
    if (v->has_judgement && isfinite(v->lag))
      snprintf(buf, sizeof(buf), "%.2f%s", v->lag,
               v->lag_unit == PW_LAG_UNIT_PP     ? "pp"
               : v->lag_unit == PW_LAG_UNIT_DAYS ? "天"
                                                 : ind->unit);
    else
      snprintf(buf, sizeof(buf), "-");
    cells[i][8] = strdup(buf);
    for (k = 0; k < COLS; k++)
      if (cells[i][k] && pw_utf8_width(cells[i][k]) > width[k])
        width[k] = pw_utf8_width(cells[i][k]);
  }

  pw_calendar_format(at, buf, sizeof(buf));
  fprintf(out, "评估时点 %s\n", buf);
  for (d = 0; d < conf->n_domains; d++) {
    int shown = 0;
    for (i = 0; i < n; i++) {
      if (conf->indicators[i].domain != d || cells[i] == NULL)
        continue;
      if (!shown) {
        fprintf(out, "\n【%s】\n", conf->domains[d].name);
        for (k = 0; k < COLS; k++) {
          put_cell(out, head[k], width[k], right[k]);
          fputs(k + 1 < COLS ? "  " : "\n", out);
        }
        shown = 1;
      }
      for (k = 0; k < COLS; k++) {
        int colored = color && k == 1;
        if (colored)
          fputs(colors[vs[i].status], out);
        put_cell(out, cells[i][k] ? cells[i][k] : "?", width[k], right[k]);
        if (colored)
          fputs("\033[0m", out);
        fputs(k + 1 < COLS ? "  " : "\n", out);
      }
    }
  }
  for (i = 0; i < n; i++) {
    if (cells[i] == NULL)
      continue;
    for (k = 0; k < COLS; k++)
      free(cells[i][k]);
    free(cells[i]);
  }
  free(cells);
  free(vs);
}
