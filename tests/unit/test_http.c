/*
 * Unit tests of http: the status server on a real libuv loop, answered through a fake view,
 * with real client sockets on 127.0.0.1. The test drives the loop itself between the client's
 * writes and reads, so one thread plays both sides. Checked: every route (healthz, metrics with
 * the loop's stalls, the dashboard, the status document, graphs by indicator id), the error
 * paths (404, 405, 401, 413, 431, 408, 503 past the connection cap), pipelined requests
 * answered in order even when the first waits for a graph, the reference a graph request holds
 * on its generation across a reload, the cancel of a graph whose reader left, the errors
 * pw_http_start returns (-EINVAL, -EADDRINUSE, the real errno), a connection that finds no
 * memory: it is accepted and closed, and the listener keeps serving the next ones; and the
 * reporting routes (the shell, the part and the figures under a department's token, 401, 403,
 * 429, the answer sent when the program gives it, a submission whose client left).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "tokens.h"
#include "loopstat.h"
#include "schedule.h"
#include "unit_conf.h"

#define CONF_FMT                                                                                      \
  "daemon: { state_dir = \"state\"; http_listen = \"%s\"; http_timeout = \"1s\";\n"                   \
  "          http_max_connections = %d; http_token = \"%s\"; };\n"                                    \
  "domains = ( { id = \"care\"; name = \"病有良医\"; } );\n"                                      \
  "departments = ( { id = \"wj\"; name = \"县卫健局\"; } );\n"                                    \
  "sources = ( { id = \"src_a\"; url = \"http://127.0.0.1:1/a.json\"; format = \"json\"; } );\n"      \
  "indicators = (\n"                                                                                  \
  " { id = \"checkups\"; name = \"体检人数\"; domain = \"care\"; unit = \"人\";\n"               \
  "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 100; } ); },\n"                      \
  " { id = \"beds\"; name = \"床位数\"; domain = \"care\"; unit = \"张\"; department = \"wj\";\n" \
  "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 50; } ); } );\n"

/* The program's side: what the server reads. */
struct fake {
  const struct pw_config *current; /* the generation the "program" serves */
  struct pw_verdict verdicts[2];
  struct pw_series series[2];
  struct pw_source_health health;
  struct pw_loopstat stalls;
  int answer_at_once;              /* graphs come from the "cache" */
  struct pw_http_request *waiting; /* a graph request held */
  char waiting_id[64];
  int gets, cancels;
  /* The reporting page: the tokens, and the submission last received. */
  struct pw_tokens tokens;
  struct pw_http_submit *ticket;
  char value[64], as_of[64], note[64], address[64], indicator[64];
  int submits;
};

static uv_loop_t loop;
static struct fake fake;
static struct pw_http *srv;
static struct pw_config *conf;
static char dir[64];
static int port;

static const struct pw_verdict *fake_verdicts(void *ctx, const struct pw_config *c) {
  struct fake *f = ctx;

  return c == f->current ? f->verdicts : NULL;
}

static const struct pw_source_health *fake_health(void *ctx, const struct pw_config *c, int i) {
  struct fake *f = ctx;

  return c == f->current && i == 0 ? &f->health : NULL;
}

static const struct pw_series *fake_series(void *ctx, const struct pw_config *c, uint64_t *lines) {
  struct fake *f = ctx;

  *lines = 42;
  return c == f->current ? f->series : NULL;
}

static void fake_queues(void *ctx, long *queued, long *dead, long *batched) {
  (void)ctx;
  *queued = 3;
  *dead = 0;
  *batched = 1;
}

static const unsigned char png[] = "\x89PNG fake";

static int fake_graph_get(void *ctx, const char *indicator, int svg, int small,
                          struct pw_http_request *request) {
  struct fake *f = ctx;

  (void)svg;
  (void)small;
  f->gets++;
  if (f->answer_at_once) {
    pw_http_graph_ready(request, png, sizeof(png) - 1);
    return 0;
  }
  f->waiting = request;
  snprintf(f->waiting_id, sizeof(f->waiting_id), "%s", indicator);
  return 0;
}

