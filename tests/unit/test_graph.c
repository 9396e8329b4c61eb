/* test_graph.c - the graph queries on small graphs whose answers are known:
 * shortest paths (types, directions, the depth bound exactly, cycles,
 * self-loops, disconnected parts, deleted concepts), every shortest path
 * and the k shortest simple paths, the most confident path, k-hop and
 * hybrid search, and every limit. */
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

#define DIM 4

static sutra_db *g_db;
static char *g_dir;

static sutra_id id_of(int i)
{
	sutra_id id;
	char s[32];

	snprintf(s, sizeof s, "g-%d", i);
	sutra_id_parse(s, strlen(s), &id);
	return id;
}

static int index_of(const sutra_id *id)
{
	for (int i = 0; i < 100; i++) {
		sutra_id x = id_of(i);
		if (memcmp(x.b, id->b, 16) == 0)
			return i;
	}
	return -1;
}

static void learn(int i, const float *vec)
{
	sutra_concept_in c = {.id = id_of(i),
	                      .content = "g",
	                      .content_len = 1,
	                      .vector = vec,
	                      .vector_dim = vec ? DIM : 0,
	                      .strength = 1,
	                      .confidence = 1};

	assert_int_equal(sutra_learn(g_db, &c, NULL), 0);
}

static void link_(int a, int b, int type, float conf)
{
	sutra_id x = id_of(a), y = id_of(b);

	assert_int_equal(sutra_associate(g_db, &x, &y, (unsigned)type, conf, NULL), 0);
}

/*  0 -> 1 -> 2 -> 3 -> 4   semantic 0.9      0 -> 5 -> 4   causal 0.5
 * 10 -> 11 -> 13, 10 -> 12 -> 13, 10 -> 14 -> 15 -> 13   semantic 1
 * 20 -> 21 -> 22 -> 20 (cycle)   30 -> 30 (self-loop)   40 alone */
static int setup(void **state)
{
	sutra_options o;

	g_dir = tu_mkdtemp("graph");
	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	assert_int_equal(sutra_open(g_dir, &o, &g_db), 0);
	for (int i = 0; i <= 40; i++) {
		float v[DIM] = {1.0f, (float)i / 10.0f, 0, 0};
		learn(i, i < 6 ? v : NULL);
	}
	for (int i = 0; i < 4; i++)
		link_(i, i + 1, SUTRA_ASSOC_SEMANTIC, 0.9f);
	link_(0, 5, SUTRA_ASSOC_CAUSAL, 0.5f);
	link_(5, 4, SUTRA_ASSOC_CAUSAL, 0.5f);
	int diamond[][2] = {{10, 11}, {11, 13}, {10, 12}, {12, 13}, {10, 14}, {14, 15}, {15, 13}};
	for (size_t i = 0; i < 7; i++)
		link_(diamond[i][0], diamond[i][1], SUTRA_ASSOC_SEMANTIC, 1.0f);
	link_(20, 21, SUTRA_ASSOC_TEMPORAL, 1.0f);
	link_(21, 22, SUTRA_ASSOC_TEMPORAL, 1.0f);
	link_(22, 20, SUTRA_ASSOC_TEMPORAL, 1.0f);
	link_(30, 30, SUTRA_ASSOC_SEMANTIC, 1.0f);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(sutra_close(g_db), 0);
	tu_rmrf(g_dir);
	free(g_dir);
	return 0;
}

static sutra_graph_query query(int type, int dir, uint32_t depth)
{
	sutra_graph_query q;

	sutra_graph_query_init(&q);
	q.type = type;
	q.direction = dir;
	q.max_depth = depth;
	return q;
}

/* The path from a to b as indexes, e.g. "0,5,4"; "" when none (rc kept). */
static const char *path_of(int a, int b, sutra_graph_query q, int *rc)
{
	static char text[256];
	sutra_id from = id_of(a), to = id_of(b), path[SUTRA_MAX_PATH_DEPTH + 1];
	size_t len = 0;

	text[0] = 0;
	*rc = sutra_find_path_ex(g_db, &from, &to, &q, path, &len);
	for (size_t i = 0; *rc == 0 && i < len; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%s%d", i ? "," : "",
		         index_of(&path[i]));
	return text;
}

