/*
 * delivery: the spool in memory (a list in the order notifications were created, mirrored by
 * one file each in state_dir/spool/), the attempts, and the file operations that keep the disk
 * in step. An entry is "busy" while an attempt or a file operation concerns it, so one entry
 * is never handled twice at once; a receiver is busy while one of its notifications is being
 * attempted. Receivers' runtime state (busy, recent sends for the rate budget) is kept by
 * receiver id, so that it survives a reload and a result is applied by name.
 */
#define PW_LOG_MODULE "alert"
#include "delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "calendar.h"
#include "clock.h"
#include "log.h"
#include "notifier.h"
#include "spool.h"
#include "util.h"

#define RING 128               /* recent sends remembered per receiver */
#define FILE_LIMIT (32u << 20) /* the briefing's markdown and HTML files */
#define REPLY_LIMIT (1u << 20) /* a receiver's answer */
#define ONCE_MS 30000          /* --once: how long failed attempts are retried */

struct entry {
  struct pw_spool_entry e; /* payload owned */
  struct pw_config *conf;  /* held: the generation of a receiver a reload removed; NULL: the
                              current one */
  int durable;             /* its file is written */
  int busy;                /* an attempt or a file operation concerns it */
  unsigned once_tries;     /* attempts since flush_all */
  int64_t once_at;         /* flush_all: real ms before which it is not attempted again */
  struct entry *prev, *next;
};

struct receiver_state {
  char id[65];
  int busy;
  uint64_t held;      /* the run of pw_delivery_run in which an older notification holds it back */
  int64_t sent[RING]; /* recent send times, for the rate budget */
  /* Since the start (docs/http.md, metrics): notifications it took, attempts that failed. */
  uint64_t delivered, failed;
};

struct pw_delivery {
  struct pw_delivery_ctx ctx;
  struct pw_config *conf; /* the current generation (held) */
  struct pw_spool *spool;
  struct entry *head, *tail;
  long n_entries;
  struct receiver_state *recv;
  size_t n_recv;
  long dead;     /* files in spool/dead/ */
  long dead_now; /* dead-lettered by this process */
  int in_flight;
  int flush_all, stopping, running;
  int64_t once_until; /* flush_all: real ms after which a failure is not retried */
  uint64_t counter;
  uint64_t runs; /* pw_delivery_run calls, to tell a receiver held in this run */
};

/* One attempt: from the graphs it waits for to the spool updated with its outcome. */
struct attempt {
  struct pw_delivery *dl;
  struct entry *entry;
  struct pw_config *conf;      /* held: the generation it started under */
  const struct pw_receiver *r; /* in CONF */
  const struct pw_notifier *nf;
  char receiver[65];
  int waiting; /* graphs and files still to come, plus one while they are asked for */
  struct graph_slot *slots;
  unsigned char **pngs;
  size_t *png_lens, n_pngs;
  uv_work_t read;
  char *html_path, *html;
  char *docx_path, *docx; /* the briefing's Word document, for email (docs/briefing.md) */
  size_t docx_len;
  struct pw_notify_message msg;
  size_t sent; /* transfers of MSG started so far */
  int failed;  /* 0, -EAGAIN or -EPERM */
  char error[256];
};

struct graph_slot {
  struct attempt *at;
  size_t i;
};

/* ---- entries and receivers ---- */

static void entry_free(struct entry *e) {
  if (e == NULL)
    return;
  json_decref(e->e.payload);
  pw_config_free(e->conf);
  free(e);
}

/* Links E before BEFORE (at the end when NULL). */
static void entry_link(struct pw_delivery *dl, struct entry *e, struct entry *before) {
  e->next = before;
  e->prev = before != NULL ? before->prev : dl->tail;
  if (e->prev != NULL)
    e->prev->next = e;
  else
    dl->head = e;
  if (before != NULL)
    before->prev = e;
  else
    dl->tail = e;
  dl->n_entries++;
}

static void entry_unlink(struct pw_delivery *dl, struct entry *e) {
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    dl->head = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  else
    dl->tail = e->prev;
  e->prev = e->next = NULL;
  dl->n_entries--;
}

static const struct pw_receiver *receiver_in(const struct pw_config *c, const char *id) {
  int i;

  for (i = 0; c != NULL && i < c->n_receivers; i++)
    if (strcmp(c->receivers[i].id, id) == 0)
      return &c->receivers[i];
  return NULL;
}

static struct receiver_state *recv_find(struct pw_delivery *dl, const char *id) {
  size_t i;

  for (i = 0; i < dl->n_recv; i++)
    if (strcmp(dl->recv[i].id, id) == 0)
      return &dl->recv[i];
  return NULL;
}

/* The state of receiver ID, created when missing. NULL only when out of memory. */
static struct receiver_state *recv_get(struct pw_delivery *dl, const char *id) {
  struct receiver_state *rs = recv_find(dl, id), *n;

  if (rs != NULL)
    return rs;
  n = realloc(dl->recv, (dl->n_recv + 1) * sizeof(*n));
  if (n == NULL)
    return NULL;
  dl->recv = n;
  rs = &n[dl->n_recv++];
  memset(rs, 0, sizeof(*rs));
  snprintf(rs->id, sizeof(rs->id), "%s", id);
  return rs;
}

/* Forgets the state of receivers that are neither configured, busy nor waited for. */
static void recv_prune(struct pw_delivery *dl) {
  size_t i, k = 0;

  for (i = 0; i < dl->n_recv; i++) {
    const struct entry *e;
    int keep = dl->recv[i].busy || receiver_in(dl->conf, dl->recv[i].id) != NULL;
    for (e = dl->head; e != NULL && !keep; e = e->next)
      keep = strcmp(e->e.receiver, dl->recv[i].id) == 0;
    if (keep)
      dl->recv[k++] = dl->recv[i];
  }
  dl->n_recv = k;
}

