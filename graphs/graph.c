/*
 * graph: one indicator's trend graph for one year, drawn by librrd's rrd_graph_v. The RRD file
 * holds only what was reported (and the expected value at those instants), so everything that
 * belongs to the plan is drawn here instead, from the judge's own target path (docs/judgement.md):
 * the whole year's pace line E(t) as a CDEF on TIME, the annual target, the quarter ends with
 * their targets, and the projection from the latest figure to year end. The status cannot colour
 * part of rrd_graph's title, so a legend entry with an empty area carries the status colour. Any
 * thread may render: librrd's per-thread error text is cleared before and read after each call,
 * and each rrd_graph_v runs under the store lock, as the RRD locking rule of store.h says.
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

#include "calendar.h"
#include "log.h"
#include "util.h"
#include "value.h"

/* Every argument of one rrd_graph call lives in one bounded buffer; a configuration whose
 * names or stages would not fit is refused rather than drawn with something cut off. */
#define ARGS_MAX 64
#define ARGS_TEXT 16384

/* Across processes (the CLI drawing while the daemon writes) librrd's fcntl lock makes a read
 * fail at once with "could not lock RRD"; a write takes about a millisecond, so a few short
 * waits get through. */
#define LOCK_TRIES 5
#define LOCK_WAIT_NS (20 * 1000 * 1000L)

/* The placeholder's one archive: daily rows (24 steps of an hour) for a little over a year. */
#define PLACEHOLDER_ROWS 370

#define COLOUR_VALUE "#1f77b4"
#define COLOUR_PACE "#7f7f7f"
#define COLOUR_TARGET "#d62728"
#define COLOUR_QUARTER "#cccccc"

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

