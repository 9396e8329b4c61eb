/* test_proto.c - the MessagePack protocol: response bytes, lenient request decoding, limits.
 *
 * Responses are checked byte for byte against the Rust server's bytes (the
 * seed protocol notes) and their named form. Requests are generated from a
 * table that restates every variant's fields (independently of
 * src/proto/schema.c) in every accepted shape: map or array payload, name
 * or index key, str or bin strings, float32/float64/int numbers, unknown
 * keys, reordered keys, omitted or nil optional fields, trailing bytes. All
 * shapes must decode to the same request, printed by dump() and compared
 * with the expected text; missing required fields, wrong types and wrong
 * array lengths must give the documented errors. Then every limit at the
 * limit and one past, hostile counts in tiny frames, deep nesting, every
 * truncation of a request, and the arena bound.
 *
 * tests/CMakeLists.txt links unit tests with sutra_static only, and the
 * protocol is its own library (sutra_proto), so its sources are compiled
 * into this test. Should the rule later link sutra_proto as well, nothing
 * changes: every symbol is defined here, so no archive member is pulled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "proto/decode.c"
#include "proto/encode.c"
#include "proto/fields.c"
#include "proto/mpread.c"
#include "proto/schema.c"
#include "proto/utf8.c"

#include "sutra/sutra_test.h"
#include "testutil.h"

/* ---- decoding helpers ---------------------------------------------------- */

static uint8_t arena_mem[1 << 21];
static struct arena g_arena;
static struct request g_req;
static char g_err[512];

static int decode_lim(const uint8_t *p, size_t n, const struct proto_limits *lim, size_t cap)
{
	g_arena = (struct arena){arena_mem, 0, cap};
	return proto_decode(p, n, lim, &g_arena, &g_req, g_err, sizeof g_err);
}

static int decode_mb(const struct mpbuf *b)
{
	return decode_lim(b->p, b->len, NULL, sizeof arena_mem);
}

static void assert_decodes(const struct mpbuf *b)
{
	if (decode_mb(b) != 0)
		fail_msg("decode failed: %s", g_err);
}

static void assert_error(const struct mpbuf *b, const char *want)
{
	int rc = decode_mb(b);

	if (rc == 0)
		fail_msg("decoded, expected the error \"%s\"", want);
	assert_int_equal(rc, -1);
	assert_string_equal(g_err, want);
	assert_int_equal(g_arena.used, 0);
}

