/* fault_test.c - I/O fault injection at every io site and an allocation-failure sweep.
 *
 * Every run uses a fresh store (durability always, 1 MiB WAL segments,
 * checkpoints only on demand so the calls at each site happen in the same
 * order every time). A preparation phase writes acknowledged baseline data
 * and ends with a short WAL write, which leaves a torn tail for the next open
 * to cut. Then the workload: open, writes, checkpoint, enough writes to
 * rotate segments, checkpoint, close, open, writes, checkpoint, close. A
 * counting run measures the calls at each site (a site the workload never
 * reaches fails the test). Then, for each site, each fault kind (EIO,
 * ENOSPC, SHORT) and k = 1, the middle and the last call, the fault is armed
 * at the k-th call: the affected operation must return a negative error,
 * nothing may crash, and no later call may fail once the one-shot fault has
 * fired unless the store turned read-only; a WAL write/fsync failure must
 * turn the store read-only with a sticky error (later writes refused, reads
 * still served, health and stats say so, close returns it); a failed
 * checkpoint must leave the store writable. The checkpoint sites are also
 * failed with background checkpoints on (every 1 MiB of WAL). Finally the
 * faults are cleared and the store reopened: every acknowledged write is
 * there with its exact content, every batch is whole or absent, every
 * association joins existing concepts, and the store accepts writes.
 * The allocation sweep fails the n-th allocation (n = 1, 2, ...) during a
 * small workload (open, learn, associate, batch, get, neighbors, scan,
 * checkpoint, close): every call must return 0 or SUTRA_ENOMEM, and a clean
 * reopen must show every acknowledged write; the sweep ends when the
 * workload no longer reaches the n-th allocation. The asan preset checks
 * leaks. Environment: SUTRA_FAULT_ALL=1 tries every k at every site;
 * SUTRA_FAULT_ALLOC_MAX caps the sweep (default 20000).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sutra/sutra.h"
#include "sutra/sutra_test.h"
#include "testutil.h"

#define DIM          4
#define MAX_IDS      4096
#define BATCH_LEARNS 3

static long g_errors;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	g_errors++;
	fprintf(stderr, "FAULT: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- deterministic data --------------------------------------------------- */

static void make_id(int i, sutra_id *id)
{
	memset(id, 0xF0, sizeof *id);
	id->b[0] = 'F';
	id->b[14] = (uint8_t)(i >> 8);
	id->b[15] = (uint8_t)i;
}

static int id_index(const sutra_id *id)
{
	int i = (id->b[14] << 8) | id->b[15];
	sutra_id want;

	make_id(i, &want);
	return memcmp(&want, id, sizeof want) == 0 && i < MAX_IDS ? i : -1;
}

/* Content of concept i into buf (4 KiB); returns its length. */
static size_t make_content(int i, char *buf)
{
	uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
	size_t n = (size_t)snprintf(buf, 32, "concept %d:", i),
	       len = n + 1500 + (size_t)(i * 7919 % 2500);

	for (size_t k = n; k < len; k++)
		buf[k] = (char)('a' + tu_rand(&h) % 26);
	buf[len] = '\0';
	return len;
}

static void make_vector(int i, float *v)
{
	for (int k = 0; k < DIM; k++)
		v[k] = (float)(i * DIM + k);
}

static float conf_of(int a, int b)
{
	return (float)((a * 31 + b) % 101) / 100.0f;
}

static unsigned type_of(int a, int b)
{
	return (unsigned)(a + b) % SUTRA_ASSOC_TYPES;
}

/* ---- a run: a store, what was acknowledged, what was attempted ------------------ */

struct pair {
	int a, b;
};

struct frun {
	char *dir;
	sutra_db *db;
	sutra_options opt;
	uint64_t rng;
	int next_id;
	char acked[MAX_IDS];        /* learn acknowledged */
	struct pair edges[MAX_IDS]; /* associations acknowledged */
	int n_edges;
	int batches[MAX_IDS / BATCH_LEARNS][BATCH_LEARNS]; /* every batch attempted */
	int n_batches;
	int learned[MAX_IDS]; /* acknowledged ids, for picking */
	int n_learned;
	/* the armed fault and what it did */
	int site, kind;
	unsigned nth;
	int auto_ckpt; /* background checkpoints on: faults may hit them */
	int failures;  /* calls that returned an error */
	int read_only; /* the store turned read-only */
	int sticky;    /* its sticky error */
	const char *first_what;
	int first_rc;
};

