/*
 * fuzz_http: the status server's request handling (daemon/serve/http.h) as the daemon runs it:
 * two servers on 127.0.0.1 on one libuv loop, one open and one with an http_token, answer
 * through a view of two indicators (verdicts, a source's health, series, queue sizes, graphs
 * answered at once). The input is what a client sends on one connection: it is written to each
 * server in turn, the client then ends its side and reads until the server closes. Besides the
 * sanitizers it checks that the server closes the connection within 5 s and that whatever it
 * sent starts as an HTTP/1.1 response.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "schedule.h"

static uv_loop_t loop;
static struct pw_config *conf[2];
static struct pw_http *srv[2];
static struct pw_verdict verdicts[2];
static struct pw_sample samples[3] = {{1711900800, 1714438800, 25, 0, NULL},
                                      {1711900800, 1714438900, 26, 1, NULL},
                                      {1714438800, 1714438800, 40, 0, NULL}};
static struct pw_series series[2];
static struct pw_source_health health;
static struct pw_loopstat stalls;

static const struct pw_verdict *view_verdicts(void *ctx, const struct pw_config *c) {
  (void)ctx;
  return c == conf[0] || c == conf[1] ? verdicts : NULL;
}

static const struct pw_source_health *view_health(void *ctx, const struct pw_config *c, int i) {
  (void)ctx;
  (void)c;
  return i == 0 ? &health : NULL;
}

static const struct pw_series *view_series(void *ctx, const struct pw_config *c, uint64_t *lines) {
  (void)ctx;
  *lines = 3;
  return c == conf[0] || c == conf[1] ? series : NULL;
}

static void view_queues(void *ctx, long *queued, long *dead, long *batched) {
  (void)ctx;
  *queued = 3;
  *dead = 0;
  *batched = 1;
}

static int view_graph_get(void *ctx, const char *indicator, int svg, int small,
                          struct pw_http_request *request) {
  static const unsigned char png[] = "\x89PNG fake";
  static const unsigned char svg_text[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";

  (void)ctx;
  (void)indicator;
  (void)small;
  if (svg)
    pw_http_graph_ready(request, svg_text, sizeof(svg_text) - 1);
  else
    pw_http_graph_ready(request, png, sizeof(png) - 1);
  return 0;
}

static void view_graph_cancel(void *ctx, struct pw_http_request *request) {
  (void)ctx;
  (void)request;
}

static const struct pw_http_view view = {
    .verdicts = view_verdicts,
    .source_health = view_health,
    .series = view_series,
    .queue_sizes = view_queues,
    .graph_get = view_graph_get,
    .graph_cancel = view_graph_cancel,
    .started = 1714438000,
    .loopstat = &stalls,
};

/* A port of 127.0.0.1 free a moment ago. */
static int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), p;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    pw_fuzz_fail("http: no free port");
  p = ntohs(a.sin_port);
  close(fd);
  return p;
}

static struct pw_config *load(const char *name, const char *token) {
  char path[4200], text[2048], err[1024];
  struct pw_config *c;
  int n;

  snprintf(path, sizeof(path), "%s/%s", pw_fuzz_tmpdir(), name);
  n = snprintf(
      text, sizeof(text),
      "daemon: { state_dir = \"state\"; http_listen = \"127.0.0.1:%d\"; http_timeout = \"1s\";\n"
      "          http_max_connections = 4; http_token = \"%s\"; };\n"
      "domains = ( { id = \"care\"; name = \"病有良医\"; } );\n"
      "sources = ( { id = \"src_a\"; url = \"http://127.0.0.1:1/a.json\"; format = \"json\"; } );\n"
      "indicators = (\n"
      " { id = \"checkups\"; name = \"体检人数\"; domain = \"care\"; unit = \"人\"; source = "
      "\"src_a\"; path = \"$.a\";\n"
      "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 100; } ); },\n"
      " { id = \"beds\"; name = \"床位数\"; domain = \"care\"; unit = \"张\";\n"
      "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 50; } ); } );\n",
      free_port(), token);
  pw_fuzz_write_file(path, text, (size_t)n);
  if (pw_config_load(path, &c, err, sizeof(err)) != 0)
    pw_fuzz_fail("http: the fixture configuration does not load: %s", err);
  return c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  int i;

