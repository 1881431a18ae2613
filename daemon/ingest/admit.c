/*
 * admit: see admit.h. The value grammar itself is value.c's and the comparison with what is
 * stored is the journal's (pw_sample_value_parse, pw_journal_classify); this module is where
 * they are applied, in one order, for every writer of samples.
 */
#define PW_LOG_MODULE "ingest"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "admit.h"
#include "clock.h"
#include "log.h"
#include "status.h"
#include "value.h"

int pw_admit_text(const struct pw_indicator *in, const char *text, double *out) {
  int rc = pw_sample_value_parse(in, text, out);

  if (rc == PW_VALUE_NOT_PUBLISHED)
    return PW_ADMIT_NOT_PUBLISHED;
  return rc < 0 ? -EINVAL : 0;
}

int pw_admit_stage_number(const struct pw_indicator *in, double number, double *out) {
  char buf[40];

  /* A number for a milestone is read as the text it prints as, so that a stage named "2" and
   * the index 2 mean what they mean in a spreadsheet cell. */
  return pw_sample_value_parse(in, pw_value_format(number, buf, sizeof(buf)), out) == 0 ? 0
                                                                                        : -EINVAL;
}

/* The checks a value passes whatever way it came: finite and not subnormal (what the journal
 * reads back), and a stage of a milestone. */
static int value_valid(const struct pw_indicator *in, double v) {
  if (!pw_journal_value_ok(v))
    return -EDOM;
  if (in->kind == PW_KIND_MILESTONE && (v != floor(v) || v < 0 || v >= in->stages.n))
    return -EINVAL;
  return 0;
}

/* The rules in the order pw_admit_check states them, without words: the cost of a poll. */
static int check_rc(const struct pw_indicator *in, const struct pw_admit_sample *s) {
  int rc = value_valid(in, s->value);

  return rc < 0 ? rc : pw_admit_as_of(s->as_of, s->fetched_at);
}

/* The words for a refusal RC of S. */
static void explain(const struct pw_indicator *in, const struct pw_admit_sample *s, int rc,
                    char *why, size_t whylen) {
  char t[40], v[40];

  switch (rc) {
  case -EDOM:
    snprintf(why, whylen, "value %s is %s", pw_value_format(s->value, v, sizeof(v)),
             isfinite(s->value) ? "too close to zero to be stored (subnormal)"
                                : "not a finite number");
    break;
  case -EINVAL:
    snprintf(why, whylen, "value %s is not a stage of the milestone (0 to %d)",
             pw_value_format(s->value, v, sizeof(v)), in->stages.n - 1);
    break;
  case -EOVERFLOW:
    if (!pw_journal_time_ok(s->as_of))
      snprintf(why, whylen, "as_of %s is outside the years " PW_JOURNAL_YEARS,
               pw_calendar_format(s->as_of, t, sizeof(t)));
    else
      snprintf(why, whylen, "fetched_at %s is outside the years " PW_JOURNAL_YEARS,
               pw_calendar_format(s->fetched_at, t, sizeof(t)));
    break;
  case -ERANGE:
    snprintf(why, whylen, "as_of %s is more than a day ahead",
             pw_calendar_format(s->as_of, t, sizeof(t)));
    break;
  default:
    snprintf(why, whylen, "refused (%s)", strerror(-rc));
    break;
  }
}

int pw_admit_check(const struct pw_indicator *in, const struct pw_admit_sample *s, char *why,
                   size_t whylen) {
  int rc = check_rc(in, s);

  if (rc < 0)
    explain(in, s, rc, why, whylen);
  return rc;
}

static int refuse(struct pw_admit *a, const struct pw_admit_sample *s, struct pw_admit_stats *st,
                  int rc) {
  const struct pw_indicator *in = &a->conf->indicators[s->ind];
  char why[160];

  if (st != NULL)
    st->bad++;
  explain(in, s, rc, why, sizeof(why));
  pw_log_warn("source '%s', indicator '%s': bad sample: %s", s->source, in->id, why);
  return rc;
}

