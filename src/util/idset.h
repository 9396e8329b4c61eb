/* idset.h - a set of concept ids in insertion order.
 *
 * Member i is ids[i]; idset_add returns whether the id was new, so the
 * set serves as the visited set and the queue of a breadth-first walk,
 * with per-member data kept by the caller in arrays indexed like ids
 * (grown to cap). At most 2^32 - 1 members.
 */
#ifndef SUTRA_UTIL_IDSET_H
#define SUTRA_UTIL_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset {
	uint8_t (*ids)[16]; /* members, in insertion order */
	size_t n, cap;
	uint32_t *slots; /* open addressing: index + 1 into ids, 0 empty */
	size_t mask;
};

/* Adds id; returns 1 if it was new (it is then ids[n - 1]), 0 if present,
 * < 0 when out of memory. */
int idset_add(struct idset *s, const uint8_t id[16]);
bool idset_has(const struct idset *s, const uint8_t id[16]);
/* The member's index, or -1. */
int64_t idset_find(const struct idset *s, const uint8_t id[16]);
void idset_free(struct idset *s);

#endif
