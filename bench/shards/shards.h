/* shards.h - shared declarations of sutra-bench-shards, the sharded-store benchmark.
 *
 * In-process (libsutra, no server), durability always everywhere: the point
 * is how a store split into shards (sutra_options.shards, one WAL per shard)
 * behaves around fdatasync. Three sections, each in a forked process:
 *  - shards_learn.c: 50 threads learning concepts for a fixed window on
 *    fresh stores of 0 (single log, the baseline), 1, 2, 4 and 16 shards;
 *    ops/s, the ratio to the single log measured in the same run, and the
 *    fsyncs per second behind them (group commit);
 *  - shards_assoc.c: at 4 shards, sutra_associate between two concepts of
 *    one shard against two of different shards (a two-phase commit):
 *    single-thread latency in alternating blocks, then 50-thread throughput;
 *  - shards_read.c: the same concepts, vectors and associations
 *    (shards_data.c) in stores of 0, 1 and 4 shards; vector search QPS and
 *    FindPath latency, as ratios to the single log.
 * shards_util.c holds what they share: opening a store, the concurrent
 * window runner, latency statistics and the summary table;
 * shards_main.c reads the options and runs the sections.
 */
#ifndef SUTRA_BENCH_SHARDS_H
#define SUTRA_BENCH_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#define SB_BENCH       "shards"
#define SB_DIM         64  /* vector dimension of every store */
#define SB_CONTENT     100 /* content bytes of a concept */
#define SB_K           10  /* vector search: k */
#define SB_EF          64  /* vector search: ef_search */
#define SB_MAX_DEPTH   20  /* FindPath depth */
#define SB_BATCH       1000
#define SB_XSHARD_MAX  1.5 /* target: a cross-shard associate costs <= 1.5x a same-shard one */
#define SB_MAX_LAYOUTS 8

typedef struct sb_opts {
	int quick;
	int threads;                      /* concurrent writers (learn, associate) */
	double window_s;                  /* learn window per layout and round */
	int rounds;                       /* learn rounds (the order alternates) */
	size_t lat_ops;                   /* single-thread associates of each kind */
	size_t pool;                      /* concepts learned before the associate section */
	size_t concepts;                  /* read section: concepts */
	size_t assocs;                    /* read section: associations */
	size_t queries;                   /* read section: vector queries per pass */
	size_t pairs;                     /* read section: FindPath pairs */
	int reps;                         /* read section: passes over queries and pairs */
	uint32_t layouts[SB_MAX_LAYOUTS]; /* learn section: shard counts, 0 first */
	int nlayouts;
	uint64_t seed;
	const char *scratch; /* the run's own scratch directory */
} sb_opts;

/* ---- shards_util.c ---------------------------------------------------------------- */

/* "single log" for 0, else "N shards". */
/* A layout flag on a shard count: the sharded store keeps one vector index
 * for all shards (sutra_options.vector_index_per_shard = 0). */
#define SU_ONE_INDEX 0x10000u

const char *su_layout_name(uint32_t shards, char *buf, size_t n);
/* "s0", "s4", ...: the engine column of a figure. */
const char *su_layout_tag(uint32_t shards, char *buf, size_t n);

/* Opens a fresh store in a new directory under o->scratch (sync(2) first,
 * so the previous store's write-back does not land in this one's figures):
 * dimension SB_DIM, durability always, the given shard count and vector
 * index, defaults otherwise. *dir gets the directory (caller frees). */
int su_open(const sb_opts *o, uint32_t shards, int vector_index, sutra_db **db, char **dir);
/* Closes the store and removes its directory; 0 or -1 (bu_lasterr). */
int su_close(sutra_db *db, char *dir);
/* Waits until the vector index serves searches and has taken in every
 * change (index_ready, index_lag == 0), at most timeout_s. */
int su_index_ready(sutra_db *db, double timeout_s);

/* The disk's fsync rate with files threads (1..16) each rewriting 4 KiB
 * of its own file + fdatasync for seconds: syncs per second summed, or < 0
 * (bu_lasterr). Against files = 1 it shows whether the disk overlaps
 * fdatasyncs of different files, which is what syncing shards in parallel
 * counts on. */
double su_fsync_parallel(const char *dir, int files, double seconds);

/* Latency percentiles of n samples (ns), without changing v. */
void su_lat_extras(bench_result *r, const bu_lat *l);

/* One write by a concurrent writer: returns 0 or a SUTRA_E* code (the
 * message is in sutra_last_error). rng is the thread's own PRNG state. */
typedef int (*su_op_fn)(sutra_db *db, void *arg, uint64_t *rng);

/* What one window of concurrent writers measured (adds up over windows). */
typedef struct su_conc {
	uint64_t ops;       /* acknowledged inside the window */
	double seconds;     /* window length */
	double stop_wait_s; /* longest wait for the writers after a window */
	uint64_t fsyncs;    /* sutra_stats.wal_fsyncs over the window */
	uint64_t txn;       /* sutra_stats.txn_committed over the window */
	uint64_t *lat;      /* per-write ns, the first SU_LAT_CAP of each thread */
	size_t nlat;
} su_conc;
#define SU_LAT_CAP 4096

/* Runs threads writers calling fn(db, arg, rng) in a loop for seconds;
 * adds to out. Returns 0 or -1 (the first writer's error in bu_lasterr). */
int su_run_conc(sutra_db *db, int threads, double seconds, su_op_fn fn, void *arg, uint64_t seed,
                su_conc *out);
void su_conc_free(su_conc *c);

/* A result line for a failure of a section or a layout. */
void su_error(const char *variant, const char *engine, const char *msg);

/* ---- shards_data.c ------------------------------------------------------------------ */

/* The read section's inputs: concepts with clustered vectors, random
 * associations (by index), vector queries near the clusters, FindPath pairs
 * with their answer key (hop count by a plain BFS, -1 if none within
 * SB_MAX_DEPTH). All from o->seed. */
typedef struct sd_data {
	size_t nc, na, nq, np;
	sutra_id *id;
	char *content; /* nc * SB_CONTENT */
	float *vec;    /* nc * SB_DIM */
	uint32_t (*assoc)[2];
	uint8_t *type;
	float *query; /* nq * SB_DIM */
	uint32_t (*pair)[2];
	int *hops;
	double mean_hops;
	size_t far; /* pairs without a path within SB_MAX_DEPTH */
} sd_data;

int sd_make(sd_data *d, const sb_opts *o);
void sd_free(sd_data *d);
/* The exact top-SB_K (cosine) of query q, indices into out. */
void sd_exact(const sd_data *d, size_t q, uint32_t out[SB_K]);

/* ---- sections ------------------------------------------------------------------------ */

int sl_run(void *opts); /* shards_learn.c */
int sa_run(void *opts); /* shards_assoc.c */
int sr_run(void *opts); /* shards_read.c */

#endif
