/*
 * Unit tests of admission on a real journal in a temporary state directory: the value rules
 * (grammar, not-published markers, finiteness, milestone stages by name and by index, numbers
 * for milestones read as their text), the +1 day rule at its boundary, what the journal holds
 * (no subnormal figure, as_of and fetched_at in the years 1971 to 2100, the reason naming the
 * field, what was admitted read back), the classification
 * (new, duplicate, revision of a stored as_of and of an earlier one, unchanged without an as_of
 * of its own and new again after a day; after the clock went back, confirmed against the sample
 * effective at the fetch time, not the latest stored), what is journaled and reported as touched,
 * refused samples counted as bad and not journaled, and verdict changes published once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "clock.h"
#include "config.h"
#include "journal.h"
#include "status.h"
#include "value.h"

static char dir[] = "/tmp/pw-test-admit-XXXXXX";
static struct pw_config *conf;

#define T0 1711900800 /* 2024-04-01T00:00:00+08:00 */
#define DAY 86400

static int setup(void **state) {
  char path[512], err[1024];
  FILE *f;

  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs("daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n"
        " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\";\n"
        "   targets = ( { year = 2024; annual = 100; } ); },\n"
        " { id = \"m\"; name = \"M\"; domain = \"d\"; kind = \"milestone\";\n"
        "   stages = [ \"未启动\", \"2\", \"完成\" ]; targets = ( ); },\n"
        " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"level\";\n"
        "   targets = ( { year = 2024; baseline = 0; annual = 10; } ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  pw_clock_simulate(T0 + 10 * DAY);
  return 0;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  pw_config_free(conf);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd);
}

/* What the callbacks saw. */
struct seen {
  int touched[8], revised[8];
  int verdicts, last_ind;
  enum pw_status old_status, new_status;
};

static void on_touched(void *data, int ind, int revised) {
  struct seen *s = data;

  s->touched[ind]++;
  s->revised[ind] += revised;
}

static void on_verdict(void *data, int ind, const struct pw_verdict *old_v,
                       const struct pw_verdict *new_v) {
  struct seen *s = data;

  s->verdicts++;
  s->last_ind = ind;
  s->old_status = old_v->status;
  s->new_status = new_v->status;
}

/* A fresh journal (the previous test's file removed) and an admission context over it. */
static struct pw_journal *fresh_journal(struct pw_admit *a, struct seen *seen) {
  struct pw_journal *j = NULL;
  char err[1024], jpath[600];

  snprintf(jpath, sizeof(jpath), "%s/journal/journal.tsv", conf->daemon.state_dir);
  unlink(jpath);
  if (pw_journal_open(conf, 1, &j, err, sizeof(err)) != 0)
    fail_msg("open: %s", err);
  memset(a, 0, sizeof(*a));
  memset(seen, 0, sizeof(*seen));
  a->conf = conf;
  a->journal = j;
  a->touched = on_touched;
  a->verdict_changed = on_verdict;
  a->data = seen;
  a->quiet = 1;
  return j;
}

static int admit(struct pw_admit *a, int ind, int64_t as_of, int own, double value,
                 int64_t fetched_at, struct pw_admit_stats *st) {
  struct pw_admit_sample s;

  s.ind = ind;
  s.as_of = as_of;
  s.own_as_of = own;
  s.value = value;
  s.fetched_at = fetched_at;
  s.source = "test";
  s.note = NULL;
  return pw_admit_sample(a, &s, st);
}

static int admit_noted(struct pw_admit *a, int64_t as_of, int own, double value, int64_t fetched_at,
                       const char *note, struct pw_admit_stats *st) {
  struct pw_admit_sample s;

  memset(&s, 0, sizeof(s));
  s.ind = 0;
  s.as_of = as_of;
  s.own_as_of = own;
  s.value = value;
  s.fetched_at = fetched_at;
  s.source = "test";
  s.note = note;
  return pw_admit_sample(a, &s, st);
}

/* A note changing alone (admit.h): the figure is a duplicate, not a revision, but the note is
 * journaled and replaces the stored one; a figure without a note leaves the note alone; the
 * same note again writes nothing; a confirmation without an as_of of its own (unchanged) gives
 * its note to the sample it confirms. */
