/* paths.c - several paths between two concepts.
 *
 * Every shortest path: a breadth-first walk from the start until the end
 * is reached (all concepts nearer than it are known by then), then a
 * depth-first walk back from the end through predecessors one level
 * nearer, which enumerates each shortest path once.
 *
 * With k_shortest, further simple paths by increasing length (Yen's
 * algorithm, in Lawler's form: every accepted path is used once as the
 * source of spur paths). For a path P and each prefix P[0..i], the spur
 * search runs from P[i] to the end without the prefix's other concepts
 * and without the edges P[i] -> next that accepted paths sharing that
 * prefix already use; prefix + spur is a candidate; the shortest
 * candidate is accepted next.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "util/alloc.h"
#include "util/err.h"

#define MAX_PATHS 1000

/* A list of paths, each a run of ids. */
struct plist {
	uint8_t (*ids)[16];
	size_t nids, cap_ids;
	size_t *start; /* count + 1 entries */
	size_t count, cap;
};

static int plist_add(struct plist *l, uint8_t (*ids)[16], size_t n)
{
	if (l->nids + n > l->cap_ids) {
		size_t cap = (l->cap_ids + n) * 2;
		void *p = sutra_realloc(l->ids, cap * 16);
		if (!p)
			return err_set(SUTRA_ENOMEM, "out of memory collecting paths");
		l->ids = p;
		l->cap_ids = cap;
	}
	if (l->count + 2 > l->cap) {
		size_t cap = (l->cap + 2) * 2;
		size_t *p = sutra_realloc(l->start, cap * sizeof *p);
		if (!p)
			return err_set(SUTRA_ENOMEM, "out of memory collecting paths");
		l->start = p;
		l->cap = cap;
	}
	if (l->count == 0)
		l->start[0] = 0;
	memcpy(l->ids[l->nids], ids, n * 16);
	l->nids += n;
	l->start[++l->count] = l->nids;
	return 0;
}

static size_t plen(const struct plist *l, size_t i)
{
	return l->start[i + 1] - l->start[i];
}

static bool plist_has(const struct plist *l, uint8_t (*ids)[16], size_t n)
{
	for (size_t i = 0; i < l->count; i++)
		if (plen(l, i) == n && memcmp(l->ids[l->start[i]], ids, n * 16) == 0)
			return true;
	return false;
}

static void plist_free(struct plist *l)
{
	sutra_free(l->ids);
	sutra_free(l->start);
	memset(l, 0, sizeof *l);
}

/* ---- every shortest path ---------------------------------------------------- */

struct walk {
	sutra_db *db;
	const sutra_graph_query *q;
	struct bfs b;
	const struct idset *banned_nodes;  /* spur searches: the prefix */
	const uint8_t (*banned_edges)[32]; /* spur searches: from | to */
	size_t nbanned_edges;
	int64_t parent;
	const uint8_t *from_id;
	uint32_t depth;
	const uint8_t *to;
	int64_t found;
};

static bool edge_banned(const struct walk *w, const uint8_t *a, const uint8_t *b)
{
	for (size_t i = 0; i < w->nbanned_edges; i++)
		if (memcmp(w->banned_edges[i], a, 16) == 0 &&
		    memcmp(w->banned_edges[i] + 16, b, 16) == 0)
			return true;
	return false;
}

static int walk_edge(void *ctx, const uint8_t *id, unsigned type, float conf)
{
	struct walk *w = ctx;
	int rc;

	if ((w->banned_nodes && idset_has(w->banned_nodes, id)) ||
	    (w->nbanned_edges && edge_banned(w, w->from_id, id)))
		return 0;
	if ((rc = bfs_add(&w->b, id, w->parent, w->depth, conf)) <= 0)
		return rc;
	if (memcmp(id, w->to, 16) == 0) {
		w->found = (int64_t)w->b.seen.n - 1;
		return 1; /* stop: every concept nearer than `to` is known */
	}
	return 0;
}

