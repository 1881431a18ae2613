/*
 * inbox: see inbox.h. A look at the directory is one work item: it lists STATE_DIR/inbox, and
 * reads, removes and checks every NAME.req there, the JSON parse and every row's check against
 * the configuration generation the look started under included, so that a request of 300,000
 * rows costs the loop nothing until its rows are admitted. The loop applies the checked requests
 * one at a time, in the order found; the rows of a samples request are admitted in slices (at
 * most SLICE_ROWS rows or about SLICE_NS each, one slice per turn of the loop), and their
 * indicators judged once per slice, so the loop keeps answering HTTP and handling polls during
 * a large import. A reply is written by a work item of its own.
 */
#define PW_LOG_MODULE "inbox"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calendar.h"
#include "clock.h"
#include "inbox.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define PATH_SIZE 4400

/* A slice of an import: this many rows at most, and it ends after about this long (checked
 * every 256 rows), whichever comes first. */
#define SLICE_ROWS 4096
#define SLICE_NS (4u * 1000u * 1000u)

/* A request file larger than this is refused unread (the CLI's import of a province's whole
 * history is some tens of megabytes). */
#define REQUEST_MAX ((off_t)256 << 20)

/* One row of a samples request, checked. */
struct row {
  int ind; /* index in the generation the request refers to; -1: dropped (see remap) */
  int64_t as_of;
  double value;
  char *note; /* clean (pw_note_clean), owned; NULL for none */
};

/* A samples request, read and checked as any outside input (docs/storage.md#inbox). */
struct samples {
  char source[PW_INBOX_SOURCE_MAX + 1];
  int64_t fetched_at;
  struct row *rows;
  size_t n;
};

enum op { OP_BAD, OP_REBUILD, OP_SAMPLES, OP_RETRACT, OP_EXPLAIN };

/* A retract or explain request, checked (docs/storage.md#inbox). The indicator is kept by name:
 * it is looked up in the generation current when the request is applied. */
struct note_op {
  char indicator[65];
  int64_t as_of, at;
  int has_as_of, has_at;
  char source[PW_INBOX_SOURCE_MAX + 1];
  char *reason, *measures; /* cleaned, owned; "" when not given */
  char catch_up[11];       /* "YYYY-MM-DD" or "" */
};

/* A request read and checked by a look, in the order found. */
struct request {
  struct request *next;
  enum op op;
  char error[256];        /* OP_BAD: why it is refused */
  struct samples samples; /* OP_SAMPLES */
  struct note_op note_op; /* OP_RETRACT, OP_EXPLAIN */
  struct pw_config *conf; /* OP_SAMPLES: the generation its rows' indices refer to (a reference
                           * taken on the loop) */
  char reply[PATH_SIZE];
};

struct scan {
  uv_work_t work;
  struct pw_inbox *ib;
  struct pw_config *conf; /* the generation requests are checked against (a reference) */
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
  enum op op;    /* OP_RETRACT and OP_EXPLAIN reply with the as_of instead of counts */
  int64_t as_of; /* the as_of retracted or explained */
};

/* The samples request being admitted, slice by slice. Freed in its idle handle's close
 * callback. */
struct import {
  uv_idle_t idle; /* active while rows are left: one slice per turn of the loop */
  struct pw_inbox *ib;
  struct request *r;
  struct pending *p;
  size_t next;           /* the next row to admit */
  size_t dropped;        /* rows of indicators a reload removed meanwhile */
  unsigned char *marked; /* per indicator of r->conf: touched in this slice */
  int *touched;          /* the marked indicators, N_TOUCHED of them */
  size_t n_touched;
};

/* At most this many strangers in inbox/ are named in the log (each once). */
#define STRANGERS_MAX 64

struct pw_inbox {
  struct pw_inbox_context ctx;
  char dir[4200];
  /* Names of things in inbox/ named like requests that cannot be taken (a directory), logged
   * once each. Only the look on the thread pool touches them (one look at a time). */
  char *strangers[STRANGERS_MAX];
  int n_strangers;
  int scanning, stopping;
  struct request *queue, **queue_tail; /* checked requests not yet applied */
  struct import *current;              /* the import being admitted, or NULL */
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
  char *text = doc != NULL ? pw_json_dumps(doc, JSON_COMPACT) : NULL;

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
  size_t len;

  name = name != NULL ? name + 1 : path;
  len = strlen(name);
  if (len > 6 && strcmp(name + len - 6, ".reply") == 0)
    len -= 6;
  pw_log_warn("request %.*s.req refused: %s", (int)(name - path + len), path, msg);
  write_reply(ib, path, doc);
  json_decref(doc);
}

