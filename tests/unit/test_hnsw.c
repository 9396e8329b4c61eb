/* test_hnsw.c - the HNSW index against exact search: recall, exactness at
 * large ef, tombstones, filters, metrics, and searches during inserts. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "vector/distance.h"
#include "vector/hnsw.h"

#define DIM 32
#define N   4000
#define Q   100
#define K   10

static float *random_vectors(size_t n, uint64_t seed)
{
	float *v = malloc(n * DIM * sizeof *v);

	for (size_t i = 0; i < n * DIM; i++)
		v[i] = (float)((double)(tu_rand(&seed) >> 11) / 9007199254740992.0) - 0.5f;
	return v;
}

static struct hnsw *build(const float *data, size_t n, int metric)
{
	struct hnsw_config cfg = {
	    .dim = DIM, .M = 16, .ef_construction = 200, .metric = metric, .seed = 7};
	struct hnsw *h;
	uint8_t key[16] = {0};
	uint32_t slot;

	assert_int_equal(hnsw_new(&cfg, &h), 0);
	for (size_t i = 0; i < n; i++) {
		memcpy(key, &i, sizeof i);
		assert_int_equal(hnsw_add(h, key, data + i * DIM, &slot), 0);
		assert_int_equal(slot, i);
	}
	return h;
}

/* Exact top-k slots by the index's own distance. */
static void exact(struct hnsw *h, const float *q, size_t n, uint32_t *best, uint32_t k)
{
	float *d = malloc(n * sizeof *d);

	for (size_t i = 0; i < n; i++)
		d[i] =
		    hnsw_is_deleted(h, (uint32_t)i) ? INFINITY : hnsw_distance(h, q, (uint32_t)i);
	for (uint32_t j = 0; j < k; j++) {
		size_t m = 0;
		for (size_t i = 1; i < n; i++)
			if (d[i] < d[m])
				m = i;
		best[j] = (uint32_t)m;
		d[m] = INFINITY;
	}
	free(d);
}

static double recall(struct hnsw *h, const float *queries, uint32_t ef)
{
	struct hnsw_hit hits[K];
	uint32_t truth[K];
	size_t n, found = 0;

	for (int q = 0; q < Q; q++) {
		const float *qv = queries + (size_t)q * DIM;
		exact(h, qv, N, truth, K);
		assert_int_equal(hnsw_search(h, qv, K, ef, NULL, NULL, hits, &n), 0);
		assert_int_equal(n, K);
		for (size_t i = 0; i < n; i++)
			for (int j = 0; j < K; j++)
				found += hits[i].slot == truth[j];
	}
	return (double)found / (Q * K);
}

static void test_kernels_agree(void **state)
{
	float *v = random_vectors(2, 3);
	const struct dist_kernels *k = distance_kernels(), *s = distance_scalar();

	for (uint32_t d = 1; d <= DIM; d++) {
		assert_true(fabsf(k->dot(v, v + DIM, d) - s->dot(v, v + DIM, d)) < 1e-4f);
		assert_true(fabsf(k->l2sq(v, v + DIM, d) - s->l2sq(v, v + DIM, d)) < 1e-4f);
	}
	free(v);
}

static void test_recall_cosine_and_l2(void **state)
{
	float *data = random_vectors(N, 1), *queries = random_vectors(Q, 2);

	for (int metric = HNSW_COSINE; metric <= HNSW_L2; metric++) {
		struct hnsw *h = build(data, N, metric);
		double r = recall(h, queries, 64);
		print_message("metric %d: recall@10 at ef 64 = %.3f\n", metric, r);
		assert_true(r >= 0.95);
		assert_true(recall(h, queries, N) == 1.0); /* ef >= N: exact */
		hnsw_free(h);
	}
	free(data);
	free(queries);
}

struct bulk_src {
	const float *data;
	_Atomic int calls;
};

static bool bulk_get(void *ctx, size_t i, uint8_t key[16], float *vec)
{
	struct bulk_src *b = ctx;

	memset(key, 0, 16);
	memcpy(key, &i, sizeof i);
	memcpy(vec, b->data + i * DIM, DIM * sizeof *vec);
	atomic_fetch_add(&b->calls, 1);
	return true;
}

/* Four threads insert at once: every vector lands once, under its key, and
 * the graph is as good as a sequential build. */
