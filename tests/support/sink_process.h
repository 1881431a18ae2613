/*
 * sink_process: tests/support/webhook_sink.py run as a child process for unit tests of
 * delivery, a real HTTP receiver on loopback. Every POST it gets is a JSON line of its log
 * (path, ok, headers, body); a URL with ?fail=N answers 500 to that path's first N requests.
 */
#ifndef PW_SINK_PROCESS_H
#define PW_SINK_PROCESS_H

#include <jansson.h>
#include <sys/types.h>

struct pw_sink_process {
  pid_t pid;
  int port;
  char log[512];
};

/* Starts the sink, logging into DIR/sink.jsonl. Returns 0, or -1 with the reason on stderr. */
int pw_sink_start(struct pw_sink_process *s, const char *dir);

/* The requests received so far to PATH (NULL: any), as a JSON array of the log's objects
 * (a new reference; an empty array when none). */
json_t *pw_sink_requests(const struct pw_sink_process *s, const char *path);

/* Stops the sink. */
void pw_sink_stop(struct pw_sink_process *s);

#endif
