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
 * --once, a reload, shutdown) writes everything. For the same reason a busy daemon's polls
 * start a batch at most every GATHER_MS: each batch costs an fsync and two hand-offs to the
 * pool and back.
 *
 * A batch is two steps on the pool: the journal's write and fsync, then, once the lines are
 * durable, the RRD work, which a big batch (a province's first poll creates thousands of files)
 * shares among several work items so that the files are created in parallel. Only libuv's
 * pool runs them; the store's lock keeps what must be serialised serialised.
 */
#define PW_LOG_MODULE "persist"
#include "persist.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "derive.h"
#include "log.h"

#define RRD_DELAY_MS 10000
/* A kick nobody waits for (a poll's) less than GATHER_MS after the last batch such a kick
 * started is put off until GATHER_MS have passed (the owner's wake callback kicks again then):
 * a province polled every second then costs ten fsyncs and hand-offs a second, not one per
 * poll, and a quiet daemon's poll is still written at once. */
#define GATHER_MS 100
/* An RRD file that could not be written (rrd/ read-only, a full disk, a directory planted at its
 * name) is tried again after RRD_RETRY_MIN_MS, then after twice as long each time, up to
 * RRD_RETRY_MAX_MS, not at every batch; a kick that someone waits for tries it at once. */
#define RRD_RETRY_MIN_MS 10000
#define RRD_RETRY_MAX_MS 300000
/* A batch that may create at least this many files is shared among up to OP_SHARES_MAX work
 * items, one per processor (only creating runs in parallel: appends take the store's lock). */
#define OP_PARALLEL_MIN 64
#define OP_SHARES_MAX 4

struct waiter {
  pw_persist_done_cb done;
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

/* One share of a batch's RRD work: ops FROM, FROM + STEP, ... */
struct op_share {
  uv_work_t work;
  struct pw_persist *p;
  size_t from, step;
};

/* One check of every RRD file against the journal: the files are read on the pool, the
 * verdicts made on the loop. */
struct sync_run {
  uv_work_t work;
  struct pw_persist *p;
  int n;
  int64_t *last;   /* per indicator: the file's last update */
  int *rc;         /* per indicator: 0, -ENOENT (no file) or another error */
  int64_t *max_at; /* per indicator: the journal's latest as_of when the check began */
  size_t *n_at;    /* per indicator: its sample count then */
  char first_err[256];
};

struct pw_persist {
  struct pw_persist_ctx ctx;
  uv_work_t commit;
  int running; /* a batch: the journal's commit, then its RRD shares */
  struct sync_run *sync;
  unsigned char *touched, *revised; /* per indicator, for the next batch */
  int *dirty;                       /* the touched indicators, in the order they were touched */
  int n_dirty;
  /* No touched indicator's file is due before this (it may be earlier than the true first,
   * never later): a batch before it writes the journal alone without walking DIRTY. */
  int64_t next_due_ms;
  int64_t gather_ms;     /* when the last batch started by a kick nobody waited for started */
  int wake_asked;        /* the owner was asked to kick again (ctx.wake) */
  int64_t *stored_as_of; /* per indicator: latest as_of in its RRD file, 0 = none */
  int64_t *written_ms;   /* per indicator: when its RRD file was last written (wall clock) */
  /* Per indicator, while its RRD file cannot be written: the failure's negative errno (0 when
   * its last write succeeded), the wait before the next try, and when that try is due. */
  int *rrd_rc;
  int64_t *retry_wait_ms, *retry_at_ms;
  /* The batch in flight. */
  struct pw_buf lines;
  int fd;
  int write_rc;
  size_t kept;       /* after a failed write: bytes of LINES left in the file (see journal.h) */
  int write_failing; /* the last commit failed: logged once, until one succeeds */
  struct store_op *ops;
  size_t n_ops;
  size_t n_new; /* of them, files that may be created (first write, or rebuilt) */
  struct op_share shares[OP_SHARES_MAX];
  int shares_left;
  struct waiter *now_waiting, *next_waiting;
  size_t n_now, n_next, cap_now, cap_next;
  int again;
  int in_callbacks; /* waiters are being called: a free waits until they return */
  int free_wanted;
};

static int64_t now_ms(const struct pw_persist *p) {
  return p->ctx.now_ms != NULL ? p->ctx.now_ms() : pw_clock_real_ms();
}

/* Whether a kick nobody waits for may start a batch now. */
static int gathered(const struct pw_persist *p) {
  return now_ms(p) - p->gather_ms >= GATHER_MS;
}

/* A kick nobody waits for was put off: asks the owner to kick again once GATHER_MS have passed
 * since the last such batch started, when something waits (an unchanged poll's kick asks
 * nothing). */
static void put_off(struct pw_persist *p) {
  int64_t wait = p->gather_ms + GATHER_MS - now_ms(p);

  if (p->wake_asked || p->ctx.wake == NULL || (p->ctx.journal->pending.len == 0 && p->n_dirty == 0))
    return;
  p->wake_asked = 1;
  p->ctx.wake(wait > 0 ? wait : 0, p->ctx.data);
}

int pw_persist_init(const struct pw_persist_ctx *ctx, struct pw_persist **out) {
  struct pw_persist *p = calloc(1, sizeof(*p));
  size_t n = (size_t)ctx->conf->n_indicators + 1;

  *out = NULL;
  if (p == NULL)
    return -ENOMEM;
  p->ctx = *ctx;
  p->touched = calloc(n, 1);
  p->revised = calloc(n, 1);
  p->stored_as_of = calloc(n, sizeof(int64_t));
  p->dirty = calloc(n, sizeof(int));
  p->written_ms = calloc(n, sizeof(int64_t));
  p->rrd_rc = calloc(n, sizeof(int));
  p->retry_wait_ms = calloc(n, sizeof(int64_t));
  p->retry_at_ms = calloc(n, sizeof(int64_t));
  if (p->touched == NULL || p->revised == NULL || p->stored_as_of == NULL || p->dirty == NULL ||
      p->written_ms == NULL || p->rrd_rc == NULL || p->retry_wait_ms == NULL ||
      p->retry_at_ms == NULL) {
    free(p->rrd_rc);
    free(p->retry_wait_ms);
    free(p->retry_at_ms);
    free(p->written_ms);
    free(p->touched);
    free(p->revised);
    free(p->stored_as_of);
    free(p->dirty);
    free(p);
    return -ENOMEM;
  }
  p->ctx.conf = pw_config_ref(ctx->conf);
  p->commit.data = p;
  *out = p;
  return 0;
}

static void persist_free(struct pw_persist *p) {
  if (p->running || p->sync != NULL)
    pw_log_error("freed while a batch or a check runs (a bug): expect the worst");
  free(p->touched);
  free(p->revised);
  free(p->stored_as_of);
  free(p->dirty);
  free(p->written_ms);
  free(p->rrd_rc);
  free(p->retry_wait_ms);
  free(p->retry_at_ms);
  pw_buf_free(&p->lines);
  free(p->now_waiting);
  free(p->next_waiting);
  pw_config_free(p->ctx.conf);
  free(p);
}

void pw_persist_free(struct pw_persist *p) {
  if (p == NULL)
    return;
  if (p->in_callbacks > 0) {
    p->free_wanted = 1;
    return;
  }
  persist_free(p);
}

/* When indicator I's RRD file is next to be written: a failing file at its next try, a revised
 * one at once, any other RRD_DELAY_MS after its last write. */
static int64_t due_at(const struct pw_persist *p, int i) {
  if (p->rrd_rc[i] < 0)
    return p->retry_at_ms[i];
  if (p->revised[i])
    return INT64_MIN;
  return p->written_ms[i] + RRD_DELAY_MS;
}

/* Whether indicator I's RRD file is to be written by a batch starting NOW, unless FORCE (someone
 * waits: everything is written). */
static int rrd_due(const struct pw_persist *p, int i, int64_t now, int force) {
  return force || now >= due_at(p, i);
}

static void note_due(struct pw_persist *p, int ind) {
  int64_t t = due_at(p, ind);

  if (p->touched[ind] && t < p->next_due_ms)
    p->next_due_ms = t;
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
  note_due(p, ind);
}

void pw_persist_touch(struct pw_persist *p, int ind, int revised) {
  if (ind >= 0 && ind < p->ctx.conf->n_indicators)
    touch(p, ind, revised);
}

int pw_persist_idle(const struct pw_persist *p) {
  if (p == NULL)
    return 1;
  return !p->running && p->sync == NULL && p->ctx.journal->pending.len == 0 && p->n_dirty == 0;
}

static int prepare_op(struct pw_persist *p, int ind, struct store_op *op) {
  int64_t after = op->rebuild ? 0 : p->stored_as_of[ind];

  return pw_derive_points(p->ctx.conf, p->ctx.journal, ind, after, &op->pts, &op->n, &op->prev,
                          &op->has_prev);
}

/* Runs ops FROM, FROM + STEP, ... of the batch. Each op is a different indicator, so no two
 * shares touch one file; the store serialises what must be (every librrd call on an existing
 * file) and creates new files in parallel. */
static void share_work(uv_work_t *w) {
  struct op_share *sh = w->data;
  struct pw_persist *p = sh->p;
  size_t i;

  for (i = sh->from; i < p->n_ops; i += sh->step) {
    struct store_op *op = &p->ops[i];
    const char *id = p->ctx.conf->indicators[op->ind].id;
    if (op->rebuild)
      op->rc = pw_store_rebuild(p->ctx.store, id, op->pts, op->n, op->err, sizeof(op->err));
    else if (op->n > 0)
      op->rc = pw_store_append(p->ctx.store, id, op->has_prev ? &op->prev : NULL, op->pts, op->n,
                               op->err, sizeof(op->err));
  }
}

static void start_batch(struct pw_persist *p);

/* Waiters may be called only once a running check of the files has been applied: until then
 * they ride along with the next batch. */
static void defer_waiters(struct pw_persist *p, struct waiter *ws, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (p->n_next == p->cap_next) {
      size_t cap = p->cap_next ? p->cap_next * 2 : 4;
      struct waiter *nw = realloc(p->next_waiting, cap * sizeof(*nw));
      if (nw == NULL) {
        ws[i].done(-ENOMEM, ws[i].data);
        continue;
      }
      p->next_waiting = nw;
      p->cap_next = cap;
    }
    p->next_waiting[p->n_next++] = ws[i];
  }
}

/* At most this many RRD files starting to fail in one batch get a line of their own; the rest
 * share one (a read-only rrd/ fails every file of a batch at once). */
#define FAILED_NAMED 3

/* The files of one batch that started failing beyond FAILED_NAMED, or were written again. */
struct rrd_news {
  int n;
  size_t ids_len;
  char ids[200];
};

static void news_add(struct pw_persist *p, struct rrd_news *n, int ind) {
  int k;

  n->n++;
  if (n->ids_len < sizeof(n->ids)) {
    k = snprintf(n->ids + n->ids_len, sizeof(n->ids) - n->ids_len, "%s%s",
                 n->ids_len > 0 ? ", " : "", p->ctx.conf->indicators[ind].id);
    n->ids_len =
        k < 0 || (size_t)k >= sizeof(n->ids) - n->ids_len ? sizeof(n->ids) : n->ids_len + (size_t)k;
  }
}

/* OP's file could not be written. Logged when the file starts failing or fails for another
 * reason (errno) than last time, not at every try: a read-only rrd/ or a directory planted at a
 * file's name would otherwise log at every batch (docs/storage.md). The next try waits,
 * RRD_RETRY_MIN_MS at first, twice as long each time. */
static void rrd_failed(struct pw_persist *p, const struct store_op *op, int *named,
                       struct rrd_news *failed) {
  int i = op->ind;
  int64_t wait = p->retry_wait_ms[i];

  if (p->rrd_rc[i] == op->rc)
    pw_log_debug("indicator '%s': %s (still)", p->ctx.conf->indicators[i].id, op->err);
  else if ((*named)++ < FAILED_NAMED)
    pw_log_error("indicator '%s': %s", p->ctx.conf->indicators[i].id, op->err);
  else
    news_add(p, failed, i);
  p->rrd_rc[i] = op->rc;
  wait = wait == 0 ? RRD_RETRY_MIN_MS : wait * 2;
  p->retry_wait_ms[i] = wait > RRD_RETRY_MAX_MS ? RRD_RETRY_MAX_MS : wait;
  p->retry_at_ms[i] = now_ms(p) + p->retry_wait_ms[i];
}

/* IND's file was written: the end of its failure, if it was failing. */
static void rrd_written(struct pw_persist *p, int ind, struct rrd_news *recovered) {
  if (p->rrd_rc[ind] == 0)
    return;
  p->rrd_rc[ind] = 0;
  p->retry_wait_ms[ind] = p->retry_at_ms[ind] = 0;
  note_due(p, ind);
  news_add(p, recovered, ind);
}

static void rrd_news_log(const struct rrd_news *failed, const struct rrd_news *recovered) {
  const char *more_f = failed->ids_len >= sizeof(failed->ids) ? ", ..." : "";
  const char *more_r = recovered->ids_len >= sizeof(recovered->ids) ? ", ..." : "";

  if (failed->n > 0)
    pw_log_error("%d more RRD files cannot be written either (indicators %.*s%s)", failed->n,
                 (int)failed->ids_len, failed->ids, more_f);
  if (recovered->n == 1)
    pw_log_info("indicator '%s': its RRD file is writable again and up to date", recovered->ids);
  else if (recovered->n > 1)
    pw_log_info("%d RRD files are writable again and up to date (indicators %.*s%s)", recovered->n,
                (int)recovered->ids_len, recovered->ids, more_r);
}

/* The batch is over: results applied on the loop, waiters called, the next batch started. */
static void finish_batch(struct pw_persist *p) {
  struct pw_journal *j = p->ctx.journal;
  struct waiter *ws = p->now_waiting;
  size_t i, nw = p->n_now;
  int rc = p->write_rc, again, missing = 0;
  struct rrd_news failed, recovered;
  int named = 0;

  p->running = 0;
  memset(&failed, 0, sizeof(failed));
  memset(&recovered, 0, sizeof(recovered));
  /* One line when the journal stops being writable (a full disk retried at every poll and tick
   * would fill the log too), one when it is again. */
  if (rc < 0 && !p->write_failing)
    pw_log_error("cannot write the journal %s: %s; the samples are kept in memory and retried "
                 "until it can be written",
                 j->path, strerror(-rc));
  else if (rc == 0 && p->write_failing)
    pw_log_info("the journal %s is written again; the samples kept in memory are durable", j->path);
  p->write_failing = rc < 0;
  for (i = 0; i < p->n_ops; i++) {
    struct store_op *op = &p->ops[i];
    if (rc < 0) {
      /* Not written: try again with the next batch. */
      touch(p, op->ind, op->rebuild);
    } else if (op->rc == -ENOENT && !op->rebuild) {
      /* Its file was removed: rebuilt from the journal by the next batch (within GATHER_MS). */
      pw_log_warn("indicator '%s': its RRD file is missing; rebuilding it from the journal",
                  p->ctx.conf->indicators[op->ind].id);
      p->stored_as_of[op->ind] = 0;
      touch(p, op->ind, 1);
      missing = 1;
    } else if (op->rc < 0) {
      rrd_failed(p, op, &named, &failed);
      /* A failed append may leave the file behind the journal: rebuild it, when due. */
      touch(p, op->ind, 1);
    } else if (op->n > 0 || op->rebuild) {
      rrd_written(p, op->ind, &recovered);
      p->stored_as_of[op->ind] = op->n > 0 ? op->pts[op->n - 1].t : 0;
      if (p->ctx.on_stored != NULL)
        p->ctx.on_stored(op->ind, p->ctx.data);
    }
    free(op->pts);
  }
  rrd_news_log(&failed, &recovered);
  free(p->ops);
  p->ops = NULL;
  p->n_ops = 0;
  if (rc < 0) {
    /* Put the lines back in front of anything accepted meanwhile. */
    struct pw_buf merged = {NULL, 0, 0, 0};
    size_t kept = p->kept < p->lines.len ? p->kept : p->lines.len;
    if (pw_buf_append(&merged, p->lines.data + kept, p->lines.len - kept) == 0 &&
        pw_buf_append(&merged, j->pending.data ? j->pending.data : "", j->pending.len) == 0) {
      pw_buf_free(&j->pending);
      j->pending = merged;
    } else {
      pw_buf_free(&merged);
    }
  }
  p->lines.len = 0;
  p->now_waiting = NULL;
  p->n_now = p->cap_now = 0;
  again = p->again || missing;
  p->again = 0;
  /* The waiters wait for a running check's rebuilds, and for those of missing files. */
  if (p->sync != NULL || missing) {
    defer_waiters(p, ws, nw);
    nw = 0;
  }
  /* The waiters come last: one may kick (and so start the next batch itself) or free P (a
   * reload swapping persist), which then happens once they are all called. */
  p->in_callbacks++;
  for (i = 0; i < nw; i++)
    ws[i].done(rc, ws[i].data);
  p->in_callbacks--;
  free(ws);
  if (p->free_wanted) {
    persist_free(p);
    return;
  }
  /* A kick during the batch: the next one follows, at once when somebody waits, else once
   * GATHER_MS have passed since the last poll's batch started. After a failed write, the
   * waiters of the next batch are kept and a later kick (next poll, next tick) retries. */
  if (again && rc == 0 && !p->running) {
    if (p->n_next > 0 || gathered(p))
      start_batch(p);
    else
      put_off(p);
  }
}

static void share_done(uv_work_t *w, int status) {
  struct op_share *sh = w->data;
  struct pw_persist *p = sh->p;

  (void)status;
  if (--p->shares_left == 0)
    finish_batch(p);
}

/* The RRD work of the batch, once its journal lines are durable. */
static void start_shares(struct pw_persist *p) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t k, n = p->n_new >= OP_PARALLEL_MIN && cpus > 1 ? (size_t)cpus : 1;

  if (n > OP_SHARES_MAX)
    n = OP_SHARES_MAX;
  p->shares_left = (int)n;
  for (k = 0; k < n; k++) {
    struct op_share *sh = &p->shares[k];
    size_t i;
    int rc;

    sh->p = p;
    sh->from = k;
    sh->step = n;
    sh->work.data = sh;
    rc = uv_queue_work(p->ctx.loop, &sh->work, share_work, share_done);
    if (rc == 0)
      continue;
    /* Not run: its files are rebuilt by the next batch. */
    for (i = k; i < p->n_ops; i += n) {
      p->ops[i].rc = -EAGAIN;
      snprintf(p->ops[i].err, sizeof(p->ops[i].err), "cannot queue its RRD update: %s",
               uv_strerror(rc));
    }
    p->shares_left--;
  }
  if (p->shares_left == 0)
    finish_batch(p);
}

