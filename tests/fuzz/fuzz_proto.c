/* fuzz_proto.c - fuzz target: proto_decode on raw bytes, arena sized by the documented bound.
 *
 * Each input is decoded twice, with the default limits and with tight ones
 * (so the limit paths are reached by small inputs), each time into an arena
 * malloc'd at exactly proto_arena_bound(n) bytes, so ASan sees any write
 * past it and "Request needs more decode memory" would prove the bound in
 * proto.h wrong. A failed decode must leave an error text and the arena as
 * it was. A decoded request must keep the promises of proto.h: strings
 * inside the input, arrays inside the used arena, every limit respected,
 * association types 0..4, finite strengths and confidences, metadata keys
 * 1..255 bytes, filter conditions complete and in range, graph queries and
 * their counts within the limits (defaults included). It is then
 * re-encoded (as a map by field name, and as arrays in field order) and
 * decoded again; both must re-encode to the same bytes, so nothing was lost
 * or misplaced.
 *
 * The input is decoded whole (one payload, as libFuzzer mutates it) and
 * also read as a stream of frames in the wire format (4-byte big-endian
 * length, payload), each frame decoded on its own; so one corpus file can
 * carry many requests and the corpus stays a handful of files. The seeds
 * come from make_proto_corpus.py; SUTRA_FUZZ_VERBOSE=1 prints each
 * payload's outcome.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/proto.h"

#define ERRLEN 256

struct run {
	const uint8_t *in;
	size_t n;
	struct arena a;
	const struct proto_limits *lim;
};

/* ---- promises of a decoded request --------------------------------------- */

static void check_str(const struct run *r, struct pstr s, uint32_t max)
{
	if (s.n == 0)
		return;
	if ((const uint8_t *)s.p < r->in || (const uint8_t *)s.p + s.n > r->in + r->n)
		fuzz_fail("a string lies outside the frame");
	if (s.n > max)
		fuzz_fail("a string of %u bytes passed a limit of %u", s.n, max);
}

static void check_arr(const struct run *r, const void *p, size_t bytes, uint32_t count,
                      uint32_t max)
{
	if (count > max)
		fuzz_fail("an array of %u passed a limit of %u", count, max);
	if (count == 0)
		return;
	if (!p || (const uint8_t *)p < r->a.base ||
	    (const uint8_t *)p + bytes > r->a.base + r->a.used)
		fuzz_fail("an array lies outside the used arena");
}

static void check_score(float x)
{
	if (!isfinite(x))
		fuzz_fail("a non-finite strength or confidence was accepted");
}

static void check_options(const struct learn_options *o)
{
	check_score(o->min_association_confidence);
	check_score(o->strength);
	check_score(o->confidence);
}

static void check_item(const struct run *r, const struct concept_item *it)
{
	check_str(r, it->id, UINT32_MAX);
	check_str(r, it->content, r->lim->max_content);
	check_arr(r, it->vector, (size_t)it->dim * sizeof(float), it->dim, r->lim->max_dim);
	check_score(it->strength);
	check_score(it->confidence);
	check_arr(r, it->meta_keys, it->meta_count * sizeof(struct pstr), it->meta_count,
	          r->lim->max_meta);
	check_arr(r, it->meta_values, it->meta_count * sizeof(struct pstr), it->meta_count,
	          r->lim->max_meta);
	for (uint32_t i = 0; i < it->meta_count; i++) {
		if (it->meta_keys[i].n < 1 || it->meta_keys[i].n > 255)
			fuzz_fail("a metadata key of %u bytes", it->meta_keys[i].n);
		check_str(r, it->meta_keys[i], 255);
		check_str(r, it->meta_values[i], UINT32_MAX);
	}
}

static void check_search_filter(const struct run *r, const struct search_filter *f)
{
	if (f->has_meta_key != f->has_meta_value)
		fuzz_fail("a metadata condition without its other half");
	if (f->has_meta_key && (f->meta_key.n < 1 || f->meta_key.n > 255))
		fuzz_fail("a filter metadata key of %u bytes", f->meta_key.n);
	check_str(r, f->meta_key, 255);
	check_str(r, f->meta_value, UINT32_MAX);
	check_str(r, f->reach_from, UINT32_MAX);
	if (f->has_reach &&
	    (f->reach_type < -1 || f->reach_type > 4 || f->reach_direction < 1 ||
	     f->reach_direction > 3 || f->reach_depth < 1 || f->reach_depth > r->lim->max_depth))
		fuzz_fail("a reachability condition out of range");
	check_arr(r, f->ids, f->id_count * sizeof(struct pstr), f->id_count,
	          r->lim->max_filter_ids);
	for (uint32_t i = 0; i < f->id_count; i++)
		check_str(r, f->ids[i], UINT32_MAX);
}

