/*
 * Unit tests of the regex parser plugin (compiled in with plugins/regex/regex.c): a figure
 * captured from an HTML table with Chinese labels, 万 and % passed through as text, the first
 * of several matches, '^' and '$' at line ends (REG_NEWLINE), a group that takes no part, no
 * match, expressions without a capture group or that do not compile, a body with a NUL byte
 * and one that is not NUL-terminated, and that emit is called exactly once per query.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_harness.h"

static void test_entry(void **state) {
  (void)state;
  assert_int_equal(pw_test_plugin->abi_major, PW_PLUGIN_ABI_MAJOR);
  assert_int_equal(pw_test_plugin->abi_minor, PW_PLUGIN_ABI_MINOR);
  assert_int_equal(pw_test_plugin->struct_size, sizeof(struct pw_plugin));
  assert_string_equal(pw_test_plugin->name, "regex");
}

static void test_check_path(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(pw_test_plugin->check_path("完成值[^0-9]*([0-9.]+)", err, sizeof err), 0);
  assert_int_equal(pw_test_plugin->check_path("^total: ([0-9]+)$", err, sizeof err), 0);
  assert_int_equal(pw_test_plugin->check_path("(a)|(b)", err, sizeof err), 0);
  assert_int_equal(pw_test_plugin->check_path("abc", err, sizeof err), -EINVAL);
  assert_string_equal(err, "regular expression 'abc' needs a capture group ( ) around the value");
  assert_int_equal(pw_test_plugin->check_path("a\\(b\\)", err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "needs a capture group ( )"));
  assert_int_equal(pw_test_plugin->check_path("a(", err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "bad regular expression 'a(': "));
  assert_int_equal(pw_test_plugin->check_path("([0-9]", err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "bad regular expression '([0-9]': "));
  assert_int_equal(pw_test_plugin->check_path("(x){2,1}", err, sizeof err), -EINVAL);
  assert_int_equal(pw_test_plugin->check_path(NULL, err, sizeof err), -EINVAL);
  assert_string_equal(err, "no path");
}

/* Expressions that would take glibc's regcomp minutes (or regexec hours) are refused first. */
static void test_check_path_complexity(void **state) {
  (void)state;
  static const char *const ok[] = {
      "([0-9]{1,3}(,[0-9]{3})*(\\.[0-9]+)?)",
      "([]a]+)[[:digit:]]{2}",
      "[^]*+?{]*(x)",
      "((a+)+)",
      "(a{100}){100}",
      "\\((\\+)\\)",
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
      {"v++++++++++++++++++++++++++++++(d)", "repetition operators in a row"},
      {"(a)*?", "repetition operators in a row"},
      {"(a){2}+", "repetition operators in a row"},
      {"(((((((((v+)+)+)+)+)+)+)+)+)+d", "too complex"},
      {"((((a{100}){100}){100}){100})", "too complex"},
      {"(a{1000}){1000}", "too complex"},
      {"(a)\\1", "back-references (\\1) are not supported"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    if (pw_test_plugin->check_path(bad[i].path, err, sizeof err) != -EINVAL)
      fail_msg("'%s' accepted", bad[i].path);
    if (!strstr(err, bad[i].msg))
      fail_msg("'%s': error '%s' does not contain '%s'", bad[i].path, err, bad[i].msg);
  }
  char *deep = malloc(200);
  assert_non_null(deep);
  memset(deep, '(', 100);
  memset(deep + 100, ')', 99);
  deep[199] = 0;
  assert_int_equal(pw_test_plugin->check_path(deep, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "nests groups more than"));
  free(deep);
  char *longer = malloc(5000);
  assert_non_null(longer);
  memset(longer, 'a', 4999);
  longer[0] = '(';
  longer[2] = ')';
  longer[4999] = 0;
  assert_int_equal(pw_test_plugin->check_path(longer, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "longer than 4096 bytes"));
  free(longer);
}

static void test_html(void **state) {
  (void)state;
  const char *body = "<html><head><meta charset=\"utf-8\"><title>统计快报</title></head><body>\n"
                     "<table>\n"
                     "<tr><td>全市GDP</td><td class=\"v\">12,345.6亿元</td></tr>\n"
                     "<tr><td>社会消费品零售总额</td><td class=\"v\">3.2万亿</td></tr>\n"
                     "<tr><td>完成率</td><td class=\"v\">85.3%</td></tr>\n"
                     "</table><p>数据截至 2024-03-31</p></body></html>\n";
  const char *paths[] = {
      "全市GDP</td><td[^>]*>([^<]+)<",    "社会消费品零售总额</td><td[^>]*>([0-9.]+万亿)",
      "完成率</td><td[^>]*>([0-9.]+%)",   "数据截至 ([0-9]{4}-[0-9]{2}-[0-9]{2})",
      "工业增加值</td><td[^>]*>([^<]+)<", "<title>(.*)</title>",
  };
  assert_int_equal(pw_test_run_str(NULL, body, paths, 6), 0);
  expect_text(0, "12,345.6亿元");
  expect_text(1, "3.2万亿");
  expect_text(2, "85.3%");
  expect_text(3, "2024-03-31");
  assert_int_equal(got[4].result, PW_PLUGIN_NOT_FOUND);
  expect_text(5, "统计快报");
}

static void test_first_match_and_lines(void **state) {
  (void)state;
  const char *body = "v=1 v=2\nheader\ntotal: 42\ntotal: 43 more\nlast=9";
  const char *paths[] = {
      "v=([0-9]+)", "^total: ([0-9]+)$", "header.*(total)", "(x)?v=2", "^last=([0-9]+)$",
      "v=(7)?",     "(v)=([0-9])",
  };
  assert_int_equal(pw_test_run_str(NULL, body, paths, 7), 0);
  expect_text(0, "1"); /* the first match */
  expect_text(1, "42");
  assert_int_equal(got[2].result, PW_PLUGIN_NOT_FOUND); /* '.' does not cross a line end */
  assert_int_equal(got[3].result, PW_PLUGIN_NOT_FOUND); /* group 1 took no part */
  expect_text(4, "9");
  assert_int_equal(got[5].result, PW_PLUGIN_NOT_FOUND);
  expect_text(6, "v"); /* the first group, not the second */
}

static void test_nul_and_unterminated_bodies(void **state) {
  (void)state;
  const char *paths[] = {"value=([0-9]+)"};
  /* Only the first LEN bytes are the body: the digits after them are not part of it. */
  const char buf[] = "value=12345";
  assert_int_equal(pw_test_run(NULL, buf, 8, paths, 1, NULL, 0), 0);
  expect_text(0, "12");
  char raw[] = {'v', 'a', 'l', 'u', 'e', '=', '7', '8'};
  assert_int_equal(pw_test_run(NULL, raw, 7, paths, 1, NULL, 0), 0);
  expect_text(0, "7");
  /* Only the part before the first NUL byte is searched. */
  const char nul[] = "a=1\0value=5";
  assert_int_equal(pw_test_run(NULL, nul, sizeof nul - 1, paths, 1, NULL, 0), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NOT_FOUND);
  const char nul2[] = "value=5\0value=6";
  assert_int_equal(pw_test_run(NULL, nul2, sizeof nul2 - 1, paths, 1, NULL, 0), 0);
  expect_text(0, "5");
  assert_int_equal(pw_test_run(NULL, "", 0, paths, 1, NULL, 0), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(pw_test_run(NULL, NULL, 0, paths, 1, NULL, 0), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NOT_FOUND);
}

static void test_bad_path_at_parse_time(void **state) {
  (void)state;
  const char *paths[] = {"a=([0-9])", "a(", "abc", NULL, "b=([0-9])"};
  assert_int_equal(pw_test_run_str(NULL, "a=1 b=2", paths, 5), 0);
  expect_text(0, "1");
  expect_error(1, "bad regular expression 'a('");
  expect_error(2, "needs a capture group ( )");
  expect_error(3, "no path");
  expect_text(4, "2");
}

static void test_emit_once_per_query(void **state) {
  (void)state;
  const char *paths[PW_TEST_MAXQ];
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    paths[i] = (i % 3 == 0) ? "x=([0-9]+)" : (i % 3 == 1) ? "y=([0-9]+)" : "[";
  assert_int_equal(pw_test_run_str(NULL, "x=1 x=2", paths, PW_TEST_MAXQ), 0);
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    assert_int_equal(got[i].calls, 1);
  assert_int_equal(pw_test_run_str(NULL, "anything", NULL, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry),
      cmocka_unit_test(test_check_path),
      cmocka_unit_test(test_check_path_complexity),
      cmocka_unit_test(test_html),
      cmocka_unit_test(test_first_match_and_lines),
      cmocka_unit_test(test_nul_and_unterminated_bodies),
      cmocka_unit_test(test_bad_path_at_parse_time),
      cmocka_unit_test(test_emit_once_per_query),
  };
  return cmocka_run_group_tests(tests, pw_test_setup, NULL);
}
