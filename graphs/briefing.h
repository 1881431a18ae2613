/*
 * briefing: the weekly briefing of docs/briefing.md, in the shape of the county's own report
 * (the seed report the demo is built from): HTML (self-contained, graphs as data URIs, printable on
 * A4), Markdown (with its PNG graphs beside it) and an editable Word document, in Chinese, and
 * the channels' JSON (the robots' summaries, the webhook's structured document).
 */
#ifndef PW_BRIEFING_H
#define PW_BRIEFING_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "store.h"

struct pw_briefing_request {
  const struct pw_config *conf;
  const struct pw_journal *journal;
  const struct pw_store *store;
  int64_t at;          /* the briefing judges every indicator at AT, and at AT - 7 days */
  const char *out_dir; /* where <YYYY>-W<ww>.html, .md and the PNGs go (created if needed) */
  int graphs;          /* 0 leaves graphs out (faster, for tests of the text) */
};

struct pw_briefing_result {
  char name[16]; /* "2024-W18" */
  char html_path[4096];
  char md_path[4096];
  char docx_path[4096]; /* the Word document (docx.h) */
  char json_path[4096]; /* the channels' document and summaries (channels.h) */
};

/* The ISO 8601 week of T - 1 s (local time) as "YYYY-Www" into BUF (at least 16 bytes). */
char *pw_briefing_week_name(int64_t t, char *buf, size_t size);

/* Whether NAME is a file the briefing writes ("2024-W18.html", ".md", ".docx", ".json",
 * "2024-W18-<indicator id>.png"), or a temporary file of its atomic write ("….tmp.<pid>").
 * Retention removes only those from state_dir/briefings/ (docs/storage.md "Retention"). */
int pw_briefing_file_name(const char *name);

/* Writes the briefing. Returns 0 and fills RES, or a negative errno with ERR set. Blocking
 * (renders graphs and writes files): call it from a worker thread in the daemon. */
int pw_briefing_write(const struct pw_briefing_request *req, struct pw_briefing_result *res,
                      char *err, size_t errlen);

#endif
