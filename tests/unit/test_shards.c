/* test_shards.c - sharded stores: routing, layout and options, the same
 * answers as a single log (a differential test on a random workload, before
 * and after reopening), the two-phase commit figures, and a cross-shard
 * write that aborts because a shard's disk stalls past txn_timeout_ms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shard/shard.h"
#include "sutra/sutra.h"
#include "sutra/sutra_test.h"
#include "testutil.h"

#define DIM 16

static void mk_id(uint64_t i, sutra_id *id)
{
	memset(id, 0, sizeof *id);
	memcpy(id->b, "shrd", 4);
	for (int k = 0; k < 8; k++)
		id->b[8 + k] = (uint8_t)(i >> (8 * k));
}

/* The first id at or after *next that routes to shard s of n. */
static uint64_t id_in_shard(uint64_t *next, uint32_t s, uint32_t n, sutra_id *id)
{
	for (;; (*next)++) {
		mk_id(*next, id);
		if (sutra_shard_of(id, n) == s)
			return (*next)++;
	}
}

static sutra_db *open_store(const char *dir, uint32_t shards)
{
	sutra_options o;
	sutra_db *db = NULL;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	o.shards = shards;
	int rc = sutra_open(dir, &o, &db);
	if (rc != 0)
		fail_msg("open %s with %u shards: %s", dir, shards, sutra_last_error());
	return db;
}

static int learn(sutra_db *db, const sutra_id *id, const char *text, const float *vec)
{
	sutra_concept_in c = {.id = *id,
	                      .content = text,
	                      .content_len = strlen(text),
	                      .vector = vec,
	                      .vector_dim = vec ? DIM : 0,
	                      .strength = 1,
	                      .confidence = 0.9f};
	return sutra_learn(db, &c, NULL);
}

/* ---- routing, layout, options ------------------------------------------------ */

static void test_routing(void **state)
{
	uint8_t id[16];
	uint32_t count[16] = {0};

	(void)state;
	/* The Rust server's routing vectors. */
	memset(id, 0x00, 16);
	assert_true(shard_hash(id) == 0x4c694758cce8bb7eull);
	memset(id, 0x01, 16);
	assert_true(shard_hash(id) == 0x2b709a421a729212ull);
	memset(id, 0xab, 16);
	assert_true(shard_hash(id) == 0x76022f13a534d248ull);
	for (uint64_t i = 0; i < 16000; i++) {
		sutra_id sid;
		mk_id(i, &sid);
		count[sutra_shard_of(&sid, 16)]++;
	}
	for (int s = 0; s < 16; s++)
		assert_in_range(count[s], 800, 1200);
}

