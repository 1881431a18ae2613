/*
 * metrics: the Prometheus text exposition (format 0.0.4) of a view of the daemon. Every family
 * has HELP and TYPE lines, counters end in _total, times are in seconds, and label values are
 * escaped as the format requires, so `promtool check metrics` accepts the output as it is.
 * Indicators without a value, or without a judgement, simply have no sample in the families
 * that need one; the status family always has one sample per status.
 */
#include "metrics.h"

#include <math.h>
#include <string.h>

#include "loopstat.h"
#include "schedule.h"
#include "value.h"

const char *const pw_metrics_severities[PW_METRICS_SEVERITIES] = {"lagging", "severe", "stale",
                                                                  "source"};

static const enum pw_status all_status[] = {PW_STATUS_OK, PW_STATUS_LAGGING, PW_STATUS_SEVERE,
                                            PW_STATUS_NO_DATA, PW_STATUS_NO_TARGET};

/* Appends S as a label value: backslash, double quote and newline escaped. */
static int label_value(struct pw_buf *out, const char *s) {
  const char *p;
  int rc = 0;

  for (p = s; *p != '\0' && rc == 0; p++) {
    if (*p == '\\')
      rc = pw_buf_append(out, "\\\\", 2);
    else if (*p == '"')
      rc = pw_buf_append(out, "\\\"", 2);
    else if (*p == '\n')
      rc = pw_buf_append(out, "\\n", 2);
    else
      rc = pw_buf_append(out, p, 1);
  }
  return rc;
}

static int number(struct pw_buf *out, double v) {
  char buf[40];

  if (isnan(v))
    return pw_buf_append(out, "NaN", 3);
  if (isinf(v))
    return pw_buf_printf(out, "%sInf", v > 0 ? "+" : "-");
  return pw_buf_printf(out, "%s", pw_value_format(v, buf, sizeof(buf)));
}

static int family(struct pw_buf *out, const char *name, const char *type, const char *help) {
  return pw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{indicator="..",domain="..",department=".."[,EXTRA="EXTRA_VALUE"]} VALUE */
static int indicator_sample(struct pw_buf *out, const char *name, const struct pw_config *conf,
                            int i, const char *extra, const char *extra_value, double v) {
  const struct pw_indicator *ind = &conf->indicators[i];
  int rc = pw_buf_printf(out, "%s{indicator=\"", name);

  rc = rc < 0 ? rc : label_value(out, ind->id);
  rc = rc < 0 ? rc : pw_buf_append(out, "\",domain=\"", 10);
  rc = rc < 0 ? rc : label_value(out, ind->domain_id);
  rc = rc < 0 ? rc : pw_buf_append(out, "\",department=\"", 14);
  rc = rc < 0 ? rc : label_value(out, ind->department_id ? ind->department_id : "");
  if (extra != NULL) {
    rc = rc < 0 ? rc : pw_buf_printf(out, "\",%s=\"", extra);
    rc = rc < 0 ? rc : label_value(out, extra_value);
  }
  rc = rc < 0 ? rc : pw_buf_append(out, "\"} ", 3);
  rc = rc < 0 ? rc : number(out, v);
  return rc < 0 ? rc : pw_buf_append(out, "\n", 1);
}

static const char *lag_unit_name(enum pw_lag_unit u) {
  switch (u) {
  case PW_LAG_UNIT_PP:
    return "pp";
  case PW_LAG_UNIT_DAYS:
    return "days";
  case PW_LAG_UNIT_UNIT:
    return "unit";
  default:
    return "";
  }
}

/* The families of one indicator field: WHICH selects the field of the verdict. */
enum field { F_VALUE, F_EXPECTED, F_TARGET, F_LAG, F_COMPLETION, F_PACE, F_AS_OF, F_STALE };

static int indicator_family(struct pw_buf *out, const struct pw_view *v, const char *name,
                            const char *help, enum field which) {
  int i, rc = family(out, name, "gauge", help);

  for (i = 0; rc == 0 && i < v->conf->n_indicators; i++) {
    const struct pw_verdict *vd = &v->verdicts[i];

    switch (which) {
    case F_VALUE:
      if (vd->has_value)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->value);
      break;
    case F_AS_OF:
      if (vd->has_value)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, (double)vd->as_of);
      break;
    case F_EXPECTED:
      if (vd->has_judgement)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->expected);
      break;
    case F_TARGET:
      if (vd->has_judgement)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->target);
      break;
    case F_LAG:
      if (vd->has_judgement)
        rc = indicator_sample(out, name, v->conf, i, "lag_unit", lag_unit_name(vd->lag_unit),
                              vd->lag);
      break;
    case F_COMPLETION:
      if (vd->has_pct)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->completion_pct / 100.0);
      break;
    case F_PACE:
      if (vd->has_pct)
        rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->pace_pct / 100.0);
      break;
    case F_STALE:
      rc = indicator_sample(out, name, v->conf, i, NULL, NULL, vd->stale ? 1 : 0);
      break;
    }
  }
  return rc;
}

