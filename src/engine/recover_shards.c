/* recover_shards.c - opening a sharded store: the shard directories, their
 * checkpoint images, and one replay of all their logs merged by gsn.
 *
 * The images of one checkpoint (one per shard, same gsn cut) load in two
 * passes: every shard's concepts, then every shard's associations, whose
 * ends may live in other shards. Each WAL is then read from its cut with
 * its segments kept mapped; the records of all shards are sorted by gsn,
 * and each gsn is resolved as a whole:
 *
 *   SINGLE                   applied
 *   a PREPARE from every     committed (the decision became durable with the
 *     participant            last of them): applied; without END it was in
 *                            doubt and gets its COMMIT, APPLIED and END now
 *   some PREPAREs missing    in doubt: aborted (ABORT logged now), nothing
 *                            applied, whatever subset of PREPAREs survived
 *   ABORT                    nothing applied
 *
 * so no transaction is left half-applied or undecided. Records below the
 * checkpoint's gsn are already in its image. Records of one gsn that
 * contradict each other (damage the WAL checksums cannot see, such as a
 * lost segment) refuse the open; with repair the gsn is dropped whole.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/db.h"
#include "io/io.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/err.h"

struct rec {
	uint64_t gsn;
	uint32_t shard;
	struct txn_header h;
	const uint8_t *body; /* the op batch (SINGLE, coordinator's PREPARE) */
	size_t len;
};

struct recs {
	struct rec *r;
	size_t n, cap;
	uint32_t shard, nshards;
	uint64_t max_gsn;
};

/* A decision recovery still has to log. */
struct pending {
	struct log_pos pos;
	int phase; /* TXN_ABORT, or TXN_COMMIT: finish (APPLIED + END) */
};

struct resolution {
	struct pending *p;
	size_t n, cap;
};

static int collect(void *ctx, uint64_t lsn, uint8_t *payload, size_t len)
{
	struct recs *rs = ctx;
	struct rec r = {.shard = rs->shard};
	int rc = txn_header_decode(payload, len, rs->nshards, &r.h);

	(void)lsn;
	if (rc < 0)
		return rc;
	if (!shard_set_has(&r.h.parts, rs->shard))
		return err_set(SUTRA_ECORRUPT,
		               "record of gsn %" PRIu64 " in shard %u, which it "
		               "does not name",
		               r.h.gsn, rs->shard);
	r.gsn = r.h.gsn;
	r.body = payload + TXN_HEADER_BYTES;
	r.len = len - TXN_HEADER_BYTES;
	bool carries =
	    r.h.phase == TXN_SINGLE || (r.h.phase == TXN_PREPARE && rs->shard == r.h.coordinator);
	if (carries != (r.len > 0))
		return err_set(SUTRA_ECORRUPT, "record of gsn %" PRIu64 " (phase %d) %s ops", r.gsn,
		               r.h.phase, carries ? "lacks" : "carries");
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 1024;
		struct rec *a = sutra_realloc(rs->r, cap * sizeof *a);
		if (!a)
			return err_set(SUTRA_ENOMEM, "out of memory merging the shards' logs");
		rs->r = a;
		rs->cap = cap;
	}
	rs->r[rs->n++] = r;
	if (r.gsn > rs->max_gsn)
		rs->max_gsn = r.gsn;
	return 0;
}

static int rec_order(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->gsn != y->gsn)
		return x->gsn < y->gsn ? -1 : 1;
	if (x->h.phase != y->h.phase)
		return x->h.phase < y->h.phase ? -1 : 1;
	return x->shard < y->shard ? -1 : x->shard > y->shard;
}

static int resolve_later(struct resolution *res, const struct txn_header *h, int phase)
{
	if (res->n == res->cap) {
		size_t cap = res->cap ? res->cap * 2 : 16;
		struct pending *a = sutra_realloc(res->p, cap * sizeof *a);
		if (!a)
			return err_set(SUTRA_ENOMEM, "out of memory resolving transactions");
		res->p = a;
		res->cap = cap;
	}
	res->p[res->n++] = (struct pending){
	    .pos = {.gsn = h->gsn, .coordinator = h->coordinator, .txn = true, .parts = h->parts},
	    .phase = phase};
	return 0;
}

