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
#include "procstat.h"
#include "util.h"

struct pw_source_health;

/* The outcome of the last configuration load (the start, or a reload). */
struct pw_reload_info {
  int successful;    /* 1 applied, 0 refused (the running configuration stayed) */
  int64_t timestamp; /* the last successful one, wall clock, seconds */
};

/* One receiver's deliveries since the start. */
struct pw_receiver_counts {
  const char *receiver; /* its id (borrowed from the view's configuration) */
  uint64_t sent;        /* notifications it took */
  uint64_t failed;      /* attempts that failed (retried or dead-lettered) */
};

/* The severities of firing alerts, in the order of pw_view's firing (docs/alerts.md). */
#define PW_METRICS_SEVERITIES 4
extern const char *const pw_metrics_severities[PW_METRICS_SEVERITIES];

/* A read-only view of the daemon's state at one instant, for the status server's pages. */
struct pw_view {
  const struct pw_config *conf;
  const struct pw_verdict *verdicts;            /* per indicator */
  const struct pw_series *series;               /* per indicator (the notes); may be NULL */
  const struct pw_source_health *const *health; /* per source; an entry may be NULL */
  int64_t now;                                  /* the daemon's clock */
  int64_t started;                              /* wall-clock start of the process */
  int64_t uptime; /* seconds the process has run (real clock), for "首次采集在N秒内" */
  uint64_t journal_lines;
  long queued;                                /* notifications in the spool, -1 when unknown */
  long dead;                                  /* notifications in spool/dead/, -1 when unknown */
  long batched;                               /* alerts waiting for group_wait or quiet hours */
  const struct pw_loopstat *loop;             /* the event loop's stalls; NULL leaves them out */
  int corrupt_alerts, corrupt_silences;       /* alerts.json / silences.json set aside as damaged */
  const struct pw_reload_info *reload;        /* NULL leaves the reload families out */
  const struct pw_procstat *process;          /* NULL leaves the process_* families out */
  const struct pw_receiver_counts *receivers; /* N_RECEIVERS of them; NULL leaves them out */
  int n_receivers;
  /* Alerts firing now by severity (lagging, severe, stale, source); 0 in HAS_FIRING leaves them
   * out. */
  int has_firing;
  long firing[PW_METRICS_SEVERITIES];
};

/* Appends the whole exposition of VIEW to OUT. Returns 0, -ENOMEM or -E2BIG. */
int pw_metrics_write(struct pw_buf *out, const struct pw_view *view);

#endif