static void test_shortest_paths(void **state)
{
	int rc;

	assert_string_equal(path_of(0, 4, query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20), &rc), "0,5,4");
	assert_string_equal(path_of(0, 4, query(SUTRA_ASSOC_SEMANTIC, SUTRA_DIR_OUT, 20), &rc),
	                    "0,1,2,3,4");
	assert_string_equal(path_of(0, 4, query(SUTRA_ASSOC_SEMANTIC, SUTRA_DIR_OUT, 4), &rc),
	                    "0,1,2,3,4"); /* exactly at the bound */
	path_of(0, 4, query(SUTRA_ASSOC_SEMANTIC, SUTRA_DIR_OUT, 3), &rc);
	assert_int_equal(rc, SUTRA_ENOTFOUND); /* one past it */
	path_of(0, 4, query(SUTRA_TYPE_ANY, SUTRA_DIR_IN, 20), &rc);
	assert_int_equal(rc, SUTRA_ENOTFOUND); /* against the arrows */
	assert_string_equal(path_of(4, 0, query(SUTRA_TYPE_ANY, SUTRA_DIR_IN, 20), &rc), "4,5,0");
	assert_string_equal(path_of(4, 0, query(SUTRA_TYPE_ANY, SUTRA_DIR_BOTH, 20), &rc), "4,5,0");
	assert_string_equal(path_of(21, 20, query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20), &rc),
	                    "21,22,20"); /* around the cycle */
	assert_string_equal(path_of(30, 30, query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 0), &rc), "30");
	path_of(0, 40, query(SUTRA_TYPE_ANY, SUTRA_DIR_BOTH, 20), &rc);
	assert_int_equal(rc, SUTRA_ENOTFOUND);
	path_of(0, 99, query(SUTRA_TYPE_ANY, SUTRA_DIR_BOTH, 20), &rc);
	assert_int_equal(rc, SUTRA_ENOTFOUND); /* absent end */
	/* the seed's FindPath: both directions, any type */
	sutra_id a = id_of(4), b = id_of(1), p[21];
	size_t len;
	assert_int_equal(sutra_find_path(g_db, &a, &b, 20, p, &len), 0);
	assert_int_equal(len, 4);
}

static void test_limits(void **state)
{
	int rc;
	sutra_graph_query q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 21);

	path_of(0, 4, q, &rc);
	assert_int_equal(rc, SUTRA_ETOOBIG);
	q = query(7, SUTRA_DIR_OUT, 2);
	path_of(0, 4, q, &rc);
	assert_int_equal(rc, SUTRA_EINVAL);
	q = query(SUTRA_TYPE_ANY, 0, 2);
	path_of(0, 4, q, &rc);
	assert_int_equal(rc, SUTRA_EINVAL);
	q = query(SUTRA_ASSOC_SEMANTIC, SUTRA_DIR_OUT, 20);
	q.max_visited = 4; /* two per side: the chain needs more */
	path_of(0, 4, q, &rc);
	assert_int_equal(rc, SUTRA_ETOOBIG);
	sutra_paths *ps;
	sutra_id a = id_of(10), b = id_of(13);
	q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20);
	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 0, 0, &ps), SUTRA_ETOOBIG);
	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 1001, 0, &ps), SUTRA_ETOOBIG);
}

static void paths_text(sutra_paths *ps, char *out, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < ps->count; i++) {
		for (size_t k = ps->start[i]; k < ps->start[i + 1]; k++)
			snprintf(out + strlen(out), n - strlen(out), "%s%d",
			         k == ps->start[i] ? (i ? ";" : "") : ",", index_of(&ps->ids[k]));
	}
}

