/* test_vindex_file.c - the vector index saved with checkpoints, through the
 * engine: a reopened store maps its index instead of rebuilding and
 * answers identically; writes after the checkpoint (replayed from the WAL
 * of a crash image) are searchable and deletes are gone; a damaged file or
 * other index options cause a rebuild, never wrong answers. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define DIM 24
#define N   6000
#define Q   30
#define K   10

static float vecs[N + 100][DIM];

static sutra_id id_of(int i)
{
	sutra_id id;
	char s[32];

	snprintf(s, sizeof s, "vx-%d", i);
	sutra_id_parse(s, strlen(s), &id);
	return id;
}

static sutra_db *open_db(const char *dir, uint32_t m)
{
	sutra_options o;
	sutra_db *db;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	o.index_m = m;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	return db;
}

static void learn(sutra_db *db, int i, const float *v)
{
	sutra_concept_in c = {.id = id_of(i),
	                      .content = "c",
	                      .content_len = 1,
	                      .vector = v,
	                      .vector_dim = DIM,
	                      .strength = 1,
	                      .confidence = 1};

	assert_int_equal(sutra_learn(db, &c, NULL), 0);
}

static sutra_stats settle(sutra_db *db)
{
	sutra_stats st;

	assert_int_equal(tu_index_ready(db, &st), 0);
	return st;
}

static void search_all(sutra_db *db, sutra_hit (*out)[K])
{
	size_t n;

	for (int q = 0; q < Q; q++) {
		assert_int_equal(sutra_vector_search(db, vecs[q * 151], DIM, K, 40, out[q], &n), 0);
		assert_int_equal(n, K);
	}
}

static char *populated(void)
{
	char *dir = tu_mkdtemp("vxfile");
	uint64_t seed = 9;

	for (int i = 0; i < N + 100; i++)
		for (int d = 0; d < DIM; d++)
			vecs[i][d] = (float)(tu_rand(&seed) % 2001) / 1000.0f - 1.0f;
	sutra_db *db = open_db(dir, 16);
	for (int i = 0; i < N; i++)
		learn(db, i, vecs[i]);
	settle(db);
	assert_int_equal(sutra_checkpoint(db), 0);
	assert_int_equal(sutra_close(db), 0);
	return dir;
}

static void test_reopen_maps_and_answers_the_same(void **state)
{
	char *dir = populated();
	static sutra_hit before[Q][K], after[Q][K];

	sutra_db *db = open_db(dir, 16);
	sutra_stats st = settle(db);
	assert_int_equal(st.index_loaded, 1);
	assert_int_equal(st.vectors_indexed, N);
	search_all(db, before);
	assert_int_equal(sutra_close(db), 0);
	db = open_db(dir, 16);
	st = settle(db);
	assert_int_equal(st.index_loaded, 1);
	search_all(db, after);
	assert_memory_equal(before, after, sizeof before);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

/* The id the search ranks first for q. */
static int top(sutra_db *db, const float *q)
{
	sutra_hit h[1];
	size_t n;

	assert_int_equal(sutra_vector_search(db, q, DIM, 1, 40, h, &n), 0);
	for (int i = 0; n && i < N + 100; i++) {
		sutra_id x = id_of(i);
		if (memcmp(x.b, h[0].id.b, 16) == 0)
			return i;
	}
	return -1;
}

static void test_wal_tail_after_the_saved_index(void **state)
{
	char *dir = populated(), *copy = tu_mkdtemp("vxcopy");
	sutra_db *db = open_db(dir, 16);

	settle(db);
	for (int i = N; i < N + 100; i++) /* new */
		learn(db, i, vecs[i]);
	for (int i = 0; i < 50; i++) /* moved: vector i now is vector N + 50 + i */
		learn(db, i, vecs[N + 50 + i]);
	for (int i = 100; i < 150; i++) {
		sutra_id x = id_of(i);
		assert_int_equal(sutra_delete(db, &x, NULL), 0);
	}
	assert_int_equal(sutra_sync(db), 0);
	tu_dir_copy(dir, copy); /* what a crash would leave */
	assert_int_equal(sutra_close(db), 0);
	db = open_db(copy, 16);
	sutra_stats st = settle(db);
	assert_int_equal(st.index_loaded, 1);
	for (int i = N; i < N + 50; i++)
		assert_int_equal(top(db, vecs[i]), i);
	for (int i = 0; i < 50; i++) {
		int t = top(db, vecs[N + 50 + i]);
		assert_true(t == i || t == N + 50 + i); /* same vector, two ids */
	}
	for (int i = 100; i < 150; i++)
		assert_int_not_equal(top(db, vecs[i]), i);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	tu_rmrf(copy);
	free(dir);
	free(copy);
}

