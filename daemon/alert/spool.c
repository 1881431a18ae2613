/*
 * spool: notifications on disk until they are delivered, so that delivery is at-least-once
 * whatever happens to the process. One JSON file per notification ({"id", "receiver",
 * "created", "next_attempt", "attempts", "last_error", "payload"}) named after its delivery
 * id, replaced atomically (pw_write_file_atomic) at every change; the only half-written files a
 * crash can leave are the temporary ones, which are ignored and later removed. Moving to dead/
 * and merging write the new file before removing the old one, so a crash between the two
 * steps duplicates rather than loses.
 */
#define PW_LOG_MODULE "spool"
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* A notification is a few kilobytes; a digest of many alerts some hundreds. Anything bigger
 * in spool/ was not written by us. */
#define SPOOL_FILE_LIMIT (16u << 20)
/* pw_write_file_atomic names its temporary files <path>.tmp.<pid>; one older than this was
 * left by a crash (a live write takes milliseconds). */
#define STALE_TMP_SECONDS 60
#define BACKOFF_FIRST 10
#define BACKOFF_MAX 3600
#define AUDIT_ERROR_MAX 1024
/* Names of things in spool/ that are not entries (directories, FIFOs, links) already logged;
 * past this many, further ones are skipped without a line each. */
#define REPORTED_MAX 256

struct pw_spool {
  char *dir;   /* state_dir/spool */
  char *dead;  /* state_dir/spool/dead */
  char *audit; /* state_dir/audit.log */
  atomic_uint_fast64_t counter;
  atomic_int_fast64_t audit_max; /* bytes; 0: never rotated */
  pthread_mutex_t lock;          /* guards reported and n_reported (loads run on any thread) */
  char *reported[REPORTED_MAX];
  size_t n_reported;
};

int pw_spool_init(const char *state_dir, struct pw_spool **out, char *err, size_t errlen) {
  struct pw_spool *s = calloc(1, sizeof(*s));
  int rc;

  *out = NULL;
  if (s == NULL)
    return -ENOMEM;
  pthread_mutex_init(&s->lock, NULL);
  s->dir = pw_path_join(state_dir, "spool");
  s->dead = pw_path_join(state_dir, "spool/dead");
  s->audit = pw_path_join(state_dir, "audit.log");
  if (s->dir == NULL || s->dead == NULL || s->audit == NULL) {
    pw_spool_free(s);
    return -ENOMEM;
  }
  atomic_init(&s->counter, 0);
  atomic_init(&s->audit_max, 0);
  rc = pw_mkdir_p(s->dead);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot create: %s", s->dead, strerror(-rc));
    pw_spool_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void pw_spool_free(struct pw_spool *s) {
  size_t i;

  if (s == NULL)
    return;
  for (i = 0; i < s->n_reported; i++)
    free(s->reported[i]);
  pthread_mutex_destroy(&s->lock);
  free(s->dir);
  free(s->dead);
  free(s->audit);
  free(s);
}

/* The id becomes a file name, so it must not climb out of spool/ nor hide as a dot file. */
static int id_valid(const char *id) {
  size_t i;

  if (id[0] == '\0' || id[0] == '.' || strnlen(id, 64) == 64)
    return 0;
  for (i = 0; id[i] != '\0'; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return 0;
  }
  return 1;
}

static int entry_path(const char *dir, const char *id, char *path, size_t size) {
  if ((size_t)snprintf(path, size, "%s/%s.json", dir, id) >= size)
    return -ENAMETOOLONG;
  return 0;
}

/* Makes a removal or rename durable: the directory entry lives in the directory's own data. */
static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Copies SRC into DST (SIZE bytes) as valid UTF-8: jansson refuses invalid strings, and a cut
 * at the buffer's end (or a robot's reply in another encoding) must not make the entry
 * unwritable. Bytes of broken sequences become '?'. */
static void copy_utf8(char *dst, size_t size, const char *src) {
  size_t len, i = 0;

  snprintf(dst, size, "%s", src ? src : "");
  len = strlen(dst);
  while (i < len) {
    unsigned char c = (unsigned char)dst[i];
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (n == 1) {
      i++;
    } else if (n != 0 && i + n <= len && pw_utf8_valid(dst + i, n)) {
      i += n;
    } else {
      dst[i] = '?';
      i++;
    }
  }
}

