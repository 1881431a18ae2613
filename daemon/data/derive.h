/*
 * derive: what the RRD files hold, derived from the journal: each as_of once, with its newest
 * (last journaled) revision and the expected value at that instant. Used by the daemon's
 * persist batches, by the CLI when it writes without a daemon, and by `pacewatch rebuild`.
 */
#ifndef PW_DERIVE_H
#define PW_DERIVE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "store.h"

/* The points of indicator IND with as_of > AFTER (0 for all), ascending. *OUT is owned (free
 * with free()); *N may be 0. When PREV is not NULL it receives the point at AFTER, and *HAS_PREV
 * says whether there was one. Samples whose as_of no RRD file can hold (outside PW_STORE_T_MIN
 * .. PW_STORE_T_MAX) are left out, with one warning naming the indicator. Returns 0 or -ENOMEM. */
int pw_derive_points(const struct pw_config *conf, const struct pw_journal *j, int ind,
                     int64_t after, struct pw_store_point **out, size_t *n,
                     struct pw_store_point *prev, int *has_prev);

/* Rebuilds the RRD file of every indicator in IND_MASK (NULL = all) from the journal,
 * synchronously. Returns the number of failures (each logged). */
int pw_derive_rebuild(const struct pw_config *conf, const struct pw_journal *j,
                      struct pw_store *store, const unsigned char *ind_mask);

#endif
