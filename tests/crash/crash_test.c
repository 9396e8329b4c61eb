/* crash_test.c - kill -9 at random moments under concurrent acknowledged writes, recover, verify.
 *
 * Each cycle forks a child that opens the store (durability always) and runs
 * four writer threads: learns of new concepts, updates of its own concepts
 * (a version bump), associations between its own earlier concepts, and
 * batches of five concepts plus the four associations chaining them. Every
 * id encodes (cycle, thread, operation counter, batch member) and every
 * content, vector and confidence is a function of the id and version, so
 * whatever is found after recovery can be checked on its own. After each
 * acknowledged write the thread appends one line to a side file with
 * write(2) on an O_APPEND descriptor. The parent sleeps 20-300 ms, SIGKILLs
 * the child, reopens the store and checks: every acknowledged write is
 * present with exactly the right content; every batch is whole or absent;
 * associations only join existing concepts; what an earlier recovery showed
 * is still there unchanged; and each thread shows at most one write it did
 * not log (the one in flight at the kill). The next cycle continues on the
 * recovered directory. Odd cycles use 1 MiB WAL segments and a checkpoint
 * every 1 MiB of WAL, so rotation and checkpoints happen under the kill.
 * Environment: SUTRA_CRASH_CYCLES (default 20), SUTRA_CRASH_SEED,
 * SUTRA_CRASH_RESET (start a fresh directory every N cycles, default 25),
 * SUTRA_CRASH_SHARDS (a sharded store of N shards: most associations and
 * every batch then span shards, so each is a two-phase commit).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define THREADS      4
#define DIM          4
#define BATCH_N      5
#define ID_MAGIC     0xC7
#define KIND_SINGLE  1
#define KIND_BATCH   2
#define LINE_MAX_LEN 160

/* ---- ids, contents and derived values -------------------------------------- */

struct idparts {
	int kind, cycle, thread, member;
	uint32_t counter;
};

static void make_id(const struct idparts *p, sutra_id *id)
{
	memset(id->b, 0x5A, sizeof id->b);
	id->b[0] = ID_MAGIC;
	id->b[1] = (uint8_t)p->kind;
	id->b[2] = (uint8_t)(p->cycle >> 8);
	id->b[3] = (uint8_t)p->cycle;
	id->b[4] = (uint8_t)p->thread;
	id->b[5] = (uint8_t)(p->counter >> 24);
	id->b[6] = (uint8_t)(p->counter >> 16);
	id->b[7] = (uint8_t)(p->counter >> 8);
	id->b[8] = (uint8_t)p->counter;
	id->b[9] = (uint8_t)p->member;
}

/* Returns 0 if id was made by make_id. */
static int split_id(const sutra_id *id, struct idparts *p)
{
	sutra_id again;

	p->kind = id->b[1];
	p->cycle = (id->b[2] << 8) | id->b[3];
	p->thread = id->b[4];
	p->counter = ((uint32_t)id->b[5] << 24) | ((uint32_t)id->b[6] << 16) |
	             ((uint32_t)id->b[7] << 8) | id->b[8];
	p->member = id->b[9];
	if (id->b[0] != ID_MAGIC || (p->kind != KIND_SINGLE && p->kind != KIND_BATCH) ||
	    p->thread >= THREADS || p->member >= BATCH_N)
		return -1;
	make_id(p, &again);
	return memcmp(&again, id, sizeof again) ? -1 : 0;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	h ^= 0xcbf29ce484222325ULL;
	for (size_t k = 0; k < n; k++)
		h = (h ^ b[k]) * 0x100000001b3ULL;
	return tu_rand(&h);
}

/* The content of (id, version); returns its length. buf holds 8 KiB. */
static size_t make_content(const sutra_id *id, long ver, char *buf)
{
	char hex[SUTRA_ID_HEX];
	uint64_t h = hash_bytes(id, sizeof *id, (uint64_t)ver);
	size_t pad = id->b[1] == KIND_SINGLE ? h % 4000 : h % 400;
	int n;

	sutra_id_format(id, hex);
	n = snprintf(buf, 64, "id=%s v=%ld ", hex, ver);
	for (size_t k = 0; k < pad; k++)
		buf[n + k] = (char)('a' + (tu_rand(&h) % 26));
	buf[n + pad] = '\0';
	return (size_t)n + pad;
}

