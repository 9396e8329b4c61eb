/* testutil.h - helpers shared by the test programs. */
#ifndef SUTRA_TESTS_TESTUTIL_H
#define SUTRA_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"

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
/* Waits until the vector index serves searches and has taken in every
 * change (up to two minutes: sanitizer builds are slow); *st gets the
 * figures. 0, or -1 on a timeout. */
int tu_index_ready(sutra_db *db, sutra_stats *st);

/* File helpers for damaging stores; each aborts with a message on failure. */
/* Reads a whole file into a new buffer (caller frees); *size gets its size. */
uint8_t *tu_file_read(const char *path, size_t *size);
/* Writes n bytes at off (creating the file if needed). */
void tu_file_write_at(const char *path, const void *p, size_t n, long off);
/* Flips bits of the byte at off (xor 0x21). */
void tu_file_flip(const char *path, long off);
/* Copies every regular file of from into to. */
void tu_dir_copy(const char *from, const char *to);
/* The last component of a path (borrowed from path). */
const char *tu_base_name(const char *path);

#endif
