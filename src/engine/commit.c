/* commit.c - the commit queue: group commit by flat combining.
 *
 * A writer queues its batch. If no thread is combining, it becomes the
 * combiner: it takes every queued batch, logs and applies them in queue
 * order under the writer lock, makes them durable with one WAL sync
 * (durability always), then wakes each writer it served and hands the
 * combiner role to the oldest writer still queued. Every other writer
 * sleeps exactly once and is woken exactly once, so many concurrent writers
 * cost one fdatasync per group and no lock convoy, and a lone writer pays
 * only an uncontended mutex.
 *
 * Asynchronous commits (sutra_batch_commit_async, for event loops that
 * must never block) queue a request with a callback instead of a waiting
 * thread. Whenever the head of the queue has no thread to lead, the
 * committer thread (started on first use) combines instead.
 *
 * Error messages are thread-local, so a combiner copies the message of a
 * failed batch into its request for the writer to re-raise.
 */
#include <stdio.h>
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/err.h"

struct commit_req {
	struct opbuf *batch;
	struct log_pos pos;
	uint64_t lsn;
	int rc;
	bool done, lead;
	pthread_cond_t cv;  /* synchronous writers */
	sutra_commit_fn cb; /* asynchronous writers */
	void *cb_arg;
	struct commit_req *next;
	char msg[512];
};

void db_commit_init(sutra_db *db)
{
	memset(&db->cq, 0, sizeof db->cq);
	pthread_mutex_init(&db->cq.mu, NULL);
	pthread_cond_init(&db->cq.wake, NULL);
}

static void fail_req(struct commit_req *r, int rc)
{
	r->rc = rc;
	snprintf(r->msg, sizeof r->msg, "%s", sutra_last_error());
}

/* A failed sync: the WAL is sticky, the store read-only; the group's
 * transactions are not decided and recovery aborts them. */
static void fail_group(sutra_db *db, struct commit_req *group, int rc)
{
	for (struct commit_req *r = group; r; r = r->next) {
		if (r->rc != 0)
			continue;
		if (r->pos.txn)
			shards_txn_lost(db);
		fail_req(r, rc);
	}
}

/* A sharded store's group: logged and applied in queue order, then every
 * shard it touched synced at once. That sync decides the group's
 * transactions (every PREPARE durable); their COMMIT, APPLIED and END
 * records follow without a sync of their own. */
static void serve_sharded(sutra_db *db, struct commit_req *group)
{
	bool always = db->opt.durability == SUTRA_DURABILITY_ALWAYS;
	uint64_t top = 0;
	int rc;

	pthread_mutex_lock(&db->serve_mu);
	pthread_mutex_lock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next) {
		if ((rc = db_log_and_apply(db, r->batch, &r->lsn, &r->pos)) < 0)
			fail_req(r, rc);
		else
			top = r->pos.gsn;
	}
	pthread_mutex_unlock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next)
		if (r->rc == 0)
			shards_check_prepared_stop(db, &r->pos);
	rc = always ? shards_sync(db, db->need) : (memset(db->need, 0, db->nshards * 8), 0);
	if (rc < 0) {
		fail_group(db, group, rc);
	} else {
		shards_check_decided_stop();
		for (struct commit_req *r = group; r; r = r->next)
			if (r->rc == 0 && r->pos.txn && (rc = shards_commit(db, &r->pos)) < 0)
				fail_req(r, rc);
		if (always && top)
			atomic_store(&db->durable_gsn, top + 1);
	}
	pthread_mutex_unlock(&db->serve_mu);
}

/* Logs and applies a group (queue order); then syncs it once. */
static void serve(sutra_db *db, struct commit_req *group)
{
	uint64_t last = 0;

	if (db->nshards) {
		serve_sharded(db, group);
		return;
	}
	pthread_mutex_lock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next) {
		int rc = db_log_and_apply(db, r->batch, &r->lsn, NULL);
		if (rc < 0)
			fail_req(r, rc);
		else
			last = r->lsn;
	}
	pthread_mutex_unlock(&db->wlock);
	if (last == 0 || db->opt.durability != SUTRA_DURABILITY_ALWAYS)
		return;
	int rc = wal_sync_to(db->wal, last);
	if (rc < 0)
		for (struct commit_req *r = group; r; r = r->next)
			if (r->rc == 0)
				fail_req(r, rc);
}

/* Takes the whole queue (cq.mu held). */
static struct commit_req *take_all(sutra_db *db)
{
	struct commit_req *g = db->cq.head;

	db->cq.head = db->cq.tail = NULL;
	return g;
}

/* Passes the combiner role to the head of the queue (cq.mu held). */
static void hand_over(sutra_db *db)
{
	struct commit_req *h = db->cq.head;

	if (h && !h->cb) {
		h->lead = true;
		pthread_cond_signal(&h->cv);
		return;
	}
	/* No thread to lead: the committer thread takes queued async work, or,
	 * when the queue is empty, may exit if it is stopping. */
	db->cq.combining = false;
	pthread_cond_signal(&db->cq.wake);
}

