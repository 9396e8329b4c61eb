/* best.h - the label-setting Dijkstra shared by the most-confident-path
 * query and hybrid search (design in best.c). */
#ifndef SUTRA_GRAPH_BEST_H
#define SUTRA_GRAPH_BEST_H

#include "graph/graph.h"

struct label {
	double cost;      /* -log of the confidence product (plus step costs) */
	double conf;      /* the product of the confidences along the path */
	uint32_t concept; /* index into seen */
	uint32_t hops;
	int64_t prev; /* the label it extends, -1 for a start */
	int32_t seed; /* which start it comes from (hybrid search) */
};

struct best {
	sutra_graph_query q;
	double step_cost;   /* added per hop (hybrid search's decay), >= 0 */
	struct idset seen;  /* concepts met */
	uint32_t *min_hops; /* per concept: hops of its last settled label */
	int64_t *first;     /* per concept: its first settled label, or -1 */
	struct label *labels;
	size_t nlabels, labels_cap;
	uint32_t *heap;
	size_t heap_n, heap_cap;
};

/* The concept's index (registered, unsettled, if new). */
int64_t best_concept(struct best *s, const uint8_t *id);
/* Offers a label: id reached at cost with hops, extending prev. */
int best_push(struct best *s, const uint8_t *id, double cost, uint32_t hops, int64_t prev,
              int32_t seed, double conf);
/* Settles labels until the target concept is settled (returns 1), the
 * heap is empty (0) or an error; target -1 runs to exhaustion. */
int best_run(struct best *s, sutra_db *db, int64_t target);
/* The concepts along a label's path, start first. */
void best_path(const struct best *s, uint32_t label, sutra_id *path, size_t *len);
void best_free(struct best *s);

#endif