static void test_notes(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_admit_stats st;
  struct pw_journal *j = fresh_journal(&a, &seen);
  const int64_t f = T0 + 5 * DAY;
  const struct pw_series *s = &j->series[0];

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(admit_noted(&a, T0, 1, 90, f, NULL, &st), PW_SAMPLE_NEW);
  assert_int_equal(admit_noted(&a, T0, 1, 90, f + 1, "纯托育机构39家", &st), PW_SAMPLE_DUPLICATE);
  assert_int_equal(st.fresh, 1);
  assert_int_equal(st.revisions, 0);
  assert_int_equal(st.duplicates, 1);
  assert_int_equal(st.notes, 1);
  assert_int_equal(seen.revised[0], 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->samples[0].note, "纯托育机构39家");
  /* The same note again, and no note: nothing journaled. */
  j->pending.len = 0;
  assert_int_equal(admit_noted(&a, T0, 1, 90, f + 2, "纯托育机构39家", &st), PW_SAMPLE_DUPLICATE);
  assert_int_equal(admit_noted(&a, T0, 1, 90, f + 2, NULL, &st), PW_SAMPLE_DUPLICATE);
  assert_int_equal(j->pending.len, 0);
  assert_int_equal(st.notes, 1);
  assert_string_equal(s->samples[0].note, "纯托育机构39家");
  /* The latest note wins. */
  assert_int_equal(admit_noted(&a, T0, 1, 90, f + 3, "排名全市第8", &st), PW_SAMPLE_DUPLICATE);
  assert_string_equal(s->samples[0].note, "排名全市第8");
  assert_int_equal(s->samples[0].rev, 0);
  assert_int_equal(st.notes, 2);
  assert_true(j->pending.len > 18);
  assert_memory_equal(j->pending.data + j->pending.len - 18, "\t排名全市第8\n", 18);
  /* A changed value with a note is a revision carrying it. */
  assert_int_equal(admit_noted(&a, T0, 1, 91, f + 4, "修订", &st), PW_SAMPLE_REVISION);
  assert_int_equal(s->n, 2);
  assert_string_equal(s->samples[1].note, "修订");
  /* Without an as_of of its own: an unchanged figure's note goes to the sample it confirms. */
  assert_int_equal(admit_noted(&a, T0 + 6 * DAY, 0, 92, T0 + 6 * DAY, NULL, &st), PW_SAMPLE_NEW);
  assert_int_equal(
      admit_noted(&a, T0 + 6 * DAY + 3600, 0, 92, T0 + 6 * DAY + 3600, "等待上级验收", &st),
      PW_SAMPLE_UNCHANGED);
  assert_int_equal(s->n, 3);
  assert_string_equal(s->samples[2].note, "等待上级验收");
  assert_int_equal(s->samples[2].as_of, T0 + 6 * DAY);
  assert_int_equal(st.notes, 3);
  pw_journal_close(j);
}

static void test_text_rules(void **state) {
  const struct pw_indicator *a = &conf->indicators[0], *m = &conf->indicators[1];
  double v;

  (void)state;
  assert_int_equal(pw_admit_text(a, "1,234", &v), 0);
  assert_true(v == 1234);
  assert_int_equal(pw_admit_text(a, "51.03万", &v), 0);
  assert_true(v == 510300);
  assert_int_equal(pw_admit_text(a, "87.45%", &v), 0);
  assert_true(v == 87.45);
  assert_int_equal(pw_admit_text(a, "未公布", &v), PW_ADMIT_NOT_PUBLISHED);
  assert_int_equal(pw_admit_text(a, "", &v), PW_ADMIT_NOT_PUBLISHED);
  assert_int_equal(pw_admit_text(a, "—", &v), PW_ADMIT_NOT_PUBLISHED);
  assert_int_equal(pw_admit_text(a, "abc", &v), -EINVAL);
  assert_int_equal(pw_admit_text(a, "NaN", &v), -EINVAL);
  assert_int_equal(pw_admit_text(a, "inf", &v), -EINVAL);
  /* Milestones: a stage name first (the stage named "2" is index 1), then an index. */
  assert_int_equal(pw_admit_text(m, "完成", &v), 0);
  assert_true(v == 2);
  assert_int_equal(pw_admit_text(m, "2", &v), 0);
  assert_true(v == 1);
  assert_int_equal(pw_admit_text(m, "0", &v), 0);
  assert_true(v == 0);
  assert_int_equal(pw_admit_text(m, "3", &v), -EINVAL);
  assert_int_equal(pw_admit_text(m, "1.5", &v), -EINVAL);
  assert_int_equal(pw_admit_text(m, "进行中", &v), -EINVAL);
  assert_int_equal(pw_admit_text(m, "暂无", &v), PW_ADMIT_NOT_PUBLISHED);
}

