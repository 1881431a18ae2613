/*
 * Unit tests of fetch against a real HTTP server on loopback (tests/support/http_fixture.py,
 * started once for the group): plain and conditional GETs, the body limit with and without
 * Content-Length, HTTP errors, timeouts, redirects (followed, and refused to file://), file://
 * URLs, gzip, charset conversion, headers and POST bodies, refused connections, the cap on
 * transfers in flight, closing with transfers running or from inside a done callback, and idle
 * kept-alive connections (reused, closed by the server). Every test ends with
 * uv_loop_close() == 0.
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

#include "fetch.h"
#include "http_fixture.h"

#define UA "pacewatch-test/1"

static pid_t server_pid = -1;
static int server_port;

/* ---- the fixture server ------------------------------------------------------------------ */

static int group_setup(void **state) {
  (void)state;
  /* A hung loop would otherwise hang the suite until ctest's timeout. */
  alarm(50);
  server_port = pw_http_fixture_start(&server_pid);
  return server_port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  pw_http_fixture_stop(server_pid);
  return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

/* A copy of one result, taken in the done callback (the result lives only during it). */
struct cap {
  int called;
  int rc;
  long status;
  int not_modified;
  char *body;
  size_t body_len;
  char *etag, *last_modified, *error;
  double duration_ms;
  struct pw_fetch *f;    /* for callbacks that act on the fetcher */
  int close_in_done;     /* close F from inside the done callback */
  int start_after_close; /* rc of a start tried right after that close */
  size_t active_in_done;
};

static char *dup_or_null(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

static void cap_free(struct cap *c) {
  free(c->body);
  free(c->etag);
  free(c->last_modified);
  free(c->error);
}

static void on_closed(void *data) {
  (*(int *)data)++;
}

static void on_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct cap *c = data;

  (void)job;
  c->called++;
  c->rc = res->rc;
  c->status = res->status;
  c->not_modified = res->not_modified;
  assert_non_null(res->body);
  assert_int_equal(res->body[res->body_len], '\0');
  c->body = malloc(res->body_len + 1);
  assert_non_null(c->body);
  memcpy(c->body, res->body, res->body_len + 1);
  c->body_len = res->body_len;
  c->etag = dup_or_null(res->etag);
  c->last_modified = dup_or_null(res->last_modified);
  c->error = dup_or_null(res->error);
  if (res->rc != 0)
    assert_non_null(res->error);
  c->duration_ms = res->duration_ms;
  if (c->f != NULL)
    c->active_in_done = pw_fetch_active(c->f);
  if (c->close_in_done) {
    struct pw_fetch_request r = {.url = "file:///etc/hostname", .max_bytes = 1000};

    pw_fetch_close(c->f, NULL, NULL);
    c->start_after_close = pw_fetch_start(c->f, &r, on_done, c, NULL);
  }
}

static const char *url_of(char *buf, size_t size, const char *path) {
  snprintf(buf, size, "http://127.0.0.1:%d%s", server_port, path);
  return buf;
}

static struct pw_fetch_request base_req(const char *url) {
  struct pw_fetch_request r;

  memset(&r, 0, sizeof(r));
  r.url = url;
  r.timeout_ms = 10000;
  r.max_bytes = 1 << 20;
  r.tls_verify = 1;
  return r;
}

/* Runs one request on a fresh loop and fetcher, and checks that both close cleanly. */
static void run_one(const struct pw_fetch_request *req, struct cap *c) {
  uv_loop_t loop;
  struct pw_fetch *f;
  struct pw_fetch_job *job = NULL;
  int closed = 0;

  memset(c, 0, sizeof(*c));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 4, UA, &f), 0);
  assert_int_equal(pw_fetch_start(f, req, on_done, c, &job), 0);
  assert_non_null(job);
  assert_int_equal(pw_fetch_active(f), 1);
  assert_int_equal(c->called, 0); /* never from inside start, even for file:// */
  /* The loop must run dry by itself once the transfer is done: no handle stays active. */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(c->called, 1);
  assert_int_equal(pw_fetch_active(f), 0);
  pw_fetch_close(f, on_closed, &closed);
  assert_int_equal(closed, 0); /* only from the close callbacks */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void get(const char *path, struct cap *c) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), path));

  run_one(&r, c);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_ok(void **state) {
  struct cap c;

  (void)state;
  get("/ok", &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.status, 200);
  assert_int_equal(c.not_modified, 0);
  assert_non_null(strstr(c.body, "\"TJ01\""));
  assert_int_equal(c.body_len, strlen(c.body));
  assert_string_equal(c.etag, "\"v1\"");
  assert_string_equal(c.last_modified, "Mon, 01 Jan 2024 00:00:00 GMT");
  assert_null(c.error);
  assert_true(c.duration_ms > 0 && c.duration_ms < 5000);
  cap_free(&c);
}