static int status_family(struct pw_buf *out, const struct pw_view *v) {
  const char *name = "pacewatch_indicator_status";
  int i, rc = family(out, name, "gauge",
                     "1 for the indicator's current status (ok, lagging, severe, no_data, "
                     "no_target), 0 for the others.");
  size_t k;

  for (i = 0; rc == 0 && i < v->conf->n_indicators; i++)
    for (k = 0; rc == 0 && k < sizeof(all_status) / sizeof(all_status[0]); k++)
      rc = indicator_sample(out, name, v->conf, i, "status", pw_status_name(all_status[k]),
                            v->verdicts[i].status == all_status[k] ? 1 : 0);
  return rc;
}

static int single(struct pw_buf *out, const char *name, const char *type, const char *help,
                  double x);

/* pacewatch_indicator_info: what a dashboard joins on to show the indicator's name and unit
 * (group_left), one sample of 1 per indicator. */
static int info_family(struct pw_buf *out, const struct pw_config *conf) {
  const char *name = "pacewatch_indicator_info";
  int i, rc = family(out, name, "gauge",
                     "Names of the indicator for dashboards (always 1): its name, unit, kind, "
                     "domain and department.");

  for (i = 0; rc == 0 && i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    const struct {
      const char *label, *value;
    } labels[] = {
        {"indicator", ind->id},     {"name", ind->name},
        {"unit", ind->unit},        {"kind", pw_kind_name(ind->kind)},
        {"domain", ind->domain_id}, {"department", ind->department_id},
    };
    size_t k;

    rc = pw_buf_printf(out, "%s{", name);
    for (k = 0; rc == 0 && k < sizeof(labels) / sizeof(labels[0]); k++) {
      rc = pw_buf_printf(out, "%s%s=\"", k > 0 ? "," : "", labels[k].label);
      rc = rc < 0 ? rc : label_value(out, labels[k].value ? labels[k].value : "");
      rc = rc < 0 ? rc : pw_buf_append(out, "\"", 1);
    }
    rc = rc < 0 ? rc : pw_buf_append(out, "} 1\n", 4);
  }
  return rc;
}

/* pacewatch_domain_info and pacewatch_source_info: the names people read (the area, the
 * source), 1 per domain or source, for dashboards to join on domain or source. */
static int names_family(struct pw_buf *out, const struct pw_config *conf, int sources) {
  const char *name = sources ? "pacewatch_source_info" : "pacewatch_domain_info";
  int i, n = sources ? conf->n_sources : conf->n_domains;
  int rc = family(out, name, "gauge",
                  sources ? "Name of the source for dashboards (always 1)."
                          : "Name of the domain (area) for dashboards (always 1).");

  for (i = 0; rc == 0 && i < n; i++) {
    const char *id = sources ? conf->sources[i].id : conf->domains[i].id;
    const char *nm = sources ? conf->sources[i].name : conf->domains[i].name;

    rc = pw_buf_printf(out, "%s{%s=\"", name, sources ? "source" : "domain");
    rc = rc < 0 ? rc : label_value(out, id);
    rc = rc < 0 ? rc : pw_buf_append(out, "\",name=\"", 8);
    /* A source without a name is shown by its id (docs/configuration.md). */
    rc = rc < 0 ? rc : label_value(out, nm != NULL ? nm : id);
    rc = rc < 0 ? rc : pw_buf_append(out, "\"} 1\n", 5);
  }
  return rc;
}

