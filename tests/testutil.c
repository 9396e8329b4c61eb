/* testutil.c - helpers shared by the test programs. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/sutra-%s-XXXXXX", base, tag) < 0)
		abort();
	if (!mkdtemp(path))
		abort();
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

void tu_rmrf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t tu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

char *tu_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

long tu_env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return (v && *v) ? strtol(v, NULL, 10) : def;
}

static void tu_die(const char *what, const char *path)
{
	fprintf(stderr, "testutil: %s %s failed\n", what, path);
	abort();
}

uint8_t *tu_file_read(const char *path, size_t *size)
{
	struct stat st = {0};
	int fd = open(path, O_RDONLY);
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st) != 0)
		tu_die("reading", path);
	if (!(buf = malloc((size_t)st.st_size + 1)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		tu_die("reading", path);
	close(fd);
	*size = (size_t)st.st_size;
	return buf;
}

void tu_file_write_at(const char *path, const void *p, size_t n, long off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0 || pwrite(fd, p, n, off) != (ssize_t)n)
		tu_die("writing", path);
	close(fd);
}

void tu_file_flip(const char *path, long off)
{
	uint8_t b = 0;
	int fd = open(path, O_RDWR);

	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		tu_die("flipping a byte of", path);
	b ^= 0x21;
	if (pwrite(fd, &b, 1, off) != 1)
		tu_die("flipping a byte of", path);
	close(fd);
}

void tu_dir_copy(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;

	if (!d)
		tu_die("listing", from);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *src = tu_path(from, e->d_name), *dst = tu_path(to, e->d_name);
		struct stat st;
		if (stat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(src);
			free(dst);
			continue;
		}
		size_t n;
		uint8_t *buf = tu_file_read(src, &n);
		tu_file_write_at(dst, buf, n, 0);
		free(buf);
		free(src);
		free(dst);
	}
	closedir(d);
}

const char *tu_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int tu_index_ready(sutra_db *db, sutra_stats *st)
{
	for (int i = 0; i < 24000; i++) {
		if (sutra_stats_get(db, st) != 0)
			return -1;
		if (st->index_ready && st->index_lag == 0)
			return 0;
		usleep(5000);
	}
	return -1;
}
