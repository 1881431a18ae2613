/* briefing: writes the weekly briefing (HTML and Markdown) as of an instant. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <string.h>

#include "briefing.h"
#include "cli.h"
#include "clock.h"

int cmd_briefing(struct cli *c) {
  struct pw_journal *j;
  struct pw_store store;
  struct pw_briefing_request req;
  struct pw_briefing_result res;
  char err[1024], tmp_dir[4200];
  int64_t at = pw_clock_now();
  int rc;

  if (c->argc != 0) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  if (c->at && cli_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (cli_open_readers(c, &j, &store, tmp_dir, sizeof(tmp_dir)) < 0)
    return EXIT_FAIL;
  memset(&req, 0, sizeof(req));
  req.conf = c->conf;
  req.journal = j;
  req.store = &store;
  req.at = at;
  req.out_dir = c->output ? c->output : ".";
  req.graphs = 1;
  rc = pw_briefing_write(&req, &res, err, sizeof(err));
  if (rc < 0)
    fprintf(stderr, "pacewatch: %s\n", err);
  else
    printf("briefing %s: %s, %s, %s\n", res.name, res.html_path, res.md_path, res.docx_path);
  pw_store_free(&store);
  pw_journal_close(j);
  return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
