/*
 * Unit tests of store against real RRD files: the file's layout and size, the previous value
 * held until one step before the next report (hourly and across a quarter at daily
 * resolution), unknown expected values, old points skipped, rebuilds (changed values, fewer
 * points, none), errors (a FIFO or a symbolic link at a file's name is not opened and is rebuilt
 * over; rrd_create's failure carries its errno text), concurrent writers, writers waiting for the
 * store lock (the RRD locking rule of store.h), and the same through a real rrdcached started here,
 * over a UNIX socket and over TCP loopback. Results are read with librrd and with the real
 * `rrdtool` command. What the calls cost is measured by tests/bench/unitbench.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>

#include "store.h"
#include "util.h"

extern char **environ;

#define HOUR 3600
#define DAY 86400
/* 2024-01-01T00:00:00Z: on an hour and a day boundary. */
#define T0 ((int64_t)1704067200)

static char root[] = "/tmp/pw-test-store-XXXXXX";

/* The direct store (no rrdcached). */
static struct pw_store direct;
static char direct_state[256];

/* A running rrdcached and a store using it, plus a direct reference store to compare with. */
struct cached_env {
  int tcp;
  char dir[256], state[300], journal[300], sock[300], pidfile[300], log[300], ref_state[300];
  char listen[320], addr[320];
  pid_t pid;
  struct pw_store st, ref;
};
static struct cached_env *env;

static const struct pw_store_point P0 = {T0, 10, 11};
static const struct pw_store_point P1 = {T0 + 31 * DAY, 20, NAN};
static const struct pw_store_point P2 = {T0 + 59 * DAY, 30, 33};

/* ---- helpers ---- */

static void file_of(const struct pw_store *s, const char *id, char *buf, size_t size) {
  pw_store_path(s, id, buf, size);
}

static int64_t file_last(const struct pw_store *s, const char *id) {
  char path[512];
  time_t t;

  file_of(s, id, path, sizeof(path));
  rrd_clear_error();
  t = rrd_last_r(path);
  if (t == (time_t)-1)
    fail_msg("rrd_last %s: %s", path, rrd_get_error());
  return (int64_t)t;
}

static int exists(const char *path) {
  struct stat st;

  return stat(path, &st) == 0;
}

/* The whole output of a shell command (owned; free with free()); fails the test unless the
 * command exits with 0. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...) {
  char cmd[2048], chunk[4096];
  struct pw_buf b = {NULL, 0, 0, 0};
  va_list ap;
  FILE *p;
  size_t n;

  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  p = popen(cmd, "r");
  assert_non_null(p);
  while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
    assert_int_equal(pw_buf_append(&b, chunk, n), 0);
  if (pclose(p) != 0)
    fail_msg("command failed: %s\n%s", cmd, b.data ? b.data : "");
  if (b.data == NULL)
    assert_int_equal(pw_buf_append(&b, "", 0), 0);
  return b.data;
}

/* `rrdtool lastupdate FILE`: the time and the two values as printed. */
static void cli_lastupdate(const char *path, long long *t, char *v, char *e) {
  char *out = run("rrdtool lastupdate '%s'", path);
  char *line = strrchr(out, ':');

  assert_non_null(line);
  while (line > out && line[-1] != '\n')
    line--;
  assert_int_equal(sscanf(line, "%lld: %31s %31s", t, v, e), 3);
  free(out);
}

/* The next line of TEXT at *POS (terminated in place), or NULL at the end. */
static char *next_line(char **pos) {
  char *line = *pos, *nl;

  if (line == NULL || *line == '\0')
    return NULL;
  nl = strchr(line, '\n');
  if (nl != NULL) {
    *nl = '\0';
    *pos = nl + 1;
  } else {
    *pos = line + strlen(line);
  }
  return line;
}

struct series {
  time_t start, end;
  unsigned long step, ds_cnt;
  char **names;
  rrd_value_t *data;
};

static void fetch(const char *path, const char *cf, time_t start, time_t end, unsigned long step,
                  struct series *s) {
  s->start = start;
  s->end = end;
  s->step = step;
  rrd_clear_error();
  if (rrd_fetch_r(path, cf, &s->start, &s->end, &s->step, &s->ds_cnt, &s->names, &s->data) != 0)
    fail_msg("rrd_fetch %s: %s", path, rrd_get_error());
  assert_int_equal(s->ds_cnt, 2);
  assert_string_equal(s->names[0], "value");
  assert_string_equal(s->names[1], "expected");
}

static size_t rows(const struct series *s) {
  return (size_t)((s->end - s->start) / (time_t)s->step);
}

/* The value of data source DS in the row ending at T (rows end at start + step, +2 steps...). */
static double at(const struct series *s, int64_t t, int ds) {
  int64_t i = (t - (int64_t)s->start) / (int64_t)s->step - 1;

  assert_true(i >= 0 && (size_t)i < rows(s));
  assert_true((t - (int64_t)s->start) % (int64_t)s->step == 0);
  return s->data[(size_t)i * s->ds_cnt + (size_t)ds];
}

static void series_free(struct series *s) {
  unsigned long i;

  for (i = 0; i < s->ds_cnt; i++)
    free(s->names[i]);
  free(s->names);
  free(s->data);
}

