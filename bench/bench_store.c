/* bench_store.c - sutra-bench-store: Sutra's storage engine against LMDB and SQLite.
 *
 * The program prints the machine and the inputs, then runs its sections
 * (learn, get, reopen, memory; see bench_store.h), each in a forked process
 * with a watchdog alarm, so that a crash or a hang in the engine under test
 * becomes one reported error and the remaining sections still run. Every
 * engine works in its own fresh directory under one scratch directory that
 * lives, by default, in the build tree (the same filesystem as the project)
 * and is removed at the end. Every figure is printed as a line of text and
 * appended as one JSON object to the results file (bench/results/store.jsonl
 * by default). Quick mode (default) keeps the whole run around a minute on
 * two cores; --full (or FULL=1) uses the full sizes. The exit status is 1
 * when a measurement failed (a target that is missed is not a failure: it is
 * reported as MISSED).
 */
#include "bench_store.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SUTRA_BENCH_SCRATCH
#define SUTRA_BENCH_SCRATCH "/tmp"
#endif
#ifndef SUTRA_BENCH_RESULTS
#define SUTRA_BENCH_RESULTS "store.jsonl"
#endif

const peer_ops *const bench_engines[ENG_COUNT] = {&peer_sutra, &peer_lmdb, &peer_sqlite};

typedef struct section {
	const char *name;
	int (*run)(const bench_opts *o);
} section;

static const section sections[] = {
    {"learn", bench_learn},
    {"get", bench_get},
    {"reopen", bench_reopen},
    {"memory", bench_memory},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

int bench_error(bench_result *r, const char *msg)
{
	r->error = msg && *msg ? msg : "unknown error";
	bu_result_emit(r);
	return 1;
}

void bench_watchdog(const bench_opts *o)
{
	if (o->watchdog_s)
		alarm(o->watchdog_s);
}

char *bench_engine_dir(const bench_opts *o, const char *tag)
{
	return bu_mkdtemp(o->scratch, tag);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sutra-bench-store [options]\n"
	        "\n"
	        "Measures Sutra's storage engine against LMDB and SQLite on this machine:\n"
	        "  learn   write throughput at equal durability: one thread without sync,\n"
	        "          durable batches of 1,000, 64 durable concurrent writers (plus the\n"
	        "          disk's raw fsync rate)\n"
	        "  get     point reads by id on a hot store, ops/s and p50/p99/p99.9 latency\n"
	        "  reopen  sutra_open time after a checkpoint plus a WAL tail\n"
	        "  memory  resident bytes per concept vs the raw bytes stored\n"
	        "\n"
	        "options:\n"
	        "  --full            full sizes (1M concepts); also FULL=1 in the environment\n"
	        "  --quick           quick sizes (default; 100k concepts, about a minute)\n"
	        "  --only LIST       comma-separated sections to run (default: all)\n"
	        "  --engines LIST    comma-separated engines: sutra,lmdb,sqlite (default: all)\n"
	        "  --threads N       concurrent writers in learn (default 64)\n"
	        "  --filter TEXT     learn, memory: only the variants whose name contains\n"
	        "                    TEXT (e.g. vec384, 64t, none_1t_novec)\n"
	        "  --dir DIR         where scratch stores are made (default %s;\n"
	        "                    keep it on the disk you want to measure)\n"
	        "  --results FILE    JSON lines appended here (default %s;\n"
	        "                    '-' for none)\n"
	        "  --no-fork         run sections in this process (for debuggers, valgrind)\n"
	        "  --help            this text\n"
	        "\n"
	        "Every result is printed and appended as one JSON object per line; see\n"
	        "bench/README.md for the fields.\n",
	        SUTRA_BENCH_SCRATCH, SUTRA_BENCH_RESULTS);
}

static void set_sizes(bench_opts *o)
{
	size_t k = o->quick ? 100000 : 1000000;

	o->learn_n = k;
	o->learn_vec_n = o->quick ? 50000 : k;
	o->batch_n = k;
	o->conc_seconds = o->quick ? 1.0 : 5.0;
	o->fsync_seconds = 1.0;
	o->get_n = k;
	o->get_ops = o->quick ? 1000000 : 5000000;
	o->reopen_concepts = k;
	o->reopen_assocs = 2 * k;
	o->reopen_tail = k / 10;
	o->reopen_target_s = o->quick ? 0.2 : 2.0;
	o->mem_n = k;
	o->watchdog_s = o->quick ? 120 : 1800;
}

/* Bit mask of the names in a comma-separated list; -1 on an unknown name. */
static long parse_list(const char *list, const char *const *names, int n)
{
	char buf[256], *save = NULL;
	long mask = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < n && strcmp(t, names[i]) != 0; i++)
			;
		if (i == n) {
			fprintf(stderr, "sutra-bench-store: unknown name '%s'\n", t);
			return -1;
		}
		mask |= 1l << i;
	}
	return mask;
}

