/* shards.c - the log of a store: one WAL (single layout) or one per shard,
 * and the two-phase commit of writes that span shards (record formats and
 * the protocol in shard/shard.h).
 *
 * Every write of a sharded store is logged and applied under the writer
 * lock, where it gets its global sequence number (gsn). A write whose ops
 * all route to one shard is one record in that shard's WAL. A write that
 * spans shards queues a PREPARE record on every participant (the
 * coordinator's carries the ops) within txn_timeout_ms, or aborts before
 * anything is applied. The commit group (commit.c) then syncs every shard
 * it touched at once: that decides the group's transactions, which are
 * acknowledged; their COMMIT, APPLIED and END records follow unsynced.
 *
 * Groups of different shards run at once. A transaction is in the table
 * of undecided ones from its apply to its decision, and a group is
 * acknowledged only once every transaction older than its writes is
 * decided: no acknowledged write can depend on a transaction that recovery
 * would abort.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/db.h"
#include "sutra/sutra_test.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/err.h"

/* ---- test stops ----------------------------------------------------------- */

static _Atomic int stop_step;
static _Atomic unsigned stop_nth, stop_k;
static _Atomic int stop_code;

void sutra_test_txn_stop(int step, unsigned nth, unsigned k, int exit_code)
{
	atomic_store(&stop_step, 0);
	atomic_store(&stop_k, k);
	atomic_store(&stop_code, exit_code);
	atomic_store(&stop_nth, nth);
	atomic_store(&stop_step, step);
}

/* True when the armed stop is at step and this is its nth arrival. */
static bool stop_due(int step)
{
	if (atomic_load_explicit(&stop_step, memory_order_acquire) != step)
		return false;
	return atomic_fetch_sub(&stop_nth, 1) == 1;
}

static _Noreturn void stop_now(void)
{
	_exit(atomic_load(&stop_code));
}

/* ---- the log, whatever the layout ------------------------------------------ */

int log_error(sutra_db *db)
{
	if (!db->nshards)
		return db->wal ? wal_error(db->wal) : 0;
	for (uint32_t s = 0; db->shards && s < db->nshards; s++) {
		int e = db->shards[s].wal ? wal_error(db->shards[s].wal) : 0;
		if (e)
			return e;
	}
	return 0;
}

int log_flush(sutra_db *db, bool sync)
{
	int rc = 0;

	if (!db->nshards)
		return wal_flush(db->wal, sync);
	for (uint32_t s = 0; s < db->nshards; s++) {
		int e = wal_flush(db->shards[s].wal, sync);
		rc = rc < 0 ? rc : e;
	}
	return rc;
}

void log_stats(sutra_db *db, struct wal_stats *out)
{
	if (!db->nshards) {
		wal_stats_get(db->wal, out);
		return;
	}
	memset(out, 0, sizeof *out);
	for (uint32_t s = 0; s < db->nshards; s++) {
		struct wal_stats w;
		wal_stats_get(db->shards[s].wal, &w);
		out->written_lsn += w.written_lsn - 1; /* records written, summed */
		out->segments += w.segments;
		out->bytes += w.bytes;
		out->fsyncs += w.fsyncs;
		out->writes += w.writes;
		out->records += w.records;
		out->written_bytes += w.written_bytes;
		out->pending_records += w.pending_records;
		out->pending_bytes += w.pending_bytes;
		out->busy += w.busy;
	}
	out->next_lsn = atomic_load(&db->next_gsn);
	out->durable_lsn = atomic_load(&db->durable_gsn);
}

void log_set_kick(sutra_db *db, void (*fn)(void *), void *arg)
{
	if (!db->nshards) {
		if (db->wal)
			wal_set_kick(db->wal, fn, arg);
		return;
	}
	for (uint32_t s = 0; db->shards && s < db->nshards; s++)
		if (db->shards[s].wal)
			wal_set_kick(db->shards[s].wal, fn, arg);
}

/* ---- syncing several shards at once --------------------------------------- */

static void *syncer_main(void *arg)
{
	struct shard_log *sh = arg;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		while (sh->sync_seq == sh->sync_done_seq && !sh->syncer_stop)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (sh->sync_seq == sh->sync_done_seq)
			break; /* stopping, nothing asked */
		uint64_t want = sh->sync_want, seq = sh->sync_seq;
		pthread_mutex_unlock(&sh->mu);
		int rc = wal_sync_to(sh->wal, want);
		pthread_mutex_lock(&sh->mu);
		sh->sync_rc = rc;
		sh->sync_done_seq = seq;
		pthread_cond_broadcast(&sh->cv);
	}
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