static void test_layout_and_options(void **state)
{
	char *dir = tu_mkdtemp("shards-layout"), *single = tu_mkdtemp("shards-single");
	sutra_options o;
	sutra_stats st;
	sutra_db *db;
	struct stat sb;

	(void)state;
	db = open_store(dir, 4);
	for (int s = 0; s < 4; s++) {
		char name[32];
		snprintf(name, sizeof name, "shard_%04d", s);
		char *p = tu_path(dir, name);
		assert_int_equal(stat(p, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		free(p);
	}
	assert_int_equal(sutra_close(db), 0);
	db = open_store(dir, 0); /* 0: the count the store was created with */
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.shards, 4);
	assert_int_equal(sutra_close(db), 0);

	sutra_options_init(&o);
	o.dimension = DIM;
	o.shards = 8;
	assert_int_equal(sutra_open(dir, &o, &db), SUTRA_EINVAL);
	assert_non_null(strstr(sutra_last_error(), "shards = 8"));
	assert_non_null(strstr(sutra_last_error(), "4 shards"));

	db = open_store(single, 0);
	assert_int_equal(sutra_close(db), 0);
	o.shards = 2;
	assert_int_equal(sutra_open(single, &o, &db), SUTRA_EINVAL);
	assert_non_null(strstr(sutra_last_error(), "not sharded"));

	o.shards = 257;
	assert_int_equal(sutra_options_validate(&o), SUTRA_EINVAL);
	assert_non_null(strstr(sutra_last_error(), "shards = 257"));
	assert_non_null(strstr(sutra_last_error(), "0..256"));
	o.shards = 4;
	o.txn_timeout_ms = 0;
	assert_int_equal(sutra_options_validate(&o), SUTRA_EINVAL);
	assert_non_null(strstr(sutra_last_error(), "txn_timeout_ms"));
	assert_int_equal(sutra_options_set(&o, "shards", "16"), 0);
	assert_int_equal(o.shards, 16);
	tu_rmrf(dir);
	tu_rmrf(single);
	free(dir);
	free(single);
}

/* ---- two-phase commit figures ------------------------------------------------- */

static int has_neighbor(sutra_db *db, const sutra_id *of, const sutra_id *other, int dir)
{
	sutra_neighbor nb[64];
	size_t total = 0;

	if (sutra_neighbors(db, of, dir, SUTRA_TYPE_ANY, nb, 64, &total) != 0)
		return 0;
	for (size_t i = 0; i < total && i < 64; i++)
		if (memcmp(&nb[i].id, other, sizeof *other) == 0)
			return 1;
	return 0;
}

static void test_txn_figures(void **state)
{
	char *dir = tu_mkdtemp("shards-txn");
	sutra_id a, b, c, x, y;
	uint64_t next = 0;
	sutra_stats st;
	sutra_batch *batch;

	(void)state;
	sutra_db *db = open_store(dir, 4);
	id_in_shard(&next, 1, 4, &a);
	id_in_shard(&next, 1, 4, &b);
	id_in_shard(&next, 2, 4, &c);
	id_in_shard(&next, 3, 4, &x);
	id_in_shard(&next, 0, 4, &y);
	assert_int_equal(learn(db, &a, "a", NULL), 0);
	assert_int_equal(learn(db, &b, "b", NULL), 0);
	assert_int_equal(learn(db, &c, "c", NULL), 0);
	assert_int_equal(sutra_associate(db, &a, &b, SUTRA_ASSOC_CAUSAL, 0.5f, NULL), 0);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_committed, 0); /* same shard: no two-phase commit */
	assert_int_equal(sutra_associate(db, &a, &c, SUTRA_ASSOC_CAUSAL, 0.5f, NULL), 0);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_committed, 1);
	assert_int_equal(st.txn_active, 0);

	/* A batch over three shards commits whole; one that fails applies nothing. */
	assert_int_equal(sutra_batch_new(&batch), 0);
	sutra_concept_in cx = {.id = x, .content = "x", .content_len = 1, .confidence = 1};
	sutra_concept_in cy = {.id = y, .content = "y", .content_len = 1, .confidence = 1};
	assert_int_equal(sutra_batch_learn(batch, &cx), 0);
	assert_int_equal(sutra_batch_learn(batch, &cy), 0);
	assert_int_equal(sutra_batch_associate(batch, &x, &y, SUTRA_ASSOC_SEMANTIC, 1), 0);
	assert_int_equal(sutra_batch_associate(batch, &c, &x, SUTRA_ASSOC_SEMANTIC, 1), 0);
	assert_int_equal(sutra_batch_commit(db, batch, NULL), 0);
	sutra_batch_clear(batch);
	sutra_id ghost;
	id_in_shard(&next, 2, 4, &ghost);
	assert_int_equal(sutra_batch_delete(batch, &x), 0);
	assert_int_equal(sutra_batch_associate(batch, &y, &ghost, SUTRA_ASSOC_SEMANTIC, 1), 0);
	assert_int_equal(sutra_batch_commit(db, batch, NULL), SUTRA_ENOTFOUND);
	sutra_batch_free(batch);
	assert_int_equal(sutra_exists(db, &x), 1);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_committed, 2);

	sutra_shard_stats per[4];
	uint32_t n = 0;
	assert_int_equal(sutra_shard_stats_get(db, per, 4, &n), 0);
	assert_int_equal(n, 4);
	uint64_t concepts = 0, assocs = 0;
	for (int s = 0; s < 4; s++) {
		concepts += per[s].concepts;
		assocs += per[s].associations;
	}
	assert_int_equal(concepts, st.concepts);
	assert_int_equal(assocs, st.associations);
	assert_int_equal(per[1].concepts, 2);

	assert_int_equal(sutra_close(db), 0);
	db = open_store(dir, 4);
	assert_true(has_neighbor(db, &a, &c, SUTRA_DIR_OUT));
	assert_true(has_neighbor(db, &c, &a, SUTRA_DIR_IN));
	assert_true(has_neighbor(db, &x, &y, SUTRA_DIR_OUT));
	assert_true(has_neighbor(db, &y, &x, SUTRA_DIR_IN));
	assert_true(has_neighbor(db, &c, &x, SUTRA_DIR_OUT));
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_recovered, 0);
	assert_int_equal(st.concepts, 5);
	assert_int_equal(st.associations, 4);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

