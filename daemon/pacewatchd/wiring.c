/*
 * wiring (pacewatchd): each stage is started here with the few things it needs, and the callbacks
 * through which one stage's result reaches the next are the daemon's (docs/architecture.md): a
 * source's answer goes to ingest, admission's touched indicators to persist, a changed verdict to
 * the graph cache and alerting; alerting and the status server read verdicts, source health and
 * graphs through small views. No stage calls another up the pipeline.
 */
#define PW_LOG_MODULE "main"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting.h"
#include "briefing.h"
#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "loopstat.h"
#include "status.h"
#include "value.h"

/* A source answered: its samples are admitted, then made durable. */
static int on_polled(void *data, const struct pw_sched_answer *a, char *err, size_t errlen) {
  struct pw_daemon *d = data;
  int rc =
      pw_ingest_body(d->ingest, a->source, a->body, a->len, a->same, a->fetched_at, err, errlen);

  pw_persist_kick(d->persist, NULL, NULL);
  return rc;
}

/* Admission touched an indicator: persist writes its journal lines and RRD file. */
static void on_touched(void *data, int ind, int revised) {
  struct pw_daemon *d = data;

  pw_persist_touch(d->persist, ind, revised);
}

/* A verdict changed: its cached graphs are stale (the title shows the status), and that
 * indicator's conditions are stepped at once (the tick re-steps all every minute). */
static void on_verdict(void *data, int ind, const struct pw_verdict *old_v,
                       const struct pw_verdict *new_v) {
  struct pw_daemon *d = data;

  (void)old_v;
  (void)new_v;
  pw_graphcache_invalidate(d->graphs, ind);
  pw_alerting_evaluate_indicator(d->alerting, ind);
}

/* The inbox waits for durability through persist's kick. */
struct inbox_wait {
  pw_inbox_synced_cb done;
  void *arg;
};

static void inbox_synced(int rc, void *data) {
  struct inbox_wait *w = data;

  w->done(w->arg, rc);
  free(w);
}

static void inbox_sync(void *data, pw_inbox_synced_cb done, void *arg) {
  struct pw_daemon *d = data;
  struct inbox_wait *w = malloc(sizeof(*w));

  if (w == NULL) {
    done(arg, -ENOMEM);
    return;
  }
  w->done = done;
  w->arg = arg;
  pw_persist_kick(d->persist, inbox_synced, w);
}

/* Admission follows the generation: its configuration, the journal opened for it, its
 * verdicts. */
void daemon_bind_admit(struct pw_daemon *d) {
  d->admit.conf = d->conf;
  d->admit.journal = d->journal;
  d->admit.verdicts = d->verdicts;
  d->admit.touched = on_touched;
  d->admit.verdict_changed = on_verdict;
  d->admit.data = d;
}

/* Verdicts of a fresh start are the baseline, not news: computed without publishing. */
int daemon_init_verdicts(struct pw_daemon *d, const struct pw_config *old_conf,
                         const struct pw_verdict *old) {
  int i, j;
  int64_t now = pw_clock_now();
  struct pw_verdict *v = calloc((size_t)d->conf->n_indicators + 1, sizeof(*v));

  if (v == NULL)
    return -ENOMEM;
  for (i = 0; i < d->conf->n_indicators; i++) {
    pw_status_judge(d->conf, d->journal->series, i, now, &v[i]);
    /* After a reload, an indicator that existed keeps its last published verdict, so a change
     * brought by the new configuration (a new target) is published like any other. */
    for (j = 0; old != NULL && j < old_conf->n_indicators; j++)
      if (strcmp(old_conf->indicators[j].id, d->conf->indicators[i].id) == 0)
        v[i] = old[j];
  }
  free(d->verdicts);
  d->verdicts = v;
  return 0;
}

/* The daemon's own callbacks for persist and the graph cache. */
static void on_stored(int ind, void *data) {
  struct pw_daemon *d = data;

  pw_graphcache_invalidate(d->graphs, ind);
}

static struct pw_config *current_config(void *data) {
  struct pw_daemon *d = data;

  return d->conf;
}

static const struct pw_verdict *current_verdict(void *data, int ind) {
  struct pw_daemon *d = data;

  return d->verdicts != NULL && ind >= 0 && ind < d->conf->n_indicators ? &d->verdicts[ind] : NULL;
}

static void on_persist_wake(uv_timer_t *t) {
  struct pw_daemon *d = t->data;

  if (!d->stopping && d->persist != NULL)
    pw_persist_kick(d->persist, NULL, NULL);
}

