/*
 * dashboard: the status server's HTML page for officials and operators, in Chinese, readable on
 * a phone (docs/http.md "Dashboard"): the programme's title (briefing.title) and the time judged
 * in words, one chip per status that filters the cards, a link to the briefings, 需关注 (severe,
 * lagging, then data gaps, each a link to its card), then each area (domain) in configuration
 * order with a card per indicator under the anchor "ind-<id>" (a status light, the latest figure
 * as the briefing writes it, completion against the pace with a bar, the figure's note, who
 * publishes it and who issues its target, the small trend graph), and the health of every
 * source by name. One self-contained document (inline CSS, no script) that refreshes itself
 * every minute; one column under 600 px. A pure function of a view of the daemon's state.
 */
#ifndef PW_DASHBOARD_H
#define PW_DASHBOARD_H

#include "metrics.h"

/* Appends the page for VIEW to OUT. Graph links are relative ("graphs/<id>.png?size=small"), so
 * the page also works behind a reverse proxy under a sub-path. Returns 0, -ENOMEM or -E2BIG. */
int pw_dashboard_write(struct pw_buf *out, const struct pw_view *view);

#endif