/* Breadth-first from start until `to` is reached within max_depth. */
static int walk_to(struct walk *w, const uint8_t *start, uint32_t max_depth)
{
	int rc = bfs_add(&w->b, start, -1, 0, 1.0f);

	w->found = memcmp(start, w->to, 16) == 0 ? 0 : -1;
	for (size_t head = 0; rc >= 0 && w->found < 0 && head < w->b.seen.n; head++) {
		if (w->b.depth[head] >= max_depth)
			break;
		graph_prefetch(&w->db->store, &w->b.seen, head, w->b.seen.n);
		struct node *n = store_find(&w->db->store, w->b.seen.ids[head]);
		w->parent = (int64_t)head;
		w->from_id = w->b.seen.ids[head];
		w->depth = w->b.depth[head] + 1;
		if (n)
			rc = graph_each_edge(n, w->q->direction, w->q->type, walk_edge, w);
	}
	return rc < 0 ? rc : 0;
}

struct enumerate {
	struct walk *w;
	struct plist *out;
	uint32_t max;
	uint8_t (*path)[16]; /* filled from the end */
	uint32_t level;      /* the concept being extended is at this depth */
	int truncated;
};

static int back_from(struct enumerate *e, const uint8_t *id);

static int back_edge(void *ctx, const uint8_t *id, unsigned type, float conf)
{
	struct enumerate *e = ctx;
	int64_t at = idset_find(&e->w->b.seen, id);

	if (at < 0 || e->w->b.depth[at] + 1 != e->level)
		return 0;
	uint32_t saved = e->level;
	int rc = back_from(e, id);
	e->level = saved;
	return rc;
}

/* Extends the partial path (from the end) with id at depth level - 1. */
static int back_from(struct enumerate *e, const uint8_t *id)
{
	e->level--;
	memcpy(e->path[e->level], id, 16);
	if (e->level == 0) {
		if (e->out->count == e->max) {
			e->truncated = 1;
			return 1;
		}
		return plist_add(e->out, e->path, e->w->b.depth[e->w->found] + 1);
	}
	struct node *n = store_find(&e->w->db->store, id);
	return n ? graph_each_edge(n, graph_reverse(e->w->q->direction), e->w->q->type, back_edge,
	                           e)
	         : 0;
}

static int all_shortest(struct walk *w, const uint8_t *from, uint32_t max, struct plist *out,
                        int *truncated)
{
	uint8_t path[SUTRA_MAX_PATH_DEPTH + 1][16];
	int rc = walk_to(w, from, w->q->max_depth);

	if (rc < 0 || w->found < 0)
		return rc;
	struct enumerate e = {w, out, max, path, w->b.depth[w->found] + 1, 0};
	rc = back_from(&e, w->to);
	*truncated |= e.truncated;
	return rc < 0 ? rc : 0;
}

/* ---- Yen's k shortest simple paths ------------------------------------------- */

/* The shortest path from spur to `to` avoiding the prefix and the banned
 * edges, appended to prefix as a candidate (if new). */
static int spur(sutra_db *db, const sutra_graph_query *q, const uint8_t (*path)[16], size_t i,
                const struct plist *accepted, struct plist *cand, const uint8_t *to)
{
	struct idset prefix = {0};
	uint8_t(*edges)[32] = sutra_malloc((accepted->count + 1) * 32);
	uint8_t buf[2 * SUTRA_MAX_PATH_DEPTH + 2][16];
	size_t ne = 0;
	int rc = edges ? 0 : err_set(SUTRA_ENOMEM, "out of memory for a path search");

	for (size_t k = 0; k < i && rc >= 0; k++)
		rc = idset_add(&prefix, path[k]);
	for (size_t a = 0; a < accepted->count && rc >= 0; a++) {
		const uint8_t(*p)[16] = (const uint8_t(*)[16])accepted->ids[accepted->start[a]];
		if (plen(accepted, a) > i + 1 && memcmp(p, path, (i + 1) * 16) == 0) {
			memcpy(edges[ne], p[i], 16);
			memcpy(edges[ne++] + 16, p[i + 1], 16);
		}
	}
	struct walk w = {.db = db,
	                 .q = q,
	                 .banned_nodes = &prefix,
	                 .banned_edges = (const void *)edges,
	                 .nbanned_edges = ne,
	                 .to = to};
	w.b.budget = q->max_visited;
	if (rc >= 0 && q->max_depth > i)
		rc = walk_to(&w, path[i], q->max_depth - (uint32_t)i);
	if (rc >= 0 && q->max_depth > i && w.found >= 0) {
		sutra_id tail[SUTRA_MAX_PATH_DEPTH + 1];
		size_t n;
		bfs_path(&w.b, w.found, false, tail, &n);
		memcpy(buf, path, i * 16);
		memcpy(buf + i, tail, n * 16);
		if (!plist_has(accepted, buf, i + n) && !plist_has(cand, buf, i + n))
			rc = plist_add(cand, buf, i + n);
	}
	bfs_free(&w.b);
	idset_free(&prefix);
	sutra_free(edges);
	return rc < 0 ? rc : 0;
}

