/* ann_file.c - Sutra's vector index file, timed: save, open, verify; and the open-scale section.
 *
 * The engine saves its HNSW with every checkpoint (hnsw_save: a temporary
 * file, fsync, rename, directory fsync) and at start maps it back
 * (hnsw_open_file: MAP_PRIVATE plus header and bounds checks, O(1) in the
 * number of vectors except for copying the last, partial chunk of 16,384
 * slots), then checks it in the background before serving (hnsw_verify:
 * every checksum and every link). The helpers here time those three calls
 * for the persist section of each data set (ann_run.c) and for this file's
 * open-scale section.
 *
 * open-scale shows that opening does not grow with the index: synthetic
 * uniform random 128-d vectors (fixed seed, L2), N = 100,000 and 1,000,000,
 * built with M = 16 and a low ef_construction (16) so that the million
 * takes minutes instead of an hour. Graph quality does not matter here:
 * the file's size and layout depend on N, dim and M only (every level-0
 * list has room for 2M links whatever it holds), and opening reads the
 * header and the chunk table, never the lists. Each index is saved under
 * the scratch directory, opened SCALE_RUNS times (warm page cache: the file
 * was just written), verified after every open, its answers to
 * SCALE_Q queries compared with the in-memory index's, and deleted.
 * Target: a 1,000,000 x 128-d index opens in <= 100 ms.
 */
#include "ann.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/hnsw.h"

#define SCALE_DIM      128
#define SCALE_EFC      16
#define SCALE_RUNS     5
#define SCALE_Q        200 /* queries compared between the built and the opened index */
#define SCALE_EF       40
#define SCALE_TARGET_S 0.1 /* open time of the 1M index */
#define SCALE_SEED     0x0be5ca1eull
#define NSCALE         2

static const size_t scale_n[NSCALE] = {100000, 1000000};

static double since_s(uint64_t t0)
{
	return (double)(bu_now_ns() - t0) / 1e9;
}

static int hnsw_fail(const char *what, int rc)
{
	return bu_err("%s: %s: %s", what, sutra_strerror(rc), sutra_last_error());
}

/* ---- timed calls ------------------------------------------------------------------ */

int ann_file_save(const struct hnsw *h, const char *dir, const char *path, double *save_s,
                  double *mb)
{
	struct hnsw_file_meta m = {0, 0}; /* the LSNs mean nothing outside a store */
	struct stat st;
	uint64_t t0 = bu_now_ns();
	int rc = hnsw_save(h, dir, path, &m);

	if (rc < 0)
		return hnsw_fail("hnsw_save", rc);
	*save_s = since_s(t0);
	if (stat(path, &st) != 0)
		return bu_err("stat %s: %s", path, strerror(errno));
	*mb = (double)st.st_blocks * 512 / 1e6; /* on disk: the last chunk's tail is a hole */
	return 0;
}

int ann_file_open(const char *path, const struct hnsw_config *cfg, struct hnsw **out,
                  double *open_s)
{
	struct hnsw_file_meta m;
	uint64_t t0 = bu_now_ns();
	int rc = hnsw_open_file(path, cfg, out, &m);

	*open_s = since_s(t0);
	return rc < 0 ? hnsw_fail("hnsw_open_file", rc) : 0;
}

int ann_file_verify(const struct hnsw *h, const char *path, double *verify_s)
{
	uint64_t t0 = bu_now_ns();
	int rc = hnsw_verify(h, path);

	*verify_s = since_s(t0);
	return rc < 0 ? hnsw_fail("hnsw_verify", rc) : 0;
}

/* ---- open-scale ------------------------------------------------------------------- */

typedef struct scale_fig {
	size_t n;
	double build_s, save_s, mb;
	double open_s, open_min, open_max, verify_s;
	size_t changed; /* of SCALE_Q queries, top 10 differ after opening */
	int ok;
} scale_fig;

/* Vector i of the synthetic set (query vectors use another seed): uniform
 * in [-1, 1), from its own PRNG stream so any i can be made alone. */
