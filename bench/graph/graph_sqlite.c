/* graph_sqlite.c - the peer: the same WordNet graph in SQLite, queried with plain SQL.
 *
 * Schema (what a user would write): concepts(id BLOB PRIMARY KEY, content)
 * WITHOUT ROWID, and edges(source, target, type, confidence) with an index on
 * (source, target) and one on (target, source), so that following an
 * association either way reads one index and never the table. The file is
 * in WAL mode with synchronous=FULL, and is loaded in one transaction (schema,
 * every concept, every association, one commit), then ANALYZEd (not timed).
 * The connection gets a 256 MiB page cache and a 1 GiB mmap, so the whole
 * database (tens of MB) is served from memory once warm: the figures compare
 * query execution, not I/O.
 *
 * Shortest hops: a recursive CTE breadth-first search over (node, depth)
 * with two recursive SELECTs (out along source -> target, in along target
 * -> source) bounded by depth < GB_MAX_DEPTH, and an outer
 * "WHERE node = :to LIMIT 1". SQLite runs a recursive CTE as a FIFO queue
 * and streams its rows into the outer query, so rows come out in order of
 * depth and the first row for :to carries the shortest hop count; LIMIT 1
 * stops the recursion there. UNION removes repeated (node, depth) rows, but
 * a node is still revisited at depths d + 2, d + 4, ... (the queue cannot
 * see what an earlier level held), which is what makes long paths slow.
 * A per-query time cap is enforced by a progress handler that interrupts
 * the statement (SQLITE_INTERRUPT), reported as capped.
 *
 * Neighbours: a UNION ALL of the two index lookups, every column read.
 * 2-hop: the same CTE with depth < 2, grouped by node with min(depth),
 * ordered by it, LIMIT GB_KHOP_LIMIT (what sutra_khop returns).
 */
#include "graph.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct gs_db {
	sqlite3 *db;
	sqlite3_stmt *hops, *nb, *khop;
	uint64_t deadline_ns; /* 0: no cap */
};

#define SQL_HOPS                                                                                   \
	"WITH RECURSIVE bfs(node, depth) AS ("                                                     \
	" SELECT ?1, 0"                                                                            \
	" UNION"                                                                                   \
	" SELECT e.target, b.depth + 1 FROM bfs b JOIN edges e ON e.source = b.node"               \
	"  WHERE b.depth < ?3"                                                                     \
	" UNION"                                                                                   \
	" SELECT e.source, b.depth + 1 FROM bfs b JOIN edges e ON e.target = b.node"               \
	"  WHERE b.depth < ?3)"                                                                    \
	" SELECT depth FROM bfs WHERE node = ?2 LIMIT 1"

#define SQL_NEIGHBORS                                                                              \
	"SELECT target, type, confidence FROM edges WHERE source = ?1"                             \
	" UNION ALL SELECT source, type, confidence FROM edges WHERE target = ?1"

#define SQL_KHOP                                                                                   \
	"WITH RECURSIVE k(node, depth) AS ("                                                       \
	" SELECT ?1, 0"                                                                            \
	" UNION"                                                                                   \
	" SELECT e.target, k.depth + 1 FROM k JOIN edges e ON e.source = k.node"                   \
	"  WHERE k.depth < ?2"                                                                     \
	" UNION"                                                                                   \
	" SELECT e.source, k.depth + 1 FROM k JOIN edges e ON e.target = k.node"                   \
	"  WHERE k.depth < ?2)"                                                                    \
	" SELECT node, min(depth) AS d FROM k WHERE node <> ?1 GROUP BY node ORDER BY d"           \
	" LIMIT ?3"