static void test_not_modified(void **state) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/ok"));
  struct cap c;

  (void)state;
  r.etag = "\"v1\"";
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.status, 304);
  assert_int_equal(c.not_modified, 1);
  assert_int_equal(c.body_len, 0);
  assert_string_equal(c.body, "");
  assert_string_equal(c.etag, "\"v1\"");
  cap_free(&c);

  /* Only the date: If-Modified-Since. */
  r.etag = NULL;
  r.last_modified = "Mon, 01 Jan 2024 00:00:00 GMT";
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.not_modified, 1);
  cap_free(&c);

  /* A stale ETag gets the whole answer again. */
  r.etag = "\"v0\"";
  r.last_modified = NULL;
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.status, 200);
  assert_int_equal(c.not_modified, 0);
  assert_true(c.body_len > 0);
  cap_free(&c);
}

static void limit_case(const char *path, size_t max_bytes, int want_rc, size_t want_len) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), path));
  struct cap c;
  char want_error[64];

  r.max_bytes = max_bytes;
  run_one(&r, &c);
  assert_int_equal(c.rc, want_rc);
  if (want_rc == 0) {
    assert_int_equal(c.body_len, want_len);
  } else {
    snprintf(want_error, sizeof(want_error), "body larger than max_bytes (%zu)", max_bytes);
    assert_string_equal(c.error, want_error);
    assert_int_equal(c.body_len, 0);
  }
  cap_free(&c);
}

static void test_max_bytes_chunked(void **state) {
  (void)state;
  limit_case("/chunked?n=1000", 1000, 0, 1000);
  limit_case("/chunked?n=1001", 1000, -E2BIG, 0);
  /* Several chunks, far past the limit: the transfer stops early. */
  limit_case("/chunked?n=3000000", 1 << 20, -E2BIG, 0);
  limit_case("/chunked?n=0", 1000, 0, 0);
}

static void test_max_bytes_content_length(void **state) {
  (void)state;
  limit_case("/big?n=1000", 1000, 0, 1000);
  limit_case("/big?n=1001", 1000, -E2BIG, 0);
  limit_case("/big?n=3000000", 1 << 20, -E2BIG, 0);
}

static void test_gzip(void **state) {
  (void)state;
  limit_case("/gzip?n=5000", 10000, 0, 5000);
  /* About 2 KB on the wire, 2 MB decoded: the limit is on what the parser would get. */
  limit_case("/gzip?n=2000000", 100000, -E2BIG, 0);
}

static void test_http_errors(void **state) {
  struct cap c;

  (void)state;
  get("/status/500", &c);
  assert_int_equal(c.rc, -EIO);
  assert_int_equal(c.status, 500);
  assert_string_equal(c.error, "HTTP 500");
  assert_string_equal(c.body, "status 500\n"); /* the error page comes along */
  cap_free(&c);
  get("/status/404", &c);
  assert_int_equal(c.rc, -EIO);
  assert_int_equal(c.status, 404);
  assert_string_equal(c.error, "HTTP 404");
  cap_free(&c);
}

static void test_timeout(void **state) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/slow?ms=3000&tag=timeout"));
  struct cap c;

  (void)state;
  r.timeout_ms = 300;
  run_one(&r, &c);
  assert_int_equal(c.rc, -ETIMEDOUT);
  /* Words that do not change from one attempt to the next (no elapsed time, no byte count). */
  assert_string_equal(c.error, "timeout after 300 ms (waiting for the answer)");
  assert_true(c.duration_ms >= 290 && c.duration_ms < 2000);
  cap_free(&c);
}

