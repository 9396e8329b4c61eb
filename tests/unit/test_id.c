/* test_id.c - identifiers: content hashes, shard routes, parsing, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sutra/sutra.h"
#include "testutil.h"
#include "util/siphash.h"

static void parse_str(const char *s, sutra_id *id)
{
	sutra_id_parse(s, strlen(s), id);
}

static void assert_id_hex(const sutra_id *id, const char *want)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(id, hex);
	assert_string_equal(hex, want);
}

static void assert_hash_hex(uint64_t h, const char *want)
{
	char hex[17];

	sutra_content_hash_format(h, hex);
	assert_string_equal(hex, want);
}

static void test_content_hash_vectors(void **state)
{
	const char *eiffel = "The Eiffel Tower is in Paris";
	sutra_id id;

	assert_hash_hex(sutra_content_hash("hello", 5), "e037876b880b8ed9");
	assert_hash_hex(sutra_content_hash(eiffel, strlen(eiffel)), "9e1a612bb9146168");
	assert_hash_hex(sutra_content_hash("", 0), "30406ea523c53def");
	assert_hash_hex(sutra_content_hash(NULL, 0), "30406ea523c53def");
	assert_true(sutra_content_hash("hello", 5) == 0xe037876b880b8ed9ULL);

	sutra_id_from_content("hello", 5, &id);
	assert_id_hex(&id, "e037876b880b8ed90000000000000000");
	sutra_id_from_content(eiffel, strlen(eiffel), &id);
	assert_id_hex(&id, "9e1a612bb91461680000000000000000");
}

/* Rust shard routing: SipHash-1-3 over [16 as u64 LE || 16 id bytes]. */
static uint64_t route_hash(uint8_t fill)
{
	uint8_t buf[24] = {16, 0, 0, 0, 0, 0, 0, 0};

	memset(buf + 8, fill, 16);
	return siphash13(0, 0, buf, sizeof buf);
}

static void test_routing_vectors(void **state)
{
	assert_true(route_hash(0x00) == 0x4c694758cce8bb7eULL);
	assert_true(route_hash(0x01) == 0x2b709a421a729212ULL);
	assert_true(route_hash(0xab) == 0x76022f13a534d248ULL);
}

/* Any split of the stream into updates gives the one-shot hash. */
static void test_siphash_streaming(void **state)
{
	uint8_t buf[200];
	uint64_t seed = 5;

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)tu_rand(&seed);
	for (size_t n = 0; n <= sizeof buf; n++) {
		uint64_t want = siphash13(0, 0, buf, n);

		for (int trial = 0; trial < 8; trial++) {
			siphash13_state s;
			size_t off = 0;

			siphash13_init(&s, 0, 0);
			while (off < n) {
				size_t step = 1 + tu_rand(&seed) % 19;

				if (step > n - off)
					step = n - off;
				siphash13_update(&s, buf + off, step);
				off += step;
			}
			assert_true(siphash13_final(&s) == want);
		}
	}
	/* keys matter */
	assert_true(siphash13(1, 0, buf, 16) != siphash13(0, 0, buf, 16));
}

/* The content hash streams: same as one-shot over a copy with 0xFF appended. */
static void test_content_hash_large(void **state)
{
	size_t n = (10u << 20) + 3;
	uint8_t *buf = malloc(n + 1);
	uint64_t seed = 11;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(tu_rand(&seed) >> 7);
	buf[n] = 0xff;
	assert_true(sutra_content_hash(buf, n) == siphash13(0, 0, buf, n + 1));
	free(buf);
}

