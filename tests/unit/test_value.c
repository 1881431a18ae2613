/*
 * Unit tests of value: figures with separators, "%", "万" and "亿" (scaled exactly, in
 * decimal), the not-published markers and every rejected text; dates in each form of
 * docs/values.md read in Asia/Shanghai and in America/New_York (daylight saving), with strict range
 * checks; durations; and the shortest round-tripping format of a figure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "value.h"

#define UTC pw_calendar_utc

/* Too large for the stack of a test. */
static struct pw_calendar cal;

static int setup_shanghai(void **state) {
  (void)state;
  return pw_calendar_init(&cal, "Asia/Shanghai");
}

static int setup_new_york(void **state) {
  (void)state;
  return pw_calendar_init(&cal, "America/New_York");
}

/* Parses TEXT as a figure and checks that it reads exactly as WANT. */
static void value_is(const char *text, double want) {
  double v = -12345.678;
  int rc = pw_value_parse(text, &v);

  if (rc != 0 || v != want)
    fail_msg("pw_value_parse(\"%s\") = %d, %.17g; want 0, %.17g", text, rc, v, want);
}

static void value_rejected(const char *text) {
  double v = -12345.678;
  int rc = pw_value_parse(text, &v);

  if (rc != -EINVAL)
    fail_msg("pw_value_parse(\"%s\") = %d (%.17g); want -EINVAL", text, rc, v);
}

static void value_not_published(const char *text) {
  double v;

  if (pw_value_parse(text, &v) != PW_VALUE_NOT_PUBLISHED)
    fail_msg("pw_value_parse(\"%s\") is not PW_VALUE_NOT_PUBLISHED", text);
  if (pw_value_is_not_published(text) != 1)
    fail_msg("pw_value_is_not_published(\"%s\") != 1", text);
}

static void date_is(const char *text, int64_t want) {
  int64_t t = -1;
  int rc = pw_date_parse(text, &t);

  if (rc != 0 || t != want)
    fail_msg("pw_date_parse(\"%s\") = %d, %lld; want 0, %lld", text, rc, (long long)t,
             (long long)want);
}

static void date_rejected(const char *text) {
  int64_t t = -1;
  int rc = pw_date_parse(text, &t);

  if (rc != -EINVAL)
    fail_msg("pw_date_parse(\"%s\") = %d (%lld); want -EINVAL", text, rc, (long long)t);
}

static void duration_is(const char *text, int64_t want) {
  int64_t d = -1;
  int rc = pw_duration_parse(text, &d);

  if (rc != 0 || d != want)
    fail_msg("pw_duration_parse(\"%s\") = %d, %lld; want 0, %lld", text, rc, (long long)d,
             (long long)want);
}

static void duration_rejected(const char *text) {
  int64_t d = -1;
  int rc = pw_duration_parse(text, &d);

  if (rc != -EINVAL)
    fail_msg("pw_duration_parse(\"%s\") = %d (%lld); want -EINVAL", text, rc, (long long)d);
}

static void format_is(double v, const char *want) {
  char buf[64];

  if (strcmp(pw_value_format(v, buf, sizeof(buf)), want) != 0)
    fail_msg("pw_value_format(%.17g) = \"%s\"; want \"%s\"", v, buf, want);
}

/* ---- figures ---- */

static void test_value_plain(void **state) {
  (void)state;
  value_is("15600", 15600);
  value_is("0", 0);
  value_is("7800.5", 7800.5);
  value_is("0.1", 0.1);
  value_is("-3.5", -3.5);
  value_is("+42", 42);
  value_is("+0.25", 0.25);
  value_is(".5", 0.5);
  value_is("5.", 5);
  value_is("-.5", -0.5);
  value_is("007", 7);
  value_is("1.5e3", 1500);
  value_is("1.5E3", 1500);
  value_is("2e-3", 0.002);
  value_is("-1e+2", -100);
  value_is("1e308", 1e308);
}

static void test_value_whitespace(void **state) {
  (void)state;
  value_is("  12  ", 12);
  value_is("\t7\n", 7);
  value_is("\r\n 1,234 \r\n", 1234);
  value_is(" 85% ", 85);
  value_is(" 51.03万\t", 510300.0);
}

