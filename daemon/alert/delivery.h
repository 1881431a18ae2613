/*
 * delivery: gets spooled notifications to their receivers (docs/alerts.md). It keeps the spool
 * (state_dir/spool/) in memory as well as on disk: a notification is written there before its
 * first attempt, each receiver gets one message at a time, a failed attempt is retried with
 * back-off until alerting.give_up, a refusal that can never succeed goes to spool/dead/ at once,
 * a receiver over its rate budget gets its waiting notifications merged into one digest, and
 * every step is appended to state_dir/audit.log. Receivers are reached through their notifier
 * (notify/notifier.h); the trend graphs a notifier shows come from the caller's graph cache.
 *
 * Every file operation runs on the thread pool through the writer, in order; the spool is read
 * from disk once, at start-up. A reload swaps the configuration generation: an attempt holds
 * the generation it started under and its result is applied by receiver id. A notification
 * spooled for a receiver that a reload removed is still delivered, with the settings of the
 * generation it was spooled under; nothing new reaches a removed receiver.
 *
 * Every function runs on the loop thread.
 */
#ifndef PW_DELIVERY_H
#define PW_DELIVERY_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "fetch.h"
#include "graph.h"
#include "writer.h"

struct pw_delivery;

/* A trend graph has arrived: PNG (LEN bytes, valid only during the call; NULL when it could not
 * be rendered). */
typedef void (*pw_delivery_graph_cb)(void *arg, const unsigned char *png, size_t len);

/* What delivery needs from its owner. Everything is borrowed for the delivery's life. */
struct pw_delivery_ctx {
  uv_loop_t *loop;
  struct pw_fetch *fetch;   /* every transfer goes through it */
  struct pw_writer *writer; /* every file operation goes through it */
  /* Asks for indicator INDICATOR's trend graph in FORMAT. DONE(ARG, ...) is called once on the
   * loop, possibly before this returns. Returns 0, or a negative errno (-ENOENT: no such
   * indicator) and DONE is never called. May be NULL: no graphs. */
  int (*get_graph)(void *data, const char *indicator, enum pw_graph_format format,
                   pw_delivery_graph_cb done, void *arg);
  /* Notification DELIVERY of RECEIVER was moved to spool/dead/ because of ERROR (for a report
   * to alerting.receivers). May be NULL. */
  void (*dead)(void *data, const char *receiver, const char *delivery, const char *error);
  void *data;
};

/* Prepares the spool of CONF's state directory and loads what an earlier run left in it
 * (blocking file I/O: call it at start-up, before the loop runs). Takes a reference to CONF.
 * Returns 0 and *OUT (owned; free with pw_delivery_free), or a negative errno with the reason
 * in ERR (the spool directory cannot be created or read, out of memory). */
int pw_delivery_init(const struct pw_delivery_ctx *ctx, struct pw_config *conf,
                     struct pw_delivery **out, char *err, size_t errlen);

/* Swaps in the configuration generation CONF (a reference is taken; the previous one is
 * released once no attempt and no spooled notification of a removed receiver needs it). */
void pw_delivery_reload(struct pw_delivery *dl, struct pw_config *conf);

/* Spools PAYLOAD (ownership passes, even on failure; its "delivery" member is the delivery id,
 * [A-Za-z0-9._-]) for RECEIVER (id, borrowed). DONE(ARG, rc) is called on the loop once the
 * notification is durable (rc 0, and it is then attempted when its receiver is free) or could
 * not be written (a negative errno). Returns 0, or a negative errno and DONE is never called. */
int pw_delivery_spool(struct pw_delivery *dl, const char *receiver, json_t *payload,
                      void (*done)(void *arg, int rc), void *arg);

/* The weekly briefing WEEK (files HTML_PATH and MD_PATH, borrowed) spooled for each of
 * briefing.receivers, like any notification (the markdown file is read on the thread pool). */
void pw_delivery_briefing(struct pw_delivery *dl, const char *week, const char *html_path,
                          const char *md_path);

/* Attempts what is due: the oldest waiting notification of every free receiver, within its
 * rate budget (over it, the waiting ones are merged into a digest). */
void pw_delivery_run(struct pw_delivery *dl);

/* --once: from now on every notification is attempted at the first chance, whatever its
 * back-off and the rate budgets; one that fails is attempted again 1 s, 2 s, 4 s, 8 s, 16 s...
 * later (real time) for up to 30 s (the caller keeps calling pw_delivery_run); then runs. */
void pw_delivery_flush_all(struct pw_delivery *dl);

/* Attempts running (from the first graph asked for to the spool updated with the outcome), plus,
 * after pw_delivery_flush_all, notifications waiting for their quick retry. */
int pw_delivery_in_flight(const struct pw_delivery *dl);

/* Notifications in the spool (QUEUED), in spool/dead/ (DEAD), and dead-lettered by this process
 * (DEAD_NOW). Kept in memory; any pointer may be NULL. */
void pw_delivery_counts(const struct pw_delivery *dl, long *queued, long *dead, long *dead_now);

/* Notifications RECEIVER (an id) took (*SENT) and attempts to reach it that failed (*FAILED,
 * retried or dead-lettered) since the start; 0 for a receiver not attempted yet. */
void pw_delivery_receiver_counts(const struct pw_delivery *dl, const char *receiver, uint64_t *sent,
                                 uint64_t *failed);

/* No attempt starts from now on (the daemon is stopping; the fetcher is about to close). */
void pw_delivery_stop(struct pw_delivery *dl);

/* Frees DL once nothing of it is in flight (the loop has run dry). Accepts NULL. */
void pw_delivery_free(struct pw_delivery *dl);

#endif
