/* bench_learn.c - write throughput: Sutra vs LMDB vs SQLite at equal durability.
 *
 * Six variants, each run on every engine in a fresh directory, one engine
 * after the other, with sync(2) before each so write-back of the previous
 * engine's files does not land in the next one's measurement:
 *
 *  - none_1t_{novec,vec384}: one thread, every write its own transaction,
 *    nothing synced (Sutra durability none; LMDB MDB_NOSYNC; SQLite WAL with
 *    synchronous=OFF). The clock stops when every write has been handed to
 *    the OS (Sutra's queue drained); the time to the last acknowledgement is
 *    reported too (ack_ops_per_s).
 *  - always_batch1000_*: batches of 1,000 concepts, each batch one durable
 *    transaction (sutra_batch_commit with durability always; LMDB commit with
 *    sync; SQLite BEGIN..COMMIT with synchronous=FULL).
 *  - always_<T>t_*: T threads (default 64) each writing one concept per
 *    durable transaction for a fixed time (Sutra group commit; LMDB write
 *    transactions serialise and each syncs; SQLite one connection per thread
 *    with busy_timeout). Only writes acknowledged inside the window count;
 *    the time the writers still needed to return after it is stop_wait_s.
 *    Per-write latency is recorded for every write, including the one that
 *    returned after the window (up to 8,192 per thread). The disk's raw
 *    fsync rate is measured in the same run and Sutra's rate is reported as
 *    a multiple of it.
 *
 * Records are pregenerated (bench_set) for the fixed-size variants; the
 * concurrent writers generate theirs on the fly (cheap next to an fsync).
 * After each fixed-size run, 1,000 random ids are read back from every
 * engine so a fast but broken engine cannot report a figure.
 */
#include "bench_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MODE_SINGLE, MODE_BATCH, MODE_CONC };

typedef struct learn_variant {
	int mode;
	int durability;
	uint32_t dim;
	double min_ops_per_s; /* targets for Sutra; 0 = none */
	double min_vs_lmdb;
	double min_vs_fsync;
} learn_variant;

static const learn_variant variants[] = {
    {MODE_SINGLE, PEER_NONE, 0, 1e6, 2.0, 0},
    {MODE_SINGLE, PEER_NONE, BENCH_VEC_DIM, 1e6, 2.0, 0},
    {MODE_BATCH, PEER_ALWAYS, 0, 5e5, 0, 0},
    {MODE_BATCH, PEER_ALWAYS, BENCH_VEC_DIM, 5e5, 0, 0},
    {MODE_CONC, PEER_ALWAYS, 0, 0, 2.0, 20.0},
    {MODE_CONC, PEER_ALWAYS, BENCH_VEC_DIM, 0, 2.0, 20.0},
};

/* none_1t_novec, always_batch1000_vec384, always_64t_novec, ... */
static void variant_name(const learn_variant *v, int threads, char *out, size_t cap)
{
	const char *vec = v->dim ? "vec384" : "novec";

	if (v->mode == MODE_SINGLE)
		snprintf(out, cap, "none_1t_%s", vec);
	else if (v->mode == MODE_BATCH)
		snprintf(out, cap, "always_batch%d_%s", BENCH_BATCH, vec);
	else
		snprintf(out, cap, "always_%dt_%s", threads, vec);
}

#define LAT_CAP     8192 /* latency samples kept per thread and round */
#define CONC_ROUNDS 2

/* What one engine measured in one variant (summed over rounds). */
typedef struct learn_out {
	int ran, failed;
	uint64_t ops;
	double seconds, ack_seconds;
	double stop_wait_s;      /* concurrent: longest wait for writers after a window */
	uint64_t fsyncs, writes; /* engine-reported (counters), else 0 */
	uint64_t checkpoints;    /* engine-reported: taken during the runs */
	double checkpoint_mb;    /* engine-reported: size of the last one */
	uint64_t *lat;           /* concurrent: per-write latencies, ns */
	size_t nlat;
	char error[512];
} learn_out;

/* ---- concurrent writers -------------------------------------------------------- */

typedef struct conc_shared {
	const peer_ops *ops;
	void *env;
	const float *vecs;
	uint32_t dim;
	uint64_t seed;
	pthread_barrier_t start;
	atomic_int stop;
} conc_shared;

