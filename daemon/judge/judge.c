/*
 * judge: the judgement of docs/judgement.md, as one pure function of an indicator's
 * configuration, its journaled samples, the calendar's precomputed boundaries and an instant.
 * The daemon, `pacewatch status --at`, the briefing and the HTTP server all call it, so that
 * every reader of a verdict agrees; for the same reason it does no I/O, reads no clock, calls
 * no localtime and allocates nothing: everything it needs arrives in its arguments.
 */
#include "judge.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define SECONDS_PER_DAY 86400.0

/* Size of the on-stack filter of as_of values already met while scanning the journal backwards
 * (bits). 8 KiB keeps false positives rare for many years of daily samples. */
#define SEEN_BITS 65536u

/* What one backward pass over the journal finds out. */
struct scan {
  const struct pw_sample *latest_any;  /* effective sample with the latest as_of, any year */
  const struct pw_sample *latest_year; /* the same among samples in Y */
  /* Running means and co-moments (Welford) of the projection's points, x in days from T0. */
  double count, mean_x, mean_y, m2_x, c_xy;
};

/* A first value counts from the earlier of its own date and its arrival, so figures "as of
 * today" count the moment they arrive and imported history counts from its date. A revision
 * counts only from its own arrival: judging a past instant must not rewrite it with figures
 * nobody had then. */
static int known(const struct pw_sample *s, int64_t at) {
  if (s->rev == 0)
    return (s->as_of < s->fetched_at ? s->as_of : s->fetched_at) <= at;
  return s->fetched_at <= at;
}

/* Whether a sample journaled after I, for the same as_of, is known at AT. */
static int superseded(const struct pw_sample *samples, size_t n, size_t i, int64_t at) {
  size_t j;

  for (j = i + 1; j < n; j++)
    if (samples[j].as_of == samples[i].as_of && known(&samples[j], at))
      return 1;
  return 0;
}

int pw_judge_effective(const struct pw_sample *samples, size_t n, size_t i, int64_t at) {
  if (samples == NULL || i >= n)
    return 0;
  return known(&samples[i], at) && !superseded(samples, n, i, at);
}

const char *pw_status_name(enum pw_status status) {
  switch (status) {
  case PW_STATUS_OK:
    return "ok";
  case PW_STATUS_LAGGING:
    return "lagging";
  case PW_STATUS_SEVERE:
    return "severe";
  case PW_STATUS_NO_DATA:
    return "no_data";
  case PW_STATUS_NO_TARGET:
    return "no_target";
  }
  return "unknown";
}

const char *pw_status_label_zh(enum pw_status status) {
  switch (status) {
  case PW_STATUS_OK:
    return "正常";
  case PW_STATUS_LAGGING:
    return "滞后";
  case PW_STATUS_SEVERE:
    return "严重滞后";
  case PW_STATUS_NO_DATA:
    return "无数据";
  case PW_STATUS_NO_TARGET:
    return "未下达";
  }
  return "未知";
}

/* Fibonacci hashing of an as_of onto the filter: as_of values are usually whole days or hours,
 * and the multiplication spreads such regular values over all the bits. */
static unsigned seen_slot(int64_t as_of) {
  return (unsigned)(((uint64_t)as_of * UINT64_C(0x9E3779B97F4A7C15)) >> 48);
}

/* One pass over the journal from its end, visiting each effective sample once. Going
 * backwards, a sample is superseded only if a later one of its as_of is known; the filter
 * remembers which as_of values later known samples had, so the quadratic search for a
 * superseding revision runs only on the rare filter hits instead of for every sample. */
