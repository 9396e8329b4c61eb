/* test_wal_tail.c - the catalogue of damaged WAL tails: what recovery cuts, what it refuses.
 *
 * Every case writes a store through the public API only (durability always,
 * dimension 4, one concept per sutra_learn so each is its own WAL record),
 * closes it, damages the segment files with plain POSIX calls and reopens.
 * The test parses segments itself, following the layout in src/wal/wal.h
 * (40-byte header; 8-aligned records: crc, len, lsn, synced, payload), to find
 * record boundaries; it never uses the engine to find them. A template store
 * is built once per case and copied, so every damage starts from the same
 * bytes. The template spans two segments: session 1 writes N1 records into
 * wal-1, session 2 writes N2 more into wal-(N1+1), which is then the newest
 * file and the "last segment" of the rules. Cases that need an empty newer
 * segment (the one every open creates) reopen and close once more.
 * Three cases reproduce bugs this suite found and that are now fixed
 * (power loss after a restart, repair past damage, an all-zero newest
 * segment); they stay as regression tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sutra/sutra.h"
#include "sutra/sutra_test.h"
#include "testutil.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "wal/wal.h"

#define DIM      4
#define N1       3 /* records in the first segment */
#define N2       5 /* records in the second (newest) segment */
#define NALL     (N1 + N2)
#define MAX_REC  64
#define MAX_SEGS 16

/* ---- files ----------------------------------------------------------------- */

static void file_append(const char *path, const void *p, size_t n)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	tu_file_write_at(path, p, n, st.st_size);
}

static void file_truncate(const char *path, off_t size)
{
	assert_int_equal(truncate(path, size), 0);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted full paths of the WAL segments in dir; returns the count. */
static size_t list_segments(const char *dir, char **out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "wal-", 4) == 0 && strstr(e->d_name, ".log")) {
			assert_true(n < cap);
			out[n++] = tu_path(dir, e->d_name);
		}
	closedir(d);
	qsort(out, n, sizeof *out, cmp_str);
	return n;
}

static void free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* ---- segment parsing (independent of the engine, from wal.h) --------------- */

struct rec {
	uint64_t off, len, lsn, synced;
};

struct seg {
	uint8_t *buf;
	size_t size;
	uint64_t salt, first_lsn;
	size_t n;
	struct rec r[MAX_REC];
	uint64_t end; /* where the valid records end */
};

static void seg_parse(const char *path, struct seg *s)
{
	memset(s, 0, sizeof *s);
	s->buf = tu_file_read(path, &s->size);
	assert_true(s->size >= WAL_HEADER_SIZE);
	assert_memory_equal(s->buf, WAL_MAGIC, 8);
	assert_int_equal(ld32(s->buf + 8), WAL_VERSION);
	assert_int_equal(ld32(s->buf + 12), WAL_HEADER_SIZE);
	assert_int_equal(crc32c(s->buf, 32), ld32(s->buf + 32));
	s->salt = ld64(s->buf + 16);
	s->first_lsn = ld64(s->buf + 24);
	uint32_t seed = crc32c(s->buf + 16, 8);
	uint64_t pos = WAL_HEADER_SIZE, lsn = s->first_lsn;
	while (s->size - pos >= WAL_RECORD_HEADER) {
		const uint8_t *r = s->buf + pos;
		uint64_t len = ld32(r + 4);
		if (len > s->size - pos - WAL_RECORD_HEADER || ld64(r + 8) != lsn ||
		    crc32c_extend(seed, r + 4, WAL_RECORD_HEADER - 4 + len) != ld32(r))
			break;
		assert_true(s->n < MAX_REC);
		s->r[s->n++] = (struct rec){pos, len, lsn, ld64(r + 16)};
		pos += (WAL_RECORD_HEADER + len + 7) & ~(uint64_t)7;
		lsn++;
	}
	s->end = pos;
}

