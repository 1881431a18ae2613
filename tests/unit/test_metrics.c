/*
 * Unit tests of metrics: the exposition of a view built by hand (a lagging indicator with a
 * department, one without data and without a department, a standard with a NaN lag, a polled
 * source and an unpolled one, the notification queues) is checked line by line: HELP and TYPE
 * before every family, one status sample per status, no value sample without a value, empty
 * department label, counters ending in _total, numbers written so they read back exactly, and
 * the event loop's stalls as a histogram with its maximum; the indicator_info family with its
 * labels escaped, the process_* families, per-receiver notification counters and the firing
 * alerts by severity (each left out when the view has none).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "loopstat.h"
#include "metrics.h"
#include "schedule.h"
#include "unit_conf.h"

static const char *conf_text =
    "daemon: { state_dir = \"state\"; http_listen = \"\"; };\n"
    "domains = ( { id = \"care\"; name = \"病有良医\"; } );\n"
    "departments = ( { id = \"wj\"; name = \"县卫健局\"; } );\n"
    "sources = ( { id = \"src_a\"; url = \"http://127.0.0.1:1/a.json\"; format = \"json\"; },\n"
    "            { id = \"src_b\"; url = \"http://127.0.0.1:1/b.json\"; format = \"json\"; } );\n"
    "indicators = (\n"
    " { id = \"checkups\"; name = \"体检人数\"; domain = \"care\"; department = \"wj\"; unit = "
    "\"人\";\n"
    "   kind = \"cumulative\"; targets = ( { year = 2024; annual = 100; } ); },\n"
    " { id = \"unemp\"; name = \"调查失业率\"; domain = \"care\"; unit = \"%\"; kind = "
    "\"standard\";\n"
    "   targets = ( { year = 2024; standard = 5.5; } ); } );\n";

static struct pw_config *conf;
static char dir[] = "/tmp/pw-test-metrics-XXXXXX";

static int setup(void **state) {
  (void)state;
  return pw_unit_conf_open(dir, conf_text, &conf);
}

static int teardown(void **state) {
  (void)state;
  return pw_unit_conf_close(conf, dir);
}

/* The exposition of a fixed view. */
static char *render(long queued) {
  static struct pw_loopstat stalls;
  static struct pw_reload_info reload;
  static struct pw_verdict v[2];
  static struct pw_source_health ha;
  static struct pw_procstat proc;
  static struct pw_receiver_counts receivers[2];
  const struct pw_source_health *health[2] = {&ha, NULL};
  struct pw_view view;
  struct pw_buf out = {0};

  memset(v, 0, sizeof(v));
  v[0].status = PW_STATUS_LAGGING;
  v[0].has_value = v[0].has_judgement = v[0].has_pct = 1;
  v[0].value = 37774;
  v[0].as_of = 1711900800;
  v[0].target = 100;
  v[0].expected = 0.1 + 0.2; /* not a short decimal: must still read back exactly */
  v[0].lag = 7.25;
  v[0].lag_unit = PW_LAG_UNIT_PP;
  v[0].completion_pct = 25;
  v[0].pace_pct = 26.9;
  v[1].status = PW_STATUS_NO_DATA;
  v[1].stale = 1;
  v[1].has_judgement = 1;
  v[1].lag = NAN;
  v[1].lag_unit = PW_LAG_UNIT_UNIT;
  memset(&ha, 0, sizeof(ha));
  ha.polls = 3;
  ha.failures = 1;
  ha.last_attempt = ha.last_success = 1714438800;
  ha.last_duration_ms = 250;
  memset(&view, 0, sizeof(view));
  view.conf = conf;
  view.verdicts = v;
  view.health = health;
  view.now = 1714438800;
  view.started = 1714438000;
  view.journal_lines = 42;
  view.queued = queued;
  view.dead = 1;
  view.batched = 0;
  memset(&stalls, 0, sizeof(stalls));
  pw_loopstat_add(&stalls, 400000);     /* 0.4 ms */
  pw_loopstat_add(&stalls, 30000000);   /* 30 ms */
  pw_loopstat_add(&stalls, 1500000000); /* 1.5 s */
  view.loop = queued >= 0 ? &stalls : NULL;
  reload.successful = 0;
  reload.timestamp = 1714438500;
  view.reload = queued >= 0 ? &reload : NULL;
  proc.cpu_seconds = 1.25;
  proc.resident_bytes = 8388608;
  proc.virtual_bytes = 104857600;
  proc.open_fds = 12;
  proc.max_fds = -1; /* unlimited: left out */
  view.process = queued >= 0 ? &proc : NULL;
  receivers[0].receiver = "ding";
  receivers[0].sent = 5;
  receivers[0].failed = 2;
  receivers[1].receiver = "ops\"mail";
  receivers[1].sent = 0;
  receivers[1].failed = 0;
  view.receivers = queued >= 0 ? receivers : NULL;
  view.n_receivers = 2;
  view.has_firing = queued >= 0;
  view.firing[0] = 3;
  view.firing[1] = 1;
  assert_int_equal(pw_metrics_write(&out, &view), 0);
  return out.data;
}