typedef struct conc_thread {
	conc_shared *sh;
	pthread_t tid;
	int index;
	uint64_t ops;
	uint64_t *lat; /* nanoseconds per write, first LAT_CAP writes */
	size_t nlat;
	char error[256];
} conc_thread;

static void *conc_main(void *arg)
{
	conc_thread *t = arg;
	conc_shared *sh = t->sh;
	uint64_t rng = sh->seed + (uint64_t)t->index * 0x1000193ull;
	char content[BENCH_CONTENT_LEN];
	void *conn = NULL;
	bench_rec r;

	if (sh->ops->conn_open(sh->env, &conn))
		snprintf(t->error, sizeof(t->error), "%s", bu_lasterr());
	pthread_barrier_wait(&sh->start);
	memset(&r, 0, sizeof(r));
	r.content = content;
	r.content_len = sizeof(content);
	r.dim = sh->dim;
	r.strength = 1.0f;
	r.confidence = 0.9f;
	while (conn && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		uint64_t t0;

		bu_fill_id(&rng, &r.id);
		bu_fill_printable(&rng, content, sizeof(content));
		r.vector = sh->vecs ? sh->vecs + (t->ops % BU_VEC_POOL) * sh->dim : NULL;
		t0 = bu_now_ns();
		if (sh->ops->put(conn, &r)) {
			snprintf(t->error, sizeof(t->error), "%s", bu_lasterr());
			break;
		}
		/* Every write's latency is kept (also the last, slow ones), but
		 * only writes acknowledged inside the window count. */
		if (t->nlat < LAT_CAP)
			t->lat[t->nlat++] = bu_now_ns() - t0;
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		t->ops++;
	}
	if (conn)
		sh->ops->conn_close(conn);
	return NULL;
}

/* Moves the threads' latency samples into out->lat. */
static void conc_collect(conc_thread *th, int n, learn_out *out)
{
	size_t total = out->nlat;
	uint64_t *all;

	for (int i = 0; i < n; i++)
		total += th[i].nlat;
	all = realloc(out->lat, (total ? total : 1) * sizeof(*all));
	if (!all)
		return;
	out->lat = all;
	for (int i = 0; i < n; i++) {
		memcpy(all + out->nlat, th[i].lat, th[i].nlat * sizeof(*all));
		out->nlat += th[i].nlat;
		out->ops += th[i].ops;
	}
}

/* Runs o->threads writers against env for o->conc_seconds; adds to out. */
static int run_conc(const bench_opts *o, const peer_ops *ops, void *env, uint32_t dim,
                    const float *vecs, uint64_t seed, learn_out *out)
{
	struct timespec nap = {(time_t)o->conc_seconds,
	                       (long)((o->conc_seconds - (double)(time_t)o->conc_seconds) * 1e9)};
	conc_shared sh = {.ops = ops, .env = env, .vecs = vecs, .dim = dim, .seed = seed};
	conc_thread *th = calloc((size_t)o->threads, sizeof(*th));
	double window, wait;
	int rc = 0;
	uint64_t t0;

	if (!th)
		return bu_err("out of memory");
	pthread_barrier_init(&sh.start, NULL, (unsigned)o->threads + 1);
	for (int i = 0; i < o->threads; i++) {
		th[i].sh = &sh;
		th[i].index = i;
		th[i].lat = malloc(LAT_CAP * sizeof(uint64_t));
		if (!th[i].lat || pthread_create(&th[i].tid, NULL, conc_main, &th[i]))
			abort(); /* cannot run the benchmark at all */
	}
	pthread_barrier_wait(&sh.start);
	t0 = bu_now_ns();
	nanosleep(&nap, NULL);
	atomic_store(&sh.stop, 1);
	window = (double)(bu_now_ns() - t0) / 1e9;
	for (int i = 0; i < o->threads; i++)
		pthread_join(th[i].tid, NULL);
	wait = (double)(bu_now_ns() - t0) / 1e9 - window;
	out->seconds += window;
	out->ack_seconds += window;
	if (wait > out->stop_wait_s)
		out->stop_wait_s = wait;
	for (int i = 0; i < o->threads && rc == 0; i++)
		if (th[i].error[0])
			rc = bu_err("thread %d: %s", i, th[i].error);
	conc_collect(th, o->threads, out);
	for (int i = 0; i < o->threads; i++)
		free(th[i].lat);
	pthread_barrier_destroy(&sh.start);
	free(th);
	return rc;
}

