/* test_crc32c.c - CRC32C: known vectors, hardware vs table vs bitwise, chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/crc32c.h"

/* Bit-at-a-time reference, independent of both library paths. */
static uint32_t crc_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

static void fill_random(uint8_t *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)tu_rand(&seed);
}

static void test_vectors(void **state)
{
	uint8_t b[32];

	assert_int_equal(crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_extend_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c("", 0), 0);
	/* RFC 3720, appendix B.4 */
	memset(b, 0, sizeof b);
	assert_int_equal(crc32c(b, 32), 0x8a9136aau);
	memset(b, 0xff, sizeof b);
	assert_int_equal(crc32c(b, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc32c(b, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(b, 32), 0x113fdb5cu);
	assert_int_equal(crc32c_extend_sw(0, b, 32), 0x113fdb5cu);
}

/* Every length 0..300 at every start offset 0..7: dispatched == table == bitwise. */
static void test_paths_agree(void **state)
{
	uint8_t buf[320];

	fill_random(buf, sizeof buf, 42);
	for (size_t start = 0; start < 8; start++) {
		for (size_t n = 0; n <= 300; n++) {
			uint32_t want = crc_ref(buf + start, n);

			assert_int_equal(crc32c(buf + start, n), want);
			assert_int_equal(crc32c_extend_sw(0, buf + start, n), want);
		}
	}
}

static void test_chaining(void **state)
{
	uint8_t buf[300];
	uint32_t whole;

	fill_random(buf, sizeof buf, 7);
	whole = crc_ref(buf, sizeof buf);
	for (size_t k = 0; k <= sizeof buf; k++) {
		uint32_t a = crc32c(buf, k);
		uint32_t s = crc32c_extend_sw(0, buf, k);

		assert_int_equal(crc32c_extend(a, buf + k, sizeof buf - k), whole);
		assert_int_equal(crc32c_extend_sw(s, buf + k, sizeof buf - k), whole);
		/* mixing the paths mid-stream must agree as well */
		assert_int_equal(crc32c_extend_sw(a, buf + k, sizeof buf - k), whole);
	}
	/* three pieces */
	assert_int_equal(crc32c_extend(crc32c_extend(crc32c("1234", 4), "56", 2), "789", 3),
	                 0xe3069283u);
}

static void test_large_buffer(void **state)
{
	static uint8_t big[1 << 20];

	fill_random(big, sizeof big, 99);
	assert_int_equal(crc32c(big + 3, sizeof big - 3),
	                 crc32c_extend_sw(0, big + 3, sizeof big - 3));
	assert_int_equal(crc32c(big, sizeof big), crc_ref(big, sizeof big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_paths_agree),
	    cmocka_unit_test(test_chaining),
	    cmocka_unit_test(test_large_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