static void make_vector(const sutra_id *id, long ver, float *v)
{
	uint64_t h = hash_bytes(id, sizeof *id, 7);

	for (int k = 0; k < DIM; k++)
		v[k] = (float)((h >> (8 * k)) & 0xff) + (float)ver;
}

static float assoc_conf(const sutra_id *s, const sutra_id *t, unsigned type)
{
	uint8_t key[33];

	memcpy(key, s, 16);
	memcpy(key + 16, t, 16);
	key[32] = (uint8_t)type;
	return (float)(hash_bytes(key, sizeof key, 3) % 1001) / 1000.0f;
}

static unsigned chain_type(int member)
{
	return (unsigned)member % SUTRA_ASSOC_TYPES;
}

static void batch_member(const sutra_id *first, int member, sutra_id *out)
{
	*out = *first;
	out->b[9] = (uint8_t)member;
}

static void store_options(sutra_options *o, int cycle)
{
	sutra_options_init(o);
	o->dimension = DIM;
	o->durability = SUTRA_DURABILITY_ALWAYS;
	o->shards = (uint32_t)tu_env_long("SUTRA_CRASH_SHARDS", 0);
	if (cycle % 2) {
		o->wal_segment_bytes = 1u << 20;
		o->checkpoint_wal_bytes = 1u << 20;
	}
}

/* ---- the child: writer threads ------------------------------------------------- */

struct own {
	sutra_id id;
	long ver;
	int single;
};

struct writer {
	sutra_db *db;
	int cycle, thread, side_fd;
	uint64_t rng;
	uint32_t counter;
	struct own *own;
	size_t n_own, cap_own;
};

static void die_child(struct writer *w, const char *what, int rc)
{
	char line[LINE_MAX_LEN + 256];
	int n = snprintf(line, sizeof line, "E %s rc=%d %s\n", what, rc, sutra_last_error());

	if (write(w->side_fd, line, (size_t)n) < 0)
		_exit(4);
	_exit(3);
}

static void log_line(struct writer *w, const char *line)
{
	size_t n = strlen(line);

	if (write(w->side_fd, line, n) != (ssize_t)n)
		_exit(5);
}

static void add_own(struct writer *w, const sutra_id *id, long ver, int single)
{
	if (w->n_own == w->cap_own) {
		w->cap_own = w->cap_own ? w->cap_own * 2 : 256;
		w->own = realloc(w->own, w->cap_own * sizeof *w->own);
		if (!w->own)
			_exit(6);
	}
	w->own[w->n_own++] = (struct own){*id, ver, single};
}

static void fill_concept(sutra_concept_in *c, const sutra_id *id, long ver, char *buf, float *vec)
{
	memset(c, 0, sizeof *c);
	c->id = *id;
	c->content_len = make_content(id, ver, buf);
	c->content = buf;
	make_vector(id, ver, vec);
	c->vector = vec;
	c->vector_dim = DIM;
	c->strength = (float)ver;
	c->confidence = 0.5f;
}

static void do_learn(struct writer *w, struct own *upd)
{
	static _Thread_local char buf[8192];
	char hex[SUTRA_ID_HEX], line[LINE_MAX_LEN];
	struct idparts p = {KIND_SINGLE, w->cycle, w->thread, 0, w->counter};
	sutra_concept_in c;
	float vec[DIM];
	sutra_id id;
	long ver = upd ? upd->ver + 1 : 0;
	int rc;

	if (upd)
		id = upd->id;
	else
		make_id(&p, &id);
	fill_concept(&c, &id, ver, buf, vec);
	if ((rc = sutra_learn(w->db, &c, NULL)) != 0)
		die_child(w, "learn", rc);
	sutra_id_format(&id, hex);
	snprintf(line, sizeof line, "L %s %ld\n", hex, ver);
	log_line(w, line);
	if (upd)
		upd->ver = ver;
	else
		add_own(w, &id, ver, 1);
}

static void do_associate(struct writer *w)
{
	const struct own *a = &w->own[tu_rand(&w->rng) % w->n_own];
	const struct own *b = &w->own[tu_rand(&w->rng) % w->n_own];
	unsigned type = (unsigned)(tu_rand(&w->rng) % SUTRA_ASSOC_TYPES);
	char ha[SUTRA_ID_HEX], hb[SUTRA_ID_HEX], line[LINE_MAX_LEN];
	int rc =
	    sutra_associate(w->db, &a->id, &b->id, type, assoc_conf(&a->id, &b->id, type), NULL);

	if (rc != 0)
		die_child(w, "associate", rc);
	sutra_id_format(&a->id, ha);
	sutra_id_format(&b->id, hb);
	snprintf(line, sizeof line, "A %s %s %u\n", ha, hb, type);
	log_line(w, line);
}

