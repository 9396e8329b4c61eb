/* shards_main.c - sutra-bench-shards: sharded stores against the single log, in-process.
 *
 * Prints the machine and the inputs, then runs each section in a forked
 * process with a watchdog (bu_run_isolated), so a crash or a hang is one
 * ERROR line and the other sections still run:
 *   learn  50 writers learning, single log vs 1, 2, 4, 16 shards
 *   assoc  same-shard vs cross-shard sutra_associate at 4 shards
 *   read   vector search and FindPath, 0 vs 1 vs 4 shards, same data
 * Every figure is one printed line and one JSON object appended to
 * bench/results/shards.jsonl; a summary table closes the run. The exit
 * status is 1 when a measurement could not be taken; a missed target is
 * reported, not a failure.
 */
#include "shards.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SUTRA_BENCH_SCRATCH
#define SUTRA_BENCH_SCRATCH "/tmp"
#endif
#ifndef SUTRA_BENCH_RESULTS
#define SUTRA_BENCH_RESULTS "shards.jsonl"
#endif
#ifndef SUTRA_BENCH_SOURCE
#define SUTRA_BENCH_SOURCE "."
#endif

#define PROG  "sutra-bench-shards"
#define NSECT 3
static const char *const sect_name[NSECT] = {"learn", "assoc", "read"};
static int (*const sect_fn[NSECT])(void *) = {sl_run, sa_run, sr_run};

typedef struct cli {
	sb_opts o;
	unsigned only;
	const char *dir, *results, *layouts;
	int no_fork;
	/* < 0: the mode's default */
	double window, threads, rounds, lat_ops, concepts, assocs, queries, pairs, reps;
} cli;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " [options]\n"
	        "\n"
	        "Sharded stores (sutra_options.shards) against the single log, in-process,\n"
	        "durability always, fresh stores. Figures: learn throughput of 50 writers for\n"
	        "0 (single log), 1, 2, 4, 16 shards with fsyncs/s and the ratio to the single\n"
	        "log; at 4 shards, sutra_associate between concepts of one shard vs of two\n"
	        "shards (two-phase commit), latency on one thread and throughput on 50 (target:\n"
	        "cross-shard <= 1.5x same-shard); vector search QPS and FindPath p50/p99 on the\n"
	        "same data in stores of 0, 1 and 4 shards, as ratios to the single log.\n"
	        "\n"
	        "options:\n"
	        "  --full            10 s learn windows, 5,000 single-thread associates of each\n"
	        "                    kind, 100,000 concepts + 300,000 associations for reads,\n"
	        "                    10 passes; also FULL=1\n"
	        "  --quick           3 s windows, 2,000 associates, 20,000 concepts + 60,000\n"
	        "                    associations, 5 passes (default)\n"
	        "  --only LIST       comma-separated sections: learn,assoc,read (default all)\n"
	        "  --shards LIST     learn section's shard counts (default 0,1,2,4,16; 0 = the\n"
	        "                    single log, always measured first as the baseline)\n"
	        "  --threads N       concurrent writers (default 50)\n"
	        "  --window S        learn window per layout (associate windows: S/2 each)\n"
	        "  --rounds N        learn rounds, order alternating (default 1)\n"
	        "  --lat-ops N       single-thread associates of each kind\n"
	        "  --concepts N      read section: concepts\n"
	        "  --assocs N        read section: associations\n"
	        "  --queries N       read section: vector queries per pass\n"
	        "  --pairs N         read section: FindPath pairs\n"
	        "  --reps N          read section: timed passes (1..50)\n"
	        "  --seed N          seed of every input (default 42)\n"
	        "  --dir DIR         scratch directory (default %s)\n"
	        "  --results FILE    JSON lines appended here (default %s; '-' for none)\n"
	        "  --no-fork         run the sections in this process (gdb, perf)\n"
	        "  --help            this text\n",
	        SUTRA_BENCH_SCRATCH, SUTRA_BENCH_RESULTS);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < lo || v > hi) {
		fprintf(stderr, PROG ": '%s' is not a number in %g..%g\n", s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* "0,1,2,4,16" into o->layouts, with 0 (the baseline) first. */
static int parse_layouts(sb_opts *o, const char *list)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	o->layouts[0] = 0;
	o->nlayouts = 1;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		double v;
		if (parse_num(t, 0, 256, &v) < 0)
			return -1;
		if (v == 0)
			continue;
		if (o->nlayouts == SB_MAX_LAYOUTS) {
			fprintf(stderr, PROG ": at most %d shard counts\n", SB_MAX_LAYOUTS);
			return -1;
		}
		o->layouts[o->nlayouts++] = (uint32_t)v;
	}
	return 0;
}

