/*
 * Unit tests of the briefing's pure wording (graphs/report_words.c, docs/briefing.md
 * "Wording"): percentages rounded as people write them, days and periods in words, figures in
 * 万/亿 with their unit, and the report's sentence for each kind of verdict: a quarter target
 * named, a linear pace in 百分点, a level against the value due now, a standard with its label,
 * a milestone with its next stage, what a lagging one needs, a gap with its owner, "尚无数据"
 * for a figure that never existed, "未设目标" against "任务尚未下达（待…分解）", 暂定/测算 and
 * a sample's note; and a department's explanation (说明) in the one wording the dashboard, the
 * reporting page, the briefing and the alerts share.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "config.h"
#include "judge.h"
#include "report.h"
#include "status.h"
#include "unit_conf.h"
#include "util.h"

static char dir[] = "/tmp/pw-test-words-XXXXXX";
static struct pw_config *conf;

static const char *conf_text =
    "daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
    "domains = ( { id = \"a\"; name = \"学有优教\"; } );\n"
    "indicators = (\n"
    " { id = \"train\"; name = \"职业教育培训人次\"; domain = \"a\"; unit = \"人次\";\n"
    "   kind = \"cumulative\";\n"
    "   targets = ( { year = 2024; annual = 15600; quarters = [ 2600, 7800, 11700, 15600 ];\n"
    "                 provisional = true; } ); },\n"
    " { id = \"lin\"; name = \"体检\"; domain = \"a\"; unit = \"人\"; kind = \"cumulative\";\n"
    "   pace = \"linear\"; targets = ( { year = 2024; annual = 120000; basis = \"测算\"; } ); },\n"
    " { id = \"level\"; name = \"托位数\"; domain = \"a\"; unit = \"个\"; kind = \"level\";\n"
    "   targets = ( { year = 2024; baseline = 4.0; annual = 4.5; quarters = [ 4.1, 4.2, 4.35, 4.5 "
    "]; "
    "} ); },\n"
    " { id = \"std\"; name = \"均衡得分\"; domain = \"a\"; unit = \"分\"; kind = \"standard\";\n"
    "   standard_label = \"全省平均分\"; targets = ( { year = 2024; standard = 86.83; } ); },\n"
    " { id = \"ms\"; name = \"评估\"; domain = \"a\"; kind = \"milestone\";\n"
    "   stages = [ \"成立创建领导小组\", \"通过市级评估\", \"通过省级评估\" ];\n"
    "   targets = ( { year = 2024; due = [ \"2024-03-31\", \"2024-06-30\", \"2024-12-31\" ]; } ); "
    "},\n"
    " { id = \"unemp\"; name = \"调查失业率\"; domain = \"a\"; unit = \"%\"; kind = \"standard\";\n"
    "   direction = \"down\"; published_by = \"省人社厅\"; targets = ( { year = 2024; standard = "
    "5.5; } ); },\n"
    " { id = \"none\"; name = \"参保人数\"; domain = \"a\"; unit = \"人\"; kind = \"cumulative\";\n"
    "   target_from = \"市\"; targets = ( ); },\n"
    " { id = \"bare\"; name = \"文化设施数\"; domain = \"a\"; unit = \"个\"; kind = \"level\"; "
    "targets = ( ); },\n"
    " { id = \"emp\"; name = \"城镇新增就业\"; domain = \"a\"; department = \"hrss\"; unit = "
    "\"人\";\n"
    "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 12000; } ); },\n"
    " { id = \"orphan\"; name = \"无主指标\"; domain = \"a\"; unit = \"人\"; kind = "
    "\"cumulative\";\n"
    "   targets = ( { year = 2024; annual = 100; } ); }\n"
    ");\n"
    "departments = ( { id = \"hrss\"; name = \"县人力社保局\"; },\n"
    "  { id = \"housing\"; name = \"县住建局\"; } );\n";

enum { TRAIN, LIN, LEVEL, STD, MS, UNEMP, NONE, BARE, EMP, ORPHAN };

static int setup(void **state) {
  (void)state;
  return pw_unit_conf_open(dir, conf_text, &conf);
}

static int teardown(void **state) {
  (void)state;
  return pw_unit_conf_close(conf, dir);
}

static int64_t day_end(int y, int m, int d) {
  return pw_calendar_day_end(y, m, d);
}

/* The sentence for indicator I from its samples, judged at AT. */
static char *sentence(int i, const struct pw_sample *s, size_t n, int64_t at) {
  static char text[2048];
  struct pw_verdict v;
  struct pw_buf b = {NULL, 0, 0, 0};
  const struct pw_sample *latest = NULL;
  size_t k;

  pw_judge(&conf->indicators[i], s, n, &conf->cal, at, &v);
  for (k = 0; k < n; k++)
    if (pw_judge_effective(s, n, k, at) && (latest == NULL || s[k].as_of > latest->as_of))
      latest = &s[k];
  assert_int_equal(pw_report_sentence(conf, i, &v, latest, at, &b), 0);
  snprintf(text, sizeof(text), "%s", b.data);
  pw_buf_free(&b);
  return text;
}

