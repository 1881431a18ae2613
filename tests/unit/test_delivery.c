/*
 * Unit tests of delivery against a real webhook receiver on loopback (webhook_sink.py), on a
 * private loop with a real fetcher and writer: a notification is in the spool before it is
 * attempted and its file is removed once delivered (audit: spooled, delivered); a 5xx keeps it
 * with a back-off of 10 s and the retry carries the same delivery id; after alerting.give_up a
 * failure moves it to spool/dead/ (audit: dead; the owner hears of it); entries left by an
 * earlier run are loaded and sent, and one for a receiver no configuration knows goes to
 * spool/dead/; a reload that removes a receiver while a delivery to it is in flight, and while
 * another waits for its retry, delivers both with the settings they were spooled under; the
 * weekly briefing is spooled from its markdown file and sent; alerting that cannot start
 * reports the real errno and the spool's reason; a 2xx answer whose body is over the reply
 * limit counts as delivered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting.h"
#include "clock.h"
#include "delivery.h"
#include "sink_process.h"
#include "spool.h"
#include "unit_conf.h"
#include "util.h"
#include "writer.h"

static const char *conf_fmt =
    "daemon: { state_dir = \"%s\"; };\n"
    "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
    "receivers = (\n%s);\n"
    "alerting: { give_up = \"1m\"; };\n"
    "briefing: { schedule = \"Mon 08:00\"; title = \"测试县周报\"; receivers = [ %s ]; };\n"
    "indicators = ( { id = \"a\"; name = \"甲\"; domain = \"health\"; kind = \"cumulative\"; "
    "targets = ( { year = 2024; annual = 100; } ); } );\n";

struct fx {
  char dir[64];
  char state_dir[128];
  struct pw_sink_process sink;
  struct pw_config *conf;
  uv_loop_t loop;
  struct pw_writer *writer;
  struct pw_fetch *fetch;
  struct pw_delivery *dl;
  int spooled_rc, spooled_calls, spooled_file_seen;
  char spooled_path[512];
  char dead_receiver[65], dead_delivery[64];
  int deads;
};

static void on_dead(void *data, const char *receiver, const char *delivery, const char *error) {
  struct fx *f = data;

  (void)error;
  snprintf(f->dead_receiver, sizeof(f->dead_receiver), "%s", receiver);
  snprintf(f->dead_delivery, sizeof(f->dead_delivery), "%s", delivery);
  f->deads++;
}

/* The receivers of the tests: hook answers, flaky refuses its first request, down every one.
 * Without ALL, lg alone is left. TMPL is a mkdtemp template for the configuration's folder. */
static void write_conf(struct fx *f, const char *tmpl, int all, struct pw_config **out) {
  char recv[2048], text[4096], dir[128];
  int p = f->sink.port;

  if (all)
    snprintf(recv, sizeof(recv),
             "  { id = \"lg\"; type = \"log\"; },\n"
             "  { id = \"hook\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/hook\"; },\n"
             "  { id = \"flaky\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/flaky?fail=1\"; "
             "},\n"
             "  { id = \"down\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/down?fail=1000\"; "
             "},\n"
             "  { id = \"moved\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/redirect\"; },\n"
             "  { id = \"moved_ok\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/redirect2\"; "
             "follow_redirects = true; },\n"
             "  { id = \"big\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/big?big=1100000\"; "
             "},\n"
             "  { id = \"bigchunk\"; type = \"webhook\"; "
             "url = \"http://127.0.0.1:%d/bigchunk?big=1100000&chunked=1\"; }\n",
             p, p, p, p, p, p, p);
  else
    snprintf(recv, sizeof(recv), "  { id = \"lg\"; type = \"log\"; }\n");
  snprintf(text, sizeof(text), conf_fmt, f->state_dir, recv, all ? "\"hook\", \"lg\"" : "\"lg\"");
  snprintf(dir, sizeof(dir), "%s", tmpl);
  assert_int_equal(pw_unit_conf_open(dir, text, out), 0);
}

