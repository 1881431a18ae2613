/*
 * Unit tests of config: defaults, environment substitution, relative paths, per-kind rules,
 * references, and the FILE:LINE of each kind of mistake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/pw-test-config-XXXXXX";
static char path[512];

static const char *head = "daemon: { state_dir = \"state\"; };\n"
                          "domains = ( { id = \"d\"; name = \"领域\"; } );\n";

static void write_conf(const char *body) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  fputs(head, f);
  fputs(body, f);
  fclose(f);
}

/* Loads BODY; expects success and returns the configuration. */
static struct pw_config *load_ok(const char *body) {
  struct pw_config *c = NULL;
  char err[1024];

  write_conf(body);
  if (pw_config_load(path, &c, err, sizeof(err)) != 0)
    fail_msg("unexpected error: %s", err);
  return c;
}

/* Loads BODY; expects an error at LINE containing FRAG. */
static void load_err(const char *body, int line, const char *frag) {
  struct pw_config *c = NULL;
  char err[1024], prefix[600];

  write_conf(body);
  assert_int_not_equal(pw_config_load(path, &c, err, sizeof(err)), 0);
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
  return 0;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd);
}

static void test_defaults(void **state) {
  struct pw_config *c =
      load_ok("indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\";\n"
              "  targets = ( { year = 2024; annual = \"1.56万\"; } ); },\n"
              " { id = \"s\"; name = \"S\"; domain = \"d\"; kind = \"standard\";\n"
              "  targets = ( { year = 2024; standard = \"85%\"; } ); },\n"
              " { id = \"m\"; name = \"M\"; domain = \"d\"; kind = \"milestone\"; stages = [\"x\", "
              "\"y\"];\n"
              "  targets = ( { year = 2024; due = [ \"\", \"2024-06-30\" ]; } ); } );\n");
  char want[600];
  const struct pw_indicator *a = &c->indicators[0], *s = &c->indicators[1], *m = &c->indicators[2];

  snprintf(want, sizeof(want), "%s/state", dir);
  assert_string_equal(c->daemon.state_dir, want);
  assert_string_equal(c->daemon.timezone, "Asia/Shanghai");
  assert_string_equal(c->daemon.http_listen, "127.0.0.1:9464");
  assert_int_equal(c->daemon.max_transfers, 64);
  assert_int_equal(c->daemon.http_timeout, 10);
  assert_true(a->targets[0].annual == 15600.0);
  assert_true(a->targets[0].baseline == 0.0);
  assert_true(a->lag_warn == 5.0 && a->lag_crit == 15.0);
  assert_true(s->lag_warn == 0.0 && s->lag_crit == 5.0);
  assert_true(m->lag_warn == 0.0 && m->lag_crit == 30.0);
  assert_int_equal(a->stale_after, 40 * 86400);
  assert_int_equal(pw_config_pace(a, &a->targets[0]), PW_PACE_LINEAR);
  assert_true(s->targets[0].standard == 85.0);
  assert_int_equal(s->direction_down, 0);
  assert_int_equal(m->targets[0].due[0], 0);
  /* The end of 2024-06-30 in Shanghai is 2024-06-30T16:00:00Z. */
  assert_int_equal(m->targets[0].due[1], 1719763200);
  assert_int_equal(a->department, -1);
  assert_int_equal(a->source, -1);
  assert_int_equal(c->alerting.repeat, 86400);
  assert_int_equal(c->alerting.group_wait, 30);
  assert_int_equal(c->alerting.send_resolved, 1);
  assert_int_equal(c->alerting.give_up, 48 * 3600);
  assert_int_equal(c->briefing.weekday, 1);
  assert_int_equal(c->briefing.minute, 8 * 60);
  assert_null(pw_config_target(a, 2025));
  assert_non_null(pw_config_target(a, 2024));
  pw_config_free(c);
}

