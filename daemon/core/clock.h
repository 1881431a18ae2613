/*
 * clock: the one source of "now". The wall clock, or a simulated clock that starts at a given
 * instant (pacewatchd --now) and then advances with the real clock, RATE times faster
 * (pacewatchd --clock-rate, docs/architecture.md#clock-and-time-zone). Nothing else reads the time.
 */
#ifndef PW_CLOCK_H
#define PW_CLOCK_H

#include <stdint.h>

/* The fastest clock rate accepted: a simulated year then lasts about 32 seconds. */
#define PW_CLOCK_RATE_MAX 1000000

/* Starts the simulated clock at START (epoch seconds); it advances with the real clock at the
 * current rate (1 unless pw_clock_set_rate changed it). May be called again to move it. Loop
 * thread (or before the loop starts). */
void pw_clock_simulate(int64_t start);

/* Makes the clock run RATE times faster than the real clock from this instant on (1 to
 * PW_CLOCK_RATE_MAX), starting from where it stands now: the wall clock's time if it was not
 * simulated yet. Returns 0, or -EINVAL (the clock unchanged) for a rate out of range. */
int pw_clock_set_rate(int64_t rate);

/* How many seconds of the daemon's clock pass per real second (1 unless set). */
int64_t pw_clock_rate(void);

/* The current instant in epoch seconds on pacewatch's clock. */
int64_t pw_clock_now(void);

/* A duration of the daemon's clock in milliseconds as the real milliseconds a uv timer waits
 * for it: CLOCK_MS / rate, rounded up, never below 1 ms (a negative duration is 1 ms). */
uint64_t pw_clock_timer_ms(int64_t clock_ms);

/* The real wall clock in milliseconds (for signatures, protocol dates and durations that stay
 * real: network timeouts, --once's 30 s, persist's hold-back). */
int64_t pw_clock_real_ms(void);

#endif
