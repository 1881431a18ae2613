/*
 * config_indicators: the table of keys of an indicator and of its yearly targets (walked by
 * config_keys.c). An indicator's kind, read first, says which keys apply; each key's own
 * function reads its syntax or checks it against the rest of the indicator (the ids it names,
 * the defaults that depend on the kind or the source), and the targets, read last, follow the
 * rules of the kind (docs/configuration.md).
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_loader.h"
#include "value.h"

/* ---- indicators and targets ---- */

static const char *const kinds[] = {"cumulative", "level", "standard", "milestone", NULL};
#define CL (BIT(PW_KIND_CUMULATIVE) | BIT(PW_KIND_LEVEL))

static int near_equal(double a, double b) {
  return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Cumulative and level targets: a level target needs its baseline (a cumulative one starts at
 * 0), and the annual target must differ from it. */
static int target_baseline(struct loader *ld, const struct item *it, const struct key_spec *k,
                           const config_setting_t *s) {
  const struct pw_indicator *ind = it->parent;
  struct pw_target *tg = it->obj;

  if (ind->kind == PW_KIND_LEVEL && !tg->has_baseline)
    return pw_config_fail(
        ld, it->g, "%s lacks the required key 'baseline' (level targets need one)", it->what);
  if (!tg->has_baseline)
    tg->baseline = 0;
  if (near_equal(tg->annual, tg->baseline))
    return pw_config_fail(ld, pw_config_member(it, "annual"),
                          "%s: annual (%g) must differ from baseline (%g)", it->what, tg->annual,
                          tg->baseline);
  return 0;
}

/* Cumulative and level quarters are year-to-date targets moving from the baseline to the
 * annual target; the quarterly and step paces need them. */
static int target_quarters(struct loader *ld, const struct item *it, const struct key_spec *k,
                           const config_setting_t *s) {
  const struct pw_indicator *ind = it->parent;
  struct pw_target *tg = it->obj;
  double prev;
  int i, rising;

  if (ind->kind == PW_KIND_STANDARD)
    return 0; /* one standard per quarter: any values */
  if (!tg->has_quarters) {
    if (ind->pace == PW_PACE_QUARTERLY || ind->pace == PW_PACE_STEP)
      return pw_config_fail(ld, it->g, "%s: pace '%s' needs quarters = [ q1, q2, q3, q4 ]",
                            it->what, pw_pace_name(ind->pace));
    return 0;
  }
  if (!near_equal(tg->quarters[3], tg->annual))
    return pw_config_fail(ld, s, "%s: the fourth quarter (%g) must equal annual (%g)", it->what,
                          tg->quarters[3], tg->annual);
  rising = tg->annual > tg->baseline;
  prev = tg->baseline;
  for (i = 0; i < 4; i++) {
    if (rising ? tg->quarters[i] < prev : tg->quarters[i] > prev)
      return pw_config_fail(
          ld, s, "%s: quarters must move %s from baseline %g towards annual %g (q%d = %g)",
          it->what, rising ? "upwards (non-decreasing)" : "downwards (non-increasing)",
          tg->baseline, tg->annual, i + 1, tg->quarters[i]);
    prev = tg->quarters[i];
  }
  tg->quarters[3] = tg->annual;
  return 0;
}

static int target_standard(struct loader *ld, const struct item *it, const struct key_spec *k,
                           const config_setting_t *s) {
  const struct pw_target *tg = it->obj;

  if (tg->has_standard == tg->has_quarters)
    return pw_config_fail(ld, it->g, "%s needs exactly one of 'standard' or 'quarters'", it->what);
  return 0;
}

/* Milestones: one date (or "") per stage, ascending. */
static int target_due(struct loader *ld, const struct item *it, const struct key_spec *k,
                      const config_setting_t *s) {
  const struct pw_indicator *ind = it->parent;
  struct pw_target *tg = it->obj;
  int i, j;

  if (!pw_config_is_list(s))
    return pw_config_fail(ld, s, "%s: due must be a list of dates [ \"YYYY-MM-DD\", \"\", ... ]",
                          it->what);
  if (config_setting_length(s) != ind->stages.n)
    return pw_config_fail(ld, s, "%s: due has %d dates but the indicator has %d stages", it->what,
                          config_setting_length(s), ind->stages.n);
  tg->due = pw_config_alloc(ld, sizeof(int64_t) * (size_t)(ind->stages.n + 1));
  if (tg->due == NULL)
    return pw_config_fail(ld, s, "out of memory");
  for (i = 0; i < ind->stages.n; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    char *text;
    if (pw_config_read_string(ld, e, "due", &text) < 0)
      return -EINVAL;
    if (text[0] == '\0')
      continue;
    if (pw_config_parse_date(text, &tg->due[i]) < 0)
      return pw_config_fail(ld, e, "%s: due date '%s' must be \"YYYY-MM-DD\" or \"\"", it->what,
                            text);
    for (j = 0; j < i; j++)
      if (tg->due[j] != 0 && tg->due[j] > tg->due[i])
        return pw_config_fail(ld, e,
                              "%s: due dates must be ascending (stage %d '%s' is due before "
                              "stage %d '%s')",
                              it->what, i, ind->stages.items[i], j, ind->stages.items[j]);
  }
  return 0;
}

#define T(f) offsetof(struct pw_target, f)
static const struct key_spec target_keys[] = {
    {"year", K_MANUAL, 0, NO_HAS, 1, NULL, 0, NULL},
    {"annual", K_NUMBER, T(annual), T(has_annual), 1, NULL, CL, NULL},
    {"baseline", K_NUMBER, T(baseline), T(has_baseline), 0, NULL, CL, target_baseline},
    {"quarters", K_NUMLIST4, T(quarters), T(has_quarters), 0, NULL, CL | BIT(PW_KIND_STANDARD),
     target_quarters},
    {"standard", K_NUMBER, T(standard), T(has_standard), 0, NULL, BIT(PW_KIND_STANDARD),
     target_standard},
    {"due", K_FN, 0, NO_HAS, 1, NULL, BIT(PW_KIND_MILESTONE), target_due},
    {"provisional", K_BOOL, T(provisional), NO_HAS, 0, "false", 0, NULL},
    {"basis", K_STRING, T(basis), NO_HAS, 0, NULL, 0, pw_config_key_text},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef T

/* Target #INDEX+1 of IND from group G. Its year, read first, names it in messages. */
static int load_target(struct loader *ld, const config_setting_t *g, struct pw_indicator *ind,
                       struct pw_target *tg, int index) {
  const config_setting_t *ys = config_setting_get_member(g, "year");
  char what[160];
  struct item it = {g, tg, BIT(ind->kind), what, kinds[ind->kind], "target", ind};
  int64_t year = 0;

  snprintf(what, sizeof(what), "target #%d of indicator '%s'", index + 1, ind->id);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return pw_config_fail(ld, g, "%s must be a group { year = ...; ... }", what);
  if (ys == NULL)
    return pw_config_fail(ld, g, "%s lacks the required key 'year'", what);
  if (pw_config_read_int(ld, ys, "year", &year) < 0)
    return -EINVAL;
  if (year <= PW_CAL_FIRST_YEAR || year > PW_CAL_LAST_YEAR - 1)
    return pw_config_fail(ld, ys, "%s: year %lld is out of range", what, (long long)year);
  tg->year = (int)year;
  tg->line = (int)config_setting_source_line(g);
  snprintf(what, sizeof(what), "the %d target of indicator '%s'", tg->year, ind->id);
  return pw_config_walk(ld, &it, target_keys);
}

static int indicator_direction(struct loader *ld, const struct item *it, const struct key_spec *k,
                               const config_setting_t *s) {
  struct pw_indicator *ind = it->obj;
  char *text;

  if (s == NULL)
    return 0;
  if (pw_config_read_string(ld, s, "direction", &text) < 0)
    return -EINVAL;
  if (strcmp(text, "down") == 0)
    ind->direction_down = 1;
  else if (strcmp(text, "up") != 0)
    return pw_config_fail(ld, s, "%s: direction '%s' must be up or down", it->what, text);
  return 0;
}

static int indicator_pace(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  static const char *const paces[] = {"linear", "quarterly", "step", NULL};
  struct pw_indicator *ind = it->obj;
  char *text;
  int p;

  if (s == NULL)
    return 0;
  if (pw_config_read_string(ld, s, "pace", &text) < 0)
    return -EINVAL;
  for (p = 0; paces[p]; p++)
    if (strcmp(text, paces[p]) == 0)
      break;
  if (paces[p] == NULL)
    return pw_config_fail(ld, s, "%s: pace '%s' must be linear, quarterly or step", it->what, text);
  ind->pace = (enum pw_pace)(PW_PACE_LINEAR + p);
  return 0;
}

/* The lag thresholds' defaults depend on the kind (percentage points, units or days). */
static int indicator_lags(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  struct pw_indicator *ind = it->obj;

  if (pw_config_member(it, "lag_warn") == NULL)
    ind->lag_warn = ind->kind <= PW_KIND_LEVEL ? 5.0 : 0.0;
  if (s == NULL)
    ind->lag_crit = ind->kind <= PW_KIND_LEVEL ? 15.0 : ind->kind == PW_KIND_STANDARD ? 5.0 : 30.0;
  if (ind->lag_crit < ind->lag_warn)
    return pw_config_fail(ld, it->g, "%s: lag_crit (%g) must not be below lag_warn (%g)", it->what,
                          ind->lag_crit, ind->lag_warn);
  return 0;
}

static int indicator_domain(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  const struct pw_config *c = ld->conf;
  struct pw_indicator *ind = it->obj;

  ind->domain = pw_config_find_by_id(c->domains, sizeof(*c->domains), c->n_domains, ind->domain_id);
  if (ind->domain < 0)
    return pw_config_fail(ld, s, "%s names unknown domain '%s'", it->what, ind->domain_id);
  return 0;
}

static int indicator_department(struct loader *ld, const struct item *it, const struct key_spec *k,
                                const config_setting_t *s) {
  const struct pw_config *c = ld->conf;
  struct pw_indicator *ind = it->obj;

  ind->department = -1;
  if (ind->department_id == NULL)
    return 0;
  ind->department = pw_config_find_by_id(c->departments, sizeof(*c->departments), c->n_departments,
                                         ind->department_id);
  if (ind->department < 0)
    return pw_config_fail(ld, s, "%s names unknown department '%s'", it->what, ind->department_id);
  return 0;
}

/* An indicator with a source says where its value is (path); without one, path and as_of
 * mean nothing. */
static int indicator_source(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  const struct pw_config *c = ld->conf;
  struct pw_indicator *ind = it->obj;

  ind->source = -1;
  if (ind->source_id == NULL) {
    if (ind->path != NULL || ind->as_of != NULL)
      return pw_config_fail(ld, pw_config_member(it, ind->path ? "path" : "as_of"),
                            "%s: '%s' needs a source", it->what, ind->path ? "path" : "as_of");
    return 0;
  }
  ind->source = pw_config_find_by_id(c->sources, sizeof(*c->sources), c->n_sources, ind->source_id);
  if (ind->source < 0)
    return pw_config_fail(ld, s, "%s names unknown source '%s'", it->what, ind->source_id);
  if (ind->path == NULL || ind->path[0] == '\0')
    return pw_config_fail(ld, it->g, "%s has a source but no path saying where its value is",
                          it->what);
  return 0;
}

/* note: a path of the indicator's source, read by the same parser as path. */
static int indicator_note(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  const struct pw_indicator *ind = it->obj;

  if (s == NULL)
    return 0;
  if (ind->source_id == NULL)
    return pw_config_fail(ld, s, "%s: 'note' needs a source (it is a path in the source's answer)",
                          it->what);
  if (ind->note_path[0] == '\0')
    return pw_config_fail(ld, s, "%s: note must not be empty (leave the key out instead)",
                          it->what);
  return 0;
}

/* By default an indicator goes stale as its source says, or after 40 days. */
static int indicator_stale_after(struct loader *ld, const struct item *it, const struct key_spec *k,
                                 const config_setting_t *s) {
  const struct pw_config *c = ld->conf;
  struct pw_indicator *ind = it->obj;

  if (s == NULL)
    ind->stale_after = (ind->source >= 0 && c->sources[ind->source].stale_after > 0)
                           ? c->sources[ind->source].stale_after
                           : 40 * 86400;
  if (ind->stale_after < 1)
    return pw_config_fail(ld, s, "%s: stale_after must be > 0", it->what);
  return 0;
}

int pw_config_check_report(struct loader *ld, const struct item *it, int64_t day, int has_day,
                           int64_t after, int has_after, int64_t remind, int has_remind) {
  const config_setting_t *g = it->g;

  if (has_day && (day < 1 || day > 31))
    return pw_config_fail(ld, config_setting_get_member(g, "report_day"),
                          "%s: report_day must be a day of the month, 1 to 31 (a later day than "
                          "the month has means its last day), not %lld",
                          it->what, (long long)day);
  if (has_after && (after < 86400 || after > 92 * 86400))
    return pw_config_fail(ld, config_setting_get_member(g, "report_after_quarter"),
                          "%s: report_after_quarter must be from 1d to 92d after the quarter's end",
                          it->what);
  if (has_day && has_after)
    return pw_config_fail(ld, config_setting_get_member(g, "report_after_quarter"),
                          "%s: report_day (monthly figures) and report_after_quarter (quarterly "
                          "figures) exclude each other: write one",
                          it->what);
  if (has_remind && (remind < 3600 || remind > 31 * 86400))
    return pw_config_fail(ld, config_setting_get_member(g, "report_remind"),
                          "%s: report_remind must be from 1h to 31d before the deadline", it->what);
  return 0;
}

/* The indicator's reporting deadline: its own keys, else its department's; the reminder its
 * own, else the department's, else 2 days (docs/configuration.md). */
static int indicator_report(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  const struct pw_config *c = ld->conf;
  struct pw_indicator *ind = it->obj;
  const struct pw_department *dep = ind->department >= 0 ? &c->departments[ind->department] : NULL;

  (void)k;
  if (pw_config_check_report(ld, it, ind->report_day, ind->has_report_day,
                             ind->report_after_quarter, ind->has_report_after_quarter,
                             ind->report_remind, ind->has_report_remind) < 0)
    return -EINVAL;
  if (!ind->has_report_day && !ind->has_report_after_quarter && dep != NULL) {
    ind->report_day = dep->has_report_day ? dep->report_day : 0;
    ind->report_after_quarter = dep->has_report_after_quarter ? dep->report_after_quarter : 0;
  }
  if (!ind->has_report_remind)
    ind->report_remind = dep != NULL && dep->has_report_remind ? dep->report_remind : 2 * 86400;
  if (ind->has_report_remind && ind->report_day == 0 && ind->report_after_quarter == 0)
    return pw_config_fail(ld, s,
                          "%s: report_remind needs a deadline (report_day or report_after_quarter, "
                          "here or on its department)",
                          it->what);
  return 0;
}

static int indicator_stages(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  const struct pw_indicator *ind = it->obj;
  int i, j;

  if (ind->stages.n < 2)
    return pw_config_fail(ld, s, "%s: stages must name at least two stages, in order", it->what);
  for (i = 0; i < ind->stages.n; i++)
    for (j = 0; j < i; j++)
      if (strcmp(ind->stages.items[i], ind->stages.items[j]) == 0)
        return pw_config_fail(ld, s, "%s: stage '%s' appears twice", it->what,
                              ind->stages.items[i]);
  return 0;
}

/* Read last: a target's rules depend on the kind, the pace and the stages. */
static int indicator_targets(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  struct pw_indicator *ind = it->obj;
  int i, j;

  if (config_setting_type(s) != CONFIG_TYPE_LIST)
    return pw_config_fail(
        ld, s, "%s: targets must be a list ( { year = ...; ... } ) (may be empty)", it->what);
  ind->n_targets = config_setting_length(s);
  ind->targets = pw_config_alloc(ld, sizeof(*ind->targets) * (size_t)(ind->n_targets + 1));
  if (ind->targets == NULL)
    return pw_config_fail(ld, s, "out of memory");
  for (i = 0; i < ind->n_targets; i++) {
    const config_setting_t *tg = config_setting_get_elem(s, (unsigned)i);
    if (load_target(ld, tg, ind, &ind->targets[i], i) < 0)
      return -EINVAL;
    for (j = 0; j < i; j++)
      if (ind->targets[j].year == ind->targets[i].year)
        return pw_config_fail(ld, tg, "%s: year %d has two targets", it->what,
                              ind->targets[i].year);
  }
  return 0;
}

#define I(f) offsetof(struct pw_indicator, f)
static const struct key_spec indicator_keys[] = {
    {"id", K_STRING, I(id), NO_HAS, 1, NULL, 0, pw_config_key_id},
    {"name", K_STRING, I(name), NO_HAS, 1, NULL, 0, NULL},
    {"kind", K_MANUAL, 0, NO_HAS, 1, NULL, 0, NULL},
    {"direction", K_FN, 0, NO_HAS, 0, NULL, BIT(PW_KIND_STANDARD), indicator_direction},
    {"pace", K_FN, 0, NO_HAS, 0, NULL, CL, indicator_pace},
    {"domain", K_STRING, I(domain_id), NO_HAS, 1, NULL, 0, indicator_domain},
    {"department", K_STRING, I(department_id), NO_HAS, 0, NULL, 0, indicator_department},
    {"unit", K_STRING, I(unit), NO_HAS, 0, "", 0, NULL},
    {"source", K_STRING, I(source_id), NO_HAS, 0, NULL, 0, indicator_source},
    {"path", K_STRING, I(path), NO_HAS, 0, NULL, 0, NULL},
    {"as_of", K_STRING, I(as_of), NO_HAS, 0, NULL, 0, NULL},
    {"note", K_STRING, I(note_path), NO_HAS, 0, NULL, 0, indicator_note},
    {"standard_label", K_STRING, I(standard_label), NO_HAS, 0, "标准", 0, pw_config_key_text},
    {"published_by", K_STRING, I(published_by), NO_HAS, 0, NULL, 0, pw_config_key_text},
    {"target_from", K_STRING, I(target_from), NO_HAS, 0, NULL, 0, pw_config_key_text},
    {"headline", K_BOOL, I(headline), NO_HAS, 0, "false", 0, NULL},
    {"lag_warn", K_NUMBER, I(lag_warn), NO_HAS, 0, NULL, 0, NULL},
    {"lag_crit", K_NUMBER, I(lag_crit), NO_HAS, 0, NULL, 0, indicator_lags},
    {"stale_after", K_DURATION, I(stale_after), NO_HAS, 0, NULL, 0, indicator_stale_after},
    {"report_day", K_INT, I(report_day), I(has_report_day), 0, NULL, 0, NULL},
    {"report_after_quarter", K_DURATION, I(report_after_quarter), I(has_report_after_quarter), 0,
     NULL, 0, NULL},
    {"report_remind", K_DURATION, I(report_remind), I(has_report_remind), 0, NULL, 0,
     indicator_report},
    {"stages", K_STRLIST, I(stages), NO_HAS, 1, NULL, BIT(PW_KIND_MILESTONE), indicator_stages},
    {"carry", K_BOOL, I(carry), NO_HAS, 0, "false", BIT(PW_KIND_LEVEL) | BIT(PW_KIND_STANDARD),
     NULL},
    {"targets", K_FN, 0, NO_HAS, 1, NULL, 0, indicator_targets},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef I

/* Indicator #INDEX+1 from group G. Its kind, read first, says which keys apply. */
static int load_indicator(struct loader *ld, const config_setting_t *g, struct pw_indicator *ind,
                          int index) {
  const config_setting_t *km = config_setting_get_member(g, "kind");
  const config_setting_t *m;
  const char *kind = NULL;
  char what[128];
  struct item it = {g, ind, 0, what, "", "indicator", NULL};
  int k;

  snprintf(what, sizeof(what), "indicator #%d", index + 1);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return pw_config_fail(ld, g, "%s must be a group { ... }", what);
  m = config_setting_get_member(g, "id");
  if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING)
    snprintf(what, sizeof(what), "indicator '%s'", config_setting_get_string(m));
  if (km == NULL)
    return pw_config_fail(ld, g, "%s lacks the required key 'kind'", what);
  if (config_setting_type(km) == CONFIG_TYPE_STRING)
    kind = config_setting_get_string(km);
  for (k = 0; kinds[k]; k++)
    if (kind && strcmp(kind, kinds[k]) == 0)
      break;
  if (kinds[k] == NULL)
    return pw_config_fail(ld, km, "%s: kind '%s' must be cumulative, level, standard or milestone",
                          what, kind ? kind : "?");
  ind->kind = (enum pw_kind)k;
  ind->cfg_file = pw_config_keep_file(ld, g);
  ind->line = (int)config_setting_source_line(g);
  it.mask = BIT(k);
  it.kind = kind;
  return pw_config_walk(ld, &it, indicator_keys);
}

/* After the sources, which indicators name; gives each source the list of its indicators. */
int pw_config_load_indicators(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "indicators", 1, &c->n_indicators);
  int i;

  if (list == NULL)
    return -EINVAL;
  c->indicators = pw_config_alloc(ld, sizeof(*c->indicators) * (size_t)(c->n_indicators + 1));
  if (c->indicators == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_indicators; i++)
    if (load_indicator(ld, config_setting_get_elem(list, (unsigned)i), &c->indicators[i], i) < 0)
      return -EINVAL;
  /* Each source's indicators, so that a poll walks its own ten, not a province's thousands. */
  for (i = 0; i < c->n_indicators; i++)
    if (c->indicators[i].source >= 0)
      c->sources[c->indicators[i].source].n_indicators++;
  for (i = 0; i < c->n_sources; i++) {
    c->sources[i].indicators =
        pw_config_alloc(ld, sizeof(int) * (size_t)(c->sources[i].n_indicators + 1));
    if (c->sources[i].indicators == NULL)
      return pw_config_fail(ld, list, "out of memory");
    c->sources[i].n_indicators = 0;
  }
  for (i = 0; i < c->n_indicators; i++)
    if (c->indicators[i].source >= 0) {
      struct pw_source *src = &c->sources[c->indicators[i].source];
      src->indicators[src->n_indicators++] = i;
    }
  return pw_config_check_unique(ld, list, c->indicators, sizeof(*c->indicators), c->n_indicators,
                                "indicator");
}

const char *pw_kind_name(enum pw_kind kind) {
  return (unsigned)kind < 4 ? kinds[kind] : "?";
}

const char *pw_pace_name(enum pw_pace pace) {
  static const char *const names[] = {"default", "linear", "quarterly", "step"};
  return (unsigned)pace < 4 ? names[pace] : "?";
}