static int same(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b;
}

/* Both files give the same rows for CF at STEP over [START, END]. */
static void assert_same_data(const char *a, const char *b, const char *cf, time_t start, time_t end,
                             unsigned long step) {
  struct series x, y;
  size_t i;

  fetch(a, cf, start, end, step, &x);
  fetch(b, cf, start, end, step, &y);
  assert_int_equal(x.start, y.start);
  assert_int_equal(x.end, y.end);
  assert_int_equal(x.step, y.step);
  for (i = 0; i < rows(&x) * 2; i++)
    if (!same(x.data[i], y.data[i]))
      fail_msg("%s and %s differ in row %zu: %g vs %g", a, b, i / 2, x.data[i], y.data[i]);
  series_free(&x);
  series_free(&y);
}

static void append_ok(struct pw_store *s, const char *id, const struct pw_store_point *prev,
                      const struct pw_store_point *pts, size_t n) {
  char err[512] = "";
  int rc = pw_store_append(s, id, prev, pts, n, err, sizeof(err));

  if (rc != 0)
    fail_msg("append %s: %d %s", id, rc, err);
}

static void rebuild_ok(struct pw_store *s, const char *id, const struct pw_store_point *pts,
                       size_t n) {
  char err[512] = "";
  int rc = pw_store_rebuild(s, id, pts, n, err, sizeof(err));

  if (rc != 0)
    fail_msg("rebuild %s: %d %s", id, rc, err);
}

static int64_t store_last(struct pw_store *s, const char *id) {
  char err[512] = "";
  int64_t last = 0;
  int rc = pw_store_last(s, id, &last, err, sizeof(err));

  if (rc != 0)
    fail_msg("last %s: %d %s", id, rc, err);
  return last;
}

/* ---- direct ---- */

