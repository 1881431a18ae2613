/*
 * main: the `pacewatchd` program. Builds the root context, takes the state directory's lock,
 * loads the journal, and runs the one libuv loop that polls sources, takes work from the
 * inbox, persists samples and re-judges indicators. SIGHUP reloads the configuration (a file
 * that fails validation is logged and the running one stays); SIGTERM and SIGINT stop cleanly.
 * `--once` polls every source once, stores, judges and exits.
 */
#define PW_LOG_MODULE "main"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alerting.h"
#include "briefing.h"
#include "clock.h"
#include "log.h"
#include "daemon.h"
#include "http.h"
#include "loopstat.h"
#include "status.h"
#include "value.h"

#define EVAL_INTERVAL 60 /* seconds of the daemon's clock between re-evaluations */

static void usage(FILE *out) {
  fputs("usage: pacewatchd -c FILE [-f] [-t] [--once] [--now TIME]\n"
        "  -f          stay in the foreground and log to stderr\n"
        "  -t          validate the configuration and exit\n"
        "  --once      poll every source once, store, judge, then exit\n"
        "  --now TIME  start the daemon's clock at TIME (YYYY-MM-DD or ISO 8601)\n",
        out);
}

/* Loads and fully validates a configuration, plugins' path syntax included. */
static int load_checked(const char *path, struct pw_plugins *plugins, struct pw_config **out,
                        char *err, size_t errlen) {
  int rc = pw_config_load(path, out, err, errlen);

  if (rc < 0)
    return rc;
  rc = pw_plugins_check_config(plugins, *out, err, errlen);
  if (rc < 0) {
    pw_config_free(*out);
    *out = NULL;
  }
  return rc;
}

static void begin_shutdown(struct pw_daemon *d);

/* A briefing on the thread pool holds what it reads: its configuration generation (a
 * reference), a copy of the journal and of the store's location, so a reload need not wait. */
struct briefing_job {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_config *conf;
  struct pw_store store;
  struct pw_journal *snapshot;
  struct pw_briefing_request req;
  struct pw_briefing_result res;
  char dir[4200];
  int send, rc;
  char err[1024];
};

static void briefing_work(uv_work_t *w) {
  struct briefing_job *job = w->data;

  job->rc = pw_briefing_write(&job->req, &job->res, job->err, sizeof(job->err));
}

/* The one place a written briefing goes on from: delivery to briefing.receivers. */
static void briefing_written(struct pw_daemon *d, const struct pw_briefing_result *res, int send) {
  pw_log_info("briefing %s written: %s", res->name, res->html_path);
  if (send && d->conf->briefing.receivers.n > 0)
    pw_alerting_send_briefing(d->alerting, res->name, res->html_path, res->md_path);
}

static void briefing_done(uv_work_t *w, int status) {
  struct briefing_job *job = w->data;
  struct pw_daemon *d = job->d;

  (void)status;
  if (job->rc < 0)
    pw_log_error("briefing failed: %s", job->err);
  else
    briefing_written(d, &job->res, job->send);
  pw_journal_close(job->snapshot);
  pw_store_free(&job->store);
  pw_config_free(job->conf);
  free(job);
}

void pw_main_briefing(struct pw_daemon *d, int64_t at, int send) {
  struct briefing_job *job = calloc(1, sizeof(*job));
  int rc;

  if (job == NULL || (job->snapshot = pw_journal_snapshot(d->journal)) == NULL ||
      pw_store_dup(&job->store, &d->store) < 0) {
    pw_log_error("briefing: out of memory");
    if (job != NULL)
      pw_journal_close(job->snapshot);
    free(job);
    return;
  }
  job->d = d;
  job->send = send;
  job->conf = pw_config_ref(d->conf);
  snprintf(job->dir, sizeof(job->dir), "%s/briefings", job->conf->daemon.state_dir);
  job->req.conf = job->conf;
  job->req.journal = job->snapshot;
  job->req.store = &job->store;
  job->req.at = at;
  job->req.out_dir = job->dir;
  job->req.graphs = 1;
  job->work.data = job;
  rc = uv_queue_work(d->loop, &job->work, briefing_work, briefing_done);
  if (rc != 0) {
    pw_log_error("briefing: cannot queue it: %s", uv_strerror(rc));
    pw_journal_close(job->snapshot);
    pw_store_free(&job->store);
    pw_config_free(job->conf);
    free(job);
  }
}

