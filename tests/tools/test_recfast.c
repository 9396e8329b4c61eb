/* test_recfast.c - the fast record parser (tools/jsonl/recfast.c) against
 * the reference, rec_parse (jansson): whenever the fast parser takes a line,
 * rec_parse must take it too and make the same record, byte for byte (ids,
 * floats by their bits, strings with their NULs, metadata in order, cost).
 *
 * Three sources of lines: a corpus of tricky ones (escapes, surrogates,
 * UTF-8 edge cases, number edge cases, limits, structure errors), random
 * records built to be valid most of the time, and random mutations of
 * those (flipped, inserted, deleted bytes). Each under four sets of limits.
 * So that the comparison cannot pass by declining everything, lines marked
 * FAST must be taken, and the fast parser must take most random records.
 * recfast_id is compared with sutra_id_parse on random text and hex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonl/arena.h"
#include "jsonl/recfast.h"
#include "jsonl/record.h"

static const struct rec_limits limit_sets[] = {
    {.dimension = 4, .max_content = 10u << 20, .max_meta_bytes = 65536},
    {.dimension = 4, .max_content = 100, .max_meta_bytes = 64},
    {.max_meta_entries = 256},
    {.dimension = 3, .max_content = 10, .max_meta_entries = 2},
};
#define N_LIMITS (sizeof limit_sets / sizeof limit_sets[0])

struct stats {
	unsigned long lines, taken, declined, ref_ok;
};

static void assert_same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_same_record(const struct rec *f, const struct rec *r)
{
	assert_int_equal(f->kind, r->kind);
	assert_memory_equal(&f->id, &r->id, sizeof f->id);
	assert_string_equal(f->id_hex, r->id_hex);
	assert_same_str(f->id_text, r->id_text);
	assert_int_equal(f->content_len, r->content_len);
	if (f->content_len)
		assert_memory_equal(f->content, r->content, f->content_len);
	assert_same_str(f->content, r->content);
	assert_int_equal(f->dim, r->dim);
	assert_int_equal(f->vector == NULL, r->vector == NULL);
	if (f->dim)
		assert_memory_equal(f->vector, r->vector, f->dim * sizeof(float));
	assert_memory_equal(&f->strength, &r->strength, sizeof(float));
	assert_memory_equal(&f->confidence, &r->confidence, sizeof(float));
	assert_int_equal(f->meta_count, r->meta_count);
	assert_int_equal(f->meta == NULL, r->meta == NULL);
	for (size_t i = 0; i < f->meta_count; i++) {
		assert_string_equal(f->meta[i].key, r->meta[i].key);
		assert_string_equal(f->meta[i].value, r->meta[i].value);
	}
	assert_int_equal(f->meta_bytes, r->meta_bytes);
	assert_memory_equal(&f->source, &r->source, sizeof f->source);
	assert_memory_equal(&f->target, &r->target, sizeof f->target);
	assert_string_equal(f->source_hex, r->source_hex);
	assert_string_equal(f->target_hex, r->target_hex);
	assert_same_str(f->source_text, r->source_text);
	assert_same_str(f->target_text, r->target_text);
	assert_int_equal(f->type, r->type);
	assert_int_equal(f->cost, r->cost);
	assert_null(f->root);
	assert_null(f->owner);
}

/* Parses with both; returns whether the fast parser took the line. */
static bool compare_line(struct recfast *rf, struct arena *a, const char *line, size_t len,
                         const struct rec_limits *lim, struct stats *st)
{
	struct rec fast, ref;
	char err[512];

	arena_reset(a);
	int fr = recfast_parse(rf, line, len, lim, a, &fast);
	int rr = rec_parse(line, len, lim, &ref, err, sizeof err);
	st->lines++;
	st->ref_ok += rr >= 0;
	if (fr == RECFAST_DECLINE) {
		st->declined++;
	} else {
		st->taken++;
		if (rr != fr)
			fail_msg("fast %d, reference %d (%s) for: %.*s", fr, rr, rr < 0 ? err : "",
			         (int)len, line);
		if (fr == RECFAST_OK)
			assert_same_record(&fast, &ref);
	}
	if (rr == 0)
		rec_free(&ref);
	return fr != RECFAST_DECLINE;
}

/* ---- the corpus -------------------------------------------------------- */

struct line {
	const char *s;
	size_t n;
	bool fast; /* must be taken under limit_sets[0] */
};
#define L(s)                                                                                       \
	{                                                                                          \
		s, sizeof(s) - 1, false                                                            \
	}
