/*
 * ingest: see ingest.h. One answer is handled in three steps: the parse (or the kept one), then
 * per indicator of the source its value (read_value) and its date (read_date), then admission.
 */
#define PW_LOG_MODULE "ingest"
#define PW_STR_(x) #x
#define PW_STR(x) PW_STR_(x)
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "log.h"
#include "util.h"
#include "value.h"

/* One query's result, copied out of the plugin's emit call. Its text lives in the parse's text
 * buffer (at TEXT_AT, -1 for none) so that a parse makes no allocation per value. */
struct result {
  enum pw_plugin_result kind;
  double number;
  long text_at;
  int has_ts;
  int64_t ts_ms;
  int as_of_rc; /* as_of queries: 1 not read yet, else read_as_of's answer in AS_OF */
  int64_t as_of;
};

/* The parse of one body for one source: queries 0..n-1 are its indicators' paths, then the
 * distinct as_of paths, then the distinct note paths. */
struct parse {
  struct result *results;
  size_t n;
  struct pw_buf text; /* every result's text, NUL-terminated */
  int oom;
  int *as_of_q; /* per indicator of the source: the query of its as_of, or -1 */
  int *note_q;  /* per indicator of the source: the query of its note, or -1 */
};

/* What ingest keeps per source of the running generation. */
struct source_state {
  struct parse *parsed;          /* the parse of the source's last body, or NULL */
  unsigned char *warned_missing; /* per indicator of the source: "selects nothing" logged */
  uint64_t *bad_logged;          /* per indicator of the source: hash of the bad-sample line last
                                  * logged, 0 when its last figure was not bad */
  unsigned new_bad;              /* bad-sample lines logged for the body being read */
};

struct pw_ingest {
  const struct pw_plugins *plugins;
  struct pw_admit *admit;
  struct source_state *sources; /* one per source of admit->conf */
  int n_sources;
  unsigned char *flags; /* every source's warned_missing, in one block */
  uint64_t *bad_hashes; /* every source's bad_logged, in one block */
};

/* ---- the parse -------------------------------------------------------------------------- */

static void parse_free(struct parse *pc) {
  if (pc == NULL)
    return;
  pw_buf_free(&pc->text);
  free(pc->results);
  free(pc->as_of_q);
  free(pc->note_q);
  free(pc);
}

static void on_emit(void *ctx, size_t index, const struct pw_plugin_value *v) {
  struct parse *pc = ctx;
  struct result *r;
  const char *t = NULL;
  size_t tl = 0;

  if (index >= pc->n)
    return;
  r = &pc->results[index];
  r->kind = v->result;
  r->number = v->number;
  r->has_ts = v->has_timestamp;
  r->ts_ms = v->timestamp_ms;
  r->text_at = -1;
  if (v->result == PW_PLUGIN_ERROR && v->error != NULL) {
    t = v->error;
    tl = strlen(t);
  } else if (v->text != NULL) {
    t = v->text;
    tl = strnlen(v->text, v->text_len);
  }
  if (t != NULL) {
    size_t at = pc->text.len;
    if (pw_buf_append(&pc->text, t, tl) < 0 || pw_buf_append(&pc->text, "", 1) < 0) {
      pc->oom = 1;
      return;
    }
    r->text_at = (long)at;
  }
}

static const char *as_of_path(const struct pw_config *conf, const struct pw_indicator *in) {
  if (in->as_of != NULL && in->as_of[0] != '\0')
    return in->as_of;
  if (conf->sources[in->source].as_of != NULL && conf->sources[in->source].as_of[0] != '\0')
    return conf->sources[in->source].as_of;
  return NULL;
}

static const char *result_text(const struct parse *pc, const struct result *r) {
  return r->text_at >= 0 ? pc->text.data + r->text_at : NULL;
}

/* The query of path P among PATHS[FROM..*NQ), added when absent. */
static int add_query(const char **paths, size_t from, size_t *nq, const char *p) {
  size_t q;

  for (q = from; q < *nq && strcmp(paths[q], p) != 0; q++)
    ;
  if (q == *nq)
    paths[(*nq)++] = p;
  return (int)q;
}