static void test_redirects(void **state) {
  struct cap c;

  (void)state;
  get("/redirect-file", &c);
  assert_int_equal(c.rc, -EPROTO);
  assert_int_equal(strncmp(c.error, "protocol not allowed: ", 22), 0);
  assert_int_equal(c.body_len, 0);
  cap_free(&c);

  get("/redirect-ok", &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.status, 200);
  assert_non_null(strstr(c.body, "\"TJ01\""));
  assert_null(strstr(c.body, "moved"));  /* the 302's own body is not part of it */
  assert_string_equal(c.etag, "\"v1\""); /* the final answer's, not the 302's */
  cap_free(&c);
}

static void write_temp(char *path, size_t size, const char *data, size_t len) {
  int fd;

  snprintf(path, size, "/tmp/pw-test-fetch-XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static void test_file_urls(void **state) {
  char path[64], u[128];
  struct pw_fetch_request r;
  struct cap c;

  (void)state;
  write_temp(path, sizeof(path), "a,b\n1,2\n", 8);
  snprintf(u, sizeof(u), "file://%s", path);
  r = base_req(u);
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.status, 0);
  assert_string_equal(c.body, "a,b\n1,2\n");
  cap_free(&c);

  /* The limit holds for files too. */
  r.max_bytes = 4;
  run_one(&r, &c);
  assert_int_equal(c.rc, -E2BIG);
  cap_free(&c);

  unlink(path);
  r.max_bytes = 1000;
  run_one(&r, &c);
  assert_int_equal(c.rc, -ENOENT);
  assert_non_null(c.error);
  cap_free(&c);
}

static void test_charset(void **state) {
  static const char utf8[] = "指标,值\n托位数,4.35\n";
  char u[256], path[64], fu[128];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/gbk"));
  struct cap c;

  (void)state;
  r.charset = "GBK";
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_string_equal(c.body, utf8);
  assert_int_equal(c.body_len, strlen(utf8));
  cap_free(&c);

  /* UTF-8 by any spelling: the bytes come as they are (here still GBK). */
  r.charset = "utf8";
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.body_len, 20);
  assert_string_not_equal(c.body, utf8);
  cap_free(&c);

  r.charset = "NOPE-9";
  run_one(&r, &c);
  assert_int_equal(c.rc, -EPROTO);
  assert_non_null(strstr(c.error, "NOPE-9"));
  assert_int_equal(c.body_len, 0);
  cap_free(&c);

  /* 0x81 0x20 is not GBK: the offset of the bad sequence is reported. */
  write_temp(path, sizeof(path), "ab,\x81\x20", 5);
  snprintf(fu, sizeof(fu), "file://%s", path);
  r = base_req(fu);
  r.charset = "gbk";
  run_one(&r, &c);
  assert_int_equal(c.rc, -EPROTO);
  assert_string_equal(c.error, "invalid gbk byte sequence at byte offset 3");
  cap_free(&c);
  unlink(path);

  /* A lead byte cut off at the end. */
  write_temp(path, sizeof(path), "ab,\x81", 4);
  snprintf(fu, sizeof(fu), "file://%s", path);
  r.url = fu;
  run_one(&r, &c);
  assert_int_equal(c.rc, -EPROTO);
  assert_string_equal(c.error, "incomplete gbk byte sequence at byte offset 3");
  cap_free(&c);
  unlink(path);
}