static void fake_graph_cancel(void *ctx, struct pw_http_request *request) {
  struct fake *f = ctx;

  if (f->waiting == request)
    f->waiting = NULL;
  f->cancels++;
}

static const struct pw_tokens *fake_tokens(void *ctx) {
  struct fake *f = ctx;

  return &f->tokens;
}

/* "bad" is refused at once, as the program refuses what admission refuses; anything else waits
 * for the test to answer (the journal's fsync). */
static void fake_submit(void *ctx, const struct pw_report_submission *sub,
                        struct pw_http_submit *ticket) {
  struct fake *f = ctx;

  f->submits++;
  snprintf(f->value, sizeof(f->value), "%s", sub->value);
  snprintf(f->as_of, sizeof(f->as_of), "%s", sub->as_of);
  snprintf(f->note, sizeof(f->note), "%s", sub->note);
  snprintf(f->address, sizeof(f->address), "%s", sub->address);
  snprintf(f->indicator, sizeof(f->indicator), "%s", sub->indicator);
  if (strcmp(sub->value, "bad") == 0)
    pw_http_submit_done(ticket, 422, "{\"field\":\"value\",\"message\":\"数值无法识别\"}");
  else
    f->ticket = ticket;
}

static int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), p;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  p = ntohs(a.sin_port);
  close(fd);
  return p;
}

/* A configuration listening on LISTEN, in a fresh directory named into WHERE (64 bytes). */
static struct pw_config *load(char *where, const char *listen, int max_conns, const char *token) {
  char text[4096];
  struct pw_config *c = NULL;

  snprintf(text, sizeof(text), CONF_FMT, listen, max_conns, token);
  snprintf(where, 64, "/tmp/pw-test-http-XXXXXX");
  assert_int_equal(pw_unit_conf_open(where, text, &c), 0);
  return c;
}

static const struct pw_http_view view = {
    .ctx = &fake,
    .verdicts = fake_verdicts,
    .source_health = fake_health,
    .series = fake_series,
    .queue_sizes = fake_queues,
    .graph_get = fake_graph_get,
    .graph_cancel = fake_graph_cancel,
    .tokens = fake_tokens,
    .submit = fake_submit,
    .started = 1714438000,
    .loopstat = &fake.stalls,
};

/* A server on a free port of 127.0.0.1 with MAX_CONNS and TOKEN. */
static void serve(int max_conns, const char *token) {
  char listen[64];

  pw_tokens_free(&fake.tokens);
  memset(&fake, 0, sizeof(fake));
  fake.verdicts[0].status = PW_STATUS_LAGGING;
  fake.verdicts[1].status = PW_STATUS_NO_DATA;
  fake.health.polls = 2;
  fake.health.last_attempt = fake.health.last_success = 1714438800;
  pw_loopstat_add(&fake.stalls, 3000000); /* 3 ms */
  port = free_port();
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  conf = load(dir, listen, max_conns, token);
  fake.current = conf;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_http_start(&loop, conf, &view, &srv), 0);
  assert_int_equal(pw_http_port(srv), port);
  assert_int_equal(conf->refs, 2); /* the test's and the server's */
}

static int setup(void **state) {
  (void)state;
  serve(8, "");
  return 0;
}

static void finish(void) {
  pw_http_stop(srv);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  pw_http_free(srv);
  srv = NULL;
  assert_int_equal(conf->refs, 1);
  pw_unit_conf_close(conf, dir);
}

static int teardown(void **state) {
  (void)state;
  finish();
  return 0;
}

/* The client side. */

static int client(void) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The kernel completes the handshake into the listen queue: no loop turn is needed. */
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

