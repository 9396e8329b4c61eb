/* testutil.h - helpers shared by the test programs. */
#ifndef SUTRA_TESTS_TESTUTIL_H
#define SUTRA_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates a fresh empty directory under $TMPDIR (or /tmp) and returns its
 * path (static storage per call site is not shared: caller frees). */
char *tu_mkdtemp(const char *tag);
/* Removes a directory tree. */
void tu_rmrf(const char *path);
/* Deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);
/* Joins dir and name into a new string (caller frees). */
char *tu_path(const char *dir, const char *name);
/* Reads an environment variable as an integer, or def. */
long tu_env_long(const char *name, long def);

#endif