/* A copy of E for a thread-pool thread: the payload is copied deeply, so that no JSON value is
 * shared with the loop. Returns 0 or -ENOMEM. */
static int entry_copy(const struct pw_spool_entry *e, struct pw_spool_entry *out) {
  *out = *e;
  out->payload = json_deep_copy(e->payload);
  return out->payload != NULL ? 0 : -ENOMEM;
}

/* ---- file operations, on the thread pool through the writer ---- */

enum fop_kind { FOP_PUT, FOP_DONE, FOP_FAILED, FOP_DROP, FOP_MERGE, FOP_BRIEFING };

struct fop {
  enum fop_kind kind;
  struct pw_delivery *dl;
  struct pw_spool *spool;
  struct entry *entry;        /* PUT, DONE, FAILED, DROP */
  struct pw_spool_entry copy; /* the thread pool's copy of it */
  struct attempt *at;         /* DONE, FAILED: the attempt they finish */
  int64_t now, give_up;
  int permanent;
  char error[256];
  int rc, dead;
  char err[512];
  void (*spooled)(void *arg, int rc); /* PUT */
  void *spooled_arg;
  json_t *replaced;      /* PUT of an entry spooled before: its previous payload */
  struct entry **merged; /* MERGE: the entries, COPIES their copies, DIGEST the result */
  struct pw_spool_entry *copies, digest;
  size_t n;
  char week[64], title[256], *html_path, *md_path; /* BRIEFING, spooled under CONF (held) */
  struct pw_config *conf;
  struct pw_spool_entry *made;
  int *made_ok;
};

static void fop_free(struct fop *f) {
  size_t i;

  json_decref(f->copy.payload);
  json_decref(f->replaced);
  for (i = 0; f->copies != NULL && i < f->n; i++)
    json_decref(f->copies[i].payload);
  for (i = 0; f->made != NULL && i < f->n; i++)
    json_decref(f->made[i].payload);
  free(f->copies);
  free(f->merged);
  free(f->made);
  free(f->made_ok);
  free(f->html_path);
  free(f->md_path);
  pw_config_free(f->conf);
  free(f);
}

/* The channels' document the briefing wrote beside MD_PATH (<week>.json, docs/briefing.md
 * "Delivery"), or NULL (a briefing written before it existed, or unreadable: the channels then
 * get the Markdown). */
static json_t *briefing_document(const char *md_path) {
  size_t n = strlen(md_path);
  char path[4200];
  json_t *doc;

  if (n < 3 || strcmp(md_path + n - 3, ".md") != 0 || n + 3 >= sizeof(path))
    return NULL;
  snprintf(path, sizeof(path), "%.*s.json", (int)(n - 3), md_path);
  doc = json_load_file(path, 0, NULL);
  if (doc != NULL && !json_is_object(doc)) {
    json_decref(doc);
    return NULL;
  }
  return doc;
}

/* The weekly briefing's entries, one per receiver id already in F->made (ids chosen): the
 * Markdown, and from the channels' document the robots' summaries, the links, the Word
 * document's path and the structured document itself (the webhook's). */
static void briefing_work(struct fop *f) {
  char *md = NULL, docx[4200];
  json_t *doc;
  size_t i, n;

  f->rc = pw_read_file(f->md_path, FILE_LIMIT, &md, NULL);
  if (f->rc < 0) {
    snprintf(f->err, sizeof(f->err), "briefing %s: cannot read %s", f->week, f->md_path);
    return;
  }
  doc = briefing_document(f->md_path); /* NULL unless MD_PATH ends in ".md" */
  n = strlen(f->md_path);
  if (doc != NULL)
    snprintf(docx, sizeof(docx), "%.*s.docx", (int)(n - 3), f->md_path);
  for (i = 0; i < f->n; i++) {
    struct pw_spool_entry *e = &f->made[i];
    json_t *b;
    char err[512];
    e->payload = json_pack("{s:i,s:s,s:s,s:n,s:[],s:{s:s,s:s,s:s,s:s}}", "version", 1, "receiver",
                           e->receiver, "delivery", e->id, "sent_at", "alerts", "briefing", "week",
                           f->week, "title", f->title, "html_path", f->html_path, "markdown", md);
    b = json_object_get(e->payload, "briefing");
    if (b != NULL && doc != NULL) {
      json_t *d = json_deep_copy(doc);
      json_object_set(b, "summary_markdown", json_object_get(doc, "summary_markdown"));
      json_object_set(b, "summary_text", json_object_get(doc, "summary_text"));
      json_object_set(b, "links", json_object_get(doc, "links"));
      json_object_set_new(b, "docx_path", json_string(docx));
      json_object_del(d, "summary_markdown");
      json_object_del(d, "summary_text");
      json_object_set_new(b, "document", d);
    }
    if (e->payload == NULL || pw_spool_put(f->spool, e, err, sizeof(err)) < 0)
      continue;
    pw_spool_audit(f->spool, "spooled", e, e->created, NULL);
    f->made_ok[i] = 1;
  }
  json_decref(doc);
  free(md);
}

