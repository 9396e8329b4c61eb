/* test_hnsw_file.c - the vector index file: a saved and reopened graph
 * answers exactly as the original did, keeps growing after it is mapped,
 * saves again; damage anywhere is refused, by the open or by the
 * verification, including a file whose checksums are right but whose
 * links are not. */
#include <math.h>
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
#include "vector/hnsw.h"
#include "vector/hnsw_impl.h"

#define DIM 16
#define N   20000 /* more than one 16,384-slot chunk */
#define Q   40
#define K   10

static const struct hnsw_config cfg = {
    .dim = DIM, .M = 8, .ef_construction = 40, .metric = HNSW_COSINE, .seed = 3};

static float vecs[N + 200][DIM];

static void fill(uint64_t seed)
{
	for (size_t i = 0; i < N + 200; i++)
		for (int d = 0; d < DIM; d++)
			vecs[i][d] = (float)(tu_rand(&seed) % 2001) / 1000.0f - 1.0f;
}

static void add_range(struct hnsw *h, size_t from, size_t to)
{
	uint8_t key[16] = {0};
	uint32_t slot;

	for (size_t i = from; i < to; i++) {
		memcpy(key, &i, sizeof i);
		assert_int_equal(hnsw_add(h, key, vecs[i], &slot), 0);
	}
}

static void same_answers(struct hnsw *a, struct hnsw *b)
{
	struct hnsw_hit x[K], y[K];
	size_t nx, ny;

	assert_int_equal(hnsw_count(a), hnsw_count(b));
	for (int q = 0; q < Q; q++) {
		assert_int_equal(hnsw_search(a, vecs[q * 97], K, 50, NULL, NULL, x, &nx), 0);
		assert_int_equal(hnsw_search(b, vecs[q * 97], K, 50, NULL, NULL, y, &ny), 0);
		assert_int_equal(nx, ny);
		assert_memory_equal(x, y, nx * sizeof *x);
		for (size_t i = 0; i < nx; i++)
			assert_memory_equal(hnsw_key(a, x[i].slot), hnsw_key(b, y[i].slot), 16);
	}
}

static struct hnsw *reopen(const char *path)
{
	struct hnsw *h;
	struct hnsw_file_meta m;

	assert_int_equal(hnsw_open_file(path, &cfg, &h, &m), 0);
	assert_int_equal(m.covered_lsn, 41);
	assert_int_equal(m.graph_lsn, 42);
	assert_int_equal(hnsw_verify(h, path), 0);
	return h;
}

static void test_round_trip_and_growth(void **state)
{
	char *dir = tu_mkdtemp("hnswfile"), *p1 = tu_path(dir, "a.hnsw"),
	     *p2 = tu_path(dir, "b.hnsw");
	struct hnsw_file_meta m = {.covered_lsn = 41, .graph_lsn = 42};
	struct hnsw *orig;

	fill(11);
	assert_int_equal(hnsw_new(&cfg, &orig), 0);
	add_range(orig, 0, N);
	for (uint32_t s = 0; s < N; s += 13)
		hnsw_delete(orig, s);
	assert_int_equal(hnsw_save(orig, dir, p1, &m), 0);
	struct hnsw *mapped = reopen(p1);
	same_answers(orig, mapped);
	assert_true(hnsw_is_deleted(mapped, 13));
	assert_false(hnsw_is_deleted(mapped, 14));
	/* the same level generator state: both grow into the same graph */
	add_range(orig, N, N + 200);
	add_range(mapped, N, N + 200);
	same_answers(orig, mapped);
	/* a mapped graph with new links in memory saves and maps again */
	assert_int_equal(hnsw_save(mapped, dir, p2, &m), 0);
	struct hnsw *again = reopen(p2);
	same_answers(orig, again);
	hnsw_free(again);
	hnsw_free(mapped);
	hnsw_free(orig);
	tu_rmrf(dir);
	free(p1);
	free(p2);
	free(dir);
}

/* Opens and verifies; returns the first failure's code (0: accepted). */
static int load(const char *path)
{
	struct hnsw *h;
	struct hnsw_file_meta m;
	int rc = hnsw_open_file(path, &cfg, &h, &m);

	if (rc == 0) {
		rc = hnsw_verify(h, path);
		hnsw_free(h);
	}
	return rc;
}

static void test_damage_is_refused(void **state)
{
	char *dir = tu_mkdtemp("hnswdmg"), *path = tu_path(dir, "x.hnsw");
	char *copy = tu_path(dir, "y.hnsw");
	struct hnsw_file_meta m = {.covered_lsn = 1, .graph_lsn = 1};
	struct hnsw *h;
	size_t size;

	fill(5);
	assert_int_equal(hnsw_new(&cfg, &h), 0);
	add_range(h, 0, N);
	assert_int_equal(hnsw_save(h, dir, path, &m), 0);
	uint8_t *good = tu_file_read(path, &size);
	/* header, chunk table, first chunk's vectors, its records, the last
	 * chunk, the link pool (the last bytes), and points in between */
	uint64_t spots[] = {9,
	                    20,
	                    4096 + 3,
	                    8192 + 100,
	                    8192 + 4 * DIM * 16384 + 7,
	                    size / 2,
	                    size - 4096 * 3,
	                    size - 2};
	for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
		tu_file_write_at(copy, good, size, 0);
		tu_file_flip(copy, spots[i]);
		assert_int_equal(load(copy), SUTRA_ECORRUPT);
	}
	/* truncated */
	tu_rmrf(copy);
	tu_file_write_at(copy, good, size - 4096, 0);
	assert_int_equal(load(copy), SUTRA_ECORRUPT);
	/* checksums right, a link out of range: the structure check */
	_Atomic uint32_t *l0 = hnsw_chunk(h, 5)->l0 + 5 * (1 + 2 * cfg.M);
	atomic_store(&l0[1], N + 5);
	assert_int_equal(hnsw_save(h, dir, path, &m), 0);
	assert_int_equal(load(path), SUTRA_ECORRUPT);
	/* another configuration */
	struct hnsw_config other = cfg;
	struct hnsw *o;
	other.M = 12;
	assert_int_equal(hnsw_open_file(path, &other, &o, &m), SUTRA_ECORRUPT);
	hnsw_free(h);
	free(good);
	tu_rmrf(dir);
	free(path);
	free(copy);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_and_growth),
	    cmocka_unit_test(test_damage_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