/* ---- a participant that cannot prepare in time ------------------------------- */

static void learn_big(sutra_db *db, const sutra_id *id, size_t len)
{
	char *text = malloc(len + 1);

	memset(text, 'q', len);
	text[len] = 0;
	assert_int_equal(learn(db, id, text, NULL), 0);
	free(text);
}

/* Shard 1's disk stalls (every WAL write sleeps 1.5 s) while its queue is
 * nearly full: the cross-shard batch it coordinates cannot queue its
 * PREPARE within txn_timeout_ms and aborts before anything is applied. */
static void test_prepare_timeout(void **state)
{
	char *dir = tu_mkdtemp("shards-timeout");
	sutra_options o;
	sutra_db *db;
	sutra_id x1, x2, z, w;
	uint64_t next = 0;
	sutra_stats st;
	sutra_batch *batch;

	(void)state;
	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	o.shards = 2;
	o.max_pending_bytes = 64 * 1024;
	o.txn_timeout_ms = 200;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	id_in_shard(&next, 1, 2, &x1);
	id_in_shard(&next, 1, 2, &x2);
	id_in_shard(&next, 1, 2, &z);
	id_in_shard(&next, 0, 2, &w);
	sutra_fault_delay(SUTRA_SITE_WAL_WRITE, 1500);
	learn_big(db, &x1, 40000); /* the scheduler's flush of it stalls */
	usleep(200 * 1000);
	learn_big(db, &x2, 40000); /* waits in the queue behind it */

	assert_int_equal(sutra_batch_new(&batch), 0);
	char *text = malloc(30001);
	memset(text, 'z', 30000);
	text[30000] = 0;
	sutra_concept_in cz = {.id = z, .content = text, .content_len = 30000, .confidence = 1};
	sutra_concept_in cw = {.id = w, .content = "w", .content_len = 1, .confidence = 1};
	assert_int_equal(sutra_batch_learn(batch, &cz), 0);
	assert_int_equal(sutra_batch_learn(batch, &cw), 0);
	assert_int_equal(sutra_batch_associate(batch, &z, &w, SUTRA_ASSOC_SEMANTIC, 1), 0);
	assert_int_equal(sutra_batch_commit(db, batch, NULL), SUTRA_EBUSY);
	assert_non_null(strstr(sutra_last_error(), "txn_timeout_ms = 200"));
	assert_non_null(strstr(sutra_last_error(), "shard 1"));
	assert_int_equal(sutra_exists(db, &z), 0);
	assert_int_equal(sutra_exists(db, &w), 0);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_timed_out, 1);
	assert_int_equal(st.txn_aborted, 1);
	assert_int_equal(st.txn_active, 0);
	assert_int_equal(st.txn_preparing, 0);
	sutra_fault_clear();
	usleep(1600 * 1000); /* the stalled write finishes */

	/* The disk is back: the same batch commits, and everything survives a
	 * reopen except the aborted attempt. */
	assert_int_equal(sutra_batch_commit(db, batch, NULL), 0);
	sutra_batch_free(batch);
	free(text);
	assert_int_equal(sutra_close(db), 0);
	o.shards = 0;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	assert_int_equal(sutra_exists(db, &x1), 1);
	assert_int_equal(sutra_exists(db, &x2), 1);
	assert_true(has_neighbor(db, &w, &z, SUTRA_DIR_IN));
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.txn_recovered, 0);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

