/*
 * engine: the alert conditions of one configuration generation (a slot per condition), the
 * batches waiting for their receivers, and alerts.json. Slots are indexed like the
 * configuration (indicator i: lag, stale, overdue and remind at PER_IND * i + 0..3; source j
 * after the indicators); batches name
 * their receiver by id and keep its index in the current generation, remapped at a reload.
 */
#define PW_LOG_MODULE "alert"
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "calendar.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "report.h"
#include "silence.h"
#include "status.h"
#include "util.h"

#define MAX_TOLD 16
#define PER_IND 4         /* slots per indicator: lag, stale, overdue, remind */
#define SILENCES_EVERY 60 /* seconds between readings of silences.json */

struct slot {
  const char *id; /* "<indicator>/<condition>": in its slots' own block (slots_build) */
  enum pw_alert_cond cond;
  int ind, src;
  struct pw_alert_state st;
  int told[MAX_TOLD]; /* receivers (indices) told it fired */
  int n_told;
  /* The gap (the verdict's lag) the last firing message of a lag alert told, so the next one
   * says how it moved (docs/alerts.md). */
  int has_last_gap;
  double last_gap;
};

/* Alerts of one receiver on their way to the spool. OPEN: gathering (at most one per receiver),
 * waiting for group_wait and quiet hours. SEALED: to be spooled at the next flush (its spooling
 * failed, or it was being spooled when the daemon stopped). SPOOLING: handed to the spool, not
 * yet durable there. Until it is durable a batch stays in alerts.json's pending part. */
enum batch_state { B_OPEN = 0, B_SEALED, B_SPOOLING };

struct batch {
  struct pw_alert_engine *e;
  char receiver[65];
  int r; /* index in the current configuration; -1 once a reload removed the receiver */
  enum batch_state state;
  json_t *alerts; /* array of alert objects, at most one per alert id */
  /* An OPEN batch's alert id -> its position in ALERTS, built at the first alert queued after
   * ALERTS was set (NULL until then, and once the batch is sealed). */
  json_t *index;
  int64_t first; /* when the first one was added */
  int severe;    /* holds a severe alert (not held back by quiet hours) */
  /* The delivery id its spool entry will have, chosen with the batch and saved with it: a batch
   * spooled just before a kill -9 (alerts.json not yet rewritten) is spooled again after the
   * restart under the same id, replacing the same file instead of adding a second copy. */
  char id[64];
  /* Its alerts as compact JSON, comma-separated, for alerts.json: each alert is written out once,
   * when the first save after its arrival takes its snapshot, so a save costs the loop a copy of
   * text rather than the whole document (docs/alerts.md, batching). Covers the first N_TEXT
   * alerts; reset whenever ALERTS is replaced. */
  struct pw_buf text;
  size_t n_text;
  struct batch *prev, *next;
};

struct pw_alert_engine {
  struct pw_alert_engine_ctx ctx;
  struct pw_config *conf; /* held */
  struct slot *slots;
  int n_slots;
  struct batch *head, *tail; /* in order of creation */
  struct batch **open;       /* per receiver index: its OPEN batch or NULL */
  int n_spooling;
  int dirty;        /* states or batches changed since the last save was taken */
  int save_queued;  /* a save is queued and has not taken its snapshot yet */
  int save_failing; /* the last save's negative errno, 0 when it succeeded */
  char path[4200];  /* state_dir/alerts.json */
  uint64_t counter;
  json_t *silences; /* state_dir/silences.json */
  /* A damaged alerts.json / silences.json was set aside by this process. */
  int corrupt_alerts, corrupt_silences;
  int64_t silences_read;
  int silences_loading;
};

/* ---- slots ---- */

static int slot_count(const struct pw_config *c) {
  return c->n_indicators * PER_IND + c->n_sources;
}

/* Names slot S "PREFIX/SUFFIX", the text written at *AT (advanced past it). */
static void slot_name(struct slot *s, char **at, const char *prefix, const char *suffix) {
  size_t a = strlen(prefix), b = strlen(suffix);

  memcpy(*at, prefix, a);
  (*at)[a] = '/';
  memcpy(*at + a + 1, suffix, b + 1);
  s->id = *at;
  *at += a + b + 2;
}

static const enum pw_alert_cond slot_conds[PER_IND] = {PW_COND_LAG, PW_COND_STALE, PW_COND_OVERDUE,
                                                       PW_COND_REMIND};

/* The slots of configuration C, every state zero, their ids in the same allocation (one free).
 * Returns NULL when out of memory. */
static struct slot *slots_build(const struct pw_config *c) {
  size_t n = (size_t)slot_count(c) + 1, text = 0;
  struct slot *slots;
  char *at;
  int i, k;

  for (i = 0; i < c->n_indicators; i++)
    for (k = 0; k < PER_IND; k++)
      text += strlen(c->indicators[i].id) + strlen(pw_alert_cond_name(slot_conds[k])) + 2;
  for (i = 0; i < c->n_sources; i++)
    text += strlen(c->sources[i].id) + sizeof("/source_down");
  slots = calloc(1, n * sizeof(*slots) + text);
  if (slots == NULL)
    return NULL;
  at = (char *)(slots + n);
  for (i = 0; i < c->n_indicators; i++) {
    for (k = 0; k < PER_IND; k++) {
      struct slot *s = &slots[PER_IND * i + k];
      slot_name(s, &at, c->indicators[i].id, pw_alert_cond_name(slot_conds[k]));
      s->cond = slot_conds[k];
      s->ind = i;
      s->src = -1;
    }
  }
  for (i = 0; i < c->n_sources; i++) {
    struct slot *s = &slots[PER_IND * c->n_indicators + i];
    slot_name(s, &at, c->sources[i].id, "source_down");
    s->cond = PW_COND_SOURCE_DOWN;
    s->ind = -1;
    s->src = i;
  }
  return slots;
}

static int receiver_index(const struct pw_config *c, const char *id) {
  int i;

  for (i = 0; i < c->n_receivers; i++)
    if (strcmp(c->receivers[i].id, id) == 0)
      return i;
  return -1;
}

/* ---- batches ---- */

static void batch_unlink(struct pw_alert_engine *e, struct batch *b) {
  if (b->prev != NULL)
    b->prev->next = b->next;
  else
    e->head = b->next;
  if (b->next != NULL)
    b->next->prev = b->prev;
  else
    e->tail = b->prev;
  if (b->state == B_OPEN && b->r >= 0 && e->open[b->r] == b)
    e->open[b->r] = NULL;
}

static void batch_free(struct batch *b) {
  if (b != NULL) {
    json_decref(b->index);
    json_decref(b->alerts);
    pw_buf_free(&b->text);
  }
  free(b);
}

