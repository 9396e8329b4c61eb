/* encode.c - response building: the growable mpbuf, both response forms, MessagePack writers.
 *
 * Responses are written straight into one growable buffer. Writers never
 * fail: when growing the buffer fails they set b->oom and every later write
 * is a no-op, so a handler checks once at the end. Integers take the
 * smallest MessagePack encoding, f32 fields are always float32 ('ca') and
 * f64 float64 ('cb'), strings use fixstr/str8/16/32 as rmp-serde does. The
 * response form is chosen per call: compact (payload = array of fields in
 * declared order, the Rust server's bytes) or named (payload = map by field
 * name); a unit variant is its bare name in both. Hand-written (a few lines
 * each) rather than msgpuck's mp_encode_*, so the library links without
 * msgpuck's out-of-line symbols and a writer can never overrun the buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"
#include "util/alloc.h"

void mpbuf_init(struct mpbuf *b)
{
	memset(b, 0, sizeof *b);
}

void mpbuf_free(struct mpbuf *b)
{
	sutra_free(b->p);
	memset(b, 0, sizeof *b);
}

void mpbuf_reset(struct mpbuf *b)
{
	b->len = 0;
	b->oom = false;
}

/* Room for n more bytes; false (and oom) when it cannot be had. */
static bool reserve(struct mpbuf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->oom)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = sutra_realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put_bytes(struct mpbuf *b, const void *p, size_t n)
{
	if (n > 0 && reserve(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

/* A head byte followed by an n-byte big-endian value. */
static void put_head(struct mpbuf *b, uint8_t head, uint64_t v, unsigned n)
{
	uint8_t tmp[9];

	tmp[0] = head;
	for (unsigned i = 0; i < n; i++)
		tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put_bytes(b, tmp, 1 + n);
}

void mp_put_nil(struct mpbuf *b)
{
	put_head(b, 0xc0, 0, 0);
}

void mp_put_bool(struct mpbuf *b, bool v)
{
	put_head(b, v ? 0xc3 : 0xc2, 0, 0);
}

void mp_put_uint(struct mpbuf *b, uint64_t v)
{
	if (v <= 0x7f)
		put_head(b, (uint8_t)v, 0, 0);
	else if (v <= UINT8_MAX)
		put_head(b, 0xcc, v, 1);
	else if (v <= UINT16_MAX)
		put_head(b, 0xcd, v, 2);
	else if (v <= UINT32_MAX)
		put_head(b, 0xce, v, 4);
	else
		put_head(b, 0xcf, v, 8);
}

void mp_put_int(struct mpbuf *b, int64_t v)
{
	if (v >= 0)
		mp_put_uint(b, (uint64_t)v);
	else if (v >= -32)
		put_head(b, (uint8_t)(int8_t)v, 0, 0);
	else if (v >= INT8_MIN)
		put_head(b, 0xd0, (uint64_t)v, 1);
	else if (v >= INT16_MIN)
		put_head(b, 0xd1, (uint64_t)v, 2);
	else if (v >= INT32_MIN)
		put_head(b, 0xd2, (uint64_t)v, 4);
	else
		put_head(b, 0xd3, (uint64_t)v, 8);
}

void mp_put_f32(struct mpbuf *b, float v)
{
	uint32_t bits;

	memcpy(&bits, &v, sizeof bits);
	put_head(b, 0xca, bits, 4);
}

void mp_put_f64(struct mpbuf *b, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof bits);
	put_head(b, 0xcb, bits, 8);
}

/* A str head for n bytes. */
static void put_str_head(struct mpbuf *b, size_t n)
{
	if (n <= 31)
		put_head(b, (uint8_t)(0xa0 | n), 0, 0);
	else if (n <= UINT8_MAX)
		put_head(b, 0xd9, n, 1);
	else if (n <= UINT16_MAX)
		put_head(b, 0xda, n, 2);
	else if (n <= UINT32_MAX)
		put_head(b, 0xdb, n, 4);
	else
		b->oom = true; /* not representable: never produce a broken value */
}

void mp_put_str(struct mpbuf *b, const char *s, size_t n)
{
	put_str_head(b, n);
	if (!b->oom)
		put_bytes(b, s, n);
}

void mp_put_cstr(struct mpbuf *b, const char *s)
{
	mp_put_str(b, s, strlen(s));
}

void mp_put_array(struct mpbuf *b, uint32_t n)
{
	if (n <= 15)
		put_head(b, (uint8_t)(0x90 | n), 0, 0);
	else if (n <= UINT16_MAX)
		put_head(b, 0xdc, n, 2);
	else
		put_head(b, 0xdd, n, 4);
}

void mp_put_map(struct mpbuf *b, uint32_t n)
{
	if (n <= 15)
		put_head(b, (uint8_t)(0x80 | n), 0, 0);
	else if (n <= UINT16_MAX)
		put_head(b, 0xde, n, 2);
	else
		put_head(b, 0xdf, n, 4);
}

/* ---- responses ----------------------------------------------------------- */

void rb_begin(struct mpbuf *b, int enc, const char *variant, uint32_t nfields)
{
	if (nfields == 0) {
		mp_put_cstr(b, variant);
		return;
	}
	mp_put_map(b, 1);
	mp_put_cstr(b, variant);
	if (enc == ENC_NAMED)
		mp_put_map(b, nfields);
	else
		mp_put_array(b, nfields);
}

void rb_key(struct mpbuf *b, int enc, const char *field)
{
	if (enc == ENC_NAMED)
		mp_put_cstr(b, field);
}

void rb_error(struct mpbuf *b, int enc, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the analyzer misses va_start */
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	rb_begin(b, enc, "Error", 1);
	rb_key(b, enc, "message");
	if ((size_t)n < sizeof small) {
		mp_put_str(b, small, (size_t)n);
		return;
	}
	/* A long message is formatted a second time, straight into the buffer. */
	put_str_head(b, (size_t)n);
	if (!reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