static void seg_free(struct seg *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* ---- store helpers -------------------------------------------------------- */

static void concept_text(char tag, int i, char *out, size_t n)
{
	snprintf(out, n, "%c-concept-%03d", tag, i);
}

static void concept_id(char tag, int i, sutra_id *id)
{
	char text[32];

	concept_text(tag, i, text, sizeof text);
	sutra_id_from_content(text, strlen(text), id);
}

static int open_store(const char *dir, int repair, sutra_db **db)
{
	sutra_options o;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_ALWAYS;
	o.wal_segment_bytes = 1u << 20;
	o.checkpoint_wal_bytes = 0;
	o.repair = repair;
	*db = NULL;
	return sutra_open(dir, &o, db);
}

static sutra_db *open_ok(const char *dir, int repair)
{
	sutra_db *db;
	int rc = open_store(dir, repair, &db);

	if (rc != 0)
		fail_msg("open %s (repair %d): %s: %s", dir, repair, sutra_strerror(rc),
		         sutra_last_error());
	return db;
}

static void learn(sutra_db *db, char tag, int i)
{
	char text[32];
	float vec[DIM] = {(float)i, 1.0f, 2.0f, 3.0f};
	sutra_concept_in c;
	uint64_t lsn;

	concept_text(tag, i, text, sizeof text);
	memset(&c, 0, sizeof c);
	concept_id(tag, i, &c.id);
	c.content = text;
	c.content_len = strlen(text);
	c.vector = vec;
	c.vector_dim = DIM;
	c.strength = 1.0f;
	c.confidence = 0.5f;
	if (sutra_learn(db, &c, &lsn) != 0)
		fail_msg("learn %s: %s", text, sutra_last_error());
}

static void learn_range(const char *dir, char tag, int from, int to)
{
	sutra_db *db = open_ok(dir, 0);

	for (int i = from; i < to; i++)
		learn(db, tag, i);
	assert_int_equal(sutra_close(db), 0);
}

/* Asserts concept (tag, i) is present with its content, or absent. */
static void expect_concept(sutra_db *db, char tag, int i, bool present)
{
	char text[32];
	sutra_id id;
	sutra_concept *c = NULL;

	concept_text(tag, i, text, sizeof text);
	concept_id(tag, i, &id);
	int rc = sutra_get(db, &id, &c);
	if (!present) {
		if (rc != SUTRA_ENOTFOUND)
			fail_msg("%s should be absent (rc %d)", text, rc);
		return;
	}
	if (rc != 0)
		fail_msg("%s missing: %s", text, sutra_strerror(rc));
	assert_int_equal(c->content_len, strlen(text));
	assert_memory_equal(c->content, text, c->content_len);
	assert_int_equal(c->vector_dim, DIM);
	assert_true(c->vector[0] == (float)i);
	sutra_concept_free(c);
}

static void expect_count(sutra_db *db, int n)
{
	sutra_stats st;

	assert_int_equal(sutra_stats_get(db, &st), 0);
	if (st.concepts != (uint64_t)n)
		fail_msg("store holds %" PRIu64 " concepts, expected %d", st.concepts, n);
}

/* The store holds exactly concepts tag 0..n-1 (of total written). */
static void expect_prefix(sutra_db *db, char tag, int n, int total)
{
	for (int i = 0; i < total; i++)
		expect_concept(db, tag, i, i < n);
	expect_count(db, n);
}

static uint64_t torn_bytes(sutra_db *db)
{
	sutra_stats st;

	assert_int_equal(sutra_stats_get(db, &st), 0);
	return st.recovery_torn_bytes;
}

/* After recovery held n concepts: one more write, a reopen, and all n+1. */
static void expect_writable(const char *dir, sutra_db *db, char tag, int n)
{
	learn(db, tag, 900 + n);
	assert_int_equal(sutra_close(db), 0);
	db = open_ok(dir, 0);
	assert_int_equal(torn_bytes(db), 0);
	for (int i = 0; i < NALL; i++)
		expect_concept(db, tag, i, i < n);
	expect_concept(db, tag, 900 + n, true);
	expect_count(db, n + 1);
	assert_int_equal(sutra_close(db), 0);
}

static void expect_error_mentions(const char *a, const char *b)
{
	const char *msg = sutra_last_error();

	if (!strstr(msg, a) || (b && !strstr(msg, b)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", msg, a, b ? b : "");
}

/* ---- fixtures ------------------------------------------------------------- */

struct fx {
	char *tmpl; /* the template store, never opened after it is built */
	char *work; /* a copy to damage */
	char *segs[MAX_SEGS];
	size_t nsegs; /* of the work copy, after fx_copy */
};

static void fx_copy(struct fx *f)
{
	free_list(f->segs, f->nsegs);
	if (f->work) {
		tu_rmrf(f->work);
		free(f->work);
	}
	f->work = tu_mkdtemp("waltail");
	tu_dir_copy(f->tmpl, f->work);
	f->nsegs = list_segments(f->work, f->segs, MAX_SEGS);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->tmpl = tu_mkdtemp("waltmpl");
	learn_range(f->tmpl, 'B', 0, N1);
	learn_range(f->tmpl, 'B', N1, NALL);
	fx_copy(f);
	/* wal-1 holds lsn 1..N1, the newest wal-(N1+1) holds the rest */
	assert_int_equal(f->nsegs, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free_list(f->segs, f->nsegs);
	tu_rmrf(f->tmpl);
	tu_rmrf(f->work);
	free(f->tmpl);
	free(f->work);
	free(f);
	sutra_fault_clear();
	return 0;
}

static void test_template_layout(void **state)
{
	struct fx *f = *state;
	struct seg a, b;

	seg_parse(f->segs[0], &a);
	seg_parse(f->segs[1], &b);
	assert_int_equal(a.first_lsn, 1);
	assert_int_equal(a.n, N1);
	assert_int_equal(a.end, a.size);
	assert_int_equal(b.first_lsn, N1 + 1);
	assert_int_equal(b.n, N2);
	assert_int_equal(b.end, b.size);
	assert_true(a.salt != b.salt);
	/* one learn per call with durability always: each record's synced
	 * field names the record before it */
	for (size_t i = 1; i < b.n; i++)
		assert_int_equal(b.r[i].synced, b.r[i].lsn - 1);
	seg_free(&a);
	seg_free(&b);
	sutra_db *db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL, NALL);
	assert_int_equal(torn_bytes(db), 0);
	assert_int_equal(sutra_close(db), 0);
}

/* ---- a) truncation at every byte of the last record ------------------------ */

static void test_truncate_every_offset(void **state)
{
	struct fx *f = *state;
	struct seg s;

	seg_parse(f->segs[1], &s);
	const struct rec last = s.r[s.n - 1];
	uint64_t start = last.off, end = last.off + WAL_RECORD_HEADER + last.len;
	seg_free(&s);
	assert_int_equal(end, (uint64_t)file_size(f->segs[1]));
	for (uint64_t cut = start; cut <= end; cut++) {
		fx_copy(f);
		file_truncate(f->segs[1], (off_t)cut);
		sutra_db *db = open_ok(f->work, 0);
		int have = cut == end ? NALL : NALL - 1;
		expect_prefix(db, 'B', have, NALL);
		uint64_t torn = torn_bytes(db);
		if (cut > start && cut < end && torn != cut - start)
			fail_msg("cut at %" PRIu64 ": torn_bytes %" PRIu64 ", expected %" PRIu64,
			         cut, torn, cut - start);
		if ((cut == start || cut == end) && torn != 0)
			fail_msg("cut at a record boundary reported %" PRIu64 " torn bytes", torn);
		if (cut < end)
			assert_int_equal(file_size(f->segs[1]), (long)start);
		expect_writable(f->work, db, 'B', have);
	}
}

/* ---- b) zero-filled tails ---------------------------------------------------- */

static void test_zero_tail_appended(void **state)
{
	struct fx *f = *state;
	static const uint8_t zeros[4096];

	file_append(f->segs[1], zeros, sizeof zeros);
	sutra_db *db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL, NALL);
	assert_int_equal(torn_bytes(db), sizeof zeros);
	expect_writable(f->work, db, 'B', NALL);
}

static void test_zero_last_record(void **state)
{
	struct fx *f = *state;
	static const uint8_t zeros[4096];
	struct seg s;

	seg_parse(f->segs[1], &s);
	const struct rec last = s.r[s.n - 1];
	seg_free(&s);
	size_t n = WAL_RECORD_HEADER + last.len;
	tu_file_write_at(f->segs[1], zeros, n, (off_t)last.off);
	sutra_db *db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL - 1, NALL);
	assert_int_equal(torn_bytes(db), n);
	expect_writable(f->work, db, 'B', NALL - 1);
	/* zeros over the last record and beyond */
	fx_copy(f);
	tu_file_write_at(f->segs[1], zeros, sizeof zeros, (off_t)last.off);
	db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL - 1, NALL);
	assert_int_equal(torn_bytes(db), sizeof zeros);
	assert_int_equal(sutra_close(db), 0);
}

