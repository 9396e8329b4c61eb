/* write.c - the write path: every write is a batch of ops (store/op.h).
 *
 * Under the writer lock (taken for a whole group by commit.c) a batch is validated against the
 * store and its own earlier ops (so the log never holds an op that cannot apply), its timestamps
 * are resolved (so replay is a pure overwrite), it is queued in the WAL as one record and applied
 * in memory, where it becomes visible. commit.c then makes the group durable (durability always)
 * before any write of it is acknowledged.
 */
#include <inttypes.h>
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/err.h"
#include "vector/vindex.h"

/* What earlier ops of the batch being validated did, so that later ops are
 * checked against the store as the batch will leave it. Open addressing,
 * sized for the batch; only built for batches of two or more ops.
 * A concept's gen counts its deletes in the batch: an association entry
 * is current only if both endpoints' gens still match, and once an endpoint
 * was deleted the store's associations of it no longer count. */
struct overlay_slot {
	uint8_t key[33]; /* concept: id; association: source, target, type */
	uint8_t state;   /* 0 empty, 1 present, 2 absent */
	uint32_t gen_a, gen_b;
	uint64_t created_us;
	const char *content; /* a concept learned earlier in the batch */
	uint32_t content_len;
};

struct overlay {
	struct overlay_slot *slots;
	size_t mask;
};

static struct overlay_slot *overlay_get(struct overlay *ov, const uint8_t *key, size_t klen)
{
	if (!ov->slots)
		return NULL;
	uint8_t k[33] = {0};
	memcpy(k, key, klen);
	if (klen == 16)
		k[32] = 0xff; /* concept keys never equal association keys (type 0..4) */
	size_t i = (ld64(k) ^ ld64(k + 8) * 0x9e3779b97f4a7c15ULL ^
	            ld64(k + 16) * 0xc2b2ae3d27d4eb4fULL ^ ld64(k + 24) ^ k[32]) &
	           ov->mask;
	while (ov->slots[i].state && memcmp(ov->slots[i].key, k, 33) != 0)
		i = (i + 1) & ov->mask;
	if (!ov->slots[i].state)
		memcpy(ov->slots[i].key, k, 33);
	return &ov->slots[i];
}

/* Does the concept exist at this point of the batch? *created gets its
 * creation time when it does. */
static bool concept_exists(sutra_db *db, struct overlay *ov, const uint8_t *id, uint64_t *created)
{
	struct overlay_slot *s = overlay_get(ov, id, 16);

	if (s && s->state) {
		*created = s->created_us;
		return s->state == 1;
	}
	struct node *n = store_find(&db->store, id);
	*created = n ? n->created_us : 0;
	return n != NULL;
}

static uint32_t concept_gen(struct overlay *ov, const uint8_t *id)
{
	struct overlay_slot *s = overlay_get(ov, id, 16);

	return s && s->state ? s->gen_a : 0;
}

static void concept_set(struct overlay *ov, const uint8_t *id, int state, uint64_t created)
{
	struct overlay_slot *s = overlay_get(ov, id, 16);

	if (s) {
		if (state == 2)
			s->gen_a++;
		s->state = (uint8_t)state;
		s->created_us = created;
	}
}

static void edge_key(uint8_t *k, const struct op *o)
{
	memcpy(k, o->src, 16);
	memcpy(k + 16, o->dst, 16);
	k[32] = o->type;
}

static bool edge_exists(sutra_db *db, struct overlay *ov, const struct op *o)
{
	uint8_t k[33];
	uint32_t ga = concept_gen(ov, o->src), gb = concept_gen(ov, o->dst);

	edge_key(k, o);
	struct overlay_slot *s = overlay_get(ov, k, 33);
	if (s && s->state && s->gen_a == ga && s->gen_b == gb)
		return s->state == 1;
	if (ga || gb)
		return false;
	struct node *src = store_find(&db->store, o->src);
	return src && adj_has(src, ADJ_OUT, o->dst, o->type);
}