/* Lists the queries of source SRC into PATHS (room for 3 n + 1): its indicators' paths, then
 * each distinct as_of path once, however many indicators share it, then each distinct note path
 * (docs/configuration.md: an indicator's note). Returns their number. */
static size_t list_queries(const struct pw_config *conf, const struct pw_source *src,
                           const char **paths, int *as_of_q, int *note_q) {
  size_t i, n = (size_t)src->n_indicators, nq = n, notes_from;

  for (i = 0; i < n; i++)
    paths[i] = conf->indicators[src->indicators[i]].path;
  for (i = 0; i < n; i++) {
    const char *ap = as_of_path(conf, &conf->indicators[src->indicators[i]]);
    size_t q;
    as_of_q[i] = -1;
    if (ap == NULL)
      continue;
    for (q = n; q < nq && strcmp(paths[q], ap) != 0; q++)
      ;
    if (q == nq)
      paths[nq++] = ap;
    as_of_q[i] = (int)q;
  }
  notes_from = nq;
  for (i = 0; i < n; i++) {
    const char *np = conf->indicators[src->indicators[i]].note_path;
    note_q[i] = np != NULL && np[0] != '\0' ? add_query(paths, notes_from, &nq, np) : -1;
  }
  return nq;
}

/* Parses BODY for every indicator of source SRC in one call of its plugin. Returns the parse
 * (owned) or NULL with ERR set. */
static struct parse *parse_body(const struct pw_plugins *plugins, const struct pw_config *conf,
                                const struct pw_source *src, const char *body, size_t len,
                                char *err, size_t errlen) {
  const struct pw_plugin *pl = pw_plugins_find(plugins, src->format);
  struct pw_plugin_options opts = {src->csv_delimiter ? src->csv_delimiter : ','};
  size_t i, n = (size_t)src->n_indicators;
  struct parse *pc = calloc(1, sizeof(*pc));
  const char **paths = calloc(3 * n + 1, sizeof(*paths));
  char perr[512];

  if (pc != NULL) {
    pc->results = calloc(3 * n + 1, sizeof(*pc->results));
    pc->as_of_q = calloc(n + 1, sizeof(*pc->as_of_q));
    pc->note_q = calloc(n + 1, sizeof(*pc->note_q));
  }
  if (pc == NULL || paths == NULL || pc->results == NULL || pc->as_of_q == NULL ||
      pc->note_q == NULL) {
    snprintf(err, errlen, "out of memory parsing the body");
    goto fail;
  }
  pc->n = list_queries(conf, src, paths, pc->as_of_q, pc->note_q);
  for (i = 0; i < pc->n; i++) {
    pc->results[i].text_at = -1;
    pc->results[i].as_of_rc = 1;
  }
  if (pl == NULL) {
    snprintf(err, errlen, "no parser plugin for format %s", src->format);
    goto fail;
  }
  if (pl->parse(&opts, body, len, paths, pc->n, on_emit, pc, perr, sizeof(perr)) < 0) {
    snprintf(err, errlen, "cannot parse the %s body: %s", src->format, perr);
    goto fail;
  }
  if (pc->oom) {
    snprintf(err, errlen, "out of memory parsing the body");
    goto fail;
  }
  free(paths);
  return pc;
fail:
  free(paths);
  parse_free(pc);
  return NULL;
}

/* ---- one indicator's result ------------------------------------------------------------- */

/* FNV-1a of TEXT, never 0 (0 means "nothing logged"). */
static uint64_t line_hash(const char *text) {
  uint64_t h = UINT64_C(14695981039346656037);

  for (; *text != '\0'; text++)
    h = (h ^ (unsigned char)*text) * UINT64_C(1099511628211);
  return h != 0 ? h : 1;
}

/* Counts a bad sample of the I-th indicator of SS's source and logs it at LEVEL, unless the same
 * line was logged for it the last time (docs/values.md): a figure that stays bad is said once,
 * as a failing source is, until it changes or a good figure (or none) comes in between. */