static void assert_error_prefix(const struct mpbuf *b, const char *prefix)
{
	int rc = decode_mb(b);

	if (rc == 0)
		fail_msg("decoded, expected an error starting \"%s\"", prefix);
	if (strncmp(g_err, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", g_err, prefix);
	assert_int_equal(g_arena.used, 0);
}

/* ---- printing a decoded request ------------------------------------------ */

struct sbuf {
	char s[4096];
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void sb(struct sbuf *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int w = vsnprintf(o->s + o->n, sizeof o->s - o->n, fmt, ap);
	va_end(ap);
	assert_true(w >= 0 && (size_t)w < sizeof o->s - o->n);
	o->n += (size_t)w;
}

static void sb_str(struct sbuf *o, const char *key, struct pstr s)
{
	sb(o, "%s%.*s", key, (int)s.n, s.p);
}

static void sb_vec(struct sbuf *o, const char *key, const float *v, uint32_t n)
{
	sb(o, "%s[", key);
	for (uint32_t i = 0; i < n; i++)
		sb(o, "%s%g", i ? "," : "", (double)v[i]);
	sb(o, "]");
}

static void sb_opts(struct sbuf *o, const struct learn_options *op)
{
	sb(o, " opt={ge=%d model=", op->generate_embedding);
	if (op->has_model)
		sb_str(o, "", op->embedding_model);
	else
		sb(o, "-");
	sb(o, " ea=%d minc=%g maxa=%u s=%g c=%g}", op->extract_associations,
	   (double)op->min_association_confidence, op->max_associations_per_concept,
	   (double)op->strength, (double)op->confidence);
}

static void sb_item(struct sbuf *o, const struct concept_item *it)
{
	sb_str(o, "{id=", it->id);
	sb_str(o, " content=", it->content);
	sb_vec(o, " vec=", it->vector, it->dim);
	sb(o, " s=%g c=%g meta={", (double)it->strength, (double)it->confidence);
	for (uint32_t i = 0; i < it->meta_count; i++) {
		sb_str(o, i ? "," : "", it->meta_keys[i]);
		sb_str(o, ":", it->meta_values[i]);
	}
	sb(o, "}}");
}

static void dump_more(struct sbuf *o, const struct request *r)
{
	switch (r->kind) {
	case REQ_DELETE_ASSOCIATION:
		sb_str(o, "src=", r->u.delete_assoc.source);
		sb_str(o, " dst=", r->u.delete_assoc.target);
		sb(o, " type=%u", r->u.delete_assoc.type);
		break;
	case REQ_GET_NEIGHBORS_DETAILED:
		sb_str(o, "id=", r->u.neighbors_detailed.id);
		sb(o, " dir=%d type=%d limit=%u", r->u.neighbors_detailed.direction,
		   r->u.neighbors_detailed.type, r->u.neighbors_detailed.limit);
		break;
	case REQ_LEARN_CONCEPTS:
		sb(o, "items=[");
		for (uint32_t i = 0; i < r->u.learn_concepts.count; i++)
			sb_item(o, &r->u.learn_concepts.items[i]);
		sb(o, "]");
		break;
	case REQ_LEARN_ASSOCIATIONS:
		sb(o, "items=[");
		for (uint32_t i = 0; i < r->u.learn_assocs.count; i++) {
			const struct assoc_item *a = &r->u.learn_assocs.items[i];
			sb_str(o, "{src=", a->source);
			sb_str(o, " dst=", a->target);
			sb(o, " type=%u c=%g}", a->type, (double)a->confidence);
		}
		sb(o, "]");
		break;
	case REQ_SET_ENCODING:
		sb(o, "named=%d", r->u.set_encoding.named);
		break;
	default:
		break;
	}
}

static const char *dump(const struct request *r)
{
	static struct sbuf o;

	o.n = 0;
	o.s[0] = '\0';
	sb(&o, "%d:", r->kind);
	switch (r->kind) {
	case REQ_LEARN_CONCEPT_V2:
		sb_str(&o, "content=", r->u.learn_v2.content);
		sb_opts(&o, &r->u.learn_v2.opt);
		break;
	case REQ_LEARN_BATCH:
		sb(&o, "contents=[");
		for (uint32_t i = 0; i < r->u.learn_batch.count; i++)
			sb_str(&o, i ? "," : "", r->u.learn_batch.contents[i]);
		sb(&o, "]");
		sb_opts(&o, &r->u.learn_batch.opt);
		break;
	case REQ_LEARN_CONCEPT:
		sb_str(&o, "id=", r->u.learn_concept.id);
		sb_str(&o, " content=", r->u.learn_concept.content);
		sb_vec(&o, " emb=", r->u.learn_concept.embedding, r->u.learn_concept.dim);
		sb(&o, " s=%g c=%g", (double)r->u.learn_concept.strength,
		   (double)r->u.learn_concept.confidence);
		break;
	case REQ_LEARN_ASSOCIATION:
		sb_str(&o, "src=", r->u.learn_assoc.source);
		sb_str(&o, " dst=", r->u.learn_assoc.target);
		sb(&o, " type=%u c=%g", r->u.learn_assoc.type, (double)r->u.learn_assoc.confidence);
		break;
	case REQ_QUERY_CONCEPT:
	case REQ_GET_NEIGHBORS:
	case REQ_DELETE_CONCEPT:
	case REQ_GET_CONCEPT:
		sb_str(&o, "id=", r->u.concept_id);
		break;
	case REQ_FIND_PATH:
		sb_str(&o, "start=", r->u.find_path.start);
		sb_str(&o, " end=", r->u.find_path.end);
		sb(&o, " depth=%u", r->u.find_path.max_depth);
		break;
	case REQ_VECTOR_SEARCH:
		sb_vec(&o, "vec=", r->u.vector_search.vec, r->u.vector_search.dim);
		sb(&o, " k=%u ef=%u", r->u.vector_search.k, r->u.vector_search.ef_search);
		break;
	default:
		dump_more(&o, r);
		break;
	}
	return o.s;
}

/* ---- the request table (restated from the protocol notes) ---------------- */

enum vk {
	V_STR,      /* the field's own name as the string */
	V_U32,      /* 7 */
	V_DEPTH,    /* 5 */
	V_K,        /* 9 */
	V_TYPE,     /* 3 */
	V_TYPE_ANY, /* 2 */
	V_UINT,     /* 11 */
	V_F32,      /* 2 + the field's position */
	V_BOOL,     /* true */
	V_I64,      /* -5 */
	V_VEC,      /* [1, 2, 3] */
	V_STRS,     /* ["a", "bb"] */
	V_STRLIST,  /* ["t"] */
	V_DIR,      /* "out" */
	V_META,     /* {"k": "v"} */
	V_SUB,      /* a struct */
	V_ITEMS     /* two structs */
};

struct tstruct;
struct tfield {
	const char *name;
	int vk;
	bool required;
	const struct tstruct *sub;
};
struct tstruct {
	const struct tfield *f;
	int n;
};
#define TS(a)                                                                                      \
	{                                                                                          \
		(a), (int)(sizeof(a) / sizeof((a)[0]))                                             \
	}

static const struct tfield t_options_f[] = {
    {"generate_embedding", V_BOOL, false, NULL},
    {"embedding_model", V_STR, false, NULL},
    {"extract_associations", V_BOOL, false, NULL},
    {"min_association_confidence", V_F32, false, NULL},
    {"max_associations_per_concept", V_U32, false, NULL},
    {"strength", V_F32, false, NULL},
    {"confidence", V_F32, false, NULL},
};
static const struct tstruct t_options = TS(t_options_f);
static const struct tfield t_filter_f[] = {
    {"semantic_type", V_STR, false, NULL},        {"domain_context", V_STR, false, NULL},
    {"temporal_after", V_I64, false, NULL},       {"temporal_before", V_I64, false, NULL},
    {"has_causal_relation", V_BOOL, false, NULL}, {"min_confidence", V_F32, false, NULL},
    {"required_terms", V_STRLIST, false, NULL},
};
static const struct tstruct t_filter = TS(t_filter_f);
static const struct tfield t_citem_f[] = {
    {"concept_id", V_STR, true, NULL},  {"content", V_STR, true, NULL},
    {"vector", V_VEC, false, NULL},     {"strength", V_F32, false, NULL},
    {"confidence", V_F32, false, NULL}, {"metadata", V_META, false, NULL},
};
static const struct tstruct t_citem = TS(t_citem_f);
static const struct tfield t_aitem_f[] = {
    {"source_id", V_STR, true, NULL},
    {"target_id", V_STR, true, NULL},
    {"assoc_type", V_TYPE, true, NULL},
    {"confidence", V_F32, false, NULL},
};
static const struct tstruct t_aitem = TS(t_aitem_f);

static const struct tfield t_v2[] = {{"content", V_STR, true, NULL},
                                     {"options", V_SUB, false, &t_options}};
static const struct tfield t_batch[] = {{"contents", V_STRS, true, NULL},
                                        {"options", V_SUB, false, &t_options}};
static const struct tfield t_learn[] = {
    {"concept_id", V_STR, true, NULL},  {"content", V_STR, true, NULL},
    {"embedding", V_VEC, false, NULL},  {"strength", V_F32, false, NULL},
    {"confidence", V_F32, false, NULL},
};
static const struct tfield t_assoc[] = {
    {"source_id", V_STR, true, NULL},
    {"target_id", V_STR, true, NULL},
    {"assoc_type", V_TYPE, true, NULL},
    {"confidence", V_F32, false, NULL},
};
static const struct tfield t_id[] = {{"concept_id", V_STR, true, NULL}};
static const struct tfield t_path[] = {{"start_id", V_STR, true, NULL},
                                       {"end_id", V_STR, true, NULL},
                                       {"max_depth", V_DEPTH, true, NULL}};
static const struct tfield t_search[] = {
    {"query_vector", V_VEC, true, NULL}, {"k", V_K, true, NULL}, {"ef_search", V_U32, false, NULL}};
static const struct tfield t_path_sem[] = {
    {"start_id", V_STR, true, NULL},    {"end_id", V_STR, true, NULL},
    {"filter", V_SUB, true, &t_filter}, {"max_depth", V_DEPTH, true, NULL},
    {"max_paths", V_U32, true, NULL},
};
static const struct tfield t_temporal[] = {{"domain", V_STR, false, NULL},
                                           {"start_time", V_I64, true, NULL},
                                           {"end_time", V_I64, true, NULL}};
static const struct tfield t_causal[] = {{"start_id", V_STR, true, NULL},
                                         {"causal_type", V_STR, true, NULL},
                                         {"max_depth", V_DEPTH, true, NULL}};
static const struct tfield t_contra[] = {{"domain", V_STR, true, NULL}};
static const struct tfield t_query_sem[] = {{"filter", V_SUB, true, &t_filter},
                                            {"limit", V_UINT, false, NULL}};
static const struct tfield t_del_assoc[] = {{"source_id", V_STR, true, NULL},
                                            {"target_id", V_STR, true, NULL},
                                            {"assoc_type", V_TYPE, true, NULL}};
static const struct tfield t_nd[] = {{"concept_id", V_STR, true, NULL},
                                     {"direction", V_DIR, false, NULL},
                                     {"assoc_type", V_TYPE_ANY, false, NULL},
                                     {"limit", V_UINT, false, NULL}};
static const struct tfield t_concepts[] = {{"concepts", V_ITEMS, true, &t_citem}};
static const struct tfield t_assocs[] = {{"associations", V_ITEMS, true, &t_aitem}};
static const struct tfield t_set_enc[] = {{"named", V_BOOL, true, NULL}};

struct tvariant {
	const char *name;
	int kind;
	int index; /* wire index, -1 for extensions */
	struct tstruct payload;
	const char *full;     /* dump() of the request with every field given */
	const char *defaults; /* ... with the optional fields absent */
};

#define OPTS_FULL  " opt={ge=1 model=embedding_model ea=1 minc=5 maxa=7 s=7 c=8}"
#define OPTS_DEF   " opt={ge=0 model=- ea=0 minc=0.5 maxa=10 s=1 c=1}"
#define CITEM_FULL "{id=concept_id content=content vec=[1,2,3] s=5 c=6 meta={k:v}}"
#define CITEM_DEF  "{id=concept_id content=content vec=[] s=1 c=1 meta={}}"
#define AITEM_FULL "{src=source_id dst=target_id type=3 c=5}"
#define AITEM_DEF  "{src=source_id dst=target_id type=3 c=1}"

static const struct tvariant t_variants[] = {
    {"LearnConceptV2", REQ_LEARN_CONCEPT_V2, 0, TS(t_v2), "0:content=content" OPTS_FULL,
     "0:content=content" OPTS_DEF},
    {"LearnBatch", REQ_LEARN_BATCH, 1, TS(t_batch), "1:contents=[a,bb]" OPTS_FULL,
     "1:contents=[a,bb]" OPTS_DEF},
    {"LearnConcept", REQ_LEARN_CONCEPT, 2, TS(t_learn),
     "2:id=concept_id content=content emb=[1,2,3] s=5 c=6",
     "2:id=concept_id content=content emb=[] s=1 c=1"},
    {"LearnAssociation", REQ_LEARN_ASSOCIATION, 3, TS(t_assoc),
     "3:src=source_id dst=target_id type=3 c=5", "3:src=source_id dst=target_id type=3 c=1"},
    {"QueryConcept", REQ_QUERY_CONCEPT, 4, TS(t_id), "4:id=concept_id", "4:id=concept_id"},
    {"GetNeighbors", REQ_GET_NEIGHBORS, 5, TS(t_id), "5:id=concept_id", "5:id=concept_id"},
    {"FindPath", REQ_FIND_PATH, 6, TS(t_path), "6:start=start_id end=end_id depth=5",
     "6:start=start_id end=end_id depth=5"},
    {"VectorSearch", REQ_VECTOR_SEARCH, 7, TS(t_search), "7:vec=[1,2,3] k=9 ef=7",
     "7:vec=[1,2,3] k=9 ef=0"},
    {"FindPathSemantic", REQ_FIND_PATH_SEMANTIC, 8, TS(t_path_sem), "8:", "8:"},
    {"FindTemporalChain", REQ_FIND_TEMPORAL_CHAIN, 9, TS(t_temporal), "9:", "9:"},
    {"FindCausalChain", REQ_FIND_CAUSAL_CHAIN, 10, TS(t_causal), "10:", "10:"},
    {"FindContradictions", REQ_FIND_CONTRADICTIONS, 11, TS(t_contra), "11:", "11:"},
    {"QueryBySemantic", REQ_QUERY_BY_SEMANTIC, 12, TS(t_query_sem), "12:", "12:"},
    {"DeleteConcept", REQ_DELETE_CONCEPT, -1, TS(t_id), "64:id=concept_id", "64:id=concept_id"},
    {"DeleteAssociation", REQ_DELETE_ASSOCIATION, -1, TS(t_del_assoc),
     "65:src=source_id dst=target_id type=3", "65:src=source_id dst=target_id type=3"},
    {"GetConcept", REQ_GET_CONCEPT, -1, TS(t_id), "66:id=concept_id", "66:id=concept_id"},
    {"GetNeighborsDetailed", REQ_GET_NEIGHBORS_DETAILED, -1, TS(t_nd),
     "67:id=concept_id dir=1 type=2 limit=11", "67:id=concept_id dir=3 type=-1 limit=0"},
    {"LearnConcepts", REQ_LEARN_CONCEPTS, -1, TS(t_concepts),
     "68:items=[" CITEM_FULL CITEM_FULL "]", "68:items=[" CITEM_DEF CITEM_DEF "]"},
    {"LearnAssociations", REQ_LEARN_ASSOCIATIONS, -1, TS(t_assocs),
     "69:items=[" AITEM_FULL AITEM_FULL "]", "69:items=[" AITEM_DEF AITEM_DEF "]"},
    {"SetEncoding", REQ_SET_ENCODING, -1, TS(t_set_enc), "74:named=1", "74:named=1"},
};
#define N_VARIANTS (sizeof t_variants / sizeof t_variants[0])

static const struct {
	const char *name;
	int kind;
	int index;
} t_units[] = {
    {"GetStats", REQ_GET_STATS, 13},           {"Flush", REQ_FLUSH, 14},
    {"HealthCheck", REQ_HEALTH_CHECK, 15},     {"Sync", REQ_SYNC, -1},
    {"Checkpoint", REQ_CHECKPOINT, -1},        {"ServerInfo", REQ_SERVER_INFO, -1},
    {"StatsExtended", REQ_STATS_EXTENDED, -1},
};

/* ---- generating requests ------------------------------------------------- */

enum {
	G_ARRAY = 1 << 0,       /* payloads and sub-structs as arrays */
	G_BIN = 1 << 1,         /* every string as bin */
	G_F64 = 1 << 2,         /* f32 values as float64 */
	G_INTF = 1 << 3,        /* f32 values as integers */
	G_FIELD_INDEX = 1 << 4, /* map keys as field indexes */
	G_UNKNOWN = 1 << 5,     /* extra unknown keys in maps */
	G_REVERSE = 1 << 6,     /* map keys in reverse order */
	G_OMIT_OPT = 1 << 7,    /* optional fields left out of maps */
	G_NIL_OPT = 1 << 8,     /* optional fields given as nil */
	G_INDEX_KEY = 1 << 9,   /* the variant by its wire index */
};

struct gen {
	struct mpbuf *b;
	unsigned flags;
	int omit;  /* a top-level field to leave out (-1: none) */
	int wrong; /* a top-level field given a value of a wrong type (-1: none) */
	int extra; /* top-level array payload length - field count */
};

static void gen_str(struct gen *g, const char *s)
{
	size_t n = strlen(s);

	if (g->flags & G_BIN) {
		uint8_t head[2] = {0xc4, (uint8_t)n};
		assert_true(n < 256);
		put_bytes(g->b, head, 2); /* encode.c's raw writer */
		put_bytes(g->b, s, n);
	} else {
		mp_put_cstr(g->b, s);
	}
}

static void gen_f32(struct gen *g, int v)
{
	if (g->flags & G_INTF)
		mp_put_int(g->b, v);
	else if (g->flags & G_F64)
		mp_put_f64(g->b, v);
	else
		mp_put_f32(g->b, (float)v);
}

static void gen_struct(struct gen *g, const struct tstruct *s, bool top);

static void gen_value(struct gen *g, const struct tfield *f, int pos)
{
	switch (f->vk) {
	case V_STR:
		gen_str(g, f->name);
		break;
	case V_U32:
	case V_DEPTH:
	case V_K:
	case V_TYPE:
	case V_TYPE_ANY:
	case V_UINT: {
		static const int vals[] = {[V_U32] = 7,  [V_DEPTH] = 5,    [V_K] = 9,
		                           [V_TYPE] = 3, [V_TYPE_ANY] = 2, [V_UINT] = 11};
		mp_put_uint(g->b, (uint64_t)vals[f->vk]);
		break;
	}
	case V_F32:
		gen_f32(g, 2 + pos);
		break;
	case V_BOOL:
		mp_put_bool(g->b, true);
		break;
	case V_I64:
		mp_put_int(g->b, -5);
		break;
	case V_VEC:
		mp_put_array(g->b, 3);
		for (int i = 1; i <= 3; i++)
			gen_f32(g, i);
		break;
	case V_STRS:
		mp_put_array(g->b, 2);
		gen_str(g, "a");
		gen_str(g, "bb");
		break;
	case V_STRLIST:
		mp_put_array(g->b, 1);
		gen_str(g, "t");
		break;
	case V_DIR:
		gen_str(g, "out");
		break;
	case V_META:
		mp_put_map(g->b, 1);
		gen_str(g, "k");
		gen_str(g, "v");
		break;
	case V_SUB:
		gen_struct(g, f->sub, false);
		break;
	case V_ITEMS:
		mp_put_array(g->b, 2);
		gen_struct(g, f->sub, false);
		gen_struct(g, f->sub, false);
		break;
	}
}

/* A field's value, or nil / a wrong-typed value as the generator asks. */
static void gen_field(struct gen *g, const struct tfield *f, int pos, bool top)
{
	if (top && pos == g->wrong) {
		static const uint8_t ext[] = {0xd4, 0x01,
		                              0x00}; /* fixext 1: wrong for every field */
		put_bytes(g->b, ext, sizeof ext);
	} else if ((g->flags & G_NIL_OPT) && !f->required) {
		mp_put_nil(g->b);
	} else {
		gen_value(g, f, pos);
	}
}

static bool gen_skips(const struct gen *g, const struct tfield *f, int pos, bool top)
{
	return (top && pos == g->omit) || ((g->flags & G_OMIT_OPT) && !f->required);
}

static void gen_unknown(struct gen *g)
{
	gen_str(g, "zz_unknown");
	mp_put_array(g->b, 2);
	mp_put_uint(g->b, 1);
	mp_put_map(g->b, 1);
	mp_put_cstr(g->b, "a");
	mp_put_array(g->b, 1);
	mp_put_nil(g->b);
}

static void gen_map(struct gen *g, const struct tstruct *s, bool top)
{
	uint32_t count = 0;

	for (int i = 0; i < s->n; i++)
		count += !gen_skips(g, &s->f[i], i, top);
	mp_put_map(g->b, count + ((g->flags & G_UNKNOWN) ? 2 : 0));
	if (g->flags & G_UNKNOWN)
		gen_unknown(g);
	for (int k = 0; k < s->n; k++) {
		int i = (g->flags & G_REVERSE) ? s->n - 1 - k : k;
		if (gen_skips(g, &s->f[i], i, top))
			continue;
		if (g->flags & G_FIELD_INDEX)
			mp_put_uint(g->b, (uint64_t)i);
		else
			gen_str(g, s->f[i].name);
		gen_field(g, &s->f[i], i, top);
	}
	if (g->flags & G_UNKNOWN) { /* an index past the fields is unknown too */
		mp_put_uint(g->b, 99);
		mp_put_cstr(g->b, "x");
	}
}

static void gen_struct(struct gen *g, const struct tstruct *s, bool top)
{
	int n = s->n + (top ? g->extra : 0);

	if (!(g->flags & G_ARRAY)) {
		gen_map(g, s, top);
		return;
	}
	mp_put_array(g->b, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		if (i < s->n)
			gen_field(g, &s->f[i], i, top);
		else
			mp_put_nil(g->b);
	}
}

static void gen_request(struct mpbuf *b, const struct tvariant *v, unsigned flags, int omit,
                        int wrong, int extra)
{
	struct gen g = {b, flags, omit, wrong, extra};

	mpbuf_reset(b);
	mp_put_map(b, 1);
	if (flags & G_INDEX_KEY)
		mp_put_uint(b, (uint64_t)v->index);
	else
		gen_str(&g, v->name);
	gen_struct(&g, &v->payload, true);
	assert_false(b->oom);
}

static void gen_plain(struct mpbuf *b, const struct tvariant *v, unsigned flags)
{
	gen_request(b, v, flags, -1, -1, 0);
}

/* ---- responses ----------------------------------------------------------- */

static void assert_bytes(const struct mpbuf *b, const char *hex)
{
	char got[2048];
	size_t n = 0;

	assert_false(b->oom);
	for (size_t i = 0; i < b->len && n + 3 < sizeof got; i++)
		n += (size_t)snprintf(got + n, sizeof got - n, "%02x", b->p[i]);
	got[n] = '\0';
	assert_string_equal(got, hex);
}

/* The hex of a str value. */
static const char *hs(const char *s)
{
	static char out[8][256];
	static int slot;
	char *o = out[slot++ & 7];
	size_t n = strlen(s), k;

	assert_true(n < 32);
	k = (size_t)snprintf(o, 256, "%02zx", 0xa0 | n);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(o + k, 256 - k, "%02x", (unsigned char)s[i]);
	return o;
}

static char *cat(const char *first, ...)
{
	static char out[4][2048];
	static int slot;
	char *o = out[slot++ & 3];
	va_list ap;

	o[0] = '\0';
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		strcat(o, s);
	va_end(ap);
	return o;
}

static void test_response_fixtures(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	/* LearnConceptOk{sequence: 5} */
	for (int enc = ENC_COMPACT; enc <= ENC_NAMED; enc++) {
		mpbuf_reset(&b);
		rb_begin(&b, enc, "LearnConceptOk", 1);
		rb_key(&b, enc, "sequence");
		mp_put_uint(&b, 5);
		assert_bytes(
		    &b, enc == ENC_COMPACT
		            ? cat("81", hs("LearnConceptOk"), "91", "05", NULL)
		            : cat("81", hs("LearnConceptOk"), "81", hs("sequence"), "05", NULL));
	}
	/* QueryConceptOk{true, "ab", "x", 1.0, 0.5} */
	for (int enc = ENC_COMPACT; enc <= ENC_NAMED; enc++) {
		mpbuf_reset(&b);
		rb_begin(&b, enc, "QueryConceptOk", 5);
		rb_key(&b, enc, "found");
		mp_put_bool(&b, true);
		rb_key(&b, enc, "concept_id");
		mp_put_cstr(&b, "ab");
		rb_key(&b, enc, "content");
		mp_put_cstr(&b, "x");
		rb_key(&b, enc, "strength");
		mp_put_f32(&b, 1.0f);
		rb_key(&b, enc, "confidence");
		mp_put_f32(&b, 0.5f);
		if (enc == ENC_COMPACT)
			assert_bytes(&b, cat("81", hs("QueryConceptOk"), "95c3", hs("ab"), hs("x"),
			                     "ca3f800000ca3f000000", NULL));
		else
			assert_bytes(&b, cat("81", hs("QueryConceptOk"), "85", hs("found"), "c3",
			                     hs("concept_id"), hs("ab"), hs("content"), hs("x"),
			                     hs("strength"), "ca3f800000", hs("confidence"),
			                     "ca3f000000", NULL));
	}
	/* VectorSearchOk{results: [("ab", 0.5)]}: a list of [id, similarity] pairs */
	for (int enc = ENC_COMPACT; enc <= ENC_NAMED; enc++) {
		mpbuf_reset(&b);
		rb_begin(&b, enc, "VectorSearchOk", 1);
		rb_key(&b, enc, "results");
		mp_put_array(&b, 1);
		mp_put_array(&b, 2);
		mp_put_cstr(&b, "ab");
		mp_put_f32(&b, 0.5f);
		assert_bytes(&b, enc == ENC_COMPACT
		                     ? cat("81", hs("VectorSearchOk"), "9191", "92", hs("ab"),
		                           "ca3f000000", NULL)
		                     : cat("81", hs("VectorSearchOk"), "81", hs("results"), "91",
		                           "92", hs("ab"), "ca3f000000", NULL));
	}
	/* FlushOk: a unit variant is its bare name in both forms */
	for (int enc = ENC_COMPACT; enc <= ENC_NAMED; enc++) {
		mpbuf_reset(&b);
		rb_begin(&b, enc, "FlushOk", 0);
		assert_bytes(&b, hs("FlushOk"));
		assert_string_equal(hs("FlushOk"), "a7466c7573684f6b");
	}
	/* Error{message: "m"} */
	mpbuf_reset(&b);
	rb_error(&b, ENC_COMPACT, "%s", "m");
	assert_bytes(&b, "81a54572726f7291a16d");
	mpbuf_reset(&b);
	rb_error(&b, ENC_NAMED, "m");
	assert_bytes(&b, cat("81", hs("Error"), "81", hs("message"), hs("m"), NULL));
	mpbuf_free(&b);
}

static void put_check(void (*put)(struct mpbuf *, uint64_t), uint64_t v, const char *hex)
{
	struct mpbuf b;

	mpbuf_init(&b);
	put(&b, v);
	assert_bytes(&b, hex);
	mpbuf_free(&b);
}

static void put_uint_fn(struct mpbuf *b, uint64_t v)
{
	mp_put_uint(b, v);
}

static void put_int_fn(struct mpbuf *b, uint64_t v)
{
	mp_put_int(b, (int64_t)v);
}

static void put_array_fn(struct mpbuf *b, uint64_t v)
{
	mp_put_array(b, (uint32_t)v);
}

static void put_map_fn(struct mpbuf *b, uint64_t v)
{
	mp_put_map(b, (uint32_t)v);
}

static void test_smallest_encodings(void **state)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} uints[] = {
	    {0, "00"},
	    {127, "7f"},
	    {128, "cc80"},
	    {255, "ccff"},
	    {256, "cd0100"},
	    {65535, "cdffff"},
	    {65536, "ce00010000"},
	    {4294967295u, "ceffffffff"},
	    {4294967296u, "cf0000000100000000"},
	    {UINT64_MAX, "cfffffffffffffffff"},
	};
	static const struct {
		int64_t v;
		const char *hex;
	} ints[] = {
	    {5, "05"},
	    {200, "ccc8"},
	    {-1, "ff"},
	    {-32, "e0"},
	    {-33, "d0df"},
	    {-128, "d080"},
	    {-129, "d1ff7f"},
	    {-32768, "d18000"},
	    {-32769, "d2ffff7fff"},
	    {INT32_MIN, "d280000000"},
	    {(int64_t)INT32_MIN - 1, "d3ffffffff7fffffff"},
	    {INT64_MIN, "d38000000000000000"},
	};

	for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++)
		put_check(put_uint_fn, uints[i].v, uints[i].hex);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		put_check(put_int_fn, (uint64_t)ints[i].v, ints[i].hex);
	put_check(put_array_fn, 15, "9f");
	put_check(put_array_fn, 16, "dc0010");
	put_check(put_array_fn, 65535, "dcffff");
	put_check(put_array_fn, 65536, "dd00010000");
	put_check(put_map_fn, 0, "80");
	put_check(put_map_fn, 15, "8f");
	put_check(put_map_fn, 16, "de0010");
	put_check(put_map_fn, 65536, "df00010000");

	struct mpbuf b;
	mpbuf_init(&b);
	mp_put_nil(&b);
	mp_put_bool(&b, false);
	mp_put_bool(&b, true);
	mp_put_f64(&b, 1.0);
	mp_put_f32(&b, -2.0f);
	assert_bytes(&b, "c0c2c3cb3ff0000000000000cac0000000");

	static const struct {
		size_t n;
		const char *head;
	} strs[] = {{0, "a0"},       {31, "bf"},        {32, "d920"},         {255, "d9ff"},
	            {256, "da0100"}, {65535, "daffff"}, {65536, "db00010000"}};
	static char big[65536];
	memset(big, 'x', sizeof big);
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		size_t h = strlen(strs[i].head) / 2;
		char got[16] = "";
		mpbuf_reset(&b);
		mp_put_str(&b, big, strs[i].n);
		assert_int_equal(b.len, h + strs[i].n);
		for (size_t k = 0; k < h; k++)
			snprintf(got + 2 * k, 3, "%02x", b.p[k]);
		assert_string_equal(got, strs[i].head);
		assert_memory_equal(b.p + h, big, strs[i].n);
	}
	mpbuf_free(&b);
}

