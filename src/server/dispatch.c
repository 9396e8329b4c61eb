/* dispatch.c - routing requests, and the standard read requests.
 *
 * Reads run inline on the worker thread: the engine's readers never wait
 * for writers, so a read costs only its own work. Replies to the Rust
 * server's requests use the connection's encoding (compact by default,
 * byte-exact with the Rust server; named when asked for), replies to the
 * extensions are always named. Identifiers go out as 32 lowercase hex
 * characters. Scratch arrays (neighbours, search hits) live in the worker
 * and are sized by what the engine reports, never by the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "server/dispatch.h"
#include "server/log.h"

#define SCRATCH_KEEP   (1024u * 1024)
#define NEIGHBOR_TRIES 4

/* ---- helpers ------------------------------------------------------------- */

static void *scratch(struct worker *w, size_t bytes)
{
	if (bytes > w->scratch_cap) {
		void *p = realloc(w->scratch, bytes);
		if (!p)
			return NULL;
		w->scratch = p;
		w->scratch_cap = bytes;
	}
	return w->scratch;
}

static void scratch_trim(struct worker *w)
{
	if (w->scratch_cap > SCRATCH_KEEP) {
		free(w->scratch);
		w->scratch = NULL;
		w->scratch_cap = 0;
	}
}

static void put_id(struct mpbuf *b, const sutra_id *id)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(id, hex);
	mp_put_str(b, hex, SUTRA_ID_HEX - 1);
}

static void parse_id(const struct pstr *s, sutra_id *out)
{
	sutra_id_parse(s->p, s->n, out);
}

static uint64_t uptime_s(const struct server *s)
{
	return (now_ns() - s->start_ns) / 1000000000ull;
}

static int engine_error(struct mpbuf *out, int enc, int rc)
{
	const char *msg = sutra_last_error();

	rb_error(out, enc, "%s", msg && *msg ? msg : sutra_strerror(rc));
	return DISPATCH_DONE;
}

/* ---- reads --------------------------------------------------------------- */

static int query_concept(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_concept *k = NULL;
	sutra_id id;
	int rc;

	parse_id(&r->u.concept_id, &id);
	rc = sutra_get(c->w->srv->db, &id, &k);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, c->enc, rc);
	rb_begin(out, c->enc, "QueryConceptOk", 5);
	rb_key(out, c->enc, "found");
	mp_put_bool(out, k != NULL);
	rb_key(out, c->enc, "concept_id");
	if (k)
		put_id(out, &k->id);
	else
		mp_put_str(out, "", 0);
	rb_key(out, c->enc, "content");
	mp_put_str(out, k ? k->content : "", k ? k->content_len : 0);
	rb_key(out, c->enc, "strength");
	mp_put_f32(out, k ? k->strength : 0.0f);
	rb_key(out, c->enc, "confidence");
	mp_put_f32(out, k ? k->confidence : 0.0f);
	sutra_concept_free(k);
	return DISPATCH_DONE;
}

/* Neighbours of id in both directions, of any type, into the worker's
 * scratch; *n = 0 for an unknown concept. The engine reports the total, so
 * a second call with room for all of them normally completes the list. */
static int neighbors_all(struct worker *w, const sutra_id *id, sutra_neighbor **out, size_t *n)
{
	size_t cap = 256, total = 0;

	for (int tries = 0; tries < NEIGHBOR_TRIES; tries++) {
		sutra_neighbor *buf = scratch(w, cap * sizeof *buf);
		if (!buf)
			return SUTRA_ENOMEM;
		int rc = sutra_neighbors(w->srv->db, id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, buf, cap,
		                         &total);
		if (rc == SUTRA_ENOTFOUND) {
			*n = 0;
			return 0;
		}
		if (rc < 0)
			return rc;
		*out = buf;
		*n = total < cap ? total : cap;
		if (total <= cap)
			return 0;
		cap = total + total / 8; /* edges may be added meanwhile */
	}
	return 0; /* still growing: serve what was read */
}