static void bad_sample(struct source_state *ss, size_t i, struct pw_admit_stats *stats,
                       enum pw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void bad_sample(struct source_state *ss, size_t i, struct pw_admit_stats *stats,
                       enum pw_log_level level, const char *fmt, ...) {
  char line[1024];
  uint64_t h;
  va_list ap;

  stats->bad++;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  h = line_hash(line);
  if (ss->bad_logged[i] == h)
    return;
  ss->bad_logged[i] = h;
  pw_log_write(level, PW_LOG_MODULE, "%s", line);
}

/* Reads an as_of result into an instant, once per query however many indicators share it.
 * Returns 0 or -EINVAL. */
static int read_as_of(const struct parse *pc, struct result *r, int64_t *out) {
  const char *text = result_text(pc, r);

  if (r->as_of_rc == 1) {
    r->as_of_rc = -EINVAL;
    if ((r->kind == PW_PLUGIN_NUMBER || r->kind == PW_PLUGIN_TEXT) && text != NULL) {
      r->as_of_rc = pw_date_parse(text, &r->as_of);
    } else if (r->kind == PW_PLUGIN_NUMBER && isfinite(r->number) &&
               r->number == floor(r->number)) {
      char buf[32];
      snprintf(buf, sizeof(buf), "%.0f", r->number);
      r->as_of_rc = pw_date_parse(buf, &r->as_of);
    }
  }
  if (r->as_of_rc == 0)
    *out = r->as_of;
  return r->as_of_rc;
}

/* The value of the I-th indicator of SRC from its result. Returns 0 and *VALUE; 1 when there is
 * nothing to store (not published, null); or -EINVAL for a bad sample, logged and counted. */
static int read_value(struct source_state *ss, const struct parse *pc, const struct pw_source *src,
                      size_t i, const struct pw_indicator *in, double *value,
                      struct pw_admit_stats *stats) {
  const struct result *r = &pc->results[i];
  const char *text = result_text(pc, r);
  int rc;

  switch (r->kind) {
  case PW_PLUGIN_NOT_FOUND:
    ss->bad_logged[i] = 0;
    /* Not published, or a typo in the path: say so once, not at every poll. */
    if (!ss->warned_missing[i]) {
      pw_log_warn("source '%s', indicator '%s': path %s selects nothing (not published)", src->id,
                  in->id, in->path);
      ss->warned_missing[i] = 1;
    }
    return 1;
  case PW_PLUGIN_NULL:
    ss->bad_logged[i] = 0;
    return 1;
  case PW_PLUGIN_ERROR:
    bad_sample(ss, i, stats, PW_LOG_ERROR, "source '%s', indicator '%s': path %s: %s", src->id,
               in->id, in->path, text ? text : "error");
    return -EINVAL;
  case PW_PLUGIN_NUMBER:
    ss->warned_missing[i] = 0;
    rc = pw_admit_number(in, r->number, value);
    if (rc == -EDOM) {
      bad_sample(ss, i, stats, PW_LOG_WARN, "source '%s', indicator '%s': bad sample '%s' (%s)",
                 src->id, in->id, text ? text : "NaN",
                 isfinite(r->number) ? "too close to zero to be stored" : "not a finite number");
      return -EINVAL;
    }
    break;
  case PW_PLUGIN_TEXT:
  default:
    ss->warned_missing[i] = 0;
    rc = pw_admit_text(in, text ? text : "", value);
    break;
  }
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    ss->bad_logged[i] = 0;
    return 1;
  }
  if (rc < 0) {
    bad_sample(ss, i, stats, PW_LOG_WARN, "source '%s', indicator '%s': bad sample '%s'", src->id,
               in->id, text ? text : "?");
    return -EINVAL;
  }
  return 0;
}

/* The date of the I-th indicator of SRC: its as_of path's, else the plugin's timestamp, else
 * the fetch time (then OWN is 0). Returns 0, or -EINVAL for a bad sample, logged and counted. */
