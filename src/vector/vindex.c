/* vindex.c - the store's vector index (design in vindex.h).
 *
 * The delta log holds ids at absolute positions: an array covering
 * [base, base + cap) whose `count` the writer publishes with release
 * order. When it is full the writer publishes a new array starting at the
 * indexer's `done` (the entries before it are no longer needed) and
 * retires the old one through the store's epoch bin.
 */
#include "vector/vindex.h"

#include <math.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"
#include "vector/filter.h"
#include "vector/hnsw.h"

#define EXACT_WINDOW 2048 /* beyond this many pending ids an exact scan is cheaper */

struct dlog {
	uint64_t base;
	uint32_t cap;
	_Atomic uint64_t count; /* absolute position of the next entry */
	uint8_t ids[][16];
};

/* id -> slot of its current vector in the graph (indexer thread only). */
struct slot_map {
	struct {
		uint8_t id[16];
		uint32_t slot; /* UINT32_MAX: empty */
	} * e;
	size_t mask, used;
};

struct vindex {
	struct store *store;
	struct vindex_config cfg;
	struct hnsw *graph;
	_Atomic(struct dlog *) log;
	_Atomic uint64_t done; /* log entries before this are in the graph */
	_Atomic int built;     /* the first full pass is over */
	struct slot_map map;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake, caught_up;
	_Atomic bool stop;
	_Atomic int idle; /* the indexer is (about to be) waiting for work */
	uint8_t *scratch; /* one vector, indexer thread */
};

static int memcmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* ---- id -> slot map --------------------------------------------------------- */

static size_t map_find(const struct slot_map *m, const uint8_t *id)
{
	size_t i = (ld64(id) * 0x9e3779b97f4a7c15ULL ^ ld64(id + 8)) & m->mask;

	while (m->e[i].slot != UINT32_MAX && memcmp(m->e[i].id, id, 16) != 0)
		i = (i + 1) & m->mask;
	return i;
}

static int map_grow(struct slot_map *m)
{
	struct slot_map n = {.mask = m->mask ? m->mask * 2 + 1 : 1023};

	if (!(n.e = sutra_malloc((n.mask + 1) * sizeof *n.e)))
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index map");
	memset(n.e, 0xff, (n.mask + 1) * sizeof *n.e);
	for (size_t i = 0; m->e && i <= m->mask; i++) {
		if (m->e[i].slot == UINT32_MAX)
			continue;
		n.e[map_find(&n, m->e[i].id)] = m->e[i];
		n.used++;
	}
	sutra_free(m->e);
	*m = n;
	return 0;
}

/* ---- the indexer -------------------------------------------------------------- */

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(c, m, &ts);
}

/* Brings the graph up to date for one id. */
static int index_id(struct vindex *v, const uint8_t *id)
{
	uint32_t slot, old = UINT32_MAX;
	bool has = false;
	int rc = 0;

	if ((v->map.used + 1) * 2 > v->map.mask && (rc = map_grow(&v->map)) < 0)
		return rc;
	size_t at = map_find(&v->map, id);
	old = v->map.e[at].slot;
	epoch_enter();
	struct node *n = store_find(v->store, id);
	if (n && n->vec && n->dim == v->cfg.dim) {
		memcpy(v->scratch, n->vec, (size_t)v->cfg.dim * 4);
		has = true;
	}
	epoch_exit();
	if (has && (rc = hnsw_add(v->graph, id, (const float *)v->scratch, &slot)) == 0) {
		memcpy(v->map.e[at].id, id, 16);
		v->map.used += old == UINT32_MAX;
		v->map.e[at].slot = slot;
	}
	if (old != UINT32_MAX && rc == 0) {
		hnsw_delete(v->graph, old);
		if (!has) /* gone: leave a deleted mark so probing still works */
			v->map.e[at].slot = UINT32_MAX - 1;
	}
	return rc;
}

/* The first pass: every vector already in the store. The ids are copied
 * out inside one short epoch, then indexed without holding it. */