static void run_init(struct frun *r)
{
	memset(r, 0, sizeof *r);
	r->dir = tu_mkdtemp("fault");
	r->rng = 42;
	r->site = -2;
	sutra_options_init(&r->opt);
	r->opt.dimension = DIM;
	r->opt.durability = SUTRA_DURABILITY_ALWAYS;
	r->opt.wal_segment_bytes = 1u << 20;
	r->opt.checkpoint_wal_bytes = 0;
}

static void run_free(struct frun *r)
{
	if (r->db)
		sutra_close(r->db);
	tu_rmrf(r->dir);
	free(r->dir);
}

static void note_ack_learn(struct frun *r, int i)
{
	r->acked[i] = 1;
	r->learned[r->n_learned++] = i;
}

static int learn_one(struct frun *r, int i)
{
	char buf[4096];
	float vec[DIM];
	sutra_concept_in c = {0};

	make_id(i, &c.id);
	c.content_len = make_content(i, buf);
	c.content = buf;
	make_vector(i, vec);
	c.vector = vec;
	c.vector_dim = DIM;
	c.strength = 1.0f;
	c.confidence = 0.75f;
	return sutra_learn(r->db, &c, NULL);
}

static int assoc_one(struct frun *r)
{
	int a = r->learned[tu_rand(&r->rng) % (uint64_t)r->n_learned];
	int b = r->learned[tu_rand(&r->rng) % (uint64_t)r->n_learned];
	sutra_id x, y;
	int rc;

	make_id(a, &x);
	make_id(b, &y);
	rc = sutra_associate(r->db, &x, &y, type_of(a, b), conf_of(a, b), NULL);
	if (rc == 0 && r->n_edges < MAX_IDS)
		r->edges[r->n_edges++] = (struct pair){a, b};
	return rc;
}

static int batch_add_learn(sutra_batch *b, int i)
{
	char buf[4096];
	float vec[DIM];
	sutra_concept_in c = {0};

	make_id(i, &c.id);
	c.content_len = make_content(i, buf);
	c.content = buf;
	make_vector(i, vec);
	c.vector = vec;
	c.vector_dim = DIM;
	c.strength = 1.0f;
	c.confidence = 0.75f;
	return sutra_batch_learn(b, &c);
}

/* Three learns and two associations (first -> second, second -> third). */
static int batch_one(struct frun *r)
{
	int *ids = r->batches[r->n_batches++], rc;
	sutra_batch *b = NULL;
	sutra_id x, y;

	for (int k = 0; k < BATCH_LEARNS; k++)
		ids[k] = r->next_id++;
	if ((rc = sutra_batch_new(&b)) != 0)
		return rc;
	for (int k = 0; k < BATCH_LEARNS && rc == 0; k++)
		rc = batch_add_learn(b, ids[k]);
	for (int k = 0; k + 1 < BATCH_LEARNS && rc == 0; k++) {
		make_id(ids[k], &x);
		make_id(ids[k + 1], &y);
		rc = sutra_batch_associate(b, &x, &y, type_of(ids[k], ids[k + 1]),
		                           conf_of(ids[k], ids[k + 1]));
	}
	if (rc == 0)
		rc = sutra_batch_commit(r->db, b, NULL);
	sutra_batch_free(b);
	if (rc == 0)
		for (int k = 0; k < BATCH_LEARNS; k++)
			note_ack_learn(r, ids[k]);
	return rc;
}

/* One write of the workload mix; returns its code. */
static int write_one(struct frun *r)
{
	uint64_t p = tu_rand(&r->rng) % 10;
	int i, rc;

	if (r->next_id + BATCH_LEARNS >= MAX_IDS)
		return SUTRA_ETOOBIG;
	if (p < 2 && r->n_learned >= 2)
		return assoc_one(r);
	if (p < 4)
		return batch_one(r);
	i = r->next_id++;
	rc = learn_one(r, i);
	if (rc == 0)
		note_ack_learn(r, i);
	return rc;
}

