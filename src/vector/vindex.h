/* vindex.h - the store's vector index: HNSW kept up to date in the
 * background, with an exact "delta" so that a vector is searchable as soon
 * as its write is acknowledged.
 *
 * The writer (under the engine's writer lock) appends the id of every
 * concept whose vector appears, changes or disappears to the delta log.
 * The indexer thread takes ids from the log in order, reads the concept's
 * current version and adds it to the HNSW graph (tombstoning the id's
 * previous slot), then advances `done`. A search reads `done` first, then:
 *  - asks the graph for k + |window| results, where window = the log
 *    entries from `done` on (ids the graph may have stale or missing);
 *  - drops graph results whose id is in the window;
 *  - scores every id of the window exactly from the store;
 *  - merges the two by similarity.
 * Ids the indexer has processed are exact in the graph (modulo HNSW's
 * approximation), ids it has not are exact from the store: a search never
 * returns a deleted concept or a stale vector. While the graph is first
 * built at open, or when the window is large, the search is an exact scan.
 */
#ifndef SUTRA_VECTOR_VINDEX_H
#define SUTRA_VECTOR_VINDEX_H

#include <stdint.h>

#include "sutra/sutra.h"

struct vindex;
struct store;
struct vfilter;

struct vindex_config {
	uint32_t dim, M, ef_construction;
};

/* Starts the indexer, which first indexes every vector in s. */
int vindex_open(struct store *s, const struct vindex_config *cfg, struct vindex **out);
/* Stops the indexer and frees the index (no search may be running). */
void vindex_close(struct vindex *v);
/* Writer lock held, before logging: room for n notes, so that noting can
 * never fail after the write is logged. */
int vindex_reserve(struct vindex *v, uint64_t n);
/* Writer lock held: the concept's vector may have changed (room reserved). */
void vindex_note(struct vindex *v, const uint8_t id[16]);
/* Any thread, inside an epoch: see sutra_vector_search; f (NULL: none)
 * restricts the results. A filtered search may find fewer than k. */
int vindex_search(struct vindex *v, const float *q, uint32_t k, uint32_t ef,
                  const struct vfilter *f, sutra_hit *out, size_t *n);
/* Vectors in the graph and log entries not yet indexed. */
void vindex_figures(struct vindex *v, uint64_t *indexed, uint64_t *lag);
/* Blocks until the indexer has caught up (tests, checkpoints). */
void vindex_wait(struct vindex *v);

/* Exact search over the store (the floor every index is measured against),
 * restricted to what f accepts (NULL: everything). */
int vector_exact_search(struct store *s, const float *q, uint32_t dim, uint32_t k,
                        const struct vfilter *f, sutra_hit *out, size_t *n);

#endif
