/*
 * Unit tests of graph against real RRD files written by the real store: PNG in memory and to a
 * file, SVG to a file, at both sizes, for every kind and pace (cumulative quarterly and step,
 * level linear, standard by quarter and single, milestone, no target); an indicator without a
 * file (placeholder RRD, also created by racing threads); the target path really drawn (a
 * different annual target gives a different image); errors; a file locked by another process
 * until the render is seen waiting and for good; a render waiting for the store lock (the RRD
 * locking rule of store.h). Render times are measured by tests/bench/unitbench.c. Verdicts come
 * from judge on hand-made samples, as the daemon and the CLI compute them. Setting
 * PW_GRAPH_SAMPLES=1 keeps one PNG per indicator in /tmp for a look.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "config.h"
#include "graph.h"
#include "judge.h"
#include "store.h"
#include "util.h"

static char root[] = "/tmp/pw-test-graph-XXXXXX";
static char conf_a[300], conf_b[300], tmp_dir[300];

/* Configuration A and B differ only in the annual target (and quarters) of `checkups`. */
static const char *conf_text =
    "daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
    "domains = ( { id = \"d\"; name = \"幼有善育\"; } );\n"
    "indicators = (\n"
    " { id = \"checkups\"; name = \"城乡居民同质同标免费健康体检人数\"; domain = \"d\";\n"
    "   unit = \"人\"; kind = \"cumulative\";\n"
    "   targets = ( { year = 2024; annual = %s; quarters = [ %s ]; } ); },\n"
    " { id = \"beds\"; name = \"每千人口托位数\"; domain = \"d\"; unit = \"个\"; kind = "
    "\"level\";\n"
    "   pace = \"linear\"; targets = ( { year = 2024; baseline = 3.2; annual = 4.5; } ); },\n"
    " { id = \"stepc\"; name = \"新建改建城乡社区养老服务设施\"; domain = \"d\"; unit = \"个\";\n"
    "   kind = \"cumulative\"; pace = \"step\";\n"
    "   targets = ( { year = 2024; annual = 40; quarters = [ 5, 15, 30, 40 ]; } ); },\n"
    " { id = \"rate\"; name = \"适龄儿童疫苗接种率\"; domain = \"d\"; unit = \"%%\";\n"
    "   kind = \"standard\"; targets = ( { year = 2024; quarters = [ 80.0, 82.5, 85.0, 90.0 ]; } "
    "); },\n"
    " { id = \"unemp\"; name = \"城镇调查失业率\"; domain = \"d\"; unit = \"%%\"; kind = "
    "\"standard\";\n"
    "   direction = \"down\"; targets = ( { year = 2024; standard = 5.5; } ); },\n"
    " { id = \"ms\"; name = \"县域医共体信息平台建设\"; domain = \"d\"; kind = \"milestone\";\n"
    "   stages = [ \"未启动\", \"建设中\", \"试运行\", \"已完成\" ];\n"
    "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-06-30\", \"2024-11-30\" ]; "
    "} ); },\n"
    " { id = \"nt\"; name = \"尚未下达目标的指标\"; domain = \"d\"; unit = \"件\"; kind = "
    "\"cumulative\";\n"
    "   targets = ( ); },\n"
    " { id = \"broken\"; name = \"文件已损坏\"; domain = \"d\"; kind = \"cumulative\";\n"
    "   targets = ( ); } );\n";

enum { CHECKUPS, BEDS, STEPC, RATE, UNEMP, MS, NT, N_IND, BROKEN = N_IND };
static const char *ids[N_IND] = {"checkups", "beds", "stepc", "rate", "unemp", "ms", "nt"};

static struct pw_config *conf, *conf2;
static struct pw_store store;
static struct pw_verdict verdicts[N_IND + 1];
static int64_t at;

/* ---- helpers ---- */

static void write_conf(const char *path, const char *annual, const char *quarters) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  fprintf(f, conf_text, annual, quarters);
  fclose(f);
}

static struct pw_config *load(const char *path) {
  struct pw_config *c = NULL;
  char err[1024];

  if (pw_config_load(path, &c, err, sizeof(err)) != 0)
    fail_msg("config: %s", err);
  return c;
}

