/* checkpoint.c - writing and loading checkpoints, and the manifest (formats
 * in checkpoint.h).
 *
 * Writing walks a snapshot of the concept table inside one epoch (readers
 * and the writer go on; only memory reclamation waits), through a 1 MiB
 * buffer. Loading maps the file, checks it whole, then applies its ops with
 * the learn ops pointing into the mapping.
 */
#include "store/checkpoint.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "shard/shard.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/crc32c.h"
#include "util/err.h"

#define CKPT_MAGIC     "SUTRACKP"
#define CKPT_END       "SUTRAEND"
#define MAN_MAGIC      "SUTRAMAN"
#define FORMAT_VERSION 1
#define HDR            64
#define FOOTER         32
#define WBUF           (1u << 20)

void ckpt_path(const char *dir, uint64_t lsn, char *out, size_t n)
{
	snprintf(out, n, "%s/ckpt-%016" PRIx64 ".ckpt", dir, lsn);
}

/* ---- manifest ----------------------------------------------------------- */

int manifest_read(const char *dir, struct manifest *m)
{
	char path[4096];
	uint8_t b[HDR];
	uint64_t size;
	int fd, rc;

	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	if (access(path, F_OK) != 0)
		return SUTRA_ENOTFOUND;
	if ((rc = io_open(SUTRA_SITE_ANY, path, O_RDONLY, 0, &fd)) < 0)
		return rc;
	rc = io_file_size(fd, &size, path);
	if (rc == 0 && size != HDR)
		rc = err_set(SUTRA_ECORRUPT, "%s: size %" PRIu64 " (expected %d)", path, size, HDR);
	if (rc == 0)
		rc = io_pread_all(fd, b, HDR, 0, path);
	io_close(fd);
	if (rc < 0)
		return rc;
	if (memcmp(b, MAN_MAGIC, 8) != 0 || crc32c(b, 60) != ld32(b + 60))
		return err_set(SUTRA_ECORRUPT, "%s: offset 0: bad magic or checksum", path);
	if (ld32(b + 8) != FORMAT_VERSION)
		return err_set(SUTRA_EVERSION, "%s: format version %u (this build reads %d)", path,
		               ld32(b + 8), FORMAT_VERSION);
	m->checkpoint_lsn = ld64(b + 16);
	m->dimension = ld32(b + 24);
	m->created_us = ld64(b + 32);
	m->shards = ld32(b + 40);
	if (m->shards > 256)
		return err_set(SUTRA_ECORRUPT, "%s: %u shards (max: 256)", path, m->shards);
	return 0;
}

