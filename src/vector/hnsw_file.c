/* hnsw_file.c - the vector index file: saved with a checkpoint, opened by
 * mapping it, verified before it is searched.
 *
 * Format, version 1. Integers little-endian; the arrays are the in-memory
 * layout of hnsw_impl.h, so opening maps them in place (MAP_PRIVATE: the
 * graph keeps growing in memory, the file never changes).
 *
 *   [0, 4096)  header
 *       0 magic "SUTRAHNS"      8 version u32         12 header bytes u32 (4096)
 *      16 dim u32              20 M u32              24 metric u32
 *      28 count u32 (slots)    32 entry u64 (level << 32 | slot; all ones: empty)
 *      40 covered_lsn u64: every vector change of a WAL record below it is in
 *         the graph (the checkpoint LSN the file belongs to)
 *      48 graph_lsn u64: no record at or above it is reflected in the graph
 *      56 rng u64 (level generator state)
 *      64 chunks u32           68 chunk table crc32c u32
 *      72 pool offset u64      80 pool words u64     88 pool crc32c u32
 *      96 file bytes u64     104 tombstones u32
 *    4092 crc32c of [0, 4092)
 *   [4096, ...) chunk table: per chunk {offset u64, slots u32, crc32c u32}
 *   chunk regions, each at a 4096-byte boundary and laid out for a full
 *   chunk of 16,384 slots (the unused tail of each part is a hole: zeros,
 *   no disk blocks), so that every chunk, the last included, is mapped in
 *   place and grows there; crc32c over the used slots of the three parts:
 *      vectors   16384 x stride f32        (stride: dim rounded up to 16;
 *                                           the padding is zeros)
 *      level 0   16384 x (1 + 2M) u32      (count, then slots; padded to 64)
 *      records   16384 x 32 bytes          (key, pool reference u64, level u8,
 *                                           deleted u8, lock u8 = 0, 5 zero bytes)
 *   pool region at a 4096-byte boundary: pool words u32 (upper-level lists),
 *      addressed by the records' references (plain word offsets on disk).
 *
 * Opening maps the file and checks the header and that every section lies
 * inside the file: its cost does not grow with the number of vectors.
 * hnsw_verify then checks the checksums and that every link and reference
 * points inside the graph, so a damaged or hostile file is refused rather
 * than searched.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "sutra/sutra_test.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "vector/hnsw_impl.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the vector index file maps little-endian arrays in place"
#endif

#define MAGIC      "SUTRAHNS"
#define VERSION    1u
#define HDR        4096u
#define TABLE_ITEM 16u

static uint64_t pad64(uint64_t n)
{
	return (n + 63) & ~63ull;
}

static uint64_t pad4k(uint64_t n)
{
	return (n + 4095) & ~4095ull;
}

struct region {
	uint64_t vecs, l0, info, total;
};

static struct region region_of(uint32_t dim, uint32_t m0, uint32_t slots)
{
	struct region r = {.vecs = pad64((uint64_t)slots * hnsw_stride(dim) * 4),
	                   .l0 = pad64((uint64_t)slots * (1 + m0) * 4),
	                   .info = pad64((uint64_t)slots * sizeof(struct node_info))};

	r.total = r.vecs + r.l0 + r.info;
	return r;
}

static uint32_t chunks_for(uint32_t count)
{
	return (uint32_t)(((uint64_t)count + CHUNK - 1) / CHUNK);
}

static uint32_t slots_in(uint32_t count, uint32_t c)
{
	uint64_t left = (uint64_t)count - (uint64_t)c * CHUNK;

	return left < CHUNK ? (uint32_t)left : CHUNK;
}

/* ---- saving ------------------------------------------------------------------ */

struct fwriter {
	int fd;
	const char *path;
	uint64_t off;
	uint32_t crc;
};

static int fw_put(struct fwriter *w, const void *p, size_t n)
{
	int rc = io_pwrite_all(SUTRA_SITE_INDEX_WRITE, w->fd, p, n, w->off, w->path);

	w->crc = crc32c_extend(w->crc, p, n);
	w->off += n;
	return rc;
}

/* Leaves a hole up to the next multiple of align (read back as zeros,
 * outside the checksum, taking no disk blocks). */