/* ---- c) bad CRC in the last record -------------------------------------------- */

static void test_bad_crc_last_record(void **state)
{
	struct fx *f = *state;
	struct seg s;

	seg_parse(f->segs[1], &s);
	const struct rec last = s.r[s.n - 1];
	seg_free(&s);
	/* one byte in the payload, one in the lsn, one in the crc itself */
	const uint64_t where[] = {last.off + WAL_RECORD_HEADER + last.len / 2, last.off + 8,
	                          last.off};
	for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
		fx_copy(f);
		tu_file_flip(f->segs[1], (off_t)where[k]);
		sutra_db *db = open_ok(f->work, 0);
		expect_prefix(db, 'B', NALL - 1, NALL);
		assert_int_equal(torn_bytes(db), WAL_RECORD_HEADER + last.len);
		expect_writable(f->work, db, 'B', NALL - 1);
	}
}

/* ---- d) bad CRC before the tail ------------------------------------------------- */

/* Damage in record k (0-based within segment seg) of acknowledged data. */
static void check_refused_then_repaired(struct fx *f, size_t seg, size_t k, int before)
{
	struct seg s;
	sutra_db *db;

	fx_copy(f);
	seg_parse(f->segs[seg], &s);
	const struct rec r = s.r[k];
	seg_free(&s);
	tu_file_flip(f->segs[seg], (off_t)(r.off + WAL_RECORD_HEADER + r.len / 2));
	long size_before = file_size(f->segs[seg]);

	assert_int_equal(open_store(f->work, 0, &db), SUTRA_ECORRUPT);
	assert_null(db);
	char off[64];
	snprintf(off, sizeof off, "offset %" PRIu64, r.off);
	expect_error_mentions(tu_base_name(f->segs[seg]), off);
	/* refusing must not have touched the files */
	assert_int_equal(file_size(f->segs[seg]), size_before);
	assert_int_equal(open_store(f->work, 0, &db), SUTRA_ECORRUPT);

	db = open_ok(f->work, 1);
	expect_prefix(db, 'B', before, NALL);
	assert_int_equal(sutra_close(db), 0);
	/* the repair is permanent: a normal open now works and writes survive */
	db = open_ok(f->work, 0);
	expect_prefix(db, 'B', before, NALL);
	expect_writable(f->work, db, 'B', before);
}