/* A long error message is written whole; a failed allocation sets oom once. */
static void test_error_long_and_oom(void **state)
{
	struct mpbuf b;
	char msg[301];

	memset(msg, 'y', 300);
	msg[300] = '\0';
	mpbuf_init(&b);
	rb_error(&b, ENC_COMPACT, "%s", msg);
	assert_false(b.oom);
	assert_int_equal(b.len, 1 + 6 + 1 + 3 + 300);
	assert_memory_equal(b.p,
	                    "\x81\xa5"
	                    "Error\x91\xda\x01\x2c",
	                    11);
	assert_memory_equal(b.p + 11, msg, 300);
	mpbuf_free(&b);

	mpbuf_init(&b);
	sutra_fault_alloc(1);
	mp_put_cstr(&b, "hello");
	assert_true(b.oom);
	mp_put_uint(&b, 1);
	assert_true(b.oom);
	assert_int_equal(b.len, 0);
	mpbuf_reset(&b);
	assert_false(b.oom);
	mp_put_cstr(&b, "ok");
	assert_bytes(&b, hs("ok"));
	mpbuf_free(&b);
	assert_null(b.p);
}

/* ---- the lenient decoding matrix ------------------------------------------ */

static void check_same(const struct tvariant *v, struct mpbuf *b, const char *want, unsigned flags)
{
	assert_decodes(b);
	if (g_req.kind != v->kind || strcmp(dump(&g_req), want) != 0)
		fail_msg("%s (flags %#x): got \"%s\", want \"%s\"", v->name, flags, dump(&g_req),
		         want);
}

