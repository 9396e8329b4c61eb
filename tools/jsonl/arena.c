/* arena.c - chunked bump allocator (see arena.h).
 *
 * A request that does not fit in the rest of the current chunk moves to the
 * next kept chunk that is large enough (a smaller one is skipped, and stays
 * for the next reset) or allocates a new one of at least ARENA_CHUNK bytes,
 * or of the request's size when that is larger (a 10 MiB content gets a
 * chunk of its own).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_CHUNK (256u << 10)

void arena_init(struct arena *a)
{
	*a = (struct arena){0};
}

static int add_chunk(struct arena *a, size_t n)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct arena_chunk *c = realloc(a->chunks, cap * sizeof *c);
		if (!c)
			return -1;
		a->chunks = c;
		a->cap = cap;
	}
	size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	char *mem = malloc(cap);
	if (!mem)
		return -1;
	/* keep the chunks after cur in order: the new one goes right after it */
	size_t at = a->cur < a->n ? a->cur + 1 : a->n;
	memmove(a->chunks + at + 1, a->chunks + at, (a->n - at) * sizeof *a->chunks);
	a->chunks[at] = (struct arena_chunk){mem, cap};
	a->n++;
	a->cur = at;
	a->used = 0;
	return 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (n == 0)
		n = 8;
	if (a->cur < a->n && a->chunks[a->cur].cap - a->used >= n) {
		void *p = a->chunks[a->cur].mem + a->used;
		a->used += n;
		return p;
	}
	/* a later kept chunk that is large enough */
	for (size_t i = a->cur < a->n ? a->cur + 1 : a->n; i < a->n; i++)
		if (a->chunks[i].cap >= n) {
			/* move it right after cur so that rewinding stays simple */
			struct arena_chunk c = a->chunks[i];
			size_t at = a->cur + 1;
			memmove(a->chunks + at + 1, a->chunks + at, (i - at) * sizeof c);
			a->chunks[at] = c;
			a->cur = at;
			a->used = n;
			return c.mem;
		}
	if (add_chunk(a, n) < 0)
		return NULL;
	a->used = n;
	return a->chunks[a->cur].mem;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = n < SIZE_MAX ? arena_alloc(a, n + 1) : NULL;

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

void arena_reset(struct arena *a)
{
	a->cur = 0;
	a->used = 0;
}

struct arena_mark arena_mark(const struct arena *a)
{
	return (struct arena_mark){a->cur, a->used};
}

void arena_rewind(struct arena *a, struct arena_mark m)
{
	a->cur = m.cur;
	a->used = m.used;
}

void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->chunks[i].mem);
	free(a->chunks);
	*a = (struct arena){0};
}

size_t arena_size(const struct arena *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->chunks[i].cap;
	return n;
}
