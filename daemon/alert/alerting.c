/*
 * alerting: turns verdicts and source health into notifications and gets them delivered.
 * Every indicator has a `lag` and a `stale` condition and every source a `source_down`
 * condition, each driven by alert.c's state machine; the states are saved in
 * state_dir/alerts.json so that a restart neither forgets nor repeats. A notification goes to
 * the indicator's department's receivers, alerting.receivers and, while severe,
 * alerting.escalate (a receiver named twice gets one message); whoever was told an alert fired
 * is told when it changes or ends. Notifications for one receiver wait group_wait (and, unless
 * severe, quiet hours) and go out as one message, which is written to the spool before its
 * first attempt and retried with back-off until delivered or dead.
 */
#define PW_LOG_MODULE "alert"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "clock.h"
#include "log.h"
#include "graph.h"
#include "notify_email.h"
#include "notify_robot.h"
#include "daemon.h"
#include "silence.h"
#include "spool.h"
#include "status.h"
#include "value.h"

#define MAX_TOLD 16

struct slot {
  char id[160];
  enum pw_alert_cond cond;
  int ind, src;
  struct pw_alert_state st;
  int told[MAX_TOLD]; /* receivers told it fired */
  int n_told;
};

/* Pending alerts of one receiver, waiting for group_wait or quiet hours to pass. */
struct batch {
  json_t *alerts; /* array of alert objects */
  int64_t first;  /* when the first one was added */
  int severe;     /* holds a severe alert (not held back by quiet hours) */
  /* The delivery id its spool entry will have, chosen with the batch and saved with it: a batch
   * spooled just before a kill -9 (alerts.json not yet rewritten) is spooled again after the
   * restart under the same id, replacing the same file instead of adding a second copy. */
  char id[64];
};

/* A delivery attempt in flight. */
struct attempt {
  struct pw_daemon *d;
  struct pw_spool_entry entry;
  int receiver;
  int pending; /* transfers still running */
  int failed;  /* a transfer failed: -EAGAIN or -EPERM */
  char error[256];
  char **heads; /* header lines owned by the attempt */
  size_t n_heads;
  struct pw_email *email; /* an email receiver's message, freed after the transfer */
};

struct pw_alert_engine {
  struct slot *slots;
  int n_slots;
  struct batch *batches; /* per receiver */
  struct pw_spool *spool;
  unsigned char *busy; /* per receiver: an attempt is running */
  int64_t *sent_times; /* per receiver: ring of recent send times for the rate budget */
  int dirty;           /* states changed since the last save */
  int in_flight;
  int dead_now; /* notifications dead-lettered by this process */
  /* The spool is read from disk only when something changed in it or an entry falls due, not
   * at every tick: SPOOL_NEXT is the earliest instant a waiting entry may be attempted. */
  int spool_changed;
  int64_t spool_next;
  uint64_t counter;
  json_t *silences; /* state_dir/silences.json, re-read every minute */
  int64_t silences_read;
};

static int slot_count(const struct pw_config *c) {
  return c->n_indicators * 2 + c->n_sources;
}

static void state_path(struct pw_daemon *d, char *buf, size_t size) {
  snprintf(buf, size, "%s/alerts.json", d->conf->daemon.state_dir);
}

static void save_states(struct pw_daemon *d) {
  struct pw_alert_engine *a = d->alerting;
  json_t *doc = json_object(), *pending;
  char path[4200], *text;
  int i, k, r;

  for (i = 0; i < a->n_slots; i++) {
    struct slot *s = &a->slots[i];
    json_t *told;
    if (!s->st.holding && !s->st.firing)
      continue;
    told = json_array();
    for (k = 0; k < s->n_told; k++)
      json_array_append_new(told, json_string(d->conf->receivers[s->told[k]].id));
    json_object_set_new(doc, s->id,
                        json_pack("{s:b,s:b,s:I,s:I,s:i,s:b,s:o}", "holding", s->st.holding,
                                  "firing", s->st.firing, "since", (json_int_t)s->st.since,
                                  "last_notified", (json_int_t)s->st.last_notified, "severity",
                                  (int)s->st.severity, "muted", s->st.muted, "told", told));
  }
  /* Notifications decided but still waiting (group_wait, quiet hours) are saved with the
   * states that decided them, in one atomic write: after a kill -9 either both are on disk or
   * neither is, and then the restart decides them again. A slot id always holds a '/', so
   * "pending" cannot clash with one. */
  pending = json_object();
  for (r = 0; r < d->conf->n_receivers; r++)
    if (a->batches[r].alerts != NULL)
      json_object_set_new(pending, d->conf->receivers[r].id,
                          json_pack("{s:I,s:b,s:s,s:O}", "first", (json_int_t)a->batches[r].first,
                                    "severe", a->batches[r].severe, "delivery", a->batches[r].id,
                                    "alerts", a->batches[r].alerts));
  json_object_set_new(doc, "pending", pending);
  text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
  state_path(d, path, sizeof(path));
  if (text == NULL || pw_write_file_atomic(path, text, strlen(text)) < 0)
    pw_log_error("cannot save alert states to %s", path);
  free(text);
  json_decref(doc);
  a->dirty = 0;
}

