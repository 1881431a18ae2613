/*
 * Unit tests of the json parser plugin (compiled in with plugins/json/json.c): every path form
 * (names, quoted names with escapes, Chinese keys, indices from both ends, string and number
 * filters, chained filters), numbers versus text, null, nothing and several nodes selected,
 * path syntax errors with their positions, bodies jansson rejects (NaN, trailing garbage,
 * truncation), a body that is not NUL-terminated, and that emit is called exactly once per
 * query.
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

static void expect_number(size_t i, double number, const char *text) {
  assert_int_equal(got[i].result, PW_PLUGIN_NUMBER);
  assert_true(got[i].number == number);
  assert_true(got[i].has_text);
  assert_string_equal(got[i].text, text);
}

static void test_entry(void **state) {
  (void)state;
  assert_int_equal(pw_test_plugin->abi_major, PW_PLUGIN_ABI_MAJOR);
  assert_int_equal(pw_test_plugin->abi_minor, PW_PLUGIN_ABI_MINOR);
  assert_int_equal(pw_test_plugin->struct_size, sizeof(struct pw_plugin));
  assert_string_equal(pw_test_plugin->name, "json");
  assert_non_null(pw_test_plugin->check_path);
  assert_non_null(pw_test_plugin->parse);
}

static void test_check_path_valid(void **state) {
  (void)state;
  static const char *const ok[] = {
      "$",
      "$.a",
      "$._a_b1",
      "$.a.b.c",
      "$['a b']",
      "$[\"a b\"]",
      "$['it\\'s']",
      "$['back\\\\slash']",
      "$['\\u4e2d\\ud83d\\ude00']",
      "$[0]",
      "$[-1]",
      "$[ 12 ]",
      "$.数据.完成值",
      "$['数据']['单位 名']",
      "$.items[?@.code=='TJ01'].value",
      "$.items[?@.code==\"TJ01\"].value",
      "$.items[?@.code == 'TJ01'].value",
      "$.items[?@.n==3]",
      "$.items[?@.n==-1.5e3]",
      "$.items[?(@.code=='x')].value",
      "$.items[?@['名 称']=='x'].v",
      "$.items[?@.meta.code=='x'].v",
      "$.items[?@.list[0]==1].v",
      "$.g[?@.id=='a'].items[?@.code=='x'].value",
  };
  char err[256];
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    err[0] = 0;
    int rc = pw_test_plugin->check_path(ok[i], err, sizeof err);
    if (rc != 0)
      fail_msg("'%s' rejected: %s", ok[i], err);
  }
}

static void test_check_path_errors(void **state) {
  (void)state;
  static const struct {
    const char *path, *msg;
  } bad[] = {
      {"$.a[", "bad path '$.a[': unterminated bracket at character 4"},
      {"a.b", "bad path 'a.b': a path starts with '$' at character 1"},
      {"", "a path starts with '$' at character 1"},
      {"$..a", "descendant segments '..' are not supported at character 2"},
      {"$.*", "wildcards '*' are not supported at character 3"},
      {"$[*]", "wildcards"},
      {"$.a[1:2]", "slices are not supported at character 6"},
      {"$[0,1]", "unions (',') are not supported"},
      {"$[01]", "leading zeros"},
      {"$[-0]", "-0 is not an index"},
      {"$[99999999999999999]", "index out of range"},
      {"$['a", "unterminated string at character 3"},
      {"$['a']x", "expected '.' or '[', found 'x' at character 7"},
      {"$.1a", "expected a member name after '.', found '1' at character 3"},
      {"$.", "expected a member name after '.', found end of path"},
      {"$.a b", "expected '.' or '[', found ' '"},
      {"$['a' 'b']", "expected ']', found '''"},
      {"$['\\q']", "unknown escape"},
      {"$['\\u00']", "four hexadecimal digits"},
      {"$['\\ud800']", "high surrogate"},
      {"$['\\u0000']", "\\u0000 is not allowed"},
      {"$.a[?@.b!='x']", "only '==' comparisons are supported at character 9"},
      {"$.a[?@.b<1]", "only '=='"},
      {"$.a[?@.b=='x' && @.c==1]", "only one comparison per filter"},
      {"$.a[?@.b==true]", "expected a string or number after '==', found 't'"},
      {"$.a[?@.b==1.]", "expected a digit after '.'"},
      {"$.a[?@.b==1e999]", "number out of range"},
      {"$.a[?@=='x']", "expected a member after '@'"},
      {"$.a[?b=='x']", "a filter compares a member of '@'"},
      {"$.a[?@.b[?@.c==1]==1]", "a filter inside a filter is not supported"},
      {"$.a[?@.b=='x'", "unterminated bracket at character 4"},
      {"$.a[?(@.b=='x']", "expected ')'"},
      {"$.a[?@.b", "unterminated bracket at character 4"},
      {"$[x]", "expected a quoted name, an index or a filter, found 'x'"},
  };
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    int rc = pw_test_plugin->check_path(bad[i].path, err, sizeof err);
    if (rc != -EINVAL)
      fail_msg("'%s' accepted (rc %d)", bad[i].path, rc);
    if (!strstr(err, bad[i].msg))
      fail_msg("'%s': error '%s' does not contain '%s'", bad[i].path, err, bad[i].msg);
  }
  assert_int_equal(pw_test_plugin->check_path(NULL, err, sizeof err), -EINVAL);
  assert_string_equal(err, "no path");
  /* A too small or missing error buffer is not written past. */
  assert_int_equal(pw_test_plugin->check_path("$[", NULL, 0), -EINVAL);
  char tiny[8];
  assert_int_equal(pw_test_plugin->check_path("$[", tiny, sizeof tiny), -EINVAL);
  assert_string_equal(tiny, "bad pat");
}

