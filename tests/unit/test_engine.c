/*
 * Unit tests of the alert engine, without a daemon: verdicts are set by hand, the spool is a
 * recorder (or, for the rate budget, the real delivery with log receivers), alerts.json goes
 * through a real writer on a private loop. Checked: `for`, `repeat` and send_resolved; routing
 * by department, alerting.receivers and escalation while severe (a receiver named twice gets
 * one message); group_wait gathering one receiver's alerts into one message; silences of the
 * configuration and of silences.json, of indicators and of sources (source_down); quiet hours
 * holding a lagging alert back while a severe one leaves; one notification per alert in a batch,
 * its latest; alerts.json saved and read again by a
 * restarted engine; a reload carrying states, told receivers and batches over by name (a removed
 * receiver's batch dropped); a batch whose spooling failed handed over again under its id; the rate
 * budget; and a receiver over its budget getting its waiting notifications as one digest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "calendar.h"
#include "clock.h"
#include "delivery.h"
#include "engine.h"
#include "sink_process.h"
#include "unit_conf.h"
#include "util.h"
#include "writer.h"

#define TARGETS "targets = ( { year = 2024; annual = 190000; } );"

/* The configuration of most tests: indicator `a` in department wj (receivers dept and ops), `b`
 * in none; alerting.receivers ops, escalate boss. FOR and GROUP_WAIT are durations; EXTRA goes
 * into the alerting group, TAIL after everything. */
static const char *conf_text(const char *for_s, const char *group_wait, const char *extra,
                             const char *tail) {
  static char buf[4096];

  snprintf(buf, sizeof(buf),
           "daemon: { state_dir = \"state\"; };\n"
           "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
           "departments = ( { id = \"wj\"; name = \"县卫健局\"; receivers = [ \"dept\", \"ops\" ]; "
           "} );\n"
           "receivers = ( { id = \"dept\"; type = \"log\"; }, { id = \"ops\"; type = \"log\"; },\n"
           "              { id = \"boss\"; type = \"log\"; } );\n"
           "alerting: { receivers = [ \"ops\" ]; escalate = [ \"boss\" ]; for = \"%s\"; repeat = "
           "\"1h\"; group_wait = \"%s\"; %s };\n"
           "indicators = (\n"
           " { id = \"a\"; name = \"甲\"; domain = \"health\"; department = \"wj\"; unit = \"人\"; "
           "kind = \"cumulative\"; " TARGETS " },\n"
           " { id = \"b\"; name = \"乙\"; domain = \"health\"; unit = \"人\"; kind = "
           "\"cumulative\"; " TARGETS " } );\n%s",
           for_s, group_wait, extra, tail);
  return buf;
}

struct call {
  char receiver[65];
  json_t *payload;
};

struct fx {
  char dir[64];
  struct pw_config *conf;
  uv_loop_t loop;
  struct pw_writer *writer;
  struct pw_alert_engine *engine;
  struct pw_verdict v[4];
  int source_down;
  struct call calls[64];
  int n_calls;
  struct {
    void (*done)(void *arg, int rc);
    void *arg;
  } waiting[64];
  int n_waiting;
};

static const struct pw_verdict *verdict(void *data, int ind) {
  struct fx *f = data;

  return &f->v[ind];
}

static int source_down(void *data, int src) {
  struct fx *f = data;

  (void)src;
  return f->source_down;
}

/* The spool as a recorder: the batch is "durable" when confirm() says so. */
static int record(void *data, const char *receiver, json_t *payload,
                  void (*done)(void *arg, int rc), void *arg) {
  struct fx *f = data;

  assert_true(f->n_calls < 64 && f->n_waiting < 64);
  snprintf(f->calls[f->n_calls].receiver, sizeof(f->calls[0].receiver), "%s", receiver);
  f->calls[f->n_calls++].payload = payload;
  f->waiting[f->n_waiting].done = done;
  f->waiting[f->n_waiting++].arg = arg;
  return 0;
}

static void drain(struct fx *f) {
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static void confirm(struct fx *f, int rc) {
  int i, n = f->n_waiting;

  f->n_waiting = 0;
  for (i = 0; i < n; i++)
    f->waiting[i].done(f->waiting[i].arg, rc);
  drain(f);
}

static void forget_calls(struct fx *f) {
  int i;

  for (i = 0; i < f->n_calls; i++)
    json_decref(f->calls[i].payload);
  f->n_calls = 0;
}

static struct pw_alert_engine *engine_new(struct fx *f) {
  struct pw_alert_engine_ctx ctx;
  struct pw_alert_engine *e;
  char err[256];

  memset(&ctx, 0, sizeof(ctx));
  ctx.writer = f->writer;
  ctx.verdict = verdict;
  ctx.source_down = source_down;
  ctx.spool = record;
  ctx.data = f;
  assert_int_equal(pw_alert_engine_init(&ctx, f->conf, 1000, &e, err, sizeof(err)), 0);
  return e;
}

static struct fx *fx_open(const char *text) {
  struct fx *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  snprintf(f->dir, sizeof(f->dir), "/tmp/pw-test-engine-XXXXXX");
  assert_int_equal(pw_unit_conf_open(f->dir, text, &f->conf), 0);
  assert_int_equal(pw_mkdir_p(f->conf->daemon.state_dir), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(pw_writer_init(&f->loop, &f->writer), 0);
  f->source_down = -1;
  f->engine = engine_new(f);
  return f;
}

static void fx_close(struct fx *f) {
  confirm(f, 0);
  forget_calls(f);
  pw_alert_engine_free(f->engine);
  drain(f);
  pw_writer_free(f->writer);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  assert_int_equal(pw_unit_conf_close(f->conf, f->dir), 0);
  free(f);
}

static void set(struct fx *f, int ind, enum pw_status status) {
  memset(&f->v[ind], 0, sizeof(f->v[ind]));
  f->v[ind].status = status;
}

/* The alerts of call I as "alert state severity" words, e.g. "a/lag firing lagging". */
static const char *alerts_text(const struct fx *f, int i) {
  static char buf[1024];
  const json_t *a;
  size_t k, off = 0;

  buf[0] = '\0';
  json_array_foreach(json_object_get(f->calls[i].payload, "alerts"), k, a) {
    const char *sev = json_string_value(json_object_get(a, "severity"));
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s %s", off ? "; " : "",
                            json_string_value(json_object_get(a, "alert")),
                            json_string_value(json_object_get(a, "state")), sev ? sev : "-");
  }
  return buf;
}

/* The receivers of the calls so far, sorted, comma-separated. */
static const char *receivers_text(const struct fx *f) {
  static char buf[512];
  const char *names[64];
  size_t off = 0;
  int i, j;

  for (i = 0; i < f->n_calls; i++)
    names[i] = f->calls[i].receiver;
  for (i = 1; i < f->n_calls; i++)
    for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      const char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  buf[0] = '\0';
  for (i = 0; i < f->n_calls; i++)
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? "," : "", names[i]);
  return buf;
}

