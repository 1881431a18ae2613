/*
 * status: the judgement of every indicator at one instant, as the JSON document of
 * docs/status-json.md (for `pacewatch status --json` and the HTTP API) or as a table for people.
 */
#ifndef PW_STATUS_H
#define PW_STATUS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "judge.h"

/* Judges indicator IND of CONF from journal J at AT. */
void pw_status_judge(const struct pw_config *conf, const struct pw_series *series, int ind,
                     int64_t at, struct pw_verdict *out);

/* The note of the sample verdict V shows: the newest revision of V's as_of known at AT in
 * series S (the note is the latest one journaled for that as_of, docs/storage.md), or NULL.
 * Borrowed from S: valid until the series changes. Pure. */
const char *pw_status_note(const struct pw_series *s, const struct pw_verdict *v, int64_t at);

/* The current explanation of series S: the newest (docs/storage.md#explanations, whatever
 * instant is judged, like a sample's note), or NULL. Borrowed from S. Pure. */
const struct pw_explanation *pw_status_explanation(const struct pw_series *s);

/* Whether explanation E's expected catch-up date has passed at AT (AT is at or after the end of
 * that day) while verdict V still lags (lagging or severe). Pure. */
int pw_status_catch_up_overdue(const struct pw_explanation *e, const struct pw_verdict *v,
                               int64_t at);

/* Explanation E (NULL: JSON null) as the `explanation` object of docs/status-json.md, judged
 * with V at AT for `overdue`. Returns a new reference. */
json_t *pw_status_explanation_json(const struct pw_explanation *e, const struct pw_verdict *v,
                                   int64_t at);

/* One indicator's verdict as a JSON object of section 5 (without `note` and `explanation`, which
 * need the series: pw_status_json adds them). Returns a new reference. */
json_t *pw_status_verdict_json(const struct pw_config *conf, int ind, const struct pw_verdict *v);

/* The whole section 5 document at AT. Returns a new reference, NULL on allocation failure. */
json_t *pw_status_json(const struct pw_config *conf, const struct pw_series *series, int64_t at);

/* The period whose figure verdict V says is due (V->has_due), as the county office writes it:
 * "2024年3月" for a month, "2024年一季度" for a quarter. Returns BUF (SIZE bytes). */
char *pw_status_due_period(const struct pw_verdict *v, char *buf, size_t size);

/* The last day allowed by V's deadline (the day of V->due_by - 1 s, local time) into *YEAR,
 * *MONTH and *DAY. Process zone. */
void pw_status_due_day(const struct pw_verdict *v, int *year, int *month, int *day);

/* A number as JSON: an integer when V is whole and exactly representable, else a real. */
json_t *pw_status_number(double v);

/* Writes the table for people to OUT (aligned for Chinese text; COLOR adds ANSI colours). */
void pw_status_table(FILE *out, const struct pw_config *conf, const struct pw_series *series,
                     int64_t at, int color);

#endif
