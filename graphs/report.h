/*
 * report: the weekly briefing of docs/briefing.md as a document MODEL, built once from the
 * configuration, the journal and the verdicts at AT and AT - 7 days, then handed to RENDERERS
 * (HTML, Markdown; a channel may add its own: a Word document, a robot's summary, JSON). The
 * model is plain C data: text is UTF-8 with no markup of any rendering, so every renderer escapes
 * it for its own format. Everything the briefing says is decided here, once; a renderer decides
 * only how it looks.
 *
 * Shape (docs/briefing.md "Contents"): a title, the issuer, the date and the period in words, then
 * sections in the report's numbering: level-1 sections "一、总体情况", "二、分领域情况" (whose
 * level-2 sections are "（一）幼有善育方面" ...), "三、存在问题", "四、下步举措", then the
 * appendix (sections with APPENDIX set: "附件1 ..."), which a renderer may start on a new page.
 * A section holds blocks: paragraphs (runs of plain, bold or figure text), tables, images and
 * the marked empty slot for people to fill in.
 */
#ifndef PW_REPORT_H
#define PW_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "judge.h"
#include "util.h"

/* ---- the model ---- */

enum pw_report_run_kind {
  PW_RUN_TEXT = 0, /* plain text */
  PW_RUN_BOLD,     /* emphasised text: an indicator's name opening its paragraph, a lead-in */
  PW_RUN_FIGURE    /* a figure with its unit ("4782人次", "183.9%"); shown plain or emphasised */
};

struct pw_report_run {
  enum pw_report_run_kind kind;
  const char *text;
};

enum pw_report_block_kind {
  PW_BLOCK_PARAGRAPH = 0,
  PW_BLOCK_TABLE,
  PW_BLOCK_IMAGE,
  PW_BLOCK_SLOT /* an empty place people fill in; its one run says so ("（由专班办公室补充）") */
};

struct pw_report_table {
  int n_cols, n_rows;
  const char **header; /* n_cols */
  const char **cells;  /* n_rows * n_cols, row-major; "" for an empty cell, never NULL */
  int *row_indicator;  /* n_rows: the indicator index a row is about, or -1 */
};

struct pw_report_image {
  int indicator;       /* index into the configuration's indicators */
  const char *id;      /* the indicator's id */
  const char *path;    /* the PNG file, or NULL when its graph could not be rendered */
  const char *caption; /* "图1 职业教育培训人次" */
};

struct pw_report_block {
  enum pw_report_block_kind kind;
  int indicator; /* the indicator a paragraph or image is about, or -1 */
  /* PW_BLOCK_PARAGRAPH and PW_BLOCK_SLOT: */
  struct pw_report_run *runs;
  int n_runs;
  /* PW_BLOCK_TABLE: */
  struct pw_report_table table;
  /* PW_BLOCK_IMAGE: */
  struct pw_report_image image;
};

struct pw_report_section {
  int level; /* 1: "一、总体情况"; 2: "（一）幼有善育方面" inside the previous level 1 */
  const char *number;  /* "一、", "（一）", "附件1" */
  const char *heading; /* "总体情况", "幼有善育方面", "指标完成情况一览表" */
  const char *id;      /* a stable id for machines: "summary", "domain-childcare", "actions" */
  int appendix;        /* 1 for the appendix's sections (after the body) */
  struct pw_report_block *blocks;
  int n_blocks;
};

/* Per indicator, what a channel needs to summarise without reading the sections. */
struct pw_report_item {
  int indicator; /* index into the configuration's indicators */
  const char *id, *name;
  const char *department; /* the department's name, or NULL */
  enum pw_status status;
  int stale;
  int attention;        /* lagging, severe or headline: its graph is in the body */
  int headline;         /* configured `headline = true` */
  int changed;          /* its figure, status or staleness changed since AT - 7 days */
  const char *figure;   /* "4782人次", "—" when none */
  const char *sentence; /* the report's sentence, without the name: "截至3月底，…。" */
  const char *problem;  /* what 三、存在问题 says of it, or NULL */
  /* A lagging or severe indicator's current explanation in words (pw_report_explanation), or
   * NULL; CATCH_UP_PASSED when its expected catch-up day has passed. */
  const char *explanation;
  int catch_up_passed;
  const char *image; /* its PNG, or NULL */
};

struct pw_report {
  const char *title;  /* briefing.title */
  const char *issuer; /* briefing.issuer, or "" */
  const char *date;   /* the day AT closes, "2024年4月30日" */
  const char *period; /* the week in words, "2024年4月22日—28日" */
  const char *week;   /* "2024-W18": file names and machines only, never the visible title */
  int64_t at;
  int counts[5]; /* indicators per enum pw_status */
  int n_stale;
  int actions_given;            /* 四、下步举措 came from the actions file */
  struct pw_report_item *items; /* n_items, configuration order */
  int n_items;
  struct pw_report_section *sections; /* body first, then the appendix */
  int n_sections;
  struct pw_report_arena *arena; /* owns every string and array above */
};

struct pw_report_request {
  const struct pw_config *conf;
  const struct pw_journal *journal;
  int64_t at; /* judged at AT and compared with AT - 7 days */
  /* Per indicator (n_indicators entries) the PNG of its graph, NULL for one that failed; the
   * array itself NULL for a briefing without graphs (no image blocks at all). */
  const char *const *graphs;
  /* The text of 四、下步举措, or NULL: then the builder reads briefing.actions_file or
   * state_dir/briefings/<week>.actions.md, and leaves the marked empty slot without either. */
  const char *actions;
};

