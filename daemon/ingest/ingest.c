/*
 * ingest: where a figure becomes a sample. Every value, whether polled, imported or recorded,
 * passes through pw_ingest_sample, which applies the contract's rules for duplicates,
 * confirmations and revisions, journals what is new, and judges the indicator at once so that
 * verdict changes are published the moment the data arrives.
 */
#define PW_LOG_MODULE "ingest"
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "daemon.h"
#include "status.h"
#include "value.h"

void pw_ingest_sample(struct pw_daemon *d, int ind, int64_t as_of, int own_as_of, double value,
                      int64_t fetched_at, const char *source, struct pw_ingest_stats *st) {
  const struct pw_indicator *in = &d->conf->indicators[ind];
  enum pw_sample_class cls = pw_journal_classify(d->journal, ind, as_of, value, own_as_of);
  char t[40], v[40];

  switch (cls) {
  case PW_SAMPLE_DUPLICATE:
    st->duplicates++;
    return;
  case PW_SAMPLE_UNCHANGED:
    st->unchanged++;
    return;
  case PW_SAMPLE_REVISION:
    st->revisions++;
    pw_log_info("indicator '%s': revision from %s: %s as of %s", in->id, source,
                pw_value_format(value, v, sizeof(v)), pw_calendar_format(as_of, t, sizeof(t)));
    break;
  case PW_SAMPLE_NEW:
    st->fresh++;
    pw_log_debug("indicator '%s': new sample from %s: %s as of %s", in->id, source,
                 pw_value_format(value, v, sizeof(v)), pw_calendar_format(as_of, t, sizeof(t)));
    break;
  }
  if (pw_journal_add(d->journal, ind, as_of, value, fetched_at, source) < 0) {
    pw_log_error("indicator '%s': out of memory journaling a sample from %s", in->id, source);
    st->bad++;
    return;
  }
  pw_persist_touch(d->persist, ind, cls == PW_SAMPLE_REVISION);
  pw_ingest_evaluate(d, ind);
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

void pw_ingest_evaluate(struct pw_daemon *d, int ind) {
  struct pw_verdict now_v, old_v = d->verdicts[ind];
  const struct pw_indicator *in = &d->conf->indicators[ind];
  char a[128], b[128];

  pw_status_judge(d->conf, d->journal->series, ind, pw_clock_now(), &now_v);
  d->verdicts[ind] = now_v;
  if (now_v.status == old_v.status && now_v.stale == old_v.stale)
    return;
  pw_graphcache_invalidate(d->graphs, ind); /* the title shows the status */
  describe(in, &old_v, a, sizeof(a));
  describe(in, &now_v, b, sizeof(b));
  pw_log_info("indicator '%s': %s -> %s", in->id, a, b);
  if (d->on_verdict != NULL)
    d->on_verdict(d, ind, &old_v, &now_v, d->on_verdict_data);
}

void pw_ingest_evaluate_all(struct pw_daemon *d) {
  int i;

  for (i = 0; i < d->conf->n_indicators; i++)
    pw_ingest_evaluate(d, i);
}
