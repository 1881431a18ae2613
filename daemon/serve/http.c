/*
 * http: the status server of docs/http.md (serve/http.h), an HTTP/1.1 server on the daemon's
 * own libuv loop, parsed by http-parser. It only reads: every page is built from the view the
 * program provides (verdicts, source health), the status document is judged from the
 * journal's series in memory, and graphs come from the program's graph provider, which
 * renders on the thread pool. Nothing a client sends reaches a file. The one route that takes
 * something in is the departments' reporting page (/report/, report_page.h): a figure sent
 * under a department's token is handed to the program's submit callback, which stores it and
 * answers; failed tokens are limited per client address (rate[]).
 *
 * Limits are explicit: 8 KB of request line and headers (431 beyond), no request body beyond
 * 4 KB (413; 64 KiB for a reporting page's POST), daemon.http_timeout for a whole request and for
 * an idle keep-alive connection (a client sending a byte a second is cut off with 408), and
 * daemon.http_max_connections at once (503 beyond). Pipelined requests are answered in order: the
 * parser pauses after each request until its response is written.
 * A workbook uploaded to a reporting page has a body limit of its own, 2 MiB.
 *
 * A connection the listener reports is always accepted, even without memory for its state:
 * libuv stops reading a listener whose connection callback did not accept, so such a
 * connection is accepted into a spare handle and closed at once.
 */
#define PW_LOG_MODULE "http"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "briefings.h"
#include "clock.h"
#include "dashboard.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "report_page.h"
#include "status.h"
#include "tokens.h"
#include "util.h"
#include "value.h"

#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_BODY 4096
#define HTTP_MAX_REPORT_BODY 65536 /* a reporting page's POST (docs/http.md) */
#define HTTP_MAX_TOKEN 256         /* an X-Pacewatch-Token header */

/* A reporting page's workbook (docs/http.md "Uploading a workbook"). */
#define HTTP_MAX_UPLOAD_BODY (2u << 20)

/* Failed tokens: at most RL_FAILS per client address within RL_WINDOW_MS, then 429 until the
 * window ends; RL_SLOTS addresses are remembered (the least recently seen is forgotten). */
#define RL_SLOTS 256
#define RL_FAILS 5
#define RL_WINDOW_MS 60000
#define HTTP_MAX_PENDING 65536 /* pipelined bytes held while a response is being written */
#define HTTP_READ_BUF 65536

struct http_conn;

struct rate_slot {
  char addr[48];
  uint64_t first_ms; /* the first failure of the window */
  uint64_t seen_ms;
  int fails;
};

struct pw_http {
  uv_loop_t *loop;
  struct pw_config *conf; /* the generation served (a reference of our own) */
  struct pw_http_view view;
  uv_tcp_t *listener; /* NULL when not listening; freed in its close callback */
  char listen[256];   /* the address listened on */
  struct http_conn *conns;
  int n_conns;
  int stopped;
  http_parser_settings settings;
  /* Connections refused for want of memory are accepted into this handle and closed. While it
   * closes, a further one waits unaccepted (libuv then pauses that listener) until it is free. */
  uv_tcp_t spare;
  int spare_busy;
  uv_stream_t *refuse_pending;
  int fail_allocations; /* tests: connections still to refuse as if out of memory */
  struct rate_slot rate[RL_SLOTS];
  char rbuf[HTTP_READ_BUF]; /* reads are handled at once, so one buffer serves all */
};

struct pw_http_request {
  struct http_conn *conn;
};

/* A submission lives on its own: the program answers it after the journal is fsync'd, when
 * the connection may have gone (CONN is then NULL). */
struct pw_http_submit {
  struct http_conn *conn;
};

enum header_kind { H_OTHER, H_AUTH, H_TOKEN, H_TYPE, H_XFF };

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  struct pw_http *srv;
  struct http_conn *prev, *next;
  http_parser parser;
  int handles; /* open handles; the connection is freed when the last one closes */
  int closing;

  /* The request being read. */
  struct pw_buf url;
  char field[24]; /* the header name being read, when it may be one we keep */
  size_t field_len;
  int field_long;
  enum header_kind value_kind;
  int last_was_value;
  struct pw_buf auth;
  struct pw_buf token; /* X-Pacewatch-Token */
  char ctype[64];      /* Content-Type, cut short */
  char xff[512];       /* X-Forwarded-For; "" when absent or longer */
  int xff_long;
  size_t body_len;
  struct pw_buf body; /* kept for a reporting page's POST only */
  int upload;         /* the request is a reporting page's workbook (its own body limit) */
  char addr[48];      /* the client's address */
  int error_status;   /* set by a callback that refused the request */
  int complete;       /* a whole request was read; the parser is paused until it is answered */
  int started;        /* a request began and is not yet whole (its headers may be in) */
  int keep_alive;
  int head;

  /* A graph being waited for: the generation it was asked under is held until the answer. */
  int waiting_graph;
  int graph_svg;
  struct pw_config *graph_conf;
  struct pw_http_request graph_req;

  /* A reporting page's figure being stored (NULL when none). */
  struct pw_http_submit *ticket;

  /* A /briefings/ answer, or /metrics' process figures, being read on the thread pool (NULL
   * when none). */
  struct briefings_job *file_job;

  /* The response. */
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
static void dispatch_report(struct http_conn *c, int method, const char *rest);
static void briefings_orphan(struct http_conn *c);
static void conn_feed(struct http_conn *c, const char *data, size_t len);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static const char *reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 301:
    return "Moved Permanently";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
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
  int64_t s = c->srv->conf->daemon.http_timeout;

  return (uint64_t)(s > 0 ? s : 10) * 1000;
}

static void on_timeout(uv_timer_t *t);

/* (Re)starts the connection's timer; a failure closes the connection, since it could otherwise
 * stay open for ever. Returns 0 or -1 (closed). */
static int arm_timer_ms(struct http_conn *c, uint64_t ms) {
  int rc = uv_timer_start(&c->timer, on_timeout, ms, 0);

  if (rc < 0) {
    pw_log_warn("connection timer: %s", uv_strerror(rc));
    conn_close(c);
    return -1;
  }
  return 0;
}

