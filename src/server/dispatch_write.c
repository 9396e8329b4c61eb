/* dispatch_write.c - the write requests: learn, associate, delete, batches,
 * and the blocking calls (Flush, Sync, Checkpoint).
 *
 * Every write becomes one engine batch committed with
 * sutra_batch_commit_async, so the event loop never waits for the log or
 * an fsync: the engine calls commit_done on its own thread once the batch is
 * applied and durable (or failed), and that only records the outcome in the
 * request's completion slot (the connection's c->cur at submission) and
 * posts the slot to its worker. What the reply needs later (content hashes,
 * ids) is copied into the slot's pend at submission, because the frame the
 * request was decoded from is gone by the time the reply is built. A batch
 * is one atomic unit, so LearnBatch, LearnConcepts and LearnAssociations are
 * all-or-nothing.
 *
 * Writes of one connection may be in flight together (conn.c); the engine
 * applies them in submission order and validates each against the store as
 * it is then, so a write may rely on an earlier one still in flight. That
 * is why LearnAssociation checks its endpoints up front (for a clear
 * message without a trip to the engine) only when nothing is in flight, and
 * otherwise lets the engine's check decide and words its error the same.
 *
 * Content-hash ids (LearnConceptV2, LearnBatch) are learned with
 * SUTRA_LEARN_SAME_CONTENT: a different content under the same hash is
 * refused by the engine ("content hash collision ...") instead of silently
 * replacing the other concept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/dispatch.h"
#include "server/log.h"

/* ---- submission ---------------------------------------------------------- */

/* Runs on an engine thread: records the outcome, posts the slot. */
static void commit_done(void *arg, int rc, uint64_t lsn, const char *msg)
{
	struct slot *s = arg;

	s->done.rc = rc;
	s->done.value = lsn;
	if (rc < 0 && msg)
		snprintf(s->done.msg, sizeof s->done.msg, "%s", msg);
	else
		s->done.msg[0] = 0;
	worker_post_done(s);
}

/* Releases what slot s holds for a request answered at once. */
static void drop(struct slot *s)
{
	sutra_batch_free(s->batch);
	s->batch = NULL;
	dispatch_pending_free(&s->pend);
}

static int fail(struct slot *s, struct mpbuf *out, int enc, int rc)
{
	const char *msg = sutra_last_error();

	rb_error(out, enc, "%s", msg && *msg ? msg : sutra_strerror(rc));
	drop(s);
	return DISPATCH_DONE;
}

/* An empty batch for this request in slot s: the slot's previous one,
 * cleared, when it kept one (only small ones are kept, see conn.c). */
static int begin(struct slot *s, int kind, int enc)
{
	dispatch_pending_free(&s->pend);
	s->pend.kind = kind;
	s->pend.enc = enc;
	if (s->batch) {
		sutra_batch_clear(s->batch);
		return 0;
	}
	return sutra_batch_new(&s->batch);
}

/* Hands the batch to the engine. An empty batch (an empty list in a batch
 * request) has nothing to log and is answered at once, with sequence 0. */
static int submit(struct conn *c, struct slot *s, struct mpbuf *out)
{
	if (sutra_batch_count(s->batch) == 0) {
		s->done.rc = 0;
		s->done.value = 0;
		dispatch_write_finish(s, out);
		drop(s);
		return DISPATCH_DONE;
	}
	int rc = sutra_batch_commit_async(c->w->srv->db, s->batch, commit_done, s);
	return rc < 0 ? fail(s, out, s->pend.enc, rc) : DISPATCH_INFLIGHT;
}

static void parse_id(const struct pstr *s, sutra_id *out)
{
	sutra_id_parse(s->p, s->n, out);
}

/* ---- learning ------------------------------------------------------------ */

