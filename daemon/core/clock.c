/*
 * clock: pacewatch's one notion of "now". Under --now the clock starts at the given instant
 * and advances with the monotonic clock, so simulated runs still see time pass.
 */
#include "clock.h"

#include <time.h>

static int simulated;
static int64_t sim_start;
static struct timespec sim_mono;

void pw_clock_simulate(int64_t start) {
  simulated = 1;
  sim_start = start;
  clock_gettime(CLOCK_MONOTONIC, &sim_mono);
}

int64_t pw_clock_now(void) {
  struct timespec ts;

  if (simulated) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return sim_start + (int64_t)(ts.tv_sec - sim_mono.tv_sec) -
           (ts.tv_nsec < sim_mono.tv_nsec ? 1 : 0);
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

int64_t pw_clock_real_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
