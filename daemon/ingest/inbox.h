/*
 * inbox: how `pacewatch import|record|rebuild` hand their work to a running daemon, which is
 * the only writer of the state directory while it runs. The CLI validates everything itself,
 * then renames a request file (JSON) into STATE_DIR/inbox/; the daemon takes it within a
 * second, admits its samples through the same admission as a poll (admit.h), and writes
 * NAME.reply once they are durable. The CLI waits for the reply.
 *
 * Listing the directory, reading and removing requests and writing replies run on libuv's
 * thread pool; the requests are applied on the loop.
 */
#ifndef PW_INBOX_H
#define PW_INBOX_H

#include <uv.h>

#include "admit.h"

/* Called once everything admitted so far is durable: RC 0, or a negative errno when the journal
 * could not be written. */
typedef void (*pw_inbox_synced_cb)(void *arg, int rc);

struct pw_inbox_context {
  uv_loop_t *loop;
  const char *state_dir;  /* copied */
  struct pw_admit *admit; /* borrowed: requests are applied through it, to its current conf */
  /* Makes what was admitted durable and calls DONE(ARG, rc) on the loop, exactly once, when it
   * is (possibly before returning). */
  void (*sync)(void *data, pw_inbox_synced_cb done, void *arg);
  void *data;
};

struct pw_inbox;

/* Creates the inbox of CTX->state_dir (CTX is copied). Returns 0 and *OUT, or -ENOMEM. */
int pw_inbox_init(const struct pw_inbox_context *ctx, struct pw_inbox **out);

/* Looks for requests (on the thread pool) unless a look is already running; found ones are
 * applied on the loop when it ends. */
void pw_inbox_poll(struct pw_inbox *ib);

/* No more looks; requests found by a look still running are refused ("stopping"). */
void pw_inbox_stop(struct pw_inbox *ib);

/* Frees the inbox. Call once the loop has ended (no work of it can be pending). Accepts NULL. */
void pw_inbox_free(struct pw_inbox *ib);

#endif
