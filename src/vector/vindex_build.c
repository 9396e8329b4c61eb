/* vindex_build.c - the indexer thread: it verifies a graph opened from its
 * file (or builds one from the store, with progress on stderr), then
 * follows the delta log, and saves the graph when a checkpoint asks.
 *
 * Saving happens on this thread, between two ids, so the graph holds
 * still without stopping searches or writers. The file names the
 * checkpoint it belongs to (covered_lsn: every vector change below it is
 * in the graph, because the save waits until the log up to the
 * checkpoint's mark is indexed) and graph_lsn, read before the WAL is
 * synced: nothing the graph reflects lies at or above it. An open accepts
 * the file only for the manifest's checkpoint and only if recovery reached
 * graph_lsn; the WAL replay then re-notes every concept it touched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/vindex_impl.h"

void vindex_path(const char *dir, uint64_t lsn, char *out, size_t n)
{
	snprintf(out, n, "%s/vindex-%016" PRIx64 ".hnsw", dir, lsn);
}

void vindex_timed_wait(pthread_cond_t *c, pthread_mutex_t *m, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(c, m, &ts);
}

/* ---- id -> slot map --------------------------------------------------------- */

static size_t map_find(const struct slot_map *m, const uint8_t *id)
{
	size_t i = (ld64(id) * 0x9e3779b97f4a7c15ULL ^ ld64(id + 8)) & m->mask;

	while (m->e[i].slot != UINT32_MAX && memcmp(m->e[i].id, id, 16) != 0)
		i = (i + 1) & m->mask;
	return i;
}

int vindex_map_grow(struct slot_map *m)
{
	struct slot_map n = {.mask = m->mask ? m->mask * 2 + 1 : 1023};

	if (!(n.e = sutra_malloc((n.mask + 1) * sizeof *n.e)))
		return err_set(SUTRA_ENOMEM, "out of memory for the vector index map");
	memset(n.e, 0xff, (n.mask + 1) * sizeof *n.e);
	for (size_t i = 0; m->e && i <= m->mask; i++) {
		if (m->e[i].slot >= UINT32_MAX - 1)
			continue;
		n.e[map_find(&n, m->e[i].id)] = m->e[i];
		n.used++;
	}
	sutra_free(m->e);
	*m = n;
	return 0;
}

/* Records id -> slot (growing the map first if needed). */
static int map_put(struct slot_map *m, const uint8_t *id, uint32_t slot)
{
	int rc;

	if ((m->used + 1) * 2 > m->mask && (rc = vindex_map_grow(m)) < 0)
		return rc;
	size_t at = map_find(m, id);
	memcpy(m->e[at].id, id, 16);
	m->used += m->e[at].slot == UINT32_MAX;
	m->e[at].slot = slot;
	return 0;
}

/* ---- indexing one id ---------------------------------------------------------- */

/* Brings the graph up to date for one id: adds its current vector (unless
 * the graph already holds exactly that) and tombstones the old slot. */
static int index_id(struct vindex *v, const uint8_t *id)
{
	struct hnsw *g = vindex_graph(v);
	uint32_t slot = 0, old;
	bool has = false;
	int rc = 0;

	if ((v->map.used + 1) * 2 > v->map.mask && (rc = vindex_map_grow(&v->map)) < 0)
		return rc;
	size_t at = map_find(&v->map, id);
	old = v->map.e[at].slot < UINT32_MAX - 1 ? v->map.e[at].slot : UINT32_MAX;
	epoch_enter();
	struct node *n = store_find(v->store, id);
	if (n && n->vec && n->dim == v->cfg.dim) {
		memcpy(v->scratch, n->vec, (size_t)v->cfg.dim * 4);
		has = true;
	}
	epoch_exit();
	if (has && old != UINT32_MAX && hnsw_holds(g, old, (const float *)v->scratch))
		return 0;
	if (has && (rc = hnsw_add(g, id, (const float *)v->scratch, &slot)) < 0)
		return rc;
	if (has)
		rc = map_put(&v->map, id, slot);
	if (old != UINT32_MAX) {
		hnsw_delete(g, old);
		if (!has) /* gone: leave a removed mark so probing still works */
			v->map.e[at].slot = UINT32_MAX - 1;
	}
	return rc;
}

