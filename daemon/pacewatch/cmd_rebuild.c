/* rebuild: regenerates every RRD file from the journal, or asks a running daemon to. */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "derive.h"
#include "util.h"

int cmd_rebuild(struct cli *c) {
  struct pw_journal *j = NULL;
  struct pw_store store;
  char err[1024];
  int lock_fd, failures;

  if (c->argc != 0) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  lock_fd = pw_state_lock(c->conf->daemon.state_dir);
  if (lock_fd == -EWOULDBLOCK) {
    json_t *req = json_pack("{s:s}", "op", "rebuild"), *reply;
    struct cli_counts cnt;
    int rc = cli_ask_daemon(c, req, &reply);
    json_decref(req);
    if (rc == 0)
      rc = cli_reply_counts(reply, &cnt);
    json_decref(reply);
    if (rc < 0)
      return EXIT_FAIL;
    printf("the running pacewatchd rebuilt every RRD file from the journal\n");
    return EXIT_OK;
  }
  if (lock_fd < 0) {
    fprintf(stderr, "pacewatch: cannot lock %s: %s\n", c->conf->daemon.state_dir,
            strerror(-lock_fd));
    return EXIT_FAIL;
  }
  if (pw_journal_open(c->conf, 0, &j, err, sizeof(err)) < 0 ||
      pw_store_init(&store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err,
                    sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    pw_journal_close(j);
    close(lock_fd);
    return EXIT_FAIL;
  }
  failures = pw_derive_rebuild(c->conf, j, &store, NULL);
  printf("rebuilt %d RRD files from %llu journal lines%s\n", c->conf->n_indicators - failures,
         (unsigned long long)j->lines, failures ? " (some failed: see above)" : "");
  pw_store_free(&store);
  pw_journal_close(j);
  close(lock_fd);
  return failures ? EXIT_FAIL : EXIT_OK;
}
