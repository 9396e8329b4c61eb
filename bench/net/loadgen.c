/* loadgen.c - sutra-bench-net: sutra-server against redis-server over loopback, as ratios.
 *
 * The program starts both servers itself (fresh directories, free loopback
 * ports), runs the same workloads against each with one load generator
 * (net_load.c) and prints Sutra's throughput as a ratio of Redis's, measured
 * seconds apart in the same run. Three phases, each with its own pair of
 * freshly started servers configured for equal durability:
 *
 *   query           Redis appendonly no vs Sutra durability none (reads do
 *                   not touch the log); both preloaded with the same keys and
 *                   64-byte values; QueryConcept vs GET of random keys at
 *                   1 and 50 connections, pipeline 1 and 16 (four cells)
 *   learn_always    appendfsync always vs durability always: SET vs
 *                   LearnConcept (100 bytes, no embedding), 50 connections,
 *                   pipeline 1
 *   learn_interval  appendfsync everysec vs durability interval:1000, 50
 *                   connections, pipeline 16
 *
 * A cell is a few rounds; each round runs Redis, then Sutra, with the same
 * key sequence, each run a warm-up and then a fixed window, so that a change
 * in the machine's load hits both alike; a figure sums its rounds and the
 * Sutra line also shows the spread of the per-round ratios. Before each run
 * the machine settles (sync for writes, both servers idle). Any bad reply,
 * lost connection, hang or crash makes the cell invalid (an ERROR line and
 * exit status 1); a missed target is reported as MISSED but is not a
 * failure. The servers and the generator share the machine's cores: the CPU
 * each used during the windows is printed next to every figure.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "net.h"

#ifndef SUTRA_BENCH_SCRATCH
#define SUTRA_BENCH_SCRATCH "/tmp"
#endif
#ifndef SUTRA_BENCH_RESULTS
#define SUTRA_BENCH_RESULTS "net.jsonl"
#endif
#ifndef SUTRA_BENCH_SERVER
#define SUTRA_BENCH_SERVER "sutra-server"
#endif

#define DIMENSION     8
#define VALUE_LEN     64  /* query phase: preloaded values and contents */
#define LEARN_LEN     100 /* learn phases: written values and contents */
#define PRELOAD_CONNS 8
#define PRELOAD_DEPTH 64
#define KEY_SEED      0x5e7a5e7aull

enum phase { PH_QUERY, PH_ALWAYS, PH_INTERVAL, PH_COUNT };

typedef struct phase_def {
	const char *name;
	const char *const *redis_args;
	const char *const *sutra_args;
	int preload;
} phase_def;

static const char *const redis_query[] = {"--appendonly", "no", NULL};
static const char *const redis_always[] = {"--appendonly", "yes", "--appendfsync", "always", NULL};
static const char *const redis_interval[] = {"--appendonly", "yes", "--appendfsync", "everysec",
                                             NULL};
static const char *const sutra_query[] = {"--dimension", "8", "--durability", "none", NULL};
static const char *const sutra_always[] = {"--dimension", "8", "--durability", "always", NULL};
static const char *const sutra_interval[] = {"--dimension", "8", "--durability", "interval:1000",
                                             NULL};

static const phase_def phases[PH_COUNT] = {
    {"query", redis_query, sutra_query, 1},
    {"learn_always", redis_always, sutra_always, 0},
    {"learn_interval", redis_interval, sutra_interval, 0},
};

typedef struct cell_def {
	const char *variant;
	enum phase phase;
	int conns, pipeline;
	double target; /* Sutra / Redis requests per second */
	const char *target_text;
} cell_def;

