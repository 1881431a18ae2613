/*
 * writer: alerting's file operations (spool writes and removals, the audit log, alerts.json,
 * silences.json) on libuv's thread pool, one at a time in the order they were asked for. One
 * queue for every file keeps the order the spool's durability rests on (docs/alerts.md): the
 * alert states that decided a notification reach alerts.json before the notification reaches
 * the spool, and a batch leaves alerts.json's pending part only once the spool holds it. The
 * loop thread never waits for a disk.
 *
 * Every function runs on the loop thread; only WORK callbacks run on the thread pool.
 */
#ifndef PW_WRITER_H
#define PW_WRITER_H

#include <stddef.h>
#include <uv.h>

struct pw_writer;

/* Called on the loop when the operation reaches the front of the queue, just before its WORK
 * is handed to the thread pool: the place to take a snapshot of loop state. A negative errno
 * skips WORK (DONE gets that status). */
typedef int (*pw_writer_prepare_cb)(void *arg);
/* Runs on a thread-pool thread. It may touch only what ARG owns. */
typedef void (*pw_writer_work_cb)(void *arg);
/* Called on the loop once WORK has run (STATUS 0), or was skipped or could not be queued
 * (negative errno). */
typedef void (*pw_writer_done_cb)(void *arg, int status);

/* Creates a writer on LOOP. Returns 0 and *OUT (owned; free with pw_writer_free), or -ENOMEM. */
int pw_writer_init(uv_loop_t *loop, struct pw_writer **out);

/* Queues one operation behind every operation queued before it. PREPARE (may be NULL), WORK and
 * DONE (may be NULL) are called once each as described above, never from within this call
 * except PREPARE; ARG is passed to each. Returns 0, or a negative errno (-ENOMEM, or the thread
 * pool's refusal) and then none of the callbacks is called again. */
int pw_writer_push(struct pw_writer *w, pw_writer_prepare_cb prepare, pw_writer_work_cb work,
                   pw_writer_done_cb done, void *arg);

/* Operations queued or running. */
size_t pw_writer_pending(const struct pw_writer *w);

/* Frees W. Only when no operation is pending (after the loop has run dry); accepts NULL. */
void pw_writer_free(struct pw_writer *w);

#endif