static int setup_direct(void **state) {
  char err[512];

  (void)state;
  if (mkdtemp(root) == NULL)
    return -1;
  snprintf(direct_state, sizeof(direct_state), "%s/direct", root);
  if (pw_store_init(&direct, direct_state, NULL, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown_direct(void **state) {
  (void)state;
  pw_store_free(&direct);
  return 0;
}

static void test_layout_and_size(void **state) {
  char path[512], v[32], e[32];
  struct pw_store_point p = {T0, 5, 6};
  struct stat st;
  struct series s;
  long long t;
  char *info;

  append_ok(&direct, "layout", NULL, &p, 1);
  file_of(&direct, "layout", path, sizeof(path));
  assert_string_equal(strrchr(path, '/'), "/layout.rrd");
  assert_non_null(strstr(path, "/direct/rrd/"));
  assert_int_equal(stat(path, &st), 0);
  print_message("RRD file size: %lld bytes\n", (long long)st.st_size);
  assert_true(st.st_size < 512 * 1024);

  info = run("rrdtool info '%s'", path);
  assert_non_null(strstr(info, "\nstep = 3600\n"));
  assert_non_null(strstr(info, "ds[value].type = \"GAUGE\""));
  assert_non_null(strstr(info, "ds[expected].type = \"GAUGE\""));
  assert_non_null(strstr(info, "ds[value].minimal_heartbeat = 34560000"));
  assert_non_null(strstr(info, "ds[expected].minimal_heartbeat = 34560000"));
  assert_non_null(strstr(info, "ds[value].min = NaN"));
  assert_non_null(strstr(info, "ds[value].max = NaN"));
  assert_non_null(strstr(info, "rra[0].cf = \"LAST\"\nrra[0].rows = 2160\n"
                               "rra[0].cur_row"));
  assert_non_null(strstr(info, "rra[0].pdp_per_row = 1\nrra[0].xff = 5.0000000000e-01"));
  assert_non_null(strstr(info, "rra[1].cf = \"AVERAGE\"\nrra[1].rows = 2160\n"));
  assert_non_null(strstr(info, "rra[1].pdp_per_row = 1\n"));
  assert_non_null(strstr(info, "rra[2].cf = \"LAST\"\nrra[2].rows = 3660\n"));
  assert_non_null(strstr(info, "rra[2].pdp_per_row = 24\nrra[2].xff = 5.0000000000e-01"));
  assert_non_null(strstr(info, "rra[3].cf = \"AVERAGE\"\nrra[3].rows = 3660\n"));
  assert_non_null(strstr(info, "rra[3].pdp_per_row = 24\n"));
  assert_null(strstr(info, "rra[4]"));
  free(info);

  cli_lastupdate(path, &t, v, e);
  assert_int_equal(t, T0);
  assert_string_equal(v, "5");
  assert_string_equal(e, "6");
  /* A single point is visible: its hour is known, not left unknown by the file's start. */
  fetch(path, "LAST", T0 - HOUR, T0, HOUR, &s);
  assert_true(at(&s, T0, 0) == 5);
  assert_true(at(&s, T0, 1) == 6);
  series_free(&s);
  assert_int_equal(store_last(&direct, "layout"), T0);
}

/* Monthly reports: each value holds until one hour before the next; no unknown hour. */
static void test_hold_hourly(void **state) {
  const struct pw_store_point pts[] = {P0, P1, P2};
  char path[512];
  struct series s;
  int64_t t;
  char *out, *line, *pos;
  int lines = 0;

  append_ok(&direct, "monthly", NULL, pts, 3);
  file_of(&direct, "monthly", path, sizeof(path));
  fetch(path, "LAST", T0 - HOUR, P2.t, HOUR, &s);
  assert_int_equal(s.step, HOUR);
  assert_true(at(&s, T0, 0) == 10);
  assert_true(at(&s, T0, 1) == 11);
  for (t = T0 + HOUR; t < P1.t; t += HOUR) {
    assert_true(at(&s, t, 0) == 10);
    assert_true(at(&s, t, 1) == 11);
  }
  /* P1 has no expected value: unknown from P1 until one hour before P2. */
  for (t = P1.t; t < P2.t; t += HOUR) {
    assert_true(at(&s, t, 0) == 20);
    assert_true(isnan(at(&s, t, 1)));
  }
  assert_true(at(&s, P2.t, 0) == 30);
  assert_true(at(&s, P2.t, 1) == 33);
  series_free(&s);

  /* The same seen by the real rrdtool. */
  out = run("rrdtool fetch '%s' LAST -s %lld -e %lld", path, (long long)T0, (long long)P2.t);
  assert_non_null(strstr(out, "1706742000: 1.0000000000e+01 1.1000000000e+01\n"));
  assert_non_null(strstr(out, "1706745600: 2.0000000000e+01 -nan\n"));
  pos = out;
  while ((line = next_line(&pos)) != NULL) {
    long long lt;
    char v[32], e[32];
    /* rrdtool prints one more row, after the end: the future, unknown. */
    if (sscanf(line, "%lld: %31s %31s", &lt, v, e) != 3 || lt > P2.t)
      continue;
    lines++;
    assert_true(lt > T0);
    assert_null(strstr(v, "nan"));
    if (lt < P1.t)
      assert_true(strtod(v, NULL) == 10 && strtod(e, NULL) == 11);
    else if (lt < P2.t)
      assert_true(strtod(v, NULL) == 20 && strstr(e, "nan") != NULL);
    else
      assert_true(strtod(v, NULL) == 30 && strtod(e, NULL) == 33);
  }
  assert_int_equal(lines, (P2.t - T0) / HOUR);
  free(out);
}

/* Quarterly reports appended one by one: PREV makes the first value hold across the quarter
 * (92 days, longer than the hourly archive) with no unknown day thanks to the heartbeat. */
static void test_hold_quarterly(void **state) {
  const struct pw_store_point q0 = {T0, 100, 90}, q1 = {T0 + 92 * DAY, 200, 180};
  char path[512], v[32], e[32];
  struct series s;
  long long lt;
  int64_t t;
  char *out, *line, *pos;
  int days = 0;

  append_ok(&direct, "quarterly", NULL, &q0, 1);
  append_ok(&direct, "quarterly", &q0, &q1, 1);
  file_of(&direct, "quarterly", path, sizeof(path));

  fetch(path, "LAST", T0, q1.t, DAY, &s);
  assert_int_equal(s.step, DAY);
  for (t = T0 + DAY; t < q1.t; t += DAY)
    assert_true(at(&s, t, 0) == 100);
  assert_true(at(&s, q1.t, 0) == 200);
  series_free(&s);
  fetch(path, "AVERAGE", T0, q1.t, DAY, &s);
  assert_true(at(&s, q1.t - DAY, 1) == 90);
  assert_true(fabs(at(&s, q1.t, 0) - (23 * 100.0 + 200) / 24) < 1e-9);
  series_free(&s);
  /* At one hour (the last 90 days): the old value up to one hour before the new one. */
  fetch(path, "LAST", q1.t - 89 * DAY, q1.t, HOUR, &s);
  assert_int_equal(s.step, HOUR);
  for (t = q1.t - 89 * DAY + HOUR; t < q1.t; t += HOUR)
    assert_true(at(&s, t, 0) == 100);
  assert_true(at(&s, q1.t, 0) == 200);
  series_free(&s);

  out =
      run("rrdtool fetch '%s' LAST -r 86400 -s %lld -e %lld", path, (long long)T0, (long long)q1.t);
  pos = out;
  while ((line = next_line(&pos)) != NULL) {
    if (sscanf(line, "%lld: %31s %31s", &lt, v, e) != 3 || lt > q1.t)
      continue;
    days++;
    assert_null(strstr(v, "nan"));
    assert_null(strstr(e, "nan"));
    assert_true(strtod(v, NULL) == (lt < q1.t ? 100 : 200));
  }
  assert_int_equal(days, 92);
  free(out);
  cli_lastupdate(path, &lt, v, e);
  assert_int_equal(lt, q1.t);
  assert_string_equal(v, "200");
  assert_string_equal(e, "180");

  /* Without PREV a GAUGE back-dates the new value over the whole gap (what the hold avoids). */
  append_ok(&direct, "backdated", NULL, &q0, 1);
  append_ok(&direct, "backdated", NULL, &q1, 1);
  file_of(&direct, "backdated", path, sizeof(path));
  fetch(path, "LAST", T0, q1.t, DAY, &s);
  assert_true(at(&s, T0 + 30 * DAY, 0) == 200);
  series_free(&s);
}

static void test_nan_and_lastupdate(void **state) {
  const struct pw_store_point p[] = {{T0, 1.5, NAN}, {T0 + 2 * HOUR, -0.25, INFINITY}};
  char path[512], v[32], e[32];
  time_t last;
  unsigned long cnt;
  char **names, **vals;
  long long t;

  append_ok(&direct, "nan", NULL, p, 2);
  file_of(&direct, "nan", path, sizeof(path));
  rrd_clear_error();
  assert_int_equal(rrd_lastupdate_r(path, &last, &cnt, &names, &vals), 0);
  assert_int_equal(last, T0 + 2 * HOUR);
  assert_int_equal(cnt, 2);
  assert_string_equal(names[0], "value");
  assert_string_equal(vals[0], "-0.25");
  assert_string_equal(vals[1], "U");
  for (unsigned long i = 0; i < cnt; i++) {
    free(names[i]);
    free(vals[i]);
  }
  free(names);
  free(vals);
  cli_lastupdate(path, &t, v, e);
  assert_int_equal(t, T0 + 2 * HOUR);
  assert_string_equal(v, "-0.25");
  assert_string_equal(e, "U");
}

/* Points the file already covers are left out silently; newer ones in the batch go in. */
static void test_old_points_skipped(void **state) {
  const struct pw_store_point pts[] = {P0, P1};
  const struct pw_store_point old = {P0.t + DAY, 99, 99};
  const struct pw_store_point mixed[] = {{P1.t, 77, 77}, P2};
  char path[512], err[256] = "";
  struct series s;

  append_ok(&direct, "old", NULL, pts, 2);
  file_of(&direct, "old", path, sizeof(path));
  assert_int_equal(pw_store_append(&direct, "old", &P0, &old, 1, err, sizeof(err)), 0);
  assert_string_equal(err, "");
  assert_int_equal(file_last(&direct, "old"), P1.t);
  append_ok(&direct, "old", &P1, mixed, 2);
  assert_int_equal(file_last(&direct, "old"), P2.t);
  fetch(path, "LAST", P0.t, P2.t, HOUR, &s);
  assert_true(at(&s, P0.t + DAY, 0) == 10);
  assert_true(at(&s, P1.t, 0) == 20);
  /* The hold before P2 repeats the batch's first point (its PREV), skipped itself. */
  assert_true(at(&s, P2.t - HOUR, 0) == 77);
  assert_true(at(&s, P2.t, 0) == 30);
  series_free(&s);
}

static void test_rebuild(void **state) {
  const struct pw_store_point pts[] = {P0, P1, P2};
  struct pw_store_point revised[] = {P0, P1, P2};
  char path[512], ref[512], tmp[600], err[256];
  struct series s;
  struct stat a, b;
  int64_t t;

  /* Appended one by one or rebuilt at once: the same file content. */
  append_ok(&direct, "inc", NULL, &pts[0], 1);
  append_ok(&direct, "inc", &pts[0], &pts[1], 1);
  append_ok(&direct, "inc", &pts[1], &pts[2], 1);
  rebuild_ok(&direct, "reb", pts, 3);
  file_of(&direct, "inc", ref, sizeof(ref));
  file_of(&direct, "reb", path, sizeof(path));
  assert_same_data(ref, path, "LAST", T0 - HOUR, P2.t, HOUR);
  assert_same_data(ref, path, "AVERAGE", T0 - DAY, P2.t, DAY);

  /* A revised middle value changes the data, and the file is replaced by a new one. */
  assert_int_equal(stat(path, &a), 0);
  revised[1].value = 25;
  revised[1].expected = 24;
  rebuild_ok(&direct, "reb", revised, 3);
  assert_int_equal(stat(path, &b), 0);
  assert_true(a.st_ino != b.st_ino);
  fetch(path, "LAST", T0, P2.t, HOUR, &s);
  for (t = P1.t; t < P2.t; t += HOUR) {
    assert_true(at(&s, t, 0) == 25);
    assert_true(at(&s, t, 1) == 24);
  }
  assert_true(at(&s, P1.t - HOUR, 0) == 10);
  assert_true(at(&s, P2.t, 0) == 30);
  series_free(&s);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  assert_false(exists(tmp));

  /* Fewer points: the file ends earlier, and later points can be appended again. */
  rebuild_ok(&direct, "reb", revised, 2);
  assert_int_equal(file_last(&direct, "reb"), P1.t);
  append_ok(&direct, "reb", &revised[1], &P2, 1);
  assert_int_equal(file_last(&direct, "reb"), P2.t);

  /* None: the file goes; again is no error. */
  rebuild_ok(&direct, "reb", NULL, 0);
  assert_false(exists(path));
  rebuild_ok(&direct, "reb", NULL, 0);
  assert_int_equal(pw_store_last(&direct, "reb", &t, err, sizeof(err)), -ENOENT);
  assert_non_null(strstr(err, "reb"));
}

/* A file outside the store that a planted link points to. */
static const char *blocker_target(void) {
  static char target[300];
  int fd;

  snprintf(target, sizeof(target), "%s/outside.txt", root);
  fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "precious\n", 9), 9);
  close(fd);
  return target;
}

static void test_errors(void **state) {
  struct pw_store bad;
  char path[512], err[512] = "", blocker[300];
  const struct pw_store_point p = {T0, 1, 2};
  int fd;

  assert_int_equal(pw_store_append(&direct, "../evil", NULL, &p, 1, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "../evil"));
  assert_int_equal(pw_store_rebuild(&direct, "", &p, 1, err, sizeof(err)), -EINVAL);
  assert_int_equal(pw_store_append(&direct, "nothing", NULL, &p, 0, err, sizeof(err)), 0);
  file_of(&direct, "nothing", path, sizeof(path));
  assert_false(exists(path));

  /* A file that is not an RRD: librrd's text, the id and the file in ERR, -EIO. */
  file_of(&direct, "corrupt", path, sizeof(path));
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "not an rrd file at all\n", 23), 23);
  close(fd);
  err[0] = '\0';
  assert_int_equal(pw_store_append(&direct, "corrupt", NULL, &p, 1, err, sizeof(err)), -EIO);
  print_message("error text: %s\n", err);
  assert_true(strncmp(err, "corrupt: rrd_last: ", 19) == 0);
  assert_non_null(strstr(err, path));
  /* A rebuild replaces it. */
  rebuild_ok(&direct, "corrupt", &p, 1);
  assert_int_equal(file_last(&direct, "corrupt"), T0);

  /* Something not a regular file at a file's name (a FIFO, on which librrd would block; a
   * symbolic link, never followed) is not opened: the error says what it is, and a rebuild
   * renames a file over it. */
  file_of(&direct, "fifo", path, sizeof(path));
  assert_int_equal(mkfifo(path, 0644), 0);
  alarm(20);
  err[0] = '\0';
  assert_int_equal(pw_store_append(&direct, "fifo", NULL, &p, 1, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "is a FIFO, not an RRD file"));
  assert_non_null(strstr(err, path));
  {
    int64_t last = 0;
    assert_int_equal(pw_store_last(&direct, "fifo", &last, err, sizeof(err)), -EINVAL);
  }
  rebuild_ok(&direct, "fifo", &p, 1);
  alarm(0);
  assert_int_equal(file_last(&direct, "fifo"), T0);
  file_of(&direct, "link", path, sizeof(path));
  assert_int_equal(symlink(blocker_target(), path), 0);
  assert_int_equal(pw_store_append(&direct, "link", NULL, &p, 1, err, sizeof(err)), -ELOOP);
  assert_non_null(strstr(err, "is a symbolic link (not followed), not an RRD file"));
  rebuild_ok(&direct, "link", &p, 1);
  assert_int_equal(file_last(&direct, "link"), T0);

  /* rrd_create's failure says why (librrd's own "Cannot create temporary file" does not): here
   * the store's directory removed behind its back. */
  {
    char gone[300];
    struct pw_store rs;
    snprintf(gone, sizeof(gone), "%s/gone", root);
    assert_int_equal(pw_store_init(&rs, gone, NULL, err, sizeof(err)), 0);
    assert_int_equal(rmdir(rs.dir), 0);
    assert_int_equal(pw_store_append(&rs, "new", NULL, &p, 1, err, sizeof(err)), -EIO);
    print_message("error text: %s\n", err);
    assert_non_null(strstr(err, "new: rrd_create: "));
    assert_non_null(strstr(err, strerror(ENOENT)));
    pw_store_free(&rs);
  }

  /* The state directory cannot be created under a regular file. */
  snprintf(blocker, sizeof(blocker), "%s/blocker", root);
  fd = open(blocker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  close(fd);
  assert_true(pw_store_init(&bad, blocker, NULL, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "blocker"));
  pw_store_free(&bad);
  pw_store_free(NULL);
}