static int option(cli *c, int opt, const char *arg)
{
	double v;

	switch (opt) {
	case 'f':
		return c->o.quick = 0, 0;
	case 'q':
		return c->o.quick = 1, 0;
	case 'o':
		return (c->only = bu_parse_names(PROG, arg, sect_name, NSECT)) ? 0 : -1;
	case 'L':
		return c->layouts = arg, 0;
	case 't':
		return parse_num(arg, 1, 1024, &c->threads);
	case 'w':
		return parse_num(arg, 0.1, 3600, &c->window);
	case 'u':
		return parse_num(arg, 1, 20, &c->rounds);
	case 'l':
		return parse_num(arg, 10, 1e7, &c->lat_ops);
	case 'c':
		return parse_num(arg, 100, 1e8, &c->concepts);
	case 'a':
		return parse_num(arg, 0, 1e9, &c->assocs);
	case 'Q':
		return parse_num(arg, 1, 1e7, &c->queries);
	case 'p':
		return parse_num(arg, 1, 1e7, &c->pairs);
	case 'r':
		return parse_num(arg, 1, 50, &c->reps);
	case 'S':
		return parse_num(arg, 0, 1.8e19, &v) < 0 ? -1 : (c->o.seed = (uint64_t)v, 0);
	case 'd':
		return c->dir = arg, 0;
	case 'R':
		return c->results = strcmp(arg, "-") == 0 ? NULL : arg, 0;
	case 'n':
		return c->no_fork = 1, 0;
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

/* The value given, or the mode's default. */
static double pick(double given, int quick, double q, double f)
{
	return given >= 0 ? given : quick ? q : f;
}

static void defaults(cli *c)
{
	sb_opts *o = &c->o;
	int q = o->quick;

	o->threads = (int)pick(c->threads, q, 50, 50);
	o->window_s = pick(c->window, q, 3, 10);
	o->rounds = (int)pick(c->rounds, q, 1, 1);
	o->lat_ops = (size_t)pick(c->lat_ops, q, 2000, 5000);
	o->concepts = (size_t)pick(c->concepts, q, 20000, 100000);
	o->assocs = (size_t)pick(c->assocs, q, 60000, 300000);
	o->queries = (size_t)pick(c->queries, q, 2000, 5000);
	o->pairs = (size_t)pick(c->pairs, q, 1000, 2000);
	o->reps = (int)pick(c->reps, q, 5, 10);
	/* enough concepts that random pairs rarely repeat an association */
	o->pool = q ? 4000 : 20000;
}

static int parse_args(cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"full", no_argument, 0, 'f'},
	                                   {"quick", no_argument, 0, 'q'},
	                                   {"only", required_argument, 0, 'o'},
	                                   {"shards", required_argument, 0, 'L'},
	                                   {"threads", required_argument, 0, 't'},
	                                   {"window", required_argument, 0, 'w'},
	                                   {"rounds", required_argument, 0, 'u'},
	                                   {"lat-ops", required_argument, 0, 'l'},
	                                   {"concepts", required_argument, 0, 'c'},
	                                   {"assocs", required_argument, 0, 'a'},
	                                   {"queries", required_argument, 0, 'Q'},
	                                   {"pairs", required_argument, 0, 'p'},
	                                   {"reps", required_argument, 0, 'r'},
	                                   {"seed", required_argument, 0, 'S'},
	                                   {"dir", required_argument, 0, 'd'},
	                                   {"results", required_argument, 0, 'R'},
	                                   {"no-fork", no_argument, 0, 'n'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	const char *full = getenv("FULL");
	int opt;

	memset(c, 0, sizeof(*c));
	c->o.quick = !(full && *full && strcmp(full, "0") != 0);
	c->o.seed = 42;
	c->dir = SUTRA_BENCH_SCRATCH;
	c->results = SUTRA_BENCH_RESULTS;
	c->layouts = "0,1,2,4,16";
	c->window = c->threads = c->rounds = c->lat_ops = c->concepts = c->assocs = -1;
	c->queries = c->pairs = c->reps = -1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (option(c, opt, optarg) < 0)
			return -1;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (parse_layouts(&c->o, c->layouts) < 0)
		return -1;
	defaults(c);
	if (!c->only)
		c->only = (1u << NSECT) - 1;
	return 0;
}

static void print_inputs(const sb_opts *o)
{
	printf("mode: %s; durability always; %d writers; learn windows %.1f s x %d round(s), "
	       "shards",
	       o->quick ? "quick" : "full", o->threads, o->window_s, o->rounds);
	for (int i = 0; i < o->nlayouts; i++)
		printf("%s%u", i ? "," : " ", o->layouts[i]);
	printf("\nassociate: 4 shards, %zu concepts, %zu single-thread calls of each kind, "
	       "windows %.1f s\n",
	       o->pool, o->lat_ops, o->window_s / 2);
	printf("reads: %zu concepts, %zu associations, %zu queries (k %d, ef %d), %zu pairs, "
	       "%d passes\n\n",
	       o->concepts, o->assocs, o->queries, SB_K, SB_EF, o->pairs, o->reps);
}

/* The first line cmd prints into out (empty on any failure). */
static void first_line(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");

	out[0] = 0;
	if (p && !fgets(out, (int)n, p))
		out[0] = 0;
	if (p)
		pclose(p);
	out[strcspn(out, "\n")] = 0;
}

/* The source tree's commit, "-dirty" when tracked files differ from it, so
 * a figure can be traced to the code that produced it; "unknown" without
 * git. */
static void source_commit(char *out, size_t n)
{
	char dirty[8];

	first_line("git -C '" SUTRA_BENCH_SOURCE "' rev-parse --short=12 HEAD 2>/dev/null", out, n);
	if (!out[0]) {
		snprintf(out, n, "unknown");
		return;
	}
	first_line("git -C '" SUTRA_BENCH_SOURCE "' status --porcelain --untracked-files=no "
	           "2>/dev/null | head -1",
	           dirty, sizeof(dirty));
	if (dirty[0])
		snprintf(out + strlen(out), n - strlen(out), "-dirty");
}

static char *make_scratch(const char *base)
{
	if (mkdir(base, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": mkdir %s: %s\n", base, strerror(errno));
		return NULL;
	}
	return bu_mkdtemp(base, "shards");
}

static int run_sections(const cli *c)
{
	unsigned watchdog = c->o.quick ? 600 : 3600;
	int failed = 0;

	for (int i = 0; i < NSECT; i++) {
		uint64_t t0 = bu_now_ns();
		if (!(c->only & (1u << i)))
			continue;
		printf("== %s\n", sect_name[i]);
		fflush(stdout);
		if (c->no_fork)
			failed |= sect_fn[i]((void *)&c->o) != 0;
		else
			failed |= bu_run_isolated(SB_BENCH, sect_name[i], watchdog, sect_fn[i],
			                          (void *)&c->o);
		printf("   (%s: %.1f s)\n", sect_name[i], (double)(bu_now_ns() - t0) / 1e9);
	}
	return failed;
}

int main(int argc, char **argv)
{
	uint64_t t0 = bu_now_ns();
	char *scratch, commit[64];
	int failed;
	cli c;

	if (parse_args(&c, argc, argv) < 0)
		return 2;
	if (!(scratch = make_scratch(c.dir)))
		return 1;
	c.o.scratch = scratch;
	bu_isolate_signals();
	bu_summary_init();
	printf(PROG " (%s)\n", c.o.quick ? "quick" : "full");
	bu_print_machine(scratch);
	source_commit(commit, sizeof(commit));
	printf("commit: %s\n", commit);
	if (bu_results_open(c.results, c.o.quick) < 0)
		fprintf(stderr, "warning: %s (results not saved)\n", bu_lasterr());
	bu_results_commit(commit);
	print_inputs(&c.o);
	failed = run_sections(&c);
	bu_summary_print();
	printf("\ntotal %.1f s\n", (double)(bu_now_ns() - t0) / 1e9);
	bu_rmrf(scratch);
	free(scratch);
	bu_results_close();
	return failed ? 1 : 0;
}
