/*
 * Unit tests of dashboard: the page of a view built by hand, with a name and a source error
 * that carry HTML, a lagging, a stale, a no-data and a no-target indicator and a milestone. The
 * page must escape what came from outside, show each indicator once with its status, count
 * the statuses in the summary, list the data gaps, show the milestone's stage by name, and
 * leave the source table out when there are no sources.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dashboard.h"
#include "schedule.h"
#include "unit_conf.h"

static const char *conf_text =
    "daemon: { state_dir = \"state\"; http_listen = \"\"; };\n"
    "domains = ( { id = \"kids\"; name = \"幼有善育\"; }, { id = \"care\"; name = \"病有良医\"; } "
    ");\n"
    "departments = ( { id = \"wj\"; name = \"县卫健局\"; } );\n"
    "sources = ( { id = \"src_a\"; url = \"http://127.0.0.1:1/a.json\"; format = \"json\"; } );\n"
    "indicators = (\n"
    " { id = \"checkups\"; name = \"体检<script>alert(1)</script>\"; domain = \"care\";\n"
    "   department = \"wj\"; unit = \"人\"; kind = \"cumulative\";\n"
    "   targets = ( { year = 2024; annual = 100; } ); },\n"
    " { id = \"unemp\"; name = \"调查失业率\"; domain = \"care\"; unit = \"%\"; kind = "
    "\"standard\";\n"
    "   targets = ( { year = 2024; standard = 5.5; } ); },\n"
    " { id = \"doctors\"; name = \"执业医师数\"; domain = \"care\"; unit = \"人\"; kind = "
    "\"level\";\n"
    "   targets = ( ); },\n"
    " { id = \"plan\"; name = \"普惠县认定\"; domain = \"kids\"; kind = \"milestone\";\n"
    "   stages = [ \"未启动\", \"完成省级评估\", \"通过国家认定\" ];\n"
    "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-12-31\" ]; } ); } );\n";

static struct pw_config *conf;
static char dir[] = "/tmp/pw-test-dashboard-XXXXXX";

static int setup(void **state) {
  (void)state;
  return pw_unit_conf_open(dir, conf_text, &conf);
}

static int teardown(void **state) {
  (void)state;
  return pw_unit_conf_close(conf, dir);
}

static char *render(int with_sources) {
  static struct pw_verdict v[4];
  static struct pw_source_health h;
  const struct pw_source_health *health[1] = {&h};
  struct pw_view view;
  struct pw_buf out = {0};
  int saved = conf->n_sources;

  memset(v, 0, sizeof(v));
  v[0].status = PW_STATUS_LAGGING;
  v[0].has_value = v[0].has_judgement = v[0].has_pct = 1;
  v[0].value = 19.9;
  v[0].as_of = 1711900800; /* 2024-04-01T00:00+08:00: the figure of 3月31日 */
  v[0].lag = 7;
  v[0].completion_pct = 19.9;
  v[0].pace_pct = 26.9;
  v[1].status = PW_STATUS_NO_DATA;
  v[1].stale = 1;
  v[2].status = PW_STATUS_NO_TARGET;
  v[2].year = 2024;
  v[2].has_value = 1;
  v[2].value = 3.1;
  v[2].as_of = 1711900800;
  v[3].status = PW_STATUS_OK;
  v[3].has_value = v[3].has_judgement = 1;
  v[3].value = 1;
  v[3].stage = 1;
  v[3].as_of = 1711900800;
  v[3].lag_unit = PW_LAG_UNIT_DAYS;
  memset(&h, 0, sizeof(h));
  h.polls = 4;
  h.failures = 2;
  h.consecutive_failures = 2;
  h.last_attempt = 1714438800;
  pw_strlcpy(h.last_error, "HTTP 500 <b>boom</b>", sizeof(h.last_error));
  memset(&view, 0, sizeof(view));
  view.conf = conf;
  view.verdicts = v;
  view.health = health;
  view.now = 1714438800;
  if (!with_sources)
    conf->n_sources = 0;
  assert_int_equal(pw_dashboard_write(&out, &view), 0);
  conf->n_sources = saved;
  return out.data;
}

static int count(const char *text, const char *what) {
  int n = 0;

  for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
    n++;
  return n;
}

static void test_escaping(void **state) {
  char *t = render(1);

  (void)state;
  assert_null(strstr(t, "<script>"));
  assert_null(strstr(t, "<b>boom"));
  assert_non_null(strstr(t, "体检&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert_non_null(strstr(t, "HTTP 500 &lt;b&gt;boom&lt;/b&gt;"));
  free(t);
}

static void test_cards_and_summary(void **state) {
  char *t = render(1);

  (void)state;
  assert_int_equal(count(t, "<article class=\"card\""), 4);
  assert_int_equal(count(t, "data-indicator=\"checkups\" data-status=\"lagging\""), 1);
  assert_int_equal(count(t, "data-indicator=\"unemp\" data-status=\"no_data\""), 1);
  assert_non_null(strstr(t, "data-status=\"lagging\" data-count=\"1\""));
  assert_non_null(strstr(t, "data-status=\"ok\" data-count=\"1\""));
  assert_non_null(strstr(t, "data-status=\"severe\" data-count=\"0\""));
  assert_non_null(strstr(t, "完成率19.9%，序时进度26.9%，滞后7.0个百分点"));
  assert_non_null(strstr(t, "截至2024年3月31日"));
  assert_non_null(strstr(t, "2024年目标任务未下达"));
  assert_non_null(strstr(t, ">完成省级评估<small>")); /* the stage by name, not "1" */
  assert_non_null(strstr(t, "src=\"graphs/checkups.png?size=small\""));
  /* Areas in configuration order. */
  assert_true(strstr(t, "id=\"area-kids\"") < strstr(t, "id=\"area-care\""));
  assert_non_null(strstr(t, "一、幼有善育"));
  free(t);
}

static void test_gaps_and_sources(void **state) {
  char *t = render(1), *gaps;

  (void)state;
  gaps = strstr(t, "<section id=\"gaps\">");
  assert_non_null(gaps);
  assert_non_null(strstr(gaps, "<li data-indicator=\"unemp\">调查失业率：数据未公布</li>"));
  assert_non_null(strstr(gaps, "<li data-indicator=\"doctors\">执业医师数：目标任务未下达</li>"));
  assert_null(strstr(gaps, "data-indicator=\"checkups\""));
  assert_non_null(strstr(t, "<tr data-source=\"src_a\"><td>src_a</td><td>失败（连续2次）"));
  free(t);
  t = render(0);
  assert_null(strstr(t, "id=\"sources\""));
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_cards_and_summary),
      cmocka_unit_test(test_gaps_and_sources),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
