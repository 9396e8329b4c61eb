/* apply.c - applies decoded operations to the in-memory store.
 *
 * The same code applies live writes (after they are logged), WAL records at
 * recovery and checkpoint records at open, so the three can never disagree.
 * Replay is blind: it may run over a fuzzy checkpoint image that already
 * holds some later effects, and every op is an idempotent overwrite of its
 * key, so ops whose concept is already gone are skipped, not errors.
 */
#include <string.h>

#include "shard/shard.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/err.h"

/* The counts of the shard a concept lives in (NULL: not sharded). */
static struct shard_counts *shard_of_node(struct store *s, const uint8_t id[16])
{
	return s->nshards ? &s->per_shard[shard_of(id, s->nshards)] : NULL;
}

/* Associations whose source is src appeared (d > 0) or went. */
static void assocs_add(struct store *s, const uint8_t src[16], int64_t d)
{
	struct shard_counts *c = shard_of_node(s, src);

	atomic_fetch_add_explicit(&s->n.associations, (uint64_t)d, memory_order_relaxed);
	if (c)
		atomic_fetch_add_explicit(&c->associations, (uint64_t)d, memory_order_relaxed);
}

static void counts_add(struct store *s, const struct node *n, int sign)
{
	uint64_t d = (uint64_t)(int64_t)sign;
	struct shard_counts *c = shard_of_node(s, n->id);

	if (c) {
		atomic_fetch_add_explicit(&c->concepts, d, memory_order_relaxed);
		if (n->vec)
			atomic_fetch_add_explicit(&c->vectors, d, memory_order_relaxed);
	}

	atomic_fetch_add_explicit(&s->n.concepts, d, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->n.content_bytes, d * n->content_len, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->n.meta_bytes, d * n->meta_len, memory_order_relaxed);
	if (n->vec) {
		atomic_fetch_add_explicit(&s->n.vectors, d, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->n.vector_bytes, d * n->dim * 4, memory_order_relaxed);
	}
}

struct node *node_new(const struct op *o, bool mapped)
{
	size_t extra = mapped ? 0 : (size_t)o->dim * 4 + o->meta_len + o->content_len + 1;
	struct node *n = sutra_malloc(sizeof(*n) + extra);
	uint32_t meta_count = 0;

	if (!n)
		return NULL;
	memcpy(n->id, o->id, 16);
	n->created_us = o->created_us;
	n->updated_us = o->updated_us;
	n->strength = o->strength;
	n->confidence = o->confidence;
	n->content_len = o->content_len;
	n->meta_len = o->meta_len;
	n->dim = o->dim;
	op_meta_valid(o->meta, o->meta_len, &meta_count);
	n->meta_count = meta_count;
	atomic_init(&n->adj[ADJ_OUT], NULL);
	atomic_init(&n->adj[ADJ_IN], NULL);
	atomic_init(&n->degree[ADJ_OUT], 0);
	atomic_init(&n->degree[ADJ_IN], 0);
	if (mapped) {
		n->vec = o->vec;
		n->meta = o->meta;
		n->content = o->content;
		return n;
	}
	uint8_t *p = (uint8_t *)(n + 1);
	n->vec = o->dim ? (const float *)p : NULL;
	if (o->dim)
		memcpy(p, o->vec, (size_t)o->dim * 4);
	p += (size_t)o->dim * 4;
	n->meta = p;
	if (o->meta_len)
		memcpy(p, o->meta, o->meta_len);
	p += o->meta_len;
	n->content = (const char *)p;
	if (o->content_len)
		memcpy(p, o->content, o->content_len);
	p[o->content_len] = 0;
	return n;
}

int store_apply_node(struct store *s, struct node *n)
{
	struct node *old = store_find(s, n->id);

	if (old) {
		atomic_init(&n->adj[ADJ_OUT], atomic_load(&old->adj[ADJ_OUT]));
		atomic_init(&n->adj[ADJ_IN], atomic_load(&old->adj[ADJ_IN]));
		atomic_init(&n->degree[ADJ_OUT], atomic_load(&old->degree[ADJ_OUT]));
		atomic_init(&n->degree[ADJ_IN], atomic_load(&old->degree[ADJ_IN]));
	}
	int rc = store_reserve(s, 1); /* the table and a number, before anything changes */
	if (rc < 0)
		return rc;
	/* Numbered before the table publishes it: a reader that finds n by id
	 * finds its number set and reachable. */
	num_assign(s, n, old);
	if ((rc = store_put(s, n)) < 0) { /* cannot happen after the reserve */
		num_undo(s, n, old);
		return rc;
	}
	if (old)
		counts_add(s, old, -1);
	counts_add(s, n, +1);
	return 0;
}

static int apply_learn(struct store *s, const struct op *o, bool mapped)
{
	struct node *n = node_new(o, mapped);
	int rc;

	if (!n)
		return err_set(SUTRA_ENOMEM, "out of memory for a concept of %u bytes",
		               o->content_len);
	if ((rc = store_apply_node(s, n)) < 0)
		sutra_free(n);
	return rc;
}

