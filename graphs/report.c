/*
 * report: builds the briefing's document model (report.h) once from the configuration, the
 * journal and the verdicts at AT and AT - 7 days, in the shape of the county's own report
 * (docs/briefing.md "Contents"): 一、总体情况, 二、分领域情况 area by area, 三、存在问题,
 * 四、下步举措, then the appendix. Every verdict comes from pw_status_judge, so the briefing says
 * what `pacewatch status` says. The model owns its memory in one arena freed at once.
 */
#define PW_LOG_MODULE "briefing"
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"
#include "value.h"

#define WEEK (7 * 86400)
#define ACTIONS_LIMIT (256u << 10)

struct chunk {
  struct chunk *next;
  max_align_t data[];
};

struct pw_report_arena {
  struct chunk *chunks;
  int rc;
};

struct bld {
  struct pw_report *r;
  const struct pw_report_request *req;
  const struct pw_config *conf;
  struct pw_verdict *now, *before;
  const struct pw_sample **latest;
  int cap_sections, cap_blocks, cap_runs;
  int figure_no;
};

/* ---- arena ---- */

static void *a_alloc(struct pw_report *r, size_t n) {
  struct chunk *c;

  if (r->arena->rc < 0)
    return NULL;
  c = calloc(1, sizeof(*c) + n + 1);
  if (c == NULL) {
    r->arena->rc = -ENOMEM;
    return NULL;
  }
  c->next = r->arena->chunks;
  r->arena->chunks = c;
  return c->data;
}

static const char *a_str(struct pw_report *r, const char *s) {
  size_t n = strlen(s);
  char *p = a_alloc(r, n + 1);

  if (p == NULL)
    return "";
  memcpy(p, s, n + 1);
  return p;
}