static const cell_def cells[] = {
    {"query_c1_p1", PH_QUERY, 1, 1, 1.0, ">= 1.0x redis"},
    {"query_c1_p16", PH_QUERY, 1, 16, 1.0, ">= 1.0x redis"},
    {"query_c50_p1", PH_QUERY, 50, 1, 1.0, ">= 1.0x redis"},
    {"query_c50_p16", PH_QUERY, 50, 16, 1.0, ">= 1.0x redis"},
    {"learn_always_c50_p1", PH_ALWAYS, 50, 1, 2.0, ">= 2.0x redis"},
    {"learn_interval_c50_p16", PH_INTERVAL, 50, 16, 1.5, ">= 1.5x redis"},
};
#define NCELLS (sizeof(cells) / sizeof(cells[0]))

typedef struct opts {
	int quick;
	size_t keys;
	double seconds, warmup, timeout;
	int rounds;
	unsigned only; /* bit per phase */
	const char *dir, *results, *server;
	char redis[1024];
} opts;

/* One engine's figure in one cell, kept for the summary. */
typedef struct figure {
	int valid;
	double ops_per_s, p50_us, p99_us;
} figure;

/* The spread of the per-round ratios (Sutra lines of multi-round cells). */
typedef struct spread {
	double lo, hi;
	int n;
} spread;

typedef struct run_state {
	const opts *o;
	char *scratch;
	char *keytab;
	int failures;
	figure fig[NCELLS][2]; /* [cell][0 redis, 1 sutra] */
	double ratio[NCELLS];
	spread spr[NCELLS];
} run_state;

/* ---- signals ------------------------------------------------------------------ */

static void on_fatal(int sig)
{
	static const char msg[] =
	    "sutra-bench-net: interrupted or watchdog expired; servers killed\n";

	for (int i = 0; i < NS_MAX_RUNNING; i++)
		if (ns_running[i] > 0)
			kill(ns_running[i], SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(sig == SIGALRM ? 3 : 130);
}

static void install_signals(int quick)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
	signal(SIGALRM, on_fatal);
	alarm(quick ? 900 : 5400);
	atexit(ns_kill_all);
}

/* ---- options ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sutra-bench-net [options]\n"
	        "\n"
	        "Starts redis-server and sutra-server on free loopback ports and measures\n"
	        "requests/s and per-request latency of the same workloads against both,\n"
	        "Redis first, and prints Sutra/Redis ratios:\n"
	        "  query           QueryConcept vs GET (64-byte values), c=1/50, P=1/16\n"
	        "  learn_always    LearnConcept vs SET, durability always vs appendfsync\n"
	        "                  always, c=50, P=1\n"
	        "  learn_interval  the same with interval:1000 vs everysec, c=50, P=16\n"
	        "\n"
	        "options:\n"
	        "  --full            full sizes (1M keys, 10 s per run); also FULL=1\n"
	        "  --quick           quick sizes (default; 100k keys, 3 s per run)\n"
	        "  --only LIST       comma-separated phases (default: all)\n"
	        "  --seconds S       measured time per server and cell (default 3 quick,\n"
	        "                    10 full), split over the rounds\n"
	        "  --rounds N        rounds per cell, alternating Redis and Sutra (default\n"
	        "                    3 quick, 5 full)\n"
	        "  --warmup S        warm-up before each round (default 0.5 quick, 1 full)\n"
	        "  --keys N          preloaded keys in the query phase\n"
	        "  --server PATH     sutra-server (default %s)\n"
	        "  --redis PATH      redis-server (default: from PATH)\n"
	        "  --dir DIR         where the servers' data directories go (default %s)\n"
	        "  --results FILE    JSON lines appended here (default %s; '-' for none)\n"
	        "  --self-test       check the encoders and reply scanners, then exit\n"
	        "  --help            this text\n",
	        SUTRA_BENCH_SERVER, SUTRA_BENCH_SCRATCH, SUTRA_BENCH_RESULTS);
}

/* Finds name on PATH (execv needs a path). */
static void which(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL;

	snprintf(out, n, "/usr/bin/%s", name);
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char cand[4200];

		snprintf(cand, sizeof(cand), "%s/%s", d, name);
		if (access(cand, X_OK) == 0 && strlen(cand) < n) {
			memcpy(out, cand, strlen(cand) + 1);
			return;
		}
	}
}