/* A running engine across 8 days, stepped every hour: a stale alert is told at the start and
 * once more after alerting.stale_repeat (7 days), not every `repeat` (1 h here); the stale data
 * of a figure published_by another body goes to alerting.receivers only, never to the
 * department (docs/alerts.md "Routing"). */
static void test_stale_weekly_published_by(void **state) {
  struct fx *f = fx_open(
      "daemon: { state_dir = \"state\"; };\n"
      "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
      "departments = ( { id = \"wj\"; name = \"县卫健局\"; receivers = [ \"dept\" ]; } );\n"
      "receivers = ( { id = \"dept\"; type = \"log\"; }, { id = \"ops\"; type = \"log\"; } );\n"
      "alerting: { receivers = [ \"ops\" ]; repeat = \"1h\"; group_wait = \"0s\"; };\n"
      "indicators = (\n"
      " { id = \"a\"; name = \"甲\"; domain = \"health\"; department = \"wj\"; unit = \"人\"; "
      "kind = \"cumulative\"; " TARGETS " },\n"
      " { id = \"p\"; name = \"调查失业率\"; domain = \"health\"; department = \"wj\"; unit = "
      "\"%\"; kind = \"cumulative\"; published_by = \"省人社厅\"; " TARGETS " } );\n");
  int64_t t0 = 1714611600, t;
  int i, k, dept = 0, ops_a = 0, ops_p = 0;

  (void)state;
  for (i = 0; i < 2; i++) {
    set(f, i, PW_STATUS_NO_DATA);
    f->v[i].stale = 1;
  }
  for (t = t0; t <= t0 + 8 * 86400; t += 3600) {
    pw_alert_engine_evaluate(f->engine, t);
    pw_alert_engine_flush(f->engine, t, 0);
    for (i = 0; i < f->n_calls; i++) {
      const json_t *a;
      size_t n;
      json_array_foreach(json_object_get(f->calls[i].payload, "alerts"), n, a) {
        const char *id = json_string_value(json_object_get(a, "alert"));
        if (strcmp(f->calls[i].receiver, "dept") == 0) {
          dept++;
          assert_string_equal(id, "a/stale"); /* never p's */
        } else {
          k = strcmp(id, "a/stale") == 0;
          ops_a += k;
          ops_p += !k;
        }
      }
    }
    confirm(f, 0);
    forget_calls(f);
  }
  assert_int_equal(dept, 2);
  assert_int_equal(ops_a, 2);
  assert_int_equal(ops_p, 2);
  fx_close(f);
}

/* A reporting deadline (docs/alerts.md): the reminder goes once for its period, to the
 * department's receivers and alerting.receivers, however long its window lasts, and never
 * resolves; the overdue figure fires after `for`, is reminded every `repeat`, and resolves to
 * whoever was told when the figure arrives. */
static void test_deadline_remind_and_overdue(void **state) {
  struct fx *f = fx_open(conf_text("10m", "0s", "", ""));
  int64_t t0 = pw_calendar_local(2024, 4, 3, 0, 0, 0), by = pw_calendar_local(2024, 4, 6, 0, 0, 0);
  int64_t t;
  int reminds = 0, overdue_firing = 0, resolved = 0, i;
  const char *sum = NULL;

  (void)state;
  set(f, 0, PW_STATUS_OK);
  set(f, 1, PW_STATUS_OK);
  f->v[0].has_due = 1;
  f->v[0].due_year = 2024;
  f->v[0].due_month = 3;
  f->v[0].due_months = 1;
  f->v[0].due_by = by;
  for (t = t0; t < by + 2 * 3600 + 1; t += 600) {
    f->v[0].due_soon = t < by;
    f->v[0].overdue = t >= by && t < by + 2 * 3600;
    pw_alert_engine_evaluate(f->engine, t);
    pw_alert_engine_flush(f->engine, t, 0);
    for (i = 0; i < f->n_calls; i++) {
      const json_t *a;
      size_t n;
      json_array_foreach(json_object_get(f->calls[i].payload, "alerts"), n, a) {
        const char *id = json_string_value(json_object_get(a, "alert"));
        const char *st = json_string_value(json_object_get(a, "state"));
        if (strcmp(id, "a/remind") == 0) {
          reminds++;
          assert_string_equal(st, "firing");
          assert_string_equal(json_string_value(json_object_get(a, "severity")), "remind");
          if (sum == NULL)
            sum = "seen";
          assert_string_equal(json_string_value(json_object_get(a, "summary")),
                              "县卫健局：请于4月5日前报送2024年3月的「甲」数据");
        } else if (strcmp(id, "a/overdue") == 0 && strcmp(st, "firing") == 0) {
          overdue_firing++;
          assert_string_equal(json_string_value(json_object_get(a, "severity")), "overdue");
        } else if (strcmp(id, "a/overdue") == 0) {
          resolved++;
        } else {
          fail_msg("unexpected alert %s", id);
        }
      }
    }
    if (t == t0) {
      /* Sent at once (no `for`), to the department's receivers (dept, ops). */
      assert_string_equal(receivers_text(f), "dept,ops");
    }
    confirm(f, 0);
    forget_calls(f);
  }
  assert_non_null(sum);
  assert_int_equal(reminds, 2); /* once, to each of two receivers */
  /* Firing 10 minutes after the deadline, reminded an hour later: twice to each receiver. */
  assert_int_equal(overdue_firing, 4);
  assert_int_equal(resolved, 2);
  fx_close(f);
}

