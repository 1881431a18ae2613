/*
 * admit: every rule a figure passes on its way into the journal, in one place for the daemon
 * (polls, the inbox) and for the CLI commands that write samples (record, import), as
 * docs/values.md and docs/judgement.md state them:
 *
 *   - the value: a number, or text in the value grammar (thousands separators, %, 万, 亿); the
 *     not-published markers mean "nothing to store"; a milestone takes a stage name or a stage
 *     index; a value must be finite and not subnormal (what the journal reads back);
 *   - the dates: as_of and fetched_at in the years the journal keeps (1971 to 2100,
 *     journal.h), and an as_of at most a day after the moment the figure was received;
 *   - the classification against what is stored: new, a duplicate of the stored value for that
 *     as_of, unchanged (no as_of of its own, same value, less than a day since the last), or a
 *     revision (a changed value for a stored as_of, or an earlier as_of);
 *   - a note: a duplicate or unchanged figure whose note differs from the stored sample's is not
 *     a revision, but its note is journaled (a note line) and replaces the stored one: the
 *     latest note for an as_of wins. A figure without a note leaves the stored note alone.
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
  unsigned notes; /* duplicates or unchanged figures whose note changed: journaled, no revision */
};

/* IND has a new sample (REVISED: a revision, so its stored history changed). */
typedef void (*pw_admit_touched_cb)(void *data, int ind, int revised);
/* IND's published verdict changed from OLD_V to NEW_V. */
typedef void (*pw_admit_verdict_cb)(void *data, int ind, const struct pw_verdict *old_v,
                                    const struct pw_verdict *new_v);

/* The context of admission: every pointer is borrowed, and the owner swaps them together on a
 * reload (the configuration generation, the journal opened for it, its verdicts). */
struct pw_admit {
  struct pw_config *conf; /* the inbox takes references on it for work in flight */
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
  const char *note;   /* the figure's note (短说明), clean (pw_note_clean), or NULL for none */
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
 * a figure the journal holds (not finite, or subnormal: pw_journal_value_ok), or -EINVAL when a
 * milestone has no such stage. (Inline: every polled number passes here.) */
static inline int pw_admit_number(const struct pw_indicator *in, double number, double *out) {
  if (!pw_journal_value_ok(number))
    return -EDOM;
  if (in->kind == PW_KIND_MILESTONE)
    return pw_admit_stage_number(in, number, out);
  *out = number;
  return 0;
}

/* The date rules: 0; -EOVERFLOW when AS_OF or RECEIVED_AT is outside the years the journal
 * keeps (pw_journal_time_ok); -ERANGE when AS_OF is more than a day after RECEIVED_AT. */
static inline int pw_admit_as_of(int64_t as_of, int64_t received_at) {
  if (!pw_journal_time_ok(as_of) || !pw_journal_time_ok(received_at))
    return -EOVERFLOW;
  return as_of > received_at + PW_ADMIT_AHEAD_MAX ? -ERANGE : 0;
}

/* Every rule S passes before it is classified, with IN its indicator: the value (finite, not
 * subnormal, a stage of a milestone) and the dates (pw_admit_as_of). Returns 0, or -EDOM (the
 * value is not finite or subnormal), -EINVAL (not a stage), -EOVERFLOW (as_of or fetched_at
 * outside the years kept) or -ERANGE (as_of more than a day ahead), with WHY set to a phrase
 * naming the field and the offending figure ("as_of 1970-01-01T08:00:01+08:00 is outside the
 * years 1971 to 2100"). Pure; any thread. */
int pw_admit_check(const struct pw_indicator *in, const struct pw_admit_sample *s, char *why,
                   size_t whylen);

/* Passes S through every rule of pw_admit_check: a refused sample is counted as bad and logged
 * with its source, indicator and reason; then it is classified, and a new sample or a revision
 * is journaled (pw_journal_add: pending until the owner commits), reported through TOUCHED and
 * judged (when VERDICTS is set). ST (may be NULL) counts the outcome. Returns the enum
 * pw_sample_class, -EDOM / -EINVAL / -EOVERFLOW / -ERANGE for a refused sample, or -ENOMEM
 * (nothing journaled). */
int pw_admit_sample(struct pw_admit *a, const struct pw_admit_sample *s, struct pw_admit_stats *st);

/* pw_admit_sample without the judging, for a batch (an import) whose touched indicators the
 * caller judges once it is in (pw_admit_evaluate): judging is a pass over the indicator's
 * samples, once per row it made a large import quadratic. Same returns. */
int pw_admit_record(struct pw_admit *a, const struct pw_admit_sample *s, struct pw_admit_stats *st);

/* Withdraws IND's figure for AS_OF (pw_journal_retract: AT, SOURCE, REASON; pending until the
 * owner commits), reports IND through TOUCHED as revised (its RRD file is rebuilt without the
 * point) and judges it again (when VERDICTS is set): the `retract` request of the inbox, and the
 * function the daemon's pages call in-process (then make it durable, as the inbox does, before
 * answering). Returns 0, or pw_journal_retract's negative errno with ERR saying why (nothing
 * changed; -ENOENT: no such sample). Loop thread. */
int pw_admit_retract(struct pw_admit *a, int ind, int64_t as_of, int64_t at, const char *source,
                     const char *reason, char *err, size_t errlen);

/* Records an explanation of IND (pw_journal_explain with the same arguments; pending until the
 * owner commits) and judges IND again (when VERDICTS is set). The `explain` request of the
 * inbox and the reporting page's function, like pw_admit_retract. *AS_OF_OUT (may be NULL)
 * receives the as_of the explanation was recorded for. Returns 0, or a negative errno with ERR
 * saying why (nothing changed). Loop thread. */
int pw_admit_explain(struct pw_admit *a, int ind, int64_t as_of, int64_t at, const char *source,
                     const char *reason, const char *measures, const char *catch_up,
                     int64_t *as_of_out, char *err, size_t errlen);

/* Judges IND at the clock's now and publishes a change (log line and VERDICT_CHANGED). Nothing
 * when VERDICTS is NULL. */
void pw_admit_evaluate(struct pw_admit *a, int ind);

/* pw_admit_evaluate for every indicator. */
void pw_admit_evaluate_all(struct pw_admit *a);

#endif
