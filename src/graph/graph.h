/* graph.h - what the graph queries share: checking a sutra_graph_query,
 * walking a concept's associations in the allowed directions and type,
 * and a breadth-first frontier with parents (an id set plus arrays).
 *
 * Queries run inside one epoch: they see a consistent version of every
 * adjacency array they read and never wait for writers. An association
 * is followed from its source to its target in direction OUT and from
 * its target to its source in direction IN.
 */
#ifndef SUTRA_GRAPH_GRAPH_H
#define SUTRA_GRAPH_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/db.h"
#include "util/idset.h"

/* Fills a query from q (NULL: the defaults) and checks it. */
int graph_query_check(const sutra_graph_query *q, sutra_graph_query *out);

/* The opposite direction mask (a backward walk). */
int graph_reverse(int direction);

/* Calls fn for every live association of n that q allows in direction
 * mask dir; stops early when fn returns non-zero (and returns that). */
typedef int (*graph_edge_fn)(void *ctx, const uint8_t *other, unsigned type, float conf);
int graph_each_edge(const struct node *n, int dir, int type, graph_edge_fn fn, void *ctx);

/* A breadth-first walk: members of seen in visit order, each with its
 * parent (index, -1 for a start), depth and the confidence of the edge
 * that reached it. */
struct bfs {
	struct idset seen;
	int64_t *parent;
	uint32_t *depth;
	float *conf;
	size_t arrays_cap; /* entries the three arrays above have room for */
	uint64_t budget;   /* members allowed */
};

/* Adds id (if new) as a child of parent at depth; returns 1 if added, 0
 * if already seen, SUTRA_ETOOBIG past the budget, < 0 on other errors. */
int bfs_add(struct bfs *b, const uint8_t *id, int64_t parent, uint32_t depth, float conf);
void bfs_free(struct bfs *b);
/* The ids from the walk's start to member at, into path (room for
 * depth + 1); *len gets the count. reverse: from member to the start. */
void bfs_path(const struct bfs *b, int64_t at, bool reverse, sutra_id *path, size_t *len);

int graph_budget_error(uint64_t budget);

/* A walk by ids (k-hop, several paths) about to expand queue member at
 * (of [at, end)) fetches ahead the table slot, then the node, then the
 * adjacency arrays of the members a few places later, so that their cache
 * misses overlap. The shortest-path walk, by numbers, uses the last two. */
#define PREFETCH_SLOT 12
#define PREFETCH_NODE 10
#define PREFETCH_ADJ  5
void graph_prefetch(struct store *st, const struct idset *q, size_t at, size_t end);

#endif
