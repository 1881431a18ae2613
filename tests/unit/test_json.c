/*
 * Unit tests of json: every real is printed with the fewest digits that read back bit for bit
 * (91.9, 0.1, 1e21, -0.0, 5e-324, 1/3, and a sweep of awkward doubles) through jansson's own
 * parser, and a document without reals prints byte for byte as json_dumps prints it, for every
 * combination of the flags pacewatch uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Dumps V alone (JSON_ENCODE_ANY), checks the text is WANT (when not NULL), and that jansson
 * reads it back as a real with exactly the bits of V. */
static void real_is(double v, const char *want) {
  json_t *doc = json_real(v), *back;
  char *text = pw_json_dumps(doc, JSON_ENCODE_ANY);
  json_error_t err;
  double got;

  assert_non_null(text);
  if (want != NULL)
    assert_string_equal(text, want);
  back = json_loads(text, JSON_DECODE_ANY, &err);
  assert_non_null(back);
  assert_true(json_is_real(back));
  got = json_real_value(back);
  assert_memory_equal(&got, &v, sizeof(v));
  json_decref(back);
  json_decref(doc);
  free(text);
}

static void test_shortest(void **state) {
  (void)state;
  real_is(91.9, "91.9");
  real_is(0.1, "0.1");
  real_is(1e21, "1e21");
  real_is(-0.0, "-0.0");
  real_is(0.0, "0.0");
  real_is(5e-324, "5e-324");
  real_is(1.0 / 3.0, "0.3333333333333333");
  real_is(2.0, "2.0");
  real_is(-1.5, "-1.5");
  real_is(1e-5, "1e-5");
  real_is(123456789012.5, "123456789012.5");
  real_is(DBL_MAX, "1.7976931348623157e308");
  real_is(DBL_MIN, NULL);
  real_is(0.1 + 0.2, "0.30000000000000004");
  real_is(9007199254740993.0, NULL);
}

/* V's text is the shortest: its significant digits (the mantissa's, without leading and trailing
 * zeros) number P, and no precision below P reads back as V. */
static void real_is_shortest(double v) {
  char text[40], tmp[40];
  const char *c, *end;
  int p = 0, k;

  assert_true(pw_json_real(v, text, sizeof(text)) > 0);
  end = strchr(text, 'e') != NULL ? strchr(text, 'e') : text + strlen(text);
  for (c = text; c < end && (*c < '1' || *c > '9'); c++)
    ;
  while (end > c && (end[-1] < '1' || end[-1] > '9'))
    end--;
  for (; c < end; c++)
    p += *c >= '0' && *c <= '9';
  for (k = 1; k < p; k++) {
    snprintf(tmp, sizeof(tmp), "%.*g", k, v);
    assert_true(strtod(tmp, NULL) != v);
  }
}

/* A sweep: random bit patterns (finite ones) and decimal figures with a few digits all read back
 * exactly, and none takes more than 17 significant digits. */
static void test_round_trip_sweep(void **state) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  int i;

  (void)state;
  for (i = 0; i < 20000; i++) {
    double v;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&v, &x, sizeof(v));
    if (isfinite(v)) {
      real_is(v, NULL);
      real_is_shortest(v);
    }
    real_is((double)(i % 5000) / 10.0 + (double)i / 1000.0, NULL);
    real_is_shortest((double)(i % 5000) / 10.0 + (double)i / 1000.0);
    real_is_shortest((double)i / 3.0);
    real_is_shortest((double)i * 1e-7);
  }
}