static void check_graph_query(const struct run *r, const struct graph_query *g)
{
	if (g->type < -1 || g->type > 4 || g->direction < 1 || g->direction > 3 ||
	    g->max_depth > r->lim->max_depth || g->max_visited < 1 ||
	    g->max_visited > r->lim->max_visited)
		fuzz_fail(
		    "a graph query out of range (type %d, direction %d, depth %u, visited %llu)",
		    g->type, g->direction, g->max_depth, (unsigned long long)g->max_visited);
}

static void check_count(uint32_t n, uint32_t max, const char *what)
{
	if (n < 1 || n > max)
		fuzz_fail("%s %u accepted (1..%u)", what, n, max);
}

static void check_graph(const struct run *r, const struct request *q)
{
	const struct proto_limits *l = r->lim;

	switch (q->kind) {
	case REQ_FIND_PATH_EX:
	case REQ_FIND_PATHS:
	case REQ_FIND_BEST_PATH:
		check_str(r, q->u.graph_path.start, UINT32_MAX);
		check_str(r, q->u.graph_path.end, UINT32_MAX);
		check_graph_query(r, &q->u.graph_path.q);
		check_count(q->u.graph_path.max_paths, l->max_paths, "max_paths");
		break;
	case REQ_KHOP:
		check_str(r, q->u.khop.id, UINT32_MAX);
		check_graph_query(r, &q->u.khop.q);
		check_count(q->u.khop.limit, l->max_khop, "KHop limit");
		break;
	case REQ_HYBRID_SEARCH:
		check_arr(r, q->u.hybrid.vec, q->u.hybrid.dim * sizeof(float), q->u.hybrid.dim,
		          l->max_dim);
		check_graph_query(r, &q->u.hybrid.q);
		check_count(q->u.hybrid.k_seeds, l->max_k, "k_seeds");
		check_count(q->u.hybrid.limit, l->max_hybrid, "HybridSearch limit");
		break;
	default:
		break;
	}
}

static void check_lists(const struct run *r, const struct request *q)
{
	const struct proto_limits *l = r->lim;

	switch (q->kind) {
	case REQ_LEARN_BATCH:
		check_options(&q->u.learn_batch.opt);
		check_arr(r, q->u.learn_batch.contents,
		          q->u.learn_batch.count * sizeof(struct pstr), q->u.learn_batch.count,
		          l->max_batch);
		for (uint32_t i = 0; i < q->u.learn_batch.count; i++)
			check_str(r, q->u.learn_batch.contents[i], l->max_content);
		break;
	case REQ_LEARN_CONCEPTS:
		check_arr(r, q->u.learn_concepts.items,
		          q->u.learn_concepts.count * sizeof(struct concept_item),
		          q->u.learn_concepts.count, l->max_batch);
		for (uint32_t i = 0; i < q->u.learn_concepts.count; i++)
			check_item(r, &q->u.learn_concepts.items[i]);
		break;
	case REQ_LEARN_ASSOCIATIONS:
		check_arr(r, q->u.learn_assocs.items,
		          q->u.learn_assocs.count * sizeof(struct assoc_item),
		          q->u.learn_assocs.count, l->max_batch);
		for (uint32_t i = 0; i < q->u.learn_assocs.count; i++) {
			const struct assoc_item *a = &q->u.learn_assocs.items[i];
			check_str(r, a->source, UINT32_MAX);
			check_str(r, a->target, UINT32_MAX);
			check_score(a->confidence);
			if (a->type > 4)
				fuzz_fail("association type %u accepted", a->type);
		}
		break;
	case REQ_VECTOR_SEARCH_FILTERED:
		check_arr(r, q->u.vector_filtered.vec, q->u.vector_filtered.dim * sizeof(float),
		          q->u.vector_filtered.dim, l->max_dim);
		if (q->u.vector_filtered.k > l->max_k)
			fuzz_fail("k %u accepted", q->u.vector_filtered.k);
		check_search_filter(r, &q->u.vector_filtered.filter);
		break;
	default:
		check_graph(r, q);
		break;
	}
}

