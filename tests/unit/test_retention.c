/*
 * Unit tests of retention (docs/storage.md "Retention"): pw_prune_dir removes only regular files
 * older than the limit whose names are ours, never a symbolic link nor what it points to, nor a
 * directory; a directory that is itself a link is refused (-ELOOP), a missing one is -ENOENT;
 * and the names pacewatch writes in spool/dead/ (pw_spool_dead_name) and briefings/
 * (pw_briefing_file_name), no others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "briefing.h"
#include "spool.h"
#include "util.h"

#define OLD 1000000000 /* 2001: older than any limit */

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/pw-retention-XXXXXX");
  return mkdtemp(dir) != NULL ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static int teardown(void **state) {
  (void)state;
  return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* DIR/NAME with some text, its modification time MTIME (0: now). */
static void make(const char *name, time_t mtime) {
  char path[256];
  FILE *fp;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("x\n", fp);
  fclose(fp);
  if (mtime != 0) {
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
  }
}

static int there(const char *name) {
  char path[256];
  struct stat st;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return lstat(path, &st) == 0;
}

static int ours_a(const char *name) {
  return name[0] == 'a';
}

static void test_prune(void **state) {
  char sub[128], link[128], outside[128], target[128];
  struct timeval tv[2] = {{OLD, 0}, {OLD, 0}};

  (void)state;
  make("a-old", OLD);
  make("a-new", 0);
  make("b-old", OLD); /* not ours */
  snprintf(sub, sizeof(sub), "%s/a-dir", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(utimes(sub, tv), 0);
  /* A link named like ours, old itself, to an old file outside: neither is touched. */
  snprintf(outside, sizeof(outside), "%s/a-dir/precious", dir);
  make("a-dir/precious", OLD);
  snprintf(link, sizeof(link), "%s/a-link", dir);
  assert_int_equal(symlink(outside, link), 0);
  assert_int_equal(lutimes(link, tv), 0);
  assert_int_equal(pw_prune_dir(dir, OLD + 10, ours_a), 1);
  assert_false(there("a-old"));
  assert_true(there("a-new"));
  assert_true(there("b-old"));
  assert_true(there("a-dir"));
  assert_true(there("a-link"));
  assert_true(there("a-dir/precious"));
  assert_int_equal(pw_prune_dir(dir, OLD + 10, ours_a), 0);
  /* The limit is strict: a file exactly at it stays. */
  make("a-edge", OLD);
  assert_int_equal(pw_prune_dir(dir, OLD, ours_a), 0);
  assert_true(there("a-edge"));
  /* A directory that is a link is not entered; a missing one is -ENOENT. */
  snprintf(target, sizeof(target), "%s/dir-link", dir);
  assert_int_equal(symlink(sub, target), 0);
  assert_int_equal(pw_prune_dir(target, OLD + 10, ours_a), -ELOOP);
  assert_true(there("a-dir/precious"));
  snprintf(target, sizeof(target), "%s/none", dir);
  assert_int_equal(pw_prune_dir(target, OLD + 10, ours_a), -ENOENT);
}

static void test_dead_names(void **state) {
  (void)state;
  assert_true(pw_spool_dead_name("1714611600-123-1-9f2c.json"));
  assert_true(pw_spool_dead_name("digest-1714611600-1.json"));
  assert_true(pw_spool_dead_name("1714611600-123-1-9f2c.json.bad"));
  assert_true(pw_spool_dead_name("1714611600-123-1-9f2c.json.tmp.4711"));
  assert_false(pw_spool_dead_name("1714611600-123-1-9f2c.json.tmp."));
  assert_false(pw_spool_dead_name("1714611600-123-1-9f2c.json.tmp.x"));
  assert_false(pw_spool_dead_name(".json"));
  assert_false(pw_spool_dead_name(".hidden.json"));
  assert_false(pw_spool_dead_name("notes.txt"));
  assert_false(pw_spool_dead_name("a b.json"));
  assert_false(pw_spool_dead_name("x.bad"));
  assert_false(pw_spool_dead_name("x.json.bad.bad"));
}

static void test_briefing_names(void **state) {
  (void)state;
  assert_true(pw_briefing_file_name("2024-W18.html"));
  assert_true(pw_briefing_file_name("2024-W18.md"));
  assert_true(pw_briefing_file_name("2024-W18.docx"));
  assert_true(pw_briefing_file_name("2024-W18.json"));
  assert_true(pw_briefing_file_name("2024-W18-checkups.png"));
  assert_true(pw_briefing_file_name("2024-W01-a_b-c.png"));
  assert_true(pw_briefing_file_name("2024-W18.html.tmp.123"));
  assert_false(pw_briefing_file_name("2024-W18.html.tmp.abc"));
  assert_false(pw_briefing_file_name("index.html"));
  assert_false(pw_briefing_file_name("2024-W18.txt"));
  assert_false(pw_briefing_file_name("2024-W18-.png"));
  assert_false(pw_briefing_file_name("2024-W18-a b.png"));
  assert_false(pw_briefing_file_name("2024-W18-x.png.bak"));
  assert_false(pw_briefing_file_name("2024-W1.html"));
  assert_false(pw_briefing_file_name("2024-W189.html"));
  assert_false(pw_briefing_file_name("24-W18.html"));
  assert_false(pw_briefing_file_name("report.pdf"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
      cmocka_unit_test(test_dead_names),
      cmocka_unit_test(test_briefing_names),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
