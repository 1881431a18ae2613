/*
 * ingest: a source's answer becomes candidate samples. The body is parsed once by the source's
 * parser plugin for all the indicators it feeds (their paths, and the as_of paths they share
 * asked once), each result is read as a value and a date, and every candidate goes through
 * admission (admit.h).
 *
 * A source's last parse is kept and used again when the body is the same (a 304 answer, or a 200
 * with the same bytes): unchanged data, the normal case of KPI endpoints, costs no parse at all.
 * A path that selects nothing is logged once per source and indicator, not at every poll.
 *
 * Loop thread only.
 */
#ifndef PW_INGEST_H
#define PW_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "plugin_host.h"

struct pw_ingest;

/* Creates the ingest stage for the sources of ADMIT->conf. PLUGINS and ADMIT are borrowed and
 * must outlive it. Returns 0 and *OUT (free with pw_ingest_free), or -ENOMEM. */
int pw_ingest_init(const struct pw_plugins *plugins, struct pw_admit *admit,
                   struct pw_ingest **out);

/* ADMIT->conf was swapped for another generation: the per-source state is made anew for its
 * sources (every kept parse is dropped: paths may have changed). Returns 0 or -ENOMEM (then the
 * ingest stage is unusable until a reload succeeds: every body fails with -ENOMEM). */
int pw_ingest_reload(struct pw_ingest *ing);

/* Turns BODY (LEN bytes, NUL-terminated), the answer of source SOURCE (index in ADMIT->conf)
 * received at FETCHED_AT, into samples of every indicator of the source, admitted through
 * ADMIT. SAME: the body is the one this source answered last time, whose parse is then used
 * again. Returns 0, or a negative errno with ERR set when the body cannot be parsed at all. */
int pw_ingest_body(struct pw_ingest *ing, int source, const char *body, size_t len, int same,
                   int64_t fetched_at, char *err, size_t errlen);

/* What one indicator of a source's answer would come to (`pacewatch fetch`). Strings are
 * valid during the callback only. */
struct pw_ingest_explained {
  int ind;                  /* index in conf->indicators */
  const char *selected;     /* what the path selected as text: "4782", "null", "nothing" */
  const char *as_of_path;   /* the as_of path used, or NULL (the fetch time is the as_of) */
  const char *as_of_text;   /* what it selected, or NULL */
  int has_as_of, own_as_of; /* AS_OF is known; it came with the figure */
  int64_t as_of;
  int has_value; /* VALUE was read */
  double value;
  const char *note; /* the figure's note, or NULL */
  int outcome;      /* enum pw_sample_class (>= 0), or one of PW_INGEST_* (< 0) */
  const char *why;  /* for PW_INGEST_BAD and PW_INGEST_NOTHING: why */
};

/* Outcomes of pw_ingest_explained beside the sample classes: nothing to store (a not-published
 * marker, null; NOT_FOUND when the path selects nothing at all), or a bad sample. */
enum { PW_INGEST_NOTHING = -1, PW_INGEST_NOT_FOUND = -2, PW_INGEST_BAD = -3 };

typedef void (*pw_ingest_explain_cb)(void *data, const struct pw_ingest_explained *e);

/* Parses BODY (LEN bytes, NUL-terminated), the answer of source SOURCE (index in CONF) received
 * at FETCHED_AT, exactly as pw_ingest_body does, and for every indicator of the source (or only
 * indicator ONLY, an index in CONF, when >= 0) calls CB with what its path and as_of select, the
 * value read and what admission would make of it against journal J: classified with
 * pw_journal_classify, nothing stored, nothing logged. Everything is borrowed. Returns 0, or a
 * negative errno with ERR set when the body cannot be parsed at all. Any one thread. */
int pw_ingest_explain(const struct pw_plugins *plugins, const struct pw_config *conf,
                      const struct pw_journal *j, int source, int only, const char *body,
                      size_t len, int64_t fetched_at, pw_ingest_explain_cb cb, void *data,
                      char *err, size_t errlen);

/* Frees everything. Accepts NULL. */
void pw_ingest_free(struct pw_ingest *ing);

#endif
