/* vindex_impl.h - the vector index's state, shared by the search and writer
 * side (vindex.c) and the indexer thread (vindex_build.c). */
#ifndef SUTRA_VECTOR_VINDEX_IMPL_H
#define SUTRA_VECTOR_VINDEX_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vector/hnsw.h"
#include "shard/shard.h"
#include "vector/vindex.h"

#define EXACT_WINDOW           2048 /* beyond this many pending ids an exact scan is cheaper */
#define VINDEX_SEED            0x51f7a
#define VINDEX_MAX_FAILURES    8
#define COMPACT_MIN_TOMBSTONES 1024

struct dlog {
	uint64_t base;
	uint32_t cap;
	_Atomic uint64_t count; /* absolute position of the next entry */
	uint8_t ids[][16];
};

/* id -> slot of its current vector in the graph (indexer thread only). */
struct slot_map {
	struct {
		uint8_t id[16];
		uint32_t slot; /* UINT32_MAX: empty; UINT32_MAX - 1: removed */
	} * e;
	size_t mask, used;
};

/* A checkpoint's request to save the graph once it covers the log up to
 * mark (mu held to read or write). */
struct save_request {
	uint64_t lsn, mark;
	int rc;
	bool pending, done;
	char msg[256]; /* the error, when rc < 0 */
};

struct vindex {
	struct store *store;
	struct vindex_config cfg;
	char *dir;
	_Atomic(struct hnsw *) graph;
	int failures;             /* builds that ran out of memory */
	bool broken;              /* building failed VINDEX_MAX_FAILURES times: no graph */
	bool loaded;              /* the graph came from a file: verify it first */
	uint64_t loaded_lsn;      /* the checkpoint LSN of the loaded file */
	uint64_t open_us;         /* mapping and checking the file */
	_Atomic uint64_t adopted; /* the loaded graph verified and serves */
	_Atomic uint64_t compactions;
	_Atomic(struct dlog *) log;
	_Atomic uint64_t done; /* log entries before this are in the graph */
	_Atomic int built;     /* the graph is verified or fully built */
	struct slot_map map;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake, caught_up, saved;
	struct save_request save;
	_Atomic bool stop;
	_Atomic int idle; /* the indexer is (about to be) waiting for work */
	uint8_t *scratch; /* one vector, indexer thread */
};

static inline struct hnsw *vindex_graph(struct vindex *v)
{
	return atomic_load_explicit(&v->graph, memory_order_acquire);
}

/* The indexer thread's body (vindex_build.c). */
void *vindex_indexer_main(void *arg);
void vindex_timed_wait(pthread_cond_t *c, pthread_mutex_t *m, long ms);
int vindex_map_grow(struct slot_map *m);

/* Whether the index takes this concept (its shard's, or every one). */
static inline bool vindex_owns(const struct vindex *v, const uint8_t id[16])
{
	return v->cfg.nshards == 0 || shard_of(id, v->cfg.nshards) == v->cfg.shard;
}

#endif
