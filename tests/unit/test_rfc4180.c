/*
 * Unit tests of the RFC 4180 reader shared by the csv plugin and `pacewatch import`: quoted
 * fields holding delimiters, doubled quotes and line ends (and the line numbers after them),
 * CRLF and lone CR line ends, a byte-order mark, trimming of unquoted fields only, ragged
 * records (returned as they are: the caller judges them), empty lines, a last line without a
 * line end, NUL bytes and bodies that are not NUL-terminated, that fields of earlier records
 * stay valid, and the three kinds of broken quoting with the line they are on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rfc4180.h"

/* Reads the next record of R and checks it has the N fields given (NUL-terminated texts). */
static void expect_record(struct pw_rfc4180 *r, size_t line, size_t n, ...) {
  va_list ap;

  assert_int_equal(pw_rfc4180_next(r), 1);
  assert_int_equal(r->record_line, line);
  assert_int_equal(r->nfields, n);
  va_start(ap, n);
  for (size_t i = 0; i < n; i++) {
    const char *want = va_arg(ap, const char *);
    if (r->fields[i].len != strlen(want) || memcmp(r->fields[i].text, want, strlen(want)) != 0)
      fail_msg("line %zu field %zu: '%.*s', expected '%s'", line, i, (int)r->fields[i].len,
               r->fields[i].text, want);
    assert_int_equal(r->fields[i].text[r->fields[i].len], '\0');
  }
  va_end(ap);
}

static void open_str(struct pw_rfc4180 *r, const char *body, char delim) {
  assert_int_equal(pw_rfc4180_init(r, body, strlen(body), delim), 0);
}

static void test_quoted_fields(void **state) {
  struct pw_rfc4180 r;
  (void)state;
  open_str(&r,
           "indicator,as_of,value\n"
           "\"cum\",\"2024-01-31\",\"1,000\"\n"
           "\"say \"\"hi\"\"\",\"two\nlines\",\"\"\n"
           "\"a\r\nb\",x,\"\"\"\"\n"
           "last,row,here\n",
           ',');
  expect_record(&r, 1, 3, "indicator", "as_of", "value");
  expect_record(&r, 2, 3, "cum", "2024-01-31", "1,000");
  assert_true(r.fields[2].quoted);
  expect_record(&r, 3, 3, "say \"hi\"", "two\nlines", "");
  assert_true(r.fields[2].quoted);
  /* The line end inside the quotes counts: the next record starts on line 5. */
  expect_record(&r, 5, 3, "a\r\nb", "x", "\"");
  expect_record(&r, 7, 3, "last", "row", "here");
  assert_int_equal(pw_rfc4180_next(&r), 0);
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
}

static void test_line_ends_and_bom(void **state) {
  struct pw_rfc4180 r;
  (void)state;
  open_str(&r, "\xef\xbb\xbf指标,值\r\n地区生产总值,1.2万亿\r\n\r\nA,1\rB,2\r\n", ',');
  expect_record(&r, 1, 2, "指标", "值"); /* the mark is not part of the first field */
  expect_record(&r, 2, 2, "地区生产总值", "1.2万亿");
  expect_record(&r, 3, 1, ""); /* an empty line is one empty, unquoted field */
  assert_false(r.fields[0].quoted);
  expect_record(&r, 4, 2, "A", "1"); /* a lone CR ends a line too */
  expect_record(&r, 5, 2, "B", "2");
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
  /* A mark alone is an empty body; a mark elsewhere is text. */
  assert_int_equal(pw_rfc4180_init(&r, "\xef\xbb\xbf", 3, ','), 0);
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
  open_str(&r, "a,\xef\xbb\xbf", ',');
  expect_record(&r, 1, 2, "a", "\xef\xbb\xbf");
  pw_rfc4180_free(&r);
  open_str(&r, "", ',');
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
}

static void test_ragged_and_trailing(void **state) {
  struct pw_rfc4180 r;
  (void)state;
  /* Records keep the number of fields they have; the last line needs no line end and a final
   * delimiter is one more, empty, field. */
  open_str(&r, "a,b,c\n1,2\n1,2,3,4\n\"\"\n,\n1,2,", ',');
  expect_record(&r, 1, 3, "a", "b", "c");
  expect_record(&r, 2, 2, "1", "2");
  expect_record(&r, 3, 4, "1", "2", "3", "4");
  expect_record(&r, 4, 1, "");
  assert_true(r.fields[0].quoted); /* not an empty line: the caller may tell */
  expect_record(&r, 5, 2, "", "");
  expect_record(&r, 6, 3, "1", "2", "");
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
}