/* ---- differential: one log against four shards ---------------------------------- */

#define DN 1200

struct pair {
	sutra_db *one, *four;
	uint64_t rng;
};

static uint32_t rnd(struct pair *p, uint32_t n)
{
	return (uint32_t)(tu_rand(&p->rng) % n);
}

static void rnd_vec(struct pair *p, float *v)
{
	for (int k = 0; k < DIM; k++)
		v[k] = (float)rnd(p, 2001) / 1000.0f - 1.0f;
}

/* Runs one write on both stores; their answers must agree. */
#define BOTH(call_one, call_four)                                                                  \
	do {                                                                                       \
		int r1_ = (call_one), r4_ = (call_four);                                           \
		if (r1_ != r4_)                                                                    \
			fail_msg("%s: one log %d, four shards %d (%s)", #call_one, r1_, r4_,       \
			         sutra_last_error());                                              \
	} while (0)

static void random_write(struct pair *p)
{
	sutra_id a, b;
	float v[DIM];
	char text[32];
	uint32_t k = rnd(p, 100);

	mk_id(rnd(p, DN), &a);
	mk_id(rnd(p, DN), &b);
	if (k < 30) {
		rnd_vec(p, v);
		snprintf(text, sizeof text, "concept %u", rnd(p, 100000));
		const float *vec = rnd(p, 5) ? v : NULL;
		BOTH(learn(p->one, &a, text, vec), learn(p->four, &a, text, vec));
	} else if (k < 33) {
		BOTH(sutra_delete(p->one, &a, NULL), sutra_delete(p->four, &a, NULL));
	} else if (k < 90) {
		unsigned type = rnd(p, 5);
		float conf = (float)(1 + rnd(p, 100)) / 100.0f;
		BOTH(sutra_associate(p->one, &a, &b, type, conf, NULL),
		     sutra_associate(p->four, &a, &b, type, conf, NULL));
	} else {
		unsigned type = rnd(p, 5);
		BOTH(sutra_dissociate(p->one, &a, &b, type, NULL),
		     sutra_dissociate(p->four, &a, &b, type, NULL));
	}
}

static int id_cmp(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(sutra_id));
}

static int nb_cmp(const void *x, const void *y)
{
	const sutra_neighbor *a = x, *b = y;
	int c = memcmp(&a->id, &b->id, sizeof a->id);

	return c ? c : (a->type != b->type ? a->type - b->type : a->direction - b->direction);
}

static void same_neighbors(struct pair *p, const sutra_id *id)
{
	sutra_neighbor n1[256], n4[256];
	size_t t1 = 0, t4 = 0;

	BOTH(sutra_neighbors(p->one, id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, n1, 256, &t1),
	     sutra_neighbors(p->four, id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, n4, 256, &t4));
	assert_int_equal(t1, t4);
	size_t n = t1 < 256 ? t1 : 256;
	qsort(n1, n, sizeof *n1, nb_cmp);
	qsort(n4, n, sizeof *n4, nb_cmp);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(nb_cmp(&n1[i], &n4[i]), 0);
		assert_true(n1[i].confidence == n4[i].confidence);
	}
}

/* Shortest paths may break ties differently once the adjacency order
 * differs (after a reopen), so lengths are compared and every path checked
 * against the store it came from. */
static void valid_path(sutra_db *db, const sutra_id *path, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		assert_true(has_neighbor(db, &path[i], &path[i + 1], SUTRA_DIR_BOTH));
}