static void note_options(struct server *s, const struct learn_options *o)
{
	if (o->generate_embedding && !atomic_exchange(&s->warned_embedding, true)) {
		if (s->cfg.embedding_service_url[0])
			log_warn("generate_embedding requested but the embedding service (%s) is "
			         "not used yet; learned without a vector",
			         s->cfg.embedding_service_url);
		else
			log_warn("generate_embedding requested but no embedding service is "
			         "configured; learned without a vector");
	}
	if (o->extract_associations && !atomic_exchange(&s->warned_extract, true))
		log_warn("extract_associations requested but association extraction is not "
		         "available on this server; learned without extracting associations");
}

/* Adds a content-hash learn; returns the hash in *h. */
static int add_by_content(sutra_batch *b, const struct pstr *content, const struct learn_options *o,
                          uint64_t *h)
{
	sutra_concept_in ci = {
	    .content = content->p,
	    .content_len = content->n,
	    .strength = o->strength,
	    .confidence = o->confidence,
	    .flags = SUTRA_LEARN_SAME_CONTENT,
	};

	sutra_id_from_content(content->p, content->n, &ci.id);
	*h = sutra_content_hash(content->p, content->n);
	return sutra_batch_learn(b, &ci);
}

static int learn_v2(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	int rc = begin(s, r->kind, c->enc);

	note_options(c->w->srv, &r->u.learn_v2.opt);
	if (rc == 0)
		rc = add_by_content(s->batch, &r->u.learn_v2.content, &r->u.learn_v2.opt,
		                    &s->pend.hash);
	return rc < 0 ? fail(s, out, c->enc, rc) : submit(c, s, out);
}

static int learn_batch(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	uint32_t n = r->u.learn_batch.count;
	int rc = begin(s, r->kind, c->enc);

	note_options(c->w->srv, &r->u.learn_batch.opt);
	if (rc == 0 && !(s->pend.hashes = malloc((n ? n : 1) * sizeof *s->pend.hashes)))
		rc = SUTRA_ENOMEM;
	s->pend.count = n;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = add_by_content(s->batch, &r->u.learn_batch.contents[i], &r->u.learn_batch.opt,
		                    &s->pend.hashes[i]);
	return rc < 0 ? fail(s, out, c->enc, rc) : submit(c, s, out);
}

static bool dim_ok(struct conn *c, struct mpbuf *out, int enc, uint32_t dim, const char *what)
{
	uint32_t want = c->w->srv->cfg.engine.dimension;

	if (dim == want)
		return true;
	rb_error(out, enc, "%s dimension mismatch: got %u, the store's dimension is %u", what, dim,
	         want);
	return false;
}

static int learn_concept(struct conn *c, const struct request *r, struct mpbuf *out)
{
	sutra_concept_in ci = {
	    .content = r->u.learn_concept.content.p,
	    .content_len = r->u.learn_concept.content.n,
	    .vector = r->u.learn_concept.embedding,
	    .vector_dim = r->u.learn_concept.embedding ? r->u.learn_concept.dim : 0,
	    .strength = r->u.learn_concept.strength,
	    .confidence = r->u.learn_concept.confidence,
	};

	struct slot *s = c->cur;

	if (ci.vector && !dim_ok(c, out, c->enc, ci.vector_dim, "Embedding"))
		return DISPATCH_DONE;
	parse_id(&r->u.learn_concept.id, &ci.id);
	int rc = begin(s, r->kind, c->enc);
	if (rc == 0)
		rc = sutra_batch_learn(s->batch, &ci);
	return rc < 0 ? fail(s, out, c->enc, rc) : submit(c, s, out);
}

/* ---- associations and deletes -------------------------------------------- */

/* The endpoint of an association that does not exist, or NULL. */
static const sutra_id *missing_endpoint(sutra_db *db, const sutra_id *src, const sutra_id *dst)
{
	if (!sutra_exists(db, src))
		return src;
	return sutra_exists(db, dst) ? NULL : dst;
}

static void missing_error(struct mpbuf *out, int enc, const sutra_id *missing, bool source)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(missing, hex);
	rb_error(out, enc, "%s concept %s not found", source ? "source" : "target", hex);
}