static void test_numbers_and_text(void **state) {
  (void)state;
  const char *body =
      "{\"asof\": 1711900800, \"real\": 3.25, \"wan\": \"12.5万\", \"pct\": \"85%\","
      " \"neg\": -0.1, \"exp\": 1e3, \"tiny\": 1e-7, \"huge\": 1.5e300, \"frac\": 0.0001,"
      " \"r\": 1.5e10, \"big\": 9007199254740993, \"zero\": 0,"
      " \"numtext\": \"42\", \"empty\": \"\", \"esc\": \"a\\\"b\\u4e2d\"}";
  const char *paths[] = {"$.asof", "$.real", "$.wan",  "$.pct",     "$.neg",
                         "$.exp",  "$.big",  "$.zero", "$.numtext", "$.empty",
                         "$.esc",  "$.tiny", "$.huge", "$.frac",    "$.r"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 15), 0);
  expect_number(0, 1711900800.0, "1711900800");
  expect_number(1, 3.25, "3.25");
  expect_text(2, "12.5万");
  expect_text(3, "85%");
  expect_number(4, -0.1, "-0.1");
  expect_number(5, 1000.0, "1000");
  expect_number(6, 9007199254740993.0, "9007199254740993"); /* the text stays exact */
  expect_number(7, 0.0, "0");
  expect_text(8, "42"); /* a JSON string stays text */
  expect_text(9, "");
  expect_text(10, "a\"b中");
  expect_number(11, 1e-7, "1e-07");
  expect_number(12, 1.5e300, "1.5e+300");
  expect_number(13, 0.0001, "0.0001");
  expect_number(14, 1.5e10, "15000000000");
}

