/*
 * Unit tests of util's file helpers against planted files in the state directory: reading a FIFO
 * or a directory fails at once instead of blocking; a state file is not read through a symbolic
 * link, and pw_regular_file names what is there; an atomic write never writes through a symlink
 * or file planted under its temporary name; ordinary reads and writes and the read limit; a log
 * line carrying text from outside stays one line, its control characters and the bytes that are
 * not UTF-8 escaped; a URL made
 * fit for a message keeps its scheme, host, port and path and hides passwords, query values and
 * fragments.
 * Each test works in a fresh mkdtemp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  pw_strlcpy(dir, "/tmp/pw-util-XXXXXX", sizeof(dir));
  return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state) {
  char cmd[128];

  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", dir, name);
}

static void test_read_fifo_fails_at_once(void **state) {
  char path[128], *text = NULL;

  (void)state;
  path_in(path, sizeof(path), "x.json");
  assert_int_equal(mkfifo(path, 0600), 0);
  alarm(10); /* a blocking open would end the test here */
  assert_int_equal(pw_read_file(path, 0, &text, NULL), -EINVAL);
  alarm(0);
  assert_null(text);
}

static void test_read_directory_fails(void **state) {
  char path[128], *text = NULL;

  (void)state;
  path_in(path, sizeof(path), "d.json");
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(pw_read_file(path, 0, &text, NULL), -EISDIR);
  assert_null(text);
}

/* A state file is read only when it is a regular file: a symbolic link is refused (not followed)
 * and a FIFO fails at once; pw_regular_file tells what is there without opening it. */
static void test_state_file_strangers(void **state) {
  char path[128], link[128], fifo[128], sub[128], *text = NULL;
  const char *what = NULL;
  size_t len = 0;
  FILE *f;

  (void)state;
  path_in(path, sizeof(path), "alerts.json");
  path_in(link, sizeof(link), "link.json");
  path_in(fifo, sizeof(fifo), "fifo.json");
  path_in(sub, sizeof(sub), "dir.json");
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("{}", f);
  fclose(f);
  assert_int_equal(symlink(path, link), 0);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(mkdir(sub, 0700), 0);

  assert_int_equal(pw_read_state_file(path, 0, &text, &len), 0);
  assert_string_equal(text, "{}");
  assert_int_equal(len, 2);
  free(text);
  text = NULL;
  assert_int_equal(pw_read_state_file(link, 0, &text, NULL), -ELOOP);
  assert_null(text);
  alarm(10); /* a blocking open would end the test here */
  assert_int_equal(pw_read_state_file(fifo, 0, &text, NULL), -EINVAL);
  alarm(0);
  assert_int_equal(pw_read_state_file(sub, 0, &text, NULL), -EISDIR);
  assert_null(text);

  assert_int_equal(pw_regular_file(path, &what), 0);
  assert_string_equal(what, "");
  assert_int_equal(pw_regular_file(link, &what), -ELOOP);
  assert_string_equal(what, "a symbolic link (not followed)");
  assert_int_equal(pw_regular_file(fifo, &what), -EINVAL);
  assert_string_equal(what, "a FIFO");
  assert_int_equal(pw_regular_file(sub, &what), -EISDIR);
  assert_string_equal(what, "a directory");
  path_in(path, sizeof(path), "missing.json");
  assert_int_equal(pw_regular_file(path, NULL), -ENOENT);
}

static void test_read_regular_and_limit(void **state) {
  char path[128], *text = NULL;
  size_t len = 0;

  (void)state;
  path_in(path, sizeof(path), "a.txt");
  assert_int_equal(pw_write_file_atomic(path, "hello", 5), 0);
  assert_int_equal(pw_read_file(path, 0, &text, &len), 0);
  assert_int_equal(len, 5);
  assert_string_equal(text, "hello");
  free(text);
  text = NULL;
  assert_int_equal(pw_read_file(path, 3, &text, &len), -E2BIG);
  assert_null(text);
}

