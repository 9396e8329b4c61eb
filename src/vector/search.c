/* search.c - sutra_vector_search(_filtered): checks the query and compiles
 * the filter, then asks the vector index, or scans exactly when the index
 * is off, when the filter's id set is small, or when a filtered traversal
 * found fewer than k (so k hits come back whenever k matching vectors
 * exist). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/err.h"
#include "vector/filter.h"
#include "vector/vindex.h"

#define MAX_K     1000
#define SMALL_SET 4096

static int check_query(sutra_db *db, const float *q, uint32_t dim, uint32_t k)
{
	if (dim != db->opt.dimension)
		return err_set(SUTRA_EINVAL,
		               "query dimension %u does not match the store's dimension %u", dim,
		               db->opt.dimension);
	if (k > MAX_K)
		return err_set(SUTRA_ETOOBIG, "k too large: %u (max: %d)", k, MAX_K);
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(q[i]))
			return err_set(SUTRA_EINVAL, "query component %u is not finite", i);
	return 0;
}

/* A set this small is scored member by member instead of traversing the
 * index with a predicate that would reject nearly everything. */
static bool set_is_small(const struct vfilter *f, uint64_t vectors)
{
	return f->has_set && (f->set.n <= SMALL_SET || f->set.n * 16 <= vectors);
}

/* A sharded store: each shard's index gives its k best, and the global k
 * best are the best of those (a shard that scanned exactly may return
 * concepts of other shards too: duplicates are dropped). */
static int search_shards(sutra_db *db, const float *q, uint32_t k, uint32_t ef,
                         const struct vfilter *f, sutra_hit *out, size_t *n)
{
	sutra_hit *all = sutra_malloc((size_t)db->nvx * k * sizeof *all);
	size_t na = 0, got;
	int rc = 0;

	if (!all)
		return err_set(SUTRA_ENOMEM, "out of memory merging %u shards' hits", db->nvx);
	for (uint32_t s = 0; s < db->nvx && rc == 0; s++) {
		rc = vindex_search(db->vx[s], q, k, ef, f, all + na, &got);
		na += got;
	}
	if (rc == 0) {
		qsort(all, na, sizeof *all, vector_hit_order);
		*n = 0;
		for (size_t i = 0; i < na && *n < k; i++)
			if (*n == 0 || memcmp(&out[*n - 1].id, &all[i].id, sizeof all[i].id) != 0)
				out[(*n)++] = all[i];
	}
	sutra_free(all);
	return rc;
}

/* Whether every index has its graph (else one exact scan answers). */
static bool indexes_built(sutra_db *db)
{
	for (uint32_t s = 0; s < db->nvx; s++)
		if (!vindex_built(db->vx[s]))
			return false;
	return db->nvx > 0;
}

/* Inside an epoch: the index when it can answer, exact otherwise. */
static int search(sutra_db *db, const float *q, uint32_t k, uint32_t ef, const struct vfilter *f,
                  sutra_hit *out, size_t *n)
{
	uint32_t dim = db->opt.dimension;
	int rc;

	if (!indexes_built(db) ||
	    (f &&
	     set_is_small(f, atomic_load_explicit(&db->store.n.vectors, memory_order_relaxed))))
		return vector_exact_search(&db->store, db->opt.vector_metric, q, dim, k, f, out, n);
	if (db->nvx > 1)
		rc = search_shards(db, q, k, ef, f, out, n);
	else
		rc = vindex_search(db->vx[0], q, k, ef, f, out, n);
	if (rc == 0 && f && *n < k) /* the predicate was too rare for the traversal */
		rc = vector_exact_search(&db->store, db->opt.vector_metric, q, dim, k, f, out, n);
	return rc;
}

int sutra_vector_search_filtered(sutra_db *db, const float *query, uint32_t dim, uint32_t k,
                                 uint32_t ef_search, const sutra_vector_filter *filter,
                                 sutra_hit *out, size_t *n)
{
	struct vfilter f;
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!query || !n || (k && !out))
		return err_set(SUTRA_EINVAL, "vector_search: NULL argument");
	if ((rc = check_query(db, query, dim, k)) < 0)
		return rc;
	*n = 0;
	epoch_enter();
	if ((rc = vfilter_build(&db->store, filter, &f)) == 0 && k > 0)
		rc = search(db, query, k, ef_search, filter ? &f : NULL, out, n);
	epoch_exit();
	vfilter_free(&f);
	return rc;
}

int sutra_vector_search(sutra_db *db, const float *query, uint32_t dim, uint32_t k,
                        uint32_t ef_search, sutra_hit *out, size_t *n)
{
	return sutra_vector_search_filtered(db, query, dim, k, ef_search, NULL, out, n);
}
