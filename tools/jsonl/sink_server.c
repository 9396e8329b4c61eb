/* sink_server.c - sutra-import through a running sutra-server: each batch is
 * one LearnConcepts or LearnAssociations request (protocol extensions,
 * atomic, at most the server's max_batch_items), sent with the C client
 * and answered before the next is sent.
 *
 * One request at a time keeps the order of the input exact even when a
 * batch fails and is split to find the bad record (a pipelined later batch
 * could otherwise overtake the retried records of an earlier one); the
 * server's group commit is what a deeper pipeline would buy, and a batch of
 * 1,000 records already amortises a round trip.
 *
 * The server's dimension and limits come from ServerInfo, so records are
 * checked here and errors name file, line and field. Ids are sent as the
 * 32 hex characters parsed here, which the server parses to the same id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "sink.h"

#define WIRE_MAX_META_ENTRIES 256

struct server_sink {
	struct sink base;
	struct sc_conn conn;
	struct sc_reply reply;
	struct sc_concept_item *items;
	struct sc_assoc_item *aitems;
	struct sc_meta *meta;
	size_t meta_cap;
};

/* Server answers that mean no later batch can succeed either. */
static bool fatal_message(const char *m)
{
	return strstr(m, "read-only") || strstr(m, "is closing") || strstr(m, "write queue full");
}

static int reserve_meta(struct server_sink *s, const struct rec *r, size_t n)
{
	size_t need = 0;

	for (size_t i = 0; i < n; i++)
		need += r[i].meta_count;
	if (need <= s->meta_cap)
		return 0;
	struct sc_meta *m = realloc(s->meta, need * sizeof *m);
	if (!m)
		return -1;
	s->meta = m;
	s->meta_cap = need;
	return 0;
}

static int queue_concepts(struct server_sink *s, const struct rec *r, size_t n)
{
	size_t used = 0;

	if (reserve_meta(s, r, n) < 0)
		return SC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sc_meta *m = s->meta + used;
		for (size_t k = 0; k < r[i].meta_count; k++)
			m[k] = (struct sc_meta){r[i].meta[k].key, r[i].meta[k].value};
		used += r[i].meta_count;
		s->items[i] = (struct sc_concept_item){.id = r[i].id_hex,
		                                       .content = r[i].content,
		                                       .content_len = r[i].content_len,
		                                       .vector = r[i].vector,
		                                       .dim = r[i].dim,
		                                       .strength = r[i].strength,
		                                       .confidence = r[i].confidence,
		                                       .meta = m,
		                                       .meta_count = r[i].meta_count};
	}
	return sc_req_learn_concepts(&s->conn, s->items, n);
}

static int queue_assocs(struct server_sink *s, const struct rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s->aitems[i] = (struct sc_assoc_item){.source = r[i].source_hex,
		                                      .target = r[i].target_hex,
		                                      .type = r[i].type,
		                                      .confidence = r[i].confidence};
	return sc_req_learn_associations(&s->conn, s->aitems, n);
}

static int server_commit(struct sink *base, struct rec *r, size_t n, char *msg, size_t len)
{
	struct server_sink *s = (struct server_sink *)base;
	bool concepts = r[0].kind == REC_CONCEPT;
	int want = concepts ? SC_R_LEARN_CONCEPTS_OK : SC_R_LEARN_ASSOCIATIONS_OK;
	int rc = concepts ? queue_concepts(s, r, n) : queue_assocs(s, r, n);

	if (rc == 0)
		rc = sc_call(&s->conn, &s->reply);
	if (rc == SC_OK && s->reply.kind == want)
		return SINK_OK;
	if (rc == SC_OK) {
		snprintf(msg, len, "unexpected reply %s", sc_resp_name(s->reply.kind));
		return SINK_EFATAL;
	}
	if (rc == SC_ESERVER) {
		snprintf(msg, len, "%s", s->reply.message);
		return fatal_message(s->reply.message) ? SINK_EFATAL : SINK_EREC;
	}
	snprintf(msg, len, "%s (%s)", sc_strerror(rc), s->conn.err);
	sc_discard(&s->conn);
	return SINK_EFATAL;
}