static int sq_err(gs_db *s, const char *what)
{
	return bu_err("sqlite %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(gs_db *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		bu_err("sqlite %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int on_progress(void *arg)
{
	gs_db *s = arg;

	return s->deadline_ns && bu_now_ns() > s->deadline_ns;
}

static int open_db(const char *path, gs_db **out)
{
	gs_db *s = calloc(1, sizeof(*s));

	*out = s;
	if (!s)
		return bu_err("out of memory");
	if (sqlite3_open(path, &s->db) != SQLITE_OK)
		return sq_err(s, "open");
	sqlite3_progress_handler(s->db, 1000, on_progress, s);
	return exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	               " PRAGMA cache_size=-262144; PRAGMA mmap_size=1073741824;"
	               " PRAGMA temp_store=MEMORY;");
}

static int load_concepts(gs_db *s, const gb_data *d)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(s->db, "INSERT INTO concepts(id, content) VALUES(?1, ?2)", -1, &st,
	                       NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	for (size_t i = 0; rc == 0 && i < d->nc; i++) {
		sqlite3_bind_blob(st, 1, d->c[i].id.b, SUTRA_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->c[i].content, (int)d->c[i].content_len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sq_err(s, "insert concept");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int load_edges(gs_db *s, const gb_data *d)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO edges(source, target, type, confidence)"
	                       " VALUES(?1, ?2, ?3, ?4)",
	                       -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	for (size_t i = 0; rc == 0 && i < d->na; i++) {
		const gb_assoc *a = &d->a[i];
		sqlite3_bind_blob(st, 1, d->c[a->src].id.b, SUTRA_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, d->c[a->dst].id.b, SUTRA_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, a->type);
		sqlite3_bind_double(st, 4, a->confidence);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sq_err(s, "insert edge");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int prepare_queries(gs_db *s)
{
	if (sqlite3_prepare_v2(s->db, SQL_HOPS, -1, &s->hops, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, SQL_NEIGHBORS, -1, &s->nb, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, SQL_KHOP, -1, &s->khop, NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	return 0;
}

int gs_create(const char *path, const gb_data *d, gs_db **out, double *seconds)
{
	uint64_t t0;

	if (open_db(path, out) < 0)
		return -1;
	t0 = bu_now_ns();
	if (exec(*out, "BEGIN;"
	               " CREATE TABLE concepts(id BLOB PRIMARY KEY, content TEXT) WITHOUT ROWID;"
	               " CREATE TABLE edges(source BLOB, target BLOB, type INTEGER,"
	               "  confidence REAL);"
	               " CREATE INDEX edges_source ON edges(source, target);"
	               " CREATE INDEX edges_target ON edges(target, source);") < 0 ||
	    load_concepts(*out, d) < 0 || load_edges(*out, d) < 0 || exec(*out, "COMMIT;") < 0)
		return -1;
	*seconds = (double)(bu_now_ns() - t0) / 1e9;
	if (exec(*out, "ANALYZE;") < 0)
		return -1;
	return prepare_queries(*out);
}

void gs_close(gs_db *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->hops);
	sqlite3_finalize(s->nb);
	sqlite3_finalize(s->khop);
	sqlite3_close(s->db);
	free(s);
}

int gs_warm(gs_db *s)
{
	return exec(s, "SELECT count(*), sum(length(content)) FROM concepts;"
	               " SELECT count(*) FROM edges INDEXED BY edges_source WHERE source > x'';"
	               " SELECT count(*) FROM edges INDEXED BY edges_target WHERE target > x'';"
	               " SELECT sum(type), sum(confidence) FROM edges;");
}

int gs_hops(gs_db *s, const sutra_id *a, const sutra_id *b, double cap_ms, int *hops)
{
	int rc;

	*hops = GB_NO_PATH;
	sqlite3_bind_blob(s->hops, 1, a->b, SUTRA_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s->hops, 2, b->b, SUTRA_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(s->hops, 3, GB_MAX_DEPTH);
	s->deadline_ns = cap_ms > 0 ? bu_now_ns() + (uint64_t)(cap_ms * 1e6) : 0;
	rc = sqlite3_step(s->hops);
	s->deadline_ns = 0;
	if (rc == SQLITE_ROW)
		*hops = sqlite3_column_int(s->hops, 0);
	sqlite3_reset(s->hops);
	if (rc == SQLITE_INTERRUPT)
		return 1;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_err(s, "shortest-path CTE");
	return 0;
}

int gs_neighbors(gs_db *s, const sutra_id *id, size_t *n)
{
	double sum = 0;
	int rc;

	*n = 0;
	sqlite3_bind_blob(s->nb, 1, id->b, SUTRA_ID_BYTES, SQLITE_STATIC);
	while ((rc = sqlite3_step(s->nb)) == SQLITE_ROW) {
		const void *other = sqlite3_column_blob(s->nb, 0);
		sum += sqlite3_column_int(s->nb, 1) + sqlite3_column_double(s->nb, 2);
		*n += other != NULL;
	}
	sqlite3_reset(s->nb);
	(void)sum;
	return rc == SQLITE_DONE ? 0 : sq_err(s, "neighbours");
}

int gs_khop(gs_db *s, const sutra_id *id, size_t *n)
{
	int rc;

	*n = 0;
	sqlite3_bind_blob(s->khop, 1, id->b, SUTRA_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(s->khop, 2, GB_KHOP_DEPTH);
	sqlite3_bind_int(s->khop, 3, GB_KHOP_LIMIT);
	while ((rc = sqlite3_step(s->khop)) == SQLITE_ROW)
		*n += sqlite3_column_blob(s->khop, 0) != NULL;
	sqlite3_reset(s->khop);
	return rc == SQLITE_DONE ? 0 : sq_err(s, "2-hop CTE");
}
