/*
 * judge: the pure judgement of docs/judgement.md. A function of (indicator configuration,
 * its samples, the calendar, an instant) to a verdict. No I/O, no clock, no allocation.
 */
#ifndef PW_JUDGE_H
#define PW_JUDGE_H

#include <stdint.h>

#include "calendar.h"
#include "config.h"

enum pw_status {
  PW_STATUS_OK = 0,
  PW_STATUS_LAGGING,
  PW_STATUS_SEVERE,
  PW_STATUS_NO_DATA,
  PW_STATUS_NO_TARGET
};

/* One stored sample, as the journal keeps it. REV is 0 for the first value journaled for its
 * as_of, 1, 2... for later revisions. Samples are given to judge in journal order. NOTE is owned
 * by whoever holds the series: the journal's series (data/journal.h) allocate each note and free
 * it when the note is replaced or the journal is closed; judge only reads it. */
struct pw_sample {
  int64_t as_of;
  int64_t fetched_at;
  double value;
  uint32_t rev;
  const char *note; /* the sample's note (短说明), NUL-terminated; NULL when none */
};

/* A revision withdrawn by a retraction line (docs/storage.md#retractions): no longer among the
 * series' samples, kept for export. SAMPLE keeps its note; SOURCE and REASON are owned like
 * notes. */
struct pw_retraction {
  struct pw_sample sample;
  int64_t at;         /* when it was withdrawn */
  const char *source; /* who withdrew it ("record", "import", "report:<department>") */
  const char *reason; /* why (never empty) */
};

/* A department's explanation (说明) of an indicator (docs/storage.md#explanations). The strings
 * are owned by whoever holds the series, like notes. */
struct pw_explanation {
  int64_t as_of;        /* the date the explanation is about */
  int64_t at;           /* when it was given */
  const char *source;   /* who gave it: "report:<department>", "record", "import" */
  const char *reason;   /* 原因, may be empty (not together with MEASURES) */
  const char *measures; /* 措施, may be empty */
  char catch_up[11];    /* expected catch-up date "YYYY-MM-DD", or "" */
};

/* The samples of one indicator, journal order (the journal keeps one per indicator). Withdrawn
 * revisions are not among SAMPLES (judge never sees them): they are in RETRACTED. Judge reads
 * SAMPLES only; status attaches the current explanation (the last of EXPLANATIONS). */
struct pw_series {
  struct pw_sample *samples; /* journal order */
  size_t n, cap;
  int64_t max_as_of;               /* the latest as_of stored; valid when n > 0 */
  size_t latest;                   /* index of the newest revision of max_as_of */
  struct pw_retraction *retracted; /* withdrawn revisions, in the order they were withdrawn */
  size_t n_retracted;
  struct pw_explanation *explanations; /* journal order: the last is the current one */
  size_t n_explanations;
};

enum pw_lag_unit { PW_LAG_UNIT_NONE = 0, PW_LAG_UNIT_PP, PW_LAG_UNIT_UNIT, PW_LAG_UNIT_DAYS };

struct pw_verdict {
  enum pw_status status;
  int stale;
  int has_value; /* value and as_of */
  double value;
  int64_t as_of;
  int has_judgement; /* target, expected, lag */
  double target, expected, lag;
  enum pw_lag_unit lag_unit; /* PW_LAG_UNIT_UNIT means the indicator's unit */
  int has_pct;               /* completion_pct and pace_pct */
  double completion_pct, pace_pct;
  int has_projection;
  double projection_pct;
  int stage; /* milestone stage index of the sample, -1 otherwise */
  int year;  /* the year judged */
  /* The reporting deadline (docs/judgement.md "Reporting deadlines"), when the indicator has
   * one: the period whose figure is due ((due_from, due_to] by the - 1 s rule, due_months 1 or
   * 3 months long, starting in month due_month of year due_year), the deadline due_by (the end
   * of the last day allowed), whether it passed with the figure missing (overdue), and whether
   * the figure is missing within report_remind before it (due_soon). */
  int has_due;
  int64_t due_from, due_to, due_by;
  int due_year, due_month, due_months;
  int overdue, due_soon;
};

/* Judges IND from its N samples (journal order) at instant AT. Pure: reads nothing else. */
void pw_judge(const struct pw_indicator *ind, const struct pw_sample *samples, size_t n,
              const struct pw_calendar *cal, int64_t at, struct pw_verdict *out);

/* The reporting deadline of IND at AT into OUT's due members (docs/judgement.md), with
 * LATEST the effective sample with the latest as_of known at AT (NULL for none). Leaves them
 * zero when IND has no deadline. Pure; pw_judge calls it. */
void pw_judge_due(const struct pw_indicator *ind, const struct pw_calendar *cal, int64_t at,
                  const struct pw_sample *latest, struct pw_verdict *out);

/* Whether sample I of SAMPLES (journal order) is known at AT and not superseded by a later
 * revision of the same as_of known at AT. */
int pw_judge_effective(const struct pw_sample *samples, size_t n, size_t i, int64_t at);

/* The target of IND for YEAR when it can be judged (it holds what the indicator's kind needs),
 * else NULL. A target that cannot be judged is neither judged nor drawn. Pure. */
const struct pw_target *pw_judge_target(const struct pw_indicator *ind, int year);

/* The shape of a target path between its points. */
enum pw_path_shape {
  PW_PATH_LINEAR, /* on [t(k), t(k+1)] the straight line between the two points */
  PW_PATH_STEP    /* the value of the last point (in order) with t(k) <= t; v(0) before any */
};

/* The expected value over one year as a list of points: the pace line E(t) of cumulative and
 * level targets, the standard S(t) by quarter, the expected milestone stage (docs/judgement.md).
 * Judge evaluates it for every verdict and pw_judge_expected; the graph draws the same points.
 * Points are computed on demand (no allocation): N of them, read with pw_judge_path_point. */
struct pw_judge_path {
  const struct pw_indicator *ind;
  const struct pw_target *tg; /* the year's usable target */
  int64_t T[5];               /* the year's bounds T0..T4 */
  enum pw_path_shape shape;
  int n; /* points, at least 1 */
};

/* The path of IND for YEAR into *OUT. Returns 0, or -1 when YEAR is outside the calendar or has
 * no usable target (*OUT is then undefined). Pure. */
int pw_judge_path(const struct pw_indicator *ind, const struct pw_calendar *cal, int year,
                  struct pw_judge_path *out);

/* Point K (0 <= K < P->n) of the path: its instant *T and value *V. */
void pw_judge_path_point(const struct pw_judge_path *p, int k, int64_t *t, double *v);

/* The path's value at instant T. */
double pw_judge_path_at(const struct pw_judge_path *p, int64_t t);

/* The expected value at instant T: E(t) for cumulative and level, the standard S(t) for
 * standard, the expected stage index for milestone, each from the path of the year of T.
 * Returns 0 and sets *OUT, or -1 when that year has no (usable) target. Pure. */
int pw_judge_expected(const struct pw_indicator *ind, const struct pw_calendar *cal, int64_t t,
                      double *out);

/* "ok", "lagging", "severe", "no_data", "no_target". */
const char *pw_status_name(enum pw_status status);

/* 正常, 滞后, 严重滞后, 无数据, 未下达. */
const char *pw_status_label_zh(enum pw_status status);

#endif
