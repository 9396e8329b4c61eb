/* shards_read.c - reads of a sharded store against the single log, on the same data.
 *
 * The same concepts and associations (shards_data.c) are loaded into fresh
 * stores of 0 (single log), 1 and 4 shards (durability always, vector
 * index on, batches of SB_BATCH: concepts first, then associations), one
 * after the other; each store's vector index is waited for (index_ready
 * and index_lag == 0) before the next is loaded, so no indexer competes
 * with a measurement. All three stay open, and the timed passes alternate
 * between them (s0 s1 s4 s0 s1 s4 ...), so drift hits them alike:
 *  - vector search: every query once per pass, k = SB_K, ef = SB_EF; QPS
 *    is the median over passes of queries / pass time; each call is also
 *    timed alone for p50/p99; recall@10 against the exact cosine top-10
 *    on the first SR_RECALL_Q queries (the index is rebuilt per store, so
 *    its recall can differ a little between stores for that reason alone);
 *  - FindPath: sutra_find_path(a, b, SB_MAX_DEPTH) over the same pairs,
 *    every call timed alone; each answer's length is checked against the
 *    BFS answer key (a mismatch is counted and the first few printed).
 * The store keeps one in-memory graph and one vector index whatever the
 * shard count (shards split the log), so these ratios should sit near 1:
 * the section guards against the sharded layout slowing reads down.
 */
#include "shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_NSTORES   4
#define SR_RECALL_Q  500
#define SR_INDEX_MAX 600.0 /* seconds to wait for a vector index */

static const uint32_t sr_shards[SR_NSTORES] = {0, 1, 4, 4 | SU_ONE_INDEX};

typedef struct sr_store {
	uint32_t shards;
	sutra_db *db;
	char *dir;
	double load_s, index_s;
	uint64_t associations;
	/* vector search */
	double *qps; /* per pass */
	uint64_t *qlat;
	size_t nqlat;
	double recall;
	/* FindPath */
	uint64_t *plat;
	size_t nplat, mismatches;
} sr_store;

/* ---- loading ------------------------------------------------------------------------------ */

/* Commits b when it is full, or when it holds the last record. */
static int flush(sutra_db *db, sutra_batch *b, int last)
{
	int rc;

	if (sutra_batch_count(b) < SB_BATCH && !last)
		return 0;
	rc = sutra_batch_commit(db, b, NULL);
	sutra_batch_clear(b);
	return rc < 0 ? bu_err("sutra_batch_commit: %s", sutra_last_error()) : 0;
}

static int load(sutra_db *db, const sd_data *d)
{
	sutra_batch *b;
	int rc = 0;

	if (sutra_batch_new(&b) < 0)
		return bu_err("sutra_batch_new: %s", sutra_last_error());
	for (size_t i = 0; i < d->nc && rc == 0; i++) {
		sutra_concept_in in = {.id = d->id[i],
		                       .content = d->content + i * SB_CONTENT,
		                       .content_len = SB_CONTENT,
		                       .vector = d->vec + i * SB_DIM,
		                       .vector_dim = SB_DIM,
		                       .strength = 1.0f,
		                       .confidence = 0.9f};
		rc = sutra_batch_learn(b, &in) < 0
		         ? bu_err("sutra_batch_learn: %s", sutra_last_error())
		         : flush(db, b, i + 1 == d->nc);
	}
	for (size_t i = 0; i < d->na && rc == 0; i++)
		rc = sutra_batch_associate(b, &d->id[d->assoc[i][0]], &d->id[d->assoc[i][1]],
		                           d->type[i], 0.5f + 0.5f * (float)(i % 10) / 10.0f) < 0
		         ? bu_err("sutra_batch_associate: %s", sutra_last_error())
		         : flush(db, b, i + 1 == d->na);
	sutra_batch_free(b);
	return rc;
}