/* The process_* families, named and typed as Prometheus' client libraries name them. */
static int process_families(struct pw_buf *out, const struct pw_procstat *p, int64_t started) {
  const struct {
    const char *name, *type, *help;
    double x;
  } f[] = {
      {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
       p->cpu_seconds},
      {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
       p->resident_bytes},
      {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p->virtual_bytes},
      {"process_open_fds", "gauge", "Number of open file descriptors.", p->open_fds},
      {"process_max_fds", "gauge", "Maximum number of open file descriptors.", p->max_fds},
      {"process_start_time_seconds", "gauge",
       "Start time of the process since unix epoch in seconds.", (double)started},
  };
  size_t k;
  int rc = 0;

  for (k = 0; rc == 0 && k < sizeof(f) / sizeof(f[0]); k++)
    if (f[k].x >= 0)
      rc = single(out, f[k].name, f[k].type, f[k].help, f[k].x);
  return rc;
}

/* Per receiver: notifications sent and attempts failed since the start. */
static int receiver_families(struct pw_buf *out, const struct pw_view *v) {
  int pass, i, rc = 0;

  for (pass = 0; rc == 0 && pass < 2; pass++) {
    const char *name =
        pass == 0 ? "pacewatch_notifications_sent_total" : "pacewatch_notifications_failed_total";

    rc = family(out, name, "counter",
                pass == 0 ? "Notifications the receiver took since the daemon started."
                          : "Delivery attempts to the receiver that failed since the daemon "
                            "started (retried or moved to spool/dead/).");
    for (i = 0; rc == 0 && i < v->n_receivers; i++) {
      rc = pw_buf_printf(out, "%s{receiver=\"", name);
      rc = rc < 0 ? rc : label_value(out, v->receivers[i].receiver);
      rc = rc < 0 ? rc
                  : pw_buf_printf(out, "\"} %llu\n",
                                  (unsigned long long)(pass == 0 ? v->receivers[i].sent
                                                                 : v->receivers[i].failed));
    }
  }
  return rc;
}

static int firing_family(struct pw_buf *out, const struct pw_view *v) {
  const char *name = "pacewatch_alerts_firing";
  int k, rc = family(out, name, "gauge",
                     "Alerts firing now (notified and not resolved), by severity: lagging, "
                     "severe, stale (no new figure), source (a source is down).");

  for (k = 0; rc == 0 && k < PW_METRICS_SEVERITIES; k++)
    rc = pw_buf_printf(out, "%s{severity=\"%s\"} %ld\n", name, pw_metrics_severities[k],
                       v->firing[k]);
  return rc;
}

/* The families of sources: FIELD selects what of the health is exposed. */
enum sfield { S_POLLS, S_ERRORS, S_DURATION, S_UP, S_LAST_SUCCESS, S_FAILURES };

static int source_family(struct pw_buf *out, const struct pw_view *v, const char *name,
                         const char *type, const char *help, enum sfield which) {
  int i, rc = family(out, name, type, help);

  for (i = 0; rc == 0 && i < v->conf->n_sources; i++) {
    const struct pw_source_health *h = v->health ? v->health[i] : NULL;
    double x;

    if (h == NULL)
      continue;
    switch (which) {
    case S_POLLS:
      x = (double)h->polls;
      break;
    case S_ERRORS:
      x = (double)h->failures;
      break;
    case S_DURATION:
      if (h->last_attempt == 0)
        continue;
      x = h->last_duration_ms / 1000.0;
      break;
    case S_UP:
      if (h->last_attempt == 0)
        continue;
      x = h->consecutive_failures == 0 ? 1 : 0;
      break;
    case S_LAST_SUCCESS:
      if (h->last_success == 0)
        continue;
      x = (double)h->last_success;
      break;
    default:
      x = (double)h->consecutive_failures;
      break;
    }
    rc = pw_buf_printf(out, "%s{source=\"", name);
    rc = rc < 0 ? rc : label_value(out, v->conf->sources[i].id);
    rc = rc < 0 ? rc : pw_buf_append(out, "\"} ", 3);
    rc = rc < 0 ? rc : number(out, x);
    rc = rc < 0 ? rc : pw_buf_append(out, "\n", 1);
  }
  return rc;
}

