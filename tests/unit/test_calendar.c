/*
 * Unit tests of calendar: zone lookup, year and quarter boundaries (the end of a period belongs
 * to it), leap-year bounds, day ends across daylight-saving changes, ISO formatting with the
 * zone's offset, and the proleptic Gregorian UTC conversion. Each group sets the process zone
 * in its setup, so groups run one after the other in one process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

#define DAY 86400
#define UTC pw_calendar_utc

/* Too large for the stack of a test; one calendar per process is all the module allows anyway. */
static struct pw_calendar cal;

static int setup_shanghai(void **state) {
  (void)state;
  return pw_calendar_init(&cal, "Asia/Shanghai");
}

static int setup_new_york(void **state) {
  (void)state;
  return pw_calendar_init(&cal, "America/New_York");
}

static int setup_st_johns(void **state) {
  (void)state;
  return pw_calendar_init(&cal, "America/St_Johns");
}

static void test_zone_exists(void **state) {
  (void)state;
  assert_int_equal(pw_calendar_zone_exists("Asia/Shanghai"), 0);
  assert_int_equal(pw_calendar_zone_exists("America/New_York"), 0);
  assert_int_equal(pw_calendar_zone_exists("UTC"), 0);
  assert_true(pw_calendar_zone_exists("Asia/Shanghia") < 0);
  assert_true(pw_calendar_zone_exists("") < 0);
  assert_true(pw_calendar_zone_exists(NULL) < 0);
  assert_true(pw_calendar_zone_exists("../etc/passwd") < 0);
  assert_true(pw_calendar_zone_exists("Asia/../../../etc/passwd") < 0);
  assert_true(pw_calendar_zone_exists("/etc/passwd") < 0);
  /* A directory of the zone database is not a zone. */
  assert_true(pw_calendar_zone_exists("Asia") < 0);
  assert_int_equal(pw_calendar_zone_exists("Asia/Shanghia"), -ENOENT);
}

static void test_init_unknown_zone_keeps_zone(void **state) {
  static struct pw_calendar other;
  char buf[64];

  (void)state;
  assert_int_equal(pw_calendar_init(&other, "Asia/Shanghia"), -ENOENT);
  assert_int_equal(pw_calendar_init(&other, ""), -ENOENT);
  /* The process zone is still Shanghai's. */
  assert_string_equal(pw_calendar_format(UTC(2024, 3, 31, 16, 0, 0), buf, sizeof(buf)),
                      "2024-04-01T00:00:00+08:00");
}

static void test_utc(void **state) {
  (void)state;
  assert_int_equal(UTC(1970, 1, 1, 0, 0, 0), 0);
  assert_int_equal(UTC(1970, 1, 2, 0, 0, 1), DAY + 1);
  assert_int_equal(UTC(1969, 12, 31, 0, 0, 0), -DAY);
  assert_int_equal(UTC(2000, 3, 1, 0, 0, 0), 951868800);
  assert_int_equal(UTC(2024, 1, 1, 0, 0, 0), 1704067200);
  assert_int_equal(UTC(2024, 4, 30, 12, 34, 56), 1714480496);
  assert_int_equal(UTC(1600, 3, 1, 0, 0, 0), -11670912000LL);
  /* 2000 is a leap year (divisible by 400), 1900 and 2100 are not. */
  assert_int_equal(UTC(2000, 3, 1, 0, 0, 0) - UTC(2000, 2, 28, 0, 0, 0), 2 * DAY);
  assert_int_equal(UTC(1900, 3, 1, 0, 0, 0) - UTC(1900, 2, 28, 0, 0, 0), DAY);
  assert_int_equal(UTC(2100, 3, 1, 0, 0, 0) - UTC(2100, 2, 28, 0, 0, 0), DAY);
  /* A leap second reads as the first second of the next minute. */
  assert_int_equal(UTC(2016, 12, 31, 23, 59, 60), UTC(2017, 1, 1, 0, 0, 0));
}

