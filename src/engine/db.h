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
#include "shard/shard.h"
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

/* One shard of a sharded store: its directory, its WAL, and the thread
 * that syncs that WAL when a group of writes needs several shards synced
 * at once (so their fdatasyncs overlap). */
struct shard_log {
	char *dir;
	struct wal *wal;
	uint64_t ckpt_wal_lsn; /* where replay of this WAL starts */
	pthread_t syncer;
	bool syncer_started, syncer_stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t sync_want, sync_seq, sync_done_seq;
	int sync_rc;
};

/* Where the log put one batch (engine/shards.c). */
struct log_pos {
	uint64_t *need; /* in: the group's per-shard lsns to sync */
	uint64_t gsn;
	uint32_t coordinator;
	bool txn; /* spans shards: two-phase commit */
	struct shard_set parts;
};

struct txn_figures {
	_Atomic uint64_t active, preparing, prepared;
	_Atomic uint64_t committed, aborted, timed_out, recovered;
};

struct commit_req;

/* A commit queue and its group-commit state (commit.c). */
struct commit_queue {
	sutra_db *db;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the committer thread: work without a leader */
	struct commit_req *head, *tail;
	bool combining; /* a thread is processing the queue */
	bool stop, committer_started;
	pthread_t committer;
	uint64_t *need; /* sharded: per-shard lsns the group being served must sync */
};

/* Gsns of the cross-shard writes that are applied in memory but not yet
 * decided, in increasing order (shards.c). A write is acknowledged only
 * once every transaction below it is decided. */
struct txn_table {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t *gsn;
	size_t n, cap;
	_Atomic size_t count;
};

struct sutra_db {
	char *dir;
	sutra_options opt;
	int lock_fd;
	pthread_mutex_t wlock;
	struct commit_queue cq;   /* single layout */
	struct commit_queue *cqs; /* sharded: one per shard (a write goes to its
	                             coordinator's) */
	struct store store;
	/* Vector indexes: one, or one per shard (of its concepts, saved in its
	 * directory); none when vector_index is off. */
	struct vindex **vx;
	uint32_t nvx;
	struct idset replayed; /* open only: concepts the WAL replay touched */
	struct wal *wal;       /* single layout; NULL in a sharded store */
	/* Sharded layout (nshards > 0): a WAL per shard, one global sequence. */
	uint32_t nshards;
	struct shard_log *shards;
	_Atomic uint64_t next_gsn;    /* taken under the writer lock */
	_Atomic uint64_t durable_gsn; /* the highest acknowledged gsn + 1 */
	struct txn_table undecided;   /* cross-shard writes applied, not yet decided */
	struct txn_figures tx;
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
/* A sharded store's queues, once the shard count is known. */
int db_commit_init_shards(sutra_db *db);
/* Drains the queue (async commits finish normally) and stops the committer. */
void db_commit_shutdown(sutra_db *db);
void db_commit_destroy(sutra_db *db);
/* write.c: validates, logs and applies one batch; wlock held. pos (sharded
 * stores) gets where the batch was logged. */
int db_log_and_apply(sutra_db *db, struct opbuf *b, uint64_t *lsn, struct log_pos *pos);
/* db.c: applies one WAL batch at recovery (checks it whole first). */
int db_replay_batch(sutra_db *db, const uint8_t *payload, size_t len);

/* shards.c: the log of a store, one WAL or one per shard. */
int log_error(sutra_db *db);
int log_flush(sutra_db *db, bool sync);
/* Summed over the shards; next_lsn/durable_lsn are global sequence
 * numbers in a sharded store. */
void log_stats(sutra_db *db, struct wal_stats *out);
void log_set_kick(sutra_db *db, void (*fn)(void *), void *arg);
int log_close(sutra_db *db);
/* Sharded only. Logs a batch (wlock held): one record, or the PREPARE
 * records of a transaction; fills pos and need[] (lsns to sync). */
int shards_append(sutra_db *db, const uint8_t *payload, size_t len, struct log_pos *pos);
/* Syncs each shard s with need[s] > 0 up to need[s], in parallel; zeroes
 * need. Any number of threads may sync at once. */
int shards_sync(sutra_db *db, uint64_t *need);
/* Logs COMMIT, APPLIED on every participant and END, without a sync or a
 * wait for room: the transaction was decided when its last PREPARE became
 * durable. Returns the first append error (recovery makes them durable). */
int shards_commit(sutra_db *db, const struct log_pos *pos);
/* Logs the ABORT of a transaction recovery found in doubt. */
int shards_abort(sutra_db *db, const struct log_pos *pos);
/* The table of undecided transactions. */
void txn_table_init(struct txn_table *t);
void txn_table_destroy(struct txn_table *t);
/* Waits until every transaction below gsn is decided; then the store's
 * sticky error, if a transaction could not be made durable. */
int txn_wait_below(sutra_db *db, uint64_t gsn);
/* Test stop after a group's PREPAREs became durable (sutra_test_txn_stop). */
void shards_check_prepared_stop(sutra_db *db, const struct log_pos *pos);
void shards_check_decided_stop(void);
/* A transaction whose PREPAREs could not be made durable (the store turned
 * read-only; recovery aborts it). */
void shards_txn_lost(sutra_db *db, const struct log_pos *pos);
/* recover_shards.c: opens (or creates) the shards, loads their checkpoint
 * images and replays their logs merged by gsn, resolving every in-doubt
 * transaction. */
int shards_open(sutra_db *db, bool created);
void shards_free(sutra_db *db);
/* sched.c support: checkpoint of a sharded store. */
int shards_checkpoint(sutra_db *db);
/* read.c */
int db_check_open(sutra_db *db);
/* The vector index that takes this concept (NULL: indexing is off). */
struct vindex *db_vindex_for(sutra_db *db, const uint8_t id[16]);
/* How many shards have their own vector index (0: one index for all). */
uint32_t db_index_shards(sutra_db *db);
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
