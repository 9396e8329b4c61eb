/* make_corpus.c - writes the seed corpus of the fuzz targets from files the engine produced.
 *
 * Usage: fuzz_make_corpus OUTDIR  (writes OUTDIR/<target>/seed-*). A store
 * (dimension 4) receives every kind of write: learns with and without
 * vector and metadata, associations (one a self-loop), a dissociation, a
 * re-learn and a batch that mixes learn, associate and delete. Its WAL
 * segment, its checkpoint and the payload of each WAL record become valid
 * seeds in every variant the targets understand (see the first-byte modes
 * in fuzz_wal_replay.c and fuzz_checkpoint.c); a few damaged copies (torn,
 * zero tail, flipped byte, bad op with a valid CRC, short header) start
 * the fuzzer on the error paths; "known-bug-*" seeds reproduce bugs found
 * (and fixed) earlier, as regression inputs. The layouts used to cut records out are
 * those of src/wal/wal.h and src/store/checkpoint.h.
 *
 * fuzz_shard_recovery gets its seeds from stores of 2 shards: one with
 * single-shard writes only, one with committed cross-shard associations,
 * a dissociation and batches (whole, cut at several record boundaries and
 * mid-record), stores whose last cross-shard write stopped at each step of
 * the two-phase commit (sutra_test_txn_stop in a forked child; as left, and
 * after a recovery logged its decision), and a few with a damaged sharded
 * record header (shard/shard.h).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"
#include "shard/shard.h"
#include "store/op.h"
#include "sutra/sutra_test.h"
#include "util/bytes.h"
#include "wal/wal.h"

#define DIM         4
#define CKPT_HDR    64
#define CKPT_FOOTER 32

static const char *g_out;

static void seed(const char *target, const char *name, uint8_t mode, const void *p, size_t n,
                 int with_mode)
{
	char dir[4096], file[256];
	uint8_t *buf = malloc(n + 1);

	snprintf(dir, sizeof dir, "%s/%s", g_out, target);
	mkdir(dir, 0755);
	snprintf(file, sizeof file, "seed-%s", name);
	buf[0] = mode;
	memcpy(buf + (with_mode ? 1 : 0), p, n);
	fuzz_write_file(dir, file, buf, n + (with_mode ? 1 : 0));
	free(buf);
}

static sutra_id id_of(const char *text)
{
	sutra_id id;

	sutra_id_from_content(text, strlen(text), &id);
	return id;
}

static void learn(sutra_db *db, sutra_batch *b, const char *text, int vec, size_t nmeta)
{
	static const float v[DIM] = {0.5f, -0.25f, 1.0f, 2.0f};
	static const sutra_meta_entry meta[] = {{"lang", "en"}, {"source", "corpus"}};
	sutra_concept_in c = {.content = text,
	                      .content_len = strlen(text),
	                      .strength = 1.5f,
	                      .confidence = 0.875f,
	                      .meta = meta,
	                      .meta_count = nmeta};

	c.id = id_of(text);
	c.vector = vec ? v : NULL;
	c.vector_dim = vec ? DIM : 0;
	if ((b ? sutra_batch_learn(b, &c) : sutra_learn(db, &c, NULL)) != 0)
		fuzz_fail("learn: %s", sutra_last_error());
}

static void write_store(const char *dir)
{
	sutra_options o;
	sutra_db *db;
	sutra_batch *b;
	sutra_id a = id_of("alpha"), bb = id_of("beta"), c = id_of("gamma"), d = id_of("delta");

	sutra_options_init(&o);
	o.dimension = DIM;
	o.checkpoint_wal_bytes = 0;
	if (sutra_open(dir, &o, &db) != 0)
		fuzz_fail("open: %s", sutra_last_error());
	learn(db, NULL, "alpha", 1, 2);
	learn(db, NULL, "beta", 0, 0);
	learn(db, NULL, "gamma", 1, 1);
	if (sutra_associate(db, &a, &bb, SUTRA_ASSOC_CAUSAL, 0.5f, NULL) != 0 ||
	    sutra_associate(db, &bb, &c, SUTRA_ASSOC_COMPOSITIONAL, 1.0f, NULL) != 0 ||
	    sutra_associate(db, &c, &c, SUTRA_ASSOC_SEMANTIC, 0.0f, NULL) != 0 ||
	    sutra_dissociate(db, &bb, &c, SUTRA_ASSOC_COMPOSITIONAL, NULL) != 0)
		fuzz_fail("associate: %s", sutra_last_error());
	if (sutra_batch_new(&b) != 0)
		fuzz_fail("batch");
	learn(db, b, "delta", 1, 2);
	if (sutra_batch_associate(b, &d, &a, SUTRA_ASSOC_TEMPORAL, 0.25f) != 0 ||
	    sutra_batch_delete(b, &bb) != 0 || sutra_batch_commit(db, b, NULL) != 0)
		fuzz_fail("batch: %s", sutra_last_error());
	sutra_batch_free(b);
	learn(db, NULL, "alpha", 0, 1); /* re-learn: keeps alpha's edges */
	(void)c;
	if (sutra_checkpoint(db) != 0 || sutra_close(db) != 0)
		fuzz_fail("checkpoint: %s", sutra_last_error());
}