/* ---- checks -------------------------------------------------------------------------- */

static void check_concept(struct frun *r, const sutra_concept *c, int i, const char *when)
{
	char buf[4096];
	float vec[DIM];
	size_t n = make_content(i, buf);

	make_vector(i, vec);
	if (c->content_len != n || memcmp(c->content, buf, n) != 0 || !c->vector ||
	    c->vector_dim != DIM || memcmp(c->vector, vec, sizeof vec) != 0)
		fail("%s: concept %d has wrong content or vector (site %s kind %d k %u)", when, i,
		     sutra_fault_site_name(r->site), r->kind, r->nth);
}

struct seen {
	struct frun *r;
	char present[MAX_IDS];
	long n;
};

static int seen_cb(void *ctx, const sutra_concept *c)
{
	struct seen *s = ctx;
	int i = id_index(&c->id);

	s->n++;
	if (i < 0) {
		fail("scan: unknown id");
		return 0;
	}
	s->present[i] = 1;
	check_concept(s->r, c, i, "recovered");
	return 0;
}

static int edge_cb(void *ctx, const sutra_id *src, const sutra_id *dst, unsigned type, float conf)
{
	struct seen *s = ctx;
	int a = id_index(src), b = id_index(dst);

	if (a < 0 || b < 0 || !s->present[a] || !s->present[b])
		fail("association %d -> %d joins a concept that does not exist", a, b);
	else if (type != type_of(a, b) || conf != conf_of(a, b))
		fail("association %d -> %d has type %u confidence %g", a, b, type, (double)conf);
	return 0;
}

static int has_edge(sutra_db *db, int a, int b)
{
	sutra_neighbor nb[64];
	sutra_id x, y;
	size_t total = 0;

	make_id(a, &x);
	make_id(b, &y);
	if (sutra_neighbors(db, &x, SUTRA_DIR_OUT, (int)type_of(a, b), nb, 64, &total) != 0)
		return 0;
	for (size_t k = 0; k < total && k < 64; k++)
		if (memcmp(&nb[k].id, &y, sizeof y) == 0)
			return 1;
	return 0;
}

/* Every batch attempted is whole or absent. */
static void check_batches(struct frun *r, const struct seen *s)
{
	for (int q = 0; q < r->n_batches; q++) {
		const int *ids = r->batches[q];
		int n = 0;

		for (int k = 0; k < BATCH_LEARNS; k++)
			n += s->present[ids[k]];
		if (n != 0 && n != BATCH_LEARNS)
			fail("partial batch %d..%d: %d of %d concepts", ids[0], ids[2], n,
			     BATCH_LEARNS);
		if (n == BATCH_LEARNS &&
		    (!has_edge(r->db, ids[0], ids[1]) || !has_edge(r->db, ids[1], ids[2])))
			fail("partial batch %d..%d: an association is missing", ids[0], ids[2]);
	}
}

/* Compares the open store with everything acknowledged. */
static void check_store(struct frun *r, const char *when)
{
	struct seen s = {.r = r};
	int rc;

	if ((rc = sutra_scan(r->db, seen_cb, &s)) != 0)
		fail("%s: scan returned %d", when, rc);
	if ((rc = sutra_scan_associations(r->db, edge_cb, &s)) != 0)
		fail("%s: scan_associations returned %d", when, rc);
	for (int i = 0; i < MAX_IDS; i++)
		if (r->acked[i] && !s.present[i])
			fail("%s: acknowledged concept %d is missing (site %s kind %d k %u)", when,
			     i, sutra_fault_site_name(r->site), r->kind, r->nth);
	for (int k = 0; k < r->n_edges; k++)
		if (!has_edge(r->db, r->edges[k].a, r->edges[k].b))
			fail("%s: acknowledged association %d -> %d is missing (site %s kind %d k "
			     "%u)",
			     when, r->edges[k].a, r->edges[k].b, sutra_fault_site_name(r->site),
			     r->kind, r->nth);
	check_batches(r, &s);
}

