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
	if (db->vindex)
		vindex_figures(db->vindex, s);
	s->ops_written = atomic_load(&db->ops_written);
	s->records_written = atomic_load(&db->records_written);
	wal_stats_get(db->wal, &ws);
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
	return 0;
}