static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  const char *p = text;

  while ((p = strstr(p, line)) != NULL) {
    if ((p == text || p[-1] == '\n') && p[n] == '\n')
      return 1;
    p += n;
  }
  return 0;
}

static void test_indicator_families(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "pacewatch_indicator_value{indicator=\"checkups\",domain=\"care\","
                          "department=\"wj\"} 37774"));
  assert_true(has_line(t, "pacewatch_indicator_expected{indicator=\"checkups\",domain=\"care\","
                          "department=\"wj\"} 0.30000000000000004"));
  assert_true(has_line(t, "pacewatch_indicator_lag{indicator=\"checkups\",domain=\"care\","
                          "department=\"wj\",lag_unit=\"pp\"} 7.25"));
  assert_true(has_line(t, "pacewatch_indicator_completion_ratio{indicator=\"checkups\","
                          "domain=\"care\",department=\"wj\"} 0.25"));
  assert_true(has_line(t, "pacewatch_indicator_as_of_timestamp_seconds{indicator=\"checkups\","
                          "domain=\"care\",department=\"wj\"} 1711900800"));
  /* No value, no value sample; NaN written as Prometheus spells it; no department, "". */
  assert_null(strstr(t, "pacewatch_indicator_value{indicator=\"unemp\""));
  assert_true(has_line(t, "pacewatch_indicator_lag{indicator=\"unemp\",domain=\"care\","
                          "department=\"\",lag_unit=\"unit\"} NaN"));
  assert_true(has_line(t, "pacewatch_indicator_stale{indicator=\"unemp\",domain=\"care\","
                          "department=\"\"} 1"));
  assert_true(has_line(t, "pacewatch_indicator_status{indicator=\"checkups\",domain=\"care\","
                          "department=\"wj\",status=\"lagging\"} 1"));
  assert_true(has_line(t, "pacewatch_indicator_status{indicator=\"checkups\",domain=\"care\","
                          "department=\"wj\",status=\"ok\"} 0"));
  assert_true(has_line(t, "pacewatch_indicator_status{indicator=\"unemp\",domain=\"care\","
                          "department=\"\",status=\"no_data\"} 1"));
  free(t);
}

static void test_sources_and_queues(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "pacewatch_source_polls_total{source=\"src_a\"} 3"));
  assert_true(has_line(t, "pacewatch_source_errors_total{source=\"src_a\"} 1"));
  assert_true(has_line(t, "pacewatch_source_poll_duration_seconds{source=\"src_a\"} 0.25"));
  assert_true(has_line(t, "pacewatch_source_up{source=\"src_a\"} 1"));
  /* Never polled: no health yet (only its name, in pacewatch_source_info). */
  assert_null(strstr(t, "_total{source=\"src_b\""));
  assert_null(strstr(t, "pacewatch_source_up{source=\"src_b\""));
  assert_null(strstr(t, "pacewatch_source_consecutive_failures{source=\"src_b\""));
  assert_true(has_line(t, "pacewatch_notifications_queued 2"));
  assert_true(has_line(t, "pacewatch_notifications_dead 1"));
  assert_true(has_line(t, "pacewatch_journal_lines 42"));
  free(t);
  t = render(-1); /* unknown: the family is left out rather than reported as 0 */
  assert_null(strstr(t, "pacewatch_notifications_queued"));
  free(t);
}