/* Asks shard s's syncer for lsn; 0 if it cannot run (sync inline), else
 * the request's ticket. Requests of several groups merge: the syncer
 * syncs to the highest lsn asked so far. */
static uint64_t syncer_post(struct shard_log *sh, uint64_t lsn)
{
	pthread_mutex_lock(&sh->mu);
	if (!sh->syncer_started) {
		if (pthread_create(&sh->syncer, NULL, syncer_main, sh) != 0) {
			pthread_mutex_unlock(&sh->mu);
			return 0;
		}
		sh->syncer_started = true;
	}
	if (lsn > sh->sync_want)
		sh->sync_want = lsn;
	uint64_t ticket = ++sh->sync_seq;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	return ticket;
}

static int syncer_wait(struct shard_log *sh, uint64_t ticket)
{
	pthread_mutex_lock(&sh->mu);
	while (sh->sync_done_seq < ticket)
		pthread_cond_wait(&sh->cv, &sh->mu);
	int rc = sh->sync_rc;
	pthread_mutex_unlock(&sh->mu);
	return rc;
}

int shards_sync(sutra_db *db, uint64_t *need)
{
	uint32_t first = UINT32_MAX;
	uint64_t ticket[SHARD_MAX] = {0};
	int rc = 0;

	for (uint32_t s = 0; s < db->nshards; s++) {
		if (!need[s])
			continue;
		if (first == UINT32_MAX)
			first = s; /* this thread syncs one shard itself */
		else
			ticket[s] = syncer_post(&db->shards[s], need[s]);
	}
	for (uint32_t s = 0; s < db->nshards; s++) {
		if (!need[s] || ticket[s])
			continue;
		int e = wal_sync_to(db->shards[s].wal, need[s]);
		rc = rc < 0 ? rc : e;
	}
	for (uint32_t s = 0; s < db->nshards; s++) {
		if (ticket[s]) {
			int e = syncer_wait(&db->shards[s], ticket[s]);
			rc = rc < 0 ? rc : e;
		}
		need[s] = 0;
	}
	return rc;
}

static void syncers_stop(sutra_db *db)
{
	for (uint32_t s = 0; s < db->nshards; s++) {
		struct shard_log *sh = &db->shards[s];
		pthread_mutex_lock(&sh->mu);
		bool started = sh->syncer_started;
		sh->syncer_stop = true;
		sh->syncer_started = false;
		pthread_cond_broadcast(&sh->cv);
		pthread_mutex_unlock(&sh->mu);
		if (started)
			pthread_join(sh->syncer, NULL);
	}
}

int log_close(sutra_db *db)
{
	if (!db->nshards || !db->shards)
		return db->wal ? wal_close(db->wal) : 0;
	int rc = 0;
	syncers_stop(db);
	for (uint32_t s = 0; s < db->nshards; s++) {
		struct shard_log *sh = &db->shards[s];
		int e = sh->wal ? wal_close(sh->wal) : 0;
		sh->wal = NULL;
		rc = rc < 0 ? rc : e;
	}
	return rc;
}

/* ---- transactions not yet decided ------------------------------------------- */

void txn_table_init(struct txn_table *t)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

void txn_table_destroy(struct txn_table *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	sutra_free(t->gsn);
}

/* Writer lock held, so gsns arrive in increasing order. */
static int txn_begin(struct txn_table *t, uint64_t gsn)
{
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		uint64_t *a = sutra_realloc(t->gsn, cap * sizeof *a);
		if (a) {
			t->gsn = a;
			t->cap = cap;
		} else {
			rc = err_set(SUTRA_ENOMEM, "out of memory tracking a cross-shard write");
		}
	}
	if (rc == 0) {
		t->gsn[t->n++] = gsn;
		atomic_store(&t->count, t->n);
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static void txn_end(struct txn_table *t, uint64_t gsn)
{
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n; i++) {
		if (t->gsn[i] != gsn)
			continue;
		memmove(t->gsn + i, t->gsn + i + 1, (t->n - i - 1) * sizeof *t->gsn);
		t->n--;
		atomic_store(&t->count, t->n);
		if (i == 0) /* waiters wait for the oldest: nothing else frees them */
			pthread_cond_broadcast(&t->cv);
		break;
	}
	pthread_mutex_unlock(&t->mu);
}

