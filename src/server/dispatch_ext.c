/* dispatch_ext.c - the extension reads: GetConcept, GetNeighborsDetailed,
 * VectorSearchFiltered, ServerInfo, StatsExtended and SetEncoding.
 *
 * The Rust server had none of these, so no old client depends on their
 * bytes: their replies are always in the named form (a map keyed by field
 * name), whatever the connection's encoding, and so are their errors.
 * Shapes are those of docs/PROTOCOL.md. GetNeighborsDetailed returns at most
 * NEIGHBORS_MAX entries (or the client's smaller limit) and says whether it
 * cut the list. VectorSearchFiltered answers VectorSearchOk, the shape
 * clients already read, named like every extension reply.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "server/dispatch.h"

#define NEIGHBORS_MAX 10000

static void put_id(struct mpbuf *b, const sutra_id *id)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(id, hex);
	mp_put_str(b, hex, SUTRA_ID_HEX - 1);
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

/* ---- GetConcept ---------------------------------------------------------- */

static void put_meta(struct mpbuf *b, const sutra_concept *k)
{
	const char *mk, *mv;
	size_t pos = 0;

	mp_put_map(b, k ? k->meta_count : 0);
	while (k && sutra_meta_next(k, &pos, &mk, &mv)) {
		mp_put_cstr(b, mk);
		mp_put_cstr(b, mv);
	}
}

static int get_concept(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_concept *k = NULL;
	sutra_id id;

	sutra_id_parse(r->u.concept_id.p, r->u.concept_id.n, &id);
	int rc = sutra_get(c->w->srv->db, &id, &k);
	if (rc < 0 && rc != SUTRA_ENOTFOUND)
		return engine_error(out, rc);
	rb_begin(out, ENC_NAMED, "GetConceptOk", 11);
	key(out, "found");
	mp_put_bool(out, k != NULL);
	key(out, "concept_id");
	if (k)
		put_id(out, &k->id);
	else
		mp_put_str(out, "", 0);
	key(out, "content");
	mp_put_str(out, k ? k->content : "", k ? k->content_len : 0);
	key(out, "vector");
	if (k && k->vector) {
		mp_put_array(out, k->vector_dim);
		for (uint32_t i = 0; i < k->vector_dim; i++)
			mp_put_f32(out, k->vector[i]);
	} else {
		mp_put_nil(out);
	}
	key(out, "strength");
	mp_put_f32(out, k ? k->strength : 0.0f);
	key(out, "confidence");
	mp_put_f32(out, k ? k->confidence : 0.0f);
	key(out, "created_us");
	mp_put_uint(out, k ? k->created_us : 0);
	key(out, "updated_us");
	mp_put_uint(out, k ? k->updated_us : 0);
	key(out, "metadata");
	put_meta(out, k);
	key(out, "out_degree");
	mp_put_uint(out, k ? k->out_degree : 0);
	key(out, "in_degree");
	mp_put_uint(out, k ? k->in_degree : 0);
	sutra_concept_free(k);
	return DISPATCH_DONE;
}

/* ---- GetNeighborsDetailed ------------------------------------------------ */

static int neighbors_detailed(struct conn *c, const struct request *r, struct mpbuf *out)
{
	uint32_t limit = r->u.neighbors_detailed.limit;
	size_t total = 0, n;
	sutra_id id;

	if (limit == 0 || limit > NEIGHBORS_MAX)
		limit = NEIGHBORS_MAX;
	sutra_neighbor *nb = malloc((size_t)limit * sizeof *nb);
	if (!nb)
		return engine_error(out, SUTRA_ENOMEM);
	sutra_id_parse(r->u.neighbors_detailed.id.p, r->u.neighbors_detailed.id.n, &id);
	int rc = sutra_neighbors(c->w->srv->db, &id, r->u.neighbors_detailed.direction,
	                         r->u.neighbors_detailed.type, nb, limit, &total);
	if (rc < 0 && rc != SUTRA_ENOTFOUND) {
		free(nb);
		return engine_error(out, rc);
	}
	if (rc < 0)
		total = 0;
	n = total < limit ? total : limit;
	rb_begin(out, ENC_NAMED, "GetNeighborsDetailedOk", 3);
	key(out, "neighbors");
	mp_put_array(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mp_put_map(out, 4);
		mp_put_cstr(out, "concept_id");
		put_id(out, &nb[i].id);
		mp_put_cstr(out, "assoc_type");
		mp_put_uint(out, nb[i].type);
		mp_put_cstr(out, "confidence");
		mp_put_f32(out, nb[i].confidence);
		mp_put_cstr(out, "direction");
		mp_put_cstr(out, nb[i].direction == SUTRA_DIR_IN ? "in" : "out");
	}
	key(out, "total");
	mp_put_uint(out, total);
	key(out, "truncated");
	mp_put_bool(out, total > n);
	free(nb);
	return DISPATCH_DONE;
}