static void fop_work(void *arg) {
  struct fop *f = arg;
  size_t i;

  switch (f->kind) {
  case FOP_PUT:
    f->rc = pw_spool_put(f->spool, &f->copy, f->err, sizeof(f->err));
    if (f->rc == 0)
      pw_spool_audit(f->spool, "spooled", &f->copy, f->copy.created, NULL);
    break;
  case FOP_DONE:
    f->rc = pw_spool_done(f->spool, &f->copy, f->err, sizeof(f->err));
    pw_spool_audit(f->spool, "delivered", &f->copy, f->now, NULL);
    break;
  case FOP_FAILED:
    f->rc = pw_spool_failed(f->spool, &f->copy, f->now, f->give_up, f->permanent, f->error, f->err,
                            sizeof(f->err));
    f->dead = f->rc == 1;
    pw_spool_audit(f->spool, f->dead ? "dead" : "retry", &f->copy, f->now, f->error);
    break;
  case FOP_DROP:
    f->rc = pw_spool_failed(f->spool, &f->copy, f->now, 0, 1, f->error, f->err, sizeof(f->err));
    f->dead = f->rc == 1;
    break;
  case FOP_MERGE:
    f->rc = pw_spool_merge(f->spool, f->copies, f->n, &f->digest, f->err, sizeof(f->err));
    if (f->rc < 0)
      break;
    pw_spool_audit(f->spool, "spooled", &f->digest, f->now, NULL);
    for (i = 0; i < f->n; i++)
      pw_spool_audit(f->spool, "merged", &f->copies[i], f->now, f->digest.id);
    break;
  case FOP_BRIEFING:
    briefing_work(f);
    break;
  }
}

static void fop_done(void *arg, int status);

/* Queues F; on failure F is freed and the negative errno returned. */
static int fop_push(struct fop *f) {
  int rc = pw_writer_push(f->dl->ctx.writer, NULL, fop_work, fop_done, f);

  if (rc < 0)
    fop_free(f);
  return rc;
}

/* The copy a DONE needs: what pw_spool_done and the audit line read (the id, the receiver and
 * the alerts' ids), not the whole notification. Deep-copying a digest of thousands of alerts to
 * remove its file held the loop for tens of milliseconds. Returns 0 or -ENOMEM. */
static int entry_copy_ids(const struct pw_spool_entry *e, struct pw_spool_entry *out) {
  json_t *alerts = json_array(), *a;
  size_t i;

  *out = *e;
  out->payload = json_pack("{s:o}", "alerts", alerts);
  if (out->payload == NULL)
    return -ENOMEM;
  json_array_foreach(json_object_get(e->payload, "alerts"), i, a) {
    const char *id = json_string_value(json_object_get(a, "alert"));
    if (json_array_append_new(alerts, json_pack("{s:s?}", "alert", id)) != 0) {
      json_decref(out->payload);
      out->payload = NULL;
      return -ENOMEM;
    }
  }
  return 0;
}

/* A file operation on entry E (its copy taken now). Returns NULL when out of memory. */
static struct fop *fop_for(struct pw_delivery *dl, enum fop_kind kind, struct entry *e) {
  struct fop *f = calloc(1, sizeof(*f));

  if (f == NULL)
    return NULL;
  f->kind = kind;
  f->dl = dl;
  f->spool = dl->spool;
  f->entry = e;
  f->now = pw_clock_now();
  if (e != NULL &&
      (kind == FOP_DONE ? entry_copy_ids(&e->e, &f->copy) : entry_copy(&e->e, &f->copy)) < 0) {
    fop_free(f);
    return NULL;
  }
  return f;
}

/* ---- attempts ---- */

static void attempt_free(struct attempt *at) {
  size_t i;

  pw_notify_message_free(&at->msg);
  for (i = 0; i < at->n_pngs; i++)
    free(at->pngs[i]);
  free(at->pngs);
  free(at->png_lens);
  free(at->slots);
  free(at->html_path);
  free(at->html);
  free(at->docx_path);
  free(at->docx);
  pw_config_free(at->conf);
  free(at);
}

static void fail(struct attempt *at, int rc, const char *why) {
  if (at->failed == 0 || rc == -EPERM) {
    at->failed = rc;
    snprintf(at->error, sizeof(at->error), "%s", why);
  }
}

/* The attempt's end on the loop, once its outcome is in the spool (or could not be written). */
static void attempt_done(struct attempt *at, struct fop *f) {
  struct pw_delivery *dl = at->dl;
  struct receiver_state *rs = recv_find(dl, at->receiver);
  struct entry *e = at->entry;
  const char *how = e->conf != NULL ? " with the settings of an earlier configuration (the "
                                      "receiver was removed by a reload)"
                                    : "";

  if (rs != NULL)
    rs->busy = 0;
  dl->in_flight--;
  if (f == NULL) {
    /* The outcome could not be recorded: the notification stays as it was, to be tried again. */
    e->busy = 0;
  } else if (f->kind == FOP_DONE) {
    if (rs != NULL)
      rs->delivered++;
    pw_log_info("receiver '%s': delivered %s (attempt %u)%s", at->receiver, e->e.id,
                e->e.attempts + 1, how);
    entry_unlink(dl, e);
    entry_free(e);
  } else if (f->dead) {
    if (rs != NULL)
      rs->failed++;
    pw_log_error("receiver '%s': notification %s moved to spool/dead/: %s", at->receiver, e->e.id,
                 at->error);
    dl->dead++;
    dl->dead_now++;
    if (dl->ctx.dead != NULL)
      dl->ctx.dead(dl->ctx.data, at->receiver, e->e.id, at->error);
    entry_unlink(dl, e);
    entry_free(e);
  } else {
    /* Retried later: the spool's copy has the new attempt count and back-off. */
    if (rs != NULL)
      rs->failed++;
    e->e.attempts = f->copy.attempts;
    e->e.next_attempt = f->copy.next_attempt;
    memcpy(e->e.last_error, f->copy.last_error, sizeof(e->e.last_error));
    e->busy = 0;
    if (dl->flush_all) {
      /* --once: no back-off of minutes; tried again 1 s, 2 s, 4 s... later, while the run
       * lasts (docs/alerts.md). */
      unsigned shift = e->once_tries < 5 ? e->once_tries - 1 : 4;
      e->once_at = pw_clock_real_ms() + ((int64_t)1000 << shift);
    }
    if (f->rc < 0)
      pw_log_error("receiver '%s': %s", at->receiver, f->err);
    pw_log_warn("receiver '%s': delivery of %s failed (%s); retrying%s", at->receiver, e->e.id,
                at->error, how);
  }
  attempt_free(at);
}

