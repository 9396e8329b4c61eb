/* fields.c - the request decoder's field readers: one wire type each, limits checked.
 *
 * Each reader consumes exactly one value at the cursor and stores it at
 * (char *)base + f->off (arrays also write their count at f->off2). Numbers
 * are lenient the serde way: f32 fields take float32, float64 (if within
 * f32 range) and any integer; u32 fields take non-negative integers up to
 * 4294967295; strings take str or bin. Arrays are sized only after their
 * count passed both the limit and the bytes-left check, and only from the
 * arena; in a dry run (d->dry: the first pass over an item list) they are
 * checked but neither allocated nor stored. Item lists are read twice so
 * that the list's own allocation happens only once every item is known to
 * be valid, which is what keeps the arena within 16 bytes per frame byte
 * (see proto.h).
 */
#include "proto/decode.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static int get_uint(struct dctx *d, uint64_t *u, const char *what)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind != MPK_UINT)
		return pd_expected(d, what, &v);
	*u = v.u;
	return 0;
}

static int get_u32(struct dctx *d, uint32_t *out)
{
	uint64_t u = 0;

	if (get_uint(d, &u, "u32") != 0)
		return -1;
	if (u > UINT32_MAX)
		return pd_fail(d, "expected u32, got %llu (max: 4294967295)",
		               (unsigned long long)u);
	*out = (uint32_t)u;
	return 0;
}

static int get_str(struct dctx *d, struct pstr *s)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind != MPK_STR && v.kind != MPK_BIN)
		return pd_expected(d, "str", &v);
	size_t bad = utf8_invalid_at(v.s, v.n);
	if (bad < v.n)
		return pd_fail(d, "expected a UTF-8 string (byte %zu of %u is not)", bad, v.n);
	s->p = v.s;
	s->n = v.n;
	return 0;
}

/* Any number as f32; a float64 beyond the f32 range is an error (not inf). */
static int get_f32(struct dctx *d, float *out)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	switch (v.kind) {
	case MPK_UINT:
		*out = (float)v.u;
		return 0;
	case MPK_INT:
		*out = (float)v.i;
		return 0;
	case MPK_FLOAT:
		if (isfinite(v.f) && fabs(v.f) > FLT_MAX)
			return pd_fail(d, "expected f32, got %g (out of range)", v.f);
		*out = (float)v.f;
		return 0;
	default:
		return pd_expected(d, "f32", &v);
	}
}

static int check_content(struct dctx *d, const struct pstr *s)
{
	if (s->n > d->lim->max_content)
		return pd_fail_plain(d, "Content too large: %u bytes (max: %u)", s->n,
		                     d->lim->max_content);
	return 0;
}

/* ---- scalars ------------------------------------------------------------- */

int pd_f_str(struct dctx *d, const struct pd_field *f, void *base)
{
	return get_str(d, AT(base, f->off, struct pstr));
}

int pd_f_content(struct dctx *d, const struct pd_field *f, void *base)
{
	struct pstr *s = AT(base, f->off, struct pstr);

	return get_str(d, s) != 0 ? -1 : check_content(d, s);
}

/* A string whose presence matters (LearnOptions.embedding_model, filter
 * fields): off the string, off2 a bool set when it was given. */
int pd_f_str_given(struct dctx *d, const struct pd_field *f, void *base)
{
	if (get_str(d, AT(base, f->off, struct pstr)) != 0)
		return -1;
	*AT(base, f->off2, bool) = true;
	return 0;
}

/* Metadata keys are 1..255 bytes wherever they appear. */
static int check_meta_key(struct dctx *d, const struct pstr *key)
{
	if (key->n < 1 || key->n > 255)
		return pd_fail(d, "key must be 1..255 bytes, got %u", key->n);
	return 0;
}

/* A filter's metadata key: like pd_f_str_given, 1..255 bytes. */
int pd_f_meta_key_given(struct dctx *d, const struct pd_field *f, void *base)
{
	if (pd_f_str_given(d, f, base) != 0)
		return -1;
	return check_meta_key(d, AT(base, f->off, struct pstr));
}

int pd_f_bool(struct dctx *d, const struct pd_field *f, void *base)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind != MPK_BOOL)
		return pd_expected(d, "bool", &v);
	*AT(base, f->off, bool) = v.b;
	return 0;
}