static void test_headers_and_post(void **state) {
  static const char *const headers[] = {"X-Test: hello", "Content-Type: application/json"};
  char u[256], body[32];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/echo"));
  struct cap c;
  uv_loop_t loop;
  struct pw_fetch *f;
  int closed = 0;

  (void)state;
  r.headers = headers;
  r.n_headers = 2;
  r.etag = "\"abc\"";
  run_one(&r, &c);
  assert_int_equal(c.rc, 0);
  assert_non_null(strstr(c.body, "\"method\": \"GET\""));
  assert_non_null(strstr(c.body, "\"X-Test\": \"hello\""));
  assert_non_null(strstr(c.body, "\"User-Agent\": \"" UA "\""));
  assert_non_null(strstr(c.body, "\"If-None-Match\": \"\\\"abc\\\"\""));
  cap_free(&c);

  /* POST: only POST_LEN bytes go, and the body is copied (changed after start here). */
  memset(&c, 0, sizeof(c));
  snprintf(body, sizeof(body), "{\"a\":1}trailing");
  r.etag = NULL;
  r.post_body = body;
  r.post_len = 7;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 1, UA, &f), 0);
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), 0);
  memset(body, 'X', sizeof(body));
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(c.called, 1);
  assert_int_equal(c.rc, 0);
  assert_non_null(strstr(c.body, "\"method\": \"POST\""));
  assert_non_null(strstr(c.body, "\"body\": \"{\\\"a\\\":1}\""));
  assert_non_null(strstr(c.body, "\"Content-Type\": \"application/json\""));
  cap_free(&c);
  pw_fetch_close(f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_connection_refused(void **state) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  char u[64];
  struct pw_fetch_request r;
  struct cap c;

  (void)state;
  /* A port that was free a moment ago and has no listener now. */
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
  close(s);
  snprintf(u, sizeof(u), "http://127.0.0.1:%d/ok", ntohs(a.sin_port));
  r = base_req(u);
  run_one(&r, &c);
  assert_int_equal(c.rc, -ECONNREFUSED);
  assert_int_equal(c.status, 0);
  assert_non_null(strstr(c.error, "Couldn't connect"));
  assert_null(strstr(c.error, " ms"));
  cap_free(&c);
}

/* curl's error texts can name the proxy or the URL whole: the password and the query's values
 * never reach the error (which the log prints). */
static void test_errors_redacted(void **state) {
  struct pw_fetch_request r;
  struct cap c;

  (void)state;
  r = base_req("http://127.0.0.1:1/x?access_token=TOKEN123");
  r.proxy = "sock5://alice:S3cret@127.0.0.1:1";
  run_one(&r, &c);
  assert_true(c.rc < 0);
  assert_non_null(c.error);
  assert_null(strstr(c.error, "S3cret"));
  assert_non_null(strstr(c.error, "sock5://alice:***@127.0.0.1:1"));
  cap_free(&c);

  r = base_req("htps://bob:Pw0rd@127.0.0.1:1/x?access_token=TOKEN123");
  run_one(&r, &c);
  assert_int_equal(c.rc, -EPROTO);
  assert_null(strstr(c.error, "Pw0rd"));
  assert_null(strstr(c.error, "TOKEN123"));
  cap_free(&c);
}

struct cap_run {
  struct pw_fetch *f;
  int done;
  int failed;
  size_t active_seen_max;
  int active_mismatch;
};

static void on_cap_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct cap_run *cr = data;
  size_t active = pw_fetch_active(cr->f);

  (void)job;
  cr->done++;
  if (res->rc != 0)
    cr->failed++;
  /* This job is gone and its slot refilled: everything else is still running or queued. */
  if (active != (size_t)(10 - cr->done))
    cr->active_mismatch++;
}

static void test_in_flight_cap(void **state) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/slow?ms=200&tag=cap"));
  struct cap_run cr;
  struct cap c;
  uv_loop_t loop;
  int closed = 0;
  uint64_t t0;
  double elapsed_ms;
  int i;

  (void)state;
  memset(&cr, 0, sizeof(cr));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 2, UA, &cr.f), 0);
  t0 = uv_hrtime();
  for (i = 0; i < 10; i++)
    assert_int_equal(pw_fetch_start(cr.f, &r, on_cap_done, &cr, NULL), 0);
  assert_int_equal(pw_fetch_active(cr.f), 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  elapsed_ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(cr.done, 10);
  assert_int_equal(cr.failed, 0);
  assert_int_equal(cr.active_mismatch, 0);
  assert_true(elapsed_ms >= 5 * 200);
  assert_true(elapsed_ms < 5000);
  print_message("in-flight cap: 10 x 200 ms, 2 at once: %.0f ms\n", elapsed_ms);
  pw_fetch_close(cr.f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);

  /* The server saw at most two at once (and all ten). */
  get("/stats?tag=cap", &c);
  assert_int_equal(c.rc, 0);
  assert_non_null(strstr(c.body, "\"max\": 2"));
  assert_non_null(strstr(c.body, "\"total\": 10"));
  cap_free(&c);
}

