/*
 * schedule: when each configured source is polled. Every source has its own timer; first polls
 * come within the first 10 s (or the interval, if shorter), spread over that time so that a
 * county's dozens of departments are not all asked in the same second, then every interval; a
 * source is never fetched twice at once; a failing source backs off (30 s doubling, capped at its
 * interval) and logs when its state changes, not at every poll. Requests are conditional (ETag,
 * Last-Modified): a 304 hands the previous body on again, marked as the same, so that whoever
 * parses it can use its last parse.
 *
 * The schedule fetches and keeps the sources' health; it does not parse. It reports through
 * callbacks: "source S answered with this body", and with --once "every source has answered".
 * A reload matches sources by id: a source that stays keeps its timer, its fetch in flight, its
 * validators and its health; a removed one stops (the answer of a fetch in flight for it is
 * dropped with a log line); a new one is polled soon.
 *
 * Everything runs on the loop thread.
 */
#ifndef PW_SCHEDULE_H
#define PW_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "fetch.h"

/* Health of one source, kept for logs, alerting (source_down) and the status server. */
struct pw_source_health {
  int64_t last_attempt, last_success; /* 0 = never */
  char last_error[256];               /* "" when the last poll succeeded */
  unsigned consecutive_failures;
  double last_duration_ms;
  uint64_t polls, failures;
  int64_t failing_since; /* first failure of the current run of failures, 0 when up */
};

/* One answer of a source, valid during the callback only. */
struct pw_sched_answer {
  int source;       /* index in the configuration the schedule runs now */
  const char *body; /* NUL-terminated */
  size_t len;
  int same;           /* the same bytes as this source's previous answer (a 304, or an equal 200) */
  int64_t fetched_at; /* the daemon's clock, seconds */
};

/* A source answered. Returns 0, or a negative errno with ERR set when the body is unusable (it
 * does not parse): the poll then counts as failed, with ERR as its error. */
typedef int (*pw_sched_polled_cb)(void *data, const struct pw_sched_answer *answer, char *err,
                                  size_t errlen);
/* --once: every configured source has answered (or failed) once. Called once. */
typedef void (*pw_sched_all_polled_cb)(void *data);

struct pw_sched_callbacks {
  pw_sched_polled_cb polled;
  pw_sched_all_polled_cb all_polled; /* may be NULL when not ONCE */
  void *data;
};

struct pw_sched;

/* Starts polling every source of CONF on LOOP through FETCH (both borrowed, they must outlive
 * the schedule). The schedule takes a reference on CONF (pw_config_ref) and lets it go on a
 * reload or at stop. Source k of n is first polled after k/n of min(its interval, 10 s), then at
 * its interval. ONCE: every source is polled now and not again, and ALL_POLLED follows when
 * each has answered (soon after start when there is no source). CB is copied. Returns 0 and
 * *OUT, or a negative errno (nothing started, no callback will come). */
int pw_sched_start(uv_loop_t *loop, struct pw_fetch *fetch, struct pw_config *conf, int once,
                   const struct pw_sched_callbacks *cb, struct pw_sched **out);

/* Swaps in the configuration generation CONF (a reference is taken; the previous one is let
 * go), matching sources by id. A source with the same id keeps its timer's phase, its fetch in
 * flight, its health and its back-off; when its request changed (url, file, headers, limits,
 * TLS, proxy, charset) its validators and last body are forgotten and a fetch in flight for the
 * old request is dropped when it ends; a changed interval re-arms the timer when the new one
 * comes sooner. A removed source stops. New sources are polled within min(interval, 10 s),
 * spread over that time (with ONCE: now). Returns 0 or -ENOMEM (then nothing changed). */
int pw_sched_reload(struct pw_sched *s, struct pw_config *conf);

/* The health of source SOURCE (an index in the configuration the schedule runs now), or NULL
 * for a bad index or a NULL schedule. Borrowed until the next reload or stop. */
const struct pw_source_health *pw_sched_health(const struct pw_sched *s, int source);

/* Whether a fetch of SOURCE is running. */
int pw_sched_in_flight(const struct pw_sched *s, int source);

/* Milliseconds until SOURCE's next poll, or -1 when none is armed (a fetch is running, --once
 * is done with it, or a bad index). */
int64_t pw_sched_due_in(const struct pw_sched *s, int source);

/* Fills REQ (unconditional: no ETag) for a poll of source SRC, as every poll is made: a file
 * source's path as a file:// URL written into URL (URLLEN bytes, 4200 is enough), its headers,
 * timeout, body limit, TLS, proxy and charset. REQ borrows SRC's strings. `pacewatch fetch`
 * makes its one poll with it. Any thread. */
void pw_sched_request(const struct pw_source *src, struct pw_fetch_request *req, char *url,
                      size_t urllen);

/* The delay before the next poll of a source after FAILURES consecutive failed polls: 30 s,
 * doubling with each further failure, never more than INTERVAL_MS. */
int64_t pw_sched_backoff_ms(unsigned failures, int64_t interval_ms);

/* Stops every timer. Fetches in flight end through the fetcher (pw_fetch_close cancels them);
 * their answers are dropped and no callback comes any more. The schedule frees itself once its
 * handles are closed and its fetches ended. Accepts NULL. */
void pw_sched_stop(struct pw_sched *s);

#endif
