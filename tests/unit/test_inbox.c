/*
 * Unit tests of the inbox on a real libuv loop (its directory work on the thread pool) over a
 * real journal: samples admitted and replied to once the sync says they are durable, all rows or
 * none (an unknown indicator refuses the request), a malformed request, hostile requests (a
 * source forging a journal line, numbers out of range, wrong types) refused with the field named,
 * `rebuild` touching every indicator as revised, a request found while stopping refused, and
 * requests taken in one look. Every test ends with uv_loop_close() == 0.
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

/* The journal file as the daemon left it: the number of samples of a and b. */
static void journal_counts(size_t *a, size_t *b) {
  struct pw_journal *j;
  char err[1024];

  if (pw_journal_open(conf, 0, &j, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  *a = j->series[0].n;
  *b = j->series[1].n;
  pw_journal_close(j);
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
  /* Any JSON will do: white space, fields in any order, fields of no meaning here. */
  put_request("1-ok", " {\"rows\" : [ {\"value\":4782, \"indicator\":\"a\",\"as_of\":1711900800},\n"
                      "{\"indicator\":\"b\",\"as_of\":1711900800,\"value\":4.5,\"memo\":[1,{}]} ],"
                      "\"fetched_at\":1714438800, \"source\":\"im\\u0070ort\", \"v\":2,"
                      "\"op\":\"samples\"}\n");
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

/* Requests are outside input: each of these is refused whole, with a reply naming the field at
 * fault, and nothing is journaled (a source with a tab or a newline would forge a journal line;
 * an as_of of -9223372036854775807 overflowed the judgement; INT64_MAX failed every RRD batch). */
static void test_hostile_requests(void **state) {
  static const struct {
    const char *name, *text, *error;
  } cases[] = {
      {"tab",
       "{\"op\":\"samples\",\"source\":\"x\\t2024-04-01T00:00:00+08:00\\ta\\t666\","
       "\"fetched_at\":1714438800,\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,"
       "\"value\":1}]}",
       "source must be"},
      {"newline",
       "{\"op\":\"samples\",\"source\":\"x\\nforged\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":1}]}",
       "source must be"},
      {"c1",
       "{\"op\":\"samples\",\"source\":\"x\\u0085y\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":1}]}",
       "source must be"},
      {"long",
       "{\"op\":\"samples\",\"source\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaa\",\"fetched_at\":1714438800,\"rows\":[]}",
       "source must be"},
      {"nosource", "{\"op\":\"samples\",\"fetched_at\":1714438800,\"rows\":[]}", "source must be"},
      {"minas",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,\"rows\":["
       "{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":1},"
       "{\"indicator\":\"b\",\"as_of\":-9223372036854775807,\"value\":1}]}",
       "row 2: indicator 'b': as_of -9223372036854775807 is outside the years 1971 to 2100"},
      {"maxas",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,\"rows\":["
       "{\"indicator\":\"a\",\"as_of\":9223372036854775807,\"value\":1}]}",
       "row 1: indicator 'a': as_of 9223372036854775807 is outside"},
      {"early",
       "{\"op\":\"samples\",\"source\":\"record\",\"fetched_at\":1714438800,\"rows\":["
       "{\"indicator\":\"a\",\"as_of\":1,\"value\":1}]}",
       "row 1: indicator 'a': as_of 1970-01-01T08:00:01+08:00 is outside"},
      {"ahead",
       "{\"op\":\"samples\",\"source\":\"record\",\"fetched_at\":1714438800,\"rows\":["
       "{\"indicator\":\"a\",\"as_of\":1714600000,\"value\":1}]}",
       "more than a day ahead"},
      {"maxfetch",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":9223372036854775807,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":9223372036854775807,\"value\":1}]}",
       "fetched_at 9223372036854775807 is outside"},
      {"realfetch", "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1.7e9,\"rows\":[]}",
       "fetched_at must be an integer"},
      {"subnormal",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":5e-324}]}",
       "row 1: indicator 'a': value 4.94065645841247e-324 is too close to zero"},
      {"textvalue",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":\"5\"}]}",
       "row 1: value must be a number"},
      {"realasof",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800.5,\"value\":5}]}",
       "row 1: as_of must be an integer"},
      {"badid",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\\nb\",\"as_of\":1711900800,\"value\":5}]}",
       "row 1: indicator must be an indicator id"},
      {"notobj",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[[\"a\",1711900800,5]]}",
       "row 1: not an object"},
      {"norows", "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800}",
       "rows must be an array"},
      {"op", "{\"op\":\"drop\"}", "unknown request"},
      {"notop", "[1,2]", "malformed request"},
      {"twice",
       "{\"op\":\"samples\",\"source\":\"import\",\"source\":\"x\",\"fetched_at\":1714438800,"
       "\"rows\":[]}",
       "source given twice"},
      {"after", "{\"op\":\"rebuild\"} {\"op\":\"rebuild\"}", "text after the object"},
      {"comma",
       "{\"op\":\"samples\",\"source\":\"import\",\"fetched_at\":1714438800,"
       "\"rows\":[{\"indicator\":\"a\",\"as_of\":1711900800,\"value\":5},]}",
       "malformed request"},
  };
  struct env e;
  size_t i, na, nb;

  (void)state;
  env_open(&e);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    put_request(cases[i].name, cases[i].text);
  pw_inbox_poll(e.inbox);
  env_close(&e);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *r = reply_of(cases[i].name);
    const char *err = json_string_value(json_object_get(r, "error"));
    if (!json_is_false(json_object_get(r, "ok")) || err == NULL ||
        strstr(err, cases[i].error) == NULL)
      fail_msg("%s: %s", cases[i].name, err != NULL ? err : "accepted");
    json_decref(r);
  }
  assert_int_equal(e.touched[0] + e.touched[1], 0);
  assert_int_equal(e.syncs, 0);
  journal_counts(&na, &nb);
  assert_int_equal(na + nb, 0);
}

