/* stats.c - the figures a store reports: contents, writes, WAL, checkpoints,
 * recovery, health and the background scheduler. */
#include <stdio.h>
#include <string.h>

#include "engine/db.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/vindex.h"

static void fill_health(sutra_db *db, sutra_stats *s)
{
	int e = sutra_health(db);

	s->read_only = e != 0;
	s->sticky_error = e;
	if (e)
		snprintf(s->sticky_message, sizeof s->sticky_message,
		         "writes refused after %s; reopen the store after fixing the cause",
		         sutra_strerror(e));
}

/* Summed over the shards' indexes; ready and loaded only when all are. */
static void index_figures(sutra_db *db, sutra_stats *s)
{
	for (uint32_t i = 0; i < db->nvx; i++) {
		sutra_stats one = {0};
		vindex_figures(db->vx[i], &one);
		s->vectors_indexed += one.vectors_indexed;
		s->index_lag += one.index_lag;
		s->index_deleted += one.index_deleted;
		s->index_compactions += one.index_compactions;
		s->index_ready = i ? s->index_ready && one.index_ready : one.index_ready;
		s->index_loaded = i ? s->index_loaded && one.index_loaded : one.index_loaded;
		if (one.index_open_us > s->index_open_us)
			s->index_open_us = one.index_open_us;
	}
}

static void fill_txn(sutra_db *db, sutra_stats *s)
{
	s->shards = db->nshards;
	s->txn_active = atomic_load(&db->tx.active);
	s->txn_preparing = atomic_load(&db->tx.preparing);
	s->txn_prepared = atomic_load(&db->tx.prepared);
	s->txn_committed = atomic_load(&db->tx.committed);
	s->txn_aborted = atomic_load(&db->tx.aborted);
	s->txn_timed_out = atomic_load(&db->tx.timed_out);
	s->txn_recovered = atomic_load(&db->tx.recovered);
}

int sutra_stats_get(sutra_db *db, sutra_stats *s)
{
	struct wal_stats ws;
	struct sched_figures f;
	int rc = db_check_open(db);

	if (rc < 0 || !s)
		return rc < 0 ? rc : err_set(SUTRA_EINVAL, "stats: NULL output");
	memset(s, 0, sizeof *s);
	s->concepts = atomic_load(&db->store.n.concepts);
	s->associations = atomic_load(&db->store.n.associations);
	s->vectors = atomic_load(&db->store.n.vectors);
	s->content_bytes = atomic_load(&db->store.n.content_bytes);
	s->vector_bytes = atomic_load(&db->store.n.vector_bytes);
	s->meta_bytes = atomic_load(&db->store.n.meta_bytes);
	index_figures(db, s);
	s->ops_written = atomic_load(&db->ops_written);
	s->records_written = atomic_load(&db->records_written);
	log_stats(db, &ws);
	s->busy_rejections = ws.busy;
	s->wal_next_lsn = ws.next_lsn;
	s->wal_durable_lsn = ws.durable_lsn;
	s->wal_segments = ws.segments;
	s->wal_bytes = ws.bytes;
	s->wal_fsyncs = ws.fsyncs;
	s->wal_writes = ws.writes;
	s->pending_records = ws.pending_records;
	s->pending_bytes = ws.pending_bytes;
	s->checkpoint_lsn = atomic_load(&db->checkpoint_lsn);
	s->checkpoints = atomic_load(&db->checkpoints);
	s->checkpoint_bytes = atomic_load(&db->checkpoint_bytes);
	s->checkpoint_last_us = atomic_load(&db->checkpoint_last_us);
	s->recovery_replayed = db->recovery_replayed;
	s->recovery_torn_bytes = db->recovery_torn;
	s->recovery_skipped_ops = db->recovery_skipped;
	s->recovery_us = db->recovery_us;
	fill_health(db, s);
	bg_figures(db, &f);
	s->sched_cycles = f.cycles;
	s->queue_depth = (double)ws.pending_records;
	s->queue_ema = f.queue_ema;
	s->utilization = (double)ws.pending_bytes / (double)db->opt.max_pending_bytes;
	s->interval_ms = f.interval_ms;
	s->processing_rate = f.processing_rate;
	s->predicted_depth = f.predicted_depth;
	s->estimated_lag_ms = f.estimated_lag_ms;
	s->health_score = s->read_only ? 0.0 : f.health_score;
	s->recommendation = f.recommendation;
	s->uptime_us = clock_wall_us() - db->opened_us;
	fill_txn(db, s);
	return 0;
}

int sutra_shard_stats_get(sutra_db *db, sutra_shard_stats *out, size_t cap, uint32_t *n)
{
	int rc = db_check_open(db);

	if (rc < 0 || !n || (!out && cap))
		return rc < 0 ? rc : err_set(SUTRA_EINVAL, "shard stats: NULL output");
	*n = db->nshards;
	if (cap > db->nshards)
		cap = db->nshards;
	for (size_t s = 0; s < cap; s++) {
		struct wal_stats ws;
		memset(&out[s], 0, sizeof out[s]);
		wal_stats_get(db->shards[s].wal, &ws);
		out[s].wal_next_lsn = ws.next_lsn;
		out[s].wal_durable_lsn = ws.durable_lsn;
		out[s].wal_segments = ws.segments;
		out[s].wal_bytes = ws.bytes;
		out[s].wal_fsyncs = ws.fsyncs;
		out[s].wal_writes = ws.writes;
		out[s].pending_records = ws.pending_records;
		out[s].pending_bytes = ws.pending_bytes;
		const struct shard_counts *c = &db->store.per_shard[s];
		out[s].concepts = atomic_load_explicit(&c->concepts, memory_order_relaxed);
		out[s].vectors = atomic_load_explicit(&c->vectors, memory_order_relaxed);
		out[s].associations = atomic_load_explicit(&c->associations, memory_order_relaxed);
	}
	return 0;
}

uint32_t sutra_shard_of(const sutra_id *id, uint32_t n)
{
	return id && n ? shard_of(id->b, n) : 0;
}