static void test_bad_crc_middle_record(void **state)
{
	struct fx *f = *state;

	/* record 3 of 5 in the last segment: records 4 and 5 prove it was synced */
	check_refused_then_repaired(f, 1, 2, N1 + 2);
	/* the first record of the last segment */
	check_refused_then_repaired(f, 1, 0, N1);
	/* the second-to-last record: the last one still covers it */
	check_refused_then_repaired(f, 1, N2 - 2, NALL - 2);
}

static void test_bad_crc_non_last_segment(void **state)
{
	struct fx *f = *state;

	/* any record of an older segment, even its last, is acknowledged data;
	 * repair keeps what precedes it and drops every later segment */
	check_refused_then_repaired(f, 0, 1, 1);
	check_refused_then_repaired(f, 0, N1 - 1, N1 - 1);
}

/* ---- e) stale bytes from another segment ----------------------------------------- */

/* Builds store A (tag 'A', same sizes as B) with all NALL records in a
 * single segment and returns that segment's bytes. */
static uint8_t *stale_segment(size_t *size, struct seg *sa)
{
	char *dir = tu_mkdtemp("walstale");
	char *segs[MAX_SEGS];

	learn_range(dir, 'A', 0, NALL + 4);
	size_t n = list_segments(dir, segs, MAX_SEGS);
	assert_int_equal(n, 1);
	seg_parse(segs[0], sa);
	uint8_t *buf = tu_file_read(segs[0], size);
	free_list(segs, n);
	tu_rmrf(dir);
	free(dir);
	return buf;
}

static void expect_no_a(sutra_db *db)
{
	for (int i = 0; i < NALL + 4; i++)
		expect_concept(db, 'A', i, false);
}