struct close_run {
  struct pw_fetch *f;
  int closed;
  uv_timer_t timer;
};

static void on_close_timer(uv_timer_t *t) {
  struct close_run *cl = t->data;

  pw_fetch_close(cl->f, on_closed, &cl->closed);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_close_running(void **state) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/slow?ms=3000&tag=close"));
  struct cap c[3];
  struct close_run cl;
  uv_loop_t loop;
  uint64_t t0;
  double elapsed_ms;
  int i;

  (void)state;
  memset(c, 0, sizeof(c));
  memset(&cl, 0, sizeof(cl));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 2, UA, &cl.f), 0);
  for (i = 0; i < 3; i++) /* two run, one waits in the queue */
    assert_int_equal(pw_fetch_start(cl.f, &r, on_done, &c[i], NULL), 0);
  assert_int_equal(uv_timer_init(&loop, &cl.timer), 0);
  cl.timer.data = &cl;
  assert_int_equal(uv_timer_start(&cl.timer, on_close_timer, 150, 0), 0);
  t0 = uv_hrtime();
  uv_run(&loop, UV_RUN_DEFAULT);
  elapsed_ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(cl.closed, 1);
  for (i = 0; i < 3; i++) {
    assert_int_equal(c[i].called, 1);
    assert_int_equal(c[i].rc, -ECANCELED);
    assert_string_equal(c[i].error, "cancelled");
    cap_free(&c[i]);
  }
  assert_true(elapsed_ms < 1000);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_from_done(void **state) {
  char u1[256], u2[256];
  struct pw_fetch_request fast = base_req(url_of(u1, sizeof(u1), "/ok"));
  struct pw_fetch_request slow = base_req(url_of(u2, sizeof(u2), "/slow?ms=3000&tag=cfd"));
  struct cap a, b;
  uv_loop_t loop;
  struct pw_fetch *f;

  (void)state;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 4, UA, &f), 0);
  a.f = f;
  a.close_in_done = 1;
  assert_int_equal(pw_fetch_start(f, &slow, on_done, &b, NULL), 0);
  assert_int_equal(pw_fetch_start(f, &fast, on_done, &a, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(a.called, 1);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.active_in_done, 1); /* the slow one, still running */
  assert_int_equal(a.start_after_close, -ECANCELED);
  assert_int_equal(b.called, 1);
  assert_int_equal(b.rc, -ECANCELED);
  cap_free(&a);
  cap_free(&b);
  assert_int_equal(uv_loop_close(&loop), 0);
}

struct chain {
  struct pw_fetch *f;
  const struct pw_fetch_request *req;
  int left;
  int ok;
};

static void on_chain_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct chain *ch = data;

  (void)job;
  if (res->rc == 0)
    ch->ok++;
  /* Starting from inside done is how the scheduler re-polls. */
  if (--ch->left > 0)
    assert_int_equal(pw_fetch_start(ch->f, ch->req, on_chain_done, ch, NULL), 0);
}

