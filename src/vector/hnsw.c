/* hnsw.c - the HNSW index (design and concurrency rules in hnsw.h, memory
 * layout in hnsw_impl.h).
 *
 * Insertion follows the paper: a random level (exponential, mL = 1/ln M),
 * greedy descent to that level, then on each level a beam search of
 * ef_construction candidates, the neighbour-selection heuristic (keep a
 * candidate only if it is closer to the new node than to every neighbour
 * already kept), and reverse links, re-pruned with the same heuristic when
 * a list is full.
 */
#include "vector/hnsw.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "util/alloc.h"
#include "util/err.h"
#include "vector/distance.h"
#include "vector/hnsw_impl.h"

/* A filtered search evaluates at most max(ef * 64, 20000) distances; past
 * that the caller's exact scan over the matching concepts is cheaper. */
#define FILTER_BUDGET_PER_EF 64u
#define FILTER_BUDGET_MIN    20000u

/* ---- storage -------------------------------------------------------------- */

struct chunk *hnsw_chunk(const struct hnsw *h, uint32_t slot)
{
	return atomic_load_explicit(&((struct hnsw *)h)->chunks[slot >> CHUNK_BITS],
	                            memory_order_acquire);
}

static inline struct node_info *info(const struct hnsw *h, uint32_t slot)
{
	return &hnsw_chunk(h, slot)->info[slot & (CHUNK - 1)];
}

const float *hnsw_vector(const struct hnsw *h, uint32_t slot)
{
	return hnsw_chunk(h, slot)->vecs + (size_t)(slot & (CHUNK - 1)) * h->stride;
}

_Atomic uint32_t *hnsw_upper(const struct hnsw *h, uint64_t ref)
{
	_Atomic uint32_t *base = atomic_load_explicit(&((struct hnsw *)h)->pool[ref >> POOL_SHIFT],
	                                              memory_order_acquire);
	return base + (ref & POOL_OFFSET_MASK);
}

/* The neighbour list of slot on level: [count, slots...]. */
static inline _Atomic uint32_t *links(const struct hnsw *h, uint32_t slot, int level)
{
	if (level == 0)
		return hnsw_chunk(h, slot)->l0 + (size_t)(slot & (CHUNK - 1)) * (1 + h->m0);
	return hnsw_upper(h, info(h, slot)->upper) + (size_t)(level - 1) * (1 + h->cfg.M);
}

/* Writer: words zeroed u32 for upper-level lists; *ref names them. */
static int pool_alloc(struct hnsw *h, uint64_t words, uint64_t *ref)
{
	uint32_t c = h->pool_cur;

	if (!h->pool[c] || h->pool_used[c] + words > h->pool_cap[c]) {
		if (h->pool[c])
			c++;
		uint64_t cap = words > POOL_CHUNK_WORDS ? words : POOL_CHUNK_WORDS;
		_Atomic uint32_t *p = c < MAX_POOL ? sutra_calloc(cap, sizeof *p) : NULL;
		if (!p)
			return err_set(SUTRA_ENOMEM, "out of memory for index links");
		h->pool_cap[c] = cap;
		h->pool_used[c] = 0;
		h->pool_cur = c;
		atomic_store_explicit(&h->pool[c], p, memory_order_release);
	}
	*ref = (uint64_t)c << POOL_SHIFT | h->pool_used[c];
	h->pool_used[c] += words;
	return 0;
}

int hnsw_chunk_add(struct hnsw *h, uint32_t index)
{
	struct chunk *c = sutra_calloc(1, sizeof *c);

	if (!c)
		return err_set(SUTRA_ENOMEM, "out of memory growing the vector index");
	c->vecs = sutra_aligned_alloc(64, (size_t)CHUNK * h->stride * sizeof(float));
	c->l0 = sutra_calloc((size_t)CHUNK * (1 + h->m0), sizeof(uint32_t));
	c->info = sutra_calloc(CHUNK, sizeof *c->info);
	if (!c->vecs || !c->l0 || !c->info) {
		sutra_free(c->vecs);
		sutra_free(c->l0);
		sutra_free(c->info);
		sutra_free(c);
		return err_set(SUTRA_ENOMEM, "out of memory growing the vector index");
	}
	atomic_store_explicit(&h->chunks[index], c, memory_order_release);
	return 0;
}

