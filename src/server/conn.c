/* conn.c - one client connection: framing, buffers, reading and writing.
 *
 * Framing is a 4-byte big-endian length followed by that many payload bytes,
 * in both directions; one reply per request, in request order. The input
 * buffer grows only as bytes arrive: geometrically, and never past the
 * declared length of the frame being read (a header announcing 100 MB
 * allocates nothing until the bytes come), nor past max_buffer_bytes. A
 * frame over max_frame_bytes gets its Error reply and its payload is then
 * skipped byte-exactly as it arrives, through a small scratch buffer, so
 * the stream never desynchronises and the connection stays usable; a
 * payload that fails to decode gets the decoder's message.
 *
 * While a request is in flight (a write or a blocking call) the next one is
 * not started, so replies stay in order and a read after an acknowledged
 * write sees it; bytes keep being read (up to the buffer cap) meanwhile.
 * Replies accumulate in the output buffer and are flushed once per turn;
 * past OUT_HIGH pending bytes no new request is started until the peer
 * reads (backpressure instead of unbounded memory). A connection closed
 * while a request is in flight keeps its memory until the completion has
 * arrived; the worker frees it then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/dispatch.h"
#include "server/log.h"
#include "server/server.h"

#define IN_MIN       (16u * 1024)       /* first allocation of the input buffer */
#define IN_KEEP      (64u * 1024)       /* larger idle buffers are given back */
#define OUT_HIGH     (4u * 1024 * 1024) /* stop starting requests past this */
#define OUT_KEEP     (256u * 1024)      /* larger empty output buffers are given back */
#define READ_BUDGET  (4u * 1024 * 1024) /* bytes read per wake-up before others get a turn */
#define FRAME_BUDGET 64                 /* requests per turn before others get a turn */
#define DISCARD_BUF  (64u * 1024)
#define ARENA_KEEP   (256u * 1024) /* decoding arena kept between requests */

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline size_t in_avail(const struct conn *c)
{
	return c->in.len - c->in.off;
}

bool conn_has_output(const struct conn *c)
{
	return c->out.len > c->out.off;
}

/* ---- lifecycle ----------------------------------------------------------- */

struct conn *conn_new(struct worker *w, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

	if (!c)
		goto fail;
	c->fd = fd;
	c->w = w;
	c->enc = w->srv->cfg.response_encoding;
	c->events = ev.events;
	c->active_ns = now_ns();
	c->id = atomic_fetch_add(&w->srv->next_conn_id, 1) + 1;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_warn("epoll_ctl(ADD) failed for a new connection: %s", strerror(errno));
		goto fail;
	}
	worker_touch(w, c);
	w->st.accepted++;
	log_debug("conn %llu: open on worker %u", (unsigned long long)c->id, w->index);
	return c;
fail:
	free(c);
	close(fd);
	atomic_fetch_sub(&w->srv->nconns, 1);
	return NULL;
}

void conn_free(struct conn *c)
{
	dispatch_pending_free(&c->pend);
	sutra_batch_free(c->batch);
	free(c->in.p);
	free(c->out.p);
	free(c);
}

static void unlink_live(struct conn *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else if (w->live_head == c)
		w->live_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else if (w->live_tail == c)
		w->live_tail = c->prev;
	c->prev = c->next = NULL;
}

/* Closes the socket now; the memory goes once nothing refers to it (see
 * worker_bury). */
void conn_close(struct conn *c, const char *why)
{
	struct worker *w = c->w;

	if (c->dead)
		return;
	log_debug("conn %llu: closed (%s)", (unsigned long long)c->id, why);
	c->dead = true;
	unlink_live(c);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	atomic_fetch_sub(&w->srv->nconns, 1);
	w->st.closed++;
	free(c->in.p);
	free(c->out.p);
	memset(&c->in, 0, sizeof c->in);
	memset(&c->out, 0, sizeof c->out);
	worker_bury(w, c);
}

/* ---- output -------------------------------------------------------------- */

static int out_reserve(struct bbuf *b, size_t extra)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= extra)
		return 0;
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= extra)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < extra)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int conn_reply(struct conn *c, const struct mpbuf *payload)
{
	struct bbuf *b = &c->out;
	size_t n = payload->len;

	if (c->dead)
		return 0;
	if (n > UINT32_MAX || out_reserve(b, 4 + n) < 0) {
		log_error("conn %llu: out of memory for a %zu-byte reply; closing",
		          (unsigned long long)c->id, n);
		conn_close(c, "out of memory");
		return -1;
	}
	uint8_t *h = b->p + b->len;
	h[0] = (uint8_t)(n >> 24);
	h[1] = (uint8_t)(n >> 16);
	h[2] = (uint8_t)(n >> 8);
	h[3] = (uint8_t)n;
	memcpy(h + 4, payload->p, n);
	b->len += 4 + n;
	return 0;
}

static void conn_flush(struct conn *c)
{
	struct bbuf *b = &c->out;

	while (!c->dead && b->off < b->len) {
		ssize_t n = send(c->fd, b->p + b->off, b->len - b->off, MSG_NOSIGNAL);
		if (n > 0) {
			b->off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			conn_close(c, "write failed");
			return;
		}
	}
	if (!c->dead && b->cap > OUT_KEEP) {
		free(b->p);
		memset(b, 0, sizeof *b);
	}
}

