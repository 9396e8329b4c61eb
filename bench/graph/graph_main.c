/* graph_main.c - sutra-bench-graph: Sutra's graph queries and WordNet import against SQLite.
 *
 * Prints the machine, converts and parses WordNet once (graph_data.c), prints
 * the inputs (record counts, the largest component, the pairs and their hop
 * distribution), then runs each section in a forked process with a watchdog
 * (bu_run_isolated), so a crash or a hang is one ERROR line and the other
 * sections still run:
 *   query   in-process FindPath, neighbours and 2-hop, Sutra and SQLite
 *   tcp     FindPath through sutra-server over loopback, one at a time
 *   import  sutra-import (always, none), the batch API, SQLite's load
 * Every figure is one printed line and one JSON object appended to
 * bench/results/graph.jsonl; a summary table with the targets closes the
 * run. The exit status is 1 when a measurement could not be taken; a missed
 * target is reported, not a failure.
 */
#include "graph.h"

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
#define SUTRA_BENCH_RESULTS "graph.jsonl"
#endif
#ifndef SUTRA_BENCH_BINDIR
#define SUTRA_BENCH_BINDIR "."
#endif

#define NSECT 3
static const char *const sect_name[NSECT] = {"query", "tcp", "import"};
static int (*const sect_fn[NSECT])(void *) = {gq_run, gt_run, gi_run};

