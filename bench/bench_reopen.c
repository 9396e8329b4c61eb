/* bench_reopen.c - time to reopen a Sutra store: checkpoint + WAL tail recovery.
 *
 * Builds a store of reopen_concepts concepts (100-byte content, no vector)
 * and reopen_assocs associations between random pairs of them (random type
 * and confidence), in batches of 1,000 with durability none and automatic
 * checkpoints off, then calls sutra_checkpoint(). It then writes a WAL tail
 * of reopen_tail single-operation records (alternately a new concept and a
 * new association), sutra_sync()s, notes the counts and closes. After
 * sync(2), the time of sutra_open on that directory is the figure (the
 * files are in the page cache: this is a warm restart). The reopened store
 * must hold exactly the counts it was closed with and find the last concept
 * of the tail, or the figure is reported as an error.
 *
 * LMDB and SQLite have no comparable step (an mmap, a WAL-index rebuild), so
 * the figure is compared with the absolute target: 2 s at the full size
 * (1M + 2M + 100k), scaled linearly to the quick size.
 */
#include "bench_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reopen_state {
	sutra_db *db;
	sutra_batch *batch;
	uint64_t rng;
	sutra_id *ids; /* every concept learned, for association endpoints */
	size_t nids;
	sutra_id last;
} reopen_state;

static int su_fail(const char *what, int rc)
{
	return bu_err("%s: %s: %s", what, sutra_strerror(rc), sutra_last_error());
}

static void make_concept(reopen_state *s, char *content, sutra_concept_in *in)
{
	memset(in, 0, sizeof(*in));
	bu_fill_id(&s->rng, &in->id);
	bu_fill_printable(&s->rng, content, BENCH_CONTENT_LEN);
	in->content = content;
	in->content_len = BENCH_CONTENT_LEN;
	in->strength = 1.0f;
	in->confidence = 0.8f;
	s->ids[s->nids++] = in->id;
	s->last = in->id;
}

/* Picks a random association between known concepts. */
static void make_assoc(reopen_state *s, const sutra_id **a, const sutra_id **b, unsigned *type,
                       float *conf)
{
	uint64_t r = bu_rand(&s->rng);

	size_t i = (size_t)(r % s->nids), j = (size_t)((r >> 32) % s->nids);

	if (i == j) /* no self-loops */
		j = (j + 1) % s->nids;
	*a = &s->ids[i];
	*b = &s->ids[j];
	*type = (unsigned)(bu_rand(&s->rng) % SUTRA_ASSOC_TYPES);
	*conf = 0.5f + (float)(r % 50) / 100.0f;
}

static int build_base(const bench_opts *o, reopen_state *s)
{
	char content[BENCH_CONTENT_LEN];
	sutra_concept_in in;
	int rc;

	for (size_t i = 0; i < o->reopen_concepts + o->reopen_assocs; i++) {
		if (i < o->reopen_concepts) {
			make_concept(s, content, &in);
			rc = sutra_batch_learn(s->batch, &in);
		} else {
			const sutra_id *a, *b;
			unsigned type;
			float conf;

			make_assoc(s, &a, &b, &type, &conf);
			rc = sutra_batch_associate(s->batch, a, b, type, conf);
		}
		if (rc)
			return su_fail("sutra_batch_*", rc);
		if (sutra_batch_count(s->batch) == BENCH_BATCH || i + 1 == o->reopen_concepts ||
		    i + 1 == o->reopen_concepts + o->reopen_assocs) {
			if ((rc = sutra_batch_commit(s->db, s->batch, NULL)))
				return su_fail("sutra_batch_commit", rc);
			sutra_batch_clear(s->batch);
		}
	}
	if ((rc = sutra_checkpoint(s->db)))
		return su_fail("sutra_checkpoint", rc);
	return 0;
}

static int write_tail(const bench_opts *o, reopen_state *s)
{
	char content[BENCH_CONTENT_LEN];
	sutra_concept_in in;
	int rc;

	for (size_t i = 0; i < o->reopen_tail; i++) {
		if (i % 2 == 0) {
			make_concept(s, content, &in);
			if ((rc = sutra_learn(s->db, &in, NULL)))
				return su_fail("sutra_learn", rc);
		} else {
			const sutra_id *a, *b;
			unsigned type;
			float conf;

			make_assoc(s, &a, &b, &type, &conf);
			if ((rc = sutra_associate(s->db, a, b, type, conf, NULL)))
				return su_fail("sutra_associate", rc);
		}
	}
	if ((rc = sutra_sync(s->db)))
		return su_fail("sutra_sync", rc);
	return 0;
}

