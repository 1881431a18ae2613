/*
 * retention (pacewatchd): spool/dead/ and briefings/ files older than daemon.retention are
 * removed on the thread pool, once at start and then every day of the daemon's clock
 * (docs/storage.md "Retention"). Only names pacewatch writes are looked at; no link is followed.
 */
#define PW_LOG_MODULE "main"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "briefing.h"
#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define RETENTION_EVERY 86400 /* seconds of the daemon's clock between two prunings */

struct retention_job {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_config *conf; /* the generation it started under (state_dir, retention) */
  int64_t before;         /* files older than this (real clock) go */
  char dead[4200], briefings[4200];
  int n_dead, n_briefings; /* removed, or a negative errno */
};

static void retention_work(uv_work_t *w) {
  struct retention_job *job = w->data;

  job->n_dead = pw_prune_dir(job->dead, job->before, pw_spool_dead_name);
  job->n_briefings = pw_prune_dir(job->briefings, job->before, pw_briefing_file_name);
}

static void report(const char *dir, int n) {
  if (n < 0 && n != -ENOENT)
    pw_log_error("retention: %s: cannot prune: %s%s", dir, strerror(-n),
                 n == -ELOOP ? " (a symbolic link, not followed)" : "");
}

/* RETENTION as the configuration writes it: "400d", or seconds when not whole days. */
static const char *days(int64_t retention, char *buf, size_t size) {
  if (retention % 86400 == 0)
    snprintf(buf, size, "%lldd", (long long)(retention / 86400));
  else
    snprintf(buf, size, "%llds", (long long)retention);
  return buf;
}

static void retention_done(uv_work_t *w, int status) {
  struct retention_job *job = w->data;
  char d[32];

  (void)status;
  job->d->pruning = 0;
  report(job->dead, job->n_dead);
  report(job->briefings, job->n_briefings);
  if (job->n_dead > 0 || job->n_briefings > 0)
    pw_log_info("retention: removed %d files from %s and %d from %s, older than %s "
                "(daemon.retention)",
                job->n_dead > 0 ? job->n_dead : 0, job->dead,
                job->n_briefings > 0 ? job->n_briefings : 0, job->briefings,
                days(job->conf->daemon.retention, d, sizeof(d)));
  else
    pw_log_debug("retention: nothing older than %s in %s or %s",
                 days(job->conf->daemon.retention, d, sizeof(d)), job->dead, job->briefings);
  pw_config_free(job->conf);
  free(job);
}

void daemon_retention(struct pw_daemon *d, int64_t now) {
  struct retention_job *job;
  int rc;

  if (d->pruning || now < d->next_prune)
    return;
  d->next_prune = now + RETENTION_EVERY;
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    pw_log_error("retention: out of memory");
    return;
  }
  job->d = d;
  job->conf = pw_config_ref(d->conf);
  /* File times are on the real clock, whatever the daemon's (possibly simulated) one says. */
  job->before = pw_clock_real_ms() / 1000 - job->conf->daemon.retention;
  snprintf(job->dead, sizeof(job->dead), "%s/spool/dead", job->conf->daemon.state_dir);
  snprintf(job->briefings, sizeof(job->briefings), "%s/briefings", job->conf->daemon.state_dir);
  job->work.data = job;
  rc = uv_queue_work(d->loop, &job->work, retention_work, retention_done);
  if (rc != 0) {
    pw_log_error("retention: cannot queue it: %s", uv_strerror(rc));
    pw_config_free(job->conf);
    free(job);
    return;
  }
  d->pruning = 1;
}
