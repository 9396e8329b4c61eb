/* test_io.c - the io layer: real file operations, the directory lock, and
 * fault injection at each site (EIO, ENOSPC, short writes) and in the
 * allocator. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/io.h"
#include "sutra/sutra_test.h"
#include "testutil.h"
#include "util/alloc.h"
#include "util/err.h"

static int setup(void **state)
{
	sutra_fault_clear();
	*state = tu_mkdtemp("io");
	return 0;
}

static int teardown(void **state)
{
	sutra_fault_clear();
	tu_rmrf(*state);
	free(*state);
	return 0;
}

static long path_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void assert_error_mentions(const char *a, const char *b)
{
	const char *msg = sutra_last_error();

	if (!strstr(msg, a) || (b && !strstr(msg, b)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", msg, a, b ? b : "");
}

/* Opens (creating, truncating) name in dir for writing at the given site. */
static int open_new(int site, const char *path)
{
	int fd;

	assert_int_equal(io_open(site, path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fd), 0);
	assert_true(fd >= 0);
	return fd;
}

static void test_write_read(void **state)
{
	char *path = tu_path(*state, "f");
	int fd = open_new(SUTRA_SITE_WAL_CREATE, path);
	char buf[16] = {0};
	uint64_t size;

	assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "hello world", 11, path), 0);
	assert_int_equal(io_pwrite_all(SUTRA_SITE_WAL_WRITE, fd, "HELLO", 5, 0, path), 0);
	assert_int_equal(io_pread_all(fd, buf, 11, 0, path), 0);
	assert_string_equal(buf, "HELLO world");
	assert_int_equal(io_pread_all(fd, buf, 3, 8, path), 0);
	assert_memory_equal(buf, "rld", 3);
	assert_int_equal(io_file_size(fd, &size, path), 0);
	assert_int_equal(size, 11);
	assert_int_equal(io_pread_all(fd, buf, 4, 9, path), SUTRA_EIO);
	assert_error_mentions("short read", path);
	assert_int_equal(io_fsync(SUTRA_SITE_WAL_FSYNC, fd, path), 0);
	assert_int_equal(io_fdatasync(SUTRA_SITE_WAL_FSYNC, fd, path), 0);
	assert_int_equal(io_ftruncate(SUTRA_SITE_WAL_TRUNCATE, fd, 5, path), 0);
	assert_int_equal(io_file_size(fd, &size, path), 0);
	assert_int_equal(size, 5);
	assert_int_equal(io_close(fd), 0);
	assert_int_equal(path_size(path), 5);
	free(path);
}

static void test_real_errors(void **state)
{
	char *path = tu_path(*state, "missing/file");
	char *a = tu_path(*state, "a");
	int fd = 123;

	assert_int_equal(io_open(SUTRA_SITE_WAL_CREATE, path, O_RDONLY, 0, &fd), SUTRA_EIO);
	assert_int_equal(fd, -1);
	assert_error_mentions(path, strerror(ENOENT));
	assert_int_equal(io_rename(a, path), SUTRA_EIO);
	assert_error_mentions(a, strerror(ENOENT));
	assert_int_equal(io_fsync_dir(path), SUTRA_EIO);
	assert_error_mentions(path, NULL);
	/* writing to a read-only descriptor fails with a message naming the path */
	fd = open_new(SUTRA_SITE_WAL_CREATE, a);
	io_close(fd);
	assert_int_equal(io_open(SUTRA_SITE_WAL_CREATE, a, O_RDONLY, 0, &fd), 0);
	assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "x", 1, a), SUTRA_EIO);
	assert_error_mentions("write", a);
	io_close(fd);
	free(a);
	free(path);
}

