/* peer_sutra.c - libsutra behind the benchmark peer interface.
 *
 * Sutra is driven only through its public header, exactly as an embedding
 * application would: sutra_open with durability none or always (the default,
 * group commit) and the vector index off (these benchmarks compare storage;
 * the peers keep vectors as bytes too), one sutra_learn per write, sutra_batch_* + commit for a
 * batch, sutra_get + sutra_concept_free for a read. All threads share one
 * sutra_db (the API is thread-safe), so a connection is just the db plus a
 * reusable batch. With durability none the engine may still hold queued
 * records when the last sutra_learn returns; drain waits (polling
 * sutra_stats_get) until pending_records is 0, i.e. everything has been
 * handed to the OS, so its throughput is measured to the same point as the
 * peers', which write in the caller's thread.
 */
#include "peer.h"

#include <stdlib.h>
#include <time.h>

typedef struct su_conn {
	sutra_db *db;
	sutra_batch *batch;
} su_conn;

static int su_fail(const char *what, int rc)
{
	return bu_err("%s: %s: %s", what, sutra_strerror(rc), sutra_last_error());
}

static const char *su_version(void)
{
	return SUTRA_VERSION_STRING;
}

static int su_open(const char *dir, const peer_cfg *cfg, void **out)
{
	sutra_options o;
	sutra_db *db;
	int rc;

	sutra_options_init(&o);
	if (cfg->dim)
		o.dimension = cfg->dim;
	o.durability =
	    cfg->durability == PEER_NONE ? SUTRA_DURABILITY_NONE : SUTRA_DURABILITY_ALWAYS;
	/* Storage only, like the peers: no vector index (it has its own
	 * benchmark). Ignored by engines without the option. */
	(void)sutra_options_set(&o, "vector_index", "0");
	if ((rc = sutra_open(dir, &o, &db)))
		return su_fail("sutra_open", rc);
	*out = db;
	return 0;
}

static int su_close(void *env)
{
	int rc = sutra_close(env);

	return rc ? su_fail("sutra_close", rc) : 0;
}

static int su_conn_open(void *env, void **out)
{
	su_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return bu_err("out of memory");
	c->db = env;
	if ((rc = sutra_batch_new(&c->batch))) {
		free(c);
		return su_fail("sutra_batch_new", rc);
	}
	*out = c;
	return 0;
}

static void su_conn_close(void *conn)
{
	su_conn *c = conn;

	sutra_batch_free(c->batch);
	free(c);
}

static void su_in(const bench_rec *r, sutra_concept_in *in)
{
	in->id = r->id;
	in->content = r->content;
	in->content_len = r->content_len;
	in->vector = r->vector;
	in->vector_dim = r->vector ? r->dim : 0;
	in->strength = r->strength;
	in->confidence = r->confidence;
	in->meta = NULL;
	in->meta_count = 0;
}

static int su_put(void *conn, const bench_rec *r)
{
	su_conn *c = conn;
	sutra_concept_in in;
	int rc;

	su_in(r, &in);
	if ((rc = sutra_learn(c->db, &in, NULL)))
		return su_fail("sutra_learn", rc);
	return 0;
}

static int su_put_batch(void *conn, const bench_rec *r, size_t n)
{
	su_conn *c = conn;
	sutra_concept_in in;
	int rc;

	sutra_batch_clear(c->batch);
	for (size_t i = 0; i < n; i++) {
		su_in(&r[i], &in);
		if ((rc = sutra_batch_learn(c->batch, &in)))
			return su_fail("sutra_batch_learn", rc);
	}
	if ((rc = sutra_batch_commit(c->db, c->batch, NULL)))
		return su_fail("sutra_batch_commit", rc);
	return 0;
}

static int su_get(void *conn, const sutra_id *id, uint64_t *sum)
{
	su_conn *c = conn;
	sutra_concept *k;
	int rc;

	if ((rc = sutra_get(c->db, id, &k)))
		return su_fail("sutra_get", rc);
	*sum += (uint64_t)(k->strength + k->confidence) + (k->created_us ^ k->updated_us);
	*sum += k->content_len + (unsigned char)k->content[0] +
	        (k->content_len ? (unsigned char)k->content[k->content_len - 1] : 0);
	*sum += k->vector ? k->vector_dim : 0;
	sutra_concept_free(k);
	return 0;
}

static int su_drain(void *env)
{
	struct timespec ts = {0, 50000};
	sutra_stats st;
	int rc;

	for (;;) {
		if ((rc = sutra_stats_get(env, &st)))
			return su_fail("sutra_stats_get", rc);
		if (st.pending_records == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
}

static int su_counters(void *env, peer_counters *c)
{
	sutra_stats st;
	int rc;

	if ((rc = sutra_stats_get(env, &st)))
		return su_fail("sutra_stats_get", rc);
	c->fsyncs = st.wal_fsyncs;
	c->writes = st.ops_written;
	c->checkpoints = st.checkpoints;
	c->checkpoint_bytes = st.checkpoint_bytes;
	return 0;
}

const peer_ops peer_sutra = {
    .name = "sutra",
    .version = su_version,
    .open = su_open,
    .close = su_close,
    .conn_open = su_conn_open,
    .conn_close = su_conn_close,
    .put = su_put,
    .put_batch = su_put_batch,
    .get = su_get,
    .read_hold = NULL,
    .drain = su_drain,
    .counters = su_counters,
};
