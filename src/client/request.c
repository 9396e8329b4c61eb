/* request.c - request builders: one framed request per call, queued on the
 * connection.
 *
 * A request is written into the connection's scratch buffer with the
 * protocol module's MessagePack writers, then copied behind its 4-byte
 * big-endian length into the output queue. The form flags decide the shape:
 * {name: {field: value}} (default), {name: [values in field order]}
 * (SC_FORM_ARRAY; nested structs follow the same form), the wire index
 * instead of the name for the Rust variants 0..15 (SC_FORM_INDEX), and unit
 * variants as {name: nil} (SC_FORM_UNIT_MAP) rather than the bare name.
 * Field orders are those of the protocol tables (docs/PROTOCOL.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

#define NO_INDEX (-1)

/* ---- frame plumbing ------------------------------------------------------------- */

static struct mpbuf *begin_frame(struct sc_conn *c)
{
	mpbuf_reset(&c->req);
	return &c->req;
}

static bool bytes_append(struct sc_bytes *o, const void *p, size_t n)
{
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *np;

		while (cap - o->len < n) {
			if (cap > SIZE_MAX / 2)
				return false;
			cap *= 2;
		}
		if (!(np = realloc(o->p, cap)))
			return false;
		o->p = np, o->cap = cap;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return true;
}

static int end_frame(struct sc_conn *c)
{
	struct mpbuf *b = &c->req;
	size_t len = c->out.len;
	uint8_t head[4];

	if (b->oom)
		return SC_ENOMEM;
	if (b->len > UINT32_MAX) {
		snprintf(c->err, sizeof c->err, "request of %zu bytes cannot be framed", b->len);
		return SC_EINVAL;
	}
	head[0] = (uint8_t)(b->len >> 24), head[1] = (uint8_t)(b->len >> 16);
	head[2] = (uint8_t)(b->len >> 8), head[3] = (uint8_t)b->len;
	if (!bytes_append(&c->out, head, 4) || !bytes_append(&c->out, b->p, b->len)) {
		c->out.len = len;
		return SC_ENOMEM;
	}
	c->queued++;
	return 0;
}

