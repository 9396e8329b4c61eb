/* wal_replay.c - reading the WAL back at open: validation, torn-tail
 * cutting and corruption reports (the rules are in wal.h).
 *
 * Segments are mapped read-only and walked record by record. The first
 * invalid record ends a segment. In the last segment that is normally a
 * torn write and is cut; it is refused as corruption only when a later
 * valid record proves the damaged one had already been synced.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "wal/wal.h"

struct seg_view {
	const char *path;
	const uint8_t *p;
	uint64_t size;
	uint64_t salt, first_lsn;
	uint32_t seed;
};

/* 0 and the record's lsn/len if a valid record with this salt starts at pos;
 * else -1 and a reason. */
static int record_at(const struct seg_view *s, uint64_t pos, uint64_t *lsn, uint32_t *len,
                     const char **why)
{
	if (s->size - pos < WAL_RECORD_HEADER) {
		*why = "truncated record header";
		return -1;
	}
	const uint8_t *r = s->p + pos;
	*len = ld32(r + 4);
	*lsn = ld64(r + 8);
	if (*len > s->size - pos - WAL_RECORD_HEADER) {
		*why = "record length runs past the end of the file";
		return -1;
	}
	if (crc32c_extend(s->seed, r + 4, WAL_RECORD_HEADER - 4 + (size_t)*len) != ld32(r)) {
		*why = "record checksum mismatch";
		return -1;
	}
	return 0;
}

/* True if a valid record after pos shows that lsn had been synced. */
static bool later_record_covers(const struct seg_view *s, uint64_t pos, uint64_t lsn)
{
	for (uint64_t off = pos + 8; off + WAL_RECORD_HEADER <= s->size; off += 8) {
		uint64_t l;
		uint32_t n;
		const char *why;
		const uint8_t *r = s->p + off;
		if (ld64(r + 8) <= lsn || ld64(r + 8) - lsn > (1u << 30))
			continue; /* cheap filter before the CRC */
		if (record_at(s, off, &l, &n, &why) == 0 && ld64(r + 16) >= lsn)
			return true;
	}
	return false;
}

static int check_header(struct seg_view *s, uint64_t name_lsn)
{
	if (s->size < WAL_HEADER_SIZE || memcmp(s->p, WAL_MAGIC, 8) != 0 ||
	    crc32c(s->p, 32) != ld32(s->p + 32))
		return err_set(SUTRA_ECORRUPT, "%s: offset 0: bad segment header", s->path);
	if (ld32(s->p + 8) != WAL_VERSION)
		return err_set(SUTRA_EVERSION, "%s: WAL format version %u (this build reads %d)",
		               s->path, ld32(s->p + 8), WAL_VERSION);
	s->salt = ld64(s->p + 16);
	s->first_lsn = ld64(s->p + 24);
	s->seed = crc32c(&s->salt, sizeof s->salt);
	if (s->first_lsn != name_lsn)
		return err_set(SUTRA_ECORRUPT, "%s: header names first lsn %" PRIu64, s->path,
		               s->first_lsn);
	return 0;
}

struct replay {
	const char *dir;
	uint64_t from_lsn;
	bool repair;
	wal_replay_fn fn;
	void *ctx;
	struct wal_replay_info *info;
	struct wal_maps *keep;   /* NULL: unmap each segment after its walk */
	uint64_t expect;         /* next lsn; 0 until the first segment */
	const char *undecodable; /* points at undecodable_why */
	char undecodable_why[200];
};

