/*
 * Unit tests of briefing: ISO week names (week-years at both ends of the year), and a briefing
 * written from a real journal for a configuration of three areas whose indicators cover every
 * kind and status (ok, lagging, severe, no data, no target, stale, a milestone, with and
 * without a department), a revision journaled during the week and figures from the previous
 * week. The HTML and the Markdown are read back and checked for the county report's shape
 * (docs/briefing.md): title, issuer, date and period in words with no ISO week in sight, parts
 * and areas in order, each indicator once with the status judge gives, the report's sentences,
 * the areas' closing lines, 存在问题 with gaps, owners and a department's explanation, 下步举措
 * from the actions file or the marked slot, the appendix table and only what changed, and escaping
 * of a hostile name. With graphs: a PNG per indicator beside the Markdown and a data URI for each
 * in the HTML (in the body only for indicators needing attention), and a graph that cannot be
 * written leaves a note instead of failing the briefing. PW_BRIEFING_KEEP=1 keeps the output.
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

#include "briefing.h"
#include "calendar.h"
#include "config.h"
#include "graph.h"
#include "journal.h"
#include "status.h"
#include "store.h"
#include "util.h"

static char dir[] = "/tmp/pw-test-briefing-XXXXXX";
static char conf_path[300];
static struct pw_config *conf;
static struct pw_journal *journal;
static int64_t at; /* 2024-04-30 as a date: 2024-05-01T00:00:00+08:00 */

/* Three areas, deliberately not in alphabetical order of id, so that configuration order is
 * what the test sees. Expected verdicts at `at` are in the comments; the test still takes the
 * real ones from pw_status_judge. */
static const char *conf_text =
    "daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
    "domains = ( { id = \"kids\"; name = \"幼有善育\"; },\n"
    "            { id = \"care\"; name = \"病有良医\"; },\n"
    "            { id = \"aged\"; name = \"老有康养\"; } );\n"
    "departments = ( { id = \"health\"; name = \"县卫健局\"; } );\n"
    "briefing: { title = \"测试县公共服务“七优享”工程推进情况\"; issuer = \"县府办\"; };\n"
    "indicators = (\n"
    /* ok, cumulative, quarterly pace, with a department */
    " { id = \"places\"; name = \"每千人口拥有3岁以下婴幼儿托位数\"; domain = \"kids\";\n"
    "   department = \"health\"; unit = \"个\"; kind = \"cumulative\";\n"
    "   targets = ( { year = 2024; annual = 1000; quarters = [ 250, 500, 750, 1000 ]; } ); },\n"
    /* ok, standard */
    " { id = \"usage\"; name = \"托位使用率\"; domain = \"kids\"; unit = \"%\"; kind = "
    "\"standard\";\n"
    "   targets = ( { year = 2024; standard = 60; } ); },\n"
    /* ok, milestone at its planned stage */
    " { id = \"plan\"; name = \"国家学前教育普及普惠县认定\"; domain = \"kids\"; kind = "
    "\"milestone\";\n"
    "   stages = [ \"未启动\", \"完成省级评估整改\", \"通过国家认定\" ];\n"
    "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-12-31\" ]; } ); },\n"
    /* lagging now, ok a week ago, with a department */
    " { id = \"checkups\"; name = \"城乡居民同质同标免费健康体检人数\"; domain = \"care\";\n"
    "   department = \"health\"; unit = \"人\"; kind = \"cumulative\";\n"
    "   targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 "
    "]; } ); },\n"
    /* no data (and so stale: nothing since the start of the year) */
    " { id = \"unemp\"; name = \"调查失业率\"; domain = \"care\"; unit = \"%\"; kind = "
    "\"standard\";\n"
    "   direction = \"down\"; published_by = \"省人社厅\";\n"
    "   targets = ( { year = 2024; standard = 5.5; } ); },\n"
    /* severe, no department, and a name that must stay text */
    " { id = \"fields\"; name = \"体育场地<script>alert('x')</script>\"; domain = \"care\";\n"
    "   unit = \"个\"; kind = \"cumulative\"; pace = \"linear\";\n"
    "   targets = ( { year = 2024; annual = 100; } ); },\n"
    /* ok, revised during the week */
    " { id = \"trail\"; name = \"“环浙步道”建设\"; domain = \"care\"; department = \"health\";\n"
    "   unit = \"公里\"; kind = \"cumulative\"; pace = \"linear\";\n"
    "   targets = ( { year = 2024; annual = 30; } ); },\n"
    /* no target, with a figure from last year */
    " { id = \"insured\"; name = \"每千常住人口执业(助理)医师数\"; domain = \"aged\"; unit = "
    "\"人\";\n"
    "   kind = \"level\"; targets = ( ); },\n"
    /* ok but stale */
    " { id = \"carers\"; name = \"每万老年人口拥有持证养老护理员数\"; domain = \"aged\";\n"
    "   unit = \"人\"; kind = \"level\"; pace = \"linear\"; stale_after = \"30d\";\n"
    "   targets = ( { year = 2024; baseline = 20; annual = 30; } ); },\n"
    /* ok, a figure in 万 */
    " { id = \"meals\"; name = \"助餐配送餐服务人次\"; domain = \"aged\"; unit = \"人次\";\n"
    "   kind = \"cumulative\"; pace = \"linear\";\n"
    "   targets = ( { year = 2024; annual = 1701000; } ); } );\n";

