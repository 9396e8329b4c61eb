/* hnsw.h - a Hierarchical Navigable Small World graph for approximate
 * k-nearest-neighbour search (Malkov & Yashunin), written for this engine.
 *
 * One writer at a time adds vectors (the caller serialises hnsw_add and
 * hnsw_delete); any number of readers search concurrently and never wait.
 * Storage is chunked (nodes never move, so a reader's pointers stay valid
 * while the index grows). A neighbour list is a count followed by slots:
 * the writer stores slots first and the count last, both with release
 * order; readers load with acquire. A list being re-pruned may be read half
 * old, half new: every slot in it is still a valid, fully written node, and
 * a search only needs valid slots, not a particular snapshot.
 *
 * Metrics: cosine (vectors normalised on insert, distance 1 - dot), L2
 * (squared), inner product (distance 1 - dot, vectors as given). Deleted
 * slots are tombstones: searches walk through them but never return them.
 */
#ifndef SUTRA_VECTOR_HNSW_H
#define SUTRA_VECTOR_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hnsw_metric { HNSW_COSINE = 0, HNSW_L2 = 1, HNSW_IP = 2 };

#define HNSW_MAX_LEVEL 15

struct hnsw_config {
	uint32_t dim;             /* 1..4096 */
	uint32_t M;               /* links per node on upper levels (2M on level 0), 2..128 */
	uint32_t ef_construction; /* candidate list while inserting, >= M */
	int metric;               /* enum hnsw_metric */
	uint64_t seed;            /* level generator */
};

struct hnsw_hit {
	uint32_t slot;
	float distance;
};

/* Accepts or rejects a slot during a search (filtered search). */
typedef bool (*hnsw_filter_fn)(void *ctx, uint32_t slot);

struct hnsw;

int hnsw_new(const struct hnsw_config *cfg, struct hnsw **out);
void hnsw_free(struct hnsw *h);

/* Writer: adds a vector under a caller key; *slot gets its slot. */
int hnsw_add(struct hnsw *h, const uint8_t key[16], const float *vec, uint32_t *slot);
/* Fills item i's key and vector; false skips it (bulk inserts). Called
 * from several threads at once. */
typedef bool (*hnsw_bulk_get)(void *ctx, size_t i, uint8_t key[16], float *vec);

#define HNSW_MAX_BULK_THREADS 64

/* Writer, bulk: adds items 0..n-1 from get on `threads` threads (the
 * caller's included). No other add and no search may run meanwhile; slots
 * follow no particular order. On failure the graph must be discarded. */
int hnsw_add_bulk(struct hnsw *h, size_t n, unsigned threads, hnsw_bulk_get get, void *ctx);
/* Writer: tombstones a slot. */
void hnsw_delete(struct hnsw *h, uint32_t slot);

/* Reader: the k nearest live slots accepted by filter (NULL: all), best
 * first, exploring max(ef, k) candidates. out has room for k; *n gets the
 * number found. A filtered search has a budget of distance evaluations, so
 * a rare predicate may find fewer than k: the caller falls back to exact. */
int hnsw_search(struct hnsw *h, const float *query, uint32_t k, uint32_t ef, hnsw_filter_fn filter,
                void *ctx, struct hnsw_hit *out, size_t *n);

/* Reader: the key stored with a slot; its vector (normalised for cosine). */
const uint8_t *hnsw_key(const struct hnsw *h, uint32_t slot);
const float *hnsw_vector(const struct hnsw *h, uint32_t slot);
bool hnsw_is_deleted(const struct hnsw *h, uint32_t slot);
uint32_t hnsw_count(const struct hnsw *h);   /* slots ever added */
uint32_t hnsw_deleted(const struct hnsw *h); /* slots tombstoned */
/* Is vec what the slot holds (as hnsw_add would have stored it)? */
bool hnsw_holds(const struct hnsw *h, uint32_t slot, const float *vec);
/* Distance between a query and a slot, in the index's metric. */
float hnsw_distance(const struct hnsw *h, const float *query, uint32_t slot);

/* ---- the index file (hnsw_file.c; format in its header) ---- */

struct hnsw_file_meta {
	uint64_t covered_lsn; /* every vector change below this LSN is in the graph */
	uint64_t graph_lsn;   /* nothing at or above this LSN is */
};

/* Writer (no hnsw_add running): writes the index to path through a
 * temporary file, fsync, rename and a directory fsync. */
int hnsw_save(const struct hnsw *h, const char *dir, const char *path,
              const struct hnsw_file_meta *m);
/* Maps a saved index whose configuration must equal cfg's dim, M and
 * metric; checks its header and bounds (SUTRA_ECORRUPT naming the damage).
 * The graph must pass hnsw_verify before it is searched or extended. */
int hnsw_open_file(const char *path, const struct hnsw_config *cfg, struct hnsw **out,
                   struct hnsw_file_meta *m);
/* Checksums and structure of an opened file (0 for a graph built in memory). */
int hnsw_verify(const struct hnsw *h, const char *path);

#endif