static int arm_timer(struct http_conn *c) {
  return arm_timer_ms(c, timeout_ms(c));
}

/* Starts reading; a failure closes the connection. Returns 0 or -1 (closed). */
static int start_reading(struct http_conn *c) {
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);

  if (rc < 0) {
    pw_log_warn("connection read: %s", uv_strerror(rc));
    conn_close(c);
    return -1;
  }
  return 0;
}

/* uv_read_stop cannot fail (libuv documents it as always succeeding). */
static void stop_reading(struct http_conn *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
}

/* The graph wait of C ends: the generation it held is let go. */
static void graph_wait_end(struct http_conn *c) {
  c->waiting_graph = 0;
  pw_config_free(c->graph_conf);
  c->graph_conf = NULL;
}

static void on_handle_closed(uv_handle_t *h) {
  struct http_conn *c = h->data;

  if (--c->handles > 0)
    return;
  pw_buf_free(&c->url);
  pw_buf_free(&c->auth);
  pw_buf_free(&c->token);
  pw_buf_free(&c->body);
  pw_buf_free(&c->out);
  free(c->pending);
  free(c);
}

static void conn_close(struct http_conn *c) {
  struct pw_http *srv = c->srv;

  if (c->closing)
    return;
  c->closing = 1;
  if (c->waiting_graph) {
    srv->view.graph_cancel(srv->view.ctx, &c->graph_req);
    graph_wait_end(c);
  }
  if (c->file_job != NULL)
    briefings_orphan(c);
  if (c->ticket != NULL) {
    c->ticket->conn = NULL; /* stored all the same; the answer has nobody to go to */
    c->ticket = NULL;
  }
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
  if (arm_timer_ms(c, 2000) == 0)
    start_reading(c);
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
  c->complete = c->started = 0;
  if (arm_timer(c) < 0)
    return;
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
    start_reading(c);
}