/* The next instant at or after NOW + 1 s matching briefing.schedule (weekday and local time). */
static int64_t next_briefing(const struct pw_config *conf, int64_t now) {
  time_t t = (time_t)now;
  struct tm tm;
  int wday, days;
  int64_t cand;

  localtime_r(&t, &tm);
  wday = tm.tm_wday == 0 ? 7 : tm.tm_wday; /* ISO: Monday 1 .. Sunday 7 */
  days = (conf->briefing.weekday - wday + 7) % 7;
  cand = pw_calendar_local(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + days,
                           conf->briefing.minute / 60, conf->briefing.minute % 60, 0);
  if (cand <= now)
    cand = pw_calendar_local(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + days + 7,
                             conf->briefing.minute / 60, conf->briefing.minute % 60, 0);
  return cand;
}

/* Every status-server connection is a descriptor: use the hard limit, not the soft 1024. */
static void raise_fd_limit(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void on_closed_handle(uv_handle_t *h) {
  (void)h;
}

static void fetch_closed(void *data) {
  struct pw_daemon *d = data;

  d->fetch = NULL;
}

/* The last step of stopping: nothing is pending any more. */
static void finish_shutdown(struct pw_daemon *d) {
  if (d->fetch != NULL)
    pw_fetch_close(d->fetch, fetch_closed, d);
  if (!uv_is_closing((uv_handle_t *)&d->tick))
    uv_close((uv_handle_t *)&d->tick, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_term, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_hup, on_closed_handle);
}

static void persisted_for_shutdown(int rc, void *data) {
  (void)rc;
  finish_shutdown(data);
}

static void begin_shutdown(struct pw_daemon *d) {
  if (d->stopping)
    return;
  d->stopping = 1;
  uv_timer_stop(&d->tick);
  pw_alerting_stop(d->alerting); /* no delivery starts on a fetcher about to close */
  pw_http_stop(d->http);
  pw_sched_stop(d->sched);
  d->sched = NULL;
  pw_inbox_stop(d->inbox);
  /* Finish writes in flight, then close everything. */
  if (pw_persist_idle(d->persist))
    finish_shutdown(d);
  else
    pw_persist_kick(d->persist, persisted_for_shutdown, d);
}

/* --once: waits (up to 30 s) for the cycle's notifications, then stops. */
static void once_wait(uv_timer_t *t) {
  struct pw_daemon *d = t->data;

  if (pw_alerting_in_flight(d->alerting) > 0 && pw_clock_real_ms() - d->once_started_ms < 30000)
    return;
  uv_timer_stop(t);
  if (pw_alerting_undelivered(d->alerting) > 0) {
    pw_log_error("--once: %d notifications are not delivered (kept in the spool)",
                 pw_alerting_undelivered(d->alerting));
    d->exit_code = 1;
  }
  begin_shutdown(d);
}

static void once_polled_persisted(int rc, void *data) {
  struct pw_daemon *d = data;

  if (rc < 0)
    d->exit_code = 1;
  pw_alerting_evaluate(d->alerting);
  pw_alerting_flush_now(d->alerting);
  d->once_started_ms = pw_clock_real_ms();
  uv_timer_start(&d->tick, once_wait, 0, 100);
}

/* --once: every source has answered; what they brought is judged, stored and alerted on. */
static void on_all_polled(void *data) {
  struct pw_daemon *d = data;

  pw_admit_evaluate_all(&d->admit);
  pw_persist_kick(d->persist, once_polled_persisted, d);
}

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
static void bind_admit(struct pw_daemon *d) {
  d->admit.conf = d->conf;
  d->admit.journal = d->journal;
  d->admit.verdicts = d->verdicts;
  d->admit.touched = on_touched;
  d->admit.verdict_changed = on_verdict;
  d->admit.data = d;
}

/* Verdicts of a fresh start are the baseline, not news: computed without publishing. */
static int init_verdicts(struct pw_daemon *d, const struct pw_config *old_conf,
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

static int start_persist(struct pw_daemon *d) {
  struct pw_persist_ctx ctx;

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = d->loop;
  ctx.conf = d->conf;
  ctx.journal = d->journal;
  ctx.store = &d->store;
  ctx.on_stored = on_stored;
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

static int start_alerting(struct pw_daemon *d, char *err, size_t errlen) {
  struct pw_alerting_ctx ctx;

  ctx.loop = d->loop;
  ctx.fetch = d->fetch;
  ctx.verdict = alert_verdict;
  ctx.source_down = alert_source_down;
  ctx.get_graph = alert_graph;
  ctx.data = d;
  return pw_alerting_init(&ctx, d->conf, &d->alerting, err, errlen);
}

/* A reload in progress: the new configuration and its journal, loaded on the thread pool. */
struct pw_reload {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_config *fresh;
  struct pw_journal *journal;
  int rc;
  char err[1024];
};

static void reload_free(struct pw_reload *r) {
  pw_journal_close(r->journal);
  pw_config_free(r->fresh);
  free(r);
}

/* The swap: FRESH and its journal J (caught up, writable) replace the running generation. */
static void do_reload(struct pw_daemon *d, struct pw_config *fresh, struct pw_journal *j) {
  struct pw_config *old = d->conf;
  struct pw_verdict *old_v = d->verdicts;
  char err[1024];

  pw_calendar_init(&fresh->cal, fresh->daemon.timezone);
  pw_journal_close(d->journal);
  d->journal = j;
  pw_persist_free(d->persist);
  d->persist = NULL;
  d->conf = fresh;
  d->verdicts = NULL;
  /* Alerting is not rebuilt: it carries its states, batches and spool over to the new generation
   * by name, and deliveries in flight finish under the old one, which they hold. */
  if (init_verdicts(d, old, old_v) < 0 || pw_alerting_reload(d->alerting, fresh) < 0 ||
      start_persist(d) < 0) {
    pw_alerting_stop(d->alerting);
    pw_log_error("out of memory reloading; stopping");
    bind_admit(d);
    free(old_v);
    pw_config_free(old);
    begin_shutdown(d);
    return;
  }
  free(old_v);
  bind_admit(d);
  if (pw_ingest_reload(d->ingest) < 0 || pw_sched_reload(d->sched, fresh) < 0) {
    pw_log_error("out of memory reloading the sources; stopping");
    pw_config_free(old);
    begin_shutdown(d);
    return;
  }
  /* Cached graphs belong to the old generation; renders in flight keep it until they end. */
  pw_graphcache_reload(d->graphs);
  if (strcmp(old->daemon.rrdcached, fresh->daemon.rrdcached) != 0) {
    pw_store_free(&d->store);
    if (pw_store_init(&d->store, fresh->daemon.state_dir, fresh->daemon.rrdcached, err,
                      sizeof(err)) < 0)
      pw_log_error("%s", err);
  }
  pw_config_free(old);
  pw_log_set_level((enum pw_log_level)fresh->daemon.log_level);
  pw_persist_sync_all(d->persist);
  pw_admit_evaluate_all(&d->admit);
  if (d->http != NULL)
    pw_http_reload(d->http, fresh);
  d->next_briefing = next_briefing(fresh, pw_clock_now());
  pw_log_info("configuration %s reloaded: %d sources, %d indicators", d->config_path,
              fresh->n_sources, fresh->n_indicators);
}

/* Admission, the parse of answers and the inbox, wired to persist and alerting. */
static int start_ingest(struct pw_daemon *d) {
  struct pw_inbox_context ic;

  bind_admit(d);
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
static int start_sched(struct pw_daemon *d) {
  struct pw_sched_callbacks cb = {on_polled, on_all_polled, d};

  return pw_sched_start(d->loop, d->fetch, d->conf, d->once, &cb, &d->sched);
}

static void reload_swap(struct pw_daemon *d);

static void reload_when_idle(int rc, void *data) {
  struct pw_daemon *d = data;

  (void)rc;
  if (d->pending_reload != NULL)
    reload_swap(d);
}

/* The loaded journal catches up with the lines committed while it loaded, then the swap. The
 * running journal's pending lines must be in the file first, so persist must be idle. */
static void reload_swap(struct pw_daemon *d) {
  struct pw_reload *r = d->pending_reload;
  char err[1024];

  if (d->stopping) {
    d->pending_reload = NULL;
    d->reloading = 0;
    reload_free(r);
    return;
  }
  if (!pw_persist_idle(d->persist)) {
    pw_persist_kick(d->persist, reload_when_idle, d);
    return;
  }
  d->pending_reload = NULL;
  d->reloading = 0;
  if (pw_journal_catch_up(r->journal, 1, err, sizeof(err)) < 0) {
    pw_log_error("reload of %s failed: %s; keeping the running configuration", d->config_path, err);
    reload_free(r);
    return;
  }
  do_reload(d, r->fresh, r->journal);
  r->fresh = NULL;
  r->journal = NULL;
  reload_free(r);
}

static void reload_work(uv_work_t *w) {
  struct pw_reload *r = w->data;

  r->rc = pw_journal_open(r->fresh, 0, &r->journal, r->err, sizeof(r->err));
}

static void reload_loaded(uv_work_t *w, int status) {
  struct pw_reload *r = w->data;
  struct pw_daemon *d = r->d;

  (void)status;
  if (r->rc < 0) {
    pw_log_error("reload of %s failed: %s; keeping the running configuration", d->config_path,
                 r->err);
    d->reloading = 0;
    reload_free(r);
    return;
  }
  d->pending_reload = r;
  reload_swap(d);
}

/* SIGHUP: the new configuration is loaded and checked here, its journal index built on the
 * thread pool, and the swap made once that is done (docs/architecture.md). One reload at a time;
 * a signal meanwhile makes another follow. */
static void reload(struct pw_daemon *d) {
  struct pw_config *fresh = NULL;
  struct pw_reload *r;
  char err[1024];
  int rc;

  if (d->reloading) {
    d->reload_wanted = 1;
    return;
  }
  d->reload_wanted = 0;
  rc = load_checked(d->config_path, d->plugins, &fresh, err, sizeof(err));
  /* Loading set the process time zone to the new file's; the running one stays until the
   * swap. */
  pw_calendar_init(&d->conf->cal, d->conf->daemon.timezone);
  if (rc < 0) {
    pw_log_error("reload failed, keeping the running configuration: %s", err);
    return;
  }
  if (strcmp(d->conf->daemon.state_dir, fresh->daemon.state_dir) != 0) {
    pw_log_error("reload of %s refused: daemon.state_dir cannot change while running (restart "
                 "pacewatchd); keeping the running configuration",
                 d->config_path);
    pw_config_free(fresh);
    return;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    pw_log_error("reload of %s: out of memory; keeping the running configuration", d->config_path);
    pw_config_free(fresh);
    return;
  }
  r->d = d;
  r->fresh = fresh;
  r->work.data = r;
  rc = uv_queue_work(d->loop, &r->work, reload_work, reload_loaded);
  if (rc != 0) {
    pw_log_error("reload of %s: cannot queue the journal's load: %s", d->config_path,
                 uv_strerror(rc));
    reload_free(r);
    return;
  }
  d->reloading = 1;
}

static void on_signal(uv_signal_t *h, int signum) {
  struct pw_daemon *d = h->data;

  if (signum == SIGHUP) {
    pw_log_info("SIGHUP: reloading %s", d->config_path);
    reload(d);
    return;
  }
  pw_log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  begin_shutdown(d);
}

static void on_tick(uv_timer_t *t) {
  struct pw_daemon *d = t->data;
  int64_t now = pw_clock_now();

  if (d->stopping)
    return;
  pw_inbox_poll(d->inbox);
  pw_alerting_tick(d->alerting);
  /* RRD writes held back a few seconds (persist.c) go out once due. */
  if (!pw_persist_idle(d->persist))
    pw_persist_kick(d->persist, NULL, NULL);
  if (d->reload_wanted && !d->reloading)
    reload(d);
  if (now >= d->next_briefing) {
    pw_main_briefing(d, d->next_briefing, 1);
    d->next_briefing = next_briefing(d->conf, now);
  }
  if (now - d->last_eval >= EVAL_INTERVAL) {
    d->last_eval = now;
    pw_admit_evaluate_all(&d->admit);
    pw_alerting_evaluate(d->alerting);
  }
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

static int start_http(struct pw_daemon *d, const struct pw_loopstat *loopstat) {
  const struct pw_http_view view = {
      .ctx = d,
      .verdicts = view_verdicts,
      .source_health = view_source_health,
      .series = view_series,
      .queue_sizes = view_queue_sizes,
      .graph_get = view_graph_get,
      .graph_cancel = view_graph_cancel,
      .started = d->started,
      .loopstat = loopstat,
  };

  return pw_http_start(d->loop, d->conf, &view, &d->http);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"once", no_argument, NULL, 'o'},
                                       {"now", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct pw_daemon d;
  struct pw_graphcache_ctx gctx;
  uv_loop_t loop;
  struct pw_loopstat loopstat;
  const char *now_text = NULL;
  char err[1024], inbox[4200], ua[64];
  int opt, test = 0, rc, i;

  memset(&d, 0, sizeof(d));
  d.lock_fd = -1;
  pw_log_open(0);
  while ((opt = getopt_long(argc, argv, "c:fth", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      d.config_path = optarg;
      break;
    case 'f':
      d.foreground = 1;
      break;
    case 't':
      test = 1;
      break;
    case 'o':
      d.once = 1;
      d.foreground = 1;
      break;
    case 'n':
      now_text = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (d.config_path == NULL || optind != argc) {
    usage(stderr);
    return 2;
  }
  if (pw_plugins_load(&d.plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatchd: %s\n", err);
    return 1;
  }
  if (load_checked(d.config_path, d.plugins, &d.conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    pw_plugins_free(d.plugins);
    return 2;
  }
  if (test) {
    printf("%s: ok\n", d.config_path);
    pw_config_free(d.conf);
    pw_plugins_free(d.plugins);
    return 0;
  }
  if (now_text != NULL) {
    int64_t start;
    if (pw_date_parse(now_text, &start) < 0) {
      fprintf(stderr, "pacewatchd: --now '%s' is not a time\n", now_text);
      return 2;
    }
    pw_clock_simulate(start);
  }
  pw_log_set_level((enum pw_log_level)d.conf->daemon.log_level);
  if (!d.foreground)
    pw_log_open(1);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  d.started = pw_clock_real_ms() / 1000;

  d.lock_fd = pw_state_lock(d.conf->daemon.state_dir);
  if (d.lock_fd < 0) {
    pw_log_error("%s: %s", d.conf->daemon.state_dir,
                 d.lock_fd == -EWOULDBLOCK ? "another pacewatchd holds this state directory"
                                           : strerror(-d.lock_fd));
    return 1;
  }
  snprintf(inbox, sizeof(inbox), "%s/inbox", d.conf->daemon.state_dir);
  pw_mkdir_p(inbox);
  if (pw_journal_open(d.conf, 1, &d.journal, err, sizeof(err)) < 0 ||
      pw_store_init(&d.store, d.conf->daemon.state_dir, d.conf->daemon.rrdcached, err,
                    sizeof(err)) < 0) {
    pw_log_error("%s", err);
    return 1;
  }
  /* libuv's one thread pool runs every blocking job (journal commits, RRD writes, the check
   * of the files, graph renders, briefings, a reload's journal load). Renders wait for each
   * other on the store lock and persist shares a big batch among up to four jobs: more than
   * libuv's default of four threads keeps a commit from queueing behind them. The pool starts
   * with the first job, so this must come before any. */
  setenv("UV_THREADPOOL_SIZE", "8", 0);
  rc = uv_loop_init(&loop);
  if (rc != 0) {
    pw_log_error("cannot start: %s", uv_strerror(rc));
    return 1;
  }
  d.loop = &loop;
  rc = pw_loopstat_start(&loopstat, &loop);
  if (rc < 0) {
    pw_log_error("cannot start: measuring the event loop: %s", uv_strerror(rc));
    return 1;
  }
  snprintf(ua, sizeof(ua), "pacewatch/%s", PW_VERSION);
  memset(&gctx, 0, sizeof(gctx));
  gctx.loop = &loop;
  gctx.store = &d.store;
  gctx.config = current_config;
  gctx.verdict = current_verdict;
  gctx.data = &d;
  if (pw_fetch_init(&loop, (int)d.conf->daemon.max_transfers, ua, &d.fetch) < 0 ||
      start_persist(&d) < 0 || pw_graphcache_init(&gctx, &d.graphs) < 0 ||
      init_verdicts(&d, NULL, NULL) < 0 || start_ingest(&d) < 0) {
    pw_log_error("cannot start: out of memory");
    return 1;
  }
  if (start_alerting(&d, err, sizeof(err)) < 0) {
    pw_log_error("cannot start alerting: %s", err);
    return 1;
  }
  pw_log_info("pacewatchd %s: %d sources, %d indicators, %llu journal lines, state %s", PW_VERSION,
              d.conf->n_sources, d.conf->n_indicators, (unsigned long long)d.journal->lines,
              d.conf->daemon.state_dir);
  pw_persist_sync_all(d.persist);
  if (!d.once)
    pw_alerting_evaluate(d.alerting); /* what changed while the daemon was down */
  uv_signal_init(&loop, &d.sig_term);
  uv_signal_init(&loop, &d.sig_int);
  uv_signal_init(&loop, &d.sig_hup);
  d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
  uv_signal_start(&d.sig_term, on_signal, SIGTERM);
  uv_signal_start(&d.sig_int, on_signal, SIGINT);
  uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
  uv_timer_init(&loop, &d.tick);
  d.tick.data = &d;
  d.last_eval = pw_clock_now();
  if (!d.once)
    uv_timer_start(&d.tick, on_tick, 1000, 1000);
  if (start_sched(&d) < 0) {
    pw_log_error("cannot start the sources: out of memory");
    return 1;
  }
  d.next_briefing = next_briefing(d.conf, pw_clock_now());
  if (!d.once) {
    /* The status server serves a running daemon; --once has nobody to answer. */
    rc = start_http(&d, &loopstat);
    if (rc < 0) {
      pw_log_error("cannot start: the status server cannot listen on daemon.http_listen '%s': %s",
                   d.conf->daemon.http_listen, uv_strerror(rc));
      return 1;
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  /* The measuring handle never kept the loop alive: it closes now, in one more turn. */
  pw_loopstat_stop(&loopstat);
  uv_run(&loop, UV_RUN_DEFAULT);

  rc = uv_loop_close(&loop);
  if (rc != 0)
    pw_log_error("handles still open at exit: %s", uv_strerror(rc));
  /* Queued rrdcached updates reach the files before we go. */
  for (i = 0; d.conf->daemon.rrdcached[0] != '\0' && i < d.conf->n_indicators; i++)
    pw_store_flush(&d.store, d.conf->indicators[i].id, err, sizeof(err));
  pw_log_info("stopped");
  pw_http_free(d.http);
  pw_inbox_free(d.inbox);
  pw_ingest_free(d.ingest);
  pw_persist_free(d.persist);
  pw_graphcache_free(d.graphs);
  pw_alerting_free(d.alerting);
  if (d.pending_reload != NULL)
    reload_free(d.pending_reload);
  pw_journal_close(d.journal);
  pw_store_free(&d.store);
  free(d.verdicts);
  pw_config_free(d.conf);
  pw_plugins_free(d.plugins);
  close(d.lock_fd);
  return d.exit_code;
}
