/*
 * fuzz_value: the grammar of figures, dates and durations (daemon/core/value.h) with the text
 * taken from the input (cut at a NUL byte, as a C string is), read in the demo's time zone
 * (Asia/Shanghai). Besides the sanitizers it checks: the results are the documented ones; a
 * figure read is finite, and pw_value_format writes it so that it reads back the same;
 * pw_value_is_not_published agrees with pw_value_parse; a date of the years pacewatch judges
 * (1970-2200) formatted with pw_calendar_format reads back as the same instant, and lies in a
 * year and quarter of the calendar; a duration is not negative.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "fuzz.h"
#include "value.h"

static struct pw_calendar cal;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (pw_calendar_init(&cal, "Asia/Shanghai") != 0)
    pw_fuzz_fail("value: no time zone Asia/Shanghai (tzdata)");
  return 0;
}

static void figure(const char *text) {
  char buf[64], zh[64];
  double v, back;
  int rc = pw_value_parse(text, &v);

  if (rc != 0 && rc != PW_VALUE_NOT_PUBLISHED && rc != -EINVAL)
    pw_fuzz_fail("value: pw_value_parse returned %d", rc);
  if ((rc == PW_VALUE_NOT_PUBLISHED) != (pw_value_is_not_published(text) == 1))
    pw_fuzz_fail("value: pw_value_parse returned %d but pw_value_is_not_published %d", rc,
                 pw_value_is_not_published(text));
  if (rc != 0)
    return;
  if (!isfinite(v))
    pw_fuzz_fail("value: '%s' read as a non-finite figure", text);
  pw_value_format(v, buf, sizeof(buf));
  if (pw_value_parse(buf, &back) != 0 || back != v)
    pw_fuzz_fail("value: '%s' read as %.17g, written '%s', which does not read back", text, v, buf);
  pw_value_format_zh(v, zh, sizeof(zh));
  if (memchr(zh, '\0', sizeof(zh)) == NULL)
    pw_fuzz_fail("value: pw_value_format_zh wrote no NUL");
}

static void date(const char *text) {
  static int64_t lo, hi;
  char buf[64];
  int64_t t, back;
  int rc = pw_date_parse(text, &t), year, quarter;

  if (lo == 0 && hi == 0) {
    lo = pw_calendar_utc(PW_CAL_FIRST_YEAR, 1, 1, 0, 0, 0);
    hi = pw_calendar_utc(PW_CAL_LAST_YEAR + 1, 1, 1, 0, 0, 0) - 86400;
  }
  if (rc != 0 && rc != -EINVAL)
    pw_fuzz_fail("value: pw_date_parse returned %d", rc);
  if (rc != 0)
    return;
  pw_calendar_format(t, buf, sizeof(buf));
  year = pw_calendar_year_of(&cal, t);
  quarter = pw_calendar_quarter_of(&cal, t);
  if ((year == 0) != (quarter == 0) || quarter < 0 || quarter > 4)
    pw_fuzz_fail("value: '%s' is in year %d, quarter %d", text, year, quarter);
  if (t < lo || t >= hi)
    return;
  if (year == 0)
    pw_fuzz_fail("value: '%s' (%s) is outside the calendar", text, buf);
  if (pw_date_parse(buf, &back) != 0 || back != t)
    pw_fuzz_fail("value: '%s' read as %lld, written '%s', which does not read back", text,
                 (long long)t, buf);
}

static void duration(const char *text) {
  int64_t s;
  int rc = pw_duration_parse(text, &s);

  if (rc != 0 && rc != -EINVAL)
    pw_fuzz_fail("value: pw_duration_parse returned %d", rc);
  if (rc == 0 && s < 0)
    pw_fuzz_fail("value: duration '%s' is %lld s", text, (long long)s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pw_fuzz_cstr(data, size);

  figure(text);
  date(text);
  duration(text);
  free(text);
  return 0;
}