static const char *a_printf(struct pw_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *a_printf(struct pw_report *r, const char *fmt, ...) {
  va_list ap, again;
  char *p;
  int n;

  va_start(ap, fmt);
  va_copy(again, ap);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  p = n >= 0 ? a_alloc(r, (size_t)n + 1) : NULL;
  if (p != NULL)
    vsnprintf(p, (size_t)n + 1, fmt, again);
  va_end(again);
  return p != NULL ? p : "";
}

/* Grows an arena array of N elements of SIZE to at least N + 1 (the old one stays in the
 * arena until the model is freed). */
static void *a_grow(struct pw_report *r, void *old, int n, int *cap, size_t size) {
  void *p;
  int ncap;

  if (n < *cap)
    return old;
  ncap = *cap ? *cap * 2 : 8;
  p = a_alloc(r, (size_t)ncap * size);
  if (p == NULL)
    return NULL;
  if (n > 0)
    memcpy(p, old, (size_t)n * size);
  *cap = ncap;
  return p;
}

/* ---- building blocks ---- */

static void section(struct bld *b, int level, const char *number, const char *heading,
                    const char *id, int appendix) {
  struct pw_report *r = b->r;
  struct pw_report_section *s;
  void *p = a_grow(r, r->sections, r->n_sections, &b->cap_sections, sizeof(*r->sections));

  if (p == NULL)
    return;
  r->sections = p;
  s = &r->sections[r->n_sections++];
  memset(s, 0, sizeof(*s));
  s->level = level;
  s->number = a_str(r, number);
  s->heading = a_str(r, heading);
  s->id = a_str(r, id);
  s->appendix = appendix;
  b->cap_blocks = 0;
}

static struct pw_report_block *block(struct bld *b, enum pw_report_block_kind kind, int ind) {
  struct pw_report *r = b->r;
  struct pw_report_section *s;
  struct pw_report_block *k;
  void *p;

  if (r->n_sections == 0)
    return NULL;
  s = &r->sections[r->n_sections - 1];
  p = a_grow(r, s->blocks, s->n_blocks, &b->cap_blocks, sizeof(*s->blocks));
  if (p == NULL)
    return NULL;
  s->blocks = p;
  k = &s->blocks[s->n_blocks++];
  memset(k, 0, sizeof(*k));
  k->kind = kind;
  k->indicator = ind;
  b->cap_runs = 0;
  return k;
}

static struct pw_report_block *last_block(struct bld *b) {
  struct pw_report_section *s;

  if (b->r->n_sections == 0)
    return NULL;
  s = &b->r->sections[b->r->n_sections - 1];
  return s->n_blocks > 0 ? &s->blocks[s->n_blocks - 1] : NULL;
}

/* Appends a run to the last block. */
static void run(struct bld *b, enum pw_report_run_kind kind, const char *text) {
  struct pw_report_block *k = last_block(b);
  void *p;

  if (k == NULL || text == NULL || text[0] == '\0')
    return;
  p = a_grow(b->r, k->runs, k->n_runs, &b->cap_runs, sizeof(*k->runs));
  if (p == NULL)
    return;
  k->runs = p;
  k->runs[k->n_runs].kind = kind;
  k->runs[k->n_runs].text = a_str(b->r, text);
  k->n_runs++;
}

static void para(struct bld *b, int ind, const char *text) {
  if (block(b, PW_BLOCK_PARAGRAPH, ind) != NULL)
    run(b, PW_RUN_TEXT, text);
}

/* A table of N_COLS columns; rows are added with row(). */
static struct pw_report_table *table(struct bld *b, int n_cols, const char *const *header,
                                     int max_rows) {
  struct pw_report_block *k = block(b, PW_BLOCK_TABLE, -1);
  int c;

  if (k == NULL)
    return NULL;
  k->table.n_cols = n_cols;
  k->table.header = a_alloc(b->r, sizeof(char *) * (size_t)n_cols);
  k->table.cells = a_alloc(b->r, sizeof(char *) * (size_t)(n_cols * (max_rows + 1)));
  k->table.row_indicator = a_alloc(b->r, sizeof(int) * (size_t)(max_rows + 1));
  if (k->table.header == NULL || k->table.cells == NULL || k->table.row_indicator == NULL)
    return NULL;
  for (c = 0; c < n_cols; c++)
    k->table.header[c] = a_str(b->r, header[c]);
  return &k->table;
}

static void row(struct bld *b, struct pw_report_table *t, int ind, const char *const *cells) {
  int c;

  if (t == NULL)
    return;
  for (c = 0; c < t->n_cols; c++)
    t->cells[t->n_rows * t->n_cols + c] = a_str(b->r, cells[c] ? cells[c] : "");
  t->row_indicator[t->n_rows++] = ind;
}

static void image(struct bld *b, int i) {
  const struct pw_indicator *ind = &b->conf->indicators[i];
  struct pw_report_block *k;

  if (b->req->graphs == NULL)
    return;
  k = block(b, PW_BLOCK_IMAGE, i);
  if (k == NULL)
    return;
  k->image.indicator = i;
  k->image.id = a_str(b->r, ind->id);
  k->image.path = b->req->graphs[i] ? a_str(b->r, b->req->graphs[i]) : NULL;
  k->image.caption = a_printf(b->r, "图%d %s", ++b->figure_no, ind->name);
}

/* ---- words shared by several parts ---- */

static const char *numeral(int n) {
  static const char *const d[] = {"",   "一", "二",   "三",   "四",   "五",   "六",   "七",  "八",
                                  "九", "十", "十一", "十二", "十三", "十四", "十五", "十六"};

  return n >= 1 && n <= 16 ? d[n] : "";
}

/* "一是", "二是" ... */
static const char *ordinal(struct bld *b, int n) {
  return a_printf(b->r, "%s是", numeral(n));
}

static int behind(enum pw_status s) {
  return s == PW_STATUS_LAGGING || s == PW_STATUS_SEVERE;
}

static const char *dept_name(const struct pw_config *conf, int i) {
  int d = conf->indicators[i].department;

  return d >= 0 && d < conf->n_departments ? conf->departments[d].name : NULL;
}

static char *shown_figure(const struct bld *b, int i, char *buf, size_t size) {
  const struct pw_indicator *ind = &b->conf->indicators[i];
  const struct pw_verdict *v = &b->now[i];

  if (v->has_value)
    return pw_report_figure(ind, v->value, buf, size);
  if (v->status == PW_STATUS_NO_TARGET && b->latest[i] != NULL)
    return pw_report_figure(ind, b->latest[i]->value, buf, size);
  snprintf(buf, size, "—");
  return buf;
}

/* What changed for indicator I since a week before, in words; "" when nothing did. */
static void change_words(const struct bld *b, int i, char *buf, size_t size) {
  const struct pw_indicator *ind = &b->conf->indicators[i];
  const struct pw_verdict *a = &b->before[i], *n = &b->now[i];
  char va[160], vb[160], day[40];
  size_t len;

  buf[0] = '\0';
  if (a->status != n->status)
    snprintf(buf, size, "%s转为%s", pw_status_label_zh(a->status), pw_status_label_zh(n->status));
  len = strlen(buf);
  if (a->has_value != n->has_value || (a->has_value && a->value != n->value)) {
    if (a->has_value)
      pw_report_figure(ind, a->value, va, sizeof(va));
    else
      snprintf(va, sizeof(va), "无数据");
    if (n->has_value)
      pw_report_figure(ind, n->value, vb, sizeof(vb));
    else
      snprintf(vb, sizeof(vb), "无数据");
    snprintf(buf + len, size - len, "%s由%s变为%s", len ? "，" : "", va, vb);
  } else if (a->has_value && a->as_of != n->as_of) {
    snprintf(buf + len, size - len, "%s数据更新至%s，数值不变", len ? "，" : "",
             pw_report_day(n->as_of, n->year, day, sizeof(day)));
  }
  len = strlen(buf);
  if (a->stale != n->stale)
    snprintf(buf + len, size - len, "%s%s", len ? "，" : "",
             n->stale ? "数据转为陈旧" : "数据已更新");
}

/* Item IT's explanation (indicator I lagging or severe, with a current explanation): its words
 * and whether its catch-up day has passed, for the robots' summary and the webhook's document. */
static void item_explanation(struct bld *b, int i, struct pw_report_item *it) {
  const struct pw_explanation *e =
      b->req->journal != NULL ? pw_status_explanation(&b->req->journal->series[i]) : NULL;
  struct pw_buf text = {0};

  if (e == NULL || (it->status != PW_STATUS_LAGGING && it->status != PW_STATUS_SEVERE))
    return;
  if (pw_report_explanation_at(b->conf, i, e, &b->now[i], b->req->at, &it->catch_up_passed, &text) <
      0)
    b->r->arena->rc = -ENOMEM;
  else
    it->explanation = a_str(b->r, text.data);
  pw_buf_free(&text);
}

/* ---- the parts ---- */

static void items(struct bld *b) {
  const struct pw_config *conf = b->conf;
  struct pw_report *r = b->r;
  int i;

  r->n_items = conf->n_indicators;
  r->items = a_alloc(r, sizeof(*r->items) * (size_t)(conf->n_indicators + 1));
  if (r->items == NULL)
    return;
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    struct pw_report_item *it = &r->items[i];
    struct pw_buf s = {NULL, 0, 0, 0};
    char fig[160], ch[600];
    it->indicator = i;
    it->id = a_str(r, ind->id);
    it->name = a_str(r, ind->name);
    it->department = dept_name(conf, i) ? a_str(r, dept_name(conf, i)) : NULL;
    it->status = b->now[i].status;
    it->stale = b->now[i].stale;
    it->headline = ind->headline;
    it->attention = behind(it->status) || ind->headline;
    change_words(b, i, ch, sizeof(ch));
    it->changed = ch[0] != '\0';
    it->figure = a_str(r, shown_figure(b, i, fig, sizeof(fig)));
    if (pw_report_sentence(conf, i, &b->now[i], b->latest[i], b->req->at, &s) < 0)
      r->arena->rc = -ENOMEM;
    it->sentence = a_str(r, s.data ? s.data : "");
    pw_buf_free(&s);
    if (b->req->graphs != NULL && b->req->graphs[i] != NULL)
      it->image = a_str(r, b->req->graphs[i]);
    item_explanation(b, i, it);
    r->counts[it->status]++;
    r->n_stale += it->stale != 0;
  }
}