static void test_rename_unlink(void **state)
{
	char *a = tu_path(*state, "a"), *b = tu_path(*state, "b");
	int fd = open_new(SUTRA_SITE_CKPT_CREATE, a);

	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, "abc", 3, a), 0);
	io_close(fd);
	assert_int_equal(io_rename(a, b), 0);
	assert_int_equal(path_size(a), -1);
	assert_int_equal(path_size(b), 3);
	assert_int_equal(io_fsync_dir(*state), 0);
	assert_int_equal(io_unlink(b), 0);
	assert_int_equal(path_size(b), -1);
	assert_int_equal(io_unlink(b), 0); /* idempotent */
	free(a);
	free(b);
}

static void touch(const char *dir, const char *name)
{
	char *p = tu_path(dir, name);
	int fd = open_new(SUTRA_SITE_CKPT_CREATE, p);

	io_close(fd);
	free(p);
}

static void test_list(void **state)
{
	char **names;
	size_t n;

	touch(*state, "wal-000010");
	touch(*state, "wal-000002");
	touch(*state, "ckpt-1");
	touch(*state, "wal-000001");
	assert_int_equal(io_list(*state, "wal-", &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "wal-000001");
	assert_string_equal(names[1], "wal-000002");
	assert_string_equal(names[2], "wal-000010");
	io_list_free(names, n);
	assert_int_equal(io_list(*state, "", &names, &n), 0);
	assert_int_equal(n, 4); /* no "." or ".." */
	assert_string_equal(names[0], "ckpt-1");
	io_list_free(names, n);
	assert_int_equal(io_list(*state, "zzz", &names, &n), 0);
	assert_int_equal(n, 0);
	io_list_free(names, n);
	assert_int_equal(io_list("/nonexistent-sutra-dir", "", &names, &n), SUTRA_EIO);
	assert_error_mentions("/nonexistent-sutra-dir", NULL);
}

static void test_mkdir_p(void **state)
{
	char *deep = tu_path(*state, "a/b//c/");
	char *file = tu_path(*state, "plain");
	struct stat st;

	assert_int_equal(io_mkdir_p(deep), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(io_mkdir_p(deep), 0); /* already there */
	touch(*state, "plain");
	assert_int_equal(io_mkdir_p(file), SUTRA_EIO);
	assert_error_mentions(file, "not a directory");
	free(deep);
	free(file);
}

static void test_mmap(void **state)
{
	char *path = tu_path(*state, "m");
	int fd = open_new(SUTRA_SITE_CKPT_CREATE, path);
	uint8_t data[5000];
	const void *addr;
	uint64_t seed = 1;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)tu_rand(&seed);
	assert_int_equal(io_mmap_ro(fd, 0, &addr, path), 0); /* empty file */
	assert_non_null(addr);
	io_munmap(addr, 0);
	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, data, sizeof data, path), 0);
	assert_int_equal(io_mmap_ro(fd, sizeof data, &addr, path), 0);
	assert_memory_equal(addr, data, sizeof data);
	io_munmap(addr, sizeof data);
	io_close(fd);
	free(path);
}

/* In a child: a second lock on dir must be refused naming want_pid. */
static int child_expects_locked(const char *dir, long want_pid)
{
	char pidtext[32];
	int fd;

	snprintf(pidtext, sizeof pidtext, "(pid %ld)", want_pid);
	if (io_lock_dir(dir, &fd) != SUTRA_ELOCKED || fd != -1)
		return 1;
	if (!strstr(sutra_last_error(), pidtext) || !strstr(sutra_last_error(), dir))
		return 2;
	return 0;
}