static int read_date(const struct pw_config *conf, struct source_state *ss, struct parse *pc,
                     const struct pw_source *src, size_t i, const struct pw_indicator *in,
                     int64_t *as_of, int *own, struct pw_admit_stats *stats) {
  const struct result *r = &pc->results[i];
  struct result *ar = pc->as_of_q[i] >= 0 ? &pc->results[pc->as_of_q[i]] : NULL;

  *own = 1;
  if (ar != NULL) {
    if (read_as_of(pc, ar, as_of) < 0) {
      const char *at = result_text(pc, ar);
      bad_sample(ss, i, stats, PW_LOG_WARN,
                 "source '%s', indicator '%s': bad sample: as_of %s gives '%s', not a date",
                 src->id, in->id, as_of_path(conf, in),
                 ar->kind == PW_PLUGIN_NOT_FOUND ? "nothing"
                 : at                            ? at
                                                 : "?");
      return -EINVAL;
    }
  } else if (r->has_ts) {
    *as_of = r->ts_ms / 1000;
  } else {
    *own = 0; /* *AS_OF stays the fetch time */
  }
  return 0;
}

/* The note of the I-th indicator of SRC into BUF (PW_NOTE_BUF bytes): its note path's text, or
 * a number as it prints. Returns BUF, or NULL when there is none (no path, nothing selected, or
 * not clean text: the figure is kept without it, and a note that cannot be kept is logged once
 * per answer that changed, SAME being 0). */
static const char *read_note(const struct parse *pc, const struct pw_source *src, size_t i,
                             const struct pw_indicator *in, int same, char *buf, size_t len) {
  const struct result *r;
  const char *text;
  char num[40];
  int rc;

  if (pc->note_q[i] < 0)
    return NULL;
  r = &pc->results[pc->note_q[i]];
  text = result_text(pc, r);
  if (r->kind == PW_PLUGIN_NUMBER && text == NULL && isfinite(r->number))
    text = pw_value_format(r->number, num, sizeof(num));
  if ((r->kind != PW_PLUGIN_NUMBER && r->kind != PW_PLUGIN_TEXT) || text == NULL)
    return NULL;
  rc = pw_note_clean(text, strlen(text), buf, len);
  /* Logged when the answer is new: the same bytes again bring the same note. */
  if (rc < 0 && !same)
    pw_log_warn("source '%s', indicator '%s': note %s is not kept: %s", src->id, in->id,
                in->note_path,
                rc == -E2BIG ? "longer than " PW_STR(PW_NOTE_MAX) " characters" : "not UTF-8");
  return rc > 0 ? buf : NULL;
}

/* ---- an answer -------------------------------------------------------------------------- */

int pw_ingest_body(struct pw_ingest *ing, int source, const char *body, size_t len, int same,
                   int64_t fetched_at, char *err, size_t errlen) {
  const struct pw_config *conf = ing->admit->conf;
  const struct pw_source *src;
  struct source_state *ss;
  struct pw_admit_stats stats;
  size_t i, n;

  if (ing->sources == NULL || source < 0 || source >= ing->n_sources) {
    snprintf(err, errlen, "out of memory (ingest has no state for this source)");
    return -ENOMEM;
  }
  src = &conf->sources[source];
  ss = &ing->sources[source];
  n = (size_t)src->n_indicators;
  if (n == 0)
    return 0;
  if (!same || ss->parsed == NULL) {
    struct parse *pc = parse_body(ing->plugins, conf, src, body, len, err, errlen);
    /* A body that does not parse leaves no parse behind to be taken for it later. */
    parse_free(ss->parsed);
    ss->parsed = pc;
    if (pc == NULL)
      return -EINVAL;
  }
  memset(&stats, 0, sizeof(stats));
  for (i = 0; i < n; i++) {
    const struct pw_indicator *in = &conf->indicators[src->indicators[i]];
    struct pw_admit_sample s;
    char note[PW_NOTE_BUF], why[160];
    s.ind = src->indicators[i];
    s.as_of = s.fetched_at = fetched_at;
    s.source = src->id;
    s.note = NULL;
    if (read_value(ss, ss->parsed, src, i, in, &s.value, &stats) != 0 ||
        read_date(conf, ss, ss->parsed, src, i, in, &s.as_of, &s.own_as_of, &stats) < 0)
      continue;
    /* Admission's own rules (the dates, a milestone's stage) are checked here first, so that
     * a refusal that stays the same is logged once too; admission then finds nothing to
     * refuse. */
    if (pw_admit_check(in, &s, why, sizeof(why)) < 0) {
      bad_sample(ss, i, &stats, PW_LOG_WARN, "source '%s', indicator '%s': bad sample: %s", src->id,
                 in->id, why);
      continue;
    }
    ss->bad_logged[i] = 0;
    s.note = read_note(ss->parsed, src, i, in, same, note, sizeof(note));
    pw_admit_sample(ing->admit, &s, &stats);
  }
  /* Bad samples have a line each (once while they stay the same): the summary is for a poll
   * that stored something. */
  if (stats.fresh + stats.revisions + stats.notes > 0)
    pw_log_info("source '%s': %u new, %u revisions, %u unchanged, %u bad, %u notes changed",
                src->id, stats.fresh, stats.revisions, stats.duplicates + stats.unchanged,
                stats.bad, stats.notes);
  return 0;
}

