/* ann_truth.c - the answer key (exact top-k in double precision), recall, and the exact-scan floor.
 *
 * The ground truth does not use any of Sutra's code: a plain scalar loop
 * computes every query-to-base distance in double precision (products and
 * differences of two floats are exact in double) and keeps the ANN_K
 * nearest, ties broken by index. It runs on every online CPU (it is
 * preparation, not a measurement) and is cached in the cache directory,
 * keyed by data set, sizes and a hash of every input float, so a changed
 * input recomputes it. Recall is counted the way ann-benchmarks does it:
 * a returned index counts when its exact distance is no larger than the
 * true k-th distance plus a small tolerance (1e-6 relative + 1e-6
 * absolute: the rounding of an f32 distance, which every engine here
 * computes), so equally distant neighbours (duplicate images, identical
 * glosses) are not held against an engine.
 *
 * The exact scan is the floor every index must beat: the same loop over
 * all base vectors, but in f32 with Sutra's own run-time-dispatched
 * distance kernels (src/vector/distance.h, what the store's exact search
 * and the HNSW use), one thread.
 */
#include "ann.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vector/distance.h"

#define TRUTH_MAGIC "SUTRAGT1"

typedef struct truth_hdr {
	char magic[8];
	uint64_t n, nq, dim, k, hash;
} truth_hdr;

void ann_truth_free(ann_truth *t)
{
	free(t->ids);
	free(t->dist);
	t->ids = NULL;
	t->dist = NULL;
}

/* ---- exact distances ---------------------------------------------------------- */

static double dist_double(int metric, const float *a, const float *b, uint32_t dim)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t i = 0;

	if (metric == ANN_L2) {
		for (; i + 2 <= dim; i += 2) {
			double x = (double)a[i] - b[i], y = (double)a[i + 1] - b[i + 1];
			s0 += x * x;
			s1 += y * y;
		}
		for (; i < dim; i++)
			s2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		return s0 + s1 + s2;
	}
	for (; i + 4 <= dim; i += 4) {
		s0 += (double)a[i] * b[i];
		s1 += (double)a[i + 1] * b[i + 1];
		s2 += (double)a[i + 2] * b[i + 2];
		s3 += (double)a[i + 3] * b[i + 3];
	}
	for (; i < dim; i++)
		s0 += (double)a[i] * b[i];
	return 1.0 - ((s0 + s1) + (s2 + s3));
}

double ann_distance(const ann_data *d, size_t qi, uint32_t bi)
{
	return dist_double(d->metric, ann_query(d, qi), ann_base(d, bi), d->dim);
}

/* Keeps the ANN_K smallest (dist, id) in ascending order. */
static void topk_offer(double *dist, uint32_t *ids, double dd, uint32_t id)
{
	int i = ANN_K - 1;

	if (dd > dist[i] || (dd == dist[i] && id >= ids[i]))
		return;
	while (i > 0 && (dist[i - 1] > dd || (dist[i - 1] == dd && ids[i - 1] > id))) {
		dist[i] = dist[i - 1];
		ids[i] = ids[i - 1];
		i--;
	}
	dist[i] = dd;
	ids[i] = id;
}

static void topk_init(double *dist, uint32_t *ids)
{
	for (int i = 0; i < ANN_K; i++) {
		dist[i] = INFINITY;
		ids[i] = ANN_NONE;
	}
}

/* ---- ground truth ---------------------------------------------------------------- */

typedef struct truth_job {
	const ann_data *d;
	ann_truth *t;
	size_t from, to;
} truth_job;

static void *truth_worker(void *arg)
{
	truth_job *j = arg;
	const ann_data *d = j->d;

	for (size_t q = j->from; q < j->to; q++) {
		double *dist = j->t->dist + q * ANN_K;
		uint32_t *ids = j->t->ids + q * ANN_K;

		topk_init(dist, ids);
		for (size_t b = 0; b < d->n; b++)
			topk_offer(dist, ids, ann_distance(d, q, (uint32_t)b), (uint32_t)b);
	}
	return NULL;
}

static void truth_compute(const ann_data *d, ann_truth *t)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nt = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
	pthread_t th[16];
	truth_job jobs[16];
	int started = 0;

	for (int i = 0; i < nt; i++) {
		jobs[i] = (truth_job){d, t, d->nq * (size_t)i / (size_t)nt,
		                      d->nq * (size_t)(i + 1) / (size_t)nt};
		if (i > 0 && pthread_create(&th[i], NULL, truth_worker, &jobs[i]) == 0)
			started |= 1 << i;
		else if (i > 0)
			truth_worker(&jobs[i]);
	}
	truth_worker(&jobs[0]);
	for (int i = 1; i < nt; i++)
		if (started & (1 << i))
			pthread_join(th[i], NULL);
}

/* ---- cache ------------------------------------------------------------------------- */

static uint64_t data_hash(const ann_data *d)
{
	const uint32_t *w[2] = {(const uint32_t *)d->base, (const uint32_t *)d->queries};
	size_t len[2] = {d->n * d->dim, d->nq * d->dim};
	uint64_t h = 0x9e3779b97f4a7c15ull ^ d->metric;

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < len[s]; i++)
			h = (h ^ w[s][i]) * 0x100000001b3ull;
	return h;
}

