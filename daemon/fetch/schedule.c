/*
 * sched: polls every source on its own timer. Start times are spread over the first interval
 * so that a county's dozens of departments are not all asked in the same second; a source is
 * never fetched twice at once; a failing source backs off (30 s doubling, capped at its
 * interval) and logs when its state changes, not at every poll. A response is parsed once by
 * the source's plugin, whatever the number of indicators it feeds.
 */
#define PW_LOG_MODULE "sched"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "daemon.h"
#include "value.h"

#define BACKOFF_START_MS 30000

/* One query's result, copied out of the plugin's emit call. Its text lives in the parse's
 * text buffer (at TEXT_AT, -1 for none) so that a poll makes no allocation per value. */
struct result {
  enum pw_plugin_result kind;
  double number;
  long text_at;
  int has_ts;
  int64_t ts_ms;
  int as_of_rc; /* as_of queries: 1 not read yet, else read_as_of's answer in AS_OF */
  int64_t as_of;
};

struct parse_ctx {
  struct result *results;
  size_t n;
  struct pw_buf text; /* every result's text, NUL-terminated */
  int oom;
  int *as_of_q; /* per indicator of the source: the query of its as_of, or -1 */
};

/* A source's last parse is kept (as st->parsed) and used again when the body is the same: a
 * 304 answer, or a 200 with the same bytes. Unchanged data, the normal case of KPI endpoints,
 * then costs no parse at all. */
static void parse_free(struct parse_ctx *pc) {
  if (pc == NULL)
    return;
  pw_buf_free(&pc->text);
  free(pc->results);
  free(pc->as_of_q);
  free(pc);
}

static void on_emit(void *ctx, size_t index, const struct pw_plugin_value *v) {
  struct parse_ctx *pc = ctx;
  struct result *r;
  const char *t = NULL;
  size_t tl = 0;

  if (index >= pc->n)
    return;
  r = &pc->results[index];
  r->kind = v->result;
  r->number = v->number;
  r->has_ts = v->has_timestamp;
  r->ts_ms = v->timestamp_ms;
  r->text_at = -1;
  if (v->result == PW_PLUGIN_ERROR && v->error != NULL) {
    t = v->error;
    tl = strlen(t);
  } else if (v->text != NULL) {
    t = v->text;
    tl = strnlen(v->text, v->text_len);
  }
  if (t != NULL) {
    size_t at = pc->text.len;
    if (pw_buf_append(&pc->text, t, tl) < 0 || pw_buf_append(&pc->text, "", 1) < 0) {
      pc->oom = 1;
      return;
    }
    r->text_at = (long)at;
  }
}

static void state_maybe_free(struct pw_source_state *st);

static const char *as_of_path(const struct pw_config *conf, const struct pw_indicator *in) {
  if (in->as_of != NULL && in->as_of[0] != '\0')
    return in->as_of;
  if (conf->sources[in->source].as_of != NULL && conf->sources[in->source].as_of[0] != '\0')
    return conf->sources[in->source].as_of;
  return NULL;
}

static const char *result_text(const struct parse_ctx *pc, const struct result *r) {
  return r->text_at >= 0 ? pc->text.data + r->text_at : NULL;
}

/* Reads an as_of result into an instant, once per query however many indicators share it.
 * Returns 0 or -EINVAL. */
static int read_as_of(const struct parse_ctx *pc, struct result *r, int64_t *out) {
  const char *text = result_text(pc, r);

  if (r->as_of_rc == 1) {
    r->as_of_rc = -EINVAL;
    if ((r->kind == PW_PLUGIN_NUMBER || r->kind == PW_PLUGIN_TEXT) && text != NULL) {
      r->as_of_rc = pw_date_parse(text, &r->as_of);
    } else if (r->kind == PW_PLUGIN_NUMBER && isfinite(r->number) &&
               r->number == floor(r->number)) {
      char buf[32];
      snprintf(buf, sizeof(buf), "%.0f", r->number);
      r->as_of_rc = pw_date_parse(buf, &r->as_of);
    }
  }
  if (r->as_of_rc == 0)
    *out = r->as_of;
  return r->as_of_rc;
}

/* Parses BODY for every indicator of the source: one parse, the source's own indicators only,
 * and as_of paths that several indicators share asked once. Returns the parse (owned) or NULL
 * with PERR set. */