static int index_all(struct vindex *v)
{
	uint8_t(*ids)[16] = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	epoch_enter();
	struct table *t = atomic_load_explicit(&v->store->tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *nd = table_node(t, i);
		if (!nd || !nd->vec)
			continue;
		if (n == cap) {
			void *p = sutra_realloc(ids, (cap = cap ? cap * 2 : 1024) * 16);
			if (!p)
				rc =
				    err_set(SUTRA_ENOMEM, "out of memory listing vectors to index");
			else
				ids = p;
		}
		if (rc == 0)
			memcpy(ids[n++], nd->id, 16);
	}
	epoch_exit();
	for (size_t i = 0; i < n && rc == 0 && !v->stop; i++)
		rc = index_id(v, ids[i]);
	sutra_free(ids);
	return rc;
}

/* The next log entry to index, copied out (inside an epoch: the writer
 * may replace and retire the array). False when there is none. */
static bool next_id(struct vindex *v, uint64_t done, uint8_t *id)
{
	epoch_enter();
	struct dlog *l = atomic_load(&v->log);
	bool have = l && atomic_load(&l->count) > done;
	if (have)
		memcpy(id, l->ids[done - l->base], 16);
	epoch_exit();
	return have;
}

static void *indexer_main(void *arg)
{
	struct vindex *v = arg;
	uint8_t id[16];

	index_all(v); /* out of memory: searches stay exact */
	atomic_store_explicit(&v->built, 1, memory_order_release);
	pthread_mutex_lock(&v->mu);
	while (!atomic_load(&v->stop)) {
		uint64_t done = atomic_load_explicit(&v->done, memory_order_relaxed);
		if (!next_id(v, done, id)) {
			pthread_cond_broadcast(&v->caught_up);
			/* Announce idleness, then look again (the writer stores the
			 * count, then reads idle: one of us sees the other). */
			atomic_store(&v->idle, 1);
			if (!next_id(v, done, id))
				timed_wait(&v->wake, &v->mu, 50);
			atomic_store(&v->idle, 0);
			continue;
		}
		pthread_mutex_unlock(&v->mu);
		index_id(v, id); /* out of memory leaves the id to the exact delta */
		pthread_mutex_lock(&v->mu);
		atomic_store_explicit(&v->done, done + 1, memory_order_release);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* ---- the writer side -------------------------------------------------------- */

/* Replaces the log by one that starts at the indexer's position and has
 * room for need more entries. */
static int log_compact(struct vindex *v, struct store *s, uint64_t need)
{
	struct dlog *old = atomic_load_explicit(&v->log, memory_order_relaxed);
	uint64_t done = atomic_load_explicit(&v->done, memory_order_acquire);
	uint64_t count = old ? atomic_load_explicit(&old->count, memory_order_relaxed) : 0;
	uint64_t keep = count - (done > (old ? old->base : 0) ? done : (old ? old->base : 0));
	uint64_t want = (keep + need) * 2;
	if (want > UINT32_MAX)
		return err_set(SUTRA_ETOOBIG, "vector index log of %" PRIu64 " entries", want);
	uint32_t cap = want < 1024 ? 1024 : (uint32_t)want;
	struct dlog *l = sutra_malloc(sizeof *l + (size_t)cap * 16);

	if (!l)
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index log");
	l->base = count - keep;
	l->cap = cap;
	if (keep)
		memcpy(l->ids, old->ids[l->base - old->base], keep * 16);
	atomic_init(&l->count, count);
	atomic_store_explicit(&v->log, l, memory_order_release);
	epoch_retire(&s->bin, old);
	return 0;
}

int vindex_reserve(struct vindex *v, uint64_t n)
{
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_relaxed);
	uint64_t used = l ? atomic_load_explicit(&l->count, memory_order_relaxed) - l->base : 0;

	if (l && l->cap - used >= n)
		return 0;
	return log_compact(v, v->store, n);
}

void vindex_note(struct vindex *v, const uint8_t id[16])
{
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_relaxed);
	uint64_t count = atomic_load_explicit(&l->count, memory_order_relaxed);

	memcpy(l->ids[count - l->base], id, 16);
	atomic_store(&l->count, count + 1);
	if (atomic_load(&v->idle)) {
		pthread_mutex_lock(&v->mu);
		pthread_cond_signal(&v->wake);
		pthread_mutex_unlock(&v->mu);
	}
}