static uint8_t *find(const char *dir, const char *prefix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint8_t *data = NULL;

	while (d && (e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && !data)
			data = fuzz_read_file(dir, e->d_name, n);
	if (d)
		closedir(d);
	if (!data)
		fuzz_fail("no %s file in %s", prefix, dir);
	return data;
}

static void wal_seeds(const uint8_t *w, size_t n)
{
	const char *t = "fuzz_wal_replay";
	const uint8_t *recs = w + WAL_HEADER_SIZE;
	size_t nrecs = n - WAL_HEADER_SIZE, pos = WAL_HEADER_SIZE, k = 0, third = 0, last = 0;
	static const uint8_t zeros[512];

	seed(t, "file", 0x00, w, n, 1);
	seed(t, "sealed", 0x03, recs, nrecs, 1);
	seed(t, "sealed-newer", 0x07, recs, nrecs, 1);
	seed(t, "unsealed", 0x01, recs, nrecs, 1);
	seed(t, "short-header", 0x00, w, 20, 1);
	while (pos + WAL_RECORD_HEADER <= n) { /* record boundaries, and op seeds */
		uint32_t len = ld32(w + pos + 4);
		char name[32];
		snprintf(name, sizeof name, "record-%zu", k);
		seed("fuzz_op_decode", name, 0, w + pos + WAL_RECORD_HEADER, len, 0);
		if (k == 2)
			third = pos;
		last = pos;
		pos += (WAL_RECORD_HEADER + len + 7) & ~(size_t)7;
		k++;
	}
	seed(t, "torn", 0x00, w, last + WAL_RECORD_HEADER + 5, 1);
	uint8_t *copy = malloc(n + sizeof zeros);
	memcpy(copy, w, n);
	memcpy(copy + n, zeros, sizeof zeros);
	seed(t, "zero-tail", 0x00, copy, n + sizeof zeros, 1);
	copy[third + WAL_RECORD_HEADER + 12] ^= 0x40; /* in record 3's first op */
	seed(t, "mid-flip", 0x00, copy, n, 1);
	memcpy(copy, w, n);
	copy[third + WAL_RECORD_HEADER + 8] = 9; /* an unknown op kind, resealed by the target */
	seed(t, "sealed-bad-op", 0x03, copy + WAL_HEADER_SIZE, nrecs, 1);
	free(copy);
}

static void ckpt_seeds(const uint8_t *c, size_t n)
{
	const char *t = "fuzz_checkpoint";
	size_t body = n - CKPT_HDR, recs = body - CKPT_FOOTER;
	uint8_t *copy = malloc(n);

	seed(t, "file", 0x00, c, n, 1);
	seed(t, "body", 0x01, c + CKPT_HDR, body, 1);
	seed(t, "sealed", 0x03, c + CKPT_HDR, recs, 1);
	seed(t, "truncated", 0x00, c, n - CKPT_FOOTER / 2, 1);
	memcpy(copy, c, n);
	copy[CKPT_HDR + 8 + 20] ^= 0x08; /* in the first record's id */
	seed(t, "flipped", 0x00, copy, n, 1);
	/* the records twice, associations before learns in the second copy:
	 * sealed, so the load applies them */
	uint8_t *twice = malloc(2 * recs);
	memcpy(twice, c + CKPT_HDR, recs);
	memcpy(twice + recs, c + CKPT_HDR, recs);
	seed(t, "sealed-twice", 0x03, twice, 2 * recs, 1);
	free(twice);
	free(copy);
}

/* A batch with one learn op whose vector has dimension 8 (the store has 4)
 * and a NaN and an infinite component: once accepted by op_decode and by
 * recovery (fixed; kept as a regression seed). */
static void known_bug_seeds(void)
{
	static const float vec[8] = {1, 2, 3, NAN, 5, 6, 7, INFINITY};
	static const uint8_t id[16] = {0x5e, 0xed};
	size_t op = op_learn_size(7, 0, 8), len = OP_BATCH_HEADER + op;
	size_t rec = (WAL_RECORD_HEADER + len + 7) & ~(size_t)7;
	uint8_t *r = calloc(1, rec);

	st64(r + 8, 1); /* lsn; the target seals the CRC */
	st32(r + 4, (uint32_t)len);
	st32(r + WAL_RECORD_HEADER, 1);
	op_learn_encode(r + WAL_RECORD_HEADER + OP_BATCH_HEADER, id, 1, 1, 1.0f, 0.5f, vec, 8, NULL,
	                0, "bad vec", 7);
	seed("fuzz_op_decode", "known-bug-vector", 0, r + WAL_RECORD_HEADER, len, 0);
	seed("fuzz_wal_replay", "known-bug-vector", 0x03, r, rec, 1);
	free(r);
}

static void meta_seeds(void)
{
	uint8_t blob[64] = {0};
	size_t pos = 4;

	st32(blob, 2);
	st16(blob + pos, 1);
	st32(blob + pos + 2, 2);
	memcpy(blob + pos + 6, "k\0vv", 5);
	pos += 6 + 2 + 3;
	st16(blob + pos, 3);
	st32(blob + pos + 2, 0);
	memcpy(blob + pos + 6, "key\0", 5);
	pos += 6 + 4 + 1;
	seed("fuzz_op_decode", "meta-blob", 0, blob, pos, 0);
}

/* ---- fuzz_shard_recovery: stores of 2 shards ------------------------------------ */

#define SHARDS    2
#define STOP_CODE 77

/* A concept name "<base>-<n>" whose id routes to shard (of SHARDS). */
static const char *in_shard(char buf[32], const char *base, uint32_t shard)
{
	for (int n = 0;; n++) {
		snprintf(buf, 32, "%s-%d", base, n);
		sutra_id id = id_of(buf);
		if (sutra_shard_of(&id, SHARDS) == shard)
			return buf;
	}
}

static sutra_db *open_sharded(const char *dir)
{
	sutra_options o;
	sutra_db *db;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.shards = SHARDS;
	o.vector_index = 0;
	o.checkpoint_wal_bytes = 0;
	if (sutra_open(dir, &o, &db) != 0)
		fuzz_fail("open %s: %s", dir, sutra_last_error());
	return db;
}

static void assoc(sutra_db *db, const char *a, const char *b, unsigned type, float conf)
{
	sutra_id x = id_of(a), y = id_of(b);

	if (sutra_associate(db, &x, &y, type, conf, NULL) != 0)
		fuzz_fail("associate: %s", sutra_last_error());
}

static uint64_t txn_committed(sutra_db *db)
{
	sutra_stats st;

	if (sutra_stats_get(db, &st) != 0)
		fuzz_fail("stats: %s", sutra_last_error());
	return st.txn_committed;
}

/* Writes that each stay in one shard. */
static void shard_singles(const char *dir)
{
	char a[32], b[32], c[32], d[32], e[32];
	sutra_db *db = open_sharded(dir);
	sutra_batch *bt;

	learn(db, NULL, in_shard(a, "alpha", 0), 1, 2);
	learn(db, NULL, in_shard(b, "beta", 1), 0, 0);
	learn(db, NULL, in_shard(c, "gamma", 0), 1, 1);
	learn(db, NULL, in_shard(d, "delta", 1), 1, 0);
	assoc(db, a, c, SUTRA_ASSOC_CAUSAL, 0.5f);
	assoc(db, b, d, SUTRA_ASSOC_HIERARCHICAL, 1.0f);
	assoc(db, d, d, SUTRA_ASSOC_SEMANTIC, 0.0f);
	sutra_id x = id_of(a), y = id_of(c), z = id_of(d);
	if (sutra_dissociate(db, &x, &y, SUTRA_ASSOC_CAUSAL, NULL) != 0)
		fuzz_fail("dissociate: %s", sutra_last_error());
	if (sutra_batch_new(&bt) != 0)
		fuzz_fail("batch");
	learn(db, bt, in_shard(e, "epsilon", 1), 1, 2);
	if (sutra_batch_delete(bt, &z) != 0 || sutra_batch_commit(db, bt, NULL) != 0)
		fuzz_fail("batch: %s", sutra_last_error());
	sutra_batch_free(bt);
	learn(db, NULL, a, 0, 1); /* re-learn */
	if (txn_committed(db) != 0)
		fuzz_fail("a single-shard write committed as a transaction");
	if (sutra_close(db) != 0)
		fuzz_fail("close: %s", sutra_last_error());
}

/* Committed cross-shard writes among single-shard ones. */
static void shard_cross(const char *dir)
{
	char a0[32], b0[32], a1[32], b1[32], c0[32], c1[32];
	sutra_db *db = open_sharded(dir);
	sutra_batch *bt;

	learn(db, NULL, in_shard(a0, "alpha", 0), 1, 2);
	learn(db, NULL, in_shard(a1, "beta", 1), 0, 1);
	learn(db, NULL, in_shard(b0, "gamma", 0), 1, 0);
	learn(db, NULL, in_shard(b1, "delta", 1), 1, 2);
	assoc(db, a0, a1, SUTRA_ASSOC_CAUSAL, 0.5f);   /* coordinator: shard 0 */
	assoc(db, b1, b0, SUTRA_ASSOC_TEMPORAL, 1.0f); /* coordinator: shard 1 */
	assoc(db, a0, b0, SUTRA_ASSOC_SEMANTIC, 0.25f);
	if (sutra_batch_new(&bt) != 0)
		fuzz_fail("batch");
	learn(db, bt, in_shard(c0, "epsilon", 0), 1, 1);
	learn(db, bt, in_shard(c1, "zeta", 1), 0, 0);
	sutra_id x = id_of(c0), y = id_of(c1), z = id_of(a1), w = id_of(b1);
	if (sutra_batch_associate(bt, &x, &y, SUTRA_ASSOC_COMPOSITIONAL, 0.75f) != 0 ||
	    sutra_batch_associate(bt, &y, &z, SUTRA_ASSOC_CAUSAL, 0.5f) != 0 ||
	    sutra_batch_delete(bt, &w) != 0 || sutra_batch_commit(db, bt, NULL) != 0)
		fuzz_fail("batch: %s", sutra_last_error());
	sutra_batch_free(bt);
	sutra_id s = id_of(a0), t = id_of(a1);
	if (sutra_dissociate(db, &s, &t, SUTRA_ASSOC_CAUSAL, NULL) != 0)
		fuzz_fail("dissociate: %s", sutra_last_error());
	learn(db, NULL, a1, 1, 0);
	if (txn_committed(db) < 3)
		fuzz_fail("cross-shard writes did not commit as transactions");
	if (sutra_close(db) != 0)
		fuzz_fail("close: %s", sutra_last_error());
}

enum stop_kind { STOP_ASSOC_HIGH, STOP_BATCH };

/* Child: a few writes (one cross-shard), then the write of kind that stops
 * at step. Never returns. */
static _Noreturn void shard_stop_child(const char *dir, int step, unsigned k, enum stop_kind kind)
{
	char a0[32], a1[32], b0[32], b1[32];
	sutra_db *db = open_sharded(dir);
	sutra_batch *bt;

	learn(db, NULL, in_shard(a0, "alpha", 0), 1, 1);
	learn(db, NULL, in_shard(a1, "beta", 1), 0, 0);
	assoc(db, a0, a1, SUTRA_ASSOC_CAUSAL, 0.5f);
	sutra_test_txn_stop(step, 1, k, STOP_CODE);
	if (kind == STOP_ASSOC_HIGH) {
		assoc(db, a1, a0, SUTRA_ASSOC_TEMPORAL, 1.0f);
	} else {
		if (sutra_batch_new(&bt) != 0)
			_exit(3);
		learn(db, bt, in_shard(b0, "gamma", 0), 1, 2);
		learn(db, bt, in_shard(b1, "delta", 1), 0, 1);
		sutra_id x = id_of(b0), y = id_of(b1), z = id_of(a0);
		if (sutra_batch_associate(bt, &x, &y, SUTRA_ASSOC_SEMANTIC, 1.0f) != 0 ||
		    sutra_batch_associate(bt, &y, &z, SUTRA_ASSOC_CAUSAL, 0.5f) != 0)
			_exit(3);
		sutra_batch_commit(db, bt, NULL);
	}
	_exit(5); /* the stop was never reached */
}

static void shard_stop(const char *dir, int step, unsigned k, enum stop_kind kind)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		fuzz_fail("fork");
	if (pid == 0)
		shard_stop_child(dir, step, k, kind);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != STOP_CODE)
		fuzz_fail("the child writing %s did not stop at step %d (status %d)", dir, step,
		          status);
}