static void do_batch(struct writer *w, sutra_batch *b)
{
	static _Thread_local char buf[BATCH_N][8192];
	struct idparts p = {KIND_BATCH, w->cycle, w->thread, 0, w->counter};
	char hex[SUTRA_ID_HEX], line[LINE_MAX_LEN];
	sutra_id ids[BATCH_N];
	float vec[BATCH_N][DIM];
	sutra_concept_in c;
	int rc;

	sutra_batch_clear(b);
	for (int k = 0; k < BATCH_N; k++) {
		p.member = k;
		make_id(&p, &ids[k]);
		fill_concept(&c, &ids[k], 0, buf[k], vec[k]);
		if ((rc = sutra_batch_learn(b, &c)) != 0)
			die_child(w, "batch_learn", rc);
	}
	for (int k = 0; k + 1 < BATCH_N; k++) {
		unsigned t = chain_type(k);

		rc = sutra_batch_associate(b, &ids[k], &ids[k + 1], t,
		                           assoc_conf(&ids[k], &ids[k + 1], t));
		if (rc != 0)
			die_child(w, "batch_associate", rc);
	}
	if ((rc = sutra_batch_commit(w->db, b, NULL)) != 0)
		die_child(w, "batch_commit", rc);
	sutra_id_format(&ids[0], hex);
	snprintf(line, sizeof line, "B %s\n", hex);
	log_line(w, line);
	for (int k = 0; k < BATCH_N; k++)
		add_own(w, &ids[k], 0, 0);
}

static struct own *pick_single(struct writer *w)
{
	for (int tries = 0; tries < 8 && w->n_own; tries++) {
		struct own *o = &w->own[tu_rand(&w->rng) % w->n_own];

		if (o->single)
			return o;
	}
	return NULL;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	sutra_batch *b;

	if (sutra_batch_new(&b) != 0)
		die_child(w, "batch_new", SUTRA_ENOMEM);
	for (;;) {
		uint64_t p = tu_rand(&w->rng) % 100;
		struct own *o;

		w->counter++;
		if (p < 40)
			do_learn(w, NULL);
		else if (p < 55 && (o = pick_single(w)) != NULL)
			do_learn(w, o);
		else if (p < 80 && w->n_own >= 2)
			do_associate(w);
		else
			do_batch(w, b);
	}
	return NULL;
}

static void child_main(const char *dir, const char *side, int cycle, uint64_t seed)
{
	static struct writer w[THREADS];
	pthread_t th[THREADS];
	sutra_options o;
	sutra_db *db;
	int fd = open(side, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), rc;

	if (fd < 0)
		_exit(7);
	store_options(&o, cycle);
	if ((rc = sutra_open(dir, &o, &db)) != 0) {
		w[0].side_fd = fd;
		die_child(&w[0], "open", rc);
	}
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct writer){.db = db, .cycle = cycle, .thread = t, .side_fd = fd};
		w[t].rng = seed ^ ((uint64_t)cycle << 32) ^ (uint64_t)t * 0x9e3779b97f4a7c15ULL;
		if (pthread_create(&th[t], NULL, writer_main, &w[t]) != 0)
			_exit(8);
	}
	for (;;)
		pause();
}

/* ---- the parent: a small hash table --------------------------------------------- */

struct htab {
	size_t klen, cap, n;
	uint8_t *keys, *used;
	long *vals;
};

static void ht_init(struct htab *h, size_t klen)
{
	memset(h, 0, sizeof *h);
	h->klen = klen;
}

static void ht_free(struct htab *h)
{
	free(h->keys);
	free(h->used);
	free(h->vals);
	ht_init(h, h->klen);
}

static size_t ht_slot(const struct htab *h, const void *key)
{
	size_t i = hash_bytes(key, h->klen, 0) & (h->cap - 1);

	while (h->used[i] && memcmp(h->keys + i * h->klen, key, h->klen) != 0)
		i = (i + 1) & (h->cap - 1);
	return i;
}

static long *ht_find(const struct htab *h, const void *key)
{
	size_t i;

	if (!h->cap)
		return NULL;
	i = ht_slot(h, key);
	return h->used[i] ? &h->vals[i] : NULL;
}