struct writer {
  struct pw_store *s;
  char id[32];
  int rebuild;
  int failures;
  char err[512];
};

static void *writer_main(void *arg) {
  struct writer *w = arg;
  struct pw_store_point prev = {0, 0, 0}, p;
  int i;

  for (i = 0; i < 60; i++) {
    int rc;
    p.t = T0 + i * DAY;
    p.value = i;
    p.expected = i + 0.5;
    if (w->rebuild) {
      struct pw_store_point pts[3] = {{T0, 1, 1}, {T0 + DAY, i, i}, {T0 + 40 * DAY, 3, 3}};
      rc = pw_store_rebuild(w->s, w->id, pts, 3, w->err, sizeof(w->err));
    } else {
      rc = pw_store_append(w->s, w->id, i > 0 ? &prev : NULL, &p, 1, w->err, sizeof(w->err));
    }
    if (rc != 0)
      w->failures++;
    prev = p;
  }
  return NULL;
}

/* Several threads writing different files at once (appends and rebuilds). */
static void run_writers(struct pw_store *s, const char *prefix) {
  struct writer w[5];
  pthread_t th[5];
  int i;

  for (i = 0; i < 5; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].s = s;
    w[i].rebuild = i == 4;
    snprintf(w[i].id, sizeof(w[i].id), "%s%d", prefix, i);
    assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
  }
  for (i = 0; i < 5; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    if (w[i].failures != 0)
      fail_msg("%s: %d failures, last: %s", w[i].id, w[i].failures, w[i].err);
  }
  for (i = 0; i < 4; i++)
    assert_int_equal(store_last(s, w[i].id), T0 + 59 * DAY);
  assert_int_equal(store_last(s, w[4].id), T0 + 40 * DAY);
}

