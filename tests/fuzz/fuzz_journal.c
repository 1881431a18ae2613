/*
 * fuzz_journal: the journal's line reader (daemon/data/journal.h) on a journal file holding the
 * input, loaded with pw_journal_open for a configuration of three indicators (cumulative, level,
 * milestone) in a private directory. Besides the sanitizers it checks what the loaded series
 * promise: revision numbers count the earlier samples of the same as_of, max_as_of and latest
 * name the newest revision of the latest as_of, pw_journal_classify calls the newest revision
 * of every as_of a duplicate, and a snapshot holds the same samples and notes. When every instant
 * lies in the years pacewatch judges (1970-2200), the samples are written again with pw_journal_add
 * (with their notes) into a second journal and must load back the same: what the journal reads
 * it can write. Retraction and explanation lines: a snapshot holds the same withdrawn revisions
 * and explanations, every retraction has its reason, and explanations read are accepted by
 * pw_journal_explain and load back the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "config.h"
#include "fuzz.h"
#include "journal.h"
#include "log.h"
#include "util.h"

static struct pw_config *conf_a, *conf_b;
static char file_a[4200], file_b[4200];
static int64_t lo, hi;

static struct pw_config *load_conf(const char *dir, const char *name, const char *state) {
  char path[4200], text[1024], err[1024];
  struct pw_config *c;
  int n;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  n = snprintf(
      text, sizeof(text),
      "daemon: { state_dir = \"%s\"; };\n"
      "domains = ( { id = \"d\"; name = \"D\"; } );\n"
      "indicators = (\n"
      " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\"; targets = ( "
      "); },\n"
      " { id = \"b_2\"; name = \"B\"; domain = \"d\"; kind = \"level\"; targets = ( ); },\n"
      " { id = \"m\"; name = \"M\"; domain = \"d\"; kind = \"milestone\";\n"
      "   stages = [ \"未启动\", \"建设中\", \"完成\" ]; targets = ( ); } );\n",
      state);
  pw_fuzz_write_file(path, text, (size_t)n);
  if (pw_config_load(path, &c, err, sizeof(err)) != 0)
    pw_fuzz_fail("journal: the fixture configuration does not load: %s", err);
  return c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *dir = pw_fuzz_tmpdir();
  char jdir[4200];

  (void)argc;
  (void)argv;
  pw_log_set_level(PW_LOG_ERROR);
  conf_a = load_conf(dir, "a.conf", "a");
  conf_b = load_conf(dir, "b.conf", "b");
  snprintf(jdir, sizeof(jdir), "%s/a/journal", dir);
  if (pw_mkdir_p(jdir) < 0)
    pw_fuzz_fail("journal: cannot make %s", jdir);
  snprintf(file_a, sizeof(file_a), "%s/journal.tsv", jdir);
  snprintf(file_b, sizeof(file_b), "%s/b/journal/journal.tsv", dir);
  lo = pw_calendar_utc(PW_CAL_FIRST_YEAR, 1, 1, 0, 0, 0);
  hi = pw_calendar_utc(PW_CAL_LAST_YEAR + 1, 1, 1, 0, 0, 0) - 86400;
  return 0;
}

static void check_series(const struct pw_journal *j, int ind) {
  const struct pw_series *s = &j->series[ind];
  size_t i, k;

  if (s->n == 0)
    return;
  if (s->n > s->cap || s->latest >= s->n || s->samples[s->latest].as_of != s->max_as_of)
    pw_fuzz_fail("journal: series %d: n %zu, cap %zu, latest %zu", ind, s->n, s->cap, s->latest);
  for (i = 0; i < s->n; i++) {
    const struct pw_sample *x = &s->samples[i];
    uint32_t rev = 0;
    int newest = 1;
    if (x->as_of > s->max_as_of)
      pw_fuzz_fail("journal: series %d: sample %zu is later than max_as_of", ind, i);
    for (k = 0; k < s->n; k++)
      if (k != i && s->samples[k].as_of == x->as_of) {
        if (k < i)
          rev++;
        else
          newest = 0;
      }
    if (x->rev != rev)
      pw_fuzz_fail("journal: series %d: sample %zu is revision %u, not %u", ind, i, x->rev, rev);
    if (x->as_of == s->max_as_of && newest && i != s->latest)
      pw_fuzz_fail("journal: series %d: latest is %zu, not %zu", ind, s->latest, i);
    if (newest && pw_journal_classify(j, ind, x->as_of, x->value, 1) != PW_SAMPLE_DUPLICATE)
      pw_fuzz_fail("journal: series %d: sample %zu is not a duplicate of itself", ind, i);
  }
}

/* Whether explanations X and Y are the same. */
static int same_explanation(const struct pw_explanation *x, const struct pw_explanation *y) {
  return x->as_of == y->as_of && x->at == y->at && strcmp(x->source, y->source) == 0 &&
         strcmp(x->reason, y->reason) == 0 && strcmp(x->measures, y->measures) == 0 &&
         strcmp(x->catch_up, y->catch_up) == 0;
}

