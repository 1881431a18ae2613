/*
 * test_judge: unit tests of the judgement of docs/judgement.md (daemon/judge/judge.c). Indicators
 * and targets are built by hand, as config.c would leave them, and judged against instants
 * from the real calendar in Asia/Shanghai (one group in America/New_York, whose daylight
 * saving time makes quarters uneven in seconds). Expected figures are written from the
 * contract's formulas, or from its worked examples, never from the implementation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "calendar.h"
#include "config.h"
#include "judge.h"
#include "status.h"

#define DAY INT64_C(86400)
#define HOUR INT64_C(3600)

/* Calendars are large (one row per supported year), hence static. ACTIVE is the one judged
 * against; the New York tests switch it and their teardown switches back. */
static struct pw_calendar cal_sh;
static struct pw_calendar cal_ny;
static const struct pw_calendar *active = &cal_sh;

static char *stage_names[] = {"未启动", "建设中", "已完成"};

/* cmocka's assert_float_equal works in float precision, too coarse for these figures. */
static void near_impl(double got, double want, double eps, const char *expr, const char *file,
                      int line) {
  if (!(fabs(got - want) <= eps)) {
    print_error("%s = %.15g, expected %.15g (+/- %g)\n", expr, got, want, eps);
    _fail(file, line);
  }
}
#define assert_near(got, want, eps) near_impl((got), (want), (eps), #got, __FILE__, __LINE__)

static int64_t L(int y, int mo, int d) {
  return pw_calendar_local(y, mo, d, 0, 0, 0);
}

static int64_t T(int year, int k) {
  int64_t b[5];

  assert_int_equal(pw_calendar_bounds(active, year, b), 0);
  return b[k];
}

static void init_ind(struct pw_indicator *ind, enum pw_kind kind, struct pw_target *targets,
                     int n) {
  memset(ind, 0, sizeof(*ind));
  ind->id = "test_indicator";
  ind->kind = kind;
  ind->pace = PW_PACE_DEFAULT;
  ind->domain = ind->department = ind->source = -1;
  ind->targets = targets;
  ind->n_targets = n;
  ind->stale_after = 40 * DAY;
  /* The per-kind defaults config.c fills in. */
  switch (kind) {
  case PW_KIND_CUMULATIVE:
  case PW_KIND_LEVEL:
    ind->lag_warn = 5.0;
    ind->lag_crit = 15.0;
    break;
  case PW_KIND_STANDARD:
    ind->lag_warn = 0.0;
    ind->lag_crit = 5.0;
    break;
  case PW_KIND_MILESTONE:
    ind->lag_warn = 0.0;
    ind->lag_crit = 30.0;
    ind->stages.items = stage_names;
    ind->stages.n = 3;
    break;
  }
}

static struct pw_target progress_target(int year, double annual, double baseline,
                                        const double *quarters) {
  struct pw_target t;

  memset(&t, 0, sizeof(t));
  t.year = year;
  t.has_annual = 1;
  t.annual = annual;
  t.has_baseline = 1;
  t.baseline = baseline;
  if (quarters != NULL) {
    t.has_quarters = 1;
    memcpy(t.quarters, quarters, sizeof(t.quarters));
  }
  return t;
}

static struct pw_target standard_target(int year, double standard, const double *quarters) {
  struct pw_target t;

  memset(&t, 0, sizeof(t));
  t.year = year;
  if (quarters != NULL) {
    t.has_quarters = 1;
    memcpy(t.quarters, quarters, sizeof(t.quarters));
  } else {
    t.has_standard = 1;
    t.standard = standard;
  }
  return t;
}

static struct pw_target milestone_target(int year, int64_t *due) {
  struct pw_target t;

  memset(&t, 0, sizeof(t));
  t.year = year;
  t.due = due;
  return t;
}

/* A first value fetched the moment it is dated. */
static struct pw_sample smp(int64_t as_of, double value) {
  struct pw_sample s = {as_of, as_of, value, 0, NULL};
  return s;
}

static struct pw_sample smpf(int64_t as_of, double value, int64_t fetched_at, uint32_t rev) {
  struct pw_sample s = {as_of, fetched_at, value, rev, NULL};
  return s;
}

static struct pw_verdict judge(const struct pw_indicator *ind, const struct pw_sample *samples,
                               size_t n, int64_t at) {
  struct pw_verdict v;

  /* Garbage first, so that a field the judge forgets to set shows. */
  memset(&v, 0xa5, sizeof(v));
  pw_judge(ind, samples, n, active, at, &v);
  return v;
}

static struct pw_verdict judge_one(const struct pw_indicator *ind, int64_t as_of, double value,
                                   int64_t at) {
  struct pw_sample s = smp(as_of, value);
  return judge(ind, &s, 1, at);
}

static void assert_unjudged(const struct pw_verdict *v) {
  assert_false(v->has_judgement);
  assert_false(v->has_pct);
  assert_false(v->has_projection);
  assert_int_equal(v->lag_unit, PW_LAG_UNIT_NONE);
}

/* Ordinary least squares with intercept through (0, B) and the points (X[i] days, Y[i]),
 * evaluated at X4 days, written the textbook way as an independent check. */
static double ols_at(double B, const double *x, const double *y, int n, double x4) {
  double sx = 0, sy = B, sxx = 0, sxy = 0, m = n + 1, slope, icept;
  int i;

  for (i = 0; i < n; i++) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
  icept = (sy - slope * sx) / m;
  return icept + slope * x4;
}

static int setup_shanghai(void **state) {
  (void)state;
  active = &cal_sh;
  return pw_calendar_init(&cal_sh, "Asia/Shanghai");
}

static int setup_new_york(void **state) {
  (void)state;
  active = &cal_ny;
  return pw_calendar_init(&cal_ny, "America/New_York");
}

/* --- names ------------------------------------------------------------------------------- */

static void test_status_names(void **state) {
  (void)state;
  assert_string_equal(pw_status_name(PW_STATUS_OK), "ok");
  assert_string_equal(pw_status_name(PW_STATUS_LAGGING), "lagging");
  assert_string_equal(pw_status_name(PW_STATUS_SEVERE), "severe");
  assert_string_equal(pw_status_name(PW_STATUS_NO_DATA), "no_data");
  assert_string_equal(pw_status_name(PW_STATUS_NO_TARGET), "no_target");
  assert_string_equal(pw_status_label_zh(PW_STATUS_OK), "正常");
  assert_string_equal(pw_status_label_zh(PW_STATUS_LAGGING), "滞后");
  assert_string_equal(pw_status_label_zh(PW_STATUS_SEVERE), "严重滞后");
  assert_string_equal(pw_status_label_zh(PW_STATUS_NO_DATA), "无数据");
  assert_string_equal(pw_status_label_zh(PW_STATUS_NO_TARGET), "未下达");
}

/* --- what is known when ------------------------------------------------------------------- */

static void test_effective_rules(void **state) {
  int64_t a1 = L(2024, 3, 1), a2 = L(2024, 3, 10), f1 = L(2024, 3, 21), f2 = L(2024, 3, 25);
  struct pw_sample s[4];

  (void)state;
  s[0] = smpf(a1, 10, a1 + 10 * DAY, 0); /* imported later: known from its as_of */
  s[1] = smpf(a2, 20, a2 - HOUR, 0);     /* as_of ahead of arrival: known from arrival */
  s[2] = smpf(a1, 11, f1, 1);            /* a revision: known only from its own arrival */
  s[3] = smpf(a1, 12, f2, 2);

  assert_false(pw_judge_effective(s, 4, 0, a1 - 1));
  assert_true(pw_judge_effective(s, 4, 0, a1));
  assert_false(pw_judge_effective(s, 4, 1, a2 - HOUR - 1));
  assert_true(pw_judge_effective(s, 4, 1, a2 - HOUR));

  /* Before the revision arrives the value it replaced stands, although the revision's as_of
   * is long past. */
  assert_true(pw_judge_effective(s, 4, 0, f1 - 1));
  assert_false(pw_judge_effective(s, 4, 2, f1 - 1));
  assert_false(pw_judge_effective(s, 4, 0, f1));
  assert_true(pw_judge_effective(s, 4, 2, f1));
  assert_false(pw_judge_effective(s, 4, 3, f1));
  assert_false(pw_judge_effective(s, 4, 2, f2));
  assert_true(pw_judge_effective(s, 4, 3, f2));
  /* Other as_of values are unaffected by revisions of a1. */
  assert_true(pw_judge_effective(s, 4, 1, f2));

  assert_false(pw_judge_effective(s, 4, 4, f2));
  assert_false(pw_judge_effective(NULL, 0, 0, f2));
}

