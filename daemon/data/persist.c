/*
 * persist: makes accepted samples durable and keeps the RRD files in step with the journal,
 * off the loop. One batch runs at a time on libuv's thread pool: it writes and fsyncs the
 * journal lines accepted since the last batch (one fsync per burst, never one per sample),
 * then appends to or rebuilds the RRD files of the indicators those lines touched. While a
 * batch runs, new samples gather for the next one. Writes to one RRD file therefore never
 * overlap, and the loop never blocks on disk.
 *
 * An RRD file written less than RRD_DELAY_MS ago waits (the journal does not): a source polled
 * every second then costs one rrd_update per file every few seconds, with several points, not
 * one per point, and librrd's open/mmap/lock/munmap per call is what dominates its cost. The
 * first write after a quiet spell goes at once, and a kick that someone waits for (the CLI,
 * --once, a reload, shutdown) writes everything.
 */
#define PW_LOG_MODULE "persist"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "derive.h"
#include "log.h"
#include "daemon.h"

#define RRD_DELAY_MS 10000
/* A batch of at least this many files is shared among up to OP_THREADS_MAX threads. */
#define OP_PARALLEL_MIN 64
#define OP_THREADS_MAX 4

struct waiter {
  void (*done)(struct pw_daemon *d, int rc, void *data);
  void *data;
};

struct store_op {
  int ind;
  int rebuild;
  int has_prev;
  struct pw_store_point prev;
  struct pw_store_point *pts;
  size_t n;
  int rc;
  char err[256];
};

struct pw_persist {
  struct pw_daemon *d;
  uv_work_t work;
  int running;
  unsigned char *touched, *revised; /* per indicator, for the next batch */
  int *dirty;                       /* the touched indicators, in the order they were touched */
  int n_dirty;
  int64_t *stored_as_of; /* per indicator: latest as_of in its RRD file, 0 = none */
  int64_t *written_ms;   /* per indicator: when its RRD file was last written (wall clock) */
  int force;             /* the next batch writes every touched file, due or not */
  /* The batch in flight. */
  struct pw_buf lines;
  int fd;
  int write_rc;
  struct store_op *ops;
  size_t n_ops;
  struct waiter *now_waiting, *next_waiting;
  size_t n_now, n_next, cap_now, cap_next;
  int again;
};

int pw_persist_init(struct pw_daemon *d) {
  struct pw_persist *p = calloc(1, sizeof(*p));
  size_t n = (size_t)d->conf->n_indicators + 1;

  if (p == NULL)
    return -ENOMEM;
  p->d = d;
  p->touched = calloc(n, 1);
  p->revised = calloc(n, 1);
  p->stored_as_of = calloc(n, sizeof(int64_t));
  p->dirty = calloc(n, sizeof(int));
  p->written_ms = calloc(n, sizeof(int64_t));
  if (p->touched == NULL || p->revised == NULL || p->stored_as_of == NULL || p->dirty == NULL ||
      p->written_ms == NULL) {
    free(p->written_ms);
    free(p->touched);
    free(p->revised);
    free(p->stored_as_of);
    free(p->dirty);
    free(p);
    return -ENOMEM;
  }
  p->work.data = p;
  d->persist = p;
  return 0;
}

void pw_persist_free(struct pw_daemon *d) {
  struct pw_persist *p = d->persist;

  if (p == NULL)
    return;
  free(p->touched);
  free(p->revised);
  free(p->stored_as_of);
  free(p->dirty);
  free(p->written_ms);
  pw_buf_free(&p->lines);
  free(p->now_waiting);
  free(p->next_waiting);
  free(p);
  d->persist = NULL;
}

/* Marks IND for the next batch. The list of touched indicators is what a batch walks, so a
 * poll that touched ten indicators of a province's thousands costs ten, not thousands. */
static void touch(struct pw_persist *p, int ind, int revised) {
  if (!p->touched[ind]) {
    p->touched[ind] = 1;
    p->dirty[p->n_dirty++] = ind;
  }
  if (revised)
    p->revised[ind] = 1;
}

void pw_persist_touch(struct pw_daemon *d, int ind, int revised) {
  touch(d->persist, ind, revised);
}

int pw_persist_idle(const struct pw_daemon *d) {
  const struct pw_persist *p = d->persist;

  if (p == NULL)
    return 1;
  return !p->running && d->journal->pending.len == 0 && p->n_dirty == 0;
}

static int prepare_op(struct pw_daemon *d, int ind, struct store_op *op) {
  int64_t after = op->rebuild ? 0 : d->persist->stored_as_of[ind];

  return pw_derive_points(d->conf, d->journal, ind, after, &op->pts, &op->n, &op->prev,
                          &op->has_prev);
}

