/*
 * store: keeps one RRD file per indicator in step with the journal. Each file holds two GAUGE
 * data sources (`value`, `expected`) at the samples' as_of, with a one-hour step and a heartbeat
 * long enough that quarterly reports leave no unknown gap. Because a GAUGE update fills every
 * step since the previous update with the new value, the store writes the previous value again
 * one step before each new point, so that a graph shows each figure holding until the next
 * report instead of back-dated to the previous one. When daemon.rrdcached is set, every update
 * of a final file goes through rrdcached and none directly: mixing the two paths loses queued
 * data silently (docs/libraries.md).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "util.h"

/* Archives: 90 days at one hour and 10 years at one day, each as LAST and AVERAGE. */
#define ROWS_HOURLY (90 * 24)
#define ROWS_DAILY 3660
#define STEPS_DAILY 24
/* A file's size: two data sources, four archives of doubles (some 188 KB; docs/storage.md). */
#define FILE_BYTES ((uint64_t)(2 * ROWS_HOURLY + 2 * ROWS_DAILY) * 2 * sizeof(double))

/* The longest "t:value:expected" string: 20 digits, two %.17g numbers and separators. */
#define ENTRY_MAX 80

/*
 * The store lock of the RRD locking rule (store.h). librrd's error text is per thread; it is
 * read under the lock right after the call. WAITING counts the threads blocked in
 * pw_store_lock, for tests that must see a caller wait.
 */
static pthread_mutex_t rrd_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int waiting;

void pw_store_lock(void) {
  atomic_fetch_add(&waiting, 1);
  pthread_mutex_lock(&rrd_lock);
  atomic_fetch_sub(&waiting, 1);
}

void pw_store_unlock(void) {
  pthread_mutex_unlock(&rrd_lock);
}

int pw_store_lock_waiting(void) {
  return atomic_load(&waiting);
}

static int use_cached(const struct pw_store *s) {
  return s->rrdcached != NULL && s->rrdcached[0] != '\0';
}

/* librrd's client sends absolute names only over a UNIX socket; for a TCP address it refuses
 * them ("absolute path names not allowed when talking to a remote daemon") and the daemon
 * resolves a relative name against its -b directory. */
static int cached_is_unix(const struct pw_store *s) {
  return strncmp(s->rrdcached, "unix:", 5) == 0 || s->rrdcached[0] == '/';
}

/* An id becomes a file name: refuse anything that could leave the directory or hide. */
static int check_id(const char *id, char *err, size_t errlen) {
  if (id == NULL || id[0] == '\0' || id[0] == '.' || strchr(id, '/') != NULL) {
    snprintf(err, errlen, "'%s': not a usable indicator id for an RRD file name",
             id != NULL ? id : "(null)");
    return -EINVAL;
  }
  return 0;
}

static int make_path(const struct pw_store *s, const char *id, const char *suffix, char *buf,
                     size_t size, char *err, size_t errlen) {
  int n = snprintf(buf, size, "%s/%s.rrd%s", s->dir, id, suffix);

  if (n < 0 || (size_t)n >= size) {
    snprintf(err, errlen, "%s: the RRD file name under %s is too long", id, s->dir);
    return -ENAMETOOLONG;
  }
  return 0;
}

/* The name rrdcached knows the file by: the absolute path over a UNIX socket, else the path
 * relative to the state directory, which must then be rrdcached's -b directory. */
