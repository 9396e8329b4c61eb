/* sched.c - background work: the adaptive scheduler and the checkpointer.
 *
 * The scheduler is the Rust engine's "adaptive reconciler" put to real use.
 * Each cycle it writes out the WAL queue (durability none), syncs it when
 * interval_ms has passed (durability interval), frees retired memory,
 * starts a checkpoint when enough WAL has accumulated, and updates its
 * figures. Its interval adapts to load like the reconciler's: an EMA of the
 * queue depth (alpha 0.3) above 1,000 records halves the interval (down to
 * sched_min_interval_ms), below 100 it grows by a quarter (up to
 * sched_max_interval_ms). A WAL queue past a quarter of its cap wakes it at
 * once.
 *
 * Checkpoints run on their own thread so that a long image write never
 * delays the WAL syncs that bound the loss window of durability interval.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/vindex.h"

#define EMA_ALPHA  0.3
#define DEPTH_HIGH 1000.0
#define DEPTH_LOW  100.0

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, double ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(ms * 1e6);
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_cond_timedwait(c, m, &ts);
}

static void kick(void *arg)
{
	struct background *bg = arg;

	pthread_mutex_lock(&bg->mu);
	bg->kicked = true;
	pthread_cond_signal(&bg->wake);
	pthread_mutex_unlock(&bg->mu);
}

static const char *recommend(double health, double util, int sticky)
{
	if (sticky)
		return "read-only after an I/O failure: fix the disk, then reopen the store";
	if (util > 0.75)
		return "write queue nearly full: batch writes or raise max_pending_bytes";
	if (health < 0.5)
		return "falling behind: durability interval or batching would help";
	return "healthy";
}

/* Updates the figures from one cycle (bg->mu held). */
static void update_figures(sutra_db *db, const struct wal_stats *ws, double dt_s,
                           uint64_t durable_before, int sticky)
{
	struct sched_figures *f = &db->bg.fig;
	double depth = (double)ws->pending_records;
	double prev = f->queue_depth;
	double rate = dt_s > 0 ? (double)(ws->written_lsn - durable_before) / dt_s : 0;

	f->cycles++;
	f->queue_depth = depth;
	f->queue_ema = EMA_ALPHA * depth + (1 - EMA_ALPHA) * f->queue_ema;
	f->utilization = (double)ws->pending_bytes / (double)db->opt.max_pending_bytes;
	f->processing_rate = EMA_ALPHA * rate + (1 - EMA_ALPHA) * f->processing_rate;
	f->predicted_depth = f->queue_ema + (depth - prev);
	if (f->predicted_depth < 0)
		f->predicted_depth = 0;
	f->estimated_lag_ms = f->processing_rate > 0 ? depth / f->processing_rate * 1000 : 0;
	if (f->queue_ema > DEPTH_HIGH)
		f->interval_ms /= 2;
	else if (f->queue_ema < DEPTH_LOW)
		f->interval_ms *= 1.25;
	if (f->interval_ms < db->opt.sched_min_interval_ms)
		f->interval_ms = db->opt.sched_min_interval_ms;
	if (f->interval_ms > db->opt.sched_max_interval_ms)
		f->interval_ms = db->opt.sched_max_interval_ms;
	double lag = f->estimated_lag_ms / 1000.0;
	f->health_score = sticky ? 0 : 1.0 - 0.5 * f->utilization - 0.5 * (lag > 1 ? 1 : lag);
	f->recommendation = recommend(f->health_score, f->utilization, sticky);
}

static void request_checkpoint_locked(struct background *bg)
{
	if (bg->ckpt_requested == bg->ckpt_finished) {
		bg->ckpt_requested++;
		pthread_cond_signal(&bg->ckpt_wake);
	}
}

