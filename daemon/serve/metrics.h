/*
 * metrics: what the daemon knows, as the Prometheus text exposition format 0.0.4 served on
 * /metrics: every indicator's value, expected value, lag, completion, pace and status
 * (labelled with indicator, domain and department), every source's poll counters and last
 * duration, the notification queues, the event loop's stalls (loopstat.h) and build
 * information. A pure function of a snapshot of the daemon's state (struct pw_view), so it is
 * tested without a daemon.
 */
#ifndef PW_METRICS_H
#define PW_METRICS_H

#include <stdint.h>

#include "config.h"
#include "judge.h"
#include "loopstat.h"
#include "util.h"

struct pw_source_health;

/* A read-only view of the daemon's state at one instant, for the status server's pages. */
struct pw_view {
  const struct pw_config *conf;
  const struct pw_verdict *verdicts;            /* per indicator */
  const struct pw_series *series;               /* per indicator (the notes); may be NULL */
  const struct pw_source_health *const *health; /* per source; an entry may be NULL */
  int64_t now;                                  /* the daemon's clock */
  int64_t started;                              /* wall-clock start of the process */
  uint64_t journal_lines;
  long queued;                          /* notifications in the spool, -1 when unknown */
  long dead;                            /* notifications in spool/dead/, -1 when unknown */
  long batched;                         /* alerts waiting for group_wait or quiet hours */
  const struct pw_loopstat *loop;       /* the event loop's stalls; NULL leaves them out */
  int corrupt_alerts, corrupt_silences; /* alerts.json / silences.json set aside as damaged */
};

/* Appends the whole exposition of VIEW to OUT. Returns 0, -ENOMEM or -E2BIG. */
int pw_metrics_write(struct pw_buf *out, const struct pw_view *view);

#endif