static void edge_set(struct overlay *ov, const struct op *o, int state)
{
	uint8_t k[33];

	edge_key(k, o);
	uint32_t ga = concept_gen(ov, o->src), gb = concept_gen(ov, o->dst);
	struct overlay_slot *s = overlay_get(ov, k, 33);
	if (s) {
		s->state = (uint8_t)state;
		s->gen_a = ga;
		s->gen_b = gb;
	}
}

/* SUTRA_LEARN_SAME_CONTENT: content-hash ids must never let two different
 * contents overwrite each other. */
static int check_same_content(sutra_db *db, struct overlay *ov, const struct op *o)
{
	struct overlay_slot *s = overlay_get(ov, o->id, 16);
	const char *have = NULL;
	uint32_t have_len = 0;
	char hex[SUTRA_ID_HEX];

	if (s && s->state == 1) {
		have = s->content;
		have_len = s->content_len;
	} else if (!(s && s->state == 2)) {
		struct node *n = store_find(&db->store, o->id);
		if (n) {
			have = n->content;
			have_len = n->content_len;
		}
	}
	if (!have || (have_len == o->content_len && memcmp(have, o->content, have_len) == 0))
		return 0;
	sutra_id_format((const sutra_id *)o->id, hex);
	return err_set(SUTRA_EEXIST, "content hash collision: id %s holds different content", hex);
}

static int check_learn(sutra_db *db, const struct op *o)
{
	if (o->dim && o->dim != db->opt.dimension)
		return err_set(SUTRA_EINVAL,
		               "vector dimension %u does not match the store's dimension %u",
		               o->dim, db->opt.dimension);
	if (o->content_len > db->opt.max_content_bytes)
		return err_set(SUTRA_ETOOBIG, "Content too large: %u bytes (max: %u)",
		               o->content_len, db->opt.max_content_bytes);
	if (o->meta_len > db->opt.max_meta_bytes)
		return err_set(SUTRA_ETOOBIG, "metadata too large: %u bytes (max_meta_bytes: %u)",
		               o->meta_len, db->opt.max_meta_bytes);
	return 0;
}

static int not_found(const char *what, const uint8_t *id, uint32_t k, uint32_t n)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format((const sutra_id *)id, hex);
	return n > 1 ? err_set(SUTRA_ENOTFOUND, "no such %s %s (op %u of %u)", what, hex, k + 1, n)
	             : err_set(SUTRA_ENOTFOUND, "no such %s %s", what, hex);
}

/* Validates op k (of n) and patches the timestamps of a learn op into buf. */
static int validate_op(sutra_db *db, struct overlay *ov, uint8_t *buf, const uint8_t *payload,
                       const struct op *o, uint32_t k, uint32_t n, uint64_t now)
{
	uint64_t created;
	int rc;

	switch (o->kind) {
	case OP_LEARN:
		if ((rc = check_learn(db, o)) < 0)
			return rc;
		if ((o->flags & OP_FLAG_SAME_CONTENT) && (rc = check_same_content(db, ov, o)) < 0)
			return rc;
		if (!concept_exists(db, ov, o->id, &created))
			created = now;
		st64(buf + (o->raw - payload) + 32, created);
		st64(buf + (o->raw - payload) + 40, now);
		concept_set(ov, o->id, 1, created);
		struct overlay_slot *slot = overlay_get(ov, o->id, 16);
		if (slot) {
			slot->content = o->content;
			slot->content_len = o->content_len;
		}
		return 0;
	case OP_DELETE:
		if (!concept_exists(db, ov, o->id, &created))
			return not_found("concept", o->id, k, n);
		concept_set(ov, o->id, 2, 0);
		return 0;
	case OP_ASSOC:
		if (!concept_exists(db, ov, o->src, &created))
			return not_found("source concept", o->src, k, n);
		if (!concept_exists(db, ov, o->dst, &created))
			return not_found("target concept", o->dst, k, n);
		edge_set(ov, o, 1);
		return 0;
	case OP_DISSOC:
		if (!edge_exists(db, ov, o))
			return not_found("association from", o->src, k, n);
		edge_set(ov, o, 2);
		return 0;
	default:
		return err_set(SUTRA_EINVAL, "unknown op kind %d", o->kind);
	}
}