/* ---- VectorSearchFiltered ------------------------------------------------ */

/* What the engine borrows for one filtered search. mem is one allocation
 * holding the parsed ids, room for k hits and the metadata condition as C
 * strings (the engine compares up to the first NUL, as it stored them). */
struct filtered_call {
	sutra_vector_filter f;
	sutra_id reach_from;
	sutra_hit *hits;
	char *mem;
};

static char *copy_cstr(char *dst, const struct pstr *s)
{
	memcpy(dst, s->p, s->n);
	dst[s->n] = '\0';
	return dst + s->n + 1;
}

static void filtered_reach(const struct search_filter *sf, struct filtered_call *fc)
{
	sutra_id_parse(sf->reach_from.p, sf->reach_from.n, &fc->reach_from);
	fc->f.reach_from = &fc->reach_from;
	fc->f.reach_type = sf->reach_type;
	fc->f.reach_direction = sf->reach_direction;
	fc->f.reach_depth = sf->reach_depth;
}

/* Fills fc from the decoded request; false when out of memory. */
static bool filtered_prepare(const struct request *r, struct filtered_call *fc)
{
	const struct search_filter *sf = &r->u.vector_filtered.filter;
	size_t ids = (size_t)sf->id_count * sizeof(sutra_id); /* a multiple of 16: hits align */
	size_t hits = (size_t)r->u.vector_filtered.k * sizeof(sutra_hit);
	size_t meta = sf->has_meta_key ? (size_t)sf->meta_key.n + sf->meta_value.n + 2 : 0;

	memset(fc, 0, sizeof *fc);
	if (!(fc->mem = malloc(ids + hits + meta + 1))) /* + 1: never malloc(0) */
		return false;
	fc->hits = (sutra_hit *)(fc->mem + ids);
	if (sf->has_ids) { /* an empty list is a condition too: nothing matches */
		sutra_id *idv = (sutra_id *)fc->mem;
		for (uint32_t i = 0; i < sf->id_count; i++)
			sutra_id_parse(sf->ids[i].p, sf->ids[i].n, &idv[i]);
		fc->f.ids = idv;
		fc->f.id_count = sf->id_count;
	}
	if (sf->has_meta_key) {
		char *key = fc->mem + ids + hits, *value = copy_cstr(key, &sf->meta_key);
		copy_cstr(value, &sf->meta_value);
		fc->f.meta_key = key;
		fc->f.meta_value = value;
	}
	if (sf->has_reach)
		filtered_reach(sf, fc);
	return true;
}

static int vector_search_filtered(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct filtered_call fc;
	size_t n = 0;

	if (!dispatch_query_dim_ok(c, r->u.vector_filtered.dim, ENC_NAMED, out))
		return DISPATCH_DONE;
	if (!filtered_prepare(r, &fc)) {
		rb_error(out, ENC_NAMED, "out of memory for a filtered search");
		return DISPATCH_DONE;
	}
	/* k = 0 still goes to the engine, so that a bad filter is reported; no
	 * condition at all is the plain search, hit for hit */
	const struct search_filter *sf = &r->u.vector_filtered.filter;
	bool any = sf->has_meta_key || sf->has_reach || sf->has_ids;
	int rc = sutra_vector_search_filtered(c->w->srv->db, r->u.vector_filtered.vec,
	                                      r->u.vector_filtered.dim, r->u.vector_filtered.k,
	                                      r->u.vector_filtered.ef_search, any ? &fc.f : NULL,
	                                      fc.hits, &n);
	if (rc < 0)
		engine_error(out, rc);
	else
		dispatch_search_reply(out, ENC_NAMED, fc.hits, n);
	free(fc.mem);
	return DISPATCH_DONE;
}

