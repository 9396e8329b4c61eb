/* test_query.c - vector search, shortest paths, async commits and the
 * same-content rule, on small stores whose answers are known. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
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

#define DIM 4

static sutra_db *open_db(char **dir)
{
	sutra_options o;
	sutra_db *db;

	*dir = tu_mkdtemp("query");
	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	assert_int_equal(sutra_open(*dir, &o, &db), 0);
	return db;
}

static void done(sutra_db *db, char *dir)
{
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

static sutra_id id_of(int i)
{
	sutra_id id;
	char s[32];

	snprintf(s, sizeof s, "node-%d", i);
	sutra_id_parse(s, strlen(s), &id);
	return id;
}

static void learn(sutra_db *db, int i, const float *vec)
{
	sutra_concept_in c = {.id = id_of(i),
	                      .content = "c",
	                      .content_len = 1,
	                      .vector = vec,
	                      .vector_dim = vec ? DIM : 0,
	                      .strength = 1,
	                      .confidence = 1};

	assert_int_equal(sutra_learn(db, &c, NULL), 0);
}

static void link_(sutra_db *db, int a, int b)
{
	sutra_id x = id_of(a), y = id_of(b);

	assert_int_equal(sutra_associate(db, &x, &y, 0, 0.5f, NULL), 0);
}

static void test_vector_search_exact(void **state)
{
	char *dir;
	sutra_db *db = open_db(&dir);
	float v[6][DIM] = {{1, 0, 0, 0},  {0, 1, 0, 0},    {1, 1, 0, 0},
	                   {-1, 0, 0, 0}, {1, 0.1f, 0, 0}, {0, 0, 1, 0}};
	float q[DIM] = {1, 0, 0, 0}, bad[DIM + 1] = {0};
	sutra_hit hits[8];
	size_t n;

	for (int i = 0; i < 6; i++)
		learn(db, i, v[i]);
	learn(db, 99, NULL); /* no vector: never returned */
	assert_int_equal(sutra_vector_search(db, q, DIM, 3, 10, hits, &n), 0);
	assert_int_equal(n, 3);
	sutra_id e0 = id_of(0), e4 = id_of(4), e2 = id_of(2);
	assert_memory_equal(hits[0].id.b, e0.b, 16);
	assert_true(fabsf(hits[0].similarity - 1.0f) < 1e-6f);
	assert_memory_equal(hits[1].id.b, e4.b, 16);
	assert_memory_equal(hits[2].id.b, e2.b, 16);
	assert_int_equal(sutra_vector_search(db, q, DIM, 8, 10, hits, &n), 0);
	assert_int_equal(n, 6);
	assert_true(hits[5].similarity < -0.99f);
	assert_int_equal(sutra_vector_search(db, bad, DIM + 1, 3, 10, hits, &n), SUTRA_EINVAL);
	assert_int_equal(sutra_vector_search(db, q, DIM, 1001, 10, hits, &n), SUTRA_ETOOBIG);
	/* deleted concepts never appear */
	assert_int_equal(sutra_delete(db, &e0, NULL), 0);
	assert_int_equal(sutra_vector_search(db, q, DIM, 1, 10, hits, &n), 0);
	assert_memory_equal(hits[0].id.b, e4.b, 16);
	done(db, dir);
}

static size_t path_len(sutra_db *db, int a, int b, uint32_t depth, int *rc)
{
	sutra_id x = id_of(a), y = id_of(b), path[SUTRA_MAX_PATH_DEPTH + 1];
	size_t len = 0;

	*rc = sutra_find_path(db, &x, &y, depth, path, &len);
	if (*rc == 0) {
		assert_memory_equal(path[0].b, x.b, 16);
		assert_memory_equal(path[len - 1].b, y.b, 16);
	}
	return len;
}

static void test_find_path(void **state)
{
	char *dir;
	sutra_db *db = open_db(&dir);
	int rc;

	for (int i = 0; i < 30; i++)
		learn(db, i, NULL);
	for (int i = 0; i < 24; i++) /* a chain 0-1-...-24 */
		link_(db, i, i + 1);
	link_(db, 0, 0);   /* self-loop */
	link_(db, 24, 20); /* a cycle at the end */
	link_(db, 26, 25); /* 25 reached only against the direction */
	link_(db, 26, 27);
	assert_int_equal(path_len(db, 3, 3, 0, &rc), 1);
	assert_int_equal(rc, 0);
	assert_int_equal(path_len(db, 0, 20, 20, &rc), 21); /* exactly at the bound */
	assert_int_equal(rc, 0);
	path_len(db, 0, 21, 20, &rc); /* one past */
	assert_int_equal(rc, SUTRA_ENOTFOUND);
	assert_int_equal(path_len(db, 10, 0, 20, &rc), 11); /* edges followed backwards */
	assert_int_equal(path_len(db, 25, 27, 5, &rc), 3);
	path_len(db, 0, 28, 20, &rc); /* disconnected */
	assert_int_equal(rc, SUTRA_ENOTFOUND);
	path_len(db, 0, 5, 21, &rc);
	assert_int_equal(rc, SUTRA_ETOOBIG);
	sutra_id mid = id_of(12);
	assert_int_equal(sutra_delete(db, &mid, NULL), 0); /* cuts the chain */
	path_len(db, 0, 15, 20, &rc);
	assert_int_equal(rc, SUTRA_ENOTFOUND);
	done(db, dir);
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls, rc;
	uint64_t lsn;
};

