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

  pw_log_warn("request refused: %s", msg);
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

/* `pacewatch import|record`: ROWS are checked first and applied only if all are good, as
 * without a daemon. Returns 0, or -EINVAL with MSG set. */
static int apply_samples(struct pw_inbox *ib, struct pending *p, const char *source,
                         int64_t fetched_at, json_t *rows, char *msg, size_t msglen) {
  struct pw_admit *a = ib->ctx.admit;
  size_t i, n = json_array_size(rows);
  int *inds = calloc(n + 1, sizeof(int));

  if (inds == NULL) {
    snprintf(msg, msglen, "out of memory");
    return -ENOMEM;
  }
  for (i = 0; i < n; i++) {
    const char *id;
    json_int_t as_of;
    double value;
    if (json_unpack(json_array_get(rows, i), "{s:s,s:I,s:F}", "indicator", &id, "as_of", &as_of,
                    "value", &value) != 0) {
      snprintf(msg, msglen, "row %zu is malformed", i + 1);
      free(inds);
      return -EINVAL;
    }
    inds[i] = pw_config_indicator_index(a->conf, id);
    if (inds[i] < 0) {
      snprintf(msg, msglen, "the running daemon has no indicator '%s' (reload it?)", id);
      free(inds);
      return -EINVAL;
    }
  }
  for (i = 0; i < n; i++) {
    json_t *row = json_array_get(rows, i);
    struct pw_admit_sample s;
    s.ind = inds[i];
    s.as_of = json_integer_value(json_object_get(row, "as_of"));
    s.own_as_of = 1;
    s.value = json_number_value(json_object_get(row, "value"));
    s.fetched_at = fetched_at;
    s.source = source;
    pw_admit_sample(a, &s, &p->stats);
  }
  pw_log_info("%s: %zu rows taken from the inbox: %u new, %u duplicates, %u revisions", source, n,
              p->stats.fresh, p->stats.duplicates + p->stats.unchanged, p->stats.revisions);
  free(inds);
  ib->ctx.sync(ib->ctx.data, synced, p);
  return 0;
}

static void apply(struct pw_inbox *ib, json_t *doc, const char *reply_path) {
  const char *op = NULL, *source = "import";
  json_int_t fetched_at = 0;
  json_t *rows;
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
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    reply_error(ib, reply_path, "out of memory");
    return;
  }
  p->ib = ib;
  snprintf(p->path, sizeof(p->path), "%s", reply_path);
  if (strcmp(op, "rebuild") == 0) {
    apply_rebuild(ib, p);
    return;
  }
  if (strcmp(op, "samples") != 0 ||
      json_unpack(doc, "{s:s,s:I,s:o}", "source", &source, "fetched_at", &fetched_at, "rows",
                  &rows) != 0 ||
      !json_is_array(rows)) {
    reply_error(ib, reply_path, "unknown or malformed request");
    free(p);
    return;
  }
  if (apply_samples(ib, p, source, fetched_at, rows, msg, sizeof(msg)) < 0) {
    reply_error(ib, reply_path, msg);
    free(p);
  }
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
