/* hybrid.c - hybrid search: vector k-NN seeds expanded through the graph.
 *
 * Score of a concept reached from seed s over a path p of h hops:
 *     weight(s) * product of p's confidences * 0.85^h
 * and a concept's score is the best over seeds and paths within max_depth.
 * weight(s) is the seed's cosine similarity (negative ones count as 0 and
 * are not expanded); with the ip or l2 metrics, whose similarities are not
 * in [0, 1], it is 1 / (1 + rank). Maximising that product is the
 * label-setting Dijkstra of best.c started from every seed at cost
 * -log(weight), with -log(0.85) added per hop.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/best.h"
#include "util/alloc.h"
#include "util/err.h"

#define HOP_DECAY 0.85

static double seed_weight(int metric, const sutra_hit *h, size_t rank)
{
	if (metric == SUTRA_METRIC_COSINE)
		return h->similarity > 0 ? h->similarity : 0;
	return 1.0 / (1.0 + (double)rank);
}

static int by_score(const void *a, const void *b)
{
	float x = ((const sutra_hybrid_hit *)a)->score, y = ((const sutra_hybrid_hit *)b)->score;

	return x < y ? 1 : x > y ? -1 : memcmp(a, b, 16);
}

/* Every settled concept as a hit, best first, the first cap into out. */
static int collect(const struct best *s, const sutra_hit *seeds, sutra_hybrid_hit *out, size_t cap,
                   size_t *n, int *truncated)
{
	sutra_hybrid_hit *all = sutra_malloc((s->seen.n + 1) * sizeof *all);
	size_t k = 0;

	if (!all)
		return err_set(SUTRA_ENOMEM, "out of memory for a hybrid search");
	for (size_t c = 0; c < s->seen.n; c++) {
		if (s->first[c] < 0)
			continue;
		const struct label *l = &s->labels[s->first[c]];
		memcpy(all[k].id.b, s->seen.ids[c], 16);
		all[k].score = (float)exp(-l->cost);
		all[k].similarity = seeds[l->seed].similarity;
		all[k].path_confidence = l->conf;
		all[k++].hops = l->hops;
	}
	qsort(all, k, sizeof *all, by_score);
	*n = k < cap ? k : cap;
	*truncated |= k > cap;
	if (*n)
		memcpy(out, all, *n * sizeof *out);
	sutra_free(all);
	return 0;
}

static int expand(sutra_db *db, struct best *s, const sutra_hit *seeds, size_t nseeds)
{
	int rc = 0;

	s->step_cost = -log(HOP_DECAY);
	for (size_t i = 0; i < nseeds && rc >= 0; i++) {
		double w = seed_weight(db->opt.vector_metric, &seeds[i], i);
		if (w > 0)
			rc = best_push(s, seeds[i].id.b, -log(w), 0, -1, (int32_t)i, 1.0);
	}
	return rc < 0 ? rc : best_run(s, db, -1);
}

int sutra_hybrid_search(sutra_db *db, const float *query, uint32_t dim, uint32_t k_seeds,
                        uint32_t ef_search, const sutra_graph_query *q, sutra_hybrid_hit *out,
                        size_t cap, size_t *n, int *truncated)
{
	struct best s = {0};
	size_t nseeds = 0;
	int rc;

	if (!n || !truncated || (cap && !out))
		return err_set(SUTRA_EINVAL, "hybrid_search: NULL argument");
	*n = 0;
	*truncated = 0;
	if ((rc = graph_query_check(q, &s.q)) < 0)
		return rc;
	sutra_hit *seeds = sutra_malloc(((size_t)k_seeds + 1) * sizeof *seeds);
	if (!seeds)
		return err_set(SUTRA_ENOMEM, "out of memory for a hybrid search");
	rc = sutra_vector_search(db, query, dim, k_seeds, ef_search, seeds, &nseeds);
	if (rc == 0) {
		epoch_enter();
		rc = expand(db, &s, seeds, nseeds);
		epoch_exit();
		if (rc == SUTRA_ETOOBIG) { /* the budget cut the expansion */
			*truncated = 1;
			rc = 0;
		}
	}
	if (rc >= 0)
		rc = collect(&s, seeds, out, cap, n, truncated);
	best_free(&s);
	sutra_free(seeds);
	return rc;
}
