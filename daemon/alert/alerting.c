/*
 * alerting: owns the writer, the engine and delivery, and passes between them: a batch the
 * engine lets go is spooled by delivery, and a notification delivery moves to spool/dead/ is
 * reported through the engine's routing.
 */
#define PW_LOG_MODULE "alert"
#include "alerting.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "writer.h"

struct pw_alerter {
  struct pw_alerting_ctx ctx;
  struct pw_writer *writer;
  struct pw_alert_engine *engine;
  struct pw_delivery *delivery;
  /* Stopping, or a reload failed (the daemon is stopping then): evaluations and flushes are
   * ignored, so nothing reads a configuration or verdicts that may no longer match. */
  int stopped;
};

static int to_spool(void *data, const char *receiver, json_t *payload,
                    void (*done)(void *arg, int rc), void *arg) {
  struct pw_alerter *a = data;

  return pw_delivery_spool(a->delivery, receiver, payload, done, arg);
}

static void dead_letter(void *data, const char *receiver, const char *delivery, const char *error) {
  struct pw_alerter *a = data;

  pw_alert_engine_dead_letter(a->engine, receiver, delivery, error, pw_clock_now());
}

static const struct pw_verdict *verdict(void *data, int ind) {
  struct pw_alerter *a = data;

  return a->ctx.verdict(a->ctx.data, ind);
}

static int source_down(void *data, int src) {
  struct pw_alerter *a = data;

  return a->ctx.source_down != NULL ? a->ctx.source_down(a->ctx.data, src) : -1;
}

static const struct pw_sample *latest(void *data, int ind, int64_t at) {
  struct pw_alerter *a = data;

  return a->ctx.latest != NULL ? a->ctx.latest(a->ctx.data, ind, at) : NULL;
}

static const struct pw_explanation *explanation(void *data, int ind) {
  struct pw_alerter *a = data;

  return a->ctx.explanation != NULL ? a->ctx.explanation(a->ctx.data, ind) : NULL;
}

static int get_graph(void *data, const char *indicator, enum pw_graph_format format,
                     pw_delivery_graph_cb done, void *arg) {
  struct pw_alerter *a = data;

  if (a->ctx.get_graph == NULL)
    return -ENOTSUP;
  return a->ctx.get_graph(a->ctx.data, indicator, format, done, arg);
}

int pw_alerting_init(const struct pw_alerting_ctx *ctx, struct pw_config *conf,
                     struct pw_alerter **out, char *err, size_t errlen) {
  struct pw_alerter *a = calloc(1, sizeof(*a));
  struct pw_alert_engine_ctx ec;
  struct pw_delivery_ctx dc;
  int rc;

  *out = NULL;
  if (a == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  a->ctx = *ctx;
  rc = pw_writer_init(ctx->loop, &a->writer);
  if (rc < 0) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  dc.loop = ctx->loop;
  dc.fetch = ctx->fetch;
  dc.writer = a->writer;
  dc.get_graph = get_graph;
  dc.dead = dead_letter;
  dc.data = a;
  rc = pw_delivery_init(&dc, conf, &a->delivery, err, errlen);
  if (rc < 0)
    goto fail;
  memset(&ec, 0, sizeof(ec));
  ec.writer = a->writer;
  ec.latest = latest;
  ec.explanation = explanation;
  ec.verdict = verdict;
  ec.source_down = source_down;
  ec.spool = to_spool;
  ec.data = a;
  rc = pw_alert_engine_init(&ec, conf, pw_clock_now(), &a->engine, err, errlen);
  if (rc < 0)
    goto fail;
  *out = a;
  return 0;

fail:
  pw_alerting_free(a);
  return rc;
}

int pw_alerting_reload(struct pw_alerter *a, struct pw_config *conf) {
  int rc = pw_alert_engine_reload(a->engine, conf);

  if (rc < 0) {
    a->stopped = 1;
    return rc;
  }
  pw_delivery_reload(a->delivery, conf);
  return 0;
}

void pw_alerting_evaluate(struct pw_alerter *a) {
  if (a != NULL && !a->stopped)
    pw_alert_engine_evaluate(a->engine, pw_clock_now());
}

void pw_alerting_evaluate_indicator(struct pw_alerter *a, int ind) {
  if (a != NULL && !a->stopped)
    pw_alert_engine_evaluate_indicator(a->engine, ind, pw_clock_now());
}

void pw_alerting_tick(struct pw_alerter *a) {
  if (a == NULL || a->stopped)
    return;
  pw_alert_engine_flush(a->engine, pw_clock_now(), 0);
  pw_delivery_run(a->delivery);
}

void pw_alerting_flush_now(struct pw_alerter *a) {
  if (a == NULL || a->stopped)
    return;
  pw_alert_engine_flush(a->engine, pw_clock_now(), 1);
  pw_delivery_flush_all(a->delivery);
}

int pw_alerting_in_flight(const struct pw_alerter *a) {
  if (a == NULL)
    return 0;
  return pw_delivery_in_flight(a->delivery) + (int)pw_writer_pending(a->writer) +
         pw_alert_engine_spooling(a->engine);
}

void pw_alerting_send_briefing(struct pw_alerter *a, const char *week, const char *html_path,
                               const char *md_path) {
  if (a != NULL)
    pw_delivery_briefing(a->delivery, week, html_path, md_path);
}

int pw_alerting_undelivered(const struct pw_alerter *a) {
  long queued = 0, dead_now = 0;

  if (a == NULL)
    return 0;
  pw_delivery_counts(a->delivery, &queued, NULL, &dead_now);
  return (int)(queued + dead_now);
}

void pw_alerting_queue_sizes(const struct pw_alerter *a, long *queued, long *dead, long *batched) {
  *queued = *dead = *batched = -1;
  if (a == NULL)
    return;
  pw_delivery_counts(a->delivery, queued, dead, NULL);
  *batched = pw_alert_engine_batched(a->engine);
}

void pw_alerting_receiver_counts(const struct pw_alerter *a, const char *receiver, uint64_t *sent,
                                 uint64_t *failed) {
  pw_delivery_receiver_counts(a != NULL ? a->delivery : NULL, receiver, sent, failed);
}

void pw_alerting_firing(const struct pw_alerter *a, long *lagging, long *severe, long *stale,
                        long *source) {
  long counts[PW_SEV_SOURCE + 1];

  pw_alert_engine_firing(a != NULL ? a->engine : NULL, counts);
  *lagging = counts[PW_SEV_LAGGING];
  *severe = counts[PW_SEV_SEVERE];
  *stale = counts[PW_SEV_STALE];
  *source = counts[PW_SEV_SOURCE];
}

void pw_alerting_corrupt_files(const struct pw_alerter *a, int *alerts_json, int *silences_json) {
  pw_alert_engine_corrupt(a != NULL ? a->engine : NULL, alerts_json, silences_json);
}

void pw_alerting_stop(struct pw_alerter *a) {
  if (a == NULL)
    return;
  a->stopped = 1;
  pw_delivery_stop(a->delivery);
}

void pw_alerting_free(struct pw_alerter *a) {
  if (a == NULL)
    return;
  pw_alert_engine_free(a->engine);
  pw_delivery_free(a->delivery);
  pw_writer_free(a->writer);
  free(a);
}
