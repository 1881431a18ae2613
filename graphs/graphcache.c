/*
 * graphcache: the daemon's trend graphs, rendered on the thread pool and kept in memory per
 * indicator, format and size until the indicator changes (new samples, a revision or a new
 * verdict bump its generation). Readers (the status server, notifications) ask for a graph and
 * are called back on the loop, at once when the cached one is current.
 */
#define PW_LOG_MODULE "graph"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "graph.h"
#include "log.h"
#include "daemon.h"

struct gc_waiter {
  pw_graph_ready_cb cb;
  void *data;
};

struct gc_entry {
  uint64_t gen; /* generation the data was rendered for */
  unsigned char *data;
  size_t len;
  int busy;
  struct gc_waiter *waiters;
  size_t n_waiters;
};

struct gc_job {
  uv_work_t work;
  struct pw_daemon *d;
  struct gc_entry *e;
  struct pw_graph_request req;
  struct pw_verdict verdict;
  uint64_t gen;
  struct pw_graph_image img;
  int rc;
  char err[512];
  char tmp_dir[4200];
};

struct pw_graphcache {
  int n;                    /* indicators */
  struct gc_entry *entries; /* n * 4: [ind][format][small] */
  uint64_t *gen;            /* per indicator */
};

int pw_graphcache_init(struct pw_daemon *d) {
  struct pw_graphcache *g = calloc(1, sizeof(*g));
  size_t n = (size_t)d->conf->n_indicators + 1;

  if (g == NULL)
    return -ENOMEM;
  g->n = d->conf->n_indicators;
  g->entries = calloc(n * 4, sizeof(*g->entries));
  g->gen = calloc(n, sizeof(*g->gen));
  if (g->entries == NULL || g->gen == NULL) {
    free(g->entries);
    free(g->gen);
    free(g);
    return -ENOMEM;
  }
  d->graphs = g;
  return 0;
}

void pw_graphcache_free(struct pw_daemon *d) {
  struct pw_graphcache *g = d->graphs;
  int i;

  if (g == NULL)
    return;
  /* Called when no render is running (reload and exit wait for busy_workers == 0). */
  for (i = 0; i < g->n * 4; i++) {
    free(g->entries[i].data);
    free(g->entries[i].waiters);
  }
  free(g->entries);
  free(g->gen);
  free(g);
  d->graphs = NULL;
}

void pw_graphcache_invalidate(struct pw_daemon *d, int ind) {
  if (d->graphs != NULL && ind >= 0 && ind < d->graphs->n)
    d->graphs->gen[ind]++;
}

static void render_work(uv_work_t *w) {
  struct gc_job *job = w->data;

  job->rc = pw_graph_render(&job->req, &job->img, job->err, sizeof(job->err));
}

static void render_done(uv_work_t *w, int status) {
  struct gc_job *job = w->data;
  struct gc_entry *e = job->e;
  struct gc_waiter *ws = e->waiters;
  size_t i, n = e->n_waiters;

  (void)status;
  job->d->busy_workers--;
  e->busy = 0;
  e->waiters = NULL;
  e->n_waiters = 0;
  if (job->rc == 0) {
    free(e->data);
    e->data = job->img.data;
    e->len = job->img.len;
    e->gen = job->gen;
  } else {
    pw_log_warn("%s", job->err);
  }
  for (i = 0; i < n; i++)
    ws[i].cb(job->d, job->rc == 0 ? e->data : NULL, job->rc == 0 ? e->len : 0, ws[i].data);
  free(ws);
  free(job);
}

int pw_graphcache_get(struct pw_daemon *d, int ind, int svg, int small, pw_graph_ready_cb cb,
                      void *data) {
  struct pw_graphcache *g = d->graphs;
  struct gc_entry *e;
  struct gc_waiter *nw;
  struct gc_job *job;

  if (g == NULL || ind < 0 || ind >= g->n)
    return -EINVAL;
  e = &g->entries[ind * 4 + (svg ? 2 : 0) + (small ? 1 : 0)];
  if (e->data != NULL && e->gen == g->gen[ind] + 1) {
    cb(d, e->data, e->len, data);
    return 0;
  }
  nw = realloc(e->waiters, (e->n_waiters + 1) * sizeof(*nw));
  if (nw == NULL)
    return -ENOMEM;
  e->waiters = nw;
  e->waiters[e->n_waiters].cb = cb;
  e->waiters[e->n_waiters].data = data;
  e->n_waiters++;
  if (e->busy)
    return 0;
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    e->n_waiters--;
    return -ENOMEM;
  }
  job->d = d;
  job->e = e;
  /* The verdict and generation are taken now, on the loop; the worker only renders. Generations
   * are stored plus one so that a zeroed entry never looks current. */
  job->verdict = d->verdicts[ind];
  job->gen = g->gen[ind] + 1;
  snprintf(job->tmp_dir, sizeof(job->tmp_dir), "%s/graphs", d->conf->daemon.state_dir);
  pw_mkdir_p(job->tmp_dir);
  job->req.conf = d->conf;
  job->req.ind = ind;
  job->req.store = &d->store;
  job->req.verdict = &job->verdict;
  job->req.at = pw_clock_now();
  job->req.format = svg ? PW_GRAPH_SVG : PW_GRAPH_PNG;
  job->req.small = small;
  job->req.out_path = NULL;
  job->req.tmp_dir = job->tmp_dir;
  job->work.data = job;
  e->busy = 1;
  d->busy_workers++;
  if (uv_queue_work(d->loop, &job->work, render_work, render_done) != 0) {
    d->busy_workers--;
    e->busy = 0;
    e->n_waiters--;
    free(job);
    return -EIO;
  }
  return 0;
}

void pw_graphcache_cancel(struct pw_daemon *d, void *data) {
  struct pw_graphcache *g = d->graphs;
  int i;
  size_t k, w;

  if (g == NULL)
    return;
  /* The render itself goes on (its result is cached for the next reader); only the waiter is
   * forgotten, so its callback can no longer reach a closed connection. */
  for (i = 0; i < g->n * 4; i++) {
    struct gc_entry *e = &g->entries[i];
    for (k = w = 0; k < e->n_waiters; k++)
      if (e->waiters[k].data != data)
        e->waiters[w++] = e->waiters[k];
    e->n_waiters = w;
  }
}
