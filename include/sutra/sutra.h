/* sutra.h - public API of libsutra, the Sutra knowledge-graph memory engine.
 *
 * A store is a directory holding concepts (16-byte id, content, optional f32
 * vector of the store's dimension, strength, confidence, timestamps, string
 * metadata) and typed, weighted associations between them.
 *
 * Conventions (libuv/LMDB style):
 *  - Every call that can fail returns 0 or a negative SUTRA_E* code; results
 *    come back through out-parameters. sutra_strerror() names a code and
 *    sutra_last_error() gives the precise message of the last failure on the
 *    calling thread (setting/value/range, file/offset/reason, ...).
 *  - Ownership is stated at every pointer: "borrowed until X" or "caller
 *    frees with Y".
 *  - All functions are thread-safe. Readers never wait for writers; writers
 *    are applied one at a time in log order. A write that returned 0 is
 *    visible to every read that starts after the return, on any thread.
 */
#ifndef SUTRA_SUTRA_H
#define SUTRA_SUTRA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SUTRA_API __attribute__((visibility("default")))
#else
#define SUTRA_API
#endif

#define SUTRA_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum {
	SUTRA_OK = 0,
	SUTRA_EINVAL = -1,    /* bad argument or option; see sutra_last_error() */
	SUTRA_ENOMEM = -2,    /* allocation failed */
	SUTRA_EIO = -3,       /* I/O error (sticky for writes when from fsync/write) */
	SUTRA_ENOSPC = -4,    /* no space left on device (sticky like EIO) */
	SUTRA_ENOTFOUND = -5, /* no such concept or association */
	SUTRA_EBUSY = -6,     /* write queue full for longer than busy_timeout_ms */
	SUTRA_EREADONLY = -7, /* store turned read-only after a failed write/fsync */
	SUTRA_ECORRUPT = -8,  /* on-disk corruption detected; message says where */
	SUTRA_ELOCKED = -9,   /* the directory is open in another process */
	SUTRA_ETOOBIG = -10,  /* a value exceeds a configured limit */
	SUTRA_EVERSION = -11, /* unsupported on-disk format version */
	SUTRA_ECLOSED = -12,  /* the store is closing */
	SUTRA_EEXIST = -13    /* the id holds different content (SUTRA_LEARN_SAME_CONTENT) */
};

SUTRA_API const char *sutra_strerror(int err);
/* Message of the last failed call on this thread. Borrowed until the next
 * sutra_* call on this thread. Never NULL. */
SUTRA_API const char *sutra_last_error(void);

/* ---- identifiers --------------------------------------------------------- */

#define SUTRA_ID_BYTES 16
#define SUTRA_ID_HEX   33 /* 32 hex characters + NUL */

typedef struct sutra_id {
	uint8_t b[SUTRA_ID_BYTES];
} sutra_id;

/* Parses a client id string exactly as the Rust server did: odd length gets
 * a leading '0'; hex (any case) is decoded, <= 16 bytes copied to the front
 * of a zeroed id, longer input keeps the first 16 bytes; a string that is
 * not hex becomes the MD5 digest of its bytes. Never fails. */
SUTRA_API void sutra_id_parse(const char *s, size_t len, sutra_id *out);
/* Writes 32 lowercase hex characters and a NUL into out. */
SUTRA_API void sutra_id_format(const sutra_id *id, char out[SUTRA_ID_HEX]);
/* SipHash-1-3, keys (0,0), over content followed by one 0xFF byte. */
SUTRA_API uint64_t sutra_content_hash(const void *content, size_t len);
/* The id LearnConceptV2 stores: the 8 hash bytes (big-endian, as printed)
 * followed by 8 zero bytes. */
SUTRA_API void sutra_id_from_content(const void *content, size_t len, sutra_id *out);
/* The 16 hex characters LearnConceptV2 returns, plus NUL. */
SUTRA_API void sutra_content_hash_format(uint64_t h, char out[17]);

/* ---- options ------------------------------------------------------------- */