static void test_full_schema(void **state) {
  struct pw_config *c;

  setenv("PW_T_TOKEN", "tok", 1);
  c = load_ok(
      "departments = ( { id = \"h\"; name = \"卫健\"; receivers = [ \"ding\" ]; } );\n"
      "sources = ( { id = \"src\"; url = \"data/x.json\"; format = \"json\"; interval = \"5m\";\n"
      "  headers = [ \"Authorization: Bearer ${PW_T_TOKEN}\" ]; as_of = \"$.as_of\"; stale_after "
      "= \"10d\"; },\n"
      " { id = \"c\"; url = \"https://example.invalid/a.csv\"; format = \"csv\"; csv_delimiter = "
      "\";\"; charset = \"GBK\"; } );\n"
      "receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://x.invalid/r\"; secret "
      "= \"$${KEEP}\"; at_all = true; },\n"
      " { id = \"mail\"; type = \"email\"; url = \"smtp://127.0.0.1:2525\"; from = \"a@b\"; to = "
      "[ \"c@d\" ]; },\n"
      " { id = \"fs\"; type = \"feishu\"; url = \"https://x.invalid/f\"; },\n"
      " { id = \"lg\"; type = \"log\"; } );\n"
      "indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; department = \"h\"; source = "
      "\"src\"; path = \"$.a\"; kind = \"level\"; pace = \"step\"; carry = true;\n"
      "  targets = ( { year = 2024; baseline = 8; annual = 6; quarters = ( 7.5, 7, 6.5, 6 ); } "
      "); } );\n"
      "alerting: { for = \"1h\"; receivers = [ \"lg\" ]; escalate = [ \"mail\" ]; quiet_hours = "
      "\"22:00-07:30\"; };\n"
      "silences = ( { indicator = \"a\"; until = \"2024-06-30\"; reason = \"未公布\"; } );\n"
      "briefing: { schedule = \"Fri 17:30\"; receivers = [ \"mail\", \"fs\" ]; };\n");
  char want[600];

  snprintf(want, sizeof(want), "%s/data/x.json", dir);
  assert_string_equal(c->sources[0].file, want);
  assert_null(c->sources[1].file);
  assert_string_equal(c->sources[0].headers.items[0], "Authorization: Bearer tok");
  assert_int_equal(c->sources[0].interval, 300);
  assert_int_equal(c->sources[1].csv_delimiter, ';');
  assert_int_equal(c->sources[0].csv_delimiter, ',');
  assert_string_equal(c->receivers[0].secret, "${KEEP}");
  assert_int_equal(c->receivers[0].rate_per_minute, 20);
  assert_int_equal(c->receivers[2].rate_per_minute, 100);
  assert_int_equal(c->receivers[1].rate_per_minute, 0);
  assert_int_equal(c->departments[0].receiver_idx[0], 0);
  assert_int_equal(c->indicators[0].department, 0);
  assert_int_equal(c->indicators[0].source, 0);
  assert_int_equal(c->indicators[0].stale_after, 10 * 86400);
  assert_int_equal(c->indicators[0].pace, PW_PACE_STEP);
  assert_int_equal(c->indicators[0].carry, 1);
  assert_true(c->indicators[0].targets[0].quarters[1] == 7.0);
  assert_int_equal(c->alerting.for_s, 3600);
  assert_int_equal(c->alerting.has_quiet_hours, 1);
  assert_int_equal(c->alerting.quiet_start, 22 * 60);
  assert_int_equal(c->alerting.quiet_end, 7 * 60 + 30);
  assert_int_equal(c->alerting.escalate_idx[0], 1);
  assert_int_equal(c->silences[0].indicator_idx, 0);
  assert_int_equal(c->silences[0].until, 1719763200);
  assert_int_equal(c->briefing.weekday, 5);
  assert_int_equal(c->briefing.minute, 17 * 60 + 30);
  assert_int_equal(c->briefing.receiver_idx[1], 2);
  pw_config_free(c);
}

#define IND(extra, targets)                                                                        \
  "indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; " extra "\n"                         \
  "  targets = ( " targets " ); } );\n"

