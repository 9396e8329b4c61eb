/* proto.h - the Sutra MessagePack protocol: request decoding and response
 * building (wire facts: docs/PROTOCOL.md and the seed protocol notes).
 *
 * Framing (4-byte big-endian length + payload) belongs to the server; this
 * module sees one complete payload at a time.
 *
 * Requests are decoded leniently, as the Rust server did: a variant with
 * fields is a one-entry map {name-or-index: payload}, the payload a map by
 * field name (unknown keys ignored, missing optional fields absent, missing
 * required ones an error) or an array in field order (exact length); a unit
 * variant is the bare name, its index, or {name: nil}; strings may arrive as
 * bin; integers are accepted where f32 is expected; bytes after the value
 * are ignored. Decoding never allocates from an unchecked length: every
 * count is checked against the bytes left before anything is sized by it,
 * all memory comes from an arena bounded by a multiple of the frame size,
 * and nesting is bounded (limits.max_nesting).
 *
 * Strings in a decoded request borrow the frame buffer and are NOT
 * NUL-terminated; arrays are allocated in the arena. Both live until the
 * frame buffer and the arena are released.
 */
#ifndef SUTRA_PROTO_PROTO_H
#define SUTRA_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request variants. 0..15 are the Rust server's (their wire index); the
 * extensions have names only (their index here is not a wire index). */
enum req_kind {
	REQ_LEARN_CONCEPT_V2 = 0,
	REQ_LEARN_BATCH = 1,
	REQ_LEARN_CONCEPT = 2,
	REQ_LEARN_ASSOCIATION = 3,
	REQ_QUERY_CONCEPT = 4,
	REQ_GET_NEIGHBORS = 5,
	REQ_FIND_PATH = 6,
	REQ_VECTOR_SEARCH = 7,
	REQ_FIND_PATH_SEMANTIC = 8,
	REQ_FIND_TEMPORAL_CHAIN = 9,
	REQ_FIND_CAUSAL_CHAIN = 10,
	REQ_FIND_CONTRADICTIONS = 11,
	REQ_QUERY_BY_SEMANTIC = 12,
	REQ_GET_STATS = 13,
	REQ_FLUSH = 14,
	REQ_HEALTH_CHECK = 15,
	/* extensions (docs/PROTOCOL.md) */
	REQ_DELETE_CONCEPT = 64,    /* DeleteConcept {concept_id} */
	REQ_DELETE_ASSOCIATION,     /* DeleteAssociation {source_id, target_id, assoc_type} */
	REQ_GET_CONCEPT,            /* GetConcept {concept_id} */
	REQ_GET_NEIGHBORS_DETAILED, /* GetNeighborsDetailed {concept_id, direction?, assoc_type?,
	                               limit?} */
	REQ_LEARN_CONCEPTS,         /* LearnConcepts {concepts: [ConceptItem]} (atomic) */
	REQ_LEARN_ASSOCIATIONS,     /* LearnAssociations {associations: [AssocItem]} (atomic) */
	REQ_SYNC,                   /* Sync (unit) */
	REQ_CHECKPOINT,             /* Checkpoint (unit) */
	REQ_SERVER_INFO,            /* ServerInfo (unit) */
	REQ_STATS_EXTENDED,         /* StatsExtended (unit) */
	REQ_SET_ENCODING,           /* SetEncoding {named: bool} (this connection's replies) */
	REQ_VECTOR_SEARCH_FILTERED, /* {query_vector, k, ef_search?, filter?} */
	REQ_FIND_PATH_EX,           /* {start_id, end_id, query?} */
	REQ_FIND_PATHS,             /* {start_id, end_id, query?, max_paths?, k_shortest?} */
	REQ_FIND_BEST_PATH,         /* {start_id, end_id, query?} */
	REQ_KHOP,                   /* {concept_id, query?, limit?} */
	REQ_HYBRID_SEARCH           /* {query_vector, k_seeds?, ef_search?, query?, limit?} */
};
#define REQ_LAST REQ_HYBRID_SEARCH

enum proto_encoding { ENC_COMPACT = 0, ENC_NAMED = 1 };

struct pstr {
	const char *p; /* borrowed from the frame, not NUL-terminated */
	uint32_t n;
};

struct proto_limits {
	uint32_t max_content;    /* 10485760 */
	uint32_t max_dim;        /* 2048 */
	uint32_t max_batch;      /* 1000 */
	uint32_t max_depth;      /* 20 */
	uint32_t max_k;          /* 1000 */
	uint32_t max_nesting;    /* 32 */
	uint32_t max_meta;       /* metadata entries per concept, 256 */
	uint32_t max_filter_ids; /* ids in a VectorSearchFiltered filter, 100000
	                          * (the engine's SUTRA_MAX_FILTER_IDS) */
	uint64_t max_visited;    /* GraphQuery.max_visited, 2000000 (memory: ~50 bytes a visit) */
	uint32_t max_paths;      /* FindPaths.max_paths, 1000 */
	uint32_t max_khop;       /* KHop.limit, 100000 */
	uint32_t max_hybrid;     /* HybridSearch.limit, 10000 */
};