/* A request of N rows: N / 2 hourly samples of each of a and b, from T. */
static char *big_request(size_t n) {
  struct pw_buf b = {NULL, 0, 0, 0};
  size_t i;

  assert_int_equal(pw_buf_printf(&b, "{\"op\":\"samples\",\"source\":\"import\","
                                     "\"fetched_at\":1714438800,\"rows\":["),
                   0);
  for (i = 0; i < n; i++)
    assert_int_equal(pw_buf_printf(&b, "%s{\"indicator\":\"%s\",\"as_of\":%lld,\"value\":%zu}",
                                   i > 0 ? "," : "", i < n / 2 ? "a" : "b",
                                   (long long)(1620000000 + (int64_t)(i % (n / 2)) * 3600), i),
                     0);
  assert_int_equal(pw_buf_printf(&b, "]}"), 0);
  return b.data;
}

/* What a turn of the loop sees while an import is admitted. */
struct watch {
  uv_check_t check;
  struct env *e;
  int total, partial_turns, max_turn_rows, last;
  void (*at_partial)(struct watch *w); /* called at the first turn that sees part of it */
};

static void on_check(uv_check_t *h) {
  struct watch *w = h->data;
  int admitted = w->e->touched[0] + w->e->touched[1];

  if (admitted - w->last > w->max_turn_rows)
    w->max_turn_rows = admitted - w->last;
  w->last = admitted;
  if (admitted > 0 && admitted < w->total) {
    if (w->partial_turns++ == 0 && w->at_partial != NULL)
      w->at_partial(w);
  }
}

static void watch_start(struct watch *w, struct env *e, int total) {
  memset(w, 0, sizeof(*w));
  w->e = e;
  w->total = total;
  assert_int_equal(uv_check_init(&e->loop, &w->check), 0);
  w->check.data = w;
  assert_int_equal(uv_check_start(&w->check, on_check), 0);
  uv_unref((uv_handle_t *)&w->check); /* it watches; it does not keep the loop running */
}

/* A large import is admitted in slices across turns of the loop, so the loop goes on serving
 * meanwhile: no turn takes more than a slice of rows, every row is in at the end, replied once
 * and synced once. (Before, all its rows were admitted, and judged one by one, in one callback.) */