static void test_number_rules(void **state) {
  const struct pw_indicator *a = &conf->indicators[0], *m = &conf->indicators[1];
  double v;

  (void)state;
  assert_int_equal(pw_admit_number(a, -4.5, &v), 0);
  assert_true(v == -4.5);
  assert_int_equal(pw_admit_number(a, NAN, &v), -EDOM);
  assert_int_equal(pw_admit_number(a, INFINITY, &v), -EDOM);
  assert_int_equal(pw_admit_number(a, -INFINITY, &v), -EDOM);
  /* A subnormal is finite, but the journal cannot read it back (issue 12 item 8). */
  assert_int_equal(pw_admit_number(a, 5e-324, &v), -EDOM);
  assert_int_equal(pw_admit_number(a, -2e-310, &v), -EDOM);
  assert_int_equal(pw_admit_number(a, 2.3e-308, &v), 0);
  /* A number for a milestone reads as its text: 2 is the stage named "2". */
  assert_int_equal(pw_admit_number(m, 2, &v), 0);
  assert_true(v == 1);
  assert_int_equal(pw_admit_number(m, 0, &v), 0);
  assert_true(v == 0);
  assert_int_equal(pw_admit_number(m, 1.5, &v), -EINVAL);
  assert_int_equal(pw_admit_number(m, 3, &v), -EINVAL);
  assert_int_equal(pw_admit_number(m, -1, &v), -EINVAL);
  assert_int_equal(pw_admit_number(m, NAN, &v), -EDOM);
}

/* At most a day ahead of the moment of reception: +86400 s passes, +86401 s does not. */
static void test_as_of_boundary(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_admit_stats st;
  struct pw_journal *j = fresh_journal(&a, &seen);
  const int64_t now = T0 + 5 * DAY;

  (void)state;
  assert_int_equal(pw_admit_as_of(now + DAY, now), 0);
  assert_int_equal(pw_admit_as_of(now + DAY + 1, now), -ERANGE);
  assert_int_equal(pw_admit_as_of(now - 365 * DAY, now), 0);
  /* Outside the years kept, whichever of the two; no overflow near INT64_MAX. */
  assert_int_equal(pw_admit_as_of(1, now), -EOVERFLOW);
  assert_int_equal(pw_admit_as_of(now, INT64_MAX), -EOVERFLOW);
  assert_int_equal(pw_admit_as_of(INT64_MAX, INT64_MAX), -EOVERFLOW);
  assert_int_equal(pw_admit_as_of(INT64_MIN, now), -EOVERFLOW);
  memset(&st, 0, sizeof(st));
  assert_int_equal(admit(&a, 0, now + DAY + 1, 1, 5, now, &st), -ERANGE);
  assert_int_equal(st.bad, 1);
  assert_int_equal(j->series[0].n, 0);
  assert_int_equal(seen.touched[0], 0);
  assert_int_equal(admit(&a, 0, now + DAY, 1, 5, now, &st), PW_SAMPLE_NEW);
  assert_int_equal(st.fresh, 1);
  assert_int_equal(j->series[0].n, 1);
  pw_journal_close(j);
}

/* What the journal cannot hold is refused: a subnormal figure (5e-324 is written but not read
 * back), and an as_of or a fetched_at outside the years 1971 to 2100 (a Prometheus timestamp of
 * -2^63 ms, `record --as-of 0000000001`, INT64_MAX). Everything admitted reads back. */
