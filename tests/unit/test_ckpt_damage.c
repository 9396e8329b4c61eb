/* test_ckpt_damage.c - damaged checkpoints and manifests, format versions, dimension and lock
 * refusals.
 *
 * A template store is written once per case through the public API: six
 * concepts and two associations, sutra_checkpoint(), then two more concepts
 * that live only in the WAL after the checkpoint, and a clean close. Each
 * case copies the template, damages the checkpoint file or the MANIFEST with
 * plain POSIX calls (the layouts are parsed here from src/store/checkpoint.h,
 * not through the engine) and checks that the open is refused with the
 * documented code and a message naming the file (and the offset where the
 * format has one), that repair skips exactly the damaged record, and that
 * refusing leaves the files as they were. The lock case opens the store and
 * tries a second sutra_open from a forked child.
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
#include "testutil.h"
#include "util/bytes.h"
#include "util/crc32c.h"

#define DIM         4
#define NCKPT       6 /* concepts in the checkpoint */
#define NALL        8 /* plus two in the WAL only */
#define CKPT_HDR    64
#define CKPT_FOOTER 32
#define MAN_SIZE    64
#define MAX_REC     32

/* ---- files ------------------------------------------------------------------- */

/* Full path of the one file in dir whose name starts with prefix. */
static char *find_file(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *found = NULL;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			assert_null(found);
			found = tu_path(dir, e->d_name);
		}
	closedir(d);
	assert_non_null(found);
	return found;
}

/* ---- checkpoint parsing (from checkpoint.h) ---------------------------------------- */

struct crec {
	uint64_t off; /* of the record frame (crc, len) */
	uint32_t len;
	int kind;
	char content[32]; /* of a learn op */
};

struct ckpt {
	size_t size, n;
	struct crec r[MAX_REC];
};

static void ckpt_parse(const char *path, struct ckpt *c)
{
	size_t size;
	uint8_t *p = tu_file_read(path, &size);

	memset(c, 0, sizeof *c);
	c->size = size;
	assert_true(size >= CKPT_HDR + CKPT_FOOTER);
	assert_memory_equal(p, "SUTRACKP", 8);
	assert_int_equal(crc32c(p, 60), ld32(p + 60));
	assert_int_equal(ld32(p + 24), DIM);
	for (uint64_t pos = CKPT_HDR; pos < size - CKPT_FOOTER;) {
		struct crec *r = &c->r[c->n++];
		r->off = pos;
		r->len = ld32(p + pos + 4);
		assert_int_equal(crc32c_extend(crc32c(p + pos + 4, 4), p + pos + 8, r->len),
		                 ld32(p + pos));
		const uint8_t *op = p + pos + 8;
		r->kind = op[0];
		if (r->kind == 1) { /* OP_LEARN: content after vector and metadata */
			uint32_t clen = ld32(op + 4), mlen = ld32(op + 8), dim = ld32(op + 12);
			assert_true(clen < sizeof r->content);
			memcpy(r->content, op + 56 + dim * 4 + mlen, clen);
		}
		pos += 8 + r->len;
	}
	const uint8_t *f = p + size - CKPT_FOOTER;
	assert_memory_equal(f, "SUTRAEND", 8);
	assert_int_equal(ld64(f + 8), NCKPT);
	assert_int_equal(ld64(f + 16), 2);
	free(p);
}

static const struct crec *ckpt_find(const struct ckpt *c, int kind, const char *content)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->r[i].kind == kind && (!content || strcmp(c->r[i].content, content) == 0))
			return &c->r[i];
	fail_msg("no checkpoint record of kind %d (%s)", kind, content ? content : "");
	return NULL;
}

/* ---- store helpers -------------------------------------------------------------- */

static void concept_text(int i, char *out, size_t n)
{
	snprintf(out, n, "K-concept-%03d", i);
}

static void concept_id(int i, sutra_id *id)
{
	char text[32];

	concept_text(i, text, sizeof text);
	sutra_id_from_content(text, strlen(text), id);
}

static int open_store(const char *dir, uint32_t dim, int repair, sutra_db **db)
{
	sutra_options o;

	sutra_options_init(&o);
	o.dimension = dim;
	o.durability = SUTRA_DURABILITY_ALWAYS;
	o.checkpoint_wal_bytes = 0;
	o.repair = repair;
	*db = NULL;
	return sutra_open(dir, &o, db);
}

static sutra_db *open_ok(const char *dir, int repair)
{
	sutra_db *db;
	int rc = open_store(dir, DIM, repair, &db);

	if (rc != 0)
		fail_msg("open %s: %s: %s", dir, sutra_strerror(rc), sutra_last_error());
	return db;
}

