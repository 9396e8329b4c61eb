/* graph.h - shared declarations of sutra-bench-graph, the graph-query benchmark.
 *
 * WordNet 3.0 (Debian wordnet-base) goes through the project's own converter
 * (the built wordnet2jsonl) into JSONL once per run; the JSONL is parsed once
 * with sutra-import's own record parser (tools/jsonl/record.c) into plain
 * arrays (gb_data), so every engine receives exactly the same records:
 *  - graph_data.c runs the converter, parses the records, builds an
 *    undirected CSR of the associations, finds the largest connected
 *    component (union-find), draws the seeded query pairs and computes the
 *    answer key (a plain BFS on the CSR, written without any Sutra code);
 *  - graph_sqlite.c is the peer: the same graph in SQLite (WAL, one
 *    transaction), shortest hops by a recursive CTE with a depth limit,
 *    neighbours by a UNION ALL of two index lookups, 2-hop by a 2-level CTE;
 *  - graph_query.c is the in-process section: sutra_find_path,
 *    sutra_neighbors and sutra_khop against SQLite on the same inputs;
 *  - graph_floor.c is FindPath's floor: the same bidirectional BFS on the
 *    flat CSR (dense indices, no hashing), to show what the graph's shape
 *    alone costs;
 *  - graph_tcp.c starts the release sutra-server, imports through it with
 *    sutra-import --host/--port and times FindPath one request at a time;
 *  - graph_import.c times sutra-import (durability always and none), the
 *    batch API on pre-parsed records, and SQLite's load;
 *  - graph_util.c holds the latency statistics, the child-process runner
 *    and the summary table shared by the forked sections;
 *  - graph_main.c reads the options and runs each section in a forked
 *    process with a watchdog.
 */
#ifndef SUTRA_BENCH_GRAPH_H
#define SUTRA_BENCH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#define GB_MAX_DEPTH  20   /* FindPath depth, as the seed's */
#define GB_KHOP_DEPTH 2    /* the k-hop figure: 2 hops */
#define GB_KHOP_LIMIT 1000 /* at most this many k-hop results */
#define GB_BATCH      1000 /* records per batch, sutra-import's default */
#define GB_NO_PATH    (-1) /* no path within GB_MAX_DEPTH */

/* Targets of the issue. */
#define GB_FP_INPROC_P50_US 50.0
#define GB_FP_TCP_P50_US    150.0
#define GB_FP_VS_SQLITE     1000.0
#define GB_IMPORT_PER_S     500000.0

typedef struct gb_opts {
	int quick;
	size_t pairs;         /* query pairs (and start concepts) */
	int reps;             /* timed passes over them (Sutra) and import runs */
	size_t sqlite_pairs;  /* pairs SQLite's FindPath runs on (a prefix) */
	double sqlite_cap_ms; /* per-query time cap of SQLite's FindPath */
	uint64_t seed;
	const char *scratch; /* the run's own scratch directory */
	const char *bindir;  /* sutra-server, sutra-import, wordnet2jsonl */
	const char *wordnet; /* NULL: the converter's default */
} gb_opts;

/* One concept as every engine receives it; strings live in the data's arena. */
typedef struct gb_concept {
	sutra_id id;
	const char *content;
	size_t content_len;
	float strength, confidence;
	sutra_meta_entry *meta;
	size_t meta_count;
} gb_concept;

/* One association, by concept index. */
typedef struct gb_assoc {
	uint32_t src, dst;
	uint8_t type;
	float confidence;
} gb_assoc;

typedef struct gb_pair {
	uint32_t a, b;
	int hops; /* the answer key: shortest hops, or GB_NO_PATH */
} gb_pair;

typedef struct gb_data {
	char jsonl[1100];
	uint64_t jsonl_bytes;
	double convert_s, parse_s;
	size_t nc, na;
	gb_concept *c;
	gb_assoc *a;
	void *arena; /* strings and metadata arrays (graph_data.c) */
	/* id -> index (open addressing, power-of-two slots) */
	uint32_t *slot;
	size_t slot_mask;
	/* undirected CSR: neighbours of i are adj[off[i] .. off[i + 1]) */
	uint32_t *off, *adj;
	/* components */
	size_t ncomp, giant_n;
	uint32_t *giant; /* the concepts of the largest component */
	/* the query pairs; starts of neighbours and k-hop are pair[i].a */
	gb_pair *pair;
	size_t npairs;
	size_t far_pairs; /* pairs with no path within GB_MAX_DEPTH */
	double mean_hops;
	int max_hops;
	double bfs_s;
} gb_data;

