/* client.h - blocking TCP client of the Sutra MessagePack protocol (sutra-cli,
 * the load generator of the benchmarks, tests).
 *
 * A connection (struct sc_conn) owns one socket, a queue of request frames
 * and an input buffer. Each request builder sc_req_<variant>() appends one
 * framed request (4-byte big-endian length + MessagePack) to the queue;
 * sc_send() writes the whole queue; sc_recv() reads and decodes exactly one
 * reply. Queue N requests, sc_send() once, sc_recv() N times: that is
 * pipelining (while sending, whatever the server already answered is read
 * into the input buffer, so a long pipeline cannot deadlock on full socket
 * buffers). sc_call() does one round trip of whatever is queued.
 *
 * Requests are written as {name: {field: value}} by default; sc_set_form()
 * switches to {name: [fields in declared order]}, to variant indices where
 * the variant has one (the Rust table, 0..15), and to {name: nil} for unit
 * variants, so every lenient form the server accepts can be produced.
 *
 * Replies are decoded into a bounded tree of values (struct sc_val) that
 * borrows the reply's own copy of the frame. Every length is checked against
 * the bytes present before it is used, the number of nodes is counted (and
 * bounded by the frame size) before anything is allocated, and nesting is
 * bounded by SC_MAX_DEPTH. Compact replies ({name: [fields in order]}) and
 * named ones ({name: {field: value}}) are read the same way: sc_field()
 * looks a field up by name in either, using the declared field order of the
 * variant. An Error reply makes sc_recv()/sc_call() return SC_ESERVER with the
 * server's text in reply->message.
 *
 * Not thread-safe: one connection per thread.
 */
#ifndef SUTRA_CLIENT_CLIENT_H
#define SUTRA_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h" /* struct mpbuf, mp_put_* */

#define SC_DEFAULT_PORT      50051
#define SC_MAX_DEPTH         64
#define SC_DEFAULT_MAX_REPLY (256u << 20) /* largest reply frame accepted */

/* Results: 0 or one of these. */
enum {
	SC_OK = 0,
	SC_ESERVER = -1,   /* the server answered Error{message} (reply->message) */
	SC_EIO = -2,       /* socket error; conn->err says which call failed */
	SC_ECLOSED = -3,   /* the server closed the connection */
	SC_ETIMEDOUT = -4, /* no progress within the connection's timeout */
	SC_EPROTO = -5,    /* the reply is not valid protocol; conn->err says why */
	SC_ENOMEM = -6,
	SC_EINVAL = -7 /* bad argument (conn->err says which) */
};

const char *sc_strerror(int rc);

/* ---- values ----------------------------------------------------------------- */

enum sc_type {
	SC_NIL,
	SC_BOOL,
	SC_UINT, /* non-negative integer */
	SC_INT,  /* negative integer */
	SC_FLOAT,
	SC_STR,
	SC_BIN,
	SC_ARRAY,
	SC_MAP,
	SC_EXT
};

/* One decoded MessagePack value. Strings are NOT NUL-terminated and, like
 * items, are borrowed from the reply until it is reused or freed. A map's
 * items are 2*n values: key, value, key, value... */
struct sc_val {
	uint8_t type; /* enum sc_type */
	uint32_t n;   /* bytes of STR/BIN/EXT, items of ARRAY, pairs of MAP */
	union {
		bool b;
		uint64_t u;
		int64_t i;
		double f;
		const char *s;
		const struct sc_val *items;
	} v;
};

/* Typed reads; each returns false (and leaves *out alone) on a type mismatch
 * or NULL v. Integers are accepted as f64; u64/i64 refuse out-of-range
 * values; str accepts STR and BIN. */
bool sc_val_u64(const struct sc_val *v, uint64_t *out);
bool sc_val_i64(const struct sc_val *v, int64_t *out);
bool sc_val_f64(const struct sc_val *v, double *out);
bool sc_val_bool(const struct sc_val *v, bool *out);
bool sc_val_str(const struct sc_val *v, const char **s, uint32_t *n);
bool sc_val_is_nil(const struct sc_val *v);
/* true if v is a STR/BIN equal to the NUL-terminated s. */
bool sc_val_streq(const struct sc_val *v, const char *s);
/* Item i of an array, or NULL (not an array, out of range). */
const struct sc_val *sc_val_at(const struct sc_val *v, uint32_t i);
/* The value under a string key of a map, or NULL. */
const struct sc_val *sc_val_key(const struct sc_val *v, const char *key);
/* Number of items of an array or pairs of a map, else 0. */
uint32_t sc_val_len(const struct sc_val *v);