typedef struct cli {
	gb_opts o;
	unsigned only;
	const char *dir, *results;
	int no_fork;
	long pairs, reps, sqlite_pairs;
	double cap_ms;
} cli;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sutra-bench-graph [options]\n"
	        "\n"
	        "WordNet 3.0 (wordnet2jsonl) loaded into Sutra and into SQLite; random pairs of\n"
	        "concepts in the largest connected component (fixed seed). Figures: FindPath\n"
	        "p50/p99 in-process (sutra_find_path) and over TCP (sutra-server, one request at\n"
	        "a time) against a recursive-CTE BFS in SQLite; neighbours and 2-hop k-hop\n"
	        "p50/p99 against SQL equivalents; import of the JSONL with sutra-import\n"
	        "(durability always and none), the batch API on parsed records, SQLite's load.\n"
	        "Targets: FindPath p50 <= 50 us in-process, <= 150 us over TCP, >= 1000x SQLite;\n"
	        "import >= 500,000 records/s at durability always.\n"
	        "\n"
	        "options:\n"
	        "  --full              5,000 pairs, 5 passes/runs, SQLite on 200 pairs with a\n"
	        "                      30 s cap; also FULL=1\n"
	        "  --quick             1,000 pairs, 3 passes/runs, SQLite on 100 pairs with a\n"
	        "                      10 s cap (default)\n"
	        "  --only LIST         comma-separated sections: query,tcp,import (default all)\n"
	        "  --pairs N           query pairs (and start concepts of neighbours/2-hop)\n"
	        "  --reps N            timed passes over the pairs, and import runs (1..9)\n"
	        "  --sqlite-pairs N    pairs SQLite's FindPath runs on (the first N; 0: none)\n"
	        "  --sqlite-cap-ms MS  time cap of one SQLite FindPath query\n"
	        "  --seed N            seed of the pairs (default 42)\n"
	        "  --wordnet DIR       WordNet data files (default: wordnet2jsonl's own)\n"
	        "  --bin DIR           where sutra-server, sutra-import and wordnet2jsonl are\n"
	        "                      (default %s)\n"
	        "  --dir DIR           scratch directory (default %s)\n"
	        "  --results FILE      JSON lines appended here (default %s; '-' for none)\n"
	        "  --no-fork           run the sections in this process (gdb, perf)\n"
	        "  --help              this text\n",
	        SUTRA_BENCH_BINDIR, SUTRA_BENCH_SCRATCH, SUTRA_BENCH_RESULTS);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "sutra-bench-graph: '%s' is not a number in %g..%g\n", s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int option(cli *c, int opt, const char *arg)
{
	double v = 0;

	switch (opt) {
	case 'f':
		c->o.quick = 0;
		return 0;
	case 'q':
		c->o.quick = 1;
		return 0;
	case 'o':
		return (c->only = bu_parse_names("sutra-bench-graph", arg, sect_name, NSECT)) ? 0
		                                                                              : -1;
	case 'p':
		return parse_num(arg, 1, 1e6, &v) < 0 ? -1 : (c->pairs = (long)v, 0);
	case 'r':
		return parse_num(arg, 1, 9, &v) < 0 ? -1 : (c->reps = (long)v, 0);
	case 's':
		return parse_num(arg, 0, 1e6, &v) < 0 ? -1 : (c->sqlite_pairs = (long)v, 0);
	case 'c':
		return parse_num(arg, 1, 3.6e6, &c->cap_ms);
	case 'S':
		return parse_num(arg, 0, 1.8e19, &v) < 0 ? -1 : (c->o.seed = (uint64_t)v, 0);
	case 'w':
		c->o.wordnet = arg;
		return 0;
	case 'b':
		c->o.bindir = arg;
		return 0;
	case 'd':
		c->dir = arg;
		return 0;
	case 'R':
		c->results = strcmp(arg, "-") == 0 ? NULL : arg;
		return 0;
	case 'n':
		c->no_fork = 1;
		return 0;
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

static int parse_args(cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"full", no_argument, 0, 'f'},
	                                   {"quick", no_argument, 0, 'q'},
	                                   {"only", required_argument, 0, 'o'},
	                                   {"pairs", required_argument, 0, 'p'},
	                                   {"reps", required_argument, 0, 'r'},
	                                   {"sqlite-pairs", required_argument, 0, 's'},
	                                   {"sqlite-cap-ms", required_argument, 0, 'c'},
	                                   {"seed", required_argument, 0, 'S'},
	                                   {"wordnet", required_argument, 0, 'w'},
	                                   {"bin", required_argument, 0, 'b'},
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
	c->o.bindir = SUTRA_BENCH_BINDIR;
	c->dir = SUTRA_BENCH_SCRATCH;
	c->results = SUTRA_BENCH_RESULTS;
	c->pairs = c->reps = c->sqlite_pairs = -1;
	c->cap_ms = -1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (option(c, opt, optarg) < 0)
			return -1;
	if (optind < argc) {
		fprintf(stderr, "sutra-bench-graph: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	c->o.pairs = (size_t)(c->pairs > 0 ? c->pairs : c->o.quick ? 1000 : 5000);
	c->o.reps = (int)(c->reps > 0 ? c->reps : c->o.quick ? 3 : 5);
	c->o.sqlite_pairs = (size_t)(c->sqlite_pairs >= 0 ? c->sqlite_pairs
	                             : c->o.quick         ? 100
	                                                  : 200);
	c->o.sqlite_cap_ms = c->cap_ms > 0 ? c->cap_ms : c->o.quick ? 10000 : 30000;
	if (!c->only)
		c->only = (1u << NSECT) - 1;
	return 0;
}

/* ---- inputs ------------------------------------------------------------------------- */

static void print_inputs(const cli *c, const gb_data *d)
{
	bench_result r;
	char v[96];

	printf("bin: %s\n", c->o.bindir);
	printf("wordnet: %s -> %s (%.1f MB, converted in %.2f s, parsed in %.2f s)\n",
	       c->o.wordnet ? c->o.wordnet : "wordnet2jsonl's default (/usr/share/wordnet)",
	       d->jsonl, (double)d->jsonl_bytes / 1e6, d->convert_s, d->parse_s);
	printf("graph: %zu concepts, %zu associations, %zu components, largest %zu concepts\n",
	       d->nc, d->na, d->ncomp, d->giant_n);
	printf("pairs: %zu in the largest component (seed %llu), hops mean %.2f max %d, %zu beyond "
	       "depth %d; answer key by plain BFS in %.2f s\n",
	       d->npairs, (unsigned long long)c->o.seed, d->mean_hops, d->max_hops, d->far_pairs,
	       GB_MAX_DEPTH, d->bfs_s);
	printf("mode: %s; %d passes; SQLite FindPath on the first %zu pairs, cap %.0f ms per "
	       "query\n\n",
	       c->o.quick ? "quick" : "full", c->o.reps, c->o.sqlite_pairs, c->o.sqlite_cap_ms);
	bu_result_init(&r, "graph", "data", "all");
	r.ops = d->nc + d->na;
	r.seconds = d->parse_s;
	bu_result_extra(&r, "concepts", (double)d->nc);
	bu_result_extra(&r, "associations", (double)d->na);
	bu_result_extra(&r, "components", (double)d->ncomp);
	bu_result_extra(&r, "giant", (double)d->giant_n);
	bu_result_extra(&r, "pairs", (double)d->npairs);
	bu_result_extra(&r, "mean_hops", d->mean_hops);
	bu_result_extra(&r, "max_hops", d->max_hops);
	bu_result_extra(&r, "far_pairs", (double)d->far_pairs);
	bu_result_extra(&r, "jsonl_mb", (double)d->jsonl_bytes / 1e6);
	bu_result_emit(&r);
	snprintf(v, sizeof(v), "%.0f records/s (%.2f s, one thread)",
	         (double)(d->nc + d->na) / d->parse_s, d->parse_s);
	bu_summary_add("JSONL parsing alone (rec_parse)", v, NULL, -1);
}

static char *make_scratch(const char *base)
{
	if (mkdir(base, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "sutra-bench-graph: mkdir %s: %s\n", base, strerror(errno));
		return NULL;
	}
	return bu_mkdtemp(base, "graph");
}

static int run_sections(const cli *c, const gb_data *d)
{
	gb_ctx ctx = {&c->o, d};
	unsigned watchdog = c->o.quick ? 1200 : 3600;
	int failed = 0;

	for (int i = 0; i < NSECT; i++) {
		if (!(c->only & (1u << i)))
			continue;
		printf("== %s\n", sect_name[i]);
		if (c->no_fork)
			failed |= sect_fn[i](&ctx) != 0;
		else
			failed |=
			    bu_run_isolated("graph", sect_name[i], watchdog, sect_fn[i], &ctx);
	}
	return failed;
}

int main(int argc, char **argv)
{
	cli c;
	gb_data d;
	char *scratch;
	int failed;

	if (parse_args(&c, argc, argv) < 0)
		return 2;
	if (!(scratch = make_scratch(c.dir)))
		return 1;
	c.o.scratch = scratch;
	bu_isolate_signals();
	bu_summary_init();
	gu_shared_init();
	printf("sutra-bench-graph (%s)\n", c.o.quick ? "quick" : "full");
	bu_print_machine(scratch);
	if (bu_results_open(c.results, c.o.quick) < 0)
		fprintf(stderr, "warning: %s (results not saved)\n", bu_lasterr());
	if (gd_load(&d, &c.o) < 0) {
		bench_result r;
		bu_result_init(&r, "graph", "data", "all");
		r.error = bu_lasterr();
		bu_result_emit(&r);
		bu_rmrf(scratch);
		return 1;
	}
	print_inputs(&c, &d);
	failed = run_sections(&c, &d);
	bu_summary_print();
	gd_free(&d);
	bu_rmrf(scratch);
	free(scratch);
	bu_results_close();
	return failed ? 1 : 0;
}