/* ---- what an answer would come to (pacewatch fetch) --------------------------------------- */

/* The text of result R for people: its text, its number, or what it is. */
static const char *shown_result(const struct parse *pc, const struct result *r, char *buf,
                                size_t len) {
  const char *text = result_text(pc, r);

  switch (r->kind) {
  case PW_PLUGIN_NOT_FOUND:
    return "nothing";
  case PW_PLUGIN_NULL:
    return "null";
  case PW_PLUGIN_ERROR:
    return text ? text : "error";
  case PW_PLUGIN_NUMBER:
    return text ? text : pw_value_format(r->number, buf, len);
  default:
    return text ? text : "";
  }
}

/* Fills E (value, date, outcome) for the I-th indicator of SRC from the parse PC. */
static void explain_one(const struct pw_config *conf, const struct pw_journal *j, struct parse *pc,
                        const struct pw_source *src, size_t i, int64_t fetched_at,
                        struct pw_ingest_explained *e, char *why, size_t whylen, char *note,
                        size_t notelen, char *abuf, size_t abuflen) {
  const struct pw_indicator *in = &conf->indicators[src->indicators[i]];
  const struct result *r = &pc->results[i];
  struct result *ar = pc->as_of_q[i] >= 0 ? &pc->results[pc->as_of_q[i]] : NULL;
  struct pw_admit_sample s;
  const char *text = result_text(pc, r);
  int rc = 0;

  e->outcome = PW_INGEST_BAD;
  e->why = why;
  why[0] = '\0';
  /* The date first: it is shown even when the value is missing or bad. */
  e->as_of = fetched_at;
  e->has_as_of = 1;
  if (ar != NULL) {
    e->as_of_path = as_of_path(conf, in);
    e->as_of_text = shown_result(pc, ar, abuf, abuflen);
    e->has_as_of = read_as_of(pc, ar, &e->as_of) == 0;
    e->own_as_of = 1;
  } else if (r->has_ts) {
    e->as_of = r->ts_ms / 1000;
    e->own_as_of = 1;
  }
  switch (r->kind) {
  case PW_PLUGIN_NOT_FOUND:
    e->outcome = PW_INGEST_NOT_FOUND;
    snprintf(why, whylen, "path %s selects nothing", in->path);
    return;
  case PW_PLUGIN_NULL:
    e->outcome = PW_INGEST_NOTHING;
    snprintf(why, whylen, "null: not published");
    return;
  case PW_PLUGIN_ERROR:
    snprintf(why, whylen, "path %s: %s", in->path, text ? text : "error");
    return;
  case PW_PLUGIN_NUMBER:
    rc = pw_admit_number(in, r->number, &e->value);
    if (rc == -EDOM) {
      snprintf(why, whylen, "%s",
               isfinite(r->number) ? "too close to zero to be stored" : "not a finite number");
      return;
    }
    break;
  default:
    rc = pw_admit_text(in, text ? text : "", &e->value);
    break;
  }
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    e->outcome = PW_INGEST_NOTHING;
    snprintf(why, whylen, "'%s' means not published", text ? text : "");
    return;
  }
  if (rc < 0) {
    snprintf(why, whylen, "'%s' is not a value of this indicator", text ? text : "?");
    return;
  }
  e->has_value = 1;
  if (!e->has_as_of) {
    snprintf(why, whylen, "as_of %s gives '%s', not a date", e->as_of_path,
             ar != NULL && ar->kind == PW_PLUGIN_NOT_FOUND ? "nothing"
             : e->as_of_text                               ? e->as_of_text
                                                           : "?");
    return;
  }
  memset(&s, 0, sizeof(s));
  s.ind = src->indicators[i];
  s.as_of = e->as_of;
  s.own_as_of = e->own_as_of;
  s.value = e->value;
  s.fetched_at = fetched_at;
  s.source = src->id;
  if (pw_admit_check(in, &s, why, whylen) < 0)
    return;
  e->note = read_note(pc, src, i, in, 1, note, notelen);
  e->outcome = (int)pw_journal_classify(j, s.ind, s.as_of, s.value, s.own_as_of);
}