/* A shard's log: its first segment file, and the records of all its
 * segments in order (headers stripped). */
struct shard_log {
	uint8_t *file, *recs;
	size_t file_n, recs_n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_log(const char *store, uint32_t shard, struct shard_log *l)
{
	char dir[4200], *names[64];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof dir, "%s/shard_%04u", store, shard);
	if (!(d = opendir(dir)))
		fuzz_fail("no %s", dir);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "wal-", 4) == 0 && n < 64)
			names[n++] = strdup(e->d_name);
	closedir(d);
	if (n == 0)
		fuzz_fail("no WAL segment in %s", dir);
	qsort(names, n, sizeof *names, cmp_str);
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < n; i++) {
		size_t fn;
		uint8_t *f = fuzz_read_file(dir, names[i], &fn);
		if (fn < WAL_HEADER_SIZE)
			fuzz_fail("short segment %s/%s", dir, names[i]);
		l->recs = realloc(l->recs, l->recs_n + fn);
		memcpy(l->recs + l->recs_n, f + WAL_HEADER_SIZE, fn - WAL_HEADER_SIZE);
		l->recs_n += fn - WAL_HEADER_SIZE;
		if (i == 0) {
			l->file = f;
			l->file_n = fn;
		} else {
			free(f);
		}
		free(names[i]);
	}
}

