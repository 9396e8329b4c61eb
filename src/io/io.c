/* io.c - the only code that touches files, and its fault-injection seam.
 *
 * Each entry point is a thin loop around one system call: writes and reads
 * continue over partial transfers and EINTR, and every failure returns a
 * SUTRA_E* code (err_from_errno) with a message naming the operation, the
 * path and strerror. Functions that take a site (and rename, unlink and the
 * directory fsync, which use their own sites) first pass through
 * fault_hit(): it counts the call in a per-site atomic counter, armed or
 * not, and, if the one armed fault matches the site (or SUTRA_SITE_ANY) and
 * its countdown reaches zero on this call, disarms and makes the call fail.
 * EIO and ENOSPC faults skip the system call entirely; a SHORT fault on a
 * write really writes the first n/2 bytes and then reports ENOSPC, as a
 * full disk would; on other sites SHORT acts as EIO.
 *
 * Choices the header leaves open: io_unlink of a missing file succeeds
 * (removal is idempotent, recovery may repeat it); io_mmap_ro of 0 bytes
 * returns a non-NULL address of a static byte that io_munmap ignores;
 * io_close of a negative fd does nothing.
 */
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sutra/sutra_test.h"
#include "util/alloc.h"
#include "util/err.h"

/* ---- fault injection ---------------------------------------------------- */

static atomic_ulong site_calls[SUTRA_SITE_COUNT];
static atomic_uint fault_nth; /* countdown; 0 = disarmed */
static atomic_int fault_site;
static atomic_int fault_kind;

static const char *const site_names[SUTRA_SITE_COUNT] = {
    [SUTRA_SITE_WAL_CREATE] = "wal_create",
    [SUTRA_SITE_WAL_WRITE] = "wal_write",
    [SUTRA_SITE_WAL_FSYNC] = "wal_fsync",
    [SUTRA_SITE_WAL_TRUNCATE] = "wal_truncate",
    [SUTRA_SITE_CKPT_CREATE] = "ckpt_create",
    [SUTRA_SITE_CKPT_WRITE] = "ckpt_write",
    [SUTRA_SITE_CKPT_FSYNC] = "ckpt_fsync",
    [SUTRA_SITE_INDEX_CREATE] = "index_create",
    [SUTRA_SITE_INDEX_WRITE] = "index_write",
    [SUTRA_SITE_INDEX_FSYNC] = "index_fsync",
    [SUTRA_SITE_MANIFEST_WRITE] = "manifest_write",
    [SUTRA_SITE_MANIFEST_FSYNC] = "manifest_fsync",
    [SUTRA_SITE_RENAME] = "rename",
    [SUTRA_SITE_DIR_FSYNC] = "dir_fsync",
    [SUTRA_SITE_UNLINK] = "unlink",
};

const char *sutra_fault_site_name(int site)
{
	if (site == SUTRA_SITE_ANY)
		return "any";
	if (site < 0 || site >= SUTRA_SITE_COUNT)
		return "unknown";
	return site_names[site];
}

void sutra_fault_io(int site, unsigned nth, int kind)
{
	atomic_store_explicit(&fault_nth, 0, memory_order_relaxed);
	atomic_store_explicit(&fault_site, site, memory_order_relaxed);
	atomic_store_explicit(&fault_kind, kind, memory_order_relaxed);
	atomic_store_explicit(&fault_nth, nth, memory_order_release);
}

void sutra_fault_clear(void)
{
	atomic_store_explicit(&fault_nth, 0, memory_order_release);
	sutra_fault_delay(SUTRA_SITE_ANY, 0);
	for (int i = 0; i < SUTRA_SITE_COUNT; i++)
		atomic_store_explicit(&site_calls[i], 0, memory_order_relaxed);
	sutra_fault_alloc(0);
}

unsigned long sutra_fault_calls(int site)
{
	if (site < 0 || site >= SUTRA_SITE_COUNT)
		return 0;
	return atomic_load_explicit(&site_calls[site], memory_order_relaxed);
}

static atomic_int delay_site = SUTRA_SITE_COUNT;
static atomic_uint delay_ms;

void sutra_fault_delay(int site, unsigned ms)
{
	atomic_store(&delay_ms, ms);
	atomic_store(&delay_site, ms ? site : SUTRA_SITE_COUNT);
}