static int cached_name(const struct pw_store *s, const char *id, const char *path, char *buf,
                       size_t size) {
  int n =
      cached_is_unix(s) ? snprintf(buf, size, "%s", path) : snprintf(buf, size, "rrd/%s.rrd", id);

  return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Builds ERR from librrd's error text after a failed call named WHAT, naming the indicator
 * and, unless librrd's text already does, the file. STATUS is the call's return value: some
 * rrdc_* failures (e.g. ENOBUFS) return an errno without setting librrd's error. */
static int rrd_fail(char *err, size_t errlen, const char *id, const char *what, const char *path,
                    int status) {
  const char *msg = rrd_get_error();
  char none[64];

  if (msg == NULL || msg[0] == '\0') {
    if (status > 0)
      msg = strerror(status);
    else
      snprintf(none, sizeof(none), "failed without a message (status %d)", status);
    if (status <= 0)
      msg = none;
  }
  if (strstr(msg, path) != NULL)
    snprintf(err, errlen, "%s: %s: %s", id, what, msg);
  else
    snprintf(err, errlen, "%s: %s: %s (%s)", id, what, msg, path);
  return -EIO;
}

static int sys_fail(char *err, size_t errlen, const char *id, const char *what, const char *path,
                    int e) {
  snprintf(err, errlen, "%s: %s %s: %s", id, what, path, strerror(e));
  return -e;
}

/* rrd_create's failure, as rrd_fail, with the system's reason when librrd's text lacks it:
 * its "Cannot create temporary file" (a read-only directory) does not say why, and on a full
 * disk it gives no text at all. E is that reason (create_errno; 0: unknown). */
static int create_fail(char *err, size_t errlen, const char *id, const char *path, int e) {
  const char *msg = rrd_get_error();
  char text[512];

  if (msg == NULL || msg[0] == '\0')
    msg = e != 0 ? "" : "failed without a message";
  if (e != 0 && strstr(msg, strerror(e)) == NULL)
    snprintf(text, sizeof(text), "%s%s%s", msg, msg[0] != '\0' ? ": " : "", strerror(e));
  else
    snprintf(text, sizeof(text), "%s", msg);
  if (strstr(text, path) != NULL)
    snprintf(err, errlen, "%s: rrd_create: %s", id, text);
  else
    snprintf(err, errlen, "%s: rrd_create: %s (%s)", id, text, path);
  return -EIO;
}

/* Why rrd_create failed to make a file at PATH, as an errno (0: unknown). librrd 1.7 does not
 * say: on a full disk it returned with no message and a stale errno (ENOENT), so the errno it
 * leaves is not trusted; the directory is asked instead. */
static int create_errno(const char *path) {
  char dir[PATH_MAX];
  struct statvfs sv;
  const char *slash = strrchr(path, '/');
  size_t n = slash != NULL ? (size_t)(slash - path) : 0;

  if (n == 0 || n >= sizeof(dir))
    return 0;
  memcpy(dir, path, n);
  dir[n] = '\0';
  if (access(dir, W_OK) != 0)
    return errno; /* EACCES, EROFS, ENOENT */
  if (statvfs(dir, &sv) == 0 &&
      ((uint64_t)sv.f_bavail * sv.f_frsize < FILE_BYTES + 65536 || sv.f_favail == 0))
    return ENOSPC;
  return 0;
}

/* Creates the file; returns 0, or non-zero with librrd's error set and *E its reason. */
static int create_file(const char *path, int64_t start, int *e) {
  char ds_value[64], ds_expected[64], rra[4][64];
  const char *argv[6];
  int rc;

  snprintf(ds_value, sizeof(ds_value), "DS:value:GAUGE:%d:U:U", PW_STORE_HEARTBEAT);
  snprintf(ds_expected, sizeof(ds_expected), "DS:expected:GAUGE:%d:U:U", PW_STORE_HEARTBEAT);
  snprintf(rra[0], sizeof(rra[0]), "RRA:LAST:0.5:1:%d", ROWS_HOURLY);
  snprintf(rra[1], sizeof(rra[1]), "RRA:AVERAGE:0.5:1:%d", ROWS_HOURLY);
  snprintf(rra[2], sizeof(rra[2]), "RRA:LAST:0.5:%d:%d", STEPS_DAILY, ROWS_DAILY);
  snprintf(rra[3], sizeof(rra[3]), "RRA:AVERAGE:0.5:%d:%d", STEPS_DAILY, ROWS_DAILY);
  argv[0] = ds_value;
  argv[1] = ds_expected;
  argv[2] = rra[0];
  argv[3] = rra[1];
  argv[4] = rra[2];
  argv[5] = rra[3];
  rrd_clear_error();
  rc = rrd_create_r2(path, PW_STORE_STEP, (time_t)start, 1, NULL, NULL, 6, argv);
  *e = rc != 0 ? create_errno(path) : 0;
  return rc;
}

/* A new file starts one step before its first entry. One second before would also accept the
 * entry, but then more than half of that entry's step is unknown and librrd stores it as
 * unknown: a file with one point would show nothing. */
static int64_t file_start(int64_t first_t) {
  return first_t - PW_STORE_STEP;
}

/* The entries to write for PTS: each point, preceded by the previous point's values again one
 * step before it when the gap is longer than a step, so that the value holds until the next
 * report. The previous point is PREV for the first one, then the one before in PTS. */
static struct pw_store_point *plan(const struct pw_store_point *prev,
                                   const struct pw_store_point *pts, size_t n, size_t *count) {
  struct pw_store_point *e = malloc(2 * n * sizeof(*e));
  size_t i, k = 0;

  if (e == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    const struct pw_store_point *q = i == 0 ? prev : &pts[i - 1];
    if (q != NULL && pts[i].t - q->t > PW_STORE_STEP) {
      e[k].t = pts[i].t - PW_STORE_STEP;
      e[k].value = q->value;
      e[k].expected = q->expected;
      k++;
    }
    e[k++] = pts[i];
  }
  *count = k;
  return e;
}

/* Keeps the entries later than LAST, each later than the one kept before it, in place. librrd
 * and rrdcached refuse a time not after the last update, and the journal is the record of
 * truth: an entry the file already covers is left out silently (a rebuild corrects the file if
 * it disagrees), rather than failing the newer entries of the batch with it. */
static size_t keep_later(struct pw_store_point *e, size_t count, int64_t last) {
  size_t i, k = 0;

  for (i = 0; i < count; i++) {
    if (e[i].t <= last)
      continue;
    e[k++] = e[i];
    last = e[i].t;
  }
  return k;
}

static void format_number(char *buf, size_t size, double x) {
  /* NaN (no expected value) is RRD's unknown; so are infinities, which no report can mean. */
  if (!isfinite(x))
    snprintf(buf, size, "U");
  else
    snprintf(buf, size, "%.17g", x);
}

/* Formats the entries as librrd update strings into one allocation (*TEXT) indexed by *ARGV;
 * free both with free(). The numbers are written with a '.' whatever LC_NUMERIC the process
 * runs under (librrd and rrdcached parse only that), by switching this thread to the C locale. */
static int format_entries(const struct pw_store_point *e, size_t count, char **text,
                          const char ***argv) {
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  locale_t old = (locale_t)0;
  size_t i;

  *text = malloc(count * ENTRY_MAX);
  *argv = malloc(count * sizeof(**argv));
  if (*text == NULL || *argv == NULL) {
    free(*text);
    free(*argv);
    if (c != (locale_t)0)
      freelocale(c);
    return -ENOMEM;
  }
  if (c != (locale_t)0)
    old = uselocale(c);
  for (i = 0; i < count; i++) {
    char v[32], x[32];
    char *p = *text + i * ENTRY_MAX;
    format_number(v, sizeof(v), e[i].value);
    format_number(x, sizeof(x), e[i].expected);
    snprintf(p, ENTRY_MAX, "%lld:%s:%s", (long long)e[i].t, v, x);
    (*argv)[i] = p;
  }
  if (c != (locale_t)0) {
    uselocale(old);
    freelocale(c);
  }
  return 0;
}

static int cached_connect(const struct pw_store *s, const char *id, const char *path, char *err,
                          size_t errlen) {
  int rc;

  rrd_clear_error();
  rc = rrdc_connect(s->rrdcached);
  if (rc != 0)
    return rrd_fail(err, errlen, id, "rrdc_connect", path, rc);
  return 0;
}

/* Flushes NAME's queued updates to the file. librrd keeps one connection for the process and
 * reuses it without checking it; after rrdcached restarts the first request fails on the dead
 * socket. FLUSH is idempotent, so on failure reconnect and try once more: every operation here
 * starts with a flush (when the file exists), which so proves the connection for the rest. */
static int cached_flush(const struct pw_store *s, const char *id, const char *name,
                        const char *path, char *err, size_t errlen) {
  int rc = cached_connect(s, id, path, err, errlen), attempt;

  if (rc < 0)
    return rc;
  for (attempt = 0; attempt < 2; attempt++) {
    rrd_clear_error();
    rc = rrdc_flush(name);
    if (rc == 0)
      return 0;
    if (attempt == 0) {
      rrdc_disconnect();
      rc = cached_connect(s, id, path, err, errlen);
      if (rc < 0)
        return rc;
    }
  }
  return rrd_fail(err, errlen, id, "rrdc_flush", path, rc);
}

/* Makes rrdcached drop what it remembers of NAME. It keeps, per file, the time of the last
 * update it accepted and checks new updates against it even after a flush: once the file is
 * replaced or removed that time is stale, and older times of the new file would be refused.
 * Only call it after a flush (queued updates are discarded). rrdcached answers "No such file
 * or directory" when it holds nothing for the name, which is fine. */
static int cached_forget(const struct pw_store *s, const char *id, const char *name,
                         const char *path, char *err, size_t errlen) {
  const char *msg;
  int rc = cached_connect(s, id, path, err, errlen);

  if (rc < 0)
    return rc;
  rrd_clear_error();
  rc = rrdc_forget(name);
  if (rc == 0)
    return 0;
  msg = rrd_get_error();
  if (msg != NULL && strstr(msg, "No such file or directory") != NULL)
    return 0;
  return rrd_fail(err, errlen, id, "rrdc_forget", path, rc);
}

/* Sends the update strings through rrdcached. One UPDATE command is limited to RRD_CMD_MAX
 * bytes (a longer one fails with ENOBUFS), so a long batch goes in several commands. */
static int cached_update(const struct pw_store *s, const char *id, const char *name,
                         const char *path, const char **argv, size_t count, char *err,
                         size_t errlen) {
  /* librrd escapes spaces and backslashes in the name, so count it twice. */
  size_t overhead = sizeof("update ") + 2 * strlen(name) + 2, budget, i = 0;
  int rc;

  if (overhead + ENTRY_MAX > RRD_CMD_MAX) {
    snprintf(err, errlen, "%s: the name %s is too long for an rrdcached command", id, name);
    return -ENAMETOOLONG;
  }
  budget = RRD_CMD_MAX - overhead;
  rc = cached_connect(s, id, path, err, errlen);
  if (rc < 0)
    return rc;
  while (i < count) {
    size_t start = i, used = 0;
    while (i < count && used + strlen(argv[i]) + 1 <= budget)
      used += strlen(argv[i++]) + 1;
    rrd_clear_error();
    rc = rrdc_update(name, (int)(i - start), argv + start);
    if (rc != 0)
      return rrd_fail(err, errlen, id, "rrdc_update", path, rc);
  }
  return 0;
}

static int direct_update(const char *id, const char *path, const char **argv, size_t count,
                         char *err, size_t errlen) {
  rrd_clear_error();
  if (rrd_update_r(path, "value:expected", (int)count, argv) != 0)
    return rrd_fail(err, errlen, id, "rrd_update", path, 0);
  return 0;
}

/* Formats the entries later than LAST and writes them in one batch, directly or through
 * rrdcached (NAME non-NULL). */
static int write_entries(const struct pw_store *s, const char *id, const char *path,
                         const char *name, struct pw_store_point *e, size_t count, int64_t last,
                         int64_t *written, char *err, size_t errlen) {
  char *text;
  const char **argv;
  int rc;

  *written = last;
  count = keep_later(e, count, last);
  if (count == 0)
    return 0;
  *written = e[count - 1].t;
  if (format_entries(e, count, &text, &argv) < 0) {
    snprintf(err, errlen, "%s: out of memory writing %s", id, path);
    return -ENOMEM;
  }
  if (name != NULL)
    rc = cached_update(s, id, name, path, argv, count, err, errlen);
  else
    rc = direct_update(id, path, argv, count, err, errlen);
  free(text);
  free(argv);
  return rc;
}

/* ---- the map of last update times: open addressing on the id, guarded by the store lock ---- */

struct lastmap_slot {
  char *id; /* NULL = empty */
  int64_t last;
};

struct pw_store_lastmap {
  struct lastmap_slot *slots;
  size_t cap, n; /* cap is a power of two */
};

static size_t lastmap_hash(const char *id) {
  size_t h = 5381;

  while (*id != '\0')
    h = h * 33 + (unsigned char)*id++;
  return h;
}

static struct lastmap_slot *lastmap_find(struct pw_store_lastmap *m, const char *id) {
  size_t i;

  if (m == NULL || m->cap == 0)
    return NULL;
  for (i = lastmap_hash(id) & (m->cap - 1); m->slots[i].id != NULL; i = (i + 1) & (m->cap - 1))
    if (strcmp(m->slots[i].id, id) == 0)
      return &m->slots[i];
  return NULL;
}

/* Remembers LAST for ID; a failure to allocate only costs a file read next time. */
static void lastmap_set(struct pw_store *s, const char *id, int64_t last) {
  struct pw_store_lastmap *m = s->lastmap;
  struct lastmap_slot *slot = lastmap_find(m, id);
  size_t i;

  if (slot != NULL) {
    slot->last = last;
    return;
  }
  if (m == NULL && (m = s->lastmap = calloc(1, sizeof(*m))) == NULL)
    return;
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64, k;
    struct lastmap_slot *ns = calloc(cap, sizeof(*ns));
    if (ns == NULL)
      return;
    for (k = 0; k < m->cap; k++)
      if (m->slots[k].id != NULL) {
        for (i = lastmap_hash(m->slots[k].id) & (cap - 1); ns[i].id != NULL;
             i = (i + 1) & (cap - 1))
          ;
        ns[i] = m->slots[k];
      }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
  }
  for (i = lastmap_hash(id) & (m->cap - 1); m->slots[i].id != NULL; i = (i + 1) & (m->cap - 1))
    ;
  if ((m->slots[i].id = strdup(id)) == NULL)
    return;
  m->slots[i].last = last;
  m->n++;
}