/* A figure for people, with the unit: "19万人", "85%". */
static void args_cat_figure(struct graph_args *a, double x, const char *unit) {
  char buf[64];

  args_cat(a, "%s", pw_value_format_zh(x, buf, (int)sizeof(buf)));
  args_cat_escaped(a, unit);
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

static void add_status(struct graph_args *a, const struct graph_plan *p) {
  const char *colour = "#999999";

  if (p->v == NULL)
    return;
  if (p->v->status == PW_STATUS_OK)
    colour = "#2ca02c";
  else if (p->v->status == PW_STATUS_LAGGING)
    colour = "#ff9f1a";
  else if (p->v->status == PW_STATUS_SEVERE)
    colour = "#d62728";
  /* `zero` is unknown everywhere: the area draws nothing and only its legend box shows. */
  args_add(a, "AREA:zero%s: 状态：%s", colour, pw_status_label_zh(p->v->status));
}

/* The reported values. A daily archive row is written only once its whole day has passed
 * in the file, so the row holding the latest figure stays unknown until the next report: the
 * graph would end at the value before it. That row is filled in from the verdict, and for a
 * value that holds until reported otherwise (a milestone's stage, `carry`) the rows up to AT
 * as well, since that is the value judged now. */
static void add_values(struct graph_args *a, const struct graph_plan *p, int64_t at) {
  const struct pw_verdict *v = p->v;
  int64_t hold;

  if (v == NULL || !v->has_value || !isfinite(v->value)) {
    args_add(a, "CDEF:vl=v");
    return;
  }
  hold = v->as_of;
  if (p->ind->kind == PW_KIND_MILESTONE || p->ind->carry) {
    int64_t until = at < p->T[4] ? at : p->T[4];
    if (until > hold)
      hold = until;
  }
  args_add(a, "CDEF:vl=v,UN,TIME,%lld,GE,TIME,STEPWIDTH,-,%lld,LT,*,*,%.17g,v,IF",
           (long long)v->as_of, (long long)hold, v->value);
}

/* " 实际值 12.3万人（5月31日）": the latest figure the verdict was judged on. */
static void add_value_line(struct graph_args *a, const struct graph_plan *p, const char *unit) {
  const struct pw_indicator *ind = p->ind;
  int milestone = ind->kind == PW_KIND_MILESTONE;

  args_start(a);
  args_cat(a, "LINE2:vl%s: %s", COLOUR_VALUE, milestone ? "实际阶段" : "实际值");
  if (p->v != NULL && p->v->has_value) {
    /* An as_of is the end of its day: the date people mean is that of the second before. */
    time_t day = (time_t)(p->v->as_of - 1);
    struct tm tm;

    args_cat(a, " ");
    if (milestone && p->v->stage >= 0 && p->v->stage < ind->stages.n)
      args_cat_escaped(a, ind->stages.items[p->v->stage]);
    else
      args_cat_figure(a, p->v->value, unit);
    if (localtime_r(&day, &tm) != NULL)
      args_cat(a, "（%d月%d日）", tm.tm_mon + 1, tm.tm_mday);
  }
  args_end(a);
}

/* The projection: a straight line from the latest figure (as_of, value) to the projected
 * value at T4, drawn from the data row that holds as_of onwards. */
static void add_projection(struct graph_args *a, const struct graph_plan *p, const char *unit) {
  const struct pw_verdict *v = p->v;
  double proj;

  if (v == NULL || !v->has_projection || !v->has_value || v->year != p->year ||
      v->as_of <= p->T[0] || v->as_of >= p->T[4])
    return;
  proj = p->B + v->projection_pct / 100.0 * (p->A - p->B);
  if (!isfinite(proj))
    return;
  args_start(a);
  args_cat(a, "CDEF:proj=v,POP,TIME,%lld,GE,", (long long)v->as_of);
  cat_segment(a, v->as_of, v->value, p->T[4], proj);
  args_cat(a, ",UNKN,IF");
  args_end(a);
  args_start(a);
  args_cat(a, "LINE1:proj%s: 年末预测 ", COLOUR_VALUE);
  args_cat_figure(a, proj, unit);
  args_cat(a, ":dashes");
  args_end(a);
}

/* The quarter ends T1..T3 as light vertical rules whose legends give each quarter's target;
 * a standard's fourth quarter has no annual rule to show it, so it gets one at T4. */
static void add_quarters(struct graph_args *a, const struct graph_plan *p, const char *unit) {
  int standard = p->ind->kind == PW_KIND_STANDARD;
  int k, last = standard ? 4 : 3;

  if (!p->tg->has_quarters)
    return;
  args_add(a, "COMMENT:\\l");
  for (k = 1; k <= last; k++) {
    args_start(a);
    args_cat(a, "VRULE:%lld%s: %s%s ", (long long)p->T[k], COLOUR_QUARTER, quarter_zh[k - 1],
             standard ? "标准" : "目标");
    args_cat_figure(a, p->tg->quarters[k - 1], unit);
    args_end(a);
  }
}

/* "阶段：0 未启动　1 建设中　2 已完成": the y axis counts stages, this names them. */
static void add_stage_names(struct graph_args *a, const struct graph_plan *p) {
  int i;

  args_add(a, "COMMENT:\\l");
  args_start(a);
  args_cat(a, "COMMENT: 阶段：");
  for (i = 0; i < p->ind->stages.n; i++) {
    args_cat(a, "%s%d ", i > 0 ? "　" : "", i);
    args_cat_escaped(a, p->ind->stages.items[i]);
  }
  args_end(a);
}

/* The drawing elements after the options: data, plan, legends. */
static void add_elements(struct graph_args *a, const struct graph_plan *p, const char *def_path,
                         int64_t at) {
  const struct pw_indicator *ind = p->ind;
  const char *unit = ind->unit != NULL ? ind->unit : "";
  int progress = ind->kind == PW_KIND_CUMULATIVE || ind->kind == PW_KIND_LEVEL;

  args_start(a);
  args_cat(a, "DEF:v=");
  args_cat_escaped(a, def_path);
  args_cat(a, ":value:LAST");
  args_end(a);
  /* Every CDEF needs a data source for its time base; `t` is the middle of each data row, the
   * time the pixels drawn from that row stand for (TIME is the row's end). */
  args_add(a, "CDEF:t=v,POP,TIME,STEPWIDTH,2,/,-");
  args_add(a, "CDEF:zero=v,POP,UNKN");
  add_values(a, p, at);
  add_status(a, p);
  add_value_line(a, p, unit);
  if (p->tg == NULL) {
    if (ind->kind == PW_KIND_MILESTONE && ind->stages.n > 0)
      add_stage_names(a, p);
    return;
  }

  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    args_start(a);
    args_cat(a, "CDEF:pace=");
    cat_pace(a, p);
    args_end(a);
    args_add(a, "LINE1:pace%s: 序时目标", COLOUR_PACE);
    break;
  case PW_KIND_STANDARD:
    /* A single standard is a horizontal rule with its value in the legend; a pace line on
     * top of it would only repeat it. */
    if (p->tg->has_quarters) {
      args_start(a);
      args_cat(a, "CDEF:pace=");
      cat_pace(a, p);
      args_end(a);
      args_add(a, "LINE1:pace%s: 标准", COLOUR_PACE);
    } else {
      args_start(a);
      args_cat(a, "HRULE:%.17g%s: 标准 %s", p->tg->standard, COLOUR_TARGET,
               ind->direction_down ? "≤" : "≥");
      args_cat_figure(a, p->tg->standard, unit);
      args_end(a);
    }
    break;
  case PW_KIND_MILESTONE:
    args_start(a);
    args_cat(a, "CDEF:pace=");
    cat_pace(a, p);
    args_end(a);
    /* Stage lines lie on the integer grid lines: a thin line would vanish into them. */
    args_add(a, "LINE2:pace%s: 计划阶段", COLOUR_PACE);
    break;
  }
  if (progress) {
    args_start(a);
    args_cat(a, "HRULE:%.17g%s: 年度目标 ", p->A, COLOUR_TARGET);
    args_cat_figure(a, p->A, unit);
    args_end(a);
    add_projection(a, p, unit);
  }
  /* The reported values once more, without a legend: their legend comes first, but the line
   * itself belongs on top of the plan. */
  args_add(a, "LINE2:vl%s", COLOUR_VALUE);
  if (ind->kind == PW_KIND_MILESTONE)
    add_stage_names(a, p);
  else
    add_quarters(a, p, unit);
}

