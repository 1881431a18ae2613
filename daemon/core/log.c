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

/* The length of the well-formed UTF-8 sequence of two or more bytes at P (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0 when P does not start one. C1
 * control characters (U+0080 to U+009F, which some terminals read as escapes) count as not
 * well-formed, so that they are escaped like the C0 ones. */
static size_t utf8_sequence(const unsigned char *p) {
  unsigned lo = 0x80, hi = 0xbf;
  size_t len, i;

  if (*p >= 0xc2 && *p <= 0xdf)
    len = 2;
  else if (*p >= 0xe0 && *p <= 0xef)
    len = 3;
  else if (*p >= 0xf0 && *p <= 0xf4)
    len = 4;
  else
    return 0;
  if (*p == 0xc2)
    lo = 0xa0; /* U+0080 to U+009F: C1 controls */
  else if (*p == 0xe0)
    lo = 0xa0; /* overlong */
  else if (*p == 0xed)
    hi = 0x9f; /* surrogates */
  else if (*p == 0xf0)
    lo = 0x90; /* overlong */
  else if (*p == 0xf4)
    hi = 0x8f; /* past U+10FFFF */
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  return len;
}

/* Copies the message TEXT into OUT (CAP bytes, room for the newline kept), escaped: control
 * characters as \n, \r, \t or \xHH, so that text from outside (a source's value, a request's
 * path) can never start a second log line or reach a terminal as an escape sequence; and every
 * byte that is not part of well-formed UTF-8 as \xHH, so that the log is text (journald keeps a
 * line with invalid UTF-8 as a blob). Well-formed UTF-8 passes unchanged; a sequence that does
 * not fit whole is left out. Returns the length. */
static size_t escape_controls(char *out, size_t cap, const char *text) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0, len;
  const unsigned char *p;

  for (p = (const unsigned char *)text; *p != '\0' && n + 5 < cap; p++) {
    if (*p >= 0x20 && *p < 0x7f) {
      out[n++] = (char)*p;
    } else if (*p >= 0x80 && (len = utf8_sequence(p)) > 0) {
      if (n + len + 1 > cap)
        break;
      memcpy(out + n, p, len);
      n += len;
      p += len - 1;
    } else if (*p == '\n' || *p == '\r' || *p == '\t') {
      out[n++] = '\\';
      out[n++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
    } else {
      out[n++] = '\\';
      out[n++] = 'x';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  return n;
}

void pw_log_write(enum pw_log_level level, const char *module, const char *fmt, ...) {
  static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
  char msg[2048], line[2048];
  int n, m;
  va_list ap;

  if (level > log_level)
    return;
  n = snprintf(line, sizeof(line), "%s: %s: ", level_names[level], module);
  if (n < 0 || n >= (int)sizeof(line))
    return;
  va_start(ap, fmt);
  m = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (m < 0)
    return;
  n += (int)escape_controls(line + n, sizeof(line) - (size_t)n - 1, msg);
  if (log_syslog) {
    line[n] = '\0';
    syslog(prio[level], "%s", line);
    return;
  }
  line[n++] = '\n';
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    (void)errno;
}
