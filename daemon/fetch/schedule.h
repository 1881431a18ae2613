/*
 * schedule: polling of the configured sources (their timers, back-off and health).
 */
#ifndef PW_SCHEDULE_H
#define PW_SCHEDULE_H

#include <stdint.h>

/* Health of one source, kept for logs and the status server. */
struct pw_source_health {
  int64_t last_attempt, last_success; /* 0 = never */
  char last_error[256];               /* "" when the last poll succeeded */
  unsigned consecutive_failures;
  double last_duration_ms;
  uint64_t polls, failures;
  int64_t failing_since; /* first failure of the current run of failures, 0 when up */
};

#endif