/* ---- input --------------------------------------------------------------- */

/* Makes room to read into; returns the free bytes (0: the cap is reached).
 * Growth follows the data: doubling, but never past the end of the frame
 * being read when its header is known. */
static size_t in_room(struct conn *c)
{
	struct bbuf *b = &c->in;
	uint64_t cap_max = c->w->srv->cfg.max_buffer_bytes;

	if (b->off > 0 && (b->len == b->cap || b->off >= b->cap / 2)) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len < b->cap)
		return b->cap - b->len;
	if (b->len >= cap_max)
		return 0;
	uint64_t want = b->cap ? (uint64_t)b->cap * 2 : IN_MIN;
	if (b->len >= 4) {
		uint64_t frame_end = 4 + (uint64_t)be32(b->p);
		if (frame_end > b->len && frame_end < want)
			want = frame_end;
	}
	if (want > cap_max)
		want = cap_max;
	uint8_t *p = realloc(b->p, (size_t)want);
	if (!p) {
		log_warn("conn %llu: out of memory growing the input buffer to %llu bytes",
		         (unsigned long long)c->id, (unsigned long long)want);
		conn_close(c, "out of memory");
		return 0;
	}
	b->p = p;
	b->cap = (size_t)want;
	return b->cap - b->len;
}

/* Gives a large input buffer back once it holds little. */
static void in_shrink(struct conn *c)
{
	struct bbuf *b = &c->in;
	size_t left = in_avail(c);

	if (b->cap <= IN_KEEP || left > IN_MIN)
		return;
	uint8_t *p = malloc(IN_MIN);
	if (!p)
		return;
	memcpy(p, b->p + b->off, left);
	free(b->p);
	b->p = p;
	b->off = 0;
	b->len = left;
	b->cap = IN_MIN;
}

static void frame_received(struct conn *c)
{
	c->active_ns = now_ns();
	worker_touch(c->w, c);
}

/* Skips oversized payload bytes straight off the socket, never more than
 * the frame has left. Returns what recv returned. */