/* Runs ops FROM, FROM + STEP, ... of the batch. */
static void run_ops(struct pw_persist *p, size_t from, size_t step) {
  size_t i;

  for (i = from; i < p->n_ops; i += step) {
    struct store_op *op = &p->ops[i];
    const char *id = p->d->conf->indicators[op->ind].id;
    if (op->rebuild)
      op->rc = pw_store_rebuild(&p->d->store, id, op->pts, op->n, op->err, sizeof(op->err));
    else if (op->n > 0)
      op->rc = pw_store_append(&p->d->store, id, op->has_prev ? &op->prev : NULL, op->pts, op->n,
                               op->err, sizeof(op->err));
  }
}

struct op_share {
  struct pw_persist *p;
  size_t from, step;
  pthread_t thread;
  int started;
};

static void *op_thread(void *arg) {
  struct op_share *sh = arg;

  run_ops(sh->p, sh->from, sh->step);
  return NULL;
}

/* A big batch (the first poll of a province: thousands of new files) is shared among as many
 * threads as there are processors, up to OP_THREADS_MAX. Each op is a different indicator, so
 * no two threads touch one file; the store serialises what must be (every librrd call on an
 * existing file) and creates new files in parallel. */
static void run_ops_parallel(struct pw_persist *p) {
  struct op_share sh[OP_THREADS_MAX];
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t k, n = p->n_ops >= OP_PARALLEL_MIN && cpus > 1 ? (size_t)cpus : 1;

  if (n > OP_THREADS_MAX)
    n = OP_THREADS_MAX;
  for (k = 1; k < n; k++) {
    sh[k].p = p;
    sh[k].from = k;
    sh[k].step = n;
    sh[k].started = pthread_create(&sh[k].thread, NULL, op_thread, &sh[k]) == 0;
    if (!sh[k].started)
      run_ops(p, k, n);
  }
  run_ops(p, 0, n);
  for (k = 1; k < n; k++)
    if (sh[k].started)
      pthread_join(sh[k].thread, NULL);
}

static void work_cb(uv_work_t *w) {
  struct pw_persist *p = w->data;
  const char *data = p->lines.data;
  size_t left = p->lines.len;

  p->write_rc = 0;
  while (left > 0) {
    ssize_t n = write(p->fd, data, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      p->write_rc = -errno;
      break;
    }
    data += n;
    left -= (size_t)n;
  }
  if (p->write_rc == 0 && p->lines.len > 0 && fsync(p->fd) != 0)
    p->write_rc = -errno;
  /* RRD files are derived from the journal: only touch them once the journal holds the lines. */
  if (p->write_rc == 0)
    run_ops_parallel(p);
}

static void start_batch(struct pw_daemon *d);

static void after_cb(uv_work_t *w, int status) {
  struct pw_persist *p = w->data;
  struct pw_daemon *d = p->d;
  size_t i;
  struct waiter *ws = p->now_waiting;
  size_t nw = p->n_now;
  int rc = p->write_rc;

  (void)status;
  p->running = 0;
  if (rc < 0)
    pw_log_error("cannot write the journal %s: %s; the samples are kept in memory and retried",
                 d->journal->path, strerror(-rc));
  for (i = 0; i < p->n_ops; i++) {
    struct store_op *op = &p->ops[i];
    if (rc < 0) {
      /* Not written: try again with the next batch. */
      touch(p, op->ind, op->rebuild);
    } else if (op->rc < 0) {
      pw_log_error("indicator '%s': %s", d->conf->indicators[op->ind].id, op->err);
      /* A failed append may leave the file behind the journal: rebuild it next time. */
      touch(p, op->ind, 1);
    } else if (op->n > 0) {
      p->stored_as_of[op->ind] = op->pts[op->n - 1].t;
      pw_graphcache_invalidate(d, op->ind);
    } else if (op->rebuild) {
      p->stored_as_of[op->ind] = 0;
      pw_graphcache_invalidate(d, op->ind);
    }
    free(op->pts);
  }
  free(p->ops);
  p->ops = NULL;
  p->n_ops = 0;
  if (rc < 0) {
    /* Put the lines back in front of anything accepted meanwhile. */
    struct pw_buf merged = {NULL, 0, 0, 0};
    if (pw_buf_append(&merged, p->lines.data, p->lines.len) == 0 &&
        pw_buf_append(&merged, d->journal->pending.data ? d->journal->pending.data : "",
                      d->journal->pending.len) == 0) {
      pw_buf_free(&d->journal->pending);
      d->journal->pending = merged;
    } else {
      pw_buf_free(&merged);
    }
  }
  p->lines.len = 0;
  p->now_waiting = NULL;
  p->n_now = p->cap_now = 0;
  for (i = 0; i < nw; i++)
    if (ws[i].done != NULL)
      ws[i].done(d, rc, ws[i].data);
  free(ws);
  if (p->again && rc == 0) {
    p->again = 0;
    start_batch(d);
  } else if (p->again) {
    /* Keep the waiters of the next batch; a later kick (next poll, next tick) retries. */
    p->again = 0;
  }
}

