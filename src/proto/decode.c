/* decode.c - proto_decode: the lenient request decoder's entry point, structs and errors.
 *
 * A request is one value: a bare variant name or index (unit variants), or
 * a one-entry map {name-or-index: payload}. The variant table (schema.c)
 * says what the payload holds; pd_struct_read decodes any described struct
 * from a map (keys by name, or by field index as serde accepts; unknown keys
 * skipped; duplicates, missing required fields rejected) or an array of
 * exactly its field count. Every container entered counts against
 * max_nesting before anything inside it is read, so neither this code nor
 * mpr_skip can recurse deeper than that. Memory comes only from the
 * caller's arena (pd_alloc), and on failure the arena is rolled back, so a
 * rejected request leaves no trace. Errors carry the path of names that
 * led to the bad value; the six wire limits use the Rust server's texts.
 */
#include "proto/decode.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sutra/sutra.h"

void proto_limits_default(struct proto_limits *l)
{
	l->max_content = 10485760;
	l->max_dim = 2048;
	l->max_batch = 1000;
	l->max_depth = 20;
	l->max_k = 1000;
	l->max_nesting = 32;
	l->max_meta = 256;
	l->max_filter_ids = SUTRA_MAX_FILTER_IDS; /* more would only be refused by the engine */
	/* The graph extensions. The visit budget bounds a traversal's memory:
	 * a breadth-first walk keeps up to ~80 bytes per visited concept (less
	 * than 1 GB at the cap); the most-confident-path search up to 8 labels
	 * of ~45 bytes each per visit on top. Result counts bound the reply
	 * (KHop: about 70 bytes a hit, 7 MB at most). */
	l->max_visited = 2000000;
	l->max_paths = 1000; /* the engine's own cap */
	l->max_khop = 100000;
	l->max_hybrid = 10000;
}

/* a * b + c, saturating at SIZE_MAX. */
static size_t sat_muladd(size_t a, size_t b, size_t c)
{
	size_t r;

	if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
		return SIZE_MAX;
	return r;
}

size_t proto_arena_bound(size_t n, const struct proto_limits *lim)
{
	size_t by_frame = sat_muladd(n, PROTO_ARENA_PER_BYTE, PROTO_ARENA_SLACK);
	size_t b = lim->max_batch, dim = lim->max_dim, meta = lim->max_meta;
	size_t vec = sat_muladd(dim, sizeof(float), 8);
	size_t meta_bytes = sat_muladd(meta, 2 * sizeof(struct pstr), 16);
	size_t item = sat_muladd(1, sizeof(struct concept_item), vec);
	size_t by_limits = sat_muladd(b, sizeof(struct pstr), 8); /* LearnBatch */
	size_t filtered = sat_muladd(lim->max_filter_ids, sizeof(struct pstr), 8);

	item = sat_muladd(1, item, meta_bytes);
	if (vec > by_limits) /* LearnConcept, VectorSearch */
		by_limits = vec;
	if (sat_muladd(b, item, 8) > by_limits) /* LearnConcepts */
		by_limits = sat_muladd(b, item, 8);
	if (sat_muladd(b, sizeof(struct assoc_item), 8) > by_limits) /* LearnAssociations */
		by_limits = sat_muladd(b, sizeof(struct assoc_item), 8);
	filtered = sat_muladd(1, filtered, vec);
	if (filtered > by_limits) /* VectorSearchFiltered: query vector and ids */
		by_limits = filtered;
	/* HybridSearch's query vector is covered by vec; the other graph
	 * extensions allocate nothing */
	by_limits = sat_muladd(1, by_limits, PROTO_ARENA_SLACK);
	return by_frame < by_limits ? by_frame : by_limits;
}

/* ---- errors and the path ------------------------------------------------- */