static int open_store(const sb_opts *o, const sd_data *d, sr_store *s)
{
	uint64_t t0 = bu_now_ns(), t1;
	sutra_stats st;

	if (su_open(o, s->shards, 1, &s->db, &s->dir) < 0 || load(s->db, d) < 0)
		return -1;
	t1 = bu_now_ns();
	if (su_index_ready(s->db, SR_INDEX_MAX) < 0)
		return -1;
	s->load_s = (double)(t1 - t0) / 1e9;
	s->index_s = (double)(bu_now_ns() - t1) / 1e9;
	if (sutra_stats_get(s->db, &st) < 0)
		return bu_err("sutra_stats_get: %s", sutra_last_error());
	if (st.concepts != d->nc || st.vectors != d->nc)
		return bu_err("the store holds %llu concepts and %llu vectors, %zu were learned",
		              (unsigned long long)st.concepts, (unsigned long long)st.vectors,
		              d->nc);
	s->associations = st.associations;
	return 0;
}

/* ---- passes ------------------------------------------------------------------------------- */

static int search_pass(const sd_data *d, sr_store *s, int rep)
{
	sutra_hit hits[SB_K];
	uint64_t t0 = bu_now_ns();

	for (size_t q = 0; q < d->nq; q++) {
		uint64_t c0 = bu_now_ns();
		size_t n;
		int rc = sutra_vector_search(s->db, d->query + q * SB_DIM, SB_DIM, SB_K, SB_EF,
		                             hits, &n);
		s->qlat[s->nqlat++] = bu_now_ns() - c0;
		if (rc < 0)
			return bu_err("sutra_vector_search: %s", sutra_last_error());
	}
	s->qps[rep] = (double)d->nq / ((double)(bu_now_ns() - t0) / 1e9);
	return 0;
}

static int path_pass(const sd_data *d, sr_store *s, int check)
{
	sutra_id path[SB_MAX_DEPTH + 1];

	for (size_t i = 0; i < d->np; i++) {
		const sutra_id *a = &d->id[d->pair[i][0]], *b = &d->id[d->pair[i][1]];
		size_t len = 0;
		uint64_t c0 = bu_now_ns();
		int rc = sutra_find_path(s->db, a, b, SB_MAX_DEPTH, path, &len);
		s->plat[s->nplat++] = bu_now_ns() - c0;
		if (rc < 0 && rc != SUTRA_ENOTFOUND)
			return bu_err("sutra_find_path: %s", sutra_last_error());
		int hops = rc == 0 ? (int)len - 1 : -1;
		if (check && hops != d->hops[i] && s->mismatches++ < 3)
			printf("  %#x shards: FindPath pair %zu: %d hops, the answer key says %d\n",
			       s->shards, i, hops, d->hops[i]);
	}
	return 0;
}

/* recall@SB_K on the first SR_RECALL_Q queries (untimed). */
static int recall(const sd_data *d, const uint32_t (*truth)[SB_K], size_t nt, sr_store *s)
{
	sutra_hit hits[SB_K];
	size_t found = 0;

	for (size_t q = 0; q < nt; q++) {
		size_t n = 0;
		if (sutra_vector_search(s->db, d->query + q * SB_DIM, SB_DIM, SB_K, SB_EF, hits,
		                        &n) < 0)
			return bu_err("sutra_vector_search: %s", sutra_last_error());
		for (size_t h = 0; h < n; h++)
			for (int k = 0; k < SB_K; k++)
				if (memcmp(&hits[h].id, &d->id[truth[q][k]], sizeof(sutra_id)) ==
				    0) {
					found++;
					break;
				}
	}
	s->recall = nt ? (double)found / (double)(nt * SB_K) : -1;
	return 0;
}

static int measure(const sb_opts *o, const sd_data *d, sr_store *s, size_t nt,
                   const uint32_t (*truth)[SB_K])
{
	for (int i = 0; i < SR_NSTORES; i++)
		if (recall(d, truth, nt, &s[i]) < 0 || path_pass(d, &s[i], 1) < 0)
			return -1; /* the checking pass doubles as a warm-up */
	for (int i = 0; i < SR_NSTORES; i++)
		s[i].nplat = 0;
	for (int rep = 0; rep < o->reps; rep++)
		for (int i = 0; i < SR_NSTORES; i++)
			if (search_pass(d, &s[i], rep) < 0 || path_pass(d, &s[i], 0) < 0)
				return -1;
	return 0;
}

