/*
 * Unit tests of tokens (serve/tokens.h): a new token checks for its department (0), for another
 * department is -EACCES and a changed, shortened or empty one -EPERM; the file written reads back
 * the same, holds neither the token nor anything but hashes, and is mode 0600; a revoked entry
 * no longer checks; and tokens.json is read strictly: every malformed shape (not JSON, an extra
 * field, a bad id, a duplicate id, a short salt, a hash in capitals, a department that is no id)
 * is refused naming the fault, a symbolic link and a FIFO are refused unread, a missing file is
 * no token.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokens.h"
#include "util.h"

static char dir[] = "/tmp/pw-test-tokens-XXXXXX";

static void write_text(const char *name, const char *text) {
  char *p = pw_path_join(dir, name);
  FILE *f = fopen(p, "w");

  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  free(p);
}

static void test_new_check_remove(void **state) {
  struct pw_tokens t = {0}, back;
  char a[PW_TOKEN_LEN + 1], b[PW_TOKEN_LEN + 1], msg[300], *text, *path, saved;
  size_t len;
  struct stat st;

  (void)state;
  assert_int_equal(pw_tokens_new(&t, "housing", 1714438800, a, sizeof(a)), 0);
  assert_int_equal(pw_tokens_new(&t, "education", 1714438800, b, sizeof(b)), 0);
  assert_int_equal(strlen(a), PW_TOKEN_LEN);
  assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                   PW_TOKEN_LEN);
  assert_string_not_equal(a, b);
  assert_string_not_equal(t.v[0].id, t.v[1].id);
  assert_int_equal(pw_tokens_check(&t, a, strlen(a), "housing"), 0);
  assert_int_equal(pw_tokens_check(&t, a, strlen(a), "education"), -EACCES);
  assert_int_equal(pw_tokens_check(&t, b, strlen(b), "education"), 0);
  saved = a[5];
  a[5] = a[5] == 'x' ? 'y' : 'x';
  assert_int_equal(pw_tokens_check(&t, a, strlen(a), "housing"), -EPERM);
  a[5] = saved;
  assert_int_equal(pw_tokens_check(&t, a, strlen(a) - 1, "housing"), -EPERM);
  assert_int_equal(pw_tokens_check(&t, "", 0, "housing"), -EPERM);
  assert_int_equal(pw_tokens_check(NULL, a, strlen(a), "housing"), -EPERM);
  assert_int_equal(pw_tokens_new(&t, "Not an id", 0, b, sizeof(b)), -EINVAL);

  assert_int_equal(pw_tokens_write(dir, &t), 0);
  path = pw_path_join(dir, "tokens.json");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(pw_read_file(path, 0, &text, &len), 0);
  assert_null(strstr(text, a));
  assert_null(strstr(text, b));
  free(text);
  free(path);
  assert_int_equal(pw_tokens_read(dir, &back, msg, sizeof(msg)), 0);
  assert_int_equal(back.n, 2);
  assert_int_equal(pw_tokens_check(&back, a, strlen(a), "housing"), 0);
  assert_string_equal(back.v[0].id, t.v[0].id);
  assert_int_equal(back.v[0].created, 1714438800);
  assert_int_equal(pw_tokens_remove(&back, t.v[0].id), 0);
  assert_int_equal(pw_tokens_remove(&back, t.v[0].id), -ENOENT);
  assert_int_equal(pw_tokens_check(&back, a, strlen(a), "housing"), -EPERM);
  pw_tokens_free(&back);
  pw_tokens_free(&t);
}

#define SALT "00112233445566778899aabbccddeeff"
#define HASH SALT SALT

static void test_strict_reading(void **state) {
  static const struct {
    const char *text, *fault;
  } bad[] = {
      {"{\"tokens\":[", "not JSON"},
      {"[]", "must be an object holding only"},
      {"{\"tokens\":[],\"x\":1}", "must be an object holding only"},
      {"{\"tokens\":[{\"id\":\"0000000g\",\"department\":\"a\",\"created\":1,\"salt\":\"" SALT
       "\",\"sha256\":\"" HASH "\"}]}",
       "entry 1: id must be 8 hex digits"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"A b\",\"created\":1,\"salt\":\"" SALT
       "\",\"sha256\":\"" HASH "\"}]}",
       "entry 1: department must be"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"a\",\"created\":1,\"salt\":\"0011\","
       "\"sha256\":\"" HASH "\"}]}",
       "entry 1: salt must be 32 hex digits"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"a\",\"created\":1,\"salt\":\"" SALT
       "\",\"sha256\":\"" HASH "\",\"token\":\"x\"}]}",
       "entry 1: must be an object of"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"a\",\"created\":-1,\"salt\":\"" SALT
       "\",\"sha256\":\"" HASH "\"}]}",
       "entry 1: created must be"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"a\",\"created\":1,\"salt\":\"" SALT
       "\",\"sha256\":\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"}]}",
       "entry 1: sha256 must be 64 hex digits"},
      {"{\"tokens\":[{\"id\":\"00000001\",\"department\":\"a\",\"created\":1,\"salt\":\"" SALT
       "\",\"sha256\":\"" HASH "\"},{\"id\":\"00000001\",\"department\":\"b\",\"created\":1,"
       "\"salt\":\"" SALT "\",\"sha256\":\"" HASH "\"}]}",
       "entry 2: id 00000001 given twice"},
  };
  struct pw_tokens t;
  char msg[600], *path = pw_path_join(dir, "tokens.json"), *other = pw_path_join(dir, "x.json");
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    write_text("tokens.json", bad[i].text);
    msg[0] = '\0';
    assert_int_equal(pw_tokens_read(dir, &t, msg, sizeof(msg)), -EINVAL);
    if (strstr(msg, bad[i].fault) == NULL || strstr(msg, "tokens.json: refused: ") == NULL)
      fail_msg("case %zu: '%s' does not say '%s'", i, msg, bad[i].fault);
    assert_int_equal(t.n, 0);
  }
  /* A link is not followed, a FIFO not opened (it would block). */
  write_text("x.json", "{\"tokens\":[]}");
  unlink(path);
  assert_int_equal(symlink(other, path), 0);
  assert_int_not_equal(pw_tokens_read(dir, &t, msg, sizeof(msg)), 0);
  assert_non_null(strstr(msg, "symbolic link"));
  unlink(path);
  assert_int_equal(mkfifo(path, 0600), 0);
  assert_int_not_equal(pw_tokens_read(dir, &t, msg, sizeof(msg)), 0);
  assert_non_null(strstr(msg, "FIFO"));
  unlink(path);
  assert_int_equal(pw_tokens_read(dir, &t, msg, sizeof(msg)), 0);
  assert_int_equal(t.n, 0);
  unlink(other);
  free(other);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_check_remove),
      cmocka_unit_test(test_strict_reading),
  };
  int rc;
  char cmd[100];

  if (mkdtemp(dir) == NULL)
    return 1;
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 1;
  return rc;
}
