/* alloc.h - the single allocation entry point of the engine.
 *
 * Every heap allocation goes through these so tests can make the nth one
 * fail (sutra_fault_alloc) and prove each error path frees what it holds.
 */
#ifndef SUTRA_UTIL_ALLOC_H
#define SUTRA_UTIL_ALLOC_H

#include <stddef.h>

void *sutra_malloc(size_t n);
void *sutra_calloc(size_t count, size_t size);
void *sutra_realloc(void *p, size_t n);
/* Aligned allocation (align: a power of two >= sizeof(void *)). */
void *sutra_aligned_alloc(size_t align, size_t n);
void sutra_free(void *p);
/* Duplicates n bytes into a new allocation, NUL-terminated after n. */
char *sutra_memdup0(const void *p, size_t n);

#endif
