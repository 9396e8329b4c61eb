/* fuzz_util.c - helpers shared by the fuzz targets: work directory, files, store checks.
 *
 * The store check is the oracle of the store-level targets: whatever bytes
 * recovery accepted, what the store then serves must be self-consistent
 * (content NUL-terminated, metadata iterable to its declared count,
 * neighbour totals equal to the degrees, association endpoints present,
 * stats equal to what a scan sees), it must accept a write, close without
 * error, and reopen with the same contents. Reading every byte served also
 * lets ASan catch any pointer recovery left dangling or out of bounds.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "wal/wal.h"

#define MAX_IDS       4096
#define MAX_NEIGHBORS 64

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz invariant violated: ", stderr);
	va_start(ap, fmt);
	/* the analyzer misses va_start above */
	vfprintf(stderr, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static char g_dir[4096];

int fuzz_env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && strtol(v, NULL, 10) != 0;
}

static void remove_workdir(void)
{
	if (g_dir[0]) {
		fuzz_clear_dir(g_dir);
		rmdir(g_dir);
	}
}

/* Removes the work directories of processes that are gone (libFuzzer
 * leaves through _Exit on timeouts and -max_total_time, skipping atexit). */
static void remove_stale(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char path[4200];

	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(prefix);
		char *end;
		if (strncmp(e->d_name, prefix, n) != 0)
			continue;
		long pid = strtol(e->d_name + n, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, e->d_name);
		fuzz_clear_dir(path);
		rmdir(path);
	}
	if (d)
		closedir(d);
}

const char *fuzz_workdir(const char *tag)
{
	char prefix[64];

	if (g_dir[0])
		return g_dir;
	const char *base = getenv("TMPDIR");
	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (!base || !*base)
		base = "/tmp";
	snprintf(prefix, sizeof prefix, "sutra-fuzz-%s-", tag);
	remove_stale(base, prefix);
	snprintf(g_dir, sizeof g_dir, "%s/%s%ld", base, prefix, (long)getpid());
	fuzz_clear_dir(g_dir);
	if (mkdir(g_dir, 0700) != 0 && errno != EEXIST)
		fuzz_fail("cannot create the work directory %s", g_dir);
	atexit(remove_workdir);
	return g_dir;
}

void fuzz_clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[4200];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			fuzz_clear_dir(path); /* a sharded store's shard_NNNN/ */
			rmdir(path);
		} else {
			unlink(path);
		}
	}
	closedir(d);
}

void fuzz_write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		fuzz_fail("cannot write %s", path);
}

uint8_t *fuzz_read_file(const char *dir, const char *name, size_t *n)
{
	char path[4200];
	struct stat st;
	FILE *f;
	uint8_t *buf;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")) || fstat(fileno(f), &st) != 0)
		fuzz_fail("cannot read %s", path);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		fuzz_fail("cannot read %s", path);
	fclose(f);
	*n = (size_t)st.st_size;
	return buf;
}

void fuzz_note_open(int repair, int rc)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = fuzz_env_flag("SUTRA_FUZZ_VERBOSE");
	if (verbose)
		fprintf(stderr, "open (repair %d): %s%s%s\n", repair, sutra_strerror(rc),
		        rc ? ": " : "", rc ? sutra_last_error() : "");
}

/* ---- the store oracle -------------------------------------------------------- */

struct seen {
	size_t n;
	uint64_t concepts_seen;
	sutra_id id[MAX_IDS];
	uint64_t hash[MAX_IDS]; /* of content, vector and metadata */
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t concept_hash(const sutra_concept *c)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t pos = 0;
	const char *k, *v;
	uint32_t entries = 0;
	const char *blob = c->meta_blob, *end = blob ? blob + c->meta_blob_len : NULL;

