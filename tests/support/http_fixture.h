/*
 * http_fixture: tests/support/http_fixture.py run as a child process for unit tests that need a
 * real HTTP server on loopback (fetch, schedule).
 */
#ifndef PW_HTTP_FIXTURE_H
#define PW_HTTP_FIXTURE_H

#include <sys/types.h>

/* Starts the fixture (it dies with the test, even one that crashes). Returns its port and sets
 * *PID, or -1 with the reason on stderr. */
int pw_http_fixture_start(pid_t *pid);

/* Stops it (PID <= 0: nothing). */
void pw_http_fixture_stop(pid_t pid);

#endif
