/* peer_lmdb.c - LMDB as a benchmark peer: one key/value pair per concept.
 *
 * The concept is stored the way an LMDB user would store it: key = the
 * 16-byte id, value = [f32 strength][f32 confidence][u64 created_us]
 * [u64 updated_us][content][vector floats], in the unnamed database of an
 * environment opened in the engine's own directory. Durability "none" opens
 * the environment with MDB_NOSYNC (commits write to the OS, never sync);
 * "always" uses the defaults, so every commit fdatasyncs its pages and meta.
 * One write = one write transaction; a batch = n puts in one transaction.
 * Reads renew one reset read-only transaction per get (mdb_txn_reset /
 * mdb_txn_renew, the cheap LMDB idiom for a fresh snapshot per read), or,
 * with read_hold, keep one read transaction open across gets.
 */
#include "peer.h"

#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_env {
	MDB_env *env;
	MDB_dbi dbi;
} lm_env;

typedef struct lm_conn {
	lm_env *e;
	MDB_txn *rtxn; /* reusable read transaction */
	int rtxn_live; /* 1 while rtxn holds a snapshot */
	int hold;      /* keep rtxn live across gets */
	uint8_t *buf;  /* value encoding buffer */
	size_t cap;
} lm_conn;

static int lm_fail(const char *what, int rc)
{
	return bu_err("lmdb %s: %s", what, mdb_strerror(rc));
}

static const char *lm_version(void)
{
	return mdb_version(NULL, NULL, NULL);
}

static int lm_open(const char *dir, const peer_cfg *cfg, void **out)
{
	lm_env *e = calloc(1, sizeof(*e));
	unsigned flags = cfg->durability == PEER_NONE ? MDB_NOSYNC | MDB_NOMETASYNC : 0;
	MDB_txn *txn;
	int rc;

	if (!e)
		return bu_err("out of memory");
	if ((rc = mdb_env_create(&e->env)))
		goto fail_free;
	/* Address space only: the file grows as pages are written. */
	mdb_env_set_mapsize(e->env, (size_t)64 << 30);
	mdb_env_set_maxreaders(e->env, 256);
	if ((rc = mdb_env_open(e->env, dir, flags, 0644)))
		goto fail;
	if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn)))
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &e->dbi)) || (rc = mdb_txn_commit(txn)))
		goto fail;
	*out = e;
	return 0;
fail:
	mdb_env_close(e->env);
fail_free:
	free(e);
	return lm_fail("open", rc);
}

static int lm_close(void *env)
{
	lm_env *e = env;

	mdb_env_close(e->env);
	free(e);
	return 0;
}

static int lm_conn_open(void *env, void **out)
{
	lm_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return bu_err("out of memory");
	c->e = env;
	*out = c;
	return 0;
}

static void lm_conn_close(void *conn)
{
	lm_conn *c = conn;

	if (c->rtxn)
		mdb_txn_abort(c->rtxn);
	free(c->buf);
	free(c);
}

/* Encodes r into c->buf; returns the value. */
static int lm_encode(lm_conn *c, const bench_rec *r, MDB_val *v)
{
	size_t vec = r->vector ? (size_t)r->dim * sizeof(float) : 0;
	size_t need = 24 + r->content_len + vec;
	uint64_t now = bu_wall_us();
	uint8_t *p;

	if (need > c->cap) {
		p = realloc(c->buf, need);
		if (!p)
			return bu_err("out of memory");
		c->buf = p;
		c->cap = need;
	}
	p = c->buf;
	memcpy(p, &r->strength, 4);
	memcpy(p + 4, &r->confidence, 4);
	memcpy(p + 8, &now, 8);
	memcpy(p + 16, &now, 8);
	memcpy(p + 24, r->content, r->content_len);
	if (vec)
		memcpy(p + 24 + r->content_len, r->vector, vec);
	v->mv_data = c->buf;
	v->mv_size = need;
	return 0;
}

static int lm_put_txn(lm_conn *c, MDB_txn *txn, const bench_rec *r)
{
	MDB_val k = {SUTRA_ID_BYTES, (void *)r->id.b}, v;
	int rc;

	if (lm_encode(c, r, &v))
		return -1;
	if ((rc = mdb_put(txn, c->e->dbi, &k, &v, 0)))
		return lm_fail("put", rc);
	return 0;
}

static int lm_put_batch(void *conn, const bench_rec *r, size_t n)
{
	lm_conn *c = conn;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(c->e->env, NULL, 0, &txn)))
		return lm_fail("txn_begin", rc);
	for (size_t i = 0; i < n; i++) {
		if (lm_put_txn(c, txn, &r[i])) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	if ((rc = mdb_txn_commit(txn)))
		return lm_fail("commit", rc);
	return 0;
}

static int lm_put(void *conn, const bench_rec *r)
{
	return lm_put_batch(conn, r, 1);
}

/* Makes c->rtxn hold a fresh snapshot. */
static int lm_read_begin(lm_conn *c)
{
	int rc;

	if (c->rtxn_live)
		return 0;
	if (c->rtxn)
		rc = mdb_txn_renew(c->rtxn);
	else
		rc = mdb_txn_begin(c->e->env, NULL, MDB_RDONLY, &c->rtxn);
	if (rc)
		return lm_fail("read txn", rc);
	c->rtxn_live = 1;
	return 0;
}

static void lm_read_end(lm_conn *c)
{
	if (c->rtxn_live && !c->hold) {
		mdb_txn_reset(c->rtxn);
		c->rtxn_live = 0;
	}
}

static int lm_get(void *conn, const sutra_id *id, uint64_t *sum)
{
	lm_conn *c = conn;
	MDB_val k = {SUTRA_ID_BYTES, (void *)id->b}, v;
	const uint8_t *p;
	int rc;

	if (lm_read_begin(c))
		return -1;
	rc = mdb_get(c->rtxn, c->e->dbi, &k, &v);
	if (rc) {
		lm_read_end(c);
		return lm_fail("get", rc);
	}
	p = v.mv_data;
	*sum += v.mv_size + p[0] + p[8] + p[24] + p[v.mv_size - 1];
	lm_read_end(c);
	return 0;
}

static int lm_read_hold(void *conn, int on)
{
	lm_conn *c = conn;

	c->hold = on;
	if (!on)
		lm_read_end(c);
	return 0;
}

const peer_ops peer_lmdb = {
    .name = "lmdb",
    .version = lm_version,
    .open = lm_open,
    .close = lm_close,
    .conn_open = lm_conn_open,
    .conn_close = lm_conn_close,
    .put = lm_put,
    .put_batch = lm_put_batch,
    .get = lm_get,
    .read_hold = lm_read_hold,
    .drain = NULL,
    .counters = NULL,
};