static void test_what_the_journal_holds(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_admit_stats st;
  struct pw_journal *j = fresh_journal(&a, &seen);
  const int64_t f = T0 + 10 * DAY;
  struct pw_admit_sample s;
  char why[160], err[1024];
  double v;

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(pw_admit_text(&conf->indicators[0], "5e-324", &v), -EINVAL);
  assert_int_equal(admit(&a, 0, T0, 1, 5e-324, f, &st), -EDOM);
  assert_int_equal(admit(&a, 0, T0, 1, -4e-320, f, &st), -EDOM);
  assert_int_equal(admit(&a, 0, 1, 1, 5, f, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, -INT64_C(9223372036854775807) / 1000, 1, 5, f, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, -INT64_C(9223372036854775807), 1, 5, f, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, INT64_MAX, 1, 5, f, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, T0, 1, 5, INT64_MAX, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, T0, 1, 5, 0, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, PW_JOURNAL_TIME_MIN - 1, 1, 5, f, &st), -EOVERFLOW);
  assert_int_equal(admit(&a, 0, PW_JOURNAL_TIME_END, 1, 5, PW_JOURNAL_TIME_END - 1, &st),
                   -EOVERFLOW);
  assert_int_equal(st.bad, 10);
  assert_int_equal(j->series[0].n, 0);
  assert_int_equal(seen.touched[0], 0);
  /* The bounds themselves, and the smallest normal figure, are held. */
  assert_int_equal(admit(&a, 0, PW_JOURNAL_TIME_MIN, 1, 2.2250738585072014e-308, f, &st),
                   PW_SAMPLE_NEW);
  assert_int_equal(admit(&a, 0, PW_JOURNAL_TIME_END - 1, 1, -1.7976931348623157e308,
                         PW_JOURNAL_TIME_END - 1, &st),
                   PW_SAMPLE_NEW);
  /* The reason names the field. */
  s.ind = 0;
  s.as_of = 1;
  s.own_as_of = 1;
  s.value = 5;
  s.fetched_at = f;
  s.source = "x";
  s.note = NULL;
  assert_int_equal(pw_admit_check(&conf->indicators[0], &s, why, sizeof(why)), -EOVERFLOW);
  assert_non_null(strstr(why, "as_of 1970-01-01T08:00:01+08:00 is outside the years 1971 to 2100"));
  s.as_of = T0;
  s.fetched_at = INT64_MAX;
  assert_int_equal(pw_admit_check(&conf->indicators[0], &s, why, sizeof(why)), -EOVERFLOW);
  assert_non_null(strstr(why, "fetched_at"));
  s.fetched_at = f;
  s.value = 5e-324;
  assert_int_equal(pw_admit_check(&conf->indicators[0], &s, why, sizeof(why)), -EDOM);
  assert_non_null(strstr(why, "subnormal"));
  s.value = 5;
  assert_int_equal(pw_admit_check(&conf->indicators[0], &s, why, sizeof(why)), 0);
  /* What was admitted is read back, line for line. */
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  assert_int_equal(pw_journal_open(conf, 0, &j, err, sizeof(err)), 0);
  assert_int_equal(j->skipped, 0);
  assert_int_equal(j->series[0].n, 2);
  assert_true(j->series[0].samples[0].value == 2.2250738585072014e-308);
  assert_true(j->series[0].samples[1].as_of == PW_JOURNAL_TIME_END - 1);
  assert_true(j->series[0].samples[1].fetched_at == PW_JOURNAL_TIME_END - 1);
  pw_journal_close(j);
}