/* One cycle of work; returns the time it last synced. */
static uint64_t cycle(sutra_db *db, uint64_t last_sync_ns)
{
	uint64_t now = clock_mono_ns();
	bool sync_due = db->opt.durability == SUTRA_DURABILITY_INTERVAL &&
	                now - last_sync_ns >= (uint64_t)db->opt.interval_ms * 1000000ull;

	if (db->opt.durability != SUTRA_DURABILITY_ALWAYS || sync_due)
		log_flush(db, sync_due); /* errors are sticky in the WAL */
	if (pthread_mutex_trylock(&db->wlock) == 0) {
		epoch_reclaim(&db->store.bin);
		pthread_mutex_unlock(&db->wlock);
	}
	return sync_due ? now : last_sync_ns;
}

static void *sched_main(void *arg)
{
	sutra_db *db = arg;
	struct background *bg = &db->bg;
	uint64_t last_sync = clock_mono_ns(), last = last_sync;
	struct wal_stats ws;

	pthread_mutex_lock(&bg->mu);
	while (!bg->stop) {
		if (!bg->kicked)
			timed_wait(&bg->wake, &bg->mu, bg->fig.interval_ms);
		bg->kicked = false;
		if (bg->stop)
			break;
		pthread_mutex_unlock(&bg->mu);
		log_stats(db, &ws);
		uint64_t before = ws.written_lsn;
		last_sync = cycle(db, last_sync);
		log_stats(db, &ws);
		uint64_t now = clock_mono_ns();
		int sticky = sutra_health(db) != 0; /* takes the WAL lock: not under ours */
		pthread_mutex_lock(&bg->mu);
		update_figures(db, &ws, (double)(now - last) / 1e9, before, sticky);
		last = now;
		if (db->opt.checkpoint_wal_bytes &&
		    ws.written_bytes - bg->ckpt_wal_mark >= db->opt.checkpoint_wal_bytes)
			request_checkpoint_locked(bg);
	}
	pthread_mutex_unlock(&bg->mu);
	return NULL;
}

/* The image may hold effects of ops up to now: make them durable first. */
static int sync_log(void *arg)
{
	sutra_db *db = arg;

	return wal_flush(db->wal, true);
}

/* A sharded checkpoint is published by the manifest after its last image:
 * then every transaction the images could hold (below the cut) has been
 * decided and every shard's log is synced past them. */
struct shard_ckpt {
	sutra_db *db;
	uint64_t gsn;
	uint32_t images;
};

static int sync_shard_logs(void *arg)
{
	struct shard_ckpt *c = arg;
	int rc;

	if (++c->images < c->db->nshards)
		return 0;
	return (rc = txn_wait_below(c->db, c->gsn)) < 0 ? rc : log_flush(c->db, true);
}

/* Saves the vector index beside the checkpoint image, before the manifest
 * names the checkpoint: a failure fails the checkpoint, like a failure of
 * the image. While the first build runs there is no file to write (the
 * next open rebuilds). */
static int save_index(sutra_db *db, uint64_t lsn, const uint64_t *mark)
{
	int rc = 0;

	for (uint32_t s = 0; s < db->nvx && rc == 0; s++)
		if ((rc = vindex_save(db->vx[s], lsn, mark[s])) == SUTRA_EBUSY)
			rc = 0;
	return rc;
}

static void checkpoint_done(sutra_db *db, uint64_t lsn, uint64_t bytes, uint64_t t0)
{
	atomic_store(&db->checkpoint_lsn, lsn);
	atomic_store(&db->checkpoint_bytes, bytes);
	atomic_fetch_add(&db->checkpoints, 1);
	atomic_store(&db->checkpoint_last_us, (clock_mono_ns() - t0) / 1000);
}

/* The cut of a sharded checkpoint: the gsn and each WAL's next lsn, taken
 * together under the writer lock. */
static uint64_t shard_cut(sutra_db *db, uint64_t *cut, uint64_t *marks)
{
	uint64_t bytes = 0;

	pthread_mutex_lock(&db->wlock);
	uint64_t gsn = atomic_load(&db->next_gsn);
	for (uint32_t s = 0; s < db->nshards; s++) {
		struct wal_stats ws;
		wal_stats_get(db->shards[s].wal, &ws);
		cut[s] = ws.next_lsn;
		bytes += ws.written_bytes + ws.pending_bytes;
	}
	for (uint32_t s = 0; s < db->nvx; s++)
		marks[s] = vindex_mark(db->vx[s]);
	pthread_mutex_unlock(&db->wlock);
	pthread_mutex_lock(&db->bg.mu);
	db->bg.ckpt_wal_mark = bytes;
	pthread_mutex_unlock(&db->bg.mu);
	return gsn;
}