/* Every accepted shape of every variant decodes to the same request. */
static void test_matrix_shapes(void **state)
{
	static const unsigned shapes[] = {
	    0,
	    G_ARRAY,
	    G_BIN,
	    G_F64,
	    G_INTF,
	    G_FIELD_INDEX,
	    G_UNKNOWN,
	    G_REVERSE,
	    G_BIN | G_ARRAY | G_INTF,
	    G_UNKNOWN | G_REVERSE | G_BIN | G_F64,
	    G_FIELD_INDEX | G_UNKNOWN | G_INTF,
	};
	struct mpbuf b;

	mpbuf_init(&b);
	for (size_t i = 0; i < N_VARIANTS; i++) {
		const struct tvariant *v = &t_variants[i];
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			gen_plain(&b, v, shapes[s]);
			check_same(v, &b, v->full, shapes[s]);
			if (v->index >= 0) {
				gen_plain(&b, v, shapes[s] | G_INDEX_KEY);
				check_same(v, &b, v->full, shapes[s] | G_INDEX_KEY);
			}
		}
		/* bytes after the complete value are ignored */
		gen_plain(&b, v, 0);
		put_bytes(&b, "\xc1\xff\x00\xdd", 4);
		check_same(v, &b, v->full, 0);
		/* optional fields absent or nil take their defaults */
		gen_plain(&b, v, G_OMIT_OPT);
		check_same(v, &b, v->defaults, G_OMIT_OPT);
		gen_plain(&b, v, G_NIL_OPT);
		check_same(v, &b, v->defaults, G_NIL_OPT);
		gen_plain(&b, v, G_NIL_OPT | G_ARRAY);
		check_same(v, &b, v->defaults, G_NIL_OPT | G_ARRAY);
	}
	mpbuf_free(&b);
}

