/*
 * schedule: polls every source on its own timer (see schedule.h). The state of a source lives in
 * a struct source owned by the schedule and known by the source's id; the configuration is only
 * read (through the source's index in the generation the schedule holds), so a reload swaps the
 * generation and re-indexes the states without touching their timers or fetches.
 */
#define PW_LOG_MODULE "sched"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "schedule.h"

#define BACKOFF_START_MS 30000
/* First polls, at start and for the new sources of a reload, come within this time (or the
 * source's interval, if shorter): a fresh start shows every indicator's figure within seconds,
 * not an interval later, while dozens of departments are still not all asked in one second. */
#define FIRST_SPREAD_MS 10000
/* A source's next poll, when at least ALIGN_MIN_MS (real time) away, is made due on the next
 * point of the loop's ALIGN_MS grid (docs/configuration.md, "How a source is fetched"); shorter
 * waits (a simulated clock's) are not moved. */
#define ALIGN_MS 100
#define ALIGN_MIN_MS 1000

struct source {
  struct pw_sched *s;
  char *id;  /* owned copy: the source is known by it across reloads */
  int index; /* into s->conf->sources; -1 once removed (by a reload or at stop) */
  uv_timer_t timer;
  int timer_open;  /* the timer is initialised and not yet closed */
  int in_flight;   /* a fetch of this source is running: never two at once */
  int drop_answer; /* the fetch in flight asks what a reload changed: its answer is dropped */
  int answered;    /* --once: this source has answered (or failed) once */
  char *etag, *last_modified;
  char *last_body; /* the body of the last 200, for 304 answers and "same" detection */
  size_t last_body_len;
  struct pw_source_health health;
};

struct pw_sched {
  uv_loop_t *loop;
  struct pw_fetch *fetch;
  struct pw_config *conf; /* the generation the schedule runs (a reference is held) */
  struct pw_sched_callbacks cb;
  int once, stopping;
  struct source **sources; /* one per source of CONF, by index */
  int n;
  int live;              /* struct sources not yet freed, removed ones included */
  int unanswered;        /* sources of the running generation that have not answered yet */
  uv_timer_t once_timer; /* --once: reports "all polled" from a callback of its own */
  int once_timer_open, once_reported;
};

static void poll_source(uv_timer_t *t);
static void source_maybe_free(struct source *st);

/* ---- back-off --------------------------------------------------------------------------- */

/* 30 s after the first failure, doubling with each further one, never longer than the source's
 * interval (a failing source is asked at least as often as a working one would be). */
static int64_t backoff_ms(unsigned failures, int64_t interval_ms) {
  int64_t b = BACKOFF_START_MS;
  unsigned i;

  for (i = 1; i < failures && b < interval_ms; i++)
    b *= 2;
  return b < interval_ms ? b : interval_ms;
}

int64_t pw_sched_backoff_ms(unsigned failures, int64_t interval_ms) {
  return backoff_ms(failures, interval_ms);
}

/* Arms ST's timer DELAY_MS of the daemon's clock from now; ALIGN: on the grid (see below). */
static void arm_timer(struct source *st, int64_t delay_ms, int align) {
  struct pw_sched *s = st->s;
  uint64_t ms;
  int rc;

  /* With --once a source is asked until it has answered once, then left alone. */
  if (st->index < 0 || s->stopping || (s->once && st->answered))
    return;
  /* DELAY_MS is a duration of the daemon's clock, which may run faster than the timer's. */
  ms = pw_clock_timer_ms(delay_ms);
  /* Moved to the next point of the grid: sources due within the same 100 ms are polled in
   * one turn of the loop and their answers met in a few wake-ups, instead of a wake-up or two
   * each (a third of a busy daemon's CPU, tests/bench/README.md). Never earlier: a source
   * read at its fetch time (as_of to the second) polled twice in one second would see its own
   * figure "revised". */
  if (align && ms >= ALIGN_MIN_MS) {
    uint64_t off = (uv_now(s->loop) + ms) % ALIGN_MS;

    if (off != 0)
      ms += ALIGN_MS - off;
  }
  rc = uv_timer_start(&st->timer, poll_source, ms, 0);
  if (rc != 0)
    pw_log_error("source '%s': cannot arm its timer: %s", st->id, uv_strerror(rc));
}

