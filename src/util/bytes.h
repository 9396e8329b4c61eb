/* bytes.h - little-endian loads/stores and overflow-checked size arithmetic.
 *
 * Every on-disk format is little-endian; these are the only helpers that
 * encode or decode integers, so endianness and alignment are handled once.
 */
#ifndef SUTRA_UTIL_BYTES_H
#define SUTRA_UTIL_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t ld16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline uint32_t ld32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline uint64_t ld64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline float ldf32(const void *p)
{
	float v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline void st16(void *p, uint16_t v)
{
	memcpy(p, &v, sizeof v);
}
static inline void st32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}
static inline void st64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}
static inline void stf32(void *p, float v)
{
	memcpy(p, &v, sizeof v);
}

/* a + b into *out; false on overflow. */
static inline bool add_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}
static inline bool mul_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

#endif