static void test_errors(void **state) {
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; quarters = [1,2,3,9]; }"), 4,
           "fourth quarter");
  load_err(IND("kind = \"level\";", "{ year = 2024; annual = 10; }"), 4, "'baseline'");
  load_err(IND("kind = \"cumulative\"; pace = \"quarterly\";", "{ year = 2024; annual = 10; }"), 4,
           "needs quarters");
  load_err(IND("kind = \"standard\";", "{ year = 2024; standard = 1; quarters = [1,1,1,1]; }"), 4,
           "exactly one");
  load_err(IND("kind = \"standard\";", "{ year = 2024; annual = 1; }"), 4, "does not apply");
  load_err(IND("kind = \"milestone\"; stages = [\"a\",\"b\"];",
               "{ year = 2024; due = [ \"2024-05-01\" ]; }"),
           4, "2 stages");
  load_err(IND("kind = \"milestone\"; stages = [\"a\",\"b\"];",
               "{ year = 2024; due = [ \"2024-05-01\", \"2024-04-01\" ]; }"),
           4, "ascending");
  load_err(IND("kind = \"milestone\"; stages = [\"a\",\"b\"];",
               "{ year = 2024; due = [ \"2024-02-30\", \"\" ]; }"),
           4, "YYYY-MM-DD");
  load_err(
      IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; }, { year = 2024; annual = 20; }"),
      4, "two targets");
  load_err(IND("kind = \"cumulative\"; carry = true;", "{ year = 2024; annual = 10; }"), 3,
           "does not apply");
  load_err(IND("kind = \"cumulative\"; source = \"nope\"; path = \"$.x\";", ""), 3,
           "unknown source 'nope'");
  load_err(IND("kind = \"cumulative\"; department = \"nope\";", ""), 3,
           "unknown department 'nope'");
  load_err(IND("kind = \"cumulative\"; lag_warn = 20;", ""), 3, "lag_crit");
  load_err(IND("kind = \"gauge\";", ""), 3, "kind 'gauge'");
  load_err("indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"level\"; } );\n", 3,
           "'targets'");
  load_err("receivers = ( { id = \"r\"; type = \"webhook\"; } );\n" IND("kind = \"level\";", ""), 3,
           "'url'");
  load_err("receivers = ( { id = \"r\"; type = \"email\"; url = \"http://x\"; from = \"a\"; to = "
           "[\"b\"]; } );\n" IND("kind = \"level\";", ""),
           3, "smtp://");
  load_err("receivers = ( { id = \"r\"; type = \"log\"; secret = \"x\"; } );\n" IND(
               "kind = \"level\";", ""),
           3, "does not apply");
  load_err("alerting: { receivers = [ \"ghost\" ]; };\n" IND("kind = \"level\";", ""), 3,
           "unknown receiver 'ghost'");
  load_err("alerting: { quiet_hours = \"22-7\"; };\n" IND("kind = \"level\";", ""), 3,
           "quiet_hours");
  load_err("briefing: { schedule = \"Monday 8am\"; };\n" IND("kind = \"level\";", ""), 3,
           "schedule");
  load_err("silences = ( { indicator = \"zz\"; until = \"2024-01-01\"; } );\n" IND(
               "kind = \"level\";", ""),
           3, "unknown indicator 'zz'");
  load_err("sources = ( { id = \"s\"; url = \"ftp://x\"; format = \"json\"; } );\n" IND(
               "kind = \"level\";", ""),
           3, "ftp://");
  load_err("sources = ( { id = \"s\"; url = \"x\"; format = \"xml\"; } );\n" IND(
               "kind = \"level\";", ""),
           3, "format 'xml'");
  load_err("sources = ( { id = \"s\"; url = \"x\"; format = \"json\"; csv_delimiter = \";\"; } "
           ");\n" IND("kind = \"level\";", ""),
           3, "does not apply");
  load_err("bogus = 1;\n" IND("kind = \"level\";", ""), 3, "unknown top-level");
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = 3000000000; }"), 4, "too large");
  load_err(IND("kind = \"cumulative\"; name = \"x\";", ""), 3, "duplicate setting");
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = [1]; }"), 4, "number");
  load_err(IND("kind = \"cumulative\"; unit = \"\xff\xfe\";", ""), 3, "UTF-8");
}

static void test_big_integer_with_suffix(void **state) {
  struct pw_config *c =
      load_ok(IND("kind = \"cumulative\";", "{ year = 2024; annual = 3000000000L; }"));

  assert_true(c->indicators[0].targets[0].annual == 3000000000.0);
  pw_config_free(c);
}

/* A file that includes itself is refused as soon as the nesting passes libconfig's ten levels:
 * with four @include lines the pre-scan used to follow 4^11 of them before failing. */
static void test_include_itself(void **state) {
  struct timespec t0, t1;

  (void)state;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  load_err("@include \"pw.conf\"\n@include \"pw.conf\"\n@include \"pw.conf\"\n"
           "@include \"pw.conf\"\n" IND("kind = \"level\";", ""),
           3, "@include nested more than 10 deep");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
}

static void test_missing_file(void **state) {
  struct pw_config *c = NULL;
  char err[1024];

  assert_int_not_equal(pw_config_load("/nonexistent/pw.conf", &c, err, sizeof(err)), 0);
  assert_non_null(strstr(err, "/nonexistent/pw.conf"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),     cmocka_unit_test(test_full_schema),
      cmocka_unit_test(test_errors),       cmocka_unit_test(test_big_integer_with_suffix),
      cmocka_unit_test(test_missing_file), cmocka_unit_test(test_include_itself),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