static void check_request(const struct run *r, const struct request *q)
{
	const struct proto_limits *l = r->lim;

	switch (q->kind) {
	case REQ_LEARN_CONCEPT_V2:
		check_str(r, q->u.learn_v2.content, l->max_content);
		check_options(&q->u.learn_v2.opt);
		break;
	case REQ_LEARN_CONCEPT:
		check_str(r, q->u.learn_concept.id, UINT32_MAX);
		check_str(r, q->u.learn_concept.content, l->max_content);
		check_arr(r, q->u.learn_concept.embedding, q->u.learn_concept.dim * sizeof(float),
		          q->u.learn_concept.dim, l->max_dim);
		check_score(q->u.learn_concept.strength);
		check_score(q->u.learn_concept.confidence);
		break;
	case REQ_LEARN_ASSOCIATION:
		check_score(q->u.learn_assoc.confidence);
		if (q->u.learn_assoc.type > 4)
			fuzz_fail("association type %u accepted", q->u.learn_assoc.type);
		break;
	case REQ_FIND_PATH:
		if (q->u.find_path.max_depth > l->max_depth)
			fuzz_fail("path depth %u accepted", q->u.find_path.max_depth);
		break;
	case REQ_VECTOR_SEARCH:
		check_arr(r, q->u.vector_search.vec, q->u.vector_search.dim * sizeof(float),
		          q->u.vector_search.dim, l->max_dim);
		if (q->u.vector_search.k > l->max_k)
			fuzz_fail("k %u accepted", q->u.vector_search.k);
		break;
	case REQ_GET_NEIGHBORS_DETAILED:
		if (q->u.neighbors_detailed.direction < 1 ||
		    q->u.neighbors_detailed.direction > 3 || q->u.neighbors_detailed.type < -1 ||
		    q->u.neighbors_detailed.type > 4)
			fuzz_fail("GetNeighborsDetailed out of range");
		break;
	case REQ_DELETE_ASSOCIATION:
		if (q->u.delete_assoc.type > 4)
			fuzz_fail("association type %u accepted", q->u.delete_assoc.type);
		break;
	default:
		check_lists(r, q);
		break;
	}
}

/* ---- re-encoding ----------------------------------------------------------- */

/* {name: payload}: map by field name (named) or array in field order. */
static void begin(struct mpbuf *b, bool named, const char *name, uint32_t n)
{
	mp_put_map(b, 1);
	mp_put_cstr(b, name);
	if (named)
		mp_put_map(b, n);
	else
		mp_put_array(b, n);
}

static void key(struct mpbuf *b, bool named, const char *k)
{
	if (named)
		mp_put_cstr(b, k);
}

static void put_pstr(struct mpbuf *b, struct pstr s)
{
	mp_put_str(b, s.p, s.n);
}

static void put_vec(struct mpbuf *b, const float *v, uint32_t n)
{
	mp_put_array(b, n);
	for (uint32_t i = 0; i < n; i++)
		mp_put_f32(b, v[i]);
}

static void put_options(struct mpbuf *b, bool named, const struct learn_options *o)
{
	if (named)
		mp_put_map(b, 7);
	else
		mp_put_array(b, 7);
	key(b, named, "generate_embedding");
	mp_put_bool(b, o->generate_embedding);
	key(b, named, "embedding_model");
	if (o->has_model)
		put_pstr(b, o->embedding_model);
	else
		mp_put_nil(b);
	key(b, named, "extract_associations");
	mp_put_bool(b, o->extract_associations);
	key(b, named, "min_association_confidence");
	mp_put_f32(b, o->min_association_confidence);
	key(b, named, "max_associations_per_concept");
	mp_put_uint(b, o->max_associations_per_concept);
	key(b, named, "strength");
	mp_put_f32(b, o->strength);
	key(b, named, "confidence");
	mp_put_f32(b, o->confidence);
}