int sc_req_raw(struct sc_conn *c, const void *payload, size_t n)
{
	size_t len = c->out.len;
	uint8_t head[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

	if (n > UINT32_MAX)
		return SC_EINVAL;
	if (!bytes_append(&c->out, head, 4) || !bytes_append(&c->out, payload, n)) {
		c->out.len = len;
		return SC_ENOMEM;
	}
	c->queued++;
	return 0;
}

/* ---- shapes ------------------------------------------------------------------------ */

static bool arrays(const struct sc_conn *c)
{
	return c->form & SC_FORM_ARRAY;
}

/* The variant key, then the payload header for nfields fields (nothing for
 * a unit variant in bare form). */
static void head(struct sc_conn *c, int index, const char *name, uint32_t nfields)
{
	struct mpbuf *b = &c->req;
	bool unit = nfields == 0;

	if (!unit || (c->form & SC_FORM_UNIT_MAP))
		mp_put_map(b, 1);
	if ((c->form & SC_FORM_INDEX) && index != NO_INDEX)
		mp_put_uint(b, (uint64_t)index);
	else
		mp_put_cstr(b, name);
	if (unit) {
		if (c->form & SC_FORM_UNIT_MAP)
			mp_put_nil(b);
		return;
	}
	if (arrays(c))
		mp_put_array(b, nfields);
	else
		mp_put_map(b, nfields);
}

/* A nested struct of n fields (LearnOptions, SemanticFilter, items). */
static void object(struct sc_conn *c, uint32_t n)
{
	if (arrays(c))
		mp_put_array(&c->req, n);
	else
		mp_put_map(&c->req, n);
}

static void key(struct sc_conn *c, const char *field)
{
	if (!arrays(c))
		mp_put_cstr(&c->req, field);
}

static void put_opt_str(struct mpbuf *b, const char *s)
{
	if (s)
		mp_put_cstr(b, s);
	else
		mp_put_nil(b);
}

static void put_f32s(struct mpbuf *b, const float *v, uint32_t n)
{
	mp_put_array(b, n);
	for (uint32_t i = 0; i < n; i++)
		mp_put_f32(b, v[i]);
}

static int unit(struct sc_conn *c, int index, const char *name)
{
	begin_frame(c);
	head(c, index, name, 0);
	return end_frame(c);
}

/* {name: {field: id}} for the requests that carry one concept id. */
static int one_id(struct sc_conn *c, int index, const char *name, const char *id)
{
	begin_frame(c);
	head(c, index, name, 1);
	key(c, "concept_id");
	mp_put_cstr(&c->req, id);
	return end_frame(c);
}

/* ---- nested structs ---------------------------------------------------------------------- */

void sc_learn_options_default(struct sc_learn_options *o)
{
	memset(o, 0, sizeof *o);
	o->min_association_confidence = 0.5f;
	o->max_associations_per_concept = 10;
	o->strength = 1.0f;
	o->confidence = 1.0f;
}

static void put_options(struct sc_conn *c, const struct sc_learn_options *o)
{
	struct sc_learn_options def;
	struct mpbuf *b = &c->req;

	if (!o)
		sc_learn_options_default(&def), o = &def;
	object(c, 7);
	key(c, "generate_embedding"), mp_put_bool(b, o->generate_embedding);
	key(c, "embedding_model"), put_opt_str(b, o->embedding_model);
	key(c, "extract_associations"), mp_put_bool(b, o->extract_associations);
	key(c, "min_association_confidence"), mp_put_f32(b, o->min_association_confidence);
	key(c, "max_associations_per_concept"), mp_put_uint(b, o->max_associations_per_concept);
	key(c, "strength"), mp_put_f32(b, o->strength);
	key(c, "confidence"), mp_put_f32(b, o->confidence);
}

static void put_filter(struct sc_conn *c, const struct sc_semantic_filter *f)
{
	struct sc_semantic_filter none;
	struct mpbuf *b = &c->req;

	if (!f)
		memset(&none, 0, sizeof none), f = &none;
	object(c, 7);
	key(c, "semantic_type"), put_opt_str(b, f->semantic_type);
	key(c, "domain_context"), put_opt_str(b, f->domain_context);
	key(c, "temporal_after");
	f->has_after ? mp_put_int(b, f->temporal_after) : mp_put_nil(b);
	key(c, "temporal_before");
	f->has_before ? mp_put_int(b, f->temporal_before) : mp_put_nil(b);
	key(c, "has_causal_relation"), mp_put_bool(b, f->has_causal_relation);
	key(c, "min_confidence"), mp_put_f32(b, f->min_confidence);
	key(c, "required_terms"), mp_put_array(b, (uint32_t)f->n_terms);
	for (size_t i = 0; i < f->n_terms; i++)
		mp_put_cstr(b, f->required_terms[i]);
}

/* ---- the Rust variants ----------------------------------------------------------------------- */

int sc_req_learn_v2(struct sc_conn *c, const char *content, size_t len,
                    const struct sc_learn_options *o)
{
	begin_frame(c);
	head(c, 0, "LearnConceptV2", 2);
	key(c, "content"), mp_put_str(&c->req, content, len);
	key(c, "options"), put_options(c, o);
	return end_frame(c);
}

int sc_req_learn_batch(struct sc_conn *c, const char *const *contents, const size_t *lens, size_t n,
                       const struct sc_learn_options *o)
{
	if (n > UINT32_MAX)
		return SC_EINVAL;
	begin_frame(c);
	head(c, 1, "LearnBatch", 2);
	key(c, "contents"), mp_put_array(&c->req, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		mp_put_str(&c->req, contents[i], lens ? lens[i] : strlen(contents[i]));
	key(c, "options"), put_options(c, o);
	return end_frame(c);
}

int sc_req_learn_concept(struct sc_conn *c, const char *id, const char *content, size_t len,
                         const float *embedding, uint32_t dim, float strength, float confidence)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 2, "LearnConcept", 5);
	key(c, "concept_id"), mp_put_cstr(b, id);
	key(c, "content"), mp_put_str(b, content, len);
	key(c, "embedding"), put_f32s(b, embedding, embedding ? dim : 0);
	key(c, "strength"), mp_put_f32(b, strength);
	key(c, "confidence"), mp_put_f32(b, confidence);
	return end_frame(c);
}

int sc_req_learn_association(struct sc_conn *c, const char *source, const char *target,
                             uint32_t type, float confidence)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 3, "LearnAssociation", 4);
	key(c, "source_id"), mp_put_cstr(b, source);
	key(c, "target_id"), mp_put_cstr(b, target);
	key(c, "assoc_type"), mp_put_uint(b, type);
	key(c, "confidence"), mp_put_f32(b, confidence);
	return end_frame(c);
}

int sc_req_query_concept(struct sc_conn *c, const char *id)
{
	return one_id(c, 4, "QueryConcept", id);
}

int sc_req_get_neighbors(struct sc_conn *c, const char *id)
{
	return one_id(c, 5, "GetNeighbors", id);
}

