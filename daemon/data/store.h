/*
 * store: one RRD file per indicator (state_dir/rrd/<id>.rrd) with two GAUGE data sources,
 * `value` and `expected`, at RRD timestamps equal to the samples' as_of. Derived from the
 * journal and rebuildable from it. Writes go either directly through librrd or, when
 * daemon.rrdcached is set, only through rrdcached (never both: mixing loses data).
 *
 * Every function here does blocking file I/O: call them from a worker thread (uv_queue_work)
 * in the daemon, or directly in the CLI. They serialise all librrd calls of the process behind
 * one mutex, and clear librrd's per-thread error before each call.
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
};

/* Prepares a store under STATE_DIR (creating STATE_DIR/rrd). RRDCACHED may be NULL or "".
 * Returns 0 and fills S (free with pw_store_free), or a negative errno with ERR set. */
int pw_store_init(struct pw_store *s, const char *state_dir, const char *rrdcached, char *err,
                  size_t errlen);

/* Frees what S owns. */
void pw_store_free(struct pw_store *s);

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

/* The step (3600 s) and heartbeat (400 days) of every file. */
#define PW_STORE_STEP 3600
#define PW_STORE_HEARTBEAT (400 * 86400)

#endif
