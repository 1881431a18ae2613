/*
 * main: the `pacewatchd` program. Reads its options and configuration, takes the state
 * directory's lock, loads the journal, starts the stages (wiring.c) and runs the one libuv loop
 * that polls sources, takes work from the inbox, persists samples, re-judges indicators and
 * alerts. SIGHUP reloads the configuration as a generation swap (reload.c); SIGTERM and SIGINT
 * stop cleanly. `--once` polls every source once, stores, judges, delivers and exits.
 */
#define PW_LOG_MODULE "main"
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerting.h"
#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "loopstat.h"
#include "preflight.h"
#include "value.h"

#define EVAL_INTERVAL 60 /* seconds of the daemon's clock between re-evaluations */
/* The tick comes every second of the daemon's clock, but at most 100 times a real second: a
 * fast clock (--clock-rate) must not turn it into a busy loop
 * (docs/architecture.md#clock-and-time-zone). */
#define TICK_FLOOR_MS 10

static void usage(FILE *out) {
  fputs("usage: pacewatchd -c FILE [-f] [-t] [--once] [--now TIME] [--clock-rate N]\n"
        "       pacewatchd --version\n"
        "  -f          stay in the foreground and log to stderr\n"
        "  -t          validate the configuration and exit\n"
        "  --once      poll every source once, store, judge, then exit\n"
        "  --now TIME  start the daemon's clock at TIME (YYYY-MM-DD or ISO 8601)\n"
        "  --clock-rate N  run the daemon's clock N times faster than real time (1 to 1000000)\n",
        out);
}

/* Loads and fully validates a configuration, plugins' path syntax included. */
int daemon_load_config(const char *path, struct pw_plugins *plugins, struct pw_config **out,
                       char *err, size_t errlen) {
  int rc = pw_config_load(path, out, err, errlen);

  if (rc < 0)
    return rc;
  rc = pw_plugins_check_config(plugins, *out, err, errlen);
  if (rc < 0) {
    pw_config_free(*out);
    *out = NULL;
  }
  return rc;
}