enum sutra_durability {
	SUTRA_DURABILITY_ALWAYS = 0,   /* acknowledge after fdatasync (group commit) */
	SUTRA_DURABILITY_INTERVAL = 1, /* fdatasync every interval_ms; loss window bounded */
	SUTRA_DURABILITY_NONE = 2      /* written to the OS in the background, never synced */
};

typedef struct sutra_options {
	uint32_t dimension;            /* vector dimension, 1..4096 (default 768) */
	int durability;                /* enum sutra_durability (default always) */
	uint32_t interval_ms;          /* for DURABILITY_INTERVAL, 1..60000 (default 1000) */
	uint64_t wal_segment_bytes;    /* 1 MiB..1 GiB (default 64 MiB) */
	uint64_t checkpoint_wal_bytes; /* checkpoint after this much WAL, 1 MiB..64 GiB, 0 = only on
	                                  demand (default 256 MiB) */
	uint64_t max_pending_bytes;    /* write queue cap (bytes not yet written), 64 KiB..4 GiB
	                                  (default 64 MiB) */
	uint32_t
	    busy_timeout_ms; /* wait for queue space before SUTRA_EBUSY, 0..600000 (default 5000) */
	uint32_t max_content_bytes; /* 0..10485760 (default 10485760) */
	uint32_t max_batch_ops;     /* operations per batch, 1..10000000 (default 1000000) */
	uint64_t max_batch_bytes;   /* encoded bytes per batch, 1 KiB..1 GiB (default 256 MiB) */
	uint32_t max_meta_bytes;    /* encoded metadata per concept, 0..1048576 (default 65536) */
	uint32_t sched_min_interval_ms;  /* background scheduler, 1..100 (default 1) */
	uint32_t sched_base_interval_ms; /* min..max (default 10) */
	uint32_t sched_max_interval_ms;  /* min..1000 (default 100) */
	int vector_index;                /* HNSW index for vector search, 0/1 (default 1) */
	uint32_t index_m;                /* HNSW links per node, 2..128 (default 16) */
	uint32_t index_ef_construction;  /* HNSW build candidates, index_m..4096 (default 200) */
	int vector_metric;               /* SUTRA_METRIC_* (default cosine); see sutra_hit */
	int create_if_missing;           /* default 1 */
	int repair; /* default 0: refuse to open on corruption before the WAL tail */
	/* Shards, 0..256 (default 0). A store created with 0 has one WAL in its
	 * directory; with N >= 1 it has N shards (shard_NNNN/, each its own WAL,
	 * checkpoint image and vector index), concepts routed by a stable hash of
	 * their id, and writes that span shards commit by two-phase commit. Opening an
	 * existing store: 0 takes the count it was created with, N must equal
	 * it (SUTRA_EINVAL otherwise). */
	uint32_t shards;
	uint32_t txn_timeout_ms; /* a cross-shard write that cannot prepare on every
	                            shard within this aborts, 1..600000 (default 5000) */
	/* Sharded stores: 1 (default) gives each shard its own vector index (saved
	 * in its directory; a search asks every shard and merges); 0 keeps one
	 * index over all shards at the store root (one graph to search: faster
	 * queries). Changing it rebuilds the index at the next open. */
	int vector_index_per_shard;
} sutra_options;

SUTRA_API void sutra_options_init(sutra_options *o);
/* Sets an option from text, as configuration files and flags do. Keys are
 * the field names above; durability takes "always", "none" or
 * "interval:<ms>". Sizes accept a K/M/G suffix. Returns SUTRA_EINVAL naming
 * the key, the value and the allowed range. */
SUTRA_API int sutra_options_set(sutra_options *o, const char *key, const char *value);
/* "cosine", "l2" or "ip" (the spelling sutra_options_set takes). */
SUTRA_API const char *sutra_metric_name(int metric);
/* Checks every field; SUTRA_EINVAL names the first bad one. */
SUTRA_API int sutra_options_validate(const sutra_options *o);

/* ---- open / close -------------------------------------------------------- */

typedef struct sutra_db sutra_db;