int manifest_write(const char *dir, const struct manifest *m)
{
	char path[4096], tmp[4096];
	uint8_t b[HDR] = {0};
	int fd, rc;

	memcpy(b, MAN_MAGIC, 8);
	st32(b + 8, FORMAT_VERSION);
	st32(b + 12, HDR);
	st64(b + 16, m->checkpoint_lsn);
	st32(b + 24, m->dimension);
	st64(b + 32, m->created_us);
	st32(b + 40, m->shards);
	st32(b + 60, crc32c(b, 60));
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	snprintf(tmp, sizeof tmp, "%s/MANIFEST.tmp", dir);
	if ((rc = io_open(SUTRA_SITE_MANIFEST_WRITE, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644,
	                  &fd)) < 0)
		return rc;
	rc = io_write_all(SUTRA_SITE_MANIFEST_WRITE, fd, b, HDR, tmp);
	if (rc == 0)
		rc = io_fsync(SUTRA_SITE_MANIFEST_FSYNC, fd, tmp);
	io_close(fd);
	if (rc == 0)
		rc = io_rename(tmp, path);
	if (rc == 0)
		rc = io_fsync_dir(dir);
	if (rc < 0)
		io_unlink(tmp);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

struct writer {
	int fd;
	const char *path;
	uint8_t *buf;
	size_t len;
	uint64_t bytes;
};

static int w_flush(struct writer *w)
{
	int rc = io_write_all(SUTRA_SITE_CKPT_WRITE, w->fd, w->buf, w->len, w->path);

	w->bytes += w->len;
	w->len = 0;
	return rc;
}

/* Returns room for n bytes in the buffer (n <= WBUF) or writes directly. */
static int w_put(struct writer *w, const void *p, size_t n)
{
	int rc;

	if (w->len + n > WBUF && (rc = w_flush(w)) < 0)
		return rc;
	if (n > WBUF) {
		w->bytes += n;
		return io_write_all(SUTRA_SITE_CKPT_WRITE, w->fd, p, n, w->path);
	}
	if (n == 0)
		return 0;
	memcpy(w->buf + w->len, p, n); /* NOLINT(clang-analyzer-core.NonNullParamChecker) */
	w->len += n;
	return 0;
}

/* Frames the op at op[0..len) as a record. */
static int w_record(struct writer *w, uint8_t *op, size_t len)
{
	uint8_t h[8];

	st32(h + 4, (uint32_t)len);
	st32(h, crc32c_extend(crc32c(h + 4, 4), op, len));
	int rc = w_put(w, h, 8);
	return rc < 0 ? rc : w_put(w, op, len);
}

static int w_concept(struct writer *w, const struct node *n, uint8_t **scratch, size_t *cap)
{
	size_t size = op_learn_size(n->content_len, n->meta_len, n->vec ? n->dim : 0);

	if (size > *cap) {
		uint8_t *p = sutra_realloc(*scratch, size);
		if (!p)
			return err_set(SUTRA_ENOMEM, "out of memory encoding a checkpoint record");
		*scratch = p;
		*cap = size;
	}
	op_learn_encode(*scratch, n->id, n->created_us, n->updated_us, n->strength, n->confidence,
	                n->vec, n->vec ? n->dim : 0, n->meta, n->meta_len, n->content,
	                n->content_len);
	return w_record(w, *scratch, size);
}

static int w_edges(struct writer *w, const struct node *n, uint64_t *count)
{
	struct adj *a;
	uint32_t cnt = adj_count(&a, n, ADJ_OUT);
	uint8_t op[OP_ASSOC_SIZE];
	unsigned type;
	float conf;
	int rc = 0;

	for (uint32_t i = 0; i < cnt && rc == 0; i++) {
		if (!edge_live(a, i, &type, &conf))
			continue;
		op_assoc_encode(op, OP_ASSOC, n->id, a->e[i].id, type, conf);
		rc = w_record(w, op, sizeof op);
		(*count)++;
	}
	return rc;
}

/* The node in slot i if the image holds it. */
static struct node *image_node(struct table *t, size_t i, const struct ckpt_part *part)
{
	struct node *n = table_node(t, i);

	if (n && part && part->nshards && shard_of(n->id, part->nshards) != part->shard)
		return NULL;
	return n;
}

static int w_image(struct writer *w, struct store *s, const struct ckpt_part *part,
                   struct ckpt_result *res)
{
	uint8_t *scratch = NULL;
	size_t cap = 0;
	int rc = 0;

	epoch_enter();
	struct table *t = atomic_load_explicit(&s->tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *n = image_node(t, i, part);
		if (n && (rc = w_concept(w, n, &scratch, &cap)) == 0)
			res->concepts++;
	}
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *n = image_node(t, i, part);
		if (n)
			rc = w_edges(w, n, &res->associations);
	}
	epoch_exit();
	sutra_free(scratch);
	return rc;
}

static void header_encode(uint8_t *h, uint64_t lsn, uint32_t dim, const struct ckpt_part *part)
{
	memset(h, 0, HDR);
	memcpy(h, CKPT_MAGIC, 8);
	st32(h + 8, FORMAT_VERSION);
	st32(h + 12, HDR);
	st64(h + 16, lsn);
	st32(h + 24, dim);
	st64(h + 32, clock_wall_us());
	if (part) {
		st64(h + 40, part->wal_lsn);
		st32(h + 48, part->shard);
		st32(h + 52, part->nshards);
	}
	st32(h + 60, crc32c(h, 60));
}