/* Every status-server connection is a descriptor: use the hard limit, not the soft 1024. */
static void raise_fd_limit(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void on_closed_handle(uv_handle_t *h) {
  (void)h;
}

static void fetch_closed(void *data) {
  struct pw_daemon *d = data;

  d->fetch = NULL;
}

/* The last step of stopping: nothing is pending any more. */
static void finish_shutdown(struct pw_daemon *d) {
  if (d->fetch != NULL)
    pw_fetch_close(d->fetch, fetch_closed, d);
  if (!uv_is_closing((uv_handle_t *)&d->tick))
    uv_close((uv_handle_t *)&d->tick, on_closed_handle);
  if (!uv_is_closing((uv_handle_t *)&d->persist_wake))
    uv_close((uv_handle_t *)&d->persist_wake, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_term, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
  uv_close((uv_handle_t *)&d->sig_hup, on_closed_handle);
  daemon_notify_stopping(d, on_closed_handle);
}

static void persisted_for_shutdown(int rc, void *data) {
  (void)rc;
  finish_shutdown(data);
}

void daemon_shutdown(struct pw_daemon *d) {
  if (d->stopping)
    return;
  d->stopping = 1;
  uv_timer_stop(&d->tick);
  uv_timer_stop(&d->persist_wake);
  pw_alerting_stop(d->alerting); /* no delivery starts on a fetcher about to close */
  pw_http_stop(d->http);
  pw_sched_stop(d->sched);
  d->sched = NULL;
  pw_inbox_stop(d->inbox);
  /* Finish writes in flight, then close everything. */
  if (pw_persist_idle(d->persist))
    finish_shutdown(d);
  else
    pw_persist_kick(d->persist, persisted_for_shutdown, d);
}

/* --once: waits (up to 30 s) for the cycle's notifications, then stops. */
static void once_wait(uv_timer_t *t) {
  struct pw_daemon *d = t->data;

  pw_alerting_tick(d->alerting); /* failed deliveries are retried within the 30 s */
  if (pw_alerting_in_flight(d->alerting) > 0 && pw_clock_real_ms() - d->once_started_ms < 30000)
    return;
  uv_timer_stop(t);
  if (pw_alerting_undelivered(d->alerting) > 0) {
    pw_log_error("--once: %d notifications are not delivered (kept in the spool)",
                 pw_alerting_undelivered(d->alerting));
    d->exit_code = 1;
  }
  daemon_shutdown(d);
}

static void once_polled_persisted(int rc, void *data) {
  struct pw_daemon *d = data;

  if (rc < 0)
    d->exit_code = 1;
  pw_alerting_evaluate(d->alerting);
  pw_alerting_flush_now(d->alerting);
  d->once_started_ms = pw_clock_real_ms();
  uv_timer_start(&d->tick, once_wait, 0, 100);
}

/* --once: every source has answered; what they brought is judged, stored and alerted on. */
static void on_all_polled(void *data) {
  struct pw_daemon *d = data;

  pw_admit_evaluate_all(&d->admit);
  pw_persist_kick(d->persist, once_polled_persisted, d);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct pw_daemon *d = h->data;

  if (signum == SIGHUP) {
    pw_log_info("SIGHUP: reloading %s", d->config_path);
    daemon_reload(d);
    return;
  }
  pw_log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  daemon_shutdown(d);
}

static void on_tick(uv_timer_t *t) {
  struct pw_daemon *d = t->data;
  int64_t now = pw_clock_now();

  if (d->stopping)
    return;
  pw_inbox_poll(d->inbox);
  daemon_report_tick(d);
  pw_alerting_tick(d->alerting);
  /* RRD writes held back a few seconds (persist.c) go out once due. */
  if (!pw_persist_idle(d->persist))
    pw_persist_kick(d->persist, NULL, NULL);
  if (d->reload_wanted && !d->reloading)
    daemon_reload(d);
  daemon_retention(d, now);
  if (now >= d->next_briefing) {
    daemon_briefing(d, d->next_briefing, 1);
    d->next_briefing = daemon_next_briefing(d->conf, now);
  }
  if (now - d->last_eval >= EVAL_INTERVAL) {
    d->last_eval = now;
    pw_admit_evaluate_all(&d->admit);
    pw_alerting_evaluate(d->alerting);
    daemon_notify_status(d);
  }
}

/* --clock-rate: a whole number of 1 to PW_CLOCK_RATE_MAX in decimal digits, nothing else. */
static int parse_rate(const char *text, int64_t *out) {
  int64_t v = 0;
  const char *p;

  for (p = text; *p >= '0' && *p <= '9' && v <= PW_CLOCK_RATE_MAX; p++)
    v = v * 10 + (*p - '0');
  if (p == text || *p != '\0' || v < 1 || v > PW_CLOCK_RATE_MAX)
    return -EINVAL;
  *out = v;
  return 0;
}

/* Reads the options and the configuration. Returns -1 to go on, or the exit status. */
static int parse_options(struct pw_daemon *d, int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"once", no_argument, NULL, 'o'},
                                       {"now", required_argument, NULL, 'n'},
                                       {"clock-rate", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  const char *now_text = NULL, *rate_text = NULL;
  char err[1024];
  int opt, test = 0;
  int64_t start, rate = 1;

  while ((opt = getopt_long(argc, argv, "c:fth", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      d->config_path = optarg;
      break;
    case 'f':
      d->foreground = 1;
      break;
    case 't':
      test = 1;
      break;
    case 'o':
      d->once = 1;
      d->foreground = 1;
      break;
    case 'n':
      now_text = optarg;
      break;
    case 'r':
      rate_text = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("pacewatchd %s\n", PW_VERSION);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (d->config_path == NULL || optind != argc) {
    usage(stderr);
    return 2;
  }
  if (rate_text != NULL && parse_rate(rate_text, &rate) < 0) {
    fprintf(stderr, "pacewatchd: --clock-rate '%s' is not a whole number from 1 to %d\n", rate_text,
            PW_CLOCK_RATE_MAX);
    return 2;
  }
  if (pw_plugins_load(&d->plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatchd: %s\n", err);
    return 1;
  }
  if (daemon_load_config(d->config_path, d->plugins, &d->conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (test && pw_preflight(d->conf, d->plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (test) {
    printf("%s: ok\n", d->config_path);
    return 0;
  }
  if (now_text != NULL) {
    if (pw_date_parse(now_text, &start) < 0) {
      fprintf(stderr, "pacewatchd: --now '%s' is not a time\n", now_text);
      return 2;
    }
    pw_clock_simulate(start);
  }
  if (rate_text != NULL)
    pw_clock_set_rate(rate); /* in range: checked above */
  return -1;
}

/* Takes the state directory's lock and opens the journal and the RRD store. Returns 0 or the exit
 * status. */
/* The fix of a permission error on the state directory (docs/install.md): the user the daemon
 * runs as takes the directory back, e.g. after root ran a command in it. Into BUF. */
static const char *chown_hint(const struct pw_daemon *d, char *buf, size_t len) {
  const char *user = d->conf->daemon.user;
  struct passwd *pw = getpwuid(geteuid()); /* daemon.user already, when started as root */

  snprintf(buf, len, "; run chown -R %s: %s",
           pw != NULL ? pw->pw_name : (user != NULL && user[0] != '\0' ? user : "pacewatch"),
           d->conf->daemon.state_dir);
  return buf;
}

static int open_state(struct pw_daemon *d) {
  char err[1024], inbox[4200], hint[4300];
  struct stat st;
  int rc;

  d->lock_fd = pw_state_lock(d->conf->daemon.state_dir);
  if (d->lock_fd == -EACCES || d->lock_fd == -EPERM) {
    /* Name the file: the directory when it could not be made, else its lock. */
    pw_log_error("%s%s: %s%s", d->conf->daemon.state_dir,
                 stat(d->conf->daemon.state_dir, &st) == 0 ? "/lock" : "", strerror(-d->lock_fd),
                 chown_hint(d, hint, sizeof(hint)));
    return 1;
  }
  if (d->lock_fd < 0) {
    pw_log_error("%s: %s", d->conf->daemon.state_dir,
                 d->lock_fd == -EWOULDBLOCK ? "another pacewatchd holds this state directory"
                                            : strerror(-d->lock_fd));
    return 1;
  }
  snprintf(inbox, sizeof(inbox), "%s/inbox", d->conf->daemon.state_dir);
  pw_mkdir_p(inbox);
  rc = pw_journal_open(d->conf, 1, &d->journal, err, sizeof(err));
  if (rc == 0)
    rc = pw_store_init(&d->store, d->conf->daemon.state_dir, d->conf->daemon.rrdcached, err,
                       sizeof(err));
  if (rc < 0) {
    pw_log_error("%s%s", err,
                 rc == -EACCES || rc == -EPERM ? chown_hint(d, hint, sizeof(hint)) : "");
    return 1;
  }
  return 0;
}

/* Signals and the one-second tick. Returns 0 or a libuv error. */
static int start_handles(struct pw_daemon *d) {
  uint64_t tick_ms;
  int rc;

  if ((rc = uv_signal_init(d->loop, &d->sig_term)) < 0 ||
      (rc = uv_signal_init(d->loop, &d->sig_int)) < 0 ||
      (rc = uv_signal_init(d->loop, &d->sig_hup)) < 0 ||
      (rc = uv_timer_init(d->loop, &d->tick)) < 0 ||
      (rc = uv_timer_init(d->loop, &d->persist_wake)) < 0)
    return rc;
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d->tick.data = d;
  d->persist_wake.data = d;
  if ((rc = uv_signal_start(&d->sig_term, on_signal, SIGTERM)) < 0 ||
      (rc = uv_signal_start(&d->sig_int, on_signal, SIGINT)) < 0 ||
      (rc = uv_signal_start(&d->sig_hup, on_signal, SIGHUP)) < 0)
    return rc;
  d->last_eval = pw_clock_now();
  tick_ms = pw_clock_timer_ms(1000);
  if (tick_ms < TICK_FLOOR_MS)
    tick_ms = TICK_FLOOR_MS;
  if (!d->once && (rc = uv_timer_start(&d->tick, on_tick, tick_ms, tick_ms)) < 0)
    return rc;
  return 0;
}

/* Every stage, in the order of the data's path. Returns 0 or the exit status (logged); what
 * started is then stopped by daemon_shutdown, as by a SIGTERM. */
static int start_stages(struct pw_daemon *d, struct pw_loopstat *loopstat) {
  char err[1024], ua[64];
  int rc;

  snprintf(ua, sizeof(ua), "pacewatch/%s", PW_VERSION);
  rc = pw_fetch_init(d->loop, (int)d->conf->daemon.max_transfers, ua, &d->fetch);
  if (rc == 0)
    rc = daemon_start_persist(d);
  if (rc == 0)
    rc = daemon_start_graphs(d);
  if (rc == 0)
    rc = daemon_init_verdicts(d, NULL, NULL);
  if (rc == 0)
    rc = daemon_start_ingest(d);
  if (rc < 0) {
    pw_log_error("cannot start: %s", strerror(-rc));
    return 1;
  }
  if (daemon_start_alerting(d, err, sizeof(err)) < 0) {
    pw_log_error("cannot start alerting: %s", err);
    return 1;
  }
  pw_persist_sync_all(d->persist);
  if (!d->once)
    pw_alerting_evaluate(d->alerting); /* what changed while the daemon was down */
  if (daemon_start_sched(d, on_all_polled) < 0) {
    pw_log_error("cannot start the sources: out of memory");
    return 1;
  }
  d->next_briefing = daemon_next_briefing(d->conf, pw_clock_now());
  if (!d->once) {
    /* The status server serves a running daemon; --once has nobody to answer. */
    rc = daemon_start_http(d, loopstat);
    if (rc < 0) {
      pw_log_error("cannot start: the status server cannot listen on daemon.http_listen '%s': %s",
                   d->conf->daemon.http_listen, uv_strerror(rc));
      return 1;
    }
  }
  /* The start line comes last: once it is logged the daemon handles signals and its status
   * server answers (the tests wait for it, docs/testing.md). */
  pw_log_info("pacewatchd %s: %d sources, %d indicators, %llu journal lines, state %s", PW_VERSION,
              d->conf->n_sources, d->conf->n_indicators, (unsigned long long)d->journal->lines,
              d->conf->daemon.state_dir);
  daemon_notify_ready(d); /* the first polls are scheduled */
  return 0;
}

/* After the loop: queued rrdcached updates reach the files, then everything is freed. */
static void free_daemon(struct pw_daemon *d) {
  char err[1024];
  int i;

  for (i = 0; d->conf->daemon.rrdcached[0] != '\0' && i < d->conf->n_indicators; i++)
    pw_store_flush(&d->store, d->conf->indicators[i].id, err, sizeof(err));
  pw_http_free(d->http);
  daemon_report_free(d);
  pw_inbox_free(d->inbox);
  pw_ingest_free(d->ingest);
  pw_persist_free(d->persist);
  pw_graphcache_free(d->graphs);
  pw_alerting_free(d->alerting);
  if (d->pending_reload != NULL)
    daemon_reload_free(d->pending_reload);
  pw_journal_close(d->journal);
  pw_store_free(&d->store);
  free(d->verdicts);
  pw_config_free(d->conf);
  pw_plugins_free(d->plugins);
  if (d->lock_fd >= 0)
    close(d->lock_fd);
}

int main(int argc, char **argv) {
  struct pw_daemon d;
  struct pw_loopstat loopstat;
  uv_loop_t loop;
  int rc;

  memset(&d, 0, sizeof(d));
  d.lock_fd = -1;
  pw_log_open(0);
  rc = parse_options(&d, argc, argv);
  if (rc >= 0) {
    pw_config_free(d.conf);
    pw_plugins_free(d.plugins);
    return rc;
  }
  pw_log_set_level((enum pw_log_level)d.conf->daemon.log_level);
  if (!d.foreground)
    pw_log_open(1);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  d.started = pw_clock_real_ms() / 1000;
  d.reload_info.successful = 1;
  d.reload_info.timestamp = d.started;
  if ((rc = daemon_drop_privileges(&d)) != 0 || (rc = open_state(&d)) != 0) {
    /* A refused start (another daemon holds the state directory) frees what it loaded. */
    pw_journal_close(d.journal);
    pw_store_free(&d.store);
    pw_config_free(d.conf);
    pw_plugins_free(d.plugins);
    if (d.lock_fd >= 0)
      close(d.lock_fd);
    return rc;
  }
  /* libuv's one thread pool runs every blocking job (journal commits, RRD writes, the check
   * of the files, graph renders, briefings, a reload's journal load, alerting's files). Renders
   * wait for each other on the store lock and persist shares a big batch among up to four jobs:
   * more than libuv's default of four threads keeps a commit from queueing behind them. The pool
   * starts with the first job, so this must come before any. */
  setenv("UV_THREADPOOL_SIZE", "8", 0);
#ifdef M_ARENA_MAX
  /* glibc gives each thread that allocates its own malloc arena and keeps what is freed there:
   * as the eight pool threads took turns at briefings and renders, a simulated year's RSS grew
   * by a third over four months before it levelled off. Two arenas keep it flat
   * (docs/architecture.md#the-event-loop, docs/testing.md#a-simulated-year). */
  mallopt(M_ARENA_MAX, 2);
#endif
  rc = uv_loop_init(&loop);
  if (rc != 0) {
    pw_log_error("cannot start: %s", uv_strerror(rc));
    return 1;
  }
  d.loop = &loop;
  rc = pw_loopstat_start(&loopstat, &loop);
  if (rc < 0) {
    pw_log_error("cannot start: measuring the event loop: %s", uv_strerror(rc));
    return 1;
  }
  /* Signals are handled before the start line is logged: a test (or a supervisor) that waits
   * for that line may signal at once, even where it cannot see the handlers (under valgrind,
   * docs/testing.md). */
  if ((rc = start_handles(&d)) < 0) {
    pw_log_error("cannot start: signals and timer: %s", uv_strerror(rc));
    return 1;
  }
  /* A start that fails half-way (the status server's address taken, say) stops what it
   * started and frees everything, as a stop does. */
  if ((rc = start_stages(&d, &loopstat)) != 0) {
    d.exit_code = rc;
    daemon_shutdown(&d);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  /* The measuring handle never kept the loop alive: it closes now, in one more turn. */
  pw_loopstat_stop(&loopstat);
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop);
  if (rc != 0)
    pw_log_error("handles still open at exit: %s", uv_strerror(rc));
  pw_log_info("stopped");
  free_daemon(&d);
  return d.exit_code;
}