/* A failed write (a full disk) leaves no fragment behind: the lines go back in front of the
 * pending ones and the next batch writes them again, once, from where the file was cut. */
static void commit_work(uv_work_t *w) {
  struct pw_persist *p = w->data;

  p->write_rc = pw_journal_append(p->fd, p->lines.data, p->lines.len, &p->kept);
}

static void commit_done(uv_work_t *w, int status) {
  struct pw_persist *p = w->data;

  (void)status;
  /* RRD files are derived from the journal: only touch them once the journal holds the lines. */
  if (p->write_rc == 0 && p->n_ops > 0)
    start_shares(p);
  else
    finish_batch(p);
}

static void start_batch(struct pw_persist *p) {
  struct pw_journal *j = p->ctx.journal;
  int k, i, rc;
  struct pw_buf tmp;
  int64_t now = now_ms(p);
  /* Someone waits: the RRD files too are brought up to date, unless a check of the files runs,
   * whose rebuilds the waiters also wait for (they go with the batch after it). */
  int force = p->n_next > 0 && p->sync == NULL, due = 0;

  /* Most batches of a busy daemon carry journal lines only: the files they touched were
   * written a moment ago. Walk the list only when one may be due. */
  if (force || now >= p->next_due_ms) {
    p->next_due_ms = INT64_MAX;
    for (k = 0; k < p->n_dirty; k++) {
      i = p->dirty[k];
      if (rrd_due(p, i, now, force))
        due++;
      else if (due_at(p, i) < p->next_due_ms)
        p->next_due_ms = due_at(p, i);
    }
  }
  /* Nothing to write and nobody waiting (an unchanged poll): no batch at all. */
  if (due == 0 && j->pending.len == 0 && !force)
    return;
  p->ops = NULL;
  if (due > 0 && (p->ops = malloc((size_t)due * sizeof(*p->ops))) == NULL) {
    pw_log_error("out of memory starting a journal commit");
    return;
  }
  p->n_ops = p->n_new = 0;
  for (k = 0; k < p->n_dirty && due > 0; k++) {
    struct store_op *op;
    i = p->dirty[k];
    if (!rrd_due(p, i, now, force))
      continue; /* written a moment ago, or failing: its points wait for a later batch */
    p->written_ms[i] = now;
    op = &p->ops[p->n_ops++];
    memset(op, 0, offsetof(struct store_op, err));
    op->err[0] = '\0';
    op->ind = i;
    op->rebuild = p->revised[i];
    if (prepare_op(p, i, op) < 0) {
      pw_log_error("indicator '%s': out of memory preparing its RRD update",
                   p->ctx.conf->indicators[i].id);
      p->n_ops--;
      note_due(p, i);
      continue;
    }
    if (op->rebuild || p->stored_as_of[i] == 0)
      p->n_new++;
    p->touched[i] = p->revised[i] = 0;
  }
  /* Those that could not be prepared stay touched, at the front of the list. */
  for (k = 0, i = 0; k < p->n_dirty; k++)
    if (p->touched[p->dirty[k]])
      p->dirty[i++] = p->dirty[k];
  p->n_dirty = i;
  /* The lines accepted so far go with this batch; new ones gather in the journal's buffer. */
  tmp = p->lines;
  p->lines = j->pending;
  j->pending = tmp;
  j->pending.len = 0;
  p->fd = j->fd;
  p->now_waiting = p->next_waiting;
  p->n_now = p->n_next;
  p->cap_now = p->cap_next;
  p->next_waiting = NULL;
  p->n_next = p->cap_next = 0;
  p->write_rc = 0;
  p->kept = 0;
  p->running = 1;
  p->wake_asked = 0;
  if (p->n_now == 0)
    p->gather_ms = now;
  rc = uv_queue_work(p->ctx.loop, &p->commit, commit_work, commit_done);
  if (rc != 0) {
    pw_log_error("cannot queue the journal commit: %s", uv_strerror(rc));
    p->write_rc = rc;
    finish_batch(p);
  }
}