static struct parse_ctx *parse_body(struct pw_source_state *st, const char *body, size_t len,
                                    char *perr, size_t perrlen) {
  struct pw_daemon *d = st->d;
  const struct pw_config *conf = d->conf;
  const struct pw_source *src = &conf->sources[st->index];
  const struct pw_plugin *pl = pw_plugins_find(d->plugins, src->format);
  struct pw_plugin_options opts = {src->csv_delimiter ? src->csv_delimiter : ','};
  size_t i, nq, n = (size_t)src->n_indicators, first_as_of;
  struct parse_ctx *pc = calloc(1, sizeof(*pc));
  const char **paths = calloc(2 * n + 1, sizeof(*paths));
  char err[512];

  if (pc != NULL) {
    pc->results = calloc(2 * n + 1, sizeof(*pc->results));
    pc->as_of_q = calloc(n + 1, sizeof(*pc->as_of_q));
  }
  if (pc == NULL || paths == NULL || pc->results == NULL || pc->as_of_q == NULL) {
    snprintf(perr, perrlen, "out of memory parsing the body");
    goto fail;
  }
  /* Queries 0..n-1 are the indicators' paths, then the distinct as_of paths. */
  for (i = 0; i < n; i++)
    paths[i] = conf->indicators[src->indicators[i]].path;
  nq = first_as_of = n;
  for (i = 0; i < n; i++) {
    const char *ap = as_of_path(conf, &conf->indicators[src->indicators[i]]);
    size_t q;
    pc->as_of_q[i] = -1;
    if (ap == NULL)
      continue;
    for (q = first_as_of; q < nq && strcmp(paths[q], ap) != 0; q++)
      ;
    if (q == nq)
      paths[nq++] = ap;
    pc->as_of_q[i] = (int)q;
  }
  for (i = 0; i < nq; i++) {
    pc->results[i].text_at = -1;
    pc->results[i].as_of_rc = 1;
  }
  pc->n = nq;
  if (pl->parse(&opts, body, len, paths, nq, on_emit, pc, err, sizeof(err)) < 0) {
    snprintf(perr, perrlen, "cannot parse the %s body: %s", src->format, err);
    goto fail;
  }
  if (pc->oom) {
    snprintf(perr, perrlen, "out of memory parsing the body");
    goto fail;
  }
  free(paths);
  return pc;
fail:
  free(paths);
  parse_free(pc);
  return NULL;
}

/* Turns one response into samples of every indicator of the source. SAME: the body is the one
 * parsed last time, whose parse is then used again. */
static int ingest_body(struct pw_source_state *st, const char *body, size_t len, int same,
                       int64_t fetched_at, char *perr, size_t perrlen) {
  struct pw_daemon *d = st->d;
  const struct pw_config *conf = d->conf;
  const struct pw_source *src = &conf->sources[st->index];
  struct parse_ctx *pc;
  struct pw_ingest_stats stats;
  size_t i, n = (size_t)src->n_indicators;

  memset(&stats, 0, sizeof(stats));
  if (n == 0)
    return 0;
  if (!same || st->parsed == NULL) {
    pc = parse_body(st, body, len, perr, perrlen);
    /* A body that does not parse leaves no parse behind to be taken for it later. */
    parse_free(st->parsed);
    st->parsed = pc;
    if (pc == NULL)
      return -EINVAL;
  }
  pc = st->parsed;
  for (i = 0; i < n; i++) {
    int ind = src->indicators[i];
    const struct pw_indicator *in = &conf->indicators[ind];
    const struct result *r = &pc->results[i];
    struct result *ar = pc->as_of_q[i] >= 0 ? &pc->results[pc->as_of_q[i]] : NULL;
    const char *text = result_text(pc, r);
    int own = 0, rc;
    int64_t as_of = fetched_at;
    double value;

    switch (r->kind) {
    case PW_PLUGIN_NOT_FOUND:
      /* Not published, or a typo in the path: say so once, not at every poll. */
      if (!st->warned_missing[i]) {
        pw_log_warn("source '%s', indicator '%s': path %s selects nothing (not published)", src->id,
                    in->id, in->path);
        st->warned_missing[i] = 1;
      }
      continue;
    case PW_PLUGIN_NULL:
      continue;
    case PW_PLUGIN_ERROR:
      pw_log_error("source '%s', indicator '%s': path %s: %s", src->id, in->id, in->path,
                   text ? text : "error");
      stats.bad++;
      continue;
    case PW_PLUGIN_NUMBER:
      st->warned_missing[i] = 0;
      if (!isfinite(r->number)) {
        pw_log_warn("source '%s', indicator '%s': bad sample '%s' (not a finite number)", src->id,
                    in->id, text ? text : "NaN");
        stats.bad++;
        continue;
      }
      if (in->kind == PW_KIND_MILESTONE) {
        char buf[40];
        rc = pw_sample_value_parse(in, pw_value_format(r->number, buf, sizeof(buf)), &value);
      } else {
        value = r->number;
        rc = 0;
      }
      break;
    case PW_PLUGIN_TEXT:
    default:
      st->warned_missing[i] = 0;
      rc = pw_sample_value_parse(in, text ? text : "", &value);
      break;
    }
    if (rc == PW_VALUE_NOT_PUBLISHED)
      continue;
    if (rc < 0) {
      pw_log_warn("source '%s', indicator '%s': bad sample '%s'", src->id, in->id,
                  text ? text : "?");
      stats.bad++;
      continue;
    }
    if (ar != NULL) {
      if (read_as_of(pc, ar, &as_of) < 0) {
        const char *at = result_text(pc, ar);
        pw_log_warn("source '%s', indicator '%s': bad sample: as_of %s gives '%s', not a date",
                    src->id, in->id, as_of_path(conf, in),
                    ar->kind == PW_PLUGIN_NOT_FOUND ? "nothing"
                    : at                            ? at
                                                    : "?");
        stats.bad++;
        continue;
      }
      own = 1;
    } else if (r->has_ts) {
      as_of = r->ts_ms / 1000;
      own = 1;
    }
    if (as_of > fetched_at + 86400) {
      char t[40];
      pw_log_warn("source '%s', indicator '%s': bad sample: as_of %s is more than a day ahead",
                  src->id, in->id, pw_calendar_format(as_of, t, sizeof(t)));
      stats.bad++;
      continue;
    }
    pw_ingest_sample(d, ind, as_of, own, value, fetched_at, src->id, &stats);
  }
  if (stats.fresh + stats.revisions > 0 || stats.bad > 0)
    pw_log_info("source '%s': %u new, %u revisions, %u unchanged, %u bad", src->id, stats.fresh,
                stats.revisions, stats.duplicates + stats.unchanged, stats.bad);
  return 0;
}