static void learn(sutra_db *db, int i)
{
	char text[32];
	float vec[DIM] = {(float)i, 0.5f, 0.25f, 0.125f};
	sutra_meta_entry meta[] = {{"source", "test"}, {"n", text}};
	sutra_concept_in c = {.strength = 2.0f, .confidence = 0.75f};

	concept_text(i, text, sizeof text);
	concept_id(i, &c.id);
	c.content = text;
	c.content_len = strlen(text);
	c.vector = vec;
	c.vector_dim = DIM;
	c.meta = meta;
	c.meta_count = i % 2 ? 2 : 0;
	if (sutra_learn(db, &c, NULL) != 0)
		fail_msg("learn %s: %s", text, sutra_last_error());
}

static void associate(sutra_db *db, int a, int b, unsigned type, float conf)
{
	sutra_id x, y;

	concept_id(a, &x);
	concept_id(b, &y);
	assert_int_equal(sutra_associate(db, &x, &y, type, conf, NULL), 0);
}

static void build_template(const char *dir)
{
	sutra_db *db = open_ok(dir, 0);

	for (int i = 0; i < NCKPT; i++)
		learn(db, i);
	associate(db, 0, 1, SUTRA_ASSOC_SEMANTIC, 0.5f);
	associate(db, 1, 2, SUTRA_ASSOC_CAUSAL, 0.75f);
	assert_int_equal(sutra_checkpoint(db), 0);
	for (int i = NCKPT; i < NALL; i++)
		learn(db, i);
	assert_int_equal(sutra_close(db), 0);
}

/* Asserts the store holds concepts 0..NALL-1 except `missing` (-1: none)
 * and `assocs` associations. */
static void expect_contents(sutra_db *db, int missing, uint64_t assocs)
{
	sutra_stats st;

	for (int i = 0; i < NALL; i++) {
		sutra_id id;
		sutra_concept *c;
		concept_id(i, &id);
		int rc = sutra_get(db, &id, &c);
		if (i == missing) {
			assert_int_equal(rc, SUTRA_ENOTFOUND);
			continue;
		}
		if (rc != 0)
			fail_msg("concept %d missing: %s", i, sutra_strerror(rc));
		char text[32];
		concept_text(i, text, sizeof text);
		assert_int_equal(c->content_len, strlen(text));
		assert_memory_equal(c->content, text, c->content_len);
		assert_int_equal(c->vector_dim, DIM);
		assert_true(c->vector[0] == (float)i);
		assert_int_equal(c->meta_count, i % 2 ? 2 : 0);
		sutra_concept_free(c);
	}
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.concepts, missing < 0 ? NALL : NALL - 1);
	assert_int_equal(st.associations, assocs);
}

static void expect_error_mentions(const char *a, const char *b)
{
	const char *msg = sutra_last_error();

	if (!strstr(msg, a) || (b && !strstr(msg, b)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", msg, a, b ? b : "");
}

/* Opening fails with rc and a message naming a and b; twice, so the
 * refusal changed nothing. */
static void expect_refused(const char *dir, int rc, const char *a, const char *b)
{
	sutra_db *db;

	for (int k = 0; k < 2; k++) {
		int got = open_store(dir, DIM, 0, &db);
		if (got != rc)
			fail_msg("open: %s (%s), expected %s", sutra_strerror(got),
			         sutra_last_error(), sutra_strerror(rc));
		assert_null(db);
		expect_error_mentions(a, b);
	}
}

/* ---- fixtures ---------------------------------------------------------------------- */

struct fx {
	char *dir;
	char *ckpt;     /* path of the checkpoint file */
	char *manifest; /* path of the MANIFEST */
	struct ckpt c;
};

static char *g_tmpl; /* the template store, built once, copied per case */

static int group_setup(void **state)
{
	g_tmpl = tu_mkdtemp("ckpttmpl");
	build_template(g_tmpl);
	return 0;
}

static int group_teardown(void **state)
{
	tu_rmrf(g_tmpl);
	free(g_tmpl);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->dir = tu_mkdtemp("ckptdmg");
	tu_dir_copy(g_tmpl, f->dir);
	f->ckpt = find_file(f->dir, "ckpt-");
	f->manifest = tu_path(f->dir, "MANIFEST");
	ckpt_parse(f->ckpt, &f->c);
	assert_int_equal(f->c.n, NCKPT + 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->ckpt);
	free(f->manifest);
	free(f);
	return 0;
}

static void test_template_opens(void **state)
{
	struct fx *f = *state;
	sutra_db *db = open_ok(f->dir, 0);
	sutra_stats st;

	expect_contents(db, -1, 2);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_true(st.checkpoint_lsn > 0);
	assert_int_equal(st.recovery_replayed, NALL - NCKPT); /* only the WAL-only ones */
	assert_int_equal(sutra_close(db), 0);
}

/* ---- checkpoint records ------------------------------------------------------------ */

static void test_ckpt_learn_record_flipped(void **state)
{
	struct fx *f = *state;
	const struct crec *r = ckpt_find(&f->c, 1, "K-concept-004");
	char where[64];

	tu_file_flip(f->ckpt, (off_t)(r->off + r->len)); /* in the content */
	snprintf(where, sizeof where, "offset %" PRIu64, r->off);
	expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), where);

	sutra_db *db = open_ok(f->dir, 1);
	expect_contents(db, 4, 2);
	/* a new checkpoint replaces the damaged one: normal opens work again */
	learn(db, 4);
	assert_int_equal(sutra_checkpoint(db), 0);
	assert_int_equal(sutra_close(db), 0);
	db = open_ok(f->dir, 0);
	expect_contents(db, -1, 2);
	assert_int_equal(sutra_close(db), 0);
}

