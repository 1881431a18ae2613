/*
 * Unit tests of graphcache with a real libuv loop, real renders and real RRD files: a second
 * request is served from the cache at once; an invalidated graph is rendered again, once for
 * all the requests waiting for it; a cancelled request is never called while the render's
 * result is still cached; a reload while a render is in flight keeps the old configuration
 * alive until the render ends (its reference count; ASan and LSan check the rest), gives the
 * result to the request that waited, and caches nothing of the old generation under the new
 * one's indexes; freeing the cache with a render in flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "calendar.h"
#include "config.h"
#include "graphcache.h"
#include "judge.h"
#include "store.h"

static char root[] = "/tmp/pw-test-graphcache-XXXXXX";
static char conf_path[300], conf2_path[300];
static struct pw_config *current; /* what the cache's context calls the current generation */
static struct pw_verdict verdicts[4];
static int verdict_calls; /* one per render started */
static struct pw_store store;
static uv_loop_t loop;

static struct pw_config *get_config(void *data) {
  (void)data;
  return current;
}

static const struct pw_verdict *get_verdict(void *data, int ind) {
  (void)data;
  assert_true(ind >= 0 && ind < current->n_indicators);
  verdict_calls++;
  return &verdicts[ind];
}

static struct pw_graphcache *make_cache(void) {
  struct pw_graphcache_ctx ctx;
  struct pw_graphcache *g = NULL;

  memset(&ctx, 0, sizeof(ctx));
  ctx.loop = &loop;
  ctx.store = &store;
  ctx.config = get_config;
  ctx.verdict = get_verdict;
  assert_int_equal(pw_graphcache_init(&ctx, &g), 0);
  return g;
}

static struct pw_config *load(const char *path) {
  struct pw_config *c = NULL;
  char err[1024];

  if (pw_config_load(path, &c, err, sizeof(err)) != 0)
    fail_msg("config: %s", err);
  return c;
}

/* A request's answers: how many, a copy of the last, and optionally a request to cancel from
 * inside the callback. */
struct reader {
  int calls;
  unsigned char *data;
  size_t len;
  struct pw_graphcache *g;
  void *cancel;
};

static void on_ready(const unsigned char *data, size_t len, void *arg) {
  struct reader *r = arg;

  r->calls++;
  assert_non_null(data);
  assert_true(len > 8);
  assert_memory_equal(data, "\x89PNG", 4);
  free(r->data);
  r->data = malloc(len);
  assert_non_null(r->data);
  memcpy(r->data, data, len);
  r->len = len;
  if (r->cancel != NULL)
    pw_graphcache_cancel(r->g, r->cancel);
}

static void same_bytes(const struct reader *a, const struct reader *b) {
  assert_int_equal(a->len, b->len);
  assert_memory_equal(a->data, b->data, a->len);
}

static void done_reading(struct reader *r) {
  free(r->data);
  memset(r, 0, sizeof(*r));
}

static void run(void) {
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

static void write_conf(const char *path, const char *first, const char *second) {
  FILE *f = fopen(path, "w");
  const char *ind = " { id = \"%s\"; name = \"指标%s\"; domain = \"d\"; unit = \"人\";\n"
                    "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 1000; } ); }";

  assert_non_null(f);
  fputs("daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\nindicators = (\n",
        f);
  fprintf(f, ind, first, first);
  fputs(",\n", f);
  fprintf(f, ind, second, second);
  fputs(" );\n", f);
  fclose(f);
}

/* ---- setup ---- */

static int setup(void **state) {
  struct pw_store_point pts[2];
  char err[1024];
  int i;

  (void)state;
  if (mkdtemp(root) == NULL)
    return -1;
  snprintf(conf_path, sizeof(conf_path), "%s/a.conf", root);
  snprintf(conf2_path, sizeof(conf2_path), "%s/b.conf", root);
  write_conf(conf_path, "a", "b");
  write_conf(conf2_path, "b", "a"); /* after a reload the indexes of a and b are swapped */
  current = load(conf_path);
  if (pw_store_init(&store, current->daemon.state_dir, NULL, err, sizeof(err)) != 0)
    fail_msg("store: %s", err);
  pts[0].t = pw_calendar_day_end(2024, 1, 31);
  pts[1].t = pw_calendar_day_end(2024, 2, 29);
  for (i = 0; i < 2; i++) {
    pts[i].value = 100 * (i + 1);
    pts[i].expected = NAN;
  }
  if (pw_store_append(&store, "a", NULL, pts, 2, err, sizeof(err)) != 0)
    fail_msg("store: %s", err);
  memset(verdicts, 0, sizeof(verdicts));
  for (i = 0; i < 4; i++)
    verdicts[i].status = PW_STATUS_NO_DATA;
  return uv_loop_init(&loop);
}

static int teardown(void **state) {
  char cmd[400];

  (void)state;
  assert_int_equal(uv_loop_close(&loop), 0);
  pw_store_free(&store);
  assert_int_equal(current->refs, 1);
  pw_config_free(current);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
  return system(cmd);
}

/* ---- tests ---- */

/* The first request renders on the pool; the second is answered at once with the same bytes. */
static void test_hit(void **state) {
  struct pw_graphcache *g = make_cache();
  struct reader r1 = {0, NULL, 0, NULL, NULL}, r2 = {0, NULL, 0, NULL, NULL};

  (void)state;
  verdict_calls = 0;
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &r1), 0);
  assert_int_equal(r1.calls, 0);
  run();
  assert_int_equal(r1.calls, 1);
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &r2), 0);
  assert_int_equal(r2.calls, 1);
  same_bytes(&r1, &r2);
  assert_int_equal(uv_loop_alive(&loop), 0);
  assert_int_equal(verdict_calls, 1);
  /* Another size is another graph. */
  assert_int_equal(pw_graphcache_get(g, 0, 0, 1, on_ready, &r2), 0);
  assert_int_equal(r2.calls, 1);
  run();
  assert_int_equal(r2.calls, 2);
  assert_true(r2.len != r1.len);
  assert_int_equal(pw_graphcache_get(g, 2, 0, 0, on_ready, &r2), -EINVAL);
  assert_int_equal(pw_graphcache_get(g, -1, 0, 0, on_ready, &r2), -EINVAL);
  pw_graphcache_free(g);
  done_reading(&r1);
  done_reading(&r2);
}