int pd_f_u32(struct dctx *d, const struct pd_field *f, void *base)
{
	return get_u32(d, AT(base, f->off, uint32_t));
}

/* A count where "more than 4294967295" means "no limit" anyway. */
int pd_f_u32_sat(struct dctx *d, const struct pd_field *f, void *base)
{
	uint64_t u = 0;

	if (get_uint(d, &u, "uint") != 0)
		return -1;
	*AT(base, f->off, uint32_t) = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
	return 0;
}

int pd_f_depth(struct dctx *d, const struct pd_field *f, void *base)
{
	uint32_t *x = AT(base, f->off, uint32_t);

	if (get_u32(d, x) != 0)
		return -1;
	if (*x > d->lim->max_depth)
		return pd_fail_plain(d, "Path depth too large: %u (max: %u)", *x,
		                     d->lim->max_depth);
	return 0;
}

/* A reachability depth: 1..max_depth (0 would reach nothing, which is
 * surely a mistake rather than a query). */
int pd_f_reach_depth(struct dctx *d, const struct pd_field *f, void *base)
{
	uint32_t *x = AT(base, f->off, uint32_t);

	if (pd_f_depth(d, f, base) != 0)
		return -1;
	if (*x == 0)
		return pd_fail(d, "must be 1..%u, got 0", d->lim->max_depth);
	return 0;
}

int pd_f_k(struct dctx *d, const struct pd_field *f, void *base)
{
	uint32_t *x = AT(base, f->off, uint32_t);

	if (get_u32(d, x) != 0)
		return -1;
	if (*x > d->lim->max_k)
		return pd_fail_plain(d, "k too large: %u (max: %u)", *x, d->lim->max_k);
	return 0;
}

/* A count that must be 1..max: 0 would ask for nothing, surely a mistake. */
static int count_in(struct dctx *d, uint64_t *x, uint64_t max)
{
	if (get_uint(d, x, "uint") != 0)
		return -1;
	if (*x < 1 || *x > max)
		return pd_fail(d, "must be 1..%llu, got %llu", (unsigned long long)max,
		               (unsigned long long)*x);
	return 0;
}

static int count_u32(struct dctx *d, const struct pd_field *f, void *base, uint32_t max)
{
	uint64_t x = 0;

	if (count_in(d, &x, max) != 0)
		return -1;
	*AT(base, f->off, uint32_t) = (uint32_t)x;
	return 0;
}

int pd_f_max_visited(struct dctx *d, const struct pd_field *f, void *base)
{
	return count_in(d, AT(base, f->off, uint64_t), d->lim->max_visited);
}

int pd_f_max_paths(struct dctx *d, const struct pd_field *f, void *base)
{
	return count_u32(d, f, base, d->lim->max_paths);
}

int pd_f_khop_limit(struct dctx *d, const struct pd_field *f, void *base)
{
	return count_u32(d, f, base, d->lim->max_khop);
}

int pd_f_hybrid_limit(struct dctx *d, const struct pd_field *f, void *base)
{
	return count_u32(d, f, base, d->lim->max_hybrid);
}

int pd_f_k_seeds(struct dctx *d, const struct pd_field *f, void *base)
{
	return count_u32(d, f, base, d->lim->max_k);
}

int pd_f_i64(struct dctx *d, const struct pd_field *f, void *base)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind == MPK_INT)
		*AT(base, f->off, int64_t) = v.i;
	else if (v.kind == MPK_UINT && v.u <= INT64_MAX)
		*AT(base, f->off, int64_t) = (int64_t)v.u;
	else if (v.kind == MPK_UINT)
		return pd_fail(d, "expected i64, got %llu (out of range)", (unsigned long long)v.u);
	else
		return pd_expected(d, "i64", &v);
	return 0;
}

int pd_f_uint64(struct dctx *d, const struct pd_field *f, void *base)
{
	return get_uint(d, AT(base, f->off, uint64_t), "uint");
}

/* strength, confidence and the like: finite numbers only. */
int pd_f_f32(struct dctx *d, const struct pd_field *f, void *base)
{
	float *x = AT(base, f->off, float);

	if (get_f32(d, x) != 0)
		return -1;
	if (!isfinite(*x))
		return pd_fail(d, "expected a finite number, got %g", (double)*x);
	return 0;
}