static int single(struct pw_buf *out, const char *name, const char *type, const char *help,
                  double x) {
  int rc = family(out, name, type, help);

  rc = rc < 0 ? rc : pw_buf_printf(out, "%s ", name);
  rc = rc < 0 ? rc : number(out, x);
  return rc < 0 ? rc : pw_buf_append(out, "\n", 1);
}

static const struct {
  const char *name, *help;
  enum field which;
} indicator_families[] = {
    {"pacewatch_indicator_value", "Latest value of the indicator known now, in its unit.", F_VALUE},
    {"pacewatch_indicator_as_of_timestamp_seconds",
     "Instant the latest value stands for, seconds since the epoch.", F_AS_OF},
    {"pacewatch_indicator_expected", "Value expected now by the pace of this year's target.",
     F_EXPECTED},
    {"pacewatch_indicator_target", "This year's target (annual, standard or last stage index).",
     F_TARGET},
    {"pacewatch_indicator_lag",
     "How far the indicator is behind its pace (negative: ahead), in lag_unit (pp = "
     "percentage points).",
     F_LAG},
    {"pacewatch_indicator_completion_ratio", "Completion of this year's target (1 = done).",
     F_COMPLETION},
    {"pacewatch_indicator_pace_ratio", "Completion the pace expects now (1 = done).", F_PACE},
    {"pacewatch_indicator_stale", "1 when the latest value is older than stale_after.", F_STALE},
};

static const struct {
  const char *name, *type, *help;
  enum sfield which;
} source_families[] = {
    {"pacewatch_source_polls_total", "counter", "Polls of the source since start.", S_POLLS},
    {"pacewatch_source_errors_total", "counter", "Failed polls of the source since start.",
     S_ERRORS},
    {"pacewatch_source_poll_duration_seconds", "gauge", "Duration of the last poll.", S_DURATION},
    {"pacewatch_source_up", "gauge", "1 when the last poll succeeded.", S_UP},
    {"pacewatch_source_last_success_timestamp_seconds", "gauge",
     "Last successful poll, seconds since the epoch.", S_LAST_SUCCESS},
    {"pacewatch_source_consecutive_failures", "gauge", "Failed polls since the last success.",
     S_FAILURES},
};

/* The loop's stalls: a histogram of every iteration's time outside the wait for I/O, and the
 * longest one. */
static int loop_families(struct pw_buf *out, const struct pw_loopstat *ls) {
  const char *name = "pacewatch_loop_stall_seconds";
  uint64_t cumulative = 0;
  int b, rc = family(out, name, "histogram",
                     "Time each iteration of the daemon's event loop spent running callbacks "
                     "instead of waiting for I/O (requests, polls and deliveries wait meanwhile).");

  for (b = 0; rc == 0 && b < PW_LOOPSTAT_BUCKETS; b++) {
    cumulative += ls->counts[b];
    rc = pw_buf_printf(out, "%s_bucket{le=\"", name);
    rc = rc < 0 ? rc : number(out, pw_loopstat_bounds[b]);
    rc = rc < 0 ? rc : pw_buf_printf(out, "\"} %llu\n", (unsigned long long)cumulative);
  }
  rc = rc < 0 ? rc
              : pw_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name,
                              (unsigned long long)ls->count, name);
  rc = rc < 0 ? rc : number(out, (double)ls->sum_ns / 1e9);
  rc = rc < 0 ? rc : pw_buf_printf(out, "\n%s_count %llu\n", name, (unsigned long long)ls->count);
  return rc < 0 ? rc
                : single(out, "pacewatch_loop_stall_max_seconds", "gauge",
                         "Longest time one iteration of the event loop spent running callbacks "
                         "since the daemon started.",
                         (double)ls->max_ns / 1e9);
}

