/*
 * store: one RRD file per indicator (state_dir/rrd/<id>.rrd) with two GAUGE data sources,
 * `value` and `expected`, at RRD timestamps equal to the samples' as_of. Derived from the
 * journal and rebuildable from it. Writes go either directly through librrd or, when
 * daemon.rrdcached is set, only through rrdcached (never both: mixing loses data).
 *
 * Every function here does blocking file I/O: call them from a worker thread (uv_queue_work)
 * in the daemon, or directly in the CLI. They follow the locking rule below and clear librrd's
 * per-thread error before each call.
 *
 * THE RRD LOCKING RULE, for every librrd caller of the process (this store, derive and persist
 * through it, graph rendering, the CLI's graph and rebuild commands through the same functions):
 *
 *   Every librrd call that opens an existing RRD file or talks to rrdcached runs with the store
 *   lock held (pw_store_lock / pw_store_unlock), readers (rrd_graph_v, rrd_last) and writers
 *   (rrd_update, rrdc_*, a rebuild's replace) alike, for the whole of an operation that must not
 *   interleave (read the last update then write; flush, forget, then replace). The one librrd
 *   call made without it is rrd_create of a file under a name no other thread can open yet (a
 *   new indicator's first file, a rebuild's temporary file, a graph's placeholder), which
 *   appears under its final name only by rename.
 *
 * Why this is enough. librrd's own locks are fcntl locks, which belong to the process: they keep
 * another process out (the CLI drawing while the daemon writes sees "could not lock RRD" and
 * retries), but two threads of one process pass each other. Inside the process the store lock
 * is therefore what keeps a reader from reading a file in the middle of an in-place rrd_update
 * (a torn read: a new last-update time with old rows, or half a row), and what keeps a reader's
 * close() from dropping the writer's fcntl lock (closing any descriptor of a file drops the
 * process's lock on it) and so letting another process in. A rebuild renames a complete file
 * over the old one, so whoever opens the path gets one of the two whole; a file being created
 * cannot be opened by anybody before its rename. librrd's rrdcached connection is one per
 * process and is dropped and reopened on failure: under the lock no thread drops it while
 * another uses it. Finally rrd_graph_v must not run on two threads at once (librrd 1.7.2 shares
 * one Pango font map), so the lock also serialises renders. The price is that an append waits
 * for a render in progress (some 25 ms); neither runs on the loop thread.
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stddef.h>
#include <stdint.h>

/* One point to write: the sample's as_of, its value and the expected value E(as_of)
 * (NAN when there is none, e.g. no target). */
struct pw_store_point {
  int64_t t;
  double value;
  double expected;
};

struct pw_store_lastmap;

struct pw_store {
  char *dir;       /* state_dir/rrd */
  char *rrdcached; /* NULL or "unix:/path" / "host:port" */
  /* The last update time of each file this process wrote, so that an append does not ask the
   * file (through rrdcached, that means a flush, which defeats the cache). */
  struct pw_store_lastmap *lastmap;
  int reader; /* a copy made by pw_store_dup: it shares librrd's rrdcached connection */
};

/* Prepares a store under STATE_DIR (creating STATE_DIR/rrd). RRDCACHED may be NULL or "".
 * Returns 0 and fills S (free with pw_store_free), or a negative errno with ERR set. */
int pw_store_init(struct pw_store *s, const char *state_dir, const char *rrdcached, char *err,
                  size_t errlen);

/* Frees what S owns. Accepts NULL. */
void pw_store_free(struct pw_store *s);

/* Makes DST a reader's handle on the same files as SRC (its directory and rrdcached), which
 * stays valid when SRC is freed or re-made (a reload that changes daemon.rrdcached while a
 * render runs on the thread pool). It does not share SRC's memory of last updates; freeing it
 * leaves librrd's rrdcached connection open. Returns 0 or -ENOMEM; free with pw_store_free.
 * Any thread. */
int pw_store_dup(struct pw_store *dst, const struct pw_store *src);

/* The path of indicator ID's RRD file into BUF. Returns BUF. */
char *pw_store_path(const struct pw_store *s, const char *id, char *buf, size_t size);

/* Appends N points (ascending t, all later than the file's last update) to ID's file,
 * creating it first if needed so that the first point fits. PREV, when not NULL, is the point
 * stored just before these (so that a value holds until the next report: the previous value is
 * written again one step before a new one). Returns 0 or a negative errno with ERR set. */
int pw_store_append(struct pw_store *s, const char *id, const struct pw_store_point *prev,
                    const struct pw_store_point *pts, size_t n, char *err, size_t errlen);

/* Replaces ID's file by one holding exactly the N points (ascending t), e.g. after a revision.
 * N may be 0 (the file is removed). Returns 0 or a negative errno with ERR set. */
int pw_store_rebuild(struct pw_store *s, const char *id, const struct pw_store_point *pts, size_t n,
                     char *err, size_t errlen);

/* Makes every queued rrdcached update of ID reach the file (no-op without rrdcached). */
int pw_store_flush(struct pw_store *s, const char *id, char *err, size_t errlen);

/* The t of the latest point in ID's file into *LAST (with rrdcached, after flushing what it
 * queued). Returns 0, -ENOENT when the file does not exist, or another negative errno; ERR is
 * set in both failure cases. */
int pw_store_last(struct pw_store *s, const char *id, int64_t *last, char *err, size_t errlen);

/* Take and release the store lock of the RRD locking rule above (one for the process, since
 * librrd's file locks are per process). Not recursive: a function of this module must not be
 * called with it held. Any thread. */
void pw_store_lock(void);
void pw_store_unlock(void);

/* The number of threads waiting for the store lock right now (tests observe a caller blocked
 * by it). Any thread. */
int pw_store_lock_waiting(void);

/* The step (3600 s) and heartbeat (400 days) of every file. */
#define PW_STORE_STEP 3600
#define PW_STORE_HEARTBEAT (400 * 86400)

#endif
