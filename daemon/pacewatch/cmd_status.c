/* status: judges every indicator as of an instant, as a table or the status JSON document. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "json.h"
#include "status.h"

int cmd_status(struct cli *c) {
  struct pw_journal *j;
  int64_t at = pw_clock_now();

  if (c->argc != 0) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  if (c->at && cli_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (cli_open_journal(c, &j) < 0)
    return EXIT_FAIL;
  if (c->json) {
    json_t *doc = pw_status_json(c->conf, j->series, at);
    if (doc == NULL || pw_json_dumpf(doc, stdout, JSON_INDENT(2)) < 0) {
      json_decref(doc);
      pw_journal_close(j);
      return EXIT_FAIL;
    }
    fputc('\n', stdout);
    json_decref(doc);
  } else {
    pw_status_table(stdout, c->conf, j->series, at, isatty(STDOUT_FILENO));
  }
  pw_journal_close(j);
  return EXIT_OK;
}
