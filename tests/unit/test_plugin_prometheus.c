/*
 * Unit tests of the prometheus parser plugin (compiled in with
 * plugins/prometheus/prometheus.c): selectors with and without labels, matching on a subset of
 * labels, label values with escaped quotes, backslashes and line ends, timestamps, NaN and
 * infinities, comments, CRLF; no and several matching samples; selector syntax errors; garbage
 * lines (with their line numbers); a body that is not NUL-terminated; and that emit is called
 * exactly once per query.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "plugin_harness.h"

static void expect_number(size_t i, double number, const char *text) {
  assert_int_equal(got[i].result, PW_PLUGIN_NUMBER);
  assert_true(got[i].number == number);
  assert_string_equal(got[i].text, text);
}

/* The example of the exposition format's documentation, and a few more. */
static const char exposition[] =
    "# HELP http_requests_total The total number of HTTP requests.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
    "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
    "\n"
    "# Escaping in label values:\n"
    "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
    "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
    "\n"
    "# Minimalistic line:\n"
    "metric_without_timestamp_and_labels 12.47\n"
    "\n"
    "# A weird metric from before the epoch:\n"
    "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
    "\n"
    "# A histogram, which has a pretty complex representation in the text format:\n"
    "# HELP http_request_duration_seconds A histogram of the request duration.\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
    "http_request_duration_seconds_sum 53423\n"
    "rpc_duration_seconds{quantile=\"0.5\"} NaN\n"
    "  \t indented_metric{ a = \"1\" , b=\"2\", } -Inf\n"
    "gdp_total{region=\"北京\",unit=\"亿元\"} 4.3e4 1711900800000\n"
    "colon:metric 7\n";

static void test_entry(void **state) {
  (void)state;
  assert_int_equal(pw_test_plugin->abi_major, PW_PLUGIN_ABI_MAJOR);
  assert_int_equal(pw_test_plugin->abi_minor, PW_PLUGIN_ABI_MINOR);
  assert_int_equal(pw_test_plugin->struct_size, sizeof(struct pw_plugin));
  assert_string_equal(pw_test_plugin->name, "prometheus");
}

static void test_check_path(void **state) {
  (void)state;
  static const char *const ok[] = {
      "up",
      "http_requests_total{method=\"post\",code=\"200\"}",
      "x{a=\"b\",}",
      " x { a = \"q\\\"uote\" } ",
      "ns:metric_name",
      "x{}",
      "x{region=\"北京\"}",
  };
  char err[256];
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    err[0] = 0;
    if (pw_test_plugin->check_path(ok[i], err, sizeof err) != 0)
      fail_msg("'%s' rejected: %s", ok[i], err);
  }
  static const struct {
    const char *path, *msg;
  } bad[] = {
      {"", "bad selector '': expected a metric name at character 1"},
      {"{a=\"b\"}", "expected a metric name at character 1"},
      {"x{a!=\"b\"}", "only '=' label matchers are supported at character 4"},
      {"x{a=~\"b\"}", "only '=' label matchers are supported"},
      {"x{a=\"b\"", "unterminated label set"},
      {"x{a=\"b", "unterminated label value"},
      {"x{a=b}", "expected '\"' to open the label value at character 5"},
      {"x{a=\"\\t\"}", "unknown escape in label value"},
      {"x{a=\"1\",a=\"2\"}", "a label appears twice"},
      {"x{a=\"1\" b=\"2\"}", "expected ',' or '}' after a label"},
      {"x{1=\"2\"}", "expected a label name"},
      {"x y", "unexpected text after the selector at character 3"},
      {"x{a=\"b\"} 1", "unexpected text after the selector"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    if (pw_test_plugin->check_path(bad[i].path, err, sizeof err) != -EINVAL)
      fail_msg("'%s' accepted", bad[i].path);
    if (!strstr(err, bad[i].msg))
      fail_msg("'%s': error '%s' does not contain '%s'", bad[i].path, err, bad[i].msg);
  }
  assert_int_equal(pw_test_plugin->check_path(NULL, err, sizeof err), -EINVAL);
}