static void ht_put(struct htab *h, const void *key, long val);

static void ht_grow(struct htab *h)
{
	struct htab old = *h;

	h->cap = old.cap ? old.cap * 2 : 1024;
	h->n = 0;
	h->keys = malloc(h->cap * h->klen);
	h->used = calloc(h->cap, 1);
	h->vals = malloc(h->cap * sizeof *h->vals);
	if (!h->keys || !h->used || !h->vals)
		abort();
	for (size_t i = 0; i < old.cap; i++)
		if (old.used[i])
			ht_put(h, old.keys + i * old.klen, old.vals[i]);
	ht_free(&old);
}

static void ht_put(struct htab *h, const void *key, long val)
{
	size_t i;

	if ((h->n + 1) * 2 > h->cap)
		ht_grow(h);
	i = ht_slot(h, key);
	if (!h->used[i]) {
		h->used[i] = 1;
		memcpy(h->keys + i * h->klen, key, h->klen);
		h->n++;
	}
	h->vals[i] = val;
}

static void edge_key(const sutra_id *s, const sutra_id *t, unsigned type, uint8_t key[33])
{
	memcpy(key, s, 16);
	memcpy(key + 16, t, 16);
	key[32] = (uint8_t)type;
}

/* ---- the parent: verification ------------------------------------------------------ */

struct state {
	struct htab concepts; /* id -> version */
	struct htab edges;    /* src|dst|type -> 1 */
};

struct verify {
	int cycle;
	long errors;
	struct state obs;
	struct state logged;          /* acknowledged in this cycle */
	struct htab phantom[THREADS]; /* distinct unlogged operations per thread */
	long acked, verified;
};