/* Missing required fields, wrong types, wrong array lengths. */
static void test_matrix_errors(void **state)
{
	struct mpbuf b;
	char want[256];

	mpbuf_init(&b);
	for (size_t i = 0; i < N_VARIANTS; i++) {
		const struct tvariant *v = &t_variants[i];
		const struct tstruct *p = &v->payload;
		for (int f = 0; f < p->n; f++) {
			if (p->f[f].required) {
				gen_request(&b, v, 0, f, -1, 0);
				snprintf(want, sizeof want, "%s: missing field %s", v->name,
				         p->f[f].name);
				assert_error(&b, want);
			} else {
				gen_request(&b, v, 0, f, -1, 0);
				assert_decodes(&b);
			}
			for (unsigned shape = 0; shape <= G_ARRAY; shape += G_ARRAY) {
				gen_request(&b, v, shape, -1, f, 0);
				snprintf(want, sizeof want, "%s.%s: expected ", v->name,
				         p->f[f].name);
				assert_error_prefix(&b, want);
				assert_non_null(strstr(g_err, "got ext"));
			}
		}
		for (int extra = -1; extra <= 1; extra += 2) {
			if (p->n + extra < 0)
				continue;
			gen_request(&b, v, G_ARRAY, -1, -1, extra);
			snprintf(want, sizeof want, "%s: expected an array of %d fields, got %d",
			         v->name, p->n, p->n + extra);
			assert_error(&b, want);
		}
		/* a duplicated field is an error, as serde has it */
		mpbuf_reset(&b);
		mp_put_map(&b, 1);
		mp_put_cstr(&b, v->name);
		mp_put_map(&b, 2);
		for (int k = 0; k < 2; k++) {
			struct gen g = {&b, 0, -1, -1, 0};
			mp_put_cstr(&b, p->f[0].name);
			gen_value(&g, &p->f[0], 0);
		}
		snprintf(want, sizeof want, "%s: duplicate field %s", v->name, p->f[0].name);
		assert_error(&b, want);
		/* a bare name or index without a payload */
		mpbuf_reset(&b);
		mp_put_cstr(&b, v->name);
		snprintf(want, sizeof want, "%s: missing payload (a map or an array of %d fields)",
		         v->name, p->n);
		assert_error(&b, want);
		if (v->index >= 0) {
			mpbuf_reset(&b);
			mp_put_uint(&b, (uint64_t)v->index);
			assert_error(&b, want);
		}
	}
	mpbuf_free(&b);
}

static void test_units(void **state)
{
	struct mpbuf b;
	char want[256];

	mpbuf_init(&b);
	for (size_t i = 0; i < sizeof t_units / sizeof t_units[0]; i++) {
		const char *name = t_units[i].name;
		struct gen g = {&b, G_BIN, -1, -1, 0};
		/* bare string, bare bin, {name: nil}, {name: []}, {name: {}} */
		for (int form = 0; form < 5; form++) {
			mpbuf_reset(&b);
			if (form >= 2)
				mp_put_map(&b, 1);
			if (form == 1)
				gen_str(&g, name);
			else
				mp_put_cstr(&b, name);
			if (form == 2)
				mp_put_nil(&b);
			else if (form == 3)
				mp_put_array(&b, 0);
			else if (form == 4)
				mp_put_map(&b, 0);
			put_bytes(&b, "\x01\x02", 2); /* trailing bytes */
			assert_decodes(&b);
			assert_int_equal(g_req.kind, t_units[i].kind);
		}
		mpbuf_reset(&b);
		mp_put_map(&b, 1);
		mp_put_cstr(&b, name);
		mp_put_uint(&b, 1);
		snprintf(want, sizeof want,
		         "%s: expected nil (a unit variant has no fields), got uint", name);
		assert_error(&b, want);
		assert_int_equal(g_req.kind, t_units[i].kind); /* recognised, then refused */
		/* by wire index: bare, and {index: nil}; extensions have none */
		mpbuf_reset(&b);
		mp_put_uint(&b, t_units[i].index >= 0 ? (uint64_t)t_units[i].index : 70 + i);
		if (t_units[i].index < 0) {
			snprintf(want, sizeof want, "Unknown request variant index %zu", 70 + i);
			assert_error(&b, want);
			continue;
		}
		assert_decodes(&b);
		assert_int_equal(g_req.kind, t_units[i].kind);
		mpbuf_reset(&b);
		mp_put_map(&b, 1);
		mp_put_uint(&b, (uint64_t)t_units[i].index);
		mp_put_nil(&b);
		assert_decodes(&b);
		assert_int_equal(g_req.kind, t_units[i].kind);
	}
	mpbuf_free(&b);
}

static void test_unknown_and_malformed(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	mp_put_cstr(&b, "Nope");
	assert_error(&b, "Unknown request variant 'Nope'");
	assert_int_equal(g_req.kind, -1);
	mpbuf_reset(&b); /* names are case-sensitive */
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "queryConcept");
	mp_put_map(&b, 0);
	assert_error(&b, "Unknown request variant 'queryConcept'");
	mpbuf_reset(&b); /* the name is shown sanitised */
	mp_put_str(&b, "a\n\x01z", 4);
	assert_error(&b, "Unknown request variant 'a??z'");
	mpbuf_reset(&b);
	mp_put_uint(&b, 16);
	assert_error(&b, "Unknown request variant index 16");
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_int(&b, -3);
	mp_put_nil(&b);
	assert_error(&b, "Unknown request variant index -3");
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_uint(&b, UINT64_MAX);
	mp_put_nil(&b);
	assert_error(&b, "Unknown request variant index 18446744073709551615");

	assert_int_equal(decode_lim((const uint8_t *)"", 0, NULL, 64), -1);
	assert_string_equal(g_err, "Malformed request: truncated or invalid MessagePack");
	assert_int_equal(decode_lim((const uint8_t *)"\xc1", 1, NULL, 64), -1);
	assert_string_equal(g_err, "Malformed request: truncated or invalid MessagePack");
	mpbuf_reset(&b);
	mp_put_nil(&b);
	assert_error(&b, "Malformed request: expected a variant name or a one-entry map "
	                 "{variant: payload}, got nil");
	mpbuf_reset(&b);
	mp_put_map(&b, 2);
	mp_put_cstr(&b, "Flush");
	mp_put_nil(&b);
	mp_put_cstr(&b, "Flush");
	mp_put_nil(&b);
	assert_error(&b, "Malformed request: expected a one-entry map {variant: payload}, got 2 "
	                 "entries");
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_array(&b, 0);
	mp_put_nil(&b);
	assert_error(&b, "Malformed request: the variant must be a name or an index, got array");
	mpbuf_reset(&b); /* a payload that is neither map nor array */
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "QueryConcept");
	mp_put_cstr(&b, "abc");
	assert_error(&b, "QueryConcept: expected a map or an array of 1 fields, got str");
	mpbuf_free(&b);
}

/* Values land in the right places, with fractional floats and edge values. */
static void test_values(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnConcept");
	mp_put_array(&b, 5);
	mp_put_cstr(&b, "00ff");
	mp_put_str(&b, "a\0b", 3);
	mp_put_array(&b, 4);
	mp_put_f32(&b, 0.25f);
	mp_put_f64(&b, -1.5);
	mp_put_int(&b, -7);
	mp_put_uint(&b, 300);
	mp_put_f64(&b, 0.75);
	mp_put_f32(&b, 0.125f);
	assert_decodes(&b);
	assert_int_equal(g_req.kind, REQ_LEARN_CONCEPT);
	assert_int_equal(g_req.u.learn_concept.content.n, 3);
	assert_memory_equal(g_req.u.learn_concept.content.p, "a\0b", 3);
	assert_string_equal(dump(&g_req),
	                    "2:id=00ff content=a emb=[0.25,-1.5,-7,300] s=0.75 c=0.125");
	/* strings borrow the frame, arrays live in the arena */
	assert_true((const uint8_t *)g_req.u.learn_concept.id.p > b.p &&
	            (const uint8_t *)g_req.u.learn_concept.id.p < b.p + b.len);
	assert_true((uint8_t *)g_req.u.learn_concept.embedding >= arena_mem &&
	            (uint8_t *)g_req.u.learn_concept.embedding < arena_mem + g_arena.used);
	assert_int_equal((uintptr_t)g_req.u.learn_concept.embedding % 4, 0);

	/* GetNeighborsDetailed: each direction, a type, limit saturates */
	static const char *dirs[] = {"out", "in", "both"};
	for (int i = 0; i < 3; i++) {
		mpbuf_reset(&b);
		mp_put_map(&b, 1);
		mp_put_cstr(&b, "GetNeighborsDetailed");
		mp_put_array(&b, 4);
		mp_put_cstr(&b, "x");
		mp_put_cstr(&b, dirs[i]);
		mp_put_uint(&b, 0);
		mp_put_uint(&b, UINT64_MAX);
		assert_decodes(&b);
		assert_int_equal(g_req.u.neighbors_detailed.direction, i + 1);
		assert_int_equal(g_req.u.neighbors_detailed.type, 0);
		assert_int_equal(g_req.u.neighbors_detailed.limit, UINT32_MAX);
	}
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "GetNeighborsDetailed");
	mp_put_map(&b, 2);
	mp_put_cstr(&b, "concept_id");
	mp_put_cstr(&b, "x");
	mp_put_cstr(&b, "direction");
	mp_put_cstr(&b, "Out");
	assert_error(&b, "GetNeighborsDetailed.direction: expected \"out\", \"in\" or \"both\"");

	/* SetEncoding false; LearnOptions given as a map inside an array payload */
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "SetEncoding");
	mp_put_array(&b, 1);
	mp_put_bool(&b, false);
	assert_decodes(&b);
	assert_string_equal(dump(&g_req), "74:named=0");
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_uint(&b, 0);
	mp_put_array(&b, 2);
	mp_put_cstr(&b, "text");
	mp_put_map(&b, 2);
	mp_put_cstr(&b, "strength");
	mp_put_f32(&b, 0.5f);
	mp_put_cstr(&b, "embedding_model");
	mp_put_nil(&b);
	assert_decodes(&b);
	assert_string_equal(dump(&g_req), "0:content=text opt={ge=0 model=- ea=0 minc=0.5 maxa=10 "
	                                  "s=0.5 c=1}");
	/* a LearnOptions array of the wrong length names its path */
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnConceptV2");
	mp_put_array(&b, 2);
	mp_put_cstr(&b, "text");
	mp_put_array(&b, 6);
	for (int i = 0; i < 6; i++)
		mp_put_nil(&b);
	assert_error(&b, "LearnConceptV2.options: expected an array of 7 fields, got 6");
	mpbuf_free(&b);
}