/* The loop's stalls: a cumulative histogram ending in +Inf, its sum and count, and the longest;
 * left out when the view has none. */
static void test_loop_stalls(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "# TYPE pacewatch_loop_stall_seconds histogram"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"0.001\"} 1"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"0.025\"} 1"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"0.05\"} 2"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"1\"} 2"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"2.5\"} 3"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"10\"} 3"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_bucket{le=\"+Inf\"} 3"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_sum 1.5304"));
  assert_true(has_line(t, "pacewatch_loop_stall_seconds_count 3"));
  assert_true(has_line(t, "# TYPE pacewatch_loop_stall_max_seconds gauge"));
  assert_true(has_line(t, "pacewatch_loop_stall_max_seconds 1.5"));
  free(t);
  t = render(-1);
  assert_null(strstr(t, "pacewatch_loop_stall"));
  free(t);
}

/* The last reload's outcome, named as Prometheus names its own (docs/http.md); left out when
 * the view has none. */
static void test_reload(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "# TYPE pacewatch_config_last_reload_successful gauge"));
  assert_true(has_line(t, "pacewatch_config_last_reload_successful 0"));
  assert_true(has_line(t, "pacewatch_config_last_reload_success_timestamp_seconds 1714438500"));
  free(t);
  t = render(-1);
  assert_null(strstr(t, "pacewatch_config_last_reload"));
  free(t);
}

/* Every sample follows the HELP and TYPE of its family; counters, and only they, end _total;
 * a histogram's samples are its _bucket, _sum and _count. */
static void test_format(void **state) {
  char *t = render(2), *line, *save = NULL;
  char family[128] = "", type[32] = "";
  int samples = 0;

  (void)state;
  for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    char name[128];
    size_t n;
    if (strncmp(line, "# HELP ", 7) == 0) {
      assert_int_equal(sscanf(line + 7, "%127s", family), 1);
      type[0] = '\0';
      continue;
    }
    if (strncmp(line, "# TYPE ", 7) == 0) {
      assert_int_equal(sscanf(line + 7, "%127s %31s", name, type), 2);
      assert_string_equal(name, family);
      n = strlen(name);
      assert_int_equal(strcmp(type, "counter") == 0, n > 6 && strcmp(name + n - 6, "_total") == 0);
      continue;
    }
    n = strcspn(line, "{ ");
    assert_true(n < sizeof(name));
    memcpy(name, line, n);
    name[n] = '\0';
    if (strcmp(type, "histogram") == 0) {
      size_t f = strlen(family);
      assert_int_equal(strncmp(name, family, f), 0);
      assert_true(strcmp(name + f, "_bucket") == 0 || strcmp(name + f, "_sum") == 0 ||
                  strcmp(name + f, "_count") == 0);
      samples++;
      continue;
    }
    assert_string_equal(name, family);
    assert_true(type[0] != '\0');
    samples++;
  }
  assert_true(samples > 20);
  free(t);
}

/* One info sample per indicator, its labels escaped as the format requires (backslash, quote,
 * newline), Chinese as UTF-8, and "" for a missing department. */
