/*
 * cli.h: what the commands of `pacewatch` share (private to the program). main (cli.c) reads
 * the command line and the configuration into a struct cli and calls one command; each command
 * lives in its own file (cmd_*.c), prints its own messages and returns the exit status.
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "journal.h"
#include "store.h"

/* Exit statuses (docs/cli.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The command line, read by main; CONF is loaded before the command runs and freed after. */
struct cli {
  const char *config_path;
  const char *at, *as_of, *from, *to, *format, *output, *until, *reason, *note;
  const char *indicator;           /* fetch --indicator */
  const char *for_text;            /* silence add --for */
  const char *measures, *catch_up; /* explain */
  int json;
  int fetch; /* check --fetch */
  int argc;  /* positional arguments after the command */
  char **argv;
  struct pw_config *conf;
  const char *sheet, *columns, *first_row; /* import of a workbook (docs/spreadsheets.md) */
};

/* One sample to store: the indicator's index in the configuration, and the CSV line it came
 * from (0 for `record`). */
struct cli_row {
  int line;
  int ind;
  int64_t as_of;
  double value;
  char *note; /* clean (pw_note_clean), or NULL; owned by whoever holds the rows */
};

/* What storing rows did: new samples, duplicates (nothing written), revisions, and notes
 * (duplicates whose note changed: a note line written, docs/storage.md). */
struct cli_counts {
  unsigned long fresh, dups, revs, notes;
};

/* The commands: each returns EXIT_OK, EXIT_FAIL or EXIT_USAGE, after printing why. */
int cmd_check(struct cli *c);
int cmd_status(struct cli *c);
int cmd_import(struct cli *c);
int cmd_record(struct cli *c);
int cmd_export(struct cli *c);
int cmd_rebuild(struct cli *c);
int cmd_graph(struct cli *c);
int cmd_briefing(struct cli *c);
int cmd_silence(struct cli *c);
int cmd_fetch(struct cli *c);
int cmd_token(struct cli *c);

/* Polls source SOURCE (an index, or -1 for every source) once and prints what each indicator
 * (or only indicator ONLY, when >= 0) would come to; stores nothing (cmd_fetch.c). Returns the
 * exit status. */
int cli_fetch_sources(struct cli *c, int source, int only);
int cmd_retract(struct cli *c);
int cmd_explain(struct cli *c);

/* Prints the usage text to OUT (cli.c). */
void cli_usage(FILE *out);

/* Parses a TIME argument of option OPT into *OUT; returns 0, or prints an error and returns
 * -EINVAL (common.c). */
int cli_time_arg(const char *opt, const char *text, int64_t *out);

/* The index of indicator ID in the configuration, or -1 after printing that it is unknown. */
int cli_find_indicator(struct cli *c, const char *id);

/* Opens the journal read-only into *J (free with pw_journal_close); returns 0 or -EIO after
 * printing why. */
int cli_open_journal(struct cli *c, struct pw_journal **j);

/* Opens what the graph and briefing readers need: the journal and the store, and names the
 * directory for temporary graphs in TMP_DIR (created). Returns 0 or -EIO after printing why;
 * on success the caller closes both. */
int cli_open_readers(struct cli *c, struct pw_journal **j, struct pw_store *store, char *tmp_dir,
                     size_t tmp_size);

/* Whether a path of CONF's state directory that the write commands use (the directory,
 * journal/, rrd/, inbox/, lock, ...) exists and belongs to another user than the one running;
 * then its path into PATH (LEN bytes; may be NULL) and its owner into *OWNER (may be NULL). */
int cli_foreign_path(const struct pw_config *conf, char *path, size_t len, uid_t *owner);

/* The rule of docs/cli.md#who-may-write: a command that writes the state directory runs as the
 * user who owns it, root included (root would leave files the daemon cannot write). Returns 0,
 * or -EPERM after printing whose it is and the command to run instead (ARGC, ARGV: the
 * command line, repeated in it). */
int cli_check_owner(struct cli *c, int argc, char **argv);

/* Writes REQ (borrowed) into the running daemon's inbox and waits for its reply: 0 with
 * *REPLY (owned, json_decref) or a negative errno (samples.c). */
int cli_ask_daemon(struct cli *c, json_t *req, json_t **reply);

/* Reads the counts of a daemon's reply into OUT; -EINVAL after printing the refusal. */
int cli_reply_counts(json_t *reply, struct cli_counts *out);

/* Stores ROWS (validated, sorted by indicator and as_of) as samples from SOURCE fetched at
 * NOW: directly under the state lock, or through a running daemon's inbox. Returns 0 with OUT
 * filled, or a negative errno (already reported). */
int cli_apply_rows(struct cli *c, const struct cli_row *rows, size_t n, const char *source,
                   int64_t now, struct cli_counts *out);

/* Applies REQ, a retract or explain request in the inbox's form (docs/storage.md#inbox, every
 * field validated): through the running daemon's inbox, or directly under the state lock (the
 * journal committed, the touched RRD files rebuilt). *AS_OF receives the as_of applied. Returns
 * 0 or a negative errno (already reported). */
int cli_apply_note_op(struct cli *c, json_t *req, int64_t *as_of);

#endif
