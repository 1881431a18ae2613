/*
 * http: the status server of CONTRACT section 7, an HTTP/1.1 server on the daemon's own libuv
 * loop, parsed by http-parser. It only reads: every page is built from the daemon's state in
 * memory (verdicts, source health), the section 5 document is judged from the journal in
 * memory, and graphs come from the graph cache, which renders on the thread pool. Nothing a
 * client sends reaches a file.
 *
 * Limits are explicit: 8 KB of request line and headers (431 beyond), no request body beyond
 * 4 KB (413), daemon.http_timeout for a whole request and for an idle keep-alive connection
 * (a client sending a byte a second is cut off with 408), and daemon.http_max_connections at
 * once (503 beyond). Pipelined requests are answered in order: the parser pauses after each
 * request until its response is written.
 */
#define PW_LOG_MODULE "http"
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alerting.h"
#include "clock.h"
#include "dashboard.h"
#include "log.h"
#include "metrics.h"
#include "daemon.h"
#include "status.h"

#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_BODY 4096
#define HTTP_MAX_PENDING 65536 /* pipelined bytes held while a response is being written */
#define HTTP_READ_BUF 65536

struct http_conn;

struct pw_httpd {
  struct pw_daemon *d;
  uv_tcp_t *listener; /* NULL when not listening; freed in its close callback */
  char listen[256];   /* the address listened on */
  struct http_conn *conns;
  int n_conns;
  http_parser_settings settings;
  char rbuf[HTTP_READ_BUF]; /* reads are handled at once, so one buffer serves all */
};

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  struct pw_httpd *srv;
  struct http_conn *prev, *next;
  http_parser parser;
  int handles; /* open handles; the connection is freed when the last one closes */
  int closing;

  /* The request being read. */
  struct pw_buf url;
  char field[16]; /* the header name being read, when it may be Authorization */
  size_t field_len;
  int field_long;
  int value_is_auth;
  int last_was_value;
  struct pw_buf auth;
  size_t body_len;
  int error_status; /* set by a callback that refused the request */
  int complete;     /* a whole request was read; the parser is paused until it is answered */
  int keep_alive;
  int head;

  /* The response. */
  int waiting_graph;
  int writing;
  int close_after;
  int lingering; /* answered and shut down for writing; reading what is left until EOF */
  uv_write_t wr;
  uv_shutdown_t shut;
  struct pw_buf out;
  char *pending; /* pipelined bytes read past the current request */
  size_t pending_len;
};

static void conn_close(struct http_conn *c);
static void conn_feed(struct http_conn *c, const char *data, size_t len);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static const char *reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Error";
  }
}

static uint64_t timeout_ms(const struct http_conn *c) {
  int64_t s = c->srv->d->conf->daemon.http_timeout;

  return (uint64_t)(s > 0 ? s : 10) * 1000;
}

static void on_timeout(uv_timer_t *t);

static void arm_timer(struct http_conn *c) {
  uv_timer_start(&c->timer, on_timeout, timeout_ms(c), 0);
}

static void on_handle_closed(uv_handle_t *h) {
  struct http_conn *c = h->data;

  if (--c->handles > 0)
    return;
  pw_buf_free(&c->url);
  pw_buf_free(&c->auth);
  pw_buf_free(&c->out);
  free(c->pending);
  free(c);
}