static void start_delivery(struct fx *f) {
  struct pw_delivery_ctx ctx;
  char err[512];

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = &f->loop;
  ctx.fetch = f->fetch;
  ctx.writer = f->writer;
  ctx.dead = on_dead;
  ctx.data = f;
  assert_int_equal(pw_delivery_init(&ctx, f->conf, &f->dl, err, sizeof(err)), 0);
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));
  char sink_dir[96], conf_dir[128];

  assert_non_null(f);
  snprintf(f->dir, sizeof(f->dir), "/tmp/pw-test-delivery-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
  snprintf(sink_dir, sizeof(sink_dir), "%s", f->dir);
  assert_int_equal(pw_sink_start(&f->sink, sink_dir), 0);
  snprintf(conf_dir, sizeof(conf_dir), "%s/conf-XXXXXX", f->dir);
  write_conf(f, conf_dir, 1, &f->conf);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(pw_writer_init(&f->loop, &f->writer), 0);
  assert_int_equal(pw_fetch_init(&f->loop, 8, "pacewatch-test", &f->fetch), 0);
  start_delivery(f);
  *state = f;
  return 0;
}

static void closed_cb(void *data) {
  (*(int *)data)++;
}

static int teardown(void **state) {
  struct fx *f = *state;
  char cmd[128];
  int closed = 0;

  pw_delivery_stop(f->dl);
  pw_fetch_close(f->fetch, closed_cb, &closed);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(closed, 1);
  pw_delivery_free(f->dl);
  pw_writer_free(f->writer);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  pw_config_free(f->conf);
  pw_sink_stop(&f->sink);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  free(f);
  return system(cmd) == 0 ? 0 : -1;
}