/* The least range of the value axis (without --rigid, rrd_graph widens it to fit the data).
 * Horizontal rules do not count in rrd_graph's own scaling, so without this the annual target
 * or a single standard outside the data would fall off the graph; the margin keeps a rule off
 * the frame. A count starts from nothing; levels and standards are read against their own
 * range. */
static void add_value_range(struct graph_args *a, const struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  double lo = NAN, hi = NAN, margin;

  if (p->tg != NULL && (ind->kind == PW_KIND_CUMULATIVE || ind->kind == PW_KIND_LEVEL)) {
    margin = 0.05 * fabs(p->A - p->B);
    lo = fmin(p->A, p->B) - margin;
    hi = fmax(p->A, p->B) + margin;
  } else if (p->tg != NULL && ind->kind == PW_KIND_STANDARD && !p->tg->has_quarters) {
    margin = p->tg->standard != 0.0 ? 0.05 * fabs(p->tg->standard) : 1.0;
    lo = p->tg->standard - margin;
    hi = p->tg->standard + margin;
  }
  if (ind->kind == PW_KIND_CUMULATIVE)
    lo = p->tg != NULL ? fmin(0.0, fmin(p->A, p->B)) : 0.0;
  if (isfinite(lo)) {
    args_add(a, "--lower-limit");
    args_add(a, "%.17g", lo);
  }
  if (isfinite(hi)) {
    args_add(a, "--upper-limit");
    args_add(a, "%.17g", hi);
  }
}