static bool same_txn(const struct txn_header *a, const struct txn_header *b)
{
	return a->coordinator == b->coordinator && a->nparts == b->nparts &&
	       memcmp(&a->parts, &b->parts, sizeof a->parts) == 0;
}

/* Resolves the records r[0..n) of one gsn (see the file comment). */
static int resolve_gsn(sutra_db *db, const struct rec *r, size_t n, struct resolution *res)
{
	const struct rec *ops = NULL;
	bool commit = false, abort = false, end = false;
	struct shard_set prepared = {0};

	for (size_t i = 0; i < n; i++) {
		int ph = r[i].h.phase;
		if (!same_txn(&r[i].h, &r[0].h))
			return err_set(SUTRA_ECORRUPT,
			               "records of gsn %" PRIu64
			               " disagree on the coordinator or the "
			               "participants (shards %u and %u)",
			               r[0].gsn, r[0].shard, r[i].shard);
		if (ph == TXN_SINGLE || (ph == TXN_PREPARE && r[i].len)) {
			if (ops)
				return err_set(SUTRA_ECORRUPT,
				               "gsn %" PRIu64 " carries its ops twice", r[0].gsn);
			ops = &r[i];
		}
		if (ph == TXN_PREPARE)
			shard_set_add(&prepared, r[i].shard);
		commit |= ph == TXN_COMMIT;
		abort |= ph == TXN_ABORT;
		end |= ph == TXN_END;
	}
	if (r[0].h.phase == TXN_SINGLE)
		return n == 1 ? db_replay_batch(db, ops->body, ops->len)
		              : err_set(SUTRA_ECORRUPT, "gsn %" PRIu64 " logged twice", r[0].gsn);
	/* The decision was durable once every participant's PREPARE was. */
	bool decided = shard_set_count(&prepared) == r[0].h.nparts;
	if (commit && !decided)
		return err_set(SUTRA_ECORRUPT,
		               "transaction %" PRIu64 " committed but %u of its %u PREPARE records "
		               "are missing",
		               r[0].gsn, r[0].h.nparts - shard_set_count(&prepared), r[0].h.nparts);
	if (decided && abort)
		return err_set(SUTRA_ECORRUPT,
		               "transaction %" PRIu64 " aborted although every shard prepared",
		               r[0].gsn);
	if (decided && !ops)
		return err_set(SUTRA_ECORRUPT,
		               "transaction %" PRIu64
		               " prepared everywhere but its ops are missing",
		               r[0].gsn);
	if (decided) {
		int rc = db_replay_batch(db, ops->body, ops->len);
		if (rc < 0 || end)
			return rc;
		atomic_fetch_add(&db->tx.recovered, 1);
		return resolve_later(res, &r[0].h, TXN_COMMIT);
	}
	if (abort)
		return 0;
	atomic_fetch_add(&db->tx.recovered, 1);
	return resolve_later(res, &r[0].h, TXN_ABORT);
}

static int replay_merged(sutra_db *db, struct recs *rs, uint64_t from_gsn, struct resolution *res)
{
	int rc = 0;

	if (rs->n > 1)
		qsort(rs->r, rs->n, sizeof *rs->r, rec_order);
	for (size_t i = 0, j; i < rs->n && rc == 0; i = j) {
		for (j = i + 1; j < rs->n && rs->r[j].gsn == rs->r[i].gsn; j++)
			;
		if (rs->r[i].gsn >= from_gsn)
			rc = resolve_gsn(db, rs->r + i, j - i, res);
		if (rc == SUTRA_ECORRUPT && db->opt.repair) {
			/* Nothing of it was applied: dropping it whole keeps it atomic. */
			fprintf(stderr, "sutra: repair dropped gsn %" PRIu64 ": %s\n", rs->r[i].gsn,
			        sutra_last_error());
			db->store.skipped_ops++;
			rc = 0;
		}
		if (rc < 0)
			rc = err_set(rc, "recovering gsn %" PRIu64 ": %s%s", rs->r[i].gsn,
			             sutra_last_error(),
			             rc == SUTRA_ECORRUPT ? " (open with repair to drop it)" : "");
	}
	return rc;
}