/* `for` holds a lagging indicator back 10 minutes; `repeat` reminds every hour; a severity
 * change is news at once (and escalates); the end is told to everyone who was told. */
static void test_for_repeat_resolved(void **state) {
  struct fx *f = fx_open(conf_text("10m", "0s", "", ""));
  int64_t t0 = 1714611600; /* 2024-05-02 09:00 +08:00 */
  long firing[PW_SEV_SOURCE + 1];
  int i;

  (void)state;
  set(f, 0, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate(f->engine, t0);
  pw_alert_engine_flush(f->engine, t0, 0);
  assert_int_equal(f->n_calls, 0);
  /* Holding, not yet notified: not firing (the metric pacewatch_alerts_firing). */
  pw_alert_engine_firing(f->engine, firing);
  assert_int_equal(firing[PW_SEV_LAGGING], 0);
  pw_alert_engine_evaluate(f->engine, t0 + 599);
  pw_alert_engine_flush(f->engine, t0 + 599, 0);
  assert_int_equal(f->n_calls, 0);
  pw_alert_engine_evaluate(f->engine, t0 + 600);
  pw_alert_engine_flush(f->engine, t0 + 600, 0);
  /* The department's receivers (ops is also in alerting.receivers: one message), not boss. */
  assert_string_equal(receivers_text(f), "dept,ops");
  for (i = 0; i < f->n_calls; i++) {
    assert_string_equal(alerts_text(f, i), "a/lag firing lagging");
    assert_string_equal(json_string_value(json_object_get(f->calls[i].payload, "receiver")),
                        f->calls[i].receiver);
  }
  pw_alert_engine_firing(f->engine, firing);
  assert_int_equal(firing[PW_SEV_LAGGING], 1);
  assert_int_equal(firing[PW_SEV_SEVERE], 0);
  confirm(f, 0);
  forget_calls(f);
  pw_alert_engine_evaluate(f->engine, t0 + 600 + 3599);
  pw_alert_engine_flush(f->engine, t0 + 600 + 3599, 0);
  assert_int_equal(f->n_calls, 0);
  pw_alert_engine_evaluate(f->engine, t0 + 600 + 3600);
  pw_alert_engine_flush(f->engine, t0 + 600 + 3600, 0);
  assert_string_equal(receivers_text(f), "dept,ops"); /* the reminder */
  confirm(f, 0);
  forget_calls(f);
  set(f, 0, PW_STATUS_SEVERE);
  pw_alert_engine_evaluate_indicator(f->engine, 0, t0 + 5000);
  pw_alert_engine_flush(f->engine, t0 + 5000, 0);
  assert_string_equal(receivers_text(f), "boss,dept,ops");
  assert_string_equal(alerts_text(f, 0), "a/lag firing severe");
  pw_alert_engine_firing(f->engine, firing);
  assert_int_equal(firing[PW_SEV_LAGGING], 0);
  assert_int_equal(firing[PW_SEV_SEVERE], 1);
  confirm(f, 0);
  forget_calls(f);
  set(f, 0, PW_STATUS_OK);
  pw_alert_engine_evaluate(f->engine, t0 + 6000);
  pw_alert_engine_flush(f->engine, t0 + 6000, 0);
  assert_string_equal(receivers_text(f), "boss,dept,ops");
  for (i = 0; i < f->n_calls; i++)
    assert_string_equal(alerts_text(f, i), "a/lag resolved -");
  pw_alert_engine_firing(f->engine, firing);
  assert_int_equal(firing[PW_SEV_SEVERE], 0);
  fx_close(f);
}

/* An indicator without a department goes to alerting.receivers alone; a stale indicator fires
 * `stale` at once (for applies, here 0 s), a failing source `source_down`. */
static void test_routing(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "", ""));

  (void)state;
  set(f, 0, PW_STATUS_OK);
  set(f, 1, PW_STATUS_SEVERE);
  f->v[0].stale = 1;
  f->source_down = 1; /* (no source configured: nothing to step) */
  pw_alert_engine_evaluate(f->engine, 1714611600);
  pw_alert_engine_flush(f->engine, 1714611600, 0);
  /* b: severe, no department: ops and boss; a: stale, department wj: dept and ops. */
  assert_string_equal(receivers_text(f), "boss,dept,ops");
  for (int i = 0; i < f->n_calls; i++) {
    const char *r = f->calls[i].receiver, *got = alerts_text(f, i);
    if (strcmp(r, "boss") == 0)
      assert_string_equal(got, "b/lag firing severe");
    else if (strcmp(r, "dept") == 0)
      assert_string_equal(got, "a/stale firing stale");
    else
      assert_true(strstr(got, "b/lag firing severe") && strstr(got, "a/stale firing stale"));
  }
  fx_close(f);
}