static void put_item(struct mpbuf *b, bool named, const struct concept_item *it)
{
	if (named)
		mp_put_map(b, 6);
	else
		mp_put_array(b, 6);
	key(b, named, "concept_id");
	put_pstr(b, it->id);
	key(b, named, "content");
	put_pstr(b, it->content);
	key(b, named, "vector");
	put_vec(b, it->vector, it->dim);
	key(b, named, "strength");
	mp_put_f32(b, it->strength);
	key(b, named, "confidence");
	mp_put_f32(b, it->confidence);
	key(b, named, "metadata");
	mp_put_map(b, it->meta_count);
	for (uint32_t i = 0; i < it->meta_count; i++) {
		put_pstr(b, it->meta_keys[i]);
		put_pstr(b, it->meta_values[i]);
	}
}

static void put_assoc(struct mpbuf *b, bool named, const char *name, struct pstr s, struct pstr t,
                      uint32_t type, const float *confidence)
{
	if (name)
		begin(b, named, name, confidence ? 4 : 3);
	else if (named)
		mp_put_map(b, 4);
	else
		mp_put_array(b, 4);
	key(b, named, "source_id");
	put_pstr(b, s);
	key(b, named, "target_id");
	put_pstr(b, t);
	key(b, named, "assoc_type");
	mp_put_uint(b, type);
	if (confidence) {
		key(b, named, "confidence");
		mp_put_f32(b, *confidence);
	}
}

static const char *unit_name(int kind)
{
	switch (kind) {
	case REQ_GET_STATS:
		return "GetStats";
	case REQ_FLUSH:
		return "Flush";
	case REQ_HEALTH_CHECK:
		return "HealthCheck";
	case REQ_SYNC:
		return "Sync";
	case REQ_CHECKPOINT:
		return "Checkpoint";
	case REQ_SERVER_INFO:
		return "ServerInfo";
	case REQ_STATS_EXTENDED:
		return "StatsExtended";
	default:
		fuzz_fail("kind %d has no encoding here", kind);
	}
}

static void put_opt_pstr(struct mpbuf *b, bool given, struct pstr s)
{
	if (given)
		put_pstr(b, s);
	else
		mp_put_nil(b);
}

/* Every field, nil where a condition is absent (reachability options only
 * with reachable_from, so that they decode again). */
static void put_search_filter(struct mpbuf *b, bool named, const struct search_filter *f)
{
	static const char *dirs[] = {"", "out", "in", "both"};

	if (named)
		mp_put_map(b, 7);
	else
		mp_put_array(b, 7);
	key(b, named, "meta_key");
	put_opt_pstr(b, f->has_meta_key, f->meta_key);
	key(b, named, "meta_value");
	put_opt_pstr(b, f->has_meta_value, f->meta_value);
	key(b, named, "reachable_from");
	put_opt_pstr(b, f->has_reach, f->reach_from);
	key(b, named, "assoc_type");
	if (f->has_reach && f->reach_type >= 0)
		mp_put_uint(b, (uint64_t)f->reach_type);
	else
		mp_put_nil(b);
	key(b, named, "direction");
	f->has_reach ? mp_put_cstr(b, dirs[f->reach_direction]) : mp_put_nil(b);
	key(b, named, "max_depth");
	f->has_reach ? mp_put_uint(b, f->reach_depth) : mp_put_nil(b);
	key(b, named, "ids");
	if (!f->has_ids) {
		mp_put_nil(b);
		return;
	}
	mp_put_array(b, f->id_count);
	for (uint32_t i = 0; i < f->id_count; i++)
		put_pstr(b, f->ids[i]);
}

/* Every field written out, the defaults included. */
static void put_graph_query(struct mpbuf *b, bool named, const struct graph_query *g)
{
	static const char *dirs[] = {"", "out", "in", "both"};

	if (named)
		mp_put_map(b, 4);
	else
		mp_put_array(b, 4);
	key(b, named, "assoc_type");
	if (g->type >= 0)
		mp_put_uint(b, (uint64_t)g->type);
	else
		mp_put_nil(b);
	key(b, named, "direction");
	mp_put_cstr(b, dirs[g->direction]);
	key(b, named, "max_depth");
	mp_put_uint(b, g->max_depth);
	key(b, named, "max_visited");
	mp_put_uint(b, g->max_visited);
}