/* Opens (or creates) the store in dir. Recovers from the last checkpoint and
 * the WAL. A torn WAL tail is cut and reported in the stats; corruption
 * before the tail fails with SUTRA_ECORRUPT unless o->repair. The store's
 * dimension is fixed at creation; reopening with another fails. o may be
 * NULL for defaults. On success *out is owned by the caller: close it. */
SUTRA_API int sutra_open(const char *dir, const sutra_options *o, sutra_db **out);
/* Makes every write durable, stops background work and frees db. Returns
 * the sticky error if the store had turned read-only (db is freed anyway). */
SUTRA_API int sutra_close(sutra_db *db);

/* ---- writes -------------------------------------------------------------- */

#define SUTRA_ASSOC_SEMANTIC      0
#define SUTRA_ASSOC_CAUSAL        1
#define SUTRA_ASSOC_TEMPORAL      2
#define SUTRA_ASSOC_HIERARCHICAL  3
#define SUTRA_ASSOC_COMPOSITIONAL 4
#define SUTRA_ASSOC_TYPES         5

typedef struct sutra_meta_entry {
	const char *key;   /* NUL-terminated, 1..255 bytes */
	const char *value; /* NUL-terminated */
} sutra_meta_entry;

/* Learn flags. */
#define SUTRA_LEARN_SAME_CONTENT                                                                   \
	1u /* fail with SUTRA_EEXIST instead of replacing a concept                                \
	      whose content differs (content-hash ids) */

/* A concept to learn. All pointers are borrowed for the duration of the call
 * only; the engine copies what it keeps. */
typedef struct sutra_concept_in {
	sutra_id id;
	const void *content;
	size_t content_len;  /* <= max_content_bytes */
	const float *vector; /* NULL: no vector */
	uint32_t vector_dim; /* must equal the store's dimension when vector != NULL */
	float strength;      /* finite, >= 0 */
	float confidence;    /* 0..1 */
	const sutra_meta_entry *meta;
	size_t meta_count;
	unsigned flags; /* SUTRA_LEARN_* */
} sutra_concept_in;

/* Learning an existing id replaces its content, vector, strength, confidence
 * and metadata, keeps its creation time and all its associations. lsn (may
 * be NULL) receives the log sequence number of the write. */
SUTRA_API int sutra_learn(sutra_db *db, const sutra_concept_in *c, uint64_t *lsn);
/* Removes the concept and every association touching it. SUTRA_ENOTFOUND if
 * absent. */
SUTRA_API int sutra_delete(sutra_db *db, const sutra_id *id, uint64_t *lsn);
/* Creates or updates the association (source, target, type). Both concepts
 * must exist (SUTRA_ENOTFOUND otherwise). type 0..4, confidence 0..1. */
SUTRA_API int sutra_associate(sutra_db *db, const sutra_id *source, const sutra_id *target,
                              unsigned type, float confidence, uint64_t *lsn);
/* Removes one association. SUTRA_ENOTFOUND if absent. */
SUTRA_API int sutra_dissociate(sutra_db *db, const sutra_id *source, const sutra_id *target,
                               unsigned type, uint64_t *lsn);

/* A batch: operations applied atomically (all or none, across crashes too)
 * in the order they were added. Readers running while a batch is applied
 * may see part of it; every read that starts after the commit returns sees
 * all of it. Adding copies the inputs. A batch is owned
 * by the caller (sutra_batch_free) and may be committed once; clear it to
 * reuse it. */
typedef struct sutra_batch sutra_batch;
SUTRA_API int sutra_batch_new(sutra_batch **out);
SUTRA_API void sutra_batch_free(sutra_batch *b);
SUTRA_API void sutra_batch_clear(sutra_batch *b);
SUTRA_API size_t sutra_batch_count(const sutra_batch *b);
SUTRA_API int sutra_batch_learn(sutra_batch *b, const sutra_concept_in *c);
SUTRA_API int sutra_batch_delete(sutra_batch *b, const sutra_id *id);
SUTRA_API int sutra_batch_associate(sutra_batch *b, const sutra_id *source, const sutra_id *target,
                                    unsigned type, float confidence);