/* ---- the first build -------------------------------------------------------------- */

struct progress {
	const char *what;
	uint64_t start_ns, last_ns;
	size_t total;
	bool shown;
};

/* One line on stderr per second once a build has run for a second. */
static void progress_tick(struct progress *p, size_t done)
{
	uint64_t now = clock_mono_ns();

	if (now - p->start_ns < 1000000000ull || now - p->last_ns < 1000000000ull)
		return;
	double secs = (double)(now - p->start_ns) / 1e9, rate = (double)done / secs;
	fprintf(stderr, "sutra: %s: %zu/%zu vectors (%.0f%%), %.0f/s, about %.0f s left\n", p->what,
	        done, p->total, 100.0 * (double)done / (double)p->total, rate,
	        rate > 0 ? (double)(p->total - done) / rate : 0.0);
	p->last_ns = now;
	p->shown = true;
}

/* The ids of every concept with a vector, copied out inside one epoch. */
static int list_vectors(struct vindex *v, uint8_t (**out)[16], size_t *n)
{
	uint8_t(*ids)[16] = NULL;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	epoch_enter();
	struct table *t = atomic_load_explicit(&v->store->tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *nd = table_node(t, i);
		if (!nd || !nd->vec || !vindex_owns(v, nd->id))
			continue;
		if (*n == cap) {
			void *p = sutra_realloc(ids, (cap = cap ? cap * 2 : 1024) * 16);
			if (!p) {
				rc =
				    err_set(SUTRA_ENOMEM, "out of memory listing vectors to index");
				break;
			}
			ids = p;
		}
		memcpy(ids[(*n)++], nd->id, 16);
	}
	epoch_exit();
	*out = ids;
	return rc;
}

struct bulk_src {
	struct vindex *v;
	uint8_t (*ids)[16];
	size_t n;
	_Atomic size_t taken;
	_Atomic int ticking;
	struct progress p;
};

/* hnsw_add_bulk's source: the concept's current vector (skipped when it
 * has none any more; the log brings such changes in afterwards). */
static bool bulk_get(void *ctx, size_t i, uint8_t key[16], float *vec)
{
	struct bulk_src *b = ctx;
	bool has = false;

	epoch_enter();
	struct node *n = store_find(b->v->store, b->ids[i]);
	if (n && n->vec && n->dim == b->v->cfg.dim) {
		memcpy(vec, n->vec, (size_t)b->v->cfg.dim * 4);
		memcpy(key, b->ids[i], 16);
		has = true;
	}
	epoch_exit();
	size_t done = atomic_fetch_add_explicit(&b->taken, 1, memory_order_relaxed);
	if ((done & 1023) == 0 && !atomic_exchange_explicit(&b->ticking, 1, memory_order_acquire)) {
		progress_tick(&b->p, done); /* one thread at a time */
		atomic_store_explicit(&b->ticking, 0, memory_order_release);
	}
	return has;
}

/* The map from g's live keys (after a bulk build or a load). */
static int map_from_graph(struct hnsw *g, struct slot_map *m)
{
	int rc = 0;

	for (uint32_t s = 0, n = hnsw_count(g); s < n && rc == 0; s++)
		if (!hnsw_is_deleted(g, s))
			rc = map_put(m, hnsw_key(g, s), s);
	return rc;
}

static unsigned cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

/* Indexes the current vectors of ids into g on every core and maps them
 * in m; what adds the work to stderr when it takes long. */
static int build_into(struct vindex *v, struct hnsw *g, uint8_t (*ids)[16], size_t n,
                      struct slot_map *m, const char *what)
{
	struct bulk_src b = {.v = v, .ids = ids, .n = n};
	int rc = 0;

	b.p = (struct progress){.start_ns = clock_mono_ns(), .total = n, .what = what};
	if (n)
		rc = hnsw_add_bulk(g, n, cores(), bulk_get, &b);
	if (rc == 0)
		rc = map_from_graph(g, m);
	if (b.p.shown)
		fprintf(stderr, "sutra: %s: %zu vectors in %.1f s on %u threads\n", what, n,
		        (double)(clock_mono_ns() - b.p.start_ns) / 1e9, cores());
	return rc;
}

