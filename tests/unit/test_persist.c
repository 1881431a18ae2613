/*
 * Unit tests of persist with a real libuv loop, a real journal and real RRD files in a
 * temporary directory: a kick makes samples durable, then stored (and a journal that cannot be
 * written touches no RRD file); the 10 s hold-back of a file just written (on persist's own
 * clock, set by the test), a waiting kick writing everything, and no batch at all when nothing
 * changed; a revision rebuilds the file; the check of every file runs off the loop (it returns
 * while the store lock is held by another thread) and rebuilds a file behind the journal, a
 * missing one and one the journal has nothing for, before a kick's waiter is called; free while
 * idle gives the configuration's reference back; a waiter may free persist (as a reload does)
 * or kick again while a kick made during the batch wants the next one (ASan checks the first,
 * the second starts one batch, not two); a file that cannot be written is logged once, tried
 * again after 10 s, 20 s, ... rather than at every batch, and rebuilt with one line once it can
 * be; a journal line no file can hold does not make every start rebuild the file.
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
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <uv.h>

#include "calendar.h"
#include "config.h"
#include "derive.h"
#include "journal.h"
#include "log.h"
#include "persist.h"
#include "store.h"
#include "util.h"

#define DAY 86400

enum { I_A, I_B, I_C, I_D, N_IND };

static char root[] = "/tmp/pw-test-persist-XXXXXX";
static struct pw_config *conf;
static struct pw_journal *journal;
static struct pw_store store;
static uv_loop_t loop;
static int64_t fake_ms = 1000000; /* persist's clock */
static int stored[N_IND];         /* on_stored calls per indicator */
static int wakes;                 /* ctx.wake calls */
static int64_t wake_ms;           /* the last one's delay */

static int64_t clock_ms(void) {
  return fake_ms;
}

static void on_stored(int ind, void *data) {
  assert_ptr_equal(data, &store);
  assert_true(ind >= 0 && ind < N_IND);
  stored[ind]++;
}

static void on_wake(int64_t ms, void *data) {
  assert_ptr_equal(data, &store);
  wakes++;
  wake_ms = ms;
}

static struct pw_persist *make_persist(void) {
  struct pw_persist_ctx ctx;
  struct pw_persist *p = NULL;

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = &loop;
  ctx.conf = conf;
  ctx.journal = journal;
  ctx.store = &store;
  ctx.on_stored = on_stored;
  ctx.data = &store;
  ctx.now_ms = clock_ms;
  ctx.wake = on_wake;
  assert_int_equal(pw_persist_init(&ctx, &p), 0);
  return p;
}

static int64_t day(int month, int d) {
  return pw_calendar_day_end(2024, month, d);
}

/* A sample of IND through the journal, classified as the daemon does, and touched. */
static void add(struct pw_persist *p, int ind, int64_t as_of, double value) {
  enum pw_sample_class cls = pw_journal_classify(journal, ind, as_of, value, 1);

  assert_int_equal(pw_journal_add(journal, ind, as_of, value, as_of, "test"), 0);
  pw_persist_touch(p, ind, cls == PW_SAMPLE_REVISION);
}

struct waited {
  int calls, rc;
  struct pw_persist *p;
  int check_ind; /* -1, or: at the call, this indicator's file must end at CHECK_LAST */
  int64_t check_last;
};

static int64_t file_last(int ind);

static void on_done(int rc, void *data) {
  struct waited *w = data;

  w->calls++;
  w->rc = rc;
  if (w->check_ind >= 0)
    assert_int_equal(file_last(w->check_ind), w->check_last);
}

/* Kicks with a waiter and runs the loop until nothing is left to do. Returns the waiter's rc. */
static int kick_and_wait(struct pw_persist *p) {
  struct waited w = {0, 0, p, -1, 0};

  pw_persist_kick(p, on_done, &w);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w.calls, 1);
  return w.rc;
}

/* The time of the latest point in IND's file; 0 when there is no file. */
static int64_t file_last(int ind) {
  char err[512];
  int64_t last = 0;
  int rc = pw_store_last(&store, conf->indicators[ind].id, &last, err, sizeof(err));

  if (rc == -ENOENT)
    return 0;
  if (rc != 0)
    fail_msg("%s", err);
  return last;
}