int sc_req_find_path(struct sc_conn *c, const char *start, const char *end, uint32_t max_depth)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 6, "FindPath", 3);
	key(c, "start_id"), mp_put_cstr(b, start);
	key(c, "end_id"), mp_put_cstr(b, end);
	key(c, "max_depth"), mp_put_uint(b, max_depth);
	return end_frame(c);
}

int sc_req_vector_search(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k,
                         uint32_t ef_search)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 7, "VectorSearch", 3);
	key(c, "query_vector"), put_f32s(b, query, query ? dim : 0);
	key(c, "k"), mp_put_uint(b, k);
	key(c, "ef_search"), mp_put_uint(b, ef_search);
	return end_frame(c);
}

int sc_req_find_path_semantic(struct sc_conn *c, const char *start, const char *end,
                              const struct sc_semantic_filter *f, uint32_t max_depth,
                              uint32_t max_paths)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 8, "FindPathSemantic", 5);
	key(c, "start_id"), mp_put_cstr(b, start);
	key(c, "end_id"), mp_put_cstr(b, end);
	key(c, "filter"), put_filter(c, f);
	key(c, "max_depth"), mp_put_uint(b, max_depth);
	key(c, "max_paths"), mp_put_uint(b, max_paths);
	return end_frame(c);
}

int sc_req_find_temporal_chain(struct sc_conn *c, const char *domain, int64_t start_time,
                               int64_t end_time)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 9, "FindTemporalChain", 3);
	key(c, "domain"), put_opt_str(b, domain);
	key(c, "start_time"), mp_put_int(b, start_time);
	key(c, "end_time"), mp_put_int(b, end_time);
	return end_frame(c);
}

int sc_req_find_causal_chain(struct sc_conn *c, const char *start, const char *causal_type,
                             uint32_t max_depth)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 10, "FindCausalChain", 3);
	key(c, "start_id"), mp_put_cstr(b, start);
	key(c, "causal_type"), mp_put_cstr(b, causal_type);
	key(c, "max_depth"), mp_put_uint(b, max_depth);
	return end_frame(c);
}

int sc_req_find_contradictions(struct sc_conn *c, const char *domain)
{
	begin_frame(c);
	head(c, 11, "FindContradictions", 1);
	key(c, "domain"), mp_put_cstr(&c->req, domain);
	return end_frame(c);
}

int sc_req_query_by_semantic(struct sc_conn *c, const struct sc_semantic_filter *f, int64_t limit)
{
	struct mpbuf *b = begin_frame(c);

	head(c, 12, "QueryBySemantic", 2);
	key(c, "filter"), put_filter(c, f);
	key(c, "limit");
	limit < 0 ? mp_put_nil(b) : mp_put_uint(b, (uint64_t)limit);
	return end_frame(c);
}

int sc_req_get_stats(struct sc_conn *c)
{
	return unit(c, 13, "GetStats");
}

int sc_req_flush(struct sc_conn *c)
{
	return unit(c, 14, "Flush");
}

int sc_req_health_check(struct sc_conn *c)
{
	return unit(c, 15, "HealthCheck");
}

/* ---- extensions ------------------------------------------------------------------------------ */

int sc_req_delete_concept(struct sc_conn *c, const char *id)
{
	return one_id(c, NO_INDEX, "DeleteConcept", id);
}

int sc_req_get_concept(struct sc_conn *c, const char *id)
{
	return one_id(c, NO_INDEX, "GetConcept", id);
}

int sc_req_delete_association(struct sc_conn *c, const char *source, const char *target,
                              uint32_t type)
{
	struct mpbuf *b = begin_frame(c);

	head(c, NO_INDEX, "DeleteAssociation", 3);
	key(c, "source_id"), mp_put_cstr(b, source);
	key(c, "target_id"), mp_put_cstr(b, target);
	key(c, "assoc_type"), mp_put_uint(b, type);
	return end_frame(c);
}

int sc_req_get_neighbors_detailed(struct sc_conn *c, const char *id, int direction, int type,
                                  uint32_t limit)
{
	static const char *const dirs[] = {"both", "out", "in", "both"};
	struct mpbuf *b = begin_frame(c);

	if (direction < SC_DIR_OUT || direction > SC_DIR_BOTH)
		return SC_EINVAL;
	head(c, NO_INDEX, "GetNeighborsDetailed", 4);
	key(c, "concept_id"), mp_put_cstr(b, id);
	key(c, "direction"), mp_put_cstr(b, dirs[direction]);
	key(c, "assoc_type");
	type < 0 ? mp_put_nil(b) : mp_put_uint(b, (uint64_t)type);
	key(c, "limit"), mp_put_uint(b, limit);
	return end_frame(c);
}

