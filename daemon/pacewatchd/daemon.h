/*
 * daemon.h: the root context of pacewatchd. One struct pw_daemon is built in main.c and passed
 * down; every callback finds it through its handle's data pointer. Only the loop thread
 * touches it; work on the thread pool receives copies and hands results back in its
 * after-work callback.
 */
#ifndef PW_H
#define PW_H

#include <stdint.h>
#include <uv.h>

#include "admit.h"
#include "config.h"
#include "fetch.h"
#include "inbox.h"
#include "ingest.h"
#include "journal.h"
#include "judge.h"
#include "plugin_host.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

struct pw_daemon;

struct pw_daemon {
  uv_loop_t *loop;
  const char *config_path;
  struct pw_config *conf;
  struct pw_plugins *plugins;
  struct pw_journal *journal;
  struct pw_store store;
  struct pw_fetch *fetch;
  int lock_fd;
  int once, foreground;

  struct pw_sched *sched;   /* polling; NULL once stopping */
  struct pw_ingest *ingest; /* answers into samples */
  struct pw_admit admit;    /* its pointers follow conf, journal and verdicts (main.c) */
  struct pw_inbox *inbox;   /* work handed over by the CLI */

  struct pw_verdict *verdicts; /* per indicator, the last published */

  /* Persistence: journal lines and RRD work, done on the thread pool one batch at a time. */
  struct pw_persist *persist;
  struct pw_graphcache *graphs;
  struct pw_alert_engine *alerting;
  struct pw_httpd *http;
  int64_t started;       /* wall clock at start, seconds */
  int busy_workers;      /* graph renders and briefings on the thread pool (they read conf) */
  int64_t next_briefing; /* instant of the next scheduled briefing */
  int64_t once_started_ms;

  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t tick; /* every second: inbox; every minute: re-evaluation */
  int64_t last_eval;
  int stopping;
  int reload_wanted;
  int exit_code;
};

/* persist.c: journal commits and RRD updates off the loop. */
int pw_persist_init(struct pw_daemon *d);
/* Marks indicator IND as having new samples (REVISED: a revision, so its RRD is rebuilt). */
void pw_persist_touch(struct pw_daemon *d, int ind, int revised);
/* Starts a commit of what is pending, unless one is running (it then follows). DONE (may be
 * NULL) is called on the loop once everything pending now is durable and stored. */
void pw_persist_kick(struct pw_daemon *d, void (*done)(struct pw_daemon *d, int rc, void *data),
                     void *data);
/* Whether nothing is pending or running. */
int pw_persist_idle(const struct pw_daemon *d);
/* Checks every indicator's RRD against the journal and rebuilds those out of date. */
void pw_persist_sync_all(struct pw_daemon *d);
void pw_persist_free(struct pw_daemon *d);

/* graphcache.c: trend graphs rendered on the thread pool, cached until the indicator changes. */
typedef void (*pw_graph_ready_cb)(struct pw_daemon *d, const unsigned char *data, size_t len,
                                  void *arg);
int pw_graphcache_init(struct pw_daemon *d);
void pw_graphcache_free(struct pw_daemon *d);
/* The indicator's data or verdict changed: its cached graphs are stale. */
void pw_graphcache_invalidate(struct pw_daemon *d, int ind);
/* Calls CB with the graph (PNG or SVG, default or small size) on the loop: at once if the
 * cached one is current, else once rendered (DATA NULL if rendering failed). Returns 0, or a
 * negative errno and CB is never called. */
int pw_graphcache_get(struct pw_daemon *d, int ind, int svg, int small, pw_graph_ready_cb cb,
                      void *data);
/* Forgets every waiting request whose callback data is DATA (its reader went away). */
void pw_graphcache_cancel(struct pw_daemon *d, void *data);

/* briefing (main.c): writes the briefing for AT into state_dir/briefings/ on the thread pool;
 * SEND: deliver it to briefing.receivers once written. */
void pw_main_briefing(struct pw_daemon *d, int64_t at, int send);

/* alerting.c: conditions, routing, grouping, spool and delivery. */
int pw_alerting_init(struct pw_daemon *d);
void pw_alerting_free(struct pw_daemon *d);
/* Steps every condition at the daemon's now; notifications gather per receiver. */
void pw_alerting_evaluate(struct pw_daemon *d);
/* Steps the conditions of one indicator (its verdict just changed). */
void pw_alerting_evaluate_indicator(struct pw_daemon *d, int ind);
/* Every second: batches past group_wait (and quiet hours) go to the spool; due entries are
 * attempted. */
void pw_alerting_tick(struct pw_daemon *d);
/* --once: every batch to the spool and every spooled entry attempted now. */
void pw_alerting_flush_now(struct pw_daemon *d);
int pw_alerting_in_flight(const struct pw_daemon *d);
/* The weekly briefing WEEK (files HTML_PATH and MD_PATH) to briefing.receivers, through the
 * spool like any notification. */
void pw_alerting_send_briefing(struct pw_daemon *d, const char *week, const char *html_path,
                               const char *md_path);
/* Notifications still in the spool plus those dead-lettered by this process. */
int pw_alerting_undelivered(struct pw_daemon *d);

/* Sizes of the notification queues: entries in the spool, in spool/dead/, and alerts waiting in
 * batches (group_wait, quiet hours); -1 when unknown. */
void pw_alerting_queue_sizes(struct pw_daemon *d, long *queued, long *dead, long *batched);

/* http.c: the status server (CONTRACT section 7) on the daemon's loop. */
struct pw_httpd;
/* Starts listening on daemon.http_listen (nothing when ""). Returns 0 or a negative errno with
 * the reason logged (the address is taken, not an address). */
int pw_http_start(struct pw_daemon *d);
/* After a reload: rebinds when http_listen changed (a failure keeps the old listener). */
void pw_http_reload(struct pw_daemon *d);
/* Closes the listener and every connection (their handles close through the loop). */
void pw_http_stop(struct pw_daemon *d);
/* Frees what is left once the loop has ended. */
void pw_http_free(struct pw_daemon *d);

#endif