static void drain(struct fx *f) {
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static json_t *notification(const char *receiver, const char *id) {
  return json_pack("{s:i,s:s,s:s,s:n,s:[{s:s,s:s,s:s,s:s}]}", "version", 1, "receiver", receiver,
                   "delivery", id, "sent_at", "alerts", "alert", "a/lag", "condition", "lag",
                   "state", "firing", "severity", "lagging");
}

static void spooled(void *arg, int rc) {
  struct fx *f = arg;

  f->spooled_rc = rc;
  f->spooled_calls++;
  /* Durable before it is attempted: the file is there when the owner hears of it. */
  f->spooled_file_seen = access(f->spooled_path, F_OK) == 0;
}

static void spool(struct fx *f, const char *receiver, const char *id) {
  snprintf(f->spooled_path, sizeof(f->spooled_path), "%s/spool/%s.json", f->state_dir, id);
  assert_int_equal(pw_delivery_spool(f->dl, receiver, notification(receiver, id), spooled, f), 0);
}

static int in_dir(const char *dir, const char *name) {
  char path[512];

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* Lines of audit.log with EVENT for delivery ID. */
static int audit(struct fx *f, const char *event, const char *id) {
  char path[256], line[4096], e[64], d[128];
  FILE *fp;
  int n = 0;

  snprintf(path, sizeof(path), "%s/audit.log", f->state_dir);
  snprintf(e, sizeof(e), "\"event\":\"%s\"", event);
  snprintf(d, sizeof(d), "\"delivery\":\"%s\"", id);
  fp = fopen(path, "r");
  while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
    n += strstr(line, e) != NULL && strstr(line, d) != NULL;
  if (fp != NULL)
    fclose(fp);
  return n;
}

/* The requests PATH received: count, and how many were answered 2xx. */
static int requests(struct fx *f, const char *path, int *ok, json_t **last) {
  json_t *all = pw_sink_requests(&f->sink, path), *r;
  size_t i, n = json_array_size(all);

  if (ok != NULL)
    *ok = 0;
  json_array_foreach(all, i, r) {
    if (ok != NULL)
      *ok += json_is_true(json_object_get(r, "ok"));
  }
  if (last != NULL)
    *last = n > 0 ? json_incref(json_array_get(all, n - 1)) : NULL;
  json_decref(all);
  return (int)n;
}

static const char *delivery_header(const json_t *req) {
  return json_string_value(
      json_object_get(json_object_get(req, "headers"), "x-pacewatch-delivery"));
}

static void test_delivered_and_removed(void **state) {
  struct fx *f = *state;
  char spool_dir[256];
  json_t *req, *body;
  uint64_t sent, failed;
  long queued;
  int ok;

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->state_dir);
  spool(f, "hook", "d-1");
  pw_delivery_counts(f->dl, &queued, NULL, NULL);
  assert_int_equal(queued, 1);
  drain(f);
  assert_int_equal(f->spooled_calls, 1);
  assert_int_equal(f->spooled_rc, 0);
  assert_true(f->spooled_file_seen);
  assert_int_equal(requests(f, "/hook", &ok, &req), 1);
  assert_int_equal(ok, 1);
  assert_string_equal(delivery_header(req), "d-1");
  body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
  assert_string_equal(json_string_value(json_object_get(body, "delivery")), "d-1");
  assert_true(json_is_string(json_object_get(body, "sent_at")));
  json_decref(body);
  json_decref(req);
  assert_false(in_dir(spool_dir, "d-1.json"));
  assert_int_equal(audit(f, "spooled", "d-1"), 1);
  assert_int_equal(audit(f, "delivered", "d-1"), 1);
  pw_delivery_counts(f->dl, &queued, NULL, NULL);
  assert_int_equal(queued, 0);
  assert_int_equal(pw_delivery_in_flight(f->dl), 0);
  /* The metrics' per-receiver counters (docs/http.md). */
  pw_delivery_receiver_counts(f->dl, "hook", &sent, &failed);
  assert_int_equal(sent, 1);
  assert_int_equal(failed, 0);
  pw_delivery_receiver_counts(f->dl, "flaky", &sent, &failed);
  assert_int_equal(sent, 0);
  assert_int_equal(failed, 0);
}

static void test_5xx_backs_off(void **state) {
  struct fx *f = *state;
  char spool_dir[256];
  struct pw_spool_entry *es = NULL;
  struct pw_spool *sp;
  json_t *req;
  size_t n;
  int64_t t = pw_clock_now();
  uint64_t sent, failed;
  int ok;

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->state_dir);
  spool(f, "flaky", "d-2");
  drain(f);
  assert_int_equal(requests(f, "/flaky", &ok, NULL), 1);
  assert_int_equal(ok, 0);
  assert_int_equal(audit(f, "retry", "d-2"), 1);
  /* Kept, with one attempt and the next one 10 s later. */
  assert_int_equal(pw_spool_init(f->state_dir, &sp, NULL, 0), 0);
  assert_int_equal(pw_spool_load(sp, &es, &n, NULL, 0), 0);
  assert_int_equal(n, 1);
  assert_string_equal(es[0].id, "d-2");
  assert_int_equal(es[0].attempts, 1);
  assert_true(es[0].next_attempt >= t + 10 && es[0].next_attempt <= t + 12);
  assert_non_null(strstr(es[0].last_error, "500"));
  pw_spool_entries_free(es, n);
  pw_spool_free(sp);
  pw_delivery_run(f->dl); /* too early */
  drain(f);
  assert_int_equal(requests(f, "/flaky", NULL, NULL), 1);
  pw_clock_simulate(pw_clock_now() + 11);
  pw_delivery_run(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/flaky", &ok, &req), 2);
  assert_int_equal(ok, 1);
  assert_string_equal(delivery_header(req), "d-2"); /* the same id */
  json_decref(req);
  assert_false(in_dir(spool_dir, "d-2.json"));
  assert_int_equal(audit(f, "delivered", "d-2"), 1);
  /* One failed attempt, then the notification taken. */
  pw_delivery_receiver_counts(f->dl, "flaky", &sent, &failed);
  assert_int_equal(sent, 1);
  assert_int_equal(failed, 1);
}

/* --once (flush_all): a notification whose first attempt fails is attempted again about a second
 * later, not after its 10 s back-off nor never; while it waits it counts as in flight. */
static void test_once_retries_promptly(void **state) {
  struct fx *f = *state;
  char spool_dir[256];
  int64_t t0;
  int ok, i;

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->state_dir);
  spool(f, "flaky", "d-once");
  drain(f); /* spooled and attempted: 500 */
  assert_int_equal(requests(f, "/flaky", &ok, NULL), 1);
  assert_int_equal(ok, 0);
  t0 = pw_clock_real_ms();
  pw_delivery_flush_all(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/flaky", &ok, NULL), 2); /* the back-off does not hold it */
  assert_int_equal(ok, 1);
  assert_int_equal(pw_delivery_in_flight(f->dl), 0);
  assert_false(in_dir(spool_dir, "d-once.json"));

  /* Failing under --once from its first attempt: retried within a few seconds. */
  spool(f, "down", "d-down");
  drain(f);
  assert_int_equal(requests(f, "/down", NULL, NULL), 1);
  assert_int_equal(pw_delivery_in_flight(f->dl), 1); /* its quick retry is pending */
  for (i = 0; i < 60 && requests(f, "/down", NULL, NULL) < 3; i++) {
    usleep(100 * 1000);
    pw_delivery_run(f->dl);
    drain(f);
  }
  assert_int_equal(requests(f, "/down", NULL, NULL), 3); /* after 1 s, then 2 s */
  assert_true(pw_clock_real_ms() - t0 < 6000);
  assert_true(in_dir(spool_dir, "d-down.json"));
}

/* A receiver answering a redirect: not followed by default (nothing reaches the host it names,
 * the notification stays in the spool with an error naming the Location without its query);
 * followed with follow_redirects = true. */
static void test_redirect_not_followed(void **state) {
  struct fx *f = *state;
  struct pw_spool_entry *es = NULL;
  struct pw_spool *sp;
  char want[128];
  size_t n;

  spool(f, "moved", "d-moved");
  drain(f);
  assert_int_equal(requests(f, "/redirect", NULL, NULL), 1);
  assert_int_equal(requests(f, "/hook", NULL, NULL), 0);
  assert_int_equal(audit(f, "retry", "d-moved"), 1);
  assert_int_equal(pw_spool_init(f->state_dir, &sp, NULL, 0), 0);
  assert_int_equal(pw_spool_load(sp, &es, &n, NULL, 0), 0);
  assert_int_equal(n, 1);
  snprintf(want, sizeof(want), "HTTP 307: redirect to http://127.0.0.1:%d/hook not followed",
           f->sink.port);
  assert_non_null(strstr(es[0].last_error, want));
  assert_non_null(strstr(es[0].last_error, "follow_redirects"));
  assert_null(strstr(es[0].last_error, "SECRET"));
  pw_spool_entries_free(es, n);
  pw_spool_free(sp);

  spool(f, "moved_ok", "d-moved-ok");
  drain(f);
  assert_int_equal(requests(f, "/redirect2", NULL, NULL), 1);
  assert_int_equal(requests(f, "/hook", NULL, NULL), 1);
  assert_int_equal(audit(f, "delivered", "d-moved-ok"), 1);
}

/* A receiver answering 2xx with a body over the 1 MB a reply may hold: delivered (the status is
 * the answer; the body is not needed), whether the size is announced or the body chunked. */
static void test_2xx_big_body_delivered(void **state) {
  struct fx *f = *state;
  char spool_dir[256];

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->state_dir);
  spool(f, "big", "d-big");
  drain(f);
  spool(f, "bigchunk", "d-bigchunk");
  drain(f);
  assert_int_equal(requests(f, "/big", NULL, NULL), 1);
  assert_int_equal(requests(f, "/bigchunk", NULL, NULL), 1);
  assert_int_equal(audit(f, "delivered", "d-big"), 1);
  assert_int_equal(audit(f, "delivered", "d-bigchunk"), 1);
  assert_int_equal(audit(f, "retry", "d-big"), 0);
  assert_int_equal(audit(f, "retry", "d-bigchunk"), 0);
  assert_false(in_dir(spool_dir, "d-big.json"));
  assert_false(in_dir(spool_dir, "d-bigchunk.json"));
}

