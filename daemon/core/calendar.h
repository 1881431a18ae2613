/*
 * calendar: the configured time zone turned into instants. The zone is process-wide (glibc
 * has no per-call zone), so it is set once, by pw_calendar_init, and everything else (judge
 * in particular) works on the precomputed instants of year and quarter boundaries and never
 * calls localtime itself.
 */
#ifndef PW_CALENDAR_H
#define PW_CALENDAR_H

#include <stdint.h>
#include <stddef.h>

#define PW_CAL_FIRST_YEAR 1970
#define PW_CAL_LAST_YEAR 2200

struct pw_calendar {
  char tz[128];
  /* starts[y - PW_CAL_FIRST_YEAR][k] = instant of local 00:00 on YYYY-01-01 (k=0), -04-01 (1),
   * -07-01 (2), -10-01 (3). The end of year y (T4) is starts[y + 1][0]. */
  int64_t starts[PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 2][4];
  /* months[y - PW_CAL_FIRST_YEAR][m - 1] = instant of local 00:00 on the 1st of month m; and the
   * first change of the zone's UTC offset inside that month (0 = none) with its size in seconds
   * (positive when the clocks go forward), so that a day inside a month is found without the
   * zone database (pw_calendar_month_day_end). */
  int64_t months[PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 2][12];
  int64_t shift_at[PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 2][12];
  int32_t shift[PW_CAL_LAST_YEAR - PW_CAL_FIRST_YEAR + 2][12];
};

/* Returns 0 if NAME is a zone in the system's zone database, else -ENOENT. */
int pw_calendar_zone_exists(const char *name);

/* Sets the process time zone to NAME (TZ + tzset) and fills CAL. Returns 0, or -ENOENT for a
 * zone that does not exist. Call from the main thread before other threads start. */
int pw_calendar_init(struct pw_calendar *cal, const char *name);

/* The year of instant T: that of T - 1 s, so a period's end still belongs to it. Returns 0 when
 * T is outside the supported range. */
int pw_calendar_year_of(const struct pw_calendar *cal, int64_t t);

/* The quarter (1-4) of T, by the same - 1 s rule. */
int pw_calendar_quarter_of(const struct pw_calendar *cal, int64_t t);

/* T0..T4 of YEAR into BOUNDS[5]. Returns 0 or -ERANGE. */
int pw_calendar_bounds(const struct pw_calendar *cal, int year, int64_t bounds[5]);

/* The instant of local 00:00 on the 1st of month MONTH (1-12; 13 is January of YEAR + 1) of
 * YEAR, or -1 outside the supported years. Pure (reads CAL only). */
int64_t pw_calendar_month_start(const struct pw_calendar *cal, int year, int month);

/* The end of day DAY of month MONTH of YEAR (local 00:00 of the next day), DAY clamped to the
 * month's last day (day 31 of April is April 30); -1 outside the supported years. Pure: a change
 * of the zone's offset inside the month (summer time) is taken from CAL. */
int64_t pw_calendar_month_day_end(const struct pw_calendar *cal, int year, int month, int day);

/* The year and month (1-12) of the month holding instant T ([1st 00:00, next 1st 00:00)), into
 * *YEAR and *MONTH. Returns 0, or -ERANGE outside the supported years. Pure. */
int pw_calendar_month_of(const struct pw_calendar *cal, int64_t t, int *year, int *month);

/* Local 00:00 of the day after Y-M-D (the "end" of that day); M and D are normalised as by
 * mktime, so day 0 of month M+1 is the last day of M. Uses the process zone. */
int64_t pw_calendar_day_end(int year, int month, int day);

/* The instant of local time Y-M-D h:m:s in the process zone. */
int64_t pw_calendar_local(int year, int month, int day, int hour, int min, int sec);

/* Formats T as ISO 8601 with the process zone's offset ("2024-04-01T00:00:00+08:00") into
 * BUF (at least 32 bytes). Returns BUF. */
char *pw_calendar_format(int64_t t, char *buf, size_t size);

/* The instant for a proleptic Gregorian UTC date-time (no zone involved). */
int64_t pw_calendar_utc(int year, int month, int day, int hour, int min, int sec);

#endif