void proto_limits_default(struct proto_limits *l);

struct learn_options {
	bool generate_embedding;
	bool has_model;
	struct pstr embedding_model;
	bool extract_associations;
	float min_association_confidence;
	uint32_t max_associations_per_concept;
	float strength;   /* default 1.0 when absent */
	float confidence; /* default 1.0 when absent */
};

struct concept_item {   /* LearnConcepts */
	struct pstr id; /* parsed with sutra_id_parse */
	struct pstr content;
	float *vector; /* NULL when absent or empty */
	uint32_t dim;
	float strength, confidence; /* default 1.0 */
	struct pstr *meta_keys, *meta_values;
	uint32_t meta_count;
};

struct assoc_item { /* LearnAssociations */
	struct pstr source, target;
	uint32_t type; /* 0..4 (checked) */
	float confidence;
};

/* VectorSearchFiltered.filter. Each condition is present or not (has_*);
 * the decoder has already checked that meta_key and meta_value come
 * together, that the reachability options come with reachable_from, and
 * filled their defaults (type -1 = any, direction 3 = both, depth 1). */
struct search_filter {
	bool has_meta_key, has_meta_value; /* equal once decoded */
	bool has_reach, has_ids;
	struct pstr meta_key;   /* 1..255 bytes */
	struct pstr meta_value; /* may be empty */
	struct pstr reach_from; /* parsed with sutra_id_parse */
	int reach_type;         /* -1 any or 0..4 */
	int reach_direction;    /* 1 out, 2 in, 3 both */
	uint32_t reach_depth;   /* 1..max_depth */
	struct pstr *ids;       /* NULL when id_count is 0 (has_ids says whether given) */
	uint32_t id_count;      /* <= max_filter_ids */
};

/* The GraphQuery of the graph extensions: which associations a traversal
 * follows and how far (the engine's sutra_graph_query). Defaults, filled
 * by the request before the query is read: any type, both directions,
 * max_depth 20 (HybridSearch 2), max_visited 1000000. */
struct graph_query {
	int type;             /* -1 any or 0..4 */
	int direction;        /* 1 out, 2 in, 3 both */
	uint32_t max_depth;   /* 0..max_depth */
	uint64_t max_visited; /* 1..max_visited */
};

struct request {
	int kind; /* enum req_kind */
	union {
		struct {
			struct pstr content;
			struct learn_options opt;
		} learn_v2;
		struct {
			struct pstr *contents;
			uint32_t count;
			struct learn_options opt;
		} learn_batch;
		struct {
			struct pstr id, content;
			float *embedding; /* NULL when empty */
			uint32_t dim;
			float strength, confidence;
		} learn_concept;
		struct {
			struct pstr source, target;
			uint32_t type;
			float confidence;
		} learn_assoc;
		struct pstr concept_id; /* QueryConcept, GetNeighbors, DeleteConcept, GetConcept */
		struct {
			struct pstr start, end;
			uint32_t max_depth;
		} find_path;
		struct {
			float *vec;
			uint32_t dim, k, ef_search;
		} vector_search;
		struct {
			struct pstr source, target;
			uint32_t type;
		} delete_assoc;
		struct {
			struct pstr id;
			int direction;  /* 1 out, 2 in, 3 both (default 3) */
			int type;       /* -1 any (default) or 0..4 */
			uint32_t limit; /* 0 = no limit (server caps it) */
		} neighbors_detailed;
		struct {
			struct concept_item *items;
			uint32_t count;
		} learn_concepts;
		struct {
			struct assoc_item *items;
			uint32_t count;
		} learn_assocs;
		struct {
			bool named;
		} set_encoding;
		struct {
			float *vec;
			uint32_t dim, k, ef_search;
			struct search_filter filter;
		} vector_filtered;
		struct { /* FindPathEx, FindPaths, FindBestPath */
			struct pstr start, end;
			struct graph_query q;
			uint32_t max_paths; /* FindPaths: 1..max_paths (default 10) */
			bool k_shortest;    /* FindPaths (default false) */
		} graph_path;
		struct {
			struct pstr id;
			struct graph_query q;
			uint32_t limit; /* 1..max_khop (default 1000) */
		} khop;
		struct {
			float *vec;
			uint32_t dim;
			uint32_t k_seeds; /* 1..max_k (default 10) */
			uint32_t ef_search;
			struct graph_query q;
			uint32_t limit; /* 1..max_hybrid (default 100) */
		} hybrid;
	} u;
};

/* A bump allocator for one request; never grows past its cap. */
struct arena {
	uint8_t *base;
	size_t used, cap;
};

