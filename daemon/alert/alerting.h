/*
 * alerting: the alert engine (engine.h) and delivery (delivery.h) wired together over one
 * writer (writer.h), as the daemon uses them: the engine's batches go to delivery's spool, and
 * delivery's dead letters back to the engine's routing. The daemon's clock (pw_clock_now) is
 * the engine's. A reload swaps the configuration generation in both, carrying everything over
 * by name; deliveries in flight finish under the generation they started in.
 *
 * Every function runs on the loop thread.
 */
#ifndef PW_ALERTING_H
#define PW_ALERTING_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "delivery.h"
#include "fetch.h"
#include "judge.h"

struct pw_alerter;

/* What alerting needs from the daemon. Everything is borrowed for alerting's life. */
struct pw_alerting_ctx {
  uv_loop_t *loop;
  struct pw_fetch *fetch;
  /* The last published verdict of indicator IND of the configuration alerting was last given. */
  const struct pw_verdict *(*verdict)(void *data, int ind);
  /* Source SRC (an index, likewise): 1 failing for at least alerting.source_down_after, 0 not,
   * -1 unknown (not stepped). May be NULL. */
  int (*source_down)(void *data, int src);
  /* The latest sample of indicator IND known at AT in any year, NULL for none (what a stale
   * alert names). May be NULL. */
  const struct pw_sample *(*latest)(void *data, int ind, int64_t at);
  /* The current explanation of indicator IND (docs/storage.md#explanations), NULL for none: what
   * an alert of it carries. May be NULL: none is known. */
  const struct pw_explanation *(*explanation)(void *data, int ind);
  /* A trend graph, as pw_delivery_ctx's get_graph. May be NULL. */
  int (*get_graph)(void *data, const char *indicator, enum pw_graph_format format,
                   pw_delivery_graph_cb done, void *arg);
  void *data;
};

/* Starts alerting for CONF (a reference is taken): loads alerts.json, silences.json and the
 * spool left by an earlier run (blocking reads: at start-up). Returns 0 and *OUT (owned; free
 * with pw_alerting_free), or a negative errno with the reason in ERR (the spool directory
 * cannot be created or read, out of memory). */
int pw_alerting_init(const struct pw_alerting_ctx *ctx, struct pw_config *conf,
                     struct pw_alerter **out, char *err, size_t errlen);

/* The daemon swapped in configuration CONF (a reference is taken): alert states, batches, rate
 * budgets and the spool carry over by indicator, source and receiver id. Returns 0, or -ENOMEM
 * (alerting then stays on the previous generation and ignores evaluations). */
int pw_alerting_reload(struct pw_alerter *a, struct pw_config *conf);

/* Steps every condition at the daemon's now; notifications gather per receiver. */
void pw_alerting_evaluate(struct pw_alerter *a);

/* Steps the conditions of indicator IND (its verdict just changed). */
void pw_alerting_evaluate_indicator(struct pw_alerter *a, int ind);

/* Every second: batches past group_wait (and quiet hours) go to the spool; due notifications
 * are attempted. */
void pw_alerting_tick(struct pw_alerter *a);

/* --once: every batch to the spool and every spooled notification attempted now; a failed
 * one is attempted again after 1 s, 2 s, 4 s... for up to 30 s, at pw_alerting_tick. */
void pw_alerting_flush_now(struct pw_alerter *a);

/* Work in flight: attempts, file operations, batches on their way to the spool, and after
 * pw_alerting_flush_now notifications waiting for their quick retry. */
int pw_alerting_in_flight(const struct pw_alerter *a);

/* The weekly briefing WEEK (files HTML_PATH and MD_PATH) to briefing.receivers, through the
 * spool like any notification. */
void pw_alerting_send_briefing(struct pw_alerter *a, const char *week, const char *html_path,
                               const char *md_path);

/* Notifications still in the spool plus those dead-lettered by this process. */
int pw_alerting_undelivered(const struct pw_alerter *a);

/* Sizes of the notification queues, kept in memory: entries in the spool, in spool/dead/, and
 * alerts waiting in batches (group_wait, quiet hours); -1 when unknown. */
void pw_alerting_queue_sizes(const struct pw_alerter *a, long *queued, long *dead, long *batched);

/* 1 when this process found alerts.json (*ALERTS_JSON) or silences.json (*SILENCES_JSON)
 * damaged and set it aside as <file>.corrupt-<time> (docs/storage.md); else 0. */
void pw_alerting_corrupt_files(const struct pw_alerter *a, int *alerts_json, int *silences_json);

/* Per receiver since the start: notifications RECEIVER (an id) took (*SENT) and attempts that
 * failed (*FAILED); 0 when it was not attempted yet. */
void pw_alerting_receiver_counts(const struct pw_alerter *a, const char *receiver, uint64_t *sent,
                                 uint64_t *failed);

/* Alerts firing now (notified and not resolved), by severity. */
void pw_alerting_firing(const struct pw_alerter *a, long *lagging, long *severe, long *stale,
                        long *source);

/* The daemon is stopping: no delivery attempt starts any more (call before closing the
 * fetcher), and evaluations and ticks are ignored. */
void pw_alerting_stop(struct pw_alerter *a);

/* Saves what changed and frees A, once the loop has run dry. Accepts NULL. */
void pw_alerting_free(struct pw_alerter *a);

#endif