static void test_start_from_done(void **state) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), "/ok"));
  struct chain ch = {NULL, &r, 5, 0};
  uv_loop_t loop;
  int closed = 0;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 1, UA, &ch.f), 0);
  assert_int_equal(pw_fetch_start(ch.f, &r, on_chain_done, &ch, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(ch.ok, 5);
  pw_fetch_close(ch.f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_arguments(void **state) {
  static const char *const bad_header[] = {"X-A: 1\r\nX-B: 2"};
  struct pw_fetch_request r = base_req(NULL);
  struct cap c;
  uv_loop_t loop;
  struct pw_fetch *f;
  int closed = 0;

  (void)state;
  memset(&c, 0, sizeof(c));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 0, UA, &f), -EINVAL);
  assert_int_equal(pw_fetch_init(&loop, 1, NULL, &f), 0);
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), -EINVAL);
  r.url = "http://127.0.0.1:1/";
  r.headers = bad_header;
  r.n_headers = 1;
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), -EINVAL);
  r.n_headers = 0;
  r.etag = "\"x\"\n";
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), -EINVAL);
  assert_int_equal(pw_fetch_active(f), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(c.called, 0); /* a start that fails never calls done */
  pw_fetch_close(f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A customize hook that fails (out of memory building a message) fails the start with its own
 * errno: no transfer, no callback, the fetcher stays usable. */
static int customize_fails(void *easy, void *arg) {
  (void)easy;
  (*(int *)arg)++;
  return -ENOMEM;
}

static void test_customize_error(void **state) {
  uv_loop_t loop;
  struct pw_fetch *f;
  struct pw_fetch_request r = base_req("smtp://127.0.0.1:1");
  struct cap c;
  int calls = 0, closed = 0;

  (void)state;
  memset(&c, 0, sizeof(c));
  r.customize = customize_fails;
  r.customize_arg = &calls;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 4, UA, &f), 0);
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), -ENOMEM);
  assert_int_equal(calls, 1);
  assert_int_equal(pw_fetch_active(f), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(c.called, 0);
  pw_fetch_close(f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Runs GET PATH on F's loop until done; returns the server's connection number. */
static int get_conn(uv_loop_t *loop, struct pw_fetch *f, const char *path) {
  char u[256];
  struct pw_fetch_request r = base_req(url_of(u, sizeof(u), path));
  struct cap c;
  int conn = -1;
  const char *p;

  memset(&c, 0, sizeof(c));
  assert_int_equal(pw_fetch_start(f, &r, on_done, &c, NULL), 0);
  /* Returns once the transfer is done: a kept-alive connection's socket does not hold the
   * loop (docs/libraries.md, "Sockets"). */
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(c.called, 1);
  assert_int_equal(c.rc, 0);
  p = strstr(c.body, "\"conn\": ");
  assert_non_null(p);
  conn = (int)strtol(p + 8, NULL, 10);
  cap_free(&c);
  return conn;
}

static void count_iteration(uv_check_t *h) {
  (*(int *)h->data)++;
}

static void stop_counting(uv_timer_t *t) {
  uv_check_stop(t->data);
}

/* Idle kept-alive connections: their sockets stay watched between transfers (parked), a reused
 * connection needs no new poll handle, a server that closes an idle one does not make the loop
 * spin, and the next transfer opens a new connection (often on the same descriptor number). */
static void test_idle_connections(void **state) {
  uv_loop_t loop;
  uv_check_t check;
  uv_timer_t timer;
  struct pw_fetch *f;
  int a, b, iterations = 0, closed = 0;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 4, UA, &f), 0);
  a = get_conn(&loop, f, "/conn");
  assert_int_equal(get_conn(&loop, f, "/conn"), a);
  assert_int_equal(get_conn(&loop, f, "/bye"), a);
  /* The server closes that connection 50 ms after its answer. For the next 300 ms nothing
   * happens: the loop wakes once for the closed socket, not at every iteration. */
  assert_int_equal(uv_check_init(&loop, &check), 0);
  assert_int_equal(uv_timer_init(&loop, &timer), 0);
  check.data = &iterations;
  timer.data = &check;
  assert_int_equal(uv_check_start(&check, count_iteration), 0);
  assert_int_equal(uv_timer_start(&timer, stop_counting, 300, 0), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_in_range(iterations, 1, 20);
  b = get_conn(&loop, f, "/conn");
  assert_int_not_equal(b, a);
  assert_int_equal(get_conn(&loop, f, "/conn"), b);
  /* Closing with a parked connection closes its handle too. */
  uv_close((uv_handle_t *)&check, NULL);
  uv_close((uv_handle_t *)&timer, NULL);
  pw_fetch_close(f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok),
      cmocka_unit_test(test_not_modified),
      cmocka_unit_test(test_max_bytes_chunked),
      cmocka_unit_test(test_max_bytes_content_length),
      cmocka_unit_test(test_gzip),
      cmocka_unit_test(test_http_errors),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_file_urls),
      cmocka_unit_test(test_charset),
      cmocka_unit_test(test_headers_and_post),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_errors_redacted),
      cmocka_unit_test(test_in_flight_cap),
      cmocka_unit_test(test_close_running),
      cmocka_unit_test(test_close_from_done),
      cmocka_unit_test(test_start_from_done),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_customize_error),
      cmocka_unit_test(test_idle_connections),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
