/* alloc.c - the engine's allocator wrappers and the allocation-fault hook.
 *
 * Thin wrappers over the C library that give every failure the same shape:
 * NULL plus a SUTRA_ENOMEM message in sutra_last_error(), so a caller can
 * simply return SUTRA_ENOMEM. Zero-byte requests are rounded up to one byte,
 * so NULL always means failure (sutra_realloc(p, 0) is never a free).
 *
 * Fault injection: sutra_fault_alloc(n) arms an atomic countdown; each
 * allocation decrements it and the one that takes it from 1 to 0 fails.
 * Unarmed, the cost is one relaxed atomic load per allocation.
 */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sutra/sutra_test.h"
#include "util/err.h"

static atomic_uint alloc_countdown;

/* Decrements an armed countdown; true for the allocation that must fail. */
static bool alloc_fault_slow(unsigned n)
{
	while (n != 0) {
		if (atomic_compare_exchange_weak_explicit(
		        &alloc_countdown, &n, n - 1, memory_order_relaxed, memory_order_relaxed))
			return n == 1;
	}
	return false;
}

static inline bool alloc_fault(void)
{
	unsigned n = atomic_load_explicit(&alloc_countdown, memory_order_relaxed);

	if (__builtin_expect(n == 0, 1))
		return false;
	return alloc_fault_slow(n);
}

static void *alloc_failed(size_t n)
{
	err_set(SUTRA_ENOMEM, "out of memory (allocating %zu bytes)", n);
	return NULL;
}

void sutra_fault_alloc(unsigned nth)
{
	atomic_store_explicit(&alloc_countdown, nth, memory_order_relaxed);
}

void *sutra_malloc(size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	if (alloc_fault() || !(p = malloc(n)))
		return alloc_failed(n);
	return p;
}

void *sutra_calloc(size_t count, size_t size)
{
	size_t n;
	void *p;

	if (count == 0 || size == 0)
		count = size = 1;
	if (__builtin_mul_overflow(count, size, &n))
		return alloc_failed(SIZE_MAX);
	if (alloc_fault() || !(p = calloc(count, size)))
		return alloc_failed(n);
	return p;
}

void *sutra_realloc(void *p, size_t n)
{
	void *q;

	if (n == 0)
		n = 1;
	if (alloc_fault() || !(q = realloc(p, n)))
		return alloc_failed(n);
	return q;
}

void *sutra_aligned_alloc(size_t align, size_t n)
{
	void *p = NULL;

	if (n == 0)
		n = 1;
	if (alloc_fault() || posix_memalign(&p, align, n) != 0)
		return alloc_failed(n);
	return p;
}

void sutra_free(void *p)
{
	free(p);
}

char *sutra_memdup0(const void *p, size_t n)
{
	char *q;

	if (n == SIZE_MAX)
		return alloc_failed(n);
	q = sutra_malloc(n + 1);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = '\0';
	return q;
}
