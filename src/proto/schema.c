/* schema.c - what each request variant carries: names, field order, types, defaults.
 *
 * The tables follow the Rust server's request enum (wire indexes 0..15,
 * fields in declared order, so array payloads line up) and then the
 * extensions, which have names only. A field is required when the Rust type
 * had no default; optional ones (LearnOptions as a whole, strengths,
 * confidences, ef_search, every LearnOptions and SemanticFilter field, the
 * GetNeighborsDetailed filters, the VectorSearchFiltered filter, the graph
 * queries' GraphQuery and counts) take the defaults set here. The semantic
 * variants 8..12 are decoded into scratch structs only to be checked: the
 * server does not implement them yet, but a malformed one must still get a
 * decode error rather than a "not enabled" answer.
 */
#include "proto/decode.h"

#include <stddef.h>

/* Offset of a member of struct request's payload union. */
#define RQ(member) ((uint16_t)(offsetof(struct request, u.member) - offsetof(struct request, u)))
#define FIELDS(a)  (a), (uint32_t)(sizeof(a) / sizeof((a)[0]))

/* ---- semantic payloads (checked, not kept) ------------------------------- */

struct sem_filter {
	struct pstr semantic_type, domain_context;
	int64_t after, before;
	bool causal;
	float min_confidence;
};
struct sem_path {
	struct pstr start, end;
	struct sem_filter filter;
	uint32_t max_depth, max_paths;
};
struct sem_temporal {
	struct pstr domain;
	int64_t start, end;
};
struct sem_causal {
	struct pstr start, causal_type;
	uint32_t max_depth;
};
struct sem_query {
	struct sem_filter filter;
	uint64_t limit;
};

_Static_assert(sizeof(struct sem_path) <= PD_SCRATCH_BYTES, "scratch too small");
_Static_assert(sizeof(struct sem_query) <= PD_SCRATCH_BYTES, "scratch too small");
_Static_assert(sizeof(struct sem_temporal) <= PD_SCRATCH_BYTES, "scratch too small");
_Static_assert(sizeof(struct sem_causal) <= PD_SCRATCH_BYTES, "scratch too small");
/* The arena bound (proto.h): an item list costs at most 16 bytes per byte. */
_Static_assert(sizeof(struct concept_item) <= PROTO_ARENA_PER_BYTE * PD_ITEM_MIN_BYTES,
               "concept_item outgrew the arena bound");
_Static_assert(sizeof(struct assoc_item) <= PROTO_ARENA_PER_BYTE * PD_ITEM_MIN_BYTES,
               "assoc_item outgrew the arena bound");
_Static_assert(2 * sizeof(struct pstr) <= PROTO_ARENA_PER_BYTE * 3, "metadata bound");
_Static_assert(sizeof(struct pstr) <= PROTO_ARENA_PER_BYTE, "pstr outgrew the arena bound");

static const struct pd_field filter_fields[] = {
    {"semantic_type", pd_f_str, offsetof(struct sem_filter, semantic_type), 0, false},
    {"domain_context", pd_f_str, offsetof(struct sem_filter, domain_context), 0, false},
    {"temporal_after", pd_f_i64, offsetof(struct sem_filter, after), 0, false},
    {"temporal_before", pd_f_i64, offsetof(struct sem_filter, before), 0, false},
    {"has_causal_relation", pd_f_bool, offsetof(struct sem_filter, causal), 0, false},
    {"min_confidence", pd_f_f32, offsetof(struct sem_filter, min_confidence), 0, false},
    {"required_terms", pd_f_str_list, 0, 0, false},
};
static const struct pd_struct filter_s = {FIELDS(filter_fields), NULL, NULL};

static int f_filter(struct dctx *d, const struct pd_field *f, void *base)
{
	return pd_struct_read(d, &filter_s, (char *)base + f->off);
}

