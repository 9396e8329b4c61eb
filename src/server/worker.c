/* worker.c - the worker threads: one epoll loop per thread.
 *
 * Each worker owns its connections outright; the only shared part is its
 * inbox (new sockets from the acceptor, finished in-flight requests from
 * engine and offload threads), a mutex-protected list with an eventfd to
 * wake the loop. The loop is level-triggered: every turn it handles the
 * ready sockets, the inbox, the connections that still had complete
 * requests after their per-turn budget (the ready list, so one pipelining
 * client cannot starve the others), and idle timeouts.
 *
 * Idle timeouts: the live list is kept in order of last activity (a
 * complete request, the connect, or a finished in-flight request moves a
 * connection to the tail), so expired connections are found at the head and
 * the epoll timeout is the head's deadline; a connection with requests in
 * flight is never idle. Closed connections are freed at the end of a turn,
 * and only once no in-flight request refers to them (their count of slots
 * held elsewhere is zero), so a stale epoll event or a late completion
 * never touches freed memory.
 *
 * Shutdown: the acceptor stops listening; each connection reads what its
 * socket already holds, then reads no more; the complete requests it has
 * buffered are still answered (for at most DRAIN_NS), in-flight requests
 * are always waited for (their callbacks always come), replies are flushed
 * for a bounded time, then every connection is closed and the thread exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/dispatch.h"
#include "server/log.h"
#include "server/server.h"

#define MAX_EVENTS   256
#define STOP_POLL_MS 50
#define HOLD_POLL_NS (5ull * 1000000) /* re-checking for a free slot at the cap */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake(struct worker *w)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	ssize_t n = write(w->evfd, &one, sizeof one);
	(void)n;
}

/* ---- lists --------------------------------------------------------------- */

void worker_touch(struct worker *w, struct conn *c)
{
	if (w->live_tail == c)
		return;
	if (c->prev || c->next || w->live_head == c) {
		if (c->prev)
			c->prev->next = c->next;
		else
			w->live_head = c->next;
		c->next->prev = c->prev; /* c is not the tail */
	}
	c->next = NULL;
	c->prev = w->live_tail;
	if (w->live_tail)
		w->live_tail->next = c;
	else
		w->live_head = c;
	w->live_tail = c;
}

void worker_ready(struct worker *w, struct conn *c)
{
	if (c->in_ready)
		return;
	c->in_ready = true;
	c->ready_next = NULL;
	if (w->ready_tail)
		w->ready_tail->ready_next = c;
	else
		w->ready_head = c;
	w->ready_tail = c;
}

/* Queues c for freeing at the end of the turn once it is closed and
 * nothing refers to it any more (the ready list, an in-flight request, an
 * epoll event still to be handled in this turn). */
void worker_bury(struct worker *w, struct conn *c)
{
	if (!c->dead || c->outstanding > 0 || c->in_ready || c->buried)
		return;
	c->buried = true;
	c->gone_next = w->graveyard;
	w->graveyard = c;
}

static void free_graveyard(struct worker *w)
{
	struct conn *c = w->graveyard, *next;

	w->graveyard = NULL;
	for (; c; c = next) {
		next = c->gone_next;
		conn_free(c);
	}
}

static void run_ready(struct worker *w)
{
	struct conn *c = w->ready_head, *next;

	w->ready_head = w->ready_tail = NULL;
	for (; c; c = next) {
		next = c->ready_next;
		c->in_ready = false;
		if (c->dead)
			worker_bury(w, c);
		else
			conn_run(c);
	}
}

/* ---- inbox --------------------------------------------------------------- */

/* Only a post to an empty inbox wakes the loop: drain_inbox reads the
 * eventfd before it takes the lists, so whatever is posted after the take
 * finds them empty and wakes it again. */
void worker_post_done(struct slot *s)
{
	struct worker *w = s->c->w;
	bool was_empty;

	pthread_mutex_lock(&w->lock);
	was_empty = !w->done_head && w->n_new == 0;
	s->done_next = NULL;
	if (w->done_tail)
		w->done_tail->done_next = s;
	else
		w->done_head = s;
	w->done_tail = s;
	pthread_mutex_unlock(&w->lock);
	if (was_empty)
		wake(w);
}

