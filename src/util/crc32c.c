/* crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82f63b78).
 *
 * Two implementations with one contract: crc32c_extend(crc, p, n) continues
 * a finished CRC (pre- and post-inverted), so extending the CRC of a by b
 * gives the CRC of a||b. On x86-64 CPUs with SSE4.2 (checked at run time) the crc32 instruction
 * does 8 bytes per step; elsewhere a slicing-by-8 table does the same work
 * with eight lookups per 8 bytes. The tables are built and the path chosen
 * once, on first use (pthread_once). The table path loads words with the
 * host byte order and therefore requires a little-endian host, like every
 * on-disk format of the engine.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <stdbool.h>

#include "util/bytes.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_HW 1
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "crc32c.c: the slicing-by-8 path assumes a little-endian host"
#endif

#define CRC32C_POLY 0x82f63b78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_use_hw;

static void crc32c_build_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
		crc_table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static void crc32c_init(void)
{
	crc32c_build_tables();
#ifdef CRC32C_HAVE_HW
	__builtin_cpu_init();
	crc_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw_raw(uint32_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t w = ld64(p) ^ c;

		c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		    crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
		    crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
		    crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	return c;
}

uint32_t crc32c_extend_sw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc32c_init);
	return ~crc32c_sw_raw(~crc, p, n);
}

#ifdef CRC32C_HAVE_HW
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                            size_t n)
{
	uint64_t c = ~crc;

	for (; n > 0 && ((uintptr_t)p & 7) != 0; n--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	for (; n >= 8; n -= 8, p += 8)
		c = _mm_crc32_u64(c, ld64(p));
	for (; n > 0; n--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t crc32c_extend(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc32c_init);
#ifdef CRC32C_HAVE_HW
	if (crc_use_hw)
		return crc32c_hw(crc, p, n);
#endif
	return ~crc32c_sw_raw(~crc, p, n);
}
