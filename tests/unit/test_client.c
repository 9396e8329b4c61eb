/* test_client.c - the C client: reply decoding on the protocol's fixture
 * bytes (SEED-PROTOCOL.md), hostile replies, request bytes, and framing over
 * a socketpair (pipelined replies split at every byte boundary).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client.h"

/* Fixtures: the Rust server's compact replies. */
static const uint8_t learn_ok[] = {0x81, 0xae, 'L', 'e', 'a', 'r', 'n', 'C',  'o',
                                   'n',  'c',  'e', 'p', 't', 'O', 'k', 0x91, 0x05};
static const uint8_t query_ok[] = {0x81, 0xae, 'Q',  'u',  'e',  'r',  'y',  'C',  'o',
                                   'n',  'c',  'e',  'p',  't',  'O',  'k',  0x95, 0xc3,
                                   0xa2, 'a',  'b',  0xa1, 'x',  0xca, 0x3f, 0x80, 0x00,
                                   0x00, 0xca, 0x3f, 0x00, 0x00, 0x00};
static const uint8_t search_ok[] = {0x81, 0xae, 'V', 'e', 'c',  't',  'o',  'r',  'S',
                                    'e',  'a',  'r', 'c', 'h',  'O',  'k',  0x91, 0x91,
                                    0x92, 0xa2, 'a', 'b', 0xca, 0x3f, 0x00, 0x00, 0x00};
static const uint8_t flush_ok[] = {0xa7, 'F', 'l', 'u', 's', 'h', 'O', 'k'};
static const uint8_t error_m[] = {0x81, 0xa5, 'E', 'r', 'r', 'o', 'r', 0x91, 0xa1, 'm'};

static int parse(struct sc_reply *r, const uint8_t *p, size_t n)
{
	char err[128];

	return sc_reply_parse(r, p, n, err, sizeof err);
}

static void test_fixture_learn_ok(void **state)
{
	struct sc_reply r;
	uint64_t seq = 0;

	sc_reply_init(&r);
	assert_int_equal(parse(&r, learn_ok, sizeof learn_ok), 0);
	assert_int_equal(r.kind, SC_R_LEARN_CONCEPT_OK);
	assert_false(r.named);
	assert_int_equal(sc_field_u64(&r, "sequence", &seq), 0);
	assert_int_equal(seq, 5);
	assert_null(sc_field(&r, "nope"));
	sc_reply_free(&r);
}