/* group_wait 30 s: alerts of two indicators decided 10 s apart reach a receiver as one message
 * once the first has waited 30 s; the message carries the batch's delivery id. */
static void test_group_wait(void **state) {
  struct fx *f = fx_open(conf_text("0s", "30s", "", ""));
  int64_t t = 1714611600;

  (void)state;
  set(f, 0, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate_indicator(f->engine, 0, t);
  pw_alert_engine_flush(f->engine, t, 0);
  set(f, 1, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate_indicator(f->engine, 1, t + 10);
  pw_alert_engine_flush(f->engine, t + 29, 0);
  assert_int_equal(f->n_calls, 0);
  assert_int_equal(pw_alert_engine_batched(f->engine), 3); /* dept: a; ops: a, b */
  pw_alert_engine_flush(f->engine, t + 30, 0);
  assert_string_equal(receivers_text(f), "dept,ops");
  for (int i = 0; i < f->n_calls; i++)
    if (strcmp(f->calls[i].receiver, "ops") == 0)
      assert_string_equal(alerts_text(f, i), "a/lag firing lagging; b/lag firing lagging");
  assert_non_null(json_string_value(json_object_get(f->calls[0].payload, "delivery")));
  assert_int_equal(pw_alert_engine_batched(f->engine), 0);
  assert_int_equal(pw_alert_engine_spooling(f->engine), 2);
  confirm(f, 0);
  assert_int_equal(pw_alert_engine_spooling(f->engine), 0);
  fx_close(f);
}

/* A silence of the configuration and one of silences.json: nothing is notified while they
 * last; when the file's silence is gone (read again after a minute), the still-firing alert
 * is notified at once. */
static void test_silences(void **state) {
  struct fx *f = fx_open(conf_text(
      "0s", "0s", "",
      "silences = ( { indicator = \"b\"; until = \"2024-06-01\"; reason = \"口径\"; } );\n"));
  char path[256];
  FILE *fp;
  int64_t t = 1714611600;

  (void)state;
  snprintf(path, sizeof(path), "%s/state/silences.json", f->dir);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fprintf(fp, "[{\"indicator\":\"a\",\"until\":%lld,\"reason\":\"x\",\"created\":0}]",
          (long long)(t + 3600));
  fclose(fp);
  pw_alert_engine_free(f->engine);
  f->engine = engine_new(f); /* reads silences.json */
  set(f, 0, PW_STATUS_LAGGING);
  set(f, 1, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate(f->engine, t);
  pw_alert_engine_flush(f->engine, t, 0);
  drain(f); /* (a reading of silences.json that the flush started) */
  assert_int_equal(f->n_calls, 0);
  unlink(path);
  pw_alert_engine_flush(f->engine, t + 120, 0); /* silences.json is read again */
  drain(f);
  pw_alert_engine_evaluate(f->engine, t + 121);
  pw_alert_engine_flush(f->engine, t + 121, 0);
  assert_string_equal(receivers_text(f), "dept,ops");
  assert_string_equal(alerts_text(f, 0), "a/lag firing lagging"); /* b stays silenced */
  fx_close(f);
}

/* Silences of sources (docs/alerts.md "Silences"): `source:hj` in the configuration and
 * `source:hk` in silences.json hold back those sources' source_down; hl's goes to ops. */
static void test_source_silences(void **state) {
  struct fx *f = fx_open(
      conf_text("0s", "0s", "",
                "sources = ( { id = \"hj\"; url = \"http://127.0.0.1:9/a\"; format = \"json\"; },\n"
                "  { id = \"hk\"; url = \"http://127.0.0.1:9/b\"; format = \"json\"; },\n"
                "  { id = \"hl\"; url = \"http://127.0.0.1:9/c\"; format = \"json\"; } );\n"
                "silences = ( { indicator = \"source:hj\"; until = \"2024-06-01\"; } );\n"));
  char path[256];
  FILE *fp;
  int64_t t = 1714611600;

  (void)state;
  snprintf(path, sizeof(path), "%s/state/silences.json", f->dir);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fprintf(fp, "[{\"id\":\"s1\",\"target\":\"source:hk\",\"until\":%lld,\"reason\":\"x\"}]",
          (long long)(t + 1800));
  fclose(fp);
  pw_alert_engine_free(f->engine);
  f->engine = engine_new(f);
  set(f, 0, PW_STATUS_OK);
  set(f, 1, PW_STATUS_OK);
  f->source_down = 1;
  pw_alert_engine_evaluate(f->engine, t);
  pw_alert_engine_flush(f->engine, t, 0);
  drain(f);
  assert_string_equal(receivers_text(f), "ops");
  assert_string_equal(alerts_text(f, 0), "hl/source_down firing source");
  confirm(f, 0);
  forget_calls(f);
  /* hk's silence ends (t + 1800): its still-failing source is told of at once. */
  pw_alert_engine_evaluate(f->engine, t + 1801);
  pw_alert_engine_flush(f->engine, t + 1801, 0);
  drain(f);
  assert_string_equal(receivers_text(f), "ops");
  assert_string_equal(alerts_text(f, 0), "hk/source_down firing source");
  fx_close(f);
}

/* Quiet hours 22:00-07:30: at 23:00 a severe alert leaves at once, a lagging one waits (in its
 * own batch, with its own id) until 07:30. */
static void test_quiet_hours(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "quiet_hours = \"22:00-07:30\";", ""));
  int64_t night, morning;
  int i, k;

  (void)state;
  night = pw_calendar_local(2024, 5, 2, 23, 0, 0);
  morning = pw_calendar_local(2024, 5, 3, 7, 30, 0);
  set(f, 0, PW_STATUS_LAGGING); /* to dept and ops */
  set(f, 1, PW_STATUS_SEVERE);  /* to ops and boss */
  pw_alert_engine_evaluate(f->engine, night);
  pw_alert_engine_flush(f->engine, night, 0);
  assert_string_equal(receivers_text(f), "boss,ops");
  assert_string_equal(alerts_text(f, 0), "b/lag firing severe");
  assert_string_equal(alerts_text(f, 1), "b/lag firing severe");
  confirm(f, 0);
  assert_int_equal(pw_alert_engine_batched(f->engine), 2); /* a, for dept and for ops */
  pw_alert_engine_flush(f->engine, morning - 60, 0);
  assert_int_equal(f->n_calls, 2);
  pw_alert_engine_flush(f->engine, morning, 0);
  assert_int_equal(f->n_calls, 4);
  assert_string_equal(alerts_text(f, 2), "a/lag firing lagging");
  assert_string_equal(alerts_text(f, 3), "a/lag firing lagging");
  /* Every message has a delivery id of its own (ops's held part got a new one). */
  for (i = 0; i < 4; i++)
    for (k = 0; k < i; k++)
      assert_string_not_equal(json_string_value(json_object_get(f->calls[i].payload, "delivery")),
                              json_string_value(json_object_get(f->calls[k].payload, "delivery")));
  fx_close(f);
}

/* A batch carries each alert once, in its latest state. At night (quiet hours 22:00-07:30) a
 * lagging alert is held back; its change to severe at 01:00 takes its place and leaves at once,
 * and nothing of it is left for the morning (a "lagging" after the "severe" would tell the
 * receiver the indicator got better). By day, with group_wait 30 s, a change decided 10 s after
 * the first firing makes one message with the change alone. */
static void test_latest_state_per_alert(void **state) {
  struct fx *f = fx_open(conf_text("0s", "30s", "quiet_hours = \"22:00-07:30\";", ""));
  int64_t night, late, morning, day;
  int i;

  (void)state;
  night = pw_calendar_local(2024, 5, 2, 23, 0, 0);
  late = pw_calendar_local(2024, 5, 3, 1, 0, 0);
  morning = pw_calendar_local(2024, 5, 3, 7, 30, 0);
  set(f, 0, PW_STATUS_LAGGING); /* to dept and ops */
  set(f, 1, PW_STATUS_OK);
  pw_alert_engine_evaluate(f->engine, night);
  pw_alert_engine_flush(f->engine, night + 60, 0);
  assert_int_equal(f->n_calls, 0);
  assert_int_equal(pw_alert_engine_batched(f->engine), 2);
  set(f, 0, PW_STATUS_SEVERE); /* to dept, ops and boss */
  pw_alert_engine_evaluate(f->engine, late);
  pw_alert_engine_flush(f->engine, late + 30, 0);
  assert_string_equal(receivers_text(f), "boss,dept,ops");
  for (i = 0; i < f->n_calls; i++)
    assert_string_equal(alerts_text(f, i), "a/lag firing severe");
  confirm(f, 0);
  forget_calls(f);
  assert_int_equal(pw_alert_engine_batched(f->engine), 0);
  pw_alert_engine_flush(f->engine, morning, 0);
  assert_int_equal(f->n_calls, 0);

  day = pw_calendar_local(2024, 5, 3, 10, 0, 0);
  set(f, 0, PW_STATUS_OK); /* (a resolves first, in a message of its own) */
  pw_alert_engine_evaluate(f->engine, day - 100);
  pw_alert_engine_flush(f->engine, day - 60, 0);
  assert_string_equal(alerts_text(f, 0), "a/lag resolved -");
  confirm(f, 0);
  forget_calls(f);
  set(f, 1, PW_STATUS_LAGGING); /* b: to ops */
  pw_alert_engine_evaluate(f->engine, day);
  set(f, 1, PW_STATUS_SEVERE); /* to ops and boss */
  pw_alert_engine_evaluate(f->engine, day + 10);
  pw_alert_engine_flush(f->engine, day + 40, 0);
  assert_string_equal(receivers_text(f), "boss,ops");
  for (i = 0; i < f->n_calls; i++)
    assert_string_equal(alerts_text(f, i), "b/lag firing severe");
  fx_close(f);
}

/* alerts.json: a restarted engine neither repeats a firing alert nor forgets a pending batch,
 * which it hands over again under the same delivery id. */
static void test_saved_states(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "", ""));
  char ids[2][64];
  int64_t t = 1714611600;
  int i, old = 0;

  (void)state;
  set(f, 0, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate(f->engine, t);
  pw_alert_engine_flush(f->engine, t, 0);
  drain(f); /* saved with the batches pending; the spool never confirms them */
  assert_int_equal(f->n_calls, 2);
  for (i = 0; i < 2; i++)
    snprintf(ids[i], sizeof(ids[i]), "%s",
             json_string_value(json_object_get(f->calls[i].payload, "delivery")));
  f->n_waiting = 0; /* (the process is gone) */
  forget_calls(f);
  pw_alert_engine_free(f->engine);
  f->engine = engine_new(f);
  /* After the restart, b goes lagging: its alert does not join the batches saved on their way
   * to the spool (the spool may hold them already, as they were), it gets one of its own. */
  set(f, 1, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate(f->engine, t + 60);
  pw_alert_engine_flush(f->engine, t + 60, 0);
  assert_int_equal(f->n_calls, 3); /* the pending batches again, and b's */
  for (i = 0; i < 3; i++) {
    const char *id = json_string_value(json_object_get(f->calls[i].payload, "delivery"));
    if (strcmp(id, ids[0]) == 0 || strcmp(id, ids[1]) == 0) {
      assert_string_equal(alerts_text(f, i), "a/lag firing lagging");
      old++;
    } else {
      assert_string_equal(f->calls[i].receiver, "ops");
      assert_string_equal(alerts_text(f, i), "b/lag firing lagging");
    }
  }
  assert_int_equal(old, 2);
  confirm(f, 0);
  forget_calls(f);
  pw_alert_engine_free(f->engine); /* saved at free: nothing pending now */
  f->engine = engine_new(f);
  pw_alert_engine_evaluate(f->engine, t + 120);
  pw_alert_engine_flush(f->engine, t + 120, 0);
  assert_int_equal(f->n_calls, 0);
  fx_close(f);
}

/* The files of DIR whose names start with PREFIX; the content of the last one in BUF. */
static int files_like(const char *dir, const char *prefix, char *buf, size_t size) {
  char cmd[512], path[600];
  FILE *p;
  int n = 0;

  snprintf(cmd, sizeof(cmd), "ls '%s'", dir);
  p = popen(cmd, "r");
  assert_non_null(p);
  while (fgets(path, sizeof(path), p) != NULL) {
    char full[1200], *text = NULL;
    path[strcspn(path, "\n")] = '\0';
    if (strncmp(path, prefix, strlen(prefix)) != 0)
      continue;
    n++;
    snprintf(full, sizeof(full), "%s/%s", dir, path);
    if (pw_read_file(full, 1 << 20, &text, NULL) == 0)
      snprintf(buf, size, "%s", text);
    free(text);
  }
  pclose(p);
  return n;
}

/* alerts.json is built on the thread pool from a snapshot whose batches carry their alerts as
 * text written when each alert arrived: after quiet hours split a batch, the saved batches hold
 * exactly their own alerts (the severe part and the held part each once, never both). */
static void test_saved_after_quiet_split(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "quiet_hours = \"22:00-07:30\";", ""));
  int64_t night = pw_calendar_local(2024, 5, 2, 23, 0, 0);
  int64_t morning = pw_calendar_local(2024, 5, 3, 7, 30, 0);
  int i, lagging = 0, severe = 0;

  (void)state;
  set(f, 0, PW_STATUS_LAGGING); /* to dept and ops */
  set(f, 1, PW_STATUS_SEVERE);  /* to ops and boss */
  pw_alert_engine_evaluate(f->engine, night);
  pw_alert_engine_flush(f->engine, night, 0);
  assert_string_equal(receivers_text(f), "boss,ops");
  drain(f); /* saved: the severe parts on their way to the spool, the held ones waiting */
  f->n_waiting = 0;
  forget_calls(f);
  pw_alert_engine_free(f->engine);
  f->engine = engine_new(f);
  pw_alert_engine_flush(f->engine, morning, 0); /* (no evaluation: repeat is 1 h) */
  assert_int_equal(f->n_calls, 4);
  for (i = 0; i < 4; i++) {
    const char *t = alerts_text(f, i);
    lagging += strcmp(t, "a/lag firing lagging") == 0;
    severe += strcmp(t, "b/lag firing severe") == 0;
  }
  assert_int_equal(lagging, 2);
  assert_int_equal(severe, 2);
  fx_close(f);
}