/* ---- graph_data.c ----------------------------------------------------------- */

/* Converts WordNet with the built wordnet2jsonl into o->scratch/wordnet.jsonl,
 * parses it, builds the CSR, the component and the pairs. Returns 0 or -1
 * (bu_lasterr). */
int gd_load(gb_data *d, const gb_opts *o);
void gd_free(gb_data *d);
/* Index of a concept by id, or -1. */
long gd_find(const gb_data *d, const sutra_id *id);
/* 1 if i and j are joined by an association (either direction). */
int gd_adjacent(const gb_data *d, uint32_t i, uint32_t j);
/* Checks that ids[0..n) is a path from pair p's a to b using associations,
 * of length p->hops; 0 or -1 with the reason in why. */
int gd_check_path(const gb_data *d, const gb_pair *p, const sutra_id *ids, size_t n, char *why,
                  size_t whyn);

/* ---- graph_floor.c ------------------------------------------------------------ */

/* The same bidirectional BFS as sutra_find_path on the flat CSR: the floor. */
typedef struct gb_floor gb_floor;
gb_floor *gf_new(const gb_data *d); /* NULL: out of memory */
void gf_free(gb_floor *f);
/* Shortest hops from a to b within GB_MAX_DEPTH, or GB_NO_PATH; *visited
 * gets the concepts both frontiers added. */
int gf_hops(gb_floor *f, uint32_t a, uint32_t b, size_t *visited);

/* ---- graph_util.c ------------------------------------------------------------ */

/* Latency percentiles of n samples (ns), without changing v. */

/* Runs argv (argv[0] an absolute path) with stdout+stderr into log and waits;
 * *seconds gets the wall time from fork to exit. Returns the exit status
 * (0..255), or -1 on a signal or a spawn failure (bu_lasterr). */
int gu_run(char *const *argv, const char *log, double *seconds);
/* The first line of file that contains needle, into out; 0 or -1. */
int gu_grep(const char *file, const char *needle, char *out, size_t n);

/* Figures one section hands to a later one (shared memory, so forked
 * sections can; < 0: unset). The summary table is bu_summary_*. */
void gu_shared_init(void);
double gu_shared_get(const char *key);
void gu_shared_set(const char *key, double v);

/* Opens a fresh Sutra store in dir with durability (SUTRA_DURABILITY_*),
 * default options otherwise (as sutra-import --dir opens it). */
int gu_sutra_open(const char *dir, int durability, sutra_db **db);
/* Loads every concept, then every association, in batches of GB_BATCH
 * through sutra_batch_* (what sutra-import does after parsing). */
int gu_sutra_load(sutra_db *db, const gb_data *d);

/* ---- sections ------------------------------------------------------------------ */

typedef struct gb_ctx {
	const gb_opts *o;
	const gb_data *d;
} gb_ctx;

int gq_run(void *ctx); /* graph_query.c: in-process vs SQLite */
int gt_run(void *ctx); /* graph_tcp.c: over TCP */
int gi_run(void *ctx); /* graph_import.c: import */

/* ---- graph_sqlite.c -------------------------------------------------------------- */

typedef struct gs_db gs_db;

/* Creates the database file path (WAL, 256 MiB cache, mmap) and loads every
 * concept and association in one transaction; *seconds gets the load time. */
int gs_create(const char *path, const gb_data *d, gs_db **out, double *seconds);
void gs_close(gs_db *s);
/* Reads every table and index once (warm cache). */
int gs_warm(gs_db *s);
/* Shortest hops from a to b within GB_MAX_DEPTH by the recursive CTE:
 * *hops = GB_NO_PATH when none; returns 1 when the query hit cap_ms
 * (interrupted), 0 when it completed, -1 on an error (bu_lasterr). */
int gs_hops(gs_db *s, const sutra_id *a, const sutra_id *b, double cap_ms, int *hops);
/* Number of associations touching id (both directions), every column read. */
int gs_neighbors(gs_db *s, const sutra_id *id, size_t *n);
/* Concepts within GB_KHOP_DEPTH hops (start excluded), nearest first, at
 * most GB_KHOP_LIMIT; *n gets how many were returned. */
int gs_khop(gs_db *s, const sutra_id *id, size_t *n);

#endif