static int validate_batch(sutra_db *db, struct opbuf *b, const uint8_t *payload, size_t len)
{
	struct overlay ov = {0};
	uint64_t now = clock_wall_us();
	size_t pos = OP_BATCH_HEADER;
	int rc = 0;

	if (b->count > 1) {
		size_t cap = 16;
		while (cap < (size_t)b->count * 4) /* up to 2 keys per op */
			cap *= 2;
		if (!(ov.slots = sutra_calloc(cap, sizeof *ov.slots)))
			return err_set(SUTRA_ENOMEM, "out of memory validating a batch");
		ov.mask = cap - 1;
	}
	for (uint32_t k = 0; k < b->count && rc == 0; k++) {
		struct op o;
		if ((rc = op_decode(payload + pos, len - pos, &o)) == 0)
			rc = validate_op(db, &ov, b->data, payload, &o, k, b->count, now);
		pos += o.size;
	}
	sutra_free(ov.slots);
	return rc;
}

/* Memory a batch needs, taken before it is logged so that applying it
 * cannot fail: the new concept versions and room in the table (and, for a
 * lone association, room in both adjacency arrays). */
struct prepared {
	struct node **nodes;
	uint32_t count, used;
};

static void prepared_free(struct prepared *p)
{
	for (uint32_t i = p->used; i < p->count; i++)
		sutra_free(p->nodes[i]);
	sutra_free(p->nodes);
}

static int prepare_lone_assoc(sutra_db *db, const struct op *o)
{
	struct node *src = store_find(&db->store, o->src), *dst = store_find(&db->store, o->dst);
	int rc = adj_reserve(&db->store, src, ADJ_OUT);

	return rc < 0 ? rc : adj_reserve(&db->store, dst, ADJ_IN);
}

static int prepare_batch(sutra_db *db, const struct opbuf *b, const uint8_t *payload, size_t len,
                         struct prepared *p)
{
	size_t pos = OP_BATCH_HEADER;
	int rc = 0;

	memset(p, 0, sizeof *p);
	if (!(p->nodes = sutra_calloc(b->count, sizeof *p->nodes)))
		return err_set(SUTRA_ENOMEM, "out of memory preparing a batch");
	for (uint32_t k = 0; k < b->count && rc == 0; k++) {
		struct op o;
		op_decode(payload + pos, len - pos, &o); /* validated already */
		pos += o.size;
		if (o.kind == OP_ASSOC && b->count == 1)
			rc = prepare_lone_assoc(db, &o);
		if (o.kind != OP_LEARN)
			continue;
		if (!(p->nodes[p->count] = node_new(&o, false)))
			rc = err_set(SUTRA_ENOMEM, "out of memory for a concept of %u bytes",
			             o.content_len);
		else
			p->count++;
	}
	if (rc == 0)
		rc = store_reserve(&db->store, p->count);
	for (uint32_t s = 0; s < db->nvx && rc == 0; s++) /* at most one note per op */
		rc = vindex_reserve(db->vx[s], b->count);
	return rc;
}

/* Does the op add, replace or remove a vector the index must follow? */
static bool vector_changes(sutra_db *db, const struct op *o)
{
	if (!db->nvx || (o->kind != OP_LEARN && o->kind != OP_DELETE))
		return false;
	if (o->kind == OP_LEARN && o->dim)
		return true;
	struct node *old = store_find(&db->store, o->id);
	return old && old->vec;
}

/* Applies a logged batch. Only a batch's association growth can still run
 * out of memory here; that leaves memory behind the log, so the store
 * turns read-only until it is reopened (the WAL has the whole batch). */
