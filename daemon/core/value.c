/*
 * value: reads figures, dates and durations the way departments and operators write them
 * (docs/values.md). Figures may carry thousands separators, a "%" or a "万"/"亿" scale that
 * is applied in decimal (by rewriting the number with an exponent and converting it once), so
 * "25.3万" is exactly 253000; the not-published markers are told apart from bad text. Dates
 * come in every form the contract lists and become the instant they stand for (a day is its
 * end, a month or quarter likewise), read in the process time zone unless they carry an offset.
 * Everything is strict: text that is not exactly one of the forms is rejected, never guessed.
 */
#include "value.h"

#include "calendar.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest trimmed text considered at all; anything longer is no figure or date we accept. */
#define VALUE_MAX_TEXT 128

#define UTF8_WAN "万"
#define UTF8_YI "亿"
#define UTF8_EM_DASH "—" /* U+2014 */
#define UTF8_NIAN "年"
#define UTF8_YUE "月"
#define UTF8_RI "日"
#define UTF8_DI "第"
#define UTF8_JIDU "季度"

static const char *const not_published_markers[] = {"", "-", UTF8_EM_DASH, "未公布", "暂无"};

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Finds TEXT without its surrounding ASCII whitespace: *START and *LEN. */
static void trim(const char *text, const char **start, size_t *len) {
  size_t n;

  while (is_space(*text))
    text++;
  n = strlen(text);
  while (n > 0 && is_space(text[n - 1]))
    n--;
  *start = text;
  *len = n;
}

/* Copies the trimmed TEXT into BUF (VALUE_MAX_TEXT + 1 bytes). Returns its length, or -EINVAL
 * when it is too long to be anything this module reads. */
static int trimmed_copy(const char *text, char *buf) {
  const char *s;
  size_t n;

  trim(text, &s, &n);
  if (n > VALUE_MAX_TEXT)
    return -EINVAL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return (int)n;
}

/* Whether the LEN bytes at S end with the NUL-terminated SUFFIX. */
static int ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static int marker_match(const char *s, size_t n) {
  size_t i;

  for (i = 0; i < sizeof(not_published_markers) / sizeof(not_published_markers[0]); i++)
    if (strlen(not_published_markers[i]) == n && memcmp(not_published_markers[i], s, n) == 0)
      return 1;
  return 0;
}

int pw_value_is_not_published(const char *text) {
  const char *s;
  size_t n;

  if (text == NULL)
    return 0;
  trim(text, &s, &n);
  return marker_match(s, n);
}

int pw_value_parse(const char *text, double *out) {
  char in[VALUE_MAX_TEXT + 1];
  /* The rewritten number: at most the input plus an exponent such as "e8". */
  char num[VALUE_MAX_TEXT + 8];
  size_t len, i = 0, o = 0, group;
  int n, scale = 0, suffixed = 0, int_digits = 0, frac_digits = 0, commas = 0;
  char *end;
  double v;

  if (text == NULL || out == NULL)
    return -EINVAL;
  n = trimmed_copy(text, in);
  if (n < 0)
    return -EINVAL;
  len = (size_t)n;
  if (marker_match(in, len))
    return PW_VALUE_NOT_PUBLISHED;

  if (ends_with(in, len, "%")) {
    len -= 1;
    suffixed = 1;
  } else if (ends_with(in, len, UTF8_WAN)) {
    len -= strlen(UTF8_WAN);
    scale = 4;
    suffixed = 1;
  } else if (ends_with(in, len, UTF8_YI)) {
    len -= strlen(UTF8_YI);
    scale = 8;
    suffixed = 1;
  }

  if (i < len && (in[i] == '+' || in[i] == '-')) {
    /* strtod reads "+" itself, but keep only "-" so the rewritten text stays canonical. */
    if (in[i] == '-')
      num[o++] = '-';
    i++;
  }

  /* Integer part: digits, with commas allowed only between groups of exactly three digits
   * after a first group of one to three. */
  group = 0;
  while (i < len && (is_digit(in[i]) || in[i] == ',')) {
    if (in[i] == ',') {
      if (commas == 0 ? group < 1 || group > 3 : group != 3)
        return -EINVAL;
      commas++;
      group = 0;
    } else {
      num[o++] = in[i];
      int_digits++;
      group++;
    }
    i++;
  }
  /* The group after the last separator must be complete: "1,2345" and "12,34" are no figures. */
  if (commas > 0 && group != 3)
    return -EINVAL;

  if (i < len && in[i] == '.') {
    num[o++] = in[i++];
    while (i < len && is_digit(in[i])) {
      num[o++] = in[i++];
      frac_digits++;
    }
  }
  if (int_digits + frac_digits == 0)
    return -EINVAL;

  /* A plain exponent ("1.5e3") is accepted, but not together with a suffix: "1e2万" is no way
   * anyone writes a figure. */
  if (i < len && (in[i] == 'e' || in[i] == 'E')) {
    size_t exp_digits = 0;

    if (suffixed)
      return -EINVAL;
    num[o++] = 'e';
    i++;
    if (i < len && (in[i] == '+' || in[i] == '-'))
      num[o++] = in[i++];
    while (i < len && is_digit(in[i])) {
      num[o++] = in[i++];
      exp_digits++;
    }
    if (exp_digits == 0)
      return -EINVAL;
  }
  if (i != len)
    return -EINVAL;
  if (scale != 0)
    o += (size_t)snprintf(num + o, sizeof(num) - o, "e%d", scale);
  num[o] = '\0';

  errno = 0;
  v = strtod(num, &end);
  if (end != num + o || errno == ERANGE || !isfinite(v))
    return -EINVAL;
  *out = v;
  return 0;
}