static char *index_file(const char *dir)
{
	char cmd[4200], name[512] = "";

	snprintf(cmd, sizeof cmd, "ls %s | grep '^vindex-.*\\.hnsw$'", dir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(name, sizeof name, p));
	pclose(p);
	name[strcspn(name, "\n")] = 0;
	return tu_path(dir, name);
}

static double cosine(const float *a, const float *b)
{
	double dot = 0, na = 0, nb = 0;

	for (int d = 0; d < DIM; d++) {
		dot += (double)a[d] * b[d];
		na += (double)a[d] * a[d];
		nb += (double)b[d] * b[d];
	}
	return dot / sqrt(na * nb);
}

static int by_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Recall@K against brute force: the share of hits whose true similarity
 * reaches the K-th best similarity of all N. */
static double recall(sutra_db *db)
{
	static sutra_hit got[Q][K];
	static double sims[N];
	size_t same = 0;

	search_all(db, got);
	for (int q = 0; q < Q; q++) {
		const float *qv = vecs[q * 151];
		for (int i = 0; i < N; i++)
			sims[i] = cosine(qv, vecs[i]);
		qsort(sims, N, sizeof *sims, by_desc);
		for (int k = 0; k < K; k++) {
			int at = -1;
			for (int i = 0; i < N && at < 0; i++) {
				sutra_id x = id_of(i);
				if (memcmp(x.b, got[q][k].id.b, 16) == 0)
					at = i;
			}
			same += at >= 0 && cosine(qv, vecs[at]) >= sims[K - 1] - 1e-6;
		}
	}
	return (double)same / (Q * K);
}

static void test_damage_and_other_options_rebuild(void **state)
{
	char *dir = populated(), *file = index_file(dir);
	size_t size;

	free(tu_file_read(file, &size));
	tu_file_flip(file, (long)size / 2);
	sutra_db *db = open_db(dir, 16);
	sutra_stats st = settle(db);
	assert_int_equal(st.index_loaded, 0);
	assert_int_equal(st.vectors_indexed, N);
	assert_true(recall(db) >= 0.95);
	assert_int_equal(sutra_close(db), 0);
	/* other M: the file does not fit, it is rebuilt */
	db = open_db(dir, 12);
	st = settle(db);
	assert_int_equal(st.index_loaded, 0);
	assert_true(recall(db) >= 0.95);
	assert_int_equal(sutra_close(db), 0);
	free(file);
	tu_rmrf(dir);
	free(dir);
}

/* Searches running while the graph is replaced must never fail or return
 * a stale vector's id for its old position. */
static void *searcher(void *arg)
{
	sutra_db *db = arg;
	sutra_hit h[K];
	size_t n;

	for (int i = 0; i < 400; i++)
		assert_int_equal(sutra_vector_search(db, vecs[i % N], DIM, K, 40, h, &n), 0);
	return NULL;
}

static void test_tombstones_compacted(void **state)
{
	char *dir = populated();
	sutra_db *db = open_db(dir, 16);
	pthread_t t;

	settle(db);
	assert_int_equal(pthread_create(&t, NULL, searcher, db), 0);
	for (int i = 0; i < 2500; i++) /* 2,500 replaced vectors: 29% of the slots */
		learn(db, i, vecs[(i + 3000) % N]);
	assert_int_equal(pthread_join(t, NULL), 0);
	sutra_stats st = settle(db);
	for (int i = 0; i < 6000 && st.index_compactions == 0; i++) { /* slow under TSan */
		usleep(20000);
		st = settle(db);
	}
	assert_int_equal(st.index_compactions, 1);
	assert_int_equal(st.index_deleted, 0);
	assert_int_equal(st.vectors_indexed, N);
	for (int i = 0; i < 50; i++) {
		int t1 = top(db, vecs[(i + 3000) % N]);
		assert_true(t1 == i || t1 == (i + 3000) % N); /* two ids share that vector */
	}
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reopen_maps_and_answers_the_same),
	    cmocka_unit_test(test_wal_tail_after_the_saved_index),
	    cmocka_unit_test(test_damage_and_other_options_rebuild),
	    cmocka_unit_test(test_tombstones_compacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