static void test_real_format(void **state) {
  char buf[32];

  (void)state;
  assert_int_equal(pw_json_real(91.9, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "91.9");
  assert_int_equal(pw_json_real(NAN, buf, sizeof(buf)), -1);
  assert_int_equal(pw_json_real(INFINITY, buf, sizeof(buf)), -1);
  assert_int_equal(pw_json_real(91.9, buf, 4), -1);
}

/* Without reals, the text is json_dumps' own, whatever the flags. */
static void test_same_as_jansson(void **state) {
  static const char *const docs[] = {
      "{}",
      "[]",
      "{\"b\":1,\"a\":[1,2,{\"c\":null,\"d\":true,\"e\":false}],\"z\":{}}",
      "[\"t\\u0001ab\\t\\n\\r\\b\\f\\\\\\\"/\", \"每周 91.9% \\ud83d\\ude00\", [], {}, -7]",
      "{\"nested\":{\"deeper\":{\"list\":[[1],[2,[3,[]]]]}},\"s\":\"\\u007f\\u001f\"}",
  };
  static const size_t flags[] = {0,
                                 JSON_COMPACT,
                                 JSON_INDENT(1),
                                 JSON_INDENT(2),
                                 JSON_INDENT(2) | JSON_SORT_KEYS,
                                 JSON_COMPACT | JSON_PRESERVE_ORDER,
                                 JSON_INDENT(1) | JSON_SORT_KEYS,
                                 JSON_COMPACT | JSON_ENSURE_ASCII,
                                 JSON_ESCAPE_SLASH,
                                 JSON_INDENT(3) | JSON_COMPACT};
  size_t d, f;

  (void)state;
  for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
    json_error_t err;
    json_t *doc = json_loads(docs[d], 0, &err);

    assert_non_null(doc);
    for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
      char *want = json_dumps(doc, flags[f]), *got = pw_json_dumps(doc, flags[f]);

      assert_non_null(want);
      assert_non_null(got);
      assert_string_equal(got, want);
      free(want);
      free(got);
    }
    json_decref(doc);
  }
}

/* A document of reals: the shape is jansson's, the numbers are the shortest. */
static void test_document(void **state) {
  json_t *doc = json_pack("{s:f,s:[f,f,i],s:s}", "value", 91.9, "list", 0.1, 2.0, (json_int_t)3,
                          "name", "体检率");
  char *text;

  (void)state;
  text = pw_json_dumps(doc, JSON_COMPACT);
  assert_string_equal(text, "{\"value\":91.9,\"list\":[0.1,2.0,3],\"name\":\"体检率\"}");
  free(text);
  text = pw_json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
  assert_string_equal(text, "{\n \"list\": [\n  0.1,\n  2.0,\n  3\n ],\n \"name\": \"体检率\",\n "
                            "\"value\": 91.9\n}");
  free(text);
  /* A bare value needs JSON_ENCODE_ANY, as with json_dumps. */
  assert_null(pw_json_dumps(json_object_get(doc, "name"), 0));
  assert_null(pw_json_dumps(NULL, 0));
  json_decref(doc);
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object written member by member (keys added in sorted order) reads as pw_json_dumps of the
 * whole object, for every flag combination, empty objects and nested ones included. */
static void test_writer(void **state) {
  static const char *const docs[] = {
      "{}",
      "{\"only\":[]}",
      "{\"b/lag\":{\"told\":[\"hook\"],\"firing\":true,\"since\":17},\"a/lag\":{},"
      "\"pending\":{\"hook\":{\"alerts\":[{\"v\":1}],\"more\":[]}},\"\u6307/x\":null}",
  };
  static const size_t flags[] = {0, JSON_COMPACT, JSON_INDENT(1) | JSON_SORT_KEYS,
                                 JSON_INDENT(2) | JSON_SORT_KEYS, JSON_ENSURE_ASCII};
  size_t d, f, k, n;

  (void)state;
  for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
    json_t *doc = json_loads(docs[d], 0, NULL);
    const char *keys[8], *key;
    json_t *value;

    assert_non_null(doc);
    n = 0;
    json_object_foreach(doc, key, value) keys[n++] = key;
    qsort(keys, n, sizeof(keys[0]), key_cmp);
    for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
      struct pw_buf out = {0};
      struct pw_json_writer w;
      char *want = pw_json_dumps(doc, flags[f] | JSON_SORT_KEYS);

      pw_json_object_begin(&w, &out, flags[f] | JSON_SORT_KEYS);
      for (k = 0; k < n; k++)
        assert_int_equal(pw_json_object_add(&w, keys[k], json_object_get(doc, keys[k])), 0);
      assert_int_equal(pw_json_object_end(&w), 0);
      assert_non_null(want);
      assert_string_equal(out.data, want);
      free(want);
      pw_buf_free(&out);
    }
    json_decref(doc);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shortest),    cmocka_unit_test(test_round_trip_sweep),
      cmocka_unit_test(test_real_format), cmocka_unit_test(test_same_as_jansson),
      cmocka_unit_test(test_document),    cmocka_unit_test(test_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