/* Forgets ID (its file was rebuilt or an update failed): the next append reads the file. An
 * entry stays in place with a time of INT64_MIN, meaning "unknown". */
static void lastmap_forget(struct pw_store *s, const char *id) {
  struct lastmap_slot *slot = lastmap_find(s->lastmap, id);

  if (slot != NULL)
    slot->last = INT64_MIN;
}

static void lastmap_free(struct pw_store *s) {
  size_t i;

  if (s->lastmap == NULL)
    return;
  for (i = 0; i < s->lastmap->cap; i++)
    free(s->lastmap->slots[i].id);
  free(s->lastmap->slots);
  free(s->lastmap);
  s->lastmap = NULL;
}

/* Whether an RRD file is at PATH (*EXISTS). Something else there (a FIFO, a symbolic link, a
 * directory) is not opened, since librrd would block on a FIFO and follow a link: the caller
 * gets its negative errno (pw_regular_file) and ERR says what it is; a rebuild renames a new
 * file over it (docs/storage.md). */
static int file_exists(const char *path, int *exists, const char *id, char *err, size_t errlen) {
  const char *kind = "";
  int rc = pw_regular_file(path, &kind);

  *exists = rc == 0;
  if (rc == 0 || rc == -ENOENT)
    return 0;
  if (kind[0] != '\0')
    snprintf(err, errlen, "%s: %s is %s, not an RRD file", id, path, kind);
  else
    sys_fail(err, errlen, id, "cannot stat", path, -rc);
  return rc;
}