/* ---- replies ------------------------------------------------------------------ */

/* Reply variants: 0..16 are the Rust server's wire indices. */
enum sc_resp {
	SC_R_UNKNOWN = -1,
	SC_R_LEARN_CONCEPT_V2_OK = 0,
	SC_R_LEARN_BATCH_OK,
	SC_R_LEARN_CONCEPT_OK,
	SC_R_LEARN_ASSOCIATION_OK,
	SC_R_QUERY_CONCEPT_OK,
	SC_R_GET_NEIGHBORS_OK,
	SC_R_FIND_PATH_OK,
	SC_R_VECTOR_SEARCH_OK,
	SC_R_FIND_PATH_SEMANTIC_OK,
	SC_R_FIND_TEMPORAL_CHAIN_OK,
	SC_R_FIND_CAUSAL_CHAIN_OK,
	SC_R_FIND_CONTRADICTIONS_OK,
	SC_R_QUERY_BY_SEMANTIC_OK,
	SC_R_STATS_OK,
	SC_R_FLUSH_OK,
	SC_R_HEALTH_CHECK_OK,
	SC_R_ERROR,
	/* extensions (named only on the wire) */
	SC_R_DELETE_CONCEPT_OK,
	SC_R_DELETE_ASSOCIATION_OK,
	SC_R_GET_CONCEPT_OK,
	SC_R_GET_NEIGHBORS_DETAILED_OK,
	SC_R_LEARN_CONCEPTS_OK,
	SC_R_LEARN_ASSOCIATIONS_OK,
	SC_R_SYNC_OK,
	SC_R_CHECKPOINT_OK,
	SC_R_SERVER_INFO_OK,
	SC_R_STATS_EXTENDED_OK,
	SC_R_SET_ENCODING_OK,
	SC_R_FIND_PATHS_OK,
	SC_R_FIND_BEST_PATH_OK,
	SC_R_KHOP_OK,
	SC_R_HYBRID_SEARCH_OK,
	SC_R_COUNT
};

/* Name of a reply variant ("?" for an unknown kind). */
const char *sc_resp_name(int kind);

/* A decoded reply. Initialise with sc_reply_init, reuse across sc_recv
 * calls (buffers are kept), release with sc_reply_free. Everything reachable
 * from it is borrowed until it is reused or freed. */
struct sc_reply {
	int kind;                     /* enum sc_resp */
	const char *name;             /* variant name as sent (not NUL-terminated) */
	uint32_t name_len;            /* 0 when the variant was sent by index */
	bool named;                   /* payload was a map (named form) */
	const struct sc_val *root;    /* the whole reply value */
	const struct sc_val *payload; /* NULL for a unit variant */
	char *message;                /* Error text, NUL-terminated, else NULL */
	/* storage */
	uint8_t *buf;
	size_t len, cap;
	struct sc_val *nodes;
	size_t node_cap;
	char *msg_buf;
	size_t msg_cap;
};

void sc_reply_init(struct sc_reply *r);
void sc_reply_free(struct sc_reply *r);
/* Decodes one reply payload (no frame header) copied from p[0..n). Returns
 * 0, SC_ESERVER for an Error reply (r->message set), SC_EPROTO (why: in err,
 * if err is not NULL) or SC_ENOMEM. */
int sc_reply_parse(struct sc_reply *r, const void *p, size_t n, char *err, size_t errlen);
/* A field of the reply by declared name, in compact or named form; NULL when
 * absent (or the payload is shorter than the declared field list). */
const struct sc_val *sc_field(const struct sc_reply *r, const char *field);
/* Typed field reads: 0, or SC_EPROTO when the field is missing or of another type. */
int sc_field_u64(const struct sc_reply *r, const char *field, uint64_t *out);
int sc_field_f64(const struct sc_reply *r, const char *field, double *out);
int sc_field_bool(const struct sc_reply *r, const char *field, bool *out);
int sc_field_str(const struct sc_reply *r, const char *field, const char **s, uint32_t *n);
/* The declared fields of a reply variant, in order (NULL-terminated list), or
 * NULL for an unknown kind. */
const char *const *sc_resp_fields(int kind);

/* ---- connection ------------------------------------------------------------------- */

struct sc_bytes {
	uint8_t *p;
	size_t len, cap;
};

