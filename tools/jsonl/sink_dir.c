/* sink_dir.c - sutra-import straight into a store directory through the
 * library: each batch is a sutra_batch committed synchronously (one WAL
 * record, atomic; durable when it returns under durability always).
 *
 * Concepts and associations may share a batch: the engine validates each
 * operation against the earlier ones of the same batch, so an association
 * may name a concept learned a few lines before it.
 *
 * The dimension of an existing store is read from its manifest (the
 * engine's internal manifest_read) so that importing into a store does not
 * require repeating --dimension; a different --dimension is refused by
 * sutra_open with its own message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "store/checkpoint.h" /* manifest_read: the dimension of an existing store */

struct dir_sink {
	struct sink base;
	sutra_db *db;
	sutra_batch *b;
	bool checkpoint;
};

/* Errors about what a record holds; anything else stops the import. */
static int classify(int rc)
{
	switch (rc) {
	case SUTRA_EINVAL:
	case SUTRA_ETOOBIG:
	case SUTRA_ENOTFOUND:
	case SUTRA_EEXIST:
		return SINK_EREC;
	default:
		return SINK_EFATAL;
	}
}

static int add_one(sutra_batch *b, const struct rec *r)
{
	if (r->kind == REC_ASSOC)
		return sutra_batch_associate(b, &r->source, &r->target, r->type, r->confidence);
	sutra_concept_in c = {.id = r->id,
	                      .content = r->content,
	                      .content_len = r->content_len,
	                      .vector = r->vector,
	                      .vector_dim = r->dim,
	                      .strength = r->strength,
	                      .confidence = r->confidence,
	                      .meta = r->meta,
	                      .meta_count = r->meta_count};
	return sutra_batch_learn(b, &c);
}

static int dir_commit(struct sink *s, struct rec *r, size_t n, char *msg, size_t len)
{
	struct dir_sink *d = (struct dir_sink *)s;
	int rc = 0;

	sutra_batch_clear(d->b);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = add_one(d->b, &r[i]);
	if (rc == 0 && (rc = sutra_batch_commit(d->db, d->b, NULL)) == 0)
		return SINK_OK;
	snprintf(msg, len, "%s", sutra_last_error());
	return classify(rc);
}

static int dir_finish(struct sink *s, char *msg, size_t len)
{
	struct dir_sink *d = (struct dir_sink *)s;
	int rc = d->checkpoint ? sutra_checkpoint(d->db) : 0;

	if (rc < 0)
		snprintf(msg, len, "checkpoint: %s", sutra_last_error());
	int rc2 = sutra_close(d->db);
	d->db = NULL;
	if (rc == 0 && rc2 < 0)
		snprintf(msg, len, "closing the store: %s", sutra_last_error());
	return rc < 0 || rc2 < 0 ? SINK_EFATAL : SINK_OK;
}

static void dir_free(struct sink *s)
{
	struct dir_sink *d = (struct dir_sink *)s;

	if (d->db)
		sutra_close(d->db);
	sutra_batch_free(d->b);
	free(d);
}

static const struct sink_ops dir_ops = {dir_commit, dir_finish, dir_free};

/* Options from the configuration; every refusal names the setting. */
static int dir_options(const struct sink_dir_config *cfg, sutra_options *o, char *msg, size_t len)
{
	struct manifest m;

	sutra_options_init(o);
	if (!cfg->dimension && manifest_read(cfg->dir, &m) == 0)
		o->dimension = m.dimension;
	if ((cfg->dimension && sutra_options_set(o, "dimension", cfg->dimension) < 0) ||
	    (cfg->durability && sutra_options_set(o, "durability", cfg->durability) < 0))
		goto bad;
	for (size_t i = 0; i < cfg->n_engine_kv; i++) {
		char key[64];
		const char *eq = strchr(cfg->engine_kv[i], '=');
		size_t kl = eq ? (size_t)(eq - cfg->engine_kv[i]) : 0;
		if (!eq || kl == 0 || kl >= sizeof key) {
			snprintf(msg, len, "--engine-opt '%s': expected KEY=VALUE",
			         cfg->engine_kv[i]);
			return -1;
		}
		memcpy(key, cfg->engine_kv[i], kl);
		key[kl] = 0;
		if (sutra_options_set(o, key, eq + 1) < 0)
			goto bad;
	}
	if (sutra_options_validate(o) == 0)
		return 0;
bad:
	snprintf(msg, len, "%s", sutra_last_error());
	return -1;
}

static void dir_describe(struct dir_sink *d, const char *dir, const sutra_options *o)
{
	const char *dur = o->durability == SUTRA_DURABILITY_ALWAYS ? "always"
	                  : o->durability == SUTRA_DURABILITY_NONE ? "none"
	                                                           : "interval";

	snprintf(d->base.what, sizeof d->base.what, "store %s (dimension %u, durability %s)", dir,
	         o->dimension, dur);
}

int sink_dir_open(const struct sink_dir_config *cfg, struct sink **out, char *msg, size_t len)
{
	struct dir_sink *d = calloc(1, sizeof *d);
	sutra_options o;

	if (!d) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	if (dir_options(cfg, &o, msg, len) < 0)
		goto fail;
	if (sutra_open(cfg->dir, &o, &d->db) < 0 || sutra_batch_new(&d->b) < 0) {
		snprintf(msg, len, "%s: %s", cfg->dir, sutra_last_error());
		goto fail;
	}
	d->base.ops = &dir_ops;
	d->base.limits = (struct rec_limits){.dimension = o.dimension,
	                                     .max_content = o.max_content_bytes,
	                                     .max_meta_bytes = o.max_meta_bytes};
	d->base.max_batch = cfg->batch < o.max_batch_ops ? cfg->batch : o.max_batch_ops;
	d->base.max_batch_bytes =
	    o.max_batch_bytes / 2 < SINK_BATCH_BYTES ? o.max_batch_bytes / 2 : SINK_BATCH_BYTES;
	d->base.mixed = true;
	d->checkpoint = cfg->checkpoint;
	dir_describe(d, cfg->dir, &o);
	*out = &d->base;
	return 0;
fail:
	dir_free(&d->base);
	return -1;
}
