/*
 * clock: pacewatch's one notion of "now". Under --now the clock starts at the given instant
 * and advances with the monotonic clock, so simulated runs still see time pass; --clock-rate
 * makes it advance RATE seconds per real second (docs/architecture.md#clock-and-time-zone).
 */
#include "clock.h"

#include <errno.h>
#include <time.h>

static int simulated;
static int64_t sim_start;
static int64_t sim_rate = 1;
static struct timespec sim_mono;

/* Seconds of the daemon's clock elapsed since the anchor: whole real seconds and the fraction
 * are scaled apart so that nothing overflows (10^9 s · 10^6 and 10^9 ns · 10^6 both fit). */
static int64_t sim_elapsed(void) {
  struct timespec ts;
  int64_t s, ns;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  s = (int64_t)(ts.tv_sec - sim_mono.tv_sec);
  ns = (int64_t)ts.tv_nsec - (int64_t)sim_mono.tv_nsec;
  if (ns < 0) {
    s--;
    ns += 1000000000;
  }
  return s * sim_rate + ns * sim_rate / 1000000000;
}

void pw_clock_simulate(int64_t start) {
  simulated = 1;
  sim_start = start;
  clock_gettime(CLOCK_MONOTONIC, &sim_mono);
}

int pw_clock_set_rate(int64_t rate) {
  if (rate < 1 || rate > PW_CLOCK_RATE_MAX)
    return -EINVAL;
  /* Re-anchored where the clock stands, so the change of rate makes no jump. */
  pw_clock_simulate(pw_clock_now());
  sim_rate = rate;
  return 0;
}

int64_t pw_clock_rate(void) {
  return sim_rate;
}

int64_t pw_clock_now(void) {
  struct timespec ts;

  if (simulated)
    return sim_start + sim_elapsed();
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

uint64_t pw_clock_timer_ms(int64_t clock_ms) {
  int64_t ms;

  if (clock_ms <= 0)
    return 1;
  ms = clock_ms / sim_rate + (clock_ms % sim_rate != 0);
  return ms < 1 ? 1 : (uint64_t)ms;
}

int64_t pw_clock_real_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