/* A read of an acknowledged concept works (after a failure, too). */
static void check_read(struct frun *r)
{
	sutra_concept *c = NULL;
	sutra_id id;
	int i, rc;

	if (!r->n_learned)
		return;
	i = r->learned[r->n_learned - 1];
	make_id(i, &id);
	rc = sutra_get(r->db, &id, &c);
	if (rc != 0)
		fail("site %s: get of acknowledged concept %d after the fault returned %d",
		     sutra_fault_site_name(r->site), i, rc);
	else
		check_concept(r, c, i, "read after fault");
	sutra_concept_free(c);
}

static int is_wal_io(int site)
{
	return site == SUTRA_SITE_WAL_WRITE || site == SUTRA_SITE_WAL_FSYNC;
}

static int is_ckpt_site(int site)
{
	return site >= SUTRA_SITE_CKPT_CREATE && site <= SUTRA_SITE_RENAME;
}

/* After a failed call: the store is either writable or sticky read-only. */
static void after_failure(struct frun *r, const char *what, int rc)
{
	sutra_stats st;
	int h, again;

	if (rc >= 0 || rc == SUTRA_ENOTFOUND || rc == SUTRA_EINVAL)
		fail("site %s kind %d k %u: %s returned %d (%s), not an I/O error",
		     sutra_fault_site_name(r->site), r->kind, r->nth, what, rc, sutra_last_error());
	if (r->failures++ && !r->read_only)
		fail("site %s kind %d k %u: %s failed (%d: %s) after the one-shot fault had fired",
		     sutra_fault_site_name(r->site), r->kind, r->nth, what, rc, sutra_last_error());
	if (r->failures == 1) {
		r->first_what = what;
		r->first_rc = rc;
	}
	if (!r->db)
		return;
	h = sutra_health(r->db);
	if (sutra_stats_get(r->db, &st) != 0)
		fail("stats failed after a fault");
	else if ((h != 0) != (st.read_only == 1) || (h != 0 && st.sticky_error != h))
		fail("health %d but stats read_only %d sticky %d", h, st.read_only,
		     st.sticky_error);
	if (is_wal_io(r->site) && h == 0)
		fail("site %s kind %d k %u: %s failed with %d but the store did not turn read-only",
		     sutra_fault_site_name(r->site), r->kind, r->nth, what, rc);
	if (is_ckpt_site(r->site) && h != 0)
		fail("site %s kind %d k %u: a failed %s turned the store read-only (%d: %s)",
		     sutra_fault_site_name(r->site), r->kind, r->nth, what, h, st.sticky_message);
	check_read(r);
	if (h == 0)
		return;
	r->read_only = 1;
	r->sticky = h;
	again = write_one(r);
	if (again != SUTRA_EREADONLY && again != h)
		fail("site %s: write on a read-only store returned %d, want %d or %d",
		     sutra_fault_site_name(r->site), again, SUTRA_EREADONLY, h);
}

/* ---- the workload ---------------------------------------------------------------------- */

enum { S_OPEN, S_WRITES, S_CKPT, S_CLOSE };

struct step {
	int kind, count;
};

static const struct step workload[] = {
    {S_OPEN, 0},  {S_WRITES, 150}, {S_CKPT, 0},    {S_WRITES, 450}, {S_CKPT, 0},  {S_WRITES, 10},
    {S_CLOSE, 0}, {S_OPEN, 0},     {S_WRITES, 20}, {S_CKPT, 0},     {S_CLOSE, 0},
};

static int step_open(struct frun *r)
{
	int rc = sutra_open(r->dir, &r->opt, &r->db);

	if (rc != 0) {
		r->db = NULL;
		after_failure(r, "open", rc);
	}
	return rc;
}

static int step_close(struct frun *r)
{
	int rc = sutra_close(r->db);

	r->db = NULL;
	if (rc != 0)
		after_failure(r, "close", rc);
	return rc;
}

static int step_writes(struct frun *r, int count)
{
	for (int k = 0; k < count && !r->read_only; k++) {
		int rc = write_one(r);

		if (rc != 0)
			after_failure(r, "write", rc);
	}
	return 0;
}

/* Runs the workload; stops at a failed open or a read-only store. */
static void run_workload(struct frun *r)
{
	for (size_t s = 0; s < sizeof workload / sizeof workload[0]; s++) {
		const struct step *st = &workload[s];
		int rc;

		if (st->kind == S_OPEN && step_open(r) != 0)
			return;
		if (st->kind == S_WRITES)
			step_writes(r, st->count);
		if (st->kind == S_CKPT && (rc = sutra_checkpoint(r->db)) != 0)
			after_failure(r, "checkpoint", rc);
		if (st->kind == S_CLOSE)
			step_close(r);
		if (r->read_only)
			return;
	}
}

