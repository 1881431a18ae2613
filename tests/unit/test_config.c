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
#include <sys/stat.h>
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
  assert_int_equal(c->daemon.retention, 400 * 86400);
  assert_int_equal(c->daemon.audit_max_bytes, 10485760);
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
  assert_int_equal(c->alerting.stale_repeat, 7 * 86400);
  assert_int_equal(c->briefing.title_set, 0);
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

/* Loads TEXT (the whole file); expects an error at LINE containing FRAG. */
static void load_err_text(const char *text, int line, const char *frag) {
  struct pw_config *c = NULL;
  char err[1024], prefix[600];
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_not_equal(pw_config_load(path, &c, err, sizeof(err)), 0);
  assert_null(c);
  snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, frag) == NULL)
    fail_msg("want %s...%s, got %s", prefix, frag, err);
}

/* The keys of the briefing's words (docs/configuration.md): defaults, values, and each rule
 * with its line. */
static void test_briefing_words(void **state) {
  struct pw_config *c;
  const char *src =
      "sources = ( { id = \"s\"; url = \"file:///dev/null\"; format = \"json\"; } );\n";
  char body[2048];

  (void)state;
  c = load_ok(IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; }"));
  assert_string_equal(c->indicators[0].standard_label, "标准");
  assert_null(c->indicators[0].published_by);
  assert_null(c->indicators[0].target_from);
  assert_null(c->indicators[0].note_path);
  assert_int_equal(c->indicators[0].headline, 0);
  assert_int_equal(c->indicators[0].targets[0].provisional, 0);
  assert_null(c->indicators[0].targets[0].basis);
  assert_null(c->briefing.issuer);
  assert_null(c->briefing.actions_file);
  assert_string_equal(c->daemon.public_url, "");
  pw_config_free(c);

  snprintf(body, sizeof(body), "%s%s", src,
           "indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"standard\";\n"
           "  source = \"s\"; path = \"$.v\"; note = \"$.n\"; standard_label = \"全省平均分\";\n"
           "  published_by = \"省人社厅\"; target_from = \"市里\"; headline = true;\n"
           "  targets = ( { year = 2024; standard = 86.83; provisional = true;\n"
           "                basis = \"参照2023年目标测算\"; } ); } );\n"
           "briefing: { title = \"平阳县公共服务“七优享”工程推进情况\"; issuer = \"县府办\";\n"
           "            actions_file = \"actions.md\"; };\n");
  c = load_ok(body);
  assert_string_equal(c->indicators[0].note_path, "$.n");
  assert_string_equal(c->indicators[0].standard_label, "全省平均分");
  assert_string_equal(c->indicators[0].published_by, "省人社厅");
  assert_string_equal(c->indicators[0].target_from, "市里");
  assert_int_equal(c->indicators[0].headline, 1);
  assert_int_equal(c->indicators[0].targets[0].provisional, 1);
  assert_string_equal(c->indicators[0].targets[0].basis, "参照2023年目标测算");
  assert_string_equal(c->briefing.issuer, "县府办");
  assert_non_null(c->briefing.actions_file);
  assert_true(c->briefing.actions_file[0] == '/'); /* relative to the configuration's folder */
  assert_non_null(strstr(c->briefing.actions_file, "/actions.md"));
  pw_config_free(c);

  /* public_url: an http(s) URL, its trailing slash dropped; anything else names its line. */
  head = "daemon: { state_dir = \"state\"; public_url = \"https://pw.example.gov.cn/pw/\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
  c = load_ok(IND("kind = \"cumulative\";", ""));
  assert_string_equal(c->daemon.public_url, "https://pw.example.gov.cn/pw");
  pw_config_free(c);
  head = "daemon: { state_dir = \"state\"; public_url = \"ftp://x\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
  load_err(IND("kind = \"cumulative\";", ""), 1, "public_url 'ftp://x' must be an http://");
  head = "daemon: { state_dir = \"state\"; public_url = \"http://\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
  load_err(IND("kind = \"cumulative\";", ""), 1, "must be an http://");
  head = "daemon: { state_dir = \"state\"; public_url = \"https://a b\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";
  load_err(IND("kind = \"cumulative\";", ""), 1, "no spaces");
  head = "daemon: { state_dir = \"state\"; };\n"
         "domains = ( { id = \"d\"; name = \"领域\"; } );\n";

  load_err(IND("kind = \"cumulative\"; note = \"$.n\";", ""), 3, "'note' needs a source");
  load_err(IND("kind = \"cumulative\"; standard_label = \"\";", ""), 3,
           "standard_label must not be empty");
  load_err(IND("kind = \"cumulative\"; published_by = \"省\n人社厅\";", ""), 3,
           "published_by must be one line");
  load_err(IND("kind = \"cumulative\"; target_from = \"一二三四五六七八九十一二三四五六七八九十"
               "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
               "一\";",
               ""),
           3, "target_from has 61 characters, at most 60");
  load_err(IND("kind = \"cumulative\"; headline = \"yes\";", ""), 3,
           "headline must be true or false");
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; provisional = 1; }"), 4,
           "provisional must be true or false");
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; basis = \"\"; }"), 4,
           "basis must not be empty");
  load_err(IND("kind = \"cumulative\";", "") "briefing: { issuer = \"\"; };\n", 5,
           "issuer must not be empty");
  load_err(IND("kind = \"cumulative\";", "") "briefing: { actions_file = \"\"; };\n", 5,
           "actions_file must not be empty");
  load_err(IND("kind = \"cumulative\";", "") "briefing: { issuer = 3; };\n", 5,
           "issuer must be a string");
}