static void scale_vec(uint64_t seed, size_t i, float *v)
{
	uint64_t st = seed ^ (i * 0x9e3779b97f4a7c15ull);

	for (int d = 0; d < SCALE_DIM; d++)
		v[d] = (float)((double)(bu_rand(&st) >> 11) * 0x1p-52) - 1.0f;
}

static const struct hnsw_config scale_cfg = {
    .dim = SCALE_DIM, .M = ANN_M, .ef_construction = SCALE_EFC, .metric = HNSW_L2, .seed = 0x51f7a};

/* One thread, one hnsw_add per vector, as the data sets are built. */
static int scale_build(size_t n, struct hnsw **out, double *build_s)
{
	float v[SCALE_DIM];
	uint8_t key[16] = {0};
	uint64_t t0 = bu_now_ns();
	int rc = hnsw_new(&scale_cfg, out);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint32_t slot;
		scale_vec(SCALE_SEED, i, v);
		memcpy(key, &i, sizeof(i));
		rc = hnsw_add(*out, key, v, &slot);
	}
	if (rc < 0)
		return hnsw_fail(*out ? "hnsw_add" : "hnsw_new", rc);
	*build_s = since_s(t0);
	return 0;
}

/* Queries whose top ANN_K differ between the two indexes at SCALE_EF. */
static int scale_changed(struct hnsw *a, struct hnsw *b, size_t *changed)
{
	float q[SCALE_DIM];
	struct hnsw_hit ha[ANN_K], hb[ANN_K];
	uint32_t x[ANN_K], y[ANN_K];
	int rc = 0;

	*changed = 0;
	for (size_t i = 0; i < SCALE_Q && rc == 0; i++) {
		size_t na = 0, nb = 0;
		scale_vec(~SCALE_SEED, i, q);
		if ((rc = hnsw_search(a, q, ANN_K, SCALE_EF, NULL, NULL, ha, &na)) < 0 ||
		    (rc = hnsw_search(b, q, ANN_K, SCALE_EF, NULL, NULL, hb, &nb)) < 0)
			return hnsw_fail("hnsw_search", rc);
		for (size_t k = 0; k < ANN_K; k++) {
			x[k] = k < na ? ha[k].slot : ANN_NONE;
			y[k] = k < nb ? hb[k].slot : ANN_NONE;
		}
		*changed += !ann_same_set(x, y);
	}
	return 0;
}

/* SCALE_RUNS opens, each verified; the last opened index is compared with
 * the built one. */
static int scale_opens(const char *path, struct hnsw *built, scale_fig *f)
{
	double open[SCALE_RUNS], verify[SCALE_RUNS];
	struct hnsw *h = NULL;
	int rc = 0;

	for (int r = 0; r < SCALE_RUNS && rc == 0; r++) {
		hnsw_free(h);
		h = NULL;
		if ((rc = ann_file_open(path, &scale_cfg, &h, &open[r])) == 0)
			rc = ann_file_verify(h, path, &verify[r]);
	}
	if (rc == 0 && (rc = scale_changed(built, h, &f->changed)) == 0) {
		f->verify_s = ann_median(verify, SCALE_RUNS);
		f->open_s = ann_median(open, SCALE_RUNS); /* sorts open */
		f->open_min = open[0];
		f->open_max = open[SCALE_RUNS - 1];
	}
	hnsw_free(h);
	return rc;
}

static int scale_one(const ann_opts *o, size_t n, scale_fig *f)
{
	char path[1024];
	struct hnsw *built = NULL;
	int rc;

	printf("open-scale: building %zu x %d-d (M=%d efC=%d, one thread) ...\n", n, SCALE_DIM,
	       ANN_M, SCALE_EFC);
	fflush(stdout);
	snprintf(path, sizeof(path), "%s/open-scale-%zu.hnsw", o->scratch, n);
	f->n = n;
	if ((rc = scale_build(n, &built, &f->build_s)) == 0 &&
	    (rc = ann_file_save(built, o->scratch, path, &f->save_s, &f->mb)) == 0)
		rc = scale_opens(path, built, f);
	hnsw_free(built);
	unlink(path);
	f->ok = rc == 0;
	return rc;
}