/* The headline figure of indicator I in a few words: "“七优享”重大项目完成投资1.98亿元（完成年度
 * 目标的33.3%）". */
static const char *headline_words(struct bld *b, int i) {
  const struct pw_indicator *ind = &b->conf->indicators[i];
  const struct pw_verdict *v = &b->now[i];
  char fig[160], p[32];

  if (!v->has_value)
    return a_printf(b->r, "%s尚无数据", ind->name);
  pw_report_figure(ind, v->value, fig, sizeof(fig));
  if (v->has_pct && ind->kind == PW_KIND_CUMULATIVE)
    return a_printf(b->r, "%s%s，完成年度目标的%s%%", ind->name, fig,
                    pw_report_pct(v->completion_pct, p, sizeof(p)));
  return a_printf(b->r, "%s%s", ind->name, fig);
}

static void summary(struct bld *b) {
  const struct pw_config *conf = b->conf;
  struct pw_report *r = b->r;
  const int *n = r->counts;
  struct pw_buf s = {NULL, 0, 0, 0};
  int i, k = 0, need = n[PW_STATUS_LAGGING] + n[PW_STATUS_SEVERE];

  section(b, 1, "一、", "总体情况", "summary", 0);
  pw_buf_printf(&s, "本周共监测%d个重点指标，其中%d个达到序时进度或目标要求", conf->n_indicators,
                n[PW_STATUS_OK]);
  if (n[PW_STATUS_LAGGING])
    pw_buf_printf(&s, "，%d个滞后于序时进度", n[PW_STATUS_LAGGING]);
  if (n[PW_STATUS_SEVERE])
    pw_buf_printf(&s, "，%d个严重滞后", n[PW_STATUS_SEVERE]);
  if (n[PW_STATUS_NO_DATA])
    pw_buf_printf(&s, "，%d个尚无本期数据", n[PW_STATUS_NO_DATA]);
  if (n[PW_STATUS_NO_TARGET])
    pw_buf_printf(&s, "，%d个未设目标或任务尚未下达", n[PW_STATUS_NO_TARGET]);
  pw_buf_printf(&s, "。");
  para(b, -1, s.data ? s.data : "");
  pw_buf_free(&s);

  for (i = 0; i < conf->n_indicators; i++)
    if (conf->indicators[i].headline) {
      if (k++ == 0) {
        block(b, PW_BLOCK_PARAGRAPH, -1);
        run(b, PW_RUN_TEXT, "主要指标：");
      } else {
        run(b, PW_RUN_TEXT, "；");
      }
      run(b, PW_RUN_FIGURE, headline_words(b, i));
    }
  if (k > 0)
    run(b, PW_RUN_TEXT, "。");

  if (need == 0 && n[PW_STATUS_NO_DATA] == 0)
    para(b, -1, "总体来看，各项指标推进有序，均达到序时进度或目标要求。");
  else if (need == 0)
    para(b, -1, "总体来看，各项指标推进有序，已有数据的指标均达到序时进度或目标要求。");
  else
    para(b, -1, a_printf(r, "总体来看，大部分指标推进有序，%d个指标进度滞后，需加快推进。", need));
  for (i = 0; i < conf->n_indicators; i++)
    if (conf->indicators[i].headline)
      image(b, i);
}

