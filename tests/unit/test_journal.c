/*
 * Unit tests of journal: classification (duplicates, confirmations, revisions), revision
 * numbering, durable reload, torn and malformed lines, samples of unknown indicators, the
 * state lock, milestone values by stage name, and a reload's load on the side caught up with
 * the lines committed meanwhile (each exactly once, a torn or half-written last line included);
 * retraction and explanation lines, and what status makes of them.
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

#include "calendar.h"
#include "config.h"
#include "journal.h"
#include "status.h"
#include "value.h"

static char dir[] = "/tmp/pw-test-journal-XXXXXX";
static char path[512], path2[512], jpath[600];
static struct pw_config *conf, *conf2;

static int setup(void **state) {
  FILE *f;
  char err[1024];

  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  snprintf(jpath, sizeof(jpath), "%s/state/journal/journal.tsv", dir);
  f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs("daemon: { state_dir = \"state\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n"
        " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\"; targets = ( ); },\n"
        " { id = \"m\"; name = \"M\"; domain = \"d\"; kind = \"milestone\";\n"
        "   stages = [ \"未启动\", \"2\", \"完成\" ]; targets = ( ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  /* The configuration after a reload: `b` is new, `m` is gone. */
  snprintf(path2, sizeof(path2), "%s/pw2.conf", dir);
  f = fopen(path2, "w");
  if (f == NULL)
    return -1;
  fputs("daemon: { state_dir = \"state\"; };\n"
        "domains = ( { id = \"d\"; name = \"D\"; } );\n"
        "indicators = (\n"
        " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"cumulative\"; targets = ( ); },\n"
        " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\"; targets = ( ); } );\n",
        f);
  fclose(f);
  if (pw_config_load(path2, &conf2, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  char cmd[600];

  (void)state;
  pw_config_free(conf);
  pw_config_free(conf2);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd);
}

static struct pw_journal *open_j(int writable) {
  struct pw_journal *j = NULL;
  char err[1024];

  if (pw_journal_open(conf, writable, &j, err, sizeof(err)) != 0)
    fail_msg("open: %s", err);
  return j;
}

static void test_classify_and_reload(void **state) {
  struct pw_journal *j;
  int lock = pw_state_lock(conf->daemon.state_dir);
  const int64_t d = 86400, t = 1711900800; /* 2024-04-01T00:00+08:00 */

  assert_true(lock >= 0);
  /* A second lock on the same directory is refused while the first is held. */
  assert_int_equal(pw_state_lock(conf->daemon.state_dir), -EWOULDBLOCK);
  j = open_j(1);
  assert_int_equal(pw_journal_classify(j, 0, t, 5, 1), PW_SAMPLE_NEW);
  assert_int_equal(pw_journal_add(j, 0, t, 5, t + 10, "import"), 0);
  assert_int_equal(pw_journal_classify(j, 0, t, 5, 1), PW_SAMPLE_DUPLICATE);
  assert_int_equal(pw_journal_classify(j, 0, t, 6, 1), PW_SAMPLE_REVISION);
  assert_int_equal(pw_journal_classify(j, 0, t - d, 6, 1), PW_SAMPLE_REVISION);
  assert_int_equal(pw_journal_classify(j, 0, t + d, 5, 1), PW_SAMPLE_NEW);
  /* Without an own as_of, the same value within a day is not stored; a day later it is. */
  assert_int_equal(pw_journal_classify(j, 0, t + d - 1, 5, 0), PW_SAMPLE_UNCHANGED);
  assert_int_equal(pw_journal_classify(j, 0, t + d, 5, 0), PW_SAMPLE_NEW);
  assert_int_equal(pw_journal_classify(j, 0, t + 60, 7, 0), PW_SAMPLE_NEW);
  assert_int_equal(pw_journal_add(j, 0, t, 6, t + 20, "import"), 0);
  assert_int_equal(pw_journal_add(j, 0, t - d, 1, t + 20, "import"), 0);
  assert_int_equal(pw_journal_add(j, 0, t, 7, t + 30, "record"), 0);
  assert_int_equal(pw_journal_add(j, 1, t, 2, t + 30, "record"), 0);
  assert_int_equal(j->series[0].samples[1].rev, 1);
  assert_int_equal(j->series[0].samples[2].rev, 0);
  assert_int_equal(j->series[0].samples[3].rev, 2);
  /* The newest revision now is 7: 6 is no longer a duplicate, 7 is. */
  assert_int_equal(pw_journal_classify(j, 0, t, 6, 1), PW_SAMPLE_REVISION);
  assert_int_equal(pw_journal_classify(j, 0, t, 7, 1), PW_SAMPLE_DUPLICATE);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  close(lock);

  j = open_j(0);
  assert_int_equal(j->series[0].n, 4);
  assert_int_equal(j->series[1].n, 1);
  assert_int_equal(j->series[0].samples[3].rev, 2);
  assert_true(j->series[0].samples[3].value == 7);
  assert_int_equal(j->series[0].samples[3].fetched_at, t + 30);
  assert_int_equal(j->series[0].samples[2].as_of, t - d);
  assert_int_equal(j->skipped, 0);
  pw_journal_close(j);
}