/* A damaged alerts.json or silences.json is not silently reset: it is kept aside as
 * <file>.corrupt-<time>, byte for byte, and the engine says so (for /metrics). */
static void test_corrupt_state_files(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "", ""));
  const char *sd = f->conf->daemon.state_dir;
  char path[600], kept[256];
  int a = -1, s = -1;

  (void)state;
  pw_alert_engine_corrupt(f->engine, &a, &s);
  assert_int_equal(a, 0);
  assert_int_equal(s, 0);
  pw_alert_engine_free(f->engine);
  snprintf(path, sizeof(path), "%s/alerts.json", sd);
  assert_int_equal(pw_write_file_atomic(path, "{\"a/lag\": TOKEN", 15), 0);
  snprintf(path, sizeof(path), "%s/silences.json", sd);
  assert_int_equal(pw_write_file_atomic(path, "{\"x\": 1}", 8), 0);
  f->engine = engine_new(f);
  pw_alert_engine_corrupt(f->engine, &a, &s);
  assert_int_equal(a, 1);
  assert_int_equal(s, 1);
  assert_int_equal(files_like(sd, "alerts.json.corrupt-", kept, sizeof(kept)), 1);
  assert_string_equal(kept, "{\"a/lag\": TOKEN");
  assert_int_equal(files_like(sd, "silences.json.corrupt-", kept, sizeof(kept)), 1);
  assert_string_equal(kept, "{\"x\": 1}");
  assert_int_equal(access(path, F_OK), -1); /* silences.json set aside: none now */
  fx_close(f);
}

