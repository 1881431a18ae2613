/*
 * alert: the per-condition state machine of docs/alerts.md. Like collectd's thresholds it
 * has hysteresis in time (`for`), but unlike collectd it keeps what it notified in a state the
 * caller persists, so that a restart re-judges everything and notifies only what differs: an
 * alert that was already notified as firing is not announced again, and one that ended while
 * the daemon was down is resolved once.
 */
#include "alert.h"

#include <stddef.h>

const char *pw_alert_severity_name(enum pw_alert_severity sev) {
  switch (sev) {
  case PW_SEV_LAGGING:
    return "lagging";
  case PW_SEV_SEVERE:
    return "severe";
  case PW_SEV_STALE:
    return "stale";
  case PW_SEV_SOURCE:
    return "source";
  case PW_SEV_OVERDUE:
    return "overdue";
  case PW_SEV_REMIND:
    return "remind";
  default:
    return NULL;
  }
}

const char *pw_alert_cond_name(enum pw_alert_cond cond) {
  switch (cond) {
  case PW_COND_LAG:
    return "lag";
  case PW_COND_STALE:
    return "stale";
  case PW_COND_SOURCE_DOWN:
    return "source_down";
  case PW_COND_OVERDUE:
    return "overdue";
  case PW_COND_REMIND:
    return "remind";
  }
  return "?";
}

int pw_alert_lag_holds(const struct pw_verdict *v, enum pw_alert_severity *sev, int *quiet_close) {
  *quiet_close = v->status == PW_STATUS_NO_DATA || v->status == PW_STATUS_NO_TARGET;
  if (v->status == PW_STATUS_LAGGING) {
    *sev = PW_SEV_LAGGING;
    return 1;
  }
  if (v->status == PW_STATUS_SEVERE) {
    *sev = PW_SEV_SEVERE;
    return 1;
  }
  *sev = PW_SEV_NONE;
  return 0;
}

int pw_alert_in_quiet_hours(int start, int end, int m) {
  if (start == end)
    return 0;
  if (start < end)
    return m >= start && m < end;
  return m >= start || m < end; /* wraps midnight, e.g. 22:00-07:30 */
}

enum pw_alert_action pw_alert_step(struct pw_alert_state *st, int holds, enum pw_alert_severity sev,
                                   int silenced, int quiet_close, int64_t now,
                                   const struct pw_alert_policy *pol) {
  if (!holds) {
    int was_firing = st->firing;
    st->holding = 0;
    st->since = 0;
    if (!was_firing)
      return PW_ALERT_NOTHING;
    /* A silence holds back resolutions too; so does an ending that is no news (the year
     * rolled over, a target was withdrawn). The alert is simply closed. */
    st->firing = 0;
    st->severity = PW_SEV_NONE;
    st->muted = 0;
    if (silenced || quiet_close || !pol->send_resolved)
      return PW_ALERT_CLOSED;
    return PW_ALERT_RESOLVED;
  }
  if (!st->holding) {
    st->holding = 1;
    st->since = now;
  }
  if (silenced) {
    st->muted = 1;
    return PW_ALERT_NOTHING;
  }
  if (st->muted && st->firing) {
    /* The silence is over and the alert still fires: say so now rather than at the next
     * reminder. */
    st->muted = 0;
    st->severity = sev;
    st->last_notified = now;
    return PW_ALERT_REMINDER;
  }
  st->muted = 0;
  if (!st->firing) {
    if (now - st->since < pol->for_s)
      return PW_ALERT_NOTHING;
    st->firing = 1;
    st->severity = sev;
    st->last_notified = now;
    return PW_ALERT_FIRING;
  }
  if (sev != st->severity) {
    /* A change of severity is news at once: no `for` again. */
    st->severity = sev;
    st->last_notified = now;
    return PW_ALERT_CHANGED;
  }
  if (pol->repeat > 0 && now - st->last_notified >= pol->repeat) {
    st->last_notified = now;
    return PW_ALERT_REMINDER;
  }
  return PW_ALERT_NOTHING;
}

int pw_alert_budget_take(int64_t *ring, int ring_len, int64_t limit, int cost, int per_second,
                         int64_t now) {
  int k, used = 0, last_second = 0;

  if (limit <= 0)
    return 1;
  if (limit > ring_len)
    limit = ring_len;
  for (k = 0; k < ring_len; k++) {
    used += ring[k] != 0 && now - ring[k] < 60;
    last_second += ring[k] != 0 && now - ring[k] < 1;
  }
  if (used + cost > limit && used > 0)
    return 0; /* (a budget below the cost still lets one message through per minute) */
  if (per_second > 0 && last_second + cost > per_second)
    return 0;
  for (k = 0; k < ring_len && cost > 0; k++)
    if (ring[k] == 0 || now - ring[k] >= 60) {
      ring[k] = now;
      cost--;
    }
  return 1;
}