/* Indexes every vector in the store into the empty graph. */
static int index_all(struct vindex *v)
{
	uint8_t(*ids)[16] = NULL;
	size_t n;
	int rc = list_vectors(v, &ids, &n);

	if (rc == 0)
		rc = build_into(v, vindex_graph(v), ids, n, &v->map, "building the vector index");
	sutra_free(ids);
	return rc;
}

/* Checks a graph opened from its file and fills the map from it. */
static int adopt_loaded(struct vindex *v)
{
	char path[4096];
	int rc;

	vindex_path(v->dir, v->loaded_lsn, path, sizeof path);
	if ((rc = hnsw_verify(vindex_graph(v), path)) < 0)
		return rc;
	return map_from_graph(vindex_graph(v), &v->map);
}

static int graph_new(struct vindex *v, struct hnsw **out)
{
	struct hnsw_config hc = {.dim = v->cfg.dim,
	                         .M = v->cfg.M,
	                         .ef_construction = v->cfg.ef_construction,
	                         .metric = v->cfg.metric,
	                         .seed = VINDEX_SEED};

	return hnsw_new(&hc, out);
}

/* Publishes g as the graph with its map; frees the old one once no search
 * can still be walking it. */
static void graph_swap(struct vindex *v, struct hnsw *g, struct slot_map *map)
{
	struct hnsw *old = vindex_graph(v);

	atomic_store_explicit(&v->graph, g, memory_order_release);
	epoch_synchronize();
	hnsw_free(old);
	sutra_free(v->map.e);
	v->map = *map;
}

/* ---- tombstone clean-up --------------------------------------------------------- */

/* The live keys of g (the concepts it holds a current vector for). */
static int live_keys(struct hnsw *g, uint8_t (**out)[16], size_t *n)
{
	uint32_t count = hnsw_count(g);
	uint8_t(*ids)[16] = sutra_malloc(((size_t)count + 1) * 16);

	*n = 0;
	if (!ids)
		return err_set(SUTRA_ENOMEM, "out of memory compacting the vector index");
	for (uint32_t s = 0; s < count; s++)
		if (!hnsw_is_deleted(g, s))
			memcpy(ids[(*n)++], hnsw_key(g, s), 16);
	*out = ids;
	return 0;
}

/* Tombstones (replaced or deleted vectors) only slow searches down: once
 * they are a quarter of the slots, the live vectors are indexed afresh
 * into a new graph, which replaces the old one. Searches keep using the
 * old graph meanwhile; the log waits, and its ids are searched exactly. */
static void compact_if_due(struct vindex *v)
{
	struct hnsw *g = vindex_graph(v), *fresh;
	uint32_t dead = hnsw_deleted(g), count = hnsw_count(g);
	struct slot_map map = {0};
	uint8_t(*ids)[16] = NULL;
	size_t n = 0;

	if (dead < COMPACT_MIN_TOMBSTONES || (uint64_t)dead * 4 < count)
		return;
	if (live_keys(g, &ids, &n) < 0 || graph_new(v, &fresh) < 0) {
		sutra_free(ids);
		return; /* out of memory: try again later */
	}
	if (vindex_map_grow(&map) == 0 &&
	    build_into(v, fresh, ids, n, &map, "compacting the vector index") == 0) {
		graph_swap(v, fresh, &map);
		atomic_fetch_add(&v->compactions, 1);
	} else {
		hnsw_free(fresh);
		sutra_free(map.e);
	}
	sutra_free(ids);
}

/* Replaces the graph by an empty one: a loaded graph that failed its
 * verification, or a build that ran out of memory half way. */
static int reset_graph(struct vindex *v)
{
	struct slot_map map = {0};
	struct hnsw *fresh;
	int rc;

	if (++v->failures > VINDEX_MAX_FAILURES)
		return err_set(SUTRA_ENOMEM, "the vector index failed to build %d times",
		               VINDEX_MAX_FAILURES);
	if ((rc = graph_new(v, &fresh)) < 0)
		return rc;
	if ((rc = vindex_map_grow(&map)) < 0) {
		hnsw_free(fresh);
		return rc;
	}
	graph_swap(v, fresh, &map);
	v->loaded = false;
	return 0;
}

