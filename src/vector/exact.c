/* exact.c - exact k-nearest-neighbour search by cosine similarity.
 *
 * A scan of every vector in the store, keeping the best k in a min-heap.
 * It is the ground truth the approximate index is measured against and
 * the engine's search until that index exists; ef_search only matters to
 * the index (an exact scan is already exact).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/err.h"

#define MAX_K 1000

static float norm(const float *v, uint32_t d)
{
	float s = 0;

	for (uint32_t i = 0; i < d; i++)
		s += v[i] * v[i];
	return sqrtf(s);
}

static float dot(const float *a, const float *b, uint32_t d)
{
	float s = 0;

	for (uint32_t i = 0; i < d; i++)
		s += a[i] * b[i];
	return s;
}

/* Min-heap on similarity: the root is the worst of the best k so far. */
static void sift_down(sutra_hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l].similarity < h[m].similarity)
			m = l;
		if (r < n && h[r].similarity < h[m].similarity)
			m = r;
		if (m == i)
			return;
		sutra_hit t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void sift_up(sutra_hit *h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2].similarity > h[i].similarity) {
		sutra_hit t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void offer(sutra_hit *h, size_t *n, size_t k, const uint8_t *id, float sim)
{
	if (*n < k) {
		memcpy(h[*n].id.b, id, 16);
		h[*n].similarity = sim;
		sift_up(h, (*n)++);
	} else if (sim > h[0].similarity) {
		memcpy(h[0].id.b, id, 16);
		h[0].similarity = sim;
		sift_down(h, *n, 0);
	}
}

static int by_similarity_desc(const void *a, const void *b)
{
	float x = ((const sutra_hit *)a)->similarity, y = ((const sutra_hit *)b)->similarity;

	return x < y ? 1 : x > y ? -1 : memcmp(a, b, 16);
}

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
	float qn = norm(query, dim);
	if (k == 0 || qn == 0)
		return 0;
	epoch_enter();
	struct table *t = atomic_load_explicit(&db->store.tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask; i++) {
		struct node *nd = table_node(t, i);
		if (!nd || !nd->vec)
			continue;
		float vn = norm(nd->vec, dim);
		float sim = vn > 0 ? dot(query, nd->vec, dim) / (qn * vn) : 0;
		offer(out, n, k, nd->id, sim);
	}
	epoch_exit();
	qsort(out, *n, sizeof *out, by_similarity_desc);
	return 0;
}
