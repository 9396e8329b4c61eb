/* conn.c - one client connection: framing, buffers, reading and writing,
 * and the order of its replies.
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
 * Pipelining: consecutive writes are submitted without waiting for each
 * other, up to max_inflight_per_connection at once. Each takes a slot that
 * joins the connection's order queue; a completion only marks its slot, and
 * replies leave from the head of the queue as soon as the head is complete,
 * so they go out strictly in request order (and together: one send for all
 * that are ready). A write answered at submission (a validation error, an
 * empty batch) while earlier ones are in flight keeps its reply in its slot
 * until its turn. Everything else - reads, Flush/Sync/Checkpoint, requests
 * that fail to decode, oversized frames - waits until nothing is in flight,
 * so a read sees every earlier write of its connection; a blocking call
 * (Flush/Sync/Checkpoint) in flight also holds back the writes after it.
 * The engine applies one connection's batches in submission order (its
 * commit queue is FIFO), so a write may depend on an earlier one still in
 * flight (LearnAssociation after the LearnConcept of its endpoint). Memory
 * stays bounded: at most max_inflight_per_connection slots per connection,
 * each a few hundred bytes plus what its reply needs (a slot keeps a small
 * batch for its next write; SLOTS_KEEP slots stay once the pipeline
 * drains), and a write joins
 * others in flight only while their frames total at most PIPE_BYTES (a
 * large batch goes alone, as without pipelining), so the batches the engine
 * holds for one connection stay near the size of one frame. Bytes keep
 * being read (up to the buffer cap) while requests are in flight.
 *
 * Replies accumulate in the output buffer and are flushed once per turn;
 * past OUT_HIGH pending bytes no new request is started until the peer
 * reads (backpressure instead of unbounded memory). A connection closed
 * while requests are in flight keeps its memory until every completion has
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
#define ARENA_KEEP   (256u * 1024)      /* decoding arena kept between requests */
#define SLOTS_KEEP   8                  /* slots kept once a deep pipeline drains */
#define PIPE_BYTES   (4u * 1024 * 1024) /* frame bytes of writes in flight behind others */
#define BATCH_KEEP   (4u * 1024)        /* a slot keeps its batch after frames this small */

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
	c->first.c = c;
	c->first.embedded = true;
	c->free_slots = &c->first;
	c->nslots = 1;
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

/* ---- slots --------------------------------------------------------------- */

/* Releases what a slot holds (not the slot); a small batch may be kept for
 * the slot's next write (dispatch_write clears it). */
static void slot_clear(struct slot *s, bool keep_batch)
{
	dispatch_pending_free(&s->pend);
	if (!keep_batch || s->frame_bytes > BATCH_KEEP) {
		sutra_batch_free(s->batch);
		s->batch = NULL;
	}
	free(s->reply);
	s->reply = NULL;
	s->reply_len = 0;
	s->frame_bytes = 0;
	s->complete = false;
}

/* A free slot for the next request; NULL when out of memory. A connection
 * never holds more than max_inflight_per_connection slots: one is allocated
 * only when every slot it has is queued, and a request starts only while
 * the queue is below the limit. */
static struct slot *slot_get(struct conn *c)
{
	struct slot *s = c->free_slots;

	if (s) {
		c->free_slots = s->next;
		s->next = NULL;
		return s;
	}
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	s->c = c;
	c->nslots++;
	return s;
}

/* Gives a slot back: kept for reuse, or freed past SLOTS_KEEP. */
static void slot_put(struct conn *c, struct slot *s)
{
	if (!s->embedded && c->nslots > SLOTS_KEEP) {
		slot_clear(s, false);
		c->nslots--;
		free(s);
		return;
	}
	slot_clear(s, true);
	s->next = c->free_slots;
	c->free_slots = s;
}

static void free_slot_list(struct slot *s)
{
	for (struct slot *next; s; s = next) {
		next = s->next;
		slot_clear(s, false);
		if (!s->embedded)
			free(s);
	}
}

static void queue_push(struct conn *c, struct slot *s)
{
	s->next = NULL;
	if (c->q_tail)
		c->q_tail->next = s;
	else
		c->q_head = s;
	c->q_tail = s;
	c->nq++;
}