/* Whether A and B hold the same withdrawn revisions (WITHDRAWN) and explanations. */
static int same_parts(const struct pw_journal *a, const struct pw_journal *b, int withdrawn) {
  int i;

  for (i = 0; i < a->n_series; i++) {
    const struct pw_series *x = &a->series[i], *y = &b->series[i];
    size_t k;
    if (x->n_explanations != y->n_explanations || (withdrawn && x->n_retracted != y->n_retracted))
      return 0;
    for (k = 0; k < x->n_explanations; k++)
      if (!same_explanation(&x->explanations[k], &y->explanations[k]))
        return 0;
    for (k = 0; withdrawn && k < x->n_retracted; k++) {
      const struct pw_retraction *p = &x->retracted[k], *q = &y->retracted[k];
      if (p->sample.as_of != q->sample.as_of || p->sample.value != q->sample.value ||
          p->at != q->at || strcmp(p->source, q->source) != 0 ||
          strcmp(p->reason, q->reason) != 0 || p->reason[0] == '\0')
        return 0;
    }
  }
  return 1;
}

/* Whether A and B hold the same samples. */
static int same(const struct pw_journal *a, const struct pw_journal *b) {
  int i;

  if (a->n_series != b->n_series)
    return 0;
  for (i = 0; i < a->n_series; i++) {
    const struct pw_series *x = &a->series[i], *y = &b->series[i];
    size_t k;
    if (x->n != y->n)
      return 0;
    for (k = 0; k < x->n; k++)
      if (x->samples[k].as_of != y->samples[k].as_of ||
          x->samples[k].fetched_at != y->samples[k].fetched_at ||
          x->samples[k].value != y->samples[k].value || x->samples[k].rev != y->samples[k].rev)
        return 0;
    for (k = 0; k < x->n; k++) {
      const char *p = x->samples[k].note, *q = y->samples[k].note;
      if ((p == NULL) != (q == NULL) || (p != NULL && strcmp(p, q) != 0))
        return 0;
    }
  }
  return 1;
}

/* Writes J's samples into the journal of conf_b and loads that again. */
static void round_trip(const struct pw_journal *j) {
  struct pw_journal *w, *r;
  char err[1024];
  int i, rc;

  if (unlink(file_b) != 0 && errno != ENOENT)
    pw_fuzz_fail("journal: cannot remove %s", file_b);
  rc = pw_journal_open(conf_b, 1, &w, err, sizeof(err));
  if (rc != 0)
    pw_fuzz_fail("journal: cannot open the second journal: %s", err);
  for (i = 0; i < j->n_series; i++) {
    const struct pw_series *s = &j->series[i];
    size_t k;
    for (k = 0; k < s->n; k++)
      if (pw_journal_add_noted(w, i, s->samples[k].as_of, s->samples[k].value,
                               s->samples[k].fetched_at, "fuzz", s->samples[k].note) != 0)
        pw_fuzz_fail("journal: pw_journal_add_noted failed");
    for (k = 0; k < s->n_explanations; k++) {
      const struct pw_explanation *e = &s->explanations[k];
      if (pw_journal_explain(w, i, e->as_of, e->at, e->source, e->reason, e->measures, e->catch_up,
                             err, sizeof(err)) != 0)
        pw_fuzz_fail("journal: pw_journal_explain refused what was read: %s", err);
    }
  }
  if (pw_journal_commit(w) != 0)
    pw_fuzz_fail("journal: pw_journal_commit failed");
  pw_journal_close(w);
  rc = pw_journal_open(conf_b, 0, &r, err, sizeof(err));
  if (rc != 0)
    pw_fuzz_fail("journal: cannot load the second journal: %s", err);
  if (r->skipped != 0 || !same(j, r) || !same_parts(j, r, 0))
    pw_fuzz_fail("journal: samples written again load differently (%llu lines skipped)",
                 (unsigned long long)r->skipped);
  pw_journal_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pw_journal *j, *snap;
  char err[1024];
  int i, in_range = 1, rc;

  pw_fuzz_write_file(file_a, data, size);
  rc = pw_journal_open(conf_a, 0, &j, err, sizeof(err));
  if (rc != 0)
    pw_fuzz_fail("journal: load failed (%d): %s", rc, err);
  for (i = 0; i < j->n_series; i++) {
    const struct pw_series *s = &j->series[i];
    size_t k;
    check_series(j, i);
    for (k = 0; k < s->n; k++)
      if (s->samples[k].as_of < lo || s->samples[k].as_of >= hi || s->samples[k].fetched_at < lo ||
          s->samples[k].fetched_at >= hi)
        in_range = 0;
    /* An explanation is written only with instants the journal keeps. */
    for (k = 0; k < s->n_explanations; k++)
      if (!pw_journal_time_ok(s->explanations[k].as_of) ||
          !pw_journal_time_ok(s->explanations[k].at))
        in_range = 0;
    /* No withdrawn revision is among the samples in force, unless journaled after it. */
    for (k = 0; k < s->n_retracted; k++)
      if (s->retracted[k].reason[0] == '\0')
        pw_fuzz_fail("journal: series %d: a retraction without a reason", i);
  }
  snap = pw_journal_snapshot(j);
  if (snap == NULL || !same(j, snap) || !same_parts(j, snap, 1))
    pw_fuzz_fail("journal: the snapshot differs");
  pw_journal_close(snap);
  if (in_range)
    round_trip(j);
  pw_journal_close(j);
  return 0;
}
