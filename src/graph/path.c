/* path.c - shortest path by hops, associations followed in both directions.
 *
 * A breadth-first search from the start, bounded by max_depth (<= 20) and
 * by the store's size, recording each visited concept's parent in an
 * open-addressing table so the path can be walked back. It runs inside one
 * epoch: it sees a consistent version of every adjacency array it reads and
 * never waits for writers. (Bidirectional search and weighted paths come
 * with the graph query work.)
 */
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/err.h"

struct visit {
	uint8_t id[16];
	int64_t parent; /* index into the queue; -1 for the start */
	uint32_t depth;
};

struct bfs {
	struct visit *queue; /* visit order; also the result of lookups */
	size_t head, len, cap;
	int64_t *slots; /* open addressing: index into queue, -1 empty */
	size_t mask;
};

static size_t slot_of(const struct bfs *b, const uint8_t *id)
{
	size_t i = (ld64(id) * 0x9e3779b97f4a7c15ULL ^ ld64(id + 8)) & b->mask;

	/* slots exists: bfs_visit grows the table before the first lookup */
	while (b->slots[i] >= 0 /* NOLINT(clang-analyzer-core.NullDereference) */ &&
	       memcmp(b->queue[b->slots[i]].id, id, 16) != 0)
		i = (i + 1) & b->mask;
	return i;
}

static int bfs_grow(struct bfs *b)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	struct visit *q = sutra_realloc(b->queue, cap * sizeof *q);
	int64_t *s = sutra_malloc(cap * 2 * sizeof *s);

	if (q)
		b->queue = q;
	if (!q || !s) {
		sutra_free(s);
		return err_set(SUTRA_ENOMEM, "out of memory for a path search of %zu concepts",
		               cap);
	}
	sutra_free(b->slots);
	b->slots = s;
	b->cap = cap;
	b->mask = cap * 2 - 1;
	memset(s, 0xff, cap * 2 * sizeof *s);
	for (size_t i = 0; i < b->len; i++)
		s[slot_of(b, b->queue[i].id)] = (int64_t)i;
	return 0;
}

/* Adds id if unseen; returns 1 if added, 0 if seen, < 0 on error. */
static int bfs_visit(struct bfs *b, const uint8_t *id, int64_t parent, uint32_t depth)
{
	int rc;

	if (b->len == b->cap && (rc = bfs_grow(b)) < 0)
		return rc;
	size_t s = slot_of(b, id);
	if (b->slots[s] >= 0)
		return 0;
	struct visit *v = &b->queue[b->len];
	memcpy(v->id, id, 16);
	v->parent = parent;
	v->depth = depth;
	b->slots[s] = (int64_t)b->len++;
	return 1;
}

static void bfs_path(const struct bfs *b, int64_t at, sutra_id *path, size_t *len)
{
	size_t n = b->queue[at].depth + 1;

	*len = n;
	for (int64_t i = at; i >= 0; i = b->queue[i].parent)
		memcpy(path[--n].b, b->queue[i].id, 16);
}

/* Expands the concept at queue index at; sets *found when `to` is reached. */
static int expand(sutra_db *db, struct bfs *b, size_t at, const uint8_t *to, int64_t *found)
{
	struct node *n = store_find(&db->store, b->queue[at].id);
	uint32_t depth = b->queue[at].depth + 1;

	for (int dir = ADJ_OUT; n && dir <= ADJ_IN && *found < 0; dir++) {
		struct adj *a;
		uint32_t cnt = adj_count(&a, n, dir);
		unsigned type;
		float conf;
		for (uint32_t i = 0; i < cnt; i++) {
			if (!edge_live(a, i, &type, &conf))
				continue;
			int rc = bfs_visit(b, a->e[i].id, (int64_t)at, depth);
			if (rc < 0)
				return rc;
			if (rc > 0 && memcmp(a->e[i].id, to, 16) == 0) {
				*found = (int64_t)b->len - 1;
				break;
			}
		}
	}
	return 0;
}

int sutra_find_path(sutra_db *db, const sutra_id *from, const sutra_id *to, uint32_t max_depth,
                    sutra_id *path, size_t *len)
{
	struct bfs b = {0};
	int64_t found = -1;
	int rc = db_check_open(db);

	if (rc < 0)
		return rc;
	if (!from || !to || !path || !len)
		return err_set(SUTRA_EINVAL, "find_path: NULL argument");
	if (max_depth > SUTRA_MAX_PATH_DEPTH)
		return err_set(SUTRA_ETOOBIG, "Path depth too large: %u (max: %d)", max_depth,
		               SUTRA_MAX_PATH_DEPTH);
	*len = 0;
	epoch_enter();
	if (!store_find(&db->store, from->b) || !store_find(&db->store, to->b)) {
		rc = err_set(SUTRA_ENOTFOUND, "no such concept");
		goto out;
	}
	if ((rc = bfs_visit(&b, from->b, -1, 0)) < 0)
		goto out;
	rc = 0;
	if (memcmp(from->b, to->b, 16) == 0)
		found = 0;
	for (b.head = 0; found < 0 && b.head < b.len && rc == 0; b.head++)
		if (b.queue[b.head].depth < max_depth)
			rc = expand(db, &b, b.head, to->b, &found);
	if (rc == 0 && found >= 0)
		bfs_path(&b, found, path, len);
	else if (rc == 0)
		rc = err_set(SUTRA_ENOTFOUND, "no path within %u hops", max_depth);
out:
	epoch_exit();
	sutra_free(b.queue);
	sutra_free(b.slots);
	return rc;
}