static size_t format_path(const struct dctx *d, char *buf, size_t len)
{
	size_t used = 0;
	int n = d->npath < PD_PATH_MAX ? d->npath : PD_PATH_MAX;

	for (int i = 0; i < n && used + 1 < len; i++) {
		int w;
		if (d->path[i].name)
			w = snprintf(buf + used, len - used, "%s%s", i ? "." : "", d->path[i].name);
		else
			w = snprintf(buf + used, len - used, "[%u]", d->path[i].index);
		if (w < 0)
			break;
		used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
	return used;
}

__attribute__((format(printf, 3, 0))) static int vfail(struct dctx *d, bool with_path,
                                                       const char *fmt, va_list ap)
{
	size_t used = 0;

	if (!d->err || d->errlen == 0)
		return -1;
	d->err[0] = '\0';
	if (with_path && d->npath > 0) {
		used = format_path(d, d->err, d->errlen);
		if (used + 3 <= d->errlen) {
			memcpy(d->err + used, ": ", 3);
			used += 2;
		}
	}
	if (used + 1 < d->errlen)
		vsnprintf(d->err + used, d->errlen - used, fmt, ap);
	return -1;
}

int pd_fail(struct dctx *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(d, true, fmt, ap);
	va_end(ap);
	return -1;
}

int pd_fail_plain(struct dctx *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(d, false, fmt, ap);
	va_end(ap);
	return -1;
}

int pd_fail_read(struct dctx *d, int rc)
{
	if (rc == -2)
		return pd_fail(d, "Nesting too deep (max: %u)", d->max_nesting);
	if (d->npath == 0)
		return pd_fail(d, "Malformed request: truncated or invalid MessagePack");
	return pd_fail(d, "truncated or invalid MessagePack");
}

const char *pd_kind_name(const struct mpval *v)
{
	static const char *const names[] = {"nil", "bool",  "uint", "negative int", "float",  "str",
	                                    "bin", "array", "map",  "ext",          "invalid"};

	return v->kind >= 0 && v->kind <= MPK_INVALID ? names[v->kind] : "invalid";
}

int pd_expected(struct dctx *d, const char *what, const struct mpval *got)
{
	return pd_fail(d, "expected %s, got %s", what, pd_kind_name(got));
}

void pd_push(struct dctx *d, const char *name)
{
	if (d->npath < PD_PATH_MAX)
		d->path[d->npath].name = name;
	d->npath++;
}

void pd_push_index(struct dctx *d, uint32_t index)
{
	if (d->npath < PD_PATH_MAX) {
		d->path[d->npath].name = NULL;
		d->path[d->npath].index = index;
	}
	d->npath++;
}

void pd_pop(struct dctx *d)
{
	d->npath--;
}

/* ---- cursor, nesting, arena --------------------------------------------- */

int pd_enter(struct dctx *d)
{
	if (d->depth >= d->max_nesting)
		return pd_fail_read(d, -2);
	d->depth++;
	return 0;
}

void pd_leave(struct dctx *d)
{
	d->depth--;
}

int pd_next(struct dctx *d, struct mpval *v)
{
	return mpr_next(&d->r, v) == 0 ? 0 : pd_fail_read(d, -1);
}

int pd_skip(struct dctx *d)
{
	int rc = mpr_skip(&d->r, d->max_nesting - d->depth);

	return rc == 0 ? 0 : pd_fail_read(d, rc);
}

void *pd_alloc(struct dctx *d, size_t size)
{
	struct arena *a = d->a;
	uintptr_t at;
	size_t pad;

	if (!a || a->used > a->cap) {
		pd_fail_plain(d, "Request needs decode memory but no arena was given");
		return NULL;
	}
	at = (uintptr_t)a->base + a->used;
	pad = (size_t)(-at & 7); /* every array element here needs at most 8-byte alignment */
	if (size > a->cap - a->used || pad > a->cap - a->used - size) {
		pd_fail_plain(d,
		              "Request needs more decode memory than the server allows (%zu bytes)",
		              a->cap);
		return NULL;
	}
	a->used += pad + size;
	return a->base + (a->used - size);
}

/* ---- structs ------------------------------------------------------------- */

static int find_field(const struct pd_struct *s, const char *name, uint32_t n)
{
	for (uint32_t i = 0; i < s->nfields; i++)
		if (strlen(s->fields[i].name) == n && memcmp(s->fields[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

/* One field's value; an optional field given as nil stays at its default. */
static int read_field(struct dctx *d, const struct pd_field *f, void *base)
{
	int rc;

	pd_push(d, f->name);
	if (!f->required && mpr_peek(&d->r) == MPK_NIL) {
		d->r.p++;
		rc = 0;
	} else {
		rc = f->read(d, f, base);
	}
	pd_pop(d);
	return rc;
}

/* A map key: the field's index, -1 for a key to ignore (its value is skipped). */
static int map_key(struct dctx *d, const struct pd_struct *s, int *idx)
{
	struct mpval k;
	int kind = mpr_peek(&d->r);

	*idx = -1;
	if (kind == MPK_ARRAY || kind == MPK_MAP)
		return pd_skip(d);
	if (pd_next(d, &k) != 0)
		return -1;
	if (k.kind == MPK_STR || k.kind == MPK_BIN)
		*idx = find_field(s, k.s, k.n);
	else if (k.kind == MPK_UINT && k.u < s->nfields)
		*idx = (int)k.u;
	return 0;
}

static int struct_map(struct dctx *d, const struct pd_struct *s, void *base, uint32_t n)
{
	uint32_t seen = 0;
	int idx;

	for (uint32_t i = 0; i < n; i++) {
		if (map_key(d, s, &idx) != 0)
			return -1;
		if (idx < 0) {
			if (pd_skip(d) != 0)
				return -1;
			continue;
		}
		if (seen & (1u << idx))
			return pd_fail(d, "duplicate field %s", s->fields[idx].name);
		seen |= 1u << idx;
		if (read_field(d, &s->fields[idx], base) != 0)
			return -1;
	}
	for (uint32_t i = 0; i < s->nfields; i++)
		if (s->fields[i].required && !(seen & (1u << i)))
			return pd_fail(d, "missing field %s", s->fields[i].name);
	return 0;
}

static int struct_array(struct dctx *d, const struct pd_struct *s, void *base, uint32_t n)
{
	if (n != s->nfields)
		return pd_fail(d, "expected an array of %u fields, got %u", s->nfields, n);
	for (uint32_t i = 0; i < n; i++)
		if (read_field(d, &s->fields[i], base) != 0)
			return -1;
	return 0;
}

int pd_struct_read(struct dctx *d, const struct pd_struct *s, void *base)
{
	struct mpval v;
	int rc;

	if (s->defaults)
		s->defaults(base);
	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind != MPK_MAP && v.kind != MPK_ARRAY)
		return pd_fail(d, "expected a map or an array of %u fields, got %s", s->nfields,
		               pd_kind_name(&v));
	if (pd_enter(d) != 0)
		return -1;
	rc = v.kind == MPK_MAP ? struct_map(d, s, base, v.n) : struct_array(d, s, base, v.n);
	pd_leave(d);
	return rc == 0 && s->finish ? s->finish(d, base) : rc;
}

/* ---- variants ------------------------------------------------------------ */

static const struct pd_variant *variant_by_name(const char *s, uint32_t n)
{
	for (size_t i = 0; i < pd_nvariants; i++)
		if (strlen(pd_variants[i].name) == n && memcmp(pd_variants[i].name, s, n) == 0)
			return &pd_variants[i];
	return NULL;
}

/* Only the Rust server's variants have a wire index. */
static const struct pd_variant *variant_by_index(uint64_t index)
{
	for (size_t i = 0; i < pd_nvariants; i++)
		if (pd_variants[i].kind < 16 && (uint64_t)pd_variants[i].kind == index)
			return &pd_variants[i];
	return NULL;
}

/* The variant a name or index denotes, or an "Unknown request variant" error. */
static const struct pd_variant *variant_of(struct dctx *d, const struct mpval *v)
{
	const struct pd_variant *var = NULL;
	char shown[68];
	size_t n;

	if (v->kind == MPK_UINT && (var = variant_by_index(v->u)) == NULL)
		pd_fail(d, "Unknown request variant index %llu", (unsigned long long)v->u);
	else if (v->kind == MPK_INT)
		pd_fail(d, "Unknown request variant index %lld", (long long)v->i);
	if (v->kind != MPK_STR && v->kind != MPK_BIN)
		return var;
	if ((var = variant_by_name(v->s, v->n)) != NULL)
		return var;
	n = v->n < 64 ? v->n : 64;
	for (size_t i = 0; i < n; i++) /* the name is shown, never trusted */
		shown[i] = v->s[i] >= 0x20 && v->s[i] < 0x7f ? v->s[i] : '?';
	memcpy(shown + n, v->n > 64 ? "...\0" : "\0", v->n > 64 ? 4 : 1);
	pd_fail(d, "Unknown request variant '%s'", shown);
	return NULL;
}

/* A unit variant in a map takes nil (or an empty array or map) as payload. */
static int unit_payload(struct dctx *d)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind == MPK_NIL || ((v.kind == MPK_ARRAY || v.kind == MPK_MAP) && v.n == 0))
		return 0;
	return pd_fail(d, "expected nil (a unit variant has no fields), got %s", pd_kind_name(&v));
}

static int map_request(struct dctx *d, uint32_t entries, struct request *out, void *scratch)
{
	const struct pd_variant *var;
	struct mpval k;
	int rc;

	if (entries != 1)
		return pd_fail(d,
		               "Malformed request: expected a one-entry map {variant: payload}, "
		               "got %u entries",
		               entries);
	if (pd_next(d, &k) != 0)
		return -1;
	if (k.kind != MPK_STR && k.kind != MPK_BIN && k.kind != MPK_UINT && k.kind != MPK_INT)
		return pd_fail(d,
		               "Malformed request: the variant must be a name or an index, got %s",
		               pd_kind_name(&k));
	if ((var = variant_of(d, &k)) == NULL)
		return -1;
	out->kind = var->kind;
	pd_push(d, var->name);
	if (!var->payload)
		rc = unit_payload(d);
	else
		rc = pd_struct_read(d, var->payload, var->check_only ? scratch : (void *)&out->u);
	pd_pop(d);
	return rc;
}

static int decode_request(struct dctx *d, struct request *out, void *scratch)
{
	const struct pd_variant *var;
	struct mpval v;
	int rc;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind == MPK_MAP) {
		if (pd_enter(d) != 0)
			return -1;
		rc = map_request(d, v.n, out, scratch);
		pd_leave(d);
		return rc;
	}
	if (v.kind != MPK_STR && v.kind != MPK_BIN && v.kind != MPK_UINT && v.kind != MPK_INT)
		return pd_fail(d,
		               "Malformed request: expected a variant name or a one-entry map "
		               "{variant: payload}, got %s",
		               pd_kind_name(&v));
	if ((var = variant_of(d, &v)) == NULL)
		return -1;
	out->kind = var->kind;
	if (var->payload)
		return pd_fail(d, "%s: missing payload (a map or an array of %u fields)", var->name,
		               var->payload->nfields);
	return 0;
}

int proto_decode(const uint8_t *p, size_t n, const struct proto_limits *lim, struct arena *a,
                 struct request *out, char *err, size_t errlen)
{
	alignas(max_align_t) unsigned char scratch[PD_SCRATCH_BYTES];
	struct proto_limits def;
	struct dctx d;
	size_t mark = a ? a->used : 0;
	int rc;

	if (!lim) {
		proto_limits_default(&def);
		lim = &def;
	}
	memset(&d, 0, sizeof d);
	d.r.p = p;
	d.r.end = p ? p + n : p;
	d.lim = lim;
	d.a = a;
	d.err = err;
	d.errlen = errlen;
	d.max_nesting = lim->max_nesting < PD_NESTING_CAP ? lim->max_nesting : PD_NESTING_CAP;
	memset(out, 0, sizeof *out);
	memset(scratch, 0, sizeof scratch);
	out->kind = -1;
	if (err && errlen)
		err[0] = '\0';
	rc = decode_request(&d, out, scratch);
	if (rc != 0) {
		int kind = out->kind;
		memset(out, 0, sizeof *out);
		out->kind = kind;
		if (a)
			a->used = mark;
	}
	return rc;
}