static void test_samples(void **state) {
  (void)state;
  const char *paths[] = {
      "http_requests_total{method=\"post\",code=\"200\"}",
      "http_requests_total{code=\"400\"}",
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\"}",
      "msdos_file_access_time_seconds{error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"}",
      "metric_without_timestamp_and_labels",
      "something_weird",
      "http_request_duration_seconds_bucket{le=\"+Inf\"}",
      "rpc_duration_seconds",
      "indented_metric{b=\"2\",a=\"1\"}",
      "gdp_total{region=\"北京\"}",
      "colon:metric",
      "http_requests_total{code=\"500\"}",
      "http_requests_total{status=\"200\"}",
      "http_request_duration_seconds",
      "http_requests_total",
  };
  assert_int_equal(pw_test_run_str(NULL, exposition, paths, 15), 0);
  expect_number(0, 1027, "1027");
  assert_true(got[0].has_timestamp);
  assert_int_equal(got[0].timestamp_ms, 1395066363000LL);
  expect_number(1, 3, "3");
  expect_number(2, 1.458255915e9, "1.458255915e9");
  assert_false(got[2].has_timestamp);
  expect_number(3, 1.458255915e9, "1.458255915e9");
  expect_number(4, 12.47, "12.47");
  expect_number(5, INFINITY, "+Inf");
  assert_true(got[5].has_timestamp);
  assert_int_equal(got[5].timestamp_ms, -3982045);
  expect_number(6, 144320, "144320");
  assert_int_equal(got[7].result, PW_PLUGIN_NUMBER);
  assert_true(isnan(got[7].number));
  assert_string_equal(got[7].text, "NaN");
  expect_number(8, -INFINITY, "-Inf");
  expect_number(9, 4.3e4, "4.3e4");
  assert_int_equal(got[9].timestamp_ms, 1711900800000LL);
  expect_number(10, 7, "7");
  assert_int_equal(got[11].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(got[12].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(got[13].result, PW_PLUGIN_NOT_FOUND); /* names match exactly */
  assert_string_equal(got[14].error, "selector matches 2 samples: "
                                     "http_requests_total{method=\"post\",code=\"200\"}, "
                                     "http_requests_total{method=\"post\",code=\"400\"}");
}

static void test_several_matches(void **state) {
  (void)state;
  const char *body = "x{a=\"1\",q=\"say \\\"hi\\\"\"} 1\nx{a=\"2\"} 2\nx{a=\"3\"} 3\nx{a=\"4\"} 4\n"
                     "y 1\ny 1\n";
  const char *paths[] = {"x", "y", "x{q=\"say \\\"hi\\\"\"}"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 3), 0);
  assert_string_equal(got[0].error, "selector matches 4 samples: x{a=\"1\",q=\"say \\\"hi\\\"\"}, "
                                    "x{a=\"2\"}, x{a=\"3\"}, ...");
  expect_error(1, "selector matches 2 samples: y, y"); /* a repeated series is ambiguous too */
  expect_number(2, 1, "1");
}

static void test_crlf_and_bom(void **state) {
  (void)state;
  const char *body =
      "\xef\xbb\xbf# TYPE up gauge\r\nup{job=\"a\"} 1 1700000000000\r\nup{job=\"b\"} 0\r\n";
  const char *paths[] = {"up{job=\"a\"}", "up{job=\"b\"}"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 2), 0);
  expect_number(0, 1, "1");
  assert_int_equal(got[0].timestamp_ms, 1700000000000LL);
  expect_number(1, 0, "0");
  assert_false(got[1].has_timestamp);
}