/* Baseline data, then a short WAL write: the next open must cut a torn tail. */
static void prepare(struct frun *r)
{
	int rc;

	if ((rc = sutra_open(r->dir, &r->opt, &r->db)) != 0) {
		fail("prepare: open returned %d (%s)", rc, sutra_last_error());
		r->db = NULL;
		return;
	}
	for (int k = 0; k < 40; k++)
		if ((rc = write_one(r)) != 0)
			fail("prepare: write returned %d (%s)", rc, sutra_last_error());
	sutra_fault_io(SUTRA_SITE_WAL_WRITE, 1, SUTRA_FAULT_SHORT);
	if (learn_one(r, r->next_id++) == 0)
		fail("prepare: a learn over a short WAL write was acknowledged");
	sutra_close(r->db);
	r->db = NULL;
	sutra_fault_clear();
}

/* Clears faults, reopens and checks everything acknowledged; then one write. */
static void recover_and_check(struct frun *r)
{
	int rc;

	sutra_fault_clear();
	if (r->db) {
		rc = sutra_close(r->db);
		r->db = NULL;
		if (rc != r->sticky && !(r->sticky && rc == SUTRA_EREADONLY))
			fail("site %s kind %d k %u: close returned %d, the sticky error is %d",
			     sutra_fault_site_name(r->site), r->kind, r->nth, rc, r->sticky);
	}
	if ((rc = sutra_open(r->dir, &r->opt, &r->db)) != 0) {
		fail("site %s kind %d k %u: reopen after the fault returned %d (%s)",
		     sutra_fault_site_name(r->site), r->kind, r->nth, rc, sutra_last_error());
		r->db = NULL;
		return;
	}
	check_store(r, "after recovery");
	r->read_only = 0;
	if ((rc = write_one(r)) != 0)
		fail("site %s: write after recovery returned %d (%s)",
		     sutra_fault_site_name(r->site), rc, sutra_last_error());
	if ((rc = sutra_close(r->db)) != 0)
		fail("site %s: close after recovery returned %d", sutra_fault_site_name(r->site),
		     rc);
	r->db = NULL;
}

/* ---- the I/O matrix ------------------------------------------------------------------------ */

static void count_calls(unsigned long calls[SUTRA_SITE_COUNT])
{
	struct frun r;

	run_init(&r);
	prepare(&r);
	run_workload(&r);
	for (int s = 0; s < SUTRA_SITE_COUNT; s++)
		calls[s] = sutra_fault_calls(s);
	if (r.failures)
		fail("the counting run saw %d failures (first: %s %d)", r.failures,
		     r.first_what ? r.first_what : "-", r.first_rc);
	recover_and_check(&r);
	run_free(&r);
	for (int s = 0; s < SUTRA_SITE_COUNT; s++) {
		printf("site %-15s %6lu calls\n", sutra_fault_site_name(s), calls[s]);
		if (calls[s] == 0)
			fail("site %s is never reached by the workload", sutra_fault_site_name(s));
	}
}

static void one_fault(int site, int kind, unsigned nth, int auto_ckpt)
{
	struct frun r;
	unsigned long seen;
	uint64_t t0 = now_ms();

	run_init(&r);
	prepare(&r);
	r.auto_ckpt = auto_ckpt;
	if (auto_ckpt)
		r.opt.checkpoint_wal_bytes = 1u << 20;
	r.site = site;
	r.kind = kind;
	r.nth = nth;
	sutra_fault_io(site, nth, kind);
	run_workload(&r);
	seen = sutra_fault_calls(site);
	if (seen < nth)
		fail("site %s kind %d k %u: only %lu calls reached the site",
		     sutra_fault_site_name(site), kind, nth, seen);
	else if (r.failures == 0 && site != SUTRA_SITE_UNLINK && !auto_ckpt)
		fail("site %s kind %d k %u: the fault fired but no call reported an error",
		     sutra_fault_site_name(site), kind, nth);
	recover_and_check(&r);
	run_free(&r);
	printf("  %-15s kind %d k %-5u%s -> %s %s%s (%" PRIu64 " ms)\n",
	       sutra_fault_site_name(site), kind, nth, auto_ckpt ? " (background checkpoints)" : "",
	       r.first_what ? r.first_what : "no error",
	       r.first_what ? sutra_strerror(r.first_rc) : "", r.read_only ? ", read-only" : "",
	       now_ms() - t0);
}