/* Builds the model. Returns 0 and *OUT (free with pw_report_free), or a negative errno with ERR
 * set. Reads the actions file (blocking): call it where pw_briefing_write runs. */
int pw_report_build(const struct pw_report_request *req, struct pw_report **out, char *err,
                    size_t errlen);

void pw_report_free(struct pw_report *r);

/* The whole text of a paragraph's runs, concatenated (owned by the model). */
const char *pw_report_block_text(const struct pw_report_block *b, char *buf, size_t size);

/* ---- renderers ---- */

/* Self-contained HTML in Chinese for screen and A4 print: inline CSS; images as data URIs when
 * IMG_PREFIX is NULL, else src = IMG_PREFIX + the PNG's file name ("cid:" for mail, "" for files
 * beside it). The appendix starts on a new printed page. Appends to OUT. Returns 0 or -errno. */
int pw_report_html(const struct pw_report *r, const char *img_prefix, struct pw_buf *out);

/* Markdown: the same text, images by their file name (the PNGs beside it). No emoji. */
int pw_report_markdown(const struct pw_report *r, struct pw_buf *out);

/* ---- wording (pure; unit-tested in tests/unit/test_report_words.c) ---- */

/* A percentage as people write it: one decimal, none when it rounds to a whole number
 * ("183.9", "25", "0.5"). No "%" sign. Returns BUF. */
char *pw_report_pct(double v, char *buf, size_t size);

/* The day instant T closes, as the report dates a figure relative to YEAR (the year judged):
 * "3月底" for a month's last day, "4月25日", with the year when it is not YEAR ("2023年底",
 * "2023年10月1日"). Returns BUF. */
char *pw_report_day(int64_t t, int year, char *buf, size_t size);

/* The ISO 8601 week of AT - 1 s (local time) as "YYYY-Www" into BUF (at least 16 bytes); ""
 * when it cannot be told. Returns BUF. */
char *pw_report_week(int64_t at, char *buf, size_t size);

/* The day instant T closes in full: "2024年4月30日". Returns BUF. */
char *pw_report_date(int64_t t, char *buf, size_t size);

/* The last whole week (Monday to Sunday) ended by AT, in words: "2024年4月22日—28日" for any AT
 * from Monday 29 April 00:00 to the next Monday; "2024年4月29日—5月5日",
 * "2024年12月30日—2025年1月5日". Returns BUF. */
char *pw_report_period(int64_t at, char *buf, size_t size);

/* A figure of IND for people: a milestone's stage name, else the number in 万/亿 with the
 * unit ("51.03万人次", "1.98亿元"). Returns BUF. */
char *pw_report_figure(const struct pw_indicator *ind, double value, char *buf, size_t size);

/* A distance D in IND's unit, as a gap is written: between percentages in 个百分点
 * ("4.7个百分点"), else as a figure ("3.7分", "2.1万人"). Returns BUF. */
char *pw_report_distance(const struct pw_indicator *ind, double d, char *buf, size_t size);

/* "一季度" .. "四季度" for quarter Q (1..4); "" otherwise. */
const char *pw_report_quarter(int q);

/* What a lagging cumulative or level indicator IND judged as V needs by the end of the quarter
 * holding AT, appended to OUT without punctuation around it: "需在6月底前再完成约5.72万人方可达到
 * 二季度目标" (cumulative), "需在6月底前提升至4.2个方可达到二季度目标" (level). Returns 1 when
 * something was written, 0 when there is nothing to say (other kinds, already there), -ENOMEM. */
int pw_report_need(const struct pw_config *conf, const struct pw_indicator *ind,
                   const struct pw_verdict *v, int64_t at, struct pw_buf *out);

/* The explanation E (说明, docs/storage.md#explanations) of indicator IND as the county office
 * writes it, appended to OUT without final punctuation: "县人力社保局说明：一季度企业招工延后；
 * 措施：开展春风行动专场招聘；预计5月底前追平". Who explains is the department E's source names
 * ("report:<department>"), else IND's department, else "责任单位"; a reason or measures
 * ending in punctuation lose it. With OVERDUE (pw_status_catch_up_overdue: the catch-up day has
 * passed and IND still lags) the date is said as "原定5月31日前追平，目前仍滞后". Dates relative to
 * YEAR (the year judged), as pw_report_day writes them. The one wording of an explanation: the
 * dashboard, the reporting page, the briefing and the alerts call it. Pure apart from the
 * process time zone. Returns 0 or -ENOMEM. */
int pw_report_explanation(const struct pw_config *conf, int ind, const struct pw_explanation *e,
                          int overdue, int year, struct pw_buf *out);

/* pw_report_explanation as of AT for IND judged as V: OVERDUE from pw_status_catch_up_overdue,
 * the year AT is in. *PASSED (when not NULL) is that OVERDUE. What every reader calls. */
int pw_report_explanation_at(const struct pw_config *conf, int ind, const struct pw_explanation *e,
                             const struct pw_verdict *v, int64_t at, int *passed,
                             struct pw_buf *out);

/* The report's sentence for indicator IND judged as V (after "N.名称。"), appended to OUT:
 * the date in words, the figure, its comparison (quarter target, pace, level due now,
 * standard, milestone stage), what a lagging one needs, then NOTE when not NULL. LATEST is the
 * latest sample known at AT in any year (NULL for none) for an indicator judged without one.
 * Pure apart from the calendar's local time. Returns 0 or -errno. */
int pw_report_sentence(const struct pw_config *conf, int ind, const struct pw_verdict *v,
                       const struct pw_sample *latest, int64_t at, struct pw_buf *out);

#endif