static void test_bad_bodies(void **state) {
  (void)state;
  static const struct {
    const char *body, *msg;
    size_t len; /* 0: up to the NUL */
  } bad[] = {
      {"up 1\ngarbage line here\n", "prometheus: line 2 column", 0},
      {"up 1\n\n# c\n<html>\n", "prometheus: line 4 column 1: expected a metric name", 0},
      {"x{a=\"b} 1\n", "line 1 column 10: unterminated label value", 0},
      {"x 1 2 3\n", "unexpected text after the timestamp", 0},
      {"x abc\n", "bad value 'abc'", 0},
      {"x 1 1.5\n", "bad timestamp", 0},
      {"x 1 99999999999999999999\n", "bad timestamp", 0},
      {"x\n", "expected a value after the series", 0},
      {"x{a=\"1\",a=\"2\"} 1\n", "a label appears twice", 0},
      {"x{a=\"\\q\"} 1\n", "unknown escape", 0},
      {"x 1\0\n", "bad value", 5},
      {"{a=\"b\"} 1\n", "expected a metric name", 0},
  };
  const char *paths[] = {"x", "up"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    size_t len = bad[i].len ? bad[i].len : strlen(bad[i].body);
    int rc = pw_test_run(NULL, bad[i].body, len, paths, 2, err, sizeof err);
    if (rc != -EINVAL)
      fail_msg("body '%s' accepted", bad[i].body);
    if (!strstr(err, bad[i].msg))
      fail_msg("body '%s': error '%s' does not contain '%s'", bad[i].body, err, bad[i].msg);
  }
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  /* Only the first LEN bytes are the body: the rest would be a garbage line. */
  const char buf[] = "up 1\nother 7 garbage";
  const char *paths[] = {"up", "other"};
  char err[256] = "";
  assert_int_equal(pw_test_run(NULL, buf, 4, paths, 2, err, sizeof err), 0);
  expect_number(0, 1, "1");
  assert_int_equal(got[1].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(pw_test_run(NULL, buf, 12, paths, 2, err, sizeof err), 0);
  expect_number(1, 7, "7");
  assert_int_equal(pw_test_run(NULL, buf, sizeof buf - 1, paths, 2, err, sizeof err), -EINVAL);
  char value[] = {'u', 'p', ' ', '4', '2', '7'};
  assert_int_equal(pw_test_run(NULL, value, 5, paths, 1, err, sizeof err), 0);
  expect_number(0, 42, "42");
}

static void test_bad_path_at_parse_time(void **state) {
  (void)state;
  const char *paths[] = {"up", "up{a!=\"b\"}", NULL, "down"};
  assert_int_equal(pw_test_run_str(NULL, "up 1\n", paths, 4), 0);
  expect_number(0, 1, "1");
  expect_error(1, "only '=' label matchers");
  expect_error(2, "no path");
  assert_int_equal(got[3].result, PW_PLUGIN_NOT_FOUND);
}

static void test_emit_once_per_query(void **state) {
  (void)state;
  const char *paths[PW_TEST_MAXQ];
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    paths[i] = (i % 3 == 0) ? "a" : (i % 3 == 1) ? "b" : "c{";
  assert_int_equal(pw_test_run_str(NULL, "a 1\nb 2\nb 3\n", paths, PW_TEST_MAXQ), 0);
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    assert_int_equal(got[i].calls, 1);
  assert_int_equal(pw_test_run_str(NULL, "", NULL, 0), 0);
  assert_int_equal(pw_test_run_str(NULL, "# only a comment", paths, 1), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NOT_FOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry),
      cmocka_unit_test(test_check_path),
      cmocka_unit_test(test_samples),
      cmocka_unit_test(test_several_matches),
      cmocka_unit_test(test_crlf_and_bom),
      cmocka_unit_test(test_bad_bodies),
      cmocka_unit_test(test_not_nul_terminated),
      cmocka_unit_test(test_bad_path_at_parse_time),
      cmocka_unit_test(test_emit_once_per_query),
  };
  return cmocka_run_group_tests(tests, pw_test_setup, NULL);
}
