/* shards_util.c - what the sections of sutra-bench-shards share: fresh stores, the
 * concurrent window runner, latency statistics and the summary table.
 *
 * The window runner follows sutra-bench-store's concurrent learn: every
 * writer starts at one barrier, the main thread sleeps for the window, then
 * raises the stop flag; a write acknowledged after the flag was raised is
 * not counted (its latency is kept), so ops / window is the rate inside the
 * window. The store's counters (fsyncs, committed transactions) are read
 * before the barrier (every writer is still waiting there) and right after
 * the flag, so they cover the window (and include the few writes still
 * returning after it).
 *
 * The sections run in forked processes (bu_run_isolated), so the summary
 * table lives in one anonymous MAP_SHARED region created before the first
 * fork; sections run one after the other, so no locking is needed.
 */
#include "shards.h"

#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- names ------------------------------------------------------------------------ */

const char *su_layout_name(uint32_t shards, char *buf, size_t n)
{
	uint32_t count = shards & ~SU_ONE_INDEX;

	if (count == 0)
		snprintf(buf, n, "single log");
	else
		snprintf(buf, n, "%u shard%s%s", count, count == 1 ? "" : "s",
		         shards & SU_ONE_INDEX ? ", one index" : "");
	return buf;
}

const char *su_layout_tag(uint32_t shards, char *buf, size_t n)
{
	snprintf(buf, n, "s%u%s", shards & ~SU_ONE_INDEX, shards & SU_ONE_INDEX ? "g" : "");
	return buf;
}

/* ---- stores ------------------------------------------------------------------------ */

int su_open(const sb_opts *o, uint32_t shards, int vector_index, sutra_db **db, char **dir)
{
	sutra_options opt;
	char tag[32];
	int rc;

	snprintf(tag, sizeof(tag), "store-s%u%s", shards & ~SU_ONE_INDEX,
	         shards & SU_ONE_INDEX ? "g" : "");
	bu_settle();
	if (!(*dir = bu_mkdtemp(o->scratch, tag)))
		return -1;
	sutra_options_init(&opt);
	opt.dimension = SB_DIM;
	opt.durability = SUTRA_DURABILITY_ALWAYS;
	opt.shards = shards & ~SU_ONE_INDEX;
	opt.vector_index_per_shard = !(shards & SU_ONE_INDEX);
	opt.vector_index = vector_index;
	if ((rc = sutra_open(*dir, &opt, db)) < 0) {
		bu_err("sutra_open %s (shards %u): %s", *dir, shards, sutra_last_error());
		bu_rmrf(*dir);
		free(*dir);
		*dir = NULL;
		return -1;
	}
	return 0;
}

int su_close(sutra_db *db, char *dir)
{
	int rc = db ? sutra_close(db) : 0;

	if (rc < 0)
		bu_err("sutra_close: %s", sutra_last_error());
	bu_rmrf(dir);
	free(dir);
	return rc < 0 ? -1 : 0;
}

int su_index_ready(sutra_db *db, double timeout_s)
{
	struct timespec nap = {0, 5000000};
	uint64_t t0 = bu_now_ns();
	sutra_stats st;

	for (;;) {
		if (sutra_stats_get(db, &st) < 0)
			return bu_err("sutra_stats_get: %s", sutra_last_error());
		if (st.index_ready && st.index_lag == 0)
			return 0;
		if ((double)(bu_now_ns() - t0) / 1e9 > timeout_s)
			return bu_err("vector index not ready after %.0f s (lag %llu)", timeout_s,
			              (unsigned long long)st.index_lag);
		nanosleep(&nap, NULL);
	}
}

/* ---- the disk ------------------------------------------------------------------------ */

typedef struct probe {
	const char *dir;
	int index;
	pthread_barrier_t *start;
	atomic_int *stop;
	uint64_t syncs;
	int failed;
	pthread_t tid;
} probe;

/* 4 KiB pwrite at offset 0 + fdatasync on its own file until stopped. */
static void *probe_main(void *arg)
{
	probe *p = arg;
	char path[4200], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe-%d", p->dir, p->index);
	memset(buf, 'x', sizeof(buf));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	p->failed =
	    fd < 0 || pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || fsync(fd) != 0;
	pthread_barrier_wait(p->start);
	while (!p->failed && !atomic_load_explicit(p->stop, memory_order_relaxed)) {
		buf[p->syncs % sizeof(buf)]++;
		if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || fdatasync(fd))
			p->failed = 1;
		else
			p->syncs++;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return NULL;
}

double su_fsync_parallel(const char *dir, int files, double seconds)
{
	struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	pthread_barrier_t start;
	atomic_int stop = 0;
	probe p[16];
	uint64_t t0, total = 0;
	int failed = 0;

	files = files < 1 ? 1 : files > 16 ? 16 : files;
	pthread_barrier_init(&start, NULL, (unsigned)files + 1);
	for (int i = 0; i < files; i++) {
		p[i] = (probe){.dir = dir, .index = i, .start = &start, .stop = &stop};
		if (pthread_create(&p[i].tid, NULL, probe_main, &p[i]))
			abort();
	}
	pthread_barrier_wait(&start);
	t0 = bu_now_ns();
	nanosleep(&nap, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < files; i++) {
		pthread_join(p[i].tid, NULL);
		total += p[i].syncs;
		failed |= p[i].failed;
	}
	pthread_barrier_destroy(&start);
	if (failed)
		return bu_err("fsync probe in %s: %s", dir, strerror(errno));
	return (double)total / ((double)(bu_now_ns() - t0) / 1e9);
}