/* Only once no other thread holds a slot (c->outstanding == 0). */
void conn_free(struct conn *c)
{
	free_slot_list(c->q_head);
	free_slot_list(c->free_slots);
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

static int reply_bytes(struct conn *c, const uint8_t *payload, size_t n)
{
	struct bbuf *b = &c->out;

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
	memcpy(h + 4, payload, n);
	b->len += 4 + n;
	return 0;
}

int conn_reply(struct conn *c, const struct mpbuf *payload)
{
	return reply_bytes(c, payload->p, payload->len);
}

/* The reply just built in w->resp, unless it ran out of memory. */
static void reply_built(struct conn *c)
{
	struct worker *w = c->w;

	if (w->resp.oom) {
		mpbuf_reset(&w->resp);
		rb_error(&w->resp, c->enc, "out of memory building the reply");
	}
	conn_reply(c, &w->resp);
}

/* Writes the replies of the complete requests at the head of the order
 * queue, oldest first, and stops at the first one still in flight. */
static void emit_ready(struct conn *c)
{
	struct worker *w = c->w;
	struct slot *s;

	while (!c->dead && (s = c->q_head) && s->complete) {
		if (!(c->q_head = s->next))
			c->q_tail = NULL;
		c->inflight_bytes -= s->frame_bytes;
		if (--c->nq == 0)
			c->barrier = c->head_waits = false;
		if (s->reply) {
			reply_bytes(c, s->reply, s->reply_len);
		} else {
			mpbuf_reset(&w->resp);
			dispatch_finish(s, &w->resp);
			reply_built(c);
		}
		slot_put(c, s);
	}
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
	if (c->dead || c->peer_eof || c->input_done)
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

/* Takes the frame at the head of the input (its payload stays readable
 * until the next read). */
static void consume(struct conn *c, size_t n)
{
	c->in.off += 4 + n;
	c->w->st.requests++;
	frame_received(c);
}

/* Keeps the reply in w->resp in s until the earlier replies have gone. */
static void defer_reply(struct conn *c, struct slot *s)
{
	struct worker *w = c->w;

	if (w->resp.oom || !(s->reply = malloc(w->resp.len))) {
		log_error("conn %llu: out of memory keeping a %zu-byte reply; closing",
		          (unsigned long long)c->id, w->resp.len);
		slot_put(c, s);
		conn_close(c, "out of memory");
		return;
	}
	memcpy(s->reply, w->resp.p, w->resp.len);
	s->reply_len = w->resp.len;
	s->complete = true;
	queue_push(c, s);
}

/* Starts a decoded request: a read (s NULL) is answered at once; a write
 * or a blocking call goes in flight with slot s, or is answered at once (in
 * its turn when earlier requests are still in flight). */
static void start_request(struct conn *c, const struct request *req, int cls, struct slot *s,
                          uint32_t n)
{
	struct worker *w = c->w;

	c->cur = s;
	int rc = dispatch_request(c, req, &w->resp);
	c->cur = NULL;
	if (rc == DISPATCH_INFLIGHT) {
		s->frame_bytes = n;
		c->inflight_bytes += n;
		queue_push(c, s);
		c->outstanding++;
		w->inflight++;
		c->barrier = cls == DISPATCH_BLOCKING;
		return;
	}
	if (s && c->nq > 0) {
		defer_reply(c, s);
		return;
	}
	if (s)
		slot_put(c, s);
	reply_built(c);
}

/* Whether the request at the head of the input has to wait for the ones in
 * flight (it is not a write, or not even decodable); it is decoded again
 * once they have all been answered. */
static bool must_wait(struct conn *c)
{
	if (c->nq == 0)
		return false;
	c->head_waits = true;
	return true;
}

/* Decodes and starts the request of the frame at the head of the input.
 * Returns false, leaving the frame buffered, when it must wait until
 * nothing is in flight (anything but a write, while writes are). */
static bool handle_frame(struct conn *c, const uint8_t *p, size_t n)
{
	struct worker *w = c->w;
	struct request req;
	char err[512];

	mpbuf_reset(&w->resp);
	if (arena_prepare(w, n) < 0) {
		if (must_wait(c))
			return false;
		consume(c, n);
		rb_error(&w->resp, c->enc, "out of memory decoding a %zu-byte request", n);
	} else if (proto_decode(p, n, &w->srv->limits, &w->arena, &req, err, sizeof err) < 0) {
		if (must_wait(c))
			return false;
		consume(c, n);
		/* An extension's errors are named, like its replies. */
		rb_error(&w->resp, req.kind >= 0 ? dispatch_encoding(c, req.kind) : c->enc, "%s",
		         err);
	} else {
		int cls = dispatch_class(req.kind);
		struct slot *s = NULL;
		if (cls != DISPATCH_WRITE && must_wait(c))
			return false;
		if (cls == DISPATCH_READ || (s = slot_get(c))) {
			consume(c, n);
			start_request(c, &req, cls, s, (uint32_t)n);
			return true;
		}
		if (must_wait(c)) /* slots come back as the queue drains */
			return false;
		consume(c, n);
		rb_error(&w->resp, dispatch_encoding(c, req.kind),
		         "out of memory starting the request");
	}
	reply_built(c);
	return true;
}

static void oversized(struct conn *c, uint32_t len)
{
	struct worker *w = c->w;
	size_t skip;

	c->in.off += 4;
	w->st.requests++;
	w->st.oversized++;
	skip = in_avail(c) < len ? in_avail(c) : len;
	mpbuf_reset(&w->resp);
	rb_error(&w->resp, c->enc, "Message too large: %u bytes (max: %u)", len,
	         w->srv->cfg.max_frame_bytes);
	conn_reply(c, &w->resp);
	c->in.off += skip;
	c->discard = len - skip;
	if (c->discard == 0)
		frame_received(c);
}

/* Whether new requests may start: always, except after the shutdown's
 * drain deadline. */
static bool may_start(const struct conn *c)
{
	const struct worker *w = c->w;

	if (!atomic_load(&w->srv->stopping) || w->stop_ns == 0)
		return true;
	return now_ns() < w->stop_ns + DRAIN_NS;
}

/* Whether the next request may start given the ones in flight: nothing
 * starts behind a blocking call, behind a request that had to wait, past
 * the per-connection limit or past PIPE_BYTES; an oversized frame's Error
 * waits its turn. */
static bool pipeline_open(const struct conn *c, uint32_t len)
{
	if (c->nq == 0)
		return true;
	return !c->barrier && !c->head_waits && c->nq < c->w->srv->cfg.max_inflight &&
	       len <= c->w->srv->cfg.max_frame_bytes && c->inflight_bytes + len <= PIPE_BYTES;
}

/* Starts buffered requests until one has to wait for those in flight, the
 * output backs up or the budget is spent. Returns true when a complete
 * request is still waiting for the next turn (the caller puts the
 * connection on the ready list). */
static bool conn_process(struct conn *c)
{
	uint32_t max_frame = c->w->srv->cfg.max_frame_bytes;

	for (int budget = FRAME_BUDGET; !c->dead; budget--) {
		if (c->discard > 0) {
			size_t skip = in_avail(c) < c->discard ? in_avail(c) : (size_t)c->discard;
			c->in.off += skip;
			c->discard -= skip;
			if (c->discard > 0)
				return false;
			frame_received(c);
		}
		if (in_avail(c) < 4 || !may_start(c))
			return false;
		uint32_t len = be32(c->in.p + c->in.off);
		if (len <= max_frame && in_avail(c) - 4 < len)
			return false;
		if (budget == 0 || c->out.len - c->out.off > OUT_HIGH)
			return budget == 0;
		if (!pipeline_open(c, len))
			return false;
		if (len > max_frame) {
			oversized(c, len);
			continue;
		}
		if (!handle_frame(c, c->in.p + c->in.off + 4, len))
			return false;
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
	if (!c->peer_eof || c->nq > 0 || conn_has_output(c))
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
	emit_ready(c);
	more = conn_process(c);
	conn_flush(c);
	if (c->dead)
		return;
	/* Processing may have stopped because the output backed up; once the
	 * flush drained it, buffered requests must be started again (nothing
	 * else will wake this connection: its input is already read). With
	 * requests in flight their completions do that. */
	if (!more && c->nq == 0 && c->out.len - c->out.off <= OUT_HIGH && request_waiting(c) &&
	    may_start(c))
		more = true;
	if (more)
		worker_ready(c->w, c);
	if (finished(c)) {
		conn_close(c, "peer closed");
		return;
	}
	if (c->nq == 0)
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

/* Called by the worker for each completion it takes from its inbox. The
 * replies leave in the connection's next conn_run, this same turn (the
 * ready list), so the completions of one engine group leave in one send. */
void conn_complete(struct slot *s, uint64_t now)
{
	struct conn *c = s->c;

	s->complete = true;
	c->active_ns = now;
	worker_touch(c->w, c);
	worker_ready(c->w, c);
}

void conn_drain(struct conn *c, bool first)
{
	if (c->dead)
		return;
	if (first) {
		conn_read(c);
		c->input_done = true;
		if (c->dead)
			return;
	}
	conn_run(c);
	if (c->dead)
		return;
	if (c->nq == 0 && !conn_has_output(c) && !(request_waiting(c) && may_start(c)))
		conn_close(c, "shutdown");
}
