/* bench_get.c - point reads by id on a hot store: Sutra vs LMDB vs SQLite.
 *
 * Each engine is loaded with the same get_n concepts (100-byte content, no
 * vector) in transactions of 1,000 without syncing, then every id is read
 * once in load order (warm-up, untimed), then get_ops ids chosen uniformly at
 * random (the same sequence for every engine, laid out in an array before
 * the clock starts) are read on one thread:
 * sutra_get + sutra_concept_free; LMDB mdb_get in a fresh read snapshot per
 * get (mdb_txn_renew/reset, the fair comparison: equal isolation per call)
 * and again inside one long read transaction ("lmdb_1txn"); SQLite a
 * prepared SELECT by primary key. Every engine reads all fields of the
 * record it returns (see peer.h).
 *
 * Throughput counts all get_ops reads. Latency is taken on every 16th read
 * only, with clock_gettime around that call, so timer overhead stays out of
 * the throughput; the median cost of an empty clock_gettime pair, measured
 * first, is subtracted from each sample and reported as timer_ns.
 */
#include "bench_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_EVERY 16

enum { V_SUTRA, V_LMDB, V_LMDB_1TXN, V_SQLITE, V_COUNT };

typedef struct get_out {
	int ran, failed;
	uint64_t ops;
	double seconds;
	double p50_ns, p99_ns, p999_ns;
	char error[512];
} get_out;

static uint64_t timer_overhead_ns(void)
{
	uint64_t v[4096];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t t0 = bu_now_ns();

		v[i] = bu_now_ns() - t0;
	}
	return bu_quantile(v, sizeof(v) / sizeof(v[0]), 0.5);
}

/* The timed loop. */
static int timed_gets(const bench_opts *o, const peer_ops *ops, void *conn, const bench_set *set,
                      uint64_t timer, get_out *out)
{
	size_t ns = o->get_ops / SAMPLE_EVERY + 1, k = 0;
	uint64_t *lat = malloc(ns * sizeof(*lat));
	sutra_id *ids = malloc(o->get_ops * sizeof(*ids));
	uint64_t rng = 0x6e7a11ull, sum = 0, t0;
	size_t i;

	if (!lat || !ids) {
		free(lat);
		free(ids);
		return bu_err("out of memory");
	}
	/* The ids to read, in order: read sequentially, so the harness adds
	 * no cache miss of its own to the engine's. */
	for (i = 0; i < o->get_ops; i++)
		ids[i] = set->recs[bu_rand(&rng) % set->n].id;
	t0 = bu_now_ns();
	for (i = 0; i < o->get_ops; i++) {
		const sutra_id *id = &ids[i];

		if (i % SAMPLE_EVERY == 0) {
			uint64_t a = bu_now_ns(), d;
			int rc = ops->get(conn, id, &sum);

			d = bu_now_ns() - a;
			lat[k++] = d > timer ? d - timer : 0;
			if (rc)
				break;
		} else if (ops->get(conn, id, &sum)) {
			break;
		}
	}
	out->seconds = (double)(bu_now_ns() - t0) / 1e9;
	out->ops = i;
	out->p50_ns = (double)bu_quantile(lat, k, 0.5);
	out->p99_ns = (double)bu_quantile(lat, k, 0.99);
	out->p999_ns = (double)bu_quantile(lat, k, 0.999);
	free(lat);
	free(ids);
	if (i < o->get_ops)
		return bu_err("get %zu failed: %s", i, bu_lasterr());
	if (sum == 0)
		return bu_err("reads returned nothing");
	return 0;
}

static int load_and_warm(const peer_ops *ops, void *env, void *conn, const bench_set *set)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < set->n; i += BENCH_BATCH) {
		size_t k = set->n - i < BENCH_BATCH ? set->n - i : BENCH_BATCH;

		if (ops->put_batch(conn, set->recs + i, k))
			return -1;
	}
	if (ops->drain && ops->drain(env))
		return -1;
	for (size_t i = 0; i < set->n; i++)
		if (ops->get(conn, &set->recs[i].id, &sum))
			return bu_err("warm-up read %zu: %s", i, bu_lasterr());
	return 0;
}

