/*
 * message: the words of an indicator's alert (docs/alerts.md "What an alert says"), decided
 * once by the engine and carried in the notification, so that every receiver type (robots,
 * email, webhook) says the same thing: the figure in the indicator's unit and in 万/亿, the gap
 * in the unit and in percentage points, since when it lags and how the gap moved since the last
 * message, what is needed by when, and for stale data the last known figure. The wording is the
 * briefing's (graphs/report.h: pw_report_figure, pw_report_pct, pw_report_day, pw_report_need),
 * never a second rounding. Pure apart from the calendar's local time.
 */
#ifndef PW_ALERT_MESSAGE_H
#define PW_ALERT_MESSAGE_H

#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "judge.h"
#include "util.h"

/* What one notification of an indicator's alert is about. */
struct pw_alert_facts {
  int ind;                 /* index into the configuration's indicators */
  enum pw_alert_cond cond; /* PW_COND_LAG, _STALE, _OVERDUE or _REMIND */
  int firing;              /* 0: a resolution */
  const struct pw_verdict *v;
  const struct pw_sample *latest; /* latest sample known in any year, NULL for none */
  int64_t since;    /* when the condition started to hold (a resolution: when it had) */
  int has_last_gap; /* the gap told in the previous message of this alert */
  double last_gap;  /* in the verdict's lag unit */
  int64_t now;
};

/* The three texts of an alert, each a plain UTF-8 string without final punctuation, appended to
 * SUMMARY (always), TREND and NEED (left empty when there is nothing to say):
 *   summary  "截至4月25日累计3.78万人，完成年度目标（19万人）的19.9%，序时进度26.9%，落后序时进度
 *            7个百分点，约差1.34万人" / "最新数据截至2023年底（3.56人），已超过121天未更新"
 *   trend    "自4月30日起滞后，差距较上次提醒扩大0.5个百分点" / "此前滞后21天"
 *   need     "需在6月底前再完成约15.23万人方可达到二季度目标"
 * Returns 0 or -ENOMEM. */
int pw_alert_words(const struct pw_config *conf, const struct pw_alert_facts *f,
                   struct pw_buf *summary, struct pw_buf *trend, struct pw_buf *need);

/* The programme's name for subjects and robot titles: briefing.title when the configuration
 * writes it, else "公共服务指标". */
const char *pw_alert_programme(const struct pw_config *conf);

#endif