/* The graph searches will use: the loaded one if it verifies, else one
 * built from the store. */
static int start_graph(struct vindex *v)
{
	int rc;

	if (v->loaded && adopt_loaded(v) == 0) {
		atomic_store(&v->adopted, 1);
		return 0;
	}
	if (v->loaded) {
		fprintf(stderr, "sutra: %s; rebuilding the vector index from the store\n",
		        sutra_last_error());
		if ((rc = reset_graph(v)) < 0)
			return rc;
	}
	if ((rc = index_all(v)) < 0 && reset_graph(v) < 0)
		v->broken = true; /* give up: searches stay exact */
	return rc;
}

/* ---- saving -------------------------------------------------------------------- */

static int save_graph(struct vindex *v, uint64_t lsn)
{
	char path[4096];
	struct hnsw_file_meta m = {.covered_lsn = lsn};
	int rc;

	m.graph_lsn = v->cfg.log_next(v->cfg.arg);
	if ((rc = v->cfg.sync_log(v->cfg.arg)) < 0)
		return rc;
	vindex_path(v->dir, lsn, path, sizeof path);
	return hnsw_save(vindex_graph(v), v->dir, path, &m);
}

/* mu held: runs a due save request (without mu while writing). */
static void serve_save(struct vindex *v)
{
	uint64_t lsn = v->save.lsn;

	v->save.pending = false;
	pthread_mutex_unlock(&v->mu);
	int rc = save_graph(v, lsn);
	pthread_mutex_lock(&v->mu);
	v->save.rc = rc;
	v->save.done = true;
	if (rc < 0)
		snprintf(v->save.msg, sizeof v->save.msg, "%s", sutra_last_error());
	pthread_cond_broadcast(&v->saved);
}

/* ---- the thread -------------------------------------------------------------------- */

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

void *vindex_indexer_main(void *arg)
{
	struct vindex *v = arg;
	uint8_t id[16];

	bool ready = false;

	/* Until the graph is whole, searches are exact; out of memory, retry. */
	pthread_mutex_lock(&v->mu);
	while (!atomic_load(&v->stop) && !ready && !v->broken) {
		pthread_mutex_unlock(&v->mu);
		ready = start_graph(v) == 0;
		pthread_mutex_lock(&v->mu);
		if (!ready && !v->broken)
			vindex_timed_wait(&v->wake, &v->mu, 1000);
	}
	atomic_store_explicit(&v->built, ready, memory_order_release);
	while (!atomic_load(&v->stop)) {
		uint64_t done = atomic_load_explicit(&v->done, memory_order_relaxed);
		if (!ready) { /* no graph: searches are exact; keep the log short */
			atomic_store(&v->done, vindex_mark(v));
			vindex_timed_wait(&v->wake, &v->mu, 50);
			continue;
		}
		if (v->save.pending && done >= v->save.mark) {
			serve_save(v);
			continue;
		}
		if (!next_id(v, done, id)) {
			pthread_cond_broadcast(&v->caught_up);
			pthread_mutex_unlock(&v->mu);
			compact_if_due(v); /* caught up: a good moment */
			pthread_mutex_lock(&v->mu);
			/* Announce idleness, then look again (the writer stores the
			 * count, then reads idle: one of us sees the other). */
			atomic_store(&v->idle, 1);
			if (!next_id(v, done, id) && !v->save.pending)
				vindex_timed_wait(&v->wake, &v->mu, 50);
			atomic_store(&v->idle, 0);
			continue;
		}
		pthread_mutex_unlock(&v->mu);
		int rc = index_id(v, id);
		pthread_mutex_lock(&v->mu);
		if (rc == 0)
			atomic_store_explicit(&v->done, done + 1, memory_order_release);
		else /* out of memory: the id stays in the exact window; retry */
			vindex_timed_wait(&v->wake, &v->mu, 100);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}