/* Moves the shortest candidate into accepted. */
static int accept_shortest(struct plist *cand, struct plist *accepted)
{
	size_t best = 0;

	for (size_t i = 1; i < cand->count; i++)
		if (plen(cand, i) < plen(cand, best))
			best = i;
	int rc = plist_add(accepted, &cand->ids[cand->start[best]], plen(cand, best));
	/* drop it from cand by rebuilding the list without it */
	struct plist rest = {0};
	for (size_t i = 0; i < cand->count && rc >= 0; i++)
		if (i != best)
			rc = plist_add(&rest, &cand->ids[cand->start[i]], plen(cand, i));
	plist_free(cand);
	*cand = rest;
	return rc;
}

static int k_shortest(sutra_db *db, const sutra_graph_query *q, const uint8_t *to, uint32_t max,
                      struct plist *acc, int *truncated)
{
	struct plist cand = {0};
	int rc = 0;

	for (size_t next = 0; rc >= 0 && next < acc->count; next++) {
		size_t n = plen(acc, next);
		uint8_t path[SUTRA_MAX_PATH_DEPTH + 1][16];
		memcpy(path, acc->ids[acc->start[next]], n * 16);
		for (size_t i = 0; i + 1 < n && rc >= 0; i++)
			rc = spur(db, q, (const uint8_t(*)[16])path, i, acc, &cand, to);
		if (rc >= 0 && next + 1 == acc->count && cand.count > 0) {
			if (acc->count == max) {
				*truncated = 1;
				break;
			}
			rc = accept_shortest(&cand, acc);
		}
	}
	plist_free(&cand);
	return rc;
}

/* ---- the public query ---------------------------------------------------------- */

static int export_paths(struct plist *l, int truncated, sutra_paths **out)
{
	sutra_paths *p = sutra_calloc(1, sizeof *p);

	if (!p)
		return err_set(SUTRA_ENOMEM, "out of memory for paths");
	p->count = l->count;
	p->truncated = truncated;
	p->ids = (sutra_id *)l->ids;
	p->start = l->start;
	if (!p->start && (p->start = sutra_calloc(1, sizeof *p->start)) == NULL) {
		sutra_free(p);
		return err_set(SUTRA_ENOMEM, "out of memory for paths");
	}
	memset(l, 0, sizeof *l);
	*out = p;
	return 0;
}

int sutra_find_paths(sutra_db *db, const sutra_id *from, const sutra_id *to,
                     const sutra_graph_query *query, uint32_t max_paths, int k_shortest_on,
                     sutra_paths **out)
{
	sutra_graph_query q;
	struct plist found = {0};
	int truncated = 0, rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!from || !to || !out)
		return err_set(SUTRA_EINVAL, "find_paths: NULL argument");
	if (max_paths < 1 || max_paths > MAX_PATHS)
		return err_set(SUTRA_ETOOBIG, "max_paths %u out of range (1..%d)", max_paths,
		               MAX_PATHS);
	if ((rc = graph_query_check(query, &q)) < 0)
		return rc;
	*out = NULL;
	struct walk w = {.db = db, .q = &q, .to = to->b};
	w.b.budget = q.max_visited;
	epoch_enter();
	if (!store_find(&db->store, from->b) || !store_find(&db->store, to->b))
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
	else if ((rc = all_shortest(&w, from->b, max_paths, &found, &truncated)) == 0 &&
	         k_shortest_on && found.count > 0 && !truncated)
		rc = k_shortest(db, &q, to->b, max_paths, &found, &truncated);
	epoch_exit();
	bfs_free(&w.b);
	if (rc == 0 && found.count == 0)
		rc = err_set(SUTRA_ENOTFOUND, "no path within %u hops", q.max_depth);
	if (rc == 0)
		rc = export_paths(&found, truncated, out);
	plist_free(&found);
	return rc;
}

void sutra_paths_free(sutra_paths *p)
{
	if (!p)
		return;
	sutra_free(p->ids);
	sutra_free(p->start);
	sutra_free(p);
}
