/* search.c - sutra_vector_search: checks the query, then asks the vector
 * index (or, when the index is off, scans exactly). */
#include <math.h>

#include "engine/db.h"
#include "util/err.h"
#include "vector/vindex.h"

#define MAX_K 1000

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

int sutra_vector_search(sutra_db *db, const float *query, uint32_t dim, uint32_t k,
                        uint32_t ef_search, sutra_hit *out, size_t *n)
{
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!query || !n || (k && !out))
		return err_set(SUTRA_EINVAL, "vector_search: NULL argument");
	if ((rc = check_query(db, query, dim, k)) < 0)
		return rc;
	*n = 0;
	if (k == 0)
		return 0;
	epoch_enter();
	if (db->vindex)
		rc = vindex_search(db->vindex, query, k, ef_search, out, n);
	else
		rc = vector_exact_search(&db->store, query, dim, k, out, n);
	epoch_exit();
	return rc;
}
