/* ann.h - shared declarations of sutra-bench-ann, the vector-search benchmark.
 *
 * The program measures Sutra's HNSW (src/vector/hnsw.h, and
 * sutra_vector_search through a real store) against hnswlib and an exact
 * scan, on real data sets nobody on the team wrote. The pieces:
 *  - ann_data.c loads a data set (Fashion-MNIST, GloVe 100-d, WordNet
 *    glosses hashed to 384-d), splits base and query vectors with a fixed
 *    seed and normalises them for cosine;
 *  - ann_truth.c computes the exact top-k in double precision (the answer
 *    key, cached in the build tree), scores recall against it, and times
 *    the exact scan with Sutra's own distance kernels (the floor);
 *  - ann_run.c builds both indexes, sweeps ef, compares them and prints;
 *  - ann_file.c times Sutra's index file (save, open, verify) for the
 *    persist figures and runs the open-scale section (1M synthetic vectors);
 *  - ann_store.c drives the same vectors through sutra_open/sutra_learn/
 *    sutra_vector_search to show what the store path costs;
 *  - ann_main.c reads the options and runs each data set in a forked
 *    process with a watchdog.
 * Every search engine is seen through ann_engine: a search that writes the
 * k nearest base indices of one query.
 */
#ifndef SUTRA_BENCH_ANN_H
#define SUTRA_BENCH_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#define ANN_K       10 /* recall@10 */
#define ANN_M       16
#define ANN_EFC     200
#define ANN_HOLDOUT 1000 /* queries held out of GloVe and WordNet */
#define ANN_NONE    UINT32_MAX

enum ann_metric { ANN_L2 = 0, ANN_COSINE = 1 };

typedef struct ann_opts {
	int quick;
	size_t base_n;    /* base vectors (0: the whole set) */
	size_t queries_n; /* queries (0: all there are) */
	int runs;         /* timed runs per figure (median) */
	double min_s;     /* each timed run lasts at least this long */
	uint32_t store_ef;
	const char *scratch; /* fresh per run, removed at the end */
	const char *cache;   /* data downloads and ground truth, kept */
	const char *glove;   /* the GloVe JSON file, or NULL to fetch it */
} ann_opts;

/* A data set after sampling: base and query vectors, row-major f32. */
typedef struct ann_data {
	const char *name;  /* "fashion", "glove", "wordnet" */
	char source[1024]; /* where it was read from */
	char note[256];    /* how it was made (split, hashing, skipped rows) */
	int metric;        /* enum ann_metric; cosine sets are normalised */
	uint32_t dim;
	size_t n, nq;   /* sampled base vectors and queries */
	size_t pool_n;  /* base vectors available before sampling */
	size_t pool_q;  /* queries available before sampling */
	float *base;    /* n * dim */
	float *queries; /* nq * dim */
	double load_s;
} ann_data;

/* The exact k nearest base indices of every query, and their distances. */
typedef struct ann_truth {
	uint32_t *ids; /* nq * ANN_K */
	double *dist;  /* nq * ANN_K, ascending */
	double build_s;
	int cached; /* read from the cache */
} ann_truth;

/* A search engine: the ANN_K nearest base indices of q (ANN_NONE fills
 * the rest). Returns 0 or -1 with the message in bu_lasterr(). */
typedef struct ann_engine {
	const char *name;
	void *ix;
	int (*search)(void *ix, const float *q, uint32_t ef, uint32_t out[ANN_K]);
} ann_engine;

/* ---- ann_data.c ------------------------------------------------------------ */

int ann_load(const char *name, const ann_opts *o, ann_data *d);
void ann_data_free(ann_data *d);
const float *ann_query(const ann_data *d, size_t i);
const float *ann_base(const ann_data *d, size_t i);

/* ---- ann_truth.c ----------------------------------------------------------- */

/* Exact top ANN_K for every query, from the cache when it matches. */
int ann_truth_get(const ann_opts *o, const ann_data *d, ann_truth *t);
void ann_truth_free(ann_truth *t);
/* Exact distance (double precision) between query qi and base vector bi. */
double ann_distance(const ann_data *d, size_t qi, uint32_t bi);
/* recall@ANN_K of res (nq * ANN_K indices): a result counts when its exact
 * distance is within the true k-th distance (ties count). */
double ann_recall(const ann_data *d, const ann_truth *t, const uint32_t *res);
/* Exact scan with Sutra's distance kernels over the first nq queries;
 * *recall is its recall (a check of the kernels). */
int ann_exact_scan(const ann_opts *o, const ann_data *d, const ann_truth *t, size_t nq, double *qps,
                   double *recall);
const char *ann_kernels_name(void);

/* ---- ann_run.c ------------------------------------------------------------- */

/* Runs the whole comparison on one data set (index: its place in the run,
 * which decides the build order); returns failed measurements. */
int ann_run_dataset(const ann_opts *o, const char *name, int index);
/* Searches every query, repeating the set until o->min_s has passed.
 * res (nq * ANN_K, may be NULL) gets the results; *qps the rate and
 * *cpu the share of the wall time this thread was on a CPU. */
int ann_timed(const ann_opts *o, const ann_engine *e, const ann_data *d, uint32_t ef, uint32_t *res,
              double *qps, double *cpu);
double ann_median(double *v, int n);
/* 1 when two result lists hold the same indices (order aside: tied
 * neighbours may come in either order). */
int ann_same_set(const uint32_t a[ANN_K], const uint32_t b[ANN_K]);

/* ---- ann_file.c ------------------------------------------------------------ */

struct hnsw;
struct hnsw_config;

/* Slots per chunk of Sutra's index file (CHUNK in src/vector/hnsw_impl.h):
 * hnsw_open_file maps the full chunks and copies the last, partial one into
 * memory so it can grow, which is the only part of opening that grows
 * with the file (up to one chunk, whatever N is). */

/* Slots and MB hnsw_open_file copies for n vectors of dim with M = ANN_M. */
/* hnsw_save (metadata LSNs zero) timed; *mb the file's size. Returns 0 or
 * -1 with the message in bu_lasterr(). */
int ann_file_save(const struct hnsw *h, const char *dir, const char *path, double *save_s,
                  double *mb);
/* hnsw_open_file timed; caller frees *out with hnsw_free. */
int ann_file_open(const char *path, const struct hnsw_config *cfg, struct hnsw **out,
                  double *open_s);
/* hnsw_verify timed (the engine runs it before searching an opened file). */
int ann_file_verify(const struct hnsw *h, const char *path, double *verify_s);
/* The open-scale section: 100k and 1M synthetic vectors built, saved,
 * opened and verified in o->scratch; returns failed measurements. */
int ann_open_scale(const ann_opts *o);

/* ---- ann_store.c ----------------------------------------------------------- */

typedef struct ann_store_fig {
	double learn_s;     /* sutra_learn of every vector (batches of 1,000) */
	double catchup_s;   /* from the last commit until index_lag == 0 */
	double catchup_cpu; /* process CPU seconds per second meanwhile (the indexer) */
	double qps, raw_qps, recall, raw_recall, cpu;
	uint64_t indexed; /* vectors_indexed once caught up (slots, updates included) */
	size_t differ;    /* queries whose top ANN_K differ from the raw index's */
} ann_store_fig;

/* Opens a store in o->scratch, learns the base vectors, waits for the
 * indexer, then searches at o->store_ef interleaved with raw (the bare
 * index at the same ef). */
int ann_store_run(const ann_opts *o, const ann_data *d, const ann_truth *t, const ann_engine *raw,
                  ann_store_fig *f);

#endif