#define DOMAINS "domains = ( { id = \"d\"; name = \"D\"; } );\n"
#define LEVEL IND("kind = \"level\";", "")

/* The rules each key checks once every key of its group is read (its own syntax, its range,
 * the ids it names, the defaults that depend on other keys): each message names its line. The
 * daemon, departments, sources and receivers. */
static void test_key_rules(void **state) {
  struct pw_config *c;

  (void)state;
  /* daemon */
  load_err_text("daemon: { state_dir = \"\"; };\n" DOMAINS LEVEL, 1, "state_dir must not be empty");
  load_err_text("daemon: { state_dir = \"s\";\n log_level = \"loud\"; };\n" DOMAINS LEVEL, 2,
                "log_level 'loud' must be error, warn, info or debug");
  load_err_text("daemon: { state_dir = \"s\";\n timezone = \"Mars/Base\"; };\n" DOMAINS LEVEL, 2,
                "time zone 'Mars/Base'");
  load_err_text("daemon: { state_dir = \"s\";\n http_listen = \"9464\"; };\n" DOMAINS LEVEL, 2,
                "http_listen '9464' must be HOST:PORT");
  load_err_text("daemon: { state_dir = \"s\";\n rrdcached = \"/run/x\"; };\n" DOMAINS LEVEL, 2,
                "rrdcached '/run/x' must be");
  load_err_text("daemon: { state_dir = \"s\";\n max_transfers = 0; };\n" DOMAINS LEVEL, 2,
                "max_transfers must be >= 1");
  load_err_text("daemon: { state_dir = \"s\";\n http_max_connections = 0; };\n" DOMAINS LEVEL, 2,
                "http_max_connections must be >= 1");
  load_err_text("daemon: { state_dir = \"s\";\n retention = \"23h\"; };\n" DOMAINS LEVEL, 2,
                "retention must be at least 1d");
  load_err_text("daemon: { state_dir = \"s\";\n retention = 30; };\n" DOMAINS LEVEL, 2,
                "retention");
  load_err_text("daemon: { state_dir = \"s\";\n audit_max_bytes = 1023; };\n" DOMAINS LEVEL, 2,
                "audit_max_bytes must be >= 1024");
  load_err_text(DOMAINS LEVEL, 0, "lacks the required group 'daemon'"); /* no line to name */
  /* departments name receivers; the message names the department's line */
  load_err("departments = ( { id = \"h\"; name = \"H\";\n receivers = [ \"ghost\" ]; } );\n" LEVEL,
           3, "department 'h' names unknown receiver 'ghost'");
  /* sources */
  load_err(
      "sources = ( { id = \"s\"; url = \"x\"; format = \"json\";\n interval = \"0s\"; } );\n" LEVEL,
      4, "source 's': interval must be at least 1s");
  load_err(
      "sources = ( { id = \"s\"; url = \"x\"; format = \"json\";\n max_bytes = 0; } );\n" LEVEL, 4,
      "source 's': max_bytes must be at least 1");
  load_err("sources = ( { id = \"s\"; url = \"x\"; format = \"json\";\n headers = [ \"X\" ]; } "
           ");\n" LEVEL,
           4, "source 's': header #1 must be \"Name: value\"");
  /* the charset must be one iconv converts to UTF-8 (issue 12, item 16: it used to pass) */
  load_err("sources = ( { id = \"s\"; url = \"x\"; format = \"json\";\n charset = \"NOPE-9\"; } "
           ");\n" LEVEL,
           4, "source 's': charset 'NOPE-9' is unknown");
  c = load_ok(
      "sources = ( { id = \"a\"; url = \"x\"; format = \"json\"; charset = \"gb18030\"; },\n"
      " { id = \"b\"; url = \"x\"; format = \"json\"; charset = \"utf8\"; },\n"
      " { id = \"c\"; url = \"x\"; format = \"json\"; charset = \"\"; } );\n" LEVEL);
  assert_string_equal(c->sources[0].charset, "gb18030");
  pw_config_free(c);
  load_err("sources = ( { id = \"s\";\n url = \"file://\"; format = \"json\"; } );\n" LEVEL, 4,
           "source 's': empty file path");
  load_err("sources = ( { id = \"S\"; url = \"x\"; format = \"json\"; } );\n" LEVEL, 3,
           "source id 'S' must use only a-z, 0-9 and _");
  /* receivers */
  load_err("receivers = ( { id = \"m\"; type = \"email\"; url = \"smtp://h:25\"; from = \"a\";\n"
           " to = [ ]; } );\n" LEVEL,
           4, "receiver 'm': 'to' must name at least one address");
  load_err("receivers = ( { id = \"w\"; type = \"wecom\";\n url = \"ftp://x\"; } );\n" LEVEL, 4,
           "receiver 'w': url 'ftp://x' must be http:// or https://");
  load_err("receivers = ( { id = \"w\"; type = \"pager\"; } );\n" LEVEL, 3,
           "receiver type 'pager'");
}