static void poll_source(uv_timer_t *t);

static void arm(struct pw_source_state *st, int64_t delay_ms) {
  if (st->index < 0 || st->d->stopping || st->d->once)
    return;
  uv_timer_start(&st->timer, poll_source, (uint64_t)(delay_ms < 1 ? 1 : delay_ms), 0);
}

static void poll_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct pw_source_state *st = data;
  struct pw_daemon *d = st->d;
  const struct pw_source *src;
  int64_t now = pw_clock_now();
  int64_t interval_ms;
  char error[256];
  int rc;

  (void)job;
  st->in_flight = 0;
  if (st->index < 0 || res->rc == -ECANCELED) {
    state_maybe_free(st);
    return;
  }
  src = &d->conf->sources[st->index];
  interval_ms = src->interval * 1000;
  st->health.polls++;
  st->health.last_attempt = now;
  st->health.last_duration_ms = res->duration_ms;
  rc = res->rc;
  snprintf(error, sizeof(error), "%s", res->error ? res->error : "error");
  if (rc == 0) {
    const char *body = res->body;
    size_t len = res->body_len;
    int same = 0;

    if (res->not_modified) {
      /* 304: the previous body again, so the confirmation rule still applies. */
      body = st->last_body;
      len = st->last_body_len;
      same = 1;
    } else {
      /* A server without validators may send the same bytes: that parse serves again. */
      same = st->last_body != NULL && res->body_len == st->last_body_len &&
             memcmp(res->body, st->last_body, res->body_len) == 0;
      if (!same) {
        char *copy = malloc(res->body_len + 1);
        if (copy != NULL) {
          memcpy(copy, res->body, res->body_len + 1);
          free(st->last_body);
          st->last_body = copy;
          st->last_body_len = res->body_len;
        }
      }
      free(st->etag);
      free(st->last_modified);
      st->etag = res->etag ? strdup(res->etag) : NULL;
      st->last_modified = res->last_modified ? strdup(res->last_modified) : NULL;
    }
    if (body != NULL)
      rc = ingest_body(st, body, len, same, now, error, sizeof(error));
    pw_persist_kick(d->persist, NULL, NULL);
  }
  if (rc == 0) {
    if (st->health.consecutive_failures > 0)
      pw_log_info("source '%s': answering again after %u failed polls", src->id,
                  st->health.consecutive_failures);
    st->health.consecutive_failures = 0;
    st->health.last_error[0] = '\0';
    st->health.last_success = now;
    st->health.failing_since = 0;
    st->backoff_ms = 0;
  } else {
    st->health.failures++;
    /* Log when the state changes, not at every poll. */
    if (st->health.consecutive_failures++ == 0) {
      st->health.failing_since = now;
      pw_log_error("source '%s': poll failed: %s", src->id, error);
    } else if (strcmp(st->health.last_error, error) != 0) {
      pw_log_warn("source '%s': still failing, now: %s", src->id, error);
    }
    snprintf(st->health.last_error, sizeof(st->health.last_error), "%s", error);
  }
  if (st->health.consecutive_failures > 0) {
    st->backoff_ms = st->backoff_ms == 0 ? BACKOFF_START_MS : st->backoff_ms * 2;
    if (st->backoff_ms > interval_ms)
      st->backoff_ms = interval_ms;
    arm(st, st->backoff_ms);
  } else {
    arm(st, interval_ms);
  }
  if (d->once && --d->polls_pending == 0)
    pw_main_polled(d);
}

