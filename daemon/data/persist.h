/*
 * persist: makes the daemon's accepted samples durable and keeps the RRD files in step with the
 * journal, off the loop (docs/storage.md). One batch runs at a time on libuv's thread pool: it
 * writes and fsyncs the journal lines accepted since the last batch (one fsync per burst), then
 * appends to or rebuilds the RRD files of the indicators those lines touched. Everything here
 * is called on the loop thread; the journal and the store are only touched on the pool while a
 * batch or a check of the files runs.
 */
#ifndef PW_PERSIST_H
#define PW_PERSIST_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "journal.h"
#include "store.h"

struct pw_persist;

/* A kick's waiter: everything pending at the kick is durable and its RRD files are written. RC
 * is 0, or the journal write's negative errno (the lines are kept and retried). */
typedef void (*pw_persist_done_cb)(int rc, void *data);

/* Indicator IND (of the generation persist was made for) has new stored data: its RRD file was
 * appended to, rebuilt or removed. */
typedef void (*pw_persist_stored_cb)(int ind, void *data);

/* What persist works with, all borrowed for its lifetime except CONF. */
struct pw_persist_ctx {
  uv_loop_t *loop;
  struct pw_config *conf;     /* the generation: persist holds a reference until freed */
  struct pw_journal *journal; /* its pending lines are committed; its series give the points */
  struct pw_store *store;
  pw_persist_stored_cb on_stored; /* may be NULL */
  void *data;                     /* for ON_STORED */
  int64_t (*now_ms)(void);        /* the clock of the hold-back; NULL: pw_clock_real_ms */
  /* A kick nobody waits for was put off to gather more lines: the owner is to kick again in MS
   * ms of that clock (one request until the next batch starts). May be NULL: the lines then
   * wait for the owner's next kick. */
  void (*wake)(int64_t ms, void *data);
};

/* Creates persist for CTX (copied; CTX->conf gets a reference of persist's own). Returns 0 and
 * *OUT (free with pw_persist_free), or -ENOMEM. */
int pw_persist_init(const struct pw_persist_ctx *ctx, struct pw_persist **out);

/* Frees P and drops its reference to the configuration. Only when pw_persist_idle(P) (a kick
 * with a waiter gets there) or once the loop has ended: a batch in flight uses the journal's
 * file. A kick's waiter may call it (a reload swapping persist): P then goes once the waiters
 * of its batch have all been called, and is not to be used after the call. Waiters of a later
 * batch are dropped without a call. Accepts NULL. */
void pw_persist_free(struct pw_persist *p);

/* Marks indicator IND as having new samples in the journal (REVISED: a revision or an earlier
 * as_of, so its RRD file is rebuilt rather than appended to). */
void pw_persist_touch(struct pw_persist *p, int ind, int revised);

/* Starts a batch of what is pending, unless one runs (it then follows). A file written less than
 * 10 s ago waits for a later batch, so that one rrd_update carries several points, unless
 * someone waits: DONE (may be NULL) is called on the loop once everything pending now is
 * durable and every RRD file written, after a running pw_persist_sync_all has finished. A
 * failure to allocate calls DONE at once with -ENOMEM. Without DONE (and nobody else waiting),
 * a kick less than 100 ms after the last batch such a kick started is put off until then
 * (CTX.wake; docs/storage.md#journal). */
void pw_persist_kick(struct pw_persist *p, pw_persist_done_cb done, void *data);

/* Whether nothing is pending, running or being checked. */
int pw_persist_idle(const struct pw_persist *p);

/* Checks every indicator's RRD file against the journal on the thread pool (the file's last
 * update against the latest as_of) and rebuilds, in a following batch, those missing, behind or
 * ahead (written by an import while the daemon was down, a journal restored from a backup).
 * Returns at once; a check already running is not started twice. */
void pw_persist_sync_all(struct pw_persist *p);

#endif
