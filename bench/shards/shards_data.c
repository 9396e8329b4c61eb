/* shards_data.c - the read section's inputs, generated from the seed.
 *
 * Concepts: random ids, 100 printable bytes of content, and a 64-d vector
 * drawn around one of SD_CLUSTERS random centres (centre + noise), so the
 * vector index faces neighbourhoods as real embeddings have them rather
 * than uniform noise, where every point is about as far as every other.
 * Associations: uniformly random pairs of distinct concepts, random type;
 * with 3 per concept on average the graph is one large component with
 * short paths, like a sparse knowledge graph. Queries: a random centre
 * plus fresh noise. FindPath pairs: random distinct concepts, each with
 * its answer key, the hop count by a plain BFS over an undirected CSR of
 * the associations (no Sutra code), -1 beyond SB_MAX_DEPTH.
 */
#include "shards.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SD_CLUSTERS 100
#define SD_NOISE    1.0 /* half-width of the uniform noise per coordinate */

static double unit(uint64_t *st)
{
	return (double)(bu_rand(st) >> 11) / 9007199254740992.0;
}

/* A vector around a random centre. */
static void around(const float *centres, uint64_t *st, float *out)
{
	const float *c = centres + (bu_rand(st) % SD_CLUSTERS) * SB_DIM;

	for (int j = 0; j < SB_DIM; j++)
		out[j] = c[j] + (float)((unit(st) * 2.0 - 1.0) * SD_NOISE);
}

static int alloc_all(sd_data *d, const sb_opts *o)
{
	memset(d, 0, sizeof(*d));
	d->nc = o->concepts;
	d->na = o->assocs;
	d->nq = o->queries;
	d->np = o->pairs;
	d->id = malloc(d->nc * sizeof(*d->id));
	d->content = malloc(d->nc * SB_CONTENT);
	d->vec = malloc(d->nc * SB_DIM * sizeof(float));
	d->assoc = malloc(d->na * sizeof(*d->assoc));
	d->type = malloc(d->na);
	d->query = malloc(d->nq * SB_DIM * sizeof(float));
	d->pair = malloc(d->np * sizeof(*d->pair));
	d->hops = malloc(d->np * sizeof(int));
	if (!d->id || !d->content || !d->vec || !d->assoc || !d->type || !d->query || !d->pair ||
	    !d->hops) {
		sd_free(d);
		return bu_err("out of memory generating %zu concepts", o->concepts);
	}
	return 0;
}

static void gen(sd_data *d, uint64_t seed)
{
	float centres[SD_CLUSTERS * SB_DIM];
	uint64_t st = seed;

	for (size_t i = 0; i < SD_CLUSTERS * SB_DIM; i++)
		centres[i] = (float)(unit(&st) * 2.0 - 1.0);
	for (size_t i = 0; i < d->nc; i++) {
		bu_fill_id(&st, &d->id[i]);
		bu_fill_printable(&st, d->content + i * SB_CONTENT, SB_CONTENT);
		around(centres, &st, d->vec + i * SB_DIM);
	}
	for (size_t i = 0; i < d->na; i++) {
		uint32_t a = (uint32_t)(bu_rand(&st) % d->nc), b;
		do
			b = (uint32_t)(bu_rand(&st) % d->nc);
		while (b == a);
		d->assoc[i][0] = a;
		d->assoc[i][1] = b;
		d->type[i] = (uint8_t)(bu_rand(&st) % SUTRA_ASSOC_TYPES);
	}
	for (size_t i = 0; i < d->nq; i++)
		around(centres, &st, d->query + i * SB_DIM);
	for (size_t i = 0; i < d->np; i++) {
		d->pair[i][0] = (uint32_t)(bu_rand(&st) % d->nc);
		do
			d->pair[i][1] = (uint32_t)(bu_rand(&st) % d->nc);
		while (d->pair[i][1] == d->pair[i][0]);
	}
}

/* ---- the answer key ------------------------------------------------------------------------ */

typedef struct csr {
	uint32_t *off, *adj;
} csr;