static void conn_close(struct http_conn *c) {
  struct pw_httpd *srv = c->srv;

  if (c->closing)
    return;
  c->closing = 1;
  if (c->waiting_graph)
    pw_graphcache_cancel(srv->d->graphs, c);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  srv->n_conns--;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

/* Closing at once could reset the connection while the client's unread bytes (the rest of an
 * oversized request, a request past the connection cap) are pending, and a reset can destroy
 * the answer before the client reads it. So: shut down our side, read and discard until the
 * client closes, at most two seconds. */
static void linger(struct http_conn *c) {
  if (c->closing || c->lingering)
    return;
  c->lingering = 1;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, 2000, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_write_done(uv_write_t *w, int status) {
  struct http_conn *c = w->data;
  char *rest;
  size_t rest_len;

  c->writing = 0;
  pw_buf_free(&c->out);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->close_after) {
    linger(c);
    return;
  }
  /* The next request may already be here (pipelining): feed what was held back. */
  c->complete = 0;
  arm_timer(c);
  http_parser_pause(&c->parser, 0);
  rest = c->pending;
  rest_len = c->pending_len;
  c->pending = NULL;
  c->pending_len = 0;
  if (rest != NULL) {
    conn_feed(c, rest, rest_len);
    free(rest);
  }
  if (!c->closing && !c->complete)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Queues the response: status line, headers and (unless HEAD) BODY. */
static void respond(struct http_conn *c, int status, const char *type, const void *body, size_t len,
                    const char *extra) {
  uv_buf_t b;
  int rc;

  if (c->closing)
    return;
  if (status >= 400 && status != 401 && status != 404 && status != 405)
    c->close_after = 1; /* the request may not have been read whole */
  if (!c->keep_alive)
    c->close_after = 1;
  c->out.limit = 0;
  rc = pw_buf_printf(&c->out,
                     "HTTP/1.1 %d %s\r\nServer: pacewatch/%s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\nConnection: %s\r\n%s\r\n",
                     status, reason(status), PW_VERSION, type, len,
                     c->close_after ? "close" : "keep-alive", extra ? extra : "");
  if (rc == 0 && !c->head && len > 0)
    rc = pw_buf_append(&c->out, body, len);
  if (rc < 0) {
    conn_close(c);
    return;
  }
  b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  c->wr.data = c;
  c->writing = 1;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) < 0) {
    c->writing = 0;
    conn_close(c);
  }
}

static void respond_text(struct http_conn *c, int status, const char *text, const char *extra) {
  respond(c, status, "text/plain; charset=utf-8", text, strlen(text), extra);
}

/* The daemon's state as the pages see it. */
static void make_view(struct pw_daemon *d, struct pw_view *v,
                      const struct pw_source_health **health) {
  int i;

  memset(v, 0, sizeof(*v));
  v->conf = d->conf;
  v->verdicts = d->verdicts;
  for (i = 0; i < d->conf->n_sources; i++)
    health[i] = pw_sched_health(d->sched, i);
  v->health = health;
  v->now = pw_clock_now();
  v->started = d->started;
  v->journal_lines = d->journal->lines;
  pw_alerting_queue_sizes(d->alerting, &v->queued, &v->dead, &v->batched);
}

