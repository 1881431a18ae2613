/*
 * http: the status server of docs/http.md, an HTTP/1.1 server on the daemon's own libuv loop.
 * It only reads: the pages are built from a view the program provides (verdicts, source
 * health, the journal's series, queue sizes, graphs), through the callbacks of struct
 * pw_http_view; nothing a client sends reaches a file.
 *
 * The server holds a reference to the configuration generation it serves (pw_config_ref), and
 * a request waiting for a graph holds one to the generation it started under until it is
 * answered or abandoned; indicator ids in URLs are resolved by name in the current generation.
 * Everything here runs on the loop thread.
 */
#ifndef PW_HTTP_H
#define PW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "judge.h"
#include "loopstat.h"

struct pw_source_health;
struct pw_http;
struct pw_http_request; /* a request waiting for a graph (opaque) */
struct pw_http_submit;  /* a reporting page's figure waiting to be stored (opaque) */
struct pw_tokens;

/* A figure sent from the reporting page (docs/http.md "Reporting page"), its token checked:
 * every string is borrowed for the call, NUL-terminated and valid UTF-8; "" when not sent. */
struct pw_report_submission {
  const char *department; /* a department id of the served generation */
  const char *indicator;  /* an indicator id of that department */
  const char *value;      /* as typed: the value grammar, or a milestone's stage */
  const char *as_of;      /* as typed: any date form of docs/values.md */
  const char *note;       /* as typed, not yet cleaned */
  const char *address;    /* the client's address (the rate limit's and the audit's) */
  const char *token;      /* the id of the department's token that was sent (the audit's) */
};

/* An explanation sent from the reporting page (POST /report/<department>/<indicator>/explanation,
 * docs/http.md "Reporting page"), its token checked: every string borrowed for the call,
 * NUL-terminated, valid UTF-8, "" when not sent. */
struct pw_report_explanation {
  const char *department; /* a department id of the served generation */
  const char *indicator;  /* an indicator id of that department */
  const char *reason;     /* 原因, as typed, not yet cleaned */
  const char *measures;   /* 措施, as typed */
  const char *catch_up;   /* 预计追平日期, as typed: any date form of docs/values.md, or "" */
  const char *address;    /* the client's address */
  const char *token;      /* the id of the department's token that was sent */
};

/* What the server reads, provided by the program that runs it. Every callback is called on the
 * loop thread with CTX. Callbacks that take CONF receive the generation the server serves and
 * return NULL when it is not the program's current one (the pages then answer 503). */
struct pw_http_view {
  void *ctx;
  /* The verdicts of CONF's indicators, one per indicator, in its order. Borrowed. */
  const struct pw_verdict *(*verdicts)(void *ctx, const struct pw_config *conf);
  /* The health of CONF's source SOURCE (an index into conf->sources), NULL when it has none
   * yet. Borrowed. */
  const struct pw_source_health *(*source_health)(void *ctx, const struct pw_config *conf,
                                                  int source);
  /* The journal's series for CONF's indicators (the status document is judged from them), and
   * the journal's line count in *LINES. Borrowed. */
  const struct pw_series *(*series)(void *ctx, const struct pw_config *conf, uint64_t *lines);
  /* Sizes of the notification queues: entries waiting in the spool, dead-lettered, and alerts
   * waiting in batches; -1 when unknown. NULL: all unknown. */
  void (*queue_sizes)(void *ctx, long *queued, long *dead, long *batched);
  /* 1 when alerts.json (*ALERTS_JSON) / silences.json (*SILENCES_JSON) was found damaged and
   * set aside (docs/storage.md). NULL: 0. */
  void (*corrupt_files)(void *ctx, int *alerts_json, int *silences_json);
  /* Asks for the graph of the indicator INDICATOR (an id of the current generation): PNG, or
   * SVG when SVG; the dashboard's small size when SMALL. The provider answers REQUEST exactly
   * once with pw_http_graph_ready, at once or later on the loop, unless graph_cancel is called
   * for it first. Returns 0, or a negative errno and never answers. */
  int (*graph_get)(void *ctx, const char *indicator, int svg, int small,
                   struct pw_http_request *request);
  /* REQUEST's reader went away: it must not be answered. */
  void (*graph_cancel)(void *ctx, struct pw_http_request *request);
  /* The reporting tokens as last read (serve/tokens.h), borrowed; NULL: no token is valid.
   * NULL callback: the reporting routes answer 404. */
  const struct pw_tokens *(*tokens)(void *ctx);
  /* Stores SUB through the program's single writer; TICKET is answered exactly once with
   * pw_http_submit_done, at once (refused: 422) or later on the loop, once the figure is
   * durable. */
  void (*submit)(void *ctx, const struct pw_report_submission *sub, struct pw_http_submit *ticket);
  /* Reads the workbook the reporting page uploaded for department DEPARTMENT (an id of the served
   * generation, its token checked) and answers TICKET exactly once with pw_http_submit_done: the
   * preview of docs/http.md ("Uploading a workbook"), or a refusal in Chinese. DATA (LEN bytes,
   * the request's body) is handed over: free it with free(). Nothing is stored. NULL: the upload
   * route answers 404. */
  void (*upload)(void *ctx, const char *department, char *data, size_t len,
                 struct pw_http_submit *ticket);
  /* Stores the explanation SUB the same way, TICKET answered exactly once like submit's. NULL:
   * the explanation route answers 404. */
  void (*explain)(void *ctx, const struct pw_report_explanation *sub,
                  struct pw_http_submit *ticket);

