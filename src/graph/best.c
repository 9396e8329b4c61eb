/* best.c - most confident paths: Dijkstra on -log(confidence) with a hop
 * limit, for sutra_find_best_path and the expansion of hybrid search.
 *
 * The hop limit makes plain Dijkstra wrong (the most confident path to a
 * concept may be too long while a less confident one fits), so the search
 * settles labels (concept, hops) instead of concepts: a label popped from
 * the heap is dropped when its concept already has a settled label with as
 * few hops (that one is at least as cheap, being popped first); otherwise
 * it is settled and expanded. A concept's first settled label is its most
 * confident path within the limit. Confidences are in [0, 1], so costs
 * are non-negative and the first time the target is popped is optimal.
 */
#include <math.h>
#include <string.h>

#include "graph/best.h"
#include "util/alloc.h"
#include "util/err.h"

#define LABELS_PER_VISIT 4 /* labels allowed per visited concept */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 256;
	while (n < need)
		n *= 2;
	void *q = sutra_realloc(*p, n * size);
	if (!q)
		return err_set(SUTRA_ENOMEM, "out of memory for a path search");
	*p = q;
	*cap = n;
	return 0;
}

/* ---- the heap of label indices, cheapest first ---------------------------- */

static bool cheaper(const struct best *s, size_t a, size_t b)
{
	return s->labels[s->heap[a]].cost < s->labels[s->heap[b]].cost;
}

static void swap(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;

	*a = *b;
	*b = t;
}

static int heap_push(struct best *s, uint32_t label)
{
	int rc = grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap);

	if (rc < 0)
		return rc;
	size_t i = s->heap_n++;
	s->heap[i] = label;
	while (i > 0 && cheaper(s, i, (i - 1) / 2)) {
		swap(&s->heap[i], &s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

static uint32_t heap_pop(struct best *s)
{
	uint32_t top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->heap_n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->heap_n && cheaper(s, l, m))
			m = l;
		if (r < s->heap_n && cheaper(s, r, m))
			m = r;
		if (m == i)
			return top;
		swap(&s->heap[i], &s->heap[m]);
		i = m;
	}
}

/* ---- labels -------------------------------------------------------------- */

int64_t best_concept(struct best *s, const uint8_t *id)
{
	int64_t at = idset_find(&s->seen, id);
	size_t cap = s->seen.cap;
	int rc;

	if (at >= 0)
		return at;
	if (s->seen.n >= s->q.max_visited)
		return graph_budget_error(s->q.max_visited);
	if ((rc = idset_add(&s->seen, id)) < 0)
		return rc;
	if (s->seen.cap != cap) {
		uint32_t *h = sutra_realloc(s->min_hops, s->seen.cap * sizeof *h);
		if (h)
			s->min_hops = h;
		int64_t *f = h ? sutra_realloc(s->first, s->seen.cap * sizeof *f) : NULL;
		if (!f)
			return err_set(SUTRA_ENOMEM, "out of memory for a path search");
		s->first = f;
	}
	at = (int64_t)s->seen.n - 1;
	s->min_hops[at] = UINT32_MAX;
	s->first[at] = -1;
	return at;
}

int best_push(struct best *s, const uint8_t *id, double cost, uint32_t hops, int64_t prev,
              int32_t seed, double conf)
{
	int64_t c = best_concept(s, id);
	int rc;

	if (c < 0)
		return (int)c;
	if (s->min_hops[c] <= hops)
		return 0; /* a settled label is as short and cheaper */
	if (s->nlabels >= s->q.max_visited * LABELS_PER_VISIT)
		return graph_budget_error(s->q.max_visited);
	if ((rc = grow((void **)&s->labels, &s->labels_cap, s->nlabels + 1, sizeof *s->labels)) < 0)
		return rc;
	s->labels[s->nlabels] = (struct label){cost, conf, (uint32_t)c, hops, prev, seed};
	return heap_push(s, (uint32_t)s->nlabels++);
}

struct relax {
	struct best *s;
	uint32_t label;
};

static int relax_edge(void *ctx, const uint8_t *id, unsigned type, float conf)
{
	struct relax *r = ctx;
	struct label l = r->s->labels[r->label];

	if (!(conf > 0))
		return 0; /* a zero-confidence association carries nothing */
	return best_push(r->s, id, l.cost - log((double)conf) + r->s->step_cost, l.hops + 1,
	                 (int64_t)r->label, l.seed, l.conf * conf);
}

int best_run(struct best *s, sutra_db *db, int64_t target)
{
	while (s->heap_n > 0) {
		uint32_t li = heap_pop(s);
		struct label l = s->labels[li];
		if (s->min_hops[l.concept] <= l.hops)
			continue;
		s->min_hops[l.concept] = l.hops;
		if (s->first[l.concept] < 0)
			s->first[l.concept] = li;
		if ((int64_t)l.concept == target)
			return 1;
		if (l.hops >= s->q.max_depth)
			continue;
		struct node *n = store_find(&db->store, s->seen.ids[l.concept]);
		struct relax r = {s, li};
		int rc = n ? graph_each_edge(n, s->q.direction, s->q.type, relax_edge, &r) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

void best_path(const struct best *s, uint32_t label, sutra_id *path, size_t *len)
{
	size_t n = s->labels[label].hops + 1;

	*len = n;
	for (int64_t i = label; i >= 0; i = s->labels[i].prev)
		memcpy(path[--n].b, s->seen.ids[s->labels[i].concept], 16);
}

void best_free(struct best *s)
{
	idset_free(&s->seen);
	sutra_free(s->min_hops);
	sutra_free(s->first);
	sutra_free(s->labels);
	sutra_free(s->heap);
	memset(s, 0, sizeof *s);
}

/* ---- the public query ------------------------------------------------------ */

int sutra_find_best_path(sutra_db *db, const sutra_id *from, const sutra_id *to,
                         const sutra_graph_query *query, sutra_id *path, size_t *len,
                         double *confidence)
{
	struct best s = {0};
	int64_t target = -1;
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!from || !to || !path || !len || !confidence)
		return err_set(SUTRA_EINVAL, "find_best_path: NULL argument");
	if ((rc = graph_query_check(query, &s.q)) < 0)
		return rc;
	*len = 0;
	epoch_enter();
	if (!store_find(&db->store, from->b) || !store_find(&db->store, to->b))
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
	else if ((target = best_concept(&s, to->b)) < 0)
		rc = (int)target;
	else if ((rc = best_push(&s, from->b, 0, 0, -1, 0, 1.0)) >= 0)
		rc = best_run(&s, db, target);
	epoch_exit();
	if (rc == 1) {
		uint32_t label = (uint32_t)s.first[target];
		best_path(&s, label, path, len);
		*confidence = s.labels[label].conf;
		rc = 0;
	} else if (rc == 0) {
		rc = err_set(SUTRA_ENOTFOUND, "no path within %u hops", s.q.max_depth);
	}
	best_free(&s);
	return rc;
}