/* Builds the store in dir and closes it; *before gets its final stats. */
static int build(const bench_opts *o, const char *dir, reopen_state *s, sutra_stats *before,
                 double *build_s)
{
	uint64_t t0 = bu_now_ns();
	sutra_options opt;
	int rc;

	sutra_options_init(&opt);
	opt.durability = SUTRA_DURABILITY_NONE;
	opt.checkpoint_wal_bytes = 0; /* only on demand: the tail must stay in the WAL */
	if ((rc = sutra_open(dir, &opt, &s->db)))
		return su_fail("sutra_open (build)", rc);
	if ((rc = sutra_batch_new(&s->batch))) {
		su_fail("sutra_batch_new", rc);
		goto fail;
	}
	if (build_base(o, s) || write_tail(o, s))
		goto fail;
	if ((rc = sutra_stats_get(s->db, before))) {
		su_fail("sutra_stats_get", rc);
		goto fail;
	}
	sutra_batch_free(s->batch);
	rc = sutra_close(s->db);
	s->db = NULL;
	*build_s = (double)(bu_now_ns() - t0) / 1e9;
	return rc ? su_fail("sutra_close", rc) : 0;
fail:
	sutra_batch_free(s->batch);
	sutra_close(s->db);
	s->db = NULL;
	return -1;
}

/* Opens dir (timed) and checks what it holds against before. */
static int reopen(const char *dir, const reopen_state *s, const sutra_stats *before, double *open_s,
                  sutra_stats *after)
{
	sutra_options opt;
	sutra_concept *c;
	sutra_db *db;
	uint64_t t0;
	int rc;

	sutra_options_init(&opt);
	opt.durability = SUTRA_DURABILITY_NONE;
	opt.checkpoint_wal_bytes = 0;
	t0 = bu_now_ns();
	rc = sutra_open(dir, &opt, &db);
	*open_s = (double)(bu_now_ns() - t0) / 1e9;
	if (rc)
		return su_fail("sutra_open", rc);
	if ((rc = sutra_stats_get(db, after)))
		su_fail("sutra_stats_get", rc);
	else if (after->concepts != before->concepts || after->associations != before->associations)
		rc = bu_err(
		    "reopened store holds %llu concepts / %llu associations, closed with "
		    "%llu / %llu",
		    (unsigned long long)after->concepts, (unsigned long long)after->associations,
		    (unsigned long long)before->concepts, (unsigned long long)before->associations);
	else if ((rc = sutra_get(db, &s->last, &c)))
		su_fail("sutra_get of the last tail concept", rc);
	else
		sutra_concept_free(c);
	sutra_close(db);
	return rc ? -1 : 0;
}

int bench_reopen(const bench_opts *o)
{
	reopen_state s = {.rng = 0x4e0be7ull};
	sutra_stats before, after;
	double build_s = 0, open_s = 0;
	char variant[64], target[64];
	char *dir = NULL;
	bench_result r;
	int rc = -1;

	snprintf(variant, sizeof(variant), "c%zuk_a%zuk_tail%zuk", o->reopen_concepts / 1000,
	         o->reopen_assocs / 1000, o->reopen_tail / 1000);
	bu_result_init(&r, "reopen", variant, "sutra");
	if (!(o->engines & (1u << ENG_SUTRA)))
		return 0;
	bench_watchdog(o);
	s.ids = malloc((o->reopen_concepts + o->reopen_tail) * sizeof(*s.ids));
	if (!s.ids || !(dir = bench_engine_dir(o, "reopen")))
		goto out;
	if (build(o, dir, &s, &before, &build_s))
		goto out;
	bu_settle();
	rc = reopen(dir, &s, &before, &open_s, &after);
out:
	free(s.ids);
	bu_rmrf(dir);
	free(dir);
	if (rc)
		return bench_error(&r, bu_lasterr());
	r.ops = o->reopen_tail;
	r.seconds = open_s;
	bu_result_extra(&r, "concepts", (double)after.concepts);
	bu_result_extra(&r, "associations", (double)after.associations);
	bu_result_extra(&r, "replayed", (double)after.recovery_replayed);
	bu_result_extra(&r, "recovery_ms", (double)after.recovery_us / 1e3);
	bu_result_extra(&r, "checkpoint_mb", (double)before.checkpoint_bytes / 1048576.0);
	bu_result_extra(&r, "build_s", build_s);
	snprintf(target, sizeof(target), "open<=%.2fs", o->reopen_target_s);
	r.target = target;
	r.met = open_s <= o->reopen_target_s;
	bu_result_emit(&r);
	return 0;
}
