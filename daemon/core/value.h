/*
 * value: the grammar of figures and dates as departments publish them (docs/values.md):
 * thousands separators, "%", "万", "亿", the not-published markers, and the many ways a date
 * is written. Pure functions except that dates without an offset are read in the process time
 * zone (set by pw_calendar_init).
 */
#ifndef PW_VALUE_H
#define PW_VALUE_H

#include <stdint.h>

/* Returned when the text is one of the not-published markers. */
#define PW_VALUE_NOT_PUBLISHED 1

/* Parses TEXT as a figure: a number (negative allowed) with optional thousands separators, a
 * trailing "%" (kept in percent units) or a trailing "万" / "亿" (scaled in decimal).
 * Surrounding ASCII whitespace is ignored. Returns 0 and sets *OUT; PW_VALUE_NOT_PUBLISHED for
 * "", "-", "—", "未公布", "暂无"; -EINVAL for anything else, NaN and infinity included. */
int pw_value_parse(const char *text, double *out);

/* Returns 1 if TEXT is a not-published marker, else 0. */
int pw_value_is_not_published(const char *text);

/* Parses TEXT as a date in any form of docs/values.md ("YYYY-MM-DD", "YYYY/MM/DD",
 * "YYYYMMDD", "YYYY年M月D日", "YYYY-MM", "YYYY年M月", "YYYY年第N季度", "YYYY年一季度",
 * "YYYYQn", ISO 8601 date-time with or without offset, epoch seconds of ten or more digits)
 * into the instant it stands for: a day means its end, a month the end of the month, a quarter
 * the end of the quarter. Returns 0 or -EINVAL. */
int pw_date_parse(const char *text, int64_t *out);

/* Parses a duration "90s", "5m", "1h", "7d" (also compounds such as "1h30m") into seconds.
 * Returns 0 or -EINVAL. */
int pw_duration_parse(const char *text, int64_t *out);

/* Formats V with the fewest significant digits that read back as V (at most 17) into BUF.
 * Returns BUF. */
char *pw_value_format(double v, char *buf, int size);

/* Formats V for people: at most two decimals, figures from 10^5 in 万 and from 10^8 in 亿
 * ("51.03万", "5.95亿"), trailing zeros dropped. BUF needs at least 40 bytes. Returns BUF. */
char *pw_value_format_zh(double v, char *buf, int size);

#endif
