/* op.c - encoding and bounds-checked decoding of store operations.
 *
 * See op.h for the byte layout. Encoders trust their (already validated)
 * inputs; op_decode trusts nothing, because it reads WAL and checkpoint
 * bytes that may be torn or damaged.
 */
#include "store/op.h"

#include <math.h>
#include <string.h>

#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

#define HARD_MAX_CONTENT (10u * 1024 * 1024)
#define HARD_MAX_META    (1u * 1024 * 1024)
#define HARD_MAX_DIM     4096u

void opbuf_init(struct opbuf *b)
{
	memset(b, 0, sizeof *b);
}

void opbuf_free(struct opbuf *b)
{
	sutra_free(b->data);
	opbuf_init(b);
}

void opbuf_reset(struct opbuf *b)
{
	b->len = b->data ? OP_BATCH_HEADER : 0;
	b->count = 0;
}

/* Makes room for n more bytes (zeroed); returns where they start. */
static uint8_t *opbuf_room(struct opbuf *b, size_t n)
{
	size_t need;

	if (b->len == 0)
		b->len = OP_BATCH_HEADER;
	if (!add_ok(b->len, n, &need))
		return NULL;
	if (need > b->cap || !b->data) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			if (!mul_ok(ncap, 2, &ncap))
				return NULL;
		uint8_t *p = sutra_aligned_alloc(8, ncap);
		if (!p)
			return NULL;
		if (b->data)
			memcpy(p, b->data, b->len);
		sutra_free(b->data);
		b->data = p;
		b->cap = ncap;
	}
	uint8_t *at = b->data + b->len;
	memset(at, 0, n);
	b->len = need;
	b->count++;
	return at;
}

size_t op_learn_size(size_t content_len, size_t meta_len, uint32_t dim)
{
	size_t n = OP_LEARN_FIXED;

	if (!add_ok(n, (size_t)dim * 4, &n) || !add_ok(n, meta_len, &n) ||
	    !add_ok(n, content_len, &n) || !add_ok(n, 1 + 7, &n))
		return 0;
	return n & ~(size_t)7;
}

void op_learn_encode(uint8_t *d, const uint8_t *id, uint64_t created, uint64_t updated,
                     float strength, float confidence, const float *vec, uint32_t dim,
                     const void *meta, uint32_t meta_len, const void *content, uint32_t content_len)
{
	size_t size = op_learn_size(content_len, meta_len, dim);
	uint8_t *p = d + OP_LEARN_FIXED;

	memset(d, 0, size);
	d[0] = OP_LEARN;
	d[1] = vec ? OP_FLAG_VECTOR : 0;
	st32(d + 4, content_len);
	st32(d + 8, meta_len);
	st32(d + 12, vec ? dim : 0);
	memcpy(d + 16, id, 16);
	st64(d + 32, created);
	st64(d + 40, updated);
	stf32(d + 48, strength);
	stf32(d + 52, confidence);
	if (vec) {
		memcpy(p, vec, (size_t)dim * 4);
		p += (size_t)dim * 4;
	}
	if (meta) /* NULL: the caller encodes the metadata in place */
		memcpy(p, meta, meta_len);
	p += meta_len;
	if (content_len)
		memcpy(p, content, content_len);
}

void op_assoc_encode(uint8_t *d, int kind, const uint8_t *src, const uint8_t *dst_id, unsigned type,
                     float confidence)
{
	memset(d, 0, OP_ASSOC_SIZE);
	d[0] = (uint8_t)kind;
	d[1] = (uint8_t)type;
	stf32(d + 4, kind == OP_ASSOC ? confidence : 0.0f);
	memcpy(d + 8, src, 16);
	memcpy(d + 24, dst_id, 16);
}

int op_meta_size(const sutra_meta_entry *m, size_t n, size_t *size)
{
	size_t total = 4;

	if (n > 0 && !m)
		return err_set(SUTRA_EINVAL, "metadata: %zu entries but no array", n);
	for (size_t i = 0; i < n; i++) {
		if (!m[i].key || !m[i].value)
			return err_set(SUTRA_EINVAL, "metadata entry %zu: NULL key or value", i);
		size_t kl = strlen(m[i].key), vl = strlen(m[i].value);
		if (kl == 0 || kl > OP_MAX_KEY)
			return err_set(SUTRA_EINVAL,
			               "metadata entry %zu: key length %zu (allowed 1..%d)", i, kl,
			               OP_MAX_KEY);
		if (!add_ok(total, 6 + kl + 1 + vl + 1, &total) || total > HARD_MAX_META)
			return err_set(SUTRA_ETOOBIG, "metadata too large (max: %u bytes)",
			               HARD_MAX_META);
	}
	*size = n ? total : 0;
	return 0;
}

