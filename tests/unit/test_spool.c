/*
 * Unit tests of spool: put and load (ids chosen, unique and safe as file names), the back-off
 * sequence capped at an hour, give_up and permanent refusals moving entries to dead/, done,
 * leftovers of an interrupted write and garbage skipped (and logged once), directories and
 * FIFOs named like entries skipped and logged once, symbolic links never followed and no file
 * content in the log, the audit log (a FIFO or link at its name not written through),
 * merging one receiver's entries into a digest, and entries surviving a kill -9 of the writer.
 * Each test works in a fresh mkdtemp state directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

struct fixture {
  char dir[64];
  struct pw_spool *s;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  char err[512];

  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/pw-test-spool-XXXXXX");
  if (mkdtemp(f->dir) == NULL || pw_spool_init(f->dir, &f->s, err, sizeof(err)) != 0) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int teardown(void **state) {
  struct fixture *f = *state;
  int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

  pw_spool_free(f->s);
  free(f);
  return rc;
}

/* An entry of receiver "ops" carrying one alert per name in ALERTS (NULL-terminated). */
static void entry(struct pw_spool_entry *e, const char *id, int64_t created, const char **alerts) {
  json_t *arr = json_array();
  const char *one[] = {"x/lag", NULL};
  size_t i;

  memset(e, 0, sizeof(*e));
  snprintf(e->id, sizeof(e->id), "%s", id);
  snprintf(e->receiver, sizeof(e->receiver), "ops");
  e->created = created;
  e->next_attempt = created;
  for (i = 0; (alerts ? alerts : one)[i] != NULL; i++)
    json_array_append_new(arr, json_pack("{s:s,s:s,s:f}", "alert", (alerts ? alerts : one)[i],
                                         "state", "firing", "lag", 7.042));
  e->payload = json_pack("{s:i,s:s,s:s,s:n,s:o}", "version", 1, "receiver", "ops", "delivery", id,
                         "sent_at", "alerts", arr);
  assert_non_null(e->payload);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[512];
  FILE *fp;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static int exists(const char *dir, const char *name) {
  char path[512];

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* Runs pw_spool_load with stderr (the log) sent to a file, whose text lands in LOG. */
static void load_capturing(struct fixture *f, struct pw_spool_entry **es, size_t *n, char *log,
                           size_t loglen) {
  char path[128], err[512];
  int saved = dup(STDERR_FILENO), fd;
  ssize_t got;

  snprintf(path, sizeof(path), "%s/stderr.txt", f->dir);
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0 && saved >= 0);
  dup2(fd, STDERR_FILENO);
  assert_int_equal(pw_spool_load(f->s, es, n, err, sizeof(err)), 0);
  dup2(saved, STDERR_FILENO);
  close(saved);
  got = pread(fd, log, loglen - 1, 0);
  log[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(path);
}

static void test_put_load(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry a, b, *es;
  size_t n;
  char err[512];

  entry(&a, "a1", 2000, NULL);
  entry(&b, "", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &a, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_put(f->s, &b, err, sizeof(err)), 0);
  /* An empty id is chosen by put and written into the body as its delivery id. */
  assert_true(strlen(b.id) > 0);
  assert_string_equal(json_string_value(json_object_get(b.payload, "delivery")), b.id);
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  /* Oldest first. */
  assert_string_equal(es[0].id, b.id);
  assert_string_equal(es[1].id, "a1");
  assert_string_equal(es[1].receiver, "ops");
  assert_int_equal(es[1].created, 2000);
  assert_int_equal(es[1].next_attempt, 2000);
  assert_int_equal(es[1].attempts, 0);
  assert_string_equal(es[1].last_error, "");
  assert_true(json_equal(es[1].payload, a.payload));
  assert_true(json_equal(es[0].payload, b.payload));
  pw_spool_entries_free(es, n);
  json_decref(a.payload);
  json_decref(b.payload);
}

/* Ids of one second are loaded in the order of their counter, compared as a number: the spool
 * is delivered in this order, per receiver (docs/alerts.md). */
static void test_load_order_of_one_second(void **state) {
  struct fixture *f = *state;
  const char *ids[] = {"1714611600-42-10-0001", "1714611600-42-9-ffff", "1714611600-42-100-0000",
                       "1714611600-42-11-0000"};
  const char *want[] = {"1714611600-42-9-ffff", "1714611600-42-10-0001", "1714611600-42-11-0000",
                        "1714611600-42-100-0000"};
  struct pw_spool_entry e, *es;
  size_t i, n;
  char err[512];

  for (i = 0; i < 4; i++) {
    entry(&e, ids[i], 1714611600, NULL);
    assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
    json_decref(e.payload);
  }
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 4);
  for (i = 0; i < 4; i++)
    assert_string_equal(es[i].id, want[i]);
  pw_spool_entries_free(es, n);
}

static void test_empty_and_bad_ids(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, *es;
  const char *bad[] = {"../escape", ".hidden", "a/b", "sp ace"};
  size_t n, q, dead, i;
  char err[512];

  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  assert_null(es);
  pw_spool_entries_free(es, n);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    entry(&e, bad[i], 1000, NULL);
    assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), -EINVAL);
    assert_int_equal(pw_spool_done(f->s, &e, err, sizeof(err)), -EINVAL);
    json_decref(e.payload);
  }
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q, 0);
  assert_int_equal(dead, 0);
  pw_spool_entries_free(NULL, 0);
  pw_spool_free(NULL);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(a, b);
}