static void test_threads(void **state) {
  run_writers(&direct, "thr");
}

/* Many single-point appends (each with its hold entry), then a 10-year rebuild. What they cost
 * is measured by tests/bench/unitbench.c. */
static void many_points(struct pw_store *s, const char *id) {
  struct pw_store_point prev = {0, 0, 0}, p, *pts;
  int i, n = 200;

  for (i = 0; i < n; i++) {
    p.t = T0 + i * DAY;
    p.value = i;
    p.expected = i;
    append_ok(s, id, i > 0 ? &prev : NULL, &p, 1);
    prev = p;
  }
  assert_int_equal(store_last(s, id), T0 + (n - 1) * DAY);
  pts = malloc(3650 * sizeof(*pts));
  assert_non_null(pts);
  for (i = 0; i < 3650; i++) {
    pts[i].t = T0 + (int64_t)i * DAY;
    pts[i].value = i;
    pts[i].expected = NAN;
  }
  rebuild_ok(s, id, pts, 3650);
  assert_int_equal(store_last(s, id), pts[3649].t);
  free(pts);
}

static void test_many_points(void **state) {
  many_points(&direct, "many");
}

/* The RRD locking rule (store.h): while the store lock is held (as a render holds it), a
 * rebuild and an append wait for it. Seen through the lock's count of waiters, not a delay. */