static void fail(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	if (++v->errors > 30)
		return;
	fprintf(stderr, "CRASH cycle %d: ", v->cycle);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void state_init(struct state *s)
{
	ht_init(&s->concepts, 16);
	ht_init(&s->edges, 33);
}

static void state_free(struct state *s)
{
	ht_free(&s->concepts);
	ht_free(&s->edges);
}

/* Reads "id=<hex> v=<n> " and checks the whole content, vector and floats. */
static void check_view(struct verify *v, const sutra_concept *c, long *ver)
{
	static char want[8192];
	char hex[SUTRA_ID_HEX], got_hex[SUTRA_ID_HEX];
	float vec[DIM];
	size_t n;

	sutra_id_format(&c->id, hex);
	*ver = -1;
	if (sscanf(c->content, "id=%32s v=%ld ", got_hex, ver) != 2 || strcmp(hex, got_hex) != 0) {
		fail(v, "concept %s: content does not start with its id: %.60s", hex, c->content);
		return;
	}
	n = make_content(&c->id, *ver, want);
	if (c->content_len != n || memcmp(c->content, want, n) != 0)
		fail(v, "concept %s v%ld: content differs (len %zu, want %zu)", hex, *ver,
		     c->content_len, n);
	make_vector(&c->id, *ver, vec);
	if (!c->vector || c->vector_dim != DIM || memcmp(c->vector, vec, sizeof vec) != 0)
		fail(v, "concept %s v%ld: vector differs", hex, *ver);
	if (c->strength != (float)*ver || c->confidence != 0.5f)
		fail(v, "concept %s v%ld: strength/confidence differ", hex, *ver);
}

static int scan_cb(void *ctx, const sutra_concept *c)
{
	struct verify *v = ctx;
	struct idparts p;
	char hex[SUTRA_ID_HEX];
	long ver;

	sutra_id_format(&c->id, hex);
	if (split_id(&c->id, &p) != 0) {
		fail(v, "scan: unknown id %s", hex);
		return 0;
	}
	check_view(v, c, &ver);
	if (ht_find(&v->obs.concepts, &c->id))
		fail(v, "scan: id %s seen twice", hex);
	ht_put(&v->obs.concepts, &c->id, ver);
	return 0;
}

static int assoc_cb(void *ctx, const sutra_id *s, const sutra_id *t, unsigned type, float conf)
{
	struct verify *v = ctx;
	char hs[SUTRA_ID_HEX], ht[SUTRA_ID_HEX];
	struct idparts ps, pt;
	uint8_t key[33];

	sutra_id_format(s, hs);
	sutra_id_format(t, ht);
	if (split_id(s, &ps) || split_id(t, &pt) || ps.cycle != pt.cycle || ps.thread != pt.thread)
		fail(v, "association %s -> %s joins foreign ids", hs, ht);
	if (!ht_find(&v->obs.concepts, s) || !ht_find(&v->obs.concepts, t))
		fail(v, "association %s -> %s/%u: an endpoint does not exist", hs, ht, type);
	if (type >= SUTRA_ASSOC_TYPES || conf != assoc_conf(s, t, type))
		fail(v, "association %s -> %s: type %u confidence %g wrong", hs, ht, type,
		     (double)conf);
	edge_key(s, t, type, key);
	if (ht_find(&v->obs.edges, key))
		fail(v, "association %s -> %s/%u reported twice", hs, ht, type);
	ht_put(&v->obs.edges, key, 1);
	return 0;
}

static void log_concept(struct verify *v, const sutra_id *id, long ver)
{
	long *old = ht_find(&v->logged.concepts, id);

	if (!old || *old < ver)
		ht_put(&v->logged.concepts, id, ver);
}

static void log_batch(struct verify *v, const sutra_id *first)
{
	sutra_id m[BATCH_N];
	uint8_t key[33];

	for (int k = 0; k < BATCH_N; k++) {
		batch_member(first, k, &m[k]);
		log_concept(v, &m[k], 0);
	}
	for (int k = 0; k + 1 < BATCH_N; k++) {
		edge_key(&m[k], &m[k + 1], chain_type(k), key);
		ht_put(&v->logged.edges, key, 1);
	}
}

/* Parses the side file of this cycle (a child's error line is a failure). */
static void parse_side(struct verify *v, const char *side)
{
	FILE *f = fopen(side, "r");
	char line[LINE_MAX_LEN + 256], a[64], b[64];
	sutra_id x, y;
	long ver;
	unsigned type;
	uint8_t key[33];

	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (!strchr(line, '\n'))
			break; /* a torn last line: not acknowledged */
		v->acked += line[0] != 'E';
		if (line[0] == 'E') {
			fail(v, "child reported: %s", line);
		} else if (sscanf(line, "L %63s %ld", a, &ver) == 2) {
			sutra_id_parse(a, strlen(a), &x);
			log_concept(v, &x, ver);
		} else if (sscanf(line, "A %63s %63s %u", a, b, &type) == 3) {
			sutra_id_parse(a, strlen(a), &x);
			sutra_id_parse(b, strlen(b), &y);
			edge_key(&x, &y, type, key);
			ht_put(&v->logged.edges, key, 1);
		} else if (sscanf(line, "B %63s", a) == 1) {
			sutra_id_parse(a, strlen(a), &x);
			log_batch(v, &x);
		} else {
			fail(v, "bad side line: %s", line);
		}
	}
	fclose(f);
}

/* Records an unlogged operation of thread t; more than one is an error. */
static void phantom(struct verify *v, int t, uint64_t op, const char *what, const char *hex)
{
	ht_put(&v->phantom[t], &op, 1);
	if (v->phantom[t].n > 1)
		fail(v, "thread %d shows %zu unacknowledged operations (latest: %s %s)", t,
		     v->phantom[t].n, what, hex);
}

/* Every acknowledged or previously recovered concept is there, no more. */
static void check_concepts(struct verify *v, const struct state *expect)
{
	const struct htab *o = &v->obs.concepts;

	for (size_t i = 0; i < o->cap; i++) {
		const sutra_id *id = (const sutra_id *)(o->keys + i * o->klen);
		long *old, *acked, ver = o->vals[i];
		char hex[SUTRA_ID_HEX];
		struct idparts p;

		if (!o->used[i])
			continue;
		sutra_id_format(id, hex);
		split_id(id, &p);
		old = ht_find(&expect->concepts, id);
		acked = ht_find(&v->logged.concepts, id);
		if (p.cycle != v->cycle) {
			if (!old || *old != ver)
				fail(v, "%s from cycle %d: version %ld, recovered before as %ld",
				     hex, p.cycle, ver, old ? *old : -1);
		} else if (!acked) {
			phantom(v, p.thread, (uint64_t)p.counter << 8 | 1, "learn", hex);
		} else if (ver > *acked + 1 || ver < *acked) {
			fail(v, "%s: version %ld, acknowledged %ld", hex, ver, *acked);
		} else if (ver == *acked + 1) {
			phantom(v, p.thread, hash_bytes(id, 16, (uint64_t)ver), "update", hex);
		}
	}
}

