/*
 * graphcache: the daemon's trend graphs, rendered on the thread pool and kept in memory per
 * indicator, format and size until the indicator changes (new samples, a revision or a new
 * verdict bump its generation) or the configuration does. Readers (the status server,
 * notifications) ask for a graph and are called back on the loop, at once when the cached one
 * is current. A render is a job that owns everything it reads (a reference to its configuration,
 * a copy of the verdict and of the store's location) and the requests waiting for it, so the
 * cache's entries can be dropped at a reload while it runs.
 */
#define PW_LOG_MODULE "graph"
#include "graphcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "graph.h"
#include "log.h"
#include "util.h"

struct gc_waiter {
  pw_graphcache_ready_cb cb;
  void *data;
};

struct gc_job {
  uv_work_t work;
  struct pw_graphcache *g; /* NULL once the cache is freed */
  struct gc_job *prev, *next;
  struct pw_config *conf; /* the generation it renders under (a reference) */
  int slot;               /* its entry in that generation */
  uint64_t gen;
  struct gc_waiter *waiters;
  size_t n_waiters;
  struct pw_store store;
  struct pw_verdict verdict;
  struct pw_graph_request req;
  struct pw_graph_image img;
  int rc;
  char err[512];
  char tmp_dir[4200];
};

struct gc_entry {
  uint64_t gen; /* generation the data was rendered for */
  unsigned char *data;
  size_t len;
  struct gc_job *job; /* the render in flight for this entry, if any */
};

struct pw_graphcache {
  struct pw_graphcache_ctx ctx;
  struct pw_config *conf;   /* the generation of the entries (a reference) */
  int n;                    /* its indicators */
  struct gc_entry *entries; /* n * 4: [ind][format][small] */
  uint64_t *gen;            /* per indicator */
  struct gc_job *jobs;      /* renders in flight, of any generation */
};

static void drop_entries(struct pw_graphcache *g) {
  int i;

  for (i = 0; g->entries != NULL && i < g->n * 4; i++)
    free(g->entries[i].data);
  free(g->entries);
  free(g->gen);
  g->entries = NULL;
  g->gen = NULL;
  g->n = 0;
  pw_config_free(g->conf);
  g->conf = NULL;
}

/* Makes the entries those of the current generation. Jobs of an older one keep running; they
 * are only no longer reachable from an entry. */
static int sync_generation(struct pw_graphcache *g) {
  struct pw_config *cur = g->ctx.config(g->ctx.data);
  size_t n;

  if (cur == g->conf && g->entries != NULL)
    return 0;
  drop_entries(g);
  n = (size_t)cur->n_indicators + 1;
  g->entries = calloc(n * 4, sizeof(*g->entries));
  g->gen = calloc(n, sizeof(*g->gen));
  if (g->entries == NULL || g->gen == NULL) {
    free(g->entries);
    free(g->gen);
    g->entries = NULL;
    g->gen = NULL;
    return -ENOMEM;
  }
  g->conf = pw_config_ref(cur);
  g->n = cur->n_indicators;
  return 0;
}

int pw_graphcache_init(const struct pw_graphcache_ctx *ctx, struct pw_graphcache **out) {
  struct pw_graphcache *g = calloc(1, sizeof(*g));

  *out = NULL;
  if (g == NULL)
    return -ENOMEM;
  g->ctx = *ctx;
  if (sync_generation(g) < 0) {
    free(g);
    return -ENOMEM;
  }
  *out = g;
  return 0;
}

void pw_graphcache_free(struct pw_graphcache *g) {
  struct gc_job *job;

  if (g == NULL)
    return;
  /* Renders in flight end in render_done, which then only frees them. */
  for (job = g->jobs; job != NULL; job = job->next) {
    job->g = NULL;
    free(job->waiters);
    job->waiters = NULL;
    job->n_waiters = 0;
  }
  drop_entries(g);
  free(g);
}

void pw_graphcache_invalidate(struct pw_graphcache *g, int ind) {
  if (g == NULL || sync_generation(g) < 0)
    return;
  if (ind >= 0 && ind < g->n)
    g->gen[ind]++;
}

void pw_graphcache_reload(struct pw_graphcache *g) {
  if (g != NULL)
    sync_generation(g);
}

static void render_work(uv_work_t *w) {
  struct gc_job *job = w->data;

  pw_mkdir_p(job->tmp_dir);
  job->rc = pw_graph_render(&job->req, &job->img, job->err, sizeof(job->err));
}

static void job_free(struct gc_job *job) {
  free(job->img.data);
  free(job->waiters);
  pw_store_free(&job->store);
  pw_config_free(job->conf);
  free(job);
}

