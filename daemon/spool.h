/*
 * spool: the durable queue of notifications (state_dir/spool/). A notification is written
 * there (temporary file, fsync, rename) before its first attempt, rewritten after each failed
 * attempt with its next attempt time (10 s doubling, at most 1 h), removed once delivered, and
 * moved to spool/dead/ after alerting.give_up or a refusal that can never succeed. kill -9 at
 * any moment loses none. Every step is appended to state_dir/audit.log.
 *
 * Blocking file I/O: the daemon calls it on the loop for small files (a notification is a few
 * kilobytes).
 */
#ifndef PW_SPOOL_H
#define PW_SPOOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct pw_spool;

struct pw_spool_entry {
  char id[64];          /* delivery id: stable across retries */
  char receiver[65];    /* receiver id */
  int64_t created;      /* when it was spooled (daemon clock) */
  int64_t next_attempt; /* not before this instant */
  unsigned attempts;
  char last_error[256];
  json_t *payload; /* owned: the notification (CONTRACT section 6 webhook body) */
};

/* Prepares STATE_DIR/spool and spool/dead. Returns 0 and *OUT, or a negative errno. */
int pw_spool_init(const char *state_dir, struct pw_spool **out, char *err, size_t errlen);
void pw_spool_free(struct pw_spool *s);

/* Writes E durably before any attempt (E->id must be set). Returns 0 or a negative errno. */
int pw_spool_put(struct pw_spool *s, struct pw_spool_entry *e, char *err, size_t errlen);

/* Every entry of spool/, oldest first; unreadable files are logged and skipped. *OUT is owned:
 * free with pw_spool_entries_free. */
int pw_spool_load(struct pw_spool *s, struct pw_spool_entry **out, size_t *n, char *err,
                  size_t errlen);
void pw_spool_entries_free(struct pw_spool_entry *e, size_t n);

/* Records a failed attempt at NOW. Moves E to spool/dead/ (and returns 1) when PERMANENT or
 * when it is older than GIVE_UP; else reschedules it (returns 0). Negative errno on failure. */
int pw_spool_failed(struct pw_spool *s, struct pw_spool_entry *e, int64_t now, int64_t give_up,
                    int permanent, const char *error, char *err, size_t errlen);

/* Removes a delivered entry. */
int pw_spool_done(struct pw_spool *s, const struct pw_spool_entry *e, char *err, size_t errlen);

/* Appends {"at","event","delivery","receiver","alerts","error"} to state_dir/audit.log. */
int pw_spool_audit(struct pw_spool *s, const char *event, const struct pw_spool_entry *e,
                   int64_t at, const char *error);

/* Entries waiting and dead-lettered. */
int pw_spool_counts(struct pw_spool *s, size_t *queued, size_t *dead);

#endif
