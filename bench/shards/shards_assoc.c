/* shards_assoc.c - the cost of a cross-shard association against a same-shard one.
 *
 * One fresh store of SA_SHARDS shards (durability always, no vector index)
 * is loaded with o->pool concepts in batches; each concept is put in the
 * bucket of its shard by sutra_shard_of, and the buckets are checked
 * against the store's own per-shard counts (sutra_shard_stats_get), so the
 * benchmark and the engine agree on the routing. Then:
 *  - same: sutra_associate(a, b) with a and b drawn from one shard's bucket
 *    (shard uniform): one record in one WAL, one fdatasync round;
 *  - cross: a and b from two different shards: a two-phase commit (PREPARE
 *    on both shards synced in parallel, then the COMMIT decision synced on
 *    the coordinator, APPLIED/END unsynced): two fdatasync rounds.
 * (a) Latency, one thread: blocks of SA_BLOCK same then SA_BLOCK cross, so
 * a drift in the disk's speed hits both kinds alike, until o->lat_ops of
 * each; every call timed alone; a short untimed warm-up first (the first
 * parallel sync starts the shards' syncer threads).
 * (b) Throughput, o->threads writers: windows same, cross, cross, same of
 * o->window_s / 2 each.
 * The store's committed-transaction counter must grow by exactly one per
 * cross write and not at all for same-shard writes, or the figure is an
 * error. Ratios are costs: cross latency over same latency, and same
 * throughput over cross throughput (> 1: the cross-shard write costs more).
 */
#include "shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SA_SHARDS 4
#define SA_BLOCK  100
#define SA_WARMUP 100

typedef struct sa_pool {
	sutra_id *id;                /* every concept */
	uint32_t *bucket[SA_SHARDS]; /* indices into id, per shard */
	size_t count[SA_SHARDS];
	int cross; /* what assoc_op writes */
} sa_pool;

/* ---- setup ------------------------------------------------------------------------------- */

static int learn_pool(sutra_db *db, sa_pool *p, size_t n, uint64_t seed)
{
	char content[SB_CONTENT];
	uint64_t st = seed;
	sutra_batch *b;
	int rc = 0;

	if (sutra_batch_new(&b) < 0)
		return bu_err("sutra_batch_new: %s", sutra_last_error());
	for (size_t i = 0; i < n && rc == 0; i++) {
		sutra_concept_in in = {.content = content,
		                       .content_len = sizeof(content),
		                       .strength = 1.0f,
		                       .confidence = 0.9f};
		bu_fill_id(&st, &p->id[i]);
		bu_fill_printable(&st, content, sizeof(content));
		in.id = p->id[i];
		if (sutra_batch_learn(b, &in) < 0)
			rc = bu_err("sutra_batch_learn: %s", sutra_last_error());
		if (rc == 0 && (sutra_batch_count(b) == SB_BATCH || i + 1 == n)) {
			if (sutra_batch_commit(db, b, NULL) < 0)
				rc = bu_err("sutra_batch_commit: %s", sutra_last_error());
			sutra_batch_clear(b);
		}
	}
	sutra_batch_free(b);
	return rc;
}

/* Buckets by sutra_shard_of, checked against the store's own counts. */
static int bucket_pool(sutra_db *db, sa_pool *p, size_t n)
{
	sutra_shard_stats ss[SA_SHARDS];
	uint32_t ns = 0;

	for (int s = 0; s < SA_SHARDS; s++)
		if (!(p->bucket[s] = malloc(n * sizeof(uint32_t))))
			return bu_err("out of memory");
	for (size_t i = 0; i < n; i++) {
		uint32_t s = sutra_shard_of(&p->id[i], SA_SHARDS);
		p->bucket[s][p->count[s]++] = (uint32_t)i;
	}
	if (sutra_shard_stats_get(db, ss, SA_SHARDS, &ns) < 0)
		return bu_err("sutra_shard_stats_get: %s", sutra_last_error());
	if (ns != SA_SHARDS)
		return bu_err("the store reports %u shards, not %d", ns, SA_SHARDS);
	for (int s = 0; s < SA_SHARDS; s++)
		if (ss[s].concepts != p->count[s] || p->count[s] < 2)
			return bu_err("shard %d: the store counts %llu concepts, sutra_shard_of "
			              "routes %zu there",
			              s, (unsigned long long)ss[s].concepts, p->count[s]);
	return 0;
}