void op_meta_encode(uint8_t *d, const sutra_meta_entry *m, size_t n)
{
	st32(d, (uint32_t)n);
	d += 4;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(m[i].key), vl = strlen(m[i].value);
		st16(d, (uint16_t)kl);
		st32(d + 2, (uint32_t)vl);
		memcpy(d + 6, m[i].key, kl + 1);
		memcpy(d + 6 + kl + 1, m[i].value, vl + 1);
		d += 6 + kl + 1 + vl + 1;
	}
}

bool op_meta_valid(const uint8_t *p, size_t len, uint32_t *count)
{
	size_t pos = 4;

	*count = 0;
	if (len == 0)
		return true;
	if (len < 4)
		return false;
	uint32_t n = ld32(p);
	for (uint32_t i = 0; i < n; i++) {
		if (len - pos < 6)
			return false;
		size_t kl = ld16(p + pos), vl = ld32(p + pos + 2);
		if (kl == 0 || kl > OP_MAX_KEY || vl > len || len - pos - 6 < kl + vl + 2)
			return false;
		if (p[pos + 6 + kl] != 0 || p[pos + 6 + kl + 1 + vl] != 0)
			return false;
		pos += 6 + kl + 1 + vl + 1;
	}
	*count = n;
	return pos == len;
}

static int check_scores(float strength, float confidence)
{
	if (!isfinite(strength) || strength < 0)
		return err_set(SUTRA_EINVAL, "strength %g out of range (finite, >= 0)",
		               (double)strength);
	if (!isfinite(confidence) || confidence < 0 || confidence > 1)
		return err_set(SUTRA_EINVAL, "confidence %g out of range (0..1)",
		               (double)confidence);
	return 0;
}

int opbuf_learn(struct opbuf *b, const sutra_concept_in *c)
{
	size_t meta_len = 0, size;
	int rc;

	if (!c || (!c->content && c->content_len))
		return err_set(SUTRA_EINVAL, "learn: missing concept or content");
	if (c->content_len > HARD_MAX_CONTENT)
		return err_set(SUTRA_ETOOBIG, "Content too large: %zu bytes (max: %u)",
		               c->content_len, HARD_MAX_CONTENT);
	if (c->vector && (c->vector_dim == 0 || c->vector_dim > HARD_MAX_DIM))
		return err_set(SUTRA_EINVAL, "vector dimension %u out of range (1..%u)",
		               c->vector_dim, HARD_MAX_DIM);
	if ((rc = check_scores(c->strength, c->confidence)) < 0)
		return rc;
	if ((rc = op_meta_size(c->meta, c->meta_count, &meta_len)) < 0)
		return rc;
	uint32_t dim = c->vector ? c->vector_dim : 0;
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(c->vector[i]))
			return err_set(SUTRA_EINVAL, "vector component %u is not finite", i);
	size = op_learn_size(c->content_len, meta_len, dim);
	uint8_t *d = opbuf_room(b, size);
	if (!d)
		return err_set(SUTRA_ENOMEM, "learn: out of memory for %zu bytes", size);
	op_learn_encode(d, c->id.b, 0, 0, c->strength, c->confidence, c->vector, dim, NULL,
	                (uint32_t)meta_len, c->content, (uint32_t)c->content_len);
	if (meta_len)
		op_meta_encode(d + OP_LEARN_FIXED + (size_t)dim * 4, c->meta, c->meta_count);
	if (c->flags & SUTRA_LEARN_SAME_CONTENT)
		d[1] |= OP_FLAG_SAME_CONTENT;
	return 0;
}

int opbuf_delete(struct opbuf *b, const sutra_id *id)
{
	uint8_t *d = opbuf_room(b, OP_DELETE_SIZE);

	if (!d)
		return err_set(SUTRA_ENOMEM, "delete: out of memory");
	d[0] = OP_DELETE;
	memcpy(d + 8, id->b, 16);
	return 0;
}

int opbuf_assoc(struct opbuf *b, int kind, const sutra_id *src, const sutra_id *dst, unsigned type,
                float confidence)
{
	if (type >= SUTRA_ASSOC_TYPES)
		return err_set(SUTRA_EINVAL, "association type %u out of range (0..%d)", type,
		               SUTRA_ASSOC_TYPES - 1);
	if (kind == OP_ASSOC && (!isfinite(confidence) || confidence < 0 || confidence > 1))
		return err_set(SUTRA_EINVAL, "confidence %g out of range (0..1)",
		               (double)confidence);
	uint8_t *d = opbuf_room(b, OP_ASSOC_SIZE);
	if (!d)
		return err_set(SUTRA_ENOMEM, "associate: out of memory");
	op_assoc_encode(d, kind, src->b, dst->b, type, confidence);
	return 0;
}