/* --- the contract's worked examples ------------------------------------------------------- */

static void test_contract_vocational_training(void **state) {
  double q[4] = {2600, 7800, 11700, 15600};
  struct pw_target tg = progress_target(2024, 15600, 0, q);
  struct pw_indicator ind;
  struct pw_sample s = smpf(L(2024, 4, 1), 4782, L(2024, 4, 8), 0);
  struct pw_verdict v;

  (void)state;
  tg.has_baseline = 0; /* baseline defaults to 0 */
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  v = judge(&ind, &s, 1, L(2024, 5, 1));
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_false(v.stale);
  assert_int_equal(v.year, 2024);
  assert_true(v.has_value);
  assert_near(v.value, 4782, 0);
  assert_true(v.as_of == L(2024, 4, 1));
  assert_true(v.has_judgement);
  assert_near(v.target, 15600, 0);
  assert_near(v.expected, 2600, 1e-9);
  assert_true(v.has_pct);
  assert_near(v.completion_pct, 30.654, 1e-3);
  assert_near(v.pace_pct, 16.667, 1e-3);
  assert_near(v.lag, -13.987, 1e-3);
  assert_int_equal(v.lag_unit, PW_LAG_UNIT_PP);
  assert_true(v.has_projection);
  assert_near(v.projection_pct, 123.289, 1e-3);
  assert_int_equal(v.stage, -1);
}

static void test_contract_health_checkups(void **state) {
  double q[4] = {28500, 95000, 142500, 190000};
  struct pw_target tg = progress_target(2024, 190000, 0, q);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_QUARTERLY;
  v = judge_one(&ind, L(2024, 5, 2), 37774, L(2024, 5, 10));
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  assert_near(v.expected, 51153.846, 1e-3);
  assert_near(v.completion_pct, 19.881, 1e-3);
  assert_near(v.pace_pct, 26.923, 1e-3);
  assert_near(v.lag, 7.042, 1e-3);
  assert_near(v.target, 190000, 0);
}

/* --- cumulative / level paces ------------------------------------------------------------- */

static void test_pace_linear_leap_year(void **state) {
  struct pw_target tg[2];
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  tg[0] = progress_target(2023, 365, 0, NULL);
  tg[1] = progress_target(2024, 366, 0, NULL);
  init_ind(&ind, PW_KIND_CUMULATIVE, tg, 2);

  /* July 1 is day 182 of leap 2024 and day 181 of 2023. */
  v = judge_one(&ind, L(2024, 7, 1), 150, L(2024, 7, 2));
  assert_int_equal(v.year, 2024);
  assert_near(v.expected, 182, 1e-9);
  assert_near(v.pace_pct, 100.0 * 182 / 366, 1e-9);
  assert_near(v.completion_pct, 100.0 * 150 / 366, 1e-9);
  assert_near(v.lag, 100.0 * 32 / 366, 1e-9);
  assert_int_equal(v.status, PW_STATUS_LAGGING);

  v = judge_one(&ind, L(2023, 7, 1), 150, L(2023, 7, 2));
  assert_int_equal(v.year, 2023);
  assert_near(v.expected, 181, 1e-9);
  assert_near(v.pace_pct, 100.0 * 181 / 365, 1e-9);
  assert_near(v.lag, 100.0 * 31 / 365, 1e-9);

  /* The first second of the year: almost nothing is expected yet. */
  v = judge_one(&ind, T(2024, 0) + 1, 0, T(2024, 0) + 1);
  assert_near(v.expected, 366.0 / (366 * DAY), 1e-12);
  assert_int_equal(v.status, PW_STATUS_OK);

  /* The year's last instant expects the whole target. */
  v = judge_one(&ind, T(2024, 4), 366, T(2024, 4));
  assert_int_equal(v.year, 2024);
  assert_near(v.expected, 366, 1e-9);
  assert_near(v.lag, 0, 1e-9);
}

static void test_pace_linear_with_baseline(void **state) {
  struct pw_target tg = progress_target(2024, 466, 100, NULL);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_LEVEL, &tg, 1);
  ind.pace = PW_PACE_LINEAR;
  v = judge_one(&ind, L(2024, 7, 1), 283, L(2024, 7, 1));
  assert_near(v.expected, 282, 1e-9);
  assert_near(v.completion_pct, 100.0 * 183 / 366, 1e-9);
  assert_near(v.pace_pct, 100.0 * 182 / 366, 1e-9);
  assert_near(v.lag, -100.0 / 366, 1e-9);
  assert_int_equal(v.status, PW_STATUS_OK);
}

static void test_pace_quarterly(void **state) {
  double q[4] = {10, 30, 60, 100};
  struct pw_target tg = progress_target(2024, 100, 0, q);
  struct pw_indicator ind;
  int64_t at = T(2024, 4);

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_QUARTERLY;
  /* The quarter ends hit the configured points exactly... */
  assert_near(judge_one(&ind, T(2024, 1), 0, at).expected, 10, 1e-9);
  assert_near(judge_one(&ind, T(2024, 2), 0, at).expected, 30, 1e-9);
  assert_near(judge_one(&ind, T(2024, 3), 0, at).expected, 60, 1e-9);
  assert_near(judge_one(&ind, T(2024, 4), 0, at).expected, 100, 1e-9);
  /* ...and the segments between them are straight: Q1 has 91 days, Q2 91, Q4 92. */
  assert_near(judge_one(&ind, T(2024, 0) + 91 * DAY / 2, 0, at).expected, 5, 1e-9);
  assert_near(judge_one(&ind, T(2024, 1) + 91 * DAY / 2, 0, at).expected, 20, 1e-9);
  assert_near(judge_one(&ind, T(2024, 3) + 46 * DAY, 0, at).expected, 80, 1e-9);
  assert_near(judge_one(&ind, T(2024, 1) + 1, 0, at).expected, 10 + 20.0 / (91 * DAY), 1e-12);
}

static void test_pace_step(void **state) {
  double q[4] = {10, 30, 60, 100};
  struct pw_target tg = progress_target(2024, 100, 5, q);
  struct pw_indicator ind;
  int64_t at = T(2024, 4);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_STEP;
  /* Before the first quarter ends nothing beyond the baseline is expected. */
  v = judge_one(&ind, T(2024, 0) + 1, 5, at);
  assert_near(v.expected, 5, 0);
  assert_near(v.pace_pct, 0, 0);
  assert_near(v.lag, 0, 0);
  assert_near(judge_one(&ind, T(2024, 1) - 1, 0, at).expected, 5, 0);
  /* From the instant a quarter ends its whole figure is due. */
  v = judge_one(&ind, T(2024, 1), 5, at);
  assert_near(v.expected, 10, 0);
  assert_near(v.pace_pct, 100.0 * 5 / 95, 1e-9);
  assert_near(judge_one(&ind, T(2024, 1) + 1, 0, at).expected, 10, 0);
  assert_near(judge_one(&ind, T(2024, 2) - 1, 0, at).expected, 10, 0);
  assert_near(judge_one(&ind, T(2024, 2), 0, at).expected, 30, 0);
  assert_near(judge_one(&ind, T(2024, 3) - 1, 0, at).expected, 30, 0);
  assert_near(judge_one(&ind, T(2024, 3), 0, at).expected, 60, 0);
  assert_near(judge_one(&ind, T(2024, 4) - 1, 0, at).expected, 60, 0);
  assert_near(judge_one(&ind, T(2024, 4), 0, at).expected, 100, 0);
}

