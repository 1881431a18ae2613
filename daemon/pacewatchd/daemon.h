/*
 * daemon.h: the state of the pacewatchd program, private to daemon/pacewatchd/ (no stage
 * includes it; each stage takes the narrow context of its own header). One struct pw_daemon is
 * built in main.c; the program's callbacks find it through their data pointer. Only the loop
 * thread touches it; work on the thread pool receives what it reads and hands results back in its
 * after-work callback.
 */
#ifndef PW_DAEMON_H
#define PW_DAEMON_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "admit.h"
#include "config.h"
#include "fetch.h"
#include "graphcache.h"
#include "inbox.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"
#include "judge.h"
#include "persist.h"
#include "plugin_host.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

struct pw_reload;
struct daemon_report;
struct pw_http_submit;
struct pw_report_submission;
struct pw_report_explanation;
struct pw_tokens;

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
  struct daemon_report *report; /* report.c: the reporting page's tokens and submissions */
  int uploading;                /* report_upload.c: a workbook is being read on the pool */
  int64_t started;              /* wall clock at start, seconds */
  int64_t next_briefing;        /* instant of the next scheduled briefing */
  int64_t next_prune; /* retention.c: instant of the next pruning (0: at the first tick) */
  int pruning;        /* a pruning is on the thread pool */
  int64_t once_started_ms;

  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t tick; /* every second: inbox; every minute: re-evaluation */
  /* Kicks persist when it put a poll's journal batch off (docs/storage.md#journal). */
  uv_timer_t persist_wake;
  int64_t last_eval;
  int stopping;
  int reload_wanted;
  int reloading;                    /* a reload's journal loads on the thread pool, or waits */
  struct pw_reload *pending_reload; /* loaded, waiting for persist to be idle */
  int exit_code;

  /* sdnotify.c: the service manager (Type=notify) and the last reload's outcome (/metrics). */
  int notifying;       /* NOTIFY_SOCKET is set and READY=1 was sent */
  int watchdog_on;     /* the watchdog timer is initialised */
  uv_timer_t watchdog; /* WATCHDOG=1 at half of WatchdogSec */
  struct pw_reload_info reload_info;
};

/* The program's own functions, one file each (this header is private to pacewatchd: no stage
 * includes it). */

/* main.c */
int daemon_load_config(const char *path, struct pw_plugins *plugins, struct pw_config **out,
                       char *err, size_t errlen);
void daemon_shutdown(struct pw_daemon *d);

/* sdnotify.c (docs/install.md, "systemd"): each does nothing without NOTIFY_SOCKET. */
void daemon_notify_ready(struct pw_daemon *d);
void daemon_notify_status(struct pw_daemon *d);
void daemon_notify_reloading(struct pw_daemon *d);
/* A reload ended, applied (OK 1) or refused (0): recorded for /metrics, READY=1 sent. */
void daemon_notify_reloaded(struct pw_daemon *d, int ok);
/* STOPPING=1; the watchdog timer is closed with CLOSED. */
void daemon_notify_stopping(struct pw_daemon *d, void (*closed)(uv_handle_t *h));
int daemon_drop_privileges(struct pw_daemon *d);

/* wiring.c: each stage started with what it needs; the callbacks between stages. */
int daemon_start_persist(struct pw_daemon *d);
int daemon_start_graphs(struct pw_daemon *d);
int daemon_start_ingest(struct pw_daemon *d);
int daemon_start_alerting(struct pw_daemon *d, char *err, size_t errlen);
int daemon_start_sched(struct pw_daemon *d, void (*all_polled)(void *data));
struct pw_loopstat;
int daemon_start_http(struct pw_daemon *d, const struct pw_loopstat *loopstat);
/* Admission's pointers follow the generation: its configuration, journal and verdicts. */
void daemon_bind_admit(struct pw_daemon *d);
/* Verdicts of a fresh start (OLD NULL) are the baseline, not news: computed without publishing;
 * after a reload an indicator that existed keeps its last published verdict (by id). */
int daemon_init_verdicts(struct pw_daemon *d, const struct pw_config *old_conf,
                         const struct pw_verdict *old);

/* report.c (docs/http.md "Reporting page"): the tokens read at start and re-read every few
 * seconds (daemon_report_tick, from the tick), and the page's figures stored. */
int daemon_report_init(struct pw_daemon *d);
void daemon_report_tick(struct pw_daemon *d);
void daemon_report_free(struct pw_daemon *d);
const struct pw_tokens *daemon_report_tokens(void *ctx);
void daemon_report_submit(void *ctx, const struct pw_report_submission *sub,
                          struct pw_http_submit *ticket);
void daemon_report_explain(void *ctx, const struct pw_report_explanation *sub,
                           struct pw_http_submit *ticket);
/* Answers TICKET with STATUS and {"field":FIELD,"message":MSG} (FIELD NULL: no field), 503 when
 * even that cannot be built. */
void daemon_report_answer(struct pw_http_submit *ticket, int status, const char *field,
                          const char *msg);
/* Answers TICKET with DOC (taken; NULL when it could not be built) as 200, or, when it cannot
 * be written, with {"message":FALLBACK} at STATUS. */
void daemon_report_send(struct pw_http_submit *ticket, json_t *doc, int status,
                        const char *fallback);

/* report_upload.c (docs/http.md "Uploading a workbook"): a department's workbook read on the
 * thread pool, one at a time, and answered with its preview; nothing is stored. */
void daemon_report_upload(void *ctx, const char *department, char *data, size_t len,
                          struct pw_http_submit *ticket);

/* reload.c: SIGHUP, the generation swap. */
void daemon_reload(struct pw_daemon *d);
void daemon_reload_free(struct pw_reload *r);

/* briefing.c: writes the briefing for AT into state_dir/briefings/ on the thread pool; SEND:
 * deliver it to briefing.receivers once written. */
void daemon_briefing(struct pw_daemon *d, int64_t at, int send);
/* The next instant at or after NOW + 1 s matching briefing.schedule. */
int64_t daemon_next_briefing(const struct pw_config *conf, int64_t now);

/* retention.c: prunes spool/dead/ and briefings/ on the thread pool when due (at the first tick,
 * then daily); NOW is the daemon's clock. */
void daemon_retention(struct pw_daemon *d, int64_t now);

#endif
