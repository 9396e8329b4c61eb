/* mpread.h - a bounded MessagePack reader over one frame: no allocation, bounded recursion.
 *
 * The reader walks a byte range value head by value head. mpr_next reads a
 * scalar completely, a str/bin/ext together with its bytes (checked to be
 * present) and an array or map header only; every declared count is checked
 * against the bytes left (an array element takes at least one byte, a map
 * entry two) before it is returned, so no caller can size anything by a
 * count the frame cannot hold. Integers are normalised: any non-negative
 * integer is MPK_UINT, a negative one MPK_INT. mpr_skip passes over one
 * whole value with nesting bounded by the caller (its recursion depth is at
 * most that bound). The format is the MessagePack spec's; 0xc1 is invalid.
 */
#ifndef SUTRA_PROTO_MPREAD_H
#define SUTRA_PROTO_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mp_kind {
	MPK_NIL,
	MPK_BOOL,
	MPK_UINT, /* any non-negative integer */
	MPK_INT,  /* a negative integer */
	MPK_FLOAT,
	MPK_STR,
	MPK_BIN,
	MPK_ARRAY,
	MPK_MAP,
	MPK_EXT,
	MPK_INVALID /* 0xc1, or nothing left */
};

struct mpval {
	int kind;      /* enum mp_kind */
	bool is_f32;   /* MPK_FLOAT: encoded as float32 */
	bool b;        /* MPK_BOOL */
	uint64_t u;    /* MPK_UINT */
	int64_t i;     /* MPK_INT */
	double f;      /* MPK_FLOAT */
	const char *s; /* MPK_STR, MPK_BIN, MPK_EXT: the bytes (borrowed from the frame) */
	uint32_t n;    /* their length, or the element/entry count of an array/map */
};

struct mpr {
	const uint8_t *p, *end;
};

/* The kind of the next value from its first byte alone (MPK_INVALID at the end). */
int mpr_peek(const struct mpr *r);
/* Reads the next value head into v. Returns 0, or -1 when the value is
 * truncated, invalid (0xc1) or declares more elements than bytes remain. */
int mpr_next(struct mpr *r, struct mpval *v);
/* Skips one whole value. levels: how many more containers may nest here
 * (0: a container is too deep). Returns 0, -1 (truncated/invalid) or -2
 * (too deep). Recurses at most levels deep. */
int mpr_skip(struct mpr *r, uint32_t levels);
/* Bytes left after the cursor. */
static inline size_t mpr_left(const struct mpr *r)
{
	return (size_t)(r->end - r->p);
}

#endif
