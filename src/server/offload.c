/* offload.c - helper threads for the engine calls that block.
 *
 * sutra_sync waits for an fsync and sutra_checkpoint writes a whole image;
 * neither may run on an event loop. Two helper threads take such requests
 * from one queue (two, so that a long checkpoint does not hold up a Flush),
 * run them, record the result in the request's completion slot and post
 * the slot back to its worker, exactly like an engine commit callback. The
 * queue links slots through done_next, which is free while a request is in
 * flight. Stopping drains the queue first: workers
 * wait for every in-flight request before they exit, so by then it is
 * empty anyway.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/dispatch.h"
#include "server/log.h"

#define OFFLOAD_THREADS 2

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct slot *head, *tail;
	bool stop;
	sutra_db *db;
	pthread_t threads[OFFLOAD_THREADS];
	int nthreads;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void run_job(struct slot *s)
{
	struct completion *d = &s->done;
	sutra_stats st;
	int kind = s->pend.kind;

	d->value = 0;
	d->msg[0] = 0;
	d->rc = kind == REQ_CHECKPOINT ? sutra_checkpoint(q.db) : sutra_sync(q.db);
	if (d->rc < 0) {
		snprintf(d->msg, sizeof d->msg, "%s", sutra_last_error());
	} else if (kind != REQ_FLUSH && sutra_stats_get(q.db, &st) == 0) {
		d->value = kind == REQ_CHECKPOINT ? st.checkpoint_lsn : st.wal_durable_lsn;
	}
	worker_post_done(s);
}

static void *offload_main(void *arg)
{
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (!q.head && !q.stop)
			pthread_cond_wait(&q.cv, &q.lock);
		struct slot *s = q.head;
		if (!s)
			break;
		q.head = s->done_next;
		if (!q.head)
			q.tail = NULL;
		pthread_mutex_unlock(&q.lock);
		run_job(s);
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

int offload_start(struct server *s)
{
	q.db = s->db;
	q.stop = false;
	for (int i = 0; i < OFFLOAD_THREADS; i++) {
		int rc = pthread_create(&q.threads[i], NULL, offload_main, NULL);
		if (rc != 0) {
			log_error("cannot start an offload thread: %s", strerror(rc));
			return -1;
		}
		q.nthreads = i + 1;
	}
	return 0;
}

void offload_stop(void)
{
	pthread_mutex_lock(&q.lock);
	q.stop = true;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.lock);
	for (int i = 0; i < q.nthreads; i++)
		pthread_join(q.threads[i], NULL);
	q.nthreads = 0;
}

int offload_submit(struct slot *s, int kind)
{
	s->pend.kind = kind;
	s->done_next = NULL;
	pthread_mutex_lock(&q.lock);
	if (q.stop || q.nthreads == 0) {
		pthread_mutex_unlock(&q.lock);
		return -1;
	}
	if (q.tail)
		q.tail->done_next = s;
	else
		q.head = s;
	q.tail = s;
	pthread_cond_signal(&q.cv);
	pthread_mutex_unlock(&q.lock);
	return 0;
}
