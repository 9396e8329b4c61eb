/* ann_run.c - one data set, end to end: Sutra's HNSW against hnswlib and the exact scan.
 *
 * Both indexes get the same vectors in the same order, M = 16 and
 * ef_construction = 200, and are built single-threaded (a loop of
 * hnsw_add, a loop of hnswlib's addPoint) in the order that alternates from
 * one data set to the next. Sutra's index is used through
 * src/vector/hnsw.h with metric L2 or cosine; hnswlib through its L2Space or
 * InnerProductSpace on the same (already normalised) vectors. Then for each
 * ef of the sweep the two engines run the whole query set in turn, runs
 * times, alternating which goes first; a run repeats the set until
 * min_s has passed, QPS is the median of the runs, recall@10 comes from the
 * first run (both searches are deterministic). Everything is one thread;
 * each run also records the share of its wall time the thread spent on a
 * CPU (below ~0.95 means other work on the machine took the core).
 * Last, both indexes are saved and read back, runs times each, interleaved,
 * from the page cache: hnswlib's loadIndex against Sutra's hnsw_open_file
 * (a mapping, plus hnsw_verify, which the engine runs before serving).
 *
 * Targets (DESIGN.md: ratios against a real peer in the same run): build
 * time <= 0.8x hnswlib's; at recall@10 >= 0.95, QPS >= 1.3x hnswlib's at
 * its smallest ef reaching 0.95; at every ef, recall within 0.005 of
 * hnswlib's; open time <= 0.01x hnswlib's loadIndex time. A miss is
 * printed as MISSED, never hidden or retried.
 */
#include "ann.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "peer_hnswlib.h"
#include "vector/hnsw.h"

#define NEF         6
#define MAX_RUNS    9
#define R95         0.95
#define SCAN_Q      200 /* the exact scan is timed on the first SCAN_Q queries */
#define BUILD_RATIO 0.8
#define QPS_RATIO   1.3
#define RECALL_TOL  0.005
#define NOISY_CPU   0.90 /* below this CPU share a run was preempted a lot */
#define OPEN_RATIO  0.01 /* Sutra's open time over hnswlib's loadIndex time */

static const uint32_t sweep_ef[NEF] = {10, 20, 40, 80, 160, 320};
enum { SUTRA = 0, HNSWLIB = 1 };
static const char *const eng_name[2] = {"sutra", "hnswlib"};

typedef struct point {
	double recall[2], qps[2], qmin[2], qmax[2], cpu[2];
	double qps_cpu[2]; /* queries per second of the thread's CPU time */
} point;

/* One engine's index file. load_s is hnswlib's loadIndex or Sutra's
 * hnsw_open_file; verify_s is Sutra's hnsw_verify (hnswlib has none). */
typedef struct persist_fig {
	double mb, save_s, load_s, load_min, load_max, verify_s;
	size_t mismatched; /* queries whose results differ after loading */
	int ok;
} persist_fig;

typedef struct dstate {
	const ann_opts *o;
	ann_data d;
	ann_truth t;
	struct hnsw *ours;
	phnsw *peer;
	ann_engine eng[2];
	double build_s[2];
	double build_cpu_s[2]; /* CPU time of the building thread */
	int first;             /* which engine is built first */
	point pt[NEF];
	double scan_qps, scan_recall;
	persist_fig ps[2];
	ann_store_fig store;
	int store_rc; /* 1: not run (L2 data set) */
	int failed;
} dstate;

double ann_median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