/* Persist put a poll's batch off to gather the next polls' lines with it. */
static void persist_wake(int64_t ms, void *data) {
  struct pw_daemon *d = data;
  int rc;

  if (d->stopping)
    return; /* shutdown's own kick writes everything */
  rc = uv_timer_start(&d->persist_wake, on_persist_wake, (uint64_t)ms, 0);
  if (rc < 0)
    pw_log_error("cannot arm the journal's timer: %s (the lines wait for the next poll)",
                 uv_strerror(rc));
}

int daemon_start_persist(struct pw_daemon *d) {
  struct pw_persist_ctx ctx;

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = d->loop;
  ctx.conf = d->conf;
  ctx.journal = d->journal;
  ctx.store = &d->store;
  ctx.on_stored = on_stored;
  ctx.wake = persist_wake;
  ctx.data = d;
  return pw_persist_init(&ctx, &d->persist);
}

/* Alerting's view of the daemon: verdicts, source health and the graph cache. */
static const struct pw_verdict *alert_verdict(void *data, int ind) {
  struct pw_daemon *d = data;

  return &d->verdicts[ind];
}

static int alert_source_down(void *data, int src) {
  struct pw_daemon *d = data;
  const struct pw_source_health *h;

  h = pw_sched_health(d->sched, src);
  if (h == NULL)
    return -1; /* not polled (stopping) */
  return h->failing_since != 0 &&
         h->last_attempt - h->failing_since >= d->conf->alerting.source_down_after;
}

/* The latest sample of IND known at AT, in any year (what a stale alert names). */
static const struct pw_sample *alert_latest(void *data, int ind, int64_t at) {
  struct pw_daemon *d = data;
  const struct pw_series *s;
  const struct pw_sample *best = NULL;
  size_t k;

  if (d->journal == NULL || ind < 0 || ind >= d->journal->n_series)
    return NULL;
  s = &d->journal->series[ind];
  for (k = 0; k < s->n; k++)
    if (pw_judge_effective(s->samples, s->n, k, at) &&
        (best == NULL || s->samples[k].as_of > best->as_of))
      best = &s->samples[k];
  return best;
}

/* The current explanation of IND (what its alerts carry). */
static const struct pw_explanation *alert_explanation(void *data, int ind) {
  struct pw_daemon *d = data;

  if (d->journal == NULL || ind < 0 || ind >= d->journal->n_series)
    return NULL;
  return pw_journal_explanation(d->journal, ind);
}

struct graph_wait {
  pw_delivery_graph_cb done;
  void *arg;
};

static void alert_graph_ready(const unsigned char *data, size_t len, void *arg) {
  struct graph_wait *w = arg;

  w->done(w->arg, data, len);
  free(w);
}