static ino_t file_inode(int ind) {
  char path[4200];
  struct stat st;

  pw_store_path(&store, conf->indicators[ind].id, path, sizeof(path));
  assert_int_equal(stat(path, &st), 0);
  return st.st_ino;
}

/* The value stored at instant T (the LAST of the hour ending at T). */
static double file_value_at(int ind, int64_t t) {
  char path[4200];
  time_t start = (time_t)(t - 3600), end = (time_t)t;
  unsigned long step = 3600, ds_cnt = 0;
  char **names = NULL;
  rrd_value_t *data = NULL;
  double v;
  unsigned long i;

  pw_store_path(&store, conf->indicators[ind].id, path, sizeof(path));
  rrd_clear_error();
  if (rrd_fetch_r(path, "LAST", &start, &end, &step, &ds_cnt, &names, &data) != 0)
    fail_msg("rrd_fetch: %s", rrd_get_error());
  assert_true(ds_cnt >= 1);
  v = data[0];
  for (i = 0; i < ds_cnt; i++)
    free(names[i]);
  free(names);
  free(data);
  return v;
}

/* The samples of IND in a fresh read of the journal file (what is durable). */
static size_t durable(int ind) {
  struct pw_journal *j = NULL;
  char err[1024];
  size_t n;

  if (pw_journal_open(conf, 0, &j, err, sizeof(err)) != 0)
    fail_msg("journal: %s", err);
  n = j->series[ind].n;
  pw_journal_close(j);
  return n;
}

/* ---- setup ---- */

static int setup(void **state) {
  char path[300], err[1024];
  FILE *f;

  (void)state;
  if (mkdtemp(root) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", root);
  f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs("daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n",
        f);
  fputs(" { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\";\n"
        "   targets = ( { year = 2024; annual = 1000; } ); },\n"
        " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"cumulative\";\n"
        "   targets = ( { year = 2024; annual = 1000; } ); },\n"
        " { id = \"c\"; name = \"C\"; domain = \"d\"; kind = \"cumulative\";\n"
        "   targets = ( { year = 2024; annual = 1000; } ); },\n"
        " { id = \"d\"; name = \"D\"; domain = \"d\"; kind = \"cumulative\";\n"
        "   targets = ( { year = 2024; annual = 1000; } ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  if (pw_journal_open(conf, 1, &journal, err, sizeof(err)) != 0 ||
      pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return uv_loop_init(&loop);
}

static int teardown(void **state) {
  char cmd[400];

  (void)state;
  assert_int_equal(uv_loop_close(&loop), 0);
  pw_journal_close(journal);
  pw_store_free(&store);
  assert_int_equal(conf->refs, 1);
  pw_config_free(conf);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
  return system(cmd);
}

/* ---- tests ---- */

/* Samples become durable (the journal file holds them), then stored (the RRD file ends at the
 * latest); a journal that cannot be written keeps its lines and touches no RRD file. */
static void test_kick_durable_then_stored(void **state) {
  struct pw_persist *p = make_persist();
  int fd = journal->fd, ro = open("/dev/null", O_RDONLY | O_CLOEXEC);

  (void)state;
  assert_int_equal(conf->refs, 2);
  add(p, I_A, day(1, 31), 10);
  add(p, I_A, day(2, 29), 20);
  /* The journal's write fails: nothing reaches the RRD file, the lines wait in memory. */
  journal->fd = ro;
  assert_true(kick_and_wait(p) < 0);
  assert_int_equal(file_last(I_A), 0);
  assert_int_equal(stored[I_A], 0);
  assert_true(journal->pending.len > 0);
  assert_false(pw_persist_idle(p));
  journal->fd = fd;
  close(ro);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(durable(I_A), 2);
  assert_int_equal(file_last(I_A), day(2, 29));
  assert_int_equal(stored[I_A], 1);
  assert_true(pw_persist_idle(p));
  /* A kick without a waiter does the same. */
  fake_ms += 20000;
  add(p, I_A, day(3, 31), 30);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_A), 3);
  assert_int_equal(file_last(I_A), day(3, 31));
  assert_int_equal(stored[I_A], 2);
  assert_true(pw_persist_idle(p));
  pw_persist_free(p);
  assert_int_equal(conf->refs, 1);
}