/* ---- ServerInfo, StatsExtended, SetEncoding ------------------------------ */

static void put_limits(struct mpbuf *out, const struct server *s)
{
	uint32_t content = s->limits.max_content < s->cfg.engine.max_content_bytes
	                       ? s->limits.max_content
	                       : s->cfg.engine.max_content_bytes;
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
	    {"max_content_bytes", content},
	    {"max_embedding_dim", s->limits.max_dim},
	    {"max_batch_items", s->limits.max_batch},
	    {"max_path_depth", s->limits.max_depth},
	    {"max_k", s->limits.max_k},
	    {"max_filter_ids", s->limits.max_filter_ids},
	    {"max_visited", s->limits.max_visited},
	    {"max_paths", s->limits.max_paths},
	    {"max_khop_limit", s->limits.max_khop},
	    {"max_hybrid_limit", s->limits.max_hybrid},
	    {"max_frame_bytes", s->cfg.max_frame_bytes},
	    {"max_connections", s->cfg.max_connections},
	    {"idle_timeout_ms", s->cfg.idle_timeout_ms},
	};

	mp_put_map(out, sizeof f / sizeof f[0]);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		mp_put_cstr(out, f[i].name);
		mp_put_uint(out, f[i].v);
	}
}

static int server_info(struct conn *c, struct mpbuf *out)
{
	const struct server *s = c->w->srv;
	char durability[32];

	config_durability_text(&s->cfg.engine, durability, sizeof durability);
	rb_begin(out, ENC_NAMED, "ServerInfoOk", 7);
	key(out, "version");
	mp_put_cstr(out, SUTRA_VERSION_STRING);
	key(out, "protocol_version");
	mp_put_uint(out, 1);
	key(out, "encodings");
	mp_put_array(out, 2);
	mp_put_cstr(out, "compact");
	mp_put_cstr(out, "named");
	key(out, "response_encoding");
	mp_put_cstr(out, c->enc == ENC_NAMED ? "named" : "compact");
	key(out, "dimension");
	mp_put_uint(out, s->cfg.engine.dimension);
	key(out, "durability");
	mp_put_cstr(out, durability);
	key(out, "limits");
	put_limits(out, s);
	return DISPATCH_DONE;
}

#define U64(f)                                                                                     \
	{                                                                                          \
#f, offsetof(sutra_stats, f)                                                       \
	}
static const struct {
	const char *name;
	size_t off;
} stats_u64[] = {
    U64(concepts),          U64(associations),        U64(vectors),
    U64(content_bytes),     U64(vector_bytes),        U64(meta_bytes),
    U64(vectors_indexed),   U64(index_lag),           U64(ops_written),
    U64(records_written),   U64(ops_dropped),         U64(busy_rejections),
    U64(wal_next_lsn),      U64(wal_durable_lsn),     U64(wal_segments),
    U64(wal_bytes),         U64(wal_fsyncs),          U64(wal_writes),
    U64(pending_records),   U64(pending_bytes),       U64(checkpoint_lsn),
    U64(checkpoints),       U64(checkpoint_bytes),    U64(checkpoint_last_us),
    U64(recovery_replayed), U64(recovery_torn_bytes), U64(recovery_skipped_ops),
    U64(recovery_us),       U64(sched_cycles),        U64(uptime_us),
    U64(index_ready),       U64(index_loaded),        U64(index_open_us),
    U64(index_deleted),     U64(index_compactions),   U64(txn_active),
    U64(txn_preparing),     U64(txn_prepared),        U64(txn_committed),
    U64(txn_aborted),       U64(txn_timed_out),       U64(txn_recovered),
};
#define F64(f)                                                                                     \
	{                                                                                          \
#f, offsetof(sutra_stats, f)                                                       \
	}