static void test_pct(void **state) {
  char buf[32];

  (void)state;
  assert_string_equal(pw_report_pct(183.923, buf, sizeof(buf)), "183.9");
  assert_string_equal(pw_report_pct(25.0, buf, sizeof(buf)), "25");
  assert_string_equal(pw_report_pct(24.96, buf, sizeof(buf)), "25");
  assert_string_equal(pw_report_pct(33.333, buf, sizeof(buf)), "33.3");
  assert_string_equal(pw_report_pct(0.04, buf, sizeof(buf)), "0");
  assert_string_equal(pw_report_pct(-0.04, buf, sizeof(buf)), "0");
  assert_string_equal(pw_report_pct(0.5, buf, sizeof(buf)), "0.5");
}

static void test_days_and_period(void **state) {
  char buf[64];

  (void)state;
  assert_string_equal(pw_report_day(day_end(2024, 3, 31), 2024, buf, sizeof(buf)), "3月底");
  assert_string_equal(pw_report_day(day_end(2024, 4, 25), 2024, buf, sizeof(buf)), "4月25日");
  assert_string_equal(pw_report_day(day_end(2023, 12, 31), 2024, buf, sizeof(buf)), "2023年底");
  assert_string_equal(pw_report_day(day_end(2024, 2, 29), 2024, buf, sizeof(buf)), "2月底");
  assert_string_equal(pw_report_day(day_end(2023, 10, 1), 2024, buf, sizeof(buf)), "2023年10月1日");
  assert_string_equal(pw_report_date(day_end(2024, 4, 30), buf, sizeof(buf)), "2024年4月30日");
  /* The last whole week ended by AT. */
  assert_string_equal(pw_report_period(day_end(2024, 4, 30), buf, sizeof(buf)),
                      "2024年4月22日—28日");
  assert_string_equal(pw_report_period(pw_calendar_local(2024, 4, 29, 8, 0, 0), buf, sizeof(buf)),
                      "2024年4月22日—28日");
  assert_string_equal(pw_report_period(day_end(2024, 5, 5), buf, sizeof(buf)),
                      "2024年4月29日—5月5日");
  assert_string_equal(pw_report_period(day_end(2025, 1, 5), buf, sizeof(buf)),
                      "2024年12月30日—2025年1月5日");
  assert_string_equal(pw_report_week(day_end(2024, 4, 30), buf, sizeof(buf)), "2024-W18");
}

static void test_figures(void **state) {
  char buf[160];

  (void)state;
  assert_string_equal(pw_report_figure(&conf->indicators[TRAIN], 510300, buf, sizeof(buf)),
                      "51.03万人次");
  assert_string_equal(pw_report_figure(&conf->indicators[TRAIN], 198000000, buf, sizeof(buf)),
                      "1.98亿人次");
  assert_string_equal(pw_report_figure(&conf->indicators[MS], 1, buf, sizeof(buf)), "通过市级评估");
  assert_string_equal(pw_report_quarter(1), "一季度");
}

static void test_sentences(void **state) {
  int64_t q1 = day_end(2024, 3, 31), at = day_end(2024, 4, 30);
  struct pw_sample s[2];

  (void)state;
  memset(s, 0, sizeof(s));
  /* A quarter target named, with 暂定. */
  s[0] = (struct pw_sample){q1, q1, 4782, 0, NULL};
  assert_string_equal(sentence(TRAIN, s, 1, at),
                      "截至3月底，累计4782人次，完成第一季度目标（2600人次，暂定）的183.9%。");
  /* A linear pace in 百分点, what a lagging one needs, 测算; then the note. */
  s[0] =
      (struct pw_sample){day_end(2024, 4, 25), day_end(2024, 4, 25), 20000, 0, "县医院完成1.2万人"};
  assert_string_equal(sentence(LIN, s, 1, at),
                      "截至4月25日，累计20000人，完成年度目标（12万人，测算）的16.7%，低于序时进度"
                      "（31.7%）15个百分点，需在6月底前再完成约39673人方可达到二季度目标。"
                      "县医院完成1.2万人。");
  /* A level against the value due now, never a share of an assumed baseline. */
  s[0] = (struct pw_sample){q1, q1, 4.35, 0, NULL};
  assert_string_equal(sentence(LEVEL, s, 1, at), "截至3月底，达4.35个，高于季度目标值（4.1个）。");
  /* A standard that is a comparison reads as one. */
  s[0] = (struct pw_sample){q1, q1, 83.13, 0, "排名全市第8"};
  assert_string_equal(sentence(STD, s, 1, at),
                      "截至3月底，为83.13分，低于全省平均分（86.83分）3.7分，需提高3.7分方可达到"
                      "全省平均分。排名全市第8。");
  /* A milestone: the stage reached and the next with its due date. */
  s[0] = (struct pw_sample){q1, q1, 0, 0, NULL};
  assert_string_equal(sentence(MS, s, 1, at),
                      "截至3月底，已成立创建领导小组；计划6月底前通过市级评估。");
  /* Never had a figure: its owner, not a number of days. */
  assert_string_equal(sentence(UNEMP, s, 0, at), "一季度省人社厅尚未对外公布。");
  /* No target: who issues it, or none at all. */
  assert_string_equal(sentence(NONE, s, 0, at), "市对县的任务分解指标尚未下达。");
  s[0] = (struct pw_sample){day_end(2023, 12, 31), day_end(2023, 12, 31), 1.88, 0, NULL};
  assert_string_equal(sentence(BARE, s, 1, at), "截至2023年底为1.88个，未设目标。");
}