static void encode_graph_path(struct mpbuf *b, bool named, const struct request *q)
{
	const char *name = q->kind == REQ_FIND_PATH_EX ? "FindPathEx"
	                   : q->kind == REQ_FIND_PATHS ? "FindPaths"
	                                               : "FindBestPath";

	begin(b, named, name, q->kind == REQ_FIND_PATHS ? 5 : 3);
	key(b, named, "start_id");
	put_pstr(b, q->u.graph_path.start);
	key(b, named, "end_id");
	put_pstr(b, q->u.graph_path.end);
	key(b, named, "query");
	put_graph_query(b, named, &q->u.graph_path.q);
	if (q->kind != REQ_FIND_PATHS)
		return;
	key(b, named, "max_paths");
	mp_put_uint(b, q->u.graph_path.max_paths);
	key(b, named, "k_shortest");
	mp_put_bool(b, q->u.graph_path.k_shortest);
}

static void encode_graph(struct mpbuf *b, bool named, const struct request *q)
{
	switch (q->kind) {
	case REQ_KHOP:
		begin(b, named, "KHop", 3);
		key(b, named, "concept_id");
		put_pstr(b, q->u.khop.id);
		key(b, named, "query");
		put_graph_query(b, named, &q->u.khop.q);
		key(b, named, "limit");
		mp_put_uint(b, q->u.khop.limit);
		break;
	case REQ_HYBRID_SEARCH:
		begin(b, named, "HybridSearch", 5);
		key(b, named, "query_vector");
		put_vec(b, q->u.hybrid.vec, q->u.hybrid.dim);
		key(b, named, "k_seeds");
		mp_put_uint(b, q->u.hybrid.k_seeds);
		key(b, named, "ef_search");
		mp_put_uint(b, q->u.hybrid.ef_search);
		key(b, named, "query");
		put_graph_query(b, named, &q->u.hybrid.q);
		key(b, named, "limit");
		mp_put_uint(b, q->u.hybrid.limit);
		break;
	default:
		encode_graph_path(b, named, q);
		break;
	}
}

static void encode_lists(struct mpbuf *b, bool named, const struct request *q)
{
	switch (q->kind) {
	case REQ_LEARN_BATCH:
		begin(b, named, "LearnBatch", 2);
		key(b, named, "contents");
		mp_put_array(b, q->u.learn_batch.count);
		for (uint32_t i = 0; i < q->u.learn_batch.count; i++)
			put_pstr(b, q->u.learn_batch.contents[i]);
		key(b, named, "options");
		put_options(b, named, &q->u.learn_batch.opt);
		break;
	case REQ_LEARN_CONCEPTS:
		begin(b, named, "LearnConcepts", 1);
		key(b, named, "concepts");
		mp_put_array(b, q->u.learn_concepts.count);
		for (uint32_t i = 0; i < q->u.learn_concepts.count; i++)
			put_item(b, named, &q->u.learn_concepts.items[i]);
		break;
	case REQ_LEARN_ASSOCIATIONS:
		begin(b, named, "LearnAssociations", 1);
		key(b, named, "associations");
		mp_put_array(b, q->u.learn_assocs.count);
		for (uint32_t i = 0; i < q->u.learn_assocs.count; i++) {
			const struct assoc_item *a = &q->u.learn_assocs.items[i];
			put_assoc(b, named, NULL, a->source, a->target, a->type, &a->confidence);
		}
		break;
	case REQ_GET_NEIGHBORS_DETAILED: {
		static const char *dirs[] = {"", "out", "in", "both"};
		begin(b, named, "GetNeighborsDetailed", 4);
		key(b, named, "concept_id");
		put_pstr(b, q->u.neighbors_detailed.id);
		key(b, named, "direction");
		mp_put_cstr(b, dirs[q->u.neighbors_detailed.direction]);
		key(b, named, "assoc_type");
		if (q->u.neighbors_detailed.type < 0)
			mp_put_nil(b);
		else
			mp_put_uint(b, (uint64_t)q->u.neighbors_detailed.type);
		key(b, named, "limit");
		mp_put_uint(b, q->u.neighbors_detailed.limit);
		break;
	}
	case REQ_SET_ENCODING:
		begin(b, named, "SetEncoding", 1);
		key(b, named, "named");
		mp_put_bool(b, q->u.set_encoding.named);
		break;
	case REQ_VECTOR_SEARCH_FILTERED:
		begin(b, named, "VectorSearchFiltered", 4);
		key(b, named, "query_vector");
		put_vec(b, q->u.vector_filtered.vec, q->u.vector_filtered.dim);
		key(b, named, "k");
		mp_put_uint(b, q->u.vector_filtered.k);
		key(b, named, "ef_search");
		mp_put_uint(b, q->u.vector_filtered.ef_search);
		key(b, named, "filter");
		put_search_filter(b, named, &q->u.vector_filtered.filter);
		break;
	case REQ_FIND_PATH_EX:
	case REQ_FIND_PATHS:
	case REQ_FIND_BEST_PATH:
	case REQ_KHOP:
	case REQ_HYBRID_SEARCH:
		encode_graph(b, named, q);
		break;
	default: /* units */
		mp_put_cstr(b, unit_name(q->kind));
		break;
	}
}

