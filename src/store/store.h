/* store.h - the in-memory state of a store: concepts in a hash table,
 * associations in per-concept adjacency arrays.
 *
 * Concurrency: one writer at a time (the engine's writer lock) and any
 * number of lock-free readers inside epoch_enter()/epoch_exit().
 *  - A node (one concept version) is immutable once published. An update
 *    publishes a new node in the same table slot and retires the old one;
 *    both share the adjacency arrays, which belong to the concept.
 *  - An adjacency array is append-only: the writer fills e[count] and then
 *    publishes count with a release store; readers load count with acquire
 *    and read e[0..count). Confidence and the dead flag of an entry are
 *    atomics updated in place, so a delete needs no allocation and can never
 *    fail half way. A full array is replaced by a compacted, larger copy.
 *  - The table is open addressing with linear probing over atomic slots; a
 *    slot holds a node pointer tagged with 16 hash bits (upper bits of the
 *    x86-64 user address), so most misses never touch the node. Growth
 *    builds a new table and publishes it; readers on the old table still see
 *    a consistent (older) state.
 * Retired memory is freed through the store's epoch bin.
 */
#ifndef SUTRA_STORE_STORE_H
#define SUTRA_STORE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/op.h"
#include "util/epoch.h"

#define EDGE_DEAD      0x100u
#define EDGE_TYPE_MASK 0xffu

struct edge {
	uint8_t id[16];         /* the other endpoint */
	_Atomic uint32_t conf;  /* float bits */
	_Atomic uint32_t state; /* type | EDGE_DEAD */
	_Atomic uint32_t num;   /* the other endpoint's number (see struct store) */
};

struct adj {
	uint32_t cap;
	uint32_t dead;          /* writer only */
	_Atomic uint32_t count; /* entries published */
	_Atomic uint32_t live;  /* entries not dead */
	struct edge e[];
};

enum { ADJ_OUT = 0, ADJ_IN = 1 };

struct node {
	uint8_t id[16];
	uint32_t num; /* dense number, kept while the id exists (see struct store) */
	uint64_t created_us, updated_us;
	float strength, confidence;
	uint32_t content_len, meta_len, dim, meta_count;
	const char *content; /* NUL-terminated; inline or in a checkpoint mapping */
	const float *vec;
	const uint8_t *meta;
	_Atomic(struct adj *) adj[2]; /* ADJ_OUT, ADJ_IN */
	_Atomic uint32_t degree[2];   /* live entries, kept here so a get need not
	                                 touch the arrays */
	/* inline vector, metadata and content follow when not mapped */
};

struct table {
	size_t mask; /* capacity - 1 (a power of two) */
	_Atomic uintptr_t slots[];
};

struct store_counts {
	_Atomic uint64_t concepts, associations, vectors;
	_Atomic uint64_t content_bytes, vector_bytes, meta_bytes;
};

/* A sharded store's counts per shard (associations by their source's). */
struct shard_counts {
	_Atomic uint64_t concepts, associations, vectors;
};

/* Every concept has a dense number, given when its id first appears and
 * kept while the id exists (a replacement inherits it); numbers are never
 * reused in a process, so an association entry can carry the other
 * endpoint's number and a graph walk reaches a neighbour with one array
 * load instead of a hash lookup (a deleted concept's slot reads NULL).
 * The numbers live in memory only: a reopened store numbers afresh. */
#define NUM_CHUNK_BITS 16
#define NUM_CHUNKS     65536u

struct store {
	_Atomic(struct table *) tab;
	_Atomic(_Atomic(struct node *) *) bynum[NUM_CHUNKS];
	_Atomic uint32_t nums; /* numbers given so far */
	size_t live, used;     /* writer only: nodes, nodes + tombstones */
	struct epoch_bin bin;
	struct store_counts n;
	uint32_t nshards;               /* 0: not sharded */
	struct shard_counts *per_shard; /* nshards entries */
	uint64_t skipped_ops;           /* replay ops skipped (endpoint already gone) */
};

int store_init(struct store *s);
/* Keeps counts per shard from now on (before anything is applied). */
int store_count_shards(struct store *s, uint32_t nshards);
/* Frees everything; no reader may be inside the store. */
void store_destroy(struct store *s);

/* Reader or writer: the node with this id, or NULL. Readers must be inside
 * an epoch; the node is borrowed until epoch_exit(). */