/* A file written less than 10 s ago waits; the journal does not. */
static void test_hold_back(void **state) {
  struct pw_persist *p = make_persist();

  (void)state;
  add(p, I_B, day(1, 31), 1);
  pw_persist_kick(p, NULL, NULL); /* the first write after a quiet spell goes at once */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(file_last(I_B), day(1, 31));
  fake_ms += 1000;
  add(p, I_B, day(2, 29), 2);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_B), 2);
  assert_int_equal(file_last(I_B), day(1, 31)); /* held back */
  assert_int_equal(stored[I_B], 1);
  assert_false(pw_persist_idle(p));
  /* Nothing new and the file not due: no batch at all. */
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_loop_alive(&loop), 0);
  /* 10 s after the write, the next kick writes it. */
  fake_ms += 9000;
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(file_last(I_B), day(2, 29));
  assert_int_equal(stored[I_B], 2);
  assert_true(pw_persist_idle(p));
  /* Somebody waits: written at once, due or not. */
  fake_ms += 1;
  add(p, I_B, day(3, 31), 3);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(file_last(I_B), day(3, 31));
  assert_int_equal(stored[I_B], 3);
  pw_persist_free(p);
}

/* A poll's kick less than 100 ms after the last batch a poll's kick started is put off: the
 * owner is asked once to kick again when the 100 ms are over. A waiter starts a batch at once,
 * and its batch does not count. */
static void test_gather(void **state) {
  struct pw_persist *p = make_persist();
  size_t n0;
  int w0;

  (void)state;
  fake_ms += 60000;
  n0 = durable(I_D);
  w0 = wakes;
  add(p, I_D, pw_calendar_day_end(2025, 1, 31), 1);
  pw_persist_kick(p, NULL, NULL); /* the first after a quiet spell goes at once */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_D), n0 + 1);
  assert_int_equal(wakes, w0);
  pw_persist_kick(p, NULL, NULL); /* nothing waits (an unchanged poll): no wake asked either */
  assert_int_equal(uv_loop_alive(&loop), 0);
  assert_int_equal(wakes, w0);
  fake_ms += 60;
  add(p, I_D, pw_calendar_day_end(2025, 2, 28), 2);
  pw_persist_kick(p, NULL, NULL);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_loop_alive(&loop), 0); /* 60 ms after the last: no batch */
  assert_int_equal(durable(I_D), n0 + 1);
  assert_false(pw_persist_idle(p));
  assert_int_equal(wakes, w0 + 1); /* asked once, for the 40 ms left */
  assert_int_equal(wake_ms, 40);
  fake_ms += 40;
  pw_persist_kick(p, NULL, NULL); /* what the owner does then */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_D), n0 + 2);
  /* Kicked while a batch runs: the next batch is put off the same way. */
  fake_ms += 100;
  add(p, I_D, pw_calendar_day_end(2025, 3, 31), 3);
  pw_persist_kick(p, NULL, NULL);
  add(p, I_D, pw_calendar_day_end(2025, 4, 30), 4);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_D), n0 + 3);
  assert_false(pw_persist_idle(p));
  assert_int_equal(wakes, w0 + 2);
  assert_int_equal(wake_ms, 100);
  fake_ms += 100;
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_D), n0 + 4);
  /* Somebody waits: at once, and the file is written too. A poll's kick right after it goes
   * at once as well: the waiter's batch was not a poll's. */
  fake_ms += 100;
  add(p, I_D, pw_calendar_day_end(2025, 5, 31), 5);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(durable(I_D), n0 + 5);
  assert_int_equal(file_last(I_D), pw_calendar_day_end(2025, 5, 31));
  add(p, I_D, pw_calendar_day_end(2025, 6, 30), 6);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(durable(I_D), n0 + 6);
  assert_int_equal(wakes, w0 + 2);
  pw_persist_free(p);
}

/* A revision (a changed value for a stored as_of) rebuilds the file: a new file (inode) with the
 * revised value, not an append. */
