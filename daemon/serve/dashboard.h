/*
 * dashboard: the status server's HTML page for officials and operators, in Chinese: a summary of
 * every status, then each area (domain) in configuration order with a card per indicator (a
 * status light, the latest figure, completion against the pace with a bar, the figure's note,
 * who publishes it and who issues its target, the small trend graph), the data gaps (not published,
 * target not issued, out of date) and the health of every source. One self-contained document
 * (inline CSS, no script) that refreshes itself every minute. A pure function of a view of the
 * daemon's state.
 */
#ifndef PW_DASHBOARD_H
#define PW_DASHBOARD_H

#include "metrics.h"

/* Appends the page for VIEW to OUT. Graph links are relative ("graphs/<id>.png?size=small"), so
 * the page also works behind a reverse proxy under a sub-path. Returns 0, -ENOMEM or -E2BIG. */
int pw_dashboard_write(struct pw_buf *out, const struct pw_view *view);

#endif
