/* test_model.c - model-based test: random operations on a store and on a simple in-memory model.
 *
 * A seeded generator draws operations over a small id space (2,000 ids, so
 * updates, deletes and collisions are frequent): learn new or existing ids
 * (changing content, vector, metadata), deletes, associations, re-associations,
 * dissociations, invalid inputs and batches of mixed operations (a third of
 * them built to fail at a random position, which must apply nothing). The
 * same operation is applied to the model (arrays plus a per-concept edge
 * list, with an undo journal for batches) which predicts the exact return
 * code. Single gets and neighbour queries are compared during the run; every
 * ~10,000 operations the whole state is compared (stats, sutra_scan, every
 * concept, sutra_scan_associations, neighbours in each direction and type)
 * before a close and again after the reopen; sutra_checkpoint() runs at
 * random points so recovery from a checkpoint plus the WAL is exercised.
 * A divergence prints the seed and the operation index. Environment:
 * SUTRA_MODEL_SEED (default 20240611), SUTRA_MODEL_OPS (default 100000).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define N_IDS       2000
#define DIM         8
#define MAX_CONTENT 4096
#define MAX_META    4
#define KEY_MAX     16
#define VAL_MAX     32
#define MAX_REPORTS 20

/* ---- the model ------------------------------------------------------------ */

struct mconcept {
	int exists;
	uint32_t clen;
	uint8_t content[MAX_CONTENT];
	int has_vec;
	float vec[DIM];
	float strength, confidence;
	int nmeta;
	char key[MAX_META][KEY_MAX];
	char val[MAX_META][VAL_MAX];
	uint64_t created_us; /* 0 until observed */
};

struct medge {
	uint16_t other;
	uint8_t type;
	float conf;
};

struct elist {
	struct medge *v;
	size_t n, cap;
};

enum { J_CONCEPT, J_EDGE };

struct jent {
	int kind;
	struct mconcept *saved; /* J_CONCEPT: the previous state */
	uint16_t idx, s, t;
	uint8_t type;
	int had;
	float conf;
};

struct model {
	struct mconcept *c;
	struct elist *out, *in;
	struct jent *j;
	size_t jn, jcap;
};

/* A learn as generated (possibly invalid on purpose). */
struct lin {
	int idx;
	uint32_t clen;
	uint8_t content[MAX_CONTENT + 1];
	int has_vec;
	uint32_t vdim;
	float vec[DIM + 1];
	float strength, confidence;
	int nmeta;
	char key[MAX_META][KEY_MAX];
	char val[MAX_META][VAL_MAX];
};

enum { B_LEARN, B_DELETE, B_ASSOC, B_DISSOC };

struct bop {
	int kind;
	struct lin *l;
	int s, t;
	unsigned type;
	float conf;
};

struct run {
	sutra_db *db;
	sutra_options opt;
	char *dir;
	struct model m;
	uint64_t rng, seed;
	long op;
	long divergences;
	uint64_t last_lsn;
	unsigned long writes_ok, writes_err, batches_ok, batches_err, reopens, checkpoints;
};

static uint32_t rnd(struct run *r, uint32_t n)
{
	return n ? (uint32_t)(tu_rand(&r->rng) % n) : 0;
}