static void test_revision_rebuilds(void **state) {
  struct pw_persist *p = make_persist();
  ino_t before;

  (void)state;
  fake_ms += 60000;
  add(p, I_C, day(1, 31), 100);
  add(p, I_C, day(2, 29), 200);
  assert_int_equal(kick_and_wait(p), 0);
  assert_true(file_value_at(I_C, day(1, 31)) == 100);
  before = file_inode(I_C);
  add(p, I_C, day(1, 31), 150);
  assert_int_equal(kick_and_wait(p), 0);
  assert_true(file_inode(I_C) != before);
  assert_true(file_value_at(I_C, day(1, 31)) == 150);
  assert_int_equal(file_last(I_C), day(2, 29));
  assert_int_equal(stored[I_C], 2);
  pw_persist_free(p);
}

/* Another thread holding the store lock until told (or for 10 s at most). */
struct holder {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int go, locked;
  atomic_int released;
};

static void *holder_main(void *arg) {
  struct holder *h = arg;
  struct timespec deadline;

  pw_store_lock();
  pthread_mutex_lock(&h->mu);
  h->locked = 1;
  pthread_cond_broadcast(&h->cv);
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  while (!h->go)
    if (pthread_cond_timedwait(&h->cv, &h->mu, &deadline) != 0)
      break;
  pthread_mutex_unlock(&h->mu);
  atomic_store(&h->released, 1);
  pw_store_unlock();
  return NULL;
}

static void holder_start(struct holder *h) {
  memset(h, 0, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  assert_int_equal(pthread_create(&h->th, NULL, holder_main, h), 0);
  pthread_mutex_lock(&h->mu);
  while (!h->locked)
    pthread_cond_wait(&h->cv, &h->mu);
  pthread_mutex_unlock(&h->mu);
}

static void holder_stop(struct holder *h) {
  pthread_mutex_lock(&h->mu);
  h->go = 1;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  assert_int_equal(pthread_join(h->th, NULL), 0);
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cv);
}

/* The check of every file against the journal reads the files on the thread pool: it returns
 * while another thread holds the store lock, which reading a file on the calling thread would
 * wait for. Then it rebuilds a file behind the journal, a file that is missing and one the
 * journal has nothing for, and a kick's waiter made meanwhile is called only after that. */
static void test_sync_all_off_the_loop(void **state) {
  struct pw_persist *p;
  struct pw_store_point first = {0, 10, NAN};
  struct waited w = {0, 0, NULL, I_A, 0};
  struct holder h;
  char path[4200], err[512];

  (void)state;
  /* A: behind the journal (only its first point); C: its file is gone; D: a file the journal
   * has no sample for. B is in step. */
  first.t = day(1, 31);
  assert_int_equal(pw_store_rebuild(&store, "a", &first, 1, err, sizeof(err)), 0);
  pw_store_path(&store, "c", path, sizeof(path));
  assert_int_equal(unlink(path), 0);
  assert_int_equal(pw_store_rebuild(&store, "d", &first, 1, err, sizeof(err)), 0);
  memset(stored, 0, sizeof(stored));

  p = make_persist();
  holder_start(&h);
  pw_persist_sync_all(p);
  assert_int_equal(atomic_load(&h.released), 0);
  assert_false(pw_persist_idle(p));
  /* Waits for the check and its rebuilds. */
  w.check_last = day(3, 31);
  pw_persist_kick(p, on_done, &w);
  holder_stop(&h);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w.calls, 1);
  assert_int_equal(w.rc, 0);
  assert_int_equal(file_last(I_A), day(3, 31));
  assert_true(file_value_at(I_A, day(2, 29)) == 20);
  assert_int_equal(file_last(I_C), day(2, 29));
  assert_int_equal(file_last(I_D), 0);
  assert_int_equal(file_last(I_B), day(3, 31));
  assert_int_equal(stored[I_A], 1);
  assert_int_equal(stored[I_B], 0);
  assert_int_equal(stored[I_C], 1);
  assert_int_equal(stored[I_D], 1);
  assert_true(pw_persist_idle(p));
  pw_persist_free(p);
}

/* Created and freed without any work: nothing queued, the configuration's reference given back
 * (teardown checks the count and, under ASan, that nothing leaked). */