#define FAST(s)                                                                                    \
	{                                                                                          \
		s, sizeof(s) - 1, true                                                             \
	}

static const struct line corpus[] = {
    FAST("{\"id\":\"wn30:n:00001740\",\"content\":\"entity: that which is perceived\","
         "\"metadata\":{\"pos\":\"n\",\"lexfile\":\"noun.Tops\",\"lemmas\":\"entity\"}}"),
    FAST("{\"source\":\"wn30:n:00001930\",\"target\":\"wn30:n:00001740\",\"type\":"
         "\"hierarchical\",\"confidence\":1}"),
    FAST("{\"id\": \"paris\", \"content\": \"Paris is the capital of France\", \"vector\": "
         "[0.1, 0.2, 0.3, 0.4], \"strength\": 1.0, \"confidence\": 0.9, \"metadata\": "
         "{\"lang\": \"en\"}}"),
    FAST("  {\"id\":\"a\"}  \r"),
    FAST("\t{ \"id\" : \"a\" , \"content\" : \"b\" }"),
    FAST("{\"id\":\"a\",\"content\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),
    FAST("{\"id\":\"a\",\"content\":\"\\u00e9\\u4e2d\\ud83d\\ude00\\uD83D\\uDE00\"}"),
    FAST("{\"id\":\"a\",\"content\":\"x\\u0000y\"}"),
    FAST("{\"id\":\"a\\u0000b\"}"),
    FAST("{\"id\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\",\"content\":\"\x7f\"}"),
    FAST("{\"id\":\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"}"),
    FAST("{\"id\":\"a\",\"content\":null,\"vector\":null,\"strength\":null,\"confidence\":"
         "null,\"metadata\":null}"),
    FAST("{\"id\":\"a\",\"metadata\":{}}"),
    FAST("{\"id\":\"a\",\"vector\":[0,-0,1,-1]}"),
    FAST("{\"id\":\"a\",\"vector\":[0.0,-0.0,1e0,1E+2]}"),
    FAST("{\"id\":\"a\",\"vector\":[3.4028234e38,-3.4028234e38,1e-46,4.9e-324]}"),
    FAST("{\"id\":\"a\",\"vector\":[0.1234567890123456789012345,2.2250738585072011e-308,"
         "123456789012345678,-123456789012345678]}"),
    FAST("{\"id\":\"a\",\"vector\":[1e-400,0.30000000000000004441,1.5e22,1.5e23]}"),
    FAST("{\"id\":\"a\",\"vector\":[ 1 , 2 ,3,\t4 ]}"),
    /* 17 digits: (double)m would round before the scaling, and the float
     * differs from strtod's (found by search near float midpoints) */
    FAST("{\"id\":\"a\",\"vector\":[20733910999999998e-9,15929816500000001e-9,"
         "15474354552832001e-3,0]}"),
    FAST("{\"id\":\"a\",\"strength\":-1e-50}"),
    FAST("{\"id\":\"a\",\"confidence\":1.00000001}"),
    FAST("{\"id\":\"a\",\"strength\":0,\"confidence\":0}"),
    FAST("{\"id\":\"a\",\"strength\":3.4e38}"),
    FAST("{\"source\":\"a\",\"target\":\"b\"}"),
    FAST("{\"target\":\"b\",\"source\":\"a\",\"type\":null,\"confidence\":null}"),
    FAST("{\"source\":\"a\",\"target\":\"b\",\"type\":0}"),
    FAST("{\"source\":\"a\",\"target\":\"b\",\"type\":-0}"),
    FAST("{\"source\":\"a\",\"target\":\"b\",\"type\":4}"),
    FAST("{\"source\":\"a\",\"target\":\"b\",\"type\":\"compositional\"}"),
    FAST("{\"source\":\"0c1\",\"target\":\"0123456789abcdef0123456789ABCDEF\"}"),
    FAST("{\"source\":\"0123456789abcdef0123456789abcdef01\",\"target\":\"c\"}"),
    FAST("{\"id\":\"a\",\"metadata\":{\"k\":\"\",\"k2\":\"\\u00e9\",\"\\u00e9\":\"v\"}}"),
    FAST("{\"metadata\":{\"b\":\"1\",\"a\":\"2\"},\"id\":\"z\"}"),
    L(""),
    L("   \t\r"),
    L(" \n"),
    L("{}"),
    L("[]"),
    L("[1, 2]"),
    L("\"id\""),
    L("1"),
    L("null"),
    L("{\"id\":\"a\",}"),
    L("{\"id\":\"a\" \"content\":\"b\"}"),
    L("{\"id\":\"a\"}x"),
    L("{\"id\":\"a\"}{\"id\":\"b\"}"),
    L("{\"id\":\"a\""),
    L("{\"id\":\"a"),
    L("{\"id\":\"a\\"),
    L("{\"id\":\"a\\\"}"),
    L("{\"id\":\"a\",\"id\":\"b\"}"),
    L("{\"\\u0069d\":\"a\"}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":\"1\",\"k\":\"2\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":\"1\",\"\\u006b\":\"2\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"\":\"v\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\\u0000\":\"v\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":\"v\\u0000\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":1}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":{\"x\":\"y\"}}}"),
    L("{\"id\":\"a\",\"metadata\":[\"k\"]}"),
    L("{\"id\":\"a\",\"metadata\":\"k\"}"),
    L("{\"id\":\"a\",\"content\":\"\\ud83d\"}"),
    L("{\"id\":\"a\",\"content\":\"\\ud83d\\u0041\"}"),
    L("{\"id\":\"a\",\"content\":\"\\ude00\"}"),
    L("{\"id\":\"a\",\"content\":\"\\u12\"}"),
    L("{\"id\":\"a\",\"content\":\"\\u12g4\"}"),
    L("{\"id\":\"a\",\"content\":\"\\x\"}"),
    L("{\"id\":\"a\",\"content\":\"\\'\"}"),
    L("{\"id\":\"a\",\"content\":\"\xc0\xaf\"}"),
    L("{\"id\":\"a\",\"content\":\"\xed\xa0\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xf4\x90\x80\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xe0\x80\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xf0\x80\x80\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xe0\x9f\xbf\"}"),
    L("{\"id\":\"a\",\"content\":\"\xf0\x8f\xbf\xbf\"}"),
    L("{\"id\":\"a\",\"content\":\"\xdf\"}"),
    FAST("{\"id\":\"a\",\"content\":\"\xe0\xa0\x80\xf0\x90\x80\x80\xc2\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xe4\xb8\"}"),
    L("{\"id\":\"a\",\"content\":\"\x80\"}"),
    L("{\"id\":\"a\",\"content\":\"\xff\"}"),
    L("{\"id\":\"a\",\"content\":\"\x01\"}"),
    L("{\"id\":\"a\",\"content\":\"\t\"}"),
    L("{\"id\":\"a\",\"content\":\"a\0b\"}"),
    L("{\"id\":\"a\"}\0"),
    L("\xef\xbb\xbf{\"id\":\"a\"}"),
    L("{\"id\":\"a\",\"content\":\"\xe9\"}"),
    L("{\"id\":\"\xc3\xa9\"\xc3\xa9}"),
    L("{\"id\":\"a\",\"vector\":[.5,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[01,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[1.,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[1e,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[-,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[+1,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[1e39,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[3.4028235e38,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[1e400,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[1234567890123456789,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[99999999999999999999,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[NaN,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[Infinity,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[0x10,0,0,0]}"),
    L("{\"id\":\"a\",\"vector\":[]}"),
    L("{\"id\":\"a\",\"vector\":[1,2,3]}"),
    L("{\"id\":\"a\",\"vector\":[1,2,3,4,5]}"),
    L("{\"id\":\"a\",\"vector\":[1,2,\"3\",4]}"),
    L("{\"id\":\"a\",\"vector\":[1,,2,3]}"),
    L("{\"id\":\"a\",\"vector\":[1,2,3,4,]}"),
    L("{\"id\":\"a\",\"vector\":[1,2,3,4}"),
    L("{\"id\":\"a\",\"vector\":[[1],2,3,4]}"),
    L("{\"id\":\"a\",\"vector\":\"x\"}"),
    L("{\"id\":\"a\",\"vector\":true}"),
    L("{\"id\":\"a\",\"strength\":-1}"),
    L("{\"id\":\"a\",\"strength\":\"1\"}"),
    L("{\"id\":\"a\",\"confidence\":1.5}"),
    L("{\"id\":\"a\",\"confidence\":1.00000006}"),
    L("{\"id\":\"a\",\"confidence\":-0.0}"),
    L("{\"id\":\"a\",\"confidence\":true}"),
    L("{\"id\":\"a\",\"confidence\":nul}"),
    L("{\"id\":\"a\",\"confidence\":nullx}"),
    L("{\"id\":\"a\",\"content\":7}"),
    L("{\"id\":\"\"}"),
    L("{\"id\":12}"),
    L("{\"id\":null}"),
    L("{\"id\":\"a\",\"confidance\":1}"),
    L("{\"id\":\"a\",\"source\":\"b\"}"),
    L("{\"id\":\"a\",\"type\":1}"),
    L("{\"source\":\"a\"}"),
    L("{\"target\":\"a\"}"),
    L("{\"source\":\"a\",\"target\":\"\"}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"content\":\"c\"}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"weight\":1}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":5}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":-1}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":1.0}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":1e0}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":\"Causal\"}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":\"parent\"}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":\"semantic\\u0000x\"}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"type\":true}"),
    L("{\"source\":\"a\",\"target\":\"b\",\"confidence\":2}"),
    L("{\"name\":\"a\"}"),
    L("{\"id\":\"a\",\"content\":true}"),
    L("{\"id\":\"a\",\"content\":\"01234567890\"}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":\"" /* 64 bytes encoded under limit set 1 */
      "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}}"),
    L("{\"id\":\"a\",\"metadata\":{\"k\":\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}"
      "}"),
    L("{\"id\":\"a\",\"metadata\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}"),
};

