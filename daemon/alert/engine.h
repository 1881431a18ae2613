/*
 * engine: turns verdicts and source health into notifications (docs/alerts.md). Every
 * indicator has a `lag` and a `stale` condition and every source a `source_down` condition,
 * each stepped by alert.c's state machine under the silences of the configuration and of
 * state_dir/silences.json (`stale` reminded every alerting.stale_repeat). A notification goes to
 * the indicator's department's receivers (not for the stale data of a figure published_by
 * another body), alerting.receivers and, while severe, alerting.escalate (a receiver named twice
 * gets one message); whoever was told an alert fired is told when it changes or ends. Each
 * indicator's alert carries its words (message.h) and the notification lists severe, lagging,
 * then data problems. Notifications for
 * one receiver wait in a batch for group_wait (and, unless severe, quiet hours) and are then
 * handed to the spool as one message.
 *
 * The alert states and the batches not yet in the spool are saved in state_dir/alerts.json, so
 * that a restart neither forgets nor repeats: the states that decided a batch are saved with it
 * before it is handed to the spool, and it leaves alerts.json only once the spool holds it.
 * Files are written through the writer, on the thread pool.
 *
 * The engine survives a reload: pw_alert_engine_reload carries the states over by alert id
 * (indicator or source id and condition), whom each alert was told by receiver id, and the
 * batches by receiver id; a batch of a removed receiver is dropped with a log line.
 *
 * Every function runs on the loop thread. NOW is the daemon's clock (pw_clock_now).
 */
#ifndef PW_ENGINE_H
#define PW_ENGINE_H

#include <jansson.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "judge.h"
#include "writer.h"

struct pw_alert_engine;

/* What the engine needs from its owner. Everything is borrowed for the engine's life. */
struct pw_alert_engine_ctx {
  struct pw_writer *writer; /* alerts.json and silences.json go through it */
  /* The last published verdict of indicator IND (an index into the configuration the engine
   * was last given). */
  const struct pw_verdict *(*verdict)(void *data, int ind);
  /* Whether source SRC (an index, as for VERDICT) has been failing for at least
   * alerting.source_down_after. May be NULL: no source is down. */
  int (*source_down)(void *data, int src);
  /* The latest sample of indicator IND known at AT in any year (NULL for none): what a stale
   * alert says was last reported (docs/alerts.md). May be NULL: no sample is known. */
  const struct pw_sample *(*latest)(void *data, int ind, int64_t at);
  /* The current explanation of indicator IND (the newest, docs/storage.md#explanations), NULL
   * for none: an alert of IND carries it (docs/alerts.md). May be NULL: none is known. */
  const struct pw_explanation *(*explanation)(void *data, int ind);
  /* Hands PAYLOAD (a notification, docs/alerts.md's webhook body with its delivery id; ownership
   * passes, even on failure) for RECEIVER (id, borrowed) to the spool. DONE(ARG, rc) is called
   * on the loop once it is durable (rc 0) or could not be written (negative errno: the batch is
   * handed over again at the next flush). Returns 0, or a negative errno and DONE is never
   * called. */
  int (*spool)(void *data, const char *receiver, json_t *payload, void (*done)(void *arg, int rc),
               void *arg);
  void *data;
};

/* Creates the engine for CONF (a reference is taken) and loads state_dir/alerts.json and
 * state_dir/silences.json (blocking reads: call it at start-up). Returns 0 and *OUT (owned;
 * free with pw_alert_engine_free), or -ENOMEM with ERR. */
int pw_alert_engine_init(const struct pw_alert_engine_ctx *ctx, struct pw_config *conf, int64_t now,
                         struct pw_alert_engine **out, char *err, size_t errlen);

/* Swaps in the configuration generation CONF (a reference is taken, the previous one released)
 * and carries every state and batch over by name. Returns 0, or -ENOMEM and the engine keeps
 * its configuration. */
int pw_alert_engine_reload(struct pw_alert_engine *e, struct pw_config *conf);

/* Steps every condition at NOW. */
void pw_alert_engine_evaluate(struct pw_alert_engine *e, int64_t now);

/* Steps the conditions of indicator IND (its verdict just changed). The states are saved at the
 * next flush: when thousands of indicators change at once, one save replaces thousands. */
void pw_alert_engine_evaluate_indicator(struct pw_alert_engine *e, int ind, int64_t now);

/* Hands the batches that group_wait and quiet hours let go (ALL: every batch, whatever they say)
 * to the spool, saving the states first when they changed; re-reads silences.json once a
 * minute. */
void pw_alert_engine_flush(struct pw_alert_engine *e, int64_t now, int all);

/* Notification DELIVERY of RECEIVER went to spool/dead/ with ERROR: a `dead_letter` alert is
 * queued for alerting.receivers other than RECEIVER. All borrowed. */
void pw_alert_engine_dead_letter(struct pw_alert_engine *e, const char *receiver,
                                 const char *delivery, const char *error, int64_t now);

/* Alerts waiting in batches (group_wait, quiet hours, a failed spooling), not yet spooled. */
long pw_alert_engine_batched(const struct pw_alert_engine *e);

/* Alerts firing now (a firing notification issued and not resolved), counted into
 * COUNTS[severity] for every enum pw_alert_severity (COUNTS[PW_SEV_NONE] stays 0). */
void pw_alert_engine_firing(const struct pw_alert_engine *e, long counts[PW_SEV_SOURCE + 1]);

/* Batches handed to the spool and not yet confirmed durable. */
/* Whether this process found alerts.json (*ALERTS) or silences.json (*SILENCES) damaged and
 * set it aside (docs/storage.md). */
void pw_alert_engine_corrupt(const struct pw_alert_engine *e, int *alerts, int *silences);

int pw_alert_engine_spooling(const struct pw_alert_engine *e);

/* Saves alerts.json now if anything changed (blocking: at exit, once the loop has run dry),
 * then frees E. Accepts NULL. */
void pw_alert_engine_free(struct pw_alert_engine *e);

#endif