static ssize_t read_discard(struct conn *c)
{
	struct worker *w = c->w;
	size_t want = c->discard < DISCARD_BUF ? (size_t)c->discard : DISCARD_BUF;

	if (!w->discard_buf && !(w->discard_buf = malloc(DISCARD_BUF))) {
		conn_close(c, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	ssize_t n = recv(c->fd, w->discard_buf, want, 0);
	if (n > 0) {
		c->discard -= (uint64_t)n;
		if (c->discard == 0)
			frame_received(c);
	}
	return n;
}

static bool wants_read(const struct conn *c)
{
	if (c->dead || c->peer_eof || atomic_load(&c->w->srv->stopping))
		return false;
	if (c->discard > 0 && in_avail(c) == 0)
		return true;
	return in_avail(c) < c->w->srv->cfg.max_buffer_bytes;
}

static void conn_read(struct conn *c)
{
	size_t budget = READ_BUDGET;

	while (budget > 0 && wants_read(c)) {
		ssize_t n;
		if (c->discard > 0 && in_avail(c) == 0) {
			n = read_discard(c);
		} else {
			size_t room = in_room(c);
			if (room == 0)
				return;
			n = recv(c->fd, c->in.p + c->in.len, room < budget ? room : budget, 0);
			if (n > 0)
				c->in.len += (size_t)n;
		}
		if (n > 0) {
			budget -= (size_t)n < budget ? (size_t)n : budget;
		} else if (n == 0) {
			c->peer_eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			conn_close(c, "read failed");
			return;
		}
	}
}

/* ---- requests ------------------------------------------------------------ */

/* Sizes the worker's decoding arena for a payload of n bytes: exactly the
 * bound proto.h documents (never more than ~16.5 MB with the default
 * limits), so decoding never runs out. A large arena is given back once
 * smaller frames follow. */
static int arena_prepare(struct worker *w, size_t n)
{
	size_t need = proto_arena_bound(n, &w->srv->limits);

	if (w->arena.cap < need || (w->arena.cap > ARENA_KEEP && need <= ARENA_KEEP)) {
		free(w->arena.base);
		need = need > ARENA_KEEP ? need : ARENA_KEEP;
		w->arena.base = malloc(need);
		w->arena.cap = w->arena.base ? need : 0;
		if (!w->arena.base)
			return -1;
	}
	w->arena.used = 0;
	return 0;
}

static void handle_frame(struct conn *c, const uint8_t *p, size_t n)
{
	struct worker *w = c->w;
	struct request req;
	char err[512];

	w->st.requests++;
	mpbuf_reset(&w->resp);
	if (arena_prepare(w, n) < 0) {
		rb_error(&w->resp, c->enc, "out of memory decoding a %zu-byte request", n);
	} else if (proto_decode(p, n, &w->srv->limits, &w->arena, &req, err, sizeof err) < 0) {
		/* An extension's errors are named, like its replies. */
		rb_error(&w->resp, req.kind >= 0 ? dispatch_encoding(c, req.kind) : c->enc, "%s",
		         err);
	} else if (dispatch_request(c, &req, &w->resp) == DISPATCH_INFLIGHT) {
		c->inflight = true;
		w->inflight++;
		return;
	}
	if (w->resp.oom) {
		mpbuf_reset(&w->resp);
		rb_error(&w->resp, c->enc, "out of memory building the reply");
	}
	conn_reply(c, &w->resp);
}

static void oversized(struct conn *c, uint32_t len)
{
	struct worker *w = c->w;
	size_t skip = in_avail(c) < len ? in_avail(c) : len;

	w->st.requests++;
	w->st.oversized++;
	mpbuf_reset(&w->resp);
	rb_error(&w->resp, c->enc, "Message too large: %u bytes (max: %u)", len,
	         w->srv->cfg.max_frame_bytes);
	conn_reply(c, &w->resp);
	c->in.off += skip;
	c->discard = len - skip;
	if (c->discard == 0)
		frame_received(c);
}

/* Starts buffered requests until one goes in flight, the output backs up or
 * the budget is spent. Returns true when a complete request is still
 * waiting (the caller puts the connection on the ready list). */
static bool conn_process(struct conn *c)
{
	uint32_t max_frame = c->w->srv->cfg.max_frame_bytes;

	for (int budget = FRAME_BUDGET; !c->dead && !c->inflight; budget--) {
		if (c->discard > 0) {
			size_t skip = in_avail(c) < c->discard ? in_avail(c) : (size_t)c->discard;
			c->in.off += skip;
			c->discard -= skip;
			if (c->discard > 0)
				return false;
			frame_received(c);
		}
		if (in_avail(c) < 4 || atomic_load(&c->w->srv->stopping))
			return false;
		uint32_t len = be32(c->in.p + c->in.off);
		if (len <= max_frame && in_avail(c) - 4 < len)
			return false;
		if (budget == 0 || c->out.len - c->out.off > OUT_HIGH)
			return budget == 0;
		if (len > max_frame) {
			c->in.off += 4;
			oversized(c, len);
			continue;
		}
		frame_received(c);
		const uint8_t *payload = c->in.p + c->in.off + 4;
		c->in.off += 4 + (size_t)len;
		handle_frame(c, payload, len);
	}
	return false;
}

static void update_interest(struct conn *c)
{
	uint32_t ev = 0;

	if (c->dead)
		return;
	/* Level-triggered: after EOF both EPOLLIN and EPOLLRDHUP would fire
	 * forever, so they are only asked for while reading. */
	if (wants_read(c))
		ev |= EPOLLIN | EPOLLRDHUP;
	if (conn_has_output(c))
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) {
		conn_close(c, "epoll_ctl failed");
		return;
	}
	c->events = ev;
}

/* A finished connection: the peer closed its side and everything it sent
 * that can be answered has been answered and flushed. */
static bool finished(const struct conn *c)
{
	if (!c->peer_eof || c->inflight || conn_has_output(c))
		return false;
	if (c->discard > 0 || in_avail(c) < 4)
		return true;
	uint32_t len = be32(c->in.p + c->in.off);
	return len <= c->w->srv->cfg.max_frame_bytes && in_avail(c) - 4 < len;
}

/* A whole request (or an oversized frame's header) is buffered. */
static bool request_waiting(const struct conn *c)
{
	if (c->discard > 0 || in_avail(c) < 4)
		return false;
	uint32_t len = be32(c->in.p + c->in.off);
	return len > c->w->srv->cfg.max_frame_bytes || in_avail(c) - 4 >= len;
}

void conn_run(struct conn *c)
{
	bool more;

	if (c->dead)
		return;
	more = conn_process(c);
	conn_flush(c);
	if (c->dead)
		return;
	/* Processing may have stopped because the output backed up; once the
	 * flush drained it, buffered requests must be started again (nothing
	 * else will wake this connection: its input is already read). */
	if (!more && !c->inflight && c->out.len - c->out.off <= OUT_HIGH && request_waiting(c) &&
	    !atomic_load(&c->w->srv->stopping))
		more = true;
	if (more)
		worker_ready(c->w, c);
	if (finished(c)) {
		conn_close(c, "peer closed");
		return;
	}
	if (!c->inflight)
		in_shrink(c);
	update_interest(c);
}

void conn_on_event(struct conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & EPOLLERR) {
		conn_close(c, "socket error");
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		conn_read(c);
	if (c->dead)
		return;
	if ((events & EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(c, "hang-up");
		return;
	}
	conn_run(c);
}

void conn_complete(struct conn *c)
{
	struct worker *w = c->w;

	mpbuf_reset(&w->resp);
	dispatch_finish(c, &w->resp);
	if (w->resp.oom) {
		mpbuf_reset(&w->resp);
		rb_error(&w->resp, c->enc, "out of memory building the reply");
	}
	conn_reply(c, &w->resp);
	c->active_ns = now_ns();
	if (!c->dead)
		worker_touch(w, c);
	conn_run(c);
}