static void test_indicator_info(void **state) {
  char *saved = conf->indicators[1].name, *t;

  (void)state;
  conf->indicators[1].name = "调查\"失业\\率\n(城镇)";
  t = render(2);
  conf->indicators[1].name = saved;
  assert_true(has_line(t, "# TYPE pacewatch_indicator_info gauge"));
  assert_true(has_line(t, "pacewatch_indicator_info{indicator=\"checkups\",name=\"体检人数\",unit="
                          "\"人\",kind=\"cumulative\",domain=\"care\",department=\"wj\"} 1"));
  assert_true(has_line(t, "pacewatch_indicator_info{indicator=\"unemp\",name=\"调查\\\"失业\\\\率"
                          "\\n(城镇)\",unit=\"%\",kind=\"standard\",domain=\"care\",department="
                          "\"\"} 1"));
  /* The areas' and the sources' names (a source without one is shown by its id). */
  assert_true(has_line(t, "# TYPE pacewatch_domain_info gauge"));
  assert_true(has_line(t, "pacewatch_domain_info{domain=\"care\",name=\"病有良医\"} 1"));
  assert_true(has_line(t, "# TYPE pacewatch_source_info gauge"));
  assert_true(has_line(t, "pacewatch_source_info{source=\"src_a\",name=\"src_a\"} 1"));
  free(t);
}

/* process_* as Prometheus' client libraries name them; a figure the system did not give is left
 * out; the start time is the daemon's. */
static void test_process(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "# TYPE process_cpu_seconds_total counter"));
  assert_true(has_line(t, "process_cpu_seconds_total 1.25"));
  assert_true(has_line(t, "process_resident_memory_bytes 8388608"));
  assert_true(has_line(t, "process_virtual_memory_bytes 104857600"));
  assert_true(has_line(t, "process_open_fds 12"));
  assert_null(strstr(t, "process_max_fds"));
  assert_true(has_line(t, "process_start_time_seconds 1714438000"));
  free(t);
  t = render(-1);
  assert_null(strstr(t, "process_"));
  free(t);
}

/* The real process: every figure is there and plausible. */
static void test_procstat_read(void **state) {
  struct pw_procstat p;

  (void)state;
  pw_procstat_read(&p);
  assert_true(p.cpu_seconds >= 0);
  assert_true(p.resident_bytes > 0);
  assert_true(p.virtual_bytes >= p.resident_bytes);
  assert_true(p.open_fds >= 3);
  assert_true(p.max_fds == -1 || p.max_fds >= p.open_fds);
}

/* Per receiver sent and failed, every configured receiver (0 before its first attempt), and the
 * firing alerts with one sample per severity. */
static void test_notifications_and_firing(void **state) {
  char *t = render(2);

  (void)state;
  assert_true(has_line(t, "# TYPE pacewatch_notifications_sent_total counter"));
  assert_true(has_line(t, "# TYPE pacewatch_notifications_failed_total counter"));
  assert_true(has_line(t, "pacewatch_notifications_sent_total{receiver=\"ding\"} 5"));
  assert_true(has_line(t, "pacewatch_notifications_failed_total{receiver=\"ding\"} 2"));
  assert_true(has_line(t, "pacewatch_notifications_sent_total{receiver=\"ops\\\"mail\"} 0"));
  assert_true(has_line(t, "# TYPE pacewatch_alerts_firing gauge"));
  assert_true(has_line(t, "pacewatch_alerts_firing{severity=\"lagging\"} 3"));
  assert_true(has_line(t, "pacewatch_alerts_firing{severity=\"severe\"} 1"));
  assert_true(has_line(t, "pacewatch_alerts_firing{severity=\"stale\"} 0"));
  assert_true(has_line(t, "pacewatch_alerts_firing{severity=\"source\"} 0"));
  free(t);
  t = render(-1);
  assert_null(strstr(t, "pacewatch_notifications_sent_total"));
  assert_null(strstr(t, "pacewatch_alerts_firing"));
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_indicator_families),
      cmocka_unit_test(test_sources_and_queues),
      cmocka_unit_test(test_loop_stalls),
      cmocka_unit_test(test_reload),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_indicator_info),
      cmocka_unit_test(test_process),
      cmocka_unit_test(test_procstat_read),
      cmocka_unit_test(test_notifications_and_firing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
