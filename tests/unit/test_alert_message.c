/*
 * Unit tests of message (daemon/alert/message.c): the words of an alert judged from real
 * verdicts (pw_judge on samples): a severe lagging cumulative indicator in 万/亿 with its gap in
 * points and in its unit, since when and how the gap moved, what is needed by quarter end; a
 * standard below its standard; a late milestone; stale data with the last known figure and a
 * never-published one; a resolution with how long it lagged; a deadline's reminder, overdue
 * figure and its resolution; the programme's name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "message.h"
#include "unit_conf.h"

static const char *CONF =
    "daemon: { state_dir = \"state\"; };\n"
    "domains = ( { id = \"d\"; name = \"领域\"; } );\n"
    "departments = ( { id = \"wj\"; name = \"县卫健局\"; report_day = 5; } );\n"
    "indicators = (\n"
    " { id = \"checkups\"; name = \"健康体检人数\"; domain = \"d\"; unit = \"人\"; kind = "
    "\"cumulative\";\n"
    "   department = \"wj\"; report_remind = \"3d\"; targets = ( { year = 2024; annual = 12000; } "
    "); },\n"
    " { id = \"invest\"; name = \"重大项目完成投资\"; domain = \"d\"; unit = \"元\"; kind = "
    "\"cumulative\";\n"
    "   targets = ( { year = 2024; annual = \"5.95亿\"; quarters = [ \"1.19亿\", \"2.98亿\", "
    "\"4.46亿\", \"5.95亿\" ]; } ); },\n"
    " { id = \"score\"; name = \"均衡得分\"; domain = \"d\"; unit = \"分\"; kind = \"standard\";\n"
    "   standard_label = \"全省平均分\"; targets = ( { year = 2024; standard = 86.83; } ); },\n"
    " { id = \"rate\"; name = \"签约率\"; domain = \"d\"; unit = \"%\"; kind = \"standard\";\n"
    "   stale_after = \"90d\"; targets = ( { year = 2024; standard = 75; } ); },\n"
    " { id = \"unemp\"; name = \"调查失业率\"; domain = \"d\"; unit = \"%\"; kind = \"standard\";\n"
    "   direction = \"down\"; published_by = \"省人社厅\"; targets = ( { year = 2024; standard = "
    "5.5; } ); },\n"
    " { id = \"ms\"; name = \"改造工程\"; domain = \"d\"; kind = \"milestone\"; stages = [ "
    "\"开工\", "
    "\"主体完工\", \"验收\" ];\n"
    "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-12-31\" ]; } ); }\n"
    ");\n";

struct fx {
  char dir[64];
  struct pw_config *conf;
};

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));

  snprintf(f->dir, sizeof(f->dir), "/tmp/pw-test-message-XXXXXX");
  if (pw_unit_conf_open(f->dir, CONF, &f->conf) < 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;

  pw_unit_conf_close(f->conf, f->dir);
  free(f);
  return 0;
}

/* The end of local day Y-M-D (an as_of of a date alone). */
static int64_t day_end(int y, int m, int d) {
  return pw_calendar_local(y, m, d + 1, 0, 0, 0);
}

struct words {
  struct pw_buf sum, trend, need;
};

/* The words of indicator ID's COND alert judged at AT from SAMPLES (N). */
static void words_of(struct fx *f, const char *id, enum pw_alert_cond cond, int firing,
                     struct pw_sample *samples, size_t n, int64_t at, int64_t since,
                     struct pw_verdict *v, struct words *w, int has_last, double last) {
  int ind = pw_config_indicator_index(f->conf, id);
  struct pw_alert_facts facts;

  assert_true(ind >= 0);
  pw_judge(&f->conf->indicators[ind], samples, n, &f->conf->cal, at, v);
  memset(&facts, 0, sizeof(facts));
  facts.ind = ind;
  facts.cond = cond;
  facts.firing = firing;
  facts.v = v;
  facts.latest = n > 0 ? &samples[n - 1] : NULL;
  facts.since = since;
  facts.has_last_gap = has_last;
  facts.last_gap = last;
  facts.now = at;
  memset(w, 0, sizeof(*w));
  assert_int_equal(pw_alert_words(f->conf, &facts, &w->sum, &w->trend, &w->need), 0);
}

static void words_free(struct words *w) {
  pw_buf_free(&w->sum);
  pw_buf_free(&w->trend);
  pw_buf_free(&w->need);
}

static void has(const struct pw_buf *b, const char *want) {
  if (b->data == NULL || strstr(b->data, want) == NULL)
    fail_msg("'%s' lacks '%s'", b->data ? b->data : "(empty)", want);
}

static void test_cumulative_severe(void **state) {
  struct fx *f = *state;
  int64_t as_of = day_end(2024, 5, 31), at = pw_calendar_local(2024, 6, 3, 9, 0, 0);
  struct pw_sample s = {as_of, as_of, 119000000.0, 0, NULL};
  struct pw_verdict v;
  struct words w;

  words_of(f, "invest", PW_COND_LAG, 1, &s, 1, at, at - 3 * 86400, &v, &w, 1, 10.0);
  assert_int_equal(v.status, PW_STATUS_SEVERE);
  has(&w.sum, "截至5月底累计1.19亿元，完成年度目标（5.95亿元）的20%，序时进度");
  has(&w.sum, "落后序时进度20.2个百分点，约差1.2亿元");
  has(&w.trend, "自5月底起滞后，已持续3天，差距较上次提醒扩大10.2个百分点");
  has(&w.need, "需在6月底前再完成约1.79亿元方可达到二季度目标");
  words_free(&w);
  /* The same gap as last time: said so. */
  words_of(f, "invest", PW_COND_LAG, 1, &s, 1, at, at, &v, &w, 1, v.lag);
  has(&w.trend, "差距与上次提醒持平");
  words_free(&w);
}

