/* conn.c - the client's socket: connect, write the queue, read framed replies.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * connection's timeout, so a silent server costs at most timeout_ms per
 * wait. sc_send() polls for both directions: whatever the server answers
 * while a long pipeline is being written is read into the input buffer,
 * which keeps both sides' socket buffers draining (a pipeline of any length
 * cannot deadlock). sc_recv() takes one frame from the input buffer,
 * reading more as needed; the declared length is checked against
 * max_reply before anything is sized by it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"

#define READ_CHUNK 65536

void sc_init(struct sc_conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->timeout_ms = 10000;
	c->max_reply = SC_DEFAULT_MAX_REPLY;
	mpbuf_init(&c->req);
}

void sc_set_form(struct sc_conn *c, unsigned form)
{
	c->form = form;
}

void sc_discard(struct sc_conn *c)
{
	c->out.len = 0, c->out_off = 0;
}

void sc_close(struct sc_conn *c)
{
	int timeout = c->timeout_ms;
	unsigned form = c->form;
	uint32_t max_reply = c->max_reply;

	if (c->fd >= 0)
		close(c->fd);
	free(c->out.p);
	free(c->in.p);
	mpbuf_free(&c->req);
	sc_init(c);
	c->timeout_ms = timeout, c->form = form, c->max_reply = max_reply;
}

static int io_fail(struct sc_conn *c, const char *what, int e)
{
	snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(e));
	return SC_EIO;
}

/* Waits for events on the socket; returns the revents, 0 on timeout, -1 on error. */
static int wait_fd(struct sc_conn *c, short events)
{
	struct pollfd p = {.fd = c->fd, .events = events};
	int n;

	do
		n = poll(&p, 1, c->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	return n == 0 ? 0 : p.revents;
}

static int timed_out(struct sc_conn *c, const char *what)
{
	snprintf(c->err, sizeof c->err, "%s: no progress within %d ms", what, c->timeout_ms);
	return SC_ETIMEDOUT;
}

/* ---- connect ------------------------------------------------------------------- */

static int finish_connect(struct sc_conn *c)
{
	int ev, soerr = 0, one = 1;
	socklen_t len = sizeof soerr;

	ev = wait_fd(c, POLLOUT);
	if (ev == 0)
		return timed_out(c, "connect");
	if (ev < 0)
		return io_fail(c, "poll", errno);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return io_fail(c, "getsockopt", errno);
	if (soerr)
		return io_fail(c, "connect", soerr);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

static int try_addr(struct sc_conn *c, const struct addrinfo *ai)
{
	int rc;

	c->fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (c->fd < 0)
		return io_fail(c, "socket", errno);
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		rc = io_fail(c, "connect", errno);
	else
		rc = finish_connect(c);
	if (rc) {
		close(c->fd);
		c->fd = -1;
	}
	return rc;
}

int sc_connect(struct sc_conn *c, const char *host, unsigned port, int timeout_ms)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	char service[16];
	int rc = SC_EIO, g;

	if (c->fd >= 0)
		sc_close(c);
	c->timeout_ms = timeout_ms;
	snprintf(service, sizeof service, "%u", port);
	if ((g = getaddrinfo(host, service, &hints, &res)) != 0) {
		snprintf(c->err, sizeof c->err, "%s:%u: %s", host, port, gai_strerror(g));
		return SC_EIO;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if ((rc = try_addr(c, ai)) == 0)
			break;
	freeaddrinfo(res);
	if (rc) {
		char why[sizeof c->err];
		int n = snprintf(why, sizeof why, "%s:%u: ", host, port);

		if (n > 0 && (size_t)n < sizeof why)
			snprintf(why + n, sizeof why - (size_t)n, "%.*s",
			         (int)(sizeof why - (size_t)n - 1), c->err);
		memcpy(c->err, why, sizeof why);
	}
	return rc;
}

/* ---- input buffer ------------------------------------------------------------------- */

/* Makes room for at least want more bytes at the end of the input buffer. */
static int in_room(struct sc_conn *c, size_t want)
{
	struct sc_bytes *in = &c->in;
	size_t live = in->len - c->in_off, cap;
	uint8_t *np;

	if (c->in_off && (in->cap - in->len < want || c->in_off == in->len)) {
		memmove(in->p, in->p + c->in_off, live);
		in->len = live, c->in_off = 0;
	}
	if (in->cap - in->len >= want)
		return 0;
	cap = in->cap ? in->cap : READ_CHUNK;
	while (cap - in->len < want)
		cap *= 2;
	if (!(np = realloc(in->p, cap)))
		return SC_ENOMEM;
	in->p = np, in->cap = cap;
	return 0;
}

/* One read() of whatever is available. 0, SC_ECLOSED, SC_EIO; sets *got. */
static int read_some(struct sc_conn *c, size_t *got)
{
	ssize_t n;
	int rc;

	*got = 0;
	if ((rc = in_room(c, READ_CHUNK)))
		return rc;
	n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
	if (n == 0) {
		snprintf(c->err, sizeof c->err, "the server closed the connection");
		return SC_ECLOSED;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : io_fail(c, "read", errno);
	c->in.len += (size_t)n, *got = (size_t)n;
	return 0;
}

/* Reads until at least need unconsumed bytes are buffered. */
static int fill(struct sc_conn *c, size_t need)
{
	size_t got;
	int rc, ev;

	if (c->in.len - c->in_off >= need)
		return 0;
	if ((rc = in_room(c, need - (c->in.len - c->in_off))))
		return rc;
	while (c->in.len - c->in_off < need) {
		if ((rc = read_some(c, &got)))
			return rc;
		if (got)
			continue;
		ev = wait_fd(c, POLLIN);
		if (ev == 0)
			return timed_out(c, "read");
		if (ev < 0)
			return io_fail(c, "poll", errno);
	}
	return 0;
}

/* ---- send / receive -------------------------------------------------------------------- */

static int write_some(struct sc_conn *c)
{
	ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : io_fail(c, "write", errno);
	c->out_off += (size_t)n;
	return 0;
}

int sc_send(struct sc_conn *c)
{
	size_t got;
	int rc = 0, ev;

	if (c->fd < 0) {
		snprintf(c->err, sizeof c->err, "not connected");
		return SC_EIO;
	}
	while (c->out_off < c->out.len) {
		if ((rc = write_some(c)))
			break;
		if (c->out_off == c->out.len)
			break;
		ev = wait_fd(c, POLLOUT | POLLIN);
		if (ev == 0) {
			rc = timed_out(c, "write");
			break;
		}
		if (ev < 0) {
			rc = io_fail(c, "poll", errno);
			break;
		}
		if ((ev & POLLIN) && (rc = read_some(c, &got)))
			break;
	}
	sc_discard(c);
	return rc;
}

int sc_recv(struct sc_conn *c, struct sc_reply *r)
{
	const uint8_t *h;
	uint32_t n;
	int rc;

	if (c->fd < 0) {
		snprintf(c->err, sizeof c->err, "not connected");
		return SC_EIO;
	}
	if ((rc = fill(c, 4)))
		return rc;
	h = c->in.p + c->in_off;
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (n > c->max_reply) {
		snprintf(c->err, sizeof c->err, "reply of %u bytes exceeds the limit of %u", n,
		         c->max_reply);
		return SC_EPROTO;
	}
	if ((rc = fill(c, 4 + (size_t)n)))
		return rc;
	rc = sc_reply_parse(r, c->in.p + c->in_off + 4, n, c->err, sizeof c->err);
	c->in_off += 4 + (size_t)n;
	if (c->queued)
		c->queued--;
	if (rc == SC_ESERVER)
		snprintf(c->err, sizeof c->err, "%s", r->message);
	return rc;
}

int sc_call(struct sc_conn *c, struct sc_reply *r)
{
	int rc = sc_send(c);

	return rc ? rc : sc_recv(c, r);
}
