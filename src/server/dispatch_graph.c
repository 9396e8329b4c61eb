/* dispatch_graph.c - the graph query extensions: FindPathEx, FindPaths,
 * FindBestPath, KHop and HybridSearch.
 *
 * Each request carries a GraphQuery (association type, direction, depth,
 * visit budget) that maps one to one onto the engine's sutra_graph_query;
 * the decoder has checked every field and count against the limits, so
 * the result arrays here are sized by numbers that are already bounded.
 * Replies are named, like every extension reply (docs/PROTOCOL.md).
 *
 * No path, or an absent concept, is an answer rather than an error, as it
 * is for FindPath: FindPathEx answers FindPathOk{found: false, path: []}
 * (FindPath's own variant, so a client reads both alike), FindPaths an
 * empty list, FindBestPath found false, KHop an empty list. A path query
 * whose visit budget runs out is an Error with the engine's text: a path
 * found after the budget cut the search short might not be the shortest
 * (or the most confident). KHop and HybridSearch instead return what they
 * reached with truncated set, which is the engine's contract for them.
 */
#include <stdlib.h>

#include "server/dispatch.h"

static void put_id(struct mpbuf *b, const sutra_id *id)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(id, hex);
	mp_put_str(b, hex, SUTRA_ID_HEX - 1);
}

static void put_path(struct mpbuf *b, const sutra_id *ids, size_t n)
{
	mp_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_id(b, &ids[i]);
}

static int engine_error(struct mpbuf *out, int rc)
{
	const char *msg = sutra_last_error();

	rb_error(out, ENC_NAMED, "%s", msg && *msg ? msg : sutra_strerror(rc));
	return DISPATCH_DONE;
}

static void key(struct mpbuf *b, const char *name)
{
	rb_key(b, ENC_NAMED, name);
}

static void to_engine(const struct graph_query *g, sutra_graph_query *q)
{
	sutra_graph_query_init(q);
	q->type = g->type < 0 ? SUTRA_TYPE_ANY : g->type;
	q->direction = g->direction;
	q->max_depth = g->max_depth;
	q->max_visited = g->max_visited;
}

/* The two ends and the query of FindPathEx, FindPaths and FindBestPath. */
static void path_args(const struct request *r, sutra_id *from, sutra_id *to, sutra_graph_query *q)
{
	sutra_id_parse(r->u.graph_path.start.p, r->u.graph_path.start.n, from);
	sutra_id_parse(r->u.graph_path.end.p, r->u.graph_path.end.n, to);
	to_engine(&r->u.graph_path.q, q);
	if (q->max_depth > SUTRA_MAX_PATH_DEPTH) /* path buffers below hold 21 ids */
		q->max_depth = SUTRA_MAX_PATH_DEPTH;
}

/* ---- paths ----------------------------------------------------------------- */

static int find_path_ex(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_id from, to, path[SUTRA_MAX_PATH_DEPTH + 1];
	sutra_graph_query q;
	size_t len = 0;

	path_args(r, &from, &to, &q);
	int rc = sutra_find_path_ex(c->w->srv->db, &from, &to, &q, path, &len);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, rc);
	rb_begin(out, ENC_NAMED, "FindPathOk", 2);
	key(out, "found");
	mp_put_bool(out, rc == 0);
	key(out, "path");
	put_path(out, path, rc == 0 ? len : 0);
	return DISPATCH_DONE;
}

static int find_paths(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_paths *p = NULL;
	sutra_graph_query q;
	sutra_id from, to;

	path_args(r, &from, &to, &q);
	int rc = sutra_find_paths(c->w->srv->db, &from, &to, &q, r->u.graph_path.max_paths,
	                          r->u.graph_path.k_shortest, &p);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, rc);
	size_t count = rc == 0 ? p->count : 0;
	rb_begin(out, ENC_NAMED, "FindPathsOk", 2);
	key(out, "paths");
	mp_put_array(out, (uint32_t)count);
	for (size_t i = 0; i < count; i++)
		put_path(out, p->ids + p->start[i], p->start[i + 1] - p->start[i]);
	key(out, "truncated");
	mp_put_bool(out, rc == 0 && p->truncated);
	sutra_paths_free(rc == 0 ? p : NULL);
	return DISPATCH_DONE;
}

