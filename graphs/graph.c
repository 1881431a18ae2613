/*
 * graph: one indicator's trend graph for one year, drawn by librrd's rrd_graph_v to read like the
 * county's report also with one figure a quarter (docs/briefing.md#graphs). The figures are read
 * back from the RRD file (each a dot with its date and value in the legend); everything that
 * belongs to the plan is drawn from the judge's own target path (docs/judgement.md): the pace
 * line E(t) as a CDEF on TIME, the quarter targets as target points, a standard's line, a
 * milestone's due dates, and the projection along the pace's shape. rrd_graph has no text in the
 * plot and no title colour: labels are legends, and the title's status word is coloured with
 * Pango markup. The value axis is planned here (range, 万/亿, round steps), so that nothing falls
 * off it and its labels stay short. Any thread may render: librrd's per-thread error text is
 * cleared before and read after each call, and each librrd call runs under the store lock, as
 * the RRD locking rule of store.h says.
 */
#define PW_LOG_MODULE "graph"
#include "graph.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "calendar.h"
#include "log.h"
#include "report.h"
#include "util.h"
#include "value.h"

/* Every argument of one rrd_graph call lives in one bounded buffer; a configuration whose
 * names or stages would not fit is refused rather than drawn with something cut off. */
#define ARGS_MAX 128
#define ARGS_TEXT 32768

/* Across processes (the CLI drawing while the daemon writes) librrd's fcntl lock makes a read
 * fail at once with "could not lock RRD"; a write takes about a millisecond, so a few short
 * waits get through. */
#define LOCK_TRIES 5
#define LOCK_WAIT_NS (20 * 1000 * 1000L)

/* The placeholder's one archive: daily rows (24 steps of an hour) for a little over a year. */
#define PLACEHOLDER_ROWS 370

/* The most figures one graph marks (the latest ones): twelve a year is the most frequent
 * reporting in practice, and each costs some 60 bytes of arguments. */
#define PW_GRAPH_FIGURES_MAX 40

#define COLOUR_VALUE "#1f4e99"
#define COLOUR_PACE "#8c8c8c"
#define COLOUR_TARGET "#c0392b"

struct graph_args {
  int argc;
  int overflow;
  size_t used;
  size_t off[ARGS_MAX]; /* offsets into text: the buffer is copied for each attempt */
  char text[ARGS_TEXT];
};

/* What the request resolves to for the year shown. */
struct graph_plan {
  const struct pw_indicator *ind;
  const struct pw_target *tg; /* NULL: no (usable) target this year */
  struct pw_judge_path path;  /* the target's path, when TG is not NULL */
  const struct pw_verdict *v; /* may be NULL */
  int year;
  int64_t T[5];
  double A, B;
  int small;
  int rate;           /* the unit is %: a rate, whose natural maximum is 100 */
  int64_t at_clamped; /* AT within the year */
  /* The figures marked, in time order: those reported in the year up to AT, and the verdict's
   * latest (which may be from an earlier year and still hold). */
  int n_fig, n_fig_year;
  int n_joined; /* points of the line joining them (a holding value runs on to AT) */
  int64_t fig_t[PW_GRAPH_FIGURES_MAX];
  double fig_v[PW_GRAPH_FIGURES_MAX];
  /* The value axis, in units of SCALE (1, 1e4 for 万, 1e8 for 亿). */
  double scale, lo, hi, step;
  int decimals;
};

static void args_start(struct graph_args *a) {
  if (a->overflow)
    return;
  if (a->argc >= ARGS_MAX || a->used >= ARGS_TEXT) {
    a->overflow = 1;
    return;
  }
  a->off[a->argc++] = a->used;
  a->text[a->used] = '\0';
}