/* Request forms (sc_set_form flags). */
#define SC_FORM_ARRAY    1u /* payloads as arrays in field order (default: maps) */
#define SC_FORM_INDEX    2u /* variant keys as wire indices where one exists */
#define SC_FORM_UNIT_MAP 4u /* unit variants as {name: nil} (default: bare name) */

struct sc_conn {
	int fd;              /* -1 when not connected */
	int timeout_ms;      /* per wait; < 0 waits forever */
	unsigned form;       /* SC_FORM_* */
	uint32_t max_reply;  /* largest reply payload accepted */
	struct mpbuf req;    /* the request being built */
	struct sc_bytes out; /* queued frames */
	size_t out_off;      /* bytes of out already written */
	size_t queued;       /* requests queued and not yet answered */
	struct sc_bytes in;  /* bytes read, not yet consumed */
	size_t in_off;
	char err[256]; /* what the last failure was */
};

/* Prepares c without a socket (requests can be queued and inspected). */
void sc_init(struct sc_conn *c);
/* Connects to host:port (name or address) within timeout_ms (< 0: forever),
 * with TCP_NODELAY; the timeout also bounds every later wait. */
int sc_connect(struct sc_conn *c, const char *host, unsigned port, int timeout_ms);
/* Closes the socket and frees the buffers; c can be connected again. */
void sc_close(struct sc_conn *c);
void sc_set_form(struct sc_conn *c, unsigned form);
/* Writes every queued frame. */
int sc_send(struct sc_conn *c);
/* Reads and decodes the next reply into r (see sc_reply_parse). After
 * SC_EIO, SC_ECLOSED, SC_ETIMEDOUT or SC_EPROTO the stream may be out of step:
 * close the connection. SC_ESERVER is an ordinary reply (the next one follows). */
int sc_recv(struct sc_conn *c, struct sc_reply *r);
/* sc_send then sc_recv: one round trip for one queued request. */
int sc_call(struct sc_conn *c, struct sc_reply *r);
/* Drops queued, unsent frames. */
void sc_discard(struct sc_conn *c);

/* ---- requests ---------------------------------------------------------------------- */

/* Each builder queues one framed request on c and returns 0, SC_ENOMEM or
 * SC_EINVAL. Ids are client id strings (hex or any text; NUL-terminated).
 * Pointers are borrowed for the call only. */

struct sc_learn_options {
	bool generate_embedding;
	const char *embedding_model; /* NULL: nil */
	bool extract_associations;
	float min_association_confidence;
	uint32_t max_associations_per_concept;
	float strength;
	float confidence;
};
/* No embedding, no extraction, 0.5, 10, strength 1, confidence 1. */
void sc_learn_options_default(struct sc_learn_options *o);

struct sc_semantic_filter {
	const char *semantic_type;  /* NULL: nil */
	const char *domain_context; /* NULL: nil */
	bool has_after, has_before;
	int64_t temporal_after, temporal_before;
	bool has_causal_relation;
	float min_confidence;
	const char *const *required_terms;
	size_t n_terms;
};

struct sc_meta {
	const char *key, *value;
};

struct sc_concept_item { /* LearnConcepts */
	const char *id;
	const char *content;
	size_t content_len;
	const float *vector; /* NULL: nil */
	uint32_t dim;
	float strength, confidence;
	const struct sc_meta *meta;
	size_t meta_count;
};

struct sc_assoc_item { /* LearnAssociations */
	const char *source, *target;
	uint32_t type;
	float confidence;
};

/* GetNeighborsDetailed directions */
#define SC_DIR_OUT  1
#define SC_DIR_IN   2
#define SC_DIR_BOTH 3

/* VectorSearchFiltered conditions (all that are given must hold). Absent
 * ones are sent as nil, so the server's rules and defaults apply: meta_key
 * and meta_value together; type, direction and max_depth only with
 * reachable_from. */
struct sc_vector_filter {
	const char *meta_key, *meta_value; /* NULL: no metadata condition */
	const char *reachable_from;        /* NULL: no reachability condition */
	int type;                          /* < 0: any */
	int direction;                     /* SC_DIR_*; 0: the server's default (both) */
	uint32_t max_depth;                /* 0: the server's default (1) */
	const char *const *ids;            /* NULL: no id condition ([]: nothing matches) */
	size_t id_count;
};

/* The GraphQuery of the graph requests: which associations a traversal
 * follows and how far. Fields left at the sc_graph_query_default values are
 * sent as nil, so the server's defaults apply (any type, both directions,
 * depth 20 -- HybridSearch 2 --, a budget of 1,000,000 visited concepts). */