/* Walks one mapped segment. *end gets the offset where valid records end. */
static int walk_records(struct replay *r, const struct seg_view *s, uint64_t *end, const char **why)
{
	uint64_t pos = WAL_HEADER_SIZE;

	*why = NULL;
	while (pos < s->size) {
		uint64_t lsn;
		uint32_t len;
		if (record_at(s, pos, &lsn, &len, why) < 0)
			break;
		if (lsn != r->expect) {
			*why = "record out of sequence";
			break;
		}
		if (lsn >= r->from_lsn) {
			int rc = r->fn(r->ctx, lsn, (uint8_t *)s->p + pos + WAL_RECORD_HEADER, len);
			if (rc == SUTRA_ECORRUPT) { /* checksum fine, content not */
				snprintf(r->undecodable_why, sizeof r->undecodable_why, "%s",
				         sutra_last_error());
				*why = r->undecodable;
				break;
			}
			if (rc < 0)
				return err_set(rc, "%s: offset %" PRIu64 ": record %" PRIu64 ": %s",
				               s->path, pos, lsn, sutra_last_error());
			r->info->replayed++;
		}
		r->expect++;
		pos += align8(WAL_RECORD_HEADER + (uint64_t)len);
	}
	*end = pos < s->size ? pos : s->size;
	return 0;
}

static int cut_tail(const char *path, int fd, uint64_t at, uint64_t size,
                    struct wal_replay_info *info)
{
	int rc = io_ftruncate(SUTRA_SITE_WAL_TRUNCATE, fd, at, path);

	if (rc == 0)
		rc = io_fsync(SUTRA_SITE_WAL_FSYNC, fd, path);
	if (rc == 0) {
		const char *name = strrchr(path, '/');
		info->torn_bytes += size - at;
		snprintf(info->torn_where, sizeof info->torn_where,
		         "%.160s: cut %" PRIu64 " bytes at offset %" PRIu64, name ? name + 1 : path,
		         size - at, at);
	}
	return rc;
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Removes a segment that holds nothing usable (repair, or a segment whose
 * creation never reached the disk) and reports it. */
static int drop_segment(struct replay *r, const char *path, uint64_t size, const char *why)
{
	const char *name = strrchr(path, '/');

	r->info->torn_bytes += size;
	snprintf(r->info->torn_where, sizeof r->info->torn_where, "removed %.160s: %s",
	         name ? name + 1 : path, why);
	return io_unlink(path);
}

/* A segment whose header or position in the sequence is wrong. */
static int bad_segment(struct replay *r, const struct seg_view *s, bool last, int rc, bool *stop)
{
	if (rc == SUTRA_ECORRUPT && last && all_zero(s->p, s->size))
		return drop_segment(r, s->path, s->size, "created but never written (all zeros)");
	if (rc != SUTRA_ECORRUPT || !r->repair)
		return rc;
	*stop = true;
	return drop_segment(r, s->path, s->size, "damaged segment dropped by repair");
}

static int keep_map(struct wal_maps *m, const void *addr, uint64_t size)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct wal_map *a = sutra_realloc(m->map, cap * sizeof *a);
		if (!a)
			return err_set(SUTRA_ENOMEM, "out of memory keeping WAL segments mapped");
		m->map = a;
		m->cap = cap;
	}
	m->map[m->n++] = (struct wal_map){addr, size};
	return 0;
}

void wal_maps_free(struct wal_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		io_munmap(m->map[i].addr, m->map[i].size);
	sutra_free(m->map);
	memset(m, 0, sizeof *m);
}