static void test_indicator_rules(void **state) {
  (void)state;
  load_err(IND("kind = \"standard\";\n direction = \"left\";", ""), 4,
           "indicator 'a': direction 'left' must be up or down");
  load_err(IND("kind = \"level\";\n pace = \"fast\";", ""), 4,
           "indicator 'a': pace 'fast' must be linear, quarterly or step");
  load_err(
      "indicators = ( { id = \"a\"; name = \"A\";\n domain = \"x\"; kind = \"level\"; targets = "
      "( ); } );\n",
      4, "indicator 'a' names unknown domain 'x'");
  load_err(IND("kind = \"level\";\n path = \"$.x\";", ""), 4,
           "indicator 'a': 'path' needs a source");
  load_err("sources = ( { id = \"s\"; url = \"x\"; format = \"json\"; } );\n" IND(
               "kind = \"level\"; source = \"s\";", ""),
           4, "indicator 'a' has a source but no path");
  load_err(IND("kind = \"level\";\n stale_after = \"0s\";", ""), 4,
           "indicator 'a': stale_after must be > 0");
  load_err(IND("kind = \"milestone\";\n stages = [ \"x\" ];", ""), 4,
           "stages must name at least two stages");
  load_err(IND("kind = \"milestone\";\n stages = [ \"x\", \"x\" ];", ""), 4,
           "indicator 'a': stage 'x' appears twice");
  load_err(IND("kind = \"standard\"; lag_warn = 9;", ""), 3,
           "lag_crit (5) must not be below lag_warn (9)");
  load_err("indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"level\";\n"
           " targets = { }; } );\n",
           4, "indicator 'a': targets must be a list");
  /* targets */
  load_err(IND("kind = \"cumulative\";", "{ annual = 10; }"), 4,
           "target #1 of indicator 'a' lacks the required key 'year'");
  load_err(IND("kind = \"cumulative\";", "{ year = 1900; annual = 10; }"), 4,
           "year 1900 is out of range");
  load_err(IND("kind = \"cumulative\";", "{ year = 2024; annual = 10; baseline = 10; }"), 4,
           "the 2024 target of indicator 'a': annual (10) must differ from baseline (10)");
  load_err(
      IND("kind = \"level\";", "{ year = 2024; annual = 2; baseline = 10;\n"
                               " quarters = [ 8, 9, 4, 2 ]; }"),
      5,
      "quarters must move downwards (non-increasing) from baseline 10 towards annual 2 (q2 = 9)");
  load_err(
      IND("kind = \"milestone\"; stages = [ \"x\", \"y\" ];", "{ year = 2024;\n due = \"x\"; }"), 5,
      "due must be a list of dates");
}

