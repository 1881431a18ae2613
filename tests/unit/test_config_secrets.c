/*
 * Unit tests of the configuration's secrets: the lazy load (PW_CONFIG_LAZY_SECRETS) that leaves
 * an unset ${NAME} of a secret-bearing key unresolved instead of failing, pw_config_require,
 * and the *_file keys (secret_file, password_file, http_token_file) read from files
 * (docs/configuration.md#environment-variables, #secrets-from-files).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/pw-test-config-secrets-XXXXXX";
static char path[512];

static const char *head = "daemon: { state_dir = \"state\"; };\n"
                          "domains = ( { id = \"d\"; name = \"领域\"; } );\n";

static void write_file(const char *name, const char *text) {
  char p[600];
  FILE *f;

  snprintf(p, sizeof(p), "%s/%s", dir, name);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void write_conf(const char *body) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  fputs(head, f);
  fputs(body, f);
  if (strstr(body, "indicators =") == NULL)
    fputs("indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\";\n  "
          "targets "
          "= ( { year = 2024; annual = 1; } ); } );\n",
          f);
  fclose(f);
}

/* Loads BODY with FLAGS; expects success. */
static struct pw_config *load_ok(const char *body, unsigned flags) {
  struct pw_config *c = NULL;
  char err[1024];

  write_conf(body);
  if (pw_config_load_flags(path, flags, &c, err, sizeof(err)) != 0)
    fail_msg("unexpected error: %s", err);
  return c;
}

/* Loads BODY with FLAGS; expects an error at LINE containing FRAG. */
static void load_err(const char *body, unsigned flags, int line, const char *frag) {
  struct pw_config *c = NULL;
  char err[1024], prefix[600];

  write_conf(body);
  assert_int_not_equal(pw_config_load_flags(path, flags, &c, err, sizeof(err)), 0);
  assert_null(c);
  snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, frag) == NULL)
    fail_msg("want %s...%s, got %s", prefix, frag, err);
}

static int setup(void **state) {
  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  unsetenv("PW_T_UNSET");
  unsetenv("PW_T_UNSET2");
  return 0;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd);
}

/* Line 3 onwards: a robot, a mail receiver and an http source, every secret from the env. */
static const char *secrets_body =
    "receivers = ( { id = \"ding\"; type = \"dingtalk\";\n"                    /* 3 */
    "  url = \"https://x.invalid/r?access_token=${PW_T_UNSET}\";\n"            /* 4 */
    "  secret = \"${PW_T_UNSET2}\"; },\n"                                      /* 5 */
    " { id = \"hook\"; type = \"webhook\"; url = \"${PW_T_UNSET}\"; },\n"      /* 6 */
    " { id = \"mail\"; type = \"email\"; url = \"smtp://127.0.0.1:25\";\n"     /* 7 */
    "  from = \"a@b\"; to = [ \"c@d\" ]; password = \"${PW_T_UNSET}\"; } );\n" /* 8 */
    "sources = ( { id = \"s\"; url = \"${PW_T_UNSET}\"; format = \"json\";\n"  /* 9 */
    "  headers = [ \"${PW_T_UNSET2}\" ]; } );\n";                              /* 10 */

/* A strict load (the daemon, check) fails on the first unset variable, as always. */
static void test_strict_fails(void **state) {
  (void)state;
  load_err(secrets_body, 0, 4, "environment variable PW_T_UNSET is not set");
}

/* A lazy load succeeds; each key is unresolved until required, and says where and why. */
static void test_lazy_records(void **state) {
  struct pw_config *c = load_ok(secrets_body, PW_CONFIG_LAZY_SECRETS);
  char err[1024], want[600];

  (void)state;
  assert_int_equal(c->n_unresolved, 6);
  assert_int_not_equal(pw_config_require(c, c->receivers[0].url, err, sizeof(err)), 0);
  snprintf(want, sizeof(want), "%s:4: environment variable PW_T_UNSET is not set", path);
  assert_non_null(strstr(err, want));
  assert_int_not_equal(pw_config_require(c, c->receivers[0].secret, err, sizeof(err)), 0);
  snprintf(want, sizeof(want), "%s:5: environment variable PW_T_UNSET2 is not set", path);
  assert_non_null(strstr(err, want));
  assert_int_not_equal(pw_config_require(c, c->receivers[1].url, err, sizeof(err)), 0);
  assert_int_not_equal(pw_config_require(c, c->receivers[2].password, err, sizeof(err)), 0);
  /* An unresolved source url is neither a file nor checked as a URL. */
  assert_null(c->sources[0].file);
  assert_int_not_equal(pw_config_require(c, c->sources[0].url, err, sizeof(err)), 0);
  assert_int_not_equal(pw_config_require(c, c->sources[0].headers.items[0], err, sizeof(err)), 0);
  /* What was resolved is usable; NULL is nothing to require. */
  assert_int_equal(pw_config_require(c, c->receivers[2].url, err, sizeof(err)), 0);
  assert_int_equal(pw_config_require(c, c->receivers[2].from, err, sizeof(err)), 0);
  assert_int_equal(pw_config_require(c, NULL, err, sizeof(err)), 0);
  pw_config_free(c);
}