/* A duplicate or unchanged figure S (class CLS) with a note: when the note differs from the
 * stored sample's (for an unchanged figure, the sample it confirms), a note line is journaled for
 * that sample's as_of and value, which replaces its note and is not a revision (admit.h). */
static void admit_note(struct pw_admit *a, const struct pw_admit_sample *s,
                       enum pw_sample_class cls, struct pw_admit_stats *st) {
  const struct pw_sample *x = cls == PW_SAMPLE_DUPLICATE
                                  ? pw_journal_find(a->journal, s->ind, s->as_of)
                                  : pw_journal_effective(a->journal, s->ind, s->as_of);

  if (x == NULL || (x->note != NULL && strcmp(x->note, s->note) == 0))
    return;
  if (pw_journal_add_noted(a->journal, s->ind, x->as_of, x->value, s->fetched_at, s->source,
                           s->note) < 0) {
    pw_log_warn("indicator '%s': the note from %s is not kept (out of memory or not clean text)",
                a->conf->indicators[s->ind].id, s->source);
    return;
  }
  if (st != NULL)
    st->notes++;
  if (a->touched != NULL)
    a->touched(a->data, s->ind, 0);
}

static int admit(struct pw_admit *a, const struct pw_admit_sample *s, struct pw_admit_stats *st,
                 int judge) {
  const struct pw_indicator *in = &a->conf->indicators[s->ind];
  const struct pw_series *ser = &a->journal->series[s->ind];
  enum pw_sample_class cls;
  char t[40], v[40], m[40];
  int rc, before_end;

  rc = check_rc(in, s);
  if (rc < 0)
    return refuse(a, s, st, rc);
  cls = pw_journal_classify(a->journal, s->ind, s->as_of, s->value, s->own_as_of);
  /* A sample dated before the latest stored one rewrites the history the RRD file was written
   * from, whatever its class: the file is regenerated rather than appended to. */
  before_end = ser->n > 0 && s->as_of < ser->max_as_of;
  switch (cls) {
  case PW_SAMPLE_DUPLICATE:
  case PW_SAMPLE_UNCHANGED:
    if (st != NULL) {
      if (cls == PW_SAMPLE_DUPLICATE)
        st->duplicates++;
      else
        st->unchanged++;
    }
    if (s->note != NULL)
      admit_note(a, s, cls, st);
    return cls;
  case PW_SAMPLE_REVISION:
    if (!a->quiet)
      pw_log_info("indicator '%s': revision from %s: %s as of %s", in->id, s->source,
                  pw_value_format(s->value, v, sizeof(v)),
                  pw_calendar_format(s->as_of, t, sizeof(t)));
    break;
  case PW_SAMPLE_NEW:
    if (!a->quiet && before_end)
      /* Only after the clock went back (docs/values.md#when-the-clock-went-back): said at info
       * level, once per stored figure, so that the officer sees why the journal holds figures
       * dated after them. */
      pw_log_info("indicator '%s': new sample from %s: %s as of %s, although the journal holds "
                  "figures dated up to %s (stored while the clock was ahead)",
                  in->id, s->source, pw_value_format(s->value, v, sizeof(v)),
                  pw_calendar_format(s->as_of, t, sizeof(t)),
                  pw_calendar_format(ser->max_as_of, m, sizeof(m)));
    else if (!a->quiet)
      pw_log_debug("indicator '%s': new sample from %s: %s as of %s", in->id, s->source,
                   pw_value_format(s->value, v, sizeof(v)),
                   pw_calendar_format(s->as_of, t, sizeof(t)));
    break;
  }
  if (pw_journal_add_noted(a->journal, s->ind, s->as_of, s->value, s->fetched_at, s->source,
                           s->note) < 0) {
    pw_log_error("indicator '%s': out of memory journaling a sample from %s", in->id, s->source);
    if (st != NULL)
      st->bad++;
    return -ENOMEM;
  }
  if (st != NULL) {
    if (cls == PW_SAMPLE_REVISION)
      st->revisions++;
    else
      st->fresh++;
  }
  /* A figure for a withdrawn as_of replaces the unknown point its RRD file holds there. */
  if (a->touched != NULL)
    a->touched(a->data, s->ind,
               cls == PW_SAMPLE_REVISION || before_end ||
                   (ser->n_retracted > 0 && pw_journal_withdrawn(a->journal, s->ind, s->as_of)));
  if (judge)
    pw_admit_evaluate(a, s->ind);
  return cls;
}