/* The first poll, a poll asked again, a reload's new due time: exactly when said. */
static void arm(struct source *st, int64_t delay_ms) {
  arm_timer(st, delay_ms, 0);
}

/* The next poll after an answer (the interval, or a failing source's back-off): on the grid. */
static void arm_next(struct source *st, int64_t delay_ms) {
  arm_timer(st, delay_ms, 1);
}

/* ---- --once ----------------------------------------------------------------------------- */

static void once_report(uv_timer_t *t) {
  struct pw_sched *s = t->data;

  if (s->stopping || s->once_reported)
    return;
  s->once_reported = 1;
  if (s->cb.all_polled != NULL)
    s->cb.all_polled(s->cb.data);
}

/* Reports "every source answered" from the loop (never from inside a caller's call) once every
 * source of the running generation has answered. */
static void once_check(struct pw_sched *s) {
  int rc;

  if (!s->once || s->once_reported || s->stopping || s->unanswered > 0)
    return;
  rc = uv_timer_start(&s->once_timer, once_report, 0, 0);
  if (rc != 0)
    pw_log_error("cannot arm the --once timer: %s", uv_strerror(rc));
}

/* ---- one poll --------------------------------------------------------------------------- */

/* Keeps the body of a 200 for the next 304. Without a copy there is no previous body to stand
 * for, so the validators go too and the next request is unconditional. */
static void keep_answer(struct source *st, const struct pw_fetch_result *res, int same) {
  free(st->etag);
  free(st->last_modified);
  st->etag = st->last_modified = NULL;
  if (!same) {
    char *copy = malloc(res->body_len + 1);
    if (copy == NULL)
      return;
    memcpy(copy, res->body, res->body_len + 1);
    free(st->last_body);
    st->last_body = copy;
    st->last_body_len = res->body_len;
  }
  st->etag = res->etag ? strdup(res->etag) : NULL;
  st->last_modified = res->last_modified ? strdup(res->last_modified) : NULL;
}

/* Hands a successful answer to the owner of the schedule. Returns its verdict on the body. */
static int hand_over(struct source *st, const struct pw_fetch_result *res, int64_t now, char *err,
                     size_t errlen) {
  struct pw_sched *s = st->s;
  struct pw_sched_answer a;

  memset(&a, 0, sizeof(a));
  a.source = st->index;
  a.fetched_at = now;
  if (res->not_modified) {
    /* 304: the previous body again, so the confirmation rule still applies. */
    a.body = st->last_body;
    a.len = st->last_body_len;
    a.same = 1;
  } else {
    /* A server without validators may send the same bytes: marked so its parse serves again. */
    a.same = st->last_body != NULL && res->body_len == st->last_body_len &&
             memcmp(res->body, st->last_body, res->body_len) == 0;
    keep_answer(st, res, a.same);
    a.body = res->body;
    a.len = res->body_len;
  }
  if (a.body == NULL)
    return 0;
  return s->cb.polled(s->cb.data, &a, err, errlen);
}

static void record_health(struct source *st, int rc, const char *error, int64_t now,
                          double duration_ms) {
  struct pw_source_health *h = &st->health;

  h->polls++;
  h->last_attempt = now;
  h->last_duration_ms = duration_ms;
  if (rc == 0) {
    if (h->consecutive_failures > 0)
      pw_log_info("source '%s': answering again after %u failed polls", st->id,
                  h->consecutive_failures);
    h->consecutive_failures = 0;
    h->last_error[0] = '\0';
    h->last_success = now;
    h->failing_since = 0;
    return;
  }
  h->failures++;
  /* Log when the state changes, not at every poll. */
  if (h->consecutive_failures++ == 0) {
    h->failing_since = now;
    pw_log_error("source '%s': poll failed: %s", st->id, error);
  } else if (strcmp(h->last_error, error) != 0) {
    pw_log_warn("source '%s': still failing, now: %s", st->id, error);
  }
  snprintf(h->last_error, sizeof(h->last_error), "%s", error);
}