static void test_shanghai_bounds_2024(void **state) {
  int64_t b[5];

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(b[0], UTC(2023, 12, 31, 16, 0, 0));
  assert_int_equal(b[1], UTC(2024, 3, 31, 16, 0, 0));
  assert_int_equal(b[2], UTC(2024, 6, 30, 16, 0, 0));
  assert_int_equal(b[3], UTC(2024, 9, 30, 16, 0, 0));
  assert_int_equal(b[4], UTC(2024, 12, 31, 16, 0, 0));
  assert_int_equal(b[4] - b[0], 366 * DAY);
  assert_int_equal(b[1] - b[0], (31 + 29 + 31) * DAY);
  assert_int_equal(pw_calendar_bounds(&cal, 2023, b), 0);
  assert_int_equal(b[4] - b[0], 365 * DAY);
  assert_int_equal(b[1] - b[0], (31 + 28 + 31) * DAY);
}

static void test_bounds_range(void **state) {
  int64_t b[5];

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_FIRST_YEAR - 1, b), -ERANGE);
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_LAST_YEAR + 1, b), -ERANGE);
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_FIRST_YEAR, b), 0);
  assert_int_equal(b[0], UTC(1969, 12, 31, 16, 0, 0));
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_LAST_YEAR, b), 0);
  assert_int_equal(b[4], UTC(PW_CAL_LAST_YEAR, 12, 31, 16, 0, 0));
}

static void test_shanghai_year_of(void **state) {
  int64_t b[5];

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  /* The instant T0 is the end of the previous year; one second later the new year has begun. */
  assert_int_equal(pw_calendar_year_of(&cal, b[0] - 1), 2023);
  assert_int_equal(pw_calendar_year_of(&cal, b[0]), 2023);
  assert_int_equal(pw_calendar_year_of(&cal, b[0] + 1), 2024);
  assert_int_equal(pw_calendar_year_of(&cal, b[2]), 2024);
  assert_int_equal(pw_calendar_year_of(&cal, b[4]), 2024);
  assert_int_equal(pw_calendar_year_of(&cal, b[4] + 1), 2025);
  /* UTC midnight of January 1 is already 08:00 local. */
  assert_int_equal(pw_calendar_year_of(&cal, UTC(2024, 1, 1, 0, 0, 0)), 2024);
  assert_int_equal(pw_calendar_year_of(&cal, UTC(2024, 12, 31, 16, 0, 1)), 2025);
}

static void test_shanghai_quarter_of(void **state) {
  int64_t b[5];
  int k;

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(pw_calendar_quarter_of(&cal, b[0]), 4);
  assert_int_equal(pw_calendar_quarter_of(&cal, b[0] + 1), 1);
  for (k = 1; k <= 4; k++) {
    /* The quarter's end belongs to it; the next second to the next quarter. */
    assert_int_equal(pw_calendar_quarter_of(&cal, b[k] - 1), k);
    assert_int_equal(pw_calendar_quarter_of(&cal, b[k]), k);
    assert_int_equal(pw_calendar_quarter_of(&cal, b[k] + 1), k % 4 + 1);
  }
  assert_int_equal(pw_calendar_year_of(&cal, b[4] + 1), 2025);
  assert_int_equal(pw_calendar_quarter_of(&cal, UTC(2024, 5, 15, 0, 0, 0)), 2);
}

static void test_out_of_range(void **state) {
  int64_t first[5], last[5];

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_FIRST_YEAR, first), 0);
  assert_int_equal(pw_calendar_bounds(&cal, PW_CAL_LAST_YEAR, last), 0);
  assert_int_equal(pw_calendar_year_of(&cal, first[0]), 0);
  assert_int_equal(pw_calendar_quarter_of(&cal, first[0]), 0);
  assert_int_equal(pw_calendar_year_of(&cal, first[0] + 1), PW_CAL_FIRST_YEAR);
  assert_int_equal(pw_calendar_quarter_of(&cal, first[0] + 1), 1);
  assert_int_equal(pw_calendar_year_of(&cal, last[4]), PW_CAL_LAST_YEAR);
  assert_int_equal(pw_calendar_quarter_of(&cal, last[4]), 4);
  assert_int_equal(pw_calendar_year_of(&cal, last[4] + 1), 0);
  assert_int_equal(pw_calendar_quarter_of(&cal, last[4] + 1), 0);
  assert_int_equal(pw_calendar_year_of(&cal, INT64_MIN), 0);
  assert_int_equal(pw_calendar_quarter_of(&cal, INT64_MIN), 0);
  assert_int_equal(pw_calendar_year_of(&cal, INT64_MAX), 0);
  assert_int_equal(pw_calendar_quarter_of(&cal, INT64_MAX), 0);
}