static void test_pace_default_resolution(void **state) {
  double q[4] = {40, 50, 60, 100};
  struct pw_target with_q = progress_target(2024, 100, 0, q);
  struct pw_target without_q = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;

  (void)state;
  /* Default with quarters: quarterly, so T1 expects q1 rather than 91/366 of the target. */
  init_ind(&ind, PW_KIND_CUMULATIVE, &with_q, 1);
  assert_near(judge_one(&ind, T(2024, 1), 0, T(2024, 4)).expected, 40, 1e-9);
  /* An explicit linear pace ignores the quarters. */
  ind.pace = PW_PACE_LINEAR;
  assert_near(judge_one(&ind, T(2024, 1), 0, T(2024, 4)).expected, 100.0 * 91 / 366, 1e-9);
  /* Default without quarters: linear. */
  init_ind(&ind, PW_KIND_CUMULATIVE, &without_q, 1);
  assert_near(judge_one(&ind, T(2024, 1), 0, T(2024, 4)).expected, 100.0 * 91 / 366, 1e-9);
  /* Quarterly or step without quarters is rejected by validation; judge falls back to the
   * linear pace rather than reading unset quarters. */
  ind.pace = PW_PACE_QUARTERLY;
  assert_near(judge_one(&ind, T(2024, 1), 0, T(2024, 4)).expected, 100.0 * 91 / 366, 1e-9);
  ind.pace = PW_PACE_STEP;
  assert_near(judge_one(&ind, T(2024, 1), 0, T(2024, 4)).expected, 100.0 * 91 / 366, 1e-9);
}

static void test_level_falling_target(void **state) {
  double q[4] = {7.5, 7.0, 6.0, 5.0};
  struct pw_target tg = progress_target(2024, 5.0, 8.0, q);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_LEVEL, &tg, 1);
  /* Falling from 8 towards 5: being at 7.2 when 7.5 is due is ahead of the pace. */
  v = judge_one(&ind, T(2024, 1), 7.2, L(2024, 4, 5));
  assert_near(v.expected, 7.5, 1e-12);
  assert_near(v.completion_pct, 100.0 * 0.8 / 3, 1e-9);
  assert_near(v.pace_pct, 100.0 * 0.5 / 3, 1e-9);
  assert_near(v.lag, -10, 1e-9);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_near(v.projection_pct, 100.0 * (0.8 * 366 / 91) / 3, 1e-9);

  v = judge_one(&ind, T(2024, 2), 7.9, L(2024, 7, 5));
  assert_near(v.expected, 7.0, 1e-12);
  assert_near(v.lag, 30, 1e-9);
  assert_int_equal(v.status, PW_STATUS_SEVERE);
}

/* --- thresholds --------------------------------------------------------------------------- */

static void test_thresholds_pp(void **state) {
  double q[4] = {25, 50, 75, 100};
  double q29[4] = {0.725, 1.45, 2.175, 2.9};
  struct pw_target tg = progress_target(2024, 100, 0, q);
  struct pw_target tg29 = progress_target(2024, 2.9, 0, q29);
  struct pw_indicator ind;
  int64_t as_of = T(2024, 1) + DAY, at = as_of + DAY;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_STEP; /* pace_pct is exactly 25 */

  v = judge_one(&ind, as_of, 20, at);
  assert_near(v.lag, 5, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
  v = judge_one(&ind, as_of, 19.9999999996, at); /* 5.0000000004 rounds to 5 */
  assert_true(v.lag > 5.0);
  assert_int_equal(v.status, PW_STATUS_OK);
  v = judge_one(&ind, as_of, 19.9999999994, at); /* 5.0000000006 rounds to 5.000000001 */
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 19.999999999, at);
  assert_near(v.lag, 5.000000001, 1e-12);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 10, at);
  assert_near(v.lag, 15, 0);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 9.999999999, at);
  assert_int_equal(v.status, PW_STATUS_SEVERE);
  v = judge_one(&ind, as_of, 30, at);
  assert_near(v.lag, -5, 0);
  assert_int_equal(v.status, PW_STATUS_OK);

  /* Decimal figures: 25 - 19.999999999999996 = 5.0000000000000036, which is 5. */
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg29, 1);
  ind.pace = PW_PACE_STEP;
  v = judge_one(&ind, as_of, 0.58, at);
  assert_true(v.lag > 5.0); /* the premise of this check */
  assert_near(v.lag, 5, 1e-12);
  assert_int_equal(v.status, PW_STATUS_OK);
}

static void test_thresholds_standard(void **state) {
  struct pw_target tg = standard_target(2024, 90, NULL);
  struct pw_target tg83 = standard_target(2024, 8.3, NULL);
  struct pw_indicator ind;
  int64_t as_of = L(2024, 5, 1), at = L(2024, 5, 2);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_STANDARD, &tg, 1);
  v = judge_one(&ind, as_of, 90, at);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_near(v.target, 90, 0);
  assert_near(v.expected, 90, 0);
  assert_int_equal(v.lag_unit, PW_LAG_UNIT_UNIT);
  assert_false(v.has_pct);
  assert_false(v.has_projection);
  assert_int_equal(v.stage, -1);
  assert_int_equal(judge_one(&ind, as_of, 95, at).status, PW_STATUS_OK);
  assert_int_equal(judge_one(&ind, as_of, 89.999999999, at).status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 85, at);
  assert_near(v.lag, 5, 0);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  assert_int_equal(judge_one(&ind, as_of, 84.999999999, at).status, PW_STATUS_SEVERE);

  /* 8.3 - 3.3 = 5.000000000000001 in binary, still 5: within lag_warn here... */
  init_ind(&ind, PW_KIND_STANDARD, &tg83, 1);
  ind.lag_warn = 5;
  ind.lag_crit = 10;
  v = judge_one(&ind, as_of, 3.3, at);
  assert_true(v.lag > 5.0);
  assert_int_equal(v.status, PW_STATUS_OK);
  /* ...and within lag_crit with the default thresholds. */
  ind.lag_warn = 0;
  ind.lag_crit = 5;
  assert_int_equal(judge_one(&ind, as_of, 3.3, at).status, PW_STATUS_LAGGING);
}

static void test_standard_direction_down(void **state) {
  struct pw_target tg = standard_target(2024, 10, NULL);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_STANDARD, &tg, 1);
  ind.direction_down = 1;
  v = judge_one(&ind, L(2024, 5, 1), 12, L(2024, 5, 2));
  assert_near(v.lag, 2, 0);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, L(2024, 5, 1), 8, L(2024, 5, 2));
  assert_near(v.lag, -2, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
  v = judge_one(&ind, L(2024, 5, 1), 16, L(2024, 5, 2));
  assert_int_equal(v.status, PW_STATUS_SEVERE);
}

static void test_standard_quarter_instant(void **state) {
  double q[4] = {10, 20, 30, 40};
  struct pw_target tg = standard_target(2024, 0, q);
  struct pw_indicator ind;
  int64_t at = T(2024, 4);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_STANDARD, &tg, 1);
  v = judge_one(&ind, T(2024, 0) + 1, 15, at);
  assert_near(v.expected, 10, 0);
  /* A figure as of exactly the end of Q1 belongs to Q1... */
  v = judge_one(&ind, T(2024, 1), 15, at);
  assert_near(v.target, 10, 0);
  assert_near(v.expected, 10, 0);
  assert_near(v.lag, -5, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
  /* ...one second later it is judged against Q2's standard. */
  v = judge_one(&ind, T(2024, 1) + 1, 15, at);
  assert_near(v.target, 20, 0);
  assert_near(v.lag, 5, 0);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  assert_near(judge_one(&ind, T(2024, 2), 15, at).expected, 20, 0);
  assert_near(judge_one(&ind, T(2024, 3), 15, at).expected, 30, 0);
  assert_near(judge_one(&ind, T(2024, 3) + 1, 15, at).expected, 40, 0);
  assert_near(judge_one(&ind, T(2024, 4), 15, at).expected, 40, 0);
}

/* --- years -------------------------------------------------------------------------------- */

static void test_first_second_of_year(void **state) {
  struct pw_target tg[2];
  struct pw_indicator ind;
  struct pw_sample s[2];
  int64_t t0 = T(2024, 0);
  struct pw_verdict v;

  (void)state;
  tg[0] = progress_target(2023, 100, 0, NULL);
  tg[1] = progress_target(2024, 200, 0, NULL);
  init_ind(&ind, PW_KIND_CUMULATIVE, tg, 2);
  s[0] = smp(t0, 100); /* as of 2024-01-01T00:00: the end of 2023 */

  /* T0 itself still belongs to the year that ends there. */
  v = judge(&ind, s, 1, t0);
  assert_int_equal(v.year, 2023);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_near(v.target, 100, 0);
  assert_near(v.expected, 100, 1e-9);
  assert_near(v.projection_pct, 100, 1e-9);

  /* One second later it is 2024, which has no sample yet. */
  v = judge(&ind, s, 1, t0 + 1);
  assert_int_equal(v.year, 2024);
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_false(v.has_value);
  assert_unjudged(&v);
  assert_false(v.stale);

  s[1] = smp(t0 + 1, 1);
  v = judge(&ind, s, 2, t0 + 1);
  assert_int_equal(v.year, 2024);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_near(v.value, 1, 0);
  assert_near(v.target, 200, 0);
}