enum { PLACES, USAGE, PLAN, CHECKUPS, UNEMP, FIELDS, TRAIL, INSURED, CARERS, MEALS, N_IND };
static const char *ids[N_IND] = {"places", "usage", "plan",    "checkups", "unemp",
                                 "fields", "trail", "insured", "carers",   "meals"};

/* ---- helpers ---- */

static int64_t day_end(int y, int m, int d) {
  return pw_calendar_day_end(y, m, d);
}

static void add(struct pw_journal *j, int ind, int64_t as_of, double value, int64_t fetched) {
  assert_int_equal(pw_journal_add(j, ind, as_of, value, fetched, "import"), 0);
}

/* Not inlined: GCC 12 otherwise takes the returned buffer for a pointer to the local that
 * received it and warns (-Wdangling-pointer) wherever the text is searched. */
static __attribute__((noinline)) char *slurp(const char *path) {
  char *data = NULL;
  size_t len;

  if (pw_read_file(path, 0, &data, &len) != 0)
    fail_msg("cannot read %s", path);
  return data;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  size_t len = strlen(needle);

  for (hay = strstr(hay, needle); hay != NULL; hay = strstr(hay + len, needle))
    n++;
  return n;
}

/* Offset of NEEDLE in HAY, failing the test when it is absent. */
static long pos(const char *hay, const char *needle) {
  const char *p = strstr(hay, needle);

  if (p == NULL)
    fail_msg("not found: %s", needle);
  return (long)(p - hay);
}

/* The text between the first FROM and the following TO (an owned copy). */
static char *between(const char *hay, const char *from, const char *to) {
  const char *a = strstr(hay, from), *b;
  char *out;

  if (a == NULL)
    fail_msg("not found: %s", from);
  b = strstr(a, to);
  if (b == NULL)
    fail_msg("not found after %s: %s", from, to);
  out = strndup(a, (size_t)(b - a));
  assert_non_null(out);
  return out;
}

static void rm_rf(const char *path) {
  char cmd[600];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  assert_int_equal(system(cmd), 0);
}

static int write_briefing(const char *out, int graphs, const struct pw_store *store,
                          struct pw_briefing_result *res, char *err, size_t errlen) {
  struct pw_briefing_request req;

  memset(&req, 0, sizeof(req));
  req.conf = conf;
  req.journal = journal;
  req.store = store;
  req.at = at;
  req.out_dir = out;
  req.graphs = graphs;
  return pw_briefing_write(&req, res, err, errlen);
}

/* ---- fixture ---- */