static void scan_samples(const struct pw_sample *samples, size_t n, int64_t at, const int64_t *T,
                         double baseline, struct scan *sc) {
  unsigned char seen[SEEN_BITS / 8];
  size_t k;

  memset(seen, 0, sizeof(seen));
  memset(sc, 0, sizeof(*sc));
  /* The projection's line always passes through the year's start point (T0, B). */
  sc->count = 1.0;
  sc->mean_y = baseline;
  for (k = n; k-- > 0;) {
    const struct pw_sample *s = &samples[k];
    unsigned slot;

    if (!known(s, at))
      continue;
    slot = seen_slot(s->as_of);
    if ((seen[slot >> 3] & (1u << (slot & 7))) && superseded(samples, n, k, at))
      continue;
    seen[slot >> 3] |= (unsigned char)(1u << (slot & 7));

    /* Effective samples have distinct as_of values, so "latest" has no ties. */
    if (sc->latest_any == NULL || s->as_of > sc->latest_any->as_of)
      sc->latest_any = s;
    if (T != NULL && s->as_of > T[0] && s->as_of <= T[4]) {
      /* x in days from T0: seconds since the epoch squared would lose the digits OLS needs. */
      double x = (double)(s->as_of - T[0]) / SECONDS_PER_DAY;
      double dx, dy;

      if (sc->latest_year == NULL || s->as_of > sc->latest_year->as_of)
        sc->latest_year = s;
      sc->count += 1.0;
      dx = x - sc->mean_x;
      dy = s->value - sc->mean_y;
      sc->mean_x += dx / sc->count;
      sc->mean_y += dy / sc->count;
      sc->m2_x += dx * (x - sc->mean_x);
      sc->c_xy += dx * (s->value - sc->mean_y);
    }
  }
}

/* Whether TG holds what its indicator's kind needs. Configuration validation guarantees it; the
 * check keeps a malformed structure from dividing by zero or reading unset fields, and such a
 * target is treated as no target at all. */
static int target_usable(const struct pw_indicator *ind, const struct pw_target *tg) {
  double baseline = tg->has_baseline ? tg->baseline : 0.0;

  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    return tg->has_annual && tg->annual != baseline;
  case PW_KIND_STANDARD:
    return tg->has_standard || tg->has_quarters;
  case PW_KIND_MILESTONE:
    return ind->stages.n >= 1;
  }
  return 0;
}

const struct pw_target *pw_judge_target(const struct pw_indicator *ind, int year) {
  const struct pw_target *tg = pw_config_target(ind, year);

  return tg != NULL && target_usable(ind, tg) ? tg : NULL;
}

/* Whether a cumulative or level target paces by its quarters. A quarterly or step pace without
 * quarters (which validation rejects) falls back to linear, the only pace it can support. */
static int paced_by_quarters(const struct pw_indicator *ind, const struct pw_target *tg) {
  enum pw_pace pace = pw_config_pace(ind, tg);

  return tg->has_quarters && (pace == PW_PACE_QUARTERLY || pace == PW_PACE_STEP);
}

int pw_judge_path(const struct pw_indicator *ind, const struct pw_calendar *cal, int year,
                  struct pw_judge_path *out) {
  int i;

  memset(out, 0, sizeof(*out));
  out->ind = ind;
  out->tg = pw_judge_target(ind, year);
  if (out->tg == NULL || pw_calendar_bounds(cal, year, out->T) < 0)
    return -1;
  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    if (paced_by_quarters(ind, out->tg)) {
      out->shape = pw_config_pace(ind, out->tg) == PW_PACE_STEP ? PW_PATH_STEP : PW_PATH_LINEAR;
      out->n = 5;
    } else {
      out->shape = PW_PATH_LINEAR;
      out->n = 2;
    }
    break;
  case PW_KIND_STANDARD:
    out->shape = PW_PATH_STEP;
    out->n = out->tg->has_quarters ? 4 : 1;
    break;
  case PW_KIND_MILESTONE:
    /* Stage 0 until the first due date, then each stage from the end of its due day. */
    out->shape = PW_PATH_STEP;
    out->n = 1;
    for (i = 0; i < ind->stages.n && out->tg->due != NULL; i++)
      if (out->tg->due[i] != 0)
        out->n++;
    break;
  }
  return 0;
}