/* Replays one segment; *stop is set when later segments must be dropped. */
static int replay_segment(struct replay *r, const char *path, uint64_t name_lsn, bool last,
                          bool *stop)
{
	struct seg_view s = {.path = path};
	int fd = -1, rc;
	uint64_t end = 0;
	const char *why = NULL;

	if ((rc = io_open(SUTRA_SITE_ANY, path, O_RDWR, 0, &fd)) < 0 ||
	    (rc = io_file_size(fd, &s.size, path)) < 0)
		goto out;
	if (last && s.size < WAL_HEADER_SIZE) { /* crashed while creating it */
		rc = drop_segment(r, path, s.size, "cut short while it was created");
		goto out;
	}
	if ((rc = io_mmap_ro(fd, s.size, (const void **)&s.p, path)) < 0)
		goto out;
	if ((rc = check_header(&s, name_lsn)) == 0 && r->expect == 0)
		r->expect = s.first_lsn;
	if (rc == 0 && s.first_lsn != r->expect)
		rc = err_set(SUTRA_ECORRUPT, "%s: starts at lsn %" PRIu64 ", expected %" PRIu64,
		             path, s.first_lsn, r->expect);
	if (rc < 0) {
		rc = bad_segment(r, &s, last, rc, stop);
		goto unmap;
	}
	if ((rc = walk_records(r, &s, &end, &why)) < 0)
		goto unmap;
	if (end == s.size) {
		/* Replayed records may never have been synced (the last run was
		 * killed, or ran without sync): make them durable before anything
		 * written after them is acknowledged. */
		if (last)
			rc = io_fdatasync(SUTRA_SITE_WAL_FSYNC, fd, path);
		goto unmap;
	}
	if (!last || why == r->undecodable || later_record_covers(&s, end, r->expect)) {
		if (!r->repair) {
			rc = err_set(SUTRA_ECORRUPT,
			             "%s: offset %" PRIu64 ": %s in acknowledged data (lsn %" PRIu64
			             "); open with repair to cut the log there",
			             path, end, why, r->expect);
			goto unmap;
		}
		*stop = true;
	}
	rc = cut_tail(path, fd, end, s.size, r->info);
unmap:
	if (rc == 0 && r->keep && keep_map(r->keep, s.p, s.size) == 0)
		s.p = NULL;
	if (s.p)
		io_munmap(s.p, s.size);
out:
	io_close(fd);
	return rc;
}

int wal_replay(const char *dir, uint64_t from_lsn, bool repair, wal_replay_fn fn, void *ctx,
               struct wal_replay_info *info)
{
	return wal_replay_keep(dir, from_lsn, repair, fn, ctx, info, NULL);
}

int wal_replay_keep(const char *dir, uint64_t from_lsn, bool repair, wal_replay_fn fn, void *ctx,
                    struct wal_replay_info *info, struct wal_maps *keep)
{
	struct replay r = {dir, from_lsn, repair, fn, ctx, info, keep, 0, NULL, ""};
	char **names = NULL, path[4096];
	size_t n = 0;
	uint64_t *lsns = NULL;
	int rc;

	r.undecodable = r.undecodable_why;
	memset(info, 0, sizeof *info);
	if ((rc = io_list(dir, "wal-", &names, &n)) < 0)
		return rc;
	if (n && !(lsns = sutra_calloc(n, sizeof *lsns))) {
		rc = err_set(SUTRA_ENOMEM, "out of memory listing WAL segments");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!wal_segment_name(names[i], &lsns[i])) {
			rc =
			    err_set(SUTRA_ECORRUPT, "%s/%s: not a WAL segment name", dir, names[i]);
			goto out;
		}
	bool stop = false;
	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (stop) { /* repair: everything after the cut goes */
			rc = io_unlink(path);
			continue;
		}
		if (i + 1 < n && lsns[i + 1] <= from_lsn)
			continue; /* wholly before the checkpoint */
		if (r.expect == 0 && lsns[i] > from_lsn && r.repair) {
			stop = true; /* nothing usable after a missing segment */
			rc = io_unlink(path);
			continue;
		}
		if (r.expect == 0 && lsns[i] > from_lsn) {
			rc = err_set(SUTRA_ECORRUPT,
			             "%s: the WAL starts at lsn %" PRIu64 " but lsn %" PRIu64
			             " onwards are needed (a segment is missing)",
			             path, lsns[i], from_lsn);
			break;
		}
		rc = replay_segment(&r, path, lsns[i], i + 1 == n, &stop);
	}
	info->next_lsn = r.expect > from_lsn ? r.expect : from_lsn;
out:
	sutra_free(lsns);
	io_list_free(names, n);
	return rc;
}