static void test_value_thousands(void **state) {
  (void)state;
  value_is("1,234", 1234);
  value_is("1,234,567.5", 1234567.5);
  value_is("-1,234.5", -1234.5);
  value_is("+1,000", 1000);
  value_is("999,999", 999999);
  value_is("12,345,678", 12345678);
  value_is("1,234.567", 1234.567);
  value_rejected("12,34");
  value_rejected("1,2345");
  value_rejected("1234,567");
  value_rejected(",123");
  value_rejected("123,");
  value_rejected("1,,234");
  value_rejected("1,234,56");
  value_rejected("1,234,5678");
  value_rejected("1,23,456");
  value_rejected("1.234,5");
  value_rejected("1,234.5,6");
  value_rejected("-,123");
  value_rejected(",");
}

static void test_value_percent(void **state) {
  (void)state;
  value_is("85%", 85);
  value_is("-2.5%", -2.5);
  value_is("100.0%", 100);
  value_is("1,234%", 1234);
  value_is("0.07%", 0.07);
  value_rejected("%");
  value_rejected("-%");
  value_rejected("85 %");
  value_rejected("%85");
  value_rejected("5%%");
  value_rejected("1e2%");
}

static void test_value_wan_yi_exact(void **state) {
  (void)state;
  /* Exactly the decimal value, as strtod of "51.03e4" gives, never 51.03 * 1e4. */
  value_is("51.03万", 510300.0);
  value_is("25.3万", 253000.0);
  value_is("5.95亿", 595000000.0);
  value_is("3万", 30000);
  value_is("-3万", -30000);
  value_is("+1.5亿", 150000000);
  value_is("1,234.5万", 12345000);
  value_is("0.0001万", 1);
  /* Cases where multiplying doubles would be off by one ulp. */
  assert_true(0.07 * 1e4 != 700.0);
  value_is("0.07万", 700.0);
  assert_true(0.017 * 1e8 != 1700000.0);
  value_is("0.017亿", 1700000.0);
  value_rejected("万");
  value_rejected("亿");
  value_rejected("-万");
  value_rejected("5万万");
  value_rejected("5万%");
  value_rejected("5%万");
  value_rejected("5 万");
  value_rejected("1e5万");
  value_rejected("万5");
  value_rejected("5千");
}

static void test_value_not_published(void **state) {
  (void)state;
  value_not_published("");
  value_not_published("-");
  value_not_published("—");
  value_not_published("未公布");
  value_not_published("暂无");
  value_not_published("   ");
  value_not_published(" - ");
  value_not_published("\t暂无\n");
  value_not_published(" — ");
  assert_int_equal(pw_value_is_not_published("0"), 0);
  assert_int_equal(pw_value_is_not_published("--"), 0);
  assert_int_equal(pw_value_is_not_published("n/a"), 0);
  assert_int_equal(pw_value_is_not_published("未公布x"), 0);
  assert_int_equal(pw_value_is_not_published("–"), 0); /* U+2013, an en dash */
  assert_int_equal(pw_value_is_not_published("12"), 0);
  assert_int_equal(pw_value_is_not_published(NULL), 0);
}

static void test_value_rejected(void **state) {
  char long_text[300];
  double v;

  (void)state;
  value_rejected("nan");
  value_rejected("NaN");
  value_rejected("-nan");
  value_rejected("inf");
  value_rejected("-inf");
  value_rejected("infinity");
  value_rejected("1e999");
  value_rejected("-1e999");
  value_rejected("1e-999");
  value_rejected("abc");
  value_rejected("12abc");
  value_rejected("1.2.3");
  value_rejected("0x10");
  value_rejected("0X1p3");
  value_rejected("+");
  value_rejected("--5");
  value_rejected("+-5");
  value_rejected("- 5");
  value_rejected("1 000");
  value_rejected(".");
  value_rejected("-.");
  value_rejected("e5");
  value_rejected("1e");
  value_rejected("1e+");
  value_rejected("1e5.5");
  value_rejected("——");
  value_rejected("１２");
  value_rejected("12\x01");
  memset(long_text, '1', sizeof(long_text) - 1);
  long_text[sizeof(long_text) - 1] = '\0';
  value_rejected(long_text);
  assert_int_equal(pw_value_parse(NULL, &v), -EINVAL);
  assert_int_equal(pw_value_parse("1", NULL), -EINVAL);
}

/* ---- dates ---- */