static void sort_ids(uint32_t v[ANN_K])
{
	for (int i = 1; i < ANN_K; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

int ann_same_set(const uint32_t a[ANN_K], const uint32_t b[ANN_K])
{
	uint32_t x[ANN_K], y[ANN_K];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	sort_ids(x);
	sort_ids(y);
	return memcmp(x, y, sizeof(x)) == 0;
}

static char vname[64];

/* "<dataset>_<what>", in a static buffer (one line at a time). */
static const char *variant(const dstate *s, const char *what)
{
	snprintf(vname, sizeof(vname), "%s_%s", s->d.name, what);
	return vname;
}

static int fail_line(dstate *s, const char *what, const char *engine, const char *msg)
{
	bench_result r;

	bu_result_init(&r, "ann", variant(s, what), engine);
	r.error = msg && *msg ? msg : "unknown error";
	bu_result_emit(&r);
	s->failed++;
	return -1;
}

/* ---- engines ------------------------------------------------------------------ */

static int ours_search(void *ix, const float *q, uint32_t ef, uint32_t out[ANN_K])
{
	struct hnsw_hit hits[ANN_K];
	size_t n = 0;
	int rc = hnsw_search(ix, q, ANN_K, ef, NULL, NULL, hits, &n);

	if (rc < 0)
		return bu_err("hnsw_search: %s", sutra_strerror(rc));
	for (size_t i = 0; i < ANN_K; i++)
		out[i] = i < n ? hits[i].slot : ANN_NONE;
	return 0;
}

static int peer_search(void *ix, const float *q, uint32_t ef, uint32_t out[ANN_K])
{
	uint64_t labels[ANN_K];
	int n = phnsw_search(ix, q, ANN_K, ef, labels);

	if (n < 0)
		return bu_err("%s", phnsw_error());
	for (int i = 0; i < ANN_K; i++)
		out[i] = i < n ? (uint32_t)labels[i] : ANN_NONE;
	return 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ann_timed(const ann_opts *o, const ann_engine *e, const ann_data *d, uint32_t ef, uint32_t *res,
              double *qps, double *cpu)
{
	uint32_t scratch[ANN_K];
	uint64_t t0 = bu_now_ns(), c0 = thread_cpu_ns(), el;
	size_t done = 0;

	do {
		for (size_t q = 0; q < d->nq; q++, done++) {
			uint32_t *out = res && done < d->nq ? res + q * ANN_K : scratch;
			if (e->search(e->ix, ann_query(d, q), ef, out) < 0)
				return -1;
		}
		el = bu_now_ns() - t0;
	} while ((double)el < o->min_s * 1e9);
	*qps = (double)done / ((double)el / 1e9);
	*cpu = (double)(thread_cpu_ns() - c0) / (double)el;
	return 0;
}

/* ---- build -------------------------------------------------------------------- */

static int build_ours(dstate *s)
{
	struct hnsw_config cfg = {.dim = s->d.dim,
	                          .M = ANN_M,
	                          .ef_construction = ANN_EFC,
	                          .metric = s->d.metric == ANN_L2 ? HNSW_L2 : HNSW_COSINE,
	                          .seed = 0x51f7a};
	uint8_t key[16] = {0};
	uint64_t t0 = bu_now_ns(), c0 = thread_cpu_ns();
	int rc = hnsw_new(&cfg, &s->ours);

	for (size_t i = 0; rc == 0 && i < s->d.n; i++) {
		uint32_t slot = 0;
		memcpy(key, &i, sizeof(i));
		if ((rc = hnsw_add(s->ours, key, ann_base(&s->d, i), &slot)) == 0 && slot != i)
			return fail_line(s, "build", "sutra",
			                 "hnsw_add: slot differs from the index");
	}
	if (rc < 0)
		return fail_line(s, "build", "sutra", sutra_strerror(rc));
	s->build_s[SUTRA] = (double)(bu_now_ns() - t0) / 1e9;
	s->build_cpu_s[SUTRA] = (double)(thread_cpu_ns() - c0) / 1e9;
	s->eng[SUTRA] = (ann_engine){"sutra", s->ours, ours_search};
	return 0;
}

static int build_peer(dstate *s)
{
	uint64_t t0 = bu_now_ns(), c0 = thread_cpu_ns();
	int rc = phnsw_new(s->d.dim, s->d.metric == ANN_L2 ? PHNSW_L2 : PHNSW_IP, s->d.n, ANN_M,
	                   ANN_EFC, 100, &s->peer);

	for (size_t i = 0; rc == 0 && i < s->d.n; i++)
		rc = phnsw_add(s->peer, ann_base(&s->d, i), i);
	if (rc < 0)
		return fail_line(s, "build", "hnswlib", phnsw_error());
	s->build_s[HNSWLIB] = (double)(bu_now_ns() - t0) / 1e9;
	s->build_cpu_s[HNSWLIB] = (double)(thread_cpu_ns() - c0) / 1e9;
	s->eng[HNSWLIB] = (ann_engine){"hnswlib", s->peer, peer_search};
	return 0;
}

static void emit_build(dstate *s)
{
	for (int e = 0; e < 2; e++) {
		bench_result r;

		bu_result_init(&r, "ann", variant(s, "build"), eng_name[e]);
		r.ops = s->d.n;
		r.seconds = s->build_s[e];
		r.ops_per_s = (double)s->d.n / s->build_s[e];
		bu_result_extra(&r, "built_first", s->first == e);
		bu_result_extra(&r, "cpu", s->build_cpu_s[e] / s->build_s[e]);
		bu_result_extra(&r, "cpu_s", s->build_cpu_s[e]);
		if (e == SUTRA) {
			r.ratio_vs = "hnswlib";
			r.ratio = s->build_s[SUTRA] / s->build_s[HNSWLIB];
			r.target = "build time <= 0.8x hnswlib";
			r.met = r.ratio <= BUILD_RATIO;
			bu_result_extra(&r, "ratio_cpu",
			                s->build_cpu_s[SUTRA] / s->build_cpu_s[HNSWLIB]);
		}
		bu_result_emit(&r);
	}
}

static int build_both(dstate *s)
{
	int rc;

	printf("building (single-threaded, M=%d efC=%d, %s first) ...\n", ANN_M, ANN_EFC,
	       eng_name[s->first]);
	fflush(stdout);
	if (s->first == SUTRA)
		rc = build_ours(s) || build_peer(s);
	else
		rc = build_peer(s) || build_ours(s);
	if (rc == 0)
		emit_build(s);
	return rc ? -1 : 0;
}

/* ---- the ef sweep ------------------------------------------------------------------ */

/* runs interleaved runs of both engines at ef; fills p. */
static int measure_ef(dstate *s, uint32_t ef, uint32_t *res[2], point *p)
{
	double q[2][MAX_RUNS], c[2][MAX_RUNS], qc[2][MAX_RUNS];

	for (int r = 0; r < s->o->runs; r++)
		for (int k = 0; k < 2; k++) {
			int e = (r + k) % 2; /* sutra first on even runs */
			if (ann_timed(s->o, &s->eng[e], &s->d, ef, r == 0 ? res[e] : NULL, &q[e][r],
			              &c[e][r]) < 0)
				return fail_line(s, "sweep", eng_name[e], bu_lasterr());
			qc[e][r] = q[e][r] / c[e][r];
		}
	for (int e = 0; e < 2; e++) {
		p->recall[e] = ann_recall(&s->d, &s->t, res[e]);
		p->cpu[e] = ann_median(c[e], s->o->runs);
		p->qps_cpu[e] = ann_median(qc[e], s->o->runs);
		p->qps[e] = ann_median(q[e], s->o->runs);
		p->qmin[e] = q[e][0];
		p->qmax[e] = q[e][s->o->runs - 1];
	}
	return 0;
}

static void emit_point(dstate *s, int i)
{
	const point *p = &s->pt[i];
	char what[16];

	snprintf(what, sizeof(what), "ef%u", sweep_ef[i]);
	for (int e = 0; e < 2; e++) {
		bench_result r;

		bu_result_init(&r, "ann", variant(s, what), eng_name[e]);
		r.ops = s->d.nq;
		r.ops_per_s = p->qps[e];
		bu_result_extra(&r, "ef", sweep_ef[i]);
		bu_result_extra(&r, "recall", p->recall[e]);
		bu_result_extra(&r, "qps_min", p->qmin[e]);
		bu_result_extra(&r, "qps_max", p->qmax[e]);
		bu_result_extra(&r, "cpu", p->cpu[e]);
		bu_result_extra(&r, "qps_cpu", p->qps_cpu[e]);
		if (e == SUTRA) {
			bu_result_extra(&r, "hnswlib_recall", p->recall[HNSWLIB]);
			bu_result_extra(&r, "ratio_cpu", p->qps_cpu[SUTRA] / p->qps_cpu[HNSWLIB]);
			r.ratio_vs = "hnswlib";
			r.ratio = p->qps[SUTRA] / p->qps[HNSWLIB];
			r.target = "recall >= hnswlib - 0.005";
			r.met = p->recall[SUTRA] >= p->recall[HNSWLIB] - RECALL_TOL;
		}
		bu_result_emit(&r);
	}
}

static int sweep(dstate *s)
{
	uint32_t *res[2] = {malloc(s->d.nq * ANN_K * sizeof(uint32_t)),
	                    malloc(s->d.nq * ANN_K * sizeof(uint32_t))};
	double qps, cpu;
	int rc = 0;

	if (!res[0] || !res[1])
		rc = fail_line(s, "sweep", "all", "out of memory");
	for (int e = 0; e < 2 && rc == 0; e++) /* warm-up, untimed */
		rc = ann_timed(s->o, &s->eng[e], &s->d, sweep_ef[0], NULL, &qps, &cpu);
	for (int i = 0; i < NEF && rc == 0; i++)
		if ((rc = measure_ef(s, sweep_ef[i], res, &s->pt[i])) == 0)
			emit_point(s, i);
	free(res[0]);
	free(res[1]);
	return rc;
}

/* The smallest ef of the sweep whose recall reaches R95, or -1. */
static int first_r95(const dstate *s, int e)
{
	for (int i = 0; i < NEF; i++)
		if (s->pt[i].recall[e] >= R95)
			return i;
	return -1;
}

static void emit_r95(dstate *s)
{
	int a = first_r95(s, SUTRA), b = first_r95(s, HNSWLIB);
	bench_result r;

	bu_result_init(&r, "ann", variant(s, "r95"), "sutra");
	r.ops = s->d.nq;
	r.ops_per_s = a >= 0 ? s->pt[a].qps[SUTRA] : -1;
	bu_result_extra(&r, "ef", a >= 0 ? (double)sweep_ef[a] : -1);
	bu_result_extra(&r, "recall", a >= 0 ? s->pt[a].recall[SUTRA] : -1);
	bu_result_extra(&r, "hnswlib_ef", b >= 0 ? (double)sweep_ef[b] : -1);
	bu_result_extra(&r, "hnswlib_recall", b >= 0 ? s->pt[b].recall[HNSWLIB] : -1);
	bu_result_extra(&r, "hnswlib_qps", b >= 0 ? s->pt[b].qps[HNSWLIB] : -1);
	bu_result_extra(&r, "ratio_cpu",
	                a >= 0 && b >= 0 ? s->pt[a].qps_cpu[SUTRA] / s->pt[b].qps_cpu[HNSWLIB]
	                                 : -1);
	r.target = "QPS >= 1.3x hnswlib at recall@10 >= 0.95";
	if (a >= 0 && b >= 0) {
		r.ratio_vs = "hnswlib";
		r.ratio = s->pt[a].qps[SUTRA] / s->pt[b].qps[HNSWLIB];
	}
	r.met = a < 0 ? 0 : b < 0 ? -1 : r.ratio >= QPS_RATIO;
	bu_result_emit(&r);
}

/* ---- exact scan and persistence ------------------------------------------------------- */

static void exact(dstate *s)
{
	bench_result r;

	bu_result_init(&r, "ann", variant(s, "exact"), "exact");
	if (ann_exact_scan(s->o, &s->d, &s->t, SCAN_Q, &s->scan_qps, &s->scan_recall) < 0) {
		fail_line(s, "exact", "exact", bu_lasterr());
		return;
	}
	r.ops = SCAN_Q < s->d.nq ? SCAN_Q : s->d.nq;
	r.ops_per_s = s->scan_qps;
	bu_result_extra(&r, "recall", s->scan_recall);
	bu_result_emit(&r);
}

/* Queries whose top ANN_K sets differ between two engines at ef. */
static size_t mismatches(dstate *s, const ann_engine *a, const ann_engine *b, uint32_t ef)
{
	uint32_t x[ANN_K], y[ANN_K];
	size_t bad = 0;

	for (size_t q = 0; q < s->d.nq; q++)
		if (a->search(a->ix, ann_query(&s->d, q), ef, x) < 0 ||
		    b->search(b->ix, ann_query(&s->d, q), ef, y) < 0 || !ann_same_set(x, y))
			bad++;
	return bad;
}

/* Both files are read back right after they were written, so both loads
 * run from the page cache (warm): the figures compare the engines' work,
 * not the disk. */
static void persist_path(const dstate *s, int e, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s-%s.bin", s->o->scratch, s->d.name, eng_name[e]);
}

static int save_one(dstate *s, int e, const char *path)
{
	persist_fig *p = &s->ps[e];
	struct stat st;
	uint64_t t0 = bu_now_ns();

	if (e == SUTRA) {
		if (ann_file_save(s->ours, s->o->scratch, path, &p->save_s, &p->mb) < 0)
			return fail_line(s, "persist", "sutra", bu_lasterr());
		return 0;
	}
	if (phnsw_save(s->peer, path) < 0 || stat(path, &st) != 0)
		return fail_line(s, "persist", "hnswlib", phnsw_error());
	p->save_s = (double)(bu_now_ns() - t0) / 1e9;
	p->mb = (double)st.st_size / 1e6;
	return 0;
}

/* The indexes read back from the files (the last of the runs). */
typedef struct loaded {
	struct hnsw *ours;
	phnsw *peer;
} loaded;

/* Loads (hnswlib) or opens and verifies (Sutra) engine e's file once,
 * replacing the previous one in b; the times go to *load and *verify. */
static int load_one(dstate *s, int e, const char *path, loaded *b, double *load, double *verify)
{
	struct hnsw_config cfg = {.dim = s->d.dim,
	                          .M = ANN_M,
	                          .ef_construction = ANN_EFC,
	                          .metric = s->d.metric == ANN_L2 ? HNSW_L2 : HNSW_COSINE,
	                          .seed = 0x51f7a};
	uint64_t t0;

	if (e == HNSWLIB) {
		phnsw_free(b->peer);
		b->peer = NULL;
		t0 = bu_now_ns();
		if (phnsw_load(path, s->d.dim, s->d.metric == ANN_L2 ? PHNSW_L2 : PHNSW_IP,
		               &b->peer) < 0)
			return fail_line(s, "persist", "hnswlib", phnsw_error());
		*load = (double)(bu_now_ns() - t0) / 1e9;
		return 0;
	}
	hnsw_free(b->ours);
	b->ours = NULL;
	if (ann_file_open(path, &cfg, &b->ours, load) < 0 ||
	    ann_file_verify(b->ours, path, verify) < 0)
		return fail_line(s, "persist", "sutra", bu_lasterr());
	return 0;
}

/* Runs interleaved loads of both files (the engine loaded first
 * alternates), then compares the last loaded indexes with the built ones. */
static void load_both(dstate *s, char path[2][512], loaded *b)
{
	double load[2][MAX_RUNS], verify[2][MAX_RUNS] = {{0}};

	for (int r = 0; r < s->o->runs; r++)
		for (int k = 0; k < 2; k++) {
			int e = (r + k) % 2;
			if (s->ps[e].ok)
				s->ps[e].ok =
				    load_one(s, e, path[e], b, &load[e][r], &verify[e][r]) == 0;
		}
	for (int e = 0; e < 2; e++) {
		persist_fig *p = &s->ps[e];
		ann_engine back = e == SUTRA ? (ann_engine){"sutra-opened", b->ours, ours_search}
		                             : (ann_engine){"hnswlib-loaded", b->peer, peer_search};

		if (!p->ok)
			continue;
		p->verify_s = ann_median(verify[e], s->o->runs);
		p->load_s = ann_median(load[e], s->o->runs);
		p->load_min = load[e][0];
		p->load_max = load[e][s->o->runs - 1];
		p->mismatched = mismatches(s, &s->eng[e], &back, 40);
	}
}

static void emit_persist(dstate *s, int e)
{
	const persist_fig *p = &s->ps[e], *peer = &s->ps[HNSWLIB];
	bench_result r;

	bu_result_init(&r, "ann", variant(s, "persist"), eng_name[e]);
	r.ops = s->d.n;
	r.seconds = p->load_s;
	bu_result_extra(&r, "file_mb", p->mb);
	bu_result_extra(&r, "save_s", p->save_s);
	bu_result_extra(&r, e == SUTRA ? "open_s" : "load_s", p->load_s);
	bu_result_extra(&r, e == SUTRA ? "open_min_s" : "load_min_s", p->load_min);
	bu_result_extra(&r, e == SUTRA ? "open_max_s" : "load_max_s", p->load_max);
	bu_result_extra(&r, "changed_queries", (double)p->mismatched);
	bu_result_extra(&r, "warm", 1);
	if (e == SUTRA) {
		bu_result_extra(&r, "verify_s", p->verify_s);
		r.target = "open <= 0.01x hnswlib loadIndex";
		if (peer->ok) {
			r.ratio_vs = "hnswlib";
			r.ratio = p->load_s / peer->load_s;
			r.met = r.ratio <= OPEN_RATIO;
			bu_result_extra(&r, "hnswlib_load_s", peer->load_s);
			bu_result_extra(&r, "ratio_open_verify",
			                (p->load_s + p->verify_s) / peer->load_s);
		}
	}
	bu_result_emit(&r);
}

static void persist_both(dstate *s)
{
	char path[2][512];
	loaded b = {NULL, NULL};

	printf("index files: saving both, then loading each %d times (interleaved, warm page "
	       "cache) ...\n",
	       s->o->runs);
	fflush(stdout);
	for (int e = 0; e < 2; e++) {
		persist_path(s, e, path[e], sizeof(path[e]));
		s->ps[e].ok = save_one(s, e, path[e]) == 0;
	}
	load_both(s, path, &b);
	for (int e = 0; e < 2; e++)
		if (s->ps[e].ok)
			emit_persist(s, e);
	phnsw_free(b.peer);
	hnsw_free(b.ours);
	unlink(path[HNSWLIB]);
	unlink(path[SUTRA]);
}

/* ---- store path ------------------------------------------------------------------------- */

static void store(dstate *s)
{
	bench_result r;

	s->store_rc = 1;
	if (s->d.metric != ANN_COSINE)
		return; /* the store's vector search is cosine only */
	printf("store path: learning %zu vectors into a store, then searching at ef=%u ...\n",
	       s->d.n, s->o->store_ef);
	fflush(stdout);
	if ((s->store_rc = ann_store_run(s->o, &s->d, &s->t, &s->eng[SUTRA], &s->store)) < 0) {
		fail_line(s, "store", "store", bu_lasterr());
		return;
	}
	bu_result_init(&r, "ann", variant(s, "store"), "store");
	r.ops = s->d.nq;
	r.ops_per_s = s->store.qps;
	bu_result_extra(&r, "ef", s->o->store_ef);
	bu_result_extra(&r, "recall", s->store.recall);
	bu_result_extra(&r, "raw_qps", s->store.raw_qps);
	bu_result_extra(&r, "raw_recall", s->store.raw_recall);
	bu_result_extra(&r, "learn_s", s->store.learn_s);
	bu_result_extra(&r, "catchup_s", s->store.catchup_s);
	bu_result_extra(&r, "catchup_cpu", s->store.catchup_cpu);
	bu_result_extra(&r, "indexed", (double)s->store.indexed);
	bu_result_extra(&r, "changed_queries", (double)s->store.differ);
	bu_result_extra(&r, "cpu", s->store.cpu);
	r.ratio_vs = "raw_hnsw";
	r.ratio = s->store.qps / s->store.raw_qps;
	bu_result_emit(&r);
}

/* ---- summary ---------------------------------------------------------------------------- */

static const char *mark(int met)
{
	return met < 0 ? "n/a" : met ? "met" : "MISSED";
}

/* The lower of the two engines' CPU shares at sweep point i. */
static double min_cpu(const point *p)
{
	return p->cpu[SUTRA] < p->cpu[HNSWLIB] ? p->cpu[SUTRA] : p->cpu[HNSWLIB];
}

static void summary_sweep(const dstate *s)
{
	int noisy = 0;

	printf("     ef | recall@10 sutra hnswlib   diff | QPS sutra   hnswlib  ratio  "
	       "by-cpu | cpu s/h\n");
	for (int i = 0; i < NEF; i++) {
		const point *p = &s->pt[i];
		double diff = p->recall[SUTRA] - p->recall[HNSWLIB];

		noisy += min_cpu(p) < NOISY_CPU;
		printf("  %5u |          %.3f   %.3f %+.3f%s| %9.0f %9.0f  %5.2f  %5.2f  | "
		       "%.2f/%.2f%s\n",
		       sweep_ef[i], p->recall[SUTRA], p->recall[HNSWLIB], diff,
		       diff >= -RECALL_TOL ? "  " : " !", p->qps[SUTRA], p->qps[HNSWLIB],
		       p->qps[SUTRA] / p->qps[HNSWLIB], p->qps_cpu[SUTRA] / p->qps_cpu[HNSWLIB],
		       p->cpu[SUTRA], p->cpu[HNSWLIB], min_cpu(p) < NOISY_CPU ? " *" : "");
	}
	printf("  (ratio: wall-clock QPS, the figure the targets use; by-cpu: queries per "
	       "CPU-second of the search thread; ! recall more than %.3f below hnswlib",
	       RECALL_TOL);
	if (noisy)
		printf("; * a run lost more than %.0f%% of its wall time to other work: its "
		       "wall-clock ratio is not trustworthy",
		       (1 - NOISY_CPU) * 100);
	printf(")\n");
}

static void summary_r95(const dstate *s)
{
	int a = first_r95(s, SUTRA), b = first_r95(s, HNSWLIB), below = 0;

	for (int i = 0; i < NEF; i++)
		below += s->pt[i].recall[SUTRA] < s->pt[i].recall[HNSWLIB] - RECALL_TOL;
	printf("  recall at equal ef: sutra below hnswlib - %.3f at %d of %d ef values "
	       "(target 0: %s)\n",
	       RECALL_TOL, below, NEF, mark(below == 0));
	printf("  QPS at recall@10 >= %.2f: ", R95);
	if (a >= 0)
		printf("sutra ef=%u (%.3f) %.0f QPS; ", sweep_ef[a], s->pt[a].recall[SUTRA],
		       s->pt[a].qps[SUTRA]);
	else
		printf("sutra never reaches %.2f (ef <= 320); ", R95);
	if (b >= 0)
		printf("hnswlib ef=%u (%.3f) %.0f QPS", sweep_ef[b], s->pt[b].recall[HNSWLIB],
		       s->pt[b].qps[HNSWLIB]);
	else
		printf("hnswlib never reaches %.2f", R95);
	if (a >= 0 && b >= 0) {
		double ratio = s->pt[a].qps[SUTRA] / s->pt[b].qps[HNSWLIB];
		double rc = s->pt[a].qps_cpu[SUTRA] / s->pt[b].qps_cpu[HNSWLIB];
		printf("; ratio %.2f, by cpu %.2f (target >= %.1f: %s)%s\n", ratio, rc, QPS_RATIO,
		       mark(ratio >= QPS_RATIO),
		       min_cpu(&s->pt[a]) < NOISY_CPU || min_cpu(&s->pt[b]) < NOISY_CPU
		           ? " [* preempted runs]"
		           : "");
	} else {
		printf(" (target >= %.1f: %s)\n", QPS_RATIO, mark(a < 0 ? 0 : -1));
	}
}

static void summary_persist(const dstate *s)
{
	const persist_fig *o = &s->ps[SUTRA], *p = &s->ps[HNSWLIB];

	printf("  index file (warm page cache, median of %d, interleaved):\n", s->o->runs);
	if (p->ok)
		printf("    hnswlib: %.1f MB, save %.3f s, loadIndex %.3f ms, %zu of %zu queries "
		       "changed after load\n",
		       p->mb, p->save_s, p->load_s * 1e3, p->mismatched, s->d.nq);
	else
		printf("    hnswlib: ERROR (see above)\n");
	if (!o->ok) {
		printf("    sutra: ERROR (see above)\n");
		return;
	}
	printf("    sutra:   %.1f MB on disk, save %.3f s, hnsw_open_file %.3f ms (maps, copies "
	       "nothing), hnsw_verify %.3f ms, %zu of %zu queries changed after open\n",
	       o->mb, o->save_s, o->load_s * 1e3, o->verify_s * 1e3, o->mismatched, s->d.nq);
	if (p->ok)
		printf(
		    "    open / loadIndex %.4f (target <= %.2f: %s); (open + verify) / loadIndex "
		    "%.3f\n",
		    o->load_s / p->load_s, OPEN_RATIO, mark(o->load_s / p->load_s <= OPEN_RATIO),
		    (o->load_s + o->verify_s) / p->load_s);
}

static void summary_store(const dstate *s)
{
	const ann_store_fig *f = &s->store;

	if (s->store_rc == 1) {
		printf("  store path: not measured (sutra_vector_search is cosine only; this data "
		       "set is L2)\n");
		return;
	}
	if (s->store_rc < 0) {
		printf("  store path: ERROR (see above)\n");
		return;
	}
	printf("  store path (sutra_open/learn/vector_search, ef=%u): learn %.2f s + indexer "
	       "catch-up %.2f s at %.2f cores (raw build %.2f s); %.0f QPS recall %.3f vs raw "
	       "index %.0f QPS recall %.3f: x%.2f%s\n",
	       s->o->store_ef, f->learn_s, f->catchup_s, f->catchup_cpu, s->build_s[SUTRA], f->qps,
	       f->recall, f->raw_qps, f->raw_recall, f->qps / f->raw_qps,
	       f->cpu < NOISY_CPU ? " [* preempted runs]" : "");
}

static void summary(const dstate *s)
{
	double br = s->build_s[SUTRA] / s->build_s[HNSWLIB];
	double bc[2] = {s->build_cpu_s[SUTRA] / s->build_s[SUTRA],
	                s->build_cpu_s[HNSWLIB] / s->build_s[HNSWLIB]};

	printf("\nsummary %s: %zu base x %u-d (%s), %zu queries, M=%d efC=%d, one thread, QPS "
	       "median of %d runs of >= %.2f s\n",
	       s->d.name, s->d.n, s->d.dim, s->d.metric == ANN_L2 ? "L2" : "cosine", s->d.nq, ANN_M,
	       ANN_EFC, s->o->runs, s->o->min_s);
	printf("  build: sutra %.2f s, hnswlib %.2f s, ratio %.2f, by cpu %.2f (target <= %.1f: "
	       "%s); cpu s/h %.2f/%.2f%s\n",
	       s->build_s[SUTRA], s->build_s[HNSWLIB], br,
	       s->build_cpu_s[SUTRA] / s->build_cpu_s[HNSWLIB], BUILD_RATIO,
	       mark(br <= BUILD_RATIO), bc[0], bc[1],
	       bc[0] < NOISY_CPU || bc[1] < NOISY_CPU ? " [* preempted]" : "");
	summary_sweep(s);
	summary_r95(s);
	printf("  exact scan (sutra %s kernels, first %d queries): %.0f QPS, recall %.3f\n",
	       ann_kernels_name(), SCAN_Q, s->scan_qps, s->scan_recall);
	summary_persist(s);
	summary_store(s);
	printf("\n");
}

/* ---- entry ------------------------------------------------------------------------------- */

static void print_inputs(const dstate *s)
{
	printf("\n== %s: %s\n", s->d.name, s->d.source);
	printf("   %zu base (of %zu) x %u-d, %zu queries (of %zu); %s; loaded in %.1f s\n", s->d.n,
	       s->d.pool_n, s->d.dim, s->d.nq, s->d.pool_q, s->d.note, s->d.load_s);
	printf("   ground truth: exact top-%d in double precision, %s in %.1f s\n", ANN_K,
	       s->t.cached ? "read from the cache" : "computed", s->t.build_s);
	printf("   kernels: sutra %s (run-time dispatch); hnswlib %s\n", ann_kernels_name(),
	       phnsw_simd(s->d.dim));
	fflush(stdout);
}

int ann_run_dataset(const ann_opts *o, const char *name, int index)
{
	dstate *s = calloc(1, sizeof(*s));
	int failed;

	if (!s)
		return 1;
	s->o = o;
	s->first = index % 2 ? HNSWLIB : SUTRA;
	s->d.name = name;
	if (ann_load(name, o, &s->d) < 0 || ann_truth_get(o, &s->d, &s->t) < 0) {
		fail_line(s, "load", "all", bu_lasterr());
	} else {
		print_inputs(s);
		if (build_both(s) == 0 && sweep(s) == 0) {
			emit_r95(s);
			exact(s);
			persist_both(s);
			store(s);
			summary(s);
		}
	}
	hnsw_free(s->ours);
	phnsw_free(s->peer);
	ann_truth_free(&s->t);
	ann_data_free(&s->d);
	failed = s->failed;
	free(s);
	return failed;
}