static void test_bulk_build_on_threads(void **state)
{
	float *data = random_vectors(N, 1), *queries = random_vectors(Q, 2);
	struct hnsw_config cfg = {
	    .dim = DIM, .M = 16, .ef_construction = 200, .metric = HNSW_COSINE, .seed = 7};
	struct bulk_src src = {.data = data};
	struct hnsw *h;
	static char seen[N];

	assert_int_equal(hnsw_new(&cfg, &h), 0);
	assert_int_equal(hnsw_add_bulk(h, N, 4, bulk_get, &src), 0);
	assert_int_equal(hnsw_count(h), N);
	assert_int_equal(atomic_load(&src.calls), N);
	for (uint32_t s = 0; s < N; s++) {
		size_t i;
		memcpy(&i, hnsw_key(h, s), sizeof i);
		if (i >= N)
			fail_msg("slot %u holds key %zu", s, i);
		else
			assert_false(seen[i]++);
		assert_true(hnsw_holds(h, s, data + i * DIM));
	}
	double r = recall(h, queries, 64);
	print_message("bulk, 4 threads: recall@10 at ef 64 = %.3f\n", r);
	assert_true(r >= 0.95);
	hnsw_free(h);
	free(data);
	free(queries);
}

static bool even_only(void *ctx, uint32_t slot)
{
	return slot % 2 == 0;
}

static void test_deleted_and_filtered(void **state)
{
	float *data = random_vectors(N, 4);
	struct hnsw *h = build(data, N, HNSW_COSINE);
	struct hnsw_hit hits[K];
	size_t n;

	/* cosine ignores the query's length: a scaled copy of a stored vector
	 * is at distance 0 from it */
	float scaled[DIM];
	for (int d = 0; d < DIM; d++)
		scaled[d] = 3.0f * data[DIM + d];
	assert_int_equal(hnsw_search(h, scaled, 1, 50, NULL, NULL, hits, &n), 0);
	assert_int_equal(hits[0].slot, 1);
	assert_true(fabsf(hits[0].distance) < 1e-5f);
	for (uint32_t i = 0; i < N; i += 3)
		hnsw_delete(h, i);
	for (int q = 0; q < 50; q++) {
		assert_int_equal(
		    hnsw_search(h, data + (size_t)q * DIM, K, 100, NULL, NULL, hits, &n), 0);
		assert_int_equal(n, K);
		for (size_t i = 0; i < n; i++)
			assert_true(hits[i].slot % 3 != 0);
		assert_int_equal(
		    hnsw_search(h, data + (size_t)q * DIM, K, 100, even_only, NULL, hits, &n), 0);
		assert_int_equal(n, K);
		for (size_t i = 0; i < n; i++)
			assert_true(hits[i].slot % 2 == 0 && hits[i].slot % 3 != 0);
	}
	hnsw_free(h);
	free(data);
}

struct race {
	struct hnsw *h;
	const float *data;
	_Atomic int stop;
	_Atomic long searches; /* shared by the searcher threads */
};

static void *searcher(void *arg)
{
	struct race *r = arg;
	struct hnsw_hit hits[K];
	size_t n;

	while (!atomic_load(&r->stop)) {
		uint32_t c = hnsw_count(r->h);
		if (c == 0)
			continue;
		assert_int_equal(
		    hnsw_search(r->h, r->data + (size_t)(atomic_load(&r->searches) % c) * DIM, K,
		                50, NULL, NULL, hits, &n),
		    0);
		for (size_t i = 0; i < n; i++)
			assert_true(hits[i].slot < hnsw_count(r->h));
		atomic_fetch_add(&r->searches, 1);
	}
	return NULL;
}

static void test_search_while_adding(void **state)
{
	float *data = random_vectors(N, 5);
	struct hnsw_config cfg = {.dim = DIM, .M = 8, .ef_construction = 50, .metric = HNSW_COSINE};
	struct race r = {.data = data};
	pthread_t t[2];
	uint8_t key[16] = {0};
	uint32_t slot;

	assert_int_equal(hnsw_new(&cfg, &r.h), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, searcher, &r);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(hnsw_add(r.h, key, data + i * DIM, &slot), 0);
	atomic_store(&r.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&r.searches) > 0);
	hnsw_free(r.h);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kernels_agree),
	    cmocka_unit_test(test_recall_cosine_and_l2),
	    cmocka_unit_test(test_bulk_build_on_threads),
	    cmocka_unit_test(test_deleted_and_filtered),
	    cmocka_unit_test(test_search_while_adding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