static void footer_encode(uint8_t *f, const struct ckpt_result *res)
{
	memset(f, 0, FOOTER);
	memcpy(f, CKPT_END, 8);
	st64(f + 8, res->concepts);
	st64(f + 16, res->associations);
	st32(f + 24, crc32c(f, 24));
}

int ckpt_write(const char *dir, struct store *s, uint64_t lsn, uint32_t dim,
               const struct ckpt_part *part, int (*sync_log)(void *), void *arg,
               struct ckpt_result *res)
{
	char path[4096], tmp[4200];
	uint8_t hf[HDR];
	struct writer w = {.fd = -1, .path = tmp};
	int rc;

	memset(res, 0, sizeof *res);
	ckpt_path(dir, lsn, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(w.buf = sutra_malloc(WBUF)))
		return err_set(SUTRA_ENOMEM, "out of memory for the checkpoint buffer");
	rc = io_open(SUTRA_SITE_CKPT_CREATE, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &w.fd);
	if (rc < 0)
		goto out;
	header_encode(hf, lsn, dim, part);
	if ((rc = w_put(&w, hf, HDR)) < 0 || (rc = w_image(&w, s, part, res)) < 0)
		goto out;
	footer_encode(hf, res);
	if ((rc = w_put(&w, hf, FOOTER)) < 0 || (rc = w_flush(&w)) < 0 ||
	    (rc = io_fsync(SUTRA_SITE_CKPT_FSYNC, w.fd, tmp)) < 0 || (rc = sync_log(arg)) < 0)
		goto out;
	io_close(w.fd);
	w.fd = -1;
	if ((rc = io_rename(tmp, path)) < 0 || (rc = io_fsync_dir(dir)) < 0)
		goto out;
	res->bytes = w.bytes;
out:
	io_close(w.fd);
	if (rc < 0)
		io_unlink(tmp);
	sutra_free(w.buf);
	return rc;
}

/* ---- loading ------------------------------------------------------------ */

static int check_frame(const char *path, const uint8_t *p, uint64_t size, uint64_t lsn,
                       uint32_t dim, struct ckpt_part *part)
{
	if (size < HDR + FOOTER || memcmp(p, CKPT_MAGIC, 8) != 0 || crc32c(p, 60) != ld32(p + 60))
		return err_set(SUTRA_ECORRUPT, "%s: offset 0: bad checkpoint header", path);
	if (ld32(p + 8) != FORMAT_VERSION)
		return err_set(SUTRA_EVERSION,
		               "%s: checkpoint format version %u (this build reads %d)", path,
		               ld32(p + 8), FORMAT_VERSION);
	if (ld64(p + 16) != lsn || ld32(p + 24) != dim)
		return err_set(SUTRA_ECORRUPT, "%s: header names lsn %" PRIu64 " dimension %u",
		               path, ld64(p + 16), ld32(p + 24));
	uint32_t shard = ld32(p + 48), nshards = ld32(p + 52);
	if (nshards != (part ? part->nshards : 0) || (part && shard != part->shard))
		return err_set(SUTRA_ECORRUPT, "%s: header names shard %u of %u, expected %u of %u",
		               path, shard, nshards, part ? part->shard : 0,
		               part ? part->nshards : 0);
	if (part)
		part->wal_lsn = ld64(p + 40);
	const uint8_t *f = p + size - FOOTER;
	if (memcmp(f, CKPT_END, 8) != 0 || crc32c(f, 24) != ld32(f + 24))
		return err_set(SUTRA_ECORRUPT, "%s: offset %" PRIu64 ": bad checkpoint footer",
		               path, size - FOOTER);
	return 0;
}