static void test_date_day_forms_shanghai(void **state) {
  int64_t end = UTC(2024, 3, 31, 16, 0, 0); /* 2024-04-01T00:00+08:00 */

  (void)state;
  date_is("2024-03-31", end);
  date_is("2024/03/31", end);
  date_is("2024/3/31", end);
  date_is("20240331", end);
  date_is("2024年3月31日", end);
  date_is("2024年03月31日", end);
  date_is("  2024-03-31\n", end);
  date_is("2024-02-29", UTC(2024, 2, 29, 16, 0, 0));
  date_is("2000-02-29", UTC(2000, 2, 29, 16, 0, 0));
  date_is("2024-12-31", UTC(2024, 12, 31, 16, 0, 0));
  date_is("2024年1月1日", UTC(2024, 1, 1, 16, 0, 0));
  date_is("20241231", UTC(2024, 12, 31, 16, 0, 0));
}

static void test_date_month_forms_shanghai(void **state) {
  (void)state;
  date_is("2024-03", UTC(2024, 3, 31, 16, 0, 0));
  date_is("2024年3月", UTC(2024, 3, 31, 16, 0, 0));
  date_is("2024年03月", UTC(2024, 3, 31, 16, 0, 0));
  date_is("2024-02", UTC(2024, 2, 29, 16, 0, 0));
  date_is("2023-02", UTC(2023, 2, 28, 16, 0, 0));
  date_is("2024-12", UTC(2024, 12, 31, 16, 0, 0));
  date_is("2024年12月", UTC(2024, 12, 31, 16, 0, 0));
}

static void test_date_quarter_forms_shanghai(void **state) {
  int64_t q1 = UTC(2024, 3, 31, 16, 0, 0), q2 = UTC(2024, 6, 30, 16, 0, 0);
  int64_t q3 = UTC(2024, 9, 30, 16, 0, 0), q4 = UTC(2024, 12, 31, 16, 0, 0);
  int64_t b[5];

  (void)state;
  date_is("2024年第1季度", q1);
  date_is("2024年第2季度", q2);
  date_is("2024年第3季度", q3);
  date_is("2024年第4季度", q4);
  date_is("2024年第一季度", q1);
  date_is("2024年第二季度", q2);
  date_is("2024年第三季度", q3);
  date_is("2024年第四季度", q4);
  date_is("2024年一季度", q1);
  date_is("2024年二季度", q2);
  date_is("2024年三季度", q3);
  date_is("2024年四季度", q4);
  date_is("2024年1季度", q1);
  date_is("2024Q1", q1);
  date_is("2024Q2", q2);
  date_is("2024q3", q3);
  date_is("2024Q4", q4);
  /* A quarter's end is the calendar's quarter boundary. */
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(q1, b[1]);
  assert_int_equal(q4, b[4]);
}

static void test_date_iso_shanghai(void **state) {
  int64_t noon_local = UTC(2024, 4, 30, 4, 0, 0);

  (void)state;
  date_is("2024-04-30T12:00:00+08:00", noon_local);
  date_is("2024-04-30T12:00:00+0800", noon_local);
  date_is("2024-04-30T12:00:00+08", noon_local);
  date_is("2024-04-30T12:00+08:00", noon_local);
  date_is("2024-04-30T12:00:00", noon_local);
  date_is("2024-04-30T12:00", noon_local);
  date_is("2024-04-30 12:00:00", noon_local);
  date_is("2024-04-30 12:00", noon_local);
  date_is("2024-04-30T12:00:00Z", UTC(2024, 4, 30, 12, 0, 0));
  date_is("2024-04-30T12:00:00z", UTC(2024, 4, 30, 12, 0, 0));
  date_is("2024-04-30T12:00:00-05:00", UTC(2024, 4, 30, 17, 0, 0));
  date_is("2024-04-30T12:00:00+05:30", UTC(2024, 4, 30, 6, 30, 0));
  date_is("2024-04-30T12:00:00-0330", UTC(2024, 4, 30, 15, 30, 0));
  date_is("2024-04-30T12:00:00+00:00", UTC(2024, 4, 30, 12, 0, 0));
  date_is("2024-04-30T12:34:56+08:00", UTC(2024, 4, 30, 4, 34, 56));
  /* Fractions of a second are dropped. */
  date_is("2024-04-30T12:00:00.999", noon_local);
  date_is("2024-04-30T12:00:00.5+08:00", noon_local);
  date_is("2024-04-30T12:00:00.123456Z", UTC(2024, 4, 30, 12, 0, 0));
  /* Boundaries of every field. */
  date_is("2024-04-30T00:00:00Z", UTC(2024, 4, 30, 0, 0, 0));
  date_is("2024-04-30T23:59:59Z", UTC(2024, 4, 30, 23, 59, 59));
  date_is("2016-12-31T23:59:60Z", UTC(2017, 1, 1, 0, 0, 0));
  date_is("2024-12-31T23:59:59+08:00", UTC(2024, 12, 31, 15, 59, 59));
  date_is("2024-01-01T00:30:00+14:00", UTC(2023, 12, 31, 10, 30, 0));
}