static void pool_free(sa_pool *p)
{
	free(p->id);
	for (int s = 0; s < SA_SHARDS; s++)
		free(p->bucket[s]);
}

/* ---- one write --------------------------------------------------------------------------- */

/* Two distinct concepts: of one shard, or of two different shards. */
static void pick(const sa_pool *p, int cross, uint64_t *rng, const sutra_id **a, const sutra_id **b)
{
	uint32_t s = (uint32_t)(bu_rand(rng) % SA_SHARDS);
	uint32_t t = cross ? (s + 1 + (uint32_t)(bu_rand(rng) % (SA_SHARDS - 1))) % SA_SHARDS : s;
	size_t i = bu_rand(rng) % p->count[s], j = bu_rand(rng) % p->count[t];

	if (!cross && i == j)
		j = (j + 1) % p->count[t];
	*a = &p->id[p->bucket[s][i]];
	*b = &p->id[p->bucket[t][j]];
}

static int assoc_op(sutra_db *db, void *arg, uint64_t *rng)
{
	const sa_pool *p = arg;
	const sutra_id *a, *b;

	pick(p, p->cross, rng, &a, &b);
	return sutra_associate(db, a, b, (unsigned)(bu_rand(rng) % SUTRA_ASSOC_TYPES), 0.5f, NULL);
}

static void counters(sutra_db *db, uint64_t *fsyncs, uint64_t *txn)
{
	sutra_stats st;

	if (sutra_stats_get(db, &st) < 0)
		memset(&st, 0, sizeof(st));
	*fsyncs = st.wal_fsyncs;
	*txn = st.txn_committed;
}

/* ---- (a) latency, one thread -------------------------------------------------------------- */

typedef struct sa_lat {
	uint64_t *ns; /* per call */
	size_t n;
	uint64_t fsyncs, txn;
} sa_lat;

/* n writes of one kind, each timed alone, into l. */
static int lat_block(sutra_db *db, sa_pool *p, int cross, size_t n, uint64_t *rng, sa_lat *l)
{
	uint64_t f0, f1, x0, x1;

	p->cross = cross;
	counters(db, &f0, &x0);
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = bu_now_ns();
		int rc = assoc_op(db, p, rng);
		if (rc < 0)
			return bu_err("sutra_associate (%s): %s", cross ? "cross" : "same",
			              sutra_last_error());
		if (l)
			l->ns[l->n++] = bu_now_ns() - t0;
	}
	counters(db, &f1, &x1);
	if (l) {
		l->fsyncs += f1 - f0;
		l->txn += x1 - x0;
	}
	return 0;
}

static int run_latency(const sb_opts *o, sutra_db *db, sa_pool *p, sa_lat l[2])
{
	uint64_t rng = o->seed ^ 0xa55a;
	int rc = lat_block(db, p, 0, SA_WARMUP, &rng, NULL);

	if (rc == 0)
		rc = lat_block(db, p, 1, SA_WARMUP, &rng, NULL);
	for (int k = 0; k < 2; k++)
		if (!(l[k].ns = malloc(o->lat_ops * sizeof(uint64_t))))
			return bu_err("out of memory");
	while (rc == 0 && l[1].n < o->lat_ops)
		for (int k = 0; k < 2 && rc == 0; k++) {
			size_t left = o->lat_ops - l[k].n;
			rc = lat_block(db, p, k, left < SA_BLOCK ? left : SA_BLOCK, &rng, &l[k]);
		}
	if (rc == 0 && (l[0].txn != 0 || l[1].txn != l[1].n))
		rc = bu_err("committed transactions: %llu for %zu same-shard writes (want 0), "
		            "%llu for %zu cross-shard writes (want as many)",
		            (unsigned long long)l[0].txn, l[0].n, (unsigned long long)l[1].txn,
		            l[1].n);
	return rc;
}

