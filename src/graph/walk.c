/* walk.c - the pieces every graph query uses (see graph.h): query checks,
 * association iteration and the breadth-first frontier. */
#include <string.h>

#include "graph/graph.h"
#include "util/alloc.h"
#include "util/err.h"

void sutra_graph_query_init(sutra_graph_query *q)
{
	if (!q)
		return;
	q->type = SUTRA_TYPE_ANY;
	q->direction = SUTRA_DIR_BOTH;
	q->max_depth = SUTRA_MAX_PATH_DEPTH;
	q->max_visited = SUTRA_MAX_VISITED_DEFAULT;
}

int graph_query_check(const sutra_graph_query *q, sutra_graph_query *out)
{
	sutra_graph_query_init(out);
	if (!q)
		return 0;
	*out = *q;
	if (out->max_visited == 0)
		out->max_visited = SUTRA_MAX_VISITED_DEFAULT;
	if (q->max_depth > SUTRA_MAX_PATH_DEPTH)
		return err_set(SUTRA_ETOOBIG, "Path depth too large: %u (max: %d)", q->max_depth,
		               SUTRA_MAX_PATH_DEPTH);
	if (q->type != SUTRA_TYPE_ANY && (q->type < 0 || q->type >= SUTRA_ASSOC_TYPES))
		return err_set(SUTRA_EINVAL, "association type %d out of range (0..%d, or any)",
		               q->type, SUTRA_ASSOC_TYPES - 1);
	if (q->direction < SUTRA_DIR_OUT || q->direction > SUTRA_DIR_BOTH)
		return err_set(SUTRA_EINVAL, "direction %d out of range (1 out, 2 in, 3 both)",
		               q->direction);
	return 0;
}

int graph_reverse(int direction)
{
	return direction == SUTRA_DIR_BOTH  ? SUTRA_DIR_BOTH
	       : direction == SUTRA_DIR_OUT ? SUTRA_DIR_IN
	                                    : SUTRA_DIR_OUT;
}

int graph_each_edge(const struct node *n, int dir, int type, graph_edge_fn fn, void *ctx)
{
	for (int side = ADJ_OUT; side <= ADJ_IN; side++) {
		if (!(dir & (side == ADJ_OUT ? SUTRA_DIR_OUT : SUTRA_DIR_IN)))
			continue;
		struct adj *a;
		uint32_t cnt = adj_count(&a, n, side);
		for (uint32_t i = 0; i < cnt; i++) {
			unsigned t;
			float conf;
			if (!edge_live(a, i, &t, &conf) || (type >= 0 && t != (unsigned)type))
				continue;
			int rc = fn(ctx, a->e[i].id, t, conf);
			if (rc)
				return rc;
		}
	}
	return 0;
}

void graph_prefetch(struct store *st, const struct idset *q, size_t at, size_t end)
{
	if (at + PREFETCH_SLOT < end)
		store_prefetch(st, q->ids[at + PREFETCH_SLOT]);
	if (at + PREFETCH_NODE < end) {
		struct node *n = store_peek(st, q->ids[at + PREFETCH_NODE]);
		if (n)
			__builtin_prefetch(n);
	}
	if (at + PREFETCH_ADJ < end) {
		struct node *n = store_peek(st, q->ids[at + PREFETCH_ADJ]);
		for (int side = ADJ_OUT; n && side <= ADJ_IN; side++) {
			struct adj *a = atomic_load_explicit(&n->adj[side], memory_order_acquire);
			if (a)
				__builtin_prefetch(a);
		}
	}
}

int graph_budget_error(uint64_t budget)
{
	return err_set(SUTRA_ETOOBIG, "the traversal visited more than %llu concepts (max_visited)",
	               (unsigned long long)budget);
}

/* Grows the per-member arrays to the set's capacity (which may have grown
 * on an earlier add that found its id present). */
static int bfs_arrays(struct bfs *b)
{
	int64_t *p = sutra_realloc(b->parent, b->seen.cap * sizeof *p);
	if (p)
		b->parent = p;
	uint32_t *d = p ? sutra_realloc(b->depth, b->seen.cap * sizeof *d) : NULL;
	if (d)
		b->depth = d;
	float *c = d ? sutra_realloc(b->conf, b->seen.cap * sizeof *c) : NULL;
	if (c)
		b->conf = c;
	if (!c)
		return err_set(SUTRA_ENOMEM, "out of memory for a walk of %zu concepts", b->seen.n);
	b->arrays_cap = b->seen.cap;
	return 0;
}

int bfs_add(struct bfs *b, const uint8_t *id, int64_t parent, uint32_t depth, float conf)
{
	int rc;

	if (b->seen.n >= b->budget && !idset_has(&b->seen, id))
		return graph_budget_error(b->budget);
	if ((rc = idset_add(&b->seen, id)) <= 0)
		return rc;
	if (b->seen.cap > b->arrays_cap && (rc = bfs_arrays(b)) < 0)
		return rc;
	size_t at = b->seen.n - 1;
	b->parent[at] = parent;
	b->depth[at] = depth;
	b->conf[at] = conf;
	return 1;
}

void bfs_free(struct bfs *b)
{
	idset_free(&b->seen);
	sutra_free(b->parent);
	sutra_free(b->depth);
	sutra_free(b->conf);
	memset(b, 0, sizeof *b);
}

void bfs_path(const struct bfs *b, int64_t at, bool reverse, sutra_id *path, size_t *len)
{
	size_t n = b->depth[at] + 1;

	*len = n;
	for (int64_t i = at, k = 0; i >= 0; i = b->parent[i], k++)
		memcpy(path[reverse ? k : (int64_t)n - 1 - k].b, b->seen.ids[i], 16);
}
