/*
 * inbox: see inbox.h. A look at the directory is one work item: it lists STATE_DIR/inbox,
 * reads and removes every NAME.req and hands the parsed requests to the loop, which applies
 * them in the order found. A reply is written by a work item of its own.
 */
#define PW_LOG_MODULE "inbox"
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "inbox.h"
#include "log.h"
#include "util.h"

#define PATH_SIZE 4400

struct pw_inbox {
  struct pw_inbox_context ctx;
  char dir[4200];
  int scanning, stopping;
};

/* A request read by a look, in the order found. */
struct request {
  struct request *next;
  json_t *doc; /* NULL when it did not parse */
  char reply[PATH_SIZE];
};

struct scan {
  uv_work_t work;
  struct pw_inbox *ib;
  struct request *found, **tail;
};

struct reply {
  uv_work_t work;
  char path[PATH_SIZE];
  char *text;
};

/* A request waiting for its samples to be durable. */
struct pending {
  struct pw_inbox *ib;
  char path[PATH_SIZE];
  struct pw_admit_stats stats;
};

/* ---- replies ---------------------------------------------------------------------------- */

static void reply_work(uv_work_t *w) {
  struct reply *r = w->data;

  if (pw_write_file_atomic(r->path, r->text, strlen(r->text)) < 0)
    pw_log_error("cannot write the reply %s", r->path);
}

static void reply_done(uv_work_t *w, int status) {
  struct reply *r = w->data;

  (void)status;
  free(r->text);
  free(r);
}

/* Writes DOC (borrowed) to PATH on the thread pool. */
static void write_reply(struct pw_inbox *ib, const char *path, json_t *doc) {
  struct reply *r = calloc(1, sizeof(*r));
  char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

  if (r == NULL || text == NULL) {
    pw_log_error("out of memory replying to %s", path);
    free(r);
    free(text);
    return;
  }
  snprintf(r->path, sizeof(r->path), "%s", path);
  r->text = text;
  r->work.data = r;
  if (uv_queue_work(ib->ctx.loop, &r->work, reply_work, reply_done) != 0) {
    /* Without the thread pool the CLI would wait in vain: written here, rarely as that is. */
    reply_work(&r->work);
    reply_done(&r->work, 0);
  }
}

static void reply_error(struct pw_inbox *ib, const char *path, const char *msg) {
  json_t *doc = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
  const char *name = strrchr(path, '/');

  pw_log_warn("request %s refused: %s", name != NULL ? name + 1 : path, msg);
  write_reply(ib, path, doc);
  json_decref(doc);
}

static void synced(void *arg, int rc) {
  struct pending *p = arg;
  json_t *doc;

  if (rc < 0)
    doc = json_pack("{s:b,s:s}", "ok", 0, "error", "the daemon could not write its journal");
  else
    doc = json_pack("{s:b,s:i,s:i,s:i}", "ok", 1, "new", (json_int_t)p->stats.fresh, "duplicates",
                    (json_int_t)(p->stats.duplicates + p->stats.unchanged), "revisions",
                    (json_int_t)p->stats.revisions);
  write_reply(p->ib, p->path, doc);
  json_decref(doc);
  free(p);
}

/* ---- requests --------------------------------------------------------------------------- */

/* `pacewatch rebuild`: every RRD file is written again from the journal. */
static void apply_rebuild(struct pw_inbox *ib, struct pending *p) {
  struct pw_admit *a = ib->ctx.admit;
  int i;

  for (i = 0; a->touched != NULL && i < a->conf->n_indicators; i++)
    a->touched(a->data, i, 1);
  pw_log_info("rebuilding every RRD file from the journal (requested by pacewatch rebuild)");
  ib->ctx.sync(ib->ctx.data, synced, p);
}

/* One row of a samples request, checked. */
struct row {
  int ind; /* index in the configuration the request was read against */
  int64_t as_of;
  double value;
};

/* A samples request, read and checked as any outside input (docs/storage.md#inbox). */
struct samples {
  char source[PW_INBOX_SOURCE_MAX + 1];
  int64_t fetched_at;
  struct row *rows;
  size_t n;
};

/* Whether SOURCE (valid UTF-8, as jansson guarantees) is a name that can be journaled and
 * logged as it is: 1 to PW_INBOX_SOURCE_MAX bytes, no control character (C0, DEL, C1: a tab or
 * a newline would forge a journal line). */
static int source_ok(const char *source) {
  const unsigned char *p = (const unsigned char *)source;
  size_t n = strlen(source);

  if (n == 0 || n > PW_INBOX_SOURCE_MAX)
    return 0;
  for (; *p != '\0'; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return 0;
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
      return 0;
  }
  return 1;
}