static int parse_only(const char *list, unsigned *mask)
{
	char buf[256], *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = 0;

		while (i < PH_COUNT && strcmp(t, phases[i].name) != 0)
			i++;
		if (i == PH_COUNT) {
			fprintf(stderr, "sutra-bench-net: unknown phase '%s'\n", t);
			return -1;
		}
		*mask |= 1u << i;
	}
	return 0;
}

static void defaults(opts *o)
{
	const char *full = getenv("FULL");

	memset(o, 0, sizeof(*o));
	o->quick = !(full && *full && strcmp(full, "0") != 0);
	o->only = (1u << PH_COUNT) - 1;
	o->dir = SUTRA_BENCH_SCRATCH;
	o->results = SUTRA_BENCH_RESULTS;
	o->server = SUTRA_BENCH_SERVER;
	o->timeout = 10;
	which("redis-server", o->redis, sizeof(o->redis));
}

static void sizes(opts *o)
{
	if (!o->keys)
		o->keys = o->quick ? 100000 : 1000000;
	if (o->seconds <= 0)
		o->seconds = o->quick ? 3.0 : 10.0;
	if (o->warmup <= 0)
		o->warmup = o->quick ? 0.5 : 1.0;
	if (o->rounds <= 0)
		o->rounds = o->quick ? 3 : 5;
}

/* --seconds, --warmup (positive seconds), --keys and --rounds (positive
 * counts). */
static int parse_number(int ch, const char *arg, opts *o)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v > 0) ||
	    ((ch == 'k' || ch == 'n') && v != (double)(size_t)v)) {
		fprintf(stderr, "sutra-bench-net: bad number '%s'\n", arg);
		return -1;
	}
	if (ch == 's')
		o->seconds = v;
	else if (ch == 'w')
		o->warmup = v;
	else if (ch == 'n')
		o->rounds = v < 1000 ? (int)v : 1000;
	else
		o->keys = (size_t)v;
	return 0;
}

/* Returns 1 to run, 0 to exit 0 (help, self-test passed), -1 on bad usage
 * or a failed self-test. */