/* ---- shard directories and checkpoint images -------------------------------- */

static int shard_dirs(sutra_db *db, bool created)
{
	char path[4096];
	struct stat st;
	int rc = 0;

	if (!(db->shards = sutra_calloc(db->nshards, sizeof *db->shards)))
		return err_set(SUTRA_ENOMEM, "out of memory for %u shards", db->nshards);
	if ((rc = db_commit_init_shards(db)) < 0)
		return rc;
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++) {
		struct shard_log *sh = &db->shards[s];
		pthread_mutex_init(&sh->mu, NULL);
		pthread_cond_init(&sh->cv, NULL);
		snprintf(path, sizeof path, "%s/shard_%04u", db->dir, s);
		if (!(sh->dir = sutra_memdup0(path, strlen(path))))
			return err_set(SUTRA_ENOMEM, "out of memory for %u shards", db->nshards);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (!created && db->manifest.checkpoint_lsn)
			return err_set(SUTRA_ECORRUPT,
			               "%s: shard directory missing (the store has %u "
			               "shards)",
			               path, db->nshards);
		rc = io_mkdir_p(path);
	}
	return rc == 0 ? io_fsync_dir(db->dir) : rc;
}

static int load_images(sutra_db *db)
{
	uint64_t gsn = db->manifest.checkpoint_lsn, bytes = 0;
	struct ckpt_result res;
	int rc = 0;

	if (gsn == 0)
		return 0;
	if (!(db->maps = sutra_calloc(db->nshards, sizeof *db->maps)))
		return err_set(SUTRA_ENOMEM, "out of memory opening the checkpoint");
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++) {
		struct ckpt_part part = {.shard = s, .nshards = db->nshards};
		rc = ckpt_load(db->shards[s].dir, gsn, db->opt.dimension, db->opt.repair,
		               CKPT_LEARNS, &part, &db->store, &db->maps[s], &res);
		db->nmaps = s + 1;
		db->shards[s].ckpt_wal_lsn = part.wal_lsn;
		bytes += res.bytes;
	}
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++) {
		struct ckpt_part part = {.shard = s, .nshards = db->nshards};
		struct ckpt_map map;
		rc = ckpt_load(db->shards[s].dir, gsn, db->opt.dimension, db->opt.repair,
		               CKPT_ASSOCS, &part, &db->store, &map, &res);
		if (map.addr)
			io_munmap(map.addr, map.size);
	}
	atomic_store(&db->checkpoint_lsn, gsn);
	atomic_store(&db->checkpoint_bytes, bytes);
	return rc;
}

/* ---- the logs ------------------------------------------------------------------ */

static int read_logs(sutra_db *db, struct recs *rs, struct wal_maps *maps, uint64_t *next_lsn)
{
	int rc = 0;

	rs->nshards = db->nshards;
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++) {
		struct wal_replay_info info;
		uint64_t from = db->shards[s].ckpt_wal_lsn ? db->shards[s].ckpt_wal_lsn : 1;
		rs->shard = s;
		rc = wal_replay_keep(db->shards[s].dir, from, db->opt.repair, collect, rs, &info,
		                     &maps[s]);
		if (rc == 0 && info.torn_bytes)
			fprintf(stderr, "sutra: recovery cut a torn WAL tail in shard %u: %s\n", s,
			        info.torn_where);
		next_lsn[s] = info.next_lsn;
		db->recovery_torn += info.torn_bytes;
		db->recovery_replayed += info.replayed;
	}
	return rc;
}

