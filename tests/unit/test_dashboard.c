/*
 * Unit tests of dashboard: the page of a view built by hand, with a name and a source error
 * that carry HTML, a severe, a lagging, a stale, a no-data and a no-target indicator and a
 * milestone. The page must escape what came from outside, show each indicator once with its
 * status and its anchor (id="ind-<id>"), count the statuses in chips that filter, list 需关注
 * (severe, lagging, then data gaps, each a link to its card), write figures as the briefing does
 * ("1.98亿元"), carry the programme's title and the time in words without the zone, name sources
 * by name, say "尚未采集（首次采集在N秒内）" before a first poll, leave the source table out
 * when there are no sources, and show a department's explanation on its indicator's card.
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
    "sources = ( { id = \"src_a\"; name = \"县卫健局<数据>接口\"; url = "
    "\"http://127.0.0.1:1/a.json\"; format = \"json\"; },\n"
    "            { id = \"src_b\"; url = \"http://127.0.0.1:1/b.json\"; format = \"json\"; "
    "interval = \"5s\"; } );\n"
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
    "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-12-31\" ]; } ); },\n"
    " { id = \"invest\"; name = \"重大项目投资\"; domain = \"kids\"; department = \"wj\";\n"
    "   unit = \"元\"; kind = \"cumulative\"; source = \"src_b\"; path = \"$.v\";\n"
    "   targets = ( { year = 2024; annual = \"5.95亿\"; } ); } );\n"
    "briefing: { title = \"某县“七优享”工程推进情况\"; };\n";

static struct pw_config *conf;
static char dir[] = "/tmp/pw-test-dashboard-XXXXXX";
static const struct pw_series *view_series; /* the view's series; NULL: none */

static int setup(void **state) {
  (void)state;
  return pw_unit_conf_open(dir, conf_text, &conf);
}

static int teardown(void **state) {
  (void)state;
  return pw_unit_conf_close(conf, dir);
}

/* The page at 2024-04-30 09:00 (+08:00), UPTIME seconds after the start; source src_b has
 * not answered yet. */
static char *render_at(int with_sources, int64_t uptime) {
  static struct pw_verdict v[5];
  static struct pw_source_health h;
  const struct pw_source_health *health[2] = {&h, NULL};
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
  v[4].status = PW_STATUS_SEVERE;
  v[4].has_value = v[4].has_judgement = v[4].has_pct = 1;
  v[4].value = 198000000;
  v[4].as_of = 1711900800;
  v[4].lag = 18.1;
  v[4].completion_pct = 33.3;
  v[4].pace_pct = 51.4;
  memset(&h, 0, sizeof(h));
  h.polls = 4;
  h.failures = 2;
  h.consecutive_failures = 2;
  h.last_attempt = 1714438800;
  pw_strlcpy(h.last_error, "HTTP 500 <b>boom</b>", sizeof(h.last_error));
  memset(&view, 0, sizeof(view));
  view.conf = conf;
  view.verdicts = v;
  view.series = view_series;
  view.health = health;
  view.now = 1714438800;
  view.uptime = uptime;
  if (!with_sources)
    conf->n_sources = 0;
  assert_int_equal(pw_dashboard_write(&out, &view), 0);
  conf->n_sources = saved;
  return out.data;
}

static char *render(int with_sources) {
  return render_at(with_sources, 3);
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
  assert_int_equal(count(t, "<article class=\"card\""), 5);
  assert_int_equal(count(t, "id=\"ind-checkups\" data-indicator=\"checkups\" "
                            "data-status=\"lagging\""),
                   1);
  assert_int_equal(count(t, "id=\"ind-unemp\" data-indicator=\"unemp\" data-status=\"no_data\""),
                   1);
  assert_non_null(strstr(t, "data-status=\"lagging\" data-count=\"1\""));
  assert_non_null(strstr(t, "data-status=\"ok\" data-count=\"1\""));
  assert_non_null(strstr(t, "data-status=\"severe\" data-count=\"1\""));
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
  gaps = strstr(t, "<h3 id=\"gaps\">");
  assert_non_null(gaps);
  assert_non_null(strstr(gaps, "<li data-indicator=\"unemp\" data-status=\"no_data\"><a "
                               "href=\"#ind-unemp\"><i class=\"light s-no_data\"></i>调查失业率"
                               "</a>：数据未公布</li>"));
  assert_non_null(strstr(gaps, "执业医师数</a>：目标任务未下达</li>"));
  /* A lagging indicator is in its own group of 需关注, not among the gaps. */
  assert_true(strstr(t, "<li data-indicator=\"checkups\"") < gaps);
  /* Sources by name (escaped), with the areas they feed; the failing one says so. */
  assert_non_null(strstr(t, "<tr data-source=\"src_a\"><td><b>县卫健局&lt;数据&gt;接口</b>"));
  assert_non_null(strstr(t, "data-state=\"down\">失败（连续2次）"));
  free(t);
  t = render(0);
  assert_null(strstr(t, "id=\"sources\""));
  free(t);
}

