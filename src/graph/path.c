/* path.c - shortest path by hops: a bidirectional breadth-first search.
 *
 * One frontier grows from the start along the allowed direction, the
 * other from the end against it; each round expands one whole level of
 * the smaller frontier. A new member that the other side has already seen
 * is a meeting: its total length is the two depths plus one, and the best
 * meeting of the first level that finds any is a shortest path (every
 * shorter one would have met a level earlier). Expanding the smaller side
 * keeps the work near 2·b^(d/2) instead of b^d on graphs with hubs.
 *
 * The walk runs on concept numbers (struct store): an association entry
 * names its other end's number, so reaching a neighbour is one array load,
 * and "seen by this side" is a per-thread array indexed by number, stamped
 * with a generation per query instead of cleared. Concepts created after
 * the query started (numbers past the count it read) are not visited.
 */
#include <pthread.h>
#include <string.h>

#include "graph/graph.h"
#include "util/alloc.h"
#include "util/err.h"

struct qent {
	const uint8_t *id; /* in the store: valid while the query's epoch lasts */
	uint32_t num;
	int32_t parent; /* queue index, -1 for the start */
	uint32_t depth;
};

/* Per-thread marks, one array pair per side, reused across queries. */
struct marks {
	uint32_t *gen[2]; /* per number: the query generation that saw it */
	uint32_t *at[2];  /* per number: its index in that side's queue */
	size_t cap;
	uint32_t cur;
};

static _Thread_local struct marks t_marks;
static pthread_key_t t_key;
static pthread_once_t t_once = PTHREAD_ONCE_INIT;

static void marks_free(void *unused)
{
	for (int i = 0; i < 2; i++) {
		sutra_free(t_marks.gen[i]);
		sutra_free(t_marks.at[i]);
	}
	memset(&t_marks, 0, sizeof t_marks);
}

static void key_create(void)
{
	pthread_key_create(&t_key, marks_free);
}

/* Marks for numbers below n, with a fresh generation. */
static int marks_begin(size_t n)
{
	struct marks *m = &t_marks;

	if (n > m->cap) {
		size_t cap = n + n / 4 + 1024;
		pthread_once(&t_once, key_create);
		pthread_setspecific(t_key, m);
		marks_free(NULL);
		for (int i = 0; i < 2; i++) {
			m->gen[i] = sutra_calloc(cap, sizeof *m->gen[i]);
			m->at[i] = sutra_malloc(cap * sizeof *m->at[i]);
			if (!m->gen[i] || !m->at[i]) {
				marks_free(NULL);
				return err_set(SUTRA_ENOMEM, "out of memory for a path search");
			}
		}
		m->cap = cap;
	}
	if (++m->cur == 0) { /* generations wrapped: start over */
		for (int i = 0; i < 2; i++)
			memset(m->gen[i], 0, m->cap * sizeof *m->gen[i]);
		m->cur = 1;
	}
	return 0;
}

struct side {
	struct qent *q;
	size_t len, cap, head; /* members before head are expanded */
	uint32_t level;        /* depth of the members being expanded next */
	int dir, which;
};

struct walk {
	sutra_db *db;
	const sutra_graph_query *gq;
	struct side sd[2];
	uint32_t limit;  /* numbers below it existed when the query began */
	uint64_t budget; /* members per side */
	int64_t meet[2]; /* the best meeting's queue index on each side */
	uint32_t total;  /* its length, UINT32_MAX: none yet */
};

static int side_add(struct walk *w, struct side *s, const uint8_t *id, uint32_t num, int32_t parent,
                    uint32_t depth)
{
	if (s->len >= w->budget)
		return graph_budget_error(w->budget);
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct qent *q = sutra_realloc(s->q, cap * sizeof *q);
		if (!q)
			return err_set(SUTRA_ENOMEM, "out of memory for a path search");
		s->q = q;
		s->cap = cap;
	}
	struct qent *e = &s->q[s->len];
	e->id = id;
	e->num = num;
	e->parent = parent;
	e->depth = depth;
	t_marks.gen[s->which][num] = t_marks.cur;
	t_marks.at[s->which][num] = (uint32_t)s->len++;
	return 0;
}

/* Visits the neighbour (num, id) of member at: new to this side, it is
 * queued and checked against the other side's marks. */
static int reach(struct walk *w, struct side *s, size_t at, const struct edge *e)
{
	uint32_t num = atomic_load_explicit(&((struct edge *)e)->num, memory_order_relaxed);
	int other = !s->which, rc;

	if (num >= w->limit || t_marks.gen[s->which][num] == t_marks.cur)
		return 0;
	if ((rc = side_add(w, s, e->id, num, (int32_t)at, s->level + 1)) < 0)
		return rc;
	if (t_marks.gen[other][num] == t_marks.cur) {
		uint32_t o = t_marks.at[other][num];
		uint32_t total = s->level + 1 + w->sd[other].q[o].depth;
		if (total < w->total) {
			w->total = total;
			w->meet[s->which] = (int64_t)s->len - 1;
			w->meet[other] = o;
		}
	}
	return 0;
}