/* Runs one group as the combiner; returns with cq.mu held. Callbacks run
 * without the lock (they may queue more work) and may free their request,
 * so nothing touches an async request after its callback. */
static void combine(sutra_db *db, struct commit_req *self)
{
	struct commit_req *async = NULL, **tail = &async, *r, *next;

	db->cq.combining = true;
	struct commit_req *group = take_all(db);
	pthread_mutex_unlock(&db->cq.mu);
	serve(db, group);
	pthread_mutex_lock(&db->cq.mu);
	for (r = group; r; r = next) {
		next = r->next;
		if (r->cb) {
			r->next = NULL;
			*tail = r;
			tail = &r->next;
			continue;
		}
		r->done = true;
		if (r != self)
			pthread_cond_signal(&r->cv);
	}
	hand_over(db);
	pthread_mutex_unlock(&db->cq.mu);
	for (r = async; r; r = next) {
		next = r->next;
		r->cb(r->cb_arg, r->rc, r->lsn, r->rc < 0 ? r->msg : NULL);
	}
	pthread_mutex_lock(&db->cq.mu);
}

static void enqueue(sutra_db *db, struct commit_req *r)
{
	if (db->cq.tail)
		db->cq.tail->next = r;
	else
		db->cq.head = r;
	db->cq.tail = r;
}

int db_commit(sutra_db *db, struct opbuf *b, uint64_t *lsn_out)
{
	struct commit_req me = {.batch = b};

	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&db->cq.mu);
	enqueue(db, &me);
	if (db->cq.combining)
		while (!me.done && !me.lead)
			pthread_cond_wait(&me.cv, &db->cq.mu);
	if (!me.done)
		combine(db, &me);
	pthread_mutex_unlock(&db->cq.mu);
	pthread_cond_destroy(&me.cv);
	if (me.rc < 0)
		return err_set(me.rc, "%s", me.msg);
	if (lsn_out)
		*lsn_out = me.lsn;
	return 0;
}

/* The committer thread: combines whenever queued work has no leader. It
 * exits once asked to and the queue is empty. */
static void *committer_main(void *arg)
{
	sutra_db *db = arg;

	pthread_mutex_lock(&db->cq.mu);
	for (;;) {
		while (!(db->cq.head && !db->cq.combining) &&
		       !(db->cq.stop && !db->cq.head && !db->cq.combining))
			pthread_cond_wait(&db->cq.wake, &db->cq.mu);
		if (!db->cq.head)
			break;
		combine(db, NULL);
	}
	pthread_mutex_unlock(&db->cq.mu);
	return NULL;
}

/* An async request owns a copy of nothing: it points at the caller's batch,
 * which the caller keeps until the callback. */
struct async_req {
	struct commit_req r;
	sutra_commit_fn cb;
	void *arg;
};

static void async_done(void *arg, int rc, uint64_t lsn, const char *msg)
{
	struct async_req *a = arg;
	sutra_commit_fn cb = a->cb;
	void *cb_arg = a->arg;

	cb(cb_arg, rc, lsn, msg); /* msg lives in a: free it afterwards */
	sutra_free(a);
}

int db_commit_async(sutra_db *db, struct opbuf *b, sutra_commit_fn cb, void *arg)
{
	struct async_req *a = sutra_calloc(1, sizeof *a);

	if (!a)
		return err_set(SUTRA_ENOMEM, "out of memory queueing a commit");
	a->r.batch = b;
	a->r.cb = async_done;
	a->r.cb_arg = a;
	a->cb = cb;
	a->arg = arg;
	pthread_mutex_lock(&db->cq.mu);
	if (db->cq.stop) {
		pthread_mutex_unlock(&db->cq.mu);
		sutra_free(a);
		return err_set(SUTRA_ECLOSED, "the store is closing");
	}
	if (!db->cq.committer_started) {
		if (pthread_create(&db->cq.committer, NULL, committer_main, db) != 0) {
			pthread_mutex_unlock(&db->cq.mu);
			sutra_free(a);
			return err_set(SUTRA_ENOMEM, "cannot start the committer thread");
		}
		db->cq.committer_started = true;
	}
	enqueue(db, &a->r);
	if (!db->cq.combining)
		pthread_cond_signal(&db->cq.wake);
	pthread_mutex_unlock(&db->cq.mu);
	return 0;
}

void db_commit_shutdown(sutra_db *db)
{
	pthread_mutex_lock(&db->cq.mu);
	db->cq.stop = true;
	pthread_cond_broadcast(&db->cq.wake);
	bool started = db->cq.committer_started;
	db->cq.committer_started = false;
	pthread_mutex_unlock(&db->cq.mu);
	if (started)
		pthread_join(db->cq.committer, NULL);
}

void db_commit_destroy(sutra_db *db)
{
	pthread_cond_destroy(&db->cq.wake);
	pthread_mutex_destroy(&db->cq.mu);
}