static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  size_t n;

  assert_non_null(f);
  n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void test_write_never_follows_planted_link(void **state) {
  char path[128], victim[128], tmp[160], got[64];
  struct stat st;

  (void)state;
  path_in(path, sizeof(path), "alerts.json");
  path_in(victim, sizeof(victim), "victim");
  assert_int_equal(pw_write_file_atomic(victim, "precious", 8), 0);
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(symlink(victim, tmp), 0);

  assert_int_equal(pw_write_file_atomic(path, "{\"new\":1}", 9), 0);
  slurp(victim, got, sizeof(got));
  assert_string_equal(got, "precious");
  slurp(path, got, sizeof(got));
  assert_string_equal(got, "{\"new\":1}");
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(lstat(tmp, &st), -1); /* the planted link is gone, not left behind */
}

static void test_write_replaces_planted_file(void **state) {
  char path[128], tmp[160], got[64];

  (void)state;
  path_in(path, sizeof(path), "reply");
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(pw_write_file_atomic(tmp, "stale-and-longer", 16), 0);
  assert_int_equal(pw_write_file_atomic(path, "ok", 2), 0);
  slurp(path, got, sizeof(got));
  assert_string_equal(got, "ok");
}

static void test_log_escapes_controls(void **state) {
  char path[128], got[256];
  int fd, saved;

  (void)state;
  path_in(path, sizeof(path), "log");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  pw_log_open(0);
  pw_log_error("source %s: value '%s'", "s1", "12\nerror: main: forged\x1b[31m\t\u4e07");
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  slurp(path, got, sizeof(got));
  assert_string_equal(
      got, "error: core: source s1: value '12\\nerror: main: forged\\x1b[31m\\t\u4e07'\n");
}

/* Bytes that are not well-formed UTF-8 (a stray 0xff, a truncated sequence, an overlong '/', a
 * surrogate, a C1 control) are escaped one by one, so the log is valid UTF-8 text; well-formed
 * characters of two, three and four bytes pass unchanged. */
static void test_log_escapes_invalid_utf8(void **state) {
  char path[128], got[256];
  int fd, saved;

  (void)state;
  path_in(path, sizeof(path), "log");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  pw_log_open(0);
  pw_log_warn("bad sample '%s'", "12\xff \xe4\xb8 \xc0\xaf \xed\xa0\x80 \xc2\x9b "
                                 "\xc3\xa9\u4e07\U0001F600\xf4\x90\x80\x80");
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  slurp(path, got, sizeof(got));
  assert_string_equal(got, "warn: core: bad sample '12\\xff \\xe4\\xb8 \\xc0\\xaf "
                           "\\xed\\xa0\\x80 \\xc2\\x9b \xc3\xa9\u4e07\U0001F600"
                           "\\xf4\\x90\\x80\\x80'\n");
}

static void redacts(const char *url, const char *want) {
  char out[256];

  assert_int_equal(pw_redact_url(url, out, sizeof(out)), strlen(want));
  assert_string_equal(out, want);
}