static void test_lock(void **state)
{
	const char *dir = *state;
	char *lock = tu_path(dir, "LOCK");
	char buf[32] = {0}, want[32];
	int fd, fd2, status;
	FILE *f;
	pid_t child, parent;

	assert_int_equal(io_lock_dir(dir, &fd), 0);
	assert_true(fd >= 0);
	f = fopen(lock, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	snprintf(want, sizeof want, "%ld\n", (long)getpid());
	assert_string_equal(buf, want);

	parent = getpid();
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(child_expects_locked(dir, (long)parent));
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* another descriptor in this process is refused as well (flock is per open file) */
	assert_int_equal(io_lock_dir(dir, &fd2), SUTRA_ELOCKED);
	assert_int_equal(io_close(fd), 0);
	assert_int_equal(io_lock_dir(dir, &fd2), 0);
	io_close(fd2);
	free(lock);
}

/* EIO and ENOSPC at a write site fail exactly the nth call, without writing. */
static void test_fault_write_kinds(void **state)
{
	const int kinds[2] = {SUTRA_FAULT_EIO, SUTRA_FAULT_ENOSPC};
	const int codes[2] = {SUTRA_EIO, SUTRA_ENOSPC};
	const char *names[2] = {"injected EIO at wal_write", "injected ENOSPC at wal_write"};
	char *path = tu_path(*state, "w");

	for (int k = 0; k < 2; k++) {
		int fd;

		sutra_fault_clear();
		fd = open_new(SUTRA_SITE_WAL_CREATE, path);
		sutra_fault_io(SUTRA_SITE_WAL_WRITE, 3, kinds[k]);
		for (int call = 1; call <= 5; call++) {
			int rc = io_write_all(SUTRA_SITE_WAL_WRITE, fd, "0123456789", 10, path);

			assert_int_equal(rc, call == 3 ? codes[k] : 0);
			if (call == 3)
				assert_error_mentions(names[k], path);
		}
		io_close(fd);
		assert_int_equal(path_size(path), 40);
		assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_WRITE), 5);
		assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_CREATE), 1);
		assert_int_equal(sutra_fault_calls(SUTRA_SITE_CKPT_WRITE), 0);
	}
	free(path);
}

static void test_fault_short_write(void **state)
{
	char *path = tu_path(*state, "s");
	int fd = open_new(SUTRA_SITE_CKPT_CREATE, path);
	char buf[16] = {0};

	sutra_fault_io(SUTRA_SITE_CKPT_WRITE, 1, SUTRA_FAULT_SHORT);
	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, "abcdefghijk", 11, path),
	                 SUTRA_ENOSPC);
	assert_error_mentions("short write at ckpt_write", path);
	assert_int_equal(path_size(path), 5);
	assert_int_equal(io_pread_all(fd, buf, 5, 0, path), 0);
	assert_string_equal(buf, "abcde");
	/* disarmed: the next write is whole */
	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, "xyz", 3, path), 0);
	assert_int_equal(path_size(path), 8);
	/* pwrite: half of 9 bytes at offset 100 */
	sutra_fault_io(SUTRA_SITE_CKPT_WRITE, 2, SUTRA_FAULT_SHORT);
	assert_int_equal(io_pwrite_all(SUTRA_SITE_CKPT_WRITE, fd, "PQ", 2, 8, path), 0);
	assert_int_equal(io_pwrite_all(SUTRA_SITE_CKPT_WRITE, fd, "123456789", 9, 100, path),
	                 SUTRA_ENOSPC);
	assert_int_equal(path_size(path), 104);
	assert_int_equal(io_pread_all(fd, buf, 4, 100, path), 0);
	assert_memory_equal(buf, "1234", 4);
	/* a 1-byte write writes nothing */
	sutra_fault_io(SUTRA_SITE_CKPT_WRITE, 1, SUTRA_FAULT_SHORT);
	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, "Z", 1, path), SUTRA_ENOSPC);
	assert_int_equal(path_size(path), 104);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_CKPT_WRITE), 5);
	io_close(fd);
	free(path);
}