/* Decodes one payload. Returns 0, or -1 with a message in err (the text
 * the Error reply carries: the Rust server's wording for the six limits,
 * e.g. "Content too large: N bytes (max: 10485760)"; otherwise naming the
 * variant, the field and what was wrong). */
int proto_decode(const uint8_t *p, size_t n, const struct proto_limits *lim, struct arena *a,
                 struct request *out, char *err, size_t errlen);

/* Details of proto_decode (additions to the agreed interface):
 * - lim may be NULL (the defaults). max_nesting counts containers on the
 *   way to the deepest one ([[1]] is 2); values above 256 act as 256.
 * - On failure out->kind is the variant when it was recognised (else -1),
 *   everything else in out is zero, and a->used is back where it was.
 * - Fields absent from a map payload take these defaults: LearnOptions as a
 *   whole and each of its fields (generate_embedding false, embedding_model
 *   none, extract_associations false, min_association_confidence 0.5,
 *   max_associations_per_concept 10, strength 1.0, confidence 1.0);
 *   LearnConcept embedding none, strength and confidence 1.0;
 *   LearnAssociation and AssocItem confidence 1.0; VectorSearch ef_search 0
 *   (the engine then uses k); ConceptItem vector/metadata none, strength and
 *   confidence 1.0; GetNeighborsDetailed direction 3, type -1, limit 0;
 *   VectorSearchFiltered ef_search 0, filter none (every has_* false);
 *   GraphQuery as a whole and each of its fields (see struct graph_query);
 *   FindPaths max_paths 10, k_shortest false; KHop limit 1000; HybridSearch
 *   k_seeds 10, ef_search 0, limit 100.
 *   Any optional field may also be given as nil (= absent).
 *
 * Arena size. Every array is allocated only after its count has been
 * checked against the limit and the bytes left in the frame, and is charged
 * to frame bytes no other allocation is charged to, at most
 * PROTO_ARENA_PER_BYTE arena bytes per frame byte, alignment included
 * (a float array: 4 bytes per element of >= 1 byte; a string array such as
 * LearnBatch contents or a filter's ids: 16 per string of >= 1 byte;
 * metadata: 32 per entry of >= 3 bytes; a ConceptItem list: 80 per item of
 * >= 5 bytes besides its vector and metadata, an AssocItem list 40 per item
 * of >= 5 bytes; item lists are checked in full before they are allocated).
 * So decoding a frame of n bytes never needs more than
 * PROTO_ARENA_PER_BYTE * n + PROTO_ARENA_SLACK bytes of arena, and never
 * more than the most the limits allow (with the default limits,
 * LearnConcepts: 1000 items with 2048-dim vectors and 256 metadata entries,
 * about 16.5 MB; VectorSearchFiltered with 100000 ids needs about 1.6 MB;
 * the graph extensions allocate only HybridSearch's query vector).
 * proto_arena_bound(n, lim) returns the smaller of the two; an arena of that
 * capacity never runs out. A smaller one fails the request with
 * "Request needs more decode memory than the server allows (N bytes)". */
#define PROTO_ARENA_PER_BYTE 16
#define PROTO_ARENA_SLACK    64
size_t proto_arena_bound(size_t n, const struct proto_limits *lim);

/* Offset of the first byte that breaks UTF-8 in s[0..n), or n if none. */
size_t utf8_invalid_at(const char *s, size_t n);

/* ---- responses ------------------------------------------------------------ */

/* A growable output buffer. Writers never fail: on allocation failure they
 * set oom and stop writing; the caller checks oom once at the end. */
struct mpbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void mpbuf_init(struct mpbuf *b);
void mpbuf_free(struct mpbuf *b);
void mpbuf_reset(struct mpbuf *b);

/* Starts a response: nfields == 0 writes the bare variant name (a unit
 * variant, e.g. "FlushOk"); otherwise {name: [..nfields..]} in compact form
 * or {name: {..nfields..}} in named form. Every field is then written as
 * rb_key(name) followed by exactly one value; rb_key writes nothing in
 * compact form. */
void rb_begin(struct mpbuf *b, int enc, const char *variant, uint32_t nfields);
void rb_key(struct mpbuf *b, int enc, const char *field);
/* An Error{message} response. */
void rb_error(struct mpbuf *b, int enc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* MessagePack values (smallest encodings; floats as float32 'ca'). */
void mp_put_nil(struct mpbuf *b);
void mp_put_bool(struct mpbuf *b, bool v);
void mp_put_uint(struct mpbuf *b, uint64_t v);
void mp_put_int(struct mpbuf *b, int64_t v);
void mp_put_f32(struct mpbuf *b, float v);
void mp_put_f64(struct mpbuf *b, double v);
void mp_put_str(struct mpbuf *b, const char *s, size_t n);
void mp_put_cstr(struct mpbuf *b, const char *s);
void mp_put_array(struct mpbuf *b, uint32_t n);
void mp_put_map(struct mpbuf *b, uint32_t n);

#endif