static int alert_graph(void *data, const char *indicator, enum pw_graph_format format,
                       pw_delivery_graph_cb done, void *arg) {
  struct pw_daemon *d = data;
  int ind = pw_config_indicator_index(d->conf, indicator), rc;
  struct graph_wait *w;

  if (ind < 0)
    return -ENOENT;
  w = malloc(sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->done = done;
  w->arg = arg;
  rc = pw_graphcache_get(d->graphs, ind, format == PW_GRAPH_SVG, 0, alert_graph_ready, w);
  if (rc < 0)
    free(w);
  return rc;
}

int daemon_start_alerting(struct pw_daemon *d, char *err, size_t errlen) {
  struct pw_alerting_ctx ctx;

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = d->loop;
  ctx.latest = alert_latest;
  ctx.explanation = alert_explanation;
  ctx.fetch = d->fetch;
  ctx.verdict = alert_verdict;
  ctx.source_down = alert_source_down;
  ctx.get_graph = alert_graph;
  ctx.data = d;
  return pw_alerting_init(&ctx, d->conf, &d->alerting, err, errlen);
}

/* Admission, the parse of answers and the inbox, wired to persist and alerting. */
int daemon_start_ingest(struct pw_daemon *d) {
  struct pw_inbox_context ic;

  daemon_bind_admit(d);
  memset(&ic, 0, sizeof(ic));
  ic.loop = d->loop;
  ic.state_dir = d->conf->daemon.state_dir;
  ic.admit = &d->admit;
  ic.sync = inbox_sync;
  ic.data = d;
  if (pw_ingest_init(d->plugins, &d->admit, &d->ingest) < 0)
    return -ENOMEM;
  return pw_inbox_init(&ic, &d->inbox);
}

/* Polling, whose answers go to ingest (on_polled); with --once, on_all_polled ends the cycle. */
int daemon_start_sched(struct pw_daemon *d, void (*all_polled)(void *data)) {
  struct pw_sched_callbacks cb = {on_polled, all_polled, d};

  return pw_sched_start(d->loop, d->fetch, d->conf, d->once, &cb, &d->sched);
}

/* The status server's view of the daemon (serve/http.h): what it reads, on the loop. A
 * configuration other than the daemon's current one gets nothing (a reload is being applied). */
static const struct pw_verdict *view_verdicts(void *ctx, const struct pw_config *conf) {
  const struct pw_daemon *d = ctx;

  return conf == d->conf ? d->verdicts : NULL;
}

static const struct pw_source_health *view_source_health(void *ctx, const struct pw_config *conf,
                                                         int source) {
  const struct pw_daemon *d = ctx;

  if (conf != d->conf)
    return NULL;
  return pw_sched_health(d->sched, source);
}

static const struct pw_series *view_series(void *ctx, const struct pw_config *conf,
                                           uint64_t *lines) {
  const struct pw_daemon *d = ctx;

  if (conf != d->conf)
    return NULL;
  *lines = d->journal->lines;
  return d->journal->series;
}

static void view_queue_sizes(void *ctx, long *queued, long *dead, long *batched) {
  const struct pw_daemon *d = ctx;

  pw_alerting_queue_sizes(d->alerting, queued, dead, batched);
}

static void view_corrupt_files(void *ctx, int *alerts_json, int *silences_json) {
  const struct pw_daemon *d = ctx;

  pw_alerting_corrupt_files(d->alerting, alerts_json, silences_json);
}

static void view_receiver_counts(void *ctx, const char *receiver, uint64_t *sent,
                                 uint64_t *failed) {
  const struct pw_daemon *d = ctx;

  pw_alerting_receiver_counts(d->alerting, receiver, sent, failed);
}

static void view_alerts_firing(void *ctx, long firing[4]) {
  const struct pw_daemon *d = ctx;

  pw_alerting_firing(d->alerting, &firing[0], &firing[1], &firing[2], &firing[3]);
}

static void view_graph_ready(const unsigned char *data, size_t len, void *arg) {
  pw_http_graph_ready(arg, data, len);
}

/* The graph cache is indexed by the current generation: the id is resolved here, by name. */
static int view_graph_get(void *ctx, const char *indicator, int svg, int small,
                          struct pw_http_request *request) {
  struct pw_daemon *d = ctx;
  int ind = pw_config_indicator_index(d->conf, indicator);

  if (ind < 0)
    return -ENOENT;
  return pw_graphcache_get(d->graphs, ind, svg, small, view_graph_ready, request);
}

static void view_graph_cancel(void *ctx, struct pw_http_request *request) {
  struct pw_daemon *d = ctx;

  pw_graphcache_cancel(d->graphs, request);
}

int daemon_start_http(struct pw_daemon *d, const struct pw_loopstat *loopstat) {
  const struct pw_http_view view = {
      .ctx = d,
      .verdicts = view_verdicts,
      .source_health = view_source_health,
      .series = view_series,
      .queue_sizes = view_queue_sizes,
      .corrupt_files = view_corrupt_files,
      .receiver_counts = view_receiver_counts,
      .alerts_firing = view_alerts_firing,
      .graph_get = view_graph_get,
      .graph_cancel = view_graph_cancel,
      .tokens = daemon_report_tokens,
      .submit = daemon_report_submit,
      .upload = daemon_report_upload,
      .explain = daemon_report_explain,
      .started = d->started,
      .loopstat = loopstat,
      .reload = &d->reload_info,
  };

  int rc = daemon_report_init(d);

  return rc < 0 ? rc : pw_http_start(d->loop, d->conf, &view, &d->http);
}

/* The graph cache reads the current generation and verdicts through the daemon. */
int daemon_start_graphs(struct pw_daemon *d) {
  struct pw_graphcache_ctx gctx;

  memset(&gctx, 0, sizeof(gctx));
  gctx.loop = d->loop;
  gctx.store = &d->store;
  gctx.config = current_config;
  gctx.verdict = current_verdict;
  gctx.data = d;
  return pw_graphcache_init(&gctx, &d->graphs);
}
