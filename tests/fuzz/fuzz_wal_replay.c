/* fuzz_wal_replay.c - fuzz target: recovery of a store whose WAL segment is the input.
 *
 * A valid MANIFEST is produced once by a normal sutra_open/sutra_close of an
 * empty store (dimension 4). For each input the work directory is reset to
 * that MANIFEST plus one segment wal-0000000000000001.log built from the
 * input, and the store is opened with repair off, then (files reset again)
 * with repair on. Any return code is allowed; a crash, leak, hang or a
 * violated store invariant (fuzz_check_store) is a bug.
 *
 * The first input byte chooses the variant:
 *   bit 0  prepend a valid segment header (salt fixed, first lsn 1); else
 *          the input bytes are the whole file, header included
 *   bit 1  (with bit 0) re-seal: walk the records as wal.h frames them and
 *          recompute each CRC with the salt, so mutations reach the lsn
 *          sequence, `synced` and payload (op batch) decoding
 *   bit 2  add an empty, valid newer segment named after the lsn that
 *          follows the sealed records (bits 4-7 when not sealing), so the
 *          input segment is not the last one and the "damage in another
 *          segment" rules apply
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "wal/wal.h"

#define DIM  4
#define SALT 0x5eed5a17c0ffee01ULL

static uint8_t g_manifest[64];

static void init_once(const char *dir)
{
	static int done;
	sutra_options o;
	sutra_db *db;
	size_t n;

	if (done)
		return;
	sutra_options_init(&o);
	o.dimension = DIM;
	if (sutra_open(dir, &o, &db) != 0 || sutra_close(db) != 0)
		fuzz_fail("cannot create the template store: %s", sutra_last_error());
	uint8_t *m = fuzz_read_file(dir, "MANIFEST", &n);
	if (n != sizeof g_manifest)
		fuzz_fail("MANIFEST of %zu bytes", n);
	memcpy(g_manifest, m, n);
	free(m);
	done = 1;
}

static void build(const char *dir, const uint8_t *data, size_t size)
{
	uint8_t mode = data[0];
	size_t n = size - 1, total = (mode & 1) ? n + WAL_HEADER_SIZE : n;
	uint8_t *seg = malloc(total ? total : 1);
	uint64_t next = (uint64_t)(mode >> 4) + 1;

	if (!seg)
		fuzz_fail("out of memory");
	if (mode & 1) {
		fuzz_wal_header(seg, SALT, 1);
		memcpy(seg + WAL_HEADER_SIZE, data + 1, n);
		if (mode & 2)
			next = fuzz_wal_seal(seg, total, SALT, 0) + 1;
	} else {
		memcpy(seg, data + 1, n);
	}
	fuzz_clear_dir(dir);
	fuzz_write_file(dir, "MANIFEST", g_manifest, sizeof g_manifest);
	fuzz_write_file(dir, "wal-0000000000000001.log", seg, total);
	if ((mode & 4) && next > 1) {
		char name[64];
		uint8_t h[WAL_HEADER_SIZE];
		fuzz_wal_header(h, SALT, next);
		snprintf(name, sizeof name, "wal-%016" PRIx64 ".log", next);
		fuzz_write_file(dir, name, h, sizeof h);
	}
	free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_workdir("wal");

	if (size == 0 || size > (1u << 20))
		return 0;
	init_once(dir);
	fuzz_open_twice(dir, DIM, build, data, size);
	return 0;
}