void pw_judge_path_point(const struct pw_judge_path *p, int k, int64_t *t, double *v) {
  const struct pw_target *tg = p->tg;
  int i;

  *t = p->T[0];
  *v = 0.0;
  switch (p->ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL: {
    double B = tg->has_baseline ? tg->baseline : 0.0;
    if (p->n == 2) {
      *t = p->T[k == 0 ? 0 : 4];
      *v = k == 0 ? B : tg->annual;
    } else {
      /* B at T0, the quarterly targets at T1..T3, the annual target at T4. */
      *t = p->T[k];
      *v = k == 0 ? B : k == 4 ? tg->annual : tg->quarters[k - 1];
    }
    break;
  }
  case PW_KIND_STANDARD:
    /* A quarter ends at Tk inclusive (the quarter of t is that of t - 1 s): the next quarter's
     * standard holds from the second after. */
    if (!tg->has_quarters) {
      *v = tg->standard;
    } else {
      *t = k == 0 ? p->T[0] : p->T[k] + 1;
      *v = tg->quarters[k];
    }
    break;
  case PW_KIND_MILESTONE:
    /* Point K >= 1 is the K-th stage that has a due date. */
    for (i = 0; k > 0 && i < p->ind->stages.n; i++)
      if (tg->due[i] != 0 && --k == 0) {
        *t = tg->due[i];
        *v = (double)i;
      }
    break;
  }
}

double pw_judge_path_at(const struct pw_judge_path *p, int64_t t) {
  int64_t tk, tn;
  double v, vn;
  int k;

  pw_judge_path_point(p, 0, &tk, &v);
  if (p->shape == PW_PATH_STEP) {
    for (k = 1; k < p->n; k++) {
      pw_judge_path_point(p, k, &tn, &vn);
      if (tn <= t)
        v = vn;
    }
    return v;
  }
  if (p->n < 2)
    return v;
  /* The first segment whose end is not before t; the last one beyond it. */
  for (k = 0;; k++) {
    pw_judge_path_point(p, k + 1, &tn, &vn);
    if (t <= tn || k + 2 >= p->n)
      break;
    tk = tn;
    v = vn;
  }
  /* Subtract instants as integers first: a double keeps whole seconds of epoch times exactly,
   * but the differences are what the ratio needs. */
  return v + (vn - v) * (double)(t - tk) / (double)(tn - tk);
}

/* Stage index of a milestone value. The journal stores the index as a number; anything out of
 * range (which validation of records and imports rejects) is clamped so that the stage always
 * names one of the configured stages. */
static int stage_of(double value, int n_stages) {
  if (isnan(value) || value < 0.0)
    return 0;
  if (value >= (double)(n_stages - 1))
    return n_stages - 1;
  return (int)value;
}

/* Rounding to 9 decimals first keeps floating-point noise (5.0000000000000036 from decimal
 * figures) from tipping a lag that is exactly at a threshold over it. */
static enum pw_status classify(double lag, double warn, double crit) {
  double r = round(lag * 1e9) / 1e9;

  if (r <= warn)
    return PW_STATUS_OK;
  if (r <= crit)
    return PW_STATUS_LAGGING;
  return PW_STATUS_SEVERE;
}

static void judge_progress(const struct pw_judge_path *path, const struct scan *sc,
                           const struct pw_sample *S, int64_t t, struct pw_verdict *out) {
  const struct pw_target *tg = path->tg;
  const int64_t *T = path->T;
  double A = tg->annual;
  double B = tg->has_baseline ? tg->baseline : 0.0;
  double E = pw_judge_path_at(path, t);

  out->target = A;
  out->expected = E;
  out->completion_pct = 100.0 * (S->value - B) / (A - B);
  out->pace_pct = 100.0 * (E - B) / (A - B);
  out->lag = out->pace_pct - out->completion_pct;
  out->lag_unit = PW_LAG_UNIT_PP;
  out->has_pct = 1;
  /* A projection extrapolates this year's figures; a carried value from an earlier year has
   * none to extrapolate from. count > 1 always holds when S is in Y, since every sample in Y
   * lies after T0; the check only guards the division. */
  if (S == sc->latest_year && sc->count > 1.0 && sc->m2_x > 0.0) {
    double x4 = (double)(T[4] - T[0]) / SECONDS_PER_DAY;
    double proj = sc->mean_y + (sc->c_xy / sc->m2_x) * (x4 - sc->mean_x);

    out->has_projection = 1;
    out->projection_pct = 100.0 * (proj - B) / (A - B);
  }
}