/* "以上指标均达季度目标要求。" or "除A、B外，其余指标均达季度目标要求。" An indicator without a
 * target (none set, or not issued yet) has no requirement to meet: it is neither counted nor
 * named, as the report writes it (docs/briefing.md); an area of such indicators alone has no
 * closing sentence. */
static void area_close(struct bld *b, int d) {
  const struct pw_config *conf = b->conf;
  struct pw_buf s = {NULL, 0, 0, 0};
  int i, ok = 0, bad = 0;

  for (i = 0; i < conf->n_indicators; i++) {
    if (conf->indicators[i].domain != d || b->now[i].status == PW_STATUS_NO_TARGET)
      continue;
    if (b->now[i].status == PW_STATUS_OK) {
      ok++;
      continue;
    }
    pw_buf_printf(&s, "%s%s", bad++ ? "、" : "", conf->indicators[i].name);
  }
  if (ok == 0 && bad == 0)
    ; /* nothing with a target in this area */
  else if (bad == 0)
    para(b, -1, "以上指标均达季度目标要求。");
  else if (ok == 0)
    para(b, -1, "以上指标暂未达到季度目标要求。");
  else
    para(b, -1, a_printf(b->r, "除%s外，其余指标均达季度目标要求。", s.data ? s.data : ""));
  pw_buf_free(&s);
}