static void test_stale_segment_bytes(void **state)
{
	struct fx *f = *state;
	struct seg sa, sb;
	size_t asize;
	uint8_t *a = stale_segment(&asize, &sa);
	size_t region = asize - WAL_HEADER_SIZE;

	/* 1. A's whole record region appended after B's last record */
	file_append(f->segs[1], a + WAL_HEADER_SIZE, region);
	sutra_db *db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL, NALL);
	expect_no_a(db);
	assert_int_equal(torn_bytes(db), region);
	assert_int_equal(sutra_close(db), 0);

	/* 2. A's records with exactly the lsns B expects next, at the offset B
	 * would write them: only the salt tells them apart */
	fx_copy(f);
	seg_parse(f->segs[1], &sb);
	const struct rec *next = &sa.r[NALL];
	assert_int_equal(next->lsn, NALL + 1);
	file_append(f->segs[1], a + next->off, asize - next->off);
	db = open_ok(f->work, 0);
	expect_prefix(db, 'B', NALL, NALL);
	expect_no_a(db);
	assert_int_equal(torn_bytes(db), asize - next->off);
	assert_int_equal(sutra_close(db), 0);

	/* 3. B's tail overwritten with A's records of the same lsns: B keeps
	 * what precedes the overwrite, nothing of A is replayed */
	fx_copy(f);
	const struct rec *from = &sb.r[2]; /* B's lsn N1+3 */
	const struct rec *same = &sa.r[from->lsn - 1];
	assert_int_equal(same->lsn, from->lsn);
	assert_int_equal(same->len, from->len);
	file_truncate(f->segs[1], (off_t)from->off);
	file_append(f->segs[1], a + same->off, asize - same->off);
	db = open_ok(f->work, 0);
	expect_prefix(db, 'B', (int)from->lsn - 1, NALL);
	expect_no_a(db);
	assert_int_equal(torn_bytes(db), asize - same->off);
	expect_writable(f->work, db, 'B', (int)from->lsn - 1);

	/* 4. A's records overwriting B's tail in the older segment too, with an
	 * intact newer segment: damage before the tail, refused */
	fx_copy(f);
	struct seg s0;
	seg_parse(f->segs[0], &s0);
	const struct rec *r0 = &s0.r[1];
	tu_file_write_at(f->segs[0], a + sa.r[1].off, s0.size - r0->off, (off_t)r0->off);
	seg_free(&s0);
	assert_int_equal(open_store(f->work, 0, &db), SUTRA_ECORRUPT);
	db = open_ok(f->work, 1);
	expect_prefix(db, 'B', 1, NALL);
	expect_no_a(db);
	assert_int_equal(sutra_close(db), 0);

	seg_free(&sa);
	seg_free(&sb);
	free(a);
}

/* ---- f) segment headers ------------------------------------------------------------ */

static void test_header_damaged_non_last(void **state)
{
	struct fx *f = *state;
	sutra_db *db;
	const off_t where[] = {0, 9, 20, 28, 33}; /* magic, version, salt, lsn, crc */

	for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
		fx_copy(f);
		tu_file_flip(f->segs[0], where[k]);
		int rc = open_store(f->work, 0, &db);
		if (rc != SUTRA_ECORRUPT)
			fail_msg("header byte %ld: rc %d (%s)", (long)where[k], rc,
			         sutra_last_error());
		expect_error_mentions(tu_base_name(f->segs[0]), "offset 0");
	}
	/* a newer (last) segment with records whose header is damaged is
	 * acknowledged data too */
	fx_copy(f);
	tu_file_flip(f->segs[1], 20);
	assert_int_equal(open_store(f->work, 0, &db), SUTRA_ECORRUPT);
	expect_error_mentions(tu_base_name(f->segs[1]), "offset 0");
}

/* Guarantee 10: a segment of another format version is refused with a
 * clear message, not mistaken for damage. */
static void test_wal_version(void **state)
{
	struct fx *f = *state;
	sutra_db *db;

	for (size_t k = 0; k < 2; k++) {
		fx_copy(f);
		struct seg s;
		seg_parse(f->segs[k], &s);
		st32(s.buf + 8, WAL_VERSION + 1);
		st32(s.buf + 32, crc32c(s.buf, 32));
		tu_file_write_at(f->segs[k], s.buf, WAL_HEADER_SIZE, 0);
		seg_free(&s);
		assert_int_equal(open_store(f->work, 0, &db), SUTRA_EVERSION);
		expect_error_mentions(tu_base_name(f->segs[k]), "version 2");
	}
}

/* Opens with repair; the store must hold exactly B's first `keep`.
 * A refusal is appended to *report (all cases run, then one failure). */