static void test_shanghai_every_year(void **state) {
  int y;

  (void)state;
  /* Each year's bounds agree with a direct conversion and year_of/quarter_of agree with them. */
  for (y = PW_CAL_FIRST_YEAR; y <= PW_CAL_LAST_YEAR; y++) {
    int64_t b[5];
    int k;

    assert_int_equal(pw_calendar_bounds(&cal, y, b), 0);
    assert_int_equal(b[0], pw_calendar_local(y, 1, 1, 0, 0, 0));
    assert_int_equal(b[4], pw_calendar_local(y + 1, 1, 1, 0, 0, 0));
    for (k = 1; k <= 4; k++) {
      assert_true(b[k] > b[k - 1]);
      assert_int_equal(pw_calendar_year_of(&cal, b[k]), y);
      assert_int_equal(pw_calendar_quarter_of(&cal, b[k]), k);
      assert_int_equal(pw_calendar_quarter_of(&cal, b[k - 1] + 1), k);
    }
  }
}

static void test_shanghai_day_end_and_local(void **state) {
  (void)state;
  assert_int_equal(pw_calendar_day_end(2024, 3, 31), UTC(2024, 3, 31, 16, 0, 0));
  assert_int_equal(pw_calendar_day_end(2024, 2, 28), UTC(2024, 2, 28, 16, 0, 0));
  assert_int_equal(pw_calendar_day_end(2024, 2, 29), UTC(2024, 2, 29, 16, 0, 0));
  assert_int_equal(pw_calendar_day_end(2024, 12, 31), UTC(2024, 12, 31, 16, 0, 0));
  /* Normalised as by mktime: day 0 of March is February 29 in 2024. */
  assert_int_equal(pw_calendar_day_end(2024, 3, 0), UTC(2024, 2, 29, 16, 0, 0));
  assert_int_equal(pw_calendar_local(2024, 4, 30, 12, 0, 0), UTC(2024, 4, 30, 4, 0, 0));
  assert_int_equal(pw_calendar_local(2024, 13, 1, 0, 0, 0), UTC(2024, 12, 31, 16, 0, 0));
}

static void test_shanghai_format(void **state) {
  char buf[64];

  (void)state;
  assert_string_equal(pw_calendar_format(UTC(2024, 3, 31, 16, 0, 0), buf, sizeof(buf)),
                      "2024-04-01T00:00:00+08:00");
  assert_string_equal(pw_calendar_format(UTC(2024, 4, 30, 4, 5, 6), buf, sizeof(buf)),
                      "2024-04-30T12:05:06+08:00");
  assert_string_equal(pw_calendar_format(0, buf, sizeof(buf)), "1970-01-01T08:00:00+08:00");
  /* A short buffer truncates but stays terminated. */
  assert_string_equal(pw_calendar_format(0, buf, 5), "1970");
}