static void emit_latency(const sa_lat l[2])
{
	static const char *const kind[2] = {"same", "cross"};
	bu_lat s[2];
	char v[128];

	for (int k = 0; k < 2; k++)
		bu_lat_of(&s[k], l[k].ns, l[k].n);
	for (int k = 0; k < 2; k++) {
		bench_result r;
		double sum = s[k].mean_us * (double)s[k].n / 1e6;
		bu_result_init(&r, SB_BENCH, "assoc_1t", kind[k]);
		r.ops = l[k].n;
		r.seconds = sum;
		r.ops_per_s = sum > 0 ? (double)l[k].n / sum : -1;
		su_lat_extras(&r, &s[k]);
		bu_result_extra(&r, "fsyncs_per_op", l[k].n ? (double)l[k].fsyncs / l[k].n : -1);
		bu_result_extra(&r, "txn", (double)l[k].txn);
		bu_result_extra(&r, "shards", SA_SHARDS);
		if (k == 1 && s[0].p50_us > 0) {
			r.ratio_vs = "same";
			r.ratio = s[1].p50_us / s[0].p50_us;
			r.target = "p50 <= 1.5x same";
			r.met = r.ratio <= SB_XSHARD_MAX;
			bu_result_extra(&r, "ratio_p99", s[1].p99_us / s[0].p99_us);
			bu_result_extra(&r, "ratio_mean", s[1].mean_us / s[0].mean_us);
		}
		bu_result_emit(&r);
		snprintf(v, sizeof(v), "p50 %.0f us, p99 %.0f us, %.2f fsyncs/op", s[k].p50_us,
		         s[k].p99_us, l[k].n ? (double)l[k].fsyncs / l[k].n : 0);
		bu_summary_add(k ? "associate 1t, 4 shards, cross-shard"
		                 : "associate 1t, 4 shards, same shard",
		               v, NULL, -1);
	}
	if (s[0].p50_us > 0) {
		double x = s[1].p50_us / s[0].p50_us;
		snprintf(v, sizeof(v), "x%.2f p50, x%.2f p99, x%.2f mean", x,
		         s[1].p99_us / s[0].p99_us, s[1].mean_us / s[0].mean_us);
		bu_summary_add("  cross / same latency", v, "<= 1.5x", x <= SB_XSHARD_MAX);
	}
}

/* ---- (b) throughput, o->threads writers ----------------------------------------------------- */

static int run_throughput(const sb_opts *o, sutra_db *db, sa_pool *p, su_conc c[2])
{
	static const int order[4] = {0, 1, 1, 0}; /* same, cross, cross, same */
	int rc = 0;

	for (int w = 0; w < 4 && rc == 0; w++) {
		int k = order[w];
		uint64_t txn = c[k].txn, ops = c[k].ops;
		p->cross = k;
		rc = su_run_conc(db, o->threads, o->window_s / 2, assoc_op, p,
		                 o->seed + 31 * (uint64_t)w, &c[k]);
		/* cross: every acknowledged write committed one transaction
		 * (the counter is read at the window's end, so writes still
		 * returning may add a few); same: none. */
		if (rc == 0 && (k ? c[k].txn - txn < c[k].ops - ops : c[k].txn != txn))
			rc = bu_err("%s window: %llu transactions committed for %llu writes",
			            k ? "cross" : "same", (unsigned long long)(c[k].txn - txn),
			            (unsigned long long)(c[k].ops - ops));
	}
	return rc;
}

