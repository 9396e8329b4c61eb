/* hnsw_impl.h - the HNSW index's memory layout, shared by the graph code
 * (hnsw.c) and its file format (hnsw_file.c). Nothing else includes it.
 *
 * Nodes live in chunks of 2^14 slots that never move. A chunk holds, per
 * slot, the vector (normalised for cosine, zero-padded to a multiple of 16
 * floats so that every vector starts on a cache line and the kernels run
 * without a scalar tail), the level-0 neighbour list
 * (count + 2M slots) and a 32-byte record. Upper-level lists live in a
 * pool of u32 words addressed by a 64-bit reference (pool chunk << 40 |
 * word offset), so the records hold no pointers: a saved index is mapped
 * back with its records and lists in place, and opening it costs the same
 * for 1,000 vectors as for 1,000,000.
 */
#ifndef SUTRA_VECTOR_HNSW_IMPL_H
#define SUTRA_VECTOR_HNSW_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vector/distance.h"
#include "vector/hnsw.h"

#define CHUNK_BITS       14
#define CHUNK            (1u << CHUNK_BITS)
#define MAX_CHUNKS       65536u
#define NO_ENTRY         UINT64_MAX
#define POOL_SHIFT       40
#define POOL_OFFSET_MASK ((1ull << POOL_SHIFT) - 1)
#define POOL_CHUNK_WORDS (1u << 20)
#define MAX_POOL         4096u

/* One slot's record; its byte layout is also the file's. */
struct node_info {
	uint8_t key[16];
	uint64_t upper; /* pool reference of levels 1..level, each 1 + M words */
	uint8_t level;  /* 0..HNSW_MAX_LEVEL */
	_Atomic uint8_t deleted;
	_Atomic uint8_t lock; /* inserters only; 0 on disk */
	uint8_t pad[5];
};
_Static_assert(sizeof(struct node_info) == 32, "node records are 32 bytes on disk");

struct chunk {
	float *vecs;          /* CHUNK * stride, 64-byte aligned */
	_Atomic uint32_t *l0; /* CHUNK * (1 + 2M) */
	struct node_info *info;
	bool mapped; /* the arrays point into the index file's mapping */
};

struct hnsw {
	struct hnsw_config cfg;
	const struct dist_kernels *k;
	uint32_t m0;              /* level-0 capacity, 2M */
	uint32_t stride;          /* floats per stored vector: dim rounded up to 16 */
	double ml;                /* level multiplier */
	_Atomic uint64_t rng;     /* the level generator */
	uint32_t added;           /* writer only: slots used */
	_Atomic uint32_t count;   /* slots published to readers */
	_Atomic uint32_t deleted; /* tombstones */
	_Atomic uint64_t entry;   /* level << 32 | slot, or NO_ENTRY */
	_Atomic(struct chunk *) chunks[MAX_CHUNKS];
	_Atomic(_Atomic uint32_t *) pool[MAX_POOL];
	uint64_t pool_cap[MAX_POOL], pool_used[MAX_POOL]; /* writer only */
	uint32_t pool_cur;                                /* writer only */
	pthread_mutex_t grow_mu;  /* chunk and pool growth (bulk inserters) */
	pthread_mutex_t entry_mu; /* a new top node linking in */
	bool pool_mapped;         /* pool chunk 0 is in the file */
	void *map;                /* the index file, MAP_PRIVATE */
	uint64_t map_size;
};

static inline uint32_t hnsw_stride(uint32_t dim)
{
	return (dim + 15) & ~15u;
}

struct chunk *hnsw_chunk(const struct hnsw *h, uint32_t slot);
_Atomic uint32_t *hnsw_upper(const struct hnsw *h, uint64_t ref);
int hnsw_chunk_add(struct hnsw *h, uint32_t index);

#endif