static void test_multiple_paths(void **state)
{
	sutra_id a = id_of(10), b = id_of(13);
	sutra_graph_query q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20);
	sutra_paths *ps;
	char text[256];

	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 10, 0, &ps), 0);
	paths_text(ps, text, sizeof text);
	assert_string_equal(text, "10,11,13;10,12,13"); /* the two shortest (a tie) */
	assert_int_equal(ps->truncated, 0);
	sutra_paths_free(ps);
	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 1, 0, &ps), 0);
	assert_int_equal(ps->count, 1);
	assert_int_equal(ps->truncated, 1);
	sutra_paths_free(ps);
	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 10, 1, &ps), 0);
	paths_text(ps, text, sizeof text);
	assert_string_equal(text, "10,11,13;10,12,13;10,14,15,13"); /* then the longer one */
	sutra_paths_free(ps);
	q.max_depth = 2; /* the longer one does not fit */
	assert_int_equal(sutra_find_paths(g_db, &a, &b, &q, 10, 1, &ps), 0);
	assert_int_equal(ps->count, 2);
	sutra_paths_free(ps);
}

static void test_best_path(void **state)
{
	sutra_id a = id_of(0), b = id_of(4), path[21];
	sutra_graph_query q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20);
	size_t len;
	double conf;

	/* 0.9^4 = 0.6561 beats 0.5 * 0.5 although it is longer */
	assert_int_equal(sutra_find_best_path(g_db, &a, &b, &q, path, &len, &conf), 0);
	assert_int_equal(len, 5);
	assert_float_equal(conf, 0.6561, 1e-4);
	q.max_depth = 3; /* the chain no longer fits: the shortcut is the best left */
	assert_int_equal(sutra_find_best_path(g_db, &a, &b, &q, path, &len, &conf), 0);
	assert_int_equal(len, 3);
	assert_int_equal(index_of(&path[1]), 5);
	assert_float_equal(conf, 0.25, 1e-6);
	q = query(SUTRA_ASSOC_CAUSAL, SUTRA_DIR_IN, 20);
	assert_int_equal(sutra_find_best_path(g_db, &a, &b, &q, path, &len, &conf),
	                 SUTRA_ENOTFOUND);
}

static void test_khop(void **state)
{
	sutra_id a = id_of(0), c = id_of(20);
	sutra_khop_hit hits[10];
	sutra_graph_query q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 1);
	size_t n;
	int trunc;

	assert_int_equal(sutra_khop(g_db, &a, &q, hits, 10, &n, &trunc), 0);
	assert_int_equal(n, 2); /* 1 and 5 */
	assert_int_equal(trunc, 0);
	q.max_depth = 2;
	assert_int_equal(sutra_khop(g_db, &a, &q, hits, 10, &n, &trunc), 0);
	assert_int_equal(n, 4); /* 1, 5, then 2 and 4 */
	assert_int_equal(hits[0].depth, 1);
	assert_int_equal(hits[3].depth, 2);
	assert_int_equal(sutra_khop(g_db, &a, &q, hits, 3, &n, &trunc), 0);
	assert_int_equal(n, 3);
	assert_int_equal(trunc, 1);
	q.max_depth = 20;
	assert_int_equal(sutra_khop(g_db, &c, &q, hits, 10, &n, &trunc), 0);
	assert_int_equal(n, 2); /* the cycle: 21, 22 and back to the start */
	q = query(SUTRA_ASSOC_CAUSAL, SUTRA_DIR_OUT, 5);
	assert_int_equal(sutra_khop(g_db, &a, &q, hits, 10, &n, &trunc), 0);
	assert_int_equal(n, 2); /* 5, 4 */
	assert_float_equal(hits[1].confidence, 0.25, 1e-6);
}

static void test_hybrid(void **state)
{
	float qv[DIM] = {1, 0, 0, 0};
	sutra_hybrid_hit hits[20];
	sutra_graph_query q = query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 1);
	size_t n;
	int trunc;

	assert_int_equal(sutra_hybrid_search(g_db, qv, DIM, 1, 10, &q, hits, 20, &n, &trunc), 0);
	/* the seed is concept 0 (exactly qv); 1 and 5 are one hop away */
	assert_int_equal(n, 3);
	assert_int_equal(index_of(&hits[0].id), 0);
	assert_float_equal(hits[0].score, 1.0, 1e-5);
	assert_int_equal(index_of(&hits[1].id), 1); /* 0.9 * 0.85 beats 0.5 * 0.85 */
	assert_float_equal(hits[1].score, 0.9 * 0.85, 1e-5);
	assert_int_equal(hits[1].hops, 1);
	assert_float_equal(hits[2].score, 0.5 * 0.85, 1e-5);
	assert_int_equal(sutra_hybrid_search(g_db, qv, DIM, 1, 10, &q, hits, 2, &n, &trunc), 0);
	assert_int_equal(n, 2);
	assert_int_equal(trunc, 1);
}