static void test_free_while_idle(void **state) {
  struct pw_persist *p = make_persist();

  (void)state;
  assert_true(pw_persist_idle(p));
  assert_int_equal(conf->refs, 2);
  pw_persist_kick(p, NULL, NULL);
  assert_int_equal(uv_loop_alive(&loop), 0);
  pw_persist_free(p);
  assert_int_equal(conf->refs, 1);
  pw_persist_free(NULL);
}

/* A waiter that frees persist, as the daemon's reload does when it swaps persist from inside
 * such a callback: the free waits until every waiter of the batch has been called. */
struct freeing_waiter {
  struct pw_persist *p;
  int calls;
};

static void free_in_callback(int rc, void *data) {
  struct freeing_waiter *w = data;

  assert_int_equal(rc, 0);
  w->calls++;
  if (w->calls == 1)
    pw_persist_free(w->p);
}

static void test_free_from_a_waiter(void **state) {
  struct freeing_waiter w1, w2;

  (void)state;
  memset(&w1, 0, sizeof(w1));
  w1.p = make_persist();
  fake_ms += 60000;
  add(w1.p, I_B, day(4, 30), 4);
  pw_persist_kick(w1.p, NULL, NULL);
  /* Both wait for the batch after the one running: the first frees, the second is still called. */
  w2 = w1;
  pw_persist_kick(w1.p, free_in_callback, &w1);
  pw_persist_kick(w1.p, free_in_callback, &w2);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w1.calls, 1);
  assert_int_equal(w2.calls, 1);
  assert_int_equal(conf->refs, 1);
  assert_int_equal(file_last(I_B), day(4, 30));
}

/* A waiter kicks again (with a sample of its own, and one more after its kick) while a kick made
 * during the batch already asked for the next one: one batch follows, not two on top of each
 * other (the same work request queued twice). */
struct kicking_waiter {
  struct pw_persist *p;
  struct waited next;
};

static void kick_in_callback(int rc, void *data) {
  struct kicking_waiter *w = data;

  assert_int_equal(rc, 0);
  add(w->p, I_B, day(6, 30), 6);
  pw_persist_kick(w->p, on_done, &w->next);
  /* Accepted after the kick: pending while that batch runs. */
  add(w->p, I_C, day(6, 30), 600);
}

static void test_kick_from_a_waiter(void **state) {
  struct kicking_waiter w;

  (void)state;
  memset(&w, 0, sizeof(w));
  w.p = make_persist();
  w.next.check_ind = -1;
  fake_ms += 60000;
  add(w.p, I_B, day(5, 31), 5);
  pw_persist_kick(w.p, kick_in_callback, &w);
  /* While that batch runs: another sample and a kick, which asks for the next batch. */
  fake_ms += 60000;
  add(w.p, I_A, day(5, 31), 50);
  pw_persist_kick(w.p, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w.next.calls, 1);
  assert_int_equal(w.next.rc, 0);
  assert_int_equal(file_last(I_B), day(6, 30));
  assert_int_equal(file_last(I_A), day(5, 31));
  assert_int_equal(kick_and_wait(w.p), 0);
  assert_int_equal(file_last(I_C), day(6, 30));
  assert_true(pw_persist_idle(w.p));
  pw_persist_free(w.p);
}

/* The size of the journal file. */
static off_t journal_size(void) {
  struct stat st;

  assert_int_equal(fstat(journal->fd, &st), 0);
  return st.st_size;
}

/* A write cut short (a full disk; here the file size limit, which cuts a write short then
 * fails the next with EFBIG) leaves nothing in the file: the retry writes every line once, no
 * fragment glued to the next line, nothing twice, and the waiter of the failed batch hears of
 * the failure, not of success. */
