/*
 * admit: every rule a figure passes on its way into the journal, in one place for the daemon
 * (polls, the inbox) and for the CLI commands that write samples (record, import), as
 * docs/judgement.md states them:
 *
 *   - the value: a number, or text in the value grammar (thousands separators, %, 万, 亿); the
 *     not-published markers mean "nothing to store"; a milestone takes a stage name or a stage
 *     index; a value must be finite;
 *   - the date: an as_of more than a day after the moment the figure was received is refused;
 *   - the classification against what is stored: new, a duplicate of the stored value for that
 *     as_of, unchanged (no as_of of its own, same value, less than a day since the last), or a
 *     revision (a changed value for a stored as_of, or an earlier as_of).
 *
 * What passes is journaled in memory (the caller commits), the indicator is reported as touched
 * (its RRD file is to be written) and, when the caller keeps verdicts, judged again at once so
 * that a change of status is published the moment the data arrives.
 *
 * Loop thread (daemon) or the CLI's only thread.
 */
#ifndef PW_ADMIT_H
#define PW_ADMIT_H

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "judge.h"

/* Returned by pw_admit_text and pw_admit_number for a not-published marker. */
#define PW_ADMIT_NOT_PUBLISHED 1

/* What a batch of candidates came to. */
struct pw_admit_stats {
  unsigned fresh, duplicates, revisions, unchanged, bad;
};

/* IND has a new sample (REVISED: a revision, so its stored history changed). */
typedef void (*pw_admit_touched_cb)(void *data, int ind, int revised);
/* IND's published verdict changed from OLD_V to NEW_V. */
typedef void (*pw_admit_verdict_cb)(void *data, int ind, const struct pw_verdict *old_v,
                                    const struct pw_verdict *new_v);

/* The context of admission: every pointer is borrowed, and the owner swaps them together on a
 * reload (the configuration generation, the journal opened for it, its verdicts). */
struct pw_admit {
  const struct pw_config *conf;
  struct pw_journal *journal;
  struct pw_verdict *verdicts; /* per indicator, the last published; NULL: nothing is judged */
  pw_admit_touched_cb touched; /* may be NULL */
  pw_admit_verdict_cb verdict_changed; /* may be NULL */
  void *data;                          /* for both callbacks */
  int quiet; /* no log line per sample (the CLI reports its counts itself) */
};

/* One candidate sample. */
struct pw_admit_sample {
  int ind;            /* index in conf->indicators */
  int64_t as_of;      /* the instant the figure stands for */
  int own_as_of;      /* 1: the as_of came with the figure; 0: it is the fetch time */
  double value;       /* from pw_admit_text or pw_admit_number */
  int64_t fetched_at; /* when it was received (the +1 day rule counts from here) */
  const char *source; /* a source id, "import" or "record" (journaled and logged) */
};

/* Reads TEXT as a value of indicator IN: a stage name or index for a milestone, else the value
 * grammar. Returns 0 and *OUT, PW_ADMIT_NOT_PUBLISHED, or -EINVAL. */
int pw_admit_text(const struct pw_indicator *in, const char *text, double *out);

/* An as_of may be at most this far after the moment the figure was received: a department's
 * clock or time zone may be off by hours, a figure of the future is a mistake. */
#define PW_ADMIT_AHEAD_MAX 86400

/* The milestone part of pw_admit_number. */
int pw_admit_stage_number(const struct pw_indicator *in, double number, double *out);

/* Takes NUMBER (a parser's number) as a value of IN. Returns 0 and *OUT, -EDOM when it is not
 * finite, or -EINVAL when a milestone has no such stage. (Inline: every polled number passes
 * here.) */
static inline int pw_admit_number(const struct pw_indicator *in, double number, double *out) {
  if (!isfinite(number))
    return -EDOM;
  if (in->kind == PW_KIND_MILESTONE)
    return pw_admit_stage_number(in, number, out);
  *out = number;
  return 0;
}

/* The date rule: 0 when AS_OF is at most a day after RECEIVED_AT, else -ERANGE. */
static inline int pw_admit_as_of(int64_t as_of, int64_t received_at) {
  return as_of > received_at + PW_ADMIT_AHEAD_MAX ? -ERANGE : 0;
}

/* Passes S through every rule: a value that is not finite or not a stage of a milestone, or an
 * as_of more than a day ahead, is refused (counted as bad and logged); then it is classified,
 * and a new sample or a revision is journaled (pw_journal_add: pending until the owner
 * commits), reported through TOUCHED and judged (when VERDICTS is set). ST (may be NULL) counts
 * the outcome. Returns the enum pw_sample_class, -EDOM / -EINVAL / -ERANGE for a refused
 * sample, or -ENOMEM (nothing journaled). */
int pw_admit_sample(struct pw_admit *a, const struct pw_admit_sample *s, struct pw_admit_stats *st);

/* Judges IND at the clock's now and publishes a change (log line and VERDICT_CHANGED). Nothing
 * when VERDICTS is NULL. */
void pw_admit_evaluate(struct pw_admit *a, int ind);

/* pw_admit_evaluate for every indicator. */
void pw_admit_evaluate_all(struct pw_admit *a);

#endif