static void test_header_and_figures(void **state) {
  char *t = render(1);

  (void)state;
  /* The programme's title (briefing.title), the time in words, no zone. */
  assert_non_null(strstr(t, "<title>某县“七优享”工程推进情况</title>"));
  assert_non_null(strstr(t, "<h1>某县“七优享”工程推进情况</h1>"));
  assert_non_null(strstr(t, "截至2024年4月30日9时，共5个指标"));
  assert_null(strstr(t, "Asia/Shanghai"));
  assert_null(strstr(t, "公共服务指标监测"));
  /* The figure and its unit together, rounded as the briefing rounds it. */
  assert_non_null(strstr(t, "<div class=\"fig\">1.98亿元<small>截至2024年3月31日</small>"));
  assert_non_null(strstr(t, "<div class=\"fig\">19.9人<small>"));
  /* Chips are links that filter (a count of 0 is no link); the filter's target exists. */
  assert_non_null(strstr(t, "<a class=\"chip\" href=\"#f-lagging\" data-status=\"lagging\""));
  assert_null(strstr(t, "<span class=\"chip\" data-status=\"severe\""));
  assert_non_null(strstr(t, "<i class=\"ft\" id=\"f-lagging\"></i>"));
  assert_non_null(strstr(t, "#f-lagging:target~main .card:not([data-status=lagging])"));
  assert_non_null(strstr(t, "<a class=\"brief\" href=\"briefings/\">"));
  free(t);
}

static void test_attention_and_anchors(void **state) {
  char *t = render(1), *att, *end, *sev, *lag, *gap;
  const char *ids[] = {"checkups", "unemp", "doctors", "plan", "invest"};
  char want[64];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    snprintf(want, sizeof(want), "id=\"ind-%s\"", ids[i]);
    assert_int_equal(count(t, want), 1);
  }
  /* 需关注 is at the top of main, before the first area; severe, lagging, then data gaps,
   * whatever the configuration's order; the ok milestone is not in it. */
  att = strstr(t, "<section id=\"attention\"><h2>需关注</h2>");
  assert_non_null(att);
  assert_true(att < strstr(t, "<section class=\"area\""));
  end = strstr(att, "</section>");
  sev = strstr(att, "href=\"#ind-invest\"");
  lag = strstr(att, "href=\"#ind-checkups\"");
  gap = strstr(att, "href=\"#ind-unemp\"");
  assert_true(sev != NULL && lag != NULL && gap != NULL && gap < end);
  assert_true(sev < lag && lag < gap);
  assert_true(strstr(att, "href=\"#ind-plan\"") == NULL || strstr(att, "href=\"#ind-plan\"") > end);
  assert_non_null(strstr(att, "严重滞后，落后序时进度18.1个百分点"));
  assert_non_null(strstr(att, "（县卫健局）：滞后，落后序时进度7.0个百分点"));
  free(t);
}

static void test_source_first_poll(void **state) {
  char *t = render_at(1, 3);

  (void)state;
  /* src_b (interval 5 s) has not answered 3 s after the start: no alarm, the time left. */
  assert_non_null(strstr(t, "<tr data-source=\"src_b\"><td><b>src_b</b><small>幼有善育</small>"));
  assert_non_null(strstr(t, "data-state=\"pending\">尚未采集（首次采集在2秒内）"));
  assert_null(strstr(t, "未采集</td>"));
  free(t);
  t = render_at(1, 60);
  assert_non_null(strstr(t, "data-state=\"pending\">首次采集进行中"));
  free(t);
}

/* The card shows the current explanation in the shared words, escaped; past its catch-up day
 * while lagging it says so ("原定…前追平，目前仍滞后", class overdue). */
static void test_explanation(void **state) {
  static struct pw_series s[5];
  static struct pw_explanation e[2];
  char *t, *card;

  (void)state;
  memset(s, 0, sizeof(s));
  memset(e, 0, sizeof(e));
  e[0].source = "report:wj";
  e[0].reason = "体检车<b>检修</b>";
  e[0].measures = "增派流动体检队";
  snprintf(e[0].catch_up, sizeof(e[0].catch_up), "2024-04-20");
  e[1].source = "record";
  e[1].reason = "资金拨付延后";
  snprintf(e[1].catch_up, sizeof(e[1].catch_up), "2024-06-30");
  s[0].explanations = &e[0];
  s[0].n_explanations = 1;
  s[4].explanations = &e[1];
  s[4].n_explanations = 1;
  view_series = s;
  t = render(1);
  view_series = NULL;
  card = strstr(t, "id=\"ind-checkups\"");
  assert_non_null(card);
  assert_non_null(
      strstr(card, "<p class=\"note explanation overdue\">县卫健局说明：体检车&lt;b&gt;"
                   "检修&lt;/b&gt;；措施：增派流动体检队；原定4月20日前追平，目前仍滞后</p>"));
  assert_non_null(strstr(t, "<p class=\"note explanation\">县卫健局说明：资金拨付延后；预计6月底前"
                            "追平</p>"));
  assert_null(strstr(t, "<b>检修"));
  assert_int_equal(count(t, "class=\"note explanation"), 2);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_cards_and_summary),
      cmocka_unit_test(test_gaps_and_sources),
      cmocka_unit_test(test_header_and_figures),
      cmocka_unit_test(test_attention_and_anchors),
      cmocka_unit_test(test_source_first_poll),
      cmocka_unit_test(test_explanation),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
