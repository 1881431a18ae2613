/*
 * writer: a FIFO of file operations with one uv_work_t in flight, so operations on one file
 * never overlap and never pass each other. A stalled disk delays alerting's files, never the
 * loop.
 */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>

struct op {
  pw_writer_prepare_cb prepare;
  pw_writer_work_cb work;
  pw_writer_done_cb done;
  void *arg;
  struct op *next;
};

struct pw_writer {
  uv_loop_t *loop;
  uv_work_t req;
  struct op *head, *tail;
  size_t n;
  int running; /* the head's WORK is on the thread pool */
};

int pw_writer_init(uv_loop_t *loop, struct pw_writer **out) {
  struct pw_writer *w = calloc(1, sizeof(*w));

  *out = NULL;
  if (w == NULL)
    return -ENOMEM;
  w->loop = loop;
  w->req.data = w;
  *out = w;
  return 0;
}

static void work_cb(uv_work_t *req) {
  struct pw_writer *w = req->data;

  w->head->work(w->head->arg);
}

static void after_work(uv_work_t *req, int status);

static struct op *pop(struct pw_writer *w) {
  struct op *o = w->head;

  w->head = o->next;
  if (w->head == NULL)
    w->tail = NULL;
  w->n--;
  return o;
}

/* Hands the head to the thread pool. Returns 0, or a negative errno when it was not started
 * (skipped by its PREPARE or refused by libuv); it is still the head then. */
static int start_head(struct pw_writer *w) {
  struct op *o = w->head;
  int rc = 0;

  if (o->prepare != NULL)
    rc = o->prepare(o->arg);
  if (rc == 0)
    rc = uv_queue_work(w->loop, &w->req, work_cb, after_work) == 0 ? 0 : -EIO;
  return rc;
}

/* Starts the next operation, reporting the ones that cannot start to their DONE. */
static void run_next(struct pw_writer *w) {
  while (w->head != NULL) {
    int rc = start_head(w);
    struct op *o;
    if (rc == 0) {
      w->running = 1;
      return;
    }
    o = pop(w);
    if (o->done != NULL)
      o->done(o->arg, rc);
    free(o);
  }
}

static void after_work(uv_work_t *req, int status) {
  struct pw_writer *w = req->data;
  struct op *o = pop(w);

  w->running = 0;
  /* DONE runs before the next operation starts, so the next one's PREPARE sees its effect. */
  if (o->done != NULL)
    o->done(o->arg, status == UV_ECANCELED ? -ECANCELED : 0);
  free(o);
  if (!w->running)
    run_next(w);
}

int pw_writer_push(struct pw_writer *w, pw_writer_prepare_cb prepare, pw_writer_work_cb work,
                   pw_writer_done_cb done, void *arg) {
  struct op *o = calloc(1, sizeof(*o));
  int rc;

  if (o == NULL)
    return -ENOMEM;
  o->prepare = prepare;
  o->work = work;
  o->done = done;
  o->arg = arg;
  if (w->tail != NULL)
    w->tail->next = o;
  else
    w->head = o;
  w->tail = o;
  w->n++;
  if (w->running || w->head != o)
    return 0;
  rc = start_head(w);
  if (rc < 0) {
    pop(w);
    free(o);
    return rc;
  }
  w->running = 1;
  return 0;
}

size_t pw_writer_pending(const struct pw_writer *w) {
  return w != NULL ? w->n : 0;
}

void pw_writer_free(struct pw_writer *w) {
  while (w != NULL && w->head != NULL)
    free(pop(w));
  free(w);
}