SUTRA_API int sutra_batch_dissociate(sutra_batch *b, const sutra_id *source, const sutra_id *target,
                                     unsigned type);
/* Validates every operation against the store and the earlier operations
 * of the batch, then logs and applies them as one record. On any error
 * nothing is applied. */
SUTRA_API int sutra_batch_commit(sutra_db *db, sutra_batch *b, uint64_t *lsn);

/* Commits without blocking the caller: cb runs once the batch is applied
 * (batches committed from one thread are applied in the order submitted)
 * and (per durability) durable, or failed, on an engine thread; it must not
 * block. msg is the error message (borrowed for the call) when rc < 0. The
 * batch stays owned by the caller and must not be touched until cb runs. */
typedef void (*sutra_commit_fn)(void *arg, int rc, uint64_t lsn, const char *msg);
SUTRA_API int sutra_batch_commit_async(sutra_db *db, sutra_batch *b, sutra_commit_fn cb, void *arg);

/* Waits until every write acknowledged so far is on disk (any durability). */
SUTRA_API int sutra_sync(sutra_db *db);
/* Writes a checkpoint now and removes WAL segments it covers. */
SUTRA_API int sutra_checkpoint(sutra_db *db);

/* ---- reads --------------------------------------------------------------- */

/* A concept as read. In a copy from sutra_get every pointer points into the
 * same allocation; in a view passed to a scan callback everything is
 * borrowed until the callback returns. */
typedef struct sutra_concept {
	sutra_id id;
	const char *content; /* content_len bytes followed by a NUL */
	size_t content_len;
	const float *vector; /* NULL or vector_dim floats */
	uint32_t vector_dim;
	float strength;
	float confidence;
	uint64_t created_us; /* microseconds since the Unix epoch */
	uint64_t updated_us;
	uint32_t meta_count;
	uint32_t out_degree;
	uint32_t in_degree;
	const void *meta_blob; /* iterate with sutra_meta_next */
	size_t meta_blob_len;
} sutra_concept;

/* Copies the concept into one allocation. Caller frees with
 * sutra_concept_free. SUTRA_ENOTFOUND if absent. */
SUTRA_API int sutra_get(sutra_db *db, const sutra_id *id, sutra_concept **out);
SUTRA_API void sutra_concept_free(sutra_concept *c);
/* 1 if the concept exists, 0 if not. */
SUTRA_API int sutra_exists(sutra_db *db, const sutra_id *id);
/* Iterates metadata: start with *pos = 0; returns 1 and sets key/value
 * (NUL-terminated, borrowed like the concept) while entries remain, then 0. */
SUTRA_API int sutra_meta_next(const sutra_concept *c, size_t *pos, const char **key,
                              const char **value);

#define SUTRA_DIR_OUT  1
#define SUTRA_DIR_IN   2
#define SUTRA_DIR_BOTH 3
#define SUTRA_TYPE_ANY (-1)

typedef struct sutra_neighbor {
	sutra_id id; /* the other endpoint */
	float confidence;
	uint8_t type;      /* SUTRA_ASSOC_* */
	uint8_t direction; /* SUTRA_DIR_OUT: id is the target; SUTRA_DIR_IN: id is the source */
} sutra_neighbor;

/* Fills up to cap neighbours of id (direction mask, type or SUTRA_TYPE_ANY)
 * into out (caller-owned) and sets *total to the number that match, which
 * may exceed cap. SUTRA_ENOTFOUND if the concept is absent. */
SUTRA_API int sutra_neighbors(sutra_db *db, const sutra_id *id, int direction, int type,
                              sutra_neighbor *out, size_t cap, size_t *total);

/* Calls fn for every concept, in no particular order, on a consistent view
 * of each concept. The view is borrowed until fn returns; fn returns
 * non-zero to stop (that value is returned). Writers are not blocked. */