/* Whether ID can name a spool file (what pw_spool_put accepts). */
static int plain_id(const char *id) {
  size_t i, n = strlen(id);

  if (n == 0 || n >= sizeof(((struct batch *)0)->id) || id[0] == '.')
    return 0;
  for (i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
          (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' || id[i] == '.'))
      return 0;
  return 1;
}

static void load_states(struct pw_daemon *d) {
  struct pw_alert_engine *a = d->alerting;
  json_error_t jerr;
  char path[4200];
  json_t *doc;
  int i;

  state_path(d, path, sizeof(path));
  doc = json_load_file(path, 0, &jerr);
  if (doc == NULL)
    return;
  for (i = 0; i < a->n_slots; i++) {
    struct slot *s = &a->slots[i];
    json_t *o = json_object_get(doc, s->id), *told, *r;
    json_int_t since = 0, last = 0;
    int sev = 0;
    size_t k;
    if (o == NULL)
      continue;
    json_unpack(o, "{s:b,s:b,s:I,s:I,s:i,s:b}", "holding", &s->st.holding, "firing", &s->st.firing,
                "since", &since, "last_notified", &last, "severity", &sev, "muted", &s->st.muted);
    s->st.since = since;
    s->st.last_notified = last;
    s->st.severity = (enum pw_alert_severity)sev;
    told = json_object_get(o, "told");
    json_array_foreach(told, k, r) {
      int idx = -1, j;
      for (j = 0; j < d->conf->n_receivers; j++)
        if (json_is_string(r) && strcmp(d->conf->receivers[j].id, json_string_value(r)) == 0)
          idx = j;
      if (idx >= 0 && s->n_told < MAX_TOLD)
        s->told[s->n_told++] = idx;
    }
  }
  for (i = 0; i < d->conf->n_receivers; i++) {
    json_t *p = json_object_get(json_object_get(doc, "pending"), d->conf->receivers[i].id);
    json_t *alerts = json_object_get(p, "alerts");
    const char *id = json_string_value(json_object_get(p, "delivery"));
    json_int_t first = 0;
    int severe = 0;
    if (!json_is_array(alerts) || json_array_size(alerts) == 0)
      continue;
    json_unpack(p, "{s:I,s:b}", "first", &first, "severe", &severe);
    a->batches[i].alerts = json_incref(alerts);
    a->batches[i].first = first;
    a->batches[i].severe = severe;
    /* (Without a usable id, the batch gets a new one when it is spooled.) */
    if (id != NULL && plain_id(id))
      snprintf(a->batches[i].id, sizeof(a->batches[i].id), "%s", id);
  }
  json_decref(doc);
}

/* Silences from the configuration and from `pacewatch silence` (state_dir/silences.json). */
static int silenced(struct pw_daemon *d, int ind, int64_t now) {
  int i;

  if (ind < 0)
    return 0;
  for (i = 0; i < d->conf->n_silences; i++)
    if (d->conf->silences[i].indicator_idx == ind && now < d->conf->silences[i].until)
      return 1;
  return pw_silence_active(d->alerting->silences, d->conf->indicators[ind].id, now);
}

static json_t *num_or_null(int has, double v) {
  return has ? pw_status_number(v) : json_null();
}

static json_t *time_or_null(int has, int64_t t) {
  char buf[40];

  return has ? json_string(pw_calendar_format(t, buf, sizeof(buf))) : json_null();
}

/* One alert as CONTRACT section 6 lists it. */
static json_t *alert_json(struct pw_daemon *d, const struct slot *s, int firing,
                          enum pw_alert_severity sev, int64_t since) {
  const struct pw_config *c = d->conf;
  json_t *o = json_object();
  char url[4200];

  json_object_set_new(o, "alert", json_string(s->id));
  json_object_set_new(o, "condition", json_string(pw_alert_cond_name(s->cond)));
  json_object_set_new(o, "state", json_string(firing ? "firing" : "resolved"));
  json_object_set_new(o, "severity",
                      pw_alert_severity_name(sev) ? json_string(pw_alert_severity_name(sev))
                                                  : json_null());
  if (s->ind >= 0) {
    const struct pw_indicator *ind = &c->indicators[s->ind];
    const struct pw_verdict *v = &d->verdicts[s->ind];
    const char *unit = NULL;
    if (v->has_judgement)
      unit = v->lag_unit == PW_LAG_UNIT_PP     ? "pp"
             : v->lag_unit == PW_LAG_UNIT_DAYS ? "days"
                                               : ind->unit;
    json_object_set_new(o, "indicator", json_string(ind->id));
    json_object_set_new(o, "name", json_string(ind->name));
    json_object_set_new(o, "domain", json_string(ind->domain_id));
    json_object_set_new(o, "department",
                        ind->department_id ? json_string(ind->department_id) : json_null());
    json_object_set_new(o, "value", num_or_null(v->has_value, v->value));
    json_object_set_new(o, "expected", num_or_null(v->has_judgement, v->expected));
    json_object_set_new(o, "target", num_or_null(v->has_judgement, v->target));
    json_object_set_new(o, "completion_pct", num_or_null(v->has_pct, v->completion_pct));
    json_object_set_new(o, "pace_pct", num_or_null(v->has_pct, v->pace_pct));
    json_object_set_new(o, "lag", num_or_null(v->has_judgement, v->lag));
    json_object_set_new(o, "lag_unit", unit ? json_string(unit) : json_null());
    json_object_set_new(o, "as_of", time_or_null(v->has_value, v->as_of));
    json_object_set_new(o, "source", json_null());
  } else {
    static const char *const nulls[] = {"indicator", "name",     "domain",   "department",
                                        "value",     "expected", "target",   "completion_pct",
                                        "pace_pct",  "lag",      "lag_unit", "as_of"};
    size_t k;
    for (k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++)
      json_object_set_new(o, nulls[k], json_null());
    json_object_set_new(o, "source", json_string(c->sources[s->src].id));
  }
  json_object_set_new(o, "since", time_or_null(since != 0, since));
  if (c->daemon.public_url[0] != '\0' && s->ind >= 0) {
    snprintf(url, sizeof(url), "%s/#%s", c->daemon.public_url, c->indicators[s->ind].id);
    json_object_set_new(o, "url", json_string(url));
  } else {
    json_object_set_new(o, "url", json_null());
  }
  return o;
}

static void add_receiver(int *list, int *n, int r) {
  int i;

  for (i = 0; i < *n; i++)
    if (list[i] == r)
      return;
  if (*n < MAX_TOLD * 4)
    list[(*n)++] = r;
}

/* A new delivery id: unique within the process (counter), across restarts (time, pid). */
static void delivery_id(struct pw_daemon *d, char *id, size_t size) {
  snprintf(id, size, "%lld-%d-%llu-%04x", (long long)pw_clock_now(), (int)getpid(),
           (unsigned long long)++d->alerting->counter, (unsigned)(pw_clock_real_ms() & 0xffff));
}

static void queue_for(struct pw_daemon *d, int r, json_t *alert, int severe) {
  struct batch *b = &d->alerting->batches[r];

  if (b->alerts == NULL) {
    b->alerts = json_array();
    b->first = pw_clock_now();
    delivery_id(d, b->id, sizeof(b->id));
  }
  json_array_append(b->alerts, alert);
  b->severe |= severe;
}

/* Routes one notification of slot S to its receivers. */
static void route(struct pw_daemon *d, struct slot *s, enum pw_alert_action act,
                  enum pw_alert_severity sev) {
  const struct pw_config *c = d->conf;
  int list[MAX_TOLD * 4], n = 0, i;
  int firing = act != PW_ALERT_RESOLVED;
  json_t *alert;

  if (s->ind >= 0 && c->indicators[s->ind].department >= 0) {
    const struct pw_department *dep = &c->departments[c->indicators[s->ind].department];
    for (i = 0; i < dep->receivers.n; i++)
      add_receiver(list, &n, dep->receiver_idx[i]);
  }
  for (i = 0; i < c->alerting.receivers.n; i++)
    add_receiver(list, &n, c->alerting.receiver_idx[i]);
  if (sev == PW_SEV_SEVERE)
    for (i = 0; i < c->alerting.escalate.n; i++)
      add_receiver(list, &n, c->alerting.escalate_idx[i]);
  /* Whoever was told it fired hears when it changes or ends. */
  for (i = 0; act != PW_ALERT_FIRING && i < s->n_told; i++)
    add_receiver(list, &n, s->told[i]);
  if (firing)
    for (i = 0; i < n; i++) {
      int k, seen = 0;
      for (k = 0; k < s->n_told; k++)
        seen |= s->told[k] == list[i];
      if (!seen && s->n_told < MAX_TOLD)
        s->told[s->n_told++] = list[i];
    }
  else
    s->n_told = 0;
  alert = alert_json(d, s, firing, firing ? sev : PW_SEV_NONE, s->st.since);
  if (!firing)
    json_object_set_new(alert, "severity", json_null());
  for (i = 0; i < n; i++)
    queue_for(d, list[i], alert, sev == PW_SEV_SEVERE);
  json_decref(alert);
  pw_log_info("alert %s: %s%s%s to %d receivers", s->id,
              act == PW_ALERT_RESOLVED ? "resolved" : "firing", sev != PW_SEV_NONE ? ", " : "",
              sev != PW_SEV_NONE ? pw_alert_severity_name(sev) : "", n);
}

static void step_slot(struct pw_daemon *d, struct slot *s, int holds, enum pw_alert_severity sev,
                      int quiet_close, int64_t now) {
  struct pw_alert_policy pol = {d->conf->alerting.for_s, d->conf->alerting.repeat,
                                d->conf->alerting.send_resolved};
  struct pw_alert_state before = s->st;
  enum pw_alert_action act =
      pw_alert_step(&s->st, holds, sev, silenced(d, s->ind, now), quiet_close, now, &pol);

  if (memcmp(&before, &s->st, sizeof(before)) != 0)
    d->alerting->dirty = 1;
  switch (act) {
  case PW_ALERT_FIRING:
  case PW_ALERT_CHANGED:
  case PW_ALERT_REMINDER:
    route(d, s, act, sev);
    break;
  case PW_ALERT_RESOLVED:
    route(d, s, act, PW_SEV_NONE);
    break;
  case PW_ALERT_CLOSED:
    s->n_told = 0;
    break;
  default:
    break;
  }
}

/* Steps indicator I's lag and stale conditions. */
static void step_indicator(struct pw_daemon *d, int i, int64_t now) {
  struct pw_alert_engine *a = d->alerting;
  enum pw_alert_severity sev;
  int quiet, holds = pw_alert_lag_holds(&d->verdicts[i], &sev, &quiet);

  step_slot(d, &a->slots[2 * i], holds, sev, quiet, now);
  step_slot(d, &a->slots[2 * i + 1], d->verdicts[i].stale, PW_SEV_STALE, 0, now);
}

void pw_alerting_evaluate_indicator(struct pw_daemon *d, int ind) {
  if (d->alerting == NULL || ind < 0 || ind >= d->conf->n_indicators)
    return;
  /* Saved at the next tick (or before anything reaches the spool): when thousands of
   * indicators receive their first figures at once, one save a second replaces one per
   * indicator. A kill before the save loses the decision and its pending notification
   * together, and the restart makes both again. */
  step_indicator(d, ind, pw_clock_now());
}

void pw_alerting_evaluate(struct pw_daemon *d) {
  struct pw_alert_engine *a = d->alerting;
  int64_t now = pw_clock_now();
  int i;

  if (a == NULL)
    return;
  for (i = 0; i < d->conf->n_indicators; i++)
    step_indicator(d, i, now);
  for (i = 0; i < d->conf->n_sources; i++) {
    const struct pw_source_health *h = pw_sched_health(d->sched, i);
    int down;
    if (h == NULL)
      continue; /* not polled (stopping) */
    down = h->failing_since != 0 &&
           h->last_attempt - h->failing_since >= d->conf->alerting.source_down_after;
    step_slot(d, &a->slots[2 * d->conf->n_indicators + i], down, PW_SEV_SOURCE, 0, now);
  }
}

/* ---- delivery ---- */

static void attempt_free(struct attempt *at) {
  size_t i;

  for (i = 0; i < at->n_heads; i++)
    free(at->heads[i]);
  free(at->heads);
  pw_email_free(at->email);
  json_decref(at->entry.payload);
  free(at);
}

/* Anything moved to spool/dead/ is reported once to alerting.receivers (other than the
 * receiver that failed, which would only fail again). */
static void report_dead(struct pw_daemon *d, const struct attempt *at) {
  const struct pw_config *c = d->conf;
  int i;

  for (i = 0; i < c->alerting.receivers.n; i++) {
    int r = c->alerting.receiver_idx[i];
    char id[200];
    json_t *item;
    if (r == at->receiver)
      continue;
    snprintf(id, sizeof(id), "%s/dead_letter", c->receivers[at->receiver].id);
    item =
        json_pack("{s:s,s:s,s:s,s:n,s:n,s:s,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,"
                  "s:n,s:n,s:s,s:s}",
                  "alert", id, "condition", "dead_letter", "state", "firing", "severity",
                  "indicator", "name", c->receivers[at->receiver].id, "domain", "department",
                  "value", "expected", "target", "completion_pct", "pace_pct", "lag", "lag_unit",
                  "as_of", "since", "url", "source", "delivery", at->entry.id, "error", at->error);
    if (item != NULL)
      queue_for(d, r, item, 0);
    json_decref(item);
  }
}

static void attempt_finish(struct attempt *at) {
  struct pw_daemon *d = at->d;
  struct pw_alert_engine *a = d->alerting;
  char err[512];
  int64_t now = pw_clock_now();
  const struct pw_receiver *r = &d->conf->receivers[at->receiver];

  a->busy[at->receiver] = 0;
  a->spool_changed = 1; /* removed, rescheduled or dead; the receiver is free again */
  a->in_flight--;
  if (at->failed == 0) {
    pw_spool_done(a->spool, &at->entry, err, sizeof(err));
    pw_spool_audit(a->spool, "delivered", &at->entry, now, NULL);
    pw_log_info("receiver '%s': delivered %s (attempt %u)", r->id, at->entry.id,
                at->entry.attempts + 1);
  } else {
    int dead = pw_spool_failed(a->spool, &at->entry, now, d->conf->alerting.give_up,
                               at->failed == -EPERM, at->error, err, sizeof(err));
    pw_spool_audit(a->spool, dead == 1 ? "dead" : "retry", &at->entry, now, at->error);
    if (dead == 1) {
      a->dead_now++;
      report_dead(d, at);
    }
    if (dead == 1)
      pw_log_error("receiver '%s': notification %s moved to spool/dead/: %s", r->id, at->entry.id,
                   at->error);
    else
      pw_log_warn("receiver '%s': delivery of %s failed (%s); retrying", r->id, at->entry.id,
                  at->error);
  }
  attempt_free(at);
}

static void transfer_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct attempt *at = data;
  const struct pw_receiver *r = &at->d->conf->receivers[at->receiver];
  char err[256];
  int rc;

  (void)job;
  if (r->type == PW_RECV_EMAIL) {
    rc = res->rc == 0 ? 0 : res->rc == -EPERM ? -EPERM : -EAGAIN;
    snprintf(err, sizeof(err), "%s", res->error ? res->error : "error");
  } else if (r->type == PW_RECV_WEBHOOK) {
    rc = res->rc == 0 ? 0 : -EAGAIN;
    snprintf(err, sizeof(err), "%s", res->error ? res->error : "error");
  } else if (res->rc != 0 && res->status == 0) {
    rc = -EAGAIN; /* no answer at all: connection refused, timeout */
    snprintf(err, sizeof(err), "%s", res->error ? res->error : "error");
  } else {
    rc = pw_robot_reply(r, res->status, res->body ? res->body : "", err, sizeof(err));
  }
  if (rc < 0 && (at->failed == 0 || rc == -EPERM)) {
    at->failed = rc;
    snprintf(at->error, sizeof(at->error), "%s", err);
  }
  if (--at->pending == 0)
    attempt_finish(at);
}

/* The transfer options every delivery to receiver R shares. */
static void receiver_request(const struct pw_receiver *r, struct pw_fetch_request *req) {
  memset(req, 0, sizeof(*req));
  req->url = r->url;
  req->timeout_ms = r->timeout * 1000;
  req->max_bytes = 1 << 20;
  req->tls_verify = r->tls_verify;
  req->ca_file = r->ca_file;
  req->proxy = r->proxy;
}

/* Starts one transfer of attempt AT; its outcome arrives in transfer_done. */
static int start_transfer(struct attempt *at, const struct pw_fetch_request *req) {
  struct pw_fetch_job *job;

  at->pending++;
  if (pw_fetch_start(at->d->fetch, req, transfer_done, at, &job) < 0) {
    at->pending--;
    return -EAGAIN;
  }
  return 0;
}

static int post(struct attempt *at, const char *url, const char *body, size_t len,
                const char *const *heads, size_t n_heads) {
  struct pw_fetch_request req;

  receiver_request(&at->d->conf->receivers[at->receiver], &req);
  req.url = url;
  req.headers = heads;
  req.n_headers = n_heads;
  req.post_body = body;
  req.post_len = len;
  return start_transfer(at, &req);
}

/* Posts a robot's rendered messages, then frees them. */
static int post_robot(struct attempt *at, struct pw_robot_request *reqs, size_t n) {
  static const char *const json_head[] = {"Content-Type: application/json;charset=utf-8"};
  size_t i;
  int rc = 0;

  for (i = 0; i < n; i++)
    if (post(at, reqs[i].url, reqs[i].body, reqs[i].body_len, json_head, 1) < 0)
      rc = -EAGAIN;
  pw_robot_requests_free(reqs, n);
  return rc;
}

/* Sends the email AT->email was built into. */
static int start_smtp(struct attempt *at) {
  struct pw_fetch_request req;

  receiver_request(&at->d->conf->receivers[at->receiver], &req);
  req.customize = pw_email_customize;
  req.customize_arg = at->email;
  if (start_transfer(at, &req) < 0) {
    snprintf(at->error, sizeof(at->error), "cannot start the SMTP transfer");
    return -EAGAIN;
  }
  return 0;
}

/* Indicator IND's trend graph in memory, rendered now on the loop (about 25 ms; only email and
 * WeCom ask for one). Returns 0 or a negative errno (IMG is then zeroed). */
static int render_graph(struct pw_daemon *d, int ind, struct pw_graph_image *img) {
  struct pw_graph_request g;
  char err[512], tmp_dir[4200];

  snprintf(tmp_dir, sizeof(tmp_dir), "%s/graphs", d->conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  memset(&g, 0, sizeof(g));
  g.conf = d->conf;
  g.ind = ind;
  g.store = &d->store;
  g.verdict = &d->verdicts[ind];
  g.at = pw_clock_now();
  g.format = PW_GRAPH_PNG;
  g.tmp_dir = tmp_dir;
  if (pw_graph_render(&g, img, err, sizeof(err)) < 0) {
    memset(img, 0, sizeof(*img));
    pw_log_warn("%s", err);
    return -EIO;
  }
  return 0;
}

/* The indicator an alert of a payload names, or -1. */
static int alert_indicator(struct pw_daemon *d, const json_t *alert) {
  const char *id = json_string_value(json_object_get(alert, "indicator"));

  return id ? pw_config_indicator_index(d->conf, id) : -1;
}

static void log_alerts(const struct pw_receiver *r, const json_t *payload) {
  size_t i;
  json_t *a;

  json_array_foreach(json_object_get(payload, "alerts"), i, a) {
    pw_log_info("receiver '%s': alert %s %s%s%s", r->id,
                json_string_value(json_object_get(a, "alert")),
                json_string_value(json_object_get(a, "state")),
                json_is_string(json_object_get(a, "severity")) ? " " : "",
                json_is_string(json_object_get(a, "severity"))
                    ? json_string_value(json_object_get(a, "severity"))
                    : "");
  }
}

/* The trend graph of the first alert that names an indicator. IMG->data stays NULL when there
 * is none. */
static void first_graph(struct pw_daemon *d, const json_t *payload, struct pw_graph_image *img) {
  const json_t *a;
  size_t i;

  memset(img, 0, sizeof(*img));
  json_array_foreach(json_object_get(payload, "alerts"), i, a) {
    int ind = alert_indicator(d, a);
    if (ind >= 0) {
      render_graph(d, ind, img);
      return;
    }
  }
}

/* An email with each alert's trend graph inline. The graphs are rendered here, on the loop
 * (about 25 ms each, at most MAX_MAIL_GRAPHS per message): email is rare and small next to
 * polling, and a rendered graph is what the officials read first. */
#define MAX_MAIL_GRAPHS 8
static int send_email(struct attempt *at) {
  struct pw_daemon *d = at->d;
  const struct pw_receiver *r = &d->conf->receivers[at->receiver];
  const json_t *alerts = json_object_get(at->entry.payload, "alerts"), *a;
  const unsigned char *pngs[MAX_MAIL_GRAPHS * 4];
  size_t lens[MAX_MAIL_GRAPHS * 4], i, n = json_array_size(alerts);
  struct pw_graph_image imgs[MAX_MAIL_GRAPHS];
  char err[512];
  int k = 0, rc;

  if (n > MAX_MAIL_GRAPHS * 4)
    n = MAX_MAIL_GRAPHS * 4;
  memset(pngs, 0, sizeof(pngs));
  json_array_foreach(alerts, i, a) {
    int ind = alert_indicator(d, a);
    if (i >= n || ind < 0 || k >= MAX_MAIL_GRAPHS)
      continue;
    if (render_graph(d, ind, &imgs[k]) == 0) {
      pngs[i] = imgs[k].data;
      lens[i] = imgs[k].len;
      k++;
    }
  }
  rc = pw_email_build(r, at->entry.payload, pngs, lens, pw_clock_real_ms() / 1000, &at->email, err,
                      sizeof(err));
  while (k-- > 0)
    free(imgs[k].data);
  if (rc < 0) {
    snprintf(at->error, sizeof(at->error), "%s", err);
    return -EPERM;
  }
  return start_smtp(at);
}

static void deliver_due(struct pw_daemon *d, int ignore_backoff);

/* The weekly briefing to a robot (its markdown, cut to the robot's limit), by email (the HTML
 * file as the body) or to the log. Webhooks get the JSON payload like any notification. */
static int send_briefing(struct attempt *at) {
  struct pw_daemon *d = at->d;
  const struct pw_receiver *r = &d->conf->receivers[at->receiver];
  const json_t *b = json_object_get(at->entry.payload, "briefing");
  const char *week = json_string_value(json_object_get(b, "week"));
  const char *title = json_string_value(json_object_get(b, "title"));
  const char *md = json_string_value(json_object_get(b, "markdown"));
  const char *html_path = json_string_value(json_object_get(b, "html_path"));
  char subject[512], err[512];
  int rc = 0;

  snprintf(subject, sizeof(subject), "%s（%s）", title ? title : "周报", week ? week : "");
  if (r->type == PW_RECV_LOG) {
    pw_log_info("receiver '%s': briefing %s: %s", r->id, week ? week : "?",
                html_path ? html_path : "");
    return 0;
  }
  if (r->type == PW_RECV_EMAIL) {
    char *html = NULL;
    if (html_path == NULL || pw_read_file(html_path, 32u << 20, &html, NULL) < 0) {
      snprintf(at->error, sizeof(at->error), "cannot read the briefing %s",
               html_path ? html_path : "?");
      return -EAGAIN;
    }
    rc = pw_email_build_text(r, subject, md ? md : "", html, pw_clock_real_ms() / 1000, &at->email,
                             err, sizeof(err));
    free(html);
    if (rc < 0) {
      snprintf(at->error, sizeof(at->error), "%s", err);
      return -EPERM;
    }
    return start_smtp(at);
  }
  {
    struct pw_robot_request *reqs = NULL;
    size_t n = 0;
    if (pw_robot_render_text(r, subject, md ? md : subject, pw_clock_real_ms(), &reqs, &n, err,
                             sizeof(err)) < 0) {
      snprintf(at->error, sizeof(at->error), "cannot render: %s", err);
      return -EPERM;
    }
    return post_robot(at, reqs, n);
  }
}

void pw_alerting_send_briefing(struct pw_daemon *d, const char *week, const char *html_path,
                               const char *md_path) {
  struct pw_alert_engine *a = d->alerting;
  int64_t now = pw_clock_now();
  char *md = NULL;
  int i;

  if (a == NULL)
    return;
  if (pw_read_file(md_path, 32u << 20, &md, NULL) < 0) {
    pw_log_error("briefing %s: cannot read %s", week, md_path);
    return;
  }
  for (i = 0; i < d->conf->briefing.receivers.n; i++) {
    const struct pw_receiver *r = &d->conf->receivers[d->conf->briefing.receiver_idx[i]];
    struct pw_spool_entry e;
    char err[512];
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%lld-%d-%llu-briefing", (long long)now, (int)getpid(),
             (unsigned long long)++a->counter);
    snprintf(e.receiver, sizeof(e.receiver), "%s", r->id);
    e.created = e.next_attempt = now;
    e.payload = json_pack("{s:i,s:s,s:s,s:n,s:[],s:{s:s,s:s,s:s,s:s}}", "version", 1, "receiver",
                          r->id, "delivery", e.id, "sent_at", "alerts", "briefing", "week", week,
                          "title", d->conf->briefing.title, "html_path", html_path, "markdown", md);
    a->spool_changed = 1;
    if (e.payload == NULL || pw_spool_put(a->spool, &e, err, sizeof(err)) < 0)
      pw_log_error("briefing %s: cannot spool it for receiver '%s'", week, r->id);
    else
      pw_spool_audit(a->spool, "spooled", &e, now, NULL);
    json_decref(e.payload);
  }
  free(md);
  deliver_due(d, 0);
}

static void attempt(struct pw_daemon *d, struct pw_spool_entry *e, int receiver) {
  struct pw_alert_engine *a = d->alerting;
  const struct pw_receiver *r = &d->conf->receivers[receiver];
  struct attempt *at = calloc(1, sizeof(*at));
  char sent[40], *body;
  int rc = 0;

  if (at == NULL)
    return;
  at->d = d;
  at->entry = *e;
  at->entry.payload = json_incref(e->payload);
  at->receiver = receiver;
  a->busy[receiver] = 1;
  a->in_flight++;
  json_object_set_new(at->entry.payload, "sent_at",
                      json_string(pw_calendar_format(pw_clock_now(), sent, sizeof(sent))));
  at->pending = 1; /* held until every transfer is started */
  if (json_is_object(json_object_get(at->entry.payload, "briefing")) &&
      r->type != PW_RECV_WEBHOOK) {
    rc = send_briefing(at);
    if (rc < 0 && at->failed == 0) {
      at->failed = rc;
      if (at->error[0] == '\0')
        snprintf(at->error, sizeof(at->error), "cannot send the briefing");
    }
    if (--at->pending == 0)
      attempt_finish(at);
    return;
  }
  switch (r->type) {
  case PW_RECV_LOG:
    log_alerts(r, at->entry.payload);
    break;
  case PW_RECV_WEBHOOK: {
    char h1[128];
    body = json_dumps(at->entry.payload, JSON_COMPACT | JSON_REAL_PRECISION(17));
    snprintf(h1, sizeof(h1), "X-Pacewatch-Delivery: %s", at->entry.id);
    at->heads = calloc(2, sizeof(char *));
    if (at->heads != NULL) {
      at->heads[0] = strdup("Content-Type: application/json");
      at->heads[1] = strdup(h1);
      at->n_heads = 2;
    }
    if (body == NULL || at->heads == NULL ||
        post(at, r->url, body, strlen(body), (const char *const *)at->heads, 2) < 0)
      rc = -EAGAIN;
    free(body);
    break;
  }
  case PW_RECV_DINGTALK:
  case PW_RECV_WECOM:
  case PW_RECV_FEISHU: {
    struct pw_robot_request *reqs = NULL;
    size_t n = 0;
    char err[256];
    struct pw_graph_image img;
    memset(&img, 0, sizeof(img));
    if (r->type == PW_RECV_WECOM)
      first_graph(d, at->entry.payload, &img); /* WeCom alone can carry the picture */
    rc = pw_robot_render_graph(r, at->entry.payload, pw_clock_real_ms(), img.data, img.len,
                               d->conf->daemon.public_url, &reqs, &n, err, sizeof(err));
    free(img.data);
    if (rc < 0) {
      rc = -EPERM;
      snprintf(at->error, sizeof(at->error), "cannot render: %s", err);
      break;
    }
    rc = post_robot(at, reqs, n);
    break;
  }
  case PW_RECV_EMAIL:
    rc = send_email(at);
    break;
  }
  if (rc < 0 && at->failed == 0) {
    at->failed = rc;
    if (at->error[0] == '\0')
      snprintf(at->error, sizeof(at->error), "cannot start the transfer");
  }
  if (--at->pending == 0)
    attempt_finish(at);
}

/* Whether receiver R may send one more message E now under its rate budget, and if so, takes
 * its requests from the budget. A robot counts requests, not messages: a WeCom message with a
 * trend graph is two (markdown, then the image). Feishu also allows at most 5 a second. */
static int within_budget(struct pw_daemon *d, int r, const struct pw_spool_entry *e, int64_t now) {
  const struct pw_receiver *rc = &d->conf->receivers[r];
  int64_t *ring = &d->alerting->sent_times[r * 128];
  int64_t limit = rc->rate_per_minute;
  json_t *alerts = json_object_get(e->payload, "alerts");
  int k, cost, used = 0, last_second = 0;

  if (limit <= 0)
    return 1;
  if (limit > 128)
    limit = 128;
  cost = rc->type == PW_RECV_WECOM && json_array_size(alerts) > 0 ? 2 : 1;
  for (k = 0; k < 128; k++) {
    used += ring[k] != 0 && now - ring[k] < 60;
    last_second += ring[k] != 0 && now - ring[k] < 1;
  }
  if (used + cost > limit && used > 0)
    return 0; /* (a budget below the cost still lets one message through per minute) */
  if (rc->type == PW_RECV_FEISHU && last_second + cost > 5)
    return 0;
  for (k = 0; k < 128 && cost > 0; k++)
    if (ring[k] == 0 || now - ring[k] >= 60) {
      ring[k] = now;
      cost--;
    }
  return 1;
}

/* Over its rate budget, a receiver's waiting notifications become one digest message: a new
 * spool entry with every alert, written before the old entries are removed, so nothing is
 * dropped and the robot gets one message when its budget allows. Merged entries are marked
 * with an empty id in ES. */
static void merge_waiting(struct pw_daemon *d, struct pw_spool_entry *es, size_t n, size_t first,
                          int64_t now) {
  struct pw_alert_engine *a = d->alerting;
  struct pw_spool_entry *mine = calloc(n, sizeof(*mine)), digest;
  size_t k, count = 0;
  char err[512];

  if (mine == NULL)
    return;
  for (k = first; k < n; k++)
    if (es[k].id[0] != '\0' && strcmp(es[k].receiver, es[first].receiver) == 0)
      mine[count++] = es[k]; /* shallow copies: the payloads stay owned by ES */
  if (count >= 2 && pw_spool_merge(a->spool, mine, count, &digest, err, sizeof(err)) == 0) {
    pw_spool_audit(a->spool, "spooled", &digest, now, NULL);
    for (k = 0; k < count; k++)
      pw_spool_audit(a->spool, "merged", &mine[k], now, digest.id);
    for (k = first; k < n; k++)
      if (strcmp(es[k].receiver, digest.receiver) == 0)
        es[k].id[0] = '\0';
    pw_log_info("receiver '%s': over its rate budget; %zu notifications merged into %s",
                digest.receiver, count, digest.id);
    json_decref(digest.payload);
  } else if (count >= 2) {
    pw_log_error("receiver '%s': cannot merge into a digest: %s", es[first].receiver, err);
  }
  free(mine);
}

/* Sends what is due from the spool: one message per receiver at a time. */
static void deliver_due(struct pw_daemon *d, int ignore_backoff) {
  struct pw_alert_engine *a = d->alerting;
  struct pw_spool_entry *es = NULL;
  size_t n = 0, i;
  char err[512];
  int64_t now = pw_clock_now();

  if (!ignore_backoff && !a->spool_changed && now < a->spool_next)
    return;
  if (pw_spool_load(a->spool, &es, &n, err, sizeof(err)) < 0) {
    pw_log_error("%s", err);
    return;
  }
  a->spool_changed = 0;
  a->spool_next = INT64_MAX;
  for (i = 0; i < n; i++) {
    int r;
    if (es[i].id[0] == '\0')
      continue; /* merged into a digest below */
    /* Whatever is not attempted now is looked at again when due (or at the next tick, for a
     * receiver that is busy or over its budget). */
    if (es[i].next_attempt > now && es[i].next_attempt < a->spool_next)
      a->spool_next = es[i].next_attempt;
    for (r = 0; r < d->conf->n_receivers; r++)
      if (strcmp(d->conf->receivers[r].id, es[i].receiver) == 0)
        break;
    if (r == d->conf->n_receivers) {
      pw_spool_failed(a->spool, &es[i], now, 0, 1, "receiver no longer configured", err,
                      sizeof(err));
      continue;
    }
    if (a->busy[r] || (!ignore_backoff && es[i].next_attempt > now))
      continue;
    if (!ignore_backoff && !within_budget(d, r, &es[i], now)) {
      merge_waiting(d, es, n, i, now);
      a->spool_changed = 1;
      continue;
    }
    attempt(d, &es[i], r);
  }
  pw_spool_entries_free(es, n);
}

/* Splits a batch in quiet hours: SEND gets the severe notifications, which go out at once,
 * KEEP the others (NULL if none), which wait for quiet hours to end. Returns 0, or a negative
 * errno (nothing is sent then). */
static int split_severe(json_t *alerts, json_t **send, json_t **keep) {
  json_t *s = json_array(), *k = json_array(), *al;
  size_t i;

  if (s == NULL || k == NULL)
    goto nomem;
  json_array_foreach(alerts, i, al) {
    const char *sev = json_string_value(json_object_get(al, "severity"));
    if (json_array_append(sev != NULL && strcmp(sev, "severe") == 0 ? s : k, al) != 0)
      goto nomem;
  }
  if (json_array_size(s) == 0) {
    /* (Not expected: the batch is marked severe.) Everything waits. */
    json_decref(s);
    json_decref(k);
    return -ENOENT;
  }
  if (json_array_size(k) == 0) {
    json_decref(k);
    k = NULL;
  }
  *send = s;
  *keep = k;
  return 0;

nomem:
  json_decref(s);
  json_decref(k);
  return -ENOMEM;
}

/* Moves each receiver's batch to the spool once group_wait (and quiet hours) allow. Outside
 * `now_all`, only a batch's severe notifications leave during quiet hours. */
static void flush_batches(struct pw_daemon *d, int now_all) {
  struct pw_alert_engine *a = d->alerting;
  int64_t now = pw_clock_now();
  int r;

  /* States and pending batches (with their delivery ids) reach alerts.json before any batch
   * reaches the spool. */
  if (a->dirty)
    save_states(d);

  for (r = 0; r < d->conf->n_receivers; r++) {
    struct batch *b = &a->batches[r];
    struct pw_spool_entry e;
    json_t *send, *keep = NULL;
    char err[512];
    if (b->alerts == NULL)
      continue;
    send = json_incref(b->alerts);
    if (!now_all) {
      time_t t = (time_t)now;
      struct tm tm;
      if (now - b->first < d->conf->alerting.group_wait) {
        json_decref(send);
        continue;
      }
      localtime_r(&t, &tm);
      if (d->conf->alerting.has_quiet_hours &&
          pw_alert_in_quiet_hours(d->conf->alerting.quiet_start, d->conf->alerting.quiet_end,
                                  tm.tm_hour * 60 + tm.tm_min)) {
        json_decref(send);
        if (!b->severe || split_severe(b->alerts, &send, &keep) < 0)
          continue;
      }
    }
    memset(&e, 0, sizeof(e));
    /* The delivery id was chosen with the batch, before the entry is spooled, so the spooled
     * payload carries it and every retry sends the same one. */
    if (b->id[0] == '\0')
      delivery_id(d, b->id, sizeof(b->id));
    snprintf(e.id, sizeof(e.id), "%s", b->id);
    snprintf(e.receiver, sizeof(e.receiver), "%s", d->conf->receivers[r].id);
    e.created = now;
    e.next_attempt = now;
    e.payload = json_pack("{s:i,s:s,s:s,s:n,s:O}", "version", 1, "receiver",
                          d->conf->receivers[r].id, "delivery", e.id, "sent_at", "alerts", send);
    json_decref(send);
    a->spool_changed = 1;
    if (e.payload == NULL || pw_spool_put(a->spool, &e, err, sizeof(err)) < 0) {
      /* The batch stays (in memory and in alerts.json) and is tried again next tick. */
      pw_log_error("receiver '%s': cannot spool a notification: %s", e.receiver,
                   e.payload == NULL ? "out of memory" : err);
      json_decref(e.payload);
      json_decref(keep);
      continue;
    }
    pw_spool_audit(a->spool, "spooled", &e, now, NULL);
    json_decref(e.payload);
    json_decref(b->alerts);
    /* What quiet hours hold back stays, as a batch of its own with an id of its own. */
    b->alerts = keep;
    b->severe = 0;
    if (keep != NULL)
      delivery_id(d, b->id, sizeof(b->id));
    a->dirty = 1; /* the batch left alerts.json's pending part: it is in the spool now */
  }
  if (a->dirty)
    save_states(d);
}

void pw_alerting_tick(struct pw_daemon *d) {
  int64_t now = pw_clock_now();

  if (d->alerting == NULL)
    return;
  if (now - d->alerting->silences_read >= 60) {
    json_decref(d->alerting->silences);
    d->alerting->silences = pw_silence_load(d->conf->daemon.state_dir);
    d->alerting->silences_read = now;
  }
  flush_batches(d, 0);
  deliver_due(d, 0);
}

void pw_alerting_flush_now(struct pw_daemon *d) {
  if (d->alerting == NULL)
    return;
  flush_batches(d, 1);
  deliver_due(d, 1);
}

int pw_alerting_in_flight(const struct pw_daemon *d) {
  return d->alerting ? d->alerting->in_flight : 0;
}

int pw_alerting_undelivered(struct pw_daemon *d) {
  size_t q = 0, dead = 0;

  if (d->alerting == NULL)
    return 0;
  pw_spool_counts(d->alerting->spool, &q, &dead);
  return (int)q + d->alerting->dead_now;
}

int pw_alerting_init(struct pw_daemon *d) {
  struct pw_alert_engine *a = calloc(1, sizeof(*a));
  char err[512];
  int i;

  if (a == NULL)
    return -ENOMEM;
  a->n_slots = slot_count(d->conf);
  a->slots = calloc((size_t)a->n_slots + 1, sizeof(*a->slots));
  a->batches = calloc((size_t)d->conf->n_receivers + 1, sizeof(*a->batches));
  a->busy = calloc((size_t)d->conf->n_receivers + 1, 1);
  a->sent_times = calloc(((size_t)d->conf->n_receivers + 1) * 128, sizeof(int64_t));
  if (a->slots == NULL || a->batches == NULL || a->busy == NULL || a->sent_times == NULL ||
      pw_spool_init(d->conf->daemon.state_dir, &a->spool, err, sizeof(err)) < 0) {
    free(a->slots);
    free(a->batches);
    free(a->busy);
    free(a->sent_times);
    free(a);
    return -ENOMEM;
  }
  for (i = 0; i < d->conf->n_indicators; i++) {
    struct slot *s = &a->slots[2 * i];
    snprintf(s->id, sizeof(s->id), "%s/lag", d->conf->indicators[i].id);
    s->cond = PW_COND_LAG;
    s->ind = i;
    s->src = -1;
    s++;
    snprintf(s->id, sizeof(s->id), "%s/stale", d->conf->indicators[i].id);
    s->cond = PW_COND_STALE;
    s->ind = i;
    s->src = -1;
  }
  for (i = 0; i < d->conf->n_sources; i++) {
    struct slot *s = &a->slots[2 * d->conf->n_indicators + i];
    snprintf(s->id, sizeof(s->id), "%s/source_down", d->conf->sources[i].id);
    s->cond = PW_COND_SOURCE_DOWN;
    s->ind = -1;
    s->src = i;
  }
  d->alerting = a;
  a->spool_changed = 1; /* entries left by an earlier run */
  a->silences = pw_silence_load(d->conf->daemon.state_dir);
  a->silences_read = pw_clock_now();
  load_states(d);
  return 0;
}

void pw_alerting_free(struct pw_daemon *d) {
  struct pw_alert_engine *a = d->alerting;
  int r;

  if (a == NULL)
    return;
  if (a->dirty)
    save_states(d);
  for (r = 0; r < d->conf->n_receivers; r++)
    json_decref(a->batches[r].alerts);
  pw_spool_free(a->spool);
  json_decref(a->silences);
  free(a->slots);
  free(a->batches);
  free(a->busy);
  free(a->sent_times);
  free(a);
  d->alerting = NULL;
}

void pw_alerting_queue_sizes(struct pw_daemon *d, long *queued, long *dead, long *batched) {
  struct pw_alert_engine *a = d->alerting;
  size_t q = 0, dd = 0;
  int r;

  *queued = *dead = *batched = -1;
  if (a == NULL)
    return;
  /* Two small directory listings: the spool holds what waits for delivery, rarely more than a
   * few dozen files. */
  if (pw_spool_counts(a->spool, &q, &dd) == 0) {
    *queued = (long)q;
    *dead = (long)dd;
  }
  *batched = 0;
  for (r = 0; r < d->conf->n_receivers; r++)
    if (a->batches[r].alerts != NULL)
      *batched += (long)json_array_size(a->batches[r].alerts);
}
