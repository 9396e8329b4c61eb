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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"

struct vindex;
struct store;
struct vfilter;

struct idset;

struct vindex_config {
	uint32_t dim, M, ef_construction;
	int metric;                      /* SUTRA_METRIC_* */
	uint32_t shard, nshards;         /* indexes the concepts of this shard (nshards 0: all) */
	const char *dir;                 /* the directory its index files live in */
	uint64_t checkpoint_lsn;         /* recovery started from this checkpoint (0: none) */
	uint64_t next_lsn;               /* and ended here */
	const struct idset *replayed;    /* concepts the WAL replay touched (open only) */
	int (*sync_log)(void *arg);      /* makes every logged record durable */
	uint64_t (*log_next)(void *arg); /* the LSN the log assigns next */
	void *arg;
};

/* Opens the graph saved with the checkpoint (checked, then verified by the
 * indexer before any search uses it; a missing, stale or damaged file is
 * rebuilt from the store) and starts the indexer. Until the graph is ready
 * searches are exact. */
int vindex_open(struct store *s, const struct vindex_config *cfg, struct vindex **out);
/* The path of the index file saved with checkpoint lsn. */
void vindex_path(const char *dir, uint64_t lsn, char *out, size_t n);
/* Writer lock held: the log position a checkpoint at this moment covers. */
uint64_t vindex_mark(struct vindex *v);
/* Saves the graph as the index file of checkpoint lsn once the log up to
 * mark is indexed (blocks until then). SUTRA_EBUSY while the first build
 * runs (no file: the next open rebuilds). */
int vindex_save(struct vindex *v, uint64_t lsn, uint64_t mark);
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
/* The index's figures in sutra_stats (vectors_indexed, index_*). */
void vindex_figures(struct vindex *v, sutra_stats *s);
/* True once the graph serves searches (before: exact scans). */
bool vindex_built(struct vindex *v);
/* Blocks until the indexer has caught up (tests, checkpoints). */
void vindex_wait(struct vindex *v);

/* Exact search over the store (the floor every index is measured against),
 * restricted to what f accepts (NULL: everything). */
int vector_exact_search(struct store *s, int metric, const float *q, uint32_t dim, uint32_t k,
                        const struct vfilter *f, sutra_hit *out, size_t *n);
/* A hit's similarity in metric (SUTRA_METRIC_*): cosine similarity, the dot
 * product, or minus the squared Euclidean distance; qn is |q|. */
float vector_score(int metric, const float *q, float qn, const float *v, uint32_t dim);
float vector_query_norm(const float *q, uint32_t dim);
/* qsort order of hits: most similar first, ties by id. */
int vector_hit_order(const void *a, const void *b);

#endif