struct day_value {
  int month, day;
  double value;
};

/* Stores the samples (each at the end of its day in 2024) through the real store, with the
 * expected value judge computes, and judges them at `at`. */
static void feed(int k, const struct day_value *dv, size_t n) {
  const struct pw_indicator *ind = &conf->indicators[k];
  struct pw_store_point pts[16];
  struct pw_sample samples[16];
  char err[1024];
  size_t i;

  assert_true(n <= 16);
  for (i = 0; i < n; i++) {
    int64_t t = pw_calendar_day_end(2024, dv[i].month, dv[i].day);
    double e;

    pts[i].t = t;
    pts[i].value = dv[i].value;
    pts[i].expected = pw_judge_expected(ind, &conf->cal, t, &e) == 0 ? e : NAN;
    samples[i].as_of = t;
    samples[i].fetched_at = t;
    samples[i].value = dv[i].value;
    samples[i].rev = 0;
    samples[i].note = NULL;
  }
  if (n > 0 && pw_store_append(&store, ind->id, NULL, pts, n, err, sizeof(err)) != 0)
    fail_msg("store: %s", err);
  pw_judge(ind, samples, n, &conf->cal, at, &verdicts[k]);
}

static void request(struct pw_graph_request *r, const struct pw_config *c, int k, int64_t when,
                    enum pw_graph_format fmt, int small, const char *out) {
  memset(r, 0, sizeof(*r));
  r->conf = c;
  r->ind = k;
  r->store = &store;
  r->verdict = &verdicts[k];
  r->at = when;
  r->format = fmt;
  r->small = small;
  r->out_path = out;
  r->tmp_dir = tmp_dir;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG whose header gives the size rrd_graph reported, larger than the plot area. */
static void check_png(const unsigned char *data, size_t len, int width, int height, int small) {
  assert_true(len > 33);
  assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
  assert_memory_equal(data + 12, "IHDR", 4);
  assert_int_equal(be32(data + 16), (uint32_t)width);
  assert_int_equal(be32(data + 20), (uint32_t)height);
  assert_true(width > (small ? 400 : 800));
  assert_true(height > (small ? 150 : 300));
}

/* Renders indicator K at `at` to a PNG in memory and checks it; returns the image (owned). */
static struct pw_graph_image render_png(const struct pw_config *c, int k, int small) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  char err[1024];

  request(&r, c, k, at, PW_GRAPH_PNG, small, NULL);
  if (pw_graph_render(&r, &img, err, sizeof(err)) != 0)
    fail_msg("render %s: %s", ids[k], err);
  assert_non_null(img.data);
  check_png(img.data, img.len, img.width, img.height, small);
  return img;
}

static void save(const char *path, const struct pw_graph_image *img) {
  FILE *f = fopen(path, "wb");

  assert_non_null(f);
  assert_int_equal(fwrite(img->data, 1, img->len, f), img->len);
  fclose(f);
}

/* ---- setup ---- */

static int setup(void **state) {
  static const struct day_value checkups[] = {
      {1, 31, 14000}, {2, 29, 26000}, {3, 31, 31000}, {4, 30, 48000}, {5, 31, 62000}};
  static const struct day_value stepc[] = {{3, 31, 6}, {5, 31, 12}};
  static const struct day_value rate[] = {{1, 31, 78.5}, {3, 31, 81.0}, {5, 31, 82.0}};
  static const struct day_value unemp[] = {{3, 31, 5.3}, {4, 30, 5.6}};
  static const struct day_value ms[] = {{2, 10, 0}};
  static const struct day_value nt[] = {{2, 29, 3}, {4, 30, 9}};
  char err[1024];

  (void)state;
  if (mkdtemp(root) == NULL)
    return -1;
  snprintf(conf_a, sizeof(conf_a), "%s/a.conf", root);
  snprintf(conf_b, sizeof(conf_b), "%s/b.conf", root);
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/state/graphs", root);
  write_conf(conf_a, "190000", "28500, 95000, 142500, 190000");
  write_conf(conf_b, "250000", "40000, 120000, 190000, 250000");
  conf = load(conf_a);
  conf2 = load(conf_b);
  if (pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)) != 0)
    fail_msg("store: %s", err);
  assert_int_equal(pw_mkdir_p(tmp_dir), 0);
  at = pw_calendar_day_end(2024, 6, 14);
  feed(CHECKUPS, checkups, sizeof(checkups) / sizeof(checkups[0]));
  feed(BEDS, NULL, 0);
  feed(STEPC, stepc, sizeof(stepc) / sizeof(stepc[0]));
  feed(RATE, rate, sizeof(rate) / sizeof(rate[0]));
  feed(UNEMP, unemp, sizeof(unemp) / sizeof(unemp[0]));
  feed(MS, ms, sizeof(ms) / sizeof(ms[0]));
  feed(NT, nt, sizeof(nt) / sizeof(nt[0]));
  return 0;
}

