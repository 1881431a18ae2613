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

/* Frees everything. Accepts NULL. */
void pw_ingest_free(struct pw_ingest *ing);

#endif