static void render_done(uv_work_t *w, int status) {
  struct gc_job *job = w->data;
  struct pw_graphcache *g = job->g;
  const unsigned char *data = NULL;
  size_t len = 0;

  (void)status;
  if (g == NULL) {
    job_free(job);
    return;
  }
  if (job->rc < 0)
    pw_log_warn("%s", job->err);
  if (job->rc == 0) {
    data = job->img.data;
    len = job->img.len;
  }
  /* Kept only while its generation is current: the entry's index is then the job's. */
  if (job->conf == g->conf && g->entries[job->slot].job == job) {
    struct gc_entry *e = &g->entries[job->slot];
    unsigned char *copy = job->rc == 0 ? malloc(job->img.len) : NULL;
    e->job = NULL;
    /* The cache keeps a copy: the waiters below get the job's own bytes, which nothing they do
     * to the cache can free. */
    if (copy != NULL) {
      memcpy(copy, job->img.data, job->img.len);
      free(e->data);
      e->data = copy;
      e->len = job->img.len;
      e->gen = job->gen;
    }
  }
  /* One waiter at a time, taken off the list before its call: a callback may ask again (a new
   * render: this one is no longer the entry's) or cancel other waiters (the job is still among
   * the renders in flight, so the cancel reaches them). */
  while (job->n_waiters > 0) {
    struct gc_waiter first = job->waiters[0];
    memmove(job->waiters, job->waiters + 1, (job->n_waiters - 1) * sizeof(*job->waiters));
    job->n_waiters--;
    first.cb(data, len, first.data);
  }
  if (job->prev != NULL)
    job->prev->next = job->next;
  else
    g->jobs = job->next;
  if (job->next != NULL)
    job->next->prev = job->prev;
  job_free(job);
}

static int add_waiter(struct gc_job *job, pw_graphcache_ready_cb cb, void *data) {
  struct gc_waiter *nw = realloc(job->waiters, (job->n_waiters + 1) * sizeof(*nw));

  if (nw == NULL)
    return -ENOMEM;
  job->waiters = nw;
  job->waiters[job->n_waiters].cb = cb;
  job->waiters[job->n_waiters].data = data;
  job->n_waiters++;
  return 0;
}

int pw_graphcache_get(struct pw_graphcache *g, int ind, int svg, int small,
                      pw_graphcache_ready_cb cb, void *data) {
  const struct pw_verdict *v;
  struct gc_entry *e;
  struct gc_job *job;
  int slot, rc;

  if (g == NULL)
    return -EINVAL;
  if (sync_generation(g) < 0)
    return -ENOMEM;
  if (ind < 0 || ind >= g->n)
    return -EINVAL;
  slot = ind * 4 + (svg ? 2 : 0) + (small ? 1 : 0);
  e = &g->entries[slot];
  /* Generations are stored plus one so that a zeroed entry never looks current. */
  if (e->data != NULL && e->gen == g->gen[ind] + 1) {
    cb(e->data, e->len, data);
    return 0;
  }
  if (e->job != NULL)
    return add_waiter(e->job, cb, data);
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return -ENOMEM;
  if (add_waiter(job, cb, data) < 0 || pw_store_dup(&job->store, g->ctx.store) < 0) {
    job_free(job);
    return -ENOMEM;
  }
  job->g = g;
  job->conf = pw_config_ref(g->conf);
  job->slot = slot;
  /* The verdict and generation are taken now, on the loop; the worker only renders. */
  job->gen = g->gen[ind] + 1;
  v = g->ctx.verdict(g->ctx.data, ind);
  if (v != NULL)
    job->verdict = *v;
  snprintf(job->tmp_dir, sizeof(job->tmp_dir), "%s/graphs", job->conf->daemon.state_dir);
  job->req.conf = job->conf;
  job->req.ind = ind;
  job->req.store = &job->store;
  job->req.verdict = v != NULL ? &job->verdict : NULL;
  job->req.at = pw_clock_now();
  job->req.format = svg ? PW_GRAPH_SVG : PW_GRAPH_PNG;
  job->req.small = small;
  job->req.out_path = NULL;
  job->req.tmp_dir = job->tmp_dir;
  job->work.data = job;
  rc = uv_queue_work(g->ctx.loop, &job->work, render_work, render_done);
  if (rc != 0) {
    pw_log_error("indicator '%s': cannot queue its graph: %s", job->conf->indicators[ind].id,
                 uv_strerror(rc));
    job_free(job);
    return rc;
  }
  e->job = job;
  job->next = g->jobs;
  if (g->jobs != NULL)
    g->jobs->prev = job;
  g->jobs = job;
  return 0;
}

void pw_graphcache_cancel(struct pw_graphcache *g, void *data) {
  struct gc_job *job;
  size_t k, w;

  if (g == NULL)
    return;
  /* The render itself goes on (its result is cached for the next reader); only the waiter is
   * forgotten, so its callback can no longer reach a closed connection. */
  for (job = g->jobs; job != NULL; job = job->next) {
    for (k = w = 0; k < job->n_waiters; k++)
      if (job->waiters[k].data != data)
        job->waiters[w++] = job->waiters[k];
    job->n_waiters = w;
  }
}