static void areas(struct bld *b) {
  const struct pw_config *conf = b->conf;
  int d, i, shown = 0;

  section(b, 1, "二、", "分领域情况", "areas", 0);
  for (d = 0; d < conf->n_domains; d++) {
    const struct pw_domain *dom = &conf->domains[d];
    int n = 0, k = 0;
    for (i = 0; i < conf->n_indicators; i++)
      n += conf->indicators[i].domain == d;
    if (n == 0)
      continue;
    section(b, 2, a_printf(b->r, "（%s）", numeral(++shown)), a_printf(b->r, "%s方面", dom->name),
            a_printf(b->r, "domain-%s", dom->id), 0);
    para(b, -1, a_printf(b->r, "涉及%d个重点指标。", n));
    for (i = 0; i < conf->n_indicators; i++) {
      if (conf->indicators[i].domain != d)
        continue;
      block(b, PW_BLOCK_PARAGRAPH, i);
      run(b, PW_RUN_BOLD, a_printf(b->r, "%d.%s。", ++k, conf->indicators[i].name));
      run(b, PW_RUN_TEXT, b->r->items ? b->r->items[i].sentence : "");
    }
    area_close(b, d);
    /* Only the graphs of what needs attention are in the body; the rest are in the appendix. */
    for (i = 0; i < conf->n_indicators; i++)
      if (conf->indicators[i].domain == d && behind(b->now[i].status) &&
          !conf->indicators[i].headline)
        image(b, i);
  }
}

/* The period of an overdue figure as the briefing says it: "3月份", "一季度", with the year
 * when it is not the briefing's ("2024年12月份"). Returns BUF. */
static char *overdue_period(const struct bld *b, const struct pw_verdict *v, char *buf,
                            size_t size) {
  static const char *const q[] = {"一", "二", "三", "四"};
  char year[16] = "";

  if (v->due_year != pw_calendar_year_of(&b->conf->cal, b->req->at))
    snprintf(year, sizeof(year), "%d年", v->due_year);
  if (v->due_months == 3)
    snprintf(buf, size, "%s%s季度", year, q[((v->due_month - 1) / 3) & 3]);
  else
    snprintf(buf, size, "%s%d月份", year, v->due_month);
  return buf;
}

/* Appends "。" and indicator I's current explanation as a sentence ended by "。" (the shared
 * wording, pw_report_explanation). Returns 1 when it did, 0 when I has none. */
static int explained(struct bld *b, int i) {
  const struct pw_series *s = &b->req->journal->series[i];
  const struct pw_explanation *e = pw_status_explanation(s);
  struct pw_buf text = {0};
  int rc;

  if (e == NULL)
    return 0;
  rc = pw_report_explanation_at(b->conf, i, e, &b->now[i], b->req->at, NULL, &text);
  if (rc == 0)
    run(b, PW_RUN_TEXT, a_printf(b->r, "。%s。", text.data));
  else
    b->r->arena->rc = rc;
  pw_buf_free(&text);
  return rc == 0;
}