/* A spooling that failed leaves the batch pending; the next flush hands it over again under
 * the same id. */
static void test_spool_failure_retried(void **state) {
  struct fx *f = fx_open(conf_text("0s", "0s", "", ""));
  char id[64];

  (void)state;
  set(f, 1, PW_STATUS_LAGGING); /* to ops alone */
  pw_alert_engine_evaluate(f->engine, 1714611600);
  pw_alert_engine_flush(f->engine, 1714611600, 0);
  assert_int_equal(f->n_calls, 1);
  snprintf(id, sizeof(id), "%s",
           json_string_value(json_object_get(f->calls[0].payload, "delivery")));
  confirm(f, -EIO);
  assert_int_equal(pw_alert_engine_batched(f->engine), 1);
  pw_alert_engine_flush(f->engine, 1714611601, 0);
  assert_int_equal(f->n_calls, 2);
  assert_string_equal(json_string_value(json_object_get(f->calls[1].payload, "delivery")), id);
  fx_close(f);
}

/* A reload to a configuration whose receivers and indicators sit elsewhere (and without boss):
 * the firing alert stays firing (no new firing), whom it was told is kept by name, boss's
 * waiting batch is dropped, and the resolution reaches dept and ops by their new places. */
static void test_reload_by_name(void **state) {
  char dir2[64], body[4096];
  struct pw_config *conf2;
  struct fx *f = fx_open(conf_text("0s", "60s", "", ""));
  int64_t t = 1714611600;
  static const char *conf_next =
      "daemon: { state_dir = \"%s/state\"; };\n"
      "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
      "departments = ( { id = \"wj\"; name = \"县卫健局\"; receivers = [ \"dept\" ]; } );\n"
      "receivers = ( { id = \"new\"; type = \"log\"; }, { id = \"ops\"; type = \"log\"; },\n"
      "              { id = \"dept\"; type = \"log\"; } );\n"
      "alerting: { receivers = [ \"ops\" ]; group_wait = \"0s\"; };\n"
      "indicators = (\n"
      " { id = \"c\"; name = \"丙\"; domain = \"health\"; unit = \"人\"; kind = "
      "\"cumulative\"; " TARGETS " },\n"
      " { id = \"b\"; name = \"乙\"; domain = \"health\"; unit = \"人\"; kind = "
      "\"cumulative\"; " TARGETS " } );\n";

  (void)state;
  set(f, 1, PW_STATUS_SEVERE); /* b: to ops and boss */
  pw_alert_engine_evaluate(f->engine, t);
  pw_alert_engine_flush(f->engine, t + 60, 0);
  assert_string_equal(receivers_text(f), "boss,ops");
  confirm(f, 0);
  forget_calls(f);
  /* A reminder-free change (lagging) waits in batches for group_wait when the reload comes. */
  set(f, 1, PW_STATUS_LAGGING);
  pw_alert_engine_evaluate(f->engine, t + 100);
  assert_int_equal(pw_alert_engine_batched(f->engine), 2);

  snprintf(dir2, sizeof(dir2), "/tmp/pw-test-engine2-XXXXXX");
  snprintf(body, sizeof(body), conf_next, f->dir);
  assert_int_equal(pw_unit_conf_open(dir2, body, &conf2), 0);
  /* Verdicts now follow the new configuration's places: b is index 1, c index 0. */
  assert_int_equal(pw_alert_engine_reload(f->engine, conf2), 0);
  set(f, 0, PW_STATUS_OK);
  assert_int_equal(pw_alert_engine_batched(f->engine), 1); /* boss's batch dropped */
  pw_alert_engine_flush(f->engine, t + 160, 0);
  assert_string_equal(receivers_text(f), "ops");
  assert_string_equal(alerts_text(f, 0), "b/lag firing lagging");
  confirm(f, 0);
  forget_calls(f);
  set(f, 1, PW_STATUS_OK);
  pw_alert_engine_evaluate(f->engine, t + 200);
  pw_alert_engine_flush(f->engine, t + 300, 0);
  /* Told ops and boss; boss is gone: ops hears the end. */
  assert_string_equal(receivers_text(f), "ops");
  assert_string_equal(alerts_text(f, 0), "b/lag resolved -");
  fx_close(f);
  assert_int_equal(pw_unit_conf_close(conf2, dir2), 0);
}

