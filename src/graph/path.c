/* path.c - shortest path by hops: a bidirectional breadth-first search.
 *
 * One frontier grows from the start along the allowed direction, the
 * other from the end against it; each round expands one whole level of
 * the smaller frontier. A new member that the other side has already seen
 * is a meeting: its total length is the two depths plus one, and the best
 * meeting of the first level that finds any is a shortest path (every
 * shorter one would have met a level earlier). Expanding the smaller side
 * keeps the work near 2·b^(d/2) instead of b^d on graphs with hubs.
 */
#include <string.h>

#include "graph/graph.h"
#include "util/alloc.h"
#include "util/err.h"

struct side {
	struct bfs b;
	size_t head;    /* members before head are expanded */
	uint32_t level; /* depth of the members being expanded next */
	int dir;
};

struct meet {
	int64_t at[2]; /* the meeting concept's index on each side */
	uint32_t total;
};

struct expansion {
	struct side *s, *other;
	int which; /* 0: forward side, 1: backward */
	int64_t parent;
	struct meet *m;
};

static int visit_edge(void *ctx, const uint8_t *id, unsigned type, float conf)
{
	struct expansion *x = ctx;
	int rc = bfs_add(&x->s->b, id, x->parent, x->s->level + 1, conf);

	if (rc <= 0)
		return rc < 0 ? rc : 0;
	int64_t o = idset_find(&x->other->b.seen, id);
	if (o >= 0) {
		uint32_t total = x->s->level + 1 + x->other->b.depth[o];
		if (total < x->m->total) {
			x->m->total = total;
			x->m->at[x->which] = (int64_t)x->s->b.seen.n - 1;
			x->m->at[!x->which] = o;
		}
	}
	return 0;
}

/* Expands every member of s at its current level. */
static int expand_level(sutra_db *db, struct side *s, struct side *other, int which, int type,
                        struct meet *m)
{
	struct expansion x = {s, other, which, 0, m};
	size_t end = s->b.seen.n;
	int rc = 0;

	for (; s->head < end && rc == 0; s->head++) {
		graph_prefetch(&db->store, &s->b.seen, s->head, end);
		struct node *n = store_find(&db->store, s->b.seen.ids[s->head]);
		x.parent = (int64_t)s->head;
		if (n)
			rc = graph_each_edge(n, s->dir, type, visit_edge, &x);
	}
	s->level++;
	return rc;
}

static size_t frontier(const struct side *s)
{
	return s->b.seen.n - s->head;
}

/* The path through the meeting: start .. meeting from the forward side,
 * then meeting .. end from the backward side. */
static void join(const struct side *f, const struct side *b, const struct meet *m, sutra_id *path,
                 size_t *len)
{
	size_t a, c;

	bfs_path(&f->b, m->at[0], false, path, &a);
	bfs_path(&b->b, m->at[1], true, path + a - 1, &c);
	*len = a + c - 1;
}

static int search(sutra_db *db, const uint8_t *from, const uint8_t *to, const sutra_graph_query *q,
                  struct side sd[2], struct meet *m)
{
	int rc;

	if ((rc = bfs_add(&sd[0].b, from, -1, 0, 1.0f)) < 0 ||
	    (rc = bfs_add(&sd[1].b, to, -1, 0, 1.0f)) < 0)
		return rc;
	if (memcmp(from, to, 16) == 0) {
		m->total = 0;
		return 0;
	}
	while (m->total == UINT32_MAX && sd[0].level + sd[1].level < q->max_depth) {
		size_t f0 = frontier(&sd[0]), f1 = frontier(&sd[1]);
		if (f0 == 0 || f1 == 0)
			break; /* one side is exhausted: no path */
		int w = f0 <= f1 ? 0 : 1;
		if ((rc = expand_level(db, &sd[w], &sd[!w], w, q->type, m)) < 0)
			return rc;
	}
	return 0;
}

int sutra_find_path_ex(sutra_db *db, const sutra_id *from, const sutra_id *to,
                       const sutra_graph_query *query, sutra_id *path, size_t *len)
{
	sutra_graph_query q;
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!from || !to || !path || !len)
		return err_set(SUTRA_EINVAL, "find_path: NULL argument");
	if ((rc = graph_query_check(query, &q)) < 0)
		return rc;
	uint64_t half = q.max_visited / 2 + 1;
	struct side sd[2] = {{.b.budget = half, .dir = q.direction},
	                     {.b.budget = half, .dir = graph_reverse(q.direction)}};
	struct meet m = {{-1, -1}, UINT32_MAX};
	*len = 0;
	epoch_enter();
	if (!store_find(&db->store, from->b) || !store_find(&db->store, to->b))
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
	else if ((rc = search(db, from->b, to->b, &q, sd, &m)) == SUTRA_ETOOBIG)
		rc = graph_budget_error(q.max_visited); /* each side had half of it */
	else if (rc == 0 && m.total == 0)
		bfs_path(&sd[0].b, 0, false, path, len);
	else if (rc == 0 && m.total != UINT32_MAX)
		join(&sd[0], &sd[1], &m, path, len);
	else if (rc == 0)
		rc = err_set(SUTRA_ENOTFOUND, "no path within %u hops", q.max_depth);
	epoch_exit();
	bfs_free(&sd[0].b);
	bfs_free(&sd[1].b);
	return rc;
}

int sutra_find_path(sutra_db *db, const sutra_id *from, const sutra_id *to, uint32_t max_depth,
                    sutra_id *path, size_t *len)
{
	sutra_graph_query q;

	sutra_graph_query_init(&q);
	q.max_depth = max_depth;
	return sutra_find_path_ex(db, from, to, &q, path, len);
}