static void test_new_york_bounds_2024(void **state) {
  int64_t b[5];

  (void)state;
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(b[0], UTC(2024, 1, 1, 5, 0, 0));
  assert_int_equal(b[1], UTC(2024, 4, 1, 4, 0, 0));
  assert_int_equal(b[2], UTC(2024, 7, 1, 4, 0, 0));
  assert_int_equal(b[3], UTC(2024, 10, 1, 4, 0, 0));
  assert_int_equal(b[4], UTC(2025, 1, 1, 5, 0, 0));
  /* Daylight saving moves no year boundary: both are EST. */
  assert_int_equal(b[4] - b[0], 366 * DAY);
  /* Q1 lost the hour of March 10. */
  assert_int_equal(b[1] - b[0], (31 + 29 + 31) * DAY - 3600);
  assert_int_equal(pw_calendar_year_of(&cal, b[0]), 2023);
  assert_int_equal(pw_calendar_year_of(&cal, b[0] + 1), 2024);
  assert_int_equal(pw_calendar_quarter_of(&cal, b[1]), 1);
  assert_int_equal(pw_calendar_quarter_of(&cal, b[1] + 1), 2);
  /* 2024-01-01T04:59:59Z is still 2023-12-31 in New York. */
  assert_int_equal(pw_calendar_year_of(&cal, UTC(2024, 1, 1, 4, 59, 59)), 2023);
}

static void test_new_york_day_end(void **state) {
  (void)state;
  assert_int_equal(pw_calendar_day_end(2024, 3, 10), UTC(2024, 3, 11, 4, 0, 0));
  assert_int_equal(pw_calendar_day_end(2024, 11, 3), UTC(2024, 11, 4, 5, 0, 0));
  /* March 10 is 23 hours long, November 3 is 25. */
  assert_int_equal(pw_calendar_day_end(2024, 3, 10) - pw_calendar_day_end(2024, 3, 9), 23 * 3600);
  assert_int_equal(pw_calendar_day_end(2024, 11, 3) - pw_calendar_day_end(2024, 11, 2), 25 * 3600);
  assert_int_equal(pw_calendar_local(2024, 7, 4, 12, 0, 0), UTC(2024, 7, 4, 16, 0, 0));
  assert_int_equal(pw_calendar_local(2024, 1, 15, 12, 0, 0), UTC(2024, 1, 15, 17, 0, 0));
}

/* Month days without the zone database (reporting deadlines, docs/judgement.md): the end of
 * day D of a month, clamped to the month's last day, leap years and summer time included. */
static void test_shanghai_month_day_end(void **state) {
  int y, m;

  (void)state;
  assert_int_equal(pw_calendar_month_start(&cal, 2024, 4), UTC(2024, 3, 31, 16, 0, 0));
  assert_int_equal(pw_calendar_month_start(&cal, 2024, 13), UTC(2024, 12, 31, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 4, 5), UTC(2024, 4, 5, 16, 0, 0));
  /* Day 31 of April is April 30; day 30 of February 2024 (leap) is the 29th, of 2023 the 28th. */
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 4, 31), UTC(2024, 4, 30, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 2, 30), UTC(2024, 2, 29, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 2, 29), UTC(2024, 2, 29, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2023, 2, 29), UTC(2023, 2, 28, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 12, 31), UTC(2024, 12, 31, 16, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 1969, 12, 5), -1);
  assert_int_equal(pw_calendar_month_of(&cal, UTC(2024, 3, 31, 16, 0, 0), &y, &m), 0);
  assert_int_equal(y * 100 + m, 202404);
  assert_int_equal(pw_calendar_month_of(&cal, UTC(2024, 3, 31, 15, 59, 59), &y, &m), 0);
  assert_int_equal(y * 100 + m, 202403);
  assert_int_equal(pw_calendar_month_of(&cal, UTC(1960, 1, 1, 0, 0, 0), &y, &m), -ERANGE);
}

static void test_new_york_month_day_end(void **state) {
  int y, m, d;

  (void)state;
  /* Clocks go forward on March 10, 2024 and back on November 3. */
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 3, 5), UTC(2024, 3, 6, 5, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 3, 15), UTC(2024, 3, 16, 4, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 11, 2), UTC(2024, 11, 3, 4, 0, 0));
  assert_int_equal(pw_calendar_month_day_end(&cal, 2024, 11, 5), UTC(2024, 11, 6, 5, 0, 0));
  /* Every day of a few years agrees with mktime (day_end of day 0 of the next month is the
   * last day's end). */
  for (y = 2023; y <= 2025; y++)
    for (m = 1; m <= 12; m++) {
      int last =
          (int)((pw_calendar_day_end(y, m + 1, 0) - pw_calendar_day_end(y, m, 0) + 43200) / DAY);
      for (d = 1; d <= 31; d++)
        assert_int_equal(pw_calendar_month_day_end(&cal, y, m, d),
                         pw_calendar_day_end(y, m, d < last ? d : last));
    }
}

