/* graph_query.c - the in-process section: sutra_find_path, sutra_neighbors and sutra_khop
 * against SQLite on the same WordNet graph and the same inputs.
 *
 * Both engines are loaded from the same pre-parsed records in fresh files
 * of the scratch directory: Sutra through the batch API (durability none;
 * loading is measured by the import section), SQLite as graph_sqlite.c
 * describes. Each engine is checked before it is timed:
 *  - FindPath: an untimed pass over every pair checks each Sutra path
 *    against the answer key (length = the reference BFS's hop count, the
 *    right ends, every step an association); SQLite's hop counts are
 *    compared with the same key on its sample. A mismatch is counted and
 *    the first few are printed; it does not stop the run.
 *  - neighbours: Sutra's total and SQLite's row count must equal the
 *    concept's degree in the CSR.
 *  - 2-hop: both counts must equal min(reference count, GB_KHOP_LIMIT).
 * Then every query is timed alone (clock_gettime around the call). Sutra's
 * FindPath runs o->reps passes over the pairs; SQLite's runs once over the
 * first o->sqlite_pairs pairs (a random sample, since the pairs are drawn
 * at random) with a per-query cap. The ratio is taken on those same pairs:
 * SQLite's median over Sutra's median (per pair, Sutra's median over its
 * passes). The floor (graph_floor.c) runs the same pairs o->reps times and
 * is checked against the same key. Neighbours and 2-hop alternate one pass of each engine, o->reps
 * times, over the same start concepts.
 */
#include "graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH "graph"

typedef struct qrun {
	const gb_opts *o;
	const gb_data *d;
	sutra_db *db;
	gs_db *sq;
	char *dir;
} qrun;

static void lat_value(char *out, size_t n, const bu_lat *l)
{
	if (l->p50_us >= 10000)
		snprintf(out, n, "p50 %.0f ms, p99 %.0f ms", l->p50_us / 1e3, l->p99_us / 1e3);
	else
		snprintf(out, n, "p50 %.1f us, p99 %.1f us", l->p50_us, l->p99_us);
}

static void emit_lat(bench_result *r, const bu_lat *l)
{
	bu_result_extra(r, "p50_us", l->p50_us);
	bu_result_extra(r, "p99_us", l->p99_us);
	bu_result_extra(r, "mean_us", l->mean_us);
}

static double median_of(const uint64_t *v, size_t n)
{
	uint64_t tmp[64];

	if (n > 64)
		n = 64;
	memcpy(tmp, v, n * sizeof(*v));
	return (double)bu_quantile(tmp, n, 0.5);
}

/* ---- FindPath ------------------------------------------------------------------------ */

/* Untimed: every Sutra path against the answer key. Returns mismatches. */
static size_t fp_verify(qrun *q)
{
	sutra_id path[GB_MAX_DEPTH + 1];
	size_t bad = 0;

	for (size_t i = 0; i < q->d->npairs; i++) {
		const gb_pair *p = &q->d->pair[i];
		size_t len = 0;
		char why[160] = "";
		int rc = sutra_find_path(q->db, &q->d->c[p->a].id, &q->d->c[p->b].id, GB_MAX_DEPTH,
		                         path, &len);
		int ok = rc == 0 ? gd_check_path(q->d, p, path, len, why, sizeof(why)) == 0
		                 : rc == SUTRA_ENOTFOUND && p->hops == GB_NO_PATH;
		if (rc < 0 && rc != SUTRA_ENOTFOUND)
			snprintf(why, sizeof(why), "%s", sutra_last_error());
		else if (rc < 0 && !ok)
			snprintf(why, sizeof(why), "not found, the answer key says %d hops",
			         p->hops);
		if (!ok && bad++ < 5)
			printf("  sutra FindPath mismatch, pair %zu: %s\n", i, why);
	}
	return bad;
}

/* o->reps passes; lat[i * reps + r] is pair i's time in pass r. */
static int fp_time_sutra(qrun *q, uint64_t *lat)
{
	sutra_id path[GB_MAX_DEPTH + 1];
	int reps = q->o->reps;

	for (int r = 0; r < reps; r++)
		for (size_t i = 0; i < q->d->npairs; i++) {
			const gb_pair *p = &q->d->pair[i];
			size_t len;
			uint64_t t0 = bu_now_ns();
			int rc = sutra_find_path(q->db, &q->d->c[p->a].id, &q->d->c[p->b].id,
			                         GB_MAX_DEPTH, path, &len);
			lat[i * (size_t)reps + (size_t)r] = bu_now_ns() - t0;
			if (rc < 0 && rc != SUTRA_ENOTFOUND)
				return bu_err("sutra_find_path: %s", sutra_last_error());
		}
	return 0;
}

