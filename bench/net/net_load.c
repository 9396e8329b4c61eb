/* net_load.c - the load engine: connections in epoll loops, P requests in flight each.
 *
 * nl_run connects every connection first (blocking connect, then
 * non-blocking with TCP_NODELAY), deals them out to at most two threads (the
 * machine has two cores, shared with the servers), and each thread runs one
 * epoll loop: when a connection has no request outstanding it gets a batch
 * of P requests written with one write(2) (the send time is taken just
 * before it), and its replies are cut off the input as they arrive; when the
 * P-th reply is in, the next batch goes out at once. A reply's latency is the
 * time from its batch's write to the read(2) that completed it. Only replies
 * that arrive inside the measured window are counted and timed; the warm-up
 * before it uses the same connections. After the window no new batch is sent
 * and the outstanding replies are drained, so that every reply is checked
 * (one bad reply makes the run invalid). A connection closed by the server,
 * a malformed stream or no reply for timeout_s are errors too, and end the
 * run. In NK_SEQ mode (preload) there is no window: the table's keys are
 * split into one contiguous range per connection and the run ends when all
 * have been acknowledged.
 */
#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NL_MAX_THREADS 2
#define NL_IN_CAP      (256u << 10)

typedef struct nl_conn {
	int fd;
	int outstanding; /* replies still due for the current batch */
	uint64_t sent_at;
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len;
	size_t seq_next, seq_end; /* NK_SEQ: this connection's key range */
} nl_conn;

typedef struct nl_thread {
	const net_work *w;
	nl_conn *conns;
	int nconns;
	int busy; /* connections with a batch outstanding */
	int stopping;
	int failed;
	int epfd;
	uint64_t rng;
	uint64_t t_start, t_end;
	net_stats st;
	pthread_t tid;
} nl_thread;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void hex_key(uint64_t *s, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (int half = 0; half < 2; half++) {
		uint64_t r = rnd(s);

		for (int i = 0; i < 16; i++, r >>= 4)
			*out++ = hex[r & 15];
	}
}

/* Records a problem; the first one's text is kept. fatal ends the run. */
static void fail(nl_thread *t, const char *msg, int fatal)
{
	t->st.errors++;
	if (!t->st.first_error[0])
		snprintf(t->st.first_error, sizeof(t->st.first_error), "%s", msg);
	if (fatal)
		t->failed = 1;
}

/* ---- sending ---------------------------------------------------------------- */

static void want_out(nl_thread *t, nl_conn *c, int on)
{
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};

	epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int flush_out(nl_thread *t, nl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			want_out(t, c, 1);
			return 0;
		}
		if (n < 0) {
			char msg[128];

			snprintf(msg, sizeof(msg), "write: %s", strerror(errno));
			fail(t, msg, 1);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	return 0;
}

/* The key of the next request, or NULL when an NK_SEQ range is used up. */
static const char *next_key(nl_thread *t, nl_conn *c, char *scratch)
{
	const net_work *w = t->w;

	switch (w->keys) {
	case NK_RANDOM:
		return w->keytab + (rnd(&t->rng) % w->nkeys) * NET_KEY_LEN;
	case NK_SEQ:
		return c->seq_next < c->seq_end ? w->keytab + c->seq_next++ * NET_KEY_LEN : NULL;
	case NK_FRESH:
	default:
		hex_key(&t->rng, scratch);
		return scratch;
	}
}

/* Writes the next batch of up to P requests; nothing when there is none. */
static void send_batch(nl_thread *t, nl_conn *c)
{
	const net_tmpl *tm = t->w->tmpl;
	char scratch[NET_KEY_LEN];
	int n = 0;

	if (t->stopping)
		return;
	for (; n < t->w->pipeline; n++) {
		const char *key = next_key(t, c, scratch);

		if (!key)
			break;
		np_fill(tm, key, c->out + (size_t)n * tm->len);
	}
	if (!n)
		return;
	c->out_len = (size_t)n * tm->len;
	c->out_off = 0;
	c->outstanding = n;
	t->busy++;
	c->sent_at = now_ns();
	flush_out(t, c);
}

/* ---- receiving -------------------------------------------------------------- */

static void count_reply(nl_thread *t, nl_conn *c, uint64_t at, int ok, const char *err)
{
	if (!ok) {
		fail(t, err, 0);
	} else {
		t->st.total++;
		if (at >= t->t_start && at <= t->t_end) {
			t->st.replies++;
			nh_add(&t->st.hist, at - c->sent_at);
		}
	}
	if (--c->outstanding == 0) {
		t->busy--;
		send_batch(t, c);
	}
}

