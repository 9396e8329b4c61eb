/* vindex.c - the store's vector index (design in vindex.h): the writer's
 * side of the delta log, searching, opening and closing. The indexer
 * thread is in vindex_build.c.
 *
 * The delta log holds ids at absolute positions: an array covering
 * [base, base + cap) whose `count` the writer publishes with release
 * order. When it is full the writer publishes a new array starting at the
 * indexer's `done` (the entries before it are no longer needed) and
 * retires the old one through the store's epoch bin.
 */
#include "vector/vindex.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/filter.h"
#include "vector/vindex_impl.h"

static int memcmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
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

/* Adds the concept's exact similarity to all[] if it has a vector (of
 * the store's dimension) that the filter (NULL: none) accepts. */
static void score_hit(struct vindex *v, const float *q, float qn, const struct node *nd,
                      const struct vfilter *f, sutra_hit *all, size_t *na)
{
	if (!nd || !nd->vec || nd->dim != v->cfg.dim || (f && !vfilter_accepts(f, nd)))
		return;
	memcpy(all[*na].id.b, nd->id, 16);
	all[(*na)++].similarity = vector_score(v->cfg.metric, q, qn, nd->vec, v->cfg.dim);
}

int vector_hit_order(const void *a, const void *b)
{
	float x = ((const sutra_hit *)a)->similarity, y = ((const sutra_hit *)b)->similarity;

	return x < y ? 1 : x > y ? -1 : memcmp(a, b, 16);
}

struct graph_filter {
	struct vindex *v;
	struct hnsw *g;
	const struct vfilter *f;
};

static bool graph_accepts(void *ctx, uint32_t slot)
{
	struct graph_filter *gf = ctx;

	return vfilter_accepts_id(gf->f, gf->v->store, hnsw_key(gf->g, slot));
}

/* Graph results whose id is not in the window, then the window scored
 * exactly; all into all[], which has room for want + nw. */
static int merge(struct vindex *v, const float *q, uint32_t want, uint32_t ef,
                 const struct vfilter *f, uint8_t (*win)[16], size_t nw, sutra_hit *all, size_t *na)
{
	struct hnsw_hit *hits = sutra_malloc((size_t)want * sizeof *hits);
	struct hnsw *g = vindex_graph(v); /* once: a compaction may replace it */
	struct graph_filter gf = {v, g, f};
	float qn = vector_query_norm(q, v->cfg.dim);
	size_t nh = 0;
	int rc;

	if (!hits)
		return err_set(SUTRA_ENOMEM, "out of memory for a vector search");
	rc = hnsw_search(g, q, want, ef > want ? ef : want, f ? graph_accepts : NULL, &gf, hits,
	                 &nh);
	*na = 0;
	/* Every hit is scored from the store's vector, like the window and the
	 * exact scan: a concept gets the same similarity whichever path found
	 * it, and one deleted since the graph saw it is dropped. */
	for (size_t i = 0; i < nh && rc == 0; i++) {
		const uint8_t *id = hnsw_key(g, hits[i].slot);
		if (!(nw && bsearch(id, win, nw, 16, memcmp16)))
			score_hit(v, q, qn, store_find(v->store, id), NULL, all, na);
	}
	for (size_t i = 0; i < nw && rc == 0; i++)
		score_hit(v, q, qn, store_find(v->store, win[i]), f, all, na);
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
		return vector_exact_search(v->store, v->cfg.metric, q, v->cfg.dim, k, f, out, n);
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
		qsort(all, na, sizeof *all, vector_hit_order);
		*n = na < k ? na : k;
		memcpy(out, all, *n * sizeof *out);
	}
	sutra_free(all);
	sutra_free(win);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------- */

static int start_thread(struct vindex *v)
{
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->wake, NULL);
	pthread_cond_init(&v->caught_up, NULL);
	pthread_cond_init(&v->saved, NULL);
	if (pthread_create(&v->thread, NULL, vindex_indexer_main, v) != 0) {
		v->thread = 0;
		return err_set(SUTRA_ENOMEM, "cannot start the vector indexer thread");
	}
	return 0;
}

/* The graph saved with the checkpoint recovery started from, if it is
 * there and belongs to it; *g stays NULL otherwise (the indexer builds). */
static void open_saved(struct vindex *v, const struct hnsw_config *hc, struct hnsw **g)
{
	const struct vindex_config *c = &v->cfg;
	struct hnsw_file_meta m;
	char path[4096];

	*g = NULL;
	if (!c->checkpoint_lsn)
		return;
	vindex_path(v->dir, c->checkpoint_lsn, path, sizeof path);
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return;
	if (hnsw_open_file(path, hc, g, &m) < 0) {
		fprintf(stderr, "sutra: %s; rebuilding the vector index from the store\n",
		        sutra_last_error());
		return;
	}
	if (m.covered_lsn != c->checkpoint_lsn || m.graph_lsn > c->next_lsn) {
		fprintf(stderr,
		        "sutra: vector index %s reflects log records up to %" PRIu64
		        " but recovery ended at %" PRIu64 "; rebuilding it from the store\n",
		        path, m.graph_lsn, c->next_lsn);
		hnsw_free(*g);
		*g = NULL;
		return;
	}
	v->loaded = true;
	v->loaded_lsn = c->checkpoint_lsn;
}