/* A file path as a file:// URL: curl reads " ", "#", "?" and "%" as URL syntax, so everything
 * but unreserved characters and "/" is percent-encoded. */
static void file_url(const char *path, char *url, size_t size) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = (size_t)snprintf(url, size, "file://");
  const unsigned char *p;

  for (p = (const unsigned char *)path; *p && o + 4 < size; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '/' || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      url[o++] = (char)*p;
    } else {
      url[o++] = '%';
      url[o++] = hex[*p >> 4];
      url[o++] = hex[*p & 15];
    }
  }
  url[o] = '\0';
}

static void poll_source(uv_timer_t *t) {
  struct pw_source_state *st = t->data;
  struct pw_daemon *d = st->d;
  const struct pw_source *src;
  struct pw_fetch_request req;
  struct pw_fetch_job *job;
  char url[4200];
  int rc;

  if (st->index < 0 || d->stopping)
    return;
  src = &d->conf->sources[st->index];
  if (st->in_flight) {
    arm(st, src->interval * 1000);
    return;
  }
  memset(&req, 0, sizeof(req));
  if (src->file != NULL) {
    file_url(src->file, url, sizeof(url));
    req.url = url;
  } else {
    req.url = src->url;
  }
  req.headers = (const char *const *)src->headers.items;
  req.n_headers = (size_t)src->headers.n;
  req.timeout_ms = src->timeout * 1000;
  req.max_bytes = (size_t)src->max_bytes;
  req.tls_verify = src->tls_verify;
  req.ca_file = src->ca_file;
  req.proxy = src->proxy;
  req.charset = src->charset;
  if (st->last_body != NULL) {
    req.etag = st->etag;
    req.last_modified = st->last_modified;
  }
  rc = pw_fetch_start(d->fetch, &req, poll_done, st, &job);
  if (rc < 0) {
    struct pw_fetch_result res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    res.error = strerror(-rc);
    st->in_flight = 1;
    poll_done(NULL, &res, st);
    return;
  }
  st->in_flight = 1;
}

static void timer_closed(uv_handle_t *h) {
  struct pw_source_state *st = h->data;

  st->timer.data = NULL;
  state_maybe_free(st);
}

/* A state is freed once it is orphaned, its timer closed and no fetch of it is running. */
static void state_maybe_free(struct pw_source_state *st) {
  if (st->index >= 0 || st->in_flight || st->timer.data != NULL)
    return;
  free(st->etag);
  free(st->last_modified);
  free(st->last_body);
  free(st->warned_missing);
  parse_free(st->parsed);
  free(st);
}

int pw_sched_start(struct pw_daemon *d) {
  int i, n = d->conf->n_sources;

  d->sources = calloc((size_t)n + 1, sizeof(*d->sources));
  if (d->sources == NULL)
    return -ENOMEM;
  d->n_sources = n;
  d->polls_pending = n;
  for (i = 0; i < n; i++) {
    struct pw_source_state *st = calloc(1, sizeof(*st));
    int64_t delay;
    if (st == NULL)
      return -ENOMEM;
    st->d = d;
    st->index = i;
    /* One flag per indicator of the source (by position), not per configured indicator: 500
     * sources of a 5,000-indicator province made 2.5 MB of flags. */
    st->warned_missing = calloc((size_t)d->conf->sources[i].n_indicators + 1, 1);
    uv_timer_init(d->loop, &st->timer);
    st->timer.data = st;
    d->sources[i] = st;
    /* Spread the first polls over the first interval; --once polls everything now. */
    delay = d->once ? 0 : (int64_t)((double)d->conf->sources[i].interval * 1000.0 * i / n);
    uv_timer_start(&st->timer, poll_source, (uint64_t)delay, 0);
  }
  return 0;
}

void pw_sched_stop(struct pw_daemon *d) {
  int i;

  for (i = 0; i < d->n_sources; i++) {
    struct pw_source_state *st = d->sources[i];
    st->index = -1;
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, timer_closed);
  }
  free(d->sources);
  d->sources = NULL;
  d->n_sources = 0;
}