static void test_unique_ids(void **state) {
  struct fixture *f = *state;
  static char ids[1000][64];
  struct pw_spool_entry e, *es;
  size_t n, q, dead, i;
  char err[512];

  for (i = 0; i < 1000; i++) {
    /* Same created instant for all: the counter and random bits must tell them apart. */
    entry(&e, "", 5000, NULL);
    assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
    snprintf(ids[i], sizeof(ids[i]), "%s", e.id);
    json_decref(e.payload);
  }
  qsort(ids, 1000, sizeof(ids[0]), cmp_str);
  for (i = 1; i < 1000; i++)
    assert_string_not_equal(ids[i - 1], ids[i]);
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q, 1000);
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1000);
  pw_spool_entries_free(es, n);
}

static void test_backoff(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, *es;
  const int64_t want[] = {10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600};
  char err[512], longerr[1024];
  size_t n, k;

  entry(&e, "b1", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
  for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
    assert_int_equal(pw_spool_failed(f->s, &e, 2000, 48 * 3600, 0, "HTTP 500", err, sizeof(err)),
                     0);
    assert_int_equal(e.attempts, k + 1);
    assert_int_equal(e.next_attempt, 2000 + want[k]);
    /* What the next load sees is what was written. */
    assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(es[0].attempts, k + 1);
    assert_int_equal(es[0].next_attempt, 2000 + want[k]);
    assert_string_equal(es[0].last_error, "HTTP 500");
    assert_true(json_equal(es[0].payload, e.payload));
    pw_spool_entries_free(es, n);
  }
  /* A long reply in Chinese is cut at 255 bytes, mid-character: still written and loaded. */
  snprintf(longerr, sizeof(longerr), "HTTP 502: ");
  for (k = 0; k < 200; k++)
    snprintf(longerr + strlen(longerr), sizeof(longerr) - strlen(longerr), "错");
  assert_int_equal(pw_spool_failed(f->s, &e, 3000, 48 * 3600, 0, longerr, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  assert_true(pw_utf8_valid(es[0].last_error, strlen(es[0].last_error)));
  assert_true(strlen(es[0].last_error) >= 252);
  pw_spool_entries_free(es, n);
  json_decref(e.payload);
}

static void test_give_up_and_permanent(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, p, *es;
  size_t n, q, dead;
  char err[512], dead_dir[128], *text;
  size_t len;
  json_t *o;

  snprintf(dead_dir, sizeof(dead_dir), "%s/spool/dead", f->dir);
  entry(&e, "g1", 1000, NULL);
  entry(&p, "p1", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_put(f->s, &p, err, sizeof(err)), 0);
  /* One second before give_up: still retried. */
  assert_int_equal(pw_spool_failed(f->s, &e, 1000 + 3599, 3600, 0, "down", err, sizeof(err)), 0);
  /* At give_up: dead. */
  assert_int_equal(pw_spool_failed(f->s, &e, 1000 + 3600, 3600, 0, "still down", err, sizeof(err)),
                   1);
  /* A permanent refusal: dead at once, whatever give_up says. */
  assert_int_equal(
      pw_spool_failed(f->s, &p, 1001, 48 * 3600, 1, "sign not match", err, sizeof(err)), 1);
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  pw_spool_entries_free(es, n);
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q, 0);
  assert_int_equal(dead, 2);
  assert_true(exists(dead_dir, "g1.json"));
  /* The dead copy keeps the attempt count and the last error, for whoever looks. */
  {
    char path[256];
    snprintf(path, sizeof(path), "%s/p1.json", dead_dir);
    assert_int_equal(pw_read_file(path, 0, &text, &len), 0);
    o = json_loadb(text, len, 0, NULL);
    free(text);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "last_error")), "sign not match");
    assert_true(json_equal(json_object_get(o, "payload"), p.payload));
    json_decref(o);
  }
  json_decref(e.payload);
  json_decref(p.payload);
}