static int is_chain_edge(const uint8_t key[33], uint32_t *counter)
{
	struct idparts ps, pt;

	if (split_id((const sutra_id *)key, &ps) || split_id((const sutra_id *)(key + 16), &pt))
		return 0;
	*counter = ps.counter;
	return ps.kind == KIND_BATCH && pt.kind == KIND_BATCH && ps.counter == pt.counter &&
	       pt.member == ps.member + 1 && key[32] == chain_type(ps.member);
}

static void check_edges(struct verify *v, const struct state *expect)
{
	const struct htab *o = &v->obs.edges;

	for (size_t i = 0; i < o->cap; i++) {
		const uint8_t *key = o->keys + i * o->klen;
		char hex[SUTRA_ID_HEX];
		struct idparts p;
		uint32_t counter;

		if (!o->used[i] || ht_find(&expect->edges, key) || ht_find(&v->logged.edges, key))
			continue;
		sutra_id_format((const sutra_id *)key, hex);
		split_id((const sutra_id *)key, &p);
		if (p.cycle != v->cycle)
			fail(v, "association from %s (cycle %d) appeared after its cycle", hex,
			     p.cycle);
		else if (is_chain_edge(key, &counter))
			phantom(v, p.thread, (uint64_t)counter << 8 | 1, "batch edge", hex);
		else
			phantom(v, p.thread, hash_bytes(key, 33, 1), "associate", hex);
	}
}

/* Nothing acknowledged (now or in an earlier recovery) is missing. */
static void check_missing(struct verify *v, const struct htab *want, int edges)
{
	for (size_t i = 0; i < want->cap; i++) {
		const uint8_t *key = want->keys + i * want->klen;
		long *got;
		char hex[SUTRA_ID_HEX];

		if (!want->used[i])
			continue;
		got = ht_find(edges ? &v->obs.edges : &v->obs.concepts, key);
		sutra_id_format((const sutra_id *)key, hex);
		if (!got)
			fail(v, "acknowledged %s %s is missing",
			     edges ? "association from" : "concept", hex);
		else if (!edges && *got < want->vals[i])
			fail(v, "concept %s: version %ld older than acknowledged %ld", hex, *got,
			     want->vals[i]);
		else
			v->verified++;
	}
}

/* A batch member implies the whole batch. */
static void check_batches(struct verify *v)
{
	const struct htab *o = &v->obs.concepts;

	for (size_t i = 0; i < o->cap; i++) {
		const sutra_id *id = (const sutra_id *)(o->keys + i * o->klen);
		sutra_id m[BATCH_N];
		uint8_t key[33];
		char hex[SUTRA_ID_HEX];

		if (!o->used[i] || id->b[1] != KIND_BATCH || id->b[9] != 0)
			continue;
		sutra_id_format(id, hex);
		for (int k = 0; k < BATCH_N; k++)
			batch_member(id, k, &m[k]);
		for (int k = 0; k < BATCH_N; k++)
			if (!ht_find(o, &m[k]))
				fail(v, "partial batch %s: member %d missing", hex, k);
		for (int k = 0; k + 1 < BATCH_N; k++) {
			edge_key(&m[k], &m[k + 1], chain_type(k), key);
			if (!ht_find(&v->obs.edges, key))
				fail(v, "partial batch %s: association %d missing", hex, k);
		}
	}
	for (size_t i = 0; i < o->cap; i++) {
		const sutra_id *id = (const sutra_id *)(o->keys + i * o->klen);
		sutra_id first;

		if (o->used[i] && id->b[1] == KIND_BATCH && id->b[9] != 0) {
			batch_member(id, 0, &first);
			if (!ht_find(o, &first))
				fail(v, "partial batch: member %d present without member 0",
				     id->b[9]);
		}
	}
}

static void check_stats(struct verify *v, sutra_db *db, sutra_stats *st)
{
	int rc = sutra_stats_get(db, st);

	if (rc != 0 || st->concepts != v->obs.concepts.n || st->associations != v->obs.edges.n)
		fail(v,
		     "stats rc %d: %" PRIu64 " concepts %" PRIu64
		     " associations, scans saw %zu %zu",
		     rc, st->concepts, st->associations, v->obs.concepts.n, v->obs.edges.n);
}