static void same_paths(struct pair *p, const sutra_id *a, const sutra_id *b)
{
	sutra_graph_query q;
	sutra_id p1[21], p4[21];
	size_t l1 = 0, l4 = 0;
	double c1 = 0, c4 = 0;

	sutra_graph_query_init(&q);
	q.max_depth = 6;
	BOTH(sutra_find_path_ex(p->one, a, b, &q, p1, &l1),
	     sutra_find_path_ex(p->four, a, b, &q, p4, &l4));
	assert_int_equal(l1, l4);
	valid_path(p->one, p1, l1);
	valid_path(p->four, p4, l4);
	BOTH(sutra_find_best_path(p->one, a, b, &q, p1, &l1, &c1),
	     sutra_find_best_path(p->four, a, b, &q, p4, &l4, &c4));
	assert_true(fabs(c1 - c4) < 1e-9);
	sutra_paths *s1 = NULL, *s4 = NULL;
	BOTH(sutra_find_paths(p->one, a, b, &q, 50, 0, &s1),
	     sutra_find_paths(p->four, a, b, &q, 50, 0, &s4));
	if (s1 && s4) {
		assert_int_equal(s1->count, s4->count);
		assert_int_equal(s1->start[s1->count], s4->start[s4->count]);
	}
	sutra_paths_free(s1);
	sutra_paths_free(s4);
}

static void same_khop(struct pair *p, const sutra_id *a)
{
	sutra_graph_query q;
	sutra_khop_hit h1[400], h4[400];
	size_t n1 = 0, n4 = 0;
	int t1 = 0, t4 = 0;
	sutra_id i1[400], i4[400];

	sutra_graph_query_init(&q);
	q.max_depth = 2;
	BOTH(sutra_khop(p->one, a, &q, h1, 400, &n1, &t1),
	     sutra_khop(p->four, a, &q, h4, 400, &n4, &t4));
	assert_int_equal(n1, n4);
	assert_int_equal(t1, t4);
	for (size_t i = 0; i < n1; i++) {
		i1[i] = h1[i].id;
		i4[i] = h4[i].id;
	}
	qsort(i1, n1, sizeof *i1, id_cmp);
	qsort(i4, n4, sizeof *i4, id_cmp);
	assert_memory_equal(i1, i4, n1 * sizeof *i1);
}

/* Exact vector search (ef above the store size) and hybrid search. */
static void same_search(struct pair *p)
{
	float q[DIM];
	sutra_hit h1[10], h4[10];
	size_t n1 = 0, n4 = 0;

	rnd_vec(p, q);
	BOTH(sutra_vector_search(p->one, q, DIM, 10, 4000, h1, &n1),
	     sutra_vector_search(p->four, q, DIM, 10, 4000, h4, &n4));
	assert_int_equal(n1, n4);
	for (size_t i = 0; i < n1; i++) {
		assert_memory_equal(&h1[i].id, &h4[i].id, sizeof h1[i].id);
		assert_true(fabsf(h1[i].similarity - h4[i].similarity) < 1e-6f);
	}
	sutra_graph_query gq;
	sutra_hybrid_hit y1[20], y4[20];
	int t1 = 0, t4 = 0;
	sutra_graph_query_init(&gq);
	gq.max_depth = 2;
	BOTH(sutra_hybrid_search(p->one, q, DIM, 5, 4000, &gq, y1, 20, &n1, &t1),
	     sutra_hybrid_search(p->four, q, DIM, 5, 4000, &gq, y4, 20, &n4, &t4));
	assert_int_equal(n1, n4);
	for (size_t i = 0; i < n1; i++)
		assert_true(fabsf(y1[i].score - y4[i].score) < 1e-6f);
}

