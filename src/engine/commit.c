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
 * Error messages are thread-local, so a combiner copies the message of a
 * failed batch into its request for the writer to re-raise.
 */
#include <stdio.h>
#include <string.h>

#include "engine/db.h"
#include "util/err.h"

struct commit_req {
	struct opbuf *batch;
	uint64_t lsn;
	int rc;
	bool done, lead;
	pthread_cond_t cv;
	struct commit_req *next;
	char msg[512];
};

void db_commit_init(sutra_db *db)
{
	pthread_mutex_init(&db->cq.mu, NULL);
	db->cq.head = db->cq.tail = NULL;
	db->cq.combining = false;
}

void db_commit_destroy(sutra_db *db)
{
	pthread_mutex_destroy(&db->cq.mu);
}

static void fail_req(struct commit_req *r, int rc)
{
	r->rc = rc;
	snprintf(r->msg, sizeof r->msg, "%s", sutra_last_error());
}

/* Logs and applies a group (queue order); then syncs it once. */
static void serve(sutra_db *db, struct commit_req *group)
{
	uint64_t last = 0;

	pthread_mutex_lock(&db->wlock);
	for (struct commit_req *r = group; r; r = r->next) {
		int rc = db_log_and_apply(db, r->batch, &r->lsn);
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

/* Wakes the served writers and passes the combiner role on (cq.mu held). */
static void finish_group(sutra_db *db, struct commit_req *group, struct commit_req *self)
{
	for (struct commit_req *r = group, *next; r; r = next) {
		next = r->next;
		r->done = true;
		if (r != self)
			pthread_cond_signal(&r->cv);
	}
	if (db->cq.head) {
		db->cq.head->lead = true;
		pthread_cond_signal(&db->cq.head->cv);
	} else {
		db->cq.combining = false;
	}
}

int db_commit(sutra_db *db, struct opbuf *b, uint64_t *lsn_out)
{
	struct commit_req me = {.batch = b};

	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&db->cq.mu);
	if (db->cq.tail)
		db->cq.tail->next = &me;
	else
		db->cq.head = &me;
	db->cq.tail = &me;
	if (db->cq.combining)
		while (!me.done && !me.lead)
			pthread_cond_wait(&me.cv, &db->cq.mu);
	if (!me.done) {
		db->cq.combining = true;
		struct commit_req *group = take_all(db);
		pthread_mutex_unlock(&db->cq.mu);
		serve(db, group);
		pthread_mutex_lock(&db->cq.mu);
		finish_group(db, group, &me);
	}
	pthread_mutex_unlock(&db->cq.mu);
	pthread_cond_destroy(&me.cv);
	if (me.rc < 0)
		return err_set(me.rc, "%s", me.msg);
	if (lsn_out)
		*lsn_out = me.lsn;
	return 0;
}