/* Kills every entry pointing back at n in the arrays of n's neighbours. */
static void unlink_neighbours(struct store *s, struct node *n, int dir)
{
	struct adj *a = atomic_load_explicit(&n->adj[dir], memory_order_relaxed);
	uint32_t cnt = a ? atomic_load_explicit(&a->count, memory_order_relaxed) : 0;

	for (uint32_t i = 0; i < cnt; i++) {
		struct edge *e = &a->e[i];
		if (atomic_load_explicit(&e->state, memory_order_relaxed) & EDGE_DEAD)
			continue;
		if (dir == ADJ_OUT)
			assocs_add(s, n->id, -1);
		if (memcmp(e->id, n->id, 16) == 0)
			continue; /* self-loop: both ends go with n */
		struct node *other = store_find(s, e->id);
		if (other)
			adj_kill(other, dir == ADJ_OUT ? ADJ_IN : ADJ_OUT, n->id, -1);
	}
}

static int apply_delete(struct store *s, const struct op *o, bool replay)
{
	struct node *n = store_find(s, o->id);

	if (!n) {
		s->skipped_ops += replay;
		return replay ? 0 : err_set(SUTRA_ENOTFOUND, "no such concept");
	}
	unlink_neighbours(s, n, ADJ_OUT);
	/* incoming entries from other concepts are counted at their source */
	struct adj *in = atomic_load_explicit(&n->adj[ADJ_IN], memory_order_relaxed);
	uint32_t cnt = in ? atomic_load_explicit(&in->count, memory_order_relaxed) : 0;
	for (uint32_t i = 0; i < cnt; i++) {
		struct edge *e = &in->e[i];
		if ((atomic_load_explicit(&e->state, memory_order_relaxed) & EDGE_DEAD) ||
		    memcmp(e->id, n->id, 16) == 0)
			continue;
		struct node *other = store_find(s, e->id);
		unsigned killed = other ? adj_kill(other, ADJ_OUT, n->id, -1) : 0;
		assocs_add(s, e->id, -(int64_t)killed);
	}
	store_unlink(s, n);
	num_clear(s, n);
	counts_add(s, n, -1);
	epoch_retire(&s->bin, atomic_load_explicit(&n->adj[ADJ_OUT], memory_order_relaxed));
	epoch_retire(&s->bin, in);
	epoch_retire(&s->bin, n);
	return 0;
}

static int apply_assoc(struct store *s, const struct op *o, bool replay)
{
	struct node *src = store_find(s, o->src), *dst = store_find(s, o->dst);
	bool added_out, added_in;
	int rc;

	if (!src || !dst) {
		s->skipped_ops += replay;
		return replay ? 0
		              : err_set(SUTRA_ENOTFOUND, "no such concept: the association's %s",
		                        src ? "target" : "source");
	}
	/* Room first in both arrays, so the pair is added whole or not at all. */
	if ((rc = adj_reserve(s, src, ADJ_OUT)) < 0 || (rc = adj_reserve(s, dst, ADJ_IN)) < 0)
		return rc;
	adj_upsert(s, src, ADJ_OUT, dst, o->type, o->confidence, &added_out);
	adj_upsert(s, dst, ADJ_IN, src, o->type, o->confidence, &added_in);
	if (added_out)
		assocs_add(s, o->src, 1);
	return 0;
}

static int apply_dissoc(struct store *s, const struct op *o, bool replay)
{
	struct node *src = store_find(s, o->src), *dst = store_find(s, o->dst);

	if (!src || !dst || !adj_kill(src, ADJ_OUT, o->dst, o->type)) {
		s->skipped_ops += replay;
		return replay ? 0 : err_set(SUTRA_ENOTFOUND, "no such association");
	}
	adj_kill(dst, ADJ_IN, o->src, o->type);
	assocs_add(s, o->src, -1);
	return 0;
}

int store_apply(struct store *s, const struct op *o, bool mapped, bool replay)
{
	switch (o->kind) {
	case OP_LEARN:
		return apply_learn(s, o, mapped);
	case OP_DELETE:
		return apply_delete(s, o, replay);
	case OP_ASSOC:
		return apply_assoc(s, o, replay);
	case OP_DISSOC:
		return apply_dissoc(s, o, replay);
	default:
		return err_set(SUTRA_ECORRUPT, "unknown op kind %d", o->kind);
	}
}

void node_view(const struct node *n, sutra_concept *c)
{
	memcpy(c->id.b, n->id, 16);
	c->content = n->content;
	c->content_len = n->content_len;
	c->vector = n->vec;
	c->vector_dim = n->vec ? n->dim : 0;
	c->strength = n->strength;
	c->confidence = n->confidence;
	c->created_us = n->created_us;
	c->updated_us = n->updated_us;
	c->meta_count = n->meta_count;
	c->meta_blob = n->meta;
	c->meta_blob_len = n->meta_len;
	c->out_degree = atomic_load_explicit(&n->degree[ADJ_OUT], memory_order_relaxed);
	c->in_degree = atomic_load_explicit(&n->degree[ADJ_IN], memory_order_relaxed);
}