typedef int (*sutra_scan_fn)(void *ctx, const sutra_concept *c);
SUTRA_API int sutra_scan(sutra_db *db, sutra_scan_fn fn, void *ctx);
/* Calls fn for every association (each once, from its source). */
typedef int (*sutra_assoc_fn)(void *ctx, const sutra_id *source, const sutra_id *target,
                              unsigned type, float confidence);
SUTRA_API int sutra_scan_associations(sutra_db *db, sutra_assoc_fn fn, void *ctx);

/* ---- queries --------------------------------------------------------------- */

#define SUTRA_METRIC_COSINE 0
#define SUTRA_METRIC_L2     1
#define SUTRA_METRIC_IP     2

typedef struct sutra_hit {
	sutra_id id;
	/* Higher is nearer: cosine similarity (SUTRA_METRIC_COSINE), the dot
	 * product (SUTRA_METRIC_IP), or minus the squared Euclidean distance
	 * (SUTRA_METRIC_L2). */
	float similarity;
} sutra_hit;

/* The k concepts whose vectors are most similar to query (vector_metric), best
 * first, into out (caller-owned, room for k). dim must equal the store's
 * dimension (SUTRA_EINVAL otherwise); k 1..1000 (SUTRA_ETOOBIG above);
 * ef_search is the candidate-list size of the index (max(ef_search, k)).
 * *n gets the number of hits (< k when fewer vectors exist). */
SUTRA_API int sutra_vector_search(sutra_db *db, const float *query, uint32_t dim, uint32_t k,
                                  uint32_t ef_search, sutra_hit *out, size_t *n);

/* A condition on the concepts a vector search may return; every condition
 * set must hold (AND). Pointers are borrowed for the duration of the call. */
typedef struct sutra_vector_filter {
	/* Metadata: meta_key = meta_value (NULL meta_key: no condition). */
	const char *meta_key;
	const char *meta_value;
	/* Reachability: the concept lies within reach_depth (1..20) hops of
	 * *reach_from, following associations of reach_type (SUTRA_TYPE_ANY:
	 * every type) in reach_direction (SUTRA_DIR_OUT: source to target, IN,
	 * BOTH). reach_from itself does not match. NULL: no condition. The walk
	 * visits at most SUTRA_MAX_FILTER_REACH concepts (SUTRA_ETOOBIG). */
	const sutra_id *reach_from;
	int reach_type;
	int reach_direction;
	uint32_t reach_depth;
	/* An explicit set: one of ids[0..id_count) (at most SUTRA_MAX_FILTER_IDS;
	 * NULL ids: no condition). */
	const sutra_id *ids;
	size_t id_count;
} sutra_vector_filter;

#define SUTRA_MAX_FILTER_IDS   100000
#define SUTRA_MAX_FILTER_REACH 1000000

/* sutra_vector_search restricted to the concepts filter accepts (NULL: all).
 * The predicate is applied during the index traversal; when it is very
 * selective, or the traversal finds fewer than k, the search scans the
 * matching concepts exactly, so it returns k hits whenever k matching
 * vectors exist. */
SUTRA_API int sutra_vector_search_filtered(sutra_db *db, const float *query, uint32_t dim,
                                           uint32_t k, uint32_t ef_search,
                                           const sutra_vector_filter *filter, sutra_hit *out,
                                           size_t *n);

#define SUTRA_MAX_PATH_DEPTH 20

/* Shortest path by hops from `from` to `to`, following associations in
 * both directions, with at most max_depth (0..20) edges. On success path
 * (caller-owned, room for max_depth + 1 ids) holds from ... to and *len
 * its length; from == to gives [from]. SUTRA_ENOTFOUND when no path exists
 * within max_depth or either concept is absent. */
SUTRA_API int sutra_find_path(sutra_db *db, const sutra_id *from, const sutra_id *to,
                              uint32_t max_depth, sutra_id *path, size_t *len);

/* ---- graph queries ---------------------------------------------------------
 * Every traversal is bounded by its depth (<= 20 edges), its result count
 * and a budget of visited concepts; reaching a bound sets *truncated (or
 * the call fails with SUTRA_ETOOBIG where the answer would be wrong). */