/* The rate budget: 2 a minute lets two messages through and refuses the third until the
 * first has aged a minute; a cost of 2 under a budget of 1 still passes once a minute; Feishu's
 * 5 a second. */
static void test_budget(void **state) {
  int64_t ring[8];

  (void)state;
  memset(ring, 0, sizeof(ring));
  assert_true(pw_alert_budget_take(ring, 8, 2, 1, 0, 100));
  assert_true(pw_alert_budget_take(ring, 8, 2, 1, 0, 110));
  assert_false(pw_alert_budget_take(ring, 8, 2, 1, 0, 159));
  assert_true(pw_alert_budget_take(ring, 8, 2, 1, 0, 160));
  memset(ring, 0, sizeof(ring));
  assert_true(pw_alert_budget_take(ring, 8, 1, 2, 0, 100));
  assert_false(pw_alert_budget_take(ring, 8, 1, 2, 0, 120));
  assert_true(pw_alert_budget_take(ring, 8, 1, 2, 0, 161));
  memset(ring, 0, sizeof(ring));
  assert_true(pw_alert_budget_take(ring, 8, 100, 3, 5, 100));
  assert_false(pw_alert_budget_take(ring, 8, 100, 3, 5, 100));
  assert_true(pw_alert_budget_take(ring, 8, 100, 3, 5, 101));
  assert_true(pw_alert_budget_take(ring, 8, 0, 50, 5, 101)); /* no budget: no limit */
}

/* ---- the engine with the real delivery (log receivers) ---- */

struct chain {
  struct fx *f;
  struct pw_delivery *dl;
};

static int to_delivery(void *data, const char *receiver, json_t *payload,
                       void (*done)(void *arg, int rc), void *arg) {
  struct chain *c = data;

  return pw_delivery_spool(c->dl, receiver, payload, done, arg);
}

static const struct pw_verdict *chain_verdict(void *data, int ind) {
  struct chain *c = data;

  return &c->f->v[ind];
}