static int cmp_neighbor_id(const void *a, const void *b)
{
	return memcmp(((const sutra_neighbor *)a)->id.b, ((const sutra_neighbor *)b)->id.b,
	              SUTRA_ID_BYTES);
}

static int get_neighbors(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_neighbor *nb = NULL;
	size_t n = 0, k = 0;
	sutra_id id;

	parse_id(&r->u.concept_id, &id);
	int rc = neighbors_all(c->w, &id, &nb, &n);
	if (rc < 0)
		return engine_error(out, c->enc, rc);
	/* An edge in each direction, or of several types, names the same
	 * neighbour more than once: sort and keep one of each. */
	if (n > 1)
		qsort(nb, n, sizeof *nb, cmp_neighbor_id);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || memcmp(nb[k - 1].id.b, nb[i].id.b, SUTRA_ID_BYTES) != 0)
			nb[k++] = nb[i];
	rb_begin(out, c->enc, "GetNeighborsOk", 1);
	rb_key(out, c->enc, "neighbor_ids");
	mp_put_array(out, (uint32_t)k);
	for (size_t i = 0; i < k; i++)
		put_id(out, &nb[i].id);
	scratch_trim(c->w);
	return DISPATCH_DONE;
}

static int find_path(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_id from, to, path[SUTRA_MAX_PATH_DEPTH + 1];
	uint32_t depth = r->u.find_path.max_depth;
	size_t len = 0;

	if (depth > SUTRA_MAX_PATH_DEPTH) /* the decoder's limit; never trust it twice */
		depth = SUTRA_MAX_PATH_DEPTH;
	parse_id(&r->u.find_path.start, &from);
	parse_id(&r->u.find_path.end, &to);
	int rc = sutra_find_path(c->w->srv->db, &from, &to, depth, path, &len);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, c->enc, rc);
	if (rc < 0)
		len = 0;
	rb_begin(out, c->enc, "FindPathOk", 2);
	rb_key(out, c->enc, "found");
	mp_put_bool(out, rc == 0);
	rb_key(out, c->enc, "path");
	mp_put_array(out, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		put_id(out, &path[i]);
	return DISPATCH_DONE;
}

bool dispatch_query_dim_ok(const struct conn *c, uint32_t dim, int enc, struct mpbuf *out)
{
	uint32_t want = c->w->srv->cfg.engine.dimension;

	if (dim == want)
		return true;
	rb_error(out, enc, "Query vector dimension mismatch: got %u, expected %u", dim, want);
	return false;
}

void dispatch_search_reply(struct mpbuf *out, int enc, const sutra_hit *hits, size_t n)
{
	rb_begin(out, enc, "VectorSearchOk", 1);
	rb_key(out, enc, "results");
	mp_put_array(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mp_put_array(out, 2);
		put_id(out, &hits[i].id);
		mp_put_f32(out, hits[i].similarity);
	}
}

static int vector_search(struct conn *c, const struct request *r, struct mpbuf *out)
{
	uint32_t dim = r->u.vector_search.dim, k = r->u.vector_search.k;
	sutra_hit *hits = NULL;
	size_t n = 0;

	if (!dispatch_query_dim_ok(c, dim, c->enc, out))
		return DISPATCH_DONE;
	if (k > 0) {
		if (!(hits = scratch(c->w, (size_t)k * sizeof *hits)))
			return engine_error(out, c->enc, SUTRA_ENOMEM);
		int rc = sutra_vector_search(c->w->srv->db, r->u.vector_search.vec, dim, k,
		                             r->u.vector_search.ef_search, hits, &n);
		if (rc < 0)
			return engine_error(out, c->enc, rc);
	}
	dispatch_search_reply(out, c->enc, hits, n);
	return DISPATCH_DONE;
}

