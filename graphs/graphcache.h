/*
 * graphcache: the daemon's trend graphs, rendered on the thread pool and kept in memory per
 * indicator, format and size until the indicator changes (new stored data or a new verdict
 * invalidate it) or the configuration does. Readers (the status server, notifications) ask for
 * a graph and are called back on the loop, at once when the cached one is current.
 *
 * A render in flight holds a reference to the configuration generation it started under and a
 * copy of the store's location, so a reload never waits for it and never frees what it reads
 * (docs/architecture.md). Its result goes to the requests that waited for it; it is kept for
 * later requests only while that generation is still the current one. Loop thread only.
 */
#ifndef PW_GRAPHCACHE_H
#define PW_GRAPHCACHE_H

#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "judge.h"
#include "store.h"

struct pw_graphcache;

/* A graph is ready: DATA (LEN bytes, PNG or SVG) is the cache's and valid during the call only;
 * NULL when rendering failed (the reason is logged). The callback may ask for graphs or cancel
 * requests, but must not free the cache. */
typedef void (*pw_graphcache_ready_cb)(const unsigned char *data, size_t len, void *arg);

/* What the cache reads, all borrowed for its lifetime. */
struct pw_graphcache_ctx {
  uv_loop_t *loop;
  const struct pw_store *store; /* where the RRD files are; each render uses its own copy */
  /* The current configuration generation (a render takes its own reference). */
  struct pw_config *(*config)(void *data);
  /* The current verdict of indicator IND of that generation, or NULL (copied when a render
   * starts: the status colour, the projection). */
  const struct pw_verdict *(*verdict)(void *data, int ind);
  void *data; /* for CONFIG and VERDICT */
};

/* Creates a cache for CTX (copied). Returns 0 and *OUT (free with pw_graphcache_free), or
 * -ENOMEM. */
int pw_graphcache_init(const struct pw_graphcache_ctx *ctx, struct pw_graphcache **out);

/* Frees the cache. Renders still in flight finish on their own and drop their result; their
 * waiting requests are never called. Accepts NULL. */
void pw_graphcache_free(struct pw_graphcache *g);

/* Indicator IND (of the current generation) changed: its cached graphs are stale. */
void pw_graphcache_invalidate(struct pw_graphcache *g, int ind);

/* The configuration was swapped (a reload): every cached graph is dropped with the cache's
 * reference to the old generation. Renders in flight keep theirs until they end. The cache
 * also notices a new generation by itself at its next call. */
void pw_graphcache_reload(struct pw_graphcache *g);

/* Calls CB with the graph of indicator IND of the current generation (PNG, or SVG; the default
 * or the small size) on the loop: at once if the cached one is current, else once rendered.
 * Returns 0, or a negative errno (-EINVAL for an unknown index, -ENOMEM) and CB is never
 * called. */
int pw_graphcache_get(struct pw_graphcache *g, int ind, int svg, int small,
                      pw_graphcache_ready_cb cb, void *data);

/* Forgets every waiting request whose callback data is DATA (its reader went away). The render
 * goes on, and its result is cached for the next reader. */
void pw_graphcache_cancel(struct pw_graphcache *g, void *data);

#endif