static void encode_id(struct mpbuf *b, bool named, const char *name, struct pstr id)
{
	begin(b, named, name, 1);
	key(b, named, "concept_id");
	put_pstr(b, id);
}

/* Writes q in canonical form (semantic requests: just their kind). */
static void encode(struct mpbuf *b, bool named, const struct request *q)
{
	static const char *id_names[] = {
	    [REQ_QUERY_CONCEPT] = "QueryConcept", [REQ_GET_NEIGHBORS] = "GetNeighbors"};
	const float *conf = &q->u.learn_assoc.confidence;

	switch (q->kind) {
	case REQ_LEARN_CONCEPT_V2:
		begin(b, named, "LearnConceptV2", 2);
		key(b, named, "content");
		put_pstr(b, q->u.learn_v2.content);
		key(b, named, "options");
		put_options(b, named, &q->u.learn_v2.opt);
		break;
	case REQ_LEARN_CONCEPT:
		begin(b, named, "LearnConcept", 5);
		key(b, named, "concept_id");
		put_pstr(b, q->u.learn_concept.id);
		key(b, named, "content");
		put_pstr(b, q->u.learn_concept.content);
		key(b, named, "embedding");
		put_vec(b, q->u.learn_concept.embedding, q->u.learn_concept.dim);
		key(b, named, "strength");
		mp_put_f32(b, q->u.learn_concept.strength);
		key(b, named, "confidence");
		mp_put_f32(b, q->u.learn_concept.confidence);
		break;
	case REQ_LEARN_ASSOCIATION:
		put_assoc(b, named, "LearnAssociation", q->u.learn_assoc.source,
		          q->u.learn_assoc.target, q->u.learn_assoc.type, conf);
		break;
	case REQ_DELETE_ASSOCIATION:
		put_assoc(b, named, "DeleteAssociation", q->u.delete_assoc.source,
		          q->u.delete_assoc.target, q->u.delete_assoc.type, NULL);
		break;
	case REQ_QUERY_CONCEPT:
	case REQ_GET_NEIGHBORS:
		encode_id(b, named, id_names[q->kind], q->u.concept_id);
		break;
	case REQ_DELETE_CONCEPT:
		encode_id(b, named, "DeleteConcept", q->u.concept_id);
		break;
	case REQ_GET_CONCEPT:
		encode_id(b, named, "GetConcept", q->u.concept_id);
		break;
	case REQ_FIND_PATH:
		begin(b, named, "FindPath", 3);
		key(b, named, "start_id");
		put_pstr(b, q->u.find_path.start);
		key(b, named, "end_id");
		put_pstr(b, q->u.find_path.end);
		key(b, named, "max_depth");
		mp_put_uint(b, q->u.find_path.max_depth);
		break;
	case REQ_VECTOR_SEARCH:
		begin(b, named, "VectorSearch", 3);
		key(b, named, "query_vector");
		put_vec(b, q->u.vector_search.vec, q->u.vector_search.dim);
		key(b, named, "k");
		mp_put_uint(b, q->u.vector_search.k);
		key(b, named, "ef_search");
		mp_put_uint(b, q->u.vector_search.ef_search);
		break;
	default:
		encode_lists(b, named, q);
		break;
	}
}

/* ---- driving ---------------------------------------------------------------- */

static bool is_semantic(int kind)
{
	return kind >= REQ_FIND_PATH_SEMANTIC && kind <= REQ_QUERY_BY_SEMANTIC;
}