/* B's alerts were replaced: its text is written again at the next save. */
static void batch_text_reset(struct batch *b) {
  pw_buf_free(&b->text);
  b->n_text = 0;
}

/* Brings B's text up to date with its alerts (the ones added since the last save). Returns 0 or
 * -ENOMEM (the text then covers what it covered before). */
static int batch_text_update(struct batch *b) {
  size_t n = json_array_size(b->alerts);

  while (b->n_text < n) {
    char *one = pw_json_dumps(json_array_get(b->alerts, b->n_text), JSON_COMPACT);
    int rc = one == NULL ? -ENOMEM : 0;
    size_t len = b->text.len;
    if (rc == 0 && b->n_text > 0)
      rc = pw_buf_append(&b->text, ",", 1);
    if (rc == 0)
      rc = pw_buf_append(&b->text, one, strlen(one));
    free(one);
    if (rc < 0) {
      b->text.len = len;
      if (b->text.data != NULL)
        b->text.data[len] = '\0';
      return -ENOMEM;
    }
    b->n_text++;
  }
  return 0;
}

/* A new batch of receiver R (an index), linked at the end. NULL when out of memory. */
static struct batch *batch_new(struct pw_alert_engine *e, int r, enum batch_state state) {
  struct batch *b = calloc(1, sizeof(*b));

  if (b == NULL)
    return NULL;
  b->e = e;
  b->r = r;
  b->state = state;
  snprintf(b->receiver, sizeof(b->receiver), "%s", e->conf->receivers[r].id);
  b->prev = e->tail;
  if (e->tail != NULL)
    e->tail->next = b;
  else
    e->head = b;
  e->tail = b;
  if (state == B_OPEN)
    e->open[r] = b;
  return b;
}

/* A new delivery id: unique within the process (counter), across restarts (time, pid). */
static void delivery_id(struct pw_alert_engine *e, int64_t now, char *id, size_t size) {
  snprintf(id, size, "%lld-%d-%llu-%04x", (long long)now, (int)getpid(),
           (unsigned long long)++e->counter, (unsigned)(pw_clock_real_ms() & 0xffff));
}

static int is_severe(const json_t *alert) {
  const char *sev = json_string_value(json_object_get(alert, "severity"));

  return sev != NULL && strcmp(sev, "severe") == 0;
}

/* B's alert ids and positions, built from its alerts if not yet (NULL when out of memory). */
static json_t *batch_index(struct batch *b) {
  size_t i;
  json_t *a;

  if (b->index != NULL)
    return b->index;
  b->index = json_object();
  json_array_foreach(b->alerts, i, a) {
    const char *id = json_string_value(json_object_get(a, "alert"));
    if (b->index != NULL && id != NULL &&
        json_object_set_new(b->index, id, json_integer((json_int_t)i)) < 0) {
      json_decref(b->index);
      b->index = NULL;
    }
  }
  return b->index;
}

/* Queues ALERT for receiver R in its open batch (a new one if none). A batch carries each alert
 * once, in its latest state: a notification of an alert the batch already holds (a change of
 * severity, a resolution, a reminder) takes the place of the one waiting, so one message never
 * tells two states of an indicator and what quiet hours hold back is never a state already
 * superseded (docs/alerts.md, "Batching"). */
static void queue_for(struct pw_alert_engine *e, int r, json_t *alert, int severe, int64_t now) {
  struct batch *b = e->open[r];
  const char *id = json_string_value(json_object_get(alert, "alert"));
  json_t *index, *pos;

  if (b == NULL) {
    b = batch_new(e, r, B_OPEN);
    if (b == NULL || (b->alerts = json_array()) == NULL) {
      if (b != NULL) {
        batch_unlink(e, b);
        batch_free(b);
      }
      pw_log_error("receiver '%s': out of memory queueing an alert", e->conf->receivers[r].id);
      return;
    }
    b->first = now;
    delivery_id(e, now, b->id, sizeof(b->id));
  }
  index = id != NULL ? batch_index(b) : NULL;
  pos = index != NULL ? json_object_get(index, id) : NULL;
  if (pos != NULL) {
    size_t i = (size_t)json_integer_value(pos);
    int was_severe = is_severe(json_array_get(b->alerts, i));

    json_array_set(b->alerts, i, alert);
    if (i < b->n_text)
      batch_text_reset(b); /* (written out again at the next save) */
    if (was_severe && !severe) {
      json_t *a;
      b->severe = 0;
      json_array_foreach(b->alerts, i, a) b->severe |= is_severe(a);
    }
  } else {
    json_array_append(b->alerts, alert);
    if (index != NULL)
      json_object_set_new(index, id, json_integer((json_int_t)json_array_size(b->alerts) - 1));
  }
  /* Written out now, a little at each verdict, rather than thousands at the next save (on
   * failure the snapshot tries again). Only the alert just queued: a text reset by a replacement
   * is written again once, by the next save, not at every alert queued until then. */
  if (b->n_text + 1 >= json_array_size(b->alerts))
    (void)batch_text_update(b);
  b->severe |= severe;
  e->dirty = 1;
}

/* ---- alerts.json ---- */

/* What alerts.json holds, copied on the loop so that the document is built and written on the
 * thread pool (docs/architecture.md: nothing long on the loop thread): the slots that hold or
 * fire, the receivers' ids their `told` indices name, and each pending batch with its alerts as
 * text. */
struct snap_batch {
  char receiver[65];
  char id[64];
  int64_t first;
  int severe, sealed;
  char *alerts; /* "[...]" */
};

struct snapshot {
  struct slot *slots; /* their ids in IDS: the engine's may go with a reload meanwhile */
  int n_slots;
  char *ids;
  char (*receivers)[65];
  int n_receivers;
  struct snap_batch *batches;
  size_t n_batches;
};

static void snapshot_free(struct snapshot *sn) {
  size_t i;

  if (sn == NULL)
    return;
  for (i = 0; i < sn->n_batches; i++)
    free(sn->batches[i].alerts);
  free(sn->batches);
  free(sn->receivers);
  free(sn->slots);
  free(sn->ids);
  free(sn);
}

/* The snapshot of E's states and pending batches, or NULL when out of memory. */
static struct snapshot *snapshot_take(struct pw_alert_engine *e) {
  struct snapshot *sn = calloc(1, sizeof(*sn));
  const struct batch *b;
  struct batch *w;
  size_t n = 0, text = 0;
  char *at;
  int i;