static void free_log(struct shard_log *l)
{
	free(l->file);
	free(l->recs);
}

/* Offsets of the records in recs (at most max); returns how many. */
static size_t record_offsets(const uint8_t *recs, size_t n, size_t *off, size_t max)
{
	size_t pos = 0, k = 0;

	while (pos + WAL_RECORD_HEADER <= n && k < max) {
		uint32_t len = ld32(recs + pos + 4);
		if (len > n - pos - WAL_RECORD_HEADER)
			break;
		off[k++] = pos;
		pos += (WAL_RECORD_HEADER + len + 7) & ~(size_t)7;
	}
	return k;
}

/* seed-<name>: mode, u16 length of shard 0's part, the two parts. */
static void shard_seed(const char *name, uint8_t mode, const void *p0, size_t n0, const void *p1,
                       size_t n1)
{
	size_t n = 2 + n0 + n1;
	uint8_t *buf = malloc(n);

	if (n0 > 0xffff)
		fuzz_fail("shard 0's part of %zu bytes", n0);
	st16(buf, (uint16_t)n0);
	if (n0)
		memcpy(buf + 2, p0, n0);
	if (n1)
		memcpy(buf + 2 + n0, p1, n1);
	seed("fuzz_shard_recovery", name, mode, buf, n, 1);
	free(buf);
}

