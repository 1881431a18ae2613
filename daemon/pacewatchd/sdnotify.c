/*
 * sdnotify (pacewatchd): the service manager's side of the daemon (docs/install.md, "systemd").
 * Under Type=notify (NOTIFY_SOCKET set) it says READY=1 once the first polls are scheduled,
 * keeps STATUS= with the number of indicators and of those lagging, sends WATCHDOG=1 from a
 * loop timer at half of WatchdogSec (so a stuck loop is restarted), and brackets a reload with
 * RELOADING=1 and READY=1. Without NOTIFY_SOCKET every call does nothing. Loop thread only.
 */
#define PW_LOG_MODULE "main"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"

static void notify(const char *text) {
  int rc = sd_notify(0, text);

  if (rc < 0)
    pw_log_warn("cannot notify the service manager: %s", strerror(-rc));
}

/* STATUS=: what `systemctl status` shows under the unit's name. */
static void send_status(struct pw_daemon *d, const char *extra) {
  char text[256];
  int i, lagging = 0;

  for (i = 0; d->verdicts != NULL && i < d->conf->n_indicators; i++)
    lagging +=
        d->verdicts[i].status == PW_STATUS_LAGGING || d->verdicts[i].status == PW_STATUS_SEVERE;
  snprintf(text, sizeof(text), "%sSTATUS=%d indicators, %d lagging, %d sources", extra,
           d->conf->n_indicators, lagging, d->conf->n_sources);
  notify(text);
}

static void on_watchdog(uv_timer_t *t) {
  notify("WATCHDOG=1");
}

void daemon_notify_ready(struct pw_daemon *d) {
  uint64_t usec = 0;
  int rc;

  if (d->once || getenv("NOTIFY_SOCKET") == NULL)
    return;
  d->notifying = 1;
  send_status(d, "READY=1\n");
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
    return;
  rc = uv_timer_init(d->loop, &d->watchdog);
  if (rc == 0) {
    d->watchdog.data = d;
    d->watchdog_on = 1;
    rc = uv_timer_start(&d->watchdog, on_watchdog, 0, usec / 2000 > 0 ? usec / 2000 : 1);
  }
  if (rc < 0)
    pw_log_error("cannot keep the service manager's watchdog: %s", uv_strerror(rc));
}

void daemon_notify_status(struct pw_daemon *d) {
  if (d->notifying)
    send_status(d, "");
}

void daemon_notify_reloading(struct pw_daemon *d) {
  char text[128];
  struct timespec ts;

  if (!d->notifying)
    return;
  /* MONOTONIC_USEC is what Type=notify-reload (systemd 253) matches a reload by; systemd 252
   * (Debian 12) reads RELOADING=1 alone and ignores it. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(text, sizeof(text), "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
  notify(text);
}

void daemon_notify_reloaded(struct pw_daemon *d, int ok) {
  d->reload_info.successful = ok;
  if (ok)
    d->reload_info.timestamp = pw_clock_real_ms() / 1000;
  if (d->notifying)
    send_status(d, "READY=1\n");
}

void daemon_notify_stopping(struct pw_daemon *d, void (*closed)(uv_handle_t *h)) {
  if (d->notifying)
    notify("STOPPING=1");
  if (d->watchdog_on && !uv_is_closing((uv_handle_t *)&d->watchdog))
    uv_close((uv_handle_t *)&d->watchdog, closed);
}

/* Started as root (outside systemd, whose unit sets User=): becomes daemon.user before the state
 * directory is touched (docs/configuration.md, daemon.user). Returns 0 or the exit status. */
int daemon_drop_privileges(struct pw_daemon *d) {
  const char *name = d->conf->daemon.user;
  struct passwd *pw;

  if (geteuid() != 0)
    return 0;
  if (name == NULL || name[0] == '\0') {
    pw_log_warn("running as root: set daemon.user (e.g. \"pacewatch\") so that pacewatchd drops "
                "its privileges (docs/configuration.md)");
    return 0;
  }
  errno = 0;
  pw = getpwnam(name);
  if (pw == NULL) {
    pw_log_error("daemon.user '%s': no such user (create it: systemd-sysusers, or useradd "
                 "--system %s)",
                 name, name);
    return 1;
  }
  if (pw->pw_uid == 0)
    return 0;
  if (initgroups(name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
    pw_log_error("daemon.user '%s': cannot become that user: %s", name, strerror(errno));
    return 1;
  }
  if (setuid(0) == 0) { /* must fail now */
    pw_log_error("daemon.user '%s': root privileges could be regained; stopping", name);
    return 1;
  }
  pw_log_info("running as %s (uid %ld, gid %ld)", name, (long)pw->pw_uid, (long)pw->pw_gid);
  return 0;
}