static void test_short_write_retried(void **state) {
  struct pw_persist *p = make_persist();
  struct rlimit old, low;
  struct pw_journal *j = NULL;
  char err[1024];
  off_t before;
  int k, stored0 = stored[I_D];

  (void)state;
  fake_ms += 60000;
  assert_int_equal(kick_and_wait(p), 0);
  before = journal_size();
  for (k = 1; k <= 20; k++)
    add(p, I_D, day(1, 1) + (int64_t)k * DAY, 100 + k);
  assert_true(journal->pending.len > 200);
  assert_int_not_equal(signal(SIGXFSZ, SIG_IGN), SIG_ERR);
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  low = old;
  low.rlim_cur = (rlim_t)before + 100; /* a line and a half fit */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
  assert_true(kick_and_wait(p) < 0);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  assert_int_equal(journal_size(), before);
  assert_false(pw_persist_idle(p));
  assert_int_equal(stored[I_D], stored0);
  /* Space again: one retry makes them all durable, once each. */
  assert_int_equal(kick_and_wait(p), 0);
  assert_true(pw_persist_idle(p));
  assert_int_equal(pw_journal_open(conf, 0, &j, err, sizeof(err)), 0);
  assert_int_equal(j->skipped, 0);
  assert_int_equal(j->series[I_D].n, 20);
  for (k = 0; k < 20; k++)
    assert_true(j->series[I_D].samples[k].value == 101 + k);
  pw_journal_close(j);
  assert_int_equal(file_last(I_D), day(1, 1) + 20 * DAY);
  assert_int_equal(stored[I_D], stored0 + 1);
  pw_persist_free(p);
}

/* A removed RRD file is rebuilt from the journal when an append finds it missing, not created
 * from the new points only: after a restart (nothing known of the file but its last update),
 * and while the store remembers the file's time. */
static void test_missing_file_rebuilt(void **state) {
  struct pw_persist *p = make_persist();
  char path[4200], err[1024];
  int round;

  (void)state;
  fake_ms += 60000;
  add(p, I_B, day(7, 31), 70);
  add(p, I_B, day(8, 31), 80);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(file_last(I_B), day(8, 31));
  /* A restart: a new store and persist, which learns the files' times from the check. */
  pw_persist_free(p);
  pw_store_free(&store);
  assert_int_equal(pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)), 0);
  p = make_persist();
  pw_persist_sync_all(p);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  for (round = 0; round < 2; round++) {
    int month = 9 + round;
    pw_store_path(&store, conf->indicators[I_B].id, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    fake_ms += 60000;
    add(p, I_B, day(month, 30), 10.0 * month);
    assert_int_equal(kick_and_wait(p), 0);
    assert_int_equal(file_last(I_B), day(month, 30));
    assert_true(file_value_at(I_B, day(7, 31)) == 70);
    assert_true(file_value_at(I_B, day(8, 31)) == 80);
    assert_true(file_value_at(I_B, day(month, 30)) == 10.0 * month);
    assert_true(pw_persist_idle(p));
  }
  pw_persist_free(p);
}

/* A journal line no RRD file can hold (as_of 1 s, or 1000 ms read as seconds, journaled by an
 * older version) is left out of the file, with a warning: the rebuild, persist's rebuild and
 * later appends all succeed. */
static void test_early_as_of_skipped(void **state) {
  struct pw_persist *p = make_persist();
  unsigned char mask[N_IND] = {0};

  (void)state;
  fake_ms += 60000;
  assert_int_equal(pw_journal_add(journal, I_C, 1, 3, day(11, 1), "record"), 0);
  assert_int_equal(pw_journal_add(journal, I_C, 1000, 4, day(11, 1), "record"), 0);
  add(p, I_C, day(11, 30), 110);
  pw_persist_touch(p, I_C, 1);
  assert_int_equal(kick_and_wait(p), 0);
  assert_true(durable(I_C) >= 3);
  assert_int_equal(file_last(I_C), day(11, 30));
  assert_true(file_value_at(I_C, day(11, 30)) == 110);
  /* Later points are appended. */
  fake_ms += 60000;
  add(p, I_C, day(12, 31), 120);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(file_last(I_C), day(12, 31));
  /* And `pacewatch rebuild`'s path rebuilds it without a failure. */
  mask[I_C] = 1;
  assert_int_equal(pw_derive_rebuild(conf, journal, &store, mask), 0);
  assert_int_equal(file_last(I_C), day(12, 31));
  assert_true(file_value_at(I_C, day(11, 30)) == 110);
  pw_persist_free(p);
}

/* A journal line no RRD file can hold (as_of after 9999-12-31, which the reader takes from
 * older versions) does not make the check of the files at start find the file behind: it was
 * rebuilt at every start. */