static void problems(struct bld *b) {
  const struct pw_config *conf = b->conf;
  struct pw_report *r = b->r;
  int i, k = 0, g;

  section(b, 1, "三、", "存在问题", "problems", 0);
  /* Five kinds, each one paragraph: lagging (not standards), standards below their comparison,
   * figures overdue (past their reporting deadline), figures not published, targets not
   * issued. */
  for (g = 0; g < 5; g++) {
    int first = 1, closed = 0;
    for (i = 0; i < conf->n_indicators; i++) {
      const struct pw_indicator *ind = &conf->indicators[i];
      const struct pw_verdict *v = &b->now[i];
      const char *dep = dept_name(conf, i);
      char lead[64], gap[200] = "", fig[160], d[64], p[48];
      int mine;
      switch (g) {
      case 0:
        mine = behind(v->status) && ind->kind != PW_KIND_STANDARD;
        snprintf(lead, sizeof(lead), "部分指标进度滞后。");
        break;
      case 1:
        mine = behind(v->status) && ind->kind == PW_KIND_STANDARD;
        snprintf(lead, sizeof(lead), "部分指标低于比较标准。");
        break;
      case 2:
        mine = v->overdue;
        snprintf(lead, sizeof(lead), "部分数据逾期未报。");
        break;
      case 3:
        mine = v->status == PW_STATUS_NO_DATA && !v->overdue;
        snprintf(lead, sizeof(lead), "部分数据尚未公布。");
        break;
      default:
        mine = v->status == PW_STATUS_NO_TARGET && ind->target_from != NULL &&
               ind->target_from[0] != '\0';
        snprintf(lead, sizeof(lead), "部分任务尚未下达。");
      }
      if (!mine)
        continue;
      if (g == 0 && ind->kind == PW_KIND_MILESTONE)
        snprintf(gap, sizeof(gap), "已逾期%.0f天", ceil(v->lag));
      else if (g == 0 && v->has_pct)
        snprintf(gap, sizeof(gap), "完成年度目标的%s%%，低于序时进度%s个百分点",
                 pw_report_pct(v->completion_pct, p, sizeof(p)),
                 pw_report_pct(v->pace_pct - v->completion_pct, d, sizeof(d)));
      else if (g == 0)
        snprintf(gap, sizeof(gap), "为%s，低于序时目标值",
                 pw_report_figure(ind, v->value, fig, sizeof(fig)));
      else if (g == 1)
        snprintf(gap, sizeof(gap), "为%s，%s%s（%s）%s%s",
                 pw_report_figure(ind, v->value, fig, sizeof(fig)),
                 ind->direction_down ? "高于" : "低于",
                 ind->standard_label && ind->standard_label[0] ? ind->standard_label : "标准",
                 pw_report_figure(ind, v->target, d, sizeof(d)),
                 pw_value_format_zh(v->lag, p, sizeof(p)),
                 strcmp(ind->unit, "%") == 0 ? "个百分点" : ind->unit);
      else if (g == 3)
        snprintf(gap, sizeof(gap), "%s",
                 ind->published_by && ind->published_by[0]
                     ? a_printf(r, "数据待%s公布", ind->published_by)
                     : "尚无数据");
      else
        snprintf(gap, sizeof(gap), "任务尚未下达（待%s分解）", ind->target_from);
      if (first) {
        block(b, PW_BLOCK_PARAGRAPH, -1);
        run(b, PW_RUN_BOLD, a_printf(r, "%s%s", ordinal(b, ++k), lead));
        first = 0;
      } else if (!closed) {
        run(b, PW_RUN_TEXT, "；");
      }
      closed = 0;
      if (g == 2) {
        /* The department first, as the office writes it: "县卫健局健康体检人数3月份数据逾期未报
         * （应于4月5日前报送）" (docs/briefing.md). */
        run(b, PW_RUN_TEXT,
            a_printf(r, "%s%s%s数据逾期未报（应于%s前报送）", dep != NULL ? dep : "", ind->name,
                     overdue_period(b, v, p, sizeof(p)),
                     pw_report_day(v->due_by, pw_calendar_year_of(&conf->cal, b->req->at), d,
                                   sizeof(d))));
        continue;
      }
      run(b, PW_RUN_TEXT, a_printf(r, "%s%s", ind->name, gap));
      if (dep != NULL && g < 2)
        run(b, PW_RUN_TEXT, a_printf(r, "（责任单位：%s）", dep));
      /* A lagging indicator's current explanation closes its item with a sentence of its own
       * (docs/briefing.md "存在问题"):
       * "…（责任单位：县人力社保局）。县人力社保局说明：…；预计5月底前 追平。" */
      closed = g < 2 && explained(b, i);
    }
    if (!first && !closed)
      run(b, PW_RUN_TEXT, "。");
  }
  if (k == 0)
    para(b, -1, "本周各项指标未发现明显问题。");
}

/* The actions text: the request's, else briefing.actions_file, else
 * state_dir/briefings/<week>.actions.md; NULL when there is none. Owned by the caller. */
static char *actions_text(struct bld *b) {
  char path[4300], *data = NULL;
  size_t len;
  int rc;

  if (b->req->actions != NULL)
    return strdup(b->req->actions);
  if (b->conf->briefing.actions_file != NULL)
    snprintf(path, sizeof(path), "%s", b->conf->briefing.actions_file);
  else
    snprintf(path, sizeof(path), "%s/briefings/%s.actions.md", b->conf->daemon.state_dir,
             b->r->week);
  rc = pw_read_file(path, ACTIONS_LIMIT, &data, &len);
  if (rc == -ENOENT)
    return NULL;
  if (rc < 0) {
    pw_log_warn("briefing %s: cannot read the actions file %s: %s", b->r->week, path,
                strerror(-rc));
    return NULL;
  }
  return data;
}

