/* db.c - opening, recovering and closing a store.
 *
 * Open: validate options, lock the directory, read the manifest (or create
 * a new store), load the checkpoint it names, replay the WAL from there,
 * start a fresh WAL segment and the background threads. Close: stop
 * accepting writes, stop the background, make everything durable, free.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/db.h"
#include "io/io.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/filter.h"
#include "vector/vindex.h"

/* Remembers a concept whose vector the replay may have changed: the
 * vector index saved with the checkpoint predates it. */
static int note_replayed(sutra_db *db, const struct op *o)
{
	if (!db->opt.vector_index || (o->kind != OP_LEARN && o->kind != OP_DELETE))
		return 0;
	int rc = idset_add(&db->replayed, o->id);
	return rc < 0 ? rc : 0;
}

/* Checks every op of a WAL record (or applies them, once all check out):
 * a record that does not decode whole is applied not at all, so cutting
 * the log there with repair leaves no partial batch behind. */
static int replay_pass(sutra_db *db, const uint8_t *payload, size_t len, uint32_t count, bool apply)
{
	size_t pos = OP_BATCH_HEADER;
	int rc = 0;

	for (uint32_t k = 0; k < count && rc == 0; k++) {
		struct op o;
		if ((rc = op_decode(payload + pos, len - pos, &o)) < 0)
			break;
		if (o.dim && o.dim != db->opt.dimension)
			rc = err_set(SUTRA_ECORRUPT,
			             "learn op with a vector of dimension %u in a store of "
			             "dimension %u",
			             o.dim, db->opt.dimension);
		else if (apply && (rc = store_apply(&db->store, &o, false, true)) == 0)
			rc = note_replayed(db, &o);
		pos += o.size;
	}
	return rc;
}

int db_replay_batch(sutra_db *db, const uint8_t *payload, size_t len)
{
	uint32_t count;
	int rc = op_batch_header(payload, len, &count);

	if (rc == 0)
		rc = replay_pass(db, payload, len, count, false);
	return rc < 0 ? rc : replay_pass(db, payload, len, count, true);
}

/* Applies one WAL record at recovery. */
static int replay_record(void *ctx, uint64_t lsn, uint8_t *payload, size_t len)
{
	(void)lsn;
	return db_replay_batch(ctx, payload, len);
}

static int open_manifest(sutra_db *db, bool *created)
{
	int rc = manifest_read(db->dir, &db->manifest);

	*created = false;
	if (rc == SUTRA_ENOTFOUND) {
		char **names = NULL;
		size_t n = 0;
		if ((rc = io_list(db->dir, "wal-", &names, &n)) < 0)
			return rc;
		io_list_free(names, n);
		if (n > 0)
			return err_set(SUTRA_ECORRUPT, "%s: WAL segments but no MANIFEST", db->dir);
		db->manifest.dimension = db->opt.dimension;
		db->manifest.checkpoint_lsn = 0;
		db->manifest.created_us = clock_wall_us();
		db->manifest.shards = db->opt.shards;
		db->nshards = db->opt.shards;
		*created = true;
		return manifest_write(db->dir, &db->manifest);
	}
	if (rc < 0)
		return rc;
	db->nshards = db->manifest.shards;
	if (db->opt.shards && db->manifest.shards && db->opt.shards != db->manifest.shards)
		return err_set(
		    SUTRA_EINVAL,
		    "option shards = %u, but the store in %s has %u shards: the count is "
		    "fixed when a store is created; open it with its own count (or 0, or "
		    "sutra-server's single storage mode), or re-shard it with sutra-export "
		    "and sutra-import",
		    db->opt.shards, db->dir, db->manifest.shards);
	if (db->opt.shards && !db->manifest.shards)
		return err_set(
		    SUTRA_EINVAL,
		    "option shards = %u, but the store in %s is not sharded (one log): open "
		    "it unsharded (shards = 0, or sutra-server's single storage mode), or "
		    "re-shard it with sutra-export and sutra-import",
		    db->opt.shards, db->dir);
	if (db->manifest.dimension != db->opt.dimension)
		return err_set(SUTRA_EINVAL,
		               "option dimension = %u does not match the store's dimension %u (%s)",
		               db->opt.dimension, db->manifest.dimension, db->dir);
	return 0;
}