static int find_best_path(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_id from, to, path[SUTRA_MAX_PATH_DEPTH + 1];
	sutra_graph_query q;
	double confidence = 0;
	size_t len = 0;

	path_args(r, &from, &to, &q);
	int rc = sutra_find_best_path(c->w->srv->db, &from, &to, &q, path, &len, &confidence);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, rc);
	rb_begin(out, ENC_NAMED, "FindBestPathOk", 3);
	key(out, "found");
	mp_put_bool(out, rc == 0);
	key(out, "path");
	put_path(out, path, rc == 0 ? len : 0);
	key(out, "confidence");
	mp_put_f64(out, rc == 0 ? confidence : 0.0);
	return DISPATCH_DONE;
}

/* ---- neighbourhoods ---------------------------------------------------------- */

static int khop(struct conn *c, const struct request *r, struct mpbuf *out)
{
	uint32_t limit = r->u.khop.limit;
	sutra_graph_query q;
	size_t n = 0;
	int truncated = 0;
	sutra_id id;

	sutra_khop_hit *hits = malloc(((size_t)limit + 1) * sizeof *hits); /* + 1: never 0 */
	if (!hits)
		return engine_error(out, SUTRA_ENOMEM);
	sutra_id_parse(r->u.khop.id.p, r->u.khop.id.n, &id);
	to_engine(&r->u.khop.q, &q);
	int rc = sutra_khop(c->w->srv->db, &id, &q, hits, limit, &n, &truncated);
	if (rc < 0 && rc != SUTRA_ENOTFOUND) {
		free(hits);
		return engine_error(out, rc);
	}
	if (rc < 0)
		n = 0, truncated = 0;
	rb_begin(out, ENC_NAMED, "KHopOk", 2);
	key(out, "results");
	mp_put_array(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mp_put_map(out, 3);
		mp_put_cstr(out, "concept_id");
		put_id(out, &hits[i].id);
		mp_put_cstr(out, "depth");
		mp_put_uint(out, hits[i].depth);
		mp_put_cstr(out, "confidence");
		mp_put_f64(out, hits[i].confidence);
	}
	key(out, "truncated");
	mp_put_bool(out, truncated != 0);
	free(hits);
	return DISPATCH_DONE;
}

static void put_hybrid_hit(struct mpbuf *out, const sutra_hybrid_hit *h)
{
	mp_put_map(out, 5);
	mp_put_cstr(out, "concept_id");
	put_id(out, &h->id);
	mp_put_cstr(out, "score");
	mp_put_f32(out, h->score);
	mp_put_cstr(out, "similarity");
	mp_put_f32(out, h->similarity);
	mp_put_cstr(out, "path_confidence");
	mp_put_f64(out, h->path_confidence);
	mp_put_cstr(out, "hops");
	mp_put_uint(out, h->hops);
}

static int hybrid_search(struct conn *c, const struct request *r, struct mpbuf *out)
{
	uint32_t limit = r->u.hybrid.limit;
	sutra_graph_query q;
	size_t n = 0;
	int truncated = 0;

	if (!dispatch_query_dim_ok(c, r->u.hybrid.dim, ENC_NAMED, out))
		return DISPATCH_DONE;
	sutra_hybrid_hit *hits = malloc(((size_t)limit + 1) * sizeof *hits);
	if (!hits)
		return engine_error(out, SUTRA_ENOMEM);
	to_engine(&r->u.hybrid.q, &q);
	int rc = sutra_hybrid_search(c->w->srv->db, r->u.hybrid.vec, r->u.hybrid.dim,
	                             r->u.hybrid.k_seeds, r->u.hybrid.ef_search, &q, hits, limit,
	                             &n, &truncated);
	if (rc < 0) {
		free(hits);
		return engine_error(out, rc);
	}
	rb_begin(out, ENC_NAMED, "HybridSearchOk", 2);
	key(out, "results");
	mp_put_array(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_hybrid_hit(out, &hits[i]);
	key(out, "truncated");
	mp_put_bool(out, truncated != 0);
	free(hits);
	return DISPATCH_DONE;
}

int dispatch_graph(struct conn *c, const struct request *r, struct mpbuf *out)
{
	switch (r->kind) {
	case REQ_FIND_PATH_EX:
		return find_path_ex(c, r, out);
	case REQ_FIND_PATHS:
		return find_paths(c, r, out);
	case REQ_FIND_BEST_PATH:
		return find_best_path(c, r, out);
	case REQ_KHOP:
		return khop(c, r, out);
	case REQ_HYBRID_SEARCH:
		return hybrid_search(c, r, out);
	default:
		rb_error(out, ENC_NAMED, "request kind %d is not a graph query", r->kind);
		return DISPATCH_DONE;
	}
}
