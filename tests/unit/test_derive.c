/*
 * Unit tests of derive over a real journal file and real RRD files: each as_of once with its
 * last journaled revision, and a journal of an older version holding a line no RRD file can
 * hold (as_of 1970-01-01T08:00:01+08:00, from a Prometheus timestamp of 1000 ms, which admission
 * now refuses): the line is left out, the RRD file is rebuilt from the other lines, and later
 * appends work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "derive.h"
#include "journal.h"
#include "store.h"
#include "util.h"

static char dir[] = "/tmp/pw-test-derive-XXXXXX";
static struct pw_config *conf;

static int setup(void **state) {
  char path[512], err[1024];
  FILE *f;

  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fprintf(f,
          "daemon: { state_dir = \"%s/state\"; timezone = \"Asia/Shanghai\"; };\n"
          "domains = ( { id = \"d\"; name = \"D\"; } );\n"
          "indicators = (\n"
          " { id = \"x\"; name = \"X\"; domain = \"d\"; kind = \"level\";\n"
          "   targets = ( { year = 2024; baseline = 0; annual = 10; } ); } );\n",
          dir);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  snprintf(path, sizeof(path), "%s/state/journal", dir);
  return pw_mkdir_p(path) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  pw_config_free(conf);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd);
}

static struct pw_journal *journal_of(const char *text) {
  char path[600], err[1024];
  struct pw_journal *j = NULL;

  snprintf(path, sizeof(path), "%s/state/journal/journal.tsv", dir);
  assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), 0);
  if (pw_journal_open(conf, 0, &j, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  return j;
}

/* Revisions: the last journaled one of each as_of; points ascending. */
static void test_points(void **state) {
  struct pw_journal *j =
      journal_of("2024-04-02T00:00:00+08:00\tx\t2\t2024-04-02T09:00:00+08:00\ta\n"
                 "2024-04-01T00:00:00+08:00\tx\t1\t2024-04-02T09:00:00+08:00\ta\n"
                 "2024-04-02T00:00:00+08:00\tx\t3\t2024-04-03T09:00:00+08:00\ta\n");
  struct pw_store_point *pts;
  size_t n;

  (void)state;
  assert_int_equal(pw_derive_points(conf, j, 0, 0, &pts, &n, NULL, NULL), 0);
  assert_int_equal(n, 2);
  assert_int_equal(pts[0].t, 1711900800);
  assert_true(pts[0].value == 1);
  assert_int_equal(pts[1].t, 1711987200);
  assert_true(pts[1].value == 3);
  assert_false(isnan(pts[1].expected));
  free(pts);
  pw_journal_close(j);
}

/* A line dated 1970 (written by an older version) no longer breaks the RRD file for good: it
 * is left out, the rebuild succeeds, and appends after it work. */
static void test_line_outside_the_years(void **state) {
  struct pw_journal *j =
      journal_of("1970-01-01T08:00:01+08:00\tx\t9\t2024-04-02T09:00:00+08:00\tp\n"
                 "2024-04-01T00:00:00+08:00\tx\t1\t2024-04-02T09:00:00+08:00\tp\n"
                 "2024-04-02T00:00:00+08:00\tx\t2\t2024-04-02T09:00:00+08:00\tp\n");
  struct pw_store_point *pts, more = {1712073600, 3, NAN};
  struct pw_store store;
  size_t n;
  int64_t last = 0;
  char err[1024];

  (void)state;
  assert_int_equal(j->series[0].n, 3); /* the journal still reads it */
  assert_int_equal(pw_derive_points(conf, j, 0, 0, &pts, &n, NULL, NULL), 0);
  assert_int_equal(n, 2);
  assert_int_equal(pts[0].t, 1711900800);
  free(pts);
  if (pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  assert_int_equal(pw_derive_rebuild(conf, j, &store, NULL), 0);
  assert_int_equal(pw_store_last(&store, "x", &last, err, sizeof(err)), 0);
  assert_int_equal(last, 1711987200);
  assert_int_equal(pw_store_append(&store, "x", NULL, &more, 1, err, sizeof(err)), 0);
  assert_int_equal(pw_store_last(&store, "x", &last, err, sizeof(err)), 0);
  assert_int_equal(last, 1712073600);
  pw_store_free(&store);
  pw_journal_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_points),
      cmocka_unit_test(test_line_outside_the_years),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