static int shard_images(sutra_db *db, uint64_t gsn, const uint64_t *cut, uint64_t *bytes)
{
	struct shard_ckpt c = {db, gsn, 0};
	struct ckpt_result res;
	int rc = 0;

	for (uint32_t s = 0; s < db->nshards && rc == 0; s++) {
		struct ckpt_part part = {s, db->nshards, cut[s]};
		rc = ckpt_write(db->shards[s].dir, &db->store, gsn, db->opt.dimension, &part,
		                sync_shard_logs, &c, &res);
		*bytes += res.bytes;
	}
	return rc;
}

int shards_checkpoint(sutra_db *db)
{
	uint64_t *cut = sutra_calloc(2 * (size_t)db->nshards, sizeof *cut), bytes = 0;
	uint64_t t0 = clock_mono_ns();
	int rc;

	if (!cut)
		return err_set(SUTRA_ENOMEM, "out of memory for a checkpoint of %u shards",
		               db->nshards);
	uint64_t *marks = cut + db->nshards;
	uint64_t gsn = shard_cut(db, cut, marks);
	if (gsn == atomic_load(&db->checkpoint_lsn) && !db->rewrite_checkpoint) {
		sutra_free(cut);
		return 0; /* nothing new */
	}
	db->rewrite_checkpoint = false;
	struct manifest m = db->manifest;
	m.checkpoint_lsn = gsn;
	if ((rc = shard_images(db, gsn, cut, &bytes)) == 0 &&
	    (rc = save_index(db, gsn, marks)) == 0 && (rc = manifest_write(db->dir, &m)) == 0) {
		db->manifest = m;
		checkpoint_done(db, gsn, bytes, t0);
		rc = db_remove_other_indexes(db, gsn);
	}
	for (uint32_t s = 0; s < db->nshards && rc == 0; s++)
		if ((rc = ckpt_remove_others(db->shards[s].dir, gsn)) == 0)
			rc = wal_truncate_before(db->shards[s].wal, cut[s]);
	sutra_free(cut);
	return rc;
}

int db_checkpoint_now(sutra_db *db)
{
	struct ckpt_result res;
	struct wal_stats ws;
	uint64_t t0 = clock_mono_ns();
	int rc;

	if (db->nshards)
		return shards_checkpoint(db);
	/* Under the writer lock every op below next_lsn has been applied (and
	 * noted in the vector index's log below mark). */
	pthread_mutex_lock(&db->wlock);
	wal_stats_get(db->wal, &ws);
	uint64_t mark = db->nvx ? vindex_mark(db->vx[0]) : 0;
	pthread_mutex_unlock(&db->wlock);
	uint64_t lsn = ws.next_lsn;
	pthread_mutex_lock(&db->bg.mu);
	db->bg.ckpt_wal_mark = ws.written_bytes + ws.pending_bytes;
	pthread_mutex_unlock(&db->bg.mu);
	if (lsn == atomic_load(&db->checkpoint_lsn) && !db->rewrite_checkpoint)
		return 0; /* nothing new */
	db->rewrite_checkpoint = false;
	struct manifest m = db->manifest;
	m.checkpoint_lsn = lsn;
	if ((rc = ckpt_write(db->dir, &db->store, lsn, db->opt.dimension, NULL, sync_log, db,
	                     &res)) < 0)
		return rc;
	if ((rc = save_index(db, lsn, &mark)) < 0 || (rc = manifest_write(db->dir, &m)) < 0)
		return rc;
	db->manifest = m;
	checkpoint_done(db, lsn, res.bytes, t0);
	if ((rc = ckpt_remove_others(db->dir, lsn)) < 0 ||
	    (rc = db_remove_other_indexes(db, lsn)) < 0)
		return rc;
	return wal_truncate_before(db->wal, lsn);
}

