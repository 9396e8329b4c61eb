/* ann_store.c - the same vectors through a real store: sutra_learn, the background indexer,
 * sutra_vector_search.
 *
 * The raw index figures say what the HNSW can do; a user gets it through
 * the store, which adds a WAL, the concept table, a background indexer
 * thread that feeds the HNSW, and an exact "delta" over the vectors the
 * indexer has not taken in yet (src/vector/vindex.h). This opens a fresh
 * store (dimension of the data set, durability none so the disk does not
 * dominate, M and ef_construction as the raw index, defaults otherwise),
 * learns every base vector in batches of 1,000 (id = the vector's index,
 * content a short label), waits until sutra_stats reports index_lag == 0,
 * then times sutra_vector_search at one ef interleaved with the raw index
 * at the same ef (median of the runs each). The store's search is cosine
 * only, so only cosine data sets come here.
 */
#include "ann.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000
#define TAG   "ann-bench-vec"

typedef struct store_ix {
	sutra_db *db;
	uint32_t dim;
} store_ix;

static int su_fail(const char *what, int rc)
{
	return bu_err("%s: %s: %s", what, sutra_strerror(rc), sutra_last_error());
}

static void make_id(size_t i, sutra_id *id)
{
	memset(id, 0, sizeof(*id));
	memcpy(id->b, TAG, 12);
	id->b[12] = (uint8_t)(i >> 24);
	id->b[13] = (uint8_t)(i >> 16);
	id->b[14] = (uint8_t)(i >> 8);
	id->b[15] = (uint8_t)i;
}

static uint32_t id_index(const sutra_id *id)
{
	if (memcmp(id->b, TAG, 12) != 0)
		return ANN_NONE;
	return (uint32_t)id->b[12] << 24 | (uint32_t)id->b[13] << 16 | (uint32_t)id->b[14] << 8 |
	       id->b[15];
}

static int store_search(void *ix, const float *q, uint32_t ef, uint32_t out[ANN_K])
{
	store_ix *s = ix;
	sutra_hit hits[ANN_K];
	size_t n = 0;
	int rc = sutra_vector_search(s->db, q, s->dim, ANN_K, ef, hits, &n);

	if (rc < 0)
		return su_fail("sutra_vector_search", rc);
	for (size_t i = 0; i < ANN_K; i++)
		out[i] = i < n ? id_index(&hits[i].id) : ANN_NONE;
	return 0;
}

static int open_store(const ann_opts *o, const ann_data *d, const char *dir, sutra_db **db)
{
	sutra_options so;
	int rc;

	sutra_options_init(&so);
	so.dimension = d->dim;
	so.durability = SUTRA_DURABILITY_NONE;
	so.vector_index = 1;
	so.index_m = ANN_M;
	so.index_ef_construction = ANN_EFC;
	if ((rc = sutra_open(dir, &so, db)) < 0)
		return su_fail("sutra_open", rc);
	return 0;
}

/* Learns every base vector in batches of BATCH. */
static int learn_all(sutra_db *db, const ann_data *d)
{
	sutra_batch *b = NULL;
	char content[32];
	int rc = sutra_batch_new(&b);

	for (size_t i = 0; rc == 0 && i < d->n; i++) {
		sutra_concept_in c = {.content = content,
		                      .vector = ann_base(d, i),
		                      .vector_dim = d->dim,
		                      .strength = 1.0f,
		                      .confidence = 1.0f};
		make_id(i, &c.id);
		c.content_len =
		    (size_t)snprintf(content, sizeof(content), "%s vector %zu", d->name, i);
		if ((rc = sutra_batch_learn(b, &c)) == 0 &&
		    (i + 1 == d->n || (i + 1) % BATCH == 0)) {
			rc = sutra_batch_commit(db, b, NULL);
			sutra_batch_clear(b);
		}
	}
	sutra_batch_free(b);
	return rc < 0 ? su_fail("learn", rc) : 0;
}

static double process_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls the stats until the indexer has taken in every vector. */
static int wait_indexed(sutra_db *db, size_t n, uint64_t *indexed)
{
	struct timespec ms = {0, 1000000};
	sutra_stats st;
	int rc;

	for (;;) {
		if ((rc = sutra_stats_get(db, &st)) < 0)
			return su_fail("sutra_stats_get", rc);
		if (st.index_lag == 0 && st.vectors_indexed >= n)
			break;
		nanosleep(&ms, NULL);
	}
	*indexed = st.vectors_indexed;
	return 0;
}

/* Interleaved runs of the store and the raw index at o->store_ef. */
static int measure(const ann_opts *o, const ann_data *d, const ann_truth *t, const ann_engine *e[2],
                   ann_store_fig *f)
{
	uint32_t *res[2] = {malloc(d->nq * ANN_K * sizeof(uint32_t)),
	                    malloc(d->nq * ANN_K * sizeof(uint32_t))};
	double q[2][16], c[2][16], qps, cpu;
	int rc = res[0] && res[1] ? 0 : bu_err("out of memory");

	for (int k = 0; k < 2 && rc == 0; k++) /* warm-up */
		rc = ann_timed(o, e[k], d, o->store_ef, NULL, &qps, &cpu);
	for (int r = 0; r < o->runs && r < 16 && rc == 0; r++)
		for (int k = 0; k < 2 && rc == 0; k++) {
			int x = (r + k) % 2;
			rc = ann_timed(o, e[x], d, o->store_ef, r == 0 ? res[x] : NULL, &q[x][r],
			               &c[x][r]);
		}
	if (rc == 0) {
		f->qps = ann_median(q[0], o->runs);
		f->raw_qps = ann_median(q[1], o->runs);
		f->cpu = ann_median(c[0], o->runs);
		f->recall = ann_recall(d, t, res[0]);
		f->raw_recall = ann_recall(d, t, res[1]);
		for (size_t i = 0; i < d->nq; i++)
			f->differ += !ann_same_set(res[0] + i * ANN_K, res[1] + i * ANN_K);
	}
	free(res[0]);
	free(res[1]);
	return rc;
}

int ann_store_run(const ann_opts *o, const ann_data *d, const ann_truth *t, const ann_engine *raw,
                  ann_store_fig *f)
{
	char tag[32];
	char *dir;
	sutra_db *db = NULL;
	store_ix ix = {NULL, d->dim};
	int rc;

	snprintf(tag, sizeof(tag), "store-%s", d->name);
	if (!(dir = bu_mkdtemp(o->scratch, tag)))
		return -1;
	memset(f, 0, sizeof(*f));
	if ((rc = open_store(o, d, dir, &db)) == 0) {
		uint64_t t0 = bu_now_ns(), t1;
		double c1;
		ann_engine st = {"store", &ix, store_search};
		const ann_engine *e[2] = {&st, raw};

		ix.db = db;
		rc = learn_all(db, d);
		t1 = bu_now_ns();
		c1 = process_cpu_s();
		if (rc == 0 && (rc = wait_indexed(db, d->n, &f->indexed)) == 0) {
			f->learn_s = (double)(t1 - t0) / 1e9;
			f->catchup_s = (double)(bu_now_ns() - t1) / 1e9;
			f->catchup_cpu = (process_cpu_s() - c1) / f->catchup_s;
			rc = measure(o, d, t, e, f);
		}
		int crc = sutra_close(db);
		if (rc == 0 && crc < 0)
			rc = su_fail("sutra_close", crc);
	}
	bu_rmrf(dir);
	free(dir);
	return rc;
}