static void fw_skip_to(struct fwriter *w, uint64_t align)
{
	w->off += (align - w->off % align) % align;
}

/* The disk reference of an in-memory pool reference: the pool chunks are
 * written one after another. */
static uint64_t disk_ref(const uint64_t *base, uint64_t ref)
{
	return base[ref >> POOL_SHIFT] + (ref & POOL_OFFSET_MASK);
}

/* A chunk at full capacity: the used slots of each part, holes after
 * them, so that the mapped chunk has room to grow like one in memory. */
static int put_chunk(struct fwriter *w, const struct hnsw *h, uint32_t c, uint32_t slots,
                     const uint64_t *base, struct node_info *buf)
{
	const struct chunk *ch = hnsw_chunk(h, c * CHUNK);
	struct region r = region_of(h->cfg.dim, h->m0, CHUNK);
	uint64_t at = w->off;
	int rc;

	if ((rc = fw_put(w, ch->vecs, (size_t)slots * h->stride * 4)) < 0)
		return rc;
	w->off = at + r.vecs;
	if ((rc = fw_put(w, (const void *)ch->l0, (size_t)slots * (1 + h->m0) * 4)) < 0)
		return rc;
	w->off = at + r.vecs + r.l0;
	memcpy(buf, ch->info, (size_t)slots * sizeof *buf);
	for (uint32_t i = 0; i < slots; i++)
		buf[i].upper = buf[i].level ? disk_ref(base, buf[i].upper) : 0;
	rc = fw_put(w, buf, (size_t)slots * sizeof *buf);
	w->off = at + r.total;
	return rc;
}

/* Chunks, then the pool; fills the table and the pool fields of hdr. */
static int put_body(struct fwriter *w, const struct hnsw *h, uint32_t count, uint8_t *table,
                    uint8_t *hdr)
{
	uint64_t base[MAX_POOL] = {0}, words = 0;
	struct node_info *buf = sutra_malloc(CHUNK * sizeof *buf);
	int rc = buf ? 0 : err_set(SUTRA_ENOMEM, "out of memory saving the vector index");

	for (uint32_t c = 0; c <= h->pool_cur; c++) {
		base[c] = words;
		words += h->pool_used[c];
	}
	for (uint32_t c = 0; c < chunks_for(count) && rc == 0; c++) {
		uint32_t slots = slots_in(count, c);
		st64(table + c * TABLE_ITEM, w->off);
		st32(table + c * TABLE_ITEM + 8, slots);
		w->crc = 0;
		if ((rc = put_chunk(w, h, c, slots, base, buf)) == 0) {
			st32(table + c * TABLE_ITEM + 12, w->crc);
			fw_skip_to(w, 4096);
		}
	}
	sutra_free(buf);
	st64(hdr + 72, w->off);
	st64(hdr + 80, words);
	w->crc = 0;
	for (uint32_t c = 0; c <= h->pool_cur && rc == 0 && h->pool[c]; c++)
		rc = fw_put(w, (const void *)atomic_load(&h->pool[c]), h->pool_used[c] * 4);
	st32(hdr + 88, w->crc);
	return rc;
}

static void header_encode(uint8_t *hdr, const struct hnsw *h, uint32_t count,
                          const struct hnsw_file_meta *m, const uint8_t *table, uint64_t bytes)
{
	uint32_t chunks = chunks_for(count);

	memcpy(hdr, MAGIC, 8);
	st32(hdr + 8, VERSION);
	st32(hdr + 12, HDR);
	st32(hdr + 16, h->cfg.dim);
	st32(hdr + 20, h->cfg.M);
	st32(hdr + 24, (uint32_t)h->cfg.metric);
	st32(hdr + 28, count);
	st64(hdr + 32, atomic_load(&((struct hnsw *)h)->entry));
	st64(hdr + 40, m->covered_lsn);
	st64(hdr + 48, m->graph_lsn);
	st64(hdr + 56, atomic_load(&((struct hnsw *)h)->rng));
	st32(hdr + 64, chunks);
	st32(hdr + 68, crc32c(table, (size_t)chunks * TABLE_ITEM));
	st64(hdr + 96, bytes);
	st32(hdr + 104, hnsw_deleted(h));
	st32(hdr + HDR - 4, crc32c(hdr, HDR - 4));
}