static int expand_member(struct walk *w, struct side *s, size_t at)
{
	struct node *n = store_by_num(&w->db->store, s->q[at].num);
	int rc = 0;

	for (int side = ADJ_OUT; n && side <= ADJ_IN && rc == 0; side++) {
		if (!(s->dir & (side == ADJ_OUT ? SUTRA_DIR_OUT : SUTRA_DIR_IN)))
			continue;
		struct adj *a;
		uint32_t cnt = adj_count(&a, n, side);
		for (uint32_t i = 0; i < cnt && rc == 0; i++) {
			unsigned t;
			float conf;
			if (edge_live(a, i, &t, &conf) &&
			    (w->gq->type < 0 || t == (unsigned)w->gq->type))
				rc = reach(w, s, at, &a->e[i]);
		}
	}
	return rc;
}

/* Prefetches the node of a member a few places ahead, then its arrays. */
static void prefetch_ahead(struct walk *w, struct side *s, size_t at, size_t end)
{
	if (at + PREFETCH_NODE < end) {
		struct node *n = store_by_num(&w->db->store, s->q[at + PREFETCH_NODE].num);
		if (n)
			__builtin_prefetch(n);
	}
	if (at + PREFETCH_ADJ < end) {
		struct node *n = store_by_num(&w->db->store, s->q[at + PREFETCH_ADJ].num);
		for (int d = ADJ_OUT; n && d <= ADJ_IN; d++) {
			struct adj *a = atomic_load_explicit(&n->adj[d], memory_order_acquire);
			if (a)
				__builtin_prefetch(a);
		}
	}
}

static int expand_level(struct walk *w, struct side *s)
{
	size_t end = s->len;
	int rc = 0;

	for (; s->head < end && rc == 0; s->head++) {
		prefetch_ahead(w, s, s->head, end);
		rc = expand_member(w, s, s->head);
	}
	s->level++;
	return rc;
}

static int search(struct walk *w)
{
	while (w->total == UINT32_MAX && w->sd[0].level + w->sd[1].level < w->gq->max_depth) {
		size_t f0 = w->sd[0].len - w->sd[0].head, f1 = w->sd[1].len - w->sd[1].head;
		if (f0 == 0 || f1 == 0)
			return 0; /* one side is exhausted: no path */
		int rc = expand_level(w, &w->sd[f0 <= f1 ? 0 : 1]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The ids from a side's start to member at (reverse: from at to the start). */
static size_t side_path(const struct side *s, int64_t at, bool reverse, sutra_id *out)
{
	size_t n = s->q[at].depth + 1;

	for (int64_t i = at, k = 0; i >= 0; i = s->q[i].parent, k++)
		memcpy(out[reverse ? k : (int64_t)n - 1 - k].b, s->q[i].id, 16);
	return n;
}

/* start .. meeting from the forward side, then meeting .. end. */
static void join(const struct walk *w, sutra_id *path, size_t *len)
{
	size_t a = side_path(&w->sd[0], w->meet[0], false, path);
	size_t c = side_path(&w->sd[1], w->meet[1], true, path + a - 1);

	*len = a + c - 1;
}

static int run(struct walk *w, const struct node *from, const struct node *to, sutra_id *path,
               size_t *len)
{
	int rc;

	if ((rc = marks_begin(w->limit)) < 0 ||
	    (rc = side_add(w, &w->sd[0], from->id, from->num, -1, 0)) < 0)
		return rc;
	if (from == to || from->num == to->num) {
		memcpy(path[0].b, from->id, 16);
		*len = 1;
		return 0;
	}
	if ((rc = side_add(w, &w->sd[1], to->id, to->num, -1, 0)) < 0 || (rc = search(w)) < 0)
		return rc == SUTRA_ETOOBIG ? graph_budget_error(w->gq->max_visited) : rc;
	if (w->total == UINT32_MAX)
		return err_set(SUTRA_ENOTFOUND, "no path within %u hops", w->gq->max_depth);
	join(w, path, len);
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
	struct walk w = {.db = db,
	                 .gq = &q,
	                 .sd = {{.dir = q.direction, .which = 0},
	                        {.dir = graph_reverse(q.direction), .which = 1}},
	                 .budget = q.max_visited / 2 + 1,
	                 .meet = {-1, -1},
	                 .total = UINT32_MAX};
	*len = 0;
	epoch_enter();
	struct node *a = store_find(&db->store, from->b), *b = store_find(&db->store, to->b);
	/* read after the ends: their numbers are below it (numbered first) */
	w.limit = atomic_load_explicit(&db->store.nums, memory_order_acquire);
	if (!a || !b)
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
	else
		rc = run(&w, a, b, path, len);
	epoch_exit();
	sutra_free(w.sd[0].q);
	sutra_free(w.sd[1].q);
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