static void test_deleted_concepts(void **state)
{
	sutra_id five = id_of(5);
	int rc;

	assert_int_equal(sutra_delete(g_db, &five, NULL), 0);
	assert_string_equal(path_of(0, 4, query(SUTRA_TYPE_ANY, SUTRA_DIR_OUT, 20), &rc),
	                    "0,1,2,3,4");
	learn(5, NULL);
	link_(0, 5, SUTRA_ASSOC_CAUSAL, 0.5f);
	link_(5, 4, SUTRA_ASSOC_CAUSAL, 0.5f);
}

/* ---- differential: a random graph against references computed here ---- */

#define RN 1500 /* concepts */
#define RE 3500 /* associations */

struct redge {
	int a, b, type;
	float conf;
};

static struct redge r_edges[RE];

static sutra_id rid(int i)
{
	sutra_id id;
	char s[32];

	snprintf(s, sizeof s, "rnd-%d", i);
	sutra_id_parse(s, strlen(s), &id);
	return id;
}

static int rindex_of(const sutra_id *id)
{
	static sutra_id all[RN];
	static int ready;

	if (!ready)
		for (int i = 0; i < RN; i++)
			all[i] = rid(i);
	ready = 1;
	for (int i = 0; i < RN; i++)
		if (memcmp(all[i].b, id->b, 16) == 0)
			return i;
	return -1;
}

static bool follows(const struct redge *e, int from, int dir, int type, int *to)
{
	if (type >= 0 && e->type != type)
		return false;
	if ((dir & SUTRA_DIR_OUT) && e->a == from) {
		*to = e->b;
		return true;
	}
	if ((dir & SUTRA_DIR_IN) && e->b == from) {
		*to = e->a;
		return true;
	}
	return false;
}

/* Hops from a to every concept (-1: unreachable), by plain BFS. */
static void ref_bfs(int a, int dir, int type, int *dist)
{
	static int queue[RN];
	int head = 0, tail = 0;

	for (int i = 0; i < RN; i++)
		dist[i] = -1;
	dist[a] = 0;
	queue[tail++] = a;
	while (head < tail) {
		int u = queue[head++], v;
		for (int e = 0; e < RE; e++)
			if (follows(&r_edges[e], u, dir, type, &v) && dist[v] < 0) {
				dist[v] = dist[u] + 1;
				queue[tail++] = v;
			}
	}
}

/* The best confidence product from a to b within depth hops (0: none). */
static double ref_best(int a, int b, int dir, int depth)
{
	static double best[RN], next[RN];
	double answer = a == b ? 1.0 : 0.0;

	for (int i = 0; i < RN; i++)
		best[i] = i == a ? 1.0 : 0.0;
	for (int h = 1; h <= depth; h++) {
		memcpy(next, best, sizeof next);
		for (int e = 0; e < RE; e++) {
			const struct redge *x = &r_edges[e];
			if ((dir & SUTRA_DIR_OUT) && best[x->a] * x->conf > next[x->b])
				next[x->b] = best[x->a] * x->conf;
			if ((dir & SUTRA_DIR_IN) && best[x->b] * x->conf > next[x->a])
				next[x->a] = best[x->b] * x->conf;
		}
		memcpy(best, next, sizeof best);
		if (best[b] > answer)
			answer = best[b];
	}
	return answer;
}

