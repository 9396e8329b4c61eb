/* fuzz_checkpoint.c - fuzz target: opening a store whose checkpoint file is the input.
 *
 * A valid store is produced once: four concepts (vectors, metadata) and two
 * associations, sutra_checkpoint(), close. Its files (MANIFEST, checkpoint,
 * WAL) are kept in memory. For each input the work directory is reset to
 * those files with the checkpoint replaced, and the store is opened with
 * repair off, then (files reset again) with repair on. Any return code is
 * allowed; a crash, leak, hang or a violated store invariant
 * (fuzz_check_store) is a bug. Concepts loaded from a checkpoint point into
 * its read-only mapping, so the oracle's reads also check those pointers.
 *
 * The first input byte chooses the variant:
 *   bit 0  keep the valid 64-byte header and use the input as the body;
 *          else the input is the whole file, and the MANIFEST (CRC
 *          recomputed) and the file name follow the lsn in its header, so
 *          checkpoints of other stores load
 *   bit 1  seal: walk the records after the header as checkpoint.h frames
 *          them, recompute each CRC, cut after the last whole record and
 *          append a valid footer with the counts of learn and association
 *          records, so mutations reach op decoding and the apply path
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/bytes.h"
#include "util/crc32c.h"

#define DIM       4
#define HDR       64
#define FOOTER    32
#define MAX_FILES 8

struct file {
	char name[256];
	uint8_t *data;
	size_t size;
};

static struct file g_files[MAX_FILES];
static size_t g_nfiles;
static struct file *g_ckpt, *g_manifest;

static void learn(sutra_db *db, int i)
{
	char text[64];
	float vec[DIM] = {(float)i, -1.5f, 0.25f, 1e-3f};
	sutra_meta_entry meta[] = {{"kind", "fuzz"}, {"index", text}};
	sutra_concept_in c = {.strength = 1.0f + (float)i, .confidence = 0.5f};

	snprintf(text, sizeof text, "checkpoint seed concept %d", i);
	sutra_id_from_content(text, strlen(text), &c.id);
	c.content = text;
	c.content_len = strlen(text);
	c.vector = i % 2 ? vec : NULL;
	c.vector_dim = i % 2 ? DIM : 0;
	c.meta = meta;
	c.meta_count = (size_t)(i % 3);
	if (sutra_learn(db, &c, NULL) != 0)
		fuzz_fail("template learn: %s", sutra_last_error());
}

static void assoc(sutra_db *db, int a, int b, unsigned type)
{
	char ta[64], tb[64];
	sutra_id x, y;

	snprintf(ta, sizeof ta, "checkpoint seed concept %d", a);
	snprintf(tb, sizeof tb, "checkpoint seed concept %d", b);
	sutra_id_from_content(ta, strlen(ta), &x);
	sutra_id_from_content(tb, strlen(tb), &y);
	if (sutra_associate(db, &x, &y, type, 0.625f, NULL) != 0)
		fuzz_fail("template associate: %s", sutra_last_error());
}

static void init_once(const char *dir)
{
	sutra_options o;
	sutra_db *db;
	DIR *d;
	struct dirent *e;

	if (g_ckpt)
		return;
	sutra_options_init(&o);
	o.dimension = DIM;
	if (sutra_open(dir, &o, &db) != 0)
		fuzz_fail("cannot create the template store: %s", sutra_last_error());
	for (int i = 0; i < 4; i++)
		learn(db, i);
	assoc(db, 0, 1, SUTRA_ASSOC_CAUSAL);
	assoc(db, 3, 3, SUTRA_ASSOC_SEMANTIC);
	if (sutra_checkpoint(db) != 0 || sutra_close(db) != 0)
		fuzz_fail("template checkpoint: %s", sutra_last_error());
	if (!(d = opendir(dir)))
		fuzz_fail("cannot list %s", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "LOCK") == 0)
			continue;
		if (g_nfiles == MAX_FILES)
			fuzz_fail("unexpected template file %s", e->d_name);
		struct file *f = &g_files[g_nfiles++];
		memcpy(f->name, e->d_name, sizeof f->name);
		f->data = fuzz_read_file(dir, f->name, &f->size);
		if (strncmp(f->name, "ckpt-", 5) == 0)
			g_ckpt = f;
		if (strcmp(f->name, "MANIFEST") == 0)
			g_manifest = f;
	}
	closedir(d);
	if (!g_ckpt || g_ckpt->size < HDR + FOOTER || !g_manifest || g_manifest->size != 64)
		fuzz_fail("the template has no checkpoint or manifest");
}

/* Reframes p[HDR..size) as whole records plus a valid footer; returns the
 * new size (p has room for FOOTER more bytes). */
static size_t seal(uint8_t *p, size_t size)
{
	size_t pos = HDR;
	uint64_t learns = 0, assocs = 0;

	while (size - pos >= 8 + 8) {
		uint32_t len = ld32(p + pos + 4);
		if (len > size - pos - 8 || len % 8 != 0)
			break;
		st32(p + pos, crc32c_extend(crc32c(p + pos + 4, 4), p + pos + 8, len));
		learns += p[pos + 8] == 1;
		assocs += p[pos + 8] == 3;
		pos += 8 + (size_t)len;
	}
	uint8_t *f = p + pos;
	memset(f, 0, FOOTER);
	memcpy(f, "SUTRAEND", 8);
	st64(f + 8, learns);
	st64(f + 16, assocs);
	st32(f + 24, crc32c(f, 24));
	return pos + FOOTER;
}

static void build(const char *dir, const uint8_t *data, size_t size)
{
	uint8_t mode = data[0];
	size_t n = size - 1, total = (mode & 1) ? HDR + n : n;
	uint8_t *ck = malloc(total + FOOTER + 1);

	if (!ck)
		fuzz_fail("out of memory");
	if (mode & 1) {
		memcpy(ck, g_ckpt->data, HDR);
		memcpy(ck + HDR, data + 1, n);
	} else {
		memcpy(ck, data + 1, n);
	}
	if ((mode & 2) && total >= HDR)
		total = seal(ck, total);
	uint64_t lsn = ld64(g_manifest->data + 16);
	if (!(mode & 1) && total >= 24)
		lsn = ld64(ck + 16);
	uint8_t man[64];
	char name[64];
	memcpy(man, g_manifest->data, sizeof man);
	st64(man + 16, lsn);
	st32(man + 60, crc32c(man, 60));
	snprintf(name, sizeof name, "ckpt-%016" PRIx64 ".ckpt", lsn);
	fuzz_clear_dir(dir);
	for (size_t i = 0; i < g_nfiles; i++)
		if (&g_files[i] != g_ckpt && &g_files[i] != g_manifest)
			fuzz_write_file(dir, g_files[i].name, g_files[i].data, g_files[i].size);
	fuzz_write_file(dir, "MANIFEST", man, sizeof man);
	fuzz_write_file(dir, name, ck, total);
	free(ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_workdir("ckpt");

	if (size == 0 || size > (1u << 20))
		return 0;
	init_once(dir);
	fuzz_open_twice(dir, DIM, build, data, size);
	return 0;
}
