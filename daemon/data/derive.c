/*
 * derive: the journal seen as RRD points. The RRD shows what is known now, so each as_of
 * appears once with the revision journaled last; judging past instants reads the journal
 * itself, never the RRD.
 */
#define PW_LOG_MODULE "derive"
#include "derive.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "judge.h"
#include "log.h"

struct ranked {
  struct pw_store_point p;
  size_t pos; /* journal position */
};

static int ranked_cmp(const void *a, const void *b) {
  const struct ranked *x = a, *y = b;

  if (x->p.t != y->p.t)
    return x->p.t < y->p.t ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int pw_derive_points(const struct pw_config *conf, const struct pw_journal *j, int ind,
                     int64_t after, struct pw_store_point **out, size_t *n,
                     struct pw_store_point *prev, int *has_prev) {
  const struct pw_series *s = &j->series[ind];
  const struct pw_indicator *in = &conf->indicators[ind];
  struct ranked *r;
  size_t i, k = 0, w = 0, skipped = 0;
  int64_t first = 0;

  *out = NULL;
  *n = 0;
  if (has_prev != NULL)
    *has_prev = 0;
  if (s->n == 0 && s->n_retracted == 0)
    return 0;
  r = malloc((s->n + s->n_retracted + 1) * sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  for (i = 0; i < s->n; i++) {
    if (s->samples[i].as_of < after)
      continue;
    if (s->samples[i].as_of < PW_STORE_T_MIN || s->samples[i].as_of > PW_STORE_T_MAX) {
      /* A line no file can hold (older versions journaled as_of 1): left out of the file, or
       * it would fail every rebuild of it. The journal keeps it. */
      if (skipped++ == 0)
        first = s->samples[i].as_of;
      continue;
    }
    r[k].p.t = s->samples[i].as_of;
    r[k].p.value = s->samples[i].value;
    r[k].pos = i;
    k++;
  }
  /* A withdrawn as_of no sample stands for again is an unknown point: the file shows nothing
   * there, rather than the figure after it stretched back over it (docs/storage.md#rrd-files). */
  for (i = 0; i < s->n_retracted; i++) {
    int64_t t = s->retracted[i].sample.as_of;
    if (t < after || t < PW_STORE_T_MIN || t > PW_STORE_T_MAX || pw_journal_find(j, ind, t) != NULL)
      continue;
    r[k].p.t = t;
    r[k].p.value = NAN;
    r[k].pos = i; /* equal instants: all unknown, any wins */
    k++;
  }
  if (skipped > 0)
    pw_log_warn("indicator '%s': %zu journal lines left out of its RRD file: as_of outside "
                "what RRD files hold (the first: %lld s since 1970)",
                in->id, skipped, (long long)first);
  qsort(r, k, sizeof(*r), ranked_cmp);
  /* Among equal instants the last journaled sorts last and wins. */
  for (i = 0; i < k; i++) {
    if (w > 0 && r[w - 1].p.t == r[i].p.t)
      r[w - 1] = r[i];
    else
      r[w++] = r[i];
  }
  for (i = 0; i < w; i++) {
    double e;
    r[i].p.expected = pw_judge_expected(in, &conf->cal, r[i].p.t, &e) == 0 ? e : NAN;
  }
  i = 0;
  if (after != 0 && w > 0 && r[0].p.t == after) {
    if (prev != NULL)
      *prev = r[0].p;
    if (has_prev != NULL)
      *has_prev = 1;
    i = 1;
  }
  *out = malloc((w - i + 1) * sizeof(**out));
  if (*out == NULL) {
    free(r);
    return -ENOMEM;
  }
  for (k = 0; i < w; i++, k++)
    (*out)[k] = r[i].p;
  *n = k;
  free(r);
  return 0;
}

int pw_derive_rebuild(const struct pw_config *conf, const struct pw_journal *j,
                      struct pw_store *store, const unsigned char *ind_mask) {
  int i, failures = 0;

  for (i = 0; i < conf->n_indicators; i++) {
    struct pw_store_point *pts;
    size_t n;
    char err[512];

    if (ind_mask != NULL && !ind_mask[i])
      continue;
    if (pw_derive_points(conf, j, i, 0, &pts, &n, NULL, NULL) < 0) {
      pw_log_error("indicator '%s': out of memory deriving its RRD points", conf->indicators[i].id);
      failures++;
      continue;
    }
    if (pw_store_rebuild(store, conf->indicators[i].id, pts, n, err, sizeof(err)) < 0) {
      pw_log_error("indicator '%s': %s", conf->indicators[i].id, err);
      failures++;
    }
    free(pts);
  }
  return failures;
}