static void actions(struct bld *b) {
  char *text = actions_text(b), *line, *next;
  int any = 0;

  section(b, 1, "四、", "下步举措", "actions", 0);
  for (line = text; line != NULL && *line; line = next) {
    char *end = strchr(line, '\n');
    next = end ? end + 1 : line + strlen(line);
    if (end)
      *end = '\0';
    if (end && end > line && end[-1] == '\r')
      end[-1] = '\0';
    /* One paragraph per non-empty line; Markdown's heading and list marks are dropped. */
    while (*line == ' ' || *line == '\t' || *line == '#' || *line == '-' || *line == '*')
      line++;
    if (*line == '\0')
      continue;
    para(b, -1, line);
    any = 1;
  }
  free(text);
  b->r->actions_given = any;
  if (!any && block(b, PW_BLOCK_SLOT, -1) != NULL)
    run(b, PW_RUN_TEXT, "（由专班办公室补充）");
}

static void appendix(struct bld *b) {
  static const char *const head[] = {"序号", "领域",   "指标", "责任单位", "数值",
                                     "目标", "完成率", "状态", "说明"};
  const struct pw_config *conf = b->conf;
  struct pw_report *r = b->r;
  struct pw_report_table *t;
  int i, n = 0;

  section(b, 1, "附件1", "指标完成情况一览表", "table", 1);
  t = table(b, 9, head, conf->n_indicators);
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct pw_verdict *v = &b->now[i];
    const struct pw_target *tg = pw_config_target(ind, v->year);
    char no[16], fig[160], target[160] = "—", pct[32] = "—", st[64], note[300] = "";
    const char *cells[9];
    snprintf(no, sizeof(no), "%d", i + 1);
    shown_figure(b, i, fig, sizeof(fig));
    if (v->has_judgement) {
      if (ind->kind == PW_KIND_MILESTONE && tg && ind->stages.n > 0)
        snprintf(target, sizeof(target), "%s", ind->stages.items[ind->stages.n - 1]);
      else
        pw_report_figure(ind, v->target, target, sizeof(target));
    }
    if (v->has_pct) {
      pw_report_pct(v->completion_pct, pct, sizeof(pct));
      snprintf(pct + strlen(pct), sizeof(pct) - strlen(pct), "%%");
    }
    snprintf(st, sizeof(st), "%s%s",
             v->status == PW_STATUS_NO_TARGET
                 ? (ind->target_from && ind->target_from[0] ? "任务未下达" : "未设目标")
                 : pw_status_label_zh(v->status),
             v->stale ? "（数据陈旧）" : "");
    if (tg != NULL && (tg->provisional || tg->basis))
      snprintf(note, sizeof(note), "%s%s%s", tg->provisional ? "暂定目标" : "",
               tg->provisional && tg->basis ? "；" : "", tg->basis ? tg->basis : "");
    cells[0] = no;
    cells[1] = ind->domain >= 0 ? conf->domains[ind->domain].name : "";
    cells[2] = ind->name;
    cells[3] = dept_name(conf, i) ? dept_name(conf, i) : "";
    cells[4] = fig;
    cells[5] = target;
    cells[6] = pct;
    cells[7] = st;
    cells[8] = note;
    row(b, t, i, cells);
  }

  /* What changed since last week, and the revisions journaled in the week. */
  section(b, 1, "附件2", "与上周相比", "changes", 1);
  for (i = 0; i < conf->n_indicators; i++) {
    char ch[600];
    change_words(b, i, ch, sizeof(ch));
    if (ch[0] == '\0')
      continue;
    para(b, i, a_printf(r, "%d.%s：%s。", ++n, conf->indicators[i].name, ch));
  }
  for (i = 0; i < conf->n_indicators && i < b->req->journal->n_series; i++) {
    const struct pw_series *s = &b->req->journal->series[i];
    const struct pw_indicator *ind = &conf->indicators[i];
    size_t x, p;
    for (x = 0; x < s->n; x++) {
      const struct pw_sample *m = &s->samples[x];
      char day[40], old_v[160] = "—", new_v[160];
      if (m->rev == 0 || m->fetched_at <= b->req->at - WEEK || m->fetched_at > b->req->at)
        continue;
      for (p = x; p-- > 0;)
        if (s->samples[p].as_of == m->as_of) {
          pw_report_figure(ind, s->samples[p].value, old_v, sizeof(old_v));
          break;
        }
      pw_report_day(m->as_of, b->now[i].year, day, sizeof(day));
      para(b, i,
           a_printf(r, "%d.%s：%s的数据由%s修订为%s。", ++n, ind->name, day, old_v,
                    pw_report_figure(ind, m->value, new_v, sizeof(new_v))));
    }
  }
  if (n == 0)
    para(b, -1, "与上周相比，各指标无变化，本周无数据修订。");

  if (b->req->graphs == NULL)
    return;
  section(b, 1, "附件3", "指标趋势图", "graphs", 1);
  for (i = 0; i < conf->n_indicators; i++)
    image(b, i);
}