static void test_corpus(void **state)
{
	struct recfast rf;
	struct arena a;
	struct stats st = {0};

	(void)state;
	assert_int_equal(recfast_init(&rf), 0);
	arena_init(&a);
	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
		for (size_t k = 0; k < N_LIMITS; k++) {
			bool took =
			    compare_line(&rf, &a, corpus[i].s, corpus[i].n, &limit_sets[k], &st);
			if (k == 0 && corpus[i].fast && !took)
				fail_msg("the fast parser declined line %zu: %s", i, corpus[i].s);
		}
	arena_free(&a);
	recfast_free(&rf);
}

/* Metadata keys of 255 and 256 bytes, 64 and 65 entries. */
static void test_metadata_edges(void **state)
{
	struct recfast rf;
	struct arena a;
	struct stats st = {0};
	char line[4096];

	(void)state;
	assert_int_equal(recfast_init(&rf), 0);
	arena_init(&a);
	for (int kl = 254; kl <= 256; kl++) {
		int n = snprintf(
		    line, sizeof line, "{\"id\":\"a\",\"metadata\":{\"%.*s\":\"v\"}}", kl,
		    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
		bool took = compare_line(&rf, &a, line, (size_t)n, &limit_sets[0], &st);
		assert_true(took == (kl <= 255));
	}
	for (int entries = 63; entries <= 66; entries++) {
		size_t n = (size_t)snprintf(line, sizeof line, "{\"id\":\"a\",\"metadata\":{");
		for (int e = 0; e < entries; e++)
			n += (size_t)snprintf(line + n, sizeof line - n, "%s\"k%d\":\"v\"",
			                      e ? "," : "", e);
		n += (size_t)snprintf(line + n, sizeof line - n, "}}");
		for (size_t k = 0; k < N_LIMITS; k++)
			compare_line(&rf, &a, line, n, &limit_sets[k], &st);
		bool took = compare_line(&rf, &a, line, n, &limit_sets[0], &st);
		assert_true(took == (entries <= 64));
	}
	arena_free(&a);
	recfast_free(&rf);
}

/* ---- random records ---------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct buf {
	char s[8192];
	size_t n;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->n + n < sizeof b->s) {
		memcpy(b->s + b->n, s, n);
		b->n += n;
	}
}

static void ws(struct buf *b)
{
	static const char *const w[] = {"", "", "", " ", "\t", " \r ", "  "};

	put(b, w[rnd(7)]);
}

/* A JSON string, valid but for a rare mistake (rare: 1 in `rare`). */
static void gen_string(struct buf *b, unsigned rare)
{
	static const char *const pieces[] = {"a",
	                                     "Z",
	                                     "0",
	                                     "f",
	                                     " ",
	                                     "~",
	                                     "\\\"",
	                                     "\\\\",
	                                     "\\/",
	                                     "\\b",
	                                     "\\f",
	                                     "\\n",
	                                     "\\r",
	                                     "\\t",
	                                     "\\u00e9",
	                                     "\\u4E2D",
	                                     "\\u0041",
	                                     "\\ud83d\\ude00",
	                                     "\xc3\xa9",
	                                     "\xe4\xb8\xad",
	                                     "\xf0\x9f\x98\x80",
	                                     "\x7f",
	                                     "wn30:",
	                                     ":"};
	static const char *const bad[] = {"\\u0000",      "\\ud83d", "\\ude00", "\x01", "\xc0\xaf",
	                                  "\xed\xa0\x80", "\\x",     "\\u12",   "\xff"};
	unsigned n = rnd(12);

	put(b, "\"");
	for (unsigned i = 0; i < n; i++) {
		if (rare && rnd(rare) == 0)
			put(b, bad[rnd(sizeof bad / sizeof bad[0])]);
		else
			put(b, pieces[rnd(sizeof pieces / sizeof pieces[0])]);
	}
	put(b, "\"");
}

static void gen_digits(struct buf *b, unsigned n, bool lead_nonzero)
{
	char d[2] = {0, 0};

	for (unsigned i = 0; i < n; i++) {
		d[0] = (char)('0' + (i == 0 && lead_nonzero ? 1 + rnd(9) : rnd(10)));
		put(b, d);
	}
}

/* A JSON number of any shape (occasionally not JSON at all). */
static void gen_number(struct buf *b, unsigned rare)
{
	char e[16];

	if (rare && rnd(rare) == 0) {
		static const char *const bad[] = {".5",
		                                  "01",
		                                  "1.",
		                                  "1e",
		                                  "-",
		                                  "+1",
		                                  "1e400",
		                                  "NaN",
		                                  "0x1",
		                                  "1e39",
		                                  "99999999999999999999"};
		put(b, bad[rnd(sizeof bad / sizeof bad[0])]);
		return;
	}
	if (rnd(3) == 0)
		put(b, "-");
	unsigned int_digits = rnd(4) == 0 ? 1 + rnd(22) : 1 + rnd(3);
	if (rnd(4) == 0)
		put(b, "0");
	else
		gen_digits(b, int_digits, true);
	if (rnd(2)) {
		put(b, ".");
		gen_digits(b, 1 + (rnd(3) == 0 ? rnd(25) : rnd(8)), false);
	}
	if (rnd(4) == 0) {
		static const char *const es[] = {"e", "E", "e+", "e-", "E-"};
		put(b, es[rnd(5)]);
		snprintf(e, sizeof e, "%u", rnd(3) == 0 ? rnd(330) : rnd(40));
		put(b, e);
	}
}

static void gen_value(struct buf *b, const char *key, unsigned rare)
{
	if (rare && rnd(rare) == 0) { /* the wrong kind of value */
		static const char *const any[] = {"null", "true",  "false", "{}",
		                                  "[]",   "\"x\"", "7"};
		put(b, any[rnd(7)]);
		return;
	}
	if (strcmp(key, "id") == 0 || strcmp(key, "source") == 0 || strcmp(key, "target") == 0 ||
	    strcmp(key, "content") == 0) {
		gen_string(b, rare);
	} else if (strcmp(key, "vector") == 0) {
		unsigned n = rnd(8) == 0 ? rnd(6) : 4;
		put(b, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(b, ","), ws(b);
			gen_number(b, rare);
		}
		put(b, "]");
	} else if (strcmp(key, "metadata") == 0) {
		unsigned n = rnd(5);
		put(b, "{");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put(b, ","), ws(b);
			gen_string(b, rare);
			ws(b), put(b, ":"), ws(b);
			gen_string(b, rare);
		}
		put(b, "}");
	} else if (strcmp(key, "type") == 0) {
		static const char *const t[] = {"0",
		                                "1",
		                                "2",
		                                "3",
		                                "4",
		                                "\"semantic\"",
		                                "\"causal\"",
		                                "\"temporal\"",
		                                "\"hierarchical\"",
		                                "\"compositional\""};
		put(b, t[rnd(10)]);
	} else {
		if (rnd(2))
			put(b, rnd(2) ? "0." : "1");
		else
			gen_number(b, rare);
	}
}