static int teardown(void **state) {
  char cmd[400];

  (void)state;
  pw_store_free(&store);
  pw_config_free(conf);
  pw_config_free(conf2);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
  return system(cmd);
}

/* ---- tests ---- */

/* Every kind renders at both sizes, and the verdicts are the ones each case is meant to be. */
static void test_png_memory_every_kind(void **state) {
  const char *keep = getenv("PW_GRAPH_SAMPLES");
  int k, small;

  (void)state;
  assert_int_equal(verdicts[CHECKUPS].status, PW_STATUS_LAGGING);
  assert_true(verdicts[CHECKUPS].has_projection);
  assert_int_equal(verdicts[BEDS].status, PW_STATUS_NO_DATA);
  assert_int_equal(verdicts[NT].status, PW_STATUS_NO_TARGET);
  assert_int_equal(verdicts[MS].status, PW_STATUS_SEVERE);
  assert_int_equal(verdicts[UNEMP].status, PW_STATUS_LAGGING);
  for (k = 0; k < N_IND; k++) {
    for (small = 0; small <= 1; small++) {
      struct pw_graph_image img = render_png(conf, k, small);

      if (k == CHECKUPS && !small)
        save("/tmp/pw-graph-sample.png", &img);
      if (keep != NULL && keep[0] == '1') {
        char path[200];
        snprintf(path, sizeof(path), "/tmp/pw-graph-%s%s.png", ids[k], small ? "-small" : "");
        save(path, &img);
      }
      free(img.data);
    }
  }
}

static void test_png_file(void **state) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  char path[400], err[1024];
  char *data = NULL;
  size_t len = 0;

  (void)state;
  snprintf(path, sizeof(path), "%s/checkups.png", root);
  request(&r, conf, CHECKUPS, at, PW_GRAPH_PNG, 0, path);
  if (pw_graph_render(&r, &img, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  assert_null(img.data);
  assert_int_equal(img.len, 0);
  assert_int_equal(pw_read_file(path, 0, &data, &len), 0);
  check_png((const unsigned char *)data, len, img.width, img.height, 0);
  free(data);

  /* IMG may be NULL when writing to a file. */
  snprintf(path, sizeof(path), "%s/ms-small.png", root);
  request(&r, conf, MS, at, PW_GRAPH_PNG, 1, path);
  assert_int_equal(pw_graph_render(&r, NULL, err, sizeof(err)), 0);
  assert_int_equal(pw_read_file(path, 0, &data, &len), 0);
  assert_memory_equal(data, "\x89PNG", 4);
  free(data);
}

/* The number in attribute NAME="..." of the root <svg> element. */
static double svg_attr(const char *svg, const char *name) {
  const char *el = strstr(svg, "<svg"), *p;
  char key[32];

  assert_non_null(el);
  snprintf(key, sizeof(key), " %s=\"", name);
  p = strstr(el, key);
  if (p == NULL || p > strchr(el, '>'))
    fail_msg("no %s attribute on <svg>", name);
  return strtod(p + strlen(key), NULL);
}

static void test_svg_file(void **state) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  char path[400], err[1024];
  char *data = NULL;
  size_t len = 0;
  int k;

  (void)state;
  for (k = 0; k < N_IND; k++) {
    snprintf(path, sizeof(path), "%s/%s.svg", root, ids[k]);
    request(&r, conf, k, at, PW_GRAPH_SVG, k % 2, path);
    if (pw_graph_render(&r, &img, err, sizeof(err)) != 0)
      fail_msg("%s: %s", ids[k], err);
    assert_int_equal(pw_read_file(path, 0, &data, &len), 0);
    assert_true(strncmp(data, "<?xml", 5) == 0 || strncmp(data, "<svg", 4) == 0);
    /* rrd_graph gives the size in points, the same numbers it reports. */
    assert_int_equal((int)svg_attr(data, "width"), img.width);
    assert_int_equal((int)svg_attr(data, "height"), img.height);
    assert_true(img.width > (k % 2 ? 400 : 800));
    free(data);
  }
  /* And in memory. */
  request(&r, conf, CHECKUPS, at, PW_GRAPH_SVG, 0, NULL);
  assert_int_equal(pw_graph_render(&r, &img, err, sizeof(err)), 0);
  assert_non_null(img.data);
  assert_true(memmem(img.data, img.len, "<svg", 4) != NULL);
  free(img.data);
}