static void test_done(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, *es;
  size_t n, q, dead;
  char err[512], spool_dir[128];

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->dir);
  entry(&e, "d1", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
  assert_true(exists(spool_dir, "d1.json"));
  assert_int_equal(pw_spool_done(f->s, &e, err, sizeof(err)), 0);
  assert_false(exists(spool_dir, "d1.json"));
  /* Done twice (a retry raced a delivery) is not an error. */
  assert_int_equal(pw_spool_done(f->s, &e, err, sizeof(err)), 0);
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q + dead, 0);
  json_decref(e.payload);
}

static void test_leftovers_and_garbage(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, *es;
  size_t n, q, dead;
  char err[512], spool_dir[128], dead_dir[128], path[256], log[4096];
  struct timeval old[2];

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->dir);
  snprintf(dead_dir, sizeof(dead_dir), "%s/spool/dead", f->dir);
  entry(&e, "ok1", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
  /* Temporary files of interrupted writes: a fresh one may be a write in progress (kept), a
   * stale one is a crash's leftover (removed). */
  write_text(spool_dir, "fresh.json.tmp.1", "{\"id\":");
  write_text(spool_dir, "stale.json.tmp.2", "{\"id\":\"sta");
  snprintf(path, sizeof(path), "%s/stale.json.tmp.2", spool_dir);
  old[0].tv_sec = old[1].tv_sec = time(NULL) - 120;
  old[0].tv_usec = old[1].tv_usec = 0;
  assert_int_equal(utimes(path, old), 0);
  /* Files that no write of ours produces: truncated, garbage, valid JSON of another shape, an
   * entry whose id is not its file name. */
  write_text(spool_dir, "trunc.json", "{\"id\":\"trunc\",\"receiver\":\"op");
  write_text(spool_dir, "garbage.json", "not json at all");
  write_text(spool_dir, "shape.json", "[1,2,3]");
  write_text(spool_dir, "other.json",
             "{\"id\":\"ok1\",\"receiver\":\"ops\",\"created\":1,\"next_attempt\":1,"
             "\"attempts\":0,\"payload\":{}}");
  write_text(spool_dir, "notes.txt", "not ours");
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 1);
  assert_string_equal(es[0].id, "ok1");
  pw_spool_entries_free(es, n);
  assert_non_null(strstr(log, "garbage.json"));
  assert_non_null(strstr(log, "trunc.json"));
  assert_non_null(strstr(log, "shape.json"));
  assert_non_null(strstr(log, "other.json"));
  assert_true(exists(spool_dir, "fresh.json.tmp.1"));
  assert_false(exists(spool_dir, "stale.json.tmp.2"));
  assert_true(exists(spool_dir, "notes.txt"));
  /* Bad files are moved aside once, kept for inspection, not counted as notifications. */
  assert_false(exists(spool_dir, "garbage.json"));
  assert_true(exists(dead_dir, "garbage.json.bad"));
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q, 1);
  assert_int_equal(dead, 0);
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 1);
  assert_null(strstr(log, "garbage.json"));
  pw_spool_entries_free(es, n);
  json_decref(e.payload);
}

/* A directory (or a FIFO) named like an entry is not one: skipped, left in place, and logged
 * once, not at every load. */