static void test_fault_rename_unlink(void **state)
{
	char *a = tu_path(*state, "a"), *b = tu_path(*state, "b");

	touch(*state, "a");
	sutra_fault_io(SUTRA_SITE_RENAME, 1, SUTRA_FAULT_EIO);
	assert_int_equal(io_rename(a, b), SUTRA_EIO);
	assert_error_mentions("injected EIO at rename", a);
	assert_int_equal(path_size(a), 0);
	assert_int_equal(path_size(b), -1);
	assert_int_equal(io_rename(a, b), 0);
	assert_int_equal(path_size(b), 0);

	sutra_fault_io(SUTRA_SITE_UNLINK, 1, SUTRA_FAULT_ENOSPC);
	assert_int_equal(io_unlink(b), SUTRA_ENOSPC);
	assert_error_mentions("injected ENOSPC at unlink", b);
	assert_int_equal(path_size(b), 0);
	sutra_fault_io(SUTRA_SITE_UNLINK, 1, SUTRA_FAULT_SHORT); /* SHORT off a write: EIO */
	assert_int_equal(io_unlink(b), SUTRA_EIO);
	assert_int_equal(path_size(b), 0);
	assert_int_equal(io_unlink(b), 0);
	assert_int_equal(path_size(b), -1);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_RENAME), 2);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_UNLINK), 3);
	free(a);
	free(b);
}

static void test_fault_sync_truncate_create(void **state)
{
	char *path = tu_path(*state, "t"), *other = tu_path(*state, "never");
	int fd = open_new(SUTRA_SITE_WAL_CREATE, path), fd2 = 7;

	assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "0123456789", 10, path), 0);
	sutra_fault_io(SUTRA_SITE_WAL_FSYNC, 2, SUTRA_FAULT_EIO);
	assert_int_equal(io_fdatasync(SUTRA_SITE_WAL_FSYNC, fd, path), 0);
	assert_int_equal(io_fsync(SUTRA_SITE_WAL_FSYNC, fd, path), SUTRA_EIO);
	assert_error_mentions("injected EIO at wal_fsync", path);
	assert_int_equal(io_fdatasync(SUTRA_SITE_WAL_FSYNC, fd, path), 0);

	sutra_fault_io(SUTRA_SITE_WAL_TRUNCATE, 1, SUTRA_FAULT_ENOSPC);
	assert_int_equal(io_ftruncate(SUTRA_SITE_WAL_TRUNCATE, fd, 4, path), SUTRA_ENOSPC);
	assert_int_equal(path_size(path), 10);

	sutra_fault_io(SUTRA_SITE_DIR_FSYNC, 1, SUTRA_FAULT_SHORT);
	assert_int_equal(io_fsync_dir(*state), SUTRA_EIO);
	assert_error_mentions("injected EIO at dir_fsync", *state);
	assert_int_equal(io_fsync_dir(*state), 0);

	sutra_fault_io(SUTRA_SITE_CKPT_CREATE, 1, SUTRA_FAULT_EIO);
	assert_int_equal(io_open(SUTRA_SITE_CKPT_CREATE, other, O_RDWR | O_CREAT, 0644, &fd2),
	                 SUTRA_EIO);
	assert_int_equal(fd2, -1);
	assert_int_equal(path_size(other), -1);

	assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_FSYNC), 3);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_TRUNCATE), 1);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_DIR_FSYNC), 2);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_CKPT_CREATE), 1);
	io_close(fd);
	free(path);
	free(other);
}