/* The k values tried at a site with n calls: 1, the middle, the last (all with every_k). */
static int next_k(unsigned long n, unsigned k, int every_k)
{
	unsigned mid = (unsigned)((n + 1) / 2);

	if (every_k)
		return k < n ? (int)k + 1 : -1;
	if (k == 0)
		return 1;
	if (k < mid)
		return (int)mid;
	return k < n ? (int)n : -1;
}

static void io_matrix(void)
{
	static const int kinds[] = {SUTRA_FAULT_EIO, SUTRA_FAULT_ENOSPC, SUTRA_FAULT_SHORT};
	int every_k = (int)tu_env_long("SUTRA_FAULT_ALL", 0);
	unsigned long calls[SUTRA_SITE_COUNT];

	count_calls(calls);
	for (int s = 0; s < SUTRA_SITE_COUNT; s++)
		for (size_t q = 0; q < sizeof kinds / sizeof kinds[0]; q++)
			for (int k = next_k(calls[s], 0, every_k); k > 0;
			     k = next_k(calls[s], (unsigned)k, every_k))
				one_fault(s, kinds[q], (unsigned)k, 0);
	/* The same faults in checkpoints the scheduler starts by itself. */
	for (int s = SUTRA_SITE_CKPT_CREATE; s < SUTRA_SITE_COUNT; s++)
		for (unsigned k = 1; k <= 2; k++)
			one_fault(s, SUTRA_FAULT_EIO, k, 1);
}

/* ---- the allocation sweep ------------------------------------------------------------------- */

struct aref {
	int learned[4]; /* A, B, C, D acknowledged */
	int ab, cd, ac; /* associations acknowledged */
	int bad;        /* a call returned something else than 0 / ENOMEM */
};

static void alloc_rc(struct aref *a, unsigned n, const char *what, int rc)
{
	if (rc != 0 && rc != SUTRA_ENOMEM) {
		fail("alloc sweep n=%u: %s returned %d (%s)", n, what, rc, sutra_last_error());
		a->bad = 1;
	}
}

static int alloc_learn(struct frun *r, struct aref *a, unsigned n, int i)
{
	int rc = learn_one(r, i);

	alloc_rc(a, n, "learn", rc);
	a->learned[i] = rc == 0;
	return rc;
}

static void alloc_batch(struct frun *r, struct aref *a, unsigned n)
{
	sutra_batch *b = NULL;
	sutra_id x[3];
	int rc;

	make_id(0, &x[0]);
	make_id(2, &x[1]);
	make_id(3, &x[2]);
	rc = sutra_batch_new(&b);
	alloc_rc(a, n, "batch_new", rc);
	if (rc)
		return;
	if ((rc = batch_add_learn(b, 2)) == 0 && (rc = batch_add_learn(b, 3)) == 0 &&
	    (rc = sutra_batch_associate(b, &x[1], &x[2], type_of(2, 3), conf_of(2, 3))) == 0)
		rc = sutra_batch_associate(b, &x[0], &x[1], type_of(0, 2), conf_of(0, 2));
	alloc_rc(a, n, "batch add", rc);
	if (rc == 0) {
		rc = sutra_batch_commit(r->db, b, NULL);
		if (rc == SUTRA_ENOTFOUND && !a->learned[0])
			rc = 0; /* A is missing: the batch must fail whole */
		else if (rc == 0)
			a->learned[2] = a->learned[3] = a->cd = a->ac = 1;
		alloc_rc(a, n, "batch_commit", rc);
	}
	sutra_batch_free(b);
}