/* ---- dates ---- */

static int is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* A cursor over the trimmed date text. */
struct cursor {
  const char *s;
  size_t i, len;
};

static int at_end(const struct cursor *c) {
  return c->i == c->len;
}

/* Consumes the literal LIT if it is next. Returns 1 if it was. */
static int eat(struct cursor *c, const char *lit) {
  size_t n = strlen(lit);

  if (c->len - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
    return 0;
  c->i += n;
  return 1;
}

/* Reads between MIN and MAX digits (MAX <= 9) into *OUT. Returns 1 on success. */
static int digits(struct cursor *c, int min, int max, int *out) {
  int n = 0, v = 0;

  while (n < max && c->i < c->len && is_digit(c->s[c->i])) {
    v = v * 10 + (c->s[c->i] - '0');
    c->i++;
    n++;
  }
  if (n < min)
    return 0;
  /* More digits than allowed means a different form ("2024-123"), not a shorter field. */
  if (c->i < c->len && is_digit(c->s[c->i]))
    return 0;
  *out = v;
  return 1;
}

/* Reads exactly two digits, whatever follows (for "+HHMM"). Returns 1 on success. */
static int two_digits(struct cursor *c, int *out) {
  if (c->len - c->i < 2 || !is_digit(c->s[c->i]) || !is_digit(c->s[c->i + 1]))
    return 0;
  *out = (c->s[c->i] - '0') * 10 + (c->s[c->i + 1] - '0');
  c->i += 2;
  return 1;
}

static int valid_year(int y) {
  return y >= 1 && y <= 9999;
}

static int valid_ymd(int y, int m, int d) {
  return valid_year(y) && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* The end of month M of Y: local 00:00 of the first of the next month (mktime normalises 13). */
static int64_t month_end(int y, int m) {
  return pw_calendar_local(y, m + 1, 1, 0, 0, 0);
}

static int64_t quarter_end(int y, int q) {
  return month_end(y, 3 * q);
}

/* A quarter number written as a digit 1-4 or as 一二三四. Returns 1 and sets *Q on success. */
static int quarter_number(struct cursor *c, int *q) {
  static const char *const cn[] = {"一", "二", "三", "四"};
  int k;

  if (c->i < c->len && c->s[c->i] >= '1' && c->s[c->i] <= '4') {
    *q = c->s[c->i] - '0';
    c->i++;
    /* "第12季度" is not quarter 1. */
    return !(c->i < c->len && is_digit(c->s[c->i]));
  }
  for (k = 0; k < 4; k++)
    if (eat(c, cn[k])) {
      *q = k + 1;
      return 1;
    }
  return 0;
}

/* The Chinese forms after "YYYY年": "M月D日", "M月", "第N季度", "N季度". */
static int parse_chinese(struct cursor *c, int y, int64_t *out) {
  int m, d, q;
  size_t start = c->i;

  /* A number followed by "月" is a month; otherwise go back and read a quarter ("1季度"). */
  if (digits(c, 1, 2, &m) && eat(c, UTF8_YUE)) {
    if (m < 1 || m > 12)
      return -EINVAL;
    if (at_end(c)) {
      *out = month_end(y, m);
      return 0;
    }
    if (!digits(c, 1, 2, &d) || !eat(c, UTF8_RI) || !at_end(c) || !valid_ymd(y, m, d))
      return -EINVAL;
    *out = pw_calendar_day_end(y, m, d);
    return 0;
  }
  c->i = start;
  (void)eat(c, UTF8_DI);
  if (!quarter_number(c, &q) || !eat(c, UTF8_JIDU) || !at_end(c))
    return -EINVAL;
  *out = quarter_end(y, q);
  return 0;
}

/* The rest of an ISO 8601 date-time after "YYYY-MM-DD" and the 'T' or ' ':
 * "HH:MM[:SS[.fff]][Z|±HH[:MM]|±HHMM]". */
static int parse_time(struct cursor *c, int y, int mo, int d, int64_t *out) {
  int h, mi, s = 0, oh = 0, om = 0, sign;

  if (!digits(c, 2, 2, &h) || !eat(c, ":") || !digits(c, 2, 2, &mi))
    return -EINVAL;
  if (eat(c, ":")) {
    if (!digits(c, 2, 2, &s))
      return -EINVAL;
    if (eat(c, ".")) {
      size_t n = 0;
      /* Instants are whole seconds; a fraction is dropped, which floors a positive time. */
      while (c->i < c->len && is_digit(c->s[c->i])) {
        c->i++;
        n++;
      }
      if (n == 0)
        return -EINVAL;
    }
  }
  if (h > 23 || mi > 59 || s > 60)
    return -EINVAL;
  if (at_end(c)) {
    *out = pw_calendar_local(y, mo, d, h, mi, s);
    return 0;
  }
  if (eat(c, "Z") || eat(c, "z")) {
    if (!at_end(c))
      return -EINVAL;
    *out = pw_calendar_utc(y, mo, d, h, mi, s);
    return 0;
  }
  if (eat(c, "+"))
    sign = 1;
  else if (eat(c, "-"))
    sign = -1;
  else
    return -EINVAL;
  /* "+HH", "+HH:MM" or "+HHMM". */
  if (!two_digits(c, &oh))
    return -EINVAL;
  if (eat(c, ":")) {
    if (!two_digits(c, &om))
      return -EINVAL;
  } else if (!at_end(c) && !two_digits(c, &om)) {
    return -EINVAL;
  }
  if (!at_end(c) || oh > 23 || om > 59)
    return -EINVAL;
  *out = pw_calendar_utc(y, mo, d, h, mi, s) - sign * (int64_t)(oh * 3600 + om * 60);
  return 0;
}

/* Epoch seconds: ten or more digits. */
static int parse_epoch(const char *s, int64_t *out) {
  char *end;
  long long v;

  errno = 0;
  v = strtoll(s, &end, 10);
  if (*end != '\0' || errno == ERANGE)
    return -EINVAL;
  *out = (int64_t)v;
  return 0;
}

int pw_date_parse(const char *text, int64_t *out) {
  char in[VALUE_MAX_TEXT + 1];
  struct cursor c;
  int n, y, m, d;
  size_t k;

  if (text == NULL || out == NULL)
    return -EINVAL;
  n = trimmed_copy(text, in);
  if (n <= 0)
    return -EINVAL;
  c.s = in;
  c.i = 0;
  c.len = (size_t)n;

  /* All digits: eight are YYYYMMDD, ten or more epoch seconds, anything else nothing. */
  for (k = 0; k < c.len && is_digit(in[k]); k++)
    ;
  if (k == c.len) {
    if (c.len >= 10)
      return parse_epoch(in, out);
    if (c.len != 8)
      return -EINVAL;
    y = (in[0] - '0') * 1000 + (in[1] - '0') * 100 + (in[2] - '0') * 10 + (in[3] - '0');
    m = (in[4] - '0') * 10 + (in[5] - '0');
    d = (in[6] - '0') * 10 + (in[7] - '0');
    if (!valid_ymd(y, m, d))
      return -EINVAL;
    *out = pw_calendar_day_end(y, m, d);
    return 0;
  }

  if (!digits(&c, 4, 4, &y) || !valid_year(y))
    return -EINVAL;

  if (eat(&c, UTF8_NIAN))
    return parse_chinese(&c, y, out);

  if (eat(&c, "Q") || eat(&c, "q")) {
    if (c.len - c.i != 1 || in[c.i] < '1' || in[c.i] > '4')
      return -EINVAL;
    *out = quarter_end(y, in[c.i] - '0');
    return 0;
  }

  if (eat(&c, "/")) {
    /* Spreadsheet exports write "2024/3/31" as often as "2024/03/31". */
    if (!digits(&c, 1, 2, &m) || !eat(&c, "/") || !digits(&c, 1, 2, &d) || !at_end(&c) ||
        !valid_ymd(y, m, d))
      return -EINVAL;
    *out = pw_calendar_day_end(y, m, d);
    return 0;
  }

  if (!eat(&c, "-") || !digits(&c, 2, 2, &m) || m < 1 || m > 12)
    return -EINVAL;
  if (at_end(&c)) {
    *out = month_end(y, m);
    return 0;
  }
  if (!eat(&c, "-") || !digits(&c, 2, 2, &d) || !valid_ymd(y, m, d))
    return -EINVAL;
  if (at_end(&c)) {
    *out = pw_calendar_day_end(y, m, d);
    return 0;
  }
  if (!eat(&c, "T") && !eat(&c, " "))
    return -EINVAL;
  return parse_time(&c, y, m, d, out);
}

/* ---- durations ---- */

int pw_duration_parse(const char *text, int64_t *out) {
  /* Units in the only order they may appear, largest first, each at most once. */
  static const char units[] = "wdhms";
  static const int64_t seconds[] = {7 * 86400, 86400, 3600, 60, 1};
  char in[VALUE_MAX_TEXT + 1];
  int n, next_unit = 0;
  size_t i = 0;
  int64_t total = 0;

  if (text == NULL || out == NULL)
    return -EINVAL;
  n = trimmed_copy(text, in);
  if (n <= 0)
    return -EINVAL;
  while (i < (size_t)n) {
    int64_t v = 0, add;
    size_t start = i;
    const char *u;
    int k;

    while (i < (size_t)n && is_digit(in[i])) {
      if (v > (INT64_MAX - (in[i] - '0')) / 10)
        return -EINVAL;
      v = v * 10 + (in[i] - '0');
      i++;
    }
    if (i == start || i == (size_t)n)
      return -EINVAL;
    u = strchr(units, in[i]);
    if (u == NULL)
      return -EINVAL;
    k = (int)(u - units);
    /* "30m1h" or "1h1h" is more likely a typo than a meaning. */
    if (k < next_unit)
      return -EINVAL;
    next_unit = k + 1;
    i++;
    if (v > INT64_MAX / seconds[k])
      return -EINVAL;
    add = v * seconds[k];
    if (add > INT64_MAX - total)
      return -EINVAL;
    total += add;
  }
  *out = total;
  return 0;
}

/* ---- formatting ---- */

char *pw_value_format(double v, char *buf, int size) {
  int prec;

  if (buf == NULL || size <= 0)
    return buf;
  if (!isfinite(v)) {
    snprintf(buf, (size_t)size, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
    return buf;
  }
  if (v == 0) {
    /* -0 as "0": a figure of minus nothing reads as nothing. */
    snprintf(buf, (size_t)size, "0");
    return buf;
  }
  /* Whole numbers up to 1e15 print plainly: %g would switch to an exponent at 1e15. */
  if (v == floor(v) && fabs(v) <= 1e15) {
    snprintf(buf, (size_t)size, "%.0f", v);
    return buf;
  }
  for (prec = 15; prec <= 17; prec++) {
    char tmp[40];

    snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v) {
      snprintf(buf, (size_t)size, "%s", tmp);
      break;
    }
  }
  return buf;
}

char *pw_value_format_zh(double v, char *buf, int size) {
  double a = v < 0 ? -v : v;
  const char *suffix = "";
  int decimals = 2;
  char *dot;
  size_t n;

  /* People read large figures in 万 and 亿, as the county's own reports write them. */
  if (a >= 1e8) {
    v /= 1e8;
    suffix = "亿";
    decimals = 4;
  } else if (a >= 1e5) {
    v /= 1e4;
    suffix = "万";
  }
  snprintf(buf, (size_t)size, "%.*f", decimals, v);
  dot = strchr(buf, '.');
  if (dot != NULL) {
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
      buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
      buf[--n] = '\0';
  }
  if (strcmp(buf, "-0") == 0)
    snprintf(buf, (size_t)size, "0");
  n = strlen(buf);
  snprintf(buf + n, (size_t)size - n, "%s", suffix);
  return buf;
}
