/*
 * loopstat: see loopstat.h. The measure is taken from prepare to prepare, a whole iteration:
 * timers, pending callbacks, idle and prepare handles, the wait with the I/O callbacks it
 * dispatches, check and close callbacks. libuv accounts the time blocked in the kernel's wait
 * as idle; everything else in the iteration ran our code (or libuv's on our behalf).
 */
#include "loopstat.h"

#include <string.h>

const double pw_loopstat_bounds[PW_LOOPSTAT_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void pw_loopstat_add(struct pw_loopstat *ls, uint64_t stall_ns) {
  double s = (double)stall_ns / 1e9;
  int b = 0;

  while (b < PW_LOOPSTAT_BUCKETS && s > pw_loopstat_bounds[b])
    b++;
  ls->counts[b]++;
  ls->count++;
  ls->sum_ns += stall_ns;
  if (stall_ns > ls->max_ns)
    ls->max_ns = stall_ns;
}

static void on_prepare(uv_prepare_t *p) {
  struct pw_loopstat *ls = p->data;
  uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(p->loop);

  if (ls->primed) {
    uint64_t wall = now - ls->last_ns, waited = idle - ls->last_idle_ns;

    pw_loopstat_add(ls, wall > waited ? wall - waited : 0);
  }
  ls->primed = 1;
  ls->last_ns = now;
  ls->last_idle_ns = idle;
}

int pw_loopstat_start(struct pw_loopstat *ls, uv_loop_t *loop) {
  int rc;

  memset(ls, 0, sizeof(*ls));
  rc = uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
  if (rc < 0)
    return rc;
  rc = uv_prepare_init(loop, &ls->prepare);
  if (rc < 0)
    return rc;
  ls->prepare.data = ls;
  rc = uv_prepare_start(&ls->prepare, on_prepare);
  if (rc < 0) {
    uv_close((uv_handle_t *)&ls->prepare, NULL);
    return rc;
  }
  /* Measuring must not keep a loop alive that has nothing else to do. */
  uv_unref((uv_handle_t *)&ls->prepare);
  ls->running = 1;
  return 0;
}

void pw_loopstat_stop(struct pw_loopstat *ls) {
  if (!ls->running)
    return;
  ls->running = 0;
  uv_close((uv_handle_t *)&ls->prepare, NULL);
}