/* Whether ID could be an indicator id (docs/configuration.md: a-z, 0-9 and _, 1 to 64), so that
 * it can be named in a log line and a reply. */
static int id_like(const char *id) {
  size_t i, n = strlen(id);

  if (n == 0 || n > 64)
    return 0;
  for (i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
      return 0;
  return 1;
}

/* Reads and checks row I of a request against CONF with the rules of admission. Returns 0, or
 * -EINVAL with MSG naming the row and the field. */
static int read_row(const struct pw_config *conf, json_t *jr, size_t i, const char *source,
                    int64_t fetched_at, struct row *out, char *msg, size_t msglen) {
  json_t *jid = json_object_get(jr, "indicator"), *ja = json_object_get(jr, "as_of"),
         *jv = json_object_get(jr, "value");
  struct pw_admit_sample s;
  char why[160];
  const char *id;

  if (!json_is_object(jr)) {
    snprintf(msg, msglen, "row %zu: not an object", i + 1);
    return -EINVAL;
  }
  if (!json_is_string(jid) || !id_like(json_string_value(jid))) {
    snprintf(msg, msglen, "row %zu: indicator must be an indicator id", i + 1);
    return -EINVAL;
  }
  id = json_string_value(jid);
  out->ind = pw_config_indicator_index(conf, id);
  if (out->ind < 0) {
    snprintf(msg, msglen, "row %zu: the running daemon has no indicator '%s' (reload it?)", i + 1,
             id);
    return -EINVAL;
  }
  if (!json_is_integer(ja)) {
    snprintf(msg, msglen, "row %zu: as_of must be an integer (epoch seconds)", i + 1);
    return -EINVAL;
  }
  if (!json_is_number(jv)) {
    snprintf(msg, msglen, "row %zu: value must be a number", i + 1);
    return -EINVAL;
  }
  out->as_of = json_integer_value(ja);
  out->value = json_number_value(jv);
  s.ind = out->ind;
  s.as_of = out->as_of;
  s.own_as_of = 1;
  s.value = out->value;
  s.fetched_at = fetched_at;
  s.source = source;
  if (pw_admit_check(&conf->indicators[out->ind], &s, why, sizeof(why)) < 0) {
    snprintf(msg, msglen, "row %zu: indicator '%s': %s", i + 1, id, why);
    return -EINVAL;
  }
  return 0;
}

/* Reads DOC, a samples request, into OUT (rows owned: free OUT->rows) against CONF: every field
 * checked as strictly as any input from outside, every row by the rules of admission. Returns
 * 0, or -EINVAL / -ENOMEM with MSG naming the field. Pure: any thread. */
static int read_samples(const struct pw_config *conf, json_t *doc, struct samples *out, char *msg,
                        size_t msglen) {
  json_t *js = json_object_get(doc, "source"), *jf = json_object_get(doc, "fetched_at"),
         *rows = json_object_get(doc, "rows");
  size_t i, n;
  char t[40];

  memset(out, 0, sizeof(*out));
  if (!json_is_string(js) || !source_ok(json_string_value(js))) {
    snprintf(msg, msglen,
             "source must be 1 to %d bytes of printable text (no tab, newline or other control "
             "character)",
             PW_INBOX_SOURCE_MAX);
    return -EINVAL;
  }
  snprintf(out->source, sizeof(out->source), "%s", json_string_value(js));
  if (!json_is_integer(jf)) {
    snprintf(msg, msglen, "fetched_at must be an integer (epoch seconds)");
    return -EINVAL;
  }
  out->fetched_at = json_integer_value(jf);
  if (!pw_journal_time_ok(out->fetched_at)) {
    snprintf(msg, msglen, "fetched_at %s is outside the years " PW_JOURNAL_YEARS,
             pw_calendar_format(out->fetched_at, t, sizeof(t)));
    return -EINVAL;
  }
  if (!json_is_array(rows)) {
    snprintf(msg, msglen, "rows must be an array");
    return -EINVAL;
  }
  n = json_array_size(rows);
  out->rows = malloc((n + 1) * sizeof(*out->rows));
  if (out->rows == NULL) {
    snprintf(msg, msglen, "out of memory");
    return -ENOMEM;
  }
  for (i = 0; i < n; i++)
    if (read_row(conf, json_array_get(rows, i), i, out->source, out->fetched_at, &out->rows[i], msg,
                 msglen) < 0) {
      free(out->rows);
      out->rows = NULL;
      return -EINVAL;
    }
  out->n = n;
  return 0;
}

/* `pacewatch import|record`: every row was checked (read_samples), so all are admitted, as
 * without a daemon. */
static void apply_samples(struct pw_inbox *ib, struct pending *p, const struct samples *req) {
  struct pw_admit *a = ib->ctx.admit;
  size_t i;

  for (i = 0; i < req->n; i++) {
    struct pw_admit_sample s;
    s.ind = req->rows[i].ind;
    s.as_of = req->rows[i].as_of;
    s.own_as_of = 1;
    s.value = req->rows[i].value;
    s.fetched_at = req->fetched_at;
    s.source = req->source;
    pw_admit_sample(a, &s, &p->stats);
  }
  pw_log_info("%s: %zu rows taken from the inbox: %u new, %u duplicates, %u revisions", req->source,
              req->n, p->stats.fresh, p->stats.duplicates + p->stats.unchanged, p->stats.revisions);
  ib->ctx.sync(ib->ctx.data, synced, p);
}

static void apply(struct pw_inbox *ib, json_t *doc, const char *reply_path) {
  const char *op = NULL;
  struct samples req;
  struct pending *p;
  char msg[256];

  if (doc == NULL || json_unpack(doc, "{s:s}", "op", &op) != 0) {
    reply_error(ib, reply_path, "malformed request");
    return;
  }
  if (ib->stopping) {
    reply_error(ib, reply_path, "the daemon is stopping; try again once it runs");
    return;
  }
  if (strcmp(op, "rebuild") != 0 && strcmp(op, "samples") != 0) {
    reply_error(ib, reply_path, "unknown request (op must be \"samples\" or \"rebuild\")");
    return;
  }
  if (strcmp(op, "samples") == 0 &&
      read_samples(ib->ctx.admit->conf, doc, &req, msg, sizeof(msg)) < 0) {
    reply_error(ib, reply_path, msg);
    return;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    reply_error(ib, reply_path, "out of memory");
    if (strcmp(op, "samples") == 0)
      free(req.rows);
    return;
  }
  p->ib = ib;
  snprintf(p->path, sizeof(p->path), "%s", reply_path);
  if (strcmp(op, "rebuild") == 0) {
    apply_rebuild(ib, p);
    return;
  }
  apply_samples(ib, p, &req);
  free(req.rows);
}

/* ---- looking at the directory ----------------------------------------------------------- */

static void scan_work(uv_work_t *w) {
  struct scan *sc = w->data;
  char req[PATH_SIZE];
  json_error_t jerr;
  struct dirent *e;
  DIR *dp = opendir(sc->ib->dir);

  if (dp == NULL)
    return;
  while ((e = readdir(dp)) != NULL) {
    size_t len = strlen(e->d_name);
    struct request *r;
    if (len < 5 || strcmp(e->d_name + len - 4, ".req") != 0)
      continue;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
      break; /* taken at the next look */
    snprintf(req, sizeof(req), "%s/%s", sc->ib->dir, e->d_name);
    snprintf(r->reply, sizeof(r->reply), "%s/%.*s.reply", sc->ib->dir, (int)(len - 4), e->d_name);
    r->doc = json_load_file(req, 0, &jerr);
    unlink(req);
    *sc->tail = r;
    sc->tail = &r->next;
  }
  closedir(dp);
}

static void scan_done(uv_work_t *w, int status) {
  struct scan *sc = w->data;
  struct request *r, *next;

  (void)status;
  sc->ib->scanning = 0;
  for (r = sc->found; r != NULL; r = next) {
    next = r->next;
    apply(sc->ib, r->doc, r->reply);
    json_decref(r->doc);
    free(r);
  }
  free(sc);
}

void pw_inbox_poll(struct pw_inbox *ib) {
  struct scan *sc;
  int rc;

  if (ib->scanning || ib->stopping)
    return;
  sc = calloc(1, sizeof(*sc));
  if (sc == NULL)
    return;
  sc->ib = ib;
  sc->tail = &sc->found;
  sc->work.data = sc;
  rc = uv_queue_work(ib->ctx.loop, &sc->work, scan_work, scan_done);
  if (rc != 0) {
    pw_log_error("cannot look at the inbox: %s", uv_strerror(rc));
    free(sc);
    return;
  }
  ib->scanning = 1;
}

int pw_inbox_init(const struct pw_inbox_context *ctx, struct pw_inbox **out) {
  struct pw_inbox *ib = calloc(1, sizeof(*ib));

  *out = NULL;
  if (ib == NULL)
    return -ENOMEM;
  ib->ctx = *ctx;
  snprintf(ib->dir, sizeof(ib->dir), "%s/inbox", ctx->state_dir);
  ib->ctx.state_dir = NULL; /* the caller's string may go with its configuration */
  *out = ib;
  return 0;
}

void pw_inbox_stop(struct pw_inbox *ib) {
  if (ib != NULL)
    ib->stopping = 1;
}

void pw_inbox_free(struct pw_inbox *ib) {
  free(ib);
}
