/* table.c - the concept hash table: single writer, lock-free readers.
 *
 * Open addressing with linear probing. A slot is 0 (empty), 1 (tombstone)
 * or a node pointer with 16 bits of its hash in the top bits. The writer
 * keeps nodes + tombstones under 3/4 of the capacity by rebuilding into a
 * new table (twice the live count, at least 64 slots), which it publishes
 * with a release store; the old table is retired, never modified again.
 */
#include "store/store.h"

#include <string.h>

#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

#define SLOT_EMPTY 0
#define SLOT_TOMB  1
#define PTR_MASK   0x0000ffffffffffffULL
#define MIN_CAP    64

static uint64_t id_hash(const uint8_t id[16])
{
	uint64_t h = ld64(id) * 0x9e3779b97f4a7c15ULL ^ ld64(id + 8) * 0xc2b2ae3d27d4eb4fULL;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uintptr_t slot_value(struct node *n, uint64_t h)
{
	return (uintptr_t)n | (uintptr_t)((h >> 48) << 48);
}

static struct table *table_new(size_t cap)
{
	struct table *t = sutra_calloc(1, sizeof(*t) + cap * sizeof(t->slots[0]));

	if (t)
		t->mask = cap - 1;
	return t;
}

int store_init(struct store *s)
{
	memset(s, 0, sizeof *s);
	struct table *t = table_new(MIN_CAP);
	if (!t)
		return err_set(SUTRA_ENOMEM, "out of memory for the concept table");
	atomic_store(&s->tab, t);
	return 0;
}

static void node_free(struct node *n)
{
	sutra_free(atomic_load_explicit(&n->adj[ADJ_OUT], memory_order_relaxed));
	sutra_free(atomic_load_explicit(&n->adj[ADJ_IN], memory_order_relaxed));
	sutra_free(n);
}

int store_count_shards(struct store *s, uint32_t nshards)
{
	if (!(s->per_shard = sutra_calloc(nshards, sizeof *s->per_shard)))
		return err_set(SUTRA_ENOMEM, "out of memory for %u shards' counts", nshards);
	s->nshards = nshards;
	return 0;
}

void store_destroy(struct store *s)
{
	struct table *t = atomic_load(&s->tab);

	sutra_free(s->per_shard);
	s->per_shard = NULL;
	epoch_bin_drain(&s->bin);
	for (uint32_t c = 0; c < NUM_CHUNKS && atomic_load(&s->bynum[c]); c++)
		sutra_free(atomic_load(&s->bynum[c]));
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		struct node *n = table_node(t, i);
		if (n)
			node_free(n);
	}
	sutra_free(t);
	atomic_store(&s->tab, NULL);
}

/* Index of the slot holding id, or of the empty slot ending its probe. */
static size_t probe(struct table *t, const uint8_t id[16], uint64_t h, struct node **found)
{
	uintptr_t tag = (uintptr_t)((h >> 48) << 48);

	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uintptr_t v = atomic_load_explicit(&t->slots[i], memory_order_acquire);
		if (v == SLOT_EMPTY) {
			*found = NULL;
			return i;
		}
		if (v == SLOT_TOMB || (v & ~PTR_MASK) != tag)
			continue;
		struct node *n = (struct node *)(v & PTR_MASK);
		if (memcmp(n->id, id, 16) == 0) {
			*found = n;
			return i;
		}
	}
}

struct node *store_find(struct store *s, const uint8_t id[16])
{
	struct node *n;

	probe(atomic_load_explicit(&s->tab, memory_order_acquire), id, id_hash(id), &n);
	return n;
}

void store_prefetch(struct store *s, const uint8_t id[16])
{
	struct table *t = atomic_load_explicit(&s->tab, memory_order_acquire);

	__builtin_prefetch(&t->slots[id_hash(id) & t->mask]);
}

struct node *store_peek(struct store *s, const uint8_t id[16])
{
	struct table *t = atomic_load_explicit(&s->tab, memory_order_acquire);
	uint64_t h = id_hash(id);
	uintptr_t v = atomic_load_explicit(&t->slots[h & t->mask], memory_order_acquire);

	if (v <= SLOT_TOMB || (v & ~PTR_MASK) != (uintptr_t)((h >> 48) << 48))
		return NULL;
	return (struct node *)(v & PTR_MASK);
}

