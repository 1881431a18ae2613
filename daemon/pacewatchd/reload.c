/*
 * reload (pacewatchd): SIGHUP as a generation swap (docs/architecture.md). The new configuration is
 * loaded and checked on the loop, its journal index built on the thread pool, and the swap made
 * once persist is idle; work in flight keeps the generation it started under.
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

/* A reload in progress: the new configuration and its journal, loaded on the thread pool. */
struct pw_reload {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_config *fresh;
  struct pw_journal *journal;
  int rc;
  char err[1024];
};

void daemon_reload_free(struct pw_reload *r) {
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
  if (daemon_init_verdicts(d, old, old_v) < 0 || pw_alerting_reload(d->alerting, fresh) < 0 ||
      daemon_start_persist(d) < 0) {
    pw_alerting_stop(d->alerting);
    pw_log_error("out of memory reloading; stopping");
    daemon_bind_admit(d);
    free(old_v);
    pw_config_free(old);
    daemon_shutdown(d);
    return;
  }
  free(old_v);
  daemon_bind_admit(d);
  if (pw_ingest_reload(d->ingest) < 0 || pw_sched_reload(d->sched, fresh) < 0) {
    pw_log_error("out of memory reloading the sources; stopping");
    pw_config_free(old);
    daemon_shutdown(d);
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
  /* A briefing already due, that the tick has not written yet, is still written: only one to
   * come moves with the new schedule (docs/briefing.md#when). */
  if (d->next_briefing > pw_clock_now())
    d->next_briefing = daemon_next_briefing(fresh, pw_clock_now());
  pw_log_info("configuration %s reloaded: %d sources, %d indicators", d->config_path,
              fresh->n_sources, fresh->n_indicators);
  daemon_notify_reloaded(d, 1);
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
    daemon_reload_free(r);
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
    daemon_reload_free(r);
    daemon_notify_reloaded(d, 0);
    return;
  }
  do_reload(d, r->fresh, r->journal);
  r->fresh = NULL;
  r->journal = NULL;
  daemon_reload_free(r);
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
    daemon_reload_free(r);
    daemon_notify_reloaded(d, 0);
    return;
  }
  d->pending_reload = r;
  reload_swap(d);
}

/* SIGHUP: the new configuration is loaded and checked here, its journal index built on the
 * thread pool, and the swap made once that is done (docs/architecture.md). One reload at a time;
 * a signal meanwhile makes another follow. */
void daemon_reload(struct pw_daemon *d) {
  struct pw_config *fresh = NULL;
  struct pw_reload *r;
  char err[1024];
  int rc;

  if (d->reloading) {
    d->reload_wanted = 1;
    return;
  }
  d->reload_wanted = 0;
  daemon_notify_reloading(d);
  rc = daemon_load_config(d->config_path, d->plugins, &fresh, err, sizeof(err));
  /* Loading set the process time zone to the new file's; the running one stays until the
   * swap. */
  pw_calendar_init(&d->conf->cal, d->conf->daemon.timezone);
  if (rc < 0) {
    pw_log_error("reload failed, keeping the running configuration: %s", err);
    daemon_notify_reloaded(d, 0);
    return;
  }
  if (strcmp(d->conf->daemon.state_dir, fresh->daemon.state_dir) != 0) {
    pw_log_error("reload of %s refused: daemon.state_dir cannot change while running (restart "
                 "pacewatchd); keeping the running configuration",
                 d->config_path);
    pw_config_free(fresh);
    daemon_notify_reloaded(d, 0);
    return;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    pw_log_error("reload of %s: out of memory; keeping the running configuration", d->config_path);
    pw_config_free(fresh);
    daemon_notify_reloaded(d, 0);
    return;
  }
  r->d = d;
  r->fresh = fresh;
  r->work.data = r;
  rc = uv_queue_work(d->loop, &r->work, reload_work, reload_loaded);
  if (rc != 0) {
    pw_log_error("reload of %s: cannot queue the journal's load: %s", d->config_path,
                 uv_strerror(rc));
    daemon_reload_free(r);
    daemon_notify_reloaded(d, 0);
    return;
  }
  d->reloading = 1;
}