static const struct pd_field path_sem_fields[] = {
    {"start_id", pd_f_str, offsetof(struct sem_path, start), 0, true},
    {"end_id", pd_f_str, offsetof(struct sem_path, end), 0, true},
    {"filter", f_filter, offsetof(struct sem_path, filter), 0, true},
    {"max_depth", pd_f_depth, offsetof(struct sem_path, max_depth), 0, true},
    {"max_paths", pd_f_u32, offsetof(struct sem_path, max_paths), 0, true},
};
static const struct pd_field temporal_fields[] = {
    {"domain", pd_f_str, offsetof(struct sem_temporal, domain), 0, false},
    {"start_time", pd_f_i64, offsetof(struct sem_temporal, start), 0, true},
    {"end_time", pd_f_i64, offsetof(struct sem_temporal, end), 0, true},
};
static const struct pd_field causal_fields[] = {
    {"start_id", pd_f_str, offsetof(struct sem_causal, start), 0, true},
    {"causal_type", pd_f_str, offsetof(struct sem_causal, causal_type), 0, true},
    {"max_depth", pd_f_depth, offsetof(struct sem_causal, max_depth), 0, true},
};
static const struct pd_field contradictions_fields[] = {
    {"domain", pd_f_str, 0, 0, true},
};
static const struct pd_field query_sem_fields[] = {
    {"filter", f_filter, offsetof(struct sem_query, filter), 0, true},
    {"limit", pd_f_uint64, offsetof(struct sem_query, limit), 0, false},
};

/* ---- LearnOptions -------------------------------------------------------- */

static void options_defaults(void *base)
{
	struct learn_options *o = base;

	*o = (struct learn_options){.min_association_confidence = 0.5f,
	                            .max_associations_per_concept = 10,
	                            .strength = 1.0f,
	                            .confidence = 1.0f};
}

#define LO(m) offsetof(struct learn_options, m)
static const struct pd_field options_fields[] = {
    {"generate_embedding", pd_f_bool, LO(generate_embedding), 0, false},
    {"embedding_model", pd_f_str_given, LO(embedding_model), LO(has_model), false},
    {"extract_associations", pd_f_bool, LO(extract_associations), 0, false},
    {"min_association_confidence", pd_f_f32, LO(min_association_confidence), 0, false},
    {"max_associations_per_concept", pd_f_u32, LO(max_associations_per_concept), 0, false},
    {"strength", pd_f_f32, LO(strength), 0, false},
    {"confidence", pd_f_f32, LO(confidence), 0, false},
};
static const struct pd_struct options_s = {FIELDS(options_fields), options_defaults, NULL};

static int f_options(struct dctx *d, const struct pd_field *f, void *base)
{
	return pd_struct_read(d, &options_s, (char *)base + f->off);
}

/* ---- the Rust server's variants ------------------------------------------ */

static void learn_v2_defaults(void *base)
{
	options_defaults((char *)base + RQ(learn_v2.opt));
}

static void learn_batch_defaults(void *base)
{
	options_defaults((char *)base + RQ(learn_batch.opt));
}

static void learn_concept_defaults(void *base)
{
	*(float *)((char *)base + RQ(learn_concept.strength)) = 1.0f;
	*(float *)((char *)base + RQ(learn_concept.confidence)) = 1.0f;
}

static void learn_assoc_defaults(void *base)
{
	*(float *)((char *)base + RQ(learn_assoc.confidence)) = 1.0f;
}

static const struct pd_field learn_v2_fields[] = {
    {"content", pd_f_content, RQ(learn_v2.content), 0, true},
    {"options", f_options, RQ(learn_v2.opt), 0, false},
};
static const struct pd_field learn_batch_fields[] = {
    {"contents", pd_f_contents, RQ(learn_batch.contents), RQ(learn_batch.count), true},
    {"options", f_options, RQ(learn_batch.opt), 0, false},
};
static const struct pd_field learn_concept_fields[] = {
    {"concept_id", pd_f_str, RQ(learn_concept.id), 0, true},
    {"content", pd_f_content, RQ(learn_concept.content), 0, true},
    {"embedding", pd_f_f32vec, RQ(learn_concept.embedding), RQ(learn_concept.dim), false},
    {"strength", pd_f_f32, RQ(learn_concept.strength), 0, false},
    {"confidence", pd_f_f32, RQ(learn_concept.confidence), 0, false},
};
static const struct pd_field learn_assoc_fields[] = {
    {"source_id", pd_f_str, RQ(learn_assoc.source), 0, true},
    {"target_id", pd_f_str, RQ(learn_assoc.target), 0, true},
    {"assoc_type", pd_f_assoc_type, RQ(learn_assoc.type), 0, true},
    {"confidence", pd_f_f32, RQ(learn_assoc.confidence), 0, false},
};
static const struct pd_field concept_id_fields[] = {
    {"concept_id", pd_f_str, RQ(concept_id), 0, true},
};
static const struct pd_field find_path_fields[] = {
    {"start_id", pd_f_str, RQ(find_path.start), 0, true},
    {"end_id", pd_f_str, RQ(find_path.end), 0, true},
    {"max_depth", pd_f_depth, RQ(find_path.max_depth), 0, true},
};
static const struct pd_field vector_search_fields[] = {
    {"query_vector", pd_f_f32vec, RQ(vector_search.vec), RQ(vector_search.dim), true},
    {"k", pd_f_k, RQ(vector_search.k), 0, true},
    {"ef_search", pd_f_u32, RQ(vector_search.ef_search), 0, false},
};