static int load_checkpoint(sutra_db *db)
{
	struct ckpt_result res;
	struct ckpt_map map;
	uint64_t lsn = db->manifest.checkpoint_lsn;

	if (lsn == 0)
		return 0;
	if (!(db->maps = sutra_calloc(1, sizeof *db->maps)))
		return err_set(SUTRA_ENOMEM, "out of memory opening the checkpoint");
	int rc = ckpt_load(db->dir, lsn, db->opt.dimension, db->opt.repair, CKPT_ALL, NULL,
	                   &db->store, &map, &res);
	db->maps[0] = map;
	db->nmaps = 1;
	atomic_store(&db->checkpoint_lsn, lsn);
	atomic_store(&db->checkpoint_bytes, res.bytes);
	return rc;
}

static int recover(sutra_db *db)
{
	struct wal_replay_info info;
	struct wal_config cfg = {
	    .segment_bytes = db->opt.wal_segment_bytes,
	    .max_pending_bytes = db->opt.max_pending_bytes,
	    .busy_timeout_ms = db->opt.busy_timeout_ms,
	    .sync = db->opt.durability != SUTRA_DURABILITY_NONE,
	};
	uint64_t t0 = clock_mono_ns();
	uint64_t from = db->manifest.checkpoint_lsn ? db->manifest.checkpoint_lsn : 1;
	int rc;

	if ((rc = load_checkpoint(db)) < 0 ||
	    (rc = wal_replay(db->dir, from, db->opt.repair, replay_record, db, &info)) < 0)
		return rc;
	if (info.torn_bytes)
		fprintf(stderr, "sutra: recovery cut a torn WAL tail: %s\n", info.torn_where);
	db->recovery_replayed = info.replayed;
	db->recovery_next_lsn = info.next_lsn;
	db->recovery_torn = info.torn_bytes;
	db->recovery_skipped = db->store.skipped_ops;
	if ((rc = wal_open(db->dir, &cfg, info.next_lsn, &db->wal)) < 0)
		return rc;
	if ((rc = ckpt_remove_others(db->dir, db->manifest.checkpoint_lsn)) == 0)
		rc = db_remove_other_indexes(db, db->manifest.checkpoint_lsn);
	db->recovery_us = (clock_mono_ns() - t0) / 1000;
	return rc;
}

static int log_sync(void *arg)
{
	return log_flush(arg, true);
}

static uint64_t log_next(void *arg)
{
	sutra_db *db = arg;
	struct wal_stats ws;

	if (db->nshards)
		return atomic_load(&db->next_gsn);
	wal_stats_get(db->wal, &ws);
	return ws.next_lsn;
}

static int open_vindex(sutra_db *db)
{
	struct vindex_config cfg = {.dim = db->opt.dimension,
	                            .M = db->opt.index_m,
	                            .ef_construction = db->opt.index_ef_construction,
	                            .metric = db->opt.vector_metric,
	                            .nshards = db_index_shards(db),
	                            .dir = db->dir,
	                            .checkpoint_lsn = db->manifest.checkpoint_lsn,
	                            .next_lsn = db->recovery_next_lsn,
	                            .replayed = &db->replayed,
	                            .sync_log = log_sync,
	                            .log_next = log_next,
	                            .arg = db};
	uint32_t n = cfg.nshards ? cfg.nshards : 1;
	int rc = 0;

	if (db->opt.vector_index && !(db->vx = sutra_calloc(n, sizeof *db->vx)))
		rc = err_set(SUTRA_ENOMEM, "out of memory for %u vector indexes", n);
	for (uint32_t s = 0; db->vx && s < n && rc == 0; s++) {
		cfg.shard = s;
		if (cfg.nshards)
			cfg.dir = db->shards[s].dir;
		if ((rc = vindex_open(&db->store, &cfg, &db->vx[s])) == 0)
			db->nvx = s + 1;
	}
	idset_free(&db->replayed);
	return rc;
}

struct vindex *db_vindex_for(sutra_db *db, const uint8_t id[16])
{
	if (!db->nvx)
		return NULL;
	return db->vx[db->nvx > 1 ? shard_of(id, db->nvx) : 0];
}

uint32_t db_index_shards(sutra_db *db)
{
	return db->opt.vector_index_per_shard ? db->nshards : 0;
}

