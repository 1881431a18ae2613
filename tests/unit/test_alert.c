/*
 * Unit tests of alert: `for`, first firing, severity changes without `for`, reminders every
 * `repeat`, resolution with and without send_resolved, closing on no_data/no_target, silences
 * (nothing notified, resolutions included; a still-firing alert notifies when the silence
 * ends), a restart from a saved state, the lag condition of verdicts, and quiet hours.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "alert.h"

static const struct pw_alert_policy pol = {600, 86400, 1};

static void test_for_then_fire_repeat_resolve(void **state) {
  struct pw_alert_state st;

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 1000, &pol), PW_ALERT_NOTHING);
  assert_int_equal(st.since, 1000);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 1599, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 1600, &pol), PW_ALERT_FIRING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 1660, &pol), PW_ALERT_NOTHING);
  /* A severity change is news at once. */
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_SEVERE, 0, 0, 1720, &pol), PW_ALERT_CHANGED);
  assert_int_equal(st.severity, PW_SEV_SEVERE);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_SEVERE, 0, 0, 1720 + 86399, &pol),
                   PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_SEVERE, 0, 0, 1720 + 86400, &pol),
                   PW_ALERT_REMINDER);
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 0, 200000, &pol), PW_ALERT_RESOLVED);
  assert_int_equal(st.firing, 0);
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 0, 200060, &pol), PW_ALERT_NOTHING);
}

static void test_blip_shorter_than_for_is_silent(void **state) {
  struct pw_alert_state st;

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 0, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 0, 300, &pol), PW_ALERT_NOTHING);
  /* `for` counts again from the next run. */
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 400, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 900, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 1000, &pol), PW_ALERT_FIRING);
}

static void test_no_resolved_and_quiet_close(void **state) {
  struct pw_alert_policy quiet = {0, 3600, 0};
  struct pw_alert_state st;

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 10, &quiet), PW_ALERT_FIRING);
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 0, 20, &quiet), PW_ALERT_CLOSED);
  memset(&st, 0, sizeof(st));
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 10, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 610, &pol), PW_ALERT_FIRING);
  /* A new year (no target yet) closes the lag alert without a notification. */
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 1, 700, &pol), PW_ALERT_CLOSED);
  assert_int_equal(st.firing, 0);
}

static void test_silences(void **state) {
  struct pw_alert_policy now0 = {0, 86400, 1};
  struct pw_alert_state st;

  (void)state;
  memset(&st, 0, sizeof(st));
  /* Fires during a silence: nothing; the silence ends: it notifies. */
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 1, 0, 10, &now0), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 1, 0, 20, &now0), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 30, &now0), PW_ALERT_FIRING);
  /* Silenced while firing, still firing when it ends: notified again at once. */
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 1, 0, 40, &now0), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 50, &now0), PW_ALERT_REMINDER);
  assert_int_equal(pw_alert_step(&st, 1, PW_SEV_LAGGING, 0, 0, 60, &now0), PW_ALERT_NOTHING);
  /* Resolved under a silence: closed, no notification. */
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 1, 0, 70, &now0), PW_ALERT_CLOSED);
  assert_int_equal(pw_alert_step(&st, 0, PW_SEV_NONE, 0, 0, 80, &now0), PW_ALERT_NOTHING);
}

static void test_restart_from_saved_state(void **state) {
  struct pw_alert_state saved;

  (void)state;
  memset(&saved, 0, sizeof(saved));
  assert_int_equal(pw_alert_step(&saved, 1, PW_SEV_SEVERE, 0, 0, 0, &pol), PW_ALERT_NOTHING);
  assert_int_equal(pw_alert_step(&saved, 1, PW_SEV_SEVERE, 0, 0, 600, &pol), PW_ALERT_FIRING);
  /* The daemon restarts with the saved state and re-judges: nothing new to say. */
  assert_int_equal(pw_alert_step(&saved, 1, PW_SEV_SEVERE, 0, 0, 5000, &pol), PW_ALERT_NOTHING);
  /* It ended while the daemon was down: resolved once. */
  assert_int_equal(pw_alert_step(&saved, 0, PW_SEV_NONE, 0, 0, 9000, &pol), PW_ALERT_RESOLVED);
}

static void test_lag_holds_and_quiet_hours(void **state) {
  struct pw_verdict v;
  enum pw_alert_severity sev;
  int quiet;

  (void)state;
  memset(&v, 0, sizeof(v));
  v.status = PW_STATUS_SEVERE;
  assert_true(pw_alert_lag_holds(&v, &sev, &quiet));
  assert_int_equal(sev, PW_SEV_SEVERE);
  assert_false(quiet);
  v.status = PW_STATUS_OK;
  assert_false(pw_alert_lag_holds(&v, &sev, &quiet));
  v.status = PW_STATUS_NO_TARGET;
  assert_false(pw_alert_lag_holds(&v, &sev, &quiet));
  assert_true(quiet);
  assert_string_equal(pw_alert_severity_name(PW_SEV_LAGGING), "lagging");
  assert_null(pw_alert_severity_name(PW_SEV_NONE));
  assert_string_equal(pw_alert_cond_name(PW_COND_SOURCE_DOWN), "source_down");
  /* 22:00-07:30 wraps midnight. */
  assert_true(pw_alert_in_quiet_hours(22 * 60, 7 * 60 + 30, 23 * 60));
  assert_true(pw_alert_in_quiet_hours(22 * 60, 7 * 60 + 30, 0));
  assert_true(pw_alert_in_quiet_hours(22 * 60, 7 * 60 + 30, 7 * 60 + 29));
  assert_false(pw_alert_in_quiet_hours(22 * 60, 7 * 60 + 30, 7 * 60 + 30));
  assert_false(pw_alert_in_quiet_hours(22 * 60, 7 * 60 + 30, 12 * 60));
  assert_true(pw_alert_in_quiet_hours(12 * 60, 13 * 60, 12 * 60 + 30));
  assert_false(pw_alert_in_quiet_hours(12 * 60, 13 * 60, 13 * 60));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_for_then_fire_repeat_resolve),
      cmocka_unit_test(test_blip_shorter_than_for_is_silent),
      cmocka_unit_test(test_no_resolved_and_quiet_close),
      cmocka_unit_test(test_silences),
      cmocka_unit_test(test_restart_from_saved_state),
      cmocka_unit_test(test_lag_holds_and_quiet_hours),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