static void test_date_epoch(void **state) {
  (void)state;
  date_is("1711900800", 1711900800);
  date_is("1714480496", UTC(2024, 4, 30, 12, 34, 56));
  date_is("0000000000", 0);
  date_is("0000000001", 1);
  date_is("99999999999", 99999999999LL);
  date_is("9223372036854775807", INT64_MAX);
  date_is(" 1711900800 ", 1711900800);
  date_rejected("9223372036854775808");
  date_rejected("99999999999999999999");
  date_rejected("171190080");   /* nine digits */
  date_rejected("1234567");     /* seven */
  date_rejected("2024");        /* a year alone */
  date_rejected("-1711900800"); /* no negative epochs */
  date_rejected("+1711900800");
  date_rejected("1711900800.5");
  date_rejected("1.7e9");
}

static void test_date_ranges(void **state) {
  (void)state;
  date_rejected("2023-02-29");
  date_rejected("1900-02-29");
  date_rejected("2100-02-29");
  date_rejected("2024-02-30");
  date_rejected("2024-04-31");
  date_rejected("2024-06-31");
  date_rejected("2024-09-31");
  date_rejected("2024-11-31");
  date_rejected("2024-01-32");
  date_rejected("2024-13-01");
  date_rejected("2024-00-10");
  date_rejected("2024-01-00");
  date_rejected("0000-01-01");
  date_rejected("2024/02/30");
  date_rejected("2024/13/01");
  date_rejected("2024/00/01");
  date_rejected("20230229");
  date_rejected("20241301");
  date_rejected("20240100");
  date_rejected("20240431");
  date_rejected("2023年2月29日");
  date_rejected("2024年4月31日");
  date_rejected("2024年13月1日");
  date_rejected("2024年0月1日");
  date_rejected("2024年1月0日");
  date_rejected("2024-13");
  date_rejected("2024-00");
  date_rejected("2024年13月");
  date_rejected("2024年0月");
  date_rejected("2024Q0");
  date_rejected("2024Q5");
  date_rejected("2024年第0季度");
  date_rejected("2024年第5季度");
  date_rejected("2024年第五季度");
  date_rejected("2024年五季度");
  date_rejected("2024年第12季度");
  date_rejected("2024-04-30T24:00:00");
  date_rejected("2024-04-30T24:00:00Z");
  date_rejected("2024-04-30T23:60:00");
  date_rejected("2024-04-30T23:59:61");
  date_rejected("2024-04-30T12:00:00+24:00");
  date_rejected("2024-04-30T12:00:00+08:60");
  date_rejected("2024-02-30T12:00:00Z");
}

