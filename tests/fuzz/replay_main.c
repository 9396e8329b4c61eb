/* replay_main.c - runs a fuzz target over corpus files, for CI without libFuzzer.
 *
 * Usage: <target>_replay PATH...  where each PATH is a file or a directory
 * whose regular files are replayed in name order. Each input is copied into
 * a fresh allocation of exactly its size (as libFuzzer does, so reads past
 * the end are caught by ASan builds). Fails when no input was found, so an
 * empty or misplaced corpus cannot pass silently.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
	free(buf);
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int count = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown) {
				fprintf(stderr, "replay: out of memory listing %s\n", dir);
				exit(2);
			}
			names = grown;
		}
		if (!(names[n++] = strdup(e->d_name))) {
			fprintf(stderr, "replay: out of memory listing %s\n", dir);
			exit(2);
		}
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			count += run_file(path);
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	int count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
			return 2;
		}
		count += S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
	}
	printf("replayed %d inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no inputs (usage: %s CORPUS_DIR|FILE...)\n", argv[0]);
		return 1;
	}
	return 0;
}