static int get_assoc_type(struct dctx *d, uint32_t *t)
{
	if (get_u32(d, t) != 0)
		return -1;
	if (*t > 4)
		return pd_fail_plain(d,
		                     "Invalid association type %u (allowed 0..4: semantic, causal, "
		                     "temporal, hierarchical, compositional)",
		                     *t);
	return 0;
}

int pd_f_assoc_type(struct dctx *d, const struct pd_field *f, void *base)
{
	return get_assoc_type(d, AT(base, f->off, uint32_t));
}

/* An int slot: nil (the optional default, -1) or an association type. */
int pd_f_type_or_any(struct dctx *d, const struct pd_field *f, void *base)
{
	uint32_t t = 0;

	if (get_assoc_type(d, &t) != 0)
		return -1;
	*AT(base, f->off, int) = (int)t;
	return 0;
}

int pd_f_direction(struct dctx *d, const struct pd_field *f, void *base)
{
	static const char *const names[] = {"out", "in", "both"};
	struct pstr s = {NULL, 0};

	if (get_str(d, &s) != 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (strlen(names[i]) == s.n && memcmp(names[i], s.p, s.n) == 0) {
			*AT(base, f->off, int) = i + 1;
			return 0;
		}
	}
	return pd_fail(d, "expected \"out\", \"in\" or \"both\"");
}

/* ---- arrays -------------------------------------------------------------- */

/* An array header of at most max elements (limit_fmt names the limit). */
static int array_head(struct dctx *d, uint32_t *n, const char *what)
{
	struct mpval v;

	if (pd_next(d, &v) != 0)
		return -1;
	if (v.kind != MPK_ARRAY)
		return pd_expected(d, what, &v);
	*n = v.n;
	return 0;
}

static int batch_limit(struct dctx *d, uint32_t n)
{
	if (n > d->lim->max_batch)
		return pd_fail_plain(d, "Batch too large: %u items (max: %u)", n,
		                     d->lim->max_batch);
	return 0;
}

/* Embeddings, query vectors, item vectors: off the float *, off2 the dim. */
int pd_f_f32vec(struct dctx *d, const struct pd_field *f, void *base)
{
	float *dst = NULL;
	uint32_t n = 0;

	if (array_head(d, &n, "an array of f32") != 0)
		return -1;
	if (n > d->lim->max_dim)
		return pd_fail_plain(d, "Embedding dimension too large: %u (max: %u)", n,
		                     d->lim->max_dim);
	if (pd_enter(d) != 0)
		return -1;
	if (n > 0 && !d->dry && (dst = pd_alloc(d, (size_t)n * sizeof(float))) == NULL)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		float x = 0;
		pd_push_index(d, i);
		if (get_f32(d, &x) != 0)
			return -1;
		pd_pop(d);
		if (dst)
			dst[i] = x;
	}
	pd_leave(d);
	*AT(base, f->off, float *) = dst;
	*AT(base, f->off2, uint32_t) = n;
	return 0;
}

/* LearnBatch.contents: off the struct pstr *, off2 the count. */
int pd_f_contents(struct dctx *d, const struct pd_field *f, void *base)
{
	struct pstr *dst = NULL, s = {NULL, 0};
	uint32_t n = 0;

	if (array_head(d, &n, "an array of str") != 0 || batch_limit(d, n) != 0 || pd_enter(d) != 0)
		return -1;
	if (n > 0 && !d->dry && (dst = pd_alloc(d, (size_t)n * sizeof *dst)) == NULL)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pd_push_index(d, i);
		if (get_str(d, &s) != 0 || check_content(d, &s) != 0)
			return -1;
		pd_pop(d);
		if (dst)
			dst[i] = s;
	}
	pd_leave(d);
	*AT(base, f->off, struct pstr *) = dst;
	*AT(base, f->off2, uint32_t) = n;
	return 0;
}

/* A list of at most max strings (a filter's ids), refused before anything
 * is allocated when longer. */
