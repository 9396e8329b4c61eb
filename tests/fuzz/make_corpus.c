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
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "store/op.h"
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
	free(w);
	free(c);
	return 0;
}