/* Errors inside item lists name the item. */
static void test_item_errors(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnConcepts");
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "concepts");
	mp_put_array(&b, 2);
	mp_put_map(&b, 2);
	mp_put_uint(&b, 0); /* keys by field index */
	mp_put_cstr(&b, "a");
	mp_put_uint(&b, 1);
	mp_put_cstr(&b, "b");
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "concept_id");
	mp_put_cstr(&b, "c");
	assert_error(&b, "LearnConcepts.concepts[1]: missing field content");

	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnConcepts");
	mp_put_array(&b, 1);
	mp_put_array(&b, 1);
	mp_put_array(&b, 6);
	mp_put_cstr(&b, "a");
	mp_put_cstr(&b, "b");
	mp_put_array(&b, 2);
	mp_put_f32(&b, 1);
	mp_put_cstr(&b, "no");
	mp_put_nil(&b);
	mp_put_nil(&b);
	mp_put_nil(&b);
	assert_error(&b, "LearnConcepts.concepts[0].vector[1]: expected f32, got str");

	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnAssociations");
	mp_put_array(&b, 1);
	mp_put_array(&b, 1);
	mp_put_array(&b, 4);
	mp_put_cstr(&b, "a");
	mp_put_cstr(&b, "b");
	mp_put_uint(&b, 1);
	mp_put_cstr(&b, "high");
	assert_error(&b, "LearnAssociations.associations[0].confidence: expected f32, got str");
	mpbuf_free(&b);
}

/* ---- limits -------------------------------------------------------------- */

static char *g_big; /* 10 MiB + 1 of 'x' */

static void head(struct mpbuf *b, const char *variant, uint32_t nfields)
{
	mpbuf_reset(b);
	mp_put_map(b, 1);
	mp_put_cstr(b, variant);
	mp_put_array(b, nfields);
}

static void put_vec(struct mpbuf *b, uint32_t dim)
{
	mp_put_array(b, dim);
	for (uint32_t i = 0; i < dim; i++)
		mp_put_f32(b, 0.5f);
}

static void b_v2_content(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConceptV2", 2);
	mp_put_str(b, g_big, v);
	mp_put_nil(b);
}

static void b_batch_content(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnBatch", 2);
	mp_put_array(b, 2);
	mp_put_cstr(b, "ok");
	mp_put_str(b, g_big, v);
	mp_put_nil(b);
}

static void b_learn_content(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConcept", 5);
	mp_put_cstr(b, "id");
	mp_put_str(b, g_big, v);
	mp_put_nil(b);
	mp_put_nil(b);
	mp_put_nil(b);
}

static void put_item(struct mpbuf *b, uint32_t content, uint32_t dim)
{
	mp_put_array(b, 6);
	mp_put_cstr(b, "id");
	mp_put_str(b, g_big, content);
	if (dim)
		put_vec(b, dim);
	else
		mp_put_nil(b);
	mp_put_nil(b);
	mp_put_nil(b);
	mp_put_nil(b);
}

static void b_items_content(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConcepts", 1);
	mp_put_array(b, 2);
	put_item(b, 1, 0);
	put_item(b, v, 0);
}

static void b_batch_count(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnBatch", 2);
	mp_put_array(b, v);
	for (uint32_t i = 0; i < v; i++)
		mp_put_cstr(b, "x");
	mp_put_nil(b);
}

static void b_items_count(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConcepts", 1);
	mp_put_array(b, v);
	for (uint32_t i = 0; i < v; i++)
		put_item(b, 1, 0);
}

static void b_assocs_count(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnAssociations", 1);
	mp_put_array(b, v);
	for (uint32_t i = 0; i < v; i++) {
		mp_put_array(b, 4);
		mp_put_cstr(b, "a");
		mp_put_cstr(b, "b");
		mp_put_uint(b, 4);
		mp_put_f32(b, 1.0f);
	}
}

static void b_learn_dim(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConcept", 5);
	mp_put_cstr(b, "id");
	mp_put_cstr(b, "c");
	put_vec(b, v);
	mp_put_nil(b);
	mp_put_nil(b);
}

static void b_search_dim(struct mpbuf *b, uint32_t v)
{
	head(b, "VectorSearch", 3);
	put_vec(b, v);
	mp_put_uint(b, 10);
	mp_put_uint(b, 50);
}

static void b_items_dim(struct mpbuf *b, uint32_t v)
{
	head(b, "LearnConcepts", 1);
	mp_put_array(b, 1);
	put_item(b, 1, v);
}

static void b_k(struct mpbuf *b, uint32_t v)
{
	head(b, "VectorSearch", 3);
	put_vec(b, 2);
	mp_put_uint(b, v);
	mp_put_nil(b);
}

static void b_path_depth(struct mpbuf *b, uint32_t v)
{
	head(b, "FindPath", 3);
	mp_put_cstr(b, "a");
	mp_put_cstr(b, "b");
	mp_put_uint(b, v);
}

static void b_path_sem_depth(struct mpbuf *b, uint32_t v)
{
	head(b, "FindPathSemantic", 5);
	mp_put_cstr(b, "a");
	mp_put_cstr(b, "b");
	mp_put_map(b, 0);
	mp_put_uint(b, v);
	mp_put_uint(b, 3);
}

static void b_causal_depth(struct mpbuf *b, uint32_t v)
{
	head(b, "FindCausalChain", 3);
	mp_put_cstr(b, "a");
	mp_put_cstr(b, "causes");
	mp_put_uint(b, v);
}

static void test_limits_rust_texts(void **state)
{
	static const struct {
		void (*build)(struct mpbuf *, uint32_t);
		uint32_t limit;
		const char *pre, *post; /* the text around the offending number */
	} cases[] = {
	    {b_v2_content, 10485760, "Content too large: ", " bytes (max: 10485760)"},
	    {b_batch_content, 10485760, "Content too large: ", " bytes (max: 10485760)"},
	    {b_learn_content, 10485760, "Content too large: ", " bytes (max: 10485760)"},
	    {b_items_content, 10485760, "Content too large: ", " bytes (max: 10485760)"},
	    {b_batch_count, 1000, "Batch too large: ", " items (max: 1000)"},
	    {b_items_count, 1000, "Batch too large: ", " items (max: 1000)"},
	    {b_assocs_count, 1000, "Batch too large: ", " items (max: 1000)"},
	    {b_learn_dim, 2048, "Embedding dimension too large: ", " (max: 2048)"},
	    {b_search_dim, 2048, "Embedding dimension too large: ", " (max: 2048)"},
	    {b_items_dim, 2048, "Embedding dimension too large: ", " (max: 2048)"},
	    {b_k, 1000, "k too large: ", " (max: 1000)"},
	    {b_path_depth, 20, "Path depth too large: ", " (max: 20)"},
	    {b_path_sem_depth, 20, "Path depth too large: ", " (max: 20)"},
	    {b_causal_depth, 20, "Path depth too large: ", " (max: 20)"},
	};
	struct mpbuf b;
	char want[128];

	mpbuf_init(&b);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cases[i].build(&b, cases[i].limit);
		assert_false(b.oom);
		assert_decodes(&b);
		cases[i].build(&b, cases[i].limit + 1);
		snprintf(want, sizeof want, "%s%u%s", cases[i].pre, cases[i].limit + 1,
		         cases[i].post);
		assert_error(&b, want);
	}
	/* configured limits are the ones applied */
	struct proto_limits lim;
	proto_limits_default(&lim);
	lim.max_content = 3;
	lim.max_dim = 1;
	b_v2_content(&b, 4);
	assert_int_equal(decode_lim(b.p, b.len, &lim, sizeof arena_mem), -1);
	assert_string_equal(g_err, "Content too large: 4 bytes (max: 3)");
	b_search_dim(&b, 2);
	assert_int_equal(decode_lim(b.p, b.len, &lim, sizeof arena_mem), -1);
	assert_string_equal(g_err, "Embedding dimension too large: 2 (max: 1)");
	mpbuf_free(&b);
}

static void b_assoc_type(struct mpbuf *b, const char *variant, uint64_t type)
{
	if (strcmp(variant, "LearnAssociations") == 0) {
		head(b, variant, 1);
		mp_put_array(b, 1);
		mp_put_array(b, 3);
	} else if (strcmp(variant, "GetNeighborsDetailed") == 0) {
		head(b, variant, 4);
		mp_put_cstr(b, "x");
		mp_put_nil(b);
		mp_put_uint(b, type);
		mp_put_nil(b);
		return;
	} else {
		head(b, variant, strcmp(variant, "LearnAssociation") == 0 ? 4 : 3);
	}
	mp_put_cstr(b, "a");
	mp_put_cstr(b, "b");
	mp_put_uint(b, type);
	if (strcmp(variant, "LearnAssociation") == 0)
		mp_put_f32(b, 0.5f);
}

