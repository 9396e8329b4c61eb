/* fuzz_hnsw_file.c - fuzz target: the vector index file loader.
 *
 * A valid index file is produced once (300 vectors of dimension 4, M 4,
 * one partial chunk and a link pool). Each input becomes an index file,
 * which is opened (hnsw_open_file) and verified (hnsw_verify). Any error
 * is allowed; a crash, leak or hang is a bug. A file that verifies must
 * then be usable: searches, inserts and deletes run on it, and it saves
 * and reopens and verifies again (a violation aborts).
 *
 * The first input byte chooses the variant:
 *   bit 0  patch: the valid file with the rest of the input applied as
 *          (u16 offset, u8 xor) triples; else the input is the whole file
 *   bit 1  reseal: recompute every checksum the header's bounds allow, so
 *          mutations get past the checksums to the structure checks
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "vector/hnsw.h"

#define DIM 4
#define N   300
#define HDR 4096

static const struct hnsw_config cfg = {
    .dim = DIM, .M = 4, .ef_construction = 8, .metric = HNSW_COSINE, .seed = 1};
static uint8_t *g_valid;
static size_t g_valid_size;

static void vec_of(uint32_t i, float *v)
{
	for (int d = 0; d < DIM; d++)
		v[d] = (float)((i * 2654435761u >> (d * 7)) % 1000) / 500.0f - 1.0f;
}

static void make_valid(const char *dir)
{
	struct hnsw *h;
	struct hnsw_file_meta m = {1, 2};
	uint8_t key[16] = {0};
	float v[DIM];
	uint32_t slot;
	char path[4096];

	if (hnsw_new(&cfg, &h) < 0)
		fuzz_fail("hnsw_new failed");
	for (uint32_t i = 0; i < N; i++) {
		vec_of(i, v);
		memcpy(key, &i, sizeof i);
		if (hnsw_add(h, key, v, &slot) < 0)
			fuzz_fail("hnsw_add failed");
		if (i % 17 == 0)
			hnsw_delete(h, i);
	}
	snprintf(path, sizeof path, "%s/valid.hnsw", dir);
	if (hnsw_save(h, dir, path, &m) < 0)
		fuzz_fail("hnsw_save failed: %s", sutra_last_error());
	hnsw_free(h);
	g_valid = fuzz_read_file(dir, "valid.hnsw", &g_valid_size);
}

/* The parts of a chunk region (the layout in hnsw_file.c): capacity for
 * 16,384 slots; DIM padded to 16 floats. */
#define CAP     16384u
#define VEC_CAP ((uint64_t)CAP * 16 * 4)
#define L0_CAP  ((uint64_t)CAP * (1 + 2 * 4) * 4)
#define REGION  (VEC_CAP + L0_CAP + (uint64_t)CAP * 32)

static uint32_t chunk_crc(const uint8_t *at, uint32_t slots)
{
	uint32_t crc = crc32c(at, (size_t)slots * 16 * 4);

	crc = crc32c_extend(crc, at + VEC_CAP, (size_t)slots * (1 + 2 * 4) * 4);
	return crc32c_extend(crc, at + VEC_CAP + L0_CAP, (size_t)slots * 32);
}

static void reseal(uint8_t *p, size_t size)
{
	if (size < HDR)
		return;
	uint32_t chunks = ld32(p + 64);
	if (chunks > (size - HDR) / 16)
		return;
	for (uint32_t c = 0; c < chunks; c++) {
		uint8_t *e = p + HDR + (size_t)c * 16;
		uint64_t off = ld64(e);
		if (off <= size && REGION <= size - off)
			st32(e + 12, chunk_crc(p + off, ld32(e + 8) > CAP ? CAP : ld32(e + 8)));
	}
	st32(p + 68, crc32c(p + HDR, (size_t)chunks * 16));
	uint64_t pool = ld64(p + 72), words = ld64(p + 80);
	if (pool <= size && words <= (size - pool) / 4)
		st32(p + 88, crc32c(p + pool, words * 4));
	st64(p + 96, size);
	st32(p + HDR - 4, crc32c(p, HDR - 4));
}

/* A verified graph must take searches, inserts, deletes and a save. */
static void exercise(const char *dir, struct hnsw *h)
{
	struct hnsw_hit hits[10];
	struct hnsw_file_meta m;
	uint8_t key[16] = {0xee};
	float v[DIM];
	size_t n;
	uint32_t slot;
	char path[4096];

	for (uint32_t q = 0; q < 4; q++) {
		vec_of(q * 31, v);
		if (hnsw_search(h, v, 10, 20, NULL, NULL, hits, &n) < 0)
			fuzz_fail("search on a verified index failed: %s", sutra_last_error());
		for (size_t i = 0; i < n; i++)
			if (hits[i].slot >= hnsw_count(h) || hnsw_is_deleted(h, hits[i].slot))
				fuzz_fail("search returned slot %u", hits[i].slot);
	}
	for (uint32_t i = 0; i < 20; i++) {
		vec_of(N + i, v);
		if (hnsw_add(h, key, v, &slot) < 0)
			fuzz_fail("insert into a verified index failed: %s", sutra_last_error());
	}
	hnsw_delete(h, 0);
	snprintf(path, sizeof path, "%s/again.hnsw", dir);
	if (hnsw_save(h, dir, path, &m) < 0)
		fuzz_fail("saving a verified index failed: %s", sutra_last_error());
	struct hnsw *back;
	if (hnsw_open_file(path, &cfg, &back, &m) < 0 || hnsw_verify(back, path) < 0)
		fuzz_fail("a re-saved index does not verify: %s", sutra_last_error());
	hnsw_free(back);
}

static uint8_t *build_input(const uint8_t *data, size_t size, size_t *out)
{
	uint8_t mode = size ? data[0] : 0, *p;

	data += size ? 1 : 0;
	size -= size ? 1 : 0;
	if (mode & 1) {
		p = malloc(g_valid_size);
		memcpy(p, g_valid, g_valid_size);
		for (size_t i = 0; i + 3 <= size; i += 3)
			p[ld16(data + i) % g_valid_size] ^= data[i + 2];
		*out = g_valid_size;
	} else {
		p = malloc(size ? size : 1);
		memcpy(p, data, size);
		*out = size;
	}
	if (mode & 2)
		reseal(p, *out);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_workdir("hnsw");
	struct hnsw_file_meta m;
	struct hnsw *h;
	char path[4096];
	size_t n;

	if (!g_valid)
		make_valid(dir);
	uint8_t *file = build_input(data, size, &n);
	fuzz_write_file(dir, "input.hnsw", file, n);
	free(file);
	snprintf(path, sizeof path, "%s/input.hnsw", dir);
	int rc = hnsw_open_file(path, &cfg, &h, &m), vrc = 1;
	if (rc == 0) {
		if ((vrc = hnsw_verify(h, path)) == 0)
			exercise(dir, h);
		hnsw_free(h);
	}
	if (fuzz_env_flag("SUTRA_FUZZ_VERBOSE"))
		printf("open %d verify %d %s\n", rc, vrc, rc || vrc ? sutra_last_error() : "");
	return 0;
}
