/*
 * channels: the briefing's model (report.h) in the forms its channels show (docs/briefing.md
 * "Delivery"): a short summary for the robots (counts, the lagging indicators by department,
 * the data gaps, a link to the full briefing; no tables, no images), and the structured JSON
 * document for a webhook (sections, indicators with their sentences and status, links).
 * The briefing writes both into <YYYY>-W<ww>.json beside the other files; delivery reads it.
 */
#ifndef PW_CHANNELS_H
#define PW_CHANNELS_H

#include <jansson.h>
#include <stddef.h>

#include "report.h"
#include "util.h"

/* The robots' summary is at most this many bytes (WeCom's markdown takes 4096 with its
 * envelope; docs/briefing.md "Delivery"). */
#define PW_SUMMARY_LIMIT 3000

/* The summary of R, appended to OUT: Markdown (MARKDOWN 1: DingTalk, WeCom; bold and a link)
 * or plain text (0: Feishu's text message). LINK is the full briefing's address
 * ("<public_url>/briefings/<week>.html"), or NULL: then WHERE (the HTML file's path) is named
 * instead. Lists are cut ("等N项") to keep the whole within PW_SUMMARY_LIMIT bytes. Returns 0 or
 * -ENOMEM. */
int pw_report_summary(const struct pw_report *r, int markdown, const char *link, const char *where,
                      struct pw_buf *out);

/* The structured document of R: week, title, issuer, date, period, counts, sections (blocks
 * of paragraphs, tables, images by file name, slots), indicators (id, name, department,
 * status, stale, figure, sentence, attention, changed), files (the names beside it) and links
 * (NULL members without PUBLIC_URL), summary_markdown and summary_text (which name HTML_PATH,
 * the file on the server, when there is no link). Returns a new reference, or NULL when out of
 * memory. */
json_t *pw_report_json(const struct pw_report *r, const char *public_url, const char *html_path);

#endif