static bool config_valid(const struct hnsw_config *cfg)
{
	return cfg->dim >= 1 && cfg->dim <= 4096 && cfg->M >= 2 && cfg->M <= 128 &&
	       cfg->ef_construction >= cfg->M && cfg->metric >= HNSW_COSINE &&
	       cfg->metric <= HNSW_IP;
}

int hnsw_new(const struct hnsw_config *cfg, struct hnsw **out)
{
	if (!config_valid(cfg))
		return err_set(SUTRA_EINVAL,
		               "hnsw: bad configuration (dim %u, M %u, ef_construction %u)",
		               cfg->dim, cfg->M, cfg->ef_construction);
	struct hnsw *h = sutra_calloc(1, sizeof *h);
	if (!h)
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index");
	h->cfg = *cfg;
	h->k = distance_kernels();
	h->m0 = 2 * cfg->M;
	h->stride = hnsw_stride(cfg->dim);
	h->ml = 1.0 / log((double)cfg->M);
	atomic_init(&h->rng, cfg->seed ? cfg->seed : 0x5eed);
	atomic_init(&h->entry, NO_ENTRY);
	pthread_mutex_init(&h->grow_mu, NULL);
	pthread_mutex_init(&h->entry_mu, NULL);
	*out = h;
	return 0;
}

void hnsw_free(struct hnsw *h)
{
	if (!h)
		return;
	for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
		struct chunk *ch = atomic_load(&h->chunks[c]);
		if (!ch)
			break;
		if (!ch->mapped) {
			sutra_free(ch->vecs);
			sutra_free(ch->l0);
			sutra_free(ch->info);
		}
		sutra_free(ch);
	}
	for (uint32_t c = 0; c < MAX_POOL; c++)
		if (!(c == 0 && h->pool_mapped))
			sutra_free(atomic_load(&h->pool[c]));
	if (h->map)
		io_munmap(h->map, h->map_size);
	pthread_mutex_destroy(&h->grow_mu);
	pthread_mutex_destroy(&h->entry_mu);
	sutra_free(h);
}

/* ---- distances ------------------------------------------------------------ */

/* Between two padded vectors (stored ones, or a prepared query). */
static float dist_vec(const struct hnsw *h, const float *a, const float *b)
{
	if (h->cfg.metric == HNSW_L2)
		return h->k->l2sq(a, b, h->stride);
	return 1.0f - h->k->dot(a, b, h->stride);
}

static float dist_slot(const struct hnsw *h, const float *padded_q, uint32_t slot)
{
	return dist_vec(h, padded_q, hnsw_vector(h, slot));
}

float hnsw_distance(const struct hnsw *h, const float *q, uint32_t slot)
{
	const float *v = hnsw_vector(h, slot);

	if (h->cfg.metric == HNSW_L2)
		return h->k->l2sq(q, v, h->cfg.dim);
	return 1.0f - h->k->dot(q, v, h->cfg.dim);
}

/* ---- heaps of (distance, slot) -------------------------------------------- */

/* A max-heap on the hits' distance field. The candidates' min-heap is the
 * same heap with negated distances (heap_push_min / heap_pop_min), so
 * neither needs a comparison switch; sifting moves a hole instead of
 * swapping. */
struct heap {
	struct hnsw_hit *v;
	size_t n, cap;
};