/* No RRD file yet: the graph is drawn from an empty placeholder made once per year. */
static void test_no_data_placeholder(void **state) {
  struct pw_graph_image img;
  char path[400], rrd[400];
  struct stat st, st2;

  (void)state;
  pw_store_path(&store, "beds", rrd, sizeof(rrd));
  assert_int_not_equal(stat(rrd, &st), 0);
  img = render_png(conf, BEDS, 0);
  free(img.data);
  snprintf(path, sizeof(path), "%s/.empty-2024.rrd", tmp_dir);
  assert_int_equal(stat(path, &st), 0);
  img = render_png(conf, BEDS, 1);
  free(img.data);
  assert_int_equal(stat(path, &st2), 0);
  assert_int_equal(st.st_ino, st2.st_ino);
  /* The RRD file is read, never written or created. */
  assert_int_not_equal(stat(rrd, &st), 0);
}

/* The year's plan is drawn: the same data and verdict against another annual target (and
 * quarters) give another image. */
static void test_target_path_drawn(void **state) {
  struct pw_graph_image a = render_png(conf, CHECKUPS, 0);
  struct pw_graph_image b = render_png(conf2, CHECKUPS, 0);
  struct pw_graph_image a2 = render_png(conf, CHECKUPS, 0);

  (void)state;
  /* Rendering is deterministic, so a difference means the plan. */
  assert_int_equal(a.len, a2.len);
  assert_memory_equal(a.data, a2.data, a.len);
  assert_true(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
  free(a.data);
  free(b.data);
  free(a2.data);
}

/* Another year: no target and no data there, still a graph. */
static void test_other_year(void **state) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  char err[1024];

  (void)state;
  request(&r, conf, CHECKUPS, pw_calendar_day_end(2025, 3, 1), PW_GRAPH_PNG, 0, NULL);
  r.verdict = NULL;
  if (pw_graph_render(&r, &img, err, sizeof(err)) != 0)
    fail_msg("%s", err);
  check_png(img.data, img.len, img.width, img.height, 0);
  free(img.data);
}