static void same_answers(struct pair *p)
{
	sutra_stats s1, s4;
	sutra_id a, b;

	assert_int_equal(sutra_stats_get(p->one, &s1), 0);
	assert_int_equal(sutra_stats_get(p->four, &s4), 0);
	assert_int_equal(s1.concepts, s4.concepts);
	assert_int_equal(s1.associations, s4.associations);
	assert_int_equal(s1.vectors, s4.vectors);
	assert_int_equal(s4.shards, 4);
	printf("differential: %llu concepts, %llu associations, %llu vectors; %llu cross-shard "
	       "commits\n",
	       (unsigned long long)s1.concepts, (unsigned long long)s1.associations,
	       (unsigned long long)s1.vectors, (unsigned long long)s4.txn_committed);
	uint64_t per_concepts[4] = {0}, per_assocs[4] = {0};
	for (uint64_t i = 0; i < DN; i++) {
		mk_id(i, &a);
		BOTH(sutra_exists(p->one, &a), sutra_exists(p->four, &a));
		same_neighbors(p, &a);
		sutra_concept *c;
		if (sutra_get(p->four, &a, &c) == 0) {
			per_concepts[sutra_shard_of(&a, 4)]++;
			per_assocs[sutra_shard_of(&a, 4)] += c->out_degree;
			sutra_concept_free(c);
		}
	}
	/* The per-shard counts kept at apply match a count of the store. */
	sutra_shard_stats per[4];
	uint32_t nper = 0;
	assert_int_equal(sutra_shard_stats_get(p->four, per, 4, &nper), 0);
	for (int s = 0; s < 4; s++) {
		assert_int_equal(per[s].concepts, per_concepts[s]);
		assert_int_equal(per[s].associations, per_assocs[s]);
	}
	for (int i = 0; i < 150; i++) {
		mk_id(rnd(p, DN), &a);
		mk_id(rnd(p, DN), &b);
		same_paths(p, &a, &b);
		same_khop(p, &a);
	}
	for (int i = 0; i < 30; i++)
		same_search(p);
}

static void reopen_pair(struct pair *p, const char *d1, const char *d4, bool checkpoint)
{
	if (checkpoint) {
		assert_int_equal(sutra_checkpoint(p->one), 0);
		assert_int_equal(sutra_checkpoint(p->four), 0);
	}
	assert_int_equal(sutra_close(p->one), 0);
	assert_int_equal(sutra_close(p->four), 0);
	p->one = open_store(d1, 0);
	p->four = open_store(d4, 4);
}

/* The same random workload (over 1,200 ids: most associations span shards)
 * on one log and on four shards: every write returns the same code and
 * every query the same answer, live, after a reopen from the logs, and
 * after a reopen from checkpoints plus logs. */
static void test_differential(void **state)
{
	char *d1 = tu_mkdtemp("shards-diff1"), *d4 = tu_mkdtemp("shards-diff4");
	struct pair p = {open_store(d1, 0), open_store(d4, 4), 20261126};

	(void)state;
	for (uint64_t i = 0; i < DN; i++) {
		sutra_id a;
		float v[DIM];
		mk_id(i, &a);
		rnd_vec(&p, v);
		BOTH(learn(p.one, &a, "seed", i % 5 ? v : NULL),
		     learn(p.four, &a, "seed", i % 5 ? v : NULL));
	}
	for (int i = 0; i < 6000; i++)
		random_write(&p);
	same_answers(&p);
	reopen_pair(&p, d1, d4, false);
	same_answers(&p);
	for (int i = 0; i < 3000; i++)
		random_write(&p);
	reopen_pair(&p, d1, d4, true);
	same_answers(&p);
	assert_int_equal(sutra_close(p.one), 0);
	assert_int_equal(sutra_close(p.four), 0);
	tu_rmrf(d1);
	tu_rmrf(d4);
	free(d1);
	free(d4);
}

/* ---- a vector index per shard ---------------------------------------------------- */

static size_t count_index_files(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "ls %s | grep -c '^vindex-.*\\.hnsw$'", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p && fscanf(p, "%zu", &n) != 1)
		n = 0;
	if (p)
		pclose(p);
	return n;
}

static void search_all(sutra_db *db, uint32_t ef, sutra_hit (*hits)[10], size_t *n, int queries)
{
	uint64_t rng = 99;

	for (int i = 0; i < queries; i++) {
		float q[DIM];
		for (int k = 0; k < DIM; k++)
			q[k] = (float)(tu_rand(&rng) % 2001) / 1000.0f - 1.0f;
		assert_int_equal(sutra_vector_search(db, q, DIM, 10, ef, hits[i], &n[i]), 0);
	}
}

/* Each shard indexes its own concepts and saves its graph in its directory
 * with every checkpoint; a search asks every shard and merges: recall
 * against the exact answer, and the same answers from the mapped files
 * after a reopen. */