/* Queues a new socket for w (called by the acceptor). */
int worker_post_fd(struct worker *w, int fd)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	bool was_empty = !w->done_head && w->n_new == 0;
	if (w->n_new == w->cap_new) {
		size_t cap = w->cap_new ? w->cap_new * 2 : 64;
		int *p = realloc(w->new_fds, cap * sizeof *p);
		if (p) {
			w->new_fds = p;
			w->cap_new = cap;
		}
	}
	if (w->n_new < w->cap_new)
		w->new_fds[w->n_new++] = fd;
	else
		rc = -1;
	pthread_mutex_unlock(&w->lock);
	if (rc == 0 && was_empty)
		wake(w);
	return rc;
}

static void adopt(struct worker *w, int fd)
{
	if (atomic_load(&w->srv->stopping)) {
		close(fd);
		atomic_fetch_sub(&w->srv->nconns, 1);
		return;
	}
	struct conn *c = conn_new(w, fd);
	if (c)
		conn_run(c);
}

static void drain_inbox(struct worker *w)
{
	uint64_t count, now = 0;
	int fds[256];
	size_t nfds;

	if (read(w->evfd, &count, sizeof count) < 0 && errno != EAGAIN)
		log_warn("worker %u: eventfd read failed: %s", w->index, strerror(errno));
	pthread_mutex_lock(&w->lock);
	struct slot *done = w->done_head;
	w->done_head = w->done_tail = NULL;
	nfds = w->n_new < 256 ? w->n_new : 256;
	if (nfds > 0) {
		memcpy(fds, w->new_fds, nfds * sizeof *fds);
		memmove(w->new_fds, w->new_fds + nfds, (w->n_new - nfds) * sizeof *fds);
		w->n_new -= nfds;
	}
	if (w->n_new)
		wake(w); /* the rest next turn */
	pthread_mutex_unlock(&w->lock);
	for (struct slot *s = done, *next; s; s = next) {
		struct conn *c = s->c;
		next = s->done_next;
		c->outstanding--;
		w->inflight--;
		if (c->dead) {
			s->complete = true; /* conn_free releases it */
			worker_bury(w, c);
		} else {
			now = now ? now : now_ns();
			conn_complete(s, now);
		}
	}
	for (size_t i = 0; i < nfds; i++)
		adopt(w, fds[i]);
}

/* ---- timeouts ------------------------------------------------------------ */

static uint64_t idle_ns(const struct worker *w)
{
	return (uint64_t)w->srv->cfg.idle_timeout_ms * 1000000ull;
}

static void expire_idle(struct worker *w, uint64_t now)
{
	uint64_t limit = idle_ns(w);
	struct conn *c;

	if (limit == 0)
		return;
	while ((c = w->live_head) && c->active_ns + limit <= now) {
		if (c->nq > 0) {
			c->active_ns = now;
			worker_touch(w, c);
			continue;
		}
		w->st.timeouts++;
		log_debug("conn %llu: idle for %u ms", (unsigned long long)c->id,
		          w->srv->cfg.idle_timeout_ms);
		conn_close(c, "idle timeout");
	}
}

static int next_timeout_ms(const struct worker *w, uint64_t now)
{
	uint64_t limit = idle_ns(w), deadline = UINT64_MAX;

	if (w->ready_head)
		return 0;
	if (limit && w->live_head)
		deadline = w->live_head->active_ns + limit;
	if (w->accept_paused_until && w->accept_paused_until < deadline)
		deadline = w->accept_paused_until;
	if (w->held_fd >= 0 && now + HOLD_POLL_NS < deadline)
		deadline = now + HOLD_POLL_NS; /* slots free up on other workers */
	if (deadline == UINT64_MAX)
		return atomic_load(&w->srv->stopping) ? STOP_POLL_MS : -1;
	if (deadline <= now)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	if (atomic_load(&w->srv->stopping) && ms > STOP_POLL_MS)
		ms = STOP_POLL_MS;
	return ms > 60000 ? 60000 : (int)ms;
}