static int learn_association(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	sutra_id src, dst;

	parse_id(&r->u.learn_assoc.source, &src);
	parse_id(&r->u.learn_assoc.target, &dst);
	if (c->nq == 0) { /* nothing of this connection's is in flight */
		const sutra_id *missing = missing_endpoint(c->w->srv->db, &src, &dst);
		if (missing) {
			missing_error(out, c->enc, missing, missing == &src);
			return DISPATCH_DONE;
		}
	}
	int rc = begin(s, r->kind, c->enc);
	s->pend.src = src;
	s->pend.dst = dst;
	if (rc == 0)
		rc = sutra_batch_associate(s->batch, &src, &dst, r->u.learn_assoc.type,
		                           r->u.learn_assoc.confidence);
	return rc < 0 ? fail(s, out, c->enc, rc) : submit(c, s, out);
}

static int delete_concept(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	sutra_id id;
	int rc = begin(s, r->kind, ENC_NAMED);

	parse_id(&r->u.concept_id, &id);
	if (rc == 0)
		rc = sutra_batch_delete(s->batch, &id);
	return rc < 0 ? fail(s, out, ENC_NAMED, rc) : submit(c, s, out);
}

static int delete_association(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	sutra_id src, dst;
	int rc = begin(s, r->kind, ENC_NAMED);

	parse_id(&r->u.delete_assoc.source, &src);
	parse_id(&r->u.delete_assoc.target, &dst);
	if (rc == 0)
		rc = sutra_batch_dissociate(s->batch, &src, &dst, r->u.delete_assoc.type);
	return rc < 0 ? fail(s, out, ENC_NAMED, rc) : submit(c, s, out);
}

/* ---- the atomic multi-item extensions ------------------------------------ */

/* Copies an item's metadata into NUL-terminated strings (the engine wants C
 * strings; the frame's are not terminated). Caller frees *mem. */
static int item_meta(const struct concept_item *it, sutra_meta_entry **entries, void **mem)
{
	size_t bytes = (size_t)it->meta_count * sizeof **entries;

	for (uint32_t i = 0; i < it->meta_count; i++)
		bytes += (size_t)it->meta_keys[i].n + it->meta_values[i].n + 2;
	char *m = malloc(bytes ? bytes : 1);
	if (!m)
		return SUTRA_ENOMEM;
	sutra_meta_entry *e = (sutra_meta_entry *)m;
	char *s = m + (size_t)it->meta_count * sizeof *e;
	for (uint32_t i = 0; i < it->meta_count; i++) {
		e[i].key = s;
		memcpy(s, it->meta_keys[i].p, it->meta_keys[i].n);
		s += it->meta_keys[i].n;
		*s++ = 0;
		e[i].value = s;
		memcpy(s, it->meta_values[i].p, it->meta_values[i].n);
		s += it->meta_values[i].n;
		*s++ = 0;
	}
	*entries = e;
	*mem = m;
	return 0;
}

/* Adds item i to the batch of c->cur; returns 0, a negative SUTRA_E* code,
 * or 1 when an Error reply has already been written to out. */
static int add_item(struct conn *c, const struct concept_item *it, uint32_t i, sutra_id *id,
                    struct mpbuf *out)
{
	sutra_concept_in ci = {
	    .content = it->content.p,
	    .content_len = it->content.n,
	    .vector = it->vector,
	    .vector_dim = it->vector ? it->dim : 0,
	    .strength = it->strength,
	    .confidence = it->confidence,
	};
	sutra_meta_entry *meta = NULL;
	void *mem = NULL;
	char what[48];