/* Every transfer has answered (or none was started): the outcome goes to the spool. */
static void attempt_finish(struct attempt *at) {
  struct pw_delivery *dl = at->dl;
  struct fop *f = fop_for(dl, at->failed == 0 ? FOP_DONE : FOP_FAILED, at->entry);

  if (f != NULL) {
    f->at = at;
    f->give_up = dl->conf->alerting.give_up;
    f->permanent = at->failed == -EPERM;
    snprintf(f->error, sizeof(f->error), "%s", at->error);
  }
  if (f == NULL || fop_push(f) < 0) {
    pw_log_error("receiver '%s': cannot record the outcome of %s: out of memory", at->receiver,
                 at->entry->e.id);
    attempt_done(at, NULL);
  }
}

/* The transfer options every request to receiver R shares. */
static void receiver_request(const struct pw_receiver *r, struct pw_fetch_request *req) {
  memset(req, 0, sizeof(*req));
  req->url = r->url;
  req->timeout_ms = r->timeout * 1000;
  req->max_bytes = REPLY_LIMIT;
  req->tls_verify = r->tls_verify;
  req->ca_file = r->ca_file;
  req->proxy = r->proxy;
  req->no_redirects = !r->follow_redirects;
}

static void transfer_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data);

/* Starts the message's next transfer; its outcome arrives in transfer_done. The transfers go one
 * after another, in the notifier's order (WeCom's picture follows its markdown), and the first
 * failure ends the attempt: the retry sends the whole message again. */
static void next_transfer(struct attempt *at) {
  const struct pw_notify_transfer *t;
  struct pw_fetch_request req;
  char err[256];
  int rc;

  if (at->failed != 0 || at->sent == at->msg.n) {
    attempt_finish(at);
    return;
  }
  t = &at->msg.transfers[at->sent++];
  receiver_request(at->r, &req);
  req.url = t->url;
  req.headers = (const char *const *)t->headers;
  req.n_headers = t->n_headers;
  req.post_body = t->body;
  req.post_len = t->body_len;
  req.customize = t->customize;
  req.customize_arg = t->customize_arg;
  rc = at->dl->stopping ? -ECANCELED
                        : pw_fetch_start(at->dl->ctx.fetch, &req, transfer_done, at, NULL);
  if (rc < 0) {
    snprintf(err, sizeof(err), "cannot start the transfer: %s", strerror(-rc));
    fail(at, -EAGAIN, err);
    attempt_finish(at);
  }
}

static void transfer_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct attempt *at = data;
  char err[256];
  int rc;

  (void)job;
  if (at->r->type != PW_RECV_EMAIL && !at->r->follow_redirects && res->status >= 300 &&
      res->status <= 399) {
    /* Not followed (docs/configuration.md, follow_redirects): the notification would reach
     * whatever host the answer names, a 307 with its body. */
    snprintf(err, sizeof(err), "%s (follow_redirects = false)",
             res->error != NULL ? res->error : "redirect not followed");
    fail(at, -EAGAIN, err);
    next_transfer(at);
    return;
  }
  if (res->rc == -E2BIG && res->status >= 200 && res->status <= 299) {
    /* The receiver took the notification (docs/alerts.md: 2xx means delivered); only its answer
     * was longer than a reply may be, and its body is not needed to know that. */
    pw_log_info("receiver '%s': answer to %s larger than %u bytes ignored (HTTP %ld)", at->receiver,
                at->entry->e.id, REPLY_LIMIT, res->status);
    next_transfer(at);
    return;
  }
  rc = at->nf->judge(at->r, res->rc, res->status, res->body, res->error, err, sizeof(err));
  if (rc < 0)
    fail(at, rc, err);
  next_transfer(at);
}

/* Everything the message needs has arrived: build it and send it. */
static void attempt_send(struct attempt *at) {
  struct pw_notify_input in;
  char err[512];
  int rc;

  if (at->dl->stopping) {
    fail(at, -EAGAIN, "the daemon is stopping");
    attempt_finish(at);
    return;
  }
  memset(&in, 0, sizeof(in));
  in.r = at->r;
  in.payload = at->entry->e.payload;
  in.delivery = at->entry->e.id;
  in.public_url = at->conf->daemon.public_url;
  in.now_real_ms = pw_clock_real_ms();
  in.pngs = (const unsigned char *const *)at->pngs;
  in.png_lens = at->png_lens;
  in.n_pngs = at->n_pngs;
  in.briefing_html = at->html;
  in.briefing_docx = at->docx;
  in.briefing_docx_len = at->docx != NULL ? at->docx_len : 0;
  rc = at->nf->build(&in, &at->msg, err, sizeof(err));
  if (rc < 0)
    fail(at, rc == -EPERM ? -EPERM : -EAGAIN, err);
  next_transfer(at);
}

static void input_arrived(struct attempt *at) {
  if (--at->waiting == 0)
    attempt_send(at);
}

static void graph_ready(void *arg, const unsigned char *png, size_t len) {
  struct graph_slot *slot = arg;
  struct attempt *at = slot->at;

  if (png != NULL && len > 0) {
    at->pngs[slot->i] = malloc(len);
    if (at->pngs[slot->i] != NULL) {
      memcpy(at->pngs[slot->i], png, len);
      at->png_lens[slot->i] = len;
    }
  }
  input_arrived(at);
}

