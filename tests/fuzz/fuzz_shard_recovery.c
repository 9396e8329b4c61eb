/* fuzz_shard_recovery.c - fuzz target: recovery of a 2-shard store whose two WAL segments are
 * the input.
 *
 * A valid MANIFEST of a store with 2 shards (dimension 4, no vector index)
 * is produced once by a normal sutra_open/sutra_close. For each input the
 * work directory is reset to that MANIFEST plus, in shard_0000/ and
 * shard_0001/, one segment wal-0000000000000001.log each, built from the
 * two parts of the input. The store is opened with repair off, then (files
 * reset again) with repair on. Any return code is allowed; a crash, leak or
 * hang is a bug, and so is any of these on a store that opened:
 *   - a transaction left active or prepared (recovery decides every one);
 *   - the store does not close, or does not reopen (repair off), or the
 *     reopen finds a transaction in doubt (txn_recovered != 0: recovery
 *     must have logged its decisions), or serves other concepts or
 *     associations than the first open;
 *   - a violated store invariant (fuzz_check_store on the reopened store).
 *
 * Input: byte 0 chooses the variant, bytes 1-2 (u16, little-endian) the
 * length of shard 0's part (clamped to what is left); shard 1's part is the
 * rest. A part that is empty and gets no header leaves its shard without a
 * segment.
 *   bit 0  prepend a valid segment header to each part (salt fixed per
 *          shard, first lsn 1); else each part is the whole file
 *   bit 1  (with bit 0) re-seal: walk the records as wal.h frames them
 *          (8-aligned, length-prefixed) and recompute each CRC with the
 *          shard's salt, so mutations reach `synced`, the sharded record
 *          header (phase, coordinator, participant count, gsn, participant
 *          bitmap; shard/shard.h) and the op batches
 *   bit 2  (with bit 1) renumber: set the records' lsns to 1, 2, 3... before
 *          sealing, so records can be moved, dropped or duplicated
 *   bit 3  add an empty, valid newer segment to each shard, named after the
 *          lsn that follows its sealed records (bits 4-7 + 1 when not
 *          sealing), so the input segment is not the last one
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "wal/wal.h"

#define DIM    4
#define SHARDS 2

static const uint64_t g_salt[SHARDS] = {0x5eed5a17c0ffee01ULL, 0x5eed5a17c0ffee02ULL};
static uint8_t g_manifest[64];
static char g_shard_dir[SHARDS][4200];

static void options(sutra_options *o, int repair)
{
	sutra_options_init(o);
	o->dimension = DIM;
	o->shards = SHARDS;
	o->vector_index = 0;
	o->checkpoint_wal_bytes = 0;
	o->repair = repair;
}

static void init_once(const char *dir)
{
	static int done;
	sutra_options o;
	sutra_db *db;
	size_t n;

	if (done)
		return;
	options(&o, 0);
	fuzz_clear_dir(dir);
	if (sutra_open(dir, &o, &db) != 0 || sutra_close(db) != 0)
		fuzz_fail("cannot create the template store: %s", sutra_last_error());
	uint8_t *m = fuzz_read_file(dir, "MANIFEST", &n);
	if (n != sizeof g_manifest)
		fuzz_fail("MANIFEST of %zu bytes", n);
	memcpy(g_manifest, m, n);
	free(m);
	for (int s = 0; s < SHARDS; s++)
		snprintf(g_shard_dir[s], sizeof g_shard_dir[s], "%s/shard_%04d", dir, s);
	done = 1;
}

static void build_shard(int s, uint8_t mode, const uint8_t *part, size_t n)
{
	size_t total = (mode & 1) ? n + WAL_HEADER_SIZE : n;
	uint64_t next = (uint64_t)(mode >> 4) + 1;

	if (mkdir(g_shard_dir[s], 0700) != 0 && errno != EEXIST)
		fuzz_fail("cannot create %s", g_shard_dir[s]);
	if (total == 0)
		return;
	uint8_t *seg = malloc(total);
	if (!seg)
		fuzz_fail("out of memory");
	if (mode & 1) {
		fuzz_wal_header(seg, g_salt[s], 1);
		memcpy(seg + WAL_HEADER_SIZE, part, n);
		if (mode & 2)
			next = fuzz_wal_seal(seg, total, g_salt[s], mode & 4) + 1;
	} else {
		memcpy(seg, part, n);
	}
	fuzz_write_file(g_shard_dir[s], "wal-0000000000000001.log", seg, total);
	if ((mode & 8) && next > 1) {
		char name[64];
		uint8_t h[WAL_HEADER_SIZE];
		fuzz_wal_header(h, g_salt[s] ^ 0xffff, next);
		snprintf(name, sizeof name, "wal-%016" PRIx64 ".log", next);
		fuzz_write_file(g_shard_dir[s], name, h, sizeof h);
	}
	free(seg);
}

static void build(const char *dir, const uint8_t *data, size_t size)
{
	uint8_t mode = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1, n0 = 0;

	if (n >= 2) {
		n0 = ld16(p);
		p += 2;
		n -= 2;
		if (n0 > n)
			n0 = n;
	} else {
		n = 0;
	}
	fuzz_clear_dir(dir);
	fuzz_write_file(dir, "MANIFEST", g_manifest, sizeof g_manifest);
	build_shard(0, mode, p, n0);
	build_shard(1, mode, p + n0, n - n0);
}

/* ---- what a recovered store serves, order-independent ------------------------ */