	snprintf(what, sizeof what, "concepts[%u]: vector", i);
	if (ci.vector && !dim_ok(c, out, ENC_NAMED, ci.vector_dim, what))
		return 1;
	parse_id(&it->id, &ci.id);
	*id = ci.id;
	ci.meta_count = it->meta_count;
	int rc = item_meta(it, &meta, &mem);
	ci.meta = meta;
	if (rc == 0)
		rc = sutra_batch_learn(c->cur->batch, &ci);
	free(mem);
	return rc;
}

static int learn_concepts(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	uint32_t n = r->u.learn_concepts.count;
	int rc = begin(s, r->kind, ENC_NAMED);

	if (rc == 0 && !(s->pend.ids = malloc((n ? n : 1) * sizeof *s->pend.ids)))
		rc = SUTRA_ENOMEM;
	s->pend.count = n;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = add_item(c, &r->u.learn_concepts.items[i], i, &s->pend.ids[i], out);
	if (rc == 1) { /* the reply is already written */
		drop(s);
		return DISPATCH_DONE;
	}
	return rc < 0 ? fail(s, out, ENC_NAMED, rc) : submit(c, s, out);
}

static int learn_associations(struct conn *c, const struct request *r, struct mpbuf *out)
{
	struct slot *s = c->cur;
	uint32_t n = r->u.learn_assocs.count;
	int rc = begin(s, r->kind, ENC_NAMED);
	sutra_id src, dst;

	s->pend.count = n;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct assoc_item *a = &r->u.learn_assocs.items[i];
		parse_id(&a->source, &src);
		parse_id(&a->target, &dst);
		rc = sutra_batch_associate(s->batch, &src, &dst, a->type, a->confidence);
	}
	return rc < 0 ? fail(s, out, ENC_NAMED, rc) : submit(c, s, out);
}

/* ---- blocking calls ------------------------------------------------------ */

static int offload(struct conn *c, int kind, int enc, struct mpbuf *out)
{
	struct slot *s = c->cur;

	drop(s);
	s->pend.kind = kind;
	s->pend.enc = enc;
	if (offload_submit(s, kind) == 0)
		return DISPATCH_INFLIGHT;
	rb_error(out, enc, "the server is shutting down");
	return DISPATCH_DONE;
}

int dispatch_write(struct conn *c, const struct request *r, struct mpbuf *out)
{
	switch (r->kind) {
	case REQ_LEARN_CONCEPT_V2:
		return learn_v2(c, r, out);
	case REQ_LEARN_BATCH:
		return learn_batch(c, r, out);
	case REQ_LEARN_CONCEPT:
		return learn_concept(c, r, out);
	case REQ_LEARN_ASSOCIATION:
		return learn_association(c, r, out);
	case REQ_DELETE_CONCEPT:
		return delete_concept(c, r, out);
	case REQ_DELETE_ASSOCIATION:
		return delete_association(c, r, out);
	case REQ_LEARN_CONCEPTS:
		return learn_concepts(c, r, out);
	case REQ_LEARN_ASSOCIATIONS:
		return learn_associations(c, r, out);
	case REQ_FLUSH:
		return offload(c, r->kind, c->enc, out);
	case REQ_SYNC:
	case REQ_CHECKPOINT:
		return offload(c, r->kind, ENC_NAMED, out);
	default:
		rb_error(out, dispatch_encoding(c, r->kind), "request kind %d is not supported",
		         r->kind);
		return DISPATCH_DONE;
	}
}

/* ---- replies ------------------------------------------------------------- */

static void reply_ids(struct mpbuf *out, const struct pending *p, const char *variant)
{
	char hex[SUTRA_ID_HEX];

	rb_begin(out, p->enc, variant, p->kind == REQ_LEARN_CONCEPTS ? 2 : 1);
	rb_key(out, p->enc, "concept_ids");
	mp_put_array(out, p->count);
	for (uint32_t i = 0; i < p->count; i++) {
		if (p->hashes) {
			sutra_content_hash_format(p->hashes[i], hex);
			mp_put_cstr(out, hex);
		} else {
			sutra_id_format(&p->ids[i], hex);
			mp_put_str(out, hex, SUTRA_ID_HEX - 1);
		}
	}
}