static int apply_batch(sutra_db *db, const uint8_t *payload, size_t len, uint64_t lsn,
                       struct prepared *p)
{
	size_t pos = OP_BATCH_HEADER;
	uint32_t count = ld32(payload);

	for (uint32_t k = 0; k < count; k++) {
		struct op o;
		int rc = op_decode(payload + pos, len - pos, &o);
		bool vector_change = rc == 0 && vector_changes(db, &o);
		if (rc == 0 && o.kind == OP_LEARN)
			rc = store_apply_node(&db->store, p->nodes[p->used++]);
		else if (rc == 0)
			rc = store_apply(&db->store, &o, false, false);
		if (rc == 0 && vector_change)
			vindex_note(db_vindex_for(db, o.id), o.id);
		if (rc < 0) {
			atomic_store(&db->apply_error, rc);
			return err_set(rc,
			               "applying lsn %" PRIu64 " op %u failed (%s); the write is "
			               "logged, the store is read-only until reopened",
			               lsn, k + 1, sutra_last_error());
		}
		pos += o.size;
	}
	return 0;
}

static int check_limits(sutra_db *db, const struct opbuf *b, size_t len)
{
	if (b->count > db->opt.max_batch_ops)
		return err_set(SUTRA_ETOOBIG, "Batch too large: %u items (max: %u)", b->count,
		               db->opt.max_batch_ops);
	if (len > db->opt.max_batch_bytes)
		return err_set(SUTRA_ETOOBIG,
		               "Batch too large: %zu bytes (max_batch_bytes: %" PRIu64 ")", len,
		               db->opt.max_batch_bytes);
	return 0;
}

static int writable(sutra_db *db)
{
	int e = atomic_load(&db->apply_error);

	if (atomic_load(&db->closing))
		return err_set(SUTRA_ECLOSED, "the store is closing");
	if (e)
		return err_set(
		    SUTRA_EREADONLY,
		    "the store is read-only after a failed in-memory apply (%s); reopen it",
		    sutra_strerror(e));
	e = log_error(db);
	if (e)
		return err_set(SUTRA_EREADONLY,
		               "the store is read-only after a failed WAL write or fsync (%s); "
		               "reopen it after fixing the disk",
		               sutra_strerror(e));
	return 0;
}

/* Logs the batch: to the single WAL, or to the shards it touches. */
static int log_batch(sutra_db *db, const uint8_t *payload, size_t len, uint64_t *lsn,
                     struct log_pos *pos)
{
	if (!db->nshards)
		return wal_append(db->wal, payload, len, lsn);
	int rc = shards_append(db, payload, len, pos);
	*lsn = pos->gsn;
	return rc;
}

int db_log_and_apply(sutra_db *db, struct opbuf *b, uint64_t *lsn, struct log_pos *pos)
{
	size_t len;
	const uint8_t *payload = opbuf_finish(b, &len);
	struct prepared prep = {0};
	int rc;

	if (!payload || b->count == 0)
		return err_set(SUTRA_EINVAL, "empty batch");
	if ((rc = check_limits(db, b, len)) == 0 && (rc = writable(db)) == 0 &&
	    (rc = validate_batch(db, b, payload, len)) == 0 &&
	    (rc = prepare_batch(db, b, payload, len, &prep)) == 0 &&
	    (rc = log_batch(db, payload, len, lsn, pos)) == 0)
		rc = apply_batch(db, payload, len, *lsn, &prep);
	prepared_free(&prep);
	if (rc == 0) {
		atomic_fetch_add_explicit(&db->ops_written, b->count, memory_order_relaxed);
		atomic_fetch_add_explicit(&db->records_written, 1, memory_order_relaxed);
		if (db->store.bin.count >= 4096)
			epoch_reclaim(&db->store.bin);
	}
	return rc;
}

/* ---- public single-op writes and batches --------------------------------- */