/* Cuts the complete replies off the input buffer. */
static void parse_in(nl_thread *t, nl_conn *c, uint64_t at)
{
	const net_tmpl *tm = t->w->tmpl;
	size_t off = 0;
	char err[256];

	while (off < c->in_len) {
		int ok;
		long n = np_scan(tm->proto, tm->expect, c->in + off, c->in_len - off, &ok, err,
		                 sizeof(err));

		if (n == 0)
			break;
		if (n < 0 || c->outstanding == 0) {
			fail(t, n < 0 ? err : "reply without a request", 1);
			return;
		}
		off += (size_t)n;
		count_reply(t, c, at, ok, err);
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void on_readable(nl_thread *t, nl_conn *c)
{
	ssize_t n;
	char msg[160];

	if (c->in_len == NL_IN_CAP) {
		fail(t, "reply larger than the input buffer", 1);
		return;
	}
	n = read(c->fd, c->in + c->in_len, NL_IN_CAP - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		snprintf(msg, sizeof(msg), "connection lost: %s (%d of a batch of %d outstanding)",
		         n == 0 ? "closed by the server" : strerror(errno), c->outstanding,
		         t->w->pipeline);
		fail(t, msg, 1);
		return;
	}
	c->in_len += (size_t)n;
	t->st.reads++;
	parse_in(t, c, now_ns());
}

/* ---- the loop --------------------------------------------------------------- */

/* The oldest outstanding batch's age check: a server that stops answering. */
static void check_hang(nl_thread *t, uint64_t now)
{
	uint64_t limit = (uint64_t)(t->w->timeout_s * 1e9);
	char msg[160];

	for (int i = 0; i < t->nconns; i++) {
		nl_conn *c = &t->conns[i];

		if (c->outstanding && now - c->sent_at > limit) {
			snprintf(
			    msg, sizeof(msg),
			    "no reply for %.0f s (%d of a batch of %d outstanding): server hangs",
			    t->w->timeout_s, c->outstanding, t->w->pipeline);
			fail(t, msg, 1);
			return;
		}
	}
}

static void *thread_main(void *arg)
{
	nl_thread *t = arg;
	struct epoll_event evs[64];
	uint64_t last_check = now_ns();

	for (int i = 0; i < t->nconns; i++)
		send_batch(t, &t->conns[i]);
	while (!t->failed && t->busy > 0) {
		uint64_t now = now_ns();
		int n;

		if (now >= t->t_end)
			t->stopping = 1;
		if (now - last_check > 200000000ull) {
			check_hang(t, now);
			last_check = now;
		}
		n = epoll_wait(t->epfd, evs, 64, 100);
		for (int i = 0; i < n && !t->failed; i++) {
			nl_conn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT && flush_out(t, c) == 0 &&
			    c->out_off == c->out_len)
				want_out(t, c, 0);
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(t, c);
		}
	}
	return NULL;
}

/* ---- setup ------------------------------------------------------------------ */

static int connect_one(int port, char *err, size_t errn)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errn, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void conn_free(nl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->out);
	free(c->in);
}

static int conn_init(const net_work *w, nl_conn *c, int idx, char *err, size_t errn)
{
	memset(c, 0, sizeof(*c));
	c->fd = connect_one(w->port, err, errn);
	c->out = malloc((size_t)w->pipeline * w->tmpl->len);
	c->in = malloc(NL_IN_CAP);
	if (c->fd < 0 || !c->out || !c->in) {
		if (c->fd >= 0)
			snprintf(err, errn, "out of memory");
		conn_free(c);
		return -1;
	}
	if (w->keys == NK_SEQ) {
		c->seq_next = w->nkeys * (size_t)idx / (size_t)w->conns;
		c->seq_end = w->nkeys * (size_t)(idx + 1) / (size_t)w->conns;
	}
	return 0;
}

static int threads_init(const net_work *w, nl_thread *th, int nth, nl_conn *conns)
{
	for (int i = 0, first = 0; i < nth; i++) {
		int share = w->conns / nth + (i < w->conns % nth);

		th[i].w = w;
		th[i].conns = conns + first;
		th[i].nconns = share;
		th[i].rng = w->seed * 0x100000001b3ull + (uint64_t)i;
		th[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (th[i].epfd < 0)
			return -1;
		for (int k = 0; k < share; k++) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[first + k]};

			if (epoll_ctl(th[i].epfd, EPOLL_CTL_ADD, conns[first + k].fd, &ev) < 0)
				return -1;
		}
		first += share;
	}
	return 0;
}