/* ---- fixed-size runs ------------------------------------------------------------ */

static int run_fixed(const peer_ops *ops, void *env, void *conn, const bench_set *set, int mode,
                     learn_out *out)
{
	uint64_t t0 = bu_now_ns(), t1;
	size_t i;

	for (i = 0; i < set->n;) {
		size_t k = mode == MODE_BATCH ? set->n - i : 1;

		if (k > BENCH_BATCH)
			k = BENCH_BATCH;
		if ((mode == MODE_BATCH ? ops->put_batch(conn, set->recs + i, k)
		                        : ops->put(conn, set->recs + i)))
			return -1;
		i += k;
	}
	t1 = bu_now_ns();
	if (ops->drain && ops->drain(env))
		return -1;
	out->ops += set->n;
	out->ack_seconds += (double)(t1 - t0) / 1e9;
	out->seconds += (double)(bu_now_ns() - t0) / 1e9;
	return 0;
}

/* Reads back 1,000 random records of set. */
static int verify(const peer_ops *ops, void *conn, const bench_set *set)
{
	uint64_t rng = 42, sum = 0;

	for (int i = 0; i < 1000 && set->n; i++) {
		size_t k = (size_t)(bu_rand(&rng) % set->n);

		if (ops->get(conn, &set->recs[k].id, &sum))
			return bu_err("verification read of record %zu failed: %s", k,
			              bu_lasterr());
	}
	return 0;
}

/* One engine, one variant (one round of it), fresh directory; adds to out. */
static void run_engine(const bench_opts *o, int eng, const learn_variant *v, const bench_set *set,
                       uint64_t seed, learn_out *out)
{
	const peer_ops *ops = bench_engines[eng];
	peer_cfg cfg = {.dim = v->dim, .durability = v->durability, .n_hint = set->n};
	char *dir = bench_engine_dir(o, ops->name);
	void *env = NULL, *conn = NULL;
	peer_counters c0 = {0}, c1 = {0};
	int rc = -1;

	bench_watchdog(o);
	out->ran = 1;
	if (!dir)
		goto out;
	bu_settle();
	if (ops->open(dir, &cfg, &env))
		goto out;
	if (ops->counters && ops->counters(env, &c0))
		goto out;
	if (v->mode == MODE_CONC) {
		rc = run_conc(o, ops, env, v->dim, set->vecs, seed, out);
	} else if (ops->conn_open(env, &conn) == 0) {
		rc = run_fixed(ops, env, conn, set, v->mode, out);
		if (rc == 0)
			rc = verify(ops, conn, set);
	}
	if (rc == 0 && ops->counters && ops->counters(env, &c1) == 0) {
		out->fsyncs += c1.fsyncs - c0.fsyncs;
		out->writes += c1.writes - c0.writes;
		out->checkpoints += c1.checkpoints - c0.checkpoints;
		out->checkpoint_mb = (double)c1.checkpoint_bytes / 1048576.0;
	}
out:
	if (conn)
		ops->conn_close(conn);
	if (env && ops->close(env) && !rc)
		rc = -1;
	if (rc && !out->failed)
		snprintf(out->error, sizeof(out->error), "%s", bu_lasterr());
	out->failed |= rc != 0;
	bu_rmrf(dir);
	free(dir);
}

/* ---- reporting ------------------------------------------------------------------ */

/* The disk's fsync rate around a concurrent variant (mean of the probes). */
typedef struct fsync_probe {
	double mean, min, max;
	int n;
} fsync_probe;

static double rate(const learn_out *x)
{
	return x->ran && !x->failed && x->seconds > 0 ? (double)x->ops / x->seconds : -1;
}