static void expect_repaired(struct fx *f, const char *what, int keep, int total, char *report,
                            size_t cap)
{
	sutra_db *db;
	int rc = open_store(f->work, 0, &db);
	size_t used = strlen(report);

	if (rc != SUTRA_ECORRUPT)
		fail_msg("%s: open without repair gave %s", what, sutra_strerror(rc));
	rc = open_store(f->work, 1, &db);
	if (rc != 0) {
		snprintf(report + used, cap - used, "\n  %s: repair open refused: %s", what,
		         sutra_last_error());
		return;
	}
	expect_prefix(db, 'B', keep, total);
	expect_writable(f->work, db, 'B', keep);
}

/* sutra.h: "corruption before the tail fails with SUTRA_ECORRUPT unless
 * o->repair"; wal.h: with repair the log is cut at the damage and later
 * segments are removed. Three kinds of such corruption that repair
 * cannot get past: a damaged segment header in a non-last segment, a
 * record with a valid CRC whose ops do not decode, and a missing segment
 * between two others (each refused, with or without repair). */
static void test_repair_past_corruption(void **state)
{
	struct fx *f = *state;
	struct seg s;
	char name[64], report[2048] = "";

	/* 1. the newer segment's salt, made non-last by the empty newest
	 * segment an open leaves */
	fx_copy(f);
	tu_file_flip(f->segs[1], 20);
	snprintf(name, sizeof name, "wal-%016" PRIx64 ".log", (uint64_t)NALL + 1);
	char *extra = tu_path(f->work, name);
	seg_parse(f->segs[0], &s);
	st64(s.buf + 24, NALL + 1);
	st32(s.buf + 32, crc32c(s.buf, 32));
	tu_file_write_at(extra, s.buf, WAL_HEADER_SIZE, 0);
	seg_free(&s);
	free(extra);
	expect_repaired(f, "damaged header of a non-last segment", N1, NALL, report, sizeof report);

	/* 2. record N1+3 holds an unknown op kind under a valid CRC */
	fx_copy(f);
	seg_parse(f->segs[1], &s);
	const struct rec r = s.r[2];
	uint8_t *rp = s.buf + r.off;
	rp[WAL_RECORD_HEADER + 8] = 9; /* the first op's kind */
	st32(rp, crc32c_extend(crc32c(s.buf + 16, 8), rp + 4, WAL_RECORD_HEADER - 4 + r.len));
	tu_file_write_at(f->segs[1], rp, WAL_RECORD_HEADER + r.len, (off_t)r.off);
	seg_free(&s);
	expect_repaired(f, "a record whose op does not decode", N1 + 2, NALL, report,
	                sizeof report);

	/* 3. a third segment, then the middle one lost */
	fx_copy(f);
	learn_range(f->work, 'B', NALL, NALL + 2);
	assert_int_equal(unlink(f->segs[1]), 0);
	expect_repaired(f, "a missing middle segment", N1, NALL + 2, report, sizeof report);
	if (report[0])
		fail_msg("corruption that repair does not get past:%s", report);
}

static void test_last_segment_short(void **state)
{
	struct fx *f = *state;
	struct seg s;

	seg_parse(f->segs[1], &s);
	uint8_t h[WAL_HEADER_SIZE];
	memcpy(h, s.buf, WAL_HEADER_SIZE);
	seg_free(&s);
	/* a crash while creating the next segment (lsn NALL+1) leaves 0..39
	 * bytes of its header */
	char name[64];
	snprintf(name, sizeof name, "wal-%016" PRIx64 ".log", (uint64_t)NALL + 1);
	st64(h + 24, NALL + 1);
	st32(h + 32, crc32c(h, 32));
	const size_t lens[] = {0, 1, 8, 20, 39};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		fx_copy(f);
		char *path = tu_path(f->work, name);
		tu_file_write_at(path, h, lens[k], 0);
		assert_int_equal(file_size(path), (long)lens[k]);
		sutra_db *db = open_ok(f->work, 0);
		expect_prefix(db, 'B', NALL, NALL);
		assert_int_equal(torn_bytes(db), lens[k]);
		expect_writable(f->work, db, 'B', NALL);
		free(path);
	}
}

