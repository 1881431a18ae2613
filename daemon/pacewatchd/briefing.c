/*
 * briefing (pacewatchd): the weekly briefing's schedule and its job on the thread pool; a written
 * briefing goes on to briefing.receivers through alerting (docs/briefing.md).
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

void daemon_briefing(struct pw_daemon *d, int64_t at, int send) {
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
int64_t daemon_next_briefing(const struct pw_config *conf, int64_t now) {
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
