/* io.h - the only code that touches files: open, write, fsync, rename, mmap.
 *
 * Every call names its call site (enum sutra_io_site in sutra/sutra_test.h)
 * so tests can inject EIO, ENOSPC or a short write at exactly that place.
 * Functions return 0 or a negative SUTRA_E* code and set the thread's error
 * message with the path and the operation. Writes loop over partial writes
 * and EINTR; a short write from an injected fault is reported as ENOSPC
 * after the partial bytes were written, as a full disk would.
 */
#ifndef SUTRA_IO_IO_H
#define SUTRA_IO_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sutra/sutra_test.h"

/* Opens path with flags/mode (O_CLOEXEC added). *fd receives the descriptor. */
int io_open(int site, const char *path, int flags, int mode, int *fd);
int io_close(int fd);
/* Writes all n bytes at the file position / at off. */
int io_write_all(int site, int fd, const void *p, size_t n, const char *path);
int io_pwrite_all(int site, int fd, const void *p, size_t n, uint64_t off, const char *path);
/* Reads exactly n bytes at off; SUTRA_EIO (message: short read) if the file ends first. */
int io_pread_all(int fd, void *p, size_t n, uint64_t off, const char *path);
int io_fdatasync(int site, int fd, const char *path);
int io_fsync(int site, int fd, const char *path);
int io_ftruncate(int site, int fd, uint64_t size, const char *path);
int io_rename(const char *from, const char *to);
int io_unlink(const char *path);
/* Opens the directory and fsyncs it (makes renames/creates/unlinks durable). */
int io_fsync_dir(const char *dir);
int io_file_size(int fd, uint64_t *size, const char *path);
/* Maps size bytes of fd read-only. *addr is owned by the caller: io_munmap. */
int io_mmap_ro(int fd, uint64_t size, const void **addr, const char *path);
/* A copy-on-write mapping: writes stay in memory, the file never changes. */
int io_mmap_private(int fd, uint64_t size, void **addr, const char *path);
void io_munmap(const void *addr, uint64_t size);
/* Creates dir if missing (mode 0755). */
int io_mkdir_p(const char *dir);
/* Takes an exclusive advisory lock on dir/LOCK (flock, non-blocking) and
 * writes our pid in it. SUTRA_ELOCKED names the other process's pid. */
int io_lock_dir(const char *dir, int *fd);
/* Lists names in dir that start with prefix, sorted; caller frees with
 * io_list_free. */
int io_list(const char *dir, const char *prefix, char ***names, size_t *count);
void io_list_free(char **names, size_t count);

#endif