static void poll_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct source *st = data;
  struct pw_sched *s = st->s;
  int64_t now = pw_clock_now(), interval_ms;
  char error[256];
  int rc;

  (void)job;
  st->in_flight = 0;
  if (st->index < 0 || res->rc == -ECANCELED) {
    if (st->index < 0 && !s->stopping && res->rc != -ECANCELED)
      pw_log_info("source '%s': answer dropped (the source was removed by a reload)", st->id);
    source_maybe_free(st);
    return;
  }
  if (st->drop_answer) {
    st->drop_answer = 0;
    pw_log_info("source '%s': answer dropped (a reload changed the request); asking again", st->id);
    arm(st, 0);
    return;
  }
  snprintf(error, sizeof(error), "%s", res->error ? res->error : "error");
  rc = res->rc == 0 ? hand_over(st, res, now, error, sizeof(error)) : res->rc;
  if (st->index < 0)
    return; /* the callback stopped the schedule; the timer's close callback frees ST */
  record_health(st, rc, error, now, res->duration_ms);
  if (!st->answered) {
    st->answered = 1;
    s->unanswered--;
  }
  interval_ms = s->conf->sources[st->index].interval * 1000;
  if (st->health.consecutive_failures > 0)
    arm_next(st, backoff_ms(st->health.consecutive_failures, interval_ms));
  else
    arm_next(st, interval_ms);
  once_check(s);
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

void pw_sched_request(const struct pw_source *src, struct pw_fetch_request *req, char *url,
                      size_t urllen) {
  memset(req, 0, sizeof(*req));
  if (src->file != NULL) {
    file_url(src->file, url, urllen);
    req->url = url;
  } else {
    req->url = src->url;
  }
  req->headers = (const char *const *)src->headers.items;
  req->n_headers = (size_t)src->headers.n;
  req->timeout_ms = src->timeout * 1000;
  req->max_bytes = (size_t)src->max_bytes;
  req->tls_verify = src->tls_verify;
  req->ca_file = src->ca_file;
  req->proxy = src->proxy;
  req->charset = src->charset;
}

static void poll_source(uv_timer_t *t) {
  struct source *st = t->data;
  struct pw_sched *s = st->s;
  const struct pw_source *src;
  struct pw_fetch_request req;
  struct pw_fetch_job *job;
  char url[4200];
  int rc;

  if (st->index < 0 || s->stopping)
    return;
  src = &s->conf->sources[st->index];
  if (st->in_flight) {
    arm_next(st, src->interval * 1000);
    return;
  }
  pw_sched_request(src, &req, url, sizeof(url));
  if (st->last_body != NULL) {
    req.etag = st->etag;
    req.last_modified = st->last_modified;
  }
  st->in_flight = 1;
  rc = pw_fetch_start(s->fetch, &req, poll_done, st, &job);
  if (rc < 0) {
    /* Counted as a failed poll like any other, so the source backs off. */
    struct pw_fetch_result res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    res.error = strerror(-rc);
    poll_done(NULL, &res, st);
  }
}

/* ---- the sources' states ---------------------------------------------------------------- */

static void maybe_free_sched(struct pw_sched *s) {
  if (s->stopping && s->live == 0 && !s->once_timer_open)
    free(s);
}

static void timer_closed(uv_handle_t *h) {
  struct source *st = h->data;

  st->timer_open = 0;
  source_maybe_free(st);
}

/* A state is freed once it is removed, its timer closed and no fetch of it is running. */
static void source_maybe_free(struct source *st) {
  struct pw_sched *s = st->s;

  if (st->index >= 0 || st->in_flight || st->timer_open)
    return;
  free(st->id);
  free(st->etag);
  free(st->last_modified);
  free(st->last_body);
  free(st);
  s->live--;
  maybe_free_sched(s);
}

/* Takes a state out of the schedule: no more polls; freed once its timer is closed and its fetch
 * (if any) has ended. */
static void source_remove(struct source *st) {
  st->index = -1;
  if (st->timer_open) {
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, timer_closed);
  } else {
    source_maybe_free(st);
  }
}

static struct source *source_new(struct pw_sched *s, const struct pw_source *src, int index) {
  struct source *st = calloc(1, sizeof(*st));

  if (st == NULL)
    return NULL;
  st->s = s;
  st->index = index;
  st->id = strdup(src->id);
  s->live++;
  if (st->id == NULL || uv_timer_init(s->loop, &st->timer) != 0) {
    st->index = -1;
    source_maybe_free(st);
    return NULL;
  }
  st->timer.data = st;
  st->timer_open = 1;
  return st;
}

