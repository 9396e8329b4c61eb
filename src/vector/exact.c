/* exact.c - exact k-nearest-neighbour search by cosine similarity.
 *
 * A scan of every vector in the store, keeping the best k in a min-heap:
 * the ground truth the index is measured against, and the search used while
 * the index is first built, and the floor of a filtered search. The caller
 * is inside an epoch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "vector/filter.h"
#include "vector/vindex.h"
#include "util/alloc.h"
#include "util/err.h"

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

/* Scores one concept into the heap when it has a vector the filter takes. */
static void score(const struct node *nd, const float *q, float qn, uint32_t dim,
                  const struct vfilter *f, sutra_hit *out, size_t *n, size_t k)
{
	if (!nd || !nd->vec || nd->dim != dim || (f && !vfilter_accepts(f, nd)))
		return;
	float vn = norm(nd->vec, dim);
	float sim = vn > 0 ? dot(q, nd->vec, dim) / (qn * vn) : 0;
	offer(out, n, k, nd->id, sim);
}

int vector_exact_search(struct store *s, const float *q, uint32_t dim, uint32_t k,
                        const struct vfilter *f, sutra_hit *out, size_t *n)
{
	float qn = norm(q, dim);

	*n = 0;
	if (k == 0 || qn == 0)
		return 0;
	if (f && f->has_set) { /* only the set's members can match */
		for (size_t i = 0; i < f->set.n; i++)
			score(store_find(s, f->set.ids[i]), q, qn, dim, f, out, n, k);
	} else {
		struct table *t = atomic_load_explicit(&s->tab, memory_order_acquire);
		for (size_t i = 0; i <= t->mask; i++)
			score(table_node(t, i), q, qn, dim, f, out, n, k);
	}
	qsort(out, *n, sizeof *out, by_similarity_desc);
	return 0;
}
