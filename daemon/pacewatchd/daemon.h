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
#include "graphcache.h"
#include "inbox.h"
#include "ingest.h"
#include "journal.h"
#include "judge.h"
#include "persist.h"
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
  struct pw_alerter *alerting; /* alerting.h: the alert engine and delivery */
  struct pw_http *http;
  int64_t started;       /* wall clock at start, seconds */
  int64_t next_briefing; /* instant of the next scheduled briefing */
  int64_t once_started_ms;

  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t tick; /* every second: inbox; every minute: re-evaluation */
  int64_t last_eval;
  int stopping;
  int reload_wanted;
  int reloading;                    /* a reload's journal loads on the thread pool, or waits */
  struct pw_reload *pending_reload; /* loaded, waiting for persist to be idle */
  int exit_code;
};

/* briefing (main.c): writes the briefing for AT into state_dir/briefings/ on the thread pool;
 * SEND: deliver it to briefing.receivers once written. */
void pw_main_briefing(struct pw_daemon *d, int64_t at, int send);

#endif
