/*
 * Unit tests of loopstat: stalls fall into the right buckets with their sum and maximum, and on
 * a real loop a callback that keeps the loop busy for 60 ms is measured as a stall of that
 * length while 930 ms spent waiting for a timer are not; the measuring handle never keeps a
 * loop alive and closes cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "loopstat.h"

static void test_buckets(void **state) {
  struct pw_loopstat ls;

  (void)state;
  memset(&ls, 0, sizeof(ls));
  pw_loopstat_add(&ls, 0);
  pw_loopstat_add(&ls, 1000000);     /* 1 ms: on a bound, counted in it (le) */
  pw_loopstat_add(&ls, 3000000);     /* 3 ms */
  pw_loopstat_add(&ls, 2000000000);  /* 2 s */
  pw_loopstat_add(&ls, 20000000000); /* 20 s: above the last bound */
  assert_int_equal(ls.counts[0], 2);
  assert_int_equal(ls.counts[2], 1);  /* le 0.005 */
  assert_int_equal(ls.counts[10], 1); /* le 2.5 */
  assert_int_equal(ls.counts[PW_LOOPSTAT_BUCKETS], 1);
  assert_int_equal(ls.count, 5);
  assert_int_equal(ls.sum_ns, 22004000000ULL);
  assert_int_equal(ls.max_ns, 20000000000ULL);
}

static void busy(uv_timer_t *t) {
  uint64_t end = uv_hrtime() + 60000000;

  (void)t;
  while (uv_hrtime() < end)
    ;
}

static void idle_done(uv_timer_t *t) {
  (void)t;
}

static void test_real_loop(void **state) {
  uv_loop_t loop;
  uv_timer_t a, b;
  struct pw_loopstat ls;
  uint64_t above = 0;
  int k;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_loopstat_start(&ls, &loop), 0);
  assert_int_equal(uv_timer_init(&loop, &a), 0);
  assert_int_equal(uv_timer_init(&loop, &b), 0);
  assert_int_equal(uv_timer_start(&a, busy, 10, 0), 0);
  assert_int_equal(uv_timer_start(&b, idle_done, 1000, 0), 0);
  /* Returns once the timers are done: the measuring handle does not hold the loop. */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_true(ls.count >= 2);
  assert_true(ls.max_ns >= 60000000);
  /* The 930 ms waited for the second timer are no stall (the bound leaves room for a loaded
   * machine). */
  assert_true(ls.max_ns < 600000000);
  assert_true(ls.sum_ns < 600000000);
  for (k = 6; k <= PW_LOOPSTAT_BUCKETS; k++) /* bucket 6: (0.05, 0.1] */
    above += ls.counts[k];
  assert_true(above >= 1);
  pw_loopstat_stop(&ls);
  pw_loopstat_stop(&ls); /* once is enough */
  uv_close((uv_handle_t *)&a, NULL);
  uv_close((uv_handle_t *)&b, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets),
      cmocka_unit_test(test_real_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