static void test_dead_letter(void **state) {
  struct fx *f = *state;
  char spool_dir[256], dead_dir[256];
  long queued, dead, dead_now;
  uint64_t sent, failed;

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->state_dir);
  snprintf(dead_dir, sizeof(dead_dir), "%s/spool/dead", f->state_dir);
  spool(f, "down", "d-3");
  drain(f);
  assert_int_equal(audit(f, "retry", "d-3"), 1);
  assert_int_equal(f->deads, 0);
  /* give_up is a minute: the next failure is the last. */
  pw_clock_simulate(pw_clock_now() + 61);
  pw_delivery_run(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/down", NULL, NULL), 2);
  assert_int_equal(audit(f, "dead", "d-3"), 1);
  assert_false(in_dir(spool_dir, "d-3.json"));
  assert_true(in_dir(dead_dir, "d-3.json"));
  assert_int_equal(f->deads, 1);
  assert_string_equal(f->dead_receiver, "down");
  assert_string_equal(f->dead_delivery, "d-3");
  pw_delivery_counts(f->dl, &queued, &dead, &dead_now);
  assert_int_equal(queued, 0);
  assert_int_equal(dead, 1);
  assert_int_equal(dead_now, 1);
  /* Both attempts failed, the dead-lettering one included; none was taken. */
  pw_delivery_receiver_counts(f->dl, "down", &sent, &failed);
  assert_int_equal(sent, 0);
  assert_int_equal(failed, 2);
}

