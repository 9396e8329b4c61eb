/* db.h - the engine's handle (struct sutra_db) shared by the engine files.
 *
 * Locks, outermost first: wlock (one writer applies at a time, in lsn
 * order) -> the WAL's mutex. Readers take no lock at all (store.h). The
 * scheduler and checkpoint threads take wlock only briefly: to read the
 * checkpoint lsn and to reclaim memory.
 */
#ifndef SUTRA_ENGINE_DB_H
#define SUTRA_ENGINE_DB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/checkpoint.h"
#include "store/store.h"
#include "sutra/sutra.h"
#include "vector/filter.h"
#include "wal/wal.h"

struct sched_figures {
	uint64_t cycles;
	double queue_depth, queue_ema, utilization, interval_ms, processing_rate;
	double predicted_depth, estimated_lag_ms, health_score;
	const char *recommendation;
};

struct background {
	pthread_t sched, ckpt;
	bool sched_started, ckpt_started;
	pthread_mutex_t mu;
	pthread_cond_t wake;      /* scheduler: kick or stop */
	pthread_cond_t ckpt_wake; /* checkpointer: request or stop */
	pthread_cond_t ckpt_done;
	bool stop, kicked;
	uint64_t ckpt_requested, ckpt_finished; /* request sequence numbers */
	int ckpt_rc;
	struct sched_figures fig;
	uint64_t ckpt_wal_mark; /* WAL bytes written when the last checkpoint began */
};

struct sutra_db {
	char *dir;
	sutra_options opt;
	int lock_fd;
	pthread_mutex_t wlock;
	struct commit_queue {
		pthread_mutex_t mu;
		pthread_cond_t wake; /* the committer thread: work without a leader */
		struct commit_req *head, *tail;
		bool combining; /* a thread is processing the queue */
		bool stop, committer_started;
		pthread_t committer;
	} cq;
	struct store store;
	struct vindex *vindex; /* NULL when vector_index is off */
	struct idset replayed; /* open only: concepts the WAL replay touched */
	struct wal *wal;
	struct manifest manifest;
	struct ckpt_map *maps;
	size_t nmaps;
	struct background bg;
	_Atomic int closing;
	bool rewrite_checkpoint; /* after a repair: make what it kept permanent */
	_Atomic int apply_error; /* sticky: an applied record failed in memory */
	_Atomic uint64_t ops_written, records_written;
	_Atomic uint64_t checkpoints, checkpoint_bytes, checkpoint_last_us, checkpoint_lsn;
	uint64_t recovery_replayed, recovery_torn, recovery_skipped, recovery_us;
	uint64_t recovery_next_lsn;
	uint64_t opened_us;
};

/* commit.c: runs a batch through the commit queue: logged, applied and
 * (per durability) durable when it returns 0. */
int db_commit(sutra_db *db, struct opbuf *b, uint64_t *lsn);
int db_commit_async(sutra_db *db, struct opbuf *b, sutra_commit_fn cb, void *arg);
void db_commit_init(sutra_db *db);
/* Drains the queue (async commits finish normally) and stops the committer. */
void db_commit_shutdown(sutra_db *db);
void db_commit_destroy(sutra_db *db);
/* write.c: validates, logs and applies one batch; wlock held. */
int db_log_and_apply(sutra_db *db, struct opbuf *b, uint64_t *lsn);
/* read.c */
int db_check_open(sutra_db *db);
/* sched.c */
int bg_start(sutra_db *db);
void bg_stop(sutra_db *db);
int bg_checkpoint(sutra_db *db); /* requests one and waits for it */
void bg_figures(sutra_db *db, struct sched_figures *out);
/* checkpoint work itself (sched.c) */
int db_checkpoint_now(sutra_db *db);
/* Removes vector index files other than the one of checkpoint lsn. */
int db_remove_other_indexes(sutra_db *db, uint64_t lsn);

#endif