static void test_shard_indexes(void **state)
{
	enum { N = 4000, Q = 40 };
	char *dir = tu_mkdtemp("shards-index");
	static sutra_hit exact[Q][10], approx[Q][10], again[Q][10];
	size_t ne[Q], na[Q], ng[Q];
	uint64_t rng = 7;
	sutra_stats st;

	(void)state;
	sutra_db *db = open_store(dir, 4);
	for (uint64_t i = 0; i < N; i++) {
		sutra_id id;
		float v[DIM];
		mk_id(i, &id);
		for (int k = 0; k < DIM; k++)
			v[k] = (float)(tu_rand(&rng) % 2001) / 1000.0f - 1.0f;
		assert_int_equal(learn(db, &id, "v", v), 0);
	}
	assert_int_equal(tu_index_ready(db, &st), 0);
	assert_int_equal(st.vectors_indexed, N);
	search_all(db, N, exact, ne, Q); /* ef above every shard's size: exact */
	search_all(db, 64, approx, na, Q);
	size_t found = 0;
	for (int i = 0; i < Q; i++) {
		assert_int_equal(ne[i], 10);
		for (size_t a = 0; a < na[i]; a++)
			for (size_t e = 0; e < 10; e++)
				found += memcmp(&approx[i][a].id, &exact[i][e].id,
				                sizeof(sutra_id)) == 0;
	}
	printf("shard indexes: recall@10 %.3f at ef 64 over 4 shards\n", (double)found / (Q * 10));
	assert_true(found >= Q * 10 * 95 / 100);

	assert_int_equal(sutra_checkpoint(db), 0);
	assert_int_equal(sutra_close(db), 0);
	for (int s = 0; s < 4; s++) {
		char name[32];
		snprintf(name, sizeof name, "shard_%04d", s);
		char *p = tu_path(dir, name);
		assert_int_equal(count_index_files(p), 1);
		free(p);
	}
	assert_int_equal(count_index_files(dir), 0);
	db = open_store(dir, 4);
	assert_int_equal(tu_index_ready(db, &st), 0);
	assert_int_equal(st.index_loaded, 1);
	search_all(db, 64, again, ng, Q);
	for (int i = 0; i < Q; i++) {
		assert_int_equal(ng[i], na[i]);
		assert_memory_equal(again[i], approx[i], na[i] * sizeof(sutra_hit));
	}
	assert_int_equal(sutra_close(db), 0);

	/* One index for all shards instead: rebuilt at the root, the shards'
	 * files go with the next checkpoint, the exact answers are the same. */
	sutra_options o;
	sutra_options_init(&o);
	o.dimension = DIM;
	o.vector_index_per_shard = 0;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	assert_int_equal(tu_index_ready(db, &st), 0);
	assert_int_equal(st.index_loaded, 0);
	assert_int_equal(st.vectors_indexed, N);
	search_all(db, N, again, ng, Q);
	for (int i = 0; i < Q; i++)
		assert_memory_equal(again[i], exact[i], 10 * sizeof(sutra_hit));
	sutra_id extra;
	mk_id(N, &extra);
	assert_int_equal(learn(db, &extra, "no vector", NULL), 0); /* something to checkpoint */
	assert_int_equal(sutra_checkpoint(db), 0);
	assert_int_equal(sutra_close(db), 0);
	assert_int_equal(count_index_files(dir), 1);
	char *s0 = tu_path(dir, "shard_0000");
	assert_int_equal(count_index_files(s0), 0);
	free(s0);
	tu_rmrf(dir);
	free(dir);
}

/* ---- repair of a transaction whose records contradict each other ----------------- */

/* A cross-shard association committed, then the participant's WAL lost
 * (its PREPARE with it): the COMMIT beside a missing PREPARE refuses the
 * open; repair drops the transaction whole and the store opens clean. */
