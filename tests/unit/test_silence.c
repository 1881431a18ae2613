/*
 * Unit tests of silence (docs/alerts.md "Silences"): the end of a silence from `--for` (the
 * configuration's durations) or `--until` (exactly one; an end not after now refused), ids
 * given to the silences of a file written before ids (the same ids at every reading, after the
 * highest id in the file), finding one by id, and which targets (an indicator, source:ID) a
 * list silences, an old entry's "indicator" included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "silence.h"

#define NOW 1714611600 /* 2024-05-02T09:00:00+08:00 */

static void test_until_for(void **state) {
  char err[300];
  int64_t until = 0;

  (void)state;
  assert_int_equal(pw_silence_until("3d", NULL, NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, NOW + 3 * 86400);
  assert_int_equal(pw_silence_until("1w2d", NULL, NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, NOW + 9 * 86400);
  assert_int_equal(pw_silence_until("90m", NULL, NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, NOW + 5400);
  assert_int_equal(pw_silence_until("45s", NULL, NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, NOW + 45);
  until = 7;
  assert_int_equal(pw_silence_until("3x", NULL, NOW, &until, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "--for '3x' is not a duration"));
  assert_int_equal(pw_silence_until("0d", NULL, NOW, &until, err, sizeof(err)), -EINVAL);
  assert_int_equal(pw_silence_until("", NULL, NOW, &until, err, sizeof(err)), -EINVAL);
  assert_int_equal(pw_silence_until("-1d", NULL, NOW, &until, err, sizeof(err)), -EINVAL);
  assert_int_equal(until, 7); /* untouched on failure */
}

static void test_until_date(void **state) {
  char err[300];
  int64_t until = 0;

  (void)state;
  /* A day means its end: local midnight after 2024-05-10 (the process zone, +08:00 here). */
  assert_int_equal(
      pw_silence_until(NULL, "2024-05-10T00:00:00+08:00", NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, 1715270400);
  assert_int_equal(
      pw_silence_until(NULL, "2024-05-02T09:00:01+08:00", NOW, &until, err, sizeof(err)), 0);
  assert_int_equal(until, NOW + 1);
  /* Now or before: refused, saying so. */
  assert_int_equal(
      pw_silence_until(NULL, "2024-05-02T09:00:00+08:00", NOW, &until, err, sizeof(err)), -ERANGE);
  assert_non_null(strstr(err, "not in the future"));
  assert_int_equal(pw_silence_until(NULL, "2024-04-01", NOW, &until, err, sizeof(err)), -ERANGE);
  assert_int_equal(pw_silence_until(NULL, "soon", NOW, &until, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "--until 'soon' is not a time"));
}

static void test_until_both_or_neither(void **state) {
  char err[300];
  int64_t until = 0;

  (void)state;
  assert_int_equal(pw_silence_until(NULL, NULL, NOW, &until, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "not neither"));
  assert_int_equal(pw_silence_until("3d", "2024-06-01", NOW, &until, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "not both"));
}

static const char *id_at(const json_t *list, size_t i) {
  return json_string_value(json_object_get(json_array_get(list, i), "id"));
}

/* A file of an older version (no ids, "indicator") and one mixed: ids after the highest. */
static void test_ids(void **state) {
  json_t *old = json_loads("[{\"indicator\":\"a\",\"until\":10},{\"indicator\":\"b\",\"until\":20},"
                           "{\"indicator\":\"a\",\"until\":30}]",
                           0, NULL);
  json_t *again = json_deep_copy(old);
  json_t *mixed = json_loads("[{\"target\":\"a\",\"until\":10},{\"id\":\"s7\",\"target\":\"b\"},"
                             "{\"id\":\"x\",\"target\":\"c\"},{\"target\":\"d\"}]",
                             0, NULL);

  (void)state;
  assert_int_equal(pw_silence_assign_ids(old), 3);
  assert_string_equal(id_at(old, 0), "s1");
  assert_string_equal(id_at(old, 1), "s2");
  assert_string_equal(id_at(old, 2), "s3");
  assert_int_equal(pw_silence_assign_ids(old), 0); /* every one has its id now */
  /* The same file read again gets the same ids. */
  assert_int_equal(pw_silence_assign_ids(again), 3);
  assert_true(json_equal(old, again));
  assert_int_equal(pw_silence_find(old, "s2"), 1);
  assert_int_equal(pw_silence_find(old, "s4"), -1);
  assert_int_equal(pw_silence_find(old, "a"), -1); /* an indicator is not an id */

  assert_int_equal(pw_silence_assign_ids(mixed), 2);
  assert_string_equal(id_at(mixed, 0), "s8");
  assert_string_equal(id_at(mixed, 1), "s7");
  assert_string_equal(id_at(mixed, 2), "x");
  assert_string_equal(id_at(mixed, 3), "s9");
  json_decref(old);
  json_decref(again);
  json_decref(mixed);
}

static void test_active(void **state) {
  json_t *list = json_loads("[{\"indicator\":\"a\",\"until\":100},"
                            "{\"id\":\"s2\",\"target\":\"source:hj\",\"until\":200},"
                            "{\"id\":\"s3\",\"target\":\"b\",\"until\":50}]",
                            0, NULL);

  (void)state;
  assert_string_equal(pw_silence_target(json_array_get(list, 0)), "a");
  assert_string_equal(pw_silence_target(json_array_get(list, 1)), "source:hj");
  assert_true(pw_silence_active(list, "a", 99));
  assert_false(pw_silence_active(list, "a", 100)); /* until is when it ends */
  assert_true(pw_silence_active(list, "source:hj", 150));
  assert_false(pw_silence_active(list, "hj", 150)); /* a source is not an indicator */
  assert_false(pw_silence_active(list, "b", 60));
  assert_false(pw_silence_active(list, "c", 0));
  json_decref(list);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_until_for),
      cmocka_unit_test(test_until_date),
      cmocka_unit_test(test_until_both_or_neither),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_active),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