static void test_ckpt_record_header_flipped(void **state)
{
	struct fx *f = *state;
	const struct crec *r = ckpt_find(&f->c, 1, "K-concept-005");
	char where[64];

	/* the record's CRC field itself */
	tu_file_flip(f->ckpt, (off_t)r->off + 1);
	snprintf(where, sizeof where, "offset %" PRIu64, r->off);
	expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), where);
	sutra_db *db = open_ok(f->dir, 1);
	expect_contents(db, 5, 2);
	assert_int_equal(sutra_close(db), 0);
}

static void test_ckpt_assoc_record_flipped(void **state)
{
	struct fx *f = *state;
	const struct crec *r = ckpt_find(&f->c, 3, NULL);
	char where[64];

	tu_file_flip(f->ckpt, (off_t)(r->off + 8 + 4)); /* the confidence */
	snprintf(where, sizeof where, "offset %" PRIu64, r->off);
	expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), where);
	sutra_db *db = open_ok(f->dir, 1);
	expect_contents(db, -1, 1);
	assert_int_equal(sutra_close(db), 0);
}

static void test_ckpt_record_length_damaged(void **state)
{
	struct fx *f = *state;
	const struct crec *r = ckpt_find(&f->c, 1, "K-concept-003");
	char where[64];

	/* a length running past the end of the records */
	tu_file_write_at(f->ckpt, &(uint32_t){0x7ffffff8u}, 4, (off_t)r->off + 4);
	snprintf(where, sizeof where, "offset %" PRIu64, r->off);
	expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), where);
}

static void test_ckpt_truncated(void **state)
{
	struct fx *f = *state;
	const size_t size = f->c.size;
	const uint64_t at[] = {size - 1,
	                       size - CKPT_FOOTER,
	                       size - CKPT_FOOTER - 8,
	                       f->c.r[1].off + 12,
	                       CKPT_HDR + CKPT_FOOTER - 1,
	                       CKPT_HDR,
	                       10,
	                       0};
	size_t n;
	uint8_t *orig = tu_file_read(f->ckpt, &n);

	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		assert_int_equal(truncate(f->ckpt, (off_t)at[k]), 0);
		expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), NULL);
		tu_file_write_at(f->ckpt, orig, n, 0);
	}
	free(orig);
	sutra_db *db = open_ok(f->dir, 0);
	expect_contents(db, -1, 2);
	assert_int_equal(sutra_close(db), 0);
}

static void test_ckpt_header_footer_damaged(void **state)
{
	struct fx *f = *state;
	size_t n;
	uint8_t *orig = tu_file_read(f->ckpt, &n);
	const off_t at[] = {
	    0, 16, 24, 60, (off_t)n - CKPT_FOOTER, (off_t)n - CKPT_FOOTER + 9, (off_t)n - 8};

	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		tu_file_flip(f->ckpt, at[k]);
		expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), "offset");
		tu_file_write_at(f->ckpt, orig, n, 0);
	}
	/* footer counts that disagree with the records, CRC recomputed */
	uint8_t *foot = orig + n - CKPT_FOOTER;
	st64(foot + 8, NCKPT + 1);
	st32(foot + 24, crc32c(foot, 24));
	tu_file_write_at(f->ckpt, foot, CKPT_FOOTER, (off_t)(n - CKPT_FOOTER));
	expect_refused(f->dir, SUTRA_ECORRUPT, tu_base_name(f->ckpt), "count");
	free(orig);
}