/* --- milestones --------------------------------------------------------------------------- */

static void test_milestone(void **state) {
  int64_t d1 = L(2024, 6, 1), d2 = L(2024, 10, 1); /* the ends of May 31 and Sep 30 */
  int64_t due[3] = {0, d1, d2};
  struct pw_target tg = milestone_target(2024, due);
  struct pw_indicator ind;
  int64_t as_of = L(2024, 2, 1);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_MILESTONE, &tg, 1);

  v = judge_one(&ind, as_of, 0, d1 - 1);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_int_equal(v.stage, 0);
  assert_near(v.target, 2, 0);
  assert_near(v.expected, 0, 0);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.lag_unit, PW_LAG_UNIT_DAYS);
  assert_true(v.has_judgement);
  assert_false(v.has_pct);
  assert_false(v.has_projection);
  assert_true(v.as_of == as_of);

  /* At the due instant the stage is expected, but zero days late is not late. */
  v = judge_one(&ind, as_of, 0, d1);
  assert_near(v.expected, 1, 0);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);

  v = judge_one(&ind, as_of, 0, d1 + DAY * 3 / 2);
  assert_near(v.lag, 1.5, 1e-12);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 0, d1 + 30 * DAY);
  assert_near(v.lag, 30, 0);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 0, d1 + 30 * DAY + 1);
  assert_int_equal(v.status, PW_STATUS_SEVERE);

  /* Lateness runs from the earliest deadline missed among stages not reached. */
  v = judge_one(&ind, as_of, 0, d2 + 10 * DAY);
  assert_near(v.expected, 2, 0);
  assert_near(v.lag, 122 + 10, 1e-12);
  assert_int_equal(v.status, PW_STATUS_SEVERE);
  v = judge_one(&ind, as_of, 1.7, d2 + 10 * DAY); /* any number: its integer part */
  assert_int_equal(v.stage, 1);
  assert_near(v.value, 1.7, 0);
  assert_near(v.lag, 10, 1e-12);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  v = judge_one(&ind, as_of, 2, d2 + 10 * DAY);
  assert_int_equal(v.stage, 2);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);

  /* Stage 1 reached before its deadline: nothing is late until stage 2's passes. */
  v = judge_one(&ind, as_of, 1, d2 - 1);
  assert_near(v.expected, 1, 0);
  assert_near(v.lag, 0, 0);
}

static void test_milestone_due_edge_cases(void **state) {
  int64_t due0[3] = {L(2024, 1, 16), 0, 0};
  struct pw_target tg = milestone_target(2024, due0);
  struct pw_target tg_nodue = milestone_target(2024, NULL);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_MILESTONE, &tg, 1);
  /* Stage 0 is reached by definition of c = 0; its own deadline never makes it late. */
  v = judge_one(&ind, L(2024, 1, 2), 0, L(2024, 12, 1));
  assert_near(v.expected, 0, 0);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);

  /* Stages without a date ("") are never expected nor late. */
  init_ind(&ind, PW_KIND_MILESTONE, &tg_nodue, 1);
  v = judge_one(&ind, L(2024, 1, 2), 0, L(2024, 12, 1));
  assert_near(v.expected, 0, 0);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);

  /* Indices out of range (rejected when recorded) are clamped to a configured stage. */
  assert_int_equal(judge_one(&ind, L(2024, 1, 2), 7, L(2024, 12, 1)).stage, 2);
  assert_int_equal(judge_one(&ind, L(2024, 1, 2), -1, L(2024, 12, 1)).stage, 0);
}

static void test_milestone_previous_year_sample(void **state) {
  int64_t due[3] = {0, L(2024, 6, 1), L(2024, 10, 1)};
  struct pw_target tg = milestone_target(2024, due);
  struct pw_indicator ind;
  struct pw_sample s[2];
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_MILESTONE, &tg, 1);
  ind.stale_after = 400 * DAY;
  s[0] = smp(L(2023, 11, 1), 0);
  s[1] = smp(L(2023, 12, 1), 1);
  /* The stage holds until reported otherwise, so last year's report counts now. */
  v = judge(&ind, s, 2, L(2024, 7, 1));
  assert_int_equal(v.year, 2024);
  assert_true(v.has_value);
  assert_true(v.as_of == L(2023, 12, 1));
  assert_int_equal(v.stage, 1);
  assert_near(v.expected, 1, 0);
  assert_near(v.lag, 0, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_false(v.stale);

  /* Without any sample: no data. */
  v = judge(&ind, NULL, 0, L(2024, 7, 1));
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_int_equal(v.stage, -1);
  assert_false(v.has_value);
  assert_unjudged(&v);
}

/* --- carry -------------------------------------------------------------------------------- */

static void test_carry_level(void **state) {
  struct pw_target tg = progress_target(2024, 200, 100, NULL);
  struct pw_indicator ind;
  struct pw_sample s[3];
  int64_t at = L(2024, 7, 1); /* day 182 of 366 */
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_LEVEL, &tg, 1);
  ind.carry = 1;
  ind.stale_after = 365 * DAY;
  s[0] = smp(L(2023, 11, 1), 150);

  /* Last year's value holds and is judged at `at`, not at its as_of. */
  v = judge(&ind, s, 1, at);
  assert_int_equal(v.status, PW_STATUS_OK);
  assert_true(v.as_of == L(2023, 11, 1));
  assert_near(v.expected, 100 + 100.0 * 182 / 366, 1e-9);
  assert_near(v.completion_pct, 50, 1e-9);
  assert_near(v.pace_pct, 100.0 * 182 / 366, 1e-9);
  assert_near(v.lag, 100.0 * 182 / 366 - 50, 1e-9);
  assert_true(v.has_pct);
  assert_false(v.has_projection); /* nothing of this year to project from */

  /* A sample of this year, still judged at `at`, with a projection. */
  s[1] = smp(L(2024, 3, 1), 120);
  v = judge(&ind, s, 2, at);
  assert_near(v.value, 120, 0);
  assert_near(v.expected, 100 + 100.0 * 182 / 366, 1e-9);
  assert_near(v.lag, 100.0 * 182 / 366 - 20, 1e-9);
  assert_int_equal(v.status, PW_STATUS_SEVERE);
  assert_true(v.has_projection);
  assert_near(v.projection_pct, 20.0 * 366 / 60, 1e-9);

  /* A figure dated in the next year (known: fetched before `at`) is the carried value, and
   * being outside Y it has no projection, though samples of Y exist. */
  s[2] = smpf(T(2024, 4) + 12 * HOUR, 180, T(2024, 4) - HOUR, 0);
  v = judge(&ind, s, 3, T(2024, 4) - 1);
  assert_int_equal(v.year, 2024);
  assert_near(v.value, 180, 0);
  assert_near(v.completion_pct, 80, 1e-9);
  assert_false(v.has_projection);

  /* Without carry, last year's value says nothing about this year. */
  ind.carry = 0;
  v = judge(&ind, s, 1, at);
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_false(v.has_value);
}

static void test_carry_standard(void **state) {
  double q[4] = {1, 2, 3, 4};
  struct pw_target tg = standard_target(2024, 0, q);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_STANDARD, &tg, 1);
  ind.carry = 1;
  /* A Q1 figure carried into Q3 is held to Q3's standard. */
  v = judge_one(&ind, L(2024, 2, 1), 2.5, L(2024, 8, 1));
  assert_near(v.target, 3, 0);
  assert_near(v.lag, 0.5, 1e-12);
  assert_int_equal(v.status, PW_STATUS_LAGGING);
  /* Without carry it is judged at its as_of, against Q1. */
  ind.carry = 0;
  v = judge_one(&ind, L(2024, 2, 1), 2.5, L(2024, 8, 1));
  assert_near(v.target, 1, 0);
  assert_int_equal(v.status, PW_STATUS_OK);
}