static void test_new_york_format(void **state) {
  char buf[64];

  (void)state;
  assert_string_equal(pw_calendar_format(UTC(2024, 4, 1, 4, 0, 0), buf, sizeof(buf)),
                      "2024-04-01T00:00:00-04:00");
  assert_string_equal(pw_calendar_format(UTC(2024, 1, 1, 5, 0, 0), buf, sizeof(buf)),
                      "2024-01-01T00:00:00-05:00");
  /* Either side of the spring-forward gap and the fall-back repeat. */
  assert_string_equal(pw_calendar_format(UTC(2024, 3, 10, 6, 59, 59), buf, sizeof(buf)),
                      "2024-03-10T01:59:59-05:00");
  assert_string_equal(pw_calendar_format(UTC(2024, 3, 10, 7, 0, 0), buf, sizeof(buf)),
                      "2024-03-10T03:00:00-04:00");
  assert_string_equal(pw_calendar_format(UTC(2024, 11, 3, 5, 30, 0), buf, sizeof(buf)),
                      "2024-11-03T01:30:00-04:00");
  assert_string_equal(pw_calendar_format(UTC(2024, 11, 3, 6, 30, 0), buf, sizeof(buf)),
                      "2024-11-03T01:30:00-05:00");
}

static void test_st_johns_half_hour_offset(void **state) {
  char buf[64];
  int64_t b[5];

  (void)state;
  assert_string_equal(pw_calendar_format(UTC(2024, 1, 15, 15, 30, 0), buf, sizeof(buf)),
                      "2024-01-15T12:00:00-03:30");
  assert_string_equal(pw_calendar_format(UTC(2024, 7, 15, 14, 30, 0), buf, sizeof(buf)),
                      "2024-07-15T12:00:00-02:30");
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(b[0], UTC(2024, 1, 1, 3, 30, 0));
  assert_int_equal(b[4] - b[0], 366 * DAY);
}

int main(void) {
  const struct CMUnitTest zone_free[] = {
      cmocka_unit_test(test_zone_exists),
      cmocka_unit_test(test_utc),
  };
  const struct CMUnitTest shanghai[] = {
      cmocka_unit_test(test_shanghai_bounds_2024),
      cmocka_unit_test(test_bounds_range),
      cmocka_unit_test(test_shanghai_year_of),
      cmocka_unit_test(test_shanghai_quarter_of),
      cmocka_unit_test(test_out_of_range),
      cmocka_unit_test(test_shanghai_every_year),
      cmocka_unit_test(test_shanghai_day_end_and_local),
      cmocka_unit_test(test_shanghai_format),
      cmocka_unit_test(test_shanghai_month_day_end),
      cmocka_unit_test(test_init_unknown_zone_keeps_zone),
  };
  const struct CMUnitTest new_york[] = {
      cmocka_unit_test(test_new_york_bounds_2024),   cmocka_unit_test(test_new_york_day_end),
      cmocka_unit_test(test_new_york_month_day_end), cmocka_unit_test(test_new_york_format),
      cmocka_unit_test(test_out_of_range),
  };
  const struct CMUnitTest st_johns[] = {
      cmocka_unit_test(test_st_johns_half_hour_offset),
  };
  int failed = 0;

  failed += cmocka_run_group_tests_name("calendar", zone_free, NULL, NULL);
  failed += cmocka_run_group_tests_name("calendar_shanghai", shanghai, setup_shanghai, NULL);
  failed += cmocka_run_group_tests_name("calendar_new_york", new_york, setup_new_york, NULL);
  failed += cmocka_run_group_tests_name("calendar_st_johns", st_johns, setup_st_johns, NULL);
  return failed == 0 ? 0 : 1;
}