typedef struct sq_fp {
	size_t n, capped, bad;
	uint64_t *lat;
} sq_fp;

static int fp_time_sqlite(qrun *q, sq_fp *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const gb_pair *p = &q->d->pair[i];
		int hops;
		uint64_t t0 = bu_now_ns();
		int rc = gs_hops(q->sq, &q->d->c[p->a].id, &q->d->c[p->b].id, q->o->sqlite_cap_ms,
		                 &hops);
		s->lat[i] = bu_now_ns() - t0;
		if (rc < 0)
			return -1;
		s->capped += rc == 1;
		if (rc == 0 && hops != p->hops && s->bad++ < 5)
			printf("  sqlite FindPath mismatch, pair %zu: %d hops, the answer key says "
			       "%d\n",
			       i, hops, p->hops);
	}
	return 0;
}

static void fp_emit_sqlite(const qrun *q, const sq_fp *s, const bu_lat *l)
{
	bench_result r;
	char v[128];
	double sum = l->mean_us * (double)l->n / 1e6;

	bu_result_init(&r, BENCH, "findpath", "sqlite");
	r.ops = s->n;
	r.seconds = sum;
	r.ops_per_s = sum > 0 ? (double)s->n / sum : -1;
	emit_lat(&r, l);
	bu_result_extra(&r, "capped", (double)s->capped);
	bu_result_extra(&r, "cap_ms", q->o->sqlite_cap_ms);
	bu_result_extra(&r, "mismatches", (double)s->bad);
	bu_result_emit(&r);
	lat_value(v, sizeof(v), l);
	snprintf(v + strlen(v), sizeof(v) - strlen(v), " (%zu pairs, %zu capped)", s->n, s->capped);
	bu_summary_add("FindPath SQLite CTE", v, NULL, -1);
}

typedef struct fp_fig {
	bu_lat all;       /* every Sutra sample */
	double floor_p50; /* the CSR floor's median, us */
	double sub_p50;   /* Sutra on SQLite's pairs: median of per-pair medians, us */
	double sub_sum;   /* ... their sum, us */
	double ratio;     /* SQLite p50 / sub_p50 */
	double ratio_mean;
	size_t bad;
} fp_fig;

static void fp_emit_sutra(const qrun *q, const fp_fig *f, const sq_fp *s)
{
	bench_result r;
	char v[128], t[64];
	int met_lat = f->all.p50_us <= GB_FP_INPROC_P50_US, met_x = f->ratio >= GB_FP_VS_SQLITE;

	bu_result_init(&r, BENCH, "findpath", "sutra");
	r.ops = f->all.n;
	r.seconds = f->all.mean_us * (double)f->all.n / 1e6;
	r.ops_per_s = r.seconds > 0 ? (double)r.ops / r.seconds : -1;
	r.ratio_vs = s->n ? "sqlite" : NULL;
	r.ratio = f->ratio;
	snprintf(t, sizeof(t), "p50<=%.0fus%s", GB_FP_INPROC_P50_US,
	         s->n ? ", >=1000x sqlite" : "");
	r.target = t;
	r.met = met_lat && (met_x || !s->n);
	emit_lat(&r, &f->all);
	bu_result_extra(&r, "max_us", f->all.max_us);
	bu_result_extra(&r, "pairs", (double)q->d->npairs);
	bu_result_extra(&r, "mismatches", (double)f->bad);
	bu_result_extra(&r, "sample_p50_us", s->n ? f->sub_p50 : -1);
	bu_result_extra(&r, "ratio_mean", s->n ? f->ratio_mean : -1);
	bu_result_extra(&r, "sqlite_pairs", (double)s->n);
	bu_result_extra(&r, "vs_floor", f->floor_p50 > 0 ? f->all.p50_us / f->floor_p50 : -1);
	bu_result_emit(&r);
	lat_value(v, sizeof(v), &f->all);
	bu_summary_add("FindPath in-process", v, "p50 <= 50 us", met_lat);
	if (!s->n)
		return;
	snprintf(v, sizeof(v), "x%.0f (p50, %zu pairs%s), x%.0f (mean)", f->ratio, s->n,
	         s->capped ? ", capped: lower bound" : "", f->ratio_mean);
	bu_summary_add("FindPath Sutra vs SQLite", v, ">= 1000x", met_x);
}

