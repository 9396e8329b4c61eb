/* bench_util.h - helpers shared by the benchmark programs: clocks, data, files, results.
 *
 * Everything a benchmark needs that is not the engine under test lives here so
 * the workloads read as workloads: a monotonic clock, a deterministic PRNG
 * (splitmix64) that produces the same ids, contents and vectors in every run
 * and for every engine, scratch directories on the project's filesystem, the
 * resident-set reader, latency percentiles, the raw fsync-rate probe of the
 * disk, and the result writer that prints one human-readable line and appends
 * one JSON object per line to the results file. Error text from any engine
 * goes through one thread-local buffer (bu_err/bu_lasterr) so a failure is
 * reported with its cause instead of aborting the whole run.
 */
#ifndef SUTRA_BENCH_UTIL_H
#define SUTRA_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"

/* ---- time ---------------------------------------------------------------- */

uint64_t bu_now_ns(void);  /* CLOCK_MONOTONIC */
uint64_t bu_wall_us(void); /* CLOCK_REALTIME, microseconds since the epoch */

/* ---- deterministic data ----------------------------------------------------- */

uint64_t bu_rand(uint64_t *state); /* splitmix64 */
/* n printable bytes (64-letter alphabet) from the PRNG, no NUL. */
void bu_fill_printable(uint64_t *state, char *out, size_t n);
void bu_fill_id(uint64_t *state, sutra_id *out);

/* One concept as every engine receives it. Pointers are borrowed. */
typedef struct bench_rec {
	sutra_id id;
	const char *content;
	size_t content_len;
	const float *vector; /* NULL or dim floats */
	uint32_t dim;
	float strength;
	float confidence;
} bench_rec;

/* A pregenerated set of n records: unique random ids, content_len printable
 * bytes each, and (dim > 0) a vector taken from a pool of BU_VEC_POOL distinct
 * vectors. Generated before any clock starts. */
#define BU_VEC_POOL 1024
typedef struct bench_set {
	size_t n;
	bench_rec *recs;
	char *content;
	float *vecs;
} bench_set;

int bu_set_make(bench_set *s, size_t n, size_t content_len, uint32_t dim, uint64_t seed);
void bu_set_free(bench_set *s);

/* ---- errors -------------------------------------------------------------- */

/* Formats the calling thread's error message; returns -1. */
int bu_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Bit mask (bit i: names[i]) of a comma-separated list of names, for
 * --only; 0, with a message naming prog and the word, on an unknown one. */
unsigned bu_parse_names(const char *prog, const char *list, const char *const *names, int n);
const char *bu_lasterr(void);

/* ---- files and processes --------------------------------------------------- */

/* Creates base/<tag>-XXXXXX (base must exist); caller frees. NULL on error. */
char *bu_mkdtemp(const char *base, const char *tag);
void bu_rmrf(const char *path);
/* Resident set and its anonymous part (resident - shared) in bytes, from
 * /proc/self/statm, after malloc_trim(0). */
void bu_rss(uint64_t *resident, uint64_t *anon);
/* Writes back dirty pages of every filesystem so one engine's write-back does
 * not land in the next engine's measurement. */
void bu_settle(void);

/* ---- statistics ---------------------------------------------------------- */

/* Sorts v (n samples) and returns the q-quantile (0..1); 0 when n == 0. */
uint64_t bu_quantile(uint64_t *v, size_t n, double q);

/* Raw fsync rate: a loop of 4 KiB pwrite at offset 0 + fdatasync on one
 * preallocated file in dir for about seconds. Returns syncs per second or a
 * negative value on error (message in bu_lasterr). */
double bu_fsync_rate(const char *dir, double seconds, int append);

/* Append bandwidth: 64 KiB write(2)s appending total bytes to a new file in
 * dir. Returns bytes per second of the writes alone (the page-cache ceiling
 * for any engine that appends its log with write) or a negative value on
 * error; *synced gets bytes per second including a final fdatasync (the
 * disk's ceiling for durable appends). */
double bu_append_rate(const char *dir, size_t total, double *synced);

/* ---- results ------------------------------------------------------------- */

/* One line of results. Unused numbers are negative; unused strings NULL. */
typedef struct bench_result {
	const char *bench;
	const char *variant;
	const char *engine;
	uint64_t ops;
	double seconds;
	double ops_per_s;
	const char *ratio_vs;
	double ratio;
	const char *target;
	int met; /* 1 met, 0 missed, -1 no target */
	const char *error;
	/* extra named numbers, printed and written to JSON as they are */
	const char *extra_key[12];
	double extra_val[12];
	int nextra;
} bench_result;

void bu_result_init(bench_result *r, const char *bench, const char *variant, const char *engine);
void bu_result_extra(bench_result *r, const char *key, double val);
/* Opens the JSONL file for appending (NULL path: no file). */
int bu_results_open(const char *path, int quick);
void bu_results_close(void);
/* Adds "commit": commit (e.g. "f905bfb1a2c3-dirty") to every JSON line
 * written after it; never called: no such field. */
void bu_results_commit(const char *commit);
/* Prints r human-readable on stdout and appends it as one JSON object. */
void bu_result_emit(const bench_result *r);

/* ---- machine ------------------------------------------------------------- */

void bu_print_machine(const char *dir);

/* Runs fn(arg) in a child process in its own process group, so that a hang
 * or a crash becomes one ERROR result line (bench, variant) instead of
 * ending the run: watchdog_s > 0 arms alarm() in the child (0: fn arms its
 * own); SIGINT/SIGTERM of the parent kill the child's group first (after
 * bu_isolate_signals). Returns 0 if fn returned 0, else 1. */
int bu_run_isolated(const char *bench, const char *variant, unsigned watchdog_s,
                    int (*fn)(void *arg), void *arg);
void bu_isolate_signals(void);

/* ---- latency summaries ------------------------------------------------------ */

typedef struct bu_lat {
	size_t n;
	double p50_us, p99_us, mean_us, max_us;
} bu_lat;

/* Percentiles, mean and maximum of n samples in nanoseconds (v unchanged). */
void bu_lat_of(bu_lat *l, const uint64_t *v, size_t n);

/* ---- the summary table ------------------------------------------------------ */

/* Rows live in shared memory so that sections run in forked children add
 * to one table, which the parent prints at the end. target NULL: none;
 * met < 0: no verdict, else met / MISSED. */
void bu_summary_init(void);
void bu_summary_add(const char *figure, const char *value, const char *target, int met);
void bu_summary_print(void);

#endif