static void gen_record(struct buf *b, unsigned rare)
{
	static const char *const concept[] = {"id",       "content",    "vector",
	                                      "strength", "confidence", "metadata"};
	static const char *const assoc[] = {"source", "target", "type", "confidence"};
	bool is_concept = rnd(2);
	const char *const *keys = is_concept ? concept : assoc;
	size_t n = is_concept ? 6 : 4;
	const char *order[8];
	size_t m = 0;

	/* the required keys, then a random subset of the others, shuffled */
	for (size_t i = 0; i < n; i++)
		if (i < (is_concept ? 1u : 2u) || rnd(2))
			order[m++] = keys[i];
	if (rare && rnd(rare) == 0)
		order[m++] = rnd(2) ? "id" : "weight"; /* a duplicate or an unknown key */
	for (size_t i = m; i > 1; i--) {
		size_t j = rnd((uint32_t)i);
		const char *t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	b->n = 0;
	ws(b);
	put(b, "{");
	for (size_t i = 0; i < m; i++) {
		if (i)
			put(b, ",");
		ws(b);
		put(b, "\""), put(b, order[i]), put(b, "\"");
		ws(b), put(b, ":"), ws(b);
		if (rnd(12) == 0 && strcmp(order[i], "id") != 0)
			put(b, "null");
		else
			gen_value(b, order[i], rare);
		ws(b);
	}
	put(b, "}");
	ws(b);
}

static void mutate(struct buf *b)
{
	static const char bytes[] = "{}[]\":,\\u0e.-+ \x80\xc3\x01\t";
	unsigned edits = 1 + rnd(3);

	for (unsigned e = 0; e < edits && b->n > 0 && b->n + 1 < sizeof b->s; e++) {
		size_t at = rnd((uint32_t)b->n);
		char c = rnd(2) ? bytes[rnd(sizeof bytes - 1)] : (char)rnd(256);
		switch (rnd(3)) {
		case 0:
			b->s[at] = c;
			break;
		case 1:
			memmove(b->s + at + 1, b->s + at, b->n - at);
			b->s[at] = c;
			b->n++;
			break;
		default:
			memmove(b->s + at, b->s + at + 1, b->n - at - 1);
			b->n--;
		}
	}
}

static void test_random_records(void **state)
{
	struct recfast rf;
	struct arena a;
	struct stats clean = {0}, rare = {0}, mutated = {0};
	struct buf b;

	(void)state;
	assert_int_equal(recfast_init(&rf), 0);
	arena_init(&a);
	for (int i = 0; i < 40000; i++) {
		const struct rec_limits *lim = &limit_sets[rnd(N_LIMITS)];
		gen_record(&b, 0);
		compare_line(&rf, &a, b.s, b.n, &limit_sets[2], &clean);
		gen_record(&b, 12);
		compare_line(&rf, &a, b.s, b.n, lim, &rare);
		mutate(&b);
		compare_line(&rf, &a, b.s, b.n, lim, &mutated);
	}
	print_message("clean: %lu lines, %lu taken by the fast parser, %lu accepted by jansson\n",
	              clean.lines, clean.taken, clean.ref_ok);
	print_message("with rare mistakes: %lu lines, %lu taken, %lu accepted\n", rare.lines,
	              rare.taken, rare.ref_ok);
	print_message("mutated: %lu lines, %lu taken, %lu accepted\n", mutated.lines, mutated.taken,
	              mutated.ref_ok);
	/* the comparison has teeth: most valid records go through the fast path,
	 * and so do some of the mistaken and mutated ones (then as rejections
	 * only if both agree: a blank line) or as accepted ones */
	assert_true(clean.taken * 10 >= clean.ref_ok * 8);
	assert_true(rare.taken > 0 && mutated.taken > 0);
	arena_free(&a);
	recfast_free(&rf);
}

/* recfast_id is sutra_id_parse with a reusable MD5 context: strings drawn
 * again and again from a pool (the context is reused for the same text and
 * for others), hex and text, short and long. */
static void test_ids(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEFxyz:-\xc3\xa9";
	enum { POOL = 9000 };
	static char pool[POOL][72];
	static size_t pool_len[POOL];
	struct recfast rf;

	(void)state;
	assert_int_equal(recfast_init(&rf), 0);
	for (int i = 0; i < POOL; i++) {
		size_t n = rnd(70);
		bool hex = rnd(3) == 0;
		for (size_t k = 0; k < n; k++)
			pool[i][k] = alphabet[rnd(hex ? 22 : sizeof alphabet - 1)];
		pool_len[i] = n;
	}
	for (int i = 0; i < 60000; i++) {
		int k = (int)(rnd(4) ? rnd(300) : rnd(POOL));
		sutra_id want, got;
		sutra_id_parse(pool[k], pool_len[k], &want);
		recfast_id(&rf, pool[k], pool_len[k], &got);
		assert_memory_equal(&want, &got, sizeof want);
	}
	recfast_free(&rf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_metadata_edges),
	    cmocka_unit_test(test_random_records),
	    cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