	if (!c->content || c->content[c->content_len] != 0)
		fuzz_fail("content of %zu bytes not NUL-terminated", c->content_len);
	h = mix(h, c->content, c->content_len + 1);
	if ((c->vector != NULL) != (c->vector_dim != 0))
		fuzz_fail("vector %p with dimension %u", (const void *)c->vector, c->vector_dim);
	if (c->vector)
		h = mix(h, c->vector, (size_t)c->vector_dim * 4);
	while (sutra_meta_next(c, &pos, &k, &v)) {
		if (++entries > c->meta_count || k < blob || v >= end)
			fuzz_fail("metadata entry %u outside its blob (count %u)", entries,
			          c->meta_count);
		size_t kl = strnlen(k, (size_t)(end - k)), vl = strnlen(v, (size_t)(end - v));
		/* (a key may hold a NUL before its declared end: the decoder only
		 * checks the terminator; the strings still end inside the blob) */
		if (k + kl >= end || v + vl >= end)
			fuzz_fail("metadata entry %u not NUL-terminated in its blob", entries);
		h = mix(h, k, kl + 1);
		h = mix(h, v, vl + 1);
	}
	if (entries != c->meta_count)
		fuzz_fail("metadata has %u entries, the concept says %u", entries, c->meta_count);
	h = mix(h, &c->strength, sizeof c->strength);
	return mix(h, &c->confidence, sizeof c->confidence);
}

/* Recovery must never accept a learn op whose vector has another dimension
 * than the store's, or non-finite components (a bug the fuzzers found,
 * now fixed: sutra.h and op.h promise both). */
static uint32_t g_dim;

static void check_vector(const sutra_concept *c)
{
	static int strict = -1;

	if (strict < 0)
		strict = 1;
	if (!strict || !c->vector)
		return;
	if (c->vector_dim != g_dim)
		fuzz_fail("a concept with a vector of dimension %u in a store of dimension %u",
		          c->vector_dim, g_dim);
	for (uint32_t i = 0; i < c->vector_dim; i++)
		if (!isfinite(c->vector[i]))
			fuzz_fail("a concept whose vector component %u is %g", i,
			          (double)c->vector[i]);
}

static int on_concept(void *ctx, const sutra_concept *c)
{
	struct seen *s = ctx;
	uint64_t h = concept_hash(c);

	check_vector(c);

	s->concepts_seen++;
	if (s->n < MAX_IDS) {
		s->id[s->n] = c->id;
		s->hash[s->n++] = h;
	}
	return 0;
}

struct assoc_ctx {
	sutra_db *db;
	uint64_t count;
};

static int on_assoc(void *ctx, const sutra_id *src, const sutra_id *dst, unsigned type, float conf)
{
	struct assoc_ctx *a = ctx;

	a->count++;
	if (type >= SUTRA_ASSOC_TYPES || !(conf >= 0.0f && conf <= 1.0f))
		fuzz_fail("association of type %u, confidence %g", type, (double)conf);
	if (sutra_exists(a->db, src) != 1 || sutra_exists(a->db, dst) != 1)
		fuzz_fail("association with a missing endpoint");
	return 0;
}

static void check_one(sutra_db *db, const sutra_id *id, uint64_t hash)
{
	sutra_concept *c;
	sutra_neighbor nb[MAX_NEIGHBORS];
	size_t out, in;

	if (sutra_get(db, id, &c) != 0)
		fuzz_fail("scanned concept not found by sutra_get: %s", sutra_last_error());
	if (concept_hash(c) != hash)
		fuzz_fail("sutra_get differs from the scan");
	if (sutra_neighbors(db, id, SUTRA_DIR_OUT, SUTRA_TYPE_ANY, nb, MAX_NEIGHBORS, &out) != 0 ||
	    sutra_neighbors(db, id, SUTRA_DIR_IN, SUTRA_TYPE_ANY, nb, MAX_NEIGHBORS, &in) != 0)
		fuzz_fail("sutra_neighbors failed: %s", sutra_last_error());
	if (out != c->out_degree || in != c->in_degree)
		fuzz_fail("neighbours out %zu in %zu, degrees out %u in %u", out, in, c->out_degree,
		          c->in_degree);
	sutra_concept_free(c);
}

/* Scans db into s and checks it; returns the association count. */
static uint64_t check_contents(sutra_db *db, struct seen *s)
{
	struct assoc_ctx a = {db, 0};
	sutra_stats st;

	memset(s, 0, sizeof *s);
	if (sutra_scan(db, on_concept, s) != 0 || sutra_scan_associations(db, on_assoc, &a) != 0 ||
	    sutra_stats_get(db, &st) != 0)
		fuzz_fail("scan failed: %s", sutra_last_error());
	if (st.concepts != s->concepts_seen || st.associations != a.count)
		fuzz_fail("stats say %llu concepts %llu associations, scans see %llu %llu",
		          (unsigned long long)st.concepts, (unsigned long long)st.associations,
		          (unsigned long long)s->concepts_seen, (unsigned long long)a.count);
	for (size_t i = 0; i < s->n; i++)
		check_one(db, &s->id[i], s->hash[i]);
	return a.count;
}