static int table_rebuild(struct store *s, size_t extra)
{
	struct table *old = atomic_load_explicit(&s->tab, memory_order_relaxed);
	size_t cap = MIN_CAP;

	while (cap < (s->live + extra) * 2)
		cap *= 2;
	struct table *t = table_new(cap);
	if (!t)
		return err_set(SUTRA_ENOMEM, "out of memory growing the concept table to %zu", cap);
	for (size_t i = 0; i <= old->mask; i++) {
		struct node *n = table_node(old, i), *dummy;
		if (!n)
			continue;
		uint64_t h = id_hash(n->id);
		size_t j = probe(t, n->id, h, &dummy);
		atomic_store_explicit(&t->slots[j], slot_value(n, h), memory_order_relaxed);
	}
	atomic_store_explicit(&s->tab, t, memory_order_release);
	epoch_retire(&s->bin, old);
	s->used = s->live;
	return 0;
}

int store_put(struct store *s, struct node *n)
{
	uint64_t h = id_hash(n->id);
	struct table *t = atomic_load_explicit(&s->tab, memory_order_relaxed);
	struct node *old;
	size_t i = probe(t, n->id, h, &old);

	if (old) {
		atomic_store_explicit(&t->slots[i], slot_value(n, h), memory_order_release);
		epoch_retire(&s->bin, old);
		return 0;
	}
	if ((s->used + 1) * 4 > (t->mask + 1) * 3) {
		int rc = table_rebuild(s, 1);
		if (rc < 0)
			return rc;
		t = atomic_load_explicit(&s->tab, memory_order_relaxed);
		i = probe(t, n->id, h, &old);
	}
	/* Reuse a tombstone on the probe path when there is one. */
	for (size_t j = h & t->mask; j != i; j = (j + 1) & t->mask) {
		if (atomic_load_explicit(&t->slots[j], memory_order_relaxed) == SLOT_TOMB) {
			i = j;
			s->used--;
			break;
		}
	}
	atomic_store_explicit(&t->slots[i], slot_value(n, h), memory_order_release);
	s->live++;
	s->used++;
	return 0;
}

/* Makes sure numbers nums .. nums + extra - 1 have their chunks. */
static int num_reserve(struct store *s, size_t extra)
{
	uint64_t last = (uint64_t)atomic_load_explicit(&s->nums, memory_order_relaxed) + extra;

	if (last > (uint64_t)NUM_CHUNKS << NUM_CHUNK_BITS)
		return err_set(SUTRA_ETOOBIG, "more than %llu concepts created in one process",
		               (unsigned long long)NUM_CHUNKS << NUM_CHUNK_BITS);
	for (uint64_t c = 0; extra && c <= (last - 1) >> NUM_CHUNK_BITS; c++) {
		if (atomic_load_explicit(&s->bynum[c], memory_order_relaxed))
			continue;
		_Atomic(struct node *) *chunk = sutra_calloc(1u << NUM_CHUNK_BITS, sizeof *chunk);
		if (!chunk)
			return err_set(SUTRA_ENOMEM, "out of memory numbering concepts");
		atomic_store_explicit(&s->bynum[c], chunk, memory_order_release);
	}
	return 0;
}

int store_reserve(struct store *s, size_t extra)
{
	struct table *t = atomic_load_explicit(&s->tab, memory_order_relaxed);
	int rc = num_reserve(s, extra);

	if (rc < 0 || (s->used + extra) * 4 <= (t->mask + 1) * 3)
		return rc;
	return table_rebuild(s, extra);
}

static _Atomic(struct node *) *num_slot(struct store *s, uint32_t num)
{
	_Atomic(struct node *) *c =
	    atomic_load_explicit(&s->bynum[num >> NUM_CHUNK_BITS], memory_order_relaxed);
	return &c[num & ((1u << NUM_CHUNK_BITS) - 1)];
}

void num_assign(struct store *s, struct node *n, const struct node *old)
{
	n->num = old ? old->num : atomic_load_explicit(&s->nums, memory_order_relaxed);
	atomic_store_explicit(num_slot(s, n->num), n, memory_order_release);
	if (!old) /* published after its slot is set */
		atomic_store_explicit(&s->nums, n->num + 1, memory_order_release);
}

void num_undo(struct store *s, const struct node *n, struct node *old)
{
	atomic_store_explicit(num_slot(s, n->num), old, memory_order_release);
}

void num_clear(struct store *s, const struct node *n)
{
	atomic_store_explicit(num_slot(s, n->num), NULL, memory_order_release);
}

void store_unlink(struct store *s, struct node *n)
{
	struct table *t = atomic_load_explicit(&s->tab, memory_order_relaxed);
	struct node *found;
	size_t i = probe(t, n->id, id_hash(n->id), &found);

	if (found != n)
		return;
	atomic_store_explicit(&t->slots[i], SLOT_TOMB, memory_order_release);
	s->live--;
}