static void diverge(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diverge(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (++r->divergences > MAX_REPORTS)
		return;
	fprintf(stderr, "DIVERGENCE seed=%llu op=%ld: ", (unsigned long long)r->seed, r->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void mk_id(int i, sutra_id *id)
{
	uint64_t s = 0x5eed0000u + (uint64_t)i, h = tu_rand(&s);

	memcpy(id->b, &h, 8);
	id->b[8] = 'M';
	id->b[9] = 'O';
	id->b[10] = 'D';
	id->b[11] = 'L';
	id->b[12] = (uint8_t)(i >> 24);
	id->b[13] = (uint8_t)(i >> 16);
	id->b[14] = (uint8_t)(i >> 8);
	id->b[15] = (uint8_t)i;
}

/* Index of an id made by mk_id, or -1. */
static int id_index(const sutra_id *id)
{
	int i = (id->b[12] << 24) | (id->b[13] << 16) | (id->b[14] << 8) | id->b[15];
	sutra_id want;

	if (i < 0 || i >= N_IDS)
		return -1;
	mk_id(i, &want);
	return memcmp(&want, id, sizeof want) == 0 ? i : -1;
}

static void jpush(struct model *m, struct jent e)
{
	if (m->jn == m->jcap) {
		m->jcap = m->jcap ? m->jcap * 2 : 64;
		m->j = realloc(m->j, m->jcap * sizeof *m->j);
		if (!m->j)
			abort();
	}
	m->j[m->jn++] = e;
}

static void save_concept(struct model *m, int i)
{
	struct jent e = {.kind = J_CONCEPT, .idx = (uint16_t)i};

	e.saved = malloc(sizeof *e.saved);
	if (!e.saved)
		abort();
	*e.saved = m->c[i];
	jpush(m, e);
}

static struct medge *elist_find(struct elist *l, int other, int type)
{
	for (size_t k = 0; k < l->n; k++)
		if (l->v[k].other == other && l->v[k].type == type)
			return &l->v[k];
	return NULL;
}

static void elist_put(struct elist *l, int other, int type, float conf)
{
	struct medge *e = elist_find(l, other, type);

	if (e) {
		e->conf = conf;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			abort();
	}
	l->v[l->n++] = (struct medge){(uint16_t)other, (uint8_t)type, conf};
}

static void elist_del(struct elist *l, int other, int type)
{
	struct medge *e = elist_find(l, other, type);

	if (e)
		*e = l->v[--l->n];
}

/* Edge primitives; journal = 1 records the previous state for rollback. */
static void edge_set(struct model *m, int s, int t, int type, float conf, int journal)
{
	if (journal) {
		struct medge *e = elist_find(&m->out[s], t, type);
		struct jent j = {.kind = J_EDGE,
		                 .s = (uint16_t)s,
		                 .t = (uint16_t)t,
		                 .type = (uint8_t)type,
		                 .had = e != NULL,
		                 .conf = e ? e->conf : 0};
		jpush(m, j);
	}
	elist_put(&m->out[s], t, type, conf);
	elist_put(&m->in[t], s, type, conf);
}

static void edge_del(struct model *m, int s, int t, int type, int journal)
{
	struct medge *e = elist_find(&m->out[s], t, type);

	if (!e)
		return;
	if (journal) {
		struct jent j = {.kind = J_EDGE,
		                 .s = (uint16_t)s,
		                 .t = (uint16_t)t,
		                 .type = (uint8_t)type,
		                 .had = 1,
		                 .conf = e->conf};
		jpush(m, j);
	}
	elist_del(&m->out[s], t, type);
	elist_del(&m->in[t], s, type);
}

static void journal_commit(struct model *m)
{
	for (size_t k = 0; k < m->jn; k++)
		free(m->j[k].saved);
	m->jn = 0;
}

static void journal_rollback(struct model *m)
{
	while (m->jn > 0) {
		struct jent *e = &m->j[--m->jn];

		if (e->kind == J_CONCEPT) {
			m->c[e->idx] = *e->saved;
			free(e->saved);
		} else if (e->had) {
			edge_set(m, e->s, e->t, e->type, e->conf, 0);
		} else {
			edge_del(m, e->s, e->t, e->type, 0);
		}
	}
}

static int valid_conf(float c)
{
	return isfinite(c) && c >= 0.0f && c <= 1.0f;
}

/* The model's learn: returns the code the engine must return. */
static int m_learn(struct model *m, const struct lin *l)
{
	struct mconcept *c = &m->c[l->idx];

	if (l->clen > MAX_CONTENT)
		return SUTRA_ETOOBIG;
	if ((l->has_vec && l->vdim != DIM) || !isfinite(l->strength) || l->strength < 0 ||
	    !valid_conf(l->confidence))
		return SUTRA_EINVAL;
	save_concept(m, l->idx);
	if (!c->exists)
		c->created_us = 0;
	c->exists = 1;
	c->clen = l->clen;
	memcpy(c->content, l->content, l->clen);
	c->has_vec = l->has_vec;
	if (l->has_vec)
		memcpy(c->vec, l->vec, sizeof c->vec);
	c->strength = l->strength;
	c->confidence = l->confidence;
	c->nmeta = l->nmeta;
	memcpy(c->key, l->key, sizeof c->key);
	memcpy(c->val, l->val, sizeof c->val);
	return 0;
}

static int m_delete(struct model *m, int i)
{
	if (!m->c[i].exists)
		return SUTRA_ENOTFOUND;
	while (m->out[i].n > 0)
		edge_del(m, i, m->out[i].v[0].other, m->out[i].v[0].type, 1);
	while (m->in[i].n > 0)
		edge_del(m, m->in[i].v[0].other, i, m->in[i].v[0].type, 1);
	save_concept(m, i);
	m->c[i].exists = 0;
	return 0;
}

static int m_assoc(struct model *m, int s, int t, unsigned type, float conf)
{
	if (type >= SUTRA_ASSOC_TYPES || !valid_conf(conf))
		return SUTRA_EINVAL;
	if (!m->c[s].exists || !m->c[t].exists)
		return SUTRA_ENOTFOUND;
	edge_set(m, s, t, (int)type, conf, 1);
	return 0;
}

static int m_dissoc(struct model *m, int s, int t, unsigned type)
{
	if (!elist_find(&m->out[s], t, (int)type))
		return SUTRA_ENOTFOUND;
	edge_del(m, s, t, (int)type, 1);
	return 0;
}

/* ---- generators ------------------------------------------------------------- */

static uint32_t gen_len(struct run *r)
{
	uint32_t p = rnd(r, 100);

	if (p < 70)
		return rnd(r, 65);
	if (p < 95)
		return 64 + rnd(r, 449);
	if (p < 99)
		return 512 + rnd(r, MAX_CONTENT - 511);
	return MAX_CONTENT;
}

static void gen_content(struct run *r, struct lin *l, uint32_t len)
{
	int binary = rnd(r, 5) == 0;

	l->clen = len;
	for (uint32_t k = 0; k < len; k++)
		l->content[k] = binary ? (uint8_t)rnd(r, 256) : (uint8_t)(' ' + rnd(r, 95));
}

static void gen_meta(struct run *r, struct lin *l)
{
	int base = (int)rnd(r, 8);

	l->nmeta = (int)rnd(r, MAX_META + 1);
	for (int k = 0; k < l->nmeta; k++) {
		uint32_t vl = rnd(r, VAL_MAX);

		snprintf(l->key[k], KEY_MAX, "key%d", base + k);
		for (uint32_t q = 0; q < vl; q++)
			l->val[k][q] = (char)('a' + rnd(r, 26));
		l->val[k][vl] = '\0';
	}
}

/* A valid learn of idx; bad = 1 makes it invalid in one random way. */
static void gen_learn(struct run *r, struct lin *l, int idx, int bad)
{
	memset(l, 0, sizeof *l);
	l->idx = idx;
	gen_content(r, l, gen_len(r));
	l->has_vec = rnd(r, 2);
	l->vdim = DIM;
	for (int k = 0; k <= DIM; k++)
		l->vec[k] = (float)((int)rnd(r, 20001) - 10000) / 1000.0f;
	l->strength = (float)rnd(r, 10000) / 1000.0f;
	l->confidence = (float)rnd(r, 1001) / 1000.0f;
	gen_meta(r, l);
	if (!bad)
		return;
	switch (rnd(r, 5)) {
	case 0:
		gen_content(r, l, MAX_CONTENT + 1);
		break;
	case 1:
		l->has_vec = 1;
		l->vdim = rnd(r, 2) ? DIM + 1 : DIM - 1;
		break;
	case 2:
		l->strength = rnd(r, 2) ? -1.0f : NAN;
		break;
	case 3:
		l->confidence = rnd(r, 2) ? 1.5f : -0.25f;
		break;
	default:
		l->confidence = INFINITY;
		break;
	}
}

static void lin_to_in(const struct lin *l, sutra_concept_in *c, sutra_meta_entry *meta)
{
	memset(c, 0, sizeof *c);
	mk_id(l->idx, &c->id);
	c->content = l->content;
	c->content_len = l->clen;
	c->vector = l->has_vec ? l->vec : NULL;
	c->vector_dim = l->has_vec ? l->vdim : 0;
	c->strength = l->strength;
	c->confidence = l->confidence;
	for (int k = 0; k < l->nmeta; k++) {
		meta[k].key = l->key[k];
		meta[k].value = l->val[k];
	}
	c->meta = l->nmeta ? meta : NULL;
	c->meta_count = (size_t)l->nmeta;
}

static int pick_existing(struct run *r)
{
	for (int tries = 0; tries < 64; tries++) {
		int i = (int)rnd(r, N_IDS);

		if (r->m.c[i].exists)
			return i;
	}
	return -1;
}

static int pick_absent(struct run *r)
{
	for (int tries = 0; tries < 256; tries++) {
		int i = (int)rnd(r, N_IDS);

		if (!r->m.c[i].exists)
			return i;
	}
	return -1;
}

/* An existing edge: sets *s, *t, *type; 0 if none was found quickly. */
static int pick_edge(struct run *r, int *s, int *t, unsigned *type)
{
	for (int tries = 0; tries < 64; tries++) {
		int i = (int)rnd(r, N_IDS);
		struct elist *l = &r->m.out[i];

		if (l->n) {
			struct medge *e = &l->v[rnd(r, (uint32_t)l->n)];

			*s = i;
			*t = e->other;
			*type = e->type;
			return 1;
		}
	}
	return 0;
}

/* ---- comparisons ------------------------------------------------------------- */

static int cmp_float_bits(float a, float b)
{
	return memcmp(&a, &b, sizeof a) != 0;
}

static void check_meta(struct run *r, int i, const sutra_concept *got)
{
	const struct mconcept *c = &r->m.c[i];
	const char *k, *v;
	size_t pos = 0;
	int n = 0, seen[MAX_META] = {0};

	if (got->meta_count != (uint32_t)c->nmeta)
		diverge(r, "id %d: meta_count %u, model %d", i, got->meta_count, c->nmeta);
	while (sutra_meta_next(got, &pos, &k, &v) == 1) {
		int found = -1;

		for (int q = 0; q < c->nmeta; q++)
			if (!seen[q] && strcmp(c->key[q], k) == 0 && strcmp(c->val[q], v) == 0)
				found = q;
		if (found < 0)
			diverge(r, "id %d: unexpected meta %s=%s", i, k, v);
		else
			seen[found] = 1;
		if (++n > MAX_META + 4)
			break;
	}
	if (n != c->nmeta)
		diverge(r, "id %d: iterated %d meta entries, model %d", i, n, c->nmeta);
}

static void check_vector(struct run *r, int i, const sutra_concept *got)
{
	const struct mconcept *c = &r->m.c[i];

	if (!c->has_vec) {
		if (got->vector || got->vector_dim)
			diverge(r, "id %d: has vector dim %u, model none", i, got->vector_dim);
		return;
	}
	if (!got->vector || got->vector_dim != DIM) {
		diverge(r, "id %d: vector %p dim %u, model dim %d", i, (const void *)got->vector,
		        got->vector_dim, DIM);
		return;
	}
	if (memcmp(got->vector, c->vec, sizeof c->vec) != 0)
		diverge(r, "id %d: vector values differ", i);
}

/* Compares a concept read from the engine (get or scan view) with the model. */
static void check_concept(struct run *r, int i, const sutra_concept *got)
{
	struct mconcept *c = &r->m.c[i];
	sutra_id want;

	mk_id(i, &want);
	if (memcmp(&want, &got->id, sizeof want) != 0)
		diverge(r, "id %d: returned id differs", i);
	if (got->content_len != c->clen || !got->content ||
	    memcmp(got->content, c->content, c->clen) != 0 || got->content[c->clen] != '\0')
		diverge(r, "id %d: content differs (len %zu, model %u)", i, got->content_len,
		        c->clen);
	check_vector(r, i, got);
	if (cmp_float_bits(got->strength, c->strength) ||
	    cmp_float_bits(got->confidence, c->confidence))
		diverge(r, "id %d: strength/confidence %g/%g, model %g/%g", i,
		        (double)got->strength, (double)got->confidence, (double)c->strength,
		        (double)c->confidence);
	check_meta(r, i, got);
	if (c->created_us == 0)
		c->created_us = got->created_us;
	else if (got->created_us != c->created_us)
		diverge(r, "id %d: created_us %llu, was %llu", i,
		        (unsigned long long)got->created_us, (unsigned long long)c->created_us);
	if (got->created_us == 0 || got->updated_us < got->created_us)
		diverge(r, "id %d: timestamps created %llu updated %llu", i,
		        (unsigned long long)got->created_us, (unsigned long long)got->updated_us);
	if (got->out_degree != r->m.out[i].n || got->in_degree != r->m.in[i].n)
		diverge(r, "id %d: degree out %u in %u, model %zu %zu", i, got->out_degree,
		        got->in_degree, r->m.out[i].n, r->m.in[i].n);
}

static void check_get(struct run *r, int i)
{
	sutra_id id;
	sutra_concept *got = NULL;
	int rc, ex;

	mk_id(i, &id);
	rc = sutra_get(r->db, &id, &got);
	ex = sutra_exists(r->db, &id);
	if (!r->m.c[i].exists) {
		if (rc != SUTRA_ENOTFOUND || ex != 0)
			diverge(r, "id %d: get %d exists %d, model absent", i, rc, ex);
	} else if (rc != 0 || ex != 1) {
		diverge(r, "id %d: get %d (%s) exists %d, model present", i, rc, sutra_last_error(),
		        ex);
	} else {
		check_concept(r, i, got);
	}
	sutra_concept_free(got);
}

static int nb_cmp(const void *a, const void *b)
{
	const sutra_neighbor *x = a, *y = b;
	int c = memcmp(&x->id, &y->id, sizeof x->id);

	if (c)
		return c;
	if (x->type != y->type)
		return x->type - y->type;
	return x->direction - y->direction;
}

static size_t expected_neighbors(struct run *r, int i, int dir, int type, sutra_neighbor *out)
{
	size_t n = 0;

	for (int d = SUTRA_DIR_OUT; d <= SUTRA_DIR_IN; d++) {
		struct elist *l = d == SUTRA_DIR_OUT ? &r->m.out[i] : &r->m.in[i];

		if (!(dir & d))
			continue;
		for (size_t k = 0; k < l->n; k++) {
			if (type != SUTRA_TYPE_ANY && l->v[k].type != type)
				continue;
			mk_id(l->v[k].other, &out[n].id);
			out[n].confidence = l->v[k].conf;
			out[n].type = l->v[k].type;
			out[n].direction = (uint8_t)d;
			n++;
		}
	}
	return n;
}

static void check_neighbors(struct run *r, int i, int dir, int type)
{
	size_t cap = r->m.out[i].n + r->m.in[i].n + 2, total = 0, got_n;
	sutra_neighbor *want = calloc(cap, sizeof *want), *got = calloc(cap, sizeof *got);
	sutra_id id;
	size_t want_n;
	int rc;

	if (!want || !got)
		abort();
	mk_id(i, &id);
	want_n = expected_neighbors(r, i, dir, type, want);
	rc = sutra_neighbors(r->db, &id, dir, type, got, cap, &total);
	if (!r->m.c[i].exists) {
		if (rc != SUTRA_ENOTFOUND)
			diverge(r, "id %d: neighbors of absent concept returned %d", i, rc);
		goto out;
	}
	got_n = total < cap ? total : cap;
	if (rc != 0 || total != want_n) {
		diverge(r, "id %d dir %d type %d: neighbors rc %d total %zu, model %zu", i, dir,
		        type, rc, total, want_n);
		goto out;
	}
	qsort(want, want_n, sizeof *want, nb_cmp);
	qsort(got, got_n, sizeof *got, nb_cmp);
	for (size_t k = 0; k < want_n; k++)
		if (nb_cmp(&want[k], &got[k]) ||
		    cmp_float_bits(want[k].confidence, got[k].confidence)) {
			diverge(r, "id %d dir %d type %d: neighbour %zu differs", i, dir, type, k);
			break;
		}
out:
	free(want);
	free(got);
}

/* A too-small buffer still reports the full total. */
static void check_neighbor_total(struct run *r, int i)
{
	sutra_neighbor one;
	sutra_id id;
	size_t total = 0, want = r->m.out[i].n + r->m.in[i].n;
	int rc;

	if (!r->m.c[i].exists)
		return;
	mk_id(i, &id);
	rc = sutra_neighbors(r->db, &id, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, &one, 1, &total);
	if (rc != 0 || total != want)
		diverge(r, "id %d: neighbors cap 1 rc %d total %zu, model %zu", i, rc, total, want);
}

/* ---- full-state comparison ----------------------------------------------------- */

struct scan_ctx {
	struct run *r;
	char *seen;
	size_t n;
};

static int scan_cb(void *ctx, const sutra_concept *c)
{
	struct scan_ctx *s = ctx;
	int i = id_index(&c->id);

	s->n++;
	if (i < 0) {
		diverge(s->r, "scan: unknown id");
		return 0;
	}
	if (s->seen[i]++)
		diverge(s->r, "scan: id %d seen twice", i);
	if (!s->r->m.c[i].exists)
		diverge(s->r, "scan: id %d present, model absent", i);
	else
		check_concept(s->r, i, c);
	return 0;
}

struct assoc_rec {
	int s, t;
	unsigned type;
	float conf;
};

struct assoc_ctx {
	struct run *r;
	struct assoc_rec *v;
	size_t n, cap;
};

static int assoc_cb(void *ctx, const sutra_id *source, const sutra_id *target, unsigned type,
                    float confidence)
{
	struct assoc_ctx *a = ctx;
	int s = id_index(source), t = id_index(target);

	if (s < 0 || t < 0) {
		diverge(a->r, "scan_associations: unknown id");
		return 0;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		if (!a->v)
			abort();
	}
	a->v[a->n++] = (struct assoc_rec){s, t, type, confidence};
	return 0;
}

static int assoc_rec_cmp(const void *a, const void *b)
{
	const struct assoc_rec *x = a, *y = b;

	if (x->s != y->s)
		return x->s - y->s;
	if (x->t != y->t)
		return x->t - y->t;
	return (int)x->type - (int)y->type;
}

static size_t model_edges(struct run *r, struct assoc_rec **out)
{
	size_t n = 0, k = 0;

	for (int i = 0; i < N_IDS; i++)
		n += r->m.out[i].n;
	*out = calloc(n + 1, sizeof **out);
	if (!*out)
		abort();
	for (int i = 0; i < N_IDS; i++)
		for (size_t q = 0; q < r->m.out[i].n; q++) {
			struct medge *e = &r->m.out[i].v[q];

			(*out)[k++] = (struct assoc_rec){i, e->other, e->type, e->conf};
		}
	qsort(*out, n, sizeof **out, assoc_rec_cmp);
	return n;
}

static void check_assoc_scan(struct run *r)
{
	struct assoc_ctx a = {.r = r};
	struct assoc_rec *want;
	size_t want_n = model_edges(r, &want);
	int rc = sutra_scan_associations(r->db, assoc_cb, &a);

	if (rc != 0)
		diverge(r, "scan_associations returned %d", rc);
	qsort(a.v, a.n, sizeof *a.v, assoc_rec_cmp);
	if (a.n != want_n)
		diverge(r, "scan_associations: %zu associations, model %zu", a.n, want_n);
	for (size_t k = 0; k < a.n && k < want_n; k++)
		if (assoc_rec_cmp(&a.v[k], &want[k]) || cmp_float_bits(a.v[k].conf, want[k].conf)) {
			diverge(r, "scan_associations: #%zu %d->%d/%u differs from model %d->%d/%u",
			        k, a.v[k].s, a.v[k].t, a.v[k].type, want[k].s, want[k].t,
			        want[k].type);
			break;
		}
	free(a.v);
	free(want);
}

static void check_stats(struct run *r)
{
	sutra_stats st;
	uint64_t nc = 0, ne = 0, nv = 0;
	int rc = sutra_stats_get(r->db, &st);

	for (int i = 0; i < N_IDS; i++) {
		nc += r->m.c[i].exists != 0;
		nv += r->m.c[i].exists && r->m.c[i].has_vec;
		ne += r->m.out[i].n;
	}
	if (rc != 0 || st.concepts != nc || st.associations != ne || st.vectors != nv)
		diverge(r,
		        "stats rc %d: concepts %llu assoc %llu vectors %llu, model %llu %llu %llu",
		        rc, (unsigned long long)st.concepts, (unsigned long long)st.associations,
		        (unsigned long long)st.vectors, (unsigned long long)nc,
		        (unsigned long long)ne, (unsigned long long)nv);
	if (rc == 0 && (st.read_only || st.ops_dropped))
		diverge(r, "stats: read_only %d ops_dropped %llu", st.read_only,
		        (unsigned long long)st.ops_dropped);
}

static void check_all(struct run *r, const char *when)
{
	struct scan_ctx s = {.r = r, .seen = calloc(N_IDS, 1)};
	long before = r->divergences;
	size_t want = 0;
	int rc;

	if (!s.seen)
		abort();
	check_stats(r);
	rc = sutra_scan(r->db, scan_cb, &s);
	for (int i = 0; i < N_IDS; i++)
		want += r->m.c[i].exists != 0;
	if (rc != 0 || s.n != want)
		diverge(r, "scan rc %d: %zu concepts, model %zu", rc, s.n, want);
	free(s.seen);
	check_assoc_scan(r);
	for (int i = 0; i < N_IDS; i++) {
		check_get(r, i);
		check_neighbors(r, i, SUTRA_DIR_BOTH, SUTRA_TYPE_ANY);
		check_neighbors(r, i, SUTRA_DIR_OUT, (int)rnd(r, 6) - 1);
		check_neighbors(r, i, SUTRA_DIR_IN, (int)rnd(r, 6) - 1);
	}
	if (r->divergences != before)
		fprintf(stderr, "model: %ld divergences found by the full check %s\n",
		        r->divergences - before, when);
}

/* ---- operations ------------------------------------------------------------------ */

static void note_write(struct run *r, const char *what, int rc, int want, uint64_t lsn)
{
	if (rc != want) {
		diverge(r, "%s returned %d (%s), model expects %d", what, rc,
		        rc ? sutra_last_error() : "ok", want);
		return;
	}
	if (rc != 0) {
		r->writes_err++;
		return;
	}
	r->writes_ok++;
	if (lsn <= r->last_lsn)
		diverge(r, "%s: lsn %llu not above previous %llu", what, (unsigned long long)lsn,
		        (unsigned long long)r->last_lsn);
	r->last_lsn = lsn;
}

static void finish_model_op(struct run *r, int want)
{
	if (want == 0)
		journal_commit(&r->m);
	else
		journal_rollback(&r->m);
}

static void op_learn(struct run *r, int bad)
{
	static struct lin l;
	sutra_concept_in c;
	sutra_meta_entry meta[MAX_META];
	uint64_t lsn = 0;
	int want, rc, idx = (int)rnd(r, N_IDS);

	gen_learn(r, &l, idx, bad);
	lin_to_in(&l, &c, meta);
	want = m_learn(&r->m, &l);
	finish_model_op(r, want);
	rc = sutra_learn(r->db, &c, &lsn);
	note_write(r, "learn", rc, want, lsn);
	if (rc == 0 && rnd(r, 3) == 0)
		check_get(r, idx); /* records created_us early */
}

static void op_delete(struct run *r)
{
	int i = rnd(r, 4) ? pick_existing(r) : (int)rnd(r, N_IDS);
	sutra_id id;
	uint64_t lsn = 0;
	int want, rc;

	if (i < 0)
		i = (int)rnd(r, N_IDS);
	mk_id(i, &id);
	want = m_delete(&r->m, i);
	finish_model_op(r, want);
	rc = sutra_delete(r->db, &id, &lsn);
	note_write(r, "delete", rc, want, lsn);
}

static void do_assoc(struct run *r, int s, int t, unsigned type, float conf)
{
	sutra_id a, b;
	uint64_t lsn = 0;
	int want, rc;

	mk_id(s, &a);
	mk_id(t, &b);
	want = m_assoc(&r->m, s, t, type, conf);
	finish_model_op(r, want);
	rc = sutra_associate(r->db, &a, &b, type, conf, &lsn);
	note_write(r, "associate", rc, want, lsn);
}

static float gen_conf(struct run *r)
{
	return (float)rnd(r, 1001) / 1000.0f;
}

static void op_associate(struct run *r)
{
	int s = rnd(r, 5) ? pick_existing(r) : (int)rnd(r, N_IDS);
	int t = rnd(r, 5) ? pick_existing(r) : (int)rnd(r, N_IDS);
	unsigned type = rnd(r, SUTRA_ASSOC_TYPES);
	float conf = gen_conf(r);

	if (s < 0 || t < 0)
		return;
	if (rnd(r, 50) == 0)
		t = s; /* self-association */
	if (rnd(r, 40) == 0 && r->m.c[s].exists && r->m.c[t].exists) {
		if (rnd(r, 2))
			type = SUTRA_ASSOC_TYPES + rnd(r, 3);
		else
			conf = rnd(r, 2) ? 1.25f : NAN;
	}
	do_assoc(r, s, t, type, conf);
}

static void op_reassociate(struct run *r)
{
	int s, t;
	unsigned type;

	if (pick_edge(r, &s, &t, &type))
		do_assoc(r, s, t, type, gen_conf(r));
}

static void op_dissociate(struct run *r)
{
	int s = (int)rnd(r, N_IDS), t = (int)rnd(r, N_IDS);
	unsigned type = rnd(r, SUTRA_ASSOC_TYPES);
	sutra_id a, b;
	uint64_t lsn = 0;
	int want, rc;

	if (rnd(r, 3))
		pick_edge(r, &s, &t, &type);
	mk_id(s, &a);
	mk_id(t, &b);
	want = m_dissoc(&r->m, s, t, type);
	finish_model_op(r, want);
	rc = sutra_dissociate(r->db, &a, &b, type, &lsn);
	note_write(r, "dissociate", rc, want, lsn);
}

/* ---- batches ------------------------------------------------------------------------ */

#define BATCH_MAX 16

static int touched(const struct bop *ops, int n, int i)
{
	for (int k = 0; k < n; k++)
		if ((ops[k].kind == B_LEARN && ops[k].l->idx == i) ||
		    ((ops[k].kind == B_ASSOC || ops[k].kind == B_DELETE) &&
		     (ops[k].s == i || ops[k].t == i)))
			return 1;
	return 0;
}

static int pick_in_batch(struct run *r, const struct bop *ops, int n)
{
	for (int k = 0; k < 4 && n > 0; k++) {
		const struct bop *o = &ops[rnd(r, (uint32_t)n)];

		if (o->kind == B_LEARN)
			return o->l->idx;
	}
	return pick_existing(r);
}

static void gen_bop(struct run *r, struct bop *o, const struct bop *ops, int n)
{
	uint32_t p = rnd(r, 100);

	memset(o, 0, sizeof *o);
	o->type = rnd(r, SUTRA_ASSOC_TYPES);
	o->conf = gen_conf(r);
	if (p < 35) {
		o->kind = B_LEARN;
		o->l = malloc(sizeof *o->l);
		if (!o->l)
			abort();
		gen_learn(r, o->l, (int)rnd(r, N_IDS), 0);
	} else if (p < 45) {
		o->kind = B_DELETE;
		o->s = pick_existing(r);
	} else if (p < 85) {
		o->kind = B_ASSOC;
		o->s = pick_in_batch(r, ops, n);
		o->t = pick_in_batch(r, ops, n);
	} else {
		o->kind = B_DISSOC;
		if (!pick_edge(r, &o->s, &o->t, &o->type))
			o->kind = B_DELETE, o->s = pick_existing(r);
	}
	if (o->s < 0 || o->t < 0)
		o->kind = B_ASSOC, o->s = o->t = (int)rnd(r, N_IDS);
}

/* An operation that must fail when it is reached. */
static void gen_bad_bop(struct run *r, struct bop *o, const struct bop *ops, int n)
{
	int absent = pick_absent(r);
	uint32_t p = rnd(r, 10);

	memset(o, 0, sizeof *o);
	if (absent >= 0 && touched(ops, n, absent))
		absent = -1;
	if (p < 2 || absent < 0) {
		o->kind = B_LEARN;
		o->l = malloc(sizeof *o->l);
		if (!o->l)
			abort();
		gen_learn(r, o->l, (int)rnd(r, N_IDS), 0);
		if (p == 0)
			gen_content(r, o->l, MAX_CONTENT + 1);
		else
			o->l->has_vec = 1, o->l->vdim = DIM + 1;
		return;
	}
	o->kind = p < 6 ? B_ASSOC : (p < 8 ? B_DELETE : B_DISSOC);
	o->type = rnd(r, SUTRA_ASSOC_TYPES);
	o->conf = gen_conf(r);
	o->s = absent;
	o->t = pick_existing(r);
	if (o->t < 0)
		o->t = absent;
	if (o->kind != B_DELETE && rnd(r, 2)) { /* the missing id as the target */
		int e = o->t;

		o->t = absent;
		o->s = e;
	}
}

static int model_bop(struct run *r, const struct bop *o)
{
	switch (o->kind) {
	case B_LEARN:
		return m_learn(&r->m, o->l);
	case B_DELETE:
		return m_delete(&r->m, o->s);
	case B_ASSOC:
		return m_assoc(&r->m, o->s, o->t, o->type, o->conf);
	default:
		return m_dissoc(&r->m, o->s, o->t, o->type);
	}
}

static int add_bop(sutra_batch *b, const struct bop *o)
{
	sutra_concept_in c;
	sutra_meta_entry meta[MAX_META];
	sutra_id s, t;

	mk_id(o->s, &s);
	mk_id(o->t, &t);
	switch (o->kind) {
	case B_LEARN:
		lin_to_in(o->l, &c, meta);
		return sutra_batch_learn(b, &c);
	case B_DELETE:
		return sutra_batch_delete(b, &s);
	case B_ASSOC:
		return sutra_batch_associate(b, &s, &t, o->type, o->conf);
	default:
		return sutra_batch_dissociate(b, &s, &t, o->type);
	}
}

/* Applies the batch to the model; returns the expected commit code. */
static int model_batch(struct run *r, const struct bop *ops, int n)
{
	int want = 0;

	for (int k = 0; k < n && want == 0; k++)
		want = model_bop(r, &ops[k]);
	finish_model_op(r, want);
	return want;
}

static void op_batch(struct run *r)
{
	struct bop ops[BATCH_MAX];
	int n = 2 + (int)rnd(r, BATCH_MAX - 2),
	    bad = rnd(r, 3) == 0 ? (int)rnd(r, (uint32_t)n) : -1;
	sutra_batch *b = NULL;
	uint64_t lsn = 0;
	int want, rc;

	for (int k = 0; k < n; k++) {
		if (k == bad)
			gen_bad_bop(r, &ops[k], ops, k);
		else
			gen_bop(r, &ops[k], ops, k);
	}
	if (sutra_batch_new(&b) != 0)
		abort();
	for (int k = 0; k < n; k++)
		if ((rc = add_bop(b, &ops[k])) != 0)
			diverge(r, "batch add #%d (kind %d) returned %d (%s)", k, ops[k].kind, rc,
			        sutra_last_error());
	if (sutra_batch_count(b) != (size_t)n)
		diverge(r, "batch count %zu, added %d", sutra_batch_count(b), n);
	want = model_batch(r, ops, n);
	rc = sutra_batch_commit(r->db, b, &lsn);
	note_write(r, bad >= 0 ? "batch (bad op)" : "batch", rc, want, lsn);
	if (rc == 0)
		r->batches_ok++;
	else
		r->batches_err++;
	sutra_batch_free(b);
	for (int k = 0; k < n; k++)
		free(ops[k].l);
}

static void op_read(struct run *r)
{
	int i = (int)rnd(r, N_IDS);

	check_get(r, i);
	check_neighbors(r, i, (int)rnd(r, 3) + 1, (int)rnd(r, 6) - 1);
	if (rnd(r, 4) == 0)
		check_neighbor_total(r, i);
}

/* ---- the run ------------------------------------------------------------------------- */

static void reopen(struct run *r)
{
	int rc;

	check_all(r, "before close");
	rc = sutra_close(r->db);
	r->db = NULL;
	if (rc != 0)
		diverge(r, "close returned %d", rc);
	rc = sutra_open(r->dir, &r->opt, &r->db);
	if (rc != 0) {
		diverge(r, "reopen returned %d (%s)", rc, sutra_last_error());
		r->db = NULL;
		return;
	}
	r->reopens++;
	check_all(r, "after reopen");
}

static void one_op(struct run *r)
{
	uint32_t p = rnd(r, 1000);

	if (p < 220)
		op_learn(r, 0);
	else if (p < 235)
		op_learn(r, 1);
	else if (p < 330)
		op_delete(r);
	else if (p < 600)
		op_associate(r);
	else if (p < 700)
		op_reassociate(r);
	else if (p < 800)
		op_dissociate(r);
	else if (p < 900)
		op_batch(r);
	else
		op_read(r);
}

static void run_setup(struct run *r, uint64_t seed, uint32_t shards)
{
	memset(r, 0, sizeof *r);
	r->seed = seed;
	r->rng = seed;
	r->m.c = calloc(N_IDS, sizeof *r->m.c);
	r->m.out = calloc(N_IDS, sizeof *r->m.out);
	r->m.in = calloc(N_IDS, sizeof *r->m.in);
	if (!r->m.c || !r->m.out || !r->m.in)
		abort();
	r->dir = tu_mkdtemp("model");
	sutra_options_init(&r->opt);
	r->opt.dimension = DIM;
	r->opt.durability = SUTRA_DURABILITY_NONE;
	r->opt.max_content_bytes = MAX_CONTENT;
	r->opt.wal_segment_bytes = 1u << 20;
	r->opt.checkpoint_wal_bytes = 0;
	r->opt.shards = shards;
}

static void run_teardown(struct run *r)
{
	for (int i = 0; i < N_IDS; i++) {
		free(r->m.out[i].v);
		free(r->m.in[i].v);
	}
	free(r->m.c);
	free(r->m.out);
	free(r->m.in);
	free(r->m.j);
	tu_rmrf(r->dir);
	free(r->dir);
}

/* A checkpoint covers every acknowledged write and drops the WAL it covers. */
static void do_checkpoint(struct run *r)
{
	sutra_stats before, after;
	int rc;

	if (sutra_stats_get(r->db, &before) != 0)
		diverge(r, "stats failed");
	if ((rc = sutra_checkpoint(r->db)) != 0) {
		diverge(r, "checkpoint returned %d (%s)", rc, sutra_last_error());
		return;
	}
	r->checkpoints++;
	if (sutra_stats_get(r->db, &after) != 0)
		diverge(r, "stats failed");
	else if (after.checkpoints != before.checkpoints + 1 ||
	         after.checkpoint_lsn < r->last_lsn ||
	         after.wal_segments > 2 * (r->opt.shards ? r->opt.shards : 1))
		diverge(r,
		        "after a checkpoint: checkpoints %llu (was %llu), checkpoint_lsn %llu < "
		        "last acknowledged %llu, or %llu WAL segments kept",
		        (unsigned long long)after.checkpoints,
		        (unsigned long long)before.checkpoints,
		        (unsigned long long)after.checkpoint_lsn, (unsigned long long)r->last_lsn,
		        (unsigned long long)after.wal_segments);
}

static void run_ops(struct run *r, long nops)
{
	long next_reopen = 10000 + (long)rnd(r, 2000) - 1000;

	for (r->op = 0; r->op < nops && r->db && r->divergences <= MAX_REPORTS; r->op++) {
		one_op(r);
		if (rnd(r, 4000) == 0)
			do_checkpoint(r);
		if (r->op == next_reopen) {
			reopen(r);
			next_reopen += 10000 + (long)rnd(r, 2000) - 1000;
		}
	}
	if (r->db)
		reopen(r);
}

static long run_model(uint64_t seed, long nops, uint32_t shards)
{
	struct run r;
	int rc;

	run_setup(&r, seed, shards);
	rc = sutra_open(r.dir, &r.opt, &r.db);
	if (rc != 0) {
		diverge(&r, "open returned %d (%s)", rc, sutra_last_error());
	} else {
		run_ops(&r, nops);
		if (r.db && (rc = sutra_close(r.db)) != 0)
			diverge(&r, "final close returned %d", rc);
	}
	printf("model: %u shards, seed %llu, %ld ops, %lu writes ok, %lu refused as predicted, "
	       "batches %lu ok "
	       "%lu failed, %lu checkpoints, %lu reopens, %ld divergences\n",
	       shards, (unsigned long long)seed, r.op, r.writes_ok, r.writes_err, r.batches_ok,
	       r.batches_err, r.checkpoints, r.reopens, r.divergences);
	run_teardown(&r);
	return r.divergences;
}

static void test_model_random_ops(void **state)
{
	uint64_t seed = (uint64_t)tu_env_long("SUTRA_MODEL_SEED", 20240611);
	long nops = tu_env_long("SUTRA_MODEL_OPS", 100000);

	(void)state;
	assert_int_equal(run_model(seed, nops, 0), 0);
}

/* The same workload on a store of 4 shards: most associations and many
 * batches span shards (two-phase commit), and every answer, before and
 * after each reopen, must be the model's. */
static void test_model_sharded(void **state)
{
	uint64_t seed = (uint64_t)tu_env_long("SUTRA_MODEL_SEED", 20240611);
	long nops = tu_env_long("SUTRA_MODEL_OPS", 100000);

	(void)state;
	assert_int_equal(run_model(seed + 1, nops, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_random_ops),
	    cmocka_unit_test(test_model_sharded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