int pw_ingest_explain(const struct pw_plugins *plugins, const struct pw_config *conf,
                      const struct pw_journal *j, int source, int only, const char *body,
                      size_t len, int64_t fetched_at, pw_ingest_explain_cb cb, void *data,
                      char *err, size_t errlen) {
  const struct pw_source *src = &conf->sources[source];
  struct parse *pc;
  size_t i;

  if (src->n_indicators == 0)
    return 0;
  pc = parse_body(plugins, conf, src, body, len, err, errlen);
  if (pc == NULL)
    return -EINVAL;
  for (i = 0; i < (size_t)src->n_indicators; i++) {
    struct pw_ingest_explained e;
    char sel[40], abuf[40], why[256], note[PW_NOTE_BUF];
    if (only >= 0 && src->indicators[i] != only)
      continue;
    memset(&e, 0, sizeof(e));
    e.ind = src->indicators[i];
    e.selected = shown_result(pc, &pc->results[i], sel, sizeof(sel));
    explain_one(conf, j, pc, src, i, fetched_at, &e, why, sizeof(why), note, sizeof(note), abuf,
                sizeof(abuf));
    cb(data, &e);
  }
  parse_free(pc);
  return 0;
}

/* ---- life cycle ------------------------------------------------------------------------- */

static void drop_state(struct pw_ingest *ing) {
  int i;

  for (i = 0; ing->sources != NULL && i < ing->n_sources; i++)
    parse_free(ing->sources[i].parsed);
  free(ing->sources);
  free(ing->flags);
  free(ing->bad_hashes);
  ing->sources = NULL;
  ing->flags = NULL;
  ing->bad_hashes = NULL;
  ing->n_sources = 0;
}

int pw_ingest_reload(struct pw_ingest *ing) {
  const struct pw_config *conf = ing->admit->conf;
  size_t total = 0, at = 0;
  int i;

  drop_state(ing);
  /* One flag per indicator of each source (by position), not per configured indicator: 500
   * sources of a 5,000-indicator province made 2.5 MB of flags that way. */
  for (i = 0; i < conf->n_sources; i++)
    total += (size_t)conf->sources[i].n_indicators;
  ing->sources = calloc((size_t)conf->n_sources + 1, sizeof(*ing->sources));
  ing->flags = calloc(total + 1, 1);
  ing->bad_hashes = calloc(total + 1, sizeof(*ing->bad_hashes));
  if (ing->sources == NULL || ing->flags == NULL || ing->bad_hashes == NULL) {
    drop_state(ing);
    return -ENOMEM;
  }
  for (i = 0; i < conf->n_sources; i++) {
    ing->sources[i].warned_missing = ing->flags + at;
    ing->sources[i].bad_logged = ing->bad_hashes + at;
    at += (size_t)conf->sources[i].n_indicators;
  }
  ing->n_sources = conf->n_sources;
  return 0;
}

int pw_ingest_init(const struct pw_plugins *plugins, struct pw_admit *admit,
                   struct pw_ingest **out) {
  struct pw_ingest *ing = calloc(1, sizeof(*ing));
  int rc;

  *out = NULL;
  if (ing == NULL)
    return -ENOMEM;
  ing->plugins = plugins;
  ing->admit = admit;
  rc = pw_ingest_reload(ing);
  if (rc < 0) {
    free(ing);
    return rc;
  }
  *out = ing;
  return 0;
}

void pw_ingest_free(struct pw_ingest *ing) {
  if (ing == NULL)
    return;
  drop_state(ing);
  free(ing);
}
