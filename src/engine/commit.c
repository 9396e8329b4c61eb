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
 * A sharded store has one queue per shard, and a write joins the queue of
 * its coordinator (the shard of its first op), so writes to different
 * shards form separate groups that log, sync and acknowledge in parallel;
 * only the in-memory apply is one at a time (the writer lock).
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

static void queue_init(struct commit_queue *q, sutra_db *db)
{
	memset(q, 0, sizeof *q);
	q->db = db;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->wake, NULL);
}

void db_commit_init(sutra_db *db)
{
	queue_init(&db->cq, db);
}

int db_commit_init_shards(sutra_db *db)
{
	if (!(db->cqs = sutra_calloc(db->nshards, sizeof *db->cqs)))
		return err_set(SUTRA_ENOMEM, "out of memory for %u commit queues", db->nshards);
	for (uint32_t s = 0; s < db->nshards; s++) {
		queue_init(&db->cqs[s], db);
		if (!(db->cqs[s].need = sutra_calloc(db->nshards, sizeof *db->cqs[s].need)))
			return err_set(SUTRA_ENOMEM, "out of memory for %u commit queues",
			               db->nshards);
	}
	return 0;
}

/* The queue a batch joins: its coordinator's in a sharded store. */
static struct commit_queue *queue_for(sutra_db *db, struct opbuf *b)
{
	size_t len;
	const uint8_t *payload;
	struct op o;

	if (!db->nshards || !db->cqs || b->count == 0 || !(payload = opbuf_finish(b, &len)) ||
	    op_decode(payload + OP_BATCH_HEADER, len - OP_BATCH_HEADER, &o) < 0)
		return db->cqs ? &db->cqs[0] : &db->cq;
	bool concept = o.kind == OP_LEARN || o.kind == OP_DELETE;
	return &db->cqs[shard_of(concept ? o.id : o.src, db->nshards)];
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
			shards_txn_lost(db, &r->pos);
		fail_req(r, rc);
	}
}

/* A sharded store's group: logged and applied in queue order, then every
 * shard it touched synced at once. That sync decides the group's
 * transactions (every PREPARE durable); their COMMIT, APPLIED and END
 * records follow without a sync of their own. The group is acknowledged
 * once every older transaction (of any group) is decided too. */
static void serve_sharded(struct commit_queue *q, struct commit_req *group)
{
	sutra_db *db = q->db;
	bool always = db->opt.durability == SUTRA_DURABILITY_ALWAYS;
	uint64_t top = 0;
	int rc;

	pthread_mutex_lock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next) {
		r->pos.need = q->need;
		if ((rc = db_log_and_apply(db, r->batch, &r->lsn, &r->pos)) < 0)
			fail_req(r, rc);
		else
			top = r->pos.gsn;
	}
	pthread_mutex_unlock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next)
		if (r->rc == 0)
			shards_check_prepared_stop(db, &r->pos);
	rc = always ? shards_sync(db, q->need) : (memset(q->need, 0, db->nshards * 8), 0);
	if (rc < 0) {
		fail_group(db, group, rc);
		return;
	}
	shards_check_decided_stop();
	/* Decided: a record that cannot be queued now changes nothing (recovery
	 * derives the outcome from the PREPAREs), so it fails no write. */
	for (struct commit_req *r = group; r; r = r->next)
		if (r->rc == 0 && r->pos.txn)
			(void)shards_commit(db, &r->pos);
	if (top && (rc = txn_wait_below(db, top)) < 0)
		for (struct commit_req *r = group; r; r = r->next)
			if (r->rc == 0)
				fail_req(r, rc); /* decided, but behind one that failed */
	uint64_t was = atomic_load(&db->durable_gsn);
	while (top + 1 > was && !atomic_compare_exchange_weak(&db->durable_gsn, &was, top + 1))
		;
}