/* The time of the file's last update, with rrdcached's queued updates counted: rrdc_last
 * rounds down to the step, so flush and read the file instead. Call with the store lock held. */
static int last_update(const struct pw_store *s, const char *id, const char *path, const char *name,
                       int64_t *last, char *err, size_t errlen) {
  time_t t;

  if (name != NULL) {
    int rc = cached_flush(s, id, name, path, err, errlen);
    if (rc < 0)
      return rc;
  }
  rrd_clear_error();
  t = rrd_last_r(path);
  if (t == (time_t)-1)
    return rrd_fail(err, errlen, id, "rrd_last", path, 0);
  *last = (int64_t)t;
  return 0;
}

int pw_store_init(struct pw_store *s, const char *state_dir, const char *rrdcached, char *err,
                  size_t errlen) {
  char *dir = pw_path_join(state_dir, "rrd");
  char *real = NULL;
  int rc;

  memset(s, 0, sizeof(*s));
  if (dir == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  rc = pw_mkdir_p(dir);
  if (rc < 0) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
    free(dir);
    return rc;
  }
  /* rrdcached needs absolute names, and the daemon must not depend on its working directory. */
  real = realpath(dir, NULL);
  if (real == NULL) {
    rc = -errno;
    snprintf(err, errlen, "cannot resolve %s: %s", dir, strerror(-rc));
    free(dir);
    return rc;
  }
  free(dir);
  s->dir = real;
  if (rrdcached != NULL && rrdcached[0] != '\0') {
    s->rrdcached = strdup(rrdcached);
    if (s->rrdcached == NULL) {
      pw_store_free(s);
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
  }
  return 0;
}

void pw_store_free(struct pw_store *s) {
  if (s == NULL)
    return;
  if (use_cached(s) && !s->reader) {
    /* librrd's connection is one per process; the next user reconnects. */
    pw_store_lock();
    rrdc_disconnect();
    pw_store_unlock();
  }
  lastmap_free(s);
  free(s->dir);
  free(s->rrdcached);
  s->dir = NULL;
  s->rrdcached = NULL;
}

int pw_store_dup(struct pw_store *dst, const struct pw_store *src) {
  memset(dst, 0, sizeof(*dst));
  dst->reader = 1;
  dst->dir = strdup(src->dir);
  if (src->rrdcached != NULL)
    dst->rrdcached = strdup(src->rrdcached);
  if (dst->dir == NULL || (src->rrdcached != NULL && dst->rrdcached == NULL)) {
    pw_store_free(dst);
    return -ENOMEM;
  }
  return 0;
}

char *pw_store_path(const struct pw_store *s, const char *id, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s.rrd", s->dir, id);
  return buf;
}

/* The file of indicator ID into PATH (PATH_MAX bytes) and, with rrdcached, the name rrdcached
 * knows it by into NAMEBUF (*NAME points at it; NULL without rrdcached). */
static int resolve(const struct pw_store *s, const char *id, char *path, char *namebuf,
                   const char **name, char *err, size_t errlen) {
  int rc = check_id(id, err, errlen);

  *name = NULL;
  if (rc == 0)
    rc = make_path(s, id, "", path, PATH_MAX, err, errlen);
  if (rc < 0)
    return rc;
  if (use_cached(s)) {
    if (cached_name(s, id, path, namebuf, PATH_MAX) < 0)
      return sys_fail(err, errlen, id, "naming for rrdcached", path, ENAMETOOLONG);
    *name = namebuf;
  }
  return 0;
}

int pw_store_append(struct pw_store *s, const char *id, const struct pw_store_point *prev,
                    const struct pw_store_point *pts, size_t n, char *err, size_t errlen) {
  char path[PATH_MAX], namebuf[PATH_MAX];
  const char *name = NULL;
  struct pw_store_point *e;
  struct lastmap_slot *known;
  size_t count;
  int64_t last = 0, written = 0;
  int exists = 0, rc = 0;

  if (n == 0)
    return 0;
  rc = resolve(s, id, path, namebuf, &name, err, errlen);
  if (rc < 0)
    return rc;
  e = plan(prev, pts, n, &count);
  if (e == NULL) {
    snprintf(err, errlen, "%s: out of memory writing %s", id, path);
    return -ENOMEM;
  }
  pw_store_lock();
  known = lastmap_find(s->lastmap, id);
  if ((rc = file_exists(path, &exists, id, err, errlen)) < 0) {
    lastmap_forget(s, id);
  } else if (!exists && prev != NULL) {
    /* Points came before these, so the file was there: someone removed it. Created now it
     * would hold these points only, and its last update would pass every later check. */
    lastmap_forget(s, id);
    pw_store_unlock();
    free(e);
    return sys_fail(err, errlen, id, "missing RRD file", path, ENOENT);
  } else if (exists && known != NULL && known->last != INT64_MIN) {
    /* Written by this process before: its time is known without asking the file. */
    last = known->last;
  } else if (exists) {
    rc = last_update(s, id, path, name, &last, err, errlen);
  } else {
    /* Creating is not an update: it may go directly even with rrdcached. Nobody else knows the
     * file yet (librrd writes it under a temporary name and renames it into place), so it is
     * created without the lock: the first poll of a province creates thousands of files, and
     * persist creates them on several threads at once. The map may move meanwhile: forget
     * KNOWN, which only said that the time was not known. */
    int created, why;
    last = file_start(e[0].t);
    pw_store_unlock();
    created = create_file(path, last, &why);
    pw_store_lock();
    known = NULL;
    if (created != 0)
      rc = create_fail(err, errlen, id, path, why);
    else if (name != NULL)
      rc = cached_forget(s, id, name, path, err, errlen);
  }
  if (rc == 0)
    rc = write_entries(s, id, path, name, e, count, last, &written, err, errlen);
  if (rc < 0 && name != NULL && known != NULL && known->last != INT64_MIN) {
    /* Without the flush that starts the slow path, nothing proved librrd's one connection: a
     * restarted rrdcached fails the first UPDATE on the dead socket. Reconnect, learn the
     * file's time again (so an update that did arrive is not sent twice), write what is left. */
    rrdc_disconnect();
    rc = last_update(s, id, path, name, &last, err, errlen);
    if (rc == 0)
      rc = write_entries(s, id, path, name, e, count, last, &written, err, errlen);
  }
  if (rc == 0)
    lastmap_set(s, id, written);
  else
    lastmap_forget(s, id);
  pw_store_unlock();
  free(e);
  return rc;
}

int pw_store_rebuild(struct pw_store *s, const char *id, const struct pw_store_point *pts, size_t n,
                     char *err, size_t errlen) {
  char path[PATH_MAX], tmp[PATH_MAX], namebuf[PATH_MAX];
  const char *name = NULL;
  struct pw_store_point *e = NULL;
  size_t count = 0;
  int64_t written;
  int exists = 0, rc, fd, why;

  rc = check_id(id, err, errlen);
  if (rc == 0)
    rc = make_path(s, id, "", path, sizeof(path), err, errlen);
  if (rc == 0)
    rc = make_path(s, id, ".tmp", tmp, sizeof(tmp), err, errlen);
  if (rc < 0)
    return rc;
  if (use_cached(s)) {
    if (cached_name(s, id, path, namebuf, sizeof(namebuf)) < 0)
      return sys_fail(err, errlen, id, "naming for rrdcached", path, ENAMETOOLONG);
    name = namebuf;
  }
  if (n > 0) {
    e = plan(NULL, pts, n, &count);
    if (e == NULL) {
      snprintf(err, errlen, "%s: out of memory rebuilding %s", id, path);
      return -ENOMEM;
    }
  }
  pw_store_lock();
  /* Something not an RRD file at PATH (a FIFO, a link, a directory) is replaced like an old
   * file: renamed over (a directory makes the rename fail, and the error names it). */
  rc = file_exists(path, &exists, id, err, errlen);
  if (rc < 0 && rc != -ELOOP && rc != -EINVAL && rc != -EISDIR)
    goto out;
  rc = 0;
  /* With rrdcached, first write what it queued (so that no write of the old file is in flight
   * when it is replaced), then make it forget the file. */
  if (exists && name != NULL) {
    rc = cached_flush(s, id, name, path, err, errlen);
    if (rc == 0)
      rc = cached_forget(s, id, name, path, err, errlen);
    if (rc < 0)
      goto out;
  }
  if (n == 0) {
    if (exists && unlink(path) != 0 && errno != ENOENT)
      rc = sys_fail(err, errlen, id, "cannot remove", path, errno);
    goto out;
  }
  /* The new file is built under a name rrdcached has never seen, so direct updates mix with
   * nothing, and renamed over the old one: readers (graphs) see the old or the new file,
   * never a half-built one. A file left by a crash is replaced. */
  if (unlink(tmp) != 0 && errno != ENOENT) {
    rc = sys_fail(err, errlen, id, "cannot remove", tmp, errno);
    goto out;
  }
  if (create_file(tmp, file_start(e[0].t), &why) != 0) {
    rc = create_fail(err, errlen, id, tmp, why);
    goto out;
  }
  rc = write_entries(s, id, tmp, NULL, e, count, file_start(e[0].t), &written, err, errlen);
  if (rc == 0) {
    /* So that a crash after the rename leaves the new content, not an empty file. */
    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
      rc = sys_fail(err, errlen, id, "cannot sync", tmp, errno);
    if (fd >= 0)
      close(fd);
  }
  if (rc == 0 && rename(tmp, path) != 0)
    rc = sys_fail(err, errlen, id, "cannot rename over", path, errno);
  if (rc < 0) {
    unlink(tmp);
    goto out;
  }
  /* rrdcached may remember a file of this name removed behind our back. */
  if (!exists && name != NULL)
    rc = cached_forget(s, id, name, path, err, errlen);
out:
  /* Whatever happened, the file's last update time is no longer what the map says. */
  lastmap_forget(s, id);
  pw_store_unlock();
  free(e);
  return rc;
}

int pw_store_flush(struct pw_store *s, const char *id, char *err, size_t errlen) {
  char path[PATH_MAX], name[PATH_MAX];
  int exists = 0, rc;

  if (!use_cached(s))
    return 0;
  rc = check_id(id, err, errlen);
  if (rc == 0)
    rc = make_path(s, id, "", path, sizeof(path), err, errlen);
  if (rc < 0)
    return rc;
  if (cached_name(s, id, path, name, sizeof(name)) < 0)
    return sys_fail(err, errlen, id, "naming for rrdcached", path, ENAMETOOLONG);
  pw_store_lock();
  rc = file_exists(path, &exists, id, err, errlen);
  if (rc == 0 && exists)
    rc = cached_flush(s, id, name, path, err, errlen);
  pw_store_unlock();
  return rc;
}

int pw_store_last(struct pw_store *s, const char *id, int64_t *last, char *err, size_t errlen) {
  char path[PATH_MAX], namebuf[PATH_MAX];
  const char *name = NULL;
  int exists = 0, rc;

  rc = resolve(s, id, path, namebuf, &name, err, errlen);
  if (rc < 0)
    return rc;
  pw_store_lock();
  rc = file_exists(path, &exists, id, err, errlen);
  if (rc == 0 && !exists)
    rc = sys_fail(err, errlen, id, "no RRD file", path, ENOENT);
  else if (rc == 0)
    rc = last_update(s, id, path, name, last, err, errlen);
  pw_store_unlock();
  return rc;
}