static void emit_throughput(const sb_opts *o, const su_conc c[2])
{
	static const char *const kind[2] = {"same", "cross"};
	double rate[2];
	char variant[32], v[128];

	snprintf(variant, sizeof(variant), "assoc_%dt", o->threads);
	for (int k = 0; k < 2; k++)
		rate[k] = c[k].seconds > 0 ? (double)c[k].ops / c[k].seconds : 0;
	for (int k = 0; k < 2; k++) {
		bench_result r;
		bu_lat l;
		bu_lat_of(&l, c[k].lat, c[k].nlat);
		bu_result_init(&r, SB_BENCH, variant, kind[k]);
		r.ops = c[k].ops;
		r.seconds = c[k].seconds;
		r.ops_per_s = rate[k];
		bu_result_extra(&r, "fsync_per_s",
		                c[k].seconds > 0 ? c[k].fsyncs / c[k].seconds : -1);
		bu_result_extra(&r, "writes_per_fsync",
		                c[k].fsyncs ? (double)c[k].ops / (double)c[k].fsyncs : -1);
		su_lat_extras(&r, &l);
		bu_result_extra(&r, "stop_wait_s", c[k].stop_wait_s);
		bu_result_extra(&r, "shards", SA_SHARDS);
		if (k == 1 && rate[1] > 0) {
			r.ratio_vs = "same";
			r.ratio = rate[0] / rate[1];
			r.target = "<= 1.5x same";
			r.met = r.ratio <= SB_XSHARD_MAX;
		}
		bu_result_emit(&r);
		snprintf(v, sizeof(v), "%.0f/s, %.0f fsync/s, p50 %.2f ms, p99 %.2f ms", rate[k],
		         c[k].seconds > 0 ? c[k].fsyncs / c[k].seconds : 0, l.p50_us / 1e3,
		         l.p99_us / 1e3);
		bu_summary_add(k ? "associate 50t, 4 shards, cross-shard"
		                 : "associate 50t, 4 shards, same shard",
		               v, NULL, -1);
	}
	if (rate[1] > 0) {
		snprintf(v, sizeof(v), "x%.2f (same rate / cross rate)", rate[0] / rate[1]);
		bu_summary_add("  cross / same cost", v, "<= 1.5x",
		               rate[0] / rate[1] <= SB_XSHARD_MAX);
	}
}

/* ---- the section --------------------------------------------------------------------------- */

static int setup(const sb_opts *o, sutra_db **db, char **dir, sa_pool *p)
{
	uint64_t t0 = bu_now_ns();

	memset(p, 0, sizeof(*p));
	if (!(p->id = malloc(o->pool * sizeof(sutra_id))))
		return bu_err("out of memory");
	if (su_open(o, SA_SHARDS, 0, db, dir) < 0)
		return -1;
	if (learn_pool(*db, p, o->pool, o->seed ^ 0x5eed) < 0 || bucket_pool(*db, p, o->pool) < 0)
		return -1;
	printf("  %zu concepts in %d shards (%zu / %zu / %zu / %zu), learned in %.2f s\n", o->pool,
	       SA_SHARDS, p->count[0], p->count[1], p->count[2], p->count[3],
	       (double)(bu_now_ns() - t0) / 1e9);
	return 0;
}

int sa_run(void *opts)
{
	const sb_opts *o = opts;
	sa_lat l[2] = {{0}};
	su_conc c[2] = {{0}};
	sutra_db *db = NULL;
	char *dir = NULL;
	sa_pool p;
	int failed = 0;

	if (setup(o, &db, &dir, &p) < 0) {
		su_error("assoc", "all", bu_lasterr());
		failed = 1;
	} else if (run_latency(o, db, &p, l) < 0) {
		su_error("assoc_1t", "all", bu_lasterr());
		failed = 1;
	} else {
		emit_latency(l);
	}
	if (!failed && run_throughput(o, db, &p, c) < 0) {
		su_error("assoc_mt", "all", bu_lasterr());
		failed = 1;
	} else if (!failed) {
		emit_throughput(o, c);
	}
	if (dir && su_close(db, dir) < 0) {
		su_error("assoc", "all", bu_lasterr());
		failed = 1;
	}
	for (int k = 0; k < 2; k++) {
		free(l[k].ns);
		su_conc_free(&c[k]);
	}
	pool_free(&p);
	return failed;
}