int pw_admit_sample(struct pw_admit *a, const struct pw_admit_sample *s,
                    struct pw_admit_stats *st) {
  return admit(a, s, st, 1);
}

int pw_admit_record(struct pw_admit *a, const struct pw_admit_sample *s,
                    struct pw_admit_stats *st) {
  return admit(a, s, st, 0);
}

static void describe(const struct pw_indicator *in, const struct pw_verdict *v, char *buf,
                     size_t size) {
  char num[40];

  if (v->has_judgement)
    snprintf(buf, size, "%s%s (lag %s %s)", pw_status_name(v->status), v->stale ? ", stale" : "",
             pw_value_format(round(v->lag * 1000) / 1000, num, sizeof(num)),
             v->lag_unit == PW_LAG_UNIT_PP     ? "pp"
             : v->lag_unit == PW_LAG_UNIT_DAYS ? "days"
                                               : in->unit);
  else
    snprintf(buf, size, "%s%s", pw_status_name(v->status), v->stale ? ", stale" : "");
}

void pw_admit_evaluate(struct pw_admit *a, int ind) {
  struct pw_verdict now_v, old_v;
  const struct pw_indicator *in = &a->conf->indicators[ind];
  char was[128], is[128];

  if (a->verdicts == NULL)
    return;
  old_v = a->verdicts[ind];
  pw_status_judge(a->conf, a->journal->series, ind, pw_clock_now(), &now_v);
  a->verdicts[ind] = now_v;
  if (now_v.status == old_v.status && now_v.stale == old_v.stale)
    return;
  describe(in, &old_v, was, sizeof(was));
  describe(in, &now_v, is, sizeof(is));
  pw_log_info("indicator '%s': %s -> %s", in->id, was, is);
  if (a->verdict_changed != NULL)
    a->verdict_changed(a->data, ind, &old_v, &now_v);
}

void pw_admit_evaluate_all(struct pw_admit *a) {
  int i;

  for (i = 0; a->verdicts != NULL && i < a->conf->n_indicators; i++)
    pw_admit_evaluate(a, i);
}

int pw_admit_retract(struct pw_admit *a, int ind, int64_t as_of, int64_t at, const char *source,
                     const char *reason, char *err, size_t errlen) {
  char t[40];
  int rc = pw_journal_retract(a->journal, ind, as_of, at, source, reason, err, errlen);

  if (rc < 0)
    return rc;
  pw_log_info("indicator '%s': the sample of %s withdrawn by %s", a->conf->indicators[ind].id,
              pw_calendar_format(as_of, t, sizeof(t)), source);
  if (a->touched != NULL)
    a->touched(a->data, ind, 1);
  pw_admit_evaluate(a, ind);
  return 0;
}

int pw_admit_explain(struct pw_admit *a, int ind, int64_t as_of, int64_t at, const char *source,
                     const char *reason, const char *measures, const char *catch_up,
                     int64_t *as_of_out, char *err, size_t errlen) {
  const struct pw_explanation *e;
  int rc = pw_journal_explain(a->journal, ind, as_of, at, source, reason, measures, catch_up, err,
                              errlen);

  if (rc < 0)
    return rc;
  e = pw_journal_explanation(a->journal, ind);
  if (as_of_out != NULL)
    *as_of_out = e->as_of;
  pw_log_info("indicator '%s': an explanation from %s", a->conf->indicators[ind].id, source);
  pw_admit_evaluate(a, ind);
  return 0;
}