struct node *store_find(struct store *s, const uint8_t id[16]);
/* Reader: the node with this number (NULL: deleted, or num out of range). */
static inline struct node *store_by_num(struct store *s, uint32_t num)
{
	if (num >= atomic_load_explicit(&s->nums, memory_order_acquire))
		return NULL;
	_Atomic(struct node *) *c =
	    atomic_load_explicit(&s->bynum[num >> NUM_CHUNK_BITS], memory_order_acquire);
	return atomic_load_explicit(&c[num & ((1u << NUM_CHUNK_BITS) - 1)], memory_order_acquire);
}
/* Readers walking many ids (graph queries) hide the misses of store_find
 * by asking early: store_prefetch fetches the id's first table slot;
 * store_peek, a little later, returns the node that slot probably holds
 * (unverified: only to prefetch it). Inside an epoch. */
void store_prefetch(struct store *s, const uint8_t id[16]);
struct node *store_peek(struct store *s, const uint8_t id[16]);
/* Iteration over a table snapshot: returns the node in slot i or NULL. */
static inline struct node *table_node(struct table *t, size_t i)
{
	uintptr_t v = atomic_load_explicit(&t->slots[i], memory_order_acquire);

	return v > 1 ? (struct node *)(v & 0x0000ffffffffffffULL) : NULL;
}

/* Readers: the published entries of a node's array (0 when it has none). */
static inline uint32_t adj_count(struct adj **a, const struct node *n, int dir)
{
	*a = atomic_load_explicit(&((struct node *)n)->adj[dir], memory_order_acquire);
	return *a ? atomic_load_explicit(&(*a)->count, memory_order_acquire) : 0;
}

/* Readers: entry i if it is live, with its type and confidence. */
static inline bool edge_live(struct adj *a, uint32_t i, unsigned *type, float *conf)
{
	uint32_t st = atomic_load_explicit(&a->e[i].state, memory_order_acquire);
	uint32_t cb = atomic_load_explicit(&a->e[i].conf, memory_order_relaxed);

	if (st & EDGE_DEAD)
		return false;
	*type = st & EDGE_TYPE_MASK;
	memcpy(conf, &cb, sizeof cb);
	return true;
}

/* Writer: inserts or replaces the node (the old one is retired). */
int store_put(struct store *s, struct node *n);
/* Writer: removes the node from the table (the caller retires it). */
void store_unlink(struct store *s, struct node *n);

/* Writer: the adjacency operations (see the file comment). */
int adj_upsert(struct store *s, struct node *n, int dir, const struct node *other, unsigned type,
               float conf, bool *added);
/* Makes room for one more entry without changing what readers see. */
int adj_reserve(struct store *s, struct node *n, int dir);
/* Marks entries to other (of type, or every type when type < 0) dead;
 * returns how many. */
unsigned adj_kill(struct node *n, int dir, const uint8_t other[16], int type);
bool adj_has(struct node *n, int dir, const uint8_t other[16], unsigned type);

/* Writer: makes room in the table for extra more concepts, so that the
 * next extra store_put calls cannot fail. */
int store_reserve(struct store *s, size_t extra);
/* Writer, before store_put: gives n its number (old's, when n replaces
 * it) and publishes it; num_undo takes that back if the put fails;
 * num_clear unpublishes a deleted concept's. */
void num_assign(struct store *s, struct node *n, const struct node *old);
void num_undo(struct store *s, const struct node *n, struct node *old);
void num_clear(struct store *s, const struct node *n);
/* A new, unpublished node holding the learn op's concept (NULL: no memory).
 * Free it with sutra_free if it is not applied. */
struct node *node_new(const struct op *o, bool mapped);
/* Writer: publishes a node made by node_new (replacing the concept's
 * previous version, whose associations it keeps). */
int store_apply_node(struct store *s, struct node *n);

/* Writer: applies one decoded op. mapped: content/vector/metadata of a
 * learn op stay where they are (a checkpoint mapping) instead of being
 * copied. replay: an op whose concept or association is already gone is
 * skipped (counted) instead of failing. */
int store_apply(struct store *s, const struct op *o, bool mapped, bool replay);

/* Concept fields as a public view (borrowed like the node). */
void node_view(const struct node *n, sutra_concept *out);

#endif
