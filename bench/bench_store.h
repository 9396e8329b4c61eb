/* bench_store.h - the storage benchmark's inputs and its four workload sections.
 *
 * sutra-bench-store runs four sections, each in its own forked process so a
 * crash or a hang of one engine is reported and the others still run: learn
 * throughput (bench_learn.c), get by id (bench_get.c), reopen time
 * (bench_reopen.c) and memory per concept (bench_memory.c). They share the
 * sizes below, chosen once in bench_store.c for quick (default) or full mode,
 * and the list of engines to compare.
 */
#ifndef SUTRA_BENCH_STORE_H
#define SUTRA_BENCH_STORE_H

#include <stddef.h>

#include "bench_util.h"
#include "peer.h"

#define BENCH_CONTENT_LEN 100
#define BENCH_VEC_DIM     384
#define BENCH_BATCH       1000

enum { ENG_SUTRA = 0, ENG_LMDB = 1, ENG_SQLITE = 2, ENG_COUNT = 3 };

typedef struct bench_opts {
	int quick;
	const char *scratch; /* this run's scratch directory (created, removed by main) */
	unsigned engines;    /* bit (1 << ENG_*) per engine to run */
	int threads;         /* concurrent writers */
	const char *filter;  /* learn/memory: only variants whose name contains it */
	unsigned watchdog_s; /* longest one engine's run may take before the section is killed */
	/* learn */
	size_t learn_n;      /* writes without vector, single-thread */
	size_t learn_vec_n;  /* writes with a 384-d vector, single and batched */
	size_t batch_n;      /* writes without vector, in batches */
	double conc_seconds; /* window of each concurrent-writer round (2 rounds) */
	double fsync_seconds;
	/* get */
	size_t get_n;   /* concepts in the store */
	size_t get_ops; /* timed gets per engine */
	/* reopen */
	size_t reopen_concepts, reopen_assocs, reopen_tail;
	double reopen_target_s;
	/* memory */
	size_t mem_n;
} bench_opts;

extern const peer_ops *const bench_engines[ENG_COUNT];

/* Each returns the number of failed measurements (0 when all ran). */
int bench_learn(const bench_opts *o);
int bench_get(const bench_opts *o);
int bench_reopen(const bench_opts *o);
int bench_memory(const bench_opts *o);

/* (Re)arms the watchdog: SIGALRM ends the section process unless the next
 * call comes within o->watchdog_s seconds. Called before each engine run. */
void bench_watchdog(const bench_opts *o);
/* Emits r as an error result carrying msg; returns 1. */
int bench_error(bench_result *r, const char *msg);
/* Opens ops in a fresh directory under o->scratch; returns the directory
 * (caller removes with bu_rmrf and frees) or NULL with bu_lasterr set. */
char *bench_engine_dir(const bench_opts *o, const char *tag);

#endif