static int csr_build(const sd_data *d, csr *g)
{
	uint32_t *fill;

	g->off = calloc(d->nc + 1, sizeof(uint32_t));
	g->adj = malloc(2 * d->na * sizeof(uint32_t));
	fill = calloc(d->nc, sizeof(uint32_t));
	if (!g->off || !g->adj || !fill) {
		free(fill);
		return bu_err("out of memory");
	}
	for (size_t i = 0; i < d->na; i++) {
		g->off[d->assoc[i][0] + 1]++;
		g->off[d->assoc[i][1] + 1]++;
	}
	for (size_t i = 0; i < d->nc; i++)
		g->off[i + 1] += g->off[i];
	for (size_t i = 0; i < d->na; i++) {
		uint32_t a = d->assoc[i][0], b = d->assoc[i][1];
		g->adj[g->off[a] + fill[a]++] = b;
		g->adj[g->off[b] + fill[b]++] = a;
	}
	free(fill);
	return 0;
}

/* Hops from a to b by BFS (depth-limited), or -1. dist: nc ints, all -1
 * on entry and on return; queue: nc slots. */
static int bfs(const csr *g, uint32_t a, uint32_t b, int *dist, uint32_t *queue)
{
	size_t head = 0, tail = 0;
	int found = -1;

	dist[a] = 0;
	queue[tail++] = a;
	while (head < tail && found < 0) {
		uint32_t u = queue[head++];
		if (dist[u] >= SB_MAX_DEPTH)
			break;
		for (uint32_t e = g->off[u]; e < g->off[u + 1] && found < 0; e++) {
			uint32_t v = g->adj[e];
			if (dist[v] >= 0)
				continue;
			dist[v] = dist[u] + 1;
			queue[tail++] = v;
			if (v == b)
				found = dist[v];
		}
	}
	for (size_t i = 0; i < tail; i++)
		dist[queue[i]] = -1;
	return found;
}

static int answer_key(sd_data *d)
{
	int *dist = malloc(d->nc * sizeof(int));
	uint32_t *queue = malloc(d->nc * sizeof(uint32_t));
	csr g = {0};
	double sum = 0;
	size_t n = 0;
	int rc = dist && queue ? csr_build(d, &g) : bu_err("out of memory");

	for (size_t i = 0; rc == 0 && i < d->nc; i++)
		dist[i] = -1;
	for (size_t i = 0; rc == 0 && i < d->np; i++) {
		d->hops[i] = bfs(&g, d->pair[i][0], d->pair[i][1], dist, queue);
		if (d->hops[i] < 0)
			d->far++;
		else
			sum += d->hops[i], n++;
	}
	d->mean_hops = n ? sum / (double)n : 0;
	free(dist);
	free(queue);
	free(g.off);
	free(g.adj);
	return rc;
}

int sd_make(sd_data *d, const sb_opts *o)
{
	if (alloc_all(d, o) < 0)
		return -1;
	gen(d, o->seed ^ 0xda7a);
	if (answer_key(d) < 0) {
		sd_free(d);
		return -1;
	}
	return 0;
}

void sd_free(sd_data *d)
{
	free(d->id);
	free(d->content);
	free(d->vec);
	free(d->assoc);
	free(d->type);
	free(d->query);
	free(d->pair);
	free(d->hops);
	memset(d, 0, sizeof(*d));
}

/* ---- exact search ------------------------------------------------------------------------- */

static double cosine(const float *a, const float *b)
{
	double ab = 0, aa = 0, bb = 0;

	for (int j = 0; j < SB_DIM; j++) {
		ab += (double)a[j] * b[j];
		aa += (double)a[j] * a[j];
		bb += (double)b[j] * b[j];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

void sd_exact(const sd_data *d, size_t q, uint32_t out[SB_K])
{
	double best[SB_K];
	const float *qv = d->query + q * SB_DIM;

	for (int k = 0; k < SB_K; k++)
		best[k] = -2, out[k] = UINT32_MAX;
	for (size_t i = 0; i < d->nc; i++) {
		double s = cosine(qv, d->vec + i * SB_DIM);
		int k = SB_K - 1;
		if (s <= best[k])
			continue;
		for (; k > 0 && best[k - 1] < s; k--) {
			best[k] = best[k - 1];
			out[k] = out[k - 1];
		}
		best[k] = s;
		out[k] = (uint32_t)i;
	}
}
