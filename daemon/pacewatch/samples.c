/*
 * samples: how `import` and `record` store samples. Without a running daemon the CLI takes the
 * state lock, appends to the journal and updates the RRD files itself; beside a running daemon
 * it hands the rows to the daemon's inbox and waits for the reply (`rebuild` asks the same way).
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "cli.h"
#include "clock.h"
#include "derive.h"
#include "json.h"
#include "util.h"

/* Writes REQ into the daemon's inbox and waits for its reply (the daemon takes requests every
 * second). Returns 0 with *REPLY (owned) or a negative errno. */
int cli_ask_daemon(struct cli *c, json_t *req, json_t **reply) {
  char dir[4096], tmp[4400], path[4400], rpath[4400];
  char *text = pw_json_dumps(req, JSON_COMPACT);
  json_error_t jerr;
  int i, rc;

  *reply = NULL;
  if (text == NULL)
    return -ENOMEM;
  snprintf(dir, sizeof(dir), "%s/inbox", c->conf->daemon.state_dir);
  pw_mkdir_p(dir);
  snprintf(tmp, sizeof(tmp), "%s/%ld-%lld.tmp", dir, (long)getpid(), (long long)pw_clock_real_ms());
  snprintf(path, sizeof(path), "%.*s.req", (int)(strlen(tmp) - 4), tmp);
  snprintf(rpath, sizeof(rpath), "%.*s.reply", (int)(strlen(tmp) - 4), tmp);
  rc = pw_write_file_atomic(tmp, text, strlen(text));
  free(text);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc < 0) {
    fprintf(stderr, "pacewatch: cannot write to the daemon's inbox %s: %s\n", dir, strerror(-rc));
    unlink(tmp);
    return rc;
  }
  for (i = 0; i < 600; i++) {
    /* Only a regular file is the reply: a FIFO or a link planted at its name is neither waited
     * on nor read through; the daemon's reply is renamed over it. */
    if (pw_regular_file(rpath, NULL) == 0) {
      char *rtext = NULL;
      size_t rlen = 0;
      *reply = NULL;
      if (pw_read_state_file(rpath, 1u << 20, &rtext, &rlen) == 0)
        *reply = json_loadb(rtext, rlen, 0, &jerr);
      free(rtext);
      unlink(rpath);
      return *reply ? 0 : -EIO;
    }
    usleep(100 * 1000);
  }
  unlink(path);
  /* Unanswered is not refused: the daemon may have taken the request and stopped before its
   * reply (docs/cli.md "import"). */
  fprintf(stderr, "pacewatch: timed out: the running pacewatchd did not answer within 60 s; it "
                  "may have stopped after taking the request: `pacewatch export` shows whether "
                  "it was stored\n");
  return -ETIMEDOUT;
}

int cli_reply_counts(json_t *reply, struct cli_counts *out) {
  json_int_t n = 0, d = 0, r = 0, nt = 0;
  const char *msg = "no reason given";
  int ok = 0;

  json_unpack(reply, "{s:b}", "ok", &ok);
  if (!ok) {
    json_unpack(reply, "{s:s}", "error", &msg);
    fprintf(stderr, "pacewatch: the running pacewatchd refused the request: %s\n", msg);
    return -EINVAL;
  }
  json_unpack(reply, "{s:I,s:I,s:I}", "new", &n, "duplicates", &d, "revisions", &r);
  out->fresh = (unsigned long)n;
  out->dups = (unsigned long)d;
  out->revs = (unsigned long)r;
  json_unpack(reply, "{s:I}", "notes", &nt);
  out->notes = (unsigned long)nt;
  return 0;
}