  (void)argc;
  (void)argv;
  pw_log_set_level(PW_LOG_ERROR);
  if (uv_loop_init(&loop) != 0)
    pw_fuzz_fail("http: no loop");
  verdicts[0].status = PW_STATUS_LAGGING;
  verdicts[1].status = PW_STATUS_NO_DATA;
  series[0].samples = samples;
  series[0].n = series[0].cap = 3;
  series[0].max_as_of = 1714438800;
  series[0].latest = 2;
  health.polls = 2;
  health.last_attempt = health.last_success = 1714438800;
  pw_loopstat_add(&stalls, 3000000);
  conf[0] = load("open.conf", "");
  conf[1] = load("token.conf", "s3cret-token");
  for (i = 0; i < 2; i++)
    if (pw_http_start(&loop, conf[i], &view, &srv[i]) != 0)
      pw_fuzz_fail("http: the server does not start");
  return 0;
}

/* The client of one connection. */
struct client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_shutdown_t shutdown;
  uv_timer_t turn;  /* one loop turn before the end of the client's side */
  uv_timer_t guard; /* the 5 s limit */
  char *sent;
  size_t sent_len;
  char got[16];
  size_t got_len; /* bytes received (only the first ones are kept) */
  int closed, timed_out;
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char space[65536];

  (void)h;
  (void)size;
  *buf = uv_buf_init(space, sizeof(space));
}

static void on_closed(uv_handle_t *h) {
  struct client *c = h->data;

  c->closed = 1;
  uv_stop(&loop);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct client *c = s->data;

  if (n > 0) {
    size_t keep = c->got_len < sizeof(c->got) ? sizeof(c->got) - c->got_len : 0;
    if (keep > 0)
      memcpy(c->got + c->got_len, buf->base, (size_t)n < keep ? (size_t)n : keep);
    c->got_len += (size_t)n;
  } else if (n < 0 && !uv_is_closing((uv_handle_t *)s)) {
    uv_close((uv_handle_t *)s, on_closed);
  }
}

static void on_shutdown(uv_shutdown_t *r, int status) {
  (void)r;
  (void)status;
}

/* One loop turn after the request was written, so that the server has read it (and answered a
 * complete one) before it sees the end of the stream. */
static void end_side(uv_timer_t *t) {
  struct client *c = t->data;

  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown);
}

static void on_timeout(uv_timer_t *t) {
  struct client *c = t->data;

  c->timed_out = 1;
  uv_stop(&loop);
}

static void on_written(uv_write_t *w, int status) {
  struct client *c = w->data;

  (void)status;
  uv_timer_start(&c->turn, end_side, 0, 0);
}

static void on_connect(uv_connect_t *r, int status) {
  struct client *c = r->data;
  uv_buf_t b = uv_buf_init(c->sent, (unsigned)c->sent_len);

  if (status < 0)
    pw_fuzz_fail("http: cannot connect: %s", uv_strerror(status));
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
    uv_timer_start(&c->turn, end_side, 0, 0);
}

static void exchange(int port, const uint8_t *data, size_t size) {
  struct client c;
  struct sockaddr_in a;

  memset(&c, 0, sizeof(c));
  c.sent = pw_fuzz_cstr(data, size);
  c.sent_len = size;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_init(&loop, &c.tcp);
  uv_timer_init(&loop, &c.turn);
  uv_timer_init(&loop, &c.guard);
  c.tcp.data = c.connect.data = c.turn.data = c.guard.data = &c;
  if (uv_tcp_connect(&c.connect, &c.tcp, (const struct sockaddr *)&a, on_connect) != 0)
    pw_fuzz_fail("http: cannot connect");
  /* The server must close within 5 s (its own timeout is 1 s). */
  uv_timer_start(&c.guard, on_timeout, 5000, 0);
  while (!c.closed && !c.timed_out)
    uv_run(&loop, UV_RUN_DEFAULT);
  if (c.timed_out)
    pw_fuzz_fail("http: the connection was neither answered nor closed within 5 s");
  uv_close((uv_handle_t *)&c.turn, NULL);
  uv_close((uv_handle_t *)&c.guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (c.got_len > 0 && (c.got_len < 12 || memcmp(c.got, "HTTP/1.1 ", 9) != 0))
    pw_fuzz_fail("http: the server sent something that is not an HTTP/1.1 response");
  free(c.sent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exchange(pw_http_port(srv[0]), data, size);
  exchange(pw_http_port(srv[1]), data, size);
  return 0;
}