static void test_not_a_file_logged_once(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e, *es;
  size_t n, q, dead;
  char err[512], spool_dir[128], path[256], log[4096];

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->dir);
  entry(&e, "ok1", 1000, NULL);
  assert_int_equal(pw_spool_put(f->s, &e, err, sizeof(err)), 0);
  snprintf(path, sizeof(path), "%s/x.json", spool_dir);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/fifo.json", spool_dir);
  assert_int_equal(mkfifo(path, 0644), 0);
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 1);
  assert_string_equal(es[0].id, "ok1");
  pw_spool_entries_free(es, n);
  assert_non_null(strstr(log, "x.json"));
  assert_non_null(strstr(log, "fifo.json"));
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 1);
  pw_spool_entries_free(es, n);
  assert_null(strstr(log, "x.json"));
  assert_null(strstr(log, "fifo.json"));
  assert_true(exists(spool_dir, "x.json"));
  assert_true(exists(spool_dir, "fifo.json"));
  assert_int_equal(pw_spool_counts(f->s, &q, &dead), 0);
  assert_int_equal(q, 1); /* nor counted as waiting */
  json_decref(e.payload);
}

/* A spool file that is a symbolic link is never followed (here to a secret file outside the
 * spool, which stays untouched), and a file that fails to parse is named with the position of
 * the error, never with its content. */
static void test_symlink_and_content_not_logged(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry *es;
  size_t n;
  char spool_dir[128], dead_dir[128], secret[256], link[256], log[4096];

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->dir);
  snprintf(dead_dir, sizeof(dead_dir), "%s/spool/dead", f->dir);
  write_text(f->dir, "shadow", "hunterxsecret:$6$salt$hash:19000:0:99999:7:::\n");
  snprintf(secret, sizeof(secret), "%s/shadow", f->dir);
  snprintf(link, sizeof(link), "%s/shadow.json", spool_dir);
  assert_int_equal(symlink(secret, link), 0);
  write_text(spool_dir, "garbage.json", "topsecretword and more");
  write_text(spool_dir, "late.json", "{\"id\": \"late\", pa$$word}");
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 0);
  assert_non_null(strstr(log, "shadow.json"));
  assert_non_null(strstr(log, "garbage.json"));
  assert_non_null(strstr(log, "late.json"));
  assert_null(strstr(log, "hunterxsecret"));
  assert_null(strstr(log, "topsecretword"));
  assert_null(strstr(log, "pa$$word"));
  assert_null(strstr(log, "$$"));
  assert_non_null(strstr(log, "column"));
  /* The link is left where it is (it is not ours), the file it names untouched. */
  assert_true(exists(f->dir, "shadow"));
  assert_true(exists(spool_dir, "shadow.json"));
  assert_false(exists(dead_dir, "shadow.json.bad"));
  load_capturing(f, &es, &n, log, sizeof(log));
  assert_int_equal(n, 0);
  assert_null(strstr(log, "shadow.json"));
}

static void test_audit(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e;
  const char *alerts[] = {"x/lag", "y/stale", NULL};
  const char *events[] = {"spooled", "retry", "dead", "delivered"};
  const char *errors[] = {NULL, "HTTP 500 \"bad\"\n", "sign not match", NULL};
  char path[256], line[2048];
  FILE *fp;
  size_t k;

  entry(&e, "au1", 1000, alerts);
  for (k = 0; k < 4; k++)
    assert_int_equal(pw_spool_audit(f->s, events[k], &e, 1000 + (int64_t)k, errors[k]), 0);
  snprintf(path, sizeof(path), "%s/audit.log", f->dir);
  fp = fopen(path, "r");
  assert_non_null(fp);
  for (k = 0; k < 4; k++) {
    json_error_t jerr;
    json_t *o, *err;
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_int_equal(line[strlen(line) - 1], '\n');
    o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "at")), 1000 + (int64_t)k);
    assert_string_equal(json_string_value(json_object_get(o, "event")), events[k]);
    assert_string_equal(json_string_value(json_object_get(o, "delivery")), "au1");
    assert_string_equal(json_string_value(json_object_get(o, "receiver")), "ops");
    assert_int_equal(json_array_size(json_object_get(o, "alerts")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "alerts"), 1)),
                        "y/stale");
    err = json_object_get(o, "error");
    if (errors[k] == NULL)
      assert_true(json_is_null(err));
    else
      assert_string_equal(json_string_value(err), errors[k]);
    json_decref(o);
  }
  assert_null(fgets(line, sizeof(line), fp));
  fclose(fp);
  json_decref(e.payload);
}

/* Lines of audit.log.N (N 0 for audit.log) into LINES from *N on; each must be whole JSON and
 * the file within MAX bytes. */