static void test_fixture_query_ok(void **state)
{
	struct sc_reply r;
	const char *s;
	uint32_t n;
	bool found = false;
	double strength = 0, confidence = 0;

	sc_reply_init(&r);
	assert_int_equal(parse(&r, query_ok, sizeof query_ok), 0);
	assert_int_equal(r.kind, SC_R_QUERY_CONCEPT_OK);
	assert_int_equal(sc_field_bool(&r, "found", &found), 0);
	assert_true(found);
	assert_int_equal(sc_field_str(&r, "concept_id", &s, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(s, "ab", 2);
	assert_true(sc_val_streq(sc_field(&r, "content"), "x"));
	assert_int_equal(sc_field_f64(&r, "strength", &strength), 0);
	assert_int_equal(sc_field_f64(&r, "confidence", &confidence), 0);
	assert_true(strength == 1.0 && confidence == 0.5);
	assert_int_equal(sc_field_u64(&r, "found", &(uint64_t){0}), SC_EPROTO);
	sc_reply_free(&r);
}

static void test_fixture_vector_search_ok(void **state)
{
	struct sc_reply r;
	const struct sc_val *results, *hit;
	double sim = 0;

	sc_reply_init(&r);
	assert_int_equal(parse(&r, search_ok, sizeof search_ok), 0);
	assert_int_equal(r.kind, SC_R_VECTOR_SEARCH_OK);
	results = sc_field(&r, "results");
	assert_int_equal(sc_val_len(results), 1);
	hit = sc_val_at(results, 0);
	assert_true(sc_val_streq(sc_val_at(hit, 0), "ab"));
	assert_true(sc_val_f64(sc_val_at(hit, 1), &sim));
	assert_true(sim == 0.5);
	assert_null(sc_val_at(hit, 2));
	sc_reply_free(&r);
}

static void test_fixture_flush_and_error(void **state)
{
	struct sc_reply r;

	sc_reply_init(&r);
	assert_int_equal(parse(&r, flush_ok, sizeof flush_ok), 0);
	assert_int_equal(r.kind, SC_R_FLUSH_OK);
	assert_null(r.payload);
	assert_int_equal(parse(&r, error_m, sizeof error_m), SC_ESERVER);
	assert_int_equal(r.kind, SC_R_ERROR);
	assert_string_equal(r.message, "m");
	/* the reply is reusable after an error */
	assert_int_equal(parse(&r, learn_ok, sizeof learn_ok), 0);
	assert_null(r.message);
	sc_reply_free(&r);
}

static void test_named_and_index_forms(void **state)
{
	/* {"LearnConceptOk": {"sequence": 7}}, {2: [9]}, {"Error": {"message": "bad"}} */
	static const uint8_t named[] = {0x81, 0xae, 'L', 'e', 'a', 'r', 'n', 'C',  'o',
	                                'n',  'c',  'e', 'p', 't', 'O', 'k', 0x81, 0xa8,
	                                's',  'e',  'q', 'u', 'e', 'n', 'c', 'e',  0x07};
	static const uint8_t indexed[] = {0x81, 0x02, 0x91, 0x09};
	static const uint8_t named_err[] = {0x81, 0xa5, 'E', 'r', 'r', 'o', 'r',  0x81, 0xa7, 'm',
	                                    'e',  's',  's', 'a', 'g', 'e', 0xa3, 'b',  'a',  'd'};
	static const uint8_t unit_map[] = {0x81, 0xa7, 'F', 'l', 'u', 's', 'h', 'O', 'k', 0xc0};
	struct sc_reply r;
	uint64_t v = 0;

	sc_reply_init(&r);
	assert_int_equal(parse(&r, named, sizeof named), 0);
	assert_true(r.named);
	assert_int_equal(sc_field_u64(&r, "sequence", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse(&r, indexed, sizeof indexed), 0);
	assert_int_equal(r.kind, SC_R_LEARN_CONCEPT_OK);
	assert_int_equal(sc_field_u64(&r, "sequence", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(parse(&r, named_err, sizeof named_err), SC_ESERVER);
	assert_string_equal(r.message, "bad");
	assert_int_equal(parse(&r, unit_map, sizeof unit_map), 0);
	assert_int_equal(r.kind, SC_R_FLUSH_OK);
	sc_reply_free(&r);
}

/* Every strict prefix of every fixture is refused, never read past. */
static void test_truncated_fixtures(void **state)
{
	const struct {
		const uint8_t *p;
		size_t n;
	} fx[] = {{learn_ok, sizeof learn_ok},
	          {query_ok, sizeof query_ok},
	          {search_ok, sizeof search_ok},
	          {flush_ok, sizeof flush_ok},
	          {error_m, sizeof error_m}};
	struct sc_reply r;

	sc_reply_init(&r);
	for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
		for (size_t n = 0; n < fx[i].n; n++) {
			uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
			memcpy(copy, fx[i].p, n);
			assert_int_equal(parse(&r, copy, n), SC_EPROTO);
			free(copy);
		}
	}
	sc_reply_free(&r);
}

static void test_hostile_replies(void **state)
{
	static const uint8_t huge_array[] = {0x81, 0xa7, 'F',  'l',  'u',  's',  'h',
	                                     'O',  'k',  0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t huge_str[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
	static const uint8_t huge_map[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t two_entries[] = {0x82, 0xa1, 'a', 0xc0, 0xa1, 'b', 0xc0};
	static const uint8_t unknown[] = {0xa4, 'N', 'o', 'p', 'e'};
	static const uint8_t bad_index[] = {0x81, 0x11, 0x90};
	static const uint8_t invalid_tag[] = {0xc1};
	static const uint8_t scalar_payload[] = {0x81, 0xa5, 'E', 'r', 'r', 'o', 'r', 0x05};
	const struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {{huge_array, sizeof huge_array},   {huge_str, sizeof huge_str},
	           {huge_map, sizeof huge_map},       {two_entries, sizeof two_entries},
	           {unknown, sizeof unknown},         {bad_index, sizeof bad_index},
	           {invalid_tag, sizeof invalid_tag}, {scalar_payload, sizeof scalar_payload}};
	struct sc_reply r;
	uint8_t deep[200];

	sc_reply_init(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(&r, bad[i].p, bad[i].n), SC_EPROTO);
	/* {"FlushOk": [[[[...]]]]} nested past SC_MAX_DEPTH */
	memcpy(deep, flush_ok, sizeof flush_ok);
	deep[0] = 0x81;
	memcpy(deep + 1, flush_ok, sizeof flush_ok);
	memset(deep + 1 + sizeof flush_ok, 0x91, sizeof deep - 2 - sizeof flush_ok);
	deep[sizeof deep - 1] = 0x00;
	assert_int_equal(parse(&r, deep, sizeof deep), SC_EPROTO);
	sc_reply_free(&r);
}

/* ---- requests ------------------------------------------------------------------------ */

static void assert_frame(const struct sc_conn *c, const uint8_t *want, size_t n)
{
	assert_int_equal(c->out.len, 4 + n);
	assert_int_equal(c->out.p[0] << 24 | c->out.p[1] << 16 | c->out.p[2] << 8 | c->out.p[3], n);
	assert_memory_equal(c->out.p + 4, want, n);
}

static void test_request_forms(void **state)
{
	static const uint8_t map_form[] = {0x81, 0xac, 'Q', 'u', 'e',  'r',  'y',  'C', 'o', 'n',
	                                   'c',  'e',  'p', 't', 0x81, 0xaa, 'c',  'o', 'n', 'c',
	                                   'e',  'p',  't', '_', 'i',  'd',  0xa2, 'a', 'b'};
	static const uint8_t array_index[] = {0x81, 0x04, 0x91, 0xa2, 'a', 'b'};
	static const uint8_t unit_bare[] = {0xab, 'H', 'e', 'a', 'l', 't',
	                                    'h',  'C', 'h', 'e', 'c', 'k'};
	static const uint8_t unit_index_map[] = {0x81, 0x0f, 0xc0};
	struct sc_conn c;

	sc_init(&c);
	assert_int_equal(sc_req_query_concept(&c, "ab"), 0);
	assert_frame(&c, map_form, sizeof map_form);
	sc_discard(&c);
	sc_set_form(&c, SC_FORM_ARRAY | SC_FORM_INDEX);
	assert_int_equal(sc_req_query_concept(&c, "ab"), 0);
	assert_frame(&c, array_index, sizeof array_index);
	sc_discard(&c);
	sc_set_form(&c, 0);
	assert_int_equal(sc_req_health_check(&c), 0);
	assert_frame(&c, unit_bare, sizeof unit_bare);
	sc_discard(&c);
	sc_set_form(&c, SC_FORM_INDEX | SC_FORM_UNIT_MAP);
	assert_int_equal(sc_req_health_check(&c), 0);
	assert_frame(&c, unit_index_map, sizeof unit_index_map);
	sc_close(&c);
}

static void test_learn_concept_array_bytes(void **state)
{
	/* {"LearnConcept": ["ab", "x", [], 1.0f, 0.5f]} */
	static const uint8_t want[] = {0x81, 0xac, 'L',  'e',  'a',  'r',  'n',  'C',
	                               'o',  'n',  'c',  'e',  'p',  't',  0x95, 0xa2,
	                               'a',  'b',  0xa1, 'x',  0x90, 0xca, 0x3f, 0x80,
	                               0x00, 0x00, 0xca, 0x3f, 0x00, 0x00, 0x00};
	struct sc_conn c;

	sc_init(&c);
	sc_set_form(&c, SC_FORM_ARRAY);
	assert_int_equal(sc_req_learn_concept(&c, "ab", "x", 1, NULL, 0, 1.0f, 0.5f), 0);
	assert_frame(&c, want, sizeof want);
	sc_close(&c);
}

/* ---- framing over a socketpair ----------------------------------------------------------- */

static void test_pipelined_replies_split_anywhere(void **state)
{
	uint8_t stream[256];
	size_t len = 0;
	const uint8_t *fx[] = {learn_ok, flush_ok, error_m, query_ok};
	const size_t fxn[] = {sizeof learn_ok, sizeof flush_ok, sizeof error_m, sizeof query_ok};
	const int want[] = {0, 0, SC_ESERVER, 0};

	for (int i = 0; i < 4; i++) {
		stream[len++] = 0, stream[len++] = 0, stream[len++] = 0;
		stream[len++] = (uint8_t)fxn[i];
		memcpy(stream + len, fx[i], fxn[i]);
		len += fxn[i];
	}
	for (size_t cut = 1; cut < len; cut++) {
		struct sc_conn c;
		struct sc_reply r;
		size_t end = 0;
		int sv[2], i = 0;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		sc_init(&c);
		sc_reply_init(&r);
		c.fd = sv[0], c.timeout_ms = 2000;
		/* the replies wholly inside the first piece, then the rest */
		assert_int_equal(write(sv[1], stream, cut), (ssize_t)cut);
		for (; i < 4 && (end += 4 + fxn[i]) <= cut; i++)
			assert_int_equal(sc_recv(&c, &r), want[i]);
		assert_int_equal(write(sv[1], stream + cut, len - cut), (ssize_t)(len - cut));
		for (; i < 4; i++)
			assert_int_equal(sc_recv(&c, &r), want[i]);
		assert_int_equal(r.kind, SC_R_QUERY_CONCEPT_OK);
		close(sv[1]);
		assert_int_equal(sc_recv(&c, &r), SC_ECLOSED);
		sc_reply_free(&r);
		sc_close(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixture_learn_ok),
	    cmocka_unit_test(test_fixture_query_ok),
	    cmocka_unit_test(test_fixture_vector_search_ok),
	    cmocka_unit_test(test_fixture_flush_and_error),
	    cmocka_unit_test(test_named_and_index_forms),
	    cmocka_unit_test(test_truncated_fixtures),
	    cmocka_unit_test(test_hostile_replies),
	    cmocka_unit_test(test_request_forms),
	    cmocka_unit_test(test_learn_concept_array_bytes),
	    cmocka_unit_test(test_pipelined_replies_split_anywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