/* After an invalidation the graph is rendered again, once for every request waiting for it. */
static void test_invalidate(void **state) {
  struct pw_graphcache *g = make_cache();
  struct reader r1 = {0, NULL, 0, NULL, NULL}, r2 = {0, NULL, 0, NULL, NULL},
                r3 = {0, NULL, 0, NULL, NULL};

  (void)state;
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &r1), 0);
  run();
  verdict_calls = 0;
  pw_graphcache_invalidate(g, 0);
  pw_graphcache_invalidate(g, 7); /* out of range: ignored */
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &r2), 0);
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &r3), 0);
  assert_int_equal(r2.calls + r3.calls, 0);
  run();
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r3.calls, 1);
  same_bytes(&r2, &r3);
  assert_int_equal(verdict_calls, 1);
  pw_graphcache_free(g);
  done_reading(&r1);
  done_reading(&r2);
  done_reading(&r3);
}

/* A cancelled request is never called, also when another request's callback cancels it while
 * the render's answers go out; the render goes on and serves the next reader. */
static void test_cancel_waiting(void **state) {
  struct pw_graphcache *g = make_cache();
  struct reader gone = {0, NULL, 0, NULL, NULL}, stays = {0, NULL, 0, NULL, NULL};
  struct reader canceller = {0, NULL, 0, NULL, NULL}, victim = {0, NULL, 0, NULL, NULL};
  struct reader later = {0, NULL, 0, NULL, NULL};

  (void)state;
  canceller.g = g;
  canceller.cancel = &victim;
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &gone), 0);
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &stays), 0);
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &canceller), 0);
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &victim), 0);
  pw_graphcache_cancel(g, &gone);
  run();
  assert_int_equal(gone.calls, 0);
  assert_int_equal(stays.calls, 1);
  assert_int_equal(canceller.calls, 1);
  assert_int_equal(victim.calls, 0);
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &later), 0);
  assert_int_equal(later.calls, 1);
  same_bytes(&stays, &later);
  pw_graphcache_free(g);
  done_reading(&stays);
  done_reading(&canceller);
  done_reading(&later);
}

/* A reload while a render is in flight: the render keeps the old generation alive until it
 * ends, answers its request, and caches nothing under the new generation's indexes (where `a`
 * and `b` have swapped). */
static void test_reload_while_rendering(void **state) {
  struct pw_graphcache *g = make_cache();
  struct pw_config *old = current;
  struct reader before = {0, NULL, 0, NULL, NULL}, after = {0, NULL, 0, NULL, NULL},
                b = {0, NULL, 0, NULL, NULL}, a = {0, NULL, 0, NULL, NULL};

  (void)state;
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &before), 0); /* `a` */
  assert_int_equal(old->refs, 3);                                        /* test, cache, render */
  /* The swap, as the daemon makes it: the new generation becomes current, the old one is let go
   * by its owner. Only the render holds it now. */
  current = load(conf2_path);
  pw_graphcache_reload(g);
  pw_config_free(old);
  assert_int_equal(old->refs, 1);
  /* `a` under the new generation: a render of its own, not the old one's. */
  verdict_calls = 0;
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &after), 0);
  assert_int_equal(verdict_calls, 1);
  run(); /* the old render ends: the old generation is freed (ASan would see any later use) */
  assert_int_equal(before.calls, 1);
  assert_int_equal(after.calls, 1);
  /* `b` (now index 0, where the old render of `a` was) has nothing cached. */
  assert_int_equal(pw_graphcache_get(g, 0, 0, 0, on_ready, &b), 0);
  assert_int_equal(b.calls, 0);
  run();
  assert_int_equal(b.calls, 1);
  /* `a` is cached from the new generation's render. */
  assert_int_equal(pw_graphcache_get(g, 1, 0, 0, on_ready, &a), 0);
  assert_int_equal(a.calls, 1);
  same_bytes(&a, &after);
  pw_graphcache_free(g);
  done_reading(&before);
  done_reading(&after);
  done_reading(&a);
  done_reading(&b);
}

/* Freed with a render in flight: the render ends on its own, its request is never called. */
static void test_free_while_rendering(void **state) {
  struct pw_graphcache *g = make_cache();
  struct reader r = {0, NULL, 0, NULL, NULL};

  (void)state;
  assert_int_equal(pw_graphcache_get(g, 0, 1, 0, on_ready, &r), 0);
  pw_graphcache_free(g);
  assert_int_equal(current->refs, 2); /* the test's and the render's */
  run();
  assert_int_equal(r.calls, 0);
  assert_int_equal(current->refs, 1);
  pw_graphcache_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit),
      cmocka_unit_test(test_invalidate),
      cmocka_unit_test(test_cancel_waiting),
      cmocka_unit_test(test_reload_while_rendering),
      cmocka_unit_test(test_free_while_rendering),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