/* --- no target, no data ------------------------------------------------------------------- */

static void test_no_target(void **state) {
  struct pw_target tg = progress_target(2023, 100, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample s[3];
  int64_t t0 = T(2024, 0);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);

  v = judge(&ind, NULL, 0, t0 + 10 * DAY);
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_int_equal(v.year, 2024);
  assert_false(v.has_value);
  assert_unjudged(&v);
  assert_int_equal(v.stage, -1);
  assert_false(v.stale); /* 10 days after T0 */
  v = judge(&ind, NULL, 0, t0 + 40 * DAY + 1);
  assert_true(v.stale);

  /* value and as_of are the latest of this year's samples; judged fields stay absent. */
  s[0] = smp(L(2023, 12, 1), 90);
  s[1] = smp(L(2024, 3, 1), 30);
  s[2] = smp(L(2024, 2, 1), 20); /* journaled later, but earlier as_of */
  v = judge(&ind, s, 3, L(2024, 3, 5));
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_true(v.has_value);
  assert_near(v.value, 30, 0);
  assert_true(v.as_of == L(2024, 3, 1));
  assert_unjudged(&v);
  assert_false(v.stale);

  /* Last year's samples do not give this year a value, but they do count for staleness. */
  v = judge(&ind, s, 1, L(2024, 1, 5));
  assert_false(v.has_value);
  assert_false(v.stale);
  v = judge(&ind, s, 1, L(2023, 12, 1) + 40 * DAY + 1);
  assert_true(v.stale);

  /* targets = ( ) is valid configuration, judged no_target. */
  init_ind(&ind, PW_KIND_CUMULATIVE, NULL, 0);
  v = judge(&ind, s, 3, L(2024, 3, 5));
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_near(v.value, 30, 0);
}

static void test_no_target_milestone(void **state) {
  struct pw_indicator ind;
  struct pw_sample s[2];
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_MILESTONE, NULL, 0);
  s[0] = smp(L(2023, 12, 1), 2);
  s[1] = smp(L(2024, 2, 1), 1);
  v = judge(&ind, s, 2, L(2024, 3, 1));
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_near(v.value, 1, 0);
  assert_int_equal(v.stage, 1); /* the sample's stage is shown though nothing is judged */
  assert_unjudged(&v);
  /* Only this year's sample gives a no_target verdict its value. */
  v = judge(&ind, s, 1, L(2024, 3, 1));
  assert_false(v.has_value);
  assert_int_equal(v.stage, -1);
}

static void test_no_data(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample s[2];
  int64_t t0 = T(2024, 0);
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  v = judge(&ind, NULL, 0, t0 + 40 * DAY);
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_int_equal(v.year, 2024);
  assert_false(v.has_value);
  assert_unjudged(&v);
  assert_int_equal(v.stage, -1);
  assert_false(v.stale); /* exactly stale_after after T0 */
  v = judge(&ind, NULL, 0, t0 + 40 * DAY + 1);
  assert_true(v.stale);

  /* A sample dated and fetched after `at` is not known yet. */
  s[0] = smpf(L(2024, 3, 1), 10, L(2024, 3, 2), 0);
  v = judge(&ind, s, 1, L(2024, 2, 29));
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_false(v.has_value);

  /* Only last year's samples: no data this year, but staleness counts from them. */
  s[1] = smp(L(2023, 12, 20), 10);
  v = judge(&ind, &s[1], 1, L(2024, 1, 10));
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
  assert_false(v.stale);
  v = judge(&ind, &s[1], 1, L(2023, 12, 20) + 40 * DAY + 1);
  assert_true(v.stale);
}

/* --- revisions and arrival ---------------------------------------------------------------- */

static void test_revisions(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  int64_t x = L(2024, 4, 1), m1 = L(2024, 2, 1), f = L(2024, 5, 1), g = L(2024, 5, 10);
  struct pw_sample s[4];
  double xs[2] = {31, 91}, ys[2];
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_LINEAR;
  s[0] = smpf(m1, 10, m1 + DAY, 0);
  s[1] = smpf(x, 20, x + DAY, 0);
  s[2] = smpf(x, 30, f, 1);  /* S itself revised */
  s[3] = smpf(m1, 16, g, 1); /* an older figure revised */

  v = judge(&ind, s, 4, f - 1);
  assert_near(v.value, 20, 0);
  assert_near(v.completion_pct, 20, 1e-12);
  ys[0] = 10;
  ys[1] = 20;
  assert_near(v.projection_pct, ols_at(0, xs, ys, 2, 366), 1e-9);

  v = judge(&ind, s, 4, f);
  assert_near(v.value, 30, 0);
  assert_true(v.as_of == x);
  assert_near(v.completion_pct, 30, 1e-12);
  ys[1] = 30;
  assert_near(v.projection_pct, ols_at(0, xs, ys, 2, 366), 1e-9);

  /* Revising an older as_of leaves S alone and moves only the projection. */
  v = judge(&ind, s, 4, g);
  assert_near(v.value, 30, 0);
  assert_near(v.completion_pct, 30, 1e-12);
  ys[0] = 16;
  assert_near(v.projection_pct, ols_at(0, xs, ys, 2, 366), 1e-9);
}

static void test_future_as_of_known(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  int64_t at = L(2024, 6, 1);
  struct pw_sample s;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_LINEAR;
  /* A figure "as of" later today, fetched an hour ago, already counts, judged at its as_of. */
  s = smpf(at + 12 * HOUR, 50, at - HOUR, 0);
  v = judge(&ind, &s, 1, at);
  assert_true(v.has_value);
  assert_true(v.as_of == at + 12 * HOUR);
  assert_near(v.expected, 100.0 * (152 * DAY + 12 * HOUR) / (366 * DAY), 1e-9);
  assert_false(v.stale);
  /* The same figure fetched after `at` does not. */
  s = smpf(at + 12 * HOUR, 50, at + HOUR, 0);
  v = judge(&ind, &s, 1, at);
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
}

static void test_stale(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  int64_t r = L(2024, 3, 1);
  struct pw_sample s[2];
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  s[0] = smp(r, 40);
  v = judge(&ind, s, 1, r + 40 * DAY);
  assert_false(v.stale);
  assert_int_equal(v.status, PW_STATUS_OK);
  v = judge(&ind, s, 1, r + 40 * DAY + 1);
  assert_true(v.stale);
  assert_int_equal(v.status, PW_STATUS_OK); /* stale is beside the status, not instead of it */

  /* ref is the latest as_of known at `at`: a sample dated and fetched later does not
   * refresh it until it is known. */
  s[1] = smp(r + 41 * DAY, 41);
  assert_true(judge(&ind, s, 2, r + 40 * DAY + 1).stale);
  assert_false(judge(&ind, s, 2, r + 41 * DAY).stale);
  /* A first value imported late counts from its own date, for staleness as for judgement. */
  s[1] = smpf(r + 30 * DAY, 41, r + 45 * DAY, 0);
  assert_false(judge(&ind, s, 2, r + 40 * DAY + 1).stale);
  assert_true(judge(&ind, s, 2, r + 70 * DAY + 1).stale);

  /* Seconds, as configured. */
  ind.stale_after = HOUR;
  assert_false(judge(&ind, s, 1, r + HOUR).stale);
  assert_true(judge(&ind, s, 1, r + HOUR + 1).stale);
}

/* --- projection --------------------------------------------------------------------------- */