/* Logs and applies a group (queue order); then syncs it once. */
static void serve(struct commit_queue *q, struct commit_req *group)
{
	sutra_db *db = q->db;
	uint64_t last = 0;

	if (db->nshards) {
		serve_sharded(q, group);
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

/* Takes the whole queue (q->mu held). */
static struct commit_req *take_all(struct commit_queue *q)
{
	struct commit_req *g = q->head;

	q->head = q->tail = NULL;
	return g;
}

/* Passes the combiner role to the head of the queue (q->mu held). */
static void hand_over(struct commit_queue *q)
{
	struct commit_req *h = q->head;

	if (h && !h->cb) {
		h->lead = true;
		pthread_cond_signal(&h->cv);
		return;
	}
	/* No thread to lead: the committer thread takes queued async work, or,
	 * when the queue is empty, may exit if it is stopping. */
	q->combining = false;
	pthread_cond_signal(&q->wake);
}

/* Runs one group as the combiner; returns with q->mu held. Callbacks run
 * without the lock (they may queue more work) and may free their request,
 * so nothing touches an async request after its callback. */
static void combine(struct commit_queue *q, struct commit_req *self)
{
	struct commit_req *async = NULL, **tail = &async, *r, *next;

	q->combining = true;
	struct commit_req *group = take_all(q);
	pthread_mutex_unlock(&q->mu);
	serve(q, group);
	pthread_mutex_lock(&q->mu);
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
	hand_over(q);
	pthread_mutex_unlock(&q->mu);
	for (r = async; r; r = next) {
		next = r->next;
		r->cb(r->cb_arg, r->rc, r->lsn, r->rc < 0 ? r->msg : NULL);
	}
	pthread_mutex_lock(&q->mu);
}

static void enqueue(struct commit_queue *q, struct commit_req *r)
{
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
}

int db_commit(sutra_db *db, struct opbuf *b, uint64_t *lsn_out)
{
	struct commit_req me = {.batch = b};
	struct commit_queue *q = queue_for(db, b);

	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&q->mu);
	enqueue(q, &me);
	if (q->combining)
		while (!me.done && !me.lead)
			pthread_cond_wait(&me.cv, &q->mu);
	if (!me.done)
		combine(q, &me);
	pthread_mutex_unlock(&q->mu);
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
	struct commit_queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!(q->head && !q->combining) && !(q->stop && !q->head && !q->combining))
			pthread_cond_wait(&q->wake, &q->mu);
		if (!q->head)
			break;
		combine(q, NULL);
	}
	pthread_mutex_unlock(&q->mu);
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
	struct commit_queue *q = queue_for(db, b);

	if (!a)
		return err_set(SUTRA_ENOMEM, "out of memory queueing a commit");
	a->r.batch = b;
	a->r.cb = async_done;
	a->r.cb_arg = a;
	a->cb = cb;
	a->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		sutra_free(a);
		return err_set(SUTRA_ECLOSED, "the store is closing");
	}
	if (!q->committer_started) {
		if (pthread_create(&q->committer, NULL, committer_main, q) != 0) {
			pthread_mutex_unlock(&q->mu);
			sutra_free(a);
			return err_set(SUTRA_ENOMEM, "cannot start the committer thread");
		}
		q->committer_started = true;
	}
	enqueue(q, &a->r);
	if (!q->combining)
		pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static void queue_shutdown(struct commit_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->wake);
	bool started = q->committer_started;
	q->committer_started = false;
	pthread_mutex_unlock(&q->mu);
	if (started)
		pthread_join(q->committer, NULL);
}

void db_commit_shutdown(sutra_db *db)
{
	queue_shutdown(&db->cq);
	for (uint32_t s = 0; db->cqs && s < db->nshards; s++)
		queue_shutdown(&db->cqs[s]);
}

static void queue_destroy(struct commit_queue *q)
{
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->mu);
	sutra_free(q->need);
}

void db_commit_destroy(sutra_db *db)
{
	queue_destroy(&db->cq);
	for (uint32_t s = 0; db->cqs && s < db->nshards; s++)
		queue_destroy(&db->cqs[s]);
	sutra_free(db->cqs);
	db->cqs = NULL;
}