static void scale_emit(const scale_fig *f, const scale_fig *first)
{
	char var[32];
	bench_result r;

	snprintf(var, sizeof(var), "openscale_%zuk", f->n / 1000);
	bu_result_init(&r, "ann", var, "sutra");
	r.ops = f->n;
	r.seconds = f->open_s;
	bu_result_extra(&r, "open_s", f->open_s);
	bu_result_extra(&r, "open_min_s", f->open_min);
	bu_result_extra(&r, "open_max_s", f->open_max);
	bu_result_extra(&r, "verify_s", f->verify_s);
	bu_result_extra(&r, "file_mb", f->mb);
	bu_result_extra(&r, "save_s", f->save_s);
	bu_result_extra(&r, "build_s", f->build_s);
	bu_result_extra(&r, "changed_queries", (double)f->changed);
	if (f != first && first->ok) {
		r.ratio_vs = "openscale_100k";
		r.ratio = f->open_s / first->open_s;
	}
	if (f->n == 1000000) {
		r.target = "open of 1,000,000 x 128-d <= 100 ms";
		r.met = f->open_s <= SCALE_TARGET_S;
	}
	bu_result_emit(&r);
}

static void scale_summary(const scale_fig *f)
{
	printf("\nsummary open-scale: uniform random %d-d, L2, M=%d efC=%d; hnsw_open_file "
	       "median of %d (warm page cache), hnsw_verify median of %d, %d queries compared "
	       "at ef=%d\n",
	       SCALE_DIM, ANN_M, SCALE_EFC, SCALE_RUNS, SCALE_RUNS, SCALE_Q, SCALE_EF);
	printf("          N | MB on disk |  build s |  save s | open ms (min..max)      | verify "
	       "ms | changed\n");
	for (int i = 0; i < NSCALE; i++) {
		if (!f[i].ok) {
			printf("  %9zu | ERROR (see above)\n", scale_n[i]);
			continue;
		}
		printf("  %9zu | %10.1f | %8.1f | %7.2f | %7.3f (%7.3f..%7.3f) | %9.1f | %7zu\n",
		       f[i].n, f[i].mb, f[i].build_s, f[i].save_s, f[i].open_s * 1e3,
		       f[i].open_min * 1e3, f[i].open_max * 1e3, f[i].verify_s * 1e3, f[i].changed);
	}
	if (f[0].ok && f[1].ok) {
		double g = f[1].open_s / f[0].open_s;
		/* sub-millisecond times move by 2x with the machine's load */
		printf("  open time 1M / 100k: %.2f for %.1fx the file (%s)\n", g,
		       f[1].mb / f[0].mb,
		       g < 2 ? "flat: opening does not grow with N"
		             : "GREW: compare the min..max spread");
	}
	if (f[1].ok)
		printf("  target: 1,000,000 x %d-d opens in <= %.0f ms: %.3f ms, %s\n", SCALE_DIM,
		       SCALE_TARGET_S * 1e3, f[1].open_s * 1e3,
		       f[1].open_s <= SCALE_TARGET_S ? "met" : "MISSED");
	printf("\n");
}

int ann_open_scale(const ann_opts *o)
{
	scale_fig f[NSCALE];
	int failed = 0;

	memset(f, 0, sizeof(f));
	printf("\n== open-scale: synthetic uniform random %d-d vectors, N = 100,000 and "
	       "1,000,000; built with efC=%d (open time does not depend on graph quality); "
	       "files in %s, deleted after\n",
	       SCALE_DIM, SCALE_EFC, o->scratch);
	for (int i = 0; i < NSCALE; i++) {
		bench_result r;
		char var[32];

		if (scale_one(o, scale_n[i], &f[i]) == 0) {
			scale_emit(&f[i], &f[0]);
			continue;
		}
		snprintf(var, sizeof(var), "openscale_%zuk", scale_n[i] / 1000);
		bu_result_init(&r, "ann", var, "sutra");
		r.error = bu_lasterr();
		bu_result_emit(&r);
		failed++;
	}
	scale_summary(f);
	return failed;
}