static const struct {
	const char *name;
	size_t off;
} stats_f64[] = {
    F64(queue_depth),     F64(queue_ema),       F64(utilization),      F64(interval_ms),
    F64(processing_rate), F64(predicted_depth), F64(estimated_lag_ms), F64(health_score),
};

/* An array of one map per shard (concepts, vectors, associations whose
 * source lives there, and the shard's WAL figures); empty when unsharded. */
static int put_shard_stats(sutra_db *db, uint32_t shards, struct mpbuf *out)
{
	sutra_shard_stats per[256];
	uint32_t n = 0;

	if (shards == 0 || sutra_shard_stats_get(db, per, 256, &n) < 0)
		n = 0;
	mp_put_array(out, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct {
			const char *k;
			uint64_t v;
		} f[] = {{"concepts", per[i].concepts},
		         {"vectors", per[i].vectors},
		         {"associations", per[i].associations},
		         {"wal_bytes", per[i].wal_bytes},
		         {"wal_segments", per[i].wal_segments},
		         {"wal_fsyncs", per[i].wal_fsyncs},
		         {"wal_next_lsn", per[i].wal_next_lsn},
		         {"pending_records", per[i].pending_records}};
		mp_put_map(out, sizeof f / sizeof f[0]);
		for (size_t j = 0; j < sizeof f / sizeof f[0]; j++) {
			key(out, f[j].k);
			mp_put_uint(out, f[j].v);
		}
	}
	return DISPATCH_DONE;
}

static int stats_extended(struct conn *c, struct mpbuf *out)
{
	const size_t nu = sizeof stats_u64 / sizeof stats_u64[0];
	const size_t nf = sizeof stats_f64 / sizeof stats_f64[0];
	sutra_stats st;
	uint64_t u;
	double f;

	int rc = sutra_stats_get(c->w->srv->db, &st);
	if (rc < 0)
		return engine_error(out, rc);
	rb_begin(out, ENC_NAMED, "StatsExtendedOk", (uint32_t)(nu + nf + 6));
	for (size_t i = 0; i < nu; i++) {
		memcpy(&u, (const char *)&st + stats_u64[i].off, sizeof u);
		key(out, stats_u64[i].name);
		mp_put_uint(out, u);
	}
	for (size_t i = 0; i < nf; i++) {
		memcpy(&f, (const char *)&st + stats_f64[i].off, sizeof f);
		key(out, stats_f64[i].name);
		mp_put_f64(out, f);
	}
	key(out, "read_only");
	mp_put_bool(out, st.read_only != 0);
	key(out, "sticky_error");
	mp_put_int(out, st.sticky_error);
	key(out, "sticky_message");
	mp_put_cstr(out, st.sticky_message);
	key(out, "recommendation");
	mp_put_cstr(out, st.recommendation ? st.recommendation : "");
	key(out, "shards");
	mp_put_uint(out, st.shards);
	key(out, "per_shard");
	return put_shard_stats(c->w->srv->db, st.shards, out);
}

static int set_encoding(struct conn *c, const struct request *r, struct mpbuf *out)
{
	c->enc = r->u.set_encoding.named ? ENC_NAMED : ENC_COMPACT;
	rb_begin(out, ENC_NAMED, "SetEncodingOk", 1);
	key(out, "named");
	mp_put_bool(out, r->u.set_encoding.named);
	return DISPATCH_DONE;
}

int dispatch_ext(struct conn *c, const struct request *r, struct mpbuf *out)
{
	switch (r->kind) {
	case REQ_GET_CONCEPT:
		return get_concept(c, r, out);
	case REQ_GET_NEIGHBORS_DETAILED:
		return neighbors_detailed(c, r, out);
	case REQ_SERVER_INFO:
		return server_info(c, out);
	case REQ_STATS_EXTENDED:
		return stats_extended(c, out);
	case REQ_SET_ENCODING:
		return set_encoding(c, r, out);
	case REQ_VECTOR_SEARCH_FILTERED:
		return vector_search_filtered(c, r, out);
	default:
		rb_error(out, ENC_NAMED, "request kind %d is not supported", r->kind);
		return DISPATCH_DONE;
	}
}