static void test_projection_several(void **state) {
  struct pw_target tg[2];
  struct pw_indicator ind;
  struct pw_sample s[6];
  double xs[3] = {31, 60, 91}, ys[3] = {1000, 2100, 2900};
  struct pw_verdict v;

  (void)state;
  tg[0] = progress_target(2023, 10000, 0, NULL);
  tg[1] = progress_target(2024, 12000, 500, NULL);
  init_ind(&ind, PW_KIND_LEVEL, tg, 2);
  /* Journal order is not as_of order; last year's sample and superseded revisions are not
   * points of this year's fit. */
  s[0] = smp(L(2024, 3, 1), 2100);
  s[1] = smp(L(2023, 12, 1), 9000);
  s[2] = smpf(L(2024, 4, 1), 2500, L(2024, 4, 2), 0);
  s[3] = smp(L(2024, 2, 1), 1000);
  s[4] = smpf(L(2024, 4, 1), 2900, L(2024, 4, 3), 1);
  s[5] = smpf(L(2024, 4, 1), 2800, L(2024, 6, 1), 2); /* not known yet */
  v = judge(&ind, s, 6, L(2024, 4, 10));
  assert_near(v.value, 2900, 0);
  assert_true(v.as_of == L(2024, 4, 1));
  assert_true(v.has_projection);
  assert_near(v.projection_pct, 100.0 * (ols_at(500, xs, ys, 3, 366) - 500) / 11500, 1e-9);
  assert_near(v.completion_pct, 100.0 * 2400 / 11500, 1e-9);

  /* One sample: the line through (T0, B) and it. */
  v = judge(&ind, &s[3], 1, L(2024, 4, 10));
  assert_near(v.projection_pct, 100.0 * (500.0 * 366 / 31) / 11500, 1e-9);

  /* Standard and milestone indicators never project. */
  ind.kind = PW_KIND_STANDARD;
  tg[1].has_standard = 1;
  tg[1].standard = 1000;
  v = judge(&ind, s, 6, L(2024, 4, 10));
  assert_true(v.has_judgement);
  assert_false(v.has_projection);
  assert_false(v.has_pct);
}

/* --- the journal scan against the definition --------------------------------------------- */

static uint64_t lcg_state;

static uint32_t lcg(void) {
  lcg_state = lcg_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
  return (uint32_t)(lcg_state >> 33);
}

/* The same fit as ols_at, centred and in long double: accurate enough over thousands of
 * points that a single point missing or counted twice shows. */
static double ols_centred(double B, const double *x, const double *y, int n, double x4) {
  long double mx = 0, my = B, sxx = 0, sxy = 0, m = n + 1;
  int i;

  for (i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= m;
  my /= m;
  sxx = (0 - mx) * (0 - mx);
  sxy = (0 - mx) * (B - my);
  for (i = 0; i < n; i++) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  return (double)(my + sxy / sxx * (x4 - mx));
}

/* pw_judge scans the journal once, with a filter to skip most searches for superseding
 * revisions; pw_judge_effective is the definition applied to one sample. Random journals must
 * give the same S and projection either way: small ones full of revisions, and large ones with
 * thousands of distinct as_of values, so that the filter's collisions (a hit that is not a
 * revision) are exercised too. */
static void test_random_journals_match_definition(void **state) {
  static struct pw_sample s[4000];
  static double xs[4000], ys[4000];
  struct pw_target tg = progress_target(2024, 100000, 0, NULL);
  struct pw_indicator ind;
  int64_t t0 = T(2024, 0), t4 = T(2024, 4);
  int round_;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  lcg_state = 42;
  for (round_ = 0; round_ < 80; round_++) {
    int big = round_ >= 60;
    size_t n = big ? 4000 : 1 + lcg() % 300;
    uint32_t reuse_pct = big ? 10 : 60;
    int64_t at = big ? t4 : t0 + (int64_t)(lcg() % 366) * DAY + (int64_t)(lcg() % 86400);
    const struct pw_sample *best = NULL;
    int m = 0;
    size_t i, j;
    struct pw_verdict v;

    for (i = 0; i < n; i++) {
      /* Either a revision of an earlier as_of or a new one, anywhere from late 2023 on. */
      int64_t as_of = i > 0 && lcg() % 100 < reuse_pct
                          ? s[lcg() % i].as_of
                          : t0 - 10 * DAY + (int64_t)(lcg() % (uint32_t)(380 * DAY));
      int64_t fetched = as_of - 2 * DAY + (int64_t)(lcg() % (uint32_t)(6 * DAY));
      uint32_t rev = 0;

      for (j = 0; j < i; j++)
        rev += s[j].as_of == as_of;
      s[i] = smpf(as_of, (double)(lcg() % 100000), fetched, rev);
    }
    for (i = 0; i < n; i++) {
      if (!pw_judge_effective(s, n, i, at) || s[i].as_of <= t0 || s[i].as_of > t4)
        continue;
      if (best == NULL || s[i].as_of > best->as_of)
        best = &s[i];
      xs[m] = (double)(s[i].as_of - t0) / DAY;
      ys[m] = s[i].value;
      m++;
    }
    v = judge(&ind, s, n, at);
    if (best == NULL) {
      assert_int_equal(v.status, PW_STATUS_NO_DATA);
      continue;
    }
    assert_true(v.has_value);
    assert_true(v.as_of == best->as_of);
    assert_near(v.value, best->value, 0);
    assert_true(v.has_projection);
    assert_near(v.projection_pct, ols_centred(0, xs, ys, m, 366) / 1000.0, 1e-9);
  }
}

/* --- odd inputs --------------------------------------------------------------------------- */

/* Point K of PATH is (T, V). */
static void assert_point(const struct pw_judge_path *path, int k, int64_t t, double v) {
  int64_t pt;
  double pv;

  pw_judge_path_point(path, k, &pt, &pv);
  assert_int_equal(pt, t);
  assert_near(pv, v, 0);
}

/* The target path the graph draws: its points and shape for every kind, and its value wherever
 * the judge's expected value is asked for. */
static void test_target_path(void **state) {
  double q[4] = {10, 30, 60, 100}, sq[4] = {80, 82.5, 85, 90};
  struct pw_target tg = progress_target(2024, 100, 5, q), flat = progress_target(2024, 5, 5, NULL);
  struct pw_target st = standard_target(2024, 0, sq), single = standard_target(2024, 5.5, NULL);
  int64_t d1 = L(2024, 6, 1), d2 = L(2024, 10, 1), due[3] = {0, d1, d2};
  struct pw_target mt = milestone_target(2024, due);
  struct pw_indicator ind;
  struct pw_judge_path path;
  int64_t t;
  double e;
  int k;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.pace = PW_PACE_QUARTERLY;
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.shape, PW_PATH_LINEAR);
  assert_int_equal(path.n, 5);
  assert_point(&path, 0, T(2024, 0), 5);
  for (k = 1; k <= 3; k++)
    assert_point(&path, k, T(2024, k), q[k - 1]);
  assert_point(&path, 4, T(2024, 4), 100);
  for (t = T(2024, 0) + 1; t <= T(2024, 4); t += 7 * DAY + 4321) {
    assert_int_equal(pw_judge_expected(&ind, active, t, &e), 0);
    assert_near(pw_judge_path_at(&path, t), e, 0);
  }
  ind.pace = PW_PACE_STEP;
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.shape, PW_PATH_STEP);
  assert_near(pw_judge_path_at(&path, T(2024, 2) - 1), 10, 0);
  assert_near(pw_judge_path_at(&path, T(2024, 2)), 30, 0);
  ind.pace = PW_PACE_LINEAR;
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.n, 2);
  assert_point(&path, 1, T(2024, 4), 100);
  assert_int_equal(pw_judge_path(&ind, active, 2025, &path), -1); /* no target that year */
  init_ind(&ind, PW_KIND_LEVEL, &flat, 1);
  assert_null(pw_judge_target(&ind, 2024)); /* annual = baseline: nothing to judge or draw */
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), -1);

  /* A quarter's standard holds to the end of its quarter, inclusive. */
  init_ind(&ind, PW_KIND_STANDARD, &st, 1);
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.shape, PW_PATH_STEP);
  assert_int_equal(path.n, 4);
  assert_point(&path, 1, T(2024, 1) + 1, 82.5);
  assert_near(pw_judge_path_at(&path, T(2024, 1)), 80, 0);
  assert_near(pw_judge_path_at(&path, T(2024, 1) + 1), 82.5, 0);
  assert_near(pw_judge_path_at(&path, T(2024, 4)), 90, 0);
  init_ind(&ind, PW_KIND_STANDARD, &single, 1);
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.n, 1);
  assert_near(pw_judge_path_at(&path, T(2024, 3)), 5.5, 0);

  /* Stage 0 until the first due date, then each stage from its due instant. */
  init_ind(&ind, PW_KIND_MILESTONE, &mt, 1);
  assert_int_equal(pw_judge_path(&ind, active, 2024, &path), 0);
  assert_int_equal(path.shape, PW_PATH_STEP);
  assert_int_equal(path.n, 3);
  assert_point(&path, 1, d1, 1);
  assert_point(&path, 2, d2, 2);
  assert_near(pw_judge_path_at(&path, d1 - 1), 0, 0);
  assert_near(pw_judge_path_at(&path, d1), 1, 0);
  assert_near(pw_judge_path_at(&path, d2), 2, 0);
}