static void synced(void *arg, int rc) {
  struct pending *p = arg;
  json_t *doc;

  if (rc < 0)
    doc = json_pack("{s:b,s:s}", "ok", 0, "error", "the daemon could not write its journal");
  else if (p->op == OP_RETRACT || p->op == OP_EXPLAIN)
    doc = json_pack("{s:b,s:I}", "ok", 1, "as_of", (json_int_t)p->as_of);
  else
    doc =
        json_pack("{s:b,s:I,s:I,s:I,s:I}", "ok", 1, "new", (json_int_t)p->stats.fresh, "duplicates",
                  (json_int_t)(p->stats.duplicates + p->stats.unchanged), "revisions",
                  (json_int_t)p->stats.revisions, "notes", (json_int_t)p->stats.notes);
  write_reply(p->ib, p->path, doc);
  json_decref(doc);
  free(p);
}

/* ---- checking a request (any thread) ---------------------------------------------------- */

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

/* Reads row I of a request (JR, a JSON value) into OUT against CONF: an object with an
 * indicator of CONF, an integer as_of, a number value and optionally a note (a string that
 * pw_note_clean accepts; OUT->note is then owned). PREV is the row before (rows come
 * grouped by indicator: its indicator is tried before a search). Returns 0, or -EINVAL with MSG
 * naming the row and the field. */