/* Which associations a traversal follows. Initialise with
 * sutra_graph_query_init: every type, both directions, depth 20. */
typedef struct sutra_graph_query {
	int type;             /* SUTRA_ASSOC_* or SUTRA_TYPE_ANY */
	int direction;        /* SUTRA_DIR_OUT (source to target), IN, BOTH */
	uint32_t max_depth;   /* 0..20 edges */
	uint64_t max_visited; /* concepts a traversal may visit (default 1,000,000) */
} sutra_graph_query;

#define SUTRA_MAX_VISITED_DEFAULT 1000000

SUTRA_API void sutra_graph_query_init(sutra_graph_query *q);

/* Shortest path by hops from `from` to `to` over the associations q
 * allows (bidirectional BFS). path (caller-owned, room for max_depth + 1)
 * gets from ... to; from == to gives [from]. SUTRA_ENOTFOUND when there is
 * no such path within max_depth (or an end is absent); SUTRA_ETOOBIG when
 * the visit budget ran out first. */
SUTRA_API int sutra_find_path_ex(sutra_db *db, const sutra_id *from, const sutra_id *to,
                                 const sutra_graph_query *q, sutra_id *path, size_t *len);

/* A set of paths: path i is ids[start[i] .. start[i + 1]). */
typedef struct sutra_paths {
	sutra_id *ids;
	size_t *start; /* count + 1 entries */
	size_t count;
	int truncated; /* a bound (max_paths, visit budget) cut the answer */
} sutra_paths;

/* Up to max_paths (1..1000) distinct paths from `from` to `to`: every
 * shortest path first; with k_shortest set, further simple paths by
 * increasing length up to max_depth (Yen's algorithm). Free with
 * sutra_paths_free. */
SUTRA_API int sutra_find_paths(sutra_db *db, const sutra_id *from, const sutra_id *to,
                               const sutra_graph_query *q, uint32_t max_paths, int k_shortest,
                               sutra_paths **out);
SUTRA_API void sutra_paths_free(sutra_paths *p);

/* The most confident path: the one maximising the product of its
 * associations' confidences (Dijkstra on -log confidence), with at most
 * max_depth edges. *confidence gets the product. */
SUTRA_API int sutra_find_best_path(sutra_db *db, const sutra_id *from, const sutra_id *to,
                                   const sutra_graph_query *q, sutra_id *path, size_t *len,
                                   double *confidence);

typedef struct sutra_khop_hit {
	sutra_id id;
	uint32_t depth;    /* hops from the start */
	double confidence; /* product of confidences along the BFS tree's path */
} sutra_khop_hit;

/* The concepts within q->max_depth hops of `from` (excluded), nearest
 * first, at most cap of them into out; *truncated when more exist. */
SUTRA_API int sutra_khop(sutra_db *db, const sutra_id *from, const sutra_graph_query *q,
                         sutra_khop_hit *out, size_t cap, size_t *n, int *truncated);

typedef struct sutra_hybrid_hit {
	sutra_id id;
	float score;            /* the ranking score, see sutra_hybrid_search */
	float similarity;       /* of the best seed it was reached from */
	double path_confidence; /* product of confidences from that seed (1 for a seed) */
	uint32_t hops;          /* from that seed */
} sutra_hybrid_hit;

/* Hybrid search: the k_seeds nearest vectors (as sutra_vector_search), then
 * every concept within q->max_depth hops of a seed; each concept is scored
 * max over seeds of similarity(seed) * path_confidence * decay^hops, with
 * decay = 0.85, and the best cap are returned, best first. */
SUTRA_API int sutra_hybrid_search(sutra_db *db, const float *query, uint32_t dim, uint32_t k_seeds,
                                  uint32_t ef_search, const sutra_graph_query *q,
                                  sutra_hybrid_hit *out, size_t cap, size_t *n, int *truncated);

/* ---- stats --------------------------------------------------------------- */

