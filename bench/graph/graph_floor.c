/* graph_floor.c - the floor of FindPath: the same bidirectional BFS on a flat integer CSR.
 *
 * Sutra's sutra_find_path expands, level by level, the smaller of two
 * frontiers (from the start and from the end) until they meet, over
 * 16-byte ids: each visited concept costs a probe of the visited set, a
 * lookup of the concept in the store's hash table and a read of its
 * adjacency arrays. This is the same algorithm on the benchmark's own
 * undirected CSR with dense 32-bit indices, per-side stamp arrays instead
 * of hash sets, and no concurrency control: what the search costs when
 * only the graph's shape is paid for. It answers the same hop counts (the
 * query section checks it against the answer key) and counts the concepts
 * both sides added (visited), which tells how much of WordNet a typical
 * query has to touch.
 */
#include "graph.h"

#include <stdlib.h>

struct side {
	uint32_t *stamp, *queue;
	uint8_t *depth;
	size_t head, tail;
	uint8_t level;
};

struct gb_floor {
	const gb_data *d;
	struct side s[2];
	uint32_t epoch;
};

gb_floor *gf_new(const gb_data *d)
{
	gb_floor *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->d = d;
	for (int i = 0; i < 2; i++) {
		f->s[i].stamp = calloc(d->nc, sizeof(uint32_t));
		f->s[i].queue = malloc(d->nc * sizeof(uint32_t));
		f->s[i].depth = malloc(d->nc);
		if (!f->s[i].stamp || !f->s[i].queue || !f->s[i].depth) {
			gf_free(f);
			return NULL;
		}
	}
	return f;
}

void gf_free(gb_floor *f)
{
	for (int i = 0; f && i < 2; i++) {
		free(f->s[i].stamp);
		free(f->s[i].queue);
		free(f->s[i].depth);
	}
	free(f);
}

static void side_start(gb_floor *f, struct side *s, uint32_t x)
{
	s->head = s->tail = 0;
	s->level = 0;
	s->stamp[x] = f->epoch;
	s->depth[x] = 0;
	s->queue[s->tail++] = x;
}

/* Expands every member of s at its current level; returns the shortest
 * total length of a meeting found (INT32_MAX if none). */
static int expand(gb_floor *f, struct side *s, const struct side *o)
{
	const gb_data *d = f->d;
	size_t end = s->tail;
	int best = INT32_MAX;

	for (; s->head < end; s->head++) {
		uint32_t x = s->queue[s->head];
		for (uint32_t k = d->off[x]; k < d->off[x + 1]; k++) {
			uint32_t y = d->adj[k];
			if (s->stamp[y] == f->epoch)
				continue;
			s->stamp[y] = f->epoch;
			s->depth[y] = (uint8_t)(s->level + 1);
			s->queue[s->tail++] = y;
			if (o->stamp[y] == f->epoch && s->level + 1 + o->depth[y] < best)
				best = s->level + 1 + o->depth[y];
		}
	}
	s->level++;
	return best;
}

int gf_hops(gb_floor *f, uint32_t a, uint32_t b, size_t *visited)
{
	struct side *s = f->s;
	int best = INT32_MAX;

	*visited = 1;
	if (a == b)
		return 0;
	f->epoch++;
	side_start(f, &s[0], a);
	side_start(f, &s[1], b);
	while (best == INT32_MAX && s[0].level + s[1].level < GB_MAX_DEPTH) {
		size_t n0 = s[0].tail - s[0].head, n1 = s[1].tail - s[1].head;
		if (n0 == 0 || n1 == 0)
			break;
		best = n0 <= n1 ? expand(f, &s[0], &s[1]) : expand(f, &s[1], &s[0]);
	}
	*visited = s[0].tail + s[1].tail;
	return best <= GB_MAX_DEPTH ? best : GB_NO_PATH;
}
