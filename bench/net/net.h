/* net.h - sutra-bench-net: the load generator's shared types (protocols, workloads, servers).
 *
 * The network benchmark is one load generator that speaks two protocols:
 * Sutra's (4-byte big-endian length + MessagePack map by field name, see
 * SEED-PROTOCOL.md) and Redis's RESP. A request is never encoded in the hot
 * loop: each workload has one pre-encoded template frame (net_proto.c) into
 * which the 32-character hex key is copied at a known offset (and, for
 * writes, into the start of the content, so every written value differs).
 * Replies are cut by their framing and checked (variant name, found flag,
 * RESP type) without building any object. The engine (net_load.c) runs at
 * most two threads, each an epoll loop over its share of the connections,
 * with P requests in flight per connection (send P, read P, repeat); the
 * latency of a request is the time from the write of its batch to the read
 * that completed its reply, kept in a log-linear histogram (net_hist.c).
 * The servers are child processes started, probed and stopped by
 * net_server.c; loadgen.c holds main and the workloads.
 */
#ifndef SUTRA_BENCH_NET_H
#define SUTRA_BENCH_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- latency histogram (net_hist.c) ---------------------------------------- */

/* 128 exact buckets below 128 ns, then 64 per power of two (about 1.5 %
 * resolution) up to 2^42 ns. */
#define NH_SUB     64
#define NH_BUCKETS (2 * NH_SUB + (42 - 7) * NH_SUB)

typedef struct net_hist {
	uint64_t n;
	uint64_t count[NH_BUCKETS];
} net_hist;

void nh_add(net_hist *h, uint64_t ns);
void nh_merge(net_hist *dst, const net_hist *src);
/* The q-quantile (0..1) in nanoseconds (the bucket's midpoint); 0 if empty. */
uint64_t nh_quantile(const net_hist *h, double q);

/* ---- protocols (net_proto.c) ----------------------------------------------- */

#define NET_KEY_LEN 32 /* a key: 16 random bytes as 32 lowercase hex characters */

enum net_proto { NP_SUTRA, NP_REDIS };

/* What a reply must be for the request to count as served. */
enum net_expect {
	NE_QUERY,  /* Sutra QueryConceptOk with found = true */
	NE_LEARN,  /* Sutra LearnConceptOk */
	NE_HEALTH, /* Sutra HealthCheckOk */
	NE_GET,    /* Redis bulk string (not nil) */
	NE_SET,    /* Redis +OK */
	NE_PONG,   /* Redis +PONG */
};

/* A pre-encoded request: the key goes at id_off, and also at content_off
 * when that is not negative. */
typedef struct net_tmpl {
	char *buf;
	size_t len;
	long id_off;
	long content_off;
	enum net_proto proto;
	enum net_expect expect;
} net_tmpl;

int np_sutra_query(net_tmpl *t);
int np_sutra_learn(net_tmpl *t, size_t content_len);
int np_sutra_health(net_tmpl *t);
int np_redis_get(net_tmpl *t);
int np_redis_set(net_tmpl *t, size_t value_len);
int np_redis_ping(net_tmpl *t);
void np_free(net_tmpl *t);
/* Writes the template with key into out (t->len bytes). */
void np_fill(const net_tmpl *t, const char *key, char *out);

/* Scans one reply at p (n bytes available). Returns its length when complete
 * (*ok = 1 if it is the expected reply, else 0 with the reason in err), 0 if
 * more bytes are needed, -1 if the stream is malformed (reason in err; the
 * connection cannot continue). */
long np_scan(enum net_proto proto, enum net_expect want, const char *p, size_t n, int *ok,
             char *err, size_t errn);

/* Checks the encoders and the reply scanner against the byte examples of
 * SEED-PROTOCOL.md and RESP; prints each failure; returns failures. */
int np_self_test(void);

/* ---- load engine (net_load.c) ---------------------------------------------- */

enum net_keys {
	NK_RANDOM, /* uniformly random keys from the table */
	NK_SEQ,    /* every key of the table once (preload), split over connections */
	NK_FRESH,  /* a new random key per request */
};

typedef struct net_work {
	const net_tmpl *tmpl;
	enum net_keys keys;
	const char *keytab; /* nkeys x NET_KEY_LEN characters */
	size_t nkeys;
	int port;
	int conns;
	int pipeline;
	double warmup_s;  /* NK_RANDOM/NK_FRESH: before the window */
	double seconds;   /* the measured window; ignored for NK_SEQ */
	double timeout_s; /* no reply for this long = the server hangs */
	uint64_t seed;
} net_work;

typedef struct net_stats {
	uint64_t replies; /* good replies that arrived inside the window */
	uint64_t total;   /* all good replies, warm-up and drain included */
	uint64_t errors;  /* error replies, wrong replies, lost connections, hangs */
	uint64_t reads;   /* read(2) calls that returned data (all replies) */
	double seconds;   /* window length actually measured */
	net_hist hist;    /* latencies of the replies counted in replies */
	char first_error[256];
	/* CPU seconds (user + system) during the window */
	double gen_cpu_s;
	double srv_cpu_s;
	double peer_cpu_s;
	double machine_cpu_s; /* every process on the machine, from /proc/stat */
} net_stats;

/* Runs one workload against 127.0.0.1:port. srv/peer are the server under
 * test and the other one (-1: none), sampled for CPU time over the window.
 * Returns 0 when the run completed (st->errors may still be non-zero), -1
 * when it could not start (message in st->first_error). st is owned by the
 * caller (it is large: allocate it). */
int nl_run(const net_work *w, pid_t srv, pid_t peer, net_stats *st);

/* ---- servers (net_server.c) ------------------------------------------------ */

typedef struct net_server {
	const char *name; /* "redis" or "sutra" */
	enum net_proto proto;
	pid_t pid;
	int port;
	char dir[1024];   /* its fresh data directory */
	char log[1100];   /* its stdout+stderr */
	char status[256]; /* how it ended, once it has */
} net_server;

/* Both start the server on a free loopback port in a fresh directory under
 * scratch and wait until it answers PING / HealthCheck (timeout_s). Return
 * -1 with the reason (and the log's tail) in s->status. */
int ns_start_redis(net_server *s, const char *bin, const char *scratch, const char *const *extra,
                   double timeout_s);
int ns_start_sutra(net_server *s, const char *bin, const char *scratch, const char *const *extra,
                   double timeout_s);
/* 1 while the process runs; else 0 with s->status set. */
int ns_alive(net_server *s);
/* SIGTERM, wait up to timeout_s, then SIGKILL. Returns 0 on a clean exit
 * (status 0 after SIGTERM), else -1 with s->status. Removes the directory. */
int ns_stop(net_server *s, double timeout_s);
/* CPU seconds (user + system, all threads) of a process; -1 if unknown. */
double ns_cpu_s(pid_t pid);
/* Waits until both processes use < 2 % of a core for 300 ms (at most
 * max_s); returns the seconds waited. */
double ns_wait_idle(pid_t a, pid_t b, double max_s);
/* Kills every server still running (atexit). A signal handler may read
 * ns_running (0 = free slot) and kill(2) the pids itself. */
#define NS_MAX_RUNNING 8
extern volatile pid_t ns_running[NS_MAX_RUNNING];
void ns_kill_all(void);
/* Prints the last lines of the server's log, indented, to stdout. */
void ns_print_log_tail(const net_server *s, int lines);
/* First line printed by `bin --version`, or "unknown". */
void ns_version(const char *bin, char *out, size_t n);

#endif