static int heap_push(struct heap *hp, uint32_t slot, float d)
{
	if (hp->n == hp->cap) {
		size_t cap = hp->cap ? hp->cap * 2 : 64;
		struct hnsw_hit *v = sutra_realloc(hp->v, cap * sizeof *v);
		if (!v)
			return err_set(SUTRA_ENOMEM, "out of memory in a vector search");
		hp->v = v;
		hp->cap = cap;
	}
	size_t i = hp->n++;
	while (i > 0 && hp->v[(i - 1) / 2].distance < d) {
		hp->v[i] = hp->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	hp->v[i] = (struct hnsw_hit){slot, d};
	return 0;
}

static struct hnsw_hit heap_pop(struct heap *hp)
{
	struct hnsw_hit top = hp->v[0], last = hp->v[--hp->n];
	size_t i = 0;

	for (;;) {
		size_t m = 2 * i + 1;
		if (m >= hp->n)
			break;
		if (m + 1 < hp->n && hp->v[m + 1].distance > hp->v[m].distance)
			m++;
		if (hp->v[m].distance <= last.distance)
			break;
		hp->v[i] = hp->v[m];
		i = m;
	}
	if (hp->n)
		hp->v[i] = last;
	return top;
}

static int heap_push_min(struct heap *hp, uint32_t slot, float d)
{
	return heap_push(hp, slot, -d);
}

static struct hnsw_hit heap_pop_min(struct heap *hp)
{
	struct hnsw_hit h = heap_pop(hp);

	h.distance = -h.distance;
	return h;
}

/* ---- visited sets (per thread, reused across searches) -------------------- */

struct visited {
	uint16_t *tag;
	size_t cap;
	uint16_t cur;
};

static _Thread_local struct visited t_visited;
static _Thread_local struct heap t_cand, t_res; /* reused across searches */
static _Thread_local float *t_query;
static _Thread_local uint32_t t_query_dim;
static pthread_key_t t_key;
static pthread_once_t t_key_once = PTHREAD_ONCE_INIT;

/* Frees a thread's search buffers when it exits. */
static void thread_buffers_free(void *unused)
{
	sutra_free(t_visited.tag);
	sutra_free(t_query);
	sutra_free(t_cand.v);
	sutra_free(t_res.v);
	memset(&t_cand, 0, sizeof t_cand);
	memset(&t_res, 0, sizeof t_res);
	memset(&t_visited, 0, sizeof t_visited);
	t_query = NULL;
	t_query_dim = 0;
}

static void key_create(void)
{
	pthread_key_create(&t_key, thread_buffers_free);
}

/* Registers the calling thread's buffers for freeing at its exit. */
static void buffers_owned(void)
{
	static _Thread_local bool owned;

	if (owned)
		return;
	pthread_once(&t_key_once, key_create);
	pthread_setspecific(t_key, &t_visited);
	owned = true;
}

static int visited_begin(struct visited *v, size_t n)
{
	if (n > v->cap) {
		size_t cap = n + n / 2 + 1024;
		buffers_owned();
		uint16_t *t = sutra_calloc(cap, sizeof *t);
		if (!t)
			return err_set(SUTRA_ENOMEM, "out of memory for a visited set of %zu", cap);
		sutra_free(v->tag);
		v->tag = t;
		v->cap = cap;
		v->cur = 0;
	}
	if (++v->cur == 0) {
		memset(v->tag, 0, v->cap * sizeof *v->tag);
		v->cur = 1;
	}
	return 0;
}

/* True the first time slot is seen in this search. */
static bool visit(struct visited *v, uint32_t slot)
{
	if (v->tag[slot] == v->cur)
		return false;
	v->tag[slot] = v->cur;
	return true;
}

/* ---- search --------------------------------------------------------------- */

struct layer_search {
	struct hnsw *h;
	const float *q;
	uint32_t limit; /* slots below this are published and visitable */
	hnsw_filter_fn filter;
	void *ctx;
	bool skip_deleted;
	uint64_t budget; /* distance evaluations left (filtered searches) */
	struct visited *vis;
	struct heap cand, res;
};

/* The thread's heaps, emptied, for one search or insert. */
static void heaps_take(struct layer_search *s)
{
	buffers_owned();
	s->cand = t_cand;
	s->res = t_res;
	s->cand.n = s->res.n = 0;
}

/* Keeps whatever the heaps grew to for the thread's next search. */
static void heaps_give_back(struct layer_search *s)
{
	t_cand = s->cand;
	t_res = s->res;
}

static bool accepted(const struct layer_search *s, uint32_t slot)
{
	if (s->skip_deleted &&
	    atomic_load_explicit(&info(s->h, slot)->deleted, memory_order_relaxed))
		return false;
	return !s->filter || s->filter(s->ctx, slot);
}

/* Offers slot at distance d to the results; keeps at most ef. */
static int offer(struct layer_search *s, uint32_t slot, float d, uint32_t ef)
{
	int rc;

	if (!accepted(s, slot))
		return 0;
	if ((rc = heap_push(&s->res, slot, d)) < 0)
		return rc;
	if (s->res.n > ef)
		heap_pop(&s->res);
	return 0;
}

/* Expands one candidate's neighbours on level. The unvisited ones are
 * gathered first with their vectors prefetched, so the memory fetches
 * overlap instead of stalling one distance at a time. */
static int expand(struct layer_search *s, uint32_t c, int level, uint32_t ef)
{
	_Atomic uint32_t *l = links(s->h, c, level);
	uint32_t n = atomic_load_explicit(&l[0], memory_order_acquire), fresh[2 * 128], m = 0;
	int rc = 0;

	for (uint32_t i = 1; i <= n; i++) { /* the visited tags are scattered too */
		uint32_t e = atomic_load_explicit(&l[i], memory_order_relaxed);
		if (e < s->limit)
			__builtin_prefetch(&s->vis->tag[e]);
	}
	for (uint32_t i = 1; i <= n && m < s->budget; i++) {
		uint32_t e = atomic_load_explicit(&l[i], memory_order_acquire);
		if (e >= s->limit || !visit(s->vis, e))
			continue;
		__builtin_prefetch(hnsw_vector(s->h, e));
		fresh[m++] = e;
	}
	s->budget -= s->budget == UINT64_MAX ? 0 : m;
	for (uint32_t i = 0; i < m && rc == 0; i++) {
		if (i + 1 < m)
			__builtin_prefetch(hnsw_vector(s->h, fresh[i + 1]) + 16);
		float d = dist_slot(s->h, s->q, fresh[i]);
		if (s->res.n >= ef && d >= s->res.v[0].distance)
			continue;
		if (level == 0) /* its list is read when it is expanded: fetch it now */
			__builtin_prefetch(links(s->h, fresh[i], 0));
		if ((rc = heap_push_min(&s->cand, fresh[i], d)) == 0)
			rc = offer(s, fresh[i], d, ef);
	}
	return rc;
}

/* Beam search on one level from the entry points already in s->cand;
 * leaves the best ef accepted slots in s->res (a max-heap). */
static int search_layer(struct layer_search *s, int level, uint32_t ef)
{
	int rc = 0;

	while (s->cand.n > 0 && rc == 0) {
		struct hnsw_hit c = heap_pop_min(&s->cand);
		if ((s->res.n >= ef && c.distance > s->res.v[0].distance) || s->budget == 0)
			break;
		rc = expand(s, c.slot, level, ef);
	}
	s->cand.n = 0;
	return rc;
}

/* Greedy descent: the closest slot to q on level, starting at cur. */
static uint32_t greedy(struct hnsw *h, const float *q, uint32_t cur, int level, uint32_t limit)
{
	float best = dist_slot(h, q, cur);

	for (bool moved = true; moved;) {
		moved = false;
		_Atomic uint32_t *l = links(h, cur, level);
		uint32_t n = atomic_load_explicit(&l[0], memory_order_acquire);
		for (uint32_t i = 1; i <= n; i++) {
			uint32_t e = atomic_load_explicit(&l[i], memory_order_acquire);
			if (e >= limit)
				continue;
			float d = dist_slot(h, q, e);
			if (d < best) {
				best = d;
				cur = e;
				moved = true;
			}
		}
	}
	return cur;
}

static int by_distance(const void *a, const void *b)
{
	float x = ((const struct hnsw_hit *)a)->distance,
	      y = ((const struct hnsw_hit *)b)->distance;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The query as the stored vectors are: padded with zeros to the stride,
 * normalised for cosine (a per-thread buffer). */
static const float *prepare_query(struct hnsw *h, const float *q)
{
	if (t_query_dim < h->stride) {
		buffers_owned();
		float *b = sutra_aligned_alloc(64, (size_t)h->stride * sizeof *b);
		if (!b)
			return NULL;
		sutra_free(t_query);
		t_query = b;
		t_query_dim = h->stride;
	}
	float norm = h->cfg.metric == HNSW_COSINE ? sqrtf(h->k->dot(q, q, h->cfg.dim)) : 0;
	for (uint32_t i = 0; i < h->cfg.dim; i++)
		t_query[i] = norm > 0 ? q[i] / norm : q[i];
	memset(t_query + h->cfg.dim, 0, (size_t)(h->stride - h->cfg.dim) * sizeof *t_query);
	return t_query;
}

int hnsw_search(struct hnsw *h, const float *query, uint32_t k, uint32_t ef, hnsw_filter_fn filter,
                void *ctx, struct hnsw_hit *out, size_t *n)
{
	if (!(query = prepare_query(h, query)))
		return err_set(SUTRA_ENOMEM, "out of memory for a query");
	uint64_t entry = atomic_load_explicit(&h->entry, memory_order_acquire);
	struct layer_search s = {.h = h,
	                         .q = query,
	                         .filter = filter,
	                         .ctx = ctx,
	                         .skip_deleted = hnsw_deleted(h) > 0,
	                         .budget = UINT64_MAX,
	                         .vis = &t_visited};
	int rc;

	*n = 0;
	heaps_take(&s);
	s.limit = atomic_load_explicit(&h->count, memory_order_acquire);
	if (k == 0 || entry == NO_ENTRY || s.limit == 0)
		return 0;
	if (ef < k)
		ef = k;
	if (filter) /* a rare predicate must not walk the whole graph */
		s.budget = (uint64_t)ef * FILTER_BUDGET_PER_EF > FILTER_BUDGET_MIN
		               ? (uint64_t)ef * FILTER_BUDGET_PER_EF
		               : FILTER_BUDGET_MIN;
	if ((rc = visited_begin(s.vis, s.limit)) < 0)
		return rc;
	uint32_t cur = (uint32_t)entry;
	for (int l = (int)(entry >> 32); l > 0; l--)
		cur = greedy(h, query, cur, l, s.limit);
	visit(s.vis, cur);
	float d = dist_slot(h, query, cur);
	if ((rc = heap_push_min(&s.cand, cur, d)) == 0 && (rc = offer(&s, cur, d, ef)) == 0)
		rc = search_layer(&s, 0, ef);
	if (rc == 0) {
		while (s.res.n > k)
			heap_pop(&s.res);
		if (s.res.n) /* res.v may be NULL: a filter accepted nothing */
			memcpy(out, s.res.v, s.res.n * sizeof *out);
		*n = s.res.n;
		qsort(out, *n, sizeof *out, by_distance);
	}
	heaps_give_back(&s);
	return rc;
}

/* ---- insertion ------------------------------------------------------------ */

/* The neighbour-selection heuristic: from cand (sorted nearest first, by
 * distance to the base), keep a candidate unless one kept so far is
 * strictly closer to it than the base is (ties keep it, which matters for
 * data with many equal distances); at most max. Returns how many were kept
 * (moved to the front of cand). */
static size_t select_neighbours(struct hnsw *h, struct hnsw_hit *cand, size_t n, size_t max)
{
	size_t kept = 0;

	qsort(cand, n, sizeof *cand, by_distance);
	for (size_t i = 0; i < n && kept < max; i++) {
		bool good = true;
		const float *v = hnsw_vector(h, cand[i].slot);
		for (size_t j = 0; j < kept && good; j++)
			good = dist_vec(h, v, hnsw_vector(h, cand[j].slot)) >= cand[i].distance;
		if (good)
			cand[kept++] = cand[i];
	}
	return kept;
}

static void set_links(_Atomic uint32_t *l, const struct hnsw_hit *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&l[1 + i], v[i].slot, memory_order_release);
	atomic_store_explicit(&l[0], (uint32_t)n, memory_order_release);
}

/* Per-node spin locks guard a node's lists against concurrent inserters
 * (bulk builds); readers never take them. */
static void node_lock(struct hnsw *h, uint32_t slot)
{
	_Atomic uint8_t *l = &info(h, slot)->lock;

	while (atomic_exchange_explicit(l, 1, memory_order_acquire))
		while (atomic_load_explicit(l, memory_order_relaxed))
			__builtin_ia32_pause();
}

static void node_unlock(struct hnsw *h, uint32_t slot)
{
	atomic_store_explicit(&info(h, slot)->lock, 0, memory_order_release);
}

/* Adds a reverse link nb -> slot on level, re-pruning a full list. */
static void link_back(struct hnsw *h, uint32_t nb, uint32_t slot, int level)
{
	_Atomic uint32_t *l = links(h, nb, level);
	uint32_t max = level == 0 ? h->m0 : h->cfg.M;
	struct hnsw_hit cand[2 * 128 + 1];
	const float *base = hnsw_vector(h, nb);

	node_lock(h, nb);
	uint32_t n = atomic_load_explicit(&l[0], memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		cand[i].slot = atomic_load_explicit(&l[1 + i], memory_order_relaxed);
		if (cand[i].slot == slot) { /* nb linked to slot itself meanwhile */
			node_unlock(h, nb);
			return;
		}
	}
	if (n < max) {
		atomic_store_explicit(&l[1 + n], slot, memory_order_release);
		atomic_store_explicit(&l[0], n + 1, memory_order_release);
	} else {
		for (uint32_t i = 0; i < n; i++)
			cand[i].distance = dist_vec(h, base, hnsw_vector(h, cand[i].slot));
		cand[n].slot = slot;
		cand[n].distance = dist_vec(h, base, hnsw_vector(h, slot));
		set_links(l, cand, select_neighbours(h, cand, n + 1, max));
	}
	node_unlock(h, nb);
}

/* Sets a new node's list on level to its chosen neighbours. A concurrent
 * inserter may already have linked itself in (it met the node on a higher
 * level); those links are kept, re-pruned with the same heuristic when
 * the list would overflow, so that no node loses its only way in. */
static void set_own_links(struct hnsw *h, uint32_t slot, int level, const struct hnsw_hit *chosen,
                          size_t kept)
{
	_Atomic uint32_t *l = links(h, slot, level);
	uint32_t max = level == 0 ? h->m0 : h->cfg.M;
	struct hnsw_hit all[2 * 2 * 128];
	size_t n = kept;

	memcpy(all, chosen, kept * sizeof *all);
	node_lock(h, slot);
	uint32_t have = atomic_load_explicit(&l[0], memory_order_relaxed);
	for (uint32_t i = 1; i <= have; i++) {
		uint32_t e = atomic_load_explicit(&l[i], memory_order_relaxed);
		bool dup = false;
		for (size_t j = 0; j < kept && !dup; j++)
			dup = all[j].slot == e;
		if (!dup) {
			all[n].slot = e;
			all[n++].distance = dist_vec(h, hnsw_vector(h, slot), hnsw_vector(h, e));
		}
	}
	set_links(l, all, n > max ? select_neighbours(h, all, n, max) : n);
	node_unlock(h, slot);
}

static uint32_t random_level(struct hnsw *h)
{
	uint64_t z =
	    atomic_fetch_add_explicit(&h->rng, 0x9e3779b97f4a7c15ULL, memory_order_relaxed) +
	    0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	double u = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
	double level = -log(u) * h->ml;
	return level > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (uint32_t)level;
}

/* Writes the new node's record and vector (not yet reachable). */
static int node_init(struct hnsw *h, uint32_t slot, const uint8_t key[16], const float *vec,
                     uint32_t level)
{
	uint64_t up = 0;
	int rc = 0;

	pthread_mutex_lock(&h->grow_mu); /* chunks and the pool are shared */
	if (!hnsw_chunk(h, slot))
		rc = hnsw_chunk_add(h, slot >> CHUNK_BITS);
	if (rc == 0 && level > 0)
		rc = pool_alloc(h, (uint64_t)level * (1 + h->cfg.M), &up);
	pthread_mutex_unlock(&h->grow_mu);
	if (rc < 0)
		return rc;
	/* A mapped chunk's unused slots are whatever the file holds there:
	 * start the record and the level-0 list from nothing. */
	struct node_info *ni = info(h, slot);
	memset(ni, 0, sizeof *ni);
	memcpy(ni->key, key, 16);
	ni->level = (uint8_t)level;
	ni->upper = up;
	atomic_store_explicit(&links(h, slot, 0)[0], 0, memory_order_relaxed);
	float *v = (float *)hnsw_vector(h, slot);
	memcpy(v, vec, (size_t)h->cfg.dim * sizeof *v);
	memset(v + h->cfg.dim, 0, (size_t)(h->stride - h->cfg.dim) * sizeof *v);
	if (h->cfg.metric == HNSW_COSINE) {
		float norm = sqrtf(h->k->dot(v, v, h->cfg.dim));
		for (uint32_t i = 0; norm > 0 && i < h->cfg.dim; i++)
			v[i] /= norm;
	}
	return 0;
}

/* Connects slot on levels min(level, top)..0, starting from cur. Slots up
 * to limit may be met (concurrent inserters); slot itself is skipped. */
static int connect(struct hnsw *h, uint32_t slot, uint32_t level, uint32_t cur, uint32_t top,
                   uint32_t limit)
{
	const float *q = hnsw_vector(h, slot);
	struct layer_search s = {
	    .h = h, .q = q, .limit = limit, .budget = UINT64_MAX, .vis = &t_visited};
	int rc = 0;

	heaps_take(&s);
	for (int l = (int)(level < top ? level : top); l >= 0 && rc == 0; l--) {
		if ((rc = visited_begin(s.vis, (size_t)limit + 1)) < 0) /* slot may equal limit */
			break;
		visit(s.vis, slot);
		visit(s.vis, cur);
		float d = dist_slot(h, q, cur);
		s.res.n = 0;
		if ((rc = heap_push_min(&s.cand, cur, d)) < 0 ||
		    (rc = offer(&s, cur, d, h->cfg.ef_construction)) < 0 ||
		    (rc = search_layer(&s, l, h->cfg.ef_construction)) < 0)
			break;
		size_t kept = select_neighbours(h, s.res.v, s.res.n, h->cfg.M);
		cur = s.res.v[0].slot; /* the nearest, after the sort */
		set_own_links(h, slot, l, s.res.v, kept);
		for (size_t i = 0; i < kept; i++)
			link_back(h, s.res.v[i].slot, slot, l);
	}
	heaps_give_back(&s);
	return rc;
}

/* Inserts a vector at a slot already reserved (limit: slots reserved so
 * far). A node that becomes the new top holds entry_mu while it links in,
 * so concurrent inserters never see an entry point that is not linked. */
static int insert(struct hnsw *h, uint32_t slot, const uint8_t key[16], const float *vec,
                  uint32_t limit)
{
	uint32_t level = random_level(h);
	uint64_t entry = atomic_load_explicit(&h->entry, memory_order_acquire);
	bool raise = entry == NO_ENTRY || level > (uint32_t)(entry >> 32);
	int rc;

	if ((rc = node_init(h, slot, key, vec, level)) < 0)
		return rc;
	if (raise) {
		pthread_mutex_lock(&h->entry_mu);
		entry = atomic_load_explicit(&h->entry, memory_order_acquire);
		raise = entry == NO_ENTRY || level > (uint32_t)(entry >> 32);
		if (!raise)
			pthread_mutex_unlock(&h->entry_mu);
	}
	if (entry != NO_ENTRY) {
		uint32_t cur = (uint32_t)entry, top = (uint32_t)(entry >> 32);
		for (int l = (int)top; l > (int)level; l--)
			cur = greedy(h, hnsw_vector(h, slot), cur, l, limit);
		rc = connect(h, slot, level, cur, top, limit);
	}
	if (raise) {
		if (rc == 0)
			atomic_store_explicit(&h->entry, (uint64_t)level << 32 | slot,
			                      memory_order_release);
		pthread_mutex_unlock(&h->entry_mu);
	}
	return rc;
}

int hnsw_add(struct hnsw *h, const uint8_t key[16], const float *vec, uint32_t *slot_out)
{
	uint32_t slot = h->added;
	int rc;

	if (slot >= (uint64_t)MAX_CHUNKS * CHUNK)
		return err_set(SUTRA_ETOOBIG, "the vector index is full (%u vectors)", slot);
	if ((rc = insert(h, slot, key, vec, slot)) < 0)
		return rc;
	h->added++;
	atomic_store_explicit(&h->count, h->added, memory_order_release);
	*slot_out = slot;
	return 0;
}

/* ---- bulk insertion on every core ----------------------------------------- */

struct bulk {
	struct hnsw *h;
	size_t n;
	hnsw_bulk_get get;
	void *ctx;
	_Atomic size_t next;    /* the next item to take */
	_Atomic uint32_t slots; /* slots reserved */
	_Atomic int rc;
};

static void *bulk_worker(void *arg)
{
	struct bulk *b = arg;
	float *vec = sutra_aligned_alloc(64, (size_t)b->h->cfg.dim * sizeof *vec);
	uint8_t key[16];

	if (!vec)
		atomic_store(&b->rc, err_set(SUTRA_ENOMEM, "out of memory for a bulk insert"));
	while (vec && atomic_load_explicit(&b->rc, memory_order_relaxed) == 0) {
		size_t i = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
		if (i >= b->n)
			break;
		if (!b->get(b->ctx, i, key, vec))
			continue;
		uint32_t slot = atomic_fetch_add_explicit(&b->slots, 1, memory_order_acq_rel);
		int rc = slot >= (uint64_t)MAX_CHUNKS * CHUNK
		             ? err_set(SUTRA_ETOOBIG, "the vector index is full (%u vectors)", slot)
		             : insert(b->h, slot, key, vec, atomic_load(&b->slots));
		if (rc < 0)
			atomic_store(&b->rc, rc);
	}
	sutra_free(vec);
	return NULL;
}

int hnsw_add_bulk(struct hnsw *h, size_t n, unsigned threads, hnsw_bulk_get get, void *ctx)
{
	struct bulk b = {.h = h, .n = n, .get = get, .ctx = ctx};
	pthread_t tid[HNSW_MAX_BULK_THREADS];
	unsigned started = 0;

	atomic_init(&b.slots, h->added);
	threads = threads < 1                       ? 1
	          : threads > HNSW_MAX_BULK_THREADS ? HNSW_MAX_BULK_THREADS
	                                            : threads;
	while (started + 1 < threads && pthread_create(&tid[started], NULL, bulk_worker, &b) == 0)
		started++;
	bulk_worker(&b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	h->added = atomic_load(&b.slots);
	atomic_store_explicit(&h->count, h->added, memory_order_release);
	return atomic_load(&b.rc);
}

void hnsw_delete(struct hnsw *h, uint32_t slot)
{
	if (slot < h->added &&
	    !atomic_load_explicit(&info(h, slot)->deleted, memory_order_relaxed)) {
		atomic_store_explicit(&info(h, slot)->deleted, 1, memory_order_release);
		atomic_fetch_add_explicit(&h->deleted, 1, memory_order_relaxed);
	}
}

uint32_t hnsw_deleted(const struct hnsw *h)
{
	return atomic_load_explicit(&((struct hnsw *)h)->deleted, memory_order_relaxed);
}

bool hnsw_holds(const struct hnsw *h, uint32_t slot, const float *vec)
{
	const float *v = hnsw_vector(h, slot);
	float norm = h->cfg.metric == HNSW_COSINE ? sqrtf(h->k->dot(vec, vec, h->cfg.dim)) : 0;

	for (uint32_t i = 0; i < h->cfg.dim; i++) {
		float x = norm > 0 ? vec[i] / norm : vec[i];
		if (memcmp(&x, &v[i], sizeof x) != 0)
			return false;
	}
	return true;
}

const uint8_t *hnsw_key(const struct hnsw *h, uint32_t slot)
{
	return info(h, slot)->key;
}

bool hnsw_is_deleted(const struct hnsw *h, uint32_t slot)
{
	return atomic_load_explicit(&info(h, slot)->deleted, memory_order_acquire) != 0;
}

uint32_t hnsw_count(const struct hnsw *h)
{
	return atomic_load_explicit(&((struct hnsw *)h)->count, memory_order_acquire);
}
