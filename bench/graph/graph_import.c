/* graph_import.c - the import section: WordNet's JSONL into a store, at durability always
 * and none, end to end and without the JSON parsing.
 *
 * Variants (each run into a fresh directory of the scratch area, after
 * sync(2), then removed; the variants alternate within each of o->reps
 * rounds and the median time is reported):
 *  - jsonl_always / jsonl_none: the built sutra-import --dir DIR
 *    --durability MODE --no-progress wordnet.jsonl, timed from fork to
 *    exit: open, parse, batches of 1,000 records, the final checkpoint and
 *    close, as a user runs it. Its summary line must report every concept
 *    and association. jsonl_always carries the target.
 *  - api_always / api_none: the same records already parsed (graph_data.c),
 *    loaded with sutra_open + sutra_batch_* in batches of 1,000 (what
 *    sutra-import does after parsing), timed from sutra_open to the last
 *    commit's return (durable under always); close (which syncs and stops
 *    the background work) is shown apart as close_s. The difference from
 *    the jsonl figures is the JSON parsing, the checkpoint and the process.
 *  - sqlite: the same parsed records into SQLite (graph_sqlite.c: WAL,
 *    synchronous=FULL, schema and both indexes first, one transaction).
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH "graph"
#define NVAR  5
#define MAXR  9

enum { V_JSONL_ALWAYS, V_JSONL_NONE, V_API_ALWAYS, V_API_NONE, V_SQLITE };

static const char *const var_name[NVAR] = {"import_jsonl_always", "import_jsonl_none",
                                           "import_api_always", "import_api_none", "import_sqlite"};
static const char *const var_engine[NVAR] = {"sutra-import", "sutra-import", "sutra", "sutra",
                                             "sqlite"};
static const char *const var_label[NVAR] = {
    "import JSONL, durability always", "import JSONL, durability none",
    "batch API (parsed), always", "batch API (parsed), none", "SQLite load (1 txn, FULL)"};

typedef struct irun {
	const gb_opts *o;
	const gb_data *d;
	double s[NVAR][MAXR];
	double close_s[NVAR][MAXR];
} irun;

/* sutra-import into a fresh directory; checks the counts it reports. */
static int run_jsonl(irun *ir, const char *dir, const char *durability, double *s)
{
	char bin[1100], log[1200], line[512] = "";
	char *argv[] = {bin,
	                "--dir",
	                (char *)dir,
	                "--durability",
	                (char *)durability,
	                "--no-progress",
	                (char *)ir->d->jsonl,
	                NULL};
	unsigned long long nc = 0, na = 0;
	int rc;

	snprintf(bin, sizeof(bin), "%s/sutra-import", ir->o->bindir);
	snprintf(log, sizeof(log), "%s.log", dir);
	rc = gu_run(argv, log, s);
	gu_grep(log, "sutra-import:", line, sizeof(line));
	remove(log);
	if (rc != 0)
		return bu_err("sutra-import --dir failed (%d): %s", rc,
		              rc < 0 ? bu_lasterr() : line);
	if (sscanf(line, "sutra-import: %llu concepts and %llu associations", &nc, &na) != 2 ||
	    nc != ir->d->nc || na != ir->d->na)
		return bu_err("sutra-import loaded less than the JSONL holds: %s", line);
	return 0;
}

static int run_api(irun *ir, const char *dir, int durability, double *s, double *close_s)
{
	sutra_db *db = NULL;
	uint64_t t0 = bu_now_ns();
	int rc = gu_sutra_open(dir, durability, &db);

	if (rc == 0)
		rc = gu_sutra_load(db, ir->d);
	*s = (double)(bu_now_ns() - t0) / 1e9;
	t0 = bu_now_ns();
	if (db && sutra_close(db) < 0 && rc == 0)
		rc = bu_err("sutra_close: %s", sutra_last_error());
	*close_s = (double)(bu_now_ns() - t0) / 1e9;
	return rc;
}

static int run_sqlite(irun *ir, const char *dir, double *s)
{
	char path[1200];
	gs_db *db = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/sqlite.db", dir);
	rc = gs_create(path, ir->d, &db, s);
	gs_close(db);
	return rc;
}

static int run_one(irun *ir, int v, int rep)
{
	char *dir = bu_mkdtemp(ir->o->scratch, "import");
	double *s = &ir->s[v][rep], *cs = &ir->close_s[v][rep];
	int rc;

	if (!dir)
		return -1;
	bu_settle();
	*cs = -1;
	switch (v) {
	case V_JSONL_ALWAYS:
	case V_JSONL_NONE:
		rc = run_jsonl(ir, dir, v == V_JSONL_ALWAYS ? "always" : "none", s);
		break;
	case V_API_ALWAYS:
	case V_API_NONE:
		rc = run_api(ir, dir,
		             v == V_API_ALWAYS ? SUTRA_DURABILITY_ALWAYS : SUTRA_DURABILITY_NONE, s,
		             cs);
		break;
	default:
		rc = run_sqlite(ir, dir, s);
	}
	bu_rmrf(dir);
	free(dir);
	return rc;
}

static double median_d(const double *v, int n)
{
	double t[MAXR];

	memcpy(t, v, (size_t)n * sizeof(*t));
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void emit(const irun *ir, int v)
{
	uint64_t n = ir->d->nc + ir->d->na;
	int reps = ir->o->reps;
	double med = median_d(ir->s[v], reps), lo = ir->s[v][0], hi = ir->s[v][0];
	bench_result r;
	char val[128];

	for (int i = 1; i < reps; i++) {
		lo = ir->s[v][i] < lo ? ir->s[v][i] : lo;
		hi = ir->s[v][i] > hi ? ir->s[v][i] : hi;
	}
	bu_result_init(&r, BENCH, var_name[v], var_engine[v]);
	r.ops = n;
	r.seconds = med;
	r.ops_per_s = (double)n / med;
	if (v == V_JSONL_ALWAYS) {
		r.target = ">=500000 records/s";
		r.met = r.ops_per_s >= GB_IMPORT_PER_S;
	}
	bu_result_extra(&r, "min_per_s", (double)n / hi);
	bu_result_extra(&r, "max_per_s", (double)n / lo);
	bu_result_extra(&r, "runs", reps);
	if (ir->close_s[v][0] >= 0)
		bu_result_extra(&r, "close_s", median_d(ir->close_s[v], reps));
	bu_result_emit(&r);
	snprintf(val, sizeof(val), "%.0f records/s (%.2f s)", r.ops_per_s, med);
	bu_summary_add(var_label[v], val, v == V_JSONL_ALWAYS ? ">= 500,000 records/s" : NULL,
	               r.met);
}

int gi_run(void *arg)
{
	const gb_ctx *c = arg;
	irun *ir = calloc(1, sizeof(*ir));
	int rc = ir ? 0 : bu_err("out of memory");

	if (ir) {
		ir->o = c->o;
		ir->d = c->d;
	}
	for (int rep = 0; rc == 0 && rep < c->o->reps; rep++)
		for (int v = 0; rc == 0 && v < NVAR; v++)
			rc = run_one(ir, v, rep);
	for (int v = 0; rc == 0 && v < NVAR; v++)
		emit(ir, v);
	if (rc < 0) {
		bench_result r;
		bu_result_init(&r, BENCH, "import", "all");
		r.error = bu_lasterr();
		bu_result_emit(&r);
	}
	free(ir);
	return rc < 0;
}
