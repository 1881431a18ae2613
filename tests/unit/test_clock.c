/*
 * Unit tests of clock: the simulated clock starts where told and advances with the real clock,
 * RATE times faster under a rate; rates out of range are refused and leave the clock as it was;
 * a change of rate makes no jump; durations of the daemon's clock become real timer
 * milliseconds rounded up, never below 1 ms (docs/architecture.md#clock-and-time-zone). The clock
 * is one per process, so the tests run in order and each sets what it needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "clock.h"

#define T2025 1735660800 /* 2025-01-01T00:00:00+08:00 */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) != 0)
    ;
}

static void test_real_rate(void **state) {
  int64_t t;

  (void)state;
  assert_int_equal(pw_clock_rate(), 1);
  t = pw_clock_now();
  assert_true(t >= pw_clock_real_ms() / 1000 - 1 && t <= pw_clock_real_ms() / 1000 + 1);
  pw_clock_simulate(T2025);
  t = pw_clock_now();
  assert_true(t == T2025 || t == T2025 + 1);
}

static void test_refused_rates(void **state) {
  (void)state;
  assert_int_equal(pw_clock_set_rate(0), -EINVAL);
  assert_int_equal(pw_clock_set_rate(-5), -EINVAL);
  assert_int_equal(pw_clock_set_rate(PW_CLOCK_RATE_MAX + 1), -EINVAL);
  assert_int_equal(pw_clock_rate(), 1);
  assert_int_equal(pw_clock_set_rate(PW_CLOCK_RATE_MAX), 0);
  assert_int_equal(pw_clock_rate(), PW_CLOCK_RATE_MAX);
  assert_int_equal(pw_clock_set_rate(1), 0);
}

static void test_fast_clock(void **state) {
  int64_t t0, t1;

  (void)state;
  pw_clock_simulate(T2025);
  assert_int_equal(pw_clock_set_rate(10000), 0);
  t0 = pw_clock_now();
  assert_true(t0 >= T2025 && t0 < T2025 + 100); /* no jump at the change of rate */
  sleep_ms(50);
  t1 = pw_clock_now();
  /* 50 ms of real time are 500 s of the daemon's clock; a loaded machine may sleep longer. */
  assert_true(t1 - t0 >= 500);
  assert_true(t1 - t0 < 500 + 10000 * 5);
  /* Moving the simulated clock keeps the rate. */
  pw_clock_simulate(T2025 + 86400);
  assert_int_equal(pw_clock_rate(), 10000);
  sleep_ms(20);
  assert_true(pw_clock_now() >= T2025 + 86400 + 200);
  assert_int_equal(pw_clock_set_rate(1), 0);
}

static void test_rate_without_now(void **state) {
  int64_t real, t;

  (void)state;
  /* A rate alone starts from the wall clock; a process has one clock, so this is simulated
   * from the wall clock's time by moving it there first. */
  real = pw_clock_real_ms() / 1000;
  pw_clock_simulate(real);
  assert_int_equal(pw_clock_set_rate(3600), 0);
  t = pw_clock_now();
  assert_true(t >= real && t <= real + 3600);
  sleep_ms(10);
  assert_true(pw_clock_now() >= t + 36);
  assert_int_equal(pw_clock_set_rate(1), 0);
}

static void test_timer_ms(void **state) {
  (void)state;
  assert_int_equal(pw_clock_set_rate(1), 0);
  assert_int_equal(pw_clock_timer_ms(60000), 60000);
  assert_int_equal(pw_clock_timer_ms(1), 1);
  assert_int_equal(pw_clock_timer_ms(0), 1);
  assert_int_equal(pw_clock_timer_ms(-30), 1);
  assert_int_equal(pw_clock_set_rate(1000), 0);
  assert_int_equal(pw_clock_timer_ms(60000), 60);
  assert_int_equal(pw_clock_timer_ms(60001), 61); /* rounded up: a timer never fires early */
  assert_int_equal(pw_clock_timer_ms(999), 1);
  assert_int_equal(pw_clock_timer_ms(0), 1);
  assert_int_equal(pw_clock_set_rate(PW_CLOCK_RATE_MAX), 0);
  assert_int_equal(pw_clock_timer_ms(1000), 1);
  assert_int_equal(pw_clock_timer_ms(86400000), 87);
  assert_int_equal(pw_clock_timer_ms(INT64_MAX), INT64_MAX / PW_CLOCK_RATE_MAX + 1);
  assert_int_equal(pw_clock_set_rate(1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_rate),  cmocka_unit_test(test_refused_rates),
      cmocka_unit_test(test_fast_clock), cmocka_unit_test(test_rate_without_now),
      cmocka_unit_test(test_timer_ms),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