/* ---- latency ------------------------------------------------------------------------ */

void su_lat_extras(bench_result *r, const bu_lat *l)
{
	bu_result_extra(r, "p50_us", l->p50_us);
	bu_result_extra(r, "p99_us", l->p99_us);
	bu_result_extra(r, "mean_us", l->mean_us);
}

/* ---- concurrent writers ------------------------------------------------------------- */

typedef struct conc_shared {
	sutra_db *db;
	su_op_fn fn;
	void *arg;
	uint64_t seed;
	pthread_barrier_t start;
	atomic_int stop;
} conc_shared;

typedef struct conc_thread {
	conc_shared *sh;
	pthread_t tid;
	int index;
	uint64_t ops;
	uint64_t *lat;
	size_t nlat;
	char error[256];
} conc_thread;

static void *conc_main(void *arg)
{
	conc_thread *t = arg;
	conc_shared *sh = t->sh;
	/* A random starting state per thread: splitmix64 streams whose states
	 * differ by a small multiple of its increment are the same stream
	 * shifted, and would hand two threads the same ids. */
	uint64_t mix = sh->seed + (uint64_t)(t->index + 1) * 0x632be59bd9b4e019ull;
	uint64_t rng = bu_rand(&mix);

	pthread_barrier_wait(&sh->start);
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		uint64_t t0 = bu_now_ns();
		int rc = sh->fn(sh->db, sh->arg, &rng);

		if (rc < 0) {
			snprintf(t->error, sizeof(t->error), "%s: %s", sutra_strerror(rc),
			         sutra_last_error());
			break;
		}
		if (t->nlat < SU_LAT_CAP)
			t->lat[t->nlat++] = bu_now_ns() - t0;
		/* Only writes acknowledged inside the window count. */
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		t->ops++;
	}
	return NULL;
}

/* Appends the threads' samples and counts to out. */
static void conc_collect(conc_thread *th, int n, su_conc *out)
{
	size_t total = out->nlat;
	uint64_t *all;

	for (int i = 0; i < n; i++) {
		total += th[i].nlat;
		out->ops += th[i].ops;
	}
	all = realloc(out->lat, (total ? total : 1) * sizeof(*all));
	if (!all)
		return;
	out->lat = all;
	for (int i = 0; i < n; i++) {
		memcpy(all + out->nlat, th[i].lat, th[i].nlat * sizeof(*all));
		out->nlat += th[i].nlat;
	}
}

static void counters(sutra_db *db, uint64_t *fsyncs, uint64_t *txn)
{
	sutra_stats st;

	if (sutra_stats_get(db, &st) < 0)
		memset(&st, 0, sizeof(st));
	*fsyncs = st.wal_fsyncs;
	*txn = st.txn_committed;
}

/* Sleeps the window, raises the flag, waits for the writers. */
static void conc_window(conc_shared *sh, conc_thread *th, int threads, double seconds, su_conc *out)
{
	struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	uint64_t f0, f1, x0, x1, t0, t1;

	counters(sh->db, &f0, &x0); /* before the barrier: no write can slip in first */
	pthread_barrier_wait(&sh->start);
	t0 = bu_now_ns();
	nanosleep(&nap, NULL);
	atomic_store(&sh->stop, 1);
	t1 = bu_now_ns();
	counters(sh->db, &f1, &x1);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i].tid, NULL);
	double wait = (double)(bu_now_ns() - t1) / 1e9;
	out->seconds += (double)(t1 - t0) / 1e9;
	out->stop_wait_s = wait > out->stop_wait_s ? wait : out->stop_wait_s;
	out->fsyncs += f1 - f0;
	out->txn += x1 - x0;
}

int su_run_conc(sutra_db *db, int threads, double seconds, su_op_fn fn, void *arg, uint64_t seed,
                su_conc *out)
{
	conc_shared sh = {.db = db, .fn = fn, .arg = arg, .seed = seed};
	conc_thread *th = calloc((size_t)threads, sizeof(*th));
	int rc = 0;

	if (!th)
		return bu_err("out of memory");
	pthread_barrier_init(&sh.start, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		th[i].sh = &sh;
		th[i].index = i;
		th[i].lat = malloc(SU_LAT_CAP * sizeof(uint64_t));
		if (!th[i].lat || pthread_create(&th[i].tid, NULL, conc_main, &th[i]))
			abort(); /* cannot run the benchmark at all */
	}
	conc_window(&sh, th, threads, seconds, out);
	for (int i = 0; i < threads && rc == 0; i++)
		if (th[i].error[0])
			rc = bu_err("writer %d: %s", i, th[i].error);
	conc_collect(th, threads, out);
	for (int i = 0; i < threads; i++)
		free(th[i].lat);
	pthread_barrier_destroy(&sh.start);
	free(th);
	return rc;
}

void su_conc_free(su_conc *c)
{
	free(c->lat);
	memset(c, 0, sizeof(*c));
}

void su_error(const char *variant, const char *engine, const char *msg)
{
	bench_result r;

	bu_result_init(&r, SB_BENCH, variant, engine);
	r.error = msg;
	bu_result_emit(&r);
}