static void test_names_and_chinese_keys(void **state) {
  (void)state;
  const char *body = "{\"数据\": {\"完成值\": 123.4, \"单位 名\": \"万元\"}, \"a b\": 1,"
                     " \"it's\": 2, \"back\\\\slash\": 3, \"x\": {\"y\": {\"z\": \"deep\"}}}";
  const char *paths[] = {"$.数据.完成值", "$['数据']['单位 名']", "$['a b']",
                         "$['it\\'s']",   "$[\"it's\"]",          "$['back\\\\slash']",
                         "$.x.y.z",       "$['x'].y['z']",        "$.数据['\\u5b8c\\u6210\\u503c']",
                         "$.x.nothing.z"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 10), 0);
  expect_number(0, 123.4, "123.4");
  expect_text(1, "万元");
  expect_number(2, 1, "1");
  expect_number(3, 2, "2");
  expect_number(4, 2, "2");
  expect_number(5, 3, "3");
  expect_text(6, "deep");
  expect_text(7, "deep");
  expect_number(8, 123.4, "123.4");
  assert_int_equal(got[9].result, PW_PLUGIN_NOT_FOUND);
}

static void test_indices(void **state) {
  (void)state;
  const char *body = "{\"a\": [10, 20, 30], \"o\": {\"0\": 5}, \"m\": [[1, 2], [3, 4]]}";
  const char *paths[] = {"$.a[0]", "$.a[2]", "$.a[-1]",   "$.a[-3]",     "$.a[3]", "$.a[-4]",
                         "$.o[0]", "$.a.b",  "$.m[1][0]", "$.m[-1][-1]", "$[0]"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 11), 0);
  expect_number(0, 10, "10");
  expect_number(1, 30, "30");
  expect_number(2, 30, "30");
  expect_number(3, 10, "10");
  assert_int_equal(got[4].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(got[5].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(got[6].result, PW_PLUGIN_NOT_FOUND); /* an index does not read a member */
  assert_int_equal(got[7].result, PW_PLUGIN_NOT_FOUND); /* a name does not read an array */
  expect_number(8, 3, "3");
  expect_number(9, 4, "4");
  assert_int_equal(got[10].result, PW_PLUGIN_NOT_FOUND);
}

static void test_filters(void **state) {
  (void)state;
  const char *body = "{\"items\": ["
                     "{\"code\": \"TJ01\", \"value\": 5},"
                     "{\"code\": \"TJ02\", \"value\": \"7.5万\"},"
                     "{\"code\": 1, \"value\": 9},"
                     "{\"code\": 2.5, \"value\": 10},"
                     "\"not an object\", 17, null,"
                     "{\"名称\": \"规上工业\", \"value\": 11}"
                     "],"
                     "\"regions\": {\"bj\": {\"name\": \"北京\", \"v\": 1},"
                     " \"sh\": {\"name\": \"上海\", \"v\": 2}}}";
  const char *paths[] = {
      "$.items[?@.code=='TJ01'].value",        "$.items[?@.code==\"TJ02\"].value",
      "$.items[?@.code == 'TJ01'].value",      "$.items[?@.code==1].value",
      "$.items[?@.code==1.0].value",           "$.items[?@.code==2.5].value",
      "$.items[?@.code=='1'].value",           "$.items[?@.code=='TJ99'].value",
      "$.items[?@['名称']=='规上工业'].value", "$.items[?@.名称=='规上工业'].value",
      "$.regions[?@.name=='上海'].v",          "$.items[?(@.code=='TJ01')].value",
      "$.items[?@.code==25e-1].value",         "$.items[?@.code=='TJ01']",
  };
  assert_int_equal(pw_test_run_str(NULL, body, paths, 14), 0);
  expect_number(0, 5, "5");
  expect_text(1, "7.5万");
  expect_number(2, 5, "5");
  expect_number(3, 9, "9");
  expect_number(4, 9, "9"); /* the integer 1 equals 1.0 */
  expect_number(5, 10, "10");
  assert_int_equal(got[6].result, PW_PLUGIN_NOT_FOUND); /* the string '1' is not the number 1 */
  assert_int_equal(got[7].result, PW_PLUGIN_NOT_FOUND);
  expect_number(8, 11, "11");
  expect_number(9, 11, "11");
  expect_number(10, 2, "2"); /* a filter on an object keeps member values */
  expect_number(11, 5, "5");
  expect_number(12, 10, "10");
  expect_error(13, "path selects an object, not a value, at $['items'][0]");
}

static void test_nested_filters(void **state) {
  (void)state;
  const char *body = "{\"groups\": ["
                     "{\"id\": \"g1\", \"items\": [{\"code\": \"x\", \"value\": 1}]},"
                     "{\"id\": \"g2\", \"items\": [{\"code\": \"y\", \"value\": 2},"
                     "{\"code\": \"x\", \"value\": 3, \"meta\": {\"unit\": \"亿元\"}}]}]}";
  const char *paths[] = {
      "$.groups[?@.id=='g2'].items[?@.code=='x'].value",
      "$.groups[?@.id=='g1'].items[?@.code=='x'].value",
      "$.groups[?@.id=='g2'].items[?@.code=='z'].value",
      "$.groups[?@.items[0].code=='y'].id",
      "$.groups[?@.id=='g2'].items[?@.meta.unit=='亿元'].value",
      "$.groups[?@.id=='g2'].items[-1].meta.unit",
  };
  assert_int_equal(pw_test_run_str(NULL, body, paths, 6), 0);
  expect_number(0, 3, "3");
  expect_number(1, 1, "1");
  assert_int_equal(got[2].result, PW_PLUGIN_NOT_FOUND);
  expect_text(3, "g2");
  expect_number(4, 3, "3");
  expect_text(5, "亿元");
}

static void test_several_nodes(void **state) {
  (void)state;
  const char *body =
      "{\"items\": [{\"code\": \"A\", \"value\": 1}, {\"code\": \"A\", \"value\": 2},"
      " {\"code\": \"A\", \"value\": 3}, {\"code\": \"B\", \"value\": 4},"
      " {\"code\": \"B\", \"value\": 5}],"
      " \"o\": {\"x'y\": {\"k\": 1}, \"z\": {\"k\": 1}}}";
  const char *paths[] = {"$.items[?@.code=='A'].value", "$.items[?@.code=='B'].value",
                         "$.o[?@.k==1]"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 3), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_ERROR);
  assert_string_equal(got[0].error,
                      "path selects 3 nodes: $['items'][0]['value'], $['items'][1]['value'], ...");
  assert_string_equal(got[1].error,
                      "path selects 2 nodes: $['items'][3]['value'], $['items'][4]['value']");
  assert_string_equal(got[2].error, "path selects 2 nodes: $['o']['x\\'y'], $['o']['z']");
}