static void test_fault_site_matching(void **state)
{
	char *path = tu_path(*state, "m"), *b = tu_path(*state, "m2");
	int fd = open_new(SUTRA_SITE_WAL_CREATE, path);

	sutra_fault_io(SUTRA_SITE_CKPT_WRITE, 1, SUTRA_FAULT_EIO);
	for (int i = 0; i < 3; i++)
		assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "x", 1, path), 0);
	assert_int_equal(io_write_all(SUTRA_SITE_CKPT_WRITE, fd, "x", 1, path), SUTRA_EIO);

	/* SUTRA_SITE_ANY counts calls at every site */
	sutra_fault_io(SUTRA_SITE_ANY, 2, SUTRA_FAULT_EIO);
	assert_int_equal(io_fsync(SUTRA_SITE_MANIFEST_FSYNC, fd, path), 0);
	assert_int_equal(io_rename(path, b), SUTRA_EIO);
	assert_error_mentions("injected EIO at rename", NULL);
	assert_int_equal(io_rename(path, b), 0);

	/* nth == 0 disarms; clear disarms and zeroes the counters */
	sutra_fault_io(SUTRA_SITE_WAL_WRITE, 0, SUTRA_FAULT_EIO);
	assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "x", 1, path), 0);
	sutra_fault_io(SUTRA_SITE_WAL_WRITE, 1, SUTRA_FAULT_EIO);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_WRITE), 4);
	sutra_fault_clear();
	for (int s = 0; s < SUTRA_SITE_COUNT; s++)
		assert_int_equal(sutra_fault_calls(s), 0);
	assert_int_equal(io_write_all(SUTRA_SITE_WAL_WRITE, fd, "x", 1, path), 0);
	assert_int_equal(sutra_fault_calls(SUTRA_SITE_WAL_WRITE), 1);
	io_close(fd);
	free(path);
	free(b);
}

static void test_site_names(void **state)
{
	assert_string_equal(sutra_fault_site_name(SUTRA_SITE_ANY), "any");
	assert_string_equal(sutra_fault_site_name(SUTRA_SITE_WAL_WRITE), "wal_write");
	for (int s = 0; s < SUTRA_SITE_COUNT; s++) {
		assert_non_null(sutra_fault_site_name(s));
		for (int t = 0; t < s; t++)
			assert_string_not_equal(sutra_fault_site_name(s), sutra_fault_site_name(t));
	}
	assert_string_equal(sutra_fault_site_name(SUTRA_SITE_COUNT), "unknown");
}

static void test_alloc_fault(void **state)
{
	void *p[5];
	void *q;

	sutra_fault_alloc(3);
	for (int i = 0; i < 5; i++)
		p[i] = sutra_malloc(16);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_null(p[2]);
	assert_error_mentions("out of memory", NULL);
	assert_non_null(p[3]);
	assert_non_null(p[4]);
	for (int i = 0; i < 5; i++)
		sutra_free(p[i]);

	/* every entry point counts */
	sutra_fault_alloc(4);
	p[0] = sutra_calloc(2, 8);
	p[1] = sutra_aligned_alloc(64, 100);
	p[2] = sutra_memdup0("abc", 3);
	q = sutra_realloc(p[0], 64);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_true(((uintptr_t)p[1] & 63) == 0);
	assert_string_equal(p[2], "abc");
	assert_null(q);             /* the 4th: p[0] is still valid */
	q = sutra_realloc(p[0], 0); /* not a free: one byte */
	assert_non_null(q);
	sutra_free(q);
	sutra_free(p[1]);
	sutra_free(p[2]);

	/* clear disarms the allocator too */
	sutra_fault_alloc(1);
	sutra_fault_clear();
	q = sutra_malloc(0);
	assert_non_null(q);
	sutra_free(q);
}

/* io_list under allocation failure: fails cleanly at every allocation. */
static void test_list_alloc_failures(void **state)
{
	char name[32];
	char **names;
	size_t n;
	int failures = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "seg-%02d", i);
		touch(*state, name);
	}
	for (unsigned nth = 1;; nth++) {
		int rc;

		sutra_fault_alloc(nth);
		rc = io_list(*state, "seg-", &names, &n);
		sutra_fault_alloc(0);
		if (rc == 0)
			break;
		assert_int_equal(rc, SUTRA_ENOMEM);
		assert_null(names);
		assert_int_equal(n, 0);
		failures++;
	}
	assert_int_equal(n, 20);
	assert_string_equal(names[19], "seg-19");
	assert_true(failures >= 21); /* one array + 20 names */
	io_list_free(names, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_unlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_write_kinds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_short_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_rename_unlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_sync_truncate_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_site_matching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_site_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alloc_fault, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_alloc_failures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
