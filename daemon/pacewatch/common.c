/*
 * common: what several commands of `pacewatch` share: reading a TIME argument, naming an
 * indicator of the configuration, and opening the journal and the RRD store for reading.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  if (cli_foreign_path(c->conf, NULL, 0, NULL)) {
    /* Not ours: graphs/ is the daemon's, and a file made there would be ours. */
    snprintf(tmp_dir, tmp_size, "/tmp/pacewatch-%u-graphs", (unsigned)geteuid());
    if (mkdir(tmp_dir, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr, "pacewatch: %s: %s\n", tmp_dir, strerror(errno));
      pw_store_free(store);
      pw_journal_close(*j);
      return -EIO;
    }
    return 0;
  }
  snprintf(tmp_dir, tmp_size, "%s/graphs", c->conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  return 0;
}

int cli_foreign_path(const struct pw_config *conf, char *path, size_t len, uid_t *owner) {
  /* What a write command creates or writes in the state directory (docs/storage.md). */
  static const char *const names[] = {"",      "journal", "journal/journal.tsv", "rrd",
                                      "inbox", "lock",    "silences.json",       "tokens.json",
                                      NULL};
  struct stat st;
  int i;

  for (i = 0; names[i]; i++) {
    char *p = names[i][0] ? pw_path_join(conf->daemon.state_dir, names[i])
                          : strdup(conf->daemon.state_dir);
    if (p == NULL)
      return 0;
    if (lstat(p, &st) == 0 && st.st_uid != geteuid()) {
      if (path != NULL)
        snprintf(path, len, "%s", p);
      if (owner != NULL)
        *owner = st.st_uid;
      free(p);
      return 1;
    }
    free(p);
  }
  return 0;
}

/* Writes ARG to OUT as a shell word (single-quoted when it holds anything but plain text). */
static void shell_word(FILE *out, const char *arg) {
  const char *p;

  if (arg[0] != '\0' && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_./:=@%+,-") == strlen(arg)) {
    fputs(arg, out);
    return;
  }
  fputc('\'', out);
  for (p = arg; *p; p++)
    if (*p == '\'')
      fputs("'\\''", out);
    else
      fputc(*p, out);
  fputc('\'', out);
}

int cli_check_owner(struct cli *c, int argc, char **argv) {
  char path[4200], name[64];
  const char *user = c->conf->daemon.user;
  struct passwd *pw;
  struct stat st;
  uid_t owner;
  int i;

  if (cli_foreign_path(c->conf, path, sizeof(path), &owner)) {
    pw = getpwuid(owner);
    snprintf(name, sizeof(name), "%s", pw != NULL ? pw->pw_name : "");
    if (pw == NULL)
      snprintf(name, sizeof(name), "#%u", (unsigned)owner);
    fprintf(stderr, "pacewatch: %s belongs to user %s (uid %u); run it as that user: sudo -u %s",
            path, pw != NULL ? pw->pw_name : "?", (unsigned)owner, name);
  } else if (geteuid() == 0 && stat(c->conf->daemon.state_dir, &st) != 0 && user != NULL &&
             user[0] != '\0' && (pw = getpwnam(user)) != NULL) {
    /* Root would make a state directory of its own that the daemon's user cannot write. */
    snprintf(name, sizeof(name), "%s", pw->pw_name);
    fprintf(stderr,
            "pacewatch: %s does not exist and root would create it; run it as the daemon's user "
            "(daemon.user): sudo -u %s",
            c->conf->daemon.state_dir, name);
  } else {
    return 0;
  }
  for (i = 0; i < argc; i++) {
    fputc(' ', stderr);
    shell_word(stderr, i == 0 ? "pacewatch" : argv[i]);
  }
  fputc('\n', stderr);
  return -EPERM;
}