/* Explanation E of indicator I in words (OVERDUE as given), relative to 2024. */
static char *explained(int i, const struct pw_explanation *e, int overdue) {
  static char text[4096];
  struct pw_buf b = {NULL, 0, 0, 0};

  assert_int_equal(pw_report_explanation(conf, i, e, overdue, 2024, &b), 0);
  snprintf(text, sizeof(text), "%s", b.data);
  pw_buf_free(&b);
  return text;
}

/* The one wording of an explanation (dashboard, reporting page, briefing, alerts): who explains
 * (the source's department, else the indicator's, else 责任单位), reason and measures without
 * their final punctuation, the catch-up day as the briefing dates it, and once it passed with the
 * indicator still lagging "原定…前追平，目前仍滞后" (the day in full, with a year not judged). */
static void test_explanation(void **state) {
  struct pw_explanation e;
  struct pw_verdict v;

  (void)state;
  memset(&e, 0, sizeof(e));
  e.source = "report:hrss";
  e.reason = "一季度企业招工延后。";
  e.measures = "开展春风行动专场招聘；";
  snprintf(e.catch_up, sizeof(e.catch_up), "2024-05-31");
  assert_string_equal(
      explained(EMP, &e, 0),
      "县人力社保局说明：一季度企业招工延后；措施：开展春风行动专场招聘；预计5月底前追平");
  assert_string_equal(explained(EMP, &e, 1), "县人力社保局说明：一季度企业招工延后；措施：开展"
                                             "春风行动专场招聘；原定5月31日前追平，目前仍滞后");
  /* The source's department speaks, even for another's indicator; "record" leaves it to the
   * indicator's department, and one without any is 责任单位. */
  e.source = "report:housing";
  snprintf(e.catch_up, sizeof(e.catch_up), "2024-06-20");
  e.measures = "";
  assert_string_equal(explained(EMP, &e, 0), "县住建局说明：一季度企业招工延后；预计6月20日前追平");
  e.source = "record";
  snprintf(e.catch_up, sizeof(e.catch_up), "2025-01-15");
  assert_string_equal(explained(EMP, &e, 0),
                      "县人力社保局说明：一季度企业招工延后；预计2025年1月15日前追平");
  assert_string_equal(explained(EMP, &e, 1),
                      "县人力社保局说明：一季度企业招工延后；原定2025年1月15日前追平，目前仍滞后");
  e.catch_up[0] = '\0';
  assert_string_equal(explained(ORPHAN, &e, 0), "责任单位说明：一季度企业招工延后");
  e.reason = "";
  e.measures = "加密调度";
  assert_string_equal(explained(EMP, &e, 0), "县人力社保局说明：措施：加密调度");

  /* Overdue is status's: the end of the catch-up day passed while the verdict lags. */
  snprintf(e.catch_up, sizeof(e.catch_up), "2024-05-31");
  memset(&v, 0, sizeof(v));
  v.status = PW_STATUS_LAGGING;
  assert_false(pw_status_catch_up_overdue(&e, &v, day_end(2024, 5, 31) - 1));
  assert_true(pw_status_catch_up_overdue(&e, &v, day_end(2024, 5, 31)));
  v.status = PW_STATUS_OK;
  assert_false(pw_status_catch_up_overdue(&e, &v, day_end(2024, 6, 30)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pct),         cmocka_unit_test(test_days_and_period),
      cmocka_unit_test(test_figures),     cmocka_unit_test(test_sentences),
      cmocka_unit_test(test_explanation),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
