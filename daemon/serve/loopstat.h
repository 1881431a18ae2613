/*
 * loopstat: how long the daemon's event loop is kept from serving. Each iteration of a libuv
 * loop waits for I/O and then runs the callbacks that are due (I/O, timers, after-work, close);
 * while callbacks run, no other request, poll or delivery is served. The time one iteration
 * spends outside that wait is the loop's stall. A prepare handle, run just before each wait,
 * takes the wall time since its last run and subtracts what libuv counted as idle in the wait
 * (UV_METRICS_IDLE_TIME): what is left is the time callbacks ran. Each iteration's stall goes
 * into a histogram of fixed buckets and a maximum, which /metrics exposes as
 * pacewatch_loop_stall_seconds and pacewatch_loop_stall_max_seconds (docs/http.md).
 */
#ifndef PW_LOOPSTAT_H
#define PW_LOOPSTAT_H

#include <stdint.h>
#include <uv.h>

/* Upper bounds of the histogram's buckets in seconds (1 ms to 10 s); +Inf is implicit. */
#define PW_LOOPSTAT_BUCKETS 13
extern const double pw_loopstat_bounds[PW_LOOPSTAT_BUCKETS];

struct pw_loopstat {
  uv_prepare_t prepare; /* unreferenced: it never keeps the loop alive */
  int running;
  int primed; /* a first prepare has been seen: the next one closes an iteration */
  uint64_t last_ns, last_idle_ns;
  /* Iterations per bucket (not cumulative); counts[PW_LOOPSTAT_BUCKETS] is above the last
   * bound. */
  uint64_t counts[PW_LOOPSTAT_BUCKETS + 1];
  uint64_t count;
  uint64_t sum_ns, max_ns;
};

/* Starts measuring LOOP's iterations into LS (zeroed first), which must stay valid until the
 * loop has run the close callback of pw_loopstat_stop. Turns on the loop's idle-time metrics.
 * Returns 0 or a negative errno from libuv. Loop thread. */
int pw_loopstat_start(struct pw_loopstat *ls, uv_loop_t *loop);

/* Stops measuring and closes the handle (the loop must run once more for its close callback
 * before uv_loop_close). The figures stay readable. No-op when not started. Loop thread. */
void pw_loopstat_stop(struct pw_loopstat *ls);

/* Counts one iteration that ran callbacks for STALL_NS nanoseconds (what the prepare handle
 * does each iteration; public so the figures can be tested without a loop). */
void pw_loopstat_add(struct pw_loopstat *ls, uint64_t stall_ns);

#endif
