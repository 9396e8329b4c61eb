/* idset.c - a set of 16-byte ids that remembers insertion order (see
 * idset.h). Open addressing over an index array; the ids themselves sit
 * densely in insertion order, so a set doubles as a BFS queue. */
#include "util/idset.h"

#include <string.h>

#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

static size_t probe(const struct idset *s, const uint8_t *id)
{
	size_t i = (ld64(id) * 0x9e3779b97f4a7c15ULL ^ ld64(id + 8)) & s->mask;

	while (s->slots[i] && memcmp(s->ids[s->slots[i] - 1], id, 16) != 0)
		i = (i + 1) & s->mask;
	return i;
}

static int idset_grow(struct idset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64;
	void *ids = sutra_realloc(s->ids, cap * 16);
	uint32_t *slots = sutra_calloc(cap * 2, sizeof *slots);

	if (ids)
		s->ids = ids;
	if (!ids || !slots) {
		sutra_free(slots);
		return err_set(SUTRA_ENOMEM, "out of memory for a filter of %zu ids", cap);
	}
	sutra_free(s->slots);
	s->slots = slots;
	s->cap = cap;
	s->mask = cap * 2 - 1;
	for (size_t i = 0; i < s->n; i++)
		slots[probe(s, s->ids[i])] = (uint32_t)i + 1;
	return 0;
}

/* Adds id; returns 1 if it was new, 0 if present, < 0 on error. */
int idset_add(struct idset *s, const uint8_t id[16])
{
	size_t at = s->cap ? probe(s, id) : 0;
	int rc;

	if (s->cap && s->slots[at])
		return 0; /* present: the set (and its capacity) stay as they are */
	if (s->n == s->cap) {
		if ((rc = idset_grow(s)) < 0)
			return rc;
		at = probe(s, id);
	}
	memcpy(s->ids[s->n], id, 16);
	s->slots[at] = (uint32_t)++s->n;
	return 1;
}

bool idset_has(const struct idset *s, const uint8_t id[16])
{
	return s->n > 0 && s->slots[probe(s, id)] != 0;
}

int64_t idset_find(const struct idset *s, const uint8_t id[16])
{
	return s->n > 0 ? (int64_t)s->slots[probe(s, id)] - 1 : -1;
}

void idset_free(struct idset *s)
{
	sutra_free(s->ids);
	sutra_free(s->slots);
	memset(s, 0, sizeof *s);
}