/* What an earlier run left: one entry for hook (sent), one for a receiver no longer
 * configured (moved to spool/dead/, not counted as this run's dead letter). */
static void test_left_by_earlier_run(void **state) {
  struct fx *f = *state;
  struct pw_spool_entry e[2];
  struct pw_spool *sp;
  char err[256], dead_dir[256];
  long queued, dead, dead_now;
  int i, ok;

  snprintf(dead_dir, sizeof(dead_dir), "%s/spool/dead", f->state_dir);
  assert_int_equal(pw_spool_init(f->state_dir, &sp, err, sizeof(err)), 0);
  for (i = 0; i < 2; i++) {
    memset(&e[i], 0, sizeof(e[i]));
    snprintf(e[i].id, sizeof(e[i].id), "old-%d", i);
    snprintf(e[i].receiver, sizeof(e[i].receiver), "%s", i == 0 ? "hook" : "gone");
    e[i].created = e[i].next_attempt = pw_clock_now() - 5;
    e[i].payload = notification(e[i].receiver, e[i].id);
    assert_int_equal(pw_spool_put(sp, &e[i], err, sizeof(err)), 0);
    json_decref(e[i].payload);
  }
  pw_spool_free(sp);
  pw_delivery_free(f->dl);
  start_delivery(f);
  pw_delivery_counts(f->dl, &queued, NULL, NULL);
  assert_int_equal(queued, 2);
  pw_delivery_run(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/hook", &ok, NULL), 1);
  assert_int_equal(ok, 1);
  assert_int_equal(audit(f, "delivered", "old-0"), 1);
  assert_true(in_dir(dead_dir, "old-1.json"));
  pw_delivery_counts(f->dl, &queued, &dead, &dead_now);
  assert_int_equal(queued, 0);
  assert_int_equal(dead, 1);
  assert_int_equal(dead_now, 0);
}

/* A reload removes hook while its delivery is in flight and flaky while its notification waits
 * for a retry: the configuration they were spooled under lives on in them (the test lets go of
 * its own reference at once), both are delivered once, nothing goes dead. */
static void test_reload_removes_receivers(void **state) {
  struct fx *f = *state;
  struct pw_config *fewer;
  char conf_dir[128];
  long queued, dead;
  int ok;

  spool(f, "flaky", "r-1");
  drain(f); /* refused: waits 10 s */
  spool(f, "hook", "r-2");
  while (pw_delivery_in_flight(f->dl) == 0)
    uv_run(&f->loop, UV_RUN_ONCE); /* until the attempt has started its transfer */
  snprintf(conf_dir, sizeof(conf_dir), "%s/fewer-XXXXXX", f->dir);
  write_conf(f, conf_dir, 0, &fewer);
  pw_delivery_reload(f->dl, fewer);
  pw_config_free(f->conf);
  f->conf = fewer;
  drain(f);
  assert_int_equal(requests(f, "/hook", &ok, NULL), 1);
  assert_int_equal(ok, 1);
  assert_int_equal(audit(f, "delivered", "r-2"), 1);
  pw_clock_simulate(pw_clock_now() + 11);
  pw_delivery_run(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/flaky", &ok, NULL), 2);
  assert_int_equal(ok, 1);
  assert_int_equal(audit(f, "delivered", "r-1"), 1);
  pw_delivery_counts(f->dl, &queued, &dead, NULL);
  assert_int_equal(queued, 0);
  assert_int_equal(dead, 0);
  assert_int_equal(f->deads, 0);
}

/* A batch handed over again under an id the spool holds (a restart found it still pending):
 * the same content is taken as spooled; other content replaces the entry's, attempts and
 * back-off kept; the one message sent is the latest. */
static void test_spooled_again(void **state) {
  struct fx *f = *state;
  struct pw_spool_entry *es = NULL;
  struct pw_spool *sp;
  json_t *bigger, *req, *body;
  long queued;
  size_t n;
  int ok;

  spool(f, "flaky", "s-1");
  drain(f); /* refused once: waits 10 s */
  bigger = notification("flaky", "s-1");
  json_array_append_new(json_object_get(bigger, "alerts"), json_pack("{s:s}", "alert", "b/lag"));
  f->spooled_calls = 0;
  assert_int_equal(pw_delivery_spool(f->dl, "flaky", json_deep_copy(bigger), spooled, f), 0);
  drain(f);
  assert_int_equal(f->spooled_calls, 1);
  assert_int_equal(f->spooled_rc, 0);
  assert_int_equal(pw_delivery_spool(f->dl, "flaky", bigger, spooled, f), 0); /* the same */
  drain(f);
  assert_int_equal(f->spooled_calls, 2);
  assert_int_equal(f->spooled_rc, 0);
  pw_delivery_counts(f->dl, &queued, NULL, NULL);
  assert_int_equal(queued, 1);
  assert_int_equal(pw_spool_init(f->state_dir, &sp, NULL, 0), 0);
  assert_int_equal(pw_spool_load(sp, &es, &n, NULL, 0), 0);
  assert_int_equal(n, 1);
  assert_int_equal(es[0].attempts, 1);
  assert_int_equal(json_array_size(json_object_get(es[0].payload, "alerts")), 2);
  pw_spool_entries_free(es, n);
  pw_spool_free(sp);
  pw_clock_simulate(pw_clock_now() + 11);
  pw_delivery_run(f->dl);
  drain(f);
  assert_int_equal(requests(f, "/flaky", &ok, &req), 2);
  assert_int_equal(ok, 1);
  body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
  assert_int_equal(json_array_size(json_object_get(body, "alerts")), 2);
  json_decref(body);
  json_decref(req);
}

/* The briefing: its markdown read on the thread pool, one notification per receiver, the
 * webhook getting the JSON payload. */
static void test_briefing(void **state) {
  struct fx *f = *state;
  char md[256], html[256];
  json_t *req, *body;
  FILE *fp;
  int ok;

  snprintf(md, sizeof(md), "%s/w.md", f->dir);
  snprintf(html, sizeof(html), "%s/w.html", f->dir);
  fp = fopen(md, "w");
  assert_non_null(fp);
  fputs("## 总体情况\n一切正常。\n", fp);
  fclose(fp);
  pw_delivery_briefing(f->dl, "2024-W18", html, md);
  drain(f);
  assert_int_equal(requests(f, "/hook", &ok, &req), 1);
  assert_int_equal(ok, 1);
  body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
  assert_string_equal(json_string_value(json_object_get(json_object_get(body, "briefing"), "week")),
                      "2024-W18");
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(body, "briefing"), "markdown")),
             "总体情况"));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(body, "briefing"), "title")), "测试县周报");
  json_decref(body);
  json_decref(req);
}