static void judge_standard(const struct pw_judge_path *path, const struct pw_sample *S, int64_t t,
                           struct pw_verdict *out) {
  double standard = pw_judge_path_at(path, t);

  out->target = standard;
  out->expected = standard;
  out->lag = path->ind->direction_down ? S->value - standard : standard - S->value;
  out->lag_unit = PW_LAG_UNIT_UNIT;
}

static void judge_milestone(const struct pw_judge_path *path, int c, int64_t t,
                            struct pw_verdict *out) {
  const struct pw_target *tg = path->tg;
  int n = path->ind->stages.n;
  int i;
  int64_t earliest = 0;
  int have_earliest = 0;

  for (i = 0; i < n && tg->due != NULL; i++) {
    int64_t due = tg->due[i];

    if (due == 0 || due > t)
      continue;
    /* Lateness runs from the first deadline missed among the stages not yet reached. */
    if (i > c && (!have_earliest || due < earliest)) {
      earliest = due;
      have_earliest = 1;
    }
  }
  out->target = (double)(n - 1);
  out->expected = pw_judge_path_at(path, t);
  out->lag = have_earliest ? (double)(t - earliest) / SECONDS_PER_DAY : 0.0;
  out->lag_unit = PW_LAG_UNIT_DAYS;
}

/* The period starting at month index P (year * 12 + month - 1) and LEN months long, and its
 * deadline. Returns 0, or -1 outside the calendar. */
static int due_period(const struct pw_indicator *ind, const struct pw_calendar *cal, int p, int len,
                      int64_t *from, int64_t *to, int64_t *by) {
  int y = p / 12, m = p % 12 + 1, ye = (p + len) / 12, me = (p + len) % 12 + 1;

  *from = pw_calendar_month_start(cal, y, m);
  *to = pw_calendar_month_start(cal, ye, me);
  if (*from < 0 || *to < 0)
    return -1;
  /* Monthly: the end of day report_day of the next month (clamped to its last day); quarterly:
   * report_after_quarter after the quarter's end. */
  *by = len == 1 ? pw_calendar_month_day_end(cal, ye, me, (int)ind->report_day)
                 : *to + ind->report_after_quarter;
  return *by < 0 ? -1 : 0;
}

void pw_judge_due(const struct pw_indicator *ind, const struct pw_calendar *cal, int64_t at,
                  const struct pw_sample *latest, struct pw_verdict *out) {
  int y, m, p, len;
  int64_t from, to, by, pfrom, pto, pby;

  if ((ind->report_day <= 0 && ind->report_after_quarter <= 0) ||
      pw_calendar_month_of(cal, at, &y, &m) < 0)
    return;
  /* The period whose figure is being collected: the last finished month or quarter. */
  len = ind->report_day > 0 ? 1 : 3;
  p = y * 12 + m - 1;
  p = len == 1 ? p - 1 : p - p % 3 - 3;
  if (due_period(ind, cal, p, len, &from, &to, &by) < 0)
    return;
  /* A figure is missing when no sample has an as_of in the period or later (a later figure
   * answers for an earlier one). While the period before is still missing after its own
   * deadline, that one stays due, so an overdue figure does not lapse when a month begins. */
  if (due_period(ind, cal, p - len, len, &pfrom, &pto, &pby) == 0 &&
      (latest == NULL || latest->as_of <= pfrom) && at >= pby) {
    p -= len;
    from = pfrom;
    to = pto;
    by = pby;
  }
  out->has_due = 1;
  out->due_from = from;
  out->due_to = to;
  out->due_by = by;
  out->due_year = p / 12;
  out->due_month = p % 12 + 1;
  out->due_months = len;
  if (latest == NULL || latest->as_of <= from) {
    out->overdue = at >= by;
    out->due_soon = !out->overdue && at >= by - ind->report_remind;
  }
}