static void report_targets(const learn_variant *v, const learn_out *res, const fsync_probe *fs,
                           bench_result *r, char *target, size_t cap)
{
	double su = rate(&res[ENG_SUTRA]), lm = rate(&res[ENG_LMDB]), sq = rate(&res[ENG_SQLITE]);
	double f = fs->n ? fs->mean : -1;
	size_t len = 0;

	r->met = 1;
	if (lm > 0) {
		r->ratio_vs = "lmdb";
		r->ratio = su / lm;
	}
	if (sq > 0)
		bu_result_extra(r, "vs_sqlite", su / sq);
	if (v->mode == MODE_CONC && f > 0) {
		bu_result_extra(r, "fsync_per_s", f);
		bu_result_extra(r, "vs_fsync", su / f);
	}
	target[0] = 0;
	if (v->min_ops_per_s > 0) {
		len += (size_t)snprintf(target + len, cap - len, "ops/s>=%.0f ", v->min_ops_per_s);
		r->met &= su >= v->min_ops_per_s;
	}
	if (v->min_vs_lmdb > 0) {
		len += (size_t)snprintf(target + len, cap - len, "x%.1f lmdb ", v->min_vs_lmdb);
		r->met &= lm > 0 && su / lm >= v->min_vs_lmdb;
	}
	if (v->min_vs_fsync > 0) {
		len += (size_t)snprintf(target + len, cap - len, "x%.0f fsync ", v->min_vs_fsync);
		r->met &= f > 0 && su / f >= v->min_vs_fsync;
	}
	if (len)
		target[len - 1] = 0;
	r->target = target;
}

static void report_extras(const learn_variant *v, const learn_out *x, bench_result *r)
{
	if (v->mode == MODE_SINGLE && x->ack_seconds > 0)
		bu_result_extra(r, "ack_ops_per_s", (double)x->ops / x->ack_seconds);
	if (v->mode == MODE_CONC) {
		uint64_t *lat = x->lat;

		bu_result_extra(r, "p50_us", (double)bu_quantile(lat, x->nlat, 0.50) / 1e3);
		bu_result_extra(r, "p99_us", (double)bu_quantile(lat, x->nlat, 0.99) / 1e3);
		bu_result_extra(r, "stop_wait_s", x->stop_wait_s);
	}
	if (v->durability == PEER_ALWAYS && x->fsyncs > 0)
		bu_result_extra(r, "writes_per_fsync", (double)x->writes / (double)x->fsyncs);
	if (x->checkpoints > 0) {
		bu_result_extra(r, "checkpoints", (double)x->checkpoints);
		bu_result_extra(r, "checkpoint_mb", x->checkpoint_mb);
	}
}

static int report(const learn_variant *v, const char *name, const learn_out *res,
                  const fsync_probe *fs)
{
	static const int order[ENG_COUNT] = {ENG_LMDB, ENG_SQLITE, ENG_SUTRA};
	char target[128];
	int failed = 0;

	for (int i = 0; i < ENG_COUNT; i++) {
		const learn_out *x = &res[order[i]];
		bench_result r;

		if (!x->ran)
			continue;
		bu_result_init(&r, "learn", name, bench_engines[order[i]]->name);
		if (x->failed) {
			failed += bench_error(&r, x->error);
			continue;
		}
		r.ops = x->ops;
		r.seconds = x->seconds;
		r.ops_per_s = rate(x);
		report_extras(v, x, &r);
		if (order[i] == ENG_SUTRA)
			report_targets(v, res, fs, &r, target, sizeof(target));
		bu_result_emit(&r);
	}
	return failed;
}

/* ---- the disk's own figures ------------------------------------------------------ */

/* One fsync probe of o->fsync_seconds into fs (append: for information). */
static void probe_fsync(const bench_opts *o, int append, fsync_probe *fs, int *failed)
{
	double f;

	bu_settle();
	f = bu_fsync_rate(o->scratch, o->fsync_seconds, append);
	if (f < 0) {
		bench_result r;

		bu_result_init(&r, "fsync", append ? "4k_append" : "4k_overwrite", "disk");
		*failed += bench_error(&r, bu_lasterr());
		return;
	}
	fs->mean = (fs->mean * fs->n + f) / (fs->n + 1);
	fs->min = fs->n == 0 || f < fs->min ? f : fs->min;
	fs->max = fs->n == 0 || f > fs->max ? f : fs->max;
	fs->n++;
}

static void emit_fsync(const char *variant, const bench_opts *o, const fsync_probe *fs)
{
	bench_result r;

	if (!fs->n)
		return;
	bu_result_init(&r, "fsync", variant, "disk");
	r.seconds = o->fsync_seconds * fs->n;
	r.ops_per_s = fs->mean;
	bu_result_extra(&r, "probes", fs->n);
	bu_result_extra(&r, "min_per_s", fs->min);
	bu_result_extra(&r, "max_per_s", fs->max);
	bu_result_emit(&r);
}

