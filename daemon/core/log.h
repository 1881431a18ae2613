/*
 * log: the one logging facility of pacewatch. Lines go to stderr (foreground, CLI) or to
 * syslog (the daemon without -f). Every line carries the module that wrote it; lines that
 * concern a source, indicator or receiver name it in the text.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

enum pw_log_level { PW_LOG_ERROR = 0, PW_LOG_WARN, PW_LOG_INFO, PW_LOG_DEBUG };

/* Selects the destination: 0 = stderr, 1 = syslog (ident "pacewatchd"). When stderr is the
 * journal (JOURNAL_STREAM names it, as systemd sets it), lines go to stderr either way, each
 * prefixed with its syslog priority ("<3>" error, "<4>" warn, "<6>" info, "<7>" debug, as
 * sd-daemon(3) describes), so `journalctl -p err` finds the errors. Not thread-safe; call
 * before any other thread starts. */
void pw_log_open(int use_syslog);

/* Sets the most verbose level written. */
void pw_log_set_level(enum pw_log_level level);

/* Parses "error" | "warn" | "info" | "debug"; returns 0 or -EINVAL. */
int pw_log_level_parse(const char *text, enum pw_log_level *out);

/* Writes one line (printf-style). Control characters in the message are escaped (\n, \r, \t,
 * \xHH), so text from outside can neither start a forged line nor send terminal escapes.
 * Thread-safe (one write per line). */
void pw_log_write(enum pw_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifndef PW_LOG_MODULE
#define PW_LOG_MODULE "core"
#endif

#define pw_log_error(...) pw_log_write(PW_LOG_ERROR, PW_LOG_MODULE, __VA_ARGS__)
#define pw_log_warn(...) pw_log_write(PW_LOG_WARN, PW_LOG_MODULE, __VA_ARGS__)
#define pw_log_info(...) pw_log_write(PW_LOG_INFO, PW_LOG_MODULE, __VA_ARGS__)
#define pw_log_debug(...) pw_log_write(PW_LOG_DEBUG, PW_LOG_MODULE, __VA_ARGS__)

#endif