/* ---- searching ------------------------------------------------------------- */

/* The ids a search must score from the store: the log from `done` on,
 * deduplicated and sorted (so graph results can be checked by bsearch). */
static int window_ids(struct vindex *v, uint8_t (**ids)[16], size_t *n)
{
	uint64_t done = atomic_load_explicit(&v->done, memory_order_acquire);
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_acquire);
	uint64_t count = l ? atomic_load_explicit(&l->count, memory_order_acquire) : 0;
	uint64_t from = l && done < l->base ? l->base : done;

	*ids = NULL;
	*n = 0;
	if (!l || from >= count)
		return 0;
	if (count - from > EXACT_WINDOW)
		return 1; /* too many: the caller scans exactly */
	if (!(*ids = sutra_malloc((count - from) * 16)))
		return err_set(SUTRA_ENOMEM, "out of memory for a vector search");
	memcpy(*ids, l->ids[from - l->base], (count - from) * 16);
	qsort(*ids, count - from, 16, memcmp16);
	size_t k = 0;
	for (uint64_t i = 0; i < count - from; i++)
		if (k == 0 || memcmp((*ids)[k - 1], (*ids)[i], 16) != 0)
			memcpy((*ids)[k++], (*ids)[i], 16);
	*n = k;
	return 0;
}

