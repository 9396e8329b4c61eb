/* peer.h - one small interface over the engines compared: Sutra, LMDB, SQLite.
 *
 * The workloads in bench_store.c are written once against this table of
 * functions, so every engine gets exactly the same records in the same order
 * with the same transaction boundaries. An engine is opened in its own fresh
 * directory with a durability mode; each writer or reader thread opens a
 * connection (Sutra and LMDB share the environment, SQLite opens one
 * sqlite3 connection per thread, as its documentation asks). Writes are
 * upserts of one concept: key = 16-byte id, value = strength, confidence,
 * created/updated timestamps, content and the optional vector (the peers store
 * them in one value or row; Sutra keeps them in its own structures).
 *
 * Every function returns 0 or -1 with the reason in bu_lasterr().
 */
#ifndef SUTRA_BENCH_PEER_H
#define SUTRA_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

enum peer_durability {
	PEER_NONE = 0,  /* written to the OS, never synced (each write still its own txn) */
	PEER_ALWAYS = 1 /* a commit returns after its data is on disk */
};

typedef struct peer_cfg {
	uint32_t dim;    /* vector dimension of the records (0: none) */
	int durability;  /* enum peer_durability */
	uint64_t n_hint; /* expected number of records (sizes LMDB's map) */
} peer_cfg;

typedef struct peer_counters {
	uint64_t fsyncs;           /* log syncs issued */
	uint64_t writes;           /* operations acknowledged */
	uint64_t checkpoints;      /* checkpoints written */
	uint64_t checkpoint_bytes; /* size of the last one */
} peer_counters;

typedef struct peer_ops {
	const char *name;
	const char *(*version)(void);
	int (*open)(const char *dir, const peer_cfg *cfg, void **env);
	int (*close)(void *env);
	/* A handle for one thread; closed before the environment. */
	int (*conn_open)(void *env, void **conn);
	void (*conn_close)(void *conn);
	/* One write, its own transaction. */
	int (*put)(void *conn, const bench_rec *r);
	/* n writes in one transaction. */
	int (*put_batch)(void *conn, const bench_rec *r, size_t n);
	/* Point read by id; adds the value's length and a few of its bytes to
	 * *sum (so the read cannot be optimised away and touches the data). A
	 * missing id is an error. */
	int (*get)(void *conn, const sutra_id *id, uint64_t *sum);
	/* Optional (NULL when meaningless): hold one read transaction open
	 * across subsequent gets (on = 1) or go back to one per get (0). */
	int (*read_hold)(void *conn, int on);
	/* Optional: waits until every acknowledged write has been handed to
	 * the OS (not synced). Engines that write in the caller's thread have
	 * nothing pending and leave it NULL. */
	int (*drain)(void *env);
	/* Optional: the engine's own counters since open (writes per fsync
	 * show group commit at work; checkpoints taken during a run explain
	 * its write amplification). */
	int (*counters)(void *env, struct peer_counters *c);
} peer_ops;

extern const peer_ops peer_sutra;
extern const peer_ops peer_lmdb;
extern const peer_ops peer_sqlite;

#endif