  /* Notifications receiver RECEIVER (an id of the served generation) took (*SENT) and attempts
   * to reach it that failed (*FAILED) since the start. NULL: left out of /metrics. */
  void (*receiver_counts)(void *ctx, const char *receiver, uint64_t *sent, uint64_t *failed);
  /* Alerts firing now by severity, in the order of pw_metrics_severities (metrics.h). NULL: left
   * out of /metrics. */
  void (*alerts_firing)(void *ctx, long firing[4]);
  int64_t started;                     /* wall-clock start of the process, seconds */
  const struct pw_loopstat *loopstat;  /* the loop's stalls for /metrics; NULL leaves them out */
  const struct pw_reload_info *reload; /* the last reload's outcome; NULL leaves it out */
};

/* Creates the server on LOOP for the generation CONF (takes a reference of its own) with VIEW
 * (copied), and listens on conf->daemon.http_listen unless it is "". Returns 0 and *OUT (free
 * with pw_http_free once the loop has run the close callbacks of pw_http_stop), or: -EINVAL
 * when http_listen is not an address (logged naming daemon.http_listen), -EADDRINUSE when the
 * address is taken, -ENOMEM, or the errno of the failing socket call; nothing is left open. */
int pw_http_start(uv_loop_t *loop, struct pw_config *conf, const struct pw_http_view *view,
                  struct pw_http **out);

/* The program swapped in the generation CONF: the server serves it from now on (the reference
 * to the previous one is released) and moves to its http_listen when that changed. A new
 * address that cannot be had is logged and the old listener keeps serving. Loop thread. */
void pw_http_reload(struct pw_http *srv, struct pw_config *conf);

/* Closes the listener and every connection; their handles close through the loop. Waiting
 * graph requests are cancelled. NULL is accepted. */
void pw_http_stop(struct pw_http *srv);

/* Frees the server after pw_http_stop once the loop has run its close callbacks (after uv_run
 * returned). NULL is accepted. */
void pw_http_free(struct pw_http *srv);

/* The answer to a graph request: DATA (LEN bytes, borrowed for the call) or NULL when the graph
 * could not be rendered. Loop thread. */
void pw_http_graph_ready(struct pw_http_request *request, const unsigned char *data, size_t len);

/* The answer to a submission: STATUS (200, 422, 500 or 503) with the JSON document JSON
 * (borrowed). When the client went away meanwhile the answer is dropped. Frees TICKET. Loop
 * thread. */
void pw_http_submit_done(struct pw_http_submit *ticket, int status, const char *json);

/* The TCP port listened on, 0 when not listening (http_listen may name port 0). */
int pw_http_port(const struct pw_http *srv);

/* Tests: the next N connections find no memory for their state, as if malloc failed. */
void pw_http_fail_allocations(struct pw_http *srv, int n);

#endif