/* Asks the graph cache for the graphs the notifier shows with the payload's alerts. */
static void ask_graphs(struct attempt *at) {
  const json_t *alerts = json_object_get(at->entry->e.payload, "alerts"), *a;
  size_t i, n = json_array_size(alerts);
  int asked = 0, most = at->nf->graphs == PW_NOTIFY_FIRST_GRAPH ? 1 : PW_NOTIFY_MAX_GRAPHS;

  if (n == 0 || at->dl->ctx.get_graph == NULL)
    return;
  at->pngs = calloc(n, sizeof(*at->pngs));
  at->png_lens = calloc(n, sizeof(*at->png_lens));
  at->slots = calloc(n, sizeof(*at->slots));
  if (at->pngs == NULL || at->png_lens == NULL || at->slots == NULL)
    return; /* the message goes without graphs */
  at->n_pngs = n;
  json_array_foreach(alerts, i, a) {
    const char *ind = json_string_value(json_object_get(a, "indicator"));
    if (ind == NULL || asked >= most)
      continue;
    at->slots[i].at = at;
    at->slots[i].i = i;
    at->waiting++;
    if (at->dl->ctx.get_graph(at->dl->ctx.data, ind, PW_GRAPH_PNG, graph_ready, &at->slots[i]) <
        0) {
      at->waiting--; /* an indicator no longer configured has no graph */
      continue;
    }
    asked++;
  }
}

static void read_work(uv_work_t *req) {
  struct attempt *at = req->data;

  if (pw_read_file(at->html_path, FILE_LIMIT, &at->html, NULL) < 0)
    at->html = NULL;
  /* The Word document is attached when it is there; the mail goes without it otherwise. */
  if (at->docx_path != NULL &&
      pw_read_file(at->docx_path, FILE_LIMIT, &at->docx, &at->docx_len) < 0)
    at->docx = NULL;
}

static void read_done(uv_work_t *req, int status) {
  (void)status;
  input_arrived(req->data);
}

/* Reads the briefing's HTML file on the thread pool for a notifier that sends it. */
static void ask_html(struct attempt *at) {
  const char *path = json_string_value(
      json_object_get(json_object_get(at->entry->e.payload, "briefing"), "html_path"));

  const char *docx = json_string_value(
      json_object_get(json_object_get(at->entry->e.payload, "briefing"), "docx_path"));

  if (path == NULL || (at->html_path = strdup(path)) == NULL)
    return; /* the notifier reports the briefing unreadable */
  if (docx != NULL)
    at->docx_path = strdup(docx);
  at->read.data = at;
  at->waiting++;
  if (uv_queue_work(at->dl->ctx.loop, &at->read, read_work, read_done) != 0)
    at->waiting--;
}

static void attempt_start(struct pw_delivery *dl, struct entry *e, struct receiver_state *rs,
                          struct pw_config *conf, const struct pw_receiver *r,
                          const struct pw_notifier *nf) {
  struct attempt *at = calloc(1, sizeof(*at));
  char sent[40];

  if (at == NULL)
    return; /* tried again at the next run */
  at->dl = dl;
  at->entry = e;
  at->conf = pw_config_ref(conf);
  at->r = r;
  at->nf = nf;
  snprintf(at->receiver, sizeof(at->receiver), "%s", r->id);
  e->busy = 1;
  rs->busy = 1;
  dl->in_flight++;
  json_object_set_new(e->e.payload, "sent_at",
                      json_string(pw_calendar_format(pw_clock_now(), sent, sizeof(sent))));
  at->waiting = 1; /* held until everything is asked for */
  if (json_is_object(json_object_get(e->e.payload, "briefing"))) {
    if (nf->wants_briefing_html)
      ask_html(at);
  } else if (nf->graphs != PW_NOTIFY_NO_GRAPH) {
    ask_graphs(at);
  }
  input_arrived(at);
}

/* ---- what is due ---- */

/* Over its rate budget, a receiver's waiting notifications become one digest message: a new
 * spool entry with every alert, written before the old entries are removed, so nothing is
 * dropped and the receiver gets one message when its budget allows. */
static void merge_waiting(struct pw_delivery *dl, struct entry *first) {
  struct entry *e;
  struct fop *f;
  size_t n = 0, k = 0;

  for (e = first; e != NULL; e = e->next)
    n += !e->busy && e->durable && strcmp(e->e.receiver, first->e.receiver) == 0;
  if (n < 2 || (f = fop_for(dl, FOP_MERGE, NULL)) == NULL)
    return;
  f->merged = calloc(n, sizeof(*f->merged));
  f->copies = calloc(n, sizeof(*f->copies));
  if (f->merged == NULL || f->copies == NULL) {
    fop_free(f);
    return;
  }
  for (e = first; e != NULL && k < n; e = e->next) {
    if (e->busy || !e->durable || strcmp(e->e.receiver, first->e.receiver) != 0)
      continue;
    if (entry_copy(&e->e, &f->copies[k]) < 0)
      break;
    f->merged[k++] = e;
  }
  f->n = k;
  if (k < n || fop_push(f) < 0) {
    if (k < n)
      fop_free(f);
    return;
  }
  for (k = 0; k < n; k++)
    f->merged[k]->busy = 1;
}