static void cache_path(const ann_opts *o, const ann_data *d, char *path, size_t cap)
{
	snprintf(path, cap, "%s/truth-%s-%zu-%zu.bin", o->cache, d->name, d->n, d->nq);
}

static int cache_read(const char *path, const truth_hdr *want, ann_truth *t)
{
	FILE *f = fopen(path, "rb");
	truth_hdr h;
	int ok;

	if (!f)
		return 0;
	ok = fread(&h, sizeof(h), 1, f) == 1 && memcmp(&h, want, sizeof(h)) == 0 &&
	     fread(t->ids, sizeof(*t->ids) * ANN_K, want->nq, f) == want->nq &&
	     fread(t->dist, sizeof(*t->dist) * ANN_K, want->nq, f) == want->nq;
	fclose(f);
	return ok;
}

static void cache_write(const char *path, const truth_hdr *h, const ann_truth *t)
{
	char tmp[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return; /* no cache: computed again next time */
	int ok = fwrite(h, sizeof(*h), 1, f) == 1 &&
	         fwrite(t->ids, sizeof(*t->ids) * ANN_K, h->nq, f) == h->nq &&
	         fwrite(t->dist, sizeof(*t->dist) * ANN_K, h->nq, f) == h->nq;
	if (fclose(f) == 0 && ok)
		rename(tmp, path);
	else
		unlink(tmp);
}

int ann_truth_get(const ann_opts *o, const ann_data *d, ann_truth *t)
{
	truth_hdr h;
	char path[512];
	uint64_t t0 = bu_now_ns();

	memset(t, 0, sizeof(*t));
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TRUTH_MAGIC, 8);
	h.n = d->n;
	h.nq = d->nq;
	h.dim = d->dim;
	h.k = ANN_K;
	h.hash = data_hash(d);
	t->ids = malloc(d->nq * ANN_K * sizeof(*t->ids));
	t->dist = malloc(d->nq * ANN_K * sizeof(*t->dist));
	if (!t->ids || !t->dist) {
		ann_truth_free(t);
		return bu_err("out of memory for the ground truth");
	}
	cache_path(o, d, path, sizeof(path));
	t->cached = cache_read(path, &h, t);
	if (!t->cached) {
		truth_compute(d, t);
		cache_write(path, &h, t);
	}
	t->build_s = (double)(bu_now_ns() - t0) / 1e9;
	return 0;
}

/* ---- recall -------------------------------------------------------------------------- */

/* recall@ANN_K of the first nq queries' results. */
static double recall_of(const ann_data *d, const ann_truth *t, const uint32_t *res, size_t nq)
{
	size_t hits = 0;

	for (size_t q = 0; q < nq; q++) {
		double kth = t->dist[q * ANN_K + ANN_K - 1];
		double lim = kth + 1e-6 * fabs(kth) + 1e-6;

		for (int i = 0; i < ANN_K; i++) {
			uint32_t id = res[q * ANN_K + i];
			int dup = 0;
			for (int j = 0; j < i && !dup; j++)
				dup = res[q * ANN_K + j] == id;
			if (id != ANN_NONE && id < d->n && !dup && ann_distance(d, q, id) <= lim)
				hits++;
		}
	}
	return nq ? (double)hits / (double)(nq * ANN_K) : 0;
}

double ann_recall(const ann_data *d, const ann_truth *t, const uint32_t *res)
{
	return recall_of(d, t, res, d->nq);
}

/* ---- exact scan with Sutra's kernels --------------------------------------------------- */

const char *ann_kernels_name(void)
{
	return distance_kernels()->name;
}

static void scan_one(const ann_data *d, const struct dist_kernels *k, size_t q, uint32_t *out)
{
	double dist[ANN_K];
	const float *qv = ann_query(d, q);

	topk_init(dist, out);
	for (size_t b = 0; b < d->n; b++) {
		const float *bv = ann_base(d, b);
		float x =
		    d->metric == ANN_L2 ? k->l2sq(qv, bv, d->dim) : 1.0f - k->dot(qv, bv, d->dim);
		topk_offer(dist, out, x, (uint32_t)b);
	}
}

int ann_exact_scan(const ann_opts *o, const ann_data *d, const ann_truth *t, size_t nq, double *qps,
                   double *recall)
{
	const struct dist_kernels *k = distance_kernels();
	uint32_t *res = malloc(d->nq * ANN_K * sizeof(*res));
	size_t done = 0;
	uint64_t t0, el;

	if (!res)
		return bu_err("out of memory for the exact scan");
	nq = nq < d->nq ? nq : d->nq;
	t0 = bu_now_ns();
	do {
		scan_one(d, k, done % nq, res + (done % nq) * ANN_K);
		done++;
		el = bu_now_ns() - t0;
	} while (done < nq || (double)el < o->min_s * 1e9);
	*qps = (double)done / ((double)el / 1e9);
	*recall = recall_of(d, t, res, nq);
	free(res);
	return 0;
}