static int get_stats(struct conn *c, struct mpbuf *out)
{
	struct server *s = c->w->srv;
	sutra_stats st;
	int rc = sutra_stats_get(s->db, &st);

	if (rc < 0)
		return engine_error(out, c->enc, rc);
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {{"concepts", st.concepts},
	         {"edges", st.associations},
	         {"vectors", st.vectors},
	         {"written", st.ops_written},
	         {"dropped", st.ops_dropped},
	         {"pending", st.pending_records},
	         {"reconciliations", st.sched_cycles},
	         {"uptime_seconds", uptime_s(s)}};
	rb_begin(out, c->enc, "StatsOk", 8);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		rb_key(out, c->enc, f[i].name);
		mp_put_uint(out, f[i].v);
	}
	return DISPATCH_DONE;
}

static int health_check(struct conn *c, struct mpbuf *out)
{
	struct server *s = c->w->srv;
	int rc = sutra_health(s->db);
	sutra_stats st;
	const char *status = "healthy";

	if (rc != 0) {
		status = sutra_strerror(rc);
		if (sutra_stats_get(s->db, &st) == 0 && st.sticky_message[0])
			status = st.sticky_message;
	}
	rb_begin(out, c->enc, "HealthCheckOk", 3);
	rb_key(out, c->enc, "healthy");
	mp_put_bool(out, rc == 0);
	rb_key(out, c->enc, "status");
	mp_put_cstr(out, status);
	rb_key(out, c->enc, "uptime_seconds");
	mp_put_uint(out, uptime_s(s));
	return DISPATCH_DONE;
}

/* ---- routing ------------------------------------------------------------- */

int dispatch_encoding(const struct conn *c, int kind)
{
	return kind >= REQ_DELETE_CONCEPT ? ENC_NAMED : c->enc;
}

int dispatch_request(struct conn *c, const struct request *r, struct mpbuf *out)
{
	switch (r->kind) {
	case REQ_QUERY_CONCEPT:
		return query_concept(c, r, out);
	case REQ_GET_NEIGHBORS:
		return get_neighbors(c, r, out);
	case REQ_FIND_PATH:
		return find_path(c, r, out);
	case REQ_VECTOR_SEARCH:
		return vector_search(c, r, out);
	case REQ_GET_STATS:
		return get_stats(c, out);
	case REQ_HEALTH_CHECK:
		return health_check(c, out);
	case REQ_FIND_PATH_SEMANTIC:
	case REQ_FIND_TEMPORAL_CHAIN:
	case REQ_FIND_CAUSAL_CHAIN:
	case REQ_FIND_CONTRADICTIONS:
	case REQ_QUERY_BY_SEMANTIC:
		rb_error(out, c->enc, "semantic analysis is not enabled on this server");
		return DISPATCH_DONE;
	case REQ_GET_CONCEPT:
	case REQ_GET_NEIGHBORS_DETAILED:
	case REQ_SERVER_INFO:
	case REQ_STATS_EXTENDED:
	case REQ_SET_ENCODING:
	case REQ_VECTOR_SEARCH_FILTERED:
		return dispatch_ext(c, r, out);
	case REQ_FIND_PATH_EX:
	case REQ_FIND_PATHS:
	case REQ_FIND_BEST_PATH:
	case REQ_KHOP:
	case REQ_HYBRID_SEARCH:
		return dispatch_graph(c, r, out);
	default:
		return dispatch_write(c, r, out);
	}
}

int dispatch_class(int kind)
{
	switch (kind) {
	case REQ_LEARN_CONCEPT_V2:
	case REQ_LEARN_BATCH:
	case REQ_LEARN_CONCEPT:
	case REQ_LEARN_ASSOCIATION:
	case REQ_DELETE_CONCEPT:
	case REQ_DELETE_ASSOCIATION:
	case REQ_LEARN_CONCEPTS:
	case REQ_LEARN_ASSOCIATIONS:
		return DISPATCH_WRITE;
	case REQ_FLUSH:
	case REQ_SYNC:
	case REQ_CHECKPOINT:
		return DISPATCH_BLOCKING;
	default:
		return DISPATCH_READ;
	}
}

void dispatch_finish(struct slot *s, struct mpbuf *out)
{
	dispatch_write_finish(s, out);
	dispatch_pending_free(&s->pend);
}

void dispatch_pending_free(struct pending *p)
{
	free(p->hashes);
	free(p->ids);
	memset(p, 0, sizeof *p);
}
