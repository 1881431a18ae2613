/*
 * spool: notifications on disk until they are delivered. One JSON file per notification,
 * replaced atomically at every change, so a crash leaves either the old or the new version,
 * never a torn one; temporary files left by a crash are ignored.
 */
#define PW_LOG_MODULE "spool"
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct pw_spool {
  char dir[4200], dead[4300], audit[4300];
};

int pw_spool_init(const char *state_dir, struct pw_spool **out, char *err, size_t errlen) {
  struct pw_spool *s = calloc(1, sizeof(*s));
  int rc;

  if (s == NULL)
    return -ENOMEM;
  snprintf(s->dir, sizeof(s->dir), "%s/spool", state_dir);
  snprintf(s->dead, sizeof(s->dead), "%s/dead", s->dir);
  snprintf(s->audit, sizeof(s->audit), "%s/audit.log", state_dir);
  rc = pw_mkdir_p(s->dead);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot create: %s", s->dead, strerror(-rc));
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void pw_spool_free(struct pw_spool *s) {
  free(s);
}

static int write_entry(const char *dir, const struct pw_spool_entry *e, char *err, size_t errlen) {
  char path[4400], *text;
  json_t *o =
      json_pack("{s:s,s:s,s:I,s:I,s:i,s:s,s:O}", "id", e->id, "receiver", e->receiver, "created",
                (json_int_t)e->created, "next_attempt", (json_int_t)e->next_attempt, "attempts",
                (int)e->attempts, "last_error", e->last_error, "payload", e->payload);
  int rc;

  if (o == NULL)
    return -ENOMEM;
  text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (text == NULL)
    return -ENOMEM;
  snprintf(path, sizeof(path), "%s/%s.json", dir, e->id);
  rc = pw_write_file_atomic(path, text, strlen(text));
  free(text);
  if (rc < 0)
    snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
  return rc;
}

int pw_spool_put(struct pw_spool *s, struct pw_spool_entry *e, char *err, size_t errlen) {
  return write_entry(s->dir, e, err, errlen);
}

static int entry_cmp(const void *a, const void *b) {
  const struct pw_spool_entry *x = a, *y = b;

  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  return strcmp(x->id, y->id);
}

int pw_spool_load(struct pw_spool *s, struct pw_spool_entry **out, size_t *n, char *err,
                  size_t errlen) {
  DIR *dp = opendir(s->dir);
  struct dirent *de;
  struct pw_spool_entry *es = NULL;
  size_t cap = 0, k = 0;

  *out = NULL;
  *n = 0;
  if (dp == NULL) {
    snprintf(err, errlen, "%s: cannot read: %s", s->dir, strerror(errno));
    return -errno;
  }
  while ((de = readdir(dp)) != NULL) {
    size_t len = strlen(de->d_name);
    char path[4500];
    json_error_t jerr;
    json_t *o;
    const char *id = NULL, *recv = NULL, *last = "";
    json_int_t created = 0, next = 0;
    int attempts = 0;

    if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
      continue; /* temporary files of an interrupted write, and dead/ */
    snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
    o = json_load_file(path, 0, &jerr);
    if (o == NULL ||
        json_unpack(o, "{s:s,s:s,s:I,s:I,s:i,s?s}", "id", &id, "receiver", &recv, "created",
                    &created, "next_attempt", &next, "attempts", &attempts, "last_error",
                    &last) != 0 ||
        !json_is_object(json_object_get(o, "payload"))) {
      pw_log_error("%s: unreadable notification skipped", path);
      json_decref(o);
      continue;
    }
    if (k == cap) {
      struct pw_spool_entry *ne;
      cap = cap ? cap * 2 : 16;
      ne = realloc(es, cap * sizeof(*ne));
      if (ne == NULL) {
        json_decref(o);
        break;
      }
      es = ne;
    }
    memset(&es[k], 0, sizeof(es[k]));
    snprintf(es[k].id, sizeof(es[k].id), "%s", id);
    snprintf(es[k].receiver, sizeof(es[k].receiver), "%s", recv);
    snprintf(es[k].last_error, sizeof(es[k].last_error), "%s", last ? last : "");
    es[k].created = created;
    es[k].next_attempt = next;
    es[k].attempts = (unsigned)attempts;
    es[k].payload = json_incref(json_object_get(o, "payload"));
    json_decref(o);
    k++;
  }
  closedir(dp);
  if (k > 1)
    qsort(es, k, sizeof(*es), entry_cmp);
  *out = es;
  *n = k;
  return 0;
}

void pw_spool_entries_free(struct pw_spool_entry *e, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    json_decref(e[i].payload);
  free(e);
}

int pw_spool_failed(struct pw_spool *s, struct pw_spool_entry *e, int64_t now, int64_t give_up,
                    int permanent, const char *error, char *err, size_t errlen) {
  int64_t delay = 10;
  unsigned k;
  char from[4400];
  int rc;

  e->attempts++;
  snprintf(e->last_error, sizeof(e->last_error), "%s", error ? error : "");
  if (permanent || now - e->created >= give_up) {
    rc = write_entry(s->dead, e, err, errlen);
    if (rc < 0)
      return rc;
    snprintf(from, sizeof(from), "%s/%s.json", s->dir, e->id);
    unlink(from);
    return 1;
  }
  for (k = 1; k < e->attempts && delay < 3600; k++)
    delay *= 2;
  e->next_attempt = now + (delay > 3600 ? 3600 : delay);
  return write_entry(s->dir, e, err, errlen);
}

int pw_spool_done(struct pw_spool *s, const struct pw_spool_entry *e, char *err, size_t errlen) {
  char path[4400];

  snprintf(path, sizeof(path), "%s/%s.json", s->dir, e->id);
  if (unlink(path) != 0 && errno != ENOENT) {
    snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
    return -errno;
  }
  return 0;
}

int pw_spool_audit(struct pw_spool *s, const char *event, const struct pw_spool_entry *e,
                   int64_t at, const char *error) {
  json_t *alerts = json_array(), *a;
  json_t *o;
  char *line;
  size_t i;
  int fd, rc = 0;

  json_array_foreach(json_object_get(e->payload, "alerts"), i, a)
      json_array_append(alerts, json_object_get(a, "alert"));
  o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s?}", "at", (json_int_t)at, "event", event, "delivery",
                e->id, "receiver", e->receiver, "alerts", alerts, "error", error);
  line = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (line == NULL)
    return -ENOMEM;
  fd = open(s->audit, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    free(line);
    return -errno;
  }
  if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0 || fsync(fd) != 0)
    rc = -errno;
  close(fd);
  free(line);
  return rc;
}

static size_t count_json(const char *dir) {
  DIR *dp = opendir(dir);
  struct dirent *de;
  size_t n = 0;

  if (dp == NULL)
    return 0;
  while ((de = readdir(dp)) != NULL) {
    size_t len = strlen(de->d_name);
    n += len > 5 && strcmp(de->d_name + len - 5, ".json") == 0;
  }
  closedir(dp);
  return n;
}

int pw_spool_counts(struct pw_spool *s, size_t *queued, size_t *dead) {
  *queued = count_json(s->dir);
  *dead = count_json(s->dead);
  return 0;
}