static void test_date_malformed(void **state) {
  int64_t t;

  (void)state;
  date_rejected("");
  date_rejected("   ");
  date_rejected("abc");
  date_rejected("-");
  date_rejected("2024-");
  date_rejected("2024-3");
  date_rejected("2024-3-31");
  date_rejected("2024-03-1");
  date_rejected("2024-003-01");
  date_rejected("2024-03-311");
  date_rejected("24-03-31");
  date_rejected("02024-03-31");
  date_rejected("2024/03");
  date_rejected("2024/03-31");
  date_rejected("2024-03/31");
  date_rejected("2024.03.31");
  date_rejected("2024-03-31x");
  date_rejected("2024-03-31T");
  date_rejected("2024-03-31TT12:00");
  date_rejected("2024-03-31T12");
  date_rejected("2024-03-31T12:");
  date_rejected("2024-03-31T12:0");
  date_rejected("2024-03-31T1:00");
  date_rejected("2024-03-31T12:00:");
  date_rejected("2024-03-31T12:00:0");
  date_rejected("2024-03-31T12:00:00.");
  date_rejected("2024-03-31T12:00:00.5.5");
  date_rejected("2024-03-31T1200");
  date_rejected("2024-03-31T12:00:00+8");
  date_rejected("2024-03-31T12:00:00+08:0");
  date_rejected("2024-03-31T12:00:00+080");
  date_rejected("2024-03-31T12:00:00+08000");
  date_rejected("2024-03-31T12:00:00+08:00:00");
  date_rejected("2024-03-31T12:00:00 +08:00");
  date_rejected("2024-03-31T12:00:00ZZ");
  date_rejected("2024-03-31T12:00:00Z+08:00");
  date_rejected("2024-03-31T12:00:00UTC");
  date_rejected("2024-03-31T12:00:00+");
  date_rejected("2024-03-31  12:00");
  date_rejected("2024年");
  date_rejected("2024年3");
  date_rejected("2024年3月31");
  date_rejected("2024年3月31日x");
  date_rejected("2024年3月31号");
  date_rejected("2024年123月");
  date_rejected("2024年3月123日");
  date_rejected("2024年第季度");
  date_rejected("2024年第1季");
  date_rejected("2024年第1季度末");
  date_rejected("2024年第一二季度");
  date_rejected("2024年第1月");
  date_rejected("2024年 3月");
  date_rejected("2024Q");
  date_rejected("2024Q12");
  date_rejected("2024Q一");
  date_rejected("2024 Q1");
  date_rejected("2024-Q1");
  date_rejected("Q1 2024");
  date_rejected("2024Q1x");
  assert_int_equal(pw_date_parse(NULL, &t), -EINVAL);
  assert_int_equal(pw_date_parse("2024-03-31", NULL), -EINVAL);
}

static void test_date_new_york(void **state) {
  int64_t b[5];

  (void)state;
  /* Days whose end falls on either side of a change of offset. */
  date_is("2024-03-10", UTC(2024, 3, 11, 4, 0, 0));
  date_is("2024-03-09", UTC(2024, 3, 10, 5, 0, 0));
  date_is("2024-11-03", UTC(2024, 11, 4, 5, 0, 0));
  date_is("2024-11-02", UTC(2024, 11, 3, 4, 0, 0));
  date_is("20240310", UTC(2024, 3, 11, 4, 0, 0));
  date_is("2024/11/03", UTC(2024, 11, 4, 5, 0, 0));
  date_is("2024年3月10日", UTC(2024, 3, 11, 4, 0, 0));
  /* Local times inside and outside daylight saving. */
  date_is("2024-07-04T12:00:00", UTC(2024, 7, 4, 16, 0, 0));
  date_is("2024-07-04 12:00", UTC(2024, 7, 4, 16, 0, 0));
  date_is("2024-01-15T12:00", UTC(2024, 1, 15, 17, 0, 0));
  date_is("2024-03-10T01:59:59", UTC(2024, 3, 10, 6, 59, 59));
  date_is("2024-03-10T03:00:00", UTC(2024, 3, 10, 7, 0, 0));
  /* An explicit offset does not depend on the zone. */
  date_is("2024-07-04T12:00:00+08:00", UTC(2024, 7, 4, 4, 0, 0));
  date_is("2024-07-04T12:00:00Z", UTC(2024, 7, 4, 12, 0, 0));
  date_is("2024-07-04T12:00:00-04:00", UTC(2024, 7, 4, 16, 0, 0));
  /* Months and quarters end at local midnight, whatever the offset then. */
  date_is("2024-02", UTC(2024, 3, 1, 5, 0, 0));
  date_is("2024-03", UTC(2024, 4, 1, 4, 0, 0));
  date_is("2024年10月", UTC(2024, 11, 1, 4, 0, 0));
  date_is("2024-11", UTC(2024, 12, 1, 5, 0, 0));
  date_is("2024Q1", UTC(2024, 4, 1, 4, 0, 0));
  date_is("2024年第四季度", UTC(2025, 1, 1, 5, 0, 0));
  date_is("2024年三季度", UTC(2024, 10, 1, 4, 0, 0));
  assert_int_equal(pw_calendar_bounds(&cal, 2024, b), 0);
  assert_int_equal(pw_calendar_day_end(2024, 3, 31), b[1]);
  /* Epoch seconds are zone-free. */
  date_is("1711900800", 1711900800);
}