static int read_row(const struct pw_config *conf, json_t *jr, size_t i, const struct row *prev,
                    struct row *out, char *msg, size_t msglen) {
  json_t *jid = json_object_get(jr, "indicator"), *ja = json_object_get(jr, "as_of"),
         *jv = json_object_get(jr, "value"), *jn = json_object_get(jr, "note");
  char note[PW_NOTE_BUF];
  const char *id;
  int nl = 0;

  if (!json_is_object(jr)) {
    snprintf(msg, msglen, "row %zu: not an object", i + 1);
    return -EINVAL;
  }
  if (!json_is_string(jid) || !id_like(json_string_value(jid))) {
    snprintf(msg, msglen, "row %zu: indicator must be an indicator id", i + 1);
    return -EINVAL;
  }
  id = json_string_value(jid);
  if (prev != NULL && strcmp(conf->indicators[prev->ind].id, id) == 0)
    out->ind = prev->ind;
  else
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
  if (jn != NULL && !json_is_null(jn)) {
    nl = json_is_string(jn)
             ? pw_note_clean(json_string_value(jn), json_string_length(jn), note, sizeof(note))
             : -EINVAL;
    if (nl < 0) {
      snprintf(msg, msglen, "row %zu: note must be a string of at most %d characters of UTF-8 text",
               i + 1, PW_NOTE_MAX);
      return -EINVAL;
    }
  }
  out->as_of = json_integer_value(ja);
  out->value = json_number_value(jv);
  out->note = NULL;
  if (nl > 0 && (out->note = strdup(note)) == NULL) {
    snprintf(msg, msglen, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* Frees the rows of SM and their notes. */
static void rows_free(struct samples *sm) {
  size_t i;

  for (i = 0; sm->rows != NULL && i < sm->n; i++)
    free(sm->rows[i].note);
  free(sm->rows);
}

/* A request's text, read one value at a time: jansson parses each value (a key, a field, one
 * row), this reader walks the structure between them. A document of 300,000 rows as one
 * jansson tree took some 200 MB; read this way a row costs its 24 bytes. */
struct reader {
  const char *start, *p, *end;
  char *msg;
  size_t msglen;
};

static void skip_space(struct reader *rd) {
  while (rd->p < rd->end && (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n' || *rd->p == '\r'))
    rd->p++;
}

/* Takes the character C (after white space). Returns 0 or -EINVAL with the message set. */
static int take(struct reader *rd, char c) {
  skip_space(rd);
  if (rd->p < rd->end && *rd->p == c) {
    rd->p++;
    return 0;
  }
  snprintf(rd->msg, rd->msglen, "malformed request (expected '%c' at byte %ld)", c,
           (long)(rd->p - rd->start));
  return -EINVAL;
}

/* Whether the next character (after white space) is C, which is then taken. */
static int taken(struct reader *rd, char c) {
  skip_space(rd);
  if (rd->p < rd->end && *rd->p == c) {
    rd->p++;
    return 1;
  }
  return 0;
}

/* The next JSON value (owned), or NULL with the message set. */
static json_t *next_value(struct reader *rd) {
  json_error_t jerr;
  json_t *v;

  skip_space(rd);
  v = json_loadb(rd->p, (size_t)(rd->end - rd->p), JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
  if (v == NULL) {
    snprintf(rd->msg, rd->msglen, "malformed request (%s)", jerr.text);
    return NULL;
  }
  rd->p += jerr.position;
  return v;
}

/* The rows array at RD into OUT->rows, each read by read_row. Returns 0, or -EINVAL / -ENOMEM
 * with the message set. */
static int read_rows(struct reader *rd, const struct pw_config *conf, struct samples *out) {
  size_t cap = 0;

  if (take(rd, '[') < 0) {
    snprintf(rd->msg, rd->msglen, "rows must be an array");
    return -EINVAL;
  }
  if (taken(rd, ']'))
    return 0;
  do {
    json_t *jr;
    int rc;
    if (out->n == cap) {
      /* Rows in a request are some 60 bytes each: a first guess from what is left. */
      size_t ncap = cap ? cap * 2 : (size_t)(rd->end - rd->p) / 48 + 16;
      struct row *nr = realloc(out->rows, ncap * sizeof(*nr));
      if (nr == NULL) {
        snprintf(rd->msg, rd->msglen, "out of memory");
        return -ENOMEM;
      }
      out->rows = nr;
      cap = ncap;
    }
    jr = next_value(rd);
    if (jr == NULL)
      return -EINVAL;
    rc = read_row(conf, jr, out->n, out->n > 0 ? &out->rows[out->n - 1] : NULL, &out->rows[out->n],
                  rd->msg, rd->msglen);
    json_decref(jr);
    if (rc < 0)
      return rc;
    out->n++;
  } while (taken(rd, ','));
  return take(rd, ']');
}

/* The top-level fields of a request other than rows. */
struct fields {
  json_t *op, *source, *fetched_at;
  json_t *indicator, *as_of, *at, *reason, *measures, *catch_up; /* retract and explain */
  int has_rows;
  char unknown[40]; /* the first field of no meaning in any request, "" when none */
};

/* Reads TEXT (LEN bytes), a request, against CONF: the fields into F (owned), the rows into
 * OUT. Returns 0, or -EINVAL / -ENOMEM with MSG set. */
static int read_text(const struct pw_config *conf, const char *text, size_t len, struct fields *f,
                     struct samples *out, char *msg, size_t msglen) {
  struct reader rd = {text, text, text + len, msg, msglen};
  int rc;

  if (take(&rd, '{') < 0) {
    snprintf(msg, msglen, "malformed request (not a JSON object)");
    return -EINVAL;
  }
  if (!taken(&rd, '}')) {
    do {
      json_t *key = next_value(&rd), **slot = NULL;
      const char *k = json_string_value(key);
      if (k == NULL) {
        if (key != NULL)
          snprintf(msg, msglen, "malformed request (a key that is not a string)");
        json_decref(key);
        return -EINVAL;
      }
      if (take(&rd, ':') < 0) {
        json_decref(key);
        return -EINVAL;
      }
      if (strcmp(k, "rows") == 0) {
        rc = f->has_rows ? -EEXIST : read_rows(&rd, conf, out);
        f->has_rows = 1;
      } else {
        slot = strcmp(k, "op") == 0           ? &f->op
               : strcmp(k, "source") == 0     ? &f->source
               : strcmp(k, "fetched_at") == 0 ? &f->fetched_at
               : strcmp(k, "indicator") == 0  ? &f->indicator
               : strcmp(k, "as_of") == 0      ? &f->as_of
               : strcmp(k, "at") == 0         ? &f->at
               : strcmp(k, "reason") == 0     ? &f->reason
               : strcmp(k, "measures") == 0   ? &f->measures
               : strcmp(k, "catch_up") == 0   ? &f->catch_up
                                              : NULL;
        /* Named in the reply only when it reads as a name (UTF-8 cut short would make the
         * reply unwritable). */
        if (slot == NULL && f->unknown[0] == '\0')
          snprintf(f->unknown, sizeof(f->unknown), "%s",
                   id_like(k) && strlen(k) < sizeof(f->unknown) ? k : "an unnamed field");
        if (slot != NULL && *slot != NULL) {
          rc = -EEXIST;
        } else {
          json_t *v = next_value(&rd);
          rc = v != NULL ? 0 : -EINVAL;
          if (slot != NULL)
            *slot = v;
          else
            json_decref(v); /* a field of no meaning here */
        }
      }
      if (rc == -EEXIST)
        snprintf(msg, msglen, "malformed request (%s given twice)", k);
      json_decref(key);
      if (rc < 0)
        return rc == -EEXIST ? -EINVAL : rc;
    } while (taken(&rd, ','));
    if (take(&rd, '}') < 0)
      return -EINVAL;
  }
  skip_space(&rd);
  if (rd.p != rd.end) {
    snprintf(msg, msglen, "malformed request (text after the object)");
    return -EINVAL;
  }
  return 0;
}

/* Checks the fields of a samples request, and every row of OUT by the rules of admission.
 * Returns 0 or -EINVAL with MSG naming the field. */
static int check_samples(const struct pw_config *conf, const struct fields *f, struct samples *out,
                         char *msg, size_t msglen) {
  struct pw_admit_sample s;
  char t[40], why[160];
  size_t i;

  if (!json_is_string(f->source) || !source_ok(json_string_value(f->source))) {
    snprintf(msg, msglen,
             "source must be 1 to %d bytes of printable text (no tab, newline or other control "
             "character)",
             PW_INBOX_SOURCE_MAX);
    return -EINVAL;
  }
  snprintf(out->source, sizeof(out->source), "%s", json_string_value(f->source));
  if (!json_is_integer(f->fetched_at)) {
    snprintf(msg, msglen, "fetched_at must be an integer (epoch seconds)");
    return -EINVAL;
  }
  out->fetched_at = json_integer_value(f->fetched_at);
  if (!pw_journal_time_ok(out->fetched_at)) {
    snprintf(msg, msglen, "fetched_at %s is outside the years " PW_JOURNAL_YEARS,
             pw_calendar_format(out->fetched_at, t, sizeof(t)));
    return -EINVAL;
  }
  if (!f->has_rows) {
    snprintf(msg, msglen, "rows must be an array");
    return -EINVAL;
  }
  s.own_as_of = 1;
  s.fetched_at = out->fetched_at;
  s.source = out->source;
  s.note = NULL;
  for (i = 0; i < out->n; i++) {
    s.ind = out->rows[i].ind;
    s.as_of = out->rows[i].as_of;
    s.value = out->rows[i].value;
    if (pw_admit_check(&conf->indicators[s.ind], &s, why, sizeof(why)) < 0) {
      snprintf(msg, msglen, "row %zu: indicator '%s': %s", i + 1, conf->indicators[s.ind].id, why);
      return -EINVAL;
    }
  }
  return 0;
}

/* Cleans the optional text field V (a string, null or absent) named NAME into *OUT (owned, ""
 * when not given). Returns 0 or -EINVAL / -ENOMEM with MSG set. */
static int note_text(json_t *v, const char *name, char **out, char *msg, size_t msglen) {
  char buf[PW_EXPLANATION_BUF];
  int n = 0;

  if (v != NULL && !json_is_null(v))
    n = json_is_string(v) ? pw_text_clean(json_string_value(v), json_string_length(v), buf,
                                          sizeof(buf), PW_EXPLANATION_MAX)
                          : -EINVAL;
  if (n < 0) {
    snprintf(msg, msglen, "%s must be a string of at most %d characters of UTF-8 text", name,
             PW_EXPLANATION_MAX);
    return -EINVAL;
  }
  buf[n] = '\0';
  *out = strdup(buf);
  if (*out == NULL) {
    snprintf(msg, msglen, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* An optional time field V named NAME: absent or null (*HAS 0), or an integer in the years the
 * journal keeps. Returns 0 or -EINVAL with MSG set. */
static int note_time(json_t *v, const char *name, int64_t *out, int *has, char *msg,
                     size_t msglen) {
  *has = 0;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_integer(v) || !pw_journal_time_ok(json_integer_value(v))) {
    snprintf(msg, msglen, "%s must be an integer (epoch seconds) in the years " PW_JOURNAL_YEARS,
             name);
    return -EINVAL;
  }
  *out = json_integer_value(v);
  *has = 1;
  return 0;
}

/* Checks a retract or explain request (OP) of fields F against CONF into OUT. Returns 0 or
 * -EINVAL / -ENOMEM with MSG naming the field. */
static int check_note_op(const struct pw_config *conf, enum op op, const struct fields *f,
                         struct note_op *out, char *msg, size_t msglen) {
  const char *what = op == OP_RETRACT ? "retract" : "explain";
  const char *id = json_string_value(f->indicator);

  if (f->unknown[0] != '\0' || f->has_rows || f->fetched_at != NULL) {
    snprintf(msg, msglen, "%s is not a field of a %s request",
             f->unknown[0] ? f->unknown
             : f->has_rows ? "rows"
                           : "fetched_at",
             what);
    return -EINVAL;
  }
  if (id == NULL || !id_like(id)) {
    snprintf(msg, msglen, "indicator must be an indicator id");
    return -EINVAL;
  }
  if (pw_config_indicator_index(conf, id) < 0) {
    snprintf(msg, msglen, "the running daemon has no indicator '%s' (reload it?)", id);
    return -EINVAL;
  }
  snprintf(out->indicator, sizeof(out->indicator), "%s", id);
  if (note_time(f->as_of, "as_of", &out->as_of, &out->has_as_of, msg, msglen) < 0 ||
      note_time(f->at, "at", &out->at, &out->has_at, msg, msglen) < 0)
    return -EINVAL;
  if (op == OP_RETRACT && !out->has_as_of) {
    snprintf(msg, msglen, "as_of is required: the as_of of the sample to withdraw");
    return -EINVAL;
  }
  if (f->source == NULL && op == OP_RETRACT) {
    snprintf(out->source, sizeof(out->source), "record");
  } else if (!json_is_string(f->source) || !source_ok(json_string_value(f->source))) {
    snprintf(msg, msglen,
             "source must be 1 to %d bytes of printable text (no tab, newline or other control "
             "character)",
             PW_INBOX_SOURCE_MAX);
    return -EINVAL;
  } else {
    snprintf(out->source, sizeof(out->source), "%s", json_string_value(f->source));
  }
  if (note_text(f->reason, "reason", &out->reason, msg, msglen) < 0 ||
      note_text(f->measures, "measures", &out->measures, msg, msglen) < 0)
    return -EINVAL;
  if (op == OP_RETRACT && (out->reason[0] == '\0' || f->measures != NULL || f->catch_up != NULL)) {
    snprintf(msg, msglen,
             out->reason[0] == '\0' ? "reason is required: why the sample is withdrawn"
                                    : "measures and catch_up are fields of explain");
    return -EINVAL;
  }
  if (op == OP_EXPLAIN && out->reason[0] == '\0' && out->measures[0] == '\0') {
    snprintf(msg, msglen, "an explanation needs a reason or measures");
    return -EINVAL;
  }
  if (f->catch_up != NULL && !json_is_null(f->catch_up)) {
    const char *d = json_string_value(f->catch_up);
    if (d == NULL || (d[0] != '\0' && !pw_journal_date_ok(d, json_string_length(f->catch_up)))) {
      snprintf(msg, msglen, "catch_up must be a date YYYY-MM-DD (or empty)");
      return -EINVAL;
    }
    snprintf(out->catch_up, sizeof(out->catch_up), "%s", d);
  }
  return 0;
}

static void note_op_free(struct note_op *n) {
  free(n->reason);
  free(n->measures);
  n->reason = n->measures = NULL;
}

/* Reads TEXT (LEN bytes) into R against CONF: OP_BAD with R->error, or a request whose every
 * field and row is checked. Pure: any thread. */
static void read_request_text(const struct pw_config *conf, const char *text, size_t len,
                              struct request *r) {
  struct fields f;
  const char *op;
  int rc;

  memset(&f, 0, sizeof(f));
  r->op = OP_BAD;
  rc = read_text(conf, text, len, &f, &r->samples, r->error, sizeof(r->error));
  op = json_string_value(f.op);
  if (rc == 0 && op == NULL) {
    snprintf(r->error, sizeof(r->error), "malformed request (no op)");
  } else if (rc == 0 && strcmp(op, "rebuild") == 0) {
    r->op = OP_REBUILD;
  } else if (rc == 0 && (strcmp(op, "retract") == 0 || strcmp(op, "explain") == 0)) {
    enum op o = strcmp(op, "retract") == 0 ? OP_RETRACT : OP_EXPLAIN;
    if (check_note_op(conf, o, &f, &r->note_op, r->error, sizeof(r->error)) == 0)
      r->op = o;
    else
      note_op_free(&r->note_op);
  } else if (rc == 0 && strcmp(op, "samples") != 0) {
    snprintf(r->error, sizeof(r->error),
             "unknown request (op must be \"samples\", \"rebuild\", \"retract\" or \"explain\")");
  } else if (rc == 0 && check_samples(conf, &f, &r->samples, r->error, sizeof(r->error)) == 0) {
    r->op = OP_SAMPLES;
  }
  if (r->op != OP_SAMPLES) {
    rows_free(&r->samples);
    memset(&r->samples, 0, sizeof(r->samples));
  }
  json_decref(f.op);
  json_decref(f.source);
  json_decref(f.fetched_at);
  json_decref(f.indicator);
  json_decref(f.as_of);
  json_decref(f.at);
  json_decref(f.reason);
  json_decref(f.measures);
  json_decref(f.catch_up);
}

/* ---- requests --------------------------------------------------------------------------- */

static void request_free(struct request *r) {
  if (r == NULL)
    return;
  rows_free(&r->samples);
  note_op_free(&r->note_op);
  pw_config_free(r->conf);
  free(r);
}

/* `pacewatch retract` and `pacewatch explain`: applied to the indicator of that name in the
 * current generation, durable before the reply (docs/storage.md#inbox). */
static void apply_note_op(struct pw_inbox *ib, struct request *r, struct pending *p) {
  struct pw_admit *a = ib->ctx.admit;
  const struct note_op *n = &r->note_op;
  int ind = pw_config_indicator_index(a->conf, n->indicator);
  int64_t at = n->has_at ? n->at : pw_clock_now();
  char err[256];
  int rc;

  if (ind < 0) {
    snprintf(err, sizeof(err), "the running daemon has no indicator '%s' (reload it?)",
             n->indicator);
    rc = -ENOENT;
  } else if (r->op == OP_RETRACT) {
    rc = pw_admit_retract(a, ind, n->as_of, at, n->source, n->reason, err, sizeof(err));
    p->as_of = n->as_of;
  } else {
    rc = pw_admit_explain(a, ind, n->has_as_of ? n->as_of : PW_JOURNAL_AS_OF_LATEST, at, n->source,
                          n->reason, n->measures, n->catch_up, &p->as_of, err, sizeof(err));
  }
  if (rc < 0) {
    reply_error(ib, p->path, err);
    free(p);
    return;
  }
  p->op = r->op;
  ib->ctx.sync(ib->ctx.data, synced, p);
}

/* `pacewatch rebuild`: every RRD file is written again from the journal. */
static void apply_rebuild(struct pw_inbox *ib, struct pending *p) {
  struct pw_admit *a = ib->ctx.admit;
  int i;

  for (i = 0; a->touched != NULL && i < a->conf->n_indicators; i++)
    a->touched(a->data, i, 1);
  pw_log_info("rebuilding every RRD file from the journal (requested by pacewatch rebuild)");
  ib->ctx.sync(ib->ctx.data, synced, p);
}

static void next_request(struct pw_inbox *ib);

/* A reload swapped the generation since the rows were read: the rows still to admit get the
 * indices of the running one, by indicator id, and -1 for an indicator it no longer has (those
 * rows are dropped, with a log line saying how many). Returns 0 or -ENOMEM. */
static int remap(struct import *im) {
  struct pw_config *now = im->ib->ctx.admit->conf, *was = im->r->conf;
  struct samples *sm = &im->r->samples;
  int *map = malloc(((size_t)was->n_indicators + 1) * sizeof(*map));
  unsigned char *marked = calloc((size_t)now->n_indicators + 1, 1);
  int *touched = malloc(((size_t)now->n_indicators + 1) * sizeof(*touched));
  size_t i;
  int k;

  if (map == NULL || marked == NULL || touched == NULL) {
    free(map);
    free(marked);
    free(touched);
    return -ENOMEM;
  }
  for (k = 0; k < was->n_indicators; k++)
    map[k] = -2; /* not looked up yet */
  for (i = im->next; i < sm->n; i++) {
    int *ind = &sm->rows[i].ind;
    if (*ind < 0)
      continue;
    if (map[*ind] == -2)
      map[*ind] = pw_config_indicator_index(now, was->indicators[*ind].id);
    *ind = map[*ind];
  }
  free(map);
  /* Between slices nothing is marked: the marks start anew for the new generation. */
  free(im->marked);
  free(im->touched);
  im->marked = marked;
  im->touched = touched;
  im->n_touched = 0;
  pw_config_free(was);
  im->r->conf = pw_config_ref(now);
  return 0;
}

/* Admits the next rows of the import: one slice, or with ALL every row left (at stop). Each
 * indicator the slice touched is judged once, at its end, not once per row: judging is a pass
 * over the indicator's samples, and a row per judgement made an import quadratic. */
static void admit_slice(struct import *im, int all) {
  struct pw_admit *a = im->ib->ctx.admit;
  struct samples *sm = &im->r->samples;
  uint64_t start = uv_hrtime();
  size_t end = all || sm->n - im->next <= SLICE_ROWS ? sm->n : im->next + SLICE_ROWS, k;

  if (a->conf != im->r->conf && remap(im) < 0) {
    pw_log_error("%s: out of memory following a reload during an import; %zu rows dropped",
                 sm->source, sm->n - im->next);
    im->dropped += sm->n - im->next;
    im->next = sm->n;
    return;
  }
  while (im->next < end) {
    const struct row *row = &sm->rows[im->next++];
    struct pw_admit_sample s;
    int rc;
    if (row->ind < 0) {
      im->dropped++;
      continue;
    }
    s.ind = row->ind;
    s.as_of = row->as_of;
    s.own_as_of = 1;
    s.value = row->value;
    s.fetched_at = sm->fetched_at;
    s.source = sm->source;
    s.note = row->note;
    rc = pw_admit_record(a, &s, &im->p->stats);
    if ((rc == PW_SAMPLE_NEW || rc == PW_SAMPLE_REVISION) && !im->marked[row->ind]) {
      im->marked[row->ind] = 1;
      im->touched[im->n_touched++] = row->ind;
    }
    if (!all && (im->next & 255) == 0 && uv_hrtime() - start > SLICE_NS)
      break;
  }
  for (k = 0; k < im->n_touched; k++) {
    im->marked[im->touched[k]] = 0;
    pw_admit_evaluate(a, im->touched[k]);
  }
  im->n_touched = 0;
}

static void import_closed(uv_handle_t *h) {
  struct import *im = h->data;

  free(im->marked);
  free(im->touched);
  free(im);
}

/* Every row is in: the reply waits for durability; the next request may start. */
static void import_done(struct import *im) {
  struct pw_inbox *ib = im->ib;
  struct samples *sm = &im->r->samples;
  struct pending *p = im->p;

  if (im->dropped > 0)
    pw_log_warn("%s: %zu rows of indicators removed by a reload during the import were dropped",
                sm->source, im->dropped);
  pw_log_info("%s: %zu rows taken from the inbox: %u new, %u duplicates, %u revisions", sm->source,
              sm->n - im->dropped, p->stats.fresh, p->stats.duplicates + p->stats.unchanged,
              p->stats.revisions);
  ib->current = NULL;
  request_free(im->r);
  im->r = NULL;
  im->p = NULL;
  uv_idle_stop(&im->idle);
  uv_close((uv_handle_t *)&im->idle, import_closed);
  ib->ctx.sync(ib->ctx.data, synced, p);
  next_request(ib);
}

/* An idle handle runs once per turn of the loop and makes the loop poll without waiting, so
 * I/O that is ready (an HTTP request, an answer) is handled between two slices. (A timer of 0
 * ms re-armed from its own callback would run again in the same turn.) */
static void on_slice(uv_idle_t *h) {
  struct import *im = h->data;

  admit_slice(im, 0);
  if (im->next >= im->r->samples.n)
    import_done(im);
}

/* Starts admitting the rows of R (taken) for P (taken). */
static void start_import(struct pw_inbox *ib, struct request *r, struct pending *p) {
  struct import *im = calloc(1, sizeof(*im));
  int n = r->conf->n_indicators, rc;

  if (im != NULL) {
    im->marked = calloc((size_t)n + 1, 1);
    im->touched = malloc(((size_t)n + 1) * sizeof(*im->touched));
  }
  if (im == NULL || im->marked == NULL || im->touched == NULL ||
      uv_idle_init(ib->ctx.loop, &im->idle) != 0) {
    if (im != NULL) {
      free(im->marked);
      free(im->touched);
    }
    free(im);
    reply_error(ib, p->path, "out of memory");
    free(p);
    request_free(r);
    return;
  }
  im->idle.data = im;
  im->ib = ib;
  im->r = r;
  im->p = p;
  ib->current = im;
  rc = uv_idle_start(&im->idle, on_slice);
  if (rc != 0) {
    pw_log_error("cannot start the import's idle handle (%s); admitting it at once",
                 uv_strerror(rc));
    admit_slice(im, 1);
    import_done(im);
  }
}

static void apply(struct pw_inbox *ib, struct request *r) {
  struct pending *p;

  if (r->op == OP_BAD) {
    reply_error(ib, r->reply, r->error);
    request_free(r);
    return;
  }
  if (ib->stopping) {
    reply_error(ib, r->reply, "the daemon is stopping; try again once it runs");
    request_free(r);
    return;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    reply_error(ib, r->reply, "out of memory");
    request_free(r);
    return;
  }
  p->ib = ib;
  snprintf(p->path, sizeof(p->path), "%s", r->reply);
  if (r->op == OP_REBUILD) {
    request_free(r);
    apply_rebuild(ib, p);
    return;
  }
  if (r->op == OP_RETRACT || r->op == OP_EXPLAIN) {
    apply_note_op(ib, r, p);
    request_free(r);
    return;
  }
  start_import(ib, r, p);
}

/* Applies the queued requests, one at a time: an import holds the rest until its rows are in. */
static void next_request(struct pw_inbox *ib) {
  while (ib->current == NULL && ib->queue != NULL) {
    struct request *r = ib->queue;
    ib->queue = r->next;
    if (ib->queue == NULL)
      ib->queue_tail = &ib->queue;
    r->next = NULL;
    apply(ib, r);
  }
}

/* ---- looking at the directory (thread pool) --------------------------------------------- */

/* Reads the request file PATH into R against CONF (read_request_text). Worker thread: CONF is
 * only read. */
static void read_request(const struct pw_config *conf, const char *path, struct request *r) {
  struct stat st;
  char *text = NULL;
  size_t len = 0;
  int fd;

  r->op = OP_BAD;
  /* Not following a planted symlink, not waiting on a planted FIFO. */
  fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP) {
    snprintf(r->error, sizeof(r->error), "the request is a symbolic link (not followed)");
    return;
  }
  if (fd < 0) {
    snprintf(r->error, sizeof(r->error), "cannot read the request: %s", strerror(errno));
    return;
  }
  if (fstat(fd, &st) != 0) {
    snprintf(r->error, sizeof(r->error), "cannot read the request: %s", strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(r->error, sizeof(r->error), "the request is not a regular file%s",
             S_ISFIFO(st.st_mode) ? " (a FIFO)" : "");
  } else if (st.st_size > REQUEST_MAX) {
    snprintf(r->error, sizeof(r->error), "the request is larger than %lld MiB",
             (long long)(REQUEST_MAX >> 20));
  } else if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
    snprintf(r->error, sizeof(r->error), "out of memory");
  } else {
    while (len < (size_t)st.st_size) {
      ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t)n;
    }
  }
  close(fd);
  if (text != NULL)
    read_request_text(conf, text, len, r);
  free(text);
}

/* Logs the directory PATH (NAME in inbox/, named like a request) once per name and process:
 * it cannot be removed and would otherwise be met at every look, every second. */
static void stranger_once(struct pw_inbox *ib, const char *path, const char *name) {
  int i;

  for (i = 0; i < ib->n_strangers; i++)
    if (strcmp(ib->strangers[i], name) == 0)
      return;
  if (ib->n_strangers == STRANGERS_MAX || (ib->strangers[ib->n_strangers] = strdup(name)) == NULL)
    return; /* STRANGERS_MAX such lines were written; more would be noise */
  ib->n_strangers++;
  pw_log_error("%s: a directory, not a request file; skipped and left in place (logged once)",
               path);
}

static void scan_work(uv_work_t *w) {
  struct scan *sc = w->data;
  char req[PATH_SIZE];
  struct dirent *e;
  DIR *dp = opendir(sc->ib->dir);

  if (dp == NULL)
    return;
  while ((e = readdir(dp)) != NULL) {
    size_t len = strlen(e->d_name);
    struct request *r;
    if (len < 5 || strcmp(e->d_name + len - 4, ".req") != 0)
      continue;
    snprintf(req, sizeof(req), "%s/%s", sc->ib->dir, e->d_name);
    if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && pw_regular_file(req, NULL) == -EISDIR)) {
      stranger_once(sc->ib, req, e->d_name);
      continue;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
      break; /* taken at the next look */
    snprintf(r->reply, sizeof(r->reply), "%s/%.*s.reply", sc->ib->dir, (int)(len - 4), e->d_name);
    read_request(sc->conf, req, r);
    unlink(req);
    *sc->tail = r;
    sc->tail = &r->next;
  }
  closedir(dp);
}

static void scan_done(uv_work_t *w, int status) {
  struct scan *sc = w->data;
  struct pw_inbox *ib = sc->ib;
  struct request *r, *next;

  (void)status;
  ib->scanning = 0;
  for (r = sc->found; r != NULL; r = next) {
    next = r->next;
    r->next = NULL;
    if (r->op == OP_SAMPLES)
      r->conf = pw_config_ref(sc->conf);
    *ib->queue_tail = r;
    ib->queue_tail = &r->next;
  }
  pw_config_free(sc->conf);
  free(sc);
  next_request(ib);
}

void pw_inbox_poll(struct pw_inbox *ib) {
  struct scan *sc;
  int rc;

  /* One look at a time, and none while requests found by the last are still being applied. */
  if (ib->scanning || ib->stopping || ib->current != NULL || ib->queue != NULL)
    return;
  sc = calloc(1, sizeof(*sc));
  if (sc == NULL)
    return;
  sc->ib = ib;
  sc->conf = pw_config_ref(ib->ctx.admit->conf);
  sc->tail = &sc->found;
  sc->work.data = sc;
  rc = uv_queue_work(ib->ctx.loop, &sc->work, scan_work, scan_done);
  if (rc != 0) {
    pw_log_error("cannot look at the inbox: %s", uv_strerror(rc));
    pw_config_free(sc->conf);
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
  ib->queue_tail = &ib->queue;
  *out = ib;
  return 0;
}

void pw_inbox_stop(struct pw_inbox *ib) {
  if (ib == NULL || ib->stopping)
    return;
  ib->stopping = 1;
  /* An import under way is finished now, all rows or none; requests not yet started are
   * refused ("stopping"), and so are those of a look still running when it ends. */
  if (ib->current != NULL) {
    admit_slice(ib->current, 1);
    import_done(ib->current);
  }
  next_request(ib);
}

void pw_inbox_free(struct pw_inbox *ib) {
  struct request *r, *next;

  if (ib == NULL)
    return;
  for (r = ib->queue; r != NULL; r = next) {
    next = r->next;
    request_free(r);
  }
  while (ib->n_strangers > 0)
    free(ib->strangers[--ib->n_strangers]);
  free(ib);
}
