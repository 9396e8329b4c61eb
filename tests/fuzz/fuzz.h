/* fuzz.h - shared pieces of the fuzz targets: the libFuzzer entry point and file helpers.
 *
 * Every target defines LLVMFuzzerTestOneInput. It is linked either with
 * libFuzzer (clang, SUTRA_FUZZ=ON) or with replay_main.c, which runs it over
 * a corpus directory so CI replays the corpus with any compiler. A target
 * reports a broken invariant with fuzz_fail(), which aborts (a crash to
 * libFuzzer, a failed test to CTest). Store-level targets work in one
 * directory per process, on /dev/shm when available (fsync is free there).
 */
#ifndef SUTRA_TESTS_FUZZ_H
#define SUTRA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints the message and aborts. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 if the environment variable is set to a non-zero number. */
int fuzz_env_flag(const char *name);

/* A private directory for this process, <base>/sutra-fuzz-<tag>-<pid>
 * (base: /dev/shm, else $TMPDIR or /tmp), created empty on the first call
 * and removed at exit, or by the next process if this one skips atexit;
 * the same path on every call. */
const char *fuzz_workdir(const char *tag);
/* Removes everything in dir, subdirectories too (a sharded store keeps
 * shard_NNNN/ directories), leaving dir itself. */
void fuzz_clear_dir(const char *dir);
/* Writes n bytes as dir/name (created or truncated). */
void fuzz_write_file(const char *dir, const char *name, const void *p, size_t n);
/* Reads dir/name into a new buffer (caller frees with free()). */
uint8_t *fuzz_read_file(const char *dir, const char *name, size_t *n);

/* With SUTRA_FUZZ_VERBOSE=1 in the environment, prints the result of an
 * open (for looking at what a corpus exercises). */
void fuzz_note_open(int repair, int rc);

/* Reads everything an opened store serves (concepts, metadata,
 * neighbours, associations), checks it is self-consistent, closes it, and
 * checks that the store reopens (repair off) with the same concepts plus
 * one learned after the first open. Aborts on any violation. */
void fuzz_check_store(const char *dir, sutra_db *db, const sutra_options *o);

/* The store targets' common step: for repair off and on, rebuild dir from
 * the input with build(), open a store of dimension dim and check what
 * opened. */
/* A valid WAL segment header (src/wal/wal.h) with this salt and first lsn
 * into h (WAL_HEADER_SIZE bytes). */
void fuzz_wal_header(uint8_t *h, uint64_t salt, uint64_t first_lsn);
/* Re-seals the records of a segment image as wal.h frames them: each CRC
 * recomputed with salt (and, if renumber, the lsns set to 1, 2, ...), so
 * mutations reach what lies behind the checksums. Returns the record count. */
uint64_t fuzz_wal_seal(uint8_t *p, size_t size, uint64_t salt, int renumber);

void fuzz_open_twice(const char *dir, uint32_t dim,
                     void (*build)(const char *dir, const uint8_t *data, size_t size),
                     const uint8_t *data, size_t size);

#endif
