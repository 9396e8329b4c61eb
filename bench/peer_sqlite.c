/* peer_sqlite.c - SQLite as a benchmark peer: one row per concept.
 *
 * The table is what a SQLite user would write for concepts keyed by a blob
 * id: concepts(id BLOB PRIMARY KEY, strength, confidence, created, updated,
 * content BLOB, vector BLOB) WITHOUT ROWID, in WAL mode. Durability "none"
 * is synchronous=OFF, "always" is synchronous=FULL (the WAL is synced at
 * every commit). A single write is an autocommit INSERT OR REPLACE (its own
 * transaction); a batch is BEGIN IMMEDIATE, n inserts, COMMIT. Each thread
 * gets its own connection (opened with SQLITE_OPEN_NOMUTEX since it is used
 * by that thread only) with a 60 s busy_timeout, so concurrent writers
 * queue on SQLite's write lock instead of failing. Reads are one prepared
 * SELECT by primary key that fetches every column.
 */
#include "peer.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sq_env {
	char path[4096];
	int durability;
	sqlite3 *db; /* keeps the database (and its WAL) open */
} sq_env;

typedef struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *ins, *sel, *begin, *commit;
} sq_conn;

static int sq_fail(sqlite3 *db, const char *what)
{
	return bu_err("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : "cannot allocate");
}

static const char *sq_version(void)
{
	return sqlite3_libversion();
}

static int sq_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(db, sql);
	return 0;
}

/* Opens one connection with the environment's settings. */
static int sq_connect(const sq_env *e, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(e->path, &db, flags, NULL) != SQLITE_OK) {
		sq_fail(db, "open");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 60000);
	if (sq_exec(db, "PRAGMA journal_mode=WAL") ||
	    sq_exec(db, e->durability == PEER_NONE ? "PRAGMA synchronous=OFF"
	                                           : "PRAGMA synchronous=FULL")) {
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

static int sq_open(const char *dir, const peer_cfg *cfg, void **out)
{
	sq_env *e = calloc(1, sizeof(*e));

	if (!e)
		return bu_err("out of memory");
	snprintf(e->path, sizeof(e->path), "%s/concepts.db", dir);
	e->durability = cfg->durability;
	if (sq_connect(e, &e->db))
		goto fail;
	if (sq_exec(e->db, "CREATE TABLE IF NOT EXISTS concepts(id BLOB PRIMARY KEY, "
	                   "strength REAL NOT NULL, confidence REAL NOT NULL, "
	                   "created INTEGER NOT NULL, updated INTEGER NOT NULL, "
	                   "content BLOB NOT NULL, vector BLOB) WITHOUT ROWID"))
		goto fail;
	*out = e;
	return 0;
fail:
	sqlite3_close(e->db);
	free(e);
	return -1;
}

static int sq_close(void *env)
{
	sq_env *e = env;
	int rc = sqlite3_close(e->db) == SQLITE_OK ? 0 : sq_fail(e->db, "close");

	free(e);
	return rc;
}

static void sq_conn_close(void *conn)
{
	sq_conn *c = conn;

	sqlite3_finalize(c->ins);
	sqlite3_finalize(c->sel);
	sqlite3_finalize(c->begin);
	sqlite3_finalize(c->commit);
	sqlite3_close(c->db);
	free(c);
}

static int sq_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return sq_fail(db, sql);
	return 0;
}

static int sq_conn_open(void *env, void **out)
{
	sq_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return bu_err("out of memory");
	if (sq_connect(env, &c->db)) {
		free(c);
		return -1;
	}
	if (sq_prepare(c->db, "INSERT OR REPLACE INTO concepts VALUES(?1,?2,?3,?4,?5,?6,?7)",
	               &c->ins) ||
	    sq_prepare(c->db,
	               "SELECT strength,confidence,created,updated,content,vector "
	               "FROM concepts WHERE id=?1",
	               &c->sel) ||
	    sq_prepare(c->db, "BEGIN IMMEDIATE", &c->begin) ||
	    sq_prepare(c->db, "COMMIT", &c->commit)) {
		sq_conn_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int sq_step_done(sq_conn *c, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(c->db, what);
	return 0;
}

static int sq_insert(sq_conn *c, const bench_rec *r)
{
	sqlite3_stmt *st = c->ins;
	sqlite3_int64 now = (sqlite3_int64)bu_wall_us();

	sqlite3_bind_blob(st, 1, r->id.b, SUTRA_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, r->strength);
	sqlite3_bind_double(st, 3, r->confidence);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_blob(st, 6, r->content, (int)r->content_len, SQLITE_STATIC);
	if (r->vector)
		sqlite3_bind_blob(st, 7, r->vector, (int)(r->dim * sizeof(float)), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	return sq_step_done(c, st, "insert");
}

static int sq_put(void *conn, const bench_rec *r)
{
	return sq_insert(conn, r);
}

static int sq_put_batch(void *conn, const bench_rec *r, size_t n)
{
	sq_conn *c = conn;

	if (sq_step_done(c, c->begin, "begin"))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (sq_insert(c, &r[i])) {
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return sq_step_done(c, c->commit, "commit");
}

static int sq_get(void *conn, const sutra_id *id, uint64_t *sum)
{
	sq_conn *c = conn;
	sqlite3_stmt *st = c->sel;
	const unsigned char *content;
	int rc, len;

	sqlite3_bind_blob(st, 1, id->b, SUTRA_ID_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? bu_err("sqlite get: not found") : sq_fail(c->db, "get");
	}
	*sum += (uint64_t)(sqlite3_column_double(st, 0) + sqlite3_column_double(st, 1));
	*sum += (uint64_t)(sqlite3_column_int64(st, 2) ^ sqlite3_column_int64(st, 3));
	content = sqlite3_column_blob(st, 4);
	len = sqlite3_column_bytes(st, 4);
	*sum += (uint64_t)len + (len ? content[0] + content[len - 1] : 0);
	*sum += (uint64_t)sqlite3_column_bytes(st, 5);
	sqlite3_reset(st);
	return 0;
}

const peer_ops peer_sqlite = {
    .name = "sqlite",
    .version = sq_version,
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .put = sq_put,
    .put_batch = sq_put_batch,
    .get = sq_get,
    .read_hold = NULL,
    .drain = NULL,
    .counters = NULL,
};