static void test_alerting_rules(void **state) {
  (void)state;
  load_err("alerting: { repeat = \"0s\"; };\n" LEVEL, 3, "alerting.repeat must be > 0");
  load_err("alerting: {\n give_up = \"0s\"; };\n" LEVEL, 4, "alerting.give_up must be > 0");
  load_err("alerting: {\n source_down_after = \"0s\"; };\n" LEVEL, 4,
           "alerting.source_down_after must be > 0");
  load_err("alerting: {\n escalate = [ \"ghost\" ]; };\n" LEVEL, 4,
           "alerting.escalate names unknown receiver 'ghost'");
  load_err("briefing: {\n receivers = [ \"ghost\" ]; };\n" LEVEL, 4,
           "briefing.receivers names unknown receiver 'ghost'");
  load_err(LEVEL "silences = ( { indicator = \"a\";\n until = \"soon\"; } );\n", 6,
           "silence #1: until 'soon' must be a date");
  load_err("silences = ( { indicator = \"source:zz\"; until = \"2024-01-01\"; } );\n" IND(
               "kind = \"level\";", ""),
           3, "silence #1 names unknown source 'zz'");
}

/* A department's contacts ("NAME MOBILE") become names and mobiles; stale_repeat and a written
 * briefing.title are read (docs/configuration.md). */
static void test_contacts_and_alert_keys(void **state) {
  struct pw_config *c;

  (void)state;
  c = load_ok(
      "departments = ( { id = \"wj\"; name = \"县卫健局\";\n"
      "  contacts = [ \"王敏 13800000001\", \"Li Qiang +8613900000002\" ]; } );\n"
      "alerting: { stale_repeat = \"3d\"; };\nbriefing: { title = \"某县民生实事\"; };\n" LEVEL);
  assert_int_equal(c->departments[0].n_contacts, 2);
  assert_string_equal(c->departments[0].contacts[0].name, "王敏");
  assert_string_equal(c->departments[0].contacts[0].mobile, "13800000001");
  assert_string_equal(c->departments[0].contacts[1].name, "Li Qiang");
  assert_string_equal(c->departments[0].contacts[1].mobile, "+8613900000002");
  assert_int_equal(c->alerting.stale_repeat, 3 * 86400);
  assert_int_equal(c->briefing.title_set, 1);
  pw_config_free(c);
  load_err("departments = ( { id = \"wj\"; name = \"县卫健局\";\n"
           "  contacts = [ \"王敏\" ]; } );\n" LEVEL,
           4, "contact '王敏' must be \"NAME MOBILE\"");
  load_err("departments = ( { id = \"wj\"; name = \"县卫健局\";\n"
           "  contacts = [ \"王敏 138-0000\" ]; } );\n" LEVEL,
           4, "the mobile must be digits");
  load_err("alerting: { stale_repeat = \"0s\"; };\n" LEVEL, 3, "alerting.stale_repeat must be > 0");
}