/* ---- the loop ------------------------------------------------------------ */

static void handle_events(struct worker *w, struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		if (ev[i].data.ptr == &w->evfd)
			drain_inbox(w);
		else if (ev[i].data.ptr == &w->srv->listen_fd)
			net_accept(w);
		else
			conn_on_event(ev[i].data.ptr, ev[i].events);
	}
}

/* One shutdown step; returns true when the worker may exit. */
static bool drain_step(struct worker *w, uint64_t now)
{
	struct conn *c, *next;
	bool first = !w->drain_read;

	w->drain_read = true;
	net_stop(w);
	for (c = w->live_head; c; c = next) {
		next = c->next;
		conn_drain(c, first);
	}
	return w->inflight == 0 && (!w->live_head || now >= w->stop_ns + DRAIN_NS);
}

static void close_all(struct worker *w)
{
	struct conn *c;

	while ((c = w->live_head))
		conn_close(c, "shutdown");
	run_ready(w); /* buries what is left on the ready list */
	free_graveyard(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(w->epfd, ev, MAX_EVENTS, next_timeout_ms(w, now_ns()));
		if (n < 0 && errno != EINTR) {
			log_error("worker %u: epoll_wait failed: %s", w->index, strerror(errno));
			n = 0;
		}
		handle_events(w, ev, n > 0 ? n : 0);
		run_ready(w);
		uint64_t now = now_ns();
		expire_idle(w, now);
		net_tick(w, now);
		free_graveyard(w);
		if (atomic_load(&w->srv->stopping)) {
			w->stop_ns = w->stop_ns ? w->stop_ns : now;
			if (drain_step(w, now))
				break;
		}
	}
	close_all(w);
	return NULL;
}

/* ---- start / stop -------------------------------------------------------- */

static int worker_init(struct server *s, struct worker *w, uint32_t index)
{
	struct epoll_event ev = {.events = EPOLLIN};

	memset(w, 0, sizeof *w);
	w->srv = s;
	w->index = index;
	w->epfd = w->evfd = w->held_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	mpbuf_init(&w->resp);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0)
		return -1;
	ev.data.ptr = &w->evfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
		return -1;
	if (index == 0) {
		ev.data.ptr = &s->listen_fd;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
			return -1;
		w->listening = true;
	}
	return 0;
}

static void worker_destroy(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	if (w->held_fd >= 0)
		close(w->held_fd);
	for (size_t i = 0; i < w->n_new; i++) {
		close(w->new_fds[i]);
		atomic_fetch_sub(&w->srv->nconns, 1);
	}
	free(w->new_fds);
	mpbuf_free(&w->resp);
	free(w->arena.base);
	free(w->discard_buf);
	free(w->scratch);
	pthread_mutex_destroy(&w->lock);
}

/* Sets up s->cfg.workers workers and starts their threads. On failure
 * everything started is stopped again; workers_free still releases. */
int workers_start(struct server *s)
{
	uint32_t n = s->cfg.workers;

	s->workers = calloc(n, sizeof *s->workers);
	if (!s->workers)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		s->nworkers = i + 1;
		if (worker_init(s, &s->workers[i], i) < 0) {
			log_error("cannot set up worker %u: %s", i, strerror(errno));
			return -1;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		int rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
		if (rc != 0) {
			log_error("cannot start worker thread %u: %s", i, strerror(rc));
			workers_stop(s);
			for (uint32_t k = 0; k < i; k++)
				pthread_join(s->workers[k].thread, NULL);
			return -1;
		}
		s->nthreads = i + 1;
	}
	return 0;
}

void workers_stop(struct server *s)
{
	atomic_store(&s->stopping, true);
	for (uint32_t i = 0; i < s->nworkers; i++)
		wake(&s->workers[i]);
}

void workers_join(struct server *s)
{
	for (uint32_t i = 0; i < s->nthreads; i++)
		pthread_join(s->workers[i].thread, NULL);
	s->nthreads = 0;
}

void workers_free(struct server *s)
{
	if (!s->workers)
		return;
	for (uint32_t i = 0; i < s->nworkers; i++)
		worker_destroy(&s->workers[i]);
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
}
