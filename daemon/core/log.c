/*
 * log: writes pacewatch's log lines to stderr or syslog. One formatted line per call, written
 * with a single write so lines from different threads never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* Process-wide logging settings: chosen once at start-up, before any thread exists. */
static int log_syslog;
static enum pw_log_level log_level = PW_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void pw_log_open(int use_syslog) {
  log_syslog = use_syslog;
  if (use_syslog)
    openlog("pacewatchd", LOG_PID, LOG_DAEMON);
}

void pw_log_set_level(enum pw_log_level level) {
  log_level = level;
}

int pw_log_level_parse(const char *text, enum pw_log_level *out) {
  int i;

  for (i = 0; i < 4; i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (enum pw_log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

void pw_log_write(enum pw_log_level level, const char *module, const char *fmt, ...) {
  static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
  char line[2048];
  int n, m;
  va_list ap;

  if (level > log_level)
    return;
  n = snprintf(line, sizeof(line), "%s: %s: ", level_names[level], module);
  if (n < 0 || n >= (int)sizeof(line))
    return;
  va_start(ap, fmt);
  m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    return;
  n += m;
  if (n > (int)sizeof(line) - 2)
    n = (int)sizeof(line) - 2;
  if (log_syslog) {
    line[n] = '\0';
    syslog(prio[level], "%s", line);
    return;
  }
  line[n++] = '\n';
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    (void)errno;
}