/* Runs one op through a stack-sized batch. */
#define ONE_OP(db, lsn, add)                                                                       \
	do {                                                                                       \
		struct opbuf b;                                                                    \
		int rc_;                                                                           \
		if ((rc_ = db_check_open(db)) < 0)                                                 \
			return rc_;                                                                \
		opbuf_init(&b);                                                                    \
		rc_ = (add);                                                                       \
		if (rc_ == 0)                                                                      \
			rc_ = db_commit(db, &b, lsn);                                              \
		opbuf_free(&b);                                                                    \
		return rc_;                                                                        \
	} while (0)

int sutra_learn(sutra_db *db, const sutra_concept_in *c, uint64_t *lsn)
{
	ONE_OP(db, lsn, opbuf_learn(&b, c));
}

int sutra_delete(sutra_db *db, const sutra_id *id, uint64_t *lsn)
{
	ONE_OP(db, lsn, id ? opbuf_delete(&b, id) : err_set(SUTRA_EINVAL, "delete: NULL id"));
}

int sutra_associate(sutra_db *db, const sutra_id *source, const sutra_id *target, unsigned type,
                    float confidence, uint64_t *lsn)
{
	ONE_OP(db, lsn,
	       source && target ? opbuf_assoc(&b, OP_ASSOC, source, target, type, confidence)
	                        : err_set(SUTRA_EINVAL, "associate: NULL id"));
}

int sutra_dissociate(sutra_db *db, const sutra_id *source, const sutra_id *target, unsigned type,
                     uint64_t *lsn)
{
	ONE_OP(db, lsn,
	       source && target ? opbuf_assoc(&b, OP_DISSOC, source, target, type, 0)
	                        : err_set(SUTRA_EINVAL, "dissociate: NULL id"));
}

struct sutra_batch {
	struct opbuf ops;
};

int sutra_batch_new(sutra_batch **out)
{
	sutra_batch *b = sutra_calloc(1, sizeof *b);

	if (!b)
		return err_set(SUTRA_ENOMEM, "out of memory for a batch");
	opbuf_init(&b->ops);
	*out = b;
	return 0;
}

void sutra_batch_free(sutra_batch *b)
{
	if (!b)
		return;
	opbuf_free(&b->ops);
	sutra_free(b);
}

void sutra_batch_clear(sutra_batch *b)
{
	opbuf_reset(&b->ops);
}

size_t sutra_batch_count(const sutra_batch *b)
{
	return b->ops.count;
}

int sutra_batch_learn(sutra_batch *b, const sutra_concept_in *c)
{
	return opbuf_learn(&b->ops, c);
}

int sutra_batch_delete(sutra_batch *b, const sutra_id *id)
{
	return id ? opbuf_delete(&b->ops, id) : err_set(SUTRA_EINVAL, "delete: NULL id");
}

int sutra_batch_associate(sutra_batch *b, const sutra_id *source, const sutra_id *target,
                          unsigned type, float confidence)
{
	if (!source || !target)
		return err_set(SUTRA_EINVAL, "associate: NULL id");
	return opbuf_assoc(&b->ops, OP_ASSOC, source, target, type, confidence);
}

int sutra_batch_dissociate(sutra_batch *b, const sutra_id *source, const sutra_id *target,
                           unsigned type)
{
	if (!source || !target)
		return err_set(SUTRA_EINVAL, "dissociate: NULL id");
	return opbuf_assoc(&b->ops, OP_DISSOC, source, target, type, 0);
}

int sutra_batch_commit_async(sutra_db *db, sutra_batch *b, sutra_commit_fn cb, void *arg)
{
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!b || !cb)
		return err_set(SUTRA_EINVAL, "batch_commit_async: NULL batch or callback");
	return db_commit_async(db, &b->ops, cb, arg);
}

int sutra_batch_commit(sutra_db *db, sutra_batch *b, uint64_t *lsn)
{
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!b)
		return err_set(SUTRA_EINVAL, "batch_commit: NULL batch");
	return db_commit(db, &b->ops, lsn);
}
