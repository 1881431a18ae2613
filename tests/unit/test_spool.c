/*
 * Unit tests of spool: put and load, the back-off sequence capped at an hour, give_up and
 * permanent refusals moving entries to dead/, done, leftovers of an interrupted write and
 * garbage skipped, the audit log, and entries surviving a kill -9 of the writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"

static char dir[] = "/tmp/pw-test-spool-XXXXXX";

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[256];

  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd);
}

static void entry(struct pw_spool_entry *e, const char *id, int64_t created) {
  memset(e, 0, sizeof(*e));
  snprintf(e->id, sizeof(e->id), "%s", id);
  snprintf(e->receiver, sizeof(e->receiver), "ops");
  e->created = created;
  e->next_attempt = created;
  e->payload =
      json_pack("{s:i,s:s,s:[{s:s}]}", "version", 1, "delivery", id, "alerts", "alert", "x/lag");
}

static void test_lifecycle(void **state) {
  struct pw_spool *s;
  struct pw_spool_entry e, *es;
  size_t n, q, dead;
  char err[512], path[512];
  int64_t want[] = {10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600};
  unsigned k;
  FILE *f;

  (void)state;
  assert_int_equal(pw_spool_init(dir, &s, err, sizeof(err)), 0);
  entry(&e, "a1", 1000);
  assert_int_equal(pw_spool_put(s, &e, err, sizeof(err)), 0);
  /* Leftovers of an interrupted write and garbage are skipped, not fatal. */
  snprintf(path, sizeof(path), "%s/spool/zz.json.tmp.1", dir);
  f = fopen(path, "w");
  fputs("{\"id\":", f);
  fclose(f);
  snprintf(path, sizeof(path), "%s/spool/garbage.json", dir);
  f = fopen(path, "w");
  fputs("not json", f);
  fclose(f);
  assert_int_equal(pw_spool_load(s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  assert_string_equal(es[0].id, "a1");
  assert_true(json_equal(es[0].payload, e.payload));
  pw_spool_entries_free(es, n);
  unlink(path);
  for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
    assert_int_equal(pw_spool_failed(s, &e, 2000, 48 * 3600, 0, "HTTP 500", err, sizeof(err)), 0);
    assert_int_equal(e.next_attempt, 2000 + want[k]);
  }
  assert_int_equal(pw_spool_load(s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(es[0].attempts, 11);
  assert_string_equal(es[0].last_error, "HTTP 500");
  pw_spool_entries_free(es, n);
  /* Past give_up: dead. */
  assert_int_equal(
      pw_spool_failed(s, &e, 1000 + 48 * 3600, 48 * 3600, 0, "still down", err, sizeof(err)), 1);
  pw_spool_counts(s, &q, &dead);
  assert_int_equal(q, 0);
  assert_int_equal(dead, 1);
  json_decref(e.payload);
  /* A permanent refusal: dead at once. */
  entry(&e, "b2", 5000);
  assert_int_equal(pw_spool_put(s, &e, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_failed(s, &e, 5001, 48 * 3600, 1, "sign not match", err, sizeof(err)),
                   1);
  json_decref(e.payload);
  /* Done removes. */
  entry(&e, "c3", 6000);
  assert_int_equal(pw_spool_put(s, &e, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_audit(s, "spooled", &e, 6000, NULL), 0);
  assert_int_equal(pw_spool_done(s, &e, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_audit(s, "delivered", &e, 6001, NULL), 0);
  pw_spool_counts(s, &q, &dead);
  assert_int_equal(q, 0);
  assert_int_equal(dead, 2);
  json_decref(e.payload);
  snprintf(path, sizeof(path), "%s/audit.log", dir);
  f = fopen(path, "r");
  assert_non_null(f);
  for (k = 0; k < 2; k++) {
    char line[1024];
    json_error_t jerr;
    json_t *o;
    assert_non_null(fgets(line, sizeof(line), f));
    o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "delivery")), "c3");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "alerts"), 0)),
                        "x/lag");
    json_decref(o);
  }
  fclose(f);
  pw_spool_free(s);
}

/* A writer killed at a random moment: every entry it reported as spooled is loadable. */
static void test_kill_9(void **state) {
  struct pw_spool *s;
  struct pw_spool_entry *es;
  char err[512], buf[4096];
  int fds[2], status, reported = 0;
  size_t n, got;
  pid_t pid;

  (void)state;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  if (pid == 0) {
    struct pw_spool *cs;
    int i;
    close(fds[0]);
    if (pw_spool_init(dir, &cs, err, sizeof(err)) < 0)
      _exit(1);
    for (i = 0;; i++) {
      struct pw_spool_entry e;
      char id[32];
      snprintf(id, sizeof(id), "k%06d", i);
      entry(&e, id, 10000 + i);
      if (pw_spool_put(cs, &e, err, sizeof(err)) == 0 && write(fds[1], "x", 1) != 1)
        _exit(1);
      json_decref(e.payload);
    }
  }
  close(fds[1]);
  usleep(100000 + (useconds_t)(rand() % 200000));
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  while ((got = (size_t)read(fds[0], buf, sizeof(buf))) > 0 && got <= sizeof(buf))
    reported += (int)got;
  close(fds[0]);
  assert_true(reported > 0);
  assert_int_equal(pw_spool_init(dir, &s, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_load(s, &es, &n, err, sizeof(err)), 0);
  assert_true(n >= (size_t)reported);
  pw_spool_entries_free(es, n);
  pw_spool_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lifecycle),
      cmocka_unit_test(test_kill_9),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