/* ---- extensions ---------------------------------------------------------- */

static void neighbors_detailed_defaults(void *base)
{
	*(int *)((char *)base + RQ(neighbors_detailed.direction)) = 3;
	*(int *)((char *)base + RQ(neighbors_detailed.type)) = -1;
}

static void concept_item_defaults(void *base)
{
	*(struct concept_item *)base = (struct concept_item){.strength = 1.0f, .confidence = 1.0f};
}

static void assoc_item_defaults(void *base)
{
	*(struct assoc_item *)base = (struct assoc_item){.confidence = 1.0f};
}

#define CI(m) offsetof(struct concept_item, m)
static const struct pd_field concept_item_fields[] = {
    {"concept_id", pd_f_str, CI(id), 0, true},
    {"content", pd_f_content, CI(content), 0, true},
    {"vector", pd_f_f32vec, CI(vector), CI(dim), false},
    {"strength", pd_f_f32, CI(strength), 0, false},
    {"confidence", pd_f_f32, CI(confidence), 0, false},
    {"metadata", pd_f_meta, 0, 0, false},
};
static const struct pd_struct concept_item_s = {FIELDS(concept_item_fields), concept_item_defaults,
                                                NULL};

#define AI(m) offsetof(struct assoc_item, m)
static const struct pd_field assoc_item_fields[] = {
    {"source_id", pd_f_str, AI(source), 0, true},
    {"target_id", pd_f_str, AI(target), 0, true},
    {"assoc_type", pd_f_assoc_type, AI(type), 0, true},
    {"confidence", pd_f_f32, AI(confidence), 0, false},
};
static const struct pd_struct assoc_item_s = {FIELDS(assoc_item_fields), assoc_item_defaults, NULL};

static int f_concepts(struct dctx *d, const struct pd_field *f, void *base)
{
	void *items = NULL;
	uint32_t n = 0;

	if (pd_f_items(d, &concept_item_s, sizeof(struct concept_item), &items, &n) != 0)
		return -1;
	*(struct concept_item **)((char *)base + f->off) = items;
	*(uint32_t *)((char *)base + f->off2) = n;
	return 0;
}

static int f_assocs(struct dctx *d, const struct pd_field *f, void *base)
{
	void *items = NULL;
	uint32_t n = 0;

	if (pd_f_items(d, &assoc_item_s, sizeof(struct assoc_item), &items, &n) != 0)
		return -1;
	*(struct assoc_item **)((char *)base + f->off) = items;
	*(uint32_t *)((char *)base + f->off2) = n;
	return 0;
}

static const struct pd_field delete_assoc_fields[] = {
    {"source_id", pd_f_str, RQ(delete_assoc.source), 0, true},
    {"target_id", pd_f_str, RQ(delete_assoc.target), 0, true},
    {"assoc_type", pd_f_assoc_type, RQ(delete_assoc.type), 0, true},
};
static const struct pd_field neighbors_detailed_fields[] = {
    {"concept_id", pd_f_str, RQ(neighbors_detailed.id), 0, true},
    {"direction", pd_f_direction, RQ(neighbors_detailed.direction), 0, false},
    {"assoc_type", pd_f_type_or_any, RQ(neighbors_detailed.type), 0, false},
    {"limit", pd_f_u32_sat, RQ(neighbors_detailed.limit), 0, false},
};
static const struct pd_field learn_concepts_fields[] = {
    {"concepts", f_concepts, RQ(learn_concepts.items), RQ(learn_concepts.count), true},
};
static const struct pd_field learn_assocs_fields[] = {
    {"associations", f_assocs, RQ(learn_assocs.items), RQ(learn_assocs.count), true},
};
static const struct pd_field set_encoding_fields[] = {
    {"named", pd_f_bool, RQ(set_encoding.named), 0, true},
};

/* ---- VectorSearchFiltered ------------------------------------------------ */

/* Not-given markers, replaced by the defaults once the filter is read (so
 * that a reachability option without reachable_from can be told apart). */
