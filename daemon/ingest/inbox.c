/*
 * inbox: how `pacewatch import|record|rebuild` hand their work to a running daemon, which is
 * the only writer of the state directory while it runs. The CLI validates everything itself,
 * then renames a request file (JSON) into state_dir/inbox/; the daemon takes it within a
 * second, applies it through the same ingest path as a poll, and writes NAME.reply once the
 * samples are durable. The CLI waits for the reply.
 */
#define PW_LOG_MODULE "inbox"
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "daemon.h"

struct pending_reply {
  char path[4400];
  struct pw_ingest_stats stats;
};

static void write_reply(const char *path, json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT);

  if (text == NULL || pw_write_file_atomic(path, text, strlen(text)) < 0)
    pw_log_error("cannot write the reply %s", path);
  free(text);
}

static void reply_error(const char *path, const char *msg) {
  json_t *doc = json_pack("{s:b,s:s}", "ok", 0, "error", msg);

  pw_log_warn("request refused: %s", msg);
  write_reply(path, doc);
  json_decref(doc);
}

static void applied(int rc, void *data) {
  struct pending_reply *pr = data;
  json_t *doc;

  if (rc < 0)
    doc = json_pack("{s:b,s:s}", "ok", 0, "error", "the daemon could not write its journal");
  else
    doc = json_pack("{s:b,s:i,s:i,s:i}", "ok", 1, "new", (json_int_t)pr->stats.fresh, "duplicates",
                    (json_int_t)(pr->stats.duplicates + pr->stats.unchanged), "revisions",
                    (json_int_t)pr->stats.revisions);
  write_reply(pr->path, doc);
  json_decref(doc);
  free(pr);
}

static void handle(struct pw_daemon *d, const char *req_path, const char *reply_path) {
  json_error_t jerr;
  json_t *doc = json_load_file(req_path, 0, &jerr), *rows;
  const char *op = NULL, *source = "import";
  json_int_t fetched_at = 0;
  struct pending_reply *pr;
  size_t i, n;
  int *inds = NULL;

  unlink(req_path);
  if (doc == NULL || json_unpack(doc, "{s:s}", "op", &op) != 0) {
    reply_error(reply_path, "malformed request");
    json_decref(doc);
    return;
  }
  pr = calloc(1, sizeof(*pr));
  if (pr == NULL) {
    json_decref(doc);
    return;
  }
  snprintf(pr->path, sizeof(pr->path), "%s", reply_path);
  if (strcmp(op, "rebuild") == 0) {
    for (i = 0; i < (size_t)d->conf->n_indicators; i++)
      pw_persist_touch(d->persist, (int)i, 1);
    pw_log_info("rebuilding every RRD file from the journal (requested by pacewatch rebuild)");
    pw_persist_kick(d->persist, applied, pr);
    json_decref(doc);
    return;
  }
  if (strcmp(op, "samples") != 0 ||
      json_unpack(doc, "{s:s,s:I,s:o}", "source", &source, "fetched_at", &fetched_at, "rows",
                  &rows) != 0 ||
      !json_is_array(rows)) {
    reply_error(reply_path, "unknown or malformed request");
    free(pr);
    json_decref(doc);
    return;
  }
  n = json_array_size(rows);
  inds = calloc(n + 1, sizeof(int));
  /* Check every row before applying any: all or nothing, as without a daemon. */
  for (i = 0; inds != NULL && i < n; i++) {
    const char *id;
    json_int_t as_of;
    double value;
    char msg[256];
    if (json_unpack(json_array_get(rows, i), "{s:s,s:I,s:F}", "indicator", &id, "as_of", &as_of,
                    "value", &value) != 0) {
      snprintf(msg, sizeof(msg), "row %zu is malformed", i + 1);
      reply_error(reply_path, msg);
      goto fail;
    }
    inds[i] = pw_config_indicator_index(d->conf, id);
    if (inds[i] < 0) {
      snprintf(msg, sizeof(msg), "the running daemon has no indicator '%s' (reload it?)", id);
      reply_error(reply_path, msg);
      goto fail;
    }
  }
  for (i = 0; inds != NULL && i < n; i++) {
    json_t *row = json_array_get(rows, i);
    pw_ingest_sample(d, inds[i], json_integer_value(json_object_get(row, "as_of")), 1,
                     json_number_value(json_object_get(row, "value")), fetched_at, source,
                     &pr->stats);
  }
  pw_log_info("%s: %zu rows taken from the inbox: %u new, %u duplicates, %u revisions", source, n,
              pr->stats.fresh, pr->stats.duplicates + pr->stats.unchanged, pr->stats.revisions);
  free(inds);
  json_decref(doc);
  pw_persist_kick(d->persist, applied, pr);
  return;
fail:
  free(inds);
  free(pr);
  json_decref(doc);
}

void pw_inbox_poll(struct pw_daemon *d) {
  char dir[4096], req[4400], reply[4400];
  DIR *dp;
  struct dirent *e;

  snprintf(dir, sizeof(dir), "%s/inbox", d->conf->daemon.state_dir);
  dp = opendir(dir);
  if (dp == NULL)
    return;
  while ((e = readdir(dp)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".req") != 0)
      continue;
    snprintf(req, sizeof(req), "%s/%s", dir, e->d_name);
    snprintf(reply, sizeof(reply), "%s/%.*s.reply", dir, (int)(len - 4), e->d_name);
    handle(d, req, reply);
  }
  closedir(dp);
}
