/* arena.h - a bump allocator for sutra-import's parsed blocks: the strings,
 * vectors and metadata arrays of a block's records are carved out of a few
 * large chunks and released together, so parsing allocates nothing per
 * value.
 *
 * Chunks are kept across arena_reset, so a block that is reused for the
 * next part of the input allocates nothing once it has seen a block of the
 * same size. Pointers handed out stay valid until arena_reset/arena_rewind
 * past them or arena_free (chunks never move). Not thread-safe: one owner
 * at a time.
 */
#ifndef SUTRA_TOOLS_ARENA_H
#define SUTRA_TOOLS_ARENA_H

#include <stddef.h>

struct arena_chunk {
	char *mem;
	size_t cap;
};

struct arena {
	struct arena_chunk *chunks;
	size_t n, cap; /* chunks allocated, array capacity */
	size_t cur;    /* chunk being carved (== n when none yet) */
	size_t used;   /* bytes used in chunks[cur] */
};

/* Where an arena stands, to undo what a failed record allocated. */
struct arena_mark {
	size_t cur, used;
};

void arena_init(struct arena *a);
/* n bytes, 8-byte aligned; NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* A copy of s[0..n) followed by a NUL; NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Forgets everything allocated; keeps the chunks for reuse. */
void arena_reset(struct arena *a);
struct arena_mark arena_mark(const struct arena *a);
/* Forgets what was allocated since m was taken. */
void arena_rewind(struct arena *a, struct arena_mark m);
void arena_free(struct arena *a);
/* Bytes of all its chunks. */
size_t arena_size(const struct arena *a);

#endif
