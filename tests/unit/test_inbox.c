/*
 * Unit tests of the inbox on a real libuv loop (its directory work on the thread pool) over a
 * real journal: samples admitted and replied to once the sync says they are durable, all rows or
 * none (an unknown indicator refuses the request), a malformed request, `rebuild` touching every
 * indicator as revised, a request found while stopping refused, and requests taken in one look.
 * Every test ends with uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admit.h"
#include "config.h"
#include "inbox.h"
#include "journal.h"
#include "util.h"

static char dir[] = "/tmp/pw-test-inbox-XXXXXX";
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
  fputs("daemon: { state_dir = \"state\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n"
        " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\"; targets = ( ); },\n"
        " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"level\"; targets = ( ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  snprintf(path, sizeof(path), "%s/inbox", conf->daemon.state_dir);
  return pw_mkdir_p(path) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  pw_config_free(conf);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd);
}

/* The daemon's side, as main wires it: a journal, admission over it, a sync that commits. */
struct env {
  uv_loop_t loop;
  struct pw_journal *journal;
  struct pw_admit admit;
  struct pw_inbox *inbox;
  int touched[2], revised[2];
  int syncs;
};

static void on_touched(void *data, int ind, int revised) {
  struct env *e = data;

  e->touched[ind]++;
  e->revised[ind] += revised;
}

static void sync_now(void *data, pw_inbox_synced_cb done, void *arg) {
  struct env *e = data;

  e->syncs++;
  done(arg, pw_journal_commit(e->journal));
}

static void env_open(struct env *e) {
  struct pw_inbox_context ic;
  char err[1024], jpath[600];

  memset(e, 0, sizeof(*e));
  snprintf(jpath, sizeof(jpath), "%s/journal/journal.tsv", conf->daemon.state_dir);
  unlink(jpath);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  if (pw_journal_open(conf, 1, &e->journal, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  e->admit.conf = conf;
  e->admit.journal = e->journal;
  e->admit.touched = on_touched;
  e->admit.data = e;
  e->admit.quiet = 1;
  memset(&ic, 0, sizeof(ic));
  ic.loop = &e->loop;
  ic.state_dir = conf->daemon.state_dir;
  ic.admit = &e->admit;
  ic.sync = sync_now;
  ic.data = e;
  assert_int_equal(pw_inbox_init(&ic, &e->inbox), 0);
}

static void env_close(struct env *e) {
  uv_run(&e->loop, UV_RUN_DEFAULT);
  pw_inbox_free(e->inbox);
  pw_journal_close(e->journal);
  assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void put_request(const char *name, const char *text) {
  char path[600];

  snprintf(path, sizeof(path), "%s/inbox/%s.req", conf->daemon.state_dir, name);
  assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), 0);
}

/* The reply to request NAME (owned), which must exist; the request must be gone. */
static json_t *reply_of(const char *name) {
  char path[600];
  json_error_t jerr;
  json_t *doc;

  snprintf(path, sizeof(path), "%s/inbox/%s.req", conf->daemon.state_dir, name);
  assert_int_not_equal(access(path, F_OK), 0);
  snprintf(path, sizeof(path), "%s/inbox/%s.reply", conf->daemon.state_dir, name);
  doc = json_load_file(path, 0, &jerr);
  if (doc == NULL)
    fail_msg("no reply %s: %s", path, jerr.text);
  unlink(path);
  return doc;
}

static void test_samples_and_refusals(void **state) {
  struct env e;
  json_t *r;
  const char *err;

  (void)state;
  env_open(&e);
  put_request("1-ok",
              "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,\"rows\":["
              "{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":4782},"
              "{\"indicator\":\"b\",\"as_of\":1711900800,\"value\":4.5}]}");
  put_request("2-unknown", "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
                           "\"rows\":[{\"indicator\":\"b\",\"as_of\":1711987200,\"value\":5},"
                           "{\"indicator\":\"zz\",\"as_of\":1711900800,\"value\":1}]}");
  put_request("3-bad", "{\"op\":");
  pw_inbox_poll(e.inbox);
  pw_inbox_poll(e.inbox); /* a look is running: nothing more */
  env_close(&e);

  r = reply_of("1-ok");
  assert_true(json_is_true(json_object_get(r, "ok")));
  assert_int_equal(json_integer_value(json_object_get(r, "new")), 2);
  assert_int_equal(json_integer_value(json_object_get(r, "duplicates")), 0);
  json_decref(r);
  r = reply_of("2-unknown");
  assert_true(json_is_false(json_object_get(r, "ok")));
  err = json_string_value(json_object_get(r, "error"));
  assert_non_null(strstr(err, "'zz'"));
  json_decref(r);
  r = reply_of("3-bad");
  assert_true(json_is_false(json_object_get(r, "ok")));
  json_decref(r);
  /* All rows or none: b got the sample of the good request only. */
  assert_int_equal(e.touched[0], 1);
  assert_int_equal(e.touched[1], 1);
  assert_int_equal(e.syncs, 1);
}

static void test_duplicates_then_rebuild(void **state) {
  struct env e;
  json_t *r;

  (void)state;
  env_open(&e);
  put_request("1", "{\"op\":\"samples\",\"source\":\"record\",\"fetched_at\":1714438800,\"rows\":["
                   "{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":1}]}");
  pw_inbox_poll(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  put_request("2", "{\"op\":\"samples\",\"source\":\"record\",\"fetched_at\":1714438800,\"rows\":["
                   "{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":1},"
                   "{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":2}]}");
  pw_inbox_poll(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  put_request("3", "{\"op\":\"rebuild\"}");
  pw_inbox_poll(e.inbox);
  env_close(&e);

  r = reply_of("2");
  assert_int_equal(json_integer_value(json_object_get(r, "new")), 0);
  assert_int_equal(json_integer_value(json_object_get(r, "duplicates")), 1);
  assert_int_equal(json_integer_value(json_object_get(r, "revisions")), 1);
  json_decref(r);
  r = reply_of("3");
  assert_true(json_is_true(json_object_get(r, "ok")));
  json_decref(r);
  json_decref(reply_of("1"));
  /* a: new, revision, rebuild; b: rebuild. */
  assert_int_equal(e.touched[0], 3);
  assert_int_equal(e.revised[0], 2);
  assert_int_equal(e.touched[1], 1);
  assert_int_equal(e.revised[1], 1);
  assert_int_equal(e.syncs, 3);
}

/* A look that ends after pw_inbox_stop refuses what it found; no look starts after it. */
static void test_stopping(void **state) {
  struct env e;
  json_t *r;

  (void)state;
  env_open(&e);
  put_request("late", "{\"op\":\"rebuild\"}");
  pw_inbox_poll(e.inbox);
  pw_inbox_stop(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  r = reply_of("late");
  assert_true(json_is_false(json_object_get(r, "ok")));
  assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "stopping"));
  json_decref(r);
  put_request("after", "{\"op\":\"rebuild\"}");
  pw_inbox_poll(e.inbox);
  env_close(&e);
  assert_int_equal(e.syncs, 0);
  {
    char path[600];
    snprintf(path, sizeof(path), "%s/inbox/after.req", conf->daemon.state_dir);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samples_and_refusals),
      cmocka_unit_test(test_duplicates_then_rebuild),
      cmocka_unit_test(test_stopping),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
