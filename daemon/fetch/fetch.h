/*
 * fetch: HTTP(S) and file transfers on the daemon's one libcurl multi handle, driven by the
 * libuv loop (curl's multi-uv pattern). Every transfer of the daemon (source polls, webhooks,
 * mail) goes through one pw_fetch, which caps the transfers in flight.
 *
 * All functions run on the loop thread.
 */
#ifndef PW_FETCH_H
#define PW_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct pw_fetch; /* the shared multi handle and its libuv glue */
struct pw_fetch_job;

/* What to fetch. Strings are borrowed until pw_fetch_start returns (copied as needed). */
struct pw_fetch_request {
  const char *url;            /* http://, https:// or file:// */
  const char *const *headers; /* "Name: value" lines, N_HEADERS of them */
  size_t n_headers;
  int64_t timeout_ms; /* whole transfer */
  size_t max_bytes;   /* body limit: exceeding it is an error (-E2BIG), also chunked */
  int tls_verify;
  const char *ca_file;       /* NULL for the system's */
  const char *proxy;         /* NULL for none */
  const char *etag;          /* NULL, or the ETag of the previous answer (If-None-Match) */
  const char *last_modified; /* NULL, or its Last-Modified (If-Modified-Since) */
  const char *charset;       /* NULL or "UTF-8": no conversion; else iconv to UTF-8 */
  /* For POSTs (webhooks): NULL for GET. */
  const char *post_body;
  size_t post_len;
  /* Optional: called with the CURL easy handle after fetch's own options, to make another kind
   * of transfer (SMTP for email). It enables the smtp and smtps protocols; the answer's status
   * is then the SMTP reply code, and a permanent refusal (5xx) is rc -EPERM. It returns 0, or a
   * negative errno (say -ENOMEM) that pw_fetch_start then returns without starting anything. */
  int (*customize)(void *easy, void *arg);
  void *customize_arg;
};

/* The outcome. Owned by the fetch module; valid only during the done callback. */
struct pw_fetch_result {
  int rc;           /* 0, or a negative errno: -ETIMEDOUT, -E2BIG, -ECONNREFUSED, -EPROTO
                       (refused protocol/redirect, bad charset), -EIO (HTTP status not 2xx
                       nor 304), ... */
  long status;      /* HTTP status (0 for file:// or when none was received) */
  int not_modified; /* 1 for a 304 answer to a conditional request */
  const char *body; /* NUL-terminated, after charset conversion */
  size_t body_len;
  const char *etag; /* from the answer, or NULL */
  const char *last_modified;
  const char *error; /* human text when rc != 0, e.g. "HTTP 500", "timeout after 20000 ms" */
  double duration_ms;
};

typedef void (*pw_fetch_done_cb)(struct pw_fetch_job *job, const struct pw_fetch_result *res,
                                 void *data);

/* Creates the fetcher on LOOP with at most MAX_IN_FLIGHT transfers at once (others queue).
 * USER_AGENT is sent on every request. Returns 0 and *OUT, or a negative errno. */
int pw_fetch_init(uv_loop_t *loop, int max_in_flight, const char *user_agent,
                  struct pw_fetch **out);

/* Starts (or queues) a transfer. DONE is called exactly once, later, from the loop, unless
 * this returns an error (then it is never called). Returns 0 and *JOB (borrowed; valid until
 * DONE returns) or a negative errno. */
int pw_fetch_start(struct pw_fetch *f, const struct pw_fetch_request *req, pw_fetch_done_cb done,
                   void *data, struct pw_fetch_job **job);

/* Number of transfers running and queued. */
size_t pw_fetch_active(const struct pw_fetch *f);

/* Cancels every transfer (their DONE gets rc -ECANCELED), then closes the handles; CLOSED is
 * called once everything is closed (after that the loop holds none of fetch's handles) and
 * F is freed. */
void pw_fetch_close(struct pw_fetch *f, void (*closed)(void *data), void *data);

#endif
