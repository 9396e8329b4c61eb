/* filter.c - compiling and testing vector-search filters (see filter.h). */
#include "vector/filter.h"

#include <string.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

/* ---- reachability ------------------------------------------------------------- */

/* Breadth-first from start over the allowed arrays and type; every concept
 * reached (start excluded) ends in out. */
static int reach(struct store *st, const sutra_vector_filter *f, struct idset *out)
{
	struct idset seen = {0};
	uint8_t *depth = NULL;
	int rc = idset_add(&seen, f->reach_from->b);

	for (size_t head = 0; rc >= 0 && head < seen.n; head++) {
		uint8_t d = head ? depth[head] : 0;
		struct node *n = d < f->reach_depth ? store_find(st, seen.ids[head]) : NULL;
		for (int dir = ADJ_OUT; n && dir <= ADJ_IN && rc >= 0; dir++) {
			if (!(f->reach_direction & (dir == ADJ_OUT ? SUTRA_DIR_OUT : SUTRA_DIR_IN)))
				continue;
			struct adj *a;
			uint32_t cnt = adj_count(&a, n, dir);
			for (uint32_t i = 0; i < cnt && rc >= 0; i++) {
				unsigned type;
				float conf;
				if (!edge_live(a, i, &type, &conf) ||
				    (f->reach_type >= 0 && type != (unsigned)f->reach_type))
					continue;
				if ((rc = idset_add(&seen, a->e[i].id)) <= 0)
					continue;
				if (seen.n > SUTRA_MAX_FILTER_REACH) {
					rc =
					    err_set(SUTRA_ETOOBIG,
					            "the reachability filter reaches more than "
					            "%d concepts (max: %d)",
					            SUTRA_MAX_FILTER_REACH, SUTRA_MAX_FILTER_REACH);
					break;
				}
				void *p = sutra_realloc(depth, seen.cap);
				if (!p) {
					rc = err_set(SUTRA_ENOMEM,
					             "out of memory for a filter walk");
					break;
				}
				depth = p;
				depth[seen.n - 1] = (uint8_t)(d + 1);
			}
		}
	}
	for (size_t i = 1; rc >= 0 && i < seen.n; i++)
		rc = idset_add(out, seen.ids[i]);
	idset_free(&seen);
	sutra_free(depth);
	return rc < 0 ? rc : 0;
}

/* ---- compiling ---------------------------------------------------------------- */

static int check_limits(const sutra_vector_filter *f)
{
	if (f->meta_key && !f->meta_value)
		return err_set(SUTRA_EINVAL, "filter: meta_key without meta_value");
	if (f->ids && f->id_count > SUTRA_MAX_FILTER_IDS)
		return err_set(SUTRA_ETOOBIG, "filter: too many ids: %zu (max: %d)", f->id_count,
		               SUTRA_MAX_FILTER_IDS);
	if (!f->reach_from)
		return 0;
	if (f->reach_depth < 1 || f->reach_depth > SUTRA_MAX_PATH_DEPTH)
		return err_set(SUTRA_ETOOBIG, "filter: reach depth %u out of range (1..%d)",
		               f->reach_depth, SUTRA_MAX_PATH_DEPTH);
	if (f->reach_type != SUTRA_TYPE_ANY &&
	    (f->reach_type < 0 || f->reach_type >= SUTRA_ASSOC_TYPES))
		return err_set(SUTRA_EINVAL, "filter: association type %d out of range (0..%d)",
		               f->reach_type, SUTRA_ASSOC_TYPES - 1);
	if (f->reach_direction < SUTRA_DIR_OUT || f->reach_direction > SUTRA_DIR_BOTH)
		return err_set(SUTRA_EINVAL, "filter: direction %d out of range (1..3)",
		               f->reach_direction);
	return 0;
}

/* The explicit ids, kept only where the reachable set (if any) has them. */
static int add_ids(const sutra_vector_filter *f, const struct idset *reachable, struct idset *out)
{
	int rc = 0;

	for (size_t i = 0; i < f->id_count && rc >= 0; i++)
		if (!reachable || idset_has(reachable, f->ids[i].b))
			rc = idset_add(out, f->ids[i].b);
	return rc < 0 ? rc : 0;
}

int vfilter_build(struct store *s, const sutra_vector_filter *f, struct vfilter *out)
{
	struct idset reachable = {0};
	int rc;

	memset(out, 0, sizeof *out);
	if (!f)
		return 0;
	if ((rc = check_limits(f)) < 0)
		return rc;
	if (f->meta_key) {
		out->meta_key = f->meta_key;
		out->meta_value = f->meta_value;
		out->key_len = strlen(f->meta_key);
		out->value_len = strlen(f->meta_value);
	}
	out->has_set = f->reach_from || f->ids;
	if (f->reach_from && (rc = reach(s, f, f->ids ? &reachable : &out->set)) < 0)
		goto fail;
	if (f->ids && (rc = add_ids(f, f->reach_from ? &reachable : NULL, &out->set)) < 0)
		goto fail;
	idset_free(&reachable);
	return 0;
fail:
	idset_free(&reachable);
	vfilter_free(out);
	return rc;
}

void vfilter_free(struct vfilter *f)
{
	idset_free(&f->set);
}

/* ---- testing ------------------------------------------------------------------- */

/* Metadata blob: u32 count, then per entry u16 key length, u32 value
 * length, key NUL value NUL (store/op.h). */
static bool meta_matches(const struct vfilter *f, const struct node *n)
{
	const uint8_t *m = n->meta;
	size_t pos = 4;

	while (m && pos + 6 <= n->meta_len) {
		size_t kl = ld16(m + pos), vl = ld32(m + pos + 2);
		const char *key = (const char *)m + pos + 6, *value = key + kl + 1;
		if (kl == f->key_len && vl == f->value_len && memcmp(key, f->meta_key, kl) == 0 &&
		    memcmp(value, f->meta_value, vl) == 0)
			return true;
		pos += 6 + kl + 1 + vl + 1;
	}
	return false;
}

bool vfilter_accepts(const struct vfilter *f, const struct node *n)
{
	if (f->has_set && !idset_has(&f->set, n->id))
		return false;
	return !f->meta_key || meta_matches(f, n);
}

bool vfilter_accepts_id(const struct vfilter *f, struct store *s, const uint8_t id[16])
{
	if (f->has_set && !idset_has(&f->set, id))
		return false;
	if (!f->meta_key)
		return true;
	struct node *n = store_find(s, id);
	return n && meta_matches(f, n);
}
