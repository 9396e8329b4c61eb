/* crc32c.h - CRC32C (Castagnoli), used by every on-disk record.
 *
 * SSE4.2 crc32 instruction when the CPU has it (checked once at run time),
 * a slicing-by-8 table otherwise. crc32c_extend(0, p, n) is the standard
 * CRC32C of p[0..n) ("123456789" -> 0xe3069283).
 */
#ifndef SUTRA_UTIL_CRC32C_H
#define SUTRA_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_extend(uint32_t crc, const void *p, size_t n);
static inline uint32_t crc32c(const void *p, size_t n)
{
	return crc32c_extend(0, p, n);
}
/* The table implementation, exposed so tests can compare both paths. */
uint32_t crc32c_extend_sw(uint32_t crc, const void *p, size_t n);

#endif