static void append_raw(const char *text) {
  FILE *f = fopen(jpath, "a");

  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Notes (docs/storage.md): the sixth column round-trips; lines of five columns (journals
 * written before notes) still load, without a note; a line that repeats the newest value of its
 * as_of is a note line, not a revision, and the latest note wins; a line without a note leaves
 * the note alone; a note that is not clean text is dropped, the figure kept; a snapshot owns
 * copies of the notes. */
static void test_notes(void **state) {
  struct pw_journal *j, *snap;
  const struct pw_series *s;
  const struct pw_sample *x;
  const int64_t t = 1711900800, d = 86400;
  int lock;
  FILE *f;
  char *text = NULL;
  size_t len = 0;

  (void)state;
  unlink(jpath);
  /* An old journal: five columns, no note. */
  append_raw("# pacewatch journal v1: as_of\tindicator\tvalue\tfetched_at\tsource\n"
             "2024-04-01T00:00:00+08:00\ta\t5\t2024-04-02T00:00:00+08:00\timport\n");
  lock = pw_state_lock(conf->daemon.state_dir);
  assert_true(lock >= 0);
  j = open_j(1);
  s = &j->series[0];
  assert_int_equal(s->n, 1);
  assert_null(s->samples[0].note);
  assert_int_equal(j->skipped, 0);
  /* A note for the same value: a note line, no revision. */
  assert_int_equal(
      pw_journal_add_noted(j, 0, t, 5, t + d, "record", "备案机构90家（纯托育机构39家）"), 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->samples[0].note, "备案机构90家（纯托育机构39家）");
  assert_int_equal(s->samples[0].rev, 0);
  /* The latest note wins; a line without one changes nothing. */
  assert_int_equal(pw_journal_add_noted(j, 0, t, 5, t + 2 * d, "record", "排名全市第8"), 0);
  assert_int_equal(pw_journal_add_noted(j, 0, t, 5, t + 2 * d, "record", NULL), 0);
  assert_int_equal(s->n, 1);
  assert_string_equal(s->samples[0].note, "排名全市第8");
  /* A revision with a note, and a new as_of whose note has a tab and a newline in it. */
  assert_int_equal(pw_journal_add_noted(j, 0, t, 6, t + 3 * d, "import", "修订"), 0);
  assert_int_equal(pw_journal_add_noted(j, 0, t + d, 7, t + 3 * d, "s", "a\tb\nc\x01"), 0);
  assert_int_equal(s->n, 3);
  assert_int_equal(s->samples[1].rev, 1);
  assert_string_equal(s->samples[1].note, "修订");
  assert_string_equal(s->samples[0].note, "排名全市第8"); /* revision 0 keeps its own */
  assert_string_equal(s->samples[2].note, "a b c");
  x = pw_journal_find(j, 0, t);
  assert_ptr_equal(x, &s->samples[1]);
  assert_null(pw_journal_find(j, 0, t - d));
  assert_ptr_equal(pw_journal_effective(j, 0, t + d + 60), &s->samples[2]);
  /* A note longer than PW_NOTE_MAX characters is refused whole. */
  {
    char big[PW_NOTE_MAX * 3 + 8];
    size_t k;
    for (k = 0; k < PW_NOTE_MAX + 1; k++)
      memcpy(big + 3 * k, "字", 3);
    big[3 * (PW_NOTE_MAX + 1)] = '\0';
    assert_int_equal(pw_journal_add_noted(j, 0, t + 2 * d, 1, t + 3 * d, "s", big), -E2BIG);
    big[3 * PW_NOTE_MAX] = '\0';
    assert_int_equal(pw_journal_add_noted(j, 0, t + 2 * d, 1, t + 3 * d, "s", big), 0);
    assert_int_equal(strlen(s->samples[3].note), 3 * PW_NOTE_MAX);
  }
  snap = pw_journal_snapshot(j);
  assert_non_null(snap);
  assert_ptr_not_equal(snap->series[0].samples[1].note, s->samples[1].note);
  assert_string_equal(snap->series[0].samples[1].note, "修订");
  assert_int_equal(pw_journal_add_noted(j, 0, t, 6, t + 4 * d, "s", "再改"), 0);
  assert_string_equal(snap->series[0].samples[1].note, "修订");
  pw_journal_close(snap);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  close(lock);

  /* The file: a note is the sixth field; a line without one has five. */
  assert_int_equal(pw_read_file(jpath, 0, &text, &len), 0);
  assert_non_null(strstr(text, "\timport\n2024-04-01T00:00:00+08:00\ta\t5\t"));
  assert_non_null(strstr(text, "\trecord\t排名全市第8\n"));
  assert_non_null(strstr(text, "\ts\ta b c\n"));
  free(text);

  /* Read back: the same notes, no revision made by a note line; bad notes dropped. */
  f = fopen(jpath, "a");
  assert_non_null(f);
  fputs("2024-04-03T00:00:00+08:00\ta\t1\t2024-04-05T00:00:00+08:00\ts\t\xff\xfe\n", f);
  fputs("2024-04-05T00:00:00+08:00\ta\t2\t2024-04-05T00:00:00+08:00\ts\t\n", f);
  fclose(f);
  j = open_j(0);
  s = &j->series[0];
  assert_int_equal(j->skipped, 0);
  assert_int_equal(s->n, 5);
  assert_string_equal(s->samples[0].note, "排名全市第8");
  assert_int_equal(s->samples[1].rev, 1);
  assert_string_equal(s->samples[1].note, "再改");
  assert_string_equal(s->samples[2].note, "a b c");
  assert_int_equal(strlen(s->samples[3].note), 3 * PW_NOTE_MAX); /* kept over the bad one */
  assert_null(s->samples[4].note);
  pw_journal_close(j);
}

static void test_torn_and_foreign_lines(void **state) {
  struct pw_journal *j;
  size_t before;

  j = open_j(0);
  before = j->series[0].n;
  pw_journal_close(j);
  append_raw("2024-05-01T00:00:00+08:00\tgone\t1\t2024-05-01T00:00:00+08:00\timport\n");
  append_raw("garbage line\n");
  append_raw("2024-05-01T00:00:00+08:00\ta\t1"); /* torn: no newline */
  j = open_j(1);
  assert_int_equal(j->series[0].n, before);
  assert_int_equal(j->skipped, 2);
  assert_int_equal(j->foreign, 1);
  /* The next append starts on a line of its own. */
  assert_int_equal(pw_journal_add(j, 0, 1714579200 + 86400, 9, 1714579200, "record"), 0);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  j = open_j(0);
  assert_int_equal(j->series[0].n, before + 1);
  assert_true(j->series[0].samples[before].value == 9);
  assert_int_equal(j->skipped, 2); /* the torn line, now complete but malformed, and garbage */
  pw_journal_close(j);
}

/* Figures read back exactly as strtod reads them, whichever path the loader takes: plain
 * decimals (its fast path), long ones, exponents, and what pw_journal_add writes for random
 * doubles (the shortest text that reads back). */
static void test_values_read_back_exactly(void **state) {
  static const char *texts[] = {"0",
                                "12.50",
                                "-0.125",
                                "0.1",
                                "1e3",
                                "-0",
                                "999999999999999",
                                "1234567890123456789",
                                "3.14159265358979",
                                "0.000001",
                                "5.",
                                "42.000000000000001"};
  struct pw_journal *j;
  double want[64];
  size_t before, i, n = sizeof(texts) / sizeof(texts[0]);
  int64_t t0 = 1893456000; /* 2030: after everything else in this journal */
  char line[256];

  (void)state;
  j = open_j(0);
  before = j->series[0].n;
  pw_journal_close(j);
  for (i = 0; i < n; i++) {
    int64_t as_of = t0 + (int64_t)i * 86400;
    char stamp[40];
    want[i] = strtod(texts[i], NULL);
    pw_calendar_format(as_of, stamp, sizeof(stamp));
    snprintf(line, sizeof(line), "%s\ta\t%s\t%s\timport\n", stamp, texts[i], stamp);
    append_raw(line);
  }
  srand(7);
  j = open_j(1);
  for (i = n; i < 64; i++) {
    want[i] = ((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 30 - 10);
    assert_int_equal(pw_journal_add(j, 0, t0 + (int64_t)i * 86400, want[i], t0, "record"), 0);
  }
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  j = open_j(0);
  assert_int_equal(j->series[0].n, before + 64);
  for (i = 0; i < 64; i++) {
    double got = j->series[0].samples[before + i].value;
    if (memcmp(&got, &want[i], sizeof(got)) != 0)
      fail_msg("value %zu: read %.17g, want %.17g", i, got, want[i]);
  }
  pw_journal_close(j);
}

static void test_milestone_values(void **state) {
  const struct pw_indicator *m = &conf->indicators[1];
  double v;

  assert_int_equal(pw_sample_value_parse(m, "完成", &v), 0);
  assert_true(v == 2);
  /* A stage named "2" is matched by name before being read as a number. */
  assert_int_equal(pw_sample_value_parse(m, "2", &v), 0);
  assert_true(v == 1);
  assert_int_equal(pw_sample_value_parse(m, "0", &v), 0);
  assert_true(v == 0);
  assert_int_equal(pw_sample_value_parse(m, "3", &v), -EINVAL);
  assert_int_equal(pw_sample_value_parse(m, "1.5", &v), -EINVAL);
  assert_int_equal(pw_sample_value_parse(m, "进行中", &v), -EINVAL);
  assert_int_equal(pw_sample_value_parse(m, "未公布", &v), PW_VALUE_NOT_PUBLISHED);
  assert_int_equal(pw_sample_value_parse(&conf->indicators[0], "1,234", &v), 0);
  assert_true(v == 1234);
}

/* An indicator field holding an id and then NUL bytes (a block of zeros a crash left in the
 * file) names no indicator: the line is not read as one of "a", and nothing past the id's own
 * bytes is compared. */
static void test_nul_in_indicator(void **state) {
  static const char line[] =
      "2024-05-02T00:00:00+08:00\ta\0\0\0\0\t37775\t2024-05-02T09:00:00+08:00\timport\n";
  struct pw_journal *j;
  size_t before;
  uint64_t foreign;
  FILE *f;

  (void)state;
  j = open_j(0);
  before = j->series[0].n;
  foreign = j->foreign;
  pw_journal_close(j);
  f = fopen(jpath, "a");
  assert_non_null(f);
  assert_int_equal(fwrite(line, 1, sizeof(line) - 1, f), sizeof(line) - 1);
  fclose(f);
  j = open_j(0);
  assert_int_equal(j->series[0].n, before);
  assert_int_equal(j->foreign, foreign + 1);
  pw_journal_close(j);
}

/* J holds what a fresh load of the file for the same configuration holds: every sample once,
 * in the same order, with the same counts (and, unless J wrote lines of its own, has read as
 * far). */
static void assert_same_as_fresh_load(const struct pw_journal *j, int wrote) {
  struct pw_journal *f = NULL;
  char err[1024];
  int i;

  if (pw_journal_open(j->conf, 0, &f, err, sizeof(err)) != 0)
    fail_msg("open: %s", err);
  assert_int_equal(j->lines, f->lines);
  assert_int_equal(j->skipped, f->skipped);
  assert_int_equal(j->foreign, f->foreign);
  if (!wrote)
    assert_int_equal(j->loaded_to, f->loaded_to);
  for (i = 0; i < f->n_series; i++) {
    size_t k;
    assert_int_equal(j->series[i].n, f->series[i].n);
    for (k = 0; k < f->series[i].n; k++) {
      assert_int_equal(j->series[i].samples[k].as_of, f->series[i].samples[k].as_of);
      assert_true(j->series[i].samples[k].value == f->series[i].samples[k].value);
      assert_int_equal(j->series[i].samples[k].rev, f->series[i].samples[k].rev);
    }
  }
  pw_journal_close(f);
}

/* A reload: the journal for the new configuration is loaded on the side while the running one
 * goes on committing; the catch-up adds exactly the lines committed meanwhile, and the caught-up
 * journal takes over the file. */
static void test_catch_up(void **state) {
  struct pw_journal *running, *loaded = NULL;
  const int64_t d = 86400, t0 = 1924992000; /* 2031: after everything else in this journal */
  char err[1024];
  size_t na;
  int i;

  (void)state;
  running = open_j(1);
  for (i = 0; i < 3; i++)
    assert_int_equal(pw_journal_add(running, 0, t0 + i * d, 100 + i, t0, "s"), 0);
  assert_int_equal(pw_journal_commit(running), 0);
  if (pw_journal_open(conf2, 0, &loaded, err, sizeof(err)) != 0)
    fail_msg("load: %s", err);
  assert_int_equal(loaded->fd, -1);
  na = loaded->series[1].n;
  /* Committed by the running journal while the new one was loading: two of `a` (one a
   * revision), one of `m`, which the new configuration no longer has. */
  assert_int_equal(pw_journal_add(running, 0, t0 + 3 * d, 103, t0, "s"), 0);
  assert_int_equal(pw_journal_add(running, 0, t0 + 1 * d, 111, t0, "s"), 0);
  assert_int_equal(pw_journal_add(running, 1, t0, 1, t0, "s"), 0);
  assert_int_equal(pw_journal_commit(running), 0);
  if (pw_journal_catch_up(loaded, 1, err, sizeof(err)) != 0)
    fail_msg("catch up: %s", err);
  assert_true(loaded->fd >= 0);
  assert_int_equal(loaded->series[1].n, na + 2);
  assert_int_equal(loaded->series[1].samples[na].as_of, t0 + 3 * d);
  assert_int_equal(loaded->series[1].samples[na + 1].as_of, t0 + 1 * d);
  assert_int_equal(loaded->series[1].samples[na + 1].rev, 1);
  assert_same_as_fresh_load(loaded, 0);
  /* Nothing new: a second catch-up changes nothing. */
  if (pw_journal_catch_up(loaded, 1, err, sizeof(err)) != 0)
    fail_msg("catch up: %s", err);
  assert_same_as_fresh_load(loaded, 0);
  /* The caught-up journal takes over: its lines follow the running one's. */
  pw_journal_close(running);
  assert_int_equal(pw_journal_add(loaded, 0, t0 + 4 * d, 7, t0, "s"), 0);
  assert_int_equal(pw_journal_commit(loaded), 0);
  assert_same_as_fresh_load(loaded, 1);
  assert_int_equal(loaded->series[0].n, 1);
  pw_journal_close(loaded);
}

/* The file ends in an incomplete line when the new journal loads: a torn line that the running
 * journal then closes, or a line that was being written and is complete by the catch-up. Each
 * is judged once, as a fresh load judges it. */
static void test_catch_up_torn(void **state) {
  struct pw_journal *running, *loaded = NULL;
  const int64_t t0 = 1956528000; /* 2032 */
  char err[1024], stamp[40], line[256];
  size_t na;

  (void)state;
  pw_calendar_format(t0, stamp, sizeof(stamp));
  append_raw("2031-05-01T00:00:00+08:00	a	1"); /* torn by a crash */
  running = open_j(1);
  if (pw_journal_open(conf2, 0, &loaded, err, sizeof(err)) != 0)
    fail_msg("load: %s", err);
  na = loaded->series[1].n;
  assert_int_equal(pw_journal_add(running, 0, t0, 5, t0, "s"), 0);
  assert_int_equal(pw_journal_commit(running), 0);
  if (pw_journal_catch_up(loaded, 0, err, sizeof(err)) != 0)
    fail_msg("catch up: %s", err);
  assert_int_equal(loaded->series[1].n, na + 1);
  assert_int_equal(loaded->needs_newline, 0);
  assert_same_as_fresh_load(loaded, 0);
  pw_journal_close(loaded);
  pw_journal_close(running);

  /* Half a line when the new journal loads, the rest by the catch-up. */
  snprintf(line, sizeof(line), "%s	a	6	%s	im", stamp, stamp);
  append_raw(line);
  if (pw_journal_open(conf2, 0, &loaded, err, sizeof(err)) != 0)
    fail_msg("load: %s", err);
  assert_int_equal(loaded->series[1].n, na + 1);
  append_raw("port\n");
  if (pw_journal_catch_up(loaded, 1, err, sizeof(err)) != 0)
    fail_msg("catch up: %s", err);
  assert_int_equal(loaded->series[1].n, na + 2);
  assert_true(loaded->series[1].samples[na + 1].value == 6);
  assert_int_equal(loaded->needs_newline, 0);
  assert_same_as_fresh_load(loaded, 0);
  pw_journal_close(loaded);
}

/* Retractions (docs/storage.md#retractions): the API refuses a retraction of nothing, one
 * without a reason, a hostile source; a retracted as_of leaves the series entirely (its earlier
 * revision does not come back), find/effective/classify no longer see it, a figure equal to
 * the withdrawn one is new again; the line round-trips, a retraction line of nothing or
 * without a reason is skipped on reading, a torn one too; a snapshot owns copies. */
static void test_retractions(void **state) {
  struct pw_journal *j, *snap;
  const struct pw_series *s;
  const int64_t t = 1711900800, d = 86400;
  char err[256];
  int lock;

  (void)state;
  unlink(jpath);
  lock = pw_state_lock(conf->daemon.state_dir);
  assert_true(lock >= 0);
  j = open_j(1);
  assert_int_equal(pw_journal_add_noted(j, 0, t, 5, t + 10, "import", "首次"), 0);
  assert_int_equal(pw_journal_add(j, 0, t, 6, t + 20, "import"), 0); /* revision 1 */
  assert_int_equal(pw_journal_add(j, 0, t + d, 8, t + d, "import"), 0);
  assert_int_equal(pw_journal_add(j, 0, t + 2 * d, 9, t + 2 * d, "import"), 0);
  /* Refused: nothing at that as_of, no reason, a source with a tab. */
  assert_int_equal(pw_journal_retract(j, 0, t + 3 * d, t + 3 * d, "record", "错", err, sizeof(err)),
                   -ENOENT);
  assert_non_null(strstr(err, "no sample"));
  assert_int_equal(pw_journal_retract(j, 0, t, t + 3 * d, "record", "  \t ", err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(pw_journal_retract(j, 0, t, t + 3 * d, "rec\tord", "错", err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(pw_journal_retract(j, 0, t, 0, "record", "错", err, sizeof(err)), -ERANGE);
  assert_int_equal(j->series[0].n, 4);
  /* The latest as_of withdrawn: the one before is the latest again. */
  assert_int_equal(pw_journal_retract(j, 0, t + 2 * d, t + 3 * d, "record", "录入错误\t多了一位",
                                      err, sizeof(err)),
                   0);
  s = &j->series[0];
  assert_int_equal(s->n, 3);
  assert_int_equal(s->max_as_of, t + d);
  assert_true(s->samples[s->latest].value == 8);
  assert_int_equal(s->n_retracted, 1);
  assert_string_equal(s->retracted[0].reason, "录入错误 多了一位");
  assert_null(pw_journal_find(j, 0, t + 2 * d));
  /* Both revisions of T go; revision 0 (5) does not come back. */
  assert_int_equal(pw_journal_retract(j, 0, t, t + 3 * d, "record", "口径错误", err, sizeof(err)),
                   0);
  assert_int_equal(s->n, 1);
  assert_int_equal(s->n_retracted, 3);
  assert_null(pw_journal_find(j, 0, t));
  assert_null(pw_journal_effective(j, 0, t + 10 * 3600));
  assert_string_equal(s->retracted[1].sample.note, "首次");
  /* The same figure again is new, not a duplicate of the withdrawn one. */
  assert_int_equal(pw_journal_classify(j, 0, t, 6, 1), PW_SAMPLE_REVISION);
  assert_int_equal(pw_journal_classify(j, 0, t + 2 * d, 9, 1), PW_SAMPLE_NEW);
  assert_int_equal(pw_journal_add(j, 0, t + 2 * d, 9.5, t + 4 * d, "record"), 0);
  assert_int_equal(s->n, 2);
  assert_int_equal(s->samples[1].rev, 0);
  snap = pw_journal_snapshot(j);
  assert_non_null(snap);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  assert_int_equal(snap->series[0].n_retracted, 3);
  assert_string_equal(snap->series[0].retracted[2].reason, "口径错误");
  pw_journal_close(snap);

  /* Read back: the same series. Then hostile lines: a retraction of nothing (ignored with a
   * warning), one without a reason or with a stray field (malformed), a torn one. */
  append_raw("2024-04-09T00:00:00+08:00\ta\tretracted\t2024-04-09T00:00:00+08:00\trecord\t无\n");
  append_raw("2024-04-02T00:00:00+08:00\ta\tretracted\t2024-04-09T00:00:00+08:00\trecord\t\n");
  append_raw("2024-04-02T00:00:00+08:00\ta\tretracted\t2024-04-09T00:00:00+08:00\trecord\tx\ty\n");
  append_raw("2024-04-02T00:00:00+08:00\ta\tretracted\t2024-04-09T00:00:00+08:00\trec");
  j = open_j(0);
  s = &j->series[0];
  assert_int_equal(s->n, 2);
  assert_true(s->samples[0].value == 8);
  assert_true(s->samples[1].value == 9.5);
  assert_int_equal(s->max_as_of, t + 2 * d);
  assert_int_equal(s->n_retracted, 3);
  assert_int_equal(s->retracted[0].at, t + 3 * d);
  assert_string_equal(s->retracted[0].source, "record");
  assert_true(s->retracted[0].sample.value == 9);
  assert_int_equal(j->skipped, 3);
  pw_journal_close(j);
  close(lock);
}

/* Explanations (docs/storage.md#explanations): validation (a reason or measures, each at most
 * 500 characters of text, a catch-up date that exists), the default as_of (the latest sample's),
 * the newest is current, the line round-trips with its tabs cleaned, malformed lines skipped,
 * a snapshot owns copies. */
static void test_explanations(void **state) {
  struct pw_journal *j, *snap;
  const struct pw_explanation *e;
  const int64_t t = 1711900800, d = 86400;
  char err[256], big[1600];
  int lock;

  (void)state;
  unlink(jpath);
  lock = pw_state_lock(conf->daemon.state_dir);
  assert_true(lock >= 0);
  j = open_j(1);
  assert_null(pw_journal_explanation(j, 0));
  assert_int_equal(pw_journal_add(j, 0, t, 5, t + 10, "import"), 0);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + d, "record", "", NULL,
                                      NULL, err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + d, "record", "原因", NULL,
                                      "2024-02-30", err, sizeof(err)),
                   -EINVAL);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + d, "record", "\xff", NULL,
                                      NULL, err, sizeof(err)),
                   -EILSEQ);
  memset(big, 0, sizeof(big));
  for (int i = 0; i < 501; i++)
    memcpy(big + i * 3, "因", 3);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + d, "record", big, NULL,
                                      NULL, err, sizeof(err)),
                   -E2BIG);
  big[500 * 3] = '\0'; /* 500 characters: accepted */
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + d, "record", big, NULL,
                                      NULL, err, sizeof(err)),
                   0);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + 2 * d, "report:rs",
                                      "项目审批\t延后", "加快推进", "2024-05-31", err, sizeof(err)),
                   0);
  e = pw_journal_explanation(j, 0);
  assert_non_null(e);
  assert_int_equal(e->as_of, t);
  assert_int_equal(e->at, t + 2 * d);
  assert_string_equal(e->reason, "项目审批 延后");
  assert_string_equal(e->measures, "加快推进");
  assert_string_equal(e->catch_up, "2024-05-31");
  assert_string_equal(e->source, "report:rs");
  /* Without any sample, the as_of is the time it was given. */
  assert_int_equal(pw_journal_explain(j, 1, PW_JOURNAL_AS_OF_LATEST, t + d, "record", NULL, "措施",
                                      "", err, sizeof(err)),
                   0);
  assert_int_equal(pw_journal_explanation(j, 1)->as_of, t + d);
  assert_string_equal(pw_journal_explanation(j, 1)->reason, "");
  snap = pw_journal_snapshot(j);
  assert_int_equal(pw_journal_commit(j), 0);
  pw_journal_close(j);
  assert_string_equal(pw_journal_explanation(snap, 0)->measures, "加快推进");
  assert_int_equal(snap->series[0].n_explanations, 2);
  pw_journal_close(snap);

  append_raw(
      "2024-04-01T00:00:00+08:00\ta\texplanation\t2024-04-09T00:00:00+08:00\trecord\t\t\t\n");
  append_raw(
      "2024-04-01T00:00:00+08:00\ta\texplanation\t2024-04-09T00:00:00+08:00\trecord\tx\t\t5月\n");
  append_raw("2024-04-01T00:00:00+08:00\ta\texplanation\t2024-04-09T00:00:00+08:00\trecord\tx\n");
  append_raw("2024-04-01T00:00:00+08:00\ta\texplanation\t2024-04-09T00:00:00+08:00\trecord\tx\t\t\t"
             "more\n");
  j = open_j(0);
  assert_int_equal(j->skipped, 4);
  assert_int_equal(j->series[0].n_explanations, 2);
  e = pw_journal_explanation(j, 0);
  assert_string_equal(e->reason, "项目审批 延后");
  assert_string_equal(e->catch_up, "2024-05-31");
  assert_int_equal(strlen(j->series[0].explanations[0].reason), 1500);
  assert_int_equal(j->series[0].n, 1);
  pw_journal_close(j);
  close(lock);
}