static int setup(void **state) {
  struct pw_journal *w = NULL;
  char err[1024];
  FILE *f;
  int64_t apr1, apr28;

  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(conf_path, sizeof(conf_path), "%s/pw.conf", dir);
  f = fopen(conf_path, "w");
  if (f == NULL)
    return -1;
  fputs(conf_text, f);
  fclose(f);
  if (pw_config_load(conf_path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  at = day_end(2024, 4, 30);
  apr1 = day_end(2024, 3, 31);
  apr28 = pw_calendar_local(2024, 4, 28, 10, 0, 0);
  if (pw_journal_open(conf, 1, &w, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  /* Q1 figures, reported the day after the quarter. */
  add(w, PLACES, apr1, 300, apr1 + 3600);
  add(w, USAGE, apr1, 67.23, apr1 + 3600);
  add(w, PLAN, day_end(2024, 4, 10), 1, day_end(2024, 4, 10));
  /* 30000 on March 31 was on pace last week; 31000 on April 25 is behind it now. */
  add(w, CHECKUPS, apr1, 30000, apr1 + 3600);
  add(w, CHECKUPS, day_end(2024, 4, 25), 31000, day_end(2024, 4, 26));
  add(w, FIELDS, day_end(2024, 4, 20), 5, day_end(2024, 4, 20));
  /* 8 km reported for March 31, revised to 10 km during this week. */
  add(w, TRAIL, apr1, 8, apr1 + 3600);
  add(w, INSURED, day_end(2023, 12, 31), 3.56, day_end(2023, 12, 31));
  add(w, CARERS, day_end(2024, 3, 15), 25, day_end(2024, 3, 15));
  add(w, MEALS, apr1, 510300, apr1 + 3600);
  add(w, TRAIL, apr1, 10, apr28);
  /* The department explains the lagging checkups (docs/briefing.md: 存在问题 carries it). */
  if (pw_journal_explain(w, CHECKUPS, PW_JOURNAL_AS_OF_LATEST, apr28, "report:health",
                         "体检车辆检修。", "增派流动体检队", "2024-05-31", err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  if (pw_journal_commit(w) != 0)
    return -1;
  pw_journal_close(w);
  /* Read back from disk, as `pacewatch briefing` does. */
  if (pw_journal_open(conf, 0, &journal, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pw_journal_close(journal);
  pw_config_free(conf);
  /* PW_BRIEFING_KEEP=1 keeps the briefings for a look (e.g. in a browser). */
  if (getenv("PW_BRIEFING_KEEP") != NULL)
    fprintf(stderr, "briefings kept in %s\n", dir);
  else
    rm_rf(dir);
  return 0;
}

/* ---- tests ---- */

static void test_week_names(void **state) {
  char buf[16];

  (void)state;
  assert_string_equal(pw_briefing_week_name(day_end(2024, 4, 30), buf, sizeof(buf)), "2024-W18");
  /* The first instant of a Monday still belongs to the Sunday before it. */
  assert_string_equal(pw_briefing_week_name(day_end(2024, 4, 28), buf, sizeof(buf)), "2024-W17");
  assert_string_equal(pw_briefing_week_name(day_end(2024, 4, 28) + 1, buf, sizeof(buf)),
                      "2024-W18");
  assert_string_equal(pw_briefing_week_name(day_end(2024, 12, 30), buf, sizeof(buf)), "2025-W01");
  assert_string_equal(pw_briefing_week_name(day_end(2021, 1, 3), buf, sizeof(buf)), "2020-W53");
  assert_string_equal(pw_briefing_week_name(day_end(2024, 1, 7), buf, sizeof(buf)), "2024-W01");
  assert_string_equal(pw_briefing_week_name(day_end(2024, 12, 29), buf, sizeof(buf)), "2024-W52");
}

/* The fixture covers what it claims: every status, stale, and the week's change. */
static void test_fixture_covers_every_status(void **state) {
  static const enum pw_status want[N_IND] = {
      PW_STATUS_OK,     PW_STATUS_OK, PW_STATUS_OK,        PW_STATUS_LAGGING, PW_STATUS_NO_DATA,
      PW_STATUS_SEVERE, PW_STATUS_OK, PW_STATUS_NO_TARGET, PW_STATUS_OK,      PW_STATUS_OK};
  struct pw_verdict v, before;
  int i;

  (void)state;
  for (i = 0; i < N_IND; i++) {
    pw_status_judge(conf, journal->series, i, at, &v);
    if (v.status != want[i])
      fail_msg("%s: %s, want %s", ids[i], pw_status_name(v.status), pw_status_name(want[i]));
    assert_int_equal(v.stale, i == UNEMP || i == INSURED || i == CARERS);
  }
  pw_status_judge(conf, journal->series, CHECKUPS, at - 7 * 86400, &before);
  assert_int_equal(before.status, PW_STATUS_OK);
}

static void test_html(void **state) {
  struct pw_briefing_result res;
  char out[400], err[1024], path[600], want[400];
  int i;
  long last;
  char *html, *part;

  (void)state;
  snprintf(out, sizeof(out), "%s/out-text", dir);
  assert_int_equal(write_briefing(out, 0, NULL, &res, err, sizeof(err)), 0);
  assert_string_equal(res.name, "2024-W18");
  snprintf(path, sizeof(path), "%s/2024-W18.html", out);
  assert_string_equal(res.html_path, path);
  assert_int_equal(access(path, R_OK), 0);
  snprintf(path, sizeof(path), "%s/2024-W18.md", out);
  assert_string_equal(res.md_path, path);
  assert_int_equal(access(path, R_OK), 0);
  /* Without graphs, no PNG is written. */
  snprintf(path, sizeof(path), "%s/2024-W18-places.png", out);
  assert_int_not_equal(access(path, F_OK), 0);

  html = slurp(res.html_path);
  assert_non_null(strstr(html, "<html lang=\"zh-CN\">"));
  assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
  assert_non_null(strstr(html, "@page{size:A4;"));
  assert_non_null(strstr(html, "break-before:page"));
  assert_null(strstr(html, "http://"));
  assert_null(strstr(html, "https://"));
  assert_null(strstr(html, "<img"));
  /* Title, issuer, date and the period in words; the ISO week only for machines. */
  assert_non_null(strstr(html, "<h1>测试县公共服务“七优享”工程推进情况</h1>"));
  assert_non_null(strstr(html, "县府办　2024年4月30日"));
  assert_non_null(strstr(html, "2024年4月22日—28日"));
  assert_int_equal(count(html, "2024-W18"), 1);
  assert_non_null(strstr(html, "data-week=\"2024-W18\""));
  /* Counts for machines, equal to the verdicts. */
  assert_non_null(strstr(html, "data-ok=\"6\" data-lagging=\"1\" data-severe=\"1\" "
                               "data-no-data=\"1\" data-no-target=\"1\" data-stale=\"3\""));
  /* No emoji in print. */
  assert_null(strstr(html, "\xf0\x9f"));

  /* Parts in order, areas in configuration order. */
  last = 0;
  {
    static const char *order[] = {"id=\"summary\"",     "id=\"areas\"",       "id=\"domain-kids\"",
                                  "id=\"domain-care\"", "id=\"domain-aged\"", "id=\"problems\"",
                                  "id=\"actions\"",     "id=\"table\"",       "id=\"changes\""};
    size_t k;
    for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
      assert_true(pos(html, order[k]) > last);
      last = pos(html, order[k]);
    }
  }
  assert_int_equal(count(html, "<section class=\"domain\""), 3);
  assert_int_equal(count(html, "class=\"indicator\""), N_IND + 3); /* + 3 changes */
  for (i = 0; i < N_IND; i++) {
    struct pw_verdict v;
    pw_status_judge(conf, journal->series, i, at, &v);
    snprintf(want, sizeof(want), "data-id=\"%s\" data-status=\"%s\"", ids[i],
             pw_status_name(v.status));
    assert_non_null(strstr(html, want));
  }
  assert_non_null(strstr(html, "<h2>一、总体情况</h2>"));
  assert_non_null(strstr(html, "<h3>（一）幼有善育方面</h3>"));
  assert_non_null(strstr(html,
                         "本周共监测10个重点指标，其中6个达到序时进度或目标要求，1个滞后于"
                         "序时进度，1个严重滞后，1个尚无本期数据，1个未设目标或任务尚未下达。"));
  /* The report's sentences. */
  assert_non_null(strstr(html, "<b>1.每千人口拥有3岁以下婴幼儿托位数。</b>截至3月底，累计300个，"
                               "完成第一季度目标（250个）的120%。"));
  assert_non_null(strstr(html, "截至3月底，达67.23%，达到标准（60%）。"));
  assert_non_null(strstr(html, "截至4月10日，已完成省级评估整改；计划12月底前通过国家认定。"));
  assert_non_null(strstr(html, "调查失业率。</b>一季度省人社厅尚未对外公布。"));
  assert_null(strstr(html, "121天"));
  assert_non_null(strstr(html, "截至2023年底为3.56人，未设目标。"));
  assert_non_null(strstr(html,
                         "截至4月25日，累计31000人，完成年度目标（19万人）的16.3%，低于序时进度"
                         "（24.6%）8.3个百分点，需在6月底前再完成约64000人方可达到二季度目标。"));
  assert_non_null(strstr(html, "高于序时目标值（22.05人），数据已46天未更新。"));
  assert_non_null(strstr(html, "累计51.03万人次"));
  part = between(html, "id=\"domain-kids\"", "id=\"domain-care\"");
  assert_non_null(strstr(part, "以上指标均达季度目标要求。"));
  free(part);
  part = between(html, "id=\"domain-care\"", "id=\"domain-aged\"");
  assert_non_null(strstr(part,
                         "除城乡居民同质同标免费健康体检人数、调查失业率、体育场地&lt;script&gt;"
                         "alert(&#39;x&#39;)&lt;/script&gt;外，其余指标均达季度目标要求。"));
  free(part);
  /* Hostile text stays text. */
  assert_null(strstr(html, "<script"));
  /* 三、存在问题: lagging with gap and department, the data gap with its owner. */
  part = between(html, "id=\"problems\"", "id=\"actions\"");
  assert_non_null(strstr(part, "一是部分指标进度滞后。"));
  assert_non_null(strstr(part, "城乡居民同质同标免费健康体检人数完成年度目标的16.3%，低于序时进度"
                               "8.3个百分点（责任单位：县卫健局）"));
  /* Its explanation closes its item with a sentence; the next item follows it, no "；". */
  assert_non_null(strstr(part, "（责任单位：县卫健局）。县卫健局说明：体检车辆检修；措施：增派流动"
                               "体检队；预计5月底前追平。体育场地&lt;script&gt;"));
  assert_null(strstr(part, "。。"));
  assert_null(strstr(part, "。；"));
  assert_non_null(strstr(part, "二是部分数据尚未公布。</b>调查失业率数据待省人社厅公布。"));
  free(part);
  /* 四、下步举措 without an actions file: the marked slot. */
  part = between(html, "id=\"actions\"", "id=\"table\"");
  assert_non_null(strstr(part, "<p class=\"slot\">（由专班办公室补充）</p>"));
  free(part);
  /* The appendix: every indicator in the table; only what changed since last week. */
  part = between(html, "id=\"table\"", "id=\"changes\"");
  assert_int_equal(count(part, "<tr data-row="), N_IND);
  free(part);
  part = strstr(html, "id=\"changes\"");
  assert_non_null(
      strstr(part, "城乡居民同质同标免费健康体检人数：正常转为滞后，由30000人变为31000人。"));
  assert_non_null(strstr(part, "“环浙步道”建设：3月底的数据由8公里修订为10公里。"));
  assert_null(strstr(part, "助餐配送餐服务人次"));
  free(html);
}

/* 四、下步举措 takes the week's actions file from state_dir/briefings/, one paragraph a line. */
static void test_actions_file(void **state) {
  struct pw_briefing_result res;
  char out[400], err[1024], path[600];
  char *html, *md;
  FILE *f;

  (void)state;
  snprintf(path, sizeof(path), "%s/state/briefings", dir);
  assert_int_equal(pw_mkdir_p(path), 0);
  snprintf(path, sizeof(path), "%s/state/briefings/2024-W18.actions.md", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("一是统筹协调，全面推进“七优享”创先争优。\n\n- 二是强化督导，<b>提升</b>民生实事质效。\n",
        f);
  fclose(f);
  snprintf(out, sizeof(out), "%s/out-actions", dir);
  assert_int_equal(write_briefing(out, 0, NULL, &res, err, sizeof(err)), 0);
  unlink(path);
  html = slurp(res.html_path);
  md = slurp(res.md_path);
  assert_non_null(strstr(html, "<p>一是统筹协调，全面推进“七优享”创先争优。</p>"));
  assert_non_null(strstr(html, "<p>二是强化督导，&lt;b&gt;提升&lt;/b&gt;民生实事质效。</p>"));
  assert_null(strstr(html, "由专班办公室补充"));
  assert_non_null(
      strstr(md, "## 四、下步举措\n\n一是统筹协调，全面推进“七优享”创先争优。\n\n二是"));
  free(html);
  free(md);
}

static void test_markdown(void **state) {
  struct pw_briefing_result res;
  char out[400], err[1024];
  char *md, *part;

  (void)state;
  snprintf(out, sizeof(out), "%s/out-md", dir);
  assert_int_equal(write_briefing(out, 0, NULL, &res, err, sizeof(err)), 0);
  md = slurp(res.md_path);
  {
    const char *title =
        "# 测试县公共服务“七优享”工程推进情况\n\n县府办　2024年4月30日（2024年4月22日—28日）\n";
    assert_int_equal(strncmp(md, title, strlen(title)), 0);
  }
  assert_null(strstr(md, "W18"));
  assert_null(strstr(md, "\xf0\x9f"));
  assert_true(pos(md, "## 一、总体情况") < pos(md, "## 二、分领域情况"));
  assert_true(pos(md, "## 二、分领域情况") <
              pos(md, "### （一）幼有善育方面\n\n涉及3个重点指标。"));
  assert_true(pos(md, "### （一）幼有善育方面") < pos(md, "### （二）病有良医方面"));
  assert_true(pos(md, "### （二）病有良医方面") < pos(md, "### （三）老有康养方面"));
  assert_true(pos(md, "### （三）老有康养方面") < pos(md, "## 三、存在问题"));
  assert_true(pos(md, "## 三、存在问题") < pos(md, "## 四、下步举措"));
  assert_true(pos(md, "## 四、下步举措") < pos(md, "## 附件1 指标完成情况一览表"));
  assert_true(pos(md, "## 附件1") < pos(md, "## 附件2 与上周相比"));
  assert_int_equal(count(md, "\n### "), 3);
  assert_non_null(strstr(md, "**1.每千人口拥有3岁以下婴幼儿托位数。**截至3月底，累计300个"));
  assert_non_null(strstr(md,
                         "| 1 | 幼有善育 | 每千人口拥有3岁以下婴幼儿托位数 | 县卫健局 | 300个 | "
                         "1000个 | 30% | 正常 |  |"));
  assert_non_null(strstr(md, "| 8 | 老有康养 | 每千常住人口执业(助理)医师数 |  | 3.56人 | — | — | "
                             "未设目标（数据陈旧） |  |"));
  part = between(md, "### （一）幼有善育方面", "### （二）");
  assert_non_null(strstr(part, "以上指标均达季度目标要求。"));
  free(part);
  /* Markdown markup in a name is escaped, and no images without graphs. */
  assert_non_null(strstr(md, "体育场地\\<script\\>alert('x')\\</script\\>"));
  assert_int_equal(count(md, "<script"), count(md, "\\<script"));
  assert_null(strstr(md, "!["));
  assert_non_null(strstr(md, "## 四、下步举措\n\n（由专班办公室补充）\n"));
  free(md);
}

/* Rendering works when graph.c renders: returns 0 if a probe graph can be made. */
static int graphs_work(const struct pw_store *store) {
  struct pw_graph_request g;
  struct pw_graph_image img;
  struct pw_verdict v;
  char err[512], tmp[400];

  snprintf(tmp, sizeof(tmp), "%s/state/graphs", dir);
  pw_mkdir_p(tmp);
  pw_status_judge(conf, journal->series, PLACES, at, &v);
  memset(&g, 0, sizeof(g));
  memset(&img, 0, sizeof(img));
  g.conf = conf;
  g.ind = PLACES;
  g.store = store;
  g.verdict = &v;
  g.at = at;
  g.format = PW_GRAPH_PNG;
  g.tmp_dir = tmp;
  if (pw_graph_render(&g, &img, err, sizeof(err)) < 0) {
    fprintf(stderr, "graphs do not render yet (%s): skipped\n", err);
    return 0;
  }
  free(img.data);
  return 1;
}

static void test_graphs(void **state) {
  struct pw_briefing_result res;
  struct pw_store store;
  char out[400], err[1024], path[600], want[200];
  char *html, *md, *png;
  size_t len;
  int i;

  (void)state;
  assert_int_equal(pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)), 0);
  if (!graphs_work(&store)) {
    pw_store_free(&store);
    skip();
  }
  snprintf(out, sizeof(out), "%s/out-graphs", dir);
  assert_int_equal(write_briefing(out, 1, &store, &res, err, sizeof(err)), 0);
  html = slurp(res.html_path);
  md = slurp(res.md_path);
  /* Every graph in the appendix; in the body only those needing attention (lagging, severe). */
  assert_int_equal(count(html, "src=\"data:image/png;base64,iVBORw0KGgo"), N_IND + 2);
  png = between(html, "id=\"areas\"", "id=\"problems\"");
  assert_int_equal(count(png, "<img"), 2);
  free(png);
  assert_null(strstr(html, "图表生成失败"));
  for (i = 0; i < N_IND; i++) {
    const char *block;
    snprintf(path, sizeof(path), "%s/2024-W18-%s.png", out, ids[i]);
    if (pw_read_file(path, 0, &png, &len) != 0)
      fail_msg("no graph %s", path);
    assert_true(len > 8);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    /* Each image inside its own figure, with its caption. */
    snprintf(want, sizeof(want), "<figure data-id=\"%s\">", ids[i]);
    block = strstr(strstr(html, "id=\"graphs\""), want);
    assert_non_null(block);
    assert_true(strstr(block, "data:image/png;base64,") < strstr(block, "</figure>"));
    snprintf(want, sizeof(want), "](2024-W18-%s.png)", ids[i]);
    assert_int_equal(count(md, want), i == CHECKUPS || i == FIELDS ? 2 : 1);
  }
  free(html);
  free(md);
  pw_store_free(&store);
}

/* A graph that cannot be written leaves a note where it would be; the briefing is written. */
static void test_graph_failure(void **state) {
  struct pw_briefing_result res;
  struct pw_store store;
  char out[400], err[1024], path[600];
  char *html, *md, *block;

  (void)state;
  assert_int_equal(pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)), 0);
  if (!graphs_work(&store)) {
    pw_store_free(&store);
    skip();
  }
  snprintf(out, sizeof(out), "%s/out-broken", dir);
  /* A directory where the PNG should go: writing it fails. */
  snprintf(path, sizeof(path), "%s/2024-W18-meals.png", out);
  assert_int_equal(pw_mkdir_p(path), 0);
  assert_int_equal(write_briefing(out, 1, &store, &res, err, sizeof(err)), 0);
  html = slurp(res.html_path);
  md = slurp(res.md_path);
  assert_int_equal(count(html, "图表生成失败"), 1);
  assert_int_equal(count(html, "data:image/png;base64,"), N_IND - 1 + 2);
  block = strstr(html, "<figure data-id=\"meals\">");
  assert_non_null(block);
  assert_true(strstr(block, "图表生成失败") < strstr(block, "</figure>"));
  assert_int_equal(count(md, "图表生成失败"), 1);
  assert_null(strstr(md, "2024-W18-meals.png"));
  free(html);
  free(md);
  pw_store_free(&store);
}

/* A file that cannot be written fails the briefing with an error naming it. */
static void test_write_error_names_file(void **state) {
  struct pw_briefing_result res;
  char out[400], err[1024] = "", path[600];

  (void)state;
  snprintf(out, sizeof(out), "%s/out-error", dir);
  snprintf(path, sizeof(path), "%s/2024-W18.md", out);
  assert_int_equal(pw_mkdir_p(path), 0);
  assert_true(write_briefing(out, 0, NULL, &res, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, path));
  /* An output directory that cannot be made is named too. */
  snprintf(path, sizeof(path), "%s/pw.conf/sub", dir);
  err[0] = '\0';
  assert_true(write_briefing(path, 0, NULL, &res, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, path));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_week_names),    cmocka_unit_test(test_fixture_covers_every_status),
      cmocka_unit_test(test_html),          cmocka_unit_test(test_markdown),
      cmocka_unit_test(test_actions_file),  cmocka_unit_test(test_graphs),
      cmocka_unit_test(test_graph_failure), cmocka_unit_test(test_write_error_names_file),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