/* Queues the response: status line, headers and (unless HEAD) BODY. */
static void respond(struct http_conn *c, int status, const char *type, const void *body, size_t len,
                    const char *extra) {
  uv_buf_t b;
  int rc;

  if (c->closing)
    return;
  if (status >= 400 && status != 401 && status != 403 && status != 404 && status != 405 &&
      status != 422 && status != 429)
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

/* The program's state as the pages see it; RECEIVERS (room for every receiver) takes the
 * notification counts, or is NULL when the page shows none. Returns 0, or -1 when the program
 * no longer serves the generation this server holds (a reload is being applied). */
static int make_view(struct pw_http *srv, struct pw_view *v, const struct pw_source_health **health,
                     struct pw_receiver_counts *receivers) {
  const struct pw_http_view *pv = &srv->view;
  const struct pw_config *conf = srv->conf;
  int i;

  memset(v, 0, sizeof(*v));
  v->conf = conf;
  v->verdicts = pv->verdicts(pv->ctx, conf);
  if (v->verdicts == NULL || (v->series = pv->series(pv->ctx, conf, &v->journal_lines)) == NULL)
    return -1;
  for (i = 0; i < conf->n_sources; i++)
    health[i] = pv->source_health(pv->ctx, conf, i);
  v->health = health;
  v->now = pw_clock_now();
  v->started = pv->started;
  v->uptime = pw_clock_real_ms() / 1000 - pv->started;
  v->queued = v->dead = v->batched = -1;
  if (pv->queue_sizes != NULL)
    pv->queue_sizes(pv->ctx, &v->queued, &v->dead, &v->batched);
  if (pv->corrupt_files != NULL)
    pv->corrupt_files(pv->ctx, &v->corrupt_alerts, &v->corrupt_silences);
  v->loop = pv->loopstat;
  v->reload = pv->reload;
  if (pv->receiver_counts != NULL && receivers != NULL) {
    for (i = 0; i < conf->n_receivers; i++) {
      receivers[i].receiver = conf->receivers[i].id;
      pv->receiver_counts(pv->ctx, receivers[i].receiver, &receivers[i].sent, &receivers[i].failed);
    }
    v->receivers = receivers;
    v->n_receivers = conf->n_receivers;
  }
  if (pv->alerts_firing != NULL) {
    pv->alerts_firing(pv->ctx, v->firing);
    v->has_firing = 1;
  }
  return 0;
}

/* /metrics (with PROCESS, the figures read on the thread pool) and / (PROCESS NULL): built from
 * a view into the response. */
static void respond_page(struct http_conn *c, int metrics, const struct pw_procstat *process) {
  struct pw_http *srv = c->srv;
  const struct pw_source_health **health =
      calloc((size_t)srv->conf->n_sources + 1, sizeof(*health));
  struct pw_receiver_counts *receivers =
      calloc((size_t)srv->conf->n_receivers + 1, sizeof(*receivers));
  struct pw_buf page = {0};
  struct pw_view v;
  int rc;

  if (health == NULL || receivers == NULL) {
    free(health);
    free(receivers);
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  if (make_view(srv, &v, health, receivers) < 0) {
    free(health);
    free(receivers);
    respond_text(c, 503, "the configuration is being reloaded, try again\n", NULL);
    return;
  }
  v.process = process;
  rc = metrics ? pw_metrics_write(&page, &v) : pw_dashboard_write(&page, &v);
  free(health);
  free(receivers);
  if (rc < 0)
    respond_text(c, 500, "the page could not be built\n", NULL);
  else
    respond(c, 200,
            metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/html; charset=utf-8",
            page.data, page.len, NULL);
  pw_buf_free(&page);
}

static void respond_status(struct http_conn *c) {
  struct pw_http *srv = c->srv;
  uint64_t lines;
  const struct pw_series *series = srv->view.series(srv->view.ctx, srv->conf, &lines);
  json_t *doc;
  char *text;

  if (series == NULL) {
    respond_text(c, 503, "the configuration is being reloaded, try again\n", NULL);
    return;
  }
  doc = pw_status_json(srv->conf, series, pw_clock_now());
  text = doc ? pw_json_dumps(doc, JSON_COMPACT) : NULL;
  if (text == NULL)
    respond_text(c, 500, "the status could not be built\n", NULL);
  else
    respond(c, 200, "application/json; charset=utf-8", text, strlen(text), NULL);
  free(text);
  json_decref(doc);
}

void pw_http_graph_ready(struct pw_http_request *request, const unsigned char *data, size_t len) {
  struct http_conn *c = request->conn;

  if (!c->waiting_graph)
    return;
  graph_wait_end(c);
  if (data == NULL)
    respond_text(c, 500, "the graph could not be rendered (see the daemon's log)\n", NULL);
  else
    respond(c, 200, c->graph_svg ? "image/svg+xml" : "image/png", data, len, NULL);
}

/* /graphs/<id>.png or .svg, ?size=small for the dashboard's 400x150. */
static void respond_graph(struct http_conn *c, const char *name, size_t name_len,
                          const char *query) {
  struct pw_http *srv = c->srv;
  char id[80];
  int svg, rc;

  if (name_len > 4 && memcmp(name + name_len - 4, ".png", 4) == 0)
    svg = 0;
  else if (name_len > 4 && memcmp(name + name_len - 4, ".svg", 4) == 0)
    svg = 1;
  else {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  /* Only ids of the current generation are served: nothing in the path can name a file. */
  if (name_len - 4 >= sizeof(id)) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  memcpy(id, name, name_len - 4);
  id[name_len - 4] = '\0';
  if (pw_config_indicator_index(srv->conf, id) < 0) {
    respond_text(c, 404, "no such indicator\n", NULL);
    return;
  }
  /* The provider may answer before it returns (a cached graph): the wait is set up first. */
  c->waiting_graph = 1;
  c->graph_svg = svg;
  c->graph_conf = pw_config_ref(srv->conf);
  c->graph_req.conn = c;
  rc = srv->view.graph_get(srv->view.ctx, id, svg,
                           query != NULL && strstr(query, "size=small") != NULL, &c->graph_req);
  if (rc < 0) {
    graph_wait_end(c);
    respond_text(c, 503, "the graph cannot be rendered now\n", NULL);
  }
}

/* ---- /briefings/ (docs/http.md): the list and each week's files, read on the thread pool
 * (briefings.h); the connection waits as for a graph. ---- */

struct briefings_job {
  uv_work_t work;
  struct http_conn *c; /* NULL once the connection went away */
  char dir[4200];
  char name[160];
  struct pw_briefings_answer a;
  /* /metrics: the process figures are read instead (procstat.h), and the page is built from
   * them on the loop. */
  int metrics;
  struct pw_procstat process;
};

static void briefings_orphan(struct http_conn *c) {
  c->file_job->c = NULL;
  c->file_job = NULL;
}

static void briefings_work(uv_work_t *w) {
  struct briefings_job *job = w->data;

  if (job->metrics)
    pw_procstat_read(&job->process);
  else
    pw_briefings_answer(job->dir, job->name, &job->a);
}

static void briefings_done(uv_work_t *w, int status) {
  struct briefings_job *job = w->data;
  struct http_conn *c = job->c;

  if (c != NULL && job->metrics) {
    c->file_job = NULL;
    /* Without the process figures (the pool refused the work) the page is still served. */
    respond_page(c, 1, status < 0 ? NULL : &job->process);
  } else if (c != NULL) {
    c->file_job = NULL;
    if (status < 0 || job->a.status == 0)
      respond_text(c, 500, "the briefing cannot be read\n", NULL);
    else
      respond(c, job->a.status, job->a.type, job->a.body, job->a.len, job->a.extra);
  }
  free(job->a.body);
  free(job);
}

static void respond_briefings(struct http_conn *c, const char *name) {
  struct pw_http *srv = c->srv;
  struct briefings_job *job;
  int rc;

  /* Only the names briefings.h knows are looked for; nothing else reaches the file system. */
  if (strlen(name) >= sizeof(job->name) || pw_briefings_kind(name) == PW_BRIEFINGS_NONE) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  snprintf(job->dir, sizeof(job->dir), "%s/briefings", srv->conf->daemon.state_dir);
  snprintf(job->name, sizeof(job->name), "%s", name);
  job->c = c;
  job->work.data = job;
  c->file_job = job;
  rc = uv_queue_work(srv->loop, &job->work, briefings_work, briefings_done);
  if (rc != 0) {
    c->file_job = NULL;
    free(job);
    respond_text(c, 503, "the briefing cannot be read now\n", NULL);
  }
}

/* ---- /report/ (docs/http.md "Reporting page"): the department's page, its part and its
 * figures, under the department's token. ---- */

static void respond_json(struct http_conn *c, int status, const char *json, const char *extra) {
  respond(c, status, "application/json; charset=utf-8", json, strlen(json), extra);
}

/* A JSON document {"message": MSG} (and "field" when FIELD is set) as the answer. */
static void respond_message(struct http_conn *c, int status, const char *field, const char *msg,
                            const char *extra) {
  json_t *doc = field != NULL ? json_pack("{s:s,s:s}", "field", field, "message", msg)
                              : json_pack("{s:s}", "message", msg);
  char *text = doc != NULL ? pw_json_dumps(doc, JSON_COMPACT) : NULL;

  if (text == NULL)
    respond_text(c, 503, "out of memory\n", NULL);
  else
    respond_json(c, status, text, extra);
  free(text);
  json_decref(doc);
}

/* The rate limit's slot of ADDR, or NULL when it has none and CREATE is 0. A new address takes
 * the slot seen least recently. */
static struct rate_slot *rate_slot(struct pw_http *srv, const char *addr, int create) {
  struct rate_slot *oldest = &srv->rate[0];
  int i;

  for (i = 0; i < RL_SLOTS; i++) {
    if (srv->rate[i].addr[0] != '\0' && strcmp(srv->rate[i].addr, addr) == 0)
      return &srv->rate[i];
    if (srv->rate[i].seen_ms < oldest->seen_ms)
      oldest = &srv->rate[i];
  }
  if (!create)
    return NULL;
  memset(oldest, 0, sizeof(*oldest));
  pw_strlcpy(oldest->addr, addr, sizeof(oldest->addr));
  return oldest;
}

/* Seconds the client must still wait, 0 when it may try. The real clock (uv_now), never the
 * daemon's simulated one. */
static uint64_t rate_wait(struct pw_http *srv, const char *addr) {
  struct rate_slot *r = rate_slot(srv, addr, 0);
  uint64_t now = uv_now(srv->loop);

  if (r == NULL || now - r->first_ms >= RL_WINDOW_MS || r->fails < RL_FAILS)
    return 0;
  return (r->first_ms + RL_WINDOW_MS - now + 999) / 1000;
}

static void rate_fail(struct pw_http *srv, const char *addr) {
  struct rate_slot *r = rate_slot(srv, addr, 1);
  uint64_t now = uv_now(srv->loop);

  if (r->fails == 0 || now - r->first_ms >= RL_WINDOW_MS) {
    r->fails = 0;
    r->first_ms = now;
  }
  r->seen_ms = now;
  if (++r->fails == RL_FAILS)
    pw_log_warn("reporting page: %d wrong tokens from %s within a minute: refused for the rest "
                "of it",
                RL_FAILS, addr);
}

/* Decodes the LEN bytes of application/x-www-form-urlencoded text at S ('+' and %XX) into OUT
 * (at least LEN + 1 bytes). Returns 0 or -1 for a bad escape. */
static int form_decode(const char *s, size_t len, char *out) {
  size_t i, o = 0;

  for (i = 0; i < len; i++) {
    if (s[i] == '+') {
      out[o++] = ' ';
    } else if (s[i] == '%') {
      char hex[3] = {0};
      char *end;
      long v;
      if (len - i < 3)
        return -1;
      hex[0] = s[i + 1];
      hex[1] = s[i + 2];
      v = strtol(hex, &end, 16);
      if (end != hex + 2)
        return -1;
      out[o++] = (char)v;
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return 0;
}

/* The fields of a submission from BODY (JSON, or a form), each owned. */
struct fields {
  char *value, *as_of, *note;
};

static void fields_free(struct fields *f) {
  free(f->value);
  free(f->as_of);
  free(f->note);
}

/* The fields of a figure, and of an explanation (read into value, as_of and note in turn). */
static const char *const figure_names[3] = {"value", "as_of", "note"};
static const char *const explain_names[3] = {"reason", "measures", "catch_up"};

/* Reads the body of C into F, the fields NAMES into F's slots in order. Returns 0, or -EINVAL
 * with *FIELD and *MSG (Chinese) set. */
static int read_fields(struct http_conn *c, const char *const names[3], struct fields *f,
                       const char **field, const char **msg) {
  char **slots[] = {&f->value, &f->as_of, &f->note};
  const char *body = c->body.data != NULL ? c->body.data : "";
  size_t k, len = c->body.len;

  memset(f, 0, sizeof(*f));
  *field = NULL;
  *msg = "提交的内容无法识别，请刷新页面后重试。";
  if (strncasecmp(c->ctype, "application/x-www-form-urlencoded", 33) == 0) {
    const char *p = body, *end = body + len;
    while (p < end) {
      const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
      size_t n = amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);
      eq = memchr(p, '=', n);
      for (k = 0; eq != NULL && k < 3; k++)
        if ((size_t)(eq - p) == strlen(names[k]) && memcmp(p, names[k], (size_t)(eq - p)) == 0 &&
            *slots[k] == NULL) {
          size_t vn = n - (size_t)(eq - p) - 1;
          if ((*slots[k] = malloc(vn + 1)) == NULL || form_decode(eq + 1, vn, *slots[k]) < 0)
            return -EINVAL;
        }
      p += n + 1;
    }
  } else {
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(doc)) {
      json_decref(doc);
      return -EINVAL;
    }
    for (k = 0; k < 3; k++) {
      json_t *v = json_object_get(doc, names[k]);
      char num[64];
      if (json_is_string(v))
        *slots[k] = strdup(json_string_value(v));
      else if (json_is_number(v) && k == 0 && names == figure_names)
        *slots[k] = strdup(pw_value_format(json_number_value(v), num, sizeof(num)));
      else if (v != NULL && !json_is_null(v)) {
        *field = names[k];
        *msg = "格式不对，请重新填写。";
        json_decref(doc);
        return -EINVAL;
      }
    }
    json_decref(doc);
  }
  for (k = 0; k < 3; k++) {
    if (*slots[k] == NULL && (*slots[k] = strdup("")) == NULL)
      return -EINVAL;
    /* A NUL inside (from %00) or bytes that are not UTF-8 are no text anybody typed. */
    if (!pw_utf8_valid(*slots[k], strlen(*slots[k]))) {
      *field = names[k];
      *msg = "含有无法识别的字符，请重新填写。";
      return -EINVAL;
    }
  }
  return 0;
}

/* Whether A and B are the same numeric address. */
static int same_address(const char *a, const char *b) {
  unsigned char x[16], y[16];

  if (inet_pton(AF_INET, a, x) == 1)
    return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
  return inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
}

/* The client's address for the rate limit and the audit (docs/http.md "Behind HTTPS"): the
 * peer's, unless the peer is daemon.http_trusted_proxy; then the last entry of X-Forwarded-For
 * (the one the proxy itself added) when it is an address. Into OUT (48 bytes). */
static void client_address(const struct http_conn *c, char *out, size_t size) {
  const char *proxy = c->srv->conf->daemon.http_trusted_proxy, *last;
  char entry[64];
  unsigned char buf[16];
  size_t n;

  pw_strlcpy(out, c->addr, size);
  if (proxy == NULL || proxy[0] == '\0' || !same_address(c->addr, proxy) || c->xff_long ||
      c->xff[0] == '\0')
    return;
  last = strrchr(c->xff, ',');
  last = last != NULL ? last + 1 : c->xff;
  last += strspn(last, " \t");
  n = strcspn(last, " \t");
  if (n == 0 || n >= sizeof(entry))
    return;
  memcpy(entry, last, n);
  entry[n] = '\0';
  if (inet_pton(AF_INET, entry, buf) == 1 || inet_pton(AF_INET6, entry, buf) == 1)
    pw_strlcpy(out, entry, size);
}

/* The token sent, with surrounding blanks taken off, into TOK (LEN). */
static const char *sent_token(struct http_conn *c, size_t *len) {
  const char *t = c->token.data != NULL ? c->token.data : "";
  size_t n = c->token.len;

  while (n > 0 && (*t == ' ' || *t == '\t')) {
    t++;
    n--;
  }
  while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
    n--;
  *len = n;
  return t;
}

void pw_http_submit_done(struct pw_http_submit *ticket, int status, const char *json) {
  struct http_conn *c = ticket->conn;

  free(ticket);
  if (c == NULL)
    return;
  c->ticket = NULL;
  respond_json(c, status, json, NULL);
}

static void respond_report_view(struct http_conn *c, int dept) {
  struct pw_http *srv = c->srv;
  const struct pw_source_health **health =
      calloc((size_t)srv->conf->n_sources + 1, sizeof(*health));
  struct pw_buf page = {0};
  struct pw_view v;
  int rc;

  if (health == NULL) {
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  if (make_view(srv, &v, health, NULL) < 0) {
    free(health);
    respond_text(c, 503, "the configuration is being reloaded, try again\n", NULL);
    return;
  }
  rc = pw_report_page_view(&page, &v, dept);
  free(health);
  if (rc < 0)
    respond_text(c, 500, "the page could not be built\n", NULL);
  else
    respond(c, 200, "text/html; charset=utf-8", page.data, page.len, NULL);
  pw_buf_free(&page);
}

/* POST /report/<department>/upload (docs/http.md "Uploading a workbook"), the token checked:
 * the body, the workbook, is handed to the program, which reads it on the thread pool and
 * answers with a preview; nothing is stored. */
static void respond_upload(struct http_conn *c, int method, const char *dept_id) {
  struct pw_http *srv = c->srv;
  char *data;
  size_t len;

  if (srv->view.upload == NULL) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  if (method != HTTP_POST) {
    respond_text(c, 405, "only POST\n", "Allow: POST\r\n");
    return;
  }
  if (c->body.len == 0) {
    respond_message(c, 400, NULL, "请选择要上传的 Excel 文件（.xlsx）。", NULL);
    return;
  }
  c->ticket = calloc(1, sizeof(*c->ticket));
  if (c->ticket == NULL) {
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  c->ticket->conn = c;
  /* The body goes to the program as it is: no copy of up to 2 MiB. */
  data = c->body.data;
  len = c->body.len;
  c->body.data = NULL;
  c->body.len = c->body.cap = 0;
  srv->view.upload(srv->view.ctx, dept_id, data, len, c->ticket);
}

/* Whether TAIL, the path after "/report/<department>/", is one the reporting routes serve:
 * "view", "upload", "<indicator>" or "<indicator>/explanation" (when the program stores
 * explanations),
 * each part shorter than an id may be. */
static int report_tail_ok(const struct pw_http *srv, const char *tail) {
  const char *slash = strchr(tail, '/');

  if (slash == NULL)
    return strlen(tail) < 80;
  return srv->view.explain != NULL && slash > tail && (size_t)(slash - tail) < 80 &&
         strcmp(slash + 1, "explanation") == 0;
}

/* REST is the path after "/report/": "<department>", "<department>/view",
 * "<department>/upload", "<department>/<indicator>" or "<department>/<indicator>/explanation". */
static void dispatch_report(struct http_conn *c, int method, const char *rest) {
  struct pw_http *srv = c->srv;
  const struct pw_config *conf = srv->conf;
  const char *slash = strchr(rest, '/'), *tok, *field, *msg;
  char dept_id[80], ind_id[80], retry[64], addr[48], tok_id[9] = "";
  struct pw_report_submission sub;
  struct fields f;
  size_t tok_len;
  uint64_t wait;
  int dept, ind, rc, explain;

  if (srv->view.tokens == NULL || srv->view.submit == NULL) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  if ((slash != NULL ? (size_t)(slash - rest) : strlen(rest)) >= sizeof(dept_id)) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  snprintf(dept_id, sizeof(dept_id), "%.*s",
           (int)(slash != NULL ? (size_t)(slash - rest) : strlen(rest)), rest);
  dept = pw_config_department_index(conf, dept_id);
  if (dept < 0 || (slash != NULL && (slash[1] == '\0' || !report_tail_ok(srv, slash + 1)))) {
    respond_text(c, 404, "not found\n", NULL);
    return;
  }
  if (slash == NULL) {
    /* The shell holds nothing of the department's: it needs no token (a link cannot send
     * one). */
    struct pw_buf page = {0};
    if (method != HTTP_GET && method != HTTP_HEAD) {
      respond_text(c, 405, "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
      return;
    }
    if (pw_report_page_shell(&page, conf, dept) < 0)
      respond_text(c, 503, "out of memory\n", NULL);
    else
      respond(c, 200, "text/html; charset=utf-8", page.data, page.len, pw_report_page_headers());
    pw_buf_free(&page);
    return;
  }
  client_address(c, addr, sizeof(addr));
  wait = rate_wait(srv, addr);
  if (wait > 0) {
    snprintf(retry, sizeof(retry), "Retry-After: %llu\r\n", (unsigned long long)wait);
    respond_message(c, 429, NULL, "尝试次数过多，请稍后再试。", retry);
    return;
  }
  tok = sent_token(c, &tok_len);
  rc = pw_tokens_match(srv->view.tokens(srv->view.ctx), tok, tok_len, dept_id, tok_id);
  if (rc == -EPERM) {
    rate_fail(srv, addr);
    respond_message(c, 401, NULL, "链接无效或已停用。", NULL);
    return;
  }
  if (rc < 0) {
    respond_message(c, 403, NULL, "此链接不能查看或报送该部门的指标。", NULL);
    return;
  }
  if (strcmp(slash + 1, "upload") == 0) {
    respond_upload(c, method, dept_id);
    return;
  }
  if (strcmp(slash + 1, "view") == 0) {
    if (method != HTTP_GET && method != HTTP_HEAD)
      respond_text(c, 405, "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
    else
      respond_report_view(c, dept);
    return;
  }
  /* "<indicator>/explanation" (report_tail_ok let through no other second slash). */
  explain = strchr(slash + 1, '/') != NULL;
  snprintf(ind_id, sizeof(ind_id), "%.*s", (int)strcspn(slash + 1, "/"), slash + 1);
  ind = pw_config_indicator_index(conf, ind_id);
  if (ind < 0) {
    respond_message(c, 404, NULL, "没有这项指标。", NULL);
    return;
  }
  if (conf->indicators[ind].department != dept) {
    respond_message(c, 403, NULL, "此链接不能查看或报送该部门的指标。", NULL);
    return;
  }
  if (method != HTTP_POST) {
    respond_text(c, 405, "only POST\n", "Allow: POST\r\n");
    return;
  }
  if (read_fields(c, explain ? explain_names : figure_names, &f, &field, &msg) < 0) {
    fields_free(&f);
    respond_message(c, field != NULL ? 422 : 400, field, msg, NULL);
    return;
  }
  c->ticket = calloc(1, sizeof(*c->ticket));
  if (c->ticket == NULL) {
    fields_free(&f);
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  c->ticket->conn = c;
  if (explain) {
    struct pw_report_explanation ex;
    ex.department = dept_id;
    ex.indicator = conf->indicators[ind].id;
    ex.reason = f.value;
    ex.measures = f.as_of;
    ex.catch_up = f.note;
    ex.address = addr;
    ex.token = tok_id;
    srv->view.explain(srv->view.ctx, &ex, c->ticket);
    fields_free(&f);
    return;
  }
  sub.department = dept_id;
  sub.indicator = conf->indicators[ind].id;
  sub.value = f.value;
  sub.as_of = f.as_of;
  sub.note = f.note;
  sub.address = addr;
  sub.token = tok_id;
  /* The program may answer before it returns (a refused figure): the ticket is set first. */
  srv->view.submit(srv->view.ctx, &sub, c->ticket);
  fields_free(&f);
}

/* /metrics: the process figures are read on the thread pool first (procstat.h lists
 * /proc/self/fd); the connection waits as for a briefing. */
static void respond_metrics(struct http_conn *c) {
  struct pw_http *srv = c->srv;
  struct briefings_job *job = calloc(1, sizeof(*job));

  if (job == NULL) {
    respond_text(c, 503, "out of memory\n", NULL);
    return;
  }
  job->metrics = 1;
  job->c = c;
  job->work.data = job;
  c->file_job = job;
  if (uv_queue_work(srv->loop, &job->work, briefings_work, briefings_done) != 0) {
    c->file_job = NULL;
    free(job);
    respond_page(c, 1, NULL);
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
  const char *token = c->srv->conf->daemon.http_token;
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
  /* The reporting routes have tokens of their own (a department's, never http_token). */
  if (strncmp(path, "/report/", 8) == 0) {
    dispatch_report(c, method, path + 8);
    return;
  }
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
    respond_metrics(c);
  else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
    respond_page(c, 0, NULL);
  else if (strcmp(path, "/api/v1/status") == 0)
    respond_status(c);
  else if (strncmp(path, "/graphs/", 8) == 0 && strchr(path + 8, '/') == NULL)
    respond_graph(c, path + 8, strlen(path + 8), query);
  else if (strcmp(path, "/briefings") == 0)
    respond(c, 301, "text/plain; charset=utf-8", "", 0, "Location: /briefings/\r\n");
  else if (strncmp(path, "/briefings/", 11) == 0 && strchr(path + 11, '/') == NULL)
    respond_briefings(c, path + 11);
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
  pw_buf_free(&c->token);
  pw_buf_free(&c->body);
  c->url.limit = HTTP_MAX_HEADER;
  c->auth.limit = 1024;
  c->token.limit = HTTP_MAX_TOKEN;
  c->body.limit = HTTP_MAX_REPORT_BODY;
  c->upload = 0;
  c->ctype[0] = '\0';
  c->xff[0] = '\0';
  c->xff_long = 0;
  c->field_len = 0;
  c->field_long = 0;
  c->value_kind = H_OTHER;
  c->last_was_value = 0;
  c->body_len = 0;
  c->error_status = 0;
  c->started = 1;
  /* The whole request must arrive within the timeout. */
  return arm_timer(c) < 0 ? -1 : 0;
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
    c->value_kind = H_OTHER;
    if (!c->field_long && c->field_len == 13 && strncasecmp(c->field, "authorization", 13) == 0)
      c->value_kind = H_AUTH;
    else if (!c->field_long && c->field_len == 17 &&
             strncasecmp(c->field, "x-pacewatch-token", 17) == 0)
      c->value_kind = H_TOKEN;
    else if (!c->field_long && c->field_len == 12 && strncasecmp(c->field, "content-type", 12) == 0)
      c->value_kind = H_TYPE;
    else if (!c->field_long && c->field_len == 15 &&
             strncasecmp(c->field, "x-forwarded-for", 15) == 0)
      c->value_kind = H_XFF;
    if (c->value_kind == H_AUTH)
      pw_buf_free(&c->auth);
    else if (c->value_kind == H_TOKEN)
      pw_buf_free(&c->token);
    else if (c->value_kind == H_TYPE)
      c->ctype[0] = '\0';
    else if (c->value_kind == H_XFF && c->xff[0] != '\0')
      c->xff_long = 1; /* several X-Forwarded-For headers: none is believed */
  }
  if (c->value_kind == H_XFF) {
    size_t have = strlen(c->xff);
    if (have + len >= sizeof(c->xff))
      c->xff_long = 1;
    else {
      memcpy(c->xff + have, at, len);
      c->xff[have + len] = '\0';
    }
  }
  if ((c->value_kind == H_AUTH && pw_buf_append(&c->auth, at, len) < 0) ||
      (c->value_kind == H_TOKEN && pw_buf_append(&c->token, at, len) < 0)) {
    c->error_status = 431;
    return -1;
  }
  if (c->value_kind == H_TYPE) {
    size_t have = strlen(c->ctype),
           n = len < sizeof(c->ctype) - 1 - have ? len : sizeof(c->ctype) - 1 - have;
    memcpy(c->ctype + have, at, n);
    c->ctype[have + n] = '\0';
  }
  return 0;
}

/* Whether the request target URL is a reporting page's upload, /report/<department>/upload
 * (a query string allowed). */
static int is_upload(const char *url) {
  size_t n = strcspn(url, "?#");

  return n > 15 && strncmp(url + n - 7, "/upload", 7) == 0 && memchr(url + 8, '/', n - 15) == NULL;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = conn_of(p);

  /* Only a reporting page's POST has a body worth keeping (docs/http.md: 64 KiB); any other
   * request's body is counted and dropped, at most 4 KB. */
  c->body_len += len;
  if (p->method == HTTP_POST && c->url.data != NULL && strncmp(c->url.data, "/report/", 8) == 0) {
    if (c->body_len == len && is_upload(c->url.data)) {
      c->upload = 1;
      c->body.limit = HTTP_MAX_UPLOAD_BODY;
    }
    if (pw_buf_append(&c->body, at, len) < 0) {
      c->error_status = 413;
      return -1;
    }
    return 0;
  }
  if (c->body_len > HTTP_MAX_BODY) {
    c->error_status = 413;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct http_conn *c = conn_of(p);

  c->complete = 1;
  c->started = 0;
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
    stop_reading(c);
    hold_back(c, data, len);
    return;
  }
  used = http_parser_execute(&c->parser, &c->srv->settings, data, len);
  e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_PAUSED) {
    stop_reading(c);
    hold_back(c, data + used, len - used);
    if (!c->closing)
      dispatch(c);
    return;
  }
  if (e != HPE_OK) {
    int status = c->error_status ? c->error_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    stop_reading(c);
    c->keep_alive = 0;
    c->complete = 1;
    c->head = 0;
    if (status == 413 && c->upload) {
      respond_message(c, 413, NULL,
                      "文件过大：上传的表格不能超过 2MB，请删去无关的工作表或图片后再上传。", NULL);
      return;
    }
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
  if (c->writing || c->waiting_graph || c->file_job != NULL || c->ticket != NULL) {
    /* A slow render, a slow file read or a slow reader: one more period, then give up. */
    if (c->close_after) {
      conn_close(c);
      return;
    }
    c->close_after = 1;
    arm_timer(c);
    return;
  }
  /* The parser's nread counts the bytes of the request line and headers only (it starts again
   * after them): a request whose headers arrived but whose body did not is known by STARTED. */
  if ((c->started || c->parser.nread > 0) && !c->complete) {
    /* A request started but did not finish in time (a byte a second, say, or a body announced
     * by Content-Length that never came). */
    c->keep_alive = 0;
    c->complete = 1;
    c->head = 0;
    stop_reading(c);
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

static void refuse(struct pw_http *srv, uv_stream_t *server);

static void on_spare_closed(uv_handle_t *h) {
  struct pw_http *srv = h->data;
  uv_stream_t *waiting = srv->refuse_pending;

  srv->spare_busy = 0;
  srv->refuse_pending = NULL;
  if (waiting != NULL && !srv->stopped)
    refuse(srv, waiting);
}

/* Accepts the connection pending on SERVER into the spare handle and closes it at once (the
 * client sees the connection closed). libuv stops reading a listener whose callback did not
 * accept, and resumes it at the next uv_accept: so when the spare is still closing, the
 * connection waits and is accepted from its close callback. */
static void refuse(struct pw_http *srv, uv_stream_t *server) {
  int rc;

  if (srv->spare_busy) {
    srv->refuse_pending = server;
    return;
  }
  rc = uv_tcp_init(srv->loop, &srv->spare);
  if (rc < 0) {
    /* Nothing to accept into: the listener pauses until the next refusal finds a handle. */
    pw_log_error("cannot refuse a connection on %s: %s", srv->listen, uv_strerror(rc));
    srv->refuse_pending = server;
    return;
  }
  srv->spare.data = srv;
  srv->spare_busy = 1;
  rc = uv_accept(server, (uv_stream_t *)&srv->spare);
  if (rc < 0)
    pw_log_warn("accept on %s: %s", srv->listen, uv_strerror(rc));
  uv_close((uv_handle_t *)&srv->spare, on_spare_closed);
}

/* The client's address in C->addr ("127.0.0.1", "::1"; "?" when it cannot be told): the
 * reporting page's rate limit and audit lines key on it. */
static void peer_address(struct http_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);

  pw_strlcpy(c->addr, "?", sizeof(c->addr));
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)&ss, c->addr, sizeof(c->addr));
  else if (ss.ss_family == AF_INET)
    uv_ip4_name((struct sockaddr_in *)&ss, c->addr, sizeof(c->addr));
}

/* A connection's state, or NULL when there is no memory for it. */
static struct http_conn *conn_new(struct pw_http *srv) {
  if (srv->fail_allocations > 0) {
    srv->fail_allocations--;
    return NULL;
  }
  return calloc(1, sizeof(struct http_conn));
}

static void on_connection(uv_stream_t *server, int status) {
  struct pw_http *srv = server->data;
  struct http_conn *c;
  int rc;

  if (status < 0) {
    pw_log_warn("accept on %s: %s", srv->listen, uv_strerror(status));
    return;
  }
  c = conn_new(srv);
  if (c == NULL) {
    pw_log_warn("out of memory: a connection on %s is closed unanswered", srv->listen);
    refuse(srv, server);
    return;
  }
  c->srv = srv;
  rc = uv_tcp_init(srv->loop, &c->tcp);
  if (rc < 0) {
    free(c);
    pw_log_warn("connection on %s: %s", srv->listen, uv_strerror(rc));
    refuse(srv, server);
    return;
  }
  c->tcp.data = c;
  c->handles = 1;
  rc = uv_timer_init(srv->loop, &c->timer);
  if (rc < 0) {
    pw_log_warn("connection on %s: %s", srv->listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    refuse(srv, server);
    return;
  }
  c->timer.data = c;
  c->handles = 2;
  c->next = srv->conns;
  if (srv->conns != NULL)
    srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  rc = uv_accept(server, (uv_stream_t *)&c->tcp);
  if (rc < 0) {
    pw_log_warn("accept on %s: %s", srv->listen, uv_strerror(rc));
    conn_close(c);
    return;
  }
  peer_address(c);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (srv->n_conns > srv->conf->daemon.http_max_connections) {
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 32\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
                               "too many connections, try later\n";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof(busy) - 1);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, reject_written) < 0)
      conn_close(c);
    return;
  }
  /* Responses are written whole; Nagle's delay would only hold back their last segment. */
  rc = uv_tcp_nodelay(&c->tcp, 1);
  if (rc < 0)
    pw_log_debug("TCP_NODELAY: %s", uv_strerror(rc));
  if (arm_timer(c) == 0)
    start_reading(c);
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

/* A new listener on ADDR in *OUT. Returns 0, or a negative errno with the reason logged: -EINVAL
 * for what is not an address, the socket call's errno otherwise (-EADDRINUSE: taken). */
static int listen_on(struct pw_http *srv, const char *addr, uv_tcp_t **out) {
  struct sockaddr_storage ss;
  uv_tcp_t *t;
  int rc;

  memset(&ss, 0, sizeof(ss));
  if (resolve(addr, &ss) < 0) {
    pw_log_error("daemon.http_listen '%s' is not an address: use \"127.0.0.1:9464\" or "
                 "\"[::1]:9464\"",
                 addr);
    return -EINVAL;
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL) {
    pw_log_error("status server: out of memory listening on %s", addr);
    return -ENOMEM;
  }
  rc = uv_tcp_init(srv->loop, t);
  if (rc < 0) {
    pw_log_error("status server: cannot listen on %s: %s", addr, uv_strerror(rc));
    free(t);
    return rc;
  }
  t->data = srv;
  rc = uv_tcp_bind(t, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)t, 511, on_connection);
  if (rc < 0) {
    pw_log_error("status server: cannot listen on %s: %s", addr, uv_strerror(rc));
    uv_close((uv_handle_t *)t, on_listener_closed);
    return rc;
  }
  pw_log_info("status server listening on http://%s/", addr);
  *out = t;
  return 0;
}

/* Closes the listener T; a connection waiting to be refused on it goes with it (libuv closes
 * the descriptor it accepted). */
static void close_listener(struct pw_http *srv, uv_tcp_t *t) {
  if (srv->refuse_pending == (uv_stream_t *)t)
    srv->refuse_pending = NULL;
  uv_close((uv_handle_t *)t, on_listener_closed);
}

int pw_http_start(uv_loop_t *loop, struct pw_config *conf, const struct pw_http_view *view,
                  struct pw_http **out) {
  struct pw_http *srv;
  const char *addr = conf->daemon.http_listen;
  int rc;

  srv = calloc(1, sizeof(*srv));
  if (srv == NULL)
    return -ENOMEM;
  srv->loop = loop;
  srv->view = *view;
  srv->settings.on_message_begin = on_message_begin;
  srv->settings.on_url = on_url;
  srv->settings.on_header_field = on_header_field;
  srv->settings.on_header_value = on_header_value;
  srv->settings.on_body = on_body;
  srv->settings.on_message_complete = on_message_complete;
  http_parser_set_max_header_size(HTTP_MAX_HEADER);
  if (addr[0] != '\0') {
    rc = listen_on(srv, addr, &srv->listener);
    if (rc < 0) {
      free(srv);
      return rc;
    }
    pw_strlcpy(srv->listen, addr, sizeof(srv->listen));
  }
  srv->conf = pw_config_ref(conf);
  *out = srv;
  return 0;
}

void pw_http_reload(struct pw_http *srv, struct pw_config *conf) {
  const char *addr = conf->daemon.http_listen;
  uv_tcp_t *t = NULL;

  if (conf != srv->conf) {
    pw_config_free(srv->conf);
    srv->conf = pw_config_ref(conf);
  }
  if (srv->stopped || strcmp(srv->listen, addr) == 0)
    return;
  /* The new address first: if it cannot be had, the old one keeps serving. */
  if (addr[0] != '\0' && listen_on(srv, addr, &t) < 0) {
    if (srv->listener != NULL)
      pw_log_error("status server stays on %s", srv->listen);
    else
      pw_log_error("status server not started after the reload");
    return;
  }
  if (srv->listener != NULL)
    close_listener(srv, srv->listener);
  srv->listener = t;
  pw_strlcpy(srv->listen, addr, sizeof(srv->listen));
}

void pw_http_stop(struct pw_http *srv) {
  if (srv == NULL)
    return;
  srv->stopped = 1;
  if (srv->listener != NULL) {
    close_listener(srv, srv->listener);
    srv->listener = NULL;
  }
  srv->refuse_pending = NULL;
  while (srv->conns != NULL)
    conn_close(srv->conns);
}

void pw_http_free(struct pw_http *srv) {
  if (srv == NULL)
    return;
  pw_config_free(srv->conf);
  free(srv);
}

int pw_http_port(const struct pw_http *srv) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);

  if (srv->listener == NULL || uv_tcp_getsockname(srv->listener, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void pw_http_fail_allocations(struct pw_http *srv, int n) {
  srv->fail_allocations = n;
}