/* The same crash on a file system that shows the unwritten header as zeros
 * (the size reached the disk, the data did not: ext4 data=writeback, or a
 * lost write): the newest segment is 40+ bytes of zeros and holds no
 * record, since records are only appended after the header is synced.
 * Nothing acknowledged is in it, so it is a torn creation like the short
 * one; the engine refuses it as a bad header, even with repair. */
static void test_last_segment_zero_header(void **state)
{
	struct fx *f = *state;
	static const uint8_t zeros[4096];
	const size_t lens[] = {WAL_HEADER_SIZE, sizeof zeros};
	char name[64];

	snprintf(name, sizeof name, "wal-%016" PRIx64 ".log", (uint64_t)NALL + 1);
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		fx_copy(f);
		char *path = tu_path(f->work, name);
		tu_file_write_at(path, zeros, lens[k], 0);
		free(path);
		sutra_db *db;
		int rc = open_store(f->work, 0, &db);
		if (rc != 0) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s", sutra_last_error());
			int rrc = open_store(f->work, 1, &db);
			if (rrc == 0)
				sutra_close(db);
			fail_msg(
			    "newest segment of %zu zero bytes: open refused (%s); with repair: %s",
			    lens[k], msg, rrc == 0 ? "opens" : sutra_last_error());
		}
		expect_prefix(db, 'B', NALL, NALL);
		expect_writable(f->work, db, 'B', NALL);
	}
}

/* ---- the "last segment" is the newest file --------------------------------------- */

/* Every open starts a new segment; after a clean reopen/close the segment
 * holding the records is no longer the newest file. Damage to its last
 * record is then "damage in another segment" (wal.h) and refused: those
 * records were replayed, served and acknowledged by the earlier session. */
static void test_damage_before_empty_newest(void **state)
{
	struct fx *f = *state;
	sutra_db *db = open_ok(f->work, 0);
	assert_int_equal(sutra_close(db), 0);
	free_list(f->segs, f->nsegs);
	f->nsegs = list_segments(f->work, f->segs, MAX_SEGS);
	assert_int_equal(f->nsegs, 3);
	assert_int_equal(file_size(f->segs[2]), WAL_HEADER_SIZE);

	struct seg s;
	seg_parse(f->segs[1], &s);
	const struct rec last = s.r[s.n - 1];
	seg_free(&s);
	file_truncate(f->segs[1], (off_t)(last.off + 10));
	assert_int_equal(open_store(f->work, 0, &db), SUTRA_ECORRUPT);
	char off[64];
	snprintf(off, sizeof off, "offset %" PRIu64, last.off);
	expect_error_mentions(tu_base_name(f->segs[1]), off);
	db = open_ok(f->work, 1);
	expect_prefix(db, 'B', NALL - 1, NALL);
	expect_writable(f->work, db, 'B', NALL - 1);
}

/* A torn tail is cut (truncate + fsync) by the first open, before that open
 * creates its new segment, so a later clean reopen/close sequence never
 * turns the cut tail into "damage before the tail". */
static void test_torn_then_clean_reopens(void **state)
{
	struct fx *f = *state;
	struct seg s;

	seg_parse(f->segs[1], &s);
	const struct rec last = s.r[s.n - 1];
	seg_free(&s);
	file_truncate(f->segs[1], (off_t)(last.off + 13));
	sutra_db *db = open_ok(f->work, 0);
	assert_int_equal(torn_bytes(db), 13);
	assert_int_equal(sutra_close(db), 0);
	for (int k = 0; k < 3; k++) {
		db = open_ok(f->work, 0);
		assert_int_equal(torn_bytes(db), 0);
		expect_prefix(db, 'B', NALL - 1, NALL);
		assert_int_equal(sutra_close(db), 0);
	}
	free_list(f->segs, f->nsegs);
	f->nsegs = list_segments(f->work, f->segs, MAX_SEGS);
	assert_true(f->nsegs >= 3);
	assert_int_equal(file_size(f->segs[1]), (long)last.off);
}

/* Child of test_power_loss_after_restart: a session with durability none
 * that writes n records (to the page cache, never synced) and is killed
 * once the segment has reached `size` bytes. */