static void test_assoc_types(void **state)
{
	static const char *variants[] = {"LearnAssociation", "DeleteAssociation",
	                                 "LearnAssociations", "GetNeighborsDetailed"};
	struct mpbuf b;

	mpbuf_init(&b);
	for (size_t i = 0; i < 4; i++) {
		for (uint64_t t = 0; t <= 4; t++) {
			b_assoc_type(&b, variants[i], t);
			if (strcmp(variants[i], "LearnAssociations") == 0) { /* 3-field item */
				assert_error(&b, "LearnAssociations.associations[0]: expected an "
				                 "array of 4 fields, got 3");
				break;
			}
			assert_decodes(&b);
		}
		b_assoc_type(&b, variants[i], 5);
		if (strcmp(variants[i], "LearnAssociations") != 0)
			assert_error(&b,
			             "Invalid association type 5 (allowed 0..4: semantic, causal, "
			             "temporal, hierarchical, compositional)");
	}
	/* an AssocItem with confidence omitted in map form */
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "LearnAssociations");
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "associations");
	mp_put_array(&b, 1);
	mp_put_map(&b, 3);
	mp_put_cstr(&b, "source_id");
	mp_put_cstr(&b, "a");
	mp_put_cstr(&b, "target_id");
	mp_put_cstr(&b, "b");
	mp_put_cstr(&b, "assoc_type");
	mp_put_uint(&b, 7);
	assert_error(&b, "Invalid association type 7 (allowed 0..4: semantic, causal, temporal, "
	                 "hierarchical, compositional)");
	b_assoc_type(&b, "LearnAssociation", 4294967296u);
	assert_error(&b, "LearnAssociation.assoc_type: expected u32, got 4294967296 (max: "
	                 "4294967295)");
	mpbuf_free(&b);
}

static void b_search_ef(struct mpbuf *b, int how, uint64_t v)
{
	head(b, "VectorSearch", 3);
	put_vec(b, 1);
	mp_put_uint(b, 1);
	if (how == 0)
		mp_put_uint(b, v);
	else if (how == 1)
		mp_put_int(b, -1);
	else
		mp_put_f64(b, 1.0);
}

static void b_learn_f32(struct mpbuf *b, int field, double v, bool as_f64)
{
	head(b, "LearnConcept", 5);
	mp_put_cstr(b, "id");
	mp_put_cstr(b, "c");
	for (int f = 2; f < 5; f++) {
		if (f != field)
			mp_put_nil(b);
		else if (f == 2 && as_f64) {
			mp_put_array(b, 1);
			mp_put_f64(b, v);
		} else if (f == 2) {
			mp_put_array(b, 1);
			mp_put_f32(b, (float)v);
		} else if (as_f64) {
			mp_put_f64(b, v);
		} else {
			mp_put_f32(b, (float)v);
		}
	}
}

static void test_number_rules(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	b_search_ef(&b, 0, 4294967295u);
	assert_decodes(&b);
	assert_int_equal(g_req.u.vector_search.ef_search, 4294967295u);
	b_search_ef(&b, 0, 4294967296u);
	assert_error(&b, "VectorSearch.ef_search: expected u32, got 4294967296 (max: 4294967295)");
	b_search_ef(&b, 1, 0);
	assert_error(&b, "VectorSearch.ef_search: expected u32, got negative int");
	b_search_ef(&b, 2, 0);
	assert_error(&b, "VectorSearch.ef_search: expected u32, got float");

	/* NaN and infinities are refused for strength/confidence */
	b_learn_f32(&b, 4, NAN, false);
	assert_error(&b, "LearnConcept.confidence: expected a finite number, got nan");
	b_learn_f32(&b, 3, INFINITY, true);
	assert_error(&b, "LearnConcept.strength: expected a finite number, got inf");
	b_learn_f32(&b, 4, -INFINITY, false);
	assert_error(&b, "LearnConcept.confidence: expected a finite number, got -inf");
	b_learn_f32(&b, 3, 1e300, true);
	assert_error(&b, "LearnConcept.strength: expected f32, got 1e+300 (out of range)");
	b_learn_f32(&b, 2, -1e300, true);
	assert_error(&b, "LearnConcept.embedding[0]: expected f32, got -1e+300 (out of range)");
	b_learn_f32(&b, 2, 3.5, true); /* float64 within range is fine */
	assert_decodes(&b);
	assert_true(g_req.u.learn_concept.embedding[0] == 3.5f);

	/* LearnOptions confidences too */
	head(&b, "LearnBatch", 2);
	mp_put_array(&b, 0);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "min_association_confidence");
	mp_put_f64(&b, NAN);
	assert_error(&b, "LearnBatch.options.min_association_confidence: expected a finite number, "
	                 "got nan");

	/* i64 */
	head(&b, "FindTemporalChain", 3);
	mp_put_nil(&b);
	mp_put_uint(&b, UINT64_MAX);
	mp_put_int(&b, INT64_MIN);
	assert_error(&b,
	             "FindTemporalChain.start_time: expected i64, got 18446744073709551615 (out "
	             "of range)");
	head(&b, "FindTemporalChain", 3);
	mp_put_cstr(&b, "physics");
	mp_put_uint(&b, INT64_MAX);
	mp_put_int(&b, INT64_MIN);
	assert_decodes(&b);
	assert_int_equal(g_req.kind, REQ_FIND_TEMPORAL_CHAIN);
	mpbuf_free(&b);
}

static void b_meta(struct mpbuf *b, uint32_t entries, size_t keylen, bool value_is_str)
{
	head(b, "LearnConcepts", 1);
	mp_put_array(b, 1);
	mp_put_map(b, 3);
	mp_put_cstr(b, "concept_id");
	mp_put_cstr(b, "a");
	mp_put_cstr(b, "content");
	mp_put_cstr(b, "b");
	mp_put_cstr(b, "metadata");
	mp_put_map(b, entries);
	for (uint32_t i = 0; i < entries; i++) {
		char key[300];
		memset(key, 'k', sizeof key);
		snprintf(key, sizeof key, "%05u", i);
		key[5] = 'k';
		mp_put_str(b, key, keylen ? keylen : (i ? 6 : 0));
		if (value_is_str)
			mp_put_cstr(b, "v");
		else
			mp_put_uint(b, 1);
	}
}

static void test_metadata_rules(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	b_meta(&b, 256, 6, true);
	assert_decodes(&b);
	assert_int_equal(g_req.u.learn_concepts.items[0].meta_count, 256);
	assert_int_equal(g_req.u.learn_concepts.items[0].meta_keys[255].n, 6);
	assert_memory_equal(g_req.u.learn_concepts.items[0].meta_keys[255].p, "00255k", 6);
	b_meta(&b, 257, 6, true);
	assert_error(&b, "LearnConcepts.concepts[0].metadata: too many entries: 257 (max: 256)");
	b_meta(&b, 1, 255, true);
	assert_decodes(&b);
	b_meta(&b, 1, 256, true);
	assert_error(&b,
	             "LearnConcepts.concepts[0].metadata[0]: key must be 1..255 bytes, got 256");
	b_meta(&b, 2, 0, true);
	assert_error(&b, "LearnConcepts.concepts[0].metadata[0]: key must be 1..255 bytes, got 0");
	b_meta(&b, 1, 6, false);
	assert_error(&b, "LearnConcepts.concepts[0].metadata[0]: expected str, got uint");
	mpbuf_free(&b);
}

/* ---- hostile input ------------------------------------------------------- */

/* A huge declared count or length in a tiny frame is refused before any
 * allocation: with an arena of capacity 0 the error is never the arena's. */
static void test_huge_declared_sizes(void **state)
{
	static const struct {
		const char *variant, *field;
		const char *tail;
		size_t tail_len;
	} cases[] = {
	    {"VectorSearch", "query_vector", "\xdd\xff\xff\xff\xff", 5},
	    {"LearnConcept", "embedding", "\xdd\xff\xff\xff\xff", 5},
	    {"LearnBatch", "contents", "\xdd\xff\xff\xff\xff", 5},
	    {"LearnBatch", "contents", "\xdc\x03\xe8", 3},
	    {"LearnConcepts", "concepts", "\xdd\xff\xff\xff\xff", 5},
	    {"LearnConcepts", "concepts", "\xdc\x00\x03\x80\x80\x80\x80\x80", 8},
	    {"LearnAssociations", "associations", "\xdc\x03\xe8", 3},
	    {"QueryConcept", "concept_id", "\xdb\xff\xff\xff\xff", 5},
	    {"QueryConcept", "concept_id", "\xc6\xff\xff\xff\xff", 5},
	    {"QueryConcept", "unknown", "\xdf\xff\xff\xff\xff", 5},
	    {"QueryConcept", "unknown", "\xc9\xff\xff\xff\xff\x01", 6},
	    {"LearnConceptV2", "content", "\xda\xff\xff", 3},
	};
	struct mpbuf b;

	mpbuf_init(&b);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		mpbuf_reset(&b);
		mp_put_map(&b, 1);
		mp_put_cstr(&b, cases[i].variant);
		mp_put_map(&b, 1);
		mp_put_cstr(&b, cases[i].field);
		put_bytes(&b, cases[i].tail, cases[i].tail_len);
		assert_int_equal(decode_lim(b.p, b.len, NULL, 0), -1);
		assert_int_equal(g_arena.used, 0);
		assert_null(strstr(g_err, "decode memory"));
		assert_non_null(strstr(g_err, "truncated"));
	}
	/* a whole 5-byte frame declaring 4 billion elements */
	assert_int_equal(decode_lim((const uint8_t *)"\xdd\xff\xff\xff\xff", 5, NULL, 0), -1);
	assert_string_equal(g_err, "Malformed request: truncated or invalid MessagePack");
	/* a count within the frame but over the limit: the limit's text */
	mpbuf_reset(&b);
	mp_put_map(&b, 1);
	mp_put_cstr(&b, "VectorSearch");
	mp_put_array(&b, 3);
	mp_put_array(&b, 3000);
	for (int i = 0; i < 3000; i++)
		mp_put_uint(&b, 1);
	assert_int_equal(decode_lim(b.p, b.len, NULL, 0), -1);
	assert_string_equal(g_err, "Embedding dimension too large: 3000 (max: 2048)");
	mpbuf_free(&b);
}