static void audit_lines(const char *dir, int n, long max, int *at, int64_t *lines) {
  char path[256], line[2048];
  FILE *fp;
  long size = 0;

  if (n == 0)
    snprintf(path, sizeof(path), "%s/audit.log", dir);
  else
    snprintf(path, sizeof(path), "%s/audit.log.%d", dir, n);
  fp = fopen(path, "r");
  assert_non_null(fp);
  while (fgets(line, sizeof(line), fp) != NULL) {
    json_t *o = json_loads(line, 0, NULL);
    assert_int_equal(line[strlen(line) - 1], '\n'); /* never split */
    assert_non_null(o);
    lines[(*at)++] = json_integer_value(json_object_get(o, "at"));
    size += (long)strlen(line);
    json_decref(o);
  }
  fclose(fp);
  assert_true(size <= max);
}

/* daemon.audit_max_bytes (docs/storage.md "audit.log"): at 1024 bytes, 60 lines rotate through
 * audit.log.1 .. .3 (no .4); every file holds whole lines within the limit, and the four files
 * read oldest first hold the newest lines without a gap. */
static void test_audit_rotation(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e;
  const char *alerts[] = {"x/lag", "y/stale", NULL};
  char path[256];
  int64_t lines[100], first;
  int k, at = 0;

  entry(&e, "rot1", 1000, alerts);
  pw_spool_set_audit_max(f->s, 1024);
  for (k = 0; k < 60; k++)
    assert_int_equal(pw_spool_audit(f->s, "spooled", &e, 1000 + k, NULL), 0);
  snprintf(path, sizeof(path), "%s/audit.log.4", f->dir);
  assert_int_equal(access(path, F_OK), -1);
  for (k = 3; k >= 0; k--)
    audit_lines(f->dir, k, 1024, &at, lines);
  assert_true(at > 8 && at < 60); /* the oldest were dropped with audit.log.4 */
  for (k = 0; k < at; k++)
    assert_int_equal(lines[k], 1000 + 60 - at + k);
  /* 0: never rotated again: audit.log grows past 1024 bytes, audit.log.3 stays as it was. */
  first = lines[0];
  pw_spool_set_audit_max(f->s, 0);
  for (k = 0; k < 20; k++)
    assert_int_equal(pw_spool_audit(f->s, "spooled", &e, 2000 + k, NULL), 0);
  at = 0;
  audit_lines(f->dir, 3, 1024, &at, lines);
  assert_int_equal(lines[0], first);
  at = 0;
  audit_lines(f->dir, 0, 1L << 20, &at, lines);
  assert_int_equal(lines[at - 1], 2019);
  json_decref(e.payload);
}

/* A FIFO at audit.log's name fails the step at once (it blocked the thread for ever, a writer's
 * open waiting for a reader); a symbolic link there is not appended through. */
static void test_audit_strangers(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry e;
  const char *alerts[] = {"x/lag", NULL};
  char path[256], target[256], *text = NULL;

  entry(&e, "au2", 1000, alerts);
  snprintf(path, sizeof(path), "%s/audit.log", f->dir);
  assert_int_equal(mkfifo(path, 0644), 0);
  alarm(10); /* a blocking open would end the test here */
  assert_true(pw_spool_audit(f->s, "spooled", &e, 1000, NULL) < 0);
  alarm(0);
  assert_int_equal(unlink(path), 0);
  snprintf(target, sizeof(target), "%s/outside.txt", f->dir);
  write_text(f->dir, "outside.txt", "precious\n");
  assert_int_equal(symlink(target, path), 0);
  assert_int_equal(pw_spool_audit(f->s, "spooled", &e, 1000, NULL), -ELOOP);
  assert_int_equal(pw_read_file(target, 0, &text, NULL), 0);
  assert_string_equal(text, "precious\n");
  free(text);
  json_decref(e.payload);
}

