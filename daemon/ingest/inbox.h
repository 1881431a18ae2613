/*
 * inbox: how `pacewatch import|record|rebuild` hand their work to a running daemon, which is
 * the only writer of the state directory while it runs. The CLI validates everything itself,
 * then renames a request file (JSON) into STATE_DIR/inbox/; the daemon takes it within a
 * second, checks it as strictly as any input from outside (the source name printable and
 * bounded, every number in range, every row by the rules of admission: all rows or none, the
 * reply naming the row and field at fault), admits its samples through the same admission as a
 * poll (admit.h), and writes NAME.reply once they are durable. The CLI waits for the reply.
 *
 * Listing the directory, reading, parsing, checking and removing requests, and writing replies
 * run on libuv's thread pool; the requests are applied on the loop, one at a time, the rows of
 * an import in slices of a few thousand (one per turn of the loop, each touched indicator judged
 * once per slice), so a request of 300,000 rows does not stall the loop.
 */
#ifndef PW_INBOX_H
#define PW_INBOX_H

#include <uv.h>

#include "admit.h"

/* The longest source name a request may give (bytes). */
#define PW_INBOX_SOURCE_MAX 64

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

/* Looks for requests (on the thread pool) unless a look is running or requests it found are
 * still being applied; found ones are applied on the loop when it ends. A look holds a reference
 * on CTX->admit->conf, the generation its requests are checked against. */
void pw_inbox_poll(struct pw_inbox *ib);

/* No more looks. An import under way is admitted to its end now (all rows or none); requests
 * not yet started, and those a look still running finds, are refused ("stopping"). */
void pw_inbox_stop(struct pw_inbox *ib);

/* Frees the inbox. Call once the loop has ended (no work of it can be pending; an import under
 * way keeps the loop running until its rows are in, or pw_inbox_stop finishes it). Accepts
 * NULL. */
void pw_inbox_free(struct pw_inbox *ib);

#endif