/* {"QueryConcept": {"concept_id": "a", <key>: <depth nested arrays>}} */
static void b_nested(struct mpbuf *b, uint32_t depth, bool as_key)
{
	mpbuf_reset(b);
	mp_put_map(b, 1);
	mp_put_cstr(b, "QueryConcept");
	mp_put_map(b, 2);
	mp_put_cstr(b, "concept_id");
	mp_put_cstr(b, "a");
	if (!as_key)
		mp_put_cstr(b, "x");
	for (uint32_t i = 0; i + 1 < depth; i++)
		mp_put_array(b, 1);
	mp_put_array(b, 0);
	if (as_key)
		mp_put_nil(b);
}

static void test_nesting(void **state)
{
	struct proto_limits lim;
	struct mpbuf b;

	mpbuf_init(&b);
	for (int as_key = 0; as_key <= 1; as_key++) {
		b_nested(&b, 30, as_key); /* 2 maps + 30 arrays = 32 levels */
		assert_decodes(&b);
		assert_string_equal(dump(&g_req), "4:id=a");
		b_nested(&b, 31, as_key);
		assert_error(&b, "QueryConcept: Nesting too deep (max: 32)");
		b_nested(&b, 100000, as_key); /* would overflow a naive recursive skip */
		assert_error(&b, "QueryConcept: Nesting too deep (max: 32)");
	}
	/* an absurd configured bound is capped, never trusted */
	proto_limits_default(&lim);
	lim.max_nesting = UINT32_MAX;
	b_nested(&b, 1000000, false);
	assert_int_equal(decode_lim(b.p, b.len, &lim, sizeof arena_mem), -1);
	assert_string_equal(g_err, "QueryConcept: Nesting too deep (max: 256)");
	/* deep values elsewhere fail on their type, without descending */
	mpbuf_reset(&b);
	for (int i = 0; i < 100000; i++)
		mp_put_array(&b, 1);
	mp_put_nil(&b);
	assert_error(&b, "Malformed request: expected a variant name or a one-entry map {variant: "
	                 "payload}, got array");
	/* the bound applies to the fields we read too */
	lim.max_nesting = 4;
	gen_plain(&b, &t_variants[17], 0); /* LearnConcepts: map, map, array, map, array */
	assert_int_equal(t_variants[17].kind, REQ_LEARN_CONCEPTS);
	assert_int_equal(decode_lim(b.p, b.len, &lim, sizeof arena_mem), -1);
	assert_string_equal(g_err, "LearnConcepts.concepts[0].vector: Nesting too deep (max: 4)");
	lim.max_nesting = 5;
	assert_int_equal(decode_lim(b.p, b.len, &lim, sizeof arena_mem), 0);
	mpbuf_free(&b);
}

/* Every proper prefix of every request fails cleanly and leaves the arena as it was. */
static void test_truncations(void **state)
{
	struct mpbuf b;

	mpbuf_init(&b);
	for (size_t i = 0; i < N_VARIANTS; i++) {
		gen_plain(&b, &t_variants[i], 0);
		for (size_t n = 0; n < b.len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			memcpy(copy, b.p, n);
			g_arena = (struct arena){arena_mem, 0, sizeof arena_mem};
			assert_int_equal(
			    proto_decode(copy, n, NULL, &g_arena, &g_req, g_err, sizeof g_err), -1);
			assert_int_equal(g_arena.used, 0);
			assert_true(strlen(g_err) > 0);
			free(copy);
		}
	}
	mpbuf_free(&b);
}

/* ---- the arena ------------------------------------------------------------ */

static void check_bound(const struct mpbuf *b)
{
	struct proto_limits lim;
	size_t bound;

	proto_limits_default(&lim);
	bound = proto_arena_bound(b->len, &lim);
	assert_true(bound <= sizeof arena_mem);
	if (decode_lim(b->p, b->len, &lim, bound) != 0)
		fail_msg("decode with an arena of the documented bound failed: %s", g_err);
	assert_true(g_arena.used <= PROTO_ARENA_PER_BYTE * b->len + PROTO_ARENA_SLACK);
}

static void test_arena(void **state)
{
	struct proto_limits lim;
	struct mpbuf b;

	proto_limits_default(&lim);
	assert_int_equal(proto_arena_bound(100, &lim), 16 * 100 + 64);
	/* 1000 ConceptItems, each 80 + (2048 floats + pad) + 2 * (256 pstr + pad) */
	assert_int_equal(proto_arena_bound(104857600, &lim),
	                 1000 * (80 + (2048 * 4 + 8) + 2 * (256 * 16 + 8)) + 8 + 64);
	lim.max_batch = UINT32_MAX;
	lim.max_meta = UINT32_MAX;
	lim.max_dim = UINT32_MAX;
	assert_true(proto_arena_bound(SIZE_MAX / 2, &lim) == SIZE_MAX); /* saturates */

	mpbuf_init(&b);
	for (size_t i = 0; i < N_VARIANTS; i++) {
		gen_plain(&b, &t_variants[i], 0);
		check_bound(&b);
		gen_plain(&b, &t_variants[i], G_ARRAY | G_OMIT_OPT);
		check_bound(&b);
	}
	/* the densest requests: 1000 empty strings, 1000 minimal items */
	b_batch_count(&b, 1000);
	check_bound(&b);
	head(&b, "LearnConcepts", 1);
	mp_put_array(&b, 1000);
	for (int i = 0; i < 1000; i++)
		put_bytes(&b, "\x82\x00\xa0\x01\xa0", 5); /* {0: "", 1: ""} */
	check_bound(&b);
	assert_true(g_arena.used > 15 * b.len); /* the bound is tight */
	head(&b, "LearnAssociations", 1);
	mp_put_array(&b, 1000);
	for (int i = 0; i < 1000; i++)
		put_bytes(&b, "\x94\xa0\xa0\x00\xc0", 5);
	check_bound(&b);
	b_meta(&b, 256, 1, true);
	check_bound(&b);

	/* an item list that fails late: 100 items declared, the first with a
	 * large vector, then junk. Allocating the list before checking every
	 * item would need 80 * 100 + 4 * 450 bytes, more than the bound. */
	head(&b, "LearnConcepts", 1);
	mp_put_array(&b, 100);
	mp_put_array(&b, 6);
	mp_put_cstr(&b, "id");
	mp_put_cstr(&b, "c");
	mp_put_array(&b, 450);
	for (int i = 0; i < 450; i++)
		mp_put_uint(&b, 1); /* one byte per element */
	mp_put_uint(&b, 1);
	mp_put_uint(&b, 1);
	mp_put_nil(&b);
	for (int i = 0; i < 50; i++)
		mp_put_uint(&b, 1);
	assert_int_equal(decode_lim(b.p, b.len, NULL, proto_arena_bound(b.len, &lim)), -1);
	assert_true(80 * 100 + 4 * 450 > PROTO_ARENA_PER_BYTE * b.len + PROTO_ARENA_SLACK);
	assert_string_equal(g_err, "LearnConcepts.concepts[1]: expected a map or an array of 6 "
	                           "fields, got uint");

	/* too small an arena: a clear error, nothing kept */
	b_batch_count(&b, 2);
	assert_int_equal(decode_lim(b.p, b.len, NULL, 8), -1);
	assert_string_equal(g_err,
	                    "Request needs more decode memory than the server allows (8 bytes)");
	assert_int_equal(g_arena.used, 0);
	assert_int_equal(g_req.kind, REQ_LEARN_BATCH);
	assert_null(g_req.u.learn_batch.contents);
	/* a NULL arena is fine for requests that need none */
	head(&b, "QueryConcept", 1);
	mp_put_cstr(&b, "x");
	assert_int_equal(proto_decode(b.p, b.len, NULL, NULL, &g_req, g_err, sizeof g_err), 0);
	mpbuf_free(&b);
}

static int setup(void **state)
{
	g_big = malloc(10485761);
	if (!g_big)
		return -1;
	memset(g_big, 'x', 10485761);
	return 0;
}

static int teardown(void **state)
{
	free(g_big);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_response_fixtures),
	    cmocka_unit_test(test_smallest_encodings),
	    cmocka_unit_test(test_error_long_and_oom),
	    cmocka_unit_test(test_matrix_shapes),
	    cmocka_unit_test(test_matrix_errors),
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_unknown_and_malformed),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_item_errors),
	    cmocka_unit_test(test_limits_rust_texts),
	    cmocka_unit_test(test_assoc_types),
	    cmocka_unit_test(test_number_rules),
	    cmocka_unit_test(test_metadata_rules),
	    cmocka_unit_test(test_huge_declared_sizes),
	    cmocka_unit_test(test_nesting),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_arena),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