static int write_entry(const char *dir, const struct pw_spool_entry *e, char *err, size_t errlen) {
  char path[4400], *text;
  json_t *o;
  int rc;

  if (!id_valid(e->id)) {
    snprintf(err, errlen, "notification id '%.63s' is not a valid file name", e->id);
    return -EINVAL;
  }
  rc = entry_path(dir, e->id, path, sizeof(path));
  if (rc < 0) {
    snprintf(err, errlen, "%s/%s.json: path too long", dir, e->id);
    return rc;
  }
  o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:O}", "id", e->id, "receiver", e->receiver, "created",
                (json_int_t)e->created, "next_attempt", (json_int_t)e->next_attempt, "attempts",
                (json_int_t)e->attempts, "last_error", e->last_error, "payload", e->payload);
  if (o == NULL) {
    /* json_pack fails on a NULL payload or a receiver that is not UTF-8, not only on memory. */
    snprintf(err, errlen, "%s: notification for '%s' cannot be encoded", path, e->receiver);
    return e->payload == NULL ? -EINVAL : -ENOMEM;
  }
  text = pw_json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (text == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -ENOMEM;
  }
  rc = pw_write_file_atomic(path, text, strlen(text));
  free(text);
  if (rc < 0)
    snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
  return rc;
}

/* Unique within the process (counter), across restarts (created, pid) and across hosts
 * sharing a receiver (random bits); stable because it is stored with the entry. */
static void new_id(struct pw_spool *s, int64_t created, char *id, size_t size) {
  uint32_t rnd = 0;
  unsigned long long k = (unsigned long long)atomic_fetch_add(&s->counter, 1) + 1;

  if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
    rnd = (uint32_t)pw_clock_real_ms() ^ (uint32_t)(k * 2654435761u);
  snprintf(id, size, "%lld-%ld-%llu-%08x", (long long)created, (long)getpid(), k, (unsigned)rnd);
}

int pw_spool_put(struct pw_spool *s, struct pw_spool_entry *e, char *err, size_t errlen) {
  if (e->id[0] == '\0') {
    new_id(s, e->created, e->id, sizeof(e->id));
    if (json_is_object(e->payload) &&
        json_object_set_new(e->payload, "delivery", json_string(e->id)) != 0) {
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
  }
  return write_entry(s->dir, e, err, errlen);
}

/* Fills E from a parsed file named NAME; the id must match the name, since the name is what
 * pw_spool_done and pw_spool_failed remove. Returns 0 or -EINVAL. */
static int decode_entry(json_t *o, const char *name, struct pw_spool_entry *e) {
  const char *id, *recv, *last = "";
  json_int_t created, next, attempts;
  json_t *payload;
  size_t len = strlen(name) - 5;

  if (json_unpack(o, "{s:s,s:s,s:I,s:I,s:I,s?s,s:o}", "id", &id, "receiver", &recv, "created",
                  &created, "next_attempt", &next, "attempts", &attempts, "last_error", &last,
                  "payload", &payload) != 0 ||
      !json_is_object(payload) || attempts < 0 || attempts > 1000000 || !id_valid(id) ||
      strlen(id) != len || strncmp(id, name, len) != 0 || strlen(recv) >= sizeof(e->receiver))
    return -EINVAL;
  memset(e, 0, sizeof(*e));
  snprintf(e->id, sizeof(e->id), "%s", id);
  snprintf(e->receiver, sizeof(e->receiver), "%s", recv);
  copy_utf8(e->last_error, sizeof(e->last_error), last);
  e->created = created;
  e->next_attempt = next;
  e->attempts = (unsigned)attempts;
  e->payload = json_incref(payload);
  return 0;
}

/* A bad file would otherwise be logged at every load (every tick); moved aside it is logged
 * once and kept for whoever investigates. */
static void quarantine(struct pw_spool *s, const char *path, const char *name, const char *why) {
  char to[4400];

  snprintf(to, sizeof(to), "%s/%s.bad", s->dead, name);
  if (rename(path, to) == 0) {
    fsync_dir(s->dir);
    fsync_dir(s->dead);
    pw_log_error("%s: unreadable notification skipped (%s); moved to %s", path, why, to);
  } else {
    pw_log_error("%s: unreadable notification skipped (%s)", path, why);
  }
}

/* Logs that PATH (named NAME in spool/) is not a notification file, once per name and process:
 * it is left where it is (it is not ours to move) and would otherwise be logged at every load. */
static void report_once(struct pw_spool *s, const char *path, const char *name, const char *what) {
  size_t i;
  int seen = 0, full = 0;

  pthread_mutex_lock(&s->lock);
  for (i = 0; i < s->n_reported && !seen; i++)
    seen = strcmp(s->reported[i], name) == 0;
  if (!seen) {
    full = s->n_reported == REPORTED_MAX;
    if (!full && (s->reported[s->n_reported] = strdup(name)) != NULL)
      s->n_reported++;
  }
  pthread_mutex_unlock(&s->lock);
  if (seen || full)
    return; /* full: REPORTED_MAX such lines were written; more would be noise */
  pw_log_error("%s: %s, not a notification file; skipped and left in place (logged once)", path,
               what);
}

/* Removes NAME if it is a temporary file left by a crash. Returns 1 if NAME is a temporary
 * file (removed or not), 0 otherwise. */
static int stale_tmp(const char *path, const char *name) {
  struct stat st;
  /* File times are on the real clock, whatever pacewatch's (possibly simulated) clock says. */
  int64_t now = pw_clock_real_ms() / 1000;

  if (strstr(name, ".tmp") == NULL)
    return 0;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
      now - (int64_t)st.st_mtime > STALE_TMP_SECONDS) {
    if (unlink(path) == 0)
      pw_log_info("%s: removed a temporary file left by an interrupted write", path);
  }
  return 1;
}