struct digest {
	uint64_t concepts, assocs, sum;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static int digest_concept(void *ctx, const sutra_concept *c)
{
	struct digest *d = ctx;
	uint64_t h = mix(0xcbf29ce484222325ULL, &c->id, sizeof c->id);

	h = mix(h, c->content, c->content_len);
	if (c->vector)
		h = mix(h, c->vector, (size_t)c->vector_dim * sizeof *c->vector);
	if (c->meta_blob)
		h = mix(h, c->meta_blob, c->meta_blob_len);
	h = mix(h, &c->strength, sizeof c->strength);
	h = mix(h, &c->confidence, sizeof c->confidence);
	h = mix(h, &c->created_us, sizeof c->created_us);
	h = mix(h, &c->updated_us, sizeof c->updated_us);
	h = mix(h, &c->meta_count, sizeof c->meta_count);
	h = mix(h, &c->out_degree, sizeof c->out_degree);
	h = mix(h, &c->in_degree, sizeof c->in_degree);
	d->concepts++;
	d->sum += h;
	return 0;
}

static int digest_assoc(void *ctx, const sutra_id *src, const sutra_id *dst, unsigned type,
                        float conf)
{
	struct digest *d = ctx;
	uint64_t h = mix(0x84222325cbf29ce4ULL, src, sizeof *src);

	h = mix(h, dst, sizeof *dst);
	h = mix(h, &type, sizeof type);
	h = mix(h, &conf, sizeof conf);
	d->assocs++;
	d->sum += h * 3;
	return 0;
}

static void digest(sutra_db *db, struct digest *d)
{
	memset(d, 0, sizeof *d);
	if (sutra_scan(db, digest_concept, d) != 0 ||
	    sutra_scan_associations(db, digest_assoc, d) != 0)
		fuzz_fail("scan failed: %s", sutra_last_error());
}

/* Nothing active or prepared; with reopened, nothing found in doubt. */
static void check_txns(sutra_db *db, int reopened)
{
	sutra_stats st;

	if (sutra_stats_get(db, &st) != 0)
		fuzz_fail("stats failed: %s", sutra_last_error());
	if (st.shards != SHARDS)
		fuzz_fail("a store of %u shards opened with %u", SHARDS, st.shards);
	if (st.txn_active || st.txn_preparing || st.txn_prepared)
		fuzz_fail("after %s: %" PRIu64 " transactions active, %" PRIu64
		          " preparing, %" PRIu64 " prepared",
		          reopened ? "a clean close and reopen" : "recovery", st.txn_active,
		          st.txn_preparing, st.txn_prepared);
	if (reopened && st.txn_recovered)
		fuzz_fail("a reopen after recovery found %" PRIu64 " transactions in doubt",
		          st.txn_recovered);
}

static void check_recovered(const char *dir, sutra_db *db, int repair)
{
	struct digest before, after;
	sutra_options o;
	int rc;

	check_txns(db, 0);
	digest(db, &before);
	if (sutra_close(db) != 0)
		fuzz_fail("close after recovery failed: %s", sutra_last_error());
	/* whatever recovery cut or decided is on disk now: no repair needed */
	options(&o, 0);
	if ((rc = sutra_open(dir, &o, &db)) != 0)
		fuzz_fail("a store that recovered (repair %d) and closed does not reopen: %s: %s",
		          repair, sutra_strerror(rc), sutra_last_error());
	check_txns(db, 1);
	digest(db, &after);
	if (after.concepts != before.concepts || after.assocs != before.assocs ||
	    after.sum != before.sum)
		fuzz_fail("reopen serves %" PRIu64 " concepts %" PRIu64
		          " associations (digest %016" PRIx64 "), recovery served %" PRIu64
		          " %" PRIu64 " (%016" PRIx64 ")",
		          after.concepts, after.assocs, after.sum, before.concepts, before.assocs,
		          before.sum);
	fuzz_check_store(dir, db, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_workdir("shard");
	sutra_options o;
	sutra_db *db;

	if (size == 0 || size > (1u << 20))
		return 0;
	init_once(dir);
	for (int repair = 0; repair <= 1; repair++) {
		build(dir, data, size);
		options(&o, repair);
		int rc = sutra_open(dir, &o, &db);
		fuzz_note_open(repair, rc);
		if (rc == 0)
			check_recovered(dir, db, repair);
	}
	return 0;
}