/* The digest is in the spool: it replaces the merged entries, in the first one's place. */
static void merge_done(struct pw_delivery *dl, struct fop *f) {
  struct entry *d;
  size_t k;

  if (f->rc == 0 && (d = calloc(1, sizeof(*d))) != NULL) {
    d->e = f->digest;
    f->digest.payload = NULL;
    d->durable = 1;
    d->conf = pw_config_ref(f->merged[0]->conf);
    entry_link(dl, d, f->merged[0]);
    for (k = 0; k < f->n; k++) {
      entry_unlink(dl, f->merged[k]);
      entry_free(f->merged[k]);
    }
    pw_log_info("receiver '%s': over its rate budget; %zu notifications merged into %s",
                d->e.receiver, f->n, d->e.id);
    return;
  }
  json_decref(f->digest.payload);
  f->digest.payload = NULL;
  if (f->rc < 0)
    pw_log_error("receiver '%s': cannot merge into a digest: %s", f->merged[0]->e.receiver, f->err);
  for (k = 0; k < f->n; k++)
    f->merged[k]->busy = 0;
}

/* A notification whose receiver no configuration knows goes to spool/dead/ (it was spooled by
 * an earlier run, before the receiver was removed). */
static void drop(struct pw_delivery *dl, struct entry *e) {
  struct fop *f = fop_for(dl, FOP_DROP, e);

  if (f == NULL)
    return;
  snprintf(f->error, sizeof(f->error), "receiver no longer configured");
  if (fop_push(f) == 0)
    e->busy = 1;
}

/* Under flush_all: E failed and is tried again within the run's 30 s. */
static int once_retry_pending(const struct pw_delivery *dl, const struct entry *e) {
  return dl->flush_all && e->once_tries > 0 && e->once_at != 0 && e->once_at < dl->once_until;
}

/* Under flush_all, whether E is due: never attempted since, or its quick retry has come. */
static int once_due(const struct pw_delivery *dl, const struct entry *e, int64_t real_ms) {
  return e->once_tries == 0 || (once_retry_pending(dl, e) && e->once_at <= real_ms);
}

/* Marks receiver ID held for the rest of this run: an older notification of its own waits. */
static void hold(struct pw_delivery *dl, const char *id) {
  struct receiver_state *rs = recv_get(dl, id);

  if (rs != NULL)
    rs->held = dl->runs;
}

/* Entries go out oldest first, and per receiver strictly in order (docs/alerts.md, the spool and
 * delivery): a notification waits while an older one for the same receiver is in back-off,
 * being attempted, written or merged, so that a resolution never reaches a receiver before the
 * firing it resolves. */
void pw_delivery_run(struct pw_delivery *dl) {
  int64_t now = pw_clock_now(), real_ms = pw_clock_real_ms();
  struct entry *e, *next;

  if (dl == NULL || dl->stopping || dl->running)
    return;
  dl->running = 1;
  dl->runs++;
  for (e = dl->head; e != NULL; e = next) {
    const struct pw_config *conf = e->conf != NULL ? e->conf : dl->conf;
    const struct pw_receiver *r;
    const struct pw_notifier *nf;
    struct receiver_state *rs;
    next = e->next;
    rs = recv_find(dl, e->e.receiver);
    if (rs != NULL && rs->held == dl->runs)
      continue;
    if (e->busy || !e->durable ||
        (dl->flush_all ? !once_due(dl, e, real_ms) : e->e.next_attempt > now)) {
      hold(dl, e->e.receiver);
      continue;
    }
    r = receiver_in(conf, e->e.receiver);
    if (r == NULL) {
      drop(dl, e);
      continue;
    }
    rs = recv_get(dl, e->e.receiver);
    nf = pw_notifier_for(r->type);
    if (rs == NULL || rs->busy || nf == NULL) {
      hold(dl, e->e.receiver);
      continue;
    }
    if (!dl->flush_all && !pw_alert_budget_take(rs->sent, RING, r->rate_per_minute,
                                                nf->cost(e->e.payload), nf->per_second, now)) {
      merge_waiting(dl, e);
      hold(dl, e->e.receiver);
      continue;
    }
    if (dl->flush_all) {
      e->once_tries++;
      e->once_at = 0;
    }
    rs->held = dl->runs;
    attempt_start(dl, e, rs, e->conf != NULL ? e->conf : dl->conf, r, nf);
  }
  dl->running = 0;
}

void pw_delivery_flush_all(struct pw_delivery *dl) {
  if (!dl->flush_all)
    dl->once_until = pw_clock_real_ms() + ONCE_MS;
  dl->flush_all = 1;
  pw_delivery_run(dl);
}

/* ---- results of file operations, on the loop ---- */

static void put_done(struct pw_delivery *dl, struct fop *f) {
  struct entry *e = f->entry;

  if (f->rc == 0) {
    e->durable = 1;
    e->busy = 0;
  } else if (f->replaced != NULL) {
    /* The file still holds the previous payload: so does the entry. */
    pw_log_error("receiver '%s': cannot spool a notification again: %s", e->e.receiver, f->err);
    json_decref(e->e.payload);
    e->e.payload = f->replaced;
    f->replaced = NULL;
    e->busy = 0;
  } else {
    pw_log_error("receiver '%s': cannot spool a notification: %s", e->e.receiver, f->err);
    entry_unlink(dl, e);
    entry_free(e);
  }
  if (f->spooled != NULL)
    f->spooled(f->spooled_arg, f->rc);
}

static void briefing_done(struct pw_delivery *dl, struct fop *f) {
  size_t i;

  if (f->rc < 0) {
    pw_log_error("%s", f->err);
    return;
  }
  for (i = 0; i < f->n; i++) {
    struct entry *e;
    if (!f->made_ok[i] || (e = calloc(1, sizeof(*e))) == NULL) {
      pw_log_error("briefing %s: cannot spool it for receiver '%s'", f->week, f->made[i].receiver);
      continue;
    }
    e->e = f->made[i];
    f->made[i].payload = NULL;
    e->durable = 1;
    /* A reload while it was written may have removed its receiver: it goes with the settings
     * it was spooled under, like any notification spooled before a reload. */
    if (receiver_in(dl->conf, e->e.receiver) == NULL)
      e->conf = pw_config_ref(f->conf);
    entry_link(dl, e, NULL);
  }
}

