/* reply.c - decoding of replies into a bounded value tree, and field access.
 *
 * Two passes over the payload. The first (measure) walks it without
 * recursion, checking every header and every length against the bytes left
 * and keeping the number of values still expected below the bytes left (each
 * value takes at least one byte), so a declared array of 4 billion items in
 * a ten-byte frame fails at once; it yields the exact node count. The second
 * (build) allocates that many nodes and fills them recursively, depth
 * bounded by SC_MAX_DEPTH; it only runs on bytes the first pass accepted.
 * Containers take their children as one contiguous run of nodes from a bump
 * pointer, so the tree is a single allocation.
 *
 * A reply is a bare variant name or index (unit), or a one-entry map
 * {name-or-index: payload}; the payload is an array (compact form) or a map
 * (named form). sc_field() maps a field name to its position through the
 * table of declared fields below, the same table the Python client and
 * docs/PROTOCOL.md use.
 */
#include <msgpuck.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

/* ---- variant table ------------------------------------------------------------ */

static const char *const f_concept_id[] = {"concept_id", NULL};
static const char *const f_concept_ids[] = {"concept_ids", NULL};
static const char *const f_sequence[] = {"sequence", NULL};
static const char *const f_query[] = {"found",    "concept_id", "content",
                                      "strength", "confidence", NULL};
static const char *const f_neighbor_ids[] = {"neighbor_ids", NULL};
static const char *const f_path[] = {"found", "path", NULL};
static const char *const f_results[] = {"results", NULL};
static const char *const f_paths[] = {"paths", NULL};
static const char *const f_contradictions[] = {"contradictions", NULL};
static const char *const f_concepts[] = {"concepts", NULL};
static const char *const f_stats[] = {"concepts",        "edges",          "vectors",
                                      "written",         "dropped",        "pending",
                                      "reconciliations", "uptime_seconds", NULL};
static const char *const f_none[] = {NULL};
static const char *const f_health[] = {"healthy", "status", "uptime_seconds", NULL};
static const char *const f_message[] = {"message", NULL};
static const char *const f_get_concept[] = {"found",    "concept_id", "content",    "vector",
                                            "strength", "confidence", "created_us", "updated_us",
                                            "metadata", "out_degree", "in_degree",  NULL};
static const char *const f_neighbors[] = {"neighbors", "total", "truncated", NULL};
static const char *const f_ids_seq[] = {"concept_ids", "sequence", NULL};
static const char *const f_count_seq[] = {"count", "sequence", NULL};
static const char *const f_durable[] = {"durable_lsn", NULL};
static const char *const f_checkpoint[] = {"checkpoint_lsn", NULL};
static const char *const f_info[] = {
    "version",   "protocol_version", "encodings", "response_encoding",
    "dimension", "durability",       "limits",    NULL};
static const char *const f_stats_ext[] = {"concepts",
                                          "associations",
                                          "vectors",
                                          "content_bytes",
                                          "vector_bytes",
                                          "meta_bytes",
                                          "ops_written",
                                          "records_written",
                                          "ops_dropped",
                                          "busy_rejections",
                                          "wal_next_lsn",
                                          "wal_durable_lsn",
                                          "wal_segments",
                                          "wal_bytes",
                                          "wal_fsyncs",
                                          "wal_writes",
                                          "pending_records",
                                          "pending_bytes",
                                          "checkpoint_lsn",
                                          "checkpoints",
                                          "checkpoint_bytes",
                                          "checkpoint_last_us",
                                          "recovery_replayed",
                                          "recovery_torn_bytes",
                                          "recovery_skipped_ops",
                                          "recovery_us",
                                          "read_only",
                                          "sticky_error",
                                          "sticky_message",
                                          "sched_cycles",
                                          "queue_depth",
                                          "queue_ema",
                                          "utilization",
                                          "interval_ms",
                                          "processing_rate",
                                          "predicted_depth",
                                          "estimated_lag_ms",
                                          "health_score",
                                          "recommendation",
                                          "uptime_us",
                                          "vectors_indexed",
                                          "index_lag",
                                          "index_ready",
                                          "index_loaded",
                                          "index_open_us",
                                          "index_deleted",
                                          "index_compactions",
                                          "shards",
                                          "txn_active",
                                          "txn_preparing",
                                          "txn_prepared",
                                          "txn_committed",
                                          "txn_aborted",
                                          "txn_timed_out",
                                          "txn_recovered",
                                          "per_shard",
                                          NULL};