struct locked_writer {
  struct pw_store *s;
  int rebuild;
  atomic_int finished;
  int rc;
  char err[512];
};

static void *locked_writer_main(void *arg) {
  struct locked_writer *w = arg;
  struct pw_store_point p = {T0 + 400 * DAY, 1, 2};

  if (w->rebuild)
    w->rc = pw_store_rebuild(w->s, "waits", &p, 1, w->err, sizeof(w->err));
  else
    w->rc = pw_store_append(w->s, "waits", NULL, &p, 1, w->err, sizeof(w->err));
  atomic_store(&w->finished, 1);
  return NULL;
}

static void writer_waits(struct pw_store *s, int rebuild) {
  struct locked_writer w;
  struct timespec tick = {0, 1000000L};
  pthread_t th;

  memset(&w, 0, sizeof(w));
  w.s = s;
  w.rebuild = rebuild;
  pw_store_lock();
  assert_int_equal(pthread_create(&th, NULL, locked_writer_main, &w), 0);
  while (pw_store_lock_waiting() == 0 && !atomic_load(&w.finished))
    nanosleep(&tick, NULL);
  if (atomic_load(&w.finished)) {
    pw_store_unlock();
    assert_int_equal(pthread_join(th, NULL), 0);
    fail_msg("a %s ran while the store lock was held", rebuild ? "rebuild" : "append");
  }
  pw_store_unlock();
  assert_int_equal(pthread_join(th, NULL), 0);
  if (w.rc != 0)
    fail_msg("%s", w.err);
}

static void test_writers_wait_for_lock(void **state) {
  (void)state;
  writer_waits(&direct, 1); /* creates the file */
  writer_waits(&direct, 0); /* an append to an existing file */
  assert_int_equal(store_last(&direct, "waits"), T0 + 400 * DAY);
}

/* ---- through a real rrdcached ---- */

static int can_connect(const struct cached_env *c) {
  int fd, rc;

  if (c->tcp) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((unsigned short)atol(strrchr(c->addr, ':') + 1));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  } else {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    pw_strlcpy(sa.sun_path, c->sock, sizeof(sa.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  }
  close(fd);
  return rc == 0;
}

static int free_port(void) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

/* Starts rrdcached in the foreground (-g) with the state directory as its base (-b), and waits
 * until it accepts connections. Returns 0, or -1 if it exited or never answered. */
static int start_rrdcached(struct cached_env *c) {
  char *argv[] = {"rrdcached", "-g", "-l",     c->listen, "-w",       "3600", "-z",       "1", "-f",
                  "7200",      "-b", c->state, "-p",      c->pidfile, "-j",   c->journal, NULL};
  posix_spawn_file_actions_t fa;
  int i, status, rc;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, c->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  rc = posix_spawnp(&c->pid, "rrdcached", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot start rrdcached: %s\n", strerror(rc));
    return -1;
  }
  for (i = 0; i < 500; i++) {
    if (can_connect(c))
      return 0;
    if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
      c->pid = 0;
      return -1;
    }
    usleep(10000);
  }
  return -1;
}

static void stop_rrdcached(struct cached_env *c) {
  int status;

  if (c->pid > 0) {
    kill(c->pid, SIGTERM);
    waitpid(c->pid, &status, 0);
    c->pid = 0;
  }
}