int db_remove_other_indexes(sutra_db *db, uint64_t lsn)
{
	char keep[4096];
	int rc = 0;

	vindex_path(".", lsn, keep, sizeof keep);
	bool per_shard = db_index_shards(db) > 0;
	/* Files of the other layout (the option changed) go too. */
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++)
		rc = files_remove_others(db->shards[s].dir, "vindex-", per_shard ? keep + 2 : "");
	return rc == 0 ? files_remove_others(db->dir, "vindex-", per_shard ? "" : keep + 2) : rc;
}

static int open_dir(sutra_db *db)
{
	struct stat st;

	if (stat(db->dir, &st) != 0) {
		if (!db->opt.create_if_missing)
			return err_set(SUTRA_ENOTFOUND, "store directory %s does not exist",
			               db->dir);
		return io_mkdir_p(db->dir);
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(SUTRA_EINVAL, "%s is not a directory", db->dir);
	return 0;
}

static void db_free(sutra_db *db)
{
	for (uint32_t s = 0; s < db->nvx; s++)
		vindex_close(db->vx[s]);
	sutra_free(db->vx);
	idset_free(&db->replayed);
	store_destroy(&db->store);
	for (size_t i = 0; i < db->nmaps; i++)
		io_munmap(db->maps[i].addr, db->maps[i].size);
	sutra_free(db->maps);
	shards_free(db);
	txn_table_destroy(&db->undecided);
	if (db->lock_fd >= 0)
		io_close(db->lock_fd);
	pthread_mutex_destroy(&db->wlock);
	db_commit_destroy(db);
	sutra_free(db->dir);
	sutra_free(db);
}

int sutra_open(const char *dir, const sutra_options *o, sutra_db **out)
{
	sutra_options defaults;
	sutra_db *db;
	bool created;
	int rc;

	if (!dir || !*dir || !out)
		return err_set(SUTRA_EINVAL, "open: missing directory or output handle");
	if (!o) {
		sutra_options_init(&defaults);
		o = &defaults;
	}
	if ((rc = sutra_options_validate(o)) < 0)
		return rc;
	if (!(db = sutra_calloc(1, sizeof *db)) || !(db->dir = sutra_memdup0(dir, strlen(dir)))) {
		sutra_free(db);
		return err_set(SUTRA_ENOMEM, "out of memory opening %s", dir);
	}
	db->opt = *o;
	db->lock_fd = -1;
	db->opened_us = clock_wall_us();
	pthread_mutex_init(&db->wlock, NULL);
	txn_table_init(&db->undecided);
	db_commit_init(db);
	if ((rc = store_init(&db->store)) < 0 || (rc = open_dir(db)) < 0 ||
	    (rc = io_lock_dir(db->dir, &db->lock_fd)) < 0 ||
	    (rc = open_manifest(db, &created)) < 0 ||
	    (rc = db->nshards ? shards_open(db, created) : recover(db)) < 0 ||
	    (rc = open_vindex(db)) < 0 || (rc = bg_start(db)) < 0)
		goto fail;
	/* A repair skipped or cut something: checkpoint now, so the next open
	 * without repair finds a clean store instead of the same damage. */
	db->rewrite_checkpoint = db->opt.repair != 0;
	if (db->opt.repair && (rc = bg_checkpoint(db)) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	bg_stop(db);
	log_close(db);
	db_free(db);
	return rc;
}

int sutra_close(sutra_db *db)
{
	if (!db)
		return 0;
	db_commit_shutdown(db);
	pthread_mutex_lock(&db->wlock);
	atomic_store(&db->closing, 1);
	pthread_mutex_unlock(&db->wlock);
	bg_stop(db);
	int rc = log_close(db);
	int sticky = atomic_load(&db->apply_error);
	db_free(db);
	return sticky ? sticky : rc;
}

int sutra_sync(sutra_db *db)
{
	int rc = db_check_open(db);

	return rc < 0 ? rc : log_flush(db, true);
}

int sutra_checkpoint(sutra_db *db)
{
	int rc = db_check_open(db);

	return rc < 0 ? rc : bg_checkpoint(db);
}

int sutra_health(sutra_db *db)
{
	if (!db)
		return SUTRA_EINVAL;
	int e = atomic_load(&db->apply_error);
	return e ? e : log_error(db);
}