int txn_wait_below(sutra_db *db, uint64_t gsn)
{
	struct txn_table *t = &db->undecided;

	if (atomic_load(&t->count) == 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	while (t->n > 0 && t->gsn[0] < gsn)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	int e = log_error(db);
	return e ? err_set(SUTRA_EREADONLY,
	                   "an older cross-shard write could not be made durable (%s); the store "
	                   "is read-only",
	                   sutra_strerror(e))
	         : 0;
}

/* ---- logging a write ----------------------------------------------------- */

/* The shards a batch touches: a concept's shard for learn and delete, both
 * ends' shards for an association. The coordinator is the first op's. */
static int batch_shards(sutra_db *db, const uint8_t *payload, size_t len, struct log_pos *pos)
{
	uint32_t count;
	size_t at = OP_BATCH_HEADER;
	int rc = op_batch_header(payload, len, &count);

	memset(&pos->parts, 0, sizeof pos->parts);
	for (uint32_t k = 0; k < count && rc == 0; k++) {
		struct op o;
		if ((rc = op_decode(payload + at, len - at, &o)) < 0)
			break;
		bool concept = o.kind == OP_LEARN || o.kind == OP_DELETE;
		uint32_t home = shard_of(concept ? o.id : o.src, db->nshards);
		if (k == 0)
			pos->coordinator = home;
		shard_set_add(&pos->parts, home);
		if (!concept)
			shard_set_add(&pos->parts, shard_of(o.dst, db->nshards));
		at += o.size;
	}
	return rc;
}

static void header_for(const struct log_pos *pos, int phase, uint8_t out[TXN_HEADER_BYTES])
{
	struct txn_header h = {.phase = phase,
	                       .coordinator = pos->coordinator,
	                       .nparts = shard_set_count(&pos->parts),
	                       .gsn = pos->gsn,
	                       .parts = pos->parts};
	txn_header_encode(out, &h);
}

static void note_need(uint64_t *need, uint32_t s, uint64_t lsn)
{
	if (lsn > need[s])
		need[s] = lsn;
}

/* A participant could not take its PREPARE: nothing was applied; the ABORT
 * record spares recovery the question (it would presume abort anyway). */
static int abort_prepare(sutra_db *db, const struct log_pos *pos, uint32_t shard, int rc)
{
	char why[300];
	uint8_t h[TXN_HEADER_BYTES];
	uint64_t lsn;

	snprintf(why, sizeof why, "%s", sutra_last_error());
	header_for(pos, TXN_ABORT, h);
	/* Best effort, without waiting: the coordinator's queue may be the full one. */
	(void)wal_append_parts(db->shards[pos->coordinator].wal, h, sizeof h, NULL, 0, 0, &lsn);
	atomic_fetch_sub(&db->tx.preparing, 1);
	atomic_fetch_sub(&db->tx.active, 1);
	atomic_fetch_add(&db->tx.aborted, 1);
	if (rc == SUTRA_EBUSY)
		atomic_fetch_add(&db->tx.timed_out, 1);
	return err_set(rc,
	               "cross-shard write aborted (transaction %" PRIu64
	               "): shard %u could not take its PREPARE record within txn_timeout_ms = "
	               "%u: %s",
	               pos->gsn, shard, db->opt.txn_timeout_ms, why);
}

static uint32_t ms_left(uint64_t deadline_ns)
{
	uint64_t now = clock_mono_ns();

	return now >= deadline_ns ? 0 : (uint32_t)((deadline_ns - now + 999999) / 1000000);
}

static int append_prepares(sutra_db *db, const uint8_t *payload, size_t len,
                           const struct log_pos *pos)
{
	uint8_t h[TXN_HEADER_BYTES];
	uint64_t deadline = clock_mono_ns() + (uint64_t)db->opt.txn_timeout_ms * 1000000ull;
	uint32_t c = pos->coordinator;
	uint64_t lsn;
	int rc;

	if (stop_due(SUTRA_TXN_STOP_BEFORE_PREPARE))
		stop_now();
	atomic_fetch_add(&db->tx.active, 1);
	atomic_fetch_add(&db->tx.preparing, 1);
	header_for(pos, TXN_PREPARE, h);
	rc =
	    wal_append_parts(db->shards[c].wal, h, sizeof h, payload, len, ms_left(deadline), &lsn);
	if (rc < 0)
		return abort_prepare(db, pos, c, rc);
	note_need(pos->need, c, lsn);
	for (uint32_t s = shard_set_next(&pos->parts, 0); s < SHARD_MAX;
	     s = shard_set_next(&pos->parts, s + 1)) {
		if (s == c)
			continue;
		rc = wal_append_parts(db->shards[s].wal, h, sizeof h, NULL, 0, ms_left(deadline),
		                      &lsn);
		if (rc < 0)
			return abort_prepare(db, pos, s, rc);
		note_need(pos->need, s, lsn);
	}
	if ((rc = txn_begin(&db->undecided, pos->gsn)) < 0)
		return abort_prepare(db, pos, c, rc);
	atomic_fetch_sub(&db->tx.preparing, 1);
	atomic_fetch_add(&db->tx.prepared, 1);
	return 0;
}

int shards_append(sutra_db *db, const uint8_t *payload, size_t len, struct log_pos *pos)
{
	uint8_t h[TXN_HEADER_BYTES];
	uint64_t lsn;
	int rc = batch_shards(db, payload, len, pos);

	if (rc < 0)
		return rc;
	pos->gsn = atomic_fetch_add(&db->next_gsn, 1); /* never reused, even if it fails */
	pos->txn = shard_set_count(&pos->parts) > 1;
	if (pos->txn)
		return append_prepares(db, payload, len, pos);
	header_for(pos, TXN_SINGLE, h);
	rc = wal_append_parts(db->shards[pos->coordinator].wal, h, sizeof h, payload, len,
	                      db->opt.busy_timeout_ms, &lsn);
	if (rc == 0)
		note_need(pos->need, pos->coordinator, lsn);
	return rc;
}

/* ---- deciding ---------------------------------------------------------------- */

/* Test stop "k of n PREPAREs durable": syncs the first k participants only
 * and exits, so the other PREPAREs die in memory. */
static void stop_after_k_prepares(sutra_db *db, const struct log_pos *pos)
{
	unsigned k = atomic_load(&stop_k);

	for (uint32_t s = shard_set_next(&pos->parts, 0); s < SHARD_MAX && k > 0;
	     s = shard_set_next(&pos->parts, s + 1), k--)
		(void)wal_flush(db->shards[s].wal, true);
	stop_now();
}

void shards_check_prepared_stop(sutra_db *db, const struct log_pos *pos)
{
	if (pos->txn && stop_due(SUTRA_TXN_STOP_PREPARED))
		stop_after_k_prepares(db, pos);
}

int shards_abort(sutra_db *db, const struct log_pos *pos)
{
	uint8_t h[TXN_HEADER_BYTES];
	uint64_t lsn;

	header_for(pos, TXN_ABORT, h);
	atomic_fetch_add(&db->tx.aborted, 1);
	return wal_append_parts(db->shards[pos->coordinator].wal, h, sizeof h, NULL, 0,
	                        db->opt.busy_timeout_ms, &lsn);
}

void shards_txn_lost(sutra_db *db, const struct log_pos *pos)
{
	txn_end(&db->undecided, pos->gsn);
	atomic_fetch_sub(&db->tx.prepared, 1);
	atomic_fetch_sub(&db->tx.active, 1);
	atomic_fetch_add(&db->tx.aborted, 1);
}

void shards_check_decided_stop(void)
{
	if (stop_due(SUTRA_TXN_STOP_DECIDED))
		stop_now();
}

/* Queues one record of a decided transaction (no sync), without waiting
 * for room: the outcome no longer depends on it (recovery derives it from
 * the PREPAREs), so a full queue must not hold the group up. */
static int log_phase(sutra_db *db, const struct log_pos *pos, int phase, uint32_t shard)
{
	uint8_t h[TXN_HEADER_BYTES];
	uint64_t lsn;

	header_for(pos, phase, h);
	return wal_append_parts(db->shards[shard].wal, h, sizeof h, NULL, 0, 0, &lsn);
}

int shards_commit(sutra_db *db, const struct log_pos *pos)
{
	bool stop_applying = stop_due(SUTRA_TXN_STOP_APPLYING);
	unsigned k = atomic_load(&stop_k);
	int rc = log_phase(db, pos, TXN_COMMIT, pos->coordinator);

	for (uint32_t s = shard_set_next(&pos->parts, 0); s < SHARD_MAX && rc == 0;
	     s = shard_set_next(&pos->parts, s + 1)) {
		if (stop_applying && k-- == 0)
			stop_now();
		rc = log_phase(db, pos, TXN_APPLIED, s);
		if (stop_applying)
			(void)log_flush(db, false); /* written, not synced */
	}
	if (stop_applying || stop_due(SUTRA_TXN_STOP_CLEANUP)) {
		(void)log_flush(db, false);
		stop_now();
	}
	if (rc == 0)
		rc = log_phase(db, pos, TXN_END, pos->coordinator);
	txn_end(&db->undecided, pos->gsn);
	atomic_fetch_sub(&db->tx.prepared, 1);
	atomic_fetch_sub(&db->tx.active, 1);
	atomic_fetch_add(&db->tx.committed, 1);
	return rc;
}