static void test_null_and_non_values(void **state) {
  (void)state;
  const char *body = "{\"n\": null, \"t\": true, \"f\": false, \"o\": {}, \"a\": [1]}";
  const char *paths[] = {"$.n", "$.t", "$.f", "$.o", "$.a", "$", "$.missing"};
  assert_int_equal(pw_test_run_str(NULL, body, paths, 7), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NULL);
  expect_error(1, "path selects a boolean (true), not a number or text");
  expect_error(2, "boolean (false)");
  expect_error(3, "path selects an object, not a value, at $['o']");
  expect_error(4, "path selects an array, not a value, at $['a']");
  expect_error(5, "path selects an object, not a value, at $");
  assert_int_equal(got[6].result, PW_PLUGIN_NOT_FOUND);
}

static void test_top_level_scalars(void **state) {
  (void)state;
  const char *paths[] = {"$", "$.a"};
  assert_int_equal(pw_test_run_str(NULL, "42", paths, 2), 0);
  expect_number(0, 42, "42");
  assert_int_equal(got[1].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(pw_test_run_str(NULL, " \"12.5万\" ", paths, 1), 0);
  expect_text(0, "12.5万");
  assert_int_equal(pw_test_run_str(NULL, "null", paths, 1), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NULL);
}

static void test_bad_bodies(void **state) {
  (void)state;
  static const struct {
    const char *body, *msg;
  } bad[] = {
      {"{\"a\": NaN}", "JSON: line 1 column"},
      {"{\"a\": 1} x", "JSON: line 1 column"},
      {"{\"a\": [1, 2", "JSON: line 1 column"},
      {"{\"a\":\n  -Infinity}", "JSON: line 2 column"},
      {"", "JSON: line"},
      {"{\"a\": 1,}", "JSON: "},
      {"{'a': 1}", "JSON: "},
      {"\xff\xfe", "JSON: "},
      {"{\"a\": 12345678901234567890}", "too big integer"},
  };
  const char *paths[] = {"$.a", "$"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    int rc = pw_test_run(NULL, bad[i].body, strlen(bad[i].body), paths, 2, err, sizeof err);
    if (rc != -EINVAL)
      fail_msg("body '%s' accepted", bad[i].body);
    if (!strstr(err, bad[i].msg))
      fail_msg("body '%s': error '%s' does not contain '%s'", bad[i].body, err, bad[i].msg);
  }
  /* Deep nesting is refused by jansson's depth limit instead of exhausting the stack. */
  size_t depth = 100000;
  char *deep = malloc(depth);
  assert_non_null(deep);
  memset(deep, '[', depth);
  char err[256] = "";
  assert_int_equal(pw_test_run(NULL, deep, depth, paths, 2, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "JSON: "));
  free(deep);
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  /* Only the first LEN bytes are the body: the rest would be trailing garbage. */
  const char buf[] = "{\"a\": 1.5}GARBAGE{{{";
  const char *paths[] = {"$.a"};
  char err[256] = "";
  assert_int_equal(pw_test_run(NULL, buf, 10, paths, 1, err, sizeof err), 0);
  expect_number(0, 1.5, "1.5");
  char digits[3] = {'4', '2', '7'};
  assert_int_equal(pw_test_run(NULL, digits, 2, (const char *const[]){"$"}, 1, err, sizeof err), 0);
  expect_number(0, 42, "42");
  assert_int_equal(pw_test_run(NULL, buf, 9, paths, 1, err, sizeof err), -EINVAL);
}

static void test_bad_path_at_parse_time(void **state) {
  (void)state;
  const char *paths[] = {"$.a", "$.a[", NULL, "$.b", "nope"};
  assert_int_equal(pw_test_run_str(NULL, "{\"a\": 1, \"b\": \"x\"}", paths, 5), 0);
  expect_number(0, 1, "1");
  expect_error(1, "bad path '$.a[': unterminated bracket at character 4");
  expect_error(2, "no path");
  expect_text(3, "x");
  expect_error(4, "a path starts with '$'");
}

static void test_emit_once_per_query(void **state) {
  (void)state;
  const char *paths[PW_TEST_MAXQ];
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    paths[i] = (i % 3 == 0) ? "$.a" : (i % 3 == 1) ? "$.b[?@.c==1]" : "$.missing";
  assert_int_equal(
      pw_test_run_str(NULL, "{\"a\": 1, \"b\": [{\"c\": 1}, {\"c\": 1}]}", paths, PW_TEST_MAXQ), 0);
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    assert_int_equal(got[i].calls, 1);
  /* No queries is fine too, and the body is still checked. */
  assert_int_equal(pw_test_run_str(NULL, "[]", NULL, 0), 0);
  char err[64];
  assert_int_equal(pw_test_run(NULL, "[", 1, NULL, 0, err, sizeof err), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry),
      cmocka_unit_test(test_check_path_valid),
      cmocka_unit_test(test_check_path_errors),
      cmocka_unit_test(test_numbers_and_text),
      cmocka_unit_test(test_names_and_chinese_keys),
      cmocka_unit_test(test_indices),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_nested_filters),
      cmocka_unit_test(test_several_nodes),
      cmocka_unit_test(test_null_and_non_values),
      cmocka_unit_test(test_top_level_scalars),
      cmocka_unit_test(test_bad_bodies),
      cmocka_unit_test(test_not_nul_terminated),
      cmocka_unit_test(test_bad_path_at_parse_time),
      cmocka_unit_test(test_emit_once_per_query),
  };
  return cmocka_run_group_tests(tests, pw_test_setup, NULL);
}