static void test_errors(void **state) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  char err[1024], path[400];
  int rc;

  (void)state;
  /* librrd's own failure: an RRD file that is not one. */
  pw_store_path(&store, "broken", path, sizeof(path));
  assert_int_equal(pw_write_file_atomic(path, "not an RRD file\n", 16), 0);
  request(&r, conf, BROKEN, at, PW_GRAPH_PNG, 0, NULL);
  rc = pw_graph_render(&r, &img, err, sizeof(err));
  assert_int_equal(rc, -EIO);
  if (strncmp(err, "indicator 'broken': rrd_graph: ", 31) != 0)
    fail_msg("unexpected message: %s", err);
  assert_null(img.data);

  /* An output file that cannot be written, PNG and SVG (librrd itself would not report the
   * latter). */
  request(&r, conf, CHECKUPS, at, PW_GRAPH_PNG, 0, "/nonexistent-dir/x/y.png");
  rc = pw_graph_render(&r, &img, err, sizeof(err));
  assert_int_equal(rc, -ENOENT);
  assert_non_null(strstr(err, "indicator 'checkups': cannot write /nonexistent-dir/x/y.png"));
  assert_null(img.data);
  request(&r, conf, CHECKUPS, at, PW_GRAPH_SVG, 0, "/nonexistent-dir/x/y.svg");
  assert_int_equal(pw_graph_render(&r, &img, err, sizeof(err)), -ENOENT);

  request(&r, conf, BROKEN + 1, at, PW_GRAPH_PNG, 0, NULL);
  assert_int_equal(pw_graph_render(&r, &img, err, sizeof(err)), -EINVAL);

  /* No RRD file and nowhere to put a placeholder. */
  request(&r, conf, BEDS, at, PW_GRAPH_PNG, 0, NULL);
  r.tmp_dir = NULL;
  rc = pw_graph_render(&r, &img, err, sizeof(err));
  assert_int_equal(rc, -EINVAL);
  assert_non_null(strstr(err, "indicator 'beds': "));

  /* A time outside the calendar. */
  request(&r, conf, CHECKUPS, (int64_t)1 << 40, PW_GRAPH_PNG, 0, NULL);
  assert_int_equal(pw_graph_render(&r, &img, err, sizeof(err)), -ERANGE);
}

/* Graphs render in parallel, including the first graph of a year without a placeholder yet,
 * which several threads create at once. */
struct worker {
  int id;
  int failures;
  char err[1024];
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  int i;

  for (i = 0; i < 6; i++) {
    struct pw_graph_request r;
    struct pw_graph_image img;
    int k = (w->id + i) % N_IND;
    /* Every other render is of 2023: no data in the store's files, a fresh placeholder. */
    int64_t when = i % 2 ? pw_calendar_day_end(2023, 8, 1) : at;

    request(&r, conf, (i % 3 == 0) ? BEDS : k, when, i % 2 ? PW_GRAPH_SVG : PW_GRAPH_PNG, i % 2,
            NULL);
    if (pw_graph_render(&r, &img, w->err, sizeof(w->err)) != 0) {
      w->failures++;
      continue;
    }
    if (img.data == NULL || img.len == 0)
      w->failures++;
    free(img.data);
  }
  return NULL;
}

static void test_parallel(void **state) {
  pthread_t th[6];
  struct worker w[6];
  char path[400];
  struct stat st;
  int i;

  (void)state;
  memset(w, 0, sizeof(w));
  for (i = 0; i < 6; i++) {
    w[i].id = i;
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (i = 0; i < 6; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    if (w[i].failures != 0)
      fail_msg("thread %d: %d failures, last: %s", i, w[i].failures, w[i].err);
  }
  snprintf(path, sizeof(path), "%s/.empty-2023.rrd", tmp_dir);
  assert_int_equal(stat(path, &st), 0);
}

/* Another process holding the file's write lock, as the daemon's update does, until told to
 * let go: no sleeps, so that a loaded machine changes nothing. */
struct lock_holder {
  pid_t pid;
  int release; /* write end: one byte releases the lock */
};

static void hold_lock(struct lock_holder *h) {
  char path[400], c;
  int ready[2], release[2];

  pw_store_path(&store, "checkups", path, sizeof(path));
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(release), 0);
  h->pid = fork();
  assert_true(h->pid >= 0);
  if (h->pid == 0) {
    struct flock fl;
    int fd = open(path, O_RDWR);

    close(ready[0]);
    close(release[1]);
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fd < 0 || fcntl(fd, F_SETLKW, &fl) != 0)
      _exit(1);
    if (write(ready[1], "x", 1) != 1)
      _exit(1);
    /* Held until the parent writes (or dies: then read returns 0). */
    if (read(release[0], &c, 1) < 0)
      _exit(1);
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  h->release = release[1];
}

/* Lets go and waits until the child has exited, so the lock is gone when this returns. */
static void release_lock(struct lock_holder *h) {
  int status;

  if (h->pid <= 0)
    return;
  assert_int_equal(write(h->release, "x", 1), 1);
  close(h->release);
  assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  h->pid = 0;
}

struct lock_watch {
  struct lock_holder *h;
  int waits;
  int release_at; /* the wait at which the lock is released; 0: never */
};

