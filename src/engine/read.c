/* read.c - the read path: lookups, neighbours and scans, all lock-free.
 *
 * Every read runs inside an epoch (util/epoch.h): it sees each concept and
 * each adjacency array as one consistent version, never waits for a writer,
 * and sees every write acknowledged before it started.
 */
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

int db_check_open(sutra_db *db)
{
	if (!db)
		return err_set(SUTRA_EINVAL, "NULL store handle");
	return 0;
}

/* One allocation: the struct, the vector (8-aligned), metadata, content. */
static sutra_concept *concept_copy(const struct node *n)
{
	size_t vec = n->vec ? (size_t)n->dim * 4 : 0;
	size_t head = align8(sizeof(sutra_concept));
	sutra_concept *c = sutra_malloc(head + align8(vec) + n->meta_len + n->content_len + 1);

	if (!c)
		return NULL;
	node_view(n, c);
	uint8_t *p = (uint8_t *)c + head;
	if (vec) {
		memcpy(p, n->vec, vec);
		c->vector = (const float *)p;
		p += align8(vec);
	}
	if (n->meta_len)
		memcpy(p, n->meta, n->meta_len);
	c->meta_blob = p;
	p += n->meta_len;
	if (n->content_len)
		memcpy(p, n->content, n->content_len);
	p[n->content_len] = 0;
	c->content = (const char *)p;
	return c;
}

int sutra_get(sutra_db *db, const sutra_id *id, sutra_concept **out)
{
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!id || !out)
		return err_set(SUTRA_EINVAL, "get: NULL argument");
	epoch_enter();
	struct node *n = store_find(&db->store, id->b);
	sutra_concept *c = n ? concept_copy(n) : NULL;
	epoch_exit();
	if (!n)
		return err_set(SUTRA_ENOTFOUND, "no such concept");
	if (!c)
		return err_set(SUTRA_ENOMEM, "out of memory copying a concept");
	*out = c;
	return 0;
}

void sutra_concept_free(sutra_concept *c)
{
	sutra_free(c);
}

int sutra_exists(sutra_db *db, const sutra_id *id)
{
	if (!db || !id)
		return 0;
	epoch_enter();
	int found = store_find(&db->store, id->b) != NULL;
	epoch_exit();
	return found;
}

int sutra_meta_next(const sutra_concept *c, size_t *pos, const char **key, const char **value)
{
	const uint8_t *m = c->meta_blob;

	if (!m || c->meta_blob_len < 4)
		return 0;
	if (*pos == 0)
		*pos = 4;
	if (*pos + 6 > c->meta_blob_len)
		return 0;
	size_t kl = ld16(m + *pos), vl = ld32(m + *pos + 2);
	*key = (const char *)m + *pos + 6;
	*value = *key + kl + 1;
	*pos += 6 + kl + 1 + vl + 1;
	return 1;
}

static void collect(const struct node *nd, int dir, int type, sutra_neighbor *out, size_t cap,
                    size_t *total)
{
	struct adj *a;
	uint32_t n = adj_count(&a, nd, dir);
	unsigned t;
	float conf;

	for (uint32_t i = 0; i < n; i++) {
		if (!edge_live(a, i, &t, &conf) || (type >= 0 && t != (unsigned)type))
			continue;
		if (*total < cap) {
			sutra_neighbor *nb = &out[*total];
			memcpy(nb->id.b, a->e[i].id, 16);
			nb->confidence = conf;
			nb->type = (uint8_t)t;
			nb->direction = (uint8_t)(dir == ADJ_OUT ? SUTRA_DIR_OUT : SUTRA_DIR_IN);
		}
		(*total)++;
	}
}

int sutra_neighbors(sutra_db *db, const sutra_id *id, int direction, int type, sutra_neighbor *out,
                    size_t cap, size_t *total)
{
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!id || !total || (cap && !out))
		return err_set(SUTRA_EINVAL, "neighbors: NULL argument");
	if (direction < SUTRA_DIR_OUT || direction > SUTRA_DIR_BOTH)
		return err_set(SUTRA_EINVAL, "direction %d is not out (1), in (2) or both (3)",
		               direction);
	if (type != SUTRA_TYPE_ANY && (type < 0 || type >= SUTRA_ASSOC_TYPES))
		return err_set(SUTRA_EINVAL,
		               "association type %d out of range (0..4, or -1 for any)", type);
	*total = 0;
	epoch_enter();
	struct node *n = store_find(&db->store, id->b);
	if (n && (direction & SUTRA_DIR_OUT))
		collect(n, ADJ_OUT, type, out, cap, total);
	if (n && (direction & SUTRA_DIR_IN))
		collect(n, ADJ_IN, type, out, cap, total);
	epoch_exit();
	return n ? 0 : err_set(SUTRA_ENOTFOUND, "no such concept");
}

int sutra_scan(sutra_db *db, sutra_scan_fn fn, void *ctx)
{
	int rc = db_check_open(db);

	if (rc < 0 || !fn)
		return rc < 0 ? rc : err_set(SUTRA_EINVAL, "scan: NULL callback");
	epoch_enter();
	struct table *t = atomic_load_explicit(&db->store.tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *n = table_node(t, i);
		sutra_concept view;
		if (!n)
			continue;
		node_view(n, &view);
		rc = fn(ctx, &view);
	}
	epoch_exit();
	return rc;
}

static int scan_edges(struct node *n, sutra_assoc_fn fn, void *ctx)
{
	struct adj *a;
	uint32_t cnt = adj_count(&a, n, ADJ_OUT);
	unsigned type;
	float conf;
	int rc = 0;

	for (uint32_t i = 0; i < cnt && rc == 0; i++)
		if (edge_live(a, i, &type, &conf))
			rc = fn(ctx, (const sutra_id *)n->id, (const sutra_id *)a->e[i].id, type,
			        conf);
	return rc;
}

int sutra_scan_associations(sutra_db *db, sutra_assoc_fn fn, void *ctx)
{
	int rc = db_check_open(db);

	if (rc < 0 || !fn)
		return rc < 0 ? rc : err_set(SUTRA_EINVAL, "scan_associations: NULL callback");
	epoch_enter();
	struct table *t = atomic_load_explicit(&db->store.tab, memory_order_acquire);
	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct node *n = table_node(t, i);
		if (n)
			rc = scan_edges(n, fn, ctx);
	}
	epoch_exit();
	return rc;
}