static void test_import_in_slices(void **state) {
  const size_t n = 40000;
  char *text = big_request(n);
  struct watch w;
  struct env e;
  size_t na, nb;
  json_t *r;

  (void)state;
  env_open(&e);
  put_request("big", text);
  free(text);
  watch_start(&w, &e, (int)n);
  pw_inbox_poll(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&w.check, NULL);
  env_close(&e);
  assert_true(w.partial_turns >= 9);
  assert_true(w.max_turn_rows <= 4096);
  assert_int_equal(e.touched[0] + e.touched[1], (int)n);
  assert_int_equal(e.syncs, 1);
  journal_counts(&na, &nb);
  assert_int_equal(na, n / 2);
  assert_int_equal(nb, n / 2);
  r = reply_of("big");
  assert_true(json_is_true(json_object_get(r, "ok")));
  assert_int_equal(json_integer_value(json_object_get(r, "new")), (json_int_t)n);
  json_decref(r);
}

static void stop_inbox(struct watch *w) {
  pw_inbox_stop(w->e->inbox);
}

/* Stopping in the middle of an import admits the rest at once (all rows or none), and refuses
 * a request queued behind it. */
static void test_stop_during_import(void **state) {
  const size_t n = 20000;
  char *text = big_request(n);
  struct watch w;
  struct env e;
  json_t *r;

  (void)state;
  env_open(&e);
  put_request("1-big", text);
  put_request("2-after", "{\"op\":\"rebuild\"}");
  free(text);
  watch_start(&w, &e, (int)n);
  w.at_partial = stop_inbox;
  pw_inbox_poll(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&w.check, NULL);
  env_close(&e);
  assert_int_equal(w.partial_turns, 1);
  assert_int_equal(e.touched[0] + e.touched[1], (int)n);
  assert_int_equal(e.syncs, 1);
  r = reply_of("1-big");
  assert_int_equal(json_integer_value(json_object_get(r, "new")), (json_int_t)n);
  json_decref(r);
  r = reply_of("2-after");
  assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "stopping"));
  json_decref(r);
}

/* A reload in the middle of an import (another generation, its indicators in another order, a
 * journal opened for it): the rows still to admit follow their indicators by id. */
static struct pw_config *conf_swapped;

static void reload_now(struct watch *w) {
  struct env *e = w->e;
  char err[1024];

  assert_int_equal(pw_journal_commit(e->journal), 0);
  pw_journal_close(e->journal);
  if (pw_journal_open(conf_swapped, 1, &e->journal, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  e->admit.conf = conf_swapped;
  e->admit.journal = e->journal;
}

static void test_reload_during_import(void **state) {
  const size_t n = 20000;
  char *text = big_request(n), path[600], err[1024];
  struct pw_journal *j;
  struct watch w;
  struct env e;
  FILE *f;

  (void)state;
  snprintf(path, sizeof(path), "%s/swapped.conf", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("daemon: { state_dir = \"state\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n"
        " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"level\"; targets = ( ); },\n"
        " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\"; targets = ( ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path, &conf_swapped, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  env_open(&e);
  put_request("big", text);
  free(text);
  watch_start(&w, &e, (int)n);
  w.at_partial = reload_now;
  pw_inbox_poll(e.inbox);
  uv_run(&e.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&w.check, NULL);
  env_close(&e);
  json_decref(reply_of("big"));
  /* Every row, under its own indicator, in the journal file. */
  assert_int_equal(pw_journal_open(conf, 0, &j, err, sizeof(err)), 0);
  assert_int_equal(j->series[0].n, n / 2);
  assert_int_equal(j->series[1].n, n / 2);
  assert_true(j->series[0].samples[n / 2 - 1].value == (double)(n / 2 - 1));
  assert_true(j->series[1].samples[n / 2 - 1].value == (double)(n - 1));
  pw_journal_close(j);
  pw_config_free(conf_swapped);
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
      cmocka_unit_test(test_samples_and_refusals), cmocka_unit_test(test_duplicates_then_rebuild),
      cmocka_unit_test(test_hostile_requests),     cmocka_unit_test(test_stopping),
      cmocka_unit_test(test_import_in_slices),     cmocka_unit_test(test_stop_during_import),
      cmocka_unit_test(test_reload_during_import),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
