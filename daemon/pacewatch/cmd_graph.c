/* graph: one indicator's trend graph for the year, as PNG or SVG. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "graph.h"
#include "status.h"

int cmd_graph(struct cli *c) {
  struct pw_journal *j;
  struct pw_store store;
  struct pw_graph_request req;
  struct pw_verdict v;
  char err[1024], tmp_dir[4200];
  int64_t at = pw_clock_now();
  int ind, rc;

  if (c->argc != 1 || c->output == NULL) {
    fprintf(stderr, "pacewatch: graph needs an indicator id and -o OUT\n");
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  ind = cli_find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if (c->at && cli_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (c->format && strcmp(c->format, "png") != 0 && strcmp(c->format, "svg") != 0) {
    fprintf(stderr, "pacewatch: --format must be png or svg\n");
    return EXIT_USAGE;
  }
  if (cli_open_readers(c, &j, &store, tmp_dir, sizeof(tmp_dir)) < 0)
    return EXIT_FAIL;
  pw_status_judge(c->conf, j->series, ind, at, &v);
  memset(&req, 0, sizeof(req));
  req.conf = c->conf;
  req.ind = ind;
  req.store = &store;
  req.verdict = &v;
  req.at = at;
  req.format = c->format && strcmp(c->format, "svg") == 0 ? PW_GRAPH_SVG : PW_GRAPH_PNG;
  req.out_path = c->output;
  req.tmp_dir = tmp_dir;
  rc = pw_graph_render(&req, NULL, err, sizeof(err));
  if (rc < 0)
    fprintf(stderr, "pacewatch: %s\n", err);
  pw_store_free(&store);
  pw_journal_close(j);
  return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