/* ---- the whole ---- */

static const struct pw_sample *latest_known(const struct pw_series *s, int64_t at) {
  const struct pw_sample *best = NULL;
  size_t k;

  for (k = 0; k < s->n; k++)
    if (pw_judge_effective(s->samples, s->n, k, at) &&
        (best == NULL || s->samples[k].as_of > best->as_of))
      best = &s->samples[k];
  return best;
}

void pw_report_free(struct pw_report *r) {
  struct chunk *c, *next;

  if (r == NULL)
    return;
  if (r->arena != NULL) {
    for (c = r->arena->chunks; c != NULL; c = next) {
      next = c->next;
      free(c);
    }
    free(r->arena);
  }
  free(r);
}

const char *pw_report_block_text(const struct pw_report_block *b, char *buf, size_t size) {
  size_t len = 0;
  int k;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  for (k = 0; k < b->n_runs && len + 1 < size; k++) {
    snprintf(buf + len, size - len, "%s", b->runs[k].text);
    len += strlen(buf + len);
  }
  return buf;
}

int pw_report_build(const struct pw_report_request *req, struct pw_report **out, char *err,
                    size_t errlen) {
  const struct pw_config *conf = req->conf;
  size_t n = (size_t)conf->n_indicators + 1;
  struct pw_report *r = calloc(1, sizeof(*r));
  struct bld b;
  char buf[64], week[16];
  int i, rc;

  *out = NULL;
  memset(&b, 0, sizeof(b));
  if (r == NULL || (r->arena = calloc(1, sizeof(*r->arena))) == NULL) {
    free(r);
    snprintf(err, errlen, "briefing: out of memory");
    return -ENOMEM;
  }
  b.r = r;
  b.req = req;
  b.conf = conf;
  r->at = req->at;
  if (pw_report_week(req->at, week, sizeof(week))[0] == '\0') {
    pw_report_free(r);
    snprintf(err, errlen, "briefing: no week for instant %lld", (long long)req->at);
    return -EINVAL;
  }
  r->week = a_str(r, week);
  r->title = a_str(r, conf->briefing.title);
  r->issuer = a_str(r, conf->briefing.issuer ? conf->briefing.issuer : "");
  r->date = a_str(r, pw_report_date(req->at, buf, sizeof(buf)));
  r->period = a_str(r, pw_report_period(req->at, buf, sizeof(buf)));
  b.now = calloc(n, sizeof(*b.now));
  b.before = calloc(n, sizeof(*b.before));
  b.latest = calloc(n, sizeof(*b.latest));
  if (b.now != NULL && b.before != NULL && b.latest != NULL) {
    for (i = 0; i < conf->n_indicators; i++) {
      pw_status_judge(conf, req->journal->series, i, req->at, &b.now[i]);
      pw_status_judge(conf, req->journal->series, i, req->at - WEEK, &b.before[i]);
      b.latest[i] = latest_known(&req->journal->series[i], req->at);
    }
    items(&b);
    summary(&b);
    areas(&b);
    problems(&b);
    actions(&b);
    appendix(&b);
    rc = r->arena->rc;
  } else {
    rc = -ENOMEM;
  }
  free(b.now);
  free(b.before);
  free(b.latest);
  if (rc < 0) {
    pw_report_free(r);
    snprintf(err, errlen, "briefing %s: out of memory", week);
    return rc;
  }
  *out = r;
  return 0;
}
