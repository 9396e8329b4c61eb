/* shards_learn.c - learn throughput of 50 writers against the shard count.
 *
 * For every layout (0 = the single log, the baseline; then 1, 2, 4, 16
 * shards) a fresh store (durability always, vector index off: the indexer
 * would compete for the two cores with the writers and this section is
 * about the log) takes o->threads writers, each learning concepts with
 * distinct random ids, 100 bytes of content and a 64-d vector, one
 * sutra_learn per write, for o->window_s. A learn touches one concept, so
 * it is never a cross-shard transaction: what changes with the shard count
 * is that a commit group's writes spread over the shards, and the group
 * then fdatasyncs every shard it touched (in parallel) instead of one log.
 *
 * Layouts run one after the other; with o->rounds > 1 the order alternates
 * (ABCDE EDCBA ...) so a drift in the disk's speed hits them alike, and the
 * figures are summed over rounds. The ratio is each layout's rate over the
 * single log's from the same run. The disk's raw fdatasync rate is
 * probed before the first window on 1, 2 and 4 files at once (does the
 * disk overlap syncs of different files, as syncing shards in parallel
 * assumes?) and on 1 file after the last window (drift).
 */
#include "shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_POOL 1024

typedef struct learn_arg {
	const float *vecs; /* VEC_POOL * SB_DIM */
} learn_arg;

/* One write: a new concept with a random id (distinct across threads:
 * 128 random bits), fresh content and a vector from the pool. */
static int learn_op(sutra_db *db, void *arg, uint64_t *rng)
{
	const learn_arg *a = arg;
	char content[SB_CONTENT];
	sutra_concept_in in;

	memset(&in, 0, sizeof(in));
	bu_fill_id(rng, &in.id);
	bu_fill_printable(rng, content, sizeof(content));
	in.content = content;
	in.content_len = sizeof(content);
	in.vector = a->vecs + (bu_rand(rng) % VEC_POOL) * SB_DIM;
	in.vector_dim = SB_DIM;
	in.strength = 1.0f;
	in.confidence = 0.9f;
	return sutra_learn(db, &in, NULL);
}