static void test_parse_hex(void **state)
{
	sutra_id id, id2;

	parse_str("00112233445566778899aabbccddeeff", &id);
	assert_id_hex(&id, "00112233445566778899aabbccddeeff");
	/* upper case decodes the same */
	parse_str("00112233445566778899AABBCCDDEEFF", &id2);
	assert_memory_equal(&id, &id2, sizeof id);
	parse_str("AbCdEf", &id);
	assert_id_hex(&id, "abcdef00000000000000000000000000");
	/* odd length: a leading '0' */
	parse_str("abc", &id);
	assert_id_hex(&id, "0abc0000000000000000000000000000");
	parse_str("f", &id);
	assert_id_hex(&id, "0f000000000000000000000000000000");
	/* longer than 32 hex characters keeps the first 16 bytes */
	parse_str("00112233445566778899aabbccddeeff0123456789", &id);
	assert_id_hex(&id, "00112233445566778899aabbccddeeff");
	/* odd and long: the leading '0' shifts every nibble */
	parse_str("123456789abcdef0123456789abcdef01", &id);
	assert_id_hex(&id, "0123456789abcdef0123456789abcdef");
	/* a content-derived id parses back to itself */
	parse_str("e037876b880b8ed9", &id);
	sutra_id_from_content("hello", 5, &id2);
	assert_memory_equal(&id, &id2, sizeof id);
}

static void test_parse_empty(void **state)
{
	sutra_id id, zero;

	memset(&id, 0x55, sizeof id);
	memset(&zero, 0, sizeof zero);
	sutra_id_parse("", 0, &id);
	assert_memory_equal(&id, &zero, sizeof id);
	memset(&id, 0x55, sizeof id);
	sutra_id_parse(NULL, 0, &id);
	assert_memory_equal(&id, &zero, sizeof id);
}

/* Non-hex strings are the MD5 of their bytes (digests from md5sum). */
static void test_parse_md5(void **state)
{
	sutra_id id, want;
	char tail[64];

	parse_str("concept_1", &id);
	parse_str("023716496abdca6567dc23155c70207c", &want);
	assert_memory_equal(&id, &want, sizeof id);
	/* odd length: MD5 of the original bytes, not of "0xyz" */
	parse_str("xyz", &id);
	parse_str("d16fb36f0911f878998c136191af705e", &want);
	assert_memory_equal(&id, &want, sizeof id);
	/* a non-hex character beyond the first 32 still makes it MD5 */
	snprintf(tail, sizeof tail, "%s", "00112233445566778899aabbccddeeff00g");
	parse_str(tail, &id);
	parse_str("00112233445566778899aabbccddeeff", &want);
	assert_memory_not_equal(&id, &want, sizeof id);
	/* only len bytes are read: "concept_1" inside a longer buffer */
	sutra_id_parse("concept_1XXXX", 9, &id);
	parse_str("023716496abdca6567dc23155c70207c", &want);
	assert_memory_equal(&id, &want, sizeof id);
	/* an embedded NUL is not hex */
	sutra_id_parse("ab\0cd", 5, &id);
	parse_str("abcd", &want);
	assert_memory_not_equal(&id, &want, sizeof id);
}

static void test_format_round_trip(void **state)
{
	uint64_t seed = 3;

	for (int i = 0; i < 1000; i++) {
		sutra_id id, back;
		char hex[SUTRA_ID_HEX];

		for (int k = 0; k < SUTRA_ID_BYTES; k++)
			id.b[k] = (uint8_t)tu_rand(&seed);
		sutra_id_format(&id, hex);
		assert_int_equal(strlen(hex), 32);
		for (int k = 0; k < 32; k++)
			assert_non_null(strchr("0123456789abcdef", hex[k]));
		sutra_id_parse(hex, 32, &back);
		assert_memory_equal(&id, &back, sizeof id);
	}
	assert_hash_hex(0, "0000000000000000");
	assert_hash_hex(UINT64_MAX, "ffffffffffffffff");
	assert_hash_hex(0x0123456789abcdefULL, "0123456789abcdef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_hash_vectors),
	    cmocka_unit_test(test_routing_vectors),
	    cmocka_unit_test(test_siphash_streaming),
	    cmocka_unit_test(test_content_hash_large),
	    cmocka_unit_test(test_parse_hex),
	    cmocka_unit_test(test_parse_empty),
	    cmocka_unit_test(test_parse_md5),
	    cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