static void *ckpt_main(void *arg)
{
	sutra_db *db = arg;
	struct background *bg = &db->bg;

	pthread_mutex_lock(&bg->mu);
	for (;;) {
		while (!bg->stop && bg->ckpt_requested == bg->ckpt_finished)
			pthread_cond_wait(&bg->ckpt_wake, &bg->mu);
		if (bg->stop)
			break;
		uint64_t target = bg->ckpt_requested;
		pthread_mutex_unlock(&bg->mu);
		int rc = db_checkpoint_now(db);
		if (rc < 0)
			fprintf(stderr, "sutra: checkpoint failed: %s\n", sutra_last_error());
		pthread_mutex_lock(&bg->mu);
		bg->ckpt_rc = rc;
		bg->ckpt_finished = target;
		pthread_cond_broadcast(&bg->ckpt_done);
	}
	bg->ckpt_finished = bg->ckpt_requested;
	pthread_cond_broadcast(&bg->ckpt_done);
	pthread_mutex_unlock(&bg->mu);
	return NULL;
}

int bg_checkpoint(sutra_db *db)
{
	struct background *bg = &db->bg;
	char msg[512] = "";

	pthread_mutex_lock(&bg->mu);
	/* Wait out a running checkpoint: it may have started before our writes. */
	while (bg->ckpt_requested != bg->ckpt_finished && !bg->stop)
		pthread_cond_wait(&bg->ckpt_done, &bg->mu);
	bg->ckpt_requested++;
	uint64_t mine = bg->ckpt_requested;
	pthread_cond_signal(&bg->ckpt_wake);
	while (bg->ckpt_finished < mine && !bg->stop)
		pthread_cond_wait(&bg->ckpt_done, &bg->mu);
	int rc = bg->stop ? SUTRA_ECLOSED : bg->ckpt_rc;
	pthread_mutex_unlock(&bg->mu);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "checkpoint failed (%s)", sutra_strerror(rc));
		return err_set(rc, "%s", msg);
	}
	return 0;
}

int bg_start(sutra_db *db)
{
	struct background *bg = &db->bg;

	pthread_mutex_init(&bg->mu, NULL);
	pthread_cond_init(&bg->wake, NULL);
	pthread_cond_init(&bg->ckpt_wake, NULL);
	pthread_cond_init(&bg->ckpt_done, NULL);
	bg->fig.interval_ms = db->opt.sched_base_interval_ms;
	bg->fig.health_score = 1.0;
	bg->fig.recommendation = "healthy";
	log_set_kick(db, kick, bg);
	if (pthread_create(&bg->sched, NULL, sched_main, db) != 0)
		return err_set(SUTRA_ENOMEM, "cannot start the scheduler thread");
	bg->sched_started = true;
	if (pthread_create(&bg->ckpt, NULL, ckpt_main, db) != 0)
		return err_set(SUTRA_ENOMEM, "cannot start the checkpoint thread");
	bg->ckpt_started = true;
	return 0;
}

void bg_stop(sutra_db *db)
{
	struct background *bg = &db->bg;

	if (!bg->sched_started && !bg->ckpt_started)
		return;
	pthread_mutex_lock(&bg->mu);
	bg->stop = true;
	pthread_cond_broadcast(&bg->wake);
	pthread_cond_broadcast(&bg->ckpt_wake);
	pthread_mutex_unlock(&bg->mu);
	if (bg->sched_started)
		pthread_join(bg->sched, NULL);
	if (bg->ckpt_started)
		pthread_join(bg->ckpt, NULL);
	bg->sched_started = bg->ckpt_started = false;
	log_set_kick(db, NULL, NULL);
}

void bg_figures(sutra_db *db, struct sched_figures *out)
{
	pthread_mutex_lock(&db->bg.mu);
	*out = db->bg.fig;
	pthread_mutex_unlock(&db->bg.mu);
}