static void test_outside_calendar(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  struct pw_verdict v;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  /* Before 1970 local time: no year, so no target; nothing to be stale against. */
  v = judge(&ind, NULL, 0, pw_calendar_utc(1969, 6, 1, 0, 0, 0));
  assert_int_equal(v.year, 0);
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_false(v.stale);
  assert_unjudged(&v);
}

/* --- the verdict as JSON (daemon/judge/status.c, docs/status-json.md) ----------------------- */

/* A figure near DBL_MAX judged against a small target: the lag in pp overflows, so "lag" is
 * null, and "lag_unit" with it (issue 12 item 16: it said "pp" beside a null lag). */
static void test_status_json_lag_unit_null_with_lag(void **state) {
  struct pw_target tg = progress_target(2024, 100, 0, NULL);
  struct pw_indicator ind;
  struct pw_config conf;
  struct pw_sample s = smp(L(2024, 5, 1), 1e308);
  struct pw_verdict v;
  json_t *o;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.name = "测试";
  ind.domain_id = "d";
  ind.unit = "人";
  memset(&conf, 0, sizeof(conf));
  conf.indicators = &ind;
  conf.n_indicators = 1;
  v = judge(&ind, &s, 1, L(2024, 6, 1));
  assert_true(v.has_judgement);
  assert_false(isfinite(v.lag));
  o = pw_status_verdict_json(&conf, 0, &v);
  assert_non_null(o);
  assert_true(json_is_null(json_object_get(o, "lag")));
  assert_true(json_is_null(json_object_get(o, "lag_unit")));
  assert_true(json_is_number(json_object_get(o, "target")));
  json_decref(o);
  /* A finite lag keeps its unit. */
  s.value = 10;
  v = judge(&ind, &s, 1, L(2024, 6, 1));
  o = pw_status_verdict_json(&conf, 0, &v);
  assert_true(json_is_number(json_object_get(o, "lag")));
  assert_string_equal(json_string_value(json_object_get(o, "lag_unit")), "pp");
  json_decref(o);
}

/* --- New York: daylight saving time makes quarters uneven in seconds ---------------------- */

static void test_new_york(void **state) {
  double q[4] = {900, 1800, 2700, 3600};
  double sq[4] = {10, 20, 30, 40};
  struct pw_target tg = progress_target(2023, 3600, 0, q);
  struct pw_target lin = progress_target(2023, 365, 0, NULL);
  struct pw_target st = standard_target(2023, 0, sq);
  struct pw_indicator ind;
  int64_t t0 = T(2023, 0), t1 = T(2023, 1);
  struct pw_verdict v;

  (void)state;
  assert_true(t0 == pw_calendar_utc(2023, 1, 1, 5, 0, 0));
  assert_true(t1 - t0 == 90 * DAY - HOUR); /* clocks went forward on March 12 */
  assert_true(T(2023, 4) - t0 == 365 * DAY);

  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  v = judge_one(&ind, L(2023, 3, 13), 700, L(2023, 3, 14));
  assert_near(v.expected, 900.0 * (71 * DAY - HOUR) / (90 * DAY - HOUR), 1e-9);
  assert_near(v.expected, 709.9119963, 1e-6);
  assert_near(judge_one(&ind, t1, 0, t1).expected, 900, 1e-9);

  init_ind(&ind, PW_KIND_CUMULATIVE, &lin, 1);
  v = judge_one(&ind, L(2023, 3, 13), 70, L(2023, 3, 14));
  assert_near(v.expected, 70.0 + 23.0 / 24, 1e-9);

  init_ind(&ind, PW_KIND_STANDARD, &st, 1);
  assert_near(judge_one(&ind, t1, 0, t1).target, 10, 0);
  assert_near(judge_one(&ind, t1 + 1, 0, t1 + 1).target, 20, 0);

  /* New Year in New York, not in UTC. */
  tg.year = 2024;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  assert_int_equal(judge(&ind, NULL, 0, T(2024, 0)).year, 2023);
  v = judge(&ind, NULL, 0, T(2024, 0) + 1);
  assert_int_equal(v.year, 2024);
  assert_int_equal(v.status, PW_STATUS_NO_DATA);
}

/* --- reporting deadlines (docs/judgement.md "Reporting deadlines") ---------------------- */

