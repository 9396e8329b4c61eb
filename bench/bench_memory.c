/* bench_memory.c - resident memory per concept in Sutra, against the raw bytes stored.
 *
 * For each of "novec" and "vec384" a fresh process (fork) records its RSS
 * (/proc/self/statm after malloc_trim(0)), opens a new store (default options
 * but durability none, no vector index, dimension 384 for vec384), learns mem_n concepts one
 * by one (100-byte content, generated on the fly; vectors from a pool
 * allocated before the baseline), calls sutra_sync and reads its RSS again:
 * the increase divided by mem_n is the "learned" figure. Then
 * sutra_checkpoint + sutra_close + sutra_open on the same directory gives
 * the "reopened" figure (content and vectors should now come from the
 * checkpoint's read-only mmap, which is only resident once touched), and a
 * full sutra_scan that reads every content byte gives "reopened_scanned"
 * (file pages touched by the scan count as resident; reported without a
 * target, to show the footprint of a store that is in use).
 *
 * Raw bytes per concept = 16 (id) + 100 (content) + 4 * dim (vector) + 8
 * (strength, confidence) + 16 (created, updated timestamps). The ratio is
 * resident bytes per concept / raw; the anonymous part (resident - shared)
 * is reported beside it as anon_per_concept.
 */
#include "bench_store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEM_TARGET 1.3

typedef struct mem_run {
	const bench_opts *o;
	uint32_t dim;
	const char *tag; /* novec / vec384 */
	uint64_t rss0, anon0;
	double raw;
} mem_run;

static int su_fail(const char *what, int rc)
{
	return bu_err("%s: %s: %s", what, sutra_strerror(rc), sutra_last_error());
}

static void emit(const mem_run *m, const char *phase, int with_target)
{
	uint64_t rss, anon;
	double per, anon_per;
	char variant[64];
	bench_result r;

	bu_rss(&rss, &anon);
	per = ((double)rss - (double)m->rss0) / (double)m->o->mem_n;
	anon_per = ((double)anon - (double)m->anon0) / (double)m->o->mem_n;
	snprintf(variant, sizeof(variant), "%s_%s", m->tag, phase);
	bu_result_init(&r, "memory", variant, "sutra");
	r.ops = m->o->mem_n;
	bu_result_extra(&r, "bytes_per_concept", per > 0 ? per : 0);
	bu_result_extra(&r, "anon_per_concept", anon_per > 0 ? anon_per : 0);
	bu_result_extra(&r, "raw_bytes", m->raw);
	bu_result_extra(&r, "rss_mb", (double)rss / 1048576.0);
	r.ratio_vs = "raw";
	r.ratio = (per > 0 ? per : 0) / m->raw;
	if (with_target) {
		r.target = "x<=1.3 raw";
		r.met = r.ratio <= MEM_TARGET;
	}
	bu_result_emit(&r);
}

static int learn_all(const mem_run *m, sutra_db *db, const float *vecs)
{
	char content[BENCH_CONTENT_LEN];
	uint64_t rng = 0x3e3ull + m->dim;
	sutra_concept_in in;
	int rc;

	memset(&in, 0, sizeof(in));
	in.content = content;
	in.content_len = sizeof(content);
	in.strength = 1.0f;
	in.confidence = 0.7f;
	for (size_t i = 0; i < m->o->mem_n; i++) {
		bu_fill_id(&rng, &in.id);
		bu_fill_printable(&rng, content, sizeof(content));
		in.vector = vecs ? vecs + (i % BU_VEC_POOL) * m->dim : NULL;
		in.vector_dim = vecs ? m->dim : 0;
		if ((rc = sutra_learn(db, &in, NULL)))
			return su_fail("sutra_learn", rc);
	}
	if ((rc = sutra_sync(db)))
		return su_fail("sutra_sync", rc);
	return 0;
}

static int touch(void *ctx, const sutra_concept *c)
{
	uint64_t *sum = ctx;

	for (size_t i = 0; i < c->content_len; i++)
		*sum += (unsigned char)c->content[i];
	if (c->vector)
		*sum += (uint64_t)c->vector[0] + (uint64_t)c->vector[c->vector_dim - 1];
	return 0;
}

static int open_store(const char *dir, uint32_t dim, sutra_db **db)
{
	sutra_options opt;
	int rc;

	sutra_options_init(&opt);
	opt.durability = SUTRA_DURABILITY_NONE;
	(void)sutra_options_set(&opt, "vector_index", "0"); /* storage only */
	if (dim)
		opt.dimension = dim;
	if ((rc = sutra_open(dir, &opt, db)))
		return su_fail("sutra_open", rc);
	return 0;
}

/* The body of one forked process. */
static int mem_child(mem_run *m)
{
	bench_set pool;
	sutra_db *db = NULL;
	uint64_t sum = 0;
	char *dir;
	int rc = -1;

	if (bu_set_make(&pool, 0, BENCH_CONTENT_LEN, m->dim, 0x77ull))
		return -1;
	dir = bench_engine_dir(m->o, "memory");
	if (!dir)
		goto out;
	bu_rss(&m->rss0, &m->anon0);
	if (open_store(dir, m->dim, &db) || learn_all(m, db, pool.vecs))
		goto out;
	emit(m, "learned", 1);
	if ((rc = sutra_checkpoint(db))) {
		su_fail("sutra_checkpoint", rc);
		goto out;
	}
	rc = sutra_close(db);
	db = NULL;
	if (rc || open_store(dir, m->dim, &db)) {
		rc = rc ? su_fail("sutra_close", rc) : -1;
		goto out;
	}
	emit(m, "reopened", 1);
	if ((rc = sutra_scan(db, touch, &sum))) {
		su_fail("sutra_scan", rc);
		goto out;
	}
	emit(m, "reopened_scanned", 0);
out:
	if (db)
		sutra_close(db);
	bu_rmrf(dir);
	free(dir);
	bu_set_free(&pool);
	return rc ? -1 : 0;
}

int bench_memory(const bench_opts *o)
{
	static const uint32_t dims[2] = {0, BENCH_VEC_DIM};
	int failed = 0;

	if (!(o->engines & (1u << ENG_SUTRA)))
		return 0;
	for (int i = 0; i < 2; i++) {
		mem_run m = {.o = o, .dim = dims[i], .tag = dims[i] ? "vec384" : "novec"};
		bench_result r;
		int status = 0;
		pid_t pid;

		if (o->filter && !strstr(m.tag, o->filter))
			continue;
		m.raw = 16.0 + BENCH_CONTENT_LEN + 4.0 * m.dim + 8 + 16;
		bu_result_init(&r, "memory", m.tag, "sutra");
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			bench_watchdog(o);
			if (mem_child(&m)) {
				bench_error(&r, bu_lasterr());
				fflush(stdout);
				_exit(1);
			}
			fflush(stdout);
			_exit(0);
		}
		if (o->watchdog_s) /* the child's own watchdog fires first */
			alarm(2 * o->watchdog_s);
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			failed += bench_error(&r, "fork/waitpid failed");
		} else if (WIFSIGNALED(status)) {
			char msg[96];

			snprintf(msg, sizeof(msg), "process killed by signal %d (%s)",
			         WTERMSIG(status), strsignal(WTERMSIG(status)));
			failed += bench_error(&r, msg);
		} else if (WEXITSTATUS(status)) {
			failed++;
		}
	}
	return failed;
}