/* ---- the floor: the same search on the flat CSR ---------------------------------------------- */

static void floor_emit(const qrun *q, const bu_lat *l, uint64_t *vis, size_t bad)
{
	size_t n = q->d->npairs;
	double v50 = (double)bu_quantile(vis, n, 0.5), v99 = (double)bu_quantile(vis, n, 0.99);
	bench_result r;
	char v[160];

	bu_result_init(&r, BENCH, "findpath", "csr_floor");
	r.ops = l->n;
	r.seconds = l->mean_us * (double)l->n / 1e6;
	r.ops_per_s = r.seconds > 0 ? (double)r.ops / r.seconds : -1;
	emit_lat(&r, l);
	bu_result_extra(&r, "visited_p50", v50);
	bu_result_extra(&r, "visited_p99", v99);
	bu_result_extra(&r, "mismatches", (double)bad);
	bu_result_emit(&r);
	lat_value(v, sizeof(v), l);
	snprintf(v + strlen(v), sizeof(v) - strlen(v), "; visits p50 %.0f", v50);
	bu_summary_add("FindPath floor (BFS on flat CSR)", v, NULL, -1);
}

/* o->reps timed passes of the floor; returns its median (us) or -1. */
static double fp_floor(qrun *q)
{
	size_t np = q->d->npairs, reps = (size_t)q->o->reps, bad = 0;
	uint64_t *lat = malloc(np * reps * sizeof(*lat)), *vis = malloc(np * sizeof(*vis));
	gb_floor *f = gf_new(q->d);
	bu_lat l = {0};

	for (size_t r = 0; f && lat && vis && r < reps; r++)
		for (size_t i = 0; i < np; i++) {
			const gb_pair *p = &q->d->pair[i];
			size_t visited;
			uint64_t t0 = bu_now_ns();
			int hops = gf_hops(f, p->a, p->b, &visited);
			lat[r * np + i] = bu_now_ns() - t0;
			vis[i] = visited;
			bad += r == 0 && hops != p->hops;
		}
	if (f && lat && vis) {
		bu_lat_of(&l, lat, np * reps);
		floor_emit(q, &l, vis, bad);
	}
	gf_free(f);
	free(lat);
	free(vis);
	return l.n ? l.p50_us : -1;
}

/* Sutra's figures on the pairs SQLite ran, and the ratios. */
static void fp_compare(qrun *q, const uint64_t *lat, const sq_fp *s, const bu_lat *sl, fp_fig *f)
{
	uint64_t *med = malloc((s->n ? s->n : 1) * sizeof(*med));
	size_t reps = (size_t)q->o->reps;

	f->sub_sum = 0;
	for (size_t i = 0; med && i < s->n; i++) {
		med[i] = (uint64_t)median_of(&lat[i * reps], reps);
		f->sub_sum += (double)med[i] / 1e3;
	}
	f->sub_p50 = med && s->n ? (double)bu_quantile(med, s->n, 0.5) / 1e3 : 0;
	f->ratio = f->sub_p50 > 0 ? sl->p50_us / f->sub_p50 : -1;
	f->ratio_mean = f->sub_sum > 0 ? sl->mean_us * (double)s->n / f->sub_sum : -1;
	free(med);
}

static int findpath(qrun *q)
{
	size_t n = q->d->npairs * (size_t)q->o->reps;
	uint64_t *lat = malloc(n * sizeof(*lat));
	sq_fp s = {q->o->sqlite_pairs < q->d->npairs ? q->o->sqlite_pairs : q->d->npairs, 0, 0,
	           NULL};
	fp_fig f = {0};
	bu_lat sl = {0};
	int rc = -1;

	s.lat = malloc((s.n ? s.n : 1) * sizeof(*s.lat));
	if (!lat || !s.lat) {
		bu_err("out of memory");
		goto out;
	}
	f.bad = fp_verify(q);
	if (fp_time_sutra(q, lat) < 0 || (s.n && fp_time_sqlite(q, &s) < 0))
		goto out;
	bu_lat_of(&f.all, lat, n);
	f.floor_p50 = fp_floor(q);
	bu_lat_of(&sl, s.lat, s.n);
	fp_compare(q, lat, &s, &sl, &f);
	if (s.n)
		fp_emit_sqlite(q, &s, &sl);
	fp_emit_sutra(q, &f, &s);
	gu_shared_set("fp_inproc_p50_us", f.all.p50_us);
	gu_shared_set("fp_sqlite_p50_us", s.n ? sl.p50_us : -1);
	gu_shared_set("fp_sqlite_pairs", (double)s.n);
	rc = 0;
out:
	free(lat);
	free(s.lat);
	return rc;
}