static void test_trimming(void **state) {
  struct pw_rfc4180 r;
  (void)state;
  open_str(&r, " code ,\tvalue \n \" padded \" , 6\n", ',');
  expect_record(&r, 1, 2, "code", "value");
  expect_record(&r, 2, 2, " padded ", "6"); /* spaces inside quotes are kept */
  pw_rfc4180_free(&r);
  /* With a tab delimiter, tabs delimit and only spaces are padding. */
  open_str(&r, "a\tb\n x \t y z \n\t\n", '\t');
  expect_record(&r, 1, 2, "a", "b");
  expect_record(&r, 2, 2, "x", "y z");
  expect_record(&r, 3, 2, "", "");
  pw_rfc4180_free(&r);
  /* Another delimiter: the comma is text. */
  open_str(&r, "\"A;1\";\"1,234.5\";x\n", ';');
  expect_record(&r, 1, 3, "A;1", "1,234.5", "x");
  pw_rfc4180_free(&r);
}

static void test_broken_quoting(void **state) {
  static const struct {
    const char *body, *what;
    size_t line;
  } bad[] = {
      {"a,b\n\"x,1\n2,3\n", "unterminated quoted field", 2},
      {"a,b\nx\"y,1\n", "quote inside an unquoted field", 2},
      {"a,b\n\"x\"y,1\n", "unexpected text after the closing quote", 2},
      {"a,b\n\"x\ny\"z,1\n", "unexpected text after the closing quote", 3},
      {"a,b\n\"x\ny,1\n", "unterminated quoted field", 2},
  };
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct pw_rfc4180 r;
    int rc;
    open_str(&r, bad[i].body, ',');
    while ((rc = pw_rfc4180_next(&r)) > 0)
      ;
    if (rc != -EINVAL)
      fail_msg("'%s' accepted", bad[i].body);
    if (strstr(r.error, bad[i].what) == NULL || r.error_line != bad[i].line)
      fail_msg("'%s': line %zu: %s; expected line %zu: %s", bad[i].body, r.error_line, r.error,
               bad[i].line, bad[i].what);
    pw_rfc4180_free(&r);
  }
}

static void test_bytes_not_strings(void **state) {
  struct pw_rfc4180 r;
  const char buf[] = "a,b\n1,2\"3,4\n";
  const char quoted[] = {'a', '\n', '"', 'x', '"', '"'};
  const char nul[] = "a,x\0y\n";
  (void)state;
  /* Only the first LEN bytes are the body. */
  assert_int_equal(pw_rfc4180_init(&r, buf, 7, ','), 0);
  expect_record(&r, 1, 2, "a", "b");
  expect_record(&r, 2, 2, "1", "2");
  assert_int_equal(pw_rfc4180_next(&r), 0);
  pw_rfc4180_free(&r);
  assert_int_equal(pw_rfc4180_init(&r, quoted, 5, ','), 0);
  expect_record(&r, 1, 1, "a");
  expect_record(&r, 2, 1, "x");
  pw_rfc4180_free(&r);
  /* A NUL byte is a byte of a field. */
  assert_int_equal(pw_rfc4180_init(&r, nul, sizeof nul - 1, ','), 0);
  assert_int_equal(pw_rfc4180_next(&r), 1);
  assert_int_equal(r.fields[1].len, 3);
  assert_memory_equal(r.fields[1].text, "x\0y", 3);
  pw_rfc4180_free(&r);
}

static void test_fields_stay(void **state) {
  struct pw_rfc4180 r;
  const char *first[2];
  (void)state;
  open_str(&r, "one,two\nthree,four,five,six,seven,eight,nine,ten,eleven\n", ',');
  assert_int_equal(pw_rfc4180_next(&r), 1);
  first[0] = r.fields[0].text;
  first[1] = r.fields[1].text;
  expect_record(&r, 2, 9, "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven");
  assert_string_equal(first[0], "one");
  assert_string_equal(first[1], "two");
  pw_rfc4180_free(&r);
  pw_rfc4180_free(&r); /* freeing twice, or a zeroed reader, is harmless */
  pw_rfc4180_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quoted_fields),       cmocka_unit_test(test_line_ends_and_bom),
      cmocka_unit_test(test_ragged_and_trailing), cmocka_unit_test(test_trimming),
      cmocka_unit_test(test_broken_quoting),      cmocka_unit_test(test_bytes_not_strings),
      cmocka_unit_test(test_fields_stay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