static void load_random_graph(void)
{
	uint64_t seed = 99;

	for (int i = 0; i < RN; i++) {
		sutra_concept_in c = {
		    .id = rid(i), .content = "r", .content_len = 1, .strength = 1, .confidence = 1};
		assert_int_equal(sutra_learn(g_db, &c, NULL), 0);
	}
	for (int e = 0; e < RE; e++) {
		struct redge *x = &r_edges[e];
		do {
			x->a = (int)(tu_rand(&seed) % RN);
			x->b = (int)(tu_rand(&seed) % RN);
			x->type = (int)(tu_rand(&seed) % 3);
			x->conf = 0.05f + (float)(tu_rand(&seed) % 96) / 100.0f;
			/* one association per (source, target, type): the engine upserts */
			for (int k = 0; k < e; k++)
				if (r_edges[k].a == x->a && r_edges[k].b == x->b &&
				    r_edges[k].type == x->type)
					x->a = -1;
		} while (x->a < 0);
		sutra_id a = rid(x->a), b = rid(x->b);
		assert_int_equal(sutra_associate(g_db, &a, &b, (unsigned)x->type, x->conf, NULL),
		                 0);
	}
}

/* Every step of a returned path must be an association the query allows. */
static void check_steps(const sutra_id *path, size_t len, int dir, int type)
{
	for (size_t i = 0; i + 1 < len; i++) {
		int u = rindex_of(&path[i]), w = rindex_of(&path[i + 1]), v = -1, ok = 0;
		for (int e = 0; e < RE && !ok; e++)
			ok = follows(&r_edges[e], u, dir, type, &v) && v == w;
		assert_true(ok);
	}
}

static void test_differential_random_graph(void **state)
{
	static int dist[RN];
	const int dirs[] = {SUTRA_DIR_OUT, SUTRA_DIR_BOTH}, types[] = {SUTRA_TYPE_ANY, 1};
	uint64_t seed = 5;
	sutra_id path[SUTRA_MAX_PATH_DEPTH + 1];
	size_t len;

	load_random_graph();
	for (int round = 0; round < 120; round++) {
		int a = (int)(tu_rand(&seed) % RN), b = (int)(tu_rand(&seed) % RN);
		int dir = dirs[round % 2], type = types[(round / 2) % 2];
		uint32_t depth = 3 + (uint32_t)(round % 5);
		sutra_graph_query q = query(type, dir, depth);
		sutra_id x = rid(a), y = rid(b);
		ref_bfs(a, dir, type, dist);
		int rc = sutra_find_path_ex(g_db, &x, &y, &q, path, &len);
		if (dist[b] >= 0 && dist[b] <= (int)depth) {
			assert_int_equal(rc, 0);
			assert_int_equal((int)len - 1, dist[b]);
			check_steps(path, len, dir, type);
		} else {
			assert_int_equal(rc, SUTRA_ENOTFOUND);
		}
		double conf, want = ref_best(a, b, dir, (int)depth);
		sutra_graph_query qa = query(SUTRA_TYPE_ANY, dir, depth);
		rc = sutra_find_best_path(g_db, &x, &y, &qa, path, &len, &conf);
		if (want > 0) {
			assert_int_equal(rc, 0);
			assert_float_equal(conf, want, 1e-5 * want);
			check_steps(path, len, dir, SUTRA_TYPE_ANY);
		} else {
			assert_int_equal(rc, SUTRA_ENOTFOUND);
		}
		sutra_khop_hit hits[RN];
		size_t n, expect = 0;
		int trunc;
		for (int i = 0; i < RN; i++)
			expect += i != a && dist[i] > 0 && dist[i] <= (int)depth;
		assert_int_equal(sutra_khop(g_db, &x, &q, hits, RN, &n, &trunc), 0);
		assert_int_equal(n, expect);
		for (size_t i = 0; i < n; i++)
			assert_int_equal((int)hits[i].depth, dist[rindex_of(&hits[i].id)]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shortest_paths),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_multiple_paths),
	    cmocka_unit_test(test_best_path),
	    cmocka_unit_test(test_khop),
	    cmocka_unit_test(test_hybrid),
	    cmocka_unit_test(test_deleted_concepts),
	    cmocka_unit_test(test_differential_random_graph),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
