/* mpread.c - the bounded MessagePack reader (see mpread.h).
 *
 * Hand-written rather than msgpuck's mp_decode_*: those trust the buffer
 * (the caller must mp_check first, and mp_check has no nesting bound), while
 * the decoder needs one pass that checks every length and count against the
 * frame's end as it goes. Each head is one switch on the first byte; all
 * multi-byte numbers are big-endian.
 */
#include "proto/mpread.h"

#include <string.h>

static uint64_t load_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Sign-extends an n-byte big-endian integer. */
static int64_t load_be_signed(const uint8_t *p, unsigned n)
{
	uint64_t v = load_be(p, n);
	unsigned shift = 64 - 8 * n;

	if (shift == 0)
		return (int64_t)v;
	if (v >> (8 * n - 1))
		v |= ~0ULL << (8 * n);
	return (int64_t)v;
}

int mpr_peek(const struct mpr *r)
{
	uint8_t c;

	if (r->p >= r->end)
		return MPK_INVALID;
	c = r->p[0];
	if (c <= 0x7f || c >= 0xe0)
		return c <= 0x7f ? MPK_UINT : MPK_INT;
	if (c <= 0x8f)
		return MPK_MAP;
	if (c <= 0x9f)
		return MPK_ARRAY;
	if (c <= 0xbf || (c >= 0xd9 && c <= 0xdb))
		return MPK_STR;
	switch (c) {
	case 0xc0:
		return MPK_NIL;
	case 0xc2:
	case 0xc3:
		return MPK_BOOL;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return MPK_BIN;
	case 0xca:
	case 0xcb:
		return MPK_FLOAT;
	case 0xdc:
	case 0xdd:
		return MPK_ARRAY;
	case 0xde:
	case 0xdf:
		return MPK_MAP;
	case 0xc1:
		return MPK_INVALID;
	default:
		if (c >= 0xcc && c <= 0xd3) /* the sign is only known after reading */
			return c <= 0xcf ? MPK_UINT : MPK_INT;
		return MPK_EXT;
	}
}

/* An integer of n bytes after the head byte. */
static int read_int(struct mpr *r, struct mpval *v, unsigned n, bool is_signed)
{
	if (mpr_left(r) < 1 + (size_t)n)
		return -1;
	if (is_signed) {
		int64_t x = load_be_signed(r->p + 1, n);
		v->kind = x < 0 ? MPK_INT : MPK_UINT;
		v->i = x;
		v->u = x < 0 ? 0 : (uint64_t)x;
	} else {
		v->kind = MPK_UINT;
		v->u = load_be(r->p + 1, n);
	}
	r->p += 1 + n;
	return 0;
}

static int read_float(struct mpr *r, struct mpval *v, unsigned n)
{
	uint64_t bits;

	if (mpr_left(r) < 1 + (size_t)n)
		return -1;
	bits = load_be(r->p + 1, n);
	v->kind = MPK_FLOAT;
	v->is_f32 = n == 4;
	if (n == 4) {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof f);
		v->f = f;
	} else {
		memcpy(&v->f, &bits, sizeof v->f);
	}
	r->p += 1 + n;
	return 0;
}

/* A str/bin/ext: head byte, lenbytes of length, skip extra bytes (the ext
 * type), then the data. len_fixed >= 0 gives the length without length bytes. */
static int read_bytes(struct mpr *r, struct mpval *v, int kind, unsigned lenbytes, unsigned extra,
                      int64_t len_fixed)
{
	size_t hdr = 1 + lenbytes + extra;
	uint64_t len;

	if (mpr_left(r) < hdr)
		return -1;
	len = len_fixed >= 0 ? (uint64_t)len_fixed : load_be(r->p + 1, lenbytes);
	if (len > mpr_left(r) - hdr)
		return -1;
	v->kind = kind;
	v->s = (const char *)r->p + hdr;
	v->n = (uint32_t)len;
	r->p += hdr + len;
	return 0;
}

/* An array/map header whose count takes lenbytes (0: in the head byte). */
static int read_container(struct mpr *r, struct mpval *v, int kind, unsigned lenbytes)
{
	uint64_t count, min_bytes;

	if (mpr_left(r) < 1 + (size_t)lenbytes)
		return -1;
	count = lenbytes ? load_be(r->p + 1, lenbytes) : (uint64_t)(r->p[0] & 0x0f);
	r->p += 1 + lenbytes;
	min_bytes = kind == MPK_MAP ? 2 * count : count;
	if (min_bytes > mpr_left(r))
		return -1;
	v->kind = kind;
	v->n = (uint32_t)count;
	return 0;
}

/* Heads 0xc0..0xdf. */
static int next_tagged(struct mpr *r, struct mpval *v, uint8_t c)
{
	static const unsigned width[4] = {1, 2, 4, 8};

	if (c >= 0xcc && c <= 0xd3)
		return read_int(r, v, width[(c - 0xcc) & 3], c >= 0xd0);
	if (c >= 0xd4 && c <= 0xd8)
		return read_bytes(r, v, MPK_EXT, 0, 1, (int64_t)1 << (c - 0xd4));
	switch (c) {
	case 0xc0:
		v->kind = MPK_NIL;
		r->p++;
		return 0;
	case 0xc2:
	case 0xc3:
		v->kind = MPK_BOOL;
		v->b = c == 0xc3;
		r->p++;
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return read_bytes(r, v, MPK_BIN, 1u << (c - 0xc4), 0, -1);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		return read_bytes(r, v, MPK_EXT, 1u << (c - 0xc7), 1, -1);
	case 0xca:
	case 0xcb:
		return read_float(r, v, c == 0xca ? 4 : 8);
	case 0xd9:
	case 0xda:
	case 0xdb:
		return read_bytes(r, v, MPK_STR, 1u << (c - 0xd9), 0, -1);
	case 0xdc:
	case 0xdd:
		return read_container(r, v, MPK_ARRAY, c == 0xdc ? 2 : 4);
	case 0xde:
	case 0xdf:
		return read_container(r, v, MPK_MAP, c == 0xde ? 2 : 4);
	default: /* 0xc1 */
		return -1;
	}
}

int mpr_next(struct mpr *r, struct mpval *v)
{
	uint8_t c;

	memset(v, 0, sizeof *v);
	if (r->p >= r->end)
		return -1;
	c = r->p[0];
	if (c <= 0x7f || c >= 0xe0) {
		v->kind = c <= 0x7f ? MPK_UINT : MPK_INT;
		v->u = c <= 0x7f ? c : 0;
		v->i = c <= 0x7f ? (int64_t)c : (int64_t)c - 256;
		r->p++;
		return 0;
	}
	if (c <= 0x8f)
		return read_container(r, v, MPK_MAP, 0);
	if (c <= 0x9f)
		return read_container(r, v, MPK_ARRAY, 0);
	if (c <= 0xbf)
		return read_bytes(r, v, MPK_STR, 0, 0, c & 0x1f);
	return next_tagged(r, v, c);
}

int mpr_skip(struct mpr *r, uint32_t levels)
{
	struct mpval v;
	uint64_t items;

	if (mpr_next(r, &v) != 0)
		return -1;
	if (v.kind != MPK_ARRAY && v.kind != MPK_MAP)
		return 0;
	if (levels == 0)
		return -2;
	items = v.kind == MPK_MAP ? 2 * (uint64_t)v.n : v.n;
	for (uint64_t i = 0; i < items; i++) {
		int rc = mpr_skip(r, levels - 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}