static void test_date_new_york_gap(void **state) {
  int64_t t;

  (void)state;
  /* 02:30 on March 10 does not exist in New York; whatever mktime makes of it lies within the
   * hour that was skipped, read with either offset. */
  assert_int_equal(pw_date_parse("2024-03-10T02:30:00", &t), 0);
  assert_true(t >= UTC(2024, 3, 10, 6, 30, 0) && t <= UTC(2024, 3, 10, 7, 30, 0));
  /* 01:30 on November 3 happens twice; either reading is an acceptable instant. */
  assert_int_equal(pw_date_parse("2024-11-03T01:30:00", &t), 0);
  assert_true(t == UTC(2024, 11, 3, 5, 30, 0) || t == UTC(2024, 11, 3, 6, 30, 0));
}

/* ---- durations ---- */

static void test_duration(void **state) {
  (void)state;
  duration_is("90s", 90);
  duration_is("5m", 300);
  duration_is("1h", 3600);
  duration_is("24h", 86400);
  duration_is("7d", 604800);
  duration_is("2w", 1209600);
  duration_is("0s", 0);
  duration_is("0m", 0);
  duration_is("1h30m", 5400);
  duration_is("1d12h", 129600);
  duration_is("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  duration_is("2m30s", 150);
  duration_is("0h5m", 300);
  duration_is("  10s\n", 10);
  duration_is("007m", 420);
  duration_is("9223372036854775807s", INT64_MAX);
  duration_is("15250284452471w", 15250284452471LL * 604800);
  duration_is("106751991167300d15h", 106751991167300LL * 86400 + 15 * 3600);
}

static void test_duration_rejected(void **state) {
  int64_t d;

  (void)state;
  duration_rejected("");
  duration_rejected("  ");
  duration_rejected("90");
  duration_rejected("0");
  duration_rejected("-5m");
  duration_rejected("+5m");
  duration_rejected("5x");
  duration_rejected("5y");
  duration_rejected("5M");
  duration_rejected("5H");
  duration_rejected("5ms");
  duration_rejected("s");
  duration_rejected("h1");
  duration_rejected("1h30");
  duration_rejected("1h 30m");
  duration_rejected("1.5h");
  duration_rejected("30m1h");
  duration_rejected("1h1h");
  duration_rejected("1s1m");
  duration_rejected("5 m");
  duration_rejected("1hm");
  duration_rejected("9223372036854775808s");
  duration_rejected("99999999999999999999s");
  duration_rejected("15250284452472w");
  duration_rejected("106751991167301d");
  duration_rejected("106751991167300d16h");
  duration_rejected("9223372036854775807s1s");
  assert_int_equal(pw_duration_parse(NULL, &d), -EINVAL);
  assert_int_equal(pw_duration_parse("1h", NULL), -EINVAL);
}

/* ---- formatting ---- */

static void test_format(void **state) {
  char buf[64];

  (void)state;
  format_is(510300, "510300");
  format_is(0.1, "0.1");
  format_is(4.35, "4.35");
  format_is(-2.5, "-2.5");
  format_is(0, "0");
  format_is(-0.0, "0");
  format_is(1, "1");
  format_is(-7, "-7");
  format_is(85, "85");
  format_is(1234567.5, "1234567.5");
  format_is(595000000, "595000000");
  format_is(1e15, "1000000000000000");
  format_is(-1e15, "-1000000000000000");
  format_is(999999999999999, "999999999999999");
  format_is(1e16, "1e+16");
  format_is(0.1 + 0.2, "0.30000000000000004");
  format_is(1.0 / 3, "0.3333333333333333");
  format_is(2.0 / 3, "0.6666666666666666");
  format_is(1e-5, "1e-05");
  format_is(0.07 * 1e4, "700.0000000000001");
  format_is(NAN, "nan");
  format_is(INFINITY, "inf");
  format_is(-INFINITY, "-inf");
  /* A short buffer truncates but stays terminated; no buffer is left alone. */
  assert_string_equal(pw_value_format(510300, buf, 4), "510");
  assert_string_equal(pw_value_format(0.1, buf, 1), "");
  buf[0] = 'x';
  assert_ptr_equal(pw_value_format(1, buf, 0), buf);
  assert_int_equal(buf[0], 'x');
}

static void test_format_zh(void **state) {
  char buf[48];

  (void)state;
  assert_string_equal(pw_value_format_zh(510300, buf, sizeof(buf)), "51.03万");
  assert_string_equal(pw_value_format_zh(595000000, buf, sizeof(buf)), "5.95亿");
  assert_string_equal(pw_value_format_zh(15600, buf, sizeof(buf)), "15600");
  assert_string_equal(pw_value_format_zh(4.35, buf, sizeof(buf)), "4.35");
  assert_string_equal(pw_value_format_zh(46769.2307, buf, sizeof(buf)), "46769.23");
  assert_string_equal(pw_value_format_zh(-0.001, buf, sizeof(buf)), "0");
  assert_string_equal(pw_value_format_zh(190000, buf, sizeof(buf)), "19万");
  assert_string_equal(pw_value_format_zh(-2500000, buf, sizeof(buf)), "-250万");
}

static void test_format_round_trip(void **state) {
  static const double fixed[] = {DBL_MAX,
                                 -DBL_MAX,
                                 DBL_MIN,
                                 4.9406564584124654e-324,
                                 DBL_EPSILON,
                                 9007199254740993.0,
                                 123456789.123456789,
                                 5e-324,
                                 1.7976931348623157e308};
  char buf[32];
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  size_t i;
  int n;

  (void)state;
  for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
    pw_value_format(fixed[i], buf, sizeof(buf));
    assert_true(strtod(buf, NULL) == fixed[i]);
  }
  /* Random bit patterns (xorshift) cover every exponent; each reads back as itself, through
   * strtod and through pw_value_parse, with no more than 17 significant digits. */
  for (n = 0; n < 20000; n++) {
    double v, back;
    size_t len;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&v, &x, sizeof(v));
    if (!isfinite(v))
      continue;
    pw_value_format(v, buf, sizeof(buf));
    len = strlen(buf);
    assert_true(len > 0 && len < 25);
    assert_true(strtod(buf, NULL) == v);
    if (v != 0 && fabs(v) >= 1e-300 && fabs(v) <= 1e300) {
      assert_int_equal(pw_value_parse(buf, &back), 0);
      assert_true(back == v);
    }
  }
  /* Figures people write come back in the shortest form. */
  for (n = -100000; n <= 100000; n += 7) {
    double v = n / 100.0;
    char want[32];

    pw_value_format(v, buf, sizeof(buf));
    snprintf(want, sizeof(want), "%.15g", v);
    assert_string_equal(buf, want);
  }
}