/* ---- CPU accounting --------------------------------------------------------- */

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_until(uint64_t t)
{
	uint64_t now = now_ns();

	if (t > now) {
		struct timespec ts = {(time_t)((t - now) / 1000000000ull),
		                      (long)((t - now) % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
}

/* Busy CPU seconds of the whole machine (all cores), from /proc/stat's
 * first line: user nice system idle iowait irq softirq steal. */
static double machine_busy_s(void)
{
	char line[512], *p = line + 3, *end;
	unsigned long long v[8], busy;
	FILE *f = fopen("/proc/stat", "r");
	int ok = f && fgets(line, sizeof(line), f) && strncmp(line, "cpu ", 4) == 0;

	if (f)
		fclose(f);
	for (int i = 0; ok && i < 8; i++, p = end) {
		v[i] = strtoull(p, &end, 10);
		ok = end != p;
	}
	if (!ok)
		return -1;
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

typedef struct cpu_mark {
	double gen, srv, peer, machine;
} cpu_mark;

static void cpu_sample(cpu_mark *m, pid_t srv, pid_t peer)
{
	m->machine = machine_busy_s();
	m->gen = self_cpu_s();
	m->srv = srv > 0 ? ns_cpu_s(srv) : -1;
	m->peer = peer > 0 ? ns_cpu_s(peer) : -1;
}

static double cpu_delta(double a, double b)
{
	return a >= 0 && b >= 0 ? b - a : -1;
}

/* ---- entry ------------------------------------------------------------------ */

static void merge(net_stats *st, const nl_thread *t)
{
	st->replies += t->st.replies;
	st->total += t->st.total;
	st->errors += t->st.errors;
	st->reads += t->st.reads;
	nh_merge(&st->hist, &t->st.hist);
	if (!st->first_error[0] && t->st.first_error[0])
		memcpy(st->first_error, t->st.first_error, sizeof(st->first_error));
}

/* Starts the threads with the window placed after the warm-up, samples CPU
 * time at both ends of the window, joins them. */
static void run_threads(const net_work *w, nl_thread *th, int nth, pid_t srv, pid_t peer,
                        net_stats *st)
{
	uint64_t t0 = now_ns(), t_start, t_end;
	cpu_mark a = {0}, b = {0};
	int started = 0;

	t_start = w->keys == NK_SEQ ? t0 : t0 + (uint64_t)(w->warmup_s * 1e9);
	t_end = w->keys == NK_SEQ ? UINT64_MAX : t_start + (uint64_t)(w->seconds * 1e9);
	for (int i = 0; i < nth; i++) {
		th[i].t_start = t_start;
		th[i].t_end = t_end;
	}
	cpu_sample(&a, srv, peer);
	for (; started < nth; started++)
		if (pthread_create(&th[started].tid, NULL, thread_main, &th[started]) != 0)
			break;
	if (w->keys != NK_SEQ) {
		sleep_until(t_start);
		cpu_sample(&a, srv, peer);
		sleep_until(t_end);
		cpu_sample(&b, srv, peer);
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	if (w->keys == NK_SEQ)
		cpu_sample(&b, srv, peer);
	st->seconds = w->keys == NK_SEQ ? (double)(now_ns() - t0) / 1e9 : w->seconds;
	st->gen_cpu_s = cpu_delta(a.gen, b.gen);
	st->srv_cpu_s = cpu_delta(a.srv, b.srv);
	st->peer_cpu_s = cpu_delta(a.peer, b.peer);
	st->machine_cpu_s = cpu_delta(a.machine, b.machine);
	for (int i = 0; i < started; i++)
		merge(st, &th[i]);
	if (started < nth)
		snprintf(st->first_error, sizeof(st->first_error), "pthread_create failed");
}

int nl_run(const net_work *w, pid_t srv, pid_t peer, net_stats *st)
{
	int nth = w->conns < NL_MAX_THREADS ? w->conns : NL_MAX_THREADS, made = 0, rc = -1;
	nl_conn *conns = calloc((size_t)w->conns, sizeof(*conns));
	nl_thread *th = calloc((size_t)nth, sizeof(*th));

	memset(st, 0, sizeof(*st));
	if (!conns || !th) {
		snprintf(st->first_error, sizeof(st->first_error), "out of memory");
		goto out;
	}
	for (; made < w->conns; made++)
		if (conn_init(w, &conns[made], made, st->first_error, sizeof(st->first_error)))
			goto out;
	if (threads_init(w, th, nth, conns) < 0) {
		snprintf(st->first_error, sizeof(st->first_error), "epoll: %s", strerror(errno));
		goto out;
	}
	run_threads(w, th, nth, srv, peer, st);
	rc = 0;
out:
	for (int i = 0; conns && i < made; i++)
		conn_free(&conns[i]);
	for (int i = 0; th && i < nth; i++)
		if (th[i].epfd > 0)
			close(th[i].epfd);
	free(conns);
	free(th);
	return rc;
}