static int write_file(struct fwriter *w, const struct hnsw *h, const struct hnsw_file_meta *m)
{
	uint32_t count = h->added, chunks = chunks_for(count);
	uint8_t *hdr = sutra_calloc(1, HDR);
	uint8_t *table = sutra_calloc((size_t)chunks + 1, TABLE_ITEM);
	int rc = hdr && table ? 0 : err_set(SUTRA_ENOMEM, "out of memory saving the vector index");

	w->off = pad4k(HDR + (uint64_t)chunks * TABLE_ITEM);
	if (rc == 0 && (rc = put_body(w, h, count, table, hdr)) == 0 &&
	    (rc = io_ftruncate(SUTRA_SITE_INDEX_WRITE, w->fd, w->off, w->path)) == 0) {
		header_encode(hdr, h, count, m, table, w->off);
		if ((rc = io_pwrite_all(SUTRA_SITE_INDEX_WRITE, w->fd, hdr, HDR, 0, w->path)) == 0)
			rc = io_pwrite_all(SUTRA_SITE_INDEX_WRITE, w->fd, table,
			                   (size_t)chunks * TABLE_ITEM, HDR, w->path);
	}
	sutra_free(hdr);
	sutra_free(table);
	return rc;
}

int hnsw_save(const struct hnsw *h, const char *dir, const char *path,
              const struct hnsw_file_meta *m)
{
	char tmp[4200];
	struct fwriter w = {.fd = -1, .path = tmp};
	int rc;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	rc = io_open(SUTRA_SITE_INDEX_CREATE, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &w.fd);
	if (rc == 0 && (rc = write_file(&w, h, m)) == 0)
		rc = io_fsync(SUTRA_SITE_INDEX_FSYNC, w.fd, tmp);
	io_close(w.fd);
	if (rc == 0 && (rc = io_rename(tmp, path)) == 0)
		rc = io_fsync_dir(dir);
	if (rc < 0)
		io_unlink(tmp);
	return rc;
}

/* ---- opening ------------------------------------------------------------------ */

struct file_view {
	const uint8_t *p;
	uint64_t size;
	const char *path;
};

static int bad(const struct file_view *f, const char *what)
{
	return err_set(SUTRA_ECORRUPT, "vector index %s: %s", f->path, what);
}

static int check_table(const struct file_view *f, const struct hnsw_config *cfg, uint32_t count)
{
	uint32_t chunks = chunks_for(count);
	uint64_t floor = pad4k(HDR + (uint64_t)chunks * TABLE_ITEM);

	if (floor > f->size || crc32c(f->p + HDR, (size_t)chunks * TABLE_ITEM) != ld32(f->p + 68))
		return bad(f, "chunk table damaged");
	for (uint32_t c = 0; c < chunks; c++) {
		const uint8_t *e = f->p + HDR + (size_t)c * TABLE_ITEM;
		uint64_t off = ld64(e);
		struct region r = region_of(cfg->dim, 2 * cfg->M, CHUNK);
		if (ld32(e + 8) != slots_in(count, c) || off % 4096 || off < floor ||
		    off > f->size || r.total > f->size - off)
			return bad(f, "chunk table entry out of bounds");
	}
	return 0;
}