static void test_repair_contradiction(void **state)
{
	char *dir = tu_mkdtemp("shards-repair");
	sutra_id a, c;
	uint64_t next = 0;
	sutra_options o;
	sutra_db *db;

	(void)state;
	db = open_store(dir, 2);
	id_in_shard(&next, 0, 2, &a);
	id_in_shard(&next, 1, 2, &c);
	assert_int_equal(learn(db, &a, "a", NULL), 0);
	assert_int_equal(learn(db, &c, "c", NULL), 0);
	assert_int_equal(sutra_associate(db, &a, &c, SUTRA_ASSOC_CAUSAL, 1, NULL), 0);
	assert_int_equal(sutra_close(db), 0);
	char *s1 = tu_path(dir, "shard_0001");
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -f %s/wal-*.log", s1);
	assert_int_equal(system(cmd), 0);
	free(s1);

	sutra_options_init(&o);
	o.dimension = DIM;
	assert_int_equal(sutra_open(dir, &o, &db), SUTRA_ECORRUPT);
	assert_non_null(strstr(sutra_last_error(), "PREPARE records are missing"));
	assert_non_null(strstr(sutra_last_error(), "repair"));
	o.repair = 1;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	assert_int_equal(sutra_exists(db, &a), 1);
	assert_int_equal(sutra_exists(db, &c), 0); /* its learn was in the lost log */
	assert_false(has_neighbor(db, &a, &c, SUTRA_DIR_OUT));
	assert_int_equal(sutra_close(db), 0);
	o.repair = 0;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	assert_int_equal(sutra_exists(db, &a), 1);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

/* ---- a shard's disk failing in the middle of a cross-shard write -------------------- */

/* The k-th fdatasync of a cross-shard association fails (the coordinator's
 * or the participant's, whichever comes first): the write fails, the store
 * turns read-only, and after a reopen the association is whole or absent,
 * with nothing left in doubt. */
static void test_participant_io_failure(void **state)
{
	(void)state;
	for (unsigned nth = 1; nth <= 2; nth++) {
		char *dir = tu_mkdtemp("shards-eio");
		sutra_options o;
		sutra_db *db;
		sutra_id a, c, d;
		uint64_t next = 0;
		sutra_stats st;

		sutra_options_init(&o);
		o.dimension = DIM;
		o.shards = 2;
		o.vector_index = 0;
		assert_int_equal(sutra_open(dir, &o, &db), 0);
		id_in_shard(&next, 0, 2, &a);
		id_in_shard(&next, 1, 2, &c);
		id_in_shard(&next, 1, 2, &d);
		assert_int_equal(learn(db, &a, "a", NULL), 0);
		assert_int_equal(learn(db, &c, "c", NULL), 0);
		sutra_fault_clear();
		sutra_fault_io(SUTRA_SITE_WAL_FSYNC, nth, SUTRA_FAULT_EIO);
		int rc = sutra_associate(db, &a, &c, SUTRA_ASSOC_CAUSAL, 1, NULL);
		sutra_fault_clear();
		assert_true(rc < 0);
		assert_int_equal(sutra_stats_get(db, &st), 0);
		assert_int_equal(st.read_only, 1);
		assert_int_equal(st.txn_active, 0);
		assert_true(learn(db, &d, "d", NULL) < 0); /* refused: read-only */
		assert_true(sutra_close(db) < 0);          /* reports the sticky error */
		o.shards = 0;
		assert_int_equal(sutra_open(dir, &o, &db), 0);
		int out = has_neighbor(db, &a, &c, SUTRA_DIR_OUT);
		assert_int_equal(has_neighbor(db, &c, &a, SUTRA_DIR_IN), out);
		assert_int_equal(sutra_exists(db, &a), 1);
		assert_int_equal(sutra_exists(db, &c), 1);
		assert_int_equal(sutra_stats_get(db, &st), 0);
		assert_int_equal(st.txn_active, 0);
		assert_int_equal(st.txn_prepared, 0);
		assert_int_equal(sutra_associate(db, &a, &c, SUTRA_ASSOC_CAUSAL, 1, NULL), 0);
		assert_int_equal(sutra_close(db), 0);
		tu_rmrf(dir);
		free(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routing),
	    cmocka_unit_test(test_layout_and_options),
	    cmocka_unit_test(test_txn_figures),
	    cmocka_unit_test(test_prepare_timeout),
	    cmocka_unit_test(test_differential),
	    cmocka_unit_test(test_shard_indexes),
	    cmocka_unit_test(test_repair_contradiction),
	    cmocka_unit_test(test_participant_io_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