int main(void) {
  const struct CMUnitTest zone_free[] = {
      cmocka_unit_test(test_value_plain),        cmocka_unit_test(test_value_whitespace),
      cmocka_unit_test(test_value_thousands),    cmocka_unit_test(test_value_percent),
      cmocka_unit_test(test_value_wan_yi_exact), cmocka_unit_test(test_value_not_published),
      cmocka_unit_test(test_value_rejected),     cmocka_unit_test(test_duration),
      cmocka_unit_test(test_duration_rejected),  cmocka_unit_test(test_format),
      cmocka_unit_test(test_format_zh),          cmocka_unit_test(test_format_round_trip),
  };
  const struct CMUnitTest shanghai[] = {
      cmocka_unit_test(test_date_day_forms_shanghai),
      cmocka_unit_test(test_date_month_forms_shanghai),
      cmocka_unit_test(test_date_quarter_forms_shanghai),
      cmocka_unit_test(test_date_iso_shanghai),
      cmocka_unit_test(test_date_epoch),
      cmocka_unit_test(test_date_ranges),
      cmocka_unit_test(test_date_malformed),
  };
  const struct CMUnitTest new_york[] = {
      cmocka_unit_test(test_date_new_york),
      cmocka_unit_test(test_date_new_york_gap),
      cmocka_unit_test(test_date_epoch),
      cmocka_unit_test(test_date_ranges),
  };
  int failed = 0;

  failed += cmocka_run_group_tests_name("value", zone_free, NULL, NULL);
  failed += cmocka_run_group_tests_name("value_dates_shanghai", shanghai, setup_shanghai, NULL);
  failed += cmocka_run_group_tests_name("value_dates_new_york", new_york, setup_new_york, NULL);
  return failed == 0 ? 0 : 1;
}