static int count_events(const char *dir, const char *event) {
  char path[256], line[4096], want[64];
  FILE *fp;
  int n = 0;

  snprintf(path, sizeof(path), "%s/state/audit.log", dir);
  snprintf(want, sizeof(want), "\"event\":\"%s\"", event);
  fp = fopen(path, "r");
  if (fp == NULL)
    return 0;
  while (fgets(line, sizeof(line), fp) != NULL)
    n += strstr(line, want) != NULL;
  fclose(fp);
  return n;
}

static void fetch_closed(void *data) {
  (*(int *)data)++;
}

/* ops (a webhook on loopback) may receive one message a minute: three notifications decided at
 * three flushes give one message at once, and the two others become one digest, sent when the
 * budget allows. */
static void test_budget_digest(void **state) {
  static const char *text =
      "daemon: { state_dir = \"state\"; };\n"
      "domains = ( { id = \"health\"; name = \"病有良医\"; } );\n"
      "receivers = ( { id = \"ops\"; type = \"webhook\"; url = \"http://127.0.0.1:%d/ops\"; "
      "rate_per_minute = 1; } );\n"
      "alerting: { receivers = [ \"ops\" ]; group_wait = \"0s\"; };\n"
      "indicators = (\n"
      " { id = \"a\"; name = \"甲\"; domain = \"health\"; kind = \"cumulative\"; " TARGETS " },\n"
      " { id = \"b\"; name = \"乙\"; domain = \"health\"; kind = \"cumulative\"; " TARGETS " },\n"
      " { id = \"c\"; name = \"丙\"; domain = \"health\"; kind = \"cumulative\"; " TARGETS
      " } );\n";
  struct pw_sink_process sink;
  char body[2048], err[256], sdir[] = "/tmp/pw-test-sink-XXXXXX";
  struct chain c;
  struct fx *f;
  struct pw_alert_engine_ctx ec;
  struct pw_delivery_ctx dc;
  struct pw_fetch *fetch;
  json_t *got, *digest;
  long queued, dead;
  int64_t t = pw_clock_now(), i;
  int closed = 0;

  (void)state;
  assert_non_null(mkdtemp(sdir));
  assert_int_equal(pw_sink_start(&sink, sdir), 0);
  snprintf(body, sizeof(body), text, sink.port);
  f = fx_open(body);
  c.f = f;
  assert_int_equal(pw_fetch_init(&f->loop, 4, "pacewatch-test", &fetch), 0);
  memset(&dc, 0, sizeof(dc));
  dc.loop = &f->loop;
  dc.fetch = fetch;
  dc.writer = f->writer;
  assert_int_equal(pw_delivery_init(&dc, f->conf, &c.dl, err, sizeof(err)), 0);
  pw_alert_engine_free(f->engine);
  memset(&ec, 0, sizeof(ec));
  ec.writer = f->writer;
  ec.verdict = chain_verdict;
  ec.source_down = NULL;
  ec.spool = to_delivery;
  ec.data = &c;
  assert_int_equal(pw_alert_engine_init(&ec, f->conf, t, &f->engine, err, sizeof(err)), 0);
  for (i = 0; i < 3; i++) {
    set(f, (int)i, PW_STATUS_LAGGING);
    pw_alert_engine_evaluate_indicator(f->engine, (int)i, t + i);
    pw_alert_engine_flush(f->engine, t + i, 0);
    drain(f); /* spooled, then attempted (the first) or merged (the others) */
  }
  assert_int_equal(count_events(f->dir, "spooled"), 4); /* three, and the digest */
  assert_int_equal(count_events(f->dir, "delivered"), 1);
  assert_int_equal(count_events(f->dir, "merged"), 2);
  pw_delivery_counts(c.dl, &queued, &dead, NULL);
  assert_int_equal(queued, 1);
  assert_int_equal(dead, 0);
  pw_clock_simulate(t + 61); /* the budget allows one more */
  pw_delivery_run(c.dl);
  drain(f);
  assert_int_equal(count_events(f->dir, "delivered"), 2);
  pw_delivery_counts(c.dl, &queued, NULL, NULL);
  assert_int_equal(queued, 0);
  got = pw_sink_requests(&sink, "/ops");
  assert_int_equal(json_array_size(got), 2);
  digest = json_loads(json_string_value(json_object_get(json_array_get(got, 1), "body")), 0, NULL);
  assert_int_equal(json_array_size(json_object_get(digest, "alerts")), 2);
  json_decref(digest);
  json_decref(got);
  pw_delivery_stop(c.dl);
  pw_fetch_close(fetch, fetch_closed, &closed);
  drain(f);
  assert_int_equal(closed, 1);
  pw_alert_engine_free(f->engine);
  f->engine = NULL;
  pw_delivery_free(c.dl);
  fx_close(f);
  pw_sink_stop(&sink);
  unlink(sink.log);
  rmdir(sdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_for_repeat_resolved),
      cmocka_unit_test(test_stale_weekly_published_by),
      cmocka_unit_test(test_deadline_remind_and_overdue),
      cmocka_unit_test(test_routing),
      cmocka_unit_test(test_group_wait),
      cmocka_unit_test(test_silences),
      cmocka_unit_test(test_source_silences),
      cmocka_unit_test(test_quiet_hours),
      cmocka_unit_test(test_latest_state_per_alert),
      cmocka_unit_test(test_saved_states),
      cmocka_unit_test(test_saved_after_quiet_split),
      cmocka_unit_test(test_spool_failure_retried),
      cmocka_unit_test(test_corrupt_state_files),
      cmocka_unit_test(test_reload_by_name),
      cmocka_unit_test(test_budget),
      cmocka_unit_test(test_budget_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