/* Validates and applies the record at pos; *next gets the following offset. */
static int load_record(const char *path, const uint8_t *p, uint64_t end, uint64_t pos, uint32_t dim,
                       bool repair, unsigned kinds, struct store *s, struct ckpt_result *res,
                       uint64_t *next)
{
	struct op o;
	uint32_t len = end - pos >= 8 ? ld32(p + pos + 4) : 0;

	if (end - pos < 8 || len > end - pos - 8 || len % 8 != 0)
		return err_set(SUTRA_ECORRUPT, "%s: offset %" PRIu64 ": bad record length", path,
		               pos);
	*next = pos + 8 + len;
	bool ok = crc32c_extend(crc32c(p + pos + 4, 4), p + pos + 8, len) == ld32(p + pos) &&
	          op_decode(p + pos + 8, len, &o) == 0 && o.size == len &&
	          (o.kind == OP_LEARN || o.kind == OP_ASSOC) && (o.dim == 0 || o.dim == dim);
	if (!ok) {
		if (!repair)
			return err_set(SUTRA_ECORRUPT,
			               "%s: offset %" PRIu64 ": damaged checkpoint record", path,
			               pos);
		res->skipped_records++;
		return 0;
	}
	/* Counted as records: an association whose endpoint the fuzzy image
	 * lacks is skipped by the apply and restored by the WAL replay. */
	if (o.kind == OP_LEARN)
		res->concepts++;
	else
		res->associations++;
	if (!(kinds & (o.kind == OP_LEARN ? CKPT_LEARNS : CKPT_ASSOCS)))
		return 0;
	return store_apply(s, &o, true, true);
}

int ckpt_load(const char *dir, uint64_t lsn, uint32_t dim, bool repair, unsigned kinds,
              struct ckpt_part *part, struct store *s, struct ckpt_map *map,
              struct ckpt_result *res)
{
	char path[4096];
	int fd, rc;

	memset(res, 0, sizeof *res);
	memset(map, 0, sizeof *map);
	ckpt_path(dir, lsn, path, sizeof path);
	if ((rc = io_open(SUTRA_SITE_ANY, path, O_RDONLY, 0, &fd)) < 0)
		return err_set(rc, "the manifest names checkpoint %s: %s", path,
		               sutra_last_error());
	rc = io_file_size(fd, &map->size, path);
	if (rc == 0)
		rc = io_mmap_ro(fd, map->size, &map->addr, path);
	io_close(fd);
	if (rc < 0 || (rc = check_frame(path, map->addr, map->size, lsn, dim, part)) < 0)
		return rc;
	const uint8_t *p = map->addr;
	uint64_t end = map->size - FOOTER;
	/* Size the table once instead of growing it through every doubling. */
	uint64_t expect = ld64(p + end + 8);
	if ((kinds & CKPT_LEARNS) && expect <= (map->size - HDR - FOOTER) / (8 + OP_LEARN_FIXED) &&
	    (rc = store_reserve(s, (size_t)expect)) < 0)
		return rc;
	for (uint64_t pos = HDR; pos < end && rc == 0;)
		rc = load_record(path, p, end, pos, dim, repair, kinds, s, res, &pos);
	if (rc == 0 && !repair &&
	    (res->concepts != ld64(p + end + 8) || res->associations != ld64(p + end + 16)))
		rc = err_set(SUTRA_ECORRUPT, "%s: record counts differ from the footer", path);
	res->bytes = map->size;
	return rc;
}

int files_remove_others(const char *dir, const char *prefix, const char *keep)
{
	char **names = NULL, path[4096];
	size_t n = 0;
	int rc = io_list(dir, prefix, &names, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(names[i], keep) == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		rc = io_unlink(path);
	}
	io_list_free(names, n);
	return rc;
}

int ckpt_remove_others(const char *dir, uint64_t lsn)
{
	char keep[64];

	snprintf(keep, sizeof keep, "ckpt-%016" PRIx64 ".ckpt", lsn);
	return files_remove_others(dir, "ckpt-", keep);
}