/* Appends to the argument being built. */
static void args_cat(struct graph_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void args_cat(struct graph_args *a, const char *fmt, ...) {
  size_t room = ARGS_TEXT - a->used;
  va_list ap;
  int n;

  if (a->overflow)
    return;
  va_start(ap, fmt);
  n = vsnprintf(a->text + a->used, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    a->overflow = 1;
    return;
  }
  a->used += (size_t)n;
}

/* Appends text from the configuration to a legend or a file name: rrd_graph splits its
 * elements at colons, so a colon inside the text must be escaped. */
static void args_cat_escaped(struct graph_args *a, const char *s) {
  for (; s != NULL && *s != '\0' && !a->overflow; s++) {
    if (*s == ':')
      args_cat(a, "\\:");
    else
      args_cat(a, "%c", *s);
  }
}

/* Ends the argument being built (keeps its terminating NUL). */
static void args_end(struct graph_args *a) {
  if (a->overflow)
    return;
  if (a->used + 1 > ARGS_TEXT) {
    a->overflow = 1;
    return;
  }
  a->used++;
}

static void args_add(struct graph_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void args_add(struct graph_args *a, const char *fmt, ...) {
  size_t room;
  va_list ap;
  int n;

  args_start(a);
  if (a->overflow)
    return;
  room = ARGS_TEXT - a->used;
  va_start(ap, fmt);
  n = vsnprintf(a->text + a->used, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    a->overflow = 1;
    return;
  }
  a->used += (size_t)n;
  args_end(a);
}

/* Appends text from the configuration to an option (the title, the axis title): librrd reads
 * all text as Pango markup (--pango-markup), so markup characters are escaped. */
static void args_cat_markup(struct graph_args *a, const char *s) {
  for (; s != NULL && *s != '\0' && !a->overflow; s++) {
    if (*s == '&')
      args_cat(a, "&amp;");
    else if (*s == '<')
      args_cat(a, "&lt;");
    else if (*s == '>')
      args_cat(a, "&gt;");
    else
      args_cat(a, "%c", *s);
  }
}

/* Appends text from the configuration to a legend: markup escaped, and colons too, since
 * rrd_graph splits its elements at colons. */
static void args_cat_text(struct graph_args *a, const char *s) {
  for (; s != NULL && *s != '\0' && !a->overflow; s++) {
    if (*s == ':')
      args_cat(a, "\\:");
    else if (*s == '&' || *s == '<' || *s == '>')
      args_cat(a, "%s", *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : "&gt;");
    else
      args_cat(a, "%c", *s);
  }
}

/* The segment from (TA, PA) to (TB, PB) as RPN on `t`. The slope is computed here in double
 * precision so that the expression stays short. */
static void cat_segment(struct graph_args *a, int64_t ta, double pa, int64_t tb, double pb) {
  double slope = (pb - pa) / (double)(tb - ta);

  args_cat(a, "t,%lld,-,%.17g,*,%.17g,+", (long long)ta, slope, pa);
}

/* The judge's target path (E(t), S(t) or the expected stage) as RPN on `t`, the same points
 * with the same rule between them as judge evaluates: a piecewise line takes the first segment
 * whose end is not before t, a step takes the value of the last point reached. */
static void cat_pace(struct graph_args *a, const struct graph_plan *p) {
  const struct pw_judge_path *path = &p->path;
  int64_t t0, t1;
  double v0, v1;
  int k;

  pw_judge_path_point(path, 0, &t0, &v0);
  if (path->n == 1) {
    args_cat(a, "t,POP,%.17g", v0);
    return;
  }
  if (path->shape == PW_PATH_STEP) {
    for (k = path->n - 1; k >= 1; k--) {
      pw_judge_path_point(path, k, &t1, &v1);
      args_cat(a, "t,%lld,GE,%.17g,", (long long)t1, v1);
    }
    args_cat(a, "%.17g", v0);
    for (k = 1; k < path->n; k++)
      args_cat(a, ",IF");
    return;
  }
  for (k = 0; k + 1 < path->n; k++) {
    pw_judge_path_point(path, k + 1, &t1, &v1);
    if (k + 2 < path->n)
      args_cat(a, "t,%lld,LE,", (long long)t1);
    cat_segment(a, t0, v0, t1, v1);
    if (k + 2 < path->n)
      args_cat(a, ",");
    t0 = t1;
    v0 = v1;
  }
  for (k = 2; k < path->n; k++)
    args_cat(a, ",IF");
}

static const char *quarter_zh[4] = {"一季度", "二季度", "三季度", "四季度"};

/* ---- what is drawn ---- */

/* Colours chosen to stay apart when printed in grey: the figures dark, the plan mid-grey and
 * dashed, targets red and hollow; shapes tell them apart where the shade does not. */
#define COLOUR_TEXT "#333333"
#define COLOUR_AXIS "#8c8c8c"
#define COLOUR_GRID "#efefef"
#define COLOUR_MGRID "#dcdcdc"

/* The title's status word, coloured (docs/graphs.md): the only colour in the title. */
static const char *status_colour(enum pw_status s) {
  switch (s) {
  case PW_STATUS_OK:
    return "#2e7d32";
  case PW_STATUS_LAGGING:
    return "#e67e00";
  case PW_STATUS_SEVERE:
    return "#c0392b";
  default:
    return "#777777";
  }
}

/* A marker's half width in seconds and its line width in pixels: a dot some 8 pixels across
 * at either size (a year is 800 or 400 pixels). */
static int64_t marker_half(const struct graph_plan *p) {
  return p->small ? 2 * 86400 : 86400;
}

static int marker_px(const struct graph_plan *p) {
  return p->small ? 6 : 8;
}

/* Where a figure's marker stands: a figure from before the year (a value still holding) at the
 * year's first days, one at the very end a little inside the frame. */
static int64_t marker_at(const struct graph_plan *p, int64_t t) {
  int64_t h = marker_half(p);

  if (t < p->T[0] + h)
    return p->T[0] + h;
  if (t > p->T[4] - h)
    return p->T[4] - h;
  return t;
}

/* Appends to a CDEF the RPN of a set of dots: VALUE[i] (scaled) within the marker's width of
 * T[i], unknown elsewhere. */
static void cat_dots(struct graph_args *a, const struct graph_plan *p, const int64_t *t,
                     const double *value, int n) {
  int64_t h = marker_half(p);
  int i;

  if (n == 0) {
    args_cat(a, "t,POP,UNKN");
    return;
  }
  for (i = 0; i < n; i++) {
    int64_t c = marker_at(p, t[i]);
    args_cat(a, "t,%lld,GE,t,%lld,LE,*,%.17g,", (long long)(c - h), (long long)(c + h),
             value[i] / p->scale);
  }
  args_cat(a, "UNKN");
  for (i = 0; i < n; i++)
    args_cat(a, ",IF");
}

/* A figure of the indicator for a legend, as the briefing writes it (report.h). */
static void args_cat_figure(struct graph_args *a, const struct graph_plan *p, double x) {
  char buf[160];

  args_cat_text(a, pw_report_figure(p->ind, x, buf, sizeof(buf)));
}

/* A figure's date for a legend, with the year when it is not the graph's (report.h). */
static void args_cat_day(struct graph_args *a, const struct graph_plan *p, int64_t t) {
  char buf[64];

  args_cat_text(a, pw_report_day(t, p->year, buf, sizeof(buf)));
}

/* The reported figures: a dot each, joined by a line when there are several, and a legend that
 * gives each one's date and value (a small graph names the latest only). */
static void add_figures(struct graph_args *a, struct graph_plan *p) {
  int64_t t[PW_GRAPH_FIGURES_MAX + 1];
  double v[PW_GRAPH_FIGURES_MAX + 1];
  int i, n = p->n_fig, first;

  for (i = 0; i < n; i++) {
    t[i] = p->fig_t[i];
    v[i] = p->fig_v[i];
  }
  p->n_joined = n;
  if (n >= 1 && (p->ind->kind == PW_KIND_MILESTONE || p->ind->carry)) {
    /* A stage, or a value that holds until reported otherwise, runs on to the time judged. */
    int64_t end = marker_at(p, p->at_clamped), last = marker_at(p, t[n - 1]);
    t[n] = end > last ? end : last + marker_half(p);
    v[n] = v[n - 1];
    p->n_joined = n + 1;
  }
  if (p->n_joined >= 2) {
    int m = p->n_joined;
    /* Between the figures a straight line; a stage holds until the next one. */
    args_start(a);
    args_cat(a, "CDEF:joined=t,%lld,LT,t,%lld,GT,+,UNKN,", (long long)marker_at(p, t[0]),
             (long long)(m > n ? t[m - 1] : marker_at(p, t[m - 1])));
    for (i = 0; i + 1 < m; i++) {
      int64_t ta = marker_at(p, t[i]), tb = i + 1 < n ? marker_at(p, t[i + 1]) : t[i + 1];
      if (i + 2 < m)
        args_cat(a, "t,%lld,LE,", (long long)tb);
      if (p->ind->kind == PW_KIND_MILESTONE || tb <= ta)
        args_cat(a, "t,POP,%.17g", v[i] / p->scale);
      else
        cat_segment(a, ta, v[i] / p->scale, tb, v[i + 1] / p->scale);
      if (i + 2 < m)
        args_cat(a, ",");
    }
    for (i = 2; i < m; i++)
      args_cat(a, ",IF");
    args_cat(a, ",IF");
    args_end(a);
  }
  args_start(a);
  args_cat(a, "CDEF:dots=");
  cat_dots(a, p, t, v, n);
  args_end(a);
  if (n == 0) {
    /* Nothing to mark: a line of text, without a colour box for a dot not drawn. */
    args_add(a, "COMMENT: %s 尚无数据\\l",
             p->ind->kind == PW_KIND_MILESTONE ? "已达阶段" : "实际值");
    return;
  }
  args_start(a);
  args_cat(a, "LINE%d:dots%s: %s", marker_px(p), COLOUR_VALUE,
           p->ind->kind == PW_KIND_MILESTONE ? "已达阶段" : "实际值");
  first = p->small && n > 1 ? n - 1 : 0;
  for (i = first; i < n; i++) {
    args_cat(a, i > first ? " · " : " ");
    args_cat_day(a, p, t[i]);
    args_cat(a, " ");
    args_cat_figure(a, p, v[i]);
  }
  if (first > 0)
    args_cat(a, "（共%d次）", n);
  args_cat(a, "\\l");
  args_end(a);
  if (p->n_joined >= 2)
    args_add(a, "LINE2:joined%s", COLOUR_VALUE);
}

/* The figures once more, without a legend: their legend comes first, but the dots belong on
 * top of the plan. */
static void redraw_figures(struct graph_args *a, const struct graph_plan *p) {
  if (p->n_joined >= 2)
    args_add(a, "LINE2:joined%s", COLOUR_VALUE);
  args_add(a, "LINE%d:dots%s", marker_px(p), COLOUR_VALUE);
}

/* Target points are hollow dots: a red dot (whose element carries the legend, begun here and
 * ended by the caller) and a white centre drawn by goal_centres. */
static void goal_dots(struct graph_args *a, const struct graph_plan *p, const int64_t *t,
                      const double *value, int n) {
  args_start(a);
  args_cat(a, "CDEF:goal=");
  cat_dots(a, p, t, value, n);
  args_end(a);
  args_start(a);
  args_cat(a, "LINE%d:goal%s:", marker_px(p), COLOUR_TARGET);
}

static void goal_centres(struct graph_args *a, const struct graph_plan *p) {
  args_add(a, "LINE%d:goal#ffffff", marker_px(p) - 4);
}

/* The plan of a cumulative or level indicator: the pace line E(t), the quarter targets as
 * target points (the annual target the last of them) with their figures in the legend. */
static void add_progress_plan(struct graph_args *a, const struct graph_plan *p) {
  const struct pw_target *tg = p->tg;
  int64_t t[4];
  double v[4];
  int k, n = 0;

  args_start(a);
  args_cat(a, "CDEF:paceraw=");
  cat_pace(a, p);
  args_end(a);
  args_add(a, "CDEF:pace=paceraw,%.17g,/", p->scale);
  args_add(a, "LINE1:pace%s: 序时进度:dashes=4,3", COLOUR_PACE);
  if (tg->has_quarters) {
    for (k = 1; k <= 4; k++) {
      t[n] = p->T[k];
      v[n++] = tg->quarters[k - 1];
    }
  } else {
    t[n] = p->T[4];
    v[n++] = p->A;
  }
  goal_dots(a, p, t, v, n);
  args_cat(a, " %s", tg->has_quarters ? "季度目标" : "年度目标");
  for (k = 0; k < n; k++) {
    args_cat(a, k > 0 ? " · " : " ");
    if (tg->has_quarters)
      args_cat(a, "%s ", k == 3 ? "全年" : quarter_zh[k]);
    args_cat_figure(a, p, v[k]);
  }
  args_cat(a, "\\l");
  args_end(a);
  goal_centres(a, p);
}

/* The plan's shape for a projection: the straight lines through the quarter targets (from B at
 * T0), or from B to A without quarters, whatever the pace; a stepping pace would make the
 * projection jump. Point K of 0..N-1 into *T, *V; returns N. */
static int plan_points(const struct graph_plan *p, int64_t *t, double *v) {
  int k, n = 0;

  t[n] = p->T[0];
  v[n++] = p->B;
  if (p->tg->has_quarters) {
    for (k = 1; k <= 4; k++) {
      t[n] = p->T[k];
      v[n++] = p->tg->quarters[k - 1];
    }
  } else {
    t[n] = p->T[4];
    v[n++] = p->A;
  }
  return n;
}

static double plan_at(const struct graph_plan *p, int64_t at) {
  int64_t t[5];
  double v[5];
  int k, n = plan_points(p, t, v);

  for (k = 0; k + 1 < n; k++)
    if (at <= t[k + 1] || k + 2 == n)
      return v[k] + (v[k + 1] - v[k]) * (double)(at - t[k]) / (double)(t[k + 1] - t[k]);
  return v[n - 1];
}

/* The projection to the year's end, made only with two figures of the year or more, along the
 * plan's shape P(t) (plan_points) rather than a straight line: a count keeps the pace it has
 * against the plan, B + (P(t) - B)(v - B) / (P(as_of) - B); a level keeps its distance from it,
 * P(t) + v - P(as_of). A rate (unit %) never goes beyond 100 unless its target does. Returns 0
 * and *K (the factor, or the distance for a level), the value at year end *PROJ and the cap
 * *CAP (infinite for none); -1 when there is none. */
static int projection(const struct graph_plan *p, double *k, double *proj, double *cap) {
  const struct pw_verdict *v = p->v;
  double e_now;

  if (p->tg == NULL || (p->ind->kind != PW_KIND_CUMULATIVE && p->ind->kind != PW_KIND_LEVEL) ||
      p->n_fig_year < 2 || v == NULL || !v->has_value || v->as_of <= p->T[0] || v->as_of >= p->T[4])
    return -1;
  e_now = plan_at(p, v->as_of);
  *cap = p->rate && p->A <= 100.0 ? 100.0 : INFINITY;
  if (p->ind->kind == PW_KIND_LEVEL) {
    *k = v->value - e_now;
    *proj = fmin(p->A + *k, *cap);
  } else {
    if (!isfinite(e_now) || fabs(e_now - p->B) < 1e-9 * fmax(1.0, fabs(p->A - p->B)))
      return -1;
    *k = (v->value - p->B) / (e_now - p->B);
    *proj = fmin(p->B + (p->A - p->B) * *k, *cap);
  }
  return isfinite(*proj) ? 0 : -1;
}

/* A projection is an estimate: three significant digits ("约15.3万人"). */
static double round3(double x) {
  double m;

  if (x == 0 || !isfinite(x))
    return x;
  m = pow(10, 2 - floor(log10(fabs(x))));
  return round(x * m) / m;
}

static void add_projection(struct graph_args *a, const struct graph_plan *p) {
  int64_t pt[5];
  double k, proj, cap, pv[5];
  int i, n;

  if (projection(p, &k, &proj, &cap) < 0)
    return;
  n = plan_points(p, pt, pv);
  args_start(a);
  args_cat(a, "CDEF:projplan=");
  for (i = 0; i + 1 < n; i++) {
    if (i + 2 < n)
      args_cat(a, "t,%lld,LE,", (long long)pt[i + 1]);
    cat_segment(a, pt[i], pv[i], pt[i + 1], pv[i + 1]);
    if (i + 2 < n)
      args_cat(a, ",");
  }
  for (i = 2; i < n; i++)
    args_cat(a, ",IF");
  args_end(a);
  args_start(a);
  if (p->ind->kind == PW_KIND_LEVEL)
    args_cat(a, "CDEF:proj=t,%lld,GE,projplan,%.17g,+,", (long long)marker_at(p, p->v->as_of), k);
  else
    args_cat(a, "CDEF:proj=t,%lld,GE,projplan,%.17g,-,%.17g,*,%.17g,+,",
             (long long)marker_at(p, p->v->as_of), p->B, k, p->B);
  if (isfinite(cap))
    args_cat(a, "%.17g,MIN,", cap);
  args_cat(a, "%.17g,/,UNKN,IF", p->scale);
  args_end(a);
  args_start(a);
  args_cat(a, "LINE1:proj%s: 年末预测 约", COLOUR_VALUE);
  args_cat_figure(a, p, round3(proj));
  args_cat(a, "\\l:dashes=2,3");
  args_end(a);
}

/* A standard: its line (by quarter, a step path) with what it is and how the latest figure
 * compares ("低于全省平均分3.7分"). */
static void add_standard(struct graph_args *a, const struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  const struct pw_verdict *v = p->v;
  const char *label =
      ind->standard_label != NULL && ind->standard_label[0] ? ind->standard_label : "标准";
  double s = v != NULL && v->has_judgement ? v->target
             : p->tg->has_quarters         ? pw_judge_path_at(&p->path, p->at_clamped)
                                           : p->tg->standard;

  args_start(a);
  args_cat(a, "CDEF:std=");
  cat_pace(a, p);
  args_cat(a, ",%.17g,/", p->scale);
  args_end(a);
  args_start(a);
  args_cat(a, "LINE2:std%s: ", COLOUR_TARGET);
  args_cat_text(a, label);
  args_cat(a, " %s", ind->direction_down ? "≤" : "≥");
  args_cat_figure(a, p, s);
  if (p->tg->has_quarters)
    args_cat(a, "（按季度）");
  if (v != NULL && v->has_value && v->has_judgement && isfinite(v->lag)) {
    char d[64];
    const char *u = ind->unit != NULL ? ind->unit : "";
    double gap = fabs(v->value - v->target);
    if (gap < 1e-9) {
      args_cat(a, "，最新值达到");
    } else {
      args_cat(a, "，最新值%s", v->value > v->target ? "高于" : "低于");
    }
    args_cat_text(a, label);
    if (gap >= 1e-9) {
      if (strcmp(u, "%") == 0)
        args_cat(a, "%s个百分点", pw_report_pct(gap, d, sizeof(d)));
      else
        args_cat_figure(a, p, gap);
    }
  }
  args_cat(a, "\\l");
  args_end(a);
}

/* A milestone: the expected stage as a step line, each stage's due date as a target point,
 * the final stage always within the frame (its due day is often the year's last). */
static void add_milestone_plan(struct graph_args *a, const struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  int64_t t[PW_GRAPH_FIGURES_MAX];
  double v[PW_GRAPH_FIGURES_MAX];
  int i, n = 0;

  args_start(a);
  args_cat(a, "CDEF:plan=");
  cat_pace(a, p);
  args_end(a);
  args_add(a, "LINE1:plan%s: 计划进度:dashes=4,3", COLOUR_PACE);
  for (i = 1; i < ind->stages.n && n < PW_GRAPH_FIGURES_MAX; i++) {
    if (p->tg->due != NULL && p->tg->due[i] != 0) {
      t[n] = p->tg->due[i];
      v[n++] = i;
    }
  }
  goal_dots(a, p, t, v, n);
  args_cat(a, " 计划节点");
  for (i = 0; i < n; i++) {
    args_cat(a, i > 0 ? " · " : " ");
    args_cat_text(a, ind->stages.items[(int)v[i]]);
    args_cat(a, " ");
    args_cat_day(a, p, t[i]);
  }
  args_cat(a, "\\l");
  args_end(a);
  goal_centres(a, p);
}

/* The stage names for the axis's numbers: "阶段：0 未启动　1 建设中　2 已完成". */
static void add_stage_names(struct graph_args *a, const struct graph_plan *p) {
  int i;

  args_start(a);
  args_cat(a, "COMMENT: 纵轴阶段：");
  for (i = 0; i < p->ind->stages.n; i++) {
    args_cat(a, "%s%d ", i > 0 ? "　" : "", i);
    args_cat_text(a, p->ind->stages.items[i]);
  }
  args_cat(a, "\\l");
  args_end(a);
}

/* The drawing elements after the options. */
static void add_elements(struct graph_args *a, struct graph_plan *p, const char *def_path) {
  const struct pw_indicator *ind = p->ind;

  args_start(a);
  args_cat(a, "DEF:v=");
  args_cat_escaped(a, def_path);
  args_cat(a, ":value:LAST");
  args_end(a);
  /* Every CDEF needs a data source for its time base; `t` is the middle of each data row, the
   * time the pixels drawn from that row stand for (TIME is the row's end). */
  args_add(a, "CDEF:t=v,POP,TIME,STEPWIDTH,2,/,-");
  add_figures(a, p);
  if (p->tg != NULL) {
    switch (ind->kind) {
    case PW_KIND_CUMULATIVE:
    case PW_KIND_LEVEL:
      add_progress_plan(a, p);
      add_projection(a, p);
      break;
    case PW_KIND_STANDARD:
      add_standard(a, p);
      break;
    case PW_KIND_MILESTONE:
      add_milestone_plan(a, p);
      break;
    }
  }
  redraw_figures(a, p);
  if (p->tg == NULL)
    args_add(a, "COMMENT: %d年目标未下达\\l", p->year);
  if (ind->kind == PW_KIND_MILESTONE && ind->stages.n > 0)
    add_stage_names(a, p);
}

/* A step of 1, 2, 2.5 or 5 times a power of ten, near SPAN / 5. */
static double nice_step(double span) {
  double raw = span / 5, p10, f;

  if (!(raw > 0) || !isfinite(raw))
    return 1;
  p10 = pow(10, floor(log10(raw)));
  f = raw / p10;
  if (f <= 1)
    return p10;
  if (f <= 2)
    return 2 * p10;
  if (f <= 2.5)
    return 2.5 * p10;
  if (f <= 5)
    return 5 * p10;
  return 10 * p10;
}

/* The value axis: what must show (figures, targets, the projection), a margin, 万/亿 when the
 * figures are that large, a round step, and the frame on whole steps. A count starts from
 * nothing; a rate stops at 100 unless something shown goes beyond. */
static void plan_axis(struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  double lo = INFINITY, hi = -INFINITY, span, step, m, k, proj, cap;
  int i;

  if (ind->kind == PW_KIND_MILESTONE) {
    p->scale = 1;
    p->lo = -0.5;
    p->hi = (ind->stages.n > 1 ? ind->stages.n - 1 : 1) + 0.5;
    p->step = 1;
    p->decimals = 0;
    return;
  }
  for (i = 0; i < p->n_fig; i++) {
    lo = fmin(lo, p->fig_v[i]);
    hi = fmax(hi, p->fig_v[i]);
  }
  if (p->tg != NULL) {
    for (i = 0; i < p->path.n; i++) {
      int64_t t;
      double v;
      pw_judge_path_point(&p->path, i, &t, &v);
      lo = fmin(lo, v);
      hi = fmax(hi, v);
    }
    if (ind->kind == PW_KIND_CUMULATIVE || ind->kind == PW_KIND_LEVEL) {
      lo = fmin(lo, fmin(p->A, p->B));
      hi = fmax(hi, fmax(p->A, p->B));
    }
  }
  if (!isfinite(lo) || !isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  /* A projection above everything else still shows (it is capped for rates). */
  if (projection(p, &k, &proj, &cap) == 0) {
    lo = fmin(lo, proj);
    hi = fmax(hi, proj);
  }
  span = hi - lo;
  m = span > 0 ? 0.08 * span : fmax(0.2 * fabs(hi), 1.0);
  if (ind->kind == PW_KIND_CUMULATIVE && lo >= 0) {
    lo = 0;
  } else {
    lo -= m;
    /* A level or rate of positive figures is not drawn below zero. */
    if (lo < 0 && fmin(lo + m, hi) >= 0)
      lo = 0;
  }
  hi += m;
  if (p->rate && hi > 100 && fmax(p->tg != NULL ? p->A : 0, hi - m) <= 100)
    hi = 100;
  m = fmax(fabs(lo), fabs(hi));
  p->scale = m >= 1e8 ? 1e8 : m >= 1e5 ? 1e4 : 1;
  lo /= p->scale;
  hi /= p->scale;
  /* Of the round steps for four to seven lines (three to four at the small size), the one
   * whose frame wastes least room. */
  p->lo = p->hi = 0;
  step = 1;
  for (i = p->small ? 3 : 4; i <= (p->small ? 4 : 7); i++) {
    double st = nice_step((hi - lo) * 5 / i);
    double l = floor(lo / st + 1e-9) * st, h = ceil(hi / st - 1e-9) * st;
    if (h <= l)
      h = l + st;
    if (p->hi <= p->lo || h - l < p->hi - p->lo - 1e-12) {
      p->lo = l;
      p->hi = h;
      step = st;
    }
  }
  p->step = step;
  p->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (step * pow(10, p->decimals) - floor(step * pow(10, p->decimals) + 1e-9) > 1e-6)
    p->decimals++;
}

/* The options: the year, size, a calm look, fonts, Chinese month labels, axis, title. */
static void add_options(struct graph_args *a, const struct pw_graph_request *req,
                        const struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  int small = req->small;

  args_add(a, "--imgformat");
  args_add(a, "%s",
           req->format == PW_GRAPH_SVG    ? "SVG"
           : req->format == PW_GRAPH_JSON ? "JSON"
                                          : "PNG");
  args_add(a, "--start");
  args_add(a, "%lld", (long long)p->T[0]);
  args_add(a, "--end");
  args_add(a, "%lld", (long long)p->T[4]);
  args_add(a, "--width");
  args_add(a, "%d", small ? 400 : 800);
  args_add(a, "--height");
  args_add(a, "%d", small ? 150 : 300);
  args_add(a, "--font");
  args_add(a, "DEFAULT:%d:Noto Sans CJK SC", small ? 7 : 9);
  args_add(a, "--font");
  args_add(a, "TITLE:%d:Noto Sans CJK SC", small ? 9 : 12);
  /* A report's look: white, no frame or shading, a light solid grid, no arrows. Text is Pango
   * markup, so that the title's status word can carry the status colour. */
  args_add(a, "--pango-markup");
  args_add(a, "--border");
  args_add(a, "0");
  args_add(a, "--grid-dash");
  args_add(a, "1:0");
  args_add(a, "--color=BACK#ffffff");
  args_add(a, "--color=CANVAS#ffffff");
  args_add(a, "--color=SHADEA#ffffff");
  args_add(a, "--color=SHADEB#ffffff");
  args_add(a, "--color=FRAME#ffffff");
  args_add(a, "--color=ARROW#ffffff");
  args_add(a, "--color=GRID%s", COLOUR_GRID);
  args_add(a, "--color=MGRID%s", COLOUR_MGRID);
  args_add(a, "--color=AXIS%s", COLOUR_AXIS);
  args_add(a, "--color=FONT%s", COLOUR_TEXT);
  /* Month labels centred on their month; the weekday names of the default grid would follow
   * the process locale, which is C for a daemon. A small graph has no room for weekly lines:
   * its major lines mark the quarters instead. */
  args_add(a, "--x-grid");
  args_add(a, "%s",
           small ? "MONTH:1:MONTH:3:MONTH:1:2592000:%-m月"
                 : "MONTH:1:MONTH:3:MONTH:1:2592000:%-m月");
  args_add(a, "--disable-rrdtool-tag");
  args_add(a, "--units-exponent");
  args_add(a, "0");
  args_add(a, "--rigid");
  args_add(a, "--lower-limit");
  args_add(a, "%.17g", p->lo);
  args_add(a, "--upper-limit");
  args_add(a, "%.17g", p->hi);
  args_add(a, "--y-grid");
  args_add(a, "%.17g:1", p->step);
  args_add(a, "--left-axis-format");
  args_add(a, "%%.%dlf", p->decimals);
  /* The axis title is drawn turned by 90 degrees; a lone Chinese unit such as 个 would then
   * read as an arrow, a phrase reads as turned text. */
  if (ind->kind == PW_KIND_MILESTONE) {
    args_add(a, "--vertical-label");
    args_add(a, "阶段");
  } else if (!req->no_axis_title && ((ind->unit != NULL && ind->unit[0] != '\0') || p->scale > 1)) {
    args_add(a, "--vertical-label");
    args_start(a);
    args_cat(a, "单位：%s", p->scale >= 1e8 ? "亿" : p->scale > 1 ? "万" : "");
    args_cat_markup(a, ind->unit != NULL ? ind->unit : "");
    args_end(a);
  }
  args_start(a);
  args_cat(a, "--title=");
  args_cat_markup(a, ind->name);
  if (p->v != NULL)
    args_cat(a, "  <span foreground=\"%s\">%s</span>", status_colour(p->v->status),
             pw_status_label_zh(p->v->status));
  args_end(a);
}

static int fail(char *err, size_t errlen, const char *id, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *id, int rc, const char *fmt, ...) {
  char msg[768];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "indicator '%s': %s", id, msg);
  return rc;
}

/* An empty RRD of the store's layout for an indicator without a file yet, so that its graph
 * still shows the year's plan: rrd_graph needs a data source for the time base of every CDEF.
 * One file per year, whose archive ends at T4 and so covers the whole year. It is built under
 * a name of this process and thread and renamed into place, so that a graph rendering on
 * another thread (or in another process) never opens a half-written file; two threads that
 * race both rename identical files. */
static int create_placeholder(const char *dir, const struct graph_plan *p, const char *path,
                              char *err, size_t errlen) {
  char tmp[PATH_MAX], ds_value[64], ds_expected[64], rra[64];
  const char *argv[3];
  int n;

  n = snprintf(tmp, sizeof(tmp), "%s.%ld.%lx", path, (long)getpid(), (unsigned long)pthread_self());
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return fail(err, errlen, p->ind->id, -ENAMETOOLONG, "placeholder name too long in %s", dir);
  snprintf(ds_value, sizeof(ds_value), "DS:value:GAUGE:%d:U:U", PW_STORE_HEARTBEAT);
  snprintf(ds_expected, sizeof(ds_expected), "DS:expected:GAUGE:%d:U:U", PW_STORE_HEARTBEAT);
  snprintf(rra, sizeof(rra), "RRA:LAST:0.5:24:%d", PLACEHOLDER_ROWS);
  argv[0] = ds_value;
  argv[1] = ds_expected;
  argv[2] = rra;
  /* A file left by a crash of this very pid and thread would make no_overwrite refuse. */
  unlink(tmp);
  rrd_clear_error();
  if (rrd_create_r2(tmp, PW_STORE_STEP, (time_t)p->T[4], 1, NULL, NULL, 3, argv) != 0) {
    const char *msg = rrd_get_error();
    return fail(err, errlen, p->ind->id, -EIO, "rrd_create %s: %s", tmp,
                msg != NULL && msg[0] != '\0' ? msg : "failed");
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return fail(err, errlen, p->ind->id, -e, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return 0;
}

static int make_placeholder(const char *dir, const struct graph_plan *p, char *path, size_t size,
                            char *err, size_t errlen) {
  const char *kind = "";
  int n, rc;

  if (dir == NULL || dir[0] == '\0')
    return fail(err, errlen, p->ind->id, -EINVAL,
                "no RRD file yet and no directory for a placeholder");
  n = snprintf(path, size, "%s/.empty-%d.rrd", dir, p->year);
  if (n < 0 || (size_t)n >= size)
    return fail(err, errlen, p->ind->id, -ENAMETOOLONG, "placeholder name too long in %s", dir);
  /* A placeholder is only ever a regular file this code made. Anything else at its name (a
   * FIFO, on which rrd_graph would wait for ever with the store lock held; a symbolic link,
   * never followed) is replaced by a new placeholder renamed over it (docs/storage.md). */
  rc = pw_regular_file(path, &kind);
  if (rc == 0)
    return 0;
  if (rc == -ENOENT)
    return create_placeholder(dir, p, path, err, errlen);
  if (kind[0] == '\0')
    return fail(err, errlen, p->ind->id, rc, "cannot stat %s: %s", path, strerror(-rc));
  /* Replaced by one thread, named once: another that saw the stranger too finds the new file. */
  pw_store_lock();
  rc = pw_regular_file(path, &kind);
  if (rc != 0 && rc != -ENOENT && kind[0] != '\0')
    pw_log_warn("%s is %s, not a placeholder RRD file: replaced by a new one", path, kind);
  if (rc != 0)
    rc = create_placeholder(dir, p, path, err, errlen);
  pw_store_unlock();
  return rc;
}

/* The file to DEF from and whether rrd_graph reads it through rrdcached. Through rrdcached
 * the name follows store's rule: the absolute path over a UNIX socket; over TCP librrd refuses
 * absolute names and rrdcached resolves a relative one against its -b directory, which must
 * be the state directory. A placeholder is read directly: it has nothing queued. */
static int resolve_source(const struct pw_graph_request *req, const struct graph_plan *p,
                          char *def_path, size_t size, const char **daemon, char *path,
                          size_t path_size, char *err, size_t errlen) {
  const struct pw_store *s = req->store;
  const char *id = p->ind->id;
  const char *kind = "";
  int n = snprintf(path, path_size, "%s/%s.rrd", s->dir, id), rc;

  *daemon = NULL;
  if (n < 0 || (size_t)n >= path_size)
    return fail(err, errlen, id, -ENAMETOOLONG, "RRD file name too long under %s", s->dir);
  /* Not opened unless it is a regular file: rrd_graph would wait for ever on a FIFO (with the
   * store lock held) and follow a link. The daemon rebuilds such a file from the journal. */
  rc = pw_regular_file(path, &kind);
  if (rc == -ENOENT) {
    path[0] = '\0'; /* no file: nothing to read figures back from */
    return make_placeholder(req->tmp_dir, p, def_path, size, err, errlen);
  }
  if (rc < 0 && kind[0] != '\0')
    return fail(err, errlen, id, rc,
                "its RRD file is %s, not an RRD file (rebuilt from the "
                "journal when it can be)",
                kind);
  if (rc < 0)
    return fail(err, errlen, id, rc, "cannot stat %s: %s", path, strerror(-rc));
  if (s->rrdcached != NULL && s->rrdcached[0] != '\0') {
    *daemon = s->rrdcached;
    if (strncmp(s->rrdcached, "unix:", 5) != 0 && s->rrdcached[0] != '/')
      n = snprintf(def_path, size, "rrd/%s.rrd", id);
    else
      n = snprintf(def_path, size, "%s", path);
  } else {
    n = snprintf(def_path, size, "%s", path);
  }
  if (n < 0 || (size_t)n >= size)
    return fail(err, errlen, id, -ENAMETOOLONG, "RRD file name too long under %s", s->dir);
  return 0;
}

/* The instant a daily row ending at END stands for: the last local midnight not after it, the
 * end of the day the figure was reported for (an as_of is the end of its day). */
static int64_t day_end_before(int64_t end) {
  time_t t = (time_t)end;
  struct tm tm;
  time_t m;

  if (localtime_r(&t, &tm) == NULL)
    return end;
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  m = mktime(&tm);
  return m == (time_t)-1 ? end : (int64_t)m;
}

static void add_figure(struct graph_plan *p, int64_t t, double v) {
  if (p->n_fig == PW_GRAPH_FIGURES_MAX) {
    /* The earliest give way to the latest. */
    memmove(p->fig_t, p->fig_t + 1, sizeof(p->fig_t[0]) * (PW_GRAPH_FIGURES_MAX - 1));
    memmove(p->fig_v, p->fig_v + 1, sizeof(p->fig_v[0]) * (PW_GRAPH_FIGURES_MAX - 1));
    p->n_fig--;
  }
  p->fig_t[p->n_fig] = t;
  p->fig_v[p->n_fig++] = v;
}

/* The file's last update, which is its latest figure (store.c writes each figure at its
 * as_of): its daily row stays unknown until the next report. Under the store lock. */
static int last_figure(const char *file, int64_t *t, double *value) {
  time_t last = 0;
  unsigned long n = 0, k;
  char **names = NULL, **values = NULL;
  int found = 0;

  rrd_clear_error();
  if (rrd_lastupdate_r(file, &last, &n, &names, &values) != 0) {
    rrd_clear_error();
    return 0;
  }
  for (k = 0; k < n; k++) {
    if (strcmp(names[k], "value") == 0 && values[k] != NULL) {
      char *end;
      *value = strtod(values[k], &end);
      found = end != values[k] && isfinite(*value);
    }
    rrd_freemem(names[k]);
    rrd_freemem(values[k]);
  }
  rrd_freemem(names);
  rrd_freemem(values);
  *t = (int64_t)last;
  return found;
}

/* The instant of the first known hour in (FROM, TO] of the file's hourly archive, or 0 when
 * the archive no longer covers it (it keeps 90 days). Under the store lock. */
static int64_t first_hour(const char *file, int64_t from, int64_t to) {
  time_t start = (time_t)from, end = (time_t)to;
  unsigned long step = PW_STORE_STEP, n_ds = 0, i, k, col = 0;
  char **names = NULL;
  rrd_value_t *data = NULL;
  int64_t t = 0;
  int found = 0;

  rrd_clear_error();
  if (rrd_fetch_r(file, "LAST", &start, &end, &step, &n_ds, &names, &data) != 0) {
    rrd_clear_error();
    return 0;
  }
  for (k = 0; k < n_ds; k++) {
    if (strcmp(names[k], "value") == 0) {
      col = k;
      found = 1;
    }
    rrd_freemem(names[k]);
  }
  rrd_freemem(names);
  for (i = 0; found && step == PW_STORE_STEP && start + (time_t)((i + 1) * step) <= end; i++) {
    if (!isnan(data[i * n_ds + col])) {
      t = (int64_t)start + (int64_t)((i + 1) * step);
      break;
    }
  }
  rrd_freemem(data);
  return t;
}

/* The figures known at AT: those reported in the year up to AT and, when the year has none
 * yet, the latest one before it, which keeps its own date (a level or a standard holds until
 * reported otherwise, and a figure known is better than an empty graph; a cumulative count
 * with a target starts again each year, so its last year's figure is left out). The RRD file
 * holds each figure from its as_of until the next one (store.c): a figure is a daily row whose
 * value differs from the row before, dated by the day that row closes; the latest is the
 * file's last update, whose row stays unknown until the next report; the verdict's latest
 * replaces one of the same value. Two figures of one day, or an equal figure reported again,
 * show as one. A file that cannot be read gives no figures from the file: rrd_graph then says
 * what is wrong. Runs under the store lock (store.h); through rrdcached the file is flushed
 * first, since librrd's fetch reads the file itself (docs/libraries.md). */
static void read_figures(struct graph_plan *p, const char *file, const char *daemon,
                         const char *def_path, int64_t at) {
  const struct pw_verdict *v = p->v;
  int64_t until = at < p->T[4] ? at : p->T[4], before_t = 0, last_t = 0;
  time_t start = (time_t)(p->T[0] - (int64_t)PW_STORE_HEARTBEAT), end = (time_t)(until + 86400);
  unsigned long step = 86400, n_ds = 0, i, k, col = 0;
  char **names = NULL;
  rrd_value_t *data = NULL;
  double prev = NAN, before_v = NAN, last_v = NAN;
  int rc = -1, found = 0, has_last = 0;

  if (file != NULL) {
    pw_store_lock();
    rrd_clear_error();
    if (daemon != NULL)
      rrdc_flush_if_daemon(daemon, def_path);
    rrd_clear_error();
    rc = rrd_fetch_r(file, "LAST", &start, &end, &step, &n_ds, &names, &data);
    rrd_clear_error();
    if (rc == 0) {
      for (k = 0; k < n_ds; k++) {
        if (strcmp(names[k], "value") == 0) {
          col = k;
          found = 1;
        }
        rrd_freemem(names[k]);
      }
      rrd_freemem(names);
      for (i = 0; found && step > 0 && start + (time_t)((i + 1) * step) <= end; i++) {
        double x = data[i * n_ds + col];
        int64_t row_end = (int64_t)start + (int64_t)((i + 1) * step), day;

        if (isnan(x))
          continue;
        if (!isnan(prev) && x == prev)
          continue;
        if (isnan(prev)) {
          /* The file's first figure: the row that holds it is unknown when most of its hours
           * are before the file began (the xff of store.c's archives), so the figure shows in
           * the next row. The hourly archive tells the hour; past its 90 days, the row
           * before is the likelier (an as_of at the end of a local day east of UTC). */
          day = first_hour(file, row_end - 2 * (int64_t)step, row_end);
          if (day == 0)
            day = day_end_before(row_end - (int64_t)step);
        } else {
          day = day_end_before(row_end);
        }
        prev = x;
        if (day > until)
          continue;
        if (day > p->T[0]) {
          add_figure(p, day, x);
        } else {
          before_t = day;
          before_v = x;
        }
      }
      rrd_freemem(data);
    }
    has_last = last_figure(file, &last_t, &last_v);
    pw_store_unlock();
  }
  if (has_last && last_t <= until) {
    if (last_t <= p->T[0]) {
      before_t = last_t;
      before_v = last_v;
    } else if (p->n_fig == 0 || last_t > p->fig_t[p->n_fig - 1]) {
      if (p->n_fig > 0 && p->fig_v[p->n_fig - 1] == last_v &&
          last_t - p->fig_t[p->n_fig - 1] <= 86400)
        p->n_fig--;
      add_figure(p, last_t, last_v);
    }
  }
  if (v != NULL && v->has_value && isfinite(v->value) && v->as_of <= p->T[4]) {
    if (v->as_of <= p->T[0]) {
      before_t = v->as_of;
      before_v = v->value;
    } else {
      while (p->n_fig > 0 && p->fig_t[p->n_fig - 1] >= v->as_of - 86400)
        p->n_fig--;
      add_figure(p, v->as_of, v->value);
    }
  }
  if (p->n_fig == 0 && isfinite(before_v) && !(p->ind->kind == PW_KIND_CUMULATIVE && p->tg != NULL))
    add_figure(p, before_t, before_v);
  for (i = 0; i < (unsigned long)p->n_fig; i++)
    if (p->fig_t[i] > p->T[0] && p->fig_t[i] <= p->T[4])
      p->n_fig_year++;
}

static long info_number(const rrd_info_t *i) {
  switch (i->type) {
  case RD_I_CNT:
    return (long)i->value.u_cnt;
  case RD_I_INT:
    return i->value.u_int;
  case RD_I_VAL:
    return isfinite(i->value.u_val) ? (long)i->value.u_val : 0;
  default:
    return 0;
  }
}

/* Takes the image size and a copy of the image out of rrd_graph's answer (the list is freed
 * by the caller). */
static int take_image(const rrd_info_t *info, struct pw_graph_image *img, const char *id, char *err,
                      size_t errlen) {
  const rrd_info_t *i;
  const rrd_blob_t *blob = NULL;

  for (i = info; i != NULL; i = i->next) {
    if (strcmp(i->key, "image_width") == 0)
      img->width = (int)info_number(i);
    else if (strcmp(i->key, "image_height") == 0)
      img->height = (int)info_number(i);
    else if (strcmp(i->key, "graph_left") == 0)
      img->graph_left = (int)info_number(i);
    else if (strcmp(i->key, "graph_top") == 0)
      img->graph_top = (int)info_number(i);
    else if (strcmp(i->key, "graph_width") == 0)
      img->graph_width = (int)info_number(i);
    else if (strcmp(i->key, "graph_height") == 0)
      img->graph_height = (int)info_number(i);
    else if (strcmp(i->key, "graph_start") == 0)
      img->t_start = info_number(i);
    else if (strcmp(i->key, "graph_end") == 0)
      img->t_end = info_number(i);
    else if (strcmp(i->key, "value_min") == 0 && i->type == RD_I_VAL)
      img->y_min = i->value.u_val;
    else if (strcmp(i->key, "value_max") == 0 && i->type == RD_I_VAL)
      img->y_max = i->value.u_val;
    else if (strcmp(i->key, "image") == 0 && i->type == RD_I_BLO)
      blob = &i->value.u_blo;
  }
  if (blob == NULL || blob->ptr == NULL || blob->size == 0)
    return fail(err, errlen, id, -EIO, "rrd_graph: no image in its answer");
  img->data = malloc(blob->size);
  if (img->data == NULL)
    return fail(err, errlen, id, -ENOMEM, "out of memory for a %lu-byte image", blob->size);
  memcpy(img->data, blob->ptr, blob->size);
  img->len = blob->size;
  return 0;
}

/* Runs rrd_graph_v on a fresh copy of the arguments (its option parser permutes argv), retrying
 * while another process holds the file's lock, and once more through rrdcached: librrd reuses
 * its one connection without checking it, so the first request after rrdcached restarted fails
 * on the dead socket and the next one reconnects. */
static int run_graph(const struct pw_graph_request *req, const struct graph_args *a, int use_daemon,
                     struct pw_graph_image *img, const char *id, char *err, size_t errlen) {
  char work[ARGS_TEXT], msg[512];
  char *av[ARGS_MAX + 1];
  rrd_info_t *info = NULL;
  int attempt, i, rc;

  for (attempt = 1;; attempt++) {
    const char *e;
    int locked;

    memcpy(work, a->text, a->used);
    for (i = 0; i < a->argc; i++)
      av[i] = work + a->off[i];
    av[a->argc] = NULL;
    /* The RRD locking rule (store.h): this reads the file, and draws with librrd's one Pango
     * font map, whose caches are not thread-safe: two threads rendering at once corrupted
     * GLib's lists in the test suite ("corrupted double-linked list detected",
     * "g_queue_push_head_link: assertion failed", in about one run in ten of six threads). */
    pw_store_lock();
    rrd_clear_error();
    info = rrd_graph_v(a->argc, av);
    /* Some failures late in the drawing set the error and still return the list. */
    if (info == NULL || rrd_test_error()) {
      e = rrd_get_error();
      snprintf(msg, sizeof(msg), "%s", e != NULL && e[0] != '\0' ? e : "failed without a message");
      rrd_info_free(info);
      info = NULL;
    }
    pw_store_unlock();
    if (info != NULL)
      break;
    locked = strstr(msg, "could not lock") != NULL;
    if (locked && attempt < LOCK_TRIES) {
      struct timespec ts = {0, LOCK_WAIT_NS};
      if (req->lock_wait != NULL)
        req->lock_wait(req->lock_wait_arg, attempt);
      nanosleep(&ts, NULL);
      continue;
    }
    if (!locked && use_daemon && attempt == 1)
      continue;
    return fail(err, errlen, id, -EIO, "rrd_graph: %s", msg);
  }
  rc = take_image(info, img, id, err, errlen);
  rrd_info_free(info);
  return rc;
}

int pw_graph_render(const struct pw_graph_request *req, struct pw_graph_image *img, char *err,
                    size_t errlen) {
  struct graph_args a;
  struct graph_plan p;
  struct pw_graph_image local;
  char def_path[PATH_MAX], file[PATH_MAX];
  const char *daemon = NULL, *id;
  locale_t c_locale, old = (locale_t)0;
  int rc;

  if (img == NULL)
    img = &local;
  memset(img, 0, sizeof(*img));
  if (req == NULL || req->conf == NULL || req->store == NULL || req->ind < 0 ||
      req->ind >= req->conf->n_indicators) {
    snprintf(err, errlen, "graph: bad request");
    return -EINVAL;
  }
  memset(&p, 0, sizeof(p));
  p.ind = &req->conf->indicators[req->ind];
  p.v = req->verdict;
  id = p.ind->id;
  if (req->out_path == NULL && img == &local)
    return fail(err, errlen, id, -EINVAL, "graph: an image in memory needs somewhere to go");
  p.year = pw_calendar_year_of(&req->conf->cal, req->at);
  if (p.year == 0 || pw_calendar_bounds(&req->conf->cal, p.year, p.T) < 0)
    return fail(err, errlen, id, -ERANGE, "graph: time %lld is outside the calendar",
                (long long)req->at);
  if (pw_judge_path(p.ind, &req->conf->cal, p.year, &p.path) == 0)
    p.tg = p.path.tg;
  if (p.tg != NULL) {
    p.A = p.tg->annual;
    p.B = p.tg->has_baseline ? p.tg->baseline : 0.0;
  }
  p.small = req->small;
  p.rate = p.ind->unit != NULL && strcmp(p.ind->unit, "%") == 0;
  p.at_clamped = req->at < p.T[0] ? p.T[0] : req->at > p.T[4] ? p.T[4] : req->at;
  rc =
      resolve_source(req, &p, def_path, sizeof(def_path), &daemon, file, sizeof(file), err, errlen);
  if (rc < 0)
    return rc;

  /* Numbers in the arguments need a '.' whatever locale the process runs under, and librrd
   * parses them back with the thread's locale; the C locale also keeps UTF-8 text from being
   * "converted" from an 8-bit locale. uselocale changes this thread only. */
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  if (c_locale != (locale_t)0)
    old = uselocale(c_locale);

  read_figures(&p, file[0] != '\0' ? file : NULL, daemon, def_path, req->at);
  plan_axis(&p);
  memset(&a, 0, offsetof(struct graph_args, text));
  args_add(&a, "graph");
  add_options(&a, req, &p);
  if (daemon != NULL) {
    args_add(&a, "--daemon");
    args_add(&a, "%s", daemon);
  }
  /* The image always comes back in memory ("-"), also for a file: librrd reports a PNG it
   * could not write only through its error text, and an SVG it could not write not at all
   * (cairo prints "OOPS" on stderr and the call succeeds). Writing the file here also makes it
   * appear whole, by rename, to whoever reads it (a web server, a mail attachment). */
  args_add(&a, "-");
  add_elements(&a, &p, def_path);

  if (a.overflow)
    rc = fail(err, errlen, id, -E2BIG, "graph: its names and legends exceed %d bytes", ARGS_TEXT);
  else
    rc = run_graph(req, &a, daemon != NULL, img, id, err, errlen);

  if (c_locale != (locale_t)0) {
    uselocale(old);
    freelocale(c_locale);
  }
  img->y_min *= p.scale;
  img->y_max *= p.scale;
  if (rc == 0 && req->out_path != NULL) {
    rc = pw_write_file_atomic(req->out_path, img->data, img->len);
    if (rc < 0)
      fail(err, errlen, id, rc, "cannot write %s: %s", req->out_path, strerror(-rc));
    free(img->data);
    img->data = NULL;
    img->len = 0;
  }
  if (rc < 0) {
    free(img->data);
    memset(img, 0, sizeof(*img));
  }
  return rc;
}