static const char *const f_named[] = {"named", NULL};
static const char *const f_paths_cut[] = {"paths", "truncated", NULL};
static const char *const f_best_path[] = {"found", "path", "confidence", NULL};
static const char *const f_results_cut[] = {"results", "truncated", NULL};

static const struct {
	const char *name;
	const char *const *fields;
} variants[SC_R_COUNT] = {
    {"LearnConceptV2Ok", f_concept_id},
    {"LearnBatchOk", f_concept_ids},
    {"LearnConceptOk", f_sequence},
    {"LearnAssociationOk", f_sequence},
    {"QueryConceptOk", f_query},
    {"GetNeighborsOk", f_neighbor_ids},
    {"FindPathOk", f_path},
    {"VectorSearchOk", f_results},
    {"FindPathSemanticOk", f_paths},
    {"FindTemporalChainOk", f_paths},
    {"FindCausalChainOk", f_paths},
    {"FindContradictionsOk", f_contradictions},
    {"QueryBySemanticOk", f_concepts},
    {"StatsOk", f_stats},
    {"FlushOk", f_none},
    {"HealthCheckOk", f_health},
    {"Error", f_message},
    {"DeleteConceptOk", f_sequence},
    {"DeleteAssociationOk", f_sequence},
    {"GetConceptOk", f_get_concept},
    {"GetNeighborsDetailedOk", f_neighbors},
    {"LearnConceptsOk", f_ids_seq},
    {"LearnAssociationsOk", f_count_seq},
    {"SyncOk", f_durable},
    {"CheckpointOk", f_checkpoint},
    {"ServerInfoOk", f_info},
    {"StatsExtendedOk", f_stats_ext},
    {"SetEncodingOk", f_named},
    {"FindPathsOk", f_paths_cut},
    {"FindBestPathOk", f_best_path},
    {"KHopOk", f_results_cut},
    {"HybridSearchOk", f_results_cut},
};

const char *sc_resp_name(int kind)
{
	return kind >= 0 && kind < SC_R_COUNT ? variants[kind].name : "?";
}

const char *const *sc_resp_fields(int kind)
{
	return kind >= 0 && kind < SC_R_COUNT ? variants[kind].fields : NULL;
}

static int kind_by_name(const char *s, uint32_t n)
{
	for (int k = 0; k < SC_R_COUNT; k++)
		if (strlen(variants[k].name) == n && memcmp(variants[k].name, s, n) == 0)
			return k;
	return SC_R_UNKNOWN;
}