/* ---- neighbours and 2-hop ----------------------------------------------------------- */

/* Distinct concepts within GB_KHOP_DEPTH hops of x (x excluded), capped at
 * GB_KHOP_LIMIT: the answer key of the 2-hop figure. */
static size_t ref_khop(const gb_data *d, uint32_t x, uint32_t *stamp, uint32_t epoch)
{
	size_t n = 0;

	stamp[x] = epoch;
	for (uint32_t k = d->off[x]; k < d->off[x + 1]; k++) {
		uint32_t y = d->adj[k];
		n += stamp[y] != epoch;
		stamp[y] = epoch;
	}
	for (uint32_t k = d->off[x]; k < d->off[x + 1]; k++)
		for (uint32_t j = d->off[d->adj[k]]; j < d->off[d->adj[k] + 1]; j++) {
			uint32_t z = d->adj[j];
			n += stamp[z] != epoch;
			stamp[z] = epoch;
		}
	return n < GB_KHOP_LIMIT ? n : GB_KHOP_LIMIT;
}

enum { Q_NEIGHBORS, Q_KHOP };

typedef struct small_q {
	int kind;
	sutra_neighbor *nb;
	size_t nb_cap;
	sutra_khop_hit *hits;
	size_t bad[2]; /* sutra, sqlite */
} small_q;

static int sutra_small(qrun *q, small_q *s, const sutra_id *id, size_t *n)
{
	sutra_graph_query gq;
	int trunc, rc;

	if (s->kind == Q_NEIGHBORS) {
		rc =
		    sutra_neighbors(q->db, id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, s->nb, s->nb_cap, n);
		return rc < 0 ? bu_err("sutra_neighbors: %s", sutra_last_error()) : 0;
	}
	sutra_graph_query_init(&gq);
	gq.max_depth = GB_KHOP_DEPTH;
	gq.direction = SUTRA_DIR_BOTH;
	rc = sutra_khop(q->db, id, &gq, s->hits, GB_KHOP_LIMIT, n, &trunc);
	return rc < 0 ? bu_err("sutra_khop: %s", sutra_last_error()) : 0;
}

static int sqlite_small(qrun *q, small_q *s, const sutra_id *id, size_t *n)
{
	return s->kind == Q_NEIGHBORS ? gs_neighbors(q->sq, id, n) : gs_khop(q->sq, id, n);
}

/* One timed pass of one engine over the starts; checks counts against want[]. */
static int small_pass(qrun *q, small_q *s, int sqlite, const size_t *want, uint64_t *lat)
{
	for (size_t i = 0; i < q->d->npairs; i++) {
		const sutra_id *id = &q->d->c[q->d->pair[i].a].id;
		size_t n = 0;
		uint64_t t0 = bu_now_ns();
		int rc = sqlite ? sqlite_small(q, s, id, &n) : sutra_small(q, s, id, &n);
		lat[i] = bu_now_ns() - t0;
		if (rc < 0)
			return -1;
		if (n != want[i] && s->bad[sqlite]++ < 3)
			printf("  %s %s mismatch, start %zu: %zu results, expected %zu\n",
			       sqlite ? "sqlite" : "sutra",
			       s->kind == Q_KHOP ? "2-hop" : "neighbours", i, n, want[i]);
	}
	return 0;
}

static void small_emit(const qrun *q, const small_q *s, const bu_lat *l)
{
	const char *var = s->kind == Q_KHOP ? "khop2" : "neighbors";
	const char *label = s->kind == Q_KHOP ? "2-hop k-hop" : "neighbours";
	bench_result r[2];
	char v[160], fig[64];

	for (int e = 0; e < 2; e++) {
		bu_result_init(&r[e], BENCH, var, e ? "sqlite" : "sutra");
		r[e].ops = l[e].n;
		r[e].seconds = l[e].mean_us * (double)l[e].n / 1e6;
		r[e].ops_per_s = r[e].seconds > 0 ? (double)r[e].ops / r[e].seconds : -1;
		emit_lat(&r[e], &l[e]);
		bu_result_extra(&r[e], "mismatches", (double)s->bad[e]);
	}
	r[0].ratio_vs = "sqlite";
	r[0].ratio = l[0].p50_us > 0 ? l[1].p50_us / l[0].p50_us : -1;
	bu_result_emit(&r[1]);
	bu_result_emit(&r[0]);
	for (int e = 0; e < 2; e++) {
		lat_value(v, sizeof(v), &l[e]);
		if (e == 0)
			snprintf(v + strlen(v), sizeof(v) - strlen(v), ", x%.0f vs SQLite",
			         r[0].ratio);
		snprintf(fig, sizeof(fig), "%s %s", label, e ? "SQLite" : "in-process");
		bu_summary_add(fig, v, NULL, -1);
	}
}