/* Reporting deadlines (docs/configuration.md): a department's apply to its indicators, an
 * indicator's own win, the reminder defaults to 2 days. */
static void test_report_keys(void **state) {
  struct pw_config *c;

  (void)state;
  c = load_ok(
      "departments = ( { id = \"wj\"; name = \"县卫健局\"; report_day = 5;\n"
      "  report_remind = \"3d\"; } );\n"
      "indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"level\";\n"
      "  department = \"wj\"; targets = ( ); },\n"
      "  { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"level\";\n"
      "  department = \"wj\"; report_after_quarter = \"10d\"; targets = ( ); },\n"
      "  { id = \"c\"; name = \"C\"; domain = \"d\"; kind = \"level\";\n"
      "  report_day = 31; targets = ( ); },\n"
      "  { id = \"e\"; name = \"E\"; domain = \"d\"; kind = \"level\"; targets = ( ); } );\n");
  assert_int_equal(c->indicators[0].report_day, 5);
  assert_int_equal(c->indicators[0].report_after_quarter, 0);
  assert_int_equal(c->indicators[0].report_remind, 3 * 86400);
  assert_int_equal(c->indicators[1].report_day, 0);
  assert_int_equal(c->indicators[1].report_after_quarter, 10 * 86400);
  assert_int_equal(c->indicators[1].report_remind, 3 * 86400);
  assert_int_equal(c->indicators[2].report_day, 31);
  assert_int_equal(c->indicators[2].report_remind, 2 * 86400);
  assert_int_equal(c->indicators[3].report_day, 0);
  assert_int_equal(c->indicators[3].report_after_quarter, 0);
  pw_config_free(c);
  load_err("departments = ( { id = \"wj\"; name = \"县卫健局\";\n"
           "  report_day = 0; } );\n" LEVEL,
           4, "report_day must be a day of the month, 1 to 31");
  load_err("departments = ( { id = \"wj\"; name = \"县卫健局\";\n"
           "  report_day = 32; } );\n" LEVEL,
           4, "report_day must be a day of the month");
  load_err("departments = ( { id = \"wj\"; name = \"县卫健局\"; report_day = 5;\n"
           "  report_after_quarter = \"10d\"; } );\n" LEVEL,
           4, "exclude each other");
  load_err(IND("kind = \"level\";\n report_after_quarter = \"100d\";", ""), 4,
           "report_after_quarter must be from 1d to 92d");
  load_err(IND("kind = \"level\";\n report_remind = \"30m\"; report_day = 5;", ""), 4,
           "report_remind must be from 1h to 31d");
  load_err(IND("kind = \"level\";\n report_remind = \"3d\";", ""), 4,
           "report_remind needs a deadline");
}

/* Loads BODY; expects an error at LINE containing FRAG and not containing SECRET. */
static void load_err_hides(const char *body, int line, const char *frag, const char *secret) {
  struct pw_config *c = NULL;
  char err[1024];
  const char *msg;

  load_err(body, line, frag);
  write_conf(body);
  assert_int_not_equal(pw_config_load(path, &c, err, sizeof(err)), 0);
  /* Past the file's name: mkdtemp's random suffix may spell the secret ("...-TOKiRo"). */
  msg = strncmp(err, path, strlen(path)) == 0 ? err + strlen(path) : err;
  if (strstr(msg, secret) != NULL)
    fail_msg("the message shows '%s': %s", secret, err);
}

