/* test_vfilter.c - filtered vector search: metadata, reachability and id
 * set conditions against a brute-force answer computed here, the exact
 * fallback for rare predicates, deletes, and every limit. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define DIM  16
#define N    3000
#define RARE 5 /* concepts with colour "red" */

struct fixture {
	char *dir;
	sutra_db *db;
	float vec[N][DIM];
};

static sutra_id id_of(int i)
{
	sutra_id id;
	char s[32];

	snprintf(s, sizeof s, "vf-%d", i);
	sutra_id_parse(s, strlen(s), &id);
	return id;
}

static const char *colour_of(int i)
{
	return i % (N / RARE) == 7 ? "red" : i % 3 == 0 ? "blue" : "green";
}

static void learn(sutra_db *db, int i, const float *v)
{
	sutra_meta_entry m = {"colour", colour_of(i)};
	sutra_concept_in c = {.id = id_of(i),
	                      .content = "c",
	                      .content_len = 1,
	                      .vector = v,
	                      .vector_dim = DIM,
	                      .strength = 1,
	                      .confidence = 1,
	                      .meta = &m,
	                      .meta_count = 1};

	assert_int_equal(sutra_learn(db, &c, NULL), 0);
}

/* Waits until the background indexer has caught up, so searches use the
 * graph rather than the exact window. */
