/*
 * http_fixture: see http_fixture.h.
 */
#include "http_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The script sits in tests/support/ beside this file (PW_SOURCE overrides). */
static void fixture_path(char *out, size_t size) {
  const char *src = getenv("PW_SOURCE");
  const char *me = __FILE__;
  const char *cut = strstr(me, "http_fixture.c");

  if (src != NULL && src[0] != '\0')
    snprintf(out, size, "%s/tests/support/http_fixture.py", src);
  else if (cut != NULL)
    snprintf(out, size, "%.*shttp_fixture.py", (int)(cut - me), me);
  else
    snprintf(out, size, "tests/support/http_fixture.py");
}

int pw_http_fixture_start(pid_t *pid) {
  char script[1024], line[32];
  int fds[2], port;
  FILE *in;

  fixture_path(script, sizeof(script));
  if (access(script, R_OK) != 0) {
    fprintf(stderr, "fixture not found: %s\n", script);
    return -1;
  }
  if (pipe(fds) != 0)
    return -1;
  *pid = fork();
  if (*pid < 0)
    return -1;
  if (*pid == 0) {
    /* Dies with the test even when the test crashes before its teardown. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    /* Debian's interpreter, not another python3 first on PATH. */
    execl("/usr/bin/python3", "python3", script, "0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  if (in == NULL || fgets(line, sizeof(line), in) == NULL) {
    fprintf(stderr, "fixture did not print its port\n");
    if (in != NULL)
      fclose(in);
    return -1;
  }
  fclose(in);
  port = (int)strtol(line, NULL, 10);
  return port > 0 ? port : -1;
}

void pw_http_fixture_stop(pid_t pid) {
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
}