/* Messages show URLs redacted and never the value of a secret key (docs/configuration.md,
 * "Secrets in messages"): what a configuration error prints reaches the system journal. */
static void test_secrets_not_shown(void **state) {
  (void)state;
  load_err_hides("receivers = ( { id = \"ding\"; type = \"dingtalk\";\n"
                 " url = \"htps://oapi.dingtalk.com/robot/send?access_token=DINGTOKEN123\"; } "
                 ");\n" LEVEL,
                 4,
                 "receiver 'ding': url 'htps://oapi.dingtalk.com/robot/send?access_token=***' "
                 "must be http:// or https://",
                 "DINGTOKEN123");
  load_err_hides("sources = ( { id = \"s\"; format = \"json\";\n"
                 " url = \"ftp://alice:S3CRET@h.example:21/x?key=K3Y\"; } );\n" LEVEL,
                 4, "source 's': url 'ftp://alice:***@h.example:21/x?key=***' must be", "S3CRET");
  load_err_hides("sources = ( { id = \"s\"; format = \"json\";\n"
                 " url = \"ftp://alice:S3CRET@h.example:21/x?key=K3Y\"; } );\n" LEVEL,
                 4, "ftp://", "K3Y");
  /* A header is named by its place, never shown (it may be "Authorization Bearer ..."). */
  load_err_hides("sources = ( { id = \"s\"; url = \"x\"; format = \"json\";\n"
                 " headers = [ \"Accept: a\", \"Authorization Bearer T0KEN\" ]; } );\n" LEVEL,
                 4, "source 's': header #2 must be", "T0KEN");
  /* A mistake in ${} substitution: the URL redacted, a secret not at all. */
  load_err_hides(
      "receivers = ( { id = \"ding\"; type = \"dingtalk\";\n"
      " url = \"https://oapi.dingtalk.com/robot/send?access_token=TOK${X\"; } );\n" LEVEL,
      4, "unterminated ${ in \"https://oapi.dingtalk.com/robot/send?access_token=***\"", "TOK");
  load_err_hides("receivers = ( { id = \"ding\"; type = \"dingtalk\"; url = \"https://h/x\";\n"
                 " secret = \"SECabc${X\"; } );\n" LEVEL,
                 4, "unterminated ${ in \"***\"", "SECabc");
  load_err_hides("receivers = ( { id = \"m\"; type = \"email\"; url = \"smtp://h:25\"; from = "
                 "\"a\"; to = [ \"b\" ];\n password = \"PWabc${}\"; } );\n" LEVEL,
                 4, "bad environment variable name in \"***\"", "PWabc");
  load_err_text("daemon: { state_dir = \"s\";\n http_token = \"HTabc${\"; };\n" DOMAINS LEVEL, 2,
                "unterminated ${ in \"***\"");
  /* Other values are shown as they are. */
  load_err(IND("kind = \"cumulative\";\n unit = \"a${\";", ""), 4, "unterminated ${ in \"a${\"");
  assert_true(pw_config_key_is_secret("secret"));
  assert_true(pw_config_key_is_secret("password"));
  assert_true(pw_config_key_is_secret("http_token"));
  assert_true(pw_config_key_is_secret("headers"));
  assert_false(pw_config_key_is_secret("url"));
  assert_false(pw_config_key_is_secret("username"));
}