static void settle(sutra_db *db)
{
	sutra_stats st;

	assert_int_equal(tu_index_ready(db, &st), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	sutra_options o;

	fx->dir = tu_mkdtemp("vfilter");
	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	assert_int_equal(sutra_open(fx->dir, &o, &fx->db), 0);
	uint64_t seed = 42;
	for (int i = 0; i < N; i++) {
		for (int d = 0; d < DIM; d++)
			fx->vec[i][d] = (float)(tu_rand(&seed) % 2001) / 1000.0f - 1.0f;
		learn(fx->db, i, fx->vec[i]);
	}
	/* A chain 0 -> 1 -> ... -> 9 of causal links, and 0 -> 100 semantic. */
	for (int i = 0; i < 9; i++) {
		sutra_id a = id_of(i), b = id_of(i + 1);
		assert_int_equal(sutra_associate(fx->db, &a, &b, SUTRA_ASSOC_CAUSAL, 0.9f, NULL),
		                 0);
	}
	sutra_id a = id_of(0), b = id_of(100);
	assert_int_equal(sutra_associate(fx->db, &a, &b, SUTRA_ASSOC_SEMANTIC, 0.9f, NULL), 0);
	settle(fx->db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(sutra_close(fx->db), 0);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static float cosine(const float *a, const float *b)
{
	double ab = 0, aa = 0, bb = 0;

	for (int d = 0; d < DIM; d++) {
		ab += (double)a[d] * b[d];
		aa += (double)a[d] * a[d];
		bb += (double)b[d] * b[d];
	}
	return (float)(ab / sqrt(aa * bb));
}

/* The brute-force top k among the concepts accept() takes: indexes into
 * best (room for k), best first; returns how many. */
static size_t brute(const struct fixture *fx, const float *q, size_t k, bool (*accept)(int),
                    int *best)
{
	size_t n = 0;
	float sim[N];

	for (int i = 0; i < N; i++)
		sim[i] = cosine(q, fx->vec[i]);
	while (n < k) {
		int arg = -1;
		for (int i = 0; i < N; i++) {
			bool taken = false;
			for (size_t j = 0; j < n && !taken; j++)
				taken = best[j] == i;
			if (!taken && accept(i) && (arg < 0 || sim[i] > sim[arg]))
				arg = i;
		}
		if (arg < 0)
			break;
		best[n++] = arg;
	}
	return n;
}

static int index_of(const sutra_id *id)
{
	for (int i = 0; i < N; i++) {
		sutra_id x = id_of(i);
		if (memcmp(x.b, id->b, 16) == 0)
			return i;
	}
	return -1;
}

static bool is_red(int i)
{
	return strcmp(colour_of(i), "red") == 0;
}

static bool is_blue(int i)
{
	return strcmp(colour_of(i), "blue") == 0;
}

/* Overlap of the search's hits with the brute-force answer. */
static size_t overlap(const sutra_hit *hits, size_t n, const int *best, size_t nb)
{
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < nb; j++)
			same += index_of(&hits[i].id) == best[j];
	return same;
}

static void test_rare_metadata_falls_back_to_exact(void **state)
{
	struct fixture *fx = *state;
	sutra_vector_filter f = {.meta_key = "colour", .meta_value = "red"};
	sutra_hit hits[10];
	int best[10];
	size_t n;

	assert_int_equal(
	    sutra_vector_search_filtered(fx->db, fx->vec[1], DIM, 10, 50, &f, hits, &n), 0);
	size_t nb = brute(fx, fx->vec[1], 10, is_red, best);
	assert_int_equal(nb, RARE);
	assert_int_equal(n, RARE); /* every match, though k asked for more */
	assert_int_equal(overlap(hits, n, best, nb), RARE);
	for (size_t i = 1; i < n; i++)
		assert_true(hits[i - 1].similarity >= hits[i].similarity);
}

static void test_common_metadata_through_the_graph(void **state)
{
	struct fixture *fx = *state;
	sutra_vector_filter f = {.meta_key = "colour", .meta_value = "blue"};
	sutra_hit hits[10];
	int best[10];
	size_t n, found = 0;

	for (int q = 0; q < 20; q++) {
		assert_int_equal(sutra_vector_search_filtered(fx->db, fx->vec[q * 7], DIM, 10, 100,
		                                              &f, hits, &n),
		                 0);
		assert_int_equal(n, 10);
		for (size_t i = 0; i < n; i++)
			assert_true(is_blue(index_of(&hits[i].id)));
		found += overlap(hits, n, best, brute(fx, fx->vec[q * 7], 10, is_blue, best));
	}
	assert_true(found >= 190); /* recall@10 >= 0.95 */
}

static void test_id_set(void **state)
{
	struct fixture *fx = *state;
	sutra_id ids[3] = {id_of(11), id_of(2222), id_of(905)};
	sutra_vector_filter f = {.ids = ids, .id_count = 3};
	sutra_hit hits[10];
	size_t n;

	assert_int_equal(
	    sutra_vector_search_filtered(fx->db, fx->vec[905], DIM, 10, 0, &f, hits, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(index_of(&hits[0].id), 905);
	f.id_count = SUTRA_MAX_FILTER_IDS + 1;
	assert_int_equal(sutra_vector_search_filtered(fx->db, fx->vec[0], DIM, 10, 0, &f, hits, &n),
	                 SUTRA_ETOOBIG);
}

/* Runs a reachability search from concept 0 and returns the hits' indexes
 * as a bit mask over 0..127 (0 when some hit lies outside). */
static uint64_t reach_mask(struct fixture *fx, int type, int dir, uint32_t depth, int *rc)
{
	sutra_id from = id_of(0);
	sutra_vector_filter f = {
	    .reach_from = &from, .reach_type = type, .reach_direction = dir, .reach_depth = depth};
	sutra_hit hits[20];
	size_t n = 0;
	uint64_t mask = 0;

	*rc = sutra_vector_search_filtered(fx->db, fx->vec[0], DIM, 20, 0, &f, hits, &n);
	for (size_t i = 0; i < n; i++) {
		int at = index_of(&hits[i].id);
		mask |= at > 0 && at < 64 ? 1ull << at : at == 100 ? 1 : 0;
	}
	return mask;
}

static void test_reachability(void **state)
{
	struct fixture *fx = *state;
	int rc;

	/* depth 3 along causal links out of 0: 1, 2, 3 (the bound included) */
	assert_int_equal(reach_mask(fx, SUTRA_ASSOC_CAUSAL, SUTRA_DIR_OUT, 3, &rc), 0xe);
	assert_int_equal(rc, 0);
	/* any type adds 100 (bit 0 stands for it) */
	assert_int_equal(reach_mask(fx, SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 1, &rc), 0x3);
	/* nothing points at 0 */
	assert_int_equal(reach_mask(fx, SUTRA_TYPE_ANY, SUTRA_DIR_IN, 20, &rc), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(reach_mask(fx, SUTRA_ASSOC_CAUSAL, SUTRA_DIR_BOTH, 20, &rc), 0x3fe);
	reach_mask(fx, SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 0, &rc);
	assert_int_equal(rc, SUTRA_ETOOBIG);
	reach_mask(fx, SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 21, &rc);
	assert_int_equal(rc, SUTRA_ETOOBIG);
	reach_mask(fx, 9, SUTRA_DIR_OUT, 1, &rc);
	assert_int_equal(rc, SUTRA_EINVAL);
	reach_mask(fx, SUTRA_TYPE_ANY, 0, 1, &rc);
	assert_int_equal(rc, SUTRA_EINVAL);
}

static void test_combined_and_deleted(void **state)
{
	struct fixture *fx = *state;
	sutra_id ids[2] = {id_of(7), id_of(8)}, gone = id_of(8);
	sutra_vector_filter f = {
	    .meta_key = "colour", .meta_value = colour_of(7), .ids = ids, .id_count = 2};
	sutra_hit hits[4];
	size_t n;

	assert_int_equal(sutra_vector_search_filtered(fx->db, fx->vec[8], DIM, 4, 0, &f, hits, &n),
	                 0);
	assert_int_equal(n, strcmp(colour_of(7), colour_of(8)) == 0 ? 2 : 1);
	f.meta_key = NULL;
	assert_int_equal(sutra_delete(fx->db, &gone, NULL), 0);
	assert_int_equal(sutra_vector_search_filtered(fx->db, fx->vec[8], DIM, 4, 0, &f, hits, &n),
	                 0);
	assert_int_equal(n, 1);
	assert_int_equal(index_of(&hits[0].id), 7);
	learn(fx->db, 8, fx->vec[8]); /* restore for the other tests */
	f.meta_key = "colour";
	f.meta_value = NULL;
	assert_int_equal(sutra_vector_search_filtered(fx->db, fx->vec[8], DIM, 4, 0, &f, hits, &n),
	                 SUTRA_EINVAL);
}

/* The other metrics through the store: the index and the exact scan agree
 * on the similarity each reports. */
static void test_metrics(void **state)
{
	for (int metric = SUTRA_METRIC_L2; metric <= SUTRA_METRIC_IP; metric++) {
		char *dir = tu_mkdtemp("vmetric");
		sutra_options o;
		sutra_db *db;
		float v[3][DIM] = {{0}}, q[DIM] = {0};
		sutra_hit hits[3];
		size_t n;

		sutra_options_init(&o);
		o.dimension = DIM;
		o.durability = SUTRA_DURABILITY_NONE;
		o.vector_metric = metric;
		assert_int_equal(sutra_open(dir, &o, &db), 0);
		v[0][0] = 1; /* near q for L2 */
		v[1][0] = 3; /* the largest dot product with q */
		v[2][1] = 1; /* orthogonal */
		for (int i = 0; i < 3; i++)
			learn(db, i, v[i]);
		q[0] = 1.5f;
		settle(db);
		assert_int_equal(sutra_vector_search(db, q, DIM, 3, 10, hits, &n), 0);
		assert_int_equal(n, 3);
		if (metric == SUTRA_METRIC_L2) {
			assert_int_equal(index_of(&hits[0].id), 0);
			assert_float_equal(hits[0].similarity, -0.25f, 1e-5);
			assert_float_equal(hits[2].similarity, -(1.5f * 1.5f + 1), 1e-5);
		} else {
			assert_int_equal(index_of(&hits[0].id), 1);
			assert_float_equal(hits[0].similarity, 4.5f, 1e-5);
			assert_float_equal(hits[2].similarity, 0.0f, 1e-5);
		}
		assert_int_equal(sutra_close(db), 0);
		tu_rmrf(dir);
		free(dir);
	}
	sutra_options o;
	sutra_options_init(&o);
	assert_int_equal(sutra_options_set(&o, "vector_metric", "l2"), 0);
	assert_int_equal(o.vector_metric, SUTRA_METRIC_L2);
	assert_int_equal(sutra_options_set(&o, "vector_metric", "manhattan"), SUTRA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rare_metadata_falls_back_to_exact),
	    cmocka_unit_test(test_common_metadata_through_the_graph),
	    cmocka_unit_test(test_id_set),
	    cmocka_unit_test(test_reachability),
	    cmocka_unit_test(test_combined_and_deleted),
	};

	int failed = cmocka_run_group_tests(tests, setup, teardown);
	const struct CMUnitTest alone[] = {cmocka_unit_test(test_metrics)};
	return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