/* ---- figures ------------------------------------------------------------------------------ */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_d(const double *v, int n)
{
	double tmp[64];

	n = n < 64 ? n : 64;
	memcpy(tmp, v, (size_t)n * sizeof(*v));
	qsort(tmp, (size_t)n, sizeof(*tmp), cmp_d);
	return n ? tmp[n / 2] : 0;
}

static void emit_load(const sd_data *d, const sr_store *s)
{
	bench_result r;
	char tag[16];

	bu_result_init(&r, SB_BENCH, "load", su_layout_tag(s->shards, tag, sizeof(tag)));
	r.ops = d->nc + d->na;
	r.seconds = s->load_s;
	r.ops_per_s = s->load_s > 0 ? (double)r.ops / s->load_s : -1;
	bu_result_extra(&r, "shards", s->shards & ~SU_ONE_INDEX);
	bu_result_extra(&r, "index_wait_s", s->index_s);
	bu_result_extra(&r, "associations", (double)s->associations);
	bu_result_emit(&r);
}

static void emit_search(const sb_opts *o, const sr_store *s, const sr_store *base)
{
	double qps = median_d(s->qps, o->reps), bq = median_d(base->qps, o->reps);
	char variant[32], tag[16], name[32], fig[64], v[128], ratio[24] = "";
	bench_result r;
	bu_lat l;

	bu_lat_of(&l, s->qlat, s->nqlat);
	snprintf(variant, sizeof(variant), "vsearch_k%d_ef%d", SB_K, SB_EF);
	bu_result_init(&r, SB_BENCH, variant, su_layout_tag(s->shards, tag, sizeof(tag)));
	r.ops = s->nqlat;
	r.ops_per_s = qps;
	r.ratio_vs = s != base ? "s0" : NULL;
	r.ratio = bq > 0 ? qps / bq : -1;
	bu_result_extra(&r, "shards", s->shards & ~SU_ONE_INDEX);
	su_lat_extras(&r, &l);
	bu_result_extra(&r, "recall", s->recall);
	bu_result_extra(&r, "passes", o->reps);
	bu_result_emit(&r);
	snprintf(fig, sizeof(fig), "vector search, %s",
	         su_layout_name(s->shards, name, sizeof(name)));
	if (s != base && bq > 0)
		snprintf(ratio, sizeof(ratio), " (x%.2f)", qps / bq);
	snprintf(v, sizeof(v), "%.0f QPS%s, p50 %.1f us, p99 %.1f us, recall %.3f", qps, ratio,
	         l.p50_us, l.p99_us, s->recall);
	bu_summary_add(fig, v, NULL, -1);
}

static void emit_path(const sr_store *s, const bu_lat *b)
{
	char tag[16], name[32], fig[64], v[128];
	bench_result r;
	bu_lat l;

	bu_lat_of(&l, s->plat, s->nplat);
	bu_result_init(&r, SB_BENCH, "findpath", su_layout_tag(s->shards, tag, sizeof(tag)));
	r.ops = l.n;
	r.seconds = l.mean_us * (double)l.n / 1e6;
	r.ops_per_s = r.seconds > 0 ? (double)l.n / r.seconds : -1;
	r.ratio_vs = b ? "s0" : NULL;
	r.ratio = b && b->p50_us > 0 ? l.p50_us / b->p50_us : -1;
	bu_result_extra(&r, "shards", s->shards & ~SU_ONE_INDEX);
	su_lat_extras(&r, &l);
	if (b && b->p99_us > 0)
		bu_result_extra(&r, "ratio_p99", l.p99_us / b->p99_us);
	bu_result_extra(&r, "mismatches", (double)s->mismatches);
	bu_result_emit(&r);
	snprintf(fig, sizeof(fig), "FindPath, %s", su_layout_name(s->shards, name, sizeof(name)));
	if (b && b->p50_us > 0)
		snprintf(v, sizeof(v), "p50 %.1f us (x%.2f), p99 %.1f us (x%.2f), %zu mismatches",
		         l.p50_us, l.p50_us / b->p50_us, l.p99_us, l.p99_us / b->p99_us,
		         s->mismatches);
	else
		snprintf(v, sizeof(v), "p50 %.1f us, p99 %.1f us, %zu mismatches", l.p50_us,
		         l.p99_us, s->mismatches);
	bu_summary_add(fig, v, NULL, -1);
}