/* Compares two ids with their runs of digits as numbers: the ids of one second differ in the
 * process's counter ("…-9-…" before "…-10-…"), which orders notifications the way they were
 * created, and each receiver's are delivered in that order (docs/alerts.md). */
static int id_cmp(const char *a, const char *b) {
  while (*a != '\0' && *b != '\0') {
    if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
      size_t na = 0, nb = 0;
      int c;
      while (*a == '0' && a[1] >= '0' && a[1] <= '9')
        a++;
      while (*b == '0' && b[1] >= '0' && b[1] <= '9')
        b++;
      while (a[na] >= '0' && a[na] <= '9')
        na++;
      while (b[nb] >= '0' && b[nb] <= '9')
        nb++;
      if (na != nb)
        return na < nb ? -1 : 1;
      if ((c = strncmp(a, b, na)) != 0)
        return c;
      a += na;
      b += nb;
      continue;
    }
    if (*a != *b)
      return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a == *b ? 0 : *a == '\0' ? -1 : 1;
}

static int entry_cmp(const void *a, const void *b) {
  const struct pw_spool_entry *x = a, *y = b;
  int c;

  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  c = id_cmp(x->id, y->id);
  return c != 0 ? c : strcmp(x->id, y->id);
}

/* Reads PATH whole (at most LIMIT bytes) into *OUT (owned, NUL-terminated) and *LEN. A symbolic
 * link is never followed (-ELOOP): planted in spool/, it would have the daemon read, and log, a
 * file it was never meant to (docs/storage.md). O_NONBLOCK keeps a FIFO from blocking the open;
 * anything but a regular file is refused (-EISDIR, -EINVAL). */