static int open_logs(sutra_db *db, const uint64_t *next_lsn)
{
	struct wal_config cfg = {
	    .segment_bytes = db->opt.wal_segment_bytes,
	    .max_pending_bytes = db->opt.max_pending_bytes,
	    .busy_timeout_ms = db->opt.busy_timeout_ms,
	    .sync = db->opt.durability != SUTRA_DURABILITY_NONE,
	};
	int rc = 0;

	for (uint32_t s = 0; s < db->nshards && rc == 0; s++)
		rc = wal_open(db->shards[s].dir, &cfg, next_lsn[s], &db->shards[s].wal);
	return rc;
}

/* Logs the decisions recovery took and makes them durable. */
static int log_resolution(sutra_db *db, const struct resolution *res)
{
	int rc = 0;

	for (size_t i = 0; i < res->n && rc == 0; i++) {
		if (res->p[i].phase == TXN_ABORT) {
			rc = shards_abort(db, &res->p[i].pos);
			continue;
		}
		atomic_fetch_add(&db->tx.active, 1);
		atomic_fetch_add(&db->tx.prepared, 1);
		rc = shards_commit(db, &res->p[i].pos);
	}
	return rc < 0 ? rc : log_flush(db, true);
}

static int remove_old_images(sutra_db *db)
{
	int rc = 0;

	for (uint32_t s = 0; s < db->nshards && rc == 0; s++)
		rc = ckpt_remove_others(db->shards[s].dir, db->manifest.checkpoint_lsn);
	return rc;
}

int shards_open(sutra_db *db, bool created)
{
	struct recs rs = {0};
	struct resolution res = {0};
	struct wal_maps *maps = NULL;
	uint64_t *next_lsn = NULL, t0 = clock_mono_ns();
	int rc;

	if ((rc = shard_dirs(db, created)) < 0 ||
	    (rc = store_count_shards(&db->store, db->nshards)) < 0 || (rc = load_images(db)) < 0)
		return rc;
	if (!(maps = sutra_calloc(db->nshards, sizeof *maps)) ||
	    !(next_lsn = sutra_calloc(db->nshards, sizeof *next_lsn))) {
		rc = err_set(SUTRA_ENOMEM, "out of memory for %u shards", db->nshards);
		goto out;
	}
	uint64_t from_gsn = db->manifest.checkpoint_lsn ? db->manifest.checkpoint_lsn : 1;
	if ((rc = read_logs(db, &rs, maps, next_lsn)) < 0 ||
	    (rc = replay_merged(db, &rs, from_gsn, &res)) < 0)
		goto out;
	uint64_t next = rs.max_gsn + 1 > from_gsn ? rs.max_gsn + 1 : from_gsn;
	atomic_store(&db->next_gsn, next);
	atomic_store(&db->durable_gsn, next);
	db->recovery_next_lsn = next;
	db->recovery_skipped = db->store.skipped_ops;
	if ((rc = open_logs(db, next_lsn)) == 0 && (rc = log_resolution(db, &res)) == 0 &&
	    (rc = remove_old_images(db)) == 0)
		rc = db_remove_other_indexes(db, db->manifest.checkpoint_lsn);
	if (res.n)
		fprintf(stderr, "sutra: recovery resolved %zu in-doubt cross-shard transactions\n",
		        res.n);
out:
	for (uint32_t s = 0; maps && s < db->nshards; s++)
		wal_maps_free(&maps[s]);
	sutra_free(maps);
	sutra_free(next_lsn);
	sutra_free(rs.r);
	sutra_free(res.p);
	db->recovery_us = (clock_mono_ns() - t0) / 1000;
	return rc;
}

void shards_free(sutra_db *db)
{
	for (uint32_t s = 0; db->shards && s < db->nshards; s++) {
		pthread_mutex_destroy(&db->shards[s].mu);
		pthread_cond_destroy(&db->shards[s].cv);
		sutra_free(db->shards[s].dir);
	}
	sutra_free(db->shards);
	db->shards = NULL;
}
