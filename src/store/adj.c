/* adj.c - per-concept adjacency arrays (association endpoints).
 *
 * Each concept has an outgoing and an incoming array; an association
 * (source, target, type) lives in source's OUT array and target's IN array.
 * Entries are appended and published by a release store of count; removal
 * only sets EDGE_DEAD, so it needs no memory. When an array is full the
 * writer publishes a compacted copy with room to grow (live entries * 2,
 * at least 4) and retires the old one.
 *
 * Finding an existing entry is a linear scan of the source's array: the
 * cost of an upsert grows with the degree of the source, which is fine for
 * knowledge graphs (WordNet's mean degree is under 3) and is the known limit
 * for hub concepts with very many associations of their own.
 */
#include <string.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/err.h"

static uint32_t f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static struct edge *adj_find(struct adj *a, const uint8_t other[16], unsigned type)
{
	uint32_t n = a ? atomic_load_explicit(&a->count, memory_order_relaxed) : 0;

	for (uint32_t i = 0; i < n; i++) {
		struct edge *e = &a->e[i];
		uint32_t st = atomic_load_explicit(&e->state, memory_order_relaxed);
		if ((st & EDGE_TYPE_MASK) == type && memcmp(e->id, other, 16) == 0)
			return e;
	}
	return NULL;
}

int adj_reserve(struct store *s, struct node *nd, int dir)
{
	struct adj *a = atomic_load_explicit(&nd->adj[dir], memory_order_relaxed);
	uint32_t n = a ? atomic_load_explicit(&a->count, memory_order_relaxed) : 0;

	if (a && n < a->cap)
		return 0;
	uint32_t live = a ? atomic_load_explicit(&a->live, memory_order_relaxed) : 0;
	uint32_t cap = live < 2 ? 4 : live * 2;
	struct adj *b = sutra_malloc(sizeof(*b) + (size_t)cap * sizeof(b->e[0]));
	if (!b)
		return err_set(SUTRA_ENOMEM, "out of memory for %u associations", cap);
	uint32_t j = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct edge *e = &a->e[i];
		uint32_t st = atomic_load_explicit(&e->state, memory_order_relaxed);
		if (st & EDGE_DEAD)
			continue;
		memcpy(b->e[j].id, e->id, 16);
		atomic_init(&b->e[j].num, atomic_load_explicit(&e->num, memory_order_relaxed));
		atomic_init(&b->e[j].conf, atomic_load_explicit(&e->conf, memory_order_relaxed));
		atomic_init(&b->e[j].state, st);
		j++;
	}
	b->cap = cap;
	b->dead = 0;
	atomic_init(&b->count, j);
	atomic_init(&b->live, j);
	atomic_store_explicit(&nd->adj[dir], b, memory_order_release);
	epoch_retire(&s->bin, a);
	return 0;
}

int adj_upsert(struct store *s, struct node *nd, int dir, const struct node *other, unsigned type,
               float conf, bool *added)
{
	struct adj *a = atomic_load_explicit(&nd->adj[dir], memory_order_relaxed);
	struct edge *e = adj_find(a, other->id, type);

	*added = false;
	if (e) {
		atomic_store_explicit(&e->num, other->num, memory_order_relaxed);
		atomic_store_explicit(&e->conf, f2u(conf), memory_order_release);
		if (atomic_load_explicit(&e->state, memory_order_relaxed) & EDGE_DEAD) {
			atomic_store_explicit(&e->state, type, memory_order_release);
			atomic_fetch_add_explicit(&a->live, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&nd->degree[dir], 1, memory_order_relaxed);
			a->dead--;
			*added = true;
		}
		return 0;
	}
	int rc = adj_reserve(s, nd, dir);
	if (rc < 0)
		return rc;
	a = atomic_load_explicit(&nd->adj[dir], memory_order_relaxed);
	uint32_t n = atomic_load_explicit(&a->count, memory_order_relaxed);
	memcpy(a->e[n].id, other->id, 16);
	atomic_store_explicit(&a->e[n].num, other->num, memory_order_relaxed);
	atomic_store_explicit(&a->e[n].conf, f2u(conf), memory_order_relaxed);
	atomic_store_explicit(&a->e[n].state, type, memory_order_relaxed);
	atomic_store_explicit(&a->count, n + 1, memory_order_release);
	atomic_fetch_add_explicit(&a->live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&nd->degree[dir], 1, memory_order_relaxed);
	*added = true;
	return 0;
}

unsigned adj_kill(struct node *nd, int dir, const uint8_t other[16], int type)
{
	struct adj *a = atomic_load_explicit(&nd->adj[dir], memory_order_relaxed);
	uint32_t n = a ? atomic_load_explicit(&a->count, memory_order_relaxed) : 0;
	unsigned killed = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct edge *e = &a->e[i];
		uint32_t st = atomic_load_explicit(&e->state, memory_order_relaxed);
		if ((st & EDGE_DEAD) || memcmp(e->id, other, 16) != 0)
			continue;
		if (type >= 0 && (st & EDGE_TYPE_MASK) != (uint32_t)type)
			continue;
		atomic_store_explicit(&e->state, st | EDGE_DEAD, memory_order_release);
		killed++;
	}
	if (killed) {
		atomic_fetch_sub_explicit(&a->live, killed, memory_order_relaxed);
		atomic_fetch_sub_explicit(&nd->degree[dir], killed, memory_order_relaxed);
		a->dead += killed;
	}
	return killed;
}

bool adj_has(struct node *nd, int dir, const uint8_t other[16], unsigned type)
{
	struct adj *a = atomic_load_explicit(&nd->adj[dir], memory_order_relaxed);
	struct edge *e = adj_find(a, other, type);

	return e && !(atomic_load_explicit(&e->state, memory_order_relaxed) & EDGE_DEAD);
}
