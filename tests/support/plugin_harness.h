/*
 * plugin_harness.h: what the unit tests of the parser plugins share (each test executable
 * compiles its plugin's source and tests/support/plugin_harness.c in). pw_test_setup() calls
 * the plugin's pw_plugin_entry with a host that logs to stderr; pw_test_run() calls its parse,
 * records what emit reported for each query in got[], and checks the emit discipline: exactly
 * once per query when parse succeeds, never when it fails.
 */
#ifndef PW_PLUGIN_HARNESS_H
#define PW_PLUGIN_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "pw_plugin.h"

/* The most queries whose results are recorded; an emit with a larger index fails the run. */
#define PW_TEST_MAXQ 16

/* What emit reported for one query; text and error are copied since they are borrowed. */
struct got {
  int calls;
  enum pw_plugin_result result;
  double number;
  char text[512];
  size_t text_len;
  int has_text;
  int has_timestamp;
  int64_t timestamp_ms;
  char error[1024];
};

/* The results of the last pw_test_run, by query index. */
extern struct got got[PW_TEST_MAXQ];

/* The plugin under test, once pw_test_setup has run. */
extern const struct pw_plugin *pw_test_plugin;

/* A cmocka group setup: gets the plugin from pw_plugin_entry; fails when it returns NULL. */
int pw_test_setup(void **state);

/* Runs parse(OPTS, BODY, LEN, PATHS, N) with got[] cleared and checks the emit discipline.
 * Returns parse's result. ERR (ERRLEN bytes) receives parse's error; with ERR NULL an own
 * buffer does, and is printed to stderr when parse fails. */
int pw_test_run(const struct pw_plugin_options *opts, const char *body, size_t len,
                const char *const *paths, size_t n, char *err, size_t errlen);

/* pw_test_run of the NUL-terminated BODY, printing parse's error when it fails. */
int pw_test_run_str(const struct pw_plugin_options *opts, const char *body,
                    const char *const *paths, size_t n);

/* Query I gave text TEXT (its length checked too). */
void expect_text(size_t i, const char *text);

/* Query I gave an error containing PART. */
void expect_error(size_t i, const char *part);

#endif