static void put_meta(struct sc_conn *c, const struct sc_meta *m, size_t n)
{
	mp_put_map(&c->req, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mp_put_cstr(&c->req, m[i].key);
		mp_put_cstr(&c->req, m[i].value);
	}
}

static void put_concept_item(struct sc_conn *c, const struct sc_concept_item *it)
{
	struct mpbuf *b = &c->req;

	object(c, 6);
	key(c, "concept_id"), mp_put_cstr(b, it->id);
	key(c, "content"), mp_put_str(b, it->content, it->content_len);
	key(c, "vector");
	it->vector ? put_f32s(b, it->vector, it->dim) : mp_put_nil(b);
	key(c, "strength"), mp_put_f32(b, it->strength);
	key(c, "confidence"), mp_put_f32(b, it->confidence);
	key(c, "metadata"), put_meta(c, it->meta, it->meta_count);
}

int sc_req_learn_concepts(struct sc_conn *c, const struct sc_concept_item *items, size_t n)
{
	if (n > UINT32_MAX)
		return SC_EINVAL;
	begin_frame(c);
	head(c, NO_INDEX, "LearnConcepts", 1);
	key(c, "concepts"), mp_put_array(&c->req, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_concept_item(c, &items[i]);
	return end_frame(c);
}

int sc_req_learn_associations(struct sc_conn *c, const struct sc_assoc_item *items, size_t n)
{
	struct mpbuf *b = begin_frame(c);

	if (n > UINT32_MAX)
		return SC_EINVAL;
	head(c, NO_INDEX, "LearnAssociations", 1);
	key(c, "associations"), mp_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		object(c, 4);
		key(c, "source_id"), mp_put_cstr(b, items[i].source);
		key(c, "target_id"), mp_put_cstr(b, items[i].target);
		key(c, "assoc_type"), mp_put_uint(b, items[i].type);
		key(c, "confidence"), mp_put_f32(b, items[i].confidence);
	}
	return end_frame(c);
}

int sc_req_sync(struct sc_conn *c)
{
	return unit(c, NO_INDEX, "Sync");
}

int sc_req_checkpoint(struct sc_conn *c)
{
	return unit(c, NO_INDEX, "Checkpoint");
}

int sc_req_server_info(struct sc_conn *c)
{
	return unit(c, NO_INDEX, "ServerInfo");
}

int sc_req_stats_extended(struct sc_conn *c)
{
	return unit(c, NO_INDEX, "StatsExtended");
}

int sc_req_set_encoding(struct sc_conn *c, bool named)
{
	begin_frame(c);
	head(c, NO_INDEX, "SetEncoding", 1);
	key(c, "named"), mp_put_bool(&c->req, named);
	return end_frame(c);
}

static void put_opt_uint(struct mpbuf *b, bool given, uint64_t v)
{
	if (given)
		mp_put_uint(b, v);
	else
		mp_put_nil(b);
}

static void put_vector_filter(struct sc_conn *c, const struct sc_vector_filter *f)
{
	static const char *const dirs[] = {NULL, "out", "in", "both"};
	struct mpbuf *b = &c->req;

	object(c, 7);
	key(c, "meta_key"), put_opt_str(b, f->meta_key);
	key(c, "meta_value"), put_opt_str(b, f->meta_value);
	key(c, "reachable_from"), put_opt_str(b, f->reachable_from);
	key(c, "assoc_type"), put_opt_uint(b, f->type >= 0, (uint64_t)f->type);
	key(c, "direction"), put_opt_str(b, dirs[f->direction]);
	key(c, "max_depth"), put_opt_uint(b, f->max_depth > 0, f->max_depth);
	key(c, "ids");
	if (!f->ids) {
		mp_put_nil(b);
		return;
	}
	mp_put_array(b, (uint32_t)f->id_count);
	for (size_t i = 0; i < f->id_count; i++)
		mp_put_cstr(b, f->ids[i]);
}

int sc_req_vector_search_filtered(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k,
                                  uint32_t ef_search, const struct sc_vector_filter *f)
{
	struct mpbuf *b = begin_frame(c);

	if (f && (f->direction < 0 || f->direction > SC_DIR_BOTH || f->id_count > UINT32_MAX)) {
		snprintf(c->err, sizeof c->err, "bad filter (direction %d, %zu ids)", f->direction,
		         f->id_count);
		return SC_EINVAL;
	}
	head(c, NO_INDEX, "VectorSearchFiltered", 4);
	key(c, "query_vector"), put_f32s(b, query, query ? dim : 0);
	key(c, "k"), mp_put_uint(b, k);
	key(c, "ef_search"), mp_put_uint(b, ef_search);
	key(c, "filter");
	f ? put_vector_filter(c, f) : mp_put_nil(b);
	return end_frame(c);
}