const uint8_t *opbuf_finish(struct opbuf *b, size_t *len)
{
	if (!b->data) {
		*len = 0;
		return NULL;
	}
	st32(b->data, b->count);
	st32(b->data + 4, 0);
	*len = b->len;
	return b->data;
}

int op_batch_header(const uint8_t *p, size_t len, uint32_t *count)
{
	if (len < OP_BATCH_HEADER)
		return err_set(SUTRA_ECORRUPT, "batch shorter than its header (%zu bytes)", len);
	*count = ld32(p);
	if (*count > (len - OP_BATCH_HEADER) / OP_DELETE_SIZE)
		return err_set(SUTRA_ECORRUPT, "batch declares %u ops in %zu bytes", *count, len);
	return 0;
}

static int decode_learn(const uint8_t *p, size_t avail, struct op *o)
{
	uint32_t meta_count;

	if (avail < OP_LEARN_FIXED)
		return err_set(SUTRA_ECORRUPT, "learn op truncated");
	o->content_len = ld32(p + 4);
	o->meta_len = ld32(p + 8);
	o->dim = ld32(p + 12);
	if (o->content_len > HARD_MAX_CONTENT || o->meta_len > HARD_MAX_META ||
	    o->dim > HARD_MAX_DIM || ((p[1] & OP_FLAG_VECTOR) != 0) != (o->dim != 0) ||
	    (p[1] & ~(OP_FLAG_VECTOR | OP_FLAG_SAME_CONTENT)) != 0)
		return err_set(SUTRA_ECORRUPT, "learn op with impossible sizes");
	o->size = op_learn_size(o->content_len, o->meta_len, o->dim);
	if (o->size > avail)
		return err_set(SUTRA_ECORRUPT, "learn op of %zu bytes in %zu", o->size, avail);
	o->id = p + 16;
	o->created_us = ld64(p + 32);
	o->updated_us = ld64(p + 40);
	o->strength = ldf32(p + 48);
	o->confidence = ldf32(p + 52);
	o->vec = o->dim ? (const float *)(p + OP_LEARN_FIXED) : NULL;
	o->meta = p + OP_LEARN_FIXED + (size_t)o->dim * 4;
	o->content = (const char *)o->meta + o->meta_len;
	if (o->content[o->content_len] != 0)
		return err_set(SUTRA_ECORRUPT, "learn op content not terminated");
	if (!op_meta_valid(o->meta, o->meta_len, &meta_count))
		return err_set(SUTRA_ECORRUPT, "learn op metadata malformed");
	if (check_scores(o->strength, o->confidence) < 0)
		return err_set(SUTRA_ECORRUPT, "learn op scores out of range");
	for (uint32_t i = 0; i < o->dim; i++)
		if (!isfinite(ldf32(p + OP_LEARN_FIXED + (size_t)i * 4)))
			return err_set(SUTRA_ECORRUPT, "learn op vector component %u is not finite",
			               i);
	return 0;
}

int op_decode(const uint8_t *p, size_t avail, struct op *o)
{
	memset(o, 0, sizeof *o);
	if (avail < 8)
		return err_set(SUTRA_ECORRUPT, "op truncated (%zu bytes)", avail);
	o->raw = p;
	o->kind = p[0];
	o->type = p[1];
	o->flags = p[1];
	switch (o->kind) {
	case OP_LEARN:
		return decode_learn(p, avail, o);
	case OP_DELETE:
		if (avail < OP_DELETE_SIZE)
			return err_set(SUTRA_ECORRUPT, "delete op truncated");
		o->size = OP_DELETE_SIZE;
		o->id = p + 8;
		return 0;
	case OP_ASSOC:
	case OP_DISSOC:
		if (avail < OP_ASSOC_SIZE)
			return err_set(SUTRA_ECORRUPT, "association op truncated");
		o->size = OP_ASSOC_SIZE;
		o->confidence = ldf32(p + 4);
		o->src = p + 8;
		o->dst = p + 24;
		if (o->type >= SUTRA_ASSOC_TYPES || !isfinite(o->confidence) || o->confidence < 0 ||
		    o->confidence > 1)
			return err_set(SUTRA_ECORRUPT,
			               "association op with bad type or confidence");
		return 0;
	default:
		return err_set(SUTRA_ECORRUPT, "unknown op kind %d", o->kind);
	}
}