#define TYPE_NOT_GIVEN (-2)

static void search_filter_defaults(void *base)
{
	*(struct search_filter *)base = (struct search_filter){.reach_type = TYPE_NOT_GIVEN};
}

static int f_filter_ids(struct dctx *d, const struct pd_field *f, void *base)
{
	struct search_filter *sf = base;

	sf->has_ids = true;
	return pd_f_str_array(d, d->lim->max_filter_ids, &sf->ids, &sf->id_count);
}

#define SF(m) offsetof(struct search_filter, m)
static const struct pd_field search_filter_fields[] = {
    {"meta_key", pd_f_meta_key_given, SF(meta_key), SF(has_meta_key), false},
    {"meta_value", pd_f_str_given, SF(meta_value), SF(has_meta_value), false},
    {"reachable_from", pd_f_str_given, SF(reach_from), SF(has_reach), false},
    {"assoc_type", pd_f_type_or_any, SF(reach_type), 0, false},
    {"direction", pd_f_direction, SF(reach_direction), 0, false},
    {"max_depth", pd_f_reach_depth, SF(reach_depth), 0, false},
    {"ids", f_filter_ids, 0, 0, false},
};
static const struct pd_struct search_filter_s = {FIELDS(search_filter_fields),
                                                 search_filter_defaults, NULL};

/* The rules that span fields, then the reachability defaults: any type,
 * both directions (as GetNeighbors and FindPath walk), direct neighbours. */
static int search_filter_check(struct dctx *d, struct search_filter *sf)
{
	bool reach_option =
	    sf->reach_type != TYPE_NOT_GIVEN || sf->reach_direction != 0 || sf->reach_depth != 0;

	if (sf->has_meta_key != sf->has_meta_value)
		return pd_fail(d, "meta_key and meta_value go together (got only %s)",
		               sf->has_meta_key ? "meta_key" : "meta_value");
	if (reach_option && !sf->has_reach)
		return pd_fail(d, "assoc_type, direction and max_depth need reachable_from");
	if (sf->reach_type == TYPE_NOT_GIVEN)
		sf->reach_type = -1;
	if (sf->reach_direction == 0)
		sf->reach_direction = 3;
	if (sf->reach_depth == 0)
		sf->reach_depth = 1;
	return 0;
}

static int f_search_filter(struct dctx *d, const struct pd_field *f, void *base)
{
	struct search_filter *sf = (struct search_filter *)((char *)base + f->off);

	if (pd_struct_read(d, &search_filter_s, sf) != 0)
		return -1;
	return search_filter_check(d, sf);
}

static const struct pd_field vector_filtered_fields[] = {
    {"query_vector", pd_f_f32vec, RQ(vector_filtered.vec), RQ(vector_filtered.dim), true},
    {"k", pd_f_k, RQ(vector_filtered.k), 0, true},
    {"ef_search", pd_f_u32, RQ(vector_filtered.ef_search), 0, false},
    {"filter", f_search_filter, RQ(vector_filtered.filter), 0, false},
};

/* ---- the graph queries --------------------------------------------------- */

/* GraphQuery has no defaults of its own: the request presets them (its
 * max_depth differs) and a query map overrides only what it gives. A depth
 * or budget left unset is resolved against the limits once the payload is
 * read, so a default never exceeds a limit (20 and 1000000 with the
 * default limits; HybridSearch's depth 2). */
#define DEPTH_NOT_GIVEN    UINT32_MAX
#define PATH_DEPTH_DEFAULT 20
#define HYBRID_DEPTH       2
#define VISITED_DEFAULT    1000000

#define GQ(m) offsetof(struct graph_query, m)
static const struct pd_field graph_query_fields[] = {
    {"assoc_type", pd_f_type_or_any, GQ(type), 0, false},
    {"direction", pd_f_direction, GQ(direction), 0, false},
    {"max_depth", pd_f_depth, GQ(max_depth), 0, false},
    {"max_visited", pd_f_max_visited, GQ(max_visited), 0, false},
};
static const struct pd_struct graph_query_s = {FIELDS(graph_query_fields), NULL, NULL};

static int f_graph_query(struct dctx *d, const struct pd_field *f, void *base)
{
	return pd_struct_read(d, &graph_query_s, (char *)base + f->off);
}

static void graph_query_preset(void *base, uint16_t off)
{
	*(struct graph_query *)((char *)base + off) = (struct graph_query){
	    .type = -1, .direction = 3, .max_depth = DEPTH_NOT_GIVEN, .max_visited = 0};
}

