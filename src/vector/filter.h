/* filter.h - the predicate of a filtered vector search, compiled once per
 * query from a sutra_vector_filter.
 *
 * The id-shaped conditions (an explicit set, concepts reachable from a
 * start) become one id set, their intersection, so that testing a
 * candidate is a hash probe; the metadata condition is tested on the
 * concept itself. When the set is small the search does not traverse the
 * index at all: it scores the set's members exactly (vfilter_set_ids).
 */
#ifndef SUTRA_VECTOR_FILTER_H
#define SUTRA_VECTOR_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"
#include "util/idset.h"

struct store;
struct node;

struct vfilter {
	const char *meta_key, *meta_value;
	size_t key_len, value_len;
	bool has_set; /* the set below restricts the results */
	struct idset set;
};

/* Checks the filter's limits and compiles it (inside an epoch: the
 * reachability walk reads the graph). */
int vfilter_build(struct store *s, const sutra_vector_filter *f, struct vfilter *out);
void vfilter_free(struct vfilter *f);
/* Does the concept satisfy every condition? (Its vector is the caller's
 * business.) */
bool vfilter_accepts(const struct vfilter *f, const struct node *n);
/* The same test when only the id is at hand (inside an epoch). */
bool vfilter_accepts_id(const struct vfilter *f, struct store *s, const uint8_t id[16]);

#endif