/* A variant with one unsigned field. */
static void reply_u64(struct mpbuf *out, int enc, const char *variant, const char *field,
                      uint64_t v)
{
	rb_begin(out, enc, variant, 1);
	rb_key(out, enc, field);
	mp_put_uint(out, v);
}

/* The store turning read-only is worth one line in the log (HealthCheck
 * reports it from then on). */
static void note_failure(struct server *s, const struct completion *d)
{
	bool fatal = d->rc == SUTRA_EIO || d->rc == SUTRA_ENOSPC || d->rc == SUTRA_EREADONLY;

	if (fatal && !atomic_exchange(&s->warned_readonly, true))
		log_error("a write failed and the store refuses writes from now on: %s",
		          d->msg[0] ? d->msg : sutra_strerror(d->rc));
}

/* The Error of a failed write. An association whose endpoint is missing
 * is told as the up-front check tells it, whichever check caught it. */
static void reply_failure(struct server *srv, const struct slot *s, struct mpbuf *out)
{
	const struct pending *p = &s->pend;
	const struct completion *d = &s->done;

	note_failure(srv, d);
	if (p->kind == REQ_LEARN_ASSOCIATION && d->rc == SUTRA_ENOTFOUND) {
		const sutra_id *missing = missing_endpoint(srv->db, &p->src, &p->dst);
		if (missing) {
			missing_error(out, p->enc, missing, missing == &p->src);
			return;
		}
	}
	rb_error(out, p->enc, "%s", d->msg[0] ? d->msg : sutra_strerror(d->rc));
}

void dispatch_write_finish(struct slot *s, struct mpbuf *out)
{
	const struct pending *p = &s->pend;
	uint64_t v = s->done.value;
	char hex[17];

	if (s->done.rc < 0) {
		reply_failure(s->c->w->srv, s, out);
		return;
	}
	switch (p->kind) {
	case REQ_LEARN_CONCEPT_V2:
		sutra_content_hash_format(p->hash, hex);
		rb_begin(out, p->enc, "LearnConceptV2Ok", 1);
		rb_key(out, p->enc, "concept_id");
		mp_put_cstr(out, hex);
		break;
	case REQ_LEARN_BATCH:
		reply_ids(out, p, "LearnBatchOk");
		break;
	case REQ_LEARN_CONCEPTS:
		reply_ids(out, p, "LearnConceptsOk");
		rb_key(out, p->enc, "sequence");
		mp_put_uint(out, v);
		break;
	case REQ_LEARN_ASSOCIATIONS:
		rb_begin(out, p->enc, "LearnAssociationsOk", 2);
		rb_key(out, p->enc, "count");
		mp_put_uint(out, p->count);
		rb_key(out, p->enc, "sequence");
		mp_put_uint(out, v);
		break;
	case REQ_LEARN_CONCEPT:
		reply_u64(out, p->enc, "LearnConceptOk", "sequence", v);
		break;
	case REQ_LEARN_ASSOCIATION:
		reply_u64(out, p->enc, "LearnAssociationOk", "sequence", v);
		break;
	case REQ_DELETE_CONCEPT:
		reply_u64(out, p->enc, "DeleteConceptOk", "sequence", v);
		break;
	case REQ_DELETE_ASSOCIATION:
		reply_u64(out, p->enc, "DeleteAssociationOk", "sequence", v);
		break;
	case REQ_FLUSH:
		rb_begin(out, p->enc, "FlushOk", 0);
		break;
	case REQ_SYNC:
		reply_u64(out, p->enc, "SyncOk", "durable_lsn", v);
		break;
	case REQ_CHECKPOINT:
		reply_u64(out, p->enc, "CheckpointOk", "checkpoint_lsn", v);
		break;
	default:
		rb_error(out, p->enc, "internal error: no reply for request kind %d", p->kind);
	}
}