static void send_text(int fd, const char *text) {
  size_t len = strlen(text);

  assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Runs the loop for about MS milliseconds. */
static void pump(int ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;

  while (uv_hrtime() < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    poll(NULL, 0, 1);
  }
}

struct reply {
  char *data;
  size_t len;
  int closed;
};

/* Complete responses at the head of R (HEAD: headers only). */
static int complete(const struct reply *r, int head) {
  size_t off = 0;
  int n = 0;

  for (;;) {
    const char *end = memmem(r->data + off, r->len - off, "\r\n\r\n", 4);
    const char *cl;
    size_t hlen, body = 0;
    char hdr[8192];

    if (end == NULL)
      return n;
    hlen = (size_t)(end - (r->data + off)) + 4;
    snprintf(hdr, sizeof(hdr), "%.*s", (int)hlen, r->data + off);
    cl = strcasestr(hdr, "\r\nContent-Length: ");
    if (cl != NULL && !head)
      body = strtoul(cl + 18, NULL, 10);
    if (off + hlen + body > r->len)
      return n;
    off += hlen + body;
    n++;
  }
}

/* Runs the loop until FD brought N complete responses (0: until it is closed), or TIMEOUT_MS. */
static struct reply await(int fd, int n, int head, int timeout_ms) {
  struct reply r = {calloc(1, 1 << 20), 0, 0};
  uint64_t end = uv_hrtime() + (uint64_t)timeout_ms * 1000000;

  while (uv_hrtime() < end && !r.closed && (n == 0 || complete(&r, head) < n)) {
    struct pollfd p = {fd, POLLIN, 0};
    uv_run(&loop, UV_RUN_NOWAIT);
    if (poll(&p, 1, 1) == 1) {
      ssize_t got = recv(fd, r.data + r.len, (1 << 20) - 1 - r.len, 0);
      if (got <= 0)
        r.closed = 1;
      else
        r.len += (size_t)got;
    }
  }
  r.data[r.len] = '\0';
  return r;
}

/* One request on a new connection; returns the whole reply (one response). */
static struct reply request(const char *text) {
  int fd = client();
  struct reply r;

  send_text(fd, text);
  r = await(fd, 1, strncmp(text, "HEAD", 4) == 0, 5000);
  close(fd);
  return r;
}

static int status_of(const struct reply *r) {
  int st = 0;

  if (r->len < 12 || sscanf(r->data, "HTTP/1.1 %d", &st) != 1)
    return 0;
  return st;
}

static const char *body_of(const struct reply *r) {
  const char *p = strstr(r->data, "\r\n\r\n");

  return p ? p + 4 : "";
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

static void test_routes(void **state) {
  struct reply r;

  (void)state;
  r = request(GET("/healthz"));
  assert_int_equal(status_of(&r), 200);
  assert_string_equal(body_of(&r), "ok\n");
  free(r.data);

  r = request(GET("/metrics"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Type: text/plain; version=0.0.4"));
  assert_non_null(strstr(r.data, "\npacewatch_indicator_status{indicator=\"checkups\",domain="
                                 "\"care\",department=\"\",status=\"lagging\"} 1\n"));
  assert_non_null(strstr(r.data, "\npacewatch_source_polls_total{source=\"src_a\"} 2\n"));
  assert_non_null(strstr(r.data, "\npacewatch_journal_lines 42\n"));
  assert_non_null(strstr(r.data, "\npacewatch_notifications_queued 3\n"));
  assert_non_null(strstr(r.data, "\npacewatch_loop_stall_seconds_bucket{le=\"0.005\"} 1\n"));
  assert_non_null(strstr(r.data, "\npacewatch_loop_stall_max_seconds 0.003\n"));
  free(r.data);

  r = request(GET("/"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "data-indicator=\"checkups\" data-status=\"lagging\""));
  free(r.data);

  r = request(GET("/api/v1/status"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Type: application/json"));
  assert_non_null(strstr(body_of(&r), "\"id\":\"checkups\""));
  free(r.data);

  r = request("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Length: 3\r\n"));
  assert_string_equal(body_of(&r), "");
  free(r.data);

  /* Graphs by id of the current generation; anything else is not found. */
  fake.answer_at_once = 1;
  r = request(GET("/graphs/checkups.png?size=small"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Type: image/png"));
  assert_string_equal(body_of(&r), "\x89PNG fake");
  free(r.data);
  r = request(GET("/graphs/beds.svg?x=.png"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Type: image/svg+xml"));
  free(r.data);
  /* The type is the path's extension, never one in the query (issue 12 item 13). */
  r = request(GET("/graphs/beds.png?x=.svg"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Type: image/png"));
  assert_null(strstr(r.data, "svg+xml"));
  free(r.data);
  assert_int_equal(fake.gets, 3);
  r = request(GET("/graphs/nosuch.png"));
  assert_int_equal(status_of(&r), 404);
  assert_string_equal(body_of(&r), "no such indicator\n");
  free(r.data);
  r = request(GET("/graphs/checkups.gif"));
  assert_int_equal(status_of(&r), 404);
  free(r.data);
  r = request(GET("/graphs/../etc/passwd.png"));
  assert_int_equal(status_of(&r), 404);
  free(r.data);
  r = request(GET("/nope"));
  assert_int_equal(status_of(&r), 404);
  free(r.data);
  assert_int_equal(fake.gets, 3);
  assert_int_equal(conf->refs, 2); /* no request kept a reference */
}

/* A program that no longer serves the server's generation: pages answer 503, not stale data. */
static void test_generation_mismatch(void **state) {
  struct reply r;

  (void)state;
  fake.current = NULL;
  r = request(GET("/metrics"));
  assert_int_equal(status_of(&r), 503);
  free(r.data);
  r = request(GET("/api/v1/status"));
  assert_int_equal(status_of(&r), 503);
  free(r.data);
  fake.current = conf;
}

static void test_errors(void **state) {
  struct reply r;
  char big[10000];
  int fd;

  (void)state;
  /* 405 keeps the connection: the next request on it is answered. */
  fd = client();
  send_text(fd, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" GET("/healthz"));
  r = await(fd, 2, 0, 5000);
  assert_int_equal(status_of(&r), 405);
  assert_non_null(strstr(r.data, "Allow: GET, HEAD\r\n"));
  assert_non_null(strstr(r.data, "HTTP/1.1 200 OK"));
  free(r.data);
  close(fd);

  /* 413: a body past 4 KB; the connection is closed after the answer. */
  fd = client();
  send_text(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  memset(big, 'a', 5000);
  big[5000] = '\0';
  send_text(fd, big);
  r = await(fd, 0, 0, 5000);
  assert_int_equal(status_of(&r), 413);
  assert_true(r.closed);
  free(r.data);
  close(fd);

  /* 431: request line and headers past 8 KB. */
  snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %09000d\r\n\r\n", 1);
  r = request(big);
  assert_int_equal(status_of(&r), 431);
  free(r.data);

  /* 400: not HTTP. */
  r = request("HELLO\r\n\r\n");
  assert_int_equal(status_of(&r), 400);
  free(r.data);

  /* 408: a request that does not finish within http_timeout (1 s). */
  fd = client();
  send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  r = await(fd, 0, 0, 5000);
  assert_int_equal(status_of(&r), 408);
  assert_true(r.closed);
  free(r.data);
  close(fd);

  /* 408 too when the headers arrived but the body they announce never did (issue 12 item 12:
   * the parser's byte count starts again after the headers, and the connection was closed
   * without an answer). */
  fd = client();
  send_text(fd, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  r = await(fd, 0, 0, 5000);
  assert_int_equal(status_of(&r), 408);
  assert_true(r.closed);
  free(r.data);
  close(fd);
  fd = client();
  send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
  r = await(fd, 0, 0, 5000);
  assert_int_equal(status_of(&r), 408);
  free(r.data);
  close(fd);

  /* An idle keep-alive connection is closed after http_timeout, without an answer. */
  fd = client();
  r = await(fd, 0, 0, 5000);
  assert_true(r.closed);
  assert_int_equal(r.len, 0);
  free(r.data);
  close(fd);
}

static void test_token(void **state) {
  struct reply r;

  (void)state;
  finish();
  serve(8, "s3cret");
  r = request(GET("/metrics"));
  assert_int_equal(status_of(&r), 401);
  assert_non_null(strstr(r.data, "WWW-Authenticate: Bearer realm=\"pacewatch\""));
  free(r.data);
  r = request("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n");
  assert_int_equal(status_of(&r), 401);
  free(r.data);
  r = request("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
  assert_int_equal(status_of(&r), 200);
  free(r.data);
  r = request(GET("/healthz")); /* health checks need no token */
  assert_int_equal(status_of(&r), 200);
  free(r.data);
}

/* Past http_max_connections a connection is answered 503 and closed; the others still work. */
static void test_connection_cap(void **state) {
  int a, b, c;
  struct reply r;

  (void)state;
  finish();
  serve(2, "");
  a = client();
  b = client();
  pump(50);
  c = client();
  r = await(c, 0, 0, 5000);
  assert_int_equal(status_of(&r), 503);
  assert_non_null(strstr(r.data, "Retry-After: 5\r\n"));
  free(r.data);
  close(c);
  send_text(a, GET("/healthz"));
  r = await(a, 1, 0, 5000);
  assert_int_equal(status_of(&r), 200);
  free(r.data);
  close(a);
  close(b);
}

/* Pipelined requests are answered in order, even when the first waits for a graph. */
static void test_pipelining(void **state) {
  int fd = client();
  struct reply r;
  char *first, *second, *third;

  (void)state;
  send_text(fd, GET("/graphs/checkups.png") GET("/nope") GET("/healthz"));
  r = await(fd, 1, 0, 300);
  assert_int_equal(r.len, 0); /* nothing may overtake the graph */
  free(r.data);
  assert_non_null(fake.waiting);
  assert_string_equal(fake.waiting_id, "checkups");
  assert_int_equal(conf->refs, 3); /* the waiting request holds its generation */
  pw_http_graph_ready(fake.waiting, png, sizeof(png) - 1);
  fake.waiting = NULL;
  assert_int_equal(conf->refs, 2);
  r = await(fd, 3, 0, 5000);
  first = strstr(r.data, "HTTP/1.1 200 OK");
  second = strstr(r.data, "HTTP/1.1 404");
  third = first ? strstr(first + 1, "HTTP/1.1 200 OK") : NULL;
  assert_non_null(first);
  assert_non_null(second);
  assert_non_null(third);
  assert_true(first < second && second < third);
  assert_non_null(strstr(first, "Content-Type: image/png"));
  assert_true(strstr(first, "Content-Type: image/png") < second);
  assert_string_equal(third + strlen(third) - 3, "ok\n");
  free(r.data);
  close(fd);
}

/* A graph request keeps the generation it began under across a reload; a reader that leaves
 * cancels its request and lets the generation go. */
static void test_graph_generation(void **state) {
  struct pw_config *old = conf, *fresh;
  char old_dir[64], fresh_dir[64], listen[64];
  int fd = client();
  struct reply r;

  (void)state;
  send_text(fd, GET("/graphs/beds.svg"));
  pump(100);
  assert_non_null(fake.waiting);
  assert_int_equal(old->refs, 3);
  /* The program swaps in a new generation (same address). */
  snprintf(old_dir, sizeof(old_dir), "%s", dir);
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  fresh = load(fresh_dir, listen, 8, "");
  fake.current = fresh;
  pw_http_reload(srv, fresh);
  assert_int_equal(fresh->refs, 2);
  assert_int_equal(old->refs, 2);             /* the test's and the waiting request's */
  pw_http_graph_ready(fake.waiting, NULL, 0); /* rendering failed */
  fake.waiting = NULL;
  assert_int_equal(old->refs, 1);
  r = await(fd, 0, 0, 5000);
  assert_int_equal(status_of(&r), 500);
  assert_true(r.closed); /* after an error the connection is not reused */
  free(r.data);
  close(fd);
  /* New requests are resolved in the new generation. */
  r = request(GET("/metrics"));
  assert_int_equal(status_of(&r), 200);
  free(r.data);

  /* The reader leaves while its graph is waited for. */
  fd = client();
  send_text(fd, GET("/graphs/checkups.png"));
  pump(100);
  assert_non_null(fake.waiting);
  assert_int_equal(fresh->refs, 3);
  close(fd);
  /* The server does not read while a request is answered: it gives up on the graph after two
   * periods of http_timeout (1 s). */
  pump(2500);
  assert_null(fake.waiting);
  assert_int_equal(fake.cancels, 1);
  assert_int_equal(fresh->refs, 2);
  pw_unit_conf_close(old, old_dir);
  conf = fresh;
  snprintf(dir, sizeof(dir), "%s", fresh_dir);
}

/* A POST of the reporting page with TOKEN and BODY of TYPE. */
static void post_text(char *out, size_t size, const char *path, const char *token, const char *type,
                      const char *body) {
  snprintf(out, size,
           "POST %s HTTP/1.1\r\nHost: x\r\nX-Pacewatch-Token: %s\r\nContent-Type: %s\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           path, token, type, strlen(body), body);
}

/* The reporting routes (docs/http.md "Reporting page"): the shell without a token and with its
 * CSP, the part and the figures under the department's token (401 without, 403 for an
 * indicator of no department's or another's), a JSON and a form body handed to the program as
 * sent, the answer sent only when the program gives it, a submission whose client left answered
 * into the void, and the sixth failure from an address within a minute refused with 429. */
static void test_report(void **state) {
  char tok[PW_TOKEN_LEN + 1], bad[PW_TOKEN_LEN + 1], req[1024];
  struct pw_http_submit *ticket;
  struct reply r;
  int fd, i;

  (void)state;
  assert_int_equal(pw_tokens_new(&fake.tokens, "wj", 1714438800, tok, sizeof(tok)), 0);
  snprintf(bad, sizeof(bad), "%s", tok);
  bad[0] = bad[0] == 'A' ? 'B' : 'A';

  r = request(GET("/report/wj"));
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(r.data, "Content-Security-Policy: default-src 'none'; script-src "
                                 "'sha256-"));
  assert_non_null(strstr(body_of(&r), "县卫健局数据报送"));
  assert_null(strstr(body_of(&r), "床位数")); /* the shell holds no data */
  free(r.data);
  r = request(GET("/report/nobody"));
  assert_int_equal(status_of(&r), 404);
  free(r.data);

  snprintf(req, sizeof(req),
           "GET /report/wj/view HTTP/1.1\r\nHost: x\r\nX-Pacewatch-Token: %s\r\n\r\n", tok);
  r = request(req);
  assert_int_equal(status_of(&r), 200);
  assert_non_null(strstr(body_of(&r), "id=\"ind-beds\""));
  assert_null(strstr(body_of(&r), "ind-checkups")); /* not the department's */
  free(r.data);

  post_text(req, sizeof(req), "/report/wj/checkups", tok, "application/json", "{}");
  r = request(req);
  assert_int_equal(status_of(&r), 403);
  free(r.data);
  assert_int_equal(fake.submits, 0);

  /* Refused at once by the program: its answer as it gave it. */
  post_text(req, sizeof(req), "/report/wj/beds", tok, "application/json", "{\"value\":\"bad\"}");
  r = request(req);
  assert_int_equal(status_of(&r), 422);
  assert_string_equal(body_of(&r), "{\"field\":\"value\",\"message\":\"数值无法识别\"}");
  free(r.data);

  /* Answered only when the program says the figure is durable. */
  fd = client();
  post_text(req, sizeof(req), "/report/wj/beds", tok, "application/json",
            "{\"value\":\"1.2万\",\"as_of\":\"2024-03-31\",\"note\":\"含民营医院\"}");
  send_text(fd, req);
  r = await(fd, 1, 0, 300);
  assert_int_equal(r.len, 0);
  free(r.data);
  assert_non_null(fake.ticket);
  assert_string_equal(fake.value, "1.2万");
  assert_string_equal(fake.as_of, "2024-03-31");
  assert_string_equal(fake.note, "含民营医院");
  assert_string_equal(fake.address, "127.0.0.1");
  assert_string_equal(fake.indicator, "beds");
  ticket = fake.ticket;
  fake.ticket = NULL;
  pw_http_submit_done(ticket, 200, "{\"ok\":true}");
  r = await(fd, 1, 0, 5000);
  assert_int_equal(status_of(&r), 200);
  assert_string_equal(body_of(&r), "{\"ok\":true}");
  free(r.data);
  close(fd);

  /* A form body, decoded. */
  post_text(req, sizeof(req), "/report/wj/beds", tok, "application/x-www-form-urlencoded",
            "value=1%2C200&as_of=2024%E5%B9%B43%E6%9C%88&note=a+b");
  fd = client();
  send_text(fd, req);
  pump(200);
  assert_string_equal(fake.value, "1,200");
  assert_string_equal(fake.as_of, "2024年3月");
  assert_string_equal(fake.note, "a b");
  /* The client leaves before the answer: the program answers all the same, into the void. */
  close(fd);
  pump(2500);
  assert_non_null(fake.ticket);
  pw_http_submit_done(fake.ticket, 200, "{\"ok\":true}");
  fake.ticket = NULL;

  /* Five failures, then 429 even for the right token. */
  for (i = 0; i < 5; i++) {
    snprintf(req, sizeof(req), "GET /report/wj/view HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n",
             i == 0 ? "" : "X-Pacewatch-Token: ", i == 0 ? "" : bad, i == 0 ? "" : "\r\n");
    r = request(req);
    assert_int_equal(status_of(&r), 401);
    free(r.data);
  }
  snprintf(req, sizeof(req),
           "GET /report/wj/view HTTP/1.1\r\nHost: x\r\nX-Pacewatch-Token: %s\r\n\r\n", tok);
  r = request(req);
  assert_int_equal(status_of(&r), 429);
  assert_non_null(strstr(r.data, "\r\nRetry-After: "));
  free(r.data);
  pw_tokens_free(&fake.tokens);
}

/* With no memory for a connection's state, the connection is still accepted (and closed):
 * a listener whose connection callback does not accept is never read again by libuv. */
static void test_accept_without_memory(void **state) {
  int a, b, c, d;
  struct reply r;

  (void)state;
  pw_http_fail_allocations(srv, 3);
  /* Three connections wait in the listen queue; each finds no memory. The second and third
   * arrive while the spare handle of the first is still closing. */
  a = client();
  b = client();
  c = client();
  r = await(a, 0, 0, 3000);
  assert_true(r.closed);
  assert_int_equal(r.len, 0);
  free(r.data);
  r = await(b, 0, 0, 3000);
  assert_true(r.closed);
  free(r.data);
  r = await(c, 0, 0, 3000);
  assert_true(r.closed);
  free(r.data);
  /* The listener still serves. */
  d = client();
  send_text(d, GET("/healthz"));
  r = await(d, 1, 0, 3000);
  assert_int_equal(status_of(&r), 200);
  free(r.data);
  close(a);
  close(b);
  close(c);
  close(d);
}

/* Errors keep their meaning. */
static void test_start_errors(void **state) {
  struct pw_http *other = NULL;
  struct pw_config *c;
  char listen[64], cdir[64];

  (void)state;
  /* Not an address (names are not resolved). */
  c = load(cdir, "localhost:9464", 8, "");
  assert_int_equal(pw_http_start(&loop, c, &view, &other), -EINVAL);
  assert_null(other);
  assert_int_equal(c->refs, 1);
  pw_unit_conf_close(c, cdir);
  c = load(cdir, "256.1.1.1:9464", 8, "");
  assert_int_equal(pw_http_start(&loop, c, &view, &other), -EINVAL);
  pw_unit_conf_close(c, cdir);
  /* Taken: the test's own server listens there. */
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  c = load(cdir, listen, 8, "");
  assert_int_equal(pw_http_start(&loop, c, &view, &other), -EADDRINUSE);
  assert_null(other);
  pw_unit_conf_close(c, cdir);
  /* An address of no local interface: the kernel's own reason. */
  c = load(cdir, "192.0.2.1:9464", 8, "");
  assert_int_equal(pw_http_start(&loop, c, &view, &other), -EADDRNOTAVAIL);
  pw_unit_conf_close(c, cdir);
  /* "": a server that listens nowhere until a reload names an address. */
  c = load(cdir, "", 8, "");
  assert_int_equal(pw_http_start(&loop, c, &view, &other), 0);
  assert_int_equal(pw_http_port(other), 0);
  pw_http_stop(other);
  uv_run(&loop, UV_RUN_NOWAIT);
  pw_http_free(other);
  assert_int_equal(c->refs, 1);
  pw_unit_conf_close(c, cdir);
  /* Failed starts left nothing open: teardown's uv_loop_close checks it. */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_generation_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_report, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_graph_generation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_accept_without_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