static void small_want(const qrun *q, int kind, size_t *want, uint32_t *stamp)
{
	for (size_t i = 0; i < q->d->npairs; i++) {
		uint32_t a = q->d->pair[i].a;
		want[i] = kind == Q_KHOP ? ref_khop(q->d, a, stamp, (uint32_t)i + 1)
		                         : q->d->off[a + 1] - q->d->off[a];
	}
}

static int small_section(qrun *q, small_q *s)
{
	size_t np = q->d->npairs, reps = (size_t)q->o->reps;
	uint64_t *lat[2] = {malloc(np * reps * 8), malloc(np * reps * 8)};
	size_t *want = malloc(np * sizeof(*want));
	uint32_t *stamp = calloc(q->d->nc, sizeof(*stamp));
	bu_lat l[2];
	int rc = -1;

	if (!lat[0] || !lat[1] || !want || !stamp) {
		bu_err("out of memory");
		goto out;
	}
	small_want(q, s->kind, want, stamp);
	for (size_t r = 0; r < reps; r++)
		for (int e = 0; e < 2; e++)
			if (small_pass(q, s, e, want, lat[e] + r * np) < 0)
				goto out;
	bu_lat_of(&l[0], lat[0], np * reps);
	bu_lat_of(&l[1], lat[1], np * reps);
	small_emit(q, s, l);
	rc = 0;
out:
	free(lat[0]);
	free(lat[1]);
	free(want);
	free(stamp);
	return rc;
}

static int small_queries(qrun *q)
{
	small_q s = {0};
	int rc;

	for (size_t i = 0; i < q->d->nc; i++)
		if (q->d->off[i + 1] - q->d->off[i] > s.nb_cap)
			s.nb_cap = q->d->off[i + 1] - q->d->off[i];
	s.nb = malloc((s.nb_cap + 1) * sizeof(*s.nb));
	s.hits = malloc(GB_KHOP_LIMIT * sizeof(*s.hits));
	if (!s.nb || !s.hits)
		rc = bu_err("out of memory");
	else
		rc = small_section(q, &s);
	s.kind = Q_KHOP;
	s.bad[0] = s.bad[1] = 0;
	if (rc == 0)
		rc = small_section(q, &s);
	free(s.nb);
	free(s.hits);
	return rc;
}

/* ---- the section ------------------------------------------------------------------------- */

static int load_engines(qrun *q)
{
	char path[1200];
	double sq_s, t;
	uint64_t t0;

	if (!(q->dir = bu_mkdtemp(q->o->scratch, "query")))
		return -1;
	snprintf(path, sizeof(path), "%s/sutra", q->dir);
	t0 = bu_now_ns();
	if (gu_sutra_open(path, SUTRA_DURABILITY_NONE, &q->db) < 0 ||
	    gu_sutra_load(q->db, q->d) < 0)
		return -1;
	t = (double)(bu_now_ns() - t0) / 1e9;
	snprintf(path, sizeof(path), "%s/sqlite.db", q->dir);
	if (gs_create(path, q->d, &q->sq, &sq_s) < 0 || gs_warm(q->sq) < 0)
		return -1;
	printf(
	    "loaded: sutra (batch API, durability none) %.2f s, sqlite (one transaction) %.2f s\n",
	    t, sq_s);
	return 0;
}

int gq_run(void *arg)
{
	const gb_ctx *c = arg;
	qrun q = {c->o, c->d, NULL, NULL, NULL};
	int rc = load_engines(&q);

	if (rc == 0)
		rc = findpath(&q);
	if (rc == 0)
		rc = small_queries(&q);
	if (rc < 0) {
		bench_result r;
		bu_result_init(&r, BENCH, "query", "all");
		r.error = bu_lasterr();
		bu_result_emit(&r);
	}
	if (q.db)
		sutra_close(q.db);
	gs_close(q.sq);
	if (q.dir)
		bu_rmrf(q.dir);
	free(q.dir);
	return rc < 0;
}