static void test_due_monthly(void **state) {
  struct pw_target tg = progress_target(2024, 1200, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample feb = smp(L(2024, 3, 1), 100); /* as of February 29 */
  struct pw_sample mar = smp(L(2024, 4, 1), 300); /* as of March 31 */
  struct pw_sample hist[2];
  struct pw_verdict v;
  char buf[64];

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.report_day = 5;
  ind.report_remind = 3 * DAY;
  /* Nothing ever reported: February's figure is overdue since March 5, and stays due. */
  v = judge(&ind, NULL, 0, L(2024, 4, 2));
  assert_int_equal(v.due_month, 2);
  assert_true(v.overdue);
  /* With February's figure in, March's is due by the end of April 5. */
  v = judge(&ind, &feb, 1, L(2024, 4, 2));
  assert_true(v.has_due);
  assert_int_equal(v.due_by, L(2024, 4, 6));
  assert_int_equal(v.due_from, L(2024, 3, 1));
  assert_int_equal(v.due_to, L(2024, 4, 1));
  assert_int_equal(v.due_year * 100 + v.due_month, 202403);
  assert_int_equal(v.due_months, 1);
  assert_false(v.overdue);
  assert_false(v.due_soon);
  assert_true(judge(&ind, &feb, 1, L(2024, 4, 3)).due_soon);
  v = judge(&ind, &feb, 1, L(2024, 4, 6) - 1);
  assert_true(v.due_soon);
  assert_false(v.overdue);
  v = judge(&ind, &feb, 1, L(2024, 4, 6));
  assert_false(v.due_soon);
  assert_true(v.overdue);
  /* A deadline replaces stale_after: 96 days without data, never stale. */
  assert_false(judge(&ind, NULL, 0, L(2024, 4, 6)).stale);
  assert_string_equal(pw_status_due_period(&v, buf, sizeof(buf)), "2024年3月");
  /* February's figure does not answer for March; March's (as of the 31st) does. */
  v = judge(&ind, &mar, 1, L(2024, 4, 6));
  assert_true(v.has_due);
  assert_false(v.overdue);
  assert_false(v.due_soon);
  /* When May begins with March still missing, March stays due (and overdue); April's figure
   * answers for both. */
  v = judge(&ind, &feb, 1, L(2024, 5, 2));
  assert_true(v.overdue);
  assert_int_equal(v.due_month, 3);
  hist[0] = feb;
  hist[1] = smp(L(2024, 5, 1), 400);
  v = judge(&ind, hist, 2, L(2024, 5, 2));
  assert_int_equal(v.due_month, 4);
  assert_int_equal(v.due_by, L(2024, 5, 6));
  assert_false(v.overdue);
  /* With March in, April is the one due in May. */
  v = judge(&ind, &mar, 1, L(2024, 5, 6));
  assert_int_equal(v.due_month, 4);
  assert_true(v.overdue);
  /* Without a deadline nothing is due and stale_after applies. */
  ind.report_day = 0;
  v = judge(&ind, NULL, 0, L(2024, 4, 6));
  assert_false(v.has_due);
  assert_false(v.overdue);
  assert_true(v.stale);
}

static void test_due_month_ends_and_years(void **state) {
  struct pw_target tg = progress_target(2024, 1200, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample dec23 = smp(L(2024, 1, 1), 0), dec22 = smp(L(2023, 1, 1), 0);
  struct pw_sample mar = smp(L(2024, 4, 1), 0), nov = smp(L(2024, 12, 1), 0);
  struct pw_verdict v;
  char buf[64];

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.report_day = 31;
  ind.report_remind = 2 * DAY;
  /* Day 31 of February is its last: the 29th in 2024, the 28th in 2023. */
  v = judge(&ind, &dec23, 1, L(2024, 2, 10));
  assert_int_equal(v.due_month, 1);
  assert_int_equal(v.due_by, L(2024, 3, 1));
  assert_false(judge(&ind, &dec23, 1, L(2024, 3, 1) - 1).overdue);
  assert_true(judge(&ind, &dec23, 1, L(2024, 3, 1) - 1).due_soon);
  assert_true(judge(&ind, &dec23, 1, L(2024, 3, 1)).overdue);
  v = judge(&ind, &dec22, 1, L(2023, 2, 10));
  assert_int_equal(v.due_by, L(2023, 3, 1));
  /* April has 30 days. */
  assert_int_equal(judge(&ind, &mar, 1, L(2024, 5, 15)).due_by, L(2024, 6, 1));
  assert_int_equal(judge(&ind, &mar, 1, L(2024, 5, 15)).due_month, 4);
  /* Across New Year: December's figure is due in January. */
  ind.report_day = 5;
  v = judge(&ind, &nov, 1, L(2025, 1, 3));
  assert_int_equal(v.due_year * 100 + v.due_month, 202412);
  assert_int_equal(v.due_by, L(2025, 1, 6));
  assert_string_equal(pw_status_due_period(&v, buf, sizeof(buf)), "2024年12月");
  /* A year without a target still has its figures due. */
  v = judge(&ind, &nov, 1, L(2025, 1, 6));
  assert_int_equal(v.status, PW_STATUS_NO_TARGET);
  assert_true(v.overdue);
}

static void test_due_quarterly(void **state) {
  struct pw_target tg = progress_target(2024, 1200, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample q1 = smp(L(2024, 4, 1), 300); /* as of March 31 */
  struct pw_sample q4 = smp(L(2024, 1, 1), 0), q3 = smp(L(2024, 10, 1), 900);
  struct pw_verdict v;
  char buf[64];
  int y, m, d;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.report_after_quarter = 10 * DAY;
  ind.report_remind = 3 * DAY;
  v = judge(&ind, &q4, 1, L(2024, 4, 11) - 1);
  assert_true(v.has_due);
  assert_int_equal(v.due_months, 3);
  assert_int_equal(v.due_from, L(2024, 1, 1));
  assert_int_equal(v.due_to, L(2024, 4, 1));
  assert_int_equal(v.due_by, L(2024, 4, 11));
  assert_true(v.due_soon);
  assert_false(v.overdue);
  assert_string_equal(pw_status_due_period(&v, buf, sizeof(buf)), "2024年一季度");
  pw_status_due_day(&v, &y, &m, &d);
  assert_int_equal(y * 10000 + m * 100 + d, 20240410);
  assert_true(judge(&ind, &q4, 1, L(2024, 4, 11)).overdue);
  /* Still missing in July: the first quarter stays due. */
  v = judge(&ind, NULL, 0, L(2024, 7, 2));
  assert_int_equal(v.due_month, 1);
  assert_true(v.overdue);
  /* With it, the second quarter is due by July 10. */
  v = judge(&ind, &q1, 1, L(2024, 7, 2));
  assert_int_equal(v.due_month, 4);
  assert_int_equal(v.due_by, L(2024, 7, 11));
  assert_false(v.overdue);
  assert_string_equal(pw_status_due_period(&v, buf, sizeof(buf)), "2024年二季度");
  /* The fourth quarter is due in the next January. */
  v = judge(&ind, &q3, 1, L(2025, 1, 2));
  assert_int_equal(v.due_year * 100 + v.due_month, 202410);
  assert_int_equal(v.due_by, L(2025, 1, 11));
}

static void test_due_status_json(void **state) {
  struct pw_sample feb = smp(L(2024, 3, 1), 100);
  struct pw_config conf;
  struct pw_target tg = progress_target(2024, 1200, 0, NULL);
  struct pw_indicator ind;
  struct pw_verdict v;
  json_t *o, *due;

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.name = "测试指标";
  ind.domain_id = "d";
  ind.unit = "人";
  ind.report_day = 5;
  ind.report_remind = 2 * DAY;
  memset(&conf, 0, sizeof(conf));
  conf.indicators = &ind;
  conf.n_indicators = 1;
  v = judge(&ind, &feb, 1, L(2024, 4, 6));
  o = pw_status_verdict_json(&conf, 0, &v);
  due = json_object_get(o, "due");
  assert_true(json_is_object(due));
  assert_string_equal(json_string_value(json_object_get(due, "by")), "2024-04-05");
  assert_string_equal(json_string_value(json_object_get(due, "period")), "2024年3月");
  assert_true(json_is_true(json_object_get(due, "overdue")));
  json_decref(o);
  ind.report_day = 0;
  v = judge(&ind, NULL, 0, L(2024, 4, 6));
  o = pw_status_verdict_json(&conf, 0, &v);
  assert_true(json_is_null(json_object_get(o, "due")));
  json_decref(o);
}

/* Summer time inside the month: the deadline is still local midnight. */
static void test_due_new_york(void **state) {
  struct pw_target tg = progress_target(2024, 1200, 0, NULL);
  struct pw_indicator ind;
  struct pw_sample jan = smp(L(2024, 2, 1), 1), sep = smp(L(2024, 10, 1), 1);

  (void)state;
  init_ind(&ind, PW_KIND_CUMULATIVE, &tg, 1);
  ind.report_day = 5;
  ind.report_remind = 2 * DAY;
  assert_int_equal(judge(&ind, &jan, 1, L(2024, 3, 2)).due_by,
                   pw_calendar_utc(2024, 3, 6, 5, 0, 0));
  ind.report_day = 15;
  assert_int_equal(judge(&ind, &jan, 1, L(2024, 3, 2)).due_by,
                   pw_calendar_utc(2024, 3, 16, 4, 0, 0));
  assert_int_equal(judge(&ind, &sep, 1, L(2024, 11, 2)).due_by,
                   pw_calendar_utc(2024, 11, 16, 5, 0, 0));
}

int main(void) {
  const struct CMUnitTest shanghai[] = {
      cmocka_unit_test(test_status_names),
      cmocka_unit_test(test_effective_rules),
      cmocka_unit_test(test_contract_vocational_training),
      cmocka_unit_test(test_contract_health_checkups),
      cmocka_unit_test(test_pace_linear_leap_year),
      cmocka_unit_test(test_pace_linear_with_baseline),
      cmocka_unit_test(test_pace_quarterly),
      cmocka_unit_test(test_pace_step),
      cmocka_unit_test(test_pace_default_resolution),
      cmocka_unit_test(test_level_falling_target),
      cmocka_unit_test(test_thresholds_pp),
      cmocka_unit_test(test_thresholds_standard),
      cmocka_unit_test(test_standard_direction_down),
      cmocka_unit_test(test_standard_quarter_instant),
      cmocka_unit_test(test_first_second_of_year),
      cmocka_unit_test(test_milestone),
      cmocka_unit_test(test_milestone_due_edge_cases),
      cmocka_unit_test(test_milestone_previous_year_sample),
      cmocka_unit_test(test_carry_level),
      cmocka_unit_test(test_carry_standard),
      cmocka_unit_test(test_no_target),
      cmocka_unit_test(test_no_target_milestone),
      cmocka_unit_test(test_no_data),
      cmocka_unit_test(test_revisions),
      cmocka_unit_test(test_future_as_of_known),
      cmocka_unit_test(test_stale),
      cmocka_unit_test(test_projection_several),
      cmocka_unit_test(test_random_journals_match_definition),
      cmocka_unit_test(test_target_path),
      cmocka_unit_test(test_outside_calendar),
      cmocka_unit_test(test_status_json_lag_unit_null_with_lag),
      cmocka_unit_test(test_due_monthly),
      cmocka_unit_test(test_due_month_ends_and_years),
      cmocka_unit_test(test_due_quarterly),
      cmocka_unit_test(test_due_status_json),
  };
  const struct CMUnitTest new_york[] = {
      cmocka_unit_test(test_new_york),
      cmocka_unit_test(test_due_new_york),
  };
  int failed;

  /* The zone is process-wide, so each group sets its own before its tests run. */
  failed = cmocka_run_group_tests_name("judge (Asia/Shanghai)", shanghai, setup_shanghai, NULL);
  failed += cmocka_run_group_tests_name("judge (America/New_York)", new_york, setup_new_york, NULL);
  return failed;
}