static void start_batch(struct pw_daemon *d) {
  struct pw_persist *p = d->persist;
  int k, i;
  struct pw_buf tmp;

  int64_t now_ms = pw_clock_real_ms();
  int force = p->force || p->n_next > 0, due = 0;

  for (k = 0; k < p->n_dirty && !due; k++)
    due = force || p->revised[p->dirty[k]] || now_ms - p->written_ms[p->dirty[k]] >= RRD_DELAY_MS;
  /* Nothing to write and nobody waiting (an unchanged poll): no batch at all. */
  if (!due && d->journal->pending.len == 0 && p->n_next == 0)
    return;
  p->force = 0;
  p->ops = calloc((size_t)p->n_dirty + 1, sizeof(*p->ops));
  if (p->ops == NULL) {
    pw_log_error("out of memory starting a journal commit");
    return;
  }
  p->n_ops = 0;
  for (k = 0; k < p->n_dirty; k++) {
    struct store_op *op;
    i = p->dirty[k];
    if (!force && !p->revised[i] && now_ms - p->written_ms[i] < RRD_DELAY_MS)
      continue; /* written a moment ago: its points wait for the next due batch */
    p->written_ms[i] = now_ms;
    op = &p->ops[p->n_ops++];
    op->ind = i;
    op->rebuild = p->revised[i];
    if (prepare_op(d, i, op) < 0) {
      pw_log_error("indicator '%s': out of memory preparing its RRD update",
                   d->conf->indicators[i].id);
      p->n_ops--;
      continue;
    }
    p->touched[i] = p->revised[i] = 0;
  }
  /* Those that could not be prepared stay touched, at the front of the list. */
  for (k = 0, i = 0; k < p->n_dirty; k++)
    if (p->touched[p->dirty[k]])
      p->dirty[i++] = p->dirty[k];
  p->n_dirty = i;
  /* The lines accepted so far go with this batch; new ones gather in the journal's buffer. */
  tmp = p->lines;
  p->lines = d->journal->pending;
  d->journal->pending = tmp;
  d->journal->pending.len = 0;
  p->fd = d->journal->fd;
  p->now_waiting = p->next_waiting;
  p->n_now = p->n_next;
  p->cap_now = p->cap_next;
  p->next_waiting = NULL;
  p->n_next = p->cap_next = 0;
  p->running = 1;
  if (uv_queue_work(d->loop, &p->work, work_cb, after_cb) != 0) {
    pw_log_error("cannot queue the journal commit");
    p->running = 0;
  }
}

void pw_persist_kick(struct pw_daemon *d, void (*done)(struct pw_daemon *d, int rc, void *data),
                     void *data) {
  struct pw_persist *p = d->persist;

  if (done != NULL) {
    if (p->n_next == p->cap_next) {
      size_t cap = p->cap_next ? p->cap_next * 2 : 4;
      struct waiter *nw = realloc(p->next_waiting, cap * sizeof(*nw));
      if (nw == NULL) {
        done(d, -ENOMEM, data);
        return;
      }
      p->next_waiting = nw;
      p->cap_next = cap;
    }
    p->next_waiting[p->n_next].done = done;
    p->next_waiting[p->n_next].data = data;
    p->n_next++;
  }
  if (done != NULL)
    p->force = 1; /* someone waits: the RRD files too are brought up to date */
  if (p->running) {
    p->again = 1;
    return;
  }
  start_batch(d);
}

void pw_persist_sync_all(struct pw_daemon *d) {
  struct pw_persist *p = d->persist;
  int i, stale = 0;

  for (i = 0; i < d->conf->n_indicators; i++) {
    const struct pw_series *s = &d->journal->series[i];
    int64_t last = 0;
    char err[256];
    int rc = pw_store_last(&d->store, d->conf->indicators[i].id, &last, err, sizeof(err));

    if (s->n == 0 && rc == -ENOENT)
      continue;
    if (s->n > 0 && rc == 0 && last == s->max_as_of) {
      p->stored_as_of[i] = last;
      continue;
    }
    /* Missing, behind or ahead of the journal (e.g. written by an import while the daemon was
     * down, or a journal restored from backup): derive it again. */
    touch(p, i, 1);
    stale++;
  }
  if (stale > 0) {
    pw_log_info("%d RRD files are out of step with the journal; rebuilding them", stale);
    pw_persist_kick(d, NULL, NULL);
  }
}