void pw_persist_kick(struct pw_persist *p, pw_persist_done_cb done, void *data) {
  if (done != NULL) {
    if (p->n_next == p->cap_next) {
      size_t cap = p->cap_next ? p->cap_next * 2 : 4;
      struct waiter *nw = realloc(p->next_waiting, cap * sizeof(*nw));
      if (nw == NULL) {
        done(-ENOMEM, data);
        return;
      }
      p->next_waiting = nw;
      p->cap_next = cap;
    }
    p->next_waiting[p->n_next].done = done;
    p->next_waiting[p->n_next].data = data;
    p->n_next++;
  }
  if (p->running) {
    p->again = 1;
    return;
  }
  if (done == NULL && p->n_next == 0 && !gathered(p)) {
    put_off(p);
    return;
  }
  start_batch(p);
}

static void sync_free(struct sync_run *s) {
  if (s == NULL)
    return;
  free(s->last);
  free(s->rc);
  free(s->max_at);
  free(s->n_at);
  free(s);
}

/* On the pool: the last update of every file (under the store's lock, one file at a time). */
static void sync_work(uv_work_t *w) {
  struct sync_run *s = w->data;
  const struct pw_persist *p = s->p;
  int i;

  for (i = 0; i < s->n; i++) {
    char err[256];
    s->rc[i] =
        pw_store_last(p->ctx.store, p->ctx.conf->indicators[i].id, &s->last[i], err, sizeof(err));
    if (s->rc[i] < 0 && s->rc[i] != -ENOENT && s->first_err[0] == '\0')
      snprintf(s->first_err, sizeof(s->first_err), "%s", err);
  }
}