typedef struct cli {
	bench_opts o;
	long only;
	const char *dir;
	const char *results;
	int no_fork;
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
	static const struct option lopts[] = {{"full", no_argument, NULL, 'F'},
	                                      {"quick", no_argument, NULL, 'Q'},
	                                      {"only", required_argument, NULL, 'o'},
	                                      {"engines", required_argument, NULL, 'e'},
	                                      {"threads", required_argument, NULL, 't'},
	                                      {"dir", required_argument, NULL, 'd'},
	                                      {"results", required_argument, NULL, 'r'},
	                                      {"no-fork", no_argument, NULL, 'n'},
	                                      {"filter", required_argument, NULL, 'f'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	const char *sec_names[NSECTIONS], *eng_names[ENG_COUNT];
	const char *full = getenv("FULL");
	long e_mask = (1l << ENG_COUNT) - 1;
	int ch;

	for (size_t i = 0; i < NSECTIONS; i++)
		sec_names[i] = sections[i].name;
	for (int i = 0; i < ENG_COUNT; i++)
		eng_names[i] = bench_engines[i]->name;
	c->o.quick = !(full && *full && strcmp(full, "0") != 0);
	c->o.threads = 64;
	c->only = (1l << NSECTIONS) - 1;
	c->dir = SUTRA_BENCH_SCRATCH;
	c->results = SUTRA_BENCH_RESULTS;
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			c->o.quick = 0;
			break;
		case 'Q':
			c->o.quick = 1;
			break;
		case 'o':
			c->only = parse_list(optarg, sec_names, (int)NSECTIONS);
			break;
		case 'e':
			e_mask = parse_list(optarg, eng_names, ENG_COUNT);
			break;
		case 't':
			c->o.threads = atoi(optarg);
			break;
		case 'd':
			c->dir = optarg;
			break;
		case 'r':
			c->results = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'n':
			c->no_fork = 1;
			break;
		case 'f':
			c->o.filter = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || c->only < 0 || e_mask < 0 || c->o.threads < 1 || c->o.threads > 1024) {
		if (c->o.threads < 1 || c->o.threads > 1024)
			fprintf(stderr, "sutra-bench-store: --threads must be 1..1024\n");
		usage(stderr);
		return -1;
	}
	c->o.engines = (unsigned)e_mask;
	set_sizes(&c->o);
	if (c->no_fork)
		c->o.watchdog_s = 0; /* no watchdog without a process to spare */
	return 0;
}

/* 1 when the engine knows the vector_index option the benchmarks turn off. */
static int sutra_vector_index_off(void)
{
	sutra_options so;

	sutra_options_init(&so);
	return sutra_options_set(&so, "vector_index", "0") == 0;
}

static void print_inputs(const cli *c)
{
	const bench_opts *o = &c->o;

	printf("mode: %s\n", o->quick ? "quick (--full or FULL=1 for full sizes)" : "FULL");
	printf("engines: sutra %s, lmdb %s, sqlite %s\n", peer_sutra.version(), peer_lmdb.version(),
	       peer_sqlite.version());
	printf("inputs: content %d printable bytes (splitmix64, fixed seeds), random 16-byte "
	       "ids, vectors %d x f32 from a pool of %d\n",
	       BENCH_CONTENT_LEN, BENCH_VEC_DIM, BU_VEC_POOL);
	printf("  learn: %zu writes (novec), %zu (vec384); single and in batches of %d; "
	       "%d writers x 2 rounds x %.1f s\n",
	       o->learn_n, o->learn_vec_n, BENCH_BATCH, o->threads, o->conc_seconds);
	printf("  sutra: defaults except durability and, for storage-only figures, %s\n",
	       sutra_vector_index_off() ? "vector_index=0"
	                                : "(this engine has no vector_index option)");
	printf("  get: %zu concepts, %zu random gets per engine\n", o->get_n, o->get_ops);
	printf("  reopen: %zu concepts + %zu associations + %zu-record WAL tail, target %.2f s\n",
	       o->reopen_concepts, o->reopen_assocs, o->reopen_tail, o->reopen_target_s);
	printf("  memory: %zu concepts\n", o->mem_n);
	printf("results: %s\n\n", c->results ? c->results : "(none)");
	fflush(stdout);
}

struct section_run {
	const cli *c;
	const section *s;
};

/* In the section's child: the per-engine watchdog, then the section. */
static int section_child(void *arg)
{
	const struct section_run *sr = arg;

	bench_watchdog(&sr->c->o);
	return sr->s->run(&sr->c->o);
}

/* Runs one section in a child process with a watchdog; returns failures. */
static int run_section(const cli *c, const section *s)
{
	struct section_run sr = {c, s};

	if (c->no_fork)
		return s->run(&c->o);
	return bu_run_isolated(s->name, "section", 0, section_child, &sr);
}

int main(int argc, char **argv)
{
	cli c;
	struct stat st;
	char *scratch;
	int failed = 0;

	memset(&c, 0, sizeof(c));
	if (parse_args(argc, argv, &c))
		return 2;
	if (stat(c.dir, &st) != 0 && mkdir(c.dir, 0755) != 0) {
		fprintf(stderr, "sutra-bench-store: cannot create %s: %s\n", c.dir,
		        strerror(errno));
		return 2;
	}
	scratch = bu_mkdtemp(c.dir, "run");
	if (!scratch || bu_results_open(c.results, c.o.quick)) {
		fprintf(stderr, "sutra-bench-store: %s\n", bu_lasterr());
		return 2;
	}
	c.o.scratch = scratch;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bu_isolate_signals();
	bu_print_machine(scratch);
	print_inputs(&c);
	for (size_t i = 0; i < NSECTIONS; i++)
		if (c.only & (1l << i))
			failed += run_section(&c, &sections[i]);
	bu_rmrf(scratch);
	free(scratch);
	bu_results_close();
	if (failed)
		printf("\n%d measurement(s) failed; see the ERROR lines above\n", failed);
	return failed ? 1 : 0;
}
