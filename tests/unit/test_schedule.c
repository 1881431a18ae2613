/*
 * Unit tests of the schedule on a real libuv loop with a real fetcher: file:// sources in a
 * temporary directory and the loopback HTTP fixture (tests/support/http_fixture.py, started once
 * for the group) for slow answers and conditional requests. No mock of libcurl. Covered: the
 * back-off (30 s doubling, capped at the interval), first polls spread over min(interval, 10 s)
 * (five hourly sources all polled within 10 s of the start), never two fetches of one source
 * (the fixture counts concurrent requests), "same" answers (a 304, an identical file) and a
 * changed body, --once ("all polled" once, nothing re-armed, and with no source at all), and a
 * reload matched by id: an unchanged source keeps its timer phase, its failure streak and its
 * fetch in flight, a removed source's answer is dropped, a new source is polled at once, and
 * sources are re-indexed. Every test ends with uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "fetch.h"
#include "http_fixture.h"
#include "schedule.h"

static pid_t server_pid = -1;
static int server_port;
static char dir[] = "/tmp/pw-test-schedule-XXXXXX";

/* ---- the fixture server and files --------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  alarm(100); /* a hung loop would otherwise hang the suite until ctest's timeout */
  if (mkdtemp(dir) == NULL)
    return -1;
  server_port = pw_http_fixture_start(&server_pid);
  return server_port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  char cmd[256];

  (void)state;
  pw_http_fixture_stop(server_pid);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text) {
  char path[512];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* Loads a configuration of the sources in SOURCES (libconfig text of the list's entries). */
static struct pw_config *load(const char *sources) {
  char text[8192], path[512], err[1024];
  struct pw_config *conf = NULL;

  snprintf(text, sizeof(text),
           "daemon: { state_dir = \"state\"; http_listen = \"\"; };\n"
           "domains = ( { id = \"d\"; name = \"测试\"; } );\n"
           "sources = ( %s );\n"
           "indicators = ( { id = \"x\"; name = \"X\"; domain = \"d\"; kind = \"level\"; "
           "targets = ( ); } );\n",
           sources);
  write_file("pw.conf", text);
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  if (pw_config_load(path, &conf, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  return conf;
}

/* The JSON answer of the fixture's /stats for TAG, by a plain blocking GET. */
static void slow_stats(const char *tag, int *max, int *total) {
  struct sockaddr_in sa;
  char req[256], buf[2048], *p;
  size_t got = 0;
  ssize_t r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  assert_true(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)server_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  snprintf(req, sizeof(req), "GET /stats?tag=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           tag);
  assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
  while ((r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
    got += (size_t)r;
  close(fd);
  buf[got] = '\0';
  p = strstr(buf, "\"max\": ");
  assert_non_null(p);
  *max = (int)strtol(p + 7, NULL, 10);
  p = strstr(buf, "\"total\": ");
  assert_non_null(p);
  *total = (int)strtol(p + 9, NULL, 10);
}

/* ---- a schedule on a loop, and what it reported ------------------------------------------- */

#define MAX_ANSWERS 64

struct answer {
  char id[64];
  int same;
  size_t len;
  uint64_t at_ms; /* loop time since the start */
};

struct run {
  uv_loop_t loop;
  struct pw_fetch *fetch;
  struct pw_sched *sched;
  struct pw_config *conf; /* the generation the schedule runs (for ids of answers) */
  uint64_t start_ms;
  struct answer answers[MAX_ANSWERS];
  int n_answers;
  int all_polled;
  int fail_parse; /* the polled callback refuses bodies */
  uv_timer_t stop_timer;
};

static int on_polled(void *data, const struct pw_sched_answer *a, char *err, size_t errlen) {
  struct run *r = data;
  struct answer *x;

  assert_true(a->source >= 0 && a->source < r->conf->n_sources);
  assert_non_null(a->body);
  assert_int_equal(a->body[a->len], '\0');
  if (r->n_answers < MAX_ANSWERS) {
    x = &r->answers[r->n_answers++];
    snprintf(x->id, sizeof(x->id), "%s", r->conf->sources[a->source].id);
    x->same = a->same;
    x->len = a->len;
    x->at_ms = uv_now(&r->loop) - r->start_ms;
  }
  if (r->fail_parse) {
    snprintf(err, errlen, "cannot parse");
    return -EINVAL;
  }
  return 0;
}

static void on_all_polled(void *data) {
  struct run *r = data;

  r->all_polled++;
}

static void run_start(struct run *r, struct pw_config *conf, int once) {
  struct pw_sched_callbacks cb = {on_polled, on_all_polled, r};

  memset(r, 0, sizeof(*r));
  assert_int_equal(uv_loop_init(&r->loop), 0);
  assert_int_equal(pw_fetch_init(&r->loop, 8, "pacewatch-test/1", &r->fetch), 0);
  r->conf = conf;
  uv_update_time(&r->loop);
  r->start_ms = uv_now(&r->loop);
  assert_int_equal(pw_sched_start(&r->loop, r->fetch, conf, once, &cb, &r->sched), 0);
  assert_int_equal(uv_timer_init(&r->loop, &r->stop_timer), 0);
}

static void stop_loop(uv_timer_t *t) {
  uv_stop(t->loop);
}

/* Runs the loop for MS milliseconds of loop time. */
static void run_for(struct run *r, uint64_t ms) {
  assert_int_equal(uv_timer_start(&r->stop_timer, stop_loop, ms, 0), 0);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&r->stop_timer);
}

static int count_of(const struct run *r, const char *id) {
  int i, n = 0;

  for (i = 0; i < r->n_answers; i++)
    n += strcmp(r->answers[i].id, id) == 0;
  return n;
}

static void fetch_closed(void *data) {
  (void)data;
}

/* Stops the schedule, closes the fetcher and checks that the loop ends with nothing left. */
static void run_end(struct run *r) {
  pw_sched_stop(r->sched);
  pw_fetch_close(r->fetch, fetch_closed, NULL);
  uv_close((uv_handle_t *)&r->stop_timer, NULL);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* 30 s after the first failure, doubling, capped at the interval, without overflow. */
static void test_backoff(void **state) {
  (void)state;
  assert_int_equal(pw_sched_backoff_ms(1, 3600000), 30000);
  assert_int_equal(pw_sched_backoff_ms(2, 3600000), 60000);
  assert_int_equal(pw_sched_backoff_ms(3, 3600000), 120000);
  assert_int_equal(pw_sched_backoff_ms(7, 3600000), 1920000);
  assert_int_equal(pw_sched_backoff_ms(8, 3600000), 3600000);
  assert_int_equal(pw_sched_backoff_ms(100000, 3600000), 3600000);
  assert_int_equal(pw_sched_backoff_ms(3, 100000), 100000);
  assert_int_equal(pw_sched_backoff_ms(1, 1000), 1000);
}

/* On a real loop: a failing source with a long interval waits 30 s, one with a 1 s interval is
 * asked again after 1 s; failures are counted and the last error kept; no answer is handed on. */
static void test_backoff_on_loop(void **state) {
  struct pw_config *conf = load("{ id = \"long\"; url = \"missing-1.json\"; format = \"json\"; "
                                "interval = \"1h\"; },"
                                "{ id = \"short\"; url = \"missing-2.json\"; format = \"json\"; "
                                "interval = \"1s\"; }");
  const struct pw_source_health *h0, *h1;
  struct run r;

  (void)state;
  run_start(&r, conf, 0);
  /* "short" is first asked after 500 ms (spread), then every second (its capped back-off, on
   * the next point of the 100 ms grid): at 0.5 s, 1.5-1.6 s and 2.5-2.7 s. */
  run_for(&r, 2900);
  h0 = pw_sched_health(r.sched, 0);
  h1 = pw_sched_health(r.sched, 1);
  assert_int_equal(h0->consecutive_failures, 1);
  assert_int_equal(h0->polls, 1);
  assert_true(h0->failing_since != 0);
  assert_true(strlen(h0->last_error) > 0);
  assert_true(pw_sched_due_in(r.sched, 0) > 27000 && pw_sched_due_in(r.sched, 0) <= 30000);
  assert_int_equal(h1->consecutive_failures, 3);
  assert_true(pw_sched_due_in(r.sched, 1) <= 1100);
  assert_int_equal(r.n_answers, 0);
  assert_null(pw_sched_health(r.sched, 2));
  run_end(&r);
  pw_config_free(conf);
}

/* The first polls of N sources come at interval * i / N, in order. */
static void test_first_polls_spread(void **state) {
  struct pw_config *conf;
  struct run r;
  int i;

  (void)state;
  write_file("spread.json", "{\"v\": 1}");
  conf = load("{ id = \"s0\"; url = \"spread.json\"; format = \"json\"; interval = \"2s\"; },"
              "{ id = \"s1\"; url = \"spread.json\"; format = \"json\"; interval = \"2s\"; },"
              "{ id = \"s2\"; url = \"spread.json\"; format = \"json\"; interval = \"2s\"; },"
              "{ id = \"s3\"; url = \"spread.json\"; format = \"json\"; interval = \"2s\"; }");
  run_start(&r, conf, 0);
  for (i = 0; i < 4; i++) {
    int64_t due = pw_sched_due_in(r.sched, i);
    assert_true(due >= 500 * i - 20 && due <= 500 * i + 20);
  }
  run_for(&r, 1800);
  assert_int_equal(r.n_answers, 4);
  for (i = 0; i < 4; i++) {
    char id[8];
    snprintf(id, sizeof(id), "s%d", i);
    assert_string_equal(r.answers[i].id, id);
    assert_true(r.answers[i].at_ms + 5 >= (uint64_t)(500 * i));
    assert_true(r.answers[i].at_ms < (uint64_t)(500 * i + 250));
    assert_int_equal(r.answers[i].same, 0); /* each source's first answer */
  }
  run_end(&r);
  pw_config_free(conf);
}

/* Sources with a long interval are all first polled within 10 s of the start (source k of n
 * after k/n of 10 s), then at their interval: after a fresh start no indicator waits an hour (a
 * day, for daily sources) for its first figure. */
static void test_first_polls_within_ten_seconds(void **state) {
  struct pw_config *conf;
  struct run r;
  int i;

  (void)state;
  write_file("hourly.json", "{\"v\": 1}");
  conf = load("{ id = \"h0\"; url = \"hourly.json\"; format = \"json\"; interval = \"1h\"; },"
              "{ id = \"h1\"; url = \"hourly.json\"; format = \"json\"; interval = \"1h\"; },"
              "{ id = \"h2\"; url = \"hourly.json\"; format = \"json\"; interval = \"1h\"; },"
              "{ id = \"h3\"; url = \"hourly.json\"; format = \"json\"; interval = \"1h\"; },"
              "{ id = \"h4\"; url = \"hourly.json\"; format = \"json\"; interval = \"1d\"; }");
  run_start(&r, conf, 0);
  for (i = 0; i < 5; i++) {
    int64_t due = pw_sched_due_in(r.sched, i);
    assert_true(due >= 2000 * i - 20 && due <= 2000 * i + 20);
  }
  run_for(&r, 8400);
  assert_int_equal(r.n_answers, 5);
  for (i = 0; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof(id), "h%d", i);
    assert_string_equal(r.answers[i].id, id);
    assert_true(r.answers[i].at_ms + 5 >= (uint64_t)(2000 * i));
    assert_true(r.answers[i].at_ms < (uint64_t)(2000 * i + 300));
    /* Then at the interval. */
    assert_true(pw_sched_due_in(r.sched, i) > (i == 4 ? 86390000 : 3590000));
  }
  run_end(&r);
  pw_config_free(conf);
}

/* After its answer a source's next poll is due on the loop's 100 ms grid (the next point, never
 * earlier than the interval), so sources first polled 333 ms apart are then polled in the same
 * turns of the loop as others on the grid; the first polls themselves keep their exact spread. */
static void test_next_polls_on_grid(void **state) {
  struct pw_config *conf;
  struct run r;
  int i, later = 0;

  (void)state;
  write_file("grid.json", "{\"v\": 1}");
  conf = load("{ id = \"g0\"; url = \"grid.json\"; format = \"json\"; interval = \"1s\"; },"
              "{ id = \"g1\"; url = \"grid.json\"; format = \"json\"; interval = \"1s\"; },"
              "{ id = \"g2\"; url = \"grid.json\"; format = \"json\"; interval = \"1s\"; }");
  run_start(&r, conf, 0);
  run_for(&r, 3200);
  assert_true(r.n_answers >= 8);
  for (i = 0; i < r.n_answers; i++) {
    uint64_t at = r.start_ms + r.answers[i].at_ms;

    if (r.answers[i].at_ms < 1000)
      continue; /* a first poll */
    later++;
    /* Polled at the grid point (the timer fires at it or the next turn of the loop); a file is
     * read within a few milliseconds. */
    if (at % 100 > 40)
      fail_msg("%s answered at loop time %llu, %llu ms past the grid", r.answers[i].id,
               (unsigned long long)at, (unsigned long long)(at % 100));
  }
  assert_true(later >= 5);
  /* Never sooner than the interval (a poll comes at least a second after the last answer, so
   * two answers of one source are too), and at most 100 ms later: about three polls each. */
  for (i = 0; i < 3; i++) {
    char id[8];
    uint64_t last = 0;
    int j, seen = 0;

    snprintf(id, sizeof(id), "g%d", i);
    assert_in_range(count_of(&r, id), 3, 4);
    for (j = 0; j < r.n_answers; j++) {
      if (strcmp(r.answers[j].id, id) != 0)
        continue;
      if (seen++ > 0 && r.answers[j].at_ms - last < 1000)
        fail_msg("%s answered %llu ms after its last answer, under its 1 s interval", id,
                 (unsigned long long)(r.answers[j].at_ms - last));
      last = r.answers[j].at_ms;
    }
  }
  run_end(&r);
  pw_config_free(conf);
}

/* A source whose answer takes longer than its interval is never fetched twice at once. */
static void test_never_two_fetches(void **state) {
  char sources[512];
  struct pw_config *conf;
  struct run r;
  int max, total;

  (void)state;
  snprintf(sources, sizeof(sources),
           "{ id = \"slow\"; url = \"http://127.0.0.1:%d/slow?ms=1300&tag=never2\"; "
           "format = \"json\"; interval = \"1s\"; timeout = \"10s\"; }",
           server_port);
  conf = load(sources);
  run_start(&r, conf, 0);
  run_for(&r, 3200);
  slow_stats("never2", &max, &total);
  assert_int_equal(max, 1);
  assert_true(total >= 2 && total <= 3);
  assert_true(r.n_answers >= 1);
  run_end(&r);
  pw_config_free(conf);
}

/* A 304 and an identical body are "same" (the body handed on is the last 200's); a changed file
 * is not. */
static void test_same_answers(void **state) {
  char sources[512];
  struct pw_config *conf;
  struct run r;

  (void)state;
  write_file("same.json", "{\"v\": 1}");
  snprintf(sources, sizeof(sources),
           "{ id = \"file\"; url = \"same.json\"; format = \"json\"; interval = \"1s\"; },"
           "{ id = \"http\"; url = \"http://127.0.0.1:%d/ok\"; format = \"json\"; "
           "interval = \"1s\"; }",
           server_port);
  conf = load(sources);
  run_start(&r, conf, 0);
  run_for(&r, 1250); /* file at 0 and 1000, http at 500 */
  assert_int_equal(r.n_answers, 3);
  assert_string_equal(r.answers[0].id, "file");
  assert_int_equal(r.answers[0].same, 0);
  assert_string_equal(r.answers[1].id, "http");
  assert_int_equal(r.answers[1].same, 0);
  assert_string_equal(r.answers[2].id, "file");
  assert_int_equal(r.answers[2].same, 1);
  assert_int_equal(r.answers[2].len, 8);
  write_file("same.json", "{\"v\": 22}");
  run_for(&r, 1000); /* http (304) at 1500, file at 2000 */
  assert_int_equal(r.n_answers, 5);
  assert_string_equal(r.answers[3].id, "http");
  assert_int_equal(r.answers[3].same, 1);
  assert_true(r.answers[3].len > 10); /* the 200's body, handed on again */
  assert_string_equal(r.answers[4].id, "file");
  assert_int_equal(r.answers[4].same, 0);
  assert_int_equal(r.answers[4].len, 9);
  run_end(&r);
  pw_config_free(conf);
}

/* A body the owner refuses counts as a failed poll. */
static void test_refused_body_fails_the_poll(void **state) {
  struct pw_config *conf;
  struct run r;
  const struct pw_source_health *h;

  (void)state;
  write_file("refused.json", "{\"v\": 1}");
  conf = load("{ id = \"bad\"; url = \"refused.json\"; format = \"json\"; interval = \"1h\"; }");
  run_start(&r, conf, 0);
  r.fail_parse = 1;
  run_for(&r, 200);
  h = pw_sched_health(r.sched, 0);
  assert_int_equal(r.n_answers, 1);
  assert_int_equal(h->consecutive_failures, 1);
  assert_string_equal(h->last_error, "cannot parse");
  assert_true(pw_sched_due_in(r.sched, 0) > 29000);
  run_end(&r);
  pw_config_free(conf);
}

/* --once: every source is asked now, "all polled" comes once when the last has answered (a
 * failure counts), and nothing is asked again. */
static void test_once(void **state) {
  struct pw_config *conf, *empty;
  struct run r;

  (void)state;
  write_file("once.json", "{\"v\": 1}");
  conf = load("{ id = \"a\"; url = \"once.json\"; format = \"json\"; interval = \"1s\"; },"
              "{ id = \"b\"; url = \"missing-once.json\"; format = \"json\"; interval = \"1s\"; },"
              "{ id = \"c\"; url = \"once.json\"; format = \"json\"; interval = \"1s\"; }");
  run_start(&r, conf, 1);
  run_for(&r, 1500);
  assert_int_equal(r.n_answers, 2);
  assert_int_equal(r.all_polled, 1);
  assert_int_equal(pw_sched_due_in(r.sched, 0), -1);
  assert_int_equal(pw_sched_due_in(r.sched, 1), -1);
  assert_int_equal(pw_sched_health(r.sched, 1)->polls, 1);
  run_end(&r);
  pw_config_free(conf);

  /* No source at all: "all polled" still comes, from the loop. */
  empty = load("");
  run_start(&r, empty, 1);
  assert_int_equal(r.all_polled, 0);
  run_for(&r, 50);
  assert_int_equal(r.all_polled, 1);
  run_end(&r);
  pw_config_free(empty);
}

/* A reload matched by id (see the file's comment). */
static void test_reload_by_id(void **state) {
  char sources[2048];
  struct pw_config *a, *b;
  struct run r;
  const struct pw_source_health *h;
  int64_t phase_due, broken_due;
  int max, total;

  (void)state;
  write_file("fresh.json", "{\"v\": 1}");
  /* keep: in flight from 0 to 1500 ms; gone: in flight from 250 to 1750 ms; broken: fails at
   * 1000 ms; phase: due at 7.5 s (3/4 of the first 10 s). */
  snprintf(sources, sizeof(sources),
           "{ id = \"keep\"; url = \"http://127.0.0.1:%d/slow?ms=1500&tag=keep\"; format = "
           "\"json\"; interval = \"1h\"; },"
           "{ id = \"gone\"; url = \"http://127.0.0.1:%d/slow?ms=1500&tag=gone\"; format = "
           "\"json\"; interval = \"1s\"; },"
           "{ id = \"broken\"; url = \"missing-reload.json\"; format = \"json\"; "
           "interval = \"2s\"; },"
           "{ id = \"phase\"; url = \"fresh.json\"; format = \"json\"; interval = \"1h\"; }",
           server_port, server_port);
  a = load(sources);
  run_start(&r, a, 0);
  run_for(&r, 1200);
  assert_int_equal(r.n_answers, 0);
  assert_true(pw_sched_in_flight(r.sched, 0));
  assert_true(pw_sched_in_flight(r.sched, 1));
  assert_int_equal(pw_sched_health(r.sched, 2)->consecutive_failures, 1);
  broken_due = pw_sched_due_in(r.sched, 2);
  phase_due = pw_sched_due_in(r.sched, 3);
  assert_true(phase_due > 7500 - 1300 && phase_due <= 7500);

  /* In another order, without "gone", with a new "fresh". */
  snprintf(sources, sizeof(sources),
           "{ id = \"fresh\"; url = \"fresh.json\"; format = \"json\"; interval = \"1h\"; },"
           "{ id = \"phase\"; url = \"fresh.json\"; format = \"json\"; interval = \"1h\"; },"
           "{ id = \"broken\"; url = \"missing-reload.json\"; format = \"json\"; "
           "interval = \"2s\"; },"
           "{ id = \"keep\"; url = \"http://127.0.0.1:%d/slow?ms=1500&tag=keep\"; format = "
           "\"json\"; interval = \"1h\"; }",
           server_port);
  b = load(sources);
  assert_int_equal(pw_sched_reload(r.sched, b), 0);
  r.conf = b;
  pw_config_free(a); /* the schedule let its reference go */
  /* Kept as they were, under their new indices. */
  assert_true(llabs(pw_sched_due_in(r.sched, 1) - phase_due) < 50);
  h = pw_sched_health(r.sched, 2);
  assert_int_equal(h->consecutive_failures, 1);
  assert_int_equal(h->polls, 1);
  assert_true(llabs(pw_sched_due_in(r.sched, 2) - broken_due) < 50);
  assert_true(pw_sched_in_flight(r.sched, 3));
  /* The new one is asked at once. */
  assert_true(pw_sched_due_in(r.sched, 0) <= 1);
  assert_null(pw_sched_health(r.sched, 4));

  run_for(&r, 1000); /* past the ends of keep's and gone's fetches */
  assert_int_equal(count_of(&r, "fresh"), 1);
  assert_int_equal(count_of(&r, "keep"), 1);
  assert_int_equal(count_of(&r, "gone"), 0);
  assert_int_equal(count_of(&r, "phase"), 0);
  assert_int_equal(pw_sched_health(r.sched, 3)->polls, 1);
  assert_true(pw_sched_due_in(r.sched, 3) > 3500000);
  run_for(&r, 1000); /* broken's back-off (2 s after its failure at 1000 ms) is over */
  assert_int_equal(pw_sched_health(r.sched, 2)->consecutive_failures, 2);
  assert_int_equal(pw_sched_health(r.sched, 2)->polls, 2);
  slow_stats("keep", &max, &total);
  assert_int_equal(max, 1);
  assert_int_equal(total, 1); /* the reload started no second fetch */
  slow_stats("gone", &max, &total);
  assert_int_equal(total, 1); /* and did not ask the removed source again */
  run_end(&r);
  pw_config_free(b);
}

/* A reload that changes a source's request drops the answer of the fetch in flight and asks
 * again; one that shortens the interval brings the next poll forward. */
static void test_reload_changed_source(void **state) {
  char sources[1024];
  struct pw_config *a, *b;
  struct run r;
  int max, total;

  (void)state;
  write_file("iv.json", "{\"v\": 1}");
  snprintf(sources, sizeof(sources),
           "{ id = \"req\"; url = \"http://127.0.0.1:%d/slow?ms=600&tag=req1\"; format = "
           "\"json\"; interval = \"1h\"; },"
           "{ id = \"iv\"; url = \"iv.json\"; format = \"json\"; interval = \"1h\"; }",
           server_port);
  a = load(sources);
  run_start(&r, a, 0);
  run_for(&r, 200);
  assert_true(pw_sched_in_flight(r.sched, 0));
  assert_true(pw_sched_due_in(r.sched, 1) > 4000); /* at 5 s: half of the first 10 s */
  snprintf(sources, sizeof(sources),
           "{ id = \"req\"; url = \"http://127.0.0.1:%d/slow?ms=100&tag=req2\"; format = "
           "\"json\"; interval = \"1h\"; },"
           "{ id = \"iv\"; url = \"iv.json\"; format = \"json\"; interval = \"1s\"; }",
           server_port);
  b = load(sources);
  assert_int_equal(pw_sched_reload(r.sched, b), 0);
  r.conf = b;
  pw_config_free(a);
  assert_true(pw_sched_due_in(r.sched, 1) <= 1100);
  run_for(&r, 1300);
  /* req1's answer was dropped, req2 asked once it ended; iv polled within its new interval. */
  assert_int_equal(count_of(&r, "req"), 1);
  assert_int_equal(count_of(&r, "iv"), 2); /* at once, then 1 s later */
  slow_stats("req1", &max, &total);
  assert_int_equal(total, 1);
  slow_stats("req2", &max, &total);
  assert_int_equal(total, 1);
  assert_int_equal(pw_sched_health(r.sched, 0)->polls, 1);
  run_end(&r);
  pw_config_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_backoff_on_loop),
      cmocka_unit_test(test_first_polls_spread),
      cmocka_unit_test(test_first_polls_within_ten_seconds),
      cmocka_unit_test(test_next_polls_on_grid),
      cmocka_unit_test(test_never_two_fetches),
      cmocka_unit_test(test_same_answers),
      cmocka_unit_test(test_refused_body_fails_the_poll),
      cmocka_unit_test(test_once),
      cmocka_unit_test(test_reload_by_id),
      cmocka_unit_test(test_reload_changed_source),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