/* ---- start, reload, stop ---------------------------------------------------------------- */

/* The delay of the first poll of SRC, the K-th of N sources polled for the first time: K/N of
 * min(its interval, FIRST_SPREAD_MS), so that the first is asked at once and all within 10 s. */
static int64_t first_poll_ms(const struct pw_source *src, int k, int n) {
  int64_t spread = src->interval * 1000;

  if (spread > FIRST_SPREAD_MS)
    spread = FIRST_SPREAD_MS;
  return n > 0 ? spread * k / n : 0;
}

int pw_sched_start(uv_loop_t *loop, struct pw_fetch *fetch, struct pw_config *conf, int once,
                   const struct pw_sched_callbacks *cb, struct pw_sched **out) {
  struct pw_sched *s = calloc(1, sizeof(*s));
  int i, n = conf->n_sources;

  *out = NULL;
  if (s == NULL)
    return -ENOMEM;
  s->loop = loop;
  s->fetch = fetch;
  s->once = once;
  s->cb = *cb;
  if (uv_timer_init(loop, &s->once_timer) != 0) {
    free(s);
    return -ENOMEM;
  }
  s->once_timer.data = s;
  s->once_timer_open = 1;
  s->conf = pw_config_ref(conf);
  s->sources = calloc((size_t)n + 1, sizeof(*s->sources));
  for (i = 0; s->sources != NULL && i < n; i++) {
    s->sources[i] = source_new(s, &conf->sources[i], i);
    if (s->sources[i] == NULL)
      break;
    s->n = i + 1;
  }
  s->unanswered = s->n;
  if (s->sources == NULL || s->n < n) {
    pw_sched_stop(s); /* closes what was made; frees itself from the loop */
    return -ENOMEM;
  }
  for (i = 0; i < n; i++)
    arm(s->sources[i], once ? 0 : first_poll_ms(&conf->sources[i], i, n));
  once_check(s);
  *out = s;
  return 0;
}

static int str_differs(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a != b;
  return strcmp(a, b) != 0;
}

/* Whether the request of a source changed between two generations (what its answer means). */
static int request_changed(const struct pw_source *a, const struct pw_source *b) {
  int i;

  if (str_differs(a->url, b->url) || str_differs(a->file, b->file) || a->timeout != b->timeout ||
      a->max_bytes != b->max_bytes || a->tls_verify != b->tls_verify ||
      str_differs(a->ca_file, b->ca_file) || str_differs(a->proxy, b->proxy) ||
      str_differs(a->charset, b->charset) || a->headers.n != b->headers.n)
    return 1;
  for (i = 0; i < a->headers.n; i++)
    if (strcmp(a->headers.items[i], b->headers.items[i]) != 0)
      return 1;
  return 0;
}

/* The index in OLD (-1 for none) of the source with ID; HINT is tried first, since a reload
 * mostly keeps the order. TAKEN marks the states already matched. */
static int find_old(struct source **old, int n_old, const unsigned char *taken, const char *id,
                    int hint) {
  int i;

  if (hint < n_old && !taken[hint] && strcmp(old[hint]->id, id) == 0)
    return hint;
  for (i = 0; i < n_old; i++)
    if (!taken[i] && strcmp(old[i]->id, id) == 0)
      return i;
  return -1;
}

/* A source that stays: re-indexed into the new generation; its timer keeps its phase unless
 * the interval or the request changed. Returns 1 when it is to be polled soon, like a new one. */
static int source_keep(struct source *st, const struct pw_source *was, const struct pw_source *now,
                       int index) {
  int64_t was_ms = was->interval * 1000, now_ms = now->interval * 1000, due;

  st->index = index;
  if (request_changed(was, now)) {
    /* The validators and the body belong to the old request. */
    free(st->etag);
    free(st->last_modified);
    free(st->last_body);
    st->etag = st->last_modified = st->last_body = NULL;
    st->last_body_len = 0;
    if (st->in_flight) {
      st->drop_answer = 1;
      return 0;
    }
    return 1;
  }
  if (was_ms == now_ms || st->in_flight || !uv_is_active((uv_handle_t *)&st->timer))
    return 0;
  /* The next poll moves with the interval: the last poll plus the new interval. */
  due = (int64_t)uv_timer_get_due_in(&st->timer) * pw_clock_rate(); /* in the daemon's clock */
  if (st->health.consecutive_failures > 0) {
    int64_t b = backoff_ms(st->health.consecutive_failures, now_ms);
    due = due < b ? due : b;
  } else {
    due += now_ms - was_ms;
    due = due < now_ms ? due : now_ms;
  }
  arm(st, due);
  return 0;
}