/* The page-cache append bandwidth, the ceiling for unsynced log writes. */
static void measure_append(const bench_opts *o, int *failed)
{
	size_t total = (size_t)256 << 20;
	double bps, synced = 0, raw = SUTRA_ID_BYTES + BENCH_CONTENT_LEN + 4.0 * BENCH_VEC_DIM + 24;
	bench_result r;

	bu_result_init(&r, "write", "append_64k", "disk");
	bu_settle();
	bps = bu_append_rate(o->scratch, total, &synced);
	bu_settle();
	if (bps < 0) {
		*failed += bench_error(&r, bu_lasterr());
		return;
	}
	r.ops = total >> 16;
	r.seconds = (double)total / bps;
	r.ops_per_s = bps / 65536.0;
	bu_result_extra(&r, "mb_per_s", bps / 1e6);
	bu_result_extra(&r, "synced_mb_per_s", synced / 1e6);
	bu_result_extra(&r, "vec384_per_s", bps / raw);
	bu_result_extra(&r, "vec384_synced_per_s", synced / raw);
	bu_result_emit(&r);
}

/* ---- variants ---------------------------------------------------------------------- */

/* Concurrent writers: CONC_ROUNDS rounds, engines in order then in reverse
 * (ABC CBA, so drift in the disk's speed hits every engine alike), with an
 * fsync probe of the disk before, between and after the rounds. */
static void run_conc_variant(const bench_opts *o, const learn_variant *v, const bench_set *set,
                             learn_out *res, fsync_probe *fs, int *failed)
{
	for (int round = 0; round < CONC_ROUNDS; round++) {
		probe_fsync(o, 0, fs, failed);
		for (int k = 0; k < ENG_COUNT; k++) {
			int e = round % 2 ? ENG_COUNT - 1 - k : k;

			if (o->engines & (1u << e))
				run_engine(o, e, v, set, 0xc0ffee00ull + ((uint64_t)round << 32),
				           &res[e]);
		}
	}
	probe_fsync(o, 0, fs, failed);
}

static int run_variant(const bench_opts *o, size_t vi, const char *name)
{
	const learn_variant *v = &variants[vi];
	size_t n = v->dim ? o->learn_vec_n : v->mode == MODE_BATCH ? o->batch_n : o->learn_n;
	learn_out res[ENG_COUNT];
	fsync_probe fs = {0};
	char fname[96];
	bench_set set;
	int failed = 0;

	memset(res, 0, sizeof(res));
	if (bu_set_make(&set, v->mode == MODE_CONC ? 0 : n, BENCH_CONTENT_LEN, v->dim,
	                0x5eed0000ull + vi)) {
		bench_result r;

		bu_result_init(&r, "learn", name, "all");
		return bench_error(&r, bu_lasterr());
	}
	if (v->mode == MODE_CONC) {
		run_conc_variant(o, v, &set, res, &fs, &failed);
		snprintf(fname, sizeof(fname), "4k_overwrite_around_%s", name);
		emit_fsync(fname, o, &fs);
	} else {
		for (int e = 0; e < ENG_COUNT; e++)
			if (o->engines & (1u << e))
				run_engine(o, e, v, &set, 0, &res[e]);
	}
	bu_set_free(&set);
	failed += report(v, name, res, &fs);
	for (int e = 0; e < ENG_COUNT; e++)
		free(res[e].lat);
	return failed;
}

int bench_learn(const bench_opts *o)
{
	int failed = 0, probed = 0;

	if (!o->filter || strstr("none_1t_vec384 always_batch1000_vec384", o->filter))
		measure_append(o, &failed);
	for (size_t vi = 0; vi < sizeof(variants) / sizeof(variants[0]); vi++) {
		char name[64];

		variant_name(&variants[vi], o->threads, name, sizeof(name));
		if (o->filter && !strstr(name, o->filter))
			continue;
		if (variants[vi].mode == MODE_CONC && !probed++) {
			fsync_probe app = {0};

			probe_fsync(o, 1, &app, &failed);
			emit_fsync("4k_append", o, &app);
		}
		failed += run_variant(o, vi, name);
	}
	return failed;
}