static void test_ckpt_missing(void **state)
{
	struct fx *f = *state;
	sutra_db *db;

	assert_int_equal(unlink(f->ckpt), 0);
	int rc = open_store(f->dir, DIM, 0, &db);
	assert_true(rc < 0);
	assert_null(db);
	expect_error_mentions(tu_base_name(f->ckpt), "manifest");
}

/* ---- manifest ---------------------------------------------------------------------- */

static void test_manifest_bad_crc(void **state)
{
	struct fx *f = *state;
	size_t n;
	uint8_t *orig = tu_file_read(f->manifest, &n);
	const off_t at[] = {0, 8, 16, 24, 32, 60};

	assert_int_equal(n, MAN_SIZE);
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		tu_file_flip(f->manifest, at[k]);
		expect_refused(f->dir, SUTRA_ECORRUPT, "MANIFEST", "offset 0");
		tu_file_write_at(f->manifest, orig, n, 0);
	}
	/* a manifest of the wrong size */
	assert_int_equal(truncate(f->manifest, 60), 0);
	expect_refused(f->dir, SUTRA_ECORRUPT, "MANIFEST", "size");
	/* no manifest at all, with WAL segments present: not a new store */
	assert_int_equal(unlink(f->manifest), 0);
	expect_refused(f->dir, SUTRA_ECORRUPT, "no MANIFEST", NULL);
	free(orig);
}

static void set_version(const char *path, size_t crc_at)
{
	size_t n;
	uint8_t *b = tu_file_read(path, &n);

	st32(b + 8, 2);
	st32(b + crc_at, crc32c(b, crc_at));
	tu_file_write_at(path, b, n, 0);
	free(b);
}

static void test_format_versions(void **state)
{
	struct fx *f = *state;
	size_t n;
	uint8_t *man = tu_file_read(f->manifest, &n);

	set_version(f->manifest, 60);
	expect_refused(f->dir, SUTRA_EVERSION, "MANIFEST", "version 2");
	expect_error_mentions("reads 1", NULL);
	tu_file_write_at(f->manifest, man, n, 0);
	free(man);

	set_version(f->ckpt, 60);
	expect_refused(f->dir, SUTRA_EVERSION, tu_base_name(f->ckpt), "version 2");
	expect_error_mentions("reads 1", NULL);
}

/* ---- options and lock ------------------------------------------------------------- */

static void test_dimension_mismatch(void **state)
{
	struct fx *f = *state;
	sutra_db *db;

	assert_int_equal(open_store(f->dir, 8, 0, &db), SUTRA_EINVAL);
	assert_null(db);
	expect_error_mentions("dimension = 8", "dimension 4");
	assert_int_equal(open_store(f->dir, 768, 1, &db), SUTRA_EINVAL);
	expect_error_mentions("768", "dimension 4");
	db = open_ok(f->dir, 0);
	expect_contents(db, -1, 2);
	assert_int_equal(sutra_close(db), 0);
}

/* In a forked child: 0 if sutra_open gives `want` (and, for ELOCKED, a
 * message naming the directory and the holder's pid). */
static int child_open(const char *dir, int want, long holder)
{
	sutra_db *db;
	char pid[32];
	int rc = open_store(dir, DIM, 0, &db);

	if (rc != want)
		return 1;
	if (rc == 0)
		return sutra_close(db) == 0 ? 0 : 2;
	snprintf(pid, sizeof pid, "pid %ld", holder);
	return strstr(sutra_last_error(), dir) && strstr(sutra_last_error(), pid) ? 0 : 3;
}

static int run_child(const char *dir, int want, long holder)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_open(dir, want, holder));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_locked_by_other_process(void **state)
{
	struct fx *f = *state;
	sutra_db *db = open_ok(f->dir, 0);

	assert_int_equal(run_child(f->dir, SUTRA_ELOCKED, (long)getpid()), 0);
	/* the refused open changed nothing: the holder still works */
	learn(db, 40);
	assert_int_equal(sutra_close(db), 0);
	/* released at close: the child opens it now */
	assert_int_equal(run_child(f->dir, 0, 0), 0);
	db = open_ok(f->dir, 0);
	sutra_id id;
	concept_id(40, &id);
	assert_int_equal(sutra_exists(db, &id), 1);
	assert_int_equal(sutra_close(db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_template_opens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_learn_record_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_record_header_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_assoc_record_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_record_length_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_header_footer_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ckpt_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manifest_bad_crc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_format_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dimension_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locked_by_other_process, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