static float *make_vecs(uint64_t seed)
{
	float *v = malloc((size_t)VEC_POOL * SB_DIM * sizeof(float));
	uint64_t st = seed;

	for (size_t i = 0; v && i < (size_t)VEC_POOL * SB_DIM; i++)
		v[i] = (float)((double)(bu_rand(&st) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
	return v;
}

/* One window on a fresh store; checks that every acknowledged write is
 * there afterwards and that none became a two-phase commit. */
static int run_layout(const sb_opts *o, uint32_t shards, learn_arg *a, uint64_t seed, su_conc *out)
{
	uint64_t before = out->ops, txn = out->txn;
	sutra_stats st;
	sutra_db *db;
	char *dir;
	int rc;

	if (su_open(o, shards, 0, &db, &dir) < 0)
		return -1;
	rc = su_run_conc(db, o->threads, o->window_s, learn_op, a, seed, out);
	if (rc == 0 && sutra_stats_get(db, &st) == 0 && st.concepts < out->ops - before)
		rc = bu_err("the store holds %llu concepts after %llu acknowledged learns",
		            (unsigned long long)st.concepts,
		            (unsigned long long)(out->ops - before));
	if (rc == 0 && out->txn != txn) /* a learn touches one concept: one shard */
		rc = bu_err("%llu learns committed as cross-shard transactions",
		            (unsigned long long)(out->txn - txn));
	if (su_close(db, dir) < 0 && rc == 0)
		rc = -1;
	return rc;
}

/* The disk's fdatasync rate on 1, 2 and 4 files in parallel before the
 * windows, and on 1 file again after them (drift). */
typedef struct disk_fig {
	double one[2], two, four; /* syncs per second; < 0: failed */
} disk_fig;

static double probe(const sb_opts *o, int files)
{
	double r = su_fsync_parallel(o->scratch, files, 1.0);

	if (r < 0)
		printf("  fsync probe (%d files): %s\n", files, bu_lasterr());
	return r;
}

static void emit_probe(const char *variant, int files, double rate, double one)
{
	bench_result r;

	if (rate < 0)
		return;
	bu_result_init(&r, SB_BENCH, variant, "disk");
	r.ops_per_s = rate;
	bu_result_extra(&r, "files", files);
	if (one > 0)
		bu_result_extra(&r, "vs_1file", rate / one);
	bu_result_emit(&r);
}

static void emit_disk(const disk_fig *d)
{
	double one = d->one[0] > 0 && d->one[1] > 0 ? (d->one[0] + d->one[1]) / 2 : -1;
	char v[128];

	emit_probe("fsync_4k_1file", 1, one, -1);
	emit_probe("fsync_4k_2files", 2, d->two, one);
	emit_probe("fsync_4k_4files", 4, d->four, one);
	if (one <= 0)
		return;
	snprintf(v, sizeof(v), "%.0f / %.0f / %.0f per s (x%.2f, x%.2f)", one, d->two, d->four,
	         d->two / one, d->four / one);
	bu_summary_add("disk: fdatasync, 1 / 2 / 4 files at once", v, NULL, -1);
}

static void emit_layout(const sb_opts *o, uint32_t shards, const su_conc *c, double base)
{
	char variant[32], tag[16], name[32], fig[64], v[128], ratio[24] = "";
	double rate = c->seconds > 0 ? (double)c->ops / c->seconds : 0;
	double fps = c->seconds > 0 ? (double)c->fsyncs / c->seconds : 0;
	bench_result r;
	bu_lat l;

	bu_lat_of(&l, c->lat, c->nlat);
	snprintf(variant, sizeof(variant), "learn_%dt", o->threads);
	bu_result_init(&r, SB_BENCH, variant, su_layout_tag(shards, tag, sizeof(tag)));
	r.ops = c->ops;
	r.seconds = c->seconds;
	r.ops_per_s = rate;
	r.ratio_vs = shards ? "s0" : NULL;
	r.ratio = base > 0 ? rate / base : -1;
	bu_result_extra(&r, "shards", shards);
	bu_result_extra(&r, "fsync_per_s", fps);
	bu_result_extra(&r, "writes_per_fsync",
	                c->fsyncs ? (double)c->ops / (double)c->fsyncs : -1);
	bu_result_extra(&r, "fsync_per_s_per_shard", shards ? fps / shards : fps);
	su_lat_extras(&r, &l);
	bu_result_extra(&r, "stop_wait_s", c->stop_wait_s);
	bu_result_emit(&r);
	snprintf(fig, sizeof(fig), "learn %dt, %s", o->threads,
	         su_layout_name(shards, name, sizeof(name)));
	if (shards && base > 0)
		snprintf(ratio, sizeof(ratio), " (x%.2f)", rate / base);
	snprintf(v, sizeof(v), "%.0f/s%s, %.0f fsync/s, %.1f writes/fsync, p99 %.2f ms", rate,
	         ratio, fps, c->fsyncs ? (double)c->ops / (double)c->fsyncs : 0, l.p99_us / 1e3);
	bu_summary_add(fig, v, NULL, -1);
}

/* Runs every round; out[i] sums layout i's windows; failed[i] marks a
 * layout that could not be measured. */
static void run_rounds(const sb_opts *o, learn_arg *a, su_conc *out, int *failed)
{
	for (int round = 0; round < o->rounds; round++)
		for (int k = 0; k < o->nlayouts; k++) {
			int i = round % 2 ? o->nlayouts - 1 - k : k;
			char tag[16];

			if (failed[i])
				continue;
			printf("  round %d: %u shards, %.1f s\n", round + 1, o->layouts[i],
			       o->window_s);
			fflush(stdout);
			if (run_layout(o, o->layouts[i], a, o->seed + (uint64_t)round * 7919 + i,
			               &out[i]) < 0) {
				failed[i] = 1;
				su_error("learn", su_layout_tag(o->layouts[i], tag, sizeof(tag)),
				         bu_lasterr());
			}
		}
}

int sl_run(void *opts)
{
	const sb_opts *o = opts;
	su_conc out[SB_MAX_LAYOUTS];
	int failed[SB_MAX_LAYOUTS] = {0}, any = 0;
	learn_arg a = {make_vecs(o->seed)};
	disk_fig disk;
	double base;

	if (!a.vecs)
		return su_error("learn", "all", "out of memory"), 1;
	memset(out, 0, sizeof(out));
	bu_settle();
	disk.one[0] = probe(o, 1);
	disk.two = probe(o, 2);
	disk.four = probe(o, 4);
	run_rounds(o, &a, out, failed);
	disk.one[1] = probe(o, 1);
	emit_disk(&disk);
	base = !failed[0] && out[0].seconds > 0 ? (double)out[0].ops / out[0].seconds : -1;
	for (int i = 0; i < o->nlayouts; i++) {
		any |= failed[i];
		if (!failed[i])
			emit_layout(o, o->layouts[i], &out[i], base);
		su_conc_free(&out[i]);
	}
	free((void *)a.vecs);
	return any;
}