static void alloc_reads(struct frun *r, struct aref *a, unsigned n)
{
	sutra_concept *c = NULL;
	sutra_neighbor nb[8];
	sutra_id id;
	size_t total;
	int rc;

	make_id(0, &id);
	rc = sutra_get(r->db, &id, &c);
	if (!(rc == SUTRA_ENOTFOUND && !a->learned[0]))
		alloc_rc(a, n, "get", rc);
	sutra_concept_free(c);
	rc = sutra_neighbors(r->db, &id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, nb, 8, &total);
	if (!(rc == SUTRA_ENOTFOUND && !a->learned[0]))
		alloc_rc(a, n, "neighbors", rc);
	alloc_rc(a, n, "scan", sutra_scan(r->db, seen_cb, &(struct seen){.r = r}));
	alloc_rc(a, n, "checkpoint", sutra_checkpoint(r->db));
}

/* 1 if the allocation fault is still armed: the workload made fewer than n allocations. */
static int alloc_fault_pending(void)
{
	for (int k = 0; k < 8; k++) {
		sutra_batch *b = NULL;
		int rc = sutra_batch_new(&b);

		if (rc == SUTRA_ENOMEM)
			return 1;
		sutra_batch_free(b);
	}
	return 0;
}

/* The small workload with the n-th allocation failing; returns 1 when the
 * workload made fewer than n allocations (the sweep is complete). */
static int alloc_workload(struct frun *r, struct aref *a, unsigned n)
{
	sutra_id x, y;
	int rc, pending;

	sutra_fault_alloc(n);
	rc = sutra_open(r->dir, &r->opt, &r->db);
	alloc_rc(a, n, "open", rc);
	if (rc != 0) {
		r->db = NULL;
		sutra_fault_alloc(0);
		return 0;
	}
	alloc_learn(r, a, n, 0);
	alloc_learn(r, a, n, 1);
	make_id(0, &x);
	make_id(1, &y);
	rc = sutra_associate(r->db, &x, &y, type_of(0, 1), conf_of(0, 1), NULL);
	if (!(rc == SUTRA_ENOTFOUND && (!a->learned[0] || !a->learned[1])))
		alloc_rc(a, n, "associate", rc);
	a->ab = rc == 0;
	alloc_batch(r, a, n);
	alloc_reads(r, a, n);
	rc = sutra_close(r->db);
	r->db = NULL;
	alloc_rc(a, n, "close", rc);
	pending = alloc_fault_pending();
	sutra_fault_alloc(0);
	if (pending && !(a->learned[0] && a->learned[1] && a->ab && a->cd && rc == 0))
		fail("alloc sweep n=%u: no allocation failed, yet a call did not succeed", n);
	return pending;
}

static void alloc_verify(struct frun *r, const struct aref *a, unsigned n)
{
	int rc = sutra_open(r->dir, &r->opt, &r->db);

	if (rc != 0) {
		fail("alloc sweep n=%u: clean reopen returned %d (%s)", n, rc, sutra_last_error());
		r->db = NULL;
		return;
	}
	for (int i = 0; i < 4; i++)
		r->acked[i] = (char)a->learned[i];
	r->n_edges = 0;
	if (a->ab)
		r->edges[r->n_edges++] = (struct pair){0, 1};
	check_store(r, "alloc sweep reopen");
	if ((a->cd && !has_edge(r->db, 2, 3)) || (a->ac && !has_edge(r->db, 0, 2)))
		fail("alloc sweep n=%u: batch association missing", n);
	sutra_close(r->db);
	r->db = NULL;
}

static void alloc_sweep(void)
{
	long max = tu_env_long("SUTRA_FAULT_ALLOC_MAX", 20000);
	int done = 0;
	unsigned n;

	for (n = 1; n <= (unsigned long)max && !done; n++) {
		struct frun r;
		struct aref a = {0};

		run_init(&r);
		done = alloc_workload(&r, &a, n);
		alloc_verify(&r, &a, n);
		run_free(&r);
		if (g_errors > 20)
			break;
	}
	printf("alloc sweep: %u allocation points failed in turn\n", n - 2);
	if (!done)
		fail("alloc sweep did not complete within %ld allocations", max);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	io_matrix();
	printf("io matrix: %ld errors\n", g_errors);
	alloc_sweep();
	printf("fault: %s (%ld errors)\n", g_errors ? "FAILED" : "ok", g_errors);
	return g_errors ? 1 : 0;
}