static void test_merge(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry es3[3], m, other, *es;
  const char *a0[] = {"a/lag", NULL}, *a1[] = {"b/lag", "c/stale", NULL}, *a2[] = {"d/lag", NULL};
  const char *want[] = {"a/lag", "b/lag", "c/stale", "d/lag"};
  char err[512], spool_dir[128];
  size_t n, k;
  json_t *alerts;

  snprintf(spool_dir, sizeof(spool_dir), "%s/spool", f->dir);
  entry(&es3[0], "m0", 1200, a0);
  entry(&es3[1], "m1", 1100, a1);
  entry(&es3[2], "m2", 1300, a2);
  es3[1].next_attempt = 1500;
  for (k = 0; k < 3; k++)
    assert_int_equal(pw_spool_put(f->s, &es3[k], err, sizeof(err)), 0);
  /* Another receiver's entry cannot join: refused, nothing removed. */
  entry(&other, "o1", 1000, NULL);
  snprintf(other.receiver, sizeof(other.receiver), "dev");
  {
    struct pw_spool_entry mixed[2] = {es3[0], other};
    assert_int_equal(pw_spool_merge(f->s, mixed, 2, &m, err, sizeof(err)), -EINVAL);
    assert_null(m.payload);
    assert_true(exists(spool_dir, "m0.json"));
  }
  assert_int_equal(pw_spool_merge(f->s, es3, 0, &m, err, sizeof(err)), -EINVAL);
  assert_int_equal(pw_spool_merge(f->s, es3, 3, &m, err, sizeof(err)), 0);
  assert_string_equal(m.receiver, "ops");
  assert_int_equal(m.created, 1100);
  assert_int_equal(m.next_attempt, 1200);
  assert_int_equal(m.attempts, 0);
  assert_string_equal(json_string_value(json_object_get(m.payload, "delivery")), m.id);
  for (k = 0; k < 3; k++) {
    char name[80];
    assert_string_not_equal(m.id, es3[k].id);
    snprintf(name, sizeof(name), "%s.json", es3[k].id);
    assert_false(exists(spool_dir, name));
    /* The originals are left as they were. */
    assert_string_equal(json_string_value(json_object_get(es3[k].payload, "delivery")), es3[k].id);
  }
  assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  assert_string_equal(es[0].id, m.id);
  assert_true(json_equal(es[0].payload, m.payload));
  alerts = json_object_get(es[0].payload, "alerts");
  assert_int_equal(json_array_size(alerts), 4);
  for (k = 0; k < 4; k++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, k), "alert")),
                        want[k]);
  assert_int_equal(json_integer_value(json_object_get(es[0].payload, "version")), 1);
  pw_spool_entries_free(es, n);
  for (k = 0; k < 3; k++)
    json_decref(es3[k].payload);
  json_decref(other.payload);
  json_decref(m.payload);
}

/* A writer killed at a random moment, three times: every entry it reported as spooled (after
 * put returned) is loadable, and the spool still loads cleanly. */
static void test_kill_9(void **state) {
  struct fixture *f = *state;
  struct pw_spool_entry *es;
  char err[512];
  int round, total = 0;

  srand((unsigned)getpid() ^ (unsigned)time(NULL));
  for (round = 0; round < 3; round++) {
    static char buf[1 << 20];
    size_t have = 0, n, i;
    ssize_t got;
    int fds[2], status, reported = 0;
    char *line, *save;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      struct pw_spool *cs;
      close(fds[0]);
      if (pw_spool_init(f->dir, &cs, err, sizeof(err)) < 0)
        _exit(1);
      for (;;) {
        struct pw_spool_entry e;
        char msg[80];
        int len;
        entry(&e, "", 10000 + round, NULL);
        if (pw_spool_put(cs, &e, err, sizeof(err)) == 0) {
          /* One short write per id: atomic on a pipe, so a kill never leaves half an id. */
          len = snprintf(msg, sizeof(msg), "%s\n", e.id);
          if (write(fds[1], msg, (size_t)len) != len)
            _exit(1);
        }
        json_decref(e.payload);
      }
    }
    close(fds[1]);
    usleep(20000 + (useconds_t)(rand() % 200000));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    while ((got = read(fds[0], buf + have, sizeof(buf) - 1 - have)) > 0)
      have += (size_t)got;
    buf[have] = '\0';
    close(fds[0]);
    assert_int_equal(pw_spool_load(f->s, &es, &n, err, sizeof(err)), 0);
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
      for (i = 0; i < n; i++)
        if (strcmp(es[i].id, line) == 0)
          break;
      if (i == n)
        fail_msg("entry %s was reported spooled but is not loadable", line);
      reported++;
    }
    pw_spool_entries_free(es, n);
    assert_true(reported > 0);
    total += reported;
  }
  assert_true(total >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_load, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_rotation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_order_of_one_second, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_bad_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unique_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_give_up_and_permanent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_done, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leftovers_and_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_a_file_logged_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlink_and_content_not_logged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_strangers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill_9, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
