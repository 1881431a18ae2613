/*
 * calendar: turns the configured time zone into the instants judgement works with. The zone
 * is set once for the process; year and quarter starts are computed once with mktime so that
 * judge never touches the zone database.
 */
#include "calendar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pw_calendar_zone_exists(const char *name) {
  char path[512];
  const char *dir = getenv("TZDIR");
  FILE *f;
  char magic[4];
  size_t got;

  if (name == NULL || name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
    return -ENOENT;
  if (dir == NULL || dir[0] == '\0')
    dir = "/usr/share/zoneinfo";
  if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
    return -ENOENT;
  f = fopen(path, "rb");
  if (f == NULL)
    return -ENOENT;
  got = fread(magic, 1, sizeof(magic), f);
  fclose(f);
  /* A directory opens but reads nothing; a zone file starts with "TZif". */
  if (got != sizeof(magic) || memcmp(magic, "TZif", 4) != 0)
    return -ENOENT;
  return 0;
}

int64_t pw_calendar_local(int year, int month, int day, int hour, int min, int sec) {
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  return (int64_t)mktime(&tm);
}

int64_t pw_calendar_day_end(int year, int month, int day) {
  return pw_calendar_local(year, month, day + 1, 0, 0, 0);
}

static long gmtoff_at(int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;

  return localtime_r(&tt, &tm) != NULL ? tm.tm_gmtoff : 0;
}

/* The first change of the UTC offset inside month K (0-11) of year Y, by bisection between the
 * month's first and last instants (a zone changes its offset at most a few times a year). */
static void find_shift(struct pw_calendar *cal, int y, int k) {
  int i = y - PW_CAL_FIRST_YEAR;
  int64_t lo = cal->months[i][k];
  int64_t hi = k < 11 ? cal->months[i][k + 1] : cal->months[i + 1][0];
  long off_lo = gmtoff_at(lo), off_hi = gmtoff_at(hi - 1);

  /* A change and its undoing inside one month would be missed; no zone does that. */
  if (off_lo == off_hi)
    return;
  /* Invariant: offset at lo is off_lo, at hi - 1 it differs. */
  hi -= 1;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (gmtoff_at(mid) == off_lo)
      lo = mid;
    else
      hi = mid;
  }
  cal->shift_at[i][k] = hi;
  cal->shift[i][k] = (int32_t)(gmtoff_at(hi) - off_lo);
}

int64_t pw_calendar_month_start(const struct pw_calendar *cal, int year, int month) {
  if (month == 13) {
    year++;
    month = 1;
  }
  if (month < 1 || month > 12 || year < PW_CAL_FIRST_YEAR || year > PW_CAL_LAST_YEAR + 1)
    return -1;
  return cal->months[year - PW_CAL_FIRST_YEAR][month - 1];
}

int64_t pw_calendar_month_day_end(const struct pw_calendar *cal, int year, int month, int day) {
  int64_t start = pw_calendar_month_start(cal, year, month);
  int64_t next = pw_calendar_month_start(cal, year, month + 1);
  int64_t t;
  int i = year - PW_CAL_FIRST_YEAR;

  if (start < 0 || next < 0 || year > PW_CAL_LAST_YEAR)
    return -1;
  if (day < 1)
    day = 1;
  /* The month's length in days, whatever its offset changes (at most an hour or two). */
  if ((int64_t)day >= (next - start + 43200) / 86400)
    return next;
  t = start + (int64_t)day * 86400;
  /* Clocks that went forward by S seconds inside the month reach local midnight S earlier. */
  if (cal->shift_at[i][month - 1] != 0 && cal->shift_at[i][month - 1] < t)
    t -= cal->shift[i][month - 1];
  return t;
}

int pw_calendar_month_of(const struct pw_calendar *cal, int64_t t, int *year, int *month) {
  int lo = 0, hi = (PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 1) * 12 - 1;

  if (t < cal->months[0][0] || t >= cal->months[PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 1][0])
    return -ERANGE;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (cal->months[mid / 12][mid % 12] <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  *year = PW_CAL_FIRST_YEAR + lo / 12;
  *month = 1 + lo % 12;
  return 0;
}

int pw_calendar_init(struct pw_calendar *cal, const char *name) {
  int y;

  if (pw_calendar_zone_exists(name) < 0)
    return -ENOENT;
  if (setenv("TZ", name, 1) != 0)
    return -errno;
  tzset();
  memset(cal, 0, sizeof(*cal));
  snprintf(cal->tz, sizeof(cal->tz), "%s", name);
  for (y = PW_CAL_FIRST_YEAR; y <= PW_CAL_LAST_YEAR + 1; y++) {
    int k;
    for (k = 0; k < 4; k++)
      cal->starts[y - PW_CAL_FIRST_YEAR][k] = pw_calendar_local(y, 1 + 3 * k, 1, 0, 0, 0);
    for (k = 0; k < 12; k++)
      cal->months[y - PW_CAL_FIRST_YEAR][k] = pw_calendar_local(y, 1 + k, 1, 0, 0, 0);
  }
  for (y = PW_CAL_FIRST_YEAR; y <= PW_CAL_LAST_YEAR; y++) {
    int k;
    for (k = 0; k < 12; k++)
      find_shift(cal, y, k);
  }
  return 0;
}

/* Index of the year whose [T0, T4) holds T, by binary search over the precomputed starts. */
static int year_index(const struct pw_calendar *cal, int64_t t) {
  int lo = 0, hi = PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR;

  if (t < cal->starts[0][0] || t >= cal->starts[hi + 1][0])
    return -1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (cal->starts[mid][0] <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The index of the year of T by the - 1 s rule; -1 when out of range, INT64_MIN included (whose
 * "- 1 s" would overflow). */
static int year_index_of(const struct pw_calendar *cal, int64_t t) {
  return t == INT64_MIN ? -1 : year_index(cal, t - 1);
}

int pw_calendar_year_of(const struct pw_calendar *cal, int64_t t) {
  int i = year_index_of(cal, t);
  return i < 0 ? 0 : PW_CAL_FIRST_YEAR + i;
}

int pw_calendar_quarter_of(const struct pw_calendar *cal, int64_t t) {
  int i = year_index_of(cal, t);
  int q;

  if (i < 0)
    return 0;
  for (q = 3; q > 0; q--)
    if (cal->starts[i][q] <= t - 1)
      return q + 1;
  return 1;
}

int pw_calendar_bounds(const struct pw_calendar *cal, int year, int64_t bounds[5]) {
  int i = year - PW_CAL_FIRST_YEAR;

  if (i < 0 || i > PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR)
    return -ERANGE;
  memcpy(bounds, cal->starts[i], 4 * sizeof(int64_t));
  bounds[4] = cal->starts[i + 1][0];
  return 0;
}

char *pw_calendar_format(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)t;
  struct tm tm;
  long off;
  char sign;

  if (localtime_r(&tt, &tm) == NULL) {
    snprintf(buf, size, "%lld", (long long)t);
    return buf;
  }
  off = tm.tm_gmtoff;
  sign = off < 0 ? '-' : '+';
  if (off < 0)
    off = -off;
  snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600,
           (off % 3600) / 60);
  return buf;
}

/* Days from 1970-01-01 to Y-M-D in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t pw_calendar_utc(int year, int month, int day, int hour, int min, int sec) {
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}