/* What of series S an RRD file holds (pw_derive_points): *N samples (only 0 or not matters),
 * the latest at *MAX. A journal line no file can hold (as_of before PW_STORE_T_MIN or after
 * PW_STORE_T_MAX, journaled by an older version) does not count: compared with the series' own
 * latest, such a line made every start find the file "behind" and rebuild it. */
static void holdable(const struct pw_series *s, size_t *n, int64_t *max) {
  size_t i;

  *n = 0;
  *max = 0;
  if (s->n > 0 && s->max_as_of >= PW_STORE_T_MIN && s->max_as_of <= PW_STORE_T_MAX) {
    *n = s->n;
    *max = s->max_as_of;
  } else {
    for (i = 0; i < s->n; i++) {
      int64_t t = s->samples[i].as_of;
      if (t < PW_STORE_T_MIN || t > PW_STORE_T_MAX)
        continue;
      if (*n == 0 || t > *max)
        *max = t;
      (*n)++;
    }
  }
  /* A withdrawn as_of is an unknown point of the file, possibly its last (derive.c). */
  for (i = 0; i < s->n_retracted; i++) {
    int64_t t = s->retracted[i].sample.as_of;
    if (t < PW_STORE_T_MIN || t > PW_STORE_T_MAX)
      continue;
    if (*n == 0 || t > *max)
      *max = t;
    (*n)++;
  }
}

