/*
 * common: what several commands of `pacewatch` share: reading a TIME argument, naming an
 * indicator of the configuration, and opening the journal and the RRD store for reading.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "util.h"
#include "value.h"

/* Parses a TIME argument; returns 0 or prints an error and returns -EINVAL. */
int cli_time_arg(const char *opt, const char *text, int64_t *out) {
  if (pw_date_parse(text, out) < 0) {
    fprintf(stderr,
            "pacewatch: %s '%s' is not a time (YYYY-MM-DD or e.g. 2024-04-30T12:00:00+08:00)\n",
            opt, text);
    return -EINVAL;
  }
  return 0;
}

int cli_find_indicator(struct cli *c, const char *id) {
  int i = pw_config_indicator_index(c->conf, id);

  if (i < 0)
    fprintf(stderr, "pacewatch: unknown indicator '%s' (not in %s)\n", id, c->config_path);
  return i;
}

int cli_open_journal(struct cli *c, struct pw_journal **j) {
  char err[1024];

  if (pw_journal_open(c->conf, 0, j, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    return -EIO;
  }
  return 0;
}

/* Opens what the graph and briefing readers need: the journal and the store (read-only use). */
int cli_open_readers(struct cli *c, struct pw_journal **j, struct pw_store *store, char *tmp_dir,
                     size_t tmp_size) {
  char err[1024];

  if (cli_open_journal(c, j) < 0)
    return -EIO;
  if (pw_store_init(store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err, sizeof(err)) <
      0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    pw_journal_close(*j);
    return -EIO;
  }
  snprintf(tmp_dir, tmp_size, "%s/graphs", c->conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  return 0;
}