/* /metrics and /: built from a view into the response. */
static void respond_page(struct http_conn *c, int metrics) {
  struct pw_daemon *d = c->srv->d;
  const struct pw_source_health **health = calloc((size_t)d->conf->n_sources + 1, sizeof(*health));
  struct pw_buf page = {0};
  struct pw_view v;
  int rc;

  if (health == NULL) {
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  make_view(d, &v, health);
  rc = metrics ? pw_metrics_write(&page, &v) : pw_dashboard_write(&page, &v);
  free(health);
  if (rc < 0)
    respond_text(c, 500, "the page could not be built\n", NULL);
  else
    respond(c, 200,
            metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/html; charset=utf-8",
            page.data, page.len, NULL);
  pw_buf_free(&page);
}

static void respond_status(struct http_conn *c) {
  struct pw_daemon *d = c->srv->d;
  json_t *doc = pw_status_json(d->conf, d->journal->series, pw_clock_now());
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

  if (text == NULL)
    respond_text(c, 500, "the status could not be built\n", NULL);
  else
    respond(c, 200, "application/json; charset=utf-8", text, strlen(text), NULL);
  free(text);
  json_decref(doc);
}

static void graph_ready(const unsigned char *data, size_t len, void *arg) {
  struct http_conn *c = arg;
  const char *path = c->url.data;

  c->waiting_graph = 0;
  if (data == NULL)
    respond_text(c, 500, "the graph could not be rendered (see the daemon's log)\n", NULL);
  else
    respond(c, 200, strstr(path, ".svg") ? "image/svg+xml" : "image/png", data, len, NULL);
}

/* /graphs/<id>.png or .svg, ?size=small for the dashboard's 400x150. */
static void respond_graph(struct http_conn *c, const char *name, size_t name_len,
                          const char *query) {
  struct pw_daemon *d = c->srv->d;
  char id[80];
  int svg, ind, rc;

  if (name_len > 4 && memcmp(name + name_len - 4, ".png", 4) == 0)
    svg = 0;
  else if (name_len > 4 && memcmp(name + name_len - 4, ".svg", 4) == 0)
    svg = 1;
  else {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  /* Only configured ids are served: nothing in the path can name a file. */
  if (name_len - 4 >= sizeof(id)) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  memcpy(id, name, name_len - 4);
  id[name_len - 4] = '\0';
  ind = pw_config_indicator_index(d->conf, id);
  if (ind < 0) {
    respond_text(c, 404, "no such indicator\n", NULL);
    return;
  }
  c->waiting_graph = 1;
  rc = pw_graphcache_get(d->graphs, ind, svg, query != NULL && strstr(query, "size=small") != NULL,
                         graph_ready, c);
  if (rc < 0) {
    c->waiting_graph = 0;
    respond_text(c, 503, "the graph cannot be rendered now\n", NULL);
  }
}

/* Constant-time check of "Authorization: Bearer <token>": both sides are hashed first, so the
 * comparison takes the same time whatever the length or content of what was sent. */
static int authorized(const struct http_conn *c, const char *token) {
  unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
  const char *a = c->auth.data ? c->auth.data : "";

  if (strncasecmp(a, "Bearer ", 7) != 0)
    return 0;
  a += 7;
  while (*a == ' ')
    a++;
  SHA256((const unsigned char *)token, strlen(token), want);
  SHA256((const unsigned char *)a, strlen(a), got);
  return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

static void dispatch(struct http_conn *c) {
  struct pw_daemon *d = c->srv->d;
  const char *token = d->conf->daemon.http_token;
  struct http_parser_url u;
  char path[HTTP_MAX_HEADER], query[HTTP_MAX_HEADER];
  int method = c->parser.method;

  c->head = method == HTTP_HEAD;
  if (c->error_status != 0) {
    respond_text(c, c->error_status, reason(c->error_status), NULL);
    return;
  }
  http_parser_url_init(&u);
  if (c->url.data == NULL ||
      http_parser_parse_url(c->url.data, c->url.len, method == HTTP_CONNECT, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    respond_text(c, 400, "malformed request target\n", NULL);
    return;
  }
  snprintf(path, sizeof(path), "%.*s", (int)u.field_data[UF_PATH].len,
           c->url.data + u.field_data[UF_PATH].off);
  query[0] = '\0';
  if (u.field_set & (1 << UF_QUERY))
    snprintf(query, sizeof(query), "%.*s", (int)u.field_data[UF_QUERY].len,
             c->url.data + u.field_data[UF_QUERY].off);
  if (strcmp(path, "/healthz") != 0 && token[0] != '\0' && !authorized(c, token)) {
    respond_text(c, 401, "a bearer token is required\n",
                 "WWW-Authenticate: Bearer realm=\"pacewatch\"\r\n");
    return;
  }
  if (method != HTTP_GET && method != HTTP_HEAD) {
    respond_text(c, 405, "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
    return;
  }
  if (strcmp(path, "/healthz") == 0)
    respond_text(c, 200, "ok\n", NULL);
  else if (strcmp(path, "/metrics") == 0)
    respond_page(c, 1);
  else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
    respond_page(c, 0);
  else if (strcmp(path, "/api/v1/status") == 0)
    respond_status(c);
  else if (strncmp(path, "/graphs/", 8) == 0 && strchr(path + 8, '/') == NULL)
    respond_graph(c, path + 8, strlen(path + 8), query);
  else
    respond_text(c, 404, "not found\n", NULL);
}

/* http-parser callbacks: the request is gathered into the connection. */

static struct http_conn *conn_of(http_parser *p) {
  return p->data;
}

static int on_message_begin(http_parser *p) {
  struct http_conn *c = conn_of(p);

  pw_buf_free(&c->url);
  pw_buf_free(&c->auth);
  c->url.limit = HTTP_MAX_HEADER;
  c->auth.limit = 1024;
  c->field_len = 0;
  c->field_long = 0;
  c->value_is_auth = 0;
  c->last_was_value = 0;
  c->body_len = 0;
  c->error_status = 0;
  arm_timer(c); /* the whole request must arrive within the timeout */
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = conn_of(p);

  if (pw_buf_append(&c->url, at, len) < 0) {
    c->error_status = 431;
    return -1;
  }
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = conn_of(p);

  if (c->last_was_value) {
    c->field_len = 0;
    c->field_long = 0;
    c->last_was_value = 0;
  }
  if (c->field_len + len >= sizeof(c->field))
    c->field_long = 1;
  else {
    memcpy(c->field + c->field_len, at, len);
    c->field_len += len;
  }
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = conn_of(p);

  if (!c->last_was_value) {
    c->last_was_value = 1;
    c->value_is_auth =
        !c->field_long && c->field_len == 13 && strncasecmp(c->field, "authorization", 13) == 0;
    if (c->value_is_auth)
      pw_buf_free(&c->auth);
  }
  if (c->value_is_auth && pw_buf_append(&c->auth, at, len) < 0) {
    c->error_status = 431;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = conn_of(p);

  (void)at;
  c->body_len += len;
  if (c->body_len > HTTP_MAX_BODY) {
    c->error_status = 413;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct http_conn *c = conn_of(p);

  c->complete = 1;
  c->keep_alive = http_should_keep_alive(p);
  /* One request at a time: the rest of the bytes wait until this one is answered. */
  http_parser_pause(p, 1);
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct http_conn *c = h->data;

  (void)suggested;
  *buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void hold_back(struct http_conn *c, const char *data, size_t len) {
  char *p;

  if (len == 0)
    return;
  if (c->pending_len + len > HTTP_MAX_PENDING ||
      (p = realloc(c->pending, c->pending_len + len)) == NULL) {
    conn_close(c);
    return;
  }
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
}

static void conn_feed(struct http_conn *c, const char *data, size_t len) {
  size_t used;
  enum http_errno e;

  if (c->complete) {
    /* A response is being prepared: keep the bytes and stop reading until it is written. */
    uv_read_stop((uv_stream_t *)&c->tcp);
    hold_back(c, data, len);
    return;
  }
  used = http_parser_execute(&c->parser, &c->srv->settings, data, len);
  e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_PAUSED) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    hold_back(c, data + used, len - used);
    if (!c->closing)
      dispatch(c);
    return;
  }
  if (e != HPE_OK) {
    int status = c->error_status ? c->error_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->keep_alive = 0;
    c->complete = 1;
    c->head = 0;
    respond_text(c, status,
                 status == 431   ? "request header too large\n"
                 : status == 413 ? "request body too large\n"
                                 : "malformed request\n",
                 NULL);
  }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct http_conn *c = s->data;

  if (n < 0) {
    /* End of stream or an error: a request half-read is abandoned, a response being written
     * is cut short (the client left). */
    conn_close(c);
    return;
  }
  if (n > 0 && !c->lingering)
    conn_feed(c, buf->base, (size_t)n);
}

static void on_timeout(uv_timer_t *t) {
  struct http_conn *c = t->data;

  if (c->lingering) {
    conn_close(c);
    return;
  }
  if (c->writing || c->waiting_graph) {
    /* A slow render or a slow reader: give it one more period, then give up. */
    if (c->close_after) {
      conn_close(c);
      return;
    }
    c->close_after = 1;
    arm_timer(c);
    return;
  }
  if (c->parser.nread > 0 && !c->complete) {
    /* A request started but did not finish in time (a byte a second, say). */
    c->keep_alive = 0;
    c->complete = 1;
    c->head = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    respond_text(c, 408, "request timeout\n", NULL);
    return;
  }
  conn_close(c); /* idle keep-alive connection */
}

static void reject_written(uv_write_t *w, int status) {
  if (status < 0)
    conn_close(w->data);
  else
    linger(w->data);
}

static void on_connection(uv_stream_t *server, int status) {
  struct pw_httpd *srv = server->data;
  struct http_conn *c;

  if (status < 0) {
    pw_log_warn("accept on %s: %s", srv->listen, uv_strerror(status));
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->srv = srv;
  uv_tcp_init(srv->d->loop, &c->tcp);
  uv_timer_init(srv->d->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = srv->conns;
  if (srv->conns != NULL)
    srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (srv->n_conns > srv->d->conf->daemon.http_max_connections) {
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 32\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
                               "too many connections, try later\n";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof(busy) - 1);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, reject_written) < 0)
      conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  arm_timer(c);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_listener_closed(uv_handle_t *h) {
  free(h);
}

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" into an address. */
static int resolve(const char *text, struct sockaddr_storage *ss) {
  char host[128];
  const char *colon = strrchr(text, ':');
  long port;
  char *end;

  if (colon == NULL)
    return -EINVAL;
  port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535 || colon == text + strlen(text) - 1)
    return -EINVAL;
  if (text[0] == '[') {
    if (colon == text || colon[-1] != ']' || (size_t)(colon - text - 2) >= sizeof(host))
      return -EINVAL;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - text - 2), text + 1);
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
  }
  if ((size_t)(colon - text) >= sizeof(host))
    return -EINVAL;
  snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
  if (host[0] == '\0')
    pw_strlcpy(host, "0.0.0.0", sizeof(host));
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
    return 0;
  return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
}

/* A new listener on ADDR, or NULL with the reason logged. */
static uv_tcp_t *listen_on(struct pw_httpd *srv, const char *addr) {
  struct sockaddr_storage ss;
  uv_tcp_t *t;
  int rc;

  memset(&ss, 0, sizeof(ss));
  rc = resolve(addr, &ss);
  if (rc < 0) {
    pw_log_error("daemon.http_listen '%s' is not an address: use \"127.0.0.1:9464\" or "
                 "\"[::1]:9464\"",
                 addr);
    return NULL;
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  uv_tcp_init(srv->d->loop, t);
  t->data = srv;
  rc = uv_tcp_bind(t, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)t, 511, on_connection);
  if (rc < 0) {
    pw_log_error("status server: cannot listen on %s: %s", addr, uv_strerror(rc));
    uv_close((uv_handle_t *)t, on_listener_closed);
    return NULL;
  }
  pw_log_info("status server listening on http://%s/", addr);
  return t;
}

int pw_http_start(struct pw_daemon *d) {
  struct pw_httpd *srv;
  const char *addr = d->conf->daemon.http_listen;

  if (addr[0] == '\0')
    return 0;
  srv = calloc(1, sizeof(*srv));
  if (srv == NULL)
    return -ENOMEM;
  srv->d = d;
  srv->settings.on_message_begin = on_message_begin;
  srv->settings.on_url = on_url;
  srv->settings.on_header_field = on_header_field;
  srv->settings.on_header_value = on_header_value;
  srv->settings.on_body = on_body;
  srv->settings.on_message_complete = on_message_complete;
  http_parser_set_max_header_size(HTTP_MAX_HEADER);
  d->http = srv;
  srv->listener = listen_on(srv, addr);
  if (srv->listener == NULL)
    return -EADDRINUSE;
  pw_strlcpy(srv->listen, addr, sizeof(srv->listen));
  return 0;
}

void pw_http_reload(struct pw_daemon *d) {
  struct pw_httpd *srv = d->http;
  const char *addr = d->conf->daemon.http_listen;
  uv_tcp_t *t = NULL;

  if (srv == NULL) {
    if (addr[0] != '\0' && pw_http_start(d) < 0)
      pw_log_error("status server not started after the reload");
    return;
  }
  if (strcmp(srv->listen, addr) == 0)
    return;
  /* The new address first: if it cannot be had, the old one keeps serving. */
  if (addr[0] != '\0' && (t = listen_on(srv, addr)) == NULL) {
    pw_log_error("status server stays on %s", srv->listen);
    return;
  }
  if (srv->listener != NULL)
    uv_close((uv_handle_t *)srv->listener, on_listener_closed);
  srv->listener = t;
  pw_strlcpy(srv->listen, addr, sizeof(srv->listen));
}

void pw_http_stop(struct pw_daemon *d) {
  struct pw_httpd *srv = d->http;

  if (srv == NULL)
    return;
  if (srv->listener != NULL) {
    uv_close((uv_handle_t *)srv->listener, on_listener_closed);
    srv->listener = NULL;
  }
  while (srv->conns != NULL)
    conn_close(srv->conns);
}

void pw_http_free(struct pw_daemon *d) {
  free(d->http);
  d->http = NULL;
}