/* Laziness covers secret-bearing keys only: any other key with an unset variable still fails,
 * and a set variable is substituted as in a strict load. */
static void test_lazy_only_secrets(void **state) {
  struct pw_config *c;

  (void)state;
  load_err("indicators = ( { id = \"a\"; name = \"${PW_T_UNSET}\"; domain = \"d\";\n"
           "  kind = \"level\"; } );\n",
           PW_CONFIG_LAZY_SECRETS, 3, "environment variable PW_T_UNSET is not set");
  setenv("PW_T_SET", "abc", 1);
  c = load_ok("receivers = ( { id = \"ding\"; type = \"dingtalk\";\n"
              "  url = \"https://x.invalid/r?access_token=${PW_T_SET}\"; } );\n",
              PW_CONFIG_LAZY_SECRETS);
  assert_string_equal(c->receivers[0].url, "https://x.invalid/r?access_token=abc");
  assert_int_equal(c->n_unresolved, 0);
  pw_config_free(c);
  unsetenv("PW_T_SET");
}

/* The *_file keys: content read whole, one trailing newline stripped, relative to the
 * configuration's directory. */
static void test_secret_files(void **state) {
  struct pw_config *c;
  char abs[600], body[1200];

  (void)state;
  write_file("ding.secret", "SECabc123\n");
  write_file("mail.pw", "p@ss word\r\n");
  write_file("token", "tok-1");
  snprintf(abs, sizeof(abs), "%s/mail.pw", dir);
  snprintf(body, sizeof(body),
           "receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
           "  secret_file = \"ding.secret\"; },\n"
           " { id = \"mail\"; type = \"email\"; url = \"smtp://127.0.0.1:25\"; from = \"a@b\";\n"
           "  to = [ \"c@d\" ]; password_file = \"%s\"; } );\n",
           abs);
  head = "daemon: { state_dir = \"state\"; http_token_file = \"token\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
  c = load_ok(body, 0);
  assert_string_equal(c->receivers[0].secret, "SECabc123");
  assert_string_equal(c->receivers[1].password, "p@ss word");
  assert_string_equal(c->daemon.http_token, "tok-1");
  pw_config_free(c);
  head = "daemon: { state_dir = \"state\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
}

/* A missing, empty or two-line file, or both keys written: FILE:LINE naming key and path; a
 * lazy load leaves a missing file's key unresolved instead. */
static void test_secret_file_errors(void **state) {
  struct pw_config *c;
  char err[1024], want[700];

  (void)state;
  snprintf(want, sizeof(want), "secret_file '%s/missing.secret': No such file or directory", dir);
  load_err("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
           "  secret_file = \"missing.secret\"; } );\n",
           0, 4, want);
  write_file("empty", "\n");
  load_err("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
           "  secret_file = \"empty\"; } );\n",
           0, 4, "must hold one line of UTF-8 text");
  write_file("two", "a\nb\n");
  load_err("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
           "  secret_file = \"two\"; } );\n",
           0, 4, "must hold one line of UTF-8 text");
  write_file("s", "x\n");
  load_err("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
           "  secret = \"a\"; secret_file = \"s\"; } );\n",
           0, 4, "write either secret or secret_file, not both");
  load_err("receivers = ( { id = \"w\"; type = \"webhook\"; url = \"https://x.invalid/r\";\n"
           "  secret_file = \"s\"; } );\n",
           0, 4, "key 'secret_file' does not apply to receiver #1 (webhook)");
  c = load_ok("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\";\n"
              "  secret_file = \"missing.secret\"; } );\n",
              PW_CONFIG_LAZY_SECRETS);
  assert_int_not_equal(pw_config_require(c, c->receivers[0].secret, err, sizeof(err)), 0);
  assert_non_null(strstr(err, ":4: receiver #1: secret_file '"));
  pw_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strict_fails),       cmocka_unit_test(test_lazy_records),
      cmocka_unit_test(test_lazy_only_secrets),  cmocka_unit_test(test_secret_files),
      cmocka_unit_test(test_secret_file_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