/* Opens the recovered store and checks it against expect; adopts what it saw. */
static long verify_cycle(const char *dir, const char *side, int cycle, struct state *expect,
                         int killed_ms, long *acked)
{
	struct verify v = {.cycle = cycle};
	sutra_options o;
	sutra_stats st = {0};
	sutra_db *db;
	int rc;

	state_init(&v.obs);
	state_init(&v.logged);
	for (int t = 0; t < THREADS; t++)
		ht_init(&v.phantom[t], 8);
	parse_side(&v, side);
	store_options(&o, cycle);
	if ((rc = sutra_open(dir, &o, &db)) != 0) {
		fail(&v, "reopen failed: %d %s", rc, sutra_last_error());
		goto out;
	}
	if ((rc = sutra_scan(db, scan_cb, &v)) != 0)
		fail(&v, "scan returned %d", rc);
	if ((rc = sutra_scan_associations(db, assoc_cb, &v)) != 0)
		fail(&v, "scan_associations returned %d", rc);
	check_concepts(&v, expect);
	check_edges(&v, expect);
	check_missing(&v, &expect->concepts, 0);
	check_missing(&v, &expect->edges, 1);
	check_missing(&v, &v.logged.concepts, 0);
	check_missing(&v, &v.logged.edges, 1);
	check_batches(&v);
	check_stats(&v, db, &st);
	if ((rc = sutra_close(db)) != 0)
		fail(&v, "close returned %d", rc);
	state_free(expect);
	*expect = v.obs;
	state_init(&v.obs);
out:
	printf("cycle %3d (%s): killed after %3d ms, acked %5ld, verified %6ld, store %7" PRIu64
	       " concepts %7" PRIu64 " assoc, replayed %" PRIu64 " torn %" PRIu64 " B%s\n",
	       cycle, cycle % 2 ? "small wal" : "default  ", killed_ms, v.acked, v.verified,
	       st.concepts, st.associations, st.recovery_replayed, st.recovery_torn_bytes,
	       v.errors ? "  FAILED" : "");
	fflush(stdout);
	*acked += v.acked;
	state_free(&v.obs);
	state_free(&v.logged);
	for (int t = 0; t < THREADS; t++)
		ht_free(&v.phantom[t]);
	return v.errors;
}

/* ---- the parent: cycles --------------------------------------------------------------- */

/* Runs one child and kills it; returns the delay, or -1 if it died on its own. */
static int run_child(const char *dir, const char *side, int cycle, uint64_t *rng, uint64_t seed)
{
	int delay = 20 + (int)(tu_rand(rng) % 281), status;
	struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0)
		child_main(dir, side, cycle, seed);
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		fprintf(stderr, "CRASH cycle %d: child ended by itself (status 0x%x)\n", cycle,
		        status);
		return -1;
	}
	return delay;
}

int main(void)
{
	long cycles = tu_env_long("SUTRA_CRASH_CYCLES", 20);
	long reset = tu_env_long("SUTRA_CRASH_RESET", 25);
	uint64_t seed = (uint64_t)tu_env_long("SUTRA_CRASH_SEED", 1), rng = seed;
	char *dir = NULL, *sides = tu_mkdtemp("crash-side");
	long errors = 0, acked_total = 0;
	struct state expect;

	if (reset < 1)
		reset = 1;
	state_init(&expect);
	printf("crash: %ld cycles, seed %" PRIu64 ", %d writer threads\n", cycles, seed, THREADS);
	for (int c = 0; c < cycles && errors == 0; c++) {
		char name[32], *side;
		int delay;

		if (c % reset == 0) {
			if (dir) {
				tu_rmrf(dir);
				free(dir);
			}
			dir = tu_mkdtemp("crash");
			state_free(&expect);
		}
		snprintf(name, sizeof name, "side-%d.log", c);
		side = tu_path(sides, name);
		delay = run_child(dir, side, c, &rng, seed);
		if (delay < 0)
			errors++;
		errors += verify_cycle(dir, side, c, &expect, delay, &acked_total);
		free(side);
	}
	if (errors == 0 && acked_total == 0) {
		fprintf(stderr, "CRASH: no write was ever acknowledged; the test proved nothing\n");
		errors++;
	}
	printf("crash: %s (%ld errors; store kept at %s on failure)\n", errors ? "FAILED" : "ok",
	       errors, dir ? dir : "-");
	state_free(&expect);
	if (errors == 0) {
		tu_rmrf(dir);
		tu_rmrf(sides);
	}
	free(dir);
	free(sides);
	return errors ? 1 : 0;
}