/* Writes TEXT to NAME in the test directory. */
static void write_file(const char *name, const char *text) {
  char p[600];
  FILE *f;

  snprintf(p, sizeof(p), "%s/%s", dir, name);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Loads the main file after PREFIX (the name of the including file relative to the test
 * directory, "" for the main file); expects an error at that file's LINE containing FRAG. The
 * load must not block: SIGALRM ends the test if it does. */
static void load_err_in(const char *file, int line, const char *frag) {
  struct pw_config *c = NULL;
  char err[1024], prefix[700];

  alarm(20);
  assert_int_not_equal(pw_config_load(path, &c, err, sizeof(err)), 0);
  alarm(0);
  assert_null(c);
  if (file[0] == '\0')
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
  else
    snprintf(prefix, sizeof(prefix), "%s/%s:%d: ", dir, file, line);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, frag) == NULL)
    fail_msg("want %s...%s, got %s", prefix, frag, err);
}

/* An @include target must be a regular file (issue 12, item 16): libconfig 1.5 opens it with
 * fopen, so a FIFO blocked check and the daemon's reload for ever, and a directory made its
 * scanner exit the process. Each is refused, without blocking, at the line of the @include,
 * wherever libconfig would have opened it from. */
static void test_include_must_be_regular(void **state) {
  char p[600], q[600];
  struct pw_config *c;

  (void)state;
  snprintf(p, sizeof(p), "%s/fifo.conf", dir);
  assert_int_equal(mkfifo(p, 0600), 0);
  write_conf(LEVEL "@include \"fifo.conf\"\n");
  load_err_in("", 5, "cannot @include");
  load_err_in("", 5, "fifo.conf: it is a FIFO, not a regular file");
  /* Absolute names are taken under the main file's directory, as libconfig does. */
  write_conf(LEVEL "  @include \t\"/fifo.conf\"\n");
  load_err_in("", 5, "it is a FIFO");
  /* libconfig drops backslashes from the name: "fi\fo.conf" opens fifo.conf. */
  write_conf(LEVEL "@include \"fi\\fo.conf\"\n");
  load_err_in("", 5, "it is a FIFO");
  /* A nested include is relative to the main file's directory too, not to the including file's. */
  snprintf(q, sizeof(q), "%s/sub", dir);
  assert_int_equal(mkdir(q, 0700), 0);
  write_file("sub/inds.conf", "# nested\n@include \"fifo.conf\"\n");
  write_conf(LEVEL "@include \"sub/inds.conf\"\n");
  load_err_in("sub/inds.conf", 2, "it is a FIFO");
  /* A directory and a device. */
  write_conf(LEVEL "@include \"sub\"\n");
  load_err_in("", 5, "sub: it is a directory, not a regular file");
  write_conf(LEVEL "@include \"\"\n");
  load_err_in("", 5, "it is a directory");
  snprintf(q, sizeof(q), "%s/zero.conf", dir);
  assert_int_equal(symlink("/dev/zero", q), 0);
  write_conf(LEVEL "@include \"zero.conf\"\n");
  load_err_in("", 5, "zero.conf: it is a device");
  /* The main file itself. */
  assert_int_not_equal(pw_config_load(p, &c, q, sizeof(q)), 0);
  assert_non_null(strstr(q, ":0: cannot read the configuration: it is a FIFO"));
  /* A regular file in a subdirectory, a missing one, and @include inside a string or comment. */
  write_file("sub/ok.conf", "silences = ( );\n");
  c = load_ok(LEVEL "@include \"sub/ok.conf\"\n");
  pw_config_free(c);
  write_conf(LEVEL "@include \"missing.conf\"\n");
  load_err_in("", 5, "cannot open include file");
  c = load_ok(LEVEL "/* @include \"fifo.conf\" */\n# @include \"fifo.conf\"\n");
  pw_config_free(c);
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
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full_schema),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_key_rules),
      cmocka_unit_test(test_indicator_rules),
      cmocka_unit_test(test_alerting_rules),
      cmocka_unit_test(test_secrets_not_shown),
      cmocka_unit_test(test_include_must_be_regular),
      cmocka_unit_test(test_big_integer_with_suffix),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_contacts_and_alert_keys),
      cmocka_unit_test(test_report_keys),
      cmocka_unit_test(test_include_itself),
      cmocka_unit_test(test_briefing_words),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