/* Called by the renderer each time it found the file locked and is about to wait. */
static void on_lock_wait(void *arg, int attempt) {
  struct lock_watch *w = arg;

  w->waits++;
  assert_int_equal(attempt, w->waits);
  if (attempt == w->release_at)
    release_lock(w->h);
}

/* Renders `checkups` while another process holds its lock, released at the RELEASE_AT-th wait
 * (0: only after the render gave up). Returns the render's result, ERR filled, *WAITS the
 * number of waits seen. */
static int render_while_locked(int release_at, int *waits, char *err, size_t errlen) {
  struct pw_graph_request r;
  struct pw_graph_image img;
  struct lock_holder h;
  struct lock_watch w = {&h, 0, release_at};
  int rc;

  hold_lock(&h);
  request(&r, conf, CHECKUPS, at, PW_GRAPH_PNG, 0, NULL);
  r.lock_wait = on_lock_wait;
  r.lock_wait_arg = &w;
  rc = pw_graph_render(&r, &img, err, errlen);
  free(img.data);
  release_lock(&h);
  *waits = w.waits;
  return rc;
}

/* A short lock (an update takes about a millisecond) is waited out: the render is seen waiting,
 * the lock goes, the next attempt draws. A lock that stays is reported after the last try. */
static void test_locked_by_another_process(void **state) {
  char err[1024];
  int rc, waits;

  (void)state;
  rc = render_while_locked(1, &waits, err, sizeof(err));
  if (rc != 0)
    fail_msg("short lock: %s", err);
  assert_int_equal(waits, 1);
  rc = render_while_locked(0, &waits, err, sizeof(err));
  assert_int_equal(rc, -EIO);
  assert_int_equal(waits, 4); /* five attempts, four waits between them */
  if (strstr(err, "indicator 'checkups': rrd_graph: ") != err || strstr(err, "lock") == NULL)
    fail_msg("unexpected message: %s", err);
}

/* The RRD locking rule (store.h): a render waits while the store lock is held, as an append or a
 * rebuild of the store holds it, so a render never reads a file a write of this process is
 * changing. Deterministic: the render either finishes while the lock is held (the rule is
 * broken) or is seen among the lock's waiters. */
struct render_thread {
  struct pw_graph_request r;
  struct pw_graph_image img;
  atomic_int finished;
  int rc;
  char err[1024];
};

static void *render_main(void *arg) {
  struct render_thread *t = arg;

  t->rc = pw_graph_render(&t->r, &t->img, t->err, sizeof(t->err));
  atomic_store(&t->finished, 1);
  return NULL;
}

static void test_render_waits_for_store_lock(void **state) {
  struct render_thread t;
  pthread_t th;
  struct timespec tick = {0, 1000000L};

  (void)state;
  memset(&t, 0, sizeof(t));
  request(&t.r, conf, CHECKUPS, at, PW_GRAPH_PNG, 0, NULL);
  pw_store_lock();
  assert_int_equal(pthread_create(&th, NULL, render_main, &t), 0);
  while (pw_store_lock_waiting() == 0 && !atomic_load(&t.finished))
    nanosleep(&tick, NULL);
  if (atomic_load(&t.finished)) {
    pw_store_unlock();
    assert_int_equal(pthread_join(th, NULL), 0);
    free(t.img.data);
    fail_msg("a graph was rendered while the store lock was held");
  }
  assert_int_equal(pw_store_lock_waiting(), 1);
  pw_store_unlock();
  assert_int_equal(pthread_join(th, NULL), 0);
  if (t.rc != 0)
    fail_msg("render: %s", t.err);
  check_png(t.img.data, t.img.len, t.img.width, t.img.height, 0);
  free(t.img.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_memory_every_kind),
      cmocka_unit_test(test_png_file),
      cmocka_unit_test(test_svg_file),
      cmocka_unit_test(test_no_data_placeholder),
      cmocka_unit_test(test_target_path_drawn),
      cmocka_unit_test(test_other_year),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_parallel),
      cmocka_unit_test(test_locked_by_another_process),
      cmocka_unit_test(test_render_waits_for_store_lock),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