/* Whether a file whose state is (RC, LAST) holds what a series of N samples up to MAX does. */
static int in_step(int rc, int64_t last, size_t n, int64_t max) {
  return (n == 0 && rc == -ENOENT) || (n > 0 && rc == 0 && last == max);
}

/* On the loop: a file is in step when it matches the journal as it was when the check began,
 * or as it is now (a batch may have written it meanwhile); any other is rebuilt. */
static void sync_done(uv_work_t *w, int status) {
  struct sync_run *s = w->data;
  struct pw_persist *p = s->p;
  int i, stale = 0;

  (void)status;
  p->sync = NULL;
  if (s->first_err[0] != '\0')
    pw_log_warn("reading the RRD files: %s (and maybe others); they are rebuilt", s->first_err);
  for (i = 0; i < s->n; i++) {
    size_t n_now;
    int64_t max_now;
    holdable(&p->ctx.journal->series[i], &n_now, &max_now);
    if (in_step(s->rc[i], s->last[i], s->n_at[i], s->max_at[i]) ||
        in_step(s->rc[i], s->last[i], n_now, max_now)) {
      if (s->rc[i] == 0 && s->last[i] > p->stored_as_of[i])
        p->stored_as_of[i] = s->last[i];
      continue;
    }
    /* Missing, behind or ahead of the journal (e.g. written by an import while the daemon was
     * down, or a journal restored from backup): derive it again. */
    touch(p, i, 1);
    stale++;
  }
  sync_free(s);
  if (stale > 0)
    pw_log_info("%d RRD files are out of step with the journal; rebuilding them", stale);
  /* The rebuilds, and the waiters held back while the check ran. */
  if (stale > 0 || p->n_next > 0)
    pw_persist_kick(p, NULL, NULL);
}

void pw_persist_sync_all(struct pw_persist *p) {
  struct sync_run *s;
  size_t n = (size_t)p->ctx.conf->n_indicators + 1;
  int i, rc;

  if (p->sync != NULL)
    return;
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->last = calloc(n, sizeof(*s->last))) == NULL ||
      (s->rc = calloc(n, sizeof(*s->rc))) == NULL ||
      (s->max_at = calloc(n, sizeof(*s->max_at))) == NULL ||
      (s->n_at = calloc(n, sizeof(*s->n_at))) == NULL) {
    pw_log_error("out of memory checking the RRD files against the journal");
    sync_free(s);
    return;
  }
  s->p = p;
  s->n = p->ctx.conf->n_indicators;
  for (i = 0; i < s->n; i++)
    holdable(&p->ctx.journal->series[i], &s->n_at[i], &s->max_at[i]);
  s->work.data = s;
  rc = uv_queue_work(p->ctx.loop, &s->work, sync_work, sync_done);
  if (rc != 0) {
    pw_log_error("cannot queue the check of the RRD files: %s", uv_strerror(rc));
    sync_free(s);
    return;
  }
  p->sync = s;
}
