/*
 * Unit tests of briefing: ISO week names (week-years at both ends of the year), and a briefing
 * written from a real journal for a configuration of three areas whose indicators cover every
 * kind and status (ok, lagging, severe, no data, no target, stale, a milestone, with and
 * without a department), a revision journaled during the week and figures from the previous
 * week. The HTML and the Markdown are read back and checked for their structure: areas in
 * configuration order, each indicator once with the status judge gives, summary counts equal
 * to independently computed verdicts, the lagging list by department, data gaps, revisions,
 * changes since the previous week, the report's own sentences, and escaping of a hostile name.
 * With graphs: a PNG per indicator beside the Markdown and a data URI for each in the HTML,
 * and a graph that cannot be written leaves a note instead of failing the briefing.
 * Setting PW_BRIEFING_KEEP=1 keeps the output directory for a look.
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
    "briefing: { title = \"测试县公共服务“七优享”工程周报\"; };\n"
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
    "   direction = \"down\"; targets = ( { year = 2024; standard = 5.5; } ); },\n"
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
  int counts[5] = {0}, stale = 0, i;
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
  assert_non_null(strstr(html, "@page{size:A4;margin:15mm}"));
  assert_non_null(strstr(html, "break-inside:avoid"));
  assert_non_null(strstr(html, "\"Noto Sans CJK SC\",sans-serif"));
  assert_null(strstr(html, "http://"));
  assert_null(strstr(html, "https://"));
  assert_null(strstr(html, "<img"));
  assert_non_null(strstr(html, "测试县公共服务“七优享”工程周报（2024-W18）"));
  assert_non_null(strstr(html, "数据截至2024年4月30日"));

  /* Areas in configuration order. */
  assert_int_equal(count(html, "<section class=\"domain\""), 3);
  assert_true(pos(html, "id=\"domain-kids\"") < pos(html, "id=\"domain-care\""));
  assert_true(pos(html, "id=\"domain-care\"") < pos(html, "id=\"domain-aged\""));

  /* Every indicator once, with the status judge gives, inside its own area; summary counts
   * equal to the verdicts. */
  for (i = 0; i < N_IND; i++) {
    struct pw_verdict v;
    const char *p;
    char sect[64];
    pw_status_judge(conf, journal->series, i, at, &v);
    counts[v.status]++;
    stale += v.stale;
    snprintf(want, sizeof(want), "class=\"indicator\" data-id=\"%s\" ", ids[i]);
    assert_int_equal(count(html, want), 1);
    snprintf(want, sizeof(want), "class=\"indicator\" data-id=\"%s\" data-status=\"%s\"", ids[i],
             pw_status_name(v.status));
    if (strstr(html, want) == NULL)
      fail_msg("%s: not %s", ids[i], pw_status_name(v.status));
    snprintf(sect, sizeof(sect), "id=\"domain-%s\"", conf->domains[conf->indicators[i].domain].id);
    p = strstr(html + pos(html, sect), "</section>");
    assert_non_null(p);
    assert_true(pos(html, want) > pos(html, sect) && pos(html, want) < p - html);
  }
  assert_int_equal(count(html, "class=\"indicator\""), N_IND);
  for (i = 0; i < 5; i++) {
    snprintf(want, sizeof(want), "<span class=\"count\" data-status=\"%s\">%d</span>",
             pw_status_name((enum pw_status)i), counts[i]);
    if (strstr(html, want) == NULL)
      fail_msg("summary: want %s", want);
  }
  snprintf(want, sizeof(want), "<span class=\"count\" data-status=\"stale\">%d</span>", stale);
  assert_non_null(strstr(html, want));
  assert_int_equal(stale, 3);

  /* The report's sentences, written from the data. */
  assert_non_null(strstr(html, "（一）幼有善育方面。涉及3个重点指标。"));
  assert_non_null(strstr(html, "（二）病有良医方面。涉及4个重点指标。"));
  assert_non_null(strstr(html, "（三）老有康养方面。涉及3个重点指标。"));
  assert_non_null(strstr(html, "1.每千人口拥有3岁以下婴幼儿托位数。截至3月31日，达300个，完成年度"
                               "目标30.0%（序时进度25.0%），正常。"));
  assert_non_null(strstr(html, "2.托位使用率。截至3月31日，达67.23%，标准60%，达标。"));
  assert_non_null(strstr(html, "当前阶段：完成省级评估整改（计划阶段：完成省级评估整改）"));
  assert_non_null(strstr(html, "调查失业率。数据未公布（数据超过121天未更新）。"));
  assert_non_null(strstr(html, "截至2023年12月31日为3.56人，任务未下达（数据超过121天未更新）。"));
  assert_non_null(strstr(html, "截至4月25日，达31000人"));
  assert_non_null(strstr(html, "（数据超过46天未更新）"));
  assert_non_null(strstr(html, "达51.03万人次"));
  part = between(html, "id=\"domain-kids\"", "</section>");
  assert_non_null(strstr(part, "以上指标均达季度目标要求。"));
  free(part);
  part = between(html, "id=\"domain-care\"", "</section>");
  assert_null(strstr(part, "以上指标均达季度目标要求"));
  assert_non_null(strstr(part, "其中，城乡居民同质同标免费健康体检人数、体育场地&lt;script&gt;"
                               "alert(&#39;x&#39;)&lt;/script&gt;滞后于序时进度；调查失业率数据未"
                               "公布。"));
  free(part);
  part = between(html, "id=\"domain-aged\"", "</section>");
  assert_non_null(strstr(part, "其中，每千常住人口执业(助理)医师数任务未下达。"));
  free(part);

  /* A name is text, never markup. */
  assert_null(strstr(html, "<script"));
  assert_non_null(strstr(html, "体育场地&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));

  /* Lagging and severe indicators under their department, those without one last. */
  part = between(html, "<ul id=\"lagging\">", "<h2>");
  assert_int_equal(count(part, "data-id="), 2);
  assert_true(pos(part, "县卫健局") < pos(part, "data-id=\"checkups\""));
  assert_true(pos(part, "data-id=\"checkups\"") < pos(part, "未指定部门"));
  assert_true(pos(part, "未指定部门") < pos(part, "data-id=\"fields\""));
  assert_null(strstr(part, "data-id=\"trail\""));
  free(part);

  /* Data gaps: no data, no target, stale. */
  part = between(html, "<ul id=\"gaps\">", "<h2>");
  assert_int_equal(count(part, "data-id="), 3);
  assert_true(pos(part, "data-id=\"unemp\"") < pos(part, "data-id=\"insured\""));
  assert_non_null(strstr(part, "调查失业率：数据未公布；数据超过121天未更新"));
  assert_non_null(strstr(part, "每千常住人口执业(助理)医师数：任务未下达；数据超过121天未更新"));
  assert_non_null(strstr(part, "每万老年人口拥有持证养老护理员数：数据超过46天未更新"));
  free(part);

  /* The revision of this week, with the value it replaced. */
  part = between(html, "<ul id=\"revisions\">", "<h2>");
  assert_int_equal(count(part, "<li"), 1);
  assert_non_null(strstr(part, "data-id=\"trail\""));
  assert_non_null(strstr(part, "“环浙步道”建设：2024年3月31日的数据由8公里修订为10公里"));
  free(part);

  /* Changes since the previous week. */
  part = between(html, "<table id=\"changes\">", "</table>");
  assert_int_equal(count(part, "<tr data-id="), N_IND);
  last = pos(part, "data-id=\"checkups\"");
  assert_non_null(strstr(part + last, "状态正常 → 滞后；数值30000人 → 31000人"));
  assert_non_null(strstr(part + pos(part, "data-id=\"trail\""), "数值8公里 → 10公里"));
  assert_non_null(strstr(part + pos(part, "data-id=\"meals\""), "无变化"));
  assert_int_equal(count(part, "data-changed=\"1\""), 2);
  free(part);

  /* Sections in order. */
  last = 0;
  {
    static const char *order[] = {"id=\"summary\"", "id=\"overview\"", "id=\"domain-kids\"",
                                  "id=\"lagging\"", "id=\"gaps\"",     "id=\"revisions\"",
                                  "id=\"changes\""};
    size_t k;
    for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
      assert_true(pos(html, order[k]) > last);
      last = pos(html, order[k]);
    }
  }
  free(html);
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
    const char *title = "# 测试县公共服务“七优享”工程周报（2024-W18）\n";
    assert_int_equal(strncmp(md, title, strlen(title)), 0);
  }
  assert_non_null(strstr(md, "数据截至2024年4月30日"));
  assert_true(pos(md, "## 一、总体情况") < pos(md, "## 二、分领域进度"));
  assert_true(pos(md, "## 二、分领域进度") < pos(md, "### （一）幼有善育方面。涉及3个重点指标。"));
  assert_true(pos(md, "### （一）幼有善育方面") < pos(md, "### （二）病有良医方面"));
  assert_true(pos(md, "### （二）病有良医方面") < pos(md, "### （三）老有康养方面"));
  assert_true(pos(md, "### （三）老有康养方面") < pos(md, "## 四、滞后指标"));
  assert_true(pos(md, "## 四、滞后指标") < pos(md, "## 五、数据缺口"));
  assert_true(pos(md, "## 五、数据缺口") < pos(md, "## 六、本周数据修订"));
  assert_true(pos(md, "## 六、本周数据修订") < pos(md, "## 七、与上周相比"));
  assert_int_equal(count(md, "\n### "), 3);
  /* Counts in the summary, and one table row per indicator. */
  assert_non_null(strstr(md, "正常 **6** 个"));
  assert_non_null(strstr(md, "滞后 **1** 个"));
  assert_non_null(strstr(md, "严重滞后 **1** 个"));
  assert_non_null(strstr(md, "数据陈旧 **3** 个"));
  assert_non_null(strstr(
      md, "| 1 | 每千人口拥有3岁以下婴幼儿托位数 | 🟢 正常 | 300个 | 30.0% | "
          "25.0% |"));
  part = between(md, "### （一）幼有善育方面", "### （二）");
  assert_non_null(strstr(part, "以上指标均达季度目标要求。"));
  free(part);
  assert_non_null(strstr(md, "调查失业率。数据未公布（数据超过121天未更新）。"));
  /* Markdown markup in a name is escaped, and no images without graphs. */
  assert_non_null(strstr(md, "体育场地\\<script\\>alert('x')\\</script\\>"));
  assert_int_equal(count(md, "<script"), count(md, "\\<script"));
  assert_null(strstr(md, "!["));
  part = between(md, "## 四、滞后指标", "## 五、");
  assert_true(pos(part, "县卫健局") < pos(part, "城乡居民同质同标免费健康体检人数"));
  assert_true(pos(part, "未指定部门") < pos(part, "体育场地"));
  free(part);
  part = between(md, "## 六、本周数据修订", "## 七、");
  assert_non_null(strstr(part, "2024年3月31日的数据由8公里修订为10公里"));
  free(part);
  assert_non_null(strstr(md, "状态正常 → 滞后；数值30000人 → 31000人"));
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
  assert_int_equal(count(html, "src=\"data:image/png;base64,iVBORw0KGgo"), N_IND);
  assert_null(strstr(html, "图表生成失败"));
  for (i = 0; i < N_IND; i++) {
    const char *block;
    snprintf(path, sizeof(path), "%s/2024-W18-%s.png", out, ids[i]);
    if (pw_read_file(path, 0, &png, &len) != 0)
      fail_msg("no graph %s", path);
    assert_true(len > 8);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    /* Each image inside its own indicator's block. */
    snprintf(want, sizeof(want), "data-id=\"%s\" ", ids[i]);
    block = strstr(html, want);
    assert_non_null(block);
    assert_true(strstr(block, "data:image/png;base64,") < strstr(block, "</div>"));
    snprintf(want, sizeof(want), "![](2024-W18-%s.png)", ids[i]);
    assert_int_equal(count(md, want), 1);
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
  assert_int_equal(count(html, "data:image/png;base64,"), N_IND - 1);
  block = strstr(html, "data-id=\"meals\" ");
  assert_non_null(block);
  assert_true(strstr(block, "图表生成失败") < strstr(block, "</div>"));
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
      cmocka_unit_test(test_week_names),
      cmocka_unit_test(test_fixture_covers_every_status),
      cmocka_unit_test(test_html),
      cmocka_unit_test(test_markdown),
      cmocka_unit_test(test_graphs),
      cmocka_unit_test(test_graph_failure),
      cmocka_unit_test(test_write_error_names_file),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