int pw_sched_reload(struct pw_sched *s, struct pw_config *conf) {
  struct source **ns = calloc((size_t)conf->n_sources + 1, sizeof(*ns));
  unsigned char *taken = calloc((size_t)s->n + 1, 1),
                *soon = calloc((size_t)conf->n_sources + 1, 1);
  int i, n = conf->n_sources, n_soon = 0, k;

  if (s->stopping) {
    free(ns);
    free(taken);
    free(soon);
    return -EINVAL;
  }
  if (ns == NULL || taken == NULL || soon == NULL)
    goto fail;
  /* First everything that can fail: states for the new sources. */
  for (i = 0; i < n; i++) {
    int o = find_old(s->sources, s->n, taken, conf->sources[i].id, i);
    if (o >= 0) {
      taken[o] = 1;
      ns[i] = s->sources[o];
      continue;
    }
    ns[i] = source_new(s, &conf->sources[i], i);
    if (ns[i] == NULL)
      goto fail;
    soon[i] = 1;
  }
  /* Then the swap, which cannot fail. */
  for (i = 0; i < s->n; i++)
    if (!taken[i]) {
      pw_log_info("source '%s' removed by the reload: no longer polled", s->sources[i]->id);
      source_remove(s->sources[i]);
    }
  for (i = 0; i < n; i++)
    if (!soon[i])
      soon[i] =
          (unsigned char)source_keep(ns[i], &s->conf->sources[ns[i]->index], &conf->sources[i], i);
  free(s->sources);
  s->sources = ns;
  s->n = n;
  pw_config_free(s->conf);
  s->conf = pw_config_ref(conf);
  for (i = 0; i < n; i++)
    n_soon += soon[i];
  for (i = 0, k = 0; i < n; i++)
    if (soon[i])
      arm(ns[i], s->once ? 0 : first_poll_ms(&conf->sources[i], k++, n_soon));
  free(taken);
  free(soon);
  for (i = 0, s->unanswered = 0; i < n; i++)
    s->unanswered += !ns[i]->answered;
  once_check(s);
  return 0;
fail:
  for (i = 0; ns != NULL && i < n; i++)
    if (ns[i] != NULL && soon != NULL && soon[i])
      source_remove(ns[i]);
  free(ns);
  free(taken);
  free(soon);
  return -ENOMEM;
}

const struct pw_source_health *pw_sched_health(const struct pw_sched *s, int source) {
  if (s == NULL || source < 0 || source >= s->n)
    return NULL;
  return &s->sources[source]->health;
}

int pw_sched_in_flight(const struct pw_sched *s, int source) {
  if (s == NULL || source < 0 || source >= s->n)
    return 0;
  return s->sources[source]->in_flight;
}

int64_t pw_sched_due_in(const struct pw_sched *s, int source) {
  const struct source *st;

  if (s == NULL || source < 0 || source >= s->n)
    return -1;
  st = s->sources[source];
  if (!st->timer_open || !uv_is_active((const uv_handle_t *)&st->timer))
    return -1;
  return (int64_t)uv_timer_get_due_in(&st->timer);
}

static void once_timer_closed(uv_handle_t *h) {
  struct pw_sched *s = h->data;

  s->once_timer_open = 0;
  maybe_free_sched(s);
}

void pw_sched_stop(struct pw_sched *s) {
  int i;

  if (s == NULL || s->stopping)
    return;
  s->stopping = 1;
  for (i = 0; i < s->n; i++)
    source_remove(s->sources[i]);
  free(s->sources);
  s->sources = NULL;
  s->n = 0;
  pw_config_free(s->conf);
  s->conf = NULL;
  uv_timer_stop(&s->once_timer);
  uv_close((uv_handle_t *)&s->once_timer, once_timer_closed);
}
