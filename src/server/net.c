/* net.c - the listening socket and the acceptor.
 *
 * One listening socket, bound before any worker starts so that a busy port
 * is a clear start-up error (per-worker SO_REUSEPORT sockets would let a
 * second server silently share the port). Worker 0 accepts and hands each
 * socket round-robin to a worker's inbox, which balances connections evenly
 * across the cores whatever the kernel's wake-up order. Accepted sockets
 * are non-blocking with TCP_NODELAY. Over max_connections a socket is
 * accepted, sent an Error frame if that can be written without blocking,
 * and closed (after a short grace for slots whose client has already gone,
 * see hold()). When the process runs out of descriptors, accepting pauses
 * for a moment instead of spinning on a level-triggered listening socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"
#include "server/server.h"

#define ACCEPT_BUDGET   64
#define BACKLOG         4096
#define EMFILE_PAUSE_NS (100ull * 1000000)
#define CAP_GRACE_NS    (100ull * 1000000)

static int bind_one(const struct addrinfo *ai)
{
	int one = 1;
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int net_listen(struct server *s)
{
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char port[8];
	int err = 0, rc;

	snprintf(port, sizeof port, "%u", s->cfg.port);
	rc = getaddrinfo(s->cfg.host, port, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve host %s: %s", s->cfg.host, gai_strerror(rc));
		return -1;
	}
	s->listen_fd = -1;
	for (struct addrinfo *ai = res; ai && s->listen_fd < 0; ai = ai->ai_next) {
		s->listen_fd = bind_one(ai);
		if (s->listen_fd < 0)
			err = errno;
	}
	freeaddrinfo(res);
	if (s->listen_fd < 0) {
		log_error("cannot listen on %s:%u: %s", s->cfg.host, s->cfg.port, strerror(err));
		return -1;
	}
	s->port = bound_port(s->listen_fd);
	return 0;
}

/* Over the limit: tell the client why if the reply fits the socket buffer
 * right now, and close. */
static void refuse(struct worker *w, int fd)
{
	struct server *s = w->srv;
	uint8_t frame[128];

	mpbuf_reset(&w->resp);
	rb_error(&w->resp, s->cfg.response_encoding, "Too many connections (max: %u)",
	         s->cfg.max_connections);
	size_t n = w->resp.len;
	if (!w->resp.oom && n + 4 <= sizeof frame) {
		frame[0] = (uint8_t)(n >> 24);
		frame[1] = (uint8_t)(n >> 16);
		frame[2] = (uint8_t)(n >> 8);
		frame[3] = (uint8_t)n;
		memcpy(frame + 4, w->resp.p, n);
		ssize_t k = send(fd, frame, n + 4, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)k;
	}
	close(fd);
	w->st.refused++;
	if (w->st.refused == 1 || w->st.refused % 1000 == 0)
		log_warn("refused a connection: %u connections are open (max_connections); "
		         "%llu refused so far by this worker",
		         s->cfg.max_connections, (unsigned long long)w->st.refused);
}

static void listen_off(struct worker *w)
{
	if (w->listening)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->srv->listen_fd, NULL);
	w->listening = false;
}

static void listen_on(struct worker *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->srv->listen_fd};

	if (w->listening || atomic_load(&w->srv->stopping))
		return;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->srv->listen_fd, &ev) == 0)
		w->listening = true;
}

static void pause_accept(struct worker *w, int err)
{
	log_warn("accept failed: %s; pausing new connections for 100 ms", strerror(err));
	listen_off(w);
	w->accept_paused_until = now_ns() + EMFILE_PAUSE_NS;
}

static void hand_off(struct worker *w, int fd)
{
	struct server *s = w->srv;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct worker *to = &s->workers[atomic_fetch_add(&s->rr, 1) % s->nworkers];
	if (to == w) {
		struct conn *c = conn_new(w, fd);
		if (c)
			conn_run(c);
	} else if (worker_post_fd(to, fd) < 0) {
		log_warn("out of memory handing a connection to worker %u", to->index);
		close(fd);
		atomic_fetch_sub(&s->nconns, 1);
	}
}

/* Takes a slot for a new connection; false at the cap. */
static bool take_slot(struct server *s)
{
	if (atomic_fetch_add(&s->nconns, 1) < s->cfg.max_connections)
		return true;
	atomic_fetch_sub(&s->nconns, 1);
	return false;
}

/* At the cap, the first connection waits CAP_GRACE_NS for a slot (with
 * accepting paused): a client that just closed may not have been noticed
 * yet by its worker, and must not count against the newcomer. Once a grace
 * has run out, further connections are refused at once until a connection
 * is admitted again. */
static void hold(struct worker *w, int fd)
{
	w->held_fd = fd;
	w->held_until = now_ns() + CAP_GRACE_NS;
	listen_off(w);
}

void net_tick(struct worker *w, uint64_t now)
{
	if (w->held_fd >= 0) {
		if (take_slot(w->srv)) {
			w->cap_full = false;
			hand_off(w, w->held_fd);
		} else if (now >= w->held_until || atomic_load(&w->srv->stopping)) {
			w->cap_full = true;
			refuse(w, w->held_fd);
		} else {
			return;
		}
		w->held_fd = -1;
		if (!w->accept_paused_until)
			listen_on(w);
	}
	if (w->accept_paused_until && now >= w->accept_paused_until) {
		w->accept_paused_until = 0;
		listen_on(w);
	}
}

void net_stop(struct worker *w)
{
	listen_off(w);
	if (w->held_fd >= 0) {
		close(w->held_fd);
		w->held_fd = -1;
	}
}

void net_accept(struct worker *w)
{
	struct server *s = w->srv;

	for (int i = 0; i < ACCEPT_BUDGET && w->listening; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				pause_accept(w, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept failed: %s", strerror(errno));
			return;
		}
		if (take_slot(s)) {
			w->cap_full = false;
			hand_off(w, fd);
		} else if (!w->cap_full) {
			hold(w, fd);
		} else {
			refuse(w, fd);
		}
	}
}