  if (sn == NULL)
    return NULL;
  for (i = 0; i < e->n_slots; i++) {
    if (e->slots[i].st.holding || e->slots[i].st.firing) {
      n++;
      text += strlen(e->slots[i].id) + 1;
    }
  }
  for (b = e->head; b != NULL; b = b->next)
    sn->n_batches++;
  sn->slots = calloc(n > 0 ? n : 1, sizeof(*sn->slots));
  sn->ids = malloc(text > 0 ? text : 1);
  sn->receivers =
      calloc(e->conf->n_receivers > 0 ? (size_t)e->conf->n_receivers : 1, sizeof(*sn->receivers));
  sn->batches = calloc(sn->n_batches > 0 ? sn->n_batches : 1, sizeof(*sn->batches));
  if (sn->slots == NULL || sn->ids == NULL || sn->receivers == NULL || sn->batches == NULL)
    goto oom;
  at = sn->ids;
  for (i = 0; i < e->n_slots; i++) {
    if (e->slots[i].st.holding || e->slots[i].st.firing) {
      struct slot *s = &sn->slots[sn->n_slots++];
      size_t len = strlen(e->slots[i].id) + 1;
      *s = e->slots[i];
      memcpy(at, s->id, len);
      s->id = at;
      at += len;
    }
  }
  for (i = 0; i < e->conf->n_receivers; i++)
    snprintf(sn->receivers[i], sizeof(sn->receivers[i]), "%s", e->conf->receivers[i].id);
  sn->n_receivers = e->conf->n_receivers;
  n = 0;
  for (w = e->head; w != NULL; w = w->next, n++) {
    struct snap_batch *o = &sn->batches[n];
    size_t len;
    if (batch_text_update(w) < 0)
      goto oom;
    len = w->text.len;
    if ((o->alerts = malloc(len + 3)) == NULL)
      goto oom;
    o->alerts[0] = '[';
    if (len > 0)
      memcpy(o->alerts + 1, w->text.data, len);
    memcpy(o->alerts + 1 + len, "]", 2);
    memcpy(o->receiver, w->receiver, sizeof(o->receiver));
    memcpy(o->id, w->id, sizeof(o->id));
    o->first = w->first;
    o->severe = w->severe;
    o->sealed = w->state != B_OPEN;
  }
  return sn;
oom:
  snapshot_free(sn);
  return NULL;
}

static json_t *batch_json(const struct snap_batch *b) {
  json_t *alerts = json_loads(b->alerts, 0, NULL);

  if (alerts == NULL)
    return NULL;
  return json_pack("{s:I,s:b,s:s,s:o,s:b}", "first", (json_int_t)b->first, "severe", b->severe,
                   "delivery", b->id, "alerts", alerts, "sealed", b->sealed);
}

static int snap_slot_cmp(const void *a, const void *b) {
  return strcmp(((const struct slot *)a)->id, ((const struct slot *)b)->id);
}

/* Slot S as alerts.json holds it. */
static json_t *slot_json(const struct snapshot *sn, const struct slot *s) {
  json_t *told = json_array(), *o;
  int k;

  for (k = 0; told != NULL && k < s->n_told; k++)
    if (s->told[k] >= 0 && s->told[k] < sn->n_receivers)
      json_array_append_new(told, json_string(sn->receivers[s->told[k]]));
  o = json_pack("{s:b,s:b,s:I,s:I,s:i,s:b,s:o}", "holding", s->st.holding, "firing", s->st.firing,
                "since", (json_int_t)s->st.since, "last_notified", (json_int_t)s->st.last_notified,
                "severity", (int)s->st.severity, "muted", s->st.muted, "told", told);
  if (o != NULL && s->has_last_gap)
    json_object_set_new(o, "last_gap", pw_status_number(s->last_gap));
  return o;
}

/* The pending batches: a receiver's first batch is the member of its id, later ones (rare: one
 * was being spooled while the next gathered) its "more" array. */
static json_t *pending_json(const struct snapshot *sn) {
  json_t *pending = json_object();
  size_t j;

  for (j = 0; pending != NULL && j < sn->n_batches; j++) {
    const struct snap_batch *b = &sn->batches[j];
    json_t *first = json_object_get(pending, b->receiver), *more;
    if (first == NULL) {
      json_object_set_new(pending, b->receiver, batch_json(b));
      continue;
    }
    more = json_object_get(first, "more");
    if (more == NULL) {
      more = json_array();
      json_object_set_new(first, "more", more);
    }
    json_array_append_new(more, batch_json(b));
  }
  return pending;
}

/* The states and pending batches as alerts.json holds them: one member per slot that holds or
 * fires, and "pending" (a slot id always holds a '/', so it cannot clash with one). Notifications
 * decided but not yet in the spool are saved with the states that decided them, in one atomic
 * write: after a kill -9 either both are on disk or neither is, and then the restart decides
 * them again. Written slot by slot, keys sorted: a province's thousands of states never stand
 * as one document in memory. Touches only SN (and sorts its slots): runs on the thread pool. */
static char *states_text(struct snapshot *sn) {
  const size_t flags = JSON_INDENT(1) | JSON_SORT_KEYS;
  struct pw_buf out = {0};
  struct pw_json_writer w;
  json_t *pending = pending_json(sn);
  int i, rc = pending != NULL ? 0 : -ENOMEM, pending_done = 0;

  qsort(sn->slots, (size_t)sn->n_slots, sizeof(*sn->slots), snap_slot_cmp);
  pw_json_object_begin(&w, &out, flags);
  for (i = 0; rc == 0 && i <= sn->n_slots; i++) {
    json_t *o;
    if (!pending_done && (i == sn->n_slots || strcmp(sn->slots[i].id, "pending") > 0)) {
      rc = pw_json_object_add(&w, "pending", pending);
      pending_done = 1;
    }
    if (rc < 0 || i == sn->n_slots)
      break;
    o = slot_json(sn, &sn->slots[i]);
    rc = o != NULL ? pw_json_object_add(&w, sn->slots[i].id, o) : -ENOMEM;
    json_decref(o);
  }
  rc = rc < 0 ? rc : pw_json_object_end(&w);
  json_decref(pending);
  if (rc < 0) {
    pw_buf_free(&out);
    return NULL;
  }
  return out.data;
}

struct save_op {
  struct pw_alert_engine *e;
  char path[4200];
  struct snapshot *snap;
  int rc;
};

/* The snapshot is taken when the save reaches the front of the writer's queue: everything
 * queued before it (spool writes) is then on disk, and what it saves is the latest. The
 * document is built from it on the thread pool. */
static int save_prepare(void *arg) {
  struct save_op *op = arg;

  op->e->save_queued = 0;
  op->snap = snapshot_take(op->e);
  if (op->snap == NULL)
    return -ENOMEM;
  op->e->dirty = 0;
  return 0;
}

static void save_work(void *arg) {
  struct save_op *op = arg;
  char *text = states_text(op->snap);

  op->rc = text == NULL ? -ENOMEM : pw_write_file_atomic(op->path, text, strlen(text));
  free(text);
}