/* The options: the year, size, fonts, Chinese month labels, axis, title. */
static void add_options(struct graph_args *a, const struct pw_graph_request *req,
                        const struct graph_plan *p) {
  const struct pw_indicator *ind = p->ind;
  int small = req->small;

  args_add(a, "--imgformat");
  args_add(a, "%s", req->format == PW_GRAPH_SVG ? "SVG" : "PNG");
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
  /* Month labels centred on their month; the weekday names of the default grid would follow
   * the process locale, which is C for a daemon. A small graph has no room for weekly lines:
   * its major lines mark the quarters instead. */
  args_add(a, "--x-grid");
  args_add(a, "%s",
           small ? "MONTH:1:MONTH:3:MONTH:1:2592000:%-m月"
                 : "WEEK:1:MONTH:1:MONTH:1:2592000:%-m月");
  args_add(a, "--disable-rrdtool-tag");
  /* Figures as the county writes them (190000, not "190 k"). */
  args_add(a, "--units-exponent");
  args_add(a, "0");
  if (ind->kind == PW_KIND_MILESTONE) {
    /* The axis counts stages: a line and a whole number per stage, with a margin so that the
     * first stage is not drawn on the axis itself. */
    int top = ind->stages.n > 1 ? ind->stages.n - 1 : 1;

    args_add(a, "--vertical-label");
    args_add(a, "阶段");
    args_add(a, "--rigid");
    args_add(a, "--lower-limit");
    args_add(a, "-0.2");
    args_add(a, "--upper-limit");
    args_add(a, "%d.2", top);
    args_add(a, "--y-grid");
    args_add(a, "1:1");
    args_add(a, "--left-axis-format");
    args_add(a, "%%.0lf");
  } else {
    /* The axis label is drawn turned by 90 degrees; a lone Chinese unit such as 个 would then
     * read as an arrow, a phrase reads as turned text. */
    if (ind->unit != NULL && ind->unit[0] != '\0') {
      args_add(a, "--vertical-label");
      args_add(a, "单位：%s", ind->unit);
    }
    add_value_range(a, p);
  }
  args_add(a, "--title");
  if (p->v != NULL)
    args_add(a, "%s  %s", ind->name, pw_status_label_zh(p->v->status));
  else
    args_add(a, "%s", ind->name);
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
                          char *def_path, size_t size, const char **daemon, char *err,
                          size_t errlen) {
  const struct pw_store *s = req->store;
  const char *id = p->ind->id;
  char path[PATH_MAX];
  const char *kind = "";
  int n = snprintf(path, sizeof(path), "%s/%s.rrd", s->dir, id), rc;

  *daemon = NULL;
  if (n < 0 || (size_t)n >= sizeof(path))
    return fail(err, errlen, id, -ENAMETOOLONG, "RRD file name too long under %s", s->dir);
  /* Not opened unless it is a regular file: rrd_graph would wait for ever on a FIFO (with the
   * store lock held) and follow a link. The daemon rebuilds such a file from the journal. */
  rc = pw_regular_file(path, &kind);
  if (rc == -ENOENT)
    return make_placeholder(req->tmp_dir, p, def_path, size, err, errlen);
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
  char def_path[PATH_MAX];
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
  rc = resolve_source(req, &p, def_path, sizeof(def_path), &daemon, err, errlen);
  if (rc < 0)
    return rc;

  /* Numbers in the arguments need a '.' whatever locale the process runs under, and librrd
   * parses them back with the thread's locale; the C locale also keeps UTF-8 text from being
   * "converted" from an 8-bit locale. uselocale changes this thread only. */
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  if (c_locale != (locale_t)0)
    old = uselocale(c_locale);

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
  add_elements(&a, &p, def_path, req->at);

  if (a.overflow)
    rc = fail(err, errlen, id, -E2BIG, "graph: its names and legends exceed %d bytes", ARGS_TEXT);
  else
    rc = run_graph(req, &a, daemon != NULL, img, id, err, errlen);

  if (c_locale != (locale_t)0) {
    uselocale(old);
    freelocale(c_locale);
  }
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