static void test_standard_and_milestone(void **state) {
  struct fx *f = *state;
  int64_t as_of = day_end(2024, 3, 31), at = pw_calendar_local(2024, 4, 30, 9, 0, 0);
  struct pw_sample s = {as_of, as_of, 83.13, 0, NULL}, m = {as_of, as_of, 0, 0, NULL};
  struct pw_verdict v;
  struct words w;

  words_of(f, "score", PW_COND_LAG, 1, &s, 1, at, at, &v, &w, 0, 0);
  has(&w.sum, "截至3月底为83.13分，全省平均分86.83分，低于全省平均分3.7分");
  has(&w.need, "需提高3.7分方可达到全省平均分");
  words_free(&w);
  words_of(f, "ms", PW_COND_LAG, 1, &m, 1, at, at, &v, &w, 0, 0);
  has(&w.sum, "截至3月底已开工，按计划应于3月底前主体完工，已逾期");
  assert_int_equal(w.need.len, 0);
  words_free(&w);
}

static void test_stale(void **state) {
  struct fx *f = *state;
  int64_t as_of = day_end(2023, 12, 31), at = pw_calendar_local(2024, 6, 21, 9, 0, 0);
  struct pw_sample s = {as_of, as_of, 72.5, 0, NULL};
  struct pw_verdict v;
  struct words w;

  words_of(f, "rate", PW_COND_STALE, 1, &s, 1, at, at, &v, &w, 0, 0);
  assert_true(v.stale);
  assert_string_equal(w.sum.data, "最新数据截至2023年底（72.5%），已超过172天未更新");
  words_free(&w);
  words_of(f, "unemp", PW_COND_STALE, 1, NULL, 0, at, at, &v, &w, 0, 0);
  assert_string_equal(w.sum.data, "本年度尚无数据（待省人社厅公布）");
  words_free(&w);
}

static void test_resolved(void **state) {
  struct fx *f = *state;
  int64_t as_of = day_end(2024, 6, 25), at = pw_calendar_local(2024, 6, 26, 9, 0, 0);
  struct pw_sample s = {as_of, as_of, 300000000.0, 0, NULL};
  struct pw_verdict v;
  struct words w;

  words_of(f, "invest", PW_COND_LAG, 0, &s, 1, at, at - 5 * 86400, &v, &w, 0, 0);
  has(&w.sum, "已达到序时进度");
  assert_string_equal(w.trend.data, "此前滞后5天");
  assert_int_equal(w.need.len, 0);
  words_free(&w);
}

/* Reporting deadlines (docs/alerts.md): the reminder to the department, the overdue figure and
 * its resolution when the figure arrives. */
static void test_deadline(void **state) {
  struct fx *f = *state;
  struct pw_sample feb = {day_end(2024, 2, 29), day_end(2024, 2, 29), 800, 0, NULL};
  struct pw_sample both[2] = {feb, {day_end(2024, 3, 31), day_end(2024, 3, 31), 1000, 0, NULL}};
  int64_t at = pw_calendar_local(2024, 4, 3, 9, 0, 0);
  struct pw_verdict v;
  struct words w;

  words_of(f, "checkups", PW_COND_REMIND, 1, &feb, 1, at, at, &v, &w, 0, 0);
  assert_true(v.due_soon);
  assert_string_equal(w.sum.data, "县卫健局：请于4月5日前报送2024年3月的「健康体检人数」数据");
  assert_int_equal(w.trend.len, 0);
  assert_int_equal(w.need.len, 0);
  words_free(&w);
  at = pw_calendar_local(2024, 4, 9, 9, 0, 0);
  words_of(f, "checkups", PW_COND_OVERDUE, 1, &feb, 1, at, at, &v, &w, 0, 0);
  assert_true(v.overdue);
  assert_string_equal(w.sum.data, "2024年3月数据逾期未报，应于4月5日前报送，已逾期3天");
  words_free(&w);
  words_of(f, "checkups", PW_COND_OVERDUE, 0, both, 2, at, at, &v, &w, 0, 0);
  assert_false(v.overdue);
  assert_string_equal(w.sum.data, "数据已报送，截至3月底为1000人");
  words_free(&w);
}

static void test_programme(void **state) {
  struct fx *f = *state;

  assert_string_equal(pw_alert_programme(f->conf), "公共服务指标");
  f->conf->briefing.title_set = 1;
  assert_string_equal(pw_alert_programme(f->conf), "公共服务指标周报");
  f->conf->briefing.title_set = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cumulative_severe),
      cmocka_unit_test(test_standard_and_milestone),
      cmocka_unit_test(test_stale),
      cmocka_unit_test(test_resolved),
      cmocka_unit_test(test_deadline),
      cmocka_unit_test(test_programme),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