static void on_commit(void *arg, int rc, uint64_t lsn, const char *msg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->calls++;
	w->rc = rc;
	w->lsn = lsn;
	assert_true(rc == 0 ? msg == NULL : msg != NULL && *msg);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void commit_async_and_wait(sutra_db *db, sutra_batch *b, struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	int before = w->calls;
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(sutra_batch_commit_async(db, b, on_commit, w), 0);
	pthread_mutex_lock(&w->mu);
	while (w->calls == before)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void test_async_and_same_content(void **state)
{
	char *dir;
	sutra_db *db = open_db(&dir);
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	sutra_batch *b;
	sutra_id id;

	sutra_id_from_content("hello", 5, &id);
	sutra_concept_in c = {.id = id,
	                      .content = "hello",
	                      .content_len = 5,
	                      .strength = 1,
	                      .confidence = 1,
	                      .flags = SUTRA_LEARN_SAME_CONTENT};
	assert_int_equal(sutra_batch_new(&b), 0);
	assert_int_equal(sutra_batch_learn(b, &c), 0);
	commit_async_and_wait(db, b, &w);
	assert_int_equal(w.rc, 0);
	assert_true(w.lsn > 0);
	assert_int_equal(sutra_exists(db, &id), 1); /* visible once acknowledged */
	/* same content again: an update */
	assert_int_equal(sutra_learn(db, &c, NULL), 0);
	/* a different content under the same id is refused, not overwritten */
	c.content = "other";
	assert_int_equal(sutra_learn(db, &c, NULL), SUTRA_EEXIST);
	sutra_batch_clear(b);
	assert_int_equal(sutra_batch_learn(b, &c), 0);
	commit_async_and_wait(db, b, &w);
	assert_int_equal(w.rc, SUTRA_EEXIST);
	sutra_concept *got;
	assert_int_equal(sutra_get(db, &id, &got), 0);
	assert_string_equal(got->content, "hello");
	sutra_concept_free(got);
	sutra_batch_free(b);
	done(db, dir);
}

/* With the index on: acknowledged vectors are found at once (through the
 * exact delta), updates replace, deletes vanish, and once the indexer has
 * caught up the answers still hold. */
static void test_index_freshness(void **state)
{
	char *dir;
	sutra_db *db = open_db(&dir);
	uint64_t seed = 42;
	float v[DIM];
	sutra_hit hits[5];
	size_t n;
	sutra_stats st;

	for (int i = 0; i < 3000; i++) {
		for (int d = 0; d < DIM; d++)
			v[d] = (float)(tu_rand(&seed) % 1000) / 1000.0f - 0.5f;
		learn(db, i, v);
		if (i % 500 == 0) { /* found at once, whatever the indexer's lag */
			assert_int_equal(sutra_vector_search(db, v, DIM, 1, 50, hits, &n), 0);
			sutra_id want = id_of(i);
			assert_int_equal(n, 1);
			assert_true(hits[0].similarity > 0.9999f);
			assert_true(memcmp(hits[0].id.b, want.b, 16) == 0 ||
			            hits[0].similarity > 0.9999f);
		}
	}
	float u[DIM] = {0.9f, -0.8f, 0.7f, -0.6f};
	learn(db, 7, u); /* update: the new vector is found, under the same id */
	assert_int_equal(sutra_vector_search(db, u, DIM, 1, 50, hits, &n), 0);
	sutra_id seven = id_of(7);
	assert_memory_equal(hits[0].id.b, seven.b, 16);
	assert_int_equal(sutra_delete(db, &seven, NULL), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sutra_vector_search(db, u, DIM, 5, 50, hits, &n), 0);
		assert_int_equal(n, 5);
		for (size_t i = 0; i < n; i++)
			assert_memory_not_equal(hits[i].id.b, seven.b, 16);
		for (int wait = 0; wait < 500; wait++) { /* let the indexer catch up */
			assert_int_equal(sutra_stats_get(db, &st), 0);
			if (st.index_lag == 0 && st.vectors_indexed >= 3001)
				break;
			usleep(10000);
		}
	}
	assert_int_equal(st.index_lag, 0);
	done(db, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vector_search_exact),
	    cmocka_unit_test(test_find_path),
	    cmocka_unit_test(test_async_and_same_content),
	    cmocka_unit_test(test_index_freshness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