void fuzz_check_store(const char *dir, sutra_db *db, const sutra_options *o)
{
	static struct seen before, after;
	static const char probe[] = "fuzz-probe-concept";
	sutra_concept_in c = {.content = probe,
	                      .content_len = sizeof probe - 1,
	                      .strength = 1.0f,
	                      .confidence = 0.5f};
	int rc;

	g_dim = o->dimension;
	uint64_t assocs = check_contents(db, &before);
	sutra_id_from_content(probe, sizeof probe - 1, &c.id);
	int had_probe = sutra_exists(db, &c.id);
	if (sutra_learn(db, &c, NULL) != 0)
		fuzz_fail("a store that opened refuses a write: %s", sutra_last_error());
	if (sutra_close(db) != 0)
		fuzz_fail("close failed: %s", sutra_last_error());
	if ((rc = sutra_open(dir, o, &db)) != 0)
		fuzz_fail("a store that opened and closed does not reopen: %s: %s",
		          sutra_strerror(rc), sutra_last_error());
	uint64_t assocs2 = check_contents(db, &after);
	uint64_t want = before.concepts_seen + (had_probe ? 0 : 1);
	if (after.concepts_seen != want || assocs2 != assocs)
		fuzz_fail("reopen holds %llu concepts %llu associations, expected %llu %llu",
		          (unsigned long long)after.concepts_seen, (unsigned long long)assocs2,
		          (unsigned long long)want, (unsigned long long)assocs);
	for (size_t i = 0; i < before.n; i++) {
		sutra_concept *got;
		if (memcmp(&before.id[i], &c.id, sizeof c.id) == 0)
			continue;
		if (sutra_get(db, &before.id[i], &got) != 0)
			fuzz_fail("a concept was lost by close and reopen");
		if (concept_hash(got) != before.hash[i])
			fuzz_fail("a concept changed across close and reopen");
		sutra_concept_free(got);
	}
	if (sutra_exists(db, &c.id) != 1)
		fuzz_fail("the write before close was lost");
	if (sutra_close(db) != 0)
		fuzz_fail("second close failed: %s", sutra_last_error());
}

void fuzz_open_twice(const char *dir, uint32_t dim,
                     void (*build)(const char *dir, const uint8_t *data, size_t size),
                     const uint8_t *data, size_t size)
{
	sutra_options o;
	sutra_db *db;

	sutra_options_init(&o);
	o.dimension = dim;
	o.checkpoint_wal_bytes = 0;
	for (int repair = 0; repair <= 1; repair++) {
		build(dir, data, size);
		o.repair = repair;
		int rc = sutra_open(dir, &o, &db);
		fuzz_note_open(repair, rc);
		if (rc == 0)
			fuzz_check_store(dir, db, &o);
	}
}

/* ---- WAL segments ------------------------------------------------------------- */

void fuzz_wal_header(uint8_t *h, uint64_t salt, uint64_t first_lsn)
{
	memset(h, 0, WAL_HEADER_SIZE);
	memcpy(h, WAL_MAGIC, 8);
	st32(h + 8, WAL_VERSION);
	st32(h + 12, WAL_HEADER_SIZE);
	st64(h + 16, salt);
	st64(h + 24, first_lsn);
	st32(h + 32, crc32c(h, 32));
}

uint64_t fuzz_wal_seal(uint8_t *p, size_t size, uint64_t salt, int renumber)
{
	uint32_t seed = crc32c(&salt, sizeof salt);
	size_t pos = WAL_HEADER_SIZE;
	uint64_t n = 0;

	while (size - pos >= WAL_RECORD_HEADER) {
		uint32_t len = ld32(p + pos + 4);
		if (len > size - pos - WAL_RECORD_HEADER)
			break;
		if (renumber)
			st64(p + pos + 8, n + 1);
		st32(p + pos,
		     crc32c_extend(seed, p + pos + 4, WAL_RECORD_HEADER - 4 + (size_t)len));
		n++;
		pos += ((size_t)WAL_RECORD_HEADER + len + 7) & ~(size_t)7;
		if (pos > size)
			break;
	}
	return n;
}
