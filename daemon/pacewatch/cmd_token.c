/* token: adds, lists and revokes the departments' reporting tokens (docs/cli.md "token"), kept
 * as salted hashes in state_dir/tokens.json (docs/storage.md), which a running daemon re-reads
 * every five seconds. Like silences.json the file is small and replaced atomically, so the CLI
 * edits it itself, with or without a daemon. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "tokens.h"
#include "util.h"

static int usage(void) {
  fprintf(stderr, "usage: pacewatch token -c FILE add DEPARTMENT | list | revoke ID\n");
  return EXIT_USAGE;
}

static int department_index(const struct pw_config *conf, const char *id) {
  int i;

  for (i = 0; i < conf->n_departments; i++)
    if (strcmp(conf->departments[i].id, id) == 0)
      return i;
  return -1;
}

/* `token add DEPT`: the link is printed once (standard output), the token never again. */
static int add(struct cli *c, struct pw_tokens *t, const char *dept_id) {
  const char *state = c->conf->daemon.state_dir, *base = c->conf->daemon.public_url;
  char token[PW_TOKEN_LEN + 1];
  int dept = department_index(c->conf, dept_id), rc;

  if (dept < 0) {
    fprintf(stderr, "pacewatch: no department '%s' in %s\n", dept_id, c->config_path);
    return EXIT_USAGE;
  }
  rc = pw_tokens_new(t, dept_id, pw_clock_now(), token, sizeof(token));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: cannot make a token: %s\n", strerror(-rc));
    return EXIT_FAIL;
  }
  if (pw_mkdir_p(state) < 0 || pw_tokens_write(state, t) < 0) {
    fprintf(stderr, "pacewatch: cannot write %s/tokens.json\n", state);
    return EXIT_FAIL;
  }
  /* The token travels in the fragment (after '#'): browsers send it neither to the server nor
   * in a Referer (docs/http.md). */
  printf("%s/report/%s#t=%s\n", base, dept_id, token);
  fprintf(stderr,
          "token %s added for %s (%s); the link above is shown only this once: hand it to the "
          "department%s\n",
          t->v[t->n - 1].id, dept_id, c->conf->departments[dept].name,
          base[0] == '\0' ? " (daemon.public_url is not set: put the status server's address "
                            "in front of it)"
                          : "");
  return EXIT_OK;
}

int cmd_token(struct cli *c) {
  const char *op = c->argc > 0 ? c->argv[0] : "";
  const char *state = c->conf->daemon.state_dir;
  struct pw_tokens t;
  char msg[600], when[40];
  size_t i;
  int rc;

  if (!((strcmp(op, "add") == 0 && c->argc == 2) || (strcmp(op, "list") == 0 && c->argc == 1) ||
        (strcmp(op, "revoke") == 0 && c->argc == 2)))
    return usage();
  /* A damaged or planted file is not overwritten: it may be evidence, and its tokens are
   * unknown. */
  if (pw_tokens_read(state, &t, msg, sizeof(msg)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", msg);
    return EXIT_FAIL;
  }
  if (strcmp(op, "add") == 0) {
    rc = add(c, &t, c->argv[1]);
  } else if (strcmp(op, "list") == 0) {
    for (i = 0; i < t.n; i++)
      printf("%s\t%s\tcreated %s\n", t.v[i].id, t.v[i].department,
             pw_calendar_format(t.v[i].created, when, sizeof(when)));
    rc = EXIT_OK;
  } else if (pw_tokens_remove(&t, c->argv[1]) < 0) {
    fprintf(stderr, "pacewatch: no token '%s' in %s/tokens.json\n", c->argv[1], state);
    rc = EXIT_FAIL;
  } else if (pw_tokens_write(state, &t) < 0) {
    fprintf(stderr, "pacewatch: cannot write %s/tokens.json\n", state);
    rc = EXIT_FAIL;
  } else {
    printf("token %s revoked\n", c->argv[1]);
    rc = EXIT_OK;
  }
  pw_tokens_free(&t);
  return rc;
}