static float cosine(const float *a, const float *b, uint32_t d)
{
	double ab = 0, aa = 0, bb = 0;

	for (uint32_t i = 0; i < d; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}

static int by_similarity(const void *a, const void *b)
{
	float x = ((const sutra_hit *)a)->similarity, y = ((const sutra_hit *)b)->similarity;

	return x < y ? 1 : x > y ? -1 : memcmp(a, b, 16);
}

struct graph_filter {
	struct vindex *v;
	const struct vfilter *f;
};

static bool graph_accepts(void *ctx, uint32_t slot)
{
	struct graph_filter *g = ctx;

	return vfilter_accepts_id(g->f, g->v->store, hnsw_key(g->v->graph, slot));
}

/* Graph results whose id is not in the window, then the window scored
 * exactly; all into all[], which has room for want + nw. */
static int merge(struct vindex *v, const float *q, uint32_t want, uint32_t ef,
                 const struct vfilter *f, uint8_t (*win)[16], size_t nw, sutra_hit *all, size_t *na)
{
	struct hnsw_hit *hits = sutra_malloc((size_t)want * sizeof *hits);
	struct graph_filter gf = {v, f};
	size_t nh = 0;
	int rc;

	if (!hits)
		return err_set(SUTRA_ENOMEM, "out of memory for a vector search");
	rc = hnsw_search(v->graph, q, want, ef > want ? ef : want, f ? graph_accepts : NULL, &gf,
	                 hits, &nh);
	*na = 0;
	for (size_t i = 0; i < nh && rc == 0; i++) {
		const uint8_t *id = hnsw_key(v->graph, hits[i].slot);
		if (nw && bsearch(id, win, nw, 16, memcmp16))
			continue;
		memcpy(all[*na].id.b, id, 16);
		all[(*na)++].similarity = 1.0f - hits[i].distance;
	}
	for (size_t i = 0; i < nw && rc == 0; i++) {
		struct node *nd = store_find(v->store, win[i]);
		if (!nd || !nd->vec || nd->dim != v->cfg.dim || (f && !vfilter_accepts(f, nd)))
			continue;
		memcpy(all[*na].id.b, win[i], 16);
		all[(*na)++].similarity = cosine(q, nd->vec, v->cfg.dim);
	}
	sutra_free(hits);
	return rc;
}

int vindex_search(struct vindex *v, const float *q, uint32_t k, uint32_t ef,
                  const struct vfilter *f, sutra_hit *out, size_t *n)
{
	uint8_t(*win)[16] = NULL;
	size_t nw = 0, na = 0;
	int rc;

	*n = 0;
	if (!atomic_load_explicit(&v->built, memory_order_acquire) ||
	    (rc = window_ids(v, &win, &nw)) == 1)
		return vector_exact_search(v->store, q, v->cfg.dim, k, f, out, n);
	if (rc < 0)
		return rc;
	uint32_t want = k + (uint32_t)nw;
	sutra_hit *all = sutra_malloc(((size_t)want + nw) * sizeof *all);
	if (!all) {
		sutra_free(win);
		return err_set(SUTRA_ENOMEM, "out of memory for a vector search");
	}
	rc = merge(v, q, want, ef, f, win, nw, all, &na);
	if (rc == 0) {
		qsort(all, na, sizeof *all, by_similarity);
		*n = na < k ? na : k;
		memcpy(out, all, *n * sizeof *out);
	}
	sutra_free(all);
	sutra_free(win);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------- */

int vindex_open(struct store *s, const struct vindex_config *cfg, struct vindex **out)
{
	struct hnsw_config hc = {.dim = cfg->dim,
	                         .M = cfg->M,
	                         .ef_construction = cfg->ef_construction,
	                         .metric = HNSW_COSINE,
	                         .seed = 0x51f7a};
	struct vindex *v = sutra_calloc(1, sizeof *v);
	int rc;

	if (!v || !(v->scratch = sutra_malloc((size_t)cfg->dim * 4))) {
		sutra_free(v);
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index");
	}
	v->store = s;
	v->cfg = *cfg;
	if ((rc = hnsw_new(&hc, &v->graph)) < 0 || (rc = map_grow(&v->map)) < 0) {
		vindex_close(v);
		return rc;
	}
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->wake, NULL);
	pthread_cond_init(&v->caught_up, NULL);
	if (pthread_create(&v->thread, NULL, indexer_main, v) != 0) {
		v->thread = 0;
		vindex_close(v);
		return err_set(SUTRA_ENOMEM, "cannot start the vector indexer thread");
	}
	*out = v;
	return 0;
}

void vindex_close(struct vindex *v)
{
	if (!v)
		return;
	if (v->thread) {
		pthread_mutex_lock(&v->mu);
		atomic_store(&v->stop, true);
		pthread_cond_broadcast(&v->wake);
		pthread_mutex_unlock(&v->mu);
		pthread_join(v->thread, NULL);
		pthread_mutex_destroy(&v->mu);
		pthread_cond_destroy(&v->wake);
		pthread_cond_destroy(&v->caught_up);
	}
	hnsw_free(v->graph);
	sutra_free(atomic_load(&v->log));
	sutra_free(v->map.e);
	sutra_free(v->scratch);
	sutra_free(v);
}

void vindex_figures(struct vindex *v, uint64_t *indexed, uint64_t *lag)
{
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_acquire);
	uint64_t done = atomic_load_explicit(&v->done, memory_order_acquire);
	uint64_t count = l ? atomic_load_explicit(&l->count, memory_order_acquire) : 0;

	*indexed = hnsw_count(v->graph);
	*lag = count > done ? count - done : 0;
}

void vindex_wait(struct vindex *v)
{
	pthread_mutex_lock(&v->mu);
	for (;;) {
		struct dlog *l = atomic_load(&v->log);
		uint64_t count = l ? atomic_load(&l->count) : 0;
		if (atomic_load(&v->built) && atomic_load(&v->done) >= count)
			break;
		pthread_cond_signal(&v->wake);
		timed_wait(&v->caught_up, &v->mu, 10);
	}
	pthread_mutex_unlock(&v->mu);
}