static int read_regular(const char *path, size_t limit, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  struct stat st;
  char *buf = NULL;
  size_t got = 0, cap;
  int rc = 0;

  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0) {
    rc = -errno;
  } else if (!S_ISREG(st.st_mode)) {
    rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
  } else if ((uint64_t)st.st_size > limit) {
    rc = -E2BIG;
  }
  /* Room for the size seen, one byte more (to notice growth past LIMIT) and the NUL. */
  cap = rc == 0 ? (size_t)st.st_size + 2 : 0;
  if (rc == 0 && (buf = malloc(cap)) == NULL)
    rc = -ENOMEM;
  while (rc == 0) {
    ssize_t n;
    if (got > limit) {
      rc = -E2BIG;
      break;
    }
    if (got + 1 == cap) {
      /* The file grew since fstat: read on, up to one byte past the limit. */
      size_t ncap = cap * 2 > limit + 2 ? limit + 2 : cap * 2;
      char *nb = realloc(buf, ncap);
      if (nb == NULL) {
        rc = -ENOMEM;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    n = read(fd, buf + got, cap - 1 - got);
    if (n < 0) {
      if (errno != EINTR)
        rc = -errno;
    } else if (n == 0) {
      break;
    } else {
      got += (size_t)n;
    }
  }
  close(fd);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

/* The kind of a JSON syntax error, in words of our own: jansson's message quotes the text near
 * the error, and the content of a file in spool/ is never logged (it may be anything, a link's
 * target was once). */
static const char *json_error_kind(const json_error_t *e) {
  switch (json_error_code(e)) {
  case json_error_premature_end_of_input:
    return "truncated";
  case json_error_invalid_utf8:
    return "invalid UTF-8";
  case json_error_end_of_input_expected:
    return "text after the end";
  case json_error_null_character:
  case json_error_null_byte_in_key:
    return "NUL byte";
  case json_error_duplicate_key:
    return "duplicate key";
  case json_error_numeric_overflow:
    return "number out of range";
  default:
    return "invalid JSON";
  }
}

/* Reads spool file NAME into *E. Returns 1 (E filled), 0 (not an entry, or skipped and logged:
 * a temporary file, something not ours, a file gone or unreadable, a bad one moved aside). */
static int read_entry(struct pw_spool *s, const char *name, struct pw_spool_entry *e) {
  size_t len = strlen(name), tlen = 0;
  char path[4400], *text = NULL;
  json_error_t jerr;
  json_t *o;
  int r;

  if (name[0] == '.' || (size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >= sizeof(path))
    return 0;
  if (stale_tmp(path, name))
    return 0;
  if (len < 6 || strcmp(name + len - 5, ".json") != 0)
    return 0; /* dead/ and anything not ours */
  r = read_regular(path, SPOOL_FILE_LIMIT, &text, &tlen);
  if (r == -ENOENT)
    return 0; /* delivered by another thread since readdir */
  if (r == -E2BIG) {
    quarantine(s, path, name, "too large");
    return 0;
  }
  if (r == -EISDIR || r == -EINVAL || r == -ELOOP) {
    report_once(s, path, name,
                r == -EISDIR  ? "a directory"
                : r == -ELOOP ? "a symbolic link (not followed)"
                              : "not a regular file");
    return 0;
  }
  if (r < 0) {
    /* A read error may pass (EMFILE, EIO on a flaky disk): leave the file for next time. */
    pw_log_error("%s: cannot read: %s; skipped", path, strerror(-r));
    return 0;
  }
  o = json_loadb(text, tlen, 0, &jerr);
  free(text);
  if (o == NULL) {
    char why[256];
    snprintf(why, sizeof(why), "%s at line %d, column %d, byte %d", json_error_kind(&jerr),
             jerr.line, jerr.column, jerr.position);
    quarantine(s, path, name, why);
    return 0;
  }
  r = decode_entry(o, name, e);
  json_decref(o);
  if (r < 0) {
    quarantine(s, path, name, "not a notification entry");
    return 0;
  }
  return 1;
}

int pw_spool_load(struct pw_spool *s, struct pw_spool_entry **out, size_t *n, char *err,
                  size_t errlen) {
  DIR *dp = opendir(s->dir);
  struct dirent *de;
  struct pw_spool_entry *es = NULL;
  size_t cap = 0, k = 0;
  int rc = 0;

  *out = NULL;
  *n = 0;
  if (dp == NULL) {
    rc = -errno;
    snprintf(err, errlen, "%s: cannot read: %s", s->dir, strerror(-rc));
    return rc;
  }
  while ((de = readdir(dp)) != NULL) {
    if (k == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct pw_spool_entry *ne = realloc(es, ncap * sizeof(*ne));
      if (ne == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", s->dir);
        break;
      }
      es = ne;
      cap = ncap;
    }
    k += (size_t)read_entry(s, de->d_name, &es[k]);
  }
  closedir(dp);
  if (rc < 0) {
    pw_spool_entries_free(es, k);
    return rc;
  }
  if (k > 1)
    qsort(es, k, sizeof(*es), entry_cmp);
  if (k == 0) {
    free(es);
    es = NULL;
  }
  *out = es;
  *n = k;
  return 0;
}

void pw_spool_entries_free(struct pw_spool_entry *e, size_t n) {
  size_t i;

  if (e == NULL)
    return;
  for (i = 0; i < n; i++)
    json_decref(e[i].payload);
  free(e);
}

static int remove_entry(const char *dir, const char *id, char *err, size_t errlen) {
  char path[4400];
  int rc = entry_path(dir, id, path, sizeof(path));

  if (rc < 0) {
    snprintf(err, errlen, "%s/%s.json: path too long", dir, id);
    return rc;
  }
  if (unlink(path) != 0) {
    if (errno == ENOENT)
      return 0;
    rc = -errno;
    snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(-rc));
    return rc;
  }
  fsync_dir(dir);
  return 0;
}

int pw_spool_failed(struct pw_spool *s, struct pw_spool_entry *e, int64_t now, int64_t give_up,
                    int permanent, const char *error, char *err, size_t errlen) {
  int64_t delay = BACKOFF_FIRST;
  unsigned k;
  int rc;

  e->attempts++;
  copy_utf8(e->last_error, sizeof(e->last_error), error);
  if (permanent || now - e->created >= give_up) {
    /* Dead copy first: a crash before the removal leaves the entry in both places, and the
     * next load retries it once more instead of losing it. */
    rc = write_entry(s->dead, e, err, errlen);
    if (rc < 0)
      return rc;
    rc = remove_entry(s->dir, e->id, err, errlen);
    return rc < 0 ? rc : 1;
  }
  for (k = 1; k < e->attempts && delay < BACKOFF_MAX; k++)
    delay *= 2;
  e->next_attempt = now + (delay > BACKOFF_MAX ? BACKOFF_MAX : delay);
  return write_entry(s->dir, e, err, errlen);
}

int pw_spool_done(struct pw_spool *s, const struct pw_spool_entry *e, char *err, size_t errlen) {
  if (!id_valid(e->id)) {
    snprintf(err, errlen, "notification id '%.63s' is not a valid file name", e->id);
    return -EINVAL;
  }
  return remove_entry(s->dir, e->id, err, errlen);
}

void pw_spool_set_audit_max(struct pw_spool *s, int64_t max_bytes) {
  atomic_store(&s->audit_max, max_bytes > 0 ? max_bytes : 0);
}

int pw_spool_dead_name(const char *name) {
  const char *tmp = strstr(name, ".tmp.");
  size_t n = tmp != NULL ? (size_t)(tmp - name) : strlen(name);
  char base[80];

  if (tmp != NULL && (tmp[5] == '\0' || strspn(tmp + 5, "0123456789") != strlen(tmp + 5)))
    return 0;
  if (n >= sizeof(base))
    return 0;
  memcpy(base, name, n);
  base[n] = '\0';
  if (n > 4 && strcmp(base + n - 4, ".bad") == 0)
    base[n -= 4] = '\0';
  if (n <= 5 || strcmp(base + n - 5, ".json") != 0)
    return 0;
  base[n - 5] = '\0';
  return id_valid(base);
}

int pw_spool_audit(struct pw_spool *s, const char *event, const struct pw_spool_entry *e,
                   int64_t at, const char *error) {
  json_t *alerts = json_array(), *a, *o;
  char receiver[sizeof(e->receiver)], msg[AUDIT_ERROR_MAX];
  char *line;
  size_t i, len;
  int rc;

  if (alerts == NULL)
    return -ENOMEM;
  json_array_foreach(json_object_get(e->payload, "alerts"), i, a) {
    json_t *id = json_object_get(a, "alert");
    json_array_append(alerts, id ? id : json_null());
  }
  copy_utf8(receiver, sizeof(receiver), e->receiver);
  if (error != NULL)
    copy_utf8(msg, sizeof(msg), error);
  o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s?}", "at", (json_int_t)at, "event", event, "delivery",
                e->id, "receiver", receiver, "alerts", alerts, "error", error != NULL ? msg : NULL);
  line = o ? pw_json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (line == NULL)
    return -ENOMEM;
  /* One buffer, newline included, so the line goes out in one write() and O_APPEND keeps
   * lines of concurrent writers whole. */
  len = strlen(line);
  line[len++] = '\n';
  rc = pw_audit_append(s->audit, line, len, atomic_load(&s->audit_max));
  free(line);
  return rc;
}