static void graph_query_resolve(const struct dctx *d, void *base, uint16_t off, uint32_t depth)
{
	struct graph_query *q = (struct graph_query *)((char *)base + off);

	if (q->max_depth == DEPTH_NOT_GIVEN)
		q->max_depth = depth < d->lim->max_depth ? depth : d->lim->max_depth;
	if (q->max_visited == 0)
		q->max_visited =
		    VISITED_DEFAULT < d->lim->max_visited ? VISITED_DEFAULT : d->lim->max_visited;
}

static void graph_path_defaults(void *base)
{
	graph_query_preset(base, RQ(graph_path.q));
	*(uint32_t *)((char *)base + RQ(graph_path.max_paths)) = 10;
}

static int graph_path_finish(struct dctx *d, void *base)
{
	uint32_t *max_paths = (uint32_t *)((char *)base + RQ(graph_path.max_paths));

	graph_query_resolve(d, base, RQ(graph_path.q), PATH_DEPTH_DEFAULT);
	if (*max_paths > d->lim->max_paths) /* the default, under tighter limits */
		*max_paths = d->lim->max_paths;
	return 0;
}

static void khop_defaults(void *base)
{
	graph_query_preset(base, RQ(khop.q));
	*(uint32_t *)((char *)base + RQ(khop.limit)) = 1000;
}

static int khop_finish(struct dctx *d, void *base)
{
	uint32_t *limit = (uint32_t *)((char *)base + RQ(khop.limit));

	graph_query_resolve(d, base, RQ(khop.q), PATH_DEPTH_DEFAULT);
	if (*limit > d->lim->max_khop)
		*limit = d->lim->max_khop;
	return 0;
}

static void hybrid_defaults(void *base)
{
	graph_query_preset(base, RQ(hybrid.q));
	*(uint32_t *)((char *)base + RQ(hybrid.k_seeds)) = 10;
	*(uint32_t *)((char *)base + RQ(hybrid.limit)) = 100;
}

static int hybrid_finish(struct dctx *d, void *base)
{
	uint32_t *k = (uint32_t *)((char *)base + RQ(hybrid.k_seeds));
	uint32_t *limit = (uint32_t *)((char *)base + RQ(hybrid.limit));

	graph_query_resolve(d, base, RQ(hybrid.q), HYBRID_DEPTH);
	if (*k > d->lim->max_k)
		*k = d->lim->max_k;
	if (*limit > d->lim->max_hybrid)
		*limit = d->lim->max_hybrid;
	return 0;
}

/* FindPathEx and FindBestPath; FindPaths adds its counts. */
static const struct pd_field graph_path_fields[] = {
    {"start_id", pd_f_str, RQ(graph_path.start), 0, true},
    {"end_id", pd_f_str, RQ(graph_path.end), 0, true},
    {"query", f_graph_query, RQ(graph_path.q), 0, false},
};
static const struct pd_field find_paths_fields[] = {
    {"start_id", pd_f_str, RQ(graph_path.start), 0, true},
    {"end_id", pd_f_str, RQ(graph_path.end), 0, true},
    {"query", f_graph_query, RQ(graph_path.q), 0, false},
    {"max_paths", pd_f_max_paths, RQ(graph_path.max_paths), 0, false},
    {"k_shortest", pd_f_bool, RQ(graph_path.k_shortest), 0, false},
};
static const struct pd_field khop_fields[] = {
    {"concept_id", pd_f_str, RQ(khop.id), 0, true},
    {"query", f_graph_query, RQ(khop.q), 0, false},
    {"limit", pd_f_khop_limit, RQ(khop.limit), 0, false},
};
static const struct pd_field hybrid_fields[] = {
    {"query_vector", pd_f_f32vec, RQ(hybrid.vec), RQ(hybrid.dim), true},
    {"k_seeds", pd_f_k_seeds, RQ(hybrid.k_seeds), 0, false},
    {"ef_search", pd_f_u32, RQ(hybrid.ef_search), 0, false},
    {"query", f_graph_query, RQ(hybrid.q), 0, false},
    {"limit", pd_f_hybrid_limit, RQ(hybrid.limit), 0, false},
};

/* ---- the variant table --------------------------------------------------- */

#define PAYLOAD(fields, defaults) (&(const struct pd_struct){FIELDS(fields), defaults, NULL})
#define PAYLOAD_FINISH(fields, defaults, finish)                                                   \
	(&(const struct pd_struct){FIELDS(fields), defaults, finish})