static void test_classification(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_admit_stats st;
  struct pw_journal *j = fresh_journal(&a, &seen);
  const int64_t f = T0 + 10 * DAY;

  (void)state;
  memset(&st, 0, sizeof(st));
  /* New, then the same again: a duplicate, neither journaled nor touched. */
  assert_int_equal(admit(&a, 0, T0, 1, 10, f, &st), PW_SAMPLE_NEW);
  assert_int_equal(seen.touched[0], 1);
  assert_int_equal(seen.revised[0], 0);
  assert_int_equal(admit(&a, 0, T0, 1, 10, f, &st), PW_SAMPLE_DUPLICATE);
  assert_int_equal(seen.touched[0], 1);
  assert_int_equal(j->series[0].n, 1);
  /* A changed value for the stored as_of, and a value for an earlier as_of: revisions. */
  assert_int_equal(admit(&a, 0, T0, 1, 11, f, &st), PW_SAMPLE_REVISION);
  assert_int_equal(seen.revised[0], 1);
  assert_int_equal(admit(&a, 0, T0 - DAY, 1, 9, f, &st), PW_SAMPLE_REVISION);
  assert_int_equal(seen.revised[0], 2);
  assert_int_equal(j->series[0].n, 3);
  assert_int_equal(j->series[0].samples[2].rev, 0);
  assert_int_equal(j->series[0].samples[1].rev, 1);
  /* Without an as_of of its own: the same value within a day is unchanged (nothing stored),
   * after a day it is new (a confirmation). */
  assert_int_equal(admit(&a, 2, T0 + 3600, 0, 4, T0 + 3600, &st), PW_SAMPLE_NEW);
  assert_int_equal(admit(&a, 2, T0 + 3600 + DAY - 1, 0, 4, T0 + 3600 + DAY - 1, &st),
                   PW_SAMPLE_UNCHANGED);
  assert_int_equal(admit(&a, 2, T0 + 3600 + DAY, 0, 4, T0 + 3600 + DAY, &st), PW_SAMPLE_NEW);
  assert_int_equal(admit(&a, 2, T0 + 3600 + DAY + 60, 0, 5, T0 + 3600 + DAY + 60, &st),
                   PW_SAMPLE_NEW);
  assert_int_equal(j->series[2].n, 3);
  /* Refused: not finite, not a stage. */
  assert_int_equal(admit(&a, 0, T0 + DAY, 1, NAN, f, &st), -EDOM);
  assert_int_equal(admit(&a, 1, T0 + DAY, 1, 1.5, f, &st), -EINVAL);
  assert_int_equal(admit(&a, 1, T0 + DAY, 1, 3, f, &st), -EINVAL);
  assert_int_equal(admit(&a, 1, T0 + DAY, 1, 2, f, &st), PW_SAMPLE_NEW);
  assert_int_equal(st.fresh, 5);
  assert_int_equal(st.duplicates, 1);
  assert_int_equal(st.revisions, 2);
  assert_int_equal(st.unchanged, 1);
  assert_int_equal(st.bad, 3);
  /* What was accepted is pending in the journal, and survives a commit and a reopen. */
  assert_int_equal(j->lines, 7);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  {
    char err[1024];
    assert_int_equal(pw_journal_open(conf, 0, &j, err, sizeof(err)), 0);
    assert_int_equal(j->series[0].n, 3);
    assert_int_equal(j->series[1].n, 1);
    assert_true(j->series[1].samples[0].value == 2);
    assert_int_equal(j->series[2].n, 3);
    pw_journal_close(j);
  }
}

/* After the clock went back: a journal written under a clock of 2030 holds a sample without a
 * date of its own "from the future". Polls at 2024 without their own date are confirmed against
 * the sample effective at their fetch time, not against that future one: an unchanged figure is
 * not stored (and not taken for a revision) at every poll, and a figure going back to the value
 * of the future sample is stored. */