/* Notes every concept the WAL replay touched: the loaded graph predates
 * them. */
static int note_replayed(struct vindex *v)
{
	const struct idset *r = v->cfg.replayed;
	int rc;

	if (!v->loaded || !r || r->n == 0)
		return 0;
	if ((rc = vindex_reserve(v, r->n)) < 0)
		return rc;
	for (size_t i = 0; i < r->n; i++)
		if (vindex_owns(v, r->ids[i]))
			vindex_note(v, r->ids[i]);
	return 0;
}

int vindex_open(struct store *s, const struct vindex_config *cfg, struct vindex **out)
{
	struct hnsw_config hc = {.dim = cfg->dim,
	                         .M = cfg->M,
	                         .ef_construction = cfg->ef_construction,
	                         .metric = cfg->metric,
	                         .seed = VINDEX_SEED};
	struct vindex *v = sutra_calloc(1, sizeof *v);
	struct hnsw *g = NULL;
	int rc;

	if (!v || !(v->scratch = sutra_malloc((size_t)cfg->dim * 4)) ||
	    !(v->dir = sutra_memdup0(cfg->dir, strlen(cfg->dir)))) {
		if (v)
			sutra_free(v->scratch);
		sutra_free(v);
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index");
	}
	v->store = s;
	v->cfg = *cfg;
	uint64_t t0 = clock_mono_ns();
	open_saved(v, &hc, &g);
	v->open_us = (clock_mono_ns() - t0) / 1000;
	if (!g && (rc = hnsw_new(&hc, &g)) < 0)
		goto fail;
	atomic_init(&v->graph, g);
	if ((rc = vindex_map_grow(&v->map)) < 0 || (rc = note_replayed(v)) < 0 ||
	    (rc = start_thread(v)) < 0)
		goto fail;
	v->cfg.replayed = NULL; /* borrowed for the open only */
	*out = v;
	return 0;
fail:
	vindex_close(v);
	return rc;
}

void vindex_close(struct vindex *v)
{
	if (!v)
		return;
	if (v->thread) {
		pthread_mutex_lock(&v->mu);
		atomic_store(&v->stop, true);
		pthread_cond_broadcast(&v->wake);
		pthread_cond_broadcast(&v->saved);
		pthread_mutex_unlock(&v->mu);
		pthread_join(v->thread, NULL);
		pthread_mutex_destroy(&v->mu);
		pthread_cond_destroy(&v->wake);
		pthread_cond_destroy(&v->caught_up);
		pthread_cond_destroy(&v->saved);
	}
	hnsw_free(vindex_graph(v));
	sutra_free(atomic_load(&v->log));
	sutra_free(v->map.e);
	sutra_free(v->scratch);
	sutra_free(v->dir);
	sutra_free(v);
}

/* ---- saving with a checkpoint ------------------------------------------------ */

uint64_t vindex_mark(struct vindex *v)
{
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_relaxed);

	return l ? atomic_load_explicit(&l->count, memory_order_relaxed) : 0;
}

int vindex_save(struct vindex *v, uint64_t lsn, uint64_t mark)
{
	int rc;

	pthread_mutex_lock(&v->mu);
	if (!atomic_load(&v->built)) {
		pthread_mutex_unlock(&v->mu);
		return err_set(SUTRA_EBUSY, "the vector index is still being built; not saved");
	}
	v->save = (struct save_request){.lsn = lsn, .mark = mark, .pending = true};
	pthread_cond_signal(&v->wake);
	while (!v->save.done && !atomic_load(&v->stop))
		pthread_cond_wait(&v->saved, &v->mu);
	if (!v->save.done)
		rc = err_set(SUTRA_ECLOSED, "the vector index is closing");
	else if ((rc = v->save.rc) < 0) /* the message is the indexer thread's */
		err_set(rc, "%s", v->save.msg);
	pthread_mutex_unlock(&v->mu);
	return rc;
}

/* ---- figures -------------------------------------------------------------------- */

void vindex_figures(struct vindex *v, sutra_stats *s)
{
	struct dlog *l = atomic_load_explicit(&v->log, memory_order_acquire);
	uint64_t done = atomic_load_explicit(&v->done, memory_order_acquire);
	uint64_t count = l ? atomic_load_explicit(&l->count, memory_order_acquire) : 0;

	epoch_enter(); /* a compaction may free the graph */
	struct hnsw *g = vindex_graph(v);
	s->vectors_indexed = hnsw_count(g);
	s->index_deleted = hnsw_deleted(g);
	epoch_exit();
	s->index_lag = count > done ? count - done : 0;
	s->index_ready = (uint64_t)atomic_load_explicit(&v->built, memory_order_acquire);
	s->index_loaded = atomic_load_explicit(&v->adopted, memory_order_acquire);
	s->index_open_us = v->open_us;
	s->index_compactions = atomic_load(&v->compactions);
}

bool vindex_built(struct vindex *v)
{
	return atomic_load_explicit(&v->built, memory_order_acquire) != 0;
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
		vindex_timed_wait(&v->caught_up, &v->mu, 10);
	}
	pthread_mutex_unlock(&v->mu);
}