static int check_header(const struct file_view *f, const struct hnsw_config *cfg)
{
	const uint8_t *p = f->p;

	if (f->size < HDR || memcmp(p, MAGIC, 8) != 0)
		return bad(f, "not a vector index file");
	if (crc32c(p, HDR - 4) != ld32(p + HDR - 4))
		return bad(f, "header checksum mismatch");
	if (ld32(p + 8) != VERSION)
		return err_set(SUTRA_ECORRUPT,
		               "vector index %s: format version %u (this build reads %u)", f->path,
		               ld32(p + 8), VERSION);
	if (ld32(p + 16) != cfg->dim || ld32(p + 20) != cfg->M ||
	    ld32(p + 24) != (uint32_t)cfg->metric)
		return err_set(
		    SUTRA_ECORRUPT,
		    "vector index %s: built with dimension %u, M %u, metric %u; the store "
		    "wants %u, %u, %u",
		    f->path, ld32(p + 16), ld32(p + 20), ld32(p + 24), cfg->dim, cfg->M,
		    (unsigned)cfg->metric);
	uint32_t count = ld32(p + 28);
	uint64_t entry = ld64(p + 32), pool = ld64(p + 72), words = ld64(p + 80);
	if (ld64(p + 96) != f->size)
		return bad(f, "file size differs from the header's (truncated?)");
	if (ld32(p + 64) != chunks_for(count) || count > (uint64_t)MAX_CHUNKS * CHUNK)
		return bad(f, "slot count and chunk count disagree");
	if (count ? (uint32_t)entry >= count || entry >> 32 > HNSW_MAX_LEVEL : entry != NO_ENTRY)
		return bad(f, "entry point out of range");
	if (pool % 4096 || pool > f->size || words > (f->size - pool) / 4 ||
	    words > POOL_OFFSET_MASK)
		return bad(f, "link pool out of bounds");
	return check_table(f, cfg, count);
}

/* Points chunk c at the mapping; the last one grows there too (its unused
 * slots are holes, copied on write). */
static int attach_chunk(struct hnsw *h, const struct file_view *f, uint32_t c)
{
	const uint8_t *e = f->p + HDR + (size_t)c * TABLE_ITEM;
	struct region r = region_of(h->cfg.dim, h->m0, CHUNK);
	uint8_t *at = (uint8_t *)f->p + ld64(e);
	struct chunk *ch = sutra_calloc(1, sizeof *ch);

	if (!ch)
		return err_set(SUTRA_ENOMEM, "out of memory opening the vector index");
	ch->vecs = (float *)at;
	ch->l0 = (_Atomic uint32_t *)(at + r.vecs);
	ch->info = (struct node_info *)(at + r.vecs + r.l0);
	ch->mapped = true;
	atomic_store(&h->chunks[c], ch);
	return 0;
}

static int attach(struct hnsw *h, const struct file_view *f)
{
	uint32_t count = ld32(f->p + 28);
	uint64_t words = ld64(f->p + 80);
	int rc = 0;

	for (uint32_t c = 0; c < chunks_for(count) && rc == 0; c++)
		rc = attach_chunk(h, f, c);
	if (words) {
		atomic_store(&h->pool[0], (_Atomic uint32_t *)(f->p + ld64(f->p + 72)));
		h->pool_cap[0] = h->pool_used[0] = words;
		h->pool_mapped = true;
	}
	h->added = count;
	atomic_store(&h->deleted, ld32(f->p + 104));
	atomic_store(&h->rng, ld64(f->p + 56));
	atomic_store(&h->count, count);
	atomic_store(&h->entry, ld64(f->p + 32));
	return rc;
}

int hnsw_open_file(const char *path, const struct hnsw_config *cfg, struct hnsw **out,
                   struct hnsw_file_meta *m)
{
	struct file_view f = {.path = path};
	struct hnsw *h = NULL;
	void *map = NULL;
	int fd = -1, rc;

	*out = NULL;
	if ((rc = io_open(SUTRA_SITE_ANY, path, O_RDONLY, 0, &fd)) < 0 ||
	    (rc = io_file_size(fd, &f.size, path)) < 0)
		goto out;
	if (f.size < HDR) {
		rc = bad(&f, "shorter than its header");
		goto out;
	}
	if ((rc = io_mmap_private(fd, f.size, &map, path)) < 0)
		goto out;
	f.p = map;
	if ((rc = check_header(&f, cfg)) < 0 || (rc = hnsw_new(cfg, &h)) < 0) {
		io_munmap(map, f.size);
		goto out;
	}
	h->map = map;
	h->map_size = f.size;
	m->covered_lsn = ld64(f.p + 40);
	m->graph_lsn = ld64(f.p + 48);
	if ((rc = attach(h, &f)) < 0)
		hnsw_free(h);
	else
		*out = h;
out:
	io_close(fd);
	return rc;
}

/* ---- verification -------------------------------------------------------------- */

