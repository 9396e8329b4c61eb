/* exact.c - exact k-nearest-neighbour search in the store's metric.
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
#include "vector/distance.h"

float vector_score(int metric, const float *q, float qn, const float *v, uint32_t dim)
{
	const struct dist_kernels *k = distance_kernels();

	if (metric == SUTRA_METRIC_L2)
		return -k->l2sq(q, v, dim);
	if (metric == SUTRA_METRIC_IP)
		return k->dot(q, v, dim);
	float vn = sqrtf(k->dot(v, v, dim));
	return qn > 0 && vn > 0 ? k->dot(q, v, dim) / (qn * vn) : 0.0f;
}

float vector_query_norm(const float *q, uint32_t dim)
{
	return sqrtf(distance_kernels()->dot(q, q, dim));
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

struct exact_query {
	const float *q;
	float qn;
	uint32_t dim;
	int metric;
	const struct vfilter *f;
};

/* Scores one concept into the heap when it has a vector the filter takes. */
static void score(const struct node *nd, const struct exact_query *x, sutra_hit *out, size_t *n,
                  size_t k)
{
	if (!nd || !nd->vec || nd->dim != x->dim || (x->f && !vfilter_accepts(x->f, nd)))
		return;
	offer(out, n, k, nd->id, vector_score(x->metric, x->q, x->qn, nd->vec, x->dim));
}

int vector_exact_search(struct store *s, int metric, const float *q, uint32_t dim, uint32_t k,
                        const struct vfilter *f, sutra_hit *out, size_t *n)
{
	struct exact_query x = {q, vector_query_norm(q, dim), dim, metric, f};

	*n = 0;
	if (k == 0)
		return 0;
	if (f && f->has_set) { /* only the set's members can match */
		for (size_t i = 0; i < f->set.n; i++)
			score(store_find(s, f->set.ids[i]), &x, out, n, k);
	} else {
		struct table *t = atomic_load_explicit(&s->tab, memory_order_acquire);
		for (size_t i = 0; i <= t->mask; i++)
			score(table_node(t, i), &x, out, n, k);
	}
	qsort(out, *n, sizeof *out, vector_hit_order);
	return 0;
}
