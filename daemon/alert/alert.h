/*
 * alert: the state machine of one alert condition (docs/alerts.md), as a pure function of
 * its saved state, whether the condition holds now, its severity, the time and the policy
 * (for, repeat, send_resolved, a silence). It decides what to notify: nothing, "firing" (first
 * time, a severity change, a reminder) or "resolved", and updates the state that is persisted
 * so that a restart neither forgets a firing alert nor repeats one already delivered. Routing,
 * grouping and delivery are done by the callers with what it returns.
 */
#ifndef PW_ALERT_H
#define PW_ALERT_H

#include <stdint.h>

#include "judge.h"

/* Saved by number in alerts.json: new members go at the end. */
enum pw_alert_cond {
  PW_COND_LAG = 0,
  PW_COND_STALE,
  PW_COND_SOURCE_DOWN,
  PW_COND_OVERDUE, /* a figure missing after its reporting deadline */
  PW_COND_REMIND   /* a figure still missing report_remind before its deadline */
};

enum pw_alert_severity {
  PW_SEV_NONE = 0,
  PW_SEV_LAGGING,
  PW_SEV_SEVERE,
  PW_SEV_STALE,
  PW_SEV_SOURCE,
  PW_SEV_OVERDUE,
  PW_SEV_REMIND
};

/* What a step asks the caller to notify. */
enum pw_alert_action {
  PW_ALERT_NOTHING = 0,
  PW_ALERT_FIRING,   /* first notification once `for` has passed */
  PW_ALERT_CHANGED,  /* still firing, with another severity */
  PW_ALERT_REMINDER, /* still firing, `repeat` has passed since the last notification */
  PW_ALERT_RESOLVED, /* ended, and send_resolved */
  PW_ALERT_CLOSED    /* ended without a notification (silenced, no_data/no_target, or
                        send_resolved off) */
};

/* The persisted state of one alert. A zeroed struct is an alert that has never held. */
struct pw_alert_state {
  int holding;                     /* the condition held at the last evaluation */
  int firing;                      /* a firing notification was issued and not yet resolved */
  int64_t since;                   /* first evaluation that saw the current run hold */
  int64_t last_notified;           /* time of the last firing notification */
  enum pw_alert_severity severity; /* severity last notified (while firing) */
  int muted;                       /* a silence held back a notification of this alert */
};

struct pw_alert_policy {
  int64_t for_s;  /* alerting.for */
  int64_t repeat; /* alerting.repeat */
  int send_resolved;
};

/* One evaluation at NOW. HOLDS: the condition holds; SEV: its severity when it does. SILENCED:
 * a silence covers the indicator now (nothing is notified, resolutions included; when the
 * silence ends, a still-firing alert notifies). QUIET_CLOSE: the condition ended because the
 * indicator has no data or no target (closes without a notification). Updates *ST and returns
 * the action. Pure. */
enum pw_alert_action pw_alert_step(struct pw_alert_state *st, int holds, enum pw_alert_severity sev,
                                   int silenced, int quiet_close, int64_t now,
                                   const struct pw_alert_policy *pol);

/* The lag condition of a verdict: holds when the status is lagging or severe, with that
 * severity. QUIET_CLOSE is set when the status is no_data or no_target. */
int pw_alert_lag_holds(const struct pw_verdict *v, enum pw_alert_severity *sev, int *quiet_close);

/* "lagging", "severe", "stale", "source", "overdue", "remind" (NULL for none). */
const char *pw_alert_severity_name(enum pw_alert_severity sev);

/* "lag", "stale", "source_down", "overdue", "remind". */
const char *pw_alert_cond_name(enum pw_alert_cond cond);

/* Whether minute-of-day M (0..1439) is inside quiet hours START-END (which may wrap midnight). */
int pw_alert_in_quiet_hours(int start, int end, int m);

/* A receiver's rate budget (docs/alerts.md): whether a message costing COST requests may go at
 * NOW under LIMIT requests a minute (0: no limit) and, if PER_SECOND > 0, that many a second.
 * RING (RING_LEN entries, zeroed at first) remembers the receiver's recent requests; when the
 * message may go its requests are entered there. A budget below the cost still lets one message
 * through a minute. Pure. */
int pw_alert_budget_take(int64_t *ring, int ring_len, int64_t limit, int cost, int per_second,
                         int64_t now);

#endif