static int parse_args(int argc, char **argv, opts *o)
{
	static const struct option lopts[] = {{"full", no_argument, NULL, 'F'},
	                                      {"quick", no_argument, NULL, 'Q'},
	                                      {"only", required_argument, NULL, 'o'},
	                                      {"seconds", required_argument, NULL, 's'},
	                                      {"warmup", required_argument, NULL, 'w'},
	                                      {"keys", required_argument, NULL, 'k'},
	                                      {"server", required_argument, NULL, 'S'},
	                                      {"redis", required_argument, NULL, 'R'},
	                                      {"dir", required_argument, NULL, 'd'},
	                                      {"results", required_argument, NULL, 'r'},
	                                      {"self-test", no_argument, NULL, 'T'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	int ch;

	defaults(o);
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
		case 'Q':
			o->quick = ch == 'Q';
			break;
		case 'o':
			if (parse_only(optarg, &o->only) < 0)
				return -1;
			break;
		case 's':
		case 'w':
		case 'k':
		case 'n':
			if (parse_number(ch, optarg, o) < 0)
				return -1;
			break;
		case 'S':
			o->server = optarg;
			break;
		case 'R':
			snprintf(o->redis, sizeof(o->redis), "%s", optarg);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'r':
			o->results = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'T': {
			int failed = np_self_test();

			printf("self-test: %s\n", failed ? "FAILED" : "all checks passed");
			return failed ? -1 : 0;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	sizes(o);
	return 1;
}

/* ---- inputs ------------------------------------------------------------------- */

static char *make_keys(size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *tab = malloc(n * NET_KEY_LEN);
	uint64_t st = KEY_SEED;

	for (size_t i = 0; tab && i < n; i++) {
		uint64_t a = bu_rand(&st), b = bu_rand(&st);

		for (int k = 0; k < 16; k++, a >>= 4, b >>= 4) {
			tab[i * NET_KEY_LEN + k] = hex[a & 15];
			tab[i * NET_KEY_LEN + 16 + k] = hex[b & 15];
		}
	}
	return tab;
}

static int affinity_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
}

static void print_inputs(const opts *o)
{
	char rv[256], sv[256];
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	ns_version(o->redis, rv, sizeof(rv));
	ns_version(o->server, sv, sizeof(sv));
	printf("mode: %s\n", o->quick ? "quick (--full or FULL=1 for full sizes)" : "FULL");
	printf("servers: %s (%s)\n         %s (%s)\n", rv, o->redis, sv, o->server);
	printf("cores: %ld online, %d usable by this process; both servers and this load "
	       "generator share them (nothing pinned)\n",
	       online, affinity_cpus());
	printf("  redis: --io-threads 1 (one event-loop thread; fsync in a background thread), "
	       "--save '', otherwise default settings\n");
	printf("  sutra: --workers default (online CPUs = %ld), --dimension %d\n", online,
	       DIMENSION);
	printf("  generator: C, at most 2 threads, one epoll loop each, P requests per "
	       "connection in flight\n");
	printf("inputs: keys are 16 random bytes as 32 hex characters (fixed seed), the same "
	       "sequence for both servers\n");
	printf("  query: %zu keys preloaded (%d connections x pipeline %d), %d-byte values / "
	       "contents, uniformly random keys\n",
	       o->keys, PRELOAD_CONNS, PRELOAD_DEPTH, VALUE_LEN);
	printf("  learn: a new random key per request, %d-byte value / content (key in its first "
	       "32 bytes), no embedding\n",
	       LEARN_LEN);
	printf("timing: per cell %d rounds alternating Redis then Sutra, each a %.1f s warm-up "
	       "and %.2f s measured (%.1f s per server and cell)\n",
	       o->rounds, o->warmup, o->seconds / o->rounds, o->seconds);
	printf("latency: per request, from the write of its batch to the read that completed "
	       "its reply\n");
	printf("results: %s\n\n", o->results ? o->results : "(none)");
	fflush(stdout);
}

/* ---- one run -------------------------------------------------------------------- */

static void emit_error(const char *variant, const char *engine, const char *msg)
{
	bench_result r;

	bu_result_init(&r, "net", variant, engine);
	r.error = msg;
	bu_result_emit(&r);
}

static double cores(double cpu_s, double secs)
{
	return cpu_s >= 0 && secs > 0 ? cpu_s / secs : -1;
}

/* Cores busy with anything but the two servers and this generator. */
static double other_cores(const net_stats *st)
{
	double other = st->machine_cpu_s - st->gen_cpu_s - st->srv_cpu_s -
	               (st->peer_cpu_s > 0 ? st->peer_cpu_s : 0);

	if (st->machine_cpu_s < 0 || st->srv_cpu_s < 0 || st->gen_cpu_s < 0)
		return -1;
	return cores(other > 0 ? other : 0, st->seconds);
}

static void fill_result(bench_result *r, const net_work *w, const net_stats *st)
{
	r->ops = st->replies;
	r->seconds = st->seconds;
	r->ops_per_s = st->seconds > 0 ? (double)st->replies / st->seconds : -1;
	bu_result_extra(r, "conns", w->conns);
	bu_result_extra(r, "pipeline", w->pipeline);
	bu_result_extra(r, "p50_us", (double)nh_quantile(&st->hist, 0.50) / 1e3);
	bu_result_extra(r, "p99_us", (double)nh_quantile(&st->hist, 0.99) / 1e3);
	bu_result_extra(r, "srv_cores", cores(st->srv_cpu_s, st->seconds));
	bu_result_extra(r, "gen_cores", cores(st->gen_cpu_s, st->seconds));
	bu_result_extra(r, "peer_cores", cores(st->peer_cpu_s, st->seconds));
	bu_result_extra(r, "other_cores", other_cores(st));
	bu_result_extra(r, "replies_per_read",
	                st->reads ? (double)(st->total + st->errors) / (double)st->reads : -1);
	bu_result_extra(r, "errors", (double)st->errors);
}

/* ---- rounds ------------------------------------------------------------------- */

/* One engine's runs in a cell, summed over its rounds. */
typedef struct tally {
	net_stats st;
	int rounds;
	int failed;
	char msg[1024]; /* why the figure is invalid */
} tally;

static double add_cpu(double a, double b)
{
	return a >= 0 && b >= 0 ? a + b : -1;
}

static void add_stats(tally *t, const net_stats *r)
{
	net_stats *a = &t->st;

	if (t->rounds++ == 0) {
		*a = *r;
		return;
	}
	a->replies += r->replies;
	a->total += r->total;
	a->errors += r->errors;
	a->reads += r->reads;
	a->seconds += r->seconds;
	nh_merge(&a->hist, &r->hist);
	a->gen_cpu_s = add_cpu(a->gen_cpu_s, r->gen_cpu_s);
	a->srv_cpu_s = add_cpu(a->srv_cpu_s, r->srv_cpu_s);
	a->peer_cpu_s = add_cpu(a->peer_cpu_s, r->peer_cpu_s);
	a->machine_cpu_s = add_cpu(a->machine_cpu_s, r->machine_cpu_s);
	if (!a->first_error[0])
		memcpy(a->first_error, r->first_error, sizeof(a->first_error));
}

/* Marks the tally invalid when this round made it so (a dead server, any
 * error); later rounds of this engine are then skipped. */
static void judge(tally *t, net_server *s)
{
	const net_stats *st = &t->st;

	if (!ns_alive(s))
		snprintf(t->msg, sizeof(t->msg),
		         "server %s during the run (%llu errors; first: %s)", s->status,
		         (unsigned long long)st->errors, st->first_error);
	else if (st->errors)
		snprintf(t->msg, sizeof(t->msg),
		         "%llu bad replies or failures, run invalid; first: %s",
		         (unsigned long long)st->errors, st->first_error);
	else if (!st->replies)
		snprintf(t->msg, sizeof(t->msg), "no replies inside the window");
	else
		return;
	t->failed = 1;
}

/* One run of w against s added to t; returns its requests/s or -1. */
static double run_round(net_server *s, net_server *peer, const net_work *w, tally *t)
{
	net_stats *st;
	double rate = -1;

	if (t->failed)
		return -1;
	st = calloc(1, sizeof(*st));
	if (!st || !ns_alive(s)) {
		snprintf(t->msg, sizeof(t->msg), "%s server not running: %s", s->name,
		         st ? s->status : "out of memory");
		t->failed = 1;
	} else if (nl_run(w, s->pid, peer->pid, st) < 0) {
		snprintf(t->msg, sizeof(t->msg), "%s", st->first_error);
		t->failed = 1;
	} else {
		rate = st->seconds > 0 ? (double)st->replies / st->seconds : -1;
		add_stats(t, st);
		judge(t, s);
	}
	free(st);
	return t->failed ? -1 : rate;
}

/* ---- reporting a figure ----------------------------------------------------------- */

static void set_ratio(bench_result *r, const cell_def *c, const figure *f, const figure *cmp,
                      const spread *sp)
{
	if (!c || !cmp || !f->valid || !cmp->valid)
		return;
	r->ratio_vs = "redis";
	r->ratio = f->ops_per_s / cmp->ops_per_s;
	r->target = c->target_text;
	r->met = r->ratio >= c->target;
	if (sp && sp->n > 1) {
		bu_result_extra(r, "ratio_min", sp->lo);
		bu_result_extra(r, "ratio_max", sp->hi);
	}
}

/* Prints one engine's figure of a cell and returns it (valid = 0 when the
 * tally failed). cmp: Redis's figure on the Sutra line, else NULL. */
static figure report(run_state *rs, const char *variant, net_server *s, const net_work *w,
                     const tally *t, const cell_def *c, const figure *cmp, const spread *sp)
{
	figure f = {0};
	bench_result r;

	bu_result_init(&r, "net", variant, s->name);
	if (t->rounds)
		fill_result(&r, w, &t->st);
	r.error = t->failed ? t->msg : NULL;
	f.valid = !t->failed;
	f.ops_per_s = r.ops_per_s;
	f.p50_us = (double)nh_quantile(&t->st.hist, 0.50) / 1e3;
	f.p99_us = (double)nh_quantile(&t->st.hist, 0.99) / 1e3;
	set_ratio(&r, c, &f, cmp, sp);
	bu_result_emit(&r);
	if (r.error) {
		rs->failures++;
		if (s->status[0] || strstr(r.error, "hangs"))
			ns_print_log_tail(s, 15);
	}
	return f;
}

/* ---- phases ------------------------------------------------------------------- */

typedef struct phase_tmpls {
	net_tmpl t[2]; /* [0 redis, 1 sutra] */
} phase_tmpls;

static int make_tmpls(phase_tmpls *pt, int reads, size_t len)
{
	memset(pt, 0, sizeof(*pt));
	if (reads)
		return np_redis_get(&pt->t[0]) | np_sutra_query(&pt->t[1]);
	return np_redis_set(&pt->t[0], len) | np_sutra_learn(&pt->t[1], len);
}

static void free_tmpls(phase_tmpls *pt)
{
	np_free(&pt->t[0]);
	np_free(&pt->t[1]);
}

static void preload(run_state *rs, net_server *srv[2])
{
	net_work w = {.keys = NK_SEQ,
	              .keytab = rs->keytab,
	              .nkeys = rs->o->keys,
	              .conns = PRELOAD_CONNS,
	              .pipeline = PRELOAD_DEPTH,
	              .timeout_s = 30};
	tally *t = calloc(2, sizeof(*t));
	phase_tmpls pt;
	char variant[64];

	snprintf(variant, sizeof(variant), "preload_%zu", rs->o->keys);
	if (!t || make_tmpls(&pt, 0, VALUE_LEN)) {
		emit_error(variant, "all", "out of memory");
		rs->failures++;
		free(t);
		return;
	}
	for (int e = 0; e < 2; e++) {
		w.tmpl = &pt.t[e];
		w.port = srv[e]->port;
		run_round(srv[e], srv[!e], &w, &t[e]);
		report(rs, variant, srv[e], &w, &t[e], NULL, NULL, NULL);
	}
	free_tmpls(&pt);
	free(t);
}

/* Rounds alternate Redis and Sutra with the same key sequence, so a change
 * in the machine's load during the cell hits both alike. */
static void run_rounds(run_state *rs, size_t ci, net_server *srv[2], net_work *w,
                       const phase_tmpls *pt, tally *t, spread *sp)
{
	const cell_def *c = &cells[ci];

	for (int round = 0; round < rs->o->rounds; round++) {
		double rate[2];

		w->seed = 1000 + ci * 64 + (size_t)round;
		for (int e = 0; e < 2; e++) {
			w->tmpl = &pt->t[e];
			w->port = srv[e]->port;
			if (c->phase != PH_QUERY)
				bu_settle();
			ns_wait_idle(srv[0]->pid, srv[1]->pid, 10);
			rate[e] = run_round(srv[e], srv[!e], w, &t[e]);
		}
		if (rate[0] > 0 && rate[1] > 0) {
			double q = rate[1] / rate[0];

			sp->lo = sp->n && sp->lo < q ? sp->lo : q;
			sp->hi = sp->n && sp->hi > q ? sp->hi : q;
			sp->n++;
		}
	}
}

static void run_cell(run_state *rs, size_t ci, net_server *srv[2])
{
	const cell_def *c = &cells[ci];
	net_work w = {.keys = c->phase == PH_QUERY ? NK_RANDOM : NK_FRESH,
	              .keytab = rs->keytab,
	              .nkeys = rs->o->keys,
	              .conns = c->conns,
	              .pipeline = c->pipeline,
	              .warmup_s = rs->o->warmup,
	              .seconds = rs->o->seconds / rs->o->rounds,
	              .timeout_s = rs->o->timeout};
	tally *t = calloc(2, sizeof(*t));
	spread *sp = &rs->spr[ci];
	phase_tmpls pt;

	if (!t || make_tmpls(&pt, c->phase == PH_QUERY, LEARN_LEN)) {
		emit_error(c->variant, "all", "out of memory");
		rs->failures++;
		free(t);
		return;
	}
	run_rounds(rs, ci, srv, &w, &pt, t, sp);
	rs->fig[ci][0] = report(rs, c->variant, srv[0], &w, &t[0], c, NULL, NULL);
	rs->fig[ci][1] = report(rs, c->variant, srv[1], &w, &t[1], c, &rs->fig[ci][0], sp);
	if (rs->fig[ci][0].valid && rs->fig[ci][1].valid)
		rs->ratio[ci] = rs->fig[ci][1].ops_per_s / rs->fig[ci][0].ops_per_s;
	free_tmpls(&pt);
	free(t);
}

static void start_servers(run_state *rs, const phase_def *p, net_server *redis, net_server *sutra)
{
	char msg[2048];

	if (ns_start_redis(redis, rs->o->redis, rs->scratch, p->redis_args, 30) < 0) {
		snprintf(msg, sizeof(msg),
		         "redis-server (%s) did not start: %s (install: apt-get install -y "
		         "redis-server redis-tools, or scripts/setup-deps.sh bench)",
		         rs->o->redis, redis->status);
		ns_print_log_tail(redis, 10);
		emit_error(p->name, "redis", msg);
		rs->failures++;
	}
	if (ns_start_sutra(sutra, rs->o->server, rs->scratch, p->sutra_args, 60) < 0) {
		snprintf(msg, sizeof(msg), "sutra-server (%s) did not start: %s", rs->o->server,
		         sutra->status);
		ns_print_log_tail(sutra, 10);
		emit_error(p->name, "sutra", msg);
		rs->failures++;
	}
}

static void stop_server(run_state *rs, const phase_def *p, net_server *s)
{
	char msg[400];

	if (s->pid <= 0) { /* never started, or its death was reported by the run */
		ns_stop(s, 0);
		return;
	}
	if (!ns_alive(s))
		snprintf(msg, sizeof(msg), "%s-server exited on its own before shutdown: %s",
		         s->name, s->status);
	else if (ns_stop(s, 30) == 0)
		return;
	else
		snprintf(msg, sizeof(msg), "%s-server shutdown on SIGTERM: %s", s->name, s->status);
	ns_stop(s, 0);
	emit_error(p->name, s->name, msg);
	ns_print_log_tail(s, 10);
	rs->failures++;
}

static void run_phase(run_state *rs, enum phase ph)
{
	const phase_def *p = &phases[ph];
	net_server redis, sutra;
	net_server *srv[2] = {&redis, &sutra};

	printf("--- %s: redis %s %s %s %s | sutra %s %s %s %s\n", p->name, p->redis_args[0],
	       p->redis_args[1], p->redis_args[2] ? p->redis_args[2] : "",
	       p->redis_args[2] ? p->redis_args[3] : "", p->sutra_args[0], p->sutra_args[1],
	       p->sutra_args[2], p->sutra_args[3]);
	start_servers(rs, p, &redis, &sutra);
	if (p->preload)
		preload(rs, srv);
	for (size_t i = 0; i < NCELLS; i++)
		if (cells[i].phase == ph)
			run_cell(rs, i, srv);
	/* A server that died before its run was stopped by nobody: say so. */
	stop_server(rs, p, &redis);
	stop_server(rs, p, &sutra);
	printf("\n");
}

/* ---- summary ------------------------------------------------------------------ */

static void summary_line(const run_state *rs, size_t i)
{
	const figure *r = &rs->fig[i][0], *s = &rs->fig[i][1];
	const spread *sp = &rs->spr[i];
	char lr[32], ls[32], range[32] = "";

	snprintf(lr, sizeof(lr), "%.0f/%.0f", r->p50_us, r->p99_us);
	snprintf(ls, sizeof(ls), "%.0f/%.0f", s->p50_us, s->p99_us);
	if (sp->n > 1)
		snprintf(range, sizeof(range), "%.2f-%.2f", sp->lo, sp->hi);
	printf("  %-24s %9.0f %12s %9.0f %12s %6.2fx %11s  %s: %s\n", cells[i].variant,
	       r->ops_per_s, lr, s->ops_per_s, ls, rs->ratio[i], range, cells[i].target_text,
	       rs->ratio[i] >= cells[i].target ? "met" : "MISSED");
}

static void print_summary(const run_state *rs)
{
	int met = 0, valid = 0, ran = 0;

	printf("summary (requests/s; latency p50/p99 in microseconds; ratio = sutra/redis over "
	       "all rounds, rounds = the per-round range):\n");
	printf("  %-24s %9s %12s %9s %12s %7s %11s  %s\n", "cell", "redis", "p50/p99", "sutra",
	       "p50/p99", "ratio", "rounds", "target");
	for (size_t i = 0; i < NCELLS; i++) {
		if (!(rs->o->only & (1u << cells[i].phase)))
			continue;
		ran++;
		if (!rs->fig[i][0].valid || !rs->fig[i][1].valid) {
			printf(
			    "  %-24s %9s %12s %9s %12s %7s %11s  %s: INVALID (see ERROR above)\n",
			    cells[i].variant, rs->fig[i][0].valid ? "" : "ERROR", "",
			    rs->fig[i][1].valid ? "" : "ERROR", "", "", "", cells[i].target_text);
			continue;
		}
		valid++;
		met += rs->ratio[i] >= cells[i].target;
		summary_line(rs, i);
	}
	printf("targets met: %d of %d cells (%d valid)\n", met, ran, valid);
	printf("context: %ld cores shared by both servers and the load generator (see srv_cores, "
	       "gen_cores, and other_cores for everything else on the machine)\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---- main --------------------------------------------------------------------- */

static int setup(run_state *rs, const opts *o)
{
	struct stat st;

	memset(rs, 0, sizeof(*rs));
	rs->o = o;
	if (stat(o->dir, &st) != 0 && mkdir(o->dir, 0755) != 0) {
		fprintf(stderr, "sutra-bench-net: cannot create %s: %s\n", o->dir, strerror(errno));
		return -1;
	}
	rs->scratch = bu_mkdtemp(o->dir, "net");
	rs->keytab = make_keys(o->keys);
	if (!rs->scratch || !rs->keytab || bu_results_open(o->results, o->quick)) {
		fprintf(stderr, "sutra-bench-net: %s\n",
		        rs->keytab ? bu_lasterr() : "out of memory");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	run_state rs;
	opts o;
	int rc = parse_args(argc, argv, &o);

	if (rc <= 0)
		return rc < 0 ? 2 : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(&rs, &o) < 0)
		return 2;
	install_signals(o.quick);
	bu_print_machine(rs.scratch);
	print_inputs(&o);
	for (int ph = 0; ph < PH_COUNT; ph++)
		if (o.only & (1u << ph))
			run_phase(&rs, (enum phase)ph);
	print_summary(&rs);
	bu_rmrf(rs.scratch);
	free(rs.scratch);
	free(rs.keytab);
	bu_results_close();
	if (rs.failures)
		printf("\n%d measurement(s) failed; see the ERROR lines above\n", rs.failures);
	return rs.failures ? 1 : 0;
}