static int count_json(const char *dir, size_t *n) {
  DIR *dp = opendir(dir);
  struct dirent *de;

  *n = 0;
  if (dp == NULL)
    return -errno;
  while ((de = readdir(dp)) != NULL) {
    size_t len = strlen(de->d_name);
    /* Directories, FIFOs and links named like entries are not notifications (pw_spool_load
     * skips them). */
    if (de->d_name[0] != '.' && len > 5 && strcmp(de->d_name + len - 5, ".json") == 0 &&
        (de->d_type == DT_REG || de->d_type == DT_UNKNOWN))
      (*n)++;
  }
  closedir(dp);
  return 0;
}

int pw_spool_counts(struct pw_spool *s, size_t *queued, size_t *dead) {
  int rq = count_json(s->dir, queued);
  int rd = count_json(s->dead, dead);

  return rq < 0 ? rq : rd;
}

int pw_spool_merge(struct pw_spool *s, struct pw_spool_entry *entries, size_t n,
                   struct pw_spool_entry *merged, char *err, size_t errlen) {
  json_t *alerts, *al;
  size_t i, j;
  int rc;

  memset(merged, 0, sizeof(*merged));
  if (n == 0) {
    snprintf(err, errlen, "nothing to merge");
    return -EINVAL;
  }
  for (i = 0; i < n; i++) {
    if (strcmp(entries[i].receiver, entries[0].receiver) != 0 ||
        !json_is_array(json_object_get(entries[i].payload, "alerts"))) {
      snprintf(err, errlen, "notification %s cannot be merged into one for receiver '%s'",
               entries[i].id, entries[0].receiver);
      return -EINVAL;
    }
  }
  snprintf(merged->receiver, sizeof(merged->receiver), "%s", entries[0].receiver);
  merged->created = entries[0].created;
  merged->next_attempt = entries[0].next_attempt;
  /* A copy: the alert objects are shared (reference counts), the envelope is the digest's. */
  merged->payload = json_copy(entries[0].payload);
  alerts = json_array();
  if (merged->payload == NULL || alerts == NULL)
    goto nomem;
  for (i = 0; i < n; i++) {
    if (entries[i].created < merged->created)
      merged->created = entries[i].created;
    if (entries[i].next_attempt < merged->next_attempt)
      merged->next_attempt = entries[i].next_attempt;
    json_array_foreach(json_object_get(entries[i].payload, "alerts"), j, al) {
      if (json_array_append(alerts, al) != 0)
        goto nomem;
    }
  }
  if (json_object_set_new(merged->payload, "alerts", alerts) != 0) {
    alerts = NULL;
    goto nomem;
  }
  alerts = NULL;
  /* pw_spool_put chooses the new id and writes it into the payload's "delivery". */
  rc = pw_spool_put(s, merged, err, errlen);
  if (rc < 0)
    goto fail;
  for (i = 0; i < n; i++) {
    char rerr[512];
    if (strcmp(entries[i].id, merged->id) != 0 &&
        pw_spool_done(s, &entries[i], rerr, sizeof(rerr)) < 0)
      pw_log_warn("receiver '%s': %s (its alerts may be sent twice)", merged->receiver, rerr);
  }
  return 0;

nomem:
  snprintf(err, errlen, "out of memory");
  rc = -ENOMEM;
fail:
  json_decref(alerts);
  json_decref(merged->payload);
  memset(merged, 0, sizeof(*merged));
  return rc;
}
