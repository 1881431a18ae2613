/*
 * spool: the durable queue of notifications (state_dir/spool/). A notification is written
 * there (temporary file, fsync, rename, directory fsync) before its first attempt, rewritten
 * after each failed attempt with its next attempt time (10 s doubling, at most 1 h), removed
 * once delivered, and moved to spool/dead/ after alerting.give_up or a refusal that can never
 * succeed. kill -9 at any moment loses none: every change replaces a whole file atomically, so
 * a crash leaves the old or the new version, never a torn one. Every step can be appended to
 * state_dir/audit.log.
 *
 * Pure blocking file I/O (open, fsync, rename, unlink): the daemon calls it from libuv's thread
 * pool or at start-up, tests call it directly. struct pw_spool holds only paths, an atomic
 * counter and the names already reported (under a mutex), so any thread may call any function;
 * one entry must be handled by one thread at a time (its file is rewritten in place).
 */
#ifndef PW_SPOOL_H
#define PW_SPOOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct pw_spool;

struct pw_spool_entry {
  char id[64];          /* delivery id: unique, stable across retries; [A-Za-z0-9._-], no leading
                           '.'; names the file spool/<id>.json */
  char receiver[65];    /* receiver id */
  int64_t created;      /* when it was spooled (daemon clock) */
  int64_t next_attempt; /* not before this instant */
  unsigned attempts;
  char last_error[256];
  json_t *payload; /* owned: the notification (docs/alerts.md's webhook body) */
};

/* Prepares STATE_DIR/spool and STATE_DIR/spool/dead (created with their parents).
 * STATE_DIR is borrowed (copied). Returns 0 and *OUT (owned; free with pw_spool_free), or a
 * negative errno with a message in ERR. Any thread. */
int pw_spool_init(const char *state_dir, struct pw_spool **out, char *err, size_t errlen);

/* Frees S (the files stay). Accepts NULL. */
void pw_spool_free(struct pw_spool *s);

/* Writes E durably as spool/<id>.json (temporary file + fsync + rename + directory fsync)
 * before any attempt is made. If E->id is empty a new unique id is chosen (E->created, the
 * process id, a counter and random hex) and, when the payload is an object, its "delivery"
 * member is set to it so the body carries the id every retry will send. E is borrowed
 * (E->id and E->payload may be updated). Returns 0, -EINVAL for an id unfit for a file name,
 * or another negative errno with a message in ERR. Any thread. */
int pw_spool_put(struct pw_spool *s, struct pw_spool_entry *e, char *err, size_t errlen);

/* Loads every entry of spool/, oldest (created) first. Unreadable or invalid files are logged,
 * moved aside to spool/dead/<file>.bad (so they are reported once, not at every load) and
 * skipped (the log names the file and the error's position, never its content); directories,
 * FIFOs, symbolic links (never followed) and other non-files named *.json are skipped, left in
 * place and logged once per name; temporary files of an interrupted write older than a minute are
 * removed. Returns 0 with *OUT (owned: free with pw_spool_entries_free; NULL when *N is 0), or a
 * negative errno (the directory cannot be read, out of memory) with a message in ERR. Any thread.
 */
int pw_spool_load(struct pw_spool *s, struct pw_spool_entry **out, size_t *n, char *err,
                  size_t errlen);

/* Frees N entries returned by pw_spool_load (their payloads too). Accepts NULL. */
void pw_spool_entries_free(struct pw_spool_entry *e, size_t n);

/* Records a failed attempt at NOW with the message ERROR (borrowed; may be NULL): attempts
 * grows by one, last_error is set and next_attempt = NOW + min(10 s * 2^(attempts-1), 3600 s),
 * and the file is rewritten durably (returns 0). If PERMANENT, or NOW - created >= GIVE_UP,
 * the entry is instead written to spool/dead/<id>.json and removed from spool/ (returns 1).
 * E is borrowed and updated. Negative errno with a message in ERR on failure (the old file
 * then stays, so the notification is retried rather than lost). Any thread. */
int pw_spool_failed(struct pw_spool *s, struct pw_spool_entry *e, int64_t now, int64_t give_up,
                    int permanent, const char *error, char *err, size_t errlen);

/* Removes a delivered entry's file (unlink + directory fsync). A file already gone is not an
 * error. E is borrowed. Returns 0 or a negative errno with a message in ERR. Any thread. */
int pw_spool_done(struct pw_spool *s, const struct pw_spool_entry *e, char *err, size_t errlen);

/* Appends one JSON line to state_dir/audit.log and fsyncs it: {"at": AT, "event": EVENT,
 * "delivery": id, "receiver": ..., "alerts": [alert ids of the payload], "error": ERROR or
 * null}. EVENT is "spooled", "delivered", "retry" or "dead" (the daemon also writes "merged").
 * All arguments are borrowed. The line is written with one write() on an O_APPEND descriptor,
 * so concurrent writers do not interleave. Returns 0 or a negative errno. Any thread. */
int pw_spool_audit(struct pw_spool *s, const char *event, const struct pw_spool_entry *e,
                   int64_t at, const char *error);

/* Rotates audit.log by size (docs/storage.md "audit.log"): before a line would take it past
 * MAX_BYTES (0: never), audit.log.2 becomes .3 (the oldest .3 dropped), .1 becomes .2 and
 * audit.log becomes .1, so lines are never split nor lost. Any thread. */
void pw_spool_set_audit_max(struct pw_spool *s, int64_t max_bytes);

/* Whether NAME is one pacewatch writes in spool/dead/: "<id>.json" (a dead letter),
 * "<id>.json.bad" (a file set aside as unreadable), or a temporary file of either's write
 * ("….tmp.<pid>"). Retention removes only those (docs/storage.md "Retention"). */
int pw_spool_dead_name(const char *name);

/* Counts the entries (regular *.json files) waiting in spool/ and dead in spool/dead/ (for
 * metrics). Returns 0, or the negative errno of the first directory that cannot be read (its count
 * is then 0). Any thread. */
int pw_spool_counts(struct pw_spool *s, size_t *queued, size_t *dead);

/* Merges the N (>= 1) spooled ENTRIES of one receiver into one (the rate-budget digest): a new
 * entry with a new id whose payload is the first entry's with "alerts" the concatenation of
 * every entry's alerts (in the given order) and "delivery" the new id; created and
 * next_attempt are the earliest of the entries (give_up still counts from the oldest), and
 * attempts starts at 0. The new entry is spooled durably first; only then are the old files
 * removed, so a crash in between may repeat alerts but never loses one (a removal that fails
 * is logged, not returned, for the same reason). ENTRIES are borrowed and left unchanged (the
 * caller still frees them); *MERGED is overwritten and on success owns its payload (release
 * with json_decref(merged->payload)). Returns 0, -EINVAL (no entries, receivers differ, a
 * payload without an "alerts" array), or another negative errno with a message in ERR, and
 * then MERGED holds no payload and no file was removed. Any thread. */
int pw_spool_merge(struct pw_spool *s, struct pw_spool_entry *entries, size_t n,
                   struct pw_spool_entry *merged, char *err, size_t errlen);

#endif