/* Sync: the import is durable whatever the server's durability mode. */
static int server_finish(struct sink *base, char *msg, size_t len)
{
	struct server_sink *s = (struct server_sink *)base;
	int rc = sc_req_sync(&s->conn);

	if (rc == 0)
		rc = sc_call(&s->conn, &s->reply);
	if (rc == 0)
		return SINK_OK;
	snprintf(msg, len, "Sync: %s", rc == SC_ESERVER ? s->reply.message : s->conn.err);
	return SINK_EFATAL;
}

static void server_free(struct sink *base)
{
	struct server_sink *s = (struct server_sink *)base;

	sc_reply_free(&s->reply);
	sc_close(&s->conn);
	free(s->items);
	free(s->aitems);
	free(s->meta);
	free(s);
}

static const struct sink_ops server_ops = {server_commit, server_finish, server_free};

static uint64_t limit_of(const struct sc_val *limits, const char *key, uint64_t dflt)
{
	uint64_t v;

	return sc_val_u64(sc_val_key(limits, key), &v) ? v : dflt;
}

/* Dimension and limits from ServerInfo. */
static int server_info(struct server_sink *s, const struct sink_server_config *cfg, char *msg,
                       size_t len)
{
	uint64_t dim = 0;
	const char *dur = "?";
	uint32_t dur_len = 1;
	int rc = sc_req_server_info(&s->conn);

	if (rc == 0)
		rc = sc_call(&s->conn, &s->reply);
	if (rc == 0)
		rc = sc_field_u64(&s->reply, "dimension", &dim);
	if (rc != 0 || dim == 0 || dim > 4096) {
		snprintf(msg, len, "ServerInfo: %s", rc ? sc_strerror(rc) : "no dimension");
		return -1;
	}
	sc_field_str(&s->reply, "durability", &dur, &dur_len);
	const struct sc_val *lim = sc_field(&s->reply, "limits");
	uint64_t batch = limit_of(lim, "max_batch_items", 1000);
	uint64_t frame = limit_of(lim, "max_frame_bytes", 100u << 20);
	s->base.limits = (struct rec_limits){
	    .dimension = (uint32_t)dim,
	    .max_content = (uint32_t)limit_of(lim, "max_content_bytes", 10u << 20),
	    .max_meta_entries = WIRE_MAX_META_ENTRIES};
	s->base.max_batch = cfg->batch < batch ? cfg->batch : (size_t)batch;
	s->base.max_batch_bytes = frame / 2 < SINK_BATCH_BYTES ? frame / 2 : SINK_BATCH_BYTES;
	snprintf(s->base.what, sizeof s->base.what, "server %s:%u (dimension %u, durability %.*s)",
	         cfg->host, cfg->port, (unsigned)dim, (int)dur_len, dur);
	return 0;
}

int sink_server_open(const struct sink_server_config *cfg, struct sink **out, char *msg, size_t len)
{
	struct server_sink *s = calloc(1, sizeof *s);
	int rc;

	if (!s) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	sc_init(&s->conn);
	sc_reply_init(&s->reply);
	s->base.ops = &server_ops;
	if ((rc = sc_connect(&s->conn, cfg->host, cfg->port, cfg->timeout_ms)) != 0) {
		snprintf(msg, len, "connecting to %s:%u: %s", cfg->host, cfg->port, s->conn.err);
		goto fail;
	}
	if (server_info(s, cfg, msg, len) < 0)
		goto fail;
	s->items = calloc(s->base.max_batch, sizeof *s->items);
	s->aitems = calloc(s->base.max_batch, sizeof *s->aitems);
	if (!s->items || !s->aitems) {
		snprintf(msg, len, "out of memory");
		goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	server_free(&s->base);
	return -1;
}