static void fop_done(void *arg, int status) {
  struct fop *f = arg;
  struct pw_delivery *dl = f->dl;

  if (status < 0 && f->rc == 0) {
    f->rc = status;
    snprintf(f->err, sizeof(f->err), "the file operation was not run: %s", strerror(-status));
  }
  switch (f->kind) {
  case FOP_PUT:
    put_done(dl, f);
    break;
  case FOP_DONE:
  case FOP_FAILED:
    if (f->rc < 0 && f->kind == FOP_DONE)
      pw_log_error("receiver '%s': %s", f->at->receiver, f->err);
    attempt_done(f->at, f);
    break;
  case FOP_DROP:
    if (f->dead) {
      dl->dead++;
      pw_log_error("receiver '%s' is not configured: notification %s moved to spool/dead/",
                   f->entry->e.receiver, f->entry->e.id);
      entry_unlink(dl, f->entry);
      entry_free(f->entry);
    } else {
      pw_log_error("receiver '%s': %s", f->entry->e.receiver, f->err);
      f->entry->busy = 0;
    }
    break;
  case FOP_MERGE:
    merge_done(dl, f);
    break;
  case FOP_BRIEFING:
    briefing_done(dl, f);
    break;
  }
  fop_free(f);
  /* Something changed (a receiver is free, an entry durable or gone): whatever is due goes. */
  pw_delivery_run(dl);
}

/* ---- the public rest ---- */

static struct entry *entry_find(struct pw_delivery *dl, const char *id) {
  struct entry *e;

  for (e = dl->head; e != NULL; e = e->next)
    if (strcmp(e->e.id, id) == 0)
      return e;
  return NULL;
}

struct again {
  struct pw_delivery *dl;
  char id[64];
  void (*done)(void *arg, int rc);
  void *arg;
};

static void again_work(void *arg) {
  (void)arg; /* the notification is in the spool already */
}

static void again_done(void *arg, int status) {
  struct again *a = arg;
  struct entry *e = entry_find(a->dl, a->id);

  /* Behind the first spooling of the id in the writer's queue: its outcome is known now. */
  a->done(a->arg, status < 0 ? status : e != NULL && e->durable ? 0 : -EIO);
  free(a);
}

/* The engine spools a batch again under the id it was spooled with when a restart finds it
 * still pending in alerts.json (the process was killed between the two writes): the spool's
 * copy stands, so the receiver gets one message, and the engine hears it is durable once the
 * first spooling's outcome is known. */
static int spooled_already(struct pw_delivery *dl, const char *id, void (*done)(void *arg, int rc),
                           void *arg) {
  struct again *a = calloc(1, sizeof(*a));
  int rc;

  if (a == NULL)
    return -ENOMEM;
  a->dl = dl;
  snprintf(a->id, sizeof(a->id), "%s", id);
  a->done = done;
  a->arg = arg;
  rc = pw_writer_push(dl->ctx.writer, NULL, again_work, again_done, a);
  if (rc < 0)
    free(a);
  return rc;
}

/* The spool holds ID with other alerts (a batch saved pending by an older version, which kept
 * adding to it after a restart): the new payload replaces the old one in the same entry and
 * file, attempts and back-off kept. An entry being attempted is left alone (-EBUSY: the engine
 * hands the batch over again at its next flush). */
static int respool(struct pw_delivery *dl, struct entry *e, json_t *payload,
                   void (*done)(void *arg, int rc), void *arg) {
  struct fop *f;
  json_t *old;
  int rc;

  if (e->busy) {
    json_decref(payload);
    return -EBUSY;
  }
  old = e->e.payload;
  e->e.payload = payload;
  f = fop_for(dl, FOP_PUT, e);
  if (f == NULL) {
    e->e.payload = old;
    json_decref(payload);
    return -ENOMEM;
  }
  f->spooled = done;
  f->spooled_arg = arg;
  f->replaced = old;
  e->busy = 1;
  rc = fop_push(f);
  if (rc < 0) {
    e->e.payload = old;
    e->busy = 0;
    json_decref(payload);
  }
  return rc;
}

int pw_delivery_spool(struct pw_delivery *dl, const char *receiver, json_t *payload,
                      void (*done)(void *arg, int rc), void *arg) {
  const char *id = json_string_value(json_object_get(payload, "delivery"));
  struct entry *e;
  struct fop *f;
  int rc;

  if (id == NULL || strlen(id) >= sizeof(e->e.id) || strlen(receiver) >= sizeof(e->e.receiver)) {
    json_decref(payload);
    return -EINVAL;
  }
  e = entry_find(dl, id);
  if (e != NULL && json_equal(e->e.payload, payload)) {
    rc = spooled_already(dl, id, done, arg);
    json_decref(payload); /* (ID lives in it) */
    return rc;
  }
  if (e != NULL)
    return respool(dl, e, payload, done, arg);
  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    json_decref(payload);
    return -ENOMEM;
  }
  snprintf(e->e.id, sizeof(e->e.id), "%s", id);
  snprintf(e->e.receiver, sizeof(e->e.receiver), "%s", receiver);
  e->e.created = e->e.next_attempt = pw_clock_now();
  e->e.payload = payload;
  e->busy = 1;
  f = fop_for(dl, FOP_PUT, e);
  if (f == NULL || recv_get(dl, receiver) == NULL) {
    if (f != NULL)
      fop_free(f);
    entry_free(e);
    return -ENOMEM;
  }
  f->spooled = done;
  f->spooled_arg = arg;
  rc = fop_push(f);
  if (rc < 0) {
    entry_free(e);
    return rc;
  }
  entry_link(dl, e, NULL);
  return 0;
}