/* Decodes p into a fresh arena of exactly the documented bound. */
static int decode(struct run *r, const uint8_t *p, size_t n, struct request *q, char *err)
{
	size_t cap = proto_arena_bound(n, r->lim);

	if (cap > PROTO_ARENA_PER_BYTE * n + PROTO_ARENA_SLACK)
		fuzz_fail("proto_arena_bound(%zu) = %zu exceeds the documented bound", n, cap);
	r->in = p;
	r->n = n;
	r->a.base = malloc(cap ? cap : 1);
	r->a.used = 0;
	r->a.cap = cap;
	if (!r->a.base)
		fuzz_fail("out of memory");
	int rc = proto_decode(p, n, r->lim, &r->a, q, err, ERRLEN);
	if (rc != 0) {
		if (r->a.used != 0)
			fuzz_fail("a failed decode left %zu arena bytes used", r->a.used);
		if (err[0] == '\0')
			fuzz_fail("a failed decode gave no message");
		if (strncmp(err, "Request needs more decode memory", 32) == 0)
			fuzz_fail("an arena of the documented bound was too small: %s", err);
	}
	return rc;
}

/* Re-encodes q both ways; each must decode and re-encode to the named bytes. */
static void round_trip(const struct proto_limits *lim, const struct request *q)
{
	struct mpbuf named, form, again;
	struct request q2;
	char err[ERRLEN];

	mpbuf_init(&named);
	mpbuf_init(&form);
	mpbuf_init(&again);
	encode(&named, true, q);
	for (int f = 0; f < 2; f++) {
		struct run r2 = {.lim = lim};
		mpbuf_reset(&form);
		encode(&form, f == 0, q);
		if (named.oom || form.oom)
			fuzz_fail("out of memory");
		if (decode(&r2, form.p, form.len, &q2, err) != 0)
			fuzz_fail("a re-encoded request does not decode: %s", err);
		check_request(&r2, &q2);
		mpbuf_reset(&again);
		encode(&again, true, &q2);
		if (again.len != named.len || memcmp(again.p, named.p, named.len) != 0)
			fuzz_fail("kind %d changed in a round trip (%s form)", q->kind,
			          f == 0 ? "named" : "array");
		free(r2.a.base);
	}
	mpbuf_free(&named);
	mpbuf_free(&form);
	mpbuf_free(&again);
}

static void run_once(const uint8_t *data, size_t size, const struct proto_limits *lim, bool verbose)
{
	struct run r = {.lim = lim};
	struct request q;
	char err[ERRLEN];
	int rc = decode(&r, data, size, &q, err);

	if (verbose)
		printf("%zu bytes: %s%s (kind %d)\n", size, rc ? "error: " : "ok", rc ? err : "",
		       q.kind);
	if (rc == 0) {
		if (q.kind < 0 || (q.kind > REQ_HEALTH_CHECK && q.kind < REQ_DELETE_CONCEPT) ||
		    q.kind > REQ_LAST)
			fuzz_fail("decoded an unknown kind %d", q.kind);
		check_request(&r, &q);
		if (!is_semantic(q.kind))
			round_trip(lim, &q);
	} else if (q.kind < -1 || q.kind > REQ_LAST) {
		fuzz_fail("a failed decode reports kind %d", q.kind);
	}
	free(r.a.base);
}

/* One payload, with the default and with tight limits. */
static void run_payload(const uint8_t *data, size_t size)
{
	static const struct proto_limits tight = {.max_content = 8,
	                                          .max_dim = 4,
	                                          .max_batch = 3,
	                                          .max_depth = 3,
	                                          .max_k = 5,
	                                          .max_nesting = 6,
	                                          .max_meta = 2,
	                                          .max_filter_ids = 3,
	                                          .max_visited = 7,
	                                          .max_paths = 2,
	                                          .max_khop = 3,
	                                          .max_hybrid = 2};
	static int verbose = -1;
	struct proto_limits def;

	if (verbose < 0)
		verbose = getenv("SUTRA_FUZZ_VERBOSE") != NULL;
	proto_limits_default(&def);
	run_once(data, size, &def, verbose);
	run_once(data, size, &tight, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	run_payload(data, size);
	/* the input read as a stream of frames, each copied to its own buffer */
	while (size - pos >= 4) {
		size_t len = (size_t)data[pos] << 24 | (size_t)data[pos + 1] << 16 |
		             (size_t)data[pos + 2] << 8 | data[pos + 3];
		uint8_t *frame;
		if (len > size - pos - 4)
			break;
		if ((frame = malloc(len ? len : 1)) == NULL)
			fuzz_fail("out of memory");
		memcpy(frame, data + pos + 4, len);
		run_payload(frame, len);
		free(frame);
		pos += 4 + len;
	}
	return 0;
}
