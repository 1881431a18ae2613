/* token: adds, lists and revokes the departments' reporting tokens (docs/cli.md "token"), kept
 * as salted hashes in state_dir/tokens.json (docs/storage.md), which a running daemon re-reads
 * every five seconds. Like silences.json the file is small and replaced atomically, so the CLI
 * edits it itself, with or without a daemon. */
#define PW_LOG_MODULE "cli"
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "tokens.h"
#include "util.h"

static int usage(void) {
  fprintf(stderr, "usage: pacewatch token -c FILE add DEPARTMENT | list | revoke ID\n");
  return EXIT_USAGE;
}

/* How a token was used: the newest `at` and the number of the page's submissions (the audit
 * lines "report" and "explain" that name it). */
struct use {
  int64_t last;
  long n;
};

/* Counts the uses in one audit file, PATH, of the tokens T into U. A missing file, a link, a
 * FIFO or anything but a regular file is passed over; so is a line that is not an audit line
 * (someone edited the file). */
static void count_uses(const char *path, const struct pw_tokens *t, struct use *u) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  char *line = NULL;
  size_t cap = 0, i;
  struct stat st;
  FILE *f;

  if (fd < 0)
    return;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "r")) == NULL) {
    close(fd);
    return;
  }
  while (getline(&line, &cap, f) > 0) {
    json_t *doc, *at;
    const char *ev, *id;

    if (strstr(line, "\"token\"") == NULL)
      continue;
    doc = json_loads(line, 0, NULL);
    ev = json_string_value(json_object_get(doc, "event"));
    id = json_string_value(json_object_get(doc, "token"));
    at = json_object_get(doc, "at");
    if (ev != NULL && id != NULL && json_is_integer(at) &&
        (strcmp(ev, "report") == 0 || strcmp(ev, "explain") == 0))
      for (i = 0; i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0) {
          u[i].n++;
          if (json_integer_value(at) > u[i].last)
            u[i].last = json_integer_value(at);
        }
    json_decref(doc);
  }
  free(line);
  fclose(f);
}

/* `token list`: each token's id, department, creation and last use, read from audit.log and
 * its rotated files. */
static void list(struct cli *c, const struct pw_tokens *t) {
  struct use *u = calloc(t->n + 1, sizeof(*u));
  char path[4200], when[40], last[40];
  size_t i;
  int k;

  for (k = 0; u != NULL && k <= PW_AUDIT_KEEP; k++) {
    if (k == 0)
      snprintf(path, sizeof(path), "%s/audit.log", c->conf->daemon.state_dir);
    else
      snprintf(path, sizeof(path), "%s/audit.log.%d", c->conf->daemon.state_dir, k);
    count_uses(path, t, u);
  }
  for (i = 0; i < t->n; i++) {
    printf("%s\t%s\tcreated %s\t", t->v[i].id, t->v[i].department,
           pw_calendar_format(t->v[i].created, when, sizeof(when)));
    if (u != NULL && u[i].n > 0)
      printf("last used %s, %ld submission%s\n", pw_calendar_format(u[i].last, last, sizeof(last)),
             u[i].n, u[i].n == 1 ? "" : "s");
    else
      printf("%s\n", u != NULL ? "not used" : "use unknown (out of memory)");
  }
  free(u);
}

/* `token add DEPT`: the link is printed once (standard output), the token never again. */
static int add(struct cli *c, struct pw_tokens *t, const char *dept_id) {
  const char *state = c->conf->daemon.state_dir, *base = c->conf->daemon.public_url;
  char token[PW_TOKEN_LEN + 1];
  int dept = pw_config_department_index(c->conf, dept_id), rc;

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
  char msg[600];
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
    list(c, &t);
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
