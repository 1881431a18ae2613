/*
 * clock: the one source of "now". The wall clock, or a simulated clock that starts at a given
 * instant (pacewatchd --now) and then advances in real time. Nothing else reads the time.
 */
#ifndef PW_CLOCK_H
#define PW_CLOCK_H

#include <stdint.h>

/* Starts the simulated clock at START (epoch seconds); it advances with the real clock. */
void pw_clock_simulate(int64_t start);

/* The current instant in epoch seconds on pacewatch's clock. */
int64_t pw_clock_now(void);

/* The real wall clock in milliseconds (for signatures and protocol dates only). */
int64_t pw_clock_real_ms(void);

#endif