/* A stalled disk: every call at the delayed site sleeps first. */
static void fault_stall(int site)
{
	int d = atomic_load_explicit(&delay_site, memory_order_relaxed);

	if (__builtin_expect(d == SUTRA_SITE_COUNT, 1) || (d != SUTRA_SITE_ANY && d != site))
		return;
	unsigned ms = atomic_load(&delay_ms);
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Counts a call at site; returns the fault kind if this call must fail,
 * else 0. */
static int fault_hit(int site)
{
	unsigned n;
	int armed_site;

	if (site < 0 || site >= SUTRA_SITE_COUNT)
		return 0;
	fault_stall(site);
	atomic_fetch_add_explicit(&site_calls[site], 1, memory_order_relaxed);
	n = atomic_load_explicit(&fault_nth, memory_order_acquire);
	if (__builtin_expect(n == 0, 1))
		return 0;
	armed_site = atomic_load_explicit(&fault_site, memory_order_relaxed);
	if (armed_site != SUTRA_SITE_ANY && armed_site != site)
		return 0;
	while (n != 0) {
		if (atomic_compare_exchange_weak_explicit(
		        &fault_nth, &n, n - 1, memory_order_acq_rel, memory_order_acquire))
			return n == 1 ? atomic_load_explicit(&fault_kind, memory_order_relaxed) : 0;
	}
	return 0;
}

static const char *P(const char *path)
{
	return path ? path : "(unnamed)";
}

/* The error an injected EIO/ENOSPC (or SHORT off a write) returns. */
static int fault_fail(int kind, int site, const char *path)
{
	bool nospc = kind == SUTRA_FAULT_ENOSPC;

	return err_set(nospc ? SUTRA_ENOSPC : SUTRA_EIO, "injected %s at %s (%s)",
	               nospc ? "ENOSPC" : "EIO", sutra_fault_site_name(site), P(path));
}

/* ---- errors --------------------------------------------------------------- */

/* Reports the current errno for op on path. */
static int sys_fail(const char *op, const char *path)
{
	int e = errno;
	char buf[128];

	return err_set(err_from_errno(e), "%s %s: %s", op, P(path), strerror_r(e, buf, sizeof buf));
}

/* ---- files ---------------------------------------------------------------- */

/* True if [off, off + n) is addressable with a signed 64-bit off_t. */
static bool range_ok(uint64_t off, size_t n)
{
	return n <= (uint64_t)INT64_MAX && off <= (uint64_t)INT64_MAX - n;
}

int io_open(int site, const char *path, int flags, int mode, int *fd)
{
	int kind = fault_hit(site), f;

	*fd = -1;
	if (kind)
		return fault_fail(kind, site, path);
	do
		f = open(path, flags | O_CLOEXEC, (mode_t)mode);
	while (f < 0 && errno == EINTR);
	if (f < 0)
		return sys_fail("open", path);
	*fd = f;
	return 0;
}

int io_close(int fd)
{
	char what[32];

	if (fd < 0)
		return 0;
	/* Linux releases the descriptor even when close reports EINTR: never retry. */
	if (close(fd) == 0 || errno == EINTR)
		return 0;
	snprintf(what, sizeof what, "fd %d", fd);
	return sys_fail("close", what);
}

/* Writes n bytes, at the file position (off < 0) or at off. */
static int write_loop(int fd, const uint8_t *p, size_t n, int64_t off, const char *path)
{
	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return sys_fail(off < 0 ? "write" : "pwrite", path);
		if (w == 0)
			return err_set(SUTRA_EIO, "write %s: no progress", P(path));
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

static int write_site(int site, int fd, const void *p, size_t n, int64_t off, const char *path)
{
	int kind = fault_hit(site), rc;

	if (kind == SUTRA_FAULT_SHORT) {
		rc = write_loop(fd, p, n / 2, off, path);
		if (rc)
			return rc;
		return err_set(SUTRA_ENOSPC, "injected short write at %s (%s): %zu of %zu bytes",
		               sutra_fault_site_name(site), P(path), n / 2, n);
	}
	if (kind)
		return fault_fail(kind, site, path);
	return write_loop(fd, p, n, off, path);
}

int io_write_all(int site, int fd, const void *p, size_t n, const char *path)
{
	return write_site(site, fd, p, n, -1, path);
}

int io_pwrite_all(int site, int fd, const void *p, size_t n, uint64_t off, const char *path)
{
	if (!range_ok(off, n))
		return err_set(SUTRA_EINVAL, "pwrite %s: offset %llu out of range", P(path),
		               (unsigned long long)off);
	return write_site(site, fd, p, n, (int64_t)off, path);
}

int io_pread_all(int fd, void *p, size_t n, uint64_t off, const char *path)
{
	uint8_t *b = p;
	size_t done = 0;

	if (!range_ok(off, n))
		return err_set(SUTRA_EINVAL, "pread %s: offset %llu out of range", P(path),
		               (unsigned long long)off);
	while (done < n) {
		ssize_t r = pread(fd, b + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_fail("pread", path);
		if (r == 0)
			return err_set(SUTRA_EIO,
			               "short read of %s: %zu of %zu bytes at offset %llu", P(path),
			               done, n, (unsigned long long)off);
		done += (size_t)r;
	}
	return 0;
}

static int sync_site(int site, int fd, const char *path, bool data_only)
{
	int kind = fault_hit(site), rc;

	if (kind)
		return fault_fail(kind, site, path);
	do
		rc = data_only ? fdatasync(fd) : fsync(fd);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? sys_fail(data_only ? "fdatasync" : "fsync", path) : 0;
}

int io_fdatasync(int site, int fd, const char *path)
{
	return sync_site(site, fd, path, true);
}

int io_fsync(int site, int fd, const char *path)
{
	return sync_site(site, fd, path, false);
}

int io_ftruncate(int site, int fd, uint64_t size, const char *path)
{
	int kind = fault_hit(site), rc;

	if (kind)
		return fault_fail(kind, site, path);
	if (size > (uint64_t)INT64_MAX)
		return err_set(SUTRA_EINVAL, "ftruncate %s: size %llu out of range", P(path),
		               (unsigned long long)size);
	do
		rc = ftruncate(fd, (off_t)size);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? sys_fail("ftruncate", path) : 0;
}

int io_file_size(int fd, uint64_t *size, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return sys_fail("fstat", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

int io_rename(const char *from, const char *to)
{
	int kind = fault_hit(SUTRA_SITE_RENAME), e;
	char buf[128];

	if (kind)
		return fault_fail(kind, SUTRA_SITE_RENAME, from);
	if (rename(from, to) == 0)
		return 0;
	e = errno;
	return err_set(err_from_errno(e), "rename %s to %s: %s", P(from), P(to),
	               strerror_r(e, buf, sizeof buf));
}

int io_unlink(const char *path)
{
	int kind = fault_hit(SUTRA_SITE_UNLINK);

	if (kind)
		return fault_fail(kind, SUTRA_SITE_UNLINK, path);
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	return sys_fail("unlink", path);
}

int io_fsync_dir(const char *dir)
{
	int kind = fault_hit(SUTRA_SITE_DIR_FSYNC), fd, rc;

	if (kind)
		return fault_fail(kind, SUTRA_SITE_DIR_FSYNC, dir);
	do
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return sys_fail("open directory", dir);
	do
		rc = fsync(fd);
	while (rc < 0 && errno == EINTR);
	rc = rc < 0 ? sys_fail("fsync directory", dir) : 0;
	close(fd);
	return rc;
}

/* Makes one directory; an existing directory is fine. */
static int mkdir_one(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return sys_fail("mkdir", dir);
	if (stat(dir, &st) < 0)
		return sys_fail("stat", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(SUTRA_EIO, "mkdir %s: exists and is not a directory", dir);
	return 0;
}

int io_mkdir_p(const char *dir)
{
	size_t len = strlen(dir);
	char *p = sutra_memdup0(dir, len);
	int rc = 0;

	if (!p)
		return SUTRA_ENOMEM;
	for (size_t i = 1; i < len && rc == 0; i++) {
		if (p[i] != '/' || p[i - 1] == '/')
			continue;
		p[i] = '\0';
		rc = mkdir_one(p);
		p[i] = '/';
	}
	if (rc == 0)
		rc = mkdir_one(p);
	sutra_free(p);
	return rc;
}

/* ---- mapping -------------------------------------------------------------- */

static const uint8_t empty_map; /* what a 0-byte mapping points at */

int io_mmap_ro(int fd, uint64_t size, const void **addr, const char *path)
{
	void *m;

	*addr = NULL;
	if (size == 0) {
		*addr = &empty_map;
		return 0;
	}
	if (size > SIZE_MAX)
		return err_set(SUTRA_ENOMEM, "mmap %s: %llu bytes do not fit the address space",
		               P(path), (unsigned long long)size);
	m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return sys_fail("mmap", path);
	*addr = m;
	return 0;
}

int io_mmap_private(int fd, uint64_t size, void **addr, const char *path)
{
	void *m;

	*addr = NULL;
	if (size == 0 || size > SIZE_MAX)
		return err_set(SUTRA_EINVAL, "mmap %s: %llu bytes", P(path),
		               (unsigned long long)size);
	m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return sys_fail("mmap", path);
	*addr = m;
	return 0;
}

void io_munmap(const void *addr, uint64_t size)
{
	if (!addr || size == 0 || addr == &empty_map)
		return;
	munmap((void *)addr, (size_t)size);
}

/* ---- directory lock ------------------------------------------------------- */

/* Joins dir and name into a new allocation (caller frees with sutra_free). */
static char *path_join(const char *dir, const char *name)
{
	size_t cap = strlen(dir) + strlen(name) + 2;
	char *p = sutra_malloc(cap);

	if (p)
		snprintf(p, cap, "%s/%s", dir, name);
	return p;
}

/* The pid written in a lock file, or -1 if none can be read. */
static long lock_owner(int fd)
{
	char buf[32];
	ssize_t r;
	char *end;
	long pid;

	do
		r = pread(fd, buf, sizeof buf - 1, 0);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	pid = strtol(buf, &end, 10);
	return (end == buf || pid <= 0) ? -1 : pid;
}

static int lock_refused(int fd, const char *dir)
{
	long pid = lock_owner(fd);

	if (pid < 0)
		return err_set(SUTRA_ELOCKED,
		               "store directory %s is locked by another process (pid unknown)",
		               dir);
	return err_set(SUTRA_ELOCKED, "store directory %s is locked by another process (pid %ld)",
	               dir, pid);
}

/* Takes the flock on an open lock file and writes our pid into it. */
static int lock_take(int fd, const char *dir, const char *path)
{
	char pid[32];
	int rc, n;

	do
		rc = flock(fd, LOCK_EX | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno == EWOULDBLOCK)
		return lock_refused(fd, dir);
	if (rc < 0)
		return sys_fail("flock", path);
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0)
		return sys_fail("ftruncate", path);
	return write_loop(fd, (const uint8_t *)pid, (size_t)n, 0, path);
}

int io_lock_dir(const char *dir, int *fd)
{
	char *path = path_join(dir, "LOCK");
	int f = -1, rc;

	*fd = -1;
	if (!path)
		return SUTRA_ENOMEM;
	do
		f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	while (f < 0 && errno == EINTR);
	if (f < 0) {
		rc = sys_fail("open", path);
		goto out;
	}
	rc = lock_take(f, dir, path);
	if (rc == 0)
		*fd = f;
	else
		close(f);
out:
	sutra_free(path);
	return rc;
}

/* ---- listing -------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name to the growing array *v (len used, *cap slots). */
static int list_push(char ***v, size_t len, size_t *cap, const char *name)
{
	char *copy;

	if (len == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **nv = sutra_realloc(*v, ncap * sizeof *nv);

		if (!nv)
			return SUTRA_ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	copy = sutra_memdup0(name, strlen(name));
	if (!copy)
		return SUTRA_ENOMEM;
	(*v)[len] = copy;
	return 0;
}

int io_list(const char *dir, const char *prefix, char ***names, size_t *count)
{
	size_t plen, len = 0, cap = 0;
	char **v = NULL;
	struct dirent *de;
	int rc = 0;
	DIR *d;

	*names = NULL;
	*count = 0;
	if (!prefix)
		prefix = "";
	plen = strlen(prefix);
	if (!(d = opendir(dir)))
		return sys_fail("opendir", dir);
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if ((rc = list_push(&v, len, &cap, de->d_name)) != 0)
			goto out;
		len++;
	}
	if (errno != 0)
		rc = sys_fail("readdir", dir);
out:
	closedir(d);
	if (rc) {
		io_list_free(v, len);
		return rc;
	}
	if (len > 1)
		qsort(v, len, sizeof *v, cmp_names);
	*names = v;
	*count = len;
	return 0;
}

void io_list_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		sutra_free(names[i]);
	sutra_free(names);
}