void pw_judge(const struct pw_indicator *ind, const struct pw_sample *samples, size_t n,
              const struct pw_calendar *cal, int64_t at, struct pw_verdict *out) {
  int64_t T[5];
  int have_bounds;
  const struct pw_target *tg = NULL;
  struct pw_judge_path path;
  const struct pw_sample *S;
  double baseline = 0.0;
  int64_t ref, t;
  struct scan sc;

  memset(out, 0, sizeof(*out));
  out->status = PW_STATUS_NO_DATA;
  out->lag_unit = PW_LAG_UNIT_NONE;
  out->stage = -1;
  out->year = pw_calendar_year_of(cal, at);
  have_bounds = out->year != 0 && pw_calendar_bounds(cal, out->year, T) == 0;
  if (have_bounds)
    tg = pw_config_target(ind, out->year);
  if (tg != NULL && tg->has_baseline)
    baseline = tg->baseline;
  if (samples == NULL)
    n = 0;
  scan_samples(samples, n, at, have_bounds ? T : NULL, baseline, &sc);

  /* An instant outside the calendar's range has no T0 to fall back on; with no sample either,
   * nothing can have gone stale. */
  ref = sc.latest_any != NULL ? sc.latest_any->as_of : (have_bounds ? T[0] : at);
  out->stale = at - ref > ind->stale_after;
  /* A deadline replaces stale_after: the figure is late when the deadline says so. */
  pw_judge_due(ind, cal, at, sc.latest_any, out);
  if (out->has_due)
    out->stale = 0;

  if (tg == NULL || pw_judge_path(ind, cal, out->year, &path) < 0) {
    out->status = PW_STATUS_NO_TARGET;
    if (sc.latest_year != NULL) {
      out->has_value = 1;
      out->value = sc.latest_year->value;
      out->as_of = sc.latest_year->as_of;
      if (ind->kind == PW_KIND_MILESTONE && ind->stages.n >= 1)
        out->stage = stage_of(out->value, ind->stages.n);
    }
    return;
  }

  /* A value that holds until reported otherwise is judged now, whatever year it came from;
   * other figures are judged at their own as_of, against this year's pace. */
  if (ind->kind == PW_KIND_MILESTONE || ind->carry) {
    S = sc.latest_any;
    t = at;
  } else {
    S = sc.latest_year;
    t = S != NULL ? S->as_of : at;
  }
  if (S == NULL)
    return;

  out->has_value = 1;
  out->value = S->value;
  out->as_of = S->as_of;
  out->has_judgement = 1;
  switch (ind->kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    judge_progress(&path, &sc, S, t, out);
    break;
  case PW_KIND_STANDARD:
    judge_standard(&path, S, t, out);
    break;
  case PW_KIND_MILESTONE:
    out->stage = stage_of(S->value, ind->stages.n);
    judge_milestone(&path, out->stage, t, out);
    break;
  }
  out->status = classify(out->lag, ind->lag_warn, ind->lag_crit);
}

int pw_judge_expected(const struct pw_indicator *ind, const struct pw_calendar *cal, int64_t t,
                      double *out) {
  struct pw_judge_path path;
  int year = pw_calendar_year_of(cal, t);

  if (year == 0 || pw_judge_path(ind, cal, year, &path) < 0)
    return -1;
  *out = pw_judge_path_at(&path, t);
  return 0;
}