static void unsynced_session(const char *dir, int n, long size)
{
	sutra_options o;
	sutra_db *db;
	char seg[4200];

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	if (sutra_open(dir, &o, &db) != 0)
		_exit(2);
	for (int i = 0; i < n; i++) {
		char text[32];
		float vec[DIM] = {(float)i, 1.0f, 2.0f, 3.0f};
		sutra_concept_in c = {.strength = 1.0f, .confidence = 0.5f};
		concept_text('C', i, text, sizeof text);
		c.vector = vec;
		c.vector_dim = DIM;
		concept_id('C', i, &c.id);
		c.content = text;
		c.content_len = strlen(text);
		if (sutra_learn(db, &c, NULL) != 0)
			_exit(3);
	}
	snprintf(seg, sizeof seg, "%s/wal-0000000000000001.log", dir);
	for (int ms = 0; file_size(seg) != size; ms++) { /* written by the background */
		if (ms == 10000)
			_exit(4);
		usleep(1000);
	}
	_exit(0); /* killed: no close, no sync */
}

/* Opens dir failing each WAL fsync of the open in turn; true if one of
 * them was an fsync of the segment named seg (the open makes the segment
 * it replayed durable). Ends with a successful open, returned in *out. */
static bool open_syncs_segment(const char *dir, const char *seg, sutra_db **out)
{
	bool seen = false;

	for (unsigned nth = 1; nth < 64; nth++) {
		sutra_fault_clear();
		sutra_fault_io(SUTRA_SITE_WAL_FSYNC, nth, SUTRA_FAULT_EIO);
		int rc = open_store(dir, 0, out);
		sutra_fault_clear();
		if (rc == 0)
			return seen;
		expect_error_mentions("injected EIO", NULL);
		seen |= strstr(sutra_last_error(), seg) != NULL;
	}
	fail_msg("open still fails after 64 injected fsync faults");
	return false;
}

/* Power loss after a restart. Session 1 (killed) leaves records written
 * but never synced; session 2 replays them, serves them, starts a new
 * segment and acknowledges a durable (durability always) write X, whose
 * record claims in its synced field that everything before it is on disk.
 * Unless the open synced the replayed segment, a power loss may then tear
 * it: a torn tail in what is now a non-last segment. The engine refuses to
 * open, and repair drops X. The state after that power loss is built by
 * truncating the never-synced bytes; the test passes if the open syncs the
 * segment (then the premise is gone) or if the loss is survived with X. */
static void test_power_loss_after_restart(void **state)
{
	struct fx *f = *state;
	char *segs[MAX_SEGS];
	sutra_db *db;
	struct seg s;
	int status;

	/* C's records have the sizes of B's in the template */
	seg_parse(f->segs[1], &s);
	long size = (long)(WAL_HEADER_SIZE + 4 * (s.r[1].off - s.r[0].off));
	seg_free(&s);
	/* an empty store directory (teardown removes it) */
	const char *dir = f->work;
	tu_rmrf(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		unsynced_session(dir, 4, size);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	bool synced = open_syncs_segment(dir, "wal-0000000000000001.log", &db);
	for (int i = 0; i < 4; i++)
		expect_concept(db, 'C', i, true);
	learn(db, 'X', 0);
	assert_int_equal(sutra_close(db), 0);
	size_t n = list_segments(dir, segs, MAX_SEGS);
	assert_int_equal(n, 2);
	seg_parse(segs[0], &s);
	uint64_t cut = s.r[3].off + 20;
	seg_free(&s);
	free_list(segs, n);
	if (!synced) {
		char *seg1 = tu_path(dir, "wal-0000000000000001.log");
		file_truncate(seg1, (off_t)cut); /* the never-synced tail is lost */
		free(seg1);
		int rc = open_store(dir, 0, &db);
		if (rc != 0) {
			char msg[512];
			bool has_x = false;
			snprintf(msg, sizeof msg, "%s", sutra_last_error());
			if (open_store(dir, 1, &db) == 0) {
				sutra_id x;
				concept_id('X', 0, &x);
				has_x = sutra_exists(db, &x) == 1;
				sutra_close(db);
			}
			fail_msg("power loss after a restart: open refused (%s); repair %s the "
			         "acknowledged write X",
			         msg, has_x ? "kept" : "lost");
		}
		expect_concept(db, 'X', 0, true);
		assert_int_equal(sutra_close(db), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_template_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_every_offset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_tail_appended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_last_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_crc_last_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_crc_middle_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_crc_non_last_segment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_segment_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_damaged_non_last, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repair_past_corruption, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_segment_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_segment_zero_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damage_before_empty_newest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_then_clean_reopens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_after_restart, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
