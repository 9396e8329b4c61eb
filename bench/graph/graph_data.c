/* graph_data.c - the benchmark's inputs: WordNet as JSONL, parsed once, and the answer key.
 *
 * The JSONL comes from the built wordnet2jsonl (the project's converter, so
 * the figures are about the records a user would import) and is parsed with
 * sutra-import's own record parser (rec_parse), whose results are copied
 * into plain arrays: strings and metadata into a chunked arena, associations
 * as pairs of concept indices (ids resolved through an open-addressing table
 * keyed by the id's first 8 bytes, which are MD5 output and so uniform).
 *
 * Everything the engines are checked against is computed here without any
 * Sutra code: an undirected CSR of the associations, the connected
 * components by union-find (path halving, union by size), the query pairs
 * (a fixed-seed splitmix64 draw of two distinct concepts of the largest
 * component) and, for each pair, the shortest hop count by a plain
 * breadth-first search on the CSR that stops when it reaches the target or
 * GB_MAX_DEPTH.
 */
#include "graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonl/record.h"

/* ---- arena -------------------------------------------------------------------- */

#define ARENA_CHUNK (1u << 20)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char mem[];
};

static void *arena_alloc(void **arena, size_t n)
{
	struct chunk *c = *arena;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct chunk *nc = malloc(sizeof(*nc) + cap);
		if (!nc)
			return NULL;
		nc->next = c;
		nc->used = 0;
		nc->cap = cap;
		*arena = c = nc;
	}
	void *p = c->mem + c->used;
	c->used += n;
	return p;
}