static void test_far_future_line_not_rebuilt_at_start(void **state) {
  struct pw_persist *p = make_persist();
  ino_t before;
  int stored0, round;

  (void)state;
  fake_ms += 60000;
  add(p, I_D, day(12, 1), 7);
  assert_int_equal(kick_and_wait(p), 0);
  assert_int_equal(pw_journal_add(journal, I_D, PW_STORE_T_MAX + 3600, 8, day(12, 1), "record"), 0);
  assert_int_equal(kick_and_wait(p), 0);
  before = file_inode(I_D);
  stored0 = stored[I_D];
  for (round = 0; round < 2; round++) {
    pw_persist_sync_all(p);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(pw_persist_idle(p));
  }
  assert_int_equal(stored[I_D], stored0);
  assert_true(file_inode(I_D) == before);
  assert_int_equal(file_last(I_D), day(12, 1));
  pw_persist_free(p);
}

/* Occurrences of NEEDLE in HAY. */
static int count_of(const char *hay, const char *needle) {
  int n = 0;

  for (hay = strstr(hay, needle); hay != NULL; hay = strstr(hay + 1, needle))
    n++;
  return n;
}

/* An RRD file that cannot be written (a directory planted at its name) is logged once, not at
 * every batch, and tried again after 10 s, 20 s, 40 s ... (not at every batch); once it can be
 * written it is rebuilt, with one line saying so. Batches run every simulated second. */
static void test_failing_file_logged_once(void **state) {
  struct pw_persist *p = make_persist();
  char path[4200], aside[4300], logpath[300], log[16384];
  int saved = dup(STDERR_FILENO), fd, sec;
  ssize_t got;

  (void)state;
  pw_store_path(&store, conf->indicators[I_A].id, path, sizeof(path));
  snprintf(aside, sizeof(aside), "%s.aside", path);
  snprintf(logpath, sizeof(logpath), "%s/stderr.txt", root);
  fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0 && saved >= 0);
  assert_int_equal(rename(path, aside), 0);
  assert_int_equal(mkdir(path, 0755), 0);
  pw_log_set_level(PW_LOG_DEBUG);
  dup2(fd, STDERR_FILENO);
  fake_ms += 60000;
  add(p, I_A, day(12, 30), 500);
  pw_persist_touch(p, I_A, 1);
  /* 35 s of batches, one a second: tries at 0 s, 10 s and 30 s. */
  for (sec = 0; sec < 35; sec++) {
    pw_persist_kick(p, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    fake_ms += 1000;
  }
  assert_int_equal(rmdir(path), 0);
  /* The next try is 40 s after the last: nothing before, then the rebuild. */
  for (sec = 0; sec < 40; sec++) {
    pw_persist_kick(p, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    fake_ms += 1000;
  }
  dup2(saved, STDERR_FILENO);
  close(saved);
  pw_log_set_level(PW_LOG_INFO);
  got = pread(fd, log, sizeof(log) - 1, 0);
  log[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(logpath);
  unlink(aside);
  if (count_of(log, "error: ") != 1 || count_of(log, "(still)") != 2 ||
      count_of(log, "its RRD file is writable again") != 1)
    fail_msg("log:\n%s", log);
  assert_non_null(strstr(log, "error: persist: indicator 'a': a: cannot rename over"));
  assert_non_null(strstr(log, "Is a directory"));
  assert_int_equal(file_last(I_A), day(12, 30));
  assert_true(file_value_at(I_A, day(12, 30)) == 500);
  assert_true(pw_persist_idle(p));
  pw_persist_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kick_durable_then_stored),
      cmocka_unit_test(test_hold_back),
      cmocka_unit_test(test_revision_rebuilds),
      cmocka_unit_test(test_sync_all_off_the_loop),
      cmocka_unit_test(test_free_while_idle),
      cmocka_unit_test(test_free_from_a_waiter),
      cmocka_unit_test(test_kick_from_a_waiter),
      cmocka_unit_test(test_short_write_retried),
      cmocka_unit_test(test_missing_file_rebuilt),
      cmocka_unit_test(test_early_as_of_skipped),
      cmocka_unit_test(test_failing_file_logged_once),
      cmocka_unit_test(test_far_future_line_not_rebuilt_at_start),
      /* Last: it adds samples of 2025 that the tests above do not expect. */
      cmocka_unit_test(test_gather),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
