/*
 * Unit tests of audit.log's appends (docs/storage.md "audit.log"): pw_audit_append from two
 * threads at once, as deliveries and the reporting page write, with a small
 * daemon.audit_max_bytes: every line lands whole in exactly one file, no file passes the limit,
 * the rotation keeps audit.log.1 .. .3 and drops older lines; a line longer than the limit is
 * written alone; a link planted at the name is not written through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

#define LINES 300 /* per thread */
#define MAX 2048

static char dir[64], path[128];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/pw-audit-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/audit.log", dir);
  return 0;
}

static int teardown(void **state) {
  char p[160];
  int i;

  (void)state;
  unlink(path);
  for (i = 1; i <= 5; i++) {
    snprintf(p, sizeof(p), "%s.%d", path, i);
    unlink(p);
  }
  snprintf(p, sizeof(p), "%s/target", dir);
  unlink(p);
  rmdir(dir);
  return 0;
}

struct writer {
  char who;
  int failed;
};

static void *write_lines(void *arg) {
  struct writer *w = arg;
  char line[64];
  int k, n;

  for (k = 0; k < LINES; k++) {
    n = snprintf(line, sizeof(line), "{\"who\":\"%c\",\"n\":%04d}\n", w->who, k);
    if (pw_audit_append(path, line, (size_t)n, MAX) != 0)
      w->failed++;
  }
  return NULL;
}

/* Checks the lines of FILE: each whole ("{"who":"a","n":NNNN}"), the file within MAX; marks
 * each line seen in SEEN[who][n]. Returns the number of lines, -1 when the file is missing. */
static int check_file(const char *file, int seen[2][LINES]) {
  char line[128];
  struct stat st;
  int n = 0, k;
  char who;
  FILE *f = fopen(file, "r");

  if (f == NULL)
    return -1;
  assert_int_equal(fstat(fileno(f), &st), 0);
  assert_true(st.st_size <= MAX);
  while (fgets(line, sizeof(line), f) != NULL) {
    assert_int_equal(sscanf(line, "{\"who\":\"%c\",\"n\":%d}\n", &who, &k), 2);
    assert_true((who == 'a' || who == 'b') && k >= 0 && k < LINES);
    assert_int_equal(line[strlen(line) - 1], '\n');
    assert_int_equal(seen[who - 'a'][k], 0); /* in exactly one file */
    seen[who - 'a'][k] = 1;
    n++;
  }
  fclose(f);
  return n;
}

static void test_two_writers_rotate(void **state) {
  struct writer a = {'a', 0}, b = {'b', 0};
  pthread_t ta, tb;
  static int seen[2][LINES];
  char p[160];
  int i, total = 0, n, k;

  (void)state;
  assert_int_equal(pthread_create(&ta, NULL, write_lines, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, write_lines, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_int_equal(a.failed + b.failed, 0);
  memset(seen, 0, sizeof(seen));
  for (i = 0; i <= 3; i++) {
    if (i == 0)
      snprintf(p, sizeof(p), "%s", path);
    else
      snprintf(p, sizeof(p), "%s.%d", path, i);
    n = check_file(p, seen);
    assert_true(n > 0);
    total += n;
  }
  snprintf(p, sizeof(p), "%s.4", path);
  assert_int_not_equal(access(p, F_OK), 0);
  /* Lines were dropped with the oldest file, and the newest of each writer are kept. */
  assert_true(total < 2 * LINES);
  assert_int_equal(seen[0][LINES - 1], 1);
  assert_int_equal(seen[1][LINES - 1], 1);
  /* What is kept is the newest: no gap after a writer's oldest kept line. */
  for (k = 0; k < 2; k++) {
    int first = 0;
    while (first < LINES && !seen[k][first])
      first++;
    for (i = first; i < LINES; i++)
      assert_int_equal(seen[k][i], 1);
  }
}

static void test_long_line_and_no_limit(void **state) {
  char big[MAX * 2];
  struct stat st;

  (void)state;
  assert_int_equal(pw_audit_append(path, "{}\n", 3, MAX), 0);
  memset(big, 'x', sizeof(big));
  big[sizeof(big) - 1] = '\n';
  /* Longer than the limit: the file is rotated and the line written alone. */
  assert_int_equal(pw_audit_append(path, big, sizeof(big), MAX), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, (off_t)sizeof(big));
  /* 0: never rotated. */
  assert_int_equal(pw_audit_append(path, "{}\n", 3, 0), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, (off_t)sizeof(big) + 3);
}

static void test_planted_link(void **state) {
  char target[160];
  struct stat st;

  (void)state;
  snprintf(target, sizeof(target), "%s/target", dir);
  assert_int_equal(symlink(target, path), 0);
  assert_int_equal(pw_audit_append(path, "{}\n", 3, MAX), -ELOOP);
  assert_int_not_equal(stat(target, &st), 0); /* nothing written through */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_two_writers_rotate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_line_and_no_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_planted_link, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
