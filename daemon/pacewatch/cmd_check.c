/* check: validates a configuration as pacewatchd -t does, and sums it up in one line. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>

#include "cli.h"
#include "plugin_host.h"
#include "preflight.h"

int cmd_check(struct cli *c) {
  struct pw_plugins *plugins;
  char err[1024];
  int i, with_targets = 0;

  /* Paths are checked by the sources' parser plugins, and the machine by the preflight, as
   * pacewatchd -t does. */
  if (pw_plugins_load(&plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    return EXIT_FAIL;
  }
  if (pw_plugins_check_config(plugins, c->conf, err, sizeof(err)) < 0 ||
      pw_preflight(c->conf, plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    pw_plugins_free(plugins);
    return EXIT_USAGE;
  }
  pw_plugins_free(plugins);

  for (i = 0; i < c->conf->n_indicators; i++)
    with_targets += c->conf->indicators[i].n_targets > 0;
  printf("%s: ok (%d domains, %d departments, %d sources, %d indicators of which %d with "
         "targets, %d receivers; time zone %s)\n",
         c->config_path, c->conf->n_domains, c->conf->n_departments, c->conf->n_sources,
         c->conf->n_indicators, with_targets, c->conf->n_receivers, c->conf->daemon.timezone);
  if (c->fetch) {
    fflush(stdout);
    putchar('\n');
    return cli_fetch_sources(c, -1, -1);
  }
  return EXIT_OK;
}