const struct pd_variant pd_variants[] = {
    {"LearnConceptV2", PAYLOAD(learn_v2_fields, learn_v2_defaults), REQ_LEARN_CONCEPT_V2, false},
    {"LearnBatch", PAYLOAD(learn_batch_fields, learn_batch_defaults), REQ_LEARN_BATCH, false},
    {"LearnConcept", PAYLOAD(learn_concept_fields, learn_concept_defaults), REQ_LEARN_CONCEPT,
     false},
    {"LearnAssociation", PAYLOAD(learn_assoc_fields, learn_assoc_defaults), REQ_LEARN_ASSOCIATION,
     false},
    {"QueryConcept", PAYLOAD(concept_id_fields, NULL), REQ_QUERY_CONCEPT, false},
    {"GetNeighbors", PAYLOAD(concept_id_fields, NULL), REQ_GET_NEIGHBORS, false},
    {"FindPath", PAYLOAD(find_path_fields, NULL), REQ_FIND_PATH, false},
    {"VectorSearch", PAYLOAD(vector_search_fields, NULL), REQ_VECTOR_SEARCH, false},
    {"FindPathSemantic", PAYLOAD(path_sem_fields, NULL), REQ_FIND_PATH_SEMANTIC, true},
    {"FindTemporalChain", PAYLOAD(temporal_fields, NULL), REQ_FIND_TEMPORAL_CHAIN, true},
    {"FindCausalChain", PAYLOAD(causal_fields, NULL), REQ_FIND_CAUSAL_CHAIN, true},
    {"FindContradictions", PAYLOAD(contradictions_fields, NULL), REQ_FIND_CONTRADICTIONS, true},
    {"QueryBySemantic", PAYLOAD(query_sem_fields, NULL), REQ_QUERY_BY_SEMANTIC, true},
    {"GetStats", NULL, REQ_GET_STATS, false},
    {"Flush", NULL, REQ_FLUSH, false},
    {"HealthCheck", NULL, REQ_HEALTH_CHECK, false},
    {"DeleteConcept", PAYLOAD(concept_id_fields, NULL), REQ_DELETE_CONCEPT, false},
    {"DeleteAssociation", PAYLOAD(delete_assoc_fields, NULL), REQ_DELETE_ASSOCIATION, false},
    {"GetConcept", PAYLOAD(concept_id_fields, NULL), REQ_GET_CONCEPT, false},
    {"GetNeighborsDetailed", PAYLOAD(neighbors_detailed_fields, neighbors_detailed_defaults),
     REQ_GET_NEIGHBORS_DETAILED, false},
    {"LearnConcepts", PAYLOAD(learn_concepts_fields, NULL), REQ_LEARN_CONCEPTS, false},
    {"LearnAssociations", PAYLOAD(learn_assocs_fields, NULL), REQ_LEARN_ASSOCIATIONS, false},
    {"Sync", NULL, REQ_SYNC, false},
    {"Checkpoint", NULL, REQ_CHECKPOINT, false},
    {"ServerInfo", NULL, REQ_SERVER_INFO, false},
    {"StatsExtended", NULL, REQ_STATS_EXTENDED, false},
    {"SetEncoding", PAYLOAD(set_encoding_fields, NULL), REQ_SET_ENCODING, false},
    {"VectorSearchFiltered", PAYLOAD(vector_filtered_fields, NULL), REQ_VECTOR_SEARCH_FILTERED,
     false},
    {"FindPathEx", PAYLOAD_FINISH(graph_path_fields, graph_path_defaults, graph_path_finish),
     REQ_FIND_PATH_EX, false},
    {"FindPaths", PAYLOAD_FINISH(find_paths_fields, graph_path_defaults, graph_path_finish),
     REQ_FIND_PATHS, false},
    {"FindBestPath", PAYLOAD_FINISH(graph_path_fields, graph_path_defaults, graph_path_finish),
     REQ_FIND_BEST_PATH, false},
    {"KHop", PAYLOAD_FINISH(khop_fields, khop_defaults, khop_finish), REQ_KHOP, false},
    {"HybridSearch", PAYLOAD_FINISH(hybrid_fields, hybrid_defaults, hybrid_finish),
     REQ_HYBRID_SEARCH, false},
};
const size_t pd_nvariants = sizeof(pd_variants) / sizeof(pd_variants[0]);