/* What status makes of it (judge stays pure): a withdrawn latest figure leaves the one before
 * as the verdict's value, the current explanation is the newest, and `overdue` is a catch-up
 * date passed (from the end of that day on) while the verdict lags. */
static void test_status_after_retraction(void **state) {
  struct pw_journal *j;
  struct pw_verdict v;
  const int64_t t = 1711900800, d = 86400;
  const struct pw_explanation *e;
  json_t *doc, *o, *x;
  char err[256];
  int lock;

  (void)state;
  unlink(jpath);
  lock = pw_state_lock(conf->daemon.state_dir);
  assert_true(lock >= 0);
  j = open_j(1);
  assert_int_equal(pw_journal_add(j, 0, t, 5, t, "import"), 0);
  assert_int_equal(pw_journal_add(j, 0, t + d, 50, t + d, "import"), 0);
  pw_status_judge(conf, j->series, 0, t + 2 * d, &v);
  assert_true(v.has_value && v.value == 50);
  assert_int_equal(pw_journal_retract(j, 0, t + d, t + 2 * d, "record", "错", err, sizeof(err)), 0);
  pw_status_judge(conf, j->series, 0, t + 2 * d, &v);
  assert_true(v.has_value && v.value == 5 && v.as_of == t);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + 2 * d, "record", "旧",
                                      NULL, NULL, err, sizeof(err)),
                   0);
  assert_int_equal(pw_journal_explain(j, 0, PW_JOURNAL_AS_OF_LATEST, t + 3 * d, "report:rs", "原因",
                                      "措施", "2024-04-05", err, sizeof(err)),
                   0);
  doc = pw_status_json(conf, j->series, t + 2 * d);
  o = json_array_get(json_object_get(doc, "indicators"), 0);
  assert_true(json_number_value(json_object_get(o, "value")) == 5);
  x = json_object_get(o, "explanation");
  assert_string_equal(json_string_value(json_object_get(x, "reason")), "原因");
  assert_string_equal(json_string_value(json_object_get(x, "catch_up")), "2024-04-05");
  assert_string_equal(json_string_value(json_object_get(x, "as_of")), "2024-04-01T00:00:00+08:00");
  assert_true(json_is_false(json_object_get(x, "overdue"))); /* no target: not lagging */
  assert_true(json_is_null(
      json_object_get(json_array_get(json_object_get(doc, "indicators"), 1), "explanation")));
  json_decref(doc);
  /* 2024-04-05 ends at 2024-04-06T00:00+08:00. */
  e = pw_status_explanation(&j->series[0]);
  v.status = PW_STATUS_LAGGING;
  assert_false(pw_status_catch_up_overdue(e, &v, t + 5 * d - 1));
  assert_true(pw_status_catch_up_overdue(e, &v, t + 5 * d));
  v.status = PW_STATUS_SEVERE;
  assert_true(pw_status_catch_up_overdue(e, &v, t + 5 * d));
  v.status = PW_STATUS_OK;
  assert_false(pw_status_catch_up_overdue(e, &v, t + 5 * d));
  pw_journal_close(j);
  close(lock);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify_and_reload),
      cmocka_unit_test(test_torn_and_foreign_lines),
      cmocka_unit_test(test_milestone_values),
      cmocka_unit_test(test_values_read_back_exactly),
      cmocka_unit_test(test_catch_up),
      cmocka_unit_test(test_catch_up_torn),
      cmocka_unit_test(test_nul_in_indicator),
      cmocka_unit_test(test_notes),
      cmocka_unit_test(test_retractions),
      cmocka_unit_test(test_explanations),
      cmocka_unit_test(test_status_after_retraction),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