void pw_delivery_briefing(struct pw_delivery *dl, const char *week, const char *html_path,
                          const char *md_path) {
  const struct pw_config *c = dl->conf;
  size_t n = (size_t)c->briefing.receivers.n, i;
  struct fop *f = fop_for(dl, FOP_BRIEFING, NULL);

  if (f == NULL || n == 0) {
    if (f != NULL)
      fop_free(f);
    return;
  }
  f->n = n;
  f->made = calloc(n, sizeof(*f->made));
  f->made_ok = calloc(n, sizeof(*f->made_ok));
  f->html_path = strdup(html_path);
  f->md_path = strdup(md_path);
  if (f->made == NULL || f->made_ok == NULL || f->html_path == NULL || f->md_path == NULL) {
    pw_log_error("briefing %s: out of memory", week);
    fop_free(f);
    return;
  }
  snprintf(f->week, sizeof(f->week), "%s", week);
  snprintf(f->title, sizeof(f->title), "%s", c->briefing.title);
  f->conf = pw_config_ref(dl->conf);
  for (i = 0; i < n; i++) {
    struct pw_spool_entry *e = &f->made[i];
    snprintf(e->id, sizeof(e->id), "%lld-%d-%llu-briefing", (long long)f->now, (int)getpid(),
             (unsigned long long)++dl->counter);
    snprintf(e->receiver, sizeof(e->receiver), "%s", c->receivers[c->briefing.receiver_idx[i]].id);
    e->created = e->next_attempt = f->now;
  }
  if (fop_push(f) < 0)
    pw_log_error("briefing %s: cannot queue its spooling", week);
}

void pw_delivery_reload(struct pw_delivery *dl, struct pw_config *conf) {
  struct pw_config *old = dl->conf;
  struct entry *e;

  for (e = dl->head; e != NULL; e = e->next) {
    if (receiver_in(conf, e->e.receiver) != NULL) {
      /* (Back in the configuration: its current settings apply again.) */
      pw_config_free(e->conf);
      e->conf = NULL;
    } else if (e->conf == NULL && receiver_in(old, e->e.receiver) != NULL) {
      e->conf = pw_config_ref(old);
      pw_log_info("receiver '%s' is no longer configured: notification %s, spooled for it "
                  "before the reload, is still delivered with its previous settings",
                  e->e.receiver, e->e.id);
    }
  }
  dl->conf = pw_config_ref(conf);
  pw_config_free(old);
  recv_prune(dl);
  pw_spool_set_audit_max(dl->spool, conf->daemon.audit_max_bytes);
}

int pw_delivery_init(const struct pw_delivery_ctx *ctx, struct pw_config *conf,
                     struct pw_delivery **out, char *err, size_t errlen) {
  struct pw_delivery *dl = calloc(1, sizeof(*dl));
  struct pw_spool_entry *es = NULL;
  size_t n = 0, i, queued, dead = 0;
  int rc;

  *out = NULL;
  if (dl == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  dl->ctx = *ctx;
  dl->conf = pw_config_ref(conf);
  rc = pw_spool_init(conf->daemon.state_dir, &dl->spool, err, errlen);
  if (rc == 0)
    pw_spool_set_audit_max(dl->spool, conf->daemon.audit_max_bytes);
  if (rc == 0)
    rc = pw_spool_load(dl->spool, &es, &n, err, errlen);
  for (i = 0; rc == 0 && i < n; i++) {
    struct entry *e = calloc(1, sizeof(*e));
    if (e == NULL || recv_get(dl, es[i].receiver) == NULL) {
      free(e);
      snprintf(err, errlen, "out of memory loading the spool");
      rc = -ENOMEM;
      break;
    }
    e->e = es[i];
    es[i].payload = NULL;
    e->durable = 1;
    entry_link(dl, e, NULL);
  }
  pw_spool_entries_free(es, n);
  if (rc < 0) {
    pw_delivery_free(dl);
    return rc;
  }
  /* The one listing of spool/dead/; from here on the count is kept in memory. */
  if (pw_spool_counts(dl->spool, &queued, &dead) == 0)
    dl->dead = (long)dead;
  *out = dl;
  return 0;
}

int pw_delivery_in_flight(const struct pw_delivery *dl) {
  const struct entry *e;
  int n;

  if (dl == NULL)
    return 0;
  n = dl->in_flight;
  for (e = dl->head; e != NULL; e = e->next)
    n += !e->busy && once_retry_pending(dl, e);
  return n;
}

void pw_delivery_receiver_counts(const struct pw_delivery *dl, const char *receiver, uint64_t *sent,
                                 uint64_t *failed) {
  size_t i;

  *sent = *failed = 0;
  for (i = 0; dl != NULL && i < dl->n_recv; i++)
    if (strcmp(dl->recv[i].id, receiver) == 0) {
      *sent = dl->recv[i].delivered;
      *failed = dl->recv[i].failed;
    }
}

void pw_delivery_counts(const struct pw_delivery *dl, long *queued, long *dead, long *dead_now) {
  if (queued != NULL)
    *queued = dl->n_entries;
  if (dead != NULL)
    *dead = dl->dead;
  if (dead_now != NULL)
    *dead_now = dl->dead_now;
}

void pw_delivery_stop(struct pw_delivery *dl) {
  if (dl != NULL)
    dl->stopping = 1;
}

void pw_delivery_free(struct pw_delivery *dl) {
  struct entry *e, *next;

  if (dl == NULL)
    return;
  for (e = dl->head; e != NULL; e = next) {
    next = e->next;
    entry_free(e);
  }
  pw_spool_free(dl->spool);
  pw_config_free(dl->conf);
  free(dl->recv);
  free(dl);
}