static void save_done(void *arg, int status) {
  struct save_op *op = arg;
  int rc = status < 0 ? status : op->rc;

  /* A failing save (a read-only or full disk) is retried at every change: logged when it
   * starts failing or its reason changes, and once when it succeeds again (docs/storage.md). */
  if (rc < 0) {
    if (rc != op->e->save_failing)
      pw_log_error("cannot save alert states to %s: %s; they are kept in memory and saved "
                   "again every second until it succeeds (logged again if the reason changes)",
                   op->path, strerror(-rc));
    op->e->save_failing = rc;
    op->e->dirty = 1; /* saved again at the next flush */
  } else if (op->e->save_failing < 0) {
    pw_log_info("alert states are saved to %s again", op->path);
    op->e->save_failing = 0;
  }
  snapshot_free(op->snap);
  free(op);
}

/* Queues a save of alerts.json behind the file operations queued so far (one waiting save is
 * enough: it takes its snapshot when it starts). */
static void request_save(struct pw_alert_engine *e) {
  struct save_op *op;

  if (e->save_queued)
    return;
  op = calloc(1, sizeof(*op));
  if (op == NULL)
    return; /* still dirty: tried again at the next flush */
  op->e = e;
  snprintf(op->path, sizeof(op->path), "%s", e->path);
  e->save_queued = 1;
  if (pw_writer_push(e->ctx.writer, save_prepare, save_work, save_done, op) < 0) {
    e->save_queued = 0;
    free(op);
  }
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

static void load_slot(struct pw_alert_engine *e, struct slot *s, const json_t *o) {
  json_int_t since = 0, last = 0;
  json_t *r;
  int sev = 0;
  size_t k;

  json_unpack((json_t *)o, "{s:b,s:b,s:I,s:I,s:i,s:b}", "holding", &s->st.holding, "firing",
              &s->st.firing, "since", &since, "last_notified", &last, "severity", &sev, "muted",
              &s->st.muted);
  s->st.since = since;
  s->st.last_notified = last;
  s->st.severity = (enum pw_alert_severity)sev;
  if (json_is_number(json_object_get(o, "last_gap"))) {
    s->has_last_gap = 1;
    s->last_gap = json_number_value(json_object_get(o, "last_gap"));
  }
  json_array_foreach(json_object_get(o, "told"), k, r) {
    int idx = json_is_string(r) ? receiver_index(e->conf, json_string_value(r)) : -1;
    if (idx >= 0 && s->n_told < MAX_TOLD)
      s->told[s->n_told++] = idx;
  }
}

/* One saved batch of receiver R. The last unsealed one gathers on; the others are spooled at
 * the first flush under their saved ids. */
static void load_batch(struct pw_alert_engine *e, int r, const json_t *p) {
  json_t *alerts = json_object_get(p, "alerts");
  const char *id = json_string_value(json_object_get(p, "delivery"));
  json_int_t first = 0;
  int severe = 0, sealed = 0;
  struct batch *b;

  if (!json_is_array(alerts) || json_array_size(alerts) == 0)
    return;
  json_unpack((json_t *)p, "{s:I,s:b}", "first", &first, "severe", &severe);
  json_unpack((json_t *)p, "{s:b}", "sealed", &sealed);
  b = batch_new(e, r, sealed || e->open[r] != NULL ? B_SEALED : B_OPEN);
  if (b == NULL)
    return;
  b->alerts = json_incref(alerts);
  b->first = first;
  b->severe = severe;
  /* Without a usable id, the batch gets a new one. */
  if (id != NULL && plain_id(id))
    snprintf(b->id, sizeof(b->id), "%s", id);
  else
    delivery_id(e, pw_clock_now(), b->id, sizeof(b->id));
}

static void load_states(struct pw_alert_engine *e) {
  char why[256];
  int i, rc;
  json_t *doc = pw_state_json_load(e->path, &rc, why, sizeof(why)), *more, *p;
  size_t k;

  if (doc == NULL && rc == -ENOENT)
    return;
  if (doc == NULL && rc != -EBADMSG && rc != -ELOOP && rc != -EISDIR && rc != -EINVAL) {
    pw_log_error("%s: cannot read it: %s", e->path, why);
    return;
  }
  if (doc == NULL || !json_is_object(doc)) {
    /* Kept for whoever investigates, and so is a stranger at its name (a FIFO, a link); the
     * alerts still firing are notified again (docs/storage.md). */
    if (doc != NULL)
      snprintf(why, sizeof(why), "not a JSON object");
    json_decref(doc);
    pw_state_set_aside(e->path, why);
    e->corrupt_alerts = 1;
    return;
  }
  for (i = 0; i < e->n_slots; i++) {
    json_t *o = json_object_get(doc, e->slots[i].id);
    if (o != NULL)
      load_slot(e, &e->slots[i], o);
  }
  for (i = 0; i < e->conf->n_receivers; i++) {
    p = json_object_get(json_object_get(doc, "pending"), e->conf->receivers[i].id);
    if (p == NULL)
      continue;
    load_batch(e, i, p);
    more = json_object_get(p, "more");
    json_array_foreach(more, k, p) load_batch(e, i, p);
  }
  json_decref(doc);
}

/* ---- silences ---- */

struct silence_op {
  struct pw_alert_engine *e;
  char state_dir[4200];
  json_t *list;
  int corrupt;
};

static void silence_work(void *arg) {
  struct silence_op *op = arg;

  op->list = pw_silence_read(op->state_dir, &op->corrupt);
}

static void silence_done(void *arg, int status) {
  struct silence_op *op = arg;

  (void)status;
  op->e->silences_loading = 0;
  op->e->corrupt_silences |= op->corrupt;
  if (op->list != NULL) {
    json_decref(op->e->silences);
    op->e->silences = op->list;
  }
  free(op);
}

/* `pacewatch silence` edits silences.json while the daemon runs: read again once a minute, on
 * the thread pool. */
static void reread_silences(struct pw_alert_engine *e, int64_t now) {
  struct silence_op *op;

  if (e->silences_loading || now - e->silences_read < SILENCES_EVERY)
    return;
  op = calloc(1, sizeof(*op));
  if (op == NULL)
    return;
  op->e = e;
  snprintf(op->state_dir, sizeof(op->state_dir), "%s", e->conf->daemon.state_dir);
  if (pw_writer_push(e->ctx.writer, NULL, silence_work, silence_done, op) < 0) {
    free(op);
    return;
  }
  e->silences_loading = 1;
  e->silences_read = now;
}

/* Silences from the configuration and from `pacewatch silence` (state_dir/silences.json): an
 * indicator's alerts are silenced by a silence of the indicator or of its source, a source's
 * source_down by a silence of the source (docs/alerts.md "Silences"). */
static int silenced(const struct pw_alert_engine *e, const struct slot *s, int64_t now) {
  const struct pw_config *c = e->conf;
  int src = s->ind >= 0 ? c->indicators[s->ind].source : s->src;
  char target[200];
  int i;

  for (i = 0; i < c->n_silences; i++) {
    const struct pw_silence *sl = &c->silences[i];
    if (now < sl->until &&
        ((s->ind >= 0 && sl->indicator_idx == s->ind) || (src >= 0 && sl->source_idx == src)))
      return 1;
  }
  if (s->ind >= 0 && pw_silence_active(e->silences, c->indicators[s->ind].id, now))
    return 1;
  if (src < 0)
    return 0;
  snprintf(target, sizeof(target), "source:%s", c->sources[src].id);
  return pw_silence_active(e->silences, target, now);
}

/* ---- conditions and routing ---- */

static json_t *num_or_null(int has, double v) {
  return has ? pw_status_number(v) : json_null();
}

static json_t *time_or_null(int has, int64_t t) {
  char buf[40];

  return has ? json_string(pw_calendar_format(t, buf, sizeof(buf))) : json_null();
}

/* The department of indicator IND: its name and contacts (docs/alerts.md). */
static void department_members(const struct pw_config *c, const struct pw_indicator *ind,
                               json_t *o) {
  const struct pw_department *dep = ind->department >= 0 ? &c->departments[ind->department] : NULL;
  json_t *contacts = json_array();
  int i;

  json_object_set_new(o, "department_name", dep ? json_string(dep->name) : json_null());
  for (i = 0; dep != NULL && contacts != NULL && i < dep->n_contacts; i++)
    json_array_append_new(contacts, json_pack("{s:s,s:s}", "name", dep->contacts[i].name, "mobile",
                                              dep->contacts[i].mobile));
  json_object_set_new(o, "contacts", contacts ? contacts : json_null());
}

/* The words of the alert (message.h): summary, trend and need, null when empty. */
static void word_members(const struct pw_alert_engine *e, const struct slot *s, int firing,
                         int64_t since, int64_t now, json_t *o) {
  struct pw_buf sum = {NULL, 0, 0, 0}, trend = {NULL, 0, 0, 0}, need = {NULL, 0, 0, 0};
  struct pw_alert_facts f;

  memset(&f, 0, sizeof(f));
  f.ind = s->ind;
  f.cond = s->cond;
  f.firing = firing;
  f.v = e->ctx.verdict(e->ctx.data, s->ind);
  f.latest = e->ctx.latest != NULL ? e->ctx.latest(e->ctx.data, s->ind, now) : NULL;
  f.since = since;
  f.has_last_gap = s->has_last_gap;
  f.last_gap = s->last_gap;
  f.now = now;
  if (pw_alert_words(e->conf, &f, &sum, &trend, &need) < 0)
    pw_log_error("alert %s: out of memory wording it", s->id);
  json_object_set_new(o, "summary", sum.len > 0 ? json_string(sum.data) : json_null());
  json_object_set_new(o, "trend", trend.len > 0 ? json_string(trend.data) : json_null());
  json_object_set_new(o, "need", need.len > 0 ? json_string(need.data) : json_null());
  pw_buf_free(&sum);
  pw_buf_free(&trend);
  pw_buf_free(&need);
}

/* The department's reporting page and the indicator's current explanation (docs/alerts.md):
 * `explanation` (the status JSON's object with `text`, its shared wording, or null),
 * `catch_up_passed` and `report_url` (public_url + "/report/<department>", left out without
 * public_url or department). */
static void explanation_members(const struct pw_alert_engine *e, const struct slot *s, int64_t now,
                                json_t *o) {
  const struct pw_config *c = e->conf;
  const struct pw_indicator *ind = &c->indicators[s->ind];
  const struct pw_verdict *v = e->ctx.verdict(e->ctx.data, s->ind);
  const struct pw_explanation *ex =
      e->ctx.explanation != NULL ? e->ctx.explanation(e->ctx.data, s->ind) : NULL;
  int passed = 0;
  json_t *doc = pw_status_explanation_json(ex, v, now);

  if (ex != NULL && doc != NULL) {
    struct pw_buf text = {NULL, 0, 0, 0};
    if (pw_report_explanation_at(c, s->ind, ex, v, now, &passed, &text) < 0)
      pw_log_error("alert %s: out of memory wording its explanation", s->id);
    json_object_set_new(doc, "text", text.len > 0 ? json_string(text.data) : json_null());
    pw_buf_free(&text);
  }
  json_object_set_new(o, "explanation", doc != NULL ? doc : json_null());
  json_object_set_new(o, "catch_up_passed", json_boolean(passed));
  if (c->daemon.public_url[0] != '\0' && ind->department >= 0) {
    char url[4200];
    size_t ul = strlen(c->daemon.public_url);
    while (ul > 0 && c->daemon.public_url[ul - 1] == '/')
      ul--;
    snprintf(url, sizeof(url), "%.*s/report/%s", (int)ul, c->daemon.public_url,
             c->departments[ind->department].id);
    json_object_set_new(o, "report_url", json_string(url));
  }
}

/* The members of an alert that concern its indicator (null for a source's alert). */
static void indicator_members(const struct pw_alert_engine *e, const struct slot *s, json_t *o) {
  const struct pw_indicator *ind = &e->conf->indicators[s->ind];
  const struct pw_verdict *v = e->ctx.verdict(e->ctx.data, s->ind);
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
  json_object_set_new(o, "unit", json_string(ind->unit));
  department_members(e->conf, ind, o);
}

/* One alert as docs/alerts.md lists it. HELD_SINCE: when the condition started to hold (for a
 * resolution, when it had), for its words. */
static json_t *alert_json(const struct pw_alert_engine *e, const struct slot *s, int firing,
                          enum pw_alert_severity sev, int64_t since, int64_t held_since,
                          int64_t now) {
  const struct pw_config *c = e->conf;
  json_t *o = json_object();
  char url[4200];

  json_object_set_new(o, "alert", json_string(s->id));
  json_object_set_new(o, "condition", json_string(pw_alert_cond_name(s->cond)));
  json_object_set_new(o, "state", json_string(firing ? "firing" : "resolved"));
  json_object_set_new(o, "severity",
                      pw_alert_severity_name(sev) ? json_string(pw_alert_severity_name(sev))
                                                  : json_null());
  if (s->ind >= 0) {
    indicator_members(e, s, o);
    word_members(e, s, firing, held_since, now, o);
    explanation_members(e, s, now, o);
  } else {
    static const char *const nulls[] = {"indicator", "name",     "domain",   "department",
                                        "value",     "expected", "target",   "completion_pct",
                                        "pace_pct",  "lag",      "lag_unit", "as_of"};
    size_t k;
    for (k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++)
      json_object_set_new(o, nulls[k], json_null());
    json_object_set_new(o, "source", json_string(c->sources[s->src].id));
    json_object_set_new(o, "explanation", json_null());
    json_object_set_new(o, "catch_up_passed", json_false());
  }
  json_object_set_new(o, "since", time_or_null(since != 0, since));
  /* The link opens the indicator's card on the dashboard, anchor ind-<id> (docs/alerts.md). */
  if (c->daemon.public_url[0] != '\0' && s->ind >= 0) {
    size_t ul = strlen(c->daemon.public_url);
    while (ul > 0 && c->daemon.public_url[ul - 1] == '/')
      ul--;
    snprintf(url, sizeof(url), "%.*s/#ind-%s", (int)ul, c->daemon.public_url,
             c->indicators[s->ind].id);
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

/* The receivers of a notification of slot S: the indicator's department's, alerting.receivers,
 * alerting.escalate while severe, and (unless it is the first firing) whoever was told. */
static int route_list(const struct pw_alert_engine *e, const struct slot *s,
                      enum pw_alert_action act, enum pw_alert_severity sev, int *list) {
  const struct pw_config *c = e->conf;
  int n = 0, i;

  /* A figure someone else publishes (published_by): its data alerts go to alerting.receivers
   * only; the department cannot act on them (docs/alerts.md). */
  int published_elsewhere = s->ind >= 0 && s->cond == PW_COND_STALE &&
                            c->indicators[s->ind].published_by != NULL &&
                            c->indicators[s->ind].published_by[0] != '\0';

  if (s->ind >= 0 && c->indicators[s->ind].department >= 0 && !published_elsewhere) {
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
  return n;
}

/* Routes one notification of slot S to its receivers' batches. */
static void route(struct pw_alert_engine *e, struct slot *s, enum pw_alert_action act,
                  enum pw_alert_severity sev, int64_t held_since, int64_t now) {
  int list[MAX_TOLD * 4], n = route_list(e, s, act, sev, list), i;
  int firing = act != PW_ALERT_RESOLVED;
  json_t *alert;

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
  alert = alert_json(e, s, firing, firing ? sev : PW_SEV_NONE, s->st.since, held_since, now);
  if (!firing)
    json_object_set_new(alert, "severity", json_null());
  if (firing && s->ind >= 0 && s->cond == PW_COND_LAG &&
      e->ctx.verdict(e->ctx.data, s->ind)->has_judgement) {
    s->has_last_gap = 1;
    s->last_gap = e->ctx.verdict(e->ctx.data, s->ind)->lag;
  } else if (!firing) {
    s->has_last_gap = 0;
  }
  for (i = 0; i < n; i++)
    queue_for(e, list[i], alert, sev == PW_SEV_SEVERE, now);
  json_decref(alert);
  pw_log_info("alert %s: %s%s%s to %d receivers", s->id,
              act == PW_ALERT_RESOLVED ? "resolved" : "firing", sev != PW_SEV_NONE ? ", " : "",
              sev != PW_SEV_NONE ? pw_alert_severity_name(sev) : "", n);
}

static void step_slot(struct pw_alert_engine *e, struct slot *s, int holds,
                      enum pw_alert_severity sev, int quiet_close, int64_t now) {
  const struct pw_alerting *al = &e->conf->alerting;
  /* Stale data is reminded of at most every stale_repeat (docs/alerts.md). */
  struct pw_alert_policy pol = {al->for_s, s->cond == PW_COND_STALE ? al->stale_repeat : al->repeat,
                                al->send_resolved};
  /* A deadline's reminder goes once, as its window opens, and never resolves: the figure
   * arriving or the deadline passing (then `overdue` speaks) closes it silently. */
  if (s->cond == PW_COND_REMIND) {
    pol.for_s = 0;
    pol.repeat = 0;
    pol.send_resolved = 0;
  }
  struct pw_alert_state before = s->st;
  enum pw_alert_action act =
      pw_alert_step(&s->st, holds, sev, silenced(e, s, now), quiet_close, now, &pol);

  if (memcmp(&before, &s->st, sizeof(before)) != 0)
    e->dirty = 1;
  switch (act) {
  case PW_ALERT_FIRING:
  case PW_ALERT_CHANGED:
  case PW_ALERT_REMINDER:
    route(e, s, act, sev, s->st.since, now);
    break;
  case PW_ALERT_RESOLVED:
    route(e, s, act, PW_SEV_NONE, before.since, now);
    break;
  case PW_ALERT_CLOSED:
    s->n_told = 0;
    s->has_last_gap = 0;
    break;
  default:
    break;
  }
}

void pw_alert_engine_evaluate_indicator(struct pw_alert_engine *e, int ind, int64_t now) {
  const struct pw_verdict *v;
  enum pw_alert_severity sev;
  int quiet, holds;

  if (e == NULL || ind < 0 || ind >= e->conf->n_indicators)
    return;
  v = e->ctx.verdict(e->ctx.data, ind);
  holds = pw_alert_lag_holds(v, &sev, &quiet);
  step_slot(e, &e->slots[PER_IND * ind], holds, sev, quiet, now);
  step_slot(e, &e->slots[PER_IND * ind + 1], v->stale, PW_SEV_STALE, 0, now);
  step_slot(e, &e->slots[PER_IND * ind + 2], v->overdue, PW_SEV_OVERDUE, 0, now);
  step_slot(e, &e->slots[PER_IND * ind + 3], v->due_soon, PW_SEV_REMIND, 0, now);
}

void pw_alert_engine_evaluate(struct pw_alert_engine *e, int64_t now) {
  int i;

  if (e == NULL)
    return;
  for (i = 0; i < e->conf->n_indicators; i++)
    pw_alert_engine_evaluate_indicator(e, i, now);
  for (i = 0; i < e->conf->n_sources && e->ctx.source_down != NULL; i++) {
    int down = e->ctx.source_down(e->ctx.data, i);
    if (down >= 0) /* (unknown while the sources restart after a reload) */
      step_slot(e, &e->slots[PER_IND * e->conf->n_indicators + i], down, PW_SEV_SOURCE, 0, now);
  }
}

void pw_alert_engine_dead_letter(struct pw_alert_engine *e, const char *receiver,
                                 const char *delivery, const char *error, int64_t now) {
  const struct pw_config *c = e->conf;
  char id[200];
  int i;

  snprintf(id, sizeof(id), "%s/dead_letter", receiver);
  for (i = 0; i < c->alerting.receivers.n; i++) {
    int r = c->alerting.receiver_idx[i];
    json_t *item;
    if (strcmp(c->receivers[r].id, receiver) == 0)
      continue; /* it would only fail again */
    item = json_pack("{s:s,s:s,s:s,s:n,s:n,s:s,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,"
                     "s:n,s:n,s:s,s:s}",
                     "alert", id, "condition", "dead_letter", "state", "firing", "severity",
                     "indicator", "name", receiver, "domain", "department", "value", "expected",
                     "target", "completion_pct", "pace_pct", "lag", "lag_unit", "as_of", "since",
                     "url", "source", "delivery", delivery, "error", error);
    if (item != NULL)
      queue_for(e, r, item, 0, now);
    json_decref(item);
  }
}

/* ---- to the spool ---- */

/* Splits a batch in quiet hours: SEND gets the severe notifications, which go out at once,
 * KEEP the others (NULL if none), which wait for quiet hours to end. Returns 0, or a negative
 * errno (nothing is sent then). */
static int split_severe(json_t *alerts, json_t **send, json_t **keep) {
  json_t *s = json_array(), *k = json_array(), *al;
  size_t i;

  if (s == NULL || k == NULL)
    goto nomem;
  json_array_foreach(alerts, i, al) {
    if (json_array_append(is_severe(al) ? s : k, al) != 0)
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

static void spooled(void *arg, int rc) {
  struct batch *b = arg;
  struct pw_alert_engine *e = b->e;

  e->n_spooling--;
  if (rc == 0) {
    /* In the spool now: it leaves alerts.json's pending part. */
    batch_unlink(e, b);
    batch_free(b);
  } else if (b->r < 0) {
    pw_log_error("receiver '%s' was removed by a reload and its notification %s could not be "
                 "spooled: %zu alerts dropped",
                 b->receiver, b->id, json_array_size(b->alerts));
    batch_unlink(e, b);
    batch_free(b);
  } else {
    /* The batch stays (in memory and in alerts.json) and is spooled again at the next flush. */
    b->state = B_SEALED;
  }
  e->dirty = 1;
  request_save(e);
}

/* The order a notification lists its alerts in (docs/alerts.md): severe, lagging, stale data,
 * failing sources, dead letters, then resolutions; the order decided within each. */
static int alert_rank(const json_t *a) {
  const char *state = json_string_value(json_object_get(a, "state"));
  const char *sev = json_string_value(json_object_get(a, "severity"));
  const char *cond = json_string_value(json_object_get(a, "condition"));

  if (state != NULL && strcmp(state, "resolved") == 0)
    return 5;
  if (sev != NULL && strcmp(sev, "severe") == 0)
    return 0;
  if (sev != NULL && strcmp(sev, "lagging") == 0)
    return 1;
  if (cond != NULL &&
      (strcmp(cond, "stale") == 0 || strcmp(cond, "overdue") == 0 || strcmp(cond, "remind") == 0))
    return 2;
  if (cond != NULL && strcmp(cond, "source_down") == 0)
    return 3;
  return 4;
}

/* A new array of ALERTS' members in alert_rank order (NULL when out of memory). */
static json_t *sorted_alerts(json_t *alerts) {
  json_t *out = json_array(), *a;
  size_t i;
  int rank;

  for (rank = 0; out != NULL && rank <= 5; rank++)
    json_array_foreach(alerts, i, a) if (alert_rank(a) == rank && json_array_append(out, a) < 0) {
      json_decref(out);
      return NULL;
    }
  return out;
}

/* Hands batch B (its alerts SEND) to the spool under B's id. */
static void hand_over(struct pw_alert_engine *e, struct batch *b) {
  json_t *payload = json_pack("{s:i,s:s,s:s,s:n,s:s,s:o}", "version", 1, "receiver", b->receiver,
                              "delivery", b->id, "sent_at", "title", pw_alert_programme(e->conf),
                              "alerts", sorted_alerts(b->alerts));
  int rc;

  b->state = B_SPOOLING;
  e->n_spooling++;
  rc = payload != NULL ? e->ctx.spool(e->ctx.data, b->receiver, payload, spooled, b) : -ENOMEM;
  if (rc < 0) {
    e->n_spooling--;
    b->state = B_SEALED;
    if (rc != -EBUSY) /* (busy: its earlier copy is being sent; handed over again next flush) */
      pw_log_error("receiver '%s': cannot spool a notification: %s", b->receiver, strerror(-rc));
  }
}

/* Whether an OPEN batch may go at NOW; in quiet hours only its severe alerts go, and the others
 * are moved into a batch of their own (KEEP) that waits. */
static int ready(struct pw_alert_engine *e, struct batch *b, int64_t now, int all) {
  const struct pw_alerting *al = &e->conf->alerting;
  json_t *send, *keep;
  struct batch *k;
  struct tm tm;
  time_t t = (time_t)now;

  if (b->state != B_OPEN || all)
    return 1;
  if (now - b->first < al->group_wait)
    return 0;
  localtime_r(&t, &tm);
  if (!al->has_quiet_hours ||
      !pw_alert_in_quiet_hours(al->quiet_start, al->quiet_end, tm.tm_hour * 60 + tm.tm_min))
    return 1;
  if (!b->severe || split_severe(b->alerts, &send, &keep) < 0)
    return 0;
  if (keep != NULL) {
    /* What quiet hours hold back stays, as a batch of its own with an id of its own. */
    e->open[b->r] = NULL;
    k = batch_new(e, b->r, B_OPEN);
    if (k == NULL) {
      e->open[b->r] = b;
      json_decref(send);
      json_decref(keep);
      return 0;
    }
    k->alerts = keep;
    k->first = b->first;
    delivery_id(e, now, k->id, sizeof(k->id));
  }
  json_decref(b->alerts);
  b->alerts = send; /* (sealed next: seal() drops the index) */
  batch_text_reset(b);
  e->dirty = 1;
  return 1;
}

/* Seals batch B: it takes no more alerts (a new one gathers them) and goes to the spool at the
 * next hand-over, under its id. */
static void seal(struct pw_alert_engine *e, struct batch *b) {
  if (b->state != B_OPEN)
    return;
  if (e->open[b->r] == b)
    e->open[b->r] = NULL;
  b->state = B_SEALED;
  json_decref(b->index); /* (it takes no more alerts) */
  b->index = NULL;
  e->dirty = 1;
}

void pw_alert_engine_flush(struct pw_alert_engine *e, int64_t now, int all) {
  struct batch *b, *next;

  if (e == NULL)
    return;
  reread_silences(e, now);
  for (b = e->head; b != NULL; b = b->next)
    if (b->state == B_OPEN && b->r >= 0 && ready(e, b, now, all))
      seal(e, b);
  /* States and pending batches (with their delivery ids, sealed) reach alerts.json before any
   * batch reaches the spool: the save is queued first. A batch saved sealed takes no more alerts
   * after a restart either, so what the spool may hold under its id is all of it. */
  if (e->dirty)
    request_save(e);
  for (b = e->head; b != NULL; b = next) {
    next = b->next;
    if (b->state == B_SEALED && b->r >= 0)
      hand_over(e, b);
  }
}

/* ---- generations ---- */

static int slot_cmp(const void *a, const void *b) {
  return strcmp((*(const struct slot *const *)a)->id, (*(const struct slot *const *)b)->id);
}

/* Carries the states of OLD (N slots, told indices of configuration FROM) into E's slots by
 * alert id, told receivers by id. Returns 0 or -ENOMEM. */
static int carry_states(struct pw_alert_engine *e, struct slot *old, int n,
                        const struct pw_config *from) {
  struct slot **sorted = calloc((size_t)n + 1, sizeof(*sorted));
  int *map = calloc((size_t)from->n_receivers + 1, sizeof(*map));
  int i, k;

  if (sorted == NULL || map == NULL) {
    free(sorted);
    free(map);
    return -ENOMEM;
  }
  for (i = 0; i < from->n_receivers; i++)
    map[i] = receiver_index(e->conf, from->receivers[i].id);
  for (i = 0; i < n; i++)
    sorted[i] = &old[i];
  qsort(sorted, (size_t)n, sizeof(*sorted), slot_cmp);
  for (i = 0; i < e->n_slots; i++) {
    struct slot key, *kp = &key, **found;
    struct slot *s = &e->slots[i];
    key.id = s->id;
    found = bsearch(&kp, sorted, (size_t)n, sizeof(*sorted), slot_cmp);
    if (found == NULL)
      continue;
    s->st = (*found)->st;
    for (k = 0; k < (*found)->n_told; k++)
      if (map[(*found)->told[k]] >= 0)
        s->told[s->n_told++] = map[(*found)->told[k]];
  }
  free(sorted);
  free(map);
  return 0;
}

/* Remaps the batches to E's configuration by receiver id; a batch of a removed receiver is
 * dropped (said in the log), unless it is being spooled (then it is delivered). */
static void carry_batches(struct pw_alert_engine *e) {
  struct batch *b, *next;

  for (b = e->head; b != NULL; b = next) {
    next = b->next;
    b->r = receiver_index(e->conf, b->receiver);
    if (b->r >= 0) {
      if (b->state == B_OPEN && e->open[b->r] == NULL)
        e->open[b->r] = b;
      else if (b->state == B_OPEN)
        b->state = B_SEALED; /* (not expected: one open batch per receiver) */
      continue;
    }
    if (b->state == B_SPOOLING)
      continue;
    pw_log_warn("receiver '%s' was removed by the reload: its %zu alerts waiting for group_wait "
                "or quiet hours (notification %s) are dropped",
                b->receiver, json_array_size(b->alerts), b->id);
    batch_unlink(e, b); /* (its index is -1: no open batch to forget) */
    batch_free(b);
  }
}

int pw_alert_engine_reload(struct pw_alert_engine *e, struct pw_config *conf) {
  struct slot *slots = slots_build(conf), *old_slots = e->slots;
  struct batch **open = calloc((size_t)conf->n_receivers + 1, sizeof(*open));
  struct pw_config *old = e->conf;
  int old_n = e->n_slots;

  if (slots == NULL || open == NULL) {
    free(slots);
    free(open);
    return -ENOMEM;
  }
  e->conf = pw_config_ref(conf);
  e->slots = slots;
  e->n_slots = slot_count(conf);
  if (carry_states(e, old_slots, old_n, old) < 0) {
    pw_config_free(e->conf);
    e->conf = old;
    e->slots = old_slots;
    e->n_slots = old_n;
    free(slots);
    free(open);
    return -ENOMEM;
  }
  free(e->open);
  e->open = open;
  carry_batches(e);
  free(old_slots);
  pw_config_free(old);
  e->dirty = 1;
  return 0;
}

int pw_alert_engine_init(const struct pw_alert_engine_ctx *ctx, struct pw_config *conf, int64_t now,
                         struct pw_alert_engine **out, char *err, size_t errlen) {
  struct pw_alert_engine *e = calloc(1, sizeof(*e));
  int corrupt = 0;

  *out = NULL;
  if (e == NULL || (e->slots = slots_build(conf)) == NULL ||
      (e->open = calloc((size_t)conf->n_receivers + 1, sizeof(*e->open))) == NULL ||
      (e->silences = pw_silence_read(conf->daemon.state_dir, &corrupt)) == NULL) {
    if (e != NULL) {
      free(e->slots);
      free(e->open);
    }
    free(e);
    snprintf(err, errlen, "out of memory starting the alert engine");
    return -ENOMEM;
  }
  e->ctx = *ctx;
  e->conf = pw_config_ref(conf);
  e->n_slots = slot_count(conf);
  e->silences_read = now;
  e->corrupt_silences = corrupt;
  snprintf(e->path, sizeof(e->path), "%s/alerts.json", conf->daemon.state_dir);
  load_states(e);
  *out = e;
  return 0;
}

long pw_alert_engine_batched(const struct pw_alert_engine *e) {
  const struct batch *b;
  long n = 0;

  for (b = e != NULL ? e->head : NULL; b != NULL; b = b->next)
    if (b->state != B_SPOOLING)
      n += (long)json_array_size(b->alerts);
  return n;
}

void pw_alert_engine_firing(const struct pw_alert_engine *e, long counts[PW_SEV_SOURCE + 1]) {
  int i;

  memset(counts, 0, (PW_SEV_SOURCE + 1) * sizeof(*counts));
  for (i = 0; e != NULL && i < e->n_slots; i++)
    if (e->slots[i].st.firing && e->slots[i].st.severity > PW_SEV_NONE &&
        e->slots[i].st.severity <= PW_SEV_SOURCE)
      counts[e->slots[i].st.severity]++;
  counts[PW_SEV_NONE] = 0;
}

void pw_alert_engine_corrupt(const struct pw_alert_engine *e, int *alerts, int *silences) {
  *alerts = e != NULL && e->corrupt_alerts;
  *silences = e != NULL && e->corrupt_silences;
}

int pw_alert_engine_spooling(const struct pw_alert_engine *e) {
  return e != NULL ? e->n_spooling : 0;
}

void pw_alert_engine_free(struct pw_alert_engine *e) {
  struct batch *b, *next;

  if (e == NULL)
    return;
  if (e->dirty) {
    struct snapshot *sn = snapshot_take(e);
    char *text = sn != NULL ? states_text(sn) : NULL;
    int rc = text != NULL ? pw_write_file_atomic(e->path, text, strlen(text)) : -ENOMEM;
    if (rc < 0)
      pw_log_error("cannot save alert states to %s: %s", e->path, strerror(-rc));
    free(text);
    snapshot_free(sn);
  }
  for (b = e->head; b != NULL; b = next) {
    next = b->next;
    batch_free(b);
  }
  json_decref(e->silences);
  free(e->slots);
  free(e->open);
  pw_config_free(e->conf);
  free(e);
}