static void run_engine(const bench_opts *o, int eng, const bench_set *set, uint64_t timer,
                       get_out *res)
{
	const peer_ops *ops = bench_engines[eng];
	peer_cfg cfg = {.dim = 0, .durability = PEER_NONE, .n_hint = set->n};
	get_out *out = &res[eng == ENG_SUTRA ? V_SUTRA : eng == ENG_LMDB ? V_LMDB : V_SQLITE];
	char *dir = bench_engine_dir(o, ops->name);
	void *env = NULL, *conn = NULL;
	int rc = -1;

	bench_watchdog(o);
	out->ran = 1;
	bu_settle();
	if (!dir || ops->open(dir, &cfg, &env) || ops->conn_open(env, &conn) ||
	    load_and_warm(ops, env, conn, set))
		goto out;
	bu_settle();
	if ((rc = timed_gets(o, ops, conn, set, timer, out)))
		goto out;
	if (ops->read_hold) {
		out = &res[V_LMDB_1TXN];
		out->ran = 1;
		if ((rc = ops->read_hold(conn, 1)) == 0)
			rc = timed_gets(o, ops, conn, set, timer, out);
		ops->read_hold(conn, 0);
	}
out:
	if (rc)
		snprintf(out->error, sizeof(out->error), "%s", bu_lasterr());
	out->failed = rc != 0;
	if (conn)
		ops->conn_close(conn);
	if (env)
		ops->close(env);
	bu_rmrf(dir);
	free(dir);
}

static double rate(const get_out *x)
{
	return x->ran && !x->failed && x->seconds > 0 ? (double)x->ops / x->seconds : -1;
}

static int report(const get_out *res, uint64_t timer, const char *variant)
{
	static const char *const names[V_COUNT] = {"sutra", "lmdb", "lmdb_1txn", "sqlite"};
	static const int order[V_COUNT] = {V_LMDB, V_LMDB_1TXN, V_SQLITE, V_SUTRA};
	double su = rate(&res[V_SUTRA]), lm = rate(&res[V_LMDB]);
	int failed = 0;

	for (int i = 0; i < V_COUNT; i++) {
		const get_out *x = &res[order[i]];
		bench_result r;

		if (!x->ran)
			continue;
		bu_result_init(&r, "get", variant, names[order[i]]);
		if (x->failed) {
			failed += bench_error(&r, x->error);
			continue;
		}
		r.ops = x->ops;
		r.seconds = x->seconds;
		r.ops_per_s = rate(x);
		bu_result_extra(&r, "p50_ns", x->p50_ns);
		bu_result_extra(&r, "p99_ns", x->p99_ns);
		bu_result_extra(&r, "p999_ns", x->p999_ns);
		bu_result_extra(&r, "timer_ns", (double)timer);
		if (order[i] == V_SUTRA) {
			if (lm > 0) {
				r.ratio_vs = "lmdb";
				r.ratio = su / lm;
			}
			if (rate(&res[V_LMDB_1TXN]) > 0)
				bu_result_extra(&r, "vs_lmdb_1txn", su / rate(&res[V_LMDB_1TXN]));
			if (rate(&res[V_SQLITE]) > 0)
				bu_result_extra(&r, "vs_sqlite", su / rate(&res[V_SQLITE]));
			r.target = "x1.0 lmdb, p50<=200ns";
			r.met = lm > 0 && su >= lm && x->p50_ns <= 200;
		}
		bu_result_emit(&r);
	}
	return failed;
}

int bench_get(const bench_opts *o)
{
	get_out res[V_COUNT];
	uint64_t timer = timer_overhead_ns();
	bench_set set;
	char variant[64];

	snprintf(variant, sizeof(variant), "hot_%zuk_novec", o->get_n / 1000);
	memset(res, 0, sizeof(res));
	if (bu_set_make(&set, o->get_n, BENCH_CONTENT_LEN, 0, 0x9e7ull)) {
		bench_result r;

		bu_result_init(&r, "get", variant, "all");
		return bench_error(&r, bu_lasterr());
	}
	for (int e = 0; e < ENG_COUNT; e++)
		if (o->engines & (1u << e))
			run_engine(o, e, &set, timer, res);
	bu_set_free(&set);
	return report(res, timer, variant);
}
