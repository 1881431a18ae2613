/*
 * Unit tests of the csv parser plugin (compiled in with plugins/csv/csv.c): both path forms,
 * Chinese and bracketed column names, quoted keys, trimming of unquoted cells, a body with a
 * byte-order mark, CRLF, a ';' delimiter and quoted fields holding delimiters, quotes and line
 * ends; unknown and duplicated columns, no and several matching rows; broken quoting and ragged
 * rows (with the right line numbers); a body that is not NUL-terminated; and that emit is
 * called exactly once per query.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "plugin_harness.h"

/* The options of a source whose csv_delimiter is C. */
#define DELIM(c) (&(const struct pw_plugin_options){.csv_delimiter = (c)})

static void test_entry(void **state) {
  (void)state;
  assert_int_equal(pw_test_plugin->abi_major, PW_PLUGIN_ABI_MAJOR);
  assert_int_equal(pw_test_plugin->abi_minor, PW_PLUGIN_ABI_MINOR);
  assert_int_equal(pw_test_plugin->struct_size, sizeof(struct pw_plugin));
  assert_string_equal(pw_test_plugin->name, "csv");
}

static void test_check_path(void **state) {
  (void)state;
  static const char *const ok[] = {
      "value",
      "value[code=TJ01]",
      "完成值[指标名称=全市GDP]",
      "金额[万元]",
      "金额[万元][地区=北京]",
      "value[code='a b']",
      "value[ code = TJ01 ]",
      "value[code=]",
      "a b c",
      "value[code=x=y]",
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
      {"", "bad path '': no column name"},
      {"  ", "no column name"},
      {"[code=x]", "no column name"},
      {"v[=x]", "bad path 'v[=x]': no key column before '='"},
      {"v[code=x", "misses its closing ']'"},
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

static void test_basic(void **state) {
  (void)state;
  const char *body = "code,name,value\n"
                     "TJ01,GDP,12.5万\n"
                     "TJ02,rate,85%\n"
                     "TJ03,count,1234\n";
  const char *paths[] = {"value[code=TJ01]",       "value[code=TJ02]",     "value",
                         "name[code=TJ03]",        "name[code=TJ09]",      "valeu[code=TJ01]",
                         "value[cod=TJ01]",        "value[code=\"TJ01\"]", "value[code='TJ02']",
                         " value [ code = TJ03 ] "};
  assert_int_equal(pw_test_run_str(DELIM(','), body, paths, 10), 0);
  expect_text(0, "12.5万");
  expect_text(1, "85%");
  expect_text(2, "1234"); /* the last row */
  expect_text(3, "count");
  assert_int_equal(got[4].result, PW_PLUGIN_NOT_FOUND);
  expect_error(5, "unknown column 'valeu'; the header has: 'code', 'name', 'value'");
  expect_error(6, "unknown column 'cod'");
  expect_text(7, "12.5万");
  expect_text(8, "85%");
  expect_text(9, "1234");
}

static void test_several_rows(void **state) {
  (void)state;
  const char *body = "code,value\nA,1\nB,2\nA,3\nC,4\nA,5\nA,6\nB,7\n";
  const char *paths[] = {"value[code=A]", "value[code=B]", "value[code=C]"};
  assert_int_equal(pw_test_run_str(DELIM(','), body, paths, 3), 0);
  expect_error(0, "4 rows have code = 'A' (lines 2, 4, 6, ...)");
  expect_error(1, "2 rows have code = 'B' (lines 3, 8)");
  expect_text(2, "4");
}

static void test_chinese(void **state) {
  (void)state;
  const char *body = "指标名称,完成值,单位,金额[万元]\n"
                     "地区生产总值,1.2万亿,元,5\n"
                     "规模以上工业增加值,8.5%,%,6\n";
  const char *paths[] = {"完成值[指标名称=规模以上工业增加值]",
                         "单位[指标名称=地区生产总值]",
                         "完成值",
                         "金额[万元][指标名称=地区生产总值]",
                         "金额[万元]",
                         "完成[指标名称=地区生产总值]"};
  assert_int_equal(pw_test_run_str(DELIM(','), body, paths, 6), 0);
  expect_text(0, "8.5%");
  expect_text(1, "元");
  expect_text(2, "8.5%");
  expect_text(3, "5");
  expect_text(4, "6");
  expect_error(5,
               "unknown column '完成'; the header has: '指标名称', '完成值', '单位', '金额[万元]'");
}

static void test_bom_crlf_semicolon_quotes(void **state) {
  (void)state;
  const char body[] = "\xef\xbb\xbf\"指标\";\"值\";备注\r\n"
                      "\"A;1\";\"1,234.5\";\"line1\r\nline2\"\r\n"
                      "\r\n"
                      "\"B \"\"q\"\"\";7;\"\"\r\n"
                      "plain;\"\";x\r\n";
  const char *paths[] = {
      "值[指标=A;1]", "备注[指标=A;1]", "值[指标='B \"q\"']", "备注[指标='B \"q\"']",
      "值",           "指标",           "值[指标=plain]"};
  char err[256] = "";
  int rc = pw_test_run(DELIM(';'), body, sizeof body - 1, paths, 7, err, sizeof err);
  if (rc)
    fail_msg("%s", err);
  expect_text(0, "1,234.5");
  expect_text(1, "line1\r\nline2");
  expect_text(2, "7");
  expect_text(3, ""); /* an empty cell is empty text: the host decides what it means */
  expect_text(4, "");
  expect_text(5, "plain");
  expect_text(6, "");
  /* With the default delimiter the same body has one column per line and ragged quoting. */
  assert_int_equal(pw_test_run(DELIM(0), body, sizeof body - 1, paths, 7, err, sizeof err),
                   -EINVAL);
}

static void test_trimming(void **state) {
  (void)state;
  const char *body = " code , value \n"
                     " TJ01 ,\t5 \n"
                     " \" padded \" , 6\n"
                     "\"x\",\" 7 \"\n";
  const char *paths[] = {"value[code=TJ01]", "value[code=' padded ']", "value[code=padded]",
                         "value"};
  assert_int_equal(pw_test_run_str(DELIM(','), body, paths, 4), 0);
  expect_text(0, "5");
  expect_text(1, "6");
  assert_int_equal(got[2].result, PW_PLUGIN_NOT_FOUND);
  expect_text(3, " 7 "); /* spaces inside quotes are kept */
}

static void test_tab_delimiter(void **state) {
  (void)state;
  const char *body = "a\tb\n x \t y z \n";
  const char *paths[] = {"b[a=x]", "b"};
  char err[256] = "";
  assert_int_equal(pw_test_run(DELIM('\t'), body, strlen(body), paths, 2, err, sizeof err), 0);
  expect_text(0, "y z");
  expect_text(1, "y z");
}

static void test_empty_lines_and_no_rows(void **state) {
  (void)state;
  const char *paths[] = {"b", "a[b=2]", "c"};
  assert_int_equal(pw_test_run_str(DELIM(','), "\n\na,b\n\n1,2\n   \n\n3,4\n\n", paths, 3), 0);
  expect_text(0, "4");
  expect_text(1, "1");
  expect_error(2, "unknown column 'c'");
  /* A header alone publishes nothing, but a typo is still an error. */
  assert_int_equal(pw_test_run_str(DELIM(','), "a,b\r\n", paths, 3), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_NOT_FOUND);
  assert_int_equal(got[1].result, PW_PLUGIN_NOT_FOUND);
  expect_error(2, "unknown column 'c'");
  /* The last line needs no line end; a final trailing delimiter is an empty field. */
  assert_int_equal(pw_test_run_str(DELIM(','), "a,b,c\n1,2,", paths, 3), 0);
  expect_text(0, "2");
  expect_text(2, "");
}

static void test_duplicate_columns(void **state) {
  (void)state;
  const char *paths[] = {"a", "b[a=1]", "a[b=3]", "b"};
  assert_int_equal(pw_test_run_str(DELIM(','), "a,a,b\n1,2,3\n", paths, 4), 0);
  expect_error(0, "column 'a' appears 2 times in the header");
  expect_error(1, "column 'a' appears 2 times");
  expect_error(2, "column 'a' appears 2 times");
  expect_text(3, "3");
}

static void test_bad_bodies(void **state) {
  (void)state;
  static const struct {
    const char *body, *msg;
  } bad[] = {
      {"a,b\n\"x,1\n", "CSV: line 2: unterminated quoted field"},
      {"a,b\nx\"y,1\n", "CSV: line 2: quote inside an unquoted field"},
      {"a,b\n\"x\"y,1\n", "CSV: line 2: unexpected text after the closing quote"},
      {"a,b\n1,2\n3\n", "CSV: line 3: 1 fields, but the header has 2"},
      {"a,b\n1,2\n3,4,5\n", "CSV: line 3: 3 fields, but the header has 2"},
      {"a,b\n\"x\ny\",1\n\n1,2,3\n", "CSV: line 5: 3 fields"},
      {"", "CSV: no header row"},
      {"\xef\xbb\xbf\r\n\r\n", "CSV: no header row"},
  };
  const char *paths[] = {"a", "b[a=1]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    int rc = pw_test_run(DELIM(','), bad[i].body, strlen(bad[i].body), paths, 2, err, sizeof err);
    if (rc != -EINVAL)
      fail_msg("body '%s' accepted", bad[i].body);
    if (!strstr(err, bad[i].msg))
      fail_msg("body '%s': error '%s' does not contain '%s'", bad[i].body, err, bad[i].msg);
  }
  char err[256] = "";
  assert_int_equal(pw_test_run(DELIM('"'), "a,b\n1,2\n", 8, paths, 2, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "unusable delimiter"));
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  /* Only the first LEN bytes are the body: the rest is another row and a broken quote. */
  const char buf[] = "a,b\n1,2\"3,4\n";
  const char *paths[] = {"b", "b[a=1]"};
  char err[256] = "";
  assert_int_equal(pw_test_run(DELIM(','), buf, 7, paths, 2, err, sizeof err), 0);
  expect_text(0, "2");
  expect_text(1, "2");
  char quoted[] = {'a', '\n', '"', 'x', '"', '"'};
  assert_int_equal(
      pw_test_run(DELIM(','), quoted, 5, (const char *const[]){"a"}, 1, err, sizeof err), 0);
  expect_text(0, "x");
  /* A NUL byte is just a byte of a cell. */
  const char nul[] = "a,b\n1,x\0y\n";
  assert_int_equal(pw_test_run(DELIM(','), nul, sizeof nul - 1, paths, 2, err, sizeof err), 0);
  assert_int_equal(got[0].result, PW_PLUGIN_TEXT);
  assert_int_equal(got[0].text_len, 3);
  assert_memory_equal(got[0].text, "x\0y", 3);
}

static void test_bad_path_at_parse_time(void **state) {
  (void)state;
  const char *paths[] = {"b", "", NULL, "b[a=1", "a"};
  assert_int_equal(pw_test_run_str(DELIM(','), "a,b\n1,2\n", paths, 5), 0);
  expect_text(0, "2");
  expect_error(1, "no column name");
  expect_error(2, "no path");
  expect_error(3, "misses its closing ']'");
  expect_text(4, "1");
}

static void test_emit_once_per_query(void **state) {
  (void)state;
  const char *paths[PW_TEST_MAXQ];
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    paths[i] = (i % 4 == 0) ? "b" : (i % 4 == 1) ? "b[a=1]" : (i % 4 == 2) ? "x" : "b[a=9]";
  assert_int_equal(pw_test_run_str(DELIM(','), "a,b\n1,2\n1,3\n", paths, PW_TEST_MAXQ), 0);
  for (size_t i = 0; i < PW_TEST_MAXQ; i++)
    assert_int_equal(got[i].calls, 1);
  assert_int_equal(pw_test_run_str(DELIM(','), "a\n", NULL, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry),
      cmocka_unit_test(test_check_path),
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_several_rows),
      cmocka_unit_test(test_chinese),
      cmocka_unit_test(test_bom_crlf_semicolon_quotes),
      cmocka_unit_test(test_trimming),
      cmocka_unit_test(test_tab_delimiter),
      cmocka_unit_test(test_empty_lines_and_no_rows),
      cmocka_unit_test(test_duplicate_columns),
      cmocka_unit_test(test_bad_bodies),
      cmocka_unit_test(test_not_nul_terminated),
      cmocka_unit_test(test_bad_path_at_parse_time),
      cmocka_unit_test(test_emit_once_per_query),
  };
  return cmocka_run_group_tests(tests, pw_test_setup, NULL);
}