/* Updates the RRD files of the indicators marked in MASK after a write without a daemon. */
static void sync_rrd(struct cli *c, struct pw_journal *j, const unsigned char *mask) {
  struct pw_store store;
  char err[1024];

  if (pw_store_init(&store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err,
                    sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s (the journal is written; run pacewatch rebuild)\n", err);
    return;
  }
  if (pw_derive_rebuild(c->conf, j, &store, mask) > 0)
    fprintf(stderr, "pacewatch: some RRD files could not be updated (the journal is written; "
                    "run pacewatch rebuild)\n");
  pw_store_free(&store);
}

/* Admission marks the indicators whose RRD files are to be updated. */
static void mark_touched(void *data, int ind, int revised) {
  unsigned char *mask = data;

  (void)revised;
  mask[ind] = 1;
}

/* Admits ROWS into J through the rules the daemon applies, marking touched indicators in MASK.
 * Returns 0, or a negative errno when a row is refused (nothing is to be committed then). */
static int admit_rows(struct cli *c, struct pw_journal *j, unsigned char *mask,
                      const struct cli_row *rows, size_t n, const char *source, int64_t now,
                      struct cli_counts *out) {
  struct pw_admit a;
  struct pw_admit_stats st;
  size_t i;
  int rc = 0;

  memset(&a, 0, sizeof(a));
  memset(&st, 0, sizeof(st));
  a.conf = c->conf;
  a.journal = j;
  a.touched = mark_touched;
  a.data = mask;
  a.quiet = 1; /* the command prints its counts */
  for (i = 0; i < n && rc >= 0; i++) {
    struct pw_admit_sample s;
    s.ind = rows[i].ind;
    s.as_of = rows[i].as_of;
    s.own_as_of = 1;
    s.value = rows[i].value;
    s.fetched_at = now;
    s.source = source;
    s.note = rows[i].note;
    rc = pw_admit_sample(&a, &s, &st);
  }
  out->fresh = st.fresh;
  out->notes = st.notes;
  out->dups = st.duplicates + st.unchanged;
  out->revs = st.revisions;
  return rc < 0 ? rc : 0;
}

/* Stores ROWS (validated, sorted by indicator and as_of) as samples from SOURCE: directly
 * under the state lock, or through a running daemon's inbox. Returns 0 or a negative errno
 * (already reported). */
int cli_apply_rows(struct cli *c, const struct cli_row *rows, size_t n, const char *source,
                   int64_t now, struct cli_counts *out) {
  struct pw_journal *j = NULL;
  unsigned char *mask = NULL;
  char err[1024];
  int lock_fd, rc;
  size_t i;

  memset(out, 0, sizeof(*out));
  lock_fd = pw_state_lock(c->conf->daemon.state_dir);
  if (lock_fd == -EWOULDBLOCK) {
    json_t *req = json_pack("{s:s,s:s,s:I,s:[]}", "op", "samples", "source", source, "fetched_at",
                            (json_int_t)now, "rows");
    json_t *list = json_object_get(req, "rows"), *reply;
    for (i = 0; i < n; i++) {
      json_t *row = json_pack("{s:s,s:I,s:f}", "indicator", c->conf->indicators[rows[i].ind].id,
                              "as_of", (json_int_t)rows[i].as_of, "value", rows[i].value);
      if (row != NULL && rows[i].note != NULL)
        json_object_set_new(row, "note", json_string(rows[i].note));
      json_array_append_new(list, row);
    }
    rc = cli_ask_daemon(c, req, &reply);
    json_decref(req);
    if (rc == 0)
      rc = cli_reply_counts(reply, out);
    json_decref(reply);
    return rc;
  }
  if (lock_fd < 0) {
    fprintf(stderr, "pacewatch: cannot lock %s: %s\n", c->conf->daemon.state_dir,
            strerror(-lock_fd));
    return lock_fd;
  }
  rc = pw_journal_open(c->conf, 1, &j, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    close(lock_fd);
    return rc;
  }
  mask = calloc((size_t)c->conf->n_indicators + 1, 1);
  rc = mask != NULL ? admit_rows(c, j, mask, rows, n, source, now, out) : -ENOMEM;
  if (rc == 0)
    rc = pw_journal_commit(j);
  if (rc < 0)
    fprintf(stderr, "pacewatch: cannot write the journal %s: %s\n", j->path, strerror(-rc));
  else
    sync_rrd(c, j, mask);
  free(mask);
  pw_journal_close(j);
  close(lock_fd);
  return rc;
}

/* A string field of REQ, or NULL. */
static const char *req_str(json_t *req, const char *key) {
  return json_string_value(json_object_get(req, key));
}

int cli_apply_note_op(struct cli *c, json_t *req, int64_t *as_of) {
  struct pw_journal *j = NULL;
  struct pw_admit a;
  unsigned char *mask = NULL;
  const char *op = req_str(req, "op");
  json_t *jas = json_object_get(req, "as_of");
  int64_t at = json_integer_value(json_object_get(req, "at"));
  char err[1024];
  int lock_fd, rc, ind;

  lock_fd = pw_state_lock(c->conf->daemon.state_dir);
  if (lock_fd == -EWOULDBLOCK) {
    json_t *reply;
    int ok = 0;
    json_int_t got = 0;
    const char *msg = "no reason given";
    rc = cli_ask_daemon(c, req, &reply);
    if (rc < 0)
      return rc;
    json_unpack(reply, "{s:b}", "ok", &ok);
    if (!ok || json_unpack(reply, "{s:I}", "as_of", &got) != 0) {
      json_unpack(reply, "{s:s}", "error", &msg);
      fprintf(stderr, "pacewatch: the running pacewatchd refused the request: %s\n", msg);
      json_decref(reply);
      return -EINVAL;
    }
    *as_of = (int64_t)got;
    json_decref(reply);
    return 0;
  }
  if (lock_fd < 0) {
    fprintf(stderr, "pacewatch: cannot lock %s: %s\n", c->conf->daemon.state_dir,
            strerror(-lock_fd));
    return lock_fd;
  }
  rc = pw_journal_open(c->conf, 1, &j, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    close(lock_fd);
    return rc;
  }
  mask = calloc((size_t)c->conf->n_indicators + 1, 1);
  memset(&a, 0, sizeof(a));
  a.conf = c->conf;
  a.journal = j;
  a.touched = mark_touched;
  a.data = mask;
  a.quiet = 1;
  ind = pw_config_indicator_index(c->conf, req_str(req, "indicator"));
  snprintf(err, sizeof(err), "out of memory");
  if (mask == NULL)
    rc = -ENOMEM;
  else if (strcmp(op, "retract") == 0)
    rc = pw_admit_retract(&a, ind, *as_of = json_integer_value(jas), at, req_str(req, "source"),
                          req_str(req, "reason"), err, sizeof(err));
  else
    rc = pw_admit_explain(&a, ind, jas ? json_integer_value(jas) : PW_JOURNAL_AS_OF_LATEST, at,
                          req_str(req, "source"), req_str(req, "reason"), req_str(req, "measures"),
                          req_str(req, "catch_up"), as_of, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: indicator '%s': %s\n", req_str(req, "indicator"), err);
  } else {
    rc = pw_journal_commit(j);
    if (rc < 0)
      fprintf(stderr, "pacewatch: cannot write the journal %s: %s\n", j->path, strerror(-rc));
    else
      sync_rrd(c, j, mask);
  }
  free(mask);
  pw_journal_close(j);
  close(lock_fd);
  return rc;
}