struct sc_graph_query {
	int type;             /* < 0: any */
	int direction;        /* SC_DIR_*; 0: the server's default (both) */
	int max_depth;        /* 0..20; < 0: the server's default */
	uint64_t max_visited; /* 0: the server's default */
};
void sc_graph_query_default(struct sc_graph_query *q);

/* An already encoded payload (no frame header), copied as is. */
int sc_req_raw(struct sc_conn *c, const void *payload, size_t n);

int sc_req_learn_v2(struct sc_conn *c, const char *content, size_t len,
                    const struct sc_learn_options *o);
/* lens may be NULL (strlen of each content). */
int sc_req_learn_batch(struct sc_conn *c, const char *const *contents, const size_t *lens, size_t n,
                       const struct sc_learn_options *o);
int sc_req_learn_concept(struct sc_conn *c, const char *id, const char *content, size_t len,
                         const float *embedding, uint32_t dim, float strength, float confidence);
int sc_req_learn_association(struct sc_conn *c, const char *source, const char *target,
                             uint32_t type, float confidence);
int sc_req_query_concept(struct sc_conn *c, const char *id);
int sc_req_get_neighbors(struct sc_conn *c, const char *id);
int sc_req_find_path(struct sc_conn *c, const char *start, const char *end, uint32_t max_depth);
int sc_req_vector_search(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k,
                         uint32_t ef_search);
int sc_req_find_path_semantic(struct sc_conn *c, const char *start, const char *end,
                              const struct sc_semantic_filter *f, uint32_t max_depth,
                              uint32_t max_paths);
/* domain NULL: nil */
int sc_req_find_temporal_chain(struct sc_conn *c, const char *domain, int64_t start_time,
                               int64_t end_time);
int sc_req_find_causal_chain(struct sc_conn *c, const char *start, const char *causal_type,
                             uint32_t max_depth);
int sc_req_find_contradictions(struct sc_conn *c, const char *domain);
/* limit < 0: nil */
int sc_req_query_by_semantic(struct sc_conn *c, const struct sc_semantic_filter *f, int64_t limit);
int sc_req_get_stats(struct sc_conn *c);
int sc_req_flush(struct sc_conn *c);
int sc_req_health_check(struct sc_conn *c);
/* extensions */
int sc_req_delete_concept(struct sc_conn *c, const char *id);
int sc_req_delete_association(struct sc_conn *c, const char *source, const char *target,
                              uint32_t type);
int sc_req_get_concept(struct sc_conn *c, const char *id);
/* direction SC_DIR_*; type < 0: any (nil); limit 0: the server's cap */
int sc_req_get_neighbors_detailed(struct sc_conn *c, const char *id, int direction, int type,
                                  uint32_t limit);
int sc_req_learn_concepts(struct sc_conn *c, const struct sc_concept_item *items, size_t n);
int sc_req_learn_associations(struct sc_conn *c, const struct sc_assoc_item *items, size_t n);
int sc_req_sync(struct sc_conn *c);
int sc_req_checkpoint(struct sc_conn *c);
int sc_req_server_info(struct sc_conn *c);
int sc_req_stats_extended(struct sc_conn *c);
int sc_req_set_encoding(struct sc_conn *c, bool named);
/* f NULL: no filter (the plain search, answered VectorSearchOk like it) */
int sc_req_vector_search_filtered(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k,
                                  uint32_t ef_search, const struct sc_vector_filter *f);
/* Graph queries; q NULL: every default. Counts of 0 are sent as nil (the
 * server's default: max_paths 10, KHop limit 1000, k_seeds 10, HybridSearch
 * limit 100). FindPathEx is answered FindPathOk, like FindPath. */
int sc_req_find_path_ex(struct sc_conn *c, const char *start, const char *end,
                        const struct sc_graph_query *q);
int sc_req_find_paths(struct sc_conn *c, const char *start, const char *end,
                      const struct sc_graph_query *q, uint32_t max_paths, bool k_shortest);
int sc_req_find_best_path(struct sc_conn *c, const char *start, const char *end,
                          const struct sc_graph_query *q);
int sc_req_khop(struct sc_conn *c, const char *id, const struct sc_graph_query *q, uint32_t limit);
int sc_req_hybrid_search(struct sc_conn *c, const float *query, uint32_t dim, uint32_t k_seeds,
                         uint32_t ef_search, const struct sc_graph_query *q, uint32_t limit);

#endif