static void read_logs(const char *store, struct shard_log l[SHARDS])
{
	for (uint32_t s = 0; s < SHARDS; s++)
		read_log(store, s, &l[s]);
}

/* The record of recs whose sharded header has phase (the nth such), or
 * NULL. */
static uint8_t *find_phase(uint8_t *recs, size_t n, int phase, int nth)
{
	size_t off[256], k = record_offsets(recs, n, off, 256);

	for (size_t i = 0; i < k; i++) {
		uint8_t *r = recs + off[i];
		if (ld32(r + 4) >= TXN_HEADER_BYTES && r[WAL_RECORD_HEADER] == phase && nth-- == 0)
			return r;
	}
	return NULL;
}

static void shard_seeds(const char *work)
{
	static const struct {
		int step;
		unsigned k;
		const char *name;
		int recover;
	} stops[] = {
	    {SUTRA_TXN_STOP_BEFORE_PREPARE, 0, "before-prepare", 0},
	    {SUTRA_TXN_STOP_PREPARED, 1, "prepared-1", 1},
	    {SUTRA_TXN_STOP_DECIDED, 0, "decided", 1},
	    {SUTRA_TXN_STOP_APPLYING, 1, "applying-1", 1},
	    {SUTRA_TXN_STOP_CLEANUP, 0, "cleanup", 1},
	};
	static const char *kind_name[] = {"assoc", "batch"};
	struct shard_log l[SHARDS];
	char dir[4200], name[64];
	size_t off[2][64], nrec[2];

	snprintf(dir, sizeof dir, "%s/shard-singles", work);
	shard_singles(dir);
	read_logs(dir, l);
	shard_seed("shard-singles-file", 0x00, l[0].file, l[0].file_n, l[1].file, l[1].file_n);
	shard_seed("shard-singles-sealed", 0x07, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
	free_log(&l[0]);
	free_log(&l[1]);

	snprintf(dir, sizeof dir, "%s/shard-cross", work);
	shard_cross(dir);
	read_logs(dir, l);
	shard_seed("shard-cross-file", 0x00, l[0].file, l[0].file_n, l[1].file, l[1].file_n);
	shard_seed("shard-cross-unsealed", 0x01, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
	shard_seed("shard-cross-sealed", 0x03, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
	shard_seed("shard-cross-renumbered", 0x07, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
	shard_seed("shard-cross-newer", 0x0f, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
	shard_seed("shard-cross-swapped", 0x07, l[1].recs, l[1].recs_n, l[0].recs, l[0].recs_n);
	shard_seed("shard-cross-one-shard", 0x07, l[0].recs, l[0].recs_n, NULL, 0);
	/* the files cut at record boundaries (inside the two-phase commits)
	 * and mid-record (a torn tail) */
	for (int s = 0; s < SHARDS; s++)
		nrec[s] = record_offsets(l[s].recs, l[s].recs_n, off[s], 64);
	if (nrec[0] < 6 || nrec[1] < 6)
		fuzz_fail("the cross-shard store logged %zu and %zu records", nrec[0], nrec[1]);
	static const size_t cuts[][2] = {{3, 3}, {4, 2}, {2, 5}, {5, 4}};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		size_t c0 = WAL_HEADER_SIZE + off[0][cuts[i][0]];
		size_t c1 = WAL_HEADER_SIZE + off[1][cuts[i][1]];
		snprintf(name, sizeof name, "shard-cross-cut-%zu-%zu", cuts[i][0], cuts[i][1]);
		shard_seed(name, 0x00, l[0].file, c0, l[1].file, c1);
	}
	shard_seed("shard-cross-torn", 0x00, l[0].file, WAL_HEADER_SIZE + off[0][4] + 30, l[1].file,
	           WAL_HEADER_SIZE + off[1][3] + 7);
	/* damaged sharded headers (re-sealed by the target, so recovery sees them) */
	uint8_t *copy = malloc(l[1].recs_n);
	uint8_t *r;
	memcpy(copy, l[1].recs, l[1].recs_n);
	if ((r = find_phase(copy, l[1].recs_n, TXN_PREPARE, 0)) != NULL) {
		st16(r + WAL_RECORD_HEADER + 2, (uint16_t)(ld16(r + WAL_RECORD_HEADER + 2) ^ 1));
		shard_seed("shard-bad-coordinator", 0x07, l[0].recs, l[0].recs_n, copy,
		           l[1].recs_n);
	}
	memcpy(copy, l[1].recs, l[1].recs_n);
	if ((r = find_phase(copy, l[1].recs_n, TXN_PREPARE, 0)) != NULL) {
		r[WAL_RECORD_HEADER + 16] |= 0x04; /* a third participant */
		shard_seed("shard-bad-bitmap", 0x07, l[0].recs, l[0].recs_n, copy, l[1].recs_n);
	}
	memcpy(copy, l[1].recs, l[1].recs_n);
	uint8_t *r0 = find_phase(l[0].recs, l[0].recs_n, TXN_SINGLE, 0);
	if ((r = find_phase(copy, l[1].recs_n, TXN_SINGLE, 0)) != NULL && r0) {
		memcpy(r + WAL_RECORD_HEADER + 8, r0 + WAL_RECORD_HEADER + 8, 8); /* same gsn */
		shard_seed("shard-dup-gsn", 0x07, l[0].recs, l[0].recs_n, copy, l[1].recs_n);
	}
	memcpy(copy, l[1].recs, l[1].recs_n);
	if ((r = find_phase(copy, l[1].recs_n, TXN_COMMIT, 0)) != NULL ||
	    (r = find_phase(copy, l[1].recs_n, TXN_END, 0)) != NULL) {
		r[WAL_RECORD_HEADER] = TXN_ABORT; /* an ABORT beside every PREPARE */
		shard_seed("shard-abort-decided", 0x07, l[0].recs, l[0].recs_n, copy, l[1].recs_n);
	}
	free(copy);
	free_log(&l[0]);
	free_log(&l[1]);

	/* the last write stopped at each step of its two-phase commit (0 of 2
	 * PREPAREs durable leaves the log of "before-prepare", 0 participants
	 * applied that of "decided") */
	for (int kind = STOP_ASSOC_HIGH; kind <= STOP_BATCH; kind++) {
		for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
			snprintf(dir, sizeof dir, "%s/shard-stop-%d-%zu", work, kind, i);
			shard_stop(dir, stops[i].step, stops[i].k, (enum stop_kind)kind);
			read_logs(dir, l);
			snprintf(name, sizeof name, "shard-stop-%s-%s", kind_name[kind],
			         stops[i].name);
			shard_seed(name, 0x00, l[0].file, l[0].file_n, l[1].file, l[1].file_n);
			free_log(&l[0]);
			free_log(&l[1]);
			if (!stops[i].recover || kind != STOP_BATCH)
				continue;
			/* recovery's decision logged: ABORT, or COMMIT, APPLIED and END */
			if (sutra_close(open_sharded(dir)) != 0)
				fuzz_fail("close: %s", sutra_last_error());
			read_logs(dir, l);
			snprintf(name, sizeof name, "shard-recovered-%s-%s", kind_name[kind],
			         stops[i].name);
			shard_seed(name, 0x07, l[0].recs, l[0].recs_n, l[1].recs, l[1].recs_n);
			free_log(&l[0]);
			free_log(&l[1]);
		}
	}
}

int main(int argc, char **argv)
{
	size_t wn, cn;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	g_out = argv[1];
	mkdir(g_out, 0755);
	const char *dir = fuzz_workdir("corpus");
	write_store(dir);
	uint8_t *w = find(dir, "wal-", &wn), *c = find(dir, "ckpt-", &cn);
	wal_seeds(w, wn);
	ckpt_seeds(c, cn);
	meta_seeds();
	known_bug_seeds();
	shard_seeds(dir);
	free(w);
	free(c);
	return 0;
}