/* The checksum of a chunk: its used vectors, level-0 lists and records. */
static uint32_t chunk_crc(const struct hnsw *h, const uint8_t *at, uint32_t slots)
{
	struct region r = region_of(h->cfg.dim, h->m0, CHUNK);
	uint32_t crc = crc32c(at, (size_t)slots * h->stride * 4);

	crc = crc32c_extend(crc, at + r.vecs, (size_t)slots * (1 + h->m0) * 4);
	return crc32c_extend(crc, at + r.vecs + r.l0, (size_t)slots * sizeof(struct node_info));
}

static int verify_sums(const struct hnsw *h, const struct file_view *f)
{
	uint32_t count = ld32(f->p + 28);

	for (uint32_t c = 0; c < chunks_for(count); c++) {
		const uint8_t *e = f->p + HDR + (size_t)c * TABLE_ITEM;
		if (chunk_crc(h, f->p + ld64(e), ld32(e + 8)) != ld32(e + 12))
			return err_set(SUTRA_ECORRUPT,
			               "vector index %s: chunk %u checksum mismatch", f->path, c);
	}
	if (crc32c(f->p + ld64(f->p + 72), ld64(f->p + 80) * 4) != ld32(f->p + 88))
		return bad(f, "link pool checksum mismatch");
	return 0;
}

/* A neighbour list: its count within cap, every link a slot that has
 * this level. */
static bool list_ok(const struct hnsw *h, const _Atomic uint32_t *l, uint32_t cap, uint32_t level,
                    uint32_t count)
{
	uint32_t n = atomic_load_explicit(&l[0], memory_order_relaxed);

	if (n > cap)
		return false;
	for (uint32_t i = 1; i <= n; i++) {
		uint32_t e = atomic_load_explicit(&l[i], memory_order_relaxed);
		if (e >= count || hnsw_chunk(h, e)->info[e & (CHUNK - 1)].level < level)
			return false;
	}
	return true;
}

static bool record_ok(const struct hnsw *h, const struct node_info *ni, uint64_t words)
{
	uint64_t need = (uint64_t)ni->level * (1 + h->cfg.M);

	if (ni->level > HNSW_MAX_LEVEL || atomic_load(&((struct node_info *)ni)->deleted) > 1 ||
	    atomic_load(&((struct node_info *)ni)->lock) != 0)
		return false;
	return ni->level == 0 || (ni->upper <= words && need <= words - ni->upper);
}

static int verify_links(const struct hnsw *h, const struct file_view *f)
{
	uint32_t count = ld32(f->p + 28);
	uint64_t words = ld64(f->p + 80), entry = ld64(f->p + 32);

	uint32_t deleted = 0;
	for (uint32_t s = 0; s < count; s++) {
		struct node_info *ni = &hnsw_chunk(h, s)->info[s & (CHUNK - 1)];
		if (!record_ok(h, ni, words))
			return err_set(SUTRA_ECORRUPT, "vector index %s: slot %u record damaged",
			               f->path, s);
		deleted += atomic_load_explicit(&ni->deleted, memory_order_relaxed);
	}
	if (deleted != ld32(f->p + 104))
		return bad(f, "tombstone count mismatch");
	if (count && hnsw_chunk(h, (uint32_t)entry)->info[entry & (CHUNK - 1)].level != entry >> 32)
		return bad(f, "entry point level mismatch");
	for (uint32_t s = 0; s < count; s++) {
		const struct node_info *ni = &hnsw_chunk(h, s)->info[s & (CHUNK - 1)];
		bool ok = list_ok(h, hnsw_chunk(h, s)->l0 + (size_t)(s & (CHUNK - 1)) * (1 + h->m0),
		                  h->m0, 0, count);
		for (uint32_t l = 1; ok && l <= ni->level; l++)
			ok = list_ok(h, hnsw_upper(h, ni->upper) + (size_t)(l - 1) * (1 + h->cfg.M),
			             h->cfg.M, l, count);
		if (!ok)
			return err_set(SUTRA_ECORRUPT, "vector index %s: slot %u links damaged",
			               f->path, s);
	}
	return 0;
}

int hnsw_verify(const struct hnsw *h, const char *path)
{
	struct file_view f = {.p = h->map, .size = h->map_size, .path = path};
	int rc;

	if (!h->map)
		return 0;
	if ((rc = verify_sums(h, &f)) < 0)
		return rc;
	return verify_links(h, &f);
}
