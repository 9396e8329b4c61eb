/* khop.c - the neighbourhood of a concept up to a depth: a breadth-first
 * walk that stops once it has one more concept than the caller wants (so
 * it knows the answer was cut) or when the visit budget runs out. */
#include <string.h>

#include "graph/graph.h"
#include "util/err.h"

struct khop_walk {
	struct bfs *b;
	int64_t parent;
	uint32_t depth;
};

static int add_edge(void *ctx, const uint8_t *id, unsigned type, float conf)
{
	struct khop_walk *w = ctx;
	int rc = bfs_add(w->b, id, w->parent, w->depth, conf);

	return rc < 0 ? rc : 0;
}

/* Product of the confidences along member at's path from the start. */
static double path_confidence(const struct bfs *b, int64_t at)
{
	double c = 1.0;

	for (; at > 0; at = b->parent[at])
		c *= b->conf[at];
	return c;
}

static int walk(sutra_db *db, const sutra_graph_query *q, struct bfs *b, size_t want)
{
	int rc = 0;

	for (size_t head = 0; head < b->seen.n && b->seen.n <= want && rc == 0; head++) {
		if (b->depth[head] >= q->max_depth)
			break; /* members are in depth order */
		graph_prefetch(&db->store, &b->seen, head, b->seen.n);
		struct node *n = store_find(&db->store, b->seen.ids[head]);
		struct khop_walk w = {b, (int64_t)head, b->depth[head] + 1};
		if (n)
			rc = graph_each_edge(n, q->direction, q->type, add_edge, &w);
	}
	return rc;
}

int sutra_khop(sutra_db *db, const sutra_id *from, const sutra_graph_query *query,
               sutra_khop_hit *out, size_t cap, size_t *n, int *truncated)
{
	sutra_graph_query q;
	struct bfs b = {0};
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!from || !n || !truncated || (cap && !out))
		return err_set(SUTRA_EINVAL, "khop: NULL argument");
	if ((rc = graph_query_check(query, &q)) < 0)
		return rc;
	*n = 0;
	*truncated = 0;
	b.budget = q.max_visited;
	epoch_enter();
	if (!store_find(&db->store, from->b))
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
	else if ((rc = bfs_add(&b, from->b, -1, 0, 1.0f)) >= 0)
		rc = walk(db, &q, &b, cap + 1); /* the start and cap + 1 others at most */
	epoch_exit();
	if (rc == SUTRA_ETOOBIG) { /* the budget cut it: what was found is the answer */
		*truncated = 1;
		rc = 0;
	}
	for (size_t i = 1; rc >= 0 && i < b.seen.n && *n < cap; i++) {
		memcpy(out[*n].id.b, b.seen.ids[i], 16);
		out[*n].depth = b.depth[i];
		out[(*n)++].confidence = path_confidence(&b, (int64_t)i);
	}
	if (rc >= 0 && b.seen.n > cap + 1)
		*truncated = 1;
	bfs_free(&b);
	return rc < 0 ? rc : 0;
}