int pd_f_str_array(struct dctx *d, uint32_t max, struct pstr **items, uint32_t *count)
{
	struct pstr *dst = NULL, s = {NULL, 0};
	uint32_t n = 0;

	if (array_head(d, &n, "an array of str") != 0)
		return -1;
	if (n > max)
		return pd_fail(d, "too many entries: %u (max: %u)", n, max);
	if (pd_enter(d) != 0)
		return -1;
	if (n > 0 && !d->dry && (dst = pd_alloc(d, (size_t)n * sizeof *dst)) == NULL)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pd_push_index(d, i);
		if (get_str(d, &s) != 0)
			return -1;
		pd_pop(d);
		if (dst)
			dst[i] = s;
	}
	pd_leave(d);
	*items = dst;
	*count = n;
	return 0;
}

/* SemanticFilter.required_terms: checked, not kept. */
int pd_f_str_list(struct dctx *d, const struct pd_field *f, void *base)
{
	struct pstr s = {NULL, 0};
	uint32_t n = 0;

	if (array_head(d, &n, "an array of str") != 0 || pd_enter(d) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pd_push_index(d, i);
		if (get_str(d, &s) != 0)
			return -1;
		pd_pop(d);
	}
	pd_leave(d);
	return 0;
}

static int meta_entry(struct dctx *d, struct pstr *key, struct pstr *value)
{
	if (get_str(d, key) != 0 || check_meta_key(d, key) != 0)
		return -1;
	return get_str(d, value);
}

/* ConceptItem.metadata (base is the struct concept_item): a map str -> str. */
int pd_f_meta(struct dctx *d, const struct pd_field *f, void *base)
{
	struct concept_item *it = base;
	struct pstr *keys = NULL, *values = NULL, k = {NULL, 0}, v = {NULL, 0};
	struct mpval m;

	if (pd_next(d, &m) != 0)
		return -1;
	if (m.kind != MPK_MAP)
		return pd_expected(d, "a map of str to str", &m);
	if (m.n > d->lim->max_meta)
		return pd_fail(d, "too many entries: %u (max: %u)", m.n, d->lim->max_meta);
	if ((uint64_t)m.n * 3 > mpr_left(&d->r)) /* a key takes >= 2 bytes, a value >= 1 */
		return pd_fail_read(d, -1);
	if (pd_enter(d) != 0)
		return -1;
	if (m.n > 0 && !d->dry &&
	    ((keys = pd_alloc(d, (size_t)m.n * sizeof *keys)) == NULL ||
	     (values = pd_alloc(d, (size_t)m.n * sizeof *values)) == NULL))
		return -1;
	for (uint32_t i = 0; i < m.n; i++) {
		pd_push_index(d, i);
		if (meta_entry(d, &k, &v) != 0)
			return -1;
		pd_pop(d);
		if (keys) {
			keys[i] = k;
			values[i] = v;
		}
	}
	pd_leave(d);
	it->meta_keys = keys;
	it->meta_values = values;
	it->meta_count = m.n;
	return 0;
}

static int read_items(struct dctx *d, const struct pd_struct *item, uint8_t *dst, size_t stride,
                      uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pd_push_index(d, i);
		if (pd_struct_read(d, item, dst + i * stride) != 0)
			return -1;
		pd_pop(d);
	}
	return 0;
}

/* LearnConcepts.concepts, LearnAssociations.associations: a dry pass checks
 * every item, then the list is allocated and read again for real. */
int pd_f_items(struct dctx *d, const struct pd_struct *item, size_t item_size, void **items,
               uint32_t *count)
{
	union {
		struct concept_item c;
		struct assoc_item a;
	} tmp = {.c = {.strength = 0}};
	const uint8_t *start;
	uint8_t *dst = NULL;
	bool was_dry = d->dry;
	uint32_t n = 0;
	int rc;

	if (item_size > sizeof tmp || array_head(d, &n, "an array") != 0 || batch_limit(d, n) != 0)
		return -1;
	if ((uint64_t)n * PD_ITEM_MIN_BYTES > mpr_left(&d->r))
		return pd_fail_read(d, -1);
	if (pd_enter(d) != 0)
		return -1;
	start = d->r.p;
	d->dry = true;
	rc = read_items(d, item, (uint8_t *)&tmp, 0, n);
	d->dry = was_dry;
	if (rc != 0)
		return -1;
	if (n > 0 && !was_dry) {
		if ((dst = pd_alloc(d, (size_t)n * item_size)) == NULL)
			return -1;
		d->r.p = start;
		if (read_items(d, item, dst, item_size, n) != 0)
			return -1;
	}
	pd_leave(d);
	*items = dst;
	*count = n;
	return 0;
}