static void test_redact_url(void **state) {
  char small[12];

  (void)state;
  /* The robot's token in the query string (the message of issue 12). */
  redacts("htps://oapi.dingtalk.com/robot/send?access_token=DINGTOKEN123",
          "htps://oapi.dingtalk.com/robot/send?access_token=***");
  redacts("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K&debug=1",
          "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***&debug=***");
  /* A password in the userinfo; the user name, port and path stay. */
  redacts("smtps://alice:S3cret@mail.example.cn:465/x", "smtps://alice:***@mail.example.cn:465/x");
  redacts("http://proxy:p@ss@10.0.0.1:3128", "http://proxy:***@10.0.0.1:3128");
  redacts("smtp://alice@mail:25", "smtp://alice@mail:25");
  /* Empty values stay empty; a parameter without '=' and a fragment are hidden whole. */
  redacts("http://h/p?a=&b;TOKEN#frag", "http://h/p?a=&***;***#***");
  redacts("http://h/p?", "http://h/p?");
  /* A token in the path (Feishu, Slack) is hidden; ordinary segments stay. */
  redacts("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
          "https://open.feishu.cn/open-apis/bot/v2/hook/***");
  redacts("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX1234XXXX",
          "https://hooks.slack.com/services/T0000/B0000/***");
  redacts("http://stats.example.gov.cn/api/v1/department_statistics/report-2024.csv",
          "http://stats.example.gov.cn/api/v1/department_statistics/report-2024.csv");
  /* Without a scheme the same rules apply; a plain path stays as it is. */
  redacts("oapi.dingtalk.com/robot/send?access_token=T",
          "oapi.dingtalk.com/robot/send?access_token=***");
  redacts("u:pw@host/x", "u:***@host/x");
  redacts("data/现状.csv", "data/现状.csv");
  redacts("", "");
  /* Control characters cannot forge a second line. */
  redacts("http://h/a\nerror: b\x1b", "http://h/a?error: b?");
  /* Truncation reports the whole length, as snprintf does. */
  assert_int_equal(pw_redact_url("http://h/?k=secret", small, sizeof(small)), 15);
  assert_string_equal(small, "http://h/?k");
  assert_int_equal(pw_redact_url("http://h/?k=v", NULL, 0), 15);
}

/* pw_note_clean (docs/values.md#notes): control characters become spaces or go, spaces are
 * trimmed and collapsed, invalid UTF-8 and notes over PW_NOTE_MAX characters are refused. */
static void test_note_clean(void **state) {
  char out[PW_NOTE_BUF], big[PW_NOTE_MAX * 3 + 8];
  size_t k;

  (void)state;
  assert_int_equal(pw_note_clean("排名全市第8", strlen("排名全市第8"), out, sizeof(out)), 16);
  assert_string_equal(out, "排名全市第8");
  {
    const char *in = "  a\t\tb\r\nc\x01\x7f\xc2\x85"
                     "d  ";
    assert_int_equal(pw_note_clean(in, strlen(in), out, sizeof(out)), 6);
  }
  assert_string_equal(out, "a b cd");
  assert_int_equal(pw_note_clean(" \t\n", 3, out, sizeof(out)), 0);
  assert_string_equal(out, "");
  assert_int_equal(pw_note_clean("\xff", 1, out, sizeof(out)), -EILSEQ);
  assert_int_equal(pw_note_clean("<b>&", 4, out, sizeof(out)), 4); /* escaping is the page's */
  for (k = 0; k < PW_NOTE_MAX; k++)
    memcpy(big + 3 * k, "字", 3);
  assert_int_equal(pw_note_clean(big, 3 * PW_NOTE_MAX, out, sizeof(out)), 3 * PW_NOTE_MAX);
  memcpy(big + 3 * PW_NOTE_MAX, "  \n ", 4); /* trailing spaces do not count */
  assert_int_equal(pw_note_clean(big, 3 * PW_NOTE_MAX + 4, out, sizeof(out)), 3 * PW_NOTE_MAX);
  memcpy(big + 3 * PW_NOTE_MAX, " x", 2);
  assert_int_equal(pw_note_clean(big, 3 * PW_NOTE_MAX + 2, out, sizeof(out)), -E2BIG);
  memcpy(big + 3 * PW_NOTE_MAX, "x", 1);
  assert_int_equal(pw_note_clean(big, 3 * PW_NOTE_MAX + 1, out, sizeof(out)), -E2BIG);
  assert_int_equal(pw_note_clean("a", 1, out, 8), -ENOBUFS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_read_fifo_fails_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_directory_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_file_strangers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_regular_and_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_never_follows_planted_link, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_replaces_planted_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_escapes_controls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_escapes_invalid_utf8, setup, teardown),
      cmocka_unit_test(test_redact_url),
      cmocka_unit_test(test_note_clean),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