int pw_metrics_write(struct pw_buf *out, const struct pw_view *v) {
  const struct {
    const char *name, *help;
    double x;
  } singles[] = {
      {"pacewatch_start_time_seconds", "Start of the pacewatchd process, seconds since the epoch.",
       (double)v->started},
      {"pacewatch_clock_seconds",
       "The daemon's clock (differs from the wall clock under --now and --clock-rate).",
       (double)v->now},
      {"pacewatch_indicators", "Configured indicators.", v->conf->n_indicators},
      {"pacewatch_journal_lines", "Lines in the journal.", (double)v->journal_lines},
      /* The queues: left out when unknown rather than reported as empty. */
      {"pacewatch_notifications_queued",
       "Notifications in the spool, waiting for delivery or a retry.", (double)v->queued},
      {"pacewatch_notifications_dead", "Notifications given up on, in spool/dead/.",
       (double)v->dead},
      {"pacewatch_notifications_batched",
       "Alerts waiting for group_wait or quiet hours before the spool.", (double)v->batched},
  };
  size_t k;
  int rc = family(out, "pacewatch_build_info", "gauge", "Version of pacewatchd (always 1).");

  rc = rc < 0 ? rc : pw_buf_printf(out, "pacewatch_build_info{version=\"%s\"} 1\n", PW_VERSION);
  for (k = 0; rc == 0 && k < sizeof(singles) / sizeof(singles[0]); k++)
    if (singles[k].x >= 0)
      rc = single(out, singles[k].name, "gauge", singles[k].help, singles[k].x);
  for (k = 0; rc == 0 && k < sizeof(indicator_families) / sizeof(indicator_families[0]); k++)
    rc = indicator_family(out, v, indicator_families[k].name, indicator_families[k].help,
                          indicator_families[k].which);
  rc = rc < 0 ? rc : status_family(out, v);
  rc = rc < 0 ? rc : info_family(out, v->conf);
  rc = rc < 0 ? rc : names_family(out, v->conf, 0);
  rc = rc < 0 ? rc
              : family(out, "pacewatch_state_file_corrupt", "gauge",
                       "1 when this process found the state file damaged and set it aside.");
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "pacewatch_state_file_corrupt{file=\"alerts.json\"} %d\n"
                              "pacewatch_state_file_corrupt{file=\"silences.json\"} %d\n",
                              v->corrupt_alerts, v->corrupt_silences);
  rc = rc < 0 ? rc : names_family(out, v->conf, 1);
  for (k = 0; rc == 0 && k < sizeof(source_families) / sizeof(source_families[0]); k++)
    rc = source_family(out, v, source_families[k].name, source_families[k].type,
                       source_families[k].help, source_families[k].which);
  if (rc == 0 && v->loop != NULL)
    rc = loop_families(out, v->loop);
  /* Named as Prometheus names its own (docs/http.md). */
  if (rc == 0 && v->reload != NULL)
    rc = single(out, "pacewatch_config_last_reload_successful", "gauge",
                "1 when the last load of the configuration (start or reload) was applied, 0 "
                "when it was refused and the running configuration stayed.",
                v->reload->successful);
  if (rc == 0 && v->reload != NULL)
    rc = single(
        out, "pacewatch_config_last_reload_success_timestamp_seconds", "gauge",
        "Last successful load of the configuration (start or reload), seconds since the epoch.",
        (double)v->reload->timestamp);
  if (rc == 0 && v->receivers != NULL)
    rc = receiver_families(out, v);
  if (rc == 0 && v->has_firing)
    rc = firing_family(out, v);
  if (rc == 0 && v->process != NULL)
    rc = process_families(out, v->process, v->started);
  return rc;
}