static const char *arena_str(void **arena, const char *s, size_t n)
{
	char *p = arena_alloc(arena, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static void arena_free(void *arena)
{
	for (struct chunk *c = arena, *next; c; c = next) {
		next = c->next;
		free(c);
	}
}

/* ---- id table ------------------------------------------------------------------ */

static size_t id_hash(const sutra_id *id)
{
	uint64_t h;

	memcpy(&h, id->b, 8);
	return (size_t)(h ^ (h >> 29));
}

static int table_build(gb_data *d)
{
	size_t cap = 16;

	while (cap < d->nc * 2)
		cap *= 2;
	d->slot = malloc(cap * sizeof(*d->slot));
	if (!d->slot)
		return bu_err("out of memory (id table)");
	memset(d->slot, 0xff, cap * sizeof(*d->slot));
	d->slot_mask = cap - 1;
	for (size_t i = 0; i < d->nc; i++) {
		size_t s = id_hash(&d->c[i].id) & d->slot_mask;
		while (d->slot[s] != UINT32_MAX) {
			if (memcmp(&d->c[d->slot[s]].id, &d->c[i].id, sizeof(sutra_id)) == 0)
				return bu_err(
				    "duplicate concept id in the JSONL (line of concept %zu)",
				    i + 1);
			s = (s + 1) & d->slot_mask;
		}
		d->slot[s] = (uint32_t)i;
	}
	return 0;
}

long gd_find(const gb_data *d, const sutra_id *id)
{
	size_t s = id_hash(id) & d->slot_mask;

	for (; d->slot[s] != UINT32_MAX; s = (s + 1) & d->slot_mask)
		if (memcmp(&d->c[d->slot[s]].id, id, sizeof(*id)) == 0)
			return d->slot[s];
	return -1;
}

/* ---- parsing ----------------------------------------------------------------------- */

/* Growable arrays of the parse: concepts, and associations by id until
 * every concept is known. */
struct parse {
	size_t cc, ac, ec; /* capacities */
	sutra_id (*ends)[2];
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 4096;
	void *q = realloc(*p, n * size);
	if (!q)
		return bu_err("out of memory (records)");
	*p = q;
	*cap = n;
	return 0;
}

static int keep_concept(gb_data *d, struct parse *ps, const struct rec *r)
{
	gb_concept *c;

	if (grow((void **)&d->c, &ps->cc, d->nc + 1, sizeof(*d->c)) < 0)
		return -1;
	c = &d->c[d->nc++];
	c->id = r->id;
	c->content = arena_str(&d->arena, r->content ? r->content : "", r->content_len);
	c->content_len = r->content_len;
	c->strength = r->strength;
	c->confidence = r->confidence;
	c->meta_count = r->meta_count;
	c->meta = arena_alloc(&d->arena, r->meta_count * sizeof(*c->meta) + 1);
	if (!c->content || !c->meta)
		return bu_err("out of memory (arena)");
	for (size_t i = 0; i < r->meta_count; i++) {
		c->meta[i].key = arena_str(&d->arena, r->meta[i].key, strlen(r->meta[i].key));
		c->meta[i].value = arena_str(&d->arena, r->meta[i].value, strlen(r->meta[i].value));
		if (!c->meta[i].key || !c->meta[i].value)
			return bu_err("out of memory (arena)");
	}
	return 0;
}

static int keep_assoc(gb_data *d, struct parse *ps, const struct rec *r)
{
	if (grow((void **)&d->a, &ps->ac, d->na + 1, sizeof(*d->a)) < 0 ||
	    grow((void **)&ps->ends, &ps->ec, d->na + 1, sizeof(*ps->ends)) < 0)
		return -1;
	ps->ends[d->na][0] = r->source;
	ps->ends[d->na][1] = r->target;
	d->a[d->na].type = (uint8_t)r->type;
	d->a[d->na].confidence = r->confidence;
	d->na++;
	return 0;
}

static int parse_line(gb_data *d, struct parse *ps, const char *line, size_t len, size_t lineno)
{
	struct rec_limits lim = {0};
	struct rec r;
	char err[256];
	int rc = rec_parse(line, len, &lim, &r, err, sizeof(err));

	if (rc == 1)
		return 0;
	if (rc < 0)
		return bu_err("%s:%zu: %s", d->jsonl, lineno, err);
	rc = r.kind == REC_CONCEPT ? keep_concept(d, ps, &r) : keep_assoc(d, ps, &r);
	rec_free(&r);
	return rc;
}

static int resolve_assocs(gb_data *d, struct parse *ps)
{
	for (size_t i = 0; i < d->na; i++) {
		long s = gd_find(d, &ps->ends[i][0]), t = gd_find(d, &ps->ends[i][1]);
		if (s < 0 || t < 0)
			return bu_err("association %zu names a concept that is not in the JSONL",
			              i + 1);
		d->a[i].src = (uint32_t)s;
		d->a[i].dst = (uint32_t)t;
	}
	return 0;
}

static int parse_file(gb_data *d)
{
	struct parse ps = {0};
	FILE *f = fopen(d->jsonl, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	if (!f)
		return bu_err("open %s: %s", d->jsonl, strerror(errno));
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		rc = parse_line(d, &ps, line, (size_t)n, ++lineno);
	}
	fclose(f);
	free(line);
	if (rc == 0)
		rc = table_build(d);
	if (rc == 0)
		rc = resolve_assocs(d, &ps);
	free(ps.ends);
	return rc;
}

/* ---- CSR and components ----------------------------------------------------------------- */

static int csr_build(gb_data *d)
{
	uint32_t *fill;

	d->off = calloc(d->nc + 1, sizeof(*d->off));
	d->adj = malloc((2 * d->na + 1) * sizeof(*d->adj));
	fill = calloc(d->nc + 1, sizeof(*fill));
	if (!d->off || !d->adj || !fill) {
		free(fill);
		return bu_err("out of memory (CSR)");
	}
	for (size_t i = 0; i < d->na; i++) {
		d->off[d->a[i].src + 1]++;
		d->off[d->a[i].dst + 1]++;
	}
	for (size_t i = 0; i < d->nc; i++)
		d->off[i + 1] += d->off[i];
	for (size_t i = 0; i < d->na; i++) {
		uint32_t s = d->a[i].src, t = d->a[i].dst;
		d->adj[d->off[s] + fill[s]++] = t;
		d->adj[d->off[t] + fill[t]++] = s;
	}
	free(fill);
	return 0;
}

int gd_adjacent(const gb_data *d, uint32_t i, uint32_t j)
{
	for (uint32_t k = d->off[i]; k < d->off[i + 1]; k++)
		if (d->adj[k] == j)
			return 1;
	return 0;
}

static uint32_t uf_root(uint32_t *parent, uint32_t x)
{
	while (parent[x] != x) {
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

static void uf_join(uint32_t *parent, uint32_t *size, uint32_t a, uint32_t b)
{
	a = uf_root(parent, a);
	b = uf_root(parent, b);
	if (a == b)
		return;
	if (size[a] < size[b]) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	parent[b] = a;
	size[a] += size[b];
}

/* Union-find over the associations; keeps the members of the largest component. */
static int components(gb_data *d)
{
	uint32_t *parent = malloc(d->nc * sizeof(*parent)), *size = malloc(d->nc * sizeof(*size));
	uint32_t best = 0;

	if (!parent || !size || !(d->giant = malloc(d->nc * sizeof(*d->giant)))) {
		free(parent);
		free(size);
		return bu_err("out of memory (components)");
	}
	for (size_t i = 0; i < d->nc; i++) {
		parent[i] = (uint32_t)i;
		size[i] = 1;
	}
	for (size_t i = 0; i < d->na; i++)
		uf_join(parent, size, d->a[i].src, d->a[i].dst);
	for (size_t i = 0; i < d->nc; i++)
		if (parent[i] == i) {
			d->ncomp++;
			if (size[i] > size[best] || parent[best] != best)
				best = (uint32_t)i;
		}
	for (size_t i = 0; i < d->nc; i++)
		if (uf_root(parent, (uint32_t)i) == best)
			d->giant[d->giant_n++] = (uint32_t)i;
	free(parent);
	free(size);
	return 0;
}

/* ---- the answer key ------------------------------------------------------------------ */

struct ref_bfs {
	uint32_t *stamp, *queue;
	uint8_t *depth;
	uint32_t epoch;
};

/* Shortest hops from a to b within GB_MAX_DEPTH on the CSR (GB_NO_PATH if none). */
static int ref_hops(const gb_data *d, struct ref_bfs *w, uint32_t a, uint32_t b)
{
	size_t head = 0, tail = 0;

	if (a == b)
		return 0;
	w->epoch++;
	w->stamp[a] = w->epoch;
	w->depth[a] = 0;
	w->queue[tail++] = a;
	while (head < tail) {
		uint32_t x = w->queue[head++];
		if (w->depth[x] >= GB_MAX_DEPTH)
			break;
		for (uint32_t k = d->off[x]; k < d->off[x + 1]; k++) {
			uint32_t y = d->adj[k];
			if (w->stamp[y] == w->epoch)
				continue;
			if (y == b)
				return w->depth[x] + 1;
			w->stamp[y] = w->epoch;
			w->depth[y] = (uint8_t)(w->depth[x] + 1);
			w->queue[tail++] = y;
		}
	}
	return GB_NO_PATH;
}

static int make_pairs(gb_data *d, const gb_opts *o)
{
	struct ref_bfs w = {calloc(d->nc, 4), malloc(d->nc * 4), malloc(d->nc), 0};
	uint64_t rng = o->seed, t0 = bu_now_ns(), sum = 0;

	d->pair = calloc(o->pairs, sizeof(*d->pair));
	if (!w.stamp || !w.queue || !w.depth || !d->pair || d->giant_n < 2) {
		free(w.stamp);
		free(w.queue);
		free(w.depth);
		return bu_err("out of memory (pairs), or no component with two concepts");
	}
	for (size_t i = 0; i < o->pairs; i++) {
		gb_pair *p = &d->pair[i];
		do {
			p->a = d->giant[bu_rand(&rng) % d->giant_n];
			p->b = d->giant[bu_rand(&rng) % d->giant_n];
		} while (p->a == p->b);
		p->hops = ref_hops(d, &w, p->a, p->b);
		if (p->hops == GB_NO_PATH) {
			d->far_pairs++;
			continue;
		}
		sum += (uint64_t)p->hops;
		if (p->hops > d->max_hops)
			d->max_hops = p->hops;
	}
	d->npairs = o->pairs;
	d->mean_hops =
	    d->npairs > d->far_pairs ? (double)sum / (double)(d->npairs - d->far_pairs) : 0;
	d->bfs_s = (double)(bu_now_ns() - t0) / 1e9;
	free(w.stamp);
	free(w.queue);
	free(w.depth);
	return 0;
}

int gd_check_path(const gb_data *d, const gb_pair *p, const sutra_id *ids, size_t n, char *why,
                  size_t whyn)
{
	long prev = -1;

	if (p->hops == GB_NO_PATH || n != (size_t)p->hops + 1) {
		snprintf(why, whyn, "%zu hops, the answer key says %d", n ? n - 1 : 0, p->hops);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		long x = gd_find(d, &ids[i]);
		if (x < 0 || (i == 0 && x != p->a) || (i == n - 1 && x != p->b)) {
			snprintf(why, whyn, "path id %zu is not the expected concept", i);
			return -1;
		}
		if (prev >= 0 && !gd_adjacent(d, (uint32_t)prev, (uint32_t)x)) {
			snprintf(why, whyn, "path step %zu follows no association", i);
			return -1;
		}
		prev = x;
	}
	return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */

static int convert(gb_data *d, const gb_opts *o)
{
	char bin[1100], log[1100];
	char *argv[6] = {bin, "--out", d->jsonl, NULL, NULL, NULL};
	struct stat st;
	int rc;

	snprintf(bin, sizeof(bin), "%s/wordnet2jsonl", o->bindir);
	snprintf(d->jsonl, sizeof(d->jsonl), "%s/wordnet.jsonl", o->scratch);
	snprintf(log, sizeof(log), "%s/wordnet2jsonl.log", o->scratch);
	if (o->wordnet) {
		argv[3] = "--wordnet";
		argv[4] = (char *)o->wordnet;
	}
	rc = gu_run(argv, log, &d->convert_s);
	if (rc != 0) {
		char line[256] = "";
		gu_grep(log, "", line, sizeof(line));
		return bu_err("%s failed (status %d): %s", bin, rc, rc < 0 ? bu_lasterr() : line);
	}
	if (stat(d->jsonl, &st) != 0)
		return bu_err("%s: %s", d->jsonl, strerror(errno));
	d->jsonl_bytes = (uint64_t)st.st_size;
	return 0;
}

int gd_load(gb_data *d, const gb_opts *o)
{
	uint64_t t0;

	memset(d, 0, sizeof(*d));
	if (convert(d, o) < 0)
		return -1;
	t0 = bu_now_ns();
	if (parse_file(d) < 0)
		return -1;
	d->parse_s = (double)(bu_now_ns() - t0) / 1e9;
	if (csr_build(d) < 0 || components(d) < 0)
		return -1;
	return make_pairs(d, o);
}

void gd_free(gb_data *d)
{
	arena_free(d->arena);
	free(d->c);
	free(d->a);
	free(d->slot);
	free(d->off);
	free(d->adj);
	free(d->giant);
	free(d->pair);
	memset(d, 0, sizeof(*d));
}