static int setup_cached(int tcp) {
  static int n;
  char err[512];
  int attempt;

  env = calloc(1, sizeof(*env));
  if (env == NULL)
    return -1;
  env->tcp = tcp;
  snprintf(env->dir, sizeof(env->dir), "%s/cached%d", root, n++);
  snprintf(env->state, sizeof(env->state), "%s/state", env->dir);
  snprintf(env->ref_state, sizeof(env->ref_state), "%s/ref", env->dir);
  snprintf(env->journal, sizeof(env->journal), "%s/journal", env->dir);
  snprintf(env->sock, sizeof(env->sock), "%s/rrdcached.sock", env->dir);
  snprintf(env->pidfile, sizeof(env->pidfile), "%s/rrdcached.pid", env->dir);
  snprintf(env->log, sizeof(env->log), "%s/rrdcached.log", env->dir);
  if (pw_mkdir_p(env->state) < 0 || pw_mkdir_p(env->journal) < 0)
    return -1;
  /* A port found free may be taken before rrdcached binds it: try a few. */
  for (attempt = 0; attempt < 5; attempt++) {
    if (tcp)
      snprintf(env->listen, sizeof(env->listen), "127.0.0.1:%d", free_port());
    else
      snprintf(env->listen, sizeof(env->listen), "unix:%s", env->sock);
    snprintf(env->addr, sizeof(env->addr), "%s", env->listen);
    if (start_rrdcached(env) == 0)
      break;
    stop_rrdcached(env);
  }
  if (env->pid <= 0) {
    fprintf(stderr, "rrdcached did not start; see %s\n", env->log);
    return -1;
  }
  if (pw_store_init(&env->st, env->state, env->addr, err, sizeof(err)) != 0 ||
      pw_store_init(&env->ref, env->ref_state, NULL, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int setup_unix(void **state) {
  (void)state;
  return setup_cached(0);
}

static int setup_tcp(void **state) {
  (void)state;
  return setup_cached(1);
}

static int teardown_cached(void **state) {
  (void)state;
  if (env == NULL)
    return 0;
  pw_store_free(&env->st);
  pw_store_free(&env->ref);
  stop_rrdcached(env);
  free(env);
  env = NULL;
  return 0;
}

static void compare_with_ref(const char *id) {
  char a[512], b[512];

  file_of(&env->st, id, a, sizeof(a));
  file_of(&env->ref, id, b, sizeof(b));
  assert_same_data(a, b, "LAST", T0 - HOUR, P2.t, HOUR);
  assert_same_data(a, b, "AVERAGE", T0 - DAY, P2.t, DAY);
}

/* Updates wait in rrdcached until a flush; then the file holds what a direct store writes. */
static void test_cached_append_and_flush(void **state) {
  const struct pw_store_point pts[] = {P0, P1};
  char path[512], err[256] = "", v[32], e[32];
  long long t;

  append_ok(&env->st, "q", NULL, pts, 2);
  append_ok(&env->ref, "q", NULL, pts, 2);
  file_of(&env->st, "q", path, sizeof(path));
  assert_int_equal(file_last(&env->st, "q"), T0 - HOUR);
  cli_lastupdate(path, &t, v, e);
  assert_int_equal(t, T0 - HOUR);
  assert_int_equal(pw_store_flush(&env->st, "q", err, sizeof(err)), 0);
  assert_int_equal(file_last(&env->st, "q"), P1.t);
  cli_lastupdate(path, &t, v, e);
  assert_int_equal(t, P1.t);
  assert_string_equal(v, "20");
  assert_string_equal(e, "U");
  compare_with_ref("q");

  /* The next append queues again: the file stays at P1 until something flushes. */
  append_ok(&env->st, "q", &P1, &P2, 1);
  append_ok(&env->ref, "q", &P1, &P2, 1);
  assert_int_equal(file_last(&env->st, "q"), P1.t);
  assert_int_equal(store_last(&env->st, "q"), P2.t);
  assert_int_equal(file_last(&env->st, "q"), P2.t);
  compare_with_ref("q");
  /* A point already queued or written is skipped, as without rrdcached. */
  append_ok(&env->st, "q", &P1, &P2, 1);
  /* Flushing a file that does not exist is no error. */
  assert_int_equal(pw_store_flush(&env->st, "nosuch", err, sizeof(err)), 0);
}

static void test_cached_rebuild(void **state) {
  const struct pw_store_point pts[] = {P0, P1, P2};
  struct pw_store_point revised[] = {P0, P1, P2};
  const struct pw_store_point late = {P2.t, 35, 36};
  char path[512];
  struct series s;

  /* Queued and not flushed when the rebuild comes: the rebuild wins. */
  append_ok(&env->st, "r", NULL, pts, 3);
  revised[1].value = 25;
  rebuild_ok(&env->st, "r", revised, 3);
  rebuild_ok(&env->ref, "r", revised, 3);
  compare_with_ref("r");
  file_of(&env->st, "r", path, sizeof(path));
  fetch(path, "LAST", T0, P2.t, HOUR, &s);
  assert_true(at(&s, P1.t, 0) == 25);
  assert_true(at(&s, P2.t - HOUR, 0) == 25);
  series_free(&s);

  /* Fewer points, then a point at the old last time: rrdcached must have forgotten that time,
   * or it would refuse the update ("illegal attempt to update"). */
  rebuild_ok(&env->st, "r", revised, 2);
  rebuild_ok(&env->ref, "r", revised, 2);
  assert_int_equal(file_last(&env->st, "r"), P1.t);
  append_ok(&env->st, "r", &revised[1], &late, 1);
  append_ok(&env->ref, "r", &revised[1], &late, 1);
  assert_int_equal(store_last(&env->st, "r"), P2.t);
  compare_with_ref("r");

  /* None: the file goes; a new one starts over with earlier times. */
  append_ok(&env->st, "r", &late, &(struct pw_store_point){P2.t + DAY, 1, 1}, 1);
  rebuild_ok(&env->st, "r", NULL, 0);
  assert_false(exists(path));
  append_ok(&env->st, "r", NULL, pts, 3);
  rebuild_ok(&env->ref, "r", pts, 3);
  assert_int_equal(store_last(&env->st, "r"), P2.t);
  compare_with_ref("r");
}

/* A batch longer than one rrdcached command (RRD_CMD_MAX bytes) goes in several. */
static void test_cached_long_batch(void **state) {
  struct pw_store_point pts[300];
  char a[512], b[512], err[256];
  int i;

  for (i = 0; i < 300; i++) {
    pts[i].t = T0 + (int64_t)i * 2 * DAY;
    pts[i].value = i / 3.0;
    pts[i].expected = i % 7 == 0 ? NAN : i * 1e6 + 0.125;
  }
  append_ok(&env->st, "long", NULL, pts, 300);
  append_ok(&env->ref, "long", NULL, pts, 300);
  assert_int_equal(pw_store_flush(&env->st, "long", err, sizeof(err)), 0);
  assert_int_equal(file_last(&env->st, "long"), pts[299].t);
  file_of(&env->st, "long", a, sizeof(a));
  file_of(&env->ref, "long", b, sizeof(b));
  assert_same_data(a, b, "LAST", pts[299].t - 89 * DAY, pts[299].t, HOUR);
  assert_same_data(a, b, "LAST", T0 - DAY, pts[299].t, DAY);
  assert_same_data(a, b, "AVERAGE", T0 - DAY, pts[299].t, DAY);
}

/* rrdcached restarts: librrd's kept connection is dead; the store reconnects. */
static void test_cached_restart(void **state) {
  const struct pw_store_point p = {T0 + DAY, 2, 2};

  append_ok(&env->st, "restart", NULL, &P0, 1);
  assert_int_equal(store_last(&env->st, "restart"), T0);
  stop_rrdcached(env);
  assert_int_equal(start_rrdcached(env), 0);
  append_ok(&env->st, "restart", &P0, &p, 1);
  assert_int_equal(store_last(&env->st, "restart"), p.t);
}

static void test_cached_unreachable(void **state) {
  struct pw_store s;
  char err[512], addr[600];
  const struct pw_store_point p = {T0 + DAY, 2, 2};

  snprintf(addr, sizeof(addr), "unix:%s/no-such.sock", env->dir);
  assert_int_equal(pw_store_init(&s, env->state, addr, err, sizeof(err)), 0);
  err[0] = '\0';
  assert_int_equal(pw_store_append(&s, "restart", &P0, &p, 1, err, sizeof(err)), -EIO);
  print_message("error text: %s\n", err);
  assert_true(strncmp(err, "restart: rrdc_connect: ", 23) == 0);
  assert_non_null(strstr(err, "restart.rrd"));
  pw_store_free(&s);
}

static void test_cached_threads(void **state) {
  run_writers(&env->st, "thr");
}

static void test_cached_many_points(void **state) {
  many_points(&env->st, "many");
}

int main(void) {
  const struct CMUnitTest direct_tests[] = {
      cmocka_unit_test(test_layout_and_size),
      cmocka_unit_test(test_hold_hourly),
      cmocka_unit_test(test_hold_quarterly),
      cmocka_unit_test(test_nan_and_lastupdate),
      cmocka_unit_test(test_old_points_skipped),
      cmocka_unit_test(test_rebuild),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_many_points),
      cmocka_unit_test(test_writers_wait_for_lock),
  };
  const struct CMUnitTest cached_tests[] = {
      cmocka_unit_test(test_cached_append_and_flush), cmocka_unit_test(test_cached_rebuild),
      cmocka_unit_test(test_cached_long_batch),       cmocka_unit_test(test_cached_restart),
      cmocka_unit_test(test_cached_unreachable),      cmocka_unit_test(test_cached_threads),
      cmocka_unit_test(test_cached_many_points),
  };
  int failed = 0;

  /* librrd writes to rrdcached's socket; a dead peer must give an error, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  failed +=
      cmocka_run_group_tests_name("store direct", direct_tests, setup_direct, teardown_direct);
  failed += cmocka_run_group_tests_name("store rrdcached unix", cached_tests, setup_unix,
                                        teardown_cached);
  failed +=
      cmocka_run_group_tests_name("store rrdcached tcp", cached_tests, setup_tcp, teardown_cached);
  if (failed == 0) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
      failed = 1;
  }
  return failed;
}