/* ---- graph queries ------------------------------------------------------------------------- */

void sc_graph_query_default(struct sc_graph_query *q)
{
	*q = (struct sc_graph_query){.type = -1, .direction = 0, .max_depth = -1, .max_visited = 0};
}

static void put_graph_query(struct sc_conn *c, const struct sc_graph_query *q)
{
	static const char *const dirs[] = {NULL, "out", "in", "both"};
	struct mpbuf *b = &c->req;

	if (!q) {
		mp_put_nil(b);
		return;
	}
	object(c, 4);
	key(c, "assoc_type"), put_opt_uint(b, q->type >= 0, (uint64_t)q->type);
	key(c, "direction"), put_opt_str(b, dirs[q->direction]);
	key(c, "max_depth"), put_opt_uint(b, q->max_depth >= 0, (uint64_t)q->max_depth);
	key(c, "max_visited"), put_opt_uint(b, q->max_visited > 0, q->max_visited);
}

static bool graph_query_ok(struct sc_conn *c, const struct sc_graph_query *q)
{
	if (!q || (q->direction >= 0 && q->direction <= SC_DIR_BOTH))
		return true;
	snprintf(c->err, sizeof c->err, "bad graph query direction %d", q->direction);
	return false;
}

/* FindPathEx and FindBestPath: {start_id, end_id, query}. */
static int path_request(struct sc_conn *c, const char *name, const char *start, const char *end,
                        const struct sc_graph_query *q)
{
	struct mpbuf *b = begin_frame(c);

	if (!graph_query_ok(c, q))
		return SC_EINVAL;
	head(c, NO_INDEX, name, 3);
	key(c, "start_id"), mp_put_cstr(b, start);
	key(c, "end_id"), mp_put_cstr(b, end);
	key(c, "query"), put_graph_query(c, q);
	return end_frame(c);
}

int sc_req_find_path_ex(struct sc_conn *c, const char *start, const char *end,
                        const struct sc_graph_query *q)
{
	return path_request(c, "FindPathEx", start, end, q);
}

int sc_req_find_best_path(struct sc_conn *c, const char *start, const char *end,
                          const struct sc_graph_query *q)
{
	return path_request(c, "FindBestPath", start, end, q);
}

int sc_req_find_paths(struct sc_conn *c, const char *start, const char *end,
                      const struct sc_graph_query *q, uint32_t max_paths, bool k_shortest)
{
	struct mpbuf *b = begin_frame(c);

	if (!graph_query_ok(c, q))
		return SC_EINVAL;
	head(c, NO_INDEX, "FindPaths", 5);
	key(c, "start_id"), mp_put_cstr(b, start);
	key(c, "end_id"), mp_put_cstr(b, end);
	key(c, "query"), put_graph_query(c, q);
	key(c, "max_paths"), put_opt_uint(b, max_paths > 0, max_paths);
	key(c, "k_shortest"), mp_put_bool(b, k_shortest);
	return end_frame(c);
}

int sc_req_khop(struct sc_conn *c, const char *id, const struct sc_graph_query *q, uint32_t limit)
{
	struct mpbuf *b = begin_frame(c);

	if (!graph_query_ok(c, q))
		return SC_EINVAL;
	head(c, NO_INDEX, "KHop", 3);
	key(c, "concept_id"), mp_put_cstr(b, id);
	key(c, "query"), put_graph_query(c, q);
	key(c, "limit"), put_opt_uint(b, limit > 0, limit);
	return end_frame(c);
}

int sc_req_hybrid_search(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k_seeds,
                         uint32_t ef_search, const struct sc_graph_query *q, uint32_t limit)
{
	struct mpbuf *b = begin_frame(c);

	if (!graph_query_ok(c, q))
		return SC_EINVAL;
	head(c, NO_INDEX, "HybridSearch", 5);
	key(c, "query_vector"), put_f32s(b, query, query ? dim : 0);
	key(c, "k_seeds"), put_opt_uint(b, k_seeds > 0, k_seeds);
	key(c, "ef_search"), mp_put_uint(b, ef_search);
	key(c, "query"), put_graph_query(c, q);
	key(c, "limit"), put_opt_uint(b, limit > 0, limit);
	return end_frame(c);
}