static void emit_all(const sb_opts *o, const sd_data *d, sr_store *s)
{
	bu_lat base;

	for (int i = 0; i < SR_NSTORES; i++)
		emit_load(d, &s[i]);
	for (int i = 0; i < SR_NSTORES; i++)
		emit_search(o, &s[i], &s[0]);
	bu_lat_of(&base, s[0].plat, s[0].nplat);
	for (int i = 0; i < SR_NSTORES; i++)
		emit_path(&s[i], i ? &base : NULL);
}

/* ---- the section --------------------------------------------------------------------------- */

static uint32_t (*exact_all(const sd_data *d, size_t nt))[SB_K]
{
	uint32_t(*t)[SB_K] = malloc((nt ? nt : 1) * sizeof(*t));

	for (size_t q = 0; t && q < nt; q++)
		sd_exact(d, q, t[q]);
	return t;
}

static int alloc_store(const sb_opts *o, const sd_data *d, sr_store *s, uint32_t shards)
{
	memset(s, 0, sizeof(*s));
	s->shards = shards;
	s->qps = calloc((size_t)o->reps, sizeof(double));
	s->qlat = malloc(d->nq * (size_t)o->reps * sizeof(uint64_t));
	s->plat = malloc(d->np * (size_t)o->reps * sizeof(uint64_t));
	return s->qps && s->qlat && s->plat ? 0 : bu_err("out of memory");
}

static int prepare(const sb_opts *o, sd_data *d, sr_store *s)
{
	uint64_t t0 = bu_now_ns();

	if (sd_make(d, o) < 0)
		return -1;
	printf("  data: %zu concepts (64-d, clustered), %zu associations, %zu queries, %zu pairs "
	       "(mean %.2f hops, %zu beyond depth %d), made in %.2f s\n",
	       d->nc, d->na, d->nq, d->np, d->mean_hops, d->far, SB_MAX_DEPTH,
	       (double)(bu_now_ns() - t0) / 1e9);
	for (int i = 0; i < SR_NSTORES; i++) {
		if (alloc_store(o, d, &s[i], sr_shards[i]) < 0 || open_store(o, d, &s[i]) < 0)
			return -1;
		char name[48];
		printf("  %s: loaded in %.2f s, index ready %.2f s later\n",
		       su_layout_name(s[i].shards, name, sizeof(name)), s[i].load_s, s[i].index_s);
		fflush(stdout);
	}
	return 0;
}

int sr_run(void *opts)
{
	const sb_opts *o = opts;
	sr_store s[SR_NSTORES];
	uint32_t(*truth)[SB_K] = NULL;
	size_t nt = o->queries < SR_RECALL_Q ? o->queries : SR_RECALL_Q;
	int failed = 0;
	sd_data d;

	memset(s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	if (prepare(o, &d, s) < 0 ||
	    (!(truth = exact_all(&d, nt)) && bu_err("out of memory") < 0) ||
	    measure(o, &d, s, nt, truth) < 0) {
		su_error("read", "all", bu_lasterr());
		failed = 1;
	} else {
		emit_all(o, &d, s);
	}
	for (int i = 0; i < SR_NSTORES; i++) {
		if (s[i].dir && su_close(s[i].db, s[i].dir) < 0 && !failed) {
			su_error("read", "all", bu_lasterr());
			failed = 1;
		}
		free(s[i].qps);
		free(s[i].qlat);
		free(s[i].plat);
	}
	free(truth);
	sd_free(&d);
	return failed;
}
