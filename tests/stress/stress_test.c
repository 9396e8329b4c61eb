/* stress_test.c - concurrent readers and writers on one store: invariants at every instant,
 * visibility.
 *
 * Two writer threads learn, update, delete, associate, dissociate and commit
 * batches over a shared space of 512 ids (each writer learns and deletes
 * only the ids it owns, so the versions of an id grow in the order they are
 * applied; associations and dissociations touch any id). A concept at
 * version n always reads as content "id:<hex> v:<n>", a vector filled with
 * n, strength n % 1000, confidence (n % 101) / 100 and metadata v=<n>; a
 * delete also takes a version, so versions never repeat. Four reader
 * threads loop over get, exists, neighbors and scans, and check what must
 * hold at every instant: each concept is one consistent version of itself,
 * neighbour entries have a type 0..4, a direction and a confidence in
 * [0, 1], a reader never sees an id's version go backwards. Visibility:
 * after an acknowledged learn a writer publishes (id, version) in an atomic
 * slot; a reader that loads the slot and then gets the id must see that
 * version or a newer one, or find it absent only after a later delete was
 * issued. At the end each id must be exactly as its owner last left it, and
 * again after a close and reopen. Environment: SUTRA_STRESS_SECONDS
 * (default 3); SUTRA_STRESS_SHARDS=N runs on a store of N shards with
 * durability always, so the shards' commit queues, parallel syncs and
 * cross-shard commits run under the readers too.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define N_IDS   512
#define WRITERS 2
#define READERS 4
#define DIM     8
#define NB_CAP  64

static sutra_db *g_db;
static atomic_int g_stop;
static atomic_long g_errors;
static atomic_ullong g_published[WRITERS];   /* (id << 48) | version, 0 = none */
static atomic_ullong g_delete_intent[N_IDS]; /* highest version of a delete issued */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&g_errors, 1) >= 30)
		return;
	fprintf(stderr, "STRESS: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void make_id(int i, sutra_id *id)
{
	memset(id, 0x33, sizeof *id);
	id->b[0] = 'S';
	id->b[14] = (uint8_t)(i >> 8);
	id->b[15] = (uint8_t)i;
}

static int id_index(const sutra_id *id)
{
	int i = (id->b[14] << 8) | id->b[15];
	sutra_id want;

	if (i >= N_IDS)
		return -1;
	make_id(i, &want);
	return memcmp(&want, id, sizeof want) == 0 ? i : -1;
}

/* ---- what a version looks like ----------------------------------------------- */

struct body {
	char content[96];
	char vstr[24];
	float vec[DIM];
	sutra_meta_entry meta;
};

static void make_concept(int i, uint64_t v, struct body *b, sutra_concept_in *c)
{
	char hex[SUTRA_ID_HEX];

	memset(c, 0, sizeof *c);
	make_id(i, &c->id);
	sutra_id_format(&c->id, hex);
	snprintf(b->content, sizeof b->content, "id:%s v:%" PRIu64, hex, v);
	snprintf(b->vstr, sizeof b->vstr, "%" PRIu64, v);
	for (int k = 0; k < DIM; k++)
		b->vec[k] = (float)v;
	b->meta = (sutra_meta_entry){"v", b->vstr};
	c->content = b->content;
	c->content_len = strlen(b->content);
	c->vector = b->vec;
	c->vector_dim = DIM;
	c->strength = (float)(v % 1000);
	c->confidence = (float)(v % 101) / 100.0f;
	c->meta = &b->meta;
	c->meta_count = 1;
}

/* Checks that c is one consistent version of itself; returns it (0 if broken). */
static uint64_t check_consistent(const sutra_concept *c)
{
	char hex[SUTRA_ID_HEX], want[96];
	const char *k, *val;
	uint64_t v = 0;
	size_t pos = 0;
	int i = id_index(&c->id);

	sutra_id_format(&c->id, hex);
	if (i < 0 || sscanf(c->content, "id:%*32s v:%" SCNu64, &v) != 1 || v == 0) {
		fail("concept %s: unexpected content '%.80s'", hex, c->content);
		return 0;
	}
	snprintf(want, sizeof want, "id:%s v:%" PRIu64, hex, v);
	if (c->content_len != strlen(want) || strcmp(c->content, want) != 0)
		fail("concept %s: content '%.80s' is not its own", hex, c->content);
	for (int q = 0; c->vector && q < DIM && c->vector_dim == DIM; q++)
		if (c->vector[q] != (float)v) {
			fail("concept %s v%" PRIu64 ": vector[%d] = %g (torn?)", hex, v, q,
			     (double)c->vector[q]);
			break;
		}
	if (!c->vector || c->vector_dim != DIM)
		fail("concept %s v%" PRIu64 ": no vector", hex, v);
	if (c->strength != (float)(v % 1000) || c->confidence != (float)(v % 101) / 100.0f)
		fail("concept %s v%" PRIu64 ": strength/confidence of another version", hex, v);
	if (c->meta_count != 1 || sutra_meta_next(c, &pos, &k, &val) != 1 || strcmp(k, "v") != 0 ||
	    strtoull(val, NULL, 10) != v)
		fail("concept %s v%" PRIu64 ": metadata of another version", hex, v);
	return v;
}

/* ---- writers -------------------------------------------------------------------- */

struct writer {
	int w;
	uint64_t rng;
	uint64_t ver[N_IDS];   /* last version used, own ids */
	uint64_t state[N_IDS]; /* acknowledged: version present, 0 = absent */
	unsigned long ops, ok, refused;
	sutra_batch *b;
};

static int own_id(struct writer *wr)
{
	return (int)(tu_rand(&wr->rng) % (N_IDS / WRITERS)) * WRITERS + wr->w;
}

static void publish(struct writer *wr, int i, uint64_t v)
{
	atomic_store(&g_published[wr->w], ((uint64_t)i << 48) | v);
}

static void count(struct writer *wr, int rc, const char *what, int allow_notfound)
{
	wr->ops++;
	if (rc == 0)
		wr->ok++;
	else if (rc == SUTRA_ENOTFOUND && allow_notfound)
		wr->refused++;
	else
		fail("writer %d: %s returned %d (%s)", wr->w, what, rc, sutra_last_error());
}

static void w_learn(struct writer *wr)
{
	int i = own_id(wr);
	uint64_t v = ++wr->ver[i];
	struct body b;
	sutra_concept_in c;
	int rc;

	make_concept(i, v, &b, &c);
	rc = sutra_learn(g_db, &c, NULL);
	count(wr, rc, "learn", 0);
	if (rc == 0) {
		wr->state[i] = v;
		publish(wr, i, v);
	}
}

static void w_delete(struct writer *wr)
{
	int i = own_id(wr);
	uint64_t v = ++wr->ver[i];
	sutra_id id;
	int rc;

	make_id(i, &id);
	atomic_store(&g_delete_intent[i], v);
	rc = sutra_delete(g_db, &id, NULL);
	count(wr, rc, "delete", wr->state[i] == 0);
	if (rc == 0 && wr->state[i] == 0)
		fail("writer %d: delete of absent id %d succeeded", wr->w, i);
	if (rc == 0)
		wr->state[i] = 0;
}

static void w_assoc(struct writer *wr, int dissociate)
{
	sutra_id a, b;
	unsigned type = (unsigned)(tu_rand(&wr->rng) % SUTRA_ASSOC_TYPES);
	float conf = (float)(tu_rand(&wr->rng) % 1001) / 1000.0f;
	int rc;

	make_id((int)(tu_rand(&wr->rng) % N_IDS), &a);
	make_id((int)(tu_rand(&wr->rng) % N_IDS), &b);
	if (dissociate)
		rc = sutra_dissociate(g_db, &a, &b, type, NULL);
	else
		rc = sutra_associate(g_db, &a, &b, type, conf, NULL);
	count(wr, rc, dissociate ? "dissociate" : "associate", 1);
}

/* Two learns, maybe a delete, two associations; all or nothing. */
static void w_batch(struct writer *wr)
{
	int ids[2] = {own_id(wr), own_id(wr)}, del = own_id(wr);
	uint64_t vers[2], vdel = 0;
	int with_delete = tu_rand(&wr->rng) % 4 == 0, rc = 0;
	struct body body;
	sutra_concept_in c;
	sutra_id a, b;

	sutra_batch_clear(wr->b);
	for (int k = 0; k < 2 && rc == 0; k++) {
		vers[k] = ++wr->ver[ids[k]];
		make_concept(ids[k], vers[k], &body, &c);
		rc = sutra_batch_learn(wr->b, &c);
	}
	for (int k = 0; k < 2 && rc == 0; k++) {
		make_id(ids[k], &a);
		make_id((int)(tu_rand(&wr->rng) % N_IDS), &b);
		rc = sutra_batch_associate(wr->b, &a, &b, (unsigned)k, 0.5f);
	}
	if (with_delete && del != ids[0] && del != ids[1] && rc == 0) {
		vdel = ++wr->ver[del];
		make_id(del, &a);
		atomic_store(&g_delete_intent[del], vdel);
		rc = sutra_batch_delete(wr->b, &a);
	}
	if (rc == 0)
		rc = sutra_batch_commit(g_db, wr->b, NULL);
	count(wr, rc, "batch", 1);
	if (rc != 0)
		return;
	if (vdel && wr->state[del] == 0)
		fail("writer %d: batch deleting absent id %d succeeded", wr->w, del);
	if (vdel)
		wr->state[del] = 0;
	for (int k = 0; k < 2; k++)
		wr->state[ids[k]] = vers[k] > wr->state[ids[k]] ? vers[k] : wr->state[ids[k]];
	publish(wr, ids[1], wr->state[ids[1]]);
}

static void *writer_main(void *arg)
{
	struct writer *wr = arg;

	if (sutra_batch_new(&wr->b) != 0) {
		fail("batch_new failed");
		return NULL;
	}
	while (!atomic_load(&g_stop)) {
		uint64_t p = tu_rand(&wr->rng) % 100;

		if (p < 35)
			w_learn(wr);
		else if (p < 45)
			w_delete(wr);
		else if (p < 70)
			w_assoc(wr, 0);
		else if (p < 85)
			w_assoc(wr, 1);
		else
			w_batch(wr);
	}
	sutra_batch_free(wr->b);
	return NULL;
}

/* ---- readers -------------------------------------------------------------------- */

struct reader {
	int r;
	uint64_t rng;
	uint64_t last[N_IDS]; /* highest version this reader saw */
	unsigned long gets, visibility, neighbors, scans;
};

/* Gets id i; checks it; returns its version, 0 if absent. */
static uint64_t r_get(struct reader *rd, int i)
{
	sutra_concept *c = NULL;
	sutra_id id;
	uint64_t v = 0;
	int rc;

	make_id(i, &id);
	rc = sutra_get(g_db, &id, &c);
	rd->gets++;
	if (rc == 0)
		v = check_consistent(c);
	else if (rc != SUTRA_ENOTFOUND)
		fail("reader %d: get returned %d (%s)", rd->r, rc, sutra_last_error());
	sutra_concept_free(c);
	if (v && v < rd->last[i])
		fail("reader %d: id %d went back from v%" PRIu64 " to v%" PRIu64, rd->r, i,
		     rd->last[i], v);
	if (!v && rd->last[i] && atomic_load(&g_delete_intent[i]) <= rd->last[i])
		fail("reader %d: id %d vanished after v%" PRIu64 " without a delete", rd->r, i,
		     rd->last[i]);
	if (v > rd->last[i])
		rd->last[i] = v;
	return v;
}

/* An acknowledged learn is visible to a read that starts after it. */
static void r_visibility(struct reader *rd)
{
	uint64_t slot = atomic_load(&g_published[tu_rand(&rd->rng) % WRITERS]), want, got;
	int i;

	if (!slot)
		return;
	i = (int)(slot >> 48);
	want = slot & ((1ULL << 48) - 1);
	got = r_get(rd, i);
	rd->visibility++;
	if (got && got < want)
		fail("reader %d: id %d acknowledged at v%" PRIu64 " but read v%" PRIu64, rd->r, i,
		     want, got);
	if (!got && atomic_load(&g_delete_intent[i]) <= want)
		fail("reader %d: id %d acknowledged at v%" PRIu64 " but absent, no later delete",
		     rd->r, i, want);
}

static void r_neighbors(struct reader *rd)
{
	sutra_neighbor nb[NB_CAP];
	sutra_id id;
	size_t total = 0;
	int i = (int)(tu_rand(&rd->rng) % N_IDS), rc, ex;

	make_id(i, &id);
	ex = sutra_exists(g_db, &id);
	if (ex != 0 && ex != 1)
		fail("exists returned %d", ex);
	rc = sutra_neighbors(g_db, &id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, nb, NB_CAP, &total);
	rd->neighbors++;
	if (rc == SUTRA_ENOTFOUND)
		return;
	if (rc != 0) {
		fail("reader %d: neighbors returned %d (%s)", rd->r, rc, sutra_last_error());
		return;
	}
	for (size_t k = 0; k < total && k < NB_CAP; k++)
		if (nb[k].type >= SUTRA_ASSOC_TYPES ||
		    !(nb[k].confidence >= 0.0f && nb[k].confidence <= 1.0f) ||
		    (nb[k].direction != SUTRA_DIR_OUT && nb[k].direction != SUTRA_DIR_IN) ||
		    id_index(&nb[k].id) < 0)
			fail("reader %d: id %d neighbour %zu: type %u conf %g dir %u", rd->r, i, k,
			     nb[k].type, (double)nb[k].confidence, nb[k].direction);
}

/* A path between two random ids while writers change the graph: any
 * answer must run from one to the other through known ids. */
static void r_path(struct reader *rd)
{
	sutra_id a, b, path[SUTRA_MAX_PATH_DEPTH + 1];
	size_t len = 0;

	make_id((int)(tu_rand(&rd->rng) % N_IDS), &a);
	make_id((int)(tu_rand(&rd->rng) % N_IDS), &b);
	int rc = sutra_find_path(g_db, &a, &b, 6, path, &len);
	rd->neighbors++;
	if (rc == SUTRA_ENOTFOUND)
		return;
	if (rc != 0 || len < 1 || len > 7 || memcmp(path[0].b, a.b, 16) != 0 ||
	    memcmp(path[len - 1].b, b.b, 16) != 0) {
		fail("reader %d: find_path returned %d, %zu ids (%s)", rd->r, rc, len,
		     sutra_last_error());
		return;
	}
	for (size_t k = 0; k < len; k++)
		if (id_index(&path[k]) < 0)
			fail("reader %d: find_path went through an unknown id", rd->r);
}

static int scan_cb(void *ctx, const sutra_concept *c)
{
	(void)ctx;
	check_consistent(c);
	return 0;
}

static int assoc_cb(void *ctx, const sutra_id *s, const sutra_id *t, unsigned type, float conf)
{
	if (id_index(s) < 0 || id_index(t) < 0 || type >= SUTRA_ASSOC_TYPES ||
	    !(conf >= 0.0f && conf <= 1.0f))
		fail("scan_associations: bad association type %u conf %g", type, (double)conf);
	return 0;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	int rc;

	while (!atomic_load(&g_stop)) {
		uint64_t p = tu_rand(&rd->rng) % 1000;

		if (p < 400)
			r_visibility(rd);
		else if (p < 700)
			r_get(rd, (int)(tu_rand(&rd->rng) % N_IDS));
		else if (p < 950)
			r_neighbors(rd);
		else if (p < 998)
			r_path(rd);
		else {
			if ((rc = sutra_scan(g_db, scan_cb, rd)) != 0 ||
			    (rc = sutra_scan_associations(g_db, assoc_cb, rd)) != 0)
				fail("reader %d: scan returned %d", rd->r, rc);
			rd->scans++;
		}
	}
	return NULL;
}

/* ---- final state ------------------------------------------------------------------ */

static int final_assoc_cb(void *ctx, const sutra_id *s, const sutra_id *t, unsigned type,
                          float conf)
{
	if (!sutra_exists(g_db, s) || !sutra_exists(g_db, t))
		fail("final: association between %d and %d joins a missing concept", id_index(s),
		     id_index(t));
	++*(long *)ctx;
	return 0;
}

/* Every id is exactly as its owner last acknowledged it. */
static void check_final(struct writer *wr, const char *when)
{
	struct reader rd = {.r = -1};
	sutra_stats st;
	uint64_t present = 0;
	long assoc = 0;

	for (int i = 0; i < N_IDS; i++) {
		uint64_t want = wr[i % WRITERS].state[i], got = r_get(&rd, i);

		present += want != 0;
		if (got != want)
			fail("%s: id %d is v%" PRIu64 ", its writer acknowledged v%" PRIu64
			     " (0 = deleted)",
			     when, i, got, want);
	}
	if (sutra_scan_associations(g_db, final_assoc_cb, &assoc) != 0)
		fail("%s: scan_associations failed", when);
	if (sutra_stats_get(g_db, &st) != 0 || st.concepts != present ||
	    st.associations != (uint64_t)assoc)
		fail("%s: stats %" PRIu64 " concepts %" PRIu64 " assoc, want %" PRIu64 " %ld", when,
		     st.concepts, st.associations, present, assoc);
}

static void run_threads(struct writer *wr, struct reader *rd, long seconds)
{
	pthread_t wt[WRITERS], rt[READERS];
	struct timespec ts = {seconds, 0};

	for (int k = 0; k < WRITERS; k++)
		if (pthread_create(&wt[k], NULL, writer_main, &wr[k]) != 0)
			abort();
	for (int k = 0; k < READERS; k++)
		if (pthread_create(&rt[k], NULL, reader_main, &rd[k]) != 0)
			abort();
	nanosleep(&ts, NULL);
	atomic_store(&g_stop, 1);
	for (int k = 0; k < WRITERS; k++)
		pthread_join(wt[k], NULL);
	for (int k = 0; k < READERS; k++)
		pthread_join(rt[k], NULL);
}

static void report(const struct writer *wr, const struct reader *rd)
{
	unsigned long wops = 0, wok = 0, gets = 0, vis = 0, nbs = 0, scans = 0;

	for (int k = 0; k < WRITERS; k++)
		wops += wr[k].ops, wok += wr[k].ok;
	for (int k = 0; k < READERS; k++) {
		gets += rd[k].gets;
		vis += rd[k].visibility;
		nbs += rd[k].neighbors;
		scans += rd[k].scans;
	}
	printf("stress: writes %lu (%lu ok), gets %lu, visibility checks %lu, neighbors %lu, "
	       "scans %lu\n",
	       wops, wok, gets, vis, nbs, scans);
	if (wok == 0 || vis == 0 || nbs == 0)
		fail("nothing was exercised (writes ok %lu, visibility %lu)", wok, vis);
}

int main(void)
{
	static struct writer wr[WRITERS];
	static struct reader rd[READERS];
	long seconds = tu_env_long("SUTRA_STRESS_SECONDS", 3);
	char *dir = tu_mkdtemp("stress");
	sutra_options o;
	int rc;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	o.shards = (uint32_t)tu_env_long("SUTRA_STRESS_SHARDS", 0);
	if (o.shards)
		o.durability = SUTRA_DURABILITY_ALWAYS;
	if ((rc = sutra_open(dir, &o, &g_db)) != 0) {
		fprintf(stderr, "STRESS: open returned %d (%s)\n", rc, sutra_last_error());
		return 1;
	}
	for (int k = 0; k < WRITERS; k++)
		wr[k] = (struct writer){.w = k, .rng = 1000 + (uint64_t)k};
	for (int k = 0; k < READERS; k++)
		rd[k] = (struct reader){.r = k, .rng = 2000 + (uint64_t)k};
	run_threads(wr, rd, seconds);
	report(wr, rd);
	check_final(wr, "final");
	if ((rc = sutra_close(g_db)) != 0)
		fail("close returned %d", rc);
	if ((rc = sutra_open(dir, &o, &g_db)) != 0)
		fail("reopen returned %d (%s)", rc, sutra_last_error());
	else {
		check_final(wr, "after reopen");
		sutra_close(g_db);
	}
	printf("stress: %s (%ld errors)\n", atomic_load(&g_errors) ? "FAILED" : "ok",
	       atomic_load(&g_errors));
	if (!atomic_load(&g_errors))
		tu_rmrf(dir);
	free(dir);
	return atomic_load(&g_errors) ? 1 : 0;
}