typedef struct sutra_stats {
	/* contents */
	uint64_t concepts, associations, vectors;
	uint64_t content_bytes, vector_bytes, meta_bytes;
	uint64_t vectors_indexed;   /* slots in the vector index (updates add slots) */
	uint64_t index_lag;         /* vector changes the index has not taken in yet */
	uint64_t index_ready;       /* 1 once the index serves searches (exact before) */
	uint64_t index_loaded;      /* 1 when it was opened from its file, not rebuilt */
	uint64_t index_open_us;     /* time to map and check that file at open */
	uint64_t index_deleted;     /* tombstoned slots (replaced or deleted vectors) */
	uint64_t index_compactions; /* rebuilds that dropped the tombstones */
	/* writes */
	uint64_t ops_written;     /* operations acknowledged since open */
	uint64_t records_written; /* WAL records (a batch is one) */
	uint64_t ops_dropped;     /* always 0: writes are refused, never dropped */
	uint64_t busy_rejections; /* SUTRA_EBUSY answers */
	/* WAL */
	uint64_t wal_next_lsn, wal_durable_lsn;
	uint64_t wal_segments, wal_bytes; /* on disk now */
	uint64_t wal_fsyncs, wal_writes;
	uint64_t pending_records, pending_bytes; /* queued, not yet written */
	/* checkpoints */
	uint64_t checkpoint_lsn, checkpoints, checkpoint_bytes, checkpoint_last_us;
	/* recovery at open */
	uint64_t recovery_replayed, recovery_torn_bytes, recovery_skipped_ops, recovery_us;
	/* health */
	int read_only;    /* 1 after a failed fsync/write */
	int sticky_error; /* the SUTRA_E* that caused it, else 0 */
	char sticky_message[256];
	/* background scheduler (the adaptive reconciler's figures) */
	uint64_t sched_cycles;
	double queue_depth;     /* records queued now */
	double queue_ema;       /* EMA of the queue depth (alpha 0.3) */
	double utilization;     /* queue bytes / max_pending_bytes, 0..1 */
	double interval_ms;     /* current scheduler interval */
	double processing_rate; /* records made durable per second (EMA) */
	double predicted_depth; /* queue depth expected at the next cycle */
	double estimated_lag_ms;
	double health_score;        /* 0..1 */
	const char *recommendation; /* static text */
	uint64_t uptime_us;
	/* shards (0: single layout) and cross-shard writes (two-phase commit);
	 * WAL figures above are summed over the shards, wal_next_lsn and
	 * wal_durable_lsn are global sequence numbers */
	uint32_t shards;
	uint64_t txn_active;    /* started, not yet decided and finished */
	uint64_t txn_preparing; /* queueing their PREPARE records */
	uint64_t txn_prepared;  /* every PREPARE queued, decision pending */
	uint64_t txn_committed, txn_aborted;
	uint64_t txn_timed_out; /* aborted: a shard could not prepare within txn_timeout_ms */
	uint64_t txn_recovered; /* in doubt at open, resolved by recovery */
} sutra_stats;

SUTRA_API int sutra_stats_get(sutra_db *db, sutra_stats *out);

/* One shard's figures. */
typedef struct sutra_shard_stats {
	uint64_t concepts, vectors;
	uint64_t associations; /* whose source lives in this shard */
	uint64_t wal_next_lsn, wal_durable_lsn;
	uint64_t wal_segments, wal_bytes, wal_fsyncs, wal_writes;
	uint64_t pending_records, pending_bytes;
} sutra_shard_stats;

/* Figures of every shard into out[0 .. min(cap, shards)) (caller-owned);
 * *n gets the shard count (0 for a store that is not sharded). */
SUTRA_API int sutra_shard_stats_get(sutra_db *db, sutra_shard_stats *out, size_t cap, uint32_t *n);
/* The shard a concept id routes to among n shards (stable on disk). */
SUTRA_API uint32_t sutra_shard_of(const sutra_id *id, uint32_t n);
/* 0 if the store accepts writes; else the sticky error. */
SUTRA_API int sutra_health(sutra_db *db);

#ifdef __cplusplus
}
#endif
#endif /* SUTRA_SUTRA_H */