const char *sc_strerror(int rc)
{
	switch (rc) {
	case SC_OK:
		return "ok";
	case SC_ESERVER:
		return "server error";
	case SC_EIO:
		return "I/O error";
	case SC_ECLOSED:
		return "connection closed by the server";
	case SC_ETIMEDOUT:
		return "timed out";
	case SC_EPROTO:
		return "malformed reply";
	case SC_ENOMEM:
		return "out of memory";
	case SC_EINVAL:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

/* ---- pass 1: measure ---------------------------------------------------------------- */

/* Bytes of the header of the value starting with byte c, including c, for
 * the types whose length follows the tag; 0 for other tags. */
static size_t head_len(uint8_t c)
{
	switch (c) {
	case 0xc4:
	case 0xd9:
		return 2; /* bin8, str8 */
	case 0xc5:
	case 0xda:
		return 3; /* bin16, str16 */
	case 0xc6:
	case 0xdb:
		return 5; /* bin32, str32 */
	case 0xdc:
	case 0xde:
		return 3; /* array16, map16 */
	case 0xdd:
	case 0xdf:
		return 5; /* array32, map32 */
	case 0xc7:
		return 3; /* ext8: len, type */
	case 0xc8:
		return 4; /* ext16 */
	case 0xc9:
		return 6; /* ext32 */
	default:
		return 1;
	}
}

/* Size of a fixed-size scalar starting with c (0 when not fixed-size). */
static size_t fixed_len(uint8_t c)
{
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 1;
	switch (c) {
	case 0xcc:
	case 0xd0:
		return 2;
	case 0xcd:
	case 0xd1:
		return 3;
	case 0xca:
	case 0xce:
	case 0xd2:
		return 5;
	case 0xcb:
	case 0xcf:
	case 0xd3:
		return 9;
	case 0xd4:
		return 3; /* fixext 1 */
	case 0xd5:
		return 4;
	case 0xd6:
		return 6;
	case 0xd7:
		return 10;
	case 0xd8:
		return 18;
	default:
		return 0;
	}
}

static uint32_t load_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Steps over the header of one value at *p; *children gets the number of
 * values it contains directly (items, or 2 * pairs), *body its byte payload.
 * Returns false when the header runs past end or the tag is invalid. */
static bool step(const uint8_t **p, const uint8_t *end, uint64_t *children)
{
	uint8_t c = **p;
	size_t left = (size_t)(end - *p), h, fl = fixed_len(c);
	uint64_t body = 0;

	*children = 0;
	if (c == 0xc1)
		return false;
	if (fl)
		return fl <= left ? (*p += fl, true) : false;
	if ((c & 0xe0) == 0xa0) {
		h = 1, body = c & 0x1f;
	} else if ((c & 0xf0) == 0x90) {
		*children = c & 0x0f, h = 1;
	} else if ((c & 0xf0) == 0x80) {
		*children = 2u * (c & 0x0f), h = 1;
	} else {
		h = head_len(c);
		if (h > left)
			return false;
		uint32_t n = load_be(*p + 1, c >= 0xc7 && c <= 0xc9 ? h - 2 : h - 1);
		if (c == 0xdc || c == 0xdd)
			*children = n;
		else if (c == 0xde || c == 0xdf)
			*children = 2ull * n;
		else
			body = n;
	}
	if (h > left || body > left - h)
		return false;
	*p += h + body;
	return true;
}

/* Validates the value at p and counts its nodes; *stop gets where it ends. */
static int measure(const uint8_t *p, const uint8_t *end, size_t *count, const uint8_t **stop)
{
	uint64_t pending = 1, children;

	*count = 0;
	while (pending > 0) {
		if (p >= end || pending > (uint64_t)(end - p))
			return SC_EPROTO;
		if (!step(&p, end, &children))
			return SC_EPROTO;
		pending = pending - 1 + children;
		(*count)++;
	}
	*stop = p;
	return 0;
}

/* ---- pass 2: build ------------------------------------------------------------------ */

struct builder {
	struct sc_val *next, *end; /* free nodes */
};

static int build(struct builder *b, const char **p, struct sc_val *v, int depth);

static int build_items(struct builder *b, const char **p, struct sc_val *v, size_t count, int depth)
{
	struct sc_val *items = b->next;

	if (depth >= SC_MAX_DEPTH || count > (size_t)(b->end - b->next))
		return SC_EPROTO;
	b->next += count;
	v->v.items = items;
	for (size_t i = 0; i < count; i++) {
		int rc = build(b, p, &items[i], depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

static void build_scalar(const char **p, struct sc_val *v)
{
	switch (mp_typeof(**p)) {
	case MP_NIL:
		mp_decode_nil(p), v->type = SC_NIL;
		break;
	case MP_BOOL:
		v->type = SC_BOOL, v->v.b = mp_decode_bool(p);
		break;
	case MP_UINT:
		v->type = SC_UINT, v->v.u = mp_decode_uint(p);
		break;
	case MP_INT:
		v->type = SC_INT, v->v.i = mp_decode_int(p);
		break;
	case MP_FLOAT:
		v->type = SC_FLOAT, v->v.f = mp_decode_float(p);
		break;
	case MP_DOUBLE:
		v->type = SC_FLOAT, v->v.f = mp_decode_double(p);
		break;
	case MP_STR:
		v->type = SC_STR, v->v.s = mp_decode_str(p, &v->n);
		break;
	case MP_BIN:
		v->type = SC_BIN, v->v.s = mp_decode_bin(p, &v->n);
		break;
	default: /* MP_EXT: kept opaque */
		v->type = SC_EXT, v->v.s = *p, v->n = 0;
		mp_next(p);
		break;
	}
}

static int build(struct builder *b, const char **p, struct sc_val *v, int depth)
{
	memset(v, 0, sizeof *v);
	switch (mp_typeof(**p)) {
	case MP_ARRAY:
		v->type = SC_ARRAY, v->n = mp_decode_array(p);
		return build_items(b, p, v, v->n, depth);
	case MP_MAP:
		v->type = SC_MAP, v->n = mp_decode_map(p);
		return build_items(b, p, v, 2 * (size_t)v->n, depth);
	default:
		build_scalar(p, v);
		return 0;
	}
}

/* ---- replies --------------------------------------------------------------------------- */

void sc_reply_init(struct sc_reply *r)
{
	memset(r, 0, sizeof *r);
	r->kind = SC_R_UNKNOWN;
}

void sc_reply_free(struct sc_reply *r)
{
	free(r->buf);
	free(r->nodes);
	free(r->msg_buf);
	sc_reply_init(r);
}

static int fail(char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "malformed reply: %s", why);
	return SC_EPROTO;
}

static bool reserve(void **p, size_t *cap, size_t need, size_t elem)
{
	void *np;

	if (need <= *cap)
		return true;
	if (!(np = realloc(*p, need * elem)))
		return false;
	*p = np, *cap = need;
	return true;
}

/* Identifies the variant of the decoded root value. */
static int classify(struct sc_reply *r, char *err, size_t errlen)
{
	const struct sc_val *key = r->root;
	uint64_t idx;

	if (r->root->type == SC_MAP) {
		if (r->root->n != 1)
			return fail(err, errlen, "a variant map must have one entry");
		key = &r->root->v.items[0];
		r->payload = &r->root->v.items[1];
		if (r->payload->type == SC_NIL)
			r->payload = NULL;
		else if (r->payload->type != SC_ARRAY && r->payload->type != SC_MAP)
			return fail(err, errlen, "payload is neither an array nor a map");
		r->named = r->payload && r->payload->type == SC_MAP;
	}
	if (key->type == SC_STR) {
		r->name = key->v.s, r->name_len = key->n;
		r->kind = kind_by_name(key->v.s, key->n);
	} else if (sc_val_u64(key, &idx) && idx <= SC_R_ERROR) {
		r->kind = (int)idx;
	} else {
		return fail(err, errlen, "the variant is neither a name nor an index");
	}
	if (r->kind == SC_R_UNKNOWN)
		return fail(err, errlen, "unknown reply variant");
	return 0;
}

static int take_message(struct sc_reply *r, char *err, size_t errlen)
{
	const char *s;
	uint32_t n;

	if (sc_field_str(r, "message", &s, &n))
		return fail(err, errlen, "Error without a message");
	if (!reserve((void **)&r->msg_buf, &r->msg_cap, (size_t)n + 1, 1))
		return SC_ENOMEM;
	memcpy(r->msg_buf, s, n);
	r->msg_buf[n] = '\0';
	r->message = r->msg_buf;
	return SC_ESERVER;
}

int sc_reply_parse(struct sc_reply *r, const void *p, size_t n, char *err, size_t errlen)
{
	const uint8_t *stop;
	const char *q;
	size_t count;
	struct builder b;
	int rc;

	r->kind = SC_R_UNKNOWN, r->name = NULL, r->name_len = 0, r->named = false;
	r->root = r->payload = NULL, r->message = NULL;
	if (!reserve((void **)&r->buf, &r->cap, n ? n : 1, 1))
		return SC_ENOMEM;
	if (n)
		memcpy(r->buf, p, n);
	r->len = n;
	if (measure(r->buf, r->buf + n, &count, &stop))
		return fail(err, errlen, "truncated or invalid MessagePack");
	if (!reserve((void **)&r->nodes, &r->node_cap, count, sizeof(struct sc_val)))
		return SC_ENOMEM;
	b.next = r->nodes + 1, b.end = r->nodes + count;
	q = (const char *)r->buf;
	if ((rc = build(&b, &q, r->nodes, 0)))
		return fail(err, errlen, "nested too deeply");
	r->root = r->nodes;
	if ((rc = classify(r, err, errlen)))
		return rc;
	return r->kind == SC_R_ERROR ? take_message(r, err, errlen) : 0;
}

/* ---- field access ------------------------------------------------------------------------- */

const struct sc_val *sc_field(const struct sc_reply *r, const char *field)
{
	const char *const *f = sc_resp_fields(r->kind);

	if (!r->payload)
		return NULL;
	if (r->payload->type == SC_MAP)
		return sc_val_key(r->payload, field);
	for (uint32_t i = 0; f && f[i]; i++)
		if (strcmp(f[i], field) == 0)
			return sc_val_at(r->payload, i);
	return NULL;
}

int sc_field_u64(const struct sc_reply *r, const char *field, uint64_t *out)
{
	return sc_val_u64(sc_field(r, field), out) ? 0 : SC_EPROTO;
}

int sc_field_f64(const struct sc_reply *r, const char *field, double *out)
{
	return sc_val_f64(sc_field(r, field), out) ? 0 : SC_EPROTO;
}

int sc_field_bool(const struct sc_reply *r, const char *field, bool *out)
{
	return sc_val_bool(sc_field(r, field), out) ? 0 : SC_EPROTO;
}

int sc_field_str(const struct sc_reply *r, const char *field, const char **s, uint32_t *n)
{
	return sc_val_str(sc_field(r, field), s, n) ? 0 : SC_EPROTO;
}

/* ---- values ------------------------------------------------------------------------------ */

bool sc_val_u64(const struct sc_val *v, uint64_t *out)
{
	if (!v || v->type != SC_UINT)
		return false;
	*out = v->v.u;
	return true;
}

bool sc_val_i64(const struct sc_val *v, int64_t *out)
{
	if (v && v->type == SC_INT) {
		*out = v->v.i;
		return true;
	}
	if (v && v->type == SC_UINT && v->v.u <= INT64_MAX) {
		*out = (int64_t)v->v.u;
		return true;
	}
	return false;
}

bool sc_val_f64(const struct sc_val *v, double *out)
{
	if (!v)
		return false;
	if (v->type == SC_FLOAT)
		*out = v->v.f;
	else if (v->type == SC_UINT)
		*out = (double)v->v.u;
	else if (v->type == SC_INT)
		*out = (double)v->v.i;
	else
		return false;
	return true;
}

bool sc_val_bool(const struct sc_val *v, bool *out)
{
	if (!v || v->type != SC_BOOL)
		return false;
	*out = v->v.b;
	return true;
}

bool sc_val_str(const struct sc_val *v, const char **s, uint32_t *n)
{
	if (!v || (v->type != SC_STR && v->type != SC_BIN))
		return false;
	*s = v->v.s, *n = v->n;
	return true;
}

bool sc_val_is_nil(const struct sc_val *v)
{
	return v && v->type == SC_NIL;
}

bool sc_val_streq(const struct sc_val *v, const char *s)
{
	const char *p;
	uint32_t n;

	return sc_val_str(v, &p, &n) && strlen(s) == n && memcmp(p, s, n) == 0;
}

const struct sc_val *sc_val_at(const struct sc_val *v, uint32_t i)
{
	return v && v->type == SC_ARRAY && i < v->n ? &v->v.items[i] : NULL;
}

const struct sc_val *sc_val_key(const struct sc_val *v, const char *key)
{
	if (!v || v->type != SC_MAP)
		return NULL;
	for (uint32_t i = 0; i < v->n; i++)
		if (sc_val_streq(&v->v.items[2 * i], key))
			return &v->v.items[2 * i + 1];
	return NULL;
}

uint32_t sc_val_len(const struct sc_val *v)
{
	return v && (v->type == SC_ARRAY || v->type == SC_MAP) ? v->n : 0;
}
