/*
 * sink_process: see sink_process.h.
 */
#include "sink_process.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void script_path(char *out, size_t size) {
  const char *src = getenv("PW_SOURCE");
  const char *me = __FILE__;
  const char *cut = strstr(me, "support/sink_process.c");

  if (src != NULL && src[0] != '\0')
    snprintf(out, size, "%s/tests/support/webhook_sink.py", src);
  else if (cut != NULL)
    snprintf(out, size, "%.*ssupport/webhook_sink.py", (int)(cut - me), me);
  else
    snprintf(out, size, "tests/support/webhook_sink.py");
}

int pw_sink_start(struct pw_sink_process *s, const char *dir) {
  char script[1024], line[32];
  int fds[2];
  FILE *in;

  memset(s, 0, sizeof(*s));
  script_path(script, sizeof(script));
  snprintf(s->log, sizeof(s->log), "%s/sink.jsonl", dir);
  if (access(script, R_OK) != 0 || pipe(fds) != 0) {
    fprintf(stderr, "cannot run %s\n", script);
    return -1;
  }
  s->pid = fork();
  if (s->pid < 0)
    return -1;
  if (s->pid == 0) {
    /* Dies with the test even when the test crashes before stopping it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    /* Debian's interpreter, not a pyenv shim on PATH. */
    execl("/usr/bin/python3", "python3", script, s->log, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  if (in == NULL || fgets(line, sizeof(line), in) == NULL) {
    fprintf(stderr, "the webhook sink did not print its port\n");
    if (in != NULL)
      fclose(in);
    return -1;
  }
  fclose(in);
  s->port = (int)strtol(line, NULL, 10);
  return s->port > 0 ? 0 : -1;
}

json_t *pw_sink_requests(const struct pw_sink_process *s, const char *path) {
  json_t *out = json_array();
  char line[1 << 16];
  FILE *fp = fopen(s->log, "r");

  while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
    json_t *o = json_loads(line, 0, NULL);
    const char *p = json_string_value(json_object_get(o, "path"));
    if (o != NULL && (path == NULL || (p != NULL && strcmp(p, path) == 0)))
      json_array_append(out, o);
    json_decref(o);
  }
  if (fp != NULL)
    fclose(fp);
  return out;
}

void pw_sink_stop(struct pw_sink_process *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}