static void test_clock_went_back(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_admit_stats st;
  struct pw_journal *j = fresh_journal(&a, &seen);
  const int64_t future = 1893456000; /* 2030-01-01T00:00:00+08:00 */
  const int64_t t = T0 + 3600;

  (void)state;
  memset(&st, 0, sizeof(st));
  assert_int_equal(admit(&a, 2, future, 0, 5, future, &st), PW_SAMPLE_NEW);
  assert_int_equal(seen.revised[2], 0);
  /* Back in 2024: nothing was known then, so the first figure is stored, as a new figure (it
   * revises nothing: the future one was not known at its time; issue 12 item 3 counted it, and
   * every change after it, as a revision). Being dated before the stored future one, it has
   * the RRD file regenerated. */
  assert_int_equal(admit(&a, 2, t, 0, 7, t, &st), PW_SAMPLE_NEW);
  assert_int_equal(seen.revised[2], 1);
  /* The same figure a minute later, an hour later: unchanged, nothing stored. */
  assert_int_equal(admit(&a, 2, t + 60, 0, 7, t + 60, &st), PW_SAMPLE_UNCHANGED);
  assert_int_equal(admit(&a, 2, t + 3600, 0, 7, t + 3600, &st), PW_SAMPLE_UNCHANGED);
  /* Back to the future sample's value: a change, stored, new. */
  assert_int_equal(admit(&a, 2, t + 7200, 0, 5, t + 7200, &st), PW_SAMPLE_NEW);
  assert_int_equal(admit(&a, 2, t + 7260, 0, 5, t + 7260, &st), PW_SAMPLE_UNCHANGED);
  /* A day later the unchanged figure is confirmed once. */
  assert_int_equal(admit(&a, 2, t + 7200 + DAY, 0, 5, t + 7200 + DAY, &st), PW_SAMPLE_NEW);
  assert_int_equal(j->series[2].n, 4);
  assert_int_equal(st.unchanged, 3);
  assert_int_equal(st.revisions, 0);
  assert_int_equal(seen.revised[2], 3);
  /* A revision journaled under the later clock (fetched in 2030, of a 2024 as_of) was not known
   * in 2024 either: the figure stored before it is what a poll of 2024 is compared with. */
  assert_int_equal(admit(&a, 2, t, 1, 8, future, &st), PW_SAMPLE_REVISION);
  assert_int_equal(admit(&a, 2, t + 1800, 0, 7, t + 1800, &st), PW_SAMPLE_UNCHANGED);
  /* Samples with their own date are classified as before. */
  assert_int_equal(admit(&a, 0, future, 1, 5, future, &st), PW_SAMPLE_NEW);
  assert_int_equal(admit(&a, 0, T0, 1, 5, t, &st), PW_SAMPLE_REVISION);
  assert_int_equal(admit(&a, 0, T0, 1, 5, t + 60, &st), PW_SAMPLE_DUPLICATE);
  pw_journal_close(j);
}

/* With verdicts kept, a sample that changes the status publishes it once; a duplicate and a
 * re-evaluation without change publish nothing. Without verdicts nothing is judged. */
static void test_verdicts(void **state) {
  struct pw_admit a;
  struct seen seen;
  struct pw_journal *j = fresh_journal(&a, &seen);
  struct pw_verdict v[3];
  int i;

  (void)state;
  assert_int_equal(admit(&a, 0, T0, 1, 1, T0, NULL), PW_SAMPLE_NEW);
  assert_int_equal(seen.verdicts, 0); /* no verdicts kept: nothing judged */
  for (i = 0; i < 3; i++)
    pw_status_judge(conf, j->series, i, pw_clock_now(), &v[i]);
  a.verdicts = v;
  assert_int_equal(v[2].status, PW_STATUS_NO_DATA);
  assert_int_equal(admit(&a, 2, T0 + DAY, 1, 10, T0 + DAY, NULL), PW_SAMPLE_NEW);
  assert_int_equal(seen.verdicts, 1);
  assert_int_equal(seen.last_ind, 2);
  assert_int_equal(seen.old_status, PW_STATUS_NO_DATA);
  assert_int_not_equal(seen.new_status, PW_STATUS_NO_DATA);
  assert_int_equal(v[2].status, seen.new_status);
  assert_int_equal(admit(&a, 2, T0 + DAY, 1, 10, T0 + DAY, NULL), PW_SAMPLE_DUPLICATE);
  pw_admit_evaluate_all(&a);
  assert_int_equal(seen.verdicts, 1);
  pw_journal_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_rules),     cmocka_unit_test(test_number_rules),
      cmocka_unit_test(test_as_of_boundary), cmocka_unit_test(test_what_the_journal_holds),
      cmocka_unit_test(test_classification), cmocka_unit_test(test_clock_went_back),
      cmocka_unit_test(test_verdicts),       cmocka_unit_test(test_notes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