/* Alerting that cannot start says why with the real errno: a state directory that is a file
 * cannot hold the spool. */
static void test_init_error(void **state) {
  struct fx *f = *state;
  struct pw_alerting_ctx ctx;
  struct pw_alerter *a = NULL;
  struct pw_config *conf;
  char tmpl[128], text[2048], err[512], path[256];
  FILE *fp;
  int rc;

  snprintf(path, sizeof(path), "%s/not-a-dir", f->dir);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fclose(fp);
  snprintf(text, sizeof(text),
           "daemon: { state_dir = \"%s\"; };\n"
           "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
           "indicators = ( { id = \"a\"; name = \"甲\"; domain = \"health\"; kind = "
           "\"cumulative\"; targets = ( { year = 2024; annual = 100; } ); } );\n",
           path);
  snprintf(tmpl, sizeof(tmpl), "%s/bad-XXXXXX", f->dir);
  assert_int_equal(pw_unit_conf_open(tmpl, text, &conf), 0);
  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = &f->loop;
  ctx.fetch = f->fetch;
  err[0] = '\0';
  rc = pw_alerting_init(&ctx, conf, &a, err, sizeof(err));
  assert_int_equal(rc, -ENOTDIR);
  assert_null(a);
  assert_non_null(strstr(err, "not-a-dir"));
  assert_non_null(strstr(err, "cannot create"));
  pw_config_free(conf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_delivered_and_removed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_5xx_backs_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_once_retries_promptly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_2xx_big_body_delivered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_letter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_left_by_earlier_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_removes_receivers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spooled_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_briefing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_error, setup, teardown),
  };

  alarm(100); /* a hung loop would otherwise hang the suite until ctest's timeout */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
